//! The local keyed store: per-key limiter state in memory, sharded, bounded.
//!
//! Keys are spread over [`LocalStoreConfig::shards`] shards by an `xxh3` hash with a
//! per-store random seed (so an attacker cannot aim keys at one shard); each shard is a
//! `HashMap` behind its own `parking_lot::Mutex`, held for one lookup and one
//! arithmetic step (tens of nanoseconds), so contention needs two threads on the same
//! shard at the same instant. For a single hot key without hashing, [`DirectLimiter`] is
//! one `AtomicU64` updated by compare-and-swap.
//!
//! # Memory bound
//! A shard holds at most `max_keys / shards` keys. Inserting into a full shard first
//! drops every *idle* key (state back to fresh: bucket full, window over; dropping it
//! loses nothing), and if none is idle, the eighth of the shard that turns idle soonest
//! (those keys get a fresh allowance early: counted in
//! `ratelimit_local_evictions_total{reason="active"}`). Churning attacker keys therefore
//! recycle the same memory. Bytes per key: [`LocalStore::bytes_per_key`]; the bench
//! `benches/local.rs` prints it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::core::{Algorithm, Decision, LimiterState, Nanos};

/// Shards by default: a power of two well above the core count, so two cores rarely meet.
pub const DEFAULT_SHARDS: usize = 64;

/// The largest `max_keys` accepted (a 100-byte entry × 100 M = 10 GB: beyond a sane box).
pub const MAX_KEYS_LIMIT: usize = 100_000_000;

/// Sizing of a [`LocalStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStoreConfig {
    /// The most keys held at once; memory is bounded by this × bytes per key.
    pub max_keys: usize,
    /// Number of shards, a power of two.
    pub shards: usize,
}

impl Default for LocalStoreConfig {
    fn default() -> Self {
        Self { max_keys: 1_000_000, shards: DEFAULT_SHARDS }
    }
}

/// A configuration refused by [`LocalStore::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalStoreError {
    /// `shards` must be a power of two between 1 and 4096.
    #[error("shards must be a power of two in 1..=4096, got {shards}")]
    Shards {
        /// The value given.
        shards: usize,
    },
    /// `max_keys` must be in `shards ..= MAX_KEYS_LIMIT`.
    #[error("max_keys must be in {min}..={max}, got {max_keys}")]
    MaxKeys {
        /// The value given.
        max_keys: usize,
        /// The smallest accepted (one per shard).
        min: usize,
        /// The largest accepted.
        max: usize,
    },
}

/// A seeded hasher for keys: one-shot `xxh3` for byte strings (IPs, API keys), a
/// folded multiply for integers. `xxhash_rust`'s streaming `Xxh3` was not used: building
/// it with a seed derives a 192-byte secret, which cost more than the whole decision.
#[derive(Debug, Clone, Copy)]
pub struct SeededXxh3 {
    seed: u64,
}

/// The [`Hasher`] of [`SeededXxh3`].
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher {
    state: u64,
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.state = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.state);
    }

    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.state = folded_multiply(self.state ^ x, MULTIPLIER);
    }

    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.state, 0xA076_1D64_78BD_642F)
    }
}

impl SeededXxh3 {
    /// A hasher seeded from the OS's randomness (via `std`'s `RandomState`).
    pub fn random() -> Self {
        Self { seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) }
    }
}

impl BuildHasher for SeededXxh3 {
    type Hasher = KeyHasher;
    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { state: self.seed }
    }
}

type Shard<K, S> = HashMap<K, S, SeededXxh3>;

/// Per-key limiter state for many keys; see the module docs.
pub struct LocalStore<K, S> {
    shards: Box<[Mutex<Shard<K, S>>]>,
    hasher: SeededXxh3,
    shard_max: usize,
}

impl<K, S> std::fmt::Debug for LocalStore<K, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("shards", &self.shards.len())
            .field("shard_max", &self.shard_max)
            .finish()
    }
}

impl<K: Hash + Eq + Clone, S: LimiterState> LocalStore<K, S> {
    /// An empty store.
    ///
    /// # Errors
    /// [`LocalStoreError`] for a shard count that is not a power of two or an absurd
    /// `max_keys`.
    pub fn new(config: LocalStoreConfig) -> Result<Self, LocalStoreError> {
        let shards = config.shards;
        if !shards.is_power_of_two() || shards > 4096 {
            return Err(LocalStoreError::Shards { shards });
        }
        if config.max_keys < shards || config.max_keys > MAX_KEYS_LIMIT {
            return Err(LocalStoreError::MaxKeys {
                max_keys: config.max_keys,
                min: shards,
                max: MAX_KEYS_LIMIT,
            });
        }
        let hasher = SeededXxh3::random();
        let shard_max = config.max_keys / shards;
        let shards = (0..shards).map(|_| Mutex::new(HashMap::with_hasher(hasher))).collect();
        Ok(Self { shards, hasher, shard_max })
    }

