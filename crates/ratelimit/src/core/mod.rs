//! The pure core: the book's five algorithms behind one trait.
//!
//! Nothing here does I/O, reads a clock or spawns a task. Every call takes `now`, a
//! monotonic timestamp in nanoseconds from an arbitrary origin (see [`Nanos`]), and the
//! per-key state to update; the caller (a store) owns the state and the clock. That makes
//! every algorithm deterministic, so the book's figures and the property tests replay
//! exactly.

mod error;
mod fixed_window;
mod leaking_bucket;
pub mod measure;
mod params;
mod sliding_counter;
mod sliding_log;
mod token_bucket;

#[cfg(test)]
mod proptests;

pub use error::ParamError;
pub use fixed_window::{FixedWindow, FixedWindowState};
pub use leaking_bucket::LeakingBucket;
pub use params::{AlgorithmKind, AnyLimiter, AnyState, LimitSpec};
pub use sliding_counter::{SlidingCounterState, SlidingWindowCounter};
pub use sliding_log::{SlidingLogState, SlidingWindowLog};
pub use token_bucket::TokenBucket;

/// A monotonic timestamp or a duration, in nanoseconds.
///
/// Timestamps count from an arbitrary origin chosen by the caller's clock (process start,
/// a test's zero); only differences matter. `u64` nanoseconds last 584 years.
pub type Nanos = u64;

/// Nanoseconds in one second, for conversions.
pub const NANOS_PER_SECOND: Nanos = 1_000_000_000;

/// The largest limit (requests per window, bucket size, queue size) any algorithm accepts.
///
/// Why: counts and `limit × interval` products must not overflow `u64` nanoseconds, and no
/// real API allows more than a billion requests per window per key.
pub const LIMIT_MAX: u64 = 1_000_000_000;

/// The largest sliding-log limit: the log keeps one timestamp (8 bytes) per admitted
/// request, so this caps a key at 800 KB.
pub const LOG_LIMIT_MAX: u64 = 100_000;

/// The longest window or refill period accepted: one year. Longer ones are typos.
pub const PERIOD_MAX: Nanos = 366 * 24 * 3600 * NANOS_PER_SECOND;

/// The most hits one call may ask for (Lyft's `hits_addend`); larger is a caller bug.
pub const HITS_MAX: u64 = LIMIT_MAX;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed (after waiting [`Decision::wait_ns`]).
    pub allowed: bool,
    /// The advertised limit: requests per window, or the bucket/queue size.
    pub limit: u64,
    /// How many more single hits would be allowed right now, after this decision.
    pub remaining: u64,
    /// Time until the state is back to fresh (window end, bucket full, queue empty).
    pub reset_after_ns: Nanos,
    /// When denied: time until the same request would be allowed. Zero when allowed.
    pub retry_after_ns: Nanos,
    /// When allowed by a shaping algorithm (the leaking bucket): time the request must
    /// wait in the queue before it is processed. Zero for the policing algorithms.
    pub wait_ns: Nanos,
}

/// Per-key state that can say when it becomes equivalent to a fresh, default state.
///
/// Stores use this to evict idle keys without knowing which algorithm owns them.
pub trait LimiterState: Default + Clone + Send + Sync + 'static {
    /// The earliest time from which this state behaves exactly like `Default::default()`.
    /// Dropping the state at or after that time loses nothing.
    fn idle_at(&self) -> Nanos;
}

impl LimiterState for u64 {
    /// For the bucket algorithms the state *is* the time the bucket is full (token
    /// bucket) or the queue is empty (leaking bucket).
    fn idle_at(&self) -> Nanos {
        *self
    }
}

/// One rate-limit algorithm with fixed, validated parameters.
///
/// Implementations hold only parameters; all mutable data lives in [`Algorithm::State`],
/// one per key, owned by the caller.
pub trait Algorithm: Send + Sync {
    /// The per-key state.
    type State: LimiterState;

    /// Checks `hits` requests arriving at `now` and, if they are allowed, records them.
    ///
    /// All-or-nothing: either every hit is admitted or none is and the state is unchanged.
    fn check(&self, state: &mut Self::State, now: Nanos, hits: u64) -> Decision;

    /// What [`Algorithm::check`] would decide, without consuming anything.
    fn peek(&self, state: &Self::State, now: Nanos, hits: u64) -> Decision;

    /// The advertised limit (reported in headers).
    fn limit(&self) -> u64;

    /// [`Algorithm::check`] without the [`Decision`]: just whether the hits were
    /// admitted (and recorded). For callers that need no headers; the bucket algorithms
    /// override it to skip the divisions that `remaining` costs.
    #[inline]
    fn admit(&self, state: &mut Self::State, now: Nanos, hits: u64) -> bool {
        self.check(state, now, hits).allowed
    }
}

/// Converts a request count and a period into the nanoseconds between two admissions,
/// rounded *up* so that a bucket never admits more than its rate (it may admit up to one
/// nanosecond per request less).
pub(crate) fn interval_ns(period_ns: Nanos, per_period: u64) -> Nanos {
    period_ns.div_ceil(per_period)
}

/// `remaining` for the bucket algorithms: whole intervals of free room within `room_ns`.
pub(crate) fn whole_intervals(room_ns: Nanos, interval_ns: Nanos) -> u64 {
    room_ns / interval_ns
}
