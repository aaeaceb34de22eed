//! The A-chain state: accounts, devices, the spent set, the mining ledger, and the head.
//!
//! **Commitment.** The state root is
//! BLAKE3(`poai/state/v1` ‖ u64be(chain_id) ‖ u64be(height) ‖ u64be(timestamp) ‖ u128be(mined) ‖
//! spent_acc ‖ accounts_commit ‖ devices_commit ‖ ai_commit ‖ validators_commit), where
//! - `accounts_commit`, `devices_commit` and `validators_commit` commit to every entry of their
//!   table in key order through per-entry leaf hashes kept beside the entries
//!   (`crate::leafmap`: leaf = BLAKE3(tag ‖ 0x00 ‖ key ‖ leaf encoding), commit =
//!   BLAKE3(tag ‖ 0x01 ‖ leaves), tags `poai/accounts/v2`, `poai/devices/v3`,
//!   `poai/validators/v2`), so a block re-hashes only the entries it wrote plus 32 bytes per
//!   entry. Encodings: [`Account::encode`], [`Device::leaf_encoding`] (the key by its hash),
//!   [`crate::validator::Validator::encode`]; the validators table is empty on a chain without
//!   a `consensus` section.
//! - `spent_acc` is a hash chain over the spent set in the order ids were spent:
//!   `spent_acc' = BLAKE3(poai/spent/v1 ‖ spent_acc ‖ work_id)`. Spending order is fixed by the
//!   blocks, so the chain is deterministic, and it costs one hash per proof instead of a pass
//!   over a set that only grows.
//! - `ai_commit` is the AI VM's commitment ([`crate::ai::AiState::commit`]).
//!
//! The leaves make a block's root cost proportional to what it wrote, plus one pass over 32 bytes
//! per entry; docs/DESIGN-chain.md says when to move to a sparse Merkle tree (state proofs, or
//! millions of entries).
//!
//! **Journal.** Every write records the old value of the key, so a block that fails half-way
//! rolls back ([`State::rollback`]) and the storage layer persists exactly what a block changed
//! ([`State::take_changes`]).

use crate::codec::{CodecError, Reader, Writer};
use crate::genesis::Genesis;
use crate::hash::{Hash32, hash_tagged};
use crate::leafmap::{Leaf, LeafKey, LeafMap};
use crate::spentset::SpentSet;
use crate::validator::{Validator, ValidatorInfo};
use poai_crypto::{ParamSet, VerifyingKey};
use poai_economics::{Emission, LP_ALLOCATION, MiningLedger};
use poai_primitives::{Address, DeviceId, PrivacyLevel, WorkId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// An account: native coin, AI tokens and the next transaction nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Account {
    /// The next account-transaction nonce.
    pub nonce: u64,
    /// Native coin, smallest unit.
    #[serde(with = "crate::serde_u128")]
    pub balance: u128,
    /// AI tokens, wei.
    #[serde(with = "crate::serde_u128")]
    pub ai: u128,
}

impl Account {
    /// Canonical encoding: nonce u64 ‖ balance u128 ‖ ai u128.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(40);
        w.u64(self.nonce);
        w.u128(self.balance);
        w.u128(self.ai);
        w.finish()
    }

    /// Decodes [`Account::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let a = Self {
            nonce: r.u64("nonce")?,
            balance: r.u128("balance")?,
            ai: r.u128("ai")?,
        };
        r.finish()?;
        Ok(a)
    }
}

/// A registered device: the miner's key bound to an attested identity and tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The miner (address of `key`) that registered it.
    pub miner: Address,
    /// The key that signs its proofs.
    pub key: VerifyingKey,
    /// The tier its evidence proves.
    pub tier: PrivacyLevel,
    /// The evidence's trust score.
    pub trust_score: u8,
    /// The evidence kind byte.
    pub kind: u8,
    /// Block time of its (latest) registration.
    pub registered_at: u64,
    /// Timestamp of its previous accepted proof.
    pub last_proof_at: Option<u64>,
    /// Proofs accepted.
    pub proofs: u64,
    /// AI paid for its proofs (miner and treasury parts), wei.
    pub paid: u128,
}

