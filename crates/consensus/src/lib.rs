//! Multi-validator A-chain (SPEC section 6; docs/DESIGN-consensus.md): the node's state machine
//! driven by an existing BFT engine, commonware's simplex, with marshal for block sync and
//! authenticated p2p between validators.
//!
//! - [`block`]: the block as consensus sees it (digest = the chain's block hash).
//! - [`app`]: propose and verify on speculative state; commit finalized blocks.
//! - [`gossip`]: mempool gossip between validators.
//! - [`relay`]: compact block relay (proposals as header and transaction hashes).
//! - [`store`]: marshal's archive of finalized blocks, in the node's redb store.
//! - [`engine`]: wiring one validator on any commonware runtime and network; epoch changes.
//! - [`epochs`]: validator sets per epoch, from genesis and staking.
//! - [`watch`]: skipped views in the node's log and metrics, with the validator that led them.
//! - [`validator`]: `poai node --consensus-key`: a validator on tokio with authenticated TCP.
//! - [`keys`]: consensus key files.
//! - [`cluster`]: a local validator set on loopback (devnet, tests).
//! - [`devnet`]: `poai devnet --validators N`.
//! - [`bench`]: `poai bench-cluster`, finalized proofs per second with N validator processes.
//!
//! `poai-chain` and `poai-node` never see a commonware type: this crate is the only one that
//! depends on commonware, so `cargo test -p poai-chain` never compiles it.

pub mod app;
pub mod bench;
pub mod block;
pub mod cluster;
pub mod devnet;
pub mod engine;
pub mod epochs;
pub mod gossip;
pub mod keys;
pub mod relay;
pub mod store;
#[cfg(test)]
mod testkit;
pub mod validator;
pub mod watch;

pub use app::{FinalizedLog, PoaiApp};
pub use block::PoaiBlock;
pub use engine::{Channels, EngineConfig, start};
pub use epochs::{EpochSets, Validators};
