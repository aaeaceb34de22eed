//! AIToken: the emission ceiling against `poai-economics`, the caps, roles, pause and ERC-20
//! errors.

use crate::harness::*;
use alloy_primitives::{Address, U256};
use poai_contracts::AIToken as T;
use poai_economics::{Emission, HALVING_INTERVAL, LP_ALLOCATION, MINING_CAP, TOTAL_CAP};

fn ceiling(chain: &mut Chain, height: u64) -> U256 {
    let token = chain.token;
    chain.view(
        token,
        &T::ceilingAtCall {
            height: U256::from(height),
        },
    )
}

#[test]
fn ceiling_matches_the_rust_emission_schedule() {
    let mut chain = Chain::new(96_369);
    let emission = Emission::new(GENESIS_BLOCK);
    let h = HALVING_INTERVAL;
    let cap_height = emission.cap_height().unwrap();
    let heights = [
        GENESIS_BLOCK,
        GENESIS_BLOCK + 1,
        GENESIS_BLOCK + h - 1,
        GENESIS_BLOCK + h,
        GENESIS_BLOCK + 2 * h + 12_345,
        GENESIS_BLOCK + 7 * h - 1,
        cap_height - 1,
        cap_height,
        GENESIS_BLOCK + 63 * h,
        GENESIS_BLOCK + 64 * h,
        u64::MAX,
    ];
    for height in heights {
        let want = emission.ceiling(height).unwrap();
        assert_eq!(
            ceiling(&mut chain, height),
            U256::from(want),
            "height {height}"
        );
    }
    // Seed 004's timeline: 450M by year 4 (exactly H × 7.14), 675M by year 8.
    assert_eq!(
        ceiling(&mut chain, GENESIS_BLOCK + h - 1),
        U256::from(450_334_080u128 * ONE)
    );
    assert!(ceiling(&mut chain, GENESIS_BLOCK + 2 * h - 1) >= U256::from(675_000_000u128 * ONE));
    assert_eq!(ceiling(&mut chain, cap_height), U256::from(MINING_CAP));
    assert!(ceiling(&mut chain, cap_height - 1) < U256::from(MINING_CAP));

    let token = chain.token;
    for (height, subsidy) in [
        (GENESIS_BLOCK, 7_140_000_000_000_000_000u128),
        (GENESIS_BLOCK + h, 3_570_000_000_000_000_000),
        (GENESIS_BLOCK + 64 * h, 0),
    ] {
        assert_eq!(
            chain.view(
                token,
                &T::blockSubsidyCall {
                    height: U256::from(height)
                }
            ),
            U256::from(subsidy)
        );
    }
    let e = expect_error::<T::BeforeGenesis, _>(chain.send(
        DEPLOYER,
        token,
        &T::ceilingAtCall {
            height: U256::from(GENESIS_BLOCK - 1),
        },
    ));
    assert_eq!(
        (e.height, e.genesisBlock),
        (U256::from(GENESIS_BLOCK - 1), U256::from(GENESIS_BLOCK))
    );
}

#[test]
fn lp_allocation_is_minted_once_and_the_caps_hold() {
    let mut chain = Chain::new(96_369);
    let token = chain.token;
    assert_eq!(chain.balance_of(LP), LP_ALLOCATION);
    assert_eq!(
        chain.view(token, &T::totalSupplyCall {}),
        U256::from(LP_ALLOCATION)
    );

    // A direct minter (granted by the admin) drives the ceiling to the 900M cap in epoch 11.
    let minter = chain.view(token, &T::MINTER_ROLECall {});
    let e = expect_error::<T::MissingRole, _>(chain.send(
        MINER,
        token,
        &T::mintRewardCall {
            miner: MINER,
            gross: U256::from(1),
        },
    ));
    assert_eq!((e.role, e.account), (minter, MINER));
    ok(chain.send(
        DEPLOYER,
        token,
        &T::grantRoleCall {
            role: minter,
            account: MINER,
        },
    ));
    let height = GENESIS_BLOCK + 11 * HALVING_INTERVAL;
    chain.set_block(height, T0 + 1_000_000_000);
    let huge = U256::from(10u128.pow(30));
    let first = ok(chain.send(
        MINER,
        token,
        &T::mintRewardCall {
            miner: BENEFICIARY,
            gross: huge,
        },
    ));
    assert_eq!(first, huge >> 11usize);
    let second = ok(chain.send(
        MINER,
        token,
        &T::mintRewardCall {
            miner: BENEFICIARY,
            gross: huge,
        },
    ));
    assert_eq!(
        first + second,
        U256::from(MINING_CAP),
        "the second mint is cut to the cap"
    );
    let e = expect_error::<T::EmissionCeilingReached, _>(chain.send(
        MINER,
        token,
        &T::mintRewardCall {
            miner: BENEFICIARY,
            gross: huge,
        },
    ));
    assert_eq!(e.ceiling, U256::from(MINING_CAP));
    assert_eq!(
        chain.view(token, &T::totalSupplyCall {}),
        U256::from(TOTAL_CAP)
    );
    let treasury = chain.balance_of(TREASURY);
    assert_eq!(treasury + chain.balance_of(BENEFICIARY), MINING_CAP);
    assert_eq!(
        U256::from(treasury),
        first * U256::from(200) / U256::from(10_000)
            + second * U256::from(200) / U256::from(10_000)
    );

    // From epoch 64 on nothing is paid.
    chain.set_block(GENESIS_BLOCK + 64 * HALVING_INTERVAL, T0 + 2_000_000_000);
    expect_error::<T::ZeroReward, _>(chain.send(
        MINER,
        token,
        &T::mintRewardCall {
            miner: BENEFICIARY,
            gross: huge,
        },
    ));
}

