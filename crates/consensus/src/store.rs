//! Marshal's archive of finalized blocks, kept in the node's redb store (docs/DESIGN-consensus.md,
//! sections 0 and 3).
//!
//! Marshal stores every finalized block before it hands the block to the application, serves
//! peers' backfill requests from that archive and dispatches from it after a restart. Its own
//! archive (a freezer journal) held a second copy of every block that the node then wrote into
//! redb, so every byte of the chain was written twice and kept twice. [`RedbBlocks`] implements
//! marshal's [`Blocks`] store over the node's [`Store`] instead:
//!
//! - `put` buffers; `sync` writes the buffered blocks in one durable redb transaction
//!   ([`Store::put_blocks`]), so marshal's rule "stored before delivered" holds across a crash;
//! - the node's commit of the block that follows finds its body by hash and writes only the
//!   receipts, index and state;
//! - `get` answers from the buffer, from the last few blocks written (marshal reads each one back
//!   to dispatch it; decoding megabytes again was the freezer's cost too), then from redb;
//! - which heights are held is an in-memory range map ([`RMap`]) built at start from the
//!   `block_hashes` table, which gives marshal its gaps to backfill.
//!
//! Writes and reads are blocking redb calls inside marshal's task, as the node's commit already
//! is: they are short beside a block's execution, and marshal handles one message at a time.

use crate::block::{PoaiBlock, digest_of, hash_of};
use commonware_consensus::Heightable as _;
use commonware_consensus::marshal::store::Blocks;
use commonware_consensus::types::Height;
use commonware_cryptography::blake3::Digest;
use commonware_storage::archive::Identifier;
use commonware_storage::rmap::RMap;
use poai_node::node::Shared;
use poai_node::storage::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How many recently written blocks `get` answers from memory.
const RECENT: usize = 8;

/// A failure of the node's block store, as marshal sees it.
#[derive(Debug, thiserror::Error)]
#[error("block store: {0}")]
pub struct StoreError(String);

impl StoreError {
    fn of(e: anyhow::Error) -> Self {
        Self(format!("{e:#}"))
    }
}

/// Marshal's finalized-block archive over the node's redb store (module docs).
pub struct RedbBlocks {
    shared: Arc<Shared>,
    /// Put, not yet synced.
    pending: BTreeMap<u64, Arc<PoaiBlock>>,
    /// The last [`RECENT`] blocks synced.
    recent: BTreeMap<u64, Arc<PoaiBlock>>,
    /// Heights stored or buffered (a failed sync ends the store, as marshal's contract says).
    held: RMap,
}

impl RedbBlocks {
    /// Opens the archive over `shared`'s store: reads which heights it holds.
    pub fn open(shared: Arc<Shared>) -> anyhow::Result<Self> {
        let mut held = RMap::new();
        for h in shared.store.stored_heights()? {
            held.insert(h);
        }
        Ok(Self {
            shared,
            pending: BTreeMap::new(),
            recent: BTreeMap::new(),
            held,
        })
    }

    fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The block at `height` from the buffer, the recent blocks or redb.
    fn by_height(&self, height: u64) -> Result<Option<Arc<PoaiBlock>>, StoreError> {
        if let Some(b) = self
            .pending
            .get(&height)
            .or_else(|| self.recent.get(&height))
        {
            return Ok(Some(b.clone()));
        }
        if self.held.get(height).is_none() {
            // Not stored: no read of redb for the gaps marshal probes.
            return Ok(None);
        }
        let Some(bytes) = self.store().stored_block(height).map_err(StoreError::of)? else {
            return Ok(None);
        };
        let block = PoaiBlock::from_encoded(&bytes)
            .map_err(|e| StoreError(format!("stored block {height}: {e}")))?;
        Ok(Some(Arc::new(block)))
    }

    /// The block with hash `digest`, wherever it is.
    fn by_digest(&self, digest: &Digest) -> Result<Option<Arc<PoaiBlock>>, StoreError> {
        let hash = hash_of(digest);
        if let Some(b) = self
            .pending
            .values()
            .chain(self.recent.values())
            .find(|b| b.hash() == hash)
        {
            return Ok(Some(b.clone()));
        }
        match self
            .store()
            .stored_height_of(&hash)
            .map_err(StoreError::of)?
        {
            Some(h) => Ok(self.by_height(h)?.filter(|b| b.hash() == hash)),
            None => Ok(None),
        }
    }

    fn write_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.store()
            .put_blocks(self.pending.values().map(|b| b.block()))
            .map_err(StoreError::of)?;
        self.recent.append(&mut self.pending);
        while self.recent.len() > RECENT {
            self.recent.pop_first();
        }
        Ok(())
    }
}

impl Blocks for RedbBlocks {
    type Block = Arc<PoaiBlock>;
    type Error = StoreError;

