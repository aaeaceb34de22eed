//! Named scenarios: settlement and minting, disputes and slashing, tolerance, tiers, assignment,
//! every timeout, staking and the model registry.

use super::*;
use poai_chain::ai::{DisputeStatus, TaskStatus};

/// Compute units per hour as LP-092 prints them (H100, A100, L40S, MI300X) and as
/// docs/DESIGN-aivm.md sets the rest; written out here so the test does not read the table it
/// checks.
fn units(g: GpuModel) -> u128 {
    match g {
        GpuModel::H100 => 1000,
        GpuModel::A100 => 600,
        GpuModel::L40s => 400,
        GpuModel::Mi300x => 800,
        GpuModel::H200 => 1400,
        GpuModel::B200 => 2200,
        GpuModel::Rtx4090 => 350,
        GpuModel::Rtx3090 => 200,
        GpuModel::Rtx5090 => 500,
    }
}

const C: PrivacyLevel = PrivacyLevel::Confidential;

/// Users 1..=5 are Confidential providers (H100, H200, B200, H100, H200), 7 owns the model, 8
/// requests, 9 challenges.
fn world(tol: Tolerance) -> (Sim, Hash32) {
    world_with(tol, params())
}

fn world_with(tol: Tolerance, p: AiParams) -> (Sim, Hash32) {
    let mut s = Sim::new(9, p);
    s.add_providers(&[
        (1, C, GpuModel::H100),
        (2, C, GpuModel::H200),
        (3, C, GpuModel::B200),
        (4, C, GpuModel::H100),
        (5, C, GpuModel::H200),
    ]);
    let m = s.add_model(7, 1, C, tol);
    (s, m)
}

fn assigned(s: &mut Sim, model: Hash32, input: u8, payment: u128) -> (Hash32, Vec<u8>) {
    let id = s.submit_task(8, model, input, payment);
    assert_eq!(s.task(&id).status, TaskStatus::Queued);
    s.empty_blocks(1);
    let t = s.task(&id);
    assert_eq!(t.status, TaskStatus::Committing);
    let users = t.providers.iter().map(|a| s.user(a)).collect();
    (id, users)
}

#[test]
fn honest_task_settles_and_mints_exact_ait() {
    let (mut s, m) = world(Tolerance::Exact);
    let payment = 30 * COIN + 2;
    let before = s.balance(8);
    let (id, p) = assigned(&mut s, m, 1, payment);
    assert_eq!(s.balance(8), before - payment, "payment escrowed");
    let durations = [36u64, 90, 120];
    let results: Vec<_> = p
        .iter()
        .zip(durations)
        .map(|(n, d)| (*n, h(0xaa), Hash32::ZERO, d))
        .collect();
    let bal: Vec<u128> = p.iter().map(|n| s.balance(*n)).collect();
    s.run_results(id, &results);
    let t = s.task(&id);
    assert_eq!(t.status, TaskStatus::Settled);
    assert_eq!(t.result, Some(h(0xaa)));
    assert_eq!(t.agreeing.len(), 3);
    let mut total = 0;
    for (i, (n, d)) in p.iter().zip(durations).enumerate() {
        let gpu = s.state.ai().provider(&addr(*n)).unwrap().gpu;
        // compute units × hours / 10, in 18 decimals.
        let want = units(gpu) * u128::from(d) * COIN / 3600 / 10;
        assert_eq!(s.credits(*n), want, "provider {n} on {gpu} for {d} s");
        total += want;
        let share = payment / 3 + if i == 0 { payment % 3 } else { 0 };
        assert_eq!(s.balance(*n), bal[i] + share, "payment share");
    }
    assert_eq!(t.minted, total);
    assert_eq!(s.state.ai().meta().ait_minted, total);
    // H100 for 36 s is exactly 1 AIT (1000 units/h × 0.01 h / 10).
    assert_eq!(
        poai_chain::ai::ait_for(GpuModel::H100, 36),
        Some(COIN),
        "LP-092: H100 = 100 AIT per hour"
    );
    assert_eq!(
        poai_chain::ai::ait_for(GpuModel::H100, 3600),
        Some(100 * COIN)
    );
    assert_eq!(
        poai_chain::ai::ait_for(GpuModel::A100, 3600),
        Some(60 * COIN)
    );
    assert_eq!(
        poai_chain::ai::ait_for(GpuModel::L40s, 3600),
        Some(40 * COIN)
    );
    assert_eq!(
        poai_chain::ai::ait_for(GpuModel::Mi300x, 3600),
        Some(80 * COIN)
    );

    // The credits are spendable: transfer, then redeem (burn).
    let n = p[0];
    let have = s.credits(n);
    let t1 = s.ai(
        n,
        AiCall::TransferCredits {
            to: addr(9),
            amount: have / 2,
        },
    );
    let t2 = s.ai(
        n,
        AiCall::RedeemCredits {
            amount: have - have / 2,
            workload_id: h(3),
        },
    );
    s.block(vec![t1, t2]);
    assert_eq!(s.credits(n), 0);
    assert_eq!(s.credits(9), have / 2);
    assert_eq!(s.state.ai().meta().ait_burned, have - have / 2);
    let tx = s.ai(
        n,
        AiCall::RedeemCredits {
            amount: 1,
            workload_id: h(3),
        },
    );
    let e = s.refused(tx);
    assert_eq!(e.name(), "InsufficientCredits");
}

