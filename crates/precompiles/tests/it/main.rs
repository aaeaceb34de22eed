//! The precompiles through revm's real EVM: transactions from an EOA, and through small raw
//! bytecode contracts that CALL, STATICCALL, DELEGATECALL or CALLCODE a precompile and REVERT
//! on demand. State is committed to an in-memory database between transactions.

// Helpers outside `#[test]` functions unwrap and panic too, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

mod receipt;

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::SolCall;
use poai_crypto::{ParamSet, SigningKey};
use poai_precompiles::abi::{IAIMining, IModelRegistry, INVTrust};
use poai_precompiles::ai_mining::{self, op};
use poai_precompiles::tee::TeeConfig;
use poai_precompiles::{PoaiConfig, PoaiPrecompiles, model_registry, nv_trust};
use poai_primitives::{ChainId, Nonce};
use poai_tee::testpki::{Gpu, TestPki};
use revm::bytecode::Bytecode;
use revm::context::result::{ExecutionResult, HaltReason, OutOfGasError};
use revm::context::{BlockEnv, CfgEnv, Evm, TxEnv};
use revm::database::InMemoryDB;
use revm::handler::instructions::EthInstructions;
use revm::handler::{EthFrame, MainnetContext};
use revm::interpreter::interpreter::EthInterpreter;
use revm::primitives::TxKind;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

type Ctx = MainnetContext<InMemoryDB>;
type PoaiEvm =
    Evm<Ctx, (), EthInstructions<EthInterpreter, Ctx>, PoaiPrecompiles, EthFrame<EthInterpreter>>;

const EOA: Address = address!("00000000000000000000000000000000000e0a00");
/// Proxies, one per call opcode. Calldata: revert flag(1) ‖ target(20) ‖ payload. They return
/// (or, with the flag, revert with) `success word ‖ returndata`.
const PROXY_CALL: Address = address!("000000000000000000000000000000000000c001");
const PROXY_STATIC: Address = address!("000000000000000000000000000000000000c002");
const PROXY_DELEGATE: Address = address!("000000000000000000000000000000000000c003");
const PROXY_CALLCODE: Address = address!("000000000000000000000000000000000000c004");
const T0: u64 = 1_700_000_000;

/// The proxy's bytecode around one call opcode (CALL 0xf1, CALLCODE 0xf2, DELEGATECALL 0xf4,
/// STATICCALL 0xfa).
fn proxy_code(call_op: u8) -> Bytes {
    let with_value = matches!(call_op, 0xf1 | 0xf2);
    let mut c = vec![
        0x60, 0x15, 0x36, 0x03, // size = calldatasize - 21
        0x80, 0x60, 0x15, 0x60, 0x00, 0x37, // calldatacopy(0, 21, size)
        0x60, 0x00, 0x60, 0x00, // retSize, retOffset
        0x82, 0x60, 0x00, // argsSize = size, argsOffset = 0
    ];
    if with_value {
        c.extend_from_slice(&[0x60, 0x00]); // value 0
    }
    c.extend_from_slice(&[
        0x60, 0x01, 0x35, 0x60, 0x60, 0x1c, // target = calldataload(1) >> 96
        0x5a, call_op, // gas, call
        0x60, 0x00, 0x52, // mstore(0, success)
        0x3d, 0x60, 0x00, 0x60, 0x20, 0x3e, // returndatacopy(32, 0, rds)
        0x3d, 0x60, 0x20, 0x01, // len = rds + 32
        0x60, 0x00, 0x35, 0x60, 0xf8, 0x1c, // flag = calldataload(0) >> 248
    ]);
    let revert_at = u8::try_from(c.len() + 6).unwrap();
    c.extend_from_slice(&[
        0x60, revert_at, 0x57, // jumpi(revert, flag)
        0x60, 0x00, 0xf3, // return(0, len)
        0x5b, 0x60, 0x00, 0xfd, // revert: revert(0, len)
    ]);
    c.into()
}

struct Chain {
    evm: PoaiEvm,
    chain_id: u64,
}

/// What a transaction did.
#[derive(Debug)]
enum Outcome {
    Success { output: Vec<u8>, gas_used: u64 },
    Revert(Vec<u8>),
    Halt(HaltReason),
}

impl Outcome {
    fn output(&self) -> &[u8] {
        match self {
            Self::Success { output, .. } => output,
            other => panic!("expected success, got {other:?}"),
        }
    }

