//! `blueprint ratelimit ...`: the clap arguments (the binary dispatches to them).

use crate::core::AlgorithmKind;
use crate::simulate::{Pattern, SimulationRequest, render_text, simulate};

/// `blueprint ratelimit simulate`: run an algorithm against a traffic pattern and print
/// accepted vs rejected over time.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// token_bucket, leaking_bucket, fixed_window, sliding_window_log, sliding_window_counter.
    #[arg(long = "algo", value_parser = parse_algorithm)]
    pub algorithm: AlgorithmKind,
    /// steady, burst or boundary (the book's figure 4-9).
    #[arg(long, value_enum)]
    pub pattern: Pattern,
    /// Requests per period.
    #[arg(long, default_value_t = 10)]
    pub limit: u64,
    /// The period (window, refill/drain period) in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub period_ms: u64,
    /// Soft-limit burst (bucket algorithms only).
    #[arg(long, default_value_t = 0)]
    pub burst: u64,
    /// Simulated time in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub duration_ms: u64,
    /// Request rate of the steady pattern (default: twice the limit's rate).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Timeline bucket width in milliseconds (default: duration / 100).
    #[arg(long)]
    pub bucket_ms: Option<u64>,
    /// Print the timeline as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_algorithm(s: &str) -> Result<AlgorithmKind, String> {
    AlgorithmKind::from_name(s).ok_or_else(|| {
        let names: Vec<_> = AlgorithmKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown algorithm {s:?}; expected one of {}", names.join(", "))
    })
}

impl SimulateArgs {
    /// The simulation these arguments describe.
    pub fn request(&self) -> SimulationRequest {
        SimulationRequest {
            algorithm: self.algorithm,
            limit: self.limit,
            period_ms: self.period_ms,
            burst: self.burst,
            pattern: self.pattern,
            duration_ms: self.duration_ms,
            rate_per_second: self.rate,
            bucket_ms: self.bucket_ms,
        }
    }
}

/// Runs `blueprint ratelimit simulate` and prints the timeline.
///
/// # Errors
/// Refused parameters, with the reason.
pub fn run_simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let timeline = simulate(&args.request()).context("invalid simulation parameters")?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&timeline).context("serializing the timeline")?
        );
    } else {
        print!("{}", render_text(&timeline));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    #[test]
    fn arguments_parse_and_run() {
        let cli = Cli::try_parse_from([
            "x",
            "--algo",
            "fixed_window",
            "--pattern",
            "boundary",
            "--limit",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.args.algorithm, AlgorithmKind::FixedWindow);
        assert_eq!(cli.args.pattern, Pattern::Boundary);
        run_simulate(&cli.args).unwrap();
        assert!(Cli::try_parse_from(["x", "--algo", "magic", "--pattern", "steady"]).is_err());
    }
}
