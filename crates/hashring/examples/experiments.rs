//! Runs `blueprint hashring experiment` without the binary:
//! `cargo run --release -p blueprint-hashring --example experiments -- experiment --keys 1000000`.

use blueprint_hashring::cli::{Args, run};
use clap::Parser;

/// The example's command line: the same `Args` the binary mounts under `hashring`.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn main() -> anyhow::Result<()> {
    run(Cli::parse().args)
}
