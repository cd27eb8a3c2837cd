//! Where a serving trie comes from at start: the Trie DB snapshot if there is a valid
//! one, else a rebuild from the analytics log, else (for a first run) a seeded sample
//! log generated from the bundled word list, so a fresh install has suggestions.

use std::path::{Path, PathBuf};

use crate::config::AutocompleteConfig;
use crate::filter::Blocklist;
use crate::generator::{GeneratorSpec, QueryLogGenerator, WordList};
use crate::pipeline::rebuild_from_log;
use crate::snapshot;
use crate::trie::Trie;

/// Lines of the sample log a first run writes: enough for a realistic head and tail,
/// small enough to build in well under a second.
pub const SAMPLE_LOG_LINES: u64 = 200_000;
/// Distinct queries in the sample log.
pub const SAMPLE_DISTINCT_QUERIES: usize = 20_000;

/// Where the service keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The append-only analytics log.
    pub log: PathBuf,
    /// The Trie DB snapshot.
    pub snapshot: PathBuf,
}

/// How the trie was obtained, for the log line at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the snapshot.
    Snapshot,
    /// Rebuilt from the existing log.
    Log,
    /// Rebuilt from a freshly generated sample log.
    SampleLog,
}

/// Why no trie could be had.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Writing the sample log failed.
    #[error("writing the sample log {path}: {source}")]
    SampleLog {
        /// The log's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bundled word list did not parse (a build defect).
    #[error("bundled word list: {0}")]
    Words(#[from] crate::error::WordListError),
    /// Rebuilding from the log failed.
    #[error(transparent)]
    Rebuild(#[from] crate::pipeline::RebuildError),
}

/// The trie to serve first. A corrupt snapshot is logged and skipped (the log is the
/// source of truth); blocking, so call it off the async workers.
pub fn initial_trie(
    paths: &Paths,
    config: &AutocompleteConfig,
    blocklist: &Blocklist,
    seed_sample: bool,
    now_ms: u64,
) -> Result<(Trie, Origin), StartupError> {
    if paths.snapshot.exists() {
        match snapshot::read(&paths.snapshot) {
            Ok(trie) => return Ok((trie, Origin::Snapshot)),
            Err(error) => tracing::error!(%error, "autocomplete snapshot unusable; rebuilding"),
        }
    }
    let mut origin = Origin::Log;
    if !paths.log.exists() && seed_sample {
        write_sample_log(&paths.log, now_ms)?;
        origin = Origin::SampleLog;
    }
    let (trie, _stats) = rebuild_from_log(&paths.log, config, blocklist)?;
    Ok((trie, origin))
}

/// Writes a seeded Zipf sample log spread over the week before `now_ms`.
pub fn write_sample_log(path: &Path, now_ms: u64) -> Result<(), StartupError> {
    let io = |source| StartupError::SampleLog { path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let words = WordList::bundled()?;
    let spec = GeneratorSpec { distinct: SAMPLE_DISTINCT_QUERIES, ..GeneratorSpec::default() };
    let mut generator = QueryLogGenerator::new(&words, spec)?;
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    let week_ms = crate::config::WEEK_MS;
    generator
        .write_log(&mut out, SAMPLE_LOG_LINES, now_ms.saturating_sub(week_ms), week_ms)
        .map_err(io)?;
    std::io::Write::flush(&mut out).map_err(io)
}
