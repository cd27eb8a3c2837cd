//! The Redis store: one Lua script evaluates all matched limits of a decision at once.
//!
//! Every decision is one round trip: `EVALSHA` of `redis_script.lua` (loaded once; on
//! `NOSCRIPT`, after a Redis restart or `SCRIPT FLUSH`, it is loaded with `SCRIPT LOAD`
//! and the call retried). The script reads, decides and writes inside Redis's single
//! thread, so concurrent app servers cannot race between read and write, and it writes
//! nothing unless every enforced limit admits. Time is Redis's `TIME`, shared by every
//! server. A lone decision whose limits are all fixed windows (Lyft's algorithm, the
//! common case) goes to `redis_fixed_window.lua` instead: the same state and answers
//! without the general script's batch set-up, about a third of its cost in Redis.
//!
//! **Natural batching.** Each store has one dispatcher task. While an `EVALSHA` is in
//! flight, the decisions that arrive wait in its queue; when the reply comes, all of
//! them (up to [`BATCH_DECISIONS_MAX`]) go out as *one* `EVALSHA`, which evaluates them
//! in arrival order, each seeing the writes of the ones before it, exactly as if they
//! had been sent one by one. Nothing waits on a timer: an idle store sends a decision
//! at once, so latency at one client is one round trip; under load, Redis's per-call
//! cost (parsing, the script's entry, each `redis.call`) is paid once per batch.
//!
//! **State and TTLs.** A token or leaking bucket is one string per key, with a TTL until
//! it is full again; a sliding log one sorted set per key, with a TTL of one window. A
//! fixed window or a sliding counter keeps one hash per (algorithm, period, window
//! number) whose fields are the keys' counts, so a batch reads all of a window's counts
//! with one `HMGET` and writes them with one `HSET`; the hash expires when its window
//! stops mattering (a fixed window at its end, a sliding counter's one window later).
//!
//! Limits: window hashes are named inside the script from `TIME`, so the store needs a
//! single Redis (not a Cluster); timestamps are microseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

use crate::core::{AlgorithmKind, AnyLimiter, Decision, Nanos};

/// The script, embedded.
pub const SCRIPT: &str = include_str!("redis_script.lua");

/// The script for one decision whose limits are all fixed windows (the same state and
/// answers as [`SCRIPT`], a third of its cost in Redis for such a decision).
pub const FIXED_WINDOW_SCRIPT: &str = include_str!("redis_fixed_window.lua");

/// Default bound on one decision's round trip: beyond it the fail policy applies.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// How long to wait after a failed connection attempt before trying again, so a down
/// Redis costs one fast failure per request instead of one connect per request.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// The script's number for a fixed window.
const FIXED_WINDOW_CODE: u8 = 3;

/// Most decisions in one `EVALSHA`: bounds the script's run (Redis serves nothing else
/// meanwhile) and the reply's size.
pub const BATCH_DECISIONS_MAX: usize = 256;

/// Most limits in one `EVALSHA` (a decision with more goes alone): bounds the
/// arguments' size.
pub const BATCH_LIMITS_MAX: usize = 2048;

/// Script loads after `NOSCRIPT` before a batch fails (then the fail policy applies).
pub const NOSCRIPT_RETRIES: u32 = 3;

/// Most decisions waiting for a batch: beyond it callers wait to enqueue, within their
/// timeout, so a stalled Redis holds a bounded number of requests.
pub const QUEUE_MAX: usize = 4096;

/// A Redis failure (unreachable, timeout, script error). `Clone`: one failed batch is
/// every one of its callers' failure.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The dispatcher is gone (its runtime shut down) and could not be restarted.
    #[error("the redis dispatcher stopped")]
    Stopped,
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

/// One decision as the script receives it: owned, so it can wait in the queue.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    limits: Vec<ScriptLimit>,
    hits: u64,
}

#[derive(Debug, Clone)]
struct ScriptLimit {
    key: String,
    code: u8,
    size: u64,
    period_us: u64,
    shadow: bool,
    limit: u64,
}

