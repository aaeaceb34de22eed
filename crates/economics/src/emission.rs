//! The AIToken emission schedule (SPEC section 3, seed 004).
//!
//! | quantity | rule |
//! |---|---|
//! | epoch of height `h` | `(h − genesis_height) / H`, H = 63,072,000 blocks (4 years at 2 s) |
//! | block subsidy `R(h)` | `7.14 AI >> epoch`; 0 from epoch 64 on |
//! | ceiling at `h` | `min(Σ R(b) for genesis_height ≤ b ≤ h, 900,000,000 AI)` |
//!
//! **Block counting.** The sum includes the genesis block's own subsidy: the ceiling at
//! `genesis_height` is 7.14 AI, and at the last block of epoch 0, `genesis_height + H − 1` (H blocks
//! counted, genesis included), it is exactly H × 7.14 = 450,334,080 AI, the seed's "450M by year 4".
//!
//! **The cap binds.** The 64 epochs together would emit 900,668,159.999998801632 AI, more than the
//! 900M mining cap, so the cap cuts the curve: the ceiling first equals 900M at
//! `genesis_height + 661,038,252` (epoch 10, about 41.9 years in; [`Emission::cap_height`]) and
//! stays there. The subsidy itself keeps its halving shape; it is the ceiling (and so every payout)
//! that stops.
//!
//! **Heights before genesis** are an error ([`EconomicsError::HeightBeforeGenesis`]) rather than
//! "epoch 0": no block before genesis can mine, and a caller that asks is confused about which
//! chain or deployment it is on; saying so is safer than paying a subsidy that does not exist.
//!
//! The ceiling is computed in closed form, one multiplication per epoch (at most 64), never a loop
//! over blocks; block counts are taken in `u128` so that heights up to `u64::MAX` are exact.

use crate::amount::wei_string;
use crate::error::{EconomicsError, Result};
use crate::{HALVING_INTERVAL, INITIAL_SUBSIDY, MAX_EPOCHS, MINING_CAP};
use serde::{Deserialize, Serialize};

/// The emission schedule of one chain: everything follows from the height of its first block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Emission {
    /// The first block that mines (epoch 0 starts here).
    pub genesis_height: u64,
}

/// The emission at one height, for display (the command line prints it as JSON; amounts in wei as
/// decimal strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmissionStatus {
    /// The height described.
    pub height: u64,
    /// Its halving epoch.
    pub epoch: u64,
    /// `R(height)` in wei.
    #[serde(with = "wei_string")]
    pub block_subsidy: u128,
    /// The most that may have been mined once block `height` is done, in wei.
    #[serde(with = "wei_string")]
    pub ceiling: u128,
}

impl Emission {
    /// The schedule of a chain whose first mining block is `genesis_height`.
    pub const fn new(genesis_height: u64) -> Self {
        Self { genesis_height }
    }

    /// Blocks between genesis and `height` (0 at genesis).
    fn offset(&self, height: u64) -> Result<u64> {
        height
            .checked_sub(self.genesis_height)
            .ok_or(EconomicsError::HeightBeforeGenesis {
                height,
                genesis_height: self.genesis_height,
            })
    }

    /// The halving epoch of `height`: `(height − genesis_height) / H`.
    pub fn epoch(&self, height: u64) -> Result<u64> {
        let offset = self.offset(height)?;
        offset
            .checked_div(HALVING_INTERVAL)
            .ok_or(EconomicsError::Overflow { field: "epoch" })
    }

    /// The first height of `epoch`, or `None` if it is past `u64::MAX`.
    pub fn epoch_start(&self, epoch: u64) -> Option<u64> {
        epoch
            .checked_mul(HALVING_INTERVAL)
            .and_then(|offset| self.genesis_height.checked_add(offset))
    }

    /// The block subsidy `R(height)` in wei: 7.14 AI halved once per epoch, 0 from epoch 64 on.
    pub fn block_subsidy(&self, height: u64) -> Result<u128> {
        Ok(subsidy_for_epoch(self.epoch(height)?))
    }

    /// The emission ceiling at `height` in wei: `min(Σ R(b) for genesis_height ≤ b ≤ height,
    /// MINING_CAP)`. Total mined once block `height` is done never exceeds it.
    pub fn ceiling(&self, height: u64) -> Result<u128> {
        let offset = self.offset(height)?;
        // Genesis counts as a block; in u128, `u64::MAX + 1` blocks still fit.
        let blocks = u128::from(offset)
            .checked_add(1)
            .ok_or(EconomicsError::Overflow { field: "ceiling" })?;
        ceiling_of_blocks(blocks)
    }

    /// The first height at which the ceiling equals [`MINING_CAP`]. `None` only if that height
    /// is past `u64::MAX` (a genesis within about 661 million blocks of it).
    pub fn cap_height(&self) -> Option<u64> {
        let interval = u128::from(HALVING_INTERVAL);
        let mut before: u128 = 0;
        for epoch in 0..MAX_EPOCHS {
            let subsidy = subsidy_for_epoch(epoch);
            let after = before.checked_add(interval.checked_mul(subsidy)?)?;
            if after >= MINING_CAP {
                // `after > before` here, so `subsidy > 0` and the divisions are defined.
                let need = MINING_CAP.checked_sub(before)?;
                let whole = need.checked_div(subsidy)?;
                let blocks_in_epoch = if need.checked_rem(subsidy)? == 0 {
                    whole
                } else {
                    whole.checked_add(1)?
                };
                let blocks = u128::from(epoch)
                    .checked_mul(interval)?
                    .checked_add(blocks_in_epoch)?;
                let offset = u64::try_from(blocks.checked_sub(1)?).ok()?;
                return self.genesis_height.checked_add(offset);
            }
            before = after;
        }
        // Unreachable with these constants (the epochs sum past the cap); a test checks it.
        None
    }

