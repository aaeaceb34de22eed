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

use crate::hash::{Hash32, hash_tagged};
use std::collections::BTreeMap;

/// A value with a canonical encoding.
pub(crate) trait Leaf {
    /// The canonical encoding committed in the leaf.
    fn leaf_encoding(&self) -> Vec<u8>;
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
    entries: BTreeMap<K, (V, Hash32)>,
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

    fn leaf(&self, k: &K, v: &V) -> Hash32 {
        hash_tagged(self.tag, &[&[0], k.key_bytes(), &v.leaf_encoding()])
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.entries.get(k).map(|(v, _)| v)
    }

    /// Writes `k`, returning the old value.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        let leaf = self.leaf(&k, &v);
        self.entries.insert(k, (v, leaf)).map(|(old, _)| old)
    }

    /// Removes `k`, returning the old value.
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        self.entries.remove(k).map(|(old, _)| old)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, (v, _))| (k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(|(v, _)| v)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The commitment (see the module docs).
    pub(crate) fn commit(&self) -> Hash32 {
        // One contiguous buffer: BLAKE3 hashes whole chunks of it in parallel lanes, where
        // 32-byte updates would go through one compression at a time.
        let mut leaves = Vec::with_capacity(self.entries.len().saturating_mul(32));
        for (_, leaf) in self.entries.values() {
            leaves.extend_from_slice(&leaf.0);
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

    proptest! {
        /// Whatever sequence of writes and removals, the kept leaves give the commitment a
        /// from-scratch computation over the live entries gives.
        #[test]
        fn cached_leaves_never_go_stale(
            ops in proptest::collection::vec(
                (any::<bool>(), 0u8..8, proptest::collection::vec(any::<u8>(), 0..6)),
                0..60,
            )
        ) {
            let mut m: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
            let mut plain = BTreeMap::new();
            for (insert, k, v) in ops {
                let key = [0, k];
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
