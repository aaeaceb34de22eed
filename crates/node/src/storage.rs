//! Block and state storage in redb.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `"genesis"`, `"meta"`, `"tip"`, `"bodies_end"`, `"format"` | genesis JSON; the state tables' head, ledger, spent-set hash chain; height of the last committed block; end of the indexed bodies; `FORMAT` |
//! | `block_at` | height u64 | where the block's body is in `chain.blocks` (`storage/bodies.rs`) |
//! | `block_hashes` | block hash | height u64 |
//! | `receipts` | height u64 | encoded receipts |
//! | `tx_index` | tx hash | height u64 ‖ index u32 |
//! | `accounts` | address | encoded account |
//! | `devices` | device id | device without its key ([`Device::encode_without_key`]) |
//! | `device_keys` | device id | its ML-DSA key ([`Device::encode_key`]), written when it changes |
//! | `spent` | work id | height u64 |
//! | `ai` | table prefix ‖ key | AI VM row ([`poai_chain::ai::AiState`]) |
//! | `validators` | consensus key 32 | validator row ([`poai_chain::Validator::encode`]) |
//!
//! Block bodies go to an append-only file beside the database (`storage/bodies.rs`): written and
//! synced first, then indexed. Every committed block's body index, receipts and the new tip are
//! written in one durable write transaction (redb's commit is atomic and fsyncs by default). The
//! state tables (`accounts`, `devices`, `spent`, `ai`, `validators`), the transaction index and the
//! state head `"meta"` are written every [`STATE_FLUSH_BLOCKS`] blocks and when the store is
//! dropped; in between, the store keeps the blocks' changes in memory (the transaction index
//! answers from there too). A proof touches random keys in three tables (its device, work id and
//! hash), so writing them per block rewrote a B-tree page per proof per table; batched, a page
//! changed by several blocks is written once. The write of 32 blocks' changes runs on a thread
//! of its own at a lower priority, in a transaction of its own, after the commit of the block
//! that filled the interval: in that block's commit it held up the block's finality by the
//! write's length (40-120 ms per validator at 5,000 proofs/s), and the next write waits for it.
//! On open, the blocks between the state head and the tip are executed again
//! ([`Store::load_state`]), so a crash loses nothing committed (docs/DESIGN-chain.md,
//! "Storage"). The whole state lives in memory.
//!
//! With consensus, this store is also marshal's archive of finalized blocks
//! (`poai_consensus::store`): marshal stores a finalized block ([`Store::put_blocks`]) before the
//! node executes it, so `block_at` may name bodies above the committed head. The commit that
//! follows finds the body by its hash and writes only the rest; each block is stored once.
//! [`Store::block`] answers up to the committed head only, so readers never see a block whose
//! receipts and state are not written yet.

use anyhow::{Context, Result, bail};
use poai_chain::block::{decode_receipts, encode_receipts};
use poai_chain::state::{Changes, Meta};
use poai_chain::{
    Account, Block, Device, Genesis, Hash32, Machine, Receipt, State, Validator, genesis_block,
};
use poai_primitives::{Address, DeviceId, WorkId};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::node::lock;

mod bodies;
use bodies::{Appender, Bodies, Loc};

/// Blocks committed between two writes of the state tables and the transaction index (module
/// docs). A restart after a crash executes at most this many blocks again. 32 rather than 8:
/// at thousands of proofs a second nearly every page of those tables changes between two
/// flushes, so fewer flushes write each page fewer times (4 % less CPU per proof with four
/// validators, docs/PERFORMANCE.md); 32 full blocks re-execute in a second or two.
pub const STATE_FLUSH_BLOCKS: u64 = 32;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCK_AT: TableDefinition<u64, &[u8]> = TableDefinition::new("block_at");
/// Format 2 kept each body in this table; [`Store::open`] moves them to the body file.
const LEGACY_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const BLOCK_HASHES: TableDefinition<&[u8], u64> = TableDefinition::new("block_hashes");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tx_index");
const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
const DEVICES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("devices");
const DEVICE_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("device_keys");

/// `meta/"format"`: 3 since block bodies live in the body file ([`bodies`]; format 2 kept them
/// in redb's `blocks` table); 2 since device keys live in `device_keys` (format 1 kept the key
/// in each `devices` row, so every proof rewrote about 2 KB; a redb page held one device).
const FORMAT: u8 = 3;
const SPENT: TableDefinition<&[u8], u64> = TableDefinition::new("spent");
const AI: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ai");
const VALIDATORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("validators");

/// The node's database.
#[derive(Debug)]
pub struct Store {
    db: Arc<Database>,
    /// Block bodies (`chain.blocks` beside `chain.redb`).
    bodies: Bodies,
    deferred: Mutex<Deferred>,
    /// The key `device_keys` holds for each device (shared with the state: no copies).
    keys: Arc<Mutex<HashMap<DeviceId, poai_crypto::VerifyingKey>>>,
    /// The state write running on its own thread, if any ([`Store::commit_block`]).
    flushing: Mutex<Option<Flushing>>,
}

/// A write of the state tables on a thread of its own: what it writes (the transaction index
/// answers from it until it is done) and the thread.
#[derive(Debug)]
struct Flushing {
    deferred: Arc<Deferred>,
    thread: JoinHandle<Result<()>>,
}

/// State changes and index entries of the blocks committed since the state tables were last
/// written, merged (a later block's row replaces an earlier one's).
#[derive(Debug, Default)]
struct Deferred {
    accounts: BTreeMap<Address, Account>,
    devices: BTreeMap<DeviceId, Device>,
    spent: Vec<(WorkId, u64)>,
    ai: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    validators: BTreeMap<[u8; 32], Option<Validator>>,
    index: HashMap<Hash32, (u64, u32)>,
    /// The state head after the last block merged.
    meta: Option<Meta>,
    blocks: u64,
    /// A commit failed after its block was merged: memory and disk may disagree, so the store
    /// takes no more commits (reopening executes the committed blocks again).
    poisoned: bool,
}

