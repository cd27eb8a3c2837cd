//! `blueprint shortener serve` stopped as an operator stops it (SIGTERM): the clicks still
//! queued for the analytics writer are written before the process exits, so a restart
//! reports every redirect served.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{BIN, free_port, wait_for};

const STARTUP: Duration = Duration::from_secs(20);
const VISITS: u64 = 7;

fn serve(data: &Path, port: u16) -> Child {
    Command::new(BIN)
        .args(["shortener", "serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data)
        .current_dir(data.parent().unwrap())
        .env_remove("BLUEPRINT_CONFIG")
        // Far longer than the test: only the stop can write the clicks.
        .env("BLUEPRINT_SHORTENER__CLICK_FLUSH_MS", "600000")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn clicks_queued_at_a_sigterm_are_written_before_the_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut first = serve(&data, port);
    assert_eq!(wait_for(port, "/readyz", STARTUP).status(), 200);
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let link: serde_json::Value = client
        .post(format!("{base}/api/v1/data/shorten"))
        .json(&serde_json::json!({"longUrl": "https://example.com/stopped"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let code = link["code"].as_str().unwrap().to_owned();
    for _ in 0..VISITS {
        assert_eq!(client.get(format!("{base}/{code}")).send().unwrap().status(), 301);
    }
    let pid = first.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = first.wait().unwrap();
    assert!(status.success(), "a SIGTERM is a clean stop: {status}");

    let mut second = serve(&data, port);
    assert_eq!(wait_for(port, "/readyz", STARTUP).status(), 200);
    let stats: serde_json::Value =
        client.get(format!("{base}/api/v1/links/{code}/stats")).send().unwrap().json().unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(stats["link"]["clicks"], VISITS, "{stats}");
}
