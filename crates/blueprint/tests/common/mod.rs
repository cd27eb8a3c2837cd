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
