//! AIMining through the 0x0300 raw ops: registration, the acceptance rules of SPEC section 2
//! (each by its custom error), cross-chain minting, evidence-set tiers, and rewards minted by
//! AIToken with the 98/2 split.

use crate::harness::*;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::SolConstructor;
use poai_contracts::AIMining::{self as M};
use poai_contracts::{AIToken, ChainConfig};
use poai_crypto::{ParamSet, SigningKey};
use poai_primitives::{ChainId, DeviceId, Nonce, PrivacyLevel, WorkProof, signed_message};
use poai_tee::testpki::{Gpu, TestPki};

/// A miner's device: its ML-DSA key and registered id.
pub struct Rig {
    pub key: SigningKey,
    pub id: B256,
    nonce: u64,
}

/// ML-DSA-44 key from a one-byte seed.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[seed; 32]).unwrap()
}

pub fn pk(key: &SigningKey) -> Bytes {
    key.verifying_key().as_bytes().to_vec().into()
}

impl Rig {
    /// Registers a soft-attested (Public) device labelled `label` for `miner`, staking 1 coin.
    pub fn soft(chain: &mut Chain, miner: Address, seed: u8, label: u8) -> Self {
        let key = key(seed);
        let call = M::registerMinerCall {
            deviceId: B256::repeat_byte(label),
            paramSet: 2,
            publicKey: pk(&key),
            evidence: Bytes::new(),
        };
        let mining = chain.mining;
        let id = ok(chain.send_value(miner, mining, &call, ONE));
        let registered = events::<M::MinerRegistered>(&chain.last_logs, mining);
        assert_eq!((registered[0].miner, registered[0].gpuId), (miner, id));
        let tier = events::<M::TierUpdated>(&chain.last_logs, mining);
        assert_eq!(
            (tier[0].gpuId, tier[0].oldTier, tier[0].newTier),
            (id, 0, 1)
        );
        assert_eq!(
            id,
            chain.view(
                mining,
                &M::softDeviceIdCall {
                    miner,
                    label: B256::repeat_byte(label)
                }
            )
        );
        Self { key, id, nonce: 0 }
    }

    /// A proof with a fresh nonce.
    pub fn proof(&mut self, timestamp: u64, level: PrivacyLevel, minutes: u32) -> WorkProof {
        self.nonce += 1;
        let mut nonce = [0u8; 32];
        nonce[24..].copy_from_slice(&self.nonce.to_be_bytes());
        WorkProof {
            device_id: DeviceId(self.id.0),
            nonce: Nonce(nonce),
            timestamp,
            privacy_level: level,
            compute_minutes: minutes,
            tee_evidence: Vec::new(),
        }
    }

    /// The submitProof call for `proof` bytes, signed for `beneficiary` on `chain_id`.
    pub fn submit_bytes(
        &self,
        chain_id: u64,
        bytes: Vec<u8>,
        beneficiary: Address,
    ) -> M::submitProofCall {
        let msg = signed_message(
            ChainId(chain_id),
            &poai_primitives::Address(beneficiary.0.0),
            &bytes,
        );
        M::submitProofCall {
            signature: self.key.sign(&msg, &[]).unwrap().into(),
            proof: bytes.into(),
            publicKey: pk(&self.key),
            beneficiary,
        }
    }

    pub fn submit(&self, chain_id: u64, proof: &WorkProof) -> M::submitProofCall {
        self.submit_bytes(chain_id, proof.encode(), BENEFICIARY)
    }
}

/// gross = minutes × 10^18 × bps / 10000.
fn gross(minutes: u128, bps: u128) -> u128 {
    minutes * ONE * bps / 10_000
}

fn send(chain: &mut Chain, call: &M::submitProofCall) -> Result<U256, Reverted> {
    let mining = chain.mining;
    chain.send(RELAYER, mining, call)
}