#[test]
fn ait_paid_task_burns_the_payment() {
    let (mut s, m) = world(Tolerance::Exact);
    // Earn credits first with a native-paid task.
    let (id, p) = assigned(&mut s, m, 1, COIN);
    let r: Vec<_> = p.iter().map(|n| (*n, h(1), Hash32::ZERO, 100)).collect();
    s.run_results(id, &r);
    let payer = p[0];
    let credits = s.credits(payer);
    let amount = credits / 2;
    let tx = s.ai(
        payer,
        AiCall::SubmitTask {
            model_id: m,
            input_hash: h(2),
            workload: Workload::Inference,
            max_duration: 60,
            asset: PaymentAsset::Ait,
            payment: amount,
        },
    );
    let nonce = s.state.account(&addr(payer)).nonce;
    s.block(vec![tx]);
    let id2 = exec::task_id(CHAIN, &addr(payer), nonce);
    assert_eq!(s.state.ai().meta().ait_escrowed, amount);
    s.empty_blocks(1);
    let t = s.task(&id2);
    assert!(
        !t.providers.contains(&addr(payer)),
        "a requester is never its own provider"
    );
    let r: Vec<_> = t
        .providers
        .iter()
        .map(|a| (s.user(a), h(2), Hash32::ZERO, 100))
        .collect();
    s.run_results(id2, &r);
    let t = s.task(&id2);
    assert_eq!(t.status, TaskStatus::Settled);
    assert_eq!(s.state.ai().meta().ait_escrowed, 0);
    assert_eq!(
        s.state.ai().meta().ait_burned,
        amount,
        "redeemed AIT is burned"
    );
    // max_duration (60 s) caps what is credited although 100 s were claimed.
    assert_eq!(
        t.minted,
        t.agreeing
            .iter()
            .map(|a| units(s.state.ai().provider(a).unwrap().gpu) * 60 * COIN / 36_000)
            .sum::<u128>()
    );
}

#[test]
fn dishonest_provider_is_slashed_after_dispute_and_challenger_paid() {
    let (mut s, m) = world(Tolerance::Exact);
    let (id, p) = assigned(&mut s, m, 1, 3 * COIN);
    let liar = p[2];
    s.run_results(
        id,
        &[
            (p[0], h(0xaa), Hash32::ZERO, 60),
            (p[1], h(0xaa), Hash32::ZERO, 60),
            (liar, h(0xbb), Hash32::ZERO, 60),
        ],
    );
    let t = s.task(&id);
    assert_eq!(t.status, TaskStatus::Settled);
    assert_eq!(
        t.agreeing,
        vec![addr(p[0]), addr(p[1])],
        "the minority is not paid"
    );
    assert_eq!(s.credits(liar), 0);

    // The challenger fetches both attestations from the chain and disputes them.
    let att = |i: usize| {
        let rid = t.reveals[i].unwrap().attestation_id;
        s.state.ai().attestation(&rid).unwrap().attestation.clone()
    };
    let (honest, bad) = (att(0), att(2));
    let bond = 100 * COIN;
    let challenger_before = s.balance(9);
    let liar_stake = s.state.ai().provider(&addr(liar)).unwrap().stake;
    let tx = s.ai(
        9,
        AiCall::OpenDispute {
            bond,
            a: honest.clone(),
            b: bad.clone(),
        },
    );
    let r = s.block(vec![tx]);
    let Outcome::Ai(o) = r[0].outcome else {
        panic!()
    };
    assert_eq!(o.action, AiAction::DisputeOpened);
    let did = o.id;
    assert_eq!(s.balance(9), challenger_before - bond);
    // The same pair cannot be disputed twice.
    let again = s.ai(
        9,
        AiCall::OpenDispute {
            bond,
            a: bad.clone(),
            b: honest.clone(),
        },
    );
    assert_eq!(s.refused(again).name(), "DisputeExists");
    // The referee was drawn at the next block from the providers not involved.
    let d = s.state.ai().dispute(&did).unwrap().clone();
    assert_eq!(d.status, DisputeStatus::Refereeing);
    let referee = *d.referees.last().unwrap();
    assert!(referee != addr(p[0]) && referee != addr(liar) && referee != addr(9));
    let rn = s.user(&referee);
    let referee_before = s.balance(rn);
    let ratt = s.attestation(
        rn,
        m,
        h(1),
        h(0xaa),
        Hash32::ZERO,
        Hash32::ZERO,
        s.next_time(),
    );
    // Someone other than the referee cannot report.
    let wrong = s.ai(
        p[0], // accused, so never the referee
        AiCall::RefereeResult {
            dispute_id: did,
            attestation: ratt.clone(),
        },
    );
    assert_eq!(s.refused(wrong).name(), "NotReferee");
    let tx = s.ai(
        rn,
        AiCall::RefereeResult {
            dispute_id: did,
            attestation: ratt,
        },
    );
    s.block(vec![tx]);
    let d = s.state.ai().dispute(&did).unwrap().clone();
    assert_eq!(d.status, DisputeStatus::Upheld);
    assert_eq!(d.slashed, Some(addr(liar)));
    let pp = params();
    let slashed = liar_stake * u128::from(pp.slash_bps) / 10_000;
    assert_eq!(d.slash_amount, slashed);
    let lp = s.state.ai().provider(&addr(liar)).unwrap();
    assert!(lp.jailed);
    assert_eq!(lp.stake, liar_stake - slashed);
    let to_challenger = slashed * u128::from(pp.challenger_bps) / 10_000;
    let to_referee = slashed * u128::from(pp.referee_bps) / 10_000;
    assert_eq!(
        s.balance(9),
        challenger_before + to_challenger,
        "bond back plus reward"
    );
    assert_eq!(s.balance(rn), referee_before + to_referee);
    assert_eq!(
        s.state.ai().meta().native_burned,
        slashed - to_challenger - to_referee
    );
    // The honest provider is untouched, and the jailed one is never drawn again.
    assert!(!s.state.ai().provider(&addr(p[0])).unwrap().jailed);
    for i in 0..6u8 {
        let id = s.submit_task(8, m, 50 + i, COIN);
        s.empty_blocks(1);
        assert!(!s.task(&id).providers.contains(&addr(liar)));
    }
    // Its stake can still leave after unbonding (what is left of it).
    let left = s.state.ai().provider(&addr(liar)).unwrap().stake;
    let tx = s.ai(liar, AiCall::Unbond { amount: left });
    s.block(vec![tx]);
}

