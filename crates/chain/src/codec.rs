//! The A-chain's canonical binary encoding: transactions, blocks, receipts and stored state.
//!
//! One encoding serves hashing, signing and storage, so it must be canonical: integers are
//! fixed-width big-endian (SPEC section 1), byte strings carry a `u32` big-endian length that the
//! reader checks against a per-field maximum before allocating, enums are one tag byte, and a
//! decoder rejects trailing bytes. Decoding never panics and never allocates more than the input
//! holds.

use thiserror::Error;

/// Why bytes do not decode. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The input ends inside a field.
    #[error("`{field}` truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A length prefix above the field's maximum.
    #[error("`{field}` is {len} bytes, the maximum is {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Length claimed.
        len: usize,
        /// Length allowed.
        max: usize,
    },
    /// An enum tag that names no variant.
    #[error("`{field}` has unknown tag {tag}")]
    UnknownTag {
        /// The field.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// Bytes left over after a complete value.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// A field decodes but its value is invalid (named, with the reason).
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// Appends canonical encodings to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

/// The prefix [`Writer::bytes`] puts before `len` bytes: big-endian u32. Values built by this
/// crate are bounded far below `u32::MAX`; a longer one saturates the prefix and so fails to
/// decode rather than aliasing.
pub fn len_prefix(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets what was written, keeping the room (a writer reused for many small encodings).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian u128.
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Fixed-size bytes, no prefix.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Length-prefixed bytes ([`len_prefix`], then the bytes).
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(&len_prefix(b.len()));
        self.buf.extend_from_slice(b);
    }

    /// An optional u64: tag 0, or tag 1 and the value.
    pub fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                self.u64(x);
            }
        }
    }
}

/// Reads canonical encodings from a slice, bounded by the input and per-field maxima.
#[derive(Debug)]
pub struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len()
    }

    /// Fails unless the whole input was read.
    pub fn finish(self) -> Result<(), CodecError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes(self.input.len()))
        }
    }

    /// `n` raw bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        match self.input.split_at_checked(n) {
            Some((head, tail)) => {
                self.input = tail;
                Ok(head)
            }
            None => Err(CodecError::Truncated {
                field,
                needed: n,
                available: self.input.len(),
            }),
        }
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CodecError> {
        let head = self.take(N, field)?;
        <[u8; N]>::try_from(head).map_err(|_| CodecError::Truncated {
            field,
            needed: N,
            available: head.len(),
        })
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        Ok(u8::from_be_bytes(self.array::<1>(field)?))
    }

    /// A big-endian u16.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array::<2>(field)?))
    }

    /// A big-endian u32.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array::<4>(field)?))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.array::<8>(field)?))
    }

    /// A big-endian u128.
    pub fn u128(&mut self, field: &'static str) -> Result<u128, CodecError> {
        Ok(u128::from_be_bytes(self.array::<16>(field)?))
    }

    /// Length-prefixed bytes of at most `max` bytes.
    pub fn bytes(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        if len > max {
            return Err(CodecError::TooLong { field, len, max });
        }
        self.take(len, field)
    }

    /// An optional u64 (see [`Writer::opt_u64`]).
    pub fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, CodecError> {
        match self.u8(field)? {
            0 => Ok(None),
            1 => Ok(Some(self.u64(field)?)),
            tag => Err(CodecError::UnknownTag { field, tag }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let mut w = Writer::new();
        w.u8(7);
        w.u64(u64::MAX - 1);
        w.u128(1 << 100);
        w.bytes(b"abc");
        w.opt_u64(Some(9));
        w.opt_u64(None);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u64("b").unwrap(), u64::MAX - 1);
        assert_eq!(r.u128("c").unwrap(), 1 << 100);
        assert_eq!(r.bytes(3, "d").unwrap(), b"abc");
        assert_eq!(r.opt_u64("e").unwrap(), Some(9));
        assert_eq!(r.opt_u64("f").unwrap(), None);
        r.finish().unwrap();

        // A length prefix above the maximum is refused before anything is read or allocated.
        let mut w = Writer::new();
        w.bytes(&[0u8; 10]);
        let bytes = w.finish();
        assert_eq!(
            Reader::new(&bytes).bytes(9, "blob"),
            Err(CodecError::TooLong {
                field: "blob",
                len: 10,
                max: 9
            })
        );
        // A huge claimed length on a short input is a truncation, not an allocation.
        let huge = [0xff, 0xff, 0xff, 0xf0, 1, 2];
        assert!(matches!(
            Reader::new(&huge).bytes(usize::MAX, "blob"),
            Err(CodecError::Truncated { field: "blob", .. })
        ));
        let mut r = Reader::new(&[1, 2]);
        r.u8("x").unwrap();
        assert_eq!(r.finish(), Err(CodecError::TrailingBytes(1)));
        assert_eq!(
            Reader::new(&[2]).opt_u64("o"),
            Err(CodecError::UnknownTag { field: "o", tag: 2 })
        );
    }
}
