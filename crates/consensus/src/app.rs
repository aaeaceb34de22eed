//! The state machine behind simplex: [`PoaiApp`] proposes and verifies blocks on speculative
//! state, [`Finalizer`] commits finalized blocks to the node's storage (docs/DESIGN-consensus.md,
//! sections 1.2 to 1.4).
//!
//! - Simplex may notarize blocks that are never finalized, so every proposed or verified block
//!   keeps the state after it in a [`Pending`] entry keyed by its hash; children build on that.
//!   The node's own state (what RPC reads) only ever holds finalized blocks.
//! - After a restart, or when a peer's block builds on blocks this node never saw, the state is
//!   rebuilt by executing the missing ancestors on top of the finalized head (marshal fetches
//!   them from peers).
//! - The finalizer is the only writer of redb. Marshal delivers finalized blocks in height order,
//!   at least once, and waits for the acknowledgement, which comes after the redb commit: a crash
//!   between the two redelivers the block, which is then recognised by its stored hash.
//! - `verify` answers `false` only for what is wrong with the block itself (bad header, bad
//!   transaction, wrong proposer, oversize), never for a temporary condition.

use crate::block::{MAX_BLOCK_BYTES, PoaiBlock, digest_of};
use crate::epochs::{EpochSets, Validators};
use commonware_actor::Feedback;
use commonware_consensus::marshal::{Update, ancestry::Ancestry};
use commonware_consensus::simplex::{scheme::ed25519 as simplex_ed25519, types::Context};
use commonware_consensus::{Application, Reporter};
use commonware_cryptography::{Digested, blake3::Digest, ed25519::PublicKey};
use commonware_runtime::Clock;
use commonware_utils::{Acknowledgement as _, acknowledgement::Exact};
use futures::StreamExt;
use futures::channel::mpsc;
use poai_chain::state::Changes;
use poai_chain::{BlockContext, Hash32, Machine, Receipt, State, TxError, TxHash};
use poai_node::node::Shared;
use poai_primitives::Address;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most unfinalized ancestors re-executed to rebuild a fork's state.
const MAX_REBUILD: usize = 512;

/// A proposer's timestamp may run this far ahead of a verifier's clock; beyond it the verifier
/// waits (clock skew is temporary, so it is never a reason to vote no).
const MAX_FUTURE_SECS: u64 = 5;

/// A block this node proposed or verified, not finalized yet, with the state after it.
struct Pending {
    height: u64,
    parent: Hash32,
    state: State,
    changes: Changes,
    receipts: Vec<Receipt>,
    rejected: Vec<(TxHash, TxError)>,
    txs: HashSet<TxHash>,
}

/// One line per finalized block, for tests and tools: height, block hash, state root.
pub type FinalizedLog = Arc<Mutex<Vec<(u64, Hash32, Hash32)>>>;

