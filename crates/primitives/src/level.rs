//! Privacy levels and hardware tiers: one scale with two names (SPEC section 2, LP-130, seed 004).
//!
//! | level | name | multiplier (bps) | credits per minute |
//! |---|---|---|---|
//! | 1 | Public | 2500 | 0.25 AI |
//! | 2 | Private | 5000 | 0.50 AI |
//! | 3 | Confidential | 10000 | 1.00 AI |
//! | 4 | Sovereign | 15000 | 1.50 AI |

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Basis-point denominator of the multipliers.
pub const BPS_DENOMINATOR: u64 = 10_000;

/// A privacy level (LP-130) or, equivalently, the hardware tier a device's attestation proves.
/// Ordered: a higher level needs stronger hardware and pays more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
#[repr(u16)]
pub enum PrivacyLevel {
    /// Consumer GPU, no TEE: stake-based soft attestation.
    Public = 1,
    /// Software isolation; SGX; A100.
    Private = 2,
    /// H100/H200, Intel TDX, AMD SEV-SNP, Arm CCA.
    Confidential = 3,
    /// Blackwell bound to a verified CPU confidential VM: full CC with local attestation.
    Sovereign = 4,
}

/// A privacy level outside 1..=4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("privacy_level must be 1..=4 (Public, Private, Confidential, Sovereign), got {0}")]
pub struct LevelError(pub u16);

impl PrivacyLevel {
    /// All levels, lowest first.
    pub const ALL: [Self; 4] = [
        Self::Public,
        Self::Private,
        Self::Confidential,
        Self::Sovereign,
    ];

    /// The wire value (1..=4).
    pub const fn as_u16(self) -> u16 {
        self as u16
    }

    /// The reward multiplier in basis points (2500, 5000, 10000, 15000).
    pub const fn multiplier_bps(self) -> u64 {
        match self {
            Self::Public => 2_500,
            Self::Private => 5_000,
            Self::Confidential => 10_000,
            Self::Sovereign => 15_000,
        }
    }

    /// The level's name as the seeds spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Public => "Public",
            Self::Private => "Private",
            Self::Confidential => "Confidential",
            Self::Sovereign => "Sovereign",
        }
    }
}

impl TryFrom<u16> for PrivacyLevel {
    type Error = LevelError;
    fn try_from(v: u16) -> Result<Self, LevelError> {
        match v {
            1 => Ok(Self::Public),
            2 => Ok(Self::Private),
            3 => Ok(Self::Confidential),
            4 => Ok(Self::Sovereign),
            other => Err(LevelError(other)),
        }
    }
}

impl From<PrivacyLevel> for u16 {
    fn from(l: PrivacyLevel) -> u16 {
        l.as_u16()
    }
}

impl fmt::Display for PrivacyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_u16(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_and_multipliers() {
        let table = [(1u16, 2_500u64), (2, 5_000), (3, 10_000), (4, 15_000)];
        for (v, bps) in table {
            let l = PrivacyLevel::try_from(v).unwrap();
            assert_eq!(l.as_u16(), v);
            assert_eq!(l.multiplier_bps(), bps);
        }
        for bad in [0u16, 5, 0x0100, u16::MAX] {
            assert_eq!(PrivacyLevel::try_from(bad), Err(LevelError(bad)));
        }
        assert!(PrivacyLevel::Public < PrivacyLevel::Sovereign);
    }
}
