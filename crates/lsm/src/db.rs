//! The database handle: opening and recovering a directory, the public read and write
//! API, snapshots, and the background threads' lifecycle.

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};

use crate::batch::{WriteBatch, validate_key};
use crate::cache::BlockCache;
use crate::commit::{CommitQueue, Condition};
use crate::entry::{Found, Kind};
use crate::error::{Error, IoContext, Result};
use crate::flush::{build_table, flush_worker, remove_file_if_present, sync_worker};
use crate::iter::{Iter, MergeIter, Source, prefix_end};
use crate::manifest::{Manifest, sync_dir};
use crate::memtable::{Memtable, MemtableIter};
use crate::options::{Durability, Options};
use crate::row_cache::RowCache;
use crate::sstable::bloom::hash_key;
use crate::sstable::builder::TableSettings;
use crate::sstable::reader::{Table, TableIter};
use crate::sstable::table_file_name;
use crate::version::SuperVersion;
use crate::wal::recovery;
use crate::wal::wal_file_name;
use crate::wal::writer::WalWriter;

/// File guarding the directory against a second concurrent opener.
const LOCK_FILE: &str = "LOCK";

/// Shared state of one open database, referenced by the handle, snapshots, iterators
/// and the background threads.
pub(crate) struct Inner {
    pub dir: PathBuf,
    pub options: Options,
    pub settings: TableSettings,
    pub cache: Arc<BlockCache>,
    /// Newest versions of hot keys, if [`Options::row_cache_bytes`] is set.
    pub rows: Option<RowCache>,
    /// What readers see; replaced (never mutated) under `state`.
    pub current: ArcSwap<SuperVersion>,
    /// The manifest as last stored (plus the next file id); serialises version changes.
    pub state: Mutex<Manifest>,
    /// Signalled on every version change: wakes flush, compaction and waiting writers.
    pub state_changed: Condvar,
    pub commit: Mutex<CommitQueue>,
    /// Held by a write committed without a group (durability other than `Always`) and
    /// by the commit leadership taken to freeze the memtable.
    pub writer: Mutex<()>,
    pub commit_done: Condvar,
    pub wal: Mutex<WalWriter>,
    /// Highest sequence number assigned.
    pub last_seq: AtomicU64,
    /// Highest sequence number readers may see (its write is in the memtable).
    pub visible_seq: AtomicU64,
    /// Live snapshots: sequence number → count.
    pub snapshots: Mutex<BTreeMap<u64, usize>>,
    pub compaction_lock: Mutex<()>,
    pub shutdown: AtomicBool,
    pub background_error: Mutex<Option<String>>,
    /// Bytes written since open, for write amplification.
    pub written: WriteCounters,
    _lock_file: File,
}

/// Bytes written since the database was opened, by layer: user data (keys plus values
/// committed), WAL records, tables written by flushes and by compactions. Write
/// amplification is `(wal + flush + compaction) / user`.
#[derive(Debug, Default)]
pub(crate) struct WriteCounters {
    pub user_bytes: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub flush_bytes: AtomicU64,
    pub compaction_bytes: AtomicU64,
}

impl Inner {
    pub(crate) fn check_healthy(&self) -> Result<()> {
        match &*self.background_error.lock() {
            Some(reason) => Err(Error::BackgroundFailed { reason: reason.clone() }),
            None => Ok(()),
        }
    }

