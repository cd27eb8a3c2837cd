//! The hash approach of book 8.3.2 against a real store: with an injected hash function
//! that makes every URL collide, the Bloom filter reports the collision, the database
//! confirms it, and the predefined string is appended until a free code is found.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use blueprint_platform::cache::{Cache, MemoryCache};
use blueprint_platform::clock::SystemClock;
use blueprint_platform::config::SqlConfig;
use blueprint_platform::sql::Sql;
use blueprint_shortener::config::{CodeStrategy, ShortenerConfig};
use blueprint_shortener::core::{HashCodes, HashFn, MAX_HASH_ATTEMPTS};
use blueprint_shortener::error::ShortenError;
use blueprint_shortener::service::{Caller, CodeSource, Service, ShortenRequest};
use blueprint_shortener::store::SqlStore;

const SUFFIX: &str = "[bp]";

async fn service(dir: &std::path::Path, hash: HashFn) -> Service {
    service_with(dir, hash, ShortenerConfig::default()).await
}

async fn service_with(dir: &std::path::Path, hash: HashFn, config: ShortenerConfig) -> Service {
    let url = format!("sqlite://{}", dir.join("links.db").display());
    let sql = Sql::connect(&url, &SqlConfig::default()).await.unwrap();
    let store = SqlStore::open(sql).await.unwrap();
    let config = ShortenerConfig { codes: CodeStrategy::Hash, ..config };
    let service = Service::new(
        Arc::new(store),
        Cache::Memory(MemoryCache::new(1 << 20)),
        CodeSource::Hash(HashCodes::new(hash, SUFFIX, 1_000)),
        config.validate().unwrap(),
        Vec::new(),
        Arc::new(SystemClock),
    );
    service.load_bloom().await.unwrap();
    service
}

/// Every input hashes to the number of predefined strings it ends with, so any two URLs
/// collide on each attempt: URL n can only get the code of attempt n.
fn colliding_hash(calls: Arc<AtomicUsize>) -> HashFn {
    Arc::new(move |bytes: &[u8]| {
        calls.fetch_add(1, Ordering::Relaxed);
        let text = std::str::from_utf8(bytes).unwrap();
        text.matches(SUFFIX).count() as u64
    })
}

fn request(url: &str) -> ShortenRequest {
    ShortenRequest { long_url: url.into(), ..ShortenRequest::default() }
}

#[tokio::test]
async fn a_forced_collision_appends_the_predefined_string_until_a_code_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = service(dir.path(), colliding_hash(Arc::clone(&calls))).await;
    let first =
        service.shorten(&request("https://a.example/"), &Caller::default(), None).await.unwrap();
    let second =
        service.shorten(&request("https://b.example/"), &Caller::default(), None).await.unwrap();
    let third =
        service.shorten(&request("https://c.example/"), &Caller::default(), None).await.unwrap();
    assert_eq!(first.link.code.as_str(), "0000000");
    assert_eq!(second.link.code.as_str(), "0000001", "one collision, one suffix");
    assert_eq!(third.link.code.as_str(), "0000002", "two collisions, two suffixes");
    assert_eq!(calls.load(Ordering::Relaxed), 1 + 2 + 3, "one hash per attempt");
    // Each redirects to its own URL: the collisions were resolved, not overwritten.
    let resolved = service.resolve("0000001", None, None).await.unwrap();
    assert_eq!(resolved.location, "https://b.example/");
    // The same URL again is deduplicated before any code is tried.
    let again =
        service.shorten(&request("https://b.example/"), &Caller::default(), None).await.unwrap();
    assert_eq!((again.link.code.as_str(), again.created), ("0000001", false));
}

#[tokio::test]
async fn a_restarted_service_learns_the_used_codes_into_its_bloom_filter() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let before = service(dir.path(), colliding_hash(Arc::clone(&calls))).await;
    before.shorten(&request("https://a.example/"), &Caller::default(), None).await.unwrap();
    drop(before);
    let after = service(dir.path(), colliding_hash(Arc::clone(&calls))).await;
    let next =
        after.shorten(&request("https://b.example/"), &Caller::default(), None).await.unwrap();
    assert_eq!(next.link.code.as_str(), "0000001", "the stored code was not reused");
}

#[tokio::test]
async fn when_every_attempt_collides_the_shorten_fails_naming_the_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let constant: HashFn = Arc::new(|_: &[u8]| 42);
    let service = service(dir.path(), constant).await;
    service.shorten(&request("https://a.example/"), &Caller::default(), None).await.unwrap();
    let error = service.shorten(&request("https://b.example/"), &Caller::default(), None).await;
    assert!(
        matches!(error, Err(ShortenError::NoCode { attempts, .. }) if attempts == MAX_HASH_ATTEMPTS),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_steady_trickle_of_clicks_is_written_every_interval_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let config = ShortenerConfig { click_flush_ms: 500, ..ShortenerConfig::default() };
    let service = service_with(dir.path(), blueprint_shortener::core::default_hash(), config).await;
    let link =
        service.shorten(&request("https://a.example/"), &Caller::default(), None).await.unwrap();
    let code = link.link.code.to_string();
    // A click every 50 ms for 1.5 intervals of 500 ms: a timer that restarted on every
    // click would never fire, and nothing would be written until a flush.
    let clicks = 15;
    for _ in 0..clicks {
        service.resolve(&code, None, None).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let written = service.store().get(&code).await.unwrap().unwrap().clicks;
    assert!(written > 0, "no click written after {clicks} clicks over 1.5 intervals");
    assert!(service.flush_clicks(std::time::Duration::from_secs(5)).await);
    assert_eq!(service.store().get(&code).await.unwrap().unwrap().clicks, clicks as i64);
}
