//! Wiring one validator: simplex (BFT over block digests), marshal (full blocks, backfill,
//! ordered delivery of finalized blocks), the block buffer, the backfill resolver and mempool
//! gossip, on any commonware runtime and network (docs/DESIGN-consensus.md, section 1.2). The
//! node runs it on the tokio runtime with authenticated TCP ([`crate::validator`]); the tests
//! run it on the deterministic runtime with a simulated network.

use crate::app::{PoaiApp, Validators, genesis_digest};
use crate::block::PoaiBlock;
use commonware_broadcast::buffered;
use commonware_consensus::marshal::{
    self, core::Actor as MarshalActor, standard::Inline, standard::Standard,
};
use commonware_consensus::simplex::{
    self, elector::RoundRobin, scheme::ed25519 as simplex_ed25519,
};
use commonware_consensus::types::{Epoch, FixedEpocher, ViewDelta};
use commonware_cryptography::{
    Signer as _, certificate::ConstantProvider, certificate::Verifier as _, ed25519::PrivateKey,
    ed25519::PublicKey, sha256::Sha256,
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Metrics, Spawner, Storage, Supervisor, buffer::paged::CacheRef};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize, acknowledgement::Exact, ordered::Set};
use poai_node::node::Shared;
use rand_core::CryptoRng;
use std::sync::Arc;
use std::time::Duration;

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
    /// Proposed blocks.
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
    /// The validator set.
    pub validators: Validators,
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
    /// Defaults for a validator of `validators`: 500 ms blocks, 2 s leader timeout.
    pub fn new(signer: PrivateKey, validators: Validators, chain_id: u64, prefix: &str) -> Self {
        let mut namespace = b"poai/consensus/v1/".to_vec();
        namespace.extend_from_slice(&chain_id.to_be_bytes());
        Self {
            signer,
            validators,
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

/// Starts a validator's consensus on `context`: marshal, block buffer, backfill, simplex and
/// gossip. Returns once everything is spawned; the tasks live as long as `context`'s tree.
pub async fn start<E, S, R, P, B>(
    context: E,
    cfg: EngineConfig,
    shared: Arc<Shared>,
    app: PoaiApp,
    channels: Channels<S, R>,
    peers: P,
    blocker: B,
) -> anyhow::Result<()>
where
    E: Clock + Spawner + Storage + Metrics + Supervisor + CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let me = cfg.signer.public_key();
    let participants = Set::try_from(cfg.validators.keys().to_vec())
        .map_err(|_| anyhow::anyhow!("the validator set lists a consensus key twice"))?;
    let scheme = simplex_ed25519::Scheme::signer(&cfg.namespace, participants, cfg.signer.clone())
        .ok_or_else(|| {
            anyhow::anyhow!("this node's consensus key {me} is not in the validator set")
        })?;
    let provider = ConstantProvider::<simplex_ed25519::Scheme, Epoch>::new(scheme.clone());
    let (genesis, genesis_block) = genesis_digest(&shared)?;
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
    let (buffer_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: NZUsize!(1024),
            deque_size: 16,
            priority: false,
            codec_config: (),
            peer_provider: peers,
            strategy: Sequential,
        },
    );
    buffer_engine.start(channels.blocks);

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
    let blocks = immutable::Archive::init(
        context.child("blocks"),
        archive_cfg(&prefix, "blocks", &cache, ()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("opening the blocks archive: {e}"))?;

    // One epoch for the whole chain: the validator set is fixed by genesis (set changes at epoch
    // boundaries are not wired yet; see docs/DESIGN-consensus.md).
    let epocher = FixedEpocher::new(NZU64!(1 << 60));
    let (actor, mailbox, _floor) =
        MarshalActor::<_, Standard<PoaiBlock>, _, _, _, _, _, Exact>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider,
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
    actor.start(app.finalizer(), buffer, resolver);

    let inline = Inline::new(context.child("inline"), app, mailbox, epocher);
    let engine = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: inline,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: NZUsize!(1024),
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(genesis),
            replay_buffer: NZUsize!(1 << 16),
            write_buffer: NZUsize!(1 << 12),
            page_cache: cache,
            leader_timeout: cfg.leader_timeout,
            certification_timeout: cfg.certification_timeout,
            timeout_retry: Duration::from_secs(5),
            view_retention: ViewDelta::new(10),
            skip: simplex::SkipPolicy::Disabled,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(200),
            forward: simplex::ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    engine.start(channels.votes, channels.certificates, channels.resolver);

    let (gs, gr) = channels.gossip;
    context
        .child("gossip")
        .spawn(move |ctx| crate::gossip::run(ctx, shared, gs, gr));
    Ok(())
}
