//! `poai devnet`: a node and N miners of different tiers in one process, live progress, and a
//! closing table of miners, tiers, proofs, AI earned, treasury, subsidy and ceiling.
//!
//! The devnet's genesis enables the two dev-only switches (docs/DESIGN-chain.md): dev evidence,
//! so miners can register without TEE hardware, and a fixed chain-time step per block (60 s by
//! default), so that the SPEC's minute-based rules let a miner earn a minute per block while the
//! whole run takes seconds. The miners are the real miner loop talking JSON-RPC over
//! 127.0.0.1, not shortcuts into the node.
//!
//! Files in the data directory: `chain.redb` and `chain.blocks`, `genesis.json`, `rpc.addr` (the RPC URL, written
//! once the server listens), `miners/miner-<i>.key`, and `summary.json` at the end.

use crate::node::{self, NodeConfig, Shared};
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use poai_chain::Genesis;
use poai_chain::evidence::dev_evidence;
use poai_chain::genesis::{DEFAULT_MAX_BLOCK_TXS, GenesisAccount};
use poai_chain::hash::hash_tagged;
use poai_crypto::{ParamSet, SigningKey, keyfile};
use poai_economics::format_ai;
use poai_miner::{MineOptions, NodeClient, SharedStats};
use poai_primitives::{Address, ChainId, PrivacyLevel};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The devnet's chain id.
pub const DEVNET_CHAIN_ID: ChainId = ChainId(31_337);

/// `poai devnet`.
#[derive(Debug, Clone, Args)]
pub struct DevnetArgs {
    /// Miners to start.
    #[arg(long, default_value_t = 3)]
    pub miners: usize,
    /// Their tiers, cycled (dev evidence claims them).
    #[arg(long, value_delimiter = ',', default_values_t = [1u16, 3, 4])]
    pub tiers: Vec<u16>,
    /// Stop after this many blocks (default 40 when no --duration).
    #[arg(long, conflicts_with = "duration")]
    pub blocks: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Data directory (default: a new directory under the system temp dir).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 500)]
    pub block_ms: u64,
    /// Seconds of chain time per block (dev-only genesis switch).
    #[arg(long, default_value_t = 60)]
    pub time_step: u64,
    /// JSON-RPC address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub rpc: SocketAddr,
    /// Prometheus metrics address.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where blocks' signatures are verified: cpu, gpu or auto (see `poai node`).
    #[arg(long, default_value_t = poai_gpu::Backend::Auto)]
    pub verify_backend: poai_gpu::Backend,
    /// Validators. 1: one node in this process producing blocks. More: a BFT validator set on
    /// loopback, validator 0 in this process and the others as `poai node` processes
    /// (`poai` binary only; see docs/DESIGN-consensus.md).
    #[arg(long, default_value_t = 1)]
    pub validators: usize,
}

/// One miner's line of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct MinerSummary {
    /// Index.
    pub index: usize,
    /// Address.
    pub address: Address,
    /// Tier.
    pub tier: PrivacyLevel,
    /// Proofs included (from the chain).
    pub accepted: u64,
    /// Proofs refused (as the miner saw it).
    pub rejected: u64,
    /// AI balance of the miner (its beneficiary), wei as a decimal string.
    pub earned_wei: String,
    /// The same, formatted.
    pub earned: String,
}

/// The devnet's closing summary (`summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Chain id.
    pub chain_id: ChainId,
    /// Final height.
    pub height: u64,
    /// The final state root.
    pub state_root: String,
    /// Miners.
    pub miners: Vec<MinerSummary>,
    /// Treasury AI, formatted.
    pub treasury: String,
    /// Total mined, formatted.
    pub mined: String,
    /// Block subsidy at the head, formatted.
    pub subsidy: String,
    /// Ceiling at the head, formatted.
    pub ceiling: String,
    /// The RPC URL the devnet served.
    pub rpc: String,
    /// Data directory.
    pub data: String,
}

/// A devnet genesis: dev evidence on, `time_step` seconds of chain time per block, no fees.
pub fn devnet_genesis(genesis_time: u64, time_step: u64) -> Genesis {
    let derived = |tag: &[u8]| {
        let h = hash_tagged(tag, &[]);
        let mut a = [0u8; 20];
        for (d, s) in a.iter_mut().zip(h.0.iter()) {
            *d = *s;
        }
        Address(a)
    };
    Genesis {
        chain_id: DEVNET_CHAIN_ID,
        genesis_time,
        emission_genesis_height: 1,
        allow_dev_evidence: true,
        dev_block_time_step: Some(time_step),
        min_fee: 0,
        max_block_txs: DEFAULT_MAX_BLOCK_TXS,
        lp_address: derived(b"poai/devnet/lp"),
        treasury: derived(b"poai/devnet/treasury"),
        accounts: vec![GenesisAccount {
            address: derived(b"poai/devnet/faucet"),
            balance: 1_000_000_000_000_000_000_000,
        }],
        // Small stakes and bonds so the faucet's 1000 coins go a long way on a devnet.
        ai: poai_chain::ai::AiParams {
            min_stake_public: 20 * poai_chain::ai::UNIT,
            min_stake_private: 10 * poai_chain::ai::UNIT,
            min_stake_confidential: 5 * poai_chain::ai::UNIT,
            min_stake_sovereign: 5 * poai_chain::ai::UNIT,
            min_dispute_bond: poai_chain::ai::UNIT,
            ..Default::default()
        },
        consensus: None,
    }
}

