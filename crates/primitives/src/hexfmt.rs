//! Hex parsing shared by the id newtypes and the command line.
//!
//! Accepts an optional `0x` prefix and either case; output is lower case without a prefix unless
//! a caller adds one.

use thiserror::Error;

/// Why a hex string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    /// The string is not valid hex (odd length or a non-hex character).
    #[error("not valid hex: {0}")]
    Invalid(String),
    /// The decoded bytes have the wrong length for the target type.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Bytes the target needs.
        expected: usize,
        /// Bytes the string decoded to.
        got: usize,
    },
}

/// Decodes hex with an optional `0x` prefix.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    // SIMD decoding into a buffer of the final size: `hex::decode` collects through an
    // iterator of results, which was 3 % of a validator's CPU time decoding the signatures of
    // submitted proofs (docs/PERFORMANCE.md).
    if !s.len().is_multiple_of(2) {
        return Err(HexError::Invalid(hex::FromHexError::OddLength.to_string()));
    }
    let mut out = vec![0u8; s.len() / 2];
    const_hex::decode_to_slice(s, &mut out).map_err(|e| HexError::Invalid(e.to_string()))?;
    Ok(out)
}

/// Decodes hex into exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let v = decode(s)?;
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| HexError::Length {
        expected: N,
        got: v.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_case() {
        assert_eq!(decode("0xAbCd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(decode("abcd").unwrap(), vec![0xab, 0xcd]);
        assert!(matches!(decode("abc"), Err(HexError::Invalid(_))));
        assert!(matches!(decode("0xzz"), Err(HexError::Invalid(_))));
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
        assert_eq!(
            decode_array::<3>("0102"),
            Err(HexError::Length {
                expected: 3,
                got: 2
            })
        );
    }
}