#[test]
fn frivolous_challenge_loses_its_bond() {
    let (mut s, m) = world(Tolerance::Hamming { max_bits: 8 });
    let ts = s.next_time();
    let a = s.attestation(1, m, h(1), h(0xaa), Hash32([0; 32]), Hash32::ZERO, ts);
    let mut fp = [0u8; 32];
    fp[0] = 0b0111_1111; // 7 bits away: within the bound.
    let b = s.attestation(2, m, h(1), h(0xab), Hash32(fp), Hash32::ZERO, ts);
    let bond = 100 * COIN;
    let (c0, p1, p2) = (s.balance(9), s.balance(1), s.balance(2));
    let tx = s.ai(9, AiCall::OpenDispute { bond, a, b });
    let r = s.block(vec![tx]);
    let Outcome::Ai(o) = r[0].outcome else {
        panic!()
    };
    assert_eq!(o.action, AiAction::DisputeFrivolous);
    assert_eq!(
        s.state.ai().dispute(&o.id).unwrap().status,
        DisputeStatus::Frivolous
    );
    assert_eq!(s.balance(9), c0 - bond);
    assert_eq!(
        s.balance(1) + s.balance(2),
        p1 + p2 + bond,
        "the accused get the bond"
    );
    assert_eq!(s.state.ai().provider(&addr(1)).unwrap().slashed, 0);

    // Identical outputs are no conflict at all: refused, nothing taken.
    let ts = s.next_time();
    let a = s.attestation(1, m, h(2), h(0xaa), Hash32::ZERO, Hash32::ZERO, ts);
    let b = s.attestation(2, m, h(2), h(0xaa), Hash32::ZERO, Hash32::ZERO, ts);
    let tx = s.ai(
        9,
        AiCall::OpenDispute {
            bond,
            a: a.clone(),
            b: b.clone(),
        },
    );
    assert_eq!(s.refused(tx).name(), "IdenticalOutputs");
    let tx = s.ai(
        9,
        AiCall::OpenDispute {
            bond: COIN,
            a: a.clone(),
            b,
        },
    );
    assert_eq!(s.refused(tx).name(), "BondTooLow");
    let b2 = s.attestation(2, m, h(2), h(1), Hash32::ZERO, Hash32::ZERO, ts);
    let tx = s.ai(
        1,
        AiCall::OpenDispute {
            bond,
            a: a.clone(),
            b: b2,
        },
    );
    assert_eq!(s.refused(tx).name(), "ChallengerIsAccused");
    let mut forged = s.attestation(2, m, h(2), h(1), Hash32::ZERO, Hash32::ZERO, ts);
    forged.body.output_hash = h(3);
    let tx = s.ai(9, AiCall::OpenDispute { bond, a, b: forged });
    assert_eq!(s.refused(tx).name(), "AttestationSignatureInvalid");
}

