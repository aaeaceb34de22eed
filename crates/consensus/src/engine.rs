//! Wiring one validator: simplex (BFT over block digests, one engine per epoch), marshal (full
//! blocks, backfill, ordered delivery of finalized blocks), the block buffer, the backfill
//! resolver, the epoch orchestrator and mempool gossip, on any commonware runtime and network
//! (docs/DESIGN-consensus.md, sections 1.2 and 2.3). The node runs it on the tokio runtime with
//! authenticated TCP ([`crate::validator`]); the tests on the deterministic runtime with a
//! simulated network.
//!
//! Epochs: the orchestrator runs the simplex engine of the current epoch on vote, certificate
//! and resolver channels multiplexed by epoch. When the finalizer commits an epoch's boundary
//! block it records the next set ([`EpochSets`]) and hands the block's acknowledgement to the
//! orchestrator, which starts the next epoch's engine (from the boundary block), stops the old
//! one and only then acknowledges. A message from a later epoch than ours means we missed a
//! boundary: marshal is hinted to fetch our epoch's boundary finalization from that peer.

use crate::app::{EnterEpoch, FinalizedQueue, PoaiApp, genesis_digest};
use crate::block::{PoaiBlock, digest_of};
use crate::epochs::{EpochSets, Validators};
use crate::relay::Relay;
use crate::store::RedbBlocks;
use crate::watch::{Watch, elector};
use commonware_consensus::marshal::{
    self, core::Actor as MarshalActor, core::Mailbox as MarshalMailbox, standard::Inline,
    standard::Standard,
};
use commonware_consensus::simplex::{self, scheme::ed25519 as simplex_ed25519};
use commonware_consensus::types::{Epoch, Epocher as _, FixedEpocher, ViewDelta};
use commonware_cryptography::{
    Signer as _, blake3::Digest, certificate::Verifier as _, ed25519::PrivateKey,
    ed25519::PublicKey,
};
use commonware_p2p::utils::mux::{Builder as _, MuxHandle, Muxer};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Spawner, Storage, Supervisor, buffer::paged::CacheRef,
};
use commonware_storage::archive::immutable;
use commonware_utils::{
    Acknowledgement as _, Faults, N3f1, NZDuration, NZU16, NZU64, NZUsize, acknowledgement::Exact,
    vec::NonEmptyVec,
};
use futures::StreamExt as _;
use futures::channel::{mpsc, oneshot};
use poai_node::node::Shared;
use rand_core::CryptoRng;
use std::sync::Arc;
use std::time::Duration;

/// Tells the network which peers an epoch needs (its validators and the previous epoch's,
/// with the addresses they gave).
pub trait PeerTracker: Send + 'static {
    /// Tracks `peers` for `epoch`.
    fn track(&mut self, epoch: u64, peers: &[(PublicKey, Option<String>)]);
}

/// p2p channel numbers. Every validator must agree on them.
pub mod channel {
    /// Simplex votes.
    pub const VOTES: u64 = 0;
    /// Simplex certificates.
    pub const CERTIFICATES: u64 = 1;
    /// Simplex's resolver (missing certificates).
    pub const RESOLVER: u64 = 2;
    /// Marshal's backfill (finalized blocks a node missed).
    pub const BACKFILL: u64 = 3;
    /// Proposed blocks, compact (`crate::relay`).
    pub const BLOCKS: u64 = 4;
    /// Mempool gossip.
    pub const GOSSIP: u64 = 5;
    /// All of them.
    pub const ALL: [u64; 6] = [VOTES, CERTIFICATES, RESOLVER, BACKFILL, BLOCKS, GOSSIP];
}

/// One registered channel's two ends.
pub type Pair<S, R> = (S, R);

