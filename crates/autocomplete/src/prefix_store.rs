//! The Trie DB as prefix → top-k key-value pairs (book figure 13-10, the key-value form).
//!
//! Every prefix the service can be asked (every character prefix of every query, up to
//! the trie's depth) becomes one pair: key = the prefix's matching key as UTF-8, value =
//! its cached suggestions, encoded by [`encode_value`]. Stores implement the byte-level
//! [`PrefixStore`] trait, so the same export writes to the in-memory [`MemoryPrefixStore`]
//! here and to the `kv` engine when the service is wired to it.
//!
//! Value format: count `u8`, then per suggestion weight `u64` LE, length `u16` LE, UTF-8.

use std::collections::BTreeMap;
use std::convert::Infallible;

use crate::error::PrefixValueError;
use crate::trie::{MAX_K, Suggestion, Trie};

/// A byte key-value store the prefix table is written to and read from.
pub trait PrefixStore {
    /// What the store fails with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Stores `value` under `key`, replacing any previous value.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Self::Error>;

    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// The in-memory store: a `BTreeMap`, ordered like the kv engine's keys.
#[derive(Debug, Default, Clone)]
pub struct MemoryPrefixStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryPrefixStore {
    /// An empty store.
    pub fn new() -> MemoryPrefixStore {
        MemoryPrefixStore::default()
    }

    /// Pairs held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl PrefixStore for MemoryPrefixStore {
    type Error = Infallible;

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Infallible> {
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Infallible> {
        Ok(self.map.get(key).cloned())
    }
}

/// A prefix-table read failed: the store failed, or its value does not decode.
#[derive(Debug, thiserror::Error)]
pub enum PrefixLookupError<E: std::error::Error + 'static> {
    /// The store's own error.
    #[error("prefix store: {source}")]
    Store {
        /// The cause.
        source: E,
    },
    /// The value under the prefix is damaged.
    #[error("prefix value: {source}")]
    Value {
        /// The cause.
        #[from]
        source: PrefixValueError,
    },
}

/// Writes one pair per distinct prefix of `trie` (up to its depth) into `store`; returns
/// how many pairs were written.
pub fn export<S: PrefixStore>(trie: &Trie, store: &mut S) -> Result<usize, S::Error> {
    let mut written = 0;
    let mut value = Vec::new();
    for id in 0..trie.len() {
        let key = trie.key(id);
        // Prefixes shared with the previous key were written already (keys are sorted).
        let shared = if id == 0 { 0 } else { common_prefix_len(trie.key(id - 1), key) };
        for (chars, (end, c)) in key.char_indices().enumerate() {
            let end = end + c.len_utf8();
            if chars >= trie.max_prefix_chars() {
                break;
            }
            if end <= shared {
                continue;
            }
            let prefix = &key[..end];
            encode_value(&trie.top_k(prefix, trie.cached_k()), &mut value);
            store.put(prefix.as_bytes(), &value)?;
            written += 1;
        }
    }
    Ok(written)
}

/// The top `k` suggestions for the prefix key `prefix`, read from the store.
pub fn lookup<S: PrefixStore>(
    store: &S,
    prefix: &str,
    k: usize,
) -> Result<Vec<Suggestion>, PrefixLookupError<S::Error>> {
    let value =
        store.get(prefix.as_bytes()).map_err(|source| PrefixLookupError::Store { source })?;
    let Some(value) = value else { return Ok(Vec::new()) };
    let mut suggestions = decode_value(&value)?;
    suggestions.truncate(k);
    Ok(suggestions)
}

/// Encodes suggestions (at most [`MAX_K`], texts at most 64 KiB) into `out` (cleared).
pub fn encode_value(suggestions: &[Suggestion], out: &mut Vec<u8>) {
    out.clear();
    let kept: Vec<&Suggestion> = suggestions
        .iter()
        .filter(|suggestion| suggestion.query.len() <= usize::from(u16::MAX))
        .take(MAX_K)
        .collect();
    out.push(kept.len() as u8);
    for suggestion in kept {
        out.extend_from_slice(&suggestion.weight.to_le_bytes());
        out.extend_from_slice(&(suggestion.query.len() as u16).to_le_bytes());
        out.extend_from_slice(suggestion.query.as_bytes());
    }
}

/// Decodes a value written by [`encode_value`].
pub fn decode_value(value: &[u8]) -> Result<Vec<Suggestion>, PrefixValueError> {
    let Some((&count, mut rest)) = value.split_first() else {
        return Err(PrefixValueError::Truncated { offset: 0 });
    };
    if usize::from(count) > MAX_K {
        return Err(PrefixValueError::TooMany { count: usize::from(count), max: MAX_K });
    }
    let mut suggestions = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let offset = value.len() - rest.len();
        let (weight, after) =
            rest.split_at_checked(8).ok_or(PrefixValueError::Truncated { offset })?;
        let (len, after) =
            after.split_at_checked(2).ok_or(PrefixValueError::Truncated { offset: offset + 8 })?;
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        let (text, after) = after
            .split_at_checked(len)
            .ok_or(PrefixValueError::Truncated { offset: offset + 10 })?;
        let query = std::str::from_utf8(text)
            .map_err(|_| PrefixValueError::NotUtf8 { offset: offset + 10 })?;
        let mut weight_bytes = [0u8; 8];
        weight_bytes.copy_from_slice(weight);
        suggestions
            .push(Suggestion { query: query.to_owned(), weight: u64::from_le_bytes(weight_bytes) });
        rest = after;
    }
    if !rest.is_empty() {
        return Err(PrefixValueError::Truncated { offset: value.len() - rest.len() });
    }
    Ok(suggestions)
}

fn common_prefix_len(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_the_codec() {
        let suggestions = vec![
            Suggestion { query: "東京 tower".into(), weight: 7 },
            Suggestion { query: String::new(), weight: u64::MAX },
        ];
        let mut bytes = Vec::new();
        encode_value(&suggestions, &mut bytes);
        assert_eq!(decode_value(&bytes), Ok(suggestions));
    }

    #[test]
    fn damaged_values_are_typed_errors() {
        let mut bytes = Vec::new();
        encode_value(&[Suggestion { query: "abc".into(), weight: 1 }], &mut bytes);
        for len in 0..bytes.len() {
            assert!(decode_value(&bytes[..len]).is_err(), "{len} bytes accepted");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_value(&trailing).is_err());
        assert_eq!(decode_value(&[11]), Err(PrefixValueError::TooMany { count: 11, max: MAX_K }));
        let mut not_utf8 = bytes;
        let last = not_utf8.len() - 1;
        not_utf8[last] = 0xff;
        assert_eq!(decode_value(&not_utf8), Err(PrefixValueError::NotUtf8 { offset: 11 }));
    }
}
