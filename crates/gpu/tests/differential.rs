//! Differential tests: every backend that offloads work (the host-emulated kernels always; CUDA
//! where a GPU is usable) must return, for every item, exactly `poai_crypto::verify`'s result
//! (`Ok(true)`, `Ok(false)` or the same error), on Wycheproof's ML-DSA verify vectors, random
//! keys, messages and contexts, and mutated signatures, in batches mixing parameter sets.
//!
//! Environment: `POAI_WYCHEPROOF_DIR` (default ../../testdata/crypto/wycheproof from
//! this crate), `POAI_REQUIRE_GPU=1` to fail instead of skipping the CUDA runs when no GPU is
//! usable (the device machine sets it).

// Test code: a failed unwrap is a failed test; the generator's casts truncate on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use poai_crypto::{BatchItem, MlDsaError, ParamSet, SigningKey};
use poai_gpu::{ActiveBackend, Backend, GpuError, Verifier};
use serde::Deserialize;

fn wycheproof_dir() -> std::path::PathBuf {
    std::env::var_os("POAI_WYCHEPROOF_DIR").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/crypto/wycheproof")
        },
        Into::into,
    )
}

fn require_gpu() -> bool {
    std::env::var("POAI_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The verifiers under test: the emulated kernels, plus CUDA when usable.
fn verifiers() -> Vec<Verifier> {
    let mut v = vec![Verifier::emulated(0).unwrap()];
    match Verifier::new(Backend::Gpu, 0) {
        Ok(g) => {
            eprintln!(
                "CUDA device: {:?} {:?}",
                g.device_name(),
                g.compute_capability()
            );
            v.push(g);
        }
        Err(e) => {
            assert!(!require_gpu(), "POAI_REQUIRE_GPU=1 but no GPU: {e}");
            eprintln!("no usable GPU ({e}); testing the emulated kernels only");
        }
    }
    v
}

struct Owned {
    param: ParamSet,
    pk: Vec<u8>,
    msg: Vec<u8>,
    ctx: Vec<u8>,
    sig: Vec<u8>,
    label: String,
}

impl Owned {
    fn item(&self) -> BatchItem<'_> {
        BatchItem {
            param: self.param,
            public_key: &self.pk,
            tr: None,
            message: &self.msg,
            context: &self.ctx,
            signature: &self.sig,
        }
    }
}

/// Runs `cases` through every verifier, in one batch and (for the first verifier) in a few
/// sub-batches, and compares each result with `poai_crypto::verify`. Returns the CPU results.
fn check_all(cases: &[Owned]) -> Vec<Result<bool, MlDsaError>> {
    check_all_chunked(cases, None)
}

/// [`check_all`] with the verifiers' chunk limits set, to exercise multi-chunk pipelines.
fn check_all_chunked(
    cases: &[Owned],
    chunks: Option<(usize, usize)>,
) -> Vec<Result<bool, MlDsaError>> {
    let items: Vec<BatchItem<'_>> = cases.iter().map(Owned::item).collect();
    let want: Vec<Result<bool, MlDsaError>> = items
        .iter()
        .map(|i| poai_crypto::verify(i.param, i.public_key, i.message, i.context, i.signature))
        .collect();
    for v in verifiers() {
        let v = match chunks {
            Some((lo, hi)) => v.with_chunk_limits(lo, hi),
            None => v,
        };
        let got = v.verify(&items);
        assert_eq!(got.len(), items.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{} item {i} ({})", v.active(), cases[i].label);
        }
        assert_eq!(v.gpu_failures(), 0, "{:?}", v.last_gpu_error());
        // Batches of one and of a few items take the same path.
        for (i, item) in items.iter().enumerate().step_by(17) {
            assert_eq!(
                v.verify(std::slice::from_ref(item))[0],
                want[i],
                "single {i}"
            );
        }
    }
    want
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    algorithm: String,
    number_of_tests: usize,
    test_groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    public_key: String,
    tests: Vec<Test>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Test {
    tc_id: u32,
    msg: String,
    #[serde(default)]
    ctx: String,
    sig: String,
    result: String,
}

#[test]
fn wycheproof_vectors_agree() {
    let dir = wycheproof_dir();
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    let mut files = 0;
    for p in ParamSet::ALL {
        let name = format!("mldsa_{}_verify_test.json", &p.name()[7..]);
        let path = dir.join(&name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            // Wycheproof ships no ML-DSA-87 verify file in testdata; the random and
            // mutation tests cover ML-DSA-87.
            eprintln!("skipping {} (not present)", path.display());
            continue;
        };
        files += 1;
        let f: File = serde_json::from_str(&text).unwrap();
        assert_eq!(f.algorithm, p.name());
        let mut n = 0;
        for g in &f.test_groups {
            for t in &g.tests {
                n += 1;
                cases.push(Owned {
                    param: p,
                    pk: hex::decode(&g.public_key).unwrap(),
                    msg: hex::decode(&t.msg).unwrap(),
                    ctx: hex::decode(&t.ctx).unwrap(),
                    sig: hex::decode(&t.sig).unwrap(),
                    label: format!("{name} tc {}", t.tc_id),
                });
                expected.push(t.result.clone());
            }
        }
        assert_eq!(n, f.number_of_tests, "{name}");
    }
    assert!(files >= 2, "ML-DSA-44 and -65 vectors in {}", dir.display());
    let want = check_all(&cases);
    // And the CPU results are Wycheproof's (so agreement is with the right answers).
    for ((w, e), c) in want.iter().zip(&expected).zip(&cases) {
        match e.as_str() {
            "valid" => assert_eq!(w, &Ok(true), "{}", c.label),
            _ => assert_ne!(w, &Ok(true), "{}", c.label),
        }
    }
    assert!(want.iter().any(|r| r == &Ok(true)));
    assert!(want.iter().any(|r| r == &Ok(false)));
    assert!(want.iter().any(Result::is_err));
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seed() -> u64 {
    let s = std::env::var("POAI_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).unwrap();
            u64::from_le_bytes(b) | 1
        });
    eprintln!("POAI_TEST_SEED={s}");
    s
}

/// (omega, k, offset of the hint bytes, offset of z, gamma1 bits, beta) per set.
fn layout(p: ParamSet) -> (usize, usize, usize, usize, u32, u32) {
    let (omega, k, l, g1, beta, ct) = match p {
        ParamSet::MlDsa44 => (80, 4, 4, 17, 78, 32),
        ParamSet::MlDsa65 => (55, 6, 5, 19, 196, 48),
        ParamSet::MlDsa87 => (75, 8, 7, 19, 120, 64),
    };
    let zlen = 32 * (g1 as usize + 1) * l;
    (omega, k, ct + zlen, ct, g1, beta)
}

/// Writes z coefficient `j` (over all of z) as `z`, in sigDecode's packing.
fn set_z(sig: &mut [u8], p: ParamSet, j: usize, z: i64) {
    let (_, _, _, zoff, g1, _) = layout(p);
    let bits = g1 as usize + 1;
    let field = ((1i64 << g1) - z) as u64;
    for b in 0..bits {
        let bit = j * bits + b;
        let byte = &mut sig[zoff + bit / 8];
        if (field >> b) & 1 == 1 {
            *byte |= 1 << (bit % 8);
        } else {
            *byte &= !(1 << (bit % 8));
        }
    }
}

fn mutate(rng: &mut Rng, p: ParamSet, sig: &mut Vec<u8>, which: usize) -> String {
    let (omega, k, hoff, _, g1, beta) = layout(p);
    let bound = (1i64 << g1) - i64::from(beta);
    match which {
        0 => {
            let i = rng.below(sig.len() * 8);
            sig[i / 8] ^= 1 << (i % 8);
            format!("bit {i} flipped")
        }
        1 => {
            let i = hoff + rng.below(omega + k);
            sig[i] = rng.next() as u8;
            format!("hint byte {i} randomised")
        }
        2 => {
            // Hint counts: make a row end before the previous one, or past omega.
            let r = rng.below(k);
            sig[hoff + omega + r] = if rng.below(2) == 0 {
                (omega + 1 + rng.below(200)) as u8
            } else {
                sig[hoff + omega + r].saturating_sub(1 + rng.below(3) as u8)
            };
            format!("hint count row {r}")
        }
        3 => {
            // Swap two positions inside the hint list (order violation unless equal).
            let n = usize::from(sig[hoff + omega + k - 1]);
            if n >= 2 {
                let a = rng.below(n - 1);
                sig.swap(hoff + a, hoff + a + 1);
            }
            "hint positions swapped".into()
        }
        4 => {
            // Non-zero padding after the last used position.
            let n = usize::from(sig[hoff + omega + k - 1]);
            if n < omega {
                sig[hoff + n + rng.below(omega - n)] |= 1 + rng.below(255) as u8;
            }
            "hint padding non-zero".into()
        }
        5 => {
            let j = rng.below(256);
            let z = [
                bound,
                -bound,
                bound - 1,
                -(bound - 1),
                1 << g1,
                -(1i64 << g1) + 1,
            ][rng.below(6)];
            set_z(sig, p, j, z);
            format!("z[{j}] = {z}")
        }
        6 => {
            let i = rng.below(layout(p).3);
            sig[i] ^= 0x80;
            format!("c_tilde byte {i}")
        }
        7 => {
            sig.truncate(sig.len() - 1 - rng.below(3));
            "truncated".into()
        }
        _ => {
            sig.push(0);
            "one byte too long".into()
        }
    }
}

#[test]
fn random_and_mutated_items_agree() {
    let mut rng = Rng(seed());
    let mut cases = Vec::new();
    let mut unchanged = 0;
    for p in ParamSet::ALL {
        let keys: Vec<SigningKey> = (0..3)
            .map(|_| SigningKey::from_seed(p, &rng.bytes(32)).unwrap())
            .collect();
        for n in 0..28 {
            let key = &keys[n % keys.len()];
            // Up to and past 16 KiB, where mu moves from the device to the host.
            let msg_len =
                [0, 1, 32, 135, 136, 137, 200, 1000, 16_382, 16_383, 20_000][rng.below(11)];
            let msg = rng.bytes(msg_len);
            let ctx = match rng.below(4) {
                0 => {
                    let n = rng.below(256);
                    rng.bytes(n)
                }
                1 => rng.bytes(255),
                _ => Vec::new(),
            };
            let sig = key.sign(&msg, &ctx).unwrap();
            let pk = key.verifying_key().as_bytes().to_vec();
            let base = Owned {
                param: p,
                pk: pk.clone(),
                msg: msg.clone(),
                ctx: ctx.clone(),
                sig: sig.clone(),
                label: format!("{p} valid msg {msg_len} ctx {}", ctx.len()),
            };
            let mut bad = sig.clone();
            let what = mutate(&mut rng, p, &mut bad, n % 9);
            // A few mutations can be no-ops (e.g. swapping hint positions when there are fewer
            // than two); such an item is still valid.
            unchanged += usize::from(bad == sig);
            cases.push(Owned {
                sig: bad,
                label: format!("{p} mutated: {what}"),
                ..clone_owned(&base)
            });
            match n % 7 {
                0 => {
                    let mut m = msg.clone();
                    m.push(1);
                    cases.push(Owned {
                        msg: m,
                        label: format!("{p} message changed"),
                        ..clone_owned(&base)
                    });
                }
                1 => cases.push(Owned {
                    pk: keys[(n + 1) % keys.len()]
                        .verifying_key()
                        .as_bytes()
                        .to_vec(),
                    label: format!("{p} other key"),
                    ..clone_owned(&base)
                }),
                2 => cases.push(Owned {
                    ctx: vec![7; 256],
                    label: format!("{p} context too long"),
                    ..clone_owned(&base)
                }),
                3 => cases.push(Owned {
                    ctx: [ctx.clone(), vec![1]].concat(),
                    label: format!("{p} context changed"),
                    ..clone_owned(&base)
                }),
                4 => cases.push(Owned {
                    param: ParamSet::ALL
                        [(ParamSet::ALL.iter().position(|x| *x == p).unwrap() + 1) % 3],
                    label: format!("{p} item labelled with another set"),
                    ..clone_owned(&base)
                }),
                5 => cases.push(Owned {
                    pk: pk[1..].to_vec(),
                    label: format!("{p} short key"),
                    ..clone_owned(&base)
                }),
                _ => {}
            }
            cases.push(base);
        }
    }
    // Interleave parameter sets and outcomes.
    for i in (1..cases.len()).rev() {
        let j = rng.below(i + 1);
        cases.swap(i, j);
    }
    let want = check_all(&cases);
    let valid = want.iter().filter(|r| **r == Ok(true)).count();
    assert_eq!(
        valid,
        3 * 28 + unchanged,
        "every unmodified signature verifies"
    );
    assert!(
        want.iter()
            .any(|r| matches!(r, Err(MlDsaError::ContextTooLong(256))))
    );
    assert!(
        want.iter()
            .any(|r| matches!(r, Err(MlDsaError::SignatureLength { .. })))
    );
}

fn clone_owned(o: &Owned) -> Owned {
    Owned {
        param: o.param,
        pk: o.pk.clone(),
        msg: o.msg.clone(),
        ctx: o.ctx.clone(),
        sig: o.sig.clone(),
        label: o.label.clone(),
    }
}

#[test]
fn many_items_across_chunks_and_keys() {
    // More items than keys, keys repeated (deduplicated per chunk), three parameter sets, one
    // item in ten corrupted.
    let mut rng = Rng(seed());
    let keys: Vec<SigningKey> = (0..5)
        .map(|i| SigningKey::from_seed(ParamSet::ALL[i % 3], &rng.bytes(32)).unwrap())
        .collect();
    let mut cases = Vec::new();
    for n in 0..300 {
        let k = &keys[n % keys.len()];
        let len = rng.below(300);
        let msg = rng.bytes(len);
        let mut sig = k.sign(&msg, b"").unwrap();
        if n % 10 == 3 {
            let i = rng.below(sig.len());
            sig[i] ^= 1 << rng.below(8);
        }
        cases.push(Owned {
            param: k.param_set(),
            pk: k.verifying_key().as_bytes().to_vec(),
            msg,
            ctx: Vec::new(),
            sig,
            label: format!("item {n}"),
        });
    }
    // Chunks of 7 to 40 items: many chunks per parameter set, packed while others run.
    let want = check_all_chunked(&cases, Some((7, 40)));
    assert!(want.iter().filter(|r| **r == Ok(true)).count() >= 270);
}

#[test]
fn backend_selection_without_a_gpu_does_not_panic() {
    let auto = Verifier::new(Backend::Auto, 1).unwrap();
    match Verifier::new(Backend::Gpu, 1) {
        Ok(g) => {
            assert_eq!(g.active(), ActiveBackend::Cuda);
            assert!(g.device_name().is_some());
            assert_eq!(auto.active(), ActiveBackend::Cuda);
        }
        Err(e) => {
            assert!(!require_gpu(), "{e}");
            assert!(matches!(
                e,
                GpuError::DriverMissing
                    | GpuError::NvrtcMissing
                    | GpuError::NoDevice
                    | GpuError::Driver(_)
                    | GpuError::InitPanicked(_)
            ));
            assert_eq!(auto.active(), ActiveBackend::Cpu);
            assert_eq!(auto.fallback_reason(), Some(&e));
            assert_eq!(auto.device_name(), None);
        }
    }
    let cpu = Verifier::new(Backend::Cpu, 1).unwrap();
    assert_eq!(cpu.active(), ActiveBackend::Cpu);
    assert!(cpu.verify(&[]).is_empty());
    assert!(auto.verify(&[]).is_empty());
}

#[test]
fn kernels_compile_with_nvrtc_when_present() {
    if !poai_gpu::nvrtc_present() {
        assert!(!require_gpu(), "POAI_REQUIRE_GPU=1 but NVRTC not found");
        eprintln!("NVRTC not found (set LD_LIBRARY_PATH to its directory); skipped");
        return;
    }
    for cc in [None, Some((8, 0)), Some((9, 0))] {
        let ptx = poai_gpu::compile_kernels(cc).unwrap_or_else(|e| panic!("{cc:?}: {e}"));
        let text = ptx.to_src();
        for k in [
            "poai_expand_keys",
            "poai_sig_prep",
            "poai_sig_w1",
            "poai_sig_final",
        ] {
            assert!(text.contains(k), "{k} missing from the PTX for {cc:?}");
        }
    }
}
