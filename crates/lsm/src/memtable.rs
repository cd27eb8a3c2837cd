//! The in-memory write buffer: a sorted map from user key to its versions (stored oldest
//! first, so an overwrite is an O(1) push; read newest first).
//! A full memtable is frozen (made immutable) and flushed to an SSTable by a background
//! thread while a fresh one takes writes.
//!
//! A key is stored with its first 16 bytes copied inline as a big-endian integer
//! ([`MemKey`]): a search compares that integer first and reads the key's heap bytes only
//! when two heads are equal, so the ~20 comparisons of a search in a memtable of a million
//! keys cost ~20 cache misses fewer (redis-benchmark's keys, `key:` and 12 digits, fit the
//! head whole). A key's single version is kept inline too ([`Versions`]): a new key costs
//! the allocations of its bytes and its value, not a third for a one-element list.

use std::borrow::Borrow;
use std::cmp::Ordering as KeyOrder;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::RwLock;

use crate::entry::{Entry, Found, Kind};

#[derive(Debug, Clone)]
struct Version {
    seq: u64,
    kind: Kind,
    expires_at_ms: u64,
    value: Vec<u8>,
}

/// Bytes of a key compared inline.
const HEAD_BYTES: usize = 16;

/// The first [`HEAD_BYTES`] bytes of `key`, zero-padded, as a big-endian integer. For two
/// keys, different heads order them as their bytes do: at the first byte where the heads
/// differ, either both keys have that byte, or the shorter one ran out (a 0 in its head)
/// while the longer one has a non-zero byte there, and a key that ran out is a prefix,
/// so it sorts first. Equal heads say nothing beyond that; the bytes decide.
fn head_of(key: &[u8]) -> u128 {
    let mut head = [0u8; HEAD_BYTES];
    let len = key.len().min(HEAD_BYTES);
    head[..len].copy_from_slice(&key[..len]);
    u128::from_be_bytes(head)
}

/// A key as the map holds it: its head inline, its bytes on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MemKey {
    head: u128,
    bytes: Box<[u8]>,
}

impl MemKey {
    fn new(key: Vec<u8>) -> Self {
        Self { head: head_of(&key), bytes: key.into_boxed_slice() }
    }
}

/// What a search compares: a stored [`MemKey`] or a [`Probe`] built from a borrowed key,
/// so a lookup neither allocates nor hashes.
trait KeyView {
    fn head(&self) -> u128;
    fn bytes(&self) -> &[u8];
}

impl KeyView for MemKey {
    fn head(&self) -> u128 {
        self.head
    }
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A borrowed key with its head computed once per lookup.
struct Probe<'a> {
    head: u128,
    bytes: &'a [u8],
}

impl<'a> Probe<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { head: head_of(bytes), bytes }
    }
}

impl KeyView for Probe<'_> {
    fn head(&self) -> u128 {
        self.head
    }
    fn bytes(&self) -> &[u8] {
        self.bytes
    }
}

/// Byte order, heads first (see [`head_of`]): the one rule of stored keys and probes.
fn key_order(left_head: u128, left: &[u8], right_head: u128, right: &[u8]) -> KeyOrder {
    left_head.cmp(&right_head).then_with(|| left.cmp(right))
}

fn compare_views(left: &dyn KeyView, right: &dyn KeyView) -> KeyOrder {
    key_order(left.head(), left.bytes(), right.head(), right.bytes())
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        compare_views(self, other) == KeyOrder::Equal
    }
}
impl Eq for dyn KeyView + '_ {}
impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<KeyOrder> {
        Some(self.cmp(other))
    }
}
impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> KeyOrder {
        compare_views(self, other)
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<KeyOrder> {
        Some(self.cmp(other))
    }
}
impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> KeyOrder {
        key_order(self.head, &self.bytes, other.head, &other.bytes)
    }
}

// `Borrow` requires the borrowed form to order as the owned one: both use `compare_views`'s rule.
impl<'a> Borrow<dyn KeyView + 'a> for MemKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// A key's versions, oldest first; the common single version without a list.
#[derive(Debug, Clone)]
enum Versions {
    One(Version),
    Many(Vec<Version>),
}

impl Versions {
    fn push(&mut self, version: Version) {
        if let Versions::Many(list) = self {
            list.push(version);
            return;
        }
        let mut list = Vec::with_capacity(2);
        if let Versions::One(first) = std::mem::replace(self, Versions::Many(Vec::new())) {
            list.push(first);
        }
        list.push(version);
        *self = Versions::Many(list);
    }

    fn as_slice(&self) -> &[Version] {
        match self {
            Versions::One(version) => std::slice::from_ref(version),
            Versions::Many(list) => list,
        }
    }
}

/// Keys copied per lock acquisition by [`Memtable::chunk`]: scans never hold the lock
/// long enough to stall writers.
pub(crate) const SCAN_CHUNK_KEYS: usize = 256;

