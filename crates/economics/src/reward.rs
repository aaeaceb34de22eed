//! Work-proof rewards (SPEC sections 2 and 3; LP-130 CalculateReward; seed 004).
//!
//! - Gross reward = `compute_minutes × 10^18 × multiplier_bps / 10000`, floor, as LP-130 and the
//!   reference: 10 minutes pay 2.5, 5, 10 and 15 AI at levels 1..=4.
//! - In epoch `e` a proof earns `gross >> e`, and nothing from epoch 64 on.
//! - Of what is paid, 2 % (floor) goes to the treasury and the rest to the miner (seed 004).
//!
//! All three are total functions: their inputs are bounded so that no intermediate can overflow
//! (reasons at each site), so they return plain integers, not `Result`s.

use crate::amount::wei_string;
use crate::emission::shr_epoch;
use crate::{ONE_AI, TREASURY_BPS};
use poai_primitives::level::BPS_DENOMINATOR;
use poai_primitives::{PrivacyLevel, WorkProof};
use serde::{Deserialize, Serialize};

/// Wei per compute minute per basis point of multiplier: `10^18 / 10^4 = 10^14`, exact, so the
/// floor in the spec's formula never discards anything.
const WEI_PER_MINUTE_PER_BPS: u128 = ONE_AI / 10_000;
const _: () = {
    assert!(BPS_DENOMINATOR == 10_000);
    assert!(ONE_AI.is_multiple_of(10_000));
};

/// The gross reward of `compute_minutes` at `privacy_level`, in wei (before halving and the
/// ceiling).
pub fn gross_reward(privacy_level: PrivacyLevel, compute_minutes: u32) -> u128 {
    // Both factors are below 2^64 (1.5 × 10^18 and 2^32), so their product is below 2^128 and the
    // saturating multiplications are exact.
    let per_minute =
        u128::from(privacy_level.multiplier_bps()).saturating_mul(WEI_PER_MINUTE_PER_BPS);
    u128::from(compute_minutes).saturating_mul(per_minute)
}

/// The gross reward a work proof claims (its level and minutes; acceptance rules are checked
/// elsewhere).
pub fn gross_reward_for(proof: &WorkProof) -> u128 {
    gross_reward(proof.privacy_level, proof.compute_minutes)
}

/// `gross >> epoch`, and 0 from epoch 64 on.
pub fn halved_reward(gross: u128, epoch: u64) -> u128 {
    shr_epoch(gross, epoch)
}

/// A payment divided between the miner and the treasury.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Split {
    /// The whole amount, in wei.
    #[serde(with = "wei_string")]
    pub paid: u128,
    /// `paid − treasury`, in wei.
    #[serde(with = "wei_string")]
    pub miner: u128,
    /// `floor(paid × 200 / 10000)`, in wei.
    #[serde(with = "wei_string")]
    pub treasury: u128,
}

impl Split {
    /// Splits `paid`: 2 % (floor) to the treasury, the rest to the miner. Defined for every `u128`.
    pub fn of(paid: u128) -> Self {
        let treasury = mul_bps_floor(paid, TREASURY_BPS);
        Self {
            paid,
            // mul_bps_floor returns at most `paid`.
            miner: paid.saturating_sub(treasury),
            treasury,
        }
    }
}

/// `floor(value × bps / 10000)` for `bps ≤ 10000`, without forming `value × bps`: with
/// `value = 10000q + r`, the result is `q × bps + floor(r × bps / 10000)`, where `q × bps ≤ value`
/// and `r × bps < 10^8`, so nothing can overflow for any `value`.
fn mul_bps_floor(value: u128, bps: u64) -> u128 {
    const DENOM: u128 = 10_000;
    let bps = u128::from(bps.min(BPS_DENOMINATOR));
    let q = value / DENOM;
    let r = value % DENOM;
    q.saturating_mul(bps)
        .saturating_add(r.saturating_mul(bps) / DENOM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_bps_floor_matches_direct_formula() {
        let cases: [(u128, u64); 8] = [
            (0, 200),
            (1, 200),
            (49, 200),
            (50, 200),
            (100 * ONE_AI, 200),
            (12_345, 10_000),
            (9_999, 1),
            (10_000, 1),
        ];
        for (value, bps) in cases {
            let direct = value * u128::from(bps) / 10_000;
            assert_eq!(mul_bps_floor(value, bps), direct, "{value} × {bps} bps");
        }
    }

    #[test]
    fn mul_bps_floor_is_total_at_u128_max() {
        // floor((2^128 − 1) / 50), computed the other way round.
        assert_eq!(mul_bps_floor(u128::MAX, 200), u128::MAX / 50);
        assert_eq!(mul_bps_floor(u128::MAX, 10_000), u128::MAX);
    }

    #[test]
    fn largest_gross_reward_is_exact() {
        let max = gross_reward(PrivacyLevel::Sovereign, u32::MAX);
        let direct = u128::from(u32::MAX)
            .checked_mul(ONE_AI)
            .and_then(|v| v.checked_mul(15_000))
            .map(|v| v / 10_000)
            .unwrap();
        assert_eq!(max, direct);
    }
}