impl Device {
    /// Canonical encoding: `miner ‖ param ‖ key ‖ row` (row: tier, trust score, kind, times, proofs, paid).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(2100);
        w.raw(&self.miner.0);
        w.u8(self.key.param_set().id());
        w.raw(self.key.as_bytes());
        self.write_row(&mut w);
        w.finish()
    }

    /// Decodes [`Device::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let miner = Address(r.array("miner")?);
        let key = read_key(&mut r)?;
        let d = Self::read_row(&mut r, miner, key)?;
        r.finish()?;
        Ok(d)
    }

    /// What the state root commits to: `miner 20 ‖ param 1 ‖ tr 64 ‖ row`, where `tr` is the
    /// key's FIPS 204 hash `H(pk, 64)` (SHAKE256), so about 130 bytes instead of the 2 KB
    /// [`Device::encode`]. A leaf then takes one BLAKE3 chunk instead of two or three, and every
    /// proof rewrites its device's leaf on every validator. `tr` binds the key as well as the key
    /// bytes would (SHAKE256's collision resistance, which ML-DSA itself relies on), and the
    /// device's proofs are verified with it, so it is computed at registration either way.
    pub fn leaf_encoding(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.raw(&self.miner.0);
        w.u8(self.key.param_set().id());
        w.raw(self.key.tr().as_bytes());
        self.write_row(&mut w);
        w.finish()
    }

    /// The device without its key: `miner ‖ row`, about 70 bytes. Storage keeps keys, which
    /// never change after registration, apart from the rows every proof rewrites.
    pub fn encode_without_key(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(80);
        w.raw(&self.miner.0);
        self.write_row(&mut w);
        w.finish()
    }

    /// Decodes [`Device::encode_without_key`], with the device's `key`.
    pub fn decode_with_key(bytes: &[u8], key: VerifyingKey) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let miner = Address(r.array("miner")?);
        let d = Self::read_row(&mut r, miner, key)?;
        r.finish()?;
        Ok(d)
    }

    /// Encodes a key as [`Device::encode`] does: `param ‖ key`.
    pub fn encode_key(key: &VerifyingKey) -> Vec<u8> {
        let mut w = Writer::with_capacity(1 + key.as_bytes().len());
        w.u8(key.param_set().id());
        w.raw(key.as_bytes());
        w.finish()
    }

    /// Decodes [`Device::encode_key`].
    pub fn decode_key(bytes: &[u8]) -> Result<VerifyingKey, CodecError> {
        let mut r = Reader::new(bytes);
        let key = read_key(&mut r)?;
        r.finish()?;
        Ok(key)
    }

    /// `tier ‖ trust_score ‖ kind ‖ registered_at ‖ last_proof_at ‖ proofs ‖ paid`.
    fn write_row(&self, w: &mut Writer) {
        w.u16(self.tier.as_u16());
        w.u8(self.trust_score);
        w.u8(self.kind);
        w.u64(self.registered_at);
        w.opt_u64(self.last_proof_at);
        w.u64(self.proofs);
        w.u128(self.paid);
    }

    fn read_row(r: &mut Reader<'_>, miner: Address, key: VerifyingKey) -> Result<Self, CodecError> {
        let tier = PrivacyLevel::try_from(r.u16("tier")?).map_err(|e| CodecError::Invalid {
            field: "tier",
            reason: e.to_string(),
        })?;
        Ok(Self {
            miner,
            key,
            tier,
            trust_score: r.u8("trust_score")?,
            kind: r.u8("kind")?,
            registered_at: r.u64("registered_at")?,
            last_proof_at: r.opt_u64("last_proof_at")?,
            proofs: r.u64("proofs")?,
            paid: r.u128("paid")?,
        })
    }
}

/// `param ‖ key` of a device encoding.
fn read_key(r: &mut Reader<'_>) -> Result<VerifyingKey, CodecError> {
    let invalid = |field: &'static str| {
        move |e: poai_crypto::MlDsaError| CodecError::Invalid {
            field,
            reason: e.to_string(),
        }
    };
    let param = ParamSet::from_id(r.u8("param_set")?).map_err(invalid("param_set"))?;
    VerifyingKey::from_bytes(param, r.take(param.public_key_len(), "key")?).map_err(invalid("key"))
}

/// The last block applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Its height.
    pub height: u64,
    /// Its timestamp.
    pub timestamp: u64,
    /// Its hash.
    pub hash: Hash32,
    /// The state root after it.
    pub state_root: Hash32,
}

