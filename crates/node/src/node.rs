//! The running node: state, storage, mempool, block producer, RPC server and metrics.
//!
//! Single-validator mode: the node proposes a block every `block_interval`, applies it with
//! [`poai_chain::Machine::propose`] and commits it to redb in one write transaction before it
//! is visible to RPC. The state lock is held from execution to commit, so readers never see a
//! state that is not on disk. Lock order is always state, then mempool.

use crate::mempool::{Limits, Mempool};
use crate::metrics::Metrics;
use crate::rpc::{PoaiApiServer, RpcServerImpl};
use crate::storage::Store;
use anyhow::{Context, Result};
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use poai_chain::{BlockContext, Genesis, Machine, State, TxError, TxHash};
use poai_primitives::Address;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The chain's genesis.
    pub genesis: Genesis,
    /// The data directory (the database is `chain.redb` in it).
    pub data_dir: PathBuf,
    /// JSON-RPC listen address (127.0.0.1 by default; port 0 picks a free one).
    pub rpc_addr: SocketAddr,
    /// Prometheus listen address, if any.
    pub metrics_addr: Option<SocketAddr>,
    /// Time between blocks.
    pub block_interval: Duration,
    /// This validator's address (paid the fees).
    pub proposer: Address,
    /// Largest JSON-RPC request body.
    pub max_request_bytes: u32,
    /// Mempool limits.
    pub limits: Limits,
    /// Stop after committing this height (devnets, tests).
    pub stop_at_height: Option<u64>,
}

impl NodeConfig {
    /// Defaults for `genesis` in `data_dir`: RPC on 127.0.0.1 with a free port, no metrics, one
    /// block a second.
    pub fn new(genesis: Genesis, data_dir: PathBuf) -> Self {
        Self {
            genesis,
            data_dir,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: None,
            block_interval: Duration::from_secs(1),
            proposer: Address::default(),
            max_request_bytes: 8 * 1024 * 1024,
            limits: Limits::default(),
            stop_at_height: None,
        }
    }
}

/// Most rejections remembered for `poai_txStatus`.
const MAX_REJECTIONS: usize = 100_000;

/// Rejections of transactions left out of blocks, oldest forgotten first.
#[derive(Default)]
pub struct Rejections {
    map: HashMap<TxHash, TxError>,
    order: VecDeque<TxHash>,
}

impl Rejections {
    fn insert(&mut self, h: TxHash, e: TxError) {
        if self.map.insert(h, e).is_none() {
            self.order.push_back(h);
        }
        while self.order.len() > MAX_REJECTIONS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    /// Why `h` was left out, if it was.
    pub fn get(&self, h: &TxHash) -> Option<&TxError> {
        self.map.get(h)
    }
}

/// What every part of the node shares.
pub struct Shared {
    /// The state machine.
    pub machine: Machine,
    /// The database.
    pub store: Store,
    state: RwLock<State>,
    mempool: Mutex<Mempool>,
    rejections: Mutex<Rejections>,
    /// Metrics.
    pub metrics: Metrics,
    proposer: Address,
    height: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave these structures half-updated in a way that
    // matters more than stopping the node would; keep serving.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wall-clock seconds (only the proposer reads the clock, to stamp blocks).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Shared {
    /// Read access to the state.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The mempool.
    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        lock(&self.mempool)
    }

    /// Rejections of transactions left out of blocks.
    pub fn rejections(&self) -> MutexGuard<'_, Rejections> {
        lock(&self.rejections)
    }

    /// The context the next block would have if produced now.
    pub fn next_context(&self, state: &State) -> BlockContext {
        BlockContext::next(
            state,
            Machine::next_timestamp(state, now_unix()),
            self.proposer,
        )
    }

    /// Checks and admits raw transactions; one result per input, in order.
    pub fn submit(&self, txs: Vec<poai_chain::Transaction>) -> Vec<Result<TxHash, TxError>> {
        let state = self.state();
        let prepared = self.machine.prepare(&state, txs);
        let ctx = self.next_context(&state);
        let mut pool = self.mempool();
        let out: Vec<_> = prepared
            .into_iter()
            .map(|p| {
                let r = pool.admit(&self.machine, &state, &ctx, p);
                if let Err(e) = &r {
                    self.metrics
                        .txs_rejected
                        .with_label_values(&[e.name()])
                        .inc();
                }
                r
            })
            .collect();
        self.metrics
            .mempool
            .set(i64::try_from(pool.len()).unwrap_or(i64::MAX));
        out
    }

    /// Builds, executes and commits one block. Returns its height.
    pub fn produce_block(&self) -> Result<u64> {
        let started = Instant::now();
        let max = {
            let s = self.state();
            usize::try_from(s.genesis().max_block_txs).unwrap_or(usize::MAX)
        };
        let candidates = self.mempool().candidates(max);
        let mut state = self.state_mut();
        let ctx = self.next_context(&state);
        let proposal = self.machine.propose(&mut state, ctx, &candidates);
        let changes = state.changes();
        if let Err(e) =
            self.store
                .commit_block(&proposal.block, &proposal.receipts, &changes, &state.meta())
        {
            state.rollback();
            return Err(e.context(format!("committing block {}", ctx.height)));
        }
        state.clear_journal();
        let mut pool = self.mempool();
        pool.remove(proposal.receipts.iter().map(|r| r.tx_hash));
        pool.remove(proposal.rejected.iter().map(|(h, _)| *h));
        {
            let mut rej = self.rejections();
            for (h, e) in &proposal.rejected {
                self.metrics
                    .txs_rejected
                    .with_label_values(&[e.name()])
                    .inc();
                rej.insert(*h, e.clone());
            }
        }
        let m = &self.metrics;
        m.mempool.set(i64::try_from(pool.len()).unwrap_or(i64::MAX));
        drop(pool);
        drop(state);
        m.height.set(i64::try_from(ctx.height).unwrap_or(i64::MAX));
        m.blocks.inc();
        m.txs_included
            .inc_by(u64::try_from(proposal.receipts.len()).unwrap_or(0));
        let mined = proposal
            .receipts
            .iter()
            .filter(|r| matches!(r.outcome, poai_chain::Outcome::Mined { .. }))
            .count();
        m.proofs_accepted.inc_by(u64::try_from(mined).unwrap_or(0));
        m.block_seconds.observe(started.elapsed().as_secs_f64());
        self.height.send_replace(ctx.height);
        Ok(ctx.height)
    }
}

