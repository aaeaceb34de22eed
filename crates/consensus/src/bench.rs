//! `poai bench-cluster`: finalized signed work proofs per second and time to finality with N
//! validator processes on loopback (SPEC section 6; docs/PERFORMANCE.md, "A-chain with N
//! validators"). `--validators 1` runs one `poai node` without a consensus section, today's
//! single-validator producer, for the side-by-side figure.
//!
//! Setup (not timed): a devnet genesis (dev evidence, 60 s of chain time per block) with room for
//! every proof in one block by count (the consensus proposer also caps a block at
//! [`crate::block::MAX_BLOCK_BYTES`]), the cluster of [`crate::cluster`], the nodes as child
//! processes of the `poai` binary itself. One proof per device and 10 devices per miner, so a
//! block can hold all of a miner's proofs (SPEC section 2: 10 per miner per block) and every
//! mempool accepts them all (10 pending proofs per miner). Every device is registered with dev
//! evidence (nonces 0 to 9 of its miner, a miner's ten in one call so each validator sees
//! consecutive nonces) and the run waits until every validator has them all. Then every proof
//! is signed in parallel with one timestamp `T`, claiming one minute, and hex-encoded.
//!
//! Proof window (crates/chain machine rules): a proof is valid in a block of time `bt` when
//! `bt - PROOF_MAX_AGE_SECS <= T <= bt + PROOF_MAX_AHEAD_SECS`, i.e. `bt` in
//! `[T - 60, T + 3600]`: 62 blocks at 60 s per block. One minute needs `T - registered_at >= 60`,
//! true because registration happened before the window opens (`registered_at < T - 60`); no
//! device has an earlier proof, so the 30 s interval rule cannot bite. Signing takes a while
//! and the chain moves on meanwhile, so `T` is chosen for the block time expected when signing
//! is done (a sample is signed first to estimate how long that is, with a margin), and the timed
//! phase starts once every validator's next block time has reached `T - 60` (the mempool admits
//! a proof against the next block's time).
//!
//! Timed: every proof is sent with `poai_sendTransactions` in batches, batch `i` to validator
//! `i mod N` (gossip spreads them), one call in flight per validator. A sample of about 100
//! proofs spread over the run is polled with `poai_txStatus` every 50 ms on the validator that
//! took it; its finality is the time from its batch's call to `included` (a validator reports
//! included only once finalized). The end is the first poll (50 ms) at which every validator's
//! count of spent work ids has grown by the number of proofs admitted. Throughput is admitted
//! proofs over the time from the first call to that end, which includes the last proofs' time
//! to finality: at an offered rate `R` it can be at most `N / (N / R + finality)`. The steady
//! rate leaves both ends out: the same counts, polled every 50 ms from the first call on, give
//! the rate between the polls that first saw 20 % and 80 % of the proofs final on every
//! validator ([`steady_rate`]). Where the validators keep up it is the offered rate. Batches are
//! serialized to JSON before the clock starts ([`poai_miner::PreparedBatch`]), as the client
//! shares the validators' cores. Blocks used and proofs per block are counted afterwards from
//! validator 0's blocks.

use crate::cluster;
use anyhow::{Context, Result, bail};
use clap::Args;
use poai_chain::api::{SubmitResult, TxStatus};
use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::machine::{PROOF_MAX_AGE_SECS, PROOF_MAX_AHEAD_SECS};
use poai_chain::{Call, Hash32, MAX_PROOFS_PER_MINER_PER_BLOCK, SignedTx, Transaction, TxBody};
use poai_crypto::{ParamSet, SigningKey};
use poai_miner::{NodeClient, PreparedBatch};
use poai_node::bench::sign_all;
use poai_primitives::{ChainId, DeviceId, PrivacyLevel};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Devices per miner, one proof each: a block may hold this many proofs of one miner.
pub const DEVICES_PER_MINER: usize = MAX_PROOFS_PER_MINER_PER_BLOCK;

/// Most validator processes one run starts.
pub const MAX_VALIDATORS: usize = 32;

/// Proofs whose finality is sampled.
pub const FINALITY_SAMPLES: usize = 100;

/// Chain time per block of the benchmark's genesis (as `poai devnet`).
pub const TIME_STEP_SECS: u64 = 60;

/// How often the sample and the end are polled.
const POLL: Duration = Duration::from_millis(50);

/// How long the count of finalized proofs may stand still before the run is called stalled.
const STALL: Duration = Duration::from_secs(60);

/// `poai bench-cluster`.
#[derive(Debug, Clone, Args)]
pub struct BenchClusterArgs {
    /// Validator processes; 1 runs a single `poai node` without a consensus section (today's
    /// single-validator producer).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Proofs (rounded down to whole miners of 10 devices, one proof per device).
    #[arg(long, default_value_t = 20_000)]
    pub proofs: usize,
    /// ML-DSA parameter set of the miners' keys: 44 or 65.
    #[arg(long, default_value = "65")]
    pub param: String,
    /// Milliseconds between blocks (`poai node --block-ms`).
    #[arg(long, default_value_t = 500)]
    pub block_ms: u64,
    /// Transactions per `poai_sendTransactions` call (at most 512).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Offered load in proofs per second: batch `i` is sent `i × batch / rate` seconds after the
    /// first (each validator's calls stay sequential). 0 sends every batch as soon as the
    /// previous one to the same validator was answered: a burst that measures capacity, not
    /// finality under a given load.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Directory for the genesis and each validator's data and `node.log` (default: a new
    /// temporary one, removed after a successful run and kept after a failed one).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// An argument out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgsError {
    /// `--validators`.
    #[error("--validators must be 1 to {MAX_VALIDATORS}, not {0}")]
    Validators(usize),
    /// `--proofs`.
    #[error(
        "--proofs must be {DEVICES_PER_MINER} to {max} (every mempool holds them all), not {got}"
    )]
    Proofs {
        /// Given.
        got: usize,
        /// The mempool's size.
        max: usize,
    },
    /// `--param`.
    #[error("--param must be 44 or 65, not {0:?}")]
    Param(String),
    /// `--batch`.
    #[error(
        "--batch must be {DEVICES_PER_MINER} to {max} (poai_sendTransactions' limit), not {got}"
    )]
    Batch {
        /// Given.
        got: usize,
        /// The RPC's limit.
        max: usize,
    },
    /// `--block-ms`.
    #[error("--block-ms must be at least 1")]
    BlockMs,
    /// `--rate`: sending would outlast the proofs' validity window.
    #[error(
        "--rate {rate}: sending the proofs lasts about {blocks} blocks, more than the {max} of \
         their validity window; raise --rate or send fewer --proofs"
    )]
    Rate {
        /// Given.
        rate: u64,
        /// Blocks while sending ([`paced_blocks`]).
        blocks: u64,
        /// Blocks of the window ([`window_blocks`]).
        max: u64,
    },
}

