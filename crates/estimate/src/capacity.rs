//! QPS and storage from a handful of assumptions (book 2.4, "estimate Twitter QPS and
//! storage requirements"): a pure calculator.
//!
//! [`CapacitySpec`] is the raw input, as a form, the CLI or JSON gives it; [`Capacity`]
//! holds one only after every field has been checked against its [`Field::limits`] (parse,
//! don't validate), so [`Capacity::estimate`] cannot fail and every number it returns is
//! finite. The arithmetic is the book's:
//!
//! - DAU = MAU × daily-active fraction
//! - average write QPS = DAU × writes per user per day / 86 400 s; peak = average × peak factor
//! - media per day = DAU × writes × media fraction × media size; records per day = DAU ×
//!   writes × record size
//! - over the retention: per day × 365 × years (the book's 30 TB × 365 × 5 ≈ 55 PB)

use serde::{Deserialize, Serialize};

use crate::EstimateError;
use crate::availability::SECONDS_PER_DAY;
use crate::units;

/// Most monthly active users: ten billion, more people than are alive.
pub const MAX_MONTHLY_ACTIVE_USERS: u64 = 10_000_000_000;
/// Most writes a user makes a day: a million, one every 86 ms, past any human and most bots.
pub const MAX_WRITES_PER_USER_PER_DAY: f64 = 1_000_000.0;
/// Largest peak-to-average factor: a thousand (a flash sale's spike is ~10–100×).
pub const MAX_PEAK_FACTOR: f64 = 1_000.0;
/// Largest media item: 1 TB (a raw 8K film); larger is not one write.
pub const MAX_MEDIA_BYTES: u64 = 1_000_000_000_000;
/// Largest record (the non-media part of a write): 1 GB.
pub const MAX_RECORD_BYTES: u64 = 1_000_000_000;
/// Longest retention: a century.
pub const MAX_RETENTION_YEARS: u32 = 100;
/// Days in a year of retention: 365, as the book's arithmetic (30 TB × 365 × 5).
pub const DAYS_PER_YEAR: f64 = 365.0;

/// The book's Twitter assumptions: 300 M MAU, 50 % daily, 2 tweets a user a day, peak twice
/// the average, 10 % of tweets with 1 MB of media, 64 B id + 140 B text, kept 5 years.
pub const TWITTER_EXAMPLE: CapacitySpec = CapacitySpec {
    mau: 300_000_000,
    daily_active_fraction: 0.5,
    writes_per_user_per_day: 2.0,
    peak_factor: 2.0,
    media_fraction: 0.1,
    media_bytes: 1_000_000,
    record_bytes: 64 + 140,
    retention_years: 5,
};

/// The assumptions, unchecked. Check them with [`Capacity::new`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// Monthly active users, 1..=10 000 000 000.
    #[schema(minimum = 1, maximum = 10000000000_u64)]
    pub mau: u64,
    /// Fraction of them active on a given day, in (0, 1].
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub daily_active_fraction: f64,
    /// Writes (tweets, posts, messages) a daily user makes a day, in (0, 1 000 000].
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    pub writes_per_user_per_day: f64,
    /// Peak QPS over average QPS, in [1, 1 000].
    #[schema(minimum = 1, maximum = 1000)]
    pub peak_factor: f64,
    /// Fraction of writes that carry a media item, in [0, 1].
    #[schema(minimum = 0, maximum = 1)]
    pub media_fraction: f64,
    /// Bytes of one media item, 0..=10¹².
    #[schema(minimum = 0, maximum = 1000000000000_u64)]
    pub media_bytes: u64,
    /// Bytes of the rest of a write (id, text, metadata), 0..=10⁹.
    #[schema(minimum = 0, maximum = 1000000000)]
    pub record_bytes: u64,
    /// Years the data is kept, 1..=100.
    #[schema(minimum = 1, maximum = 100)]
    pub retention_years: u32,
}

