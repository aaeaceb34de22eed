//! An ordered map that keeps each entry's leaf hash beside the entry, so that a commitment to the
//! whole map re-hashes only the entries written since, plus 32 bytes per entry (docs/DESIGN-chain.md,
//! "State root").
//!
//! - `leaf = BLAKE3(tag ‖ 0x00 ‖ key ‖ encoded value)` ([`crate::hash::hash_tagged`]), computed
//!   when the entry is written. Keys have a fixed size per map, so key and value cannot trade
//!   bytes.
//! - `commit = BLAKE3(tag ‖ 0x01 ‖ leaf_1 ‖ … ‖ leaf_n)` over the leaves in key order.
//!
//! Before, the state root hashed every entry's encoding at every block: with 20,000 devices that
//! was 42 MB of BLAKE3 per block per validator (each device carries its 1,952-byte ML-DSA key),
//! a tenth of all CPU time with four validators on two cores (docs/PERFORMANCE.md).
//!
//! A leaf longer than one BLAKE3 chunk (1,024 bytes: a device's, with its key) also keeps the
//! chaining value of its first chunk. When a write leaves those bytes as they were (a device's
//! proof changes its counters, not its miner or key; [`Leaf::same_leading_bytes`]), the new leaf
//! starts from that value and hashes only the chunks after it, combined by BLAKE3's own tree rule
//! (`blake3::hazmat`; section 2.1 of the BLAKE3 paper), so the leaf is the same hash, bit for bit,
//! as hashing the whole input. For an ML-DSA-65 device that is 16 of its 33 compressions.

use crate::hash::{Hash32, hash_tagged};
use blake3::CHUNK_LEN;
use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};
use std::collections::BTreeMap;

/// A value with a canonical encoding.
pub(crate) trait Leaf {
    /// The canonical encoding committed in the leaf.
    fn leaf_encoding(&self) -> Vec<u8>;

    /// Whether the first `n` bytes of this value's encoding are those of `old`'s, known without
    /// encoding both (the leaf then reuses the hash of its first chunk; module docs). `false`
    /// is always correct; `true` must be exact.
    fn same_leading_bytes(&self, _old: &Self, _n: usize) -> bool {
        false
    }
}

/// A key of fixed size.
pub(crate) trait LeafKey {
    /// The key's bytes.
    fn key_bytes(&self) -> &[u8];
}

/// A `BTreeMap` whose entries carry their leaf hash (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct LeafMap<K, V> {
    tag: &'static [u8],
    entries: BTreeMap<K, Entry<V>>,
}

/// A value, its leaf, and the chaining value of the leaf input's first chunk where the input is
/// longer than one chunk.
#[derive(Debug, Clone)]
struct Entry<V> {
    value: V,
    leaf: Hash32,
    first_chunk: Option<ChainingValue>,
}

/// The chaining value of the chunk of `input` that starts at byte `offset` of the whole input.
fn chunk_cv(chunk: &[u8], offset: usize) -> ChainingValue {
    let mut h = blake3::Hasher::new();
    h.set_input_offset(u64::try_from(offset).unwrap_or(u64::MAX));
    h.update(chunk);
    h.finalize_non_root()
}

/// The largest power of two below `n` (n ≥ 2): how many chunks BLAKE3's left subtree holds.
fn left_len(n: usize) -> usize {
    let below = n.saturating_sub(1).max(1);
    1usize << (usize::BITS - 1 - below.leading_zeros())
}

/// The chaining value of the subtree over `cvs` (one per chunk, at least one).
fn subtree(cvs: &[ChainingValue]) -> ChainingValue {
    match cvs {
        [] => [0; 32],
        [one] => *one,
        _ => {
            let (l, r) = cvs.split_at(left_len(cvs.len()));
            merge_subtrees_non_root(&subtree(l), &subtree(r), Mode::Hash)
        }
    }
}

/// `BLAKE3(input)` for an input longer than one chunk whose first chunk's chaining value is
/// `first`.
fn hash_from_first_chunk(first: ChainingValue, input: &[u8]) -> Hash32 {
    let mut cvs = vec![first];
    cvs.extend(
        input
            .chunks(CHUNK_LEN)
            .enumerate()
            .skip(1)
            .map(|(i, c)| chunk_cv(c, i.saturating_mul(CHUNK_LEN))),
    );
    let (l, r) = cvs.split_at(left_len(cvs.len()));
    Hash32(*merge_subtrees_root(&subtree(l), &subtree(r), Mode::Hash).as_bytes())
}

