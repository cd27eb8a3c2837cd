//! Property tests: no algorithm admits more than it promises over any window.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;

/// Sorted arrival times (nanoseconds, within ~20 windows of 1 s) with hit counts.
fn arrivals() -> impl Strategy<Value = Vec<(Nanos, u64)>> {
    prop::collection::vec((0u64..20 * NANOS_PER_SECOND, 1u64..4), 1..400).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// Admitted (time, hits) after replaying `trace` through `alg`.
fn replay<A: Algorithm>(alg: &A, trace: &[(Nanos, u64)]) -> Vec<(Nanos, u64)> {
    let mut state = A::State::default();
    trace.iter().filter(|(t, h)| alg.check(&mut state, *t, *h).allowed).copied().collect()
}

/// The most hits admitted in any half-open window `(t − window, t]`.
fn max_in_any_window(admitted: &[(Nanos, u64)], window_ns: Nanos) -> u64 {
    let mut inside: VecDeque<(Nanos, u64)> = VecDeque::new();
    let (mut sum, mut best) = (0, 0);
    for &(t, h) in admitted {
        while let Some(&(old, oh)) = inside.front() {
            if old + window_ns <= t {
                inside.pop_front();
                sum -= oh;
            } else {
                break;
            }
        }
        inside.push_back((t, h));
        sum += h;
        best = best.max(sum);
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_sliding_log_never_admits_more_than_n_in_any_window(
        limit in 1u64..20, window_ms in 1u64..3000, trace in arrivals()
    ) {
        let window_ns = window_ms * 1_000_000;
        let log = SlidingWindowLog::new(limit, window_ns).unwrap();
        prop_assert!(max_in_any_window(&replay(&log, &trace), window_ns) <= limit);
    }

    /// GCRA bound: over any interval of length d, at most capacity + d / interval.
    #[test]
    fn the_token_bucket_never_exceeds_capacity_plus_refill(
        capacity in 1u64..20, per_second in 1u64..50, trace in arrivals()
    ) {
        let bucket = TokenBucket::new(capacity, per_second, NANOS_PER_SECOND).unwrap();
        let admitted = replay(&bucket, &trace);
        let interval = bucket.interval_ns();
        for (i, &(start, _)) in admitted.iter().enumerate() {
            let mut sum = 0;
            for &(t, h) in &admitted[i..] {
                sum += h;
                prop_assert!(sum <= capacity + (t - start) / interval,
                    "{sum} admitted in [{start}, {t}]");
            }
        }
    }

    /// The leaking bucket's output: departures are at least one interval apart and the
    /// queue never holds more than its size.
    #[test]
    fn the_leaking_bucket_drains_at_its_rate_and_never_overfills(
        size in 1u64..20, per_second in 1u64..50, trace in arrivals()
    ) {
        let bucket = LeakingBucket::new(size, per_second, NANOS_PER_SECOND).unwrap();
        let interval = bucket.interval_ns();
        let mut next_free = 0;
        let mut departures = Vec::new();
        for &(t, h) in &trace {
            let d = bucket.check(&mut next_free, t, h);
            if d.allowed {
                prop_assert!(bucket.queued(next_free, t) <= size);
                for k in 0..h {
                    departures.push(t + d.wait_ns + k * interval);
                }
            }
        }
        for pair in departures.windows(2) {
            prop_assert!(pair[1] >= pair[0] + interval, "FIFO at a fixed rate");
        }
    }

    #[test]
    fn the_fixed_window_never_exceeds_the_limit_within_an_aligned_window(
        limit in 1u64..20, window_ms in 1u64..3000, trace in arrivals()
    ) {
        let window_ns = window_ms * 1_000_000;
        let fw = FixedWindow::new(limit, window_ns).unwrap();
        let admitted = replay(&fw, &trace);
        let mut per_window = std::collections::HashMap::new();
        for (t, h) in admitted {
            *per_window.entry(t / window_ns).or_insert(0) += h;
        }
        prop_assert!(per_window.values().all(|&n| n <= limit));
        // ... and at most twice that over any sliding window (figure 4-9).
    }

    /// The counter's promise is weaker: at most `limit` in each aligned window, and at
    /// most 2 × `limit` in any sliding one.
    #[test]
    fn the_sliding_counter_stays_within_its_bounds(
        limit in 1u64..20, window_ms in 1u64..3000, trace in arrivals()
    ) {
        let window_ns = window_ms * 1_000_000;
        let c = SlidingWindowCounter::new(limit, window_ns).unwrap();
        let admitted = replay(&c, &trace);
        prop_assert!(max_in_any_window(&admitted, window_ns) <= 2 * limit);
        let mut per_window = std::collections::HashMap::new();
        for &(t, h) in &admitted {
            *per_window.entry(t / window_ns).or_insert(0) += h;
        }
        prop_assert!(per_window.values().all(|&n| n <= limit));
    }

    #[test]
    fn peek_agrees_with_check_and_changes_nothing(
        kind in 0usize..5, limit in 1u64..10, trace in arrivals()
    ) {
        let spec = LimitSpec::new(AlgorithmKind::ALL[kind], limit, NANOS_PER_SECOND);
        let alg = spec.build().unwrap();
        let mut state = AnyState::default();
        for &(t, h) in &trace {
            let before = state.clone();
            let peeked = alg.peek(&state, t, h);
            prop_assert_eq!(&state, &before);
            let checked = alg.check(&mut state, t, h);
            prop_assert_eq!(peeked, checked);
        }
    }

    #[test]
    fn a_state_past_its_idle_time_behaves_like_a_fresh_one(
        kind in 0usize..5, limit in 1u64..10, trace in arrivals(), gap in 0u64..5_000_000_000
    ) {
        let alg = LimitSpec::new(AlgorithmKind::ALL[kind], limit, NANOS_PER_SECOND).build().unwrap();
        let mut state = AnyState::default();
        for &(t, h) in &trace {
            alg.check(&mut state, t, h);
        }
        let later = state.idle_at().max(trace.last().map_or(0, |x| x.0)) + gap;
        let mut fresh = AnyState::default();
        prop_assert_eq!(alg.check(&mut state, later, 1), alg.check(&mut fresh, later, 1));
    }
}