impl CapacitySpec {
    /// The value of one field, as a number (for checking and for error messages).
    pub fn value(&self, field: Field) -> f64 {
        match field {
            Field::Mau => self.mau as f64,
            Field::DailyActiveFraction => self.daily_active_fraction,
            Field::WritesPerUserPerDay => self.writes_per_user_per_day,
            Field::PeakFactor => self.peak_factor,
            Field::MediaFraction => self.media_fraction,
            Field::MediaBytes => self.media_bytes as f64,
            Field::RecordBytes => self.record_bytes as f64,
            Field::RetentionYears => f64::from(self.retention_years),
        }
    }
}

/// One assumption of a [`CapacitySpec`]: its name, error code and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `mau`.
    Mau,
    /// `daily_active_fraction`.
    DailyActiveFraction,
    /// `writes_per_user_per_day`.
    WritesPerUserPerDay,
    /// `peak_factor`.
    PeakFactor,
    /// `media_fraction`.
    MediaFraction,
    /// `media_bytes`.
    MediaBytes,
    /// `record_bytes`.
    RecordBytes,
    /// `retention_years`.
    RetentionYears,
}

impl Field {
    /// Every field, in declaration order (the order they are checked in).
    pub const ALL: [Field; 8] = [
        Field::Mau,
        Field::DailyActiveFraction,
        Field::WritesPerUserPerDay,
        Field::PeakFactor,
        Field::MediaFraction,
        Field::MediaBytes,
        Field::RecordBytes,
        Field::RetentionYears,
    ];

    /// The field's name in JSON and (with dashes) on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Mau => "mau",
            Field::DailyActiveFraction => "daily_active_fraction",
            Field::WritesPerUserPerDay => "writes_per_user_per_day",
            Field::PeakFactor => "peak_factor",
            Field::MediaFraction => "media_fraction",
            Field::MediaBytes => "media_bytes",
            Field::RecordBytes => "record_bytes",
            Field::RetentionYears => "retention_years",
        }
    }

    /// The stable error code for a refused value: `invalid_<name>`.
    pub const fn code(self) -> &'static str {
        match self {
            Field::Mau => "invalid_mau",
            Field::DailyActiveFraction => "invalid_daily_active_fraction",
            Field::WritesPerUserPerDay => "invalid_writes_per_user_per_day",
            Field::PeakFactor => "invalid_peak_factor",
            Field::MediaFraction => "invalid_media_fraction",
            Field::MediaBytes => "invalid_media_bytes",
            Field::RecordBytes => "invalid_record_bytes",
            Field::RetentionYears => "invalid_retention_years",
        }
    }

    /// The accepted values.
    pub const fn limits(self) -> Limits {
        match self {
            Field::Mau => Limits::closed(1.0, MAX_MONTHLY_ACTIVE_USERS as f64),
            Field::DailyActiveFraction => Limits::above(0.0, 1.0),
            Field::WritesPerUserPerDay => Limits::above(0.0, MAX_WRITES_PER_USER_PER_DAY),
            Field::PeakFactor => Limits::closed(1.0, MAX_PEAK_FACTOR),
            Field::MediaFraction => Limits::closed(0.0, 1.0),
            Field::MediaBytes => Limits::closed(0.0, MAX_MEDIA_BYTES as f64),
            Field::RecordBytes => Limits::closed(0.0, MAX_RECORD_BYTES as f64),
            Field::RetentionYears => Limits::closed(1.0, MAX_RETENTION_YEARS as f64),
        }
    }
}

/// An interval `[min, max]`, or `(min, max]` when `min_exclusive`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Lower bound.
    pub min: f64,
    /// Whether `min` itself is refused.
    pub min_exclusive: bool,
    /// Upper bound, always accepted.
    pub max: f64,
}

impl Limits {
    const fn closed(min: f64, max: f64) -> Self {
        Self { min, min_exclusive: false, max }
    }

    const fn above(min: f64, max: f64) -> Self {
        Self { min, min_exclusive: true, max }
    }

    /// Whether `value` is inside (NaN never is).
    pub fn contains(&self, value: f64) -> bool {
        let above = if self.min_exclusive { value > self.min } else { value >= self.min };
        above && value <= self.max
    }
}

impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = if self.min_exclusive { '(' } else { '[' };
        write!(f, "{open}{}, {}]", self.min, self.max)
    }
}