#[test]
fn a_proof_mints_98_percent_to_the_miner_and_2_percent_to_the_treasury_once() {
    let mut chain = Chain::new(96_369);
    let mut rig = Rig::soft(&mut chain, MINER, 1, 1);
    chain.advance(300, 600);
    let (_, now) = chain.block();
    let proof = rig.proof(now, PrivacyLevel::Public, 10);
    let call = rig.submit(chain.chain_id, &proof);
    let treasury_before = chain.balance_of(TREASURY);
    let reward = ok(send(&mut chain, &call));
    let work_id = B256::from(poai_crypto::proof_work_id(&proof, ChainId(96_369)).0);
    let submitted = events::<M::ProofSubmitted>(&chain.last_logs, chain.mining);
    assert_eq!(submitted.len(), 1);
    assert_eq!(
        (
            submitted[0].miner,
            submitted[0].proofHash,
            submitted[0].reward
        ),
        (MINER, work_id, reward)
    );
    let minted = events::<AIToken::RewardMinted>(&chain.last_logs, chain.token);
    assert_eq!(
        (minted[0].miner, minted[0].minerAmount, minted[0].epoch),
        (
            BENEFICIARY,
            reward * U256::from(98) / U256::from(100),
            U256::ZERO
        )
    );
    let paid = gross(10, 2_500);
    assert_eq!(paid, 2_500_000_000_000_000_000);
    assert_eq!(reward, U256::from(paid));
    let to_treasury = paid * 200 / 10_000;
    assert_eq!(chain.balance_of(BENEFICIARY), paid - to_treasury);
    assert_eq!(chain.balance_of(TREASURY) - treasury_before, to_treasury);
    let token = chain.token;
    assert_eq!(
        chain.view(token, &AIToken::totalMinedCall {}),
        U256::from(paid)
    );

    // The same proof again, later: spent.
    chain.advance(1, 60);
    let spent = expect_error::<M::WorkAlreadySpent, _>(send(&mut chain, &call));
    assert_eq!(spent.workId, work_id);
    assert_eq!(chain.balance_of(BENEFICIARY), paid - to_treasury);
}

#[test]
fn the_same_work_mints_once_on_each_chain() {
    let mut lux = Chain::new(96_369);
    let mut hanzo = Chain::new(36_963);
    let mut a = Rig::soft(&mut lux, MINER, 7, 1);
    let b = Rig::soft(&mut hanzo, MINER, 7, 1);
    assert_eq!(a.id, b.id, "a soft device id does not depend on the chain");
    lux.advance(10, 600);
    hanzo.advance(10, 600);
    let (_, now) = lux.block();
    let proof = a.proof(now, PrivacyLevel::Public, 5);
    let on_lux = a.submit(96_369, &proof);
    let on_hanzo = b.submit(36_963, &proof);
    // A signature binds its chain: the Lux-signed proof does not verify on Hanzo.
    expect_error::<M::InvalidSignature, _>(send(&mut hanzo, &on_lux));
    assert_eq!(ok(send(&mut lux, &on_lux)), U256::from(gross(5, 2_500)));
    assert_eq!(ok(send(&mut hanzo, &on_hanzo)), U256::from(gross(5, 2_500)));
    hanzo.advance(1, 40);
    expect_error::<M::WorkAlreadySpent, _>(send(&mut hanzo, &on_hanzo));
    lux.advance(1, 40);
    expect_error::<M::WorkAlreadySpent, _>(send(&mut lux, &on_lux));
}

#[test]
fn an_eleventh_proof_in_one_block_fails() {
    let mut chain = Chain::new(96_369);
    let mut rigs: Vec<Rig> = (0..11)
        .map(|i| Rig::soft(&mut chain, MINER, 10 + i, i))
        .collect();
    let other = Rig::soft(&mut chain, MINER2, 40, 1);
    chain.advance(100, 600);
    let (block, now) = chain.block();
    let calls: Vec<_> = rigs
        .iter_mut()
        .map(|r| {
            let p = r.proof(now, PrivacyLevel::Public, 1);
            r.submit(96_369, &p)
        })
        .collect();
    for call in &calls[..10] {
        ok(send(&mut chain, call));
    }
    let limited = expect_error::<M::RateLimitExceeded, _>(send(&mut chain, &calls[10]));
    assert_eq!(
        (limited.miner, limited.blockNumber),
        (MINER, U256::from(block))
    );
    // The limit is per miner: another miner mines in the same block.
    let mut other = other;
    let p = other.proof(now, PrivacyLevel::Public, 1);
    ok(send(&mut chain, &other.submit(96_369, &p)));
    // The next block accepts the eleventh.
    chain.advance(1, 2);
    ok(send(&mut chain, &calls[10]));
}

