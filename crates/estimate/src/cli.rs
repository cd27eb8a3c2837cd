//! `blueprint estimate ...`: the clap arguments and the reports they print.
//!
//! - `latency`: measure this machine, print it beside the book's numbers with the ratio.
//! - `capacity [--mau N --daily-active-fraction F ...]`: the estimate, its assumptions and
//!   its arithmetic written out; every default is the book's Twitter example.
//! - `availability [--nines N | --fraction F]`: the downtime table, or one row of it.
//! - `powers`: the powers-of-two table.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};

use crate::availability::{self, Availability};
use crate::capacity::{Capacity, CapacitySpec, DAYS_PER_YEAR, TWITTER_EXAMPLE};
use crate::latency::{self, LatencyReport, NOTES};
use crate::powers::POWERS;
use crate::units;

/// `blueprint estimate <command>`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// What to print.
    #[command(subcommand)]
    pub command: Command,
}

/// The estimate subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Measure latencies on this machine (1–2 s) and print them beside the book's.
    Latency(LatencyArgs),
    /// Estimate QPS and storage from assumptions (defaults: the book's Twitter example).
    Capacity(CapacityArgs),
    /// Downtime per day, week, month and year for an availability.
    Availability(AvailabilityArgs),
    /// The powers-of-two table.
    Powers,
}

/// `blueprint estimate latency [--scratch-dir DIR]`.
#[derive(Debug, Clone, ClapArgs)]
pub struct LatencyArgs {
    /// Directory for the 8 MiB scratch file the file probes read (default: the system's
    /// temporary directory). The file is removed afterwards.
    #[arg(long)]
    pub scratch_dir: Option<PathBuf>,
}

/// `blueprint estimate capacity [...]`: every flag defaults to the book's Twitter example.
#[derive(Debug, Clone, ClapArgs)]
pub struct CapacityArgs {
    /// Monthly active users.
    #[arg(long, default_value_t = TWITTER_EXAMPLE.mau)]
    pub mau: u64,
    /// Fraction of them active on a given day, in (0, 1].
    #[arg(long, default_value_t = TWITTER_EXAMPLE.daily_active_fraction)]
    pub daily_active_fraction: f64,
    /// Writes a daily user makes a day.
    #[arg(long, default_value_t = TWITTER_EXAMPLE.writes_per_user_per_day)]
    pub writes_per_user_per_day: f64,
    /// Peak QPS over average QPS, at least 1.
    #[arg(long, default_value_t = TWITTER_EXAMPLE.peak_factor)]
    pub peak_factor: f64,
    /// Fraction of writes with a media item, in [0, 1].
    #[arg(long, default_value_t = TWITTER_EXAMPLE.media_fraction)]
    pub media_fraction: f64,
    /// Bytes of one media item.
    #[arg(long, default_value_t = TWITTER_EXAMPLE.media_bytes)]
    pub media_bytes: u64,
    /// Bytes of the rest of a write (id, text).
    #[arg(long, default_value_t = TWITTER_EXAMPLE.record_bytes)]
    pub record_bytes: u64,
    /// Years the data is kept.
    #[arg(long, default_value_t = TWITTER_EXAMPLE.retention_years)]
    pub retention_years: u32,
}

impl CapacityArgs {
    /// The assumptions, unchecked.
    pub fn spec(&self) -> CapacitySpec {
        CapacitySpec {
            mau: self.mau,
            daily_active_fraction: self.daily_active_fraction,
            writes_per_user_per_day: self.writes_per_user_per_day,
            peak_factor: self.peak_factor,
            media_fraction: self.media_fraction,
            media_bytes: self.media_bytes,
            record_bytes: self.record_bytes,
            retention_years: self.retention_years,
        }
    }
}

