//! The AI VM's state: journaled tables of canonically encoded records, their commitment, and the
//! key/value form the node stores.
//!
//! | prefix | table | key | value |
//! |---|---|---|---|
//! | 0x00 | meta | (empty) | [`AiMeta`] |
//! | 0x01 | models | model id 32 | [`Model`] |
//! | 0x02 | providers | address 20 | [`Provider`] |
//! | 0x03 | attestations | attestation id 32 | [`StoredAttestation`] |
//! | 0x04 | tasks | task id 32 | [`Task`] |
//! | 0x05 | disputes | dispute id 32 | [`Dispute`] |
//! | 0x06 | credits | address 20 | AIT balance u128 |
//! | 0x07 | deadlines | time u64 ‖ kind u8 ‖ id 32 | (empty) |
//!
//! The commitment ([`AiState::commit`]) hashes meta and then every row of every table in key
//! order (prefix ‖ u32 key length ‖ key ‖ u32 value length ‖ value), so two states with the same
//! rows have the same root and any difference in any row changes it. Like accounts and devices
//! (docs/DESIGN-chain.md, "State root") it is recomputed per block; attestations grow without
//! bound, so this is the first table to move to an incremental tree.

use super::types::{
    AiMeta, Deadline, Dispute, Model, Provider, StoredAttestation, Task, decode_u128,
};
use crate::codec::{CodecError, Writer};
use crate::hash::{Hash32, hash_tagged};
use poai_primitives::Address;
use std::collections::BTreeMap;

/// A value stored in an AI table: a canonical encoding and its decoder.
pub trait Record: Clone + PartialEq + std::fmt::Debug {
    /// The canonical encoding.
    fn encode(&self) -> Vec<u8>;
    /// Decodes [`Record::encode`]; the whole input must be used.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// A key of an AI table.
pub trait TableKey: Ord + Copy + std::fmt::Debug {
    /// The key's bytes (fixed length per table, so byte order is key order).
    fn to_key(&self) -> Vec<u8>;
    /// Parses [`TableKey::to_key`].
    fn from_key(bytes: &[u8]) -> Result<Self, CodecError>;
}

impl TableKey for Hash32 {
    fn to_key(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, CodecError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash32)
            .map_err(|_| CodecError::Invalid {
                field: "key",
                reason: format!("{} bytes, expected 32", bytes.len()),
            })
    }
}

impl TableKey for Address {
    fn to_key(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, CodecError> {
        Address::from_slice(bytes).ok_or_else(|| CodecError::Invalid {
            field: "key",
            reason: format!("{} bytes, expected 20", bytes.len()),
        })
    }
}

impl Record for u128 {
    fn encode(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_u128(bytes)
    }
}

impl Record for () {
    fn encode(&self) -> Vec<u8> {
        Vec::new()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes(bytes.len()))
        }
    }
}

/// A map with an undo journal: the old value of every key written since the journal was cleared.
#[derive(Debug, Clone)]
pub struct Table<K, V> {
    map: BTreeMap<K, V>,
    journal: BTreeMap<K, Option<V>>,
}

impl<K: TableKey, V: Record> Default for Table<K, V> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
            journal: BTreeMap::new(),
        }
    }
}

impl<K: TableKey, V: Record> Table<K, V> {
    /// The value at `k`.
    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    /// Writes `v` at `k` (or removes `k` when `v` is `None`), journaling the old value.
    pub fn put(&mut self, k: K, v: Option<V>) {
        let old = match v {
            Some(v) => self.map.insert(k, v),
            None => self.map.remove(&k),
        };
        self.journal.entry(k).or_insert(old);
    }

    /// Rows in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.iter()
    }

    /// Rows with keys in `range`.
    pub fn range<R: std::ops::RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.range(range)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn rollback(&mut self) {
        for (k, old) in std::mem::take(&mut self.journal) {
            match old {
                Some(v) => self.map.insert(k, v),
                None => self.map.remove(&k),
            };
        }
    }

    fn changes(&self, prefix: u8, out: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>) {
        for k in self.journal.keys() {
            let mut key = vec![prefix];
            key.extend_from_slice(&k.to_key());
            out.push((key, self.map.get(k).map(Record::encode)));
        }
    }

    fn commit_into(&self, prefix: u8, h: &mut blake3::Hasher) {
        for (k, v) in &self.map {
            let key = k.to_key();
            let val = v.encode();
            h.update(&[prefix]);
            h.update(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes());
            h.update(&key);
            h.update(&u32::try_from(val.len()).unwrap_or(u32::MAX).to_be_bytes());
            h.update(&val);
        }
    }

    fn load(&mut self, key: &[u8], value: &[u8]) -> Result<(), CodecError> {
        self.map.insert(K::from_key(key)?, V::decode(value)?);
        Ok(())
    }
}

