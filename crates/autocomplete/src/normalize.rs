//! Normalisation: the form a prefix and a query are matched in, and the form shown.
//!
//! The **key** (what the trie indexes and prefixes are compared against) is the text in
//! NFC, whitespace runs collapsed to one space, Unicode full case folding applied (so
//! "Straße", "STRASSE" and "strasse" meet), and NFC again (folding can decompose). The
//! **display** form is NFC with whitespace collapsed but case kept: what the user typed,
//! shown back.
//!
//! A [`Prefix`] keeps a trailing space ("car " is the word "car" and then something, so it
//! must not suggest "carpet"); a [`Query`] (a finished search, as logged) is trimmed. Both
//! refuse control characters other than whitespace, and whitespace controls (tab, newline)
//! count as spaces: the log's line format can then never be broken by a query.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::error::InputError;

/// Default maximum prefix length in characters (book 13.3.1: users rarely type long ones).
pub const DEFAULT_MAX_PREFIX_CHARS: usize = 50;

/// Largest `max_prefix_chars` a configuration may set: the trie's depth and every node's
/// cached list are bounded by it, and four bytes a character keep labels within `u8`s.
pub const MAX_PREFIX_CHARS_LIMIT: usize = 60;

/// Longest query accepted into the log, in characters of its normalised form: past this
/// it is not a search somebody typed.
pub const MAX_QUERY_CHARS: usize = 200;

/// Raw bytes looked at before normalising, per allowed character: refuses megabyte inputs
/// before spending work on them (a character is at most 4 bytes, combining marks a few
/// more).
const RAW_BYTES_PER_CHAR_MAX: usize = 16;

/// A normalised, length-checked prefix, ready to look up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix {
    key: String,
    chars: usize,
}

impl Prefix {
    /// Normalises `raw` (leading whitespace dropped, runs collapsed, a trailing space kept)
    /// and checks it is 1..=`max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Prefix, InputError> {
        let collapsed = collapse_whitespace(raw, max_chars, Trailing::Keep)?;
        let key = fold(&collapsed).into_owned();
        let chars = key.chars().count();
        if chars == 0 {
            return Err(InputError::Empty);
        }
        if chars > max_chars {
            return Err(InputError::TooLong { chars, max: max_chars });
        }
        Ok(Prefix { key, chars })
    }

    /// The key to match against the trie.
    pub fn as_key(&self) -> &str {
        &self.key
    }

    /// Length in characters.
    pub fn chars(&self) -> usize {
        self.chars
    }
}

/// A finished search: its matching key and its display form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    key: String,
    display: String,
}

impl Query {
    /// Normalises `raw` (trimmed, whitespace runs collapsed) and checks it is
    /// 1..=[`MAX_QUERY_CHARS`] characters.
    pub fn parse(raw: &str) -> Result<Query, InputError> {
        let (display, key) = normalize_query(raw)?;
        Ok(Query { key: key.into_owned(), display: display.into_owned() })
    }

    /// The matching key (NFC, case-folded).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The display form (NFC, case kept).
    pub fn display(&self) -> &str {
        &self.display
    }
}

/// [`Query::parse`] without allocating when the text is already normal (the common
/// case: lower-case ASCII with single spaces): (display, key).
pub(crate) fn normalize_query(raw: &str) -> Result<(Cow<'_, str>, Cow<'_, str>), InputError> {
    let collapsed = collapse_whitespace(raw, MAX_QUERY_CHARS, Trailing::Trim)?;
    let display = match collapsed {
        Cow::Borrowed(text) => nfc(text),
        Cow::Owned(text) => Cow::Owned(nfc(&text).into_owned()),
    };
    let key = match &display {
        Cow::Borrowed(text) => fold(text),
        Cow::Owned(text) => Cow::Owned(fold(text).into_owned()),
    };
    if key.is_empty() {
        return Err(InputError::Empty);
    }
    // A character is at least a byte, so short texts need no counting.
    let fits =
        |text: &str| text.len() <= MAX_QUERY_CHARS || text.chars().count() <= MAX_QUERY_CHARS;
    if !fits(&key) || !fits(&display) {
        let chars = key.chars().count().max(display.chars().count());
        return Err(InputError::TooLong { chars, max: MAX_QUERY_CHARS });
    }
    Ok((display, key))
}

