//! The tower layer on a small axum router: 429 with every header, trusted proxies.
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use blueprint_ratelimit::clock::ManualClock;
use blueprint_ratelimit::layer::{AuthenticatedUser, LayerConfig, RateLimitLayer, client_ip};
use blueprint_ratelimit::limiter::{Backend, RateLimiter};
use blueprint_ratelimit::local::{LocalStore, LocalStoreConfig};
use blueprint_ratelimit::rules::RuleSet;
use http_body_util::BodyExt;
use tower::ServiceExt;

const RULES: &str = "domain: web
descriptors:
  - key: remote_address
    rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: user
    value: alice
    rate_limit: { unit: minute, requests_per_unit: 1 }
";

fn app(trusted: &[&str]) -> Router {
    let domain = RuleSet::parse_domain(Path::new("web.yaml"), RULES).unwrap();
    let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
    let store = LocalStore::new(LocalStoreConfig::default()).unwrap();
    let limiter =
        Arc::new(RateLimiter::new(rules, Backend::Local(store), Arc::new(ManualClock::new(0))));
    let mut config = LayerConfig::new("web");
    config.trusted_proxies = trusted.iter().map(|t| t.parse().unwrap()).collect();
    Router::new()
        .route("/hello", get(|| async { "hi" }))
        .layer(RateLimitLayer::new(limiter, config))
}

