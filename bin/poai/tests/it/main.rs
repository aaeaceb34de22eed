//! The real `poai` binary, driven as a user would: key files, proofs, signatures and rewards,
//! checked against the foundation's reference vectors.

// Test and bench code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod devnet;
mod loopback;
mod tee;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn poai(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poai"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run poai")
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = poai(dir, args);
    assert!(
        out.status.success(),
        "poai {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

const DEVICE: &str = "0102030000000000000000000000000000000000000000000000000000000000";
const NONCE: &str = "0405060000000000000000000000000000000000000000000000000000000000";

#[test]
fn proof_build_matches_reference_vector() {
    let dir = tempfile::tempdir().unwrap();
    let v = ok_json(
        dir.path(),
        &[
            "proof",
            "build",
            "--device",
            DEVICE,
            "--nonce",
            NONCE,
            "--timestamp",
            "1700000000",
            "--privacy",
            "3",
            "--minutes",
            "60",
            "--chain-id",
            "96369",
            "--json",
        ],
    );
    let want = format!(
        "010203{z}040506{z}000000006553f10000030000003c",
        z = "00".repeat(29)
    );
    assert_eq!(v["proof"], want);
    assert_eq!(
        v["work_id"],
        "d6be424ffa2b7c5e627bcaf31881d10dac9b78b3e8916c46f4d92a456ac1972e"
    );
    let v = ok_json(
        dir.path(),
        &[
            "proof",
            "decode",
            "--proof",
            &want,
            "--chain-id",
            "36963",
            "--json",
        ],
    );
    assert_eq!(
        v["work_id"],
        "03457c5c2cdf79b6cbede26b4ee478902cc84ceabb12e23901c638754cb397d2"
    );
    assert_eq!(v["fields"]["compute_minutes"], 60);

    let bad = poai(dir.path(), &["proof", "decode", "--proof", &want[..150]]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("compute_minutes"), "{err}");
}

#[test]
fn keys_sign_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for set in ["44", "65", "87"] {
        let file = format!("k{set}.key");
        let v = ok_json(
            d,
            &["keys", "new", "--out", &file, "--param-set", set, "--json"],
        );
        assert_eq!(v["param_set"], format!("ML-DSA-{set}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.join(&file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The secret never reaches standard output.
        let text = std::fs::read_to_string(d.join(&file)).unwrap();
        let key: Value = serde_json::from_str(&text).unwrap();
        let seed = key["seed"].as_str().unwrap();
        let show = poai(d, &["keys", "show", "--key", &file]);
        assert!(!String::from_utf8_lossy(&show.stdout).contains(seed));

        let proof = ok_json(
            d,
            &[
                "proof",
                "build",
                "--device",
                DEVICE,
                "--privacy",
                "2",
                "--minutes",
                "5",
                "--json",
            ],
        )["proof"]
            .as_str()
            .unwrap()
            .to_owned();
        let signed = poai(
            d,
            &[
                "proof",
                "sign",
                "--key",
                &file,
                "--proof",
                &proof,
                "--chain-id",
                "200200",
                "--beneficiary",
                "0x00000000000000000000000000000000000000bb",
                "--json",
            ],
        );
        assert!(signed.status.success());
        std::fs::write(d.join("signed.json"), &signed.stdout).unwrap();
        let v = ok_json(d, &["proof", "verify", "--signed", "signed.json", "--json"]);
        assert_eq!(v["valid"], true);

        // The same signature for another chain or beneficiary fails with exit code 1.
        let s: Value = serde_json::from_slice(&signed.stdout).unwrap();
        let sig = s["signature"].as_str().unwrap();
        for (chain, who) in [
            ("200201", "0x00000000000000000000000000000000000000bb"),
            ("200200", "0x00000000000000000000000000000000000000cc"),
        ] {
            let out = poai(
                d,
                &[
                    "proof",
                    "verify",
                    "--proof",
                    &proof,
                    "--signature",
                    sig,
                    "--key",
                    &file,
                    "--chain-id",
                    chain,
                    "--beneficiary",
                    who,
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "chain {chain} beneficiary {who}"
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID"));
        }
    }
}

#[test]
fn reward_vectors() {
    let dir = tempfile::tempdir().unwrap();
    // 10 minutes at levels 1..4, early enough that the ceiling does not bind.
    let want = [
        "2500000000000000000",
        "5000000000000000000",
        "10000000000000000000",
        "15000000000000000000",
    ];
    for (level, gross) in (1..=4).zip(want) {
        let v = ok_json(
            dir.path(),
            &[
                "reward",
                "--privacy",
                &level.to_string(),
                "--minutes",
                "10",
                "--height",
                "1000",
                "--json",
            ],
        );
        assert_eq!(v["gross"], gross);
        assert_eq!(v["paid"], gross);
    }
    // 100 AI paid: 98 to the miner, 2 to the treasury (100 AI = 100 Confidential minutes at
    // a height whose ceiling allows it).
    let v = ok_json(
        dir.path(),
        &[
            "reward",
            "--privacy",
            "3",
            "--minutes",
            "100",
            "--height",
            "1000",
            "--json",
        ],
    );
    assert_eq!(v["paid"], "100000000000000000000");
    assert_eq!(v["miner"], "98000000000000000000");
    assert_eq!(v["treasury"], "2000000000000000000");
    // One epoch later the same work earns half.
    let v = ok_json(
        dir.path(),
        &[
            "reward",
            "--privacy",
            "3",
            "--minutes",
            "10",
            "--height",
            "63072000",
            "--json",
        ],
    );
    assert_eq!(v["epoch"], 1);
    assert_eq!(v["paid"], "5000000000000000000");
}
