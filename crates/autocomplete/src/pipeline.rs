//! The data-gathering service of book 13.3.2: analytics log → aggregated frequencies →
//! weights → a new trie, built off the serving path.
//!
//! - [`Aggregator`] folds log records into one [`FrequencyTable`] per interval (a week by
//!   default): per matching key, its count and the display form most often typed.
//! - [`Scores`] turns closed intervals into weights, incrementally: [`Ranking::Total`]
//!   sums them (the book's weekly rebuild), [`Ranking::Trending`] decays older intervals
//!   exponentially (book 13.4), in O(distinct queries) per interval, not per history.
//! - [`Scores::build_trie`] freezes scores into a [`Trie`], dropping what the blocklist
//!   blocks, so a removed term is gone from the trie itself at the next rebuild.
//! - [`rebuild_from_log`] runs the three over a whole log file (the weekly rebuild);
//!   [`IncrementalPipeline`] reads only what was appended since its last poll and folds
//!   in each interval as it closes (trending). Either runs on a worker thread and hands
//!   its trie to [`crate::cache::TrieCache::replace`].

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use crate::config::{AutocompleteConfig, Ranking};
use crate::error::{BuildError, LogError};
use crate::filter::Blocklist;
use crate::log::{self, LogRecord, ReadStats, Tail};
use crate::normalize::{Query, normalize_query};
use crate::trie::{Trie, TrieBuilder};

/// Trending scores below this are forgotten: a query last seen many half-lives ago no
/// longer ranks, and keeping it would grow the table forever.
pub const MIN_TRENDING_SCORE: f64 = 0.5;

/// Most intervals an [`Aggregator`] keeps open; records for older ones are dropped and
/// counted, so a log with wild timestamps cannot make it allocate without bound.
pub const MAX_OPEN_INTERVALS: usize = 64;

/// Hashes query keys with XXH3 under a per-process random seed: several times faster than
/// the standard SipHash on short keys (aggregation is hash-bound), and the random seed
/// keeps users from crafting colliding queries.
#[derive(Debug, Clone, Copy)]
pub struct KeyHashBuilder {
    seed: u64,
}

impl Default for KeyHashBuilder {
    fn default() -> Self {
        // std's RandomState is seeded from the OS once per process: borrow its randomness.
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        KeyHashBuilder { seed }
    }
}

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { seed: self.seed, hash: 0 }
    }
}

/// The hasher of [`KeyHashBuilder`]: one XXH3 call per `write` (a `str` is one write and
/// a terminator byte).
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher {
    seed: u64,
    hash: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.hash = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.seed ^ self.hash);
    }

    fn write_u8(&mut self, byte: u8) {
        self.hash = (self.hash ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// One query's count in one interval, and how it was typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyStats {
    /// How many times the query was submitted.
    pub count: u64,
    /// Display forms other than the key itself, with their counts (usually empty: most
    /// queries are typed in the key's form).
    variants: Vec<(Box<str>, u64)>,
}

impl KeyStats {
    /// The display form typed most often (ties: the smallest string).
    pub fn display<'a>(&'a self, key: &'a str) -> &'a str {
        let as_key = self.count - self.variants.iter().map(|(_, count)| count).sum::<u64>();
        let mut best = (as_key, key);
        for (variant, count) in &self.variants {
            if *count > best.0 || (*count == best.0 && &**variant < best.1) {
                best = (*count, variant);
            }
        }
        best.1
    }
}

/// Per-key counts of one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrequencyTable {
    /// Matching key → its stats.
    pub counts: HashMap<Box<str>, KeyStats, KeyHashBuilder>,
}

impl FrequencyTable {
    /// Counts one submission of `query`.
    pub fn add(&mut self, query: &Query) {
        self.add_normalized(query.key(), query.display());
    }

    /// [`FrequencyTable::add`] for a key and display already normalised; allocates only
    /// for a key (or spelling) not seen before.
    fn add_normalized(&mut self, key: &str, display: &str) {
        let stats = match self.counts.get_mut(key) {
            Some(stats) => stats,
            None => self.counts.entry(key.into()).or_default(),
        };
        stats.count += 1;
        if display != key {
            match stats.variants.iter_mut().find(|(variant, _)| &**variant == display) {
                Some((_, count)) => *count += 1,
                None => stats.variants.push((display.into(), 1)),
            }
        }
    }