#[test]
fn tolerance_model_accepts_within_bound_and_rejects_beyond() {
    let (mut s, m) = world(Tolerance::Hamming { max_bits: 10 });
    let fp = |bits: usize| {
        let mut f = [0u8; 32];
        for b in 0..bits {
            f[b / 8] |= 1 << (b % 8);
        }
        Hash32(f)
    };
    // Three different outputs whose fingerprints are within 10 bits of the first.
    let (id, p) = assigned(&mut s, m, 1, COIN);
    s.run_results(
        id,
        &[
            (p[0], h(1), fp(0), 60),
            (p[1], h(2), fp(10), 60),
            (p[2], h(3), fp(40), 60),
        ],
    );
    let t = s.task(&id);
    assert_eq!(t.status, TaskStatus::Settled);
    assert_eq!(
        t.agreeing,
        vec![addr(p[0]), addr(p[1])],
        "10 bits agree, 40 do not"
    );
    assert_eq!(t.result, Some(h(1)));

    // Beyond the bound everywhere: 22 bits apart pairwise. No agreement: refunded.
    let before = s.balance(8);
    let (id, p) = assigned(&mut s, m, 2, COIN);
    let far = |k: usize| {
        let mut f = [0u8; 32];
        for b in (k * 11)..(k * 11 + 11) {
            f[b / 8] |= 1 << (b % 8);
        }
        Hash32(f)
    };
    s.run_results(
        id,
        &[
            (p[0], h(1), far(0), 60),
            (p[1], h(2), far(1), 60),
            (p[2], h(3), far(2), 60),
        ],
    );
    let t = s.task(&id);
    assert_eq!(t.status, TaskStatus::Failed);
    assert_eq!(t.minted, 0);
    assert_eq!(s.balance(8), before, "refunded");

    // An exact model treats the same fingerprints as disagreement.
    let ex = s.add_model(7, 2, C, Tolerance::Exact);
    let (id, p) = assigned(&mut s, ex, 3, COIN);
    s.run_results(
        id,
        &[
            (p[0], h(1), fp(0), 60),
            (p[1], h(2), fp(0), 60),
            (p[2], h(3), fp(0), 60),
        ],
    );
    assert_eq!(s.task(&id).status, TaskStatus::Failed);
}

#[test]
fn provider_below_model_tier_is_never_assigned() {
    let mut s = Sim::new(9, params());
    // Three Confidential providers, two Private ones (A100, L40S), one Public (RTX 4090).
    s.add_providers(&[
        (1, C, GpuModel::H100),
        (2, C, GpuModel::H200),
        (3, C, GpuModel::B200),
        (4, PrivacyLevel::Private, GpuModel::A100),
        (5, PrivacyLevel::Private, GpuModel::L40s),
        (6, PrivacyLevel::Public, GpuModel::Rtx4090),
    ]);
    let m = s.add_model(7, 1, C, Tolerance::Exact);
    let open = s.add_model(7, 2, PrivacyLevel::Public, Tolerance::Exact);
    let low = [addr(4), addr(5), addr(6)];
    let mut seen_low = false;
    for i in 0..12u8 {
        let id = s.submit_task(8, m, i, COIN);
        let id2 = s.submit_task(8, open, i, COIN);
        s.empty_blocks(1);
        let t = s.task(&id);
        assert_eq!(t.status, TaskStatus::Committing);
        assert!(
            t.providers.iter().all(|a| !low.contains(a)),
            "{:?}",
            t.providers
        );
        seen_low |= s.task(&id2).providers.iter().any(|a| low.contains(a));
    }
    assert!(seen_low, "lower tiers do serve models that allow them");
    // A lower-tier provider cannot even attest for the model.
    let att = s.attestation(4, m, h(1), h(1), Hash32::ZERO, Hash32::ZERO, s.next_time());
    let tx = s.ai(4, AiCall::SubmitAttestation { attestation: att });
    assert_eq!(s.refused(tx).name(), "TierBelowModel");
    // A GPU its tier does not prove is refused at registration.
    let txs = s.provider_txs(9, PrivacyLevel::Public, GpuModel::H100);
    let (_, rej) = s.try_block(txs);
    assert_eq!(rej[0].name(), "GpuNeedsTier");
}

