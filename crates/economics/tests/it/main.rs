//! Integration tests of poai-economics against SPEC section 3 and seed 004's numbers.
//!
//! Expected values are computed here a second way (division by powers of two instead of shifts,
//! epoch-by-epoch sums, the spec's formulas in checked `u128`) or come from the seed's text.

// Helpers outside `#[test]` functions unwrap too: here a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use poai_economics::{
    BLOCKS_PER_YEAR, EconomicsError, Emission, HALVING_INTERVAL, INITIAL_SUBSIDY, MINING_CAP,
    MiningLedger, ONE_AI, Split, format_ai, gross_reward, gross_reward_for, halved_reward,
    subsidy_for_epoch,
};
use poai_primitives::{DeviceId, Nonce, PrivacyLevel, WorkProof};
use proptest::prelude::*;

const H: u64 = HALVING_INTERVAL;
/// Genesis heights to run the schedule tests at: the A-chain's 0 and later deployments.
const GENESES: [u64; 4] = [0, 1, 19_876_543, 1 << 40];

/// `INITIAL_SUBSIDY / 2^epoch`, the seed's halving, independent of the crate's shifts.
fn expected_subsidy(epoch: u64) -> u128 {
    if epoch >= 64 {
        0
    } else {
        (0..epoch).fold(INITIAL_SUBSIDY, |subsidy, _| subsidy / 2)
    }
}

/// Σ over whole epochs `0..epochs` of `H × subsidy`, uncapped.
fn whole_epochs_total(epochs: u64) -> u128 {
    (0..epochs)
        .map(|e| u128::from(H) * expected_subsidy(e))
        .sum()
}

/// The ceiling at the last block of year `years` (blocks counted from genesis, genesis included).
fn ceiling_at_year(e: &Emission, years: u64) -> u128 {
    e.ceiling(e.genesis_height + years * BLOCKS_PER_YEAR - 1)
        .unwrap()
}

/// Share of the mining cap in basis points (floor).
fn cap_bps(amount: u128) -> u128 {
    amount * 10_000 / MINING_CAP
}

mod schedule {
    use super::*;

    #[test]
    fn subsidy_halves_at_each_epoch_boundary() {
        for g in GENESES {
            let e = Emission::new(g);
            for k in 0..64u64 {
                let start = g + k * H;
                assert_eq!(e.epoch(start).unwrap(), k, "genesis {g} epoch {k}");
                assert_eq!(
                    e.block_subsidy(start).unwrap(),
                    expected_subsidy(k),
                    "genesis {g} epoch {k}"
                );
                assert_eq!(subsidy_for_epoch(k), expected_subsidy(k), "epoch {k}");
                if k > 0 {
                    // The block before a boundary is still the previous epoch.
                    assert_eq!(e.epoch(start - 1).unwrap(), k - 1, "genesis {g} epoch {k}");
                    assert_eq!(
                        e.block_subsidy(start - 1).unwrap(),
                        expected_subsidy(k - 1),
                        "genesis {g} before epoch {k}"
                    );
                }
            }
            for k in [64u64, 65, 100] {
                assert_eq!(
                    e.block_subsidy(g + k * H).unwrap(),
                    0,
                    "genesis {g} epoch {k}"
                );
            }
            assert_eq!(
                e.block_subsidy(u64::MAX).unwrap(),
                0,
                "genesis {g} at u64::MAX"
            );
        }
    }

    #[test]
    fn seed_subsidies() {
        // Seed 004: 7.14, 3.57, 1.785, 0.8925 AI per block.
        let e = Emission::new(0);
        let want = ["7.14", "3.57", "1.785", "0.8925"];
        for (k, text) in (0u64..).zip(want) {
            assert_eq!(
                format_ai(e.block_subsidy(k * H).unwrap()),
                text,
                "epoch {k}"
            );
        }
    }

    #[test]
    fn before_genesis_is_refused() {
        let e = Emission::new(1_000);
        assert_eq!(
            e.ceiling(999),
            Err(EconomicsError::HeightBeforeGenesis {
                height: 999,
                genesis_height: 1_000
            })
        );
        assert!(e.block_subsidy(0).is_err());
        assert!(e.payout(ONE_AI, 999, 0).is_err());
    }
}

mod ceiling {
    use super::*;

