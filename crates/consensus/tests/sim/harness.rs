//! One simulated run: 4 validators, a transfer workload, one fault, the checks.

use commonware_codec::Encode;
use commonware_cryptography::{Signer, ed25519::PrivateKey};
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_runtime::{Clock, Quota, Runner as _, Spawner as _, Supervisor as _, deterministic};
use commonware_utils::{NZU32, NZUsize, Probability};
use poai_chain::genesis::{ConsensusGenesis, GenesisValidator};
use poai_chain::validator::ValidatorCall;
use poai_chain::{Call, Genesis, Hash32, Machine, SignedTx, Transaction, TxBody, address_of};
use poai_consensus::engine::{self, Channels, EngineConfig, PeerTracker, channel};
use poai_consensus::{EpochSets, FinalizedLog, PoaiApp, Validators};
use poai_crypto::{ParamSet, SigningKey};
use poai_node::NodeConfig;
use poai_node::node::Shared;
use poai_primitives::{Address, ChainId};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

const N: usize = 4;
const SENDERS: u8 = 8;
const TARGET: u64 = 24;
const CHAIN: ChainId = ChainId(4242);
const EPOCH: u64 = 8;

/// What goes wrong in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing.
    None,
    /// `who` stops for good a quarter of the way in.
    Crash { who: usize },
    /// {0,1} and {2,3} cannot reach each other for 10 s, then heal.
    Partition,
    /// `who` stops a quarter of the way in and restarts on its storage halfway.
    Restart { who: usize },
    /// A fifth node, following from genesis, bonds stake in epoch 0 and validates from the next
    /// epoch; then validator 3 unbonds and leaves the set at the epoch after its unbond.
    JoinLeave,
}

/// A run's network and fault.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every link's latency (ms), jitter (ms) and delivery rate (per mille).
    pub link: (u64, u64, u64),
    /// The fault.
    pub fault: Fault,
    /// Block timestamps from the proposers' clocks, as on a real chain (`max(now, parent)`, so
    /// several blocks share a second), instead of the devnet's fixed step.
    pub clock_time: bool,
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Plan {
    /// Draws latency 10-80 ms, jitter 0-20 ms, loss 0-5 %, one fault and the timestamp rule from
    /// the seed.
    pub fn from_seed(seed: u64) -> Self {
        let mut x = seed;
        let latency = 10 + splitmix(&mut x) % 71;
        let jitter = splitmix(&mut x) % 21;
        let rate = 950 + splitmix(&mut x) % 51;
        let who = 2 + usize::try_from(splitmix(&mut x) % 2).unwrap();
        let fault = match splitmix(&mut x) % 5 {
            0 => Fault::None,
            1 => Fault::Crash { who },
            2 => Fault::Partition,
            3 => Fault::Restart { who },
            _ => Fault::JoinLeave,
        };
        let clock_time = splitmix(&mut x).is_multiple_of(2);
        Self {
            link: (latency, jitter, rate),
            fault,
            clock_time,
        }
    }

    /// Nodes in the run: the 4 genesis validators, and the joiner for [`Fault::JoinLeave`].
    fn nodes(&self) -> usize {
        if self.fault == Fault::JoinLeave {
            N + 1
        } else {
            N
        }
    }

    /// Height every running node must reach.
    fn target(&self) -> u64 {
        if self.fault == Fault::JoinLeave {
            5 * EPOCH
        } else {
            TARGET
        }
    }

    fn link(&self) -> Link {
        Link {
            latency: Duration::from_millis(self.link.0),
            jitter: Duration::from_millis(self.link.1),
            success_rate: Probability::new(self.link.2, 1000).unwrap(),
        }
    }
}

/// What a run produced.
pub struct Outcome {
    /// Per validator: (height, block hash, state root) of every finalized block, in order.
    pub logs: Vec<Vec<(u64, Hash32, Hash32)>>,
    /// The lowest height every validator that ended up running reached.
    pub min_height: u64,
    /// Transfers included on chain.
    pub included: usize,
    /// Simulated time of the run.
    pub simulated: Duration,
}

fn sender_key(i: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[100 + i; 32]).unwrap()
}

/// The ML-DSA key of validator `i`'s account (it signs the staking transactions).
fn owner_key(i: usize) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[200 + u8::try_from(i).unwrap(); 32]).unwrap()
}

fn validator_account(i: usize) -> Address {
    address_of(owner_key(i).verifying_key())
}

