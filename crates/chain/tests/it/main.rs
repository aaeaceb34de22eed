//! The state machine against SPEC sections 2, 3 and 6: every acceptance rule as a named case,
//! block proposal and validation, rollback, the emission ceiling, and the supply invariant.

// Helpers outside `#[test]` functions unwrap too: here a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod validators;

use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::genesis::GenesisAccount;
use poai_chain::machine::BlockCounters;
use poai_chain::{
    Block, BlockContext, BlockError, Call, Genesis, Machine, Outcome, ProofTx, SignedTx, State,
    Transaction, TxBody, TxError, address_of, genesis_block,
};
use poai_crypto::{ParamSet, SigningKey};
use poai_economics::{Emission, LP_ALLOCATION, MiningLedger, ONE_AI, gross_reward_for};
use poai_primitives::{Address, ChainId, DeviceId, Nonce, PrivacyLevel, WorkProof};

const CHAIN: ChainId = ChainId(4242);
const T0: u64 = 1_800_000_000;
const TREASURY: Address = Address([0x77; 20]);
const LP: Address = Address([0x11; 20]);

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[n; 32]).unwrap()
}

fn genesis(dev: bool, step: u64) -> Genesis {
    Genesis {
        chain_id: CHAIN,
        genesis_time: T0,
        emission_genesis_height: 1,
        allow_dev_evidence: dev,
        dev_block_time_step: Some(step),
        min_fee: 2,
        max_block_txs: 1000,
        lp_address: LP,
        treasury: TREASURY,
        accounts: vec![GenesisAccount {
            address: address_of(key(1).verifying_key()),
            balance: 1_000,
        }],
        ai: Default::default(),
        consensus: None,
    }
}

struct Chain {
    machine: Machine,
    state: State,
}

impl Chain {
    fn new(dev: bool) -> Self {
        Self::with_step(dev, 60)
    }

    fn with_step(dev: bool, step: u64) -> Self {
        Self::from(&genesis(dev, step))
    }

    fn from(g: &Genesis) -> Self {
        let mut state = State::from_genesis(g);
        genesis_block(&mut state);
        state.take_changes();
        Self {
            machine: Machine::new(),
            state,
        }
    }

    fn ctx(&self) -> BlockContext {
        BlockContext::next(
            &self.state,
            Machine::next_timestamp(&self.state, 0),
            Address([0xaa; 20]),
        )
    }

    /// Proposes a block of `txs`; returns (included outcomes, rejected error names).
    fn block(&mut self, txs: Vec<Transaction>) -> (Vec<Outcome>, Vec<&'static str>, Block) {
        let prepared = self.machine.prepare(&self.state, txs);
        let ctx = self.ctx();
        let p = self.machine.propose(&mut self.state, ctx, &prepared);
        self.state.take_changes();
        (
            p.receipts.into_iter().map(|r| r.outcome).collect(),
            p.rejected.iter().map(|(_, e)| e.name()).collect(),
            p.block,
        )
    }

    fn check(&self, tx: Transaction) -> Result<(), TxError> {
        let p = self.machine.prepare(&self.state, vec![tx]).pop().unwrap();
        self.machine
            .check(&self.state, &self.ctx(), &BlockCounters::default(), &p)
    }
}

fn register(k: &SigningKey, nonce: u64, tier: PrivacyLevel, seed: u8) -> Transaction {
    let body = TxBody {
        chain_id: CHAIN,
        nonce,
        fee: 2,
        call: Call::RegisterDevice {
            evidence: dev_evidence(tier, &[seed; 32]),
        },
    };
    Transaction::Account(SignedTx::sign(body, k).unwrap())
}

fn proof(device: DeviceId, n: u8, ts: u64, level: PrivacyLevel, minutes: u32) -> WorkProof {
    WorkProof {
        device_id: device,
        nonce: Nonce([n; 32]),
        timestamp: ts,
        privacy_level: level,
        compute_minutes: minutes,
        tee_evidence: Vec::new(),
    }
}

fn sign(p: WorkProof, chain: ChainId, k: &SigningKey) -> Transaction {
    let to = address_of(k.verifying_key());
    Transaction::Proof(ProofTx::sign(p, to, chain, k).unwrap())
}