/// Table prefixes (see the module table).
pub mod prefix {
    /// Chain-wide counters.
    pub const META: u8 = 0x00;
    /// Models.
    pub const MODELS: u8 = 0x01;
    /// Providers.
    pub const PROVIDERS: u8 = 0x02;
    /// Attestations.
    pub const ATTESTATIONS: u8 = 0x03;
    /// Tasks.
    pub const TASKS: u8 = 0x04;
    /// Disputes.
    pub const DISPUTES: u8 = 0x05;
    /// AIT balances.
    pub const CREDITS: u8 = 0x06;
    /// The deadline queue.
    pub const DEADLINES: u8 = 0x07;
}

/// The AI VM's part of the A-chain state.
#[derive(Debug, Clone, Default)]
pub struct AiState {
    pub(crate) meta: AiMeta,
    meta_journal: Option<AiMeta>,
    pub(crate) models: Table<Hash32, Model>,
    pub(crate) providers: Table<Address, Provider>,
    pub(crate) attestations: Table<Hash32, StoredAttestation>,
    pub(crate) tasks: Table<Hash32, Task>,
    pub(crate) disputes: Table<Hash32, Dispute>,
    pub(crate) credits: Table<Address, u128>,
    pub(crate) deadlines: Table<Deadline, ()>,
}

impl AiState {
    /// Chain-wide counters.
    pub fn meta(&self) -> AiMeta {
        self.meta
    }

    /// A model.
    pub fn model(&self, id: &Hash32) -> Option<&Model> {
        self.models.get(id)
    }

    /// A provider.
    pub fn provider(&self, a: &Address) -> Option<&Provider> {
        self.providers.get(a)
    }

    /// An attestation.
    pub fn attestation(&self, id: &Hash32) -> Option<&StoredAttestation> {
        self.attestations.get(id)
    }

    /// A task.
    pub fn task(&self, id: &Hash32) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// A dispute.
    pub fn dispute(&self, id: &Hash32) -> Option<&Dispute> {
        self.disputes.get(id)
    }

    /// An AIT balance.
    pub fn credits(&self, a: &Address) -> u128 {
        self.credits.get(a).copied().unwrap_or(0)
    }

    /// Every model.
    pub fn models(&self) -> impl Iterator<Item = (&Hash32, &Model)> {
        self.models.iter()
    }

    /// Every provider.
    pub fn providers(&self) -> impl Iterator<Item = (&Address, &Provider)> {
        self.providers.iter()
    }

    /// Every attestation.
    pub fn attestations(&self) -> impl Iterator<Item = (&Hash32, &StoredAttestation)> {
        self.attestations.iter()
    }

    /// Every task.
    pub fn tasks(&self) -> impl Iterator<Item = (&Hash32, &Task)> {
        self.tasks.iter()
    }

    /// Every dispute.
    pub fn disputes(&self) -> impl Iterator<Item = (&Hash32, &Dispute)> {
        self.disputes.iter()
    }

    /// Every AIT balance.
    pub fn all_credits(&self) -> impl Iterator<Item = (&Address, &u128)> {
        self.credits.iter()
    }

    /// The deadline queue, earliest first.
    pub fn deadlines(&self) -> impl Iterator<Item = &Deadline> {
        self.deadlines.iter().map(|(k, ())| k)
    }

    pub(crate) fn set_meta(&mut self, m: AiMeta) {
        if self.meta_journal.is_none() {
            self.meta_journal = Some(self.meta);
        }
        self.meta = m;
    }

    pub(crate) fn rollback(&mut self) {
        if let Some(m) = self.meta_journal.take() {
            self.meta = m;
        }
        self.models.rollback();
        self.providers.rollback();
        self.attestations.rollback();
        self.tasks.rollback();
        self.disputes.rollback();
        self.credits.rollback();
        self.deadlines.rollback();
    }

