//! The AI VM (SPEC section 6, LP-035, LP-092) through the real state machine: every block is
//! proposed with `Machine::propose` and re-executed on a copy with `Machine::execute_block`
//! (replay must give the same state root), and the stored-row form is reloaded and compared.

// Helpers outside `#[test]` functions unwrap too: here a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod props;
mod scenarios;

use poai_chain::ai::call::result_commitment;
use poai_chain::ai::exec::{self, AiAction};
use poai_chain::ai::types::DeadlineKind;
use poai_chain::ai::{
    AiCall, AiParams, AiState, AttestationBody, GpuModel, PaymentAsset, SignedAttestation, Task,
    Tolerance, Workload,
};
use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::genesis::GenesisAccount;
use poai_chain::hash::Hash32;
use poai_chain::{
    BlockContext, Call, Genesis, Machine, Outcome, Receipt, SignedTx, State, Transaction, TxBody,
    TxError, address_of, genesis_block,
};
use poai_crypto::{ParamSet, SigningKey};
use poai_primitives::{Address, ChainId, PrivacyLevel};
use std::collections::BTreeMap;

pub(crate) const CHAIN: ChainId = ChainId(5151);
pub(crate) const T0: u64 = 1_800_000_000;
pub(crate) const STEP: u64 = 60;
pub(crate) const COIN: u128 = 1_000_000_000_000_000_000;
pub(crate) const FUNDS: u128 = 1_000_000 * COIN;
pub(crate) const PROPOSER: Address = Address([0xee; 20]);

pub(crate) fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[n; 32]).unwrap()
}

pub(crate) fn addr(n: u8) -> Address {
    address_of(key(n).verifying_key())
}

pub(crate) fn h(n: u8) -> Hash32 {
    Hash32([n; 32])
}

pub(crate) fn params() -> AiParams {
    AiParams::default()
}

pub(crate) fn genesis(users: u8, ai: AiParams) -> Genesis {
    Genesis {
        chain_id: CHAIN,
        genesis_time: T0,
        emission_genesis_height: 1,
        allow_dev_evidence: true,
        dev_block_time_step: Some(STEP),
        min_fee: 0,
        max_block_txs: 1000,
        lp_address: Address([0x11; 20]),
        treasury: Address([0x22; 20]),
        accounts: (1..=users)
            .map(|n| GenesisAccount {
                address: addr(n),
                balance: FUNDS,
            })
            .collect(),
        ai,
        consensus: None,
    }
}

/// A chain driven block by block, checking replay and reload after each block.
pub(crate) struct Sim {
    pub(crate) machine: Machine,
    pub(crate) state: State,
    keys: BTreeMap<u8, SigningKey>,
    nonces: BTreeMap<u8, u64>,
    pub(crate) initial_native: u128,
    /// Every block, by height (index 0 is block 1).
    pub(crate) blocks: Vec<poai_chain::Block>,
}

impl Sim {
    pub(crate) fn new(users: u8, ai: AiParams) -> Self {
        let mut state = State::from_genesis(&genesis(users, ai));
        genesis_block(&mut state);
        state.take_changes();
        let initial_native = state.total_native();
        Self {
            machine: Machine::new(),
            state,
            keys: (1..=users).map(|n| (n, key(n))).collect(),
            nonces: BTreeMap::new(),
            initial_native,
            blocks: Vec::new(),
        }
    }

    pub(crate) fn key(&self, n: u8) -> &SigningKey {
        self.keys.get(&n).unwrap()
    }

    pub(crate) fn now(&self) -> u64 {
        self.state.head().timestamp
    }

    /// The next block's time.
    pub(crate) fn next_time(&self) -> u64 {
        self.now() + STEP
    }

    /// A signed account transaction from user `n` with the next nonce.
    pub(crate) fn tx(&mut self, n: u8, call: Call) -> Transaction {
        let nonce = *self
            .nonces
            .entry(n)
            .or_insert_with(|| self.state.account(&addr(n)).nonce);
        self.nonces.insert(n, nonce + 1);
        let body = TxBody {
            chain_id: CHAIN,
            nonce,
            fee: 0,
            call,
        };
        // Deterministic signatures: the same test run gives the same block hashes and so the
        // same draws, which keeps failures reproducible.
        let k = self.keys.get(&n).unwrap();
        let signature = k.sign_deterministic(&body.signing_message(), &[]).unwrap();
        Transaction::Account(SignedTx {
            body,
            public_key: k.verifying_key().clone(),
            signature,
        })
    }

    pub(crate) fn ai(&mut self, n: u8, call: AiCall) -> Transaction {
        self.tx(n, Call::Ai(Box::new(call)))
    }

