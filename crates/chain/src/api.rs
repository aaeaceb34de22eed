//! The JSON shapes of the node's RPC (method names in `poai-node`'s `rpc` module). Plain data,
//! shared by the node that serves them and the miner that reads them. Amounts are decimal
//! strings of the smallest unit; bytes and ids are hex.

use crate::block::{Header, Outcome};
use crate::hash::Hash32;
use crate::state::Account;
use poai_primitives::{Address, ChainId, DeviceId, PrivacyLevel};
use serde::{Deserialize, Serialize};

/// `poai_chainInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInfo {
    /// The chain id.
    pub chain_id: ChainId,
    /// Head height.
    pub height: u64,
    /// Head hash.
    pub head: Hash32,
    /// Head timestamp.
    pub timestamp: u64,
    /// State root after the head.
    pub state_root: Hash32,
    /// The timestamp the next block will carry if produced now.
    pub next_block_time: u64,
    /// The genesis's dev time step, if any.
    pub dev_block_time_step: Option<u64>,
    /// Whether dev evidence is accepted.
    pub allow_dev_evidence: bool,
    /// Minimum fee.
    #[serde(with = "crate::serde_u128")]
    pub min_fee: u128,
    /// Transactions waiting in the mempool.
    pub mempool: usize,
}

/// `poai_getAccount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The address.
    pub address: Address,
    /// Balances and nonce.
    #[serde(flatten)]
    pub account: Account,
}

/// A device, as `poai_deviceStatus` and `poai_minerStatus` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    /// The device.
    pub device_id: DeviceId,
    /// Its miner.
    pub miner: Address,
    /// Attested tier.
    pub tier: PrivacyLevel,
    /// Trust score.
    pub trust_score: u8,
    /// Evidence kind byte (0xde: dev evidence).
    pub kind: u8,
    /// Registration block time.
    pub registered_at: u64,
    /// Previous accepted proof's timestamp.
    pub last_proof_at: Option<u64>,
    /// Proofs accepted.
    pub proofs: u64,
    /// AI paid for its proofs, wei.
    #[serde(with = "crate::serde_u128")]
    pub paid: u128,
}

/// `poai_minerStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinerStatus {
    /// The miner's account.
    pub account: AccountView,
    /// Its devices.
    pub devices: Vec<DeviceView>,
}

/// `poai_emissionStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmissionView {
    /// Head height.
    pub height: u64,
    /// Halving epoch.
    pub epoch: u64,
    /// Block subsidy at the head, wei.
    #[serde(with = "crate::serde_u128")]
    pub block_subsidy: u128,
    /// Ceiling at the head, wei.
    #[serde(with = "crate::serde_u128")]
    pub ceiling: u128,
    /// Total mined, wei.
    #[serde(with = "crate::serde_u128")]
    pub mined: u128,
    /// The treasury's AI balance, wei.
    #[serde(with = "crate::serde_u128")]
    pub treasury_balance: u128,
    /// The treasury address.
    pub treasury: Address,
    /// Work ids spent.
    pub spent: u64,
}

/// `poai_txStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
// A JSON wire type, built once per query: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum TxStatus {
    /// In the mempool.
    Pending,
    /// In a block.
    Included {
        /// Block height.
        height: u64,
        /// Position.
        index: u32,
        /// What it did.
        outcome: Outcome,
    },
    /// Left out of a block by the proposer, for good.
    Rejected {
        /// The error's name (a [`crate::TxError`] variant).
        name: String,
        /// Its message.
        message: String,
    },
    /// Never seen (or forgotten).
    Unknown,
}

/// One result of `poai_sendTransactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitResult {
    /// Admitted; its hash.
    Accepted(Hash32),
    /// Refused.
    Rejected {
        /// The error's name.
        name: String,
        /// Its message.
        message: String,
    },
}

/// `poai_validators`: the validator set the head's state defines, and the head's epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsView {
    /// Head height.
    pub height: u64,
    /// The head's epoch (0 on a chain without a `consensus` section).
    pub epoch: u64,
    /// Blocks per epoch, if the chain has a `consensus` section.
    pub epoch_length: Option<u64>,
    /// Whether the head is the last block of its epoch: then `validators` is the next epoch's
    /// set.
    pub boundary: bool,
    /// [`crate::State::validator_set`] at the head: highest stake first.
    pub validators: Vec<crate::validator::ValidatorInfo>,
}

/// A transaction in a [`BlockView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxView {
    /// Its hash.
    pub hash: Hash32,
    /// Its encoding, hex.
    #[serde(with = "crate::serde_hex")]
    pub raw: Vec<u8>,
    /// What it did.
    pub outcome: Outcome,
}

/// `poai_getBlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    /// Block hash.
    pub hash: Hash32,
    /// Header.
    pub header: Header,
    /// Transactions with their outcomes.
    pub txs: Vec<TxView>,
}
