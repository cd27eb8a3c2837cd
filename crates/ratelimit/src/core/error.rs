//! The one error of the core: parameters refused at construction.

use super::Nanos;

/// Why an algorithm refused its parameters. Raised when rules load, never per request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A count that must be positive was zero (a rate of 0 admits nothing: use a deny rule).
    #[error("{name} must be at least 1, got 0")]
    Zero {
        /// The parameter, e.g. `"capacity"`.
        name: &'static str,
    },
    /// A count above the supported maximum.
    #[error("{name} = {value} exceeds the maximum {max}")]
    TooLarge {
        /// The parameter, e.g. `"capacity"`.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// A period or window of zero length.
    #[error("{name} must be longer than 0 ns")]
    EmptyPeriod {
        /// The parameter, e.g. `"window"`.
        name: &'static str,
    },
    /// A period or window longer than [`super::PERIOD_MAX`].
    #[error("{name} = {value_ns} ns exceeds the maximum {max_ns} ns (one year)")]
    PeriodTooLong {
        /// The parameter, e.g. `"window"`.
        name: &'static str,
        /// The value given, in nanoseconds.
        value_ns: Nanos,
        /// The largest accepted value, in nanoseconds.
        max_ns: Nanos,
    },
    /// Size × interval would overflow the nanosecond clock: the burst would last centuries.
    #[error("{size} requests × {interval_ns} ns per request overflows the clock")]
    Overflow {
        /// The bucket or queue size.
        size: u64,
        /// The nanoseconds between two admissions.
        interval_ns: Nanos,
    },
    /// `burst` (a soft limit) is only meaningful for the bucket algorithms.
    #[error("burst is supported by token_bucket and leaking_bucket only, not {algorithm}")]
    BurstUnsupported {
        /// The algorithm's name.
        algorithm: &'static str,
    },
}

/// Checks `1 ..= max` for a count parameter.
pub(crate) fn check_count(name: &'static str, value: u64, max: u64) -> Result<u64, ParamError> {
    if value == 0 {
        return Err(ParamError::Zero { name });
    }
    if value > max {
        return Err(ParamError::TooLarge { name, value, max });
    }
    Ok(value)
}

/// Checks `1 ns ..= PERIOD_MAX` for a period parameter.
pub(crate) fn check_period(name: &'static str, value_ns: Nanos) -> Result<Nanos, ParamError> {
    if value_ns == 0 {
        return Err(ParamError::EmptyPeriod { name });
    }
    if value_ns > super::PERIOD_MAX {
        return Err(ParamError::PeriodTooLong { name, value_ns, max_ns: super::PERIOD_MAX });
    }
    Ok(value_ns)
}

/// `size × interval`, refusing products above 2^62 so that `now + tolerance` cannot wrap.
pub(crate) fn tolerance_ns(size: u64, interval_ns: Nanos) -> Result<Nanos, ParamError> {
    size.checked_mul(interval_ns)
        .filter(|t| *t <= 1 << 62)
        .ok_or(ParamError::Overflow { size, interval_ns })
}
