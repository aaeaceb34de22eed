//! Crash safety: kill -9 the node at random points during block production, 20 times. After
//! each kill the store holds every block that RPC had shown (RPC only shows committed blocks),
//! earlier blocks are unchanged, and the restarted node continues from the last committed block.
//! At the end, replaying every block from genesis gives the stored state root.

use crate::{bin, rt, wait_rpc};
use poai_chain::{Hash32, Machine};
use poai_node::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// xorshift64: reproducible "random" kill points from a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn spawn(data: &Path) -> crate::Proc {
    let mut cmd = Command::new(bin());
    cmd.arg("devnet")
        .arg("--data")
        .arg(data)
        .args(["--miners", "2", "--tiers", "1,3", "--blocks", "1000000"])
        .args(["--block-ms", "15"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    crate::Proc::from_child(cmd.spawn().expect("spawn poai-node devnet"))
}

fn stored_head(data: &Path) -> (u64, Hash32) {
    let store = Store::open(&data.join("chain.redb")).unwrap();
    let head = store.load_state(&poai_node::tee::machine()).unwrap().head();
    (head.height, head.hash)
}

#[test]
fn kill9_during_block_production_20_times() {
    let seed = 0x5eed_c0de_2026_u64;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("chain");
    let rt = rt();
    let mut committed: Vec<(u64, Hash32)> = Vec::new();
    for round in 0..20 {
        let _ = std::fs::remove_file(data.join("rpc.addr"));
        let proc = spawn(&data);
        let client = wait_rpc(&data, Duration::from_secs(60));
        let first = rt.block_on(async {
            loop {
                if let Ok(i) = client.chain_info().await {
                    return i.height;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        if let Some(&(h, _)) = committed.last() {
            assert!(
                first >= h,
                "round {round}: restarted at {first}, below committed {h}"
            );
        }
        // Run for a random 30..330 ms, watching the committed height, then kill -9.
        let until = Instant::now() + Duration::from_millis(30 + rng.next() % 300);
        let mut seen = first;
        while Instant::now() < until {
            if let Ok(i) = rt.block_on(client.chain_info()) {
                seen = seen.max(i.height);
            }
        }
        proc.kill9();
        let (height, hash) = stored_head(&data);
        assert!(
            height >= seen,
            "round {round} (seed {seed:#x}): store at {height}, RPC had shown {seen}"
        );
        // Blocks committed before are unchanged.
        let store = Store::open(&data.join("chain.redb")).unwrap();
        for (h, hsh) in &committed {
            assert_eq!(store.block(*h).unwrap().unwrap().hash(), *hsh, "block {h}");
        }
        drop(store);
        committed.push((height, hash));
    }
    let store = Store::open(&data.join("chain.redb")).unwrap();
    let state = store.load_state(&poai_node::tee::machine()).unwrap();
    assert!(state.head().height > 20, "blocks were produced");
    assert!(state.spent_count() > 0, "proofs were mined");
    let replayed = store.replay(&Machine::new()).unwrap();
    assert_eq!(replayed.head(), state.head());
    assert_eq!(replayed.root(), state.root());
    assert_eq!(replayed.root(), state.head().state_root);
}
