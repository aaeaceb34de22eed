//! The CUDA backend: the driver API and NVRTC through `cudarc`, both loaded at run time.
//!
//! This is one of the two modules of the crate that may use `unsafe` (kernel launches are
//! `unsafe` in cudarc: the compiler cannot check a kernel's signature against its arguments).
//! Each block says why it is sound.
#![allow(unsafe_code)]

use crate::buf::HostBuf;
use crate::prep::{Packed, Shape, param_code};
use crate::{DeviceTimes, GpuError};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The kernel source, compiled by NVRTC for the device at start-up.
pub(crate) const SOURCE: &str = include_str!("../kernels/mldsa.cu");

/// Threads per block: enough warps per block for latency hiding, small enough that the
/// per-thread local arrays (1 KiB polynomials) leave room for many resident blocks.
const BLOCK: u32 = 128;

/// Whether the CUDA driver library (libcuda) can be loaded. cudarc's lazy loader panics when a
/// library is missing, so every entry point checks this first.
pub(crate) fn driver_present() -> bool {
    // SAFETY: only tries to dlopen libcuda by its usual names and closes it again; loading the
    // NVIDIA driver library runs no initialiser with preconditions on our side.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Whether NVRTC (libnvrtc.so.13 and similar names) can be loaded.
pub fn nvrtc_present() -> bool {
    // SAFETY: as in `driver_present`, a dlopen/dlclose probe of the NVRTC library.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// NVRTC's name for a compute capability; `None` leaves NVRTC's default (a PTX target that the
/// driver compiles for whatever device it has).
fn arch(cc: (i32, i32)) -> Option<&'static str> {
    Some(match cc {
        (7, 5) => "sm_75",
        (8, 0) => "sm_80",
        (8, 6) => "sm_86",
        (8, 7) => "sm_87",
        (8, 9) => "sm_89",
        (9, 0) => "sm_90",
        (10, 0) => "sm_100",
        (10, 3) => "sm_103",
        (12, 0) => "sm_120",
        (12, 1) => "sm_121",
        _ => return None,
    })
}

/// Compiles the kernel source to PTX with NVRTC (no GPU needed). Results are cached per
/// target for the life of the process (a compile takes seconds).
pub fn compile(cc: Option<(i32, i32)>) -> Result<Ptx, GpuError> {
    static CACHE: Mutex<Vec<(Option<&'static str>, Ptx)>> = Mutex::new(Vec::new());
    if !nvrtc_present() {
        return Err(GpuError::NvrtcMissing);
    }
    let target = cc.and_then(arch);
    let mut cache = CACHE.lock().map_err(|_| GpuError::Poisoned)?;
    if let Some((_, ptx)) = cache.iter().find(|(t, _)| *t == target) {
        return Ok(ptx.clone());
    }
    let ptx = compile_uncached(target)?;
    cache.push((target, ptx.clone()));
    Ok(ptx)
}

fn compile_uncached(target: Option<&'static str>) -> Result<Ptx, GpuError> {
    let opts = CompileOptions {
        arch: target,
        name: Some("mldsa.cu".into()),
        ..Default::default()
    };
    compile_ptx_with_opts(SOURCE, opts).map_err(|e| GpuError::Compile(e.to_string()))
}

struct Kernels {
    stream: Arc<CudaStream>,
    expand_keys: CudaFunction,
    mu: CudaFunction,
    sig_prep: CudaFunction,
    sig_w1: CudaFunction,
    sig_final: CudaFunction,
    _module: Arc<CudaModule>,
}

/// A CUDA device with the kernels loaded. Launches are serialised by a mutex: one batch chunk
/// at a time keeps the whole GPU busy.
pub(crate) struct CudaEngine {
    kernels: Mutex<Kernels>,
    name: String,
    cc: (i32, i32),
}

impl std::fmt::Debug for CudaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaEngine({}, sm_{}{})",
            self.name, self.cc.0, self.cc.1
        )
    }
}

fn drv(e: cudarc::driver::DriverError) -> GpuError {
    GpuError::Driver(e.to_string())
}

