//! Primitive types shared by every poai crate.
//!
//! - [`ids`]: chain ids, device ids, work ids, nonces and addresses (fixed-size newtypes).
//! - [`level`]: the four privacy levels / hardware tiers of LP-130 and seed 004 (one scale).
//! - [`proof`]: the LP-130 work proof (78 fixed bytes plus optional TEE evidence), its bounded
//!   codec, and the domain-separated message a miner signs (SPEC section 2).
//!
//! Everything here is plain data: no hashing, no I/O, no floating point. Hashing (work ids) lives
//! in `poai-crypto`, so that the types can be used by code that must not pull in crypto backends.
//! Wire integers are big-endian (SPEC section 1).

#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod hexfmt;
pub mod ids;
pub mod level;
pub mod proof;

pub use ids::{Address, ChainId, DeviceId, Nonce, WorkId, cmp_bytes};
pub use level::{LevelError, PrivacyLevel};
pub use proof::{
    DecodeError, MAX_EVIDENCE_LEN, MAX_PROOF_LEN, PROOF_FIXED_LEN, SIGNED_MESSAGE_TAG, WorkProof,
    signed_message,
};
