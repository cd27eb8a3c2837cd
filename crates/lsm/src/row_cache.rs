//! The row cache: the newest version of recently read keys, answered by one hash lookup
//! instead of a walk through the memtables and tables (the book's "hot data in memory";
//! RocksDB's `row_cache`). Bounded in bytes, sharded, CLOCK eviction like the block
//! cache. Off unless [`crate::Options::row_cache_bytes`] is set.
//!
//! # Why a cached row is never stale
//!
//! A row holds the newest version of its key (or "no version") with that version's
//! sequence number `seq`. Reads fill it; the commit leader keeps it current:
//!
//! 1. Every committed write of a key *updates its row in place* if the key is resident.
//!    If it is not, the write raises the *mark* of the key's bucket (a small array per
//!    shard, indexed by hash bits) to its sequence number. Both happen before the write
//!    becomes visible (`visible_seq`), under the shard's lock.
//! 2. Evicting a row raises its bucket's mark to the row's `seq`.
//! 3. A reader that read at `read_seq` through the memtables and tables fills a row only
//!    if its bucket's mark is `<= read_seq`: no write the reader could not see, and no
//!    eviction of a newer row, touched that bucket since.
//! 4. A reader at `read_seq` uses a row only if `row.seq <= read_seq`.
//!
//! So a row with `seq <= read_seq` is the newest version at `read_seq`: any write `w`
//! with `seq < w <= read_seq` was applied before the reader looked (it is visible), and
//! found the row resident (then the row would say `w` or newer) or raised the mark above
//! the filler's sequence number (then the row would not have been filled). Marks only
//! cause extra misses, never wrong answers; expiry is decided at read time from the
//! row's `expires_at_ms`, as for any version.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::cache::IntegerHash;
use crate::entry::{Entry, Found, Kind};

/// Shards: as the block cache, enough that two cores rarely collide.
const SHARD_COUNT: usize = 16;
/// Marks per shard: more buckets mean fewer fills refused after unrelated writes, at 8
/// bytes each.
const MARK_BUCKETS: usize = 256;
/// Bytes a row costs beyond its key and value: the map slot, the clock slot and the
/// allocations' headers, roughly.
const ROW_OVERHEAD_BYTES: usize = 96;

struct Row {
    key: Box<[u8]>,
    /// The version's sequence number (0 for an absent key, and for a version whose
    /// number the bottom run zeroed: every reader may see it).
    seq: u64,
    /// Whether the key has a version at all (an absent key is cached too).
    present: bool,
    kind: Kind,
    expires_at_ms: u64,
    value: Vec<u8>,
    /// Set on every hit; the clock hand clears it once before evicting.
    referenced: bool,
}

impl Row {
    fn charge(&self) -> usize {
        self.key.len() + self.value.capacity() + ROW_OVERHEAD_BYTES
    }
}

struct Shard {
    capacity_bytes: usize,
    used_bytes: usize,
    /// Keyed by the key's 64-bit hash; a row whose key differs is another key's (a
    /// collision), treated as a miss.
    rows: HashMap<u64, Row, IntegerHash>,
    /// The clock: hashes in insertion order; the hand is the front.
    clock: VecDeque<u64>,
    /// Per bucket: the highest sequence number of a write that found no row, or of an
    /// evicted row (rule 1 and 2 above).
    marks: Vec<u64>,
}

impl Shard {
    fn mark(&mut self, hash: u64, seq: u64) {
        let bucket = &mut self.marks[bucket_of(hash)];
        *bucket = (*bucket).max(seq);
    }

    fn remove(&mut self, hash: u64) {
        if let Some(row) = self.rows.remove(&hash) {
            self.used_bytes -= row.charge();
            self.mark(hash, row.seq);
        }
    }

    /// Sweeps the clock hand until the shard fits.
    fn evict(&mut self) {
        // Two full sweeps always suffice: the first clears every flag.
        let mut budget = self.clock.len() * 2 + 1;
        while self.used_bytes > self.capacity_bytes && budget > 0 {
            budget -= 1;
            let Some(hash) = self.clock.pop_front() else {
                break;
            };
            let Some(row) = self.rows.get_mut(&hash) else {
                continue;
            };
            if row.referenced {
                row.referenced = false;
                self.clock.push_back(hash);
            } else {
                self.remove(hash);
            }
        }
        // Hashes of rows removed by a collision stay in the clock; drop them when the
        // clock grows well past the rows, so it stays bounded.
        if self.clock.len() > 2 * self.rows.len() + 64 {
            let rows = &self.rows;
            self.clock.retain(|hash| rows.contains_key(hash));
        }
    }
}

