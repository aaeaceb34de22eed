//! Test-only PKI (feature `test-pki`; release builds refuse it, see lib.rs): fresh keys and
//! certificates that make valid synthetic evidence for positive tests, mutation suites and
//! benches.
//!
//! - NVIDIA: a 5-certificate P-384 chain (root "TEST Device Identity CA" … leaf `GH100`/`GB100`)
//!   with a DICE FWID extension, and SPDM 1.1 reports signed by the leaf.
//! - Arm CCA: a platform key (registered in [`TestPki::store`]) and a realm key, tokens with any
//!   challenge and lifecycle.
//! - Composite: GPU evidence bound into a CCA realm token.
//!
//! Keys are generated per [`TestPki::new`]; nothing here is deterministic across runs, so no test
//! may depend on key bytes.

use crate::envelope::Envelope;
use crate::freshness::{composite_report_data, expected_freshness};
use crate::trust::TrustStore;
use crate::{EvidenceKind, TeeError};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};
use ciborium::Value;
use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use der::asn1::{Any, BitString, GeneralizedTime, ObjectIdentifier, OctetString, Uint};
use der::{Encode, Sequence};
use poai_primitives::Nonce;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_BC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_FWID_EXT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");

/// Certificates are valid from 2020-01-01 to 2099-12-31 unless a test asks otherwise.
pub const NOT_BEFORE: u64 = 1_577_836_800;
/// See [`NOT_BEFORE`].
pub const NOT_AFTER: u64 = 4_102_358_400;

#[derive(Sequence)]
struct Tbs {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial: Uint,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

#[derive(Sequence)]
struct Cert {
    tbs: Tbs,
    alg: AlgorithmIdentifierOwned,
    sig: BitString,
}

fn internal(e: impl std::fmt::Display) -> TeeError {
    TeeError::Internal(format!("test pki: {e}"))
}

fn time(secs: u64) -> Result<Time, TeeError> {
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
        .map(Time::GeneralTime)
        .map_err(internal)
}

fn p384_spki(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned, TeeError> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_EC,
            parameters: Some(Any::encode_from(&OID_P384).map_err(internal)?),
        },
        subject_public_key: BitString::from_bytes(point).map_err(internal)?,
    })
}

fn ecdsa_sha384() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: OID_ECDSA_SHA384,
        parameters: None,
    }
}

/// A certificate to issue.
pub struct CertSpec<'a> {
    /// Subject name (RFC 4514).
    pub subject: &'a str,
    /// Issuer name (RFC 4514).
    pub issuer: &'a str,
    /// Subject public key (uncompressed P-384 point).
    pub subject_key: &'a [u8],
    /// Issuer's signing key.
    pub issuer_key: &'a EcdsaKeyPair,
    /// Basic constraints CA.
    pub ca: bool,
    /// A DICE FWID to embed (leaf).
    pub fwid: Option<&'a [u8]>,
    /// Validity, Unix seconds.
    pub validity: (u64, u64),
    /// Serial number.
    pub serial: u8,
}

