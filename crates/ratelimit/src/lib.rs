//! Rate limiter (System Design Interview, chapter 4): the book's five algorithms, a local
//! and a Redis store, Lyft-compatible rules with hot reload, and a tower layer for axum.
//!
//! **What it is:** a library that decides, for a request described by descriptors
//! (client IP, API key, user, route, ...), whether it may proceed now, later (the
//! leaking bucket's queue) or not at all, with the numbers the HTTP headers need.
//! **What it is not:** an HTTP service or binary (the `blueprint` binary wires
//! [`layer::RateLimitLayer`] and the check API), nor a metrics exporter (it emits
//! `metrics` counters; the binary installs the recorder).
//!
//! # Layout
//! - [`core`]: the pure algorithms behind the [`core::Algorithm`] trait: token bucket,
//!   leaking bucket, fixed window, sliding log, sliding counter. Time is passed in.
//!   [`core::measure`] replays a trace to measure the counter's error against the log.
//! - [`clock`]: the injectable [`clock::Clock`].
//! - [`local`]: the in-process keyed store (sharded, bounded, idle eviction) and the
//!   lock-free single-key [`local::DirectLimiter`].
//! - [`redis_store`]: the Redis store: one Lua script, one round trip per decision.
//! - [`rules`]: Lyft ratelimit's YAML, compiled to a descriptor tree; [`watch`] reloads
//!   it from disk when it changes.
//! - [`limiter`]: the engine (rules + store + clock + fail policy + metrics) that the
//!   layer and the check API share.
//! - [`layer`]: the tower layer for axum: descriptors from the request, 429 + headers.
//! - [`simulate`]: an algorithm against a traffic pattern → a timeline ([`cli`] prints
//!   it; the console page `web/index.html` charts it).
//! - [`api`]: JSON bodies; [`http`]: `router(limiter)` with the check and simulate
//!   routes and the console page, for the binary to mount.
//! - [`envoy`]: Envoy's `RateLimitService/ShouldRateLimit` over gRPC, the same decisions.
//! - [`config`]: the `[ratelimit]` settings and `start()`, which builds the engine,
//!   the layer's settings and the rules watcher. `rules/example.yaml` is a starting point.
//!
//! # Limits
//! Every limit is a named constant: [`core::LIMIT_MAX`] requests per window,
//! [`core::LOG_LIMIT_MAX`] for the sliding log (memory per admitted request),
//! [`core::PERIOD_MAX`] (one year) per window; absurd parameters are refused when a
//! limiter is built, never at request time. The local store never holds more than its
//! configured `max_keys`.
//!
//! # Example
//! ```
//! use blueprint_ratelimit::core::{Algorithm, TokenBucket, NANOS_PER_SECOND as S};
//!
//! // The book's figure 4-6: a bucket of 4 tokens refilled 4 per minute.
//! let bucket = TokenBucket::new(4, 4, 60 * S)?;
//! let mut state = 0; // one u64 per key
//! for _ in 0..4 {
//!     assert!(bucket.check(&mut state, 0, 1).allowed);
//! }
//! let denied = bucket.check(&mut state, 0, 1);
//! assert!(!denied.allowed);
//! assert_eq!(denied.retry_after_ns, 15 * S); // one token every 15 s
//! # Ok::<(), blueprint_ratelimit::core::ParamError>(())
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod envoy;
pub mod http;
pub mod layer;
pub mod limiter;
pub mod local;
pub mod redis_store;
pub mod rules;
pub mod simulate;
pub mod watch;
