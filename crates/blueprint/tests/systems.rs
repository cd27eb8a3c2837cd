//! The registered systems mounted as `blueprint up` mounts them: their routes, console
//! pages, OpenAPI paths, readiness probes and configuration, through real HTTP.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use blueprint_platform::clock::SystemClock;
use blueprint_platform::config::LoadedConfig;
use blueprint_platform::system::CATALOG;
use blueprint_testkit::{
    Backends, REDIS_URL_ENV, TestApp, error_code, service_url, spawn_app, spawn_configured,
    tolerate_down_backends,
};
use serde_json::{Value, json};

async fn app() -> TestApp {
    spawn_app(Backends::default(), blueprint::registry::systems()).await.unwrap()
}

/// An app whose `[ratelimit]` section is `section`, with `rules` written to
/// `<data_dir>/rules.yaml` and named as its rules path.
async fn app_with_rules(rules: &str, mut section: Value) -> TestApp {
    let rules = rules.to_owned();
    spawn_configured(
        Backends::default(),
        blueprint::registry::systems(),
        Arc::new(SystemClock),
        tolerate_down_backends,
        move |loaded: LoadedConfig, data_dir: &Path| {
            let path = data_dir.join("rules.yaml");
            std::fs::write(&path, rules)?;
            section["rules_path"] = json!(path);
            Ok(loaded.with_section("ratelimit", section))
        },
    )
    .await
    .unwrap()
}

#[test]
fn every_registered_system_is_in_the_catalog_under_its_own_name() {
    for system in blueprint::registry::systems() {
        let info = system.info();
        assert!(CATALOG.contains(&info), "{} is registered but not catalogued", info.name);
    }
}

#[tokio::test]
async fn the_console_shows_the_registered_systems_ready_with_their_pages() {
    let app = app().await;
    let (status, systems) = app.get_json("/api/v1/systems").await;
    assert_eq!(status, 200);
    for name in ["ratelimit", "hashring"] {
        let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
        assert_eq!(entry["state"], "ready", "{entry}");
        assert_eq!(entry["page"], format!("/{name}/"));
        let page = app.client.get(app.url(&format!("/{name}/"))).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(page.text().await.unwrap().contains("<html"));
    }
}

#[tokio::test]
async fn openapi_describes_every_system_route() {
    let app = app().await;
    let (status, document) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/api/v1/ratelimit/check",
        "/api/v1/ratelimit/simulate",
        "/api/v1/ratelimit/demo",
        "/api/v1/hashring/config",
        "/api/v1/hashring/ring",
        "/api/v1/hashring/change",
        "/healthz",
    ] {
        assert!(paths.contains_key(path), "{path} missing from /openapi.json");
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in ["CheckRequest", "CheckResponse", "RingRequest", "ChangeRequest", "Timeline"] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
}

#[tokio::test]
async fn the_default_rules_are_seeded_into_the_data_dir_and_decide_checks() {
    let app = app().await;
    let rules = app.platform.config.config.server.data_dir.join("ratelimit/rules.yaml");
    assert_eq!(std::fs::read_to_string(rules).unwrap(), blueprint_ratelimit::config::EXAMPLE_RULES);
    let check =
        json!({"domain": "api", "descriptors": [{"entries": [{"key": "user", "value": "u1"}]}]});
    let (status, body) = app.post_json("/api/v1/ratelimit/check", check).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["allowed"], true);
    assert_eq!(body["limit"], 30, "the example's 10/s user bucket with a burst of 20");
    assert_eq!(body["remaining"], 29);
}

