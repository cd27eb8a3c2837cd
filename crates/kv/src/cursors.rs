//! `SCAN` cursors. Redis's cursor encodes a position in its hash table; ours is a key
//! position in an ordered keyspace, which a 64-bit integer cannot hold, so the server
//! keeps the last key returned under a number and hands the number out.
//!
//! The table is bounded ([`MAX_SCAN_CURSORS`], oldest evicted first); a cursor that was
//! evicted or never issued gets `ERR invalid cursor` instead of silently restarting.
//! Numbers are never reused while the server runs.

use std::collections::{HashMap, VecDeque};

/// Cursors kept at once: a few per connection of a busy server. Each holds one key (at
/// most 64 KiB, usually tens of bytes).
pub const MAX_SCAN_CURSORS: usize = 4096;

/// The table of live cursors.
#[derive(Debug, Default)]
pub struct Cursors {
    positions: HashMap<u64, Vec<u8>>,
    /// Issue order, for evicting the oldest.
    order: VecDeque<u64>,
    last_issued: u64,
}

impl Cursors {
    /// A new cursor resuming after `key`.
    pub fn issue(&mut self, key: Vec<u8>) -> u64 {
        while self.positions.len() >= MAX_SCAN_CURSORS {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.positions.remove(&oldest);
                }
                None => break,
            }
        }
        self.last_issued += 1;
        self.positions.insert(self.last_issued, key);
        self.order.push_back(self.last_issued);
        self.last_issued
    }

    /// Takes the position of `cursor` (each cursor is used once; the reply carries the
    /// next one). `None` if unknown.
    pub fn take(&mut self, cursor: u64) -> Option<Vec<u8>> {
        let key = self.positions.remove(&cursor)?;
        self.order.retain(|&issued| issued != cursor);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_resumes_once_and_is_then_unknown() {
        let mut cursors = Cursors::default();
        let cursor = cursors.issue(b"k".to_vec());
        assert_ne!(cursor, 0, "0 means start and end in SCAN");
        assert_eq!(cursors.take(cursor), Some(b"k".to_vec()));
        assert_eq!(cursors.take(cursor), None);
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_oldest_cursor() {
        let mut cursors = Cursors::default();
        let first = cursors.issue(b"first".to_vec());
        for index in 0..MAX_SCAN_CURSORS {
            cursors.issue(index.to_string().into_bytes());
        }
        assert_eq!(cursors.positions.len(), MAX_SCAN_CURSORS);
        assert_eq!(cursors.take(first), None);
    }
}