/// A chain with a Confidential device of key 1 registered in block 1 and `blocks` empty blocks
/// after it. Returns the chain, the device and its registration time.
fn with_device(blocks: usize) -> (Chain, DeviceId, u64) {
    let mut c = Chain::new(true);
    let (ok, rejected, b) = c.block(vec![register(&key(1), 0, PrivacyLevel::Confidential, 9)]);
    assert_eq!((ok.len(), rejected.len()), (1, 0), "{rejected:?}");
    for _ in 0..blocks {
        c.block(vec![]);
    }
    (c, dev_device_id(&[9; 32]), b.header.timestamp)
}

#[test]
fn proof_rules_each_have_their_error() {
    // Registered at R, 10 blocks (600 s) later: 10 whole minutes have elapsed.
    let (c, dev, r) = with_device(10);
    let bt = c.ctx().timestamp;
    assert_eq!(bt, r + 660);
    let k = key(1);
    let lvl = PrivacyLevel::Confidential;
    let cases: Vec<(&str, Transaction, Option<&str>)> = vec![
        ("valid", sign(proof(dev, 1, bt, lvl, 10), CHAIN, &k), None),
        (
            "oldest allowed",
            sign(proof(dev, 1, bt - 3600, lvl, 0), CHAIN, &k),
            None,
        ),
        (
            "newest allowed",
            sign(proof(dev, 1, bt + 60, lvl, 11), CHAIN, &k),
            None,
        ),
        (
            "lower level",
            sign(proof(dev, 1, bt, PrivacyLevel::Public, 1), CHAIN, &k),
            None,
        ),
        (
            "another chain id",
            sign(proof(dev, 1, bt, lvl, 1), ChainId(CHAIN.0 + 1), &k),
            Some("ProofSignatureInvalid"),
        ),
        (
            "not the registered key",
            sign(proof(dev, 1, bt, lvl, 1), CHAIN, &key(2)),
            Some("ProofSignatureInvalid"),
        ),
        (
            "beneficiary swapped after signing",
            match sign(proof(dev, 1, bt, lvl, 1), CHAIN, &k) {
                Transaction::Proof(mut p) => {
                    p.beneficiary = Address([0xee; 20]);
                    Transaction::Proof(p)
                }
                t => t,
            },
            Some("ProofSignatureInvalid"),
        ),
        (
            "unknown device",
            sign(proof(DeviceId([3; 32]), 1, bt, lvl, 1), CHAIN, &k),
            Some("UnknownDevice"),
        ),
        (
            "expired",
            sign(proof(dev, 1, bt - 3601, lvl, 0), CHAIN, &k),
            Some("ProofExpired"),
        ),
        (
            "from the future",
            sign(proof(dev, 1, bt + 61, lvl, 0), CHAIN, &k),
            Some("ProofFromFuture"),
        ),
        (
            "over 60 minutes",
            sign(proof(dev, 1, bt, lvl, 61), CHAIN, &k),
            Some("TooManyMinutes"),
        ),
        (
            "more minutes than elapsed",
            sign(proof(dev, 1, bt, lvl, 12), CHAIN, &k),
            Some("MinutesExceedElapsed"),
        ),
        (
            "tier above the evidence",
            sign(proof(dev, 1, bt, PrivacyLevel::Sovereign, 1), CHAIN, &k),
            Some("PrivacyAboveTier"),
        ),
    ];
    for (name, tx, expected) in cases {
        // Admission tells a peer's proof of a device it does not know yet from the verdict.
        let prepared = c.machine.prepare(&c.state, vec![tx.clone()]);
        assert_eq!(
            prepared[0].device_unknown(),
            expected == Some("UnknownDevice"),
            "{name}"
        );
        let got = c.check(tx);
        assert_eq!(
            got.as_ref().err().map(TxError::name),
            expected,
            "{name}: {got:?}"
        );
    }
    let account = c.machine.prepare(&c.state, vec![register(&k, 9, lvl, 9)]);
    assert!(!account[0].device_unknown(), "an account transaction");
}

