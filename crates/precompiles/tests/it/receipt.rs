//! MODEL_REGISTRY with A-chain receipts (proof kind 0x02) through revm transactions: a small
//! A-chain runs in-process on `poai_chain::Machine` (genesis, a staked provider on a dev
//! device, a model, a block of result attestations), the receipt of one attestation is built
//! from the real block, and the EVM side imports that block's hash through a bridge contract.

use super::*;
use poai_chain::ai::receipt::{InferenceReceipt, merkle_path};
use poai_chain::ai::{AiCall, AiParams, AttestationBody, GpuModel, SignedAttestation, Tolerance};
use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::genesis::GenesisAccount;
use poai_chain::hash::Hash32;
use poai_chain::{
    BlockContext, Call, Genesis, Machine, SignedTx, State, Transaction, TxBody, address_of,
    genesis_block,
};
use poai_primitives::PrivacyLevel;

const A_CHAIN: ChainId = ChainId(5151);
const A_T0: u64 = 1_800_000_000;
const COIN: u128 = 1_000_000_000_000_000_000;
const PROVIDER: u8 = 1;
const OWNER: u8 = 7;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[n; 32]).unwrap()
}

fn h(n: u8) -> Hash32 {
    Hash32([n; 32])
}

fn b256(x: Hash32) -> B256 {
    B256::from(x.0)
}

/// A receipt and what it proves.
struct Proven {
    receipt: InferenceReceipt,
    block_hash: Hash32,
    model: Hash32,
    input: Hash32,
    output: Hash32,
}

/// A-chain transactions of user `n`, nonces from `nonce`.
fn txs(n: u8, nonce: u64, calls: Vec<Call>) -> Vec<Transaction> {
    calls
        .into_iter()
        .zip(nonce..)
        .map(|(call, nonce)| {
            let body = TxBody {
                chain_id: A_CHAIN,
                nonce,
                fee: 0,
                call,
            };
            Transaction::Account(SignedTx::sign(body, &key(n)).unwrap())
        })
        .collect()
}

fn block(machine: &Machine, state: &mut State, txs: Vec<Transaction>) -> poai_chain::Block {
    let ts = Machine::next_timestamp(state, 0);
    let ctx = BlockContext::next(state, ts, poai_primitives::Address([0xee; 20]));
    let prepared = machine.prepare(state, txs);
    let p = machine.propose(state, ctx, &prepared);
    assert!(p.rejected.is_empty(), "refused: {:?}", p.rejected);
    state.take_changes();
    p.block
}

/// Runs the A-chain to a block holding three result attestations of one provider, and returns
/// the receipt of the middle one (so its Merkle path has steps on both sides).
fn achain_receipt() -> Proven {
    let ai = AiParams::default();
    let stake = ai.min_stake(PrivacyLevel::Confidential);
    let genesis = Genesis {
        chain_id: A_CHAIN,
        genesis_time: A_T0,
        emission_genesis_height: 1,
        allow_dev_evidence: true,
        dev_block_time_step: Some(60),
        min_fee: 0,
        max_block_txs: 100,
        lp_address: poai_primitives::Address([0x11; 20]),
        treasury: poai_primitives::Address([0x22; 20]),
        accounts: [PROVIDER, OWNER]
            .into_iter()
            .map(|n| GenesisAccount {
                address: address_of(key(n).verifying_key()),
                balance: 1_000_000 * COIN,
            })
            .collect(),
        ai,
        consensus: None,
    };
    let mut state = State::from_genesis(&genesis);
    genesis_block(&mut state);
    state.take_changes();
    let machine = Machine::new();

    // Block 1: the provider registers a (dev) Confidential device and stakes; the owner
    // registers a model that needs that tier.
    let weights = h(4);
    let mut setup = txs(
        PROVIDER,
        0,
        vec![
            Call::RegisterDevice {
                evidence: dev_evidence(PrivacyLevel::Confidential, &[PROVIDER; 32]),
            },
            Call::Ai(Box::new(AiCall::RegisterProvider {
                device_id: dev_device_id(&[PROVIDER; 32]),
                gpu: GpuModel::H100,
                stake,
            })),
        ],
    );
    setup.extend(txs(
        OWNER,
        0,
        vec![Call::Ai(Box::new(AiCall::RegisterModel {
            weights_id: weights,
            weight_hash: h(104),
            name: "model-4".into(),
            version: 1,
            architecture: "transformer".into(),
            param_count: 7_000_000_000,
            licence: "Apache-2.0".into(),
            tee_required: true,
            min_tier: PrivacyLevel::Confidential,
            tolerance: Tolerance::Exact,
            previous: None,
        }))],
    ));
    block(&machine, &mut state, setup);
    let provider = address_of(key(PROVIDER).verifying_key());
    let model = poai_chain::ai::exec::model_id(&address_of(key(OWNER).verifying_key()), &weights);

    // Block 2: three attestations (inputs 1, 2, 3; output 0xaa).
    let ts = Machine::next_timestamp(&state, 0);
    let attestation = |input: u8| {
        let body = AttestationBody {
            model_id: model,
            input_hash: h(input),
            output_hash: h(0xaa),
            fingerprint: Hash32::ZERO,
            provider,
            task_id: Hash32::ZERO,
            timestamp: ts,
            tee_report: Vec::new(),
        };
        let signature = key(PROVIDER)
            .sign_deterministic(&body.signing_message(A_CHAIN), &[])
            .unwrap();
        SignedAttestation { body, signature }
    };
    let calls = (1..=3)
        .map(|i| {
            Call::Ai(Box::new(AiCall::SubmitAttestation {
                attestation: attestation(i),
            }))
        })
        .collect();
    let b = block(&machine, &mut state, txs(PROVIDER, 2, calls));
    assert_eq!(b.header.height, 2);
    assert_eq!(b.txs.len(), 3);
    let hashes = b.tx_hashes();
    let index = 1;
    let receipt = InferenceReceipt {
        header: b.header,
        index: 1,
        path: merkle_path(&hashes, index).unwrap(),
        tx: b.txs[index].clone(),
        attestation_id: attestation(2).body.id(A_CHAIN),
    };
    assert_eq!(receipt.path.len(), 2);
    Proven {
        receipt,
        block_hash: b.hash(),
        model,
        input: h(2),
        output: h(0xaa),
    }
}

