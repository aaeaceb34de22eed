//! The verification result: tier, trust score and the facts they rest on (SPEC section 5).
//!
//! Trust score bands (integers; 0 means rejected, which is an `Err`, never an `Attestation`):
//!
//! | tier | band | evidence |
//! |---|---|---|
//! | 4 Sovereign | 85–100 | Blackwell GPU bound to a verified CPU confidential VM |
//! | 3 Confidential | 60–84 | Hopper GPU, Blackwell alone, TDX, SEV-SNP, CCA |
//! | 2 Private | 35–59 | SGX |
//! | 1 Public | 1–34 | no TEE (soft attestation) |
//!
//! A score starts at the top of its band and loses the points of each [`Deduction`], never
//! falling below the band's floor. Deductions (integers, fixed here so that every node computes
//! the same score):
//!
//! | reason | points |
//! |---|---|
//! | TCB `SWHardeningNeeded` or `ConfigurationNeeded` | 5 |
//! | TCB `ConfigurationAndSWHardeningNeeded` | 10 |
//! | TCB `OutOfDate` | 15 |
//! | TCB `OutOfDateConfigurationNeeded` or unknown | 20 |
//! | no revocation data (no CRL/OCSP for the device chain offline) | 4 |
//! | GPU measurements not compared with reference values | 3 |
//! | soft attestation (no hardware evidence) | 14 |
//!
//! TCB status `Revoked` is a rejection.

use crate::envelope::EvidenceKind;
use crate::error::TeeError;
use poai_primitives::{DeviceId, PrivacyLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A verified attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The evidence kind.
    pub kind: EvidenceKind,
    /// The tier the evidence proves.
    pub tier: PrivacyLevel,
    /// Trust score inside the tier's band.
    pub trust_score: u8,
    /// BLAKE3 of the attested hardware identity; all zero for soft attestation.
    pub device_id: DeviceId,
    /// What the decision rests on.
    pub facts: Facts,
}

/// The facts a verification used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Hardware, as the certificates or the quote type prove it (e.g. `hopper GH100`, `tdx`).
    pub architecture: String,
    /// TCB status where the vendor defines one (Intel), or a description of what was checked.
    pub tcb_status: Option<String>,
    /// Intel security advisories attached to the TCB level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisory_ids: Vec<String>,
    /// Versions the evidence reports (GPU driver and VBIOS, SNP TCB, quote version).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, String>,
    /// Measurements (hex), by name or index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measurements: BTreeMap<String, String>,
    /// Other signed fields of interest (GPU opaque data, CCA claims), hex or text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// The freshness field's value (hex).
    pub freshness: String,
    /// Whether reference measurements were compared.
    pub reference_checked: bool,
    /// Whether revocation data was checked.
    pub revocation_checked: bool,
    /// Points taken off the band's top, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deductions: Vec<Deduction>,
    /// For composite evidence: the GPU's own attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Box<Attestation>>,
    /// For composite evidence: the CPU's own attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Box<Attestation>>,
}

/// Points taken off a trust score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deduction {
    /// Why.
    pub reason: String,
    /// How many points.
    pub points: u8,
}

impl Deduction {
    pub(crate) fn new(reason: impl Into<String>, points: u8) -> Self {
        Self {
            reason: reason.into(),
            points,
        }
    }
}

/// The inclusive score band of a tier.
pub const fn band(tier: PrivacyLevel) -> (u8, u8) {
    match tier {
        PrivacyLevel::Public => (1, 34),
        PrivacyLevel::Private => (35, 59),
        PrivacyLevel::Confidential => (60, 84),
        PrivacyLevel::Sovereign => (85, 100),
    }
}

/// The score of a tier after deductions.
pub fn score(tier: PrivacyLevel, deductions: &[Deduction]) -> u8 {
    let (lo, hi) = band(tier);
    let total: u32 = deductions.iter().map(|d| u32::from(d.points)).sum();
    let s = u32::from(hi).saturating_sub(total).max(u32::from(lo));
    u8::try_from(s).unwrap_or(lo)
}

/// Maps an Intel TCB status string to its deduction, or rejects `Revoked`.
pub(crate) fn tcb_deduction(
    status: &str,
    what: &'static str,
) -> Result<Option<Deduction>, TeeError> {
    let points = match status {
        "UpToDate" => return Ok(None),
        "SWHardeningNeeded" | "ConfigurationNeeded" => 5,
        "ConfigurationAndSWHardeningNeeded" => 10,
        "OutOfDate" => 15,
        "Revoked" => return Err(TeeError::TcbRevoked(what)),
        _ => 20,
    };
    Ok(Some(Deduction::new(format!("TCB status {status}"), points)))
}

pub(crate) fn no_revocation() -> Deduction {
    Deduction::new("no revocation data for the device chain", 4)
}

impl Attestation {
    pub(crate) fn new(
        kind: EvidenceKind,
        tier: PrivacyLevel,
        device_id: DeviceId,
        facts: Facts,
    ) -> Self {
        Self {
            kind,
            tier,
            trust_score: score(tier, &facts.deductions),
            device_id,
            facts,
        }
    }

    /// Soft attestation: tier 1, no hardware identity.
    pub(crate) fn soft() -> Self {
        let facts = Facts {
            architecture: "none".into(),
            deductions: vec![Deduction::new(
                "soft attestation (no hardware evidence)",
                14,
            )],
            ..Facts::default()
        };
        Self::new(
            EvidenceKind::None,
            PrivacyLevel::Public,
            DeviceId::default(),
            facts,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_stay_in_band() {
        for tier in PrivacyLevel::ALL {
            let (lo, hi) = band(tier);
            assert_eq!(score(tier, &[]), hi);
            assert_eq!(score(tier, &[Deduction::new("x", 4)]), hi - 4);
            assert_eq!(score(tier, &vec![Deduction::new("x", 255); 3]), lo);
        }
    }

    #[test]
    fn tcb_table() {
        assert_eq!(tcb_deduction("UpToDate", "tdx").unwrap(), None);
        assert_eq!(
            tcb_deduction("SWHardeningNeeded", "tdx")
                .unwrap()
                .unwrap()
                .points,
            5
        );
        assert_eq!(
            tcb_deduction("OutOfDate", "tdx").unwrap().unwrap().points,
            15
        );
        assert_eq!(
            tcb_deduction("Revoked", "tdx").unwrap_err().code(),
            "tcb_revoked"
        );
        assert_eq!(soft().trust_score, 20);
    }

    fn soft() -> Attestation {
        Attestation::soft()
    }
}
