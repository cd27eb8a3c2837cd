//! Building a running shortener on the platform: migrations, the code source (a Snowflake
//! generator on a worker ID leased from the platform's database, or the hash approach
//! with its Bloom filter filled from the stored codes), the service and the shorten
//! route's rate limiter.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use blueprint_idgen::sql::{POSTGRES_MIGRATOR as IDGEN_POSTGRES, SQLITE_MIGRATOR as IDGEN_SQLITE};
use blueprint_idgen::{LeasedSnowflake, SqlWorkerRegistry, SystemClock};
use blueprint_platform::{Platform, sql_dispatch};
use blueprint_ratelimit::clock::FastClock;
use blueprint_ratelimit::layer::{LayerConfig, RateLimitLayer};
use blueprint_ratelimit::limiter::{Backend, RateLimiter};
use blueprint_ratelimit::local::{LocalStore, LocalStoreConfig};
use blueprint_ratelimit::rules::RuleSet;

use crate::config::{CodeStrategy, Settings};
use crate::core::{HashCodes, default_hash};
use crate::service::{CodeSource, IdSource, Service};
use crate::store::SqlStore;

/// The rate-limit domain of the shorten route.
pub const RATE_LIMIT_DOMAIN: &str = "shortener";
/// Clients (IPs plus keys) the shorten limiter tracks at once.
pub const RATE_LIMIT_MAX_KEYS: usize = 1_000_000;
/// Worker IDs are leased in `shortener/dc<datacenter>` of idgen's lease table.
const LEASE_NAMESPACE: &str = "shortener";
/// Worker IDs per datacenter in the default Snowflake layout (5 bits).
const MAX_WORKERS: u64 = 32;

/// Why the shortener could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Migrations or a query failed.
    #[error("shortener database: {source}")]
    Sql {
        /// Why.
        #[from]
        source: blueprint_platform::sql::SqlError,
    },
    /// Reading codes for the Bloom filter failed.
    #[error("shortener: filling the Bloom filter: {source}")]
    Store {
        /// Why.
        #[from]
        source: crate::store::StoreError,
    },
    /// No worker ID could be leased.
    #[error("shortener: leasing a Snowflake worker ID in {namespace}: {reason}")]
    Lease {
        /// The lease namespace.
        namespace: String,
        /// Why.
        reason: String,
    },
    /// The generated rate-limit rules were refused (a bug, named).
    #[error("shortener: rate limit rules: {reason}")]
    Rules {
        /// Why.
        reason: String,
    },
}

/// Longest the stop waits for queued clicks to be written (the platform's shutdown deadline
/// may cut it shorter).
pub const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Migrate and build the service; `reserved` are extra codes to refuse (page names).
pub async fn start(
    platform: &Platform,
    settings: Settings,
    reserved: Vec<&'static str>,
) -> Result<Arc<Service>, StartError> {
    let store = SqlStore::open(platform.sql.clone()).await?;
    let codes = match settings.config.codes {
        CodeStrategy::Snowflake => {
            CodeSource::Snowflake(lease_snowflake(platform, &settings).await?)
        }
        CodeStrategy::Hash => CodeSource::Hash(HashCodes::new(
            default_hash(),
            settings.config.collision_suffix.clone(),
            settings.config.bloom_capacity,
        )),
    };
    let service = Service::new(
        Arc::new(store),
        platform.cache.clone(),
        codes,
        settings,
        reserved,
        Arc::clone(&platform.clock),
    );
    let loaded = service.load_bloom().await?;
    if loaded > 0 {
        tracing::info!(codes = loaded, "shortener: Bloom filter filled from the stored codes");
    }
    let service = Arc::new(service);
    // Clicks wait in memory for up to `click_flush_ms`: a stop writes them first.
    let draining = Arc::clone(&service);
    platform.shutdown.register(
        "shortener: write queued clicks",
        Box::new(move || {
            Box::pin(async move {
                if !draining.flush_clicks(SHUTDOWN_FLUSH_TIMEOUT).await {
                    tracing::warn!("shortener: queued clicks were not all written before the stop");
                }
            })
        }),
    );
    Ok(service)
}

async fn lease_snowflake(
    platform: &Platform,
    settings: &Settings,
) -> Result<Arc<dyn IdSource>, StartError> {
    platform.sql.migrate("idgen", &IDGEN_SQLITE, &IDGEN_POSTGRES).await?;
    let datacenter = settings.config.datacenter;
    let namespace = format!("{LEASE_NAMESPACE}/dc{datacenter}");
    let owner = format!("blueprint shortener pid {}", std::process::id());
    let leased = sql_dispatch!(&platform.sql, pool => {
        let registry = SqlWorkerRegistry::new(pool.clone(), namespace.clone(), MAX_WORKERS);
        LeasedSnowflake::start(registry, datacenter, owner, SystemClock)
            .await
            .map(|leased| leased as Arc<dyn IdSource>)
    });
    leased.map_err(|error| StartError::Lease { namespace, reason: error.to_string() })
}

/// The rules of the shorten route: one counter per client IP and one per API key.
pub fn rules_yaml(per_ip_per_minute: u64, per_key_per_minute: u64) -> String {
    let mut yaml = format!("domain: {RATE_LIMIT_DOMAIN}\ndescriptors:\n");
    if per_ip_per_minute > 0 {
        yaml.push_str(&format!(
            "  - key: remote_address\n    rate_limit: {{ unit: minute, requests_per_unit: {per_ip_per_minute}, algorithm: sliding_window_counter, name: shorten_per_ip }}\n"
        ));
    }
    if per_key_per_minute > 0 {
        yaml.push_str(&format!(
            "  - key: api_key\n    rate_limit: {{ unit: minute, requests_per_unit: {per_key_per_minute}, algorithm: sliding_window_counter, name: shorten_per_key }}\n"
        ));
    }
    yaml
}

/// The ratelimit crate's layer for the shorten route, or `None` when both limits are 0.
pub fn shorten_limit(settings: &Settings) -> Result<Option<RateLimitLayer>, StartError> {
    let (per_ip, per_key) =
        (settings.config.shorten_per_minute_per_ip, settings.config.shorten_per_minute_per_key);
    if per_ip == 0 && per_key == 0 {
        return Ok(None);
    }
    let rules_error = |reason: String| StartError::Rules { reason };
    let domain = RuleSet::parse_domain(Path::new("[shortener]"), &rules_yaml(per_ip, per_key))
        .map_err(|error| rules_error(error.to_string()))?;
    let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
    let store = LocalStore::new(LocalStoreConfig {
        max_keys: RATE_LIMIT_MAX_KEYS,
        ..LocalStoreConfig::default()
    })
    .map_err(|error| rules_error(error.to_string()))?;
    let limiter = RateLimiter::new(rules, Backend::Local(store), Arc::new(FastClock::new()));
    Ok(Some(RateLimitLayer::new(Arc::new(limiter), LayerConfig::new(RATE_LIMIT_DOMAIN))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_generated_rules_parse_for_each_combination_of_limits() {
        for (ip, key) in [(600, 6000), (1, 0), (0, 1)] {
            let domain = RuleSet::parse_domain(Path::new("t"), &rules_yaml(ip, key)).unwrap();
            assert_eq!(domain.rule_count(), usize::from(ip > 0) + usize::from(key > 0));
        }
    }

    #[test]
    fn no_limits_means_no_layer() {
        let config = crate::config::ShortenerConfig {
            shorten_per_minute_per_ip: 0,
            shorten_per_minute_per_key: 0,
            ..Default::default()
        };
        assert!(shorten_limit(&config.validate().unwrap()).unwrap().is_none());
    }
}
