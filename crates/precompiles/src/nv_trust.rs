//! 0x…0301 NV_TRUST: NVIDIA GPU attestation, the `INVTrust` ABI (seed 001; SPEC sections 4, 5).
//!
//! | function | input | output | gas |
//! |---|---|---|---|
//! | `verifyQuote(bytes quote)` | quote = evidence envelope ‖ nonce(32) | bool | [`BASE_GAS`] + per word + per signature |
//! | `parseQuote(bytes quote)` | same | (uint8 trustLevel, bytes32 gpuId, uint256 computeUnits) | same |
//!
//! - The quote layout is VerifyTEE's ([`crate::tee`]): the evidence must be fresh for the nonce
//!   that ends it; the caller decides what that nonce must be.
//! - Only GPU evidence counts: envelope kind NVIDIA, or composite (a GPU bound to a CPU
//!   confidential VM). Other kinds, and GPU evidence that does not verify at the block's time,
//!   give `false` and `(0, 0, 0)`. An envelope that does not decode halts.
//! - `trustLevel` is the tier (3 Confidential for Hopper, 4 Sovereign for Blackwell bound to a
//!   CPU TEE); `gpuId` is the device id (BLAKE3 of the GPU's attested key); `computeUnits` is
//!   the LP-092 compute units per hour of the GPU's chip from [`crate::PoaiConfig`]
//!   (GH100 = H100 = 1000), 0 for a chip the table lacks.
//! - Stateless: any call scheme is fine.

use crate::abi::INVTrust;
use crate::config::PoaiConfig;
use crate::error::{Halt, Result};
use crate::gas::GasMeter;
use crate::state::CallEnv;
use crate::tee;
use alloy_primitives::{Address, B256, U256, address};
use alloy_sol_types::SolCall;
use poai_tee::{Attestation, Envelope};

/// The precompile's address.
pub const ADDRESS: Address = address!("0000000000000000000000000000000000000301");
/// Gas floor of both functions (seed 001).
pub const BASE_GAS: u64 = 50_000;

/// What `parseQuote` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParsedQuote {
    /// Tier 1..=4, 0 if the quote did not verify.
    pub trust_level: u8,
    /// The GPU's device id.
    pub gpu_id: B256,
    /// Compute units per hour (LP-092).
    pub compute_units: u64,
}

/// Runs a call to 0x0301.
pub fn run(
    input: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    config: &PoaiConfig,
) -> Result<Vec<u8>> {
    let selector = input.get(..4).ok_or(Halt::Truncated {
        field: "selector",
        needed: 4,
        available: input.len(),
    })?;
    match <[u8; 4]>::try_from(selector).unwrap_or_default() {
        INVTrust::verifyQuoteCall::SELECTOR => {
            let call = crate::abi::decode::<INVTrust::verifyQuoteCall>(input, "verifyQuote")?;
            let parsed = parse_quote(&call.quote, env, gas, config)?;
            Ok(INVTrust::verifyQuoteCall::abi_encode_returns(
                &(parsed.trust_level != 0),
            ))
        }
        INVTrust::parseQuoteCall::SELECTOR => {
            let call = crate::abi::decode::<INVTrust::parseQuoteCall>(input, "parseQuote")?;
            let p = parse_quote(&call.quote, env, gas, config)?;
            Ok(INVTrust::parseQuoteCall::abi_encode_returns(
                &INVTrust::parseQuoteReturn {
                    trustLevel: p.trust_level,
                    gpuId: p.gpu_id,
                    computeUnits: U256::from(p.compute_units),
                },
            ))
        }
        _ => Err(Halt::UnknownSelector(crate::ai_mining::hex_of(selector), "INVTrust").into()),
    }
}

/// The GPU part of a verified attestation: itself for NVIDIA evidence, its GPU half for
/// composite evidence.
fn gpu_part(att: &Attestation) -> &Attestation {
    att.facts.gpu.as_deref().unwrap_or(att)
}

/// The chip name ("GH100") from an architecture fact ("hopper GH100").
pub fn chip(architecture: &str) -> &str {
    architecture.split_whitespace().last().unwrap_or_default()
}

/// Verifies a quote and reads the GPU's tier, id and compute units.
pub fn parse_quote(
    quote: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    config: &PoaiConfig,
) -> Result<ParsedQuote> {
    let (evidence, nonce) = tee::split_quote(quote)?;
    let envelope = tee::decode(evidence)?;
    gas.charge(tee::gas(
        BASE_GAS,
        evidence.len(),
        tee::signatures(&envelope),
    ))?;
    if !matches!(
        envelope,
        Envelope::Nvidia { .. } | Envelope::Composite { .. }
    ) {
        return Ok(ParsedQuote::default());
    }
    let Ok(att) = tee::verify(&envelope, nonce, env.timestamp, &config.tee) else {
        return Ok(ParsedQuote::default());
    };
    let gpu = gpu_part(&att);
    Ok(ParsedQuote {
        trust_level: u8::try_from(att.tier.as_u16()).unwrap_or_default(),
        gpu_id: B256::from(gpu.device_id.0),
        compute_units: config
            .compute_units
            .get(chip(&gpu.facts.architecture))
            .copied()
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;
    use poai_primitives::ChainId;

    fn env() -> CallEnv {
        CallEnv {
            caller: Address::ZERO,
            is_static: true,
            delegated: true,
            chain_id: ChainId(96_369),
            timestamp: 1_700_000_000,
        }
    }

    fn call(input: &[u8]) -> (Result<Vec<u8>>, u64) {
        let mut gas = GasMeter::new(10_000_000);
        let r = run(input, &env(), &mut gas, &PoaiConfig::default());
        (r, gas.used())
    }

    #[test]
    fn chip_names() {
        for (arch, chip_name) in [
            ("hopper GH100", "GH100"),
            ("blackwell GB100", "GB100"),
            ("none", "none"),
            ("", ""),
        ] {
            assert_eq!(chip(arch), chip_name);
        }
        assert_eq!(
            PoaiConfig::default().compute_units.get("GH100"),
            Some(&1_000)
        );
    }

    #[test]
    fn soft_attestation_is_not_gpu_evidence() {
        let mut quote = Envelope::None.encode().unwrap();
        quote.extend_from_slice(&[0u8; 32]);
        let verify = INVTrust::verifyQuoteCall {
            quote: quote.clone().into(),
        }
        .abi_encode();
        let (out, used) = call(&verify);
        assert_eq!(out.unwrap(), crate::state::bool_word(false).to_vec());
        assert_eq!(used, tee::gas(BASE_GAS, quote.len() - 32, 0));
        let parse = INVTrust::parseQuoteCall {
            quote: quote.into(),
        }
        .abi_encode();
        let out = call(&parse).0.unwrap();
        assert_eq!(out, vec![0u8; 96]);
    }

    #[test]
    fn malformed_quotes_halt() {
        let cases: [(&str, Vec<u8>); 3] = [
            ("too_short_for_nonce", vec![1, 2, 3]),
            ("bad_magic", {
                let mut q = b"XXXX".to_vec();
                q.extend_from_slice(&[0; 32]);
                q
            }),
            ("nonce_only", vec![0u8; 32]),
        ];
        for (name, quote) in cases {
            let data = INVTrust::verifyQuoteCall {
                quote: quote.into(),
            }
            .abi_encode();
            assert!(matches!(call(&data).0, Err(Failure::Halt(_))), "{name}");
        }
        assert!(matches!(
            call(&[0xff, 0, 0, 0]).0,
            Err(Failure::Halt(Halt::UnknownSelector(..)))
        ));
    }
}