/// Blocks of `TIME_STEP_SECS` in which a proof's timestamp is valid (SPEC section 2: from 60 s
/// before to 3,600 s after the proof's time): the most the timed phase can span.
pub fn window_blocks() -> u64 {
    ProofWindow::opening_at(0).blocks_left(0, TIME_STEP_SECS)
}

/// A run's shape, from checked arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Validator processes.
    pub validators: usize,
    /// Miners, each with [`DEVICES_PER_MINER`] devices.
    pub miners: usize,
    /// Proofs: one per device.
    pub proofs: usize,
    /// The miners' parameter set.
    pub param: ParamSet,
    /// Transactions per call.
    pub batch: usize,
    /// Milliseconds between blocks.
    pub block_ms: u64,
    /// Time between the starts of consecutive batches (`--rate`); `None`: a burst.
    pub pace: Option<Duration>,
}

impl Plan {
    /// Checks the arguments; `mempool_max` is a node's mempool size (every validator's mempool
    /// may hold every proof, and every registration, at once).
    pub fn new(args: &BenchClusterArgs, mempool_max: usize) -> Result<Self, ArgsError> {
        if args.validators == 0 || args.validators > MAX_VALIDATORS {
            return Err(ArgsError::Validators(args.validators));
        }
        let miners = args.proofs / DEVICES_PER_MINER;
        if miners == 0 || args.proofs > mempool_max {
            return Err(ArgsError::Proofs {
                got: args.proofs,
                max: mempool_max,
            });
        }
        let param = match args.param.parse::<ParamSet>() {
            Ok(p @ (ParamSet::MlDsa44 | ParamSet::MlDsa65)) => p,
            _ => return Err(ArgsError::Param(args.param.clone())),
        };
        let max = poai_node::rpc::MAX_BATCH;
        if args.batch < DEVICES_PER_MINER || args.batch > max {
            return Err(ArgsError::Batch {
                got: args.batch,
                max,
            });
        }
        if args.block_ms == 0 {
            return Err(ArgsError::BlockMs);
        }
        let pace = match args.rate {
            0 => None,
            r => Some(Duration::from_secs_f64(args.batch as f64 / r as f64)),
        };
        let plan = Self {
            validators: args.validators,
            miners,
            proofs: miners * DEVICES_PER_MINER,
            param,
            batch: args.batch,
            block_ms: args.block_ms,
            pace,
        };
        let max = window_blocks();
        match paced_blocks(&plan) {
            Some(blocks) if blocks > max => Err(ArgsError::Rate {
                rate: args.rate,
                blocks,
                max,
            }),
            _ => Ok(plan),
        }
    }
}

/// The block times in which proofs of timestamp `timestamp` (claiming one minute, on devices
/// registered before `first_block_time`) are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProofWindow {
    /// The proofs' timestamp.
    pub timestamp: u64,
    /// The earliest block time that accepts them (`timestamp - PROOF_MAX_AHEAD_SECS`).
    pub first_block_time: u64,
    /// The latest (`timestamp + PROOF_MAX_AGE_SECS`).
    pub last_block_time: u64,
}

impl ProofWindow {
    /// The window that opens at block time `first_block_time`.
    pub fn opening_at(first_block_time: u64) -> Self {
        let timestamp = first_block_time.saturating_add(PROOF_MAX_AHEAD_SECS);
        Self {
            timestamp,
            first_block_time,
            last_block_time: timestamp.saturating_add(PROOF_MAX_AGE_SECS),
        }
    }

    /// Blocks of `step` seconds each, the next one at `next_block_time`, that still accept the
    /// proofs.
    pub fn blocks_left(&self, next_block_time: u64, step: u64) -> u64 {
        let from = next_block_time.max(self.first_block_time);
        match self.last_block_time.checked_sub(from) {
            Some(d) if step > 0 => d / step + 1,
            _ => 0,
        }
    }
}

/// Blocks expected while something lasting `estimate` runs, with half again as a margin and two
/// more blocks: blocks come at most every `block_ms` milliseconds, so this overestimates (the
/// cost of overestimating is a wait; of underestimating, a shorter window).
pub fn blocks_during(estimate: Duration, block_ms: u64) -> u64 {
    let ms = estimate.as_millis().saturating_mul(3) / 2;
    let blocks = ms.div_ceil(u128::from(block_ms.max(1)));
    u64::try_from(blocks).unwrap_or(u64::MAX).saturating_add(2)
}

/// With `--rate`, about how many blocks the chain makes while the proofs are sent (one per
/// `block_ms` while batches trickle in, each less than full, and the one that takes the last; a
/// view takes a little longer than `block_ms`, so this errs high): a window with fewer left
/// would close before the last proofs arrive.
pub fn paced_blocks(plan: &Plan) -> Option<u64> {
    let pace = plan.pace?;
    let batches = plan.proofs.div_ceil(plan.batch.max(1));
    let sending = pace.saturating_mul(u32::try_from(batches).unwrap_or(u32::MAX));
    let blocks = sending.as_millis() / u128::from(plan.block_ms.max(1));
    Some(u64::try_from(blocks).unwrap_or(u64::MAX).saturating_add(1))
}

/// The `q`-quantile (0 to 1) of `sorted` by nearest rank.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (q.clamp(0.0, 1.0) * n as f64).ceil();
    // rank is in 0..=n; as an index, 1-based, at least 1.
    let idx = (1..=n)
        .find(|i| *i as f64 >= rank)
        .unwrap_or(n)
        .saturating_sub(1);
    sorted.get(idx).copied()
}

/// Which proofs are sampled for finality: `k` indices spread evenly over `0..n`.
pub fn sample_indices(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    (0..k).map(|i| i * n / k).collect()
}

/// The fractions of the proofs between which [`ClusterReport::steady_proofs_per_s`] is measured:
/// past the first blocks' latency, before the last batches' tail.
pub const STEADY: (f64, f64) = (0.2, 0.8);

