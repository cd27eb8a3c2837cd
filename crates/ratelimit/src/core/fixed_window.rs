//! Fixed window counter (book figure 4-8): one counter per aligned window.
//!
//! Windows are aligned to multiples of `window` since the clock's origin. Known flaw,
//! kept on purpose and tested (figure 4-9): a burst at the end of one window and another
//! at the start of the next let through up to 2 × `limit` within one window's length.

use super::error::{check_count, check_period};
use super::{Algorithm, Decision, LIMIT_MAX, LimiterState, Nanos, ParamError};

/// A fixed window counter: at most `limit` requests per aligned `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    limit: u64,
    window_ns: Nanos,
}

/// Per-key state of [`FixedWindow`]: 16 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixedWindowState {
    /// End of the window `count` belongs to (exclusive).
    window_end: Nanos,
    /// Requests admitted in that window.
    count: u64,
}

impl LimiterState for FixedWindowState {
    fn idle_at(&self) -> Nanos {
        self.window_end
    }
}

impl FixedWindow {
    /// At most `limit` requests per `window_ns`.
    ///
    /// # Errors
    /// [`ParamError`] for zero or absurd values.
    pub fn new(limit: u64, window_ns: Nanos) -> Result<Self, ParamError> {
        Ok(Self {
            limit: check_count("limit", limit, LIMIT_MAX)?,
            window_ns: check_period("window", window_ns)?,
        })
    }

    /// The state as seen at `now` (rolled into the current window).
    /// The window length in nanoseconds.
    pub fn window_ns(&self) -> Nanos {
        self.window_ns
    }

    fn current(&self, state: &FixedWindowState, now: Nanos) -> FixedWindowState {
        if now < state.window_end {
            *state
        } else {
            FixedWindowState { window_end: (now / self.window_ns + 1) * self.window_ns, count: 0 }
        }
    }

    fn decide(&self, state: &FixedWindowState, now: Nanos, hits: u64) -> Decision {
        let reset_after_ns = state.window_end - now;
        let allowed = state.count.saturating_add(hits) <= self.limit;
        let used = if allowed { state.count + hits } else { state.count };
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset_after_ns,
            retry_after_ns: match (allowed, hits <= self.limit) {
                (true, _) => 0,
                (false, true) => reset_after_ns,
                (false, false) => Nanos::MAX,
            },
            wait_ns: 0,
        }
    }
}

impl Algorithm for FixedWindow {
    type State = FixedWindowState;

    fn check(&self, state: &mut FixedWindowState, now: Nanos, hits: u64) -> Decision {
        *state = self.current(state, now);
        let decision = self.decide(state, now, hits);
        if decision.allowed {
            state.count += hits;
        }
        decision
    }

    fn peek(&self, state: &FixedWindowState, now: Nanos, hits: u64) -> Decision {
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

    #[test]
    fn counts_reset_at_each_window_boundary() {
        let fw = FixedWindow::new(3, S).unwrap();
        let mut st = FixedWindowState::default();
        for _ in 0..3 {
            assert!(fw.check(&mut st, S / 10, 1).allowed);
        }
        let denied = fw.check(&mut st, S / 2, 1);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after_ns, S / 2);
        assert!(fw.check(&mut st, S, 1).allowed, "a new window starts at 1 s");
    }

    /// Book figure 4-9: 5 per minute; 5 requests between 2:00:30 and 2:01:00 and 5 more
    /// between 2:01:00 and 2:01:30 all pass: 10 within the minute 2:00:30–2:01:30.
    #[test]
    fn figure_4_9_a_boundary_burst_lets_twice_the_limit_through() {
        let minute = 60 * S;
        let fw = FixedWindow::new(5, minute).unwrap();
        let mut st = FixedWindowState::default();
        let t0 = 120 * minute; // 2:00:00
        let mut admitted_in_one_minute = 0;
        for i in 0..5 {
            admitted_in_one_minute += u64::from(fw.check(&mut st, t0 + 50 * S + i, 1).allowed);
        }
        for i in 0..5 {
            admitted_in_one_minute += u64::from(fw.check(&mut st, t0 + minute + i, 1).allowed);
        }
        assert_eq!(admitted_in_one_minute, 10, "2 × the limit within 60 s");
    }
}