    /// Adds every count of `other` into this table.
    pub fn merge(&mut self, other: FrequencyTable) {
        if self.counts.len() < other.counts.len() {
            let smaller = std::mem::replace(self, other);
            return self.merge(smaller);
        }
        for (key, stats) in other.counts {
            match self.counts.get_mut(&key) {
                Some(mine) => {
                    mine.count += stats.count;
                    for (variant, count) in stats.variants {
                        match mine.variants.iter_mut().find(|(existing, _)| *existing == variant) {
                            Some((_, existing_count)) => *existing_count += count,
                            None => mine.variants.push((variant, count)),
                        }
                    }
                }
                None => {
                    self.counts.insert(key, stats);
                }
            }
        }
    }

    /// Distinct queries.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Folds log records into per-interval frequency tables.
#[derive(Debug)]
pub struct Aggregator {
    interval_ms: u64,
    intervals: BTreeMap<u64, FrequencyTable>,
    dropped: u64,
}

impl Aggregator {
    /// Intervals of `interval_ms` (at least 1) milliseconds, numbered `unix_ms / interval_ms`.
    pub fn new(interval_ms: u64) -> Aggregator {
        Aggregator { interval_ms: interval_ms.max(1), intervals: BTreeMap::new(), dropped: 0 }
    }

    /// Counts one record in its interval.
    pub fn add(&mut self, record: &LogRecord) {
        if let Some(table) = self.table_for(record.unix_ms) {
            table.add(&record.query);
        }
    }

    /// Counts one raw logged query (normalising it without allocating when it is already
    /// normal); false if the text is not a valid query.
    pub fn add_text(&mut self, unix_ms: u64, text: &str) -> bool {
        let Ok((display, key)) = normalize_query(text) else { return false };
        if let Some(table) = self.table_for(unix_ms) {
            table.add_normalized(&key, &display);
        }
        true
    }

    /// The table of `unix_ms`'s interval, opened if needed; `None` (and counted) when it
    /// is older than every open interval and the limit is reached.
    fn table_for(&mut self, unix_ms: u64) -> Option<&mut FrequencyTable> {
        let interval = unix_ms / self.interval_ms;
        if !self.intervals.contains_key(&interval) && self.intervals.len() >= MAX_OPEN_INTERVALS {
            let oldest = self.intervals.keys().next().copied().unwrap_or(interval);
            if interval < oldest {
                self.dropped += 1;
                return None;
            }
            self.intervals.pop_first();
        }
        Some(self.intervals.entry(interval).or_default())
    }

    /// Adds every count of `other` (same interval length) into this one.
    pub fn merge(&mut self, other: Aggregator) {
        self.dropped += other.dropped;
        for (interval, table) in other.intervals {
            match self.intervals.get_mut(&interval) {
                Some(mine) => mine.merge(table),
                None => {
                    if self.intervals.len() < MAX_OPEN_INTERVALS {
                        self.intervals.insert(interval, table);
                    } else {
                        self.dropped += table.counts.values().map(|stats| stats.count).sum::<u64>();
                    }
                }
            }
        }
    }

    /// Records dropped because their interval was older than every open one.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The tables, oldest interval first.
    pub fn into_intervals(self) -> BTreeMap<u64, FrequencyTable> {
        self.intervals
    }
}

/// The weights a trie is built from, updated one closed interval at a time.
#[derive(Debug, Clone)]
pub struct Scores {
    ranking: Ranking,
    scores: HashMap<Box<str>, Scored, KeyHashBuilder>,
    last_interval: Option<u64>,
}

#[derive(Debug, Clone)]
struct Scored {
    score: f64,
    /// `None` when the display form is the key.
    display: Option<Box<str>>,
}

impl Scores {
    /// No scores yet.
    pub fn new(ranking: Ranking) -> Scores {
        Scores { ranking, scores: HashMap::default(), last_interval: None }
    }

    /// Folds in the table of `interval` (consumed: its keys move in, not copied).
    /// Intervals must come in increasing order; a table for an interval at or before the
    /// last applied is merged as if it were the last.
    pub fn apply(&mut self, interval: u64, table: FrequencyTable) {
        if let (Ranking::Trending { half_life_intervals }, Some(last)) =
            (self.ranking, self.last_interval)
            && interval > last
        {
            let half_life = if half_life_intervals > 0.0 { half_life_intervals } else { 1.0 };
            let decay = 0.5f64.powf((interval - last) as f64 / half_life);
            self.scores.retain(|_, scored| {
                scored.score *= decay;
                scored.score >= MIN_TRENDING_SCORE
            });
        }
        self.last_interval = Some(self.last_interval.map_or(interval, |last| last.max(interval)));
        self.scores
            .reserve(table.counts.len().saturating_sub(self.scores.capacity() - self.scores.len()));
        for (key, stats) in table.counts {
            let display = stats.display(&key);
            let display = (display != &*key).then(|| Box::<str>::from(display));
            match self.scores.get_mut(&key) {
                Some(scored) => {
                    scored.score += stats.count as f64;
                    scored.display = display;
                }
                None => {
                    self.scores.insert(key, Scored { score: stats.count as f64, display });
                }
            }
        }
    }

