//! The acceptance run: a devnet with miners of tiers 1, 3 and 4 for 20 blocks. While it runs, a
//! second miner registered by the test submits one proof breaking each rule of SPEC section 2;
//! each is refused over RPC with its named error, and nothing else is lost. Afterwards every
//! payout on the chain is recomputed from the formula and the chain is replayed from genesis.

use crate::{read_genesis, rt, spawn_devnet, wait_rpc};
use poai_chain::api::{SubmitResult, TxStatus};
use poai_chain::evidence::dev_evidence;
use poai_chain::{Call, Machine, Outcome, ProofTx, SignedTx, Transaction, TxBody, address_of};
use poai_crypto::{ParamSet, SigningKey};
use poai_economics::{Emission, MiningLedger, gross_reward_for};
use poai_miner::{ClientError, NodeClient};
use poai_node::Store;
use poai_primitives::{Address, ChainId, DeviceId, Nonce, PrivacyLevel, WorkProof};
use std::collections::BTreeMap;
use std::time::Duration;

fn proof(device: DeviceId, n: u8, ts: u64, level: PrivacyLevel, minutes: u32) -> WorkProof {
    let mut nonce = [0u8; 32];
    nonce[0] = n;
    nonce[1] = 0x7e;
    WorkProof {
        device_id: device,
        nonce: Nonce(nonce),
        timestamp: ts,
        privacy_level: level,
        compute_minutes: minutes,
        tee_evidence: Vec::new(),
    }
}

fn signed(p: WorkProof, to: Address, chain: ChainId, key: &SigningKey) -> Transaction {
    Transaction::Proof(ProofTx::sign(p, to, chain, key).unwrap())
}

