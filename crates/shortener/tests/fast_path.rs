//! The redirect fast path ([`Service::fast_redirect`], behind `RedirectFastPath`): with
//! the in-process cache it answers exactly what the full redirect flow answers, and it
//! declines — so the full flow decides — whenever the link changed, expired, counts its
//! clicks in the database, or the cache is Redis; its clicks are counted like any other.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use blueprint_platform::cache::{Cache, MemoryCache};
use blueprint_platform::clock::{Clock, ManualClock};
use blueprint_platform::config::SqlConfig;
use blueprint_platform::http::fast::FastPath;
use blueprint_platform::sql::Sql;
use blueprint_shortener::config::ShortenerConfig;
use blueprint_shortener::core::{HashCodes, default_hash};
use blueprint_shortener::http::RedirectFastPath;
use blueprint_shortener::service::{Caller, CodeSource, Service, ShortenRequest};
use blueprint_shortener::store::SqlStore;

const NOW_MS: i64 = 1_800_000_000_000;

async fn service(dir: &std::path::Path, cache: Cache, clock: ManualClock) -> Arc<Service> {
    service_with(dir, cache, clock, ShortenerConfig::default()).await
}

async fn service_with(
    dir: &std::path::Path,
    cache: Cache,
    clock: ManualClock,
    config: ShortenerConfig,
) -> Arc<Service> {
    let url = format!("sqlite://{}", dir.join("links.db").display());
    let sql = Sql::connect(&url, &SqlConfig::default()).await.unwrap();
    let store = SqlStore::open(sql).await.unwrap();
    let settings = config.validate().unwrap();
    let codes = CodeSource::Hash(HashCodes::new(default_hash(), "!", 1_000));
    let clock: Arc<dyn Clock> = Arc::new(clock);
    Arc::new(Service::new(Arc::new(store), cache, codes, settings, Vec::new(), clock))
}

fn memory() -> Cache {
    Cache::Memory(MemoryCache::new(1 << 20))
}

async fn shorten(
    service: &Service,
    caller: &Caller,
    url: &str,
    expires_at: Option<&str>,
    max_clicks: Option<i64>,
) -> String {
    let request = ShortenRequest {
        long_url: url.into(),
        expires_at: expires_at.map(Into::into),
        max_clicks,
        ..ShortenRequest::default()
    };
    service.shorten(&request, caller, None).await.unwrap().link.code.to_string()
}

fn get(path: &str) -> Request {
    Request::builder().uri(path).header("user-agent", "curl/8.0").body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_cached_link_answers_what_the_full_flow_answers() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(dir.path(), memory(), ManualClock::new(NOW_MS)).await;
    let caller = Caller::default();
    let code = shorten(&service, &caller, "https://fast.example/a?b=c", None, None).await;
    let full = service.resolve(&code, None, None).await.unwrap();
    let fast = service.fast_redirect(&code, None, None).expect("a cached link takes the fast path");
    assert_eq!(fast.redirect, full.redirect);
    assert_eq!(fast.location, full.location.as_str());
    assert_eq!(fast.cache_control, full.cache_control.as_str());

    let path = RedirectFastPath::new(Arc::clone(&service));
    assert_eq!(path.route(), "/{code}");
    let response = path.answer(&get(&format!("/{code}"))).unwrap();
    assert_eq!(response.status(), 301);
    assert_eq!(response.headers()["location"], "https://fast.example/a?b=c");
    assert_eq!(response.headers()["cache-control"], "public, max-age=86400");
    // Only GET of a code in the cache: other methods, other paths and unknown codes go
    // the full way (which answers 404, 405 and the platform's routes).
    let post =
        Request::builder().method("POST").uri(format!("/{code}")).body(Body::empty()).unwrap();
    assert!(path.answer(&post).is_none());
    for other in
        ["/", "/healthz", "/api/v1/keys", "/zzzzzzz", &format!("/{code}/qr"), &format!("/{code}.x")]
    {
        assert!(path.answer(&get(other)).is_none(), "{other}");
    }
}

