//! poai's EVM precompiles for any revm-based EVM (SPEC section 4; seeds 000 LP-130 and 001).
//!
//! | address | module | interface |
//! |---|---|---|
//! | 0x…0300 | [`ai_mining`] | LP-130 raw ops (VerifyMLDSA, CalculateReward, VerifyTEE, IsSpent, ComputeWorkId, MarkSpent) and `IAIMining` |
//! | 0x…0301 | [`nv_trust`] | `INVTrust` (GPU attestation through `poai-tee`) |
//! | 0x…0302 | [`model_registry`] | `IModelRegistry` |
//!
//! [`PoaiPrecompiles`] is the revm `PrecompileProvider`: Ethereum's set for the spec plus these
//! three. State (the spent set, sessions, the model registry) lives in storage of the
//! precompile's own account, read and written through revm's journal, so a revert undoes it;
//! [`insert_genesis`] gives the accounts nonce 1 so state clearing never deletes them. The
//! storage layout is in [`state`]; gas rules in [`gas`]; the byte layouts in each module.
//!
//! Each precompile module is a pure function over bytes, a [`state::CallEnv`] and a
//! [`state::Storage`], so that it can be tested, fuzzed and benched without an EVM.
//!
//! Feature flags:
//! - `cli`: the `poai precompile call` command ([`cli`]), with clap, serde_json and anyhow.

#![deny(clippy::indexing_slicing, clippy::panic)]

pub mod abi;
pub mod ai_mining;
pub mod config;
pub mod error;
pub mod gas;
pub mod model_registry;
pub mod nv_trust;
pub mod provider;
pub mod state;
pub mod tee;

#[cfg(feature = "cli")]
pub mod cli;

pub use alloy_primitives;
pub use config::PoaiConfig;
pub use error::{Failure, Halt};
pub use provider::{ADDRESSES, PoaiPrecompiles, dispatch, genesis_account, insert_genesis};