/// Issues an ECDSA P-384/SHA-384 certificate.
pub fn issue(spec: &CertSpec<'_>) -> Result<Vec<u8>, TeeError> {
    let mut extensions = Vec::new();
    if spec.ca {
        let bc = x509_cert::ext::pkix::BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        extensions.push(Extension {
            extn_id: OID_BC,
            critical: true,
            extn_value: OctetString::new(bc.to_der().map_err(internal)?).map_err(internal)?,
        });
    }
    if let Some(fwid) = spec.fwid {
        #[derive(Sequence)]
        struct Fwid {
            alg: ObjectIdentifier,
            digest: OctetString,
        }
        #[derive(Sequence)]
        struct TcbInfo {
            version: u8,
            fwid: Fwid,
        }
        let v = TcbInfo {
            version: 1,
            fwid: Fwid {
                alg: OID_SHA384,
                digest: OctetString::new(fwid).map_err(internal)?,
            },
        };
        extensions.push(Extension {
            extn_id: OID_FWID_EXT,
            critical: false,
            extn_value: OctetString::new(v.to_der().map_err(internal)?).map_err(internal)?,
        });
    }
    let tbs = Tbs {
        version: 2,
        serial: Uint::new(&[spec.serial.max(1)]).map_err(internal)?,
        signature: ecdsa_sha384(),
        issuer: Name::from_str(spec.issuer).map_err(internal)?,
        validity: Validity::new(time(spec.validity.0)?, time(spec.validity.1)?),
        subject: Name::from_str(spec.subject).map_err(internal)?,
        spki: p384_spki(spec.subject_key)?,
        extensions,
    };
    let tbs_der = tbs.to_der().map_err(internal)?;
    let sig = spec
        .issuer_key
        .sign(&SystemRandom::new(), &tbs_der)
        .map_err(internal)?;
    Cert {
        tbs,
        alg: ecdsa_sha384(),
        sig: BitString::from_bytes(sig.as_ref()).map_err(internal)?,
    }
    .to_der()
    .map_err(internal)
}

fn asn1_key() -> Result<EcdsaKeyPair, TeeError> {
    EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).map_err(internal)
}

fn fixed_key() -> Result<EcdsaKeyPair, TeeError> {
    EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).map_err(internal)
}

/// Which synthetic GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gpu {
    /// `GH100` leaf.
    Hopper,
    /// `GB100` leaf.
    Blackwell,
}

/// Fresh test keys and certificates.
pub struct TestPki {
    root_key: EcdsaKeyPair,
    ica_keys: [EcdsaKeyPair; 3],
    leaf_key: EcdsaKeyPair,
    cca_platform: EcdsaKeyPair,
    cca_rak: EcdsaKeyPair,
    root_der: Vec<u8>,
    /// The FWID the synthetic leaf and reports carry.
    pub fwid: [u8; 48],
    /// The synthetic CCA platform's instance id.
    pub cca_instance_id: Vec<u8>,
}

const NAMES: [&str; 5] = [
    "CN=XX100 A01 GSP FMC LF,O=TEST",
    "CN=XX100 A01 GSP BROM,O=TEST",
    "CN=TEST Provisioner ICA,O=TEST",
    "CN=TEST Identity,O=TEST",
    "CN=TEST Device Identity CA,O=TEST",
];

impl TestPki {
    /// New keys and a new root.
    pub fn new() -> Result<Self, TeeError> {
        let root_key = asn1_key()?;
        let root_der = issue(&CertSpec {
            subject: NAMES[4],
            issuer: NAMES[4],
            subject_key: root_key.public_key().as_ref(),
            issuer_key: &root_key,
            ca: true,
            fwid: None,
            validity: (NOT_BEFORE, NOT_AFTER),
            serial: 5,
        })?;
        let mut instance = vec![1u8];
        instance.extend_from_slice(&[0x5A; 32]);
        Ok(Self {
            root_key,
            ica_keys: [asn1_key()?, asn1_key()?, asn1_key()?],
            leaf_key: fixed_key()?,
            cca_platform: fixed_key()?,
            cca_rak: fixed_key()?,
            root_der,
            fwid: [0xF1; 48],
            cca_instance_id: instance,
        })
    }

    /// A trust store with this PKI's NVIDIA root and CCA platform key (Intel and AMD roots stay
    /// the pinned ones).
    pub fn store(&self) -> TrustStore {
        let mut s = TrustStore::with_test_roots(self.root_der.clone(), TrustStore::pinned().amd);
        // The key is a fresh P-384 point, which registration accepts.
        let _ = s.register_cca_platform(
            Some(self.cca_instance_id.clone()),
            self.cca_platform.public_key().as_ref(),
        );
        s
    }

