//! Clocks: where stores get `now`. Injected, so tests control time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::core::Nanos;

/// A monotonic source of [`Nanos`].
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since this clock's origin; never decreases.
    fn now(&self) -> Nanos;
}

/// The real monotonic clock (`std::time::Instant`), origin at construction.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock starting at 0 now.
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Nanos {
        // u64 nanoseconds overflow after 584 years of uptime.
        self.origin.elapsed().as_nanos() as Nanos
    }
}

/// The fast monotonic clock: `quanta` reads the CPU's time-stamp counter (a few
/// nanoseconds) where `Instant::now` may cost a system call under a hypervisor (~70 ns
/// measured on this project's VMs). This is the default for stores; origin at construction.
#[derive(Debug, Clone)]
pub struct FastClock {
    clock: quanta::Clock,
    origin_raw: u64,
}

impl FastClock {
    /// A clock starting at 0 now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin_raw = clock.raw();
        Self { clock, origin_raw }
    }
}

impl Default for FastClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FastClock {
    #[inline]
    fn now(&self) -> Nanos {
        // Raw counter and quanta's multiply-shift scaling: no division, no `Duration`.
        self.clock.delta_as_nanos(self.origin_raw, self.clock.raw())
    }
}

/// A clock that moves only when told: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Nanos) -> Self {
        Self { now: AtomicU64::new(start) }
    }

    /// Moves the clock forward by `by` nanoseconds.
    pub fn advance(&self, by: Nanos) {
        self.now.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock (never backwards: a smaller value is ignored).
    pub fn set(&self, to: Nanos) {
        self.now.fetch_max(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> Nanos {
        (**self).now()
    }
}