#[test]
fn assignment_is_replayable_and_depends_on_nothing_the_submitter_controls() {
    let (mut s, m) = world(Tolerance::Exact);
    let eligible: Vec<Address> = (1..=5)
        .map(addr)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Two tasks in one block from different submitters with different everything.
    let t1 = s.ai(8, task_call(m, 1, COIN));
    let t2 = s.ai(
        9,
        AiCall::SubmitTask {
            model_id: m,
            input_hash: h(77),
            workload: Workload::BatchInference,
            max_duration: 7200,
            asset: PaymentAsset::Native,
            payment: 999 * COIN,
        },
    );
    let n8 = s.state.account(&addr(8)).nonce;
    let n9 = s.state.account(&addr(9)).nonce;
    s.block(vec![t1, t2]);
    let (id1, id2) = (
        exec::task_id(CHAIN, &addr(8), n8),
        exec::task_id(CHAIN, &addr(9), n9),
    );
    let parent = s.state.head().hash;
    s.empty_blocks(1);
    let (a1, a2) = (s.task(&id1), s.task(&id2));
    // Each assignment is the draw from the parent hash and the task's sequence number alone:
    // neither input, payment, workload, fee nor submitter enters it.
    assert_eq!(a1.providers, expected_draw(&parent, a1.seq, &eligible));
    assert_eq!(a2.providers, expected_draw(&parent, a2.seq, &eligible));
    assert_eq!(a2.seq, a1.seq + 1);
    // The draw function itself: same seed, same set, same result; it moves with the parent hash.
    let d = expected_draw(&parent, 7, &eligible);
    assert_eq!(d, expected_draw(&parent, 7, &eligible));
    let moved = (0..8u8).any(|i| expected_draw(&h(i), 7, &eligible) != d);
    assert!(moved);
    // Every draw is 3 distinct eligible providers.
    for i in 0..50u8 {
        let d = expected_draw(&h(i), u64::from(i), &eligible);
        let set: std::collections::BTreeSet<_> = d.iter().collect();
        assert_eq!(set.len(), 3);
        assert!(d.iter().all(|a| eligible.contains(a)));
    }
    // Replay (checked after every block by Sim) reproduced the same assignment: the replica's
    // root equals the proposer's, and the root commits to the task rows.
}

