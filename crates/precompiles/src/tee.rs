//! TEE evidence as the precompiles take it (SPEC section 5), verified by `poai-tee`.
//!
//! A *quote* on the wire is `evidence envelope ‖ nonce(32)`: the layout of LP-130 VerifyTEE,
//! also used for `INVTrust.verifyQuote/parseQuote` and `IAIMining.startSession`'s `teeQuote`,
//! so that the one quote a miner produces passes all three (seed 001's `ComputeProvider`
//! checks it with NV_TRUST and then starts a session with it). The nonce is the value the
//! evidence's freshness field binds (`BLAKE3-XOF("poai/tee/v1" ‖ kind ‖ nonce)`); what the
//! nonce must be is the caller's rule (a work id, or the session nonce of
//! [`crate::ai_mining::session_nonce`]).
//!
//! Malformed: an envelope that does not decode (a halt). Not verified: a decodable envelope that
//! `poai-tee` rejects (false, trust score 0). Verification time is the block's timestamp.
//!
//! Gas: `base + EVIDENCE_PER_WORD_GAS × words + EVIDENCE_PER_SIGNATURE_GAS × signatures`, where
//! [`signatures`] is an upper bound on the signatures `poai-tee` checks for the envelope's kind,
//! known from the decoded structure before any of them is checked.

use crate::error::Halt;
use crate::gas;
use poai_primitives::Nonce;
use poai_tee::{Attestation, Envelope, Freshness, MAX_ENVELOPE_LEN, TeeError, VerifyOptions};

/// Length of the nonce that ends a quote.
pub const NONCE_LEN: usize = 32;
/// Gas per 32-byte word of evidence (decoding, DER/CBOR/JSON parsing, hashing).
pub const EVIDENCE_PER_WORD_GAS: u64 = 40;
/// Gas per signature the verifier checks (ECDSA P-256/P-384 and the parsing around it).
pub const EVIDENCE_PER_SIGNATURE_GAS: u64 = 40_000;
/// Signatures an Intel DCAP quote with collateral costs at most: the quote, the QE report, the
/// PCK chain (2), the TCB info and QE identity and their signing chain (3), the two CRLs.
pub const DCAP_SIGNATURES: u64 = 10;
/// Signature units an AMD SEV-SNP report costs: the report (ECDSA P-384) and the VEK, ASK and
/// ARK certificates, of which the ASK and ARK signatures are RSA-4096-PSS. The bench measured
/// the whole at about twice four ECDSA verifications, so it counts as 8.
pub const SNP_SIGNATURES: u64 = 8;
/// Signatures an Arm CCA token costs: platform and realm tokens.
pub const CCA_SIGNATURES: u64 = 2;

/// Splits a quote into its envelope bytes and nonce, checking the envelope bound.
pub fn split_quote(quote: &[u8]) -> Result<(&[u8], Nonce), Halt> {
    let Some(env_len) = quote.len().checked_sub(NONCE_LEN) else {
        return Err(Halt::Truncated {
            field: "nonce",
            needed: NONCE_LEN,
            available: quote.len(),
        });
    };
    if env_len > MAX_ENVELOPE_LEN {
        return Err(Halt::TooLong {
            field: "tee_evidence",
            len: env_len,
            max: MAX_ENVELOPE_LEN,
        });
    }
    let (env, nonce) = quote.split_at_checked(env_len).ok_or(Halt::Truncated {
        field: "nonce",
        needed: NONCE_LEN,
        available: quote.len(),
    })?;
    let nonce = Nonce::from_slice(nonce).ok_or(Halt::Truncated {
        field: "nonce",
        needed: NONCE_LEN,
        available: nonce.len(),
    })?;
    Ok((env, nonce))
}

/// Decodes an envelope; a decoding error is malformed input.
pub fn decode(envelope: &[u8]) -> Result<Envelope, Halt> {
    Envelope::decode(envelope).map_err(|e| Halt::Evidence(e.to_string()))
}

