//! Validators (docs/DESIGN-consensus.md, section 2): genesis bonds, the bond / add-stake / unbond
//! calls and each of their errors, the validator set's order and limits, release of unbonded
//! stake at the right epoch, rollback, replay by a second node, and the native-coin supply
//! invariant over random call sequences.

use poai_chain::genesis::{ConsensusGenesis, GenesisAccount, GenesisValidator};
use poai_chain::machine::BlockCounters;
use poai_chain::validator::{
    ValidatorAction, ValidatorOutcome, consensus_public_key, pop_message, sign_pop,
};
use poai_chain::{
    Block, BlockContext, BlockError, Call, Genesis, Machine, Outcome, SignedTx, State, Transaction,
    TxBody, TxError, ValidatorCall, address_of, genesis_block,
};
use poai_crypto::{ParamSet, SigningKey};
use poai_primitives::{Address, ChainId};
use proptest::prelude::*;

const CHAIN: ChainId = ChainId(9191);
const T0: u64 = 1_800_000_000;
const FEE: u128 = 3;
const PROPOSER: Address = Address([0xaa; 20]);
/// Epoch length of the test chains.
const L: u64 = 4;
const MIN: u128 = 100;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[0x60 + n; 32]).unwrap()
}

fn addr(n: u8) -> Address {
    address_of(key(n).verifying_key())
}

/// The consensus key seed of validator `n`.
fn seed(n: u8) -> [u8; 32] {
    [0x90 + n; 32]
}

fn ckey(n: u8) -> [u8; 32] {
    consensus_public_key(&seed(n))
}

fn consensus(genesis_validators: &[(u8, u8, u128)]) -> ConsensusGenesis {
    ConsensusGenesis {
        epoch_length: L,
        min_validator_stake: MIN,
        max_validators: 3,
        unbonding_epochs: 1,
        validators: genesis_validators
            .iter()
            .map(|&(v, owner, stake)| GenesisValidator {
                consensus_key: ckey(v),
                address: addr(owner),
                stake,
                net_addr: Some(format!("127.0.0.1:{}", 30300 + u16::from(v))),
            })
            .collect(),
    }
}

fn genesis(c: Option<ConsensusGenesis>) -> Genesis {
    Genesis {
        chain_id: CHAIN,
        genesis_time: T0,
        emission_genesis_height: 1,
        allow_dev_evidence: true,
        dev_block_time_step: Some(60),
        min_fee: FEE,
        max_block_txs: 1000,
        lp_address: Address([0x11; 20]),
        treasury: Address([0x12; 20]),
        accounts: (1..=4)
            .map(|n| GenesisAccount {
                address: addr(n),
                balance: 10_000,
            })
            .collect(),
        ai: Default::default(),
        consensus: c,
    }
}

struct Chain {
    machine: Machine,
    state: State,
    /// Every block, for replay by a second node.
    blocks: Vec<Block>,
    nonces: [u64; 8],
}

impl Chain {
    fn new(g: &Genesis) -> Self {
        let mut state = State::from_genesis(g);
        genesis_block(&mut state);
        state.take_changes();
        Self {
            machine: Machine::new(),
            state,
            blocks: Vec::new(),
            nonces: [0; 8],
        }
    }

    fn ctx(&self) -> BlockContext {
        BlockContext::next(
            &self.state,
            Machine::next_timestamp(&self.state, 0),
            PROPOSER,
        )
    }

    /// Signs `call` from user `n` with its next nonce (counted locally).
    fn tx(&mut self, n: u8, call: Call) -> Transaction {
        let i = usize::from(n);
        let nonce = self.nonces[i];
        self.nonces[i] += 1;
        Transaction::Account(
            SignedTx::sign(
                TxBody {
                    chain_id: CHAIN,
                    nonce,
                    fee: FEE,
                    call,
                },
                &key(n),
            )
            .unwrap(),
        )
    }

