//! Traffic simulation: one algorithm, one traffic pattern, accepted vs rejected over
//! time. Pure (no clock, no I/O); the console page and `blueprint ratelimit simulate`
//! both render its [`Timeline`].

use serde::{Deserialize, Serialize};

use crate::core::{Algorithm, AlgorithmKind, LimitSpec, NANOS_PER_SECOND, Nanos, ParamError};

/// Most requests one simulation may generate (bounds CPU and response size).
pub const MAX_REQUESTS: u64 = 200_000;
/// Most buckets in a timeline.
pub const MAX_BUCKETS: u64 = 2_000;
/// Longest simulated span: one day.
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// The traffic shapes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Evenly spaced requests at `rate_per_second`.
    Steady,
    /// Quiet, then `2 × limit` requests at once in the middle of every period.
    Burst,
    /// Figure 4-9: `limit` requests in the last tenth of a window and `limit` in the
    /// first tenth of the next, every other window: the fixed window's 2× flaw.
    Boundary,
}

/// What to simulate (the body of `POST /api/v1/ratelimit/simulate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SimulationRequest {
    /// The algorithm: `token_bucket`, `leaking_bucket`, `fixed_window`,
    /// `sliding_window_log` or `sliding_window_counter`.
    #[schema(value_type = String, example = "fixed_window")]
    pub algorithm: AlgorithmKind,
    /// Requests per period (window limit, or refill/drain rate).
    pub limit: u64,
    /// The period in milliseconds.
    pub period_ms: u64,
    /// Soft-limit burst for the bucket algorithms.
    #[serde(default)]
    pub burst: u64,
    /// The traffic.
    pub pattern: Pattern,
    /// Simulated span in milliseconds.
    pub duration_ms: u64,
    /// Request rate for `steady` (default: twice the limit's rate).
    #[serde(default)]
    pub rate_per_second: Option<f64>,
    /// Width of one timeline bucket in milliseconds (default: `duration_ms / 100`).
    #[serde(default)]
    pub bucket_ms: Option<u64>,
}

/// One bucket of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TimelinePoint {
    /// Bucket start, milliseconds since the simulation began.
    pub t_ms: u64,
    /// Requests forwarded in this bucket (for the leaking bucket: when they leave the
    /// queue, which is what shaping looks like).
    pub accepted: u64,
    /// Requests rejected in this bucket.
    pub rejected: u64,
}

/// The result.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    /// The request, echoed.
    pub request: SimulationRequest,
    /// Bucket width in milliseconds.
    pub bucket_ms: u64,
    /// The buckets.
    pub points: Vec<TimelinePoint>,
    /// Requests sent.
    pub total_requests: u64,
    /// Requests accepted.
    pub total_accepted: u64,
    /// The most acceptances in any sliding window of one period (at arrival): above
    /// `limit` shows the fixed window's boundary flaw or a bucket's burst.
    pub max_accepted_in_any_period: u64,
}

/// A simulation refused before running.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimulationError {
    /// The algorithm refused its parameters.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// A field out of range.
    #[error("{field} = {value} is out of range: {reason}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// The accepted range.
        reason: String,
    },
}

fn out_of_range(
    field: &'static str,
    value: impl ToString,
    reason: impl Into<String>,
) -> SimulationError {
    SimulationError::OutOfRange { field, value: value.to_string(), reason: reason.into() }
}

/// Arrival times (ns) of the pattern.
fn arrivals(req: &SimulationRequest, rate: f64) -> Result<Vec<Nanos>, SimulationError> {
    let duration = req.duration_ms * 1_000_000;
    let period = req.period_ms * 1_000_000;
    let mut out = Vec::new();
    let mut push = |t: Nanos| -> Result<(), SimulationError> {
        if out.len() as u64 >= MAX_REQUESTS {
            return Err(out_of_range(
                "duration_ms",
                req.duration_ms,
                format!("the pattern would send more than {MAX_REQUESTS} requests"),
            ));
        }
        out.push(t);
        Ok(())
    };
    match req.pattern {
        Pattern::Steady => {
            let gap = (NANOS_PER_SECOND as f64 / rate).max(1.0);
            let mut t = 0.0;
            while (t as Nanos) < duration {
                push(t as Nanos)?;
                t += gap;
            }
        }
        Pattern::Burst => {
            let mut start = period / 2;
            while start < duration {
                for _ in 0..2 * req.limit {
                    push(start)?;
                }
                start += period;
            }
        }
        Pattern::Boundary => {
            let tenth = (period / 10).max(1);
            let mut window = 1;
            while window * period < duration {
                let edge = window * period;
                for i in 0..req.limit {
                    push(edge - tenth + i * tenth / req.limit)?;
                }
                for i in 0..req.limit {
                    push(edge + i * tenth / req.limit)?;
                }
                window += 2;
            }
        }
    }
    Ok(out)
}

