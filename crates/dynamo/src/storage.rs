//! Local storage behind one trait: an ordered byte map with prefix scans. The node keeps
//! three namespaces in it: replica data (`d` + key), hints (`h` + target + NUL + key) and
//! node metadata (`m` + name: the epoch, the incarnation, the clean-shutdown marker).
//!
//! Two backends: [`MemStorage`] (simulation: it outlives a simulated crash unless the test
//! calls [`MemStorage::wipe`]) and [`LsmStorage`] on [`blueprint_lsm::Db`].
//!
//! **What it is not:** asynchronous. Calls are short (a memtable insert and a buffered log
//! append) and are made inline from the node's tasks.

use std::collections::BTreeMap;
use std::path::Path;

use parking_lot::Mutex;

use crate::error::StorageError;

/// The engine's durability levels, for [`LsmStorage::open`].
pub use blueprint_lsm::Durability;

/// Entries returned by a scan, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// An ordered key-value store.
pub trait Storage: Send + Sync + 'static {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Sets `key`.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError>;
    /// Sets every `(key, value)` of `entries` (distinct keys) as one write: what a
    /// replica does with a batch of puts, so the engine takes its writer lock and appends
    /// to its log once per batch instead of once per key.
    fn put_all(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StorageError>;
    /// Removes `key`.
    fn delete(&self, key: &[u8]) -> Result<(), StorageError>;
    /// Up to `limit` entries whose key starts with `prefix` and is greater than `after`
    /// (when given), in key order.
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StorageError>;
    /// True when every acknowledged write survives a crash (fsync per write, or memory
    /// that outlives the simulated crash). When false, a node restarting after an
    /// unclean stop takes a new epoch, because its last counters may be lost.
    fn durable_writes(&self) -> bool;
}

/// An in-memory store.
#[derive(Debug, Default)]
pub struct MemStorage {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Loses everything, as a disk failure would.
    pub fn wipe(&self) {
        self.map.lock().clear();
    }

    /// Number of entries in all namespaces.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }
}

impl Storage for MemStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map.lock().get(key).cloned())
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.map.lock().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn put_all(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StorageError> {
        let mut map = self.map.lock();
        for (key, value) in entries {
            map.insert(key.clone(), value.clone());
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), StorageError> {
        self.map.lock().remove(key);
        Ok(())
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StorageError> {
        use std::ops::Bound;
        let map = self.map.lock();
        let start = match after {
            Some(after) => Bound::Excluded(after.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        Ok(map
            .range((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn durable_writes(&self) -> bool {
        true
    }
}

/// The LSM engine as storage.
pub struct LsmStorage {
    db: blueprint_lsm::Db,
    durable: bool,
}

impl std::fmt::Debug for LsmStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LsmStorage").field("path", &self.db.path()).finish()
    }
}

fn storage_error(error: blueprint_lsm::Error) -> StorageError {
    StorageError { message: error.to_string() }
}

impl LsmStorage {
    /// Opens (or creates) the engine in `dir` with `durability`.
    pub fn open(
        dir: &Path,
        durability: blueprint_lsm::Durability,
    ) -> Result<LsmStorage, StorageError> {
        let options = blueprint_lsm::Options { durability, ..blueprint_lsm::Options::default() };
        let db = blueprint_lsm::Db::open(dir, options).map_err(storage_error)?;
        Ok(LsmStorage { db, durable: matches!(durability, blueprint_lsm::Durability::Always) })
    }
}

impl Storage for LsmStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db.get(key).map_err(storage_error)
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.db.put(key, value).map_err(storage_error)
    }

    fn put_all(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StorageError> {
        let mut batch = blueprint_lsm::WriteBatch::new();
        for (key, value) in entries {
            batch.put(key, value);
        }
        self.db.write(batch).map_err(storage_error)
    }

    fn delete(&self, key: &[u8]) -> Result<(), StorageError> {
        self.db.delete(key).map_err(storage_error)
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StorageError> {
        use std::ops::Bound;
        let start = match after {
            Some(after) => Bound::Excluded(after.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        let mut out = Vec::new();
        for entry in self.db.range::<Vec<u8>>((start, Bound::Unbounded)) {
            let (key, value) = entry.map_err(storage_error)?;
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((key, value));
        }
        Ok(out)
    }

    fn durable_writes(&self) -> bool {
        self.durable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(storage: &dyn Storage) {
        storage.put(b"da", b"1").expect("put");
        storage.put(b"db", b"2").expect("put");
        storage.put(b"dc", b"3").expect("put");
        storage.put(b"h1", b"x").expect("put");
        storage.delete(b"db").expect("delete");
        let all = storage.scan(b"d", None, 10).expect("scan");
        assert_eq!(all, vec![(b"da".to_vec(), b"1".to_vec()), (b"dc".to_vec(), b"3".to_vec())]);
        let page = storage.scan(b"d", Some(b"da"), 10).expect("scan");
        assert_eq!(page, vec![(b"dc".to_vec(), b"3".to_vec())]);
        assert_eq!(storage.scan(b"d", None, 1).expect("scan").len(), 1);
        assert_eq!(storage.get(b"h1").expect("get"), Some(b"x".to_vec()));
        let entries = vec![(b"db".to_vec(), b"4".to_vec()), (b"dd".to_vec(), b"5".to_vec())];
        storage.put_all(&entries).expect("put_all");
        let all = storage.scan(b"d", None, 10).expect("scan");
        let values: Vec<&[u8]> = all.iter().map(|(_, v)| v.as_slice()).collect();
        assert_eq!(values, vec![&b"1"[..], b"4", b"3", b"5"]);
    }

    #[test]
    fn memory_storage_scans_a_prefix_in_order_with_paging() {
        exercise(&MemStorage::new());
    }

    #[test]
    fn lsm_storage_scans_a_prefix_in_order_with_paging() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage =
            LsmStorage::open(dir.path(), blueprint_lsm::Durability::Always).expect("open");
        exercise(&storage);
        assert!(storage.durable_writes());
    }
}
