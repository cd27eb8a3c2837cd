//! What a reader sees: the active memtable, frozen memtables awaiting flush and the live
//! tables, swapped atomically as one immutable value so a reader never sees a table
//! both before and after a flush or compaction.

use std::sync::Arc;

use crate::memtable::Memtable;
use crate::sstable::reader::Table;

pub(crate) struct SuperVersion {
    pub active: Arc<Memtable>,
    /// Frozen memtables, newest first.
    pub immutables: Vec<Arc<Memtable>>,
    /// Live tables (sorted runs), newest first.
    pub tables: Vec<Arc<Table>>,
}

impl SuperVersion {
    /// Memtables newest first: the active one, then the frozen ones.
    pub(crate) fn memtables(&self) -> impl Iterator<Item = &Arc<Memtable>> {
        std::iter::once(&self.active).chain(self.immutables.iter())
    }
}