    /// Distinct queries with a score.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True when nothing scores.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The weight of the query with matching key `key` (rounded score), if it scores.
    pub fn weight(&self, key: &str) -> Option<u64> {
        self.scores.get(key).map(|scored| scored.score.round() as u64)
    }

    /// (key, display, weight) of every scored query, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, u64)> + '_ {
        self.scores.iter().map(|(key, scored)| {
            (&**key, scored.display.as_deref().unwrap_or(key), scored.score.round() as u64)
        })
    }
}

impl Scores {
    /// Builds a trie of the current scores, leaving out every query `blocklist` blocks;
    /// the scores stay, to be advanced by the next interval (trending mode).
    pub fn build_trie(
        &self,
        blocklist: &Blocklist,
        config: &AutocompleteConfig,
    ) -> Result<Trie, BuildError> {
        self.builder(blocklist, config).map(TrieBuilder::build)
    }

    /// Like [`Scores::build_trie`], but drops the scores once copied into the builder and
    /// before the trie is laid out, so the two largest structures are never held at once.
    pub fn into_trie(
        self,
        blocklist: &Blocklist,
        config: &AutocompleteConfig,
    ) -> Result<Trie, BuildError> {
        let builder = self.builder(blocklist, config)?;
        drop(self);
        Ok(builder.build())
    }

    fn builder(
        &self,
        blocklist: &Blocklist,
        config: &AutocompleteConfig,
    ) -> Result<TrieBuilder, BuildError> {
        let mut builder = TrieBuilder::new(config.cached_k, config.max_prefix_chars)?;
        for (key, display, weight) in self.iter() {
            if weight > 0 && !blocklist.blocks(key) {
                builder.push_normalized(key, display, weight)?;
            }
        }
        Ok(builder)
    }
}

/// The incremental pipeline (trending mode, book 13.4): remembers where it stopped in the
/// log, aggregates only the new lines, and folds each interval into the scores once it
/// has closed, instead of re-reading the whole history for every rebuild.
#[derive(Debug)]
pub struct IncrementalPipeline {
    config: AutocompleteConfig,
    offset: u64,
    open: Aggregator,
    scores: Scores,
}

impl IncrementalPipeline {
    /// A pipeline at the start of the log, with no scores.
    pub fn new(config: AutocompleteConfig) -> IncrementalPipeline {
        let open = Aggregator::new(config.interval_ms);
        let scores = Scores::new(config.ranking);
        IncrementalPipeline { config, offset: 0, open, scores }
    }

    /// The current scores.
    pub fn scores(&self) -> &Scores {
        &self.scores
    }

    /// Reads what was appended to the log at `path` since the last call and applies every
    /// interval that closed before `now_ms`. Returns a new trie if any interval was
    /// applied, `None` if nothing changed (the cache keeps its trie).
    pub fn poll(
        &mut self,
        path: &Path,
        now_ms: u64,
        blocklist: &Blocklist,
    ) -> Result<Option<Trie>, RebuildError> {
        let open = &mut self.open;
        let each = |unix_ms, text: &str| open.add_text(unix_ms, text);
        let (_, offset) = log::scan(path, self.offset..u64::MAX, Tail::Leave, each)?;
        self.offset = offset;
        let current = now_ms / self.config.interval_ms.max(1);
        let mut applied = false;
        while let Some(entry) = self.open.intervals.first_entry() {
            if *entry.key() >= current {
                break;
            }
            let (interval, table) = entry.remove_entry();
            self.scores.apply(interval, table);
            applied = true;
        }
        if !applied {
            return Ok(None);
        }
        Ok(Some(self.scores.build_trie(blocklist, &self.config)?))
    }
}

/// What a rebuild read and made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildStats {
    /// From reading the log.
    pub read: ReadStats,
    /// Intervals aggregated.
    pub intervals: usize,
    /// Records dropped as older than every open interval.
    pub dropped: u64,
    /// Queries in the new trie.
    pub queries: usize,
}

