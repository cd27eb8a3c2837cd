//! Search autocomplete, chapter 13 of *System Design Interview*, built for real.
//!
//! As a user types, the service returns the k most searched queries starting with what
//! was typed. The book's design, piece by piece:
//!
//! - **Trie with cached top k** (13.3.1): [`trie::Trie`] is frozen into flat arrays (a
//!   path-compressed byte trie laid out breadth-first, `u32` ids into one text pool, the
//!   top k stored only at nodes with more than k queries below). Lookup is O(prefix
//!   length), and the index costs about 35 bytes a query beyond the query's text.
//! - **Data gathering** (13.3.2): an append-only analytics [`log`]; the [`pipeline`]
//!   aggregates it per interval (a week by default), weighs intervals (summed, or
//!   exponentially decayed for trending queries, updated incrementally) and builds a new
//!   trie off the serving path; [`cache::TrieCache`] swaps it in atomically.
//! - **Trie DB** (figure 13-10): a checksummed [`snapshot`] file, and the prefix → top-k
//!   key-value form of [`prefix_store`] behind a small trait; both answer identically.
//! - **Query service** (13.3.3): [`service::Autocomplete`] parses, looks up, filters;
//!   [`http::router`] serves `GET /api/v1/autocomplete?q=&k=` and
//!   `POST /api/v1/autocomplete/queries`.
//! - **Filter layer** (13.3.4): a hot-swappable [`filter::Blocklist`] between the cache and
//!   the response, also applied at the next rebuild.
//! - **Sharding** (13.3.5): [`shard::ShardMap`] cuts the key space where historical query
//!   mass crosses each 1/N, routes a prefix to the shards it can touch and merges exactly.
//!   A shard process serves one range ([`shard::ShardPlacement`]); [`router::ShardRouter`]
//!   fans each request out to the shards over keep-alive HTTP and answers as one node
//!   would, or 503 when a shard it needs is down.
//!
//! Matching is Unicode-correct ([`normalize`]): NFC and full case folding for matching,
//! the typed form for display, trailing spaces significant ("car " does not suggest
//! "carpet"), control characters refused. [`generator`] makes seeded, Zipf-distributed
//! multi-word query logs from a real six-language word list shipped in `data/`.
//!
//! What it is not: a full-text search engine (only prefixes of whole queries match, no
//! typo tolerance or infix match), a personaliser (the book's 13.4 per-user ranking), or a
//! real-time stream processor: trending scores advance when an interval closes.
//!
//! # Layout
//!
//! - [`normalize`]: [`normalize::Prefix`] and [`normalize::Query`], validated on
//!   construction.
//! - [`trie`]: [`trie::TrieBuilder`] → [`trie::Trie`], [`trie::Suggestion`].
//! - [`cache`]: [`cache::TrieCache`], the atomically swapped serving trie.
//! - [`log`], [`pipeline`]: analytics log, [`pipeline::Aggregator`], [`pipeline::Scores`],
//!   [`pipeline::rebuild_from_log`].
//! - [`snapshot`], [`prefix_store`]: the two Trie DB forms.
//! - [`filter`]: [`filter::Blocklist`] and the hot-swappable [`filter::Filter`].
//! - [`shard`]: [`shard::ShardMap`], [`shard::ShardPlacement`], [`shard::merge_top_k`].
//! - [`router`]: [`router::ShardRouter`] and its routes, in front of shard processes.
//! - [`service`], [`http`], [`config`]: the query service, its routes, its settings.
//! - [`generator`]: word list and Zipf query-log generator.
//! - [`startup`]: the first serving trie (snapshot, else log, else a sample log).
//! - [`cli`]: `blueprint autocomplete build|query|generate`.
//! - [`error`]: one error enum per subsystem.
//!
//! # Limits
//!
//! Prefixes are 1..=[`config::AutocompleteConfig::max_prefix_chars`] characters (default
//! [`normalize::DEFAULT_MAX_PREFIX_CHARS`] = 50, at most
//! [`normalize::MAX_PREFIX_CHARS_LIMIT`]); logged queries at most
//! [`normalize::MAX_QUERY_CHARS`]; k is 1..=[`trie::MAX_K`] (10), default
//! [`trie::DEFAULT_K`] (5). A trie holds fewer than 2³² queries and 4 GiB of text; weights
//! saturate at [`trie::MAX_WEIGHT`]. Blocklists hold at most [`filter::MAX_RULES`] rules,
//! shard maps at most [`shard::MAX_SHARDS`] shards (a router waits at most
//! [`config::RouterConfig::timeout_ms`] for a shard and keeps at most
//! [`router::MAX_IDLE_PER_SHARD`] idle connections to each), an aggregator at most
//! [`pipeline::MAX_OPEN_INTERVALS`] intervals, log lines at most [`log::MAX_LINE_BYTES`].
//!
//! # Capacity
//!
//! One server on one core, over a 10 M-query trie, answered 50,219–52,164 requests/s
//! with p99 0.62–0.72 ms under the closed-loop client of `bench/autocomplete.sh`
//! (RediSearch `FT.SUGGET` beside it, same client and dictionary: 12,442–13,876/s), and
//! 48,141–55,865/s under wrk at saturation. The book's peak of 48,000 QPS for the whole
//! fleet is therefore 1 of our servers, plus one for a failure (figures and commands in
//! the crate README).
//!
//! # Example
//!
//! ```
//! use blueprint_autocomplete::config::AutocompleteConfig;
//! use blueprint_autocomplete::filter::Blocklist;
//! use blueprint_autocomplete::normalize::Query;
//! use blueprint_autocomplete::service::Autocomplete;
//! use blueprint_autocomplete::trie::TrieBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = AutocompleteConfig::default();
//! let mut builder = TrieBuilder::new(config.cached_k, config.max_prefix_chars)?;
//! for (query, frequency) in [("Carpet", 90), ("car rental", 40), ("car wash", 30), ("Café", 20)] {
//!     builder.push(&Query::parse(query)?, frequency)?;
//! }
//! let service = Autocomplete::new(config, builder.build(), Blocklist::default());
//!
//! let shown = |prefix: &str| -> Vec<String> {
//!     let suggestions = service.suggest(prefix, Some(5)).unwrap_or_default();
//!     suggestions.into_iter().map(|suggestion| suggestion.query).collect()
//! };
//! assert_eq!(shown("CA"), ["Carpet", "car rental", "car wash", "Café"]);
//! assert_eq!(shown("car "), ["car rental", "car wash"]); // the space matters
//! assert_eq!(shown("cafe\u{301}"), ["Café"]); // decomposed accent, other case
//!
//! // The filter layer: a blocked term disappears from the next response.
//! service.filter().replace(Blocklist::parse("wash")?);
//! assert_eq!(shown("car "), ["car rental"]);
//!
//! // Bad input is a typed error, not a panic.
//! assert!(service.suggest("", None).is_err());
//! assert!(service.suggest("car", Some(11)).is_err());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod filter;
pub mod generator;
pub mod http;
pub mod log;
pub mod normalize;
pub mod pipeline;
pub mod prefix_store;
pub mod router;
pub mod service;
pub mod shard;
pub mod snapshot;
pub mod startup;
pub mod trie;

/// The console page, `/autocomplete/`.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");