pub(crate) struct Memtable {
    map: RwLock<BTreeMap<MemKey, Versions>>,
    bytes: AtomicUsize,
    /// Highest sequence number inserted: after a flush, everything up to it is in tables.
    max_seq: AtomicU64,
    /// The WAL file holding this memtable's writes, deleted after it is flushed.
    wal_id: u64,
}

impl Memtable {
    pub(crate) fn new(wal_id: u64) -> Self {
        Self {
            map: RwLock::new(BTreeMap::new()),
            bytes: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
            wal_id,
        }
    }

    pub(crate) fn wal_id(&self) -> u64 {
        self.wal_id
    }

    pub(crate) fn max_seq(&self) -> u64 {
        self.max_seq.load(Ordering::Acquire)
    }

    pub(crate) fn approximate_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }

    /// Inserts entries under one lock acquisition. Sequence numbers only grow, so a new
    /// version always goes to the end of its key's list: a push, never a shift (a key
    /// overwritten n times would otherwise cost O(n²) copies).
    pub(crate) fn insert(&self, entries: Vec<Entry>) {
        let mut charge = 0;
        let mut max_seq = 0;
        let mut map = self.map.write();
        for entry in entries {
            charge += entry.charge();
            max_seq = max_seq.max(entry.seq);
            let version = Version {
                seq: entry.seq,
                kind: entry.kind,
                expires_at_ms: entry.expires_at_ms,
                value: entry.value,
            };
            match map.entry(MemKey::new(entry.key)) {
                std::collections::btree_map::Entry::Vacant(vacant) => {
                    vacant.insert(Versions::One(version));
                }
                std::collections::btree_map::Entry::Occupied(mut occupied) => {
                    let versions = occupied.get_mut();
                    debug_assert!(
                        versions.as_slice().last().is_none_or(|newest| newest.seq < version.seq)
                    );
                    versions.push(version);
                }
            }
        }
        drop(map);
        self.bytes.fetch_add(charge, Ordering::Relaxed);
        self.max_seq.fetch_max(max_seq, Ordering::AcqRel);
    }

    /// The newest version of `key` with `seq <= snapshot_seq` (its value copied, not its key).
    pub(crate) fn get(&self, key: &[u8], snapshot_seq: u64) -> Option<Found> {
        let map = self.map.read();
        let versions = map.get(&Probe::new(key) as &dyn KeyView)?;
        let version =
            versions.as_slice().iter().rev().find(|version| version.seq <= snapshot_seq)?;
        Some(Found {
            seq: version.seq,
            kind: version.kind,
            expires_at_ms: version.expires_at_ms,
            value: version.value.clone(),
        })
    }

    /// Every version of up to `max_keys` keys after `from`, in internal order.
    pub(crate) fn chunk(&self, from: Bound<&[u8]>, max_keys: usize) -> Vec<Entry> {
        let map = self.map.read();
        let mut out = Vec::new();
        let probe;
        let from: Bound<&dyn KeyView> = match from {
            Bound::Included(key) => {
                probe = Probe::new(key);
                Bound::Included(&probe)
            }
            Bound::Excluded(key) => {
                probe = Probe::new(key);
                Bound::Excluded(&probe)
            }
            Bound::Unbounded => Bound::Unbounded,
        };
        for (key, versions) in map.range::<dyn KeyView, _>((from, Bound::Unbounded)).take(max_keys)
        {
            let versions = versions.as_slice().iter().rev();
            out.extend(versions.map(|version| to_entry(&key.bytes, version)));
        }
        out
    }
}

fn to_entry(key: &[u8], version: &Version) -> Entry {
    Entry {
        key: key.to_vec(),
        seq: version.seq,
        kind: version.kind,
        expires_at_ms: version.expires_at_ms,
        value: version.value.clone(),
    }
}

/// Iterates a memtable in chunks, so no lock is held between calls to `next`.
pub(crate) struct MemtableIter {
    memtable: std::sync::Arc<Memtable>,
    buffer: std::vec::IntoIter<Entry>,
    next_from: Option<Bound<Vec<u8>>>,
}

impl MemtableIter {
    pub(crate) fn new(memtable: std::sync::Arc<Memtable>, start: Bound<Vec<u8>>) -> Self {
        Self { memtable, buffer: Vec::new().into_iter(), next_from: Some(start) }
    }
}

