//! A local validator set on loopback: keys, a genesis that lists them, and the `poai node`
//! command line of each. `poai devnet --validators N` and the loopback tests build on it.
//!
//! Layout under the cluster directory: `genesis.json`, and per validator `v<i>/consensus.key`
//! (0600) and `v<i>/` as its data directory (`chain.redb`, `chain.blocks`, `consensus/`, `rpc.addr`,
//! `node.log`).

use anyhow::{Context, Result, bail};
use poai_chain::Genesis;
use poai_chain::genesis::{ConsensusGenesis, GenesisValidator};
use poai_chain::hash::hash_tagged;
use poai_primitives::Address;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// One validator of a local cluster.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its index.
    pub index: usize,
    /// Its data directory.
    pub data: PathBuf,
    /// Its consensus key file.
    pub key: PathBuf,
    /// Its p2p address.
    pub p2p: SocketAddr,
    /// Its account (proposer, paid fees).
    pub account: Address,
}

/// A local cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The genesis file.
    pub genesis_path: PathBuf,
    /// The genesis.
    pub genesis: Genesis,
    /// The validators.
    pub members: Vec<Member>,
}

/// `n` free TCP ports on 127.0.0.1 (bound once, then released: another process could take one
/// in between; a node then fails to bind and says so).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("finding free ports")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

fn account_of(i: usize) -> Address {
    let h = hash_tagged(b"poai/devnet/validator", &[&i.to_be_bytes()]);
    let mut a = [0u8; 20];
    for (d, s) in a.iter_mut().zip(h.0.iter()) {
        *d = *s;
    }
    Address(a)
}

/// Creates (or, if `dir/genesis.json` exists, reopens) a cluster of `n` validators on the given
/// p2p ports, over `base` (a devnet genesis without a consensus section).
pub fn prepare(dir: &Path, n: usize, ports: &[u16], base: Genesis) -> Result<Cluster> {
    let genesis_path = dir.join("genesis.json");
    let member = |i: usize, port: u16| Member {
        index: i,
        data: dir.join(format!("v{i}")),
        key: dir.join(format!("v{i}")).join("consensus.key"),
        p2p: SocketAddr::from(([127, 0, 0, 1], port)),
        account: account_of(i),
    };
    if genesis_path.exists() {
        let genesis: Genesis = serde_json::from_slice(&std::fs::read(&genesis_path)?)
            .with_context(|| format!("parsing {}", genesis_path.display()))?;
        let c = genesis
            .consensus
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{} has no validators", genesis_path.display()))?;
        let members = c
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let port = v
                    .net_addr
                    .as_deref()
                    .and_then(|a| a.parse::<SocketAddr>().ok())
                    .map(|a| a.port())
                    .ok_or_else(|| anyhow::anyhow!("validator {i} has no net_addr"))?;
                Ok(member(i, port))
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(Cluster {
            genesis_path,
            genesis,
            members,
        });
    }
    if ports.len() != n || n == 0 {
        bail!(
            "a cluster of {n} validators needs {n} ports, got {}",
            ports.len()
        );
    }
    let members: Vec<Member> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| member(i, *p))
        .collect();
    let mut validators = Vec::new();
    for m in &members {
        std::fs::create_dir_all(&m.data)
            .with_context(|| format!("creating {}", m.data.display()))?;
        let public = poai_node::validator_cli::write_key(&m.key)?;
        validators.push(GenesisValidator {
            consensus_key: public,
            address: m.account,
            stake: 0,
            net_addr: Some(m.p2p.to_string()),
        });
    }
    let mut genesis = base;
    genesis.consensus = Some(ConsensusGenesis {
        epoch_length: 1000,
        min_validator_stake: 0,
        // Small: each p2p channel's mailbox is sized for every peer the sets may hold.
        max_validators: u32::try_from(n.saturating_mul(2).max(8)).unwrap_or(u32::MAX),
        unbonding_epochs: 1,
        validators,
    });
    genesis
        .validate()
        .map_err(|e| anyhow::anyhow!("cluster genesis: {e}"))?;
    std::fs::write(
        &genesis_path,
        serde_json::to_string_pretty(&genesis)? + "\n",
    )
    .with_context(|| format!("writing {}", genesis_path.display()))?;
    Ok(Cluster {
        genesis_path,
        genesis,
        members,
    })
}

impl Cluster {
    /// The `poai node` command of validator `i` (`exe` is the `poai` binary), JSON-RPC on a
    /// free port (written to `v<i>/rpc.addr`), output appended to `v<i>/node.log`.
    pub fn node_command(&self, exe: &Path, i: usize, block_ms: u64) -> Result<Command> {
        let m = self
            .members
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("no validator {i}"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.data.join("node.log"))
            .with_context(|| format!("opening {}", m.data.join("node.log").display()))?;
        let mut cmd = Command::new(exe);
        cmd.arg("node")
            .arg("--genesis")
            .arg(&self.genesis_path)
            .arg("--data")
            .arg(&m.data)
            .arg("--consensus-key")
            .arg(&m.key)
            .arg("--p2p")
            .arg(m.p2p.to_string())
            .arg("--p2p-local")
            .arg("--rpc")
            .arg("127.0.0.1:0")
            .arg("--block-ms")
            .arg(block_ms.to_string())
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(cmd)
    }

    /// Validator `i`'s JSON-RPC URL once it has written it (after a restart, the new one).
    pub fn rpc_url(&self, i: usize) -> Option<String> {
        let m = self.members.get(i)?;
        std::fs::read_to_string(m.data.join("rpc.addr")).ok()
    }
}

/// Child node processes, stopped when dropped whatever happened: SIGINT first (a node finishes
/// the block it is committing), SIGKILL after a 5 s grace period.
#[derive(Default)]
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = Command::new("kill")
                .arg("-INT")
                .arg(c.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in &mut self.0 {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits until the node with data directory `data` has written its JSON-RPC URL
/// (`data/rpc.addr`); fails as soon as `child` (its process, if given) exits, or at `deadline`.
pub fn wait_rpc_url(
    data: &Path,
    mut child: Option<&mut Child>,
    deadline: Instant,
) -> Result<String> {
    let log = data.join("node.log");
    loop {
        if let Ok(url) = std::fs::read_to_string(data.join("rpc.addr")) {
            return Ok(url);
        }
        if let Some(c) = child.as_deref_mut()
            && let Some(status) = c.try_wait()?
        {
            bail!(
                "node {} exited ({status}); see {}",
                data.display(),
                log.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "node {} did not start; see {}",
                data.display(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