    /// For a proxy call: (inner call succeeded, inner return data).
    fn inner(&self) -> (bool, Vec<u8>) {
        let out = match self {
            Self::Success { output, .. } | Self::Revert(output) => output,
            Self::Halt(h) => panic!("proxy halted: {h:?}"),
        };
        (out[31] == 1, out[32..].to_vec())
    }
}

impl Chain {
    fn new(chain_id: u64, config: PoaiConfig) -> Self {
        let mut db = InMemoryDB::default();
        poai_precompiles::insert_genesis(&mut db);
        db.insert_account_info(
            EOA,
            AccountInfo {
                balance: U256::from(10).pow(U256::from(24)),
                ..AccountInfo::default()
            },
        );
        for (addr, op) in [
            (PROXY_CALL, 0xf1),
            (PROXY_STATIC, 0xfa),
            (PROXY_DELEGATE, 0xf4),
            (PROXY_CALLCODE, 0xf2),
        ] {
            db.insert_account_info(
                addr,
                AccountInfo::default().with_code(Bytecode::new_raw(proxy_code(op))),
            );
        }
        let ctx = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|cfg: &mut CfgEnv| {
                cfg.chain_id = chain_id;
                cfg.disable_nonce_check = true;
            })
            .modify_block_chained(|b: &mut BlockEnv| {
                b.timestamp = U256::from(T0);
                b.basefee = 0;
            });
        let evm = ctx
            .build_mainnet()
            .with_precompiles(PoaiPrecompiles::new(SpecId::PRAGUE, config));
        Self { evm, chain_id }
    }

    fn set_time(&mut self, t: u64) {
        self.evm.ctx.block.timestamp = U256::from(t);
    }

    fn tx(&mut self, to: Address, data: Vec<u8>, gas: u64) -> Outcome {
        let tx = TxEnv::builder()
            .caller(EOA)
            .kind(TxKind::Call(to))
            .data(data.into())
            .gas_limit(gas)
            .gas_price(0)
            .chain_id(Some(self.chain_id))
            .build()
            .unwrap();
        match self.evm.transact_commit(tx).unwrap() {
            ExecutionResult::Success { output, gas, .. } => Outcome::Success {
                output: output.into_data().to_vec(),
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Revert { output, .. } => Outcome::Revert(output.to_vec()),
            ExecutionResult::Halt { reason, .. } => Outcome::Halt(reason),
        }
    }

    /// Calls `target` with `payload` through `proxy`, reverting afterwards if `revert`.
    fn via(&mut self, proxy: Address, target: Address, payload: &[u8], revert: bool) -> Outcome {
        let mut data = vec![u8::from(revert)];
        data.extend_from_slice(target.as_slice());
        data.extend_from_slice(payload);
        self.tx(proxy, data, 16_000_000)
    }

    fn storage(&mut self, account: Address, slot: U256) -> U256 {
        self.evm
            .ctx
            .journaled_state
            .database
            .cache
            .accounts
            .get(&account)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }
}

fn mining_config() -> PoaiConfig {
    PoaiConfig::with_mining_contracts([PROXY_CALL, PROXY_STATIC])
}

fn raw(op_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![op_byte];
    v.extend_from_slice(payload);
    v
}

fn word(b: bool) -> Vec<u8> {
    let mut w = vec![0u8; 32];
    w[31] = u8::from(b);
    w
}

#[test]
fn spent_set_survives_transactions_and_a_revert_undoes_it() {
    let mut chain = Chain::new(96_369, mining_config());
    let id = [0x5A; 32];
    let is_spent =
        |chain: &mut Chain| chain.tx(ai_mining::ADDRESS, raw(op::IS_SPENT, &id), 100_000);

    assert_eq!(is_spent(&mut chain).output(), word(false));

    // MarkSpent succeeds inside the call, then the proxy reverts: the write is undone.
    let (ok, _) = chain
        .via(
            PROXY_CALL,
            ai_mining::ADDRESS,
            &raw(op::MARK_SPENT, &id),
            true,
        )
        .inner();
    assert!(ok, "MarkSpent itself succeeded before the revert");
    assert_eq!(is_spent(&mut chain).output(), word(false));

    // Committed: visible to the next transactions.
    let (ok, out) = chain
        .via(
            PROXY_CALL,
            ai_mining::ADDRESS,
            &raw(op::MARK_SPENT, &id),
            false,
        )
        .inner();
    assert!(ok);
    assert!(out.is_empty());
    assert_eq!(is_spent(&mut chain).output(), word(true));
    assert_eq!(is_spent(&mut chain).output(), word(true));
    let slot = ai_mining::spent_slot(&poai_primitives::WorkId(id));
    assert_eq!(chain.storage(ai_mining::ADDRESS, slot), U256::from(1));

    // A second MarkSpent of the same id fails.
    let (ok, _) = chain
        .via(
            PROXY_CALL,
            ai_mining::ADDRESS,
            &raw(op::MARK_SPENT, &id),
            false,
        )
        .inner();
    assert!(!ok);
}

