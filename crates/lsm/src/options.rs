//! Tuning knobs, each with a named default and a documented reason, plus the injectable
//! clock used for TTLs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Largest accepted key: 64 KiB. Keys live in index blocks and in memory per table, so
/// they are kept small (Redis allows more, but nobody needs a 512 MiB key).
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// Largest accepted value: 512 MiB, Redis's string limit.
pub const MAX_VALUE_BYTES: usize = 512 * 1024 * 1024;
/// Largest accepted write batch (encoded): 1 GiB, so one WAL record's length fits a `u32`
/// with room to spare and one batch cannot exhaust memory unnoticed.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024 * 1024;

/// When the write-ahead log is forced to stable storage, named after Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `fsync` before acknowledging; concurrent writers share one `fsync` (group commit).
    /// Nothing acknowledged is lost, even on power failure.
    Always,
    /// Records are handed to the OS in batches and `fsync`ed once per second by a
    /// background thread: a crash loses at most about the last second.
    #[default]
    EverySec,
    /// Records are handed to the OS in batches (at least once per second) and never
    /// `fsync`ed by the engine: the OS decides.
    No,
}

/// Per-block compression of SSTable data blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Store blocks as they are.
    None,
    /// LZ4: fast enough to be nearly free; the default.
    #[default]
    Lz4,
    /// Zstandard at the given level (1..=22): smaller tables, more CPU.
    Zstd(i32),
}

/// Milliseconds since the Unix epoch, injectable so tests can move time for TTLs.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to: for tests of TTL expiry.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self { now_ms: AtomicU64::new(now_ms) }
    }

    /// Moves the clock forward by `delta_ms`.
    pub fn advance_ms(&self, delta_ms: u64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    /// Sets the clock to `now_ms`.
    pub fn set_ms(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// Size-tiered compaction settings (see the crate docs for why tiered, and what these
/// cost in write and space amplification).
#[derive(Debug, Clone)]
pub struct CompactionOptions {
    /// Full compaction starts when the bytes in all runs but the oldest exceed this
    /// percentage of the oldest run: this bounds space amplification at about
    /// `1 + space_amp_max_percent / 100`. Lower means less space, more rewriting.
    pub space_amp_max_percent: u64,
    /// A run joins the merge window when it is at most this percentage larger than the
    /// sum of the newer runs already in the window.
    pub size_ratio_percent: u64,
    /// Fewest runs merged by a size-tiered (non-full) compaction: wider means fewer
    /// rewrites but more tables for a read to consult.
    pub min_merge_width: usize,
    /// Above this many runs writers are slowed (1 ms per write) so compaction can catch
    /// up: bounded backpressure instead of an unbounded number of tables to read.
    pub runs_slowdown: usize,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        Self {
            space_amp_max_percent: 25,
            size_ratio_percent: 100,
            min_merge_width: 4,
            runs_slowdown: 24,
        }
    }
}

/// How a [`crate::Db`] is opened. Every field has a named default in [`Options::default`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The active memtable is frozen and flushed once its approximate size reaches this:
    /// 64 MiB by default. Bigger means fewer, larger flushes and a longer WAL replay.
    pub memtable_bytes: usize,
    /// Frozen memtables allowed to wait for flush before writers wait (backpressure):
    /// 4 by default. Memory is bounded by `memtable_bytes * (1 + this)`.
    pub max_immutable_memtables: usize,
    /// Target uncompressed size of an SSTable data block: 4 KiB by default, one page, so
    /// a point read costs one small read.
    pub block_bytes: usize,
    /// Bloom filter bits per key: 10 by default, about a 1% false-positive rate. 0
    /// disables filters.
    pub bloom_bits_per_key: usize,
    /// Capacity of the block cache in bytes of decompressed blocks: 64 MiB by default.
    pub block_cache_bytes: usize,
    /// Capacity of the row cache in bytes (keys, values and about 96 bytes per row): 0,
    /// off, by default. When on, a point read of a recently read key is one hash lookup
    /// (the newest version, kept current by every write) instead of a walk through the
    /// memtables and tables. Worth it when reads repeat keys, as a cache server's do;
    /// for reads spread over far more keys than fit, it only adds a fill per read.
    pub row_cache_bytes: usize,
    /// Data block compression: LZ4 by default.
    pub compression: Compression,
    /// When the WAL is forced to disk: `EverySec` by default, like Redis.
    pub durability: Durability,
    /// Size-tiered compaction settings.
    pub compaction: CompactionOptions,
    /// Run compaction in the background automatically: true by default. Tests turn it
    /// off to control when compaction happens.
    pub auto_compaction: bool,
    /// The clock TTLs are measured against.
    pub clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            memtable_bytes: 64 * 1024 * 1024,
            max_immutable_memtables: 4,
            block_bytes: 4 * 1024,
            bloom_bits_per_key: 10,
            block_cache_bytes: 64 * 1024 * 1024,
            row_cache_bytes: 0,
            compression: Compression::Lz4,
            durability: Durability::EverySec,
            compaction: CompactionOptions::default(),
            auto_compaction: true,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Options {
    pub(crate) fn validate(&self) -> Result<()> {
        let check = |ok: bool, field: &'static str, reason: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidOptions { field, reason: reason.to_owned() })
            }
        };
        check(self.memtable_bytes >= 1024, "memtable_bytes", "must be at least 1 KiB")?;
        check(self.max_immutable_memtables >= 1, "max_immutable_memtables", "must be at least 1")?;
        check(
            (64..=16 * 1024 * 1024).contains(&self.block_bytes),
            "block_bytes",
            "must be between 64 B and 16 MiB",
        )?;
        check(self.bloom_bits_per_key <= 64, "bloom_bits_per_key", "must be at most 64")?;
        if let Compression::Zstd(level) = self.compression {
            check((1..=22).contains(&level), "compression", "zstd level must be 1..=22")?;
        }
        check(
            self.compaction.min_merge_width >= 2,
            "compaction.min_merge_width",
            "must be at least 2",
        )?;
        check(
            self.compaction.space_amp_max_percent >= 1,
            "compaction.space_amp_max_percent",
            "must be at least 1",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_are_valid() {
        assert!(Options::default().validate().is_ok());
    }

    #[test]
    fn a_tiny_block_size_is_rejected_with_the_field_name() {
        let options = Options { block_bytes: 1, ..Options::default() };
        match options.validate() {
            Err(Error::InvalidOptions { field, .. }) => assert_eq!(field, "block_bytes"),
            other => panic!("expected InvalidOptions, got {other:?}"),
        }
    }

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(500);
        assert_eq!(clock.now_ms(), 1_500);
    }
}
