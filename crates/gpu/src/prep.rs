//! The host half of a GPU batch (FIPS 204, ML-DSA.Verify, Algorithms 3 and 8).
//!
//! Everything that decides an error, and every per-item decoding check, runs here with the CPU
//! path's rules, so the device only ever sees well-formed items:
//! - lengths of key and signature and the context bound (`MlDsaError` variants, decided by
//!   [`poai_crypto::verify`] itself, so the error values are the CPU path's exactly);
//! - the hint encoding (HintBitUnpack, Algorithm 21): a failure is `Ok(false)`, as on the CPU
//!   path (the bound ||z||inf < gamma1 - beta of Algorithm 8 step 13 is checked on the device,
//!   which decodes z anyway; see docs/DESIGN-gpu.md);
//! - tr = H(pk, 64), once per distinct key of a chunk, and mu = H(tr || 0 || |ctx| || ctx || M, 64)
//!   (Algorithm 3 step 5 with Algorithm 8 step 7), for messages of any length.

use crate::GpuError;
use crate::buf::{HostBuf, Pool};
use poai_crypto::{BatchItem, MAX_CONTEXT_LEN, MlDsaError, ParamSet};
use rayon::prelude::*;
use sha3::Shake256;
use sha3::digest::{ExtendableOutput, Update, XofReader};
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

/// SHAKE256 of the concatenation of `parts`, 64 bytes out.
pub(crate) fn shake256_64(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Shake256::default();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 64];
    h.finalize_xof().read(&mut out);
    out
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

/// One device launch's worth of items of one parameter set, packed for transfer.
#[derive(Debug)]
pub(crate) struct Packed {
    /// Parameter set of every item.
    pub param: ParamSet,
    /// Number of distinct keys.
    pub nkeys: usize,
    /// Index into the distinct keys of each item.
    pub key_idx: Vec<u32>,
    /// Distinct public keys, concatenated.
    pks: HostBuf,
    /// Signatures, concatenated in item order.
    sigs: HostBuf,
    /// mu of each item, 64 bytes each.
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

    /// mu per item.
    pub(crate) fn mu(&self) -> Result<&[u8], GpuError> {
        self.mu.get(self.len() * 64)
    }

    /// Hands the staging buffers back to `pool`.
    pub(crate) fn recycle(self, pool: &Pool) {
        pool.give(self.pks);
        pool.give(self.sigs);
        pool.give(self.mu);
    }
}

