//! GPU batch verification of ML-DSA signatures (FIPS 204), with the CPU path as fallback.
//!
//! [`Verifier`] has the batch API of [`poai_crypto::BatchVerifier`]: items of any parameter set
//! mix (ML-DSA-44/65/87), keys, messages and contexts of any size, and one result per item, in
//! order, equal to what [`poai_crypto::verify`] returns for that item (`Ok(true)`, `Ok(false)`
//! or the same `MlDsaError`).
//!
//! How a batch is split (docs/DESIGN-gpu.md gives the reasons):
//! - host (`prep`): length and context checks (errors), hint decoding (`Ok(false)`), packing
//!   by parameter set (keys deduplicated, M' = 0 || |ctx| || ctx || M laid out per item);
//! - device (kernels/mldsa.cu): per distinct key ExpandA (SHAKE128 rejection sampling),
//!   NTT(t1 * 2^d) and tr = SHAKE256(pk); per item mu = SHAKE256(tr || M'), the bound on z,
//!   NTT(z), SampleInBall (SHAKE256) and NTT(c), A z - c t1 and the inverse NTT, UseHint,
//!   w1Encode, and c_tilde' = SHAKE256(mu || w1Encode(w1)) compared with c_tilde.
//!
//! Backends ([`Backend`]): `cpu` is [`poai_crypto::verify_batch`] on this verifier's own thread
//! pool; `gpu` is CUDA and fails with a named [`GpuError`] when there is no usable GPU; `auto`
//! tries CUDA and falls back to the CPU without panicking. CUDA (the driver and NVRTC) is
//! loaded at run time, so the crate builds and runs where CUDA is absent.

#![deny(clippy::indexing_slicing, clippy::panic)]

mod buf;
mod cuda;
#[cfg(feature = "emulate")]
mod emu;
mod prep;

use poai_crypto::{BatchItem, MlDsaError, ParamSet};
use rayon::prelude::*;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

pub use cuda::{compile as compile_kernels, nvrtc_present};

/// Most items per device launch: bounds device memory per launch (about 1.2 GiB for ML-DSA-87).
pub const MAX_CHUNK: usize = 1 << 17;

/// Fewest items per device launch when a batch is split (unless the batch is smaller): enough
/// threads (8192 items times k rows) to fill a large GPU.
const MIN_CHUNK: usize = 8192;

/// A batch is split into about this many chunks, so host packing overlaps device work.
const PIPELINE_DEPTH: usize = 4;

/// Batches smaller than this go to the CPU under [`Backend::Auto`]: below it the fixed cost of
/// transfers and launches exceeds the CPU's time for the whole batch.
pub const AUTO_MIN_GPU_BATCH: usize = 256;

/// Which verifier to use: the node option and the bench flag (`cpu`, `gpu`, `auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// The CPU path ([`poai_crypto::verify_batch`]).
    Cpu,
    /// CUDA; an error if no usable GPU is found.
    Gpu,
    /// CUDA when usable, else the CPU.
    #[default]
    Auto,
}

impl Backend {
    /// The option spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
            Self::Auto => "auto",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend name that is not `cpu`, `gpu` or `auto`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("backend `{0}` is not one of cpu, gpu, auto")]
pub struct BackendParseError(pub String);

impl FromStr for Backend {
    type Err = BackendParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "gpu" | "cuda" => Ok(Self::Gpu),
            "auto" => Ok(Self::Auto),
            _ => Err(BackendParseError(s.to_owned())),
        }
    }
}

/// What a [`Verifier`] actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActiveBackend {
    /// The CPU path.
    Cpu,
    /// The CUDA kernels on a GPU.
    Cuda,
    /// The CUDA kernel source compiled for the host (feature `emulate`, tests and bench only).
    Emulated,
}

impl fmt::Display for ActiveBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Emulated => "emulated",
        })
    }
}

/// Why the GPU backend is not available or failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GpuError {
    /// libcuda could not be loaded (no NVIDIA driver).
    #[error("CUDA driver library (libcuda.so) not found")]
    DriverMissing,
    /// libnvrtc could not be loaded.
    #[error("NVRTC library (libnvrtc.so.13) not found; add its directory to LD_LIBRARY_PATH")]
    NvrtcMissing,
    /// The driver reports no CUDA device.
    #[error("no CUDA device found")]
    NoDevice,
    /// A CUDA driver call failed.
    #[error("CUDA driver error: {0}")]
    Driver(String),
    /// NVRTC rejected the kernel source.
    #[error("NVRTC compilation of the kernels failed: {0}")]
    Compile(String),
    /// CUDA initialisation panicked inside the dynamic loader (a library without an expected
    /// symbol).
    #[error("CUDA initialisation panicked: {0}")]
    InitPanicked(String),
    /// A launch would exceed the 32-bit thread index space.
    #[error("batch chunk too large for one launch")]
    TooLarge,
    /// A previous launch panicked while holding the device.
    #[error("GPU state poisoned by an earlier panic")]
    Poisoned,
    /// The host thread pool could not be built.
    #[error("thread pool: {0}")]
    ThreadPool(String),
}

