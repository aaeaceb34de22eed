//! The TEE evidence envelope (SPEC section 5): one versioned, strict container for every kind
//! of evidence, at most 64 KiB.
//!
//! | bytes | field | notes |
//! |---|---|---|
//! | 0..4 | magic | `PTEE` |
//! | 4 | version | 1 |
//! | 5 | kind | [`EvidenceKind`] byte |
//! | 6 | field count | per kind, below |
//! | 7.. | fields | each `u32be length ‖ bytes` |
//!
//! | kind | byte | fields |
//! |---|---|---|
//! | none | 0 | none (soft attestation) |
//! | NVIDIA SPDM | 1 | SPDM GET_MEASUREMENTS request ‖ MEASUREMENTS response; then the DER certificates, leaf first (1..=8) |
//! | Intel TDX | 2 | DCAP quote; collateral (dcap-qvl `QuoteCollateralV3` JSON) |
//! | Intel SGX | 3 | DCAP quote; collateral |
//! | AMD SEV-SNP | 4 | report (1184 bytes); VCEK or VLEK (DER); optionally ASK/ASVK and ARK (DER) |
//! | Arm CCA | 5 | CBOR token (tag 399 or 907 collection) |
//! | composite | 6 | GPU envelope (kind 1); CPU confidential-VM envelope (kind 2, 4 or 5) |
//!
//! The kind byte only routes parsing: the verifier checks it against what the evidence proves
//! (the quote's TEE type, the certificates), never trusts it for the tier. Decoding is strict:
//! no trailing bytes, no empty fields, counts checked, lengths checked against what remains
//! before anything is allocated, so `decode(b) == Ok(e)` implies `encode(e) == b`.

use crate::error::TeeError;
use serde::{Deserialize, Serialize};

/// Largest envelope accepted (SPEC sections 2 and 5).
pub const MAX_ENVELOPE_LEN: usize = 64 * 1024;
/// Envelope magic.
pub const MAGIC: &[u8; 4] = b"PTEE";
/// Envelope format version.
pub const VERSION: u8 = 1;
/// Most certificates accepted in an NVIDIA chain field list (the chain must be 5; more are
/// decoded so that a 6-certificate chain is reported as a chain-length error).
pub const MAX_CHAIN_CERTS: usize = 8;
const HEADER_LEN: usize = 7;

/// What kind of evidence an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum EvidenceKind {
    /// No TEE: stake-based soft attestation.
    None = 0,
    /// NVIDIA GPU: SPDM 1.1 measurements signed by the GPU's device key.
    Nvidia = 1,
    /// Intel TDX DCAP quote.
    Tdx = 2,
    /// Intel SGX DCAP quote.
    Sgx = 3,
    /// AMD SEV-SNP attestation report.
    Snp = 4,
    /// Arm CCA attestation token.
    Cca = 5,
    /// A GPU report bound into a CPU confidential-VM quote.
    Composite = 6,
}

impl EvidenceKind {
    /// The wire byte (also the kind byte of the nonce binding).
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// A short lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Nvidia => "nvidia",
            Self::Tdx => "tdx",
            Self::Sgx => "sgx",
            Self::Snp => "snp",
            Self::Cca => "cca",
            Self::Composite => "composite",
        }
    }
}

impl TryFrom<u8> for EvidenceKind {
    type Error = TeeError;
    fn try_from(b: u8) -> Result<Self, TeeError> {
        Ok(match b {
            0 => Self::None,
            1 => Self::Nvidia,
            2 => Self::Tdx,
            3 => Self::Sgx,
            4 => Self::Snp,
            5 => Self::Cca,
            6 => Self::Composite,
            other => return Err(TeeError::EnvelopeKind(other)),
        })
    }
}

