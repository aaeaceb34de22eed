//! Validators through the real node and CLI (docs/DESIGN-consensus.md, section 2): a
//! single-validator node in this process whose genesis has a `consensus` section (this branch's
//! producer ignores it for block production), driven by the `poai-node validator …` binary:
//! key file, bond, list, unbond, and the stake's return at the release height.

use poai_chain::api::ValidatorsView;
use poai_chain::genesis::{ConsensusGenesis, GenesisAccount, GenesisValidator};
use poai_chain::validator::consensus_public_key;
use poai_chain::{Genesis, address_of};
use poai_crypto::{ParamSet, SigningKey, keyfile};
use poai_node::devnet::devnet_genesis;
use poai_node::{NodeConfig, start};
use poai_primitives::Address;
use std::path::Path;
use std::time::{Duration, Instant};

const STAKE: u128 = 5_000;

fn genesis(owner: Address, genesis_owner: Address) -> Genesis {
    let mut g = devnet_genesis(1_800_000_000, 60);
    g.accounts = vec![GenesisAccount {
        address: owner,
        balance: 1_000_000,
    }];
    g.consensus = Some(ConsensusGenesis {
        epoch_length: 3,
        min_validator_stake: 1_000,
        max_validators: 10,
        unbonding_epochs: 1,
        validators: vec![GenesisValidator {
            consensus_key: consensus_public_key(&[0x21; 32]),
            address: genesis_owner,
            stake: 2_000,
            net_addr: Some("127.0.0.1:30300".into()),
        }],
    });
    g
}

/// Runs `poai-node ARGS`; its stdout, or the test fails with its stderr.
fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(crate::bin())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "poai-node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn list(url: &str) -> ValidatorsView {
    serde_json::from_str(&cli(&["validator", "list", "--rpc", url])).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn bond_list_unbond_through_the_cli() {
    // Multi-threaded: the node's tasks run while this thread waits on the CLI processes.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let account = SigningKey::from_seed(ParamSet::MlDsa44, &[0x31; 32]).unwrap();
    let owner = address_of(account.verifying_key());
    let key_file = dir.path().join("account.key");
    keyfile::write(&key_file, &account, false).unwrap();
    let g = genesis(owner, Address([0x44; 20]));

    let mut cfg = NodeConfig::new(g, dir.path().join("data"));
    cfg.block_interval = Duration::from_millis(100);
    let node = rt
        .block_on(start(cfg, poai_node::tee::machine()))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let url = format!("http://{}", node.rpc_addr);
    let client = {
        let mut c = poai_miner::NodeClient::new(&url).unwrap();
        c.retries = 0;
        c
    };
    let balance =
        |rt: &tokio::runtime::Runtime| rt.block_on(client.account(owner)).unwrap().account.balance;

    // A new consensus key: printed public key only, file 0600 with the 64-hex seed.
    let ck = dir.path().join("consensus.key");
    let printed = cli(&["validator", "key", "--out", path(&ck)]);
    let public = printed.trim_end();
    assert_eq!(public.len(), 64, "{printed:?}");
    let seed_text = std::fs::read_to_string(&ck).unwrap();
    assert!(
        !printed.contains(seed_text.trim_end()),
        "the seed is never printed"
    );
    let mut seed = [0u8; 32];
    hex::decode_to_slice(seed_text.trim_end(), &mut seed).unwrap();
    assert_eq!(hex::encode(consensus_public_key(&seed)), public);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ck).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // At genesis only the genesis validator.
    let v = list(&url);
    assert_eq!(v.epoch_length, Some(3));
    assert_eq!(v.validators.len(), 1);

    // Bond: the stake leaves the balance and the validator leads the set.
    let before = balance(&rt);
    let out = cli(&[
        "validator",
        "bond",
        "--consensus-key",
        path(&ck),
        "--stake",
        &STAKE.to_string(),
        "--net-addr",
        "127.0.0.1:30401",
        "--key",
        path(&key_file),
        "--rpc",
        &url,
    ]);
    let sent: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sent["outcome"]["action"], "bonded", "{out}");
    assert_eq!(balance(&rt), before - STAKE);
    let v = list(&url);
    assert_eq!(v.validators.len(), 2);
    assert_eq!(hex::encode(v.validators[0].consensus_key), public);
    assert_eq!(v.validators[0].owner, owner);
    assert_eq!(v.validators[0].stake, STAKE);
    assert_eq!(v.validators[0].net_addr.as_deref(), Some("127.0.0.1:30401"));

    // Bonding the same key again is refused with its named error.
    let again = std::process::Command::new(crate::bin())
        .args([
            "validator",
            "bond",
            "--consensus-key",
            path(&ck),
            "--stake",
            "1000",
            "--key",
            path(&key_file),
            "--rpc",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("ValidatorExists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // Unbond by public key: out of the set at once, the stake back at the release height.
    let out = cli(&[
        "validator",
        "unbond",
        "--validator",
        public,
        "--key",
        path(&key_file),
        "--rpc",
        &url,
    ]);
    let sent: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sent["outcome"]["action"], "unbonding", "{out}");
    let unbond_height = sent["height"].as_u64().unwrap();
    let release = sent["outcome"]["release_height"].as_u64().unwrap();
    assert_eq!(release, (unbond_height / 3 + 2) * 3);
    assert_eq!(list(&url).validators.len(), 1);
    let locked = balance(&rt);
    assert_eq!(locked, before - STAKE);
    let deadline = Instant::now() + Duration::from_secs(60);
    let height = |rt: &tokio::runtime::Runtime| rt.block_on(client.chain_info()).unwrap().height;
    loop {
        // Heights read before and after the balance bracket the block it reflects.
        let h1 = height(&rt);
        let b = balance(&rt);
        let h2 = height(&rt);
        if b == locked {
            assert!(h1 < release, "stake still locked at head {h1} >= {release}");
        } else {
            assert_eq!(b, before, "the whole stake returns");
            assert!(
                h2 >= release,
                "released before height {release} (head {h2})"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no block {release} within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.block_on(node.stop()).unwrap();
}
