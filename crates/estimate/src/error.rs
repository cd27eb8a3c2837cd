//! The error enum of the calculators: every refusal names the offending value and the
//! range it had to be in. (The latency harness has its own, [`crate::latency::MeasureError`]:
//! its failures are the machine's I/O, not the caller's input.)

use crate::capacity::Field;

/// Why an availability or a capacity assumption was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EstimateError {
    /// An availability was not a fraction strictly between 0 and 1 (or was NaN).
    #[error("availability must be a fraction strictly between 0 and 1, got {fraction}")]
    InvalidAvailability {
        /// The refused fraction.
        fraction: f64,
    },
    /// A count of nines was 0 or above [`crate::availability::MAX_NINES`].
    #[error("nines must be 1..={max}, got {nines}")]
    InvalidNines {
        /// The refused count.
        nines: u32,
        /// The largest accepted count.
        max: u32,
    },
    /// A capacity assumption was outside its [`Field::limits`] (or was NaN).
    #[error("{field} must be in {limits}, got {value}", field = field.name(), limits = field.limits())]
    InvalidAssumption {
        /// Which assumption.
        field: Field,
        /// The refused value.
        value: f64,
    },
}

impl EstimateError {
    /// A stable machine-readable code naming what was wrong (`invalid_fraction`,
    /// `invalid_mau`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidAvailability { .. } => "invalid_fraction",
            Self::InvalidNines { .. } => "invalid_nines",
            Self::InvalidAssumption { field, .. } => field.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_its_range_and_the_value() {
        let error =
            EstimateError::InvalidAssumption { field: Field::DailyActiveFraction, value: 1.5 };
        assert_eq!(error.to_string(), "daily_active_fraction must be in (0, 1], got 1.5");
        assert_eq!(error.code(), "invalid_daily_active_fraction");
    }
}