/// `blueprint estimate availability [--nines N | --fraction F]`; neither prints the
/// book's table.
#[derive(Debug, Clone, ClapArgs)]
pub struct AvailabilityArgs {
    /// How many nines (4 → 99.99 %).
    #[arg(long, conflicts_with = "fraction")]
    pub nines: Option<u32>,
    /// Availability as a fraction strictly between 0 and 1 (0.9995 → 99.95 %).
    #[arg(long)]
    pub fraction: Option<f64>,
}

/// Runs a subcommand and returns what it prints. `latency` blocks for 1–2 s.
///
/// # Errors
/// Refused assumptions or availability (naming the flag), or a failed latency probe.
pub fn run(command: &Command) -> anyhow::Result<String> {
    match command {
        Command::Latency(args) => {
            let dir = args.scratch_dir.clone().unwrap_or_else(std::env::temp_dir);
            Ok(latency_report(&latency::measure(&dir)?))
        }
        Command::Capacity(args) => Ok(capacity_report(&Capacity::new(args.spec())?)),
        Command::Availability(args) => availability_report(args),
        Command::Powers => Ok(powers_report()),
    }
}

/// The measured table: operation, this machine, book, ratio, and the book's row.
pub fn latency_report(report: &LatencyReport) -> String {
    let mut out = format!(
        "Latency on this machine beside the book's numbers (measured in {}):\n\n",
        units::seconds(report.elapsed.as_secs_f64())
    );
    let _ = writeln!(
        out,
        "{:<44} {:>12} {:>10} {:>10}  book's row",
        "operation", "this machine", "book", "ratio"
    );
    for measurement in &report.measurements {
        let book = measurement.book();
        let _ = writeln!(
            out,
            "{:<44} {:>12} {:>10} {:>10}  {}",
            measurement.probe.label(),
            units::nanoseconds(measurement.nanoseconds),
            book.map_or("—".to_owned(), |op| units::nanoseconds(op.book_nanoseconds())),
            measurement.ratio().map_or("—".to_owned(), units::ratio),
            book.map_or("(no L3 row in the book)", |op| op.label()),
        );
    }
    out.push_str("\nNot measured here:\n");
    for operation in LatencyReport::unmeasured() {
        let book = units::nanoseconds(operation.book_nanoseconds());
        let _ = writeln!(out, "  {:<42} {book:>10}", operation.label());
    }
    out.push_str("\nNotes:\n");
    for note in NOTES {
        let _ = writeln!(out, "  - {note}");
    }
    out
}

