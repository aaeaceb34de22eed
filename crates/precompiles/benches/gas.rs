//! Gas calibration: every op of the three precompiles at several input sizes, and revm's own
//! ecrecover (0x01, 3000 gas) in the same run. Each bench id is `precompile::<op>/<param>`; the
//! gas the op charges for that input is printed as `gas-row <id> <gas>` so that
//! `benches/gas_table.py` can join it with criterion's medians into
//! docs/PERFORMANCE.md, "Precompile gas": Mgas/s = gas / median, ratio = Mgas/s ÷ ecrecover's.
//!
//! ```text
//! CARGO_PROFILE_BENCH_DEBUG_ASSERTIONS=true cargo bench -p poai-precompiles --bench gas -- \
//!     --warm-up-time 1 --measurement-time 2 | tee /tmp/gas.txt
//! python3 crates/precompiles/benches/gas_table.py /tmp/gas.txt
//! ```
//!
//! (`poai-tee`'s `test-pki` feature, which makes the synthetic GPU evidence, refuses builds
//! without debug assertions; the variable keeps the bench profile's optimisation and only turns
//! debug assertions on, for ecrecover as for the ops.)
//!
//! Stateful ops run over in-memory storage: what they pay for state is the EVM's own SLOAD and
//! SSTORE price ([`poai_precompiles::gas`]), so only their CPU work is measured here. TEE samples
//! from vendors (Intel, AMD, Arm, NVIDIA) carry their own report data, not a poai nonce, so they
//! are timed through the same verifier in raw freshness mode, and set against the gas VerifyTEE
//! charges for them.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy_primitives::{Address, B256, U256, address, hex};
use alloy_sol_types::SolCall;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use poai_chain::ai::call::MAX_TEE_REPORT_LEN;
use poai_chain::ai::receipt::{InferenceReceipt, MAX_PATH_LEN, PathStep, fold_path};
use poai_chain::ai::{AiCall, AttestationBody, SignedAttestation};
use poai_chain::hash::Hash32;
use poai_chain::tx::MAX_TX_LEN;
use poai_chain::{Call as ChainCall, Header, SignedTx, Transaction, TxBody, address_of};
use poai_crypto::{ParamSet, SigningKey};
use poai_precompiles::abi::{IAIMining, IModelRegistry, INVTrust};
use poai_precompiles::ai_mining::{self, op};
use poai_precompiles::gas::GasMeter;
use poai_precompiles::state::{CallEnv, MemoryStorage, Storage};
use poai_precompiles::tee::{self, TeeConfig};
use poai_precompiles::{PoaiConfig, dispatch, model_registry, nv_trust};
use poai_primitives::{ChainId, Nonce};
use poai_tee::testpki::{Gpu, TestPki};
use poai_tee::{Envelope, Freshness, TrustStore, VerifyOptions};
use std::hint::black_box;
use std::path::PathBuf;

const CONTRACT: Address = address!("00000000000000000000000000000000000000cc");
const T0: u64 = 1_750_420_800; // 2025-06-20, inside the vendor samples' validity

fn env() -> CallEnv {
    CallEnv {
        caller: CONTRACT,
        is_static: false,
        delegated: false,
        chain_id: ChainId(96_369),
        timestamp: T0,
    }
}

/// Runs one call and returns the gas it used; panics unless it succeeds.
fn run_ok(address: Address, input: &[u8], storage: &mut MemoryStorage, config: &PoaiConfig) -> u64 {
    let mut gas = GasMeter::new(u64::MAX);
    dispatch(address, input, &env(), &mut gas, storage, config)
        .unwrap()
        .unwrap_or_else(|e| {
            panic!(
                "{address} {}: {e}",
                hex::encode(&input[..input.len().min(8)])
            )
        });
    gas.used()
}

fn row(id: &str, gas: u64) {
    println!("gas-row {id} {gas}");
}

fn proof(evidence: usize) -> Vec<u8> {
    let mut p = vec![0x11; 64];
    p.extend_from_slice(&T0.to_be_bytes());
    p.extend_from_slice(&3u16.to_be_bytes());
    p.extend_from_slice(&10u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xEE, evidence));
    p
}

fn with_op(op_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![op_byte];
    v.extend_from_slice(payload);
    v
}