impl std::fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Decoded evidence, one variant per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// Soft attestation: nothing to verify.
    None,
    /// NVIDIA GPU evidence.
    Nvidia {
        /// GET_MEASUREMENTS request (37 bytes) followed by the MEASUREMENTS response.
        spdm: Vec<u8>,
        /// DER certificates, leaf first.
        chain: Vec<Vec<u8>>,
    },
    /// Intel TDX quote and collateral.
    Tdx {
        /// DCAP quote (v4 or v5).
        quote: Vec<u8>,
        /// Collateral as dcap-qvl `QuoteCollateralV3` JSON.
        collateral: Vec<u8>,
    },
    /// Intel SGX quote and collateral.
    Sgx {
        /// DCAP quote (v3, v4 or v5).
        quote: Vec<u8>,
        /// Collateral as dcap-qvl `QuoteCollateralV3` JSON.
        collateral: Vec<u8>,
    },
    /// AMD SEV-SNP report and endorsement key.
    Snp {
        /// The 1184-byte attestation report.
        report: Vec<u8>,
        /// VCEK or VLEK certificate (DER).
        vek: Vec<u8>,
        /// Optional ASK (or ASVK) and ARK (DER); if present they must be the pinned ones.
        ca: Option<(Vec<u8>, Vec<u8>)>,
    },
    /// Arm CCA token.
    Cca {
        /// CBOR token.
        token: Vec<u8>,
    },
    /// GPU evidence bound to a CPU confidential-VM quote.
    Composite {
        /// The GPU envelope (kind NVIDIA).
        gpu: Box<Envelope>,
        /// The CPU envelope (kind TDX, SNP or CCA).
        cpu: Box<Envelope>,
    },
}

impl Envelope {
    /// The kind of this evidence.
    pub fn kind(&self) -> EvidenceKind {
        match self {
            Self::None => EvidenceKind::None,
            Self::Nvidia { .. } => EvidenceKind::Nvidia,
            Self::Tdx { .. } => EvidenceKind::Tdx,
            Self::Sgx { .. } => EvidenceKind::Sgx,
            Self::Snp { .. } => EvidenceKind::Snp,
            Self::Cca { .. } => EvidenceKind::Cca,
            Self::Composite { .. } => EvidenceKind::Composite,
        }
    }