    /// The test root certificate.
    pub fn root(&self) -> &[u8] {
        &self.root_der
    }

    /// A 5-certificate chain, leaf first, with the leaf valid over `leaf_validity`.
    pub fn gpu_chain(&self, gpu: Gpu, leaf_validity: (u64, u64)) -> Result<Vec<Vec<u8>>, TeeError> {
        let leaf_name = match gpu {
            Gpu::Hopper => NAMES[0].replace("XX100", "GH100"),
            Gpu::Blackwell => NAMES[0].replace("XX100", "GB100"),
        };
        let subjects = [leaf_name.as_str(), NAMES[1], NAMES[2], NAMES[3]];
        let issuer_keys = [
            &self.ica_keys[0],
            &self.ica_keys[1],
            &self.ica_keys[2],
            &self.root_key,
        ];
        let subject_keys = [
            self.leaf_key.public_key().as_ref(),
            self.ica_keys[0].public_key().as_ref(),
            self.ica_keys[1].public_key().as_ref(),
            self.ica_keys[2].public_key().as_ref(),
        ];
        let mut chain = Vec::with_capacity(5);
        let issuers = NAMES.iter().skip(1);
        for (i, (((subject, issuer), subject_key), issuer_key)) in subjects
            .iter()
            .zip(issuers)
            .zip(subject_keys)
            .zip(issuer_keys)
            .enumerate()
        {
            chain.push(issue(&CertSpec {
                subject,
                issuer,
                subject_key,
                issuer_key,
                ca: i > 0,
                fwid: (i == 0).then_some(&self.fwid[..]),
                validity: if i == 0 {
                    leaf_validity
                } else {
                    (NOT_BEFORE, NOT_AFTER)
                },
                serial: u8::try_from(i + 1).unwrap_or(1),
            })?);
        }
        chain.push(self.root_der.clone());
        Ok(chain)
    }

    /// An SPDM 1.1 request and response with the given request nonce, `blocks` measurement
    /// blocks of 48 bytes, NVIDIA opaque fields (driver, VBIOS, FWID) and the leaf's signature.
    pub fn spdm(&self, nonce: &[u8; 32], fwid: &[u8; 48]) -> Result<Vec<u8>, TeeError> {
        let mut out = vec![0x11, 0xE0, 0x01, 0xFF];
        out.extend_from_slice(nonce);
        out.push(0);
        let mut record = Vec::new();
        let blocks: u8 = 8;
        for i in 1..=blocks {
            record.extend_from_slice(&[i, 1]);
            record.extend_from_slice(&51u16.to_le_bytes());
            record.push(0x01);
            record.extend_from_slice(&48u16.to_le_bytes());
            record.extend_from_slice(&[i; 48]);
        }
        let mut opaque = Vec::new();
        for (id, data) in [
            (3u16, b"580.00.01\0".to_vec()),
            (6u16, vec![0x00, 0x9F, 0x00, 0x96, 0x01, 0, 0, 0]),
            (20u16, fwid.to_vec()),
        ] {
            opaque.extend_from_slice(&id.to_le_bytes());
            opaque.extend_from_slice(&u16::try_from(data.len()).map_err(internal)?.to_le_bytes());
            opaque.extend_from_slice(&data);
        }
        out.extend_from_slice(&[0x11, 0x60, 0x00, 0x00, blocks]);
        let rl = u32::try_from(record.len()).map_err(internal)?.to_le_bytes();
        out.extend_from_slice(rl.get(..3).unwrap_or_default());
        out.extend_from_slice(&record);
        out.extend_from_slice(&[0xEE; 32]);
        out.extend_from_slice(&u16::try_from(opaque.len()).map_err(internal)?.to_le_bytes());
        out.extend_from_slice(&opaque);
        let sig = self
            .leaf_key
            .sign(&SystemRandom::new(), &out)
            .map_err(internal)?;
        out.extend_from_slice(sig.as_ref());
        Ok(out)
    }

