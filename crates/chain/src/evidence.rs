//! Device registration evidence (SPEC sections 5 and 6).
//!
//! A `RegisterDevice` transaction carries evidence that proves a device identity and a tier.
//! Two sources:
//!
//! - **Real TEE evidence**: a SPEC section 5 envelope, checked by an [`EvidenceVerifier`] that the
//!   node supplies (the `poai-tee` crate). It must be bound to [`registration_nonce`], which ties
//!   the evidence to this chain, the registering key's address and its account nonce, so evidence
//!   cannot be replayed by another key or re-used for a second registration.
//! - **Dev evidence** (INSECURE, devnets only): [`DEV_EVIDENCE_MAGIC`] ‖ tier u16 ‖ seed 32. It
//!   proves nothing: whoever writes it chooses the tier. It is accepted only when the genesis sets
//!   `allow_dev_evidence`, and a real deployment's genesis (`poai genesis new`) leaves that off.
//!   The device id is BLAKE3(`poai/dev-device/v1` ‖ seed).
//!
//! The verifier must be deterministic in its inputs (the block time stands in for the clock),
//! because every validator re-runs it.

use crate::hash::hash_tagged;
use poai_primitives::{Address, ChainId, DeviceId, PrivacyLevel};
use serde::{Deserialize, Serialize};

/// The first bytes of dev evidence. Spelled out so that nobody mistakes it for attestation.
pub const DEV_EVIDENCE_MAGIC: &[u8; 32] = b"poai-dev-evidence-v1-INSECURE!!!";
/// Length of dev evidence: magic, tier, seed.
pub const DEV_EVIDENCE_LEN: usize = 32 + 2 + 32;

/// What registration evidence proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attested {
    /// The attested device identity.
    pub device_id: DeviceId,
    /// The tier proven.
    pub tier: PrivacyLevel,
    /// The trust score (SPEC section 5; dev evidence reports 0).
    pub trust_score: u8,
    /// The evidence kind byte (SPEC section 5 envelope kinds; [`DEV_EVIDENCE_KIND`] for dev).
    pub kind: u8,
}

/// The kind byte recorded for dev evidence (outside the envelope's kind range).
pub const DEV_EVIDENCE_KIND: u8 = 0xde;

/// Verifies real TEE evidence. Implementations must be deterministic: same inputs, same verdict,
/// on every validator.
pub trait EvidenceVerifier: Send + Sync {
    /// Checks `evidence` bound to `nonce` at block time `at_unix`; the error is a message naming
    /// what failed.
    fn verify(&self, evidence: &[u8], nonce: &[u8; 32], at_unix: u64) -> Result<Attested, String>;
}

/// The nonce registration evidence must be bound to: BLAKE3(`poai/register/v1` ‖ u64be(chain_id)
/// ‖ address ‖ u64be(account nonce)).
pub fn registration_nonce(chain_id: ChainId, miner: &Address, account_nonce: u64) -> [u8; 32] {
    hash_tagged(
        b"poai/register/v1",
        &[
            &chain_id.to_be_bytes(),
            &miner.0,
            &account_nonce.to_be_bytes(),
        ],
    )
    .0
}

/// Builds dev evidence for a device seed and a claimed tier.
pub fn dev_evidence(tier: PrivacyLevel, seed: &[u8; 32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(DEV_EVIDENCE_LEN);
    v.extend_from_slice(DEV_EVIDENCE_MAGIC);
    v.extend_from_slice(&tier.as_u16().to_be_bytes());
    v.extend_from_slice(seed);
    v
}

/// The device id dev evidence with `seed` proves.
pub fn dev_device_id(seed: &[u8; 32]) -> DeviceId {
    DeviceId(hash_tagged(b"poai/dev-device/v1", &[seed]).0)
}

/// Whether `evidence` is in the dev format (by its magic), whatever its validity.
pub fn is_dev_evidence(evidence: &[u8]) -> bool {
    evidence.starts_with(DEV_EVIDENCE_MAGIC)
}

/// Parses dev evidence; the message names the field at fault.
pub fn parse_dev_evidence(evidence: &[u8]) -> Result<Attested, String> {
    if evidence.len() != DEV_EVIDENCE_LEN {
        return Err(format!(
            "dev evidence is {} bytes, expected {DEV_EVIDENCE_LEN}",
            evidence.len()
        ));
    }
    let rest = evidence
        .get(DEV_EVIDENCE_MAGIC.len()..)
        .ok_or("dev evidence truncated")?;
    let (tier, seed) = rest.split_at_checked(2).ok_or("dev evidence truncated")?;
    let tier = u16::from_be_bytes(<[u8; 2]>::try_from(tier).map_err(|_| "field `tier` truncated")?);
    let tier = PrivacyLevel::try_from(tier).map_err(|e| format!("field `tier`: {e}"))?;
    let seed = <[u8; 32]>::try_from(seed).map_err(|_| "field `seed` truncated")?;
    Ok(Attested {
        device_id: dev_device_id(&seed),
        tier,
        trust_score: 0,
        kind: DEV_EVIDENCE_KIND,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_evidence_round_trip_and_errors() {
        let seed = [4u8; 32];
        let ev = dev_evidence(PrivacyLevel::Sovereign, &seed);
        assert!(is_dev_evidence(&ev));
        let a = parse_dev_evidence(&ev).unwrap();
        assert_eq!(a.tier, PrivacyLevel::Sovereign);
        assert_eq!(a.device_id, dev_device_id(&seed));
        assert_ne!(a.device_id, dev_device_id(&[5u8; 32]));

        let mut bad = ev.clone();
        bad[33] = 9;
        assert!(parse_dev_evidence(&bad).unwrap_err().contains("tier"));
        assert!(parse_dev_evidence(&ev[..40]).unwrap_err().contains("bytes"));
    }

    #[test]
    fn registration_nonce_binds_everything() {
        let a = Address([1; 20]);
        let n = registration_nonce(ChainId(1), &a, 0);
        assert_ne!(n, registration_nonce(ChainId(2), &a, 0));
        assert_ne!(n, registration_nonce(ChainId(1), &Address([2; 20]), 0));
        assert_ne!(n, registration_nonce(ChainId(1), &a, 1));
    }
}
