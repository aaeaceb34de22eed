//! Mempool gossip (docs/DESIGN-consensus.md, section 1.5): with rotating leaders a transaction
//! must reach every validator, not just the one whose RPC received it. Each node sends what its
//! own clients submitted to all peers in batches; receivers run the same admission as RPC
//! ([`Shared::submit_from_peer`]) and never forward, so nothing circulates.
//!
//! Wire form: one batch of transactions per p2p message, as [`poai_chain::tx::encode_batch`]
//! lays it out (count, then length-prefixed transactions; bounded, no trailing bytes). An empty
//! message is a hello ([`Startup`]); a batch is never empty.
//!
//! Startup: a validator hands its peers to the p2p network as it starts, and connections take a
//! second or more (dial intervals, handshakes). A simplex engine started at once loses the first
//! leader's proposal and skips its view after the leader timeout. So a validator that starts
//! with a [`Startup`] says hello to every peer each flush interval until it has heard from
//! enough of them (any message counts), then tells the engine; a validator that is running
//! answers a peer's hello (at most once a second per peer), so a validator restarting into a
//! running network is answered too.

use crate::block::MAX_MESSAGE_BYTES;
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use futures::channel::oneshot;
use poai_chain::Transaction;
use poai_chain::tx::{MAX_BATCH_TXS, decode_batch, encode_batch};
use poai_node::node::{Shared, ahead_of_head};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the outbox is flushed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Most early transactions ([`Early`]) kept to offer again: at most about 14 MB of proofs.
pub const MAX_EARLY: usize = 4096;

/// How long an early transaction is kept.
pub const EARLY_TTL: Duration = Duration::from_secs(60);

/// Splits `txs` into encoded batches ([`poai_chain::tx::encode_batch`]) that each fit one p2p
/// message.
pub fn encode_batches<'a>(txs: impl IntoIterator<Item = &'a Transaction>) -> Vec<Vec<u8>> {
    let limit = usize::try_from(MAX_MESSAGE_BYTES).unwrap_or(usize::MAX) / 2;
    let mut out = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut size = 4usize;
    for tx in txs {
        let e = tx.encode();
        if current.len() >= MAX_BATCH_TXS || size.saturating_add(e.len() + 4) > limit {
            out.push(encode_batch(current.iter().map(Vec::as_slice)));
            current.clear();
            size = 4;
        }
        size = size.saturating_add(e.len() + 4);
        current.push(e);
    }
    if !current.is_empty() {
        out.push(encode_batch(current.iter().map(Vec::as_slice)));
    }
    out
}

/// Transactions a peer sent before this node could admit them ([`ahead_of_head`]): an account
/// transaction that arrived before an earlier one of the same sender (gossip batches are lost or
/// overtaken; admission wants consecutive nonces), or a proof of a device whose registration is
/// final at the sender's validator and not yet here (its miner proves as soon as its own
/// validator says the registration is in). They are offered again after each commit until
/// admitted, refused for another reason, or [`EARLY_TTL`] old. Without this, such a transfer
/// could reach only the validator whose client sent it, and wait there for good once that
/// validator is no longer a leader; and every peer had to ask for such a proof when a block
/// listed it (a quarter of a second per block while a devnet's miners start).
#[derive(Default)]
struct Early {
    txs: VecDeque<(SystemTime, Transaction)>,
    height: u64,
}

impl Early {
    fn keep(&mut self, at: SystemTime, txs: Vec<Transaction>) {
        self.txs.extend(txs.into_iter().map(|t| (at, t)));
        while self.txs.len() > MAX_EARLY {
            self.txs.pop_front();
        }
    }

