//! ComputeMarket through MODEL_REGISTRY (0x0302): stake, escrow, results verified by signed
//! inference attestations, fees, reputation, and disputes settled by a drawn third provider's
//! re-execution, with every failure checked by its custom error.

use crate::harness::*;
use crate::mining::{key, pk};
use alloy_primitives::{Address, B256, Bytes, U256};
use poai_contracts::ComputeMarket as C;
use poai_contracts::{AIToken, IModelRegistry};
use poai_crypto::SigningKey;
use poai_precompiles::model_registry;
use poai_primitives::ChainId;

const STAKE: u128 = 5_000 * ONE;
const PAYMENT: u128 = 100 * ONE;
const STATUS_COMPLETED: u8 = 2;
const STATUS_DISPUTED: u8 = 3;
const STATUS_SETTLED: u8 = 4;
const STATUS_REFUNDED: u8 = 5;

struct Market {
    chain: Chain,
    model: B256,
    keys: Vec<SigningKey>,
    input: B256,
}

impl Market {
    /// A chain with a registered model and `providers` staked providers, each key authorised
    /// for the model; the requester and providers hold 10,000 AI and approve the market.
    fn new(providers: usize) -> Self {
        let mut chain = Chain::new(96_369);
        let (token, market) = (chain.token, chain.market);
        let registry = model_registry::ADDRESS;
        let model = ok(chain.send(
            DEPLOYER,
            registry,
            &IModelRegistry::registerCall {
                name: "llama-3-70b".into(),
                modelHash: B256::repeat_byte(0x11),
                metadata: Bytes::new(),
            },
        ));
        let keys: Vec<SigningKey> = (0..providers)
            .map(|i| key(80 + u8::try_from(i).unwrap()))
            .collect();
        for who in PROVIDERS.iter().take(providers).chain([&REQUESTER]) {
            ok(chain.send(
                LP,
                token,
                &AIToken::transferCall {
                    to: *who,
                    value: U256::from(10_000 * ONE),
                },
            ));
            ok(chain.send(
                *who,
                token,
                &AIToken::approveCall {
                    spender: market,
                    value: U256::MAX,
                },
            ));
        }
        for (i, k) in keys.iter().enumerate() {
            let key_hash = B256::from(*blake3::hash(k.verifying_key().as_bytes()).as_bytes());
            ok(chain.send(
                DEPLOYER,
                registry,
                &IModelRegistry::authorizeProviderCall {
                    modelId: model,
                    providerKeyHash: key_hash,
                    allowed: true,
                },
            ));
            ok(chain.send(
                PROVIDERS[i],
                market,
                &C::registerProviderCall {
                    paramSet: 2,
                    publicKey: pk(k),
                    stake: U256::from(STAKE),
                },
            ));
        }
        chain.set_prevrandao(B256::repeat_byte(0x42));
        Self {
            chain,
            model,
            keys,
            input: B256::repeat_byte(0x1A),
        }
    }

    /// Provider `i`'s signed inference attestation that the model turned the input into `output`.
    fn attest(&self, i: usize, output: B256) -> Bytes {
        self.attest_with(&self.keys[i], output)
    }

    fn attest_with(&self, key: &SigningKey, output: B256) -> Bytes {
        let ts = self.chain.block().1;
        let msg = model_registry::attestation_message(
            ChainId(96_369),
            &self.model,
            &self.input,
            &output,
            ts,
        );
        let mut proof = vec![model_registry::PROOF_SIGNED_ATTESTATION, 2];
        proof.extend_from_slice(key.verifying_key().as_bytes());
        proof.extend_from_slice(&key.sign(&msg, &[]).unwrap());
        proof.extend_from_slice(&ts.to_be_bytes());
        proof.into()
    }

    fn send<T: alloy_sol_types::SolCall>(
        &mut self,
        from: Address,
        call: &T,
    ) -> Result<T::Return, Reverted> {
        let market = self.chain.market;
        self.chain.send(from, market, call)
    }

    fn view<T: alloy_sol_types::SolCall>(&mut self, call: &T) -> T::Return {
        let market = self.chain.market;
        self.chain.view(market, call)
    }

    /// A request to provider 0, with its result `output` submitted.
    fn completed(&mut self, output: B256) -> U256 {
        let deadline = self.chain.block().1 + 3_600;
        let id = ok(self.send(
            REQUESTER,
            &C::createRequestCall {
                provider_: PROVIDERS[0],
                modelId: self.model,
                inputHash: self.input,
                payment: U256::from(PAYMENT),
                deadline,
            },
        ));
        let attestation = self.attest(0, output);
        ok(self.send(
            PROVIDERS[0],
            &C::submitResultCall {
                id,
                outputHash: output,
                attestation,
            },
        ));
        id
    }

