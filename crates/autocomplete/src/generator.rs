//! A seeded generator of Zipf-distributed, multi-word query logs from a real word list.
//!
//! The word list is `data/words.tsv`: the most frequent words of English, French, German,
//! Spanish, Chinese and Japanese with their frequencies, exported from the `wordfreq`
//! package by `bench/autocomplete-words.py` (its header says how) and compiled in, so
//! tests and benches need neither Python nor a download.
//!
//! [`QueryLogGenerator::new`] makes `distinct` distinct queries of one to four words, each
//! word drawn by its real frequency within one language; a chosen fraction are non-ASCII
//! (accented words, or Chinese and Japanese written without spaces). The log then draws
//! queries by a Zipf law over them (rank r is drawn with probability ∝ 1 / r^s), and
//! writes a tenth of the lines capitalised, as people type them. Everything comes from
//! one seed: the same seed gives the same log, byte for byte.

use std::collections::HashSet;
use std::io::Write;

use crate::error::WordListError;

/// The committed word list.
pub const BUNDLED_WORDS: &str = include_str!("../data/words.tsv");

/// Distinct-query attempts per query asked for before giving up: bounds the loop when
/// the words cannot make that many distinct combinations.
const ATTEMPTS_PER_QUERY: usize = 50;

/// One word and how common it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// ISO 639-1 language code.
    pub language: String,
    /// The word.
    pub text: String,
    /// Occurrences per billion words.
    pub per_billion: u64,
}

/// A parsed word list.
#[derive(Debug, Clone, PartialEq)]
pub struct WordList {
    words: Vec<Word>,
}

impl WordList {
    /// The word list compiled into the crate.
    pub fn bundled() -> Result<WordList, WordListError> {
        WordList::parse(BUNDLED_WORDS)
    }

    /// Parses `language<TAB>word<TAB>per_billion` lines (`#` lines are comments).
    pub fn parse(text: &str) -> Result<WordList, WordListError> {
        let mut words = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let bad = || WordListError::BadLine { line: index + 1 };
            let mut fields = line.split('\t');
            let (Some(language), Some(word), Some(frequency), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad());
            };
            let per_billion = frequency.parse().map_err(|_| bad())?;
            if word.is_empty() || word.chars().any(char::is_control) {
                return Err(bad());
            }
            words.push(Word { language: language.to_owned(), text: word.to_owned(), per_billion });
        }
        Ok(WordList { words })
    }

    /// All words.
    pub fn words(&self) -> &[Word] {
        &self.words
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorSpec {
    /// Distinct queries to make.
    pub distinct: usize,
    /// Fraction (0..=1) of distinct queries that hold non-ASCII characters.
    pub non_ascii_fraction: f64,
    /// The Zipf exponent `s` of the log (1.0 is the classic law of search queries).
    pub zipf_exponent: f64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        GeneratorSpec { distinct: 10_000, non_ascii_fraction: 0.2, zipf_exponent: 1.0, seed: 13 }
    }
}

/// SplitMix64: tiny, fast, and the same sequence on every platform and version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Words of one language pool, with a cumulative distribution to draw by frequency.
#[derive(Debug, Clone)]
struct Pool {
    /// Joins words with a space (alphabetic scripts) or with nothing (zh, ja).
    spaced: bool,
    words: Vec<String>,
    cumulative: Vec<f64>,
    /// The same for this language's ASCII words only.
    ascii_words: Vec<String>,
    ascii_cumulative: Vec<f64>,
    /// The same for this language's non-ASCII words only.
    non_ascii_words: Vec<String>,
    non_ascii_cumulative: Vec<f64>,
    language: String,
}

fn draw<'a>(words: &'a [String], cumulative: &[f64], rng: &mut SplitMix64) -> &'a str {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let target = rng.next_f64() * total;
    let index =
        cumulative.partition_point(|value| *value <= target).min(words.len().saturating_sub(1));
    &words[index]
}

/// Makes distinct queries, then draws a Zipf-distributed log of them.
#[derive(Debug, Clone)]
pub struct QueryLogGenerator {
    rng: SplitMix64,
    queries: Vec<String>,
    /// Cumulative Zipf weights over query ranks.
    cumulative: Vec<f64>,
}