#[test]
fn every_timeout_path_resolves() {
    let p = AiParams {
        referee_secs: 600,
        ..params()
    };
    let (mut s, m) = world_with(Tolerance::Exact, p.clone());
    let blocks = |secs: u64| secs.div_ceil(STEP);

    // 1. Commit timeout with fewer than 2 commits: failed, refunded, non-committers marked.
    let before = s.balance(8);
    let (id, pr) = assigned(&mut s, m, 1, COIN);
    let (c, _) = s.result_txs(pr[0], id, h(1), Hash32::ZERO, 60);
    s.block(vec![c]);
    s.empty_blocks(blocks(600 + p.commit_grace_secs));
    let t = s.task(&id);
    assert_eq!(t.status, TaskStatus::Failed);
    assert_eq!(s.balance(8), before);
    assert_eq!(s.state.ai().provider(&addr(pr[1])).unwrap().missed, 1);

    // 2. Commit timeout with 2 commits: reveal phase; reveal timeout with the two agreeing
    //    revealed settles them.
    let (id, pr) = assigned(&mut s, m, 2, COIN);
    let (c0, r0) = s.result_txs(pr[0], id, h(1), Hash32::ZERO, 60);
    let (c1, r1) = s.result_txs(pr[1], id, h(1), Hash32::ZERO, 60);
    s.block(vec![c0, c1]);
    let att = s.attestation(pr[0], m, h(2), h(1), Hash32::ZERO, id, s.next_time());
    let late = s.ai(
        pr[0],
        AiCall::RevealResult {
            task_id: id,
            duration: 60,
            salt: [0; 32],
            attestation: att,
        },
    );
    assert_eq!(
        s.refused(late).name(),
        "WrongTaskPhase",
        "no reveals before the commit phase ends"
    );
    s.empty_blocks(blocks(600 + p.commit_grace_secs));
    assert_eq!(s.task(&id).status, TaskStatus::Revealing);
    // Re-sign the reveals for the current time.
    let mk = |s: &mut Sim, n: u8| {
        let att = s.attestation(n, m, h(2), h(1), Hash32::ZERO, id, s.next_time());
        s.ai(
            n,
            AiCall::RevealResult {
                task_id: id,
                duration: 60,
                salt: [n ^ 0x5a; 32],
                attestation: att,
            },
        )
    };
    drop((r0, r1));
    let r0 = mk(&mut s, pr[0]);
    s.block(vec![r0]);
    assert_eq!(
        s.task(&id).status,
        TaskStatus::Revealing,
        "waits for the other committed one"
    );
    let r1 = mk(&mut s, pr[1]);
    s.block(vec![r1]);
    assert_eq!(
        s.task(&id).status,
        TaskStatus::Settled,
        "all committed revealed: settled at once"
    );

    // 3. Reveal timeout with only one reveal: failed, refunded.
    let before = s.balance(8);
    let (id, pr) = assigned(&mut s, m, 3, COIN);
    let mut commits = Vec::new();
    let mut reveals = Vec::new();
    for n in &pr {
        let (c, r) = s.result_txs(*n, id, h(1), Hash32::ZERO, 60);
        commits.push(c);
        reveals.push(r);
    }
    s.block(commits);
    s.block(vec![reveals.remove(0)]);
    s.empty_blocks(blocks(p.reveal_secs));
    assert_eq!(s.task(&id).status, TaskStatus::Failed);
    assert_eq!(s.balance(8), before);

    // 4. Assignment timeout: a model no provider can serve (Sovereign) is cancelled, refunded.
    let sov = s.add_model(7, 9, PrivacyLevel::Sovereign, Tolerance::Exact);
    let before = s.balance(8);
    let id = s.submit_task(8, sov, 4, COIN);
    s.empty_blocks(blocks(p.assign_timeout_secs) - 1);
    assert_eq!(
        s.task(&id).status,
        TaskStatus::Queued,
        "retried while the timeout runs"
    );
    s.empty_blocks(1);
    assert_eq!(s.task(&id).status, TaskStatus::Cancelled);
    assert_eq!(s.balance(8), before);

    // 5. Referee timeout: liveness slash, a second referee, then expiry with the bond returned.
    let ts = s.next_time();
    let a = s.attestation(1, m, h(9), h(1), Hash32::ZERO, Hash32::ZERO, ts);
    let b = s.attestation(2, m, h(9), h(2), Hash32::ZERO, Hash32::ZERO, ts);
    let c0 = s.balance(9);
    let tx = s.ai(
        9,
        AiCall::OpenDispute {
            bond: 100 * COIN,
            a,
            b,
        },
    );
    let r = s.block(vec![tx]);
    let Outcome::Ai(o) = r[0].outcome else {
        panic!()
    };
    s.empty_blocks(1);
    let first = *s
        .state
        .ai()
        .dispute(&o.id)
        .unwrap()
        .referees
        .last()
        .unwrap();
    let stake = s.state.ai().provider(&first).unwrap().stake;
    s.empty_blocks(blocks(p.referee_secs));
    let fp = s.state.ai().provider(&first).unwrap();
    assert_eq!(
        fp.stake,
        stake - stake * u128::from(p.liveness_slash_bps) / 10_000
    );
    assert!(!fp.jailed, "a missed deadline is not a fraud");
    s.empty_blocks(1);
    let d = s.state.ai().dispute(&o.id).unwrap().clone();
    assert_eq!(d.referees.len(), 2);
    assert_ne!(
        d.referees[1], first,
        "a referee that timed out is not drawn again"
    );
    s.empty_blocks(blocks(p.referee_secs));
    let d = s.state.ai().dispute(&o.id).unwrap().clone();
    assert_eq!(d.status, DisputeStatus::Expired);
    assert_eq!(s.balance(9), c0, "bond returned");
    assert_eq!(s.state.ai().provider(&addr(1)).unwrap().open_disputes, 0);

    // 6. No referee eligible before the timeout: expires, bond returned.
    let mut s2 = Sim::new(9, p.clone());
    s2.add_providers(&[(1, C, GpuModel::H100), (2, C, GpuModel::H100)]);
    let m2 = s2.add_model(7, 1, C, Tolerance::Exact);
    let ts = s2.next_time();
    let a = s2.attestation(1, m2, h(9), h(1), Hash32::ZERO, Hash32::ZERO, ts);
    let b = s2.attestation(2, m2, h(9), h(2), Hash32::ZERO, Hash32::ZERO, ts);
    let c0 = s2.balance(9);
    let tx = s2.ai(
        9,
        AiCall::OpenDispute {
            bond: 100 * COIN,
            a,
            b,
        },
    );
    let r = s2.block(vec![tx]);
    let Outcome::Ai(o) = r[0].outcome else {
        panic!()
    };
    s2.empty_blocks(blocks(p.assign_timeout_secs) + 1);
    assert_eq!(
        s2.state.ai().dispute(&o.id).unwrap().status,
        DisputeStatus::Expired
    );
    assert_eq!(s2.balance(9), c0);
    // 7. The deadline queue is empty once everything resolved.
    assert_eq!(s2.state.ai().deadlines().count(), 0);
}

