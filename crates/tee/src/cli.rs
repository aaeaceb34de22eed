//! `poai tee`: verify evidence and build envelopes from vendor files (feature `cli`; the poai
//! binary wires [`TeeCommand`] in as its `tee` subcommand and prints what [`run`] returns).
//!
//! ```text
//! poai tee verify --evidence FILE [--chain FILE] [--collateral FILE] [--reference FILE]
//!                 [--kind nvidia|tdx|sgx|snp|cca|envelope] (--nonce HEX | --report-data HEX)
//!                 --at UNIX_SECONDS [--json]
//! poai tee envelope --kind nvidia|tdx|sgx|snp|cca|none --evidence FILE [--chain FILE]
//!                   [--collateral FILE] --out FILE
//! poai tee envelope --kind composite --gpu ENVELOPE --cpu ENVELOPE --out FILE
//! ```
//!
//! Vendor files as the vendors ship them: NVIDIA reports as hex text and chains as PEM; DCAP
//! quotes binary with dcap-qvl JSON collateral; SNP reports binary or hex with the VCEK (DER or
//! PEM; a PEM file may add the ASK and ARK after it); CCA tokens as CBOR with `--chain` naming
//! the platform key JSON (one JWK, or a veraison trust-anchor list) to register.
//!
//! A rejection is an `Err(CliError::Rejected)` whose display is the full report (JSON with
//! `--json`), so the caller prints it and exits non-zero.

use crate::{
    Attestation, Envelope, Freshness, GpuReference, TeeError, TrustStore, VerifyOptions,
    x509::pem_to_der_chain,
};
use clap::{Args, Subcommand, ValueEnum};
use poai_primitives::Nonce;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// `poai tee` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum TeeCommand {
    /// Verify evidence offline and print verdict, tier, score, device id and reason.
    Verify(VerifyArgs),
    /// Wrap vendor evidence files into a poai evidence envelope.
    Envelope(EnvelopeArgs),
}

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// An encoded poai envelope.
    Envelope,
    /// NVIDIA SPDM report (hex) with `--chain` PEM.
    Nvidia,
    /// Intel TDX quote with `--collateral` JSON.
    Tdx,
    /// Intel SGX quote with `--collateral` JSON.
    Sgx,
    /// AMD SEV-SNP report with `--chain` VCEK/VLEK.
    Snp,
    /// Arm CCA token with `--chain` platform key JSON.
    Cca,
    /// Soft attestation (envelope only).
    None,
    /// GPU and CPU envelopes (envelope only, with `--gpu` and `--cpu`).
    Composite,
}

/// `poai tee verify` arguments.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Evidence file.
    #[arg(long)]
    pub evidence: PathBuf,
    /// Certificate chain (NVIDIA PEM, SNP VEK) or CCA platform key JSON.
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// DCAP collateral JSON.
    #[arg(long)]
    pub collateral: Option<PathBuf>,
    /// GPU reference values JSON (`GpuReference`).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// How to read `--evidence`.
    #[arg(long, value_enum, default_value_t = KindArg::Envelope)]
    pub kind: KindArg,
    /// 32-byte nonce (hex): the freshness field must carry its SPEC binding.
    #[arg(
        long,
        conflicts_with = "report_data",
        required_unless_present = "report_data"
    )]
    pub nonce: Option<String>,
    /// Raw mode: the freshness field must equal these bytes (hex).
    #[arg(long)]
    pub report_data: Option<String>,
    /// Verification time, Unix seconds.
    #[arg(long)]
    pub at: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `poai tee envelope` arguments.
#[derive(Debug, Clone, Args)]
pub struct EnvelopeArgs {
    /// Evidence kind.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// Vendor evidence file.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// Certificate chain (NVIDIA PEM, SNP VEK).
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// DCAP collateral JSON.
    #[arg(long)]
    pub collateral: Option<PathBuf>,
    /// GPU envelope (composite).
    #[arg(long)]
    pub gpu: Option<PathBuf>,
    /// CPU envelope (composite).
    #[arg(long)]
    pub cpu: Option<PathBuf>,
    /// Where to write the envelope.
    #[arg(long)]
    pub out: PathBuf,
}

