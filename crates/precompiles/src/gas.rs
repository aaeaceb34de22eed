//! Gas accounting shared by the three precompiles (SPEC section 4, "Gas").
//!
//! Every op's cost is computed from its input's header and lengths and charged *before* the
//! work it pays for: `base + per_word × ⌈len / 32⌉ + per_signature × signatures + state`.
//! The seed's numbers (LP-130, seed 001) are floors; the per-word, per-signature and per-set
//! figures come from `benches/gas.rs` so that no op, at any input size, gives fewer gas per
//! CPU-second than `ecrecover` (3000 gas) in the same run (docs/PERFORMANCE.md, "Precompile gas").
//!
//! State access is priced as the EVM prices it for a contract doing the same (EIP-2929 cold
//! SLOAD, EIP-2200 SSTORE of a fresh slot, cold), so a precompile is never a cheaper way to
//! grow or read state than bytecode.

use crate::error::Halt;

/// Cost of reading one storage slot: a cold SLOAD (EIP-2929).
pub const SLOAD_GAS: u64 = 2_100;
/// Cost of writing one storage slot: a cold SSTORE from zero to non-zero (EIP-2200 + EIP-2929).
pub const SSTORE_GAS: u64 = 22_100;

/// Number of 32-byte words needed to hold `len` bytes, rounded up.
pub const fn words(len: usize) -> u64 {
    // usize is at most 64 bits on every target revm supports; the cast cannot truncate there.
    #[allow(clippy::cast_possible_truncation)]
    let len = len as u64;
    len.div_ceil(32)
}

/// `base + per_word × words(len)`, saturating (a saturated cost is simply out of gas).
pub const fn linear(base: u64, per_word: u64, len: usize) -> u64 {
    base.saturating_add(per_word.saturating_mul(words(len)))
}

/// The gas a call has used against its limit. Charges fail without side effects when the
/// limit would be passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasMeter {
    limit: u64,
    used: u64,
}

impl GasMeter {
    /// A meter for a call given `limit` gas.
    pub const fn new(limit: u64) -> Self {
        Self { limit, used: 0 }
    }

    /// Charges `amount`, or returns [`Halt::OutOfGas`] if that would pass the limit.
    pub fn charge(&mut self, amount: u64) -> Result<(), Halt> {
        let needed = self.used.saturating_add(amount);
        if needed > self.limit {
            return Err(Halt::OutOfGas {
                needed,
                limit: self.limit,
            });
        }
        self.used = needed;
        Ok(())
    }

    /// Gas used so far.
    pub const fn used(&self) -> u64 {
        self.used
    }

    /// The limit the call was given.
    pub const fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_up() {
        for (len, w) in [(0, 0), (1, 1), (31, 1), (32, 1), (33, 2), (64, 2), (65, 3)] {
            assert_eq!(words(len), w, "len {len}");
        }
        assert_eq!(linear(100, 3, 65), 109);
        assert_eq!(linear(u64::MAX, 3, 65), u64::MAX);
    }

    #[test]
    fn meter_refuses_to_pass_the_limit() {
        let mut m = GasMeter::new(100);
        m.charge(60).unwrap();
        assert_eq!(
            m.charge(41),
            Err(Halt::OutOfGas {
                needed: 101,
                limit: 100
            })
        );
        assert_eq!(m.used(), 60, "a failed charge leaves the meter unchanged");
        m.charge(40).unwrap();
        assert_eq!(m.used(), 100);
        assert!(m.charge(u64::MAX).is_err());
    }
}