struct Inner {
    shared: Arc<Shared>,
    sets: EpochSets,
    block_interval: Duration,
    pending: Mutex<HashMap<Hash32, Arc<Pending>>>,
    /// When this node first had each unfinalized block (paces the next proposal).
    seen: Mutex<HashMap<Hash32, SystemTime>>,
    log: Option<FinalizedLog>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `block` is (close to) a full block: at the count limit `max`, or within a tenth of the
/// byte budget proposers fill ([`MAX_BLOCK_BYTES`] less the room kept for the header). A proposer
/// stops filling when the next transaction does not fit, so a full block may fall short of the
/// budget by up to one transaction; a tenth (840 KB) is far more than the largest one
/// (`poai_chain::tx::MAX_TX_LEN`, about 70 KB).
fn was_full(block: &PoaiBlock, max: usize) -> bool {
    let budget = MAX_BLOCK_BYTES.saturating_sub(PROPOSAL_HEADROOM);
    block.block().txs.len() >= max || block.encoded_len() >= budget.saturating_sub(budget / 10)
}

/// Bytes of [`MAX_BLOCK_BYTES`] a proposer leaves for the header and the transaction count.
const PROPOSAL_HEADROOM: usize = 4096;

/// The application simplex drives (through marshal's `Inline` adapter).
#[derive(Clone)]
pub struct PoaiApp {
    inner: Arc<Inner>,
}

impl PoaiApp {
    /// An application over an opened node; `log` records every finalized block if given.
    pub fn new(
        shared: Arc<Shared>,
        sets: EpochSets,
        block_interval: Duration,
        log: Option<FinalizedLog>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                sets,
                block_interval,
                pending: Mutex::new(HashMap::new()),
                seen: Mutex::new(HashMap::new()),
                log,
            }),
        }
    }

    /// The reporter marshal hands finalized blocks to; boundary blocks go on to `epochs`, which
    /// acknowledges them once the next epoch's engine runs.
    pub fn finalizer(&self, epochs: mpsc::UnboundedSender<EnterEpoch>) -> Finalizer {
        Finalizer {
            inner: self.inner.clone(),
            epochs,
        }
    }

    /// The account of `leader` in `epoch`.
    fn account_of(&self, epoch: u64, leader: &PublicKey) -> Option<Address> {
        self.inner.sets.validators(epoch)?.account(leader)
    }

    /// The state after `parent`: the finalized state, a pending block's, or rebuilt by executing
    /// the unfinalized ancestors that `ancestry` yields after `parent`. `None` if `parent` is not
    /// on the finalized chain's future (a fork below the finalized head) or cannot be rebuilt.
    async fn state_after(
        &self,
        parent: &Digested<PoaiBlock>,
        ancestry: &mut (impl futures::Stream<Item = Digested<PoaiBlock>> + Unpin),
    ) -> Option<State> {
        let inner = &self.inner;
        let mut chain = vec![parent.clone()];
        let mut base = loop {
            let last = chain.last()?.inner();
            let hash = last.hash();
            {
                let finalized = inner.shared.state();
                let head = finalized.head();
                if hash == head.hash {
                    break finalized.clone();
                }
                if last.block().header.height <= head.height {
                    return None;
                }
            }
            if let Some(p) = lock(&inner.pending).get(&hash) {
                break p.state.clone();
            }
            if chain.len() > MAX_REBUILD {
                return None;
            }
            chain.push(ancestry.next().await?);
        };
        // `chain` runs from `parent` back to the block whose state `base` is; execute the
        // blocks after that one, oldest first, remembering each (the base goes on, so each
        // remembered state is a copy).
        for b in chain.iter().rev().skip(1) {
            let (changes, receipts) = self.execute(&mut base, b.inner())?;
            self.remember(b.inner(), base.clone(), changes, receipts, Vec::new());
        }
        Some(base)
    }

    /// Executes `block` on `state` (the state after its parent); `None` if it is invalid.
    /// Signatures this node already checked when its mempool admitted them are not checked again.
    fn execute(&self, state: &mut State, block: &PoaiBlock) -> Option<(Changes, Vec<Receipt>)> {
        let shared = &self.inner.shared;
        let hashes = block.tx_hashes();
        let known = shared.mempool().verdicts(hashes.iter().copied());
        let receipts = shared
            .machine
            .execute_block_with(state, block.block(), hashes, known)
            .ok()?;
        Some((state.take_changes(), receipts))
    }

    fn remember(
        &self,
        block: &PoaiBlock,
        state: State,
        changes: Changes,
        receipts: Vec<Receipt>,
        rejected: Vec<(TxHash, TxError)>,
    ) {
        let header = &block.block().header;
        let pending = Pending {
            height: header.height,
            parent: header.parent,
            state,
            changes,
            txs: receipts.iter().map(|r| r.tx_hash).collect(),
            receipts,
            rejected,
        };
        lock(&self.inner.pending).insert(block.hash(), Arc::new(pending));
    }

    /// Transactions already in unfinalized ancestors of a new block on `parent`.
    fn pending_txs(&self, mut parent: Hash32) -> HashSet<TxHash> {
        let pending = lock(&self.inner.pending);
        let mut out = HashSet::new();
        while let Some(p) = pending.get(&parent) {
            out.extend(p.txs.iter().copied());
            parent = p.parent;
        }
        out
    }

    fn mark_seen(&self, hash: Hash32, at: SystemTime) {
        lock(&self.inner.seen).entry(hash).or_insert(at);
    }
}