/// Genesis stake of each validator, and what the joiner bonds.
const STAKE: u128 = 1_000;

fn genesis(keys: &[PrivateKey], clock_time: bool) -> Genesis {
    let mut g: Genesis = serde_json::from_value(serde_json::json!({
        "chain_id": CHAIN.0,
        "genesis_time": 0,
        "allow_dev_evidence": true,
        "dev_block_time_step": if clock_time { None } else { Some(60) },
        "lp_address": Address([0x11; 20]),
        "treasury": Address([0x22; 20]),
    }))
    .unwrap();
    g.accounts = (0..SENDERS)
        .map(|i| poai_chain::genesis::GenesisAccount {
            address: address_of(sender_key(i).verifying_key()),
            balance: 1_000_000,
        })
        .collect();
    // The joiner's account, with the stake it will bond.
    g.accounts.push(poai_chain::genesis::GenesisAccount {
        address: validator_account(N),
        balance: STAKE,
    });
    g.consensus = Some(ConsensusGenesis {
        // Short epochs: every run crosses several boundaries (a new simplex engine each).
        epoch_length: EPOCH,
        min_validator_stake: STAKE / 2,
        max_validators: 100,
        unbonding_epochs: 1,
        validators: keys
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisValidator {
                consensus_key: k.public_key().encode().as_ref().try_into().unwrap(),
                address: validator_account(i),
                stake: STAKE,
                net_addr: None,
            })
            .collect(),
    });
    g
}

type Registry = Arc<Mutex<Vec<Option<Weak<Shared>>>>>;

fn shared_of(reg: &Registry, i: usize) -> Option<Arc<Shared>> {
    reg.lock().unwrap().get(i)?.as_ref()?.upgrade()
}

fn head(reg: &Registry, i: usize) -> u64 {
    shared_of(reg, i).map_or(0, |s| s.state().head().height)
}

/// The simulated network tracks every simulated node from the start (peer set 0), so epochs
/// need not register their sets.
struct SimTracker;

impl PeerTracker for SimTracker {
    fn track(
        &mut self,
        _epoch: u64,
        _peers: &[(commonware_cryptography::ed25519::PublicKey, Option<String>)],
    ) {
    }
}

/// The consensus key of node `i`, as the chain stores it.
fn signers_key(i: u64) -> [u8; 32] {
    PrivateKey::from_seed(i)
        .public_key()
        .encode()
        .as_ref()
        .try_into()
        .unwrap()
}

/// Signs `call` with `key` at the sender's next nonce (deterministic signature) and submits it
/// to node `v`; panics if it is refused.
fn submit(reg: &Registry, key: &SigningKey, v: usize, call: Call) -> Hash32 {
    let shared = shared_of(reg, v).unwrap();
    let nonce = shared
        .state()
        .account(&address_of(key.verifying_key()))
        .nonce;
    let body = TxBody {
        chain_id: CHAIN,
        nonce,
        fee: 0,
        call,
    };
    let signature = key
        .sign_deterministic(&body.signing_message(), &[])
        .unwrap();
    let tx = Transaction::Account(SignedTx {
        body,
        public_key: key.verifying_key().clone(),
        signature,
    });
    shared.submit(vec![tx]).pop().unwrap().unwrap()
}

const QUOTA: Quota = Quota::per_second(NZU32!(100_000));