    /// A block of `txs`: the outcomes of the included ones and the errors of the others.
    fn block(&mut self, txs: Vec<Transaction>) -> (Vec<Outcome>, Vec<TxError>) {
        let prepared = self.machine.prepare(&self.state, txs);
        let ctx = self.ctx();
        let p = self.machine.propose(&mut self.state, ctx, &prepared);
        self.state.take_changes();
        self.blocks.push(p.block);
        (
            p.receipts.into_iter().map(|r| r.outcome).collect(),
            p.rejected.into_iter().map(|(_, e)| e).collect(),
        )
    }

    /// One transaction in its own block; its outcome or error. A refused one does not use its
    /// nonce.
    fn one(&mut self, n: u8, call: Call) -> Result<Outcome, TxError> {
        let tx = self.tx(n, call);
        let (mut ok, mut err) = self.block(vec![tx]);
        match (ok.pop(), err.pop()) {
            (Some(o), None) => Ok(o),
            (None, Some(e)) => {
                self.nonces[usize::from(n)] -= 1;
                Err(e)
            }
            other => panic!("{other:?}"),
        }
    }

    fn check(&mut self, n: u8, call: Call) -> Result<(), TxError> {
        let tx = self.tx(n, call);
        self.nonces[usize::from(n)] -= 1;
        let p = self.machine.prepare(&self.state, vec![tx]).pop().unwrap();
        self.machine
            .check(&self.state, &self.ctx(), &BlockCounters::default(), &p)
    }

    fn height(&self) -> u64 {
        self.state.head().height
    }

    /// Empty blocks until the head is at `h`.
    fn until(&mut self, h: u64) {
        while self.height() < h {
            self.block(vec![]);
        }
    }

    fn balance(&self, n: u8) -> u128 {
        self.state.account(&addr(n)).balance
    }

    /// Native coin anywhere: balances, bonds, unbonding stake.
    fn supply(&self) -> u128 {
        self.state.total_native() + self.state.total_bonded()
    }
}

fn bond_as(owner: u8, v: u8, stake: u128) -> Call {
    Call::Validator(ValidatorCall::Bond {
        consensus_key: ckey(v),
        stake,
        net_addr: Some("10.1.2.3:30300".into()),
        pop: sign_pop(&seed(v), CHAIN, &addr(owner)),
    })
}

fn add_stake(v: u8, amount: u128) -> Call {
    Call::Validator(ValidatorCall::AddStake {
        consensus_key: ckey(v),
        amount,
    })
}

fn unbond(v: u8) -> Call {
    Call::Validator(ValidatorCall::Unbond {
        consensus_key: ckey(v),
    })
}

fn keys_of(s: &State) -> Vec<[u8; 32]> {
    s.validator_set().iter().map(|v| v.consensus_key).collect()
}

#[test]
fn genesis_validators_are_bonded_with_minted_stake() {
    let g = genesis(Some(consensus(&[(1, 1, 500), (2, 2, 700)])));
    g.validate().unwrap();
    let c = Chain::new(&g);
    // Minted into the bond: the owners' balances are untouched, the supply grows by the stakes.
    assert_eq!(c.balance(1), 10_000);
    assert_eq!(c.state.total_native(), 40_000);
    assert_eq!(c.state.total_bonded(), 1_200);
    let set = c.state.validator_set();
    assert_eq!(
        keys_of(&c.state),
        vec![ckey(2), ckey(1)],
        "highest stake first"
    );
    assert_eq!(set[0].owner, addr(2));
    assert_eq!(set[0].stake, 700);
    assert_eq!(set[0].net_addr.as_deref(), Some("127.0.0.1:30302"));
    // Without a consensus section: no validators, one epoch, no boundaries.
    let plain = Chain::new(&genesis(None));
    assert!(plain.state.validator_set().is_empty());
    assert_eq!(plain.state.epoch_of(1_000_000), 0);
    assert!(!plain.state.is_epoch_boundary(3));
    assert_eq!((c.state.epoch_of(3), c.state.epoch_of(4)), (0, 1));
    assert!(c.state.is_epoch_boundary(3) && !c.state.is_epoch_boundary(4));
    // The genesis bonds are in the root: another stake gives another genesis root.
    let other = Chain::new(&genesis(Some(consensus(&[(1, 1, 500), (2, 2, 701)]))));
    assert_ne!(other.state.root(), c.state.root());
}