    #[inline]
    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<Shard<K, S>> {
        // Bits 40..52: the table inside the shard uses the low bits for the bucket and
        // the top 7 for its control bytes; sharing either would cluster keys.
        let index = (self.hasher.hash_one(key) >> 40) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// Checks and records `hits` for `key` at `now` with `algorithm`.
    pub fn check<A, Q>(&self, algorithm: &A, key: &Q, now: Nanos, hits: u64) -> Decision
    where
        A: Algorithm<State = S>,
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut shard = self.shard(key).lock();
        if let Some(state) = shard.get_mut(key) {
            return algorithm.check(state, now, hits);
        }
        let mut state = S::default();
        let decision = algorithm.check(&mut state, now, hits);
        if decision.allowed && hits > 0 {
            // Only a key with something to remember takes memory (a denied check leaves
            // a fresh state fresh).
            if shard.len() >= self.shard_max {
                evict(&mut shard, now);
            }
            shard.insert(key.to_owned(), state);
        }
        decision
    }

    /// Like [`LocalStore::check`] but returns only whether the hits were admitted.
    pub fn allow<A, Q>(&self, algorithm: &A, key: &Q, now: Nanos, hits: u64) -> bool
    where
        A: Algorithm<State = S>,
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut shard = self.shard(key).lock();
        if let Some(state) = shard.get_mut(key) {
            return algorithm.admit(state, now, hits);
        }
        let mut state = S::default();
        let admitted = algorithm.admit(&mut state, now, hits);
        if admitted && hits > 0 {
            if shard.len() >= self.shard_max {
                evict(&mut shard, now);
            }
            shard.insert(key.to_owned(), state);
        }
        admitted
    }

    /// What [`LocalStore::check`] would decide, consuming nothing and inserting nothing.
    pub fn peek<A, Q>(&self, algorithm: &A, key: &Q, now: Nanos, hits: u64) -> Decision
    where
        A: Algorithm<State = S>,
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key).lock();
        match shard.get(key) {
            Some(state) => algorithm.peek(state, now, hits),
            None => algorithm.peek(&S::default(), now, hits),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys this store holds.
    pub fn max_keys(&self) -> usize {
        self.shard_max * self.shards.len()
    }

    /// Drops every idle key (for a periodic background sweep); returns how many.
    pub fn sweep(&self, now: Nanos) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard.lock();
                let before = shard.len();
                shard.retain(|_, s| s.idle_at() > now);
                before - shard.len()
            })
            .sum()
    }

    /// Heap bytes per held key, from the maps' real capacities: each bucket of std's
    /// SwissTable holds one `(K, S)` plus one control byte, and tables keep buckets at
    /// a power of two at most 7/8 full. Heap memory owned *by* K or S (a `String` key's
    /// text, a sliding log's timestamps) is not included: add it for those types.
    pub fn bytes_per_key(&self) -> f64 {
        let (mut buckets, mut keys) = (0usize, 0usize);
        for shard in self.shards.iter() {
            let shard = shard.lock();
            keys += shard.len();
            if shard.capacity() > 0 {
                buckets += (shard.capacity() * 8 / 7).next_power_of_two();
            }
        }
        let entry = std::mem::size_of::<(K, S)>() + 1;
        (buckets * entry) as f64 / keys.max(1) as f64
    }
}

/// Makes room in a full shard: drop idle keys; if none, the eighth idle soonest.
fn evict<K: Hash + Eq, S: LimiterState>(shard: &mut Shard<K, S>, now: Nanos) {
    let before = shard.len();
    shard.retain(|_, s| s.idle_at() > now);
    let idle = before - shard.len();
    metrics::counter!("ratelimit_local_evictions_total", "reason" => "idle").increment(idle as u64);
    if idle > 0 {
        return;
    }
    let mut idle_times: Vec<Nanos> = shard.values().map(LimiterState::idle_at).collect();
    let cut = idle_times.len() / 8;
    let (_, threshold, _) = idle_times.select_nth_unstable(cut);
    let threshold = *threshold;
    shard.retain(|_, s| s.idle_at() > threshold);
    let active = before - shard.len();
    metrics::counter!("ratelimit_local_evictions_total", "reason" => "active")
        .increment(active as u64);
}

/// One limiter for one key, lock-free: the bucket algorithms' state is a single `u64`
/// (TAT or next free slot), updated by compare-and-swap.
#[derive(Debug)]
pub struct DirectLimiter<A> {
    algorithm: A,
    state: AtomicU64,
}

impl<A: Algorithm<State = u64>> DirectLimiter<A> {
    /// A fresh limiter.
    pub fn new(algorithm: A) -> Self {
        Self { algorithm, state: AtomicU64::new(0) }
    }

