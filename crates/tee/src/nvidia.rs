//! NVIDIA GPU evidence: SPDM 1.1 GET_MEASUREMENTS request and MEASUREMENTS response, signed by
//! the GPU's device key, whose 5-certificate P-384 chain ends at the NVIDIA Device Identity CA.
//!
//! Byte layout (DMTF DSP0274 1.1, sections 10.11; all multi-byte integers little-endian):
//!
//! | offset | GET_MEASUREMENTS request (37 bytes) |
//! |---|---|
//! | 0 | SPDMVersion `0x11` |
//! | 1 | RequestResponseCode `0xE0` |
//! | 2 | Param1 (bit 0: signature requested, must be set) |
//! | 3 | Param2 (measurement operation) |
//! | 4..36 | Nonce (the freshness field, SPEC section 5) |
//! | 36 | SlotIDParam |
//!
//! | offset | MEASUREMENTS response |
//! |---|---|
//! | 0 | SPDMVersion `0x11` |
//! | 1 | RequestResponseCode `0x60` |
//! | 2, 3 | Param1, Param2 |
//! | 4 | NumberOfBlocks |
//! | 5..8 | MeasurementRecordLength L1 (u24) |
//! | 8.. | MeasurementRecord: blocks `Index(1) ‖ Spec(1) = 1 (DMTF) ‖ Size(2) ‖ ValueType(1) ‖ ValueSize(2) ‖ Value` |
//! | 8+L1 | response Nonce (32) |
//! | 40+L1 | OpaqueLength L2 (u16) |
//! | 42+L1.. | OpaqueData: NVIDIA TLVs `Type(2) ‖ Size(2) ‖ Data` |
//! | 42+L1+L2 | Signature: ECDSA P-384 over SHA-384(request ‖ response up to here), raw `r ‖ s` (96) |
//!
//! The parser follows the length fields and rejects anything left over. The leaf certificate's
//! TCG DICE extension (2.23.133.5.4.1 on Hopper, 2.23.133.5.4.1.1 on Blackwell) carries the
//! firmware id (FWID, SHA-384) that the opaque field 20 must repeat. The architecture comes from
//! the leaf certificate's subject (`GH100 …` Hopper, `GB100 …`/`GB20x …` Blackwell), never from
//! the opaque data.

use crate::attestation::{Attestation, Deduction, Facts, no_revocation};
use crate::envelope::EvidenceKind;
use crate::error::TeeError;
use crate::freshness::{self, Freshness};
use crate::x509::{self, ChainWindow, EcKey};
use der::asn1::ObjectIdentifier;
use der::{Decode, Header, Reader, SliceReader, Tag};
use poai_primitives::{DeviceId, PrivacyLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Length of the GET_MEASUREMENTS request.
pub const REQUEST_LEN: usize = 37;
/// Length of the raw P-384 signature.
pub const SIGNATURE_LEN: usize = 96;
/// Certificates in the device chain, leaf to root.
pub const CHAIN_LEN: usize = 5;
/// Opaque field id of the firmware id.
pub const OPAQUE_FWID: u16 = 20;
const OPAQUE_DRIVER_VERSION: u16 = 3;
const OPAQUE_VBIOS_VERSION: u16 = 6;

const OID_DICE_TCB_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1");
const OID_DICE_TCB_INFO_1: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");

/// One DMTF measurement block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementBlock {
    /// Block index (1-based).
    pub index: u8,
    /// DMTFSpecMeasurementValueType.
    pub value_type: u8,
    /// The measurement.
    pub value: Vec<u8>,
}

/// One opaque-data TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueField {
    /// NVIDIA field id.
    pub id: u16,
    /// Its data.
    pub data: Vec<u8>,
}

/// A parsed SPDM request and response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpdmReport<'a> {
    /// The request nonce (the freshness field).
    pub request_nonce: [u8; 32],
    /// The nonce the responder generated.
    pub response_nonce: [u8; 32],
    /// Measurement blocks in record order.
    pub measurements: Vec<MeasurementBlock>,
    /// Opaque fields in order.
    pub opaque: Vec<OpaqueField>,
    /// The bytes the signature covers.
    pub signed: &'a [u8],
    /// The raw `r ‖ s` signature.
    pub signature: &'a [u8],
}