#[test]
fn timing_rules_each_have_their_error() {
    let mut chain = Chain::new(96_369);
    let mut rig = Rig::soft(&mut chain, MINER, 3, 1);
    chain.advance(1_000, 7_200);
    let (_, now) = chain.block();

    let p = rig.proof(now - 3_601, PrivacyLevel::Public, 1);
    let e = expect_error::<M::ProofExpired, _>(send(&mut chain, &rig.submit(96_369, &p)));
    assert_eq!(
        (e.timestamp, e.blockTimestamp),
        (now - 3_601, U256::from(now))
    );
    let p = rig.proof(now + 61, PrivacyLevel::Public, 1);
    expect_error::<M::ProofFromFuture, _>(send(&mut chain, &rig.submit(96_369, &p)));
    let p = rig.proof(now, PrivacyLevel::Public, 0);
    expect_error::<M::ZeroComputeMinutes, _>(send(&mut chain, &rig.submit(96_369, &p)));
    let p = rig.proof(now, PrivacyLevel::Public, 61);
    let e = expect_error::<M::TooManyComputeMinutes, _>(send(&mut chain, &rig.submit(96_369, &p)));
    assert_eq!(e.minutes_, 61);

    // The oldest allowed timestamp is accepted; the device registered 2 h ago, so 60 minutes fit.
    let p = rig.proof(now - 3_600, PrivacyLevel::Public, 60);
    ok(send(&mut chain, &rig.submit(96_369, &p)));
    // 29 s later is too soon; 30 s later is allowed but has no whole minute.
    let p = rig.proof(now - 3_571, PrivacyLevel::Public, 1);
    let e = expect_error::<M::ProofTooSoon, _>(send(&mut chain, &rig.submit(96_369, &p)));
    assert_eq!(e.earliest, now - 3_570);
    let p = rig.proof(now - 3_570, PrivacyLevel::Public, 1);
    let e = expect_error::<M::ComputeMinutesExceedElapsed, _>(send(
        &mut chain,
        &rig.submit(96_369, &p),
    ));
    assert_eq!((e.minutes_, e.elapsedMinutes), (1, U256::ZERO));
    // The newest allowed timestamp: block time + 60, claiming exactly the minutes since the last proof.
    let p = rig.proof(now + 60, PrivacyLevel::Public, 60);
    ok(send(&mut chain, &rig.submit(96_369, &p)));
}

#[test]
fn forged_or_misbound_signatures_fail() {
    let mut chain = Chain::new(96_369);
    let mut rig = Rig::soft(&mut chain, MINER, 5, 1);
    chain.advance(10, 600);
    let (_, now) = chain.block();
    let p = rig.proof(now, PrivacyLevel::Public, 2);
    let good = rig.submit(96_369, &p);

    let mut forged = good.clone();
    let mut sig = forged.signature.to_vec();
    sig[100] ^= 1;
    forged.signature = sig.into();
    expect_error::<M::InvalidSignature, _>(send(&mut chain, &forged));

    // Front-running: the same signature with another beneficiary.
    let mut stolen = good.clone();
    stolen.beneficiary = RELAYER;
    expect_error::<M::InvalidSignature, _>(send(&mut chain, &stolen));

    // Signed by another key that is not the device's.
    let thief = Rig {
        key: key(99),
        id: rig.id,
        nonce: 0,
    };
    let e = expect_error::<M::PublicKeyMismatch, _>(send(&mut chain, &thief.submit(96_369, &p)));
    assert_eq!(e.deviceId, rig.id);
    // The device's key with a signature from another key.
    let mut other_sig = good.clone();
    other_sig.signature = thief.submit(96_369, &p).signature;
    expect_error::<M::InvalidSignature, _>(send(&mut chain, &other_sig));

    let mut short = good.clone();
    short.signature = Bytes::from(vec![0u8; 100]);
    let e = expect_error::<M::InvalidSignatureLength, _>(send(&mut chain, &short));
    assert_eq!((e.expected, e.actual), (U256::from(2_420), U256::from(100)));

    let mut nobody = good.clone();
    nobody.beneficiary = Address::ZERO;
    expect_error::<M::ZeroBeneficiary, _>(send(&mut chain, &nobody));

    assert_eq!(chain.balance_of(BENEFICIARY), 0);
    ok(send(&mut chain, &good));
}

