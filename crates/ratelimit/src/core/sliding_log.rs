//! Sliding window log (book figure 4-10): the timestamps of admitted requests.
//!
//! A request at `now` is admitted when fewer than `limit` admitted requests have
//! timestamps in `(now − window, now]`. Exact: no window of that length ever holds more
//! than `limit` admissions. Unlike the book's variant, *rejected* requests are not
//! logged: logging them would lock out a client that keeps retrying forever and makes
//! memory grow with the attack; with admitted-only logging the log holds at most `limit`
//! timestamps (8 bytes each), which is why `limit` is capped at [`LOG_LIMIT_MAX`].

use std::collections::VecDeque;

use super::error::{check_count, check_period};
use super::{Algorithm, Decision, LOG_LIMIT_MAX, LimiterState, Nanos, ParamError};

/// A sliding window log: at most `limit` requests in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindowLog {
    limit: u64,
    window_ns: Nanos,
}

/// Per-key state of [`SlidingWindowLog`]: up to `limit` timestamps, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlidingLogState {
    times: VecDeque<Nanos>,
    idle_at: Nanos,
}

impl LimiterState for SlidingLogState {
    fn idle_at(&self) -> Nanos {
        self.idle_at
    }
}

impl SlidingLogState {
    /// Timestamps currently logged (for tests and memory accounting).
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

impl SlidingWindowLog {
    /// At most `limit` requests in any window of `window_ns`.
    ///
    /// # Errors
    /// [`ParamError`] for zero values, a limit above [`LOG_LIMIT_MAX`], absurd windows.
    pub fn new(limit: u64, window_ns: Nanos) -> Result<Self, ParamError> {
        Ok(Self {
            limit: check_count("limit", limit, LOG_LIMIT_MAX)?,
            window_ns: check_period("window", window_ns)?,
        })
    }

    /// The window length in nanoseconds.
    pub fn window_ns(&self) -> Nanos {
        self.window_ns
    }

    /// Index of the first timestamp still inside the window ending at `now`.
    fn first_live(&self, times: &VecDeque<Nanos>, now: Nanos) -> usize {
        times.partition_point(|t| t.saturating_add(self.window_ns) <= now)
    }

    fn decide(&self, times: &VecDeque<Nanos>, live_from: usize, now: Nanos, hits: u64) -> Decision {
        let in_window = (times.len() - live_from) as u64;
        let allowed = in_window.saturating_add(hits) <= self.limit;
        let used = if allowed { in_window + hits } else { in_window };
        let reset_after_ns = if allowed && hits > 0 {
            self.window_ns
        } else if in_window > 0 {
            times.back().map_or(0, |&last| (last + self.window_ns).saturating_sub(now))
        } else {
            0
        };
        let retry_after_ns = if allowed {
            0
        } else if hits > self.limit {
            Nanos::MAX
        } else {
            // The oldest `in_window + hits − limit` entries must expire first.
            let must_expire = (in_window + hits - self.limit) as usize;
            let t = times[live_from + must_expire - 1];
            (t + self.window_ns).saturating_sub(now)
        };
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - used,
            reset_after_ns,
            retry_after_ns,
            wait_ns: 0,
        }
    }
}

impl Algorithm for SlidingWindowLog {
    type State = SlidingLogState;

    fn check(&self, state: &mut SlidingLogState, now: Nanos, hits: u64) -> Decision {
        let expired = self.first_live(&state.times, now);
        state.times.drain(..expired);
        let decision = self.decide(&state.times, 0, now, hits);
        if decision.allowed && hits > 0 {
            state.times.extend(std::iter::repeat_n(now, hits as usize));
            state.idle_at = now + self.window_ns;
        }
        decision
    }

    fn peek(&self, state: &SlidingLogState, now: Nanos, hits: u64) -> Decision {
        self.decide(&state.times, self.first_live(&state.times, now), now, hits)
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

    /// Book figure 4-10: 2 per minute. 1:00:01 and 1:00:30 pass, 1:00:50 is rejected,
    /// 1:01:40 passes because the two oldest have left the window (1:00:40, 1:01:40].
    #[test]
    fn figure_4_10_two_per_minute() {
        let log = SlidingWindowLog::new(2, 60 * S).unwrap();
        let mut st = SlidingLogState::default();
        let t = |m: u64, s: u64| (60 + m) * 60 * S + s * S;
        assert!(log.check(&mut st, t(0, 1), 1).allowed);
        assert!(log.check(&mut st, t(0, 30), 1).allowed);
        let rejected = log.check(&mut st, t(0, 50), 1);
        assert!(!rejected.allowed);
        assert_eq!(rejected.retry_after_ns, 11 * S, "1:00:01 leaves at 1:01:01");
        assert!(log.check(&mut st, t(1, 40), 1).allowed);
        assert_eq!(st.len(), 1, "expired timestamps were removed");
    }

    #[test]
    fn the_log_never_holds_more_than_the_limit() {
        let log = SlidingWindowLog::new(5, S).unwrap();
        let mut st = SlidingLogState::default();
        for i in 0..1000 {
            log.check(&mut st, i * S / 100, 1);
            assert!(st.len() <= 5);
        }
    }

    #[test]
    fn a_limit_above_the_log_maximum_is_refused() {
        assert!(matches!(
            SlidingWindowLog::new(LOG_LIMIT_MAX + 1, S),
            Err(ParamError::TooLarge { name: "limit", .. })
        ));
    }
}