    fn balance(&mut self, who: Address) -> u128 {
        self.chain.balance_of(who)
    }
}

const OUT_A: B256 = B256::repeat_byte(0xA0);
const OUT_B: B256 = B256::repeat_byte(0xB0);

#[test]
fn request_result_and_settlement_pay_the_provider_and_the_fee() {
    let mut m = Market::new(2);
    let deadline = m.chain.block().1 + 3_600;
    let (model, input) = (m.model, m.input);
    let create = |payment: u128, deadline: u64, provider: Address| C::createRequestCall {
        provider_: provider,
        modelId: model,
        inputHash: input,
        payment: U256::from(payment),
        deadline,
    };
    expect_error::<C::ZeroPayment, _>(m.send(REQUESTER, &create(0, deadline, PROVIDERS[0])));
    expect_error::<C::DeadlineInPast, _>(
        m.send(REQUESTER, &create(PAYMENT, m.chain.block().1, PROVIDERS[0])),
    );
    let e = expect_error::<C::ProviderNotRegistered, _>(
        m.send(REQUESTER, &create(PAYMENT, deadline, PROVIDERS[3])),
    );
    assert_eq!(e.provider, PROVIDERS[3]);
    let before = m.balance(REQUESTER);
    let id = ok(m.send(REQUESTER, &create(PAYMENT, deadline, PROVIDERS[0])));
    assert_eq!(before - m.balance(REQUESTER), PAYMENT, "escrowed");

    let att = m.attest(0, OUT_A);
    let e = expect_error::<C::NotProvider, _>(m.send(
        PROVIDERS[1],
        &C::submitResultCall {
            id,
            outputHash: OUT_A,
            attestation: att.clone(),
        },
    ));
    assert_eq!(e.caller, PROVIDERS[1]);
    let other = m.attest(1, OUT_A);
    expect_error::<C::AttestationSignerMismatch, _>(m.send(
        PROVIDERS[0],
        &C::submitResultCall {
            id,
            outputHash: OUT_A,
            attestation: other,
        },
    ));
    let e = expect_error::<C::ExecutionNotVerified, _>(m.send(
        PROVIDERS[0],
        &C::submitResultCall {
            id,
            outputHash: OUT_B,
            attestation: att.clone(),
        },
    ));
    assert_eq!(e.outputHash, OUT_B);
    expect_error::<C::MalformedAttestation, _>(m.send(
        PROVIDERS[0],
        &C::submitResultCall {
            id,
            outputHash: OUT_A,
            attestation: Bytes::from_static(&[1, 9, 9]),
        },
    ));
    ok(m.send(
        PROVIDERS[0],
        &C::submitResultCall {
            id,
            outputHash: OUT_A,
            attestation: att,
        },
    ));
    let r = m.view(&C::requestCall { id });
    assert_eq!((r.status, r.outputHash), (STATUS_COMPLETED, OUT_A));

    expect_error::<C::ChallengeWindowOpen, _>(m.send(REQUESTER, &C::finalizeCall { id }));
    let e = expect_error::<C::ProviderBusy, _>(m.send(
        PROVIDERS[0],
        &C::withdrawStakeCall {
            amount: U256::from(1),
        },
    ));
    assert_eq!(e.activeJobs, 1);
    m.chain.advance(1_800, 3_601);
    let (p0, treasury) = (m.balance(PROVIDERS[0]), m.balance(TREASURY));
    ok(m.send(RELAYER, &C::finalizeCall { id }));
    let fee = PAYMENT * u128::from(MARKET_FEE_BPS) / 10_000;
    assert_eq!(m.balance(PROVIDERS[0]) - p0, PAYMENT - fee);
    assert_eq!(m.balance(TREASURY) - treasury, fee);
    let e = expect_error::<C::InvalidStatus, _>(m.send(RELAYER, &C::finalizeCall { id }));
    assert_eq!(e.status, STATUS_SETTLED);
    let p = m.view(&C::providerCall {
        account: PROVIDERS[0],
    });
    assert_eq!((p.completed, p.reputation, p.activeJobs), (1, 1, 0));

    // Stake can leave once no job holds it, but not below the minimum unless all of it.
    let e = expect_error::<C::StakeTooLow, _>(m.send(
        PROVIDERS[0],
        &C::withdrawStakeCall {
            amount: U256::from(STAKE - MIN_STAKE + 1),
        },
    ));
    assert_eq!(e.minStake, U256::from(MIN_STAKE));
    ok(m.send(
        PROVIDERS[0],
        &C::withdrawStakeCall {
            amount: U256::from(STAKE),
        },
    ));
    expect_error::<C::UnknownRequest, _>(m.send(RELAYER, &C::finalizeCall { id: U256::from(99) }));
}