/// Chain-wide values besides the keyed maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The head.
    pub head: Head,
    /// Total mined.
    pub ledger: MiningLedger,
    /// The spent-set hash chain.
    pub spent_acc: Hash32,
}

impl Meta {
    /// Canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.u64(self.head.height);
        w.u64(self.head.timestamp);
        w.raw(&self.head.hash.0);
        w.raw(&self.head.state_root.0);
        w.u128(self.ledger.mined);
        w.raw(&self.spent_acc.0);
        w.finish()
    }

    /// Decodes [`Meta::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let m = Self {
            head: Head {
                height: r.u64("height")?,
                timestamp: r.u64("timestamp")?,
                hash: Hash32(r.array("hash")?),
                state_root: Hash32(r.array("state_root")?),
            },
            ledger: MiningLedger::new(r.u128("mined")?),
            spent_acc: Hash32(r.array("spent_acc")?),
        };
        r.finish()?;
        Ok(m)
    }
}

/// What a block changed, for the storage layer: current values of every key it wrote.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Accounts written.
    pub accounts: Vec<(Address, Account)>,
    /// Devices written.
    pub devices: Vec<(DeviceId, Device)>,
    /// Work ids spent, in order.
    pub spent: Vec<WorkId>,
    /// AI VM rows written (prefix ‖ key, value or `None` if deleted).
    pub ai: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Validator rows written (consensus key, row or `None` if removed).
    pub validators: Vec<([u8; 32], Option<Validator>)>,
}

#[derive(Debug, Clone, Default)]
struct Journal {
    accounts: BTreeMap<Address, Option<Account>>,
    devices: BTreeMap<DeviceId, Option<Device>>,
    validators: BTreeMap<[u8; 32], Option<Validator>>,
    spent: Vec<WorkId>,
    meta: Option<Meta>,
}

/// The whole state of an A-chain.
#[derive(Debug, Clone)]
pub struct State {
    genesis: Genesis,
    emission: Emission,
    meta: Meta,
    accounts: LeafMap<Address, Account>,
    devices: LeafMap<DeviceId, Device>,
    spent: SpentSet,
    ai: crate::ai::AiState,
    validators: LeafMap<[u8; 32], Validator>,
    journal: Journal,
}

/// Leaf and commitment tags of the three keyed tables (see the module docs).
const ACCOUNTS_TAG: &[u8] = b"poai/accounts/v2";
const DEVICES_TAG: &[u8] = b"poai/devices/v3";
const VALIDATORS_TAG: &[u8] = b"poai/validators/v2";