    pub(crate) fn clear_journal(&mut self) {
        self.meta_journal = None;
        self.models.journal.clear();
        self.providers.journal.clear();
        self.attestations.journal.clear();
        self.tasks.journal.clear();
        self.disputes.journal.clear();
        self.credits.journal.clear();
        self.deadlines.journal.clear();
    }

    /// Rows written since the journal was cleared: (prefix ‖ key, new value or `None` if
    /// deleted). The storage layer writes or deletes each.
    pub fn changes(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        if self.meta_journal.is_some() {
            out.push((vec![prefix::META], Some(self.meta.encode())));
        }
        self.models.changes(prefix::MODELS, &mut out);
        self.providers.changes(prefix::PROVIDERS, &mut out);
        self.attestations.changes(prefix::ATTESTATIONS, &mut out);
        self.tasks.changes(prefix::TASKS, &mut out);
        self.disputes.changes(prefix::DISPUTES, &mut out);
        self.credits.changes(prefix::CREDITS, &mut out);
        self.deadlines.changes(prefix::DEADLINES, &mut out);
        out
    }

    /// Every row, in the form of [`AiState::changes`] (for a full export).
    pub fn rows(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = vec![(vec![prefix::META], self.meta.encode())];
        fn all<K: TableKey, V: Record>(t: &Table<K, V>, p: u8, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
            for (k, v) in t.iter() {
                let mut key = vec![p];
                key.extend_from_slice(&k.to_key());
                out.push((key, v.encode()));
            }
        }
        all(&self.models, prefix::MODELS, &mut out);
        all(&self.providers, prefix::PROVIDERS, &mut out);
        all(&self.attestations, prefix::ATTESTATIONS, &mut out);
        all(&self.tasks, prefix::TASKS, &mut out);
        all(&self.disputes, prefix::DISPUTES, &mut out);
        all(&self.credits, prefix::CREDITS, &mut out);
        all(&self.deadlines, prefix::DEADLINES, &mut out);
        out
    }

    /// Rebuilds the state from stored rows (prefix ‖ key, value).
    pub fn load<'a>(
        rows: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<Self, CodecError> {
        let mut s = Self::default();
        for (key, value) in rows {
            let Some((&p, k)) = key.split_first() else {
                return Err(CodecError::Invalid {
                    field: "ai key",
                    reason: "empty".into(),
                });
            };
            match p {
                prefix::META => s.meta = AiMeta::decode(value)?,
                prefix::MODELS => s.models.load(k, value)?,
                prefix::PROVIDERS => s.providers.load(k, value)?,
                prefix::ATTESTATIONS => s.attestations.load(k, value)?,
                prefix::TASKS => s.tasks.load(k, value)?,
                prefix::DISPUTES => s.disputes.load(k, value)?,
                prefix::CREDITS => s.credits.load(k, value)?,
                prefix::DEADLINES => s.deadlines.load(k, value)?,
                tag => {
                    return Err(CodecError::UnknownTag {
                        field: "ai table prefix",
                        tag,
                    });
                }
            }
        }
        Ok(s)
    }

    /// The commitment of the whole AI state (see the module docs).
    pub fn commit(&self) -> Hash32 {
        let mut h = blake3::Hasher::new();
        let mut w = Writer::new();
        w.raw(&self.meta.encode());
        h.update(&w.finish());
        self.models.commit_into(prefix::MODELS, &mut h);
        self.providers.commit_into(prefix::PROVIDERS, &mut h);
        self.attestations.commit_into(prefix::ATTESTATIONS, &mut h);
        self.tasks.commit_into(prefix::TASKS, &mut h);
        self.disputes.commit_into(prefix::DISPUTES, &mut h);
        self.credits.commit_into(prefix::CREDITS, &mut h);
        self.deadlines.commit_into(prefix::DEADLINES, &mut h);
        hash_tagged(b"poai/ai-state/v1", &[h.finalize().as_bytes()])
    }

    /// Sum of every AIT balance.
    pub fn total_credits(&self) -> Option<u128> {
        self.credits
            .iter()
            .try_fold(0u128, |s, (_, v)| s.checked_add(*v))
    }
}