#[test]
fn an_unmet_deadline_refunds_the_requester() {
    let mut m = Market::new(2);
    let deadline = m.chain.block().1 + 600;
    let id = ok(m.send(
        REQUESTER,
        &C::createRequestCall {
            provider_: PROVIDERS[0],
            modelId: m.model,
            inputHash: m.input,
            payment: U256::from(PAYMENT),
            deadline,
        },
    ));
    expect_error::<C::DeadlineNotPassed, _>(m.send(REQUESTER, &C::cancelCall { id }));
    m.chain.advance(301, 601);
    let att = m.attest(0, OUT_A);
    expect_error::<C::DeadlinePassed, _>(m.send(
        PROVIDERS[0],
        &C::submitResultCall {
            id,
            outputHash: OUT_A,
            attestation: att,
        },
    ));
    expect_error::<C::NotRequester, _>(m.send(PROVIDERS[0], &C::cancelCall { id }));
    let before = m.balance(REQUESTER);
    ok(m.send(REQUESTER, &C::cancelCall { id }));
    assert_eq!(m.balance(REQUESTER) - before, PAYMENT);
    let p = m.view(&C::providerCall {
        account: PROVIDERS[0],
    });
    assert_eq!((p.reputation, p.activeJobs), (-1, 0));
    assert_eq!(m.view(&C::requestCall { id }).status, STATUS_REFUNDED);
}

#[test]
fn a_dispute_won_by_the_challenger_slashes_the_provider_and_refunds() {
    let mut m = Market::new(4);
    let id = m.completed(OUT_A);
    expect_error::<C::SameOutput, _>(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_A,
            attestation: m.attest(1, OUT_A),
        },
    ));
    expect_error::<C::SelfChallenge, _>(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(0, OUT_B),
        },
    ));
    let stranger = key(200);
    expect_error::<C::SignerNotProvider, _>(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest_with(&stranger, OUT_B),
        },
    ));
    ok(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(1, OUT_B),
        },
    ));
    let r = m.view(&C::requestCall { id });
    assert_eq!(
        (r.status, r.challenger, r.challengeProvider),
        (STATUS_DISPUTED, REQUESTER, PROVIDERS[1])
    );
    let resolver = PROVIDERS.iter().position(|p| *p == r.resolver).unwrap();
    assert!(resolver >= 2, "the resolver is neither party");
    expect_error::<C::InvalidStatus, _>(m.send(REQUESTER, &C::finalizeCall { id }));

    // Only the drawn resolver's attestation settles it, and only for one of the two outputs.
    expect_error::<C::AttestationSignerMismatch, _>(m.send(
        RELAYER,
        &C::resolveDisputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(1, OUT_B),
        },
    ));
    let out_c = B256::repeat_byte(0xC0);
    let e = expect_error::<C::NoMajority, _>(m.send(
        RELAYER,
        &C::resolveDisputeCall {
            id,
            outputHash: out_c,
            attestation: m.attest(resolver, out_c),
        },
    ));
    assert_eq!(e.outputHash, out_c);

    let (req, treasury) = (m.balance(REQUESTER), m.balance(TREASURY));
    ok(m.send(
        RELAYER,
        &C::resolveDisputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(resolver, OUT_B),
        },
    ));
    let slashed = STAKE / 2;
    assert_eq!(
        m.balance(REQUESTER) - req,
        PAYMENT + slashed / 2,
        "refund and half the slash"
    );
    assert_eq!(m.balance(TREASURY) - treasury, slashed - slashed / 2);
    let p0 = m.view(&C::providerCall {
        account: PROVIDERS[0],
    });
    assert_eq!(
        (p0.stake, p0.disputesLost, p0.reputation, p0.activeJobs),
        (U256::from(STAKE - slashed), 1, -10, 0)
    );
    let p1 = m.view(&C::providerCall {
        account: PROVIDERS[1],
    });
    assert_eq!((p1.stake, p1.activeJobs), (U256::from(STAKE), 0));
    let pr = m.view(&C::providerCall {
        account: PROVIDERS[resolver],
    });
    assert_eq!(pr.reputation, 1);
    assert_eq!(m.view(&C::requestCall { id }).status, STATUS_REFUNDED);
}

