//! Baidu uid-generator's cached mode: a bounded ring of pre-generated IDs, so that `take`
//! is a few loads and one compare-and-swap.
//!
//! IDs use a seconds layout (default [`LayoutSpec::uid_generator`]: 31-bit seconds from
//! 2025, horizon 2093). Padding fills whole ticks, one after another: the next tick is
//! `max(last + 1, now)`, so the ring may *borrow* future seconds under load (as
//! uid-generator does) but never more than `max_ahead_ticks`; past that, `take` waits
//! for the clock. A step back of the clock is harmless while running (ticks only move
//! forward). Across a restart with the same worker ID, keep the worker's lease TTL above
//! `max_ahead_ticks` so the next holder cannot reuse borrowed seconds.
//!
//! Padding happens when a `take` leaves the ring below `padding_threshold_percent` full
//! (done inline by that taker, without blocking other takers) and on a schedule
//! ([`UidRing::spawn_scheduled_padding`]). Unlike uid-generator, a tick cut short by a
//! full ring is resumed, not discarded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::layout::{Layout, LayoutError, LayoutSpec};
use crate::periodic::PeriodicThread;

/// Largest ring: 16 Mi slots (128 MiB). Bigger buys nothing but memory.
pub const MAX_CAPACITY: usize = 1 << 24;
/// Publish the tail every this many writes, so takers waiting on an empty ring start early.
const PUBLISH_EVERY: u64 = 1024;

/// How a ring is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UidRingConfig {
    /// A seconds (or any tick) layout; datacenter bits are carried as zero.
    pub layout: LayoutSpec,
    /// This ring's worker ID (lease it).
    pub worker: u64,
    /// Slots, a power of two (uid-generator: `(max_sequence + 1) << 3`).
    pub capacity: usize,
    /// Pad when fewer than this percentage of slots hold IDs (uid-generator: 50).
    pub padding_threshold_percent: u8,
    /// How many ticks padding may run ahead of the clock.
    pub max_ahead_ticks: u64,
}

impl Default for UidRingConfig {
    fn default() -> Self {
        Self {
            layout: LayoutSpec::uid_generator(),
            worker: 0,
            capacity: 1 << 16,
            padding_threshold_percent: 50,
            max_ahead_ticks: 10,
        }
    }
}

/// Why the ring could not be built or yield an ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The layout was refused.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The worker ID does not fit the layout.
    #[error("worker ID {worker} exceeds the layout's maximum {max}")]
    WorkerOutOfRange {
        /// The configured worker.
        worker: u64,
        /// The layout's maximum.
        max: u64,
    },
    /// Capacity must be a power of two in `2..=MAX_CAPACITY`.
    #[error("ring capacity {capacity} must be a power of two between 2 and {MAX_CAPACITY}")]
    InvalidCapacity {
        /// The configured capacity.
        capacity: usize,
    },
    /// The threshold must be 1..=99.
    #[error("padding threshold {percent}% must be between 1 and 99")]
    InvalidThreshold {
        /// The configured percentage.
        percent: u8,
    },
    /// The clock reads before the epoch, or the layout's horizon is reached.
    #[error("clock {now_ms} ms is outside the layout's range")]
    ClockOutOfRange {
        /// The clock reading.
        now_ms: u64,
    },
}

/// The padder's position: the tick being filled and its next sequence.
#[derive(Debug)]
struct Padder {
    tick: u64,
    next_sequence: u64,
}

/// The ring. Share it behind an `Arc`.
#[derive(Debug)]
pub struct UidRing<C: Clock> {
    slots: Box<[AtomicU64]>,
    mask: u64,
    /// Count of IDs ever written (next slot to write is `tail & mask`).
    tail: CachePadded<AtomicU64>,
    /// Count of IDs ever taken.
    cursor: CachePadded<AtomicU64>,
    padder: parking_lot::Mutex<Padder>,
    /// Pad when `tail - cursor` falls below this.
    padding_threshold: u64,
    max_ahead_ticks: u64,
    layout: Layout,
    worker: u64,
    clock: C,
}