#[tokio::test]
async fn bad_checks_get_coded_4xx_errors() {
    let app = app().await;
    let unknown = json!({"domain": "nope", "descriptors": []});
    let (status, body) = app.post_json("/api/v1/ratelimit/check", unknown).await;
    assert_eq!((status, error_code(&body)), (400, Some("unknown_domain")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
    let (status, body) = app.post_json("/api/v1/ratelimit/check", json!({"domain": 7})).await;
    assert_eq!((status, error_code(&body)), (422, Some("invalid_body")), "{body}");
    let absurd = json!({"algorithm": "token_bucket", "limit": 0, "period_ms": 1000,
        "pattern": "steady", "duration_ms": 1000});
    let (status, body) = app.post_json("/api/v1/ratelimit/simulate", absurd).await;
    assert_eq!((status, error_code(&body)), (400, Some("invalid_simulation")), "{body}");
}

const DEMO_RULES: &str = "domain: api
descriptors:
  - key: remote_address
    rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 2 }
";

#[tokio::test]
async fn the_demo_route_is_behind_the_layer_with_the_books_headers() {
    let app = app_with_rules(DEMO_RULES, json!({})).await;
    let demo = app.url("/api/v1/ratelimit/demo");
    for remaining in ["2", "1", "0"] {
        let response = app.client.get(&demo).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(response.headers()["x-ratelimit-remaining"], remaining);
    }
    let response = app.client.get(&demo).send().await.unwrap();
    assert_eq!(response.status(), 429);
    for header in [
        "x-ratelimit-retry-after",
        "retry-after",
        "ratelimit",
        "ratelimit-policy",
        "x-ratelimit-limit",
    ] {
        assert!(response.headers().contains_key(header), "{header} missing");
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("rate_limited"));
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for outcome in ["allowed", "denied"] {
        let counted = metrics.lines().any(|line| {
            line.starts_with("ratelimit_decisions_total{")
                && line.contains("domain=\"api\"")
                && line.contains(&format!("outcome=\"{outcome}\""))
        });
        assert!(counted, "no {outcome} decisions in /metrics:\n{metrics}");
    }
    // The check API is not behind the layer: a proxy asking for others is never limited
    // by its own address.
    let check = json!({"domain": "api", "descriptors": [], "hits": 0});
    let (status, _) = app.post_json("/api/v1/ratelimit/check", check).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_signed_in_user_is_limited_by_user_id_on_the_demo_route() {
    let app = app_with_rules(DEMO_RULES, json!({})).await;
    let credentials = json!({"username": "alice", "password": "correct horse"});
    let (status, _) = app.post_json("/api/v1/auth/signup", credentials.clone()).await;
    assert_eq!(status, 201);
    let (_, login) = app.post_json("/api/v1/auth/login", credentials).await;
    let token = login["token"].as_str().unwrap().to_owned();
    let demo = app.url("/api/v1/ratelimit/demo");
    let statuses = statuses_of(&app, &demo, Some(&token), 3).await;
    // The user limit (2/min) binds before the IP limit (3/min).
    assert_eq!(statuses, [200, 200, 429]);
    // A bad token is not a user: only the IP limit applies, and alice's denied request
    // consumed nothing from it (all or nothing), so one of its three is left.
    let statuses = statuses_of(&app, &demo, Some("not-a-token"), 2).await;
    assert_eq!(statuses, [200, 429]);
}

async fn statuses_of(app: &TestApp, url: &str, token: Option<&str>, n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        let mut request = app.client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn an_invalid_rules_file_stops_the_mount_naming_the_line() {
    let broken = "domain: api\ndescriptors:\n  - key: user\n    rate_limit: { unit: fortnight, requests_per_unit: 1 }\n";
    let result = spawn_configured(
        Backends::default(),
        blueprint::registry::systems(),
        Arc::new(SystemClock),
        |_| {},
        move |loaded: LoadedConfig, data_dir: &Path| {
            let path = data_dir.join("rules.yaml");
            std::fs::write(&path, broken)?;
            Ok(loaded.with_section("ratelimit", json!({"rules_path": path})))
        },
    )
    .await;
    let error = format!("{:#}", result.err().unwrap());
    assert!(error.contains("ratelimit") && error.contains("rules.yaml:4"), "{error}");
}

#[tokio::test]
async fn a_redis_store_that_is_down_fails_open_and_readiness_names_it() {
    let redis = json!({"kind": "redis", "url": "redis://127.0.0.1:1", "timeout_ms": 200});
    let app = app_with_rules(DEMO_RULES, json!({ "store": redis })).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    let text = body.to_string();
    assert!(text.contains("ratelimit-redis") && text.contains("127.0.0.1:1"), "{text}");
    let check =
        json!({"domain": "api", "descriptors": [{"entries": [{"key": "user", "value": "u"}]}]});
    let (status, body) = app.post_json("/api/v1/ratelimit/check", check).await;
    assert_eq!(status, 200, "fail-open, never a 500: {body}");
    assert_eq!((body["allowed"].clone(), body["store_failed"].clone()), (json!(true), json!(true)));
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(
            |l| l.starts_with("ratelimit_store_errors_total{") && l.contains("policy=\"open\"")
        ),
        "store errors are counted: {metrics}"
    );
    let (_, systems) = app.get_json("/api/v1/systems").await;
    let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == "ratelimit").unwrap();
    assert_eq!(entry["state"], "down");
}

#[tokio::test]
async fn a_redis_store_shares_counters_between_two_servers() {
    let Some(url) = service_url(REDIS_URL_ENV) else {
        eprintln!("skipped: {REDIS_URL_ENV} is not set");
        return;
    };
    let prefix = format!("{}:", blueprint_testkit::unique_name("bp_rl"));
    let section = json!({"store": {"kind": "redis", "url": url, "prefix": prefix}});
    let first = app_with_rules(DEMO_RULES, section.clone()).await;
    let second = app_with_rules(DEMO_RULES, section).await;
    let (status, body) = first.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("ratelimit-redis"));
    let check = json!({"domain": "api", "descriptors": [{"entries": [{"key": "user", "value": "shared"}]}]});
    let mut allowed = Vec::new();
    for app in [&first, &second, &first, &second] {
        let (status, body) = app.post_json("/api/v1/ratelimit/check", check.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["store_failed"], false);
        allowed.push(body["allowed"].as_bool().unwrap());
    }
    assert_eq!(allowed, [true, true, false, false], "2 per minute across both servers");
}

