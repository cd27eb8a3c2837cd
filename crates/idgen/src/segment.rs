//! Meituan Leaf's segment mode: each biz tag's IDs come from ranges ("segments")
//! allocated by one SQL row update, `max_id = max_id + step`, and are handed out from
//! memory with one `fetch_add`.
//!
//! Double buffer: when [`SegmentConfig::prefetch_percent`] of the current segment is
//! used, the next segment is fetched in the background, so the switch at the end of a
//! segment is a pointer swap, not a database round trip. Dynamic step: a segment that
//! lasted under 15 minutes doubles the next step (up to `max_step`), one that lasted over
//! 30 minutes halves it (down to the tag's stored step). IDs are unique across every
//! process sharing the store; they increase per allocator, not globally.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

/// At most this many biz tags are cached per allocator (each holds two segments).
pub const MAX_BIZ_TAGS: usize = 10_000;
/// Leaf's ceiling on a dynamic step.
pub const DEFAULT_MAX_STEP: u64 = 1_000_000;

/// One allocation from the store: IDs `start..end`, and the tag's stored (minimum) step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// First ID of the segment.
    pub start: u64,
    /// One past the last ID.
    pub end: u64,
    /// The step stored for the tag: the first segment's size and the dynamic minimum.
    pub base_step: u64,
}

/// Why a segment could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// No row for this biz tag.
    #[error("unknown biz tag {biz_tag:?}")]
    UnknownBizTag {
        /// The tag asked for.
        biz_tag: String,
    },
    /// Too many tags are cached already.
    #[error("more than {MAX_BIZ_TAGS} biz tags in use")]
    TooManyTags,
    /// The tag's `max_id` would pass `i64::MAX`.
    #[error("biz tag {biz_tag:?} has run out of IDs")]
    Exhausted {
        /// The tag.
        biz_tag: String,
    },
    /// The database failed.
    #[error("segment store: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where segments come from: one atomic `max_id = max_id + step` per call.
pub trait SegmentStore: Send + Sync + 'static {
    /// Allocate the next segment of `biz_tag`, `step` IDs long (`None`: the stored step).
    fn next_segment(
        &self,
        biz_tag: &str,
        step: Option<u64>,
    ) -> impl Future<Output = Result<Allocation, SegmentError>> + Send;
}

/// Segment-mode tuning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentConfig {
    /// Fetch the next segment once this percentage of the current one is used (Leaf: 10).
    pub prefetch_percent: u8,
    /// Upper bound of the dynamic step.
    pub max_step: u64,
    /// A segment used up faster than this doubles the next step (Leaf: 15 min).
    pub grow_below_ms: u64,
    /// A segment lasting longer than this halves the next step (Leaf: 30 min).
    pub shrink_above_ms: u64,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            prefetch_percent: 10,
            max_step: DEFAULT_MAX_STEP,
            grow_below_ms: 15 * 60 * 1000,
            shrink_above_ms: 30 * 60 * 1000,
        }
    }
}

#[derive(Debug)]
struct Segment {
    /// Next ID to hand out; may run past `end` (those values are never returned).
    cursor: AtomicU64,
    end: u64,
    /// The ID whose issue triggers the prefetch (exactly one caller sees it).
    prefetch_at: u64,
    step: u64,
    loaded_at_ms: u64,
}

impl Segment {
    fn new(allocation: Allocation, prefetch_percent: u8, loaded_at_ms: u64) -> Self {
        let step = allocation.end - allocation.start;
        Self {
            cursor: AtomicU64::new(allocation.start),
            end: allocation.end,
            prefetch_at: allocation.start + step * u64::from(prefetch_percent) / 100,
            step,
            loaded_at_ms,
        }
    }
}

/// The two buffers of one biz tag.
#[derive(Debug)]
struct TagBuffer {
    biz_tag: String,
    base_step: u64,
    current: ArcSwap<Segment>,
    next: parking_lot::Mutex<Option<Arc<Segment>>>,
    /// A fetch of the next segment is in flight.
    loading: AtomicBool,
    loaded: tokio::sync::Notify,
    /// Serialises switches so that one caller swaps and the others see its result.
    switching: tokio::sync::Mutex<()>,
}