    pub(crate) fn record_background_error(&self, reason: &str) {
        self.background_error.lock().get_or_insert_with(|| reason.to_owned());
        self.state_changed.notify_all();
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    pub(crate) fn allocate_file_id(&self) -> u64 {
        let mut manifest = self.state.lock();
        let id = manifest.next_file_id;
        manifest.next_file_id += 1;
        id
    }

    /// The oldest sequence number any reader may still ask for.
    pub(crate) fn oldest_snapshot_seq(&self) -> u64 {
        let snapshots = self.snapshots.lock();
        let visible = self.visible_seq.load(Ordering::Acquire);
        snapshots.keys().next().map_or(visible, |&oldest| oldest.min(visible))
    }

    /// Slows a writer by a millisecond when compaction lags far behind (too many runs).
    pub(crate) fn throttle_if_compaction_lags(&self) {
        if self.current.load().tables.len() > self.options.compaction.runs_slowdown {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The live value of `key` at `seq`: memtables newest first, then tables newest
    /// first, skipping tables by key range and bloom filter.
    pub(crate) fn get_at(
        &self,
        version: &SuperVersion,
        key: &[u8],
        seq: u64,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self.get_live_at(version, key, seq)?.map(|live| live.value))
    }

    /// The live version of `key` at `seq`, with its expiry.
    pub(crate) fn get_live_at(
        &self,
        version: &SuperVersion,
        key: &[u8],
        seq: u64,
    ) -> Result<Option<LiveValue>> {
        let hash = hash_key(key);
        let Some(rows) = &self.rows else {
            return Ok(self.find_at(version, key, hash, seq)?.and_then(|found| self.live(found)));
        };
        if let Some(cached) = rows.get(key, hash, seq) {
            return Ok(cached.and_then(|found| self.live(found)));
        }
        let found = self.find_at(version, key, hash, seq)?;
        // `version` was loaded before `seq` (see `Db::get`), so a memtable switched in
        // between holds writes at or below `seq` that this read did not search. Its
        // answer is still a valid read (it began before those writes were visible), but
        // not the newest version at `seq`: as a row it would serve every later reader a
        // stale value (row_cache's rule 3 assumes the read searched all of `seq`).
        // Unchanged since the load, `version` held every write up to `seq`.
        if std::ptr::eq(version, &**self.current.load()) {
            rows.fill(key, hash, seq, found.as_ref());
        }
        Ok(found.and_then(|found| self.live(found)))
    }

    /// What a reader sees of a version found: nothing for a tombstone or an expired put.
    fn live(&self, found: Found) -> Option<LiveValue> {
        match found.kind {
            // Only values with a TTL need the clock.
            Kind::PutExpiring => {
                (found.expires_at_ms > self.options.clock.now_ms()).then_some(LiveValue {
                    value: found.value,
                    expires_at_ms: Some(found.expires_at_ms),
                })
            }
            Kind::Put => Some(LiveValue { value: found.value, expires_at_ms: None }),
            Kind::Tombstone => None,
        }
    }

    /// The newest version of `key` at `seq` (a tombstone or an expired put included):
    /// memtables newest first, then tables newest first.
    fn find_at(
        &self,
        version: &SuperVersion,
        key: &[u8],
        hash: u64,
        seq: u64,
    ) -> Result<Option<Found>> {
        for memtable in version.memtables() {
            if let Some(found) = memtable.get(key, seq) {
                return Ok(Some(found));
            }
        }
        for table in &version.tables {
            if let Some(found) = table.get(key, hash, seq)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn scan(
        &self,
        version: Arc<SuperVersion>,
        seq: u64,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    ) -> Iter {
        let start = bounds.0.clone();
        let start_key = match &start {
            Bound::Included(key) | Bound::Excluded(key) => Bound::Included(key.clone()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut sources: Vec<Source> = Vec::new();
        for memtable in version.memtables() {
            let iter = MemtableIter::new(Arc::clone(memtable), start_key.clone());
            sources.push(Box::new(iter.map(Ok)));
        }
        let start_ref = match &start_key {
            Bound::Included(key) => Bound::Included(key.as_slice()),
            _ => Bound::Unbounded,
        };
        for table in &version.tables {
            sources.push(Box::new(TableIter::new(Arc::clone(table), start_ref, true)));
        }
        Iter::new(MergeIter::new(sources), seq, self.options.clock.now_ms(), bounds, version)
    }
}

/// Size and shape of the engine right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Live SSTables (sorted runs).
    pub table_count: usize,
    /// Bytes of all live SSTables.
    pub table_bytes: u64,
    /// Approximate bytes in the active memtable.
    pub active_memtable_bytes: usize,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes of decompressed blocks in the block cache.
    pub block_cache_bytes: usize,
    /// Bytes of index and bloom filters held in memory for open tables.
    pub table_resident_bytes: usize,
    /// Highest sequence number committed.
    pub last_seq: u64,
    /// Block reads served from the cache since open.
    pub block_cache_hits: u64,
    /// Block reads that went to disk since open.
    pub block_cache_misses: u64,
    /// Bytes of rows in the row cache (0 when it is off).
    pub row_cache_bytes: usize,
    /// Point reads answered by the row cache since open.
    pub row_cache_hits: u64,
    /// Point reads the row cache could not answer since open (0 when it is off).
    pub row_cache_misses: u64,
    /// Keys plus values committed since open.
    pub user_bytes_written: u64,
    /// WAL record bytes written since open.
    pub wal_bytes_written: u64,
    /// Table bytes written by flushes since open.
    pub flush_bytes_written: u64,
    /// Table bytes written by compactions since open.
    pub compaction_bytes_written: u64,
    /// The live tables (sorted runs), newest first.
    pub tables: Vec<TableStats>,
}

/// One live SSTable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// File number (`<id>.sst`).
    pub id: u64,
    /// File bytes.
    pub bytes: u64,
    /// Entries (versions and tombstones, not distinct keys).
    pub entries: u64,
}

impl Stats {
    /// Bytes written to disk per byte of user data since open (`None` before any write).
    pub fn write_amplification(&self) -> Option<f64> {
        let disk =
            self.wal_bytes_written + self.flush_bytes_written + self.compaction_bytes_written;
        (self.user_bytes_written > 0).then(|| disk as f64 / self.user_bytes_written as f64)
    }

    /// Share of block reads served from the cache (`None` before any read from a table).
    pub fn block_cache_hit_ratio(&self) -> Option<f64> {
        let reads = self.block_cache_hits + self.block_cache_misses;
        (reads > 0).then(|| self.block_cache_hits as f64 / reads as f64)
    }
}

/// An open LSM database. `Send + Sync`: share it behind an `Arc`.
///
/// Dropping it stops the background threads and hands the WAL to the OS (and `fsync`s it
/// unless the durability is `No`).
pub struct Db {
    inner: Arc<Inner>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Db").field("dir", &self.inner.dir).finish()
    }
}

fn range_to_owned<K: AsRef<[u8]>>(range: &impl RangeBounds<K>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let own = |bound: Bound<&K>| match bound {
        Bound::Included(key) => Bound::Included(key.as_ref().to_vec()),
        Bound::Excluded(key) => Bound::Excluded(key.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(range.start_bound()), own(range.end_bound()))
}

fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let end = prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(prefix.to_vec()), end)
}

impl Db {
    /// Opens (creating if needed) the database in directory `path`, recovering from the
    /// manifest and replaying the WAL; a torn WAL tail is ignored.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        options.validate()?;
        let dir = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).at(&dir)?;
        let lock_file = lock_directory(&dir)?;
        let cache = Arc::new(BlockCache::new(options.block_cache_bytes));
        let settings = TableSettings {
            block_bytes: options.block_bytes,
            compression: options.compression,
            bloom_bits_per_key: options.bloom_bits_per_key,
        };
        let recovered = recover(&dir, settings, &cache)?;
        let inner = Arc::new(Inner {
            current: ArcSwap::from_pointee(SuperVersion {
                active: Arc::new(Memtable::new(recovered.wal.id())),
                immutables: Vec::new(),
                tables: recovered.tables,
            }),
            state: Mutex::new(recovered.manifest),
            state_changed: Condvar::new(),
            commit: Mutex::new(CommitQueue::default()),
            writer: Mutex::new(()),
            commit_done: Condvar::new(),
            wal: Mutex::new(recovered.wal),
            written: WriteCounters::default(),
            last_seq: AtomicU64::new(recovered.last_seq),
            visible_seq: AtomicU64::new(recovered.last_seq),
            snapshots: Mutex::new(BTreeMap::new()),
            compaction_lock: Mutex::new(()),
            shutdown: AtomicBool::new(false),
            background_error: Mutex::new(None),
            _lock_file: lock_file,
            rows: RowCache::new(options.row_cache_bytes),
            dir,
            options,
            settings,
            cache,
        });
        let workers = spawn_workers(&inner)?;
        Ok(Db { inner, workers })
    }

