//! The set of spent work ids, shaped so that copying the state stays cheap as the chain ages
//! (docs/DESIGN-chain.md, "Spent set").
//!
//! Every accepted proof adds its work id and none is ever removed, so the set is the one part of
//! the state that grows with the chain's history rather than with its fleet. A validator copies
//! the state for every block it builds or checks (one copy per unfinalized block), and a plain
//! `HashSet` copy is linear in everything ever spent: 10 million ids are 320 MB of keys, several
//! hundred milliseconds per copy.
//!
//! Here the ids live in levels:
//! - `recent`: ids spent since the last [`SpentSet::seal`], owned by this copy;
//! - `frozen`: read-only sets shared by every copy (`Arc`), largest first, each at least twice
//!   the size of the next.
//!
//! Copying clones `recent` (at most [`RECENT_MAX`] ids past the seal point, plus one block's) and
//! the `Arc`s. `seal`, called between blocks, freezes `recent` once it is large enough and merges
//! the smaller levels into larger ones like a binary counter, so each id is copied O(log n) times
//! over its life and a lookup probes O(log n) sets. Levels stop merging at [`MERGE_MAX`] ids, so no
//! block pays for copying more than that at once. Sealing happens only between blocks, so the ids
//! a failed block must forget ([`SpentSet::forget`]) are always in `recent`.

use poai_primitives::WorkId;
use std::collections::HashSet;
use std::sync::Arc;

/// `recent` is frozen once it holds this many ids (at a block boundary). Small in unit tests,
/// so that the chain's own tests freeze and merge levels too.
#[cfg(not(test))]
pub(crate) const RECENT_MAX: usize = 1 << 13;
#[cfg(test)]
pub(crate) const RECENT_MAX: usize = 64;

/// Frozen levels are not merged past this many ids: the largest copy one seal makes.
#[cfg(not(test))]
pub(crate) const MERGE_MAX: usize = 1 << 22;
#[cfg(test)]
pub(crate) const MERGE_MAX: usize = 1024;

/// Spent work ids (see the module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct SpentSet {
    frozen: Vec<Arc<HashSet<WorkId>>>,
    recent: HashSet<WorkId>,
    len: usize,
}

impl SpentSet {
    /// A set holding `ids`, frozen as one level.
    pub(crate) fn from_set(ids: HashSet<WorkId>) -> Self {
        let len = ids.len();
        let mut s = Self {
            frozen: Vec::new(),
            recent: HashSet::new(),
            len,
        };
        if len > 0 {
            s.frozen.push(Arc::new(ids));
        }
        s
    }

    /// Whether `id` is spent.
    pub(crate) fn contains(&self, id: &WorkId) -> bool {
        // Recent ids first: a replay is most likely of a proof seen lately.
        self.recent.contains(id) || self.frozen.iter().rev().any(|level| level.contains(id))
    }

    /// Adds `id`; false if it was already spent.
    pub(crate) fn insert(&mut self, id: WorkId) -> bool {
        if self.frozen.iter().any(|level| level.contains(&id)) || !self.recent.insert(id) {
            return false;
        }
        self.len = self.len.saturating_add(1);
        true
    }

    /// Removes `id`, which must have been inserted since the last [`SpentSet::seal`] (a block
    /// being rolled back). An id in a frozen level is left alone: it belongs to an earlier block.
    pub(crate) fn forget(&mut self, id: &WorkId) {
        if self.recent.remove(id) {
            self.len = self.len.saturating_sub(1);
        }
    }

    /// Number of spent ids.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of levels, `recent` included.
    #[cfg(test)]
    pub(crate) fn levels(&self) -> usize {
        self.frozen.len().saturating_add(1)
    }

    /// Between blocks: freezes `recent` once it holds [`RECENT_MAX`] ids, then merges each level
    /// into the one above it while that one is less than twice its size (and the result stays
    /// within [`MERGE_MAX`]).
    pub(crate) fn seal(&mut self) {
        if self.recent.len() < RECENT_MAX {
            return;
        }
        self.frozen.push(Arc::new(std::mem::take(&mut self.recent)));
        while let [.., upper, lower] = self.frozen.as_slice() {
            let merged_len = upper.len().saturating_add(lower.len());
            if upper.len() >= lower.len().saturating_mul(2) || merged_len > MERGE_MAX {
                break;
            }
            let mut merged = HashSet::with_capacity(merged_len);
            merged.extend(upper.iter().copied());
            merged.extend(lower.iter().copied());
            self.frozen.truncate(self.frozen.len().saturating_sub(2));
            self.frozen.push(Arc::new(merged));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u64) -> WorkId {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&n.to_be_bytes());
        WorkId(b)
    }

