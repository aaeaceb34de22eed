//! The state-transition function: transaction rules, block proposal and block execution.
//!
//! The interface a consensus engine drives is three calls on [`Machine`]:
//!
//! - [`Machine::prepare`]: decode-free signature checking of many transactions at once, spread
//!   across cores ([`poai_crypto::verify_batch`]) or on a GPU ([`SignatureVerifier`]); the
//!   result carries each verdict, so nothing is verified twice.
//! - [`Machine::propose`]: build the next block from candidate transactions. A candidate that
//!   breaks a rule is left out (with its named error) and the others are included: one bad proof
//!   never costs anyone else their place in the block.
//! - [`Machine::execute_block`]: validate and apply a block someone else proposed. Here every
//!   transaction must be valid (an honest proposer left the invalid ones out), otherwise the block
//!   is rejected and the state rolled back.
//!
//! Work-proof acceptance (SPEC section 2), checked in this order, each with its own
//! [`TxError`]: device registered, signature, work id not spent, timestamp within
//! [block_time − 3600, block_time + 60], at least 30 s after the device's previous accepted
//! proof, compute_minutes ≤ 60 and ≤ whole minutes since the previous proof (or registration),
//! privacy_level ≤ the attested tier, at most 10 proofs per miner per block. The payout is
//! [`poai_economics::MiningLedger::apply`]: `gross >> epoch`, cut to the ceiling, 2 % to the
//! treasury (SPEC section 3).
//!
//! Before a block's transactions, [`crate::ai::begin_block`] runs the AI VM's due deadlines
//! (task and referee draws from the parent hash, commit/reveal/referee timeouts) and
//! [`crate::validator::begin_block`] releases unbonded validator stake whose epoch has come;
//! proposal and execution both do (through one function, so they cannot diverge), and replay
//! reaches the same state.
//!
//! Nothing here reads a clock: block time is the header's timestamp.

use crate::block::{Block, Header, Outcome, Receipt};
use crate::error::{BlockError, TxError};
use crate::evidence::{self, Attested, EvidenceVerifier};
use crate::hash::{Hash32, merkle_root};
use crate::state::{Account, Device, Head, State};
use crate::tx::{Call, ProofTx, SignedTx, Transaction, TxHash, address_of};
use poai_crypto::{BatchItem, proof_work_id, verify_batch};
use poai_economics::{Payout, gross_reward_for};
use poai_primitives::{Address, DeviceId, WorkId};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// At most this many proofs per miner per block.
pub const MAX_PROOFS_PER_MINER_PER_BLOCK: usize = 10;
/// A proof may be at most this old (seconds before the block time).
pub const PROOF_MAX_AGE_SECS: u64 = 3600;
/// A proof may be at most this far ahead of the block time.
pub const PROOF_MAX_AHEAD_SECS: u64 = 60;
/// Least seconds between two accepted proofs of a device.
pub const MIN_PROOF_INTERVAL_SECS: u64 = 30;
/// Most compute minutes in one proof.
pub const MAX_COMPUTE_MINUTES: u32 = 60;

/// The block being built or executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    /// Its height.
    pub height: u64,
    /// Its timestamp (the block time of every rule).
    pub timestamp: u64,
    /// Its proposer (paid the fees).
    pub proposer: Address,
}