#[test]
fn interval_spent_and_block_limit() {
    let (mut c, dev, r) = with_device(10);
    let k = key(1);
    let lvl = PrivacyLevel::Confidential;
    let first = sign(proof(dev, 1, r + 300, lvl, 5), CHAIN, &k);
    let (ok, rej, _) = c.block(vec![first.clone()]);
    assert_eq!((ok.len(), rej.len()), (1, 0));
    assert_eq!(c.check(first).unwrap_err().name(), "WorkIdSpent");
    let too_soon = sign(proof(dev, 2, r + 329, lvl, 0), CHAIN, &k);
    assert_eq!(c.check(too_soon).unwrap_err().name(), "ProofTooSoon");
    // Minutes now count from the previous proof, not from registration.
    let since_proof = sign(proof(dev, 3, r + 330, lvl, 1), CHAIN, &k);
    assert_eq!(
        c.check(since_proof).unwrap_err().name(),
        "MinutesExceedElapsed"
    );
    assert!(
        c.check(sign(proof(dev, 4, r + 330, lvl, 0), CHAIN, &k))
            .is_ok()
    );

    // Twelve proofs 30 s apart in one block: ten included, the rest deferred, not lost.
    let txs: Vec<Transaction> = (0..12u64)
        .map(|i| {
            let n = 10 + u8::try_from(i).unwrap();
            sign(proof(dev, n, r + 360 + 30 * i, lvl, 0), CHAIN, &k)
        })
        .collect();
    let prepared = c.machine.prepare(&c.state, txs);
    let ctx = c.ctx();
    let p = c.machine.propose(&mut c.state, ctx, &prepared);
    assert_eq!(p.receipts.len(), 10);
    assert_eq!(p.deferred.len(), 2);
    assert!(p.rejected.is_empty());
    // The mempool's view: with ten counted, the eleventh is refused by name.
    let mut counters = BlockCounters::default();
    let miner = address_of(k.verifying_key());
    for _ in 0..10 {
        counters.add_proof(miner);
    }
    let eleventh = c
        .machine
        .prepare(
            &c.state,
            vec![sign(proof(dev, 99, r + 700, lvl, 0), CHAIN, &k)],
        )
        .pop()
        .unwrap();
    let err = c
        .machine
        .check(&c.state, &c.ctx(), &counters, &eleventh)
        .unwrap_err();
    assert_eq!(err.name(), "TooManyProofsInBlock");
}

/// A validator that already checked a block's signatures on admission (its mempool's verdicts)
/// reaches the same receipts and state as one that checks them all; a known invalid verdict is
/// never taken as valid.
#[test]
fn reused_signature_verdicts_agree_with_fresh_checks() {
    let (mut c, dev, r) = with_device(5);
    let k = key(1);
    let lvl = PrivacyLevel::Confidential;
    let pre = c.state.clone();
    let good = vec![
        sign(proof(dev, 1, r + 120, lvl, 2), CHAIN, &k),
        sign(proof(dev, 3, r + 180, lvl, 1), CHAIN, &k),
    ];
    let forged = sign(proof(dev, 4, r + 240, lvl, 1), ChainId(1), &k);
    let (ok, _, block) = c.block(good.clone());
    assert_eq!(ok.len(), 2);
    let known: std::collections::HashMap<_, _> = c
        .machine
        .prepare(&pre, [good.clone(), vec![forged.clone()]].concat())
        .into_iter()
        .map(|p| (p.hash(), p.verdict()))
        .collect();

    let mut fresh = pre.clone();
    let a = c.machine.execute_block(&mut fresh, &block).unwrap();
    let mut reused = pre.clone();
    let b = c
        .machine
        .execute_block_with(
            &mut reused,
            &block,
            &Machine::tx_hashes(&block.txs),
            known.clone(),
        )
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(fresh.root(), reused.root());

    // The forged proof in a block: refused although `known` holds its (invalid) verdict.
    let mut bad = block;
    bad.txs.push(forged);
    bad.header.tx_root = bad.compute_tx_root();
    let mut v = pre.clone();
    let err = c
        .machine
        .execute_block_with(&mut v, &bad, &Machine::tx_hashes(&bad.txs), known)
        .unwrap_err();
    assert!(
        matches!(&err, BlockError::InvalidTx { index: 2, error, .. } if error.name() == "ProofSignatureInvalid"),
        "{err}"
    );
}

