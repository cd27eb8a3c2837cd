//! `blueprint hashring ...`: the clap arguments and the runner the binary dispatches to.

use clap::{Args as ClapArgs, Subcommand};

use crate::experiment::{self, ExperimentParams};
use crate::ring::{DEFAULT_VNODES, MAX_VNODES};

/// Most keys one experiment may hash: 100 M keeps a run under a minute or so.
pub const MAX_EXPERIMENT_KEYS: u64 = 100_000_000;

/// Most nodes an experiment may use (Maglev's table limit is the tightest).
pub const MAX_EXPERIMENT_NODES: usize = crate::maglev::MAGLEV_MAX_NODES - 1;

/// `blueprint hashring <command>`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The hashring subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Measure the book's claims: (a) keys moved on add, (b) load spread vs virtual nodes,
    /// (c) affected ranges vs brute-force remapping.
    Experiment(ExperimentArgs),
}

/// `blueprint hashring experiment [--keys N --nodes N --seed S ...]`.
#[derive(Debug, Clone, ClapArgs)]
pub struct ExperimentArgs {
    /// Keys hashed per measurement.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Nodes before the change.
    #[arg(long, default_value_t = 10)]
    pub nodes: usize,
    /// Seed for node ids and keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Node sets averaged over in table (b).
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// Virtual nodes per node for tables (a) and (c).
    #[arg(long, default_value_t = DEFAULT_VNODES)]
    pub vnodes: u32,
    /// Bounded-loads slack ε.
    #[arg(long, default_value_t = crate::bounded::DEFAULT_EPSILON)]
    pub epsilon: f64,
}

impl ExperimentArgs {
    fn params(&self) -> anyhow::Result<ExperimentParams> {
        anyhow::ensure!(
            (1..=MAX_EXPERIMENT_KEYS).contains(&self.keys),
            "--keys must be 1..={MAX_EXPERIMENT_KEYS}"
        );
        anyhow::ensure!(
            (1..=MAX_EXPERIMENT_NODES).contains(&self.nodes),
            "--nodes must be 1..={MAX_EXPERIMENT_NODES}"
        );
        anyhow::ensure!(
            (1..=MAX_VNODES).contains(&self.vnodes),
            "--vnodes must be 1..={MAX_VNODES}"
        );
        anyhow::ensure!((1..=1000).contains(&self.seeds), "--seeds must be 1..=1000");
        Ok(ExperimentParams {
            keys: self.keys,
            nodes: self.nodes,
            seed: self.seed,
            seeds: self.seeds,
            vnodes: self.vnodes,
            epsilon: self.epsilon,
        })
    }
}

/// Runs a hashring subcommand, printing to stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Experiment(experiment) => {
            print!("{}", experiment_report(&experiment)?);
            Ok(())
        }
    }
}

/// The text `blueprint hashring experiment` prints: tables (a), (b) and (c).
pub fn experiment_report(args: &ExperimentArgs) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let params = args.params()?;
    let movement = experiment::movement(&params).context("table (a): keys moved on add")?;
    let load = experiment::load_vs_vnodes(&params).context("table (b): load vs vnodes")?;
    let affected =
        experiment::affected_vs_brute_force(&params).context("table (c): affected ranges")?;
    Ok(format!(
        "blueprint hashring experiment --keys {} --nodes {} --seed {} --seeds {} --vnodes {} --epsilon {}\n\n{movement}\n{load}\n{affected}",
        args.keys, args.nodes, args.seed, args.seeds, args.vnodes, args.epsilon
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, Subcommand)]
    enum Top {
        Hashring(Args),
    }

    #[test]
    fn the_experiment_command_parses_its_flags() {
        let cli = Cli::try_parse_from([
            "blueprint",
            "hashring",
            "experiment",
            "--keys",
            "5000",
            "--nodes",
            "4",
            "--seed",
            "9",
        ])
        .unwrap();
        let Top::Hashring(Args { command: Command::Experiment(args) }) = cli.command;
        assert_eq!((args.keys, args.nodes, args.seed), (5000, 4, 9));
        assert_eq!(args.vnodes, DEFAULT_VNODES);
    }

    #[test]
    fn the_report_holds_all_three_tables() {
        let cli = Cli::try_parse_from([
            "blueprint",
            "hashring",
            "experiment",
            "--keys",
            "3000",
            "--nodes",
            "3",
            "--seeds",
            "1",
            "--vnodes",
            "64",
        ])
        .unwrap();
        let Top::Hashring(Args { command: Command::Experiment(args) }) = cli.command;
        let report = experiment_report(&args).unwrap();
        for title in ["(a) keys moved", "(b) load spread", "(c) affected ranges"] {
            assert!(report.contains(title), "missing {title}");
        }
    }

    #[test]
    fn zero_keys_or_too_many_nodes_are_refused() {
        let mut args =
            ExperimentArgs { keys: 0, nodes: 10, seed: 1, seeds: 1, vnodes: 10, epsilon: 0.25 };
        assert!(experiment_report(&args).is_err());
        args.keys = 10;
        args.nodes = MAX_EXPERIMENT_NODES + 1;
        assert!(experiment_report(&args).is_err());
    }
}
