//! Which keys may have a life record (`c` + key, see `Inner::actor_for` in
//! [`crate::node`]): a fixed-size bit set over key hashes, so that a write of a key this
//! node holds no copy of skips the storage lookup of its life record, which almost
//! never exists (lives are only taken when a node drops a copy holding its own dots).
//!
//! **What it is:** a one-hash Bloom filter with no false negatives: every key whose life
//! record is in storage has its bit set, because the node sets it at start for every
//! record found by a scan, and before writing any new record. A set bit only means
//! "look it up". **What it is not:** ever cleared: bits of records that no longer exist
//! (a wiped store) cost a lookup, never a wrong answer.
//!
//! The node keeps a second, larger one over its data records ([`DATA_FILTER_BITS`]), by
//! the same rules: a write or read of a key the node never stored skips the storage
//! lookup (redis-benchmark's spread keys are mostly new: each SET looked up a missing key
//! on all three replicas).

use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::xxh3_64;

/// Bits in the filter: 1 Mi bits (128 KiB). With lives this rare the filter stays nearly
/// empty, so almost every lookup of a new key is skipped.
pub const LIFE_FILTER_BITS: usize = 1 << 20;

/// Bits in the data-record filter: 16 Mi bits (2 MiB). Up to about a million keys per
/// node it skips nearly every lookup of a new key (a 6 % false-positive rate at a
/// million); beyond, it skips fewer, never wrongly.
pub const DATA_FILTER_BITS: usize = 1 << 24;

/// The filter.
#[derive(Debug)]
pub struct LifeFilter {
    words: Vec<AtomicU64>,
}

impl Default for LifeFilter {
    fn default() -> Self {
        LifeFilter::new()
    }
}

impl LifeFilter {
    /// An empty filter of [`LIFE_FILTER_BITS`].
    pub fn new() -> LifeFilter {
        LifeFilter::with_bits(LIFE_FILTER_BITS)
    }

    /// An empty filter of `bits` (rounded up to a multiple of 64).
    pub fn with_bits(bits: usize) -> LifeFilter {
        LifeFilter { words: (0..bits.div_ceil(64).max(1)).map(|_| AtomicU64::new(0)).collect() }
    }

    fn position(&self, key: &[u8]) -> (usize, u64) {
        let bit = (xxh3_64(key) as usize) % (self.words.len() * 64);
        (bit / 64, 1u64 << (bit % 64))
    }

    /// Records that `key` may have a life record. Callers set it before writing the
    /// record, under the key's lock, so a reader holding the lock sees the bit.
    pub fn insert(&self, key: &[u8]) {
        let (word, mask) = self.position(key);
        self.words[word].fetch_or(mask, Ordering::Release);
    }

    /// False only when `key` certainly has no life record.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let (word, mask) = self.position(key);
        self.words[word].load(Ordering::Acquire) & mask != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_empty_filter_contains_nothing() {
        let filter = LifeFilter::new();
        assert!(!filter.may_contain(b"key:000000000001"));
    }

    proptest! {
        #[test]
        fn every_inserted_key_is_contained(
            keys in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 0..64),
        ) {
            for filter in [LifeFilter::new(), LifeFilter::with_bits(100), LifeFilter::with_bits(DATA_FILTER_BITS)] {
                for key in &keys {
                    filter.insert(key);
                }
                for key in &keys {
                    prop_assert!(filter.may_contain(key));
                }
            }
        }
    }
}
