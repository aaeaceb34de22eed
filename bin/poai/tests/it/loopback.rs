//! Validators as real `poai node` processes on loopback (issue 5). Four: one is killed with
//! SIGKILL, the other three keep finalizing; restarted on its data directory it catches up; no
//! transaction reported as included is lost, and every node holds the same chain. A fifth node
//! bonds stake and becomes a validator at the next epoch.

use poai_chain::api::TxStatus;
use poai_chain::genesis::GenesisAccount;
use poai_chain::{Call, Hash32, SignedTx, Transaction, TxBody, address_of};
use poai_consensus::cluster::{self, Cluster};
use poai_crypto::{ParamSet, SigningKey};
use poai_miner::NodeClient;
use poai_primitives::Address;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const BLOCK_MS: u64 = 250;

/// Kills every node still running when the test ends, passed or not.
struct Nodes(Vec<Option<Child>>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sender(i: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[40 + i; 32]).unwrap()
}

fn transfer(key: &SigningKey, chain: poai_primitives::ChainId, nonce: u64) -> Transaction {
    let body = TxBody {
        chain_id: chain,
        nonce,
        fee: 0,
        call: Call::Transfer {
            to: Address([0x77; 20]),
            amount: 1 + u128::from(nonce),
        },
    };
    Transaction::Account(SignedTx::sign(body, key).unwrap())
}

fn start(exe: &Path, c: &Cluster, i: usize) -> Child {
    // A stale rpc.addr from before a restart must not be mistaken for the new one.
    let _ = std::fs::remove_file(c.members[i].data.join("rpc.addr"));
    c.node_command(exe, i, BLOCK_MS).unwrap().spawn().unwrap()
}

