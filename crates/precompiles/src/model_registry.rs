//! 0x…0302 MODEL_REGISTRY: the `IModelRegistry` ABI (seed 001; LP-035's registry and inference
//! attestations, SPEC sections 4 and 6).
//!
//! | function | gas (charged before the work) |
//! |---|---|
//! | `register(string name, bytes32 modelHash, bytes metadata) returns (bytes32 modelId)` | [`BASE_GAS`] + [`PER_WORD_GAS`] × words(name ‖ metadata) + 1 SLOAD + 4 SSTORE |
//! | `verifyExecution(bytes32 modelId, bytes32 inputHash, bytes32 outputHash, bytes proof) returns (bool)`, proof kind 0x01 | [`BASE_GAS`] + VerifyMLDSA's gas for the set and message + 2 SLOAD |
//! | `verifyExecution(…)`, proof kind 0x02 | [`BASE_GAS`] + [`RECEIPT_PER_WORD_GAS`] × words(receipt) + 1 SLOAD |
//! | `authorizeProvider(bytes32 modelId, bytes32 providerKeyHash, bool allowed)` | [`BASE_GAS`] + 1 SLOAD + 1 SSTORE |
//! | `importAChainBlock(uint64 height, bytes32 blockHash)` | [`BASE_GAS`] + 1 SLOAD + 1 SSTORE |
//!
//! - `modelId = BLAKE3("poai/model/v1" ‖ u64be(chain_id) ‖ owner(20) ‖ modelHash)`: the owner
//!   is the caller, so nobody can front-run a registration and take the id. Registering the same
//!   id twice halts. `name` is 1..=[`MAX_NAME_LEN`] bytes, `metadata` at most
//!   [`MAX_METADATA_LEN`]; the registry stores their BLAKE3 hashes (layout in [`crate::state`]).
//! - `authorizeProvider`: the model's owner allows (or stops allowing) a provider key, named
//!   by `BLAKE3(ML-DSA public key)`, to attest executions.
//! - `importAChainBlock`: the chain's bridge (a contract in [`PoaiConfig::bridge_contracts`],
//!   which checks the A-chain validators' Warp signatures before calling) records the A-chain
//!   block hash at a height, at `keccak("poai.achain.block" ‖ u64be(height))`. Refused in static
//!   calls and from any other caller; the zero hash is refused (it means "none"); importing the
//!   same hash again is a no-op, a different hash for a height already imported halts with
//!   [`Halt::BlockHashConflict`] (a bridge never rewrites history: a fork of the finalised
//!   A-chain is for governance, not for a contract call).
//! - `verifyExecution`'s `proof` (this project's layout; LP-035 "signed by the provider"), by
//!   its first byte, the kind:
//!
//!   | bytes | field |
//!   |---|---|
//!   | 0 | kind: 0x01 signed inference attestation, 0x02 A-chain receipt |
//!   | kind 0x01: 1 | ML-DSA param_set (0x02, 0x03, 0x05) |
//!   | kind 0x01: … | provider public key, then signature (lengths of the set) |
//!   | kind 0x01: last 8 | timestamp, u64 seconds |
//!   | kind 0x02: 1.. | the receipt, `poai_chain::ai::receipt::InferenceReceipt::encode` (header, tx index, Merkle path, tx, attestation id) |
//!
//!   Kind 0x01: the signature (empty context) is over `"poai/inference/v1" ‖ u64be(chain_id) ‖
//!   modelId ‖ inputHash ‖ outputHash ‖ u64be(timestamp)`. True iff the model is registered,
//!   the key is authorised for it, the timestamp is at most 60 s past the block's, and the
//!   signature verifies; a well-formed proof that fails any of these is false.
//!
//!   Kind 0x02 (docs/DESIGN-aivm.md, "Receipts"): `modelId` is the *A-chain's* model id (the
//!   A-chain registered the model and checked the provider; this registry's own registrations
//!   play no part). A receipt that does not decode halts with [`Halt::Receipt`], naming the
//!   field. A well-formed receipt is true iff an imported block hash exists at its header's
//!   height, the header hashes to it, the transaction's Merkle path leads to the header's
//!   `tx_root`, the transaction records that result attestation, and the attestation's model,
//!   input and output are exactly the arguments; otherwise false. A height not imported (yet)
//!   is false rather than a halt, like an unregistered model for kind 0x01: whether a bridge
//!   has caught up is state, not a malformed call, and a halt would burn the caller's gas.
//! - Writes are refused in static calls; the precompile keeps state in its own account, so
//!   DELEGATECALL and CALLCODE are refused.

