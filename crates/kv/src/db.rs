//! The store behind every command: the LSM engine plus striped key locks that make the
//! read-then-write commands (`SET NX/XX/GET/KEEPTTL`, `DEL`'s count, `INCR`, `APPEND`,
//! `EXPIRE`, `PERSIST`) atomic, and the server-wide counters `INFO` reports.
//!
//! The engine is synchronous; every method here blocks, so the server calls them from
//! `spawn_blocking`, never on an async worker.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use blueprint_lsm::{Db, Durability, LiveValue, Options, Stats, WriteBatch};

use crate::cursors::Cursors;
use crate::error::KvError;

/// Key lock stripes: enough that unrelated keys rarely share a lock (so their writes
/// still share one group-commit `fsync`), few enough to cost nothing (a few KiB).
pub const LOCK_STRIPES: usize = 1024;
/// Block cache of a server's store: 256 MiB of decompressed blocks, four times the
/// engine's library default. A RESP server is measured against Redis, which serves every
/// key from memory: with 64 MiB, a keyspace of 1 M keys × 100 B (about 130 MB of blocks)
/// missed the cache on 46% of spread `GET`s (each a `pread`, a CRC, an LZ4 decompression
/// and an eviction). The bound still holds; past it, reads come from the OS page cache.
pub const STORE_BLOCK_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Row cache of a server's store: 256 MiB of hot rows (key, value and about 96 bytes
/// each, so about 1.2 M rows of 100 B values). Redis answers every `GET` from one hash
/// lookup; with the row cache a repeated `GET` is one hash lookup too, instead of a
/// search of the memtables and several tables (58% of a spread `GET`'s samples before,
/// perf). Writes keep resident rows current, so the cache never serves stale values.
pub const STORE_ROW_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Deletes per engine batch in `FLUSHDB`: large enough to amortise commits, small enough
/// that one batch stays far below the engine's batch limit.
pub const FLUSH_BATCH_KEYS: usize = 10_000;

/// Whether `SET` writes unconditionally, only if the key is absent, or only if present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Always write.
    #[default]
    Always,
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key exists.
    IfPresent,
}

/// What `SET` does with the key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiration {
    /// No expiry (a plain `SET` clears any TTL the key had).
    #[default]
    Clear,
    /// `KEEPTTL`: keep the key's current expiry.
    Keep,
    /// `EX`/`PX`: expire this long after the write.
    After(Duration),
    /// `EXAT`/`PXAT`: expire at this ms since the Unix epoch.
    AtMs(u64),
}

/// When `EXPIRE` may change the expiry (Redis 7's `NX`/`XX`/`GT`/`LT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireCondition {
    /// Always.
    #[default]
    Always,
    /// `NX`: only when the key has no expiry.
    IfNone,
    /// `XX`: only when the key has an expiry.
    IfSome,
    /// `GT`: only when the new expiry is later (no expiry counts as infinitely late).
    IfLater,
    /// `LT`: only when the new expiry is earlier.
    IfEarlier,
}

/// Server-wide counters for `INFO`, updated by the server and the commands.
#[derive(Debug)]
pub struct Counters {
    /// When the store was opened, for `uptime_in_seconds`.
    pub started: Instant,
    /// Connections open now.
    pub connected_clients: AtomicU64,
    /// Connections accepted since start.
    pub connections_received: AtomicU64,
    /// Commands run since start.
    pub commands_processed: AtomicU64,
    /// Source of `CLIENT ID`s.
    pub next_client_id: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            started: Instant::now(),
            connected_clients: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            next_client_id: AtomicU64::new(1),
        }
    }
}

/// What `SET` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the value was written (false when `NX`/`XX` refused).
    pub written: bool,
    /// The value before, for `SET … GET`.
    pub previous: Option<Vec<u8>>,
}

/// The key-value store: the engine and its key locks. `Send + Sync`; share it in an `Arc`.
#[derive(Debug)]
pub struct Store {
    db: Db,
    stripes: Vec<Mutex<()>>,
    durability: Durability,
    counters: Counters,
    cursors: Mutex<Cursors>,
}

impl Store {
    /// Opens (or creates) the store in `path` with the given WAL durability and a
    /// server's caches ([`STORE_BLOCK_CACHE_BYTES`], [`STORE_ROW_CACHE_BYTES`]).
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Store, KvError> {
        let options = Options {
            durability,
            block_cache_bytes: STORE_BLOCK_CACHE_BYTES,
            row_cache_bytes: STORE_ROW_CACHE_BYTES,
            ..Options::default()
        };
        Self::open_with(path, options)
    }