#[test]
fn genesis_json_defaults_and_validation_name_the_field() {
    let base = genesis(Some(consensus(&[(1, 1, 500)])));
    let mut j = serde_json::to_value(&base).unwrap();
    let cons = j["consensus"].as_object_mut().unwrap();
    for f in ["min_validator_stake", "max_validators", "unbonding_epochs"] {
        cons.remove(f);
    }
    cons["validators"][0]
        .as_object_mut()
        .unwrap()
        .remove("stake");
    let g: Genesis = serde_json::from_value(j.clone()).unwrap();
    let c = g.consensus.as_ref().unwrap();
    assert_eq!(
        (c.min_validator_stake, c.max_validators, c.unbonding_epochs),
        (0, 100, 1)
    );
    assert_eq!(c.validators[0].stake, 0);
    g.validate().unwrap();
    // Amounts are decimal strings, and unknown fields are refused.
    let s = serde_json::to_value(&base).unwrap();
    assert_eq!(s["consensus"]["min_validator_stake"], "100");
    assert_eq!(s["consensus"]["validators"][0]["stake"], "500");
    let mut bad = s.clone();
    bad["consensus"]["validators"][0]["stak"] = 1.into();
    assert!(serde_json::from_value::<Genesis>(bad).is_err());

    type Edit = Box<dyn Fn(&mut ConsensusGenesis)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "consensus.validators[].stake",
            Box::new(|c| c.validators[0].stake = MIN - 1),
        ),
        (
            "consensus.max_validators",
            Box::new(|c| c.max_validators = 0),
        ),
        (
            "consensus.max_validators",
            Box::new(|c| c.max_validators = 1_000_000),
        ),
        (
            "consensus.validators` lists 2 validators, more than `consensus.max_validators",
            Box::new(|c| {
                c.max_validators = 1;
                let mut v = c.validators[0].clone();
                v.consensus_key = ckey(7);
                c.validators.push(v);
            }),
        ),
        (
            "consensus.validators[].consensus_key",
            Box::new(|c| {
                let mut identity = [0u8; 32];
                identity[0] = 1;
                c.validators[0].consensus_key = identity;
            }),
        ),
        (
            "consensus.validators[].net_addr",
            Box::new(|c| c.validators[0].net_addr = Some("no-port".into())),
        ),
    ];
    for (field, edit) in cases {
        let mut g = base.clone();
        edit(g.consensus.as_mut().unwrap());
        let e = g.validate().unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
}

#[test]
fn bond_add_stake_unbond_and_release_at_the_right_epoch() {
    let g = genesis(Some(consensus(&[(1, 1, 500)])));
    let mut c = Chain::new(&g);
    let supply = c.supply();

    // Block 1 (epoch 0): user 2 bonds validator 2 with 300.
    let o = c.one(2, bond_as(2, 2, 300)).unwrap();
    assert_eq!(
        o,
        Outcome::Validator(ValidatorOutcome {
            action: ValidatorAction::Bonded,
            consensus_key: ckey(2),
            amount: 300,
            release_height: None,
        })
    );
    assert_eq!(c.balance(2), 10_000 - 300 - FEE);
    assert_eq!(
        c.state.account(&PROPOSER).balance,
        FEE,
        "fee to the proposer"
    );
    assert_eq!(keys_of(&c.state), vec![ckey(1), ckey(2)]);
    let row = c.state.validator(&ckey(2)).unwrap();
    assert_eq!(
        (row.owner, row.stake, row.net_addr.as_deref()),
        (addr(2), 300, Some("10.1.2.3:30300"))
    );

    // Block 2: adding 400 puts it ahead of validator 1.
    c.one(2, add_stake(2, 400)).unwrap();
    assert_eq!(keys_of(&c.state), vec![ckey(2), ckey(1)]);
    assert_eq!(c.state.validator(&ckey(2)).unwrap().stake, 700);
    assert_eq!(c.supply(), supply);

    // Block 5 (epoch 1): unbond. Released at the first block of epoch 1 + 1 + 1 = 3: height 12.
    c.until(4);
    let before = c.balance(2);
    let o = c.one(2, unbond(2)).unwrap();
    assert_eq!(c.height(), 5);
    assert_eq!(
        o,
        Outcome::Validator(ValidatorOutcome {
            action: ValidatorAction::Unbonding,
            consensus_key: ckey(2),
            amount: 700,
            release_height: Some(12),
        })
    );
    assert_eq!(keys_of(&c.state), vec![ckey(1)], "out of the set at once");
    assert_eq!(c.balance(2), before - FEE, "stake not back yet");
    c.until(11);
    assert_eq!(c.balance(2), before - FEE, "still locked at height 11");
    assert!(c.state.validator(&ckey(2)).is_some());
    assert_eq!(c.supply(), supply);
    c.until(12);
    assert_eq!(c.balance(2), before - FEE + 700, "released at height 12");
    assert!(c.state.validator(&ckey(2)).is_none(), "row removed");
    assert_eq!(c.supply(), supply);

    // The key is free again; another account holding it may bond it.
    c.one(3, bond_as(3, 2, 150)).unwrap();
    assert_eq!(c.state.validator(&ckey(2)).unwrap().owner, addr(3));

    // A second node replays every block to the same root.
    let mut replica = Chain::new(&g);
    for b in &c.blocks {
        replica
            .machine
            .execute_block(&mut replica.state, b)
            .unwrap();
        replica.state.take_changes();
    }
    assert_eq!(replica.state.root(), c.state.root());
    assert_eq!(replica.state.validator_set(), c.state.validator_set());
}

