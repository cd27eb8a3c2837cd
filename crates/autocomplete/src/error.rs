//! One error enum per subsystem, with named fields, so a caller matches on what went wrong
//! in the part it called (no catch-all enum).

use std::path::PathBuf;

/// A typed prefix or logged query was refused ([`crate::normalize`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Nothing is left once whitespace is normalised.
    #[error("the text is empty")]
    Empty,
    /// Longer than the limit, counted in characters of the normalised form.
    #[error("the text has {chars} characters, more than the limit of {max}")]
    TooLong {
        /// Characters in the normalised text (or a lower bound when refused early).
        chars: usize,
        /// The limit in force.
        max: usize,
    },
    /// A control character other than whitespace (NUL, ESC, DEL, C1 controls, ...).
    #[error("control character U+{code_point:04X} at character {position}")]
    ControlCharacter {
        /// The character, as a code point.
        code_point: u32,
        /// Its position, in characters from the start of the raw text.
        position: usize,
    },
}

/// A request to the query service was refused ([`crate::service`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuggestError {
    /// The prefix itself is bad.
    #[error("bad prefix: {source}")]
    Prefix {
        /// Why.
        #[from]
        source: InputError,
    },
    /// `k` is 0 or above the configured maximum.
    #[error("k = {k} is outside 1..={max}")]
    InvalidK {
        /// What was asked for.
        k: usize,
        /// The configured maximum.
        max: usize,
    },
}

/// A trie could not be built ([`crate::trie::TrieBuilder`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// `cached_k` is 0 or above [`crate::trie::MAX_K`].
    #[error("cached k = {cached_k} is outside 1..={max}")]
    InvalidCachedK {
        /// What was asked for.
        cached_k: usize,
        /// [`crate::trie::MAX_K`].
        max: usize,
    },
    /// `max_prefix_chars` is 0 or above [`crate::normalize::MAX_PREFIX_CHARS_LIMIT`].
    #[error("max prefix chars = {max_prefix_chars} is outside 1..={max}")]
    InvalidMaxPrefixChars {
        /// What was asked for.
        max_prefix_chars: usize,
        /// [`crate::normalize::MAX_PREFIX_CHARS_LIMIT`].
        max: usize,
    },
    /// The text pool or the query count no longer fits the trie's 32-bit indices.
    #[error(
        "the trie would hold {queries} queries and {text_bytes} bytes of text, past its 32-bit indices"
    )]
    TooLarge {
        /// Distinct queries pushed so far.
        queries: usize,
        /// Bytes of query text pushed so far.
        text_bytes: usize,
    },
}

/// The Trie DB snapshot file could not be written or read ([`crate::snapshot`]).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Opening, reading, writing, syncing or renaming failed.
    #[error("snapshot I/O on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic bytes.
    #[error("{path} is not an autocomplete snapshot (bad magic)")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// Written by a format version this code does not read.
    #[error("{path} has snapshot format version {found}, this build reads {expected}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// [`crate::snapshot::FORMAT_VERSION`].
        expected: u32,
    },
    /// The CRC-32 trailer does not match the bytes: the file is damaged or torn.
    #[error("{path} is corrupt: checksum {found:#010x}, expected {expected:#010x}")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The checksum computed over the bytes read.
        found: u32,
        /// The checksum stored in the trailer.
        expected: u32,
    },
    /// The file ends before a section it announces.
    #[error("{path} is truncated")]
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// The bytes check out but describe an impossible trie (an invariant is broken).
    #[error("{path} holds an invalid trie: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The invariant that failed.
        reason: String,
    },
}

/// The analytics log could not be written or read ([`crate::log`]).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Opening, reading, writing or syncing failed.
    #[error("query log I/O on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A value read from a [`crate::prefix_store::PrefixStore`] could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixValueError {
    /// The value ends before an entry it announces.
    #[error("prefix value truncated at byte {offset}")]
    Truncated {
        /// Where the value ran out.
        offset: usize,
    },
    /// A suggestion's text is not UTF-8.
    #[error("prefix value holds non-UTF-8 text at byte {offset}")]
    NotUtf8 {
        /// Where the text starts.
        offset: usize,
    },
    /// More entries than [`crate::trie::MAX_K`].
    #[error("prefix value holds {count} entries, more than {max}")]
    TooMany {
        /// Entries announced.
        count: usize,
        /// [`crate::trie::MAX_K`].
        max: usize,
    },
}

/// A blocklist could not be parsed ([`crate::filter`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A rule normalises to nothing, or is too long, or holds control characters.
    #[error("blocklist line {line}: {source}")]
    BadRule {
        /// 1-based line number.
        line: usize,
        /// Why.
        source: InputError,
    },
    /// More rules than [`crate::filter::MAX_RULES`].
    #[error("the blocklist has more than {max} rules")]
    TooManyRules {
        /// [`crate::filter::MAX_RULES`].
        max: usize,
    },
}

/// A shard map could not be built ([`crate::shard`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Zero shards, or more than [`crate::shard::MAX_SHARDS`].
    #[error("{shards} shards is outside 1..={max}")]
    InvalidShardCount {
        /// What was asked for.
        shards: usize,
        /// [`crate::shard::MAX_SHARDS`].
        max: usize,
    },
    /// Boundaries handed in are not strictly increasing, or the first is empty.
    #[error("shard boundaries must be non-empty and strictly increasing (at {index})")]
    UnsortedBoundaries {
        /// The first offending boundary.
        index: usize,
    },
    /// A shard index past the map's last shard.
    #[error("shard {index} does not exist in a map of {shards} shards")]
    IndexOutOfRange {
        /// What was asked for.
        index: usize,
        /// Shards in the map.
        shards: usize,
    },
    /// The data has too few distinct queries (or too skewed a load) to cut it in this
    /// many non-empty shards.
    #[error("the data can be cut in only {made} shards, not {shards}")]
    TooFewQueries {
        /// What was asked for.
        shards: usize,
        /// How many the balanced cut made.
        made: usize,
    },
}

/// The word list for the query-log generator could not be parsed ([`crate::generator`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordListError {
    /// A line is not `language<TAB>word<TAB>per_billion`.
    #[error("word list line {line}: expected language, word and frequency separated by tabs")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// No usable word for one of the two pools (ASCII, non-ASCII) the generator needs.
    #[error("the word list has no {pool} words")]
    EmptyPool {
        /// "ASCII" or "non-ASCII".
        pool: &'static str,
    },
    /// The words cannot make as many distinct queries as asked within the attempt limit.
    #[error("made only {made} distinct queries of the {wanted} asked for")]
    TooFewDistinct {
        /// Distinct queries made.
        made: usize,
        /// Distinct queries asked for.
        wanted: usize,
    },
}
