//! Availability numbers (book table 2-3): how much downtime a day, a week, a month and a
//! year an availability allows.
//!
//! Downtime is `(1 − availability) × period`. The periods are the ones the book's table
//! (after Wikipedia's "high availability") uses: a year of 365.25 days and a month of a
//! twelfth of that, which is why 99.99 % allows 52.6 minutes a year rather than 52.56.

use crate::EstimateError;
use crate::units;

/// Seconds in a day.
pub const SECONDS_PER_DAY: f64 = 86_400.0;
/// Seconds in a week.
pub const SECONDS_PER_WEEK: f64 = 7.0 * SECONDS_PER_DAY;
/// Seconds in an average year (365.25 days, leap years included), as the book's table.
pub const SECONDS_PER_YEAR: f64 = 365.25 * SECONDS_PER_DAY;
/// Seconds in an average month: a twelfth of [`SECONDS_PER_YEAR`] (30.44 days).
pub const SECONDS_PER_MONTH: f64 = SECONDS_PER_YEAR / 12.0;

/// Most nines [`Availability::from_nines`] accepts: nine nines allow 86 µs of downtime a
/// day, already below what any clock that measures an outage can tell apart, and f64 keeps
/// `1 − 10⁻⁹` exact to 7 digits.
pub const MAX_NINES: u32 = 9;

/// The rows of the book's table: 99 %, 99.9 %, 99.99 %, 99.999 % and 99.9999 %.
pub const TABLE_NINES: [u32; 5] = [2, 3, 4, 5, 6];

/// An availability: a fraction strictly between 0 and 1. Only valid values can be held.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Availability {
    fraction: f64,
}

impl Availability {
    /// `fraction` (0.9999 for 99.99 %), refused unless 0 < fraction < 1: 1 would mean no
    /// downtime ever (no system has it), 0 no uptime, NaN nothing.
    pub fn new(fraction: f64) -> Result<Self, EstimateError> {
        if fraction > 0.0 && fraction < 1.0 {
            Ok(Self { fraction })
        } else {
            Err(EstimateError::InvalidAvailability { fraction })
        }
    }

    /// `nines` nines: 2 → 99 %, 4 → 99.99 %. Refused unless 1..=[`MAX_NINES`].
    pub fn from_nines(nines: u32) -> Result<Self, EstimateError> {
        if !(1..=MAX_NINES).contains(&nines) {
            return Err(EstimateError::InvalidNines { nines, max: MAX_NINES });
        }
        let exponent = i32::try_from(nines).unwrap_or(i32::MAX);
        Self::new(1.0 - 10f64.powi(-exponent))
    }

    /// The fraction, in (0, 1).
    pub fn fraction(self) -> f64 {
        self.fraction
    }

    /// As a percentage with as many decimals as it needs: `99.99 %`, `99.95 %`, `50 %`.
    pub fn percent(self) -> String {
        // Twelve decimals hold nine nines and more; trailing zeros (and float noise past
        // the 12th decimal) are dropped.
        let text = format!("{:.12}", self.fraction * 100.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text} %")
    }

    /// The downtime it allows per day, week, month and year.
    pub fn downtime(self) -> Downtime {
        let unavailable = 1.0 - self.fraction;
        Downtime {
            per_day_seconds: unavailable * SECONDS_PER_DAY,
            per_week_seconds: unavailable * SECONDS_PER_WEEK,
            per_month_seconds: unavailable * SECONDS_PER_MONTH,
            per_year_seconds: unavailable * SECONDS_PER_YEAR,
        }
    }
}

/// Allowed downtime, in seconds (units last in the names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Downtime {
    /// Per day.
    pub per_day_seconds: f64,
    /// Per week.
    pub per_week_seconds: f64,
    /// Per month ([`SECONDS_PER_MONTH`]).
    pub per_month_seconds: f64,
    /// Per year ([`SECONDS_PER_YEAR`]).
    pub per_year_seconds: f64,
}

impl Downtime {
    /// The four durations for humans (`8.64 s`, `1.01 min`, `4.38 min`, `52.6 min`), in
    /// the order day, week, month, year.
    pub fn human(&self) -> [String; 4] {
        [
            units::seconds(self.per_day_seconds),
            units::seconds(self.per_week_seconds),
            units::seconds(self.per_month_seconds),
            units::seconds(self.per_year_seconds),
        ]
    }
}

/// The book's table: [`TABLE_NINES`] with their downtime.
pub fn table() -> Vec<(Availability, Downtime)> {
    TABLE_NINES
        .iter()
        .filter_map(|&nines| Availability::from_nines(nines).ok())
        .map(|availability| (availability, availability.downtime()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected.abs() * 1e-9
    }

    #[test]
    fn four_nines_allow_eight_point_six_four_seconds_a_day_and_about_fifty_three_minutes_a_year() {
        let downtime = Availability::from_nines(4).unwrap().downtime();
        assert!(close(downtime.per_day_seconds, 8.64), "{downtime:?}");
        assert!(close(downtime.per_year_seconds, 3_155.76), "{downtime:?}");
        assert_eq!(downtime.human(), ["8.64 s", "1.01 min", "4.38 min", "52.6 min"]);
    }

    #[test]
    fn the_table_matches_the_books_rows() {
        let rows = table();
        assert_eq!(rows.len(), 5);
        let percents: Vec<String> = rows.iter().map(|(a, _)| a.percent()).collect();
        assert_eq!(percents, ["99 %", "99.9 %", "99.99 %", "99.999 %", "99.9999 %"]);
        assert_eq!(rows[0].1.human(), ["14.4 min", "1.68 h", "7.31 h", "3.65 days"]);
        assert_eq!(rows[4].1.human()[0], "86.4 ms");
    }

    #[test]
    fn any_fraction_strictly_between_zero_and_one_is_accepted() {
        let availability = Availability::new(0.9995).unwrap();
        assert_eq!(availability.percent(), "99.95 %");
        assert!(close(availability.downtime().per_day_seconds, 43.2));
    }

    #[test]
    fn zero_one_out_of_range_and_nan_are_refused_with_a_typed_error() {
        for fraction in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let error = Availability::new(fraction).unwrap_err();
            assert!(matches!(error, EstimateError::InvalidAvailability { .. }), "{fraction}");
            assert_eq!(error.code(), "invalid_fraction");
        }
    }

    #[test]
    fn nines_outside_one_to_the_maximum_are_refused() {
        assert_eq!(
            Availability::from_nines(0),
            Err(EstimateError::InvalidNines { nines: 0, max: MAX_NINES })
        );
        assert!(Availability::from_nines(MAX_NINES + 1).is_err());
        assert!(Availability::from_nines(MAX_NINES).is_ok());
    }
}
