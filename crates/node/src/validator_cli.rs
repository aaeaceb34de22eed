//! `poai validator key|bond|add-stake|unbond|list`: validators of a multi-validator chain from
//! the command line (docs/DESIGN-consensus.md, section 2; [`poai_chain::validator`]). Writes are
//! signed account transactions sent over JSON-RPC and waited for, through the same client as
//! the AI VM commands ([`crate::ai_cli::AiClient`]); output is JSON.
//!
//! | command | does |
//! |---|---|
//! | `poai validator key --out FILE` | writes a new consensus key file (mode 0600), prints the public key hex |
//! | `poai validator bond --consensus-key FILE --stake N [--net-addr HOST:PORT] --key ACCOUNT_KEY` | `bond`, with the proof of possession signed by the consensus key |
//! | `poai validator add-stake (--consensus-key FILE \| --validator HEX) --amount N --key ACCOUNT_KEY` | `add_stake` |
//! | `poai validator unbond (--consensus-key FILE \| --validator HEX) --key ACCOUNT_KEY` | `unbond` |
//! | `poai validator list` | `poai_validators`: the set at the head and its epoch |
//!
//! All take `--rpc URL`. **Consensus key file format** (a contract with the consensus engine,
//! which loads the same file): the 32-byte ed25519 seed as 64 lowercase hex digits and a
//! newline, nothing else. It is created with mode 0600, never overwritten, and never printed.

use crate::ai_cli::{Conn, Signer, json, reader, rt, signer};
use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args, Subcommand};
use poai_chain::api::ValidatorsView;
use poai_chain::hash::Hash32;
use poai_chain::validator::{
    ValidatorOutcome, check_consensus_key, check_net_addr, consensus_public_key, sign_pop,
};
use poai_chain::{Call, Outcome, ValidatorCall};
use serde::Serialize;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// `poai validator …`.
#[derive(Debug, Subcommand)]
pub enum ValidatorCommand {
    /// Writes a new random ed25519 consensus key file (mode 0600); prints its public key.
    Key {
        /// Where to write it (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Bonds native coin behind a consensus key: the validator joins the set at the next epoch.
    Bond {
        /// Sender (the owner, paid its blocks' fees).
        #[command(flatten)]
        signer: Signer,
        /// The consensus key file (`poai validator key`).
        #[arg(long)]
        consensus_key: PathBuf,
        /// Stake, smallest unit.
        #[arg(long)]
        stake: u128,
        /// Where peers reach it, `host:port`.
        #[arg(long)]
        net_addr: Option<String>,
    },
    /// Adds stake to a validator you own.
    AddStake {
        /// Sender (the owner).
        #[command(flatten)]
        signer: Signer,
        /// The validator.
        #[command(flatten)]
        which: Which,
        /// Amount, smallest unit.
        #[arg(long)]
        amount: u128,
    },
    /// Unbonds a validator you own: it leaves the set at the next epoch; the stake returns
    /// `unbonding_epochs` epochs later.
    Unbond {
        /// Sender (the owner).
        #[command(flatten)]
        signer: Signer,
        /// The validator.
        #[command(flatten)]
        which: Which,
    },
    /// The validator set at the head and the head's epoch.
    List {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
    },
}

/// Which validator: its key file or its public key.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("validator_id").required(true).args(["consensus_key", "validator"])))]
pub struct Which {
    /// The consensus key file.
    #[arg(long)]
    pub consensus_key: Option<PathBuf>,
    /// The consensus public key, hex.
    #[arg(long)]
    pub validator: Option<Hash32>,
}

impl Which {
    fn public_key(&self) -> Result<[u8; 32]> {
        match (&self.consensus_key, &self.validator) {
            (Some(path), _) => Ok(consensus_public_key(&*read_key(path)?)),
            (None, Some(k)) => Ok(k.0),
            (None, None) => bail!("give --consensus-key FILE or --validator HEX"),
        }
    }
}

/// What a validator write did.
#[derive(Debug, Clone, Serialize)]
pub struct ValidatorSent {
    /// Transaction hash.
    pub tx_hash: Hash32,
    /// Including block.
    pub height: u64,
    /// Its effect.
    pub outcome: ValidatorOutcome,
}

/// Writes a new consensus key file at `path` (64 hex digits of a random seed and a newline,
/// mode 0600, refused if the file exists); returns the public key.
pub fn write_key(path: &Path) -> Result<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("no operating-system randomness: {e}"))?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(seed.as_slice())));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(consensus_public_key(&seed))
}

