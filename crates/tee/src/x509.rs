//! X.509 chain checks shared by the vendor paths (RFC 5280 subset): DER parsing with
//! `x509-cert`, ECDSA (P-256/P-384 with SHA-256/384) through aws-lc-rs, a pinned root compared
//! byte for byte, issuer/subject chaining, CA basic constraints, and validity at the given time.
//!
//! Signatures are checked over the certificate's own TBS bytes, sliced from the input DER, never
//! over a re-encoding, so that a certificate with a non-canonical encoding cannot verify under a
//! different reading. Validity is kept per certificate ([`ChainWindow`]) so that the warm path
//! (signatures already verified) reports exactly the error the cold path would.

use crate::error::TeeError;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use der::asn1::ObjectIdentifier;
use der::{Decode, Header, Reader, SliceReader};
use x509_cert::Certificate;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// An elliptic curve this crate verifies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

/// A public key: curve and SEC1 uncompressed point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcKey {
    pub curve: Curve,
    pub point: Vec<u8>,
}

impl EcKey {
    /// Verifies a raw `r ‖ s` signature whose hash matches the curve (SHA-256 for P-256,
    /// SHA-384 for P-384), as SPDM, SNP and COSE use.
    pub fn verify_fixed(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn VerificationAlgorithm = match self.curve {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        };
        UnparsedPublicKey::new(alg, &self.point)
            .verify(msg, sig)
            .is_ok()
    }
}

/// A parsed certificate with the slices that signatures cover.
pub(crate) struct Cert<'a> {
    pub der: &'a [u8],
    pub cert: Certificate,
    tbs: &'a [u8],
}

impl<'a> Cert<'a> {
    pub fn parse(index: usize, der: &'a [u8]) -> Result<Self, TeeError> {
        let err = |e: der::Error| TeeError::CertificateParse {
            index,
            reason: e.to_string(),
        };
        let cert = Certificate::from_der(der).map_err(err)?;
        // RFC 5280 4.1.1.2: the outer algorithm must equal the signed one; otherwise its
        // unsigned parameters could be changed without touching the signature.
        if cert.signature_algorithm() != cert.tbs_certificate().signature() {
            return Err(TeeError::CertificateParse {
                index,
                reason: "signatureAlgorithm differs from tbsCertificate.signature".into(),
            });
        }
        let mut r = SliceReader::new(der).map_err(err)?;
        let _outer = Header::decode(&mut r).map_err(err)?;
        let tbs = r.tlv_bytes().map_err(err)?;
        Ok(Self { der, cert, tbs })
    }