    #[test]
    fn end_of_epoch_0_is_450_334_080_ai() {
        // The last block of epoch 0 is genesis + H − 1: H blocks counted, genesis included.
        for g in GENESES {
            let e = Emission::new(g);
            let end = g + H - 1;
            assert_eq!(e.epoch(end).unwrap(), 0);
            assert_eq!(e.ceiling(end).unwrap(), 450_334_080 * ONE_AI, "genesis {g}");
            assert_eq!(ceiling_at_year(&e, 4), 450_334_080 * ONE_AI, "genesis {g}");
            // The first block of epoch 1 adds 3.57 AI.
            assert_eq!(
                e.ceiling(end + 1).unwrap(),
                450_334_080 * ONE_AI + 357 * ONE_AI / 100,
                "genesis {g}"
            );
        }
    }

    #[test]
    fn whole_epochs_match_epoch_sums() {
        let e = Emission::new(7);
        for k in 1..=10u64 {
            let end = 7 + k * H - 1;
            assert_eq!(
                e.ceiling(end).unwrap(),
                whole_epochs_total(k),
                "after {k} epochs"
            );
        }
    }

    #[test]
    fn seed_timeline() {
        // Seed 004: 50 % by year 4, 75 % by 8, 87.5 % by 12, 99 % by 27, 100 % from 100 on.
        // The seed rounds (7.14 AI × H is 450.33M, not 450M), so each is a range in basis points.
        let cases: [(&str, u64, u128, u128); 5] = [
            ("year 4", 4, 5_000, 5_010),
            ("year 8", 8, 7_500, 7_510),
            ("year 12", 12, 8_750, 8_760),
            ("year 27", 27, 9_900, 9_920),
            ("year 100", 100, 10_000, 10_000),
        ];
        for g in GENESES {
            let e = Emission::new(g);
            for (name, years, lo, hi) in cases {
                let bps = cap_bps(ceiling_at_year(&e, years));
                assert!((lo..=hi).contains(&bps), "genesis {g} {name}: {bps} bps");
            }
        }
        // Seed's per-epoch totals: 450M, 225M, 112.5M (within 0.1 %).
        let e = Emission::new(0);
        let mut before = 0u128;
        for (k, millions) in [(1u64, 450u128), (2, 225), (3, 1125)] {
            let millions = if k == 3 {
                millions * ONE_AI * 100_000
            } else {
                millions * ONE_AI * 1_000_000
            };
            let after = e.ceiling(k * H - 1).unwrap();
            let epoch_total = after - before;
            assert!(
                epoch_total >= millions && epoch_total - millions <= millions / 1_000,
                "epoch {}",
                k - 1
            );
            before = after;
        }
    }

    #[test]
    fn cap_binds_in_epoch_10() {
        // 64 epochs would emit more than the cap, so the cap cuts the curve.
        assert!(whole_epochs_total(64) > MINING_CAP);
        assert!(whole_epochs_total(10) < MINING_CAP && whole_epochs_total(11) >= MINING_CAP);
        let base = Emission::new(0).cap_height().unwrap();
        for g in GENESES {
            let e = Emission::new(g);
            let at = e.cap_height().unwrap();
            assert_eq!(at, g + base, "genesis {g}");
            assert_eq!(e.epoch(at).unwrap(), 10);
            assert_eq!(e.ceiling(at).unwrap(), MINING_CAP, "genesis {g}");
            let before = e.ceiling(at - 1).unwrap();
            assert!(before < MINING_CAP, "genesis {g}");
            assert!(before + e.block_subsidy(at).unwrap() >= MINING_CAP);
            // And it is the uncapped sum that reaches the cap there.
            let blocks_in_epoch_10 = u128::from(at - e.epoch_start(10).unwrap() + 1);
            assert!(
                whole_epochs_total(10) + blocks_in_epoch_10 * expected_subsidy(10) >= MINING_CAP
            );
        }
    }

    #[test]
    fn far_future_is_the_cap() {
        for g in GENESES {
            let e = Emission::new(g);
            for h in [g + 64 * H, g + 1_000 * H, u64::MAX - 1, u64::MAX] {
                assert_eq!(e.ceiling(h).unwrap(), MINING_CAP, "genesis {g} height {h}");
            }
        }
        // Genesis at u64::MAX: one block, one subsidy.
        assert_eq!(
            Emission::new(u64::MAX).ceiling(u64::MAX).unwrap(),
            INITIAL_SUBSIDY
        );
    }
}

mod rewards {
    use super::*;

    fn proof(level: PrivacyLevel, minutes: u32) -> WorkProof {
        WorkProof {
            device_id: DeviceId([7; 32]),
            nonce: Nonce([9; 32]),
            timestamp: 1_700_000_000,
            privacy_level: level,
            compute_minutes: minutes,
            tee_evidence: Vec::new(),
        }
    }