#[test]
fn unbonding_epochs_zero_releases_at_the_next_epoch() {
    let mut cons = consensus(&[(1, 1, 500)]);
    cons.unbonding_epochs = 0;
    let mut c = Chain::new(&genesis(Some(cons)));
    // Unbonding in the boundary block of epoch 0 (height 3): released at height 4.
    c.until(2);
    c.one(1, unbond(1)).unwrap();
    assert_eq!(c.height(), 3);
    assert!(c.state.is_epoch_boundary(3));
    assert!(
        c.state.validator_set().is_empty(),
        "epoch 1 reads an empty set"
    );
    let before = c.balance(1);
    c.until(4);
    assert_eq!(c.balance(1), before + 500);
}

#[test]
fn set_order_minimum_and_limit() {
    let g = genesis(Some(consensus(&[(1, 1, 200)])));
    let mut c = Chain::new(&g);
    let txs = vec![
        c.tx(2, bond_as(2, 2, 300)),
        c.tx(3, bond_as(3, 3, 300)),
        c.tx(4, bond_as(4, 4, 100)),
    ];
    let (ok, err) = c.block(txs);
    assert_eq!((ok.len(), err.len()), (3, 0), "{err:?}");
    // 2 and 3 tie at 300: by key ascending. max_validators = 3 cuts the lowest stake.
    let mut tied = [ckey(2), ckey(3)];
    tied.sort();
    assert_eq!(keys_of(&c.state), vec![tied[0], tied[1], ckey(1)]);
    assert_eq!(
        c.state.validators().count(),
        4,
        "the fourth is bonded but outside"
    );
    // Adding stake moves validator 4 in, pushing validator 1 (200) out.
    c.one(4, add_stake(4, 150)).unwrap();
    assert_eq!(keys_of(&c.state), vec![tied[0], tied[1], ckey(4)]);
}

