//! Compact block relay (docs/DESIGN-consensus.md, section 1.6): the block buffer marshal
//! broadcasts proposals through and looks blocks up in, in place of commonware's `buffered`
//! broadcast of whole blocks.
//!
//! Every validator already holds a block's transactions from mempool gossip, so a proposal
//! travels as its header and its transactions' hashes ([`RelayMessage::Compact`]: 32 bytes per
//! transaction instead of about 3,400 for an ML-DSA-65 proof). A receiver checks the hashes
//! against the header's `tx_root`, fills the block from its mempool and hands it to marshal,
//! with the hashes, so the block's transactions are not hashed again to execute it. What its
//! mempool lacks (a transaction the proposer took over RPC less than a gossip flush ago, or
//! anything a validator that was down never saw) it waits [`ASK_AFTER`] for, gossip being on its
//! way, then asks the sender for by position ([`RelayMessage::Want`]); each transaction of the
//! answer ([`RelayMessage::Txs`]) must hash to the hash at its position. Blocks that never
//! reached a validator still come through marshal's backfill, whole.
//!
//! Bounds: the last [`KEEP`] blocks are kept for marshal's lookups and peers' requests, at most
//! [`MAX_PARTIAL`] incomplete ones (the oldest is dropped first), each for at most
//! [`PARTIAL_TTL`]. Anything that does not decode, lists more transactions than the genesis
//! allows in a block, or whose hashes the header does not commit to, is dropped.

use crate::block::{MAX_BLOCK_BYTES, PoaiBlock, digest_of};
use commonware_consensus::marshal::core::Buffer;
use commonware_consensus::marshal::standard::Standard;
use commonware_consensus::types::Round;
use commonware_cryptography::{Digested, Digestible as _, blake3::Digest, ed25519::PublicKey};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use commonware_utils::channel::oneshot;
use futures::channel::mpsc;
use futures::{FutureExt as _, StreamExt as _};
use poai_chain::hash::merkle_root;
use poai_chain::relay::RelayMessage;
use poai_chain::{Block, Hash32, Header, Machine, Transaction, TxHash};
use poai_node::node::Shared;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// Blocks kept for lookups and for answering peers.
pub const KEEP: usize = 16;

/// Incomplete blocks kept while their missing transactions are awaited.
pub const MAX_PARTIAL: usize = 8;

/// How long a receiver waits for gossip before asking the sender for missing transactions.
pub const ASK_AFTER: Duration = Duration::from_millis(250);

/// How often an unanswered request is repeated.
pub const ASK_AGAIN: Duration = Duration::from_secs(1);

/// How long an incomplete block is kept.
pub const PARTIAL_TTL: Duration = Duration::from_secs(30);

/// How often incomplete blocks are looked up again in the mempool.
const TICK: Duration = Duration::from_millis(10);

/// How often closed subscriptions are dropped when nothing is incomplete.
const IDLE_TICK: Duration = Duration::from_secs(1);

type Relayed = Digested<PoaiBlock>;

/// An outgoing message: recipients and bytes.
pub type Outgoing = (Recipients<PublicKey>, Vec<u8>);

/// A compact block some of whose transactions are not here yet.
struct Partial {
    from: PublicKey,
    header: Header,
    hashes: Vec<TxHash>,
    txs: Vec<Option<Transaction>>,
    arrived: SystemTime,
    asked: Option<SystemTime>,
}

impl Partial {
    /// Positions of the transactions not here yet.
    fn missing(&self) -> Vec<usize> {
        self.txs
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.is_none().then_some(i))
            .collect()
    }

    /// Fills what `lookup` finds of the missing transactions.
    fn fill_from(&mut self, lookup: impl FnOnce(&[TxHash]) -> Vec<Option<Transaction>>) {
        let missing = self.missing();
        let hashes: Vec<TxHash> = missing
            .iter()
            .filter_map(|i| self.hashes.get(*i).copied())
            .collect();
        for (i, found) in missing.into_iter().zip(lookup(&hashes)) {
            if let (Some(slot), Some(tx)) = (self.txs.get_mut(i), found) {
                *slot = Some(tx);
            }
        }
    }

    /// Once every transaction is here, takes the block: `Some(None)` if it would exceed
    /// [`MAX_BLOCK_BYTES`]. `None`, taking nothing, while some are missing.
    fn complete(&mut self) -> Option<Option<Relayed>> {
        if self.txs.iter().any(Option::is_none) {
            return None;
        }
        let txs = std::mem::take(&mut self.txs)
            .into_iter()
            .flatten()
            .collect();
        let block = PoaiBlock::with_tx_hashes(
            Block {
                header: self.header,
                txs,
            },
            std::mem::take(&mut self.hashes),
        );
        Some((block.encoded_len() <= MAX_BLOCK_BYTES).then(|| block.digested()))
    }
}