impl SpdmReport<'_> {
    /// An opaque field by id.
    pub fn opaque_field(&self, id: u16) -> Option<&[u8]> {
        self.opaque
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.data.as_slice())
    }

    /// The driver version string (opaque field 3).
    pub fn driver_version(&self) -> Option<String> {
        self.opaque_field(OPAQUE_DRIVER_VERSION).map(c_string)
    }

    /// The VBIOS version as NVIDIA prints it (opaque field 6), e.g. `96.00.9F.00.01`.
    pub fn vbios_version(&self) -> Option<String> {
        match self.opaque_field(OPAQUE_VBIOS_VERSION)? {
            [b0, b1, b2, b3, b4, ..] => {
                Some(format!("{b3:02X}.{b2:02X}.{b1:02X}.{b0:02X}.{b4:02X}"))
            }
            _ => None,
        }
    }
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], TeeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| TeeError::spdm(field, "length overflows"))?;
        let s = self.bytes.get(self.pos..end).ok_or_else(|| {
            TeeError::spdm(
                field,
                format!(
                    "needs {n} bytes at offset {}, {} remain",
                    self.pos,
                    self.bytes.len().saturating_sub(self.pos)
                ),
            )
        })?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, TeeError> {
        self.take(1, field)?
            .first()
            .copied()
            .ok_or_else(|| TeeError::spdm(field, "missing"))
    }

    fn u16le(&mut self, field: &'static str) -> Result<u16, TeeError> {
        match self.take(2, field)? {
            [a, b] => Ok(u16::from_le_bytes([*a, *b])),
            _ => Err(TeeError::spdm(field, "missing")),
        }
    }

    fn array32(&mut self, field: &'static str) -> Result<[u8; 32], TeeError> {
        <[u8; 32]>::try_from(self.take(32, field)?).map_err(|_| TeeError::spdm(field, "size"))
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }
}

/// Parses an SPDM GET_MEASUREMENTS request followed by its MEASUREMENTS response.
pub fn parse_spdm(bytes: &[u8]) -> Result<SpdmReport<'_>, TeeError> {
    let mut c = Cursor { bytes, pos: 0 };
    // Request.
    if c.u8("request SPDMVersion")? != 0x11 {
        return Err(TeeError::spdm(
            "request SPDMVersion",
            "must be 0x11 (SPDM 1.1)",
        ));
    }
    if c.u8("request code")? != 0xE0 {
        return Err(TeeError::spdm(
            "request code",
            "must be 0xE0 (GET_MEASUREMENTS)",
        ));
    }
    if c.u8("request Param1")? & 1 != 1 {
        return Err(TeeError::spdm("request Param1", "signature not requested"));
    }
    let _operation = c.u8("request Param2")?;
    let request_nonce = c.array32("request nonce")?;
    let _slot = c.u8("request SlotIDParam")?;
    // Response.
    if c.u8("response SPDMVersion")? != 0x11 {
        return Err(TeeError::spdm(
            "response SPDMVersion",
            "must be 0x11 (SPDM 1.1)",
        ));
    }
    if c.u8("response code")? != 0x60 {
        return Err(TeeError::spdm(
            "response code",
            "must be 0x60 (MEASUREMENTS)",
        ));
    }
    let _param1 = c.u8("response Param1")?;
    let _param2 = c.u8("response Param2")?;
    let blocks = c.u8("NumberOfBlocks")?;
    let rec_len = match c.take(3, "MeasurementRecordLength")? {
        [a, b, d] => u32::from_le_bytes([*a, *b, *d, 0]),
        _ => return Err(TeeError::spdm("MeasurementRecordLength", "missing")),
    };
    let rec_len = usize::try_from(rec_len)
        .map_err(|_| TeeError::spdm("MeasurementRecordLength", "too large"))?;
    let record = c.take(rec_len, "MeasurementRecord")?;
    let measurements = parse_record(record, blocks)?;
    let response_nonce = c.array32("response nonce")?;
    let opaque_len = c.u16le("OpaqueLength")?;
    let opaque = parse_opaque(c.take(usize::from(opaque_len), "OpaqueData")?)?;
    let signed_len = c.pos;
    if c.remaining() != SIGNATURE_LEN {
        return Err(TeeError::spdm(
            "Signature",
            format!(
                "expected exactly {SIGNATURE_LEN} bytes after the opaque data, got {}",
                c.remaining()
            ),
        ));
    }
    let signature = c.take(SIGNATURE_LEN, "Signature")?;
    let signed = bytes
        .get(..signed_len)
        .ok_or_else(|| TeeError::spdm("Signature", "offset"))?;
    Ok(SpdmReport {
        request_nonce,
        response_nonce,
        measurements,
        opaque,
        signed,
        signature,
    })
}

