//! `blueprint kv serve` as a user runs it: RESP writes acknowledged with
//! `durability = "always"` survive `kill -9`, the system reports ready, and the HTTP API
//! and its OpenAPI paths are served.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_blueprint");
/// Keys written one by one before the crash: each acknowledged after its own `fsync`.
const KEYS: usize = 200;

struct Ports {
    http: u16,
    resp: u16,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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

/// GET `path`, retrying while the server starts.
fn wait_for(port: u16, path: &str) -> reqwest::blocking::Response {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match reqwest::blocking::get(format!("http://127.0.0.1:{port}{path}")) {
            Ok(response) => return response,
            Err(error) if Instant::now() > deadline => panic!("{path}: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend(format!("${}\r\n{word}\r\n", word.len()).into_bytes());
    }
    out
}

/// Sends one command and reads exactly `reply.len()` bytes, which must equal `reply`.
fn roundtrip(stream: &mut TcpStream, words: &[&str], reply: &[u8]) {
    stream.write_all(&command(words)).unwrap();
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
    assert_eq!(wait_for(ports.http, "/readyz").status(), 200);
    let mut stream = TcpStream::connect(("127.0.0.1", ports.resp)).unwrap();
    for i in 0..KEYS {
        roundtrip(&mut stream, &["SET", &format!("key:{i}"), &format!("value:{i}")], b"+OK\r\n");
    }
    kill_hard(&mut child);
    assert!(data.join("kv").is_dir(), "the store lives under <data_dir>/kv");

    let mut child = serve(&data, &ports);
    assert_eq!(wait_for(ports.http, "/readyz").status(), 200);
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
    let systems: serde_json::Value = wait_for(ports.http, "/api/v1/systems").json().unwrap();
    let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == "kv").unwrap();
    assert_eq!(entry["state"], "ready", "{entry}");
    let ready: serde_json::Value = wait_for(ports.http, "/readyz").json().unwrap();
    assert!(ready.to_string().contains("kv-resp"), "{ready}");

    let openapi: serde_json::Value = wait_for(ports.http, "/openapi.json").json().unwrap();
    for path in ["/api/v1/kv", "/api/v1/kv/{key}"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
    assert_eq!(wait_for(ports.http, "/kv/").status(), 200);

    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{}/api/v1/kv/greeting", ports.http);
    assert_eq!(client.put(&url).body("hello").send().unwrap().status(), 204);
    assert_eq!(client.get(&url).send().unwrap().text().unwrap(), "hello");
    // The same data over RESP.
    let mut stream = TcpStream::connect(("127.0.0.1", ports.resp)).unwrap();
    roundtrip(&mut stream, &["GET", "greeting"], b"$5\r\nhello\r\n");
    assert_eq!(client.delete(&url).send().unwrap().status(), 204);
    let missing = client.get(&url).send().unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    kill_hard(&mut child);
}