fn samples(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tee/")).join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(samples(rel)).unwrap()
}

fn hex_file(rel: &str) -> Vec<u8> {
    let text = String::from_utf8(read(rel)).unwrap();
    hex::decode(text.split_whitespace().collect::<String>()).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("precompile");
    let config = PoaiConfig::with_mining_contracts([CONTRACT]);

    // --- ecrecover, revm's own, the yardstick ---------------------------------------------
    let ecrecover = revm::precompile::Precompiles::prague()
        .get(&address!("0000000000000000000000000000000000000001"))
        .unwrap()
        .clone();
    let ec_input = hex!(
        "38d18acb67d25c8bb9942764b62f18e17054f66a817bd4295423adf9ed98873e"
        "000000000000000000000000000000000000000000000000000000000000001b"
        "38d18acb67d25c8bb9942764b62f18e17054f66a817bd4295423adf9ed98873e"
        "789d1dd423d25f0772d2748d60f7e4b81bb14d086eba8e8e8efb6dcff8a4ae02"
    );
    let out = ecrecover.execute(&ec_input, 10_000, 0).unwrap();
    assert_eq!(
        out.bytes.len(),
        32,
        "the ecrecover input must recover an address"
    );
    row("precompile::ecrecover/128", out.gas_used);
    g.bench_function("ecrecover/128", |b| {
        b.iter(|| ecrecover.execute(black_box(&ec_input), 10_000, 0).unwrap())
    });

    // --- 0x01 VerifyMLDSA ---------------------------------------------------------------
    for param in ParamSet::ALL {
        let sk = SigningKey::from_seed(param, &[7; 32]).unwrap();
        for msg_len in [32usize, 4096, ai_mining::MAX_MESSAGE_LEN] {
            let msg = vec![0x5A; msg_len];
            let mut input = vec![op::VERIFY_MLDSA, param.id()];
            input.extend_from_slice(sk.verifying_key().as_bytes());
            input.extend_from_slice(&sk.sign_deterministic(&msg, &[]).unwrap());
            input.extend_from_slice(&msg);
            let id = format!(
                "verify_mldsa_{}/{msg_len}",
                param.name().trim_start_matches("ML-DSA-")
            );
            let gas = run_ok(
                ai_mining::ADDRESS,
                &input,
                &mut MemoryStorage::default(),
                &config,
            );
            row(&format!("precompile::{id}"), gas);
            g.bench_function(&id, |b| {
                b.iter(|| {
                    run_ok(
                        ai_mining::ADDRESS,
                        black_box(&input),
                        &mut MemoryStorage::default(),
                        &config,
                    )
                })
            });
        }
    }

    // --- 0x02 CalculateReward, 0x05 ComputeWorkId ----------------------------------------
    for (name, op_byte) in [
        ("calculate_reward", op::CALCULATE_REWARD),
        ("compute_work_id", op::COMPUTE_WORK_ID),
    ] {
        for evidence in [0usize, 4096, poai_primitives::MAX_EVIDENCE_LEN] {
            let input = with_op(op_byte, &proof(evidence));
            let id = format!("{name}/{}", input.len());
            let gas = run_ok(
                ai_mining::ADDRESS,
                &input,
                &mut MemoryStorage::default(),
                &config,
            );
            row(&format!("precompile::{id}"), gas);
            g.bench_function(&id, |b| {
                b.iter(|| {
                    run_ok(
                        ai_mining::ADDRESS,
                        black_box(&input),
                        &mut MemoryStorage::default(),
                        &config,
                    )
                })
            });
        }
    }

    // --- 0x04 IsSpent, 0x06 MarkSpent -----------------------------------------------------
    let is_spent = with_op(op::IS_SPENT, &[3; 32]);
    let gas = run_ok(
        ai_mining::ADDRESS,
        &is_spent,
        &mut MemoryStorage::default(),
        &config,
    );
    row("precompile::is_spent/33", gas);
    g.bench_function("is_spent/33", |b| {
        b.iter(|| {
            run_ok(
                ai_mining::ADDRESS,
                black_box(&is_spent),
                &mut MemoryStorage::default(),
                &config,
            )
        })
    });
    let mark = with_op(op::MARK_SPENT, &[3; 32]);
    let gas = run_ok(
        ai_mining::ADDRESS,
        &mark,
        &mut MemoryStorage::default(),
        &config,
    );
    row("precompile::mark_spent/33", gas);
    g.bench_function("mark_spent/33", |b| {
        b.iter(|| {
            run_ok(
                ai_mining::ADDRESS,
                black_box(&mark),
                &mut MemoryStorage::default(),
                &config,
            )
        })
    });

    // --- 0x03 VerifyTEE with synthetic evidence (nonce-bound, verifies) -------------------
    let pki = TestPki::new().unwrap();
    let pki_config = PoaiConfig {
        tee: TeeConfig {
            trust_store: pki.store(),
            gpu_reference: None,
        },
        ..config.clone()
    };
    let nonce = Nonce([0x42; 32]);
    let synthetic = [
        ("none", Envelope::None),
        (
            "nvidia_hopper",
            pki.gpu_envelope(Gpu::Hopper, &nonce).unwrap(),
        ),
        (
            "composite_blackwell_cca",
            pki.composite_envelope(Gpu::Blackwell, &nonce).unwrap(),
        ),
        ("cca", pki.cca_envelope(&nonce).unwrap()),
    ];
    for (name, envelope) in &synthetic {
        let mut input = vec![op::VERIFY_TEE];
        input.extend_from_slice(&envelope.encode().unwrap());
        input.extend_from_slice(nonce.as_bytes());
        let mut gas = GasMeter::new(u64::MAX);
        let out = dispatch(
            ai_mining::ADDRESS,
            &input,
            &env(),
            &mut gas,
            &mut MemoryStorage::default(),
            &pki_config,
        )
        .unwrap()
        .unwrap();
        assert_eq!(out[31], 1, "{name} must verify");
        let id = format!("verify_tee_{name}/{}", input.len());
        row(&format!("precompile::{id}"), gas.used());
        g.bench_function(&id, |b| {
            b.iter(|| {
                run_ok(
                    ai_mining::ADDRESS,
                    black_box(&input),
                    &mut MemoryStorage::default(),
                    &pki_config,
                )
            })
        });
    }

    // --- VerifyTEE's verifier on vendor samples (raw freshness), and VerifyTEE's gas for them
    let nv_sample = Envelope::Nvidia {
        spdm: hex_file("nvidia/nvtrust_hopperAttestationReport.txt"),
        chain: poai_tee::x509::pem_to_der_chain(&read("nvidia/nvtrust_hopperCertChain.txt"))
            .unwrap(),
    };
    let mut cca_store = TrustStore::pinned();
    cca_store
        .register_cca_json(&read("arm/ccatoken_cpak.json"))
        .unwrap();
    let vendor: Vec<(&str, Envelope, &str, TrustStore)> = vec![
        (
            "nvidia_hopper_sample",
            nv_sample,
            "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb",
            TrustStore::pinned(),
        ),
        (
            "tdx_sample",
            Envelope::Tdx {
                quote: read("intel/dcapqvl_tdx_quote"),
                collateral: read("intel/dcapqvl_tdx_quote_collateral.json"),
            },
            "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
            TrustStore::pinned(),
        ),
        (
            "sgx_sample",
            Envelope::Sgx {
                quote: read("intel/dcapqvl_sgx_quote"),
                collateral: read("intel/dcapqvl_sgx_quote_collateral.json"),
            },
            "48656c6c6f2c20776f726c6421000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
            TrustStore::pinned(),
        ),
        (
            "snp_milan_sample",
            Envelope::Snp {
                report: hex_file("amd/sev_report_milan.hex"),
                vek: read("amd/sev_vcek_milan.der"),
                ca: None,
            },
            "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd",
            TrustStore::pinned(),
        ),
    ];
    for (name, envelope, report_data, store) in vendor {
        let bytes = envelope.encode().unwrap();
        let opts = VerifyOptions {
            freshness: Freshness::ReportData(hex::decode(report_data).unwrap()),
            at_unix: T0,
            reference: None,
        };
        let verify = |bytes: &[u8]| {
            let env = tee::decode(bytes).unwrap();
            poai_tee::Verifier::new(store.clone()).verify_envelope(&env, &opts)
        };
        verify(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let gas = tee::gas(
            ai_mining::VERIFY_TEE_GAS,
            bytes.len(),
            tee::signatures(&envelope),
        );
        let id = format!("verify_tee_{name}/{}", bytes.len() + 33);
        row(&format!("precompile::{id}"), gas);
        g.bench_function(&id, |b| b.iter(|| verify(black_box(&bytes)).unwrap()));
    }
    // The CCA sample's realm challenge is inside the token; time the verifier's rejection of
    // a wrong challenge (it parses and checks both signatures first or stops early: either way
    // no more than the full cost).
    {
        let envelope = Envelope::Cca {
            token: read("arm/ccatoken_cca-token-01.cbor"),
        };
        let bytes = envelope.encode().unwrap();
        let opts = VerifyOptions {
            freshness: Freshness::Nonce(nonce),
            at_unix: T0,
            reference: None,
        };
        let gas = tee::gas(
            ai_mining::VERIFY_TEE_GAS,
            bytes.len(),
            tee::signatures(&envelope),
        );
        let id = format!("verify_tee_cca_sample_wrong_nonce/{}", bytes.len() + 33);
        row(&format!("precompile::{id}"), gas);
        g.bench_function(&id, |b| {
            b.iter(|| {
                let env = tee::decode(black_box(&bytes)).unwrap();
                poai_tee::Verifier::new(cca_store.clone())
                    .verify_envelope(&env, &opts)
                    .is_ok()
            })
        });
    }

    // --- 0x0301 NV_TRUST ----------------------------------------------------------------
    let hopper = pki
        .gpu_envelope(Gpu::Hopper, &nonce)
        .unwrap()
        .encode()
        .unwrap();
    let mut quote = hopper.clone();
    quote.extend_from_slice(nonce.as_bytes());
    let parse = INVTrust::parseQuoteCall {
        quote: quote.clone().into(),
    }
    .abi_encode();
    let gas = run_ok(
        nv_trust::ADDRESS,
        &parse,
        &mut MemoryStorage::default(),
        &pki_config,
    );
    row(
        &format!("precompile::nv_trust_parse_quote/{}", parse.len()),
        gas,
    );
    g.bench_function(BenchmarkId::new("nv_trust_parse_quote", parse.len()), |b| {
        b.iter(|| {
            run_ok(
                nv_trust::ADDRESS,
                black_box(&parse),
                &mut MemoryStorage::default(),
                &pki_config,
            )
        })
    });

    // --- IAIMining ----------------------------------------------------------------------
    let miner = address!("00000000000000000000000000000000000a11ce");
    for (name, envelope) in [
        ("soft", Envelope::None.encode().unwrap()),
        ("hopper", Vec::new()),
    ] {
        let n0 = ai_mining::session_nonce(ChainId(96_369), &miner, 0);
        let envelope = if envelope.is_empty() {
            pki.gpu_envelope(Gpu::Hopper, &n0)
                .unwrap()
                .encode()
                .unwrap()
        } else {
            envelope
        };
        let mut q = envelope;
        q.extend_from_slice(n0.as_bytes());
        let data = IAIMining::startSessionCall {
            miner,
            teeQuote: q.into(),
        }
        .abi_encode();
        let gas = run_ok(
            ai_mining::ADDRESS,
            &data,
            &mut MemoryStorage::default(),
            &pki_config,
        );
        let id = format!("start_session_{name}/{}", data.len());
        row(&format!("precompile::{id}"), gas);
        g.bench_function(&id, |b| {
            b.iter(|| {
                run_ok(
                    ai_mining::ADDRESS,
                    black_box(&data),
                    &mut MemoryStorage::default(),
                    &pki_config,
                )
            })
        });
    }
    {
        let mut st = MemoryStorage::default();
        let n0 = ai_mining::session_nonce(ChainId(96_369), &miner, 0);
        let mut q = Envelope::None.encode().unwrap();
        q.extend_from_slice(n0.as_bytes());
        let start = IAIMining::startSessionCall {
            miner,
            teeQuote: q.into(),
        }
        .abi_encode();
        let mut gas = GasMeter::new(u64::MAX);
        let out = dispatch(
            ai_mining::ADDRESS,
            &start,
            &env(),
            &mut gas,
            &mut st,
            &config,
        )
        .unwrap()
        .unwrap();
        let hb = IAIMining::heartbeatCall {
            sessionId: B256::from_slice(&out),
        }
        .abi_encode();
        let later = CallEnv {
            timestamp: T0 + 600,
            ..env()
        };
        let beat = |st: &mut MemoryStorage| {
            let mut gas = GasMeter::new(u64::MAX);
            dispatch(ai_mining::ADDRESS, &hb, &later, &mut gas, st, &config)
                .unwrap()
                .unwrap();
            gas.used()
        };
        let gas = beat(&mut st.clone());
        row(&format!("precompile::heartbeat/{}", hb.len()), gas);
        g.bench_function(BenchmarkId::new("heartbeat", hb.len()), |b| {
            b.iter(|| beat(black_box(&mut st.clone())))
        });
    }

    // --- 0x0302 MODEL_REGISTRY ----------------------------------------------------------
    for meta in [0usize, model_registry::MAX_METADATA_LEN] {
        let data = IModelRegistry::registerCall {
            name: "x".repeat(model_registry::MAX_NAME_LEN),
            modelHash: B256::repeat_byte(1),
            metadata: vec![0x33; meta].into(),
        }
        .abi_encode();
        let gas = run_ok(
            model_registry::ADDRESS,
            &data,
            &mut MemoryStorage::default(),
            &config,
        );
        let id = format!("register/{}", data.len());
        row(&format!("precompile::{id}"), gas);
        g.bench_function(&id, |b| {
            b.iter(|| {
                run_ok(
                    model_registry::ADDRESS,
                    black_box(&data),
                    &mut MemoryStorage::default(),
                    &config,
                )
            })
        });
    }
    for param in ParamSet::ALL {
        let sk = SigningKey::from_seed(param, &[9; 32]).unwrap();
        let mut st = MemoryStorage::default();
        let reg = IModelRegistry::registerCall {
            name: "m".into(),
            modelHash: B256::repeat_byte(1),
            metadata: Default::default(),
        }
        .abi_encode();
        let mut gas = GasMeter::new(u64::MAX);
        let model = B256::from_slice(
            &dispatch(
                model_registry::ADDRESS,
                &reg,
                &env(),
                &mut gas,
                &mut st,
                &config,
            )
            .unwrap()
            .unwrap(),
        );
        let key_hash = B256::from(*blake3::hash(sk.verifying_key().as_bytes()).as_bytes());
        st.sstore(
            model_registry::provider_slot(&model, &key_hash),
            U256::from(1),
        )
        .unwrap();
        let (i, o) = (B256::repeat_byte(4), B256::repeat_byte(5));
        let msg = model_registry::attestation_message(ChainId(96_369), &model, &i, &o, T0);
        let mut proof = vec![model_registry::PROOF_SIGNED_ATTESTATION, param.id()];
        proof.extend_from_slice(sk.verifying_key().as_bytes());
        proof.extend_from_slice(&sk.sign_deterministic(&msg, &[]).unwrap());
        proof.extend_from_slice(&T0.to_be_bytes());
        let data = IModelRegistry::verifyExecutionCall {
            modelId: model,
            inputHash: i,
            outputHash: o,
            proof: proof.into(),
        }
        .abi_encode();
        let mut gas = GasMeter::new(u64::MAX);
        let out = dispatch(
            model_registry::ADDRESS,
            &data,
            &env(),
            &mut gas,
            &mut st,
            &config,
        )
        .unwrap()
        .unwrap();
        assert_eq!(out[31], 1, "verifyExecution must verify");
        let id = format!(
            "verify_execution_{}/{}",
            param.name().trim_start_matches("ML-DSA-"),
            data.len()
        );
        row(&format!("precompile::{id}"), gas.used());
        g.bench_function(&id, |b| {
            b.iter(|| {
                run_ok(
                    model_registry::ADDRESS,
                    black_box(&data),
                    &mut st.clone(),
                    &config,
                )
            })
        });
    }

    // --- verifyExecution with an A-chain receipt (proof kind 0x02) ------------------------
    // Receipts made without running a chain: the precompile checks the header against the
    // imported hash, the path against tx_root and the attestation in the transaction, not
    // signatures, so a header whose tx_root is the fold of the path costs the real work.
    // Rows: the smallest result attestation (ML-DSA-44, no TEE report, a one-transaction
    // block), the largest (ML-DSA-87, 16 KiB TEE report, a 32-step path), and the largest
    // transaction a receipt can carry (a device registration with as much evidence as
    // MAX_TX_LEN allows: no attestation in it, so false, after all the work).
    let a_chain = ChainId(5151);
    for (name, param, report, steps, evidence) in [
        ("small", ParamSet::MlDsa44, 0usize, 0usize, false),
        (
            "largest_attestation",
            ParamSet::MlDsa87,
            MAX_TEE_REPORT_LEN,
            MAX_PATH_LEN,
            false,
        ),
        ("largest_tx", ParamSet::MlDsa87, 0, MAX_PATH_LEN, true),
    ] {
        let sk = SigningKey::from_seed(param, &[11; 32]).unwrap();
        let body = AttestationBody {
            model_id: Hash32([1; 32]),
            input_hash: Hash32([2; 32]),
            output_hash: Hash32([3; 32]),
            fingerprint: Hash32::ZERO,
            provider: address_of(sk.verifying_key()),
            task_id: Hash32::ZERO,
            timestamp: T0,
            tee_report: vec![0x7e; report],
        };
        let signature = sk
            .sign_deterministic(&body.signing_message(a_chain), &[])
            .unwrap();
        let attestation_id = body.id(a_chain);
        let attestation = SignedAttestation { body, signature };
        let make_tx = |call: ChainCall| {
            let body = TxBody {
                chain_id: a_chain,
                nonce: 0,
                fee: 0,
                call,
            };
            Transaction::Account(SignedTx::sign(body, &sk).unwrap())
        };
        let tx = if evidence {
            let empty = make_tx(ChainCall::RegisterDevice {
                evidence: Vec::new(),
            });
            let room = MAX_TX_LEN - empty.encode().len();
            make_tx(ChainCall::RegisterDevice {
                evidence: vec![0x5d; room.min(poai_primitives::MAX_EVIDENCE_LEN)],
            })
        } else {
            make_tx(ChainCall::Ai(Box::new(AiCall::SubmitAttestation {
                attestation,
            })))
        };
        let path: Vec<PathStep> = (0..steps)
            .map(|i| PathStep {
                sibling: Hash32([u8::try_from(i).unwrap(); 32]),
                sibling_is_left: i % 2 == 0,
            })
            .collect();
        let header = Header {
            height: 5,
            parent: Hash32([9; 32]),
            timestamp: T0,
            state_root: Hash32([8; 32]),
            tx_root: fold_path(tx.hash(), &path),
            proposer: poai_primitives::Address([0xee; 20]),
        };
        let block_hash = header.hash();
        let receipt = InferenceReceipt {
            header,
            index: 0,
            path,
            tx,
            attestation_id,
        }
        .encode();
        let mut st = MemoryStorage::default();
        st.sstore(
            model_registry::achain_block_slot(5),
            U256::from_be_bytes(block_hash.0),
        )
        .unwrap();
        let mut proof = vec![model_registry::PROOF_ACHAIN_RECEIPT];
        proof.extend_from_slice(&receipt);
        let data = IModelRegistry::verifyExecutionCall {
            modelId: B256::repeat_byte(1),
            inputHash: B256::repeat_byte(2),
            outputHash: B256::repeat_byte(3),
            proof: proof.into(),
        }
        .abi_encode();
        let mut gas = GasMeter::new(u64::MAX);
        let out = dispatch(
            model_registry::ADDRESS,
            &data,
            &env(),
            &mut gas,
            &mut st,
            &config,
        )
        .unwrap()
        .unwrap();
        assert_eq!(out[31], u8::from(!evidence), "{name}: unexpected result");
        let id = format!("verify_receipt_{name}/{}", data.len());
        row(&format!("precompile::{id}"), gas.used());
        g.bench_function(&id, |b| {
            b.iter(|| {
                run_ok(
                    model_registry::ADDRESS,
                    black_box(&data),
                    &mut st.clone(),
                    &config,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
