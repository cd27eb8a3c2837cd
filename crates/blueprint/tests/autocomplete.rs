//! Search autocomplete as `blueprint up` mounts it: a first run serves suggestions from a
//! seeded sample log, a search counts after the next rebuild, the snapshot survives a
//! restart, bad input gets coded 400s, and `blueprint autocomplete generate|build|query`
//! work as a user runs them.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use blueprint::systems::autocomplete::AutocompleteSystem;
use blueprint_platform::clock::SystemClock;
use blueprint_platform::config::LoadedConfig;
use blueprint_testkit::{Backends, TestApp, spawn_configured};
use serde_json::{Value, json};

/// An app running only autocomplete with `[autocomplete]` = `section`; files under `dir`
/// when given (so a second app can reopen them).
async fn app(section: Value) -> TestApp {
    spawn_configured(
        Backends::default(),
        vec![Arc::new(AutocompleteSystem)],
        Arc::new(SystemClock),
        |_| {},
        move |loaded: LoadedConfig, _: &Path| Ok(loaded.with_section("autocomplete", section)),
    )
    .await
    .unwrap()
}

async fn suggestions(app: &TestApp, prefix: &str) -> Vec<String> {
    let query = format!("/api/v1/autocomplete?q={}&k=5", urlencode(prefix));
    let (status, body) = app.get_json(&query).await;
    assert_eq!(status, 200, "{body}");
    body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|suggestion| suggestion["query"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_first_run_suggests_from_the_sample_log_and_serves_the_page_and_openapi() {
    let app = app(json!({})).await;
    let shown = suggestions(&app, "t").await;
    assert_eq!(shown.len(), 5, "{shown:?}");
    let response = app.client.get(app.url("/autocomplete/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Search autocomplete"));
    let (_, openapi) = app.get_json("/openapi.json").await;
    for path in ["/api/v1/autocomplete", "/api/v1/autocomplete/queries"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
}

#[tokio::test]
async fn a_search_counts_after_the_next_rebuild_and_the_snapshot_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let section = json!({
        "log_path": dir.path().join("queries.log"),
        "snapshot_path": dir.path().join("trie.snapshot"),
        "rebuild_interval_s": 1,
    });
    let first = app(section.clone()).await;
    assert!(suggestions(&first, "zzyzx").await.is_empty());
    for _ in 0..3 {
        let request = first.client.post(first.url("/api/v1/autocomplete/queries"));
        let response = request.json(&json!({"query": "Zzyzx Road"})).send().await.unwrap();
        assert_eq!(response.status(), 202, "an empty 202: logged");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if suggestions(&first, "zzyzx").await == ["Zzyzx Road"] {
            break;
        }
        assert!(Instant::now() < deadline, "the search never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The rebuild wrote the snapshot; a second server starts from it.
    assert!(dir.path().join("trie.snapshot").exists());
    drop(first);
    let second = app(section).await;
    assert_eq!(suggestions(&second, "ZZY").await, ["Zzyzx Road"], "case folded, from the snapshot");
}

#[tokio::test]
async fn bad_input_gets_coded_400s() {
    let app = app(json!({})).await;
    for (query, code) in [
        ("q=", "empty_prefix"),
        (&*format!("q={}", "a".repeat(51)), "prefix_too_long"),
        ("q=ab&k=11", "invalid_k"),
        ("q=%FF", "invalid_query_string"),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/autocomplete?{query}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{query}: {body}");
    }
    let (status, body) = app.post_json("/api/v1/autocomplete/queries", json!({"query": ""})).await;
    assert_eq!(status, 400, "{body}");
}

#[test]
fn the_cli_generates_a_log_builds_a_snapshot_and_queries_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = common::blueprint(args, dir.path());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let generated = run(&[
        "autocomplete",
        "generate",
        "--lines",
        "20000",
        "--distinct",
        "2000",
        "--out",
        "q.log",
    ]);
    assert!(generated.contains("20000 lines"), "{generated}");
    let built = run(&["autocomplete", "build", "--log", "q.log", "--snapshot", "t.snapshot"]);
    assert!(built.contains("20000 lines (0 malformed)"), "{built}");
    let answer = run(&["autocomplete", "query", "t", "--snapshot", "t.snapshot", "-k", "3"]);
    let lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines.len(), 3, "{answer}");
    let weights: Vec<u64> =
        lines.iter().map(|line| line.split('\t').next().unwrap().parse().unwrap()).collect();
    assert!(weights.windows(2).all(|pair| pair[0] >= pair[1]), "ranked: {answer}");
    let refused =
        common::blueprint(&["autocomplete", "query", "t", "--snapshot", "missing"], dir.path());
    assert!(!refused.status.success());
}