/// The rate between the first `samples` (seconds, proofs final) to reach `lo` and `hi` of
/// `total`: proofs per second, or `None` when no two samples span that range.
pub fn steady_rate(samples: &[(f64, u64)], total: u64, lo: f64, hi: f64) -> Option<f64> {
    let reach = |f: f64| {
        let n = (total as f64 * f).ceil();
        samples.iter().find(|(_, done)| *done as f64 >= n).copied()
    };
    let ((t0, n0), (t1, n1)) = (reach(lo)?, reach(hi)?);
    (t1 > t0 && n1 > n0).then(|| (n1 - n0) as f64 / (t1 - t0))
}

/// The measurement.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// Validator processes.
    pub validators: usize,
    /// Whether they ran consensus (false: one `poai node` without a consensus section).
    pub consensus: bool,
    /// Parameter set of the miners' keys.
    pub param: String,
    /// Milliseconds between blocks.
    pub block_ms: u64,
    /// Transactions per `poai_sendTransactions` call.
    pub batch: usize,
    /// Offered load, proofs per second (`--rate`); `None`: a burst.
    pub rate: Option<u64>,
    /// Proofs sent.
    pub proofs: usize,
    /// Proofs the nodes admitted.
    pub admitted: usize,
    /// Proofs refused on submission, by error name (a refusal is a bug in the setup).
    pub refused: BTreeMap<String, usize>,
    /// Finalized proofs per second: admitted over first submission to last finalized. This
    /// counts the last proofs' time to finality as well, so it stays below the offered rate
    /// even where the validators keep up: `N / (N / rate + finality)`.
    pub proofs_per_s: f64,
    /// Finalized proofs per second while the proofs flow: the rate at which proofs became final
    /// on every validator between [`STEADY`]'s fractions of them (sampled every [`POLL`]). Where
    /// the validators keep up this is the offered rate; where they do not, what they can do.
    /// `None` if the run was too short to tell.
    pub steady_proofs_per_s: Option<f64>,
    /// Seconds from the first submission to the last proof's finality.
    pub wall_s: f64,
    /// Seconds until every batch was answered.
    pub submit_s: f64,
    /// Blocks that held the proofs.
    pub blocks_used: u64,
    /// Proofs per block among them.
    pub mean_proofs_per_block: f64,
    /// The fullest block.
    pub max_proofs_per_block: usize,
    /// Sampled proofs whose finality was measured.
    pub finality_samples: usize,
    /// Median time from a sampled proof's submission to its finality, milliseconds.
    pub finality_p50_ms: Option<f64>,
    /// 95th percentile of the same.
    pub finality_p95_ms: Option<f64>,
    /// Seconds of setup (keys, genesis, nodes, registration, signing), not timed.
    pub setup_s: f64,
    /// The proofs' validity window in block times.
    pub window: ProofWindow,
    /// Blocks of that window left when the timed phase started.
    pub window_blocks_at_start: u64,
    /// Cores available here.
    pub cores: usize,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages before the nodes started.
    pub loadavg_before: String,
    /// Consensus views that ended without a block (leader timeouts, about 2 s each) while the
    /// proofs were sent and finalized: the most any validator logged at or above the height
    /// the timed phase started at (each validator logs the same skipped views; which views,
    /// and whose, are in the node logs: `poai consensus: … skipped`). `None`: one validator.
    pub views_skipped: Option<u64>,
    /// CPU time the validators' processes used from the first submission to the last
    /// finality, per finalized proof, microseconds (user plus system, every thread; Linux's
    /// `/proc`, `None` elsewhere). Far steadier than proofs/s from run to run, so it is what
    /// to compare when a change is meant to save work rather than waiting.
    pub node_cpu_us_per_proof: Option<f64>,
    /// The same for this process, the load generator (JSON encoding, HTTP, polling).
    pub client_cpu_us_per_proof: Option<f64>,
    /// Where each node's log is (`<data>/v<i>/node.log`).
    pub data: String,
}

/// CPU time a process has used so far, user plus system over all its threads: fields 14 and
/// 15 of `/proc/<pid>/stat`, in the kernel's `USER_HZ` ticks (100 a second on every Linux
/// architecture the ABI fixes). `None` where there is no `/proc` or the process is gone.
pub fn process_cpu(pid: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_of_stat(&text)
}

/// Parses a `/proc/<pid>/stat` line: the command name, field 2, is in parentheses and may hold
/// spaces, so fields are counted after its closing parenthesis.
pub fn cpu_of_stat(text: &str) -> Option<Duration> {
    const USER_HZ: u64 = 100;
    let rest = text.get(text.rfind(')')?.checked_add(1)?..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(ticks.checked_mul(1000 / USER_HZ)?))
}

/// The CPU time of every node process (summed; `None` if any cannot be read) and of this one.
fn cpu_now(nodes: &Nodes) -> (Option<Duration>, Option<Duration>) {
    let nodes = nodes
        .0
        .iter()
        .map(|c| process_cpu(&c.id().to_string()))
        .sum::<Option<Duration>>();
    (nodes, process_cpu("self"))
}

/// Microseconds of CPU per proof between two readings.
fn cpu_per_proof(before: Option<Duration>, after: Option<Duration>, proofs: usize) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (proofs > 0).then(|| used.as_secs_f64() * 1e6 / proofs as f64)
}

/// Views skipped at or above `height` in a node's log `text` (its
/// [`crate::watch::skipped_line`]s).
pub fn views_skipped_in(text: &str, height: u64) -> u64 {
    let n = text
        .lines()
        .filter_map(crate::watch::skipped_at)
        .filter(|h| *h >= height)
        .count();
    u64::try_from(n).unwrap_or(u64::MAX)
}

type Nodes = cluster::Processes;

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn seed(tag: u8, a: usize, b: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = tag;
    s[1..9].copy_from_slice(&u64::try_from(a).unwrap_or(u64::MAX).to_be_bytes());
    s[9..17].copy_from_slice(&u64::try_from(b).unwrap_or(u64::MAX).to_be_bytes());
    s
}

/// Device `d` of miner `m`: its evidence seed.
fn device_seed(m: usize, d: usize) -> [u8; 32] {
    seed(0xd, m, d)
}

fn proof_tx(
    key: &SigningKey,
    chain_id: ChainId,
    device: DeviceId,
    index: usize,
    timestamp: u64,
) -> Result<Transaction> {
    poai_node::bench::one_minute_proof(key, chain_id, device, seed(0x9, index, 0), timestamp)
}