    /// Encodes the envelope. Fails only if it would exceed [`MAX_ENVELOPE_LEN`] or a field is
    /// empty, so that every encoded envelope decodes.
    pub fn encode(&self) -> Result<Vec<u8>, TeeError> {
        let nested;
        let fields: Vec<&[u8]> = match self {
            Self::None => Vec::new(),
            Self::Nvidia { spdm, chain } => {
                if chain.is_empty() || chain.len() > MAX_CHAIN_CERTS {
                    return Err(TeeError::EnvelopeFieldCount {
                        kind: "nvidia",
                        expected: MAX_CHAIN_CERTS + 1,
                        got: chain.len() + 1,
                    });
                }
                std::iter::once(spdm.as_slice())
                    .chain(chain.iter().map(Vec::as_slice))
                    .collect()
            }
            Self::Tdx { quote, collateral } | Self::Sgx { quote, collateral } => {
                vec![quote.as_slice(), collateral.as_slice()]
            }
            Self::Snp { report, vek, ca } => match ca {
                None => vec![report.as_slice(), vek.as_slice()],
                Some((ask, ark)) => vec![
                    report.as_slice(),
                    vek.as_slice(),
                    ask.as_slice(),
                    ark.as_slice(),
                ],
            },
            Self::Cca { token } => vec![token.as_slice()],
            Self::Composite { gpu, cpu } => {
                check_nested(gpu, cpu)?;
                nested = (gpu.encode()?, cpu.encode()?);
                vec![nested.0.as_slice(), nested.1.as_slice()]
            }
        };
        let total = fields
            .iter()
            .try_fold(HEADER_LEN, |acc, f| {
                acc.checked_add(4)?.checked_add(f.len())
            })
            .unwrap_or(usize::MAX);
        if total > MAX_ENVELOPE_LEN {
            return Err(TeeError::EnvelopeTooLarge {
                len: total,
                max: MAX_ENVELOPE_LEN,
            });
        }
        let count = u8::try_from(fields.len())
            .map_err(|_| TeeError::Internal("field count exceeds u8".into()))?;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.kind().as_u8());
        out.push(count);
        for f in fields {
            if f.is_empty() {
                return Err(TeeError::EnvelopeField {
                    field: "field",
                    reason: "empty".into(),
                });
            }
            let len = u32::try_from(f.len())
                .map_err(|_| TeeError::Internal("field length exceeds u32".into()))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(f);
        }
        Ok(out)
    }

    /// Decodes an envelope strictly (see the module docs).
    pub fn decode(bytes: &[u8]) -> Result<Self, TeeError> {
        Self::decode_depth(bytes, 0)
    }

    fn decode_depth(bytes: &[u8], depth: u8) -> Result<Self, TeeError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(TeeError::EnvelopeTooLarge {
                len: bytes.len(),
                max: MAX_ENVELOPE_LEN,
            });
        }
        let (magic, rest) = bytes
            .split_at_checked(4)
            .ok_or(TeeError::EnvelopeTruncated { field: "magic" })?;
        if magic != MAGIC {
            return Err(TeeError::EnvelopeMagic);
        }
        let (&version, rest) = rest
            .split_first()
            .ok_or(TeeError::EnvelopeTruncated { field: "version" })?;
        if version != VERSION {
            return Err(TeeError::EnvelopeVersion(version));
        }
        let (&kind, rest) = rest
            .split_first()
            .ok_or(TeeError::EnvelopeTruncated { field: "kind" })?;
        let kind = EvidenceKind::try_from(kind)?;
        let (&count, mut rest) = rest.split_first().ok_or(TeeError::EnvelopeTruncated {
            field: "field count",
        })?;
        let count = usize::from(count);
        let (lo, hi) = match kind {
            EvidenceKind::None => (0, 0),
            EvidenceKind::Nvidia => (2, MAX_CHAIN_CERTS + 1),
            EvidenceKind::Tdx | EvidenceKind::Sgx | EvidenceKind::Composite => (2, 2),
            EvidenceKind::Snp => (2, 4),
            EvidenceKind::Cca => (1, 1),
        };
        if count < lo || count > hi || (kind == EvidenceKind::Snp && count == 3) {
            return Err(TeeError::EnvelopeFieldCount {
                kind: kind.name(),
                expected: hi,
                got: count,
            });
        }
        let mut fields: Vec<&[u8]> = Vec::with_capacity(count);
        for _ in 0..count {
            let (len, tail) = rest
                .split_at_checked(4)
                .ok_or(TeeError::EnvelopeTruncated {
                    field: "field length",
                })?;
            let len = u32::from_be_bytes(
                <[u8; 4]>::try_from(len).map_err(|_| TeeError::Internal("len".into()))?,
            );
            let len = usize::try_from(len).map_err(|_| TeeError::EnvelopeTruncated {
                field: "field body",
            })?;
            let (body, tail) = tail
                .split_at_checked(len)
                .ok_or(TeeError::EnvelopeTruncated {
                    field: "field body",
                })?;
            if body.is_empty() {
                return Err(TeeError::EnvelopeField {
                    field: "field",
                    reason: "empty".into(),
                });
            }
            fields.push(body);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(TeeError::EnvelopeTrailing { extra: rest.len() });
        }
        let owned = |i: usize| -> Vec<u8> { fields.get(i).map(|f| f.to_vec()).unwrap_or_default() };
        Ok(match kind {
            EvidenceKind::None => Self::None,
            EvidenceKind::Nvidia => Self::Nvidia {
                spdm: owned(0),
                chain: fields.iter().skip(1).map(|f| f.to_vec()).collect(),
            },
            EvidenceKind::Tdx => Self::Tdx {
                quote: owned(0),
                collateral: owned(1),
            },
            EvidenceKind::Sgx => Self::Sgx {
                quote: owned(0),
                collateral: owned(1),
            },
            EvidenceKind::Snp => Self::Snp {
                report: owned(0),
                vek: owned(1),
                ca: (count == 4).then(|| (owned(2), owned(3))),
            },
            EvidenceKind::Cca => Self::Cca { token: owned(0) },
            EvidenceKind::Composite => {
                if depth > 0 {
                    return Err(TeeError::EnvelopeField {
                        field: "composite",
                        reason: "composite evidence cannot nest".into(),
                    });
                }
                let gpu = Self::decode_depth(fields.first().copied().unwrap_or_default(), 1)?;
                let cpu = Self::decode_depth(fields.get(1).copied().unwrap_or_default(), 1)?;
                check_nested(&gpu, &cpu)?;
                Self::Composite {
                    gpu: Box::new(gpu),
                    cpu: Box::new(cpu),
                }
            }
        })
    }
}

