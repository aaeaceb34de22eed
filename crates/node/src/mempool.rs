//! The mempool: bounded, first come first served, with per-sender limits.
//!
//! Admission runs every rule of the state machine against the head state and the next block's
//! context ([`poai_chain::Machine::check`]), so a transaction that could not be included is
//! refused at once with its named error instead of disappearing later. On top of that:
//!
//! - at most [`Limits::max_total`] transactions and [`Limits::max_bytes`] bytes;
//! - per miner, at most 10 pending proofs: the per-block limit of SPEC section 2, so everything
//!   pending fits the next block and the 11th is refused with `TooManyProofsInBlock`;
//! - per sender, at most [`Limits::max_per_sender`] account transactions, with consecutive
//!   nonces (the next one after the account's nonce and its pending transactions);
//! - one pending proof per work id.
//!
//! Rules that depend on earlier pending transactions (a second proof of a device 10 s after a
//! pending one) are decided when the block is built; such a transaction is then rejected and its
//! error is kept for `poai_txStatus`.

use poai_chain::machine::BlockCounters;
use poai_chain::{
    BlockContext, Machine, Prepared, State, Transaction, TxError, TxHash, machine::Verdict,
};
use poai_primitives::{Address, WorkId};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Mempool limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most transactions.
    pub max_total: usize,
    /// Most bytes (encoded).
    pub max_bytes: usize,
    /// Most account transactions per sender.
    pub max_per_sender: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total: 50_000,
            max_bytes: 256 * 1024 * 1024,
            max_per_sender: 16,
        }
    }
}

struct Entry {
    prepared: Prepared,
    sender: Address,
    work_id: Option<WorkId>,
    size: usize,
}

/// Pending transactions in arrival order.
pub struct Mempool {
    limits: Limits,
    seq: u64,
    order: BTreeMap<u64, TxHash>,
    entries: HashMap<TxHash, (u64, Entry)>,
    proofs: BlockCounters,
    account_txs: HashMap<Address, usize>,
    work_ids: HashSet<WorkId>,
    bytes: usize,
}