impl CudaEngine {
    /// Opens device 0, compiles and loads the kernels.
    pub(crate) fn new() -> Result<Self, GpuError> {
        if !driver_present() {
            return Err(GpuError::DriverMissing);
        }
        if !nvrtc_present() {
            return Err(GpuError::NvrtcMissing);
        }
        let count = CudaContext::device_count().map_err(drv)?;
        if count < 1 {
            return Err(GpuError::NoDevice);
        }
        let ctx = CudaContext::new(0).map_err(drv)?;
        let name = ctx.name().map_err(drv)?;
        let cc = ctx.compute_capability().map_err(drv)?;
        let ptx = compile(Some(cc))?;
        let module = ctx.load_module(ptx).map_err(drv)?;
        let f = |n: &str| module.load_function(n).map_err(drv);
        let kernels = Kernels {
            stream: ctx.default_stream(),
            expand_keys: f("poai_expand_keys")?,
            mu: f("poai_mu")?,
            sig_prep: f("poai_sig_prep")?,
            sig_w1: f("poai_sig_w1")?,
            sig_final: f("poai_sig_final")?,
            _module: module,
        };
        Ok(Self {
            kernels: Mutex::new(kernels),
            name,
            cc,
        })
    }

    /// A zeroed page-locked host buffer of `len` bytes; heap memory if pinning fails (correct,
    /// only slower to upload).
    pub(crate) fn alloc_host(&self, len: usize) -> HostBuf {
        let Ok(k) = self.kernels.lock() else {
            return HostBuf::Heap(vec![0; len]);
        };
        let ctx = k.stream.context();
        // SAFETY: `alloc_pinned` returns uninitialised memory; it is zeroed through the raw
        // pointer (valid for `len` bytes, just allocated, not shared) before any slice of it is
        // made, so every later `as_slice`/`as_mut_slice` views initialised bytes.
        let pinned = unsafe {
            ctx.alloc_pinned::<u8>(len).and_then(|mut p| {
                let ptr = p.as_mut_ptr()?;
                std::ptr::write_bytes(ptr, 0, len);
                Ok(p)
            })
        };
        pinned.map_or_else(|_| HostBuf::Heap(vec![0; len]), HostBuf::Pinned)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn compute_capability(&self) -> (i32, i32) {
        self.cc
    }

    /// Runs one pack; `ok[i]` is 1 where item i's challenge matches. With `phases`, the stream
    /// is synchronised after the uploads and after the kernels to time them.
    pub(crate) fn run(&self, p: &Packed, phases: bool) -> Result<(Vec<u8>, DeviceTimes), GpuError> {
        let t0 = Instant::now();
        let k = self.kernels.lock().map_err(|_| GpuError::Poisoned)?;
        let s = Shape::of(p.param);
        let n = p.len();
        let param = param_code(p.param);
        let nsig = u32::try_from(n).map_err(|_| GpuError::TooLarge)?;
        let nkeys = u32::try_from(p.nkeys).map_err(|_| GpuError::TooLarge)?;
        let st = &k.stream;

        // Slices of (normally) page-locked buffers: the driver copies them by DMA directly.
        let d_pk = st.clone_htod(p.pks()?).map_err(drv)?;
        let d_sig = st.clone_htod(p.sigs()?).map_err(drv)?;
        let mut d_mu = st.clone_htod(p.mu()?).map_err(drv)?;
        let d_msgs = st.clone_htod(p.msgs()?).map_err(drv)?;
        let d_off = st.clone_htod(&p.offsets).map_err(drv)?;
        let mut d_tr: CudaSlice<u8> = st.alloc_zeros(p.nkeys * 64).map_err(drv)?;
        let d_key = st.clone_htod(&p.key_idx).map_err(drv)?;
        let mut d_a: CudaSlice<i32> = st.alloc_zeros(p.nkeys * s.k * s.l * 256).map_err(drv)?;
        let mut d_t1: CudaSlice<i32> = st.alloc_zeros(p.nkeys * s.k * 256).map_err(drv)?;
        let mut d_zc: CudaSlice<i32> = st.alloc_zeros(n * (s.l + 1) * 256).map_err(drv)?;
        let w1_len = if p.param == poai_crypto::ParamSet::MlDsa44 {
            192
        } else {
            128
        };
        let mut d_w1: CudaSlice<u8> = st.alloc_zeros(n * s.k * w1_len).map_err(drv)?;
        let mut d_zbad: CudaSlice<u8> = st.alloc_zeros(n * s.l).map_err(drv)?;
        let mut d_ok: CudaSlice<u8> = st.alloc_zeros(n).map_err(drv)?;
        if phases {
            st.synchronize().map_err(drv)?;
        }
        let t1 = Instant::now();
        // With `phases`, each kernel is timed by synchronising after it.
        let mut per_kernel = [Duration::ZERO; 5];
        let mut last = t1;
        let mut mark = |i: usize| -> Result<(), GpuError> {
            if phases {
                st.synchronize().map_err(drv)?;
                let now = Instant::now();
                if let Some(slot) = per_kernel.get_mut(i) {
                    *slot = now - last;
                }
                last = now;
            }
            Ok(())
        };

        let threads = |units: usize| -> Result<(u32, LaunchConfig), GpuError> {
            let total = u32::try_from(units).map_err(|_| GpuError::TooLarge)?;
            Ok((
                total,
                LaunchConfig {
                    grid_dim: (total.div_ceil(BLOCK), 1, 1),
                    block_dim: (BLOCK, 1, 1),
                    shared_mem_bytes: 0,
                },
            ))
        };

        let (t_expand, c_expand) = threads(p.nkeys * (s.k * (s.l + 1) + 1))?;
        // SAFETY: the argument list matches `poai_expand_keys(u32 total, u32 param, u32 nkeys,
        // const u8 *pk, i32 *a_hat, i32 *t1_hat, u8 *tr)`; pk holds nkeys keys of this
        // parameter set, a_hat nkeys*k*l and t1_hat nkeys*k polynomials, tr nkeys*64 bytes,
        // which is all the kernel indexes for thread ids below `total`.
        unsafe {
            st.launch_builder(&k.expand_keys)
                .arg(&t_expand)
                .arg(&param)
                .arg(&nkeys)
                .arg(&d_pk)
                .arg(&mut d_a)
                .arg(&mut d_t1)
                .arg(&mut d_tr)
                .launch(c_expand)
        }
        .map_err(drv)?;
        mark(0)?;

        let (t_mu, c_mu) = threads(n)?;
        // SAFETY: matches `poai_mu(u32 total, u32 nsig, const u32 *key_idx, const u8 *tr,
        // const u8 *msgs, const u64 *off, u8 *mu)`; key_idx has nsig entries below nkeys, off
        // nsig+1 non-decreasing offsets into msgs (built by `pack`), mu 64 bytes per item.
        unsafe {
            st.launch_builder(&k.mu)
                .arg(&t_mu)
                .arg(&nsig)
                .arg(&d_key)
                .arg(&d_tr)
                .arg(&d_msgs)
                .arg(&d_off)
                .arg(&mut d_mu)
                .launch(c_mu)
        }
        .map_err(drv)?;
        mark(4)?;

        let (t_prep, c_prep) = threads(n * (s.l + 1))?;
        // SAFETY: matches `poai_sig_prep(u32 total, u32 param, u32 nsig, const u8 *sig,
        // i32 *zc_hat, u8 *zbad)`; sig holds nsig signatures of this set, zc_hat nsig*(l+1)
        // polynomials, zbad nsig*l flags.
        unsafe {
            st.launch_builder(&k.sig_prep)
                .arg(&t_prep)
                .arg(&param)
                .arg(&nsig)
                .arg(&d_sig)
                .arg(&mut d_zc)
                .arg(&mut d_zbad)
                .launch(c_prep)
        }
        .map_err(drv)?;
        mark(1)?;

        let (t_w1, c_w1) = threads(n * s.k)?;
        // SAFETY: matches `poai_sig_w1(u32 total, u32 param, u32 nsig, u32 nkeys,
        // const u32 *key_idx, const i32 *a_hat, const i32 *t1_hat, const i32 *zc_hat,
        // const u8 *sig, u8 *w1)`; every key_idx entry is below nkeys (built by `pack`), w1
        // holds nsig*k packed rows.
        unsafe {
            st.launch_builder(&k.sig_w1)
                .arg(&t_w1)
                .arg(&param)
                .arg(&nsig)
                .arg(&nkeys)
                .arg(&d_key)
                .arg(&d_a)
                .arg(&d_t1)
                .arg(&d_zc)
                .arg(&d_sig)
                .arg(&mut d_w1)
                .launch(c_w1)
        }
        .map_err(drv)?;
        mark(2)?;

        let (t_fin, c_fin) = threads(n)?;
        // SAFETY: matches `poai_sig_final(u32 total, u32 param, u32 nsig, const u8 *sig,
        // const u8 *mu, const u8 *w1, const u8 *zbad, u8 *ok)`; mu holds 64 bytes per item,
        // zbad nsig*l flags, ok one byte per item.
        unsafe {
            st.launch_builder(&k.sig_final)
                .arg(&t_fin)
                .arg(&param)
                .arg(&nsig)
                .arg(&d_sig)
                .arg(&d_mu)
                .arg(&d_w1)
                .arg(&d_zbad)
                .arg(&mut d_ok)
                .launch(c_fin)
        }
        .map_err(drv)?;
        mark(3)?;

        if phases {
            st.synchronize().map_err(drv)?;
        }
        let t2 = Instant::now();
        let ok = st.clone_dtoh(&d_ok).map_err(drv)?;
        let t3 = Instant::now();
        Ok((
            ok,
            DeviceTimes {
                upload: t1 - t0,
                kernels: t2 - t1,
                download: t3 - t2,
                per_kernel,
            },
        ))
    }
}
