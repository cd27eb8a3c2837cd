//! Token bucket (book figure 4-4 to 4-6), implemented as GCRA.
//!
//! A bucket of `capacity` tokens refilled continuously at `refill_amount` per
//! `refill_period`; each request takes one token. Instead of storing a token count and a
//! last-refill time, the state is one number: the *theoretical arrival time* (TAT), the
//! instant at which the bucket will be full again. Tokens available at `now` are
//! `(capacity × interval − (TAT − now)) / interval`. One `u64` per key, updated with
//! one compare-and-swap by lock-free stores. This is the same bucket, stored compactly;
//! the arithmetic is exact integer nanoseconds.

use super::error::{check_count, check_period, tolerance_ns};
use super::{Algorithm, Decision, LIMIT_MAX, Nanos, ParamError, interval_ns, whole_intervals};

/// A token bucket: bursts up to `capacity`, sustained rate `refill_amount / refill_period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    capacity: u64,
    interval_ns: Nanos,
    tolerance_ns: Nanos,
}

impl TokenBucket {
    /// A bucket holding `capacity` tokens, refilled by `refill_amount` every `refill_period_ns`.
    ///
    /// # Errors
    /// [`ParamError`] for zero or absurd values (capacity above [`LIMIT_MAX`], a period
    /// longer than a year, or a burst lasting longer than the clock can count).
    pub fn new(
        capacity: u64,
        refill_amount: u64,
        refill_period_ns: Nanos,
    ) -> Result<Self, ParamError> {
        let capacity = check_count("capacity", capacity, LIMIT_MAX)?;
        let refill_amount = check_count("refill_amount", refill_amount, LIMIT_MAX)?;
        let period = check_period("refill_period", refill_period_ns)?;
        let interval_ns = interval_ns(period, refill_amount);
        let tolerance_ns = tolerance_ns(capacity, interval_ns)?;
        Ok(Self { capacity, interval_ns, tolerance_ns })
    }

    /// The nanoseconds it takes to refill one token.
    pub fn interval_ns(&self) -> Nanos {
        self.interval_ns
    }

    /// The pure GCRA step shared by `check`, `peek` and the lock-free stores: the decision
    /// and the new TAT if allowed.
    #[inline]
    pub fn decide(&self, tat: Nanos, now: Nanos, hits: u64) -> (Decision, Option<Nanos>) {
        let base = tat.max(now);
        let cost = hits.saturating_mul(self.interval_ns);
        let new_tat = base.saturating_add(cost);
        let debt = new_tat - now;
        if debt <= self.tolerance_ns {
            let decision = Decision {
                allowed: true,
                limit: self.capacity,
                remaining: whole_intervals(self.tolerance_ns - debt, self.interval_ns),
                reset_after_ns: debt,
                retry_after_ns: 0,
                wait_ns: 0,
            };
            (decision, Some(new_tat))
        } else {
            let current_debt = base - now;
            let retry_after_ns = if cost > self.tolerance_ns {
                Nanos::MAX // more hits than the bucket can ever hold
            } else {
                debt - self.tolerance_ns
            };
            let decision = Decision {
                allowed: false,
                limit: self.capacity,
                remaining: whole_intervals(self.tolerance_ns - current_debt, self.interval_ns),
                reset_after_ns: current_debt,
                retry_after_ns,
                wait_ns: 0,
            };
            (decision, None)
        }
    }
}

impl Algorithm for TokenBucket {
    type State = u64;

    #[inline]
    fn check(&self, state: &mut u64, now: Nanos, hits: u64) -> Decision {
        let (decision, new_tat) = self.decide(*state, now, hits);
        if let Some(tat) = new_tat {
            *state = tat;
        }
        decision
    }

    fn peek(&self, state: &u64, now: Nanos, hits: u64) -> Decision {
        self.decide(*state, now, hits).0
    }

    #[inline]
    fn admit(&self, state: &mut u64, now: Nanos, hits: u64) -> bool {
        let new = (*state).max(now).saturating_add(hits.saturating_mul(self.interval_ns));
        let admitted = new - now <= self.tolerance_ns;
        if admitted {
            *state = new;
        }
        admitted
    }

    fn limit(&self) -> u64 {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::NANOS_PER_SECOND as S;

    /// Book figure 4-6: size 4, refilled 4 per minute. Starting full at 1:00:00, one
    /// request leaves 3 tokens; three more at 1:00:05 empty it; the next is dropped; a
    /// minute after the start the bucket is full again and takes 4 but not 5.
    #[test]
    fn figure_4_6_bucket_of_four_refilled_four_per_minute() {
        let bucket = TokenBucket::new(4, 4, 60 * S).unwrap();
        let mut tat = 0;
        let t0 = 3600 * S; // 1:00:00
        let first = bucket.check(&mut tat, t0, 1);
        assert!(first.allowed);
        assert_eq!(first.remaining, 3);
        for left in [2, 1, 0] {
            let d = bucket.check(&mut tat, t0 + 5 * S, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let dropped = bucket.check(&mut tat, t0 + 5 * S, 1);
        assert!(!dropped.allowed);
        assert_eq!(dropped.retry_after_ns, 10 * S, "one token is back at 1:00:15");
        assert!(!bucket.check(&mut tat, t0 + 14 * S, 1).allowed);
        let t1 = t0 + 60 * S; // 1:01:00: refilled to 4
        assert_eq!(bucket.peek(&tat, t1, 1).remaining, 3);
        for _ in 0..4 {
            assert!(bucket.check(&mut tat, t1, 1).allowed);
        }
        assert!(!bucket.check(&mut tat, t1, 1).allowed);
    }

    #[test]
    fn peek_does_not_consume() {
        let bucket = TokenBucket::new(1, 1, S).unwrap();
        let mut tat = 0;
        assert!(bucket.peek(&tat, 0, 1).allowed);
        assert!(bucket.peek(&tat, 0, 1).allowed);
        assert!(bucket.check(&mut tat, 0, 1).allowed);
        assert!(!bucket.peek(&tat, 0, 1).allowed);
    }

    #[test]
    fn more_hits_than_capacity_are_never_allowed() {
        let bucket = TokenBucket::new(3, 1, S).unwrap();
        let mut tat = 0;
        let d = bucket.check(&mut tat, 0, 4);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ns, Nanos::MAX);
        assert_eq!(tat, 0, "a denied check leaves the state alone");
    }

    #[test]
    fn absurd_parameters_are_refused() {
        assert_eq!(TokenBucket::new(0, 1, S), Err(ParamError::Zero { name: "capacity" }));
        assert_eq!(TokenBucket::new(1, 0, S), Err(ParamError::Zero { name: "refill_amount" }));
        assert!(matches!(
            TokenBucket::new(u64::MAX, 1, S),
            Err(ParamError::TooLarge { name: "capacity", .. })
        ));
        assert!(matches!(TokenBucket::new(1, 1, 0), Err(ParamError::EmptyPeriod { .. })));
        assert!(matches!(
            TokenBucket::new(LIMIT_MAX, 1, 365 * 24 * 3600 * S),
            Err(ParamError::Overflow { .. })
        ));
    }
}
