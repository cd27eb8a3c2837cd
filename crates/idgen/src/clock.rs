//! Time sources. Every generator takes a [`Clock`] so that tests can step time back and
//! forth ([`ManualClock`]) and benchmarks can compare like with like ([`TickerClock`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Waits shorter than this spin on the clock instead of sleeping: a sleep overshoots by
/// ~50–100 µs, which would cost a Snowflake generator a whole millisecond of sequence.
const SPIN_BELOW_MS: u64 = 2;

/// How often [`TickerClock`]'s thread samples the wall clock. Well under a millisecond so
/// that no millisecond is skipped (a skipped millisecond is 4,096 Snowflake IDs lost).
const TICKER_PERIOD: Duration = Duration::from_micros(200);

/// A source of wall-clock time in milliseconds since the Unix epoch.
///
/// Implementations may step backwards (that is what NTP does to real clocks); the
/// generators detect it. `wait_until_ms` is how a generator waits for time to pass, so a
/// manual clock can simply advance instead of blocking.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_ms(&self) -> u64;

    /// Block until `now_ms() >= target_ms` (or return at once if it already is).
    fn wait_until_ms(&self, target_ms: u64);
}

impl<C: Clock> Clock for Arc<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn wait_until_ms(&self, target_ms: u64) {
        (**self).wait_until_ms(target_ms);
    }
}

fn system_now_ms() -> u64 {
    // A system clock set before 1970 reads as 0, which every layout refuses (before epoch).
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// Spin for short waits, sleep (then spin) for long ones.
fn wait_on(target_ms: u64, now: impl Fn() -> u64) {
    loop {
        let current = now();
        if current >= target_ms {
            return;
        }
        let remaining_ms = target_ms - current;
        if remaining_ms >= SPIN_BELOW_MS {
            std::thread::sleep(Duration::from_millis(remaining_ms - 1));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The operating system's wall clock, read on every call (`clock_gettime` via the vDSO,
/// ~20 ns). Sees every step NTP or an operator makes, forwards and backwards.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now_ms(&self) -> u64 {
        system_now_ms()
    }
    fn wait_until_ms(&self, target_ms: u64) {
        wait_on(target_ms, system_now_ms);
    }
}

/// The wall clock sampled by a background thread every 200 µs into an atomic, so that
/// reading it is one load (~1 ns) — the design of `ferroid`'s `MonotonicClock`, except
/// that this one still reports steps backwards (it samples the wall clock, not `Instant`),
/// so rollback handling keeps working. The thread stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct TickerClock {
    shared: Arc<TickerShared>,
}

#[derive(Debug)]
struct TickerShared {
    now_ms: AtomicU64,
}

impl TickerClock {
    /// Start the sampling thread.
    pub fn start() -> std::io::Result<Self> {
        let shared = Arc::new(TickerShared { now_ms: AtomicU64::new(system_now_ms()) });
        // The thread holds only a weak reference, so dropping every clock ends it.
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new().name("idgen-ticker".into()).spawn(move || {
            while let Some(shared) = weak.upgrade() {
                shared.now_ms.store(system_now_ms(), Ordering::Release);
                drop(shared);
                std::thread::sleep(TICKER_PERIOD);
            }
        })?;
        Ok(Self { shared })
    }
}

impl Clock for TickerClock {
    #[inline]
    fn now_ms(&self) -> u64 {
        self.shared.now_ms.load(Ordering::Acquire)
    }
    fn wait_until_ms(&self, target_ms: u64) {
        loop {
            let current = self.now_ms();
            if current >= target_ms {
                return;
            }
            if target_ms - current >= SPIN_BELOW_MS {
                std::thread::sleep(Duration::from_millis(target_ms - current - 1));
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A clock that moves only when told to, for tests. Waiting on it advances it to the
/// target at once and records how long the wait would have been.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
    waited_ms: AtomicU64,
    waits: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            now_ms: AtomicU64::new(now_ms),
            waited_ms: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        })
    }

    /// Set the time (forwards or backwards).
    pub fn set_ms(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Move the time forwards by `delta_ms`.
    pub fn advance_ms(&self, delta_ms: u64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    /// Move the time backwards by `delta_ms` (a clock rollback).
    pub fn rewind_ms(&self, delta_ms: u64) {
        self.now_ms.fetch_sub(delta_ms, Ordering::SeqCst);
    }

    /// Total milliseconds generators have waited on this clock.
    pub fn waited_ms(&self) -> u64 {
        self.waited_ms.load(Ordering::SeqCst)
    }

    /// How many waits that actually had to advance the clock happened.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
    fn wait_until_ms(&self, target_ms: u64) {
        let before = self.now_ms.fetch_max(target_ms, Ordering::SeqCst);
        if before < target_ms {
            self.waited_ms.fetch_add(target_ms - before, Ordering::SeqCst);
            self.waits.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn manual_clock_wait_advances_and_records_the_wait() {
        let clock = ManualClock::new(1_000);
        clock.wait_until_ms(1_004);
        assert_eq!(clock.now_ms(), 1_004);
        assert_eq!(clock.waited_ms(), 4);
        clock.wait_until_ms(1_000);
        assert_eq!(clock.waits(), 1);
    }

    #[test]
    fn ticker_clock_tracks_the_system_clock() {
        let ticker = TickerClock::start().unwrap();
        let target = SystemClock.now_ms() + 3;
        ticker.wait_until_ms(target);
        let difference = SystemClock.now_ms().abs_diff(ticker.now_ms());
        assert!(difference <= 50, "ticker is {difference} ms off");
    }

    #[test]
    fn system_clock_wait_returns_after_the_target() {
        let target = SystemClock.now_ms() + 3;
        SystemClock.wait_until_ms(target);
        assert!(SystemClock.now_ms() >= target);
    }
}