/// The channels a validator uses, registered on its network.
pub struct Channels<S, R> {
    /// [`channel::VOTES`].
    pub votes: Pair<S, R>,
    /// [`channel::CERTIFICATES`].
    pub certificates: Pair<S, R>,
    /// [`channel::RESOLVER`].
    pub resolver: Pair<S, R>,
    /// [`channel::BACKFILL`].
    pub backfill: Pair<S, R>,
    /// [`channel::BLOCKS`].
    pub blocks: Pair<S, R>,
    /// [`channel::GOSSIP`].
    pub gossip: Pair<S, R>,
}

/// Timing and identity of one validator.
#[derive(Clone)]
pub struct EngineConfig {
    /// Its consensus key.
    pub signer: PrivateKey,
    /// Domain of every consensus signature: one per chain, so votes cannot replay across chains.
    pub namespace: Vec<u8>,
    /// Prefix of the runtime storage partitions (the runtime's storage directory is per node;
    /// in a simulation, per validator).
    pub partition_prefix: String,
    /// Time between blocks.
    pub block_interval: Duration,
    /// How long a view waits for the leader's proposal.
    pub leader_timeout: Duration,
    /// How long a view waits for a notarized block to be certified.
    pub certification_timeout: Duration,
}

impl EngineConfig {
    /// Defaults for the validator with key `signer` on chain `chain_id`: 500 ms blocks, 2 s leader
    /// timeout.
    pub fn new(signer: PrivateKey, chain_id: u64, prefix: &str) -> Self {
        let mut namespace = b"poai/consensus/v1/".to_vec();
        namespace.extend_from_slice(&chain_id.to_be_bytes());
        Self {
            signer,
            namespace,
            partition_prefix: prefix.to_string(),
            block_interval: Duration::from_millis(500),
            leader_timeout: Duration::from_secs(2),
            certification_timeout: Duration::from_secs(3),
        }
    }
}

fn archive_cfg<C>(
    prefix: &str,
    name: &str,
    cache: &CacheRef,
    codec_config: C,
) -> immutable::Config<C> {
    immutable::Config {
        metadata_partition: format!("{prefix}-{name}-metadata"),
        freezer_table_partition: format!("{prefix}-{name}-table"),
        freezer_table_initial_size: 1024,
        freezer_table_resize_frequency: 10,
        freezer_table_resize_chunk_size: 1024,
        freezer_key_partition: format!("{prefix}-{name}-key"),
        freezer_key_page_cache: cache.clone(),
        freezer_value_partition: format!("{prefix}-{name}-value"),
        freezer_value_target_size: 1 << 26,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-{name}-ordinal"),
        items_per_section: NZU64!(4096),
        codec_config,
        replay_buffer: NZUsize!(1 << 16),
        freezer_key_write_buffer: NZUsize!(1 << 12),
        freezer_value_write_buffer: NZUsize!(1 << 16),
        ordinal_write_buffer: NZUsize!(1 << 12),
    }
}

