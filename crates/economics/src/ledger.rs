//! Payouts under the emission ceiling (SPEC section 3).
//!
//! A proof accepted at height `h` in epoch `e` is paid
//! `min(gross >> e, ceiling(h) − mined_so_far)`: the halved reward, reduced to what the ceiling
//! still allows. Proofs are served first come, in block order (and in transaction order within a
//! block), so whoever is applied first once the ceiling is close gets the remainder and later
//! proofs get what the next blocks' subsidies add. The payment is then split 98 % / 2 % between
//! miner and treasury ([`Split`]).
//!
//! [`MiningLedger`] holds the one piece of state this needs, the total mined so far, so that the
//! A-chain and the command line apply payouts the same way. Its total never exceeds the ceiling at
//! the height of the last payout, and so never exceeds [`MINING_CAP`](crate::MINING_CAP).

use crate::amount::wei_string;
use crate::emission::Emission;
use crate::error::{EconomicsError, Result};
use crate::reward::{Split, gross_reward_for, halved_reward};
use poai_primitives::WorkProof;
use serde::{Deserialize, Serialize};

/// The outcome of one payout (the command line prints it as JSON; amounts in wei as decimal
/// strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// Height of the block that pays.
    pub height: u64,
    /// Its halving epoch.
    pub epoch: u64,
    /// The proof's gross reward.
    #[serde(with = "wei_string")]
    pub gross: u128,
    /// `gross >> epoch` (0 from epoch 64).
    #[serde(with = "wei_string")]
    pub halved: u128,
    /// The emission ceiling at `height`.
    #[serde(with = "wei_string")]
    pub ceiling: u128,
    /// Total mined before this payout.
    #[serde(with = "wei_string")]
    pub mined_before: u128,
    /// What is paid: `min(halved, ceiling − mined_before)`.
    #[serde(with = "wei_string")]
    pub paid: u128,
    /// The miner's part: `paid − treasury`.
    #[serde(with = "wei_string")]
    pub miner: u128,
    /// The treasury's part: `floor(paid × 2 / 100)`.
    #[serde(with = "wei_string")]
    pub treasury: u128,
    /// Total mined after this payout: `mined_before + paid`.
    #[serde(with = "wei_string")]
    pub mined_after: u128,
}

impl Payout {
    /// Whether the ceiling cut the payment below the halved reward.
    pub fn is_reduced(&self) -> bool {
        self.paid < self.halved
    }

    /// The payment's miner / treasury split.
    pub fn split(&self) -> Split {
        Split {
            paid: self.paid,
            miner: self.miner,
            treasury: self.treasury,
        }
    }
}

impl Emission {
    /// The payout of a proof with gross reward `gross` accepted at `height`, when `mined_before`
    /// has been mined by everything applied before it. Pure: see [`MiningLedger::apply`] for the
    /// version that updates the total.
    pub fn payout(&self, gross: u128, height: u64, mined_before: u128) -> Result<Payout> {
        let epoch = self.epoch(height)?;
        let ceiling = self.ceiling(height)?;
        let room = ceiling
            .checked_sub(mined_before)
            .ok_or(EconomicsError::MinedAboveCeiling {
                mined: mined_before,
                ceiling,
                height,
            })?;
        let halved = halved_reward(gross, epoch);
        let split = Split::of(halved.min(room));
        let mined_after = mined_before
            .checked_add(split.paid)
            .ok_or(EconomicsError::Overflow {
                field: "mined_after",
            })?;
        Ok(Payout {
            height,
            epoch,
            gross,
            halved,
            ceiling,
            mined_before,
            paid: split.paid,
            miner: split.miner,
            treasury: split.treasury,
            mined_after,
        })
    }
}

/// The running total of tokens mined on one chain (miner and treasury parts together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct MiningLedger {
    /// Total mined so far, in wei.
    #[serde(with = "wei_string")]
    pub mined: u128,
}

impl MiningLedger {
    /// A ledger with `mined` already mined (0 for a new chain).
    pub const fn new(mined: u128) -> Self {
        Self { mined }
    }

    /// What the ceiling still allows at `height`: `ceiling(height) − mined`.
    pub fn remaining(&self, emission: &Emission, height: u64) -> Result<u128> {
        let ceiling = emission.ceiling(height)?;
        ceiling
            .checked_sub(self.mined)
            .ok_or(EconomicsError::MinedAboveCeiling {
                mined: self.mined,
                ceiling,
                height,
            })
    }

    /// Pays a proof with gross reward `gross` accepted at `height` and adds the payment to the
    /// total. On error the ledger is unchanged.
    pub fn apply(&mut self, emission: &Emission, height: u64, gross: u128) -> Result<Payout> {
        let payout = emission.payout(gross, height, self.mined)?;
        self.mined = payout.mined_after;
        Ok(payout)
    }

    /// [`apply`](Self::apply) with the gross reward of `proof`.
    pub fn apply_proof(
        &mut self,
        emission: &Emission,
        height: u64,
        proof: &WorkProof,
    ) -> Result<Payout> {
        self.apply(emission, height, gross_reward_for(proof))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{INITIAL_SUBSIDY, ONE_AI};

    #[test]
    fn error_leaves_ledger_unchanged() {
        let e = Emission::new(100);
        let mut ledger = MiningLedger::new(5);
        assert!(matches!(
            ledger.apply(&e, 99, ONE_AI),
            Err(EconomicsError::HeightBeforeGenesis { .. })
        ));
        assert_eq!(ledger.mined, 5);

        let mut ahead = MiningLedger::new(INITIAL_SUBSIDY + 1);
        assert_eq!(
            ahead.apply(&e, 100, ONE_AI),
            Err(EconomicsError::MinedAboveCeiling {
                mined: INITIAL_SUBSIDY + 1,
                ceiling: INITIAL_SUBSIDY,
                height: 100,
            })
        );
        assert_eq!(ahead.mined, INITIAL_SUBSIDY + 1);
    }

    #[test]
    fn first_come_gets_the_remainder() {
        // At genesis the ceiling is one subsidy, 7.14 AI: a 5 AI proof is paid in full, the next
        // 5 AI proof only the 2.14 AI left, and a third nothing.
        let e = Emission::new(0);
        let mut ledger = MiningLedger::default();
        let first = ledger.apply(&e, 0, 5 * ONE_AI).unwrap();
        assert_eq!(first.paid, 5 * ONE_AI);
        assert!(!first.is_reduced());
        let second = ledger.apply(&e, 0, 5 * ONE_AI).unwrap();
        assert_eq!(second.paid, 214 * ONE_AI / 100);
        assert!(second.is_reduced());
        let third = ledger.apply(&e, 0, 5 * ONE_AI).unwrap();
        assert_eq!(third.paid, 0);
        assert_eq!((third.miner, third.treasury), (0, 0));
        assert_eq!(ledger.mined, INITIAL_SUBSIDY);
        // The next block adds one more subsidy of room.
        assert_eq!(ledger.remaining(&e, 1).unwrap(), INITIAL_SUBSIDY);
    }
}