#[test]
fn staking_unbonding_and_reattestation() {
    // Short validity and unbonding so the test runs in a few hundred blocks.
    let p = AiParams {
        attestation_validity_secs: [3600; 4],
        unbonding_secs: 7200,
        dispute_window_secs: 3600,
        ..params()
    };
    let mut s = Sim::new(9, p.clone());
    let dev = dev_device_id(&[1; 32]);
    let reg = s.tx(
        1,
        Call::RegisterDevice {
            evidence: dev_evidence(C, &[1; 32]),
        },
    );
    s.block(vec![reg]);
    let min = p.min_stake(C);
    let tx = s.ai(
        1,
        AiCall::RegisterProvider {
            device_id: dev,
            gpu: GpuModel::H100,
            stake: min - 1,
        },
    );
    assert_eq!(s.refused(tx).name(), "StakeBelowMinimum");
    let tx = s.ai(
        2,
        AiCall::RegisterProvider {
            device_id: dev,
            gpu: GpuModel::H100,
            stake: min,
        },
    );
    assert_eq!(s.refused(tx).name(), "DeviceOwnedByOther");
    let tx = s.ai(
        1,
        AiCall::RegisterProvider {
            device_id: h(9).0.into(),
            gpu: GpuModel::H100,
            stake: min,
        },
    );
    assert_eq!(s.refused(tx).name(), "UnknownDevice");
    let tx = s.ai(
        1,
        AiCall::RegisterProvider {
            device_id: dev,
            gpu: GpuModel::H100,
            stake: FUNDS + 1,
        },
    );
    assert_eq!(s.refused(tx).name(), "InsufficientBalance");
    let tx = s.ai(
        1,
        AiCall::RegisterProvider {
            device_id: dev,
            gpu: GpuModel::H100,
            stake: min,
        },
    );
    s.block(vec![tx]);
    let tx = s.ai(
        1,
        AiCall::RegisterProvider {
            device_id: dev,
            gpu: GpuModel::H100,
            stake: min,
        },
    );
    assert_eq!(s.refused(tx).name(), "ProviderExists");
    let tx = s.ai(1, AiCall::AddStake { amount: 5 * COIN });
    s.block(vec![tx]);
    assert_eq!(
        s.state.ai().provider(&addr(1)).unwrap().stake,
        min + 5 * COIN
    );
    let tx = s.ai(
        1,
        AiCall::Unbond {
            amount: min + 6 * COIN,
        },
    );
    assert_eq!(s.refused(tx).name(), "UnbondTooMuch");
    let tx = s.ai(1, AiCall::Withdraw);
    assert_eq!(s.refused(tx).name(), "NothingToWithdraw");
    let bal = s.balance(1);
    let tx = s.ai(1, AiCall::Unbond { amount: 5 * COIN });
    s.block(vec![tx]);
    let release = s.state.ai().provider(&addr(1)).unwrap().release_at;
    assert_eq!(release, s.now() + p.unbonding_secs);
    let tx = s.ai(1, AiCall::Withdraw);
    assert!(
        matches!(s.refused(tx), TxError::UnbondingNotReady { release_at } if release_at == release)
    );

    // The attestation lapses after the tier's validity: not eligible, attestations refused.
    let m = s.add_model(7, 1, C, Tolerance::Exact);
    let validity = p.validity(C);
    let jump = |s: &mut Sim, secs: u64| {
        // Skip chain time quickly with bigger steps is not possible on a fixed-step devnet;
        // blocks are cheap, so run them.
        s.empty_blocks(secs.div_ceil(STEP));
    };
    jump(&mut s, validity);
    let att = s.attestation(1, m, h(1), h(1), Hash32::ZERO, Hash32::ZERO, s.next_time());
    let tx = s.ai(
        1,
        AiCall::SubmitAttestation {
            attestation: att.clone(),
        },
    );
    assert_eq!(s.refused(tx).name(), "AttestationExpired");
    // Re-attesting the device (same evidence source, new registration time) restores it.
    let reg = s.tx(
        1,
        Call::RegisterDevice {
            evidence: dev_evidence(C, &[1; 32]),
        },
    );
    s.block(vec![reg]);
    let att = s.attestation(1, m, h(1), h(1), Hash32::ZERO, Hash32::ZERO, s.next_time());
    let tx = s.ai(
        1,
        AiCall::SubmitAttestation {
            attestation: att.clone(),
        },
    );
    s.block(vec![tx]);
    let tx = s.ai(1, AiCall::SubmitAttestation { attestation: att });
    assert_eq!(s.refused(tx).name(), "AttestationExists");

    // After the unbonding period the stake leaves.
    jump(&mut s, p.unbonding_secs.saturating_sub(validity));
    let tx = s.ai(1, AiCall::Withdraw);
    s.block(vec![tx]);
    assert_eq!(s.balance(1), bal + 5 * COIN);
}