fn parse_record(record: &[u8], blocks: u8) -> Result<Vec<MeasurementBlock>, TeeError> {
    if blocks == 0 {
        return Err(TeeError::spdm("NumberOfBlocks", "no measurement blocks"));
    }
    let mut c = Cursor {
        bytes: record,
        pos: 0,
    };
    let mut out: Vec<MeasurementBlock> = Vec::with_capacity(usize::from(blocks));
    for _ in 0..blocks {
        let index = c.u8("measurement Index")?;
        if index == 0 || out.iter().any(|b| b.index == index) {
            return Err(TeeError::spdm(
                "measurement Index",
                format!("index {index} is zero or repeated"),
            ));
        }
        if c.u8("MeasurementSpecification")? != 1 {
            return Err(TeeError::spdm(
                "MeasurementSpecification",
                format!("block {index} is not DMTF (1)"),
            ));
        }
        let size = c.u16le("MeasurementSize")?;
        let body = c.take(usize::from(size), "Measurement")?;
        let mut m = Cursor {
            bytes: body,
            pos: 0,
        };
        let value_type = m.u8("DMTFSpecMeasurementValueType")?;
        let value_size = m.u16le("DMTFSpecMeasurementValueSize")?;
        let value = m.take(usize::from(value_size), "DMTFSpecMeasurementValue")?;
        if m.remaining() != 0 {
            return Err(TeeError::spdm(
                "DMTFSpecMeasurementValueSize",
                format!("block {index}: value size disagrees with MeasurementSize"),
            ));
        }
        out.push(MeasurementBlock {
            index,
            value_type,
            value: value.to_vec(),
        });
    }
    if c.remaining() != 0 {
        return Err(TeeError::spdm(
            "MeasurementRecordLength",
            format!("{} bytes left after {blocks} blocks", c.remaining()),
        ));
    }
    Ok(out)
}

fn parse_opaque(data: &[u8]) -> Result<Vec<OpaqueField>, TeeError> {
    let mut c = Cursor {
        bytes: data,
        pos: 0,
    };
    let mut out: Vec<OpaqueField> = Vec::new();
    while c.remaining() > 0 {
        let id = c.u16le("opaque DataType")?;
        let size = c.u16le("opaque DataSize")?;
        let body = c.take(usize::from(size), "opaque Data")?;
        if out.iter().any(|f| f.id == id) {
            return Err(TeeError::spdm(
                "opaque DataType",
                format!("field {id} repeated"),
            ));
        }
        out.push(OpaqueField {
            id,
            data: body.to_vec(),
        });
    }
    Ok(out)
}

/// A GPU architecture with a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GpuArch {
    Hopper,
    Blackwell,
}

/// What a verified device chain proves; cached by the chain's hash.
#[derive(Debug, Clone)]
pub(crate) struct GpuChain {
    pub leaf_key: EcKey,
    pub window: ChainWindow,
    pub arch: GpuArch,
    pub chip: String,
    pub fwids: Vec<Vec<u8>>,
    pub device_id: DeviceId,
}