impl LeafKey for Address {
    fn key_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl LeafKey for DeviceId {
    fn key_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl LeafKey for [u8; 32] {
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl Leaf for Account {
    fn leaf_encoding(&self) -> Vec<u8> {
        self.encode()
    }
}

impl Leaf for Device {
    /// [`Device::leaf_encoding`].
    fn leaf_encoding(&self) -> Vec<u8> {
        Device::leaf_encoding(self)
    }
}

impl Leaf for Validator {
    fn leaf_encoding(&self) -> Vec<u8> {
        self.encode()
    }
}

impl State {
    /// The state at genesis (head at height 0; the caller sets the genesis block's hash with
    /// [`State::set_head`]). The journal holds every genesis account and validator, so the first
    /// [`State::take_changes`] persists them. Genesis validators' stake is minted into their
    /// bonds (see [`crate::genesis`]).
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let mut s = Self::from_parts(
            genesis.clone(),
            Meta {
                head: Head {
                    height: 0,
                    timestamp: genesis.genesis_time,
                    hash: Hash32::ZERO,
                    state_root: Hash32::ZERO,
                },
                ledger: MiningLedger::new(0),
                spent_acc: hash_tagged(b"poai/spent/v1", &[]),
            },
            BTreeMap::new(),
            BTreeMap::new(),
            HashSet::new(),
            crate::ai::AiState::default(),
            BTreeMap::new(),
        );
        for v in genesis.consensus.iter().flat_map(|c| &c.validators) {
            s.set_validator(
                v.consensus_key,
                Some(Validator {
                    owner: v.address,
                    stake: v.stake,
                    net_addr: v.net_addr.clone(),
                    unbonding: None,
                }),
            );
        }
        for a in &genesis.accounts {
            let mut acct = s.account(&a.address);
            acct.balance = acct.balance.saturating_add(a.balance);
            s.set_account(a.address, acct);
        }
        let mut lp = s.account(&genesis.lp_address);
        lp.ai = lp.ai.saturating_add(LP_ALLOCATION);
        s.set_account(genesis.lp_address, lp);
        s
    }

    /// A state assembled from stored parts.
    pub fn from_parts(
        genesis: Genesis,
        meta: Meta,
        accounts: BTreeMap<Address, Account>,
        devices: BTreeMap<DeviceId, Device>,
        spent: HashSet<WorkId>,
        ai: crate::ai::AiState,
        validators: BTreeMap<[u8; 32], Validator>,
    ) -> Self {
        let emission = Emission::new(genesis.emission_genesis_height);
        Self {
            genesis,
            emission,
            meta,
            accounts: LeafMap::from_map(ACCOUNTS_TAG, accounts),
            devices: LeafMap::from_map(DEVICES_TAG, devices),
            spent: SpentSet::from_set(spent),
            ai,
            validators: LeafMap::from_map(VALIDATORS_TAG, validators),
            journal: Journal::default(),
        }
    }

    /// The genesis configuration.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The emission schedule.
    pub fn emission(&self) -> &Emission {
        &self.emission
    }

    /// The AI VM state.
    pub fn ai(&self) -> &crate::ai::AiState {
        &self.ai
    }

    pub(crate) fn ai_mut(&mut self) -> &mut crate::ai::AiState {
        &mut self.ai
    }

    /// The head.
    pub fn head(&self) -> Head {
        self.meta.head
    }

    /// Chain-wide values.
    pub fn meta(&self) -> Meta {
        self.meta
    }

    /// Total mined so far.
    pub fn ledger(&self) -> MiningLedger {
        self.meta.ledger
    }

    /// An account (all zero if never written).
    pub fn account(&self, a: &Address) -> Account {
        self.accounts.get(a).copied().unwrap_or_default()
    }

    /// A device, if registered.
    pub fn device(&self, id: &DeviceId) -> Option<&Device> {
        self.devices.get(id)
    }

    /// The devices a miner registered.
    pub fn devices_of(&self, miner: &Address) -> Vec<(DeviceId, Device)> {
        self.devices
            .iter()
            .filter(|(_, d)| d.miner == *miner)
            .map(|(id, d)| (*id, d.clone()))
            .collect()
    }

    /// Whether a work id is spent.
    pub fn is_spent(&self, id: &WorkId) -> bool {
        self.spent.contains(id)
    }

    /// Number of spent work ids.
    pub fn spent_count(&self) -> usize {
        self.spent.len()
    }

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Number of devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    pub(crate) fn save_meta(&mut self) {
        if self.journal.meta.is_none() {
            self.journal.meta = Some(self.meta);
        }
    }

    /// Writes an account, journaling its old value.
    pub fn set_account(&mut self, a: Address, acct: Account) {
        let old = self.accounts.insert(a, acct);
        self.journal.accounts.entry(a).or_insert(old);
    }

    /// Writes a validator row (or removes it with `None`), journaling its old value.
    pub fn set_validator(&mut self, key: [u8; 32], v: Option<Validator>) {
        let old = match v {
            Some(v) => self.validators.insert(key, v),
            None => self.validators.remove(&key),
        };
        self.journal.validators.entry(key).or_insert(old);
    }

    /// A validator row, bonded or unbonding.
    pub fn validator(&self, key: &[u8; 32]) -> Option<&Validator> {
        self.validators.get(key)
    }

    /// Every validator row (bonded and unbonding), in consensus-key order.
    pub fn validators(&self) -> impl Iterator<Item = (&[u8; 32], &Validator)> {
        self.validators.iter()
    }

    /// The validator set this state defines (docs/DESIGN-consensus.md, section 2.3): bonded
    /// (not unbonding) validators with `stake ≥ min_validator_stake`, highest stake first, ties
    /// by consensus key ascending, at most `max_validators`. Empty on a chain without a
    /// `consensus` section. The consensus layer reads it from the state after the boundary
    /// block of epoch `e` ([`State::is_epoch_boundary`]) as the set of epoch `e+1`.
    pub fn validator_set(&self) -> Vec<ValidatorInfo> {
        let Some(c) = self.genesis.consensus.as_ref() else {
            return Vec::new();
        };
        let mut set: Vec<ValidatorInfo> = self
            .validators
            .iter()
            .filter(|(_, v)| v.is_bonded() && v.stake >= c.min_validator_stake)
            .map(|(k, v)| ValidatorInfo {
                consensus_key: *k,
                owner: v.owner,
                stake: v.stake,
                net_addr: v.net_addr.clone(),
            })
            .collect();
        set.sort_by(|a, b| {
            b.stake
                .cmp(&a.stake)
                .then_with(|| a.consensus_key.cmp(&b.consensus_key))
        });
        set.truncate(usize::try_from(c.max_validators).unwrap_or(usize::MAX));
        set
    }

    /// Blocks per epoch: the genesis's `consensus.epoch_length`, or `None` without a
    /// `consensus` section (one validator, no epochs).
    pub fn epoch_length(&self) -> Option<u64> {
        self.genesis.consensus.as_ref().map(|c| c.epoch_length)
    }

    /// The epoch of `height` ([`crate::validator::epoch_of`]). Without a `consensus` section
    /// the chain is one unending epoch 0.
    pub fn epoch_of(&self, height: u64) -> u64 {
        self.epoch_length()
            .map_or(0, |l| crate::validator::epoch_of(height, l))
    }

    /// Whether `height` is the last block of its epoch ([`crate::validator::is_epoch_boundary`]):
    /// the set of the next epoch is [`State::validator_set`] after it. Never, without a
    /// `consensus` section.
    pub fn is_epoch_boundary(&self, height: u64) -> bool {
        self.epoch_length()
            .is_some_and(|l| crate::validator::is_epoch_boundary(height, l))
    }

    /// Native coin bonded to validators (bonded and unbonding), for the supply invariant.
    pub fn total_bonded(&self) -> u128 {
        self.validators
            .values()
            .fold(0u128, |s, v| s.saturating_add(v.stake))
    }

    /// Writes a device, journaling its old value.
    pub fn set_device(&mut self, id: DeviceId, d: Device) {
        let old = self.devices.insert(id, d);
        self.journal.devices.entry(id).or_insert(old);
    }

    /// Marks a work id spent and extends the spent hash chain. Returns false if it was spent.
    pub fn mark_spent(&mut self, id: WorkId) -> bool {
        if !self.spent.insert(id) {
            return false;
        }
        self.save_meta();
        self.meta.spent_acc = hash_tagged(b"poai/spent/v1", &[&self.meta.spent_acc.0, &id.0]);
        self.journal.spent.push(id);
        true
    }

    /// Sets the mining ledger.
    pub fn set_ledger(&mut self, ledger: MiningLedger) {
        self.save_meta();
        self.meta.ledger = ledger;
    }

    /// Sets the head.
    pub fn set_head(&mut self, head: Head) {
        self.save_meta();
        self.meta.head = head;
    }

    /// Undoes every write since the last [`State::take_changes`] or [`State::rollback`].
    pub fn rollback(&mut self) {
        let j = std::mem::take(&mut self.journal);
        for (a, old) in j.accounts {
            match old {
                Some(v) => self.accounts.insert(a, v),
                None => self.accounts.remove(&a),
            };
        }
        for (id, old) in j.devices {
            match old {
                Some(v) => self.devices.insert(id, v),
                None => self.devices.remove(&id),
            };
        }
        for (k, old) in j.validators {
            match old {
                Some(v) => self.validators.insert(k, v),
                None => self.validators.remove(&k),
            };
        }
        for id in j.spent {
            self.spent.forget(&id);
        }
        if let Some(m) = j.meta {
            self.meta = m;
        }
        self.ai.rollback();
    }

    /// The keys written since the journal was last cleared, with their current values. The
    /// storage layer writes these, then calls [`State::clear_journal`] once the write is durable
    /// (or [`State::rollback`] if it failed).
    pub fn changes(&self) -> Changes {
        Changes {
            accounts: self
                .journal
                .accounts
                .keys()
                .map(|a| (*a, self.account(a)))
                .collect(),
            devices: self
                .journal
                .devices
                .keys()
                .filter_map(|id| self.devices.get(id).map(|d| (*id, d.clone())))
                .collect(),
            spent: self.journal.spent.clone(),
            ai: self.ai.changes(),
            validators: self
                .journal
                .validators
                .keys()
                .map(|k| (*k, self.validators.get(k).cloned()))
                .collect(),
        }
    }

    /// Forgets the journal: the changes are committed. Also the point between blocks where the
    /// spent set may freeze its recent ids ([`SpentSet::seal`]): nothing journaled is left to
    /// roll back.
    pub fn clear_journal(&mut self) {
        self.journal = Journal::default();
        self.ai.clear_journal();
        self.spent.seal();
    }

    /// [`State::changes`] then [`State::clear_journal`].
    pub fn take_changes(&mut self) -> Changes {
        let c = self.changes();
        self.clear_journal();
        c
    }

    /// The state root at `height` and `timestamp` (see the module docs).
    pub fn root_at(&self, height: u64, timestamp: u64) -> Hash32 {
        hash_tagged(
            b"poai/state/v1",
            &[
                &self.genesis.chain_id.to_be_bytes(),
                &height.to_be_bytes(),
                &timestamp.to_be_bytes(),
                &self.meta.ledger.mined.to_be_bytes(),
                &self.meta.spent_acc.0,
                &self.accounts.commit().0,
                &self.devices.commit().0,
                &self.ai.commit().0,
                &self.validators.commit().0,
            ],
        )
    }

    /// The state root at the current head.
    pub fn root(&self) -> Hash32 {
        self.root_at(self.meta.head.height, self.meta.head.timestamp)
    }

    /// Sum of all AI balances (for the supply invariant: LP allocation plus mined).
    pub fn total_ai(&self) -> u128 {
        self.accounts
            .values()
            .fold(0u128, |s, a| s.saturating_add(a.ai))
    }

    /// Sum of all native balances.
    pub fn total_native(&self) -> u128 {
        self.accounts
            .values()
            .fold(0u128, |s, a| s.saturating_add(a.balance))
    }

    /// Every account, in address order.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::GenesisAccount;
    use poai_primitives::ChainId;

    /// A device rewritten with new counters, another key of the same set, another set, another
    /// miner: each gives another root (the key counts through its `tr`), always the one a fresh
    /// state computes from scratch, and the leaf encoding is `miner ‖ param ‖ H(pk, 64) ‖ row`.
    #[test]
    fn device_leaves_follow_every_change() {
        let g = genesis();
        let key = |p: ParamSet, seed: u8| {
            poai_crypto::SigningKey::from_seed(p, &[seed; 32])
                .unwrap()
                .verifying_key()
                .clone()
        };
        let first = Device {
            miner: Address([1; 20]),
            key: key(ParamSet::MlDsa65, 1),
            tier: PrivacyLevel::Confidential,
            trust_score: 90,
            kind: 1,
            registered_at: 5,
            last_proof_at: None,
            proofs: 0,
            paid: 0,
        };
        let id = DeviceId([9; 32]);
        let mut s = State::from_genesis(&g);
        s.set_device(id, first.clone());
        let rewrites = [
            Device {
                proofs: 1,
                last_proof_at: Some(70),
                paid: 12,
                ..first.clone()
            },
            Device {
                key: key(ParamSet::MlDsa65, 2),
                ..first.clone()
            },
            Device {
                key: key(ParamSet::MlDsa87, 2),
                ..first.clone()
            },
            Device {
                key: key(ParamSet::MlDsa44, 3),
                ..first.clone()
            },
            Device {
                miner: Address([2; 20]),
                ..first.clone()
            },
            first.clone(),
        ];
        let mut roots = vec![s.devices.commit()];
        for d in rewrites {
            s.set_device(id, d.clone());
            let fresh = LeafMap::from_map(DEVICES_TAG, [(id, d.clone())].into_iter().collect());
            assert_eq!(s.devices.commit(), fresh.commit());
            roots.push(s.devices.commit());

            let leaf = d.leaf_encoding();
            let key = d.key.as_bytes();
            assert_eq!(leaf.get(..20), Some(d.miner.0.as_slice()));
            assert_eq!(leaf.get(20), Some(&d.key.param_set().id()));
            assert_eq!(leaf.get(21..85), Some(poai_crypto::mu::tr(key).as_slice()));
            assert_eq!(
                leaf.get(85..),
                d.encode().get(21 + key.len()..),
                "the row follows, as in the full encoding"
            );
        }
        // The last rewrite restores the first device, and its root.
        assert_eq!(roots.first(), roots.last());
        roots.pop();
        let distinct: std::collections::BTreeSet<_> = roots.iter().collect();
        assert_eq!(distinct.len(), roots.len(), "every change moves the root");
    }

    pub(crate) fn genesis() -> Genesis {
        Genesis {
            chain_id: ChainId(77),
            genesis_time: 1_000_000,
            emission_genesis_height: 1,
            allow_dev_evidence: true,
            dev_block_time_step: Some(60),
            min_fee: 0,
            max_block_txs: 100,
            lp_address: Address([0x11; 20]),
            treasury: Address([0x22; 20]),
            accounts: vec![GenesisAccount {
                address: Address([0x33; 20]),
                balance: 1000,
            }],
            ai: crate::ai::AiParams::default(),
            consensus: None,
        }
    }

    #[test]
    fn genesis_allocations_and_supply() {
        let s = State::from_genesis(&genesis());
        assert_eq!(s.account(&Address([0x11; 20])).ai, LP_ALLOCATION);
        assert_eq!(s.account(&Address([0x33; 20])).balance, 1000);
        assert_eq!(s.total_ai(), LP_ALLOCATION);
    }

    #[test]
    fn rollback_restores_everything_and_root() {
        let mut s = State::from_genesis(&genesis());
        s.take_changes();
        let root = s.root();
        let before = s.account(&Address([0x33; 20]));
        s.set_account(
            Address([0x33; 20]),
            Account {
                nonce: 1,
                balance: 1,
                ai: 5,
            },
        );
        s.set_account(Address([0x44; 20]), Account::default());
        assert!(s.mark_spent(WorkId([9; 32])));
        assert!(!s.mark_spent(WorkId([9; 32])), "double spend refused");
        s.set_ledger(MiningLedger::new(5));
        assert_ne!(s.root(), root);
        s.rollback();
        assert_eq!(s.root(), root);
        assert_eq!(s.account(&Address([0x33; 20])), before);
        assert_eq!(
            s.account_count(),
            2,
            "the account created in the block is gone"
        );
        assert!(!s.is_spent(&WorkId([9; 32])));
    }

    #[test]
    fn encodings_round_trip() {
        let a = Account {
            nonce: 3,
            balance: 1 << 90,
            ai: 7,
        };
        assert_eq!(Account::decode(&a.encode()).unwrap(), a);
        let key = poai_crypto::SigningKey::from_seed(ParamSet::MlDsa44, &[1; 32]).unwrap();
        let d = Device {
            miner: Address([1; 20]),
            key: key.verifying_key().clone(),
            tier: PrivacyLevel::Private,
            trust_score: 40,
            kind: 3,
            registered_at: 10,
            last_proof_at: Some(99),
            proofs: 4,
            paid: 1 << 70,
        };
        assert_eq!(Device::decode(&d.encode()).unwrap(), d);
        assert!(Device::decode(&d.encode()[..50]).is_err());
        // Storage's split form: the row without the key, and the key, give the same device.
        let row = d.encode_without_key();
        assert!(row.len() < 80, "{} bytes", row.len());
        let k = Device::decode_key(&Device::encode_key(&d.key)).unwrap();
        assert_eq!(Device::decode_with_key(&row, k.clone()).unwrap(), d);
        assert!(Device::decode_with_key(&row[..row.len() - 1], k.clone()).is_err());
        assert!(Device::decode_with_key(&[row.as_slice(), &[0]].concat(), k).is_err());
        assert!(Device::decode_key(&Device::encode_key(&d.key)[..100]).is_err());
        let m = Meta {
            head: Head {
                height: 5,
                timestamp: 6,
                hash: Hash32([7; 32]),
                state_root: Hash32([8; 32]),
            },
            ledger: MiningLedger::new(9),
            spent_acc: Hash32([10; 32]),
        };
        assert_eq!(Meta::decode(&m.encode()).unwrap(), m);
    }
}
