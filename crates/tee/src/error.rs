//! Named rejections (SPEC section 1: every error a user can cause names the field at fault).
//!
//! [`TeeError::code`] gives each variant a stable snake_case name: the CLI prints it in JSON and
//! the tests match on it, so a message can be reworded without breaking callers.

use thiserror::Error;

/// Why evidence was rejected. Every variant is a user-caused rejection except
/// [`TeeError::Internal`], which signals a bug in this crate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TeeError {
    // --- envelope -------------------------------------------------------------------------
    /// The envelope is longer than the 64 KiB bound.
    #[error("envelope: {len} bytes exceeds the {max}-byte limit")]
    EnvelopeTooLarge {
        /// Actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The envelope ends inside a field.
    #[error("envelope: truncated in {field}")]
    EnvelopeTruncated {
        /// The field being read.
        field: &'static str,
    },
    /// The envelope does not start with the magic bytes `PTEE`.
    #[error("envelope: magic must be \"PTEE\"")]
    EnvelopeMagic,
    /// Unknown envelope version.
    #[error("envelope: version {0} is not supported (expected 1)")]
    EnvelopeVersion(u8),
    /// Unknown evidence kind byte.
    #[error("envelope: kind byte {0:#04x} is not a known evidence kind")]
    EnvelopeKind(u8),
    /// A kind got the wrong number of fields.
    #[error("envelope: kind {kind} takes {expected} fields, got {got}")]
    EnvelopeFieldCount {
        /// The kind.
        kind: &'static str,
        /// Expected number of fields (or the maximum, for kinds with optional fields).
        expected: usize,
        /// Number found.
        got: usize,
    },
    /// Bytes remain after the last field.
    #[error("envelope: {extra} trailing bytes after the last field")]
    EnvelopeTrailing {
        /// Number of extra bytes.
        extra: usize,
    },
    /// A field that must not be empty is empty, or a nested envelope is of a forbidden kind.
    #[error("envelope: field {field} is invalid: {reason}")]
    EnvelopeField {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The declared kind does not match what the evidence itself proves (quote type or
    /// certificates).
    #[error("kind mismatch: the envelope says {declared}, the evidence is {actual}")]
    KindMismatch {
        /// Kind the envelope declared.
        declared: &'static str,
        /// Kind the evidence proves.
        actual: String,
    },

    // --- freshness ------------------------------------------------------------------------
    /// The freshness field does not carry the expected nonce binding.
    #[error("nonce mismatch: {field} does not bind the given nonce or report data")]
    NonceMismatch {
        /// The freshness field.
        field: &'static str,
    },
    /// Raw report data of the wrong size for the evidence's freshness field.
    #[error("report data: {field} is {expected} bytes, got {got}")]
    FreshnessLength {
        /// The freshness field.
        field: &'static str,
        /// Its size.
        expected: usize,
        /// The given size.
        got: usize,
    },

    // --- NVIDIA SPDM --------------------------------------------------------------------------
    /// The SPDM GET_MEASUREMENTS request or MEASUREMENTS response is malformed.
    #[error("spdm: {field}: {reason}")]
    SpdmMalformed {
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The GPU architecture named by the certificates is not supported.
    #[error("gpu: unsupported architecture {0:?} in the device certificate")]
    UnsupportedGpu(String),
    /// The leaf certificate's DICE FWID does not match the report's opaque FWID.
    #[error("gpu: FWID in the leaf certificate does not match the report's opaque data")]
    FwidMismatch,
    /// No FWID in the leaf certificate or in the opaque data.
    #[error("gpu: FWID missing from the {0}")]
    FwidMissing(&'static str),

    // --- certificates ---------------------------------------------------------------------
    /// A certificate chain of the wrong length.
    #[error("certificate chain: expected {expected} certificates, got {got}")]
    ChainLength {
        /// Expected count.
        expected: usize,
        /// Actual count.
        got: usize,
    },
    /// A certificate does not parse.
    #[error("certificate {index}: does not parse: {reason}")]
    CertificateParse {
        /// Position in the chain, leaf = 0.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The chain does not end at the pinned root.
    #[error("certificate chain: root is not the pinned {0}")]
    UntrustedRoot(&'static str),
    /// A certificate's issuer is not the next certificate's subject.
    #[error("certificate {index}: issuer does not match the subject of certificate {}", index + 1)]
    CertificateIssuerMismatch {
        /// Position in the chain.
        index: usize,
    },
    /// A certificate's signature does not verify under its issuer's key.
    #[error("certificate {index}: signature does not verify under its issuer's key")]
    CertificateSignature {
        /// Position in the chain.
        index: usize,
    },
    /// An issuing certificate is not a CA.
    #[error("certificate {index}: issues a certificate but is not a CA")]
    CertificateNotCa {
        /// Position in the chain.
        index: usize,
    },
    /// A certificate's validity ended before the verification time.
    #[error("certificate {index}: expired at {not_after} (verification time {at})")]
    CertificateExpired {
        /// Position in the chain.
        index: usize,
        /// Its notAfter, Unix seconds.
        not_after: u64,
        /// The verification time.
        at: u64,
    },
    /// A certificate is not yet valid at the verification time.
    #[error("certificate {index}: not valid before {not_before} (verification time {at})")]
    CertificateNotYetValid {
        /// Position in the chain.
        index: usize,
        /// Its notBefore, Unix seconds.
        not_before: u64,
        /// The verification time.
        at: u64,
    },
    /// A key or signature algorithm this verifier does not accept.
    #[error("certificate {index}: unsupported algorithm {what}")]
    UnsupportedAlgorithm {
        /// Position in the chain.
        index: usize,
        /// What was found.
        what: String,
    },

    // --- report signatures and policy ----------------------------------------------------
    /// The evidence's own signature (SPDM report, SNP report, COSE token) does not verify.
    #[error("{0}: signature does not verify")]
    ReportSignature(&'static str),
    /// Debug mode is enabled in the attested environment.
    #[error("{0}: debug mode is enabled")]
    DebugEnabled(&'static str),
    /// A reference measurement does not match.
    #[error("reference: measurement {index} does not match")]
    MeasurementMismatch {
        /// Measurement block index.
        index: u8,
    },
    /// A reference measurement is missing from the evidence.
    #[error("reference: measurement {index} is missing from the evidence")]
    MeasurementMissing {
        /// Measurement block index.
        index: u8,
    },
    /// The reference values are no longer valid at the verification time.
    #[error("reference: values expired at {not_after} (verification time {at})")]
    ReferenceExpired {
        /// Their end of validity.
        not_after: u64,
        /// The verification time.
        at: u64,
    },
    /// A versioned field differs from the reference.
    #[error("reference: {field} is {got:?}, the reference requires {expected:?}")]
    ReferenceVersionMismatch {
        /// The field.
        field: &'static str,
        /// The reference value.
        expected: String,
        /// The evidence value.
        got: String,
    },

    // --- Intel DCAP -----------------------------------------------------------------------
    /// The DCAP quote does not parse or is of an unsupported version.
    #[error("dcap quote: {0}")]
    QuoteParse(String),
    /// The collateral does not parse.
    #[error("dcap collateral: does not parse: {0}")]
    CollateralParse(String),
    /// The collateral (TCB info, QE identity, CRLs) is expired or not yet valid.
    #[error("dcap collateral: expired or not yet valid at the verification time: {0}")]
    CollateralExpired(String),
    /// No TCB level of the collateral matches the platform.
    #[error("dcap tcb: no matching TCB level: {0}")]
    TcbNoMatch(String),
    /// The platform's TCB is revoked.
    #[error("{0}: TCB status is Revoked")]
    TcbRevoked(&'static str),
    /// A DCAP signature (quote, QE report, PCK chain, collateral) does not verify.
    #[error("dcap: signature or certificate check failed: {0}")]
    DcapSignature(String),
    /// Any other DCAP verification failure.
    #[error("dcap: verification failed: {0}")]
    DcapVerification(String),

    // --- AMD SEV-SNP ----------------------------------------------------------------------
    /// The SNP report does not parse.
    #[error("snp report: {0}")]
    SnpReportParse(String),
    /// The VCEK/VLEK does not chain to the pinned ARK/ASK.
    #[error("snp chain: {0}")]
    SnpChain(String),
    /// The product named by the VEK issuer has no pinned roots.
    #[error("snp: unknown AMD product {0:?}")]
    UnknownAmdProduct(String),
    /// A VEK extension disagrees with the report.
    #[error("snp: VEK extension {field} does not match the report")]
    SnpVekMismatch {
        /// The extension.
        field: &'static str,
    },
    /// The report was requested at a VMPL other than 0.
    #[error("snp: report VMPL is {0}, must be 0")]
    VmplNotZero(u32),
    /// The report's signature algorithm is not ECDSA P-384 with SHA-384.
    #[error("snp: signature algorithm {0} is not ECDSA P-384/SHA-384 (1)")]
    UnsupportedSignatureAlgorithm(u32),

    // --- Arm CCA --------------------------------------------------------------------------
    /// The CCA token is malformed.
    #[error("cca token: {field}: {reason}")]
    CcaToken {
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// No registered platform key for the token's instance id.
    #[error("cca: no registered platform key for instance id {0}")]
    CcaUnknownPlatform(String),
    /// The platform token's challenge is not the hash of the realm attestation key.
    #[error("cca: platform challenge does not bind the realm public key")]
    CcaBindingMismatch,
    /// The platform lifecycle state is not "secured".
    #[error("cca: security lifecycle {0:#06x} is not a secured state")]
    CcaLifecycle(u64),

    // --- composite ------------------------------------------------------------------------
    /// The CPU quote's report_data does not bind the GPU evidence and the nonce.
    #[error("composite: the CPU report_data does not bind the GPU evidence and nonce")]
    CompositeNotBound,
    /// Composite evidence needs a nonce; raw report data cannot bind two reports.
    #[error("composite: verification needs a nonce, not raw report data")]
    CompositeNeedsNonce,

    /// A bug in this crate (never caused by input).
    #[error("internal error: {0}")]
    Internal(String),
}

impl TeeError {
    /// A stable snake_case name for the rejection.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EnvelopeTooLarge { .. } => "envelope_too_large",
            Self::EnvelopeTruncated { .. } => "envelope_truncated",
            Self::EnvelopeMagic => "envelope_magic",
            Self::EnvelopeVersion(_) => "envelope_version",
            Self::EnvelopeKind(_) => "envelope_kind",
            Self::EnvelopeFieldCount { .. } => "envelope_field_count",
            Self::EnvelopeTrailing { .. } => "envelope_trailing",
            Self::EnvelopeField { .. } => "envelope_field",
            Self::KindMismatch { .. } => "kind_mismatch",
            Self::NonceMismatch { .. } => "nonce_mismatch",
            Self::FreshnessLength { .. } => "freshness_length",
            Self::SpdmMalformed { .. } => "spdm_malformed",
            Self::UnsupportedGpu(_) => "unsupported_gpu",
            Self::FwidMismatch => "fwid_mismatch",
            Self::FwidMissing(_) => "fwid_missing",
            Self::ChainLength { .. } => "chain_length",
            Self::CertificateParse { .. } => "certificate_parse",
            Self::UntrustedRoot(_) => "untrusted_root",
            Self::CertificateIssuerMismatch { .. } => "certificate_issuer_mismatch",
            Self::CertificateSignature { .. } => "certificate_signature",
            Self::CertificateNotCa { .. } => "certificate_not_ca",
            Self::CertificateExpired { .. } => "certificate_expired",
            Self::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Self::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Self::ReportSignature(_) => "report_signature",
            Self::DebugEnabled(_) => "debug_enabled",
            Self::MeasurementMismatch { .. } => "measurement_mismatch",
            Self::MeasurementMissing { .. } => "measurement_missing",
            Self::ReferenceExpired { .. } => "reference_expired",
            Self::ReferenceVersionMismatch { .. } => "reference_version_mismatch",
            Self::QuoteParse(_) => "quote_parse",
            Self::CollateralParse(_) => "collateral_parse",
            Self::CollateralExpired(_) => "collateral_expired",
            Self::TcbNoMatch(_) => "tcb_no_match",
            Self::TcbRevoked(_) => "tcb_revoked",
            Self::DcapSignature(_) => "dcap_signature",
            Self::DcapVerification(_) => "dcap_verification",
            Self::SnpReportParse(_) => "snp_report_parse",
            Self::SnpChain(_) => "snp_chain",
            Self::UnknownAmdProduct(_) => "unknown_amd_product",
            Self::SnpVekMismatch { .. } => "snp_vek_mismatch",
            Self::VmplNotZero(_) => "vmpl_not_zero",
            Self::UnsupportedSignatureAlgorithm(_) => "unsupported_signature_algorithm",
            Self::CcaToken { .. } => "cca_token",
            Self::CcaUnknownPlatform(_) => "cca_unknown_platform",
            Self::CcaBindingMismatch => "cca_binding_mismatch",
            Self::CcaLifecycle(_) => "cca_lifecycle",
            Self::CompositeNotBound => "composite_not_bound",
            Self::CompositeNeedsNonce => "composite_needs_nonce",
            Self::Internal(_) => "internal",
        }
    }

    pub(crate) fn spdm(field: &'static str, reason: impl Into<String>) -> Self {
        Self::SpdmMalformed {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn cca(field: &'static str, reason: impl Into<String>) -> Self {
        Self::CcaToken {
            field,
            reason: reason.into(),
        }
    }
}