/// Why the command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Bad arguments or input files.
    #[error("{0}")]
    Usage(String),
    /// The evidence was rejected; the display is the printable report.
    #[error("{output}")]
    Rejected {
        /// The report to print.
        output: String,
        /// The rejection.
        error: TeeError,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

fn need<'a>(p: &'a Option<PathBuf>, flag: &str, kind: &str) -> Result<&'a Path, CliError> {
    p.as_deref()
        .ok_or_else(|| CliError::Usage(format!("--kind {kind} needs {flag}")))
}

/// Hex text (whitespace ignored, optional 0x) if the file is that, else the bytes as they are.
fn hex_or_binary(bytes: Vec<u8>) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bytes;
    };
    let compact: String = text.split_whitespace().collect();
    let compact = compact.trim_start_matches("0x");
    match hex::decode(compact) {
        Ok(b) if !b.is_empty() => b,
        _ => bytes,
    }
}

fn parse_hex(s: &str, what: &str) -> Result<Vec<u8>, CliError> {
    hex::decode(s.trim().trim_start_matches("0x"))
        .map_err(|e| CliError::Usage(format!("{what}: {e}")))
}

fn certs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CliError> {
    if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        pem_to_der_chain(bytes).map_err(|e| CliError::Usage(e.to_string()))
    } else {
        Ok(vec![bytes.to_vec()])
    }
}

/// Builds an envelope from vendor files.
fn build(
    kind: KindArg,
    evidence: Option<&Path>,
    chain: &Option<PathBuf>,
    collateral: &Option<PathBuf>,
) -> Result<Envelope, CliError> {
    let ev = |k: &str| -> Result<Vec<u8>, CliError> {
        read(evidence.ok_or_else(|| CliError::Usage(format!("--kind {k} needs --evidence")))?)
    };
    Ok(match kind {
        KindArg::Envelope => {
            Envelope::decode(&ev("envelope")?).map_err(|e| CliError::Usage(e.to_string()))?
        }
        KindArg::None => Envelope::None,
        KindArg::Nvidia => Envelope::Nvidia {
            spdm: hex_or_binary(ev("nvidia")?),
            chain: certs(&read(need(chain, "--chain", "nvidia")?)?)?,
        },
        KindArg::Tdx => Envelope::Tdx {
            quote: ev("tdx")?,
            collateral: read(need(collateral, "--collateral", "tdx")?)?,
        },
        KindArg::Sgx => Envelope::Sgx {
            quote: ev("sgx")?,
            collateral: read(need(collateral, "--collateral", "sgx")?)?,
        },
        KindArg::Snp => {
            let mut c = certs(&read(need(chain, "--chain", "snp")?)?)?.into_iter();
            let vek = c.next().unwrap_or_default();
            let ca = match (c.next(), c.next()) {
                (Some(ask), Some(ark)) => Some((ask, ark)),
                _ => None,
            };
            Envelope::Snp {
                report: hex_or_binary(ev("snp")?),
                vek,
                ca,
            }
        }
        KindArg::Cca => Envelope::Cca { token: ev("cca")? },
        KindArg::Composite => {
            return Err(CliError::Usage(
                "composite envelopes are built with `poai tee envelope --gpu --cpu`".into(),
            ));
        }
    })
}

#[derive(serde::Serialize)]
struct Report<'a> {
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier_name: Option<&'static str>,
    trust_score: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<String>,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attestation: Option<&'a Attestation>,
}

