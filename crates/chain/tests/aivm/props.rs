//! Property tests over random scenarios: tasks with random providers, GPUs, tolerances and one
//! possibly dishonest provider (wrong output, no commit, no reveal), random disputes (real and
//! frivolous). After every block `Sim` checks: AIT supply = minted − burned, native coin
//! conserved (accounts + escrow + stake + burned), stake bookkeeping, replay and reload. At the
//! end: no honest provider was ever slashed or jailed, and every disputed lie was slashed.

use super::*;
use poai_chain::ai::{DisputeStatus, TaskStatus};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Lie {
    WrongOutput,
    NoCommit,
    NoReveal,
    Honest,
}

fn lie() -> impl Strategy<Value = Lie> {
    prop_oneof![
        Just(Lie::WrongOutput),
        Just(Lie::NoCommit),
        Just(Lie::NoReveal),
        Just(Lie::Honest)
    ]
}

#[derive(Debug, Clone)]
struct TaskPlan {
    lie: Lie,
    dispute: bool,
    frivolous: bool,
    payment: u128,
    jitter: [u8; 3],
}

fn task_plan() -> impl Strategy<Value = TaskPlan> {
    (
        lie(),
        any::<bool>(),
        any::<bool>(),
        1u128..=1_000_000_000_000_000_000_000,
        any::<[u8; 3]>(),
    )
        .prop_map(|(lie, dispute, frivolous, payment, jitter)| TaskPlan {
            lie,
            dispute,
            frivolous,
            payment,
            jitter,
        })
}

/// `base` with `bits` bits flipped, starting at a position chosen by `seed`.
fn flip(base: Hash32, bits: u16, seed: u8) -> Hash32 {
    let mut f = base.0;
    for i in 0..bits {
        let pos = (usize::from(seed) * 7 + usize::from(i) * 13) % 256;
        f[pos / 8] ^= 1 << (pos % 8);
    }
    Hash32(f)
}