    /// The value of `key`, or `None` if absent, deleted or expired.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        validate_key(key)?;
        // Load the version before the sequence number: a compaction installed after the
        // load cannot have dropped a version this read needs (see compaction docs).
        // A guard, not a reference count: no shared counter bounces between cores.
        let version = self.inner.current.load();
        let seq = self.inner.visible_seq.load(Ordering::Acquire);
        self.inner.get_at(&version, key, seq)
    }

    /// The value of `key` with its expiry (ms since the Unix epoch on the configured
    /// clock; `None` for a value without a TTL), or `None` if absent, deleted or expired.
    pub fn get_with_expiry(&self, key: impl AsRef<[u8]>) -> Result<Option<LiveValue>> {
        let key = key.as_ref();
        validate_key(key)?;
        let version = self.inner.current.load();
        let seq = self.inner.visible_seq.load(Ordering::Acquire);
        self.inner.get_live_at(&version, key, seq)
    }

    /// Now on the clock TTLs are measured against, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.options.clock.now_ms()
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write(batch)
    }

    /// Sets `key` to `value` for `ttl`; afterwards reads see it as absent and compaction
    /// purges it.
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put_with_ttl(key, value, ttl);
        self.write(batch)
    }

    /// Sets `key` to `value` until `expires_at_ms` on the database's clock (see
    /// [`WriteBatch::put_expiring_at`]).
    pub fn put_expiring_at(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expires_at_ms: u64,
    ) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put_expiring_at(key, value, expires_at_ms);
        self.write(batch)
    }

    /// Deletes `key` (writes a tombstone).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }

    /// Applies every operation of `batch` atomically; durable per the configured
    /// [`Durability`] when this returns.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.inner.commit(batch, None).map(|_| ())
    }

    /// Atomically sets `key` to `new` (`None` deletes it) if its current value is
    /// `expected` (`None` meaning absent). Returns whether the swap happened.
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        let key = key.as_ref();
        let mut batch = WriteBatch::new();
        match new {
            Some(value) => batch.put(key, value),
            None => batch.delete(key),
        };
        let condition = Condition { key: key.to_vec(), expected: expected.map(<[u8]>::to_vec) };
        self.inner.commit(batch, Some(condition))
    }

    /// Live pairs with keys in `range`, in key order.
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Iter {
        let version = self.inner.current.load_full();
        let seq = self.inner.visible_seq.load(Ordering::Acquire);
        self.inner.scan(version, seq, range_to_owned(&range))
    }

    /// Live pairs whose keys start with `prefix`, in key order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let version = self.inner.current.load_full();
        let seq = self.inner.visible_seq.load(Ordering::Acquire);
        self.inner.scan(version, seq, prefix_bounds(prefix.as_ref()))
    }

    /// A consistent read view: it sees every write committed before this call and none
    /// after, for as long as it lives (compaction keeps what it needs).
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshots = self.inner.snapshots.lock();
        let seq = self.inner.visible_seq.load(Ordering::Acquire);
        *snapshots.entry(seq).or_default() += 1;
        Snapshot { inner: Arc::clone(&self.inner), seq }
    }

    /// Freezes the active memtable and waits until all memtables are in SSTables.
    pub fn flush(&self) -> Result<()> {
        self.inner.check_healthy()?;
        self.inner.flush_all()
    }

    /// Merges all tables into one, purging tombstones, expired values and overwritten
    /// versions no snapshot needs (a major compaction). Reads continue meanwhile.
    pub fn compact(&self) -> Result<()> {
        self.inner.check_healthy()?;
        self.inner.compact_once(true).map(|_| ())
    }

    /// Current shape and sizes.
    pub fn stats(&self) -> Stats {
        let version = self.inner.current.load_full();
        Stats {
            table_count: version.tables.len(),
            table_bytes: version.tables.iter().map(|table| table.file_bytes()).sum(),
            active_memtable_bytes: version.active.approximate_bytes(),
            immutable_memtables: version.immutables.len(),
            block_cache_bytes: self.inner.cache.used_bytes(),
            table_resident_bytes: version.tables.iter().map(|table| table.resident_bytes()).sum(),
            last_seq: self.inner.visible_seq.load(Ordering::Acquire),
            block_cache_hits: self.inner.cache.hits(),
            block_cache_misses: self.inner.cache.misses(),
            row_cache_bytes: self.inner.rows.as_ref().map_or(0, RowCache::used_bytes),
            row_cache_hits: self.inner.rows.as_ref().map_or(0, RowCache::hits),
            row_cache_misses: self.inner.rows.as_ref().map_or(0, RowCache::misses),
            user_bytes_written: self.inner.written.user_bytes.load(Ordering::Relaxed),
            wal_bytes_written: self.inner.written.wal_bytes.load(Ordering::Relaxed),
            flush_bytes_written: self.inner.written.flush_bytes.load(Ordering::Relaxed),
            compaction_bytes_written: self.inner.written.compaction_bytes.load(Ordering::Relaxed),
            tables: version
                .tables
                .iter()
                .map(|table| TableStats {
                    id: table.id(),
                    bytes: table.file_bytes(),
                    entries: table.properties().entry_count,
                })
                .collect(),
        }
    }

    /// The directory this database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::Release);
        self.inner.state_changed.notify_all();
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        let mut wal = self.inner.wal.lock();
        let outcome = match self.inner.options.durability {
            Durability::No => wal.flush(),
            Durability::Always | Durability::EverySec => wal.sync(),
        };
        if let Err(error) = outcome {
            tracing::error!(%error, "final WAL sync failed");
        }
    }
}

