//! The verifier and its warm caches.
//!
//! A chain or collateral that verified once is remembered by the BLAKE3 hash of its bytes, with
//! what it proved (device key, validity windows, TCB facts), so a device seen before costs one
//! report signature. The caches sit behind a `Mutex` (interior mutability: `verify` takes
//! `&self` and the verifier can be shared between threads); the lock is held only to look up or
//! insert, never during signature verification. Each cache holds at most
//! [`MAX_CACHE_ENTRIES`] entries and is cleared when full, which keeps memory bounded and the
//! behaviour simple. A cache hit never changes a verdict: every time-dependent check is repeated
//! against the stored windows, and when the time falls outside a stored window the cold path
//! runs again and names the failure.

use crate::attestation::{Attestation, Deduction, Facts, score};
use crate::envelope::{Envelope, EvidenceKind};
use crate::error::TeeError;
use crate::freshness::{Freshness, composite_report_data};
use crate::nvidia::{self, GpuChain, GpuReference};
use crate::trust::TrustStore;
use crate::{cca, intel, snp};
use poai_primitives::PrivacyLevel;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Most entries per cache.
pub const MAX_CACHE_ENTRIES: usize = 4096;

/// What a verification is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The freshness the evidence must prove.
    pub freshness: Freshness,
    /// Verification time (the block time), Unix seconds. Never the clock.
    pub at_unix: u64,
    /// Reference values for GPU measurements, if any.
    pub reference: Option<GpuReference>,
}

#[derive(Default)]
struct Caches {
    gpu: HashMap<[u8; 32], GpuChain>,
    snp: HashMap<[u8; 32], snp::SnpChain>,
    dcap: HashMap<[u8; 32], intel::DcapEntry>,
}

fn insert_bounded<V>(map: &mut HashMap<[u8; 32], V>, key: [u8; 32], value: V) {
    if map.len() >= MAX_CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

/// Cache sizes, for tests and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Verified GPU device chains.
    pub gpu_chains: usize,
    /// Verified SNP VEK chains.
    pub snp_chains: usize,
    /// Verified DCAP collateral and PCK/QE data.
    pub dcap: usize,
}

/// Verifies evidence against a trust store, keeping warm caches.
pub struct Verifier {
    store: TrustStore,
    caches: Mutex<Caches>,
}

impl Verifier {
    /// A verifier with empty caches.
    pub fn new(store: TrustStore) -> Self {
        Self {
            store,
            caches: Mutex::new(Caches::default()),
        }
    }

    /// The trust store.
    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    /// Current cache sizes.
    pub fn cache_stats(&self) -> CacheStats {
        let c = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        CacheStats {
            gpu_chains: c.gpu.len(),
            snp_chains: c.snp.len(),
            dcap: c.dcap.len(),
        }
    }

    /// Empties the caches.
    pub fn clear_caches(&self) {
        *self.caches.lock().unwrap_or_else(PoisonError::into_inner) = Caches::default();
    }

