//! AI token economics: the halving emission, its ceiling and caps, and work-proof rewards.
//!
//! Implements SPEC section 3 (AIToken, seed 004) and the reward formula of SPEC section 2
//! (LP-130 CalculateReward). Everything is integer arithmetic on wei (18 decimals): checked or
//! provably bounded, never a float, never a panic. There is no I/O and no clock: heights and
//! amounts are inputs, so the same code serves the A-chain state machine, the precompiles and the
//! command line.
//!
//! - [`emission`]: the block subsidy `R(h) = 7.14 AI >> epoch` and the ceiling
//!   `min(Σ R(b) for genesis ≤ b ≤ h, 900M AI)`, in closed form.
//! - [`reward`]: the gross reward of a work proof, its halving, and the 98 % / 2 % split.
//! - [`ledger`]: [`MiningLedger`], the running total mined, which applies payouts first come in
//!   block order and never lets the total pass the ceiling.
//! - [`amount`]: AI amounts as text: decimal formatting and parsing, and the serde form used in
//!   JSON (wei as a decimal string, because JSON numbers above 2^53 lose precision in common
//!   parsers).
//!
//! No feature flags.

#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod amount;
pub mod emission;
pub mod error;
pub mod ledger;
pub mod reward;

pub use amount::{format_ai, parse_ai};
pub use emission::{Emission, EmissionStatus, subsidy_for_epoch};
pub use error::{EconomicsError, Result};
pub use ledger::{MiningLedger, Payout};
pub use reward::{Split, gross_reward, gross_reward_for, halved_reward};

/// Decimals of the AI token.
pub const DECIMALS: u32 = 18;
/// One AI in wei (10^18).
pub const ONE_AI: u128 = 1_000_000_000_000_000_000;
/// Tokens that mining can ever create on one chain: 900,000,000 AI.
pub const MINING_CAP: u128 = 900_000_000 * ONE_AI;
/// The LP allocation, minted once in genesis: 100,000,000 AI.
pub const LP_ALLOCATION: u128 = 100_000_000 * ONE_AI;
/// The total supply cap of one chain: 1,000,000,000 AI.
pub const TOTAL_CAP: u128 = 1_000_000_000 * ONE_AI;
/// The block subsidy of epoch 0: 7.14 AI.
pub const INITIAL_SUBSIDY: u128 = 7_140_000_000_000_000_000;
/// Blocks per halving epoch: 4 years of 365 days at 2 s a block.
pub const HALVING_INTERVAL: u64 = 63_072_000;
/// Epochs with a subsidy; from epoch 64 on the subsidy and every halved reward are 0.
pub const MAX_EPOCHS: u64 = 64;
/// The treasury's share of every payout, in basis points (2 %).
pub const TREASURY_BPS: u64 = 200;
/// Target seconds per block.
pub const BLOCK_TIME_SECS: u64 = 2;
/// Blocks in a 365-day year at [`BLOCK_TIME_SECS`] (a quarter of [`HALVING_INTERVAL`]).
pub const BLOCKS_PER_YEAR: u64 = 365 * 24 * 3600 / BLOCK_TIME_SECS;

// The constants are tied to each other; a wrong edit fails the build rather than a test.
const _: () = {
    assert!(ONE_AI == 10u128.pow(DECIMALS));
    assert!(TOTAL_CAP == MINING_CAP + LP_ALLOCATION);
    assert!(INITIAL_SUBSIDY == 714 * ONE_AI / 100);
    assert!(HALVING_INTERVAL == 4 * BLOCKS_PER_YEAR);
    assert!(TREASURY_BPS <= poai_primitives::level::BPS_DENOMINATOR);
};