#[test]
fn a_bad_proof_loses_nothing_else_and_validators_agree() {
    let (mut c, dev, r) = with_device(5);
    let k = key(1);
    let lvl = PrivacyLevel::Confidential;
    let pre = c.state.clone();
    let txs = vec![
        sign(proof(dev, 1, r + 120, lvl, 2), CHAIN, &k),
        // 10 s after the first: left out at proposal.
        sign(proof(dev, 2, r + 130, lvl, 0), CHAIN, &k),
        sign(proof(dev, 3, r + 180, lvl, 1), CHAIN, &k),
        sign(proof(dev, 4, r + 240, lvl, 1), ChainId(1), &k),
    ];
    let (ok, rejected, block) = c.block(txs);
    assert_eq!(ok.len(), 2);
    assert_eq!(rejected, ["ProofTooSoon", "ProofSignatureInvalid"]);

    // A validator re-executing the proposed block reaches the same state.
    let mut v = pre.clone();
    let receipts = c.machine.execute_block(&mut v, &block).unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(v.root(), c.state.root());
    assert_eq!(v.head(), c.state.head());

    // A block that includes an invalid transaction is refused and changes nothing.
    let mut bad = block.clone();
    bad.txs
        .push(sign(proof(dev, 2, r + 130, lvl, 0), CHAIN, &k));
    bad.header.tx_root = bad.compute_tx_root();
    let mut v = pre.clone();
    v.take_changes();
    let root = v.root();
    let err = c.machine.execute_block(&mut v, &bad).unwrap_err();
    assert!(
        matches!(&err, BlockError::InvalidTx { index: 2, error, .. } if error.name() == "ProofTooSoon"),
        "{err}"
    );
    assert_eq!(v.root(), root, "rolled back");

    // Header rules.
    let mut v = pre.clone();
    let mut h = block.clone();
    h.header.timestamp += 1;
    assert!(matches!(
        c.machine.execute_block(&mut v, &h),
        Err(BlockError::Timestamp { .. })
    ));
    let mut h = block.clone();
    h.header.height += 1;
    assert!(matches!(
        c.machine.execute_block(&mut v, &h),
        Err(BlockError::Height { .. })
    ));
    let mut h = block.clone();
    h.header.parent.0[0] ^= 1;
    assert!(matches!(
        c.machine.execute_block(&mut v, &h),
        Err(BlockError::Parent { .. })
    ));
    let mut h = block.clone();
    h.header.state_root.0[0] ^= 1;
    assert!(matches!(
        c.machine.execute_block(&mut v, &h),
        Err(BlockError::StateRoot { .. })
    ));
    assert_eq!(v.root(), pre.root());
    let mut h = block;
    h.txs.pop();
    assert!(matches!(
        c.machine.execute_block(&mut v, &h),
        Err(BlockError::TxRoot { .. })
    ));
}