use crate::abi::IModelRegistry;
use crate::ai_mining::{self, take, take_mldsa};
use crate::config::PoaiConfig;
use crate::error::{Failure, Halt, Result};
use crate::gas::{self, GasMeter, SLOAD_GAS, SSTORE_GAS};
use crate::state::{self, CallEnv, Storage, field, slot};
use alloy_primitives::{Address, B256, U256, address};
use alloy_sol_types::SolCall;
use poai_chain::Hash32;
use poai_chain::ai::receipt::InferenceReceipt;
use poai_primitives::ChainId;

/// The precompile's address.
pub const ADDRESS: Address = address!("0000000000000000000000000000000000000302");
/// Name used in errors.
pub const NAME: &str = "MODEL_REGISTRY";
/// Gas floor of every function (seed 001).
pub const BASE_GAS: u64 = 25_000;
/// Per 32-byte word of name and metadata (hashed once).
pub const PER_WORD_GAS: u64 = 6;
/// Longest model name.
pub const MAX_NAME_LEN: usize = 256;
/// Longest metadata.
pub const MAX_METADATA_LEN: usize = 16 * 1024;
/// Proof kind: a signed inference attestation.
pub const PROOF_SIGNED_ATTESTATION: u8 = 0x01;
/// Proof kind: an A-chain inference receipt.
pub const PROOF_ACHAIN_RECEIPT: u8 = 0x02;
/// Per 32-byte word of an A-chain receipt: it is decoded, its transaction re-encoded and
/// hashed, the header hashed, and the Merkle path folded (benches/gas.rs,
/// `verify_receipt` rows; docs/PERFORMANCE.md, "Precompile gas").
pub const RECEIPT_PER_WORD_GAS: u64 = 12;
/// Domain of the attestation message.
pub const ATTESTATION_DOMAIN: &[u8] = b"poai/inference/v1";
/// How far past the block time an attestation's timestamp may be.
pub const MAX_FUTURE_SECS: u64 = 60;

const MODEL_TAG: &[u8] = b"poai.model";
const PROVIDER_TAG: &[u8] = b"poai.model.provider";
const MODEL_ID_DOMAIN: &[u8] = b"poai/model/v1";
const ACHAIN_BLOCK_TAG: &[u8] = b"poai.achain.block";

