//! Why a precompile call fails.
//!
//! Two kinds, as revm separates them (STYLE.md, revm `interface.rs`):
//! - [`Halt`]: the caller's fault (malformed input, not allowed, out of gas). The call halts,
//!   consumes all the gas it was given, and the EVM continues; at depth 1 the message becomes
//!   the transaction's `PrecompileErrorWithContext` reason.
//! - [`Failure::Fatal`]: the node's fault (a database read failed). The transaction aborts.
//!
//! A well-formed signature or evidence that does not verify is neither: it returns `false`.

use poai_crypto::MlDsaError;
use poai_primitives::DecodeError;
use std::borrow::Cow;
use thiserror::Error;

/// A halt: the call fails, consumes its gas, and the EVM carries on. Each variant names the
/// field or rule at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Halt {
    /// The gas given does not cover the cost computed from the input.
    #[error("out of gas: {needed} needed, {limit} given")]
    OutOfGas {
        /// Gas the call costs so far.
        needed: u64,
        /// Gas the call was given.
        limit: u64,
    },
    /// The input is empty.
    #[error("input is empty: expected an LP-130 op byte or a 4-byte selector")]
    EmptyInput,
    /// An op byte in 0x01..=0x0F that LP-130 does not define.
    #[error("op byte 0x{0:02x} is not an LP-130 op (0x01..=0x06)")]
    UnknownOp(u8),
    /// A selector that the precompile's interface does not define.
    #[error("selector 0x{0} is not a function of {1}")]
    UnknownSelector(String, &'static str),
    /// ABI decoding failed.
    #[error("{function}: ABI-encoded arguments are malformed: {reason}")]
    Abi {
        /// The function whose arguments were decoded.
        function: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// A fixed-size field is shorter than its layout says.
    #[error("field `{field}` truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// The field.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// Bytes after the last field of a fixed layout.
    #[error("{len} trailing bytes after field `{after}`")]
    Trailing {
        /// The last field.
        after: &'static str,
        /// How many bytes follow it.
        len: usize,
    },
    /// A variable-length field is longer than its maximum.
    #[error("field `{field}` is {len} bytes, the maximum is {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A field has a value outside its domain.
    #[error("field `{field}`: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: Cow<'static, str>,
    },
    /// An ML-DSA input is malformed (parameter set, lengths).
    #[error("ML-DSA: {0}")]
    MlDsa(#[from] MlDsaError),
    /// A work proof does not decode.
    #[error("work proof: {0}")]
    WorkProof(#[from] DecodeError),
    /// A TEE evidence envelope does not decode.
    #[error("tee evidence: {0}")]
    Evidence(String),
    /// A state-changing op in a static call (STATICCALL, or a call made inside one).
    #[error("{0} writes state and is refused in a static call")]
    StaticCallWrite(&'static str),
    /// A state-changing op from a caller that is not a configured mining contract.
    #[error("{op}: caller {caller} is not one of this chain's mining contracts")]
    CallerNotAllowed {
        /// The op.
        op: &'static str,
        /// The caller's address.
        caller: String,
    },
    /// DELEGATECALL, CALLCODE or an EIP-7702 delegation to a stateful precompile: the storage
    /// would be the caller's, not the precompile's.
    #[error(
        "{0} keeps state in its own account and refuses DELEGATECALL, CALLCODE and delegated code"
    )]
    DelegateCallRefused(&'static str),
    /// MarkSpent of a work id already in the spent set.
    #[error("work_id {0} is already spent")]
    AlreadySpent(String),
    /// heartbeat of a session id that was never started.
    #[error("session {0} does not exist")]
    UnknownSession(String),
    /// heartbeat of a session whose device started a newer session.
    #[error("session {0} was superseded by a newer session of its device")]
    SessionSuperseded(String),
    /// heartbeat after the session's attestation expired.
    #[error("session {0} ended: its attestation expired")]
    SessionEnded(String),
    /// heartbeat less than 30 s after the previous one.
    #[error("heartbeat {elapsed} s after the previous one; the minimum is {min} s")]
    HeartbeatTooSoon {
        /// Seconds since the previous heartbeat.
        elapsed: u64,
        /// The minimum interval.
        min: u64,
    },
    /// startSession with evidence that does not verify.
    #[error("teeQuote does not verify: {0}")]
    QuoteRejected(String),
    /// importAChainBlock from a caller that is not a configured bridge contract.
    #[error("{op}: caller {caller} is not one of this chain's A-chain bridge contracts")]
    CallerNotBridge {
        /// The op.
        op: &'static str,
        /// The caller's address.
        caller: String,
    },
    /// importAChainBlock of a height that already has a different block hash.
    #[error(
        "field `blockHash`: A-chain height {height} already has block hash {stored}; {given} would replace it"
    )]
    BlockHashConflict {
        /// The A-chain height.
        height: u64,
        /// The hash stored for it.
        stored: String,
        /// The hash the call gave.
        given: String,
    },
    /// verifyExecution with an A-chain receipt (proof kind 0x02) that does not decode.
    #[error("field `proof.receipt`: {0}")]
    Receipt(#[from] poai_chain::codec::CodecError),
    /// register of a model id already in the registry.
    #[error("model {0} is already registered")]
    ModelExists(String),
    /// A registry write that only the model's owner may make.
    #[error("caller {caller} is not the owner of model {model}")]
    NotModelOwner {
        /// The caller.
        caller: String,
        /// The model id.
        model: String,
    },
}

impl Halt {
    /// Shorthand for [`Halt::InvalidField`].
    pub fn invalid(field: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// Any failure of a precompile call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Failure {
    /// The caller's fault: halt, consume the gas.
    #[error(transparent)]
    Halt(#[from] Halt),
    /// The node's fault (a database error): abort the transaction.
    #[error("fatal: {0}")]
    Fatal(String),
}

impl From<MlDsaError> for Failure {
    fn from(e: MlDsaError) -> Self {
        Self::Halt(Halt::MlDsa(e))
    }
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Self {
        Self::Halt(Halt::WorkProof(e))
    }
}

/// Result of a precompile step.
pub type Result<T, E = Failure> = std::result::Result<T, E>;
