//! The filter layer of book 13.3.4: a blocklist between the trie cache and the response.
//!
//! A [`Blocklist`] is a set of rules over the matching key (so "BadWord" and "badword"
//! are one rule): a **term** blocks every query that holds it as whole words (bounded by
//! the start, the end, or a character that is not alphanumeric), a **glob** (`*` any run,
//! `?` one character) blocks every query it matches whole. [`Filter`] holds the current
//! blocklist behind an atomic pointer, so replacing it takes effect on the next lookup
//! without blocking one; the pipeline also drops blocked queries at the next rebuild.
//!
//! The text format ([`Blocklist::parse`]) is one rule a line: `glob:PATTERN` or a term;
//! blank lines and lines starting with `#` are skipped.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::error::{FilterError, InputError};
use crate::normalize::Query;

/// Most rules in one blocklist: every suggestion is checked against the globs and phrase
/// terms one by one, so their number bounds the filter's cost.
pub const MAX_RULES: usize = 10_000;

/// One blocklist rule, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Blocks queries holding these words.
    Term(String),
    /// Blocks queries matching this pattern whole.
    Glob(String),
}

/// A parsed, normalised blocklist.
#[derive(Debug, Clone, Default)]
pub struct Blocklist {
    /// Single-word terms: checked by splitting the query into words.
    words: HashSet<String>,
    /// Terms of several words (or with inner punctuation): substring at word boundaries.
    phrases: Vec<String>,
    /// Glob patterns, as characters.
    globs: Vec<Vec<char>>,
    rule_count: usize,
}

impl Blocklist {
    /// A blocklist of `rules`, each normalised like a query.
    pub fn new(rules: impl IntoIterator<Item = Rule>) -> Result<Blocklist, FilterError> {
        let mut blocklist = Blocklist::default();
        for (index, rule) in rules.into_iter().enumerate() {
            blocklist
                .add(rule)
                .map_err(|source| FilterError::BadRule { line: index + 1, source })?;
            if blocklist.rule_count > MAX_RULES {
                return Err(FilterError::TooManyRules { max: MAX_RULES });
            }
        }
        Ok(blocklist)
    }

    /// Parses the text format (see the module docs).
    pub fn parse(text: &str) -> Result<Blocklist, FilterError> {
        let mut blocklist = Blocklist::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rule = match line.strip_prefix("glob:") {
                Some(pattern) => Rule::Glob(pattern.to_owned()),
                None => Rule::Term(line.to_owned()),
            };
            blocklist
                .add(rule)
                .map_err(|source| FilterError::BadRule { line: index + 1, source })?;
            if blocklist.rule_count > MAX_RULES {
                return Err(FilterError::TooManyRules { max: MAX_RULES });
            }
        }
        Ok(blocklist)
    }

    fn add(&mut self, rule: Rule) -> Result<(), InputError> {
        match rule {
            Rule::Term(term) => {
                let key = Query::parse(&term)?.key().to_owned();
                if key.chars().all(char::is_alphanumeric) {
                    self.words.insert(key);
                } else {
                    self.phrases.push(key);
                }
            }
            Rule::Glob(pattern) => self.globs.push(Query::parse(&pattern)?.key().chars().collect()),
        }
        self.rule_count += 1;
        Ok(())
    }

    /// Rules held.
    pub fn len(&self) -> usize {
        self.rule_count
    }

    /// True when nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.rule_count == 0
    }

    /// Whether the query with matching key `key` must not be shown.
    pub fn blocks(&self, key: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        if !self.words.is_empty()
            && key.split(|c: char| !c.is_alphanumeric()).any(|word| self.words.contains(word))
        {
            return true;
        }
        if self.phrases.iter().any(|phrase| contains_at_word_boundaries(key, phrase)) {
            return true;
        }
        self.globs.iter().any(|glob| glob_matches(glob, key))
    }
}

fn contains_at_word_boundaries(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Wildcard match with one backtrack point: O(text × pattern) worst case, no recursion,
/// no allocation (the text is walked by byte offsets, a character at a time).
fn glob_matches(pattern: &[char], text: &str) -> bool {
    let next = |at: usize| text[at..].chars().next();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = next(t) {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == c) {
            p += 1;
            t += c.len_utf8();
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            let skipped = next(star_t).map_or(1, char::len_utf8);
            p = star_p + 1;
            t = star_t + skipped;
            star = Some((star_p, t));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The hot-swappable blocklist the query service consults on every lookup.
#[derive(Debug, Default)]
pub struct Filter {
    current: ArcSwap<Blocklist>,
}

impl Filter {
    /// A filter starting with `blocklist`.
    pub fn new(blocklist: Blocklist) -> Filter {
        Filter { current: ArcSwap::from_pointee(blocklist) }
    }

    /// The blocklist in force now.
    pub fn current(&self) -> Arc<Blocklist> {
        self.current.load_full()
    }

    /// Replaces the blocklist; the next lookup uses the new one.
    pub fn replace(&self, blocklist: Blocklist) {
        self.current.store(Arc::new(blocklist));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Blocklist {
        Blocklist::parse(text).expect("valid blocklist")
    }

    #[test]
    fn a_term_blocks_whole_words_in_any_case_but_not_inside_other_words() {
        let blocklist = list("BadWord\n");
        assert!(blocklist.blocks("badword"));
        assert!(blocklist.blocks("free badword pics"));
        assert!(blocklist.blocks("badword-fan"));
        assert!(!blocklist.blocks("badwords"));
        assert!(!blocklist.blocks("goodword"));
    }

    #[test]
    fn a_phrase_term_matches_at_word_boundaries() {
        let blocklist = list("bad phrase");
        assert!(blocklist.blocks("a bad phrase here"));
        assert!(!blocklist.blocks("a bad phrases"));
    }

    #[test]
    fn globs_match_the_whole_key_including_cjk() {
        let blocklist = list("# comment\n\nglob:*坏词*\nglob:cas?no *");
        assert!(blocklist.blocks("这是坏词吗"));
        assert!(blocklist.blocks("casino online"));
        assert!(blocklist.blocks("casono x"));
        assert!(!blocklist.blocks("casino"));
        assert_eq!(blocklist.len(), 2);
    }

    #[test]
    fn accented_terms_match_their_decomposed_and_upper_case_forms() {
        let blocklist = list("café");
        assert!(blocklist.blocks(Query::parse("CAFE\u{301} noir").expect("query").key()));
    }

    #[test]
    fn bad_rules_are_refused_with_their_line() {
        assert_eq!(
            Blocklist::parse("ok\n  \nbad\u{7}").map(|list| list.len()),
            Err(FilterError::BadRule {
                line: 3,
                source: InputError::ControlCharacter { code_point: 7, position: 3 }
            })
        );
    }

    /// The obvious recursive definition, exponential but fine for short strings.
    fn reference_glob(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| reference_glob(rest, &text[skip..])),
            Some((first, rest)) => text.split_first().is_some_and(|(c, tail)| {
                (*first == '?' || first == c) && reference_glob(rest, tail)
            }),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_matching_agrees_with_the_recursive_definition(
            pattern in "[ab*?é]{0,6}",
            text in "[abé]{0,8}",
        ) {
            let pattern: Vec<char> = pattern.chars().collect();
            let chars: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(glob_matches(&pattern, &text), reference_glob(&pattern, &chars));
        }
    }

    #[test]
    fn replacing_the_filter_takes_effect_at_once() {
        let filter = Filter::new(Blocklist::default());
        assert!(!filter.current().blocks("spam"));
        filter.replace(list("spam"));
        assert!(filter.current().blocks("spam"));
    }
}