impl<E: Clock + Send + 'static> Application<E> for PoaiApp {
    type SigningScheme = simplex_ed25519::Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = PoaiBlock;
    type Input = ();

    async fn propose(
        &mut self,
        context: (E, Self::Context),
        ancestry: impl Ancestry<Self::Block>,
        _input: (),
    ) -> Option<Digested<Self::Block>> {
        let (clock, ctx) = context;
        let mut ancestry = Box::pin(ancestry);
        let parent = ancestry.next().await?;
        let proposer = self.account_of(ctx.round.epoch().get(), &ctx.leader)?;
        let max = usize::try_from(self.inner.shared.state().genesis().max_block_txs)
            .unwrap_or(usize::MAX);
        let skip = self.pending_txs(parent.inner().hash());
        // Leave room for the header and the count; a block is one p2p message, and each
        // transaction's encoding has a 4-byte length before it.
        let take = || {
            self.inner.shared.mempool().candidates_fitting(
                max,
                MAX_BLOCK_BYTES.saturating_sub(PROPOSAL_HEADROOM),
                4,
                &skip,
            )
        };
        // Pace the chain: one block per interval after the parent arrived here, unless a full
        // block is waiting or the parent was full (then the interval would only add latency to
        // a backlog: what waits now was left out of the parent for lack of room, so it has
        // waited a block already; the partial block that ends a burst goes at once).
        let (mut candidates, full) = take();
        if !full && !was_full(parent.inner(), max) {
            let first_seen = lock(&self.inner.seen)
                .get(&parent.inner().hash())
                .copied()
                .unwrap_or_else(|| clock.current());
            clock
                .sleep_until(first_seen + self.inner.block_interval)
                .await;
            candidates = take().0;
        }
        let mut state = self.state_after(&parent, &mut ancestry).await?;
        let now = clock.current();
        let ctx = BlockContext::next(
            &state,
            Machine::next_timestamp(&state, unix_secs(now)),
            proposer,
        );
        let proposal = self
            .inner
            .shared
            .machine
            .propose(&mut state, ctx, &candidates);
        let changes = state.take_changes();
        let hashes = proposal.receipts.iter().map(|r| r.tx_hash).collect();
        let block = PoaiBlock::with_tx_hashes(proposal.block, hashes);
        self.remember(&block, state, changes, proposal.receipts, proposal.rejected);
        self.mark_seen(block.hash(), now);
        Some(block.digested())
    }

    async fn verify(
        &mut self,
        context: (E, Self::Context),
        ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let (clock, ctx) = context;
        let mut ancestry = Box::pin(ancestry);
        let (Some(block), Some(parent)) = (ancestry.next().await, ancestry.next().await) else {
            return false;
        };
        let b = block.inner();
        if b.encoded_len() > MAX_BLOCK_BYTES
            || Some(b.block().header.proposer)
                != self.account_of(ctx.round.epoch().get(), &ctx.leader)
        {
            return false;
        }
        // A timestamp ahead of our clock: wait for the clock (bounded by simplex's timeouts).
        // A devnet's chain time is synthetic (parent + step, checked by the state machine).
        let ts = b.block().header.timestamp;
        let limit = unix_secs(clock.current()).saturating_add(MAX_FUTURE_SECS);
        let synthetic = self
            .inner
            .shared
            .state()
            .genesis()
            .dev_block_time_step
            .is_some();
        if ts > limit && !synthetic {
            clock
                .sleep(Duration::from_secs(ts.saturating_sub(limit)))
                .await;
        }
        if lock(&self.inner.pending).contains_key(&b.hash()) {
            return true;
        }
        let Some(mut state) = self.state_after(&parent, &mut ancestry).await else {
            return false;
        };
        let Some((changes, receipts)) = self.execute(&mut state, b) else {
            return false;
        };
        self.remember(b, state, changes, receipts, Vec::new());
        self.mark_seen(b.hash(), clock.current());
        true
    }
}

/// A boundary block was committed: the orchestrator enters `epoch` (whose simplex starts from
/// `floor`, the boundary block's digest), then acknowledges the block to marshal.
pub struct EnterEpoch {
    /// The epoch to enter.
    pub epoch: u64,
    /// The boundary block's digest.
    pub floor: Digest,
    /// Marshal's acknowledgement of the boundary block.
    pub ack: Exact,
}

/// Commits finalized blocks to the node (the `Reporter` marshal delivers them to).
#[derive(Clone)]
pub struct Finalizer {
    inner: Arc<Inner>,
    epochs: mpsc::UnboundedSender<EnterEpoch>,
}

