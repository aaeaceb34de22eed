//! `poai tee verify --json` through the real binary on the public vendor samples
//! (testdata/tee, PROVENANCE.md): verdicts, tiers and named errors, and exit codes.

use serde_json::Value;
use std::process::Command;

fn sample(rel: &str) -> String {
    format!("{}/../../testdata/tee/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// 2025-06-20 and 2025-07-20, UTC: inside and after the TDX collateral's validity.
const JUNE_2025: &str = "1750420800";
const JULY_2025: &str = "1752969600";
const TDX_REPORT_DATA: &str = "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20";
const NV_NONCE: &str = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";

fn verify(args: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_poai"))
        .args(["tee", "verify", "--json"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

#[test]
fn tdx_sample_verifies_then_expires() {
    let q = sample("intel/dcapqvl_tdx_quote");
    let c = sample("intel/dcapqvl_tdx_quote_collateral.json");
    let base = [
        "--kind",
        "tdx",
        "--evidence",
        &q,
        "--collateral",
        &c,
        "--report-data",
        TDX_REPORT_DATA,
    ];
    let (code, v) = verify(&[&base[..], &["--at", JUNE_2025]].concat());
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["tier"], 3, "{v}");
    let (code, v) = verify(&[&base[..], &["--at", JULY_2025]].concat());
    assert_eq!(code, Some(1), "{v}");
    assert!(v.to_string().contains("collateral_expired"), "{v}");
}

#[test]
fn nvidia_hopper_sample_and_forged_signature() {
    let chain = sample("nvidia/nvtrust_hopperCertChain.txt");
    let (code, v) = verify(&[
        "--kind",
        "nvidia",
        "--evidence",
        &sample("nvidia/nvtrust_hopperAttestationReport.txt"),
        "--chain",
        &chain,
        "--report-data",
        NV_NONCE,
        "--at",
        JUNE_2025,
    ]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["tier"], 3, "{v}");
    let (code, v) = verify(&[
        "--kind",
        "nvidia",
        "--evidence",
        &sample("nvidia/sdk_hopperAttestationReportInvalidSignature.txt"),
        "--chain",
        &sample("nvidia/sdk_hopperCertChainExpired.txt"),
        "--report-data",
        NV_NONCE,
        "--at",
        JUNE_2025,
    ]);
    assert_eq!(code, Some(1), "{v}");
    assert!(v.to_string().contains("report_signature"), "{v}");
}
