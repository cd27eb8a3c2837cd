//! The URL shortener as `blueprint up` mounts it, through real HTTP, on SQLite and (when
//! `BLUEPRINT_TEST_POSTGRES_URL` is set) PostgreSQL, with the in-process cache and (when
//! `BLUEPRINT_TEST_REDIS_URL` is set) Redis; and `blueprint shortener` as a user runs it.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::sync::Arc;

use blueprint::systems::shortener::Shortener;
use blueprint_platform::clock::{Clock, ManualClock, SystemClock};
use blueprint_platform::config::{Config, LoadedConfig};
use blueprint_shortener::service::rfc3339;
use blueprint_shortener::store::SqlStore;
use blueprint_testkit::{
    Backends, CacheChoice, SqlChoice, TestApp, cache_choices, error_code, spawn_configured,
    sql_choices,
};
use serde_json::{Value, json};

/// Every backend combination to run on: each SQL engine with the in-process cache, and
/// SQLite with Redis (the cache is what differs there).
fn backends() -> Vec<Backends> {
    let mut all: Vec<Backends> =
        sql_choices().into_iter().map(|sql| Backends { sql, cache: CacheChoice::Memory }).collect();
    for cache in cache_choices().into_iter().skip(1) {
        all.push(Backends { sql: SqlChoice::Sqlite, cache });
    }
    all
}

async fn spawn(
    backends: &Backends,
    section: Value,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_configured(
        backends.clone(),
        vec![Arc::new(Shortener)],
        clock,
        adjust,
        move |loaded: LoadedConfig, _: &Path| Ok(loaded.with_section("shortener", section)),
    )
    .await
    .unwrap()
}

async fn app(backends: &Backends, section: Value) -> TestApp {
    spawn(backends, section, Arc::new(SystemClock), |_| {}).await
}

/// A client that shows redirects instead of following them.
fn no_follow() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn shorten(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_json("/api/v1/data/shorten", body).await
}

async fn shorten_ok(app: &TestApp, body: Value) -> Value {
    let (status, answer) = shorten(app, body).await;
    assert!(status == 201 || status == 200, "{status}: {answer}");
    answer
}

/// `GET /<code>`: status, `Location`, `Cache-Control`.
async fn visit(app: &TestApp, code: &str) -> (u16, Option<String>, Option<String>) {
    let response = no_follow().get(app.url(&format!("/{code}"))).send().await.unwrap();
    let header =
        |name: &str| response.headers().get(name).map(|value| value.to_str().unwrap().to_owned());
    let (location, cache) = (header("location"), header("cache-control"));
    (response.status().as_u16(), location, cache)
}

async fn links_stored(app: &TestApp) -> u64 {
    SqlStore::open(app.platform.sql.clone()).await.unwrap().count_links().await.unwrap()
}

#[tokio::test]
async fn a_shortened_url_redirects_with_301_and_a_matching_cache_control() {
    for backends in backends() {
        let app = app(&backends, json!({})).await;
        let (status, body) =
            shorten(&app, json!({"longUrl": "https://Example.com/a/../page?q=1"})).await;
        assert_eq!(status, 201, "{backends:?}: {body}");
        let code = body["code"].as_str().unwrap().to_owned();
        assert!(code.len() >= 10 && code.chars().all(|c| c.is_ascii_alphanumeric()), "{code}");
        assert_eq!(body["shortUrl"], format!("http://{}/{code}", app.address));
        assert_eq!(body["longUrl"], "https://example.com/page?q=1", "normalised");
        assert_eq!((body["created"].as_bool(), body["redirect"].as_u64()), (Some(true), Some(301)));
        // The first visit fills the cache, the second is served from it: the same answer.
        for _ in 0..2 {
            let (status, location, cache) = visit(&app, &code).await;
            assert_eq!(status, 301, "{backends:?}");
            assert_eq!(location.as_deref(), Some("https://example.com/page?q=1"));
            assert_eq!(cache.as_deref(), Some("public, max-age=86400"));
        }
        let (status, link) = app.get_json(&format!("/api/v1/links/{code}")).await;
        assert_eq!((status, link["code"].as_str()), (200, Some(code.as_str())));
    }
}