    async fn put(mut self, digest: Digest, block: &Self::Block) -> Result<Self, Self::Error> {
        // Marshal passes the digest it established; ours is the block hash, computed on decode.
        if digest != digest_of(block.hash()) {
            return Err(StoreError(format!(
                "block {} put under digest {digest}, not its hash",
                block.hash()
            )));
        }
        let height = block.height().get();
        if self.held.get(height).is_none() {
            self.pending.insert(height, block.clone());
            self.held.insert(height);
        }
        Ok(self)
    }

    async fn sync(mut self) -> Result<Self, Self::Error> {
        self.write_pending()?;
        Ok(self)
    }

    async fn get(&self, id: Identifier<'_, Digest>) -> Result<Option<Self::Block>, Self::Error> {
        match id {
            Identifier::Index(h) => self.by_height(h),
            Identifier::Key(d) => self.by_digest(d),
        }
    }

    async fn prune(self, _: Height) -> Result<Self, Self::Error> {
        // The node keeps every block (its RPC serves them); pruning is allowed to keep more.
        Ok(self)
    }

    fn missing_items(&self, start: Height, max: usize) -> Vec<Height> {
        self.held
            .missing_items(start.get(), max)
            .into_iter()
            .map(Height::new)
            .collect()
    }

    fn next_gap(&self, value: Height) -> (Option<Height>, Option<Height>) {
        let (end, next) = self.held.next_gap(value.get());
        (end.map(Height::new), next.map(Height::new))
    }

    fn last_index(&self) -> Option<Height> {
        self.held.last_index().map(Height::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::empty_blocks;
    use futures::executor::block_on;
    use poai_chain::Machine;
    use poai_node::NodeConfig;
    use poai_node::devnet::devnet_genesis;

    /// Empty blocks 1..=n on top of `shared`'s genesis, not committed.
    fn blocks(shared: &Shared, n: u64) -> Vec<Arc<PoaiBlock>> {
        empty_blocks(shared, n)
            .0
            .into_iter()
            .map(Arc::new)
            .collect()
    }

    fn put(store: RedbBlocks, b: &Arc<PoaiBlock>) -> RedbBlocks {
        block_on(store.put(digest_of(b.hash()), b)).unwrap()
    }

    /// Marshal's view of the archive: heights held, gaps, lookups by height and digest,
    /// before and after `sync`, and again after reopening, with nothing above the tip visible
    /// to the node's own readers.
    #[test]
    fn finalized_blocks_round_trip_through_redb() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = NodeConfig::new(devnet_genesis(1_700_000_000, 60), dir.path().to_path_buf());
        let shared = Shared::open(&cfg, Machine::new()).unwrap();
        let bs = blocks(&shared, 5);
        let mut store = RedbBlocks::open(shared.clone()).unwrap();
        assert_eq!(store.last_index(), Some(Height::new(0)), "genesis");
        // Blocks 1, 2 and 4 finalized (3 still to backfill).
        for i in [0, 1, 3] {
            store = put(store, &bs[i]);
        }
        // A digest that is not the block's hash is refused.
        let wrong = block_on(store.put(digest_of(bs[4].hash()), &bs[2]));
        assert!(wrong.is_err());
        let mut store = RedbBlocks::open(shared.clone()).unwrap();
        for i in [0, 1, 3] {
            store = put(store, &bs[i]);
        }
        let got = block_on(store.get(Identifier::Index(2))).unwrap().unwrap();
        assert_eq!(got.hash(), bs[1].hash(), "buffered, before sync");
        let store = block_on(store.sync()).unwrap();
        assert_eq!(
            store.missing_items(Height::new(1), 10),
            vec![Height::new(3)]
        );
        assert_eq!(
            store.next_gap(Height::new(1)),
            (Some(Height::new(2)), Some(Height::new(4)))
        );
        assert_eq!(store.last_index(), Some(Height::new(4)));
        drop(store);

        let store = RedbBlocks::open(shared.clone()).unwrap();
        assert_eq!(
            store.missing_items(Height::new(0), 10),
            vec![Height::new(3)]
        );
        for i in [0, 1, 3] {
            let by_height = block_on(store.get(Identifier::Index(i as u64 + 1)))
                .unwrap()
                .unwrap();
            assert_eq!(by_height.block(), bs[i].block());
            let d = digest_of(bs[i].hash());
            let by_key = block_on(store.get(Identifier::Key(&d))).unwrap().unwrap();
            assert_eq!(by_key.hash(), bs[i].hash());
        }
        assert!(block_on(store.get(Identifier::Index(3))).unwrap().is_none());
        let d = digest_of(bs[2].hash());
        assert!(block_on(store.get(Identifier::Key(&d))).unwrap().is_none());
        // Stored, not committed: the node's readers do not see them.
        assert_eq!(shared.store.block(1).unwrap(), None);
        assert_eq!(shared.store.tip().unwrap(), 0);
    }
}
