//! Configuration of a running rate limiter, and [`start`] to build one from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::FastClock;
use crate::layer::{IpNet, IpNetError, LayerConfig};
use crate::limiter::{Backend, FailPolicy, RateLimiter};
use crate::local::{LocalStore, LocalStoreConfig, LocalStoreError};
use crate::redis_store::{RedisStore, RedisStoreError};
use crate::rules::RulesError;

/// The example rules (`rules/example.yaml`): what a data dir without rules starts with.
pub const EXAMPLE_RULES: &str = include_str!("../rules/example.yaml");

/// Where the rules live when `rules_path` is not set, relative to the data dir.
pub const DEFAULT_RULES_FILE: &str = "ratelimit/rules.yaml";

/// The `[ratelimit]` section of `blueprint.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// A rules file or a directory of `*.yaml` files (one domain each); watched. Unset:
    /// `<data_dir>/ratelimit/rules.yaml`, written from [`EXAMPLE_RULES`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_path: Option<PathBuf>,
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

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            rules_path: None,
            store: StoreConfig::default(),
            domain: default_domain(),
            trusted_proxies: Vec::new(),
            api_key_header: default_api_key_header(),
        }
    }
}

impl RateLimitConfig {
    /// The rules path in effect: `rules_path`, or [`DEFAULT_RULES_FILE`] under `data_dir`.
    pub fn effective_rules_path(&self, data_dir: &Path) -> PathBuf {
        self.rules_path.clone().unwrap_or_else(|| data_dir.join(DEFAULT_RULES_FILE))
    }
}

/// The store backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The default rules file could not be written.
    #[error("rate limit rules: cannot write the example rules to {path}: {source}")]
    WriteExample {
        /// The default rules path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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

/// Loads the rules (from [`RateLimitConfig::effective_rules_path`]; the default file is
/// first written from [`EXAMPLE_RULES`] if it does not exist), builds the store, starts the
/// watcher. Call inside a tokio runtime.
///
/// # Errors
/// [`ConfigError`] for invalid rules or settings: a service must not start with them.
pub fn start(config: &RateLimitConfig, data_dir: &Path) -> Result<Running, ConfigError> {
    let rules_path = config.effective_rules_path(data_dir);
    if config.rules_path.is_none() && !rules_path.exists() {
        write_example(&rules_path)
            .map_err(|source| ConfigError::WriteExample { path: rules_path.clone(), source })?;
    }
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
    let rules = crate::watch::load_initial(&rules_path)?;
    let watcher = crate::watch::spawn(rules_path, Arc::clone(&rules), crate::watch::POLL_INTERVAL);
    let limiter = Arc::new(RateLimiter::new(rules, backend, Arc::new(FastClock::new())));
    let layer = LayerConfig { domain: config.domain.clone(), trusted_proxies, api_key_header };
    Ok(Running { limiter, layer, watcher })
}

fn write_example(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, EXAMPLE_RULES)
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

    fn no_data_dir() -> &'static Path {
        Path::new("/nonexistent-data-dir")
    }

    #[tokio::test]
    async fn the_example_rules_start_a_local_limiter() {
        let running =
            start(&config(", \"trusted_proxies\": [\"10.0.0.0/8\"]"), no_data_dir()).unwrap();
        let d = [crate::rules::Descriptor::new([("user", "u1")])];
        let o = running.limiter.check("api", &d, 1).await.unwrap();
        assert!(o.allowed);
        assert_eq!(o.summary.unwrap().limit, 30, "10/s + a burst of 20");
        running.watcher.abort();
    }

    #[tokio::test]
    async fn bad_settings_are_refused_at_start() {
        assert!(matches!(
            start(&config(", \"trusted_proxies\": [\"nonsense\"]"), no_data_dir()),
            Err(ConfigError::Proxy(_))
        ));
        let redis = ", \"store\": {\"kind\": \"redis\", \"url\": \"redis://127.0.0.1:1\", \"timeout_ms\": 0}";
        assert!(matches!(start(&config(redis), no_data_dir()), Err(ConfigError::Timeout { .. })));
        let missing = from_json("{\"rules_path\": \"/nonexistent/rules.yaml\"}");
        assert!(matches!(start(&missing, no_data_dir()), Err(ConfigError::Rules(_))));
    }

    #[tokio::test]
    async fn without_a_rules_path_the_example_is_written_to_the_data_dir_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let running = start(&RateLimitConfig::default(), dir.path()).unwrap();
        running.watcher.abort();
        let path = dir.path().join(DEFAULT_RULES_FILE);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE_RULES);
        // An operator's edits survive the next start: the example is only a seed.
        let edited = "domain: api\ndescriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 3 }\n";
        std::fs::write(&path, edited).unwrap();
        let running = start(&RateLimitConfig::default(), dir.path()).unwrap();
        running.watcher.abort();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
        let d = [crate::rules::Descriptor::new([("user", "u1")])];
        let o = running.limiter.check("api", &d, 1).await.unwrap();
        assert_eq!(o.summary.unwrap().limit, 3);
    }

    #[test]
    fn the_section_round_trips_through_its_defaults() {
        let empty: RateLimitConfig = from_json("{}");
        assert_eq!(empty, RateLimitConfig::default());
        let json = serde_json::to_string(&RateLimitConfig::default()).unwrap();
        assert_eq!(from_json(&json), RateLimitConfig::default());
    }
}
