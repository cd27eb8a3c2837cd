//! The HTTP routes: suggestions with their cache header, every bad input a 400 with a
//! code, and submitted searches appended to the log.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::http::{self, HttpState, SuggestBody};
use blueprint_autocomplete::normalize::Query;
use blueprint_autocomplete::service::Autocomplete;
use blueprint_autocomplete::trie::TrieBuilder;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn app(log: Option<&std::path::Path>) -> axum::Router {
    let config = AutocompleteConfig::default();
    let mut builder =
        TrieBuilder::new(config.cached_k, config.max_prefix_chars).expect("valid parameters");
    for (query, weight) in
        [("Carpet", 90), ("car rental", 40), ("car wash", 30), ("東京タワー", 20)]
    {
        builder.push(&Query::parse(query).expect("query"), weight).expect("fits");
    }
    let mut service = Autocomplete::new(config, builder.build(), Blocklist::default());
    if let Some(path) = log {
        service = service.with_log(path).expect("log opened");
    }
    let mut state = HttpState::new(Arc::new(service));
    state.clock = Arc::new(|| 1_700_000_000_123);
    http::router(state)
}

async fn call(
    app: axum::Router,
    request: Request<Body>,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let cache = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, cache, json)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn suggestions_come_ranked_with_a_private_cache_header() {
    let (status, cache, json) = call(app(None), get("/api/v1/autocomplete?q=car%20&k=5")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("private, max-age=3600"));
    let body: SuggestBody = serde_json::from_value(json).expect("suggest body");
    assert_eq!(body.prefix, "car ");
    let queries: Vec<&str> = body.suggestions.iter().map(|s| s.query.as_str()).collect();
    assert_eq!(queries, ["car rental", "car wash"]);

    let (status, _, json) = call(app(None), get("/api/v1/autocomplete?q=%E6%9D%B1%E4%BA%AC")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["suggestions"][0]["query"], "東京タワー");
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_stable_code() {
    let long = "a".repeat(51);
    let cases = [
        ("/api/v1/autocomplete?q=", "empty_prefix"),
        ("/api/v1/autocomplete", "empty_prefix"),
        (&format!("/api/v1/autocomplete?q={long}") as &str, "prefix_too_long"),
        ("/api/v1/autocomplete?q=car&k=0", "invalid_k"),
        ("/api/v1/autocomplete?q=car&k=11", "invalid_k"),
        ("/api/v1/autocomplete?q=car&k=five", "invalid_k"),
        ("/api/v1/autocomplete?q=%FF%FE", "invalid_query_string"),
        ("/api/v1/autocomplete?q=a%00b", "control_character"),
    ];
    for (uri, code) in cases {
        let (status, _, json) = call(app(None), get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(json["error"]["code"], code, "{uri}: {json}");
        assert!(json["error"]["message"].as_str().is_some_and(|message| !message.is_empty()));
    }
}

#[tokio::test]
async fn a_submitted_search_is_appended_to_the_log() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("queries.log");
    let post = |body: &str| {
        Request::post("/api/v1/autocomplete/queries")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let (status, _, _) = call(app(Some(&path)), post(r#"{"query":"  Car   Rental "}"#)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(std::fs::read_to_string(&path).expect("log"), "1700000000123\tCar Rental\n");

    let (status, _, json) = call(app(Some(&path)), post(r#"{"query":"   "}"#)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("empty_query"))
    );
    let (status, _, json) = call(app(Some(&path)), post("not json")).await;
    assert!(status.is_client_error());
    assert_eq!(json["error"]["code"], "invalid_body");
    let (status, _, json) = call(app(None), post(r#"{"query":"x"}"#)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("query_log_disabled"))
    );
    let big = format!(r#"{{"query":"{}"}}"#, "x".repeat(http::MAX_BODY_BYTES));
    let (status, _, _) = call(app(Some(&path)), post(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
