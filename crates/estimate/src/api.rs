//! JSON types and pure functions behind the console page (`web/index.html`).
//!
//! The `blueprint` binary mounts these as:
//!
//! - `GET  /api/v1/estimate/reference` → [`ReferenceResponse`] ([`reference()`]): the powers
//!   of two, the availability table, the book's latency table and the Twitter example.
//! - `POST /api/v1/estimate/capacity` with [`CapacitySpec`] → [`CapacityResponse`]
//!   ([`capacity`]).
//! - `GET  /api/v1/estimate/availability?fraction=0.9999` ([`AvailabilityQuery`]) →
//!   [`AvailabilityRow`] ([`availability()`]).
//! - `POST /api/v1/estimate/latency` → [`LatencyResponse`] ([`latency_response`] of a
//!   [`crate::latency::measure`] run; the binary limits and caches the runs).
//!
//! Refusals are [`EstimateError`]s: status 400 with body
//! `{"error":{"code":"invalid_mau","message":"mau must be in [1, 10000000000], got 0"}}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::availability::{self, Availability};
use crate::capacity::{Capacity, CapacitySpec, Estimate, HumanEstimate, TWITTER_EXAMPLE};
use crate::latency::{LatencyReport, NOTES, Operation, Probe};
use crate::powers::POWERS;
use crate::{EstimateError, units};

/// The console page (`web/index.html`), for the binary to serve at `/estimate/`.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");

/// A row of the powers-of-two table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PowerRow {
    /// The power of two (10 … 50).
    pub exponent: u32,
    /// 2^exponent exactly.
    pub exact: u64,
    /// The power of ten it rounds to.
    pub approximate: u64,
    /// That power of ten in words (`1 thousand`).
    pub approximate_name: String,
    /// Unit symbol (`KB`).
    pub unit: String,
    /// Unit name (`kilobyte`).
    pub unit_name: String,
}

/// The downtime one availability allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvailabilityRow {
    /// As a percentage (`99.99 %`).
    pub availability: String,
    /// As a fraction, in (0, 1).
    pub fraction: f64,
    /// Downtime a day, in seconds.
    pub per_day_seconds: f64,
    /// Downtime a week, in seconds.
    pub per_week_seconds: f64,
    /// Downtime a month (30.44 days), in seconds.
    pub per_month_seconds: f64,
    /// Downtime a year (365.25 days), in seconds.
    pub per_year_seconds: f64,
    /// Downtime a day for humans (`8.64 s`).
    pub per_day: String,
    /// Downtime a week for humans (`1.01 min`).
    pub per_week: String,
    /// Downtime a month for humans (`4.38 min`).
    pub per_month: String,
    /// Downtime a year for humans (`52.6 min`).
    pub per_year: String,
}

/// A row of the book's latency table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReferenceLatencyRow {
    /// Stable id (`main_memory_reference`).
    pub id: String,
    /// The row as the book words it.
    pub operation: String,
    /// The book's value, in nanoseconds.
    pub nanoseconds: f64,
    /// The book's value for humans (`100 ns`, `10 µs`).
    pub human: String,
    /// The probe that measures a stand-in for it here, if any.
    pub measured_by: Option<String>,
}

/// Everything static the page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReferenceResponse {
    /// 2¹⁰ … 2⁵⁰.
    pub powers: Vec<PowerRow>,
    /// 99 % … 99.9999 %.
    pub availability: Vec<AvailabilityRow>,
    /// The book's latency numbers, in its order.
    pub latency: Vec<ReferenceLatencyRow>,
    /// The book's Twitter assumptions, to pre-fill the capacity form.
    pub twitter_example: CapacitySpec,
}

/// `?fraction=0.9999`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Availability as a fraction strictly between 0 and 1 (0.9999 for 99.99 %).
    #[param(exclusive_minimum = 0, exclusive_maximum = 1)]
    pub fraction: f64,
}

