//! Command-line arguments and entry points of the node crate's commands.
//!
//! | command | entry point |
//! |---|---|
//! | `poai node --genesis FILE [--data DIR] [--rpc ADDR] [--metrics ADDR] [--block-ms N]` | [`NodeArgs::run`] |
//! | `poai genesis new --chain-id N --lp ADDR --treasury ADDR [--out FILE] ...` | [`GenesisCommand::run`] |
//! | `poai devnet [--miners N] [--blocks N \| --duration S] [--data DIR]` | [`crate::devnet::run`] |
//! | `poai bench [--proofs N] [--miners N]` | [`crate::bench::run`] |
//! | `poai replay --data DIR` | [`ReplayArgs::run`] |
//!
//! [`Cli`] bundles them (and `poai miner`) for the `poai-node` binary.

use crate::bench::BenchArgs;
use crate::devnet::DevnetArgs;
use crate::node::{self, NodeConfig};
use crate::storage::Store;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use poai_chain::Genesis;
use poai_chain::genesis::{DEFAULT_MAX_BLOCK_TXS, GenesisAccount};
use poai_primitives::{Address, ChainId};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `poai node`: runs an A-chain node until Ctrl-C: the single validator of a dev chain, or (with
/// `--consensus-key`, from the `poai` binary) one validator of the set its genesis lists.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// The genesis file (JSON; see `poai genesis new`).
    #[arg(long)]
    pub genesis: PathBuf,
    /// Data directory.
    #[arg(long, default_value = "poai-data")]
    pub data: PathBuf,
    /// JSON-RPC address (keep it on 127.0.0.1 unless a proxy guards it).
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub rpc: SocketAddr,
    /// Prometheus metrics address.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 2000)]
    pub block_ms: u64,
    /// This validator's address (paid the fees).
    #[arg(long)]
    pub proposer: Option<Address>,
    /// Largest JSON-RPC request body, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_request_bytes: u32,
    /// Where blocks' signatures are verified: cpu, gpu (CUDA; fails without one) or auto (the GPU
    /// when one is usable, else the CPU). Verdicts are identical; only speed differs.
    #[arg(long, default_value_t = poai_gpu::Backend::Auto)]
    pub verify_backend: poai_gpu::Backend,
    /// Stop after committing this height.
    #[arg(long)]
    pub stop_at: Option<u64>,
    /// Validator mode (a genesis with a `consensus` section): this validator's ed25519
    /// consensus key file (64 hex digits; `poai validator key` writes one).
    #[arg(long)]
    pub consensus_key: Option<PathBuf>,
    /// Validator mode: where to listen for the other validators (authenticated, encrypted).
    #[arg(long, default_value = "127.0.0.1:30300")]
    pub p2p: SocketAddr,
    /// Validator mode: peers as `KEYHEX@HOST:PORT`, comma-separated; each overrides or adds to
    /// the address genesis gives for that key.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Validator mode: p2p settings for a local or private network (private addresses allowed,
    /// fast redial after a peer restarts). Devnets use it.
    #[arg(long)]
    pub p2p_local: bool,
}

impl NodeArgs {
    /// Reads and parses the genesis file.
    pub fn read_genesis(&self) -> Result<Genesis> {
        serde_json::from_slice(
            &std::fs::read(&self.genesis)
                .with_context(|| format!("reading {}", self.genesis.display()))?,
        )
        .with_context(|| format!("parsing {}", self.genesis.display()))
    }

    /// The node configuration these arguments describe.
    pub fn config(&self, genesis: Genesis) -> NodeConfig {
        let mut cfg = NodeConfig::new(genesis, self.data.clone());
        cfg.rpc_addr = self.rpc;
        cfg.metrics_addr = self.metrics;
        cfg.block_interval = Duration::from_millis(self.block_ms.max(1));
        cfg.proposer = self.proposer.unwrap_or_default();
        cfg.max_request_bytes = self.max_request_bytes;
        cfg.stop_at_height = self.stop_at;
        cfg
    }

    /// Runs the node (creates its own tokio runtime) until Ctrl-C or `--stop-at`.
    pub fn run(self) -> Result<()> {
        let genesis = self.read_genesis()?;
        if genesis.consensus.is_some() {
            anyhow::bail!(
                "{} lists a validator set: run this node as one of them with `poai node --consensus-key FILE` (the `poai` binary)",
                self.genesis.display()
            );
        }
        let cfg = self.config(genesis);
        crate::os::admission_pool();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let (machine, _) =
            crate::sigverify::with_backend(crate::tee::machine(), self.verify_backend)?;
        rt.block_on(async move {
            let mut handle = node::start(cfg, machine).await?;
            let url = format!("http://{}", handle.rpc_addr);
            std::fs::write(self.data.join("rpc.addr"), &url)
                .with_context(|| format!("writing {}", self.data.join("rpc.addr").display()))?;
            eprintln!(
                "poai node: chain {} at height {}, JSON-RPC {url}{}",
                handle.shared().state().genesis().chain_id,
                *handle.heights().borrow(),
                handle
                    .metrics_addr
                    .map(|a| format!(", metrics http://{a}/metrics"))
                    .unwrap_or_default()
            );
            tokio::select! {
                r = handle.wait_producer() => {
                    r?;
                }
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("poai node: stopping");
                }
            }
            let height = *handle.heights().borrow();
            let checked = handle.shared().machine.signatures_checked();
            handle.stop().await?;
            eprintln!("poai node: stopped at height {height} ({checked} signatures checked)");
            Ok(())
        })
    }
}

