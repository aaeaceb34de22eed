//! Staged writes over a read-only [`State`]: the AI VM checks a call and computes every value it
//! will write without touching the state, so the mempool can check calls under a read lock and a
//! refused call leaves nothing behind. [`Stage::finish`] turns the staged values into
//! [`Writes`], which [`State::apply_ai_writes`] applies and which cannot fail.

use super::types::{AiMeta, Deadline, Dispute, Model, Provider, StoredAttestation, Task};
use crate::error::TxError;
use crate::hash::Hash32;
use crate::state::{Account, Device, State};
use poai_primitives::{Address, DeviceId};
use std::collections::BTreeMap;

/// Values to write, in key order per table. `None` deletes.
#[derive(Debug, Clone, Default)]
pub struct Writes {
    pub(crate) meta: Option<AiMeta>,
    pub(crate) accounts: BTreeMap<Address, Account>,
    pub(crate) credits: BTreeMap<Address, u128>,
    pub(crate) models: BTreeMap<Hash32, Model>,
    pub(crate) providers: BTreeMap<Address, Provider>,
    pub(crate) attestations: BTreeMap<Hash32, StoredAttestation>,
    pub(crate) tasks: BTreeMap<Hash32, Task>,
    pub(crate) disputes: BTreeMap<Hash32, Dispute>,
    pub(crate) deadlines: BTreeMap<Deadline, bool>,
}

/// A view of `base` with staged writes on top.
#[derive(Debug)]
pub struct Stage<'a> {
    base: &'a State,
    w: Writes,
}

impl<'a> Stage<'a> {
    /// Stages over `base`.
    pub fn new(base: &'a State) -> Self {
        Self {
            base,
            w: Writes::default(),
        }
    }