    /// Proposes a block with `txs`; returns receipts and the refused transactions' errors.
    pub(crate) fn try_block(&mut self, txs: Vec<Transaction>) -> (Vec<Receipt>, Vec<TxError>) {
        let before = self.state.clone();
        let ts = Machine::next_timestamp(&self.state, 0);
        let ctx = BlockContext::next(&self.state, ts, PROPOSER);
        let prepared = self.machine.prepare(&self.state, txs);
        let p = self.machine.propose(&mut self.state, ctx, &prepared);
        let changes = self.state.take_changes();
        // Replay: another validator executing the block reaches the same root.
        let mut replica = before.clone();
        self.machine.execute_block(&mut replica, &p.block).unwrap();
        replica.take_changes();
        assert_eq!(replica.root(), self.state.root(), "replay diverged");
        // Reload: the stored rows rebuild the same AI state (what the node does on restart).
        let rows = self.state.ai().rows();
        let reloaded =
            AiState::load(rows.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))).unwrap();
        assert_eq!(
            reloaded.commit(),
            self.state.ai().commit(),
            "reload diverged"
        );
        // The journal's changes, applied to the previous rows, give the current rows.
        let mut prev: BTreeMap<Vec<u8>, Vec<u8>> = before.ai().rows().into_iter().collect();
        for (k, v) in changes.ai {
            match v {
                Some(v) => prev.insert(k, v),
                None => prev.remove(&k),
            };
        }
        let now: BTreeMap<Vec<u8>, Vec<u8>> = rows.into_iter().collect();
        assert_eq!(prev, now, "changes do not reproduce the state");
        // Refused transactions do not consume nonces.
        self.nonces.clear();
        self.check_invariants();
        self.blocks.push(p.block.clone());
        (p.receipts, p.rejected.into_iter().map(|(_, e)| e).collect())
    }

    /// A block whose transactions must all be included.
    pub(crate) fn block(&mut self, txs: Vec<Transaction>) -> Vec<Receipt> {
        let (r, rejected) = self.try_block(txs);
        assert!(rejected.is_empty(), "refused: {rejected:?}");
        r
    }

    /// One transaction that must be refused; returns the error.
    pub(crate) fn refused(&mut self, tx: Transaction) -> TxError {
        let (r, rejected) = self.try_block(vec![tx]);
        assert!(r.is_empty(), "included: {r:?}");
        rejected.into_iter().next().unwrap()
    }

    pub(crate) fn empty_blocks(&mut self, n: u64) {
        for _ in 0..n {
            self.block(Vec::new());
        }
    }

    /// The conservation laws that hold after every block.
    pub(crate) fn check_invariants(&self) {
        let m = self.state.ai().meta();
        let credits = self.state.ai().total_credits().unwrap();
        assert_eq!(
            credits + m.ait_escrowed,
            m.ait_minted - m.ait_burned,
            "AIT supply = minted - burned"
        );
        assert_eq!(
            self.state.total_native() + m.native_escrowed + m.native_staked + m.native_burned,
            self.initial_native,
            "native coin is conserved"
        );
        let staked: u128 = self
            .state
            .ai()
            .providers()
            .map(|(_, p)| p.stake + p.unbonding)
            .sum();
        assert_eq!(staked, m.native_staked, "stake bookkeeping");
        let minted: u128 = self.state.ai().providers().map(|(_, p)| p.ait_earned).sum();
        assert_eq!(minted, m.ait_minted, "every minted AIT went to a provider");
    }

    // --- Scenario helpers ---

    /// Registers a dev device of `tier` for user `n` and makes it a provider with `gpu`.
    pub(crate) fn provider_txs(
        &mut self,
        n: u8,
        tier: PrivacyLevel,
        gpu: GpuModel,
    ) -> Vec<Transaction> {
        let stake = self.state.genesis().ai.min_stake(tier);
        vec![
            self.tx(
                n,
                Call::RegisterDevice {
                    evidence: dev_evidence(tier, &[n; 32]),
                },
            ),
            self.ai(
                n,
                AiCall::RegisterProvider {
                    device_id: dev_device_id(&[n; 32]),
                    gpu,
                    stake,
                },
            ),
        ]
    }

    pub(crate) fn add_providers(&mut self, list: &[(u8, PrivacyLevel, GpuModel)]) {
        let mut txs = Vec::new();
        for (n, tier, gpu) in list {
            txs.extend(self.provider_txs(*n, *tier, *gpu));
        }
        self.block(txs);
    }

    /// Registers a model owned by user `owner`; returns its id.
    pub(crate) fn add_model(
        &mut self,
        owner: u8,
        weights: u8,
        min_tier: PrivacyLevel,
        tol: Tolerance,
    ) -> Hash32 {
        let tx = self.ai(owner, model_call(weights, min_tier, tol, None, 1));
        let r = self.block(vec![tx]);
        match r[0].outcome {
            Outcome::Ai(o) => {
                assert_eq!(o.action, AiAction::ModelRegistered);
                assert_eq!(o.id, exec::model_id(&addr(owner), &h(weights)));
                o.id
            }
            ref o => panic!("{o:?}"),
        }
    }

    /// Submits a task from `requester`; returns its id (after the block).
    pub(crate) fn submit_task(
        &mut self,
        requester: u8,
        model: Hash32,
        input: u8,
        payment: u128,
    ) -> Hash32 {
        let nonce = self.state.account(&addr(requester)).nonce;
        let tx = self.ai(requester, task_call(model, input, payment));
        let r = self.block(vec![tx]);
        let id = exec::task_id(CHAIN, &addr(requester), nonce);
        assert!(
            matches!(r[0].outcome, Outcome::Ai(o) if o.id == id && o.action == AiAction::TaskSubmitted)
        );
        id
    }

    pub(crate) fn task(&self, id: &Hash32) -> Task {
        self.state.ai().task(id).unwrap().clone()
    }

    /// User number of an address.
    pub(crate) fn user(&self, a: &Address) -> u8 {
        *self
            .keys
            .iter()
            .find(|(_, k)| address_of(k.verifying_key()) == *a)
            .unwrap()
            .0
    }

    /// A signed attestation by user `n`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attestation(
        &self,
        n: u8,
        model: Hash32,
        input: Hash32,
        output: Hash32,
        fp: Hash32,
        task: Hash32,
        ts: u64,
    ) -> SignedAttestation {
        let body = AttestationBody {
            model_id: model,
            input_hash: input,
            output_hash: output,
            fingerprint: fp,
            provider: addr(n),
            task_id: task,
            timestamp: ts,
            tee_report: Vec::new(),
        };
        let signature = self
            .key(n)
            .sign_deterministic(&body.signing_message(CHAIN), &[])
            .unwrap();
        SignedAttestation { body, signature }
    }

    /// Commit and reveal transactions of user `n` for task `id`.
    pub(crate) fn result_txs(
        &mut self,
        n: u8,
        id: Hash32,
        output: Hash32,
        fp: Hash32,
        duration: u64,
    ) -> (Transaction, Transaction) {
        let t = self.task(&id);
        let salt = [n ^ 0x5a; 32];
        let commitment = result_commitment(&id, &addr(n), &output, &fp, duration, &salt);
        let commit = self.ai(
            n,
            AiCall::CommitResult {
                task_id: id,
                commitment,
            },
        );
        let att = self.attestation(
            n,
            t.model_id,
            t.input_hash,
            output,
            fp,
            id,
            self.next_time() + STEP,
        );
        let reveal = self.ai(
            n,
            AiCall::RevealResult {
                task_id: id,
                duration,
                salt,
                attestation: att,
            },
        );
        (commit, reveal)
    }

    /// Runs a task's commit and reveal for `results` (user, output, fingerprint, duration):
    /// commits in one block, reveals in the next.
    pub(crate) fn run_results(&mut self, id: Hash32, results: &[(u8, Hash32, Hash32, u64)]) {
        let mut commits = Vec::new();
        let mut reveals = Vec::new();
        for (n, out, fp, d) in results {
            let (c, r) = self.result_txs(*n, id, *out, *fp, *d);
            commits.push(c);
            reveals.push(r);
        }
        self.block(commits);
        if !reveals.is_empty() {
            self.block(reveals);
        }
    }

    pub(crate) fn credits(&self, n: u8) -> u128 {
        self.state.ai().credits(&addr(n))
    }

    pub(crate) fn balance(&self, n: u8) -> u128 {
        self.state.account(&addr(n)).balance
    }
}