/// Runs a call to 0x0302.
pub fn run(
    input: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Result<Vec<u8>> {
    if env.delegated {
        return Err(Halt::DelegateCallRefused(NAME).into());
    }
    let selector = input.get(..4).ok_or(Halt::Truncated {
        field: "selector",
        needed: 4,
        available: input.len(),
    })?;
    match <[u8; 4]>::try_from(selector).unwrap_or_default() {
        IModelRegistry::registerCall::SELECTOR => {
            let c = crate::abi::decode::<IModelRegistry::registerCall>(input, "register")?;
            let id = register(&c.name, c.modelHash, &c.metadata, env, gas, storage)?;
            Ok(IModelRegistry::registerCall::abi_encode_returns(&id))
        }
        IModelRegistry::verifyExecutionCall::SELECTOR => {
            let c = crate::abi::decode::<IModelRegistry::verifyExecutionCall>(
                input,
                "verifyExecution",
            )?;
            let ok = verify_execution(
                c.modelId,
                c.inputHash,
                c.outputHash,
                &c.proof,
                env,
                gas,
                storage,
            )?;
            Ok(IModelRegistry::verifyExecutionCall::abi_encode_returns(&ok))
        }
        IModelRegistry::authorizeProviderCall::SELECTOR => {
            let c = crate::abi::decode::<IModelRegistry::authorizeProviderCall>(
                input,
                "authorizeProvider",
            )?;
            authorize_provider(c.modelId, c.providerKeyHash, c.allowed, env, gas, storage)?;
            Ok(Vec::new())
        }
        IModelRegistry::importAChainBlockCall::SELECTOR => {
            let c = crate::abi::decode::<IModelRegistry::importAChainBlockCall>(
                input,
                "importAChainBlock",
            )?;
            import_achain_block(c.height, c.blockHash, env, gas, storage, config)?;
            Ok(Vec::new())
        }
        _ => Err(Halt::UnknownSelector(ai_mining::hex_of(selector), "IModelRegistry").into()),
    }
}

/// The id a model gets when `owner` registers `model_hash` on `chain_id`.
pub fn model_id(chain_id: ChainId, owner: &Address, model_hash: &B256) -> B256 {
    let mut h = blake3::Hasher::new();
    h.update(MODEL_ID_DOMAIN);
    h.update(&chain_id.to_be_bytes());
    h.update(owner.as_slice());
    h.update(model_hash.as_slice());
    B256::from(*h.finalize().as_bytes())
}

/// The first of a model's four slots.
pub fn model_slot(id: &B256) -> U256 {
    slot(MODEL_TAG, &[id.as_slice()])
}

/// The slot saying whether a provider key may attest for a model.
pub fn provider_slot(id: &B256, key_hash: &B256) -> U256 {
    slot(PROVIDER_TAG, &[id.as_slice(), key_hash.as_slice()])
}

/// The slot holding the imported A-chain block hash at `height`.
pub fn achain_block_slot(height: u64) -> U256 {
    slot(ACHAIN_BLOCK_TAG, &[&height.to_be_bytes()])
}

/// The message a provider signs for an execution.
pub fn attestation_message(
    chain_id: ChainId,
    model_id: &B256,
    input_hash: &B256,
    output_hash: &B256,
    timestamp: u64,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(ATTESTATION_DOMAIN.len() + 8 + 96 + 8);
    m.extend_from_slice(ATTESTATION_DOMAIN);
    m.extend_from_slice(&chain_id.to_be_bytes());
    m.extend_from_slice(model_id.as_slice());
    m.extend_from_slice(input_hash.as_slice());
    m.extend_from_slice(output_hash.as_slice());
    m.extend_from_slice(&timestamp.to_be_bytes());
    m
}

/// The message length [`attestation_message`] produces.
pub const ATTESTATION_MESSAGE_LEN: usize = 17 + 8 + 96 + 8;

fn owner_of(word0: U256) -> Option<Address> {
    let b = state::bytes(word0);
    (b != [0u8; 32]).then(|| Address::from_slice(b.get(..20).unwrap_or(&[0u8; 20])))
}

/// `register(name, modelHash, metadata)`.
pub fn register(
    name: &str,
    model_hash: B256,
    metadata: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
) -> Result<B256> {
    if env.is_static {
        return Err(Halt::StaticCallWrite("register").into());
    }
    if name.is_empty() {
        return Err(Halt::invalid("name", "must not be empty").into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Halt::TooLong {
            field: "name",
            len: name.len(),
            max: MAX_NAME_LEN,
        }
        .into());
    }
    if metadata.len() > MAX_METADATA_LEN {
        return Err(Halt::TooLong {
            field: "metadata",
            len: metadata.len(),
            max: MAX_METADATA_LEN,
        }
        .into());
    }
    if model_hash == B256::ZERO {
        return Err(Halt::invalid("modelHash", "must not be zero").into());
    }
    gas.charge(
        gas::linear(
            BASE_GAS,
            PER_WORD_GAS,
            name.len().saturating_add(metadata.len()),
        )
        .saturating_add(SLOAD_GAS + 4 * SSTORE_GAS),
    )?;
    let id = model_id(env.chain_id, &env.caller, &model_hash);
    let base = model_slot(&id);
    if owner_of(storage.sload(base)?).is_some() {
        return Err(Halt::ModelExists(id.to_string()).into());
    }
    let mut w0 = [0u8; 32];
    for (d, s) in w0.iter_mut().zip(env.caller.as_slice()) {
        *d = *s;
    }
    for (d, s) in w0.iter_mut().skip(20).zip(env.timestamp.to_be_bytes()) {
        *d = s;
    }
    storage.sstore(base, U256::from_be_bytes(w0))?;
    storage.sstore(field(base, 1), state::word(model_hash))?;
    storage.sstore(
        field(base, 2),
        U256::from_be_bytes(*blake3::hash(name.as_bytes()).as_bytes()),
    )?;
    storage.sstore(
        field(base, 3),
        U256::from_be_bytes(*blake3::hash(metadata).as_bytes()),
    )?;
    Ok(id)
}

/// `authorizeProvider(modelId, providerKeyHash, allowed)`.
pub fn authorize_provider(
    id: B256,
    key_hash: B256,
    allowed: bool,
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
) -> Result<()> {
    if env.is_static {
        return Err(Halt::StaticCallWrite("authorizeProvider").into());
    }
    gas.charge(BASE_GAS + SLOAD_GAS + SSTORE_GAS)?;
    let owner = owner_of(storage.sload(model_slot(&id))?)
        .ok_or_else(|| Halt::invalid("modelId", format!("{id} is not registered")))?;
    if owner != env.caller {
        return Err(Halt::NotModelOwner {
            caller: env.caller.to_string(),
            model: id.to_string(),
        }
        .into());
    }
    storage.sstore(provider_slot(&id, &key_hash), U256::from(u8::from(allowed)))
}

/// `importAChainBlock(height, blockHash)`: records a block hash the bridge vouches for.
pub fn import_achain_block(
    height: u64,
    block_hash: B256,
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Result<()> {
    const OP: &str = "importAChainBlock";
    if env.is_static {
        return Err(Halt::StaticCallWrite(OP).into());
    }
    if !config.is_bridge_contract(&env.caller) {
        return Err(Halt::CallerNotBridge {
            op: OP,
            caller: env.caller.to_string(),
        }
        .into());
    }
    if block_hash == B256::ZERO {
        // Zero is what an empty slot reads as: it would import nothing.
        return Err(Halt::invalid("blockHash", "must not be zero").into());
    }
    gas.charge(BASE_GAS + SLOAD_GAS + SSTORE_GAS)?;
    let key = achain_block_slot(height);
    let stored = storage.sload(key)?;
    if stored.is_zero() {
        return storage.sstore(key, state::word(block_hash));
    }
    if stored != state::word(block_hash) {
        return Err(Halt::BlockHashConflict {
            height,
            stored: B256::from(state::bytes(stored)).to_string(),
            given: block_hash.to_string(),
        }
        .into());
    }
    Ok(())
}

/// `verifyExecution(modelId, inputHash, outputHash, proof)`.
pub fn verify_execution(
    id: B256,
    input_hash: B256,
    output_hash: B256,
    proof: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
) -> Result<bool> {
    let mut rest = proof;
    let kind = take(&mut rest, 1, "proof.kind")?
        .first()
        .copied()
        .unwrap_or_default();
    match kind {
        PROOF_SIGNED_ATTESTATION => {}
        PROOF_ACHAIN_RECEIPT => {
            return verify_receipt(id, input_hash, output_hash, rest, gas, storage);
        }
        other => {
            return Err(
                Halt::invalid("proof.kind", format!("0x{other:02x} is not 0x01 or 0x02")).into(),
            );
        }
    }
    let (param, pk, sig) = take_mldsa(&mut rest)?;
    let ts = take(&mut rest, 8, "proof.timestamp")?;
    if !rest.is_empty() {
        return Err(Halt::Trailing {
            after: "proof.timestamp",
            len: rest.len(),
        }
        .into());
    }
    let timestamp = <[u8; 8]>::try_from(ts).map_or(0, u64::from_be_bytes);
    gas.charge(
        BASE_GAS
            .saturating_add(ai_mining::verify_mldsa_gas(param, ATTESTATION_MESSAGE_LEN))
            .saturating_add(2 * SLOAD_GAS),
    )?;
    if owner_of(storage.sload(model_slot(&id))?).is_none() {
        return Ok(false);
    }
    let key_hash = B256::from(*blake3::hash(pk).as_bytes());
    if storage.sload(provider_slot(&id, &key_hash))?.is_zero() {
        return Ok(false);
    }
    if timestamp > env.timestamp.saturating_add(MAX_FUTURE_SECS) {
        return Ok(false);
    }
    let msg = attestation_message(env.chain_id, &id, &input_hash, &output_hash, timestamp);
    poai_crypto::verify(param, pk, &msg, &[], sig).map_err(Failure::from)
}

/// Proof kind 0x02: `receipt` is an encoded [`InferenceReceipt`]. The same check as
/// `poai_chain::ai::receipt::verify_execution`, with the trusted hash read from storage: the
/// receipt is decoded first so that exactly one slot, its height's, is read (the chain's
/// helper takes a lookup closure, which cannot return a storage error).
pub fn verify_receipt(
    id: B256,
    input_hash: B256,
    output_hash: B256,
    receipt: &[u8],
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
) -> Result<bool> {
    gas.charge(
        gas::linear(BASE_GAS, RECEIPT_PER_WORD_GAS, receipt.len()).saturating_add(SLOAD_GAS),
    )?;
    let r = InferenceReceipt::decode(receipt).map_err(Halt::Receipt)?;
    let height = r.header.height;
    let stored = storage.sload(achain_block_slot(height))?;
    if stored.is_zero() {
        return Ok(false);
    }
    let trusted = Hash32(state::bytes(stored));
    // Every other way a well-formed receipt can fail (header not the imported block, path not
    // to its tx_root, no such result attestation in the transaction) is a false, not a halt.
    let Ok(a) = r.verify(|h| (h == height).then_some(trusted)) else {
        return Ok(false);
    };
    Ok(a.body.model_id.0 == id.0
        && a.body.input_hash.0 == input_hash.0
        && a.body.output_hash.0 == output_hash.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStorage;
    use poai_crypto::{ParamSet, SigningKey};

    const OWNER: Address = address!("0000000000000000000000000000000000000abc");

    fn env() -> CallEnv {
        CallEnv {
            caller: OWNER,
            is_static: false,
            delegated: false,
            chain_id: ChainId(96_369),
            timestamp: 1_700_000_000,
        }
    }

    const BRIDGE: Address = address!("0000000000000000000000000000000000000b1d");

    fn call(input: &[u8], env: &CallEnv, st: &mut MemoryStorage) -> Result<Vec<u8>> {
        let config = PoaiConfig::default().with_bridge_contracts([BRIDGE]);
        run(input, env, &mut GasMeter::new(10_000_000), st, &config)
    }

    fn proof(sk: &SigningKey, msg: &[u8], ts: u64) -> Vec<u8> {
        let mut p = vec![PROOF_SIGNED_ATTESTATION, sk.param_set().id()];
        p.extend_from_slice(sk.verifying_key().as_bytes());
        p.extend_from_slice(&sk.sign_deterministic(msg, &[]).unwrap());
        p.extend_from_slice(&ts.to_be_bytes());
        p
    }

    #[test]
    fn register_authorize_verify() {
        let mut st = MemoryStorage::default();
        let e = env();
        let hash = B256::repeat_byte(0x42);
        let reg = IModelRegistry::registerCall {
            name: "llama-3-70b".into(),
            modelHash: hash,
            metadata: b"{}".to_vec().into(),
        }
        .abi_encode();
        let id = B256::from_slice(&call(&reg, &e, &mut st).unwrap());
        assert_eq!(id, model_id(e.chain_id, &OWNER, &hash));
        assert!(matches!(
            call(&reg, &e, &mut st),
            Err(Failure::Halt(Halt::ModelExists(_)))
        ));

        let sk = SigningKey::from_seed(ParamSet::MlDsa44, &[3; 32]).unwrap();
        let (inp, out) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let msg = attestation_message(e.chain_id, &id, &inp, &out, e.timestamp);
        let good = proof(&sk, &msg, e.timestamp);
        let verify = |st: &mut MemoryStorage, p: &[u8], out_hash: B256| {
            let data = IModelRegistry::verifyExecutionCall {
                modelId: id,
                inputHash: inp,
                outputHash: out_hash,
                proof: p.to_vec().into(),
            }
            .abi_encode();
            call(&data, &env(), st)
        };
        // Not yet authorised: false.
        assert_eq!(
            verify(&mut st, &good, out).unwrap(),
            state::bool_word(false)
        );

        let key_hash = B256::from(*blake3::hash(sk.verifying_key().as_bytes()).as_bytes());
        let auth = IModelRegistry::authorizeProviderCall {
            modelId: id,
            providerKeyHash: key_hash,
            allowed: true,
        }
        .abi_encode();
        let stranger = CallEnv {
            caller: Address::repeat_byte(9),
            ..e
        };
        assert!(matches!(
            call(&auth, &stranger, &mut st),
            Err(Failure::Halt(Halt::NotModelOwner { .. }))
        ));
        call(&auth, &e, &mut st).unwrap();

        let cases = [
            ("valid", good.clone(), out, true),
            ("other_output", good.clone(), B256::repeat_byte(3), false),
            (
                "from_the_future",
                proof(
                    &sk,
                    &attestation_message(e.chain_id, &id, &inp, &out, e.timestamp + 61),
                    e.timestamp + 61,
                ),
                out,
                false,
            ),
        ];
        for (name, p, out_hash, expected) in cases {
            assert_eq!(
                verify(&mut st, &p, out_hash).unwrap(),
                state::bool_word(expected),
                "{name}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            verify(&mut st, &trailing, out),
            Err(Failure::Halt(Halt::Trailing { .. }))
        ));
        // The same bytes as an A-chain receipt do not decode as one: a halt naming the field.
        let mut receipt = good;
        receipt[0] = PROOF_ACHAIN_RECEIPT;
        match verify(&mut st, &receipt, out) {
            Err(Failure::Halt(h @ Halt::Receipt(_))) => {
                assert!(h.to_string().contains("proof.receipt"), "{h}");
            }
            other => panic!("{other:?}"),
        }
        let mut unknown = receipt;
        unknown[0] = 0x03;
        assert!(matches!(
            verify(&mut st, &unknown, out),
            Err(Failure::Halt(Halt::InvalidField {
                field: "proof.kind",
                ..
            }))
        ));
    }

    fn import(height: u64, hash: B256) -> Vec<u8> {
        IModelRegistry::importAChainBlockCall {
            height,
            blockHash: hash,
        }
        .abi_encode()
    }

    #[test]
    fn import_achain_block_rules() {
        let mut st = MemoryStorage::default();
        let bridge = CallEnv {
            caller: BRIDGE,
            ..env()
        };
        let (a, b) = (B256::repeat_byte(0xa1), B256::repeat_byte(0xb2));
        // Not the bridge (the model owner is not one), a static call, the zero hash: halts,
        // nothing written.
        let refused = [
            ("stranger", env(), a),
            (
                "static",
                CallEnv {
                    is_static: true,
                    ..bridge
                },
                a,
            ),
            ("zero_hash", bridge, B256::ZERO),
        ];
        for (name, e, hash) in refused {
            let got = call(&import(7, hash), &e, &mut st);
            let ok = match name {
                "stranger" => matches!(got, Err(Failure::Halt(Halt::CallerNotBridge { .. }))),
                "static" => matches!(got, Err(Failure::Halt(Halt::StaticCallWrite(_)))),
                _ => matches!(
                    got,
                    Err(Failure::Halt(Halt::InvalidField {
                        field: "blockHash",
                        ..
                    }))
                ),
            };
            assert!(ok, "{name}: {got:?}");
        }
        assert!(st.slots.is_empty());

        let mut meter = GasMeter::new(10_000_000);
        let config = PoaiConfig::default().with_bridge_contracts([BRIDGE]);
        run(&import(7, a), &bridge, &mut meter, &mut st, &config).unwrap();
        assert_eq!(meter.used(), BASE_GAS + SLOAD_GAS + SSTORE_GAS);
        assert_eq!(st.sload(achain_block_slot(7)).unwrap(), state::word(a));
        assert_ne!(achain_block_slot(7), achain_block_slot(8));
        // The same hash again: a no-op. Another: the named conflict, the first one kept.
        call(&import(7, a), &bridge, &mut st).unwrap();
        match call(&import(7, b), &bridge, &mut st) {
            Err(Failure::Halt(h @ Halt::BlockHashConflict { height: 7, .. })) => {
                assert!(h.to_string().contains("blockHash"), "{h}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(st.sload(achain_block_slot(7)).unwrap(), state::word(a));
        // DELEGATECALL / CALLCODE: refused before anything else.
        let delegated = CallEnv {
            delegated: true,
            ..bridge
        };
        assert!(matches!(
            call(&import(9, a), &delegated, &mut st),
            Err(Failure::Halt(Halt::DelegateCallRefused(_)))
        ));
    }

    #[test]
    fn receipt_gas_is_charged_before_decoding() {
        // 100 bytes of garbage: the charge is for 4 words plus the SLOAD, and a meter one gas
        // short halts out of gas rather than with the decode error.
        let receipt = [0xffu8; 100];
        let cost = BASE_GAS + 4 * RECEIPT_PER_WORD_GAS + SLOAD_GAS;
        let mut st = MemoryStorage::default();
        let mut meter = GasMeter::new(cost - 1);
        assert!(matches!(
            verify_receipt(
                B256::ZERO,
                B256::ZERO,
                B256::ZERO,
                &receipt,
                &mut meter,
                &mut st
            ),
            Err(Failure::Halt(Halt::OutOfGas { .. }))
        ));
        let mut meter = GasMeter::new(cost);
        assert!(matches!(
            verify_receipt(
                B256::ZERO,
                B256::ZERO,
                B256::ZERO,
                &receipt,
                &mut meter,
                &mut st
            ),
            Err(Failure::Halt(Halt::Receipt(_)))
        ));
        assert_eq!(meter.used(), cost);
    }

    #[test]
    fn register_bounds() {
        let mut st = MemoryStorage::default();
        let cases = [
            ("empty_name", String::new(), B256::repeat_byte(1), 0usize),
            (
                "long_name",
                "x".repeat(MAX_NAME_LEN + 1),
                B256::repeat_byte(1),
                0,
            ),
            ("zero_hash", "m".into(), B256::ZERO, 0),
            (
                "long_metadata",
                "m".into(),
                B256::repeat_byte(1),
                MAX_METADATA_LEN + 1,
            ),
        ];
        for (name, model, hash, meta) in cases {
            let data = IModelRegistry::registerCall {
                name: model,
                modelHash: hash,
                metadata: vec![0u8; meta].into(),
            }
            .abi_encode();
            assert!(
                matches!(call(&data, &env(), &mut st), Err(Failure::Halt(_))),
                "{name}"
            );
        }
        let static_env = CallEnv {
            is_static: true,
            ..env()
        };
        let data = IModelRegistry::registerCall {
            name: "m".into(),
            modelHash: B256::repeat_byte(1),
            metadata: Default::default(),
        }
        .abi_encode();
        assert!(matches!(
            call(&data, &static_env, &mut st),
            Err(Failure::Halt(Halt::StaticCallWrite(_)))
        ));
    }
}
