//! `poai miner init|register|run|status`.
//!
//! Keys are `poai-crypto` key files (JSON, mode 0600). Registration evidence is either a TEE
//! evidence envelope file (`--evidence FILE`, bound to the registration nonce that `status`
//! prints) or, on a devnet whose genesis allows it, the insecure dev source (`--dev-tier N`).

use crate::client::NodeClient;
use crate::mine::{self, MineOptions, SharedStats};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use poai_chain::evidence::{dev_evidence, registration_nonce};
use poai_crypto::{ParamSet, SigningKey, keyfile};
use poai_primitives::{Address, DeviceId, PrivacyLevel};
use std::path::PathBuf;
use std::time::Duration;

/// Options every command that talks to a node takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The miner's key file.
    #[arg(long, default_value = "miner.key")]
    pub key: PathBuf,
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "POAI_RPC")]
    pub rpc: String,
}

/// `poai miner`.
#[derive(Debug, Clone, Subcommand)]
pub enum MinerCommand {
    /// Creates a miner key (ML-DSA) in a new 0600 key file and prints its address.
    Init {
        /// Where to write the key.
        #[arg(long, default_value = "miner.key")]
        key: PathBuf,
        /// Parameter set: 44, 65 or 87.
        #[arg(long, default_value = "65")]
        param: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Registers a device: binds this key to the device and tier the evidence proves.
    Register {
        /// Key and node.
        #[command(flatten)]
        common: Common,
        /// A TEE evidence envelope bound to the registration nonce (see `status`).
        #[arg(long, conflicts_with = "dev_tier")]
        evidence: Option<PathBuf>,
        /// DEVNET ONLY, INSECURE: dev evidence claiming this tier (1..=4).
        #[arg(long)]
        dev_tier: Option<u16>,
        /// Which of this key's dev devices (0, 1, ...).
        #[arg(long, default_value_t = 0)]
        dev_index: u32,
        /// Fee (native coin); at least the chain's minimum.
        #[arg(long, default_value_t = 0)]
        fee: u128,
    },
    /// Mines with every device registered to this key until Ctrl-C.
    Run {
        /// Key and node.
        #[command(flatten)]
        common: Common,
        /// Who is paid (default: the miner's own address).
        #[arg(long)]
        beneficiary: Option<Address>,
        /// Stop after this many accepted proofs per device.
        #[arg(long)]
        proofs: Option<u64>,
    },
    /// Prints the miner's account, devices and next registration nonce as JSON.
    Status {
        /// Key and node.
        #[command(flatten)]
        common: Common,
    },
}

fn load_key(path: &std::path::Path) -> Result<SigningKey> {
    keyfile::read(path).with_context(|| format!("reading miner key {}", path.display()))
}

/// Runs a miner command (creates its own tokio runtime).
pub fn run(cmd: MinerCommand) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: MinerCommand) -> Result<()> {
    match cmd {
        MinerCommand::Init { key, param, force } => {
            let param: ParamSet = param.parse()?;
            let k = SigningKey::generate(param)?;
            keyfile::write(&key, &k, force)?;
            println!(
                "{}",
                serde_json::json!({
                    "key_file": key.display().to_string(),
                    "param_set": param.name(),
                    "address": mine::miner_address(&k).to_string(),
                })
            );
            Ok(())
        }
        MinerCommand::Register {
            common,
            evidence,
            dev_tier,
            dev_index,
            fee,
        } => {
            let key = load_key(&common.key)?;
            let client = NodeClient::new(&common.rpc)?;
            let ev = match (evidence, dev_tier) {
                (Some(path), _) => std::fs::read(&path)
                    .with_context(|| format!("reading evidence {}", path.display()))?,
                (None, Some(t)) => {
                    let tier = PrivacyLevel::try_from(t)?;
                    eprintln!("WARNING: dev evidence is insecure and only accepted on devnets");
                    dev_evidence(tier, &mine::dev_device_seed(&key, dev_index))
                }
                (None, None) => bail!("pass --evidence FILE, or --dev-tier N on a devnet"),
            };
            let device = mine::register(&client, &key, ev, fee).await?;
            println!("{}", serde_json::to_string_pretty(&device)?);
            Ok(())
        }
        MinerCommand::Run {
            common,
            beneficiary,
            proofs,
        } => {
            let key = load_key(&common.key)?;
            let client = NodeClient::new(&common.rpc)?;
            let me = mine::miner_address(&key);
            let devices: Vec<DeviceId> = client
                .miner_status(me)
                .await?
                .devices
                .iter()
                .map(|d| d.device_id)
                .collect();
            if devices.is_empty() {
                bail!("miner {me} has no registered device (run `poai miner register` first)");
            }
            let opts = MineOptions {
                beneficiary: beneficiary.unwrap_or(me),
                max_proofs: proofs,
                poll: Duration::from_millis(250),
            };
            run_loops(client, key, devices, opts).await
        }
        MinerCommand::Status { common } => {
            let key = load_key(&common.key)?;
            let client = NodeClient::new(&common.rpc)?;
            let me = mine::miner_address(&key);
            let info = client.chain_info().await?;
            let status = client.miner_status(me).await?;
            let nonce = registration_nonce(info.chain_id, &me, status.account.account.nonce);
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "miner": status,
                    "chain_id": info.chain_id,
                    "height": info.height,
                    "next_registration_nonce": hex::encode(nonce),
                }))?
            );
            Ok(())
        }
    }
}

async fn run_loops(
    client: NodeClient,
    key: SigningKey,
    devices: Vec<DeviceId>,
    opts: MineOptions,
) -> Result<()> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let stats: SharedStats = SharedStats::default();
    let mut tasks = Vec::new();
    for d in devices {
        let (c, k, o, s, st) = (
            client.clone(),
            key.clone(),
            opts.clone(),
            stats.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            mine::mine_device(&c, &k, d, &o, s, st).await
        }));
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}")?);
    let all_done = async {
        for t in tasks {
            t.await??;
        }
        anyhow::Ok(())
    };
    tokio::pin!(all_done);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let result = loop {
        tokio::select! {
            r = &mut all_done => break r,
            _ = tokio::signal::ctrl_c() => {
                stop_tx.send_replace(true);
            }
            _ = tick.tick() => {
                let s = stats.lock().map(|s| s.clone()).unwrap_or_default();
                bar.set_message(format!(
                    "accepted {} | rejected {} | earned {} AI{}",
                    s.accepted,
                    s.rejected,
                    poai_economics::format_ai(s.earned),
                    s.last_error.map(|e| format!(" | last: {e}")).unwrap_or_default()
                ));
                bar.tick();
            }
        }
    };
    bar.finish();
    result
}