/// Reads a consensus key file: exactly 64 hex digits, an optional trailing newline. Refuses a
/// file that group or others can read.
pub fn read_key(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "consensus key file {} has mode {mode:o}; it must not be readable by group or others (chmod 600)",
                path.display()
            );
        }
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let body = text.strip_suffix('\n').unwrap_or(&text);
    if body.len() != 64 || !body.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "consensus key file {} must hold 64 hex digits (a 32-byte ed25519 seed) and a newline",
            path.display()
        );
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(body, seed.as_mut_slice())
        .with_context(|| format!("consensus key file {}", path.display()))?;
    Ok(seed)
}

async fn send(s: &Signer, call: ValidatorCall) -> Result<ValidatorSent> {
    let (tx_hash, height, outcome) = signer(s)?.send_call(Call::Validator(call)).await?;
    match outcome {
        Outcome::Validator(outcome) => Ok(ValidatorSent {
            tx_hash,
            height,
            outcome,
        }),
        other => bail!("transaction {tx_hash}: unexpected outcome {other:?}"),
    }
}

/// Runs a command; returns the text to print.
pub fn run(cmd: ValidatorCommand) -> Result<String> {
    rt()?.block_on(run_async(cmd))
}

/// [`run`] inside a runtime.
pub async fn run_async(cmd: ValidatorCommand) -> Result<String> {
    match cmd {
        ValidatorCommand::Key { out } => Ok(format!("{}\n", hex::encode(write_key(&out)?))),
        ValidatorCommand::Bond {
            signer: s,
            consensus_key,
            stake,
            net_addr,
        } => {
            let seed = read_key(&consensus_key)?;
            let key = consensus_public_key(&seed);
            check_consensus_key(&key).map_err(|e| anyhow::anyhow!("--consensus-key: {e}"))?;
            if let Some(a) = &net_addr {
                check_net_addr(a).map_err(|e| anyhow::anyhow!("--net-addr: {e}"))?;
            }
            let client = signer(&s)?;
            let pop = sign_pop(&seed, client.chain_id().await?, &client.address()?);
            json(
                &send(
                    &s,
                    ValidatorCall::Bond {
                        consensus_key: key,
                        stake,
                        net_addr,
                        pop,
                    },
                )
                .await?,
            )
        }
        ValidatorCommand::AddStake {
            signer: s,
            which,
            amount,
        } => json(
            &send(
                &s,
                ValidatorCall::AddStake {
                    consensus_key: which.public_key()?,
                    amount,
                },
            )
            .await?,
        ),
        ValidatorCommand::Unbond { signer: s, which } => json(
            &send(
                &s,
                ValidatorCall::Unbond {
                    consensus_key: which.public_key()?,
                },
            )
            .await?,
        ),
        ValidatorCommand::List { conn } => json(
            &reader(&conn)?
                .get::<ValidatorsView>("poai_validators", jsonrpsee::rpc_params![])
                .await?,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_64_hex_mode_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck");
        let public = write_key(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n'));
        let seed = read_key(&path).unwrap();
        assert_eq!(hex::encode(seed.as_slice()), text.trim_end());
        assert_eq!(consensus_public_key(&seed), public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(
                read_key(&path)
                    .unwrap_err()
                    .to_string()
                    .contains("chmod 600")
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        // Never overwritten.
        assert!(write_key(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        // Two keys differ (fresh randomness).
        assert_ne!(write_key(&dir.path().join("ck2")).unwrap(), public);
        // Anything but 64 hex digits is refused.
        for bad in [
            "abcd\n",
            &"g".repeat(64),
            &format!("{}\n\n", "a".repeat(64)),
        ] {
            let p = dir.path().join("bad");
            let _ = std::fs::remove_file(&p);
            std::fs::write(&p, bad).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            assert!(read_key(&p).is_err(), "{bad:?}");
        }
    }
}