/// A consistent, read-only view of the database at one sequence number.
pub struct Snapshot {
    inner: Arc<Inner>,
    seq: u64,
}

/// A live value and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveValue {
    /// The value.
    pub value: Vec<u8>,
    /// Expiry in ms since the Unix epoch (on the configured clock), `None` without a TTL.
    pub expires_at_ms: Option<u64>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Snapshot").field("seq", &self.seq).finish()
    }
}

impl Snapshot {
    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        validate_key(key)?;
        self.inner.get_at(&self.inner.current.load(), key, self.seq)
    }

    /// Live pairs with keys in `range` as of the snapshot.
    pub fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Iter {
        self.inner.scan(self.inner.current.load_full(), self.seq, range_to_owned(&range))
    }

    /// Live pairs whose keys start with `prefix` as of the snapshot.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.inner.scan(self.inner.current.load_full(), self.seq, prefix_bounds(prefix.as_ref()))
    }

    /// The sequence number the snapshot reads at.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut snapshots = self.inner.snapshots.lock();
        if let Some(count) = snapshots.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                snapshots.remove(&self.seq);
            }
        }
    }
}

fn lock_directory(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::io(path, source)),
    }
}

fn spawn_workers(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    let mut workers = Vec::new();
    let spawn = |name: &str, body: fn(Arc<Inner>)| {
        let shared = Arc::clone(inner);
        std::thread::Builder::new().name(name.to_owned()).spawn(move || body(shared)).at(&inner.dir)
    };
    workers.push(spawn("lsm-flush", flush_worker)?);
    if inner.options.auto_compaction {
        workers.push(spawn("lsm-compaction", crate::compaction::compaction_worker)?);
    }
    if inner.options.durability != Durability::Always {
        workers.push(spawn("lsm-wal-sync", sync_worker)?);
    }
    Ok(workers)
}

