//! Back-of-the-envelope estimation as `blueprint up` mounts it, through real HTTP, and
//! `blueprint estimate` as a user runs it.
#![allow(clippy::unwrap_used, missing_docs)]

use blueprint_testkit::{Backends, TestApp, error_code, spawn_app};
use serde_json::{Value, json};

mod common;

async fn app() -> TestApp {
    spawn_app(Backends::default(), blueprint::registry::systems()).await.unwrap()
}

fn twitter() -> Value {
    json!({
        "mau": 300_000_000u64, "daily_active_fraction": 0.5, "writes_per_user_per_day": 2.0,
        "peak_factor": 2.0, "media_fraction": 0.1, "media_bytes": 1_000_000u64,
        "record_bytes": 204, "retention_years": 5
    })
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|actual| (actual - expected).abs() <= expected * 1e-9)
}

#[tokio::test]
async fn the_reference_route_serves_every_static_table() {
    let app = app().await;
    let (status, body) = app.get_json("/api/v1/estimate/reference").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["powers"].as_array().unwrap().len(), 5);
    assert_eq!(body["powers"][4]["exact"], 1_125_899_906_842_624u64);
    assert_eq!(body["powers"][4]["unit"], "PB");
    let availability = body["availability"].as_array().unwrap();
    assert_eq!(availability.len(), 5);
    assert_eq!(availability[2]["availability"], "99.99 %");
    assert_eq!(availability[2]["per_day"], "8.64 s");
    let latency = body["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 13);
    assert_eq!(latency[0]["operation"], "L1 cache reference");
    assert_eq!(latency[0]["nanoseconds"], 0.5);
    assert_eq!(latency[12]["nanoseconds"], 150_000_000.0);
    assert_eq!(body["twitter_example"], twitter());
}

#[tokio::test]
async fn the_capacity_route_reproduces_the_books_twitter_estimate() {
    let app = app().await;
    let (status, body) = app.post_json("/api/v1/estimate/capacity", twitter()).await;
    assert_eq!(status, 200, "{body}");
    let estimate = &body["estimate"];
    assert!(close(&estimate["daily_active_users"], 150e6), "{estimate}");
    assert!(close(&estimate["average_write_qps"], 3_472.222_222_222_222), "{estimate}");
    assert!(close(&estimate["peak_write_qps"], 6_944.444_444_444_444), "{estimate}");
    assert!(close(&estimate["media_bytes_per_day"], 30e12), "{estimate}");
    assert!(close(&estimate["media_bytes_retained"], 54.75e15), "{estimate}");
    let human = &body["human"];
    assert_eq!(human["daily_active_users"], "150 M");
    assert_eq!(human["average_write_qps"], "3.5 K");
    assert_eq!(human["media_per_day"], "30 TB");
    assert_eq!(human["media_retained"], "55 PB");
    assert_eq!(body["assumptions"], twitter());
    assert_eq!(body["steps"][0], "DAU = 300 M × 50 % = 150 M");
    assert!(body["assumption_lines"].as_array().unwrap().len() >= 7);
}