/// A rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Building the trie failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// Most threads one aggregation uses: it is memory-bound, so past a few more only contend.
pub const MAX_AGGREGATION_THREADS: usize = 16;

/// Reads the whole log at `path` into per-interval tables of `interval_ms` (the first
/// step of [`rebuild_from_log`], on its own for callers that time or inspect it), with
/// `threads` (1..=[`MAX_AGGREGATION_THREADS`]) threads each reading a slice of whole
/// lines into its own tables, merged at the end.
pub fn aggregate_log(
    path: &Path,
    interval_ms: u64,
    threads: usize,
) -> Result<(Aggregator, ReadStats), LogError> {
    let points = log::split_points(path, threads.clamp(1, MAX_AGGREGATION_THREADS))?;
    let results: Vec<Result<(Aggregator, ReadStats), LogError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = points
            .windows(2)
            .map(|range| {
                let (start, end) = (range[0], range[1]);
                scope.spawn(move || {
                    let mut aggregator = Aggregator::new(interval_ms);
                    let each = |unix_ms, text: &str| aggregator.add_text(unix_ms, text);
                    let (read, _) = log::scan(path, start..end, Tail::Malformed, each)?;
                    Ok((aggregator, read))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut merged = Aggregator::new(interval_ms);
    let mut total = ReadStats::default();
    for result in results {
        let (aggregator, read) = result?;
        total.lines += read.lines;
        total.malformed += read.malformed;
        merged.merge(aggregator);
    }
    Ok((merged, total))
}

/// Reads the whole log at `path`, aggregates it per `config.interval_ms`, scores it per
/// `config.ranking` and builds a trie without what `blocklist` blocks. Blocking: run it
/// off the serving path.
pub fn rebuild_from_log(
    path: &Path,
    config: &AutocompleteConfig,
    blocklist: &Blocklist,
) -> Result<(Trie, RebuildStats), RebuildError> {
    let (aggregator, read) = aggregate_log(path, config.interval_ms, config.aggregation_threads)?;
    let dropped = aggregator.dropped();
    let intervals = aggregator.into_intervals();
    let interval_count = intervals.len();
    let mut scores = Scores::new(config.ranking);
    for (interval, table) in intervals {
        scores.apply(interval, table);
    }
    let trie = scores.into_trie(blocklist, config)?;
    let queries = trie.len();
    Ok((trie, RebuildStats { read, intervals: interval_count, dropped, queries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(unix_ms: u64, text: &str) -> LogRecord {
        LogRecord { unix_ms, query: Query::parse(text).expect("valid query") }
    }

    fn table(entries: &[(&str, u64)]) -> FrequencyTable {
        let mut table = FrequencyTable::default();
        for (text, count) in entries {
            for _ in 0..*count {
                table.add(&Query::parse(text).expect("valid query"));
            }
        }
        table
    }

    #[test]
    fn the_aggregator_splits_records_by_interval_and_merges_case() {
        let mut aggregator = Aggregator::new(10);
        for (ms, text) in [(1, "Paris"), (2, "paris"), (3, "Paris"), (15, "rome")] {
            aggregator.add(&record(ms, text));
        }
        let intervals = aggregator.into_intervals();
        assert_eq!(intervals.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        let paris = &intervals[&0].counts["paris"];
        assert_eq!(paris.count, 3);
        assert_eq!(paris.display("paris"), "Paris");
    }

    #[test]
    fn the_aggregator_keeps_a_bounded_number_of_intervals() {
        let mut aggregator = Aggregator::new(1);
        for ms in 0..(MAX_OPEN_INTERVALS as u64 + 10) {
            aggregator.add(&record(ms, "q"));
        }
        aggregator.add(&record(0, "late"));
        assert_eq!(aggregator.dropped(), 1);
        assert_eq!(aggregator.into_intervals().len(), MAX_OPEN_INTERVALS);
    }

    #[test]
    fn parallel_aggregation_counts_exactly_what_one_thread_counts() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        let mut text = String::new();
        for line in 0..5000u64 {
            let query =
                ["Paris", "paris", "rome", "東京", "bad\u{1}", "new york"][(line % 6) as usize];
            text.push_str(&format!("{}\t{query}\n", line * 7));
        }
        std::fs::write(&path, text).expect("written");
        let (one, one_read) = aggregate_log(&path, 10_000, 1).expect("one thread");
        for threads in [2, 3, 7] {
            let (many, many_read) = aggregate_log(&path, 10_000, threads).expect("threads");
            assert_eq!(many_read, one_read, "{threads} threads");
            assert_eq!(many.into_intervals(), one.intervals, "{threads} threads");
        }
        assert_eq!(one_read, ReadStats { lines: 5000, malformed: 833 });
    }

    #[test]
    fn total_ranking_sums_intervals() {
        let mut scores = Scores::new(Ranking::Total);
        scores.apply(0, table(&[("old", 10)]));
        scores.apply(5, table(&[("old", 1), ("new", 4)]));
        assert_eq!(scores.weight("old"), Some(11));
        assert_eq!(scores.weight("new"), Some(4));
    }

    #[test]
    fn trending_ranking_lets_a_recent_burst_overtake_an_old_favourite() {
        let mut scores = Scores::new(Ranking::Trending { half_life_intervals: 1.0 });
        scores.apply(0, table(&[("old favourite", 100)]));
        scores.apply(1, table(&[("old favourite", 10)]));
        scores.apply(3, table(&[("burst", 30)]));
        // old: (100 / 2 + 10) / 4 = 15; burst: 30.
        assert_eq!(scores.weight("old favourite"), Some(15));
        assert_eq!(scores.weight("burst"), Some(30));
        scores.apply(20, table(&[]));
        assert_eq!(scores.weight("old favourite"), None, "decayed below the floor and forgotten");
    }

    #[test]
    fn incremental_trending_scores_equal_recomputing_from_scratch() {
        let intervals = [
            (0, table(&[("a", 8), ("b", 2)])),
            (2, table(&[("b", 6)])),
            (3, table(&[("a", 1), ("c", 5)])),
        ];
        let mut incremental = Scores::new(Ranking::Trending { half_life_intervals: 2.0 });
        for (interval, table) in &intervals {
            incremental.apply(*interval, table.clone());
        }
        for key in ["a", "b", "c"] {
            let expected: f64 = intervals
                .iter()
                .map(|(interval, table)| {
                    let count = table.counts.get(key).map_or(0, |stats| stats.count) as f64;
                    count * 0.5f64.powf((3 - interval) as f64 / 2.0)
                })
                .sum();
            assert_eq!(incremental.weight(key), Some(expected.round() as u64), "{key}");
        }
    }

    #[test]
    fn the_incremental_pipeline_surfaces_a_trending_query_when_its_interval_closes() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        let config = AutocompleteConfig {
            interval_ms: 100,
            ranking: Ranking::Trending { half_life_intervals: 1.0 },
            ..AutocompleteConfig::default()
        };
        let mut pipeline = IncrementalPipeline::new(config);
        let mut lines = String::new();
        for ms in 0..40 {
            lines.push_str(&format!("{ms}\tworld cup\n"));
        }
        std::fs::write(&path, &lines).expect("written");
        let none = Blocklist::default();
        assert!(
            pipeline.poll(&path, 50, &none).expect("polled").is_none(),
            "interval 0 still open"
        );
        let trie = pipeline.poll(&path, 150, &none).expect("polled").expect("interval 0 closed");
        assert_eq!(trie.top_k("w", 1)[0].query, "world cup");

        let mut writer = crate::log::QueryLogWriter::open(&path).expect("opened");
        for ms in 300..330 {
            writer.append(ms, &Query::parse("world news").expect("query")).expect("appended");
        }
        writer.flush().expect("flushed");
        let trie = pipeline.poll(&path, 450, &none).expect("polled").expect("interval 3 closed");
        // world cup: 40 decayed over 3 half-lives = 5; world news: 30.
        let ranked: Vec<(String, u64)> =
            trie.top_k("w", 2).into_iter().map(|s| (s.query, s.weight)).collect();
        assert_eq!(ranked, vec![("world news".to_owned(), 30), ("world cup".to_owned(), 5)]);
    }

    #[test]
    fn a_rebuild_leaves_blocklisted_queries_out_of_the_trie() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        std::fs::write(
            &path,
            "1\tcheap flights\n2\tcheap spam deals\n3\tcheap flights\n4\tbroken\u{1}\n",
        )
        .expect("written");
        let blocklist = Blocklist::parse("spam").expect("blocklist");
        let (trie, stats) =
            rebuild_from_log(&path, &AutocompleteConfig::default(), &blocklist).expect("rebuilt");
        assert_eq!(stats.read.malformed, 1);
        assert_eq!(stats.queries, 1);
        let queries: Vec<String> = trie.top_k("cheap", 5).into_iter().map(|s| s.query).collect();
        assert_eq!(queries, vec!["cheap flights"]);
    }
}
