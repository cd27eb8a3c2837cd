//! Redis's glob patterns for `KEYS`, `SCAN … MATCH` and `CONFIG GET`: `*` (any run),
//! `?` (one byte), `[abc]`, `[^abc]`, `[a-z]` (one byte of a class) and `\x` (`x` itself).
//! Bytes, not characters, as in Redis.

/// Whether `text` matches `pattern` in full.
///
/// Linear backtracking over the last `*` only: every other token matches exactly one
/// byte, so resuming after the most recent star is enough (no exponential blow-up on
/// patterns like `*a*a*a*b`).
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut pattern_at, mut text_at) = (0, 0);
    // Where to resume after a mismatch: the token after the last `*`, and the text
    // position that star currently absorbs up to.
    let mut resume: Option<(usize, usize)> = None;
    while text_at < text.len() {
        if let Some(&token) = pattern.get(pattern_at) {
            if token == b'*' {
                while pattern.get(pattern_at) == Some(&b'*') {
                    pattern_at += 1;
                }
                if pattern_at == pattern.len() {
                    return true;
                }
                resume = Some((pattern_at, text_at));
                continue;
            }
            if let Some(next) = single(pattern, pattern_at, text[text_at]) {
                pattern_at = next;
                text_at += 1;
                continue;
            }
        }
        match resume {
            Some((star_next, absorbed)) => {
                pattern_at = star_next;
                text_at = absorbed + 1;
                resume = Some((star_next, absorbed + 1));
            }
            None => return false,
        }
    }
    while pattern.get(pattern_at) == Some(&b'*') {
        pattern_at += 1;
    }
    pattern_at == pattern.len()
}

/// If the one-byte token at `at` (not `*`) matches `byte`, the index after the token.
fn single(pattern: &[u8], at: usize, byte: u8) -> Option<usize> {
    match pattern[at] {
        b'?' => Some(at + 1),
        b'\\' if at + 1 < pattern.len() => (pattern[at + 1] == byte).then_some(at + 2),
        b'[' => {
            let (matched, next) = class(pattern, at + 1, byte);
            matched.then_some(next)
        }
        literal => (literal == byte).then_some(at + 1),
    }
}

/// Matches `byte` against the class starting at `at` (just after `[`); returns whether it
/// matched and the index after the closing `]` (or the pattern's end if unterminated,
/// which Redis also accepts).
fn class(pattern: &[u8], mut at: usize, byte: u8) -> (bool, usize) {
    let negated = pattern.get(at) == Some(&b'^');
    if negated {
        at += 1;
    }
    let mut matched = false;
    while at < pattern.len() && pattern[at] != b']' {
        if pattern[at] == b'\\' && at + 1 < pattern.len() {
            matched |= pattern[at + 1] == byte;
            at += 2;
        } else if at + 2 < pattern.len() && pattern[at + 1] == b'-' && pattern[at + 2] != b']' {
            let (low, high) = (pattern[at].min(pattern[at + 2]), pattern[at].max(pattern[at + 2]));
            matched |= (low..=high).contains(&byte);
            at += 3;
        } else {
            matched |= pattern[at] == byte;
            at += 1;
        }
    }
    let next = if at < pattern.len() { at + 1 } else { at };
    (matched != negated, next)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::matches;

    #[test]
    fn stars_question_marks_classes_and_escapes_match_as_in_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("user:*", "user:42", true),
            ("user:*", "users:42", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("[abc", "b", true),
            ("", "", true),
            ("", "a", false),
        ];
        for &(pattern, text, expected) in cases {
            assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }

    /// The same patterns through a plain recursive matcher (exponential, but fine on
    /// short inputs) as the model.
    fn model(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|skip| model(rest, &text[skip..])),
            Some((b'?', rest)) => !text.is_empty() && model(rest, &text[1..]),
            Some((&literal, rest)) => text.first() == Some(&literal) && model(rest, &text[1..]),
        }
    }

    proptest! {
        #[test]
        fn star_and_question_mark_patterns_agree_with_a_recursive_model(
            pattern in "[ab*?]{0,8}",
            text in "[ab]{0,10}",
        ) {
            prop_assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes()),
                model(pattern.as_bytes(), text.as_bytes())
            );
        }
    }
}