impl Deferred {
    fn absorb(&mut self, height: u64, receipts: &[Receipt], changes: &Changes, meta: &Meta) {
        for (i, r) in receipts.iter().enumerate() {
            self.index
                .insert(r.tx_hash, (height, u32::try_from(i).unwrap_or(u32::MAX)));
        }
        for (a, acct) in &changes.accounts {
            self.accounts.insert(*a, *acct);
        }
        for (id, d) in &changes.devices {
            self.devices.insert(*id, d.clone());
        }
        self.spent
            .extend(changes.spent.iter().map(|id| (*id, height)));
        for (k, v) in &changes.ai {
            self.ai.insert(k.clone(), v.clone());
        }
        for (k, v) in &changes.validators {
            self.validators.insert(*k, v.clone());
        }
        self.meta = Some(*meta);
        self.blocks = self.blocks.saturating_add(1);
    }

    /// Writes everything merged into `wtx` (keys in order: fewer pages touched in between);
    /// `keys` (what `device_keys` holds) gains the device keys written.
    fn write(
        &self,
        wtx: &redb::WriteTransaction,
        keys: &mut HashMap<DeviceId, poai_crypto::VerifyingKey>,
    ) -> Result<()> {
        {
            let mut entries: Vec<_> = self.index.iter().collect();
            entries.sort_unstable_by_key(|(h, _)| h.0);
            let mut idx = wtx.open_table(TX_INDEX)?;
            for (hash, (height, i)) in entries {
                let mut v = [0u8; 12];
                v[..8].copy_from_slice(&height.to_be_bytes());
                v[8..].copy_from_slice(&i.to_be_bytes());
                idx.insert(hash.0.as_slice(), v.as_slice())?;
            }
        }
        {
            let mut t = wtx.open_table(ACCOUNTS)?;
            for (a, acct) in &self.accounts {
                t.insert(a.0.as_slice(), acct.encode().as_slice())?;
            }
        }
        {
            let mut t = wtx.open_table(DEVICES)?;
            let mut k = wtx.open_table(DEVICE_KEYS)?;
            for (id, d) in &self.devices {
                t.insert(id.0.as_slice(), d.encode_without_key().as_slice())?;
                // Equal keys are usually one shared allocation, which `==` checks first.
                if keys.get(id) != Some(&d.key) {
                    k.insert(id.0.as_slice(), Device::encode_key(&d.key).as_slice())?;
                    keys.insert(*id, d.key.clone());
                }
            }
        }
        {
            let mut spent: Vec<_> = self.spent.iter().collect();
            spent.sort_unstable_by_key(|(id, _)| id.0);
            let mut t = wtx.open_table(SPENT)?;
            for (id, height) in spent {
                t.insert(id.0.as_slice(), *height)?;
            }
        }
        {
            let mut t = wtx.open_table(AI)?;
            for (k, v) in &self.ai {
                put_or_remove(&mut t, k, v.as_deref())?;
            }
        }
        {
            let mut t = wtx.open_table(VALIDATORS)?;
            for (k, v) in &self.validators {
                put_or_remove(&mut t, k, v.as_ref().map(Validator::encode).as_deref())?;
            }
        }
        if let Some(meta) = &self.meta {
            wtx.open_table(META)?
                .insert("meta", meta.encode().as_slice())?;
        }
        Ok(())
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, with the block bodies in the file beside it
    /// (`path` with the extension `blocks`). A store of an earlier format is converted.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Arc::new(
            Database::create(path).with_context(|| format!("opening {}", path.display()))?,
        );
        let (format, bodies_end) = {
            let rtx = db.begin_read()?;
            match rtx.open_table(META) {
                Ok(meta) => {
                    let format = match meta.get("format")? {
                        Some(v) => Some(*v.value().first().context("stored format is empty")?),
                        None => None,
                    };
                    (format, meta_u64(&meta, "bodies_end")?.unwrap_or(0))
                }
                Err(redb::TableError::TableDoesNotExist(_)) => (None, 0),
                Err(e) => return Err(e.into()),
            }
        };
        let bodies = Bodies::open(&path.with_extension("blocks"), bodies_end)?;
        let store = Self {
            db,
            bodies,
            deferred: Mutex::new(Deferred::default()),
            keys: Arc::new(Mutex::new(HashMap::new())),
            flushing: Mutex::new(None),
        };
        store.index_block_hashes()?;
        store.upgrade(format)?;
        Ok(store)
    }

    /// Converts a store of an earlier format (none recorded: format 1, or a new store) and
    /// records [`FORMAT`], in one transaction; writes nothing for a store of this format.
    fn upgrade(&self, format: Option<u8>) -> Result<()> {
        let format = format.unwrap_or(1);
        if format == FORMAT {
            return Ok(());
        }
        if format > FORMAT {
            bail!(
                "the database is of format {format}, newer than this node's {FORMAT}: run a newer poai"
            );
        }
        let mut app = self.bodies.appender();
        let wtx = self.db.begin_write()?;
        if format < 2 {
            split_device_keys(&wtx)?;
        }
        if format < 3 {
            move_bodies(&wtx, &mut app)?;
        }
        wtx.open_table(META)?
            .insert("format", [FORMAT].as_slice())?;
        index_bodies(&wtx, &app)?;
        wtx.commit()?;
        app.commit();
        Ok(())
    }

    /// Builds the `block_hashes` table for a store written before it existed (every block is
    /// read once; such a store keeps its bodies in redb, format 2 or older); a no-op when the
    /// table exists.
    fn index_block_hashes(&self) -> Result<()> {
        let rtx = self.db.begin_read()?;
        match rtx.open_table(BLOCK_HASHES) {
            Ok(_) => return Ok(()),
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let blocks = match rtx.open_table(LEGACY_BLOCKS) {
            Ok(t) => t,
            // A new store: the table is created with the genesis block.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let wtx = self.db.begin_write()?;
        {
            let mut hashes = wtx.open_table(BLOCK_HASHES)?;
            for row in blocks.iter()? {
                let (k, v) = row?;
                let height = k.value();
                let block = Block::decode(v.value())
                    .map_err(|e| anyhow::anyhow!("stored block {height}: {e}"))?;
                hashes.insert(block.hash().0.as_slice(), height)?;
            }
        }
        wtx.commit()?;
        Ok(())
    }

    /// The stored genesis, if the database was initialised.
    pub fn genesis(&self) -> Result<Option<Genesis>> {
        let rtx = self.db.begin_read()?;
        let Ok(t) = rtx.open_table(META) else {
            return Ok(None);
        };
        match t.get("genesis")? {
            Some(v) => Ok(Some(
                serde_json::from_slice(v.value()).context("stored genesis is corrupt")?,
            )),
            None => Ok(None),
        }
    }

    /// Opens the chain: initialises it from `genesis` if the database is empty (refusing a
    /// different genesis if not), then loads the state at the last committed block
    /// ([`Store::load_state`], which executes blocks with `machine`).
    pub fn open_chain(&self, genesis: &Genesis, machine: &Machine) -> Result<State> {
        match self.genesis()? {
            Some(stored) if stored != *genesis => bail!(
                "the database holds chain {} with a different genesis; use another --data directory",
                stored.chain_id
            ),
            Some(_) => self.load_state(machine),
            None => {
                let mut state = State::from_genesis(genesis);
                let block = genesis_block(&mut state);
                let changes = state.take_changes();
                let mut d = Deferred::default();
                d.absorb(0, &[], &changes, &state.meta());
                let mut app = self.bodies.appender();
                let wtx = self.db.begin_write()?;
                {
                    let mut meta = wtx.open_table(META)?;
                    meta.insert("genesis", serde_json::to_vec(genesis)?.as_slice())?;
                }
                write_block(&wtx, &mut app, &block, &[])?;
                d.write(&wtx, &mut self.keys())?;
                wtx.commit()?;
                app.commit();
                Ok(state)
            }
        }
    }

    /// Loads the state at the last committed block: the state tables, then the blocks committed
    /// after they were last written, executed again with `machine` (their changes stay pending
    /// for the next write, as if they had just been committed).
    pub fn load_state(&self, machine: &Machine) -> Result<State> {
        let mut state = self.load_flushed()?;
        let tip = self.tip()?;
        let mut d = Deferred::default();
        let mut h = state.head().height;
        while h < tip {
            h = h.saturating_add(1);
            let bytes = self
                .stored_block(h)?
                .with_context(|| format!("committed block {h} is not stored"))?;
            let block =
                Block::decode(&bytes).map_err(|e| anyhow::anyhow!("stored block {h}: {e}"))?;
            let receipts = machine
                .execute_block(&mut state, &block)
                .map_err(|e| anyhow::anyhow!("executing committed block {h} again: {e}"))?;
            let changes = state.take_changes();
            d.absorb(h, &receipts, &changes, &state.meta());
        }
        *self.deferred() = d;
        Ok(state)
    }

    /// The height of the last committed block.
    pub fn tip(&self) -> Result<u64> {
        let rtx = self.db.begin_read()?;
        tip_of(&rtx)
    }

    fn keys(&self) -> MutexGuard<'_, HashMap<DeviceId, poai_crypto::VerifyingKey>> {
        lock(&self.keys)
    }

    fn flushing(&self) -> MutexGuard<'_, Option<Flushing>> {
        lock(&self.flushing)
    }

    /// Waits for the state write running on its own thread, if any: `Err` if it failed (the
    /// store takes no more commits then).
    fn finish_flush(&self, d: &mut Deferred) -> Result<()> {
        let Some(f) = self.flushing().take() else {
            return Ok(());
        };
        let done = f
            .thread
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the state writer thread panicked")));
        if done.is_err() {
            d.poisoned = true;
        }
        done.context("writing the state tables")
    }

    /// Joins the state write running on its own thread if it has ended: `Err` if it failed.
    fn flush_ended(&self, d: &mut Deferred) -> Result<()> {
        if self
            .flushing()
            .as_ref()
            .is_some_and(|f| f.thread.is_finished())
        {
            self.finish_flush(d)?;
        }
        Ok(())
    }

    /// Writes `d`'s merged changes on a thread of its own, at the admission threads' lower
    /// priority: the block that fills the interval is committed at once, and its proofs are
    /// final on RPC without waiting for the tables (module docs).
    fn flush_behind(&self, d: Deferred) -> Result<()> {
        let deferred = Arc::new(d);
        let (db, keys, snapshot) = (self.db.clone(), self.keys.clone(), deferred.clone());
        let thread = std::thread::Builder::new()
            .name("poai-state-write".into())
            .spawn(move || {
                crate::os::background_priority();
                let wtx = db.begin_write()?;
                snapshot.write(&wtx, &mut lock(&keys))?;
                wtx.commit()?;
                Ok(())
            })
            .context("starting the state writer thread")?;
        *self.flushing() = Some(Flushing { deferred, thread });
        Ok(())
    }

    fn deferred(&self) -> MutexGuard<'_, Deferred> {
        lock(&self.deferred)
    }

    /// Writes the state changes and index entries kept in memory (module docs); dropping the
    /// store does this too.
    pub fn flush(&self) -> Result<()> {
        let mut d = self.deferred();
        self.finish_flush(&mut d)?;
        if d.blocks == 0 || d.poisoned {
            return Ok(());
        }
        let wtx = self.db.begin_write()?;
        d.write(&wtx, &mut self.keys())?;
        wtx.commit()?;
        *d = Deferred::default();
        Ok(())
    }

    /// The state as the state tables hold it (at the head `"meta"` names, which may be below
    /// the tip).
    fn load_flushed(&self) -> Result<State> {
        let genesis = self.genesis()?.context("database has no genesis")?;
        let rtx = self.db.begin_read()?;
        let meta = Meta::decode(
            rtx.open_table(META)?
                .get("meta")?
                .context("database has no head")?
                .value(),
        )
        .map_err(|e| anyhow::anyhow!("stored head: {e}"))?;
        let mut accounts = BTreeMap::new();
        for row in rtx.open_table(ACCOUNTS)?.iter()? {
            let (k, v) = row?;
            let a = Address::from_slice(k.value()).context("stored account key")?;
            let acct =
                Account::decode(v.value()).map_err(|e| anyhow::anyhow!("account {a}: {e}"))?;
            accounts.insert(a, acct);
        }
        let mut devices = BTreeMap::new();
        let mut keys = HashMap::new();
        let key_table = rtx.open_table(DEVICE_KEYS)?;
        for row in rtx.open_table(DEVICES)?.iter()? {
            let (k, v) = row?;
            let id = DeviceId::from_slice(k.value()).context("stored device key")?;
            let key = key_table
                .get(k.value())?
                .with_context(|| format!("device {id} has no stored key"))?;
            let key = Device::decode_key(key.value())
                .map_err(|e| anyhow::anyhow!("key of device {id}: {e}"))?;
            let d = Device::decode_with_key(v.value(), key.clone())
                .map_err(|e| anyhow::anyhow!("device {id}: {e}"))?;
            keys.insert(id, key);
            devices.insert(id, d);
        }
        *self.keys() = keys;
        let spent_table = rtx.open_table(SPENT)?;
        let mut spent = HashSet::with_capacity(usize::try_from(spent_table.len()?).unwrap_or(0));
        for row in spent_table.iter()? {
            let (k, _) = row?;
            spent.insert(WorkId::from_slice(k.value()).context("stored work id")?);
        }
        let mut rows = Vec::new();
        for row in rtx.open_table(AI)?.iter()? {
            let (k, v) = row?;
            rows.push((k.value().to_vec(), v.value().to_vec()));
        }
        let ai =
            poai_chain::ai::AiState::load(rows.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
                .map_err(|e| anyhow::anyhow!("stored AI VM state: {e}"))?;
        let mut validators = BTreeMap::new();
        // A store written before the table existed has none: no validators.
        match rtx.open_table(VALIDATORS) {
            Ok(t) => {
                for row in t.iter()? {
                    let (k, v) = row?;
                    let key = <[u8; 32]>::try_from(k.value())
                        .map_err(|_| anyhow::anyhow!("stored validator key is not 32 bytes"))?;
                    let val = Validator::decode(v.value())
                        .map_err(|e| anyhow::anyhow!("validator {}: {e}", hex::encode(key)))?;
                    validators.insert(key, val);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(State::from_parts(
            genesis, meta, accounts, devices, spent, ai, validators,
        ))
    }

    /// Commits a block, its receipts and the state changes it made, atomically. The body is
    /// written unless [`Store::put_blocks`] stored it already.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        changes: &Changes,
        meta: &Meta,
    ) -> Result<()> {
        let height = block.header.height;
        let mut d = self.deferred();
        self.flush_ended(&mut d)?;
        if d.poisoned {
            bail!("an earlier commit failed; restart the node to recover from the stored blocks");
        }
        d.absorb(height, receipts, changes, meta);
        let written = (|| -> Result<()> {
            let mut app = self.bodies.appender();
            let wtx = self.db.begin_write()?;
            write_block(&wtx, &mut app, block, receipts)?;
            wtx.commit()?;
            app.commit();
            Ok(())
        })();
        if written.is_err() {
            d.poisoned = true;
            return written;
        }
        if d.blocks >= STATE_FLUSH_BLOCKS {
            // One write at a time: the last one ended 32 blocks ago, unless the disk is slow.
            self.finish_flush(&mut d)?;
            if let Err(e) = self.flush_behind(std::mem::take(&mut *d)) {
                // The changes went with the thread that did not start.
                d.poisoned = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Stores finalized blocks ahead of their execution: bodies synced to the body file, then
    /// indexed in one durable write transaction. A block whose hash is already stored is skipped
    /// (marshal delivers at least once). Two different finalized blocks at one height would be a
    /// fork, which the node's execution of the block reports; the later one is not checked for
    /// here.
    pub fn put_blocks<'a>(&self, blocks: impl IntoIterator<Item = &'a Block>) -> Result<()> {
        let mut blocks = blocks.into_iter().peekable();
        if blocks.peek().is_none() {
            return Ok(());
        }
        let mut app = self.bodies.appender();
        let wtx = self.db.begin_write()?;
        {
            let mut hashes = wtx.open_table(BLOCK_HASHES)?;
            let mut at = wtx.open_table(BLOCK_AT)?;
            for block in blocks {
                put_body(&mut hashes, &mut at, &mut app, block)?;
            }
        }
        index_bodies(&wtx, &app)?;
        wtx.commit()?;
        app.commit();
        Ok(())
    }

    /// The encoding of the stored block at `height`, committed or only stored
    /// ([`Store::put_blocks`]).
    pub fn stored_block(&self, height: u64) -> Result<Option<Vec<u8>>> {
        let rtx = self.db.begin_read()?;
        self.body(&rtx, height)
    }

    /// The body at `height` as `rtx` indexes it.
    fn body(&self, rtx: &redb::ReadTransaction, height: u64) -> Result<Option<Vec<u8>>> {
        let t = rtx.open_table(BLOCK_AT)?;
        let Some(v) = t.get(height)? else {
            return Ok(None);
        };
        let loc = Loc::decode(v.value())
            .with_context(|| format!("the stored location of block {height} is corrupt"))?;
        self.bodies.read(height, loc).map(Some)
    }

    /// The height of the stored block with hash `hash`, committed or only stored.
    pub fn stored_height_of(&self, hash: &Hash32) -> Result<Option<u64>> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(BLOCK_HASHES)?;
        Ok(t.get(hash.0.as_slice())?.map(|v| v.value()))
    }

    /// The heights of every stored block, committed or only stored, in no particular order.
    pub fn stored_heights(&self) -> Result<Vec<u64>> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(BLOCK_HASHES)?;
        let mut out = Vec::with_capacity(usize::try_from(t.len()?).unwrap_or(0));
        for row in t.iter()? {
            out.push(row?.1.value());
        }
        Ok(out)
    }

    /// The committed block at `height` (none above the last committed block, even where the
    /// body is already stored).
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        let rtx = self.db.begin_read()?;
        if height > tip_of(&rtx)? {
            return Ok(None);
        }
        match self.body(&rtx, height)? {
            Some(bytes) => {
                Ok(Some(Block::decode(&bytes).map_err(|e| {
                    anyhow::anyhow!("stored block {height}: {e}")
                })?))
            }
            None => Ok(None),
        }
    }

    /// The receipts of the block at `height`.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(RECEIPTS)?;
        match t.get(height)? {
            Some(v) => {
                Ok(Some(decode_receipts(v.value()).map_err(|e| {
                    anyhow::anyhow!("stored receipts {height}: {e}")
                })?))
            }
            None => Ok(None),
        }
    }

    /// Where a transaction was included: (height, index).
    pub fn tx_location(&self, hash: &Hash32) -> Result<Option<(u64, u32)>> {
        if let Some(at) = self.deferred().index.get(hash) {
            return Ok(Some(*at));
        }
        // Written by the state writer, or about to be: it answers until it is joined.
        if let Some(at) = self
            .flushing()
            .as_ref()
            .and_then(|f| f.deferred.index.get(hash).copied())
        {
            return Ok(Some(at));
        }
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(TX_INDEX)?;
        let Some(v) = t.get(hash.0.as_slice())? else {
            return Ok(None);
        };
        let v = v.value();
        let h = v.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok());
        let i = v.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok());
        match (h, i) {
            (Some(h), Some(i)) => Ok(Some((u64::from_be_bytes(h), u32::from_be_bytes(i)))),
            _ => bail!("stored tx index entry for {hash} is corrupt"),
        }
    }

    /// Re-executes every stored block from genesis and returns the final state, checking each
    /// block's hash chain and state root on the way (SPEC: replay gives the same root).
    pub fn replay(&self, machine: &Machine) -> Result<State> {
        let genesis = self.genesis()?.context("database has no genesis")?;
        let mut state = State::from_genesis(&genesis);
        let g = genesis_block(&mut state);
        state.take_changes();
        let stored_g = self.block(0)?.context("no genesis block")?;
        if stored_g != g {
            bail!("stored genesis block differs from the genesis file's");
        }
        let mut h = 1u64;
        while let Some(block) = self.block(h)? {
            machine
                .execute_block(&mut state, &block)
                .map_err(|e| anyhow::anyhow!("replaying block {h}: {e}"))?;
            state.take_changes();
            h = h.saturating_add(1);
        }
        Ok(state)
    }
}

