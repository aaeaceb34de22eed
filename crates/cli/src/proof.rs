//! `poai proof build|decode|sign|verify`: LP-130 work proofs (SPEC section 2).
//!
//! A signature covers `"poai/work/v1" ‖ u64be(chain_id) ‖ beneficiary ‖ proof bytes`, so the
//! same proof signed for one chain or beneficiary does not verify for another.

use crate::keys::parse_param_set;
use crate::{Output, to_json};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use poai_crypto::{ParamSet, keyfile, proof_work_id};
use poai_primitives::{Address, ChainId, DeviceId, Nonce, PrivacyLevel, WorkProof, hexfmt};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Work-proof commands.
#[derive(Debug, Subcommand)]
pub enum ProofCommand {
    /// Build a work proof from its fields and print its bytes and work id.
    Build(BuildArgs),
    /// Decode a work proof and print its fields.
    Decode(DecodeArgs),
    /// Sign a work proof for a chain and beneficiary with an ML-DSA key file.
    Sign(SignArgs),
    /// Verify a signed work proof.
    Verify(VerifyArgs),
}

/// `poai proof build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Device id: 32 bytes hex (the attested hardware identity).
    #[arg(long)]
    pub device: DeviceId,
    /// Nonce: 32 bytes hex; random when omitted.
    #[arg(long)]
    pub nonce: Option<Nonce>,
    /// Unix seconds; now when omitted.
    #[arg(long)]
    pub timestamp: Option<u64>,
    /// Privacy level 1..=4 (Public, Private, Confidential, Sovereign).
    #[arg(long, value_parser = parse_level)]
    pub privacy: PrivacyLevel,
    /// Compute minutes (at most 60 are accepted on chain).
    #[arg(long)]
    pub minutes: u32,
    /// A TEE evidence envelope file to append (at most 64 KiB).
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// Chain whose work id to print.
    #[arg(long, default_value_t = ChainId::LUX_C_CHAIN.0)]
    pub chain_id: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `poai proof decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The proof, hex.
    #[arg(long)]
    pub proof: String,
    /// Chain whose work id to print.
    #[arg(long, default_value_t = ChainId::LUX_C_CHAIN.0)]
    pub chain_id: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `poai proof sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The ML-DSA key file.
    #[arg(long, short, default_value = "poai.key")]
    pub key: PathBuf,
    /// The proof, hex.
    #[arg(long)]
    pub proof: String,
    /// The chain that will mint it.
    #[arg(long)]
    pub chain_id: u64,
    /// Who is paid: a 20-byte address, hex.
    #[arg(long)]
    pub beneficiary: Address,
    /// Deterministic signing (rnd = 0) instead of hedged.
    #[arg(long)]
    pub deterministic: bool,
    /// Print JSON (which `poai proof verify --signed` reads).
    #[arg(long)]
    pub json: bool,
}

/// `poai proof verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A JSON file written by `poai proof sign --json`.
    #[arg(long, conflicts_with_all = ["proof", "signature", "public_key", "key", "chain_id", "beneficiary"])]
    pub signed: Option<PathBuf>,
    /// The proof, hex.
    #[arg(long, requires_all = ["signature", "chain_id", "beneficiary"])]
    pub proof: Option<String>,
    /// The signature, hex.
    #[arg(long)]
    pub signature: Option<String>,
    /// The signer's public key, hex (with --param-set); or --key.
    #[arg(long, conflicts_with = "key")]
    pub public_key: Option<String>,
    /// Parameter set of --public-key: 44, 65 or 87.
    #[arg(long, default_value = "65", value_parser = parse_param_set)]
    pub param_set: ParamSet,
    /// Read the public key from a key file.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The chain id the proof was signed for.
    #[arg(long)]
    pub chain_id: Option<u64>,
    /// The beneficiary it was signed for.
    #[arg(long)]
    pub beneficiary: Option<Address>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_level(s: &str) -> Result<PrivacyLevel, String> {
    let v: u16 = match s.to_ascii_lowercase().as_str() {
        "public" => 1,
        "private" => 2,
        "confidential" => 3,
        "sovereign" => 4,
        n => n
            .parse()
            .map_err(|_| format!("`{s}` is not a privacy level"))?,
    };
    PrivacyLevel::try_from(v).map_err(|e| e.to_string())
}

/// A decoded proof, for display.
#[derive(Serialize)]
struct ProofView {
    proof: String,
    work_id: String,
    chain_id: u64,
    fields: WorkProof,
}

fn view(proof: &WorkProof, chain: ChainId) -> ProofView {
    ProofView {
        proof: hex::encode(proof.encode()),
        work_id: proof_work_id(proof, chain).to_string(),
        chain_id: chain.0,
        fields: proof.clone(),
    }
}

fn render(v: &ProofView) -> String {
    let f = &v.fields;
    format!(
        "device_id        {}\nnonce            {}\ntimestamp        {}\nprivacy_level    {}\ncompute_minutes  {}\nevidence         {} bytes\nwork_id          {} (chain {})\nproof            {}\n",
        f.device_id,
        f.nonce,
        f.timestamp,
        f.privacy_level,
        f.compute_minutes,
        f.tee_evidence.len(),
        v.work_id,
        v.chain_id,
        v.proof
    )
}