impl QueryLogGenerator {
    /// Makes `spec.distinct` distinct queries from `words`.
    pub fn new(words: &WordList, spec: GeneratorSpec) -> Result<QueryLogGenerator, WordListError> {
        let mut rng = SplitMix64::new(spec.seed);
        let pools = pools(words);
        // ASCII queries are English where there is English; non-ASCII ones come from the
        // other languages (accents, CJK), one word at least being non-ASCII.
        let english: Vec<&Pool> = pools
            .iter()
            .filter(|pool| pool.language == "en" && !pool.ascii_words.is_empty())
            .collect();
        let ascii: Vec<&Pool> = if english.is_empty() {
            pools.iter().filter(|pool| !pool.ascii_words.is_empty()).collect()
        } else {
            english
        };
        let others: Vec<&Pool> = pools
            .iter()
            .filter(|pool| pool.language != "en" && !pool.non_ascii_words.is_empty())
            .collect();
        let non_ascii: Vec<&Pool> = if others.is_empty() {
            pools.iter().filter(|pool| !pool.non_ascii_words.is_empty()).collect()
        } else {
            others
        };
        if ascii.is_empty() {
            return Err(WordListError::EmptyPool { pool: "ASCII" });
        }
        if non_ascii.is_empty() && spec.non_ascii_fraction > 0.0 {
            return Err(WordListError::EmptyPool { pool: "non-ASCII" });
        }
        let mut seen = HashSet::with_capacity(spec.distinct);
        let mut queries = Vec::with_capacity(spec.distinct);
        let attempts = spec.distinct.saturating_mul(ATTEMPTS_PER_QUERY).saturating_add(1000);
        for _ in 0..attempts {
            if queries.len() == spec.distinct {
                break;
            }
            let want_non_ascii = rng.next_f64() < spec.non_ascii_fraction;
            let query = if want_non_ascii {
                let pool = non_ascii[(rng.next_u64() % non_ascii.len() as u64) as usize];
                make_query(pool, true, &mut rng)
            } else {
                let pool = ascii[(rng.next_u64() % ascii.len() as u64) as usize];
                make_query(pool, false, &mut rng)
            };
            if seen.insert(query.clone()) {
                queries.push(query);
            }
        }
        if queries.len() < spec.distinct {
            return Err(WordListError::TooFewDistinct {
                made: queries.len(),
                wanted: spec.distinct,
            });
        }
        drop(seen);
        let mut cumulative = Vec::with_capacity(queries.len());
        let mut total = 0.0;
        for rank in 1..=queries.len() {
            total += 1.0 / (rank as f64).powf(spec.zipf_exponent);
            cumulative.push(total);
        }
        Ok(QueryLogGenerator { rng, queries, cumulative })
    }

    /// The distinct queries, most frequent (rank 1) first.
    pub fn queries(&self) -> &[String] {
        &self.queries
    }

    /// Draws one query by the Zipf law.
    pub fn next_query(&mut self) -> &str {
        draw(&self.queries, &self.cumulative, &mut self.rng)
    }