#[tokio::test]
async fn bad_capacity_input_gets_a_400_naming_the_field_or_a_422_for_the_wrong_shape() {
    let app = app().await;
    for (field, value, code) in [
        ("daily_active_fraction", json!(1.5), "invalid_daily_active_fraction"),
        ("mau", json!(0), "invalid_mau"),
        ("peak_factor", json!(0.5), "invalid_peak_factor"),
        ("retention_years", json!(1000), "invalid_retention_years"),
    ] {
        let mut body = twitter();
        body[field] = value;
        let (status, body) = app.post_json("/api/v1/estimate/capacity", body).await;
        assert_eq!((status, error_code(&body)), (400, Some(code)), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(field), "{body}");
    }
    let mut wrong_type = twitter();
    wrong_type["mau"] = json!("lots");
    let (status, body) = app.post_json("/api/v1/estimate/capacity", wrong_type).await;
    assert_eq!((status, error_code(&body)), (422, Some("invalid_field")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("mau"), "{body}");
    let mut unknown = twitter();
    unknown["servers"] = json!(3);
    let (status, _) = app.post_json("/api/v1/estimate/capacity", unknown).await;
    assert_eq!(status, 422, "unknown fields are refused, not ignored");
    let (status, _) = app.post_json("/api/v1/estimate/capacity", json!({"mau": 1})).await;
    assert_eq!(status, 422, "every assumption is written down: none is defaulted");
}

#[tokio::test]
async fn the_availability_route_computes_any_fraction_and_refuses_bad_ones() {
    let app = app().await;
    let (status, body) = app.get_json("/api/v1/estimate/availability?fraction=0.9999").await;
    assert_eq!(status, 200, "{body}");
    assert!(close(&body["per_day_seconds"], 8.64), "{body}");
    assert_eq!(body["per_day"], "8.64 s");
    assert_eq!(body["per_year"], "52.6 min");
    assert_eq!(body["availability"], "99.99 %");
    for query in
        ["?fraction=1", "?fraction=0", "?fraction=-0.5", "?fraction=NaN", "?fraction=abc", ""]
    {
        let (status, body) = app.get_json(&format!("/api/v1/estimate/availability{query}")).await;
        assert_eq!((status, error_code(&body)), (400, Some("invalid_fraction")), "{query}: {body}");
    }
}

#[tokio::test]
async fn the_latency_route_measures_every_row_once_and_shares_it_with_concurrent_callers() {
    let app = app().await;
    let url = app.url("/api/v1/estimate/latency");
    let (first, second) = tokio::join!(app.client.post(&url).send(), app.client.post(&url).send());
    let mut bodies = Vec::new();
    for response in [first.unwrap(), second.unwrap()] {
        assert_eq!(response.status(), 200);
        bodies.push(response.json::<Value>().await.unwrap());
    }
    let fresh = bodies.iter().filter(|body| body["cached"] == false).count();
    assert_eq!(fresh, 1, "two concurrent requests, one measurement");
    let body = &bodies[0];
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "{body}");
    for row in rows {
        let nanoseconds = row["nanoseconds"].as_f64().unwrap();
        assert!(nanoseconds.is_finite() && nanoseconds > 0.0, "{row}");
        assert!(row["iterations"].as_u64().unwrap() >= 1, "{row}");
        if row["book_nanoseconds"].is_number() {
            assert!(row["ratio"].as_f64().unwrap() > 0.0, "{row}");
        }
    }
    let probes: Vec<&str> = rows.iter().map(|row| row["probe"].as_str().unwrap()).collect();
    for probe in ["l1_chase", "memory_chase", "lz4_compress_1k", "loopback_round_trip"] {
        assert!(probes.contains(&probe), "{probe} missing: {probes:?}");
    }
    assert_eq!(body["not_measured"].as_array().unwrap().len(), 2);
    let (status, again) = app.post_json("/api/v1/estimate/latency", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(again["cached"], true, "served again within the cache's lifetime");
}

#[tokio::test]
async fn the_console_lists_estimate_first_ready_with_its_page() {
    assert_eq!(blueprint::registry::systems()[0].info().name, "estimate", "chapter 2 first");
    let app = app().await;
    let (status, systems) = app.get_json("/api/v1/systems").await;
    assert_eq!(status, 200);
    let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == "estimate").unwrap();
    assert_eq!(entry["state"], "ready", "{entry}");
    assert_eq!(entry["page"], "/estimate/");
    let page = app.client.get(app.url("/estimate/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("Measure this machine"));
}

#[tokio::test]
async fn openapi_describes_every_estimate_route_and_its_statuses() {
    let app = app().await;
    let (status, document) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = &document["paths"];
    for (path, method, statuses) in [
        ("/api/v1/estimate/reference", "get", &["200"][..]),
        ("/api/v1/estimate/capacity", "post", &["200", "400", "422"][..]),
        ("/api/v1/estimate/availability", "get", &["200", "400"][..]),
        ("/api/v1/estimate/latency", "post", &["200", "500"][..]),
    ] {
        let responses = &paths[path][method]["responses"];
        for status in statuses {
            assert!(responses.get(status).is_some(), "{method} {path}: {status} missing");
        }
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in ["CapacitySpec", "CapacityResponse", "LatencyResponse", "ReferenceResponse"] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
}

fn blueprint(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    common::blueprint(args, dir.path())
}

#[test]
fn estimate_capacity_prints_the_twitter_example_with_its_assumptions() {
    let output = blueprint(&["estimate", "capacity"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in ["300 M monthly active users", "150 M", "3.5 K", "30 TB", "55 PB"] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
    let output = blueprint(&["estimate", "capacity", "--daily-active-fraction", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("daily_active_fraction"));
}

#[test]
fn estimate_availability_prints_the_downtime_of_four_nines() {
    let output = blueprint(&["estimate", "availability", "--nines", "4"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in ["99.99 %", "8.64 s", "52.6 min"] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
    let output = blueprint(&["estimate", "availability", "--nines", "0"]);
    assert_eq!(output.status.code(), Some(1));
    let output = blueprint(&["estimate", "powers"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 quadrillion"));
}

#[test]
fn an_estimate_section_with_any_key_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueprint.toml");
    std::fs::write(&path, "[estimate]\nttl = 1\n").unwrap();
    let output =
        common::blueprint(&["--config", path.to_str().unwrap(), "config", "show"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[estimate]") && stderr.contains("ttl"), "{stderr}");
}
