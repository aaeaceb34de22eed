//! poai-chain benches: the state machine's per-block work for 1,000 signed ML-DSA-65 work
//! proofs (100 miners × 10, all valid): decoding, batch signature checks (`prepare`), and
//! execution (`propose`: every rule, payouts, state root; `execute`: a validator checking that
//! block, with the signature verdicts its mempool holds). Storage is the node's (`poai bench`
//! measures the whole path with the redb commit; docs/PERFORMANCE.md).
//!
//! Also the cost of copying the state as the spent set grows (`state_clone`): a validator copies
//! it for every block it builds or checks. Beside it, a plain `HashSet` of the same ids, which is
//! what the state held before the spent set was split into shared levels; and as the fleet
//! grows (`state_clone/devices=…`), beside a plain `BTreeMap` of the same device rows, which is
//! what each copy cloned before the maps shared their rows.
//!
//! Run: `cargo bench -p poai-chain --bench machine -- --warm-up-time 1 --measurement-time 3`.

// Bench code: a failed unwrap is a failed bench, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::{
    BlockContext, Call, Genesis, Machine, ProofTx, SignedTx, State, Transaction, TxBody,
    address_of, genesis_block,
};
use poai_crypto::{ParamSet, SigningKey};
use poai_primitives::{Address, ChainId, Nonce, PrivacyLevel, WorkProof};
use std::hint::black_box;

const MINERS: usize = 100;
const PER_MINER: usize = 10;

fn genesis(step: u64) -> Genesis {
    Genesis {
        chain_id: ChainId(7),
        genesis_time: 1_800_000_000,
        emission_genesis_height: 1,
        allow_dev_evidence: true,
        dev_block_time_step: Some(step),
        min_fee: 0,
        max_block_txs: 10_000,
        lp_address: Address([1; 20]),
        treasury: Address([2; 20]),
        accounts: Vec::new(),
        ai: Default::default(),
        consensus: None,
    }
}

fn setup() -> (Machine, State, Vec<Transaction>) {
    let step = 3600;
    let genesis = genesis(step);
    let machine = Machine::new();
    let mut state = State::from_genesis(&genesis);
    genesis_block(&mut state);
    state.take_changes();
    let keys: Vec<SigningKey> = (0..MINERS)
        .map(|i| SigningKey::from_seed(ParamSet::MlDsa65, &[u8::try_from(i).unwrap(); 32]).unwrap())
        .collect();
    let regs: Vec<Transaction> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let body = TxBody {
                chain_id: genesis.chain_id,
                nonce: 0,
                fee: 0,
                call: Call::RegisterDevice {
                    evidence: dev_evidence(
                        PrivacyLevel::Sovereign,
                        &[u8::try_from(i).unwrap(); 32],
                    ),
                },
            };
            Transaction::Account(SignedTx::sign(body, k).unwrap())
        })
        .collect();
    let p = machine.prepare(&state, regs);
    let ctx = BlockContext::next(
        &state,
        Machine::next_timestamp(&state, 0),
        Address::default(),
    );
    machine.propose(&mut state, ctx, &p);
    state.take_changes();
    let registered = state.head().timestamp;
    let mut proofs = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for j in 0..PER_MINER {
            let mut nonce = [0u8; 32];
            nonce[0] = u8::try_from(j).unwrap();
            let proof = WorkProof {
                device_id: dev_device_id(&[u8::try_from(i).unwrap(); 32]),
                nonce: Nonce(nonce),
                timestamp: registered + step - 600 + 60 * (u64::try_from(j).unwrap() + 1),
                privacy_level: PrivacyLevel::Sovereign,
                compute_minutes: 1,
                tee_evidence: Vec::new(),
            };
            let to = address_of(k.verifying_key());
            proofs.push(Transaction::Proof(
                ProofTx::sign(proof, to, genesis.chain_id, k).unwrap(),
            ));
        }
    }
    (machine, state, proofs)
}

