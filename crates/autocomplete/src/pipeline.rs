//! The data-gathering service of book 13.3.2: analytics log → aggregated frequencies →
//! weights → a new trie, built off the serving path.
//!
//! - [`Aggregator`] folds log records into one [`FrequencyTable`] per interval (a week by
//!   default): per matching key, its count and the display form most often typed.
//! - [`Scores`] turns closed intervals into weights, incrementally: [`Ranking::Total`]
//!   sums them (the book's weekly rebuild), [`Ranking::Trending`] decays older intervals
//!   exponentially (book 13.4), in O(distinct queries) per interval, not per history.
//! - [`build_trie`] freezes scores into a [`Trie`], dropping what the blocklist blocks, so
//!   a removed term is gone from the trie itself at the next rebuild.
//! - [`rebuild_from_log`] runs the three over a log file; the caller runs it on a worker
//!   thread and hands the result to [`crate::cache::TrieCache::replace`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::config::{AutocompleteConfig, Ranking};
use crate::error::{BuildError, LogError};
use crate::filter::Blocklist;
use crate::log::{self, LogRecord, ReadStats};
use crate::normalize::Query;
use crate::trie::{Trie, TrieBuilder};

/// Trending scores below this are forgotten: a query last seen many half-lives ago no
/// longer ranks, and keeping it would grow the table forever.
pub const MIN_TRENDING_SCORE: f64 = 0.5;

/// Most intervals an [`Aggregator`] keeps open; records for older ones are dropped and
/// counted, so a log with wild timestamps cannot make it allocate without bound.
pub const MAX_OPEN_INTERVALS: usize = 64;

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
    pub counts: HashMap<Box<str>, KeyStats>,
}

impl FrequencyTable {
    /// Counts one submission of `query`.
    pub fn add(&mut self, query: &Query) {
        let stats = match self.counts.get_mut(query.key()) {
            Some(stats) => stats,
            None => self.counts.entry(query.key().into()).or_default(),
        };
        stats.count += 1;
        if query.display() != query.key() {
            match stats.variants.iter_mut().find(|(variant, _)| &**variant == query.display()) {
                Some((_, count)) => *count += 1,
                None => stats.variants.push((query.display().into(), 1)),
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
        let interval = record.unix_ms / self.interval_ms;
        if !self.intervals.contains_key(&interval) && self.intervals.len() >= MAX_OPEN_INTERVALS {
            let oldest = self.intervals.keys().next().copied().unwrap_or(interval);
            if interval < oldest {
                self.dropped += 1;
                return;
            }
            self.intervals.pop_first();
        }
        self.intervals.entry(interval).or_default().add(&record.query);
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
    scores: HashMap<Box<str>, Scored>,
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
        Scores { ranking, scores: HashMap::new(), last_interval: None }
    }

    /// Folds in the table of `interval`. Intervals must come in increasing order; a table
    /// for an interval at or before the last applied is merged as if it were the last.
    pub fn apply(&mut self, interval: u64, table: &FrequencyTable) {
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
        for (key, stats) in &table.counts {
            let display = stats.display(key);
            let display = (display != &**key).then(|| Box::<str>::from(display));
            match self.scores.get_mut(key) {
                Some(scored) => {
                    scored.score += stats.count as f64;
                    scored.display = display;
                }
                None => {
                    self.scores.insert(key.clone(), Scored { score: stats.count as f64, display });
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

/// Freezes `scores` into a trie, leaving out every query `blocklist` blocks.
pub fn build_trie(
    scores: &Scores,
    blocklist: &Blocklist,
    config: &AutocompleteConfig,
) -> Result<Trie, BuildError> {
    let mut builder = TrieBuilder::new(config.cached_k, config.max_prefix_chars)?;
    for (key, display, weight) in scores.iter() {
        if weight > 0 && !blocklist.blocks(key) {
            builder.push_normalized(key, display, weight)?;
        }
    }
    Ok(builder.build())
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

/// Reads the whole log at `path`, aggregates it per `config.interval_ms`, scores it per
/// `config.ranking` and builds a trie without what `blocklist` blocks. Blocking: run it
/// off the serving path.
pub fn rebuild_from_log(
    path: &Path,
    config: &AutocompleteConfig,
    blocklist: &Blocklist,
) -> Result<(Trie, RebuildStats), RebuildError> {
    let mut aggregator = Aggregator::new(config.interval_ms);
    let read = log::read(path, |record| aggregator.add(&record))?;
    let dropped = aggregator.dropped();
    let intervals = aggregator.into_intervals();
    let interval_count = intervals.len();
    let mut scores = Scores::new(config.ranking);
    for (interval, table) in intervals {
        scores.apply(interval, &table);
    }
    let trie = build_trie(&scores, blocklist, config)?;
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
    fn total_ranking_sums_intervals() {
        let mut scores = Scores::new(Ranking::Total);
        scores.apply(0, &table(&[("old", 10)]));
        scores.apply(5, &table(&[("old", 1), ("new", 4)]));
        assert_eq!(scores.weight("old"), Some(11));
        assert_eq!(scores.weight("new"), Some(4));
    }

    #[test]
    fn trending_ranking_lets_a_recent_burst_overtake_an_old_favourite() {
        let mut scores = Scores::new(Ranking::Trending { half_life_intervals: 1.0 });
        scores.apply(0, &table(&[("old favourite", 100)]));
        scores.apply(1, &table(&[("old favourite", 10)]));
        scores.apply(3, &table(&[("burst", 30)]));
        // old: (100 / 2 + 10) / 4 = 15; burst: 30.
        assert_eq!(scores.weight("old favourite"), Some(15));
        assert_eq!(scores.weight("burst"), Some(30));
        scores.apply(20, &table(&[]));
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
            incremental.apply(*interval, table);
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