    /// Valid GPU evidence for `nonce` (SPEC binding).
    pub fn gpu_envelope(&self, gpu: Gpu, nonce: &Nonce) -> Result<Envelope, TeeError> {
        let field = expected_freshness(EvidenceKind::Nvidia, nonce);
        let field = <[u8; 32]>::try_from(field.as_slice()).map_err(internal)?;
        Ok(Envelope::Nvidia {
            spdm: self.spdm(&field, &self.fwid)?,
            chain: self.gpu_chain(gpu, (NOT_BEFORE, NOT_AFTER))?,
        })
    }

    fn sign1(key: &EcdsaKeyPair, claims: Vec<(Value, Value)>) -> Result<Vec<u8>, TeeError> {
        let mut payload = Vec::new();
        ciborium::ser::into_writer(&Value::Map(claims), &mut payload).map_err(internal)?;
        let msg = CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES384)
                    .build(),
            )
            .payload(payload)
            .try_create_signature(b"", |data| {
                key.sign(&SystemRandom::new(), data)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(internal)
            })?
            .build();
        msg.to_tagged_vec().map_err(internal)
    }

    /// A CCA token with the given realm challenge and platform lifecycle.
    pub fn cca_token(&self, challenge: &[u8; 64], lifecycle: u64) -> Result<Vec<u8>, TeeError> {
        let int = |i: i64| Value::Integer(i.into());
        let rak = self.cca_rak.public_key().as_ref().to_vec();
        let realm = Self::sign1(
            &self.cca_rak,
            vec![
                (int(10), Value::Bytes(challenge.to_vec())),
                (int(44235), Value::Bytes(vec![0; 64])),
                (int(44236), Value::Text("sha-384".into())),
                (int(44237), Value::Bytes(rak.clone())),
                (int(44238), Value::Bytes(vec![0x11; 48])),
                (
                    int(44239),
                    Value::Array(vec![Value::Bytes(vec![0x22; 48]); 4]),
                ),
            ],
        )?;
        let rak_hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, &rak);
        let platform = Self::sign1(
            &self.cca_platform,
            vec![
                (int(10), Value::Bytes(rak_hash.as_ref().to_vec())),
                (int(256), Value::Bytes(self.cca_instance_id.clone())),
                (int(2395), Value::Integer(lifecycle.into())),
                (int(2396), Value::Bytes(vec![0x33; 32])),
                (int(2399), Value::Array(Vec::new())),
                (int(2400), Value::Bytes(vec![0xCF; 4])),
            ],
        )?;
        let token = Value::Tag(
            399,
            Box::new(Value::Map(vec![
                (int(44234), Value::Bytes(platform)),
                (int(44241), Value::Bytes(realm)),
            ])),
        );
        let mut out = Vec::new();
        ciborium::ser::into_writer(&token, &mut out).map_err(internal)?;
        Ok(out)
    }

    /// Valid CCA evidence for `nonce`.
    pub fn cca_envelope(&self, nonce: &Nonce) -> Result<Envelope, TeeError> {
        let c = expected_freshness(EvidenceKind::Cca, nonce);
        let c = <[u8; 64]>::try_from(c.as_slice()).map_err(internal)?;
        Ok(Envelope::Cca {
            token: self.cca_token(&c, 0x3000)?,
        })
    }

    /// Valid composite evidence: GPU evidence bound into a CCA realm token.
    pub fn composite_envelope(&self, gpu: Gpu, nonce: &Nonce) -> Result<Envelope, TeeError> {
        let gpu_env = self.gpu_envelope(gpu, nonce)?;
        let rd = composite_report_data(nonce, &gpu_env.encode()?);
        Ok(Envelope::Composite {
            gpu: Box::new(gpu_env),
            cpu: Box::new(Envelope::Cca {
                token: self.cca_token(&rd, 0x3000)?,
            }),
        })
    }
}