#[test]
fn malformed_and_over_tier_proofs_fail() {
    let mut chain = Chain::new(96_369);
    let mut rig = Rig::soft(&mut chain, MINER, 6, 1);
    chain.advance(10, 600);
    let (_, now) = chain.block();
    let p = rig.proof(now, PrivacyLevel::Confidential, 2);
    let e = expect_error::<M::PrivacyLevelAboveTier, _>(send(&mut chain, &rig.submit(96_369, &p)));
    assert_eq!((e.level, e.tier), (3, 1));

    let mut bytes = rig.proof(now, PrivacyLevel::Public, 2).encode();
    bytes[72..74].copy_from_slice(&5u16.to_be_bytes());
    let e = expect_error::<M::InvalidPrivacyLevel, _>(send(
        &mut chain,
        &rig.submit_bytes(96_369, bytes, BENEFICIARY),
    ));
    assert_eq!(e.level, 5);

    let short = vec![0u8; 77];
    let e = expect_error::<M::ProofTooShort, _>(send(
        &mut chain,
        &rig.submit_bytes(96_369, short, BENEFICIARY),
    ));
    assert_eq!(e.length, U256::from(77));
    let long = vec![1u8; 78 + 64 * 1024 + 1];
    expect_error::<M::ProofTooLong, _>(send(
        &mut chain,
        &rig.submit_bytes(96_369, long, BENEFICIARY),
    ));

    let mut unknown = rig.proof(now, PrivacyLevel::Public, 2);
    unknown.device_id = DeviceId([0xAB; 32]);
    let e =
        expect_error::<M::DeviceNotRegistered, _>(send(&mut chain, &rig.submit(96_369, &unknown)));
    assert_eq!(e.deviceId, B256::repeat_byte(0xAB));
}

#[test]
fn crossing_an_epoch_boundary_halves_the_reward() {
    let mut chain = Chain::new(96_369);
    let mut rig = Rig::soft(&mut chain, MINER, 8, 1);
    let h = poai_economics::HALVING_INTERVAL;
    let last_of_epoch_0 = GENESIS_BLOCK + h - 1;
    chain.set_block(last_of_epoch_0, T0 + 7_200);
    let p = rig.proof(T0 + 7_200, PrivacyLevel::Public, 60);
    assert_eq!(
        ok(send(&mut chain, &rig.submit(96_369, &p))),
        U256::from(gross(60, 2_500))
    );
    chain.set_block(last_of_epoch_0 + 1, T0 + 10_800);
    let p = rig.proof(T0 + 10_800, PrivacyLevel::Public, 60);
    assert_eq!(
        ok(send(&mut chain, &rig.submit(96_369, &p))),
        U256::from(gross(60, 2_500) / 2)
    );
    let token = chain.token;
    assert_eq!(
        chain.view(
            token,
            &AIToken::epochAtCall {
                height: U256::from(last_of_epoch_0 + 1)
            }
        ),
        U256::from(1)
    );
}

#[test]
fn the_ceiling_cuts_a_reward_and_then_refuses() {
    // At the genesis block the ceiling is one subsidy, 7.14 AI.
    let mut chain = Chain::new(96_369);
    let mut a = Rig::soft(&mut chain, MINER, 20, 1);
    let mut b = Rig::soft(&mut chain, MINER, 21, 2);
    chain.set_block(GENESIS_BLOCK, T0 + 3_600);
    let p = a.proof(T0 + 3_600, PrivacyLevel::Public, 60);
    let paid = ok(send(&mut chain, &a.submit(96_369, &p)));
    assert_eq!(
        paid,
        U256::from(poai_economics::INITIAL_SUBSIDY),
        "15 AI cut to 7.14 AI"
    );
    let p = b.proof(T0 + 3_600, PrivacyLevel::Public, 60);
    let call = b.submit(96_369, &p);
    let e = expect_error::<AIToken::EmissionCeilingReached, _>(send(&mut chain, &call));
    assert_eq!(e.ceiling, U256::from(poai_economics::INITIAL_SUBSIDY));
    // The refused proof was not spent: the next block's subsidy pays it.
    chain.advance(1, 2);
    assert_eq!(
        ok(send(&mut chain, &call)),
        U256::from(poai_economics::INITIAL_SUBSIDY)
    );
}