#[test]
fn mark_spent_refused_for_strangers_static_calls_and_delegation() {
    let mut chain = Chain::new(96_369, mining_config());
    let id = [0x77; 32];
    let mark = raw(op::MARK_SPENT, &id);

    // From an EOA that is not a mining contract: the transaction halts with the named error.
    match chain.tx(ai_mining::ADDRESS, mark.clone(), 100_000) {
        Outcome::Halt(HaltReason::PrecompileErrorWithContext(msg)) => {
            assert!(
                msg.contains("is not one of this chain's mining contracts"),
                "{msg}"
            );
        }
        other => panic!("expected a precompile halt, got {other:?}"),
    }
    // From an allowed contract, but inside STATICCALL.
    let (ok, _) = chain
        .via(PROXY_STATIC, ai_mining::ADDRESS, &mark, false)
        .inner();
    assert!(!ok, "MarkSpent inside STATICCALL must fail");
    // DELEGATECALL and CALLCODE: refused, whoever calls.
    for proxy in [PROXY_DELEGATE, PROXY_CALLCODE] {
        let (ok, _) = chain.via(proxy, ai_mining::ADDRESS, &mark, false).inner();
        assert!(!ok, "{proxy} must be refused");
        let (ok, _) = chain
            .via(proxy, ai_mining::ADDRESS, &raw(op::IS_SPENT, &id), false)
            .inner();
        assert!(
            !ok,
            "{proxy}: even reads are refused for a stateful precompile"
        );
    }
    // Nothing was written anywhere.
    assert_eq!(
        chain
            .tx(ai_mining::ADDRESS, raw(op::IS_SPENT, &id), 100_000)
            .output(),
        word(false)
    );
    // STATICCALL of a read is fine.
    let (ok, out) = chain
        .via(
            PROXY_STATIC,
            ai_mining::ADDRESS,
            &raw(op::IS_SPENT, &id),
            false,
        )
        .inner();
    assert!(ok);
    assert_eq!(out, word(false));
}

#[test]
fn the_precompile_account_keeps_nonce_one_and_its_storage() {
    let mut chain = Chain::new(96_369, mining_config());
    let id = [0x31; 32];
    chain.via(
        PROXY_CALL,
        ai_mining::ADDRESS,
        &raw(op::MARK_SPENT, &id),
        false,
    );
    // A plain value-less call touches the account; state clearing must not delete it.
    chain.tx(ai_mining::ADDRESS, Vec::new(), 100_000);
    let acc = chain
        .evm
        .ctx
        .journaled_state
        .database
        .cache
        .accounts
        .get(&ai_mining::ADDRESS)
        .unwrap();
    assert_eq!(acc.info.nonce, 1);
    assert_eq!(
        chain
            .tx(ai_mining::ADDRESS, raw(op::IS_SPENT, &id), 100_000)
            .output(),
        word(true)
    );
}

fn proof_bytes(device: [u8; 32], nonce: [u8; 32]) -> Vec<u8> {
    let mut p = device.to_vec();
    p.extend_from_slice(&nonce);
    p.extend_from_slice(&T0.to_be_bytes());
    p.extend_from_slice(&3u16.to_be_bytes());
    p.extend_from_slice(&10u32.to_be_bytes());
    p
}