impl BatchRequest {
    /// `hits` against `limits` (all-or-nothing across them).
    pub fn new(limits: &[RedisLimit<'_>], hits: u64) -> Self {
        let limits = limits
            .iter()
            .map(|l| {
                let (code, size, period_us) = script_params(l.limiter);
                ScriptLimit {
                    key: l.key.to_owned(),
                    code,
                    size,
                    period_us,
                    shadow: l.shadow,
                    limit: crate::core::Algorithm::limit(l.limiter),
                }
            })
            .collect();
        Self { limits, hits }
    }
}

/// Counters of [`RedisStore::batch_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// `EVALSHA`s sent (each one round trip).
    pub batches: u64,
    /// Decisions they carried.
    pub decisions: u64,
}

/// A queued decision and where its answer goes.
struct Pending {
    request: BatchRequest,
    reply: oneshot::Sender<Result<Vec<Decision>, RedisStoreError>>,
}

/// What the dispatcher task shares with the store: the connection and the script.
struct Shared {
    /// `EVALSHA`s sent and the decisions they carried, for [`RedisStore::batch_stats`].
    batches: AtomicU64,
    decisions: AtomicU64,
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    script: redis::Script,
    fixed_window: redis::Script,
    connection: ArcSwapOption<ConnectionManager>,
    connecting: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// A connection (made lazily, re-made after failures), the script, and the dispatcher
/// that batches concurrent decisions (started on first use, in the caller's runtime).
pub struct RedisStore {
    shared: Arc<Shared>,
    queue: Mutex<Option<mpsc::Sender<Pending>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.shared.prefix).finish()
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
        let shared = Shared {
            batches: AtomicU64::new(0),
            decisions: AtomicU64::new(0),
            client,
            prefix: prefix.to_owned(),
            timeout,
            script: redis::Script::new(SCRIPT),
            fixed_window: redis::Script::new(FIXED_WINDOW_SCRIPT),
            connection: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(None),
        };
        Ok(Self { shared: Arc::new(shared), queue: Mutex::new(None) })
    }

    /// Round-trips a `PING`, for readiness probes. Connects if needed.
    ///
    /// # Errors
    /// [`RedisStoreError`] when Redis is unreachable or slow.
    pub async fn ping(&self) -> Result<(), RedisStoreError> {
        let shared = &self.shared;
        let mut conn = shared.connection().await?;
        let ping = redis::cmd("PING");
        match tokio::time::timeout(shared.timeout, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(RedisStoreError::Redis { source }),
            Err(_) => Err(RedisStoreError::Timeout { timeout_ms: shared.timeout.as_millis() }),
        }
    }

    /// The server this store talks to, as `host:port` (no credentials).
    pub fn target(&self) -> String {
        let info = self.shared.client.get_connection_info();
        format!("redis://{}", info.addr())
    }

    /// Evaluates `limits` for `hits` in one round trip, batched with the decisions
    /// that arrive while another batch is in flight. The decisions come back in the
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
        let (reply, answer) = oneshot::channel();
        let pending = Pending { request: BatchRequest::new(limits, hits), reply };
        let timeout = self.shared.timeout;
        let asked = async {
            let mut pending = pending;
            // Twice at most: a dispatcher whose runtime ended is replaced once.
            for _ in 0..2 {
                match self.queue().send(pending).await {
                    Ok(()) => return answer.await.unwrap_or(Err(RedisStoreError::Stopped)),
                    Err(mpsc::error::SendError(back)) => pending = back,
                }
            }
            Err(RedisStoreError::Stopped)
        };
        match tokio::time::timeout(timeout, asked).await {
            Ok(result) => result,
            Err(_) => Err(RedisStoreError::Timeout { timeout_ms: timeout.as_millis() }),
        }
    }

    /// Evaluates `requests` in order as one `EVALSHA`, now (no queue): each request's
    /// decisions, in the order of its limits. The dispatcher sends its batches with it.
    ///
    /// # Errors
    /// [`RedisStoreError`] when Redis is unreachable, slow or replies oddly.
    pub async fn check_batch(
        &self,
        requests: &[BatchRequest],
    ) -> Result<Vec<Vec<Decision>>, RedisStoreError> {
        let refs: Vec<&BatchRequest> = requests.iter().collect();
        self.shared.evaluate(&refs).await
    }

    /// How many `EVALSHA`s this store sent, and how many decisions they carried (their
    /// ratio is the mean batch size).
    pub fn batch_stats(&self) -> BatchStats {
        BatchStats {
            batches: self.shared.batches.load(Ordering::Relaxed),
            decisions: self.shared.decisions.load(Ordering::Relaxed),
        }
    }

    /// The dispatcher's queue, starting the dispatcher if there is none or it stopped.
    fn queue(&self) -> mpsc::Sender<Pending> {
        let mut queue = self.queue.lock();
        if let Some(q) = queue.as_ref().filter(|q| !q.is_closed()) {
            return q.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(dispatch(Arc::clone(&self.shared), receiver));
        *queue = Some(sender.clone());
        sender
    }
}

