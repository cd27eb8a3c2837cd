//! `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]` and `KEYS pattern`.
//!
//! `SCAN` walks the keys in order, `COUNT` (default 10) keys per call, and filters them
//! by `MATCH` afterwards, so a call may return fewer keys than `COUNT`, even none, with a
//! non-zero cursor: exactly Redis's contract. A key present for the whole iteration is
//! returned exactly once (Redis promises at least once). `KEYS` is a full scan, refused
//! beyond [`MAX_KEYS_REPLY`] keys.

use bytes::Bytes;

use super::{syntax_error, wrong_arity};
use crate::db::{Store, parse_integer};
use crate::error::KvError;
use crate::frame::Frame;
use crate::glob;

/// `SCAN`'s default `COUNT`, as Redis.
pub const DEFAULT_SCAN_COUNT: usize = 10;
/// Largest `COUNT` honoured: one call never walks more keys than this.
pub const MAX_SCAN_COUNT: usize = 100_000;
/// Most keys `KEYS` returns; beyond it the reply says to use `SCAN`.
pub const MAX_KEYS_REPLY: usize = 1_000_000;

/// `SCAN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    /// `TYPE`: every key here is a string, so any other type matches nothing.
    strings_only_match: bool,
}

impl Scan {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Scan, Frame> {
        let [cursor, options @ ..] = args else { return Err(wrong_arity("scan")) };
        let cursor = std::str::from_utf8(cursor)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| Frame::error("ERR invalid cursor"))?;
        let mut scan =
            Scan { cursor, pattern: None, count: DEFAULT_SCAN_COUNT, strings_only_match: true };
        let mut options = options.iter();
        while let Some(option) = options.next() {
            let value = options.next().ok_or_else(syntax_error)?;
            match String::from_utf8_lossy(option).to_ascii_uppercase().as_str() {
                "MATCH" => scan.pattern = Some(value.clone()),
                "COUNT" => {
                    let count = parse_integer(value)
                        .ok_or_else(|| Frame::error(KvError::NotAnInteger.resp_message()))?;
                    if count < 1 {
                        return Err(syntax_error());
                    }
                    scan.count = usize::try_from(count).unwrap_or(usize::MAX).min(MAX_SCAN_COUNT);
                }
                "TYPE" => scan.strings_only_match = value.eq_ignore_ascii_case(b"string"),
                _ => return Err(syntax_error()),
            }
        }
        Ok(scan)
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let after = match self.cursor {
            0 => None,
            cursor => match store.take_cursor(cursor) {
                Some(key) => Some(key),
                None => return Ok(Frame::error("ERR invalid cursor")),
            },
        };
        let (keys, more) = store.keys_under(&[], after.as_deref(), self.count)?;
        let next = match (more, keys.last()) {
            (true, Some(last)) => store.issue_cursor(last.clone()),
            _ => 0,
        };
        let matching = keys
            .into_iter()
            .filter(|_| self.strings_only_match)
            .filter(|key| self.pattern.as_ref().is_none_or(|pattern| glob::matches(pattern, key)))
            .map(Frame::bulk)
            .collect();
        Ok(Frame::Array(vec![Frame::bulk(next.to_string()), Frame::Array(matching)]))
    }
}

/// `KEYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pattern: Bytes,
}

impl Keys {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Keys, Frame> {
        match args {
            [pattern] => Ok(Keys { pattern: pattern.clone() }),
            _ => Err(wrong_arity("keys")),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let mut keys = Vec::new();
        let mut too_many = false;
        store.for_each_key(|key| {
            if glob::matches(&self.pattern, key) {
                if keys.len() == MAX_KEYS_REPLY {
                    too_many = true;
                    return false;
                }
                keys.push(Frame::bulk(key.to_vec()));
            }
            true
        })?;
        if too_many {
            return Ok(Frame::error(format!(
                "ERR KEYS would return more than {MAX_KEYS_REPLY} keys; use SCAN"
            )));
        }
        Ok(Frame::Array(keys))
    }
}