/// The client of the node whose data directory is `data`, once it has written `rpc.addr`.
async fn client_at(data: &Path) -> NodeClient {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(url) = std::fs::read_to_string(data.join("rpc.addr")) {
            return NodeClient::new(&url).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{} never wrote rpc.addr",
            data.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn client(c: &Cluster, i: usize) -> NodeClient {
    client_at(&c.members[i].data).await
}

/// A current-thread runtime for the test body.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn clients(c: &Cluster) -> Vec<NodeClient> {
    let mut out = Vec::new();
    for i in 0..c.members.len() {
        out.push(client(c, i).await);
    }
    out
}

async fn height(c: &NodeClient) -> u64 {
    c.chain_info().await.map(|i| i.height).unwrap_or(0)
}

async fn wait_height(c: &NodeClient, h: u64, what: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while height(c).await < h {
        assert!(
            Instant::now() < deadline,
            "{what}: height {} < {h}",
            height(c).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends one transfer per sender through "its" validator and waits until all are included.
async fn send_round(
    clients: &[NodeClient],
    who: &[usize],
    chain: poai_primitives::ChainId,
    nonces: &mut [u64; 4],
    included: &mut Vec<(Hash32, u64)>,
) {
    let mut hashes = Vec::new();
    for &i in who {
        let key = sender(u8::try_from(i).unwrap());
        let tx = transfer(&key, chain, nonces[i]);
        nonces[i] += 1;
        hashes.push(clients[i].send(&tx).await.unwrap());
    }
    for (h, &i) in hashes.iter().zip(who) {
        match clients[i]
            .wait_tx(*h, Duration::from_secs(30))
            .await
            .unwrap()
        {
            TxStatus::Included { height, .. } => included.push((*h, height)),
            other => panic!("transfer {h} through validator {i}: {other:?}"),
        }
    }
}

#[test]
fn four_validators_survive_kill_9_and_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_poai"));
    let mut genesis = poai_node::devnet::devnet_genesis(poai_node::node::now_unix(), 60);
    for i in 0..4 {
        genesis.accounts.push(GenesisAccount {
            address: address_of(sender(i).verifying_key()),
            balance: 1_000_000,
        });
    }
    let ports = cluster::free_ports(4).unwrap();
    let c = cluster::prepare(dir.path(), 4, &ports, genesis).unwrap();
    let chain = c.genesis.chain_id;
    let mut nodes = Nodes((0..4).map(|i| Some(start(exe, &c, i))).collect());
    runtime().block_on(async {
        let mut clients = clients(&c).await;
        let mut included = Vec::new();
        let mut nonces = [0u64; 4];
        wait_height(
            &clients[0],
            3,
            "4 validators finalize",
            Duration::from_secs(60),
        )
        .await;
        for _ in 0..3 {
            send_round(&clients, &[0, 1, 2, 3], chain, &mut nonces, &mut included).await;
        }

        // kill -9 validator 3: the other three are a quorum (3 of 4) and go on.
        let mut victim = nodes.0[3].take().unwrap();
        victim.kill().unwrap();
        victim.wait().unwrap();
        let at_kill = height(&clients[0]).await;
        wait_height(
            &clients[0],
            at_kill + 5,
            "3 validators go on",
            Duration::from_secs(30),
        )
        .await;
        for _ in 0..3 {
            send_round(&clients, &[0, 1, 2], chain, &mut nonces, &mut included).await;
        }

        // Restarted on its data directory, it catches up from its peers.
        nodes.0[3] = Some(start(exe, &c, 3));
        clients[3] = client(&c, 3).await;
        let tip = height(&clients[0]).await;
        wait_height(
            &clients[3],
            tip,
            "the restarted validator catches up",
            Duration::from_secs(60),
        )
        .await;
        send_round(&clients, &[0, 1, 2, 3], chain, &mut nonces, &mut included).await;
        let tip = included.iter().map(|(_, h)| *h).max().unwrap();
        for cl in &clients {
            wait_height(
                cl,
                tip,
                "every validator has every transfer",
                Duration::from_secs(30),
            )
            .await;
        }

        // Every node holds the same blocks and state roots up to the tip.
        for h in 1..=tip {
            let b0 = clients[0].block(h).await.unwrap().unwrap();
            for (i, cl) in clients.iter().enumerate().skip(1) {
                let b = cl.block(h).await.unwrap().unwrap();
                assert_eq!(b.hash, b0.hash, "validator {i} differs at height {h}");
                assert_eq!(b.header.state_root, b0.header.state_root);
            }
        }
        // Nothing reported as included was lost, on any node.
        assert_eq!(included.len(), 4 * 3 + 3 * 3 + 4);
        for (hash, h) in &included {
            for (i, cl) in clients.iter().enumerate() {
                match cl.tx_status(*hash).await.unwrap() {
                    TxStatus::Included { height, .. } => assert_eq!(height, *h, "validator {i}"),
                    other => panic!("validator {i} lost {hash}: {other:?}"),
                }
            }
        }
    });
}

/// A fifth `poai node`, not in the genesis set, follows the chain; its owner bonds stake through
/// RPC; from the epoch after the bond it is a validator: it proposes blocks, and it holds the same
/// chain as the others.
#[test]
fn a_bonded_validator_joins_at_the_next_epoch() {
    const EPOCH: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_poai"));
    let owner = sender(9);
    let mut genesis = poai_node::devnet::devnet_genesis(poai_node::node::now_unix(), 60);
    genesis.accounts.push(GenesisAccount {
        address: address_of(owner.verifying_key()),
        balance: 1_000_000,
    });
    let ports = cluster::free_ports(5).unwrap();
    let mut c = cluster::prepare(dir.path(), 4, &ports[..4], genesis).unwrap();
    // Short epochs, so the join happens within seconds.
    c.genesis.consensus.as_mut().unwrap().epoch_length = EPOCH;
    std::fs::write(&c.genesis_path, serde_json::to_string(&c.genesis).unwrap()).unwrap();
    let chain = c.genesis.chain_id;

    // The joiner: its own consensus key and data directory, the same genesis.
    let jdir = dir.path().join("joiner");
    std::fs::create_dir_all(&jdir).unwrap();
    let jkey = jdir.join("consensus.key");
    let jpub = poai_node::validator_cli::write_key(&jkey).unwrap();
    let jseed = poai_node::validator_cli::read_key(&jkey).unwrap();
    let jaddr = format!("127.0.0.1:{}", ports[4]);
    let mut nodes = Nodes((0..4).map(|i| Some(start(exe, &c, i))).collect());
    let log = std::fs::File::create(jdir.join("node.log")).unwrap();
    let joiner = std::process::Command::new(exe)
        .args(["node", "--genesis"])
        .arg(&c.genesis_path)
        .arg("--data")
        .arg(&jdir)
        .arg("--consensus-key")
        .arg(&jkey)
        .args(["--p2p", &jaddr, "--p2p-local", "--rpc", "127.0.0.1:0"])
        .args(["--block-ms", &BLOCK_MS.to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    nodes.0.push(Some(joiner));

    runtime().block_on(async {
        let clients = clients(&c).await;
        wait_height(
            &clients[0],
            2,
            "4 validators finalize",
            Duration::from_secs(60),
        )
        .await;
        let me = address_of(owner.verifying_key());
        let bond = poai_chain::validator::ValidatorCall::Bond {
            consensus_key: jpub,
            stake: 1_000,
            net_addr: Some(jaddr.clone()),
            pop: poai_chain::validator::sign_pop(&jseed, chain, &me),
        };
        let body = TxBody {
            chain_id: chain,
            nonce: 0,
            fee: 0,
            call: Call::Validator(bond),
        };
        let tx = Transaction::Account(SignedTx::sign(body, &owner).unwrap());
        let hash = clients[0].send(&tx).await.unwrap();
        let TxStatus::Included { height: bonded, .. } = clients[0]
            .wait_tx(hash, Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the bond was not included")
        };
        // Member from the next epoch; give it two more epochs to take its turns.
        let joined = (bonded / EPOCH + 1) * EPOCH;
        let tip = joined + 2 * EPOCH;
        wait_height(
            &clients[0],
            tip,
            "the chain goes on after the join",
            Duration::from_secs(90),
        )
        .await;
        let mut proposed = false;
        for h in joined..=tip {
            let b = clients[0].block(h).await.unwrap().unwrap();
            proposed |= b.header.proposer == me;
        }
        assert!(
            proposed,
            "the joiner proposed no block in heights {joined}..={tip}"
        );
        // The joiner holds the same chain.
        let j = client_at(&jdir).await;
        wait_height(&j, tip, "the joiner follows", Duration::from_secs(60)).await;
        for h in [1, bonded, joined, tip] {
            let a = clients[0].block(h).await.unwrap().unwrap();
            let b = j.block(h).await.unwrap().unwrap();
            assert_eq!(a.hash, b.hash, "the joiner differs at height {h}");
        }
    });
}