/// The dispatcher: sends the first waiting decision at once, and while its `EVALSHA` is
/// in flight lets the next ones queue; then sends all of those (up to the batch bounds)
/// as one `EVALSHA`, and so on. One batch in flight per store: that is what makes
/// batches grow with load and stay at one decision when idle. Ends when the store is
/// dropped.
async fn dispatch(shared: Arc<Shared>, mut queue: mpsc::Receiver<Pending>) {
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(p) => p,
            None => match queue.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut limits = first.request.limits.len();
        let mut batch = vec![first];
        while batch.len() < BATCH_DECISIONS_MAX {
            let Ok(next) = queue.try_recv() else { break };
            if next.reply.is_closed() {
                continue; // its caller gave up (timeout, dropped request)
            }
            if limits + next.request.limits.len() > BATCH_LIMITS_MAX {
                carried = Some(next);
                break;
            }
            limits += next.request.limits.len();
            batch.push(next);
        }
        let requests: Vec<&BatchRequest> = batch.iter().map(|p| &p.request).collect();
        let result = shared.evaluate(&requests).await;
        drop(requests);
        match result {
            Ok(decisions) => {
                for (p, d) in batch.into_iter().zip(decisions) {
                    let _ = p.reply.send(Ok(d));
                }
            }
            Err(error) => {
                for p in batch {
                    let _ = p.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

impl Shared {
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

    /// One `EVALSHA` for `requests`, loading the script on `NOSCRIPT`.
    async fn evaluate(
        &self,
        requests: &[&BatchRequest],
    ) -> Result<Vec<Vec<Decision>>, RedisStoreError> {
        let total: usize = requests.iter().map(|r| r.limits.len()).sum();
        if total == 0 {
            return Ok(requests.iter().map(|_| Vec::new()).collect());
        }
        let mut conn = self.connection().await?;
        let (call, source) = match requests {
            [one] if one.limits.iter().all(|l| l.code == FIXED_WINDOW_CODE) => {
                (self.fixed_window_call(one), FIXED_WINDOW_SCRIPT)
            }
            _ => (self.batch_call(requests, total), SCRIPT),
        };
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.decisions.fetch_add(requests.len() as u64, Ordering::Relaxed);
        metrics::counter!("ratelimit_redis_batches_total").increment(1);
        let reply: Vec<i64> =
            match tokio::time::timeout(self.timeout, run(&mut conn, &call, source)).await {
                Ok(Ok(v)) => v,
                Ok(Err(source)) => return Err(RedisStoreError::Redis { source }),
                Err(_) => {
                    return Err(RedisStoreError::Timeout { timeout_ms: self.timeout.as_millis() });
                }
            };
        if reply.len() != total * 5 {
            return Err(RedisStoreError::Reply { got: reply.len(), limits: total });
        }
        let mut values = reply.chunks_exact(5);
        Ok(requests
            .iter()
            .map(|r| r.limits.iter().zip(values.by_ref()).map(|(l, v)| decision(l, v)).collect())
            .collect())
    }

    /// The general script's `EVALSHA` for `requests` (`total` limits in all).
    fn batch_call(&self, requests: &[&BatchRequest], total: usize) -> redis::Cmd {
        // Distinct (algorithm, size, period, shadow) go once; each limit names its own
        // by number, so the script parses 2 values per limit instead of 5.
        let mut specs: Vec<(u8, u64, u64, bool)> = Vec::new();
        let mut spec_of: Vec<usize> = Vec::with_capacity(total);
        for l in requests.iter().flat_map(|r| &r.limits) {
            let spec = (l.code, l.size, l.period_us, l.shadow);
            let index = specs.iter().position(|s| *s == spec).unwrap_or_else(|| {
                specs.push(spec);
                specs.len() - 1
            });
            spec_of.push(index + 1);
        }
        let mut call = redis::cmd("EVALSHA");
        call.arg(self.script.get_hash()).arg(0).arg(&self.prefix).arg(specs.len());
        for (code, size, period_us, shadow) in &specs {
            call.arg(*code).arg(*size).arg(*period_us).arg(u8::from(*shadow));
        }
        call.arg(requests.len());
        let mut spec_of = spec_of.into_iter();
        for r in requests {
            call.arg(r.hits).arg(r.limits.len());
            for l in &r.limits {
                call.arg(spec_of.next().unwrap_or(1)).arg(&l.key);
            }
        }
        call
    }

    /// The fixed-window script's `EVALSHA` for one decision.
    fn fixed_window_call(&self, request: &BatchRequest) -> redis::Cmd {
        let mut call = redis::cmd("EVALSHA");
        call.arg(self.fixed_window.get_hash()).arg(0).arg(&self.prefix).arg(request.hits);
        for l in &request.limits {
            call.arg(l.period_us).arg(l.size).arg(u8::from(l.shadow)).arg(&l.key);
        }
        call
    }
}

/// Runs `call` (an `EVALSHA` of `source`); on `NOSCRIPT` loads `source` and runs it
/// again, up to [`NOSCRIPT_RETRIES`] times (another client may flush between load and
/// call).
async fn run(
    conn: &mut ConnectionManager,
    call: &redis::Cmd,
    source: &str,
) -> redis::RedisResult<Vec<i64>> {
    let mut loads = 0;
    loop {
        match call.query_async(conn).await {
            Err(e)
                if loads < NOSCRIPT_RETRIES
                    && e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                loads += 1;
                let _: String =
                    redis::cmd("SCRIPT").arg("LOAD").arg(source).query_async(conn).await?;
            }
            other => return other,
        }
    }
}

/// One limit's 5 reply integers as a [`Decision`].
fn decision(l: &ScriptLimit, r: &[i64]) -> Decision {
    let us = |v: i64| -> Nanos { u64::try_from(v).map_or(Nanos::MAX, |v| v.saturating_mul(1000)) };
    Decision {
        allowed: r[0] != 0,
        limit: l.limit,
        remaining: u64::try_from(r[1]).unwrap_or(0),
        reset_after_ns: us(r[2].max(0)),
        retry_after_ns: us(r[3]),
        wait_ns: us(r[4].max(0)),
    }
}

/// (algorithm code, size, period in µs) as the script expects them.
fn script_params(limiter: &AnyLimiter) -> (u8, u64, u64) {
    let us = |ns: Nanos| ns.div_ceil(1000).max(1);
    match limiter {
        AnyLimiter::TokenBucket(b) => (1, crate::core::Algorithm::limit(b), us(b.interval_ns())),
        AnyLimiter::LeakingBucket(b) => (2, crate::core::Algorithm::limit(b), us(b.interval_ns())),
        AnyLimiter::FixedWindow(w) => {
            (FIXED_WINDOW_CODE, crate::core::Algorithm::limit(w), us(w.window_ns()))
        }
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
