//! poai cryptography.
//!
//! - [`mldsa`]: ML-DSA (FIPS 204) key generation from a 32-byte seed (Algorithm 1/6), signing,
//!   hedged or deterministic (Algorithm 2/7), and verification (Algorithm 3/8) with a context
//!   string, for ML-DSA-44, ML-DSA-65 and ML-DSA-87. The EVM precompile uses the empty context.
//! - [`batch`]: verification of many signatures across cores, one result per item.
//! - [`mu`]: verification that starts from a key's cached `tr` (Algorithm 8 from line 7), for
//!   keys that sign again and again (a device's); the crate's only `unsafe` code, calling aws-lc.
//! - [`hash`]: BLAKE3 work ids (SPEC section 2) and other domain-separated hashes.
//! - [`keyfile`]: key files, created 0600, never printed.
//!
//! Backends: verification with the empty context (every on-chain check) runs on aws-lc-rs, which
//! selects AVX2/AVX-512 code at run time and was the fastest verifier measured in a default
//! build; key generation, signing and verification with a non-empty context run on
//! libcrux-ml-dsa (formally verified, pure Rust). `docs/DESIGN.md` gives the figures. Both sit
//! behind this crate's API, and the test suite checks them against each other and against
//! RustCrypto's `ml-dsa` and `fips204` on Wycheproof and random inputs.

#![deny(clippy::indexing_slicing, clippy::panic)]

pub mod batch;
pub mod hash;
pub mod keyfile;
pub mod mldsa;
pub mod mu;

pub use batch::{BatchItem, BatchVerifier, verify_batch};
pub use hash::{proof_work_id, work_id};
pub use mldsa::{
    MAX_CONTEXT_LEN, MlDsaError, ParamSet, SEED_LEN, SigningKey, Tr, VerifyingKey, verify,
    verify_with_tr,
};
