//! Compaction: merges sorted runs into one, dropping what no reader can see any more.
//!
//! Per key, a merge keeps every version newer than the oldest live snapshot, plus the
//! newest version at or below it (what that snapshot reads). That version is dropped
//! when it is a tombstone or has expired and the merge includes the oldest run (nothing
//! older can resurface); an expired value in a non-bottom merge becomes a tombstone.
//! In the bottom run, sequence numbers no snapshot needs are zeroed so they encode in
//! one byte.
//!
//! Compaction builds its output beside the live tables and swaps it in with one manifest
//! update: readers holding the old tables keep reading them (open file handles survive
//! the unlink), so compaction never blocks reads.

pub(crate) mod tiered;

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::db::Inner;
use crate::entry::{Entry, Kind};
use crate::error::Result;
use crate::flush::{WAIT_SLICE, remove_file_if_present};
use crate::iter::{MergeIter, Source};
use crate::sstable::builder::TableBuilder;
use crate::sstable::reader::{Table, TableIter};
use crate::sstable::table_file_name;
use crate::version::SuperVersion;

/// Decides, entry by entry in internal order, what a merge keeps.
pub(crate) struct GarbageFilter {
    oldest_snapshot_seq: u64,
    now_ms: u64,
    bottommost: bool,
    current_key: Option<Vec<u8>>,
    snapshot_version_seen: bool,
}

impl GarbageFilter {
    pub(crate) fn new(oldest_snapshot_seq: u64, now_ms: u64, bottommost: bool) -> Self {
        Self {
            oldest_snapshot_seq,
            now_ms,
            bottommost,
            current_key: None,
            snapshot_version_seen: false,
        }
    }

    /// The entry to write in place of `entry`, or `None` to drop it.
    pub(crate) fn filter(&mut self, mut entry: Entry) -> Option<Entry> {
        if self.current_key.as_deref() != Some(entry.key.as_slice()) {
            self.current_key = Some(entry.key.clone());
            self.snapshot_version_seen = false;
        }
        if entry.seq > self.oldest_snapshot_seq {
            return Some(entry);
        }
        if self.snapshot_version_seen {
            return None;
        }
        self.snapshot_version_seen = true;
        let dead = entry.live_value(self.now_ms).is_none();
        if dead && self.bottommost {
            return None;
        }
        if dead && entry.kind == Kind::PutExpiring {
            entry.kind = Kind::Tombstone;
            entry.value = Vec::new();
            entry.expires_at_ms = 0;
        }
        if self.bottommost {
            entry.seq = 0;
        }
        Some(entry)
    }
}

/// Entries between checks of the shutdown flag during a merge.
const SHUTDOWN_CHECK_INTERVAL: u64 = 4096;

/// Feeds `entries` through `filter` into `builder`; stops early (returning false) when
/// `should_stop` says so.
pub(crate) fn merge_into(
    entries: impl Iterator<Item = Result<Entry>>,
    filter: &mut GarbageFilter,
    builder: &mut TableBuilder,
    should_stop: impl Fn() -> bool,
) -> Result<bool> {
    for (count, entry) in (0u64..).zip(entries) {
        if count % SHUTDOWN_CHECK_INTERVAL == 0 && should_stop() {
            return Ok(false);
        }
        if let Some(kept) = filter.filter(entry?) {
            builder.add(&kept)?;
        }
    }
    Ok(true)
}

impl Inner {
    /// Runs one compaction: everything when `full`, otherwise what the tiered picker
    /// chooses. Returns whether anything was compacted.
    pub(crate) fn compact_once(&self, full: bool) -> Result<bool> {
        let _one_at_a_time = self.compaction_lock.lock();
        let current = self.current.load_full();
        let run_bytes: Vec<u64> = current.tables.iter().map(|table| table.file_bytes()).collect();
        let window = if full {
            (!run_bytes.is_empty()).then_some(0..run_bytes.len())
        } else {
            tiered::pick(&run_bytes, &self.options.compaction)
        };
        let Some(window) = window else {
            return Ok(false);
        };
        let inputs = current.tables[window.clone()].to_vec();
        drop(current);
        let bottommost = window.end == run_bytes.len();
        let mut filter =
            GarbageFilter::new(self.oldest_snapshot_seq(), self.options.clock.now_ms(), bottommost);
        let id = self.allocate_file_id();
        let path = self.dir.join(table_file_name(id));
        let mut builder = TableBuilder::create(&path, self.settings)?;
        let sources: Vec<Source> = inputs
            .iter()
            .map(|table| {
                Box::new(TableIter::new(Arc::clone(table), Bound::Unbounded, false)) as Source
            })
            .collect();
        let finished = merge_into(MergeIter::new(sources), &mut filter, &mut builder, || {
            self.is_shutting_down()
        })?;
        if !finished || builder.entry_count() == 0 {
            drop(builder);
            remove_file_if_present(&path)?;
            if !finished {
                return Ok(false);
            }
            self.install_compaction(&inputs, None)?;
            return Ok(true);
        }
        builder.finish()?;
        let output = Arc::new(Table::open(&path, id, Arc::clone(&self.cache))?);
        self.written.compaction_bytes.fetch_add(output.file_bytes(), Ordering::Relaxed);
        self.install_compaction(&inputs, Some(output))?;
        Ok(true)
    }