/// Starts a validator's consensus on `context`: marshal, block buffer, backfill, the epoch
/// orchestrator (and through it simplex) and gossip. Returns once everything is spawned; the
/// tasks live as long as `context`'s tree.
#[allow(clippy::too_many_arguments)]
pub async fn start<E, S, R, P, B, T>(
    context: E,
    cfg: EngineConfig,
    shared: Arc<Shared>,
    sets: EpochSets,
    app: PoaiApp,
    channels: Channels<S, R>,
    peers: P,
    blocker: B,
    tracker: T,
) -> anyhow::Result<()>
where
    E: Clock + Spawner + Storage + Metrics + Supervisor + CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
    T: PeerTracker,
{
    let me = cfg.signer.public_key();
    let (genesis, genesis_block) = genesis_digest(&shared)?;
    let (length, head) = {
        let state = shared.state();
        let length = state
            .epoch_length()
            .ok_or_else(|| anyhow::anyhow!("the genesis has no `consensus` section"))?;
        (length, state.head().height)
    };
    let epocher = FixedEpocher::new(
        std::num::NonZeroU64::new(length)
            .ok_or_else(|| anyhow::anyhow!("genesis field `consensus.epoch_length` is 0"))?,
    );
    // The epoch of the next block, and its simplex floor: the previous epoch's boundary block.
    let active = head.saturating_add(1) / length;
    let floor = if active == 0 {
        genesis
    } else {
        let boundary = active.saturating_mul(length).saturating_sub(1);
        let b = shared
            .store
            .block(boundary)?
            .ok_or_else(|| anyhow::anyhow!("boundary block {boundary} is not stored"))?;
        if sets.validators(active).is_none() && boundary == head {
            sets.insert(active, Validators::from_state(&shared.state())?)?;
        }
        digest_of(b.hash())
    };
    anyhow::ensure!(
        sets.validators(active).is_some(),
        "no validator set for epoch {active} (epochs.json lost?)"
    );
    let cache = CacheRef::new(NZU16!(4096), NZUsize!(256));
    let prefix = cfg.partition_prefix.clone();

    let resolver = marshal::resolver::p2p::init(
        context.child("marshal_resolver"),
        marshal::resolver::p2p::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(200),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );
    // Proposals travel compact (crate::relay): header and transaction hashes.
    let (relay, outgoing) = Relay::new();
    let (bs, br) = channels.blocks;
    context.child("relay").spawn({
        let relay = relay.clone();
        let shared = shared.clone();
        move |ctx| relay.run(ctx, shared, outgoing, bs, br)
    });

    let finalizations = immutable::Archive::init(
        context.child("finalizations"),
        archive_cfg(
            &prefix,
            "finalizations",
            &cache,
            simplex_ed25519::Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .map_err(|e| anyhow::anyhow!("opening the finalizations archive: {e}"))?;
    // Finalized blocks live once, in the node's redb store (crate::store).
    let blocks = RedbBlocks::open(shared.clone())
        .map_err(|e| anyhow::anyhow!("opening the block store: {e:#}"))?;

    let (actor, mailbox, _floor) =
        MarshalActor::<_, Standard<PoaiBlock>, _, _, _, _, _, Exact>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: sets.clone(),
                epocher: epocher.clone(),
                start: marshal::Start::Genesis(genesis_block),
                partition_prefix: prefix.clone(),
                mailbox_size: NZUsize!(1024),
                view_retention: ViewDelta::new(10),
                prunable_items_per_section: NZU64!(16),
                page_cache: cache.clone(),
                replay_buffer: NZUsize!(1 << 16),
                key_write_buffer: NZUsize!(1 << 12),
                value_write_buffer: NZUsize!(1 << 16),
                block_codec_config: (),
                max_repair: NZUsize!(16),
                max_pending_acks: NZUsize!(16),
                strategy: Sequential,
            },
        )
        .await;
    let (enter_tx, enter_rx) = mpsc::unbounded();
    let (finalized_tx, finalized_rx) = mpsc::unbounded();
    let finalizer = app.finalizer(enter_tx);
    context
        .child("finalizer")
        .dedicated()
        .spawn(move |_| finalizer.run(finalized_rx));
    actor.start(FinalizedQueue(finalized_tx), relay, resolver);
    let inline = Inline::new(
        context.child("inline"),
        app,
        mailbox.clone(),
        epocher.clone(),
    );

    let (startup, heard) = match sets.validators(active).and_then(|v| startup(&v, &me)) {
        Some((s, h)) => (Some(s), Some(h)),
        None => (None, None),
    };
    let watch = Watch::new(inline.clone(), sets.clone(), shared.clone());
    let orchestrator = Orchestrator {
        cfg,
        sets,
        inline,
        watch,
        marshal: mailbox,
        epocher,
        blocker,
        tracker,
        tracked: None,
        cache,
    };
    let (votes, certificates, resolver) =
        (channels.votes, channels.certificates, channels.resolver);
    context.child("orchestrator").spawn(move |ctx| {
        orchestrator.run(
            ctx,
            votes,
            certificates,
            resolver,
            active,
            floor,
            enter_rx,
            heard,
        )
    });

    let (gs, gr) = channels.gossip;
    context
        .child("gossip")
        .spawn(move |ctx| crate::gossip::run(ctx, shared, gs, gr, startup));
    Ok(())
}