#[test]
fn every_refusal_has_its_named_error() {
    let g = genesis(Some(consensus(&[(1, 1, 500)])));
    let mut c = Chain::new(&g);
    c.one(2, bond_as(2, 2, 300)).unwrap();
    let key_hex = |v: u8| hex::encode(ckey(v));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let cases: Vec<(&str, u8, Call, &str, &str)> = vec![
        (
            "key already bonded",
            3,
            bond_as(3, 2, 300),
            "ValidatorExists",
            "consensus_key",
        ),
        (
            "stake below the minimum",
            3,
            bond_as(3, 3, MIN - 1),
            "ValidatorStakeTooLow",
            "stake",
        ),
        (
            "pop made for another sender",
            3,
            bond_as(4, 3, 300),
            "PopInvalid",
            "pop",
        ),
        (
            "pop made for another chain",
            3,
            Call::Validator(ValidatorCall::Bond {
                consensus_key: ckey(3),
                stake: 300,
                net_addr: None,
                pop: sign_pop(&seed(3), ChainId(CHAIN.0 + 1), &addr(3)),
            }),
            "PopInvalid",
            "pop",
        ),
        (
            "pop by another key",
            3,
            Call::Validator(ValidatorCall::Bond {
                consensus_key: ckey(3),
                stake: 300,
                net_addr: None,
                pop: sign_pop(&seed(4), CHAIN, &addr(3)),
            }),
            "PopInvalid",
            "pop",
        ),
        (
            "small-order key",
            3,
            Call::Validator(ValidatorCall::Bond {
                consensus_key: identity,
                stake: 300,
                net_addr: None,
                pop: [0; 64],
            }),
            "ConsensusKeyInvalid",
            "consensus_key",
        ),
        (
            "net_addr without a port",
            3,
            Call::Validator(ValidatorCall::Bond {
                consensus_key: ckey(3),
                stake: 300,
                net_addr: Some("host".into()),
                pop: sign_pop(&seed(3), CHAIN, &addr(3)),
            }),
            "NetAddrInvalid",
            "net_addr",
        ),
        (
            "stake above the balance",
            3,
            bond_as(3, 3, 10_000),
            "InsufficientBalance",
            "stake",
        ),
        (
            "add stake to an unknown key",
            3,
            add_stake(5, 10),
            "UnknownValidator",
            "consensus_key",
        ),
        (
            "add stake to another's validator",
            3,
            add_stake(2, 10),
            "NotValidatorOwner",
            "consensus_key",
        ),
        ("add zero stake", 2, add_stake(2, 0), "ZeroAmount", "amount"),
        (
            "add more than the balance",
            2,
            add_stake(2, 10_000),
            "InsufficientBalance",
            "amount",
        ),
        (
            "unbond another's validator",
            3,
            unbond(2),
            "NotValidatorOwner",
            "consensus_key",
        ),
        (
            "unbond an unknown key",
            3,
            unbond(6),
            "UnknownValidator",
            "consensus_key",
        ),
    ];
    for (what, sender, call, name, field) in cases {
        let e = c.check(sender, call).unwrap_err();
        assert_eq!(e.name(), name, "{what}: {e}");
        assert!(e.to_string().contains(field), "{what}: {e}");
    }
    assert!(
        c.check(2, add_stake(2, 1)).is_ok(),
        "the owner's add is valid: the cases above fail for their stated reason"
    );
    assert!(c.check(3, bond_as(3, 3, 300)).is_ok());
    assert_eq!(
        c.check(3, bond_as(3, 2, 300)).unwrap_err().to_string(),
        format!("field `consensus_key`: {} is already bonded", key_hex(2))
    );

    // Unbonding: no more stake, no second unbond, key still taken.
    c.one(2, unbond(2)).unwrap();
    for call in [add_stake(2, 1), unbond(2)] {
        let e = c.check(2, call).unwrap_err();
        assert_eq!(e.name(), "ValidatorUnbonding", "{e}");
        assert!(e.to_string().contains("consensus_key"), "{e}");
    }
    assert_eq!(
        c.check(3, bond_as(3, 2, 300)).unwrap_err().name(),
        "ValidatorExists"
    );

    // A chain without a consensus section refuses validator calls.
    let mut plain = Chain::new(&genesis(None));
    let e = plain.check(2, bond_as(2, 2, 300)).unwrap_err();
    assert_eq!(e, TxError::ValidatorsDisabled);
    assert!(e.to_string().contains("consensus"));
}