#[test]
fn model_registry_versions_are_owner_only_and_kept() {
    let mut s = Sim::new(9, params());
    let v1 = s.add_model(7, 1, PrivacyLevel::Public, Tolerance::Exact);
    let tx = s.ai(
        7,
        model_call(1, PrivacyLevel::Public, Tolerance::Exact, None, 1),
    );
    assert_eq!(s.refused(tx).name(), "ModelExists");
    // Anyone may register the same weights under their own id (no squatting).
    let other = s.add_model(8, 1, PrivacyLevel::Public, Tolerance::Exact);
    assert_ne!(other, v1);
    let tx = s.ai(
        8,
        model_call(2, PrivacyLevel::Public, Tolerance::Exact, Some(v1), 2),
    );
    assert_eq!(s.refused(tx).name(), "NotModelOwner");
    let tx = s.ai(
        7,
        model_call(2, PrivacyLevel::Public, Tolerance::Exact, Some(v1), 1),
    );
    assert_eq!(s.refused(tx).name(), "VersionNotIncreasing");
    let tx = s.ai(
        7,
        model_call(2, C, Tolerance::Hamming { max_bits: 4 }, Some(v1), 2),
    );
    s.block(vec![tx]);
    let v2 = exec::model_id(&addr(7), &h(2));
    let old = s.state.ai().model(&v1).unwrap();
    assert_eq!(
        old.superseded_by,
        Some(v2),
        "the old version is kept and linked"
    );
    let new = s.state.ai().model(&v2).unwrap();
    assert_eq!((new.version, new.previous, new.min_tier), (2, Some(v1), C));
    let tx = s.ai(7, model_call(3, C, Tolerance::Exact, Some(v1), 3));
    assert_eq!(s.refused(tx).name(), "ModelSuperseded");
    // Field checks name the field.
    let mut bad = model_call(
        4,
        PrivacyLevel::Public,
        Tolerance::Hamming { max_bits: 257 },
        None,
        1,
    );
    let tx = s.ai(7, bad.clone());
    let e = s.refused(tx);
    assert!(e.to_string().contains("tolerance.max_bits"), "{e}");
    if let AiCall::RegisterModel {
        tolerance, name, ..
    } = &mut bad
    {
        *tolerance = Tolerance::Exact;
        *name = String::new();
    }
    let tx = s.ai(7, bad.clone());
    let e = s.refused(tx);
    assert!(e.to_string().contains("`name`"), "{e}");
    if let AiCall::RegisterModel {
        name, tee_required, ..
    } = &mut bad
    {
        *name = "x".into();
        *tee_required = true;
    }
    let tx = s.ai(7, bad);
    let e = s.refused(tx);
    assert!(e.to_string().contains("min_tier"), "{e}");
}

#[test]
fn receipts_prove_result_attestations_against_the_block_hash_alone() {
    use poai_chain::ai::receipt::{InferenceReceipt, ReceiptError, merkle_path, verify_execution};
    let (mut s, m) = world(Tolerance::Exact);
    // Several transactions in the attestation's block, so the path has steps.
    let ts = s.next_time();
    let mut txs = Vec::new();
    for n in 1..=5u8 {
        let a = s.attestation(n, m, h(1), h(0xaa), Hash32::ZERO, Hash32::ZERO, ts);
        txs.push(s.ai(n, AiCall::SubmitAttestation { attestation: a }));
    }
    let r = s.block(txs);
    let Outcome::Ai(o) = r[3].outcome else {
        panic!()
    };
    let stored = s.state.ai().attestation(&o.id).unwrap().clone();
    let block = s.blocks[usize::try_from(stored.height).unwrap() - 1].clone();
    let hashes = block.tx_hashes();
    let index = hashes.iter().position(|x| *x == stored.tx_hash).unwrap();
    let receipt = InferenceReceipt {
        header: block.header,
        index: u32::try_from(index).unwrap(),
        path: merkle_path(&hashes, index).unwrap(),
        tx: block.txs[index].clone(),
        attestation_id: o.id,
    };
    let bytes = receipt.encode();
    let trusted = |hgt: u64| (hgt == block.header.height).then(|| block.hash());
    assert!(verify_execution(&bytes, trusted, &m, &h(1), &h(0xaa)).unwrap());
    assert!(
        !verify_execution(&bytes, trusted, &m, &h(2), &h(0xaa)).unwrap(),
        "other input"
    );
    assert!(matches!(
        verify_execution(&bytes, |_| Some(h(0)), &m, &h(1), &h(0xaa)),
        Err(ReceiptError::UntrustedHeader { .. })
    ));
    assert!(matches!(
        verify_execution(&bytes, |_| None, &m, &h(1), &h(0xaa)),
        Err(ReceiptError::UnknownHeight(_))
    ));
    // Another transaction of the same block does not carry this attestation.
    let mut other = receipt.clone();
    other.tx = block.txs[(index + 1) % hashes.len()].clone();
    assert_eq!(other.verify(trusted), Err(ReceiptError::NotIncluded));
    let mut wrong = receipt.clone();
    wrong.attestation_id = h(9);
    assert_eq!(
        wrong.verify(trusted),
        Err(ReceiptError::NoSuchAttestation(h(9)))
    );
    // Evidence in a dispute is not a result: no receipt proves it.
    let a = s.attestation(1, m, h(5), h(1), Hash32::ZERO, Hash32::ZERO, s.next_time());
    let b = s.attestation(2, m, h(5), h(2), Hash32::ZERO, Hash32::ZERO, s.next_time());
    let aid = a.body.id(CHAIN);
    let tx = s.ai(
        9,
        AiCall::OpenDispute {
            bond: 100 * COIN,
            a,
            b,
        },
    );
    s.block(vec![tx]);
    let block = s.blocks.last().unwrap().clone();
    let hashes = block.tx_hashes();
    let ev = InferenceReceipt {
        header: block.header,
        index: 0,
        path: merkle_path(&hashes, 0).unwrap(),
        tx: block.txs[0].clone(),
        attestation_id: aid,
    };
    assert_eq!(
        ev.verify(|_| Some(block.hash())),
        Err(ReceiptError::NoSuchAttestation(aid))
    );
}
