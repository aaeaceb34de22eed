//! TEE evidence verification for poai (SPEC section 5): decides, offline and deterministically,
//! whether evidence is genuine, fresh for a nonce, and which tier and trust score it proves.
//! The VerifyTEE and NV_TRUST precompiles and the A-chain's device registration call it.
//!
//! | module | evidence | verified by |
//! |---|---|---|
//! | [`envelope`] | the versioned evidence container (≤ 64 KiB) | this crate |
//! | [`nvidia`] | NVIDIA SPDM 1.1 measurements, 5-certificate P-384 chain | this crate (aws-lc-rs) |
//! | [`intel`] | Intel TDX/SGX DCAP quotes v3–v5 with collateral | dcap-qvl + this crate |
//! | [`snp`] | AMD SEV-SNP reports with VCEK/VLEK | sev + this crate (aws-lc-rs) |
//! | [`cca`] | Arm CCA tokens (CBOR/COSE) | coset + this crate (aws-lc-rs) |
//! | [`freshness`] | nonce binding, composite binding | BLAKE3 |
//! | [`attestation`] | tiers, trust score bands and deductions | |
//!
//! Entry points: [`verify`] (one-shot, cold) and [`Verifier`] (keeps warm caches). Time is
//! always an input ([`VerifyOptions::at_unix`], the block time); nothing here reads the clock,
//! the network or the file system. Roots are pinned ([`TrustStore::pinned`]); the `test-pki`
//! feature adds a synthetic PKI for tests and benches and is refused by release builds.

#![deny(clippy::indexing_slicing, clippy::panic)]

#[cfg(all(feature = "test-pki", not(debug_assertions)))]
compile_error!(
    "the `test-pki` feature makes synthetic evidence that the test roots accept: it must never be \
     enabled in a release build"
);

pub mod attestation;
pub mod cca;
pub mod envelope;
pub mod error;
pub mod freshness;
pub mod intel;
pub mod nvidia;
pub mod snp;
pub mod trust;
mod verifier;
pub mod x509;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "test-pki")]
pub mod testpki;

pub use attestation::{Attestation, Deduction, Facts};
pub use envelope::{Envelope, EvidenceKind, MAX_ENVELOPE_LEN};
pub use error::TeeError;
pub use freshness::{Freshness, composite_report_data, expected_freshness};
pub use nvidia::GpuReference;
pub use trust::TrustStore;
pub use verifier::{CacheStats, MAX_CACHE_ENTRIES, Verifier, VerifyOptions};

/// Verifies an encoded envelope with fresh caches (the cold path). Use a [`Verifier`] to keep
/// verified chains and collateral between calls.
pub fn verify(
    evidence: &[u8],
    opts: &VerifyOptions,
    store: &TrustStore,
) -> Result<Attestation, TeeError> {
    Verifier::new(store.clone()).verify(evidence, opts)
}