fn gpu(i: u8) -> GpuModel {
    [GpuModel::H100, GpuModel::H200, GpuModel::B200][usize::from(i % 3)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_scenarios_keep_supply_balances_and_honest_stake(
        gpus in proptest::collection::vec(0u8..3, 6),
        liar in proptest::option::of(1u8..=6),
        max_bits in proptest::option::of(0u16..=64),
        plans in proptest::collection::vec(task_plan(), 1..5),
    ) {
        let p = AiParams { referee_secs: 600, ..params() };
        let mut s = Sim::new(9, p.clone());
        let c = PrivacyLevel::Confidential;
        let list: Vec<_> = (1..=6u8).map(|n| (n, c, gpu(gpus[usize::from(n - 1)]))).collect();
        s.add_providers(&list);
        let tol = match max_bits {
            Some(k) => Tolerance::Hamming { max_bits: k },
            None => Tolerance::Exact,
        };
        let m = s.add_model(7, 1, c, tol);
        let half = max_bits.unwrap_or(0) / 2;
        let mut lies_disputed = Vec::new();

        for (k, plan) in plans.iter().enumerate() {
            let input = u8::try_from(k).unwrap();
            let id = s.submit_task(8, m, input, plan.payment);
            s.empty_blocks(1);
            let t = s.task(&id);
            prop_assert_eq!(t.status, TaskStatus::Committing);
            let users: Vec<u8> = t.providers.iter().map(|a| s.user(a)).collect();
            let base = Hash32([input; 32]);
            let mut commits = Vec::new();
            let mut reveals = Vec::new();
            let mut results = Vec::new();
            for (i, n) in users.iter().enumerate() {
                let behaviour = if Some(*n) == liar { plan.lie } else { Lie::Honest };
                let (out, fp) = match (behaviour, tol) {
                    (Lie::WrongOutput, _) => (h(0xf0 ^ input), flip(base, 256, 0)),
                    // Honest results of a tolerance model differ in output hash and within
                    // half the bound in fingerprint, so any two agree.
                    (_, Tolerance::Hamming { .. }) => {
                        (flip(h(input), 1, plan.jitter[i]), flip(base, half, plan.jitter[i]))
                    }
                    (_, Tolerance::Exact) => (h(input), base),
                };
                let (ct, rt) = s.result_txs(*n, id, out, fp, 60);
                if !matches!(behaviour, Lie::NoCommit) {
                    commits.push(ct);
                    if !matches!(behaviour, Lie::NoReveal) {
                        reveals.push(rt);
                    }
                }
                results.push((*n, behaviour));
            }
            s.block(commits);
            // A missing commit: wait for the commit deadline.
            for _ in 0..20 {
                if s.task(&id).status != TaskStatus::Committing { break; }
                s.empty_blocks(1);
            }
            let status = s.task(&id).status;
            if status == TaskStatus::Revealing {
                s.block(reveals);
                for _ in 0..20 {
                    if s.task(&id).status == TaskStatus::Revealing { s.empty_blocks(1); } else { break; }
                }
            }
            let t = s.task(&id);
            // With at most one liar, the two honest providers always settle the task.
            prop_assert_eq!(t.status, TaskStatus::Settled, "{:?}", results);
            for (n, b) in &results {
                let agreed = t.agreeing.contains(&addr(*n));
                prop_assert_eq!(agreed, matches!(b, Lie::Honest), "provider {} {:?}", n, b);
            }

            let att_of = |s: &Sim, i: usize| {
                t.reveals[i].map(|r| s.state.ai().attestation(&r.attestation_id).unwrap().attestation.clone())
            };
            let liar_pos = results.iter().position(|(_, b)| matches!(b, Lie::WrongOutput));
            let honest: Vec<usize> = results.iter().enumerate().filter(|(_, (_, b))| matches!(b, Lie::Honest)).map(|(i, _)| i).collect();
            if let (Some(lp), true) = (liar_pos, plan.dispute) {
                let a = att_of(&s, honest[0]).unwrap();
                let b = att_of(&s, lp).unwrap();
                let tx = s.ai(9, AiCall::OpenDispute { bond: p.min_dispute_bond, a, b });
                let r = s.block(vec![tx]);
                let Outcome::Ai(o) = r[0].outcome else { panic!() };
                s.empty_blocks(1);
                let d = s.state.ai().dispute(&o.id).unwrap().clone();
                prop_assert_eq!(d.status, DisputeStatus::Refereeing);
                let referee = *d.referees.last().unwrap();
                let rn = s.user(&referee);
                prop_assert!(Some(rn) != liar, "the accused is never its own referee");
                let (out, fp) = match tol {
                    Tolerance::Hamming { .. } => (flip(h(input), 1, 99), flip(base, half, 99)),
                    Tolerance::Exact => (h(input), base),
                };
                let ratt = s.attestation(rn, m, t.input_hash, out, fp, Hash32::ZERO, s.next_time());
                let tx = s.ai(rn, AiCall::RefereeResult { dispute_id: o.id, attestation: ratt });
                s.block(vec![tx]);
                let d = s.state.ai().dispute(&o.id).unwrap().clone();
                prop_assert_eq!(d.status, DisputeStatus::Upheld);
                prop_assert_eq!(d.slashed, liar.map(addr));
                lies_disputed.push(o.id);
            }
            if plan.frivolous && honest.len() >= 2 && matches!(tol, Tolerance::Hamming { .. }) {
                let a = att_of(&s, honest[0]).unwrap();
                let b = att_of(&s, honest[1]).unwrap();
                if a.body.output_hash != b.body.output_hash {
                    let tx = s.ai(9, AiCall::OpenDispute { bond: p.min_dispute_bond, a, b });
                    let r = s.block(vec![tx]);
                    prop_assert!(matches!(r[0].outcome, Outcome::Ai(o) if o.action == AiAction::DisputeFrivolous));
                }
            }
        }

        // No honest provider was ever slashed or jailed.
        for n in 1..=6u8 {
            let pr = s.state.ai().provider(&addr(n)).unwrap();
            if Some(n) != liar {
                prop_assert_eq!(pr.slashed, 0, "honest provider {} slashed", n);
                prop_assert!(!pr.jailed);
            }
        }
        if !lies_disputed.is_empty() {
            let pr = s.state.ai().provider(&addr(liar.unwrap())).unwrap();
            prop_assert!(pr.jailed && pr.slashed > 0);
        }
    }
}
