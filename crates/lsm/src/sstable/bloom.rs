//! A bloom filter per table, so a point read skips tables that cannot hold its key (the
//! book's 6.3.10 read path). Double hashing over one 64-bit xxh3 hash of the key.

use xxhash_rust::xxh3::xxh3_64;

/// Most hash probes per key: beyond ~30 the false-positive rate no longer improves.
const MAX_HASH_COUNT: u32 = 30;

pub(crate) fn hash_key(key: &[u8]) -> u64 {
    xxh3_64(key)
}

#[derive(Debug, Clone)]
pub(crate) struct Bloom {
    bits: Vec<u8>,
    hash_count: u32,
}

impl Bloom {
    /// A filter over `hashes` with `bits_per_key` bits each; 0 bits means "no filter",
    /// which answers "maybe" for every key.
    pub(crate) fn build(hashes: &[u64], bits_per_key: usize) -> Self {
        if bits_per_key == 0 || hashes.is_empty() {
            return Self { bits: Vec::new(), hash_count: 0 };
        }
        // k = bits_per_key * ln 2 minimises the false-positive rate.
        let hash_count = ((bits_per_key as f64 * 0.69) as u32).clamp(1, MAX_HASH_COUNT);
        let bit_count = (hashes.len() * bits_per_key).max(64);
        let mut bits = vec![0u8; bit_count.div_ceil(8)];
        let bit_count = bits.len() as u64 * 8;
        for &hash in hashes {
            for bit in probes(hash, hash_count, bit_count) {
                bits[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        Self { bits, hash_count }
    }

    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        if self.hash_count == 0 || self.bits.is_empty() {
            return true;
        }
        let bit_count = self.bits.len() as u64 * 8;
        probes(hash, self.hash_count, bit_count)
            .all(|bit| self.bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
    }

    /// `bits, hash_count u8`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.bits.clone();
        out.push(self.hash_count as u8);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let (&hash_count, bits) = bytes.split_last()?;
        let hash_count = u32::from(hash_count);
        if hash_count > MAX_HASH_COUNT {
            return None;
        }
        Some(Self { bits: bits.to_vec(), hash_count })
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bits.len()
    }
}

fn probes(hash: u64, hash_count: u32, bit_count: u64) -> impl Iterator<Item = u64> {
    let first = hash & 0xffff_ffff;
    let step = (hash >> 32) | 1;
    (0..u64::from(hash_count))
        .map(move |probe| first.wrapping_add(probe.wrapping_mul(step)) % bit_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_key_may_be_contained() {
        let hashes: Vec<u64> = (0..1000u32).map(|i| hash_key(&i.to_le_bytes())).collect();
        let bloom = Bloom::build(&hashes, 10);
        assert!(hashes.iter().all(|&hash| bloom.may_contain(hash)));
    }

    #[test]
    fn ten_bits_per_key_give_about_one_percent_false_positives() {
        let hashes: Vec<u64> = (0..10_000u32).map(|i| hash_key(&i.to_le_bytes())).collect();
        let bloom = Bloom::build(&hashes, 10);
        let false_positives =
            (10_000..110_000u32).filter(|i| bloom.may_contain(hash_key(&i.to_le_bytes()))).count();
        assert!(false_positives < 2_000, "{false_positives} false positives in 100000");
    }

    #[test]
    fn a_filter_survives_encoding() {
        let hashes: Vec<u64> = (0..100u32).map(|i| hash_key(&i.to_le_bytes())).collect();
        let bloom = Bloom::decode(&Bloom::build(&hashes, 8).encode()).expect("decodes");
        assert!(hashes.iter().all(|&hash| bloom.may_contain(hash)));
    }
}
