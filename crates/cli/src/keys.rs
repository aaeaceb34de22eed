//! `poai keys new|show`.

use crate::{Output, to_json};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use poai_crypto::keyfile;
use poai_crypto::{ParamSet, SigningKey};
use serde::Serialize;
use std::path::PathBuf;

/// Key-file commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new ML-DSA key and write it to a file created with mode 0600.
    New(NewArgs),
    /// Show the public key of a key file (never the secret).
    Show(ShowArgs),
}

/// `poai keys new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Where to write the key file.
    #[arg(long, short, default_value = "poai.key")]
    pub out: PathBuf,
    /// Parameter set: 44, 65 or 87 (ML-DSA-65 unless told otherwise).
    #[arg(long, default_value = "65", value_parser = parse_param_set)]
    pub param_set: ParamSet,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `poai keys show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The key file.
    #[arg(long, short, default_value = "poai.key")]
    pub key: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_param_set(s: &str) -> Result<ParamSet, String> {
    s.parse()
        .map_err(|e: poai_crypto::MlDsaError| e.to_string())
}

#[derive(Serialize)]
struct KeyInfo {
    path: String,
    param_set: &'static str,
    param_set_id: u8,
    fingerprint: String,
    public_key: String,
}

fn info(path: &std::path::Path, key: &poai_crypto::VerifyingKey) -> KeyInfo {
    KeyInfo {
        path: path.display().to_string(),
        param_set: key.param_set().name(),
        param_set_id: key.param_set().id(),
        fingerprint: key.fingerprint(),
        public_key: hex::encode(key.as_bytes()),
    }
}

/// Runs a key command.
pub fn run(cmd: KeysCommand) -> anyhow::Result<Output> {
    match cmd {
        KeysCommand::New(a) => {
            let key = SigningKey::generate(a.param_set).context("generating the key")?;
            keyfile::write(&a.out, &key, a.force)?;
            let i = info(&a.out, key.verifying_key());
            Ok(Output::ok(if a.json {
                to_json(&i)?
            } else {
                format!(
                    "wrote {} key to {} (mode 0600)\nfingerprint {}\n",
                    i.param_set, i.path, i.fingerprint
                )
            }))
        }
        KeysCommand::Show(a) => {
            let public = keyfile::read_public(&a.key)?;
            let i = info(&a.key, &public.key);
            Ok(Output::ok(if a.json {
                to_json(&i)?
            } else {
                format!(
                    "key file     {}\nparam set    {} (0x{:02x})\nfingerprint  {}\npublic key   {}\n",
                    i.path, i.param_set, i.param_set_id, i.fingerprint, i.public_key
                )
            }))
        }
    }
}