impl Mempool {
    /// An empty mempool.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            seq: 0,
            order: BTreeMap::new(),
            entries: HashMap::new(),
            proofs: BlockCounters::default(),
            account_txs: HashMap::new(),
            work_ids: HashSet::new(),
            bytes: 0,
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `hash` waits.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.entries.contains_key(hash)
    }

    /// Admits a prepared transaction or says why not.
    pub fn admit(
        &mut self,
        machine: &Machine,
        state: &State,
        ctx: &BlockContext,
        prepared: Prepared,
    ) -> Result<TxHash, TxError> {
        let hash = prepared.hash();
        let full = |reason: String| TxError::MempoolFull { reason };
        if self.entries.contains_key(&hash) {
            return Ok(hash);
        }
        let size = prepared.tx().encoded_len();
        if self.entries.len() >= self.limits.max_total
            || self.bytes.saturating_add(size) > self.limits.max_bytes
        {
            return Err(full(format!(
                "{} transactions, {} bytes pending",
                self.entries.len(),
                self.bytes
            )));
        }
        let work_id = prepared.work_id(state);
        if let Some(w) = work_id
            && self.work_ids.contains(&w)
        {
            return Err(TxError::WorkIdPending { work_id: w });
        }
        let sender = match (prepared.tx(), prepared.sender(state)) {
            (_, Some(s)) => s,
            (Transaction::Proof(p), None) => {
                return Err(TxError::UnknownDevice {
                    device_id: p.proof.device_id,
                });
            }
            (Transaction::Account(t), None) => t.sender(),
        };
        match prepared.tx() {
            Transaction::Proof(_) => {
                machine.check(state, ctx, &self.proofs, &prepared)?;
            }
            Transaction::Account(t) => {
                let pending = self.account_txs.get(&sender).copied().unwrap_or(0);
                if pending >= self.limits.max_per_sender {
                    return Err(full(format!(
                        "sender {sender} has {pending} pending transactions"
                    )));
                }
                // Check against the head state as if the pending ones were applied: only the
                // nonce moves, so shift it back for the check.
                let expected = state
                    .account(&sender)
                    .nonce
                    .saturating_add(u64::try_from(pending).unwrap_or(u64::MAX));
                if t.body.nonce != expected {
                    return Err(TxError::BadNonce {
                        expected,
                        got: t.body.nonce,
                    });
                }
                if pending == 0 {
                    machine.check(state, ctx, &self.proofs, &prepared)?;
                } else if prepared.signature_invalid() {
                    return Err(TxError::TxSignatureInvalid { sender });
                }
            }
        }
        let seq = self.seq;
        self.seq = self.seq.saturating_add(1);
        self.order.insert(seq, hash);
        match prepared.tx() {
            Transaction::Proof(_) => self.proofs.add_proof(sender),
            Transaction::Account(_) => {
                *self.account_txs.entry(sender).or_insert(0) += 1;
            }
        }
        if let Some(w) = work_id {
            self.work_ids.insert(w);
        }
        self.bytes = self.bytes.saturating_add(size);
        self.entries.insert(
            hash,
            (
                seq,
                Entry {
                    prepared,
                    sender,
                    work_id,
                    size,
                },
            ),
        );
        Ok(hash)
    }

    /// Up to `max` transactions in arrival order, for the next block.
    pub fn candidates(&self, max: usize) -> Vec<Prepared> {
        self.candidates_fitting(max, usize::MAX, 0, &HashSet::new())
            .0
    }

    /// The next block's transactions when the block is also capped in bytes: up to `max` in
    /// arrival order, leaving out `skip` (already in unfinalized blocks), each weighing its
    /// encoding plus `overhead` bytes, stopping before the first that would exceed `budget`.
    /// Only those are copied out: a consensus proposer took and copied the whole pool before,
    /// to keep one block's worth. The flag says whether the block is full: more transactions
    /// wait than `max` or `budget` let in.
    pub fn candidates_fitting(
        &self,
        max: usize,
        budget: usize,
        overhead: usize,
        skip: &HashSet<TxHash>,
    ) -> (Vec<Prepared>, bool) {
        let mut left = budget;
        let mut out = Vec::new();
        for h in self.order.values() {
            if skip.contains(h) {
                continue;
            }
            let Some((_, e)) = self.entries.get(h) else {
                continue;
            };
            if out.len() >= max {
                return (out, true);
            }
            match left.checked_sub(e.size.saturating_add(overhead)) {
                Some(l) => left = l,
                None => return (out, true),
            }
            out.push(e.prepared.clone());
        }
        (out, false)
    }

    /// The signature verdicts of the transactions among `hashes` that wait here, reused when a
    /// peer's block includes them (the block brings the transactions; only verdicts are copied).
    pub fn verdicts(&self, hashes: impl IntoIterator<Item = TxHash>) -> HashMap<TxHash, Verdict> {
        hashes
            .into_iter()
            .filter_map(|h| self.entries.get(&h).map(|(_, e)| (h, e.prepared.verdict())))
            .collect()
    }

    /// The transactions with these hashes, by position: `None` where one does not wait here (a
    /// peer's compact block is filled from them, docs/DESIGN-consensus.md section 1.6).
    pub fn lookup(&self, hashes: &[TxHash]) -> Vec<Option<Transaction>> {
        hashes
            .iter()
            .map(|h| self.entries.get(h).map(|(_, e)| e.prepared.tx().clone()))
            .collect()
    }

    /// Removes transactions (included or rejected).
    pub fn remove(&mut self, hashes: impl IntoIterator<Item = TxHash>) {
        for h in hashes {
            let Some((seq, e)) = self.entries.remove(&h) else {
                continue;
            };
            self.order.remove(&seq);
            self.bytes = self.bytes.saturating_sub(e.size);
            if let Some(w) = e.work_id {
                self.work_ids.remove(&w);
            }
            match e.prepared.tx() {
                Transaction::Proof(_) => self.proofs.remove_proof(&e.sender),
                Transaction::Account(_) => {
                    if let Some(n) = self.account_txs.get_mut(&e.sender) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.account_txs.remove(&e.sender);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devnet::devnet_genesis;
    use poai_chain::evidence::{dev_device_id, dev_evidence};
    use poai_chain::{Call, ProofTx, SignedTx, TxBody, genesis_block};
    use poai_crypto::{ParamSet, SigningKey};
    use poai_primitives::{DeviceId, Nonce, PrivacyLevel, WorkProof};

    struct Fixture {
        machine: Machine,
        state: State,
        key: SigningKey,
        device: DeviceId,
    }

    fn fixture() -> Fixture {
        let machine = Machine::new();
        let mut state = State::from_genesis(&devnet_genesis(1_800_000_000, 60));
        genesis_block(&mut state);
        state.take_changes();
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[3; 32]).unwrap();
        let reg = Transaction::Account(
            SignedTx::sign(
                TxBody {
                    chain_id: state.genesis().chain_id,
                    nonce: 0,
                    fee: 0,
                    call: Call::RegisterDevice {
                        evidence: dev_evidence(PrivacyLevel::Public, &[8; 32]),
                    },
                },
                &key,
            )
            .unwrap(),
        );
        let p = machine.prepare(&state, vec![reg]);
        let ctx = BlockContext::next(
            &state,
            Machine::next_timestamp(&state, 0),
            Address::default(),
        );
        assert_eq!(machine.propose(&mut state, ctx, &p).receipts.len(), 1);
        state.take_changes();
        Fixture {
            machine,
            state,
            key,
            device: dev_device_id(&[8; 32]),
        }
    }

    /// The context of the block after the fixture's head.
    fn next_ctx(f: &Fixture) -> BlockContext {
        BlockContext::next(
            &f.state,
            Machine::next_timestamp(&f.state, 0),
            Address::default(),
        )
    }

    fn proof_tx(f: &Fixture, n: u8, ts: u64) -> Prepared {
        let p = WorkProof {
            device_id: f.device,
            nonce: Nonce([n; 32]),
            timestamp: ts,
            privacy_level: PrivacyLevel::Public,
            compute_minutes: 0,
            tee_evidence: Vec::new(),
        };
        let chain = f.state.genesis().chain_id;
        let tx = ProofTx::sign(p, Address([1; 20]), chain, &f.key).unwrap();
        f.machine
            .prepare(&f.state, vec![Transaction::Proof(tx)])
            .pop()
            .unwrap()
    }

    fn transfer(f: &Fixture, nonce: u64) -> Prepared {
        let body = TxBody {
            chain_id: f.state.genesis().chain_id,
            nonce,
            fee: 0,
            call: Call::Transfer {
                to: Address([2; 20]),
                amount: 0,
            },
        };
        let tx = Transaction::Account(SignedTx::sign(body, &f.key).unwrap());
        f.machine.prepare(&f.state, vec![tx]).pop().unwrap()
    }

    #[test]
    fn per_miner_proof_limit_and_pending_work_ids() {
        let f = fixture();
        let ctx = next_ctx(&f);
        let mut pool = Mempool::new(Limits::default());
        let ts = f.state.head().timestamp;
        for n in 0..10u8 {
            pool.admit(&f.machine, &f.state, &ctx, proof_tx(&f, n, ts))
                .unwrap();
        }
        let err = pool
            .admit(&f.machine, &f.state, &ctx, proof_tx(&f, 10, ts))
            .unwrap_err();
        assert_eq!(err.name(), "TooManyProofsInBlock");
        // Same work id, different timestamp: pending already.
        let err = pool
            .admit(&f.machine, &f.state, &ctx, proof_tx(&f, 0, ts + 1))
            .unwrap_err();
        assert!(matches!(
            err,
            TxError::TooManyProofsInBlock { .. } | TxError::WorkIdPending { .. }
        ));
        assert_eq!(pool.candidates(100).len(), 10);
        let first = pool.candidates(1)[0].hash();
        pool.remove([first]);
        assert_eq!(pool.len(), 9);
        let err = pool
            .admit(&f.machine, &f.state, &ctx, proof_tx(&f, 1, ts + 1))
            .unwrap_err();
        assert_eq!(err.name(), "WorkIdPending");
        pool.admit(&f.machine, &f.state, &ctx, proof_tx(&f, 10, ts))
            .unwrap();
    }

    #[test]
    fn candidates_fitting_skips_and_stops_at_the_byte_budget() {
        let f = fixture();
        let ctx = next_ctx(&f);
        let mut pool = Mempool::new(Limits::default());
        let ts = f.state.head().timestamp;
        let txs: Vec<Prepared> = (0..6u8).map(|n| proof_tx(&f, n, ts)).collect();
        for t in &txs {
            pool.admit(&f.machine, &f.state, &ctx, t.clone()).unwrap();
        }
        let size = txs[0].tx().encode().len();
        let hashes = |v: &[Prepared]| v.iter().map(Prepared::hash).collect::<Vec<_>>();
        let all = hashes(&txs);
        let none = HashSet::new();
        // Room for exactly three with the overhead; the fourth would pass the budget.
        let (three, full) = pool.candidates_fitting(10, 3 * (size + 4), 4, &none);
        assert_eq!(hashes(&three), all[..3]);
        assert!(full);
        let (two, _) = pool.candidates_fitting(10, 3 * (size + 4) - 1, 4, &none);
        assert_eq!(two.len(), 2);
        // Skipped ones take no room; the count cap holds; everything fits: not full.
        let skip: HashSet<TxHash> = [all[0], all[2]].into_iter().collect();
        let (fit, full) = pool.candidates_fitting(10, 3 * (size + 4), 4, &skip);
        assert_eq!(hashes(&fit), vec![all[1], all[3], all[4]]);
        assert!(full);
        let (capped, full) = pool.candidates_fitting(2, usize::MAX, 4, &skip);
        assert_eq!(hashes(&capped), vec![all[1], all[3]]);
        assert!(full);
        let (rest, full) = pool.candidates_fitting(4, usize::MAX, 4, &skip);
        assert_eq!(hashes(&rest), vec![all[1], all[3], all[4], all[5]]);
        assert!(!full);
        let (none_fit, full) = pool.candidates_fitting(10, size, 4, &none);
        assert!(none_fit.is_empty() && full);
    }

    #[test]
    fn account_nonces_are_consecutive_and_bounded() {
        let f = fixture();
        let ctx = next_ctx(&f);
        let limits = Limits {
            max_per_sender: 3,
            ..Limits::default()
        };
        let mut pool = Mempool::new(limits);
        // The key's registration used nonce 0.
        let err = pool
            .admit(&f.machine, &f.state, &ctx, transfer(&f, 2))
            .unwrap_err();
        assert_eq!(err.name(), "BadNonce");
        let txs: Vec<Prepared> = (1..4).map(|n| transfer(&f, n)).collect();
        for t in &txs {
            pool.admit(&f.machine, &f.state, &ctx, t.clone()).unwrap();
        }
        let err = pool
            .admit(&f.machine, &f.state, &ctx, transfer(&f, 4))
            .unwrap_err();
        assert_eq!(err.name(), "MempoolFull");
        let order: Vec<TxHash> = pool.candidates(10).iter().map(Prepared::hash).collect();
        let sent: Vec<TxHash> = txs.iter().map(Prepared::hash).collect();
        assert_eq!(order, sent, "arrival order");
    }
}