/// Bridges: the CALL and STATICCALL proxies (so that a static call is refused for being
/// static, not for its caller). Mining contracts: none.
fn bridge_config() -> PoaiConfig {
    PoaiConfig::default().with_bridge_contracts([PROXY_CALL, PROXY_STATIC])
}

fn import(height: u64, hash: B256) -> Vec<u8> {
    IModelRegistry::importAChainBlockCall {
        height,
        blockHash: hash,
    }
    .abi_encode()
}

fn verify_call(model: Hash32, input: Hash32, output: Hash32, receipt: &[u8]) -> Vec<u8> {
    let mut proof = vec![model_registry::PROOF_ACHAIN_RECEIPT];
    proof.extend_from_slice(receipt);
    IModelRegistry::verifyExecutionCall {
        modelId: b256(model),
        inputHash: b256(input),
        outputHash: b256(output),
        proof: proof.into(),
    }
    .abi_encode()
}

fn verify(p: &Proven, receipt: &[u8], output: Hash32) -> Vec<u8> {
    verify_call(p.model, p.input, output, receipt)
}

/// verifyExecution through STATICCALL, as a view: the returned bool, or None if the call failed.
fn verified(chain: &mut Chain, data: &[u8]) -> Option<bool> {
    let (ok, out) = chain
        .via(PROXY_STATIC, model_registry::ADDRESS, data, false)
        .inner();
    ok.then(|| {
        assert_eq!(out.len(), 32);
        out == word(true)
    })
}

fn halt_message(o: Outcome) -> String {
    match o {
        Outcome::Halt(HaltReason::PrecompileErrorWithContext(msg)) => msg,
        other => panic!("expected a precompile halt, got {other:?}"),
    }
}