/// The estimate with its assumptions and arithmetic written out.
pub fn capacity_report(capacity: &Capacity) -> String {
    let estimate = capacity.estimate();
    let human = estimate.human();
    let years = capacity.spec().retention_years;
    let mut out = String::from("Capacity estimate (System Design Interview, chapter 2)\n\n");
    out.push_str("Assumptions:\n");
    for line in capacity.assumptions() {
        let _ = writeln!(out, "  - {line}");
    }
    out.push_str("\nArithmetic:\n");
    for line in capacity.steps() {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("\nEstimate:\n");
    let retained = format!("over {years} years ({} days)", estimate.retention_days);
    for (label, value) in [
        ("daily active users (DAU)".to_owned(), &human.daily_active_users),
        ("average write QPS".to_owned(), &human.average_write_qps),
        ("peak write QPS".to_owned(), &human.peak_write_qps),
        ("media per day".to_owned(), &human.media_per_day),
        ("all storage per day".to_owned(), &human.storage_per_day),
        (format!("media {retained}"), &human.media_retained),
        (format!("all storage {retained}"), &human.storage_retained),
    ] {
        let _ = writeln!(out, "  {label:<36} {value}");
    }
    let _ = writeln!(
        out,
        "\nRounded to two significant digits, decimal units (1 KB = 1 000 B, a year = {DAYS_PER_YEAR} days)."
    );
    out
}

/// The book's availability table, or the one row `args` names.
///
/// # Errors
/// A count of nines outside 1..=[`MAX_NINES`](crate::availability::MAX_NINES), or a fraction outside (0, 1).
pub fn availability_report(args: &AvailabilityArgs) -> anyhow::Result<String> {
    let rows = match (args.nines, args.fraction) {
        (Some(nines), _) => vec![Availability::from_nines(nines)?],
        (None, Some(fraction)) => vec![Availability::new(fraction)?],
        (None, None) => availability::table().into_iter().map(|(a, _)| a).collect(),
    };
    let mut out = format!(
        "{:<12} {:>12} {:>12} {:>12} {:>12}\n",
        "availability", "per day", "per week", "per month", "per year"
    );
    for availability in rows {
        let [day, week, month, year] = availability.downtime().human();
        let _ = writeln!(
            out,
            "{:<12} {day:>12} {week:>12} {month:>12} {year:>12}",
            availability.percent()
        );
    }
    out.push_str("\nDowntime allowed; a month is 30.44 days, a year 365.25.\n");
    Ok(out)
}

/// The powers-of-two table.
pub fn powers_report() -> String {
    let mut out = format!(
        "{:<6} {:>26} {:>16} {:<6} {}\n",
        "power", "exact value", "approximately", "unit", "name"
    );
    for row in POWERS {
        let _ = writeln!(
            out,
            "{:<6} {:>26} {:>16} {:<6} {}",
            format!("2^{}", row.exponent),
            row.exact,
            row.approximate_name,
            row.unit,
            row.unit_name
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(args).unwrap().command
    }

    #[test]
    fn capacity_defaults_to_the_twitter_example_and_prints_the_books_numbers() {
        let Command::Capacity(args) = command(&["estimate", "capacity"]) else { panic!() };
        assert_eq!(args.spec(), TWITTER_EXAMPLE);
        let out = run(&Command::Capacity(args)).unwrap();
        for expected in ["300 M monthly active users", "150 M", "3.5 K", "30 TB", "55 PB"] {
            assert!(out.contains(expected), "{expected} missing:\n{out}");
        }
    }

    #[test]
    fn capacity_flags_override_the_defaults_and_bad_ones_are_named() {
        let Command::Capacity(args) = command(&["estimate", "capacity", "--mau", "1000000000"])
        else {
            panic!()
        };
        assert_eq!(args.spec().mau, 1_000_000_000);
        let bad = command(&["estimate", "capacity", "--daily-active-fraction", "2"]);
        let error = run(&bad).unwrap_err().to_string();
        assert!(error.contains("daily_active_fraction"), "{error}");
    }

    #[test]
    fn availability_prints_one_row_per_request_or_the_books_table() {
        let out = run(&command(&["estimate", "availability", "--nines", "4"])).unwrap();
        assert!(out.contains("99.99 %") && out.contains("8.64 s") && out.contains("52.6 min"));
        let table = run(&command(&["estimate", "availability"])).unwrap();
        assert_eq!(table.lines().filter(|line| line.contains(" %")).count(), 5, "{table}");
        assert!(run(&command(&["estimate", "availability", "--nines", "0"])).is_err());
        assert!(run(&command(&["estimate", "availability", "--fraction", "1"])).is_err());
    }

    #[test]
    fn powers_prints_every_row() {
        let out = run(&command(&["estimate", "powers"])).unwrap();
        assert!(out.contains("1125899906842624") && out.contains("PB"), "{out}");
    }

    #[test]
    fn the_latency_report_prints_both_columns_the_ratio_and_the_notes() {
        let report = LatencyReport {
            measurements: crate::Probe::ALL
                .iter()
                .map(|&probe| crate::Measurement {
                    probe,
                    nanoseconds: 1.0,
                    iterations: 1,
                    elapsed: std::time::Duration::from_nanos(1),
                })
                .collect(),
            elapsed: std::time::Duration::from_millis(1500),
        };
        let out = latency_report(&report);
        assert!(out.contains("this machine") && out.contains("ratio"), "{out}");
        assert!(out.contains("Main memory reference") && out.contains("0.01×"), "{out}");
        assert!(out.contains("Branch mispredict") && out.contains("page cache"), "{out}");
    }
}
