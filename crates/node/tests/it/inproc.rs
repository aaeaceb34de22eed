//! The node in-process: RPC limits and error codes, metrics endpoint, clean shutdown and restart.

use poai_node::devnet::devnet_genesis;
use poai_node::{NodeConfig, start};
use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn metrics_rpc_limits_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = devnet_genesis(1_800_000_000, 60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let height = rt.block_on(async {
        let mut cfg = NodeConfig::new(genesis.clone(), dir.path().to_path_buf());
        cfg.block_interval = Duration::from_millis(20);
        cfg.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        cfg.max_request_bytes = 64 * 1024;
        let node = start(cfg, poai_node::tee::machine()).await.unwrap();
        let url = format!("http://{}", node.rpc_addr);
        let client = poai_miner::NodeClient::new(&url).unwrap();
        let mut heights = node.heights();
        while *heights.borrow() < 3 {
            heights.changed().await.unwrap();
        }
        let info = client.chain_info().await.unwrap();
        assert_eq!(info.chain_id, genesis.chain_id);
        assert!(info.allow_dev_evidence);
        assert_eq!(info.next_block_time, info.timestamp + 60);

        // Malformed bytes: invalid params, named.
        assert!(client.send_many(&[]).await.unwrap().is_empty());
        let bad = raw_call(
            &url,
            r#"{"jsonrpc":"2.0","id":1,"method":"poai_sendTransaction","params":["02ff"]}"#,
        );
        assert!(bad.contains("-32602") && bad.contains("Malformed"), "{bad}");
        // A request over the body limit is refused before it is parsed.
        let huge = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"poai_sendTransaction","params":["{}"]}}"#,
            "00".repeat(64 * 1024)
        );
        let refused = raw_call(&url, &huge);
        assert!(
            refused.contains("413")
                || refused.contains("-32007")
                || refused.to_lowercase().contains("too large"),
            "{refused}"
        );

        let addr = node.metrics_addr.unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("poai_height"), "{body}");
        assert!(body.contains("poai_blocks_total"), "{body}");

        let h = *node.heights().borrow();
        node.stop().await.unwrap();
        assert!(client.chain_info().await.is_err(), "RPC is down after stop");
        h
    });
    // Reopening continues from the committed head.
    let store = poai_node::Store::open(&dir.path().join("chain.redb")).unwrap();
    let state = store.load_state(&poai_node::tee::machine()).unwrap();
    assert!(state.head().height >= height);
    assert_eq!(state.root(), state.head().state_root);
}

/// One raw HTTP JSON-RPC call; returns status line and body.
fn raw_call(url: &str, body: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The server may answer and close before reading a too-large body; ignore write errors.
    let _ = s.write_all(req.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
