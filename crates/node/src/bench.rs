//! `poai bench`: signed work proofs per second through decoding, signature verification,
//! execution and commit, with the time of each phase (docs/PERFORMANCE.md).
//!
//! Setup (not timed): a devnet-style genesis with 3600 s of chain time per block, `miners` keys,
//! one block registering a dev device per miner, then `proofs` proof transactions, 10 per miner
//! per block (the SPEC limit), spaced 60 s apart and claiming one minute each, so every one is
//! valid. Timed, per block: decode (bytes as they arrive over RPC), verify (batch ML-DSA across
//! all cores), execute (every rule, payouts, state root), commit (encode and one redb write
//! transaction, fsync).

use crate::devnet::devnet_genesis;
use crate::storage::Store;
use anyhow::{Context, Result, bail};
use clap::Args;
use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::{BlockContext, Call, Machine, ProofTx, SignedTx, Transaction, TxBody};
use poai_crypto::{ParamSet, SigningKey};
use poai_primitives::{Nonce, PrivacyLevel, WorkProof};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `poai bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Proofs to push through (rounded down to whole blocks of 10 per miner).
    #[arg(long, default_value_t = 10_000)]
    pub proofs: usize,
    /// Miners (each with one device); a block holds 10 proofs of each.
    #[arg(long, default_value_t = 1_000)]
    pub miners: usize,
    /// ML-DSA parameter set of the miners' keys: 44, 65 or 87.
    #[arg(long, default_value = "65")]
    pub param: String,
    /// Directory for the database (default: a temporary one, removed after).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where signatures are verified: cpu, gpu (CUDA; fails without one) or auto.
    #[arg(long, default_value_t = poai_gpu::Backend::Auto)]
    pub verify_backend: poai_gpu::Backend,
}

/// The measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Proofs measured.
    pub proofs: usize,
    /// Blocks they filled.
    pub blocks: usize,
    /// Parameter set.
    pub param: String,
    /// Threads available to batch verification.
    pub threads: usize,
    /// What verified the signatures: `cpu` or the GPU.
    pub verify_backend: String,
    /// Seconds decoding.
    pub decode_s: f64,
    /// Seconds verifying signatures.
    pub verify_s: f64,
    /// Seconds executing.
    pub execute_s: f64,
    /// Seconds committing.
    pub commit_s: f64,
    /// Proofs per second through verify, execute and commit.
    pub proofs_per_s: f64,
    /// Proofs per second including decode.
    pub proofs_per_s_with_decode: f64,
}

/// `f(0..n)` on every core, in order (signing thousands of transactions for a benchmark's
/// setup); the first error wins.
pub fn sign_all<T: Send>(n: usize, f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = n.div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<T>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    let lo = t.saturating_mul(chunk).min(n);
                    let hi = lo.saturating_add(chunk).min(n);
                    (lo..hi).map(f).collect::<Result<Vec<T>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("signer panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(n);
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// A signed Confidential proof of one compute minute at `timestamp` for `device`, paid to the
/// miner's own address (the benches' workload).
pub fn one_minute_proof(
    key: &SigningKey,
    chain_id: poai_primitives::ChainId,
    device: poai_primitives::DeviceId,
    nonce: [u8; 32],
    timestamp: u64,
) -> Result<Transaction> {
    let proof = WorkProof {
        device_id: device,
        nonce: Nonce(nonce),
        timestamp,
        privacy_level: PrivacyLevel::Confidential,
        compute_minutes: 1,
        tee_evidence: Vec::new(),
    };
    let beneficiary = poai_chain::address_of(key.verifying_key());
    Ok(Transaction::Proof(ProofTx::sign(
        proof,
        beneficiary,
        chain_id,
        key,
    )?))
}

/// Runs the benchmark.
pub fn bench(args: &BenchArgs) -> Result<BenchReport> {
    let param: ParamSet = args.param.parse()?;
    let per_block = args
        .miners
        .saturating_mul(poai_chain::MAX_PROOFS_PER_MINER_PER_BLOCK);
    let blocks = args.proofs.checked_div(per_block).unwrap_or(0);
    if blocks == 0 {
        bail!("--proofs must be at least 10 × --miners ({per_block})");
    }
    let tmp;
    let dir = match &args.data {
        Some(d) => d.clone(),
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    let step = 3600u64;
    let mut genesis = devnet_genesis(1_700_000_000, step);
    genesis.max_block_txs = u32::try_from(per_block.max(args.miners)).unwrap_or(u32::MAX);
    let store = Store::open(&dir.join("chain.redb"))?;
    let (machine, backend_label) =
        crate::sigverify::with_backend(Machine::new(), args.verify_backend)?;
    let mut state = store.open_chain(&genesis, &machine)?;
    let chain_id = genesis.chain_id;

    eprintln!("bench: generating {} {param} keys", args.miners);
    let keys = sign_all(args.miners, |i| {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
        Ok(SigningKey::from_seed(param, &seed)?)
    })?;
    let seed_of = |i: usize| {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&(i as u64).to_be_bytes());
        s[8] = 0xd;
        s
    };
    let regs = sign_all(args.miners, |i| {
        let key = keys.get(i).context("key")?;
        let body = TxBody {
            chain_id,
            nonce: 0,
            fee: 0,
            call: Call::RegisterDevice {
                evidence: dev_evidence(PrivacyLevel::Confidential, &seed_of(i)),
            },
        };
        Ok(Transaction::Account(SignedTx::sign(body, key)?))
    })?;
    let run_block = |state: &mut poai_chain::State,
                     txs: Vec<Transaction>,
                     times: &mut [Duration; 4]|
     -> Result<usize> {
        let raw: Vec<Vec<u8>> = txs.iter().map(Transaction::encode).collect();
        drop(txs);
        let t0 = Instant::now();
        let decoded = raw
            .iter()
            .map(|b| Transaction::decode(b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("decode: {e}"))?;
        let t1 = Instant::now();
        let prepared = machine.prepare(state, decoded);
        let t2 = Instant::now();
        let ts = Machine::next_timestamp(state, 0);
        let ctx = BlockContext::next(state, ts, genesis.treasury);
        let proposal = machine.propose(state, ctx, &prepared);
        let t3 = Instant::now();
        let changes = state.changes();
        store.commit_block(&proposal.block, &proposal.receipts, &changes, &state.meta())?;
        state.clear_journal();
        let t4 = Instant::now();
        if let Some((h, e)) = proposal.rejected.first() {
            bail!("bench transaction {h} rejected: {e}");
        }
        for (slot, d) in times.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
            *slot += d;
        }
        Ok(proposal.receipts.len())
    };
    let mut ignored = [Duration::ZERO; 4];
    run_block(&mut state, regs, &mut ignored)?;
    store.flush()?;
    let registered_at = state.head().timestamp;

    let mut times = [Duration::ZERO; 4];
    let mut total = 0usize;
    for b in 0..blocks {
        eprintln!(
            "bench: signing block {} of {blocks} ({per_block} proofs)",
            b + 1
        );
        // Block b+2 has time registered_at + (b+1)·3600; its proofs are the 10 minutes after
        // the previous block's, so each claims one whole minute since the one before.
        let base = registered_at.saturating_add((b as u64).saturating_mul(step));
        let txs = sign_all(per_block, |j| {
            let miner = j / poai_chain::MAX_PROOFS_PER_MINER_PER_BLOCK;
            let k = (j % poai_chain::MAX_PROOFS_PER_MINER_PER_BLOCK) as u64;
            let key = keys.get(miner).context("key")?;
            let mut nonce = [0u8; 32];
            nonce[..8].copy_from_slice(&(b as u64).to_be_bytes());
            nonce[8..16].copy_from_slice(&k.to_be_bytes());
            one_minute_proof(
                key,
                chain_id,
                dev_device_id(&seed_of(miner)),
                nonce,
                base + step - 600 + 60 * (k + 1),
            )
        })?;
        total += run_block(&mut state, txs, &mut times)?;
    }
    // The state tables are written every few blocks (`STATE_FLUSH_BLOCKS`); the write of what
    // the timed blocks left pending counts as their commit.
    let t = Instant::now();
    store.flush()?;
    times[3] += t.elapsed();
    let secs = |d: Duration| d.as_secs_f64();
    let core = secs(times[1] + times[2] + times[3]);
    let all = core + secs(times[0]);
    Ok(BenchReport {
        proofs: total,
        blocks,
        param: param.name().to_owned(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        verify_backend: backend_label,
        decode_s: secs(times[0]),
        verify_s: secs(times[1]),
        execute_s: secs(times[2]),
        commit_s: secs(times[3]),
        proofs_per_s: total as f64 / core,
        proofs_per_s_with_decode: total as f64 / all,
    })
}

/// Runs `poai bench` and prints the report.
pub fn run(args: BenchArgs) -> Result<()> {
    let r = bench(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let pct = |x: f64| 100.0 * x / (r.decode_s + r.verify_s + r.execute_s + r.commit_s);
    println!(
        "{} proofs ({}) in {} blocks on {} threads, signatures on {}",
        r.proofs, r.param, r.blocks, r.threads, r.verify_backend
    );
    println!("phase     seconds   share");
    for (name, s) in [
        ("decode", r.decode_s),
        ("verify", r.verify_s),
        ("execute", r.execute_s),
        ("commit", r.commit_s),
    ] {
        println!("{name:<9} {s:>7.3}  {:>5.1}%", pct(s));
    }
    println!(
        "{:.0} proofs/s through verify+execute+commit; {:.0} proofs/s including decode",
        r.proofs_per_s, r.proofs_per_s_with_decode
    );
    Ok(())
}

/// A temporary directory removed on drop (no extra dependency for one use).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "poai-bench-{}-{}",
            std::process::id(),
            crate::node::now_unix()
        ));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
