//! The poai miner (SPEC section 7): ML-DSA keys, device registration with TEE evidence (the
//! insecure dev source on devnets), and a loop that builds, signs and submits work proofs to an
//! A-chain node over JSON-RPC, with retries and a progress display.
//!
//! - [`client`]: typed JSON-RPC client with retries on transient errors.
//! - [`mine`]: registration and the proof loop.
//! - [`cli`]: `poai miner init|register|run|status` (clap structs and [`cli::run`]).
//!
//! No feature flags.

pub mod cli;
pub mod client;
pub mod mine;

pub use client::{ClientError, NodeClient, PreparedBatch};
pub use mine::{
    MineOptions, SharedStats, Stats, build_proof, dev_device_seed, mine_device, miner_address,
    register,
};