/// A capacity estimate with its assumptions and arithmetic written out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CapacityResponse {
    /// The assumptions, as given.
    pub assumptions: CapacitySpec,
    /// The numbers, unrounded.
    pub estimate: Estimate,
    /// The headline numbers, rounded with units (`150 M`, `3.5 K`, `55 PB`).
    pub human: HumanEstimate,
    /// The assumptions in words, one per line.
    pub assumption_lines: Vec<String>,
    /// The arithmetic, one step per line, with units.
    pub steps: Vec<String>,
}

/// One latency measured on this machine beside the book's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatencyRow {
    /// Probe id (`memory_chase`).
    pub probe: String,
    /// What was measured.
    pub operation: String,
    /// Bytes the probe works on (buffer chased, bytes moved per operation).
    pub working_set_bytes: u64,
    /// Operations timed.
    pub iterations: u64,
    /// Mean time of one operation here, in nanoseconds.
    pub nanoseconds: f64,
    /// The same for humans (`92.1 ns`).
    pub this_machine: String,
    /// The book row it stands for (absent for the last-level cache).
    pub book_id: Option<String>,
    /// That row as the book words it.
    pub book_operation: Option<String>,
    /// The book's value, in nanoseconds.
    pub book_nanoseconds: Option<f64>,
    /// The book's value for humans.
    pub book: Option<String>,
    /// This machine over the book (2.0: twice as slow).
    pub ratio: Option<f64>,
}

/// A latency measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatencyResponse {
    /// One row per probe, in the book's order.
    pub rows: Vec<LatencyRow>,
    /// Book rows nothing here can stand in for.
    pub not_measured: Vec<ReferenceLatencyRow>,
    /// What to keep in mind reading the table.
    pub notes: Vec<String>,
    /// How long the measurement took, in milliseconds.
    pub elapsed_ms: f64,
    /// Whether this is an earlier request's measurement, served again.
    pub cached: bool,
    /// How old the measurement is, in milliseconds.
    pub age_ms: u64,
}

/// The static tables.
pub fn reference() -> ReferenceResponse {
    ReferenceResponse {
        powers: POWERS
            .iter()
            .map(|row| PowerRow {
                exponent: row.exponent,
                exact: row.exact,
                approximate: row.approximate,
                approximate_name: row.approximate_name.to_owned(),
                unit: row.unit.to_owned(),
                unit_name: row.unit_name.to_owned(),
            })
            .collect(),
        availability: availability::table()
            .into_iter()
            .map(|(availability, _)| availability_row(availability))
            .collect(),
        latency: Operation::ALL.into_iter().map(reference_row).collect(),
        twitter_example: TWITTER_EXAMPLE,
    }
}

/// The downtime `query.fraction` allows.
///
/// # Errors
/// [`EstimateError::InvalidAvailability`] unless 0 < fraction < 1.
pub fn availability(query: &AvailabilityQuery) -> Result<AvailabilityRow, EstimateError> {
    Availability::new(query.fraction).map(availability_row)
}

/// The estimate for `spec`.
///
/// # Errors
/// [`EstimateError::InvalidAssumption`] naming the first field out of its limits.
pub fn capacity(spec: &CapacitySpec) -> Result<CapacityResponse, EstimateError> {
    let capacity = Capacity::new(*spec)?;
    let estimate = capacity.estimate();
    Ok(CapacityResponse {
        assumptions: *spec,
        estimate,
        human: estimate.human(),
        assumption_lines: capacity.assumptions(),
        steps: capacity.steps(),
    })
}

