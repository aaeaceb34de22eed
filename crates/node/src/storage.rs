//! Block and state storage in redb.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `"genesis"`, `"meta"` | genesis JSON; head, ledger, spent-set hash chain |
//! | `blocks` | height u64 | encoded block |
//! | `receipts` | height u64 | encoded receipts |
//! | `tx_index` | tx hash | height u64 ‖ index u32 |
//! | `accounts` | address | encoded account |
//! | `devices` | device id | encoded device |
//! | `spent` | work id | height u64 |
//! | `ai` | table prefix ‖ key | AI VM row ([`poai_chain::ai::AiState`]) |
//! | `validators` | consensus key 32 | validator row ([`poai_chain::Validator::encode`]) |
//!
//! A block, its receipts, its index entries, every state key it changed and the new head are
//! written in **one** write transaction, so a crash at any point leaves the store at the last
//! committed block: redb's commit is atomic and durable (fsync) by default. On start the whole
//! state is loaded into memory (docs/DESIGN-chain.md, "Storage").

use anyhow::{Context, Result, bail};
use poai_chain::block::{decode_receipts, encode_receipts};
use poai_chain::state::{Changes, Meta};
use poai_chain::{
    Account, Block, Device, Genesis, Hash32, Machine, Receipt, State, Validator, genesis_block,
};
use poai_primitives::{Address, DeviceId, WorkId};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tx_index");
const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
const DEVICES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("devices");
const SPENT: TableDefinition<&[u8], u64> = TableDefinition::new("spent");
const AI: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ai");
const VALIDATORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("validators");

/// The node's database.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Database::create(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Self { db })
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
    /// different genesis if not), then loads the state at the last committed block.
    pub fn open_chain(&self, genesis: &Genesis) -> Result<State> {
        match self.genesis()? {
            Some(stored) if stored != *genesis => bail!(
                "the database holds chain {} with a different genesis; use another --data directory",
                stored.chain_id
            ),
            Some(_) => self.load_state(),
            None => {
                let mut state = State::from_genesis(genesis);
                let block = genesis_block(&mut state);
                let changes = state.take_changes();
                let wtx = self.db.begin_write()?;
                {
                    let mut meta = wtx.open_table(META)?;
                    meta.insert("genesis", serde_json::to_vec(genesis)?.as_slice())?;
                }
                write_block(
                    &wtx,
                    block.header.height,
                    &block.encode(),
                    &[],
                    &changes,
                    &state.meta(),
                )?;
                wtx.commit()?;
                Ok(state)
            }
        }
    }

    /// Loads the state at the last committed block.
    pub fn load_state(&self) -> Result<State> {
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
        for row in rtx.open_table(DEVICES)?.iter()? {
            let (k, v) = row?;
            let id = DeviceId::from_slice(k.value()).context("stored device key")?;
            let d = Device::decode(v.value()).map_err(|e| anyhow::anyhow!("device {id}: {e}"))?;
            devices.insert(id, d);
        }
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

    /// Commits a block, its receipts and the state changes it made, atomically.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        changes: &Changes,
        meta: &Meta,
    ) -> Result<()> {
        self.commit_encoded_block(block, &block.encode(), receipts, changes, meta)
    }

    /// [`Store::commit_block`] for a block whose canonical encoding the caller already holds
    /// (`encoded` must be `block.encode()`; a consensus block arrives encoded, and encoding
    /// megabytes again was a measured cost).
    pub fn commit_encoded_block(
        &self,
        block: &Block,
        encoded: &[u8],
        receipts: &[Receipt],
        changes: &Changes,
        meta: &Meta,
    ) -> Result<()> {
        let wtx = self.db.begin_write()?;
        write_block(&wtx, block.header.height, encoded, receipts, changes, meta)?;
        wtx.commit()?;
        Ok(())
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(BLOCKS)?;
        match t.get(height)? {
            Some(v) => {
                Ok(Some(Block::decode(v.value()).map_err(|e| {
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

fn write_block(
    wtx: &redb::WriteTransaction,
    height: u64,
    encoded: &[u8],
    receipts: &[Receipt],
    changes: &Changes,
    meta: &Meta,
) -> Result<()> {
    wtx.open_table(BLOCKS)?.insert(height, encoded)?;
    wtx.open_table(RECEIPTS)?
        .insert(height, encode_receipts(receipts).as_slice())?;
    {
        let mut idx = wtx.open_table(TX_INDEX)?;
        for (i, r) in receipts.iter().enumerate() {
            let mut v = [0u8; 12];
            v[..8].copy_from_slice(&height.to_be_bytes());
            v[8..].copy_from_slice(&u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes());
            idx.insert(r.tx_hash.0.as_slice(), v.as_slice())?;
        }
    }
    {
        let mut t = wtx.open_table(ACCOUNTS)?;
        for (a, acct) in &changes.accounts {
            t.insert(a.0.as_slice(), acct.encode().as_slice())?;
        }
    }
    {
        let mut t = wtx.open_table(DEVICES)?;
        for (id, d) in &changes.devices {
            t.insert(id.0.as_slice(), d.encode().as_slice())?;
        }
    }
    {
        let mut t = wtx.open_table(SPENT)?;
        for id in &changes.spent {
            t.insert(id.0.as_slice(), height)?;
        }
    }
    {
        let mut t = wtx.open_table(AI)?;
        for (k, v) in &changes.ai {
            match v {
                Some(v) => {
                    t.insert(k.as_slice(), v.as_slice())?;
                }
                None => {
                    t.remove(k.as_slice())?;
                }
            }
        }
    }
    {
        let mut t = wtx.open_table(VALIDATORS)?;
        for (k, v) in &changes.validators {
            match v {
                Some(v) => {
                    t.insert(k.as_slice(), v.encode().as_slice())?;
                }
                None => {
                    t.remove(k.as_slice())?;
                }
            }
        }
    }
    wtx.open_table(META)?
        .insert("meta", meta.encode().as_slice())?;
    Ok(())
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

    /// A chain whose blocks bond one validator, add to it and unbond a genesis one commits,
    /// reopens and replays to the same state root and validator table.
    #[test]
    fn validators_persist_and_reopen_with_the_same_root() {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[5; 32]).unwrap();
        let me = address_of(key.verifying_key());
        let g = Genesis {
            chain_id: ChainId(31),
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
            consensus: Some(ConsensusGenesis {
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
        };
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
            let mut state = store.open_chain(&g).unwrap();
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
        let loaded = store.load_state().unwrap();
        assert_eq!(loaded.root(), state.root());
        assert_eq!(
            loaded.validators().collect::<Vec<_>>(),
            state.validators().collect::<Vec<_>>()
        );
        assert_eq!(loaded.validator_set(), state.validator_set());
        let replayed = store.replay(&machine).unwrap();
        assert_eq!(replayed.root(), state.root());
    }
}