impl<C: Clock> UidRing<C> {
    /// Validate `config` and fill the ring once.
    pub fn new(config: &UidRingConfig, clock: C) -> Result<Self, RingError> {
        let now_ms = clock.now_ms();
        let layout = config.layout.validate(now_ms)?;
        if config.worker > layout.max_worker() {
            return Err(RingError::WorkerOutOfRange {
                worker: config.worker,
                max: layout.max_worker(),
            });
        }
        let capacity = config.capacity;
        if !capacity.is_power_of_two() || !(2..=MAX_CAPACITY).contains(&capacity) {
            return Err(RingError::InvalidCapacity { capacity });
        }
        let percent = config.padding_threshold_percent;
        if !(1..=99).contains(&percent) {
            return Err(RingError::InvalidThreshold { percent });
        }
        let now_tick = layout.tick_of(now_ms).ok_or(RingError::ClockOutOfRange { now_ms })?;
        let capacity = capacity as u64;
        let ring = Self {
            slots: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            mask: capacity - 1,
            tail: CachePadded::new(AtomicU64::new(0)),
            cursor: CachePadded::new(AtomicU64::new(0)),
            // Sequence past the maximum: the first fill starts a fresh tick.
            padder: parking_lot::Mutex::new(Padder {
                tick: now_tick.saturating_sub(1),
                next_sequence: layout.max_sequence() + 1,
            }),
            padding_threshold: capacity * u64::from(percent) / 100,
            max_ahead_ticks: config.max_ahead_ticks,
            layout,
            worker: config.worker,
            clock,
        };
        ring.pad()?;
        Ok(ring)
    }

    /// The validated layout (for decoding).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// IDs ready to take.
    pub fn available(&self) -> u64 {
        self.tail.load(Ordering::Acquire) - self.cursor.load(Ordering::Acquire)
    }

    /// Take the next ID. Blocks only when the ring is empty and padding has reached
    /// `max_ahead_ticks`, until the clock moves on.
    #[inline]
    pub fn take(&self) -> Result<u64, RingError> {
        loop {
            let cursor = self.cursor.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            if cursor >= tail {
                self.pad_or_wait()?;
                continue;
            }
            // Read before claiming: the padder overwrites this slot only after the cursor
            // has moved past it, in which case the claim below fails.
            let id = self.slots[(cursor & self.mask) as usize].load(Ordering::Relaxed);
            if self
                .cursor
                .compare_exchange(cursor, cursor + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                if tail - cursor - 1 < self.padding_threshold {
                    self.try_pad()?;
                }
                return Ok(id);
            }
        }
    }

    /// Pad unless another thread is already padding.
    #[cold]
    fn try_pad(&self) -> Result<(), RingError> {
        match self.padder.try_lock() {
            Some(mut padder) => self.fill(&mut padder),
            None => Ok(()),
        }
    }

    /// Fill every free slot (as far as `max_ahead_ticks` allows).
    pub fn pad(&self) -> Result<(), RingError> {
        let mut padder = self.padder.lock();
        self.fill(&mut padder)
    }

    #[cold]
    fn pad_or_wait(&self) -> Result<(), RingError> {
        let mut padder = self.padder.lock();
        self.fill(&mut padder)?;
        if self.available() == 0 {
            // Ahead limit reached: the next tick is allowed once the clock is at
            // `tick + 1 - max_ahead_ticks`.
            let allowed_tick = (padder.tick + 1).saturating_sub(self.max_ahead_ticks);
            let target_ms = self.layout.ms_of_tick(allowed_tick);
            drop(padder);
            self.clock.wait_until_ms(target_ms);
        }
        Ok(())
    }

    fn fill(&self, padder: &mut Padder) -> Result<(), RingError> {
        let now_ms = self.clock.now_ms();
        let now_tick = self.layout.tick_of(now_ms).ok_or(RingError::ClockOutOfRange { now_ms })?;
        let capacity = self.mask + 1;
        let mut tail = self.tail.load(Ordering::Relaxed);
        let start = tail;
        // A stale cursor only under-estimates the free space.
        let cursor = self.cursor.load(Ordering::Acquire);
        while tail - cursor < capacity {
            if padder.next_sequence > self.layout.max_sequence() {
                let tick = (padder.tick + 1).max(now_tick);
                if tick > now_tick + self.max_ahead_ticks || tick > self.layout.max_ticks() {
                    break;
                }
                padder.tick = tick;
                padder.next_sequence = 0;
            }
            let id = self.layout.compose(padder.tick, 0, self.worker, padder.next_sequence);
            self.slots[(tail & self.mask) as usize].store(id, Ordering::Relaxed);
            padder.next_sequence += 1;
            tail += 1;
            if (tail - start).is_multiple_of(PUBLISH_EVERY) {
                self.tail.store(tail, Ordering::Release);
            }
        }
        self.tail.store(tail, Ordering::Release);
        Ok(())
    }
}

