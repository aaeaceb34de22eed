//! Deterministic simulations of a 4-validator A-chain (issue 5; docs/DESIGN-consensus.md 4.1).
//!
//! Every validator is the real stack: `poai_node::Shared` over redb in a temporary directory,
//! `PoaiApp`, marshal and simplex, on commonware's deterministic runtime with a simulated
//! network. A seed fixes everything: link latency, jitter and loss, the fault, the runtime's
//! schedule. A failing seed prints itself; `POAI_SIM_SEED=<n>` reruns only that seed.
//!
//! - `seeds`: seeds `0..POAI_SIM_SEEDS` (default 20), each with a fault drawn from the seed
//!   (none, one validator crashed for good, a partition that heals, a validator restarted
//!   after a while that catches up, a fifth node bonding its way into the set while validator
//!   3 unbonds its way out), and the timestamp rule (about half the seeds stamp blocks from the
//!   proposers' clocks as a real chain does, the others use the devnet's fixed step). Epochs are
//!   8 blocks, so every run crosses several boundaries
//!   (one simplex engine per epoch). The long run: `POAI_SIM_SEEDS=1000 cargo test --release
//!   -p poai-consensus --test sim seeds`.
//! - `reproducible`: one seed twice, identical chains and simulated time.
//!
//! Checked after every run: every validator finalized the same block hash and state root at
//! every height it reached, without gaps; the validators that stayed up reached the target;
//! every transfer admitted by a validator that never went down is included (gossip reached the
//! leaders and nothing finalized was lost); the restarted validator caught up to the others; with
//! clock timestamps, chain time is not ahead of the clock; with a validator crashed for good, every
//! other one reports views skipped and names the crashed one as their leader.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use harness::{Fault, Plan, run};

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("POAI_SIM_SEED") {
        return vec![s.parse().expect("POAI_SIM_SEED is a number")];
    }
    let n: u64 = std::env::var("POAI_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    (0..n).collect()
}

#[test]
fn seeds_agree_under_faults() {
    for seed in seeds() {
        let plan = Plan::from_seed(seed);
        let started = std::time::Instant::now();
        let out = std::panic::catch_unwind(|| run(seed, &plan));
        match out {
            Ok(o) => println!(
                "seed {seed}: {plan:?}: {} heights, {} transfers included, {:.1} s simulated, {:.2} s wall",
                o.min_height,
                o.included,
                o.simulated.as_secs_f64(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("seed {seed} failed ({plan:?}); rerun with POAI_SIM_SEED={seed}");
                std::panic::resume_unwind(e);
            }
        }
    }
}

#[test]
fn named_faults() {
    for (seed, fault) in [
        (101, Fault::None),
        (102, Fault::Crash { who: 3 }),
        (103, Fault::Partition),
        (104, Fault::Restart { who: 2 }),
        (105, Fault::JoinLeave),
    ] {
        let mut plan = Plan::from_seed(seed);
        plan.fault = fault;
        let o = run(seed, &plan);
        println!(
            "{plan:?}: {} heights, {} included",
            o.min_height, o.included
        );
    }
}

#[test]
fn reproducible() {
    let plan = Plan::from_seed(7);
    let a = run(7, &plan);
    let b = run(7, &plan);
    assert_eq!(a.logs, b.logs, "same seed, different chains");
    assert_eq!(
        a.simulated, b.simulated,
        "same seed, different simulated time"
    );
}
