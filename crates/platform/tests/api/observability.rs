//! Request ids, metrics, the OpenAPI document and the systems listing.

use blueprint_testkit::{Backends, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn a_request_id_is_generated_or_echoed() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let generated = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "UUID-shaped: {id}");
    let next = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_ne!(next.headers().get("x-request-id").unwrap(), id.as_str(), "one id per request");
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers().get("x-request-id").unwrap(), "trace-me-123");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status_with_a_latency_histogram() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.client.get(app.url("/definitely/missing/42")).send().await.unwrap();
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let healthz = text
        .lines()
        .find(|line| {
            line.starts_with("http_requests_total{")
                && line.contains("route=\"/healthz\"")
                && line.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no healthz counter in:\n{text}"));
    let count: f64 = healthz.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{healthz}");
    assert!(text.contains("route=\"unmatched\""), "raw unmatched paths must not become labels");
    assert!(!text.contains("/definitely/missing/42"));
    assert!(text.contains("http_request_duration_seconds_bucket{"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_platform_routes() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let document: Value =
        app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/systems", "/api/v1/auth/login"] {
        assert!(document["paths"].get(path).is_some(), "missing {path}");
    }
}

#[tokio::test]
async fn the_console_is_served_and_lists_every_catalogued_system() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/api/v1/systems"));
    let systems: Vec<Value> =
        app.client.get(app.url("/api/v1/systems")).send().await.unwrap().json().await.unwrap();
    assert_eq!(systems.len(), blueprint_platform::system::CATALOG.len());
    assert!(systems.iter().all(|system| system["state"] == "planned"));
}
