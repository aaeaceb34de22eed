//! The host half of a GPU batch (FIPS 204, ML-DSA.Verify, Algorithms 3 and 8).
//!
//! Everything that decides an error, and the hint decoding check, runs here with the CPU path's
//! rules, so the device only ever sees well-formed items:
//! - lengths of key and signature and the context bound (`MlDsaError` variants, decided by
//!   [`poai_crypto::verify`] itself, so the error values are the CPU path's exactly);
//! - the hint encoding (HintBitUnpack, Algorithm 21): a failure is `Ok(false)`, as on the CPU
//!   path (the bound ||z||inf < gamma1 - beta of Algorithm 8 step 13 is checked on the device,
//!   which decodes z anyway; see docs/DESIGN-gpu.md);
//! - packing: distinct keys, signatures and M' = 0 || |ctx| || ctx || M (Algorithm 3 step 5)
//!   per item, for the device to hash into tr and mu (Algorithm 8 steps 6-7); for messages over
//!   [`HOST_MU_ABOVE`] bytes the host computes mu itself.

use crate::GpuError;
use crate::buf::{HostBuf, Pool};
use poai_crypto::mu;
use poai_crypto::{BatchItem, MAX_CONTEXT_LEN, MlDsaError, ParamSet};
use rayon::prelude::*;
use std::collections::HashMap;

/// The numbers of a parameter set that the host needs (FIPS 204 Table 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Rows of A.
    pub k: usize,
    /// Columns of A.
    pub l: usize,
    /// Maximum number of hint ones.
    pub omega: usize,
    /// log2(gamma1).
    pub gamma1_bits: u32,
    /// lambda / 4.
    pub ctilde_len: usize,
}

impl Shape {
    pub(crate) const fn of(p: ParamSet) -> Self {
        match p {
            ParamSet::MlDsa44 => Self {
                k: 4,
                l: 4,
                omega: 80,
                gamma1_bits: 17,
                ctilde_len: 32,
            },
            ParamSet::MlDsa65 => Self {
                k: 6,
                l: 5,
                omega: 55,
                gamma1_bits: 19,
                ctilde_len: 48,
            },
            ParamSet::MlDsa87 => Self {
                k: 8,
                l: 7,
                omega: 75,
                gamma1_bits: 19,
                ctilde_len: 64,
            },
        }
    }

    /// Bits per packed z coefficient.
    pub(crate) const fn z_bits(&self) -> u32 {
        self.gamma1_bits + 1
    }

    /// Bytes of one packed z polynomial.
    pub(crate) const fn zpoly_len(&self) -> usize {
        32 * self.z_bits() as usize
    }
}

/// The kernels' name for a parameter set.
pub(crate) const fn param_code(p: ParamSet) -> u32 {
    match p {
        ParamSet::MlDsa44 => 44,
        ParamSet::MlDsa65 => 65,
        ParamSet::MlDsa87 => 87,
    }
}

/// What the host decides about one item before any device work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pre {
    /// Final: a malformed item (error) or one that fails a decoding check (`Ok(false)`).
    Done(Result<bool, MlDsaError>),
    /// Well-formed: the device decides.
    Device,
}

/// The per-item checks, in the CPU path's order.
pub(crate) fn precheck(item: &BatchItem<'_>) -> Pre {
    let p = item.param;
    if item.public_key.len() != p.public_key_len()
        || item.signature.len() != p.signature_len()
        || item.context.len() > MAX_CONTEXT_LEN
    {
        // The CPU path's own length checks produce the error (they run before any crypto).
        return Pre::Done(poai_crypto::verify(
            p,
            item.public_key,
            item.message,
            item.context,
            item.signature,
        ));
    }
    let s = Shape::of(p);
    let h_start = s.ctilde_len + s.l * s.zpoly_len();
    let Some(y) = item.signature.get(h_start..) else {
        return Pre::Done(Ok(false));
    };
    if hint_is_valid(y, s.omega, s.k) {
        Pre::Device
    } else {
        Pre::Done(Ok(false))
    }
}