impl Finalizer {
    /// Commits `block`; for an epoch's boundary block also records the next epoch's set and
    /// returns that epoch (the caller hands the acknowledgement to the orchestrator).
    fn finalize(&self, block: &PoaiBlock) -> anyhow::Result<Option<u64>> {
        let inner = &self.inner;
        let shared = &inner.shared;
        let height = block.block().header.height;
        let head = shared.state().head();
        if height <= head.height {
            // Marshal delivers at least once: a block we committed before a restart.
            let stored = shared
                .store
                .block(height)?
                .ok_or_else(|| anyhow::anyhow!("no stored block at height {height}"))?;
            anyhow::ensure!(
                stored.hash() == block.hash(),
                "finalized block {height} is {} but {} is stored: finalized fork",
                block.hash(),
                stored.hash()
            );
            // A restart enters the epoch after the head directly (`engine::start`, which also
            // recomputes a set lost between a boundary's commit and persisting it), so a
            // redelivered boundary needs no transition.
            return Ok(None);
        }
        let pending = lock(&inner.pending).remove(&block.hash());
        let (state, changes, receipts, rejected) = match pending {
            Some(p) if p.parent == head.hash => match Arc::try_unwrap(p) {
                Ok(p) => (p.state, p.changes, p.receipts, p.rejected),
                Err(p) => (
                    p.state.clone(),
                    p.changes.clone(),
                    p.receipts.clone(),
                    p.rejected.clone(),
                ),
            },
            _ => {
                let mut state = shared.state().clone();
                let receipts = shared
                    .machine
                    .execute_block(&mut state, block.block())
                    .map_err(|e| anyhow::anyhow!("finalized block {height} is invalid: {e}"))?;
                let changes = state.take_changes();
                (state, changes, receipts, Vec::new())
            }
        };
        let root = state.head().state_root;
        let boundary = state.is_epoch_boundary(height);
        let next_set = if boundary {
            Some(Validators::from_state(&state)?)
        } else {
            None
        };
        let epoch = state.epoch_of(height);
        shared.commit_finalized(block.block(), &receipts, &changes, state, &rejected)?;
        let entered = match next_set {
            Some(v) => {
                inner.sets.insert(epoch.saturating_add(1), v)?;
                Some(epoch.saturating_add(1))
            }
            None => None,
        };
        // Drop what can no longer be built on; the pacing entry of this block stays (the next
        // proposal waits on it).
        let keep: HashSet<Hash32> = {
            let mut pending = lock(&inner.pending);
            pending.retain(|_, p| p.height > height);
            pending.keys().copied().collect()
        };
        lock(&inner.seen).retain(|h, _| *h == block.hash() || keep.contains(h));
        if let Some(log) = &inner.log {
            lock(log).push((height, block.hash(), root));
        }
        Ok(entered)
    }
}

impl Finalizer {
    /// Commits the finalized blocks `queue` delivers, in order, acknowledging each to marshal
    /// once committed (for a boundary block, once the orchestrator entered the next epoch).
    /// Runs as its own task ([`crate::engine::start`]) so that marshal goes on receiving,
    /// persisting and serving blocks while the node writes the previous one: committing a full
    /// block took 100-200 ms of marshal's time when it ran inside marshal's reporter.
    pub async fn run(self, mut queue: mpsc::UnboundedReceiver<(PoaiBlock, Exact)>) {
        while let Some((block, ack)) = queue.next().await {
            match self.finalize(&block) {
                Ok(None) => ack.acknowledge(),
                Ok(Some(epoch)) => {
                    let floor = digest_of(block.hash());
                    if let Err(e) = self.epochs.unbounded_send(EnterEpoch { epoch, floor, ack }) {
                        // The orchestrator is gone (shutting down): acknowledge nothing.
                        drop(e);
                    }
                }
                // Not acknowledging stops marshal from delivering more: the node halts at the
                // last good height instead of building on a state it cannot trust.
                Err(e) => {
                    eprintln!("poai consensus: halting: {e:#}");
                    return;
                }
            }
        }
    }
}

/// Marshal's reporter: queues each finalized block, with marshal's acknowledgement, for the
/// [`Finalizer`] task.
#[derive(Clone)]
pub struct FinalizedQueue(pub mpsc::UnboundedSender<(PoaiBlock, Exact)>);

impl Reporter for FinalizedQueue {
    type Activity = Update<PoaiBlock, Exact>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        if let Update::Block(block, ack) = activity {
            // Marshal holds at most `max_pending_acks` unacknowledged blocks, which bounds the
            // queue. A finalizer that halted has dropped its end: the block stays unacknowledged.
            if let Err(e) = self.0.unbounded_send((block.inner().clone(), ack)) {
                drop(e);
            }
        }
        Feedback::Ok
    }
}

