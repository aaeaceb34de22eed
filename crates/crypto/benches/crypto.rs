//! poai-crypto benches: ML-DSA keygen/sign/verify per parameter set for poai's API and the
//! alternatives measured in the same run (libcrux-ml-dsa, aws-lc-rs, RustCrypto ml-dsa,
//! fips204), BLAKE3 work ids, and batch verification of 10,000 ML-DSA-65 signatures on 1 and
//! 2 threads.
//!
//! Run: `cargo bench -p poai-crypto --bench crypto -- --warm-up-time 1 --measurement-time 3`
//! (figures in docs/PERFORMANCE.md). Names are `area::op/impl=.../param=...`.

// Test and bench code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poai_crypto::{BatchItem, BatchVerifier, ParamSet, SigningKey, mldsa};
use poai_primitives::{ChainId, DeviceId, Nonce};
use std::hint::black_box;

const MSG: &[u8] = &[0x5a; 130]; // about a signed work proof's size

fn param_label(p: ParamSet) -> &'static str {
    match p {
        ParamSet::MlDsa44 => "44",
        ParamSet::MlDsa65 => "65",
        ParamSet::MlDsa87 => "87",
    }
}

fn aws_alg(p: ParamSet) -> &'static aws_lc_rs::signature::PqdsaVerificationAlgorithm {
    use aws_lc_rs::signature as s;
    match p {
        ParamSet::MlDsa44 => &s::ML_DSA_44,
        ParamSet::MlDsa65 => &s::ML_DSA_65,
        ParamSet::MlDsa87 => &s::ML_DSA_87,
    }
}

fn aws_signing(p: ParamSet) -> &'static aws_lc_rs::signature::PqdsaSigningAlgorithm {
    use aws_lc_rs::signature as s;
    match p {
        ParamSet::MlDsa44 => &s::ML_DSA_44_SIGNING,
        ParamSet::MlDsa65 => &s::ML_DSA_65_SIGNING,
        ParamSet::MlDsa87 => &s::ML_DSA_87_SIGNING,
    }
}

/// RustCrypto ml-dsa: verify from bytes (decode key and signature, then verify).
fn rustcrypto_verify(p: ParamSet, pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    macro_rules! v {
        ($t:ty) => {{
            let pk = ml_dsa::EncodedVerifyingKey::<$t>::try_from(pk).unwrap();
            let sig = ml_dsa::EncodedSignature::<$t>::try_from(sig).unwrap();
            let vk = ml_dsa::VerifyingKey::<$t>::decode(&pk);
            ml_dsa::Signature::<$t>::decode(&sig)
                .is_some_and(|s| vk.verify_with_context(msg, b"", &s))
        }};
    }
    match p {
        ParamSet::MlDsa44 => v!(ml_dsa::MlDsa44),
        ParamSet::MlDsa65 => v!(ml_dsa::MlDsa65),
        ParamSet::MlDsa87 => v!(ml_dsa::MlDsa87),
    }
}

fn rustcrypto_keygen_sign(p: ParamSet, seed: &[u8; 32], msg: &[u8], sign: bool) -> usize {
    macro_rules! k {
        ($t:ty) => {{
            let seed = ml_dsa::B32::try_from(&seed[..]).unwrap();
            let kp = ml_dsa::SigningKey::<$t>::from_seed(&seed);
            if sign {
                kp.expanded_key()
                    .sign_deterministic(msg, b"")
                    .unwrap()
                    .encode()
                    .len()
            } else {
                0
            }
        }};
    }
    match p {
        ParamSet::MlDsa44 => k!(ml_dsa::MlDsa44),
        ParamSet::MlDsa65 => k!(ml_dsa::MlDsa65),
        ParamSet::MlDsa87 => k!(ml_dsa::MlDsa87),
    }
}

fn fips204_verify(p: ParamSet, pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    use fips204::traits::{SerDes, Verifier};
    macro_rules! v {
        ($m:ident) => {{
            let pk = fips204::$m::PublicKey::try_from_bytes(pk.try_into().unwrap()).unwrap();
            pk.verify(msg, sig.try_into().unwrap(), b"")
        }};
    }
    match p {
        ParamSet::MlDsa44 => v!(ml_dsa_44),
        ParamSet::MlDsa65 => v!(ml_dsa_65),
        ParamSet::MlDsa87 => v!(ml_dsa_87),
    }
}

fn fips204_keygen_sign(p: ParamSet, seed: &[u8; 32], msg: &[u8], sign: bool) -> usize {
    use fips204::traits::{KeyGen, Signer};
    macro_rules! k {
        ($m:ident) => {{
            let (_pk, sk) = fips204::$m::KG::keygen_from_seed(seed);
            if sign {
                sk.try_sign_with_seed(&[0u8; 32], msg, b"").unwrap().len()
            } else {
                0
            }
        }};
    }
    match p {
        ParamSet::MlDsa44 => k!(ml_dsa_44),
        ParamSet::MlDsa65 => k!(ml_dsa_65),
        ParamSet::MlDsa87 => k!(ml_dsa_87),
    }
}