/// HintBitUnpack (Algorithm 21) succeeds: per row, the end index is monotone and at most omega,
/// positions within a row strictly increase, and unused position bytes are zero.
pub(crate) fn hint_is_valid(y: &[u8], omega: usize, k: usize) -> bool {
    if y.len() != omega + k {
        return false;
    }
    let mut index = 0usize;
    for i in 0..k {
        let Some(&end) = y.get(omega + i) else {
            return false;
        };
        let end = usize::from(end);
        if end < index || end > omega {
            return false;
        }
        let first = index;
        while index < end {
            if index > first {
                match (y.get(index - 1), y.get(index)) {
                    (Some(a), Some(b)) if a < b => {}
                    _ => return false,
                }
            }
            index += 1;
        }
    }
    y.get(index..omega)
        .is_some_and(|rest| rest.iter().all(|&b| b == 0))
}

/// A hasher for slice addresses: one multiply. Addresses come from the caller's allocator, not
/// from input bytes, so they need no keyed hash; a wrong guess only costs a duplicate key.
#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing; the high bits (which the table uses) mix all input bits.
        self.0 =
            (u64::try_from(n).unwrap_or(u64::MAX) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }
}

#[derive(Clone, Copy, Default)]
struct BuildAddrHasher;

impl std::hash::BuildHasher for BuildAddrHasher {
    type Hasher = AddrHasher;
    fn build_hasher(&self) -> AddrHasher {
        AddrHasher::default()
    }
}

/// Items whose M' (2 + |ctx| + |M| bytes) is longer than this get mu computed on the host: one
/// GPU thread hashes one message, so a very long one would hold up its whole launch.
pub(crate) const HOST_MU_ABOVE: usize = 16 * 1024;

/// One device launch's worth of items of one parameter set, packed for transfer.
#[derive(Debug)]
pub(crate) struct Packed {
    /// Parameter set of every item.
    pub param: ParamSet,
    /// Number of distinct keys.
    pub nkeys: usize,
    /// Index into the distinct keys of each item.
    pub key_idx: Vec<u32>,
    /// Item i's M' is `msgs[offsets[i]..offsets[i + 1]]`; empty when the host computed mu.
    pub offsets: Vec<u64>,
    /// Distinct public keys, concatenated.
    pks: HostBuf,
    /// Signatures, concatenated in item order.
    sigs: HostBuf,
    /// M' = 0 || |ctx| || ctx || M of each item, concatenated.
    msgs: HostBuf,
    /// mu of the items whose M' the host hashed (64 bytes per item; others unset).
    mu: HostBuf,
}

impl Packed {
    /// Items in this pack.
    pub(crate) fn len(&self) -> usize {
        self.key_idx.len()
    }

    /// The distinct keys, concatenated.
    pub(crate) fn pks(&self) -> Result<&[u8], GpuError> {
        self.pks.get(self.nkeys * self.param.public_key_len())
    }

    /// The signatures, concatenated.
    pub(crate) fn sigs(&self) -> Result<&[u8], GpuError> {
        self.sigs.get(self.len() * self.param.signature_len())
    }

    /// The packed M' strings (at least one byte, so the device buffer is never empty).
    pub(crate) fn msgs(&self) -> Result<&[u8], GpuError> {
        let total = self.offsets.last().copied().unwrap_or(0);
        let total = usize::try_from(total).map_err(|_| GpuError::TooLarge)?;
        self.msgs.get(total.max(1))
    }

    /// mu per item (host-computed entries only).
    pub(crate) fn mu(&self) -> Result<&[u8], GpuError> {
        self.mu.get(self.len() * 64)
    }

    /// Hands the staging buffers back to `pool`.
    pub(crate) fn recycle(self, pool: &Pool) {
        pool.give(self.pks);
        pool.give(self.sigs);
        pool.give(self.msgs);
        pool.give(self.mu);
    }
}