#[test]
fn attestations_expire_and_renew() {
    let mut chain = Chain::new(96_369);
    let mut rig = Rig::soft(&mut chain, MINER, 9, 1);
    chain.advance(50_000, 86_401);
    let (_, now) = chain.block();
    let p = rig.proof(now, PrivacyLevel::Public, 1);
    let call = rig.submit(96_369, &p);
    let e = expect_error::<M::AttestationExpired, _>(send(&mut chain, &call));
    assert_eq!(e.expiredAt, U256::from(T0 + 86_400));
    let mining = chain.mining;
    let e = expect_error::<M::NotDeviceOwner, _>(chain.send(
        MINER2,
        mining,
        &M::reattestCall {
            deviceId: rig.id,
            evidence: Bytes::new(),
        },
    ));
    assert_eq!(e.caller, MINER2);
    ok(chain.send(
        MINER,
        mining,
        &M::reattestCall {
            deviceId: rig.id,
            evidence: Bytes::new(),
        },
    ));
    ok(send(&mut chain, &call));
}

#[test]
fn registration_rules() {
    let mut chain = Chain::new(96_369);
    let mining = chain.mining;
    let k = key(30);
    let soft = |value_label: u8| M::registerMinerCall {
        deviceId: B256::repeat_byte(value_label),
        paramSet: 2,
        publicKey: pk(&k),
        evidence: Bytes::new(),
    };
    let e =
        expect_error::<M::InsufficientStake, _>(chain.send_value(MINER, mining, &soft(1), ONE - 1));
    assert_eq!((e.required, e.sent), (U256::from(ONE), U256::from(ONE - 1)));
    let mut bad = soft(1);
    bad.paramSet = 4;
    let e = expect_error::<M::UnsupportedParamSet, _>(chain.send_value(MINER, mining, &bad, ONE));
    assert_eq!(e.paramSet, 4);
    let mut bad = soft(1);
    bad.paramSet = 3;
    let e =
        expect_error::<M::InvalidPublicKeyLength, _>(chain.send_value(MINER, mining, &bad, ONE));
    assert_eq!(
        (e.expected, e.actual),
        (U256::from(1_952), U256::from(1_312))
    );
    let id = ok(chain.send_value(MINER, mining, &soft(1), ONE));
    let e = expect_error::<M::DeviceAlreadyRegistered, _>(chain.send_value(
        MINER,
        mining,
        &soft(1),
        ONE,
    ));
    assert_eq!((e.deviceId, e.miner), (id, MINER));
    let mut junk = soft(2);
    junk.evidence = Bytes::from_static(b"not an envelope");
    expect_error::<M::EvidenceMalformed, _>(chain.send_value(MINER, mining, &junk, ONE));
    let device = chain.view(mining, &M::deviceCall { deviceId: id });
    assert_eq!((device.miner, device.tier, device.stake), (MINER, 1, ONE));

    // Unregistering returns the stake.
    let before = chain.native_balance(MINER);
    expect_error::<M::NotDeviceOwner, _>(chain.send(
        MINER2,
        mining,
        &M::unregisterCall { deviceId: id },
    ));
    ok(chain.send(MINER, mining, &M::unregisterCall { deviceId: id }));
    assert_eq!(chain.native_balance(MINER) - before, U256::from(ONE));
    expect_error::<M::DeviceNotRegistered, _>(chain.send(
        MINER,
        mining,
        &M::unregisterCall { deviceId: id },
    ));

    // A chain without a configuration cannot register soft devices.
    let mut unknown = Chain::new(1);
    let m = unknown.mining;
    let e = expect_error::<ChainConfig::UnsupportedChain, _>(unknown.send_value(
        MINER,
        m,
        &soft(1),
        ONE,
    ));
    assert_eq!(e.chainId, U256::from(1));
}

/// GPU evidence from the test PKI: the device id it attests.
fn gpu_id(pki: &TestPki, chain: &Chain) -> B256 {
    let nonce = Nonce([0; 32]);
    let env = pki.gpu_envelope(Gpu::Hopper, &nonce).unwrap();
    let opts = poai_tee::VerifyOptions {
        freshness: poai_tee::Freshness::Nonce(nonce),
        at_unix: chain.block().1,
        reference: None,
    };
    let att = poai_tee::verify(&env.encode().unwrap(), &opts, &pki.store()).unwrap();
    B256::from(att.device_id.0)
}

fn tee_chain(pki: &TestPki) -> Chain {
    let tee = poai_precompiles::tee::TeeConfig {
        trust_store: pki.store(),
        gpu_reference: None,
    };
    Chain::with_tee(96_369, tee)
}

