//! Short codes: base62 (book 8.3.2, "base 62 conversion") and the [`ShortCode`] newtype,
//! which can only hold a code that `GET /{code}` may serve.

use std::fmt;

/// The 62 characters of a code, in value order: `0-9`, `a-z`, `A-Z` (the book's table 8-2).
pub const BASE62_ALPHABET: &[u8; 62] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Shortest code accepted (custom aliases included): two characters are too easy to squat.
pub const MIN_CODE_LEN: usize = 3;
/// Longest code accepted: long enough for a base62 `u64` (11) and readable aliases, short
/// enough to stay a *short* URL.
pub const MAX_CODE_LEN: usize = 32;
/// Characters of a hash-derived code (book 8.3.2: "the first 7 characters").
pub const HASH_CODE_LEN: usize = 7;

/// Codes that would shadow the binary's own single-segment routes or console pages, or
/// that users would read as ours. Compared case-insensitively.
pub const RESERVED_CODES: &[&str] = &[
    "api", "healthz", "readyz", "metrics", "openapi", "static", "assets", "admin", "console",
    "login", "logout", "signup", "favicon", "robots", "www", "docs", "help",
];

/// Why a string is not a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Too short or too long.
    #[error("a code must be {MIN_CODE_LEN} to {MAX_CODE_LEN} characters, got {len}")]
    Length {
        /// Characters given.
        len: usize,
    },
    /// A character outside `0-9 a-z A-Z`.
    #[error("a code may only contain 0-9, a-z and A-Z; found {found:?}")]
    Character {
        /// The first offending character.
        found: char,
    },
    /// One of [`RESERVED_CODES`] or a system's page name.
    #[error("{code:?} is reserved (it names one of this server's own pages or routes)")]
    Reserved {
        /// The code given.
        code: String,
    },
}

/// A valid short code: [`MIN_CODE_LEN`]..=[`MAX_CODE_LEN`] base62 characters, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortCode(String);

impl ShortCode {
    /// Parse `text`, refusing bad lengths, characters and reserved words (`reserved` are
    /// extra names, e.g. every system's page, checked like [`RESERVED_CODES`]).
    pub fn parse(text: &str, reserved: &[&str]) -> Result<Self, CodeError> {
        let len = text.chars().count();
        if !(MIN_CODE_LEN..=MAX_CODE_LEN).contains(&len) {
            return Err(CodeError::Length { len });
        }
        if let Some(found) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(CodeError::Character { found });
        }
        let is_reserved = |word: &&str| word.eq_ignore_ascii_case(text);
        if RESERVED_CODES.iter().any(is_reserved) || reserved.iter().any(is_reserved) {
            return Err(CodeError::Reserved { code: text.to_owned() });
        }
        Ok(Self(text.to_owned()))
    }

    /// The base62 code of `id`. A short number is padded with leading `0`s to
    /// [`MIN_CODE_LEN`], and one that spells a reserved word gets one more `0`: base62
    /// never writes a leading zero otherwise, so distinct IDs keep distinct codes.
    pub fn from_id(id: u64) -> Self {
        let mut text = base62_encode(id);
        while text.len() < MIN_CODE_LEN {
            text.insert(0, '0');
        }
        if RESERVED_CODES.iter().any(|word| word.eq_ignore_ascii_case(&text)) {
            text.insert(0, '0');
        }
        Self(text)
    }

    /// A code read back from our own store (validated when it was written).
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `value` in base62, most significant digit first; `0` is `"0"`.
pub fn base62_encode(mut value: u64) -> String {
    // u64::MAX has 11 base62 digits.
    let mut digits = [0u8; 11];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = BASE62_ALPHABET[(value % 62) as usize];
        value /= 62;
        if value == 0 {
            break;
        }
    }
    digits[start..].iter().map(|&byte| char::from(byte)).collect()
}

/// The number a base62 string stands for; `None` for other characters, an empty string
/// or a value above `u64::MAX`.
pub fn base62_decode(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |value, byte| {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'z' => byte - b'a' + 10,
            b'A'..=b'Z' => byte - b'A' + 36,
            _ => return None,
        };
        value.checked_mul(62)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base62_matches_the_books_example() {
        // Book figure 8-6: 11157 in base 62 is "2TX".
        assert_eq!(base62_encode(11157), "2TX");
        assert_eq!(base62_decode("2TX"), Some(11157));
        assert_eq!(base62_encode(0), "0");
        assert_eq!(base62_encode(u64::MAX).len(), 11);
        assert_eq!(base62_decode(&base62_encode(u64::MAX)), Some(u64::MAX));
    }

    #[test]
    fn base62_refuses_foreign_characters_and_overflow() {
        assert_eq!(base62_decode(""), None);
        assert_eq!(base62_decode("ab-c"), None);
        assert_eq!(base62_decode("zzzzzzzzzzzz"), None, "12 digits overflow a u64");
    }

    #[test]
    fn codes_are_checked_for_length_characters_and_reserved_words() {
        assert!(ShortCode::parse("abc", &[]).is_ok());
        assert_eq!(ShortCode::parse("ab", &[]), Err(CodeError::Length { len: 2 }));
        assert_eq!(ShortCode::parse(&"a".repeat(33), &[]), Err(CodeError::Length { len: 33 }));
        assert_eq!(ShortCode::parse("ab-c", &[]), Err(CodeError::Character { found: '-' }));
        assert_eq!(ShortCode::parse("été", &[]), Err(CodeError::Character { found: 'é' }));
        assert!(matches!(ShortCode::parse("API", &[]), Err(CodeError::Reserved { .. })));
        assert!(matches!(ShortCode::parse("healthz", &[]), Err(CodeError::Reserved { .. })));
        assert!(matches!(ShortCode::parse("Ids", &["ids"]), Err(CodeError::Reserved { .. })));
    }

    #[test]
    fn a_small_id_is_padded_and_an_id_spelling_a_reserved_word_is_moved_off_it() {
        assert_eq!(ShortCode::from_id(1).as_str(), "001");
        assert!(ShortCode::parse(ShortCode::from_id(1).as_str(), &[]).is_ok());
        let api = base62_decode("api").unwrap();
        assert_eq!(ShortCode::from_id(api).as_str(), "0api");
        assert_eq!(base62_decode("0api"), Some(api), "still the same number");
    }

    proptest! {
        #[test]
        fn base62_round_trips(value: u64) {
            prop_assert_eq!(base62_decode(&base62_encode(value)), Some(value));
        }

        #[test]
        fn every_id_makes_a_valid_code(id: u64) {
            let code = ShortCode::from_id(id);
            prop_assert!(ShortCode::parse(code.as_str(), &[]).is_ok());
        }
    }
}