/// Packs the items `idx` (all of parameter set `param`, all prechecked `Pre::Device`).
///
/// Keys are deduplicated by address (the same borrowed slice): cheap and exact, and only an
/// optimisation, since a key packed twice is merely expanded twice. tr and mu are computed on
/// the device, except mu for items with very long messages ([`HOST_MU_ABOVE`]).
/// Staging buffers come from `pool`, new ones from `alloc`.
pub(crate) fn pack(
    param: ParamSet,
    items: &[BatchItem<'_>],
    idx: &[usize],
    pool: &Pool,
    alloc: &(dyn Fn(usize) -> Result<HostBuf, GpuError> + Sync),
) -> Result<Packed, GpuError> {
    let pk_len = param.public_key_len();
    let sig_len = param.signature_len();
    let n = idx.len();
    let chosen: Vec<BatchItem<'_>> = idx.iter().filter_map(|&i| items.get(i).copied()).collect();
    if chosen.len() != n {
        return Err(GpuError::TooLarge);
    }

    let mut by_addr: HashMap<usize, u32, BuildAddrHasher> =
        HashMap::with_capacity_and_hasher(n.min(1 << 14), BuildAddrHasher);
    let mut uniq: Vec<&[u8]> = Vec::new();
    let key_idx: Vec<u32> = chosen
        .iter()
        .map(|it| {
            let next = u32::try_from(uniq.len()).unwrap_or(u32::MAX);
            *by_addr
                .entry(it.public_key.as_ptr().addr())
                .or_insert_with(|| {
                    uniq.push(it.public_key);
                    next
                })
        })
        .collect();

    // M' lengths and offsets; items hashed on the host get an empty range.
    let tail = |it: &BatchItem<'_>| 2 + it.context.len() + it.message.len();
    let mut offsets = Vec::with_capacity(n + 1);
    let mut total = 0u64;
    offsets.push(0);
    for it in &chosen {
        let len = tail(it);
        if len <= HOST_MU_ABOVE {
            total += u64::try_from(len).map_err(|_| GpuError::TooLarge)?;
        }
        offsets.push(total);
    }
    let total = usize::try_from(total).map_err(|_| GpuError::TooLarge)?;

    let mut pks = pool.take(uniq.len() * pk_len, alloc)?;
    pks.get_mut(uniq.len() * pk_len)?
        .par_chunks_mut(pk_len)
        .zip(uniq.par_iter())
        .for_each(|(dst, src)| dst.copy_from_slice(src));

    let mut sigs = pool.take(n * sig_len, alloc)?;
    sigs.get_mut(n * sig_len)?
        .par_chunks_mut(sig_len)
        .zip(chosen.par_iter())
        .for_each(|(dst, it)| dst.copy_from_slice(it.signature));

    let mut msgs = pool.take(total.max(1), alloc)?;
    {
        let mut rest = msgs.get_mut(total)?;
        let mut parts: Vec<&mut [u8]> = Vec::with_capacity(n);
        for w in offsets.windows(2) {
            let len = match w {
                [a, b] => usize::try_from(b - a).map_err(|_| GpuError::TooLarge)?,
                _ => 0,
            };
            let (part, tail) = rest.split_at_mut_checked(len).ok_or(GpuError::TooLarge)?;
            parts.push(part);
            rest = tail;
        }
        parts
            .into_par_iter()
            .zip(chosen.par_iter())
            .for_each(|(dst, it)| write_m_prime(dst, it));
    }

    let mut mu = pool.take(n * 64, alloc)?;
    {
        let mu_out = mu.get_mut(n * 64)?;
        // Rare: the few items with very long messages, hashed here (tr per key, on demand).
        let mut trs: HashMap<u32, [u8; 64]> = HashMap::new();
        for ((it, &k), dst) in chosen.iter().zip(&key_idx).zip(mu_out.chunks_mut(64)) {
            if tail(it) > HOST_MU_ABOVE {
                let tr = *trs.entry(k).or_insert_with(|| mu::tr(it.public_key));
                // `precheck` answered contexts over 255 bytes itself; none reaches here.
                if let Ok(m) = mu::mu(&tr, it.context, it.message) {
                    dst.copy_from_slice(&m);
                }
            }
        }
    }
    Ok(Packed {
        param,
        nkeys: uniq.len(),
        key_idx,
        offsets,
        pks,
        sigs,
        msgs,
        mu,
    })
}

/// Writes M' = 0 || |ctx| || ctx || M (Algorithm 3 step 5; |ctx| <= 255 was checked) into
/// `dst`, which is either exactly that long or empty (mu hashed on the host).
fn write_m_prime(dst: &mut [u8], it: &BatchItem<'_>) {
    let ctx_len = u8::try_from(it.context.len()).unwrap_or(u8::MAX);
    let Some((head, body)) = dst.split_at_mut_checked(2) else {
        return;
    };
    head.copy_from_slice(&[0, ctx_len]);
    if let Some((c, m)) = body.split_at_mut_checked(it.context.len()) {
        c.copy_from_slice(it.context);
        if m.len() == it.message.len() {
            m.copy_from_slice(it.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_rules() {
        let (omega, k) = (4, 2);
        // Row 0: positions 1, 5; row 1: position 3; padding zero.
        assert!(hint_is_valid(&[1, 5, 3, 0, 2, 3], omega, k));
        // Not strictly increasing within a row.
        assert!(!hint_is_valid(&[5, 5, 3, 0, 2, 3], omega, k));
        // Across rows the order may restart.
        assert!(hint_is_valid(&[5, 6, 1, 0, 2, 3], omega, k));
        // End index decreasing.
        assert!(!hint_is_valid(&[1, 5, 3, 0, 3, 2], omega, k));
        // End index past omega.
        assert!(!hint_is_valid(&[1, 5, 3, 0, 2, 5], omega, k));
        // Non-zero padding.
        assert!(!hint_is_valid(&[1, 5, 3, 9, 2, 3], omega, k));
        // Wrong length.
        assert!(!hint_is_valid(&[1, 5, 3, 0, 2], omega, k));
    }

    #[test]
    fn packing_dedups_keys_by_address_and_lays_out_m_prime() {
        let p = ParamSet::MlDsa44;
        let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
        let a = leak(vec![1u8; p.public_key_len()]);
        let a_copy = leak(vec![1u8; p.public_key_len()]);
        let b = leak(vec![2u8; p.public_key_len()]);
        let sig = leak(vec![9u8; p.signature_len()]);
        let long = leak(vec![5u8; HOST_MU_ABOVE]);
        let item = |pk: &'static [u8], msg: &'static [u8], ctx: &'static [u8]| BatchItem {
            param: p,
            public_key: pk,
            tr: None,
            message: msg,
            context: ctx,
            signature: sig,
        };
        let items = [
            item(a, b"m", b""),
            item(b, b"msg", b"cx"),
            item(a_copy, b"", b""),
            item(a, long, b""),
            item(b, b"", b"c"),
        ];
        let pool = Pool::default();
        let heap = |n: usize| Ok(HostBuf::Heap(vec![0xAA; n]));
        for _ in 0..2 {
            // The second round reuses the first round's (dirty) buffers.
            let packed = pack(p, &items, &[0, 1, 2, 3, 4], &pool, &heap).unwrap();
            // Same address: same key; equal bytes elsewhere: a second copy (still correct).
            assert_eq!(packed.nkeys, 3);
            assert_eq!(packed.key_idx, vec![0, 1, 2, 0, 1]);
            let pks = packed.pks().unwrap();
            assert_eq!(pks.len(), 3 * p.public_key_len());
            assert_eq!(&pks[p.public_key_len()..2 * p.public_key_len()], b);
            assert_eq!(packed.sigs().unwrap(), [sig; 5].concat());
            // M' = 0 || |ctx| || ctx || M; the long item (index 3) is hashed on the host.
            assert_eq!(packed.offsets, vec![0, 3, 10, 12, 12, 15]);
            assert_eq!(
                &packed.msgs().unwrap()[..15],
                b"\x00\x00m\x00\x02cxmsg\x00\x00\x00\x01c"
            );
            let tr = mu::tr(a);
            let host_mu = packed.mu().unwrap();
            assert_eq!(&host_mu[3 * 64..4 * 64], mu::mu(&tr, b"", long).unwrap());
            packed.recycle(&pool);
        }
    }
}