fn registration_nonce(chain: &mut Chain, miner: Address, device: B256, key: &SigningKey) -> Nonce {
    let mining = chain.mining;
    let n = chain.view(
        mining,
        &M::attestationNonceCall {
            miner,
            deviceId: device,
            paramSet: 2,
            publicKeyHash: keccak256(key.verifying_key().as_bytes()),
        },
    );
    Nonce(n.0)
}

#[test]
fn gpu_evidence_sets_the_tier_and_the_device_id() {
    let pki = TestPki::new().unwrap();
    let mut chain = tee_chain(&pki);
    let mining = chain.mining;
    let gpu = gpu_id(&pki, &chain);
    let k = key(50);
    let nonce = registration_nonce(&mut chain, MINER, gpu, &k);
    let evidence: Bytes = pki
        .gpu_envelope(Gpu::Hopper, &nonce)
        .unwrap()
        .encode()
        .unwrap()
        .into();
    let register = |device: B256, evidence: Bytes| M::registerMinerCall {
        deviceId: device,
        paramSet: 2,
        publicKey: pk(&k),
        evidence,
    };
    // The nonce binds the claimed id: evidence made for the GPU's id does not register another id.
    let wrong = B256::repeat_byte(1);
    expect_error::<M::AttestationRejected, _>(chain.send(
        MINER,
        mining,
        &register(wrong, evidence.clone()),
    ));
    // Evidence fresh for a wrong claimed id still names the real GPU, which differs.
    let n_wrong = registration_nonce(&mut chain, MINER, wrong, &k);
    let ev_wrong: Bytes = pki
        .gpu_envelope(Gpu::Hopper, &n_wrong)
        .unwrap()
        .encode()
        .unwrap()
        .into();
    let e = expect_error::<M::DeviceIdMismatch, _>(chain.send(
        MINER,
        mining,
        &register(wrong, ev_wrong),
    ));
    assert_eq!((e.attested, e.claimed), (gpu, wrong));
    // Failed attempts revert, so the nonce is unchanged: register with no stake (identity attested).
    let id = ok(chain.send(MINER, mining, &register(gpu, evidence.clone())));
    assert_eq!(id, gpu);
    let tier = events::<M::TierUpdated>(&chain.last_logs, mining);
    assert_eq!(
        (tier[0].gpuId, tier[0].oldTier, tier[0].newTier),
        (gpu, 0, 3)
    );
    let d = chain.view(mining, &M::deviceCall { deviceId: gpu });
    assert_eq!((d.tier, d.identityAttested, d.stake), (3, true, 0));
    // Replaying the evidence (its nonce is used) is rejected.
    expect_error::<M::AttestationRejected, _>(chain.send(MINER2, mining, &register(gpu, evidence)));
    // Fresh evidence for another miner still cannot take the registered GPU.
    let n2 = registration_nonce(&mut chain, MINER2, gpu, &k);
    let ev2: Bytes = pki
        .gpu_envelope(Gpu::Hopper, &n2)
        .unwrap()
        .encode()
        .unwrap()
        .into();
    let e = expect_error::<M::DeviceAlreadyRegistered, _>(chain.send(
        MINER2,
        mining,
        &register(gpu, ev2),
    ));
    assert_eq!(e.miner, MINER);

    // Confidential proofs mint at 1.0x.
    let mut rig = Rig {
        key: k,
        id: gpu,
        nonce: 0,
    };
    chain.advance(100, 1_200);
    let (_, now) = chain.block();
    let p = rig.proof(now, PrivacyLevel::Confidential, 10);
    assert_eq!(
        ok(send(&mut chain, &rig.submit(96_369, &p))),
        U256::from(10 * ONE)
    );
    let p = rig.proof(now + 60, PrivacyLevel::Sovereign, 1);
    let e = expect_error::<M::PrivacyLevelAboveTier, _>(send(&mut chain, &rig.submit(96_369, &p)));
    assert_eq!((e.level, e.tier), (4, 3));

    // Evidence inside a proof must be fresh for the proof's work id.
    chain.advance(1, 600);
    let (_, now) = chain.block();
    let mut p = rig.proof(now, PrivacyLevel::Confidential, 5);
    p.tee_evidence = pki
        .gpu_envelope(Gpu::Hopper, &Nonce([7; 32]))
        .unwrap()
        .encode()
        .unwrap();
    let wid = poai_crypto::proof_work_id(&p, ChainId(96_369));
    let e = expect_error::<M::ProofEvidenceRejected, _>(send(&mut chain, &rig.submit(96_369, &p)));
    assert_eq!(e.workId, B256::from(wid.0));
    p.tee_evidence = pki
        .gpu_envelope(Gpu::Hopper, &Nonce(wid.0))
        .unwrap()
        .encode()
        .unwrap();
    assert_eq!(
        ok(send(&mut chain, &rig.submit(96_369, &p))),
        U256::from(5 * ONE)
    );
}