/// The longest a validator waits at start to hear from a quorum of its peers
/// ([`crate::gossip::Startup`]) before its consensus starts anyway.
pub const STARTUP_WAIT: Duration = Duration::from_secs(5);

/// What a validator of `validators` waits for at start: a quorum, counting itself, of peers
/// heard from; `None` for a node outside the set or alone in it.
fn startup(
    validators: &Validators,
    me: &PublicKey,
) -> Option<(crate::gossip::Startup, oneshot::Receiver<()>)> {
    let keys = validators.keys();
    if !keys.contains(me) || keys.len() < 2 {
        return None;
    }
    // The fault model of simplex's ed25519 scheme: n >= 3f + 1.
    let quorum = usize::try_from(<N3f1 as Faults>::quorum(keys.len())).unwrap_or(usize::MAX);
    let (ready, heard) = oneshot::channel();
    let peers: Vec<PublicKey> = keys.iter().filter(|k| *k != me).cloned().collect();
    Some((
        crate::gossip::Startup {
            peers,
            need: quorum.saturating_sub(1),
            ready,
        },
        heard,
    ))
}

type App<E> = Inline<E, simplex_ed25519::Scheme, PoaiApp, PoaiBlock, FixedEpocher>;

struct Orchestrator<E, B, T>
where
    E: Clock + Spawner + Storage + Metrics + Supervisor + CryptoRng,
{
    cfg: EngineConfig,
    sets: EpochSets,
    inline: App<E>,
    watch: Watch<App<E>>,
    marshal: MarshalMailbox<simplex_ed25519::Scheme, Standard<PoaiBlock>>,
    epocher: FixedEpocher,
    blocker: B,
    tracker: T,
    /// The last epoch whose peers were handed to the network.
    tracked: Option<u64>,
    cache: CacheRef,
}

struct EpochChannels<S: Sender> {
    votes: MuxHandle<S>,
    certificates: MuxHandle<S>,
    resolver: MuxHandle<S>,
}