    /// The subject's EC public key.
    pub fn ec_key(&self, index: usize) -> Result<EcKey, TeeError> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        let unsupported = |what: String| TeeError::UnsupportedAlgorithm { index, what };
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err(unsupported(format!("key {}", spki.algorithm.oid)));
        }
        let curve_oid = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(|| unsupported("EC key without a named curve".into()))?;
        let curve = match curve_oid {
            OID_P256 => Curve::P256,
            OID_P384 => Curve::P384,
            other => return Err(unsupported(format!("curve {other}"))),
        };
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| unsupported("public key bit string with unused bits".into()))?
            .to_vec();
        Ok(EcKey { curve, point })
    }

    /// Checks that `issuer` signed this certificate (ECDSA, ASN.1 signature).
    pub fn verify_signed_by(&self, index: usize, issuer: &EcKey) -> Result<(), TeeError> {
        let sig_oid = self.cert.signature_algorithm().oid;
        let alg: &dyn VerificationAlgorithm = match (issuer.curve, sig_oid) {
            (Curve::P256, OID_ECDSA_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
            (Curve::P256, OID_ECDSA_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
            (Curve::P384, OID_ECDSA_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
            (Curve::P384, OID_ECDSA_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
            (_, other) => {
                return Err(TeeError::UnsupportedAlgorithm {
                    index,
                    what: format!("signature {other}"),
                });
            }
        };
        let sig = self
            .cert
            .signature()
            .as_bytes()
            .ok_or(TeeError::CertificateSignature { index })?;
        UnparsedPublicKey::new(alg, &issuer.point)
            .verify(self.tbs, sig)
            .map_err(|_| TeeError::CertificateSignature { index })
    }

    pub fn is_ca(&self) -> bool {
        let Some(exts) = self.cert.tbs_certificate().extensions() else {
            return false;
        };
        exts.iter()
            .find(|e| e.extn_id == OID_BASIC_CONSTRAINTS)
            .and_then(|e| {
                x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
            })
            .is_some_and(|bc| bc.ca)
    }

    /// The value of an extension, if present.
    pub fn extension(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| &e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// The subject's common name, if any.
    pub fn common_name(&self) -> Option<String> {
        common_name(self.cert.tbs_certificate().subject())
    }

    pub fn issuer_common_name(&self) -> Option<String> {
        common_name(self.cert.tbs_certificate().issuer())
    }

    pub fn window(&self) -> (u64, u64) {
        let v = self.cert.tbs_certificate().validity();
        (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        )
    }
}

fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    name.iter().find(|atv| atv.oid == OID_CN).and_then(|atv| {
        der::asn1::Utf8StringRef::try_from(&atv.value)
            .map(|s| s.as_str().to_owned())
            .ok()
            .or_else(|| {
                der::asn1::PrintableStringRef::try_from(&atv.value)
                    .map(|s| s.as_str().to_owned())
                    .ok()
            })
    })
}

/// Validity windows of a chain, leaf first, as `(not_before, not_after)` Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainWindow(pub Vec<(u64, u64)>);

impl ChainWindow {
    pub fn check(&self, at: u64) -> Result<(), TeeError> {
        for (index, &(not_before, not_after)) in self.0.iter().enumerate() {
            if at < not_before {
                return Err(TeeError::CertificateNotYetValid {
                    index,
                    not_before,
                    at,
                });
            }
            if at > not_after {
                return Err(TeeError::CertificateExpired {
                    index,
                    not_after,
                    at,
                });
            }
        }
        Ok(())
    }
}

/// What a verified chain yields.
pub(crate) struct VerifiedChain<'a> {
    pub certs: Vec<Cert<'a>>,
    pub leaf_key: EcKey,
    pub window: ChainWindow,
}

/// Verifies an ECDSA chain, leaf first, of exactly `expected_len` certificates ending at the
/// pinned `root` (byte-equal). Time is not checked here: see [`ChainWindow::check`].
pub(crate) fn verify_chain<'a>(
    chain: &'a [Vec<u8>],
    expected_len: usize,
    root: &[u8],
    root_name: &'static str,
) -> Result<VerifiedChain<'a>, TeeError> {
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| Cert::parse(i, der))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.len() != expected_len {
        return Err(TeeError::ChainLength {
            expected: expected_len,
            got: certs.len(),
        });
    }
    let last = certs.last().ok_or(TeeError::ChainLength {
        expected: expected_len,
        got: 0,
    })?;
    if last.der != root {
        return Err(TeeError::UntrustedRoot(root_name));
    }
    let keys = certs
        .iter()
        .enumerate()
        .map(|(i, c)| c.ec_key(i))
        .collect::<Result<Vec<_>, _>>()?;
    for (index, pair) in certs.windows(2).enumerate() {
        let (child, issuer) = match pair {
            [c, i] => (c, i),
            _ => return Err(TeeError::Internal("windows(2)".into())),
        };
        if child.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(TeeError::CertificateIssuerMismatch { index });
        }
        let issuer_index = index.saturating_add(1);
        if !issuer.is_ca() {
            return Err(TeeError::CertificateNotCa {
                index: issuer_index,
            });
        }
        let key = keys
            .get(issuer_index)
            .ok_or_else(|| TeeError::Internal("key index".into()))?;
        child.verify_signed_by(index, key)?;
    }
    let window = ChainWindow(certs.iter().map(Cert::window).collect());
    let leaf_key = keys
        .into_iter()
        .next()
        .ok_or_else(|| TeeError::Internal("empty chain".into()))?;
    Ok(VerifiedChain {
        certs,
        leaf_key,
        window,
    })
}

/// Splits PEM text into the DER certificates it holds, in order (for the CLI and tests). The
/// base64 is decoded as is, without re-encoding, so signatures keep covering the same bytes.
pub fn pem_to_der_chain(pem: &[u8]) -> Result<Vec<Vec<u8>>, TeeError> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let bad = |index: usize, reason: String| TeeError::CertificateParse { index, reason };
    let mut text = std::str::from_utf8(pem).map_err(|e| bad(0, format!("PEM: {e}")))?;
    let mut out = Vec::new();
    while let Some(start) = text.find(BEGIN) {
        let block = text.get(start..).unwrap_or_default();
        let end_at = block
            .find(END)
            .ok_or_else(|| bad(out.len(), "PEM block without END".into()))?;
        let after_end = block
            .get(end_at.saturating_add(END.len())..)
            .unwrap_or_default();
        let close = after_end
            .find("-----")
            .ok_or_else(|| bad(out.len(), "PEM END line unterminated".into()))?;
        let block_len = end_at
            .saturating_add(END.len())
            .saturating_add(close)
            .saturating_add(5);
        let one = block.get(..block_len).unwrap_or_default();
        let (label, der) = der::pem::decode_vec(one.as_bytes())
            .map_err(|e| bad(out.len(), format!("PEM: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(bad(
                out.len(),
                format!("PEM label {label}, expected CERTIFICATE"),
            ));
        }
        out.push(der);
        text = block.get(block_len..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(bad(0, "no PEM certificate found".into()));
    }
    Ok(out)
}