/// Starts the nodes and returns them with their data directories.
fn start_nodes(
    exe: &Path,
    dir: &Path,
    plan: &Plan,
    base: poai_chain::Genesis,
) -> Result<(Nodes, Vec<PathBuf>)> {
    let mut nodes = Nodes::default();
    if plan.validators == 1 {
        let data = dir.join("v0");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let genesis_path = dir.join("genesis.json");
        std::fs::write(&genesis_path, serde_json::to_string_pretty(&base)? + "\n")
            .with_context(|| format!("writing {}", genesis_path.display()))?;
        let log = std::fs::File::create(data.join("node.log"))
            .with_context(|| format!("creating {}", data.join("node.log").display()))?;
        let proposer = poai_chain::address_of(
            SigningKey::from_seed(ParamSet::MlDsa44, &seed(0x1, 0, 0))?.verifying_key(),
        );
        let child = std::process::Command::new(exe)
            .arg("node")
            .arg("--genesis")
            .arg(&genesis_path)
            .arg("--data")
            .arg(&data)
            .arg("--rpc")
            .arg("127.0.0.1:0")
            .arg("--block-ms")
            .arg(plan.block_ms.to_string())
            .arg("--proposer")
            .arg(proposer.to_string())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        nodes.0.push(child);
        return Ok((nodes, vec![data]));
    }
    let ports = cluster::free_ports(plan.validators)?;
    let c = cluster::prepare(dir, plan.validators, &ports, base)?;
    for i in 0..plan.validators {
        let child = c
            .node_command(exe, i, plan.block_ms)?
            .spawn()
            .with_context(|| format!("starting validator {i} ({})", exe.display()))?;
        nodes.0.push(child);
    }
    Ok((nodes, c.members.iter().map(|m| m.data.clone()).collect()))
}

async fn connect(nodes: &mut Nodes, data: &[PathBuf]) -> Result<Vec<NodeClient>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut clients = Vec::new();
    for (i, d) in data.iter().enumerate() {
        let url = cluster::wait_rpc_url(d, nodes.0.get_mut(i), deadline)?;
        clients.push(NodeClient::new(&url)?);
    }
    // Blocks flow once the validators found each other.
    for (i, c) in clients.iter().enumerate() {
        while c.chain_info().await.map(|x| x.height).unwrap_or(0) < 1 {
            if Instant::now() > deadline {
                bail!("node {i} produced no block in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(clients)
}

/// Batches of hex-encoded transactions as `poai_sendTransactions` parameters, serialized now:
/// the timed phase then spends the cores it shares with the validators on them, not on
/// escaping the client's requests ([`PreparedBatch`]).
fn prepare_batches(batches: Vec<Vec<String>>) -> Result<Vec<PreparedBatch>> {
    batches
        .into_iter()
        .map(|b| PreparedBatch::new(&b).context("serializing a batch"))
        .collect()
}

/// Sends `batches` round-robin, one call in flight per validator; returns, per batch, the
/// instant of its call and the results.
async fn send_round_robin(
    clients: &[NodeClient],
    batches: Vec<PreparedBatch>,
    pace: Option<Duration>,
    on_answer: impl Fn(usize, Instant, &[SubmitResult]) + Send + Sync + Clone + 'static,
) -> Result<Vec<Vec<SubmitResult>>> {
    let n = clients.len().max(1);
    let total = batches.len();
    let mut per: Vec<Vec<(usize, PreparedBatch)>> = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        if let Some(q) = per.get_mut(i % n) {
            q.push((i, b));
        }
    }
    let mut tasks = Vec::new();
    let start = tokio::time::Instant::now();
    for (c, q) in clients.iter().zip(per) {
        let (c, on_answer) = (c.clone(), on_answer.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (i, batch) in q {
                if let Some(p) = pace {
                    tokio::time::sleep_until(start + p.saturating_mul(u32::try_from(i)?)).await;
                }
                let sent = Instant::now();
                let r = c
                    .send_prepared(&batch)
                    .await
                    .with_context(|| format!("sendTransactions to {}", c.url()))?;
                on_answer(i, sent, &r);
                out.push((i, r));
            }
            anyhow::Ok(out)
        }));
    }
    let mut results: Vec<Vec<SubmitResult>> = vec![Vec::new(); total];
    for t in tasks {
        for (i, r) in t.await.context("sender task")?? {
            if let Some(slot) = results.get_mut(i) {
                *slot = r;
            }
        }
    }
    Ok(results)
}

fn refusals(results: &[Vec<SubmitResult>]) -> (usize, BTreeMap<String, usize>, Option<String>) {
    let mut admitted = 0;
    let mut refused = BTreeMap::new();
    let mut first = None;
    for r in results.iter().flatten() {
        match r {
            SubmitResult::Accepted(_) => admitted += 1,
            SubmitResult::Rejected { name, message } => {
                *refused.entry(name.clone()).or_insert(0) += 1;
                first.get_or_insert_with(|| format!("{name}: {message}"));
            }
        }
    }
    (admitted, refused, first)
}