    /// Replaces `inputs` (adjacent runs) by `output` in the manifest and the live version,
    /// then unlinks the inputs; readers still holding them keep their open handles.
    fn install_compaction(&self, inputs: &[Arc<Table>], output: Option<Arc<Table>>) -> Result<()> {
        let input_ids: HashSet<u64> = inputs.iter().map(|table| table.id()).collect();
        let mut manifest = self.state.lock();
        let current = self.current.load_full();
        let position =
            current.tables.iter().position(|table| input_ids.contains(&table.id())).unwrap_or(0);
        let mut tables: Vec<Arc<Table>> = current
            .tables
            .iter()
            .filter(|table| !input_ids.contains(&table.id()))
            .cloned()
            .collect();
        if let Some(output) = output {
            tables.insert(position, output);
        }
        let mut next = manifest.clone();
        next.tables = tables.iter().map(|table| table.id()).collect();
        next.store(&self.dir)?;
        *manifest = next;
        self.current.store(Arc::new(SuperVersion {
            active: Arc::clone(&current.active),
            immutables: current.immutables.clone(),
            tables,
        }));
        drop(manifest);
        self.state_changed.notify_all();
        for id in input_ids {
            remove_file_if_present(&self.dir.join(table_file_name(id)))?;
        }
        Ok(())
    }
}

/// The compaction thread: compacts while the picker finds work, then waits for a flush.
pub(crate) fn compaction_worker(inner: Arc<Inner>) {
    while !inner.is_shutting_down() {
        match inner.compact_once(false) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "compaction failed; the engine stops accepting writes");
                inner.record_background_error(&error.to_string());
                return;
            }
        }
        let mut manifest = inner.state.lock();
        if !inner.is_shutting_down() {
            inner.state_changed.wait_for(&mut manifest, WAIT_SLICE * 5);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(key: &str, seq: u64, kind: Kind) -> Entry {
        Entry {
            key: key.as_bytes().to_vec(),
            seq,
            kind,
            expires_at_ms: if kind == Kind::PutExpiring { 50 } else { 0 },
            value: if kind == Kind::Tombstone { Vec::new() } else { b"v".to_vec() },
        }
    }

    fn run(filter: &mut GarbageFilter, entries: Vec<Entry>) -> Vec<(u64, Kind)> {
        entries
            .into_iter()
            .filter_map(|entry| filter.filter(entry))
            .map(|entry| (entry.seq, entry.kind))
            .collect()
    }

    #[test]
    fn versions_a_snapshot_needs_are_kept() {
        let mut filter = GarbageFilter::new(5, 0, false);
        let kept = run(
            &mut filter,
            vec![
                version("k", 9, Kind::Put),
                version("k", 4, Kind::Put),
                version("k", 2, Kind::Put),
            ],
        );
        assert_eq!(kept, vec![(9, Kind::Put), (4, Kind::Put)]);
    }

    #[test]
    fn a_bottom_merge_purges_tombstones_and_what_they_shadow() {
        let mut filter = GarbageFilter::new(100, 0, true);
        let kept =
            run(&mut filter, vec![version("k", 9, Kind::Tombstone), version("k", 4, Kind::Put)]);
        assert!(kept.is_empty(), "{kept:?}");
    }

    #[test]
    fn a_tombstone_survives_a_merge_above_older_runs() {
        let mut filter = GarbageFilter::new(100, 0, false);
        let kept =
            run(&mut filter, vec![version("k", 9, Kind::Tombstone), version("k", 4, Kind::Put)]);
        assert_eq!(kept, vec![(9, Kind::Tombstone)]);
    }

    #[test]
    fn an_expired_value_becomes_a_tombstone_above_older_runs_and_vanishes_at_the_bottom() {
        let mut upper = GarbageFilter::new(100, 60, false);
        assert_eq!(
            run(&mut upper, vec![version("k", 9, Kind::PutExpiring)]),
            vec![(9, Kind::Tombstone)]
        );
        let mut bottom = GarbageFilter::new(100, 60, true);
        assert!(run(&mut bottom, vec![version("k", 9, Kind::PutExpiring)]).is_empty());
    }

    #[test]
    fn the_bottom_run_zeroes_sequence_numbers_no_snapshot_needs() {
        let mut filter = GarbageFilter::new(100, 0, true);
        assert_eq!(run(&mut filter, vec![version("k", 9, Kind::Put)]), vec![(0, Kind::Put)]);
    }
}
