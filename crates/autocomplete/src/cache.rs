//! The trie cache of book 13.3.2: the serving trie behind an atomic pointer.
//!
//! Readers take a reference-counted snapshot (`Arc<Trie>`) with one atomic load and never
//! wait; a rebuild builds a whole new trie elsewhere and [`TrieCache::replace`] swaps it
//! in. A lookup therefore sees the old trie or the new one, never a mix, and the old one
//! is freed when its last reader is done.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::error::SnapshotError;
use crate::snapshot;
use crate::trie::Trie;

/// The serving trie and how many times it was replaced.
#[derive(Debug)]
pub struct TrieCache {
    current: ArcSwap<Trie>,
    generation: AtomicU64,
}

impl TrieCache {
    /// A cache serving `trie` as generation 0.
    pub fn new(trie: Trie) -> TrieCache {
        TrieCache { current: ArcSwap::from_pointee(trie), generation: AtomicU64::new(0) }
    }

    /// The trie to answer the current request with.
    pub fn current(&self) -> Arc<Trie> {
        self.current.load_full()
    }

    /// Swaps in a new trie; returns the generation it now serves as.
    pub fn replace(&self, trie: Arc<Trie>) -> u64 {
        self.current.store(trie);
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// How many replacements happened since the cache was made.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Loads a Trie DB snapshot and swaps it in. On any error the trie in service stays,
    /// and so does the file (nothing is deleted): the caller reports and keeps serving.
    pub fn load_snapshot(&self, path: &Path) -> Result<u64, SnapshotError> {
        let trie = snapshot::read(path)?;
        Ok(self.replace(Arc::new(trie)))
    }
}
