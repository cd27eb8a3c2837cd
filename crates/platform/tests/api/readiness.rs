//! `/healthz` is liveness; `/readyz` pings every backend and names the one that is down.

use blueprint_testkit::{Backends, CacheChoice, spawn_app, spawn_with, tolerate_down_backends};
use serde_json::Value;

/// A TCP port with nothing listening: bind, read the port, close.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn liveness_and_readiness_are_ok_on_the_embedded_backends() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let names: Vec<&str> =
        body["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sql", "cache"]);
}

#[tokio::test]
async fn readiness_is_503_naming_a_redis_that_is_down() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let backends = Backends { cache: CacheChoice::Redis(url.clone()), ..Backends::default() };
    let app = spawn_with(
        backends,
        vec![],
        std::sync::Arc::new(blueprint_platform::clock::SystemClock),
        tolerate_down_backends,
    )
    .await
    .unwrap();
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "backend_unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("cache") && message.contains(&url), "{message}");
    let systems: Vec<Value> =
        app.client.get(app.url("/api/v1/systems")).send().await.unwrap().json().await.unwrap();
    assert!(!systems.is_empty());
}

#[tokio::test]
async fn an_unreachable_backend_at_start_fails_naming_it_when_checks_are_strict() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let backends = Backends { cache: CacheChoice::Redis(url.clone()), ..Backends::default() };
    let error = match spawn_app(backends, vec![]).await {
        Ok(_) => panic!("must not start with the cache down"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("cache") && error.contains(&url), "{error}");
}

#[tokio::test]
async fn an_unreachable_database_at_start_fails_naming_it() {
    let url = format!("postgres://nobody@127.0.0.1:{}/none", closed_port());
    let backends = Backends {
        sql: blueprint_testkit::SqlChoice::Postgres(url.clone()),
        ..Backends::default()
    };
    let error = match spawn_app(backends, vec![]).await {
        Ok(_) => panic!("must not start with the database down"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("sql") && error.contains("127.0.0.1"), "{error}");
}
