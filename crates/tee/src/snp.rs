//! AMD SEV-SNP: attestation reports (AMD SEV-SNP ABI spec 56860, table 23, 1184 bytes) signed by
//! a VCEK or VLEK, which the pinned ASK/ASVK and ARK certify (AMD spec 57230).
//!
//! `sev` (pure-Rust `crypto_nossl` feature) parses the report and verifies the RSA-PSS chain
//! ARK → ASK/ASVK → VEK. What it leaves out is done here:
//!
//! - the product and the VCEK/VLEK distinction come from the VEK's issuer (`SEV-Milan`,
//!   `SEV-VLEK-Genoa`, ...), and only the pinned roots of that product are used (a supplied
//!   ASK/ARK must be byte-equal to them);
//! - certificate validity at the verification time (sev does not look at dates);
//! - VEK extensions against the report: blSPL, teeSPL, snpSPL, ucodeSPL, fmcSPL
//!   (1.3.6.1.4.1.3704.1.3.{1,2,3,8,9}) must equal REPORTED_TCB, and hwID (…1.4) must equal
//!   CHIP_ID for a VCEK;
//! - the guest policy's DEBUG bit (19), VMPL 0, signature algorithm 1 (ECDSA P-384/SHA-384);
//! - report_data binds the nonce;
//! - the report signature, over the raw bytes 0x000..0x2A0 (not a re-encoding, so reserved
//!   bytes are covered too), with r and s little-endian in 72-byte fields, checked through
//!   aws-lc-rs on both the cold and the warm path.

use crate::attestation::{Attestation, Facts, no_revocation};
use crate::envelope::EvidenceKind;
use crate::error::TeeError;
use crate::freshness::{self, Freshness};
use crate::trust::TrustStore;
use crate::x509::{Cert, ChainWindow, Curve, EcKey};
use der::Decode;
use der::asn1::ObjectIdentifier;
use poai_primitives::{DeviceId, PrivacyLevel};
use sev::certs::snp::{Certificate as SevCert, Chain, Verifiable, ca};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;
use std::collections::BTreeMap;

/// Size of an SNP attestation report.
pub const REPORT_LEN: usize = 1184;
const SIGNED_LEN: usize = 0x2A0;

const OID_BL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const OID_TEE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const OID_SNP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const OID_UCODE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
const OID_FMC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
const OID_HWID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");

/// What a verified VEK chain proves; cached by the VEK's hash.
#[derive(Debug, Clone)]
pub(crate) struct SnpChain {
    key: EcKey,
    window: ChainWindow,
    product: String,
    vlek: bool,
    spl: [Option<u8>; 5],
    hwid: Option<Vec<u8>>,
}

fn ext_u8(cert: &Cert<'_>, oid: &ObjectIdentifier) -> Result<Option<u8>, TeeError> {
    let Some(v) = cert.extension(oid) else {
        return Ok(None);
    };
    let n = der::asn1::Int::from_der(v)
        .ok()
        .and_then(|i| {
            let b = i.as_bytes();
            match b {
                [x] => Some(*x),
                [0, x] => Some(*x),
                _ => None,
            }
        })
        .ok_or_else(|| TeeError::CertificateParse {
            index: 0,
            reason: format!("VEK extension {oid} is not a small INTEGER"),
        })?;
    Ok(Some(n))
}

pub(crate) fn verify_chain(
    vek_der: &[u8],
    ca_given: Option<(&[u8], &[u8])>,
    store: &TrustStore,
) -> Result<SnpChain, TeeError> {
    let vek = Cert::parse(0, vek_der)?;
    let issuer = vek.issuer_common_name().unwrap_or_default();
    let (roots, vlek) = store
        .amd_for_issuer(&issuer)
        .ok_or_else(|| TeeError::UnknownAmdProduct(issuer.clone()))?;
    let ask_der = if vlek { &roots.asvk } else { &roots.ask };
    if let Some((ask, ark)) = ca_given
        && (ask != ask_der.as_slice() || ark != roots.ark.as_slice())
    {
        return Err(TeeError::UntrustedRoot("AMD ARK/ASK"));
    }
    let ask = Cert::parse(1, ask_der)?;
    let ark = Cert::parse(2, &roots.ark)?;
    let sev_cert = |index: usize, der: &[u8]| {
        SevCert::from_der(der).map_err(|e| TeeError::CertificateParse {
            index,
            reason: e.to_string(),
        })
    };
    let chain = Chain {
        ca: ca::Chain {
            ark: sev_cert(2, &roots.ark)?,
            ask: sev_cert(1, ask_der)?,
        },
        vek: sev_cert(0, vek_der)?,
    };
    (&chain)
        .verify()
        .map_err(|e| TeeError::SnpChain(e.to_string()))?;
    let key = vek.ec_key(0)?;
    if key.curve != Curve::P384 {
        return Err(TeeError::UnsupportedAlgorithm {
            index: 0,
            what: "VEK key is not P-384".into(),
        });
    }
    let hwid = vek.extension(&OID_HWID).map(|v| {
        der::asn1::OctetString::from_der(v)
            .map(|o| o.as_bytes().to_vec())
            .unwrap_or_else(|_| v.to_vec())
    });
    Ok(SnpChain {
        key,
        window: ChainWindow(vec![vek.window(), ask.window(), ark.window()]),
        product: roots.product.clone(),
        vlek,
        spl: [
            ext_u8(&vek, &OID_BL)?,
            ext_u8(&vek, &OID_TEE)?,
            ext_u8(&vek, &OID_SNP)?,
            ext_u8(&vek, &OID_UCODE)?,
            ext_u8(&vek, &OID_FMC)?,
        ],
        hwid,
    })
}