#[allow(clippy::too_many_arguments)]
async fn start_validator(
    ctx: deterministic::Context,
    oracle: Oracle<commonware_cryptography::ed25519::PublicKey, deterministic::Context>,
    i: usize,
    signer: PrivateKey,
    genesis: Genesis,
    dir: PathBuf,
    log: FinalizedLog,
    reg: Registry,
) {
    let mut cfg = NodeConfig::new(genesis.clone(), dir);
    cfg.produce_blocks = false;
    cfg.proposer = validator_account(i);
    // A restarted validator reopens its redb once the crashed one's tasks are gone.
    let shared = loop {
        match Shared::open(&cfg, Machine::new()) {
            Ok(s) => break s,
            Err(e) if format!("{e:#}").contains("already open") => {
                ctx.sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("validator {i}: {e:#}"),
        }
    };
    reg.lock().unwrap()[i] = Some(Arc::downgrade(&shared));
    let validators = Validators::from_genesis(&genesis).unwrap();
    let epochs_file = cfg.data_dir.join("epochs.json");
    let control = oracle.control(signer.public_key());
    let mut pairs = Vec::new();
    for c in channel::ALL {
        pairs.push(control.register(c, QUOTA).await.unwrap());
    }
    let mut pairs = pairs.into_iter();
    let mut next = || pairs.next().unwrap();
    let channels = Channels {
        votes: next(),
        certificates: next(),
        resolver: next(),
        backfill: next(),
        blocks: next(),
        gossip: next(),
    };
    let mut ecfg = EngineConfig::new(signer.clone(), CHAIN.0, &format!("v{i}"));
    ecfg.block_interval = Duration::from_millis(500);
    let sets = EpochSets::open(&ecfg.namespace, signer, validators, Some(epochs_file)).unwrap();
    let app = PoaiApp::new(shared.clone(), sets.clone(), ecfg.block_interval, Some(log));
    engine::start(
        ctx,
        ecfg,
        shared,
        sets,
        app,
        channels,
        oracle.manager(),
        control,
        SimTracker,
    )
    .await
    .unwrap();
}

async fn wait_until(
    ctx: &deterministic::Context,
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = ctx.current() + limit;
    while !cond() {
        assert!(ctx.current() < deadline, "timed out waiting for {what}");
        ctx.sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `plan` with `seed` and checks every invariant; panics on a violation.
pub fn run(seed: u64, plan: &Plan) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let plan = plan.clone();
    let runner = deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(3600))),
    );
    runner.start(|context| async move {
        let nodes = plan.nodes();
        let target = plan.target();
        let signers: Vec<PrivateKey> = (0..nodes as u64).map(PrivateKey::from_seed).collect();
        let keys: Vec<_> = signers.iter().map(Signer::public_key).collect();
        let genesis = genesis(&signers[..N], plan.clock_time);
        let (network, oracle) = Network::new_with_peers(
            context.child("network"),
            simulated::Config {
                max_size: poai_consensus::block::MAX_MESSAGE_BYTES,
                max_peers_per_set: NZUsize!(N + 1),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            keys.clone(),
        )
        .await;
        network.start();
        let link = plan.link();
        let connect = |a: usize, b: usize| {
            let (oracle, link, ka, kb) = (
                oracle.clone(),
                link.clone(),
                keys[a].clone(),
                keys[b].clone(),
            );
            async move { oracle.add_link(ka, kb, link).await.unwrap() }
        };
        for a in 0..nodes {
            for b in 0..nodes {
                if a != b {
                    connect(a, b).await;
                }
            }
        }
        let start = context.current();
        let reg: Registry = Arc::new(Mutex::new(vec![None; nodes]));
        let logs: Vec<FinalizedLog> = (0..nodes).map(|_| Arc::default()).collect();
        let spawn = |i: usize| {
            let (oracle, signer, genesis) = (oracle.clone(), signers[i].clone(), genesis.clone());
            let (dir, log, reg) = (root.join(format!("v{i}")), logs[i].clone(), reg.clone());
            context
                .child("validator")
                .with_attribute("index", i)
                .spawn(move |ctx| async move {
                    start_validator(ctx, oracle, i, signer, genesis, dir, log, reg).await;
                    futures::future::pending::<()>().await;
                })
        };
        let mut handles: Vec<_> = (0..nodes).map(spawn).collect();
        // Staking: the joiner bonds in epoch 0, validator 3 unbonds once the joiner is in.
        let staking: Arc<Mutex<Vec<Hash32>>> = Arc::default();
        if plan.fault == Fault::JoinLeave {
            let (reg, staking, joiner) = (reg.clone(), staking.clone(), signers[N].clone());
            context.child("staking").spawn(move |ctx| async move {
                wait_until(&ctx, "height 2", Duration::from_secs(120), || {
                    head(&reg, 0) >= 2
                })
                .await;
                let seed: [u8; 32] = joiner.encode().as_ref().try_into().unwrap();
                let owner = validator_account(N);
                let bond = ValidatorCall::Bond {
                    consensus_key: joiner.public_key().encode().as_ref().try_into().unwrap(),
                    stake: STAKE,
                    net_addr: None,
                    pop: poai_chain::validator::sign_pop(&seed, CHAIN, &owner),
                };
                let h = submit(&reg, &owner_key(N), 0, Call::Validator(bond));
                staking.lock().unwrap().push(h);
                wait_until(&ctx, "the joiner's epoch", Duration::from_secs(300), || {
                    head(&reg, 0) > EPOCH
                })
                .await;
                let unbond = ValidatorCall::Unbond {
                    consensus_key: signers_key(3),
                };
                let h = submit(&reg, &owner_key(3), 0, Call::Validator(unbond));
                staking.lock().unwrap().push(h);
            });
        }

        // Workload: each sender sends transfers to "its" validator, one every 800 ms.
        let admitted: Arc<Mutex<Vec<(usize, Hash32)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (reg, admitted, stop) = (reg.clone(), admitted.clone(), stop.clone());
            context.child("workload").spawn(move |ctx| async move {
                let keys: Vec<SigningKey> = (0..SENDERS).map(sender_key).collect();
                let mut nonces = vec![0u64; usize::from(SENDERS)];
                let mut k = 0usize;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    ctx.sleep(Duration::from_millis(100)).await;
                    let s = k % usize::from(SENDERS);
                    k += 1;
                    let v = s % N;
                    let Some(shared) = shared_of(&reg, v) else {
                        continue;
                    };
                    let body = TxBody {
                        chain_id: CHAIN,
                        nonce: nonces[s],
                        fee: 0,
                        call: Call::Transfer {
                            to: Address([0x77; 20]),
                            amount: 1,
                        },
                    };
                    // Deterministic signatures: a seed must reproduce the same transactions.
                    let signature = keys[s]
                        .sign_deterministic(&body.signing_message(), &[])
                        .unwrap();
                    let tx = Transaction::Account(SignedTx {
                        body,
                        public_key: keys[s].verifying_key().clone(),
                        signature,
                    });
                    match shared.submit(vec![tx]).pop().unwrap() {
                        Ok(h) => {
                            nonces[s] += 1;
                            admitted.lock().unwrap().push((v, h));
                        }
                        Err(_) => {
                            let a = address_of(keys[s].verifying_key());
                            nonces[s] = shared.state().account(&a).nonce;
                        }
                    }
                }
            });
        }

        let up = |reg: &Registry, i: usize, h: u64| head(reg, i) >= h;
        let minute = Duration::from_secs(120);
        let mut down_for_good = None;
        let mut went_down = None;
        match plan.fault {
            Fault::None | Fault::JoinLeave => {}
            Fault::Crash { who } | Fault::Restart { who } => {
                wait_until(&context, "a quarter of the run", minute, || {
                    up(&reg, who, target / 4)
                })
                .await;
                handles[who].abort();
                went_down = Some(who);
                let others: Vec<usize> = (0..nodes).filter(|&i| i != who).collect();
                wait_until(&context, "the others to go on without it", minute, || {
                    others.iter().all(|&i| up(&reg, i, target / 2))
                })
                .await;
                if matches!(plan.fault, Fault::Restart { .. }) {
                    handles[who] = spawn(who);
                } else {
                    down_for_good = Some(who);
                }
            }
            Fault::Partition => {
                wait_until(&context, "a quarter of the run", minute, || {
                    up(&reg, 0, target / 4)
                })
                .await;
                for a in [0, 1] {
                    for b in [2, 3] {
                        oracle
                            .remove_link(keys[a].clone(), keys[b].clone())
                            .await
                            .unwrap();
                        oracle
                            .remove_link(keys[b].clone(), keys[a].clone())
                            .await
                            .unwrap();
                    }
                }
                // Let what was in flight land, then nothing may finalize without a quorum.
                context.sleep(Duration::from_secs(2)).await;
                let before: Vec<u64> = (0..nodes).map(|i| head(&reg, i)).collect();
                context.sleep(Duration::from_secs(10)).await;
                let during: Vec<u64> = (0..nodes).map(|i| head(&reg, i)).collect();
                assert_eq!(
                    before, during,
                    "finalized without a quorum during the partition"
                );
                for a in [0, 1] {
                    for b in [2, 3] {
                        connect(a, b).await;
                        connect(b, a).await;
                    }
                }
            }
        }
        let running: Vec<usize> = (0..nodes).filter(|i| Some(*i) != down_for_good).collect();
        wait_until(
            &context,
            "every running validator to reach the target",
            Duration::from_secs(600),
            || running.iter().all(|&i| up(&reg, i, target)),
        )
        .await;
        // Drain: no new transfers; everything admitted by a validator that never went down must
        // be included.
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let stable: Vec<usize> = (0..nodes).filter(|i| Some(*i) != went_down).collect();
        let must: Vec<Hash32> = admitted
            .lock()
            .unwrap()
            .iter()
            .filter(|(v, _)| stable.contains(v))
            .map(|(_, h)| *h)
            .collect();
        let v0 = shared_of(&reg, 0).unwrap();
        wait_until(
            &context,
            "admitted transfers to be included",
            Duration::from_secs(300),
            || {
                must.iter()
                    .all(|h| v0.store.tx_location(h).unwrap().is_some())
            },
        )
        .await;
        let included = admitted
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, h)| v0.store.tx_location(h).unwrap().is_some())
            .count();
        // The restarted validator catches up with validator 0.
        let tip = head(&reg, 0);
        wait_until(
            &context,
            "every running validator to reach the same tip",
            Duration::from_secs(300),
            || running.iter().all(|&i| up(&reg, i, tip)),
        )
        .await;
        let simulated = context.current().duration_since(start).unwrap();
        let logs: Vec<Vec<(u64, Hash32, Hash32)>> =
            logs.iter().map(|l| l.lock().unwrap().clone()).collect();
        // Agreement and no gaps, at every height.
        for (i, log) in logs.iter().enumerate() {
            for (n, (h, _, _)) in log.iter().enumerate() {
                assert_eq!(*h, n as u64 + 1, "validator {i}: gap in finalized heights");
            }
            let common = log.len().min(logs[0].len());
            assert_eq!(
                log[..common],
                logs[0][..common],
                "validator {i} disagrees with validator 0"
            );
        }
        // redb holds exactly the finalized chain.
        for &i in &running {
            let s = shared_of(&reg, i).unwrap();
            let h = s.state().head().height;
            assert_eq!(
                s.store.block(h + 1).unwrap(),
                None,
                "validator {i}: block above the head"
            );
            assert_eq!(
                s.state().root(),
                logs[i].last().unwrap().2,
                "validator {i}: state root"
            );
        }
        assert!(included > 0, "no transfer was included");
        if let Some(who) = down_for_good {
            // The crashed validator's turns to lead end without a block; every validator still
            // up reports them skipped and names it as their leader (crate::watch).
            let label = validator_account(who).to_string();
            for &i in &running {
                let s = shared_of(&reg, i).unwrap();
                let n = s.metrics.views_skipped.with_label_values(&[&label]).get();
                assert!(
                    n > 0,
                    "validator {i}: no view led by the crashed validator {who} reported skipped"
                );
            }
        }
        if plan.clock_time {
            // Chain time follows the proposers' clocks and does not run ahead of them (stamping
            // `parent + 1` ran it half a second ahead per 500 ms block).
            let now = context
                .current()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let t = v0.state().head().timestamp;
            assert!(t <= now, "chain time {t} is ahead of the clock {now}");
        }
        if plan.fault == Fault::JoinLeave {
            check_join_leave(&v0, &staking.lock().unwrap());
        }
        drop(v0);
        drop(handles);
        let min_height = running
            .iter()
            .map(|&i| logs[i].len() as u64)
            .min()
            .unwrap_or(0);
        Outcome {
            logs,
            min_height,
            included,
            simulated,
        }
    })
}

/// The joiner proposes blocks from the epoch after its bond; validator 3 proposes none from the
/// epoch after its unbond; both transactions were included.
fn check_join_leave(v0: &Shared, staking: &[Hash32]) {
    let [bond, unbond] = staking else {
        panic!("the staking transactions were not both sent: {staking:?}")
    };
    let at = |h: &Hash32| v0.store.tx_location(h).unwrap().expect("included").0;
    let (joined, left) = (
        (at(bond) / EPOCH + 1) * EPOCH,
        (at(unbond) / EPOCH + 1) * EPOCH,
    );
    let tip = v0.state().head().height;
    assert!(
        left < tip,
        "the run ended before validator 3's last epoch ended"
    );
    let proposer = |h: u64| v0.store.block(h).unwrap().unwrap().header.proposer;
    assert!(
        (joined..=tip).any(|h| proposer(h) == validator_account(N)),
        "the joiner never proposed after height {joined}"
    );
    assert!(
        (0..joined).all(|h| h == 0 || proposer(h) != validator_account(N)),
        "the joiner proposed before its epoch"
    );
    assert!(
        (left..=tip).all(|h| proposer(h) != validator_account(3)),
        "validator 3 proposed after leaving at height {left}"
    );
}