#[test]
fn pause_roles_and_erc20_errors() {
    let mut chain = Chain::new(96_369);
    let token = chain.token;
    let one = U256::from(ONE);
    ok(chain.send(
        LP,
        token,
        &T::transferCall {
            to: MINER,
            value: one,
        },
    ));
    assert_eq!(chain.balance_of(MINER), ONE);
    let e = expect_error::<T::InsufficientBalance, _>(chain.send(
        MINER2,
        token,
        &T::transferCall {
            to: MINER,
            value: one,
        },
    ));
    assert_eq!((e.account, e.balance, e.needed), (MINER2, U256::ZERO, one));
    let e = expect_error::<T::InsufficientAllowance, _>(chain.send(
        MINER2,
        token,
        &T::transferFromCall {
            from: MINER,
            to: MINER2,
            value: one,
        },
    ));
    assert_eq!((e.spender, e.allowance), (MINER2, U256::ZERO));
    ok(chain.send(
        MINER,
        token,
        &T::approveCall {
            spender: MINER2,
            value: one,
        },
    ));
    ok(chain.send(
        MINER2,
        token,
        &T::transferFromCall {
            from: MINER,
            to: MINER2,
            value: one,
        },
    ));
    assert_eq!(chain.balance_of(MINER2), ONE);
    expect_error::<T::ZeroAddress, _>(chain.send(
        MINER2,
        token,
        &T::transferCall {
            to: Address::ZERO,
            value: one,
        },
    ));

    expect_error::<T::MissingRole, _>(chain.send(MINER, token, &T::pauseCall {}));
    ok(chain.send(DEPLOYER, token, &T::pauseCall {}));
    expect_error::<T::TokenPaused, _>(chain.send(
        MINER2,
        token,
        &T::transferCall {
            to: MINER,
            value: one,
        },
    ));
    // Mining stops too: the token's error reaches the submitter through AIMining.
    let mut rig = crate::mining::Rig::soft(&mut chain, MINER, 1, 1);
    chain.advance(10, 600);
    let (_, now) = chain.block();
    let p = rig.proof(now, poai_primitives::PrivacyLevel::Public, 1);
    let mining = chain.mining;
    expect_error::<T::TokenPaused, _>(chain.send(RELAYER, mining, &rig.submit(96_369, &p)));
    ok(chain.send(DEPLOYER, token, &T::unpauseCall {}));
    ok(chain.send(RELAYER, mining, &rig.submit(96_369, &p)));

    expect_error::<T::MissingRole, _>(chain.send(
        MINER,
        token,
        &T::setTreasuryCall { treasury_: MINER },
    ));
    ok(chain.send(DEPLOYER, token, &T::setTreasuryCall { treasury_: MINER2 }));
    assert_eq!(chain.view(token, &T::treasuryCall {}), MINER2);
}

#[test]
fn ceiling_agrees_with_the_rust_schedule_at_random_heights() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let chain = std::cell::RefCell::new(Chain::new(96_369));
    let emission = Emission::new(GENESIS_BLOCK);
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let heights = GENESIS_BLOCK..GENESIS_BLOCK + 70 * HALVING_INTERVAL;
    runner
        .run(&heights, |h| {
            let got = ceiling(&mut chain.borrow_mut(), h);
            prop_assert_eq!(
                got,
                U256::from(emission.ceiling(h).unwrap()),
                "height {}",
                h
            );
            Ok(())
        })
        .unwrap();
}
