//! Real TEE evidence for device registration, through `poai-tee` (SPEC section 5).
//!
//! The state machine asks an [`EvidenceVerifier`] for anything that is not dev evidence; this is
//! the one the node installs. Verification is offline and deterministic: pinned roots, the block
//! time as the clock, and the registration nonce as the freshness the evidence must prove.
//! Evidence of kind `none` (soft attestation) is refused: SPEC section 2 ties it to stake, which
//! this chain does not have yet, and without stake it would let anyone register Public devices
//! at will.

use poai_chain::{Attested, EvidenceVerifier, Machine};
use poai_primitives::Nonce;
use poai_tee::{EvidenceKind, Freshness, TrustStore, Verifier, VerifyOptions};
use std::sync::Arc;

/// [`EvidenceVerifier`] over `poai_tee::Verifier` with the pinned roots.
pub struct TeeEvidence {
    verifier: Verifier,
}

impl TeeEvidence {
    /// A verifier trusting the pinned vendor roots.
    pub fn pinned() -> Self {
        Self {
            verifier: Verifier::new(TrustStore::pinned()),
        }
    }
}

impl EvidenceVerifier for TeeEvidence {
    fn verify(&self, evidence: &[u8], nonce: &[u8; 32], at_unix: u64) -> Result<Attested, String> {
        let opts = VerifyOptions {
            freshness: Freshness::Nonce(Nonce(*nonce)),
            at_unix,
            reference: None,
        };
        let a = self
            .verifier
            .verify(evidence, &opts)
            .map_err(|e| e.to_string())?;
        if a.kind == EvidenceKind::None {
            return Err(
                "evidence kind `none` (soft attestation) needs stake, which this chain does not \
                 support yet"
                    .into(),
            );
        }
        Ok(Attested {
            device_id: a.device_id,
            tier: a.tier,
            trust_score: a.trust_score,
            kind: a.kind.as_u8(),
        })
    }
}

/// The node's state machine: dev evidence where genesis allows it, real evidence through
/// `poai-tee`.
pub fn machine() -> Machine {
    Machine::with_evidence_verifier(Arc::new(TeeEvidence::pinned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_garbage_and_soft_attestation() {
        let t = TeeEvidence::pinned();
        let err = t
            .verify(&[0xff, 1, 2], &[0; 32], 1_800_000_000)
            .unwrap_err();
        assert!(!err.is_empty());
        let none = poai_tee::Envelope::None.encode().unwrap();
        let err = t.verify(&none, &[0; 32], 1_800_000_000).unwrap_err();
        assert!(err.contains("soft attestation"), "{err}");
    }
}
