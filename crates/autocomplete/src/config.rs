//! The service's settings, with the book's defaults. Every field is read by the lead's
//! `[autocomplete]` config section; none is hidden in code.

use serde::{Deserialize, Serialize};

use crate::normalize::DEFAULT_MAX_PREFIX_CHARS;
use crate::trie::{DEFAULT_K, MAX_K};

/// One week in milliseconds: the book rebuilds the trie weekly from a week of logs.
pub const WEEK_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// How aggregated intervals become a query's weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Ranking {
    /// The sum of every retained interval's count (the book's weekly rebuild).
    Total,
    /// Exponential decay (book 13.4, real-time search queries): an interval's counts
    /// weigh half as much every `half_life_intervals` intervals later.
    Trending {
        /// Intervals after which a count weighs half; must be positive.
        half_life_intervals: f64,
    },
}

/// Settings of one autocomplete service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutocompleteConfig {
    /// Longest prefix accepted, in characters; also the trie's depth (book 13.3.1: 50).
    pub max_prefix_chars: usize,
    /// Suggestions returned when a request gives no `k` (book: 5).
    pub default_k: usize,
    /// Largest `k` a request may ask for (at most [`MAX_K`]).
    pub max_k: usize,
    /// Suggestions cached at every trie node (at most [`MAX_K`]). Above `max_k` so that
    /// a few blocklisted entries can be filtered out and still leave `max_k` answers.
    pub cached_k: usize,
    /// Length of one aggregation interval in milliseconds (default one week).
    pub interval_ms: u64,
    /// How intervals combine into weights.
    pub ranking: Ranking,
    /// `Cache-Control: private, max-age=N` on suggestion responses (book 13.3.3: 1 hour).
    pub cache_max_age_secs: u32,
    /// Threads a rebuild reads and aggregates the log with (default 2: this machine's
    /// cores; the serving path keeps running on them, so more would only contend).
    pub aggregation_threads: usize,
}

impl Default for AutocompleteConfig {
    fn default() -> Self {
        AutocompleteConfig {
            max_prefix_chars: DEFAULT_MAX_PREFIX_CHARS,
            default_k: DEFAULT_K,
            max_k: MAX_K,
            cached_k: MAX_K,
            interval_ms: WEEK_MS,
            ranking: Ranking::Total,
            cache_max_age_secs: 3600,
            aggregation_threads: 2,
        }
    }
}

/// Most a router waits for one shard's answer by default: far above a healthy shard's
/// sub-millisecond lookup, short enough that a hung shard fails the request quickly.
pub const DEFAULT_SHARD_TIMEOUT_MS: u64 = 1000;
/// How often the router re-reads the shard map from its shards by default.
pub const DEFAULT_MAP_REFRESH_MS: u64 = 2000;

/// `[autocomplete.shard]`: serve one shard of a sharded deployment (book 13.3.5). The
/// shard loads the whole trie as a single node would (snapshot, else log), cuts the key
/// space into `of` ranges balanced by its weights, and keeps only range `index`. Every
/// shard must start from the same data, so that all cut the same map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardConfig {
    /// This shard, `0..of`.
    pub index: usize,
    /// Shards in the deployment.
    pub of: usize,
}

/// `[autocomplete.router]`: serve no trie, fan each prefix out to the shards that can
/// hold its completions and merge their answers (book 13.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// Base URLs of the shards, shard 0 first (`http://host:port`).
    pub shards: Vec<String>,
    /// Most to wait for one shard's answer, connecting included.
    pub timeout_ms: u64,
    /// How often to re-read and cross-check the shards' map.
    pub map_refresh_ms: u64,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            shards: Vec::new(),
            timeout_ms: DEFAULT_SHARD_TIMEOUT_MS,
            map_refresh_ms: DEFAULT_MAP_REFRESH_MS,
        }
    }
}
