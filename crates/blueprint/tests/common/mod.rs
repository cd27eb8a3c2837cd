//! Helpers shared by the tests that run the `blueprint` binary as a user does. Each test
//! file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_blueprint");

/// Runs `blueprint args` in `dir` with no inherited configuration and quiet logs.
pub fn blueprint(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("BLUEPRINT_CONFIG")
        .env_remove("BLUEPRINT_IDGEN_DATACENTER")
        .env_remove("BLUEPRINT_IDGEN_WORKER")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// `words` as a RESP array of bulk strings (a command as clients send it).
pub fn resp_command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend(format!("${}\r\n{word}\r\n", word.len()).into_bytes());
    }
    out
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// GET `path` on the local `port`, retrying for up to `within` while the server starts.
pub fn wait_for(port: u16, path: &str, within: Duration) -> reqwest::blocking::Response {
    let deadline = Instant::now() + within;
    loop {
        match reqwest::blocking::get(format!("http://127.0.0.1:{port}{path}")) {
            Ok(response) => return response,
            Err(error) if Instant::now() > deadline => panic!("{path}: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A `blueprint kv cluster up` process and its nodes' addresses.
pub struct LocalCluster {
    pub child: std::process::Child,
    /// Per node: (id, RESP address, HTTP base URL).
    pub nodes: Vec<(String, String, String)>,
    _data: tempfile::TempDir,
}

impl LocalCluster {
    /// Start `nodes` nodes on ephemeral ports and wait for the "ready" line.
    pub fn start(nodes: usize) -> LocalCluster {
        use std::io::BufRead as _;
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["kv", "cluster", "up", "--nodes", &nodes.to_string()])
            .args(["--resp-port", "0", "--rpc-port", "0", "--http-port", "0", "--data-dir"])
            .arg(data.path())
            .current_dir(data.path())
            .env_remove("BLUEPRINT_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut found = Vec::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            if line.starts_with("ready") {
                break;
            }
            // "node1 resp=127.0.0.1:P rpc=127.0.0.1:Q http=http://127.0.0.1:R/kv/"
            let mut words = line.split_whitespace();
            let id = words.next().unwrap().to_owned();
            let field = |words: &mut std::str::SplitWhitespace<'_>, name: &str| {
                words.next().unwrap().strip_prefix(name).unwrap().to_owned()
            };
            let resp = field(&mut words, "resp=");
            let _rpc = field(&mut words, "rpc=");
            let http = field(&mut words, "http=").trim_end_matches("/kv/").to_owned();
            found.push((id, resp, http));
        }
        assert_eq!(found.len(), nodes, "every node printed its addresses");
        LocalCluster { child, nodes: found, _data: data }
    }

    /// Wait until every node sees every member alive (gossip has spread).
    pub fn wait_converged(&self, within: Duration) {
        let deadline = Instant::now() + within;
        for (_, _, http) in &self.nodes {
            loop {
                let status: serde_json::Value =
                    reqwest::blocking::get(format!("{http}/api/v1/kv-cluster/status"))
                        .unwrap()
                        .json()
                        .unwrap();
                let alive = status["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|member| member["state"] == "alive")
                    .count();
                if alive == self.nodes.len() {
                    break;
                }
                assert!(Instant::now() < deadline, "membership did not converge: {status}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
