//! The AI VM through the real node and its JSON-RPC (SPEC section 6): a node in this process
//! with short blocks, driven only over RPC by [`poai_node::ai_cli::AiClient`] (the code behind
//! `poai model|provider|task|attest|dispute|credits`), plus the CLI binary itself for reads.

use poai_chain::ai::exec;
use poai_chain::ai::receipt::verify_execution;
use poai_chain::ai::types::DeadlineKind;
use poai_chain::ai::{AiCall, AiParams, DisputeStatus, GpuModel, TaskStatus, Tolerance};
use poai_chain::api::TxStatus;
use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::genesis::GenesisAccount;
use poai_chain::hash::Hash32;
use poai_chain::{Call, Genesis, SignedTx, Transaction, TxBody, address_of};
use poai_crypto::{ParamSet, SigningKey};
use poai_node::ai_cli::{AiClient, ResultArgs};
use poai_node::ai_rpc::{AiStatus, DisputeView, ProviderView, ReceiptView, TaskView};
use poai_node::devnet::devnet_genesis;
use poai_node::{NodeConfig, NodeHandle, start};
use poai_primitives::{Address, PrivacyLevel};
use std::time::Duration;

const COIN: u128 = 1_000_000_000_000_000_000;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[0x40 + n; 32]).unwrap()
}

fn addr(n: u8) -> Address {
    address_of(key(n).verifying_key())
}

fn h(n: u8) -> Hash32 {
    Hash32([n; 32])
}

fn genesis(ai: AiParams) -> Genesis {
    let mut g = devnet_genesis(1_800_000_000, 60);
    g.accounts = (1..=9)
        .map(|n| GenesisAccount {
            address: addr(n),
            balance: 1_000_000 * COIN,
        })
        .collect();
    g.ai = ai;
    g
}

/// Long windows: the happy paths end phases early, so only timeouts would wait for them.
fn patient() -> AiParams {
    AiParams {
        reveal_secs: 6_000,
        commit_grace_secs: 6_000,
        assign_timeout_secs: 6_000,
        referee_secs: 6_000,
        ..AiParams::default()
    }
}

