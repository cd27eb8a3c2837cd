//! The Redis store: one Lua script per decision, all matched limits at once.
//!
//! Every decision is one round trip: `EVALSHA` of `redis_script.lua` with one key per
//! matched limit (the script is loaded once; on `NOSCRIPT`, after a Redis restart or
//! `SCRIPT FLUSH`, the `redis` crate's `Script` loads it and retries). The script reads,
//! decides and writes inside Redis's single thread, so concurrent app servers cannot
//! race between read and write, and it writes nothing unless every enforced limit
//! admits. Each key gets a TTL equal to the time its state needs to become fresh again,
//! so idle keys disappear by themselves. Time is Redis's `TIME`, shared by every server.
//!
//! Limits: key names are not hash-tagged, so a request matching several limits needs a
//! single Redis (or all keys on one Cluster slot); timestamps are microseconds.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::core::{AlgorithmKind, AnyLimiter, Decision, Nanos};

/// The script, embedded.
pub const SCRIPT: &str = include_str!("redis_script.lua");

/// Default bound on one decision's round trip: beyond it the fail policy applies.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// How long to wait after a failed connection attempt before trying again, so a down
/// Redis costs one fast failure per request instead of one connect per request.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// A Redis failure (unreachable, timeout, script error).
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    /// The URL could not be parsed.
    #[error("invalid redis url: {source}")]
    Url {
        /// The cause.
        source: redis::RedisError,
    },
    /// Connecting or the command failed.
    #[error("redis: {source}")]
    Redis {
        /// The cause.
        source: redis::RedisError,
    },
    /// No answer within the timeout.
    #[error("redis did not answer within {timeout_ms} ms")]
    Timeout {
        /// The bound that passed.
        timeout_ms: u128,
    },
    /// Still backing off after a failed connection attempt.
    #[error("redis unreachable (retrying in under {backoff_ms} ms)")]
    Unreachable {
        /// The backoff.
        backoff_ms: u128,
    },
    /// The script returned something else than 5 integers per limit.
    #[error("unexpected script reply: {got} values for {limits} limits")]
    Reply {
        /// Values received.
        got: usize,
        /// Limits sent.
        limits: usize,
    },
}

/// One limit to evaluate: the counter key, the algorithm, and whether it is shadowed.
#[derive(Debug, Clone, Copy)]
pub struct RedisLimit<'a> {
    /// The counter key (without the store's prefix).
    pub key: &'a str,
    /// The algorithm and its parameters.
    pub limiter: &'a AnyLimiter,
    /// Shadow-mode limits never block the others' writes.
    pub shadow: bool,
}

/// A connection (made lazily, re-made after failures) and the script.
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    script: redis::Script,
    connection: ArcSwapOption<ConnectionManager>,
    connecting: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish()
    }
}