    #[test]
    fn ten_minutes_per_level() {
        let cases = [
            (PrivacyLevel::Public, 2_500_000_000_000_000_000u128),
            (PrivacyLevel::Private, 5_000_000_000_000_000_000),
            (PrivacyLevel::Confidential, 10_000_000_000_000_000_000),
            (PrivacyLevel::Sovereign, 15_000_000_000_000_000_000),
        ];
        for (level, want) in cases {
            assert_eq!(gross_reward(level, 10), want, "{level}");
            assert_eq!(gross_reward_for(&proof(level, 10)), want, "{level}");
            assert_eq!(gross_reward(level, 0), 0, "{level}");
        }
    }

    #[test]
    fn halving_of_rewards() {
        let gross = 10 * ONE_AI;
        assert_eq!(halved_reward(gross, 0), gross);
        assert_eq!(halved_reward(gross, 1), 5 * ONE_AI);
        assert_eq!(halved_reward(gross, 3), 125 * ONE_AI / 100);
        assert_eq!(halved_reward(u128::MAX, 63), (1 << 65) - 1);
        assert_eq!(halved_reward(u128::MAX, 64), 0);
        assert_eq!(halved_reward(u128::MAX, u64::MAX), 0);
    }

    #[test]
    fn hundred_ai_splits_98_2() {
        let s = Split::of(100 * ONE_AI);
        assert_eq!((s.miner, s.treasury), (98 * ONE_AI, 2 * ONE_AI));
        // The same through a payout: at height 14 the ceiling is 15 × 7.14 = 107.1 AI.
        let p = Emission::new(0).payout(100 * ONE_AI, 14, 0).unwrap();
        assert_eq!(
            (p.paid, p.miner, p.treasury),
            (100 * ONE_AI, 98 * ONE_AI, 2 * ONE_AI)
        );
        assert!(!p.is_reduced());
    }

    #[test]
    fn split_rounds_treasury_down() {
        let cases = [(0u128, 0u128), (49, 0), (50, 1), (99, 1), (101, 2)];
        for (paid, treasury) in cases {
            let s = Split::of(paid);
            assert_eq!(
                (s.treasury, s.miner),
                (treasury, paid - treasury),
                "paid {paid}"
            );
        }
    }

    #[test]
    fn proof_near_the_ceiling_is_reduced() {
        let e = Emission::new(500);
        let height = 500 + H + 1_000; // epoch 1
        let ceiling = e.ceiling(height).unwrap();
        let mut ledger = MiningLedger::new(ceiling - 3 * ONE_AI);
        let p = ledger
            .apply_proof(&e, height, &proof(PrivacyLevel::Confidential, 10))
            .unwrap();
        assert_eq!((p.epoch, p.gross, p.halved), (1, 10 * ONE_AI, 5 * ONE_AI));
        assert_eq!(p.paid, 3 * ONE_AI);
        assert!(p.is_reduced());
        assert_eq!(p.treasury, 6 * ONE_AI / 100);
        assert_eq!(ledger.mined, ceiling);
        assert_eq!(ledger.remaining(&e, height).unwrap(), 0);
        // Nothing more at this height; the next block's subsidy (3.57 AI) is the next room.
        assert_eq!(ledger.apply(&e, height, 10 * ONE_AI).unwrap().paid, 0);
        assert_eq!(
            ledger.apply(&e, height + 1, 10 * ONE_AI).unwrap().paid,
            357 * ONE_AI / 100
        );
    }

    #[test]
    fn nothing_is_paid_after_the_cap() {
        let e = Emission::new(0);
        let at = e.cap_height().unwrap();
        let mut ledger = MiningLedger::new(MINING_CAP);
        for h in [at, at + 1, u64::MAX] {
            let p = ledger.apply(&e, h, 10 * ONE_AI).unwrap();
            assert_eq!(p.paid, 0, "height {h}");
        }
        assert_eq!(ledger.mined, MINING_CAP);
    }
}

mod json {
    use super::*;