    /// The state below.
    pub fn base(&self) -> &'a State {
        self.base
    }

    /// The staged writes.
    pub fn finish(self) -> Writes {
        self.w
    }

    /// AI counters.
    pub fn meta(&self) -> AiMeta {
        self.w.meta.unwrap_or_else(|| self.base.ai().meta())
    }

    /// Sets AI counters.
    pub fn set_meta(&mut self, m: AiMeta) {
        self.w.meta = Some(m);
    }

    /// An account.
    pub fn account(&self, a: &Address) -> Account {
        self.w
            .accounts
            .get(a)
            .copied()
            .unwrap_or_else(|| self.base.account(a))
    }

    /// Sets an account.
    pub fn set_account(&mut self, a: Address, v: Account) {
        self.w.accounts.insert(a, v);
    }

    /// An AIT balance.
    pub fn credits(&self, a: &Address) -> u128 {
        self.w
            .credits
            .get(a)
            .copied()
            .unwrap_or_else(|| self.base.ai().credits(a))
    }

    /// Sets an AIT balance.
    pub fn set_credits(&mut self, a: Address, v: u128) {
        self.w.credits.insert(a, v);
    }

    /// A device (devices are not written by the AI VM).
    pub fn device(&self, id: &DeviceId) -> Option<&'a Device> {
        self.base.device(id)
    }

    /// A model.
    pub fn model(&self, id: &Hash32) -> Option<Model> {
        self.w
            .models
            .get(id)
            .or_else(|| self.base.ai().model(id))
            .cloned()
    }

    /// Sets a model.
    pub fn set_model(&mut self, id: Hash32, m: Model) {
        self.w.models.insert(id, m);
    }

    /// A provider.
    pub fn provider(&self, a: &Address) -> Option<Provider> {
        self.w
            .providers
            .get(a)
            .or_else(|| self.base.ai().provider(a))
            .cloned()
    }

    /// Sets a provider.
    pub fn set_provider(&mut self, a: Address, p: Provider) {
        self.w.providers.insert(a, p);
    }

    /// Every provider, staged values over stored ones, in address order.
    pub fn providers(&self) -> Vec<(Address, Provider)> {
        let mut all: BTreeMap<Address, Provider> = self
            .base
            .ai()
            .providers()
            .map(|(a, p)| (*a, p.clone()))
            .collect();
        for (a, p) in &self.w.providers {
            all.insert(*a, p.clone());
        }
        all.into_iter().collect()
    }

    /// Whether an attestation is stored (or staged).
    pub fn has_attestation(&self, id: &Hash32) -> bool {
        self.w.attestations.contains_key(id) || self.base.ai().attestation(id).is_some()
    }

    /// An attestation (staged or stored).
    pub fn attestation(&self, id: &Hash32) -> Option<StoredAttestation> {
        self.w
            .attestations
            .get(id)
            .or_else(|| self.base.ai().attestation(id))
            .cloned()
    }

    /// Stores an attestation.
    pub fn set_attestation(&mut self, id: Hash32, a: StoredAttestation) {
        self.w.attestations.insert(id, a);
    }

    /// A task.
    pub fn task(&self, id: &Hash32) -> Option<Task> {
        self.w
            .tasks
            .get(id)
            .or_else(|| self.base.ai().task(id))
            .cloned()
    }

    /// Sets a task.
    pub fn set_task(&mut self, id: Hash32, t: Task) {
        self.w.tasks.insert(id, t);
    }

    /// A dispute.
    pub fn dispute(&self, id: &Hash32) -> Option<Dispute> {
        self.w
            .disputes
            .get(id)
            .or_else(|| self.base.ai().dispute(id))
            .cloned()
    }

    /// Sets a dispute.
    pub fn set_dispute(&mut self, id: Hash32, d: Dispute) {
        self.w.disputes.insert(id, d);
    }

    /// Queues a deadline.
    pub fn add_deadline(&mut self, d: Deadline) {
        self.w.deadlines.insert(d, true);
    }

    /// Removes a deadline.
    pub fn remove_deadline(&mut self, d: Deadline) {
        self.w.deadlines.insert(d, false);
    }

    /// Adds to a native balance.
    pub fn credit_native(&mut self, a: Address, amount: u128) -> Result<(), TxError> {
        let mut acct = self.account(&a);
        acct.balance = acct
            .balance
            .checked_add(amount)
            .ok_or(TxError::Overflow { field: "balance" })?;
        self.set_account(a, acct);
        Ok(())
    }

    /// Adds to an AIT balance.
    pub fn credit_ait(&mut self, a: Address, amount: u128) -> Result<(), TxError> {
        let v = self
            .credits(&a)
            .checked_add(amount)
            .ok_or(TxError::Overflow { field: "credits" })?;
        self.set_credits(a, v);
        Ok(())
    }

    /// Changes the AI counters with `f`, which fails on overflow.
    pub fn update_meta(
        &mut self,
        f: impl FnOnce(&mut AiMeta) -> Option<()>,
        field: &'static str,
    ) -> Result<(), TxError> {
        let mut m = self.meta();
        f(&mut m).ok_or(TxError::Overflow { field })?;
        self.set_meta(m);
        Ok(())
    }
}

impl State {
    /// Applies staged AI writes.
    pub fn apply_ai_writes(&mut self, w: Writes) {
        for (a, v) in w.accounts {
            self.set_account(a, v);
        }
        let ai = self.ai_mut();
        if let Some(m) = w.meta {
            ai.set_meta(m);
        }
        for (k, v) in w.credits {
            ai.credits.put(k, Some(v));
        }
        for (k, v) in w.models {
            ai.models.put(k, Some(v));
        }
        for (k, v) in w.providers {
            ai.providers.put(k, Some(v));
        }
        for (k, v) in w.attestations {
            ai.attestations.put(k, Some(v));
        }
        for (k, v) in w.tasks {
            ai.tasks.put(k, Some(v));
        }
        for (k, v) in w.disputes {
            ai.disputes.put(k, Some(v));
        }
        for (k, add) in w.deadlines {
            ai.deadlines.put(k, add.then_some(()));
        }
    }
}
