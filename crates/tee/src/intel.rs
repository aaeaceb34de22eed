//! Intel TDX and SGX: DCAP quotes v3, v4 and v5 with their collateral, verified offline by
//! dcap-qvl (built with its pure-Rust crypto, no network features), plus what dcap-qvl leaves to
//! the caller:
//!
//! - the quote is as long as its header, body and auth-data length say, followed by at most
//!   [`MAX_ZERO_PADDING`] zero bytes (dcap-qvl ignores whatever follows);
//! - the TEE type comes from the quote header and must match the envelope kind;
//! - report_data binds the nonce (SPEC section 5), checked before any signature;
//! - debug enclaves and TDs are refused (SGX ATTRIBUTES.DEBUG, bit 1 of byte 0; TDX
//!   TD_ATTRIBUTES.DEBUG, bit 0 of byte 0): dcap-qvl is told to allow them so that the refusal
//!   is ours and named;
//! - the TCB status maps to the score (`attestation` module), `Revoked` is a rejection.
//!
//! dcap-qvl reports failures as text; [`map_dcap_error`] sorts them into named errors by the
//! phrases dcap-qvl 0.7.1 uses (collateral expiry, TCB level matching, signatures).
//!
//! Quote layout (Intel DCAP quote library, versions 3/4/5): header 48 bytes (version u16le at 0,
//! TEE type u32le at 4: 0 SGX, 0x81 TDX); v5 adds body type u16 and size u32; then the body (SGX
//! enclave report 384 bytes, report_data at 320; TD report 1.0 584 bytes, report_data at 520;
//! TD 1.5 648 bytes); then auth-data length u32le and the auth data, whose first 64 bytes are the
//! attestation key's ECDSA P-256 signature over header and body, followed by the attestation key.

use crate::attestation::{Attestation, Facts, tcb_deduction};
use crate::envelope::EvidenceKind;
use crate::error::TeeError;
use crate::freshness::{self, Freshness};
use crate::x509::{self, Cert};
use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::quote::{Quote, Report};
use dcap_qvl::verify::QuoteVerifier;
use poai_primitives::{DeviceId, PrivacyLevel};
use std::collections::BTreeMap;

const HEADER_LEN: usize = 48;
/// Zero bytes tolerated after the auth data.
pub const MAX_ZERO_PADDING: usize = 1024;
const TEE_TYPE_SGX: u32 = 0;
const TEE_TYPE_TDX: u32 = 0x81;

/// A parsed quote with the offsets the warm path needs.
pub(crate) struct ParsedQuote {
    pub quote: Quote,
    /// Length of header and body: what the quote signature covers.
    pub signed_len: usize,
    pub report_data: [u8; 64],
    report_data_at: usize,
}

/// Parses a DCAP quote of the given kind (TDX or SGX) and checks its length fields, without
/// verifying anything; returns its report_data.
pub fn parse_quote_report_data(kind: EvidenceKind, bytes: &[u8]) -> Result<[u8; 64], TeeError> {
    parse_quote(kind, bytes).map(|p| p.report_data)
}

pub(crate) fn parse_quote(kind: EvidenceKind, bytes: &[u8]) -> Result<ParsedQuote, TeeError> {
    let quote = Quote::parse(bytes).map_err(|e| TeeError::QuoteParse(format!("{e:#}")))?;
    let version = quote.header.version;
    if !(3..=5).contains(&version) {
        return Err(TeeError::QuoteParse(format!(
            "version {version} (v3, v4 or v5 expected)"
        )));
    }
    let actual = match quote.header.tee_type {
        TEE_TYPE_SGX => EvidenceKind::Sgx,
        TEE_TYPE_TDX => EvidenceKind::Tdx,
        other => return Err(TeeError::QuoteParse(format!("TEE type {other:#x}"))),
    };
    if actual != kind || quote.report.is_sgx() != (actual == EvidenceKind::Sgx) {
        return Err(TeeError::KindMismatch {
            declared: kind.name(),
            actual: actual.name().into(),
        });
    }
    let signed_len = quote.signed_length();
    let auth_len = bytes
        .get(signed_len..signed_len.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| TeeError::QuoteParse("auth data length missing".into()))?;
    let total = usize::try_from(auth_len)
        .ok()
        .and_then(|l| l.checked_add(signed_len)?.checked_add(4));
    // Quotes read from a fixed-size buffer end in zero padding (the public TDX sample carries
    // 70 zero bytes after its auth data); anything else after the auth data is rejected.
    let padding_ok = total
        .and_then(|t| bytes.get(t..))
        .is_some_and(|pad| pad.len() <= MAX_ZERO_PADDING && pad.iter().all(|&b| b == 0));
    if !padding_ok {
        return Err(TeeError::QuoteParse(format!(
            "quote is {} bytes, its length fields say {} (only up to {MAX_ZERO_PADDING} zero bytes of padding may follow)",
            bytes.len(),
            total.map_or_else(|| "overflow".into(), |t| t.to_string())
        )));
    }
    let body_at = if version == 5 {
        HEADER_LEN + 6
    } else {
        HEADER_LEN
    };
    let (report_data, offset) = match &quote.report {
        Report::SgxEnclave(r) => (r.report_data, 320),
        Report::TD10(r) => (r.report_data, 520),
        Report::TD15(r) => (r.base.report_data, 520),
        Report::TD15Ex(r) => (r.base.base.report_data, 520),
    };
    Ok(ParsedQuote {
        quote,
        signed_len,
        report_data,
        report_data_at: body_at + offset,
    })
}