fn render(report: &Report<'_>, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(report).unwrap_or_else(|e| e.to_string());
    }
    let mut s = format!("verdict: {}\n", report.verdict);
    if let (Some(t), Some(n)) = (report.tier, report.tier_name) {
        s.push_str(&format!("tier: {t} ({n})\n"));
    }
    s.push_str(&format!("trust_score: {}\n", report.trust_score));
    if let Some(d) = &report.device_id {
        s.push_str(&format!("device_id: {d}\n"));
    }
    s.push_str(&format!("reason: {}\n", report.reason));
    s
}

fn verify_cmd(a: &VerifyArgs) -> Result<String, CliError> {
    let env = build(a.kind, Some(&a.evidence), &a.chain, &a.collateral)?;
    let mut store = TrustStore::pinned();
    if matches!(a.kind, KindArg::Cca | KindArg::Envelope)
        && let Some(path) = &a.chain
    {
        store
            .register_cca_json(&read(path)?)
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let freshness = match (&a.nonce, &a.report_data) {
        (Some(n), None) => {
            let b = parse_hex(n, "--nonce")?;
            let n = Nonce::from_slice(&b)
                .ok_or_else(|| CliError::Usage("--nonce must be 32 bytes".into()))?;
            Freshness::Nonce(n)
        }
        (None, Some(r)) => Freshness::ReportData(parse_hex(r, "--report-data")?),
        _ => {
            return Err(CliError::Usage(
                "give exactly one of --nonce and --report-data".into(),
            ));
        }
    };
    let reference = match &a.reference {
        Some(p) => Some(
            serde_json::from_slice::<GpuReference>(&read(p)?)
                .map_err(|e| CliError::Usage(format!("--reference: {e}")))?,
        ),
        None => None,
    };
    let opts = VerifyOptions {
        freshness,
        at_unix: a.at,
        reference,
    };
    match crate::Verifier::new(store).verify_envelope(&env, &opts) {
        Ok(att) => Ok(render(
            &Report {
                verdict: "valid",
                tier: Some(att.tier.as_u16()),
                tier_name: Some(att.tier.name()),
                trust_score: att.trust_score,
                device_id: Some(att.device_id.to_string()),
                reason: format!(
                    "{} evidence verified ({})",
                    att.kind, att.facts.architecture
                ),
                error: None,
                attestation: Some(&att),
            },
            a.json,
        )),
        Err(error) => Err(CliError::Rejected {
            output: render(
                &Report {
                    verdict: "rejected",
                    tier: None,
                    tier_name: None,
                    trust_score: 0,
                    device_id: None,
                    reason: error.to_string(),
                    error: Some(error.code()),
                    attestation: None,
                },
                a.json,
            ),
            error,
        }),
    }
}

fn envelope_cmd(a: &EnvelopeArgs) -> Result<String, CliError> {
    let env = if a.kind == KindArg::Composite {
        let part = |p: &Option<PathBuf>, flag: &str| -> Result<Envelope, CliError> {
            Envelope::decode(&read(need(p, flag, "composite")?)?)
                .map_err(|e| CliError::Usage(format!("{flag}: {e}")))
        };
        Envelope::Composite {
            gpu: Box::new(part(&a.gpu, "--gpu")?),
            cpu: Box::new(part(&a.cpu, "--cpu")?),
        }
    } else {
        build(a.kind, a.evidence.as_deref(), &a.chain, &a.collateral)?
    };
    let bytes = env.encode().map_err(|e| CliError::Usage(e.to_string()))?;
    std::fs::write(&a.out, &bytes).map_err(|source| CliError::Io {
        path: a.out.clone(),
        source,
    })?;
    Ok(format!(
        "wrote {} envelope, {} bytes, to {}\n",
        env.kind(),
        bytes.len(),
        a.out.display()
    ))
}

/// Runs a `poai tee` command and returns what to print.
pub fn run(cmd: TeeCommand) -> Result<String, CliError> {
    match cmd {
        TeeCommand::Verify(a) => verify_cmd(&a),
        TeeCommand::Envelope(a) => envelope_cmd(&a),
    }
}