/// The matching key of already-collapsed text: NFC, full case folding, NFC again.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return Cow::Owned(text.to_ascii_lowercase());
        }
        return Cow::Borrowed(text);
    }
    let folded = caseless::default_case_fold_str(&nfc(text));
    match nfc(&folded) {
        Cow::Borrowed(_) => Cow::Owned(folded),
        Cow::Owned(renormalised) => Cow::Owned(renormalised),
    }
}

fn nfc(text: &str) -> Cow<'_, str> {
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trailing {
    Keep,
    Trim,
}

/// Drops leading whitespace, collapses every whitespace run to one space (the last one
/// kept or trimmed), refuses other control characters and inputs far past `max_chars`.
fn collapse_whitespace(
    raw: &str,
    max_chars: usize,
    trailing: Trailing,
) -> Result<Cow<'_, str>, InputError> {
    if raw.len() > max_chars.saturating_mul(RAW_BYTES_PER_CHAR_MAX) {
        return Err(InputError::TooLong { chars: raw.len() / 4, max: max_chars });
    }
    let clean = raw.chars().all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace()))
        && !raw.starts_with(' ')
        && !raw.contains("  ")
        && (trailing == Trailing::Keep || !raw.ends_with(' '));
    if clean {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for (position, c) in raw.chars().enumerate() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() {
            return Err(InputError::ControlCharacter { code_point: u32::from(c), position });
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    if pending_space && trailing == Trailing::Keep {
        out.push(' ');
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        Prefix::parse(raw, DEFAULT_MAX_PREFIX_CHARS).expect("valid prefix").as_key().to_owned()
    }

    #[test]
    fn composed_and_decomposed_accents_give_one_key() {
        assert_eq!(key("caf\u{e9}"), key("cafe\u{301}"));
        assert_eq!(key("CAFÉ"), "café");
    }

    #[test]
    fn full_case_folding_matches_sharp_s_and_final_sigma() {
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("ΟΔΟΣ"), key("οδος"));
    }

    #[test]
    fn a_trailing_space_is_kept_and_runs_collapse() {
        assert_eq!(key("car "), "car ");
        assert_eq!(key("  new \t york  "), "new york ");
        assert_eq!(key("car"), "car");
    }

    #[test]
    fn queries_are_trimmed_and_keep_their_case_for_display() {
        let query = Query::parse("  New   York ").expect("valid query");
        assert_eq!(query.display(), "New York");
        assert_eq!(query.key(), "new york");
    }

    #[test]
    fn cjk_and_emoji_pass_through_unchanged() {
        assert_eq!(key("東京タワー"), "東京タワー");
        assert_eq!(key("pizza 🍕"), "pizza 🍕");
        // A family emoji is joined by ZWJ, a format character, not a control: kept.
        assert_eq!(key("👨\u{200d}👩"), "👨\u{200d}👩");
    }

    #[test]
    fn control_characters_are_refused_with_their_position() {
        assert_eq!(
            Prefix::parse("ab\u{0}c", 50),
            Err(InputError::ControlCharacter { code_point: 0, position: 2 })
        );
        assert_eq!(
            Query::parse("x\u{1b}[31m"),
            Err(InputError::ControlCharacter { code_point: 0x1b, position: 1 })
        );
    }

    #[test]
    fn empty_and_whitespace_only_text_is_refused() {
        assert_eq!(Prefix::parse("", 50), Err(InputError::Empty));
        assert_eq!(Prefix::parse(" \t ", 50), Err(InputError::Empty));
        assert_eq!(Query::parse("   "), Err(InputError::Empty));
    }

    #[test]
    fn prefixes_over_the_limit_are_refused_in_characters_not_bytes() {
        let fifty_cjk = "字".repeat(50);
        assert!(Prefix::parse(&fifty_cjk, 50).is_ok());
        assert_eq!(
            Prefix::parse(&"字".repeat(51), 50),
            Err(InputError::TooLong { chars: 51, max: 50 })
        );
        assert!(matches!(Prefix::parse(&"a".repeat(100_000), 50), Err(InputError::TooLong { .. })));
    }
}
