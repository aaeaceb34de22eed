//! What a precompile sees of the EVM: the call ([`CallEnv`]) and its own account's storage
//! ([`Storage`]). The provider implements [`Storage`] over revm's journal, so every write is
//! journaled and a revert of the calling frame undoes it; unit tests use [`MemoryStorage`].
//!
//! Storage layout (all slots of the precompile's own account; `‖` is concatenation, integers
//! big-endian, `keccak` is keccak-256 as the EVM uses it for storage):
//!
//! | account | slot | value |
//! |---|---|---|
//! | 0x0300 | `keccak("poai.spent" ‖ work_id)` | 1 if the work id is spent |
//! | 0x0300 | `keccak("poai.miner.sessions" ‖ miner(20))` | sessions the miner has started (u64) |
//! | 0x0300 | `keccak("poai.device" ‖ device_id)` | the device's current session id |
//! | 0x0300 | `S = keccak("poai.session" ‖ session_id)` | miner(20) ‖ tier(1) ‖ trust(1) ‖ status(1) ‖ 0(9) |
//! | 0x0300 | `S + 1` | device_id |
//! | 0x0300 | `S + 2` | started_at ‖ expires_at ‖ paid_until ‖ last_heartbeat (4 × u64) |
//! | 0x0302 | `M = keccak("poai.model" ‖ model_id)` | owner(20) ‖ registered_at(u64) ‖ 0(4) |
//! | 0x0302 | `M + 1` | model_hash |
//! | 0x0302 | `M + 2` | BLAKE3(name) |
//! | 0x0302 | `M + 3` | BLAKE3(metadata) |
//! | 0x0302 | `keccak("poai.model.provider" ‖ model_id ‖ key_hash)` | 1 if the provider key is authorised |
//! | 0x0302 | `keccak("poai.achain.block" ‖ u64be(height))` | the imported A-chain block hash at that height |
//!
//! The domain strings keep the maps apart; keccak preimages of different lengths or tags cannot
//! collide short of a keccak collision. `STORAGE.md` beside this crate has the same table, with
//! the derivations of the ids, for contract authors.

use crate::error::{Failure, Result};
use alloy_primitives::{Address, B256, U256, keccak256};
use poai_primitives::ChainId;
use std::collections::BTreeMap;

/// The call a precompile is running for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallEnv {
    /// `msg.sender` of the call.
    pub caller: Address,
    /// True in a STATICCALL or any call made inside one.
    pub is_static: bool,
    /// True for DELEGATECALL, CALLCODE, or code delegated to the precompile (EIP-7702): the
    /// storage context would not be the precompile's own account.
    pub delegated: bool,
    /// The executing chain's id, from the EVM configuration (never from the input).
    pub chain_id: ChainId,
    /// The block's timestamp, Unix seconds.
    pub timestamp: u64,
}

/// The precompile account's storage.
pub trait Storage {
    /// Reads a slot (zero if never written).
    fn sload(&mut self, slot: U256) -> Result<U256>;
    /// Writes a slot.
    fn sstore(&mut self, slot: U256, value: U256) -> Result<()>;
}

/// In-memory storage for unit tests and tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStorage {
    /// The slots written, non-zero only.
    pub slots: BTreeMap<U256, U256>,
}

impl Storage for MemoryStorage {
    fn sload(&mut self, slot: U256) -> Result<U256> {
        Ok(self.slots.get(&slot).copied().unwrap_or_default())
    }

    fn sstore(&mut self, slot: U256, value: U256) -> Result<()> {
        if value.is_zero() {
            self.slots.remove(&slot);
        } else {
            self.slots.insert(slot, value);
        }
        Ok(())
    }
}

/// A storage whose every access fails, to test that database errors are fatal.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailingStorage;

impl Storage for FailingStorage {
    fn sload(&mut self, _slot: U256) -> Result<U256> {
        Err(Failure::Fatal("database unavailable".into()))
    }

    fn sstore(&mut self, _slot: U256, _value: U256) -> Result<()> {
        Err(Failure::Fatal("database unavailable".into()))
    }
}

/// `keccak(tag ‖ parts…)` as a slot number.
pub fn slot(tag: &[u8], parts: &[&[u8]]) -> U256 {
    let mut preimage = Vec::with_capacity(tag.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    preimage.extend_from_slice(tag);
    for p in parts {
        preimage.extend_from_slice(p);
    }
    U256::from_be_bytes(keccak256(&preimage).0)
}

/// The slot `offset` places after `base` (wrapping, as Solidity's struct layout does).
pub fn field(base: U256, offset: u64) -> U256 {
    base.wrapping_add(U256::from(offset))
}

/// A 32-byte word as a slot value.
pub fn word(b: B256) -> U256 {
    U256::from_be_bytes(b.0)
}

/// A slot value as 32 bytes.
pub fn bytes(v: U256) -> [u8; 32] {
    v.to_be_bytes::<32>()
}

/// A 32-byte ABI word holding a bool.
pub fn bool_word(b: bool) -> [u8; 32] {
    let mut w = [0u8; 32];
    if let Some(last) = w.last_mut() {
        *last = u8::from(b);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_keccak_of_tag_and_parts() {
        let id = [7u8; 32];
        let mut pre = b"poai.spent".to_vec();
        pre.extend_from_slice(&id);
        assert_eq!(
            slot(b"poai.spent", &[&id]),
            U256::from_be_bytes(keccak256(&pre).0)
        );
        assert_ne!(slot(b"poai.spent", &[&id]), slot(b"poai.device", &[&id]));
        assert_eq!(field(U256::MAX, 1), U256::ZERO);
    }

    #[test]
    fn memory_storage_reads_zero_and_forgets_zero_writes() {
        let mut s = MemoryStorage::default();
        assert_eq!(s.sload(U256::from(1)).unwrap(), U256::ZERO);
        s.sstore(U256::from(1), U256::from(9)).unwrap();
        assert_eq!(s.sload(U256::from(1)).unwrap(), U256::from(9));
        s.sstore(U256::from(1), U256::ZERO).unwrap();
        assert!(s.slots.is_empty());
        assert!(matches!(
            FailingStorage.sload(U256::ZERO),
            Err(Failure::Fatal(_))
        ));
    }

    #[test]
    fn bool_words() {
        assert_eq!(bool_word(false), [0u8; 32]);
        assert_eq!(bool_word(true)[31], 1);
        assert_eq!(bool_word(true)[..31], [0u8; 31]);
    }
}
