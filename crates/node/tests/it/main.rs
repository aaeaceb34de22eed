//! Integration tests of the node through its real binary (`poai-node`, the same commands the
//! `poai` binary runs): the devnet acceptance run and the kill -9 crash test.

// Helpers outside `#[test]` functions unwrap and panic too: here that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aivm;
mod crash;
mod devnet;
mod inproc;
mod validators;

use poai_chain::Genesis;
use poai_miner::NodeClient;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_poai-node"))
}

/// A child process killed (and reaped) on drop, so a failing test leaves nothing running.
pub struct Proc(Option<Child>);

impl Proc {
    /// Wraps a spawned child.
    pub fn from_child(c: Child) -> Self {
        Self(Some(c))
    }

    /// Waits for the process to exit by itself and returns its output.
    pub fn wait_output(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }

    /// kill -9, reaped.
    pub fn kill9(mut self) {
        if let Some(mut c) = self.0.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `poai-node devnet` with `args` in `data`, output captured.
pub fn spawn_devnet(data: &Path, args: &[&str]) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.arg("devnet").arg("--data").arg(data).args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    Proc(Some(cmd.spawn().expect("spawn poai-node devnet")))
}

/// Waits for `data/rpc.addr` and returns a client of that node.
pub fn wait_rpc(data: &Path, timeout: Duration) -> NodeClient {
    let path = data.join("rpc.addr");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(url) = std::fs::read_to_string(&path)
            && url.starts_with("http://")
        {
            let mut c = NodeClient::new(&url).unwrap();
            c.retries = 0;
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "no rpc.addr in {}",
            data.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads the genesis the devnet wrote.
pub fn read_genesis(data: &Path) -> Genesis {
    serde_json::from_slice(&std::fs::read(data.join("genesis.json")).unwrap()).unwrap()
}

/// A current-thread runtime for the async client.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