/// Verifies the device certificate chain against the pinned root (signatures and structure;
/// time is checked by the caller so that the warm path can reuse the result).
pub(crate) fn verify_gpu_chain(chain: &[Vec<u8>], root: &[u8]) -> Result<GpuChain, TeeError> {
    let v = x509::verify_chain(chain, CHAIN_LEN, root, "NVIDIA Device Identity CA")?;
    let leaf = v
        .certs
        .first()
        .ok_or_else(|| TeeError::Internal("empty chain".into()))?;
    let cn = leaf.common_name().unwrap_or_default();
    let chip = cn.split_whitespace().next().unwrap_or_default().to_owned();
    let arch = if chip.starts_with("GH1") {
        GpuArch::Hopper
    } else if chip.starts_with("GB1") || chip.starts_with("GB2") {
        GpuArch::Blackwell
    } else {
        return Err(TeeError::UnsupportedGpu(cn));
    };
    let fwids = [OID_DICE_TCB_INFO, OID_DICE_TCB_INFO_1]
        .iter()
        .filter_map(|oid| leaf.extension(oid))
        .flat_map(|ext| {
            let mut found = Vec::new();
            collect_fwids(ext, 0, &mut found);
            found
        })
        .filter(|d| d.iter().any(|&b| b != 0))
        .collect();
    let device_id = DeviceId(*blake3::hash(&v.leaf_key.point).as_bytes());
    Ok(GpuChain {
        leaf_key: v.leaf_key,
        window: v.window,
        arch,
        chip,
        fwids,
        device_id,
    })
}

/// Collects every `SEQUENCE { OID sha384, OCTET STRING (48) }` inside a DICE TcbInfo value.
fn collect_fwids(der: &[u8], depth: u8, out: &mut Vec<Vec<u8>>) {
    if depth > 6 {
        return;
    }
    let Ok(mut r) = SliceReader::new(der) else {
        return;
    };
    let mut prev_sha384 = false;
    while !r.is_finished() {
        let Ok(header) = Header::decode(&mut r) else {
            return;
        };
        let Ok(body) = r.read_slice(header.length()) else {
            return;
        };
        let tag = header.tag();
        if tag == Tag::ObjectIdentifier {
            prev_sha384 = ObjectIdentifier::from_bytes(body).is_ok_and(|o| o == OID_SHA384);
            continue;
        }
        if tag == Tag::OctetString && prev_sha384 && body.len() == 48 {
            out.push(body.to_vec());
        } else if tag.is_constructed() {
            collect_fwids(body, depth.saturating_add(1), out);
        }
        prev_sha384 = false;
    }
}

/// Reference values for GPU measurements (e.g. derived off-chain from NVIDIA's signed RIMs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuReference {
    /// Required driver version, if any.
    #[serde(default)]
    pub driver_version: Option<String>,
    /// Required VBIOS version, if any.
    #[serde(default)]
    pub vbios_version: Option<String>,
    /// End of validity of these values (Unix seconds), e.g. the RIM's expiry.
    #[serde(default)]
    pub not_after: Option<u64>,
    /// Allowed values (hex) per measurement index.
    #[serde(default)]
    pub measurements: BTreeMap<u8, Vec<String>>,
}

impl GpuReference {
    fn check(&self, report: &SpdmReport<'_>, at: u64) -> Result<(), TeeError> {
        if let Some(not_after) = self.not_after
            && at > not_after
        {
            return Err(TeeError::ReferenceExpired { not_after, at });
        }
        let pairs = [
            (
                "driver_version",
                &self.driver_version,
                report.driver_version(),
            ),
            ("vbios_version", &self.vbios_version, report.vbios_version()),
        ];
        for (field, want, got) in pairs {
            if let Some(want) = want
                && got.as_deref() != Some(want.as_str())
            {
                return Err(TeeError::ReferenceVersionMismatch {
                    field,
                    expected: want.clone(),
                    got: got.unwrap_or_default(),
                });
            }
        }
        for (&index, allowed) in &self.measurements {
            let block = report
                .measurements
                .iter()
                .find(|b| b.index == index)
                .ok_or(TeeError::MeasurementMissing { index })?;
            let value = hex::encode(&block.value);
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&value)) {
                return Err(TeeError::MeasurementMismatch { index });
            }
        }
        Ok(())
    }
}

