//! Every error is JSON with a stable code: 404, 405, 413, 400, 422, 415.

use blueprint_testkit::{Backends, error_code, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let response = app.client.get(app.url("/no/such/route")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("not_found"));
    assert!(body["error"]["message"].as_str().unwrap().contains("/no/such/route"));
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers().contains_key("allow"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("method_not_allowed"));
}

#[tokio::test]
async fn an_oversized_body_is_a_json_413() {
    let app = blueprint_testkit::spawn_with(
        Backends::default(),
        vec![],
        std::sync::Arc::new(blueprint_platform::clock::SystemClock),
        |config| config.server.body_limit_bytes = 1024,
    )
    .await
    .unwrap();
    let big = format!(r#"{{"username":"alice","password":"{}"}}"#, "x".repeat(4096));
    let response = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("payload_too_large"));
}

#[tokio::test]
async fn malformed_json_is_a_json_400() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("malformed_json"));
}

#[tokio::test]
async fn a_missing_or_mistyped_field_is_a_422_naming_the_field() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    for (payload, field) in [
        (r#"{"username":"alice"}"#, "password"),
        (r#"{"username":"alice","password":42}"#, "password"),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/signup"))
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{payload}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), Some("invalid_field"));
        assert!(body["error"]["message"].as_str().unwrap().contains(field), "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_a_415() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .body(r#"{"username":"alice","password":"correct horse"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("unsupported_media_type"));
}
