//! Validator sets per epoch (docs/DESIGN-consensus.md, section 2.3).
//!
//! Epoch `e` spans heights `[e·L, (e+1)·L)` (L = genesis `consensus.epoch_length`); its last
//! block is the boundary. The set of epoch 0 is the genesis list; the set of epoch `e+1` is
//! `State::validator_set()` of the state after the boundary block of epoch `e`, so staking
//! transactions change the set only at boundaries and every honest node derives the same set
//! from the same finalized block. If that set would be empty (everyone unbonded), the previous
//! set carries on: a chain without validators could never finalize the block that fixes it.
//!
//! Every epoch's set is kept (marshal verifies backfilled certificates of old epochs with their
//! set) and persisted to `DATA/epochs.json` before the boundary block is acknowledged, so a
//! restarted node has them without replaying the chain.

use commonware_codec::DecodeExt as _;
use commonware_consensus::simplex::scheme::ed25519 as simplex_ed25519;
use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::{Provider, Scoped};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_utils::ordered::Set;
use poai_chain::State;
use poai_primitives::Address;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A validator set: consensus key → account paid as proposer, and where peers reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    keys: Vec<PublicKey>,
    accounts: HashMap<PublicKey, Address>,
    addrs: HashMap<PublicKey, String>,
}

impl Validators {
    /// From (consensus key, account, address) entries; a repeated key keeps its first entry.
    pub fn new(entries: impl IntoIterator<Item = (PublicKey, Address, Option<String>)>) -> Self {
        let mut keys = Vec::new();
        let mut accounts = HashMap::new();
        let mut addrs = HashMap::new();
        for (k, a, n) in entries {
            if accounts.contains_key(&k) {
                continue;
            }
            accounts.insert(k.clone(), a);
            if let Some(n) = n {
                addrs.insert(k.clone(), n);
            }
            keys.push(k);
        }
        keys.sort();
        Self {
            keys,
            accounts,
            addrs,
        }
    }

