//! Back-of-the-envelope estimation, chapter 2 of *System Design Interview*, built for real.
//!
//! The chapter's four tools, each a module: the powers-of-two table ([`powers`]), the
//! downtime an availability allows ([`availability`]), a QPS and storage calculator with the
//! book's Twitter example ([`capacity`]), and the latency numbers every programmer should
//! know ([`latency`]), both as the book prints them and *measured on this machine*, so the
//! two columns can be compared. Results are rounded and labelled with units ([`units`]),
//! and the assumptions are written out, as the chapter's tips ask.
//!
//! What it is not: a capacity planner (it multiplies the assumptions it is given and knows
//! nothing about any real system), a benchmark suite (the latency harness takes one mean
//! per operation in one to two seconds, and its file reads come from the page
//! cache, not a disk), or a network service (the HTTP routes are the `blueprint` binary's;
//! [`api`] holds their request/response types and pure functions).
//!
//! # Layout
//!
//! - [`powers`]: [`POWERS`], 2¹⁰ … 2⁵⁰ beside the powers of ten they round to.
//! - [`availability`]: [`Availability`] (a fraction in (0, 1), validated on construction)
//!   and its [`Downtime`] per day, week, month and year; the book's table.
//! - [`capacity`]: [`CapacitySpec`] (raw assumptions) → [`Capacity`] (checked, with named
//!   limits) → [`Estimate`] (DAU, QPS, peak QPS, storage a day and over the retention).
//! - [`latency`]: the book's table ([`Operation`]) and the harness ([`latency::measure`],
//!   one [`Probe`] per row it can stand in for).
//! - [`units`]: `3.5 K`, `30 TB`, `52.6 min`, `0.5 ns`: decimal SI prefixes, few digits.
//! - [`error`]: [`EstimateError`], every refusal naming the value and its range.
//! - [`api`]: JSON types and pure handlers for the console page (`web/index.html`).
//! - [`cli`]: `blueprint estimate latency | capacity | availability | powers`.
//!
//! # Limits
//!
//! Capacity assumptions are bounded ([`capacity::MAX_MONTHLY_ACTIVE_USERS`] and the other
//! `MAX_*` constants) so every estimate is a finite number. The latency harness allocates
//! at most [`latency::MEMORY_CHASE_BYTES`] plus a sixteenth at once, writes one
//! [`latency::FILE_BYTES`] scratch file and runs each probe for at most
//! [`latency::PROBE_TIME_BUDGET`] plus one batch.
//!
//! # Example
//!
//! ```
//! use blueprint_estimate::{Availability, Capacity, CapacitySpec, EstimateError, TWITTER_EXAMPLE};
//!
//! # fn main() -> Result<(), EstimateError> {
//! // The book's Twitter example: 300 M MAU, half of them daily, 2 tweets a day each.
//! let estimate = Capacity::twitter_example().estimate();
//! assert_eq!(estimate.daily_active_users, 150e6);
//! let human = estimate.human();
//! assert_eq!(human.average_write_qps, "3.5 K");
//! assert_eq!(human.media_per_day, "30 TB");
//! assert_eq!(human.media_retained, "55 PB");
//!
//! // Four nines allow 8.64 s of downtime a day.
//! let downtime = Availability::from_nines(4)?.downtime();
//! assert_eq!(downtime.human()[0], "8.64 s");
//!
//! // Bad input is a typed error naming the field, not a panic.
//! let absurd = CapacitySpec { daily_active_fraction: 1.5, ..TWITTER_EXAMPLE };
//! let error = Capacity::new(absurd).unwrap_err();
//! assert_eq!(error.code(), "invalid_daily_active_fraction");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod availability;
pub mod capacity;
pub mod cli;
pub mod error;
pub mod latency;
pub mod powers;
pub mod units;

pub use availability::{Availability, Downtime};
pub use capacity::{Capacity, CapacitySpec, Estimate, HumanEstimate, TWITTER_EXAMPLE};
pub use error::EstimateError;
pub use latency::{LatencyReport, Measurement, Operation, Probe};
pub use powers::{POWERS, PowerOfTwo};