impl ParsedQuote {
    fn debug(&self) -> bool {
        match &self.quote.report {
            Report::SgxEnclave(r) => r.attributes.first().is_some_and(|b| b & 0x02 != 0),
            other => other
                .as_td10()
                .and_then(|t| t.td_attributes.first())
                .is_some_and(|b| b & 0x01 != 0),
        }
    }

    /// The cache key: collateral and the quote with report_data and the quote signature blanked
    /// (the two parts that change from one quote of a device to the next).
    pub fn warm_key(&self, bytes: &[u8], collateral: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"poai/tee/dcap-cache");
        h.update(
            &u64::try_from(collateral.len())
                .unwrap_or(u64::MAX)
                .to_be_bytes(),
        );
        h.update(collateral);
        let rd_end = self.report_data_at.saturating_add(64);
        let sig_at = self.signed_len.saturating_add(4);
        h.update(bytes.get(..self.report_data_at).unwrap_or_default());
        h.update(bytes.get(rd_end..self.signed_len).unwrap_or_default());
        h.update(bytes.get(self.signed_len..sig_at).unwrap_or_default());
        h.update(bytes.get(sig_at.saturating_add(64)..).unwrap_or_default());
        *h.finalize().as_bytes()
    }

    fn attestation_key(&self) -> [u8; 64] {
        match &self.quote.auth_data {
            dcap_qvl::quote::AuthData::V3(a) => a.ecdsa_attestation_key,
            dcap_qvl::quote::AuthData::V4(a) => a.ecdsa_attestation_key,
        }
    }

    fn signature(&self) -> [u8; 64] {
        match &self.quote.auth_data {
            dcap_qvl::quote::AuthData::V3(a) => a.ecdsa_signature,
            dcap_qvl::quote::AuthData::V4(a) => a.ecdsa_signature,
        }
    }
}

/// What a cold verification proved, reusable for later quotes of the same device and TCB.
#[derive(Debug, Clone)]
pub(crate) struct DcapEntry {
    attestation_key: [u8; 64],
    window: (u64, u64),
    attestation: Attestation,
}

impl DcapEntry {
    pub(crate) fn attestation(&self) -> &Attestation {
        &self.attestation
    }
}

struct AcceptAll;

impl dcap_qvl::Policy for AcceptAll {
    fn validate(&self, _claims: &dcap_qvl::QuoteClaims) -> anyhow::Result<()> {
        Ok(())
    }
}

fn map_dcap_error(e: &anyhow::Error) -> TeeError {
    let msg = format!("{e:#}");
    let lower = msg.to_ascii_lowercase();
    if lower.contains("no matching tcb level") {
        TeeError::TcbNoMatch(msg)
    } else if lower.contains("expired")
        || lower.contains("in the future")
        || lower.contains("not yet valid")
        || lower.contains("nextupdate")
        || lower.contains("next update")
    {
        TeeError::CollateralExpired(msg)
    } else if lower.contains("signature") || lower.contains("certificate") || lower.contains("crl")
    {
        TeeError::DcapSignature(msg)
    } else if lower.contains("decode") || lower.contains("parse") || lower.contains("json") {
        TeeError::CollateralParse(msg)
    } else {
        TeeError::DcapVerification(msg)
    }
}