#[tokio::test]
async fn envoy_speaks_grpc_to_the_same_limits_through_the_platform() {
    use blueprint_ratelimit::envoy::{
        Code, Entry, RateLimitDescriptor, RateLimitRequest, RateLimitResponse,
        SHOULD_RATE_LIMIT_PATH,
    };
    let app = app_with_rules(DEMO_RULES, json!({})).await;
    let channel = tonic::transport::Channel::from_shared(app.url("")).unwrap().connect().await;
    let mut grpc = tonic::client::Grpc::new(channel.unwrap());
    let descriptor = RateLimitDescriptor {
        entries: vec![Entry { key: "user".into(), value: "envoy-user".into() }],
        hits_addend: None,
    };
    let mut codes = Vec::new();
    for _ in 0..3 {
        grpc.ready().await.unwrap();
        let request = tonic::Request::new(RateLimitRequest {
            domain: "api".into(),
            descriptors: vec![descriptor.clone()],
            hits_addend: 0,
        });
        let codec = tonic_prost::ProstCodec::<RateLimitRequest, RateLimitResponse>::default();
        let path = axum::http::uri::PathAndQuery::from_static(SHOULD_RATE_LIMIT_PATH);
        codes.push(grpc.unary(request, path, codec).await.unwrap().into_inner().overall_code);
    }
    let (ok, over) = (i32::from(Code::Ok), i32::from(Code::OverLimit));
    assert_eq!(codes, [ok, ok, over], "2 per minute per user");
    // The HTTP check API sees the hits Envoy spent.
    let check = json!({"domain": "api", "hits": 0,
        "descriptors": [{"entries": [{"key": "user", "value": "envoy-user"}]}]});
    let (_, body) = app.post_json("/api/v1/ratelimit/check", check).await;
    assert_eq!(body["remaining"], 0, "{body}");
}

#[tokio::test]
async fn the_hashring_api_describes_rings_and_changes() {
    let app = app().await;
    let (status, config) = app.get_json("/api/v1/hashring/config").await;
    assert_eq!(status, 200);
    assert_eq!(config["library_default_vnodes"], blueprint_hashring::DEFAULT_VNODES);
    let nodes = json!([{"id": "a"}, {"id": "b"}, {"id": "c", "weight": 2.0}]);
    let (status, ring) =
        app.post_json("/api/v1/hashring/ring", json!({"nodes": nodes, "vnodes": 4})).await;
    assert_eq!(status, 200, "{ring}");
    assert_eq!(ring["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(ring["points"].as_array().unwrap().len(), 16, "4 + 4 + 2 × 4 points");
    let change = json!({"ring": {"nodes": nodes, "vnodes": 4},
        "change": {"op": "add", "node": {"id": "d"}}});
    let (status, moved) = app.post_json("/api/v1/hashring/change", change).await;
    assert_eq!(status, 200, "{moved}");
    let ranges = moved["ranges"].as_array().unwrap();
    assert!(!ranges.is_empty());
    assert!(ranges.iter().all(|range| range["to"] == "d"), "every moved arc goes to d");
    assert!(moved["moved_keys"].as_array().unwrap().iter().all(|key| key["to"] == "d"));
}

#[tokio::test]
async fn bad_hashring_requests_get_coded_4xx_errors() {
    let app = app().await;
    let duplicate = json!({"nodes": [{"id": "a"}, {"id": "a"}]});
    let (status, body) = app.post_json("/api/v1/hashring/ring", duplicate).await;
    assert_eq!((status, error_code(&body)), (400, Some("duplicate_node")), "{body}");
    let zero = json!({"nodes": [{"id": "a", "weight": 0.0}]});
    let (status, body) = app.post_json("/api/v1/hashring/ring", zero).await;
    assert_eq!((status, error_code(&body)), (400, Some("invalid_weight")), "{body}");
    let (status, body) = app.post_json("/api/v1/hashring/ring", json!({"nodes": "a"})).await;
    assert_eq!((status, error_code(&body)), (422, Some("invalid_field")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("nodes"), "{body}");
    let remove = json!({"ring": {"nodes": [{"id": "a"}]}, "change": {"op": "remove", "id": "z"}});
    let (status, body) = app.post_json("/api/v1/hashring/change", remove).await;
    assert_eq!((status, error_code(&body)), (400, Some("unknown_node")), "{body}");
}