/// Time spent on a device launch's phases (only split when phase timing is on; otherwise all of
/// it counts as `kernels`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceTimes {
    /// Allocation and host-to-device copies.
    pub upload: Duration,
    /// The four kernels.
    pub kernels: Duration,
    /// The device-to-host copy of the verdicts.
    pub download: Duration,
    /// With phase timing: expand_keys (with tr), sig_prep, sig_w1, sig_final, mu.
    pub per_kernel: [Duration; 5],
}

/// Where an offloaded batch's time went, summed over calls (see [`Verifier::timings`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Batches offloaded.
    pub batches: u64,
    /// Device launches (chunks).
    pub launches: u64,
    /// Host checks of every item (lengths, hints, z bound).
    pub precheck: Duration,
    /// Host packing: key deduplication, tr, mu, copies. Overlaps device work.
    pub pack: Duration,
    /// Device launches, including transfers. Overlaps packing.
    pub device: DeviceTimes,
    /// Whole calls of [`Verifier::verify`] that offloaded.
    pub total: Duration,
}

enum Engine {
    Cpu,
    Cuda(cuda::CudaEngine),
    #[cfg(feature = "emulate")]
    Emulated,
}

/// A batch verifier: a host thread pool plus, when available, a GPU.
///
/// `Send + Sync`: device launches are serialised inside, so one verifier can be shared by the
/// threads of a node.
pub struct Verifier {
    pool: rayon::ThreadPool,
    engine: Engine,
    min_gpu_batch: usize,
    chunk_limits: (usize, usize),
    fallback: Option<GpuError>,
    gpu_failures: AtomicU64,
    last_gpu_error: Mutex<Option<GpuError>>,
    phases: AtomicBool,
    timings: Mutex<Timings>,
    buffers: buf::Pool,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("active", &self.active())
            .field("device", &self.device_name())
            .field("threads", &self.threads())
            .finish()
    }
}

fn pool(threads: usize) -> Result<rayon::ThreadPool, GpuError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("poai-gpu-host-{i}"))
        .build()
        .map_err(|e| GpuError::ThreadPool(e.to_string()))
}

/// Opens the CUDA backend; a panic in cudarc's lazy loader becomes [`GpuError::InitPanicked`].
fn open_cuda() -> Result<cuda::CudaEngine, GpuError> {
    match std::panic::catch_unwind(cuda::CudaEngine::new) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(GpuError::InitPanicked(msg))
        }
    }
}

impl Verifier {
    /// A verifier on `backend` with `cpu_threads` host threads (0: one per core). The host
    /// threads run the CPU path, or the host half of GPU batches.
    ///
    /// [`Backend::Gpu`] fails when no GPU is usable; [`Backend::Auto`] then falls back to the
    /// CPU (see [`Verifier::fallback_reason`]).
    pub fn new(backend: Backend, cpu_threads: usize) -> Result<Self, GpuError> {
        let pool = pool(cpu_threads)?;
        let (engine, fallback, min_gpu_batch) = match backend {
            Backend::Cpu => (Engine::Cpu, None, 0),
            Backend::Gpu => (Engine::Cuda(open_cuda()?), None, 1),
            Backend::Auto => match open_cuda() {
                Ok(e) => (Engine::Cuda(e), None, AUTO_MIN_GPU_BATCH),
                Err(e) => (Engine::Cpu, Some(e), 0),
            },
        };
        Ok(Self {
            pool,
            engine,
            min_gpu_batch,
            chunk_limits: (MIN_CHUNK, MAX_CHUNK),
            fallback,
            gpu_failures: AtomicU64::new(0),
            last_gpu_error: Mutex::new(None),
            phases: AtomicBool::new(false),
            timings: Mutex::new(Timings::default()),
            buffers: buf::Pool::default(),
        })
    }

