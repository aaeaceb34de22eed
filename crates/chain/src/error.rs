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
    /// An AI VM field is out of its allowed form (length, characters, range).
    #[error("field `{field}`: {reason}")]
    AiInvalidField {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// An amount that must be positive is zero.
    #[error("field `{field}` must be greater than 0")]
    ZeroAmount {
        /// The field.
        field: &'static str,
    },
    /// The model id is taken (same owner and weights).
    #[error("model {model_id} is already registered (same owner and `weights_id`)")]
    ModelExists {
        /// The model.
        model_id: Hash32,
    },
    /// No such model.
    #[error("field `model_id`: model {model_id} is not registered")]
    UnknownModel {
        /// The model.
        model_id: Hash32,
    },
    /// Only the owner registers a model's next version.
    #[error("field `previous`: model {model_id} belongs to {owner}")]
    NotModelOwner {
        /// The model.
        model_id: Hash32,
        /// Its owner.
        owner: Address,
    },
    /// The previous version already has a successor.
    #[error("field `previous`: model {model_id} is already superseded by {by}")]
    ModelSuperseded {
        /// The model.
        model_id: Hash32,
        /// Its successor.
        by: Hash32,
    },
    /// A new version must be greater than its predecessor's.
    #[error("field `version` is {got}, the previous version is {previous}")]
    VersionNotIncreasing {
        /// The predecessor's version.
        previous: u64,
        /// The new one.
        got: u64,
    },
    /// The sender is a provider already.
    #[error("{provider} is already a provider")]
    ProviderExists {
        /// The provider.
        provider: Address,
    },
    /// Not a provider.
    #[error("field `provider`: {provider} is not a registered provider")]
    UnknownProvider {
        /// The address.
        provider: Address,
    },
    /// Another provider uses the device.
    #[error("field `device_id`: device {device_id} is bound to provider {provider}")]
    DeviceTaken {
        /// The device.
        device_id: DeviceId,
        /// Its provider.
        provider: Address,
    },
    /// The device's tier does not prove the declared GPU.
    #[error(
        "field `gpu`: a {gpu} needs a device attested at tier {needs} or above, this device is {tier}"
    )]
    GpuNeedsTier {
        /// The GPU.
        gpu: String,
        /// The tier it needs.
        needs: PrivacyLevel,
        /// The device's.
        tier: PrivacyLevel,
    },
    /// Stake below the tier's minimum.
    #[error("field `stake`: {got} is below the minimum {min} for tier {tier}")]
    StakeBelowMinimum {
        /// The tier.
        tier: PrivacyLevel,
        /// Minimum.
        min: String,
        /// Active stake.
        got: String,
    },
    /// The provider was slashed by a dispute.
    #[error("provider {provider} is jailed (slashed by a dispute)")]
    ProviderJailed {
        /// The provider.
        provider: Address,
    },
    /// The device's attestation is past its tier's validity: re-register the device.
    #[error(
        "provider {provider}'s device attestation expired at {expired_at}; re-attest the device"
    )]
    AttestationExpired {
        /// The provider.
        provider: Address,
        /// When it expired.
        expired_at: u64,
    },
    /// The provider's tier is below the model's.
    #[error("provider {provider} is tier {tier}, the model requires {required}")]
    TierBelowModel {
        /// The provider.
        provider: Address,
        /// Its tier.
        tier: PrivacyLevel,
        /// The model's.
        required: PrivacyLevel,
    },
    /// More than the active stake.
    #[error("field `amount` is {requested}, active stake is {staked}")]
    UnbondTooMuch {
        /// Asked.
        requested: String,
        /// Active stake.
        staked: String,
    },
    /// No unbonding stake.
    #[error("nothing is unbonding")]
    NothingToWithdraw,
    /// The unbonding period has not passed.
    #[error("unbonding stake is released at {release_at}")]
    UnbondingNotReady {
        /// Release time.
        release_at: u64,
    },
    /// Stake cannot leave while disputes name the provider.
    #[error(
        "provider {provider} has {open_disputes} open disputes; stake cannot leave until they close"
    )]
    StakeLocked {
        /// The provider.
        provider: Address,
        /// Open disputes.
        open_disputes: u32,
    },
    /// The attestation's signature does not verify under the provider's device key.
    #[error("field `attestation.signature` does not verify for provider {provider} on this chain")]
    AttestationSignatureInvalid {
        /// The provider.
        provider: Address,
    },
    /// Timestamp more than 60 s ahead of the block.
    #[error(
        "field `attestation.timestamp` {timestamp} is more than 60 s after the block time {block_time}"
    )]
    AttestationFromFuture {
        /// The attestation's.
        timestamp: u64,
        /// Block time.
        block_time: u64,
    },
    /// Timestamp too old.
    #[error("field `attestation.timestamp` {timestamp} is before the oldest accepted, {oldest}")]
    AttestationTooOld {
        /// The attestation's.
        timestamp: u64,
        /// Oldest accepted.
        oldest: u64,
    },
    /// The attestation is recorded already.
    #[error("attestation {attestation_id} is already recorded")]
    AttestationExists {
        /// Its id.
        attestation_id: Hash32,
    },
    /// An attestation field does not match the task or dispute.
    #[error("field `attestation.{field}` must be {expected}")]
    AttestationMismatch {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: String,
    },
    /// A duration outside the workload's bounds.
    #[error("field `{field}` is {got} s, the {workload} workload allows {min}..={max} s")]
    DurationOutOfBounds {
        /// The field.
        field: &'static str,
        /// The workload.
        workload: String,
        /// Least.
        min: u64,
        /// Most.
        max: u64,
        /// Given.
        got: u64,
    },
    /// More GPU time than has passed since assignment.
    #[error("field `duration` is {duration} s, only {elapsed} s have passed since assignment")]
    DurationExceedsElapsed {
        /// Claimed.
        duration: u64,
        /// Elapsed.
        elapsed: u64,
    },
    /// No such task.
    #[error("field `task_id`: task {task_id} does not exist")]
    UnknownTask {
        /// The task.
        task_id: Hash32,
    },
    /// The task is in another phase.
    #[error("task {task_id} is {status}, this call needs it {expected}")]
    WrongTaskPhase {
        /// The task.
        task_id: Hash32,
        /// Its phase.
        status: String,
        /// The phase needed.
        expected: String,
    },
    /// The sender is not one of the task's providers.
    #[error("{provider} is not assigned to task {task_id}")]
    NotAssigned {
        /// The task.
        task_id: Hash32,
        /// The sender.
        provider: Address,
    },
    /// A second commitment.
    #[error("field `commitment`: already committed to task {task_id}")]
    AlreadyCommitted {
        /// The task.
        task_id: Hash32,
    },
    /// A reveal without a commitment.
    #[error("no commitment to task {task_id} to reveal")]
    NotCommitted {
        /// The task.
        task_id: Hash32,
    },
    /// A second reveal.
    #[error("already revealed for task {task_id}")]
    AlreadyRevealed {
        /// The task.
        task_id: Hash32,
    },
    /// The reveal does not open the commitment.
    #[error(
        "fields `attestation.output_hash`, `attestation.fingerprint`, `duration`, `salt` do not open the commitment to task {task_id}"
    )]
    CommitmentMismatch {
        /// The task.
        task_id: Hash32,
    },
    /// The bond is below the minimum.
    #[error("field `bond` is {got}, the minimum is {min}")]
    BondTooLow {
        /// Minimum.
        min: String,
        /// Given.
        got: String,
    },
    /// Both attestations are from one provider.
    #[error("fields `a.provider` and `b.provider` are both {provider}")]
    SameProvider {
        /// The provider.
        provider: Address,
    },
    /// The two attestations have the same output.
    #[error("fields `a.output_hash` and `b.output_hash` are equal: nothing conflicts")]
    IdenticalOutputs,
    /// A provider cannot challenge its own attestation.
    #[error("the challenger {challenger} is one of the disputed providers")]
    ChallengerIsAccused {
        /// The challenger.
        challenger: Address,
    },
    /// The pair was disputed before.
    #[error("dispute {dispute_id} over these attestations exists")]
    DisputeExists {
        /// The dispute.
        dispute_id: Hash32,
    },
    /// No such dispute.
    #[error("field `dispute_id`: dispute {dispute_id} does not exist")]
    UnknownDispute {
        /// The dispute.
        dispute_id: Hash32,
    },
    /// The dispute is not waiting for a referee's report.
    #[error("dispute {dispute_id} is {status}, not waiting for a referee report")]
    WrongDisputePhase {
        /// The dispute.
        dispute_id: Hash32,
        /// Its status.
        status: String,
    },
    /// The sender is not the dispute's current referee.
    #[error("{sender} is not the current referee of dispute {dispute_id}")]
    NotReferee {
        /// The dispute.
        dispute_id: Hash32,
        /// The sender.
        sender: Address,
    },
    /// Not enough AIT.
    #[error("{holder} has {available} AIT (smallest unit) but needs {needed}")]
    InsufficientCredits {
        /// The holder.
        holder: Address,
        /// Balance.
        available: String,
        /// Needed.
        needed: String,
    },
    /// A validator call on a chain whose genesis has no `consensus` section.
    #[error(
        "field `call`: validator calls need a genesis `consensus` section, this chain has none"
    )]
    ValidatorsDisabled,
    /// The consensus key is not a usable ed25519 public key.
    #[error("field `consensus_key` {consensus_key}: {reason}")]
    ConsensusKeyInvalid {
        /// The key, hex.
        consensus_key: String,
        /// Why.
        reason: String,
    },
    /// The consensus key is bonded already (or still unbonding).
    #[error("field `consensus_key`: {consensus_key} is already bonded")]
    ValidatorExists {
        /// The key, hex.
        consensus_key: String,
    },
    /// A bond below the genesis's `min_validator_stake` (or zero).
    #[error("field `stake` is {got}, the least a validator may bond is {min}")]
    ValidatorStakeTooLow {
        /// Least allowed.
        min: String,
        /// Given.
        got: String,
    },
    /// The `net_addr` is not `host:port` within bounds.
    #[error("field `net_addr`: {reason}")]
    NetAddrInvalid {
        /// Why.
        reason: String,
    },
    /// The proof of possession is not the consensus key's signature for this chain and sender.
    #[error(
        "field `pop`: not a signature by consensus key {consensus_key} over the proof-of-possession          message for chain {chain_id} and sender {sender}"
    )]
    PopInvalid {
        /// The key, hex.
        consensus_key: String,
        /// This chain.
        chain_id: ChainId,
        /// The sender.
        sender: Address,
    },
    /// No validator has this consensus key.
    #[error("field `consensus_key`: {consensus_key} is not a bonded validator")]
    UnknownValidator {
        /// The key, hex.
        consensus_key: String,
    },
    /// The sender does not own the validator.
    #[error("field `consensus_key`: validator {consensus_key} belongs to {owner}")]
    NotValidatorOwner {
        /// The key, hex.
        consensus_key: String,
        /// Its owner.
        owner: Address,
    },
    /// The validator is unbonding: its stake can neither grow nor unbond again.
    #[error(
        "field `consensus_key`: validator {consensus_key} is unbonding; its stake is released at height {release_height}"
    )]
    ValidatorUnbonding {
        /// The key, hex.
        consensus_key: String,
        /// Release height.
        release_height: u64,
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
            Self::AiInvalidField { .. } => "AiInvalidField",
            Self::ZeroAmount { .. } => "ZeroAmount",
            Self::ModelExists { .. } => "ModelExists",
            Self::UnknownModel { .. } => "UnknownModel",
            Self::NotModelOwner { .. } => "NotModelOwner",
            Self::ModelSuperseded { .. } => "ModelSuperseded",
            Self::VersionNotIncreasing { .. } => "VersionNotIncreasing",
            Self::ProviderExists { .. } => "ProviderExists",
            Self::UnknownProvider { .. } => "UnknownProvider",
            Self::DeviceTaken { .. } => "DeviceTaken",
            Self::GpuNeedsTier { .. } => "GpuNeedsTier",
            Self::StakeBelowMinimum { .. } => "StakeBelowMinimum",
            Self::ProviderJailed { .. } => "ProviderJailed",
            Self::AttestationExpired { .. } => "AttestationExpired",
            Self::TierBelowModel { .. } => "TierBelowModel",
            Self::UnbondTooMuch { .. } => "UnbondTooMuch",
            Self::NothingToWithdraw => "NothingToWithdraw",
            Self::UnbondingNotReady { .. } => "UnbondingNotReady",
            Self::StakeLocked { .. } => "StakeLocked",
            Self::AttestationSignatureInvalid { .. } => "AttestationSignatureInvalid",
            Self::AttestationFromFuture { .. } => "AttestationFromFuture",
            Self::AttestationTooOld { .. } => "AttestationTooOld",
            Self::AttestationExists { .. } => "AttestationExists",
            Self::AttestationMismatch { .. } => "AttestationMismatch",
            Self::DurationOutOfBounds { .. } => "DurationOutOfBounds",
            Self::DurationExceedsElapsed { .. } => "DurationExceedsElapsed",
            Self::UnknownTask { .. } => "UnknownTask",
            Self::WrongTaskPhase { .. } => "WrongTaskPhase",
            Self::NotAssigned { .. } => "NotAssigned",
            Self::AlreadyCommitted { .. } => "AlreadyCommitted",
            Self::NotCommitted { .. } => "NotCommitted",
            Self::AlreadyRevealed { .. } => "AlreadyRevealed",
            Self::CommitmentMismatch { .. } => "CommitmentMismatch",
            Self::BondTooLow { .. } => "BondTooLow",
            Self::SameProvider { .. } => "SameProvider",
            Self::IdenticalOutputs => "IdenticalOutputs",
            Self::ChallengerIsAccused { .. } => "ChallengerIsAccused",
            Self::DisputeExists { .. } => "DisputeExists",
            Self::UnknownDispute { .. } => "UnknownDispute",
            Self::WrongDisputePhase { .. } => "WrongDisputePhase",
            Self::NotReferee { .. } => "NotReferee",
            Self::InsufficientCredits { .. } => "InsufficientCredits",
            Self::ValidatorsDisabled => "ValidatorsDisabled",
            Self::ConsensusKeyInvalid { .. } => "ConsensusKeyInvalid",
            Self::ValidatorExists { .. } => "ValidatorExists",
            Self::ValidatorStakeTooLow { .. } => "ValidatorStakeTooLow",
            Self::NetAddrInvalid { .. } => "NetAddrInvalid",
            Self::PopInvalid { .. } => "PopInvalid",
            Self::UnknownValidator { .. } => "UnknownValidator",
            Self::NotValidatorOwner { .. } => "NotValidatorOwner",
            Self::ValidatorUnbonding { .. } => "ValidatorUnbonding",
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