/// The digest marshal and simplex start from: the stored genesis block's hash.
pub fn genesis_digest(shared: &Shared) -> anyhow::Result<(Digest, Digested<PoaiBlock>)> {
    let g = shared
        .store
        .block(0)?
        .ok_or_else(|| anyhow::anyhow!("the database has no genesis block"))?;
    let block = PoaiBlock::new(g);
    Ok((digest_of(block.hash()), block.digested()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epochs::Validators;
    use commonware_cryptography::{Signer as _, ed25519::PrivateKey};
    use futures::executor::block_on;
    use poai_node::NodeConfig;
    use poai_node::devnet::devnet_genesis;

    /// Pacing yields to a backlog (docs/DESIGN-consensus.md 1.4): the proposer waits out the
    /// block interval only when neither a full block waits nor the parent was full. Blocks here
    /// hold two transactions and three wait: the first block and the one after it (what the full
    /// first block left) go at once, the one after that waits the interval.
    #[test]
    fn pacing_waits_only_without_a_backlog() {
        use commonware_consensus::marshal::ancestry;
        use commonware_consensus::types::{Epoch, Round, View};
        use commonware_cryptography::Digestible as _;
        use commonware_runtime::Supervisor as _;
        use commonware_runtime::{Runner as _, deterministic};

        let interval = Duration::from_secs(10);
        let dir = tempfile::tempdir().unwrap();
        let shared = crate::testkit::node_with(dir.path(), |g| g.max_block_txs = 2);
        for r in shared.submit(crate::testkit::transfers(&shared, 0..3)) {
            r.unwrap();
        }
        let signer = PrivateKey::from_seed(1);
        let leader = signer.public_key();
        let me = (leader.clone(), Address([3; 20]), None);
        let sets = EpochSets::open(b"test", signer, Validators::new([me]), None).unwrap();
        let mut app = PoaiApp::new(shared.clone(), sets, interval, None);
        let genesis = genesis_digest(&shared).unwrap().1;

        deterministic::Runner::default().start(|context| async move {
            let mut parent = genesis;
            let (mut waited, mut sizes) = (Vec::new(), Vec::new());
            for view in 1..=3 {
                let ctx = Context {
                    round: Round::new(Epoch::zero(), View::new(view)),
                    leader: leader.clone(),
                    parent: (View::new(view - 1), parent.digest()),
                };
                let started = context.current();
                let block = Application::<deterministic::Context>::propose(
                    &mut app,
                    (context.child("propose"), ctx),
                    ancestry::from_iter([parent.clone()]),
                    (),
                )
                .await
                .expect("proposed");
                waited.push(context.current().duration_since(started).unwrap());
                sizes.push(block.inner().block().txs.len());
                parent = block;
            }
            assert_eq!(sizes, [2, 1, 0]);
            assert_eq!(waited, [Duration::ZERO, Duration::ZERO, interval]);
        });
    }

    /// A parent this node has not executed (a proposal arrived while its own verification of
    /// the parent was still running) is rebuilt from the ancestry down to the finalized head:
    /// the blocks above the head are executed oldest first. This once executed the wrong end of
    /// the chain, so the proposal failed and the view timed out (2 s) instead.
    #[test]
    fn state_after_rebuilds_unexecuted_parents_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = NodeConfig::new(devnet_genesis(1_700_000_000, 60), dir.path().to_path_buf());
        let shared = Shared::open(&cfg, Machine::new()).unwrap();
        let signer = PrivateKey::from_seed(1);
        let me = (signer.public_key(), Address([3; 20]), None);
        let sets = EpochSets::open(b"test", signer, Validators::new([me]), None).unwrap();
        let app = PoaiApp::new(shared.clone(), sets, Duration::from_millis(1), None);

        let genesis = genesis_digest(&shared).unwrap().1;
        let (blocks, state) = crate::block::empty_blocks(&shared, 3);
        let blocks: Vec<_> = blocks.into_iter().map(PoaiBlock::digested).collect();
        // Parent 3; ancestry yields 2, 1, then the finalized head (genesis).
        let ancestry = vec![blocks[1].clone(), blocks[0].clone(), genesis];
        let mut ancestry = futures::stream::iter(ancestry);
        let rebuilt = block_on(app.state_after(&blocks[2], &mut ancestry)).expect("rebuilt");
        assert_eq!(rebuilt.head(), state.head());
        assert_eq!(rebuilt.root(), state.root());
        // Each rebuilt block is remembered: the next lookup needs no ancestry.
        let mut none = futures::stream::iter(Vec::new());
        let again = block_on(app.state_after(&blocks[2], &mut none)).expect("remembered");
        assert_eq!(again.root(), state.root());
        let mid = block_on(app.state_after(&blocks[0], &mut futures::stream::iter(Vec::new())));
        assert_eq!(mid.map(|s| s.head().height), Some(1));
    }
}