    /// Offers the kept transactions again if a block was committed since the last try.
    fn retry(&mut self, shared: &Shared, now: SystemTime) {
        let height = shared.state().head().height;
        if self.txs.is_empty() || height == self.height {
            return;
        }
        self.height = height;
        let (times, txs): (Vec<SystemTime>, Vec<Transaction>) = std::mem::take(&mut self.txs)
            .into_iter()
            .filter(|(t, _)| now.duration_since(*t).unwrap_or_default() < EARLY_TTL)
            .unzip();
        // The still-early ones come back in order, one per early result: each keeps the time
        // it first arrived.
        let (results, still) = shared.submit_from_peer(txs);
        let arrived = times
            .into_iter()
            .zip(&results)
            .filter_map(|(t, r)| ahead_of_head(r).then_some(t));
        self.txs.extend(arrived.zip(still));
    }
}

/// How often a running validator answers one peer's hellos at most.
pub const ANSWER_HELLO_EVERY: Duration = Duration::from_secs(1);

/// What a validator that has just started waits for before its consensus starts (module docs).
pub struct Startup {
    /// The other validators of its epoch.
    pub peers: Vec<PublicKey>,
    /// How many of them it must hear from (a quorum, counting itself).
    pub need: usize,
    /// Told once it has.
    pub ready: oneshot::Sender<()>,
}