    #[test]
    fn payout_amounts_are_decimal_strings() {
        let p = Emission::new(0).payout(100 * ONE_AI, 14, 0).unwrap();
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(v["paid"], "100000000000000000000");
        assert_eq!(v["miner"], "98000000000000000000");
        assert_eq!(v["treasury"], "2000000000000000000");
        assert_eq!(v["epoch"], 0);
        assert_eq!(v["height"], 14);
        let back: poai_economics::Payout = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn ledger_reads_strings_and_integers() {
        let l: MiningLedger =
            serde_json::from_str(r#"{"mined":"900000000000000000000000000"}"#).unwrap();
        assert_eq!(l.mined, MINING_CAP);
        let l: MiningLedger = serde_json::from_str(r#"{"mined":5}"#).unwrap();
        assert_eq!(l.mined, 5);
        for bad in [
            r#"{"mined":"05"}"#,
            r#"{"mined":-1}"#,
            r#"{"mined":"1.5"}"#,
            r#"{"mined":1.5}"#,
            r#"{}"#,
        ] {
            assert!(serde_json::from_str::<MiningLedger>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_json() {
        let s = Emission::new(0).status(H).unwrap();
        let v = serde_json::to_value(s).unwrap();
        assert_eq!(v["epoch"], 1);
        assert_eq!(v["block_subsidy"], "3570000000000000000");
        assert_eq!(v["ceiling"], "450334083570000000000000000");
    }
}

/// Heights spread over the whole range, with extra weight next to epoch boundaries and the cap.
fn height_offset() -> impl Strategy<Value = u64> {
    let cap = Emission::new(0).cap_height().unwrap();
    prop_oneof![
        any::<u64>(),
        0u64..2 * H,
        (0u64..70, 0u64..2_000).prop_map(|(k, d)| (k * H).saturating_sub(1_000) + d),
        (cap - 5_000)..(cap + 5_000),
    ]
}

proptest! {
    #[test]
    fn ceiling_never_above_cap(g in prop_oneof![Just(0u64), any::<u64>()], off in height_offset()) {
        let e = Emission::new(g);
        let h = g.saturating_add(off);
        prop_assert!(e.ceiling(h).unwrap() <= MINING_CAP);
    }

    #[test]
    fn ceiling_is_monotone(g in 0u64..1 << 40, a in height_offset(), b in height_offset()) {
        let e = Emission::new(g);
        let (lo, hi) = (g.saturating_add(a.min(b)), g.saturating_add(a.max(b)));
        prop_assert!(e.ceiling(lo).unwrap() <= e.ceiling(hi).unwrap());
    }

    #[test]
    fn ceiling_increment_is_the_subsidy(g in 0u64..1 << 40, off in height_offset()) {
        let e = Emission::new(g);
        let h = g.saturating_add(off.max(1));
        let prev = e.ceiling(h - 1).unwrap();
        let now = e.ceiling(h).unwrap();
        let subsidy = e.block_subsidy(h).unwrap();
        if now < MINING_CAP {
            prop_assert_eq!(now - prev, subsidy);
        } else {
            prop_assert!(prev + subsidy >= MINING_CAP);
        }
        prop_assert_eq!(now, (prev + subsidy).min(MINING_CAP));
    }

    #[test]
    fn gross_reward_is_the_spec_formula(level in 1u16..=4, minutes in any::<u32>()) {
        let level = PrivacyLevel::try_from(level).unwrap();
        let direct = u128::from(minutes)
            .checked_mul(ONE_AI)
            .and_then(|v| v.checked_mul(u128::from(level.multiplier_bps())))
            .unwrap()
            / 10_000;
        prop_assert_eq!(gross_reward(level, minutes), direct);
    }

    #[test]
    fn split_is_exact(paid in prop_oneof![any::<u128>(), 0u128..=MINING_CAP]) {
        let s = Split::of(paid);
        prop_assert_eq!(s.paid, paid);
        prop_assert_eq!(s.miner + s.treasury, paid);
        // floor(paid × 2 / 100), in a width that cannot overflow: paid = 100q + r.
        prop_assert_eq!(s.treasury, paid / 100 * 2 + paid % 100 * 2 / 100);
    }

    #[test]
    fn payouts_never_pass_the_ceiling(
        g in 0u64..1 << 40,
        start in height_offset(),
        below in 0u128..50 * ONE_AI,
        steps in proptest::collection::vec((0u64..3, 0u128..100 * ONE_AI), 1..40),
    ) {
        let e = Emission::new(g);
        let mut height = g.saturating_add(start);
        // Start close under the ceiling so that reductions happen.
        let mut ledger = MiningLedger::new(e.ceiling(height).unwrap().saturating_sub(below));
        for (advance, gross) in steps {
            height = height.saturating_add(advance);
            let before = ledger.mined;
            let ceiling = e.ceiling(height).unwrap();
            let p = ledger.apply(&e, height, gross).unwrap();
            let halved = halved_reward(gross, e.epoch(height).unwrap());
            prop_assert_eq!(p.mined_before, before);
            prop_assert_eq!(p.paid, halved.min(ceiling - before));
            prop_assert_eq!(p.miner + p.treasury, p.paid);
            prop_assert_eq!(ledger.mined, before + p.paid);
            prop_assert!(ledger.mined <= ceiling);
            prop_assert!(ledger.mined <= MINING_CAP);
        }
    }
}