    /// Levels shrink by at least half from the largest down, so their number is logarithmic.
    fn assert_shape(s: &SpentSet) {
        for pair in s.frozen.windows(2) {
            if let [upper, lower] = pair {
                assert!(
                    upper.len() >= lower.len() * 2 || upper.len() + lower.len() > MERGE_MAX,
                    "levels {} then {}",
                    upper.len(),
                    lower.len()
                );
            }
        }
        let total: usize = s.frozen.iter().map(|l| l.len()).sum::<usize>() + s.recent.len();
        assert_eq!(total, s.len());
    }

    #[test]
    fn a_copy_shares_the_frozen_levels_and_diverges_after() {
        let mut a = SpentSet::default();
        for n in 0..(RECENT_MAX as u64 * 5) {
            assert!(a.insert(id(n)));
            if n % 10 == 9 {
                a.seal();
            }
        }
        a.seal();
        assert_shape(&a);
        assert!(a.levels() > 1 && a.levels() <= 4, "{} levels", a.levels());
        let mut b = a.clone();
        for (x, y) in a.frozen.iter().zip(&b.frozen) {
            assert!(Arc::ptr_eq(x, y), "frozen levels are shared, not copied");
        }
        assert!(b.insert(id(u64::MAX)));
        assert!(!a.contains(&id(u64::MAX)) && b.contains(&id(u64::MAX)));
        assert!(
            !b.insert(id(3)),
            "an id frozen before the copy is spent in both"
        );
        assert_eq!(b.len(), a.len() + 1);
    }

    #[test]
    fn from_set_freezes_one_level() {
        let s = SpentSet::from_set((0..10).map(id).collect());
        assert_eq!((s.len(), s.levels()), (10, 2));
        assert!(s.contains(&id(9)) && !s.contains(&id(10)));
        assert_eq!(SpentSet::from_set(HashSet::new()).levels(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Spend this id (small range, so repeats happen).
        Insert(u16),
        /// End the block: forget what it spent or keep it, then seal.
        EndBlock { rollback: bool },
        /// Continue on a copy of the set (the original is dropped).
        Fork,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u16..4096).prop_map(Op::Insert),
            1 => any::<bool>().prop_map(|rollback| Op::EndBlock { rollback }),
            1 => Just(Op::Fork),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against a plain `HashSet`: the same answers to every insert and lookup, through
        /// rolled-back blocks, seals and copies.
        #[test]
        fn behaves_like_a_hash_set(ops in proptest::collection::vec(op(), 1..3000), base in 0u64..20_000) {
            // Start from a frozen level of `base` ids above the u16 range, as a loaded node does.
            let start: HashSet<WorkId> = (0..base).map(|n| id(n + 100_000)).collect();
            let mut set = SpentSet::from_set(start.clone());
            let mut model = start;
            let mut block: Vec<WorkId> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(n) => {
                        let w = id(u64::from(n));
                        let fresh = model.insert(w);
                        prop_assert_eq!(set.insert(w), fresh);
                        if fresh {
                            block.push(w);
                        }
                    }
                    Op::EndBlock { rollback } => {
                        if rollback {
                            for w in block.iter() {
                                set.forget(w);
                                model.remove(w);
                            }
                        }
                        block.clear();
                        set.seal();
                        assert_shape(&set);
                    }
                    Op::Fork => set = set.clone(),
                }
                prop_assert_eq!(set.len(), model.len());
            }
            for n in 0..4096u16 {
                let w = id(u64::from(n));
                prop_assert_eq!(set.contains(&w), model.contains(&w));
            }
        }
    }

    /// Sealing freezes only a full `recent`, and merges like a binary counter.
    #[test]
    fn seal_freezes_full_recents_and_merges() {
        let mut s = SpentSet::default();
        let mut n = 0u64;
        let mut fill = |s: &mut SpentSet, count: usize| {
            for _ in 0..count {
                assert!(s.insert(id(n)));
                n += 1;
            }
        };
        fill(&mut s, RECENT_MAX - 1);
        s.seal();
        assert_eq!(s.levels(), 1, "not full yet");
        fill(&mut s, 1);
        s.seal();
        assert_eq!(s.levels(), 2);
        fill(&mut s, RECENT_MAX);
        s.seal();
        // Two equal levels merge into one of twice the size.
        assert_eq!(
            s.frozen.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [2 * RECENT_MAX]
        );
        fill(&mut s, RECENT_MAX);
        s.seal();
        assert_eq!(
            s.frozen.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [2 * RECENT_MAX, RECENT_MAX]
        );
        assert_shape(&s);
    }
}