/// Checked assumptions: every field within its [`Field::limits`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    spec: CapacitySpec,
}

impl Capacity {
    /// Checks every field of `spec`; the first out of range (in [`Field::ALL`] order) is
    /// refused with [`EstimateError::InvalidAssumption`] naming it.
    pub fn new(spec: CapacitySpec) -> Result<Self, EstimateError> {
        for field in Field::ALL {
            let value = spec.value(field);
            if !field.limits().contains(value) {
                return Err(EstimateError::InvalidAssumption { field, value });
            }
        }
        Ok(Self { spec })
    }

    /// The book's Twitter example ([`TWITTER_EXAMPLE`]); a unit test checks it is valid.
    pub const fn twitter_example() -> Self {
        Self { spec: TWITTER_EXAMPLE }
    }

    /// The assumptions.
    pub fn spec(&self) -> &CapacitySpec {
        &self.spec
    }

    /// The estimate. Finite for every accepted input: the largest product, 10¹⁰ users ×
    /// 10⁶ writes × 10¹² B × 36 500 days ≈ 4 × 10³², is far below f64's 1.8 × 10³⁰⁸.
    pub fn estimate(&self) -> Estimate {
        let spec = &self.spec;
        let daily_active_users = spec.mau as f64 * spec.daily_active_fraction;
        let writes_per_day = daily_active_users * spec.writes_per_user_per_day;
        let average_write_qps = writes_per_day / SECONDS_PER_DAY;
        let media_bytes_per_day = writes_per_day * spec.media_fraction * spec.media_bytes as f64;
        let record_bytes_per_day = writes_per_day * spec.record_bytes as f64;
        let storage_bytes_per_day = media_bytes_per_day + record_bytes_per_day;
        let retention_days = DAYS_PER_YEAR * f64::from(spec.retention_years);
        Estimate {
            daily_active_users,
            writes_per_day,
            average_write_qps,
            peak_write_qps: average_write_qps * spec.peak_factor,
            media_bytes_per_day,
            record_bytes_per_day,
            storage_bytes_per_day,
            retention_days,
            media_bytes_retained: media_bytes_per_day * retention_days,
            storage_bytes_retained: storage_bytes_per_day * retention_days,
        }
    }

    /// The assumptions written out, one per line, as the book's tips ask.
    pub fn assumptions(&self) -> Vec<String> {
        let spec = &self.spec;
        vec![
            format!("{} monthly active users", given_count(spec.mau as f64)),
            format!("{} of them use it every day", given_percent(spec.daily_active_fraction)),
            format!("{} writes per daily user per day", given_count(spec.writes_per_user_per_day)),
            format!("peak traffic is {}× the average", given_count(spec.peak_factor)),
            format!(
                "{} of writes carry a media item of {}",
                given_percent(spec.media_fraction),
                given_bytes(spec.media_bytes as f64)
            ),
            format!("every write stores a {} record", given_bytes(spec.record_bytes as f64)),
            format!("data is kept {} years of {DAYS_PER_YEAR} days", spec.retention_years),
        ]
    }

    /// The arithmetic written out, each line with its units (`DAU = 300 M × 50 % = 150 M`).
    pub fn steps(&self) -> Vec<String> {
        let spec = &self.spec;
        let estimate = self.estimate();
        let dau = units::count(estimate.daily_active_users);
        let writes = given_count(spec.writes_per_user_per_day);
        let years = spec.retention_years;
        let media_day = units::bytes(estimate.media_bytes_per_day);
        let storage_day = units::bytes(estimate.storage_bytes_per_day);
        vec![
            format!(
                "DAU = {} × {} = {dau}",
                given_count(spec.mau as f64),
                given_percent(spec.daily_active_fraction)
            ),
            format!(
                "write QPS = {dau} × {writes} / 86 400 s = {}",
                units::count(estimate.average_write_qps)
            ),
            format!(
                "peak write QPS = {} × {} = {}",
                units::count(estimate.average_write_qps),
                given_count(spec.peak_factor),
                units::count(estimate.peak_write_qps)
            ),
            format!(
                "media per day = {dau} × {writes} × {} × {} = {media_day}",
                given_percent(spec.media_fraction),
                given_bytes(spec.media_bytes as f64)
            ),
            format!(
                "records per day = {dau} × {writes} × {} = {}",
                given_bytes(spec.record_bytes as f64),
                units::bytes(estimate.record_bytes_per_day)
            ),
            format!(
                "media over {years} years = {media_day} × {DAYS_PER_YEAR} × {years} = {}",
                units::bytes(estimate.media_bytes_retained)
            ),
            format!(
                "all storage over {years} years = {storage_day} × {DAYS_PER_YEAR} × {years} = {}",
                units::bytes(estimate.storage_bytes_retained)
            ),
        ]
    }
}

