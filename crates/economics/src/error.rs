//! Errors of the economics crate. Each variant names the field or input at fault.

use thiserror::Error;

/// The crate's result type.
pub type Result<T, E = EconomicsError> = std::result::Result<T, E>;

/// Why an emission, reward or payout computation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EconomicsError {
    /// A height before the emission's genesis: no block there can mine, so there is no epoch,
    /// subsidy or ceiling to give.
    #[error("height {height} is before the emission's genesis_height {genesis_height}")]
    HeightBeforeGenesis {
        /// The height asked about.
        height: u64,
        /// The emission's first block.
        genesis_height: u64,
    },
    /// The amount already mined is above the ceiling at this height. The ceiling never falls, so
    /// this means payouts were applied out of block order or the ledger is corrupt.
    #[error(
        "mined ({mined} wei) is above the emission ceiling ({ceiling} wei) at height {height}: \
         payouts must be applied in block order"
    )]
    MinedAboveCeiling {
        /// Total mined before this payout.
        mined: u128,
        /// The ceiling at `height`.
        ceiling: u128,
        /// The height of the payout.
        height: u64,
    },
    /// An intermediate value does not fit its integer type.
    #[error("arithmetic overflow computing `{field}`")]
    Overflow {
        /// The quantity being computed.
        field: &'static str,
    },
    /// Text that is not an AI amount (see [`crate::parse_ai`] and the JSON amount form).
    #[error("`{field}` is not a valid amount: {reason}")]
    InvalidAmount {
        /// The amount being parsed.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}