/// Hands out IDs for many biz tags from double-buffered segments. Share it in an `Arc`.
pub struct SegmentAllocator<S: SegmentStore, C: Clock> {
    store: Arc<S>,
    clock: Arc<C>,
    config: SegmentConfig,
    tags: parking_lot::RwLock<HashMap<String, Arc<TagBuffer>>>,
    /// Serialises first loads of tags so a tag is inserted once.
    creating: tokio::sync::Mutex<()>,
}

impl<S: SegmentStore, C: Clock> std::fmt::Debug for SegmentAllocator<S, C> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SegmentAllocator")
            .field("config", &self.config)
            .field("tags", &self.tags.read().len())
            .finish_non_exhaustive()
    }
}

impl<S: SegmentStore, C: Clock> SegmentAllocator<S, C> {
    /// An allocator over `store`. Must be used inside a tokio runtime (prefetches are
    /// spawned tasks).
    pub fn new(store: Arc<S>, clock: Arc<C>, config: SegmentConfig) -> Arc<Self> {
        Arc::new(Self {
            store,
            clock,
            config,
            tags: parking_lot::RwLock::new(HashMap::new()),
            creating: tokio::sync::Mutex::new(()),
        })
    }

    /// The next ID of `biz_tag`.
    pub async fn next_id(self: &Arc<Self>, biz_tag: &str) -> Result<u64, SegmentError> {
        let buffer = self.buffer(biz_tag).await?;
        loop {
            let segment = buffer.current.load_full();
            let id = segment.cursor.fetch_add(1, Ordering::Relaxed);
            if id < segment.end {
                if id == segment.prefetch_at {
                    self.spawn_prefetch(&buffer, &segment);
                }
                return Ok(id);
            }
            self.switch(&buffer, &segment).await?;
        }
    }

    /// `count` IDs of `biz_tag` (for batch endpoints).
    pub async fn next_ids(
        self: &Arc<Self>,
        biz_tag: &str,
        count: usize,
    ) -> Result<Vec<u64>, SegmentError> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(self.next_id(biz_tag).await?);
        }
        Ok(ids)
    }

    /// The biz tags loaded so far.
    pub fn tags(&self) -> Vec<String> {
        self.tags.read().keys().cloned().collect()
    }

    async fn buffer(&self, biz_tag: &str) -> Result<Arc<TagBuffer>, SegmentError> {
        if let Some(buffer) = self.tags.read().get(biz_tag) {
            return Ok(Arc::clone(buffer));
        }
        let _creating = self.creating.lock().await;
        if let Some(buffer) = self.tags.read().get(biz_tag) {
            return Ok(Arc::clone(buffer));
        }
        if self.tags.read().len() >= MAX_BIZ_TAGS {
            return Err(SegmentError::TooManyTags);
        }
        // Only tags the store knows are cached, so unknown tags cannot grow the map.
        let allocation = self.store.next_segment(biz_tag, None).await?;
        let segment = Segment::new(allocation, self.config.prefetch_percent, self.clock.now_ms());
        let buffer = Arc::new(TagBuffer {
            biz_tag: biz_tag.to_owned(),
            base_step: allocation.base_step.max(1),
            current: ArcSwap::from_pointee(segment),
            next: parking_lot::Mutex::new(None),
            loading: AtomicBool::new(false),
            loaded: tokio::sync::Notify::new(),
            switching: tokio::sync::Mutex::new(()),
        });
        self.tags.write().insert(biz_tag.to_owned(), Arc::clone(&buffer));
        Ok(buffer)
    }

    /// Leaf's rule: the step for the segment after `current`.
    fn next_step(&self, buffer: &TagBuffer, current: &Segment) -> u64 {
        let lasted_ms = self.clock.now_ms().saturating_sub(current.loaded_at_ms);
        let step = if lasted_ms < self.config.grow_below_ms {
            current.step.saturating_mul(2)
        } else if lasted_ms > self.config.shrink_above_ms {
            current.step / 2
        } else {
            current.step
        };
        step.clamp(buffer.base_step, self.config.max_step.max(buffer.base_step))
    }

    fn spawn_prefetch(self: &Arc<Self>, buffer: &Arc<TagBuffer>, current: &Arc<Segment>) {
        if buffer.loading.swap(true, Ordering::AcqRel) {
            return;
        }
        let (allocator, buffer, current) =
            (Arc::clone(self), Arc::clone(buffer), Arc::clone(current));
        tokio::spawn(async move {
            // A failure is not lost: the switch finds no next segment and loads inline,
            // returning the error to its caller.
            if let Err(error) = allocator.load_next(&buffer, &current).await {
                tracing::warn!(biz_tag = %buffer.biz_tag, %error, "segment prefetch failed");
            }
        });
    }

    /// Fetch the segment after `current` into `next`; the caller has set `loading`.
    async fn load_next(&self, buffer: &TagBuffer, current: &Segment) -> Result<(), SegmentError> {
        let step = self.next_step(buffer, current);
        let result = self.store.next_segment(&buffer.biz_tag, Some(step)).await;
        if let Ok(allocation) = &result {
            let segment =
                Segment::new(*allocation, self.config.prefetch_percent, self.clock.now_ms());
            *buffer.next.lock() = Some(Arc::new(segment));
        }
        buffer.loading.store(false, Ordering::Release);
        buffer.loaded.notify_waiters();
        result.map(|_| ())
    }

    /// `exhausted` ran out: swap in the next segment, waiting for or doing its fetch.
    async fn switch(
        &self,
        buffer: &TagBuffer,
        exhausted: &Arc<Segment>,
    ) -> Result<(), SegmentError> {
        let _switching = buffer.switching.lock().await;
        loop {
            if !Arc::ptr_eq(&buffer.current.load(), exhausted) {
                return Ok(()); // another caller switched while we queued
            }
            if let Some(next) = buffer.next.lock().take() {
                buffer.current.store(next);
                return Ok(());
            }
            let loaded = buffer.loaded.notified();
            tokio::pin!(loaded);
            loaded.as_mut().enable();
            if !buffer.loading.swap(true, Ordering::AcqRel) {
                // Nothing in flight (prefetch not triggered yet, or it failed): fetch now.
                self.load_next(buffer, exhausted).await?;
                continue;
            }
            if buffer.next.lock().is_none() && buffer.loading.load(Ordering::Acquire) {
                loaded.await;
            }
        }
    }
}