/// Writes a block's body (unless [`Store::put_blocks`] stored it already) through `app`, and
/// into `wtx` its index, receipts and the new tip.
fn write_block(
    wtx: &redb::WriteTransaction,
    app: &mut Appender<'_>,
    block: &Block,
    receipts: &[Receipt],
) -> Result<()> {
    let height = block.header.height;
    put_body(
        &mut wtx.open_table(BLOCK_HASHES)?,
        &mut wtx.open_table(BLOCK_AT)?,
        app,
        block,
    )?;
    index_bodies(wtx, app)?;
    wtx.open_table(RECEIPTS)?
        .insert(height, encode_receipts(receipts).as_slice())?;
    wtx.open_table(META)?
        .insert("tip", height.to_be_bytes().as_slice())?;
    Ok(())
}

/// Appends `block`'s body and records where it is and its hash's height, unless a block with
/// its hash is stored.
fn put_body(
    hashes: &mut redb::Table<'_, &'static [u8], u64>,
    at: &mut redb::Table<'_, u64, &'static [u8]>,
    app: &mut Appender<'_>,
    block: &Block,
) -> Result<()> {
    let (height, hash) = (block.header.height, block.hash());
    if hashes.get(hash.0.as_slice())?.is_some() {
        return Ok(());
    }
    let loc = app.append(block)?;
    at.insert(height, loc.encode().as_slice())?;
    hashes.insert(hash.0.as_slice(), height)?;
    Ok(())
}