    /// A verifier that runs the kernel source compiled for the host: the differential tests'
    /// stand-in for a GPU. Not for production (it is slower than the CPU path).
    #[cfg(feature = "emulate")]
    pub fn emulated(cpu_threads: usize) -> Result<Self, GpuError> {
        Ok(Self {
            pool: pool(cpu_threads)?,
            engine: Engine::Emulated,
            min_gpu_batch: 1,
            chunk_limits: (MIN_CHUNK, MAX_CHUNK),
            fallback: None,
            gpu_failures: AtomicU64::new(0),
            last_gpu_error: Mutex::new(None),
            phases: AtomicBool::new(false),
            timings: Mutex::new(Timings::default()),
            buffers: buf::Pool::default(),
        })
    }

    /// Sets the smallest batch sent to the device; smaller ones run on the CPU path.
    #[must_use]
    pub fn with_min_gpu_batch(mut self, n: usize) -> Self {
        self.min_gpu_batch = n;
        self
    }

    /// Sets the smallest and largest chunk a batch is split into (for tests of the chunking;
    /// the defaults suit large GPUs).
    #[doc(hidden)]
    #[must_use]
    pub fn with_chunk_limits(mut self, min: usize, max: usize) -> Self {
        self.chunk_limits = (min.max(1), max.max(min.max(1)));
        self
    }

    /// Turns on synchronisation between device phases so [`Timings::device`] is split into
    /// upload, kernels and download (costs a little throughput; for benches).
    pub fn set_phase_timing(&self, on: bool) {
        self.phases.store(on, Ordering::Relaxed);
    }

    /// Time spent per phase of offloaded batches since the last [`Verifier::reset_timings`].
    pub fn timings(&self) -> Timings {
        self.timings.lock().map(|t| *t).unwrap_or_default()
    }

    /// Zeroes [`Verifier::timings`].
    pub fn reset_timings(&self) {
        if let Ok(mut t) = self.timings.lock() {
            *t = Timings::default();
        }
    }

    /// The backend that runs.
    pub fn active(&self) -> ActiveBackend {
        match self.engine {
            Engine::Cpu => ActiveBackend::Cpu,
            Engine::Cuda(_) => ActiveBackend::Cuda,
            #[cfg(feature = "emulate")]
            Engine::Emulated => ActiveBackend::Emulated,
        }
    }

    /// The GPU's name, e.g. `NVIDIA H200`, when CUDA runs.
    pub fn device_name(&self) -> Option<&str> {
        match &self.engine {
            Engine::Cuda(e) => Some(e.name()),
            _ => None,
        }
    }

    /// The GPU's compute capability, when CUDA runs.
    pub fn compute_capability(&self) -> Option<(i32, i32)> {
        match &self.engine {
            Engine::Cuda(e) => Some(e.compute_capability()),
            _ => None,
        }
    }

    /// Why [`Backend::Auto`] fell back to the CPU, if it did.
    pub fn fallback_reason(&self) -> Option<&GpuError> {
        self.fallback.as_ref()
    }

    /// Host threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Device launches that failed at run time (their items were then verified on the CPU).
    pub fn gpu_failures(&self) -> u64 {
        self.gpu_failures.load(Ordering::Relaxed)
    }

    /// The last run-time device error, if any.
    pub fn last_gpu_error(&self) -> Option<GpuError> {
        self.last_gpu_error.lock().ok().and_then(|g| g.clone())
    }

