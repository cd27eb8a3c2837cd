//! Configuration of a running rate limiter, and [`start`] to build one from it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::clock::FastClock;
use crate::layer::{IpNet, IpNetError, LayerConfig};
use crate::limiter::{Backend, FailPolicy, RateLimiter};
use crate::local::{LocalStore, LocalStoreConfig, LocalStoreError};
use crate::redis_store::{RedisStore, RedisStoreError};
use crate::rules::RulesError;

/// The `[ratelimit]` section of `blueprint.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// A rules file or a directory of `*.yaml` files (one domain each); watched.
    pub rules_path: PathBuf,
    /// Where counters live.
    #[serde(default)]
    pub store: StoreConfig,
    /// The domain the HTTP layer checks.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// Proxies whose `X-Forwarded-For` is believed (`10.0.0.0/8`, `::1`).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Header carrying API keys.
    #[serde(default = "default_api_key_header")]
    pub api_key_header: String,
}

fn default_domain() -> String {
    "api".into()
}

fn default_api_key_header() -> String {
    "x-api-key".into()
}

/// The store backend.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    /// In-process, bounded.
    Local {
        /// Most keys held (memory bound).
        #[serde(default = "default_max_keys")]
        max_keys: usize,
    },
    /// Redis, shared by every server.
    Redis {
        /// e.g. `redis://127.0.0.1:6379`.
        url: String,
        /// Prefix of every key.
        #[serde(default = "default_prefix")]
        prefix: String,
        /// Bound on one decision's round trip.
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
        /// What to do when Redis cannot answer.
        #[serde(default = "default_fail_policy")]
        fail_policy: FailPolicy,
    },
}

fn default_max_keys() -> usize {
    1_000_000
}
fn default_prefix() -> String {
    "ratelimit:".into()
}
fn default_timeout_ms() -> u64 {
    200
}
fn default_fail_policy() -> FailPolicy {
    FailPolicy::Open
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Local { max_keys: default_max_keys() }
    }
}

/// Why a rate limiter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The initial rules are invalid.
    #[error("rate limit rules: {0}")]
    Rules(#[from] RulesError),
    /// The local store's sizing.
    #[error("rate limit local store: {0}")]
    Local(#[from] LocalStoreError),
    /// The Redis URL.
    #[error("rate limit redis store: {0}")]
    Redis(#[from] RedisStoreError),
    /// A trusted proxy entry.
    #[error("rate limit trusted_proxies: {0}")]
    Proxy(#[from] IpNetError),
    /// The API key header name.
    #[error("rate limit api_key_header {header:?} is not a valid header name")]
    Header {
        /// The value given.
        header: String,
    },
    /// A timeout of zero or above a minute.
    #[error("rate limit redis timeout_ms must be in 1..=60000, got {timeout_ms}")]
    Timeout {
        /// The value given.
        timeout_ms: u64,
    },
}

/// A started rate limiter: the engine, the layer's config, and the rules watcher.
#[derive(Debug)]
pub struct Running {
    /// The engine, shared by the layer and the check API.
    pub limiter: Arc<RateLimiter>,
    /// For [`crate::layer::RateLimitLayer::new`].
    pub layer: LayerConfig,
    /// The rules watcher; abort it on shutdown.
    pub watcher: tokio::task::JoinHandle<()>,
}

/// Loads the rules, builds the store, starts the watcher. Call inside a tokio runtime.
///
/// # Errors
/// [`ConfigError`] for invalid rules or settings: a service must not start with them.
pub fn start(config: &RateLimitConfig) -> Result<Running, ConfigError> {
    let trusted_proxies =
        config.trusted_proxies.iter().map(|p| p.parse::<IpNet>()).collect::<Result<Vec<_>, _>>()?;
    let api_key_header = axum::http::HeaderName::try_from(config.api_key_header.as_str())
        .map_err(|_| ConfigError::Header { header: config.api_key_header.clone() })?;
    let backend = match &config.store {
        StoreConfig::Local { max_keys } => Backend::Local(LocalStore::new(LocalStoreConfig {
            max_keys: *max_keys,
            ..LocalStoreConfig::default()
        })?),
        StoreConfig::Redis { url, prefix, timeout_ms, fail_policy } => {
            if *timeout_ms == 0 || *timeout_ms > 60_000 {
                return Err(ConfigError::Timeout { timeout_ms: *timeout_ms });
            }
            let store = RedisStore::new(url, prefix, Duration::from_millis(*timeout_ms))?;
            Backend::Redis { store: Box::new(store), fail: *fail_policy }
        }
    };
    let rules = crate::watch::load_initial(&config.rules_path)?;
    let watcher = crate::watch::spawn(
        config.rules_path.clone(),
        Arc::clone(&rules),
        crate::watch::POLL_INTERVAL,
    );
    let limiter = Arc::new(RateLimiter::new(rules, backend, Arc::new(FastClock::new())));
    let layer = LayerConfig { domain: config.domain.clone(), trusted_proxies, api_key_header };
    Ok(Running { limiter, layer, watcher })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(extra: &str) -> RateLimitConfig {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/example.yaml");
        from_json(&format!("{{\"rules_path\": \"{path}\"{extra}}}"))
    }

    fn from_json(json: &str) -> RateLimitConfig {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn the_example_rules_start_a_local_limiter() {
        let running = start(&config(", \"trusted_proxies\": [\"10.0.0.0/8\"]")).unwrap();
        let d = [crate::rules::Descriptor::new([("user", "u1")])];
        let o = running.limiter.check("api", &d, 1).await.unwrap();
        assert!(o.allowed);
        assert_eq!(o.summary.unwrap().limit, 30, "10/s + a burst of 20");
        running.watcher.abort();
    }

    #[tokio::test]
    async fn bad_settings_are_refused_at_start() {
        assert!(matches!(
            start(&config(", \"trusted_proxies\": [\"nonsense\"]")),
            Err(ConfigError::Proxy(_))
        ));
        let redis = ", \"store\": {\"kind\": \"redis\", \"url\": \"redis://127.0.0.1:1\", \"timeout_ms\": 0}";
        assert!(matches!(start(&config(redis)), Err(ConfigError::Timeout { .. })));
        let missing = from_json("{\"rules_path\": \"/nonexistent/rules.yaml\"}");
        assert!(matches!(start(&missing), Err(ConfigError::Rules(_))));
    }
}