/// Cold path: full DCAP verification.
pub(crate) fn verify_cold(
    kind: EvidenceKind,
    bytes: &[u8],
    collateral_json: &[u8],
    freshness: &Freshness,
    at: u64,
    root: &[u8],
) -> Result<(ParsedQuote, DcapEntry), TeeError> {
    let parsed = parse_quote(kind, bytes)?;
    freshness::check(kind, freshness, "report_data", &parsed.report_data)?;
    let collateral: QuoteCollateralV3 = serde_json::from_slice(collateral_json)
        .map_err(|e| TeeError::CollateralParse(e.to_string()))?;
    let what = if kind == EvidenceKind::Sgx {
        "sgx"
    } else {
        "tdx"
    };
    // Policy on fields before signatures: a debug quote is refused whether or not it is genuine.
    if parsed.debug() {
        return Err(TeeError::DebugEnabled(what));
    }
    let claims = QuoteVerifier::new(root.to_vec())
        .allow_debug(true)
        .verify_with_policy(bytes, collateral, at, &AcceptAll)
        .map_err(|e| map_dcap_error(&e))?;
    let status = claims.tcb.status.to_string();
    let mut deductions = Vec::new();
    if let Some(d) = tcb_deduction(&status, what)? {
        deductions.push(d);
    }
    let pck_chain = x509::pem_to_der_chain(
        parsed
            .quote
            .raw_cert_chain()
            .map_err(|e| TeeError::QuoteParse(format!("{e:#}")))?,
    )?;
    let pck = Cert::parse(0, pck_chain.first().map(Vec::as_slice).unwrap_or_default())?;
    let device_id = DeviceId(*blake3::hash(&pck.ec_key(0)?.point).as_bytes());
    let mut versions = BTreeMap::new();
    versions.insert("quote".into(), parsed.quote.header.version.to_string());
    versions.insert("qe_svn".into(), parsed.quote.header.qe_svn.to_string());
    versions.insert("pce_svn".into(), parsed.quote.header.pce_svn.to_string());
    let mut measurements = BTreeMap::new();
    match &parsed.quote.report {
        Report::SgxEnclave(r) => {
            measurements.insert("mr_enclave".into(), hex::encode(r.mr_enclave));
            measurements.insert("mr_signer".into(), hex::encode(r.mr_signer));
            versions.insert("isv_svn".into(), r.isv_svn.to_string());
        }
        other => {
            if let Some(t) = other.as_td10() {
                measurements.insert("mr_td".into(), hex::encode(t.mr_td));
                measurements.insert("mr_seam".into(), hex::encode(t.mr_seam));
                for (i, r) in [t.rt_mr0, t.rt_mr1, t.rt_mr2, t.rt_mr3].iter().enumerate() {
                    measurements.insert(format!("rtmr{i}"), hex::encode(r));
                }
                versions.insert("tee_tcb_svn".into(), hex::encode(t.tee_tcb_svn));
            }
        }
    }
    let tier = if kind == EvidenceKind::Sgx {
        PrivacyLevel::Private
    } else {
        PrivacyLevel::Confidential
    };
    let facts = Facts {
        architecture: what.into(),
        tcb_status: Some(status),
        advisory_ids: claims.tcb.advisory_ids.clone(),
        versions,
        measurements,
        freshness: hex::encode(parsed.report_data),
        revocation_checked: true,
        deductions,
        ..Facts::default()
    };
    let entry = DcapEntry {
        attestation_key: parsed.attestation_key(),
        window: (claims.latest_issue_date, claims.earliest_expiration_date),
        attestation: Attestation::new(kind, tier, device_id, facts),
    };
    Ok((parsed, entry))
}

/// Warm path: the collateral, PCK chain, QE report and TCB were verified for an identical quote
/// (up to report_data and signature), so one P-256 signature and the nonce remain. Returns
/// `None` when the time is outside the verified window; the caller then runs the cold path,
/// which names the failure.
pub(crate) fn verify_warm(
    kind: EvidenceKind,
    parsed: &ParsedQuote,
    bytes: &[u8],
    entry: &DcapEntry,
    freshness: &Freshness,
    at: u64,
) -> Result<Option<Attestation>, TeeError> {
    if at < entry.window.0 || at > entry.window.1 {
        return Ok(None);
    }
    freshness::check(kind, freshness, "report_data", &parsed.report_data)?;
    if parsed.debug() {
        return Err(TeeError::DebugEnabled(if kind == EvidenceKind::Sgx {
            "sgx"
        } else {
            "tdx"
        }));
    }
    if parsed.attestation_key() != entry.attestation_key {
        return Ok(None);
    }
    let mut point = [0u8; 65];
    point[0] = 4;
    if let Some(tail) = point.get_mut(1..) {
        tail.copy_from_slice(&entry.attestation_key);
    }
    let key = x509::EcKey {
        curve: x509::Curve::P256,
        point: point.to_vec(),
    };
    let signed = bytes.get(..parsed.signed_len).unwrap_or_default();
    if !key.verify_fixed(signed, &parsed.signature()) {
        return Err(TeeError::DcapSignature(
            "ISV enclave report signature is invalid".into(),
        ));
    }
    let mut att = entry.attestation.clone();
    att.facts.freshness = hex::encode(parsed.report_data);
    Ok(Some(att))
}
