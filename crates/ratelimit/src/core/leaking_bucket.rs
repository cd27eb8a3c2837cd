//! Leaking bucket (book figure 4-7): a bounded FIFO drained at a fixed rate.
//!
//! Requests join a queue of `queue_size`; the queue releases one request every
//! `interval` (= `drain_period / drain_amount`). A request that finds the queue full is
//! rejected; any other request is admitted *and told how long to wait* for its turn
//! ([`Decision::wait_ns`]); the caller (the tower layer, the Redis client) holds it that
//! long before forwarding. That is shaping: the output is smooth whatever the input,
//! which is what distinguishes it from the token bucket, which forwards a burst at once.
//!
//! Because departures are evenly spaced, the whole FIFO is described exactly by one
//! number, the time the next free departure slot opens (`next_free`): a request arriving
//! at `now` departs at `max(next_free, now)`, and the number of requests still queued at
//! `now` is `ceil((next_free − now) / interval)`. No per-request memory is needed, yet the
//! behaviour is that of the queue: FIFO order, fixed output rate, rejection when full.

use super::error::{check_count, check_period, tolerance_ns};
use super::{Algorithm, Decision, LIMIT_MAX, Nanos, ParamError, interval_ns, whole_intervals};

/// A leaking bucket: a FIFO of `queue_size` drained at `drain_amount / drain_period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakingBucket {
    queue_size: u64,
    interval_ns: Nanos,
    capacity_ns: Nanos,
}

impl LeakingBucket {
    /// A queue of `queue_size` requests, `drain_amount` of which leave every `drain_period_ns`.
    ///
    /// # Errors
    /// [`ParamError`] for zero or absurd values.
    pub fn new(
        queue_size: u64,
        drain_amount: u64,
        drain_period_ns: Nanos,
    ) -> Result<Self, ParamError> {
        let queue_size = check_count("queue_size", queue_size, LIMIT_MAX)?;
        let drain_amount = check_count("drain_amount", drain_amount, LIMIT_MAX)?;
        let period = check_period("drain_period", drain_period_ns)?;
        let interval_ns = interval_ns(period, drain_amount);
        let capacity_ns = tolerance_ns(queue_size, interval_ns)?;
        Ok(Self { queue_size, interval_ns, capacity_ns })
    }

    /// The nanoseconds between two departures.
    pub fn interval_ns(&self) -> Nanos {
        self.interval_ns
    }

    /// Requests still queued at `now` given the next free departure slot.
    pub fn queued(&self, next_free: Nanos, now: Nanos) -> u64 {
        next_free.saturating_sub(now).div_ceil(self.interval_ns)
    }

    /// The pure step: the decision and the new `next_free` if admitted.
    #[inline]
    pub fn decide(&self, next_free: Nanos, now: Nanos, hits: u64) -> (Decision, Option<Nanos>) {
        let departs_at = next_free.max(now);
        let cost = hits.saturating_mul(self.interval_ns);
        let new_free = departs_at.saturating_add(cost);
        let backlog = new_free - now;
        if backlog <= self.capacity_ns {
            let decision = Decision {
                allowed: true,
                limit: self.queue_size,
                remaining: whole_intervals(self.capacity_ns - backlog, self.interval_ns),
                reset_after_ns: backlog,
                retry_after_ns: 0,
                wait_ns: departs_at - now,
            };
            (decision, Some(new_free))
        } else {
            let current = departs_at - now;
            let retry_after_ns =
                if cost > self.capacity_ns { Nanos::MAX } else { backlog - self.capacity_ns };
            let decision = Decision {
                allowed: false,
                limit: self.queue_size,
                remaining: whole_intervals(self.capacity_ns - current, self.interval_ns),
                reset_after_ns: current,
                retry_after_ns,
                wait_ns: 0,
            };
            (decision, None)
        }
    }
}

impl Algorithm for LeakingBucket {
    type State = u64;

    #[inline]
    fn check(&self, state: &mut u64, now: Nanos, hits: u64) -> Decision {
        let (decision, next) = self.decide(*state, now, hits);
        if let Some(next_free) = next {
            *state = next_free;
        }
        decision
    }

    fn peek(&self, state: &u64, now: Nanos, hits: u64) -> Decision {
        self.decide(*state, now, hits).0
    }

    #[inline]
    fn admit(&self, state: &mut u64, now: Nanos, hits: u64) -> bool {
        let new = (*state).max(now).saturating_add(hits.saturating_mul(self.interval_ns));
        let admitted = new - now <= self.capacity_ns;
        if admitted {
            *state = new;
        }
        admitted
    }

    fn limit(&self) -> u64 {
        self.queue_size
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::NANOS_PER_SECOND as S;

    #[test]
    fn a_burst_is_queued_and_released_one_interval_apart() {
        // Queue of 3, one request per second leaves.
        let bucket = LeakingBucket::new(3, 1, S).unwrap();
        let mut next_free = 0;
        let waits: Vec<_> = (0..3)
            .map(|_| bucket.check(&mut next_free, 10 * S, 1))
            .inspect(|d| assert!(d.allowed))
            .map(|d| d.wait_ns)
            .collect();
        assert_eq!(waits, vec![0, S, 2 * S], "FIFO: each waits for the one ahead");
        assert_eq!(bucket.queued(next_free, 10 * S), 3);
        let full = bucket.check(&mut next_free, 10 * S, 1);
        assert!(!full.allowed, "the fourth finds the queue full");
        assert_eq!(full.retry_after_ns, S);
        // One second later one request has left: one place is free, behind two others.
        let later = bucket.check(&mut next_free, 11 * S, 1);
        assert!(later.allowed);
        assert_eq!(later.wait_ns, 2 * S);
    }

    #[test]
    fn unlike_the_token_bucket_output_never_exceeds_the_drain_rate() {
        let bucket = LeakingBucket::new(10, 1, S).unwrap();
        let mut next_free = 0;
        let mut departures = Vec::new();
        for _ in 0..10 {
            let d = bucket.check(&mut next_free, 0, 1);
            departures.push(d.wait_ns);
        }
        for pair in departures.windows(2) {
            assert_eq!(pair[1] - pair[0], S);
        }
    }

    #[test]
    fn zero_queue_is_refused() {
        assert_eq!(LeakingBucket::new(0, 1, S), Err(ParamError::Zero { name: "queue_size" }));
    }
}