/// What `poai proof sign --json` writes and `poai proof verify --signed` reads.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedProof {
    /// Chain the signature is for.
    pub chain_id: u64,
    /// Beneficiary the signature is for.
    pub beneficiary: Address,
    /// FIPS 204 name of the parameter set.
    pub param_set: String,
    /// Signer's public key, hex.
    pub public_key: String,
    /// The proof, hex.
    pub proof: String,
    /// Its work id on `chain_id`.
    pub work_id: String,
    /// ML-DSA signature, hex.
    pub signature: String,
}

#[derive(Serialize)]
struct Verdict {
    valid: bool,
    param_set: &'static str,
    chain_id: u64,
    beneficiary: Address,
    work_id: String,
}

fn decode_proof(hex: &str) -> anyhow::Result<WorkProof> {
    let bytes = hexfmt::decode(hex).context("--proof")?;
    Ok(WorkProof::decode(&bytes)?)
}

/// Runs a proof command.
pub fn run(cmd: ProofCommand) -> anyhow::Result<Output> {
    match cmd {
        ProofCommand::Build(a) => {
            let nonce = match a.nonce {
                Some(n) => n,
                None => {
                    let mut n = [0u8; 32];
                    getrandom::fill(&mut n).map_err(|e| anyhow::anyhow!("random nonce: {e}"))?;
                    Nonce(n)
                }
            };
            let timestamp = match a.timestamp {
                Some(t) => t,
                None => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs(),
            };
            let tee_evidence = match &a.evidence {
                Some(p) => {
                    std::fs::read(p).with_context(|| format!("--evidence {}", p.display()))?
                }
                None => Vec::new(),
            };
            let proof = WorkProof {
                device_id: a.device,
                nonce,
                timestamp,
                privacy_level: a.privacy,
                compute_minutes: a.minutes,
                tee_evidence,
            };
            proof.validate()?;
            let v = view(&proof, ChainId(a.chain_id));
            Ok(Output::ok(if a.json { to_json(&v)? } else { render(&v) }))
        }
        ProofCommand::Decode(a) => {
            let v = view(&decode_proof(&a.proof)?, ChainId(a.chain_id));
            Ok(Output::ok(if a.json { to_json(&v)? } else { render(&v) }))
        }
        ProofCommand::Sign(a) => {
            let proof = decode_proof(&a.proof)?;
            let key = keyfile::read(&a.key)?;
            let chain = ChainId(a.chain_id);
            let bytes = proof.encode();
            let msg = poai_primitives::signed_message(chain, &a.beneficiary, &bytes);
            let sig = if a.deterministic {
                key.sign_deterministic(&msg, b"")?
            } else {
                key.sign(&msg, b"")?
            };
            let signed = SignedProof {
                chain_id: chain.0,
                beneficiary: a.beneficiary,
                param_set: key.param_set().name().to_owned(),
                public_key: hex::encode(key.verifying_key().as_bytes()),
                proof: hex::encode(&bytes),
                work_id: proof_work_id(&proof, chain).to_string(),
                signature: hex::encode(&sig),
            };
            Ok(Output::ok(if a.json {
                to_json(&signed)?
            } else {
                format!("{}\n", signed.signature)
            }))
        }
        ProofCommand::Verify(a) => verify(a),
    }
}

fn verify(a: VerifyArgs) -> anyhow::Result<Output> {
    let signed = match &a.signed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--signed {}", path.display()))?;
            serde_json::from_str::<SignedProof>(&text)
                .with_context(|| format!("--signed {}", path.display()))?
        }
        None => {
            let (Some(proof), Some(signature), Some(chain_id), Some(beneficiary)) =
                (a.proof, a.signature, a.chain_id, a.beneficiary)
            else {
                bail!("give --signed FILE, or --proof, --signature, --chain-id and --beneficiary");
            };
            let (param_set, public_key) = match (&a.public_key, &a.key) {
                (Some(pk), None) => (a.param_set, pk.clone()),
                (None, Some(path)) => {
                    let k = keyfile::read_public(path)?.key;
                    (k.param_set(), hex::encode(k.as_bytes()))
                }
                _ => bail!("give --public-key HEX (with --param-set) or --key FILE"),
            };
            SignedProof {
                chain_id,
                beneficiary,
                param_set: param_set.name().to_owned(),
                public_key,
                proof,
                work_id: String::new(),
                signature,
            }
        }
    };
    let param: ParamSet = signed.param_set.parse()?;
    let proof = decode_proof(&signed.proof)?;
    let pk = hexfmt::decode(&signed.public_key).context("public_key")?;
    let sig = hexfmt::decode(&signed.signature).context("signature")?;
    let chain = ChainId(signed.chain_id);
    let msg = poai_primitives::signed_message(chain, &signed.beneficiary, &proof.encode());
    let valid = poai_crypto::verify(param, &pk, &msg, b"", &sig)?;
    let verdict = Verdict {
        valid,
        param_set: param.name(),
        chain_id: chain.0,
        beneficiary: signed.beneficiary,
        work_id: proof_work_id(&proof, chain).to_string(),
    };
    let text = if a.json {
        to_json(&verdict)?
    } else if valid {
        format!(
            "valid: {} signature for chain {} and beneficiary {}\n",
            verdict.param_set, verdict.chain_id, verdict.beneficiary
        )
    } else {
        "INVALID: the signature does not verify for this proof, chain and beneficiary\n".into()
    };
    Ok(Output {
        text,
        success: valid,
    })
}