#[test]
fn work_ids_per_chain_match_the_foundation_vectors() {
    let mut d = [0u8; 32];
    d[..3].copy_from_slice(&[1, 2, 3]);
    let mut n = [0u8; 32];
    n[..3].copy_from_slice(&[4, 5, 6]);
    let cases = [
        (
            "lux_c_chain",
            d,
            n,
            96_369u64,
            "d6be424ffa2b7c5e627bcaf31881d10dac9b78b3e8916c46f4d92a456ac1972e",
        ),
        (
            "zoo_evm",
            [0xAA; 32],
            [0xBB; 32],
            200_200,
            "4e0f8c071a1c92eefbe1d23e9e4425ccebe29a4ac40361c009fbfae0c5c2360c",
        ),
    ];
    for (name, device, nonce, chain_id, expected) in cases {
        let mut chain = Chain::new(chain_id, mining_config());
        let out = chain
            .tx(
                ai_mining::ADDRESS,
                raw(op::COMPUTE_WORK_ID, &proof_bytes(device, nonce)),
                100_000,
            )
            .output()
            .to_vec();
        assert_eq!(hex::encode(&out), expected, "{name}");
    }
    // The same proof on the two chains: different ids.
    let p = raw(op::COMPUTE_WORK_ID, &proof_bytes(d, n));
    let a = Chain::new(96_369, mining_config())
        .tx(ai_mining::ADDRESS, p.clone(), 100_000)
        .output()
        .to_vec();
    let b = Chain::new(200_200, mining_config())
        .tx(ai_mining::ADDRESS, p, 100_000)
        .output()
        .to_vec();
    assert_ne!(a, b);
}

#[test]
fn calculate_reward_and_out_of_gas_in_a_transaction() {
    let mut chain = Chain::new(96_369, mining_config());
    let input = raw(op::CALCULATE_REWARD, &proof_bytes([1; 32], [2; 32]));
    let out = chain.tx(ai_mining::ADDRESS, input, 100_000);
    assert_eq!(
        U256::from_be_slice(out.output()),
        U256::from(10u128 * 10u128.pow(18))
    );
    // IsSpent of a non-zero id with the gas limit at the EIP-7623 floor (21000 + 40 per
    // non-zero calldata byte): after the intrinsic 21000 + 16 per byte, the precompile gets
    // 24 × 33 = 792 gas, less than its 2200.
    let is_spent = raw(op::IS_SPENT, &[1; 32]);
    match chain.tx(ai_mining::ADDRESS, is_spent, 21_000 + 40 * 33) {
        Outcome::Halt(HaltReason::OutOfGas(OutOfGasError::Precompile)) => {}
        other => panic!("expected precompile out of gas, got {other:?}"),
    }
}

