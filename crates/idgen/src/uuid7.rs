//! 128-bit time-ordered IDs: UUIDv7 (RFC 9562) and ULID, both strictly increasing across
//! every thread of the process.
//!
//! One `AtomicU64` holds `unix_ms (48) | counter (16)`; each ID takes
//! `max(now << 16, last + 1)` by compare-and-swap, so IDs from any two calls compare in
//! call order (RFC 9562 §6.2 method 1, a 16-bit counter; past 65,536 IDs in one ms the
//! counter carries into the timestamp, which then runs ahead of the clock by at most the
//! excess). The remaining 58 (UUIDv7) or 64 (ULID) bits are random per ID, from a
//! per-thread generator seeded by the OS, which is what keeps processes apart.
//! The `uuid` and `ulid` crates are used only as the value types and formatters.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Clock;

thread_local! {
    /// wyrand state; 0 means "not seeded yet".
    static RANDOM_STATE: Cell<u64> = const { Cell::new(0) };
}

/// 64 random bits from a per-thread wyrand generator (not cryptographic: IDs are unique,
/// not secret).
#[inline]
fn random_u64() -> u64 {
    RANDOM_STATE.with(|cell| {
        let mut state = cell.get();
        if state == 0 {
            state = rand::random::<u64>() | 1;
        }
        state = state.wrapping_add(0xA076_1D64_78BD_642F);
        cell.set(state);
        let product = u128::from(state) * u128::from(state ^ 0xE703_7ED1_A0B4_28DB);
        ((product >> 64) as u64) ^ (product as u64)
    })
}

/// The shared `ms | counter` stamp both generators draw from.
#[derive(Debug)]
struct Stamp<C: Clock> {
    state: AtomicU64,
    clock: C,
}

impl<C: Clock> Stamp<C> {
    #[inline]
    fn next(&self) -> u64 {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            // Milliseconds fit 48 bits until the year 10889.
            let now = self.clock.now_ms() << 16;
            let next = if now > current { now } else { current + 1 };
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }
}

/// UUIDv7 generator: `unix_ms (48) | ver 7 | counter high 12 | var 10 | counter low 4 |
/// random 58`.
#[derive(Debug)]
pub struct Uuid7Generator<C: Clock> {
    stamp: Stamp<C>,
}

impl<C: Clock> Uuid7Generator<C> {
    /// A generator reading `clock`.
    pub fn new(clock: C) -> Self {
        Self { stamp: Stamp { state: AtomicU64::new(0), clock } }
    }

    /// The next UUIDv7, greater than every one issued before by this generator.
    #[inline]
    pub fn next_uuid(&self) -> uuid::Uuid {
        let stamp = u128::from(self.stamp.next());
        let millis = stamp >> 16;
        let counter = stamp & 0xFFFF;
        let value = (millis << 80)
            | (0x7 << 76)
            | ((counter >> 4) << 64)
            | (0b10 << 62)
            | ((counter & 0xF) << 58)
            | u128::from(random_u64() >> 6);
        uuid::Uuid::from_u128(value)
    }
}

/// ULID generator: `unix_ms (48) | counter 16 | random 64`, Crockford base32 when shown.
#[derive(Debug)]
pub struct UlidGenerator<C: Clock> {
    stamp: Stamp<C>,
}

impl<C: Clock> UlidGenerator<C> {
    /// A generator reading `clock`.
    pub fn new(clock: C) -> Self {
        Self { stamp: Stamp { state: AtomicU64::new(0), clock } }
    }

    /// The next ULID, greater than every one issued before by this generator.
    #[inline]
    pub fn next_ulid(&self) -> ulid::Ulid {
        let stamp = u128::from(self.stamp.next());
        ulid::Ulid((stamp << 64) | u128::from(random_u64()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;
    use crate::clock::{ManualClock, SystemClock};

    const NOW_MS: u64 = 1_767_225_600_000;

    #[test]
    fn uuid7_has_version_variant_and_timestamp() {
        let generator = Uuid7Generator::new(ManualClock::new(NOW_MS));
        let value = generator.next_uuid();
        assert_eq!(value.get_version_num(), 7);
        assert_eq!(value.get_variant(), uuid::Variant::RFC4122);
        let (seconds, nanos) = value.get_timestamp().unwrap().to_unix();
        assert_eq!(seconds * 1000 + u64::from(nanos) / 1_000_000, NOW_MS);
    }

    #[test]
    fn uuid7_is_monotonic_across_threads_in_call_order() {
        // Calls are serialised by the mutex, so push order is call order across threads.
        let generator = Arc::new(Uuid7Generator::new(SystemClock));
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (generator, log) = (Arc::clone(&generator), Arc::clone(&log));
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        let mut log = log.lock();
                        log.push(generator.next_uuid());
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let log = log.lock();
        assert!(log.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn uuid7_counter_carries_into_the_timestamp_instead_of_repeating() {
        let clock = ManualClock::new(NOW_MS);
        let generator = Uuid7Generator::new(Arc::clone(&clock));
        let ids: Vec<_> = (0..70_000).map(|_| generator.next_uuid()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(clock.waits(), 0, "never waits");
    }

    #[test]
    fn uuid7_stays_monotonic_through_a_clock_rollback() {
        let clock = ManualClock::new(NOW_MS);
        let generator = Uuid7Generator::new(Arc::clone(&clock));
        let before = generator.next_uuid();
        clock.rewind_ms(10_000);
        assert!(generator.next_uuid() > before);
    }

    #[test]
    fn ulid_is_monotonic_and_carries_the_timestamp() {
        let clock = ManualClock::new(NOW_MS);
        let generator = UlidGenerator::new(Arc::clone(&clock));
        let first = generator.next_ulid();
        let second = generator.next_ulid();
        assert!(second > first);
        assert_eq!(first.timestamp_ms(), NOW_MS);
        assert_eq!(first.to_string().len(), 26);
    }
}