/// Submits `tx` and returns the error name the node answers with.
async fn refused(c: &NodeClient, tx: &Transaction) -> String {
    match c.send(tx).await {
        Err(ClientError::Rejected { name, .. }) => name,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn wait_height(c: &NodeClient, h: u64) {
    for _ in 0..400 {
        if c.chain_info().await.unwrap().height >= h {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("height {h} not reached");
}

#[test]
fn devnet_acceptance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("devnet");
    let proc = spawn_devnet(
        &data,
        &[
            "--miners",
            "3",
            "--tiers",
            "1,3,4",
            "--blocks",
            "20",
            "--block-ms",
            "800",
            "--json",
        ],
    );
    let client = wait_rpc(&data, Duration::from_secs(60));
    let genesis = read_genesis(&data);
    let chain = genesis.chain_id;
    let key = SigningKey::from_seed(ParamSet::MlDsa44, &[0x7e; 32]).unwrap();
    let me = address_of(key.verifying_key());

    rt().block_on(async {
        // Register two tier-1 dev devices in one block (nonces 0 and 1).
        let mut devices = Vec::new();
        let mut hashes = Vec::new();
        for (nonce, seed) in [(0u64, [1u8; 32]), (1, [2u8; 32])] {
            let body = TxBody {
                chain_id: chain,
                nonce,
                fee: 0,
                call: Call::RegisterDevice {
                    evidence: dev_evidence(PrivacyLevel::Public, &seed),
                },
            };
            let tx = Transaction::Account(SignedTx::sign(body, &key).unwrap());
            hashes.push(client.send(&tx).await.unwrap());
            devices.push(poai_chain::evidence::dev_device_id(&seed));
        }
        let mut registered_at = 0;
        for h in hashes {
            match client.wait_tx(h, Duration::from_secs(20)).await.unwrap() {
                TxStatus::Included {
                    height,
                    outcome: Outcome::Registered { tier, .. },
                    ..
                } => {
                    assert_eq!(tier, PrivacyLevel::Public);
                    let b = client.block(height).await.unwrap().unwrap();
                    registered_at = b.header.timestamp;
                }
                other => panic!("registration: {other:?}"),
            }
        }
        let (da, db) = (devices[0], devices[1]);
        let next = client.chain_info().await.unwrap().next_block_time;
        let elapsed = u32::try_from((next - registered_at) / 60).unwrap();

        // Signed for another chain id.
        let other_chain = signed(
            proof(da, 1, next, PrivacyLevel::Public, 0),
            me,
            ChainId(chain.0 + 1),
            &key,
        );
        assert_eq!(refused(&client, &other_chain).await, "ProofSignatureInvalid");
        // A tier above what the evidence proves.
        let above = signed(proof(da, 2, next, PrivacyLevel::Confidential, 0), me, chain, &key);
        assert_eq!(refused(&client, &above).await, "PrivacyAboveTier");
        // More minutes than have elapsed since registration.
        let greedy = signed(
            proof(da, 3, next, PrivacyLevel::Public, elapsed + 1),
            me,
            chain,
            &key,
        );
        assert_eq!(refused(&client, &greedy).await, "MinutesExceedElapsed");
        // Expired: older than block time − 3600.
        let expired = signed(
            proof(da, 4, next - 3601, PrivacyLevel::Public, 0),
            me,
            chain,
            &key,
        );
        assert_eq!(refused(&client, &expired).await, "ProofExpired");

        // A good proof on device B, then its replay and one 10 s after it.
        let good = signed(proof(db, 5, next, PrivacyLevel::Public, elapsed), me, chain, &key);
        let h = client.send(&good).await.unwrap();
        let st = client.wait_tx(h, Duration::from_secs(20)).await.unwrap();
        assert!(
            matches!(st, TxStatus::Included { outcome: Outcome::Mined { .. }, .. }),
            "{st:?}"
        );
        assert_eq!(refused(&client, &good).await, "WorkIdSpent");
        let soon = signed(proof(db, 6, next + 10, PrivacyLevel::Public, 0), me, chain, &key);
        assert_eq!(refused(&client, &soon).await, "ProofTooSoon");

        // The same rule decided by the proposer: two proofs admitted together, the second 10 s
        // after the first. The first is included, the second left out with its error, and the
        // rest of that block (the devnet miners' proofs) is unaffected.
        let info = client.chain_info().await.unwrap();
        let t = info.next_block_time;
        let q1 = signed(proof(db, 7, t, PrivacyLevel::Public, 1), me, chain, &key);
        let q2 = signed(proof(db, 8, t + 10, PrivacyLevel::Public, 0), me, chain, &key);
        let res = client.send_many(&[q1, q2]).await.unwrap();
        let [SubmitResult::Accepted(h1), SubmitResult::Accepted(h2)] = res[..] else {
            panic!("both admitted: {res:?}");
        };
        let s1 = client.wait_tx(h1, Duration::from_secs(20)).await.unwrap();
        let s2 = client.wait_tx(h2, Duration::from_secs(20)).await.unwrap();
        let TxStatus::Included { height: qh, .. } = s1 else {
            panic!("q1: {s1:?}");
        };
        assert!(
            matches!(&s2, TxStatus::Rejected { name, .. } if name == "ProofTooSoon"),
            "{s2:?}"
        );
        let block = client.block(qh).await.unwrap().unwrap();
        let others = block
            .txs
            .iter()
            .filter(|t| matches!(&t.outcome, Outcome::Mined { miner, .. } if *miner != me))
            .count();
        assert!(others >= 1, "the devnet miners' proofs are in block {qh}");

        // Eleven proofs of one miner for one block: ten admitted, the eleventh refused by name.
        // Device A has no proof yet; 30 s apart, claiming no minutes.
        let ready = registered_at + 240;
        loop {
            let i = client.chain_info().await.unwrap();
            if i.next_block_time >= ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let batch: Vec<Transaction> = (0..11u8)
            .map(|k| {
                let ts = registered_at + 30 * u64::from(k);
                signed(proof(da, 20 + k, ts, PrivacyLevel::Public, 0), me, chain, &key)
            })
            .collect();
        let res = client.send_many(&batch).await.unwrap();
        assert_eq!(res.len(), 11);
        for r in &res[..10] {
            assert!(matches!(r, SubmitResult::Accepted(_)), "{res:?}");
        }
        assert!(
            matches!(&res[10], SubmitResult::Rejected { name, .. } if name == "TooManyProofsInBlock"),
            "{:?}",
            res[10]
        );
        let mut heights = Vec::new();
        for r in &res[..10] {
            let SubmitResult::Accepted(h) = r else { unreachable!() };
            match client.wait_tx(*h, Duration::from_secs(20)).await.unwrap() {
                TxStatus::Included { height, .. } => heights.push(height),
                other => panic!("batch proof: {other:?}"),
            }
        }
        heights.dedup();
        assert_eq!(heights.len(), 1, "all ten in one block");
        wait_height(&client, heights[0]).await;
    });

    // The devnet ends by itself after 20 blocks.
    let out = proc.wait_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["height"], 20);
    for m in summary["miners"].as_array().unwrap() {
        assert!(m["accepted"].as_u64().unwrap() >= 10, "{m}");
        assert_eq!(m["rejected"], 0, "the devnet miners lost nothing: {m}");
    }
    let tiers: Vec<u64> = summary["miners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["tier"].as_u64().unwrap())
        .collect();
    assert_eq!(tiers, [1, 3, 4]);

    // Every payout by the formula, in block order, with an independent ledger.
    let store = Store::open(&data.join("chain.redb")).unwrap();
    let emission = Emission::new(genesis.emission_genesis_height);
    let mut ledger = MiningLedger::new(0);
    let mut paid: BTreeMap<Address, u128> = BTreeMap::new();
    let mut treasury = 0u128;
    let mut proofs = 0;
    for h in 1..=20 {
        let block = store.block(h).unwrap().unwrap();
        let receipts = store.receipts(h).unwrap().unwrap();
        assert_eq!(block.txs.len(), receipts.len());
        for (tx, r) in block.txs.iter().zip(&receipts) {
            assert_eq!(tx.hash(), r.tx_hash);
            if let (
                Transaction::Proof(p),
                Outcome::Mined {
                    payout,
                    beneficiary,
                    ..
                },
            ) = (tx, &r.outcome)
            {
                let expected = ledger
                    .apply(&emission, h, gross_reward_for(&p.proof))
                    .unwrap();
                assert_eq!(*payout, expected, "block {h}");
                assert_eq!(payout.gross, gross_reward_for(&p.proof));
                *paid.entry(*beneficiary).or_default() += payout.miner;
                treasury += payout.treasury;
                proofs += 1;
            }
        }
    }
    assert!(proofs >= 3 * 10 + 12, "{proofs} proofs");
    let state = store.load_state(&poai_node::tee::machine()).unwrap();
    assert_eq!(state.ledger(), ledger);
    assert_eq!(state.account(&genesis.treasury).ai, treasury);
    for (who, amount) in &paid {
        assert_eq!(state.account(who).ai, *amount, "{who}");
    }
    // Replaying every block from genesis gives the same state root.
    let replayed = store.replay(&Machine::new()).unwrap();
    assert_eq!(replayed.head(), state.head());
    assert_eq!(replayed.root(), state.root());
}
