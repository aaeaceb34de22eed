//! Reusable host staging buffers. Packing writes keys, signatures and messages straight into
//! these; on the CUDA backend they are page-locked (pinned), so uploads run at DMA speed and skip the
//! driver's bounce copy, and reusing them across batches avoids both re-pinning and the page
//! faults of fresh allocations (the first device run showed those dominating host time).

use crate::GpuError;
use std::sync::Mutex;

/// A host buffer: page-locked when a CUDA context is available, else ordinary heap memory.
pub(crate) enum HostBuf {
    /// Heap memory (the emulated backend, or when pinning fails).
    Heap(Vec<u8>),
    /// Page-locked memory of the CUDA context, zero-initialised at allocation.
    Pinned(cudarc::driver::PinnedHostSlice<u8>),
}

impl std::fmt::Debug for HostBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Heap(v) => write!(f, "HostBuf::Heap({})", v.len()),
            Self::Pinned(p) => write!(f, "HostBuf::Pinned({})", p.len()),
        }
    }
}

impl HostBuf {
    pub(crate) fn capacity(&self) -> usize {
        match self {
            Self::Heap(v) => v.len(),
            Self::Pinned(p) => p.len(),
        }
    }

    /// The first `len` bytes.
    pub(crate) fn get(&self, len: usize) -> Result<&[u8], GpuError> {
        let all = match self {
            Self::Heap(v) => v.as_slice(),
            Self::Pinned(p) => p.as_slice().map_err(|e| GpuError::Driver(e.to_string()))?,
        };
        all.get(..len).ok_or(GpuError::TooLarge)
    }

    /// The first `len` bytes, writable.
    pub(crate) fn get_mut(&mut self, len: usize) -> Result<&mut [u8], GpuError> {
        let all = match self {
            Self::Heap(v) => v.as_mut_slice(),
            Self::Pinned(p) => p
                .as_mut_slice()
                .map_err(|e| GpuError::Driver(e.to_string()))?,
        };
        all.get_mut(..len).ok_or(GpuError::TooLarge)
    }
}

/// Free buffers kept for reuse (at most `MAX_FREE`; the smallest go first).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Mutex<Vec<HostBuf>>,
}

/// Buffers a pipelined batch needs at once: four per chunk (keys, signatures, messages, mu),
/// two chunks in flight.
const MAX_FREE: usize = 8;

impl Pool {
    /// A buffer of at least `len` bytes: the smallest free one that fits, else a new one from
    /// `alloc` (rounded up to a MiB, so slightly larger later chunks still fit).
    pub(crate) fn take(
        &self,
        len: usize,
        alloc: impl FnOnce(usize) -> Result<HostBuf, GpuError>,
    ) -> Result<HostBuf, GpuError> {
        if let Ok(mut free) = self.free.lock() {
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            if let Some(i) = best {
                return Ok(free.swap_remove(i));
            }
        }
        let size = len.div_ceil(1 << 20).max(1) << 20;
        alloc(size)
    }

    /// Returns a buffer for reuse.
    pub(crate) fn give(&self, b: HostBuf) {
        if let Ok(mut free) = self.free.lock() {
            free.push(b);
            if free.len() > MAX_FREE {
                free.sort_by_key(|b| std::cmp::Reverse(b.capacity()));
                free.truncate(MAX_FREE);
            }
        }
    }
}