/// Runs gossip on one channel until the channel closes; with `startup`, says hello until enough
/// peers have been heard from.
pub async fn run<E, S, R>(
    clock: E,
    shared: Arc<Shared>,
    mut sender: S,
    mut receiver: R,
    mut startup: Option<Startup>,
) where
    E: Clock,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    shared.enable_gossip();
    let mut early = Early::default();
    let mut answered: HashMap<PublicKey, SystemTime> = HashMap::new();
    // A starting member holds its own transactions until it has heard from every peer of its
    // set (or the engine's startup wait is over, for a set with a member down): sent before,
    // they would go to peers not connected yet, and the p2p network drops a message to an
    // offline peer. Every peer, not only the quorum consensus waits for: the one connected
    // last would otherwise lack them and ask when a block lists them.
    let mut unheard: HashSet<PublicKey> = startup
        .as_ref()
        .map(|s| s.peers.iter().cloned().collect())
        .unwrap_or_default();
    let hold_until = clock.current() + crate::engine::STARTUP_WAIT;
    if let Some(s) = startup.take_if(|s| s.need == 0) {
        let _ = s.ready.send(());
    }
    if startup.is_some() {
        sender.send(Recipients::All, Vec::<u8>::new(), true);
    }
    // The flush deadline outlives each wait: restarting the timer on every received batch
    // (as a fresh `sleep` per loop would) starves the outbox for as long as peers keep sending,
    // which under load is the whole burst, and leaves the proposer's own transactions unknown
    // to the validators that must check its block.
    let mut next_flush = clock.current() + FLUSH_EVERY;
    loop {
        let flush = clock.sleep_until(next_flush);
        futures::pin_mut!(flush);
        let recv = receiver.recv();
        futures::pin_mut!(recv);
        let received = match futures::future::select(flush, recv).await {
            futures::future::Either::Left(((), _)) => None,
            futures::future::Either::Right((Ok((peer, msg)), _)) => Some((peer, msg)),
            futures::future::Either::Right((Err(_), _)) => return,
        };
        // Flush first when due, so that checking a peer's batch (tens of milliseconds of
        // signature checks) does not hold this node's own transactions back.
        let now = clock.current();
        if now >= next_flush {
            if unheard.is_empty() || now >= hold_until {
                let txs = shared.take_gossip();
                for batch in encode_batches(txs.iter().map(|(_, t)| t)) {
                    sender.send(Recipients::All, batch, false);
                }
            }
            early.retry(&shared, now);
            if startup.is_some() {
                sender.send(Recipients::All, Vec::<u8>::new(), true);
            }
            next_flush = now + FLUSH_EVERY;
        }
        let Some((peer, msg)) = received else {
            continue;
        };
        unheard.remove(&peer);
        // `unheard` started as the startup peers, so those heard are the rest.
        if let Some(s) = startup.take_if(|s| s.peers.len().saturating_sub(unheard.len()) >= s.need)
        {
            let _ = s.ready.send(());
        }
        if msg.as_ref().is_empty() {
            // A hello. Only a running validator answers (one still starting says hello every
            // flush anyway), and at most once a second per peer; the map holds at most the
            // peers the authenticated network lets reach this node.
            if startup.is_none()
                && answered.get(&peer).is_none_or(|t| {
                    now.duration_since(*t).unwrap_or_default() >= ANSWER_HELLO_EVERY
                })
            {
                if answered.len() >= 1024 {
                    answered.clear();
                }
                answered.insert(peer.clone(), now);
                sender.send(Recipients::One(peer), Vec::<u8>::new(), true);
            }
            continue;
        }
        // A bad batch from a peer is dropped; admission reports each transaction's own error
        // to nobody (the sender's RPC already answered its client).
        if let Ok(txs) = decode_batch(msg.as_ref()) {
            let (_, ahead) = shared.submit_from_peer(txs);
            early.keep(clock.current(), ahead);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{node, transfers};

    /// A transfer that arrives before its predecessor is refused as early, kept, and admitted
    /// after the next commit once the predecessor is here; kept ones expire after EARLY_TTL.
    /// A proof gossiped before the block registering its device is committed here (its miner
    /// proved as soon as its own validator had that block) is kept, and admitted by the retry
    /// after that commit: the next block that lists it finds it here instead of asking.
    #[test]
    fn a_proof_that_arrives_before_its_devices_registration_is_admitted_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let seed = [3; 32];
        let proof = crate::testkit::proof(&shared, seed);
        let t0 = SystemTime::UNIX_EPOCH;
        let mut early = Early::default();
        let (results, ahead) = shared.submit_from_peer(vec![proof.clone()]);
        assert!(
            matches!(results[0], Err(poai_chain::TxError::UnknownDevice { .. })),
            "{results:?}"
        );
        early.keep(t0, ahead);
        early.height = shared.state().head().height;
        early.retry(&shared, t0);
        assert_eq!(early.txs.len(), 1);

        let reg = crate::testkit::registration(&shared, seed, 0);
        assert!(shared.submit(vec![reg])[0].is_ok());
        shared.produce_block().unwrap();
        early.retry(&shared, t0 + Duration::from_secs(1));
        assert!(early.txs.is_empty());
        assert!(shared.mempool().contains(&proof.hash()));
    }

    #[test]
    fn early_transfers_are_offered_again_until_admitted_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let txs = transfers(&shared, 0..3);
        let hashes: Vec<_> = txs.iter().map(Transaction::hash).collect();
        let t0 = SystemTime::UNIX_EPOCH;
        let mut early = Early::default();

        let (results, ahead) = shared.submit_from_peer(txs[1..].to_vec());
        assert!(matches!(
            results[0],
            Err(poai_chain::TxError::BadNonce {
                expected: 0,
                got: 1
            })
        ));
        assert_eq!(ahead, txs[1..].to_vec());
        early.keep(t0, ahead);
        // Nothing committed since: not offered again.
        early.height = shared.state().head().height;
        early.retry(&shared, t0);
        assert_eq!(early.txs.len(), 2);

        // The predecessor arrives; after the next commit the kept ones are admitted, in order.
        let (results, ahead) = shared.submit_from_peer(txs[..1].to_vec());
        assert!(results[0].is_ok() && ahead.is_empty());
        early.height = u64::MAX;
        early.retry(&shared, t0 + Duration::from_secs(1));
        assert!(early.txs.is_empty());
        assert!(hashes.iter().all(|h| shared.mempool().contains(h)));

        // A transfer that stays early is dropped once EARLY_TTL old.
        let far = transfers(&shared, 9..10);
        let (_, ahead) = shared.submit_from_peer(far);
        early.keep(t0, ahead);
        early.height = u64::MAX;
        early.retry(&shared, t0 + EARLY_TTL / 2);
        assert_eq!(early.txs.len(), 1);
        early.height = u64::MAX;
        early.retry(&shared, t0 + EARLY_TTL);
        assert!(early.txs.is_empty());

        // The bound: the oldest go first.
        let many: Vec<_> = (0..MAX_EARLY + 1).map(|_| txs[2].clone()).collect();
        early.keep(t0, many);
        assert_eq!(early.txs.len(), MAX_EARLY);
    }

    type SimPair = (
        commonware_p2p::simulated::Sender<PublicKey, commonware_runtime::deterministic::Context>,
        commonware_p2p::simulated::Receiver<PublicKey>,
    );

    /// A deterministic runtime with `seed` that fails a test running longer than `limit`.
    fn sim_runner(seed: u64, limit: Duration) -> commonware_runtime::deterministic::Runner {
        commonware_runtime::deterministic::Runner::new(
            commonware_runtime::deterministic::Config::new()
                .with_seed(seed)
                .with_timeout(Some(limit)),
        )
    }

    /// The public keys of ed25519 keys seeded `0..n`.
    fn sim_keys(n: u64) -> Vec<PublicKey> {
        use commonware_cryptography::{Signer as _, ed25519::PrivateKey};
        (0..n)
            .map(|i| PrivateKey::from_seed(i).public_key())
            .collect()
    }

    type SimOracle =
        commonware_p2p::simulated::Oracle<PublicKey, commonware_runtime::deterministic::Context>;

    /// A simulated network of `keys` with no links yet; channel 0 registered for each key, in
    /// order.
    async fn unlinked(
        context: &commonware_runtime::deterministic::Context,
        keys: &[PublicKey],
    ) -> (SimOracle, Vec<SimPair>) {
        use commonware_p2p::simulated::{self, Network};
        use commonware_runtime::{Quota, Supervisor as _};
        use commonware_utils::{NZU32, NZUsize};
        let (network, oracle) = Network::new_with_peers(
            context.child("network"),
            simulated::Config {
                max_size: MAX_MESSAGE_BYTES,
                max_peers_per_set: NZUsize!(keys.len()),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            keys.to_vec(),
        )
        .await;
        network.start();
        let quota = Quota::per_second(NZU32!(100_000));
        let mut out = Vec::new();
        for k in keys {
            out.push(oracle.control(k.clone()).register(0, quota).await.unwrap());
        }
        (oracle, out)
    }

    /// Links every pair of `keys` both ways with `latency` and no loss.
    async fn link_all(oracle: &SimOracle, keys: &[PublicKey], latency: Duration) {
        use commonware_p2p::simulated::Link;
        use commonware_utils::Probability;
        let link = Link {
            latency,
            jitter: Duration::ZERO,
            success_rate: Probability::new(1, 1).unwrap(),
        };
        for a in keys {
            for b in keys.iter().filter(|b| *b != a) {
                oracle
                    .add_link(a.clone(), b.clone(), link.clone())
                    .await
                    .unwrap();
            }
        }
    }

    /// A simulated network of `keys`, every pair linked both ways with `latency` and no loss;
    /// channel 0 registered for each key, in order.
    async fn linked(
        context: &commonware_runtime::deterministic::Context,
        keys: &[PublicKey],
        latency: Duration,
    ) -> Vec<SimPair> {
        let (oracle, pairs) = unlinked(context, keys).await;
        link_all(&oracle, keys, latency).await;
        pairs
    }

    /// A starting validator's own transactions (its RPC serves before its connections are up)
    /// wait until it has heard from every peer: sent at once, they went to peers not connected
    /// yet, which the network drops, and those peers had to ask for them when a block listed
    /// them. Every peer, not only the quorum it waits for before consensus: A hears B first
    /// (a quorum of A, B and C), and C, linked later, still gets A's transaction.
    #[test]
    fn a_starting_validators_own_transactions_wait_for_its_peers() {
        use commonware_runtime::{Runner as _, Spawner as _, Supervisor as _};

        let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
        let nodes = dirs.each_ref().map(|d| node(d.path()));
        let tx = transfers(&nodes[0], 0..1).remove(0);
        nodes[0].enable_gossip();
        assert!(nodes[0].submit(vec![tx.clone()])[0].is_ok());
        let runner = sim_runner(3, Duration::from_secs(30));
        runner.start(|context| async move {
            let keys = sim_keys(3);
            let (oracle, pairs) = unlinked(&context, &keys).await;
            for (i, (send, recv)) in pairs.into_iter().enumerate() {
                let startup = Startup {
                    peers: keys.iter().filter(|k| **k != keys[i]).cloned().collect(),
                    need: 1,
                    ready: oneshot::channel().0,
                };
                let shared = nodes[i].clone();
                context
                    .child("gossip")
                    .with_attribute("index", i)
                    .spawn(move |ctx| run(ctx, shared, send, recv, Some(startup)));
            }
            let has = |i: usize| nodes[i].mempool().contains(&tx.hash());
            // Six flush intervals with no connection at all, then A and B only.
            context.sleep(Duration::from_millis(300)).await;
            assert!(!has(1) && !has(2));
            link_all(&oracle, &keys[..2], Duration::from_millis(5)).await;
            context.sleep(Duration::from_millis(300)).await;
            assert!(!has(2));
            for other in &keys[..2] {
                let pair = [other.clone(), keys[2].clone()];
                link_all(&oracle, &pair, Duration::from_millis(5)).await;
            }
            context.sleep(Duration::from_millis(300)).await;
            assert!(has(1) && has(2), "B: {}, C: {}", has(1), has(2));
        });
    }

    /// Under a steady stream of a peer's batches (one every 10 ms, more often than
    /// [`FLUSH_EVERY`]) this node's own transactions still go out within a flush interval: the
    /// flush deadline outlives received messages. (A timer restarted for every message never
    /// fired while peers kept sending, and proposers' transactions reached no one.)
    #[test]
    fn own_transactions_go_out_while_a_peer_keeps_sending() {
        use commonware_cryptography::{Signer as _, ed25519::PrivateKey};
        use commonware_runtime::{Runner as _, Spawner as _, Supervisor as _};
        use futures::future::Either;

        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let txs = transfers(&shared, 0..2);
        let runner = sim_runner(5, Duration::from_secs(60));
        runner.start(|context| async move {
            let keys = [0, 1].map(|i| PrivateKey::from_seed(i).public_key());
            let mut pairs = linked(&context, &keys, Duration::from_millis(1)).await;
            let (mut b_send, mut b_recv) = pairs.pop().unwrap();
            let (a_send, a_recv) = pairs.pop().unwrap();
            let s = shared.clone();
            context
                .child("gossip")
                .spawn(move |ctx| run(ctx, s, a_send, a_recv, None));
            // B sends A the first transfer every 10 ms (waiting in A's mempool after the
            // first time, so each later copy costs A a hash lookup).
            let flood = encode_batches(&txs[..1]).remove(0);
            context.child("flood").spawn(move |ctx| async move {
                loop {
                    b_send.send(Recipients::All, flood.clone(), false);
                    ctx.sleep(Duration::from_millis(10)).await;
                }
            });
            context.sleep(Duration::from_millis(200)).await;
            assert!(shared.mempool().contains(&txs[0].hash()));

            // A client gives A the second transfer: B gets it within a flush interval and the
            // link's latency, though B never stopped sending.
            let sent = context.current();
            assert!(shared.submit(txs[1..].to_vec())[0].is_ok());
            let deadline = context.sleep(Duration::from_secs(1));
            let msg =
                match futures::future::select(Box::pin(b_recv.recv()), Box::pin(deadline)).await {
                    Either::Left((Ok((_, msg)), _)) => msg,
                    _ => panic!("A gossiped nothing in 1 s while B kept sending"),
                };
            let waited = context.current().duration_since(sent).unwrap();
            assert_eq!(decode_batch(msg.as_ref()).unwrap(), txs[1..].to_vec());
            assert!(
                waited <= FLUSH_EVERY + Duration::from_millis(5),
                "{waited:?}"
            );
        });
    }

    /// A starting validator (A) says hello until a quorum of its peers answered: validators
    /// that are already running (B from 300 ms, C from 600 ms) answer its hellos; D never comes.
    /// A is told it may start only once it has heard from two of them, and so is E, starting
    /// after A is running (A answers it too).
    #[test]
    fn a_starting_validator_waits_to_hear_from_a_quorum() {
        use commonware_runtime::{Runner as _, Spawner as _, Supervisor as _};

        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let runner = sim_runner(9, Duration::from_secs(60));
        runner.start(|context| async move {
            let keys = sim_keys(5);
            let mut channels: Vec<Option<SimPair>> =
                linked(&context, &keys, Duration::from_millis(5))
                    .await
                    .into_iter()
                    .map(Some)
                    .collect();
            let start = |i: usize, startup: Option<Startup>, channels: &mut Vec<Option<_>>| {
                let (send, recv) = channels[i].take().unwrap();
                let s = shared.clone();
                context
                    .child("gossip")
                    .with_attribute("index", i)
                    .spawn(move |ctx| run(ctx, s, send, recv, startup));
            };
            let startup_of = |me: usize| {
                let (ready, heard) = oneshot::channel();
                let peers = (0..4)
                    .filter(|&i| i != me)
                    .map(|i| keys[i].clone())
                    .collect();
                (
                    Startup {
                        peers,
                        need: 2,
                        ready,
                    },
                    heard,
                )
            };
            let (a, mut a_heard) = startup_of(0);
            start(0, Some(a), &mut channels);
            context.sleep(Duration::from_millis(300)).await;
            start(1, None, &mut channels);
            context.sleep(Duration::from_millis(200)).await;
            assert_eq!(
                a_heard.try_recv(),
                Ok(None),
                "A started with one peer heard"
            );
            context.sleep(Duration::from_millis(100)).await;
            start(2, None, &mut channels);
            context.sleep(Duration::from_millis(100)).await;
            assert_eq!(a_heard.try_recv(), Ok(Some(())), "A did not hear B and C");

            // E (a fifth key standing in for validator 3 coming back) starts after everyone
            // else is running: answers, not hellos of others, tell it.
            let (mut e, mut e_heard) = startup_of(3);
            e.peers = (0..3).map(|i| keys[i].clone()).collect();
            start(4, Some(e), &mut channels);
            context.sleep(Duration::from_millis(100)).await;
            assert_eq!(e_heard.try_recv(), Ok(Some(())), "E heard no answers");
        });
    }

    use poai_chain::{Call, SignedTx, TxBody};
    use poai_crypto::{ParamSet, SigningKey};

    #[test]
    fn batches_round_trip_and_fit_one_message() {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[3; 32]).unwrap();
        let txs: Vec<Transaction> = (0..MAX_BATCH_TXS as u64 + 5)
            .map(|nonce| {
                let body = TxBody {
                    chain_id: poai_primitives::ChainId(1),
                    nonce,
                    fee: 0,
                    call: Call::Transfer {
                        to: poai_primitives::Address([7; 20]),
                        amount: 1,
                    },
                };
                // One signature, reused: the codec does not verify.
                Transaction::Account(SignedTx {
                    body,
                    public_key: key.verifying_key().clone(),
                    signature: vec![0; ParamSet::MlDsa44.signature_len()],
                })
            })
            .collect();
        let batches = encode_batches(&txs);
        // About 3.8 KB each: split by bytes (half a p2p message), every batch within bounds.
        assert!(batches.len() > 1);
        for b in &batches {
            assert!(b.len() <= usize::try_from(MAX_MESSAGE_BYTES).unwrap() / 2);
            assert!(decode_batch(b).unwrap().len() <= MAX_BATCH_TXS);
        }
        let back: Vec<Transaction> = batches
            .iter()
            .flat_map(|b| decode_batch(b).unwrap())
            .collect();
        assert_eq!(back, txs);
        assert!(encode_batches(&[]).is_empty());
        // Empty, truncated and trailing-byte batches are refused.
        assert!(decode_batch(&0u32.to_be_bytes()).is_err());
        let b = &batches[1];
        assert!(decode_batch(&b[..b.len() - 1]).is_err());
        let mut long = b.clone();
        long.push(0);
        assert!(decode_batch(&long).is_err());
    }
}
