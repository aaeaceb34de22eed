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
use std::collections::{HashMap, HashSet, VecDeque};
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
    /// The data directory (the database is `chain.redb` in it, block bodies `chain.blocks`).
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
    /// Whether this node produces blocks itself (single-validator mode). A validator of a BFT
    /// set (`poai-consensus`) turns this off: blocks then arrive through
    /// [`Shared::commit_finalized`].
    pub produce_blocks: bool,
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
            produce_blocks: true,
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
    /// Transactions admitted from this node's RPC, waiting to be gossiped to the other
    /// validators; `None` in single-validator mode (nothing to gossip).
    outbox: Mutex<Option<Vec<(TxHash, poai_chain::Transaction)>>>,
    /// Hashes of transactions whose signatures an admission is checking right now, so that a
    /// peer's copy arriving meanwhile (gossip and a relay answer carry the same ones) is not
    /// checked a second time.
    checking: Mutex<HashSet<TxHash>>,
    /// Threads of their own for the signature checks a waiting block needs (relay answers),
    /// started on first use: on rayon's global pool they would queue behind every gossip and
    /// RPC admission submitted before them.
    urgent: std::sync::OnceLock<Option<rayon::ThreadPool>>,
    /// The data directory's files, released from the page cache after each commit.
    page_cache: crate::os::PageCache,
}

/// Where transactions being admitted come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// This node's RPC: gossiped to the peers once admitted.
    Client,
    /// A peer's gossip.
    Gossip,
    /// A peer's answer to this node's request for a waiting block's transactions.
    Wanted,
}

/// The hashes one admission claimed in [`Shared`]'s set of transactions being checked; they
/// leave the set when this is dropped (after admission, or if it unwinds).
#[must_use = "the hashes leave the set when this is dropped"]
pub struct Checking<'a> {
    set: &'a Mutex<HashSet<TxHash>>,
    claimed: Vec<TxHash>,
}

impl<'a> Checking<'a> {
    /// Claims every hash without an early answer. A hash another admission holds is answered
    /// `Ok` (left to that one) when `defer` is set, and checked again otherwise (a client's
    /// own submission gets its own verdict).
    fn claim(
        set: &'a Mutex<HashSet<TxHash>>,
        hashes: &[TxHash],
        answers: &mut [Option<Result<TxHash, TxError>>],
        defer: bool,
    ) -> Self {
        let mut held = lock(set);
        let mut claimed = Vec::new();
        for (h, a) in hashes.iter().zip(answers.iter_mut()) {
            if a.is_some() {
                continue;
            }
            if held.insert(*h) {
                claimed.push(*h);
            } else if defer {
                *a = Some(Ok(*h));
            }
        }
        Self { set, claimed }
    }
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        let mut held = lock(self.set);
        for h in &self.claimed {
            held.remove(h);
        }
    }
}

/// Whether an admission result refuses a transaction only because this node is behind where it
/// came from, so that it may be admitted after a later commit here: its nonce is ahead of the
/// sender's next one (an earlier transaction of the sender has not arrived yet), or it is a
/// proof of a device not registered here (the block that registers it can be final at the
/// sender's validator, whose miner then proves at once, and not yet here).
pub fn ahead_of_head(r: &Result<TxHash, TxError>) -> bool {
    match r {
        Err(TxError::BadNonce { expected, got }) => got > expected,
        Err(TxError::UnknownDevice { .. }) => true,
        _ => false,
    }
}