#[test]
fn payouts_follow_the_formula_and_the_ceiling() {
    // An hour of chain time per block. Two Sovereign devices claim 60 and 57 minutes in block 3:
    // 90 + 85.5 AI gross, far above the ceiling's room (3 × 7.14 AI, nothing mined yet), so the
    // first is cut to the room and the second is paid nothing, in block order.
    let mut c = Chain::with_step(true, 3600);
    let (k1, k2) = (key(1), key(2));
    c.block(vec![
        register(&k1, 0, PrivacyLevel::Sovereign, 1),
        // key 2 has no native coin: its registration cannot pay the fee.
        register(&k2, 0, PrivacyLevel::Sovereign, 2),
    ]);
    let (d1, d2) = (dev_device_id(&[1; 32]), dev_device_id(&[2; 32]));
    assert!(c.state.device(&d2).is_none());
    let fund = Transaction::Account(
        SignedTx::sign(
            TxBody {
                chain_id: CHAIN,
                nonce: 1,
                fee: 2,
                call: Call::Transfer {
                    to: address_of(k2.verifying_key()),
                    amount: 100,
                },
            },
            &k1,
        )
        .unwrap(),
    );
    let (ok, rej, _) = c.block(vec![fund, register(&k2, 0, PrivacyLevel::Sovereign, 2)]);
    assert_eq!((ok.len(), rej.len()), (2, 0), "{rej:?}");
    let bt = c.ctx().timestamp;
    let h = c.ctx().height;
    let lvl = PrivacyLevel::Sovereign;
    let (ok, rej, _) = c.block(vec![
        sign(proof(d1, 1, bt, lvl, 60), CHAIN, &k1),
        sign(proof(d2, 1, bt, lvl, 57), CHAIN, &k2),
    ]);
    assert!(rej.is_empty(), "{rej:?}");
    let emission = Emission::new(1);
    let mut ledger = MiningLedger::new(0);
    let mut pays = Vec::new();
    for o in &ok {
        let Outcome::Mined { payout, .. } = o else {
            panic!("{o:?}")
        };
        assert_eq!(*payout, ledger.apply(&emission, h, payout.gross).unwrap());
        pays.push(*payout);
    }
    assert_eq!(pays[0].gross, 90 * ONE_AI);
    assert_eq!(pays[0].paid, emission.ceiling(h).unwrap());
    assert!(pays[0].is_reduced());
    assert_eq!(pays[1].paid, 0);
    assert_eq!(pays[0].treasury, pays[0].paid * 2 / 100);
    assert_eq!(c.state.ledger().mined, emission.ceiling(h).unwrap());
    // Supply: LP allocation plus everything mined, nothing else.
    assert_eq!(c.state.total_ai(), LP_ALLOCATION + c.state.ledger().mined);
    assert_eq!(
        c.state.account(&TREASURY).ai,
        pays.iter().map(|p| p.treasury).sum::<u128>()
    );
    assert_eq!(gross_reward_for(&proof(d1, 1, 0, lvl, 60)), 90 * ONE_AI);
}

#[test]
fn account_rules() {
    let mut c = Chain::new(false);
    let k = key(1);
    let me = address_of(k.verifying_key());
    let tx = |nonce: u64, fee: u128, chain: ChainId, call: Call| {
        Transaction::Account(
            SignedTx::sign(
                TxBody {
                    chain_id: chain,
                    nonce,
                    fee,
                    call,
                },
                &k,
            )
            .unwrap(),
        )
    };
    let to = Address([5; 20]);
    let send = |amount| Call::Transfer { to, amount };
    let cases: Vec<(&str, Transaction, Option<&str>)> = vec![
        ("valid", tx(0, 2, CHAIN, send(10)), None),
        (
            "wrong chain",
            tx(0, 2, ChainId(1), send(10)),
            Some("WrongChainId"),
        ),
        ("nonce ahead", tx(1, 2, CHAIN, send(10)), Some("BadNonce")),
        (
            "fee below minimum",
            tx(0, 1, CHAIN, send(10)),
            Some("FeeTooLow"),
        ),
        (
            "overdraft",
            tx(0, 2, CHAIN, send(999)),
            Some("InsufficientBalance"),
        ),
        (
            "AI overdraft",
            tx(0, 2, CHAIN, Call::TransferAi { to, amount: 1 }),
            Some("InsufficientBalance"),
        ),
        (
            "dev evidence off",
            tx(
                0,
                2,
                CHAIN,
                Call::RegisterDevice {
                    evidence: dev_evidence(PrivacyLevel::Public, &[1; 32]),
                },
            ),
            Some("DevEvidenceDisabled"),
        ),
        (
            "real evidence without a verifier",
            tx(
                0,
                2,
                CHAIN,
                Call::RegisterDevice {
                    evidence: vec![1, 2, 3],
                },
            ),
            Some("EvidenceInvalid"),
        ),
    ];
    for (name, t, expected) in cases {
        let got = c.check(t);
        assert_eq!(
            got.as_ref().err().map(TxError::name),
            expected,
            "{name}: {got:?}"
        );
    }
    let mut forged = tx(0, 2, CHAIN, send(10));
    if let Transaction::Account(t) = &mut forged {
        t.body.fee = 3;
    }
    assert_eq!(c.check(forged).unwrap_err().name(), "TxSignatureInvalid");

    let (ok, rej, _) = c.block(vec![tx(0, 2, CHAIN, send(10)), tx(1, 2, CHAIN, send(10))]);
    assert_eq!((ok.len(), rej.len()), (2, 0));
    assert_eq!(c.state.account(&me).balance, 1000 - 24);
    assert_eq!(c.state.account(&me).nonce, 2);
    assert_eq!(c.state.account(&to).balance, 20);
    assert_eq!(
        c.state.account(&Address([0xaa; 20])).balance,
        4,
        "fees to the proposer"
    );
    assert_eq!(c.state.total_native(), 1000);
}