fn bench(c: &mut Criterion) {
    let (machine, state, txs) = setup();
    let raw: Vec<Vec<u8>> = txs.iter().map(Transaction::encode).collect();
    let mut g = c.benchmark_group("machine");
    g.throughput(Throughput::Elements(u64::try_from(txs.len()).unwrap()));
    g.sample_size(10);
    g.bench_function("decode/proofs=1000", |b| {
        b.iter(|| {
            raw.iter()
                .map(|r| Transaction::decode(black_box(r)).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("prepare/proofs=1000", |b| {
        b.iter_batched(
            || txs.clone(),
            |t| machine.prepare(&state, t),
            BatchSize::LargeInput,
        )
    });
    let prepared = machine.prepare(&state, txs.clone());
    g.bench_function("propose/proofs=1000", |b| {
        b.iter_batched(
            || state.clone(),
            |mut s| {
                let ctx =
                    BlockContext::next(&s, Machine::next_timestamp(&s, 0), Address::default());
                let p = machine.propose(&mut s, ctx, &prepared);
                assert_eq!(p.receipts.len(), MINERS * PER_MINER);
                p
            },
            BatchSize::LargeInput,
        )
    });
    // A validator checking a peer's block: the same rules and roots, signatures taken from its
    // mempool's verdicts ([`Machine::execute_block_with`]).
    let block = {
        let mut s = state.clone();
        let ctx = BlockContext::next(&s, Machine::next_timestamp(&s, 0), Address::default());
        machine.propose(&mut s, ctx, &prepared).block
    };
    let hashes = Machine::tx_hashes(&block.txs);
    let known: std::collections::HashMap<_, _> =
        prepared.iter().map(|p| (p.hash(), p.verdict())).collect();
    g.bench_function("execute/proofs=1000", |b| {
        b.iter_batched(
            || (state.clone(), known.clone()),
            |(mut s, known)| {
                let r = machine
                    .execute_block_with(&mut s, &block, &hashes, known)
                    .unwrap();
                assert_eq!(r.len(), MINERS * PER_MINER);
                r
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A state that has spent `n` work ids: loaded from storage with `n - 10,000`, then 20 blocks of
/// 500 proofs, as a running node's is.
fn aged_state(n: u64) -> State {
    let genesis = genesis(3600);
    let base = State::from_genesis(&genesis);
    let id = |i: u64| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&i.to_be_bytes());
        poai_primitives::WorkId(b)
    };
    let loaded = n.saturating_sub(10_000);
    let mut s = State::from_parts(
        genesis,
        base.meta(),
        Default::default(),
        Default::default(),
        (0..loaded).map(id).collect(),
        Default::default(),
        Default::default(),
    );
    for block in 0..20u64 {
        for i in 0..500 {
            assert!(s.mark_spent(id(loaded + block * 500 + i)));
        }
        s.clear_journal();
    }
    assert_eq!(s.spent_count(), usize::try_from(n).unwrap());
    s
}

fn state_clone(c: &mut Criterion) {
    let mut g = c.benchmark_group("state_clone");
    g.sample_size(10);
    for n in [100_000u64, 1_000_000] {
        let state = aged_state(n);
        let plain: std::collections::HashSet<poai_primitives::WorkId> = (0..n)
            .map(|i| {
                let mut b = [0u8; 32];
                b[..8].copy_from_slice(&i.to_be_bytes());
                poai_primitives::WorkId(b)
            })
            .collect();
        g.bench_function(format!("spent={n}/impl=state"), |b| {
            b.iter(|| black_box(&state).clone())
        });
        g.bench_function(format!("spent={n}/impl=hashset"), |b| {
            b.iter(|| black_box(&plain).clone())
        });
    }
    // A fleet of devices, after a block that rewrote 2,451 of them (a full block of proofs):
    // the state's device map shares its rows with the copy; beside it, a plain BTreeMap of the
    // same rows, which is what each copy cloned before (less the two cached hashes per row).
    for n in [20_000usize, 200_000] {
        let (state, plain) = fleet_state(n);
        g.bench_function(format!("devices={n}/impl=state"), |b| {
            b.iter(|| black_box(&state).clone())
        });
        g.bench_function(format!("devices={n}/impl=btreemap"), |b| {
            b.iter(|| black_box(&plain).clone())
        });
    }
    g.finish();
}

/// A state with `n` devices (one shared key: a copy clones the key's `Arc` either way) after a
/// block that rewrote 2,451 of them, and a plain map of the same rows.
fn fleet_state(
    n: usize,
) -> (
    State,
    std::collections::BTreeMap<poai_primitives::DeviceId, poai_chain::Device>,
) {
    let genesis = genesis(3600);
    let base = State::from_genesis(&genesis);
    let key = SigningKey::from_seed(ParamSet::MlDsa65, &[9; 32])
        .unwrap()
        .verifying_key()
        .clone();
    let device = |i: usize| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&u64::try_from(i).unwrap().to_be_bytes());
        (
            poai_primitives::DeviceId(b),
            poai_chain::Device {
                miner: Address([1; 20]),
                key: key.clone(),
                tier: PrivacyLevel::Public,
                trust_score: 50,
                kind: 0,
                registered_at: 1_800_000_000,
                last_proof_at: None,
                proofs: 0,
                paid: 0,
            },
        )
    };
    let plain: std::collections::BTreeMap<_, _> = (0..n).map(device).collect();
    let mut s = State::from_parts(
        genesis,
        base.meta(),
        Default::default(),
        plain.clone(),
        Default::default(),
        Default::default(),
        Default::default(),
    );
    s.clear_journal();
    for i in (0..n).step_by(n / 2451).take(2451) {
        let (id, mut d) = device(i);
        d.proofs = 1;
        s.set_device(id, d);
    }
    s.clear_journal();
    (s, plain)
}

criterion_group!(benches, bench, state_clone);
criterion_main!(benches);
