//! The store behind every command: the LSM engine plus striped key locks that make the
//! read-then-write commands (`SET NX/XX/GET`, `DEL`'s count, `INCR`) atomic.
//!
//! The engine is synchronous; every method here blocks, so the server calls them from
//! `spawn_blocking`, never on an async worker.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use blueprint_lsm::{Db, Durability, Options, Stats, WriteBatch};

use crate::error::KvError;

/// Key lock stripes: enough that unrelated keys rarely share a lock (so their writes
/// still share one group-commit `fsync`), few enough to cost nothing (a few KiB).
pub const LOCK_STRIPES: usize = 1024;
/// Compare-and-swap attempts for one `INCR` before giving up. The stripe lock orders
/// every write this server makes, so one attempt succeeds; the bound only guards a
/// writer that bypassed the locks from turning into an endless loop.
pub const MAX_CAS_RETRIES: usize = 16;

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
}

impl Store {
    /// Opens (or creates) the store in `path` with the given WAL durability.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Store, KvError> {
        let options = Options { durability, ..Options::default() };
        Self::open_with(path, options)
    }

    /// Opens the store with full engine options (tests use a small memtable).
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store, KvError> {
        let db = Db::open(path, options)?;
        let stripes = (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect();
        Ok(Store { db, stripes })
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.db.get(key)?)
    }

    /// Sets `key` to `value` with an optional TTL and condition, atomically with the check.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        condition: SetCondition,
        want_previous: bool,
    ) -> Result<SetOutcome, KvError> {
        let _guards = self.lock(&[key]);
        let previous = match (condition, want_previous) {
            (SetCondition::Always, false) => None,
            _ => self.db.get(key)?,
        };
        let allowed = match condition {
            SetCondition::Always => true,
            SetCondition::IfAbsent => previous.is_none(),
            SetCondition::IfPresent => previous.is_some(),
        };
        if allowed {
            match ttl {
                Some(ttl) => self.db.put_with_ttl(key, value, ttl)?,
                None => self.db.put(key, value)?,
            }
        }
        Ok(SetOutcome { written: allowed, previous })
    }

    /// Sets every pair in one atomic batch.
    pub fn set_many(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), KvError> {
        let keys: Vec<&[u8]> = pairs.iter().map(|(key, _)| *key).collect();
        let _guards = self.lock(&keys);
        let mut batch = WriteBatch::new();
        for (key, value) in pairs {
            batch.put(key, value);
        }
        Ok(self.db.write(batch)?)
    }

    /// Deletes `keys` in one atomic batch; returns how many existed.
    pub fn delete(&self, keys: &[&[u8]]) -> Result<usize, KvError> {
        let _guards = self.lock(keys);
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

    /// Adds `delta` to the integer at `key` (absent counts as 0) and returns the result.
    ///
    /// The new value is written without a TTL: the engine cannot report a key's expiry,
    /// so an expiring counter becomes persistent (Redis would keep the TTL).
    pub fn increment(&self, key: &[u8], delta: i64) -> Result<i64, KvError> {
        let _guards = self.lock(&[key]);
        for _ in 0..MAX_CAS_RETRIES {
            let current = self.db.get(key)?;
            let number = match &current {
                None => 0,
                Some(bytes) => parse_integer(bytes).ok_or(KvError::NotAnInteger)?,
            };
            let next = number.checked_add(delta).ok_or(KvError::Overflow)?;
            let encoded = next.to_string();
            if self.db.compare_and_swap(key, current.as_deref(), Some(encoded.as_bytes()))? {
                return Ok(next);
            }
        }
        Err(KvError::Contended { retries: MAX_CAS_RETRIES })
    }

    /// The engine's current shape.
    pub fn stats(&self) -> Stats {
        self.db.stats()
    }

    /// Locks the stripes of `keys` in ascending order (so two multi-key commands cannot
    /// deadlock), each once.
    fn lock(&self, keys: &[&[u8]]) -> Vec<MutexGuard<'_, ()>> {
        let mut indexes: Vec<usize> = keys.iter().map(|key| stripe_of(key)).collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
            .into_iter()
            // A poisoned stripe only means another command panicked holding it; the
            // lock protects no data of its own, so carry on.
            .map(|index| self.stripes[index].lock().unwrap_or_else(|poison| poison.into_inner()))
            .collect()
    }
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
        assert!(!store.set(b"k", b"1", None, SetCondition::IfPresent, false).unwrap().written);
        assert!(store.set(b"k", b"1", None, SetCondition::IfAbsent, false).unwrap().written);
        assert!(!store.set(b"k", b"2", None, SetCondition::IfAbsent, false).unwrap().written);
        let outcome = store.set(b"k", b"3", None, SetCondition::IfPresent, true).unwrap();
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
        store.set(b"text", b"abc", None, SetCondition::Always, false).unwrap();
        assert!(matches!(store.increment(b"text", 1), Err(KvError::NotAnInteger)));
        store
            .set(b"max", i64::MAX.to_string().as_bytes(), None, SetCondition::Always, false)
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