/// Packs the items `idx` (all of parameter set `param`, all prechecked `Pre::Device`).
///
/// Keys are deduplicated in two steps, both only an optimisation (a key packed twice is merely
/// expanded twice): first by address (the same borrowed slice, cheap to hash), then by tr,
/// which is computed once per distinct address anyway. The maps use std's keyed SipHash over the
/// whole 64-byte tr, so crafted keys cannot force collisions.
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
    let key_of = |i: usize| items.get(i).map_or(&[][..], |it| it.public_key);

    let mut by_addr: HashMap<usize, u32, BuildAddrHasher> =
        HashMap::with_capacity_and_hasher(idx.len().min(1 << 14), BuildAddrHasher);
    let mut addr_keys: Vec<&[u8]> = Vec::new();
    let addr_idx: Vec<u32> = idx
        .iter()
        .map(|&i| {
            let pk = key_of(i);
            let next = u32::try_from(addr_keys.len()).unwrap_or(u32::MAX);
            *by_addr.entry(pk.as_ptr().addr()).or_insert_with(|| {
                addr_keys.push(pk);
                next
            })
        })
        .collect();
    let addr_trs: Vec<[u8; 64]> = addr_keys.par_iter().map(|pk| shake256_64(&[pk])).collect();

    let mut by_tr: HashMap<&[u8; 64], u32> = HashMap::with_capacity(addr_keys.len());
    let mut uniq: Vec<(&[u8], &[u8; 64])> = Vec::new();
    let remap: Vec<u32> = addr_keys
        .iter()
        .zip(&addr_trs)
        .map(|(pk, tr)| {
            let next = u32::try_from(uniq.len()).unwrap_or(u32::MAX);
            *by_tr.entry(tr).or_insert_with(|| {
                uniq.push((pk, tr));
                next
            })
        })
        .collect();
    let key_idx: Vec<u32> = addr_idx
        .iter()
        .map(|&a| remap.get(a as usize).copied().unwrap_or(0))
        .collect();

    let mut pks = pool.take(uniq.len() * pk_len, alloc)?;
    pks.get_mut(uniq.len() * pk_len)?
        .par_chunks_mut(pk_len)
        .zip(uniq.par_iter())
        .for_each(|(dst, (src, _))| dst.copy_from_slice(src));
    let mut sigs = pool.take(idx.len() * sig_len, alloc)?;
    let mut mu = pool.take(idx.len() * 64, alloc)?;
    sigs.get_mut(idx.len() * sig_len)?
        .par_chunks_mut(sig_len)
        .zip(mu.get_mut(idx.len() * 64)?.par_chunks_mut(64))
        .zip(idx.par_iter().zip(key_idx.par_iter()))
        .for_each(|((sig_dst, mu_dst), (&i, &k))| {
            let (Some(it), Some((_, tr))) = (items.get(i), uniq.get(k as usize)) else {
                return;
            };
            sig_dst.copy_from_slice(it.signature);
            // M' = 0 || |ctx| || ctx || M (Algorithm 3 step 5); |ctx| <= 255 was checked.
            let ctx_len = u8::try_from(it.context.len()).unwrap_or(u8::MAX);
            mu_dst.copy_from_slice(&shake256_64(&[
                &tr[..],
                &[0, ctx_len],
                it.context,
                it.message,
            ]));
        });
    Ok(Packed {
        param,
        nkeys: uniq.len(),
        key_idx,
        pks,
        sigs,
        mu,
    })
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
    fn keys_deduplicate_by_address_and_content() {
        let p = ParamSet::MlDsa44;
        let a = vec![1u8; p.public_key_len()];
        let a_copy = a.clone();
        let b = vec![2u8; p.public_key_len()];
        let sig = vec![0u8; p.signature_len()];
        let item = |pk: &'static [u8]| BatchItem {
            param: p,
            public_key: pk,
            message: b"m",
            context: b"",
            signature: Box::leak(sig.clone().into_boxed_slice()),
        };
        let (a, a_copy, b): (&'static [u8], &'static [u8], &'static [u8]) = (
            Box::leak(a.into_boxed_slice()),
            Box::leak(a_copy.into_boxed_slice()),
            Box::leak(b.into_boxed_slice()),
        );
        let items = [item(a), item(b), item(a_copy), item(a), item(b)];
        let pool = Pool::default();
        let heap = |n: usize| Ok(HostBuf::Heap(vec![0xAA; n]));
        for _ in 0..2 {
            // The second round reuses the first round's (dirty) buffers.
            let packed = pack(p, &items, &[0, 1, 2, 3, 4], &pool, &heap).unwrap();
            assert_eq!(packed.nkeys, 2);
            assert_eq!(packed.key_idx, vec![0, 1, 0, 0, 1]);
            let pks = packed.pks().unwrap();
            assert_eq!(pks.len(), 2 * p.public_key_len());
            assert_eq!(&pks[..p.public_key_len()], a);
            assert_eq!(&pks[p.public_key_len()..], b);
            assert_eq!(packed.sigs().unwrap().len(), 5 * p.signature_len());
            // mu depends on the key (through tr) and the message.
            let mu = packed.mu().unwrap();
            assert_eq!(mu.len(), 5 * 64);
            assert_eq!(mu[..64], mu[128..192]);
            assert_ne!(mu[..64], mu[64..128]);
            let tr = shake256_64(&[a]);
            assert_eq!(mu[..64], shake256_64(&[&tr, &[0, 0], b"m"]));
            packed.recycle(&pool);
        }
    }
}
