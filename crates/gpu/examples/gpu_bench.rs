//! Throughput of batch ML-DSA verification: `poai_gpu::Verifier` on the chosen backend beside
//! the CPU path on 2 threads and on all threads, over the same items.
//!
//! ```text
//! gpu_bench --backend cpu|gpu|auto|emu --sizes 1000,10000,100000 --threads N \
//!           [--keys 1000] [--param 65] [--reps 3]
//! ```
//!
//! Items: `--keys` distinct keys reused round-robin, random messages of 32-200 bytes, empty
//! context, all signatures valid (the run checks that every result is `Ok(true)`). A figure is
//! the best of `--reps` timed calls of `Verifier::verify` on the whole batch, so it includes
//! host checks, hashing, packing, transfers and kernels.

use poai_crypto::{BatchItem, ParamSet, SigningKey};
use poai_gpu::{Backend, Verifier};
use rayon::prelude::*;
use std::time::Instant;

struct Args {
    backend: String,
    sizes: Vec<usize>,
    threads: usize,
    keys: usize,
    param: ParamSet,
    reps: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        backend: "auto".into(),
        sizes: vec![1000, 10_000, 100_000],
        threads: 0,
        keys: 1000,
        param: ParamSet::MlDsa65,
        reps: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => a.backend = v,
            "--sizes" => {
                a.sizes = v
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--sizes {s}: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--threads" => a.threads = v.parse().map_err(|e| format!("--threads: {e}"))?,
            "--keys" => a.keys = v.parse().map_err(|e| format!("--keys: {e}"))?,
            "--reps" => a.reps = v.parse().map_err(|e| format!("--reps: {e}"))?,
            "--param" => a.param = v.parse().map_err(|e| format!("--param: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.keys == 0 || a.reps == 0 {
        return Err("--keys and --reps must be positive".into());
    }
    Ok(a)
}

fn verifier(backend: &str, threads: usize) -> Result<Verifier, String> {
    if backend == "emu" {
        return Verifier::emulated(threads).map_err(|e| e.to_string());
    }
    let b: Backend = backend.parse().map_err(|e| format!("{e}"))?;
    Verifier::new(b, threads).map_err(|e| format!("backend {b}: {e}"))
}

/// Best verifications per second over `reps` runs; also checks every result is Ok(true).
fn measure(v: &Verifier, items: &[BatchItem<'_>], reps: usize) -> Result<f64, String> {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        let res = v.verify(items);
        let dt = t.elapsed().as_secs_f64();
        if let Some((i, r)) = res.iter().enumerate().find(|(_, r)| **r != Ok(true)) {
            return Err(format!("item {i}: {r:?}"));
        }
        best = best.min(dt);
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(items.len() as f64 / best)
}

/// One call with the device phases synchronised and timed (not part of the throughput figure).
fn phase_breakdown(v: &Verifier, items: &[BatchItem<'_>]) -> Result<String, String> {
    v.reset_timings();
    v.set_phase_timing(true);
    let res = v.verify(items);
    v.set_phase_timing(false);
    if res.iter().any(|r| *r != Ok(true)) {
        return Err("phase run: a result was not Ok(true)".into());
    }
    let t = v.timings();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    Ok(format!(
        "total {:.2} ms, precheck {:.2} ms, pack {:.2} ms, upload {:.2} ms, kernels {:.2} ms, \
         download {:.2} ms, launches {}, kernels expand/mu/prep/w1/final {:.2}/{:.2}/{:.2}/{:.2}/{:.2} ms",
        ms(t.total),
        ms(t.precheck),
        ms(t.pack),
        ms(t.device.upload),
        ms(t.device.kernels),
        ms(t.device.download),
        t.launches,
        ms(t.device.per_kernel[0]),
        ms(t.device.per_kernel[4]),
        ms(t.device.per_kernel[1]),
        ms(t.device.per_kernel[2]),
        ms(t.device.per_kernel[3]),
    ))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gpu_bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let a = parse()?;
    let max = a.sizes.iter().copied().max().unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let v = verifier(&a.backend, a.threads)?;
    println!(
        "backend={} active={} device={} cc={:?} host_threads={} cores={} fallback={:?}",
        a.backend,
        v.active(),
        v.device_name().unwrap_or("-"),
        v.compute_capability(),
        v.threads(),
        cores,
        v.fallback_reason().map(ToString::to_string),
    );

    let t = Instant::now();
    let keys: Vec<SigningKey> = (0..a.keys.min(max.max(1)))
        .into_par_iter()
        .map(|_| SigningKey::generate(a.param).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let msgs: Vec<Vec<u8>> = (0..max)
        .into_par_iter()
        .map(|_| {
            let mut len = [0u8; 1];
            getrandom::fill(&mut len).map_err(|e| e.to_string())?;
            let mut m = vec![0u8; 32 + usize::from(len[0]) % 169];
            getrandom::fill(&mut m).map_err(|e| e.to_string())?;
            Ok(m)
        })
        .collect::<Result<_, String>>()?;
    let sigs: Vec<Vec<u8>> = msgs
        .par_iter()
        .enumerate()
        .map(|(i, m)| keys[i % keys.len()].sign(m, b"").map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let items: Vec<BatchItem<'_>> = msgs
        .iter()
        .zip(&sigs)
        .enumerate()
        .map(|(i, (m, s))| {
            let k = &keys[i % keys.len()];
            BatchItem {
                param: a.param,
                public_key: k.verifying_key().as_bytes(),
                tr: None,
                message: m,
                context: b"",
                signature: s,
            }
        })
        .collect();
    println!(
        "prepared {max} {} signatures over {} keys in {:.1}s",
        a.param,
        keys.len(),
        t.elapsed().as_secs_f64()
    );

    // Warm-up (first launch loads the module and sizes local memory).
    let warm = items.len().min(1000);
    v.verify(&items[..warm]);

    let mut phases = Vec::new();
    let cpu2 = Verifier::new(Backend::Cpu, 2).map_err(|e| e.to_string())?;
    let cpu_all = Verifier::new(Backend::Cpu, 0).map_err(|e| e.to_string())?;
    println!(
        "| batch | {} verif/s | cpu 2 threads verif/s | cpu {cores} threads verif/s | speed-up vs 2 threads |",
        v.active()
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in &a.sizes {
        let batch = &items[..n.min(items.len())];
        let g = measure(&v, batch, a.reps)?;
        let c2 = measure(&cpu2, batch, a.reps)?;
        let ca = measure(&cpu_all, batch, a.reps)?;
        println!(
            "| {} | {g:.0} | {c2:.0} | {ca:.0} | {:.1}x |",
            batch.len(),
            g / c2
        );
        phases.push((batch.len(), phase_breakdown(&v, batch)?));
    }
    for (n, line) in phases {
        println!("phases n={n}: {line}");
    }
    if v.gpu_failures() > 0 {
        return Err(format!(
            "{} device launches failed (last: {:?})",
            v.gpu_failures(),
            v.last_gpu_error()
        ));
    }
    Ok(())
}