#[test]
fn achain_receipts_verify_against_imported_block_hashes() {
    let p = achain_receipt();
    let bytes = p.receipt.encode();
    let height = p.receipt.header.height;
    // STORAGE.md: keccak("poai.achain.block" ‖ u64be(height)).
    let slot = U256::from_be_bytes(
        alloy_primitives::keccak256(
            [b"poai.achain.block".as_slice(), &height.to_be_bytes()].concat(),
        )
        .0,
    );
    assert_eq!(slot, model_registry::achain_block_slot(height));
    let mut chain = Chain::new(96_369, bridge_config());
    let good = verify(&p, &bytes, p.output);

    // Before the import the height is unknown: false, not a halt.
    assert_eq!(verified(&mut chain, &good), Some(false));

    // Strangers, static calls and delegation cannot import.
    let imp = import(height, b256(p.block_hash));
    let msg = halt_message(chain.tx(model_registry::ADDRESS, imp.clone(), 1_000_000));
    assert!(
        msg.contains("is not one of this chain's A-chain bridge contracts"),
        "{msg}"
    );
    for proxy in [PROXY_STATIC, PROXY_DELEGATE, PROXY_CALLCODE] {
        assert!(
            !chain
                .via(proxy, model_registry::ADDRESS, &imp, false)
                .inner()
                .0,
            "import through {proxy} must fail"
        );
    }
    assert_eq!(chain.storage(model_registry::ADDRESS, slot), U256::ZERO);
    assert_eq!(verified(&mut chain, &good), Some(false));

    // An import that the bridge's frame then reverts leaves nothing.
    assert!(
        chain
            .via(PROXY_CALL, model_registry::ADDRESS, &imp, true)
            .inner()
            .0
    );
    assert_eq!(verified(&mut chain, &good), Some(false));

    // The bridge imports the block hash: the receipt verifies, from a contract (STATICCALL)
    // and from an EOA's transaction.
    assert!(
        chain
            .via(PROXY_CALL, model_registry::ADDRESS, &imp, false)
            .inner()
            .0
    );
    assert_eq!(
        chain.storage(model_registry::ADDRESS, slot),
        U256::from_be_bytes(p.block_hash.0)
    );
    assert_eq!(verified(&mut chain, &good), Some(true));
    assert_eq!(
        chain
            .tx(model_registry::ADDRESS, good.clone(), 2_000_000)
            .output(),
        word(true)
    );

    // Another output, input or model: false.
    assert_eq!(
        verified(&mut chain, &verify(&p, &bytes, h(0xab))),
        Some(false),
        "other output"
    );
    for (name, model, input) in [
        ("input 3, in the same block", p.model, h(3)),
        ("another model", h(9), p.input),
    ] {
        assert_eq!(
            verified(&mut chain, &verify_call(model, input, p.output, &bytes)),
            Some(false),
            "{name}"
        );
    }

    // A well-formed receipt whose header is not the imported block (same height): false.
    let mut forged = p.receipt.clone();
    forged.header.timestamp += 1;
    assert_eq!(
        verified(&mut chain, &verify(&p, &forged.encode(), p.output)),
        Some(false)
    );
    // The real header and transaction, the path's steps swapped: does not lead to tx_root.
    let mut moved = p.receipt.clone();
    moved.path.reverse();
    assert_eq!(
        verified(&mut chain, &verify(&p, &moved.encode(), p.output)),
        Some(false)
    );
    // A receipt for a height nobody imported: false.
    let mut later = p.receipt.clone();
    later.header.height += 1;
    assert_eq!(
        verified(&mut chain, &verify(&p, &later.encode(), p.output)),
        Some(false)
    );

    // A malformed receipt halts, naming the field.
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() - 1);
    let msg = halt_message(chain.tx(
        model_registry::ADDRESS,
        verify(&p, &truncated, p.output),
        2_000_000,
    ));
    assert!(msg.contains("proof.receipt"), "{msg}");
    assert!(msg.contains("attestation_id"), "{msg}");
    let mut trailing = bytes;
    trailing.push(0);
    let msg = halt_message(chain.tx(
        model_registry::ADDRESS,
        verify(&p, &trailing, p.output),
        2_000_000,
    ));
    assert!(msg.contains("proof.receipt"), "{msg}");

    // Re-importing the same hash is fine; a different hash for the height is not.
    assert!(
        chain
            .via(PROXY_CALL, model_registry::ADDRESS, &imp, false)
            .inner()
            .0
    );
    let conflict = import(height, B256::repeat_byte(0x77));
    assert!(
        !chain
            .via(PROXY_CALL, model_registry::ADDRESS, &conflict, false)
            .inner()
            .0
    );
    assert_eq!(
        chain.storage(model_registry::ADDRESS, slot),
        U256::from_be_bytes(p.block_hash.0)
    );
    assert_eq!(verified(&mut chain, &good), Some(true));
}

#[test]
fn conflicting_import_halts_with_its_named_error() {
    // The EOA as the bridge, so that the halt reason of the top-level call is visible.
    let mut chain = Chain::new(96_369, PoaiConfig::default().with_bridge_contracts([EOA]));
    let (a, b) = (B256::repeat_byte(0xa1), B256::repeat_byte(0xb2));
    assert!(matches!(
        chain.tx(model_registry::ADDRESS, import(12, a), 1_000_000),
        Outcome::Success { .. }
    ));
    let msg = halt_message(chain.tx(model_registry::ADDRESS, import(12, b), 1_000_000));
    assert!(msg.contains("already has block hash"), "{msg}");
    assert!(msg.contains("blockHash"), "{msg}");
    let msg = halt_message(chain.tx(model_registry::ADDRESS, import(13, B256::ZERO), 1_000_000));
    assert!(msg.contains("blockHash"), "{msg}");
    assert_eq!(
        chain.storage(
            model_registry::ADDRESS,
            model_registry::achain_block_slot(12)
        ),
        U256::from_be_bytes(a.0)
    );
}