fn write_atomic(path: &Path, body: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn miner_key(dir: &Path, i: usize) -> Result<SigningKey> {
    let path = dir.join(format!("miner-{i}.key"));
    if path.exists() {
        return Ok(keyfile::read(&path)?);
    }
    let k = SigningKey::generate(ParamSet::MlDsa65)?;
    keyfile::write(&path, &k, false)?;
    Ok(k)
}

/// Runs `poai devnet` (creates its own tokio runtime).
pub fn run(args: DevnetArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = rt.block_on(run_async(args.clone()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_table(&summary);
    }
    Ok(())
}

/// Runs the devnet and returns its summary.
pub async fn run_async(args: DevnetArgs) -> Result<Summary> {
    check_args(&args)?;
    let data = data_dir(&args)?;
    let genesis = genesis_in(&data, || devnet_genesis(node::now_unix(), args.time_step))?;
    let mut cfg = NodeConfig::new(genesis.clone(), data.clone());
    cfg.rpc_addr = args.rpc;
    cfg.metrics_addr = args.metrics;
    cfg.block_interval = Duration::from_millis(args.block_ms.max(1));
    let (machine, _) = crate::sigverify::with_backend(crate::tee::machine(), args.verify_backend)?;
    let handle = node::start(cfg, machine).await?;
    let url = format!("http://{}", handle.rpc_addr);
    write_atomic(&data.join("rpc.addr"), url.as_bytes())?;
    let summary = drive(&args, &data, &genesis, handle.shared(), &[url]).await;
    // Stopping the producer may race a block in flight; it finishes that block first.
    handle.stop().await?;
    finish(&data, summary?)
}

/// Checks the arguments every devnet shares.
pub fn check_args(args: &DevnetArgs) -> Result<()> {
    if args.miners == 0 {
        bail!("--miners must be at least 1");
    }
    if args.tiers.is_empty() {
        bail!("--tiers needs at least one tier");
    }
    Ok(())
}

/// The data directory (created, with `miners/`).
pub fn data_dir(args: &DevnetArgs) -> Result<PathBuf> {
    let data = match &args.data {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("poai-devnet-{}", std::process::id())),
    };
    std::fs::create_dir_all(data.join("miners"))
        .with_context(|| format!("creating {}", data.display()))?;
    Ok(data)
}

/// The devnet's `genesis.json` in `data`: read if an earlier run wrote it, else `make`'s.
pub fn genesis_in(data: &Path, make: impl FnOnce() -> Genesis) -> Result<Genesis> {
    let genesis_path = data.join("genesis.json");
    if genesis_path.exists() {
        return serde_json::from_slice(&std::fs::read(&genesis_path)?)
            .with_context(|| format!("reading {}", genesis_path.display()));
    }
    let g = make();
    write_atomic(&genesis_path, serde_json::to_string_pretty(&g)?.as_bytes())?;
    Ok(g)
}

/// Writes `summary.json` and passes the summary on.
pub fn finish(data: &Path, summary: Summary) -> Result<Summary> {
    write_atomic(
        &data.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(summary)
}

/// Runs the miners against the nodes at `urls` (miner `i` talks to `urls[i % len]`) with live
/// progress from `shared` (a node of the chain), until the block or time limit or Ctrl-C; then
/// stops the miners and summarises from `shared`'s state.
pub async fn drive(
    args: &DevnetArgs,
    data: &Path,
    genesis: &Genesis,
    shared: &Arc<Shared>,
    urls: &[String],
) -> Result<Summary> {
    let tiers: Vec<PrivacyLevel> = args
        .tiers
        .iter()
        .map(|t| PrivacyLevel::try_from(*t))
        .collect::<Result<_, _>>()?;
    let heights = shared.heights();
    let start_height = *heights.borrow();
    let blocks = match (args.blocks, args.duration) {
        (Some(b), _) => Some(b),
        (None, Some(_)) => None,
        (None, None) => Some(40),
    };
    let target = blocks.map(|b| start_height.saturating_add(b));
    let url = urls
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no node to mine against"))?;
    let clients = urls
        .iter()
        .map(|u| NodeClient::new(u))
        .collect::<Result<Vec<_>, _>>()?;

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut miners = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..args.miners {
        let key = miner_key(&data.join("miners"), i)?;
        let tier = tiers
            .get(i % tiers.len())
            .copied()
            .unwrap_or(PrivacyLevel::Public);
        let stats = SharedStats::default();
        let address = poai_miner::miner_address(&key);
        miners.push((address, tier, stats.clone()));
        let c = clients
            .get(i % clients.len())
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no node for miner {i}"))?;
        let st = stop.clone();
        tasks.push(tokio::spawn(async move {
            let ev = dev_evidence(tier, &poai_miner::dev_device_seed(&key, 0));
            let device = poai_miner::register(&c, &key, ev, 0).await?;
            let opts = MineOptions {
                beneficiary: address,
                max_proofs: None,
                poll: Duration::from_millis(100),
            };
            poai_miner::mine_device(&c, &key, device.device_id, &opts, stats, st).await?;
            anyhow::Ok(())
        }));
    }
    let mp = MultiProgress::new();
    let chain_bar = mp.add(match blocks {
        Some(b) => ProgressBar::new(b),
        None => ProgressBar::new(args.duration.unwrap_or(0)),
    });
    chain_bar.set_style(ProgressStyle::with_template(
        "{prefix:>8} [{bar:30}] {pos}/{len} {msg}",
    )?);
    chain_bar.set_prefix("chain");
    let miner_bars: Vec<ProgressBar> = miners
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let b = mp.add(ProgressBar::new_spinner());
            b.set_prefix(format!("miner {i}"));
            if let Ok(style) = ProgressStyle::with_template("{prefix:>8} {spinner} {msg}") {
                b.set_style(style);
            }
            b
        })
        .collect();

    let started = Instant::now();
    let deadline = args.duration.map(|d| started + Duration::from_secs(d));
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut interrupted = false;
    loop {
        let height = *heights.borrow();
        let finished_blocks = target.is_some_and(|t| height >= t);
        let finished_time = deadline.is_some_and(|d| Instant::now() >= d);
        if finished_blocks || finished_time || interrupted {
            break;
        }
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => { interrupted = true; }
        }
        let (mined, treasury) = {
            let s = shared.state();
            (s.ledger().mined, s.account(&genesis.treasury).ai)
        };
        let height = *heights.borrow();
        match blocks {
            Some(_) => chain_bar.set_position(height.saturating_sub(start_height)),
            None => chain_bar.set_position(started.elapsed().as_secs()),
        }
        chain_bar.set_message(format!(
            "height {height} | mined {} AI | treasury {} AI",
            format_ai(mined),
            format_ai(treasury)
        ));
        for ((_, tier, stats), bar) in miners.iter().zip(&miner_bars) {
            let s = stats.lock().map(|s| s.clone()).unwrap_or_default();
            bar.set_message(format!(
                "tier {} {:<12} accepted {:>4} rejected {:>3} earned {} AI",
                tier.as_u16(),
                tier.name(),
                s.accepted,
                s.rejected,
                format_ai(s.earned)
            ));
            bar.tick();
        }
    }
    chain_bar.finish();
    for b in &miner_bars {
        b.finish();
    }
    stop_tx.send_replace(true);
    // Give miners a moment to finish a submission in flight, then stop them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut miner_errors = Vec::new();
    for t in tasks {
        t.abort();
        if let Ok(Err(e)) = t.await {
            miner_errors.push(e.to_string());
        }
    }
    let summary = {
        let s = shared.state();
        let head = s.head();
        let e = s
            .emission()
            .status(head.height.max(s.emission().genesis_height))?;
        Summary {
            chain_id: genesis.chain_id,
            height: head.height,
            state_root: head.state_root.to_string(),
            miners: miners
                .iter()
                .enumerate()
                .map(|(index, (address, tier, stats))| {
                    let accepted = s.devices_of(address).iter().map(|(_, d)| d.proofs).sum();
                    let rejected = stats.lock().map(|s| s.rejected).unwrap_or(0);
                    let ai = s.account(address).ai;
                    MinerSummary {
                        index,
                        address: *address,
                        tier: *tier,
                        accepted,
                        rejected,
                        earned_wei: ai.to_string(),
                        earned: format_ai(ai),
                    }
                })
                .collect(),
            treasury: format_ai(s.account(&genesis.treasury).ai),
            mined: format_ai(s.ledger().mined),
            subsidy: format_ai(e.block_subsidy),
            ceiling: format_ai(e.ceiling),
            rpc: url,
            data: data.display().to_string(),
        }
    };
    for e in miner_errors {
        eprintln!("miner error: {e}");
    }
    Ok(summary)
}

/// Prints the summary as a table.
pub fn print_table(s: &Summary) {
    println!();
    println!(
        "devnet chain {} at height {} (data {})",
        s.chain_id, s.height, s.data
    );
    println!(
        "{:<6} {:<42} {:<16} {:>9} {:>9} {:>28}",
        "miner", "address", "tier", "accepted", "rejected", "AI earned"
    );
    for m in &s.miners {
        println!(
            "{:<6} {:<42} {:<16} {:>9} {:>9} {:>28}",
            m.index,
            m.address.to_string(),
            format!("{} {}", m.tier.as_u16(), m.tier.name()),
            m.accepted,
            m.rejected,
            m.earned
        );
    }
    println!("treasury {} AI | mined {} AI", s.treasury, s.mined);
    println!(
        "block subsidy {} AI | emission ceiling {} AI",
        s.subsidy, s.ceiling
    );
}
