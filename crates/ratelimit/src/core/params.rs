//! One description of a limit ([`LimitSpec`]) that builds any of the five algorithms, and
//! the enums that let a store hold keys of different algorithms side by side.

use serde::{Deserialize, Serialize};

use super::{
    Algorithm, Decision, FixedWindow, FixedWindowState, LeakingBucket, LimiterState, Nanos,
    ParamError, SlidingCounterState, SlidingLogState, SlidingWindowCounter, SlidingWindowLog,
    TokenBucket,
};

/// The book's five algorithms, by their `algorithm:` name in the rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmKind {
    /// Token bucket (GCRA): bursts up to the bucket size, then the refill rate.
    TokenBucket,
    /// Leaking bucket: a bounded FIFO drained at a fixed rate (shaping).
    LeakingBucket,
    /// Fixed window counter: Lyft ratelimit's algorithm, hence the default.
    #[default]
    FixedWindow,
    /// Sliding window log: exact, memory per admitted request.
    SlidingWindowLog,
    /// Sliding window counter: two counters, approximate.
    SlidingWindowCounter,
}

impl AlgorithmKind {
    /// Every algorithm, in the book's order.
    pub const ALL: [AlgorithmKind; 5] = [
        AlgorithmKind::TokenBucket,
        AlgorithmKind::LeakingBucket,
        AlgorithmKind::FixedWindow,
        AlgorithmKind::SlidingWindowLog,
        AlgorithmKind::SlidingWindowCounter,
    ];

    /// The snake_case name used in rules and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AlgorithmKind::TokenBucket => "token_bucket",
            AlgorithmKind::LeakingBucket => "leaking_bucket",
            AlgorithmKind::FixedWindow => "fixed_window",
            AlgorithmKind::SlidingWindowLog => "sliding_window_log",
            AlgorithmKind::SlidingWindowCounter => "sliding_window_counter",
        }
    }

    /// Parses a name as written by [`AlgorithmKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A limit as rules describe it: `limit` requests per `period`, with an algorithm and an
/// optional soft-limit `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LimitSpec {
    /// Which algorithm enforces it.
    pub algorithm: AlgorithmKind,
    /// Requests per period (`requests_per_unit`): the window limit, or the bucket's
    /// refill / the queue's drain rate.
    pub limit: u64,
    /// The period (`unit`) in nanoseconds: the window, or the refill/drain period.
    pub period_ns: Nanos,
    /// Soft limit: extra requests a bucket lets through in a short burst above `limit`
    /// (bucket size or queue size = `limit + burst`; the sustained rate stays `limit`).
    /// Zero is a hard limit. Window algorithms have no notion of "briefly", so they refuse
    /// a non-zero burst.
    #[serde(default)]
    pub burst: u64,
}

impl LimitSpec {
    /// A hard limit of `limit` per `period_ns` with the given algorithm.
    pub fn new(algorithm: AlgorithmKind, limit: u64, period_ns: Nanos) -> Self {
        Self { algorithm, limit, period_ns, burst: 0 }
    }

    /// Builds and validates the algorithm.
    ///
    /// # Errors
    /// [`ParamError`] when a parameter is zero, absurd or unsupported.
    pub fn build(&self) -> Result<AnyLimiter, ParamError> {
        let size = self.limit.saturating_add(self.burst);
        let no_burst = || {
            if self.burst == 0 {
                Ok(())
            } else {
                Err(ParamError::BurstUnsupported { algorithm: self.algorithm.name() })
            }
        };
        Ok(match self.algorithm {
            AlgorithmKind::TokenBucket => {
                AnyLimiter::TokenBucket(TokenBucket::new(size, self.limit, self.period_ns)?)
            }
            AlgorithmKind::LeakingBucket => {
                AnyLimiter::LeakingBucket(LeakingBucket::new(size, self.limit, self.period_ns)?)
            }
            AlgorithmKind::FixedWindow => {
                no_burst()?;
                AnyLimiter::FixedWindow(FixedWindow::new(self.limit, self.period_ns)?)
            }
            AlgorithmKind::SlidingWindowLog => {
                no_burst()?;
                AnyLimiter::SlidingWindowLog(SlidingWindowLog::new(self.limit, self.period_ns)?)
            }
            AlgorithmKind::SlidingWindowCounter => {
                no_burst()?;
                AnyLimiter::SlidingWindowCounter(SlidingWindowCounter::new(
                    self.limit,
                    self.period_ns,
                )?)
            }
        })
    }
}