/// Verifies an SPDM report against an already verified chain (one P-384 signature).
pub(crate) fn verify_report(
    spdm: &[u8],
    chain: &GpuChain,
    freshness: &Freshness,
    at: u64,
    reference: Option<&GpuReference>,
) -> Result<Attestation, TeeError> {
    chain.window.check(at)?;
    let report = parse_spdm(spdm)?;
    // Cheap checks first: a wrong nonce costs no signature verification.
    freshness::check(
        EvidenceKind::Nvidia,
        freshness,
        "SPDM request nonce",
        &report.request_nonce,
    )?;
    // Authenticity before consistency: a report the leaf did not sign fails as such, whatever
    // its FWID says.
    if chain.leaf_key.curve != x509::Curve::P384
        || !chain.leaf_key.verify_fixed(report.signed, report.signature)
    {
        return Err(TeeError::ReportSignature("SPDM measurements"));
    }
    let fwid = report
        .opaque_field(OPAQUE_FWID)
        .ok_or(TeeError::FwidMissing("report's opaque data"))?;
    if chain.fwids.is_empty() {
        return Err(TeeError::FwidMissing("leaf certificate"));
    }
    if !chain.fwids.iter().any(|f| f.as_slice() == fwid) {
        return Err(TeeError::FwidMismatch);
    }
    if let Some(r) = reference {
        r.check(&report, at)?;
    }
    let mut deductions = vec![no_revocation()];
    if reference.is_none() {
        deductions.push(Deduction::new(
            "GPU measurements not compared with reference values",
            3,
        ));
    }
    let arch_name = match chain.arch {
        GpuArch::Hopper => "hopper",
        GpuArch::Blackwell => "blackwell",
    };
    let mut versions = BTreeMap::new();
    if let Some(v) = report.driver_version() {
        versions.insert("driver".into(), v);
    }
    if let Some(v) = report.vbios_version() {
        versions.insert("vbios".into(), v);
    }
    let measurements = report
        .measurements
        .iter()
        .map(|b| (format!("{:02}", b.index), hex::encode(&b.value)))
        .collect();
    let claims = report
        .opaque
        .iter()
        .filter(|f| f.id != OPAQUE_DRIVER_VERSION && f.id != OPAQUE_VBIOS_VERSION)
        .map(|f| (opaque_name(f.id), hex::encode(&f.data)))
        .collect();
    let facts = Facts {
        architecture: format!("{arch_name} {}", chain.chip),
        tcb_status: None,
        versions,
        measurements,
        claims,
        freshness: hex::encode(report.request_nonce),
        reference_checked: reference.is_some(),
        revocation_checked: false,
        deductions,
        ..Facts::default()
    };
    Ok(Attestation::new(
        EvidenceKind::Nvidia,
        PrivacyLevel::Confidential,
        chain.device_id,
        facts,
    ))
}

fn opaque_name(id: u16) -> String {
    let name = match id {
        1 => "cert_issuer_name",
        2 => "cert_authority_key_identifier",
        4 => "gpu_info",
        5 => "sku",
        7 => "manufacturer_id",
        8 => "tamper_detection",
        9 => "smc",
        10 => "vpr",
        11 => "nvdec0_status",
        12 => "msrscnt",
        13 => "cprinfo",
        14 => "board_id",
        15 => "chip_sku",
        16 => "chip_sku_mod",
        17 => "project",
        18 => "project_sku",
        19 => "project_sku_mod",
        20 => "fwid",
        21 => "protected_pcie_status",
        22 => "switch_pdi",
        23 => "floorswept_ports",
        24 => "position_id",
        25 => "lock_switch_status",
        32 => "gpu_link_conn",
        33 => "sys_enable_status",
        34 => "opaque_data_version",
        35 => "chip_info",
        36 => "feature_flag",
        _ => return format!("opaque_{id}"),
    };
    name.to_owned()
}
