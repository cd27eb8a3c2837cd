//! `blueprint kv serve` as a user runs it: RESP writes acknowledged with
//! `durability = "always"` survive `kill -9`, the system reports ready, and the HTTP API
//! and its OpenAPI paths are served.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{BIN, free_port, resp_command, wait_for};

/// How long a started server may take to answer.
const STARTUP: Duration = Duration::from_secs(20);
/// Keys written one by one before the crash: each acknowledged after its own `fsync`.
const KEYS: usize = 200;

struct Ports {
    http: u16,
    resp: u16,
}

fn serve(data: &Path, ports: &Ports) -> Child {
    let args =
        ["kv", "serve", "--port", &ports.http.to_string(), "--data-dir", data.to_str().unwrap()];
    Command::new(BIN)
        .args(args)
        .current_dir(data.parent().unwrap())
        .env_remove("BLUEPRINT_CONFIG")
        .env("BLUEPRINT_KV__RESP_PORT", ports.resp.to_string())
        .env("BLUEPRINT_KV__DURABILITY", "always")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Sends one command and reads exactly `reply.len()` bytes, which must equal `reply`.
fn roundtrip(stream: &mut TcpStream, words: &[&str], reply: &[u8]) {
    stream.write_all(&resp_command(words)).unwrap();
    let mut buffer = vec![0; reply.len()];
    stream.read_exact(&mut buffer).unwrap();
    assert_eq!(String::from_utf8_lossy(&buffer), String::from_utf8_lossy(reply), "{words:?}");
}

fn kill_hard(child: &mut Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    child.wait().unwrap();
}

#[test]
fn writes_acknowledged_with_durability_always_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ports = Ports { http: free_port(), resp: free_port() };
    let mut child = serve(&data, &ports);
    assert_eq!(wait_for(ports.http, "/readyz", STARTUP).status(), 200);
    let mut stream = TcpStream::connect(("127.0.0.1", ports.resp)).unwrap();
    for i in 0..KEYS {
        roundtrip(&mut stream, &["SET", &format!("key:{i}"), &format!("value:{i}")], b"+OK\r\n");
    }
    kill_hard(&mut child);
    assert!(data.join("kv").is_dir(), "the store lives under <data_dir>/kv");

    let mut child = serve(&data, &ports);
    assert_eq!(wait_for(ports.http, "/readyz", STARTUP).status(), 200);
    let mut stream = TcpStream::connect(("127.0.0.1", ports.resp)).unwrap();
    for i in 0..KEYS {
        let value = format!("value:{i}");
        let reply = format!("${}\r\n{value}\r\n", value.len());
        roundtrip(&mut stream, &["GET", &format!("key:{i}")], reply.as_bytes());
    }
    kill_hard(&mut child);
}

#[test]
fn kv_is_ready_and_its_http_api_and_openapi_paths_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ports = Ports { http: free_port(), resp: free_port() };
    let mut child = serve(&data, &ports);
    let systems: serde_json::Value =
        wait_for(ports.http, "/api/v1/systems", STARTUP).json().unwrap();
    let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == "kv").unwrap();
    assert_eq!(entry["state"], "ready", "{entry}");
    let ready: serde_json::Value = wait_for(ports.http, "/readyz", STARTUP).json().unwrap();
    assert!(ready.to_string().contains("kv-resp"), "{ready}");

    let openapi: serde_json::Value = wait_for(ports.http, "/openapi.json", STARTUP).json().unwrap();
    for path in ["/api/v1/kv", "/api/v1/kv/{key}", "/api/v1/kv-keys"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
    assert_eq!(wait_for(ports.http, "/kv/", STARTUP).status(), 200);

    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{}/api/v1/kv/greeting", ports.http);
    assert_eq!(client.put(&url).body("hello").send().unwrap().status(), 204);
    assert_eq!(client.get(&url).send().unwrap().text().unwrap(), "hello");
    // The same data over RESP.
    let mut stream = TcpStream::connect(("127.0.0.1", ports.resp)).unwrap();
    roundtrip(&mut stream, &["GET", "greeting"], b"$5\r\nhello\r\n");
    roundtrip(&mut stream, &["MSET", "grape", "1", "apple", "2"], b"+OK\r\n");
    let keys_url = |query: &str| format!("http://127.0.0.1:{}/api/v1/kv-keys?{query}", ports.http);
    let page: serde_json::Value =
        client.get(keys_url("prefix=gr&limit=1")).send().unwrap().json().unwrap();
    assert_eq!(page, serde_json::json!({"keys": ["grape"], "next_after": "grape"}));
    let page: serde_json::Value =
        client.get(keys_url("prefix=gr&after=grape")).send().unwrap().json().unwrap();
    assert_eq!(page, serde_json::json!({"keys": ["greeting"], "next_after": null}));
    let refused = client.get(keys_url("limit=0")).send().unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<serde_json::Value>().unwrap()["error"]["code"], "invalid_limit");
    let stats: serde_json::Value = wait_for(ports.http, "/api/v1/kv", STARTUP).json().unwrap();
    assert!(stats["write_amplification"].as_f64().is_some_and(|amp| amp >= 1.0), "{stats}");
    assert!(stats["tables"].is_array(), "{stats}");
    assert_eq!(client.delete(&url).send().unwrap().status(), 204);
    let missing = client.get(&url).send().unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    kill_hard(&mut child);
}

#[test]
fn the_kv_cli_sets_gets_scans_deletes_and_reports_stats_on_a_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ports = Ports { http: free_port(), resp: free_port() };
    let mut child = serve(&data, &ports);
    wait_for(ports.http, "/readyz", STARTUP);
    let url = format!("redis://127.0.0.1:{}", ports.resp);
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = vec!["kv"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--url", &url]);
        common::blueprint(&all, dir.path())
    };
    let text = |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();
    for (key, value) in [("user:1", "ada"), ("user:2", "grace"), ("item:1", "book")] {
        let set = cli(&["set", key, value]);
        assert!(set.status.success(), "{set:?}");
        assert_eq!(text(&set), "OK\n");
    }
    assert_eq!(text(&cli(&["get", "user:2"])), "grace\n");
    assert_eq!(text(&cli(&["scan", "--match", "user:*"])), "user:1\nuser:2\n");
    assert_eq!(text(&cli(&["scan", "--limit", "1"])), "item:1\n");
    let stats = text(&cli(&["stats"]));
    assert!(stats.contains("db0:keys=3") && stats.contains("appendfsync:always"), "{stats}");
    assert_eq!(text(&cli(&["del", "user:1", "nobody"])), "1\n");
    let missing = cli(&["get", "user:1"]);
    assert!(!missing.status.success(), "a missing key is a failure exit");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"), "{missing:?}");
    kill_hard(&mut child);
    // No node: a clear message and a failure exit, not a panic.
    let unreachable = cli(&["get", "user:2"]);
    assert!(!unreachable.status.success());
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.contains("cannot reach the kv node"), "{stderr}");
}
