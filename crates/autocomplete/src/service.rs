//! The query service of book 13.3.3, in process: trie cache → filter layer → response.
//!
//! [`Autocomplete`] is the state the HTTP layer (or a test, or a bench) shares: it parses
//! the prefix and `k`, takes the current trie with one atomic load, asks it for its whole
//! cached list and lets the current blocklist drop what it blocks. Logging a submitted
//! search goes through [`Autocomplete::record`] to the analytics log.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::cache::TrieCache;
use crate::config::AutocompleteConfig;
use crate::error::{InputError, LogError, SuggestError};
use crate::filter::{Blocklist, Filter};
use crate::log::QueryLogWriter;
use crate::normalize::{Prefix, Query};
use crate::trie::{MAX_K, Suggestion, Trie};

/// Everything one autocomplete service shares between requests.
#[derive(Debug)]
pub struct Autocomplete {
    config: AutocompleteConfig,
    cache: TrieCache,
    filter: Filter,
    log: Option<Mutex<QueryLogWriter>>,
}

/// Why a submitted query was not logged.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The query text is refused.
    #[error("bad query: {source}")]
    Query {
        /// Why.
        #[from]
        source: InputError,
    },
    /// This service has no analytics log.
    #[error("this service keeps no query log")]
    NoLog,
    /// Appending failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl Autocomplete {
    /// A service over `trie` with `blocklist`, logging nowhere. Requests may ask for up
    /// to `config.max_k` suggestions, clamped to `config.cached_k` (a node holds no more).
    pub fn new(config: AutocompleteConfig, trie: Trie, blocklist: Blocklist) -> Autocomplete {
        Autocomplete {
            config,
            cache: TrieCache::new(trie),
            filter: Filter::new(blocklist),
            log: None,
        }
    }

    /// Also appends submitted queries to the analytics log at `path`.
    pub fn with_log(mut self, path: &Path) -> Result<Autocomplete, LogError> {
        self.log = Some(Mutex::new(QueryLogWriter::open(path)?));
        Ok(self)
    }

    /// The settings.
    pub fn config(&self) -> &AutocompleteConfig {
        &self.config
    }

    /// The trie cache (swap a rebuilt trie in with [`TrieCache::replace`]).
    pub fn cache(&self) -> &TrieCache {
        &self.cache
    }

    /// The filter (hot-swap the blocklist with [`Filter::replace`]).
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The top `k` (default `config.default_k`) suggestions for the raw prefix.
    pub fn suggest(
        &self,
        raw_prefix: &str,
        k: Option<usize>,
    ) -> Result<Vec<Suggestion>, SuggestError> {
        let (prefix, k) = parse_request(&self.config, raw_prefix, k)?;
        let trie: Arc<Trie> = self.cache.current();
        let blocklist = self.filter.current();
        Ok(trie.top_k_filtered(prefix.as_key(), k, |key| !blocklist.blocks(key)))
    }

    /// Appends a submitted search to the analytics log, stamped `unix_ms`.
    pub fn record(&self, raw_query: &str, unix_ms: u64) -> Result<(), RecordError> {
        let query = Query::parse(raw_query)?;
        let Some(log) = &self.log else { return Err(RecordError::NoLog) };
        // A poisoned lock means a panic mid-append; the file is append-only, so the worst
        // left behind is one torn line that the reader skips: carry on.
        let mut writer = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.append(unix_ms, &query)?;
        writer.flush()?;
        Ok(())
    }
}

/// Parses a request's prefix and `k` (default `config.default_k`) as a single node does:
/// the shard router checks requests with it before fanning out, so both refuse alike.
pub fn parse_request(
    config: &AutocompleteConfig,
    raw_prefix: &str,
    k: Option<usize>,
) -> Result<(Prefix, usize), SuggestError> {
    let max_k = config.max_k.min(config.cached_k).clamp(1, MAX_K);
    let k = k.unwrap_or(config.default_k.clamp(1, max_k));
    if k == 0 || k > max_k {
        return Err(SuggestError::InvalidK { k, max: max_k });
    }
    Ok((Prefix::parse(raw_prefix, config.max_prefix_chars)?, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie::TrieBuilder;

    fn service(entries: &[(&str, u64)], blocklist: &str) -> Autocomplete {
        let config = AutocompleteConfig::default();
        let mut builder =
            TrieBuilder::new(config.cached_k, config.max_prefix_chars).expect("valid parameters");
        for (text, weight) in entries {
            builder.push(&Query::parse(text).expect("valid query"), *weight).expect("fits");
        }
        Autocomplete::new(config, builder.build(), Blocklist::parse(blocklist).expect("blocklist"))
    }

    fn texts(suggestions: Vec<Suggestion>) -> Vec<String> {
        suggestions.into_iter().map(|suggestion| suggestion.query).collect()
    }

    #[test]
    fn a_blocklisted_term_disappears_at_once_and_results_still_have_k() {
        let entries: Vec<(String, u64)> =
            (0..12).map(|i| (format!("deal {i:02}"), 100 - i)).collect();
        let borrowed: Vec<(&str, u64)> =
            entries.iter().map(|(text, weight)| (text.as_str(), *weight)).collect();
        let service = service(&borrowed, "");
        assert_eq!(texts(service.suggest("deal", Some(5)).expect("ok"))[0], "deal 00");
        service.filter().replace(Blocklist::parse("00\n01\nglob:deal 02").expect("blocklist"));
        let after = texts(service.suggest("deal", Some(5)).expect("ok"));
        assert_eq!(after, vec!["deal 03", "deal 04", "deal 05", "deal 06", "deal 07"]);
        // All ten cached entries blocked: the answer comes from the rest of the subtree.
        service.filter().replace(Blocklist::parse("glob:deal 0?").expect("blocklist"));
        let after = texts(service.suggest("deal", Some(3)).expect("ok"));
        assert_eq!(after, vec!["deal 10", "deal 11"], "only two left");
        service
            .filter()
            .replace(Blocklist::parse("00\n01\n02\n03\n04\n05\n06\n07").expect("blocklist"));
        let after = texts(service.suggest("deal", Some(4)).expect("ok"));
        assert_eq!(after, vec!["deal 08", "deal 09", "deal 10", "deal 11"]);
    }

    #[test]
    fn bad_k_and_bad_prefixes_are_typed_errors() {
        let service = service(&[("a", 1)], "");
        assert_eq!(service.suggest("a", Some(0)), Err(SuggestError::InvalidK { k: 0, max: MAX_K }));
        assert_eq!(
            service.suggest("a", Some(11)),
            Err(SuggestError::InvalidK { k: 11, max: MAX_K })
        );
        assert_eq!(
            service.suggest(" ", None),
            Err(SuggestError::Prefix { source: InputError::Empty })
        );
        assert!(matches!(service.suggest(&"a".repeat(51), None), Err(SuggestError::Prefix { .. })));
    }

    #[test]
    fn the_default_k_is_five() {
        let entries: Vec<(String, u64)> = (0..9).map(|i| (format!("q{i}"), i)).collect();
        let borrowed: Vec<(&str, u64)> =
            entries.iter().map(|(text, weight)| (text.as_str(), *weight)).collect();
        assert_eq!(service(&borrowed, "").suggest("q", None).expect("ok").len(), 5);
    }

    #[test]
    fn recorded_queries_land_in_the_log() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("queries.log");
        let service = service(&[], "").with_log(&path).expect("log opened");
        service.record("  Hello   World ", 42).expect("recorded");
        assert!(matches!(service.record("bad\u{0}", 43), Err(RecordError::Query { .. })));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "42\tHello World\n");
    }
}
