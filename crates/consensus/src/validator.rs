//! `poai node --consensus-key FILE`: one validator of the set a genesis lists, on commonware's
//! tokio runtime with authenticated, encrypted TCP between validators (docs/DESIGN-consensus.md,
//! section 4.3). JSON-RPC and metrics are the node's own, served on the same runtime.
//!
//! Storage: `DATA/chain.redb` (with the bodies in `DATA/chain.blocks`) holds only finalized blocks
//! and the state after them (written by the finalizer); `DATA/consensus/` is commonware's: the
//! journal of this validator's votes (what keeps a restarted validator from voting twice) and
//! marshal's archives of finalized blocks and certificates, which peers backfill from.

use crate::app::PoaiApp;
use crate::block::MAX_MESSAGE_BYTES;
use crate::engine::PeerTracker;
use crate::engine::{self, Channels, EngineConfig, channel};
use crate::epochs::{EpochSets, Validators};
use anyhow::{Context, Result};
use commonware_codec::DecodeExt as _;
use commonware_cryptography::{Signer as _, ed25519::PublicKey};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address as PeerAddress, AddressableManager as _};
use commonware_runtime::{Quota, Runner as _, Supervisor as _, tokio as cw_tokio};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZU32, NZUsize, ordered::Map};
use poai_node::cli::NodeArgs;
use poai_node::node::{self, NodeHandle, Shared};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Messages per second per peer and channel. Simplex sends a few votes and certificates per
/// view, gossip 20 batches a second, marshal at most `max_repair` backfill requests at once.
/// The network sizes every channel's inbound mailbox as one burst of this from every peer it
/// may track (`max_peers_per_set` × 4 sets), so this also bounds memory.
const QUOTA: Quota = Quota::per_second(NZU32!(200));

/// Parses `KEYHEX@HOST:PORT`.
pub fn parse_peer(s: &str) -> Result<(PublicKey, SocketAddr)> {
    let (key, addr) = s
        .split_once('@')
        .ok_or_else(|| anyhow::anyhow!("--peers entry {s:?}: expected KEYHEX@HOST:PORT"))?;
    let bytes = poai_primitives::hexfmt::decode_array::<32>(key)
        .map_err(|e| anyhow::anyhow!("--peers entry {s:?}: key: {e}"))?;
    let key = PublicKey::decode(bytes.to_vec())
        .map_err(|e| anyhow::anyhow!("--peers entry {s:?}: not an ed25519 key: {e}"))?;
    let addr = addr
        .parse()
        .map_err(|e| anyhow::anyhow!("--peers entry {s:?}: address: {e}"))?;
    Ok((key, addr))
}

/// A validator running on the current commonware runtime.
pub struct Running {
    /// The node (state, store, mempool).
    pub shared: Arc<Shared>,
    /// RPC and metrics.
    pub handle: NodeHandle,
    /// The JSON-RPC URL.
    pub url: String,
}

/// Runs a validator until Ctrl-C (or `--stop-at`).
pub fn run(args: NodeArgs) -> Result<()> {
    poai_node::os::admission_pool();
    let runner = cw_tokio::Runner::new(
        cw_tokio::Config::new().with_storage_directory(args.data.join("consensus")),
    );
    runner.start(|context| async move {
        let stop_at = args.stop_at;
        let v = start(context, args).await?;
        let mut heights = v.shared.heights();
        loop {
            if stop_at.is_some_and(|h| *heights.borrow() >= h) {
                break;
            }
            tokio::select! {
                r = heights.changed() => { if r.is_err() { break; } }
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("poai node: stopping");
                    break;
                }
            }
        }
        let height = v.shared.state().head().height;
        v.handle.stop().await?;
        let checked = v.shared.machine.signatures_checked();
        let skipped = v.shared.metrics.views_skipped_total();
        eprintln!(
            "poai node: stopped at height {height} ({checked} signatures checked, {skipped} views \
             skipped)"
        );
        Ok(())
    })
}

