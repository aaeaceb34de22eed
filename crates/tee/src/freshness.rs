//! Nonce binding (SPEC section 5).
//!
//! The caller's 32-byte nonce (for a work proof: its work id) must appear in the evidence's
//! freshness field as `BLAKE3-XOF("poai/tee/v1" ‖ kind byte ‖ nonce)` cut to the field's size:
//!
//! | kind | freshness field | size |
//! |---|---|---|
//! | NVIDIA | SPDM GET_MEASUREMENTS request nonce | 32 |
//! | TDX, SGX, SNP | report_data | 64 |
//! | CCA | realm challenge | 64 |
//!
//! Composite evidence binds the GPU evidence into the CPU quote: the CPU report_data is
//! `BLAKE3-XOF("poai/tee/v1/composite" ‖ nonce ‖ BLAKE3(GPU envelope))`, 64 bytes, and the GPU's
//! own SPDM nonce carries the NVIDIA binding above. Miners call [`expected_freshness`] and
//! [`composite_report_data`] to build their requests.
//!
//! [`Freshness::ReportData`] is the raw mode for vendor samples made outside poai: the field
//! must equal the given bytes exactly.

use crate::envelope::EvidenceKind;
use crate::error::TeeError;
use poai_primitives::Nonce;
use serde::{Deserialize, Serialize};

/// Domain tag of the single-evidence binding.
pub const DOMAIN: &[u8] = b"poai/tee/v1";
/// Domain tag of the composite binding.
pub const COMPOSITE_DOMAIN: &[u8] = b"poai/tee/v1/composite";

/// How the evidence must prove it is fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    /// The SPEC binding of this nonce.
    Nonce(Nonce),
    /// Raw mode: the freshness field must equal these bytes.
    ReportData(#[serde(with = "hexbytes")] Vec<u8>),
}

/// The freshness field's size for a kind, or `None` for kinds without one.
pub const fn field_len(kind: EvidenceKind) -> Option<usize> {
    match kind {
        EvidenceKind::Nvidia => Some(32),
        EvidenceKind::Tdx | EvidenceKind::Sgx | EvidenceKind::Snp | EvidenceKind::Cca => Some(64),
        EvidenceKind::None | EvidenceKind::Composite => None,
    }
}

/// The bytes a kind's freshness field must hold for `nonce`; empty for kinds without a field.
pub fn expected_freshness(kind: EvidenceKind, nonce: &Nonce) -> Vec<u8> {
    let Some(len) = field_len(kind) else {
        return Vec::new();
    };
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN);
    h.update(&[kind.as_u8()]);
    h.update(nonce.as_bytes());
    let mut out = vec![0u8; len];
    h.finalize_xof().fill(&mut out);
    out
}

/// The CPU report_data of composite evidence whose GPU envelope encodes to `gpu_envelope`.
pub fn composite_report_data(nonce: &Nonce, gpu_envelope: &[u8]) -> [u8; 64] {
    let gpu_hash = blake3::hash(gpu_envelope);
    let mut h = blake3::Hasher::new();
    h.update(COMPOSITE_DOMAIN);
    h.update(nonce.as_bytes());
    h.update(gpu_hash.as_bytes());
    let mut out = [0u8; 64];
    h.finalize_xof().fill(&mut out);
    out
}

/// Checks a freshness field against the expected value.
pub(crate) fn check(
    kind: EvidenceKind,
    freshness: &Freshness,
    field_name: &'static str,
    actual: &[u8],
) -> Result<(), TeeError> {
    let expected = match freshness {
        Freshness::Nonce(n) => expected_freshness(kind, n),
        Freshness::ReportData(raw) => {
            if raw.len() != actual.len() {
                return Err(TeeError::FreshnessLength {
                    field: field_name,
                    expected: actual.len(),
                    got: raw.len(),
                });
            }
            raw.clone()
        }
    };
    if expected.as_slice() == actual {
        Ok(())
    } else {
        Err(TeeError::NonceMismatch { field: field_name })
    }
}

mod hexbytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.trim_start_matches("0x")).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_matches_its_definition() {
        let nonce = Nonce([7u8; 32]);
        let mut pre = b"poai/tee/v1".to_vec();
        pre.push(4);
        pre.extend_from_slice(&[7u8; 32]);
        let mut want = [0u8; 64];
        blake3::Hasher::new()
            .update(&pre)
            .finalize_xof()
            .fill(&mut want);
        assert_eq!(expected_freshness(EvidenceKind::Snp, &nonce), want);
        // The 32-byte NVIDIA field is a prefix of its own 64-byte XOF stream, and kinds differ.
        let nv = expected_freshness(EvidenceKind::Nvidia, &nonce);
        assert_eq!(nv.len(), 32);
        assert_ne!(
            nv.as_slice(),
            expected_freshness(EvidenceKind::Tdx, &nonce)
                .get(..32)
                .unwrap()
        );
        assert!(expected_freshness(EvidenceKind::None, &nonce).is_empty());
    }

    #[test]
    fn composite_binding_depends_on_both_inputs() {
        let a = composite_report_data(&Nonce([1; 32]), b"gpu");
        assert_ne!(a, composite_report_data(&Nonce([2; 32]), b"gpu"));
        assert_ne!(a, composite_report_data(&Nonce([1; 32]), b"gpv"));
    }

    #[test]
    fn raw_mode_checks_length_then_bytes() {
        let f = Freshness::ReportData(vec![1, 2]);
        assert_eq!(
            check(EvidenceKind::Tdx, &f, "report_data", &[1, 2, 3])
                .unwrap_err()
                .code(),
            "freshness_length"
        );
        assert_eq!(
            check(EvidenceKind::Tdx, &f, "report_data", &[1, 3])
                .unwrap_err()
                .code(),
            "nonce_mismatch"
        );
        assert!(check(EvidenceKind::Tdx, &f, "report_data", &[1, 2]).is_ok());
    }
}