/// The cache of newest versions, shared by every reader and the commit leader.
pub(crate) struct RowCache {
    shards: Vec<Mutex<Shard>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl RowCache {
    /// A cache of about `capacity_bytes`; `None` when 0 (off).
    pub(crate) fn new(capacity_bytes: usize) -> Option<Self> {
        if capacity_bytes == 0 {
            return None;
        }
        let shards = (0..SHARD_COUNT)
            .map(|_| {
                Mutex::new(Shard {
                    capacity_bytes: capacity_bytes / SHARD_COUNT,
                    used_bytes: 0,
                    rows: HashMap::default(),
                    clock: VecDeque::new(),
                    marks: vec![0; MARK_BUCKETS],
                })
            })
            .collect();
        Some(Self { shards, hits: AtomicU64::new(0), misses: AtomicU64::new(0) })
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        // The low bits pick the shard, bits 8.. the bucket, the map uses all of them.
        &self.shards[(hash as usize) % SHARD_COUNT]
    }

    /// The newest version of `key` at `read_seq` if its row is resident and usable:
    /// `Some(None)` when the row says the key has no version.
    pub(crate) fn get(&self, key: &[u8], hash: u64, read_seq: u64) -> Option<Option<Found>> {
        let answer = {
            let mut shard = self.shard(hash).lock();
            match shard.rows.get_mut(&hash) {
                Some(row) if *row.key == *key && row.seq <= read_seq => {
                    row.referenced = true;
                    Some(row.present.then(|| Found {
                        seq: row.seq,
                        kind: row.kind,
                        expires_at_ms: row.expires_at_ms,
                        value: row.value.clone(),
                    }))
                }
                _ => None,
            }
        };
        let counter = if answer.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        answer
    }

    /// Stores what a read at `read_seq` found for `key` (`None`: no version), unless a
    /// write or eviction since may have made it stale (rule 3).
    pub(crate) fn fill(&self, key: &[u8], hash: u64, read_seq: u64, found: Option<&Found>) {
        let mut shard = self.shard(hash).lock();
        if shard.marks[bucket_of(hash)] > read_seq {
            return;
        }
        if let Some(row) = shard.rows.get(&hash) {
            if *row.key == *key {
                // Resident already (filled by a concurrent reader, or kept current by
                // writes): it is at least as new as this read.
                return;
            }
            // Another key with the same hash: it makes room.
            shard.remove(hash);
        }
        let row = match found {
            Some(found) => Row {
                key: key.into(),
                seq: found.seq,
                kind: found.kind,
                expires_at_ms: found.expires_at_ms,
                value: found.value.clone(),
                present: true,
                referenced: false,
            },
            None => Row {
                key: key.into(),
                seq: 0,
                present: false,
                kind: Kind::Tombstone,
                expires_at_ms: 0,
                value: Vec::new(),
                referenced: false,
            },
        };
        if row.charge() > shard.capacity_bytes {
            return;
        }
        shard.used_bytes += row.charge();
        shard.rows.insert(hash, row);
        shard.clock.push_back(hash);
        shard.evict();
    }

    /// Applies committed writes (rule 1): called by the commit leader before they
    /// become visible, with each entry's key hash.
    pub(crate) fn write(&self, entries: &[Entry], hash: impl Fn(&[u8]) -> u64) {
        for entry in entries {
            let hash = hash(&entry.key);
            let mut shard = self.shard(hash).lock();
            let shard = &mut *shard;
            match shard.rows.get_mut(&hash) {
                Some(row) if *row.key == *entry.key => {
                    let before = row.charge();
                    row.seq = entry.seq;
                    row.present = true;
                    row.kind = entry.kind;
                    row.expires_at_ms = entry.expires_at_ms;
                    row.value.clear();
                    row.value.extend_from_slice(&entry.value);
                    let after = row.charge();
                    shard.used_bytes = shard.used_bytes + after - before;
                    if after > before {
                        shard.evict();
                    }
                }
                _ => shard.mark(hash, entry.seq),
            }
        }
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub(crate) fn used_bytes(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().used_bytes).sum()
    }
}

fn bucket_of(hash: u64) -> usize {
    ((hash >> 8) as usize) % MARK_BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::bloom::hash_key;

    fn found(seq: u64, value: &str) -> Found {
        Found { seq, kind: Kind::Put, expires_at_ms: 0, value: value.as_bytes().to_vec() }
    }

    fn put(key: &str, seq: u64, value: &str) -> Entry {
        Entry {
            key: key.as_bytes().to_vec(),
            seq,
            kind: Kind::Put,
            expires_at_ms: 0,
            value: value.as_bytes().to_vec(),
        }
    }

    fn cache() -> RowCache {
        RowCache::new(1 << 20).expect("on")
    }

    #[test]
    fn a_filled_row_answers_reads_at_or_after_its_version_only() {
        let cache = cache();
        let hash = hash_key(b"k");
        cache.fill(b"k", hash, 10, Some(&found(7, "v")));
        assert_eq!(cache.get(b"k", hash, 10), Some(Some(found(7, "v"))));
        assert_eq!(cache.get(b"k", hash, 7), Some(Some(found(7, "v"))));
        assert_eq!(cache.get(b"k", hash, 6), None, "a snapshot before the version");
        assert_eq!(cache.hits(), 2);
        assert_eq!(cache.misses(), 1);
    }

    #[test]
    fn a_write_to_a_resident_key_updates_its_row() {
        let cache = cache();
        let hash = hash_key(b"k");
        cache.fill(b"k", hash, 10, Some(&found(7, "old")));
        cache.write(&[put("k", 11, "new")], hash_key);
        assert_eq!(cache.get(b"k", hash, 11), Some(Some(found(11, "new"))));
        assert_eq!(cache.get(b"k", hash, 10), None, "old readers fall back to the tree");
    }

    #[test]
    fn a_fill_after_an_unseen_write_to_an_absent_key_is_refused() {
        let cache = cache();
        let hash = hash_key(b"k");
        // A reader at 10 found "old"; before it fills, a write at 11 commits.
        cache.write(&[put("k", 11, "new")], hash_key);
        cache.fill(b"k", hash, 10, Some(&found(7, "old")));
        assert_eq!(cache.get(b"k", hash, u64::MAX), None);
        // A reader that saw the write may fill.
        cache.fill(b"k", hash, 11, Some(&found(11, "new")));
        assert_eq!(cache.get(b"k", hash, 11), Some(Some(found(11, "new"))));
    }

    #[test]
    fn an_absent_key_is_cached_as_absent_until_written() {
        let cache = cache();
        let hash = hash_key(b"k");
        cache.fill(b"k", hash, 5, None);
        assert_eq!(cache.get(b"k", hash, 5), Some(None));
        cache.write(&[put("k", 6, "v")], hash_key);
        assert_eq!(cache.get(b"k", hash, 6), Some(Some(found(6, "v"))));
    }

    #[test]
    fn an_evicted_row_cannot_be_refilled_by_an_older_read() {
        // Room for about one row per shard: every fill evicts the shard's previous row.
        let cache = RowCache::new(SHARD_COUNT * (ROW_OVERHEAD_BYTES + 40)).expect("on");
        let hash = hash_key(b"k");
        cache.fill(b"k", hash, 20, Some(&found(20, "new")));
        // A key in the same shard pushes it out.
        let other = (0u32..)
            .map(|i| format!("other-{i}"))
            .find(|key| {
                let other = hash_key(key.as_bytes());
                other % SHARD_COUNT as u64 == hash % SHARD_COUNT as u64 && other != hash
            })
            .expect("a key in the same shard");
        cache.fill(other.as_bytes(), hash_key(other.as_bytes()), 20, None);
        assert_eq!(cache.get(b"k", hash, 20), None, "evicted");
        // A reader at 15 read the version before 20 and fills late: refused.
        cache.fill(b"k", hash, 15, Some(&found(3, "stale")));
        assert_eq!(cache.get(b"k", hash, u64::MAX), None);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = RowCache::new(SHARD_COUNT * 2_000).expect("on");
        for index in 0..10_000u32 {
            let key = index.to_string();
            cache.fill(key.as_bytes(), hash_key(key.as_bytes()), 1, Some(&found(1, "value")));
        }
        assert!(cache.used_bytes() <= SHARD_COUNT * 2_000, "{}", cache.used_bytes());
        assert!(cache.used_bytes() > 0);
    }

    /// The bottom run zeroes sequence numbers no snapshot needs; such a version is still
    /// a version, not the "absent" row (the model test found this).
    #[test]
    fn a_version_with_a_zeroed_sequence_number_is_present() {
        let cache = cache();
        let hash = hash_key(b"k");
        cache.fill(b"k", hash, 3, Some(&found(0, "")));
        assert_eq!(cache.get(b"k", hash, 3), Some(Some(found(0, ""))));
    }

    #[test]
    fn a_cache_of_zero_bytes_is_off() {
        assert!(RowCache::new(0).is_none());
    }
}