impl BlockContext {
    /// The context of the block after `state`'s head.
    pub fn next(state: &State, timestamp: u64, proposer: Address) -> Self {
        Self {
            height: state.head().height.saturating_add(1),
            timestamp,
            proposer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigCheck {
    /// Not checked yet (a proof whose device was unknown when prepared).
    Unchecked,
    /// Valid; for a proof, under the key of this miner.
    Valid(Address),
    /// Does not verify.
    Invalid,
}

/// The signature verdict of a prepared transaction ([`Prepared::verdict`]), reused when a block
/// includes the transaction ([`Machine::execute_block_with`]). Opaque: only [`Machine::prepare`]
/// makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict(SigCheck);

/// A transaction with its hash and signature verdict.
#[derive(Debug, Clone)]
pub struct Prepared {
    tx: Transaction,
    hash: TxHash,
    sig: SigCheck,
}

impl Prepared {
    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    /// Its hash.
    pub fn hash(&self) -> TxHash {
        self.hash
    }

    /// Its signature verdict, to reuse for the same transaction in a block.
    pub fn verdict(&self) -> Verdict {
        Verdict(self.sig)
    }

    /// Whether its signature was found invalid.
    pub fn signature_invalid(&self) -> bool {
        self.sig == SigCheck::Invalid
    }

    /// Whether it is a proof of a device that the state it was prepared against does not
    /// know (its signature is not checked yet).
    pub fn device_unknown(&self) -> bool {
        matches!(self.tx, Transaction::Proof(_)) && self.sig == SigCheck::Unchecked
    }

    /// Who is rate-limited for it: the sender of an account transaction, the device's miner for a
    /// proof (`None` if the device is unknown); for a proof whose signature checked, the miner
    /// it checked under, that is, in the state it was prepared against.
    pub fn sender(&self, state: &State) -> Option<Address> {
        match (&self.tx, self.sig) {
            // The signature check looked the device up already: its miner is in the verdict.
            (Transaction::Proof(_), SigCheck::Valid(owner)) => Some(owner),
            (Transaction::Account(tx), _) => Some(tx.sender()),
            (Transaction::Proof(p), _) => state.device(&p.proof.device_id).map(|d| d.miner),
        }
    }

    /// The work id, for a proof, on the chain of `state`.
    pub fn work_id(&self, state: &State) -> Option<WorkId> {
        match &self.tx {
            Transaction::Proof(p) => Some(proof_work_id(&p.proof, state.genesis().chain_id)),
            Transaction::Account(_) => None,
        }
    }
}

/// Proofs per miner so far in a block (or pending for the next one, in a mempool).
#[derive(Debug, Clone, Default)]
pub struct BlockCounters {
    proofs: HashMap<Address, usize>,
}

impl BlockCounters {
    /// Proofs of `miner` counted.
    pub fn proofs_of(&self, miner: &Address) -> usize {
        self.proofs.get(miner).copied().unwrap_or(0)
    }

    /// Counts one more proof of `miner`.
    pub fn add_proof(&mut self, miner: Address) {
        let n = self.proofs.entry(miner).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// Counts one proof of `miner` less.
    pub fn remove_proof(&mut self, miner: &Address) {
        if let Some(n) = self.proofs.get_mut(miner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.proofs.remove(miner);
            }
        }
    }
}

/// The result of [`Machine::propose`].
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The block (already applied to the state).
    pub block: Block,
    /// One receipt per included transaction.
    pub receipts: Vec<Receipt>,
    /// Candidates left out for good, with why.
    pub rejected: Vec<(TxHash, TxError)>,
    /// Candidates left out for now (block full, miner's block limit): still valid later.
    pub deferred: Vec<TxHash>,
}

/// What a checked transaction will do; applying it cannot fail.
enum Plan {
    Transfer {
        sender: Address,
        after: Account,
        fee: u128,
        to: Address,
        amount: u128,
        ai: bool,
    },
    Register {
        sender: Address,
        after: Account,
        fee: u128,
        key: poai_crypto::VerifyingKey,
        attested: Attested,
    },
    Ai {
        writes: crate::ai::stage::Writes,
        fee: u128,
        outcome: crate::ai::exec::AiOutcome,
    },
    Validator {
        sender: Address,
        after: Account,
        fee: u128,
        plan: crate::validator::ValidatorPlan,
    },
    Mine {
        work_id: WorkId,
        device_id: DeviceId,
        miner: Address,
        beneficiary: Address,
        timestamp: u64,
        payout: Payout,
    },
}

/// Checks many ML-DSA signatures at once, one result per item, in order. The default is
/// [`poai_crypto::verify_batch`] on the CPU; a node can plug in another backend (the GPU batch
/// verifier of `poai-gpu`) that must give the same result for every item, so the choice never
/// changes consensus.
pub trait SignatureVerifier: Send + Sync {
    /// Verifies every item; result `i` belongs to item `i`.
    fn verify_batch(&self, items: &[BatchItem<'_>]) -> Vec<Result<bool, poai_crypto::MlDsaError>>;
}

/// The A-chain state machine. Holds only configuration: the verifier for real TEE evidence and
/// the batch signature verifier; and a count of the signatures it checked.
#[derive(Clone, Default)]
pub struct Machine {
    evidence: Option<Arc<dyn EvidenceVerifier>>,
    signatures: Option<Arc<dyn SignatureVerifier>>,
    /// Signatures checked by this machine and its clones (they share it). Signature checks are
    /// most of a validator's work; the count shows whether any is done twice.
    checked: Arc<AtomicU64>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("evidence_verifier", &self.evidence.is_some())
            .field("signature_verifier", &self.signatures.is_some())
            .finish()
    }
}

impl Machine {
    /// Signatures checked so far by this machine and its clones (ML-DSA verifications, each
    /// batch item and each single check counted once).
    pub fn signatures_checked(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    fn count_checks(&self, n: usize) {
        self.checked
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// A machine that accepts only dev evidence (where genesis allows it).
    pub fn new() -> Self {
        Self::default()
    }

    /// A machine that checks real TEE evidence with `verifier`.
    pub fn with_evidence_verifier(verifier: Arc<dyn EvidenceVerifier>) -> Self {
        Self {
            evidence: Some(verifier),
            ..Self::default()
        }
    }

    /// The same machine, checking signatures in batches with `verifier` instead of the CPU.
    pub fn with_signature_verifier(mut self, verifier: Arc<dyn SignatureVerifier>) -> Self {
        self.signatures = Some(verifier);
        self
    }

    /// The timestamp of the next block when the proposer's clock reads `now_unix`: the parent's
    /// plus the genesis's dev step on a devnet, otherwise `max(now, parent)`. Timestamps are whole
    /// seconds and a chain may make several blocks a second, so consecutive blocks may share one;
    /// requiring `parent + 1` would run chain time ahead of the clocks, until verifiers wait for
    /// their clocks and the chain makes at most one block a second (docs/DESIGN-chain.md, "Times").
    pub fn next_timestamp(state: &State, now_unix: u64) -> u64 {
        let parent = state.head().timestamp;
        match state.genesis().dev_block_time_step {
            Some(step) => parent.saturating_add(step),
            None => now_unix.max(parent),
        }
    }

    /// The hashes of `txs`, in order (in parallel for large blocks).
    pub fn tx_hashes(txs: &[Transaction]) -> Vec<TxHash> {
        if txs.len() < 64 {
            txs.iter().map(Transaction::hash).collect()
        } else {
            txs.par_iter().map(Transaction::hash).collect()
        }
    }

    /// The signature verdicts of `txs`, whose hashes are `hashes`: `known`'s valid ones where it
    /// has them, checked here otherwise ([`Machine::check_signatures`]). The transactions are
    /// borrowed from the block: a verdict is all that is reused, so nothing is copied. A verdict
    /// is taken at its first occurrence, so a transaction the block repeats is checked afresh
    /// the second time (and then refused by execution as a replay).
    fn verdicts_reusing(
        &self,
        state: &State,
        txs: &[Transaction],
        hashes: &[TxHash],
        mut known: HashMap<TxHash, Verdict>,
    ) -> Vec<SigCheck> {
        known.retain(|_, v| matches!(v.0, SigCheck::Valid(_)));
        let slots: Vec<Option<SigCheck>> = hashes
            .iter()
            .map(|h| known.remove(h).map(|v| v.0))
            .collect();
        let fresh: Vec<&Transaction> = txs
            .iter()
            .zip(&slots)
            .filter(|(_, slot)| slot.is_none())
            .map(|(tx, _)| tx)
            .collect();
        let mut fresh = self.check_signatures(state, &fresh).into_iter();
        slots
            .into_iter()
            .map(|slot| slot.or_else(|| fresh.next()).unwrap_or(SigCheck::Unchecked))
            .collect()
    }

    /// Why `tx` can never again be included on top of `state`, if that is known without its
    /// signature: a proof whose work id is spent, an account transaction whose nonce is used.
    /// Admission asks this before the signature check, which is by far the dearest part of
    /// admitting a transaction: a copy that arrives after its block was final (gossip behind
    /// consensus, a peer or client resending it) then costs a hash lookup, not a verification.
    /// `None` says nothing about validity: the transaction still goes through
    /// [`Machine::prepare`] and [`Machine::check`].
    pub fn settled(state: &State, tx: &Transaction) -> Option<TxError> {
        let chain_id = state.genesis().chain_id;
        match tx {
            Transaction::Proof(p) => {
                let work_id = proof_work_id(&p.proof, chain_id);
                state
                    .is_spent(&work_id)
                    .then_some(TxError::WorkIdSpent { work_id })
            }
            Transaction::Account(t) if t.body.chain_id == chain_id => {
                let expected = state.account(&t.sender()).nonce;
                (t.body.nonce < expected).then_some(TxError::BadNonce {
                    expected,
                    got: t.body.nonce,
                })
            }
            Transaction::Account(_) => None,
        }
    }

    /// Hashes and checks the signatures of `txs` against `state`, in parallel.
    pub fn prepare(&self, state: &State, txs: Vec<Transaction>) -> Vec<Prepared> {
        let hashes = Self::tx_hashes(&txs);
        self.prepare_hashed(state, txs, hashes)
    }

    /// [`Machine::prepare`] for transactions whose hashes the caller already computed with
    /// [`Machine::tx_hashes`] (`hashes[i]` is the hash of `txs[i]`; a missing one is computed).
    pub fn prepare_hashed(
        &self,
        state: &State,
        txs: Vec<Transaction>,
        mut hashes: Vec<TxHash>,
    ) -> Vec<Prepared> {
        if hashes.len() != txs.len() {
            hashes = Self::tx_hashes(&txs);
        }
        let refs: Vec<&Transaction> = txs.iter().collect();
        let sigs = self.check_signatures(state, &refs);
        drop(refs);
        txs.into_iter()
            .zip(hashes)
            .zip(sigs)
            .map(|((tx, hash), sig)| Prepared { tx, hash, sig })
            .collect()
    }

    /// The signature verdicts of `txs` against `state`, checked in parallel: `Unchecked` for a
    /// proof whose device `state` does not know.
    fn check_signatures(&self, state: &State, txs: &[&Transaction]) -> Vec<SigCheck> {
        if txs.is_empty() {
            return Vec::new();
        }
        let chain_id = state.genesis().chain_id;
        // Messages first, so batch items can borrow them.
        // Signed messages and transaction hashes are per-item work like the signature checks
        // themselves; on a block of 50,000 proofs they took as long as a GPU's whole batch
        // verification when done on one thread, so they are spread across cores too.
        // A proof's device is looked up once, here, beside its message: each lookup is a
        // search of the device map, which misses the cache at tens of thousands of devices.
        let message = |tx: &&Transaction| match *tx {
            Transaction::Account(t) => Some((t.body.signing_message(), None)),
            Transaction::Proof(p) => state
                .device(&p.proof.device_id)
                .map(|d| (p.message(chain_id), Some(d))),
        };
        let messages: Vec<Option<(Vec<u8>, Option<&Device>)>> = if txs.len() < 64 {
            txs.iter().map(message).collect()
        } else {
            txs.par_iter().map(message).collect()
        };
        let mut items = Vec::with_capacity(txs.len());
        let mut owners = Vec::with_capacity(txs.len());
        for (&tx, found) in txs.iter().zip(&messages) {
            let Some((msg, device)) = found else { continue };
            // A device's key carries its `tr` from registration, so its proofs skip hashing
            // the key (poai_crypto::mu); an account transaction's key is decoded from the
            // transaction itself and used once, so it is verified as it comes.
            let (key, tr, sig, owner) = match (tx, device) {
                (Transaction::Account(t), _) => (&t.public_key, None, &t.signature, t.sender()),
                (Transaction::Proof(p), Some(d)) => {
                    (&d.key, Some(d.key.tr()), &p.signature, d.miner)
                }
                (Transaction::Proof(_), None) => continue,
            };
            items.push(BatchItem {
                param: key.param_set(),
                public_key: key.as_bytes(),
                tr,
                message: msg,
                context: &[],
                signature: sig,
            });
            owners.push(owner);
        }
        self.count_checks(items.len());
        let verdicts = match &self.signatures {
            Some(v) => v.verify_batch(&items),
            None => verify_batch(&items),
        };
        let mut verdicts = verdicts.into_iter().zip(owners).map(|(v, owner)| match v {
            Ok(true) => SigCheck::Valid(owner),
            _ => SigCheck::Invalid,
        });
        drop(items);
        messages
            .iter()
            .map(|msg| match msg {
                Some(_) => verdicts.next().unwrap_or(SigCheck::Unchecked),
                None => SigCheck::Unchecked,
            })
            .collect()
    }

    /// Checks one transaction against `state` in block `ctx`, without changing anything. The
    /// mempool calls it on admission, with `counters` holding the miner's pending proofs.
    pub fn check(
        &self,
        state: &State,
        ctx: &BlockContext,
        counters: &BlockCounters,
        p: &Prepared,
    ) -> Result<(), TxError> {
        self.plan(state, ctx, counters, &p.tx, p.hash, p.sig)
            .map(|_| ())
    }

    fn plan(
        &self,
        state: &State,
        ctx: &BlockContext,
        counters: &BlockCounters,
        tx: &Transaction,
        hash: TxHash,
        sig: SigCheck,
    ) -> Result<Plan, TxError> {
        match tx {
            Transaction::Account(tx) => self.plan_account(state, ctx, tx, sig, hash),
            Transaction::Proof(proof) => plan_proof(self, state, ctx, counters, proof, sig),
        }
    }

    fn plan_account(
        &self,
        state: &State,
        ctx: &BlockContext,
        tx: &SignedTx,
        sig: SigCheck,
        hash: TxHash,
    ) -> Result<Plan, TxError> {
        let g = state.genesis();
        if tx.body.chain_id != g.chain_id {
            return Err(TxError::WrongChainId {
                expected: g.chain_id,
                got: tx.body.chain_id,
            });
        }
        let sender = tx.sender();
        let valid = match sig {
            SigCheck::Valid(_) => true,
            SigCheck::Invalid => false,
            SigCheck::Unchecked => {
                self.count_checks(1);
                tx.verify()
            }
        };
        if !valid {
            return Err(TxError::TxSignatureInvalid { sender });
        }
        let acct = state.account(&sender);
        if tx.body.nonce != acct.nonce {
            return Err(TxError::BadNonce {
                expected: acct.nonce,
                got: tx.body.nonce,
            });
        }
        let fee = tx.body.fee;
        if fee < g.min_fee {
            return Err(TxError::FeeTooLow {
                min: g.min_fee.to_string(),
                got: fee.to_string(),
            });
        }
        let insufficient =
            |asset: &'static str, available: u128, needed: u128| TxError::InsufficientBalance {
                sender,
                asset,
                available: available.to_string(),
                needed: needed.to_string(),
            };
        let mut after = acct;
        after.nonce = acct
            .nonce
            .checked_add(1)
            .ok_or(TxError::Overflow { field: "nonce" })?;
        after.balance = acct
            .balance
            .checked_sub(fee)
            .ok_or_else(|| insufficient("native", acct.balance, fee))?;
        match &tx.body.call {
            Call::Transfer { to, amount } => {
                after.balance = after.balance.checked_sub(*amount).ok_or_else(|| {
                    insufficient("native", acct.balance, fee.saturating_add(*amount))
                })?;
                Ok(Plan::Transfer {
                    sender,
                    after,
                    fee,
                    to: *to,
                    amount: *amount,
                    ai: false,
                })
            }
            Call::TransferAi { to, amount } => {
                after.ai = after
                    .ai
                    .checked_sub(*amount)
                    .ok_or_else(|| insufficient("AI", acct.ai, *amount))?;
                Ok(Plan::Transfer {
                    sender,
                    after,
                    fee,
                    to: *to,
                    amount: *amount,
                    ai: true,
                })
            }
            Call::RegisterDevice { evidence } => {
                let attested = if evidence::is_dev_evidence(evidence) {
                    if !g.allow_dev_evidence {
                        return Err(TxError::DevEvidenceDisabled);
                    }
                    evidence::parse_dev_evidence(evidence)
                        .map_err(|reason| TxError::EvidenceInvalid { reason })?
                } else {
                    let verifier =
                        self.evidence
                            .as_ref()
                            .ok_or_else(|| TxError::EvidenceInvalid {
                                reason: "this node has no TEE evidence verifier configured".into(),
                            })?;
                    let nonce = evidence::registration_nonce(g.chain_id, &sender, tx.body.nonce);
                    verifier
                        .verify(evidence, &nonce, ctx.timestamp)
                        .map_err(|reason| TxError::EvidenceInvalid { reason })?
                };
                if let Some(d) = state.device(&attested.device_id)
                    && d.miner != sender
                {
                    return Err(TxError::DeviceOwnedByOther {
                        device_id: attested.device_id,
                        owner: d.miner,
                    });
                }
                Ok(Plan::Register {
                    sender,
                    after,
                    fee,
                    key: tx.public_key.clone(),
                    attested,
                })
            }
            Call::Validator(call) => {
                let (plan, balance) =
                    crate::validator::plan(state, ctx, sender, after.balance, fee, call)?;
                after.balance = balance;
                Ok(Plan::Validator {
                    sender,
                    after,
                    fee,
                    plan,
                })
            }
            Call::Ai(call) => {
                let mut stage = crate::ai::stage::Stage::new(state);
                stage.set_account(sender, after);
                let outcome = crate::ai::exec::stage_call(
                    &mut stage,
                    ctx,
                    crate::ai::exec::TxInfo {
                        sender,
                        nonce: tx.body.nonce,
                        hash,
                    },
                    call,
                )?;
                Ok(Plan::Ai {
                    writes: stage.finish(),
                    fee,
                    outcome,
                })
            }
        }
    }

    fn apply(
        state: &mut State,
        ctx: &BlockContext,
        counters: &mut BlockCounters,
        plan: Plan,
    ) -> Outcome {
        match plan {
            Plan::Transfer {
                sender,
                after,
                fee,
                to,
                amount,
                ai,
            } => {
                state.set_account(sender, after);
                let mut dest = state.account(&to);
                if ai {
                    dest.ai = dest.ai.saturating_add(amount);
                } else {
                    dest.balance = dest.balance.saturating_add(amount);
                }
                state.set_account(to, dest);
                pay_fee(state, ctx, fee);
                if ai {
                    Outcome::TransferAi
                } else {
                    Outcome::Transfer
                }
            }
            Plan::Register {
                sender,
                after,
                fee,
                key,
                attested,
            } => {
                state.set_account(sender, after);
                pay_fee(state, ctx, fee);
                let device = match state.device(&attested.device_id) {
                    Some(d) => Device {
                        tier: attested.tier,
                        trust_score: attested.trust_score,
                        kind: attested.kind,
                        registered_at: ctx.timestamp,
                        ..d.clone()
                    },
                    None => Device {
                        miner: sender,
                        key,
                        tier: attested.tier,
                        trust_score: attested.trust_score,
                        kind: attested.kind,
                        registered_at: ctx.timestamp,
                        last_proof_at: None,
                        proofs: 0,
                        paid: 0,
                    },
                };
                // Hash the key's tr now, once: every proof the device signs is then verified
                // from it (poai_crypto::mu). Part of registering, not of the device's first proof.
                let _ = device.key.tr();
                state.set_device(attested.device_id, device);
                Outcome::Registered {
                    device_id: attested.device_id,
                    miner: sender,
                    tier: attested.tier,
                    trust_score: attested.trust_score,
                }
            }
            Plan::Ai {
                writes,
                fee,
                outcome,
            } => {
                state.apply_ai_writes(writes);
                pay_fee(state, ctx, fee);
                Outcome::Ai(outcome)
            }
            Plan::Validator {
                sender,
                after,
                fee,
                plan,
            } => {
                state.set_account(sender, after);
                pay_fee(state, ctx, fee);
                crate::validator::apply(state, plan)
            }
            Plan::Mine {
                work_id,
                device_id,
                miner,
                beneficiary,
                timestamp,
                payout,
            } => {
                state.mark_spent(work_id);
                state.set_ledger(poai_economics::MiningLedger::new(payout.mined_after));
                let mut b = state.account(&beneficiary);
                b.ai = b.ai.saturating_add(payout.miner);
                state.set_account(beneficiary, b);
                let treasury = state.genesis().treasury;
                let mut t = state.account(&treasury);
                t.ai = t.ai.saturating_add(payout.treasury);
                state.set_account(treasury, t);
                if let Some(d) = state.device(&device_id) {
                    let mut d = d.clone();
                    d.last_proof_at = Some(timestamp);
                    d.proofs = d.proofs.saturating_add(1);
                    d.paid = d.paid.saturating_add(payout.paid);
                    state.set_device(device_id, d);
                }
                counters.add_proof(miner);
                Outcome::Mined {
                    work_id,
                    device_id,
                    miner,
                    beneficiary,
                    payout,
                }
            }
        }
    }

    /// Builds and applies the next block from `candidates`, in order. Expects an empty journal
    /// (call [`State::take_changes`] after the previous block); afterwards the journal holds
    /// this block's changes.
    pub fn propose(
        &self,
        state: &mut State,
        ctx: BlockContext,
        candidates: &[Prepared],
    ) -> Proposal {
        let max = usize::try_from(state.genesis().max_block_txs).unwrap_or(usize::MAX);
        let mut counters = BlockCounters::default();
        let mut txs = Vec::new();
        let mut hashes = Vec::new();
        let mut receipts = Vec::new();
        let mut rejected = Vec::new();
        let mut deferred = Vec::new();
        begin_block(state, &ctx);
        for p in candidates {
            if txs.len() >= max {
                deferred.push(p.hash);
                continue;
            }
            match self.plan(state, &ctx, &counters, &p.tx, p.hash, p.sig) {
                Ok(plan) => {
                    let outcome = Self::apply(state, &ctx, &mut counters, plan);
                    receipts.push(Receipt {
                        tx_hash: p.hash,
                        outcome,
                    });
                    hashes.push(p.hash);
                    txs.push(p.tx.clone());
                }
                Err(e) if e.is_deferrable() => deferred.push(p.hash),
                Err(e) => rejected.push((p.hash, e)),
            }
        }
        let header = Self::seal(state, &ctx, &hashes);
        Proposal {
            block: Block { header, txs },
            receipts,
            rejected,
            deferred,
        }
    }

    /// Computes the header of the block just applied and moves the head to it.
    fn seal(state: &mut State, ctx: &BlockContext, hashes: &[Hash32]) -> Header {
        let header = Header {
            height: ctx.height,
            parent: state.head().hash,
            timestamp: ctx.timestamp,
            state_root: state.root_at(ctx.height, ctx.timestamp),
            tx_root: merkle_root(hashes),
            proposer: ctx.proposer,
        };
        state.set_head(Head {
            height: header.height,
            timestamp: header.timestamp,
            hash: header.hash(),
            state_root: header.state_root,
        });
        header
    }

    /// Checks a header against the head: next height, parent hash, timestamp rule.
    pub fn check_header(state: &State, h: &Header) -> Result<(), BlockError> {
        let head = state.head();
        let expected = head.height.saturating_add(1);
        if h.height != expected {
            return Err(BlockError::Height {
                expected,
                got: h.height,
            });
        }
        if h.parent != head.hash {
            return Err(BlockError::Parent {
                expected: head.hash,
                got: h.parent,
            });
        }
        match state.genesis().dev_block_time_step {
            Some(step) if h.timestamp != head.timestamp.saturating_add(step) => {
                Err(BlockError::Timestamp {
                    got: h.timestamp,
                    reason: format!(
                        "this devnet's genesis requires parent timestamp {} + {step}",
                        head.timestamp
                    ),
                })
            }
            None if h.timestamp < head.timestamp => Err(BlockError::Timestamp {
                got: h.timestamp,
                reason: format!("must not be before the parent's {}", head.timestamp),
            }),
            _ => Ok(()),
        }
    }

    /// Validates and applies a block. On error the state is as before. Expects an empty journal
    /// (see [`Machine::propose`]).
    pub fn execute_block(
        &self,
        state: &mut State,
        block: &Block,
    ) -> Result<Vec<Receipt>, BlockError> {
        self.execute_block_with(state, block, &[], HashMap::new())
    }

    /// As [`Machine::execute_block`], reusing the signature verdicts of transactions this node
    /// already prepared (its mempool's, by hash: the hash covers the signature). Only `Valid`
    /// verdicts are reused; everything else is prepared here. Sound because a proof's verdict
    /// names the miner whose key verified it and execution re-checks that the device still
    /// belongs to that miner. `hashes` are the block's transaction hashes
    /// ([`Machine::tx_hashes`], which the caller needed to look `known` up); they are computed
    /// again here if their count does not match.
    pub fn execute_block_with(
        &self,
        state: &mut State,
        block: &Block,
        hashes: &[TxHash],
        known: HashMap<TxHash, Verdict>,
    ) -> Result<Vec<Receipt>, BlockError> {
        Self::check_header(state, &block.header)?;
        let max = usize::try_from(state.genesis().max_block_txs).unwrap_or(usize::MAX);
        if block.txs.len() > max {
            return Err(BlockError::TooManyTxs {
                got: block.txs.len(),
                max,
            });
        }
        let recomputed;
        let hashes = if hashes.len() == block.txs.len() {
            hashes
        } else {
            recomputed = Self::tx_hashes(&block.txs);
            &recomputed
        };
        // The root first: a block whose transactions are not the ones its header commits to is
        // refused before any of their signatures is checked.
        let computed = merkle_root(hashes);
        if computed != block.header.tx_root {
            return Err(BlockError::TxRoot {
                computed,
                got: block.header.tx_root,
            });
        }
        let sigs = self.verdicts_reusing(state, &block.txs, hashes, known);
        let ctx = BlockContext {
            height: block.header.height,
            timestamp: block.header.timestamp,
            proposer: block.header.proposer,
        };
        let mut counters = BlockCounters::default();
        let mut receipts = Vec::with_capacity(block.txs.len());
        begin_block(state, &ctx);
        for (index, ((tx, &hash), &sig)) in block.txs.iter().zip(hashes).zip(&sigs).enumerate() {
            match self.plan(state, &ctx, &counters, tx, hash, sig) {
                Ok(plan) => receipts.push(Receipt {
                    tx_hash: hash,
                    outcome: Self::apply(state, &ctx, &mut counters, plan),
                }),
                Err(error) => {
                    state.rollback();
                    return Err(BlockError::InvalidTx {
                        index,
                        hash,
                        error: Box::new(error),
                    });
                }
            }
        }
        let header = Self::seal(state, &ctx, hashes);
        if header.state_root != block.header.state_root {
            state.rollback();
            return Err(BlockError::StateRoot {
                computed: header.state_root,
                got: block.header.state_root,
            });
        }
        Ok(receipts)
    }
}

/// The begin-block steps, in order: the AI VM's deadlines, then validator releases.
fn begin_block(state: &mut State, ctx: &BlockContext) {
    crate::ai::begin_block(state, ctx);
    crate::validator::begin_block(state, ctx);
}

fn pay_fee(state: &mut State, ctx: &BlockContext, fee: u128) {
    if fee > 0 {
        let mut p = state.account(&ctx.proposer);
        p.balance = p.balance.saturating_add(fee);
        state.set_account(ctx.proposer, p);
    }
}

fn plan_proof(
    machine: &Machine,
    state: &State,
    ctx: &BlockContext,
    counters: &BlockCounters,
    tx: &ProofTx,
    sig: SigCheck,
) -> Result<Plan, TxError> {
    let chain_id = state.genesis().chain_id;
    let proof = &tx.proof;
    let device_id = proof.device_id;
    let device = state
        .device(&device_id)
        .ok_or(TxError::UnknownDevice { device_id })?;
    let valid = match sig {
        SigCheck::Valid(owner) if owner == device.miner => true,
        SigCheck::Invalid => false,
        _ => {
            machine.count_checks(1);
            matches!(
                device.key.verify(&tx.message(chain_id), &[], &tx.signature),
                Ok(true)
            )
        }
    };
    if !valid {
        return Err(TxError::ProofSignatureInvalid {
            device_id,
            chain_id,
            beneficiary: tx.beneficiary,
        });
    }
    let work_id = proof_work_id(proof, chain_id);
    if state.is_spent(&work_id) {
        return Err(TxError::WorkIdSpent { work_id });
    }
    let (ts, bt) = (proof.timestamp, ctx.timestamp);
    if ts < bt.saturating_sub(PROOF_MAX_AGE_SECS) {
        return Err(TxError::ProofExpired {
            timestamp: ts,
            block_time: bt,
        });
    }
    if ts > bt.saturating_add(PROOF_MAX_AHEAD_SECS) {
        return Err(TxError::ProofFromFuture {
            timestamp: ts,
            block_time: bt,
        });
    }
    if let Some(previous) = device.last_proof_at
        && ts < previous.saturating_add(MIN_PROOF_INTERVAL_SECS)
    {
        return Err(TxError::ProofTooSoon {
            timestamp: ts,
            previous,
        });
    }
    if proof.compute_minutes > MAX_COMPUTE_MINUTES {
        return Err(TxError::TooManyMinutes {
            claimed: proof.compute_minutes,
        });
    }
    let since = device.last_proof_at.unwrap_or(device.registered_at);
    let elapsed = ts.saturating_sub(since) / 60;
    if u64::from(proof.compute_minutes) > elapsed {
        return Err(TxError::MinutesExceedElapsed {
            claimed: proof.compute_minutes,
            elapsed,
            since,
        });
    }
    if proof.privacy_level > device.tier {
        return Err(TxError::PrivacyAboveTier {
            claimed: proof.privacy_level,
            tier: device.tier,
        });
    }
    if counters.proofs_of(&device.miner) >= MAX_PROOFS_PER_MINER_PER_BLOCK {
        return Err(TxError::TooManyProofsInBlock {
            miner: device.miner,
            limit: MAX_PROOFS_PER_MINER_PER_BLOCK,
        });
    }
    let payout = state
        .emission()
        .payout(gross_reward_for(proof), ctx.height, state.ledger().mined)
        .map_err(|e| TxError::Emission {
            reason: e.to_string(),
        })?;
    Ok(Plan::Mine {
        work_id,
        device_id,
        miner: device.miner,
        beneficiary: tx.beneficiary,
        timestamp: ts,
        payout,
    })
}

/// The miner's address for a signing key (re-exported for callers that hold only a key).
pub fn miner_address(key: &poai_crypto::VerifyingKey) -> Address {
    address_of(key)
}
