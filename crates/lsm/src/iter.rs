//! Ordered scans: a k-way merge of memtables and tables (newest source first on ties),
//! then a filter that keeps, per key, the newest version visible at the scan's snapshot
//! and hides tombstones and expired values.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Bound;
use std::sync::Arc;

use crate::entry::{Entry, compare_internal};
use crate::error::Result;

/// One sorted input of a merge.
pub(crate) type Source = Box<dyn Iterator<Item = Result<Entry>> + Send>;

struct Head {
    entry: Entry,
    source: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the smallest internal key pops first, and
        // on an exact tie the lower source index (the newer source) wins.
        compare_internal(&other.entry.key, other.entry.seq, &self.entry.key, self.entry.seq)
            .then(other.source.cmp(&self.source))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// Merges sorted sources into one sorted stream of every version.
pub(crate) struct MergeIter {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
    started: bool,
    failed: bool,
}

impl MergeIter {
    /// `sources` newest first.
    pub(crate) fn new(sources: Vec<Source>) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(sources.len()),
            sources,
            started: false,
            failed: false,
        }
    }

    fn refill(&mut self, source: usize) -> Result<()> {
        if let Some(next) = self.sources[source].next() {
            self.heap.push(Head { entry: next?, source });
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Entry>> {
        if !self.started {
            self.started = true;
            for source in 0..self.sources.len() {
                self.refill(source)?;
            }
        }
        let Some(head) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(head.source)?;
        Ok(Some(head.entry))
    }
}

impl Iterator for MergeIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if self.failed {
            return None;
        }
        let result = self.step().transpose();
        if matches!(result, Some(Err(_))) {
            self.failed = true;
        }
        result
    }
}

/// An ordered scan over live key-value pairs, from [`crate::Db::range`],
/// [`crate::Db::prefix`] or the same methods of a [`crate::Snapshot`].
///
/// Consistent: it sees exactly the writes committed before it was created, whatever
/// flushes or compactions happen while it runs. An error (e.g. a corrupted block) is
/// yielded once, then the iterator ends.
pub struct Iter {
    merge: MergeIter,
    snapshot_seq: u64,
    now_ms: u64,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    current_key: Option<Vec<u8>>,
    done: bool,
    /// Keeps the memtables and tables being read alive.
    _pinned: Arc<dyn Send + Sync>,
}

impl std::fmt::Debug for Iter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Iter")
            .field("snapshot_seq", &self.snapshot_seq)
            .field("done", &self.done)
            .finish()
    }
}

impl Iter {
    pub(crate) fn new(
        merge: MergeIter,
        snapshot_seq: u64,
        now_ms: u64,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        pinned: Arc<dyn Send + Sync>,
    ) -> Self {
        Self {
            merge,
            snapshot_seq,
            now_ms,
            start: bounds.0,
            end: bounds.1,
            current_key: None,
            done: false,
            _pinned: pinned,
        }
    }

    fn past_end(&self, key: &[u8]) -> bool {
        match &self.end {
            Bound::Included(end) => key > end.as_slice(),
            Bound::Excluded(end) => key >= end.as_slice(),
            Bound::Unbounded => false,
        }
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let entry = match self.merge.next() {
                Some(Ok(entry)) => entry,
                Some(Err(error)) => {
                    self.done = true;
                    return Some(Err(error));
                }
                None => break,
            };
            if entry.seq > self.snapshot_seq
                || self.current_key.as_deref() == Some(entry.key.as_slice())
            {
                continue;
            }
            if self.past_end(&entry.key) {
                break;
            }
            if matches!(&self.start, Bound::Excluded(start) if *start == entry.key) {
                continue;
            }
            self.current_key = Some(entry.key.clone());
            if entry.live_value(self.now_ms).is_some() {
                let Entry { key, value, .. } = entry;
                return Some(Ok((key, value)));
            }
        }
        self.done = true;
        None
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` when no
/// such key exists (the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Kind;

    fn put(key: &str, seq: u64) -> Result<Entry> {
        Ok(Entry {
            key: key.as_bytes().to_vec(),
            seq,
            kind: Kind::Put,
            expires_at_ms: 0,
            value: format!("{key}@{seq}").into_bytes(),
        })
    }

    #[test]
    fn the_merge_interleaves_sources_in_internal_order() {
        let newer: Source = Box::new(vec![put("a", 5), put("c", 6)].into_iter());
        let older: Source = Box::new(vec![put("a", 1), put("b", 2)].into_iter());
        let merged: Vec<(Vec<u8>, u64)> = MergeIter::new(vec![newer, older])
            .map(|entry| entry.map(|entry| (entry.key, entry.seq)))
            .collect::<Result<_>>()
            .expect("merge");
        assert_eq!(
            merged,
            vec![(b"a".to_vec(), 5), (b"a".to_vec(), 1), (b"b".to_vec(), 2), (b"c".to_vec(), 6)]
        );
    }

    #[test]
    fn prefix_end_carries_past_0xff_bytes() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