impl<E, B, T> Orchestrator<E, B, T>
where
    E: Clock + Spawner + Storage + Metrics + Supervisor + CryptoRng,
    B: Blocker<PublicKey = PublicKey> + Clone,
    T: PeerTracker,
{
    #[allow(clippy::too_many_arguments)]
    async fn run<S, R>(
        mut self,
        context: E,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
        active: u64,
        floor: Digest,
        mut enter: mpsc::UnboundedReceiver<EnterEpoch>,
        heard: Option<oneshot::Receiver<()>>,
    ) where
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (mux, vote_handle, mut vote_backup) =
            Muxer::builder(context.child("vote_mux"), votes.0, votes.1)
                .with_backup()
                .build();
        mux.start();
        let (mux, cert_handle, mut cert_backup) = Muxer::builder(
            context.child("certificate_mux"),
            certificates.0,
            certificates.1,
        )
        .with_backup()
        .build();
        mux.start();
        let (mux, resolver_handle) =
            Muxer::new(context.child("resolver_mux"), resolver.0, resolver.1);
        mux.start();
        let mut channels = EpochChannels {
            votes: vote_handle,
            certificates: cert_handle,
            resolver: resolver_handle,
        };
        if let Some(heard) = heard {
            // Connections first (gossip's hellos tell when a quorum is reachable), so the first
            // leader's proposal is not sent into no connection at all.
            self.track(active);
            let timeout = context.sleep(STARTUP_WAIT);
            futures::pin_mut!(timeout);
            if let futures::future::Either::Right(_) = futures::future::select(heard, timeout).await
            {
                eprintln!(
                    "poai consensus: starting without having heard from a quorum of validators \
                     in {} s",
                    STARTUP_WAIT.as_secs()
                );
            }
        }
        let Some(mut current) = self.enter(&context, &mut channels, active, floor).await else {
            eprintln!("poai consensus: could not start epoch {active}");
            return;
        };
        loop {
            tokio::select! {
                biased;
                msg = enter.next() => {
                    let Some(EnterEpoch { epoch, floor, ack }) = msg else { break };
                    if epoch > current.0 {
                        let Some(next) = self.enter(&context, &mut channels, epoch, floor).await else {
                            eprintln!("poai consensus: could not start epoch {epoch}");
                            break;
                        };
                        current.1.abort();
                        current = next;
                    }
                    ack.acknowledge();
                }
                b = vote_backup.recv() => {
                    let Some((theirs, (from, _))) = b else { break };
                    self.behind(current.0, theirs, from);
                }
                b = cert_backup.recv() => {
                    let Some((theirs, (from, _))) = b else { break };
                    self.behind(current.0, theirs, from);
                }
            }
        }
    }

    /// A peer sent traffic of epoch `theirs`; if it is later than ours we missed our epoch's
    /// boundary: ask marshal to fetch its finalization from that peer.
    fn behind(&self, ours: u64, theirs: u64, from: PublicKey) {
        if theirs <= ours {
            return;
        }
        if let Some(last) = self.epocher.last(Epoch::new(ours)) {
            self.marshal.hint_finalized(last, NonEmptyVec::new(from));
        }
    }

    /// Hands the network the peers of `epoch` (its validators and the previous epoch's), once.
    fn track(&mut self, epoch: u64) {
        if self.tracked == Some(epoch) {
            return;
        }
        let mut peers: Vec<(PublicKey, Option<String>)> = Vec::new();
        for set in [
            self.sets.validators(epoch.saturating_sub(1)),
            self.sets.validators(epoch),
        ]
        .into_iter()
        .flatten()
        {
            for k in set.keys() {
                if !peers.iter().any(|(p, _)| p == k) {
                    peers.push((k.clone(), set.net_addr(k).map(str::to_string)));
                }
            }
        }
        self.tracker.track(epoch, &peers);
        self.tracked = Some(epoch);
    }

    /// Starts the simplex engine of `epoch` from `floor`.
    async fn enter<S: Sender<PublicKey = PublicKey>>(
        &mut self,
        context: &E,
        channels: &mut EpochChannels<S>,
        epoch: u64,
        floor: Digest,
    ) -> Option<(u64, Handle<()>)> {
        self.sets.validators(epoch)?;
        self.track(epoch);
        let scheme = self.sets.scheme(epoch)?;
        // Genesis or the previous epoch's boundary block: both are finalized starting points.
        let floor = simplex::Floor::Genesis(floor);
        let engine = simplex::Engine::new(
            context.child("simplex").with_attribute("epoch", epoch),
            simplex::Config {
                scheme,
                elector: elector(),
                blocker: self.blocker.clone(),
                automaton: self.inline.clone(),
                relay: self.inline.clone(),
                reporter: self.watch.clone(),
                strategy: Sequential,
                partition: format!("{}-simplex-{epoch}", self.cfg.partition_prefix),
                mailbox_size: NZUsize!(1024),
                epoch: Epoch::new(epoch),
                floor,
                replay_buffer: NZUsize!(1 << 16),
                write_buffer: NZUsize!(1 << 12),
                page_cache: self.cache.clone(),
                leader_timeout: self.cfg.leader_timeout,
                certification_timeout: self.cfg.certification_timeout,
                timeout_retry: Duration::from_secs(5),
                view_retention: ViewDelta::new(10),
                skip: simplex::SkipPolicy::Disabled,
                fetch_timeout: NZDuration!(Duration::from_secs(2)),
                fetch_retry_delay: Duration::from_millis(200),
                forward: simplex::ForwardPolicy::Disabled,
                track_historical_votes: false,
            },
        );
        let votes = channels.votes.register(epoch).await.ok()?;
        let certificates = channels.certificates.register(epoch).await.ok()?;
        let resolver = channels.resolver.register(epoch).await.ok()?;
        Some((epoch, engine.start(votes, certificates, resolver)))
    }
}