/// An upper bound on the signatures `poai-tee` checks for this envelope.
pub fn signatures(env: &Envelope) -> u64 {
    match env {
        Envelope::None => 0,
        // Each certificate of the chain, and the SPDM measurement signature.
        Envelope::Nvidia { chain, .. } => {
            u64::try_from(chain.len()).map_or(u64::MAX, |n| n.saturating_add(1))
        }
        Envelope::Tdx { .. } | Envelope::Sgx { .. } => DCAP_SIGNATURES,
        Envelope::Snp { .. } => SNP_SIGNATURES,
        Envelope::Cca { .. } => CCA_SIGNATURES,
        Envelope::Composite { gpu, cpu } => signatures(gpu).saturating_add(signatures(cpu)),
    }
}

/// The gas for verifying evidence of `len` bytes with `sigs` signatures, on top of `base`.
pub fn gas(base: u64, len: usize, sigs: u64) -> u64 {
    gas::linear(base, EVIDENCE_PER_WORD_GAS, len)
        .saturating_add(EVIDENCE_PER_SIGNATURE_GAS.saturating_mul(sigs))
}

/// What the verifier needs besides the evidence.
#[derive(Debug, Clone)]
pub struct TeeConfig {
    /// Pinned roots (and registered CCA platform keys).
    pub trust_store: poai_tee::TrustStore,
    /// On-chain reference values for GPU measurements, if the chain sets them.
    pub gpu_reference: Option<poai_tee::GpuReference>,
}

impl Default for TeeConfig {
    fn default() -> Self {
        Self {
            trust_store: poai_tee::TrustStore::pinned(),
            gpu_reference: None,
        }
    }
}

/// Verifies decoded evidence for `nonce` at block time `at_unix` (the cold path: no cache
/// carries state between calls, so a call's cost and result depend on its input alone).
pub fn verify(
    env: &Envelope,
    nonce: Nonce,
    at_unix: u64,
    config: &TeeConfig,
) -> Result<Attestation, TeeError> {
    let opts = VerifyOptions {
        freshness: Freshness::Nonce(nonce),
        at_unix,
        reference: config.gpu_reference.clone(),
    };
    poai_tee::Verifier::new(config.trust_store.clone()).verify_envelope(env, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_quote_takes_the_last_32_bytes_as_nonce() {
        let mut q = vec![0xEE; 10];
        q.extend_from_slice(&[0x11; 32]);
        let (env, nonce) = split_quote(&q).unwrap();
        assert_eq!(env, &[0xEE; 10]);
        assert_eq!(nonce, Nonce([0x11; 32]));
        assert!(matches!(
            split_quote(&[0u8; 31]),
            Err(Halt::Truncated { field: "nonce", .. })
        ));
        let big = vec![0u8; MAX_ENVELOPE_LEN + 33];
        assert!(matches!(
            split_quote(&big),
            Err(Halt::TooLong {
                field: "tee_evidence",
                ..
            })
        ));
    }

    #[test]
    fn signature_bounds_per_kind() {
        assert_eq!(signatures(&Envelope::None), 0);
        let nv = Envelope::Nvidia {
            spdm: vec![1],
            chain: vec![vec![1]; 5],
        };
        assert_eq!(signatures(&nv), 6);
        let cca = Envelope::Cca { token: vec![1] };
        assert_eq!(signatures(&cca), CCA_SIGNATURES);
        let comp = Envelope::Composite {
            gpu: Box::new(nv),
            cpu: Box::new(cca),
        };
        assert_eq!(signatures(&comp), 6 + CCA_SIGNATURES);
        assert_eq!(
            gas(5_000, 64, 2),
            5_000 + 2 * EVIDENCE_PER_WORD_GAS + 2 * EVIDENCE_PER_SIGNATURE_GAS
        );
    }

    #[test]
    fn malformed_envelope_is_a_halt() {
        assert!(matches!(decode(b"nope"), Err(Halt::Evidence(_))));
        let none = Envelope::None.encode().unwrap();
        assert_eq!(decode(&none).unwrap(), Envelope::None);
    }
}
