//! The cache interface behaves the same on the in-process cache and on Redis.

use std::time::Duration;

use blueprint_platform::cache::{Cache, MemoryCache};
use blueprint_platform::config::CacheConfig;
use blueprint_testkit::{CacheChoice, cache_choices, unique_name};

fn cache_for(choice: &CacheChoice) -> Cache {
    let mut config = CacheConfig::default();
    if let CacheChoice::Redis(url) = choice {
        config.url = Some(url.clone());
        config.prefix = format!("{}:", unique_name("bp_test"));
    }
    Cache::from_config(&config).unwrap()
}

#[tokio::test]
async fn set_get_delete_round_trip_on_every_backend() {
    for choice in cache_choices() {
        let cache = cache_for(&choice);
        cache.ping().await.unwrap();
        assert_eq!(cache.get("k").await.unwrap(), None, "{choice:?}");
        cache.set("k", b"v1", None).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]), "{choice:?}");
        cache.set("k", b"v2", None).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]), "{choice:?}");
        assert!(cache.delete("k").await.unwrap(), "{choice:?}");
        assert!(!cache.delete("k").await.unwrap(), "{choice:?}");
        assert_eq!(cache.get("k").await.unwrap(), None, "{choice:?}");
    }
}

#[tokio::test]
async fn entries_expire_after_their_ttl_on_every_backend() {
    for choice in cache_choices() {
        let cache = cache_for(&choice);
        cache.set("short", b"x", Some(Duration::from_millis(150))).await.unwrap();
        cache.set("long", b"y", Some(Duration::from_secs(60))).await.unwrap();
        assert!(cache.get("short").await.unwrap().is_some(), "{choice:?}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(cache.get("short").await.unwrap(), None, "{choice:?}: expired");
        assert!(cache.get("long").await.unwrap().is_some(), "{choice:?}");
    }
}

#[tokio::test]
async fn prefixes_isolate_tenants_sharing_a_redis() {
    let Some(url) = blueprint_testkit::service_url(blueprint_testkit::REDIS_URL_ENV) else {
        return;
    };
    let first = cache_for(&CacheChoice::Redis(url.clone()));
    let second = cache_for(&CacheChoice::Redis(url));
    first.set("same", b"first", None).await.unwrap();
    assert_eq!(second.get("same").await.unwrap(), None);
}

#[tokio::test]
async fn the_memory_cache_stays_within_its_byte_bound() {
    let cache = MemoryCache::new(64 * 1024);
    let value = vec![7u8; 1000];
    let handle = Cache::Memory(cache.clone());
    for i in 0..1000 {
        handle.set(&format!("key-{i}"), &value, None).await.unwrap();
    }
    cache.run_pending_tasks().await;
    assert!(cache.weighted_size() <= 64 * 1024, "{}", cache.weighted_size());
    assert!(cache.weighted_size() > 0);
}