/// A measured report as JSON; `cached` and `age` say whether and for how long it was
/// kept.
pub fn latency_response(report: &LatencyReport, cached: bool, age: Duration) -> LatencyResponse {
    let rows = report
        .measurements
        .iter()
        .map(|measurement| {
            let book = measurement.book();
            LatencyRow {
                probe: measurement.probe.id().to_owned(),
                operation: measurement.probe.label().to_owned(),
                working_set_bytes: measurement.probe.working_set_bytes() as u64,
                iterations: measurement.iterations,
                nanoseconds: measurement.nanoseconds,
                this_machine: units::nanoseconds(measurement.nanoseconds),
                book_id: book.map(|operation| operation.id().to_owned()),
                book_operation: book.map(|operation| operation.label().to_owned()),
                book_nanoseconds: book.map(Operation::book_nanoseconds),
                book: book.map(|operation| units::nanoseconds(operation.book_nanoseconds())),
                ratio: measurement.ratio(),
            }
        })
        .collect();
    LatencyResponse {
        rows,
        not_measured: LatencyReport::unmeasured().into_iter().map(reference_row).collect(),
        notes: NOTES.iter().map(|note| (*note).to_owned()).collect(),
        elapsed_ms: report.elapsed.as_secs_f64() * 1e3,
        cached,
        age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
    }
}

fn availability_row(availability: Availability) -> AvailabilityRow {
    let downtime = availability.downtime();
    let [per_day, per_week, per_month, per_year] = downtime.human();
    AvailabilityRow {
        availability: availability.percent(),
        fraction: availability.fraction(),
        per_day_seconds: downtime.per_day_seconds,
        per_week_seconds: downtime.per_week_seconds,
        per_month_seconds: downtime.per_month_seconds,
        per_year_seconds: downtime.per_year_seconds,
        per_day,
        per_week,
        per_month,
        per_year,
    }
}

fn reference_row(operation: Operation) -> ReferenceLatencyRow {
    ReferenceLatencyRow {
        id: operation.id().to_owned(),
        operation: operation.label().to_owned(),
        nanoseconds: operation.book_nanoseconds(),
        human: units::nanoseconds(operation.book_nanoseconds()),
        measured_by: Probe::ALL
            .iter()
            .find(|probe| probe.book() == Some(operation))
            .map(|probe| probe.id().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Measurement;

    #[test]
    fn the_reference_holds_every_table() {
        let reference = reference();
        assert_eq!(reference.powers.len(), 5);
        assert_eq!(reference.availability.len(), 5);
        assert_eq!(reference.availability[2].per_day, "8.64 s");
        assert_eq!(reference.latency.len(), 13);
        assert_eq!(reference.latency[4].measured_by.as_deref(), Some("memory_chase"));
        assert_eq!(reference.latency[1].measured_by, None, "branch mispredict");
        assert_eq!(reference.twitter_example, TWITTER_EXAMPLE);
    }

    #[test]
    fn bad_input_is_refused_with_a_code_naming_the_field() {
        let error = availability(&AvailabilityQuery { fraction: 1.0 }).unwrap_err();
        assert_eq!(error.code(), "invalid_fraction");
        let spec = CapacitySpec { retention_years: 0, ..TWITTER_EXAMPLE };
        assert_eq!(capacity(&spec).unwrap_err().code(), "invalid_retention_years");
    }

    #[test]
    fn the_twitter_example_round_trips_through_json() {
        let response = capacity(&TWITTER_EXAMPLE).unwrap();
        assert_eq!(response.human.daily_active_users, "150 M");
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["assumptions"]["mau"], 300_000_000);
        assert_eq!(json["human"]["media_retained"], "55 PB");
        let back: CapacityResponse = serde_json::from_value(json).unwrap();
        assert_eq!(back, response);
    }

    #[test]
    fn a_latency_report_lists_every_probe_and_the_unmeasured_rows() {
        let report = LatencyReport {
            measurements: Probe::ALL
                .iter()
                .map(|&probe| Measurement {
                    probe,
                    nanoseconds: 10.0,
                    iterations: 1,
                    elapsed: Duration::from_nanos(10),
                })
                .collect(),
            elapsed: Duration::from_millis(1500),
        };
        let response = latency_response(&report, true, Duration::from_secs(2));
        assert_eq!(response.rows.len(), Probe::ALL.len());
        assert_eq!(response.rows[0].ratio, Some(20.0));
        assert_eq!(response.rows[2].book, None, "the book has no L3 row");
        assert_eq!(response.not_measured.len(), 2);
        assert_eq!((response.cached, response.age_ms, response.elapsed_ms), (true, 2000, 1500.0));
    }
}
