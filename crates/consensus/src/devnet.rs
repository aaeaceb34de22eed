//! `poai devnet --validators N` (N ≥ 2): a BFT validator set on loopback and the miners.
//!
//! Validator 0 runs in this process (its state drives the progress display and the closing
//! table, exactly as the single-node devnet's); validators 1..N are `poai node` child processes
//! of the same binary. Miners talk JSON-RPC to the validators round-robin; mempool gossip brings
//! every proof to every leader. Layout: `DATA/validators/genesis.json` (the cluster's genesis,
//! also copied to `DATA/genesis.json`), `DATA/validators/v<i>/` (each validator's data, key and
//! `node.log`), `DATA/miners/`, `DATA/summary.json`.

use crate::cluster::{self, Cluster};
use anyhow::{Context, Result};
use commonware_runtime::{Runner as _, tokio as cw_tokio};
use poai_node::cli::NodeArgs;
use poai_node::devnet::{self, DevnetArgs};

use std::time::{Duration, Instant};

/// Runs a multi-validator devnet and prints its summary.
pub fn run(args: DevnetArgs) -> Result<()> {
    devnet::check_args(&args)?;
    let n = args.validators;
    let data = devnet::data_dir(&args)?;
    let dir = data.join("validators");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ports = if dir.join("genesis.json").exists() {
        Vec::new()
    } else {
        cluster::free_ports(n)?
    };
    let base = devnet::devnet_genesis(poai_node::node::now_unix(), args.time_step);
    let cluster = cluster::prepare(&dir, n, &ports, base)?;
    let genesis = devnet::genesis_in(&data, || cluster.genesis.clone())?;
    let exe = std::env::current_exe().context("finding the poai binary")?;
    for m in cluster.members.iter().skip(1) {
        let _ = std::fs::remove_file(m.data.join("rpc.addr"));
    }
    let mut children = cluster::Processes::default();
    for i in 1..cluster.members.len() {
        let mut cmd = cluster.node_command(&exe, i, args.block_ms)?;
        cmd.arg("--verify-backend")
            .arg(args.verify_backend.to_string());
        children.0.push(
            cmd.spawn()
                .with_context(|| format!("starting validator {i}"))?,
        );
    }
    let v0 = cluster
        .members
        .first()
        .ok_or_else(|| anyhow::anyhow!("no validators"))?
        .clone();
    let node_args = NodeArgs {
        genesis: cluster.genesis_path.clone(),
        data: v0.data.clone(),
        rpc: args.rpc,
        metrics: args.metrics,
        block_ms: args.block_ms,
        proposer: None,
        max_request_bytes: 8 * 1024 * 1024,
        verify_backend: args.verify_backend,
        stop_at: None,
        consensus_key: Some(v0.key.clone()),
        p2p: v0.p2p,
        peers: Vec::new(),
        p2p_local: true,
    };
    let runner = cw_tokio::Runner::new(
        cw_tokio::Config::new().with_storage_directory(v0.data.join("consensus")),
    );
    let summary = runner.start(|context| async move {
        let v = crate::validator::start(context, node_args).await?;
        let mut urls = vec![v.url.clone()];
        let deadline = Instant::now() + Duration::from_secs(60);
        for m in cluster.members.iter().skip(1) {
            urls.push(cluster::wait_rpc_url(&m.data, None, deadline)?);
        }
        eprintln!(
            "devnet: {n} validators on 127.0.0.1 (p2p {}), JSON-RPC {}",
            ports_of(&cluster),
            urls.join(" ")
        );
        let summary = devnet::drive(&args, &data, &genesis, &v.shared, &urls).await;
        v.handle.stop().await?;
        let summary = devnet::finish(&data, summary?)?;
        anyhow::Ok((summary, args.json))
    });
    drop(children);
    let (summary, json) = summary?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        devnet::print_table(&summary);
        println!("validator logs: {}", dir.display());
    }
    Ok(())
}

fn ports_of(c: &Cluster) -> String {
    c.members
        .iter()
        .map(|m| m.p2p.port().to_string())
        .collect::<Vec<_>>()
        .join(",")
}