/// Makes the bodies `app` appended durable and moves `meta/"bodies_end"` past them in `wtx`
/// (nothing when it appended none). Called before `wtx` commits: the index never names a body
/// that is not on disk.
fn index_bodies(wtx: &redb::WriteTransaction, app: &Appender<'_>) -> Result<()> {
    if app.appended() {
        app.sync()?;
        wtx.open_table(META)?
            .insert("bodies_end", app.next().to_be_bytes().as_slice())?;
    }
    Ok(())
}

/// Format 1 to 2: moves device keys out of the `devices` rows (every row is rewritten once).
fn split_device_keys(wtx: &redb::WriteTransaction) -> Result<()> {
    let mut devices = wtx.open_table(DEVICES)?;
    let mut keys = wtx.open_table(DEVICE_KEYS)?;
    let mut rows = Vec::new();
    for row in devices.iter()? {
        let (k, v) = row?;
        let id = DeviceId::from_slice(k.value()).context("stored device key")?;
        let d = Device::decode(v.value())
            .map_err(|e| anyhow::anyhow!("device {id} (format 1): {e}"))?;
        rows.push((id, d));
    }
    for (id, d) in rows {
        devices.insert(id.0.as_slice(), d.encode_without_key().as_slice())?;
        keys.insert(id.0.as_slice(), Device::encode_key(&d.key).as_slice())?;
    }
    Ok(())
}

