//! The AI VM of the A-chain (SPEC section 6; seeds LP-035 "AI VM" and LP-092 "AIT").
//!
//! Everything here is consensus: account transactions ([`AiCall`], signed like every other
//! account transaction), state ([`AiState`], committed in the state root), and the
//! begin-block step ([`begin_block`]) that assigns tasks and fires timeouts. No I/O, no clock
//! (block time is the header's), no floats; every amount is checked.
//!
//! - **Models** (LP-035 record plus a [`Tolerance`]): owner-registered; a new version names its
//!   predecessor, which is kept and marked superseded.
//! - **Providers**: an account that owns a registered device stakes native coin (a minimum per
//!   tier), declares its GPU (the tier must be one at which that GPU's identity is hardware
//!   attested), must re-attest its device before the tier's validity ends, and unbonds through
//!   a waiting period.
//! - **Attestations** (LP-035 fields, ML-DSA signed by the provider's device key): stored by id;
//!   [`receipt`] proves one was included in a block, for verification on other chains.
//! - **Tasks** (LP-092): submitted with an escrowed payment; at the next block three eligible
//!   providers are drawn from the parent block hash; commit, then reveal; settled when two agree
//!   within the model's tolerance; AIT minted at compute units × hours / 10.
//! - **Disputes** (LP-035): two conflicting attestations and a bond; a third provider drawn the
//!   same way re-runs; the minority is slashed, part to the challenger and the referee.
//!
//! docs/DESIGN-aivm.md gives the state layout, the numbers and where this departs from the seeds.

pub mod call;
pub mod exec;
pub mod receipt;
pub mod stage;
pub mod table;
pub mod types;

pub use call::{AiCall, AttestationBody, SignedAttestation};
pub use exec::begin_block;
pub use table::AiState;
pub use types::{
    AiMeta, AiParams, Dispute, DisputeStatus, GpuModel, Model, PaymentAsset, Provider, Reveal,
    StoredAttestation, Task, TaskStatus, Tolerance, Workload,
};

/// 10^18: one AIT (and one native coin) in the smallest unit.
pub const UNIT: u128 = 1_000_000_000_000_000_000;

/// AIT (smallest unit) minted for `seconds` of work on `gpu`: compute units per hour × hours /
/// 10 (LP-092), i.e. `units × seconds × 10^18 / 36 000`, rounded down.
pub fn ait_for(gpu: GpuModel, seconds: u64) -> Option<u128> {
    u128::from(gpu.units_per_hour())
        .checked_mul(u128::from(seconds))?
        .checked_mul(UNIT)
        .map(|v| v / 36_000)
}