#[test]
fn a_dispute_won_by_the_provider_slashes_the_challenger_and_pays() {
    let mut m = Market::new(4);
    let id = m.completed(OUT_A);
    ok(m.send(
        RELAYER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(1, OUT_B),
        },
    ));
    let first = m.view(&C::requestCall { id }).resolver;
    // The drawn resolver keeps the dispute for RESOLVE_WINDOW; then anyone may draw another.
    let e =
        expect_error::<C::ResolverStillActive, _>(m.send(RELAYER, &C::redrawResolverCall { id }));
    assert_eq!(e.id, id);
    m.chain.advance(1_801, 3_601);
    ok(m.send(RELAYER, &C::redrawResolverCall { id }));
    let second = m.view(&C::requestCall { id }).resolver;
    assert_ne!(first, second);
    let resolver = PROVIDERS.iter().position(|p| *p == second).unwrap();
    assert!(resolver >= 2);
    // The first resolver no longer counts.
    let old = PROVIDERS.iter().position(|p| *p == first).unwrap();
    expect_error::<C::AttestationSignerMismatch, _>(m.send(
        RELAYER,
        &C::resolveDisputeCall {
            id,
            outputHash: OUT_A,
            attestation: m.attest(old, OUT_A),
        },
    ));

    let (p0, treasury) = (m.balance(PROVIDERS[0]), m.balance(TREASURY));
    ok(m.send(
        RELAYER,
        &C::resolveDisputeCall {
            id,
            outputHash: OUT_A,
            attestation: m.attest(resolver, OUT_A),
        },
    ));
    let slashed = STAKE / 2;
    let fee = PAYMENT * u128::from(MARKET_FEE_BPS) / 10_000;
    assert_eq!(m.balance(PROVIDERS[0]) - p0, PAYMENT - fee + slashed / 2);
    assert_eq!(m.balance(TREASURY) - treasury, fee + slashed - slashed / 2);
    let p1 = m.view(&C::providerCall {
        account: PROVIDERS[1],
    });
    assert_eq!(
        (p1.stake, p1.disputesLost),
        (U256::from(STAKE - slashed), 1)
    );
    let p0v = m.view(&C::providerCall {
        account: PROVIDERS[0],
    });
    assert_eq!((p0v.completed, p0v.reputation), (1, 1));
    assert_eq!(m.view(&C::requestCall { id }).status, STATUS_SETTLED);
}

#[test]
fn dispute_windows_and_resolver_availability() {
    let mut m = Market::new(2);
    let id = m.completed(OUT_A);
    // A registered signer's key followed by a truncated signature: the registry halts.
    let mut truncated = m.attest(1, OUT_B).to_vec();
    truncated.truncate(2 + 1_312 + 100);
    expect_error::<C::RegistryCallFailed, _>(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: truncated.into(),
        },
    ));
    // Two providers: nobody is left to re-execute.
    let e = expect_error::<C::NoEligibleResolver, _>(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(1, OUT_B),
        },
    ));
    assert_eq!(e.id, id);
    m.chain.advance(1_801, 3_601);
    expect_error::<C::ChallengeWindowClosed, _>(m.send(
        REQUESTER,
        &C::disputeCall {
            id,
            outputHash: OUT_B,
            attestation: m.attest(1, OUT_B),
        },
    ));
    ok(m.send(REQUESTER, &C::finalizeCall { id }));

    let market = m.chain.market;
    let e = expect_error::<C::FeeTooHigh, _>(m.chain.send(
        DEPLOYER,
        market,
        &C::setFeeCall { feeBps_: 1_001 },
    ));
    assert_eq!(e.feeBps, 1_001);
    expect_error::<C::MissingRole, _>(m.chain.send(
        REQUESTER,
        market,
        &C::setFeeCall { feeBps_: 10 },
    ));
    let k = m.keys[0].clone();
    expect_error::<C::ProviderAlreadyRegistered, _>(m.send(
        PROVIDERS[0],
        &C::registerProviderCall {
            paramSet: 2,
            publicKey: pk(&k),
            stake: U256::from(STAKE),
        },
    ));
    expect_error::<C::KeyAlreadyRegistered, _>(m.send(
        REQUESTER,
        &C::registerProviderCall {
            paramSet: 2,
            publicKey: pk(&k),
            stake: U256::from(STAKE),
        },
    ));
    expect_error::<C::StakeTooLow, _>(m.send(
        REQUESTER,
        &C::registerProviderCall {
            paramSet: 2,
            publicKey: pk(&key(150)),
            stake: U256::from(1),
        },
    ));
    expect_error::<C::UnsupportedParamSet, _>(m.send(
        REQUESTER,
        &C::registerProviderCall {
            paramSet: 7,
            publicKey: pk(&key(150)),
            stake: U256::from(STAKE),
        },
    ));
    expect_error::<C::InvalidPublicKeyLength, _>(m.send(
        REQUESTER,
        &C::registerProviderCall {
            paramSet: 3,
            publicKey: pk(&key(150)),
            stake: U256::from(STAKE),
        },
    ));
}