/// Format 2 to 3: moves the bodies from redb's `blocks` table to the body file, in height
/// order, and drops the table.
fn move_bodies(wtx: &redb::WriteTransaction, app: &mut Appender<'_>) -> Result<()> {
    {
        let legacy = wtx.open_table(LEGACY_BLOCKS)?;
        let mut at = wtx.open_table(BLOCK_AT)?;
        for row in legacy.iter()? {
            let (k, v) = row?;
            let loc = app.append_encoded(v.value())?;
            at.insert(k.value(), loc.encode().as_slice())?;
        }
    }
    wtx.delete_table(LEGACY_BLOCKS)?;
    Ok(())
}

/// Writes `value` under `key`, or removes `key` where the change deleted the row.
fn put_or_remove(
    t: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<()> {
    match value {
        Some(v) => {
            t.insert(key, v)?;
        }
        None => {
            t.remove(key)?;
        }
    }
    Ok(())
}

/// A u64 under `key` in the `meta` table.
fn meta_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<u64>> {
    match meta.get(key)? {
        Some(v) => Ok(Some(u64::from_be_bytes(
            <[u8; 8]>::try_from(v.value())
                .map_err(|_| anyhow::anyhow!("stored {key} is corrupt"))?,
        ))),
        None => Ok(None),
    }
}

/// The last committed block's height: `"tip"`, or for a store written before it existed, the
/// state head.
fn tip_of(rtx: &redb::ReadTransaction) -> Result<u64> {
    let meta = rtx.open_table(META)?;
    if let Some(tip) = meta_u64(&meta, "tip")? {
        return Ok(tip);
    }
    match meta.get("meta")? {
        Some(v) => Ok(Meta::decode(v.value())
            .map_err(|e| anyhow::anyhow!("stored head: {e}"))?
            .head
            .height),
        None => bail!("database has no head"),
    }
}

#[cfg(test)]
impl Store {
    /// What a crash does to the memory of a store: the changes not yet written are gone (a
    /// state write already running is let finish: a crash after it).
    fn forget_pending(&self) {
        let mut d = self.deferred();
        let _ = self.finish_flush(&mut d);
        *d = Deferred::default();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            eprintln!(
                "poai node: writing the state tables on close failed: {e:#} (the next start executes the committed blocks again)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poai_chain::genesis::{ConsensusGenesis, GenesisAccount, GenesisValidator};
    use poai_chain::validator::{consensus_public_key, sign_pop};
    use poai_chain::{
        BlockContext, Call, SignedTx, Transaction, TxBody, ValidatorCall, address_of,
    };
    use poai_crypto::{ParamSet, SigningKey};
    use poai_primitives::ChainId;

    /// A test chain with one funded account, `me`.
    fn genesis(chain_id: u64, me: Address, consensus: Option<ConsensusGenesis>) -> Genesis {
        Genesis {
            chain_id: ChainId(chain_id),
            genesis_time: 1_800_000_000,
            emission_genesis_height: 1,
            allow_dev_evidence: true,
            dev_block_time_step: Some(60),
            min_fee: 0,
            max_block_txs: 100,
            lp_address: Address([1; 20]),
            treasury: Address([2; 20]),
            accounts: vec![GenesisAccount {
                address: me,
                balance: 1_000_000,
            }],
            ai: Default::default(),
            consensus,
        }
    }

    /// A chain whose blocks bond one validator, add to it and unbond a genesis one commits,
    /// reopens and replays to the same state root and validator table.
    #[test]
    fn validators_persist_and_reopen_with_the_same_root() {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[5; 32]).unwrap();
        let me = address_of(key.verifying_key());
        let g = genesis(
            31,
            me,
            Some(ConsensusGenesis {
                epoch_length: 2,
                min_validator_stake: 10,
                max_validators: 10,
                unbonding_epochs: 5,
                validators: vec![GenesisValidator {
                    consensus_key: consensus_public_key(&[7; 32]),
                    address: me,
                    stake: 50,
                    net_addr: None,
                }],
            }),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let machine = Machine::new();
        let seed = [8u8; 32];
        let calls = [
            ValidatorCall::Bond {
                consensus_key: consensus_public_key(&seed),
                stake: 400,
                net_addr: Some("127.0.0.1:30301".into()),
                pop: sign_pop(&seed, g.chain_id, &me),
            },
            ValidatorCall::AddStake {
                consensus_key: consensus_public_key(&seed),
                amount: 5,
            },
            ValidatorCall::Unbond {
                consensus_key: consensus_public_key(&[7; 32]),
            },
        ];
        let state = {
            let store = Store::open(&path).unwrap();
            let mut state = store.open_chain(&g, &machine).unwrap();
            for (nonce, call) in calls.into_iter().enumerate() {
                let body = TxBody {
                    chain_id: g.chain_id,
                    nonce: u64::try_from(nonce).unwrap(),
                    fee: 0,
                    call: Call::Validator(call),
                };
                let tx = Transaction::Account(SignedTx::sign(body, &key).unwrap());
                let prepared = machine.prepare(&state, vec![tx]);
                let ctx = BlockContext::next(&state, Machine::next_timestamp(&state, 0), me);
                let p = machine.propose(&mut state, ctx, &prepared);
                assert!(p.rejected.is_empty(), "{:?}", p.rejected);
                let changes = state.take_changes();
                store
                    .commit_block(&p.block, &p.receipts, &changes, &state.meta())
                    .unwrap();
            }
            state
        };
        assert_eq!(state.validators().count(), 2);
        assert_eq!(
            state.validator_set().len(),
            1,
            "the genesis one is unbonding"
        );
        let store = Store::open(&path).unwrap();
        let loaded = store.load_state(&machine).unwrap();
        assert_eq!(loaded.root(), state.root());
        assert_eq!(
            loaded.validators().collect::<Vec<_>>(),
            state.validators().collect::<Vec<_>>()
        );
        assert_eq!(loaded.validator_set(), state.validator_set());
        let replayed = store.replay(&machine).unwrap();
        assert_eq!(replayed.root(), state.root());
    }

    /// A chain of `n` blocks, one transfer each, committed to a store at `path`; returns the
    /// state, the transfers' hashes and the blocks.
    fn transfers(path: &Path, n: u64, crash: bool) -> (Genesis, State, Vec<Hash32>, Vec<Block>) {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[9; 32]).unwrap();
        let me = address_of(key.verifying_key());
        let g = genesis(32, me, None);
        let machine = Machine::new();
        let store = Store::open(path).unwrap();
        let mut state = store.open_chain(&g, &machine).unwrap();
        let (mut hashes, mut blocks) = (Vec::new(), Vec::new());
        for nonce in 0..n {
            let body = TxBody {
                chain_id: g.chain_id,
                nonce,
                fee: 0,
                call: Call::Transfer {
                    to: Address([7; 20]),
                    amount: 1,
                },
            };
            let tx = Transaction::Account(SignedTx::sign(body, &key).unwrap());
            let prepared = machine.prepare(&state, vec![tx]);
            let ctx = BlockContext::next(&state, Machine::next_timestamp(&state, 0), me);
            let p = machine.propose(&mut state, ctx, &prepared);
            assert!(p.rejected.is_empty(), "{:?}", p.rejected);
            let changes = state.take_changes();
            store
                .commit_block(&p.block, &p.receipts, &changes, &state.meta())
                .unwrap();
            hashes.push(p.receipts[0].tx_hash);
            // Every committed transaction is found, written to the tables or not yet.
            assert_eq!(
                store.tx_location(&p.receipts[0].tx_hash).unwrap(),
                Some((p.block.header.height, 0))
            );
            assert_eq!(store.tip().unwrap(), p.block.header.height);
            blocks.push(p.block);
        }
        if crash {
            store.forget_pending();
        }
        (g, state, hashes, blocks)
    }

    /// A crash between two writes of the state tables loses nothing committed: reopening
    /// executes the blocks after the tables' head again, to the same state and index.
    #[test]
    fn crash_between_state_writes_recovers_every_committed_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let n = STATE_FLUSH_BLOCKS + 3;
        let (_, state, hashes, blocks) = transfers(&path, n, true);
        let machine = Machine::new();
        let store = Store::open(&path).unwrap();
        // The tables were written once, at block STATE_FLUSH_BLOCKS.
        assert_eq!(
            store.load_flushed().unwrap().head().height,
            STATE_FLUSH_BLOCKS
        );
        assert_eq!(store.tip().unwrap(), n);
        let loaded = store.load_state(&machine).unwrap();
        assert_eq!(loaded.head(), state.head());
        assert_eq!(loaded.root(), state.root());
        for (i, h) in hashes.iter().enumerate() {
            let height = u64::try_from(i).unwrap() + 1;
            assert_eq!(store.tx_location(h).unwrap(), Some((height, 0)), "tx {i}");
        }
        for b in &blocks {
            assert_eq!(store.block(b.header.height).unwrap().as_ref(), Some(b));
        }
        assert_eq!(store.replay(&machine).unwrap().root(), state.root());
        // Closing writes the tables: the next open has nothing to execute.
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_flushed().unwrap().root(), state.root());
    }

    /// The block that fills the interval is committed first and its state written behind it:
    /// the index answers meanwhile, the write lands at that block, and closing waits for it.
    #[test]
    fn state_tables_are_written_behind_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let src = dir.path().join("src.redb");
        let (g, _, _, blocks) = transfers(&src, STATE_FLUSH_BLOCKS, false);
        let machine = Machine::new();
        let store = Store::open(&path).unwrap();
        let mut s = store.open_chain(&g, &machine).unwrap();
        let mut hashes = Vec::new();
        for b in &blocks {
            assert!(store.flushing().is_none(), "no write before block 32");
            let receipts = machine.execute_block(&mut s, b).unwrap();
            let changes = s.take_changes();
            store
                .commit_block(b, &receipts, &changes, &s.meta())
                .unwrap();
            hashes.push(receipts[0].tx_hash);
        }
        // After block 32's commit the write is running, or done and not yet joined.
        assert!(store.flushing().is_some(), "written behind the commit");
        assert_eq!(store.tip().unwrap(), STATE_FLUSH_BLOCKS);
        for (i, h) in hashes.iter().enumerate() {
            let height = u64::try_from(i).unwrap() + 1;
            assert_eq!(store.tx_location(h).unwrap(), Some((height, 0)), "tx {i}");
        }
        store.flush().unwrap();
        assert!(store.flushing().is_none());
        let flushed = store.load_flushed().unwrap();
        assert_eq!(flushed.head().height, STATE_FLUSH_BLOCKS);
        assert_eq!(flushed.root(), s.root());
    }

    /// Marshal's blocks stored ahead of their commit: invisible to `block` until committed,
    /// stored once, and a crash in between leaves the store at its committed tip.
    #[test]
    fn blocks_stored_ahead_are_committed_without_a_second_body() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.redb");
        let (g, _, _, blocks) = transfers(&src, 3, false);
        let path = dir.path().join("chain.redb");
        let machine = Machine::new();
        let store = Store::open(&path).unwrap();
        let mut state = store.open_chain(&g, &machine).unwrap();
        let encoded: Vec<Vec<u8>> = blocks.iter().map(Block::encode).collect();
        store.put_blocks(&blocks).unwrap();
        store.put_blocks(&blocks).unwrap();
        let mut heights = store.stored_heights().unwrap();
        heights.sort_unstable();
        assert_eq!(heights, vec![0, 1, 2, 3]);
        assert_eq!(store.block(1).unwrap(), None, "above the tip");
        assert_eq!(store.stored_block(1).unwrap().as_ref(), Some(&encoded[0]));
        assert_eq!(store.stored_height_of(&blocks[2].hash()).unwrap(), Some(3));
        assert_eq!(store.stored_height_of(&Hash32([9; 32])).unwrap(), None);
        let b = &blocks[0];
        let receipts = machine.execute_block(&mut state, b).unwrap();
        let changes = state.take_changes();
        store
            .commit_block(b, &receipts, &changes, &state.meta())
            .unwrap();
        assert_eq!(store.block(1).unwrap().as_ref(), Some(b));
        assert_eq!(store.block(2).unwrap(), None);
        drop(store);
        let store = Store::open(&path).unwrap();
        let loaded = store.load_state(&machine).unwrap();
        assert_eq!(loaded.head().height, 1);
        assert_eq!(loaded.root(), state.root());
    }

    /// A store of format 2 (bodies in redb's `blocks` table, no body file) is converted on
    /// open: the bodies move to the file, read back the same, and the chain replays to the
    /// same root; opening it again writes nothing.
    #[test]
    fn format_2_bodies_move_to_the_body_file_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let file = path.with_extension("blocks");
        let (_, state, _, blocks) = transfers(&path, 3, false);
        {
            let store = Store::open(&path).unwrap();
            let bodies: Vec<(u64, Vec<u8>)> = (0..=3)
                .map(|h| (h, store.stored_block(h).unwrap().unwrap()))
                .collect();
            let wtx = store.db.begin_write().unwrap();
            {
                let mut t = wtx.open_table(LEGACY_BLOCKS).unwrap();
                for (h, b) in &bodies {
                    t.insert(*h, b.as_slice()).unwrap();
                }
                let mut meta = wtx.open_table(META).unwrap();
                meta.insert("format", [2u8].as_slice()).unwrap();
                meta.remove("bodies_end").unwrap();
            }
            wtx.delete_table(BLOCK_AT).unwrap();
            wtx.commit().unwrap();
        }
        std::fs::remove_file(&file).unwrap();
        let store = Store::open(&path).unwrap();
        for b in &blocks {
            assert_eq!(store.block(b.header.height).unwrap().as_ref(), Some(b));
        }
        assert_eq!(store.replay(&Machine::new()).unwrap().root(), state.root());
        {
            let rtx = store.db.begin_read().unwrap();
            assert!(matches!(
                rtx.open_table(LEGACY_BLOCKS),
                Err(redb::TableError::TableDoesNotExist(_))
            ));
            let meta = rtx.open_table(META).unwrap();
            assert_eq!(meta.get("format").unwrap().unwrap().value(), [FORMAT]);
            let end = meta_u64(&meta, "bodies_end").unwrap().unwrap();
            assert_eq!(std::fs::metadata(&file).unwrap().len(), end);
        }
        drop(store);
        let len = std::fs::metadata(&file).unwrap().len();
        let store = Store::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().len(), len);
        assert_eq!(store.block(3).unwrap().as_ref(), blocks.last());
    }

    /// A store written by a newer node is refused, not converted.
    #[test]
    fn a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        transfers(&path, 1, false);
        {
            let store = Store::open(&path).unwrap();
            let wtx = store.db.begin_write().unwrap();
            wtx.open_table(META)
                .unwrap()
                .insert("format", [FORMAT + 1].as_slice())
                .unwrap();
            wtx.commit().unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }

    /// A store of format 1 (each device row carried its key) is converted on open: the keys
    /// move to `device_keys`, the rows shrink, and the state loads the same devices.
    #[test]
    fn format_1_device_rows_are_split_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        transfers(&path, 1, false);
        let key = SigningKey::from_seed(ParamSet::MlDsa65, &[4; 32]).unwrap();
        let device = Device {
            miner: Address([5; 20]),
            key: key.verifying_key().clone(),
            tier: poai_primitives::PrivacyLevel::Confidential,
            trust_score: 70,
            kind: 1,
            registered_at: 3,
            last_proof_at: Some(4),
            proofs: 2,
            paid: 1 << 65,
        };
        let id = DeviceId([6; 32]);
        {
            // Write it as format 1 did, and forget the format.
            let store = Store::open(&path).unwrap();
            let wtx = store.db.begin_write().unwrap();
            wtx.open_table(DEVICES)
                .unwrap()
                .insert(id.0.as_slice(), device.encode().as_slice())
                .unwrap();
            wtx.open_table(META).unwrap().remove("format").unwrap();
            wtx.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let state = store.load_state(&Machine::new()).unwrap();
        assert_eq!(state.device(&id), Some(&device));
        let rtx = store.db.begin_read().unwrap();
        let row = rtx
            .open_table(DEVICES)
            .unwrap()
            .get(id.0.as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(row.value(), device.encode_without_key().as_slice());
        let k = rtx
            .open_table(DEVICE_KEYS)
            .unwrap()
            .get(id.0.as_slice())
            .unwrap()
            .unwrap();
        assert_eq!(k.value(), Device::encode_key(&device.key).as_slice());
        let f = rtx
            .open_table(META)
            .unwrap()
            .get("format")
            .unwrap()
            .unwrap();
        assert_eq!(f.value(), [FORMAT].as_slice());
    }
}