#[test]
fn cpu_evidence_proves_a_tier_but_not_a_device() {
    let pki = TestPki::new().unwrap();
    let mut chain = tee_chain(&pki);
    let mining = chain.mining;
    let k = key(60);
    let label = B256::repeat_byte(9);
    let nonce = registration_nonce(&mut chain, MINER, label, &k);
    let evidence: Bytes = pki.cca_envelope(&nonce).unwrap().encode().unwrap().into();
    let call = M::registerMinerCall {
        deviceId: label,
        paramSet: 2,
        publicKey: pk(&k),
        evidence,
    };
    expect_error::<M::InsufficientStake, _>(chain.send(MINER, mining, &call));
    let id = ok(chain.send_value(MINER, mining, &call, ONE));
    assert_eq!(
        id,
        chain.view(
            mining,
            &M::softDeviceIdCall {
                miner: MINER,
                label
            }
        )
    );
    let d = chain.view(mining, &M::deviceCall { deviceId: id });
    assert_eq!((d.tier, d.identityAttested), (3, false));
}

#[test]
fn chain_config_multipliers_set_the_reward() {
    let mut chain = Chain::new(96_369);
    let config = chain.config;
    for id in [96_369u64, 96_368, 36_963, 36_962, 200_200, 200_201] {
        for (tier, bps) in [(1u8, 2_500u16), (2, 5_000), (3, 10_000), (4, 15_000)] {
            let got = chain.view(
                config,
                &ChainConfig::multiplierBpsCall {
                    chainId: U256::from(id),
                    tier,
                },
            );
            assert_eq!(got, bps, "chain {id} tier {tier}");
        }
    }
    let set = |tier: u8, bps: u16| ChainConfig::setTierMultiplierCall {
        chainId: U256::from(96_369),
        tier,
        bps,
    };
    expect_error::<ChainConfig::MissingRole, _>(chain.send(MINER, config, &set(1, 5_000)));
    let e = expect_error::<ChainConfig::MultiplierTooHigh, _>(chain.send(
        DEPLOYER,
        config,
        &set(1, 15_001),
    ));
    assert_eq!(e.bps, 15_001);
    let e = expect_error::<ChainConfig::InvalidTier, _>(chain.send(DEPLOYER, config, &set(5, 1)));
    assert_eq!(e.tier, 5);
    ok(chain.send(DEPLOYER, config, &set(1, 5_000)));
    let configure = |validity: u64| ChainConfig::configureChainCall {
        chainId: U256::from(7),
        name: "seven".into(),
        multipliers: [1, 2, 3, 4],
        validity,
        stake: 0,
    };
    let e = expect_error::<ChainConfig::InvalidAttestationValidity, _>(chain.send(
        DEPLOYER,
        config,
        &configure(59 * 60),
    ));
    assert_eq!(e.secs, 59 * 60);
    ok(chain.send(DEPLOYER, config, &configure(3_600)));
    assert!(chain.view(
        config,
        &ChainConfig::isSupportedCall {
            chainId: U256::from(7)
        }
    ));

    let mut rig = Rig::soft(&mut chain, MINER, 70, 1);
    chain.advance(10, 600);
    let (_, now) = chain.block();
    let p = rig.proof(now, PrivacyLevel::Public, 10);
    assert_eq!(
        ok(send(&mut chain, &rig.submit(96_369, &p))),
        U256::from(gross(10, 5_000))
    );
}