/// What [`recover`] rebuilt.
struct Recovered {
    manifest: Manifest,
    tables: Vec<Arc<Table>>,
    wal: WalWriter,
    last_seq: u64,
}

/// Files found in the directory, by kind.
#[derive(Default)]
struct Listing {
    tables: Vec<u64>,
    wals: Vec<u64>,
    max_id: u64,
}

fn list_directory(dir: &Path) -> Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let name = entry.at(dir)?.file_name();
        let name = name.to_string_lossy();
        let parse =
            |suffix: &str| name.strip_suffix(suffix).and_then(|stem| stem.parse::<u64>().ok());
        if let Some(id) = parse(".sst") {
            listing.tables.push(id);
            listing.max_id = listing.max_id.max(id);
        } else if let Some(id) = parse(".wal") {
            listing.wals.push(id);
            listing.max_id = listing.max_id.max(id);
        }
    }
    listing.wals.sort_unstable();
    Ok(listing)
}

/// Loads the manifest and tables, replays WALs into a new table, starts a fresh WAL.
fn recover(dir: &Path, settings: TableSettings, cache: &Arc<BlockCache>) -> Result<Recovered> {
    let mut manifest = Manifest::load(dir)?.unwrap_or(Manifest {
        next_file_id: 1,
        flushed_seq: 0,
        tables: Vec::new(),
    });
    let listing = list_directory(dir)?;
    manifest.next_file_id = manifest.next_file_id.max(listing.max_id + 1);
    for orphan in listing.tables.iter().filter(|id| !manifest.tables.contains(id)) {
        // A table written by a flush or compaction that crashed before its manifest update.
        remove_file_if_present(&dir.join(table_file_name(*orphan)))?;
    }
    let mut tables = Vec::with_capacity(manifest.tables.len());
    for &id in &manifest.tables {
        let path = dir.join(table_file_name(id));
        if !path.exists() {
            return Err(Error::corruption(path, 0, "table listed in the manifest is missing"));
        }
        tables.push(Arc::new(Table::open(&path, id, Arc::clone(cache))?));
    }
    let replayed = recovery::replay(dir, &listing.wals, manifest.flushed_seq)?;
    let table_max_seq = tables.iter().map(|table| table.properties().max_seq).max().unwrap_or(0);
    let last_seq = replayed.max_seq.max(manifest.flushed_seq).max(table_max_seq);
    if !replayed.entries.is_empty() {
        let memtable = Arc::new(Memtable::new(0));
        memtable.insert(replayed.entries);
        let id = manifest.next_file_id;
        manifest.next_file_id += 1;
        if let Some(table) = build_table(dir, settings, cache, &memtable, id)? {
            tables.insert(0, table);
        }
    }
    manifest.flushed_seq = last_seq;
    manifest.tables = tables.iter().map(|table| table.id()).collect();
    let wal_id = manifest.next_file_id;
    manifest.next_file_id += 1;
    let wal = WalWriter::create(dir, wal_id)?;
    manifest.store(dir)?;
    for id in listing.wals {
        remove_file_if_present(&dir.join(wal_file_name(id)))?;
    }
    sync_dir(dir)?;
    Ok(Recovered { manifest, tables, wal, last_seq })
}
