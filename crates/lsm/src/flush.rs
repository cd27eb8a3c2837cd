//! Freezing full memtables and flushing them to SSTables in the background (the book's
//! 6.3.9 step 3), without blocking writers: the leader only swaps in a fresh memtable and
//! WAL; a background thread writes the table. Writers wait only when
//! `max_immutable_memtables` frozen memtables are already queued (bounded backpressure).

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::cache::BlockCache;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::memtable::{Memtable, MemtableIter};
use crate::options::Durability;
use crate::sstable::builder::{TableBuilder, TableSettings};
use crate::sstable::reader::Table;
use crate::sstable::table_file_name;
use crate::version::SuperVersion;
use crate::wal::wal_file_name;
use crate::wal::writer::WalWriter;

/// How long a waiting thread sleeps before re-checking shutdown and errors.
pub(crate) const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Writes `memtable` to table `id`; `None` when it held nothing.
pub(crate) fn build_table(
    dir: &Path,
    settings: TableSettings,
    cache: &Arc<BlockCache>,
    memtable: &Arc<Memtable>,
    id: u64,
) -> Result<Option<Arc<Table>>> {
    let path = dir.join(table_file_name(id));
    let mut builder = TableBuilder::create(&path, settings)?;
    for entry in MemtableIter::new(Arc::clone(memtable), Bound::Unbounded) {
        builder.add(&entry)?;
    }
    if builder.entry_count() == 0 {
        drop(builder);
        remove_file_if_present(&path)?;
        return Ok(None);
    }
    builder.finish()?;
    Ok(Some(Arc::new(Table::open(&path, id, Arc::clone(cache))?)))
}

pub(crate) fn remove_file_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, error)),
        _ => Ok(()),
    }
}

impl Inner {
    /// Freezes the active memtable when it is full (or, with `force`, when it holds
    /// anything). Only the commit leader calls this, so no write races the swap.
    pub(crate) fn make_room_for_write(&self, force: bool) -> Result<()> {
        let active_bytes = self.current.load().active.approximate_bytes();
        let needed = if force {
            !self.current.load().active.is_empty()
        } else {
            active_bytes >= self.options.memtable_bytes
        };
        if !needed {
            return Ok(());
        }
        let mut manifest = self.state.lock();
        while self.current.load().immutables.len() >= self.options.max_immutable_memtables {
            self.check_healthy()?;
            self.state_changed.wait_for(&mut manifest, WAIT_SLICE);
        }
        let wal_id = manifest.next_file_id;
        manifest.next_file_id += 1;
        let fresh_wal = WalWriter::create(&self.dir, wal_id)?;
        {
            let mut wal = self.wal.lock();
            match self.options.durability {
                Durability::No => wal.flush()?,
                Durability::Always | Durability::EverySec => wal.sync()?,
            }
            *wal = fresh_wal;
        }
        let current = self.current.load_full();
        let mut immutables = vec![Arc::clone(&current.active)];
        immutables.extend(current.immutables.iter().cloned());
        self.current.store(Arc::new(SuperVersion {
            active: Arc::new(Memtable::new(wal_id)),
            immutables,
            tables: current.tables.clone(),
        }));
        self.state_changed.notify_all();
        Ok(())
    }

    /// Flushes the oldest frozen memtable; false when there was none.
    pub(crate) fn flush_oldest(&self) -> Result<bool> {
        let Some(memtable) = self.current.load().immutables.last().cloned() else {
            return Ok(false);
        };
        let id = self.allocate_file_id();
        let table = build_table(&self.dir, self.settings, &self.cache, &memtable, id)?;
        if let Some(table) = &table {
            self.written.flush_bytes.fetch_add(table.file_bytes(), Ordering::Relaxed);
        }
        let mut manifest = self.state.lock();
        let current = self.current.load_full();
        let mut tables = current.tables.clone();
        if let Some(table) = table {
            tables.insert(0, table);
        }
        let mut next = manifest.clone();
        next.tables = tables.iter().map(|table| table.id()).collect();
        next.flushed_seq = next.flushed_seq.max(memtable.max_seq());
        next.store(&self.dir)?;
        *manifest = next;
        let immutables = current
            .immutables
            .iter()
            .filter(|frozen| !Arc::ptr_eq(frozen, &memtable))
            .cloned()
            .collect();
        self.current.store(Arc::new(SuperVersion {
            active: Arc::clone(&current.active),
            immutables,
            tables,
        }));
        drop(manifest);
        self.state_changed.notify_all();
        remove_file_if_present(&self.dir.join(wal_file_name(memtable.wal_id())))?;
        Ok(true)
    }

    /// Freezes the active memtable and waits until every frozen memtable is flushed.
    pub(crate) fn flush_all(&self) -> Result<()> {
        self.with_leadership(|| self.make_room_for_write(true))?;
        let mut manifest = self.state.lock();
        while !self.current.load().immutables.is_empty() {
            self.check_healthy()?;
            self.state_changed.wait_for(&mut manifest, WAIT_SLICE);
        }
        Ok(())
    }
}

/// The flush thread: flushes frozen memtables oldest first.
pub(crate) fn flush_worker(inner: Arc<Inner>) {
    while !inner.is_shutting_down() {
        match inner.flush_oldest() {
            Ok(true) => {}
            Ok(false) => {
                let mut manifest = inner.state.lock();
                if inner.current.load().immutables.is_empty() && !inner.is_shutting_down() {
                    inner.state_changed.wait_for(&mut manifest, WAIT_SLICE);
                }
            }
            Err(error) => {
                tracing::error!(%error, "flush failed; the engine stops accepting writes");
                inner.record_background_error(&error.to_string());
                return;
            }
        }
    }
}

/// The WAL syncer for `EverySec` (hand to the OS and `fsync`) and `No` (hand to the OS).
pub(crate) fn sync_worker(inner: Arc<Inner>) {
    const SYNC_INTERVAL: Duration = Duration::from_secs(1);
    const SLICE: Duration = Duration::from_millis(50);
    let mut since_sync = Duration::ZERO;
    while !inner.is_shutting_down() {
        std::thread::sleep(SLICE);
        since_sync += SLICE;
        if since_sync < SYNC_INTERVAL {
            continue;
        }
        since_sync = Duration::ZERO;
        let handle = {
            let mut wal = inner.wal.lock();
            wal.flush().and_then(|()| wal.file_for_sync())
        };
        let outcome = handle.and_then(|(file, path)| {
            if inner.options.durability == Durability::EverySec {
                file.sync_data().map_err(|source| Error::io(path, source))?;
            }
            Ok(())
        });
        if let Err(error) = outcome {
            tracing::error!(%error, "WAL sync failed; the engine stops accepting writes");
            inner.record_background_error(&error.to_string());
            return;
        }
    }
}