fn mldsa(c: &mut Criterion) {
    for p in ParamSet::ALL {
        let label = param_label(p);
        let seed = [7u8; 32];
        let sk = SigningKey::from_seed(p, &seed).unwrap();
        let pk = sk.verifying_key().as_bytes().to_vec();
        let sig = sk.sign_deterministic(MSG, b"").unwrap();

        let mut g = c.benchmark_group(format!("mldsa::verify/param={label}"));
        g.bench_function("impl=poai", |b| {
            b.iter(|| mldsa::verify(p, black_box(&pk), MSG, b"", black_box(&sig)).unwrap())
        });
        // A registered device's key: tr hashed once, before (poai_crypto::mu).
        let key = sk.verifying_key().clone();
        let _ = key.tr();
        g.bench_function("impl=poai-cached-tr", |b| {
            b.iter(|| black_box(&key).verify(MSG, b"", black_box(&sig)).unwrap())
        });
        g.bench_function("impl=libcrux", |b| {
            b.iter(|| {
                mldsa::verify_with_libcrux(p, black_box(&pk), MSG, b"", black_box(&sig)).unwrap()
            })
        });
        g.bench_function("impl=aws-lc-rs", |b| {
            b.iter(|| {
                aws_lc_rs::signature::UnparsedPublicKey::new(aws_alg(p), black_box(&pk))
                    .verify(MSG, black_box(&sig))
                    .is_ok()
            })
        });
        g.bench_function("impl=rustcrypto-ml-dsa", |b| {
            b.iter(|| rustcrypto_verify(p, black_box(&pk), MSG, black_box(&sig)))
        });
        g.bench_function("impl=fips204", |b| {
            b.iter(|| fips204_verify(p, black_box(&pk), MSG, black_box(&sig)))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("mldsa::sign/param={label}"));
        g.bench_function("impl=poai", |b| {
            b.iter(|| sk.sign_deterministic(black_box(MSG), b"").unwrap())
        });
        let aws_kp = aws_lc_rs::signature::PqdsaKeyPair::from_seed(aws_signing(p), &seed).unwrap();
        let mut out = vec![0u8; p.signature_len()];
        g.bench_function("impl=aws-lc-rs", |b| {
            b.iter(|| aws_kp.sign(black_box(MSG), &mut out).unwrap())
        });
        g.bench_function("impl=rustcrypto-ml-dsa", |b| {
            b.iter(|| rustcrypto_keygen_sign(p, &seed, black_box(MSG), true))
        });
        g.bench_function("impl=fips204", |b| {
            b.iter(|| fips204_keygen_sign(p, &seed, black_box(MSG), true))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("mldsa::keygen/param={label}"));
        g.bench_function("impl=poai", |b| {
            b.iter(|| SigningKey::from_seed(p, black_box(&seed)).unwrap())
        });
        g.bench_function("impl=aws-lc-rs", |b| {
            b.iter(|| {
                aws_lc_rs::signature::PqdsaKeyPair::from_seed(aws_signing(p), black_box(&seed))
                    .unwrap()
            })
        });
        g.bench_function("impl=rustcrypto-ml-dsa", |b| {
            b.iter(|| rustcrypto_keygen_sign(p, black_box(&seed), MSG, false))
        });
        g.bench_function("impl=fips204", |b| {
            b.iter(|| fips204_keygen_sign(p, black_box(&seed), MSG, false))
        });
        g.finish();
    }
}

fn work_id(c: &mut Criterion) {
    let d = DeviceId([1; 32]);
    let n = Nonce([2; 32]);
    c.bench_function("hash::work_id", |b| {
        b.iter(|| poai_crypto::work_id(black_box(&d), black_box(&n), ChainId::LUX_C_CHAIN))
    });
}

fn batch(c: &mut Criterion) {
    const N: usize = 10_000;
    // Distinct keys, as in a block of proofs from many miners. Keys are reused in a cycle of
    // 1,000 to keep setup time reasonable; verification cost does not depend on key reuse
    // (no per-key cache).
    let keys: Vec<SigningKey> = (0..1_000u32)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            SigningKey::from_seed(ParamSet::MlDsa65, &seed).unwrap()
        })
        .collect();
    let msgs: Vec<Vec<u8>> = (0..N)
        .map(|i| (i as u64).to_be_bytes().repeat(16))
        .collect();
    let sigs: Vec<Vec<u8>> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| keys[i % keys.len()].sign(m, b"").unwrap())
        .collect();
    let items: Vec<BatchItem<'_>> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| BatchItem {
            param: ParamSet::MlDsa65,
            public_key: keys[i % keys.len()].verifying_key().as_bytes(),
            tr: None,
            message: m,
            context: b"",
            signature: &sigs[i],
        })
        .collect();
    let mut g = c.benchmark_group("batch::verify/param=65/n=10000");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    for threads in [1usize, 2] {
        let v = BatchVerifier::new(threads).unwrap();
        g.bench_with_input(BenchmarkId::new("threads", threads), &items, |b, items| {
            b.iter(|| {
                let r = v.verify(items);
                assert!(r.iter().all(|r| r == &Ok(true)));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, mldsa, work_id, batch);
criterion_main!(benches);