impl<C: Clock> UidRing<C> {
    /// uid-generator's scheduled padding: pad every `period` on a background thread
    /// (uid-generator uses 5 minutes), stopped when the returned handle is dropped.
    pub fn spawn_scheduled_padding(
        ring: Arc<Self>,
        period: Duration,
    ) -> std::io::Result<PeriodicThread> {
        PeriodicThread::spawn("idgen-ring-padding", period, move || {
            if let Err(error) = ring.pad() {
                tracing::error!(%error, "scheduled ring padding failed");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::ManualClock;

    const NOW_MS: u64 = 1_767_225_600_000;

    fn small(capacity: usize) -> UidRingConfig {
        UidRingConfig { worker: 5, capacity, ..UidRingConfig::default() }
    }

    #[test]
    fn the_baidu_default_layout_is_refused() {
        let config =
            UidRingConfig { layout: LayoutSpec::baidu_default(), ..UidRingConfig::default() };
        let error = UidRing::new(&config, ManualClock::new(NOW_MS)).unwrap_err();
        assert!(matches!(error, RingError::Layout(LayoutError::Expired { .. })));
    }

    #[test]
    fn a_non_power_of_two_capacity_is_refused() {
        let error = UidRing::new(&small(1000), ManualClock::new(NOW_MS)).unwrap_err();
        assert_eq!(error, RingError::InvalidCapacity { capacity: 1000 });
    }

    #[test]
    fn a_new_ring_is_full_and_ids_increase_in_the_current_second() {
        let ring = UidRing::new(&small(1024), ManualClock::new(NOW_MS)).unwrap();
        assert_eq!(ring.available(), 1024);
        let ids: Vec<u64> = (0..1024).map(|_| ring.take().unwrap()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        let first = ring.layout().decode(ids[0]).unwrap();
        assert_eq!((first.timestamp_ms, first.worker, first.sequence), (NOW_MS, 5, 0));
    }

    #[test]
    fn taking_below_the_threshold_pads_again() {
        let ring = UidRing::new(&small(1024), ManualClock::new(NOW_MS)).unwrap();
        for _ in 0..600 {
            ring.take().unwrap();
        }
        // Take 513 left 511 (< 50%): refilled to 1,024; 87 more takes leave 937.
        assert_eq!(ring.available(), 937);
    }

    #[test]
    fn padding_borrows_future_seconds_up_to_the_bound_then_waits() {
        let clock = ManualClock::new(NOW_MS);
        let config = UidRingConfig { max_ahead_ticks: 2, ..small(1024) };
        let ring = UidRing::new(&config, Arc::clone(&clock)).unwrap();
        let per_second = ring.layout().max_sequence() + 1; // 8,192
        let mut last = 0;
        for _ in 0..(per_second * 3) {
            last = ring.take().unwrap();
        }
        assert_eq!(clock.waits(), 0, "three seconds: now, now+1, now+2");
        let next = ring.take().unwrap();
        assert!(next > last);
        assert!(clock.waits() >= 1, "a fourth second must wait for the clock");
        assert_eq!(ring.layout().decode(next).unwrap().timestamp_ms, NOW_MS + 3_000);
    }

    #[test]
    fn concurrent_takers_never_see_a_duplicate() {
        let ring = Arc::new(UidRing::new(&small(4096), crate::clock::SystemClock).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let ring = Arc::clone(&ring);
                std::thread::spawn(move || {
                    (0..5_000).map(|_| ring.take().unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), total);
    }

    #[test]
    fn scheduled_padding_refills_without_takers() {
        let ring = Arc::new(UidRing::new(&small(1024), ManualClock::new(NOW_MS)).unwrap());
        for _ in 0..400 {
            ring.take().unwrap(); // stays above the 50% threshold: no inline padding
        }
        assert_eq!(ring.available(), 624);
        let padding =
            UidRing::spawn_scheduled_padding(Arc::clone(&ring), Duration::from_millis(5)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ring.available() < 1024 {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(padding);
    }
}