fn request(peer: &str, forwarded: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/hello");
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{peer}:5000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

async fn status(app: &Router, req: Request<Body>) -> StatusCode {
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn the_fourth_request_gets_429_with_every_header_and_a_json_error() {
    let app = app(&[]);
    for remaining in ["2", "1", "0"] {
        let res = app.clone().oneshot(request("1.1.1.1", None)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
        assert_eq!(res.headers()["ratelimit-policy"], "\"default\";q=3;w=60");
        assert!(res.headers().contains_key("ratelimit"));
    }
    let res = app.clone().oneshot(request("1.1.1.1", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers();
    assert_eq!(h["x-ratelimit-limit"], "3");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-retry-after"], "60", "the clock sits at the window's start");
    assert_eq!(h["retry-after"], "60");
    assert_eq!(h["ratelimit"], "\"default\";r=0;t=60");
    assert_eq!(h["ratelimit-policy"], "\"default\";q=3;w=60");
    assert_eq!(h["content-type"], "application/json");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "rate_limited");
    assert!(json["error"]["message"].as_str().unwrap().contains("rate limit"));
    assert_eq!(
        status(&app, request("2.2.2.2", None)).await,
        StatusCode::OK,
        "other clients unaffected"
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let app = app(&["10.0.0.0/8"]);
    // Through the trusted proxy, each real client has its own limit.
    for _ in 0..3 {
        assert_eq!(status(&app, request("10.0.0.5", Some("7.7.7.7"))).await, StatusCode::OK);
    }
    assert_eq!(
        status(&app, request("10.0.0.5", Some("7.7.7.7"))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(status(&app, request("10.0.0.5", Some("8.8.8.8"))).await, StatusCode::OK);
    // A client forging the header directly is limited by its own address.
    for i in 0..3 {
        let forged = format!("9.9.9.{i}");
        assert_eq!(status(&app, request("5.5.5.5", Some(&forged))).await, StatusCode::OK);
    }
    assert_eq!(
        status(&app, request("5.5.5.5", Some("9.9.9.200"))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_signed_in_user_is_limited_by_id() {
    let app = app(&[]);
    let with_user = |peer: &str| {
        let mut r = request(peer, None);
        r.extensions_mut().insert(AuthenticatedUser("alice".into()));
        r
    };
    assert_eq!(status(&app, with_user("3.3.3.1")).await, StatusCode::OK);
    assert_eq!(
        status(&app, with_user("3.3.3.2")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "same user, new IP"
    );
}

#[test]
fn the_rightmost_untrusted_hop_is_the_client() {
    let trusted = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.1.1.1".parse().unwrap());
    let ip = |headers: &axum::http::HeaderMap, peer: &str| {
        client_ip(Some(peer.parse().unwrap()), headers, &trusted).unwrap().to_string()
    };
    assert_eq!(
        ip(&headers, "10.0.0.1"),
        "1.2.3.4",
        "6.6.6.6 was written by the client: not believed"
    );
    assert_eq!(ip(&headers, "::1"), "1.2.3.4");
    assert_eq!(ip(&headers, "4.4.4.4"), "4.4.4.4", "untrusted peer: header ignored");
    headers.insert("x-forwarded-for", "garbage, 10.2.2.2".parse().unwrap());
    assert_eq!(ip(&headers, "10.0.0.1"), "10.2.2.2", "stop at an unparsable hop");
}

mod http_api {
    use super::*;
    use axum::http::header::CONTENT_TYPE;
    use blueprint_ratelimit::http::router;

    fn api() -> Router {
        let domain = RuleSet::parse_domain(Path::new("web.yaml"), RULES).unwrap();
        let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
        let store = LocalStore::new(LocalStoreConfig::default()).unwrap();
        let limiter =
            Arc::new(RateLimiter::new(rules, Backend::Local(store), Arc::new(ManualClock::new(0))));
        router(limiter)
    }

    async fn post(
        app: &Router,
        path: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let req = Request::post(path)
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_check_api_decides_like_the_layer() {
        let app = api();
        let body = serde_json::json!({"domain": "web", "descriptors": [{"entries": [{"key": "remote_address", "value": "1.1.1.1"}]}]});
        for remaining in [2, 1, 0] {
            let (status, json) = post(&app, "/api/v1/ratelimit/check", body.clone()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(json["allowed"], true);
            assert_eq!(json["remaining"], remaining);
            assert_eq!(json["limit"], 3);
        }
        let (_, json) = post(&app, "/api/v1/ratelimit/check", body).await;
        assert_eq!(json["allowed"], false);
        assert_eq!(json["retry_after_ms"], 60_000);
        assert_eq!(json["statuses"][0]["rule"], "web.remote_address");
    }

    #[tokio::test]
    async fn an_unknown_domain_is_a_400_naming_it() {
        let (status, json) = post(
            &api(),
            "/api/v1/ratelimit/check",
            serde_json::json!({"domain": "nope", "descriptors": []}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["error"]["code"], "unknown_domain");
        assert!(json["error"]["message"].as_str().unwrap().contains("\"nope\""));
        let (status, json) =
            post(&api(), "/api/v1/ratelimit/check", serde_json::json!({"domain": 5})).await;
        assert!(status.is_client_error());
        assert_eq!(json["error"]["code"], "invalid_body");
    }

    #[tokio::test]
    async fn the_simulate_api_returns_a_timeline_and_refuses_absurd_input() {
        let req = serde_json::json!({"algorithm": "fixed_window", "limit": 5, "period_ms": 1000, "pattern": "boundary", "duration_ms": 4000});
        let (status, json) = post(&api(), "/api/v1/ratelimit/simulate", req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["max_accepted_in_any_period"], 10);
        assert_eq!(json["points"].as_array().unwrap().len(), 100);
        let bad = serde_json::json!({"algorithm": "token_bucket", "limit": 0, "period_ms": 1000, "pattern": "steady", "duration_ms": 1000});
        let (status, json) = post(&api(), "/api/v1/ratelimit/simulate", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["error"]["code"], "invalid_simulation");
    }

    #[tokio::test]
    async fn the_console_page_is_served() {
        let res =
            api().oneshot(Request::get("/ratelimit/").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.into_body().collect().await.unwrap().to_bytes();
        assert!(std::str::from_utf8(&html).unwrap().contains("/api/v1/ratelimit/simulate"));
    }
}

#[tokio::test(start_paused = true)]
async fn the_leaking_bucket_holds_a_request_until_its_turn() {
    let rules = "domain: web\ndescriptors:\n  - key: remote_address\n    rate_limit: { unit: second, requests_per_unit: 1, algorithm: leaking_bucket, burst: 1 }\n";
    let domain = RuleSet::parse_domain(Path::new("web.yaml"), rules).unwrap();
    let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
    let store = LocalStore::new(LocalStoreConfig::default()).unwrap();
    let limiter =
        Arc::new(RateLimiter::new(rules, Backend::Local(store), Arc::new(ManualClock::new(0))));
    let app = Router::new()
        .route("/hello", get(|| async { "hi" }))
        .layer(RateLimitLayer::new(limiter, LayerConfig::new("web")));
    let start = tokio::time::Instant::now();
    assert_eq!(status(&app, request("1.1.1.1", None)).await, StatusCode::OK);
    assert!(
        start.elapsed() < std::time::Duration::from_millis(10),
        "first in an empty queue: no wait"
    );
    assert_eq!(status(&app, request("1.1.1.1", None)).await, StatusCode::OK);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "second waits one drain interval"
    );
    assert_eq!(
        status(&app, request("1.1.1.1", None)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "queue of 2 is full"
    );
}