/// Wycheproof ML-DSA verify vectors through VerifyMLDSA in transactions.
///
/// Mapping of the test ids the LP-130 layout cannot express: VerifyMLDSA reads the public key
/// and signature lengths from the parameter set, and always uses the empty context. A vector
/// whose key or signature has the wrong length, or whose context is not empty, becomes an input
/// whose bytes the precompile splits differently (or cannot split): its outcome must be a halt
/// or `false`, which both count as "invalid". Every other vector must give exactly its bool.
#[test]
fn wycheproof_verify_mldsa_through_revm() {
    let mut chain = Chain::new(96_369, mining_config());
    for (file, param) in [
        ("mldsa_44_verify_test.json", ParamSet::MlDsa44),
        ("mldsa_65_verify_test.json", ParamSet::MlDsa65),
    ] {
        let path = format!(
            "{}/../../testdata/crypto/wycheproof/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut counted = 0;
        let mut inexpressible = 0;
        for group in doc["testGroups"].as_array().unwrap() {
            let pk = hex::decode(group["publicKey"].as_str().unwrap()).unwrap();
            for t in group["tests"].as_array().unwrap() {
                let id = t["tcId"].as_u64().unwrap();
                let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
                let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
                let ctx = t
                    .get("ctx")
                    .and_then(|c| c.as_str())
                    .map(|c| hex::decode(c).unwrap())
                    .unwrap_or_default();
                let valid = t["result"].as_str().unwrap() == "valid";
                let expressible = pk.len() == param.public_key_len()
                    && sig.len() == param.signature_len()
                    && ctx.is_empty();
                let mut input = vec![op::VERIFY_MLDSA, param.id()];
                input.extend_from_slice(&pk);
                input.extend_from_slice(&sig);
                input.extend_from_slice(&msg);
                let got = match chain.tx(ai_mining::ADDRESS, input, 1_000_000) {
                    Outcome::Success { output, .. } => Some(output == word(true)),
                    Outcome::Halt(_) => None,
                    Outcome::Revert(o) => panic!("{file} tcId {id}: revert {o:?}"),
                };
                if expressible {
                    assert_eq!(got, Some(valid), "{file} tcId {id} ({})", t["comment"]);
                } else {
                    inexpressible += 1;
                    assert_ne!(
                        got,
                        Some(true),
                        "{file} tcId {id}: inexpressible vector accepted"
                    );
                }
                counted += 1;
            }
        }
        assert_eq!(counted, doc["numberOfTests"].as_u64().unwrap(), "{file}");
        assert!(
            inexpressible < counted / 4,
            "{file}: {inexpressible} of {counted} inexpressible"
        );
    }
}

fn quote(envelope: &[u8], nonce: &Nonce) -> Vec<u8> {
    let mut q = envelope.to_vec();
    q.extend_from_slice(nonce.as_bytes());
    q
}

fn pki_config(pki: &TestPki) -> PoaiConfig {
    PoaiConfig {
        tee: TeeConfig {
            trust_store: pki.store(),
            gpu_reference: None,
        },
        ..mining_config()
    }
}

#[test]
fn verify_tee_binds_the_nonce() {
    let pki = TestPki::new().unwrap();
    let mut chain = Chain::new(96_369, pki_config(&pki));
    let nonce = Nonce([0x42; 32]);
    let env = pki
        .gpu_envelope(Gpu::Hopper, &nonce)
        .unwrap()
        .encode()
        .unwrap();
    let out = chain
        .tx(
            ai_mining::ADDRESS,
            raw(op::VERIFY_TEE, &quote(&env, &nonce)),
            2_000_000,
        )
        .output()
        .to_vec();
    assert_eq!(out[..32], word(true)[..]);
    let score = U256::from_be_slice(&out[32..]);
    assert!(
        (U256::from(60)..=U256::from(84)).contains(&score),
        "Hopper is Confidential: {score}"
    );
    // The same evidence for another nonce: well-formed, not fresh: false, score 0.
    let out = chain
        .tx(
            ai_mining::ADDRESS,
            raw(op::VERIFY_TEE, &quote(&env, &Nonce([0x43; 32]))),
            2_000_000,
        )
        .output()
        .to_vec();
    assert_eq!(out, [word(false), vec![0u8; 32]].concat());
    // Garbage evidence halts.
    assert!(matches!(
        chain.tx(
            ai_mining::ADDRESS,
            raw(op::VERIFY_TEE, &[0u8; 40]),
            2_000_000
        ),
        Outcome::Halt(HaltReason::PrecompileErrorWithContext(_))
    ));
}

#[test]
fn nv_trust_verify_and_parse_quote() {
    let pki = TestPki::new().unwrap();
    let mut chain = Chain::new(96_369, pki_config(&pki));
    let nonce = Nonce([0x24; 32]);
    let env = pki
        .gpu_envelope(Gpu::Hopper, &nonce)
        .unwrap()
        .encode()
        .unwrap();
    let q = quote(&env, &nonce);
    let verify = INVTrust::verifyQuoteCall {
        quote: q.clone().into(),
    }
    .abi_encode();
    // Through STATICCALL, as a view.
    let (ok, out) = chain
        .via(PROXY_STATIC, nv_trust::ADDRESS, &verify, false)
        .inner();
    assert!(ok);
    assert_eq!(out, word(true));
    let parse = INVTrust::parseQuoteCall { quote: q.into() }.abi_encode();
    let out = chain
        .tx(nv_trust::ADDRESS, parse, 2_000_000)
        .output()
        .to_vec();
    let r = INVTrust::parseQuoteCall::abi_decode_returns(&out).unwrap();
    assert_eq!(r.trustLevel, 3);
    assert_ne!(r.gpuId, B256::ZERO);
    assert_eq!(
        r.computeUnits,
        U256::from(1_000),
        "GH100 (H100) is 1000 units/h in LP-092"
    );
    // A stale quote (other nonce) is false, not an error.
    let stale = INVTrust::verifyQuoteCall {
        quote: quote(&env, &Nonce([0; 32])).into(),
    }
    .abi_encode();
    assert_eq!(
        chain.tx(nv_trust::ADDRESS, stale, 2_000_000).output(),
        word(false)
    );
}

fn start_session(chain: &mut Chain, miner: Address, envelope: &[u8], n: u64) -> Outcome {
    let nonce = ai_mining::session_nonce(ChainId(96_369), &miner, n);
    let data = IAIMining::startSessionCall {
        miner,
        teeQuote: quote(envelope, &nonce).into(),
    }
    .abi_encode();
    chain.via(PROXY_CALL, ai_mining::ADDRESS, &data, false)
}

fn heartbeat(chain: &mut Chain, id: B256, at: u64) -> Option<U256> {
    chain.set_time(at);
    let data = IAIMining::heartbeatCall { sessionId: id }.abi_encode();
    let (ok, out) = chain
        .via(PROXY_CALL, ai_mining::ADDRESS, &data, false)
        .inner();
    ok.then(|| U256::from_be_slice(&out))
}

const AI: u128 = 1_000_000_000_000_000_000;

#[test]
fn sessions_pay_minutes_at_the_tier_rate_with_bounds() {
    let pki = TestPki::new().unwrap();
    let mut chain = Chain::new(96_369, pki_config(&pki));
    let miner = address!("00000000000000000000000000000000000a11ce");
    let nonce0 = ai_mining::session_nonce(ChainId(96_369), &miner, 0);
    let gpu = pki
        .gpu_envelope(Gpu::Hopper, &nonce0)
        .unwrap()
        .encode()
        .unwrap();
    let (ok, out) = start_session(&mut chain, miner, &gpu, 0).inner();
    assert!(ok);
    let id = B256::from_slice(&out);

    // (name, seconds after start, expected reward in AI/100 at 1 AI per minute, or None = refused)
    let steps: [(&str, u64, Option<u128>); 6] = [
        ("29_s_is_too_soon", 29, None),
        ("30_s_pays_nothing_yet", 30, Some(0)),
        ("90_s_pays_one_minute", 90, Some(100)),
        ("20_s_later_is_too_soon", 110, None),
        ("three_hours_later_pays_sixty", 90 + 3 * 3600, Some(6_000)),
        ("then_five_minutes", 90 + 3 * 3600 + 300, Some(500)),
    ];
    for (name, dt, expected) in steps {
        let got = heartbeat(&mut chain, id, T0 + dt);
        assert_eq!(got, expected.map(|c| U256::from(c * AI / 100)), "{name}");
    }

    // Static calls cannot heartbeat.
    chain.set_time(T0 + 4 * 3600);
    let hb = IAIMining::heartbeatCall { sessionId: id }.abi_encode();
    assert!(
        !chain
            .via(PROXY_STATIC, ai_mining::ADDRESS, &hb, false)
            .inner()
            .0
    );

    // The attestation expires after a day: the last heartbeat pays up to the expiry and ends it.
    let expiry = T0 + poai_precompiles::config::DEFAULT_SESSION_VALIDITY_SECS;
    assert_eq!(
        heartbeat(&mut chain, id, expiry - 600),
        Some(U256::from(60 * AI))
    );
    assert_eq!(
        heartbeat(&mut chain, id, expiry + 600),
        Some(U256::from(10 * AI))
    );
    assert_eq!(heartbeat(&mut chain, id, expiry + 1200), None, "ended");
}

#[test]
fn soft_sessions_are_public_and_a_newer_session_supersedes() {
    let mut chain = Chain::new(96_369, mining_config());
    let miner = address!("00000000000000000000000000000000000b0b00");
    let none = poai_tee::Envelope::None.encode().unwrap();
    let (ok, out) = start_session(&mut chain, miner, &none, 0).inner();
    assert!(ok);
    let first = B256::from_slice(&out);
    assert_eq!(
        heartbeat(&mut chain, first, T0 + 600),
        Some(U256::from(10 * AI / 4))
    );
    // Replaying the quote for session 0 again fails: the nonce moved on.
    assert!(!start_session(&mut chain, miner, &none, 0).inner().0);
    // A second session of the same (soft) device supersedes the first.
    chain.set_time(T0 + 700);
    let (ok, out) = start_session(&mut chain, miner, &none, 1).inner();
    assert!(ok);
    let second = B256::from_slice(&out);
    assert_ne!(first, second);
    assert_eq!(heartbeat(&mut chain, first, T0 + 1300), None);
    assert_eq!(
        heartbeat(&mut chain, second, T0 + 1300),
        Some(U256::from(10 * AI / 4))
    );
    // Not from a stranger: an EOA calling directly.
    let hb = IAIMining::heartbeatCall { sessionId: second }.abi_encode();
    chain.set_time(T0 + 2000);
    assert!(matches!(
        chain.tx(ai_mining::ADDRESS, hb, 1_000_000),
        Outcome::Halt(_)
    ));
}

#[test]
fn model_registry_register_authorize_verify() {
    let mut chain = Chain::new(96_369, mining_config());
    let hash = B256::repeat_byte(0x99);
    let reg = IModelRegistry::registerCall {
        name: "llama-3-70b".into(),
        modelHash: hash,
        metadata: b"{\"arch\":\"transformer\"}".to_vec().into(),
    }
    .abi_encode();
    let (ok, out) = chain
        .via(PROXY_CALL, model_registry::ADDRESS, &reg, false)
        .inner();
    assert!(ok);
    let id = B256::from_slice(&out);
    assert_eq!(
        id,
        model_registry::model_id(ChainId(96_369), &PROXY_CALL, &hash)
    );
    // Registering again fails; registering in a static call fails.
    assert!(
        !chain
            .via(PROXY_CALL, model_registry::ADDRESS, &reg, false)
            .inner()
            .0
    );
    assert!(
        !chain
            .via(PROXY_STATIC, model_registry::ADDRESS, &reg, false)
            .inner()
            .0
    );
    assert!(
        !chain
            .via(PROXY_DELEGATE, model_registry::ADDRESS, &reg, false)
            .inner()
            .0
    );

    let sk = SigningKey::from_seed(ParamSet::MlDsa65, &[5; 32]).unwrap();
    let key_hash = B256::from(*blake3::hash(sk.verifying_key().as_bytes()).as_bytes());
    let auth = IModelRegistry::authorizeProviderCall {
        modelId: id,
        providerKeyHash: key_hash,
        allowed: true,
    }
    .abi_encode();
    assert!(
        chain
            .via(PROXY_CALL, model_registry::ADDRESS, &auth, false)
            .inner()
            .0
    );

    let (inp, outh) = (B256::repeat_byte(1), B256::repeat_byte(2));
    let msg = model_registry::attestation_message(ChainId(96_369), &id, &inp, &outh, T0);
    let mut proof = vec![
        model_registry::PROOF_SIGNED_ATTESTATION,
        ParamSet::MlDsa65.id(),
    ];
    proof.extend_from_slice(sk.verifying_key().as_bytes());
    proof.extend_from_slice(&sk.sign_deterministic(&msg, &[]).unwrap());
    proof.extend_from_slice(&T0.to_be_bytes());
    let verify = |o: B256| {
        IModelRegistry::verifyExecutionCall {
            modelId: id,
            inputHash: inp,
            outputHash: o,
            proof: proof.clone().into(),
        }
        .abi_encode()
    };
    let (ok, out) = chain
        .via(PROXY_STATIC, model_registry::ADDRESS, &verify(outh), false)
        .inner();
    assert!(ok);
    assert_eq!(out, word(true));
    let (ok, out) = chain
        .via(
            PROXY_STATIC,
            model_registry::ADDRESS,
            &verify(B256::repeat_byte(3)),
            false,
        )
        .inner();
    assert!(ok);
    assert_eq!(out, word(false));
    // The registry survives into later transactions, and revoking the key makes it false.
    let revoke = IModelRegistry::authorizeProviderCall {
        modelId: id,
        providerKeyHash: key_hash,
        allowed: false,
    }
    .abi_encode();
    assert!(
        chain
            .via(PROXY_CALL, model_registry::ADDRESS, &revoke, false)
            .inner()
            .0
    );
    assert_eq!(
        chain
            .tx(model_registry::ADDRESS, verify(outh), 2_000_000)
            .output(),
        word(false)
    );
}

#[test]
fn gas_used_in_a_transaction_is_the_documented_cost() {
    let mut chain = Chain::new(96_369, mining_config());
    let input = raw(op::IS_SPENT, &[0u8; 32]);
    // Intrinsic gas of the transaction: 21000 + calldata (1 nonzero byte at 16, 32 zero at 4),
    // or the EIP-7623 floor if larger.
    let intrinsic = 21_000 + 16 + 32 * 4;
    let floor = 21_000 + 10 * (4 + 32);
    match chain.tx(ai_mining::ADDRESS, input, 100_000) {
        Outcome::Success { gas_used, .. } => assert_eq!(
            gas_used,
            (intrinsic + ai_mining::IS_SPENT_GAS + poai_precompiles::gas::SLOAD_GAS).max(floor)
        ),
        other => panic!("{other:?}"),
    }
}
