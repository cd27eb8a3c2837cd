//! The `blueprint` binary as a user runs it: exit codes, config errors, `config show`,
//! `up` serving the console and shutting down cleanly on SIGTERM.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to answer.
const STARTUP: Duration = Duration::from_secs(10);

mod common;

use common::{BIN, blueprint, free_port, wait_for};

#[test]
fn version_prints_the_crate_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = blueprint(&["version"], dir.path());
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("blueprint {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_malformed_config_exits_2_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueprint.toml");
    std::fs::write(&path, "[server]\nport = \"eighty\"\n").unwrap();
    let output = blueprint(&["--config", path.to_str().unwrap(), "config", "show"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("blueprint.toml") && stderr.contains("port"), "{stderr}");

    std::fs::write(&path, "[server]\nprot = 1\n").unwrap();
    let output = blueprint(&["--config", path.to_str().unwrap(), "config", "show"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("prot"));

    let output = blueprint(&["--config", "/nonexistent/blueprint.toml", "up"], dir.path());
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn config_show_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueprint.toml");
    std::fs::write(&path, "[sql]\nurl = \"postgres://app:hunter2@db.internal/bp\"\n").unwrap();
    let output = Command::new(BIN)
        .args(["--config", path.to_str().unwrap(), "config", "show"])
        .env("BLUEPRINT_SERVER__PORT", "9191")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("port = 9191"), "env overrides the file: {stdout}");
    assert!(stdout.contains("app:***@db.internal"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn up_serves_health_and_the_console_then_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "up",
            "--port",
            &port.to_string(),
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        // Not the default 7379: a developer's own `blueprint up` may hold it.
        .env("BLUEPRINT_KV__RESP_PORT", free_port().to_string())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let banner = lines.next().unwrap().unwrap();
    assert!(banner.contains(&format!("127.0.0.1:{port}")), "{banner}");

    let get = |path: &str| wait_for(port, path, STARTUP);
    assert_eq!(get("/healthz").status(), 200);
    assert_eq!(get("/readyz").status(), 200);
    assert!(get("/metrics").text().unwrap().contains("http_requests_total"));
    assert!(get("/").text().unwrap().contains("Blueprint"));
    assert_eq!(get("/ratelimit/").status(), 200);
    assert_eq!(get("/hashring/").status(), 200);
    assert!(dir.path().join("data/blueprint.db").exists(), "SQLite file in the data dir");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn ratelimit_simulate_prints_the_boundary_burst_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["ratelimit", "simulate", "--algo", "fixed_window", "--pattern", "boundary"];
    let output =
        blueprint(&[&args[..], &["--limit", "5", "--duration-ms", "4000"]].concat(), dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("fixed_window limit 5 per 1000 ms"), "{stdout}");
    assert!(stdout.contains("accepted") && stdout.contains("rejected"), "{stdout}");
    assert!(
        stdout.contains("most accepted in any 1000 ms: 10 (limit 5)"),
        "figure 4-9's 2×: {stdout}"
    );

    let output =
        blueprint(&["ratelimit", "simulate", "--algo", "nope", "--pattern", "steady"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("sliding_window_log"));
    let zero =
        ["ratelimit", "simulate", "--algo", "token_bucket", "--pattern", "steady", "--limit", "0"];
    let output = blueprint(&zero, dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid simulation parameters"));
}

#[test]
fn hashring_experiment_prints_the_three_tables_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["hashring", "experiment", "--keys", "20000", "--nodes", "5", "--seeds", "2"];
    let output = blueprint(&[&args[..], &["--vnodes", "100"]].concat(), dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for table in ["(a) keys moved", "(b) load spread", "(c) affected ranges"] {
        assert!(stdout.contains(table), "{table} missing: {stdout}");
    }
    let output = blueprint(&["hashring", "experiment", "--keys", "0"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--keys"));
}

#[test]
fn system_sections_show_their_defaults_and_refuse_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let output = blueprint(&["config", "show"], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("[ratelimit]") && stdout.contains("domain = \"api\""), "{stdout}");
    let path = dir.path().join("blueprint.toml");
    for (section, key) in [("ratelimit", "rules_paht"), ("hashring", "vnodes")] {
        std::fs::write(&path, format!("[{section}]\n{key} = 1\n")).unwrap();
        let output = blueprint(&["--config", path.to_str().unwrap(), "config", "show"], dir.path());
        assert_eq!(output.status.code(), Some(2), "[{section}] {key}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(key), "[{section}] {key}");
    }
}

#[test]
fn a_system_served_alone_mounts_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = dir.path().join("data");
    let args =
        ["ratelimit", "serve", "--port", &port.to_string(), "--data-dir", data.to_str().unwrap()];
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = |path: &str| wait_for(port, path, STARTUP).status().as_u16();
    assert_eq!(status("/ratelimit/"), 200);
    assert_eq!(status("/hashring/"), 404);
    assert!(data.join("ratelimit/rules.yaml").exists(), "example rules seeded");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_help_says_what_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let output = blueprint(&["ratelimit", "serve", "--help"], dir.path());
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("Run Rate limiter alone"), "{stdout}");
    let output = blueprint(&["up", "--help"], dir.path());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("Run every system"));
}
