//! Build-time benchmark of the autocomplete pipeline: generate a Zipf query log, then
//! rebuild a trie from it and report time, peak memory and bytes per query.
//!
//! Two steps, two processes, so the build's peak memory (VmHWM) is the build's alone:
//!
//! ```text
//! cargo run --release -p blueprint-autocomplete --example build_bench -- \
//!     generate --lines 10000000 --distinct 1000000 --out /tmp/autocomplete.log
//! cargo run --release -p blueprint-autocomplete --example build_bench -- \
//!     build --log /tmp/autocomplete.log [--snapshot /tmp/autocomplete.snap] [--threads 2]
//! ```
//!
//! The issue's target is 100M lines over 10M distinct queries (20 % non-ASCII) in at most
//! 90 s and 4 GB, at most 40 bytes a query of index beyond the text.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::generator::{GeneratorSpec, QueryLogGenerator, WordList};
use blueprint_autocomplete::normalize::Prefix;
use blueprint_autocomplete::pipeline::{self, Scores};
use blueprint_autocomplete::snapshot;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<String> {
        args.iter().position(|arg| arg == name).and_then(|index| args.get(index + 1)).cloned()
    };
    match args.first().map(String::as_str) {
        Some("generate") => {
            let lines: u64 =
                value("--lines").unwrap_or_else(|| "10000000".into()).parse().context("--lines")?;
            let distinct: usize = value("--distinct")
                .unwrap_or_else(|| "1000000".into())
                .parse()
                .context("--distinct")?;
            let out = PathBuf::from(value("--out").context("--out PATH is required")?);
            generate(lines, distinct, &out)
        }
        Some("build") => {
            let log = PathBuf::from(value("--log").context("--log PATH is required")?);
            let threads =
                value("--threads").map(|text| text.parse()).transpose().context("--threads")?;
            build(&log, value("--snapshot").map(PathBuf::from), threads)
        }
        _ => bail!(
            "usage: build_bench generate --lines L --distinct D --out PATH | build --log PATH [--snapshot PATH] [--threads N]"
        ),
    }
}

fn generate(lines: u64, distinct: usize, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let words = WordList::bundled()?;
    let spec = GeneratorSpec { distinct, ..GeneratorSpec::default() };
    let mut generator = QueryLogGenerator::new(&words, spec)?;
    let non_ascii = generator.queries().iter().filter(|query| !query.is_ascii()).count();
    let made = started.elapsed();
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    generator.write_log(&mut writer, lines, 1_700_000_000_000, 6 * 24 * 3600 * 1000)?;
    writer.flush()?;
    println!(
        "generated {distinct} distinct queries ({:.1} % non-ASCII) in {:.2} s, {lines} lines in {:.2} s total -> {}",
        100.0 * non_ascii as f64 / distinct.max(1) as f64,
        made.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn build(
    log_path: &Path,
    snapshot_path: Option<PathBuf>,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    let mut config = AutocompleteConfig::default();
    if let Some(threads) = threads {
        config.aggregation_threads = threads;
    }
    let started = Instant::now();
    let (aggregator, read) =
        pipeline::aggregate_log(log_path, config.interval_ms, config.aggregation_threads)?;
    let aggregated = started.elapsed();
    let mut scores = Scores::new(config.ranking);
    for (interval, table) in aggregator.into_intervals() {
        scores.apply(interval, table);
    }
    let distinct = scores.len();
    let scored = started.elapsed();
    let trie = scores.into_trie(&Blocklist::default(), &config)?;
    let built = started.elapsed();

    let queries = trie.len().max(1);
    let overhead = trie.heap_bytes() - trie.text_bytes();
    println!(
        "log: {} lines ({} malformed), {distinct} distinct queries",
        read.lines, read.malformed
    );
    println!(
        "time: read+aggregate {:.2} s, score {:.2} s, trie {:.2} s, total {:.2} s",
        aggregated.as_secs_f64(),
        (scored - aggregated).as_secs_f64(),
        (built - scored).as_secs_f64(),
        built.as_secs_f64()
    );
    println!(
        "trie: {} queries, {} nodes ({:.2} a query), {:.1} MB heap = {:.1} MB text + {:.1} MB index",
        trie.len(),
        trie.node_count(),
        trie.node_count() as f64 / queries as f64,
        trie.heap_bytes() as f64 / 1e6,
        trie.text_bytes() as f64 / 1e6,
        overhead as f64 / 1e6
    );
    println!(
        "bytes per query: {:.1} index beyond the text ({:.1} text)",
        overhead as f64 / queries as f64,
        trie.text_bytes() as f64 / queries as f64
    );
    println!("peak RSS (VmHWM): {:.1} MB", peak_rss_kb().unwrap_or(0) as f64 / 1e3);

    let mut lookups = 0u64;
    let prefixes: Vec<Prefix> = ["t", "th", "the", "de", "東", "caf", "how to", "s"]
        .iter()
        .filter_map(|raw| Prefix::parse(raw, config.max_prefix_chars).ok())
        .collect();
    let lookup_started = Instant::now();
    while lookup_started.elapsed().as_millis() < 500 {
        for prefix in &prefixes {
            lookups += trie.top_k(prefix.as_key(), 5).len() as u64;
        }
    }
    let rounds = lookups.max(1);
    println!(
        "sample: top 5 for \"the\": {:?} ({} suggestion lists in 0.5 s)",
        trie.top_k("the", 5).iter().map(|s| s.query.as_str()).collect::<Vec<_>>(),
        rounds / 5
    );

    if let Some(path) = snapshot_path {
        let write_started = Instant::now();
        snapshot::write(&trie, &path)?;
        let written = write_started.elapsed();
        let read_started = Instant::now();
        let loaded = snapshot::read(&path)?;
        anyhow::ensure!(loaded == trie, "snapshot round trip differs");
        println!(
            "snapshot: {:.1} MB, write {:.2} s, read+validate {:.2} s",
            std::fs::metadata(&path)?.len() as f64 / 1e6,
            written.as_secs_f64(),
            read_started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