#[test]
fn device_belongs_to_its_first_miner() {
    let mut c = Chain::new(true);
    let (k1, k2) = (key(1), key(2));
    c.block(vec![register(&k1, 0, PrivacyLevel::Private, 7)]);
    let fund = Transaction::Account(
        SignedTx::sign(
            TxBody {
                chain_id: CHAIN,
                nonce: 1,
                fee: 2,
                call: Call::Transfer {
                    to: address_of(k2.verifying_key()),
                    amount: 10,
                },
            },
            &k1,
        )
        .unwrap(),
    );
    c.block(vec![fund]);
    let err = c
        .check(register(&k2, 0, PrivacyLevel::Sovereign, 7))
        .unwrap_err();
    assert_eq!(err.name(), "DeviceOwnedByOther");
    // Re-attestation by the owner updates the tier.
    let (ok, _, _) = c.block(vec![register(&k1, 2, PrivacyLevel::Confidential, 7)]);
    assert_eq!(ok.len(), 1);
    let d = c.state.device(&dev_device_id(&[7; 32])).unwrap();
    assert_eq!(d.tier, PrivacyLevel::Confidential);
}

#[test]
fn blocks_round_trip_and_replay_is_deterministic() {
    let (mut c, dev, r) = with_device(3);
    let k = key(1);
    let (_, _, block) = c.block(vec![sign(
        proof(dev, 1, r + 180, PrivacyLevel::Confidential, 3),
        CHAIN,
        &k,
    )]);
    let bytes = block.encode();
    assert_eq!(Block::decode(&bytes).unwrap(), block);
    let mut long = bytes.clone();
    long.push(0);
    assert!(Block::decode(&long).is_err());
    assert!(Block::decode(&bytes[..bytes.len() - 1]).is_err());
}

/// Outside a devnet the proposer stamps `max(now, parent)`, and a block may share its parent's
/// second (a chain with 500 ms blocks made at most one a second when each had to be a second
/// later: chain time ran ahead until verifiers waited for their clocks). Going back in time is
/// refused, by name.
#[test]
fn real_chain_timestamps_never_decrease_and_may_repeat() {
    let mut c = Chain::from(&Genesis {
        dev_block_time_step: None,
        ..genesis(false, 60)
    });
    let parent = c.state.head().timestamp;
    assert_eq!(Machine::next_timestamp(&c.state, 0), parent, "a slow clock");
    assert_eq!(Machine::next_timestamp(&c.state, parent + 7), parent + 7);

    let me = Address([0xaa; 20]);
    let pre = c.state.clone();
    let same = BlockContext::next(&c.state, parent, me);
    let block = c.machine.propose(&mut c.state, same, &[]).block;
    assert_eq!(block.header.timestamp, parent);
    let mut v = pre.clone();
    v.take_changes();
    c.machine
        .execute_block(&mut v, &block)
        .expect("a block in its parent's second");
    assert_eq!(v.head(), c.state.head());

    let mut v = pre;
    v.take_changes();
    let mut back = block;
    back.header.timestamp = parent - 1;
    let err = c.machine.execute_block(&mut v, &back).unwrap_err();
    assert!(
        matches!(&err, BlockError::Timestamp { got, .. } if *got == parent - 1),
        "{err}"
    );
    assert!(err.to_string().contains("must not be before"), "{err}");
}
