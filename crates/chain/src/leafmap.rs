//! An ordered map that keeps each entry's leaf hash beside the entry, so that a commitment to the
//! whole map re-hashes only the entries written since, plus 32 bytes per entry (docs/DESIGN-chain.md,
//! "State root").
//!
//! - `leaf = BLAKE3(tag ‖ 0x00 ‖ key ‖ leaf encoding)` ([`crate::hash::hash_tagged`],
//!   [`Leaf::leaf_encoding`]), computed when the entry is written. Keys have a fixed size per
//!   map, so key and value cannot trade bytes.
//! - `commit = BLAKE3(tag ‖ 0x01 ‖ leaf_1 ‖ … ‖ leaf_n)` over the leaves in key order.
//!
//! Before, the state root hashed every entry's encoding at every block: with 20,000 devices that
//! was 42 MB of BLAKE3 per block per validator (each device carries its 1,952-byte ML-DSA key),
//! a tenth of all CPU time with four validators on two cores (docs/PERFORMANCE.md).
//!
//! Leaves stay short so that a write hashes one BLAKE3 chunk: a device's leaf commits to its
//! ML-DSA key through the key's 64-byte `tr` (FIPS 204's `H(pk)`, which verification computes and
//! keeps anyway), not through the 1,312 to 2,592 key bytes (`crate::state`, `impl Leaf for
//! Device`).
//!
//! Copies share the entries. A validator copies the state for every block it builds or checks
//! (each block's state is kept until the block is final or dropped), and copying every account
//! and device was linear in the fleet: at 20,000 devices a few milliseconds per block per
//! validator, and at a fleet of hundreds of thousands it would be most of a block interval. The
//! map keeps its entries as of the last fold in an `Arc`-shared base and the writes since in a
//! small owned map (a removal there is a tombstone); a copy clones the small map. Once the
//! writes reach [`fold_at`] of the base's size (about `64 √n`), they are folded into the base,
//! which is copied then if another map still shares it: with `u` writes per block that is a
//! copy of `n` entries every `64 √n / u` blocks instead of every block.

use crate::hash::{Hash32, hash_tagged};
use std::cmp::Ordering;
use std::collections::{BTreeMap, btree_map};
use std::iter::Peekable;
use std::sync::Arc;

/// A value with a canonical encoding.
pub(crate) trait Leaf {
    /// The bytes committed in the leaf: the value's canonical encoding, or one that commits to
    /// it (a device's key by its hash).
    fn leaf_encoding(&self) -> Vec<u8>;
}

/// A key of fixed size.
pub(crate) trait LeafKey {
    /// The key's bytes.
    fn key_bytes(&self) -> &[u8];
}

/// An ordered map whose entries carry their leaf hash, and whose copies share what was written
/// before the last fold (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct LeafMap<K, V> {
    tag: &'static [u8],
    /// The entries as of the last fold, shared by copies.
    base: Arc<BTreeMap<K, Entry<V>>>,
    /// Writes since: the entry, or `None` where the key was removed (it is in `base`).
    recent: BTreeMap<K, Option<Entry<V>>>,
    /// Live entries.
    len: usize,
}

/// Fewest writes folded at once.
const FOLD_MIN: usize = if cfg!(test) { 4 } else { 1024 };

/// Writes folded per square root of the base's size.
const FOLD_PER_ROOT: usize = if cfg!(test) { 1 } else { 64 };

/// How many writes since the last fold make the next one, for a base of `n` entries: about
/// `64 √n`, which balances copying them with each copy of the map against copying the base at
/// each fold (module docs).
fn fold_at(n: usize) -> usize {
    n.isqrt().saturating_mul(FOLD_PER_ROOT).max(FOLD_MIN)
}

/// A value and its leaf.
#[derive(Debug, Clone)]
struct Entry<V> {
    value: V,
    leaf: Hash32,
}