/// `poai genesis`.
#[derive(Debug, Clone, Subcommand)]
pub enum GenesisCommand {
    /// Writes a genesis file for a real deployment (dev switches off unless asked).
    New(GenesisNewArgs),
}

/// `poai genesis new`.
#[derive(Debug, Clone, Args)]
pub struct GenesisNewArgs {
    /// The chain id.
    #[arg(long)]
    pub chain_id: u64,
    /// Receives the 100,000,000 AI LP allocation.
    #[arg(long)]
    pub lp: Address,
    /// Receives 2 % of every payout.
    #[arg(long)]
    pub treasury: Address,
    /// Genesis time, Unix seconds (default: now).
    #[arg(long)]
    pub time: Option<u64>,
    /// Minimum fee (native coin).
    #[arg(long, default_value_t = 1)]
    pub min_fee: u128,
    /// Initial native balances, `ADDRESS=AMOUNT` (repeatable).
    #[arg(long = "fund", value_parser = parse_fund)]
    pub fund: Vec<(Address, u128)>,
    /// DEVNET ONLY: accept insecure dev evidence.
    #[arg(long)]
    pub allow_dev_evidence: bool,
    /// DEVNET ONLY: seconds of chain time per block.
    #[arg(long)]
    pub dev_block_time_step: Option<u64>,
    /// Where to write it (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_fund(s: &str) -> Result<(Address, u128), String> {
    let (a, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected ADDRESS=AMOUNT"))?;
    let a: Address = a.parse().map_err(|e| format!("address `{a}`: {e}"))?;
    let v: u128 = v.parse().map_err(|e| format!("amount `{v}`: {e}"))?;
    Ok((a, v))
}

impl GenesisCommand {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        match self {
            Self::New(a) => {
                let g = Genesis {
                    chain_id: ChainId(a.chain_id),
                    genesis_time: a.time.unwrap_or_else(node::now_unix),
                    emission_genesis_height: 1,
                    allow_dev_evidence: a.allow_dev_evidence,
                    dev_block_time_step: a.dev_block_time_step,
                    min_fee: a.min_fee,
                    max_block_txs: DEFAULT_MAX_BLOCK_TXS,
                    lp_address: a.lp,
                    treasury: a.treasury,
                    accounts: a
                        .fund
                        .iter()
                        .map(|(address, balance)| GenesisAccount {
                            address: *address,
                            balance: *balance,
                        })
                        .collect(),
                    ai: Default::default(),
                    consensus: None,
                };
                g.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
                let json = serde_json::to_string_pretty(&g)?;
                match a.out {
                    Some(p) => std::fs::write(&p, json + "\n")
                        .with_context(|| format!("writing {}", p.display()))?,
                    None => println!("{json}"),
                }
                Ok(())
            }
        }
    }
}

/// `poai replay`: re-executes every stored block from genesis and compares the state root.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
}

impl ReplayArgs {
    /// Runs the replay; fails if the replayed root differs from the stored head's.
    pub fn run(self) -> Result<()> {
        let store = Store::open(&self.data.join("chain.redb"))?;
        let machine = crate::tee::machine();
        let stored = store.load_state(&machine)?;
        let replayed = store.replay(&machine)?;
        let (a, b) = (stored.head(), replayed.head());
        println!(
            "{}",
            serde_json::json!({
                "height": b.height,
                "stored_root": a.state_root.to_string(),
                "replayed_root": b.state_root.to_string(),
                "recomputed_root": replayed.root().to_string(),
            })
        );
        if a != b || stored.root() != replayed.root() {
            anyhow::bail!("replay differs from the stored state");
        }
        Ok(())
    }
}

/// The `poai-node` binary's commands.
#[derive(Debug, Parser)]
#[command(
    name = "poai-node",
    version,
    about = "poai A-chain node, miner, devnet and bench"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a node.
    Node(NodeArgs),
    /// Genesis files.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// A node and N miners with live progress.
    Devnet(DevnetArgs),
    /// Proofs per second through verify, execute and commit.
    Bench(BenchArgs),
    /// Re-executes the stored chain from genesis.
    Replay(ReplayArgs),
    /// The miner.
    #[command(subcommand)]
    Miner(poai_miner::cli::MinerCommand),
    /// The AI VM: model, provider, task, attest, dispute, credits.
    #[command(flatten)]
    Ai(crate::ai_cli::AiCommand),
    /// Validators: consensus key files, bond, add stake, unbond, list.
    #[command(subcommand)]
    Validator(crate::validator_cli::ValidatorCommand),
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(self) -> Result<()> {
        match self.command {
            Command::Node(a) => a.run(),
            Command::Genesis(g) => g.run(),
            Command::Devnet(a) => crate::devnet::run(a),
            Command::Bench(a) => crate::bench::run(a),
            Command::Replay(a) => a.run(),
            Command::Miner(m) => poai_miner::cli::run(m),
            Command::Ai(c) => {
                print!("{}", crate::ai_cli::run(c)?);
                Ok(())
            }
            Command::Validator(c) => {
                print!("{}", crate::validator_cli::run(c)?);
                Ok(())
            }
        }
    }
}