impl<K: Ord + LeafKey, V: Leaf> LeafMap<K, V> {
    /// An empty map whose leaves and commitment use `tag`.
    pub(crate) fn new(tag: &'static [u8]) -> Self {
        Self {
            tag,
            entries: BTreeMap::new(),
        }
    }

    /// A map holding `entries` (leaves computed once, here).
    pub(crate) fn from_map(tag: &'static [u8], entries: BTreeMap<K, V>) -> Self {
        let mut m = Self::new(tag);
        for (k, v) in entries {
            m.insert(k, v);
        }
        m
    }

    /// The entry for `v` under `k`: `hash_tagged(tag, [0x00, key, encoding])`, starting from
    /// `old`'s first chunk where `v` leaves it as it was.
    fn entry(&self, k: &K, v: V, old: Option<&Entry<V>>) -> Entry<V> {
        let enc = v.leaf_encoding();
        let key = k.key_bytes();
        // The bytes hash_tagged hashes: len(tag) ‖ tag ‖ 0x00 ‖ key ‖ encoding.
        let mut input = Vec::with_capacity(self.tag.len() + key.len() + enc.len() + 2);
        input.push(u8::try_from(self.tag.len()).unwrap_or(u8::MAX));
        input.extend_from_slice(self.tag);
        input.push(0);
        input.extend_from_slice(key);
        let head = input.len();
        input.extend_from_slice(&enc);
        if input.len() <= CHUNK_LEN {
            return Entry {
                value: v,
                leaf: Hash32(*blake3::hash(&input).as_bytes()),
                first_chunk: None,
            };
        }
        let reused = old.and_then(|o| {
            let n = CHUNK_LEN.checked_sub(head)?;
            if v.same_leading_bytes(&o.value, n) {
                o.first_chunk
            } else {
                None
            }
        });
        let first =
            reused.unwrap_or_else(|| chunk_cv(input.get(..CHUNK_LEN).unwrap_or_default(), 0));
        Entry {
            leaf: hash_from_first_chunk(first, &input),
            value: v,
            first_chunk: Some(first),
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.entries.get(k).map(|e| &e.value)
    }

    /// Writes `k`, returning the old value.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        let entry = self.entry(&k, v, self.entries.get(&k));
        self.entries.insert(k, entry).map(|old| old.value)
    }