/// Any of the five algorithms, built from a [`LimitSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyLimiter {
    /// See [`TokenBucket`].
    TokenBucket(TokenBucket),
    /// See [`LeakingBucket`].
    LeakingBucket(LeakingBucket),
    /// See [`FixedWindow`].
    FixedWindow(FixedWindow),
    /// See [`SlidingWindowLog`].
    SlidingWindowLog(SlidingWindowLog),
    /// See [`SlidingWindowCounter`].
    SlidingWindowCounter(SlidingWindowCounter),
}

/// The state of any algorithm. A state of the wrong kind (the rule changed algorithm on
/// reload) is treated as fresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AnyState {
    /// No state yet.
    #[default]
    Fresh,
    /// Token or leaking bucket: the TAT / next free departure slot.
    Bucket(u64),
    /// Fixed window.
    FixedWindow(FixedWindowState),
    /// Sliding log.
    SlidingWindowLog(SlidingLogState),
    /// Sliding counter.
    SlidingWindowCounter(SlidingCounterState),
}

impl LimiterState for AnyState {
    fn idle_at(&self) -> Nanos {
        match self {
            AnyState::Fresh => 0,
            AnyState::Bucket(t) => *t,
            AnyState::FixedWindow(s) => s.idle_at(),
            AnyState::SlidingWindowLog(s) => s.idle_at(),
            AnyState::SlidingWindowCounter(s) => s.idle_at(),
        }
    }
}

/// Runs `$body` with `$alg` bound to the concrete algorithm and `$st` to its state,
/// resetting a state of the wrong kind.
macro_rules! with_state {
    ($self:ident, $state:ident, |$alg:ident, $st:ident| $body:expr) => {
        match $self {
            AnyLimiter::TokenBucket($alg) => {
                if !matches!($state, AnyState::Bucket(_)) {
                    *$state = AnyState::Bucket(0);
                }
                let AnyState::Bucket($st) = $state else { unreachable!() };
                $body
            }
            AnyLimiter::LeakingBucket($alg) => {
                if !matches!($state, AnyState::Bucket(_)) {
                    *$state = AnyState::Bucket(0);
                }
                let AnyState::Bucket($st) = $state else { unreachable!() };
                $body
            }
            AnyLimiter::FixedWindow($alg) => {
                if !matches!($state, AnyState::FixedWindow(_)) {
                    *$state = AnyState::FixedWindow(Default::default());
                }
                let AnyState::FixedWindow($st) = $state else { unreachable!() };
                $body
            }
            AnyLimiter::SlidingWindowLog($alg) => {
                if !matches!($state, AnyState::SlidingWindowLog(_)) {
                    *$state = AnyState::SlidingWindowLog(Default::default());
                }
                let AnyState::SlidingWindowLog($st) = $state else { unreachable!() };
                $body
            }
            AnyLimiter::SlidingWindowCounter($alg) => {
                if !matches!($state, AnyState::SlidingWindowCounter(_)) {
                    *$state = AnyState::SlidingWindowCounter(Default::default());
                }
                let AnyState::SlidingWindowCounter($st) = $state else { unreachable!() };
                $body
            }
        }
    };
}

impl Algorithm for AnyLimiter {
    type State = AnyState;

    fn check(&self, state: &mut AnyState, now: Nanos, hits: u64) -> Decision {
        with_state!(self, state, |alg, st| alg.check(st, now, hits))
    }

    fn peek(&self, state: &AnyState, now: Nanos, hits: u64) -> Decision {
        // Peeking at a state of the wrong kind peeks at a fresh one.
        let mut copy = state.clone();
        let state = &mut copy;
        with_state!(self, state, |alg, st| alg.peek(st, now, hits))
    }

    fn limit(&self) -> u64 {
        match self {
            AnyLimiter::TokenBucket(a) => a.limit(),
            AnyLimiter::LeakingBucket(a) => a.limit(),
            AnyLimiter::FixedWindow(a) => a.limit(),
            AnyLimiter::SlidingWindowLog(a) => a.limit(),
            AnyLimiter::SlidingWindowCounter(a) => a.limit(),
        }
    }
}

impl AnyLimiter {
    /// Which algorithm this is.
    pub fn kind(&self) -> AlgorithmKind {
        match self {
            AnyLimiter::TokenBucket(_) => AlgorithmKind::TokenBucket,
            AnyLimiter::LeakingBucket(_) => AlgorithmKind::LeakingBucket,
            AnyLimiter::FixedWindow(_) => AlgorithmKind::FixedWindow,
            AnyLimiter::SlidingWindowLog(_) => AlgorithmKind::SlidingWindowLog,
            AnyLimiter::SlidingWindowCounter(_) => AlgorithmKind::SlidingWindowCounter,
        }
    }
}