/// Parses a report (exactly [`REPORT_LEN`] bytes).
pub fn parse_report(bytes: &[u8]) -> Result<AttestationReport, TeeError> {
    if bytes.len() != REPORT_LEN {
        return Err(TeeError::SnpReportParse(format!(
            "report is {} bytes, expected {REPORT_LEN}",
            bytes.len()
        )));
    }
    AttestationReport::from_bytes(bytes).map_err(|e| TeeError::SnpReportParse(e.to_string()))
}

/// Verifies a report under an already verified chain.
pub(crate) fn verify_report(
    bytes: &[u8],
    chain: &SnpChain,
    freshness: &Freshness,
    at: u64,
) -> Result<Attestation, TeeError> {
    let report = parse_report(bytes)?;
    freshness::check(
        EvidenceKind::Snp,
        freshness,
        "report_data",
        &report.report_data,
    )?;
    chain.window.check(at)?;
    if report.sig_algo != 1 {
        return Err(TeeError::UnsupportedSignatureAlgorithm(report.sig_algo));
    }
    if report.vmpl != 0 {
        return Err(TeeError::VmplNotZero(report.vmpl));
    }
    if report.policy.debug_allowed() {
        return Err(TeeError::DebugEnabled("snp"));
    }
    let tcb = &report.reported_tcb;
    let reported = [
        ("blSPL", Some(tcb.bootloader)),
        ("teeSPL", Some(tcb.tee)),
        ("snpSPL", Some(tcb.snp)),
        ("ucodeSPL", Some(tcb.microcode)),
        ("fmcSPL", tcb.fmc),
    ];
    for ((field, got), want) in reported.iter().zip(chain.spl.iter()) {
        if let Some(want) = want
            && got != &Some(*want)
        {
            return Err(TeeError::SnpVekMismatch { field });
        }
    }
    if !chain.vlek {
        let hwid = chain
            .hwid
            .as_deref()
            .ok_or(TeeError::SnpVekMismatch { field: "hwID" })?;
        let (head, tail) = report
            .chip_id
            .split_at_checked(hwid.len())
            .ok_or(TeeError::SnpVekMismatch { field: "hwID" })?;
        if hwid.is_empty() || head != hwid || tail.iter().any(|&b| b != 0) {
            return Err(TeeError::SnpVekMismatch { field: "hwID" });
        }
    }
    let signed = bytes
        .get(..SIGNED_LEN)
        .ok_or_else(|| TeeError::SnpReportParse("short".into()))?;
    let sig = raw_signature(bytes).ok_or(TeeError::ReportSignature("SNP report"))?;
    if !chain.key.verify_fixed(signed, &sig) {
        return Err(TeeError::ReportSignature("SNP report"));
    }
    let mut versions = BTreeMap::new();
    versions.insert("report".into(), report.version.to_string());
    versions.insert(
        "reported_tcb".into(),
        format!(
            "bl={} tee={} snp={} ucode={}{}",
            tcb.bootloader,
            tcb.tee,
            tcb.snp,
            tcb.microcode,
            tcb.fmc.map(|f| format!(" fmc={f}")).unwrap_or_default()
        ),
    );
    versions.insert(
        "firmware".into(),
        format!(
            "{}.{}.{}",
            report.current.major, report.current.minor, report.current.build
        ),
    );
    versions.insert("guest_svn".into(), report.guest_svn.to_string());
    let mut measurements = BTreeMap::new();
    measurements.insert("measurement".into(), hex::encode(report.measurement));
    measurements.insert("host_data".into(), hex::encode(report.host_data));
    let facts = Facts {
        architecture: format!(
            "snp {}{}",
            chain.product,
            if chain.vlek { " (VLEK)" } else { "" }
        ),
        tcb_status: Some("reported TCB matches the VEK".into()),
        versions,
        measurements,
        freshness: hex::encode(report.report_data),
        deductions: vec![no_revocation()],
        ..Facts::default()
    };
    let device_id = DeviceId(*blake3::hash(&report.chip_id).as_bytes());
    Ok(Attestation::new(
        EvidenceKind::Snp,
        PrivacyLevel::Confidential,
        device_id,
        facts,
    ))
}

/// The report signature as big-endian `r ‖ s` (96 bytes), or `None` if a component does not fit
/// in 48 bytes.
fn raw_signature(report: &[u8]) -> Option<[u8; 96]> {
    let r = report.get(SIGNED_LEN..SIGNED_LEN + 72)?;
    let s = report.get(SIGNED_LEN + 72..SIGNED_LEN + 144)?;
    let mut out = [0u8; 96];
    for (i, part) in [r, s].iter().enumerate() {
        let (low, high) = part.split_at_checked(48)?;
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        let dst = out.get_mut(i * 48..(i + 1) * 48)?;
        for (d, b) in dst.iter_mut().zip(low.iter().rev()) {
            *d = *b;
        }
    }
    Some(out)
}

pub(crate) fn chain_key(vek: &[u8], ca: Option<(&[u8], &[u8])>) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"poai/tee/snp-cache");
    for part in [Some(vek), ca.map(|c| c.0), ca.map(|c| c.1)]
        .into_iter()
        .flatten()
    {
        h.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(part);
    }
    *h.finalize().as_bytes()
}