fn check_nested(gpu: &Envelope, cpu: &Envelope) -> Result<(), TeeError> {
    if gpu.kind() != EvidenceKind::Nvidia {
        return Err(TeeError::EnvelopeField {
            field: "composite gpu",
            reason: format!("must be nvidia evidence, got {}", gpu.kind()),
        });
    }
    if !matches!(
        cpu.kind(),
        EvidenceKind::Tdx | EvidenceKind::Snp | EvidenceKind::Cca
    ) {
        return Err(TeeError::EnvelopeField {
            field: "composite cpu",
            reason: format!(
                "must be a confidential-VM quote (tdx, snp or cca), got {}",
                cpu.kind()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Envelope {
        Envelope::Composite {
            gpu: Box::new(Envelope::Nvidia {
                spdm: vec![1, 2, 3],
                chain: vec![vec![4], vec![5, 6]],
            }),
            cpu: Box::new(Envelope::Snp {
                report: vec![7],
                vek: vec![8],
                ca: Some((vec![9], vec![10])),
            }),
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let b = Envelope::Cca { token: vec![0xAA] }.encode().unwrap();
        assert_eq!(b, [b'P', b'T', b'E', b'E', 1, 5, 1, 0, 0, 0, 1, 0xAA]);
        assert_eq!(
            Envelope::None.encode().unwrap(),
            [b'P', b'T', b'E', b'E', 1, 0, 0]
        );
    }

    #[test]
    fn named_rejections() {
        let good = sample().encode().unwrap();
        assert_eq!(Envelope::decode(&good).unwrap(), sample());
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "envelope_truncated"),
            ("magic", b"XTEE\x01\x00\x00".to_vec(), "envelope_magic"),
            ("version", b"PTEE\x02\x00\x00".to_vec(), "envelope_version"),
            ("kind", b"PTEE\x01\x09\x00".to_vec(), "envelope_kind"),
            (
                "count",
                b"PTEE\x01\x00\x01".to_vec(),
                "envelope_field_count",
            ),
            (
                "snp 3 fields",
                b"PTEE\x01\x04\x03".to_vec(),
                "envelope_field_count",
            ),
            (
                "trailing",
                [good.clone(), vec![0]].concat(),
                "envelope_trailing",
            ),
            (
                "truncated",
                good.get(..good.len() - 1).unwrap().to_vec(),
                "envelope_truncated",
            ),
            (
                "empty field",
                b"PTEE\x01\x05\x01\x00\x00\x00\x00".to_vec(),
                "envelope_field",
            ),
            (
                "huge length",
                b"PTEE\x01\x05\x01\xff\xff\xff\xff".to_vec(),
                "envelope_truncated",
            ),
            (
                "too large",
                vec![0; MAX_ENVELOPE_LEN + 1],
                "envelope_too_large",
            ),
        ];
        for (name, bytes, code) in cases {
            let e = Envelope::decode(&bytes).unwrap_err();
            assert_eq!(e.code(), code, "{name}: {e}");
        }
    }

    #[test]
    fn composite_must_pair_gpu_with_cvm() {
        let bad = Envelope::Composite {
            gpu: Box::new(Envelope::Cca { token: vec![1] }),
            cpu: Box::new(Envelope::Cca { token: vec![1] }),
        };
        assert_eq!(bad.encode().unwrap_err().code(), "envelope_field");
        let sgx = Envelope::Composite {
            gpu: Box::new(Envelope::Nvidia {
                spdm: vec![1],
                chain: vec![vec![1]],
            }),
            cpu: Box::new(Envelope::Sgx {
                quote: vec![1],
                collateral: vec![1],
            }),
        };
        assert_eq!(sgx.encode().unwrap_err().code(), "envelope_field");
    }

    proptest! {
        #[test]
        fn decode_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(e) = Envelope::decode(&bytes) {
                prop_assert_eq!(e.encode().unwrap(), bytes);
            }
        }

        #[test]
        fn encode_decode(spdm in proptest::collection::vec(any::<u8>(), 1..64),
                         certs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..32), 1..=MAX_CHAIN_CERTS)) {
            let e = Envelope::Nvidia { spdm, chain: certs };
            let b = e.encode().unwrap();
            prop_assert_eq!(Envelope::decode(&b).unwrap(), e);
        }
    }
}