    /// Checks and records `hits` at `now`.
    #[inline]
    pub fn check(&self, now: Nanos, hits: u64) -> Decision {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let mut next = current;
            let decision = self.algorithm.check(&mut next, now, hits);
            if next == current {
                return decision;
            }
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return decision,
                Err(actual) => current = actual,
            }
        }
    }

    /// Like [`DirectLimiter::check`] but returns only whether the hits were admitted
    /// (no `remaining`/`retry_after` arithmetic): the path for callers without headers.
    #[inline]
    pub fn allow(&self, now: Nanos, hits: u64) -> bool {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let mut next = current;
            if !self.algorithm.admit(&mut next, now, hits) {
                return false;
            }
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// What [`DirectLimiter::check`] would decide, consuming nothing.
    pub fn peek(&self, now: Nanos, hits: u64) -> Decision {
        self.algorithm.peek(&self.state.load(Ordering::Acquire), now, hits)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::{
        AlgorithmKind, AnyState, FixedWindow, LimitSpec, NANOS_PER_SECOND as S, TokenBucket,
    };
    use std::sync::Arc;

    fn store<S: LimiterState>(max_keys: usize, shards: usize) -> LocalStore<String, S> {
        LocalStore::new(LocalStoreConfig { max_keys, shards }).unwrap()
    }

    #[test]
    fn keys_are_limited_independently() {
        let s = store::<u64>(100, 4);
        let tb = TokenBucket::new(2, 1, S).unwrap();
        assert!(s.check(&tb, "a", 0, 1).allowed);
        assert!(s.check(&tb, "a", 0, 1).allowed);
        assert!(!s.check(&tb, "a", 0, 1).allowed);
        assert!(s.check(&tb, "b", 0, 1).allowed);
    }

    #[test]
    fn peek_neither_consumes_nor_inserts() {
        let s = store::<u64>(100, 4);
        let tb = TokenBucket::new(1, 1, S).unwrap();
        assert!(s.peek(&tb, "a", 0, 1).allowed);
        assert!(s.is_empty());
        assert!(s.check(&tb, "a", 0, 1).allowed);
        assert!(!s.peek(&tb, "a", 0, 1).allowed);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn churning_keys_never_grow_the_store_past_its_bound() {
        let s = store::<AnyState>(256, 4);
        let fw = LimitSpec::new(AlgorithmKind::FixedWindow, 10, S).build().unwrap();
        for i in 0..100_000u64 {
            s.check(&fw, &format!("attacker-{i}"), i * 1000, 1);
            assert!(s.len() <= 256);
        }
    }

    #[test]
    fn eviction_prefers_idle_keys() {
        let s = store::<u64>(8, 1);
        let tb = TokenBucket::new(5, 1, S).unwrap();
        for _ in 0..5 {
            s.check(&tb, "hot", 10 * S, 1); // busy for 5 s
        }
        for i in 0..7 {
            s.check(&tb, &format!("idle-{i}"), 0, 1); // full again at 1 s
        }
        assert_eq!(s.len(), 8);
        s.check(&tb, "newcomer", 10 * S, 1);
        assert_eq!(s.len(), 2, "the seven idle keys went, the hot one stayed");
        assert!(!s.peek(&tb, "hot", 10 * S, 1).allowed);
    }

    #[test]
    fn a_key_back_to_fresh_takes_no_memory() {
        let s = store::<crate::core::FixedWindowState>(100, 4);
        let fw = FixedWindow::new(1, S).unwrap();
        assert!(s.check(&fw, "a", 0, 0).allowed);
        assert!(s.is_empty(), "zero hits changed nothing");
    }

    #[test]
    fn absurd_configs_are_refused() {
        assert!(
            LocalStore::<String, u64>::new(LocalStoreConfig { max_keys: 10, shards: 3 }).is_err()
        );
        assert!(
            LocalStore::<String, u64>::new(LocalStoreConfig { max_keys: 0, shards: 4 }).is_err()
        );
    }

    #[test]
    fn the_direct_limiter_admits_exactly_the_capacity_across_threads() {
        let limiter = Arc::new(DirectLimiter::new(TokenBucket::new(1000, 1, 3600 * S).unwrap()));
        let admitted: u64 = (0..8)
            .map(|_| {
                let l = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    (0..500).filter(|_| l.check(5, 1).allowed).count() as u64
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(admitted, 1000);
        assert!(!limiter.allow(5, 1), "allow agrees: the bucket is empty");
    }

    #[test]
    fn allow_agrees_with_check() {
        let tb = TokenBucket::new(3, 1, S).unwrap();
        let (a, b) = (DirectLimiter::new(tb), DirectLimiter::new(tb));
        let s = store::<u64>(100, 4);
        for t in [0, 1, 2, 3, S / 2, S, 3 * S, 3 * S, 3 * S, 3 * S] {
            let expected = a.check(t, 1).allowed;
            assert_eq!(b.allow(t, 1), expected);
            assert_eq!(s.allow(&tb, "k", t, 1), expected);
        }
    }

    #[test]
    fn bytes_per_key_is_reported() {
        let s: LocalStore<u64, u64> = LocalStore::new(LocalStoreConfig::default()).unwrap();
        let tb = TokenBucket::new(5, 1, S).unwrap();
        for k in 0..10_000u64 {
            s.check(&tb, &k, 0, 1);
        }
        let b = s.bytes_per_key();
        assert!((17.0..=40.0).contains(&b), "{b}");
    }
}