impl<K: Ord + Clone + LeafKey, V: Clone + Leaf> LeafMap<K, V> {
    /// An empty map whose leaves and commitment use `tag`.
    pub(crate) fn new(tag: &'static [u8]) -> Self {
        Self {
            tag,
            base: Arc::new(BTreeMap::new()),
            recent: BTreeMap::new(),
            len: 0,
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

    /// The entry for `v` under `k`: its leaf is `hash_tagged(tag, [0x00, key, leaf encoding])`.
    fn entry(tag: &[u8], k: &K, v: V) -> Entry<V> {
        let leaf = hash_tagged(tag, &[&[0], k.key_bytes(), &v.leaf_encoding()]);
        Entry { value: v, leaf }
    }

    /// The live entry under `k`.
    fn entry_of(&self, k: &K) -> Option<&Entry<V>> {
        match self.recent.get(k) {
            Some(written) => written.as_ref(),
            None => self.base.get(k),
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.entry_of(k).map(|e| &e.value)
    }

    /// Writes `k`, returning the old value.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        let tag = self.tag;
        // One search of the writes since the last fold: a row written again (an account paid
        // twice in a block) gives its old value up; one written before the fold is copied
        // from the shared base.
        let old = match self.recent.entry(k) {
            btree_map::Entry::Occupied(mut o) => {
                let entry = Self::entry(tag, o.key(), v);
                o.insert(Some(entry)).map(|e| e.value)
            }
            btree_map::Entry::Vacant(slot) => {
                let old = self.base.get(slot.key()).map(|e| e.value.clone());
                let entry = Self::entry(tag, slot.key(), v);
                slot.insert(Some(entry));
                old
            }
        };
        if old.is_none() {
            self.len = self.len.saturating_add(1);
        }
        self.fold_if_due();
        old
    }

    /// Removes `k`, returning the old value.
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        // A row written since the fold gives its value up; one from before is copied out of
        // the shared base. Either way a base row stays hidden behind a tombstone.
        let old = match self.recent.remove(k) {
            Some(written) => written.map(|e| e.value),
            None => self.base.get(k).map(|e| e.value.clone()),
        };
        if self.base.contains_key(k) {
            self.recent.insert(k.clone(), None);
        }
        if old.is_some() {
            self.len = self.len.saturating_sub(1);
            self.fold_if_due();
        }
        old
    }

    /// Folds the writes since the last fold into the base once they are [`fold_at`] many
    /// (copying the base first if another map shares it).
    fn fold_if_due(&mut self) {
        if self.recent.len() < fold_at(self.base.len()) {
            return;
        }
        let base = Arc::make_mut(&mut self.base);
        for (k, written) in std::mem::take(&mut self.recent) {
            match written {
                Some(e) => {
                    base.insert(k, e);
                }
                None => {
                    base.remove(&k);
                }
            }
        }
    }

    /// The live entries in key order.
    fn entries(&self) -> Merged<'_, K, V> {
        Merged {
            base: self.base.iter().peekable(),
            recent: self.recent.iter().peekable(),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries().map(|(k, e)| (k, &e.value))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries().map(|(_, e)| &e.value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The commitment (see the module docs).
    pub(crate) fn commit(&self) -> Hash32 {
        // One contiguous buffer: BLAKE3 hashes whole chunks of it in parallel lanes, where
        // 32-byte updates would go through one compression at a time.
        let mut leaves = Vec::with_capacity(self.len.saturating_mul(32));
        for (_, e) in self.entries() {
            leaves.extend_from_slice(&e.leaf.0);
        }
        hash_tagged(self.tag, &[&[1], &leaves])
    }
}

/// The base's entries overlaid with the writes since, in key order, without the removed ones.
struct Merged<'a, K, V> {
    base: Peekable<btree_map::Iter<'a, K, Entry<V>>>,
    recent: Peekable<btree_map::Iter<'a, K, Option<Entry<V>>>>,
}

impl<'a, K: Ord, V> Iterator for Merged<'a, K, V> {
    type Item = (&'a K, &'a Entry<V>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.base.peek(), self.recent.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((b, _)), Some((r, _))) => b.cmp(r),
            };
            match order {
                Ordering::Less => return self.base.next(),
                // Written since: the base's entry is stale.
                Ordering::Equal => {
                    self.base.next();
                }
                Ordering::Greater => {}
            }
            // A removal hides the base's entry and yields nothing.
            if let Some((k, Some(e))) = self.recent.next() {
                return Some((k, e));
            }
        }
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

    type Map = LeafMap<[u8; 2], V>;
    type Plain = BTreeMap<[u8; 2], V>;

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
                // Values of zero to four BLAKE3 chunks; the short tail varies what follows.
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

        /// Copies taken between writes (sharing the base, before and after folds; the test
        /// build folds every few writes) keep what they held while the original and other
        /// copies go on; every map agrees with a plain BTreeMap in entries, order, length and
        /// commitment.
        #[test]
        fn copies_keep_their_entries_while_others_write(
            ops in proptest::collection::vec(
                (0u8..4, 0u8..24, any::<u8>(), prop_oneof![Just(0usize), 1000usize..2100]),
                0..120,
            )
        ) {
            let mut m: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
            let mut plain: BTreeMap<[u8; 2], V> = BTreeMap::new();
            let mut copies: Vec<(Map, Plain)> = Vec::new();
            for (op, k, byte, long) in ops {
                let key = [0, k];
                let mut v = vec![0u8; long];
                v.push(byte);
                match op {
                    0 | 1 => {
                        prop_assert_eq!(m.insert(key, V(v.clone())), plain.insert(key, V(v)));
                    }
                    2 => prop_assert_eq!(m.remove(&key), plain.remove(&key)),
                    // Copy, and carry on with the copy half the time (as a validator builds a
                    // block on the copy of its parent's state).
                    _ => {
                        copies.push((m.clone(), plain.clone()));
                        if byte % 2 == 0
                            && let Some((c, p)) = copies.pop()
                        {
                            copies.push((std::mem::replace(&mut m, c), std::mem::replace(&mut plain, p)));
                        }
                    }
                }
                prop_assert_eq!(m.get(&key), plain.get(&key));
            }
            copies.push((m, plain));
            for (m, plain) in &copies {
                let live: Vec<_> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
                let want: Vec<_> = plain.iter().map(|(k, v)| (*k, v.clone())).collect();
                prop_assert_eq!(live, want);
                prop_assert_eq!(m.len(), plain.len());
                prop_assert_eq!(m.values().count(), plain.len());
                prop_assert_eq!(m.commit(), recomputed(m));
                prop_assert_eq!(m.commit(), LeafMap::from_map(b"t", plain.clone()).commit());
            }
        }
    }

    /// Writes fold into the base at `fold_at`, and a fold copies a base another map shares
    /// instead of changing it under that map.
    #[test]
    fn folds_copy_a_shared_base() {
        let mut m: LeafMap<[u8; 2], V> = LeafMap::new(b"t");
        for k in 0..20u8 {
            m.insert([0, k], V(vec![k]));
        }
        assert!(m.recent.len() < fold_at(m.base.len()));
        assert!(m.base.len() >= 16);
        let copy = m.clone();
        assert!(Arc::ptr_eq(&m.base, &copy.base));
        for k in 0..20u8 {
            m.insert([0, k], V(vec![k, 1]));
        }
        assert!(!Arc::ptr_eq(&m.base, &copy.base));
        assert!(copy.iter().all(|(k, v)| v.0 == vec![k[1]]));
        assert!(m.iter().all(|(k, v)| v.0 == vec![k[1], 1]));
        assert_eq!((m.len(), copy.len()), (20, 20));
    }
}
