//! Sliding window counter (book figure 4-11): current window + previous × overlap.
//!
//! The estimate at `now` is `current + previous × (window − elapsed) / window`, where
//! `elapsed` is the time since the current aligned window began: it assumes the previous
//! window's requests were spread evenly. Two counters per key instead of a log, at the
//! price of an approximation measured against the exact log in [`super::measure`]. The
//! comparison is done in exact integer arithmetic (`u128`), no floating point.

use super::error::{check_count, check_period};
use super::{Algorithm, Decision, LIMIT_MAX, LimiterState, Nanos, ParamError};

/// A sliding window counter: estimated at most `limit` requests per sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindowCounter {
    limit: u64,
    window_ns: Nanos,
}

/// Per-key state of [`SlidingWindowCounter`]: 32 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlidingCounterState {
    window_end: Nanos,
    current: u64,
    previous: u64,
    /// `window_end + window` once anything was counted: both counters are gone then.
    idle_at: Nanos,
}

impl LimiterState for SlidingCounterState {
    fn idle_at(&self) -> Nanos {
        self.idle_at
    }
}

impl SlidingWindowCounter {
    /// Estimated at most `limit` requests in any window of `window_ns`.
    ///
    /// # Errors
    /// [`ParamError`] for zero or absurd values.
    pub fn new(limit: u64, window_ns: Nanos) -> Result<Self, ParamError> {
        Ok(Self {
            limit: check_count("limit", limit, LIMIT_MAX)?,
            window_ns: check_period("window", window_ns)?,
        })
    }

    /// The window length in nanoseconds.
    pub fn window_ns(&self) -> Nanos {
        self.window_ns
    }

    fn current(&self, state: &SlidingCounterState, now: Nanos) -> SlidingCounterState {
        if now < state.window_end {
            return *state;
        }
        let previous = if now < state.window_end + self.window_ns { state.current } else { 0 };
        SlidingCounterState {
            window_end: (now / self.window_ns + 1) * self.window_ns,
            current: 0,
            previous,
            idle_at: state.idle_at,
        }
    }

    /// The previous window's weighted share at `now`, rounded down as in the book.
    fn previous_share(&self, st: &SlidingCounterState, now: Nanos) -> u64 {
        let start = st.window_end - self.window_ns;
        let overlap = u128::from(self.window_ns - (now - start)); // window − elapsed
        (u128::from(st.previous) * overlap / u128::from(self.window_ns)) as u64
    }

    fn decide(&self, st: &SlidingCounterState, now: Nanos, hits: u64) -> Decision {
        let share = self.previous_share(st, now);
        let wanted = st.current.saturating_add(hits);
        let allowed = wanted.saturating_add(share) <= self.limit;
        let used = if allowed { wanted } else { st.current } + share;
        let reset_after_ns = if st.current > 0 || (allowed && hits > 0) {
            st.window_end + self.window_ns - now
        } else if st.previous > 0 {
            st.window_end - now
        } else {
            0
        };
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset_after_ns,
            retry_after_ns: if allowed { 0 } else { self.retry_after(st, now, hits) },
            wait_ns: 0,
        }
    }

    /// Earliest time, with no further traffic, at which `hits` would be admitted.
    ///
    /// `floor(count × (W − e) / W) ≤ room` ⟺ `count × (W − e) ≤ (room + 1) × W − 1`.
    fn retry_after(&self, st: &SlidingCounterState, now: Nanos, hits: u64) -> Nanos {
        if hits > self.limit {
            return Nanos::MAX;
        }
        let w = u128::from(self.window_ns);
        let longest_overlap = |count: u64, room: u64| -> Nanos {
            let max = (u128::from(room) + 1) * w - 1;
            (max / u128::from(count.max(1))).min(w) as Nanos
        };
        let at = if st.current + hits <= self.limit {
            // Wait in this window until the previous window's share has shrunk enough.
            let room = self.limit - st.current - hits;
            st.window_end - longest_overlap(st.previous, room)
        } else {
            // Wait for the next window, where `current` becomes the weighted previous.
            let room = self.limit - hits;
            st.window_end + self.window_ns - longest_overlap(st.current, room)
        };
        at.saturating_sub(now).max(1)
    }
}

impl SlidingWindowCounter {
    /// Counts `hits` that were *denied* as well, for the "limit the request rate"
    /// semantics (Cloudflare's): a client above the rate stays blocked until it slows
    /// down. Call after a denied [`Algorithm::check`].
    pub fn record_denied(&self, state: &mut SlidingCounterState, now: Nanos, hits: u64) {
        *state = self.current(state, now);
        state.current = state.current.saturating_add(hits);
        state.idle_at = state.window_end + self.window_ns;
    }
}

impl Algorithm for SlidingWindowCounter {
    type State = SlidingCounterState;

    fn check(&self, state: &mut SlidingCounterState, now: Nanos, hits: u64) -> Decision {
        *state = self.current(state, now);
        let decision = self.decide(state, now, hits);
        if decision.allowed && hits > 0 {
            state.current += hits;
            state.idle_at = state.window_end + self.window_ns;
        }
        decision
    }

    fn peek(&self, state: &SlidingCounterState, now: Nanos, hits: u64) -> Decision {
        self.decide(&self.current(state, now), now, hits)
    }

    fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::NANOS_PER_SECOND as S;

    /// Book figure 4-11: 7 per minute, 5 in the previous minute, 3 so far in the current
    /// one, 30 % into it: 3 + 5 × 0.7 = 6.5, rounded down to 6 < 7: the request passes.
    #[test]
    fn figure_4_11_current_plus_weighted_previous() {
        let minute = 60 * S;
        let c = SlidingWindowCounter::new(7, minute).unwrap();
        let mut st = SlidingCounterState::default();
        for i in 0..5 {
            assert!(c.check(&mut st, minute + i * S, 1).allowed);
        }
        for i in 0..3 {
            assert!(c.check(&mut st, 2 * minute + i * S, 1).allowed);
        }
        let at_30_percent = 2 * minute + 18 * S;
        // The book rounds 6.5 down to 6: under 7, the request goes through.
        let one = c.check(&mut st, at_30_percent, 1);
        assert!(one.allowed);
        assert_eq!(one.remaining, 0);
        assert!(!c.peek(&st, at_30_percent, 1).allowed, "4 + floor(3.5) = 7: full");
    }

    #[test]
    fn retry_after_points_at_the_first_admitting_instant() {
        let c = SlidingWindowCounter::new(4, S).unwrap();
        let mut st = SlidingCounterState::default();
        for _ in 0..4 {
            assert!(c.check(&mut st, 0, 1).allowed);
        }
        let denied = c.check(&mut st, S / 2, 1);
        assert!(!denied.allowed);
        let at = S / 2 + denied.retry_after_ns;
        assert!(c.peek(&st, at, 1).allowed);
        assert!(!c.peek(&st, at - 1, 1).allowed);
    }
}