/// What the relay holds (see the module docs for the bounds).
#[derive(Default)]
struct Book {
    blocks: HashMap<Digest, Relayed>,
    order: VecDeque<Digest>,
    waiters: HashMap<Digest, Vec<oneshot::Sender<Relayed>>>,
    partial: HashMap<Digest, Partial>,
}

impl Book {
    fn insert(&mut self, block: Relayed) {
        let d = block.digest();
        self.partial.remove(&d);
        for w in self.waiters.remove(&d).unwrap_or_default() {
            let _ = w.send(block.clone());
        }
        if self.blocks.insert(d, block).is_none() {
            self.order.push_back(d);
            while self.order.len() > KEEP {
                if let Some(old) = self.order.pop_front() {
                    self.blocks.remove(&old);
                }
            }
        }
    }

    fn knows(&self, d: &Digest) -> bool {
        self.blocks.contains_key(d) || self.partial.contains_key(d)
    }

    /// Keeps `p` (or completes it), dropping the oldest incomplete block beyond the bound.
    /// Says whether it was complete.
    fn hold(&mut self, d: Digest, mut p: Partial) -> bool {
        match p.complete() {
            Some(Some(block)) => {
                self.insert(block);
                true
            }
            Some(None) => true,
            None => {
                self.partial.insert(d, p);
                while self.partial.len() > MAX_PARTIAL {
                    let oldest = self
                        .partial
                        .iter()
                        .min_by_key(|(_, p)| p.arrived)
                        .map(|(d, _)| *d);
                    if let Some(o) = oldest {
                        self.partial.remove(&o);
                    }
                }
                false
            }
        }
    }
}

/// Counts a peer's block assembled (`poai_relay_blocks_total{how}`).
fn assembled(shared: &Shared, how: &str) {
    shared.metrics.relay_blocks.with_label_values(&[how]).inc();
}

fn lock(m: &Mutex<Book>) -> MutexGuard<'_, Book> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Marshal's block buffer over the compact relay (module docs). Cheap to clone; the task that
/// moves its messages is [`Relay::run`].
#[derive(Clone)]
pub struct Relay {
    book: Arc<Mutex<Book>>,
    out: mpsc::UnboundedSender<Outgoing>,
}