#[test]
fn reattestation_follows_the_evidence() {
    let pki = TestPki::new().unwrap();
    let mut chain = tee_chain(&pki);
    let mining = chain.mining;
    let rig = Rig::soft(&mut chain, MINER, 90, 1);
    // A soft device upgrades with CPU TEE evidence (no identity needed: it is staked).
    let k = key(90);
    let n = registration_nonce(&mut chain, MINER, rig.id, &k);
    let cca: Bytes = pki.cca_envelope(&n).unwrap().encode().unwrap().into();
    ok(chain.send(
        MINER,
        mining,
        &M::reattestCall {
            deviceId: rig.id,
            evidence: cca,
        },
    ));
    let tier = events::<M::TierUpdated>(&chain.last_logs, mining);
    assert_eq!(
        (tier[0].gpuId, tier[0].oldTier, tier[0].newTier),
        (rig.id, 1, 3)
    );
    assert_eq!(
        chain.view(mining, &M::deviceCall { deviceId: rig.id }).tier,
        3
    );
    // GPU evidence names a GPU, which is not this soft device.
    let n = registration_nonce(&mut chain, MINER, rig.id, &k);
    let gpu: Bytes = pki
        .gpu_envelope(Gpu::Hopper, &n)
        .unwrap()
        .encode()
        .unwrap()
        .into();
    let e = expect_error::<M::DeviceIdMismatch, _>(chain.send(
        MINER,
        mining,
        &M::reattestCall {
            deviceId: rig.id,
            evidence: gpu,
        },
    ));
    assert_eq!((e.attested, e.claimed), (gpu_id(&pki, &chain), rig.id));
    // Soft attestation again drops the tier back to Public.
    ok(chain.send(
        MINER,
        mining,
        &M::reattestCall {
            deviceId: rig.id,
            evidence: Bytes::new(),
        },
    ));
    let tier = events::<M::TierUpdated>(&chain.last_logs, mining);
    assert_eq!((tier[0].oldTier, tier[0].newTier), (3, 1));
}

#[test]
fn mark_spent_is_refused_to_a_contract_off_the_allow_list() {
    let mut chain = Chain::new(96_369);
    let (token, config) = (chain.token, chain.config);
    let rogue = chain.deploy(
        &M::BYTECODE,
        &M::constructorCall {
            token_: token,
            config_: config,
        }
        .abi_encode(),
    );
    assert_ne!(rogue, chain.mining);
    let minter = chain.view(token, &AIToken::MINTER_ROLECall {});
    ok(chain.send(
        DEPLOYER,
        token,
        &AIToken::grantRoleCall {
            role: minter,
            account: rogue,
        },
    ));
    let key = key(91);
    let register = M::registerMinerCall {
        deviceId: B256::repeat_byte(1),
        paramSet: 2,
        publicKey: pk(&key),
        evidence: Bytes::new(),
    };
    let id = ok(chain.send_value(MINER, rogue, &register, ONE));
    let mut rig = Rig { key, id, nonce: 0 };
    chain.advance(10, 600);
    let (_, now) = chain.block();
    let p = rig.proof(now, PrivacyLevel::Public, 1);
    let e =
        expect_error::<M::PrecompileFailed, _>(chain.send(RELAYER, rogue, &rig.submit(96_369, &p)));
    assert_eq!(e.op, 0x06, "MarkSpent");
    assert_eq!(chain.balance_of(BENEFICIARY), 0);
}

#[test]
fn default_multipliers_agree_with_the_precompiles_calculate_reward() {
    // AIMining prices proofs with ChainConfig; on every configured chain the defaults must give
    // what LP-130 CalculateReward (op 0x02) gives for the same proof.
    let mut chain = Chain::new(96_369);
    let config = chain.config;
    let ai_mining = poai_precompiles::ai_mining::ADDRESS;
    let mut rig = Rig {
        key: key(1),
        id: B256::repeat_byte(3),
        nonce: 0,
    };
    for level in [
        PrivacyLevel::Public,
        PrivacyLevel::Private,
        PrivacyLevel::Confidential,
        PrivacyLevel::Sovereign,
    ] {
        for minutes in [1u32, 7, 60] {
            let mut data = vec![poai_precompiles::ai_mining::op::CALCULATE_REWARD];
            data.extend_from_slice(&rig.proof(T0, level, minutes).encode());
            let precompile = U256::from_be_slice(&chain.raw_view(ai_mining, data));
            for chain_id in [96_369u64, 96_368, 36_963, 36_962, 200_200, 200_201] {
                let bps = chain.view(
                    config,
                    &ChainConfig::multiplierBpsCall {
                        chainId: U256::from(chain_id),
                        tier: u8::try_from(level.as_u16()).unwrap(),
                    },
                );
                let contract = gross(u128::from(minutes), u128::from(bps));
                assert_eq!(
                    precompile,
                    U256::from(contract),
                    "{level:?} {minutes} min on {chain_id}"
                );
            }
        }
    }
}
