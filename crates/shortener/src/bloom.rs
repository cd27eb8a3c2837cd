//! A Bloom filter (book 8.3.2: "a bloom filter ... can improve performance" of the
//! collision check): a fixed bit array, `k` probes by double hashing, lock-free inserts.
//!
//! It answers "certainly not present" or "maybe present": a code it has never seen is
//! never reported present, so a "no" skips the database check; a "maybe" is confirmed
//! against the database.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use xxhash_rust::xxh3::xxh3_128;

/// The most bits a filter may hold (512 MiB): a bound on what a configuration can ask for.
pub const MAX_BITS: u64 = 1 << 32;
/// The most probes per item; more than this buys nothing at any sane false-positive rate.
pub const MAX_HASHES: u32 = 16;

/// The bits and probes for `capacity` items at `fp_rate`: m = -n ln p / (ln 2)², k = m/n ln 2,
/// bounded by [`MAX_BITS`] and [`MAX_HASHES`].
pub fn size_for(capacity: u64, fp_rate: f64) -> (u64, u32) {
    let rate = fp_rate.clamp(1e-9, 0.5);
    let n = capacity.max(1) as f64;
    let ln2 = std::f64::consts::LN_2;
    let bits = (-(n * rate.ln()) / (ln2 * ln2)).ceil().clamp(64.0, MAX_BITS as f64) as u64;
    let hashes = ((bits as f64 / n) * ln2).round().clamp(1.0, f64::from(MAX_HASHES)) as u32;
    (bits, hashes)
}

/// A concurrent Bloom filter.
#[derive(Debug)]
pub struct BloomFilter {
    words: Vec<AtomicU64>,
    bits: u64,
    hashes: u32,
    inserted: AtomicUsize,
}

impl BloomFilter {
    /// A filter sized for `capacity` items at false-positive rate `fp_rate` (clamped to
    /// `1e-9..=0.5`), bounded by [`MAX_BITS`].
    pub fn with_rate(capacity: u64, fp_rate: f64) -> Self {
        let (bits, hashes) = size_for(capacity, fp_rate);
        Self::with_bits(bits, hashes)
    }

    /// A filter of `bits` bits (rounded up to 64, at most [`MAX_BITS`]) and `hashes` probes.
    pub fn with_bits(bits: u64, hashes: u32) -> Self {
        let bits = bits.clamp(64, MAX_BITS).div_ceil(64) * 64;
        let words = (0..bits / 64).map(|_| AtomicU64::new(0)).collect();
        Self { words, bits, hashes: hashes.clamp(1, MAX_HASHES), inserted: AtomicUsize::new(0) }
    }

    fn probes(&self, item: &[u8]) -> impl Iterator<Item = u64> + '_ {
        let hash = xxh3_128(item);
        let (h1, h2) = (hash as u64, ((hash >> 64) as u64) | 1);
        (0..u64::from(self.hashes)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % self.bits)
    }

    /// Add `item`.
    pub fn insert(&self, item: &[u8]) {
        for bit in self.probes(item) {
            self.words[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        self.inserted.fetch_add(1, Ordering::Relaxed);
    }

    /// False: `item` was certainly never inserted. True: it may have been.
    pub fn might_contain(&self, item: &[u8]) -> bool {
        self.probes(item).all(|bit| {
            self.words[(bit / 64) as usize].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0
        })
    }

    /// Bits in the array.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Probes per item.
    pub fn hashes(&self) -> u32 {
        self.hashes
    }

    /// Items inserted so far (with repeats).
    pub fn inserted(&self) -> usize {
        self.inserted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_filter_sized_for_a_rate_stays_near_it() {
        let filter = BloomFilter::with_rate(10_000, 0.01);
        assert_eq!(filter.hashes(), 7, "k = m/n ln 2");
        for i in 0..10_000u32 {
            filter.insert(&i.to_le_bytes());
        }
        let false_positives =
            (10_000..110_000u32).filter(|i| filter.might_contain(&i.to_le_bytes())).count();
        assert!(false_positives < 1_500, "{false_positives} of 100000 (expected about 1000)");
    }

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(BloomFilter::with_bits(1, 100).bits(), 64);
        assert_eq!(BloomFilter::with_bits(1, 100).hashes(), MAX_HASHES);
        assert_eq!(size_for(u64::MAX, 1e-12).0, MAX_BITS, "computed, not allocated");
        // The default configuration: 10 M codes at 1 % take 12 MB.
        assert_eq!(size_for(10_000_000, 0.01).0.div_ceil(8 * 1_000_000), 12);
    }

    proptest! {
        #[test]
        fn an_inserted_item_is_always_reported_present(items: Vec<Vec<u8>>) {
            let filter = BloomFilter::with_rate(1_000, 0.01);
            for item in &items {
                filter.insert(item);
            }
            for item in &items {
                prop_assert!(filter.might_contain(item));
            }
        }
    }
}