#[tokio::test]
async fn clicks_of_the_fast_path_are_counted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(dir.path(), memory(), ManualClock::new(NOW_MS)).await;
    let code =
        shorten(&service, &Caller::default(), "https://fast.example/count", None, None).await;
    let path = RedirectFastPath::new(Arc::clone(&service));
    for _ in 0..25 {
        assert!(path.answer(&get(&format!("/{code}"))).is_some());
    }
    service.resolve(&code, None, None).await.unwrap();
    assert!(service.flush_clicks(Duration::from_secs(5)).await);
    let stats = service.stats(&code).await.unwrap();
    assert_eq!(stats.link.clicks, 26);
}

#[tokio::test]
async fn a_disabled_expired_or_click_limited_link_is_left_to_the_full_flow() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW_MS);
    let service = service(dir.path(), memory(), clock.clone()).await;
    let key = service.create_key(1, "fast").await.unwrap();
    let owner = Caller { key: Some(key.record), user_id: None };

    let code = shorten(&service, &owner, "https://fast.example/disable", None, None).await;
    assert!(service.fast_redirect(&code, None, None).is_some());
    service.set_disabled(&code, true, &owner).await.unwrap();
    assert!(service.fast_redirect(&code, None, None).is_none(), "a disabled link was still served");
    assert!(service.resolve(&code, None, None).await.is_err());
    service.set_disabled(&code, false, &owner).await.unwrap();
    service.resolve(&code, None, None).await.unwrap();
    assert!(service.fast_redirect(&code, None, None).is_some());
    service.delete(&code, &owner).await.unwrap();
    assert!(service.fast_redirect(&code, None, None).is_none(), "a deleted link was still served");

    let expiring = shorten(
        &service,
        &owner,
        "https://fast.example/expiring",
        Some("2027-01-15T08:00:10Z"),
        None,
    )
    .await;
    service.resolve(&expiring, None, None).await.unwrap();
    let fast = service.fast_redirect(&expiring, None, None).unwrap();
    let full = service.resolve(&expiring, None, None).await.unwrap();
    assert_eq!(
        fast.cache_control,
        full.cache_control.as_str(),
        "max-age counts down to the expiry"
    );
    clock.advance_ms(10 * 365 * 24 * 3_600_000);
    assert!(
        service.fast_redirect(&expiring, None, None).is_none(),
        "an expired link was still served"
    );
    assert!(service.resolve(&expiring, None, None).await.is_err());

    let limited = shorten(&service, &owner, "https://fast.example/limited", None, Some(3)).await;
    service.resolve(&limited, None, None).await.unwrap();
    assert!(
        service.fast_redirect(&limited, None, None).is_none(),
        "a click-limited link must count in the database"
    );
}

#[tokio::test]
async fn with_redis_as_the_cache_there_is_no_fast_path() {
    let Ok(url) = std::env::var("BLUEPRINT_TEST_REDIS_URL") else {
        eprintln!("skipped: BLUEPRINT_TEST_REDIS_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache =
        Cache::Redis(blueprint_platform::cache::RedisCache::new(&url, "fastpath-test:").unwrap());
    let service = service(dir.path(), cache, ManualClock::new(NOW_MS)).await;
    let code =
        shorten(&service, &Caller::default(), "https://fast.example/redis", None, None).await;
    service.resolve(&code, None, None).await.unwrap();
    assert!(service.fast_redirect(&code, None, None).is_none());
}

#[tokio::test]
async fn fast_redirects_off_sends_every_redirect_the_full_way() {
    let dir = tempfile::tempdir().unwrap();
    let config = ShortenerConfig { fast_redirects: false, ..ShortenerConfig::default() };
    let service = service_with(dir.path(), memory(), ManualClock::new(NOW_MS), config).await;
    let code = shorten(&service, &Caller::default(), "https://fast.example/off", None, None).await;
    service.resolve(&code, None, None).await.unwrap();
    assert!(service.fast_redirect(&code, None, None).is_none());
}
