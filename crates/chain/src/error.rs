//! Errors of the state machine.
//!
//! [`TxError`] is why one transaction is refused: each acceptance rule of SPEC section 2 has its
//! own variant, and the JSON form carries the variant's name (`{"name":"ProofTooSoon",...}`) so
//! that RPC clients can match on it. [`BlockError`] is why a whole block is invalid.

use crate::hash::Hash32;
use poai_primitives::{Address, ChainId, DeviceId, PrivacyLevel, WorkId};
use serde::Serialize;
use thiserror::Error;

/// The crate's result type.
pub type Result<T, E = TxError> = std::result::Result<T, E>;

/// Why a transaction is refused. Every rule of SPEC section 2 has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "name")]
pub enum TxError {
    /// The bytes are not a transaction.
    #[error("malformed transaction: {reason}")]
    Malformed {
        /// The decoder's message, naming the field.
        reason: String,
    },
    /// An account transaction for another chain.
    #[error("field `chain_id` is {got}, this chain is {expected}")]
    WrongChainId {
        /// This chain.
        expected: ChainId,
        /// The transaction's.
        got: ChainId,
    },
    /// The account transaction's signature does not verify under its public key.
    #[error("field `signature`: the transaction signature does not verify for sender {sender}")]
    TxSignatureInvalid {
        /// The sender derived from the public key.
        sender: Address,
    },
    /// The account nonce is not the next one.
    #[error("field `nonce` is {got}, the sender's next nonce is {expected}")]
    BadNonce {
        /// The next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The fee is below the chain's minimum.
    #[error("field `fee` is {got}, the minimum is {min}")]
    FeeTooLow {
        /// Minimum fee.
        min: String,
        /// The transaction's.
        got: String,
    },
    /// The sender cannot pay the fee and amount.
    #[error("sender {sender} has {available} but needs {needed} ({asset})")]
    InsufficientBalance {
        /// The sender.
        sender: Address,
        /// Native coin or AI.
        asset: &'static str,
        /// Balance.
        available: String,
        /// Amount plus fee.
        needed: String,
    },
    /// Dev evidence on a chain whose genesis does not enable it.
    #[error(
        "field `evidence`: dev evidence is not accepted on this chain (genesis allow_dev_evidence is false)"
    )]
    DevEvidenceDisabled,
    /// The evidence does not verify.
    #[error("field `evidence`: {reason}")]
    EvidenceInvalid {
        /// The verifier's message.
        reason: String,
    },
    /// The device is registered to another miner.
    #[error("device {device_id} is registered to miner {owner}")]
    DeviceOwnedByOther {
        /// The device.
        device_id: DeviceId,
        /// Its miner.
        owner: Address,
    },
    /// A proof for a device that no miner registered.
    #[error("field `device_id`: device {device_id} is not registered")]
    UnknownDevice {
        /// The device.
        device_id: DeviceId,
    },
    /// The proof's signature does not verify under the device's registered key, for this chain
    /// and beneficiary (a proof signed for another chain id fails here).
    #[error(
        "field `signature`: the proof signature does not verify for device {device_id} on chain \
         {chain_id} paying {beneficiary} (signed for another chain or beneficiary, or not by the \
         registered key)"
    )]
    ProofSignatureInvalid {
        /// The device.
        device_id: DeviceId,
        /// This chain.
        chain_id: ChainId,
        /// The beneficiary claimed.
        beneficiary: Address,
    },
    /// The work id was minted before.
    #[error("work id {work_id} is already spent")]
    WorkIdSpent {
        /// The work id.
        work_id: WorkId,
    },
    /// The work id is already waiting in the mempool.
    #[error("work id {work_id} is already pending")]
    WorkIdPending {
        /// The work id.
        work_id: WorkId,
    },
    /// The proof is older than block_time − 3600.
    #[error("field `timestamp` {timestamp} is more than 3600 s before the block time {block_time}")]
    ProofExpired {
        /// The proof's timestamp.
        timestamp: u64,
        /// The block time.
        block_time: u64,
    },
    /// The proof is later than block_time + 60.
    #[error("field `timestamp` {timestamp} is more than 60 s after the block time {block_time}")]
    ProofFromFuture {
        /// The proof's timestamp.
        timestamp: u64,
        /// The block time.
        block_time: u64,
    },
    /// Less than 30 s after the device's previous accepted proof.
    #[error(
        "field `timestamp` {timestamp} is less than 30 s after the device's previous accepted \
         proof at {previous}"
    )]
    ProofTooSoon {
        /// The proof's timestamp.
        timestamp: u64,
        /// The previous accepted proof's timestamp.
        previous: u64,
    },
    /// More than 60 compute minutes in one proof.
    #[error("field `compute_minutes` is {claimed}, at most 60 per proof")]
    TooManyMinutes {
        /// Minutes claimed.
        claimed: u32,
    },
    /// More minutes than have elapsed since the previous proof (or registration).
    #[error(
        "field `compute_minutes` is {claimed}, but only {elapsed} whole minutes have elapsed since \
         the device's previous accepted proof or registration at {since}"
    )]
    MinutesExceedElapsed {
        /// Minutes claimed.
        claimed: u32,
        /// Whole minutes elapsed.
        elapsed: u64,
        /// The previous proof's or the registration's time.
        since: u64,
    },
    /// A privacy level above the tier the device's evidence proves.
    #[error("field `privacy_level` is {claimed}, the device's attestation proves only {tier}")]
    PrivacyAboveTier {
        /// Level claimed.
        claimed: PrivacyLevel,
        /// Tier attested.
        tier: PrivacyLevel,
    },
    /// The miner already has 10 proofs in this block (or pending for the next one).
    #[error("miner {miner} already has {limit} proofs in this block")]
    TooManyProofsInBlock {
        /// The miner.
        miner: Address,
        /// The limit (10).
        limit: usize,
    },
    /// The mempool is full, or the sender has too many pending transactions.
    #[error("mempool full: {reason}")]
    MempoolFull {
        /// Which limit.
        reason: String,
    },
    /// An amount overflowed (a bug or a hostile value).
    #[error("arithmetic overflow in `{field}`")]
    Overflow {
        /// The quantity.
        field: &'static str,
    },
    /// The emission refused a payout (ledger above the ceiling: a corrupt state).
    #[error("emission: {reason}")]
    Emission {
        /// The economics error.
        reason: String,
    },
}

