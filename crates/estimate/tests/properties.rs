//! Property tests of the calculators: what they accept is exactly what their limits say,
//! the arithmetic holds for every accepted input, and the rounding for humans never moves
//! a number by more than its significant digits allow.
#![allow(clippy::unwrap_used, missing_docs)]

use blueprint_estimate::availability::{SECONDS_PER_DAY, SECONDS_PER_YEAR};
use blueprint_estimate::capacity::{
    DAYS_PER_YEAR, Field, MAX_MEDIA_BYTES, MAX_MONTHLY_ACTIVE_USERS, MAX_PEAK_FACTOR,
    MAX_RECORD_BYTES, MAX_RETENTION_YEARS, MAX_WRITES_PER_USER_PER_DAY,
};
use blueprint_estimate::{Availability, Capacity, CapacitySpec, EstimateError, units};
use proptest::prelude::*;

/// Any spec within the limits.
fn valid_spec() -> impl Strategy<Value = CapacitySpec> {
    (
        1..=MAX_MONTHLY_ACTIVE_USERS,
        1e-9..=1.0f64,
        1e-9..=MAX_WRITES_PER_USER_PER_DAY,
        1.0..=MAX_PEAK_FACTOR,
        0.0..=1.0f64,
        0..=MAX_MEDIA_BYTES,
        0..=MAX_RECORD_BYTES,
        1..=MAX_RETENTION_YEARS,
    )
        .prop_map(spec)
}

/// A spec from its fields in declaration order (what both strategies generate).
#[allow(clippy::type_complexity)]
fn spec(
    (mau, daily, writes, peak, media_fraction, media_bytes, record_bytes, years): (
        u64,
        f64,
        f64,
        f64,
        f64,
        u64,
        u64,
        u32,
    ),
) -> CapacitySpec {
    CapacitySpec {
        mau,
        daily_active_fraction: daily,
        writes_per_user_per_day: writes,
        peak_factor: peak,
        media_fraction,
        media_bytes,
        record_bytes,
        retention_years: years,
    }
}

/// Any spec at all, the floats including NaN and infinities.
fn any_spec() -> impl Strategy<Value = CapacitySpec> {
    let float = || prop_oneof![any::<f64>(), -2.0..2.0f64, Just(f64::NAN), Just(0.0)];
    (
        any::<u64>(),
        float(),
        prop_oneof![any::<f64>(), -1.0..2e6f64],
        prop_oneof![any::<f64>(), 0.0..2e3f64],
        float(),
        any::<u64>(),
        any::<u64>(),
        0..200u32,
    )
        .prop_map(spec)
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= expected.abs() * 1e-9
}

/// The number in a human string (`3.5 K` → 3500), for the round-trip check.
fn parse_human(text: &str, unit: &str) -> f64 {
    let (number, suffix) = text.split_once(' ').unwrap_or((text, ""));
    let prefix = suffix.strip_suffix(unit).unwrap_or(suffix);
    let power = ["", "K", "M", "G", "T", "P", "E", "Z", "Y", "R", "Q"]
        .iter()
        .position(|p| *p == prefix)
        .unwrap();
    number.parse::<f64>().unwrap() * 1000f64.powi(power as i32)
}

proptest! {
    #[test]
    fn every_spec_within_the_limits_is_accepted_and_its_arithmetic_holds(spec in valid_spec()) {
        let estimate = Capacity::new(spec).unwrap().estimate();
        let dau = spec.mau as f64 * spec.daily_active_fraction;
        prop_assert!(close(estimate.daily_active_users, dau));
        prop_assert!(close(
            estimate.average_write_qps * SECONDS_PER_DAY,
            dau * spec.writes_per_user_per_day
        ));
        prop_assert!(close(estimate.peak_write_qps, estimate.average_write_qps * spec.peak_factor));
        prop_assert!(estimate.peak_write_qps >= estimate.average_write_qps);
        let days = DAYS_PER_YEAR * f64::from(spec.retention_years);
        prop_assert!(close(estimate.storage_bytes_retained, estimate.storage_bytes_per_day * days));
        prop_assert!(estimate.storage_bytes_per_day >= estimate.media_bytes_per_day);
        for value in [
            estimate.writes_per_day,
            estimate.media_bytes_per_day,
            estimate.record_bytes_per_day,
            estimate.media_bytes_retained,
            estimate.storage_bytes_retained,
        ] {
            prop_assert!(value.is_finite() && value >= 0.0);
        }
    }

    #[test]
    fn a_spec_is_accepted_exactly_when_every_field_is_within_its_limits(spec in any_spec()) {
        let within = Field::ALL.iter().all(|field| field.limits().contains(spec.value(*field)));
        match Capacity::new(spec) {
            Ok(_) => prop_assert!(within),
            Err(EstimateError::InvalidAssumption { field, .. }) => {
                prop_assert!(!within);
                prop_assert!(!field.limits().contains(spec.value(field)));
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn an_availability_is_accepted_exactly_when_strictly_between_zero_and_one(
        fraction in prop_oneof![any::<f64>(), -0.5..1.5f64, Just(0.0), Just(1.0)]
    ) {
        match Availability::new(fraction) {
            Ok(availability) => {
                prop_assert!(fraction > 0.0 && fraction < 1.0);
                let downtime = availability.downtime();
                prop_assert!(close(
                    downtime.per_year_seconds,
                    downtime.per_day_seconds * SECONDS_PER_YEAR / SECONDS_PER_DAY
                ));
            }
            Err(error) => {
                prop_assert!(!(fraction > 0.0 && fraction < 1.0));
                prop_assert_eq!(error.code(), "invalid_fraction");
            }
        }
    }

    #[test]
    fn human_counts_and_sizes_are_within_five_percent_of_the_number(value in 1e-3..1e30f64) {
        // Two significant digits: at worst 0.05 off a leading digit of 1, i.e. 5 %.
        for (text, unit) in [(units::count(value), ""), (units::bytes(value), "B")] {
            let back = parse_human(&text, unit);
            prop_assert!((back - value).abs() <= value * 0.05 + 1e-12, "{value} → {text}");
        }
    }
}