impl RedisStore {
    /// A store for `url` (e.g. `redis://127.0.0.1:6379`), prefixing every key with
    /// `prefix`. Does not connect yet: Redis may be down at start.
    ///
    /// # Errors
    /// [`RedisStoreError::Url`] for an unparsable URL.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url).map_err(|source| RedisStoreError::Url { source })?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            script: redis::Script::new(SCRIPT),
            connection: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, RedisStoreError> {
        if let Some(c) = self.connection.load_full() {
            return Ok((*c).clone());
        }
        let mut last_failure = self.connecting.lock().await;
        if let Some(c) = self.connection.load_full() {
            return Ok((*c).clone());
        }
        if last_failure.is_some_and(|at| at.elapsed() < RECONNECT_BACKOFF) {
            return Err(RedisStoreError::Unreachable { backoff_ms: RECONNECT_BACKOFF.as_millis() });
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            self.timeout * 2,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        {
            Ok(Ok(c)) => {
                self.connection.store(Some(Arc::new(c.clone())));
                *last_failure = None;
                Ok(c)
            }
            Ok(Err(source)) => {
                *last_failure = Some(std::time::Instant::now());
                Err(RedisStoreError::Redis { source })
            }
            Err(_) => {
                *last_failure = Some(std::time::Instant::now());
                Err(RedisStoreError::Timeout { timeout_ms: (self.timeout * 2).as_millis() })
            }
        }
    }

    /// Round-trips a `PING`, for readiness probes. Connects if needed.
    ///
    /// # Errors
    /// [`RedisStoreError`] when Redis is unreachable or slow.
    pub async fn ping(&self) -> Result<(), RedisStoreError> {
        let mut conn = self.connection().await?;
        let ping = redis::cmd("PING");
        match tokio::time::timeout(self.timeout, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(RedisStoreError::Redis { source }),
            Err(_) => Err(RedisStoreError::Timeout { timeout_ms: self.timeout.as_millis() }),
        }
    }

    /// The server this store talks to, as `host:port` (no credentials).
    pub fn target(&self) -> String {
        let info = self.client.get_connection_info();
        format!("redis://{}", info.addr())
    }

    /// Evaluates `limits` for `hits` in one round trip. The decisions come back in the
    /// order of `limits`; `Decision::allowed` is each limit's own verdict (nothing was
    /// written if any enforced limit denied).
    ///
    /// # Errors
    /// [`RedisStoreError`] when Redis is unreachable, slow or replies oddly.
    pub async fn check(
        &self,
        limits: &[RedisLimit<'_>],
        hits: u64,
    ) -> Result<Vec<Decision>, RedisStoreError> {
        if limits.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(hits);
        for l in limits {
            let (code, size, period_us) = script_params(l.limiter);
            invocation.key(format!("{}{}", self.prefix, l.key));
            invocation.arg(code).arg(size).arg(period_us).arg(u8::from(l.shadow));
        }
        let reply: Vec<i64> =
            match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await {
                Ok(Ok(v)) => v,
                Ok(Err(source)) => return Err(RedisStoreError::Redis { source }),
                Err(_) => {
                    return Err(RedisStoreError::Timeout { timeout_ms: self.timeout.as_millis() });
                }
            };
        if reply.len() != limits.len() * 5 {
            return Err(RedisStoreError::Reply { got: reply.len(), limits: limits.len() });
        }
        let us =
            |v: i64| -> Nanos { u64::try_from(v).map_or(Nanos::MAX, |v| v.saturating_mul(1000)) };
        Ok(limits
            .iter()
            .zip(reply.chunks_exact(5))
            .map(|(l, r)| Decision {
                allowed: r[0] != 0,
                limit: crate::core::Algorithm::limit(l.limiter),
                remaining: u64::try_from(r[1]).unwrap_or(0),
                reset_after_ns: us(r[2].max(0)),
                retry_after_ns: us(r[3]),
                wait_ns: us(r[4].max(0)),
            })
            .collect())
    }
}

/// (algorithm code, size, period in µs) as the script expects them.
fn script_params(limiter: &AnyLimiter) -> (u8, u64, u64) {
    let us = |ns: Nanos| ns.div_ceil(1000).max(1);
    match limiter {
        AnyLimiter::TokenBucket(b) => (1, crate::core::Algorithm::limit(b), us(b.interval_ns())),
        AnyLimiter::LeakingBucket(b) => (2, crate::core::Algorithm::limit(b), us(b.interval_ns())),
        AnyLimiter::FixedWindow(w) => (3, crate::core::Algorithm::limit(w), us(w.window_ns())),
        AnyLimiter::SlidingWindowLog(w) => (4, crate::core::Algorithm::limit(w), us(w.window_ns())),
        AnyLimiter::SlidingWindowCounter(w) => {
            (5, crate::core::Algorithm::limit(w), us(w.window_ns()))
        }
    }
}

/// The algorithm a script code stands for (for logs and tests).
pub fn algorithm_of_code(code: u8) -> Option<AlgorithmKind> {
    AlgorithmKind::ALL.get(usize::from(code).checked_sub(1)?).copied()
}