/// An in-memory [`SegmentStore`] for tests and the embedded demo: tag → (max_id, step).
#[derive(Debug, Default)]
pub struct MemorySegmentStore {
    rows: parking_lot::Mutex<HashMap<String, (u64, u64)>>,
    calls: AtomicU64,
    steps: parking_lot::Mutex<Vec<u64>>,
    latency: Option<std::time::Duration>,
}

impl MemorySegmentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every allocation takes `latency` (to test the double buffer).
    pub fn with_latency(latency: std::time::Duration) -> Self {
        Self { latency: Some(latency), ..Self::default() }
    }

    /// Add (or reset) a tag whose first ID is `max_id` and stored step is `step`.
    pub fn insert_tag(&self, biz_tag: &str, max_id: u64, step: u64) {
        self.rows.lock().insert(biz_tag.to_owned(), (max_id, step));
    }

    /// The length of every segment allocated so far, in order.
    pub fn steps(&self) -> Vec<u64> {
        self.steps.lock().clone()
    }

    /// Allocations served so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl SegmentStore for MemorySegmentStore {
    async fn next_segment(
        &self,
        biz_tag: &str,
        step: Option<u64>,
    ) -> Result<Allocation, SegmentError> {
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut rows = self.rows.lock();
        let (max_id, base_step) = rows
            .get_mut(biz_tag)
            .ok_or_else(|| SegmentError::UnknownBizTag { biz_tag: biz_tag.to_owned() })?;
        let step = step.unwrap_or(*base_step).max(1);
        let start = *max_id;
        let end = start
            .checked_add(step)
            .filter(|end| *end <= i64::MAX as u64)
            .ok_or_else(|| SegmentError::Exhausted { biz_tag: biz_tag.to_owned() })?;
        *max_id = end;
        self.steps.lock().push(step);
        Ok(Allocation { start, end, base_step: *base_step })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::clock::{ManualClock, SystemClock};

    const NOW_MS: u64 = 1_767_225_600_000;

    fn allocator(
        store: &Arc<MemorySegmentStore>,
    ) -> Arc<SegmentAllocator<MemorySegmentStore, SystemClock>> {
        SegmentAllocator::new(Arc::clone(store), Arc::new(SystemClock), SegmentConfig::default())
    }

    #[tokio::test]
    async fn ids_are_consecutive_within_and_increasing_across_segments() {
        let store = Arc::new(MemorySegmentStore::new());
        store.insert_tag("order", 1, 100);
        let allocator = allocator(&store);
        let ids = allocator.next_ids("order", 1_000).await.unwrap();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(ids[0], 1);
        assert_eq!(ids[99], 100);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_segment_switch_under_concurrent_load_gives_no_duplicates() {
        let store = Arc::new(MemorySegmentStore::with_latency(Duration::from_micros(200)));
        store.insert_tag("order", 1, 50);
        let config = SegmentConfig { max_step: 200, ..SegmentConfig::default() };
        let allocator = SegmentAllocator::new(Arc::clone(&store), Arc::new(SystemClock), config);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let allocator = Arc::clone(&allocator);
                tokio::spawn(async move { allocator.next_ids("order", 20_000).await.unwrap() })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            let ids = task.await.unwrap();
            assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "not increasing within a task");
            all.extend(ids);
        }
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), total);
        assert!(store.calls() > 100, "the test must cross many switches");
    }

    #[tokio::test]
    async fn the_next_segment_is_prefetched_at_ten_percent_so_the_switch_does_not_wait() {
        let store = Arc::new(MemorySegmentStore::with_latency(Duration::from_millis(30)));
        store.insert_tag("order", 1, 1_000);
        let allocator = allocator(&store);
        let first = allocator.next_ids("order", 100).await.unwrap();
        assert_eq!(store.calls(), 1);
        allocator.next_id("order").await.unwrap(); // the 101st: 10% used
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(store.calls(), 2, "prefetched in the background");
        allocator.next_ids("order", 899).await.unwrap();
        let started = std::time::Instant::now();
        let after_switch = allocator.next_id("order").await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(20), "the switch waited for the store");
        assert_eq!(after_switch, 1_001);
        assert!(first[0] < after_switch);
    }

    #[tokio::test]
    async fn the_step_doubles_when_fast_and_halves_when_slow() {
        let store = Arc::new(MemorySegmentStore::new());
        store.insert_tag("order", 0, 100);
        let clock = ManualClock::new(NOW_MS);
        let allocator =
            SegmentAllocator::new(Arc::clone(&store), Arc::clone(&clock), SegmentConfig::default());
        // First segment: 0..100 at the stored step; used within a minute: next is 200 long.
        let mut ids = allocator.next_ids("order", 101).await.unwrap();
        assert_eq!(ids[100], 100);
        ids = allocator.next_ids("order", 200).await.unwrap();
        assert_eq!(ids[199], 300, "second segment 100..300 holds 200");
        // The third segment (300..700) is fetched at 10% of the second; make it slow.
        clock.advance_ms(31 * 60 * 1000);
        ids = allocator.next_ids("order", 400).await.unwrap();
        assert_eq!(ids.last().copied(), Some(700));
        // The fourth was fetched 31 min after the third was loaded: halved to 200; the
        // fifth, fetched right after the fourth was loaded, doubles again.
        allocator.next_ids("order", 201).await.unwrap();
        assert_eq!(store.steps(), vec![100, 200, 400, 200, 400]);
    }

    #[tokio::test]
    async fn many_biz_tags_are_independent() {
        let store = Arc::new(MemorySegmentStore::new());
        for tag in 0..50 {
            store.insert_tag(&format!("tag-{tag}"), 1, 10);
        }
        let allocator = allocator(&store);
        for round in 0..30u64 {
            for tag in 0..50 {
                assert_eq!(allocator.next_id(&format!("tag-{tag}")).await.unwrap(), round + 1);
            }
        }
        assert_eq!(allocator.tags().len(), 50);
    }

    #[tokio::test]
    async fn an_unknown_biz_tag_is_an_error_and_is_not_cached() {
        let store = Arc::new(MemorySegmentStore::new());
        let allocator = allocator(&store);
        let error = allocator.next_id("nope").await.unwrap_err();
        assert!(matches!(error, SegmentError::UnknownBizTag { biz_tag } if biz_tag == "nope"));
        assert!(allocator.tags().is_empty());
    }
}
