//! The A-chain node (SPEC section 6): redb storage, a bounded mempool, block production in
//! single-validator mode, a JSON-RPC server on 127.0.0.1, Prometheus metrics, and the `devnet`
//! and `bench` commands.
//!
//! - [`storage`]: blocks, receipts, state, spent set and indexes in redb; one atomic write
//!   transaction per block; replay from genesis.
//! - [`mempool`]: admission with every chain rule, per-sender limits.
//! - [`node`]: the producer loop, shared state, start and clean shutdown.
//! - [`rpc`]: the `poai_*` JSON-RPC methods and their error codes.
//! - [`metrics`]: Prometheus counters and a `/metrics` endpoint.
//! - [`tee`]: real TEE evidence for device registration through `poai-tee`.
//! - [`sigverify`]: batch signature checks on the CPU or a GPU (`--verify-backend`).
//! - [`os`]: admission threads at a lower CPU priority; written files out of the page cache.
//! - [`validator_cli`]: `poai validator key|bond|add-stake|unbond|list` (consensus key files,
//!   staking calls, the `poai_validators` read).
//! - [`devnet`], [`bench`]: `poai devnet` and `poai bench`.
//! - [`cli`]: clap structs and `run` functions for `poai node`, `poai genesis`, `poai devnet`,
//!   `poai bench`, wired into the `poai` binary by `poai-cli`.
//!
//! The state machine itself is `poai-chain` (pure); this crate adds I/O and time.
//! No feature flags.

pub mod ai_cli;
pub mod ai_rpc;
pub mod bench;
pub mod cli;
pub mod devnet;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod os;
pub mod rpc;
pub mod sigverify;
pub mod storage;
pub mod tee;
pub mod validator_cli;

pub use node::{NodeConfig, NodeHandle, start};
pub use storage::Store;