impl Relay {
    /// A relay and the queue of what it sends, for [`Relay::run`].
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (out, rx) = mpsc::unbounded();
        (
            Self {
                book: Arc::new(Mutex::new(Book::default())),
                out,
            },
            rx,
        )
    }

    /// Moves the relay's messages on one p2p channel until it closes: sends what marshal
    /// broadcasts, assembles peers' compact blocks, answers their requests.
    pub async fn run<E, S, R>(
        self,
        clock: E,
        shared: Arc<Shared>,
        mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
        mut sender: S,
        mut receiver: R,
    ) where
        E: Clock,
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        // One per loop turn; boxing the outgoing message would allocate for each.
        #[allow(clippy::large_enum_variant)]
        enum Event<M> {
            Out(Option<Outgoing>),
            In(M),
            Tick,
        }
        // The tick runs on its own cadence, however busy the channel is: a steady stream of
        // messages must not starve the re-lookups and requests of incomplete blocks.
        let mut last_tick = clock.current();
        loop {
            let wait = if lock(&self.book).partial.is_empty() {
                IDLE_TICK
            } else {
                TICK
            };
            let deadline = last_tick + wait;
            let event = {
                let tick = clock.sleep_until(deadline).fuse();
                let recv = receiver.recv().fuse();
                let out = outgoing.next().fuse();
                futures::pin_mut!(tick, recv, out);
                futures::select_biased! {
                    o = out => Event::Out(o),
                    m = recv => Event::In(m),
                    () = tick => Event::Tick,
                }
            };
            match event {
                Event::Out(Some((to, bytes))) => {
                    sender.send(to, bytes, false);
                }
                Event::Out(None) | Event::In(Err(_)) => return,
                Event::In(Ok((peer, msg))) => {
                    let now = clock.current();
                    if let Some((to, reply)) = self.receive(&shared, peer, msg.as_ref(), now) {
                        sender.send(Recipients::One(to), reply, false);
                    }
                }
                Event::Tick => {}
            }
            let now = clock.current();
            if now >= deadline {
                for (to, ask) in self.tick(&shared, now) {
                    sender.send(Recipients::One(to), ask, false);
                }
                last_tick = now;
            }
        }
    }

    /// Handles one message from `peer`; returns a reply to send, if any.
    fn receive(
        &self,
        shared: &Shared,
        peer: PublicKey,
        bytes: &[u8],
        now: SystemTime,
    ) -> Option<(PublicKey, Vec<u8>)> {
        match RelayMessage::decode(bytes).ok()? {
            RelayMessage::Compact { header, hashes } => {
                // No block of this chain holds more (checked before hashing them all).
                let max =
                    usize::try_from(shared.state().genesis().max_block_txs).unwrap_or(usize::MAX);
                if hashes.len() > max {
                    return None;
                }
                let d = digest_of(header.hash());
                if lock(&self.book).knows(&d) || merkle_root(&hashes) != header.tx_root {
                    return None;
                }
                let mut p = Partial {
                    from: peer,
                    header,
                    txs: vec![None; hashes.len()],
                    hashes,
                    arrived: now,
                    asked: None,
                };
                p.fill_from(|h| shared.mempool().lookup(h));
                if lock(&self.book).hold(d, p) {
                    assembled(shared, "at_once");
                }
                None
            }
            RelayMessage::Want { block, positions } => {
                let b = lock(&self.book).blocks.get(&digest_of(block))?.clone();
                let txs = &b.inner().block().txs;
                let found: Vec<(u32, Transaction)> = positions
                    .into_iter()
                    .filter_map(|p| Some((p, txs.get(usize::try_from(p).ok()?)?.clone())))
                    .collect();
                if found.is_empty() {
                    return None;
                }
                Some((peer, RelayMessage::Txs { block, txs: found }.encode()))
            }
            RelayMessage::Txs { block, txs } => {
                let d = digest_of(block);
                let mut p = lock(&self.book).partial.remove(&d)?;
                let count = txs.len();
                let mut answered: Vec<(usize, Transaction)> = txs
                    .into_iter()
                    .filter_map(|(pos, tx)| {
                        let i = usize::try_from(pos).ok()?;
                        p.txs.get(i)?.is_none().then_some((i, tx))
                    })
                    .collect();
                // Through the mempool first: execution reuses the verdict, and the same
                // transactions arriving later by gossip cost a hash lookup (or, once final, a
                // spent-set lookup). Checked here even if gossip is checking them at this very
                // moment: a block waits. The mempool finds them by the hashes the block lists.
                let checking = std::time::Instant::now();
                let _ = shared.submit_wanted(answered.iter().map(|(_, t)| t.clone()).collect());
                let checked = checking.elapsed();
                p.fill_from(|h| shared.mempool().lookup(h));
                // What admission refused fills the block as sent where it hashes to its slot
                // (execution checks it).
                answered.retain(|(i, _)| p.txs.get(*i).is_some_and(Option::is_none));
                let (positions, rest): (Vec<usize>, Vec<Transaction>) =
                    answered.into_iter().unzip();
                let hashes = Machine::tx_hashes(&rest);
                for ((i, h), tx) in positions.into_iter().zip(hashes).zip(rest) {
                    if p.hashes.get(i) == Some(&h)
                        && let Some(slot) = p.txs.get_mut(i)
                    {
                        *slot = Some(tx);
                    }
                }
                let (height, arrived) = (p.header.height, p.arrived);
                if lock(&self.book).hold(d, p) {
                    assembled(shared, "asked");
                    // How long a block waited for what it lacked: the 250 ms before asking,
                    // the round trip, and checking the answer (which competes with whatever
                    // admission is checking at the time).
                    eprintln!(
                        "relay: block {} at height {height} complete {} ms after it arrived \
                         ({count} transactions from its sender checked in {} ms)",
                        Hash32(d.0),
                        (now.duration_since(arrived).unwrap_or_default() + checked).as_millis(),
                        checked.as_millis()
                    );
                }
                None
            }
        }
    }

    /// Looks incomplete blocks up again, drops expired ones and closed subscriptions; returns
    /// the requests to send.
    fn tick(&self, shared: &Shared, now: SystemTime) -> Vec<(PublicKey, Vec<u8>)> {
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        // Incomplete blocks are looked up without holding the book (marshal's lookups go on);
        // only this task adds to them, so nothing is missed meanwhile.
        let partial = {
            let mut book = lock(&self.book);
            book.waiters.retain(|_, ws| {
                ws.retain(|w| !w.is_closed());
                !ws.is_empty()
            });
            std::mem::take(&mut book.partial)
        };
        let mut asks = Vec::new();
        let mut done = Vec::new();
        let mut waiting = HashMap::new();
        for (d, mut p) in partial {
            if since(p.arrived) > PARTIAL_TTL {
                continue;
            }
            p.fill_from(|h| shared.mempool().lookup(h));
            match p.complete() {
                Some(Some(block)) => {
                    assembled(shared, if p.asked.is_some() { "asked" } else { "waited" });
                    done.push(block);
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
            if since(p.arrived) >= ASK_AFTER && p.asked.is_none_or(|t| since(t) >= ASK_AGAIN) {
                // What this node is checking already (gossip got it first) reaches the mempool
                // when that check ends: asking for it again would only check it twice.
                let missing: Vec<(usize, TxHash)> = p
                    .missing()
                    .into_iter()
                    .filter_map(|i| Some((i, *p.hashes.get(i)?)))
                    .collect();
                let hashes: Vec<TxHash> = missing.iter().map(|(_, h)| *h).collect();
                let positions: Vec<u32> = missing
                    .into_iter()
                    .zip(shared.checking(&hashes))
                    .filter(|(_, checking)| !checking)
                    .filter_map(|((i, _), _)| u32::try_from(i).ok())
                    .collect();
                if positions.is_empty() {
                    waiting.insert(d, p);
                    continue;
                }
                shared
                    .metrics
                    .relay_txs_asked
                    .inc_by(u64::try_from(positions.len()).unwrap_or(u64::MAX));
                eprintln!(
                    "relay: block {} at height {} misses {} of {} transactions after {} ms; asking its sender",
                    p.header.hash(),
                    p.header.height,
                    positions.len(),
                    p.hashes.len(),
                    since(p.arrived).as_millis()
                );
                let want = RelayMessage::Want {
                    block: Hash32(d.0),
                    positions,
                };
                asks.push((p.from.clone(), want.encode()));
                p.asked = Some(now);
            }
            waiting.insert(d, p);
        }
        let mut book = lock(&self.book);
        for block in done {
            book.insert(block);
        }
        book.partial = waiting;
        asks
    }

    fn subscribe(&self, digest: Digest) -> oneshot::Receiver<Relayed> {
        let (tx, rx) = oneshot::channel();
        let mut book = lock(&self.book);
        match book.blocks.get(&digest) {
            Some(b) => {
                let _ = tx.send(b.clone());
            }
            None => book.waiters.entry(digest).or_default().push(tx),
        }
        rx
    }
}

impl Buffer<Standard<PoaiBlock>> for Relay {
    type PublicKey = PublicKey;

    async fn find_by_digest(&self, digest: Digest) -> Option<Relayed> {
        lock(&self.book).blocks.get(&digest).cloned()
    }

    async fn find_by_commitment(&self, commitment: Digest) -> Option<Relayed> {
        lock(&self.book).blocks.get(&commitment).cloned()
    }

    fn subscribe_by_digest(&self, digest: Digest) -> Option<oneshot::Receiver<Relayed>> {
        Some(self.subscribe(digest))
    }

    fn subscribe_by_commitment(&self, commitment: Digest) -> Option<oneshot::Receiver<Relayed>> {
        Some(self.subscribe(commitment))
    }

    fn send(&self, _round: Round, block: Relayed, recipients: Recipients<PublicKey>) {
        let b = block.inner();
        let msg = RelayMessage::Compact {
            header: b.block().header,
            hashes: b.tx_hashes().to_vec(),
        }
        .encode();
        lock(&self.book).insert(block);
        let _ = self.out.unbounded_send((recipients, msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{node, transfers};
    use commonware_cryptography::{Signer as _, ed25519::PrivateKey};
    use futures::executor::block_on;
    use poai_chain::BlockContext;
    use poai_primitives::Address;

    /// The block the proposer builds from its mempool, as the app does.
    fn propose(shared: &Shared) -> Relayed {
        let mut state = shared.state().clone();
        let ctx = BlockContext::next(
            &state,
            Machine::next_timestamp(&state, 0),
            state.genesis().treasury,
        );
        let candidates = shared.mempool().candidates(100);
        let p = shared.machine.propose(&mut state, ctx, &candidates);
        let hashes = p.receipts.iter().map(|r| r.tx_hash).collect();
        PoaiBlock::with_tx_hashes(p.block, hashes).digested()
    }

    fn peer(seed: u64) -> PublicKey {
        PrivateKey::from_seed(seed).public_key()
    }

    fn sent(out: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<u8> {
        out.try_recv().expect("a message was queued").1
    }

    /// `poai_relay_blocks_total` at `at_once`, `waited`, `asked`.
    fn assembled_counts(shared: &Shared) -> (u64, u64, u64) {
        let how = |how: &str| shared.metrics.relay_blocks.with_label_values(&[how]).get();
        (how("at_once"), how("waited"), how("asked"))
    }

    /// A proposer A holding `n` transfers and its block of them, a receiver B holding the first
    /// `b_has`, and a relay for each.
    struct Pair {
        _dirs: (tempfile::TempDir, tempfile::TempDir),
        a: Arc<Shared>,
        b: Arc<Shared>,
        txs: Vec<Transaction>,
        block: Relayed,
        ra: Relay,
        out_a: mpsc::UnboundedReceiver<Outgoing>,
        rb: Relay,
    }

    fn pair(n: u64, b_has: usize) -> Pair {
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (node(dirs.0.path()), node(dirs.1.path()));
        let txs = transfers(&a, 0..n);
        assert!(a.submit(txs.clone()).iter().all(Result::is_ok));
        assert!(b.submit(txs[..b_has].to_vec()).iter().all(Result::is_ok));
        let block = propose(&a);
        let (ra, out_a) = Relay::new();
        let (rb, _) = Relay::new();
        Pair {
            _dirs: dirs,
            a,
            b,
            txs,
            block,
            ra,
            out_a,
            rb,
        }
    }

    impl Pair {
        /// A broadcasts its block; the compact message it sends.
        fn compact(&mut self) -> Vec<u8> {
            self.ra
                .send(Round::zero(), self.block.clone(), Recipients::All);
            sent(&mut self.out_a)
        }
    }

    #[test]
    fn a_compact_block_is_filled_from_the_mempool_with_its_hashes() {
        let mut p = pair(3, 3);
        let block = p.block.clone();
        assert_eq!(block.inner().block().txs.len(), 3);
        // Subscribed before the block arrives: answered when it does.
        let waiting = p.rb.subscribe(block.digest());
        let msg = p.compact();
        // 32 bytes per transaction, not the transactions.
        assert_eq!(msg.len(), 1 + Header::LEN + 4 + 3 * 32);
        assert!(block_on(p.ra.find_by_digest(block.digest())).is_some());

        let t0 = SystemTime::UNIX_EPOCH;
        assert!(p.rb.receive(&p.b, peer(1), &msg, t0).is_none());
        let got = block_on(p.rb.find_by_digest(block.digest())).expect("assembled");
        assert_eq!(got.inner().block(), block.inner().block());
        assert_eq!(got.inner().tx_hashes(), block.inner().tx_hashes());
        assert_eq!(block_on(waiting).unwrap().digest(), block.digest());
        assert_eq!(assembled_counts(&p.b), (1, 0, 0));
    }

    #[test]
    fn missing_transactions_are_asked_for_after_a_wait_and_checked_by_hash() {
        // B has only the first: the others are "still in gossip".
        let mut p = pair(3, 1);
        let (b, block) = (p.b.clone(), p.block.clone());
        let t0 = SystemTime::UNIX_EPOCH;
        let msg = p.compact();
        assert!(p.rb.receive(&b, peer(1), &msg, t0).is_none());
        assert!(block_on(p.rb.find_by_digest(block.digest())).is_none());

        // Not asked before ASK_AFTER; then asked for exactly the missing positions, once per
        // ASK_AGAIN.
        assert!(p.rb.tick(&b, t0 + ASK_AFTER / 2).is_empty());
        let asks = p.rb.tick(&b, t0 + ASK_AFTER);
        assert_eq!(asks.len(), 1);
        let (to, want) = &asks[0];
        assert_eq!(*to, peer(1));
        assert_eq!(
            RelayMessage::decode(want).unwrap(),
            RelayMessage::Want {
                block: block.inner().hash(),
                positions: vec![1, 2],
            }
        );
        assert!(p.rb.tick(&b, t0 + ASK_AFTER + ASK_AGAIN / 2).is_empty());

        // A forged answer (the wrong transaction at a position) fills nothing.
        let forged = RelayMessage::Txs {
            block: block.inner().hash(),
            txs: vec![(1, p.txs[0].clone())],
        }
        .encode();
        assert!(p.rb.receive(&b, peer(1), &forged, t0).is_none());
        assert!(block_on(p.rb.find_by_digest(block.digest())).is_none());

        // The sender answers from its relay; the answer completes the block and the
        // transactions enter B's mempool (their signatures checked once).
        let (_, answer) = p.ra.receive(&p.a, peer(2), want, t0).expect("answered");
        assert!(p.rb.receive(&b, peer(1), &answer, t0).is_none());
        let got = block_on(p.rb.find_by_digest(block.digest())).expect("assembled");
        assert_eq!(got.inner().block(), block.inner().block());
        assert!(b.mempool().contains(&block.inner().tx_hashes()[2]));
        // Nothing is incomplete any more: nothing to ask.
        assert!(p.rb.tick(&b, t0 + 2 * ASK_AGAIN).is_empty());
        assert_eq!(assembled_counts(&b), (0, 0, 1));
        assert_eq!(b.metrics.relay_txs_asked.get(), 2);
    }

    #[test]
    fn what_this_node_is_checking_already_is_not_asked_for() {
        // B lacks the second and third, and is checking both (gossip got them first).
        let mut p = pair(3, 1);
        let (b, block) = (p.b.clone(), p.block.clone());
        let hashes = block.inner().tx_hashes().to_vec();
        let t0 = SystemTime::UNIX_EPOCH;
        let msg = p.compact();
        assert!(p.rb.receive(&b, peer(1), &msg, t0).is_none());
        let held = b.hold_checking(&hashes[1..]);
        // Both missing ones are being checked: nothing to ask, and the wait goes on.
        assert!(p.rb.tick(&b, t0 + ASK_AFTER).is_empty());
        // The check of the second ends without admitting it (refused, say): it is asked for.
        drop(held);
        let held = b.hold_checking(&hashes[2..]);
        let asks = p.rb.tick(&b, t0 + ASK_AFTER + TICK);
        assert_eq!(asks.len(), 1);
        assert_eq!(
            RelayMessage::decode(&asks[0].1).unwrap(),
            RelayMessage::Want {
                block: block.inner().hash(),
                positions: vec![1],
            }
        );
        assert_eq!(b.metrics.relay_txs_asked.get(), 1);
        // The answer brings the second; the check of the third ends with it in the mempool,
        // and the next tick completes the block.
        drop(held);
        let (_, answer) =
            p.ra.receive(&p.a, peer(2), &asks[0].1, t0)
                .expect("answered");
        assert!(p.rb.receive(&b, peer(1), &answer, t0).is_none());
        assert!(block_on(p.rb.find_by_digest(block.digest())).is_none());
        assert!(b.submit_from_peer(p.txs[2..].to_vec()).0[0].is_ok());
        assert!(p.rb.tick(&b, t0 + ASK_AFTER + 2 * TICK).is_empty());
        let got = block_on(p.rb.find_by_digest(block.digest())).expect("assembled");
        assert_eq!(got.inner().block(), block.inner().block());
    }

    #[test]
    fn a_block_completes_when_gossip_brings_the_rest_without_asking() {
        let mut p = pair(2, 1);
        let b = p.b.clone();
        let t0 = SystemTime::UNIX_EPOCH;
        let msg = p.compact();
        assert!(p.rb.receive(&b, peer(1), &msg, t0).is_none());
        assert!(p.rb.tick(&b, t0 + TICK).is_empty());
        // The second transfer arrives by gossip before ASK_AFTER: the next tick completes it.
        assert!(b.submit_from_peer(p.txs[1..].to_vec()).0[0].is_ok());
        assert!(p.rb.tick(&b, t0 + 2 * TICK).is_empty());
        let got = block_on(p.rb.find_by_digest(p.block.digest())).expect("assembled");
        assert_eq!(got.inner().block(), p.block.inner().block());
        assert_eq!(assembled_counts(&b), (0, 1, 0));
        assert_eq!(b.metrics.relay_txs_asked.get(), 0);
    }

    #[test]
    fn hashes_the_header_does_not_commit_to_are_dropped_and_partials_expire() {
        let p = pair(2, 0);
        let (b, rb) = (&p.b, &p.rb);
        let header = p.block.inner().block().header;
        let mut hashes = p.block.inner().tx_hashes().to_vec();
        hashes.swap(0, 1);
        let t0 = SystemTime::UNIX_EPOCH;
        let swapped = RelayMessage::Compact {
            header,
            hashes: hashes.clone(),
        };
        assert!(rb.receive(b, peer(1), &swapped.encode(), t0).is_none());
        assert!(lock(&rb.book).partial.is_empty());
        // Undecodable bytes are dropped too, and so is a list longer than a block may be.
        assert!(rb.receive(b, peer(1), &[7, 7, 7], t0).is_none());
        let n = usize::try_from(b.state().genesis().max_block_txs).unwrap() + 1;
        let long_hashes = vec![Hash32([5; 32]); n];
        let long = RelayMessage::Compact {
            header: Header {
                tx_root: merkle_root(&long_hashes),
                ..header
            },
            hashes: long_hashes,
        };
        assert!(rb.receive(b, peer(1), &long.encode(), t0).is_none());
        assert!(lock(&rb.book).partial.is_empty());

        // The real hashes, none of them here: held, asked for, dropped after PARTIAL_TTL.
        hashes.swap(0, 1);
        let real = RelayMessage::Compact { header, hashes };
        assert!(rb.receive(b, peer(1), &real.encode(), t0).is_none());
        assert_eq!(lock(&rb.book).partial.len(), 1);
        assert_eq!(rb.tick(b, t0 + ASK_AFTER).len(), 1);
        assert!(rb.tick(b, t0 + PARTIAL_TTL + ASK_AFTER).is_empty());
        assert!(lock(&rb.book).partial.is_empty());
    }

    #[test]
    fn the_book_keeps_the_last_blocks_and_partials_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let (blocks, _) = crate::block::empty_blocks(&shared, u64::try_from(KEEP).unwrap() + 3);
        let (relay, mut out) = Relay::new();
        for b in &blocks {
            relay.send(Round::zero(), b.clone().digested(), Recipients::All);
            let _ = sent(&mut out);
        }
        let book = lock(&relay.book);
        assert_eq!(book.blocks.len(), KEEP);
        assert!(
            !book
                .blocks
                .contains_key(&blocks[0].clone().digested().digest())
        );
        drop(book);

        // Partials: at most MAX_PARTIAL, the oldest dropped first.
        let (rb, _) = Relay::new();
        for i in 0..MAX_PARTIAL + 2 {
            let h = TxHash::from(Hash32([u8::try_from(i).unwrap(); 32]));
            let header = Header {
                height: 1,
                parent: Hash32([0; 32]),
                timestamp: u64::try_from(i).unwrap(),
                state_root: Hash32([0; 32]),
                tx_root: merkle_root(&[h]),
                proposer: Address([0; 20]),
            };
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(i).unwrap());
            let m = RelayMessage::Compact {
                header,
                hashes: vec![h],
            };
            assert!(rb.receive(&shared, peer(1), &m.encode(), at).is_none());
        }
        let book = lock(&rb.book);
        assert_eq!(book.partial.len(), MAX_PARTIAL);
        assert!(
            book.partial
                .values()
                .all(|p| p.arrived >= SystemTime::UNIX_EPOCH + Duration::from_secs(2))
        );
    }
}