/// Locks `m`, taking over a lock that a panicked thread held.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

    /// Checks and admits raw transactions; one result per input, in order. With gossip
    /// enabled ([`Shared::enable_gossip`]) newly admitted ones are queued for the peers.
    pub fn submit(&self, txs: Vec<poai_chain::Transaction>) -> Vec<Result<TxHash, TxError>> {
        self.admit(txs, Source::Client).0
    }

    /// Admits transactions a peer gossiped: as [`Shared::submit`], never gossiped again (every
    /// validator gossips only what its own clients sent, so nothing circulates). One that
    /// another admission is checking right now is left to it (answered `Ok`). Also returns the
    /// transactions refused only because this node is behind the sender ([`ahead_of_head`]: a
    /// nonce ahead of the next one here, a proof of a device whose registration is not final
    /// here yet): the caller offers them again after the next commit.
    pub fn submit_from_peer(
        &self,
        txs: Vec<poai_chain::Transaction>,
    ) -> (Vec<Result<TxHash, TxError>>, Vec<poai_chain::Transaction>) {
        self.admit(txs, Source::Gossip)
    }

    /// Admits transactions a peer sent because a block here waits for them (the relay's
    /// answer): as [`Shared::submit_from_peer`], except that each gets its own verdict even if
    /// another admission is checking it (a block is waiting; that admission may be behind a
    /// queue of gossip).
    pub fn submit_wanted(&self, txs: Vec<poai_chain::Transaction>) -> Vec<Result<TxHash, TxError>> {
        let pool = self.urgent.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .thread_name(|i| format!("poai-urgent-{i}"))
                .build()
                .ok()
        });
        match pool {
            Some(pool) => pool.install(|| self.admit(txs, Source::Wanted).0),
            // Could not start threads: the global pool still checks them.
            None => self.admit(txs, Source::Wanted).0,
        }
    }

    /// Marks `hashes` as being checked until the guard drops, as an admission does while it
    /// checks them: [`Shared::checking`] reports them and peers' copies are left alone. For
    /// code that checks transactions outside admission, and for tests of what reads the set.
    pub fn hold_checking(&self, hashes: &[TxHash]) -> Checking<'_> {
        let mut answers = vec![None; hashes.len()];
        Checking::claim(&self.checking, hashes, &mut answers, false)
    }

    /// Which of `hashes` an admission is checking right now: they reach the mempool (or are
    /// refused) when it ends, so a block that lists them need not ask a peer for them.
    pub fn checking(&self, hashes: &[TxHash]) -> Vec<bool> {
        let held = lock(&self.checking);
        hashes.iter().map(|h| held.contains(h)).collect()
    }

    /// Turns on the gossip outbox (multi-validator mode).
    pub fn enable_gossip(&self) {
        let mut o = lock(&self.outbox);
        if o.is_none() {
            *o = Some(Vec::new());
        }
    }

    /// Takes the transactions waiting to be gossiped, with their hashes.
    pub fn take_gossip(&self) -> Vec<(TxHash, poai_chain::Transaction)> {
        lock(&self.outbox)
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn admit(
        &self,
        txs: Vec<poai_chain::Transaction>,
        source: Source,
    ) -> (Vec<Result<TxHash, TxError>>, Vec<poai_chain::Transaction>) {
        let to_gossip = source == Source::Client;
        let state = self.state();
        // What is decided without a signature check is answered here, before the checks, which
        // are most of admission's cost: a transaction already waiting (a peer gossiping it
        // again) is admitted as it stands; one whose work id or nonce is used is refused (a
        // copy arriving after its block was final); a peer's copy of one another admission is
        // checking right now is left to that admission (its answer goes to nobody anyway).
        let hashes = Machine::tx_hashes(&txs);
        let settled: Vec<Option<TxError>> =
            txs.iter().map(|tx| Machine::settled(&state, tx)).collect();
        let mut early_answer: Vec<Option<Result<TxHash, TxError>>> = {
            let pool = self.mempool();
            hashes
                .iter()
                .zip(settled)
                .map(|(h, settled)| {
                    if pool.contains(h) {
                        Some(Ok(*h))
                    } else {
                        settled.map(Err)
                    }
                })
                .collect()
        };
        let checking = Checking::claim(
            &self.checking,
            &hashes,
            &mut early_answer,
            source == Source::Gossip,
        );
        let (mut fresh, mut fresh_hashes) = (Vec::new(), Vec::new());
        for ((tx, h), a) in txs.into_iter().zip(&hashes).zip(&early_answer) {
            if a.is_none() {
                fresh.push(tx);
                fresh_hashes.push(*h);
            }
        }
        let mut prepared = self
            .machine
            .prepare_hashed(&state, fresh, fresh_hashes)
            .into_iter();
        let ctx = self.next_context(&state);
        let mut outbox = lock(&self.outbox);
        let mut outbox = outbox.as_mut().filter(|_| to_gossip);
        let mut pool = self.mempool();
        let mut early = Vec::new();
        let out: Vec<_> = hashes
            .iter()
            .zip(early_answer)
            .map(|(h, answer)| {
                // Prepared in order, one per transaction without an early answer.
                let p = match answer {
                    Some(a) => {
                        if let Err(e) = &a {
                            self.metrics
                                .txs_rejected
                                .with_label_values(&[e.name()])
                                .inc();
                        }
                        return a;
                    }
                    None => match prepared.next() {
                        Some(p) => p,
                        None => return Ok(*h),
                    },
                };
                let fresh = !pool.contains(&p.hash());
                let tx = outbox
                    .as_ref()
                    .filter(|_| fresh)
                    .map(|_| (p.hash(), p.tx().clone()));
                // A peer's transaction that may be early ([`ahead_of_head`]) is copied before
                // admission takes it: an account transaction (it carries a nonce), or a proof
                // of a device not registered here. Other proofs, the bulk, are not copied.
                let maybe_early = match (to_gossip, p.tx()) {
                    (false, t @ poai_chain::Transaction::Account(_)) => Some(t.clone()),
                    (false, t @ poai_chain::Transaction::Proof(_)) if p.device_unknown() => {
                        Some(t.clone())
                    }
                    _ => None,
                };
                let r = pool.admit(&self.machine, &state, &ctx, p);
                if let Some(t) = maybe_early.filter(|_| ahead_of_head(&r)) {
                    early.push(t);
                }
                match (&r, tx, outbox.as_mut()) {
                    (Ok(_), Some(tx), Some(o)) => o.push(tx),
                    (Err(e), _, _) => self
                        .metrics
                        .txs_rejected
                        .with_label_values(&[e.name()])
                        .inc(),
                    _ => {}
                }
                r
            })
            .collect();
        drop(checking);
        self.metrics
            .mempool
            .set(i64::try_from(pool.len()).unwrap_or(i64::MAX));
        (out, early)
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
        self.after_commit(
            state,
            &proposal.block,
            &proposal.receipts,
            &proposal.rejected,
            started,
        );
        Ok(ctx.height)
    }

    /// Commits a block that consensus finalized: `state` is the state after it (executed on
    /// the previous finalized state, journal already taken into `changes`). Written to redb in
    /// one transaction, then made the state RPC and the mempool see.
    pub fn commit_finalized(
        &self,
        block: &poai_chain::Block,
        receipts: &[poai_chain::Receipt],
        changes: &poai_chain::state::Changes,
        state: State,
        rejected: &[(TxHash, TxError)],
    ) -> Result<()> {
        let started = Instant::now();
        let mut current = self.state_mut();
        let head = current.head();
        if block.header.height != head.height.saturating_add(1) || block.header.parent != head.hash
        {
            anyhow::bail!(
                "finalized block {} does not extend the committed head {} ({})",
                block.header.height,
                head.height,
                head.hash
            );
        }
        self.store
            .commit_block(block, receipts, changes, &state.meta())
            .with_context(|| format!("committing finalized block {}", block.header.height))?;
        let previous = std::mem::replace(&mut *current, state);
        self.after_commit(current, block, receipts, rejected, started);
        // Freed after the state lock is released: the previous state's own rows (the writes
        // since its maps' last fold) take a millisecond or two to free, which admission, waiting
        // on the lock, would spend idle.
        drop(previous);
        Ok(())
    }

    /// Mempool, rejections, metrics and the height watch after a block was committed.
    fn after_commit(
        &self,
        state: RwLockWriteGuard<'_, State>,
        block: &poai_chain::Block,
        receipts: &[poai_chain::Receipt],
        rejected: &[(TxHash, TxError)],
        started: Instant,
    ) {
        let height = block.header.height;
        let mut pool = self.mempool();
        pool.remove(receipts.iter().map(|r| r.tx_hash));
        pool.remove(rejected.iter().map(|(h, _)| *h));
        {
            let mut rej = self.rejections();
            for (h, e) in rejected {
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
        m.height.set(i64::try_from(height).unwrap_or(i64::MAX));
        m.blocks.inc();
        m.txs_included
            .inc_by(u64::try_from(receipts.len()).unwrap_or(0));
        let mined = receipts
            .iter()
            .filter(|r| matches!(r.outcome, poai_chain::Outcome::Mined { .. }))
            .count();
        m.proofs_accepted.inc_by(u64::try_from(mined).unwrap_or(0));
        m.block_seconds.observe(started.elapsed().as_secs_f64());
        self.height.send_replace(height);
        // The block is durable (redb synced it); its pages and those of the blocks marshal
        // journaled since the last commit go back to the kernel (crate::os).
        self.page_cache.release();
    }

    /// Watches the committed head height.
    pub fn heights(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// Opens (or initialises) the chain in `cfg.data_dir` without starting anything.
    pub fn open(cfg: &NodeConfig, machine: Machine) -> Result<Arc<Self>> {
        cfg.genesis
            .validate()
            .map_err(|e| anyhow::anyhow!("genesis: {e}"))?;
        let store = Store::open(&cfg.data_dir.join("chain.redb"))?;
        let state = store.open_chain(&cfg.genesis, &machine)?;
        let head = state.head().height;
        let metrics = Metrics::new().context("registering metrics")?;
        metrics.height.set(i64::try_from(head).unwrap_or(i64::MAX));
        let (height, _) = watch::channel(head);
        Ok(Arc::new(Self {
            machine,
            store,
            state: RwLock::new(state),
            mempool: Mutex::new(Mempool::new(cfg.limits)),
            rejections: Mutex::new(Rejections::default()),
            metrics,
            proposer: cfg.proposer,
            height,
            outbox: Mutex::new(None),
            checking: Mutex::new(HashSet::new()),
            urgent: std::sync::OnceLock::new(),
            page_cache: crate::os::PageCache::new(&cfg.data_dir),
        }))
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
    let shared = Shared::open(&cfg, machine)?;
    serve(cfg, shared).await
}

/// Starts RPC, metrics and (if `cfg.produce_blocks`) the block producer for an opened chain.
pub async fn serve(cfg: NodeConfig, shared: Arc<Shared>) -> Result<NodeHandle> {
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
    let producer = if cfg.produce_blocks {
        tokio::spawn(produce_loop(
            shared.clone(),
            cfg.block_interval,
            cfg.stop_at_height,
            stop_rx,
        ))
    } else {
        tokio::spawn(wait_stop(stop_rx))
    };
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

async fn wait_stop(mut stop: watch::Receiver<bool>) -> Result<()> {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            break;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devnet::devnet_genesis;
    use poai_chain::evidence::{dev_device_id, dev_evidence};
    use poai_chain::{Call, ProofTx, SignedTx, Transaction, TxBody};
    use poai_crypto::{ParamSet, SigningKey};
    use poai_primitives::{Nonce, PrivacyLevel, WorkProof};

    fn open(dir: &std::path::Path) -> Arc<Shared> {
        let g = devnet_genesis(1_800_000_000, 60);
        Shared::open(&NodeConfig::new(g, dir.to_path_buf()), Machine::new()).unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_seed(ParamSet::MlDsa44, &[seed; 32]).unwrap()
    }

    /// `key(seed)` registers the dev device of evidence seed `[seed; 32]`, nonce 0.
    fn register(shared: &Shared, seed: u8) -> Transaction {
        let body = TxBody {
            chain_id: shared.state().genesis().chain_id,
            nonce: 0,
            fee: 0,
            call: Call::RegisterDevice {
                evidence: dev_evidence(PrivacyLevel::Public, &[seed; 32]),
            },
        };
        Transaction::Account(SignedTx::sign(body, &key(seed)).unwrap())
    }

    /// A proof of the device `register(seed)` registered, stamped at the head's time.
    fn proof(shared: &Shared, seed: u8) -> Transaction {
        let (chain, ts) = {
            let s = shared.state();
            (s.genesis().chain_id, s.head().timestamp)
        };
        let p = WorkProof {
            device_id: dev_device_id(&[seed; 32]),
            nonce: Nonce([seed; 32]),
            timestamp: ts,
            privacy_level: PrivacyLevel::Public,
            compute_minutes: 0,
            tee_evidence: Vec::new(),
        };
        Transaction::Proof(ProofTx::sign(p, Address([1; 20]), chain, &key(seed)).unwrap())
    }

    /// The same transaction with a signature that does not verify.
    fn forged(tx: &Transaction) -> Transaction {
        let mut t = tx.clone();
        let sig = match &mut t {
            Transaction::Account(a) => &mut a.signature,
            Transaction::Proof(p) => &mut p.signature,
        };
        if let Some(b) = sig.get_mut(7) {
            *b ^= 1;
        }
        t
    }

    fn rejected(shared: &Shared, name: &str) -> u64 {
        shared.metrics.txs_rejected.with_label_values(&[name]).get()
    }

    /// A peer's proof of a device not registered here (its registration final at the peer's
    /// validator first) is refused and handed back, to be offered again after a commit; once
    /// the registration is committed here the same proof is admitted. A client's copy is only
    /// refused (the client hears why), and a peer's proof refused for anything else is not
    /// kept.
    #[test]
    fn a_peers_proof_of_a_device_registered_there_first_is_handed_back() {
        let dir = tempfile::tempdir().unwrap();
        let shared = open(dir.path());
        let proof = proof(&shared, 6);
        let (r, early) = shared.submit_from_peer(vec![proof.clone()]);
        assert!(matches!(r[0], Err(TxError::UnknownDevice { .. })), "{r:?}");
        assert_eq!(early, vec![proof.clone()]);
        let (r, early) = shared.admit(vec![proof.clone()], Source::Client);
        assert!(matches!(r[0], Err(TxError::UnknownDevice { .. })), "{r:?}");
        assert!(early.is_empty());

        assert!(shared.submit(vec![register(&shared, 6)])[0].is_ok());
        shared.produce_block().unwrap();
        let (r, early) = shared.submit_from_peer(vec![forged(&proof)]);
        assert!(r[0].is_err() && !ahead_of_head(&r[0]), "{r:?}");
        assert!(early.is_empty());
        let (r, early) = shared.submit_from_peer(vec![proof.clone()]);
        assert_eq!(r[0], Ok(proof.hash()));
        assert!(early.is_empty());
    }

    /// A copy of a transaction whose block is final (gossip behind consensus, a resend) is
    /// refused for what is spent before its signature is looked at: a forged copy gets the
    /// same answer as the real one, where checking the signature first would have said
    /// "invalid signature" at the price of a verification.
    #[test]
    fn final_transactions_are_refused_before_their_signatures_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let shared = open(dir.path());
        let reg = register(&shared, 5);
        assert!(shared.submit(vec![reg.clone()])[0].is_ok());
        shared.produce_block().unwrap();
        let proof = proof(&shared, 5);
        assert!(shared.submit(vec![proof.clone()])[0].is_ok());
        shared.produce_block().unwrap();
        assert!(shared.mempool().is_empty());
        let checked = shared.machine.signatures_checked();

        for tx in [proof.clone(), forged(&proof)] {
            let r = shared.submit(vec![tx.clone()]);
            assert!(matches!(r[0], Err(TxError::WorkIdSpent { .. })), "{r:?}");
            let r = shared.submit_from_peer(vec![tx]).0;
            assert!(matches!(r[0], Err(TxError::WorkIdSpent { .. })), "{r:?}");
        }
        for tx in [reg.clone(), forged(&reg)] {
            let r = shared.submit(vec![tx]);
            assert!(
                matches!(
                    r[0],
                    Err(TxError::BadNonce {
                        expected: 1,
                        got: 0
                    })
                ),
                "{r:?}"
            );
        }
        assert_eq!(rejected(&shared, "WorkIdSpent"), 4);
        assert_eq!(rejected(&shared, "BadNonce"), 2);
        assert_eq!(rejected(&shared, "ProofSignatureInvalid"), 0);
        assert_eq!(rejected(&shared, "TxSignatureInvalid"), 0);
        assert_eq!(shared.machine.signatures_checked(), checked);
        // A forged transaction that is not settled is still checked, and refused for it.
        let other = register(&shared, 6);
        let r = shared.submit(vec![forged(&other)]);
        assert!(
            matches!(r[0], Err(TxError::TxSignatureInvalid { .. })),
            "{r:?}"
        );
        assert_eq!(shared.machine.signatures_checked(), checked + 1);
    }

    /// A peer's copy of a transaction another admission is checking is left to that one (not
    /// checked twice); a client's, or one a waiting block asked for, is checked anyway.
    #[test]
    fn a_waiting_blocks_transactions_are_not_checked_behind_other_admissions() {
        // Every thread of rayon's global pool (where gossip and RPC admissions check
        // signatures) is held busy until the relay answer's admission has returned: it must
        // run on threads of its own, or it would wait here for good (caught by the timeout).
        let dir = tempfile::tempdir().unwrap();
        let shared = open(dir.path());
        let txs: Vec<Transaction> = (1..=8).map(|i| register(&shared, i)).collect();
        let hashes: Vec<TxHash> = txs.iter().map(Transaction::hash).collect();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let (started, busy) = std::sync::mpsc::channel();
        let threads = rayon::current_num_threads();
        for _ in 0..threads {
            let (released, started) = (released.clone(), started.clone());
            rayon::spawn(move || {
                let _ = started.send(());
                let _ = lock(&released).recv();
            });
        }
        for _ in 0..threads {
            busy.recv().unwrap();
        }
        let (done, answer) = std::sync::mpsc::channel();
        let worker = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let _ = done.send(shared.submit_wanted(txs));
            })
        };
        let got = answer.recv_timeout(Duration::from_secs(20));
        for _ in 0..threads {
            let _ = release.send(());
        }
        worker.join().unwrap();
        let got = got.expect("the relay answer waited for the global pool");
        assert_eq!(got, hashes.iter().map(|h| Ok(*h)).collect::<Vec<_>>());
        assert!(hashes.iter().all(|h| shared.mempool().contains(h)));
    }

    #[test]
    fn a_peers_copy_of_a_transaction_being_checked_is_left_to_that_check() {
        let dir = tempfile::tempdir().unwrap();
        let shared = open(dir.path());
        let (a, b, c) = (
            register(&shared, 1),
            register(&shared, 2),
            register(&shared, 3),
        );
        let hashes = [a.hash(), b.hash(), c.hash()];
        let held = shared.hold_checking(&hashes);
        assert_eq!(shared.checking(&hashes), [true, true, true]);
        let checked = shared.machine.signatures_checked();

        let (r, _) = shared.submit_from_peer(vec![a.clone()]);
        assert_eq!(r[0], Ok(hashes[0]));
        assert!(!shared.mempool().contains(&hashes[0]));
        assert_eq!(shared.machine.signatures_checked(), checked);
        assert_eq!(shared.submit_wanted(vec![b]), [Ok(hashes[1])]);
        assert!(shared.mempool().contains(&hashes[1]));
        assert_eq!(shared.submit(vec![c]), [Ok(hashes[2])]);
        assert!(shared.mempool().contains(&hashes[2]));
        assert_eq!(shared.machine.signatures_checked(), checked + 2);
        // Those two admissions released only what they claimed themselves: nothing.
        assert_eq!(shared.checking(&hashes), [true, true, true]);

        drop(held);
        assert_eq!(shared.checking(&hashes), [false, false, false]);
        let (r, _) = shared.submit_from_peer(vec![a.clone()]);
        assert_eq!(r[0], Ok(hashes[0]));
        assert!(shared.mempool().contains(&hashes[0]));
        assert_eq!(shared.checking(&hashes), [false, false, false]);
        // Waiting now: another copy costs a lookup.
        assert_eq!(shared.submit_from_peer(vec![a]).0[0], Ok(hashes[0]));
        assert_eq!(shared.machine.signatures_checked(), checked + 3);
    }
}