/// A started node.
pub struct NodeHandle {
    /// Where JSON-RPC listens.
    pub rpc_addr: SocketAddr,
    /// Where metrics are served.
    pub metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    server: ServerHandle,
    stop: watch::Sender<bool>,
    producer: tokio::task::JoinHandle<Result<()>>,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
}

impl NodeHandle {
    /// The shared state (for in-process tools such as the devnet).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Watches the head height.
    pub fn heights(&self) -> watch::Receiver<u64> {
        self.shared.height.subscribe()
    }

    /// Waits until block production ends (stop height reached, or an error).
    pub async fn wait_producer(&mut self) -> Result<()> {
        (&mut self.producer)
            .await
            .context("block producer panicked")?
    }

    /// Stops producing blocks, stops the RPC server and waits for both.
    pub async fn stop(self) -> Result<()> {
        self.stop.send_replace(true);
        let produced = self.producer.await;
        let _ = self.server.stop();
        self.server.stopped().await;
        if let Some(t) = self.metrics_task {
            t.abort();
        }
        produced.context("block producer panicked")?
    }
}

/// Opens the chain in `cfg.data_dir` and starts producing blocks and serving RPC.
pub async fn start(cfg: NodeConfig, machine: Machine) -> Result<NodeHandle> {
    cfg.genesis
        .validate()
        .map_err(|e| anyhow::anyhow!("genesis: {e}"))?;
    let store = Store::open(&cfg.data_dir.join("chain.redb"))?;
    let state = store.open_chain(&cfg.genesis)?;
    let head = state.head().height;
    let metrics = Metrics::new().context("registering metrics")?;
    metrics.height.set(i64::try_from(head).unwrap_or(i64::MAX));
    let (height, _) = watch::channel(head);
    let shared = Arc::new(Shared {
        machine,
        store,
        state: RwLock::new(state),
        mempool: Mutex::new(Mempool::new(cfg.limits)),
        rejections: Mutex::new(Rejections::default()),
        metrics,
        proposer: cfg.proposer,
        height,
    });

    let rpc_config = ServerConfig::builder()
        .max_request_body_size(cfg.max_request_bytes)
        .max_response_body_size(64 * 1024 * 1024)
        .build();
    let server = Server::builder()
        .set_config(rpc_config)
        .build(cfg.rpc_addr)
        .await
        .with_context(|| format!("binding JSON-RPC on {}", cfg.rpc_addr))?;
    let rpc_addr = server.local_addr()?;
    let mut module = RpcServerImpl::new(shared.clone()).into_rpc();
    module
        .merge(crate::ai_rpc::AiApiServer::into_rpc(
            crate::ai_rpc::AiRpcImpl::new(shared.clone()),
        ))
        .context("merging the AI VM RPC methods")?;
    let server = server.start(module);

    let metrics_task = match cfg.metrics_addr {
        Some(addr) => {
            let (bound, task) = shared
                .metrics
                .serve(addr)
                .await
                .with_context(|| format!("binding metrics on {addr}"))?;
            Some((bound, task))
        }
        None => None,
    };
    let (stop, stop_rx) = watch::channel(false);
    let producer = tokio::spawn(produce_loop(
        shared.clone(),
        cfg.block_interval,
        cfg.stop_at_height,
        stop_rx,
    ));
    Ok(NodeHandle {
        rpc_addr,
        metrics_addr: metrics_task.as_ref().map(|(a, _)| *a),
        shared,
        server,
        stop,
        producer,
        metrics_task: metrics_task.map(|(_, t)| t),
    })
}

async fn produce_loop(
    shared: Arc<Shared>,
    interval: Duration,
    stop_at: Option<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        if stop_at.is_some_and(|h| *shared.height.borrow() >= h) {
            return Ok(());
        }
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return Ok(()),
        }
        if *stop.borrow() {
            return Ok(());
        }
        let s = shared.clone();
        tokio::task::spawn_blocking(move || s.produce_block())
            .await
            .context("block production panicked")??;
    }
}