    fn with_caches<T>(&self, f: impl FnOnce(&mut Caches) -> T) -> T {
        f(&mut self.caches.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Decodes and verifies an envelope.
    pub fn verify(&self, evidence: &[u8], opts: &VerifyOptions) -> Result<Attestation, TeeError> {
        let env = Envelope::decode(evidence)?;
        self.verify_envelope(&env, opts)
    }

    /// Verifies decoded evidence.
    pub fn verify_envelope(
        &self,
        env: &Envelope,
        opts: &VerifyOptions,
    ) -> Result<Attestation, TeeError> {
        match env {
            Envelope::None => Ok(Attestation::soft()),
            Envelope::Nvidia { spdm, chain } => self.nvidia(spdm, chain, opts),
            Envelope::Tdx { quote, collateral } => {
                self.dcap(EvidenceKind::Tdx, quote, collateral, opts)
            }
            Envelope::Sgx { quote, collateral } => {
                self.dcap(EvidenceKind::Sgx, quote, collateral, opts)
            }
            Envelope::Snp { report, vek, ca } => self.snp(report, vek, ca.as_ref(), opts),
            Envelope::Cca { token } => cca::verify(token, &self.store, &opts.freshness),
            Envelope::Composite { gpu, cpu } => self.composite(gpu, cpu, opts),
        }
    }

    fn nvidia(
        &self,
        spdm: &[u8],
        chain: &[Vec<u8>],
        opts: &VerifyOptions,
    ) -> Result<Attestation, TeeError> {
        let mut h = blake3::Hasher::new();
        h.update(b"poai/tee/gpu-cache");
        for c in chain {
            h.update(&u64::try_from(c.len()).unwrap_or(u64::MAX).to_be_bytes());
            h.update(c);
        }
        let key = *h.finalize().as_bytes();
        let cached = self.with_caches(|c| c.gpu.get(&key).cloned());
        let gpu = match cached {
            Some(g) => g,
            None => {
                let g = nvidia::verify_gpu_chain(chain, &self.store.nvidia_root)?;
                self.with_caches(|c| insert_bounded(&mut c.gpu, key, g.clone()));
                g
            }
        };
        nvidia::verify_report(
            spdm,
            &gpu,
            &opts.freshness,
            opts.at_unix,
            opts.reference.as_ref(),
        )
    }

    fn dcap(
        &self,
        kind: EvidenceKind,
        quote: &[u8],
        collateral: &[u8],
        opts: &VerifyOptions,
    ) -> Result<Attestation, TeeError> {
        let parsed = intel::parse_quote(kind, quote)?;
        let key = parsed.warm_key(quote, collateral);
        if let Some(entry) = self.with_caches(|c| c.dcap.get(&key).cloned())
            && let Some(att) =
                intel::verify_warm(kind, &parsed, quote, &entry, &opts.freshness, opts.at_unix)?
        {
            return Ok(att);
        }
        let (_, entry) = intel::verify_cold(
            kind,
            quote,
            collateral,
            &opts.freshness,
            opts.at_unix,
            &self.store.intel_root,
        )?;
        let mut att = entry.attestation_clone();
        att.facts.freshness = hex::encode(parsed.report_data);
        self.with_caches(|c| insert_bounded(&mut c.dcap, key, entry));
        Ok(att)
    }

    fn snp(
        &self,
        report: &[u8],
        vek: &[u8],
        ca: Option<&(Vec<u8>, Vec<u8>)>,
        opts: &VerifyOptions,
    ) -> Result<Attestation, TeeError> {
        let ca = ca.map(|(a, b)| (a.as_slice(), b.as_slice()));
        let key = snp::chain_key(vek, ca);
        let cached = self.with_caches(|c| c.snp.get(&key).cloned());
        let chain = match cached {
            Some(ch) => ch,
            None => {
                // Parse the report first so that garbage costs no RSA verification.
                snp::parse_report(report)?;
                let ch = snp::verify_chain(vek, ca, &self.store)?;
                self.with_caches(|c| insert_bounded(&mut c.snp, key, ch.clone()));
                ch
            }
        };
        snp::verify_report(report, &chain, &opts.freshness, opts.at_unix)
    }

    fn composite(
        &self,
        gpu: &Envelope,
        cpu: &Envelope,
        opts: &VerifyOptions,
    ) -> Result<Attestation, TeeError> {
        let Freshness::Nonce(nonce) = &opts.freshness else {
            return Err(TeeError::CompositeNeedsNonce);
        };
        let gpu_bytes = gpu.encode()?;
        let gpu_att = self.verify_envelope(gpu, opts)?;
        let cpu_opts = VerifyOptions {
            freshness: Freshness::ReportData(composite_report_data(nonce, &gpu_bytes).to_vec()),
            at_unix: opts.at_unix,
            reference: None,
        };
        let cpu_att = self.verify_envelope(cpu, &cpu_opts).map_err(|e| match e {
            TeeError::NonceMismatch { .. } | TeeError::FreshnessLength { .. } => {
                TeeError::CompositeNotBound
            }
            other => other,
        })?;
        let blackwell = gpu_att.facts.architecture.starts_with("blackwell");
        let tier = if blackwell {
            PrivacyLevel::Sovereign
        } else {
            PrivacyLevel::Confidential
        };
        let deductions: Vec<Deduction> = gpu_att
            .facts
            .deductions
            .iter()
            .map(|d| Deduction::new(format!("gpu: {}", d.reason), d.points))
            .chain(
                cpu_att
                    .facts
                    .deductions
                    .iter()
                    .map(|d| Deduction::new(format!("cpu: {}", d.reason), d.points)),
            )
            .collect();
        let facts = Facts {
            architecture: format!(
                "{} + {}",
                gpu_att.facts.architecture, cpu_att.facts.architecture
            ),
            tcb_status: cpu_att.facts.tcb_status.clone(),
            freshness: cpu_att.facts.freshness.clone(),
            reference_checked: gpu_att.facts.reference_checked,
            revocation_checked: gpu_att.facts.revocation_checked
                && cpu_att.facts.revocation_checked,
            deductions,
            gpu: Some(Box::new(gpu_att.clone())),
            cpu: Some(Box::new(cpu_att)),
            ..Facts::default()
        };
        Ok(Attestation {
            kind: EvidenceKind::Composite,
            tier,
            trust_score: score(tier, &facts.deductions),
            device_id: gpu_att.device_id,
            facts,
        })
    }
}

impl intel::DcapEntry {
    fn attestation_clone(&self) -> Attestation {
        self.attestation().clone()
    }
}