/// An assumption as given (to [`units::ASSUMPTION_DIGITS`]): what the caller typed, not
/// a rounded result.
fn given_count(value: f64) -> String {
    units::count_to(value, units::ASSUMPTION_DIGITS)
}

fn given_bytes(value: f64) -> String {
    units::bytes_to(value, units::ASSUMPTION_DIGITS)
}

fn given_percent(fraction: f64) -> String {
    format!("{} %", units::significant(fraction * 100.0, units::ASSUMPTION_DIGITS))
}

/// What the assumptions imply. Counts are f64: a DAU of 1.5 users is a fine estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Estimate {
    /// Daily active users.
    pub daily_active_users: f64,
    /// Writes a day across all users.
    pub writes_per_day: f64,
    /// Average writes a second.
    pub average_write_qps: f64,
    /// Peak writes a second.
    pub peak_write_qps: f64,
    /// New media bytes a day (the book's 30 TB).
    pub media_bytes_per_day: f64,
    /// New record bytes a day (ids and text).
    pub record_bytes_per_day: f64,
    /// Media plus records, a day.
    pub storage_bytes_per_day: f64,
    /// Days of retention ([`DAYS_PER_YEAR`] × years).
    pub retention_days: f64,
    /// Media kept over the retention (the book's 55 PB).
    pub media_bytes_retained: f64,
    /// Media plus records kept over the retention.
    pub storage_bytes_retained: f64,
}

impl Estimate {
    /// The headline numbers for humans, rounded to two significant digits.
    pub fn human(&self) -> HumanEstimate {
        HumanEstimate {
            daily_active_users: units::count(self.daily_active_users),
            average_write_qps: units::count(self.average_write_qps),
            peak_write_qps: units::count(self.peak_write_qps),
            media_per_day: units::bytes(self.media_bytes_per_day),
            storage_per_day: units::bytes(self.storage_bytes_per_day),
            media_retained: units::bytes(self.media_bytes_retained),
            storage_retained: units::bytes(self.storage_bytes_retained),
        }
    }
}

