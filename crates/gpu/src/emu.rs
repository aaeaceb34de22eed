//! The host-emulated backend (feature `emulate`): kernels/mldsa.cu compiled by the host C++
//! compiler (build.rs), run over the same packed buffers and the same thread-index space as the
//! CUDA launches, with the index range split over the rayon pool. It exists so that the
//! differential tests exercise the kernel code on machines without a GPU.
//!
//! The second module of the crate that may use `unsafe` (calls into the compiled C++).
#![allow(unsafe_code)]

use crate::GpuError;
use crate::prep::{Packed, Shape, param_code};
use rayon::prelude::*;

unsafe extern "C" {
    fn poai_expand_keys(
        begin: u32,
        end: u32,
        param: u32,
        nkeys: u32,
        pk: *const u8,
        a_hat: *mut i32,
        t1_hat: *mut i32,
        tr: *mut u8,
    );
    fn poai_mu(
        begin: u32,
        end: u32,
        nsig: u32,
        key_idx: *const u32,
        tr: *const u8,
        msgs: *const u8,
        off: *const u64,
        mu: *mut u8,
    );
    fn poai_sig_prep(
        begin: u32,
        end: u32,
        param: u32,
        nsig: u32,
        sig: *const u8,
        zc: *mut i32,
        zbad: *mut u8,
    );
    fn poai_sig_w1(
        begin: u32,
        end: u32,
        param: u32,
        nsig: u32,
        nkeys: u32,
        key_idx: *const u32,
        a_hat: *const i32,
        t1_hat: *const i32,
        zc_hat: *const i32,
        sig: *const u8,
        w1: *mut u8,
    );
    fn poai_sig_final(
        begin: u32,
        end: u32,
        param: u32,
        nsig: u32,
        sig: *const u8,
        mu: *const u8,
        w1: *const u8,
        zbad: *const u8,
        ok: *mut u8,
    );
}

/// A raw output pointer shared by the workers of one emulated launch.
#[derive(Clone, Copy)]
struct Out<T>(*mut T);
// SAFETY: each thread index of a kernel writes a disjoint set of elements (see the kernel
// bodies' index arithmetic), so workers running disjoint index ranges never write the same
// element, and nothing reads the buffer until the launch has finished.
unsafe impl<T> Send for Out<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Out<T> {}

impl<T> Out<T> {
    /// The pointer. A method, not a field access, so closures capture the whole `Out` (which is
    /// `Send + Sync`) rather than the bare pointer field.
    fn ptr(self) -> *mut T {
        self.0
    }
}

/// Runs `f(begin, end)` over [0, total) in parallel chunks.
fn grid(total: usize, f: impl Fn(u32, u32) + Sync + Send) {
    const CHUNK: u32 = 16;
    let Ok(total) = u32::try_from(total) else {
        return;
    };
    (0..total.div_ceil(CHUNK))
        .into_par_iter()
        .for_each(|c| f(c * CHUNK, ((c + 1) * CHUNK).min(total)));
}

/// Runs one pack through the emulated kernels; same contract as the CUDA engine's `run`.
pub(crate) fn run(p: &Packed) -> Result<Vec<u8>, GpuError> {
    let (pks, sigs, msgs) = (p.pks()?, p.sigs()?, p.msgs()?);
    let mut mu = p.mu()?.to_vec();
    let s = Shape::of(p.param);
    let n = p.len();
    let param = param_code(p.param);
    let (Ok(nsig), Ok(nkeys)) = (u32::try_from(n), u32::try_from(p.nkeys)) else {
        return Err(GpuError::TooLarge);
    };
    let w1_len = if p.param == poai_crypto::ParamSet::MlDsa44 {
        192
    } else {
        128
    };
    let mut a_hat = vec![0i32; p.nkeys * s.k * s.l * 256];
    let mut tr = vec![0u8; p.nkeys * 64];
    let mut t1_hat = vec![0i32; p.nkeys * s.k * 256];
    let mut zc = vec![0i32; n * (s.l + 1) * 256];
    let mut w1 = vec![0u8; n * s.k * w1_len];
    let mut zbad = vec![0u8; n * s.l];
    let mut ok = vec![0u8; n];

    let (a_out, t1_out) = (Out(a_hat.as_mut_ptr()), Out(t1_hat.as_mut_ptr()));
    let tr_out = Out(tr.as_mut_ptr());
    grid(p.nkeys * (s.k * (s.l + 1) + 1), |b, e| {
        // SAFETY: pk holds nkeys keys of this set and the outputs are sized as the kernel
        // indexes them (nkeys*k*l and nkeys*k polynomials, nkeys*64 tr bytes); writes are
        // disjoint per index.
        unsafe {
            poai_expand_keys(
                b,
                e,
                param,
                nkeys,
                pks.as_ptr(),
                a_out.ptr(),
                t1_out.ptr(),
                tr_out.ptr(),
            );
        }
    });
    let mu_out = Out(mu.as_mut_ptr());
    grid(n, |b, e| {
        // SAFETY: key_idx has nsig entries below nkeys, tr nkeys*64 bytes, offsets nsig+1
        // non-decreasing entries within msgs, mu 64 bytes per item (one item per index).
        unsafe {
            poai_mu(
                b,
                e,
                nsig,
                p.key_idx.as_ptr(),
                tr.as_ptr(),
                msgs.as_ptr(),
                p.offsets.as_ptr(),
                mu_out.ptr(),
            );
        }
    });
    let (zc_out, zbad_out) = (Out(zc.as_mut_ptr()), Out(zbad.as_mut_ptr()));
    grid(n * (s.l + 1), |b, e| {
        // SAFETY: sig holds nsig signatures; zc holds nsig*(l+1) polynomials, zbad nsig*l
        // flags.
        unsafe {
            poai_sig_prep(
                b,
                e,
                param,
                nsig,
                sigs.as_ptr(),
                zc_out.ptr(),
                zbad_out.ptr(),
            );
        }
    });
    let w1_out = Out(w1.as_mut_ptr());
    grid(n * s.k, |b, e| {
        // SAFETY: key_idx entries are below nkeys; the inputs were fully written by the launches
        // above (grid returns after every worker has finished); w1 holds nsig*k rows.
        unsafe {
            poai_sig_w1(
                b,
                e,
                param,
                nsig,
                nkeys,
                p.key_idx.as_ptr(),
                a_hat.as_ptr(),
                t1_hat.as_ptr(),
                zc.as_ptr(),
                sigs.as_ptr(),
                w1_out.ptr(),
            );
        }
    });
    let ok_out = Out(ok.as_mut_ptr());
    grid(n, |b, e| {
        // SAFETY: mu holds 64 bytes per item, w1 nsig*k rows, zbad nsig*l flags, ok one byte
        // per item.
        unsafe {
            poai_sig_final(
                b,
                e,
                param,
                nsig,
                sigs.as_ptr(),
                mu.as_ptr(),
                w1.as_ptr(),
                zbad.as_ptr(),
                ok_out.ptr(),
            );
        }
    });
    Ok(ok)
}