    /// The epoch, subsidy and ceiling at `height`.
    pub fn status(&self, height: u64) -> Result<EmissionStatus> {
        Ok(EmissionStatus {
            height,
            epoch: self.epoch(height)?,
            block_subsidy: self.block_subsidy(height)?,
            ceiling: self.ceiling(height)?,
        })
    }
}

/// The block subsidy of `epoch` in wei: `INITIAL_SUBSIDY >> epoch`, 0 from epoch 64 on.
pub fn subsidy_for_epoch(epoch: u64) -> u128 {
    shr_epoch(INITIAL_SUBSIDY, epoch)
}

/// `value >> epoch`, and 0 from epoch [`MAX_EPOCHS`] on (not merely from 128, where the shift
/// itself would run out of bits: the schedule ends after 64 epochs whatever the value).
pub(crate) fn shr_epoch(value: u128, epoch: u64) -> u128 {
    if epoch >= MAX_EPOCHS {
        return 0;
    }
    u32::try_from(epoch)
        .ok()
        .and_then(|shift| value.checked_shr(shift))
        .unwrap_or(0)
}

/// `min(Σ R over the first `blocks` blocks, MINING_CAP)`: whole epochs at `H × R(e)`, then the
/// partial one.
fn ceiling_of_blocks(blocks: u128) -> Result<u128> {
    const OVERFLOW: EconomicsError = EconomicsError::Overflow { field: "ceiling" };
    let interval = u128::from(HALVING_INTERVAL);
    let mut left = blocks;
    let mut total: u128 = 0;
    for epoch in 0..MAX_EPOCHS {
        if left == 0 {
            break;
        }
        let in_epoch = left.min(interval);
        left = left.checked_sub(in_epoch).ok_or(OVERFLOW)?;
        let emitted = in_epoch
            .checked_mul(subsidy_for_epoch(epoch))
            .ok_or(OVERFLOW)?;
        total = total.checked_add(emitted).ok_or(OVERFLOW)?;
        if total >= MINING_CAP {
            return Ok(MINING_CAP);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ONE_AI;

    /// The ceiling by summing block by block, for short spans only.
    fn naive_ceiling(blocks: u64) -> u128 {
        let e = Emission::new(0);
        let mut total = 0u128;
        for h in 0..blocks {
            total = total.checked_add(e.block_subsidy(h).unwrap()).unwrap();
        }
        total.min(MINING_CAP)
    }

    #[test]
    fn first_blocks_match_block_by_block_sum() {
        let e = Emission::new(0);
        for h in [0u64, 1, 2, 99, 12_345] {
            assert_eq!(e.ceiling(h).unwrap(), naive_ceiling(h + 1), "height {h}");
        }
    }

    #[test]
    fn ceiling_at_genesis_is_one_subsidy() {
        for g in [0u64, 1, 1_000_000, u64::MAX] {
            assert_eq!(
                Emission::new(g).ceiling(g).unwrap(),
                INITIAL_SUBSIDY,
                "genesis {g}"
            );
        }
    }

    #[test]
    fn before_genesis_is_an_error() {
        let e = Emission::new(10);
        let want = EconomicsError::HeightBeforeGenesis {
            height: 9,
            genesis_height: 10,
        };
        assert_eq!(e.epoch(9), Err(want.clone()));
        assert_eq!(e.block_subsidy(9), Err(want.clone()));
        assert_eq!(e.ceiling(9), Err(want.clone()));
        assert_eq!(e.status(9), Err(want));
    }

    #[test]
    fn shift_ends_at_epoch_64_even_for_wide_values() {
        // 2^100 >> 64 would be 2^36; the schedule still pays nothing from epoch 64.
        let wide = 1u128 << 100;
        assert_eq!(shr_epoch(wide, 63), 1u128 << 37);
        for epoch in [64u64, 65, 127, 128, 129, u64::MAX] {
            assert_eq!(shr_epoch(wide, epoch), 0, "epoch {epoch}");
        }
    }

    #[test]
    fn subsidy_reaches_zero_by_itself_in_epoch_63() {
        // 7.14e18 < 2^63, so the last nonzero subsidy is 1 wei in epoch 62.
        assert_eq!(subsidy_for_epoch(62), 1);
        assert_eq!(subsidy_for_epoch(63), 0);
        assert_eq!(subsidy_for_epoch(1), 357 * ONE_AI / 100);
    }

    #[test]
    fn epoch_start_overflow_is_none() {
        assert_eq!(
            Emission::new(5).epoch_start(2),
            Some(5 + 2 * HALVING_INTERVAL)
        );
        assert_eq!(Emission::new(u64::MAX).epoch_start(1), None);
        assert_eq!(Emission::new(0).epoch_start(u64::MAX), None);
    }

    #[test]
    fn cap_height_past_u64_is_none() {
        assert_eq!(Emission::new(u64::MAX - 1_000).cap_height(), None);
    }
}