    /// Verifies every item; result `i` belongs to item `i` and equals
    /// `poai_crypto::verify(item i)`.
    pub fn verify(&self, items: &[BatchItem<'_>]) -> Vec<Result<bool, MlDsaError>> {
        if matches!(self.engine, Engine::Cpu) || items.len() < self.min_gpu_batch {
            return self.pool.install(|| poai_crypto::verify_batch(items));
        }
        self.pool.install(|| self.verify_offloaded(items))
    }

    fn verify_offloaded(&self, items: &[BatchItem<'_>]) -> Vec<Result<bool, MlDsaError>> {
        let start = Instant::now();
        let mut times = Timings {
            batches: 1,
            ..Timings::default()
        };
        let pre: Vec<prep::Pre> = items.par_iter().map(prep::precheck).collect();
        times.precheck = start.elapsed();
        let mut out: Vec<Result<bool, MlDsaError>> = pre
            .iter()
            .map(|p| match p {
                prep::Pre::Done(r) => r.clone(),
                prep::Pre::Device => Ok(false),
            })
            .collect();
        // Chunks per parameter set. A few chunks per batch let the host pack chunk i + 1 while
        // the device runs chunk i.
        let mut chunks: Vec<(ParamSet, &[usize])> = Vec::new();
        let mut groups: Vec<(ParamSet, Vec<usize>)> = Vec::new();
        for param in ParamSet::ALL {
            let idx: Vec<usize> = pre
                .iter()
                .zip(items)
                .enumerate()
                .filter(|(_, (p, it))| **p == prep::Pre::Device && it.param == param)
                .map(|(i, _)| i)
                .collect();
            if !idx.is_empty() {
                groups.push((param, idx));
            }
        }
        for (param, idx) in &groups {
            let (lo, hi) = self.chunk_limits;
            let size = idx.len().div_ceil(PIPELINE_DEPTH).clamp(lo, hi);
            chunks.extend(idx.chunks(size).map(|c| (*param, c)));
        }
        let alloc = |n: usize| -> Result<buf::HostBuf, GpuError> {
            Ok(match &self.engine {
                Engine::Cuda(e) => e.alloc_host(n),
                _ => buf::HostBuf::Heap(vec![0; n]),
            })
        };
        let mut pending: Option<(&[usize], Result<prep::Packed, GpuError>)> = None;
        let mut next = chunks.into_iter();
        loop {
            let upcoming = next.next();
            if upcoming.is_none() && pending.is_none() {
                break;
            }
            let ((packed, pack_time), done) = rayon::join(
                || {
                    let t = Instant::now();
                    let p = upcoming
                        .map(|(param, c)| (c, prep::pack(param, items, c, &self.buffers, &alloc)));
                    (p, t.elapsed())
                },
                || {
                    pending.take().map(|(c, p)| {
                        let r = p.and_then(|p| {
                            let r = self.run_device(&p);
                            p.recycle(&self.buffers);
                            r
                        });
                        (c, r)
                    })
                },
            );
            times.pack += pack_time;
            if let Some((chunk, result)) = done {
                times.launches += 1;
                let result = result.map(|(ok, d)| {
                    times.device.upload += d.upload;
                    times.device.kernels += d.kernels;
                    times.device.download += d.download;
                    for (a, b) in times.device.per_kernel.iter_mut().zip(d.per_kernel) {
                        *a += b;
                    }
                    ok
                });
                self.apply(items, chunk, result, &mut out);
            }
            pending = packed;
        }
        times.total = start.elapsed();
        if let Ok(mut t) = self.timings.lock() {
            t.batches += times.batches;
            t.launches += times.launches;
            t.precheck += times.precheck;
            t.pack += times.pack;
            t.device.upload += times.device.upload;
            t.device.kernels += times.device.kernels;
            t.device.download += times.device.download;
            for (a, b) in t.device.per_kernel.iter_mut().zip(times.device.per_kernel) {
                *a += b;
            }
            t.total += times.total;
        }
        out
    }

    /// Writes a chunk's device results into `out`; on a device error verifies the chunk on the
    /// CPU instead, so every result stays exact, and keeps the error for the operator.
    fn apply(
        &self,
        items: &[BatchItem<'_>],
        chunk: &[usize],
        result: Result<Vec<u8>, GpuError>,
        out: &mut [Result<bool, MlDsaError>],
    ) {
        match result {
            Ok(ok) => {
                for (&i, &v) in chunk.iter().zip(&ok) {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Ok(v == 1);
                    }
                }
            }
            Err(e) => {
                self.gpu_failures.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut g) = self.last_gpu_error.lock() {
                    *g = Some(e);
                }
                let sub: Vec<BatchItem<'_>> = chunk
                    .iter()
                    .filter_map(|&i| items.get(i).copied())
                    .collect();
                for (&i, r) in chunk.iter().zip(poai_crypto::verify_batch(&sub)) {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = r;
                    }
                }
            }
        }
    }

    fn run_device(&self, p: &prep::Packed) -> Result<(Vec<u8>, DeviceTimes), GpuError> {
        match &self.engine {
            Engine::Cuda(e) => e.run(p, self.phases.load(Ordering::Relaxed)),
            #[cfg(feature = "emulate")]
            Engine::Emulated => {
                let t = Instant::now();
                let ok = emu::run(p)?;
                Ok((
                    ok,
                    DeviceTimes {
                        kernels: t.elapsed(),
                        ..DeviceTimes::default()
                    },
                ))
            }
            Engine::Cpu => Err(GpuError::NoDevice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::Cpu, Backend::Gpu, Backend::Auto] {
            assert_eq!(b.to_string().parse::<Backend>(), Ok(b));
        }
        assert_eq!(" GPU ".parse::<Backend>(), Ok(Backend::Gpu));
        assert_eq!(
            "tpu".parse::<Backend>(),
            Err(BackendParseError("tpu".into()))
        );
    }

    #[test]
    fn verifier_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Verifier>();
    }
}
