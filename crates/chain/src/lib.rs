//! The A-chain state machine (SPEC sections 2, 3, 5 and 6): deterministic, no I/O, no clock, no
//! floats, no async.
//!
//! - [`tx`]: account transactions signed with ML-DSA (nonce, fee) and proof transactions signed
//!   by a device's registered key; their canonical encoding ([`codec`]).
//! - [`block`]: headers (height, parent, timestamp, state root, tx root, proposer), blocks and
//!   receipts.
//! - [`state`]: accounts, devices, the spent set, the mining ledger, and the state root.
//! - [`machine`]: the rules. [`Machine::prepare`] (batch signature checks across cores),
//!   [`Machine::propose`] (build a block, leaving out invalid transactions with their named
//!   [`TxError`]), [`Machine::execute_block`] (validate someone else's block). This is the
//!   interface a BFT engine drives.
//! - [`genesis`]: chain id, dev-only switches, LP allocation, initial balances.
//! - [`evidence`]: device registration evidence: the [`EvidenceVerifier`] hook for real TEE
//!   evidence and the insecure dev format that only a devnet genesis accepts.
//! - [`ai`]: the AI VM (SPEC section 6, LP-035, LP-092): models, providers, attestations,
//!   tasks, disputes, AIT credits.
//! - [`validator`]: validators of a multi-validator chain: bonds behind ed25519 consensus keys,
//!   the staking calls, the validator set and epochs (docs/DESIGN-consensus.md, section 2).
//! - [`api`]: the JSON shapes the node's RPC serves and the miner reads.
//!
//! No feature flags. Storage, networking and time belong to `poai-node`.

#![deny(clippy::indexing_slicing, clippy::panic)]

pub mod ai;
pub mod api;
pub mod block;
pub mod codec;
pub mod error;
pub mod evidence;
pub mod genesis;
pub mod hash;
mod leafmap;
pub mod machine;
pub mod relay;
mod spentset;
pub mod state;
pub mod tx;
pub mod validator;

pub use block::{Block, Header, Outcome, Receipt};
pub use error::{BlockError, TxError};
pub use evidence::{Attested, EvidenceVerifier};
pub use genesis::Genesis;
pub use hash::Hash32;
pub use machine::{
    BlockContext, BlockCounters, MAX_PROOFS_PER_MINER_PER_BLOCK, Machine, Prepared, Proposal,
    SignatureVerifier,
};
pub use state::{Account, Device, Head, State};
pub use tx::{Call, ProofTx, SignedTx, Transaction, TxBody, TxHash, address_of};
pub use validator::{Validator, ValidatorCall, ValidatorInfo};

/// Builds the genesis block of `state` (fresh from [`State::from_genesis`]) and moves the head to
/// it: height 0, zero parent, the genesis time, no transactions.
pub fn genesis_block(state: &mut State) -> Block {
    let ts = state.genesis().genesis_time;
    let header = Header {
        height: 0,
        parent: Hash32::ZERO,
        timestamp: ts,
        state_root: state.root_at(0, ts),
        tx_root: hash::merkle_root(&[]),
        proposer: poai_primitives::Address::default(),
    };
    state.set_head(Head {
        height: 0,
        timestamp: ts,
        hash: header.hash(),
        state_root: header.state_root,
    });
    Block {
        header,
        txs: Vec::new(),
    }
}

/// Serde for `u128` amounts as decimal strings (JSON numbers lose precision above 2^53).
pub mod serde_u128 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as a decimal string.
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Accepts a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for 32-byte arrays as hex.
pub mod serde_hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as lowercase hex.
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Accepts 64 hex digits with an optional `0x`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        poai_primitives::hexfmt::decode_array::<32>(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde for 64-byte arrays (ed25519 signatures) as hex.
pub mod serde_hex64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as lowercase hex.
    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Accepts 128 hex digits with an optional `0x`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = String::deserialize(d)?;
        poai_primitives::hexfmt::decode_array::<64>(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde for byte strings as hex.
pub mod serde_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as lowercase hex.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Accepts hex with an optional `0x`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        poai_primitives::hexfmt::decode(&s).map_err(serde::de::Error::custom)
    }
}
