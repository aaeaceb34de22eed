//! The node's batch signature verifier: the CPU path or the GPU batch verifier of `poai-gpu`
//! (issue 8), chosen by `--verify-backend cpu|gpu|auto`.
//!
//! Both give the same result for every item (poai-gpu's differential tests hold them to each
//! other on Wycheproof, random and mutated signatures), so the choice is a node-local speed
//! setting, never a consensus one.

use anyhow::{Context, Result};
use poai_chain::{Machine, SignatureVerifier};
use poai_crypto::{BatchItem, MlDsaError};
use poai_gpu::{ActiveBackend, Backend, Verifier};
use std::sync::Arc;

/// [`SignatureVerifier`] over a `poai_gpu::Verifier`.
#[derive(Debug)]
pub struct GpuSignatures(Verifier);

impl SignatureVerifier for GpuSignatures {
    fn verify_batch(&self, items: &[BatchItem<'_>]) -> Vec<Result<bool, MlDsaError>> {
        self.0.verify(items)
    }
}

/// The chosen verifier: `None` for the CPU path (the machine's default, on rayon's global
/// pool), and a label of what runs ("cpu", or "cuda (NVIDIA H200)").
pub type Chosen = (Option<Arc<dyn SignatureVerifier>>, String);

/// The verifier for `backend`. Says on stderr what was chosen and, where `auto` fell back, why.
pub fn signature_verifier(backend: Backend) -> Result<Chosen> {
    if backend == Backend::Cpu {
        return Ok((None, "cpu".to_owned()));
    }
    let v = Verifier::new(backend, 0)
        .with_context(|| format!("--verify-backend {backend}: no usable GPU"))?;
    match v.active() {
        ActiveBackend::Cpu => {
            if let Some(why) = v.fallback_reason() {
                eprintln!("signatures: verified on the CPU ({why})");
            }
            Ok((None, "cpu".to_owned()))
        }
        active => {
            let label = format!("{active} ({})", v.device_name().unwrap_or("unknown device"));
            eprintln!("signatures: batches verified on {label}");
            Ok((Some(Arc::new(GpuSignatures(v))), label))
        }
    }
}

/// `machine` with the verifier for `backend` installed, and the label of what runs.
pub fn with_backend(machine: Machine, backend: Backend) -> Result<(Machine, String)> {
    let (v, label) = signature_verifier(backend)?;
    Ok((
        match v {
            Some(v) => machine.with_signature_verifier(v),
            None => machine,
        },
        label,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_backend_installs_nothing() {
        let (v, label) = signature_verifier(Backend::Cpu).unwrap();
        assert!(v.is_none());
        assert_eq!(label, "cpu");
    }

    #[test]
    fn auto_backend_always_gives_a_machine() {
        // With or without a GPU, auto never fails; without one it is the CPU path.
        let (_machine, label) = with_backend(Machine::new(), Backend::Auto).unwrap();
        assert!(label == "cpu" || label.starts_with("cuda"), "{label}");
    }
}