struct Net {
    node: NodeHandle,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start_node(g: Genesis, block_ms: u64) -> Net {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = NodeConfig::new(g, dir.path().to_path_buf());
    cfg.block_interval = Duration::from_millis(block_ms);
    let node = start(cfg, poai_node::tee::machine()).await.unwrap();
    let url = format!("http://{}", node.rpc_addr);
    Net {
        node,
        url,
        _dir: dir,
    }
}

fn client(url: &str, n: u8) -> AiClient {
    let mut c = AiClient::with_key(url, key(n)).unwrap();
    c.node.retries = 0;
    c.timeout = Duration::from_secs(30);
    c
}

/// Registers user `n`'s dev device of `tier` and makes it a provider with `gpu`.
async fn provider(url: &str, n: u8, tier: PrivacyLevel, gpu: GpuModel, stake: u128) {
    let c = client(url, n);
    let chain_id = c.chain_id().await.unwrap();
    let nonce = c.node.account(addr(n)).await.unwrap().account.nonce;
    let tx = Transaction::Account(
        SignedTx::sign(
            TxBody {
                chain_id,
                nonce,
                fee: 0,
                call: Call::RegisterDevice {
                    evidence: dev_evidence(tier, &[n; 32]),
                },
            },
            &key(n),
        )
        .unwrap(),
    );
    let hash = c.node.send(&tx).await.unwrap();
    let st = c.node.wait_tx(hash, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(st, TxStatus::Included { .. }), "{st:?}");
    c.send(AiCall::RegisterProvider {
        device_id: dev_device_id(&[n; 32]),
        gpu,
        stake,
    })
    .await
    .unwrap();
}

async fn model(
    url: &str,
    owner: u8,
    weights: u8,
    min_tier: PrivacyLevel,
    tol: Tolerance,
) -> Hash32 {
    let sent = client(url, owner)
        .send(AiCall::RegisterModel {
            weights_id: h(weights),
            weight_hash: h(weights ^ 0xff),
            name: format!("m{weights}"),
            version: 1,
            architecture: "transformer".into(),
            param_count: 1_000_000,
            licence: "MIT".into(),
            tee_required: min_tier > PrivacyLevel::Public,
            min_tier,
            tolerance: tol,
            previous: None,
        })
        .await
        .unwrap();
    sent.outcome.id
}

async fn submit(url: &str, n: u8, model: Hash32, input: u8, payment: u128) -> Hash32 {
    client(url, n)
        .send(AiCall::SubmitTask {
            model_id: model,
            input_hash: h(input),
            workload: poai_chain::ai::Workload::Inference,
            max_duration: 600,
            asset: poai_chain::ai::PaymentAsset::Native,
            payment,
        })
        .await
        .unwrap()
        .outcome
        .id
}

async fn task(c: &AiClient, id: Hash32) -> TaskView {
    c.get::<Option<TaskView>>("poai_getTask", jsonrpsee::rpc_params![id])
        .await
        .unwrap()
        .unwrap()
}

async fn wait_task(c: &AiClient, id: Hash32, want: TaskStatus) -> TaskView {
    for _ in 0..600 {
        let t = task(c, id).await;
        if t.task.status == want {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} never reached {want:?}: {:?}", task(c, id).await);
}

async fn dispute(c: &AiClient, id: Hash32) -> DisputeView {
    c.get::<Option<DisputeView>>("poai_getDispute", jsonrpsee::rpc_params![id])
        .await
        .unwrap()
        .unwrap()
}

async fn credits(c: &AiClient, a: Address) -> u128 {
    c.get::<String>("poai_getCredits", jsonrpsee::rpc_params![a])
        .await
        .unwrap()
        .parse()
        .unwrap()
}

async fn balance(c: &AiClient, n: u8) -> u128 {
    c.node.account(addr(n)).await.unwrap().account.balance
}

fn user_of(a: &Address) -> u8 {
    (1..=9).find(|n| addr(*n) == *a).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const C: PrivacyLevel = PrivacyLevel::Confidential;

/// Providers 1..=4 (Confidential: H100, H200, H100, H200) and 5 (Public RTX 4090, below the
/// model's tier); 7 owns the model, 8 requests, 9 challenges.
async fn setup(url: &str, tol: Tolerance) -> Hash32 {
    let stake = AiParams::default().min_stake(C);
    let gpus = [
        GpuModel::H100,
        GpuModel::H200,
        GpuModel::H100,
        GpuModel::H200,
    ];
    for (i, g) in gpus.into_iter().enumerate() {
        provider(url, u8::try_from(i + 1).unwrap(), C, g, stake).await;
    }
    let public_stake = AiParams::default().min_stake(PrivacyLevel::Public);
    provider(
        url,
        5,
        PrivacyLevel::Public,
        GpuModel::Rtx4090,
        public_stake,
    )
    .await;
    model(url, 7, 1, C, tol).await
}

#[test]
fn honest_task_settles_mints_exact_ait_with_receipt_and_replay() {
    let rt = rt();
    let dir_root = rt.block_on(async {
        let net = start_node(genesis(patient()), 50).await;
        let url = net.url.clone();
        let m = setup(&url, Tolerance::Exact).await;
        let reader = client(&url, 8);
        let id = submit(&url, 8, m, 1, 9 * COIN).await;
        let t = wait_task(&reader, id, TaskStatus::Committing).await;
        let providers: Vec<u8> = t.task.providers.iter().map(user_of).collect();
        assert!(
            !providers.contains(&5),
            "the Public provider is below the model's tier"
        );
        // Assignment = the draw from the hash of the submission block and the sequence number.
        let parent = reader
            .node
            .block(t.task.submitted_height)
            .await
            .unwrap()
            .unwrap()
            .hash;
        let eligible: Vec<Address> = {
            let mut v: Vec<Address> = (1..=4).map(addr).collect();
            v.sort();
            v
        };
        let seed = exec::draw_seed(
            &parent,
            DeadlineKind::AssignTask,
            &exec::task_draw_id(t.task.seq),
        );
        assert_eq!(t.task.providers, exec::draw(&seed, &eligible, 3).unwrap());

        let durations = [36u64, 90, 120];
        for (n, d) in providers.iter().zip(durations) {
            let r = ResultArgs {
                task: id,
                output_hash: h(0xaa),
                fingerprint: Hash32::ZERO,
                duration: d,
            };
            client(&url, *n).commit(&r).await.unwrap();
        }
        wait_task(&reader, id, TaskStatus::Revealing).await;
        let mut last = None;
        for (n, d) in providers.iter().zip(durations) {
            let r = ResultArgs {
                task: id,
                output_hash: h(0xaa),
                fingerprint: Hash32::ZERO,
                duration: d,
            };
            last = Some(client(&url, *n).reveal(&r).await.unwrap());
        }
        let t = wait_task(&reader, id, TaskStatus::Settled).await;
        assert_eq!(t.task.agreeing.len(), 3);
        let mut total = 0;
        for (n, d) in providers.iter().zip(durations) {
            let units: u128 = if *n % 2 == 1 { 1000 } else { 1400 }; // H100 / H200
            let want = units * u128::from(d) * COIN / 36_000;
            assert_eq!(credits(&reader, addr(*n)).await, want, "provider {n}");
            total += want;
        }
        let status: AiStatus = reader
            .get("poai_aiStatus", jsonrpsee::rpc_params![])
            .await
            .unwrap();
        assert_eq!(status.meta.ait_minted, total);
        assert_eq!(status.credits_total, total - status.meta.ait_burned);

        // The last reveal's attestation has a receipt another chain can check against the
        // block hash alone (what 0x0302 verifyExecution's proof kind 0x02 does).
        let aid = last.unwrap().outcome.id;
        let rv: ReceiptView = reader
            .get::<Option<ReceiptView>>("poai_inferenceReceipt", jsonrpsee::rpc_params![aid])
            .await
            .unwrap()
            .unwrap();
        let block_hash = reader.node.block(rv.height).await.unwrap().unwrap().hash;
        assert_eq!(block_hash, rv.block_hash);
        let trusted = |hgt: u64| (hgt == rv.height).then_some(block_hash);
        assert!(verify_execution(&rv.receipt, trusted, &m, &h(1), &h(0xaa)).unwrap());
        assert!(!verify_execution(&rv.receipt, trusted, &m, &h(1), &h(0xab)).unwrap());
        assert!(verify_execution(&rv.receipt, |_| Some(h(0)), &m, &h(1), &h(0xaa)).is_err());

        // The CLI binary reads the same state.
        let out = std::process::Command::new(crate::bin())
            .args(["task", "show", "--rpc", &url, &id.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown: TaskView = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown, t);
        let out = std::process::Command::new(crate::bin())
            .args([
                "credits",
                "balance",
                "--rpc",
                &url,
                &addr(providers[0]).to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains(&credits(&reader, addr(providers[0])).await.to_string())
        );

        let root = net.node.shared().state().root();
        let dir = net._dir.path().to_path_buf();
        net.node.stop().await.unwrap();
        (dir, root, net._dir)
    });
    // Replay from genesis reaches the same state, assignments included. Dropping the runtime
    // first ends every task that could still hold the node's database open.
    drop(rt);
    let (dir, root, _keep) = dir_root;
    let store = poai_node::Store::open(&dir.join("chain.redb")).unwrap_or_else(|e| panic!("{e:#}"));
    let replayed = store
        .replay(&poai_node::tee::machine())
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(replayed.root(), root);
    assert_eq!(
        store.load_state(&poai_node::tee::machine()).unwrap().root(),
        root,
        "reload from redb"
    );
}

#[test]
fn dishonest_provider_slashed_after_dispute_and_tolerance_over_rpc() {
    let rt = rt();
    rt.block_on(async {
        let net = start_node(genesis(patient()), 50).await;
        let url = net.url.clone();
        let m = setup(&url, Tolerance::Exact).await;
        let reader = client(&url, 8);
        let id = submit(&url, 8, m, 1, 3 * COIN).await;
        let t = wait_task(&reader, id, TaskStatus::Committing).await;
        let p: Vec<u8> = t.task.providers.iter().map(user_of).collect();
        let outputs = [h(0xaa), h(0xaa), h(0xbb)];
        for (n, o) in p.iter().zip(outputs) {
            let r = ResultArgs {
                task: id,
                output_hash: o,
                fingerprint: Hash32::ZERO,
                duration: 60,
            };
            client(&url, *n).commit(&r).await.unwrap();
        }
        wait_task(&reader, id, TaskStatus::Revealing).await;
        let mut atts = Vec::new();
        for (n, o) in p.iter().zip(outputs) {
            let r = ResultArgs {
                task: id,
                output_hash: o,
                fingerprint: Hash32::ZERO,
                duration: 60,
            };
            atts.push(client(&url, *n).reveal(&r).await.unwrap().outcome.id);
        }
        let t = wait_task(&reader, id, TaskStatus::Settled).await;
        assert_eq!(t.task.agreeing, vec![addr(p[0]), addr(p[1])]);
        let liar = p[2];
        // Attestations are queryable by model, provider and input hash.
        let q = |model_id, provider, input_hash| poai_node::ai_rpc::AttestationQuery {
            model_id,
            provider,
            input_hash,
            limit: None,
        };
        let by_input: Vec<poai_node::ai_rpc::AttestationView> = reader
            .get(
                "poai_queryAttestations",
                jsonrpsee::rpc_params![q(Some(m), None, Some(h(1)))],
            )
            .await
            .unwrap();
        let mut found: Vec<Hash32> = by_input.iter().map(|a| a.attestation_id).collect();
        found.sort();
        let mut want = atts.clone();
        want.sort();
        assert_eq!(found, want);
        let by_liar: Vec<poai_node::ai_rpc::AttestationView> = reader
            .get(
                "poai_queryAttestations",
                jsonrpsee::rpc_params![q(None, Some(addr(liar)), None)],
            )
            .await
            .unwrap();
        assert_eq!(by_liar.len(), 1);
        assert_eq!(by_liar[0].attestation.body.output_hash, h(0xbb));
        let none: Vec<poai_node::ai_rpc::AttestationView> = reader
            .get(
                "poai_queryAttestations",
                jsonrpsee::rpc_params![q(Some(m), None, Some(h(2)))],
            )
            .await
            .unwrap();
        assert!(none.is_empty());
        let before: ProviderView = reader
            .get::<Option<ProviderView>>("poai_getProvider", jsonrpsee::rpc_params![addr(liar)])
            .await
            .unwrap()
            .unwrap();
        let challenger = client(&url, 9);
        let bal0 = challenger
            .node
            .account(addr(9))
            .await
            .unwrap()
            .account
            .balance;
        let bond = 100 * COIN;
        let opened = challenger
            .open_dispute(atts[0], atts[2], bond)
            .await
            .unwrap();
        let did = opened.outcome.id;
        let mut d = dispute(&reader, did).await;
        for _ in 0..500 {
            if d.dispute.status == DisputeStatus::Refereeing {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            d = dispute(&reader, did).await;
        }
        let referee = user_of(d.dispute.referees.last().unwrap());
        assert!(![p[0], liar, 9].contains(&referee));
        assert_ne!(
            referee, 5,
            "the Public provider cannot referee a Confidential model"
        );
        client(&url, referee)
            .report(did, h(0xaa), Hash32::ZERO)
            .await
            .unwrap();
        let d = dispute(&reader, did).await;
        assert_eq!(d.dispute.status, DisputeStatus::Upheld);
        assert_eq!(d.dispute.slashed, Some(addr(liar)));
        let after: ProviderView = reader
            .get::<Option<ProviderView>>("poai_getProvider", jsonrpsee::rpc_params![addr(liar)])
            .await
            .unwrap()
            .unwrap();
        let params = AiParams::default();
        let slashed = before.provider.stake * u128::from(params.slash_bps) / 10_000;
        assert_eq!(after.provider.stake, before.provider.stake - slashed);
        assert!(after.provider.jailed && after.ineligible.is_some());
        let reward = slashed * u128::from(params.challenger_bps) / 10_000;
        let bal1 = challenger
            .node
            .account(addr(9))
            .await
            .unwrap()
            .account
            .balance;
        assert_eq!(bal1, bal0 + reward, "bond back plus the challenger's share");
        for n in [p[0], p[1]] {
            let pv: ProviderView = reader
                .get::<Option<ProviderView>>("poai_getProvider", jsonrpsee::rpc_params![addr(n)])
                .await
                .unwrap()
                .unwrap();
            assert_eq!(pv.provider.slashed, 0);
        }

        // A tolerance model: within the bound settles, beyond it does not agree.
        let tm = model(&url, 7, 2, C, Tolerance::Hamming { max_bits: 8 }).await;
        let id = submit(&url, 8, tm, 2, COIN).await;
        let t = wait_task(&reader, id, TaskStatus::Committing).await;
        let p: Vec<u8> = t.task.providers.iter().map(user_of).collect();
        let mut near = [0u8; 32];
        near[0] = 0xff; // 8 bits: within
        let mut far = [0u8; 32];
        far[1] = 0xff;
        far[2] = 0x01; // 9 bits from zero, 17 from `near`: beyond
        let res = [
            (h(1), Hash32::ZERO),
            (h(2), Hash32(near)),
            (h(3), Hash32(far)),
        ];
        for (n, (o, f)) in p.iter().zip(res) {
            client(&url, *n)
                .commit(&ResultArgs {
                    task: id,
                    output_hash: o,
                    fingerprint: f,
                    duration: 60,
                })
                .await
                .unwrap();
        }
        wait_task(&reader, id, TaskStatus::Revealing).await;
        for (n, (o, f)) in p.iter().zip(res) {
            client(&url, *n)
                .reveal(&ResultArgs {
                    task: id,
                    output_hash: o,
                    fingerprint: f,
                    duration: 60,
                })
                .await
                .unwrap();
        }
        let t = wait_task(&reader, id, TaskStatus::Settled).await;
        assert_eq!(t.task.agreeing, vec![addr(p[0]), addr(p[1])]);
        assert_eq!(t.task.result, Some(h(1)));
        net.node.stop().await.unwrap();
    });
}

#[test]
fn every_timeout_resolves_over_rpc() {
    let rt = rt();
    rt.block_on(async {
        // 60 s of chain time per 30 ms block: windows of a few blocks.
        let ai = AiParams {
            commit_grace_secs: 60,
            reveal_secs: 120,
            assign_timeout_secs: 180,
            referee_secs: 120,
            ..AiParams::default()
        };
        let net = start_node(genesis(ai.clone()), 30).await;
        let url = net.url.clone();
        let m = setup(&url, Tolerance::Exact).await;
        let reader = client(&url, 8);

        // No commits: failed at the commit deadline, refunded.
        let b0 = balance(&reader, 8).await;
        let id = client(&url, 8)
            .send(AiCall::SubmitTask {
                model_id: m,
                input_hash: h(1),
                workload: poai_chain::ai::Workload::Inference,
                max_duration: 60,
                asset: poai_chain::ai::PaymentAsset::Native,
                payment: COIN,
            })
            .await
            .unwrap()
            .outcome
            .id;
        let t = wait_task(&reader, id, TaskStatus::Failed).await;
        assert!(t.task.commits.iter().all(Option::is_none));
        assert_eq!(balance(&reader, 8).await, b0, "refunded");

        // Nobody can serve a Sovereign model: cancelled at the assignment timeout, refunded.
        let sov = model(&url, 7, 3, PrivacyLevel::Sovereign, Tolerance::Exact).await;
        let id = submit(&url, 8, sov, 2, COIN).await;
        wait_task(&reader, id, TaskStatus::Cancelled).await;
        assert_eq!(balance(&reader, 8).await, b0);

        // A referee that never reports: replaced, then the dispute expires and the bond returns.
        let c1 = client(&url, 1);
        let c2 = client(&url, 2);
        let mut ids = Vec::new();
        for (c, o) in [(&c1, h(0x10)), (&c2, h(0x20))] {
            let body = poai_chain::ai::AttestationBody {
                model_id: m,
                input_hash: h(9),
                output_hash: o,
                fingerprint: Hash32::ZERO,
                provider: c.address().unwrap(),
                task_id: Hash32::ZERO,
                timestamp: c.next_time().await.unwrap(),
                tee_report: Vec::new(),
            };
            let a = c.attestation(body).await.unwrap();
            ids.push(
                c.send(AiCall::SubmitAttestation { attestation: a })
                    .await
                    .unwrap()
                    .outcome
                    .id,
            );
        }
        let b9 = balance(&reader, 9).await;
        let did = client(&url, 9)
            .open_dispute(ids[0], ids[1], 100 * COIN)
            .await
            .unwrap()
            .outcome
            .id;
        let mut d = dispute(&reader, did).await;
        for _ in 0..1000 {
            if d.dispute.status == DisputeStatus::Expired {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            d = dispute(&reader, did).await;
        }
        assert_eq!(d.dispute.status, DisputeStatus::Expired);
        assert_eq!(d.dispute.referees.len(), 2, "two rounds of referees");
        assert_eq!(balance(&reader, 9).await, b9);
        let status: AiStatus = reader
            .get("poai_aiStatus", jsonrpsee::rpc_params![])
            .await
            .unwrap();
        assert_eq!(status.deadlines, 0, "nothing left pending");
        net.node.stop().await.unwrap();
    });
}

#[test]
fn cli_binary_writes_and_reads() {
    let rt = rt();
    rt.block_on(async {
        let net = start_node(genesis(patient()), 50).await;
        let url = net.url.clone();
        let keyfile = net._dir.path().join("owner.key");
        poai_crypto::keyfile::write(&keyfile, &key(7), false).unwrap();
        let run = |args: Vec<String>| {
            let out = std::process::Command::new(crate::bin())
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let s = |v: &str| v.to_string();
        let sent = tokio::task::spawn_blocking({
            let (url, keyfile) = (url.clone(), keyfile.clone());
            move || {
                run(vec![
                    s("model"),
                    s("register"),
                    s("--rpc"),
                    url,
                    s("--key"),
                    keyfile.display().to_string(),
                    s("--weights-id"),
                    h(5).to_string(),
                    s("--weight-hash"),
                    h(6).to_string(),
                    s("--name"),
                    s("llama-cli"),
                    s("--params"),
                    s("8000000000"),
                    s("--licence"),
                    s("Apache-2.0"),
                    s("--min-tier"),
                    s("3"),
                    s("--tolerance"),
                    s("hamming:12"),
                ])
            }
        })
        .await
        .unwrap();
        assert_eq!(sent["outcome"]["action"], "model_registered");
        let id = exec::model_id(&addr(7), &h(5));
        assert_eq!(sent["outcome"]["id"], id.to_string());
        let shown = tokio::task::spawn_blocking({
            let url = url.clone();
            move || run(vec![s("model"), s("show"), s("--rpc"), url, id.to_string()])
        })
        .await
        .unwrap();
        assert_eq!(shown["name"], "llama-cli");
        assert_eq!(shown["tolerance"]["max_bits"], 12);
        assert_eq!(shown["tee_required"], true);
        // A refused write exits non-zero and names the rule.
        let out = tokio::task::spawn_blocking({
            let (url, keyfile) = (url.clone(), keyfile.clone());
            move || {
                std::process::Command::new(crate::bin())
                    .args(["credits", "redeem", "--rpc", &url, "--key"])
                    .arg(&keyfile)
                    .args(["--amount", "1", "--workload-id", &h(1).to_string()])
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("InsufficientCredits"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        net.node.stop().await.unwrap();
    });
}