/// Runs the benchmark in `dir` (which must not hold a previous run).
pub async fn bench(args: &BenchClusterArgs, dir: &Path) -> Result<ClusterReport> {
    let plan = Plan::new(args, poai_node::mempool::Limits::default().max_total)?;
    if dir.join("genesis.json").exists() {
        bail!(
            "{} holds a previous run; --data must be a new or empty directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let setup_started = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = loadavg();
    let exe = std::env::current_exe().context("finding the poai binary")?;

    let mut genesis =
        poai_node::devnet::devnet_genesis(poai_node::node::now_unix(), TIME_STEP_SECS);
    genesis.max_block_txs = u32::try_from(plan.proofs.max(20_000)).unwrap_or(u32::MAX);
    let chain_id = genesis.chain_id;
    eprintln!(
        "bench-cluster: {} validator(s), {} {} miners x {DEVICES_PER_MINER} devices, data {}",
        plan.validators,
        plan.miners,
        plan.param.name(),
        dir.display()
    );
    let (mut nodes, data) = start_nodes(&exe, dir, &plan, genesis)?;
    let clients = connect(&mut nodes, &data).await?;

    eprintln!(
        "bench-cluster: generating keys, signing {} registrations",
        plan.proofs
    );
    let param = plan.param;
    let keys = sign_all(plan.miners, |m| {
        Ok(SigningKey::from_seed(param, &seed(0x2, m, 0))?)
    })?;
    let regs = sign_all(plan.proofs, |j| {
        let (m, d) = (j / DEVICES_PER_MINER, j % DEVICES_PER_MINER);
        let key = keys.get(m).context("key")?;
        let body = TxBody {
            chain_id,
            nonce: u64::try_from(d)?,
            fee: 0,
            call: Call::RegisterDevice {
                evidence: dev_evidence(PrivacyLevel::Confidential, &device_seed(m, d)),
            },
        };
        Ok(hex::encode(
            Transaction::Account(SignedTx::sign(body, key)?).encode(),
        ))
    })?;
    // Whole miners per call: each validator then sees a miner's nonces 0..9 in order.
    let per_call = (plan.batch / DEVICES_PER_MINER).max(1) * DEVICES_PER_MINER;
    let batches: Vec<Vec<String>> = regs.chunks(per_call).map(<[String]>::to_vec).collect();
    let batches = prepare_batches(batches)?;
    drop(regs);
    eprintln!("bench-cluster: registering {} devices", plan.proofs);
    let results = send_round_robin(&clients, batches, None, |_, _, _| {}).await?;
    let (_, refused, first) = refusals(&results);
    if let Some(first) = first {
        bail!("setup: device registrations refused {refused:?}; first: {first}");
    }
    // Registered on every validator: each miner's account nonce reaches 10 (last miner first:
    // registrations are included roughly in order, so the rest are then mostly done).
    let done = u64::try_from(DEVICES_PER_MINER)?;
    let order: Vec<usize> = std::iter::once(plan.miners - 1)
        .chain(0..plan.miners - 1)
        .collect();
    for (v, c) in clients.iter().enumerate() {
        let mut last_progress = Instant::now();
        for &m in &order {
            let key = keys.get(m).context("key")?;
            let address = poai_chain::address_of(key.verifying_key());
            while c.account(address).await?.account.nonce < done {
                if last_progress.elapsed() > STALL {
                    bail!(
                        "setup: validator {v} has not registered miner {m}'s devices after {} s",
                        STALL.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            last_progress = Instant::now();
        }
    }

    // Estimate the signing time on a throwaway sample, then choose T for when it is done.
    let sample = (cores * 16).min(plan.proofs);
    let t = Instant::now();
    sign_all(sample, |j| {
        let key = keys.get(j / DEVICES_PER_MINER).context("key")?;
        proof_tx(key, chain_id, DeviceId([0; 32]), j, 0)
    })?;
    let estimate = t
        .elapsed()
        .mul_f64(plan.proofs as f64 / sample.max(1) as f64);
    let info = clients.first().context("no node")?.chain_info().await?;
    let step = info.dev_block_time_step.unwrap_or(TIME_STEP_SECS);
    let ahead = blocks_during(estimate, plan.block_ms);
    let window = ProofWindow::opening_at(
        info.next_block_time
            .saturating_add(ahead.saturating_mul(step)),
    );
    eprintln!(
        "bench-cluster: signing {} proofs (about {:.1} s), timestamp {} valid in block times {}..={}",
        plan.proofs,
        estimate.as_secs_f64(),
        window.timestamp,
        window.first_block_time,
        window.last_block_time
    );
    let proofs = sign_all(plan.proofs, |j| {
        let (m, d) = (j / DEVICES_PER_MINER, j % DEVICES_PER_MINER);
        let key = keys.get(m).context("key")?;
        let tx = proof_tx(
            key,
            chain_id,
            dev_device_id(&device_seed(m, d)),
            j,
            window.timestamp,
        )?;
        Ok((tx.hash(), hex::encode(tx.encode())))
    })?;
    let hashes: Vec<Hash32> = proofs.iter().map(|(h, _)| *h).collect();
    let batches: Vec<Vec<String>> = proofs
        .chunks(plan.batch)
        .map(|c| c.iter().map(|(_, raw)| raw.clone()).collect())
        .collect();
    drop(proofs);
    let batches = prepare_batches(batches)?;

    // Wait for the window to open on every validator.
    let mut next_block_time = 0;
    for c in &clients {
        loop {
            next_block_time = c.chain_info().await?.next_block_time;
            if next_block_time >= window.first_block_time {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    let v0 = clients.first().context("no node")?;
    let start_info = v0.chain_info().await?;
    let window_blocks_at_start =
        window.blocks_left(start_info.next_block_time.max(next_block_time), step);
    if window_blocks_at_start < 2 {
        bail!(
            "setup: signing outlasted the proofs' window; try fewer --proofs or a longer --block-ms"
        );
    }
    if let Some(needed) = paced_blocks(&plan)
        && needed > window_blocks_at_start
    {
        bail!(
            "--rate {}: sending {} proofs lasts about {needed} blocks of {} ms, more than the \
             {window_blocks_at_start} their window has left; raise --rate or send fewer --proofs",
            args.rate,
            plan.proofs,
            plan.block_ms
        );
    }
    let spent0 = v0.emission().await?.spent;
    let setup_s = setup_started.elapsed().as_secs_f64();
    eprintln!(
        "bench-cluster: setup {setup_s:.1} s; sending {} proofs in {} calls ({} blocks of window left)",
        plan.proofs,
        batches.len(),
        window_blocks_at_start
    );

    // Timed.
    let samples = sample_indices(plan.proofs, FINALITY_SAMPLES);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Hash32, usize, Instant)>();
    let batch = plan.batch;
    let n = plan.validators;
    let sample_hashes: BTreeMap<usize, Hash32> = samples
        .iter()
        .filter_map(|&i| hashes.get(i).map(|h| (i, *h)))
        .collect();
    let on_answer = move |b: usize, sent: Instant, results: &[SubmitResult]| {
        let lo = b * batch;
        for (i, h) in sample_hashes.range(lo..lo + results.len()) {
            if let Some(SubmitResult::Accepted(_)) = results.get(i - lo) {
                let _ = tx.send((*h, b % n, sent));
            }
        }
    };
    let poll_clients = clients.clone();
    let poller = tokio::spawn(async move {
        let mut pending: Vec<(Hash32, usize, Instant)> = Vec::new();
        let mut finality: Vec<f64> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        let mut open = true;
        while open || !pending.is_empty() {
            loop {
                match rx.try_recv() {
                    Ok(s) => pending.push(s),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            // One round: every pending sample at once, so a round lasts one call, not 100.
            let statuses = futures::future::join_all(pending.iter().map(|(h, v, _)| {
                let c = poll_clients.get(*v).cloned();
                let h = *h;
                async move {
                    let status = match c {
                        Some(c) => c.tx_status(h).await.ok(),
                        None => None,
                    };
                    (status, Instant::now())
                }
            }))
            .await;
            let mut still = Vec::new();
            for ((h, v, sent), (status, seen)) in pending.into_iter().zip(statuses) {
                match status {
                    Some(TxStatus::Included { .. }) => {
                        finality.push(seen.duration_since(sent).as_secs_f64() * 1000.0);
                    }
                    Some(TxStatus::Rejected { name, message }) => {
                        failed.push(format!("{h}: {name}: {message}"));
                    }
                    _ => still.push((h, v, sent)),
                }
            }
            pending = still;
            tokio::time::sleep(POLL).await;
        }
        (finality, failed)
    });

    let cpu0 = cpu_now(&nodes);
    let t0 = Instant::now();
    // Progress while the proofs flow, for the steady rate: proofs final on every validator.
    let (stop_progress, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let progress = tokio::spawn({
        let clients = clients.clone();
        async move {
            let mut samples: Vec<(f64, u64)> = Vec::new();
            loop {
                let all = futures::future::join_all(clients.iter().map(NodeClient::emission)).await;
                // A poll counts only if every validator answered it.
                let spent: Option<Vec<u64>> = all
                    .iter()
                    .map(|e| e.as_ref().ok().map(|e| e.spent))
                    .collect();
                if let Some(spent) = spent.and_then(|s| s.into_iter().min()) {
                    samples.push((t0.elapsed().as_secs_f64(), spent.saturating_sub(spent0)));
                }
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            samples
        }
    });
    let results = send_round_robin(&clients, batches, plan.pace, on_answer).await?;
    let submit_s = t0.elapsed().as_secs_f64();
    let (admitted, refused, first) = refusals(&results);
    if let Some(first) = &first {
        eprintln!("bench-cluster: nodes refused {refused:?}; first: {first} (a setup bug)");
    }
    let target = spent0.saturating_add(u64::try_from(admitted)?);
    let mut last = (spent0, Instant::now());
    let (wall_s, end_height) = loop {
        // The end: every validator has finalized every admitted proof.
        let all = futures::future::join_all(clients.iter().map(NodeClient::emission)).await;
        let mut spent = u64::MAX;
        let mut height = 0;
        for (i, e) in all.into_iter().enumerate() {
            let e = e.with_context(|| format!("emission status of validator {i}"))?;
            spent = spent.min(e.spent);
            if i == 0 {
                height = e.height;
            }
        }
        if spent >= target {
            break (t0.elapsed().as_secs_f64(), height);
        }
        if spent > last.0 {
            last = (spent, Instant::now());
        } else if last.1.elapsed() > STALL {
            bail!(
                "stalled: {} of {admitted} proofs finalized on every validator, none more for {} s \
                 (node logs: {}/v*/node.log)",
                spent.saturating_sub(spent0),
                STALL.as_secs(),
                dir.display()
            );
        }
        let info = v0.chain_info().await?;
        if info.next_block_time > window.last_block_time {
            bail!(
                "the proofs' window closed with {} of {admitted} finalized (try fewer --proofs, a higher --rate or a longer --block-ms)",
                spent.saturating_sub(spent0)
            );
        }
        tokio::time::sleep(POLL).await;
    };
    let cpu1 = cpu_now(&nodes);
    let _ = stop_progress.send(());
    let progress = progress.await.context("progress sampler")?;
    let steady = steady_rate(&progress, u64::try_from(admitted)?, STEADY.0, STEADY.1);
    let (mut finality, failed) = match tokio::time::timeout(Duration::from_secs(30), poller).await {
        Ok(r) => r.context("finality poller")?,
        Err(_) => bail!("finality poller: sampled proofs not final 30 s after the last one"),
    };
    for f in failed.iter().take(5) {
        eprintln!("bench-cluster: sampled proof rejected: {f}");
    }
    finality.sort_by(f64::total_cmp);

    // Not timed: proofs per block, from validator 0's store once the nodes stopped (a
    // single validator's block can hold every proof, more than one RPC response may carry).
    drop(nodes);
    let views_skipped = (plan.validators > 1).then(|| {
        (0..plan.validators)
            .filter_map(|i| {
                std::fs::read_to_string(dir.join(format!("v{i}")).join("node.log")).ok()
            })
            .map(|log| views_skipped_in(&log, start_info.height))
            .max()
            .unwrap_or(0)
    });
    let store = poai_node::Store::open(&dir.join("v0").join("chain.redb"))
        .context("opening validator 0's store")?;
    let mut per_block = Vec::new();
    for h in start_info.height.saturating_add(1)..=end_height {
        let b = store
            .block(h)?
            .with_context(|| format!("validator 0 has no block {h}"))?;
        if !b.txs.is_empty() {
            per_block.push(b.txs.len());
        }
    }
    drop(store);
    let blocks_used = u64::try_from(per_block.len())?;
    let included: usize = per_block.iter().sum();
    Ok(ClusterReport {
        validators: plan.validators,
        consensus: plan.validators > 1,
        param: plan.param.name().to_owned(),
        block_ms: plan.block_ms,
        batch: plan.batch,
        rate: (args.rate > 0).then_some(args.rate),
        proofs: plan.proofs,
        admitted,
        refused,
        proofs_per_s: admitted as f64 / wall_s,
        steady_proofs_per_s: steady,
        wall_s,
        submit_s,
        blocks_used,
        mean_proofs_per_block: included as f64 / per_block.len().max(1) as f64,
        max_proofs_per_block: per_block.iter().copied().max().unwrap_or(0),
        finality_samples: finality.len(),
        finality_p50_ms: percentile(&finality, 0.5),
        finality_p95_ms: percentile(&finality, 0.95),
        setup_s,
        window,
        window_blocks_at_start,
        cores,
        loadavg_before: load,
        views_skipped,
        node_cpu_us_per_proof: cpu_per_proof(cpu0.0, cpu1.0, admitted),
        client_cpu_us_per_proof: cpu_per_proof(cpu0.1, cpu1.1, admitted),
        data: dir.display().to_string(),
    })
}

/// Runs `poai bench-cluster` and prints the report.
pub fn run(args: BenchClusterArgs) -> Result<()> {
    Plan::new(&args, poai_node::mempool::Limits::default().max_total)?;
    let (dir, temporary) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "poai-bench-cluster-{}-{}",
                std::process::id(),
                poai_node::node::now_unix()
            )),
            true,
        ),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(bench(&args, &dir));
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            if dir.exists() {
                eprintln!(
                    "bench-cluster: failed; node logs kept in {}/v<i>/node.log",
                    dir.display()
                );
            }
            return Err(e);
        }
    };
    let logs = if temporary {
        let _ = std::fs::remove_dir_all(&dir);
        format!(
            "{}/v<i>/node.log (removed: temporary; pass --data to keep)",
            r.data
        )
    } else {
        format!("{}/v<i>/node.log", r.data)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    print_table(&r, &logs);
    Ok(())
}

fn print_table(r: &ClusterReport, logs: &str) {
    let ms = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"));
    let us = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} µs"));
    let mode = if r.consensus {
        "simplex BFT"
    } else {
        "single producer, no consensus"
    };
    let load = r
        .rate
        .map_or_else(|| "burst".to_owned(), |v| format!("offered {v} proofs/s"));
    println!(
        "{} validator(s) ({mode}), {} proofs ({}), block {} ms, batch {}, {load}",
        r.validators, r.proofs, r.param, r.block_ms, r.batch
    );
    let rows = [
        ("finalized proofs/s", format!("{:.0}", r.proofs_per_s)),
        (
            "finalized proofs/s, steady",
            r.steady_proofs_per_s.map_or_else(
                || "-".to_owned(),
                |v| {
                    format!(
                        "{v:.0} (from {:.0} % to {:.0} % final)",
                        STEADY.0 * 100.0,
                        STEADY.1 * 100.0
                    )
                },
            ),
        ),
        ("admitted", format!("{} of {}", r.admitted, r.proofs)),
        ("refused", format!("{:?}", r.refused)),
        (
            "wall (first send to last final)",
            format!("{:.2} s", r.wall_s),
        ),
        ("all batches answered", format!("{:.2} s", r.submit_s)),
        ("blocks used", r.blocks_used.to_string()),
        (
            "proofs per block (mean / max)",
            format!(
                "{:.1} / {}",
                r.mean_proofs_per_block, r.max_proofs_per_block
            ),
        ),
        ("finality p50", ms(r.finality_p50_ms)),
        ("finality p95", ms(r.finality_p95_ms)),
        ("finality samples", r.finality_samples.to_string()),
        (
            "views skipped (timed phase)",
            r.views_skipped
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
        ),
        (
            "CPU per proof: nodes / client",
            format!(
                "{} / {}",
                us(r.node_cpu_us_per_proof),
                us(r.client_cpu_us_per_proof)
            ),
        ),
        ("setup (untimed)", format!("{:.1} s", r.setup_s)),
        (
            "proof window left at start",
            format!("{} blocks", r.window_blocks_at_start),
        ),
        ("cores", r.cores.to_string()),
        ("load average before", r.loadavg_before.clone()),
        ("node logs", logs.to_owned()),
    ];
    for (k, v) in rows {
        println!("{k:<32} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poai_chain::machine::BlockCounters;
    use poai_chain::{BlockContext, Machine, State, TxError};

    fn args() -> BenchClusterArgs {
        BenchClusterArgs {
            validators: 4,
            proofs: 20_000,
            param: "65".into(),
            block_ms: 500,
            batch: 500,
            rate: 0,
            data: None,
            json: false,
        }
    }

    #[test]
    fn plan_rounds_to_whole_miners_and_names_the_bad_argument() {
        let p = Plan::new(
            &BenchClusterArgs {
                proofs: 2_005,
                ..args()
            },
            50_000,
        )
        .unwrap();
        assert_eq!((p.miners, p.proofs), (200, 2_000));
        assert_eq!(p.pace, None, "no --rate: a burst");
        let paced = Plan::new(
            &BenchClusterArgs {
                rate: 2_000,
                ..args()
            },
            50_000,
        )
        .unwrap();
        assert_eq!(
            paced.pace,
            Some(Duration::from_millis(250)),
            "500 per batch"
        );
        // 40 batches, one every 250 ms: 10 s of sending, 20 blocks of 500 ms and the last.
        assert_eq!(paced_blocks(&paced), Some(21));
        assert_eq!(paced_blocks(&p), None);
        assert_eq!(window_blocks(), 62);
        // 20,000 proofs at 300/s: 67 s, 134 blocks of 500 ms; the window has 62.
        assert_eq!(
            Plan::new(
                &BenchClusterArgs {
                    rate: 300,
                    ..args()
                },
                50_000
            )
            .unwrap_err(),
            ArgsError::Rate {
                rate: 300,
                blocks: 134,
                max: 62
            }
        );
        let bad = |a: BenchClusterArgs| Plan::new(&a, 50_000).unwrap_err();
        assert_eq!(
            bad(BenchClusterArgs {
                validators: 0,
                ..args()
            }),
            ArgsError::Validators(0)
        );
        assert_eq!(
            bad(BenchClusterArgs {
                proofs: 9,
                ..args()
            }),
            ArgsError::Proofs {
                got: 9,
                max: 50_000
            }
        );
        assert_eq!(
            bad(BenchClusterArgs {
                proofs: 50_010,
                ..args()
            }),
            ArgsError::Proofs {
                got: 50_010,
                max: 50_000
            }
        );
        assert_eq!(
            bad(BenchClusterArgs {
                param: "87".into(),
                ..args()
            }),
            ArgsError::Param("87".into())
        );
        assert_eq!(
            bad(BenchClusterArgs {
                batch: 513,
                ..args()
            }),
            ArgsError::Batch { got: 513, max: 512 }
        );
        assert_eq!(
            bad(BenchClusterArgs {
                block_ms: 0,
                ..args()
            }),
            ArgsError::BlockMs
        );
        assert_eq!(
            Plan::new(
                &BenchClusterArgs {
                    param: "ML-DSA-44".into(),
                    ..args()
                },
                50_000
            )
            .unwrap()
            .param,
            ParamSet::MlDsa44
        );
    }

    /// The window against the state machine itself: a proof signed for the window opening at
    /// block time `w` is refused one block before `w`, accepted at `w` and at the window's last
    /// block time, and refused one block after.
    #[test]
    fn proof_window_matches_the_machine_rules() {
        let genesis = poai_node::devnet::devnet_genesis(1_700_000_000, TIME_STEP_SECS);
        let chain_id = genesis.chain_id;
        let machine = Machine::new();
        let mut state = State::from_genesis(&genesis);
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[7; 32]).unwrap();
        let seed = device_seed(0, 3);
        let reg = Transaction::Account(
            SignedTx::sign(
                TxBody {
                    chain_id,
                    nonce: 0,
                    fee: 0,
                    call: Call::RegisterDevice {
                        evidence: dev_evidence(PrivacyLevel::Confidential, &seed),
                    },
                },
                &key,
            )
            .unwrap(),
        );
        let ts = Machine::next_timestamp(&state, 0);
        let ctx = BlockContext::next(&state, ts, genesis.treasury);
        let prepared = machine.prepare(&state, vec![reg]);
        let p = machine.propose(&mut state, ctx, &prepared);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        let registered_at = state.head().timestamp;

        // The earliest the benchmark can open the window: the next block after registration.
        let w = ProofWindow::opening_at(Machine::next_timestamp(&state, 0));
        assert_eq!(w.blocks_left(w.first_block_time, TIME_STEP_SECS), 62);
        assert!(
            w.timestamp >= registered_at + 60,
            "one whole minute since registration"
        );
        let tx = proof_tx(&key, chain_id, dev_device_id(&seed), 0, w.timestamp).unwrap();
        let prepared = machine.prepare(&state, vec![tx]).pop().unwrap();
        let check = |bt: u64| {
            let ctx = BlockContext {
                height: 2,
                timestamp: bt,
                proposer: genesis.treasury,
            };
            machine.check(&state, &ctx, &BlockCounters::default(), &prepared)
        };
        assert!(matches!(
            check(w.first_block_time - TIME_STEP_SECS),
            Err(TxError::ProofFromFuture { .. })
        ));
        check(w.first_block_time).unwrap();
        check(w.last_block_time).unwrap();
        assert!(matches!(
            check(w.last_block_time + TIME_STEP_SECS),
            Err(TxError::ProofExpired { .. })
        ));
        assert_eq!(w.blocks_left(w.last_block_time, TIME_STEP_SECS), 1);
        assert_eq!(w.blocks_left(w.last_block_time + 1, TIME_STEP_SECS), 0);
    }

    #[test]
    fn blocks_during_overestimates_with_a_margin() {
        assert_eq!(blocks_during(Duration::ZERO, 500), 2);
        // 10 s at 500 ms: 20 blocks, 30 with the margin, 32 with the two extra.
        assert_eq!(blocks_during(Duration::from_secs(10), 500), 32);
        assert_eq!(blocks_during(Duration::from_millis(1), 500), 3);
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A command name with spaces and a parenthesis; utime 250 and stime 31 ticks.
        let line = "4242 (poai (v 1)) S 1 4242 4242 0 -1 4194560 9 0 0 0 250 31 0 0 20 0 9 0";
        assert_eq!(cpu_of_stat(line), Some(Duration::from_millis(2810)));
        assert_eq!(cpu_of_stat("4242 (poai) S 1 2"), None);
        assert_eq!(cpu_of_stat("no parenthesis"), None);
        // This process has a /proc entry on Linux, and its CPU time only grows.
        if cfg!(target_os = "linux") {
            let a = process_cpu("self").expect("own /proc/self/stat");
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            let b = process_cpu("self").expect("own /proc/self/stat");
            assert!(b >= a);
        }
        assert_eq!(
            cpu_per_proof(
                Some(Duration::from_millis(100)),
                Some(Duration::from_millis(600)),
                1000
            ),
            Some(500.0)
        );
        assert_eq!(cpu_per_proof(None, Some(Duration::ZERO), 1), None);
        assert_eq!(
            cpu_per_proof(Some(Duration::ZERO), Some(Duration::ZERO), 0),
            None
        );
    }

    #[test]
    fn skipped_views_are_counted_from_the_timed_phase_on() {
        let log = [
            crate::watch::skipped_line(0, 1, 0, "account 01"),
            "relay: block 00 at height 31 misses 5 of 9 transactions".to_owned(),
            crate::watch::skipped_line(0, 33, 31, "account 02"),
            crate::watch::skipped_line(0, 40, 38, "account 01"),
            "poai node: stopped at height 40 (40000 signatures checked, 3 views skipped)"
                .to_owned(),
        ]
        .join("\n");
        assert_eq!(views_skipped_in(&log, 31), 2);
        assert_eq!(views_skipped_in(&log, 0), 3);
        assert_eq!(views_skipped_in(&log, 39), 0);
    }

    /// The steady rate is the slope between the samples that first reach each fraction, and
    /// there is none without two distinct samples in range.
    #[test]
    fn steady_rate_is_the_slope_between_the_fractions() {
        // 1,000 proofs: nothing for 0.5 s, then 100 per 0.1 s, each sample 0.1 s apart.
        let samples: Vec<(f64, u64)> = (0..=15u32)
            .map(|i| {
                let t = f64::from(i) * 0.1;
                (t, u64::from(i.saturating_sub(5)) * 100)
            })
            .collect();
        // 20 % (200) first at 0.7 s, 80 % (800) first at 1.3 s: 600 proofs in 0.6 s.
        let r = steady_rate(&samples, 1_000, 0.2, 0.8).unwrap();
        assert!((r - 1_000.0).abs() < 1e-6, "{r}");
        // The whole run, from the first sample (0 final) to the last.
        let r = steady_rate(&samples, 1_000, 0.0, 1.0).unwrap();
        assert!((r - 1_000.0 / 1.5).abs() < 1e-6, "{r}");
        // Never reached, one sample for both, nothing sampled.
        assert_eq!(steady_rate(&samples, 2_000, 0.2, 0.8), None);
        assert_eq!(steady_rate(&[(1.0, 1_000)], 1_000, 0.2, 0.8), None);
        assert_eq!(steady_rate(&[], 1_000, 0.2, 0.8), None);
    }

    #[test]
    fn percentiles_and_samples() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&[3.0], 0.95), Some(3.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(sample_indices(1_000, 100).len(), 100);
        assert_eq!(sample_indices(1_000, 100)[..3], [0, 10, 20]);
        assert_eq!(sample_indices(5, 100), vec![0, 1, 2, 3, 4]);
    }
}
