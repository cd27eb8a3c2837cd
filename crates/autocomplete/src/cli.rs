//! `blueprint autocomplete build|query|generate`: offline steps of the data-gathering
//! pipeline (book 13.3.2) and a lookup against a Trie DB snapshot.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::AutocompleteConfig;
use crate::filter::Blocklist;
use crate::generator::{GeneratorSpec, QueryLogGenerator, WordList};
use crate::normalize::Prefix;
use crate::pipeline::rebuild_from_log;
use crate::snapshot;

/// Most log lines `generate` writes: 1e9 lines is tens of GB.
pub const MAX_GENERATED_LINES: u64 = 1_000_000_000;

/// The offline subcommands (`serve` is the platform's).
#[derive(Debug, Clone, Subcommand)]
pub enum AutocompleteCommand {
    /// Aggregate a query log and build a Trie DB snapshot from it
    Build {
        /// The analytics log (`unix_ms<TAB>query` lines).
        #[arg(long)]
        log: PathBuf,
        /// Where to write the snapshot.
        #[arg(long, default_value = "trie.snapshot")]
        snapshot: PathBuf,
        /// Threads reading the log.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Print the top suggestions for a prefix from a snapshot
    Query {
        /// What was typed.
        prefix: String,
        /// The snapshot to read.
        #[arg(long, default_value = "trie.snapshot")]
        snapshot: PathBuf,
        /// Suggestions to print (1 to 10).
        #[arg(short, long, default_value_t = 5)]
        k: usize,
    },
    /// Write a seeded, Zipf-distributed query log from the bundled word list
    Generate {
        /// Lines to write.
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
        /// Distinct queries.
        #[arg(long, default_value_t = 100_000)]
        distinct: usize,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 13)]
        seed: u64,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs one subcommand; blocking (CPU and file work), so call it off the async workers.
pub fn run(command: AutocompleteCommand) -> anyhow::Result<()> {
    match command {
        AutocompleteCommand::Build { log, snapshot: out, threads } => build(&log, &out, threads),
        AutocompleteCommand::Query { prefix, snapshot: path, k } => query(&prefix, &path, k),
        AutocompleteCommand::Generate { lines, distinct, seed, out } => {
            generate(lines, distinct, seed, &out)
        }
    }
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn build(log: &std::path::Path, out: &std::path::Path, threads: usize) -> anyhow::Result<()> {
    let config =
        AutocompleteConfig { aggregation_threads: threads, ..AutocompleteConfig::default() };
    let started = Instant::now();
    let bar = spinner("aggregating the log and building the trie");
    let (trie, stats) = rebuild_from_log(log, &config, &Blocklist::default())
        .with_context(|| format!("building from {}", log.display()))?;
    let read = stats.read;
    bar.set_message("writing the snapshot");
    snapshot::write(&trie, out).with_context(|| format!("writing {}", out.display()))?;
    bar.finish_and_clear();
    println!(
        "{} lines ({} malformed), {} queries, snapshot {} in {:.2?}",
        read.lines,
        read.malformed,
        trie.len(),
        out.display(),
        started.elapsed()
    );
    Ok(())
}

fn query(prefix: &str, path: &std::path::Path, k: usize) -> anyhow::Result<()> {
    if !(1..=crate::trie::MAX_K).contains(&k) {
        bail!("-k must be between 1 and {}", crate::trie::MAX_K);
    }
    let trie = snapshot::read(path).with_context(|| format!("reading {}", path.display()))?;
    let config = AutocompleteConfig::default();
    let prefix = Prefix::parse(prefix, config.max_prefix_chars).context("the prefix")?;
    for suggestion in trie.top_k(prefix.as_key(), k) {
        println!("{}\t{}", suggestion.weight, suggestion.query);
    }
    Ok(())
}

fn generate(lines: u64, distinct: usize, seed: u64, out: &std::path::Path) -> anyhow::Result<()> {
    if !(1..=MAX_GENERATED_LINES).contains(&lines) {
        bail!("--lines must be between 1 and {MAX_GENERATED_LINES}");
    }
    let words = WordList::bundled()?;
    let spec = GeneratorSpec { distinct, seed, ..GeneratorSpec::default() };
    let mut generator = QueryLogGenerator::new(&words, spec).context("the generator")?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let bar = ProgressBar::new(lines);
    const CHUNK: u64 = 100_000;
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(0);
    let week_ms = crate::config::WEEK_MS;
    let mut written = 0;
    while written < lines {
        let chunk = CHUNK.min(lines - written);
        let start_ms = now_ms.saturating_sub(week_ms) + written * week_ms / lines;
        generator.write_log(&mut writer, chunk, start_ms, chunk * week_ms / lines)?;
        written += chunk;
        bar.set_position(written);
    }
    std::io::Write::flush(&mut writer)?;
    bar.finish_and_clear();
    println!("{lines} lines over {distinct} queries in {}", out.display());
    Ok(())
}