    /// The validators a genesis lists; an error names the key that is not an ed25519 point.
    pub fn from_genesis(genesis: &poai_chain::Genesis) -> anyhow::Result<Self> {
        let c = genesis
            .consensus
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the genesis has no `consensus` section"))?;
        let entries = c
            .validators
            .iter()
            .map(|v| Ok((key(&v.consensus_key)?, v.address, v.net_addr.clone())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self::new(entries))
    }

    /// The set `state` selects for the next epoch (see the module doc).
    pub fn from_state(state: &State) -> anyhow::Result<Self> {
        let entries = state
            .validator_set()
            .into_iter()
            .map(|v| Ok((key(&v.consensus_key)?, v.owner, v.net_addr)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self::new(entries))
    }

    /// The consensus keys, sorted.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The account of a validator.
    pub fn account(&self, key: &PublicKey) -> Option<Address> {
        self.accounts.get(key).copied()
    }

    /// Where a validator said peers reach it.
    pub fn net_addr(&self, key: &PublicKey) -> Option<&str> {
        self.addrs.get(key).map(String::as_str)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn key(bytes: &[u8; 32]) -> anyhow::Result<PublicKey> {
    PublicKey::decode(bytes.to_vec()).map_err(|e| {
        anyhow::anyhow!(
            "validator key {} is not an ed25519 public key: {e}",
            hex::encode(bytes)
        )
    })
}

/// One epoch's set and the simplex scheme built from it.
#[derive(Clone)]
struct Entry {
    validators: Validators,
    scheme: Arc<simplex_ed25519::Scheme>,
    member: bool,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    epoch: u64,
    validators: Vec<StoredValidator>,
}

#[derive(Serialize, Deserialize)]
struct StoredValidator {
    #[serde(with = "poai_chain::serde_hex32")]
    key: [u8; 32],
    account: Address,
    net_addr: Option<String>,
}

/// Every epoch's validator set; commonware's certificate `Provider` for simplex and marshal.
#[derive(Clone)]
pub struct EpochSets {
    inner: Arc<Mutex<BTreeMap<u64, Entry>>>,
    namespace: Vec<u8>,
    signer: PrivateKey,
    path: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EpochSets {
    /// Sets for a node with consensus key `signer`, persisted at `path` (if any), loading what an
    /// earlier run stored there; epoch 0 is `genesis`.
    pub fn open(
        namespace: &[u8],
        signer: PrivateKey,
        genesis: Validators,
        path: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let sets = Self {
            inner: Arc::default(),
            namespace: namespace.to_vec(),
            signer,
            path,
        };
        sets.put(0, genesis)?;
        if let Some(p) = &sets.path
            && p.exists()
        {
            let stored: Vec<Stored> = serde_json::from_slice(&std::fs::read(p)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            for s in stored {
                let entries = s
                    .validators
                    .iter()
                    .map(|v| Ok((key(&v.key)?, v.account, v.net_addr.clone())))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                sets.put(s.epoch, Validators::new(entries))?;
            }
        }
        Ok(sets)
    }

    fn put(&self, epoch: u64, validators: Validators) -> anyhow::Result<()> {
        let participants = Set::try_from(validators.keys().to_vec())
            .map_err(|_| anyhow::anyhow!("epoch {epoch}: a consensus key is listed twice"))?;
        let (scheme, member) = match simplex_ed25519::Scheme::signer(
            &self.namespace,
            participants.clone(),
            self.signer.clone(),
        ) {
            Some(s) => (s, true),
            None => (
                simplex_ed25519::Scheme::verifier(&self.namespace, participants),
                false,
            ),
        };
        lock(&self.inner).insert(
            epoch,
            Entry {
                validators,
                scheme: Arc::new(scheme),
                member,
            },
        );
        Ok(())
    }

    /// Records the set of `epoch` (keeping the previous one if `validators` is empty) and
    /// persists every set. Returns the set recorded.
    pub fn insert(&self, epoch: u64, validators: Validators) -> anyhow::Result<Validators> {
        let validators = if validators.is_empty() {
            self.validators(epoch.saturating_sub(1))
                .ok_or_else(|| anyhow::anyhow!("no validator set before epoch {epoch}"))?
        } else {
            validators
        };
        self.put(epoch, validators.clone())?;
        self.persist()?;
        Ok(validators)
    }

    fn persist(&self) -> anyhow::Result<()> {
        let Some(p) = &self.path else {
            return Ok(());
        };
        let stored: Vec<Stored> = lock(&self.inner)
            .iter()
            .filter(|(e, _)| **e > 0)
            .map(|(e, entry)| Stored {
                epoch: *e,
                validators: entry
                    .validators
                    .keys()
                    .iter()
                    .map(|k| StoredValidator {
                        key: k.as_ref().try_into().unwrap_or([0; 32]),
                        account: entry.validators.account(k).unwrap_or_default(),
                        net_addr: entry.validators.net_addr(k).map(str::to_string),
                    })
                    .collect(),
            })
            .collect();
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&stored)?)?;
        std::fs::rename(&tmp, p)?;
        Ok(())
    }

    /// The set of `epoch`, if known.
    pub fn validators(&self, epoch: u64) -> Option<Validators> {
        lock(&self.inner).get(&epoch).map(|e| e.validators.clone())
    }

    /// The simplex scheme of `epoch`: signing if this node is a member, verifying otherwise (a
    /// non-member follows the chain without voting).
    pub fn scheme(&self, epoch: u64) -> Option<simplex_ed25519::Scheme> {
        lock(&self.inner)
            .get(&epoch)
            .map(|e| e.scheme.as_ref().clone())
    }

    /// Whether this node is in the set of `epoch`.
    pub fn is_member(&self, epoch: u64) -> bool {
        lock(&self.inner).get(&epoch).is_some_and(|e| e.member)
    }

    /// The highest epoch with a known set.
    pub fn latest(&self) -> u64 {
        lock(&self.inner).keys().next_back().copied().unwrap_or(0)
    }
}

impl Provider for EpochSets {
    type Scope = Epoch;
    type Scheme = simplex_ed25519::Scheme;

    fn scoped(&self, scope: Epoch) -> Option<Scoped<Self::Scheme>> {
        lock(&self.inner).get(&scope.get()).map(|e| {
            if e.member {
                Scoped::scheme(e.scheme.clone())
            } else {
                Scoped::verifier(e.scheme.clone())
            }
        })
    }
}