/// [`Estimate`] as the book writes it: `150 M`, `3.5 K`, `30 TB`, `55 PB`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HumanEstimate {
    /// Daily active users (`150 M`).
    pub daily_active_users: String,
    /// Average write QPS (`3.5 K`).
    pub average_write_qps: String,
    /// Peak write QPS (`6.9 K`).
    pub peak_write_qps: String,
    /// Media a day (`30 TB`).
    pub media_per_day: String,
    /// All storage a day (`30 TB`).
    pub storage_per_day: String,
    /// Media over the retention (`55 PB`).
    pub media_retained: String,
    /// All storage over the retention (`55 PB`).
    pub storage_retained: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected.abs() * 1e-9
    }

    #[test]
    fn the_twitter_example_is_valid_and_reproduces_the_book() {
        let capacity = Capacity::new(TWITTER_EXAMPLE).unwrap();
        assert_eq!(capacity, Capacity::twitter_example());
        let estimate = capacity.estimate();
        assert!(close(estimate.daily_active_users, 150e6), "{estimate:?}");
        assert!(close(estimate.average_write_qps, 3_472.222_222_222_222), "{estimate:?}");
        assert!(close(estimate.peak_write_qps, 6_944.444_444_444_444), "{estimate:?}");
        assert!(close(estimate.media_bytes_per_day, 30e12), "{estimate:?}");
        assert!(close(estimate.media_bytes_retained, 54.75e15), "{estimate:?}");
        let human = estimate.human();
        assert_eq!(human.daily_active_users, "150 M");
        assert_eq!(human.average_write_qps, "3.5 K");
        assert_eq!(human.peak_write_qps, "6.9 K");
        assert_eq!(human.media_per_day, "30 TB");
        assert_eq!(human.media_retained, "55 PB");
        assert_eq!(human.storage_retained, "55 PB", "records add 0.2 %");
    }

    #[test]
    fn records_are_counted_beside_the_books_media_only_storage() {
        let estimate = Capacity::twitter_example().estimate();
        assert!(close(estimate.record_bytes_per_day, 150e6 * 2.0 * 204.0));
        assert!(close(
            estimate.storage_bytes_per_day,
            estimate.media_bytes_per_day + estimate.record_bytes_per_day
        ));
    }

    #[test]
    fn the_assumptions_and_the_arithmetic_are_written_out_with_units() {
        let capacity = Capacity::twitter_example();
        let assumptions = capacity.assumptions();
        assert_eq!(assumptions[0], "300 M monthly active users");
        assert_eq!(assumptions[4], "10 % of writes carry a media item of 1 MB");
        assert_eq!(assumptions[5], "every write stores a 204 B record");
        let steps = capacity.steps();
        assert_eq!(steps[0], "DAU = 300 M × 50 % = 150 M");
        assert_eq!(steps[1], "write QPS = 150 M × 2 / 86 400 s = 3.5 K");
        assert_eq!(steps[3], "media per day = 150 M × 2 × 10 % × 1 MB = 30 TB");
        assert_eq!(steps[4], "records per day = 150 M × 2 × 204 B = 61 GB");
        assert_eq!(steps[5], "media over 5 years = 30 TB × 365 × 5 = 55 PB");
    }

    #[test]
    fn every_field_out_of_range_is_refused_naming_it() {
        type BreakIt = fn(&mut CapacitySpec);
        let cases: [(Field, BreakIt); 10] = [
            (Field::Mau, |s| s.mau = 0),
            (Field::Mau, |s| s.mau = MAX_MONTHLY_ACTIVE_USERS + 1),
            (Field::DailyActiveFraction, |s| s.daily_active_fraction = 0.0),
            (Field::DailyActiveFraction, |s| s.daily_active_fraction = f64::NAN),
            (Field::WritesPerUserPerDay, |s| s.writes_per_user_per_day = -1.0),
            (Field::PeakFactor, |s| s.peak_factor = 0.5),
            (Field::MediaFraction, |s| s.media_fraction = 1.01),
            (Field::MediaBytes, |s| s.media_bytes = MAX_MEDIA_BYTES + 1),
            (Field::RecordBytes, |s| s.record_bytes = u64::MAX),
            (Field::RetentionYears, |s| s.retention_years = 0),
        ];
        for (field, break_it) in cases {
            let mut spec = TWITTER_EXAMPLE;
            break_it(&mut spec);
            match Capacity::new(spec) {
                Err(EstimateError::InvalidAssumption { field: refused, .. }) => {
                    assert_eq!(refused, field)
                }
                other => panic!("{field:?}: expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let largest = CapacitySpec {
            mau: MAX_MONTHLY_ACTIVE_USERS,
            daily_active_fraction: 1.0,
            writes_per_user_per_day: MAX_WRITES_PER_USER_PER_DAY,
            peak_factor: MAX_PEAK_FACTOR,
            media_fraction: 1.0,
            media_bytes: MAX_MEDIA_BYTES,
            record_bytes: MAX_RECORD_BYTES,
            retention_years: MAX_RETENTION_YEARS,
        };
        let estimate = Capacity::new(largest).unwrap().estimate();
        assert!(estimate.storage_bytes_retained.is_finite());
        let smallest = CapacitySpec {
            mau: 1,
            media_fraction: 0.0,
            media_bytes: 0,
            record_bytes: 0,
            peak_factor: 1.0,
            retention_years: 1,
            ..TWITTER_EXAMPLE
        };
        assert_eq!(Capacity::new(smallest).unwrap().estimate().storage_bytes_retained, 0.0);
    }
}