/// Every header of a redirect but `date` and `x-request-id` (whose value differs), sorted.
async fn redirect_headers(
    app: &TestApp,
    code: &str,
    request_id: Option<&str>,
) -> Vec<(String, String)> {
    let mut request = no_follow().get(app.url(&format!("/{code}")));
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 301);
    let id = response.headers().get("x-request-id").expect("every answer has a request id");
    if let Some(given) = request_id {
        assert_eq!(id, given, "a given request id is echoed");
    }
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date" && *name != "x-request-id")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    headers
}

/// `http_requests_total` of `GET /{code}` answered 301.
async fn redirects_counted(app: &TestApp) -> f64 {
    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| {
            line.starts_with("http_requests_total{")
                && line.contains(r#"route="/{code}""#)
                && line.contains(r#"status="301""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn the_fast_path_answers_exactly_what_the_full_stack_answers() {
    for backends in backends() {
        // The same link on a server whose redirects all take the full stack and on one
        // that answers cached links first (with Redis as the cache, both take the stack).
        let full = app(&backends, json!({"fast_redirects": false})).await;
        let fast = app(&backends, json!({})).await;
        let url = json!({"longUrl": "https://example.com/fast?x=1"});
        let full_code = shorten_ok(&full, url.clone()).await["code"].as_str().unwrap().to_owned();
        let fast_code = shorten_ok(&fast, url).await["code"].as_str().unwrap().to_owned();
        let before = redirects_counted(&fast).await;
        let expected = redirect_headers(&full, &full_code, None).await;
        for id in [None, Some("given-id-1")] {
            assert_eq!(redirect_headers(&fast, &fast_code, id).await, expected, "{backends:?}");
        }
        // Counted under the route's template like any request (the recorder is shared by
        // the apps of this process, so at least ours).
        assert!(redirects_counted(&fast).await - before >= 2.0, "{backends:?}");
        let (status, stats) = fast.get_json(&format!("/api/v1/links/{fast_code}/stats")).await;
        assert_eq!(
            (status, stats["link"]["clicks"].as_i64()),
            (200, Some(2)),
            "{backends:?}: {stats}"
        );
    }
}

#[tokio::test]
async fn the_same_long_url_returns_one_code_even_under_concurrent_shortens() {
    for backends in backends() {
        let app = Arc::new(app(&backends, json!({})).await);
        let mut tasks = Vec::new();
        for _ in 0..24 {
            let app = Arc::clone(&app);
            tasks.push(tokio::spawn(async move {
                shorten(&app, json!({"longUrl": "https://example.com/concurrent"})).await
            }));
        }
        let mut codes = Vec::new();
        let mut created = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert!(status == 201 || status == 200, "{backends:?}: {status} {body}");
            created += usize::from(status == 201);
            codes.push(body["code"].as_str().unwrap().to_owned());
        }
        codes.dedup();
        assert_eq!(codes.len(), 1, "{backends:?}: one code for one long URL: {codes:?}");
        assert_eq!(created, 1, "{backends:?}: exactly one request created it");
        assert_eq!(links_stored(&app).await, 1);
        // A link with options of its own is a separate link to the same URL.
        let other =
            shorten_ok(&app, json!({"longUrl": "https://example.com/concurrent", "redirect": 302}))
                .await;
        assert_ne!(other["code"], codes[0].as_str());
    }
}

#[tokio::test]
async fn a_302_link_says_no_store_and_the_default_redirect_is_configurable() {
    let app =
        app(&Backends::default(), json!({"default_redirect": 302, "redirect_max_age_s": 60})).await;
    let temporary = shorten_ok(&app, json!({"longUrl": "https://example.com/t"})).await;
    let (status, _, cache) = visit(&app, temporary["code"].as_str().unwrap()).await;
    assert_eq!((status, cache.as_deref()), (302, Some("no-store")));
    let permanent =
        shorten_ok(&app, json!({"longUrl": "https://example.com/p", "redirect": 301})).await;
    let (status, _, cache) = visit(&app, permanent["code"].as_str().unwrap()).await;
    assert_eq!((status, cache.as_deref()), (301, Some("public, max-age=60")));
}

#[tokio::test]
async fn an_alias_is_served_once_and_taken_or_reserved_aliases_are_refused() {
    for backends in backends() {
        let app = app(&backends, json!({})).await;
        let body =
            shorten_ok(&app, json!({"longUrl": "https://example.com/1", "alias": "myLink"})).await;
        assert_eq!(body["code"], "myLink");
        assert_eq!(visit(&app, "myLink").await.0, 301);
        let (status, body) =
            shorten(&app, json!({"longUrl": "https://example.com/2", "alias": "myLink"})).await;
        assert_eq!((status, error_code(&body)), (409, Some("alias_taken")), "{body}");
        for alias in [
            "api",
            "healthz",
            "Metrics",
            "shortener",
            "ids",
            "ab",
            "a-b-c",
            "x".repeat(33).as_str(),
        ] {
            let (status, body) =
                shorten(&app, json!({"longUrl": "https://example.com/3", "alias": alias})).await;
            assert_eq!(
                (status, error_code(&body)),
                (400, Some("invalid_alias")),
                "{alias}: {body}"
            );
        }
        assert_eq!(
            visit(&app, "myLink").await.1.as_deref(),
            Some("https://example.com/1"),
            "unchanged"
        );
        assert_eq!(links_stored(&app).await, 1, "{backends:?}: rejected requests stored nothing");
    }
}

#[tokio::test]
async fn links_expire_by_date_and_by_clicks_with_410() {
    for backends in backends() {
        let clock = ManualClock::new(SystemClock.now_ms());
        let app = spawn(&backends, json!({}), Arc::new(clock.clone()), |_| {}).await;
        let expires = rfc3339(clock.now_ms() + 60_000).unwrap();
        let dated =
            shorten_ok(&app, json!({"longUrl": "https://example.com/d", "expiresAt": expires}))
                .await;
        let code = dated["code"].as_str().unwrap();
        let (status, _, cache) = visit(&app, code).await;
        assert_eq!(status, 301, "{backends:?}");
        let max_age: u64 = cache.unwrap().trim_start_matches("public, max-age=").parse().unwrap();
        assert!(max_age <= 60, "browsers may not keep it past its expiry: {max_age}");
        clock.advance_ms(61_000);
        let (status, body) = app.get_json(&format!("/{code}")).await;
        assert_eq!((status, error_code(&body)), (410, Some("expired")), "{backends:?}: {body}");

        let limited =
            shorten_ok(&app, json!({"longUrl": "https://example.com/m", "maxClicks": 2})).await;
        let code = limited["code"].as_str().unwrap();
        for _ in 0..2 {
            let (status, _, cache) = visit(&app, code).await;
            assert_eq!((status, cache.as_deref()), (301, Some("no-store")), "{backends:?}");
        }
        let (status, body) = app.get_json(&format!("/{code}")).await;
        assert_eq!((status, error_code(&body)), (410, Some("click_limit_reached")), "{body}");
        let (_, stats) = app.get_json(&format!("/api/v1/links/{code}/stats")).await;
        assert_eq!(stats["link"]["clicks"], 2, "{backends:?}: the refused visit is not a click");
    }
}

#[tokio::test]
async fn concurrent_visits_never_exceed_a_click_limit() {
    for backends in backends() {
        let app = Arc::new(app(&backends, json!({})).await);
        let body =
            shorten_ok(&app, json!({"longUrl": "https://example.com/race", "maxClicks": 5})).await;
        let code = body["code"].as_str().unwrap().to_owned();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (app, code) = (Arc::clone(&app), code.clone());
            tasks.push(tokio::spawn(async move { visit(&app, &code).await.0 }));
        }
        let mut redirected = 0;
        for task in tasks {
            let status = task.await.unwrap();
            assert!(status == 301 || status == 410, "{status}");
            redirected += usize::from(status == 301);
        }
        assert_eq!(redirected, 5, "{backends:?}");
    }
}

#[tokio::test]
async fn bad_input_gets_its_error_code_and_stores_nothing() {
    for backends in sql_choices().into_iter().map(|sql| Backends { sql, ..Backends::default() }) {
        let section = json!({"blocked_hosts": ["evil.test"], "max_url_len": 100});
        let app = app(&backends, section).await;
        let own = format!("http://{}/abc", app.address);
        let long = format!("https://example.com/{}", "a".repeat(100));
        for (body, status, code) in [
            (json!({"longUrl": "not a url"}), 400, "invalid_url"),
            (json!({"longUrl": "ftp://example.com/"}), 400, "invalid_url"),
            (json!({"longUrl": "javascript:alert(1)"}), 400, "invalid_url"),
            (json!({"longUrl": "https://example.com/\nx"}), 400, "invalid_url"),
            (json!({"longUrl": "https://user:pw@example.com/"}), 400, "invalid_url"),
            (json!({"longUrl": ""}), 400, "invalid_url"),
            (json!({"longUrl": long}), 400, "url_too_long"),
            (json!({"longUrl": "https://www.evil.test/x"}), 400, "blocked_host"),
            (json!({"longUrl": own}), 400, "blocked_host"),
            (
                json!({"longUrl": "https://example.com/", "expiresAt": "yesterday"}),
                400,
                "invalid_expiry",
            ),
            (
                json!({"longUrl": "https://example.com/", "expiresAt": "2000-01-01T00:00:00Z"}),
                400,
                "invalid_expiry",
            ),
            (json!({"longUrl": "https://example.com/", "maxClicks": 0}), 400, "invalid_max_clicks"),
            (json!({"longUrl": "https://example.com/", "redirect": 307}), 400, "invalid_redirect"),
            (json!({"url": "https://example.com/"}), 422, "invalid_field"),
            (json!({"longUrl": 42}), 422, "invalid_field"),
        ] {
            let (got, answer) = shorten(&app, body.clone()).await;
            assert_eq!((got, error_code(&answer)), (status, Some(code)), "{body}: {answer}");
        }
        let not_json = app
            .client
            .post(app.url("/api/v1/data/shorten"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), 400);
        let body: Value = not_json.json().await.unwrap();
        assert_eq!(error_code(&body), Some("malformed_json"));
        for path in [
            "/nothere1",
            "/api",
            "/ab",
            "/a-b-c",
            "/api/v1/links/nothere1",
            "/api/v1/links/nothere1/stats",
            "/api/v1/links/nothere1/qr",
        ] {
            let (status, body) = app.get_json(path).await;
            assert_eq!((status, error_code(&body)), (404, Some("not_found")), "{path}: {body}");
        }
        assert_eq!(links_stored(&app).await, 0, "{backends:?}: nothing stored");
    }
}

#[tokio::test]
async fn click_statistics_are_exact_once_the_queue_drains() {
    for backends in backends() {
        let app = Arc::new(app(&backends, json!({})).await);
        let body =
            shorten_ok(&app, json!({"longUrl": "https://example.com/stats", "redirect": 302}))
                .await;
        let code = body["code"].as_str().unwrap().to_owned();
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        let mut tasks = Vec::new();
        for i in 0..60 {
            let (app, code) = (Arc::clone(&app), code.clone());
            tasks.push(tokio::spawn(async move {
                let mut request = no_follow().get(app.url(&format!("/{code}")));
                request = match i % 3 {
                    0 => request.header("user-agent", "curl/8.5.0"),
                    1 => request
                        .header("user-agent", chrome)
                        .header("referer", "https://news.example/post/1"),
                    _ => request.header("user-agent", chrome),
                };
                request.send().await.unwrap().status().as_u16()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 302);
        }
        let (status, stats) = app.get_json(&format!("/api/v1/links/{code}/stats")).await;
        assert_eq!(status, 200, "{stats}");
        assert_eq!(stats["link"]["clicks"], 60, "{backends:?}: {stats}");
        let daily: i64 =
            stats["daily"].as_array().unwrap().iter().map(|d| d["clicks"].as_i64().unwrap()).sum();
        assert_eq!(daily, 60);
        let count = |list: &str, name: &str| {
            stats[list]
                .as_array()
                .unwrap()
                .iter()
                .find(|row| row["name"] == name)
                .map(|row| row["clicks"].clone())
        };
        assert_eq!(count("agents", "curl"), Some(json!(20)));
        assert_eq!(count("agents", "chrome"), Some(json!(40)));
        assert_eq!(count("referrers", "news.example"), Some(json!(20)));
        assert_eq!(count("referrers", "direct"), Some(json!(40)));
    }
}

async fn sign_in(app: &TestApp, username: &str) -> String {
    let credentials = json!({"username": username, "password": "correct horse battery"});
    let (status, body) = app.post_json("/api/v1/auth/signup", credentials.clone()).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.post_json("/api/v1/auth/login", credentials).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn new_key(app: &TestApp, token: &str, name: &str) -> (i64, String) {
    let response = app
        .client
        .post(app.url("/api/v1/keys"))
        .bearer_auth(token)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (body["id"].as_i64().unwrap(), body["key"].as_str().unwrap().to_owned())
}

async fn with_key(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn with_analytics_off_only_click_limited_links_count() {
    let app = app(&Backends::default(), json!({"record_clicks": false})).await;
    let open = shorten_ok(&app, json!({"longUrl": "https://example.com/open"})).await;
    let limited =
        shorten_ok(&app, json!({"longUrl": "https://example.com/l", "maxClicks": 3})).await;
    for body in [&open, &limited] {
        assert_eq!(visit(&app, body["code"].as_str().unwrap()).await.0, 301);
    }
    let clicks = |body: &Value| format!("/api/v1/links/{}/stats", body["code"].as_str().unwrap());
    let (_, stats) = app.get_json(&clicks(&open)).await;
    assert_eq!(
        (stats["link"]["clicks"].as_i64(), stats["daily"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    let (_, stats) = app.get_json(&clicks(&limited)).await;
    assert_eq!(stats["link"]["clicks"], 1, "the limit is still enforced");
}

#[tokio::test]
async fn api_keys_are_created_listed_revoked_and_manage_their_own_links() {
    use reqwest::Method;
    for backends in backends() {
        let app = app(&backends, json!({})).await;
        let alice = sign_in(&app, "alice").await;
        let (key_id, key) = new_key(&app, &alice, "laptop").await;
        let (_, other_key) = new_key(&app, &sign_in(&app, "bob").await, "bob's").await;
        assert!(key.starts_with("bpk_"), "{key}");

        let body = json!({"longUrl": "https://example.com/owned"});
        let (status, link) =
            with_key(&app, Method::POST, "/api/v1/data/shorten", Some(&key), Some(body)).await;
        assert_eq!(status, 201, "{link}");
        let code = link["code"].as_str().unwrap().to_owned();
        let manage = |action: &str| format!("/api/v1/links/{code}{action}");

        let (status, body) = with_key(&app, Method::POST, &manage("/disable"), None, None).await;
        assert_eq!((status, error_code(&body)), (401, Some("unauthorized")));
        let (status, body) =
            with_key(&app, Method::POST, &manage("/disable"), Some(&other_key), None).await;
        assert_eq!((status, error_code(&body)), (403, Some("forbidden")));
        let (status, body) =
            with_key(&app, Method::POST, &manage("/disable"), Some("bpk_wrong"), None).await;
        assert_eq!((status, error_code(&body)), (401, Some("unauthorized")));
        assert_eq!(visit(&app, &code).await.0, 301, "refused requests changed nothing");

        let (status, body) =
            with_key(&app, Method::POST, &manage("/disable"), Some(&key), None).await;
        assert_eq!((status, body["disabled"].as_bool()), (200, Some(true)), "{body}");
        let (status, body) = app.get_json(&format!("/{code}")).await;
        assert_eq!(
            (status, error_code(&body)),
            (410, Some("disabled")),
            "the cached link was dropped"
        );
        // The owner's bearer token manages the links of the owner's keys too.
        let enabled =
            app.client.post(app.url(&manage("/enable"))).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(enabled.status(), 200);
        assert_eq!(visit(&app, &code).await.0, 301);
        let (status, _) = with_key(&app, Method::DELETE, &manage(""), Some(&key), None).await;
        assert_eq!(status, 204);
        assert_eq!(visit(&app, &code).await.0, 404);

        // An anonymous link cannot be managed by anyone over the API.
        let anonymous = shorten_ok(&app, json!({"longUrl": "https://example.com/anon"})).await;
        let path = format!("/api/v1/links/{}", anonymous["code"].as_str().unwrap());
        assert_eq!(with_key(&app, Method::DELETE, &path, Some(&key), None).await.0, 403);

        let listed =
            app.client.get(app.url("/api/v1/keys")).bearer_auth(&alice).send().await.unwrap();
        let listed: Value = listed.json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert!(listed[0].get("key").is_none(), "secrets are shown once");
        assert_eq!(listed[0]["prefix"].as_str(), Some(&key[..12]));
        let revoked = app
            .client
            .delete(app.url(&format!("/api/v1/keys/{key_id}")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 204);
        let again = app
            .client
            .delete(app.url(&format!("/api/v1/keys/{key_id}")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 404);
        let body = json!({"longUrl": "https://example.com/after"});
        let (status, _) =
            with_key(&app, Method::POST, "/api/v1/data/shorten", Some(&key), Some(body)).await;
        assert_eq!(status, 401, "{backends:?}: a revoked key is refused");
        let (status, _) = app.get_json("/api/v1/keys").await;
        assert_eq!(status, 401, "keys need a bearer token");
    }
}

#[tokio::test]
async fn a_server_that_requires_api_keys_refuses_anonymous_shortens() {
    let app = app(&Backends::default(), json!({"require_api_key": true})).await;
    let (status, body) = shorten(&app, json!({"longUrl": "https://example.com/"})).await;
    assert_eq!((status, error_code(&body)), (401, Some("unauthorized")));
    let (_, key) = new_key(&app, &sign_in(&app, "carol").await, "ci").await;
    let body = json!({"longUrl": "https://example.com/"});
    let (status, _) =
        with_key(&app, reqwest::Method::POST, "/api/v1/data/shorten", Some(&key), Some(body)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn shortening_is_rate_limited_per_client_with_429_and_headers() {
    let app = app(&Backends::default(), json!({"shorten_per_minute_per_ip": 3})).await;
    for i in 0..3 {
        let response = app
            .client
            .post(app.url("/api/v1/data/shorten"))
            .json(&json!({"longUrl": format!("https://example.com/{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
    }
    let refused = app
        .client
        .post(app.url("/api/v1/data/shorten"))
        .json(&json!({"longUrl": "https://example.com/4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), Some("rate_limited"));
    assert_eq!(links_stored(&app).await, 3, "the refused request stored nothing");
    assert_eq!(app.get_json("/api/v1/links/nothere1").await.0, 404, "other routes are not limited");
}

#[tokio::test]
async fn a_link_has_a_qr_code_as_svg_or_png() {
    let app = app(&Backends::default(), json!({})).await;
    let body = shorten_ok(&app, json!({"longUrl": "https://example.com/qr"})).await;
    let code = body["code"].as_str().unwrap();
    let svg = app.client.get(app.url(&format!("/api/v1/links/{code}/qr"))).send().await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let png = app
        .client
        .get(app.url(&format!("/api/v1/links/{code}/qr?format=png")))
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[..4], b"\x89PNG");
    let (status, body) = app.get_json(&format!("/api/v1/links/{code}/qr?format=gif")).await;
    assert_eq!((status, error_code(&body)), (400, Some("invalid_format")));
}

#[tokio::test]
async fn the_hash_strategy_makes_seven_character_codes_and_dedupes() {
    for backends in backends() {
        let app = app(&backends, json!({"codes": "hash", "bloom_capacity": 10000})).await;
        let first = shorten_ok(&app, json!({"longUrl": "https://example.com/h"})).await;
        let code = first["code"].as_str().unwrap();
        assert_eq!(code.len(), 7, "{first}");
        let again = shorten_ok(&app, json!({"longUrl": "https://example.com/h"})).await;
        assert_eq!((again["code"].as_str(), again["created"].as_bool()), (Some(code), Some(false)));
        // The same URL with options collides with the first code and takes the next.
        let other =
            shorten_ok(&app, json!({"longUrl": "https://example.com/h", "redirect": 302})).await;
        assert_eq!(other["code"].as_str().unwrap().len(), 7);
        assert_ne!(other["code"].as_str(), Some(code), "{backends:?}");
        assert_eq!(visit(&app, code).await.0, 301);
    }
}

#[tokio::test]
async fn a_restart_keeps_links_statistics_and_keys() {
    for backends in backends() {
        let dir = tempfile::tempdir().unwrap();
        let schema = blueprint_testkit::unique_name("bp_short");
        let url = format!("sqlite://{}", dir.path().join("shared.db").display());
        let shared = |config: &mut Config| match &backends.sql {
            SqlChoice::Sqlite => config.sql.url = Some(url.clone()),
            SqlChoice::Postgres(_) => config.sql.schema = Some(schema.clone()),
        };
        let first = spawn(&backends, json!({}), Arc::new(SystemClock), shared).await;
        let (_, key) = new_key(&first, &sign_in(&first, "dave").await, "k").await;
        let body = json!({"longUrl": "https://example.com/kept"});
        let (_, link) = with_key(
            &first,
            reqwest::Method::POST,
            "/api/v1/data/shorten",
            Some(&key),
            Some(body.clone()),
        )
        .await;
        let code = link["code"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            assert_eq!(visit(&first, &code).await.0, 301);
        }
        assert_eq!(
            first.get_json(&format!("/api/v1/links/{code}/stats")).await.1["link"]["clicks"],
            3
        );
        // A click still queued when the server stops is written by the shutdown hook.
        assert_eq!(visit(&first, &code).await.0, 301);
        first.shutdown().await.unwrap();

        let second = spawn(&backends, json!({}), Arc::new(SystemClock), shared).await;
        let (status, location, _) = visit(&second, &code).await;
        assert_eq!(
            (status, location.as_deref()),
            (301, Some("https://example.com/kept")),
            "{backends:?}"
        );
        let (status, again) = with_key(
            &second,
            reqwest::Method::POST,
            "/api/v1/data/shorten",
            Some(&key),
            Some(body),
        )
        .await;
        assert_eq!(
            (status, again["code"].as_str()),
            (200, Some(code.as_str())),
            "the key and the link survived"
        );
        assert_eq!(
            second.get_json(&format!("/api/v1/links/{code}/stats")).await.1["link"]["clicks"],
            5,
            "three counted before the stop, one queued at the stop, one after: {backends:?}"
        );
    }
}

#[tokio::test]
async fn bad_settings_stop_the_mount_naming_the_field() {
    let result = spawn_configured(
        Backends::default(),
        vec![Arc::new(Shortener)],
        Arc::new(SystemClock),
        |_| {},
        |loaded: LoadedConfig, _: &Path| {
            Ok(loaded.with_section("shortener", json!({"default_redirect": 307})))
        },
    )
    .await;
    let error = format!("{:#}", result.err().unwrap());
    assert!(error.contains("default_redirect"), "{error}");
}

#[tokio::test]
async fn the_console_and_openapi_list_the_shortener() {
    let app = spawn_configured(
        Backends::default(),
        blueprint::registry::systems(),
        Arc::new(SystemClock),
        blueprint_testkit::tolerate_down_backends,
        |loaded, _| Ok(loaded),
    )
    .await
    .unwrap();
    let (status, systems) = app.get_json("/api/v1/systems").await;
    assert_eq!(status, 200);
    let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == "shortener").unwrap();
    assert_eq!(
        (entry["state"].as_str(), entry["page"].as_str()),
        (Some("ready"), Some("/shortener/"))
    );
    let page = app.client.get(app.url("/shortener/")).send().await.unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/api/v1/data/shorten"));
    // The platform's own routes still win over `/{code}`.
    assert_eq!(app.get_json("/healthz").await.0, 200);
    let (status, document) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    for path in ["/api/v1/data/shorten", "/{code}", "/api/v1/links/{code}/stats", "/api/v1/keys"] {
        assert!(document["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
}

fn blueprint_cli(args: &[&str], dir: &Path) -> String {
    let output = common::blueprint(args, dir);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_cli_shortens_loads_and_prints_stats() {
    let dir = tempfile::tempdir().unwrap();
    let printed = blueprint_cli(&["shortener", "shorten", "https://example.com/cli"], dir.path());
    let code = printed.trim().rsplit('/').next().unwrap().to_owned();
    assert!(printed.starts_with("http://127.0.0.1:8080/"), "{printed}");
    let again =
        blueprint_cli(&["shortener", "shorten", "https://example.com/cli", "--json"], dir.path());
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        (again["code"].as_str(), again["created"].as_bool()),
        (Some(code.as_str()), Some(false))
    );

    let codes = dir.path().join("codes.txt");
    let args = [
        "shortener",
        "load",
        "--links",
        "2500",
        "--batch",
        "1000",
        "--codes-out",
        codes.to_str().unwrap(),
    ];
    blueprint_cli(&args, dir.path());
    let loaded = std::fs::read_to_string(&codes).unwrap();
    assert_eq!(loaded.lines().count(), 2500);
    let stats: Value = serde_json::from_str(&blueprint_cli(
        &["shortener", "stats", loaded.lines().next().unwrap(), "--json"],
        dir.path(),
    ))
    .unwrap();
    assert_eq!(stats["clicks"], 0, "{stats}");
    assert!(stats["longUrl"].as_str().unwrap().starts_with("https://load.example/"));
    let missing = common::blueprint(&["shortener", "stats", "nothere1"], dir.path());
    assert!(!missing.status.success());
}

#[tokio::test]
async fn redirects_keep_flowing_while_a_batch_of_clicks_waits_for_the_database() {
    // SQLite only: another connection holds the write lock, so writing the batch waits.
    let app =
        app(&Backends::default(), json!({"click_batch_rows": 4, "click_flush_ms": 3_600_000}))
            .await;
    let code = shorten_ok(&app, json!({"longUrl": "https://example.com/busy"})).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(visit(&app, &code).await.0, 301);
    let blueprint_platform::sql::Sql::Sqlite(pool) = &app.platform.sql else {
        panic!("the default backend is SQLite")
    };
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *holder).await.unwrap();
    // A stats request flushes: its batch (one click) now waits for the lock.
    let stats_url = app.url(&format!("/api/v1/links/{code}/stats"));
    let client = app.client.clone();
    let stats = tokio::spawn(async move { client.get(stats_url).send().await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Far more clicks than the queue holds: each must be served while that write waits.
    for _ in 0..40 {
        let visited = tokio::time::timeout(std::time::Duration::from_secs(2), visit(&app, &code));
        assert_eq!(visited.await.expect("a redirect waited for the click writer").0, 301);
    }
    sqlx::query("COMMIT").execute(&mut *holder).await.unwrap();
    drop(holder);
    assert_eq!(stats.await.unwrap().status(), 200);
    assert_eq!(
        app.get_json(&format!("/api/v1/links/{code}/stats")).await.1["link"]["clicks"],
        41,
        "every click written once the lock is gone"
    );
}
