//! One cache interface over an in-process cache (moka, bounded by bytes, per-entry TTL)
//! and Redis (shared by every instance of a scaled-out deployment).
//!
//! Values are bytes; callers serialise. A cache is an optimisation, so callers should treat
//! a [`CacheError`] as a miss and go to the source of truth.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use moka::Expiry;

use crate::config::CacheConfig;
use crate::resp::{RespClient, RespError, px_millis};

/// Bookkeeping bytes charged per in-process entry on top of key and value, so that a
/// flood of tiny entries is still bounded by `memory_max_bytes`.
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis could not be reached, answered with an error, or its URL is invalid.
    #[error(transparent)]
    Redis(#[from] RespError),
}

/// A cache handle. Cheap to clone.
#[derive(Clone)]
pub enum Cache {
    /// In-process.
    Memory(MemoryCache),
    /// Redis.
    Redis(RedisCache),
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Cache {
    /// Build the configured cache. Redis connects lazily, so a Redis that is down at start
    /// is reported by [`Cache::ping`] (and `/readyz`) rather than failing here.
    pub fn from_config(config: &CacheConfig) -> Result<Cache, CacheError> {
        match &config.url {
            None => Ok(Cache::Memory(MemoryCache::new(config.memory_max_bytes))),
            Some(url) => Ok(Cache::Redis(RedisCache::new(url, &config.prefix)?)),
        }
    }

    /// The value stored under `key`, if present and not expired.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        match self {
            Cache::Memory(cache) => Ok(cache.get(key).await),
            Cache::Redis(cache) => cache.get(key).await,
        }
    }

    /// Store `value` under `key`, expiring after `ttl` when given.
    pub async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        match self {
            Cache::Memory(cache) => {
                cache.set(key, value, ttl).await;
                Ok(())
            }
            Cache::Redis(cache) => cache.set(key, value, ttl).await,
        }
    }

    /// Remove `key`; true when it was present.
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        match self {
            Cache::Memory(cache) => Ok(cache.delete(key).await),
            Cache::Redis(cache) => cache.delete(key).await,
        }
    }

    /// Check that the backend answers.
    pub async fn ping(&self) -> Result<(), CacheError> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis(cache) => cache.ping().await,
        }
    }

    /// A secret-free description (`memory` or the redacted Redis URL).
    pub fn describe(&self) -> String {
        match self {
            Cache::Memory(cache) => format!("memory (max {} bytes)", cache.max_bytes),
            Cache::Redis(cache) => cache.client.url().to_owned(),
        }
    }
}

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Option<Duration>,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        entry: &Entry,
        _created_at: Instant,
    ) -> Option<Duration> {
        entry.ttl
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        entry.ttl
    }
}

/// The in-process cache: bounded by the bytes of keys plus values, per-entry TTL, TinyLFU
/// admission (moka), so a scan of one-off keys does not evict the hot set.
#[derive(Clone)]
pub struct MemoryCache {
    inner: moka::future::Cache<String, Entry>,
    max_bytes: u64,
}

impl MemoryCache {
    /// A cache holding at most `max_bytes` of keys, values and per-entry overhead.
    pub fn new(max_bytes: u64) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                let bytes = key.len() + entry.value.len() + ENTRY_OVERHEAD_BYTES;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(EntryExpiry)
            .build();
        MemoryCache { inner, max_bytes }
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.get(key).await.map(|entry| entry.value.to_vec())
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        self.inner.insert(key.to_owned(), Entry { value: Arc::from(value), ttl }).await;
    }

    async fn delete(&self, key: &str) -> bool {
        self.inner.remove(key).await.is_some()
    }

    /// The bound it was built with.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Apply pending evictions now (tests and size reports).
    pub async fn run_pending_tasks(&self) {
        self.inner.run_pending_tasks().await;
    }

    /// Current weighted size in bytes (after pending tasks ran).
    pub fn weighted_size(&self) -> u64 {
        self.inner.weighted_size()
    }
}

/// The Redis cache. Connects on first use and reconnects after failures.
#[derive(Clone)]
pub struct RedisCache {
    client: RespClient,
    prefix: String,
}

impl RedisCache {
    /// A cache on the Redis server at `url`, namespacing keys with `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<Self, CacheError> {
        Ok(RedisCache { client: RespClient::new(url)?, prefix: prefix.to_owned() })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self.client.run(redis::cmd("GET").arg(self.key(key))).await?)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), CacheError> {
        let mut command = redis::cmd("SET");
        command.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            command.arg("PX").arg(px_millis(ttl));
        }
        Ok(self.client.run::<()>(&command).await?)
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let removed: i64 = self.client.run(redis::cmd("DEL").arg(self.key(key))).await?;
        Ok(removed > 0)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(self.client.ping().await?)
    }
}

/// The `/readyz` probe for the cache.
#[derive(Clone, Debug)]
pub struct CacheProbe(pub Cache);

impl crate::http::Probe for CacheProbe {
    fn name(&self) -> String {
        "cache".into()
    }
    fn target(&self) -> String {
        self.0.describe()
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|e| e.to_string()) })
    }
}
