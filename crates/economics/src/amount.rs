//! AI amounts as text (SPEC section 1: integers in wei, 18 decimals).
//!
//! - [`format_ai`] / [`parse_ai`]: decimal AI, e.g. `"7.14"` for 7,140,000,000,000,000,000 wei.
//!   Exact both ways; at most 18 fractional digits; no sign, exponent or separators.
//! - [`wei_string`]: the serde form of wei amounts, a canonical decimal string
//!   (`"7140000000000000000"`). JSON numbers above 2^53 are rounded by JavaScript and by many
//!   tools (jq before 1.7), which would silently corrupt amounts, so they are written as strings;
//!   integers are still accepted on input.

use crate::error::{EconomicsError, Result};
use crate::{DECIMALS, ONE_AI};

/// Longest text [`parse_ai`] looks at: 39 integer digits (u128), a point and 18 decimals, with
/// slack. Longer input is refused before any work.
const MAX_AI_TEXT: usize = 64;
/// Decimal digits of `u128::MAX`.
const MAX_WEI_DIGITS: usize = 39;

/// `wei` as decimal AI, without trailing zeros: `"98"`, `"7.14"`, `"0.000000000000000001"`.
pub fn format_ai(wei: u128) -> String {
    let whole = wei / ONE_AI;
    let frac = wei % ONE_AI;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:018}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses decimal AI (`"100"`, `"7.14"`, `"0.5"`) into wei, exactly.
pub fn parse_ai(text: &str) -> Result<u128> {
    const FIELD: &str = "AI amount";
    let invalid = |reason| EconomicsError::InvalidAmount {
        field: FIELD,
        reason,
    };
    if text.len() > MAX_AI_TEXT {
        return Err(invalid("too long"));
    }
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if !all_digits(whole) {
        return Err(invalid(
            "the integer part must be one or more decimal digits",
        ));
    }
    if text.contains('.') && !all_digits(frac) {
        return Err(invalid(
            "the fraction after the point must be one or more decimal digits",
        ));
    }
    let decimals = usize::try_from(DECIMALS).map_err(|_| invalid("too many decimals"))?;
    if frac.len() > decimals {
        return Err(invalid("more than 18 decimals"));
    }
    let overflow = || invalid("larger than 2^128 − 1 wei");
    let whole_wei = whole
        .parse::<u128>()
        .map_err(|_| overflow())?
        .checked_mul(ONE_AI)
        .ok_or_else(overflow)?;
    let frac_wei = if frac.is_empty() {
        0
    } else {
        // Right-pad to 18 digits: "14" is 0.14 AI = 140000000000000000 wei.
        let scale = u32::try_from(decimals.saturating_sub(frac.len()))
            .ok()
            .and_then(|p| 10u128.checked_pow(p))
            .ok_or_else(overflow)?;
        frac.parse::<u128>()
            .map_err(|_| overflow())?
            .checked_mul(scale)
            .ok_or_else(overflow)?
    };
    whole_wei.checked_add(frac_wei).ok_or_else(overflow)
}

/// Parses a canonical decimal wei string: digits only, no leading zeros (except `"0"`).
pub fn parse_wei(text: &str, field: &'static str) -> Result<u128> {
    let invalid = |reason| EconomicsError::InvalidAmount { field, reason };
    if text.len() > MAX_WEI_DIGITS {
        return Err(invalid("more than 39 digits"));
    }
    if !all_digits(text) {
        return Err(invalid("wei must be one or more decimal digits"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(invalid("leading zero"));
    }
    text.parse::<u128>()
        .map_err(|_| invalid("larger than 2^128 − 1"))
}

/// Non-empty and ASCII digits only (`str::parse` alone would also take a leading `+`).
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Serde form of a wei amount: a decimal string out; a decimal string or an integer in.
/// Use as `#[serde(with = "poai_economics::amount::wei_string")]`.
pub mod wei_string {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    /// Writes `wei` as a decimal string.
    pub fn serialize<S: Serializer>(wei: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(wei)
    }

    /// Reads a decimal string (canonical, at most 39 digits) or a non-negative integer.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        deserializer.deserialize_any(WeiVisitor)
    }

    struct WeiVisitor;

    impl Visitor<'_> for WeiVisitor {
        type Value = u128;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount in wei: a decimal string or a non-negative integer")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u128, E> {
            super::parse_wei(v, "wei").map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
            Ok(u128::from(v))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_table() {
        let cases: [(&str, u128, &str); 6] = [
            ("zero", 0, "0"),
            ("one wei", 1, "0.000000000000000001"),
            ("initial subsidy", 7_140_000_000_000_000_000, "7.14"),
            ("miner share", 98 * ONE_AI, "98"),
            ("mining cap", 900_000_000 * ONE_AI, "900000000"),
            (
                "u128 max",
                u128::MAX,
                "340282366920938463463.374607431768211455",
            ),
        ];
        for (name, wei, text) in cases {
            assert_eq!(format_ai(wei), text, "{name}");
            assert_eq!(parse_ai(text).unwrap(), wei, "{name}");
        }
    }

    #[test]
    fn parse_refusals() {
        let cases = [
            ("empty", ""),
            ("sign", "+1"),
            ("negative", "-1"),
            ("no integer part", ".5"),
            ("bare point", "1."),
            ("two points", "1.2.3"),
            ("exponent", "1e18"),
            ("separator", "1_000"),
            ("space", " 1"),
            ("19 decimals", "0.0000000000000000001"),
            ("too large", "340282366920938463464"),
            (
                "very long",
                "1111111111111111111111111111111111111111111111111111111111111111111",
            ),
        ];
        for (name, text) in cases {
            assert!(
                matches!(parse_ai(text), Err(EconomicsError::InvalidAmount { .. })),
                "{name}: {text:?}"
            );
        }
    }

    #[test]
    fn parse_wei_is_canonical() {
        assert_eq!(parse_wei("0", "x").unwrap(), 0);
        assert_eq!(parse_wei(&u128::MAX.to_string(), "x").unwrap(), u128::MAX);
        for bad in [
            "",
            "01",
            "+1",
            "1.0",
            "340282366920938463463374607431768211456",
        ] {
            assert!(parse_wei(bad, "x").is_err(), "{bad:?}");
        }
    }
}
