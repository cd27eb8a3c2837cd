//! Wall-clock time, injected: LWW timestamps, plain-`GET` resolution and tombstone grace
//! read it, so tests can skew each node's clock. Timers and timeouts use `tokio::time`
//! instead (monotonic, and driven by turmoil in simulation).

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock milliseconds since the Unix epoch.
pub trait WallClock: Send + Sync + 'static {
    /// Now, in ms since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}