impl Iterator for MemtableIter {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(entry) = self.buffer.next() {
                return Some(entry);
            }
            let from = self.next_from.take()?;
            let chunk = self.memtable.chunk(
                match &from {
                    Bound::Included(key) => Bound::Included(key.as_slice()),
                    Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
                    Bound::Unbounded => Bound::Unbounded,
                },
                SCAN_CHUNK_KEYS,
            );
            if let Some(last) = chunk.last() {
                self.next_from = Some(Bound::Excluded(last.key.clone()));
            }
            self.buffer = chunk.into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn put(key: &str, seq: u64, value: &str) -> Entry {
        Entry {
            key: key.as_bytes().to_vec(),
            seq,
            kind: Kind::Put,
            expires_at_ms: 0,
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn get_returns_the_newest_version_visible_at_the_snapshot() {
        let memtable = Memtable::new(1);
        memtable.insert(vec![put("k", 1, "old")]);
        memtable.insert(vec![put("k", 5, "new")]);
        assert_eq!(memtable.get(b"k", 4).map(|e| e.value), Some(b"old".to_vec()));
        assert_eq!(memtable.get(b"k", 5).map(|e| e.value), Some(b"new".to_vec()));
        assert_eq!(memtable.get(b"k", 0), None);
    }

    /// Versions were inserted at the front of a `Vec`, so a key overwritten n times cost
    /// O(n²) copies (redis-benchmark's one-key SET ran at 1 % of Redis; `bench/kv-redis.sh`
    /// shows the speed). Now they are pushed; this guards the order reads rely on.
    #[test]
    fn a_key_overwritten_many_times_keeps_every_version_in_order() {
        let memtable = Memtable::new(1);
        let overwrites = 20_000u64;
        for seq in 1..=overwrites {
            memtable.insert(vec![put("hot", seq, &seq.to_string())]);
        }
        for snapshot in [1, 2, 9_999, overwrites] {
            let value = memtable.get(b"hot", snapshot).map(|e| e.value);
            assert_eq!(value, Some(snapshot.to_string().into_bytes()));
        }
        let versions = memtable.chunk(Bound::Unbounded, 1);
        assert_eq!(versions.len() as u64, overwrites);
        assert!(versions.windows(2).all(|pair| pair[0].seq > pair[1].seq), "newest first");
    }

    proptest::proptest! {
        /// Keys from a four-byte alphabet with 0 and 255, 0 to 20 bytes long, so many share
        /// a 16-byte head, run out inside it or past it: the map must order them as their
        /// bytes do and find each one, as a `BTreeMap` of plain byte strings does.
        #[test]
        fn inline_heads_order_and_find_keys_as_their_bytes_do(
            keys in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 2, 255]), 0..=20),
                1..200,
            ),
            absent in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 255]), 0..=20),
        ) {
            let memtable = Memtable::new(1);
            let mut model = BTreeMap::new();
            for (seq, key) in (1u64..).zip(&keys) {
                memtable.insert(vec![Entry {
                    key: key.clone(),
                    seq,
                    kind: Kind::Put,
                    expires_at_ms: 0,
                    value: seq.to_le_bytes().to_vec(),
                }]);
                model.insert(key.clone(), seq);
            }
            let walked: Vec<(Vec<u8>, u64)> = memtable
                .chunk(Bound::Unbounded, usize::MAX)
                .into_iter()
                .filter(|entry| model.get(&entry.key) == Some(&entry.seq))
                .map(|entry| (entry.key, entry.seq))
                .collect();
            let expected: Vec<(Vec<u8>, u64)> = model.clone().into_iter().collect();
            proptest::prop_assert_eq!(walked, expected);
            for (key, seq) in &model {
                let found = memtable.get(key, u64::MAX).map(|found| found.seq);
                proptest::prop_assert_eq!(found, Some(*seq));
                let from_key = memtable.chunk(Bound::Included(key), 1);
                proptest::prop_assert_eq!(from_key.first().map(|entry| &entry.key), Some(key));
                let after: Vec<Vec<u8>> = memtable
                    .chunk(Bound::Excluded(key), 1)
                    .into_iter()
                    .map(|entry| entry.key)
                    .take(1)
                    .collect();
                let model_after: Vec<Vec<u8>> = model
                    .range::<Vec<u8>, _>((Bound::Excluded(key), Bound::Unbounded))
                    .map(|(key, _)| key.clone())
                    .take(1)
                    .collect();
                proptest::prop_assert_eq!(after, model_after);
            }
            let found = memtable.get(&absent, u64::MAX).map(|found| found.seq);
            proptest::prop_assert_eq!(found, model.get(&absent).copied());
        }
    }

    #[test]
    fn the_iterator_walks_every_version_in_internal_order_across_chunks() {
        let memtable = Arc::new(Memtable::new(1));
        let total = SCAN_CHUNK_KEYS * 2 + 7;
        for index in 0..total {
            memtable.insert(vec![put(&format!("{index:05}"), index as u64 * 2 + 1, "a")]);
            memtable.insert(vec![put(&format!("{index:05}"), index as u64 * 2 + 2, "b")]);
        }
        let entries: Vec<Entry> = MemtableIter::new(memtable, Bound::Unbounded).collect();
        assert_eq!(entries.len(), total * 2);
        for pair in entries.windows(2) {
            let order = crate::entry::compare_internal(
                &pair[0].key,
                pair[0].seq,
                &pair[1].key,
                pair[1].seq,
            );
            assert_eq!(order, std::cmp::Ordering::Less);
        }
    }
}