/// Starts a validator on `context` (a commonware tokio runtime whose storage directory is
/// `DATA/consensus`): opens the chain, serves RPC, joins the p2p network and consensus.
pub async fn start(context: cw_tokio::Context, args: NodeArgs) -> Result<Running> {
    let genesis = args.read_genesis()?;
    let key_path = args
        .consensus_key
        .clone()
        .ok_or_else(|| anyhow::anyhow!("validator mode needs --consensus-key"))?;
    let signer = crate::keys::read(&key_path)?;
    let me = signer.public_key();
    let validators = Validators::from_genesis(&genesis)?;
    // Not in the genesis set: a validator that bonded later (it follows the chain and votes
    // from the epoch its stake takes effect).
    let account = validators.account(&me).unwrap_or_default();
    // Peer addresses: genesis first, then --peers; later sets add the addresses they bonded with.
    let mut book: BTreeMap<PublicKey, SocketAddr> = BTreeMap::new();
    if let Some(c) = &genesis.consensus {
        for v in &c.validators {
            if let (Some(a), Ok(k)) = (&v.net_addr, PublicKey::decode(v.consensus_key.to_vec())) {
                let a = a.parse().map_err(|e| {
                    anyhow::anyhow!("genesis field `consensus.validators`: net_addr {a:?}: {e}")
                })?;
                book.insert(k, a);
            }
        }
    }
    for p in &args.peers {
        let (k, a) = parse_peer(p)?;
        book.insert(k, a);
    }
    book.insert(me.clone(), args.p2p);
    let max_peers = genesis
        .consensus
        .as_ref()
        .map_or(4, |c| usize::try_from(c.max_validators).unwrap_or(100))
        .saturating_mul(2)
        .max(4);

    let mut cfg = args.config(genesis.clone());
    cfg.produce_blocks = false;
    cfg.proposer = account;
    let (machine, _) =
        poai_node::sigverify::with_backend(poai_node::tee::machine(), args.verify_backend)?;
    let shared = Shared::open(&cfg, machine)?;
    // Queue what clients send for the peers from the first RPC call on: RPC serves before the
    // network and the gossip task start, and a transaction admitted in between was never
    // gossiped (its block's peers had to ask for it).
    shared.enable_gossip();
    let chain_id = genesis.chain_id.0;
    let block_interval = cfg.block_interval;
    let handle = node::serve(cfg, shared.clone()).await?;
    let url = format!("http://{}", handle.rpc_addr);
    std::fs::write(args.data.join("rpc.addr"), &url)
        .with_context(|| format!("writing {}", args.data.join("rpc.addr").display()))?;

    let mut ecfg = EngineConfig::new(signer.clone(), chain_id, "poai");
    ecfg.block_interval = block_interval;
    let signer_for_sets = signer.clone();
    let handshake = Cups::<_, commonware_cryptography::ChaCha20Poly1305>::new(
        Sake {
            signer,
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let n = std::num::NonZeroUsize::new(max_peers).unwrap_or(NZUsize!(4));
    let mut p2p = if args.p2p_local {
        lookup::Config::local(
            handshake,
            &ecfg.namespace,
            args.p2p,
            n,
            MAX_MESSAGE_BYTES,
            NZUsize!(4096),
        )
    } else {
        let mut c = lookup::Config::recommended(
            handshake,
            &ecfg.namespace,
            args.p2p,
            n,
            MAX_MESSAGE_BYTES,
            NZUsize!(4096),
        );
        // Validators commonly sit on private networks.
        c.allow_private_ips = true;
        c
    };
    p2p.peer_connection_cooldown = p2p.peer_connection_cooldown.min(Duration::from_secs(5));
    let (mut network, oracle) = lookup::Network::new(context.child("p2p"), p2p);
    let mut pairs = channel::ALL.map(|c| Some(network.register(c, QUOTA)));
    let mut take = |i: usize| {
        pairs
            .get_mut(i)
            .and_then(Option::take)
            .ok_or_else(|| anyhow::anyhow!("channel {i} registered twice"))
    };
    let channels = Channels {
        votes: take(0)?,
        certificates: take(1)?,
        resolver: take(2)?,
        backfill: take(3)?,
        blocks: take(4)?,
        gossip: take(5)?,
    };
    network.start();
    let sets = EpochSets::open(
        &ecfg.namespace,
        signer_for_sets,
        validators.clone(),
        Some(args.data.join("epochs.json")),
    )?;
    let app = PoaiApp::new(shared.clone(), sets.clone(), block_interval, None);
    let tracker = LookupTracker {
        oracle: oracle.clone(),
        book,
    };
    engine::start(
        context.child("engine"),
        ecfg,
        shared.clone(),
        sets,
        app,
        channels,
        oracle.clone(),
        oracle,
        tracker,
    )
    .await?;
    eprintln!(
        "poai node: validator {me} of {} on chain {chain_id}, p2p {}, height {}, JSON-RPC {url}",
        validators.keys().len(),
        args.p2p,
        shared.state().head().height,
    );
    Ok(Running {
        shared,
        handle,
        url,
    })
}

/// Tracks each epoch's peers on the authenticated network, with the addresses from genesis and
/// `--peers` first and those the validators bonded with otherwise.
struct LookupTracker {
    oracle: lookup::Oracle<PublicKey>,
    book: BTreeMap<PublicKey, SocketAddr>,
}

impl PeerTracker for LookupTracker {
    fn track(&mut self, epoch: u64, peers: &[(PublicKey, Option<String>)]) {
        let known: Vec<(PublicKey, PeerAddress)> = peers
            .iter()
            .filter_map(|(k, addr)| {
                let a = self
                    .book
                    .get(k)
                    .copied()
                    .or_else(|| addr.as_deref().and_then(|a| a.parse().ok()))?;
                Some((k.clone(), PeerAddress::Symmetric(a)))
            })
            .collect();
        match Map::<PublicKey, PeerAddress>::try_from(known) {
            Ok(map) => {
                let _ = self.oracle.track(epoch, map);
            }
            Err(_) => eprintln!("poai consensus: epoch {epoch}: duplicate peer"),
        }
    }
}