    /// Removes `k`, returning the old value.
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        self.entries.remove(k).map(|old| old.value)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, e)| (k, &e.value))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(|e| &e.value)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The commitment (see the module docs).
    pub(crate) fn commit(&self) -> Hash32 {
        // One contiguous buffer: BLAKE3 hashes whole chunks of it in parallel lanes, where
        // 32-byte updates would go through one compression at a time.
        let mut leaves = Vec::with_capacity(self.entries.len().saturating_mul(32));
        for e in self.entries.values() {
            leaves.extend_from_slice(&e.leaf.0);
        }
        hash_tagged(self.tag, &[&[1], &leaves])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq)]
    struct V(Vec<u8>);
    impl Leaf for V {
        fn leaf_encoding(&self) -> Vec<u8> {
            self.0.clone()
        }
        /// Exact, from the bytes: what the real implementations claim from their fields.
        fn same_leading_bytes(&self, old: &Self, n: usize) -> bool {
            matches!((self.0.get(..n), old.0.get(..n)), (Some(a), Some(b)) if a == b)
        }
    }

    impl LeafKey for [u8; 2] {
        fn key_bytes(&self) -> &[u8] {
            self
        }
    }

    fn recomputed(m: &LeafMap<[u8; 2], V>) -> Hash32 {
        let mut leaves = Vec::new();
        for (k, v) in m.iter() {
            leaves.extend_from_slice(&hash_tagged(b"t", &[&[0], k, &v.0]).0);
        }
        hash_tagged(b"t", &[&[1], &leaves])
    }

    #[test]
    fn commitment_follows_every_write_and_depends_on_keys_values_and_order() {
        let mut m: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
        assert_eq!(m.commit(), hash_tagged(b"t", &[&[1]]));
        let empty = m.commit();
        m.insert([0, 2], V(vec![1]));
        m.insert([0, 1], V(vec![2]));
        let two = m.commit();
        assert_eq!(two, recomputed(&m));
        assert_ne!(two, empty);
        // Overwrite, then restore: the commitment comes back.
        assert_eq!(m.insert([0, 1], V(vec![3])), Some(V(vec![2])));
        assert_ne!(m.commit(), two);
        assert_eq!(m.commit(), recomputed(&m));
        m.insert([0, 1], V(vec![2]));
        assert_eq!(m.commit(), two);
        // The same values under swapped keys commit differently.
        let mut swapped: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
        swapped.insert([0, 2], V(vec![2]));
        swapped.insert([0, 1], V(vec![1]));
        assert_ne!(swapped.commit(), two);
        // Remove brings back the one-entry commitment; other keys or values differ.
        assert_eq!(m.remove(&[0, 2]), Some(V(vec![1])));
        let mut one: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
        one.insert([0, 1], V(vec![2]));
        assert_eq!(m.commit(), one.commit());
        let mut shifted: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
        shifted.insert([0, 0], V(vec![1, 2]));
        assert_ne!(shifted.commit(), one.commit());
        // from_map equals inserting one by one.
        let built = LeafMap::from_map(b"t", [([0u8, 1], V(vec![2]))].into_iter().collect());
        assert_eq!(built.commit(), one.commit());
        assert_eq!(built.len(), 1);
        assert_eq!(built.get(&[0, 1]), Some(&V(vec![2])));
        assert_eq!(built.values().count(), 1);
    }

    /// Leaves of one to five chunks, written from nothing and over an entry whose first chunk
    /// is the same or not: always the plain hash of the whole input.
    #[test]
    fn first_chunk_reuse_gives_the_plain_hash() {
        let mut m: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
        for len in [
            0, 1000, 1019, 1020, 1021, 2043, 2044, 2045, 3000, 4092, 4093, 5000,
        ] {
            let v: Vec<u8> = (0..len)
                .map(|i: usize| u8::try_from(i % 251).unwrap())
                .collect();
            m.insert([0, 1], V(v.clone()));
            assert_eq!(
                m.entries[&[0, 1]].leaf,
                hash_tagged(b"t", &[&[0], &[0, 1], &v])
            );
            // Same first chunk (a change past it), then a change inside it.
            let mut later = v.clone();
            if let Some(b) = later.last_mut() {
                *b ^= 1;
            }
            m.insert([0, 1], V(later.clone()));
            assert_eq!(
                m.entries[&[0, 1]].leaf,
                hash_tagged(b"t", &[&[0], &[0, 1], &later])
            );
            if let Some(b) = later.first_mut() {
                *b ^= 1;
            }
            m.insert([0, 1], V(later.clone()));
            assert_eq!(
                m.entries[&[0, 1]].leaf,
                hash_tagged(b"t", &[&[0], &[0, 1], &later])
            );
        }
        for n in 2..40usize {
            let l = left_len(n);
            assert!(l.is_power_of_two() && l < n && l * 2 >= n, "{n}: {l}");
        }
    }

    proptest! {
        /// Whatever sequence of writes and removals, the kept leaves give the commitment a
        /// from-scratch computation over the live entries gives.
        #[test]
        fn cached_leaves_never_go_stale(
            ops in proptest::collection::vec(
                (
                    any::<bool>(),
                    0u8..8,
                    proptest::collection::vec(any::<u8>(), 0..6),
                    prop_oneof![Just(0usize), 900usize..3200],
                ),
                0..60,
            )
        ) {
            let mut m: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
            let mut plain = BTreeMap::new();
            for (insert, k, tail, long) in ops {
                let key = [0, k];
                // Long values share a first chunk of zeros, so rewrites reuse it; the short tail
                // varies what follows.
                let mut v = vec![0u8; long];
                v.extend_from_slice(&tail);
                if insert {
                    prop_assert_eq!(m.insert(key, V(v.clone())), plain.insert(key, V(v)));
                } else {
                    prop_assert_eq!(m.remove(&key), plain.remove(&key));
                }
                prop_assert_eq!(m.commit(), recomputed(&m));
                prop_assert_eq!(m.len(), plain.len());
            }
            let rebuilt = LeafMap::from_map(b"t", plain);
            prop_assert_eq!(rebuilt.commit(), m.commit());
        }
    }
}