    /// Writes `lines` log lines (`unix_ms<TAB>query`) with timestamps spread evenly over
    /// `start_ms..start_ms + span_ms`; one line in ten capitalised.
    ///
    /// Every distinct query appears at least once when `lines` allows it (`lines >=
    /// distinct`): a Zipf draw alone leaves most of a long tail unseen (100 M draws over
    /// 10 M queries show only 7.2 M of them), so a log "over D distinct queries" would not
    /// hold D. Each line is a coverage line with probability (queries not yet covered) /
    /// (lines left), which spreads the D coverage lines evenly over the log, in a
    /// stride order that mixes ranks; the other lines are Zipf draws. A query's count is
    /// its Zipf draws plus one.
    pub fn write_log(
        &mut self,
        out: &mut impl Write,
        lines: u64,
        start_ms: u64,
        span_ms: u64,
    ) -> std::io::Result<()> {
        let mut line = String::with_capacity(256);
        let distinct = self.queries.len() as u64;
        let stride = coprime_stride(distinct);
        let mut covered = 0u64;
        for index in 0..lines {
            let unix_ms = start_ms
                + (u128::from(index) * u128::from(span_ms) / u128::from(lines.max(1))) as u64;
            let capitalise = self.rng.next_u64().is_multiple_of(10);
            let uncovered = distinct - covered;
            let cover = uncovered > 0 && self.rng.next_u64() % (lines - index) < uncovered;
            let query = if cover {
                let rank =
                    (u128::from(covered) * u128::from(stride) % u128::from(distinct)) as usize;
                covered += 1;
                &self.queries[rank]
            } else {
                draw(&self.queries, &self.cumulative, &mut self.rng)
            };
            line.clear();
            line.push_str(&unix_ms.to_string());
            line.push('\t');
            let mut chars = query.chars();
            if let (true, Some(first)) = (capitalise, chars.next()) {
                line.extend(first.to_uppercase());
                line.push_str(chars.as_str());
            } else {
                line.push_str(query);
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

/// A stride near the golden ratio of `n` and coprime with it, so `i * stride mod n` visits
/// every index of `0..n` once, ranks far apart one after another.
fn coprime_stride(n: u64) -> u64 {
    if n < 2 {
        return 1;
    }
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut stride = ((n as f64) * 0.618_033_988_75) as u64;
    stride = stride.max(1);
    while gcd(stride, n) != 1 {
        stride += 1;
    }
    stride
}

fn make_query(pool: &Pool, non_ascii: bool, rng: &mut SplitMix64) -> String {
    // 1 word 30 %, 2 words 40 %, 3 words 20 %, 4 words 10 %.
    let roll = rng.next_u64() % 10;
    let word_count = match roll {
        0..=2 => 1,
        3..=6 => 2,
        7..=8 => 3,
        _ => 4,
    };
    let separator = if pool.spaced { " " } else { "" };
    let mut query = String::new();
    let special = if non_ascii { (rng.next_u64() % word_count) as usize } else { usize::MAX };
    for position in 0..word_count as usize {
        if position > 0 {
            query.push_str(separator);
        }
        let word = if position == special {
            draw(&pool.non_ascii_words, &pool.non_ascii_cumulative, rng)
        } else if non_ascii {
            draw(&pool.words, &pool.cumulative, rng)
        } else {
            draw(&pool.ascii_words, &pool.ascii_cumulative, rng)
        };
        query.push_str(word);
    }
    query
}

fn pools(words: &WordList) -> Vec<Pool> {
    let mut languages: Vec<&str> = words.words.iter().map(|word| word.language.as_str()).collect();
    languages.sort_unstable();
    languages.dedup();
    languages
        .into_iter()
        .map(|language| {
            let mine: Vec<&Word> =
                words.words.iter().filter(|word| word.language == language).collect();
            let cumulate = |selected: &[&&Word]| {
                let mut total = 0.0;
                let cumulative: Vec<f64> = selected
                    .iter()
                    .map(|word| {
                        total += word.per_billion.max(1) as f64;
                        total
                    })
                    .collect();
                (selected.iter().map(|word| word.text.clone()).collect::<Vec<_>>(), cumulative)
            };
            let all: Vec<&&Word> = mine.iter().collect();
            let plain: Vec<&&Word> = mine.iter().filter(|word| word.text.is_ascii()).collect();
            let special: Vec<&&Word> = mine.iter().filter(|word| !word.text.is_ascii()).collect();
            let (words, cumulative) = cumulate(&all);
            let (ascii_words, ascii_cumulative) = cumulate(&plain);
            let (non_ascii_words, non_ascii_cumulative) = cumulate(&special);
            Pool {
                spaced: !matches!(language, "zh" | "ja"),
                words,
                cumulative,
                ascii_words,
                ascii_cumulative,
                non_ascii_words,
                non_ascii_cumulative,
                language: language.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_word_list_parses_and_mixes_scripts() {
        let list = WordList::bundled().expect("bundled list parses");
        assert!(list.words().len() > 5000);
        assert!(list.words().iter().any(|word| word.language == "zh"));
        assert!(list.words().iter().any(|word| word.text == "the"));
    }

    #[test]
    fn the_same_seed_gives_the_same_log() {
        let list = WordList::bundled().expect("bundled list parses");
        let spec = GeneratorSpec { distinct: 500, ..GeneratorSpec::default() };
        let mut logs = Vec::new();
        for _ in 0..2 {
            let mut generator = QueryLogGenerator::new(&list, spec).expect("generated");
            let mut out = Vec::new();
            generator.write_log(&mut out, 1000, 0, 1000).expect("written");
            logs.push(out);
        }
        assert_eq!(logs[0], logs[1]);
        let other =
            QueryLogGenerator::new(&list, GeneratorSpec { seed: 14, ..spec }).expect("generated");
        assert_ne!(
            other.queries()[..50],
            QueryLogGenerator::new(&list, spec).expect("generated").queries()[..50]
        );
    }

    #[test]
    fn about_a_fifth_of_queries_are_non_ascii() {
        let list = WordList::bundled().expect("bundled list parses");
        let generator = QueryLogGenerator::new(
            &list,
            GeneratorSpec { distinct: 5000, ..GeneratorSpec::default() },
        )
        .expect("generated");
        let non_ascii = generator.queries().iter().filter(|query| !query.is_ascii()).count();
        assert!((800..=1200).contains(&non_ascii), "{non_ascii} of 5000");
    }

    #[test]
    fn the_log_follows_a_zipf_law() {
        let list = WordList::bundled().expect("bundled list parses");
        let mut generator = QueryLogGenerator::new(
            &list,
            GeneratorSpec { distinct: 1000, ..GeneratorSpec::default() },
        )
        .expect("generated");
        let top = generator.queries()[0].clone();
        let tenth = generator.queries()[9].clone();
        let (mut top_count, mut tenth_count) = (0u32, 0u32);
        for _ in 0..100_000 {
            let query = generator.next_query();
            top_count += u32::from(query == top);
            tenth_count += u32::from(query == tenth);
        }
        // Rank 1 is drawn about ten times as often as rank 10 (1/1 vs 1/10).
        let ratio = f64::from(top_count) / f64::from(tenth_count.max(1));
        assert!((7.0..14.0).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn every_distinct_query_appears_in_a_log_long_enough_to_hold_them() {
        let list = WordList::bundled().expect("bundled list parses");
        let spec = GeneratorSpec { distinct: 3000, ..GeneratorSpec::default() };
        let mut generator = QueryLogGenerator::new(&list, spec).expect("generated");
        let wanted: HashSet<String> =
            generator.queries().iter().map(|query| query.to_lowercase()).collect();
        // 6000 Zipf draws alone over 3000 queries leave about half of the tail unseen.
        let mut out = Vec::new();
        generator.write_log(&mut out, 6000, 0, 1000).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        let seen: HashSet<String> =
            text.lines().map(|line| line.split_once('\t').expect("tab").1.to_lowercase()).collect();
        assert_eq!(text.lines().count(), 6000);
        assert_eq!(seen, wanted);
        // The head is still drawn by the Zipf law: rank 1 far more often than once.
        let top = generator.queries()[0].to_lowercase();
        let top_count =
            text.lines().filter(|line| line.to_lowercase().ends_with(&format!("\t{top}"))).count();
        assert!(top_count > 100, "rank 1 appears {top_count} times");
    }

    #[test]
    fn coverage_strides_visit_every_rank_once() {
        for n in [1u64, 2, 3, 10, 97, 1000, 1024] {
            let stride = coprime_stride(n);
            let visited: HashSet<u64> = (0..n).map(|i| i * stride % n).collect();
            assert_eq!(visited.len() as u64, n, "n {n} stride {stride}");
        }
    }

    #[test]
    fn too_few_words_for_the_distinct_count_is_an_error() {
        let list = WordList::parse("en\ta\t1\nfr\té\t1\n").expect("parses");
        assert!(matches!(
            QueryLogGenerator::new(
                &list,
                GeneratorSpec { distinct: 100, ..GeneratorSpec::default() }
            ),
            Err(WordListError::TooFewDistinct { .. })
        ));
        assert_eq!(WordList::parse("en\tonly two"), Err(WordListError::BadLine { line: 1 }));
    }
}