pub(crate) fn model_call(
    weights: u8,
    min_tier: PrivacyLevel,
    tol: Tolerance,
    previous: Option<Hash32>,
    version: u64,
) -> AiCall {
    AiCall::RegisterModel {
        weights_id: h(weights),
        weight_hash: h(weights.wrapping_add(100)),
        name: format!("model-{weights}"),
        version,
        architecture: "transformer".into(),
        param_count: 7_000_000_000,
        licence: "Apache-2.0".into(),
        tee_required: min_tier > PrivacyLevel::Public,
        min_tier,
        tolerance: tol,
        previous,
    }
}

pub(crate) fn task_call(model: Hash32, input: u8, payment: u128) -> AiCall {
    AiCall::SubmitTask {
        model_id: model,
        input_hash: h(input),
        workload: Workload::Inference,
        max_duration: 600,
        asset: PaymentAsset::Native,
        payment,
    }
}

/// The providers a task drawn at a block with `parent` hash and sequence `seq` gets, from the
/// eligible set: recomputed independently of the machine's bookkeeping.
pub(crate) fn expected_draw(parent: &Hash32, seq: u64, eligible: &[Address]) -> Vec<Address> {
    let seed = exec::draw_seed(parent, DeadlineKind::AssignTask, &exec::task_draw_id(seq));
    exec::draw(&seed, eligible, 3).unwrap()
}