#[test]
fn pop_message_layout() {
    // "poai/validator/pop/v1" ‖ u64be(chain_id) ‖ sender 20 ‖ consensus key 32.
    let m = pop_message(ChainId(0x0102), &Address([7; 20]), &[9; 32]);
    assert_eq!(&m[..21], b"poai/validator/pop/v1");
    assert_eq!(&m[21..29], &[0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(&m[29..49], &[7; 20]);
    assert_eq!(&m[49..], &[9; 32]);
}

#[test]
fn a_failed_block_rolls_the_validator_table_back() {
    let g = genesis(Some(consensus(&[(1, 1, 500)])));
    let mut proposer = Chain::new(&g);
    let mut other = Chain::new(&g);
    let tx = proposer.tx(2, bond_as(2, 2, 300));
    proposer.block(vec![tx]);
    let mut b = proposer.blocks[0].clone();
    let root = other.state.root();
    b.header.state_root = poai_chain::Hash32([0; 32]);
    let e = other
        .machine
        .execute_block(&mut other.state, &b)
        .unwrap_err();
    assert!(matches!(e, BlockError::StateRoot { .. }), "{e}");
    assert_eq!(other.state.root(), root);
    assert!(other.state.validator(&ckey(2)).is_none());
    // The honest block applies, and its changes carry the new row.
    other
        .machine
        .execute_block(&mut other.state, &proposer.blocks[0])
        .unwrap();
    let changes = other.state.take_changes();
    assert_eq!(changes.validators.len(), 1);
    assert_eq!(changes.validators[0].0, ckey(2));
    assert_eq!(changes.validators[0].1.as_ref().unwrap().stake, 300);
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    Bond { user: u8, v: u8, stake: u128 },
    Add { user: u8, v: u8, amount: u128 },
    Unbond { user: u8, v: u8 },
    Transfer { user: u8, to: u8, amount: u128 },
    Empty,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..=4, 1u8..=5, 0u128..3_000).prop_map(|(user, v, stake)| Op::Bond { user, v, stake }),
        (1u8..=4, 1u8..=5, 0u128..3_000).prop_map(|(user, v, amount)| Op::Add { user, v, amount }),
        (1u8..=4, 1u8..=5).prop_map(|(user, v)| Op::Unbond { user, v }),
        (1u8..=4, 1u8..=4, 0u128..3_000).prop_map(|(user, to, amount)| Op::Transfer {
            user,
            to,
            amount
        }),
        Just(Op::Empty),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Native coin is conserved by every call sequence: balances + bonded + unbonding stays the
    /// genesis total (fees move between accounts), whatever is accepted or refused; the set is
    /// always sorted and within its limits; and a replica reaches the same root.
    #[test]
    fn native_supply_is_conserved(ops in proptest::collection::vec(op(), 1..14)) {
        let g = genesis(Some(consensus(&[(1, 1, 500)])));
        let mut c = Chain::new(&g);
        let supply = c.supply();
        for o in ops {
            let call = match o {
                Op::Bond { user, v, stake } => Some((user, bond_as(user, v, stake))),
                Op::Add { user, v, amount } => Some((user, add_stake(v, amount))),
                Op::Unbond { user, v } => Some((user, unbond(v))),
                Op::Transfer { user, to, amount } => {
                    Some((user, Call::Transfer { to: addr(to), amount }))
                }
                Op::Empty => None,
            };
            match call {
                Some((user, call)) => {
                    let _ = c.one(user, call);
                }
                None => {
                    c.block(vec![]);
                }
            }
            prop_assert_eq!(c.supply(), supply);
            let set = c.state.validator_set();
            prop_assert!(set.len() <= 3);
            for w in set.windows(2) {
                prop_assert!(
                    (w[0].stake, std::cmp::Reverse(w[0].consensus_key))
                        > (w[1].stake, std::cmp::Reverse(w[1].consensus_key))
                );
            }
            prop_assert!(set.iter().all(|v| v.stake >= MIN));
        }
        // Long enough for every unbonding to be released: nothing is left locked.
        let end = c.height() + 3 * L;
        c.until(end);
        prop_assert_eq!(c.supply(), supply);
        prop_assert!(c.state.validators().all(|(_, v)| v.unbonding.is_none()));
        let mut replica = Chain::new(&g);
        for b in &c.blocks {
            replica.machine.execute_block(&mut replica.state, b).unwrap();
            replica.state.take_changes();
        }
        prop_assert_eq!(replica.state.root(), c.state.root());
    }
}