    /// Opens the store with full engine options (tests use a small memtable).
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store, KvError> {
        let durability = options.durability;
        let db = Db::open(path, options)?;
        let stripes = (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect();
        let cursors = Mutex::new(Cursors::default());
        Ok(Store { db, stripes, durability, counters: Counters::default(), cursors })
    }

    /// The WAL durability the store was opened with (`CONFIG GET appendfsync`).
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The server-wide counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Now on the clock TTLs are measured against, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.db.now_ms()
    }

    /// A `SCAN` cursor resuming after `key`.
    pub fn issue_cursor(&self, key: Vec<u8>) -> u64 {
        self.cursors.lock().unwrap_or_else(|poison| poison.into_inner()).issue(key)
    }

    /// The key a `SCAN` cursor resumes after, once; `None` if unknown or evicted.
    pub fn take_cursor(&self, cursor: u64) -> Option<Vec<u8>> {
        self.cursors.lock().unwrap_or_else(|poison| poison.into_inner()).take(cursor)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.db.get(key)?)
    }

    /// The value of `key` and its expiry (ms since the Unix epoch, `None` if persistent).
    pub fn get_with_expiry(&self, key: &[u8]) -> Result<Option<LiveValue>, KvError> {
        Ok(self.db.get_with_expiry(key)?)
    }

    /// Sets `key` to `value` with an expiry rule and condition, atomically with the check.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        expiration: Expiration,
        condition: SetCondition,
        want_previous: bool,
    ) -> Result<SetOutcome, KvError> {
        let _guards = self.lock([key]);
        let needs_previous =
            condition != SetCondition::Always || want_previous || expiration == Expiration::Keep;
        let previous = if needs_previous { self.db.get_with_expiry(key)? } else { None };
        let allowed = match condition {
            SetCondition::Always => true,
            SetCondition::IfAbsent => previous.is_none(),
            SetCondition::IfPresent => previous.is_some(),
        };
        if allowed {
            match expiration {
                Expiration::Clear => self.db.put(key, value)?,
                Expiration::After(ttl) => self.db.put_with_ttl(key, value, ttl)?,
                Expiration::AtMs(at_ms) => self.db.put_expiring_at(key, value, at_ms)?,
                Expiration::Keep => {
                    let expires_at_ms = previous.as_ref().and_then(|live| live.expires_at_ms);
                    self.write_keeping(key, value, expires_at_ms)?;
                }
            }
        }
        Ok(SetOutcome { written: allowed, previous: previous.map(|live| live.value) })
    }

    /// Writes `value` with the expiry `expires_at_ms` (none if `None`).
    fn write_keeping(
        &self,
        key: &[u8],
        value: &[u8],
        expires_at_ms: Option<u64>,
    ) -> Result<(), KvError> {
        match expires_at_ms {
            Some(at_ms) => self.db.put_expiring_at(key, value, at_ms)?,
            None => self.db.put(key, value)?,
        }
        Ok(())
    }

    /// Sets every pair in one atomic batch.
    pub fn set_many(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), KvError> {
        let _guards = self.lock(pairs.iter().map(|(key, _)| *key));
        let mut batch = WriteBatch::new();
        for (key, value) in pairs {
            batch.put(key, value);
        }
        Ok(self.db.write(batch)?)
    }

    /// Deletes `keys` in one atomic batch; returns how many existed.
    pub fn delete(&self, keys: &[&[u8]]) -> Result<usize, KvError> {
        let _guards = self.lock(keys.iter().copied());
        let mut batch = WriteBatch::new();
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            if seen.insert(*key) && self.db.get(key)?.is_some() {
                batch.delete(key);
            }
        }
        let deleted = batch.len();
        self.db.write(batch)?;
        Ok(deleted)
    }

    /// How many of `keys` exist (a key named twice counts twice, as in Redis).
    pub fn count_existing(&self, keys: &[&[u8]]) -> Result<usize, KvError> {
        let mut count = 0;
        for key in keys {
            if self.db.get(key)?.is_some() {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Adds `delta` to the integer at `key` (absent counts as 0) and returns the result;
    /// the key keeps its expiry, as in Redis.
    pub fn increment(&self, key: &[u8], delta: i64) -> Result<i64, KvError> {
        let _guards = self.lock([key]);
        let current = self.db.get_with_expiry(key)?;
        let number = match &current {
            None => 0,
            Some(live) => parse_integer(&live.value).ok_or(KvError::NotAnInteger)?,
        };
        let next = number.checked_add(delta).ok_or(KvError::Overflow)?;
        let expires_at_ms = current.and_then(|live| live.expires_at_ms);
        self.write_keeping(key, next.to_string().as_bytes(), expires_at_ms)?;
        Ok(next)
    }

    /// Appends `suffix` to the value at `key` (absent counts as empty), keeping its
    /// expiry; returns the new length.
    pub fn append(&self, key: &[u8], suffix: &[u8]) -> Result<usize, KvError> {
        let _guards = self.lock([key]);
        let (mut value, expires_at_ms) = match self.db.get_with_expiry(key)? {
            Some(live) => (live.value, live.expires_at_ms),
            None => (Vec::new(), None),
        };
        value.extend_from_slice(suffix);
        self.write_keeping(key, &value, expires_at_ms)?;
        Ok(value.len())
    }

    /// Sets the expiry of an existing key to `deadline_ms` if `condition` allows; a
    /// deadline not in the future deletes the key (as Redis does). Returns whether the
    /// expiry was set (or the key deleted).
    pub fn expire(
        &self,
        key: &[u8],
        deadline_ms: u64,
        condition: ExpireCondition,
    ) -> Result<bool, KvError> {
        let _guards = self.lock([key]);
        let Some(live) = self.db.get_with_expiry(key)? else { return Ok(false) };
        let allowed = match (condition, live.expires_at_ms) {
            (ExpireCondition::Always, _) => true,
            (ExpireCondition::IfNone, current) => current.is_none(),
            (ExpireCondition::IfSome, current) => current.is_some(),
            (ExpireCondition::IfLater, current) => current.is_some_and(|at| deadline_ms > at),
            (ExpireCondition::IfEarlier, current) => current.is_none_or(|at| deadline_ms < at),
        };
        if !allowed {
            return Ok(false);
        }
        if deadline_ms <= self.db.now_ms() {
            self.db.delete(key)?;
        } else {
            self.db.put_expiring_at(key, &live.value, deadline_ms)?;
        }
        Ok(true)
    }

    /// Removes the expiry of `key`; whether it had one.
    pub fn persist(&self, key: &[u8]) -> Result<bool, KvError> {
        let _guards = self.lock([key]);
        match self.db.get_with_expiry(key)? {
            Some(LiveValue { value, expires_at_ms: Some(_) }) => {
                self.db.put(key, &value)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Up to `limit` live keys starting with `prefix`, after `after` (from the first key
    /// under the prefix when `None`), in key order, and whether more follow.
    pub fn keys_under(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<Vec<u8>>, bool), KvError> {
        let lower = match after {
            Some(key) if key >= prefix => Bound::Excluded(key.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        let mut keys = Vec::with_capacity(limit.min(4096));
        for pair in self.db.range::<Vec<u8>>((lower, Bound::Unbounded)) {
            let (key, _value) = pair?;
            if !key.starts_with(prefix) {
                break;
            }
            if keys.len() == limit {
                return Ok((keys, true));
            }
            keys.push(key);
        }
        Ok((keys, false))
    }

    /// Calls `visit` with every live key in order until it returns `false`: a full scan
    /// (`KEYS`, `DBSIZE`, `FLUSHDB`), O(keys) unlike Redis's O(1) `DBSIZE`.
    pub fn for_each_key(&self, mut visit: impl FnMut(&[u8]) -> bool) -> Result<(), KvError> {
        for pair in self.db.range::<Vec<u8>>(..) {
            let (key, _value) = pair?;
            if !visit(&key) {
                break;
            }
        }
        Ok(())
    }

    /// Live keys, by a full scan (`DBSIZE`, `INFO keyspace`).
    pub fn count_keys(&self) -> Result<u64, KvError> {
        let mut keys = 0;
        self.for_each_key(|_| {
            keys += 1;
            true
        })?;
        Ok(keys)
    }

    /// Deletes every key, in batches of [`FLUSH_BATCH_KEYS`]; returns how many.
    pub fn flush_all(&self) -> Result<usize, KvError> {
        let mut deleted = 0;
        let mut after: Option<Vec<u8>> = None;
        loop {
            // Resume after the last key deleted, not from the start, so no batch walks
            // over the tombstones of the ones before.
            let (keys, more) = self.keys_under(&[], after.as_deref(), FLUSH_BATCH_KEYS)?;
            let mut batch = WriteBatch::new();
            for key in &keys {
                batch.delete(key);
            }
            deleted += keys.len();
            self.db.write(batch)?;
            after = keys.into_iter().last();
            if !more {
                return Ok(deleted);
            }
        }
    }

    /// The engine's current shape.
    pub fn stats(&self) -> Stats {
        self.db.stats()
    }

    /// The stripe locks of `keys`, held by a test to stall writers of those keys.
    #[cfg(test)]
    pub(crate) fn lock_keys(&self, keys: &[&[u8]]) -> StripeGuards<'_> {
        self.lock(keys.iter().copied())
    }

    /// Locks the stripes of `keys` in ascending order (so two multi-key commands cannot
    /// deadlock), each once.
    fn lock<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> StripeGuards<'_> {
        // A poisoned stripe only means another command panicked holding it; the lock
        // protects no data of its own, so carry on.
        let lock =
            |index: usize| self.stripes[index].lock().unwrap_or_else(|poison| poison.into_inner());
        let mut keys = keys.into_iter();
        let (first, second) = (keys.next(), keys.next());
        if let (Some(key), None) = (first, second) {
            return StripeGuards::One { _guard: lock(stripe_of(key)) };
        }
        let mut indexes: Vec<usize> =
            first.into_iter().chain(second).chain(keys).map(stripe_of).collect();
        indexes.sort_unstable();
        indexes.dedup();
        StripeGuards::Many { _guards: indexes.into_iter().map(lock).collect() }
    }
}

/// Held stripe locks: one key's without a list (most commands, every unpipelined `SET`).
pub(crate) enum StripeGuards<'a> {
    One { _guard: MutexGuard<'a, ()> },
    Many { _guards: Vec<MutexGuard<'a, ()>> },
}

/// FNV-1a: fixed across runs and cheap; the stripe only has to spread keys.
fn stripe_of(key: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % LOCK_STRIPES as u64) as usize
}

/// A Redis integer: decimal `i64`, no spaces, no `+`, no leading zeros beyond `0` itself.
pub(crate) fn parse_integer(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    if !canonical {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::No).unwrap();
        (dir, store)
    }

    #[test]
    fn set_if_absent_writes_once_and_set_if_present_needs_the_key() {
        let (_dir, store) = store();
        assert!(
            !store
                .set(b"k", b"1", Expiration::Clear, SetCondition::IfPresent, false)
                .unwrap()
                .written
        );
        assert!(
            store
                .set(b"k", b"1", Expiration::Clear, SetCondition::IfAbsent, false)
                .unwrap()
                .written
        );
        assert!(
            !store
                .set(b"k", b"2", Expiration::Clear, SetCondition::IfAbsent, false)
                .unwrap()
                .written
        );
        let outcome =
            store.set(b"k", b"3", Expiration::Clear, SetCondition::IfPresent, true).unwrap();
        assert_eq!(outcome, SetOutcome { written: true, previous: Some(b"1".to_vec()) });
        assert_eq!(store.get(b"k").unwrap(), Some(b"3".to_vec()));
    }

    #[test]
    fn delete_counts_only_keys_that_existed_once_each() {
        let (_dir, store) = store();
        store.set_many(&[(b"a", b"1"), (b"b", b"2")]).unwrap();
        assert_eq!(store.delete(&[b"a", b"a", b"b", b"c"]).unwrap(), 2);
        assert_eq!(store.count_existing(&[b"a", b"b"]).unwrap(), 0);
    }

    #[test]
    fn concurrent_increments_are_never_lost() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        store.increment(b"counter", 1).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(store.get(b"counter").unwrap(), Some(b"1000".to_vec()));
    }

    #[test]
    fn increment_refuses_non_integers_and_overflow() {
        let (_dir, store) = store();
        store.set(b"text", b"abc", Expiration::Clear, SetCondition::Always, false).unwrap();
        assert!(matches!(store.increment(b"text", 1), Err(KvError::NotAnInteger)));
        store
            .set(
                b"max",
                i64::MAX.to_string().as_bytes(),
                Expiration::Clear,
                SetCondition::Always,
                false,
            )
            .unwrap();
        assert!(matches!(store.increment(b"max", 1), Err(KvError::Overflow)));
    }

    #[test]
    fn only_canonical_decimal_integers_parse() {
        assert_eq!(parse_integer(b"-42"), Some(-42));
        assert_eq!(parse_integer(b"0"), Some(0));
        for bad in [&b""[..], b"+1", b" 1", b"01", b"-0", b"1.0", b"99999999999999999999"] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
    }
}