/// Runs a simulation.
///
/// # Errors
/// [`SimulationError`] for refused parameters or a simulation that would be too large.
pub fn simulate(req: &SimulationRequest) -> Result<Timeline, SimulationError> {
    if req.duration_ms == 0 || req.duration_ms > MAX_DURATION_MS {
        return Err(out_of_range("duration_ms", req.duration_ms, format!("1..={MAX_DURATION_MS}")));
    }
    let spec = LimitSpec {
        algorithm: req.algorithm,
        limit: req.limit,
        period_ns: req.period_ms.saturating_mul(1_000_000),
        burst: req.burst,
    };
    let limiter = spec.build()?;
    let bucket_ms = req.bucket_ms.unwrap_or((req.duration_ms / 100).max(1));
    if bucket_ms == 0 || req.duration_ms.div_ceil(bucket_ms) > MAX_BUCKETS {
        return Err(out_of_range(
            "bucket_ms",
            bucket_ms,
            format!("at least duration_ms / {MAX_BUCKETS}"),
        ));
    }
    let default_rate = 2.0 * req.limit as f64 * 1000.0 / req.period_ms as f64;
    let rate = req.rate_per_second.unwrap_or(default_rate);
    if !(rate.is_finite() && rate > 0.0) {
        return Err(out_of_range("rate_per_second", rate, "a positive number"));
    }
    let times = arrivals(req, rate)?;
    let buckets = req.duration_ms.div_ceil(bucket_ms);
    let mut points: Vec<TimelinePoint> = (0..buckets)
        .map(|b| TimelinePoint { t_ms: b * bucket_ms, accepted: 0, rejected: 0 })
        .collect();
    // Departures after the simulated span (a queue still draining) are off the chart.
    let bucket_of = |t: Nanos| (t / 1_000_000 / bucket_ms) as usize;
    let mut state = Default::default();
    let mut accepted_at = Vec::new();
    for &t in &times {
        let d = limiter.check(&mut state, t, 1);
        if d.allowed {
            accepted_at.push(t);
            let i = bucket_of(t + d.wait_ns);
            if let Some(p) = points.get_mut(i) {
                p.accepted += 1;
            }
        } else if let Some(p) = points.get_mut(bucket_of(t)) {
            p.rejected += 1;
        }
    }
    Ok(Timeline {
        request: req.clone(),
        bucket_ms,
        total_requests: times.len() as u64,
        total_accepted: accepted_at.len() as u64,
        max_accepted_in_any_period: max_in_window(&accepted_at, spec.period_ns),
        points,
    })
}

fn max_in_window(sorted: &[Nanos], window: Nanos) -> u64 {
    let (mut start, mut best) = (0, 0);
    for (end, &t) in sorted.iter().enumerate() {
        while sorted[start] + window <= t {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best as u64
}

/// The timeline as text: one line per bucket with bars.
pub fn render_text(t: &Timeline) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let r = &t.request;
    let _ = writeln!(
        out,
        "{} limit {} per {} ms (burst {}), pattern {:?}, {} ms",
        r.algorithm.name(),
        r.limit,
        r.period_ms,
        r.burst,
        r.pattern,
        r.duration_ms
    );
    let peak = t.points.iter().map(|p| p.accepted.max(p.rejected)).max().unwrap_or(0).max(1);
    let bar = |n: u64, c: char| c.to_string().repeat(((n * 30).div_ceil(peak)) as usize);
    for p in &t.points {
        if p.accepted == 0 && p.rejected == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "{:>9.3}s  accepted {:>6} {:<30}  rejected {:>6} {}",
            p.t_ms as f64 / 1000.0,
            p.accepted,
            bar(p.accepted, '#'),
            p.rejected,
            bar(p.rejected, 'x')
        );
    }
    let _ = writeln!(
        out,
        "total: {} requests, {} accepted, {} rejected; most accepted in any {} ms: {} (limit {})",
        t.total_requests,
        t.total_accepted,
        t.total_requests - t.total_accepted,
        r.period_ms,
        t.max_accepted_in_any_period,
        r.limit
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(algorithm: AlgorithmKind, pattern: Pattern) -> SimulationRequest {
        SimulationRequest {
            algorithm,
            limit: 10,
            period_ms: 1000,
            burst: 0,
            pattern,
            duration_ms: 10_000,
            rate_per_second: None,
            bucket_ms: Some(100),
        }
    }

    #[test]
    fn the_boundary_pattern_shows_the_fixed_windows_flaw_and_the_logs_exactness() {
        let fixed = simulate(&req(AlgorithmKind::FixedWindow, Pattern::Boundary)).unwrap();
        assert_eq!(fixed.max_accepted_in_any_period, 20, "2 × the limit across a boundary");
        let log = simulate(&req(AlgorithmKind::SlidingWindowLog, Pattern::Boundary)).unwrap();
        assert_eq!(log.max_accepted_in_any_period, 10);
    }

    #[test]
    fn the_leaking_bucket_smooths_a_burst() {
        let t = simulate(&req(AlgorithmKind::LeakingBucket, Pattern::Burst)).unwrap();
        assert!(t.points.iter().all(|p| p.accepted <= 1), "one per 100 ms leaves the queue");
        let tb = simulate(&req(AlgorithmKind::TokenBucket, Pattern::Burst)).unwrap();
        assert!(
            tb.points.iter().any(|p| p.accepted >= 10),
            "the token bucket passes the burst at once"
        );
    }

    #[test]
    fn steady_traffic_at_twice_the_rate_gets_about_half_through() {
        let t = simulate(&req(AlgorithmKind::SlidingWindowCounter, Pattern::Steady)).unwrap();
        assert_eq!(t.total_requests, 200);
        assert!((95..=115).contains(&t.total_accepted), "{}", t.total_accepted);
        assert!(render_text(&t).contains("accepted"));
    }

    #[test]
    fn oversized_simulations_are_refused() {
        let mut r = req(AlgorithmKind::FixedWindow, Pattern::Steady);
        r.rate_per_second = Some(1e9);
        assert!(matches!(
            simulate(&r),
            Err(SimulationError::OutOfRange { field: "duration_ms", .. })
        ));
        r.limit = 0;
        assert!(matches!(simulate(&r), Err(SimulationError::Params(_))));
    }
}