impl TxError {
    /// The variant's name, as in the JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "Malformed",
            Self::WrongChainId { .. } => "WrongChainId",
            Self::TxSignatureInvalid { .. } => "TxSignatureInvalid",
            Self::BadNonce { .. } => "BadNonce",
            Self::FeeTooLow { .. } => "FeeTooLow",
            Self::InsufficientBalance { .. } => "InsufficientBalance",
            Self::DevEvidenceDisabled => "DevEvidenceDisabled",
            Self::EvidenceInvalid { .. } => "EvidenceInvalid",
            Self::DeviceOwnedByOther { .. } => "DeviceOwnedByOther",
            Self::UnknownDevice { .. } => "UnknownDevice",
            Self::ProofSignatureInvalid { .. } => "ProofSignatureInvalid",
            Self::WorkIdSpent { .. } => "WorkIdSpent",
            Self::WorkIdPending { .. } => "WorkIdPending",
            Self::ProofExpired { .. } => "ProofExpired",
            Self::ProofFromFuture { .. } => "ProofFromFuture",
            Self::ProofTooSoon { .. } => "ProofTooSoon",
            Self::TooManyMinutes { .. } => "TooManyMinutes",
            Self::MinutesExceedElapsed { .. } => "MinutesExceedElapsed",
            Self::PrivacyAboveTier { .. } => "PrivacyAboveTier",
            Self::TooManyProofsInBlock { .. } => "TooManyProofsInBlock",
            Self::MempoolFull { .. } => "MempoolFull",
            Self::Overflow { .. } => "Overflow",
            Self::Emission { .. } => "Emission",
        }
    }

    /// Whether the transaction may become valid in a later block without changing (so a
    /// proposer defers it instead of dropping it).
    pub fn is_deferrable(&self) -> bool {
        matches!(
            self,
            Self::TooManyProofsInBlock { .. } | Self::ProofFromFuture { .. }
        )
    }
}

/// Why a block is invalid as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    /// The bytes are not a block.
    #[error("malformed block: {0}")]
    Malformed(String),
    /// Not the next height.
    #[error("field `height` is {got}, expected {expected}")]
    Height {
        /// Expected.
        expected: u64,
        /// Found.
        got: u64,
    },
    /// The parent is not the head.
    #[error("field `parent` is {got}, the head is {expected}")]
    Parent {
        /// The head's hash.
        expected: Hash32,
        /// Found.
        got: Hash32,
    },
    /// The timestamp does not advance as the genesis requires.
    #[error("field `timestamp` is {got}: {reason}")]
    Timestamp {
        /// Found.
        got: u64,
        /// The rule broken.
        reason: String,
    },
    /// The transaction root does not match the transactions.
    #[error("field `tx_root` is {got}, the transactions give {computed}")]
    TxRoot {
        /// Computed.
        computed: Hash32,
        /// Found.
        got: Hash32,
    },
    /// The state root after execution differs from the header's.
    #[error("field `state_root` is {got}, execution gives {computed}")]
    StateRoot {
        /// Computed.
        computed: Hash32,
        /// Found.
        got: Hash32,
    },
    /// More transactions than a block may hold.
    #[error("block has {got} transactions, the maximum is {max}")]
    TooManyTxs {
        /// Found.
        got: usize,
        /// Allowed.
        max: usize,
    },
    /// A transaction in the block is invalid (a proposer must leave such transactions out).
    #[error("transaction {index} ({hash}) is invalid: {error}")]
    InvalidTx {
        /// Position in the block.
        index: usize,
        /// Its hash.
        hash: Hash32,
        /// Why.
        error: Box<TxError>,
    },
}
