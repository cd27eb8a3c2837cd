//! The block cache: decompressed, verified data blocks kept in memory, bounded in bytes
//! (the book's "frequently used data in memory, the rest on disk"). Sharded so that
//! concurrent readers rarely contend; each shard evicts with the CLOCK algorithm (an
//! approximation of least-recently-used in which a hit only sets a flag, so reads stay
//! cheap).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::sstable::block::Block;

/// Shards of the cache: enough that two cores rarely collide, few enough that each shard
/// still holds many blocks.
const SHARD_COUNT: usize = 16;

/// Identifies a block: the table's file id (never reused) and the block's offset.
pub(crate) type BlockKey = (u64, u64);

/// Hashes integer keys with one multiply per word: the default SipHash cost more than
/// the rest of a cache hit (a block key is two trusted integers, so no flooding risk).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IntegerHasher {
    state: u64,
}

impl std::hash::Hasher for IntegerHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.state = (self.state.rotate_left(23) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        // The high bits are the well-mixed ones; hashbrown uses the top 7 as tags.
        self.state ^ (self.state >> 29)
    }
}

/// Builds [`IntegerHasher`]s.
pub(crate) type IntegerHash = std::hash::BuildHasherDefault<IntegerHasher>;

struct Slot {
    block: Arc<Block>,
    /// Set on every hit; the clock hand clears it once before evicting.
    referenced: bool,
}

struct Shard {
    capacity_bytes: usize,
    used_bytes: usize,
    blocks: HashMap<BlockKey, Slot, IntegerHash>,
    /// The clock: keys in insertion order; the hand is the front.
    clock: VecDeque<BlockKey>,
}

impl Shard {
    fn get(&mut self, key: BlockKey) -> Option<Arc<Block>> {
        let slot = self.blocks.get_mut(&key)?;
        slot.referenced = true;
        Some(Arc::clone(&slot.block))
    }

    fn insert(&mut self, key: BlockKey, block: Arc<Block>) {
        let charge = block.charge();
        if charge > self.capacity_bytes {
            return;
        }
        let slot = Slot { block, referenced: false };
        match self.blocks.insert(key, slot) {
            Some(old) => self.used_bytes -= old.block.charge(),
            None => self.clock.push_back(key),
        }
        self.used_bytes += charge;
        self.evict();
    }

    /// Sweeps the clock hand until the shard fits: a referenced block gets a second
    /// chance, an unreferenced one is evicted.
    fn evict(&mut self) {
        // Two full sweeps always suffice: the first clears every flag.
        let mut budget = self.clock.len() * 2 + 1;
        while self.used_bytes > self.capacity_bytes && budget > 0 {
            budget -= 1;
            let Some(key) = self.clock.pop_front() else {
                break;
            };
            let Some(slot) = self.blocks.get_mut(&key) else {
                continue;
            };
            if slot.referenced {
                slot.referenced = false;
                self.clock.push_back(key);
            } else if let Some(evicted) = self.blocks.remove(&key) {
                self.used_bytes -= evicted.block.charge();
            }
        }
    }
}

/// A byte-bounded cache of data blocks shared by every table of a database.
pub(crate) struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    /// Lookups that found their block, and that did not (the reader then goes to disk).
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BlockCache {
    pub(crate) fn new(capacity_bytes: usize) -> Self {
        let shards = (0..SHARD_COUNT)
            .map(|_| {
                Mutex::new(Shard {
                    capacity_bytes: capacity_bytes / SHARD_COUNT,
                    used_bytes: 0,
                    blocks: HashMap::default(),
                    clock: VecDeque::new(),
                })
            })
            .collect();
        Self { shards, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    fn shard(&self, key: BlockKey) -> &Mutex<Shard> {
        let hash = key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (key.1 >> 12);
        &self.shards[(hash as usize) % SHARD_COUNT]
    }

    pub(crate) fn get(&self, key: BlockKey) -> Option<Arc<Block>> {
        let found = self.shard(key).lock().get(key);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Lookups that found their block since the cache was made.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that missed since the cache was made.
    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub(crate) fn insert(&self, key: BlockKey, block: Arc<Block>) {
        self.shard(key).lock().insert(key, block);
    }

    /// Bytes currently held.
    pub(crate) fn used_bytes(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().used_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::block::BlockBuilder;

    fn block_of(bytes: usize) -> Arc<Block> {
        let mut builder = BlockBuilder::default();
        builder.add(&crate::entry::Entry {
            key: b"k".to_vec(),
            seq: 1,
            kind: crate::entry::Kind::Put,
            expires_at_ms: 0,
            value: vec![7; bytes],
        });
        Arc::new(Block::decode(builder.finish()).expect("block"))
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = BlockCache::new(SHARD_COUNT * 10_000);
        for offset in 0..1_000u64 {
            cache.insert((1, offset * 4096), block_of(1_000));
        }
        assert!(cache.used_bytes() <= SHARD_COUNT * 10_000, "{}", cache.used_bytes());
        assert!(cache.used_bytes() > 0);
    }

    #[test]
    fn a_recently_used_block_outlives_an_older_one() {
        let cache = BlockCache::new(SHARD_COUNT * 3_000);
        let mut shard = cache.shards[0].lock();
        shard.insert((1, 0), block_of(1_000));
        shard.insert((1, 1), block_of(1_000));
        assert!(shard.get((1, 0)).is_some());
        shard.insert((1, 2), block_of(1_000));
        assert!(shard.get((1, 0)).is_some(), "recently used block was evicted");
        assert!(shard.get((1, 1)).is_none(), "least recently used block survived");
    }
}
