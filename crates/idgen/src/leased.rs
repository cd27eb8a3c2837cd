//! A Snowflake generator on a leased worker ID: [`LeasedSnowflake`] acquires a worker ID
//! from a [`WorkerRegistry`], renews the lease every [`HEARTBEAT_INTERVAL`] on a tokio
//! task, and issues IDs only while the lease is live by its clock, minus
//! [`CLOCK_SKEW_MARGIN_MS`]. After a loss it stops issuing, acquires another worker ID and
//! moves its generator onto it.
//!
//! Leases are not released on drop: a process restarted within [`LEASE_TTL_MS`] gets
//! another worker ID, and one restarted later starts at least that far past the old
//! process's last timestamp, so a restart never repeats an ID.
//!
//! # Example
//!
//! ```
//! use blueprint_idgen::{LeasedSnowflake, MemoryRegistry, SystemClock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = MemoryRegistry::new(32);
//! let ids = LeasedSnowflake::start(registry, 1, "doc".into(), SystemClock).await?;
//! assert_eq!(ids.next_ids(3)?.len(), 3);
//! assert_eq!((ids.node().datacenter, ids.node().worker), (1, 0));
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use crate::clock::{Clock, SystemClock};
use crate::layout::Layout;
use crate::registry::{Lease, LeaseError, WorkerRegistry};
use crate::snowflake::{NodeId, Snowflake, SnowflakeConfig, SnowflakeError};

/// A worker-ID lease lasts this long unless renewed. It is also how long a restarted
/// process keeps off its previous worker ID.
pub const LEASE_TTL_MS: u64 = 30_000;
/// Renew the lease this often: a third of the TTL, so one failed heartbeat is survived.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(LEASE_TTL_MS / 3);
/// A heartbeat or acquire that takes longer than this counts as failed (a hung database
/// must not hold the renewal loop past the lease's expiry).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// Stop issuing this long before the lease expires by our clock: the clock skew between
/// processes tolerated before a lapsed worker ID could be issued by two of them.
pub const CLOCK_SKEW_MARGIN_MS: u64 = 5_000;

/// The generator IDs are stamped by. Lease times are read on the caller's clock instead,
/// the one every process sharing the registry agrees on.
type Generator = Snowflake<SystemClock>;

/// Why [`LeasedSnowflake::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseStartError {
    /// No worker ID could be leased.
    #[error(transparent)]
    Acquire {
        /// The registry's refusal.
        source: LeaseError,
    },
    /// The leased worker ID does not fit the Snowflake layout (the lease was released).
    #[error(transparent)]
    Generator {
        /// The generator's refusal.
        source: SnowflakeError,
    },
}

/// Why [`LeasedSnowflake::next_ids`] issued nothing.
#[derive(Debug, thiserror::Error)]
pub enum LeasedError {
    /// The lease may have lapsed (or is within [`CLOCK_SKEW_MARGIN_MS`] of it), so the
    /// worker ID may be another process's: retry once it is renewed or replaced.
    #[error("the worker-ID lease may have lapsed")]
    LeaseLapsed,
    /// The generator refused (e.g. the clock moved back).
    #[error(transparent)]
    Snowflake {
        /// The generator's error.
        source: SnowflakeError,
    },
}

/// A Snowflake generator whose worker ID is leased, and kept leased by a tokio task for as
/// long as a handle lives.
#[derive(Debug)]
pub struct LeasedSnowflake<C: Clock> {
    datacenter: u64,
    /// Replaced only when a lost lease is re-acquired on another worker ID.
    generator: RwLock<Arc<Generator>>,
    /// Issue only while `now + CLOCK_SKEW_MARGIN_MS` is before this (0: no lease).
    lease_expires_at_ms: AtomicU64,
    /// The clock lease times are read on (shared by every process using the registry).
    clock: C,
}

impl<C: Clock> LeasedSnowflake<C> {
    /// Lease a worker ID in `registry` as `owner`, build a generator on `datacenter` and
    /// it, and spawn the renewal task on the current tokio runtime. The task ends once
    /// the last handle is dropped. Panics outside a tokio runtime.
    pub async fn start<R: WorkerRegistry>(
        registry: R,
        datacenter: u64,
        owner: String,
        clock: C,
    ) -> Result<Arc<Self>, LeaseStartError> {
        let lease = registry
            .acquire(&owner, clock.now_ms(), LEASE_TTL_MS)
            .await
            .map_err(|source| LeaseStartError::Acquire { source })?;
        let leased = match Self::new(datacenter, &lease, clock) {
            Ok(leased) => Arc::new(leased),
            Err(source) => {
                // Best effort: the lease would lapse by itself within the TTL anyway.
                let _released = registry.release(&lease).await;
                return Err(LeaseStartError::Generator { source });
            }
        };
        tokio::spawn(keep_leased(registry, owner, Some(lease), Arc::downgrade(&leased)));
        Ok(leased)
    }

    fn new(datacenter: u64, lease: &Lease, clock: C) -> Result<Self, SnowflakeError> {
        Ok(Self {
            datacenter,
            generator: RwLock::new(Arc::new(new_generator(datacenter, lease.worker_id)?)),
            lease_expires_at_ms: AtomicU64::new(lease.expires_at_ms),
            clock,
        })
    }

    /// `count` consecutive IDs. Past 4,096 in one millisecond the generator waits for
    /// the next one: at most ~3 ms for [`crate::api::MAX_COUNT`], short enough to stay
    /// inline.
    pub fn next_ids(&self, count: usize) -> Result<Vec<u64>, LeasedError> {
        let expires_at_ms = self.lease_expires_at_ms.load(Ordering::Acquire);
        if self.clock.now_ms().saturating_add(CLOCK_SKEW_MARGIN_MS) >= expires_at_ms {
            return Err(LeasedError::LeaseLapsed);
        }
        let mut ids = Vec::with_capacity(count);
        self.current()
            .next_ids(&mut ids, count)
            .map_err(|source| LeasedError::Snowflake { source })?;
        Ok(ids)
    }

    /// The node ID IDs are issued on now (the worker changes after a lost lease).
    pub fn node(&self) -> NodeId {
        self.current().node()
    }

    /// The Snowflake layout, to decode IDs with.
    pub fn layout(&self) -> Layout {
        *self.current().layout()
    }

    fn current(&self) -> Arc<Generator> {
        Arc::clone(&self.generator.read())
    }

    fn extend(&self, lease: &Lease) {
        self.lease_expires_at_ms.store(lease.expires_at_ms, Ordering::Release);
    }

    fn lapse(&self) {
        self.lease_expires_at_ms.store(0, Ordering::Release);
    }

    /// Issue on `lease` from now on. The generator is kept when the worker ID is the same
    /// (a fresh one could repeat the old one's IDs within the current millisecond).
    fn install(&self, lease: &Lease) -> Result<(), SnowflakeError> {
        if self.current().node().worker != lease.worker_id {
            let generator = Arc::new(new_generator(self.datacenter, lease.worker_id)?);
            *self.generator.write() = generator;
        }
        // After the swap (release), so no request pairs the new lease with the old worker.
        self.extend(lease);
        Ok(())
    }
}

fn new_generator(datacenter: u64, worker: u64) -> Result<Generator, SnowflakeError> {
    let config =
        SnowflakeConfig { node: NodeId { datacenter, worker }, ..SnowflakeConfig::default() };
    Snowflake::new(&config, SystemClock)
}

/// Every [`HEARTBEAT_INTERVAL`]: renew the lease, or acquire a new one once it is lost.
/// Ends when the generator is dropped.
async fn keep_leased<R: WorkerRegistry, C: Clock>(
    registry: R,
    owner: String,
    mut lease: Option<Lease>,
    leased: Weak<LeasedSnowflake<C>>,
) {
    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate, and the lease is fresh
    loop {
        ticker.tick().await;
        let Some(leased) = leased.upgrade() else { return };
        lease = match lease {
            Some(held) => renew(&registry, &leased, held).await,
            None => reacquire(&registry, &leased, &owner).await,
        };
    }
}

/// Extend `held`; `None` when it is lost for good. A failure that is not a loss keeps
/// it: the next tick retries, and issuing stops by itself as expiry nears.
async fn renew<R: WorkerRegistry, C: Clock>(
    registry: &R,
    leased: &LeasedSnowflake<C>,
    held: Lease,
) -> Option<Lease> {
    let renewal = registry.heartbeat(&held, leased.clock.now_ms(), LEASE_TTL_MS);
    match tokio::time::timeout(HEARTBEAT_TIMEOUT, renewal).await {
        Ok(Ok(renewed)) => {
            leased.extend(&renewed);
            Some(renewed)
        }
        Ok(Err(LeaseError::Lost { worker_id })) => {
            leased.lapse();
            tracing::error!(worker_id, "ids: worker ID lease lost; acquiring another");
            None
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "ids: lease heartbeat failed; retrying");
            Some(held)
        }
        Err(_elapsed) => {
            tracing::warn!(?HEARTBEAT_TIMEOUT, "ids: lease heartbeat timed out; retrying");
            Some(held)
        }
    }
}

/// Acquire a new lease and move the generator onto it; `None` to retry on the next tick.
async fn reacquire<R: WorkerRegistry, C: Clock>(
    registry: &R,
    leased: &LeasedSnowflake<C>,
    owner: &str,
) -> Option<Lease> {
    let acquisition = registry.acquire(owner, leased.clock.now_ms(), LEASE_TTL_MS);
    let lease = match tokio::time::timeout(HEARTBEAT_TIMEOUT, acquisition).await {
        Ok(Ok(lease)) => lease,
        Ok(Err(error)) => {
            tracing::warn!(%error, "ids: cannot acquire a worker ID; retrying");
            return None;
        }
        Err(_elapsed) => {
            tracing::warn!(?HEARTBEAT_TIMEOUT, "ids: acquiring a worker ID timed out; retrying");
            return None;
        }
    };
    match leased.install(&lease) {
        Ok(()) => {
            tracing::info!(worker_id = lease.worker_id, "ids: issuing again on a new worker ID");
            Some(lease)
        }
        Err(error) => {
            tracing::error!(%error, "ids: cannot build a generator on the new worker ID");
            let _released = registry.release(&lease).await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::clock::ManualClock;
    use crate::registry::MemoryRegistry;

    use super::*;

    /// 2026-01-01T00:00:00Z.
    const NOW_MS: u64 = 1_767_225_600_000;

    type Leased = LeasedSnowflake<Arc<ManualClock>>;

    async fn leased(registry: &MemoryRegistry, clock: &Arc<ManualClock>) -> (Leased, Lease) {
        let lease = registry.acquire("a", NOW_MS, LEASE_TTL_MS).await.unwrap();
        (LeasedSnowflake::new(3, &lease, Arc::clone(clock)).unwrap(), lease)
    }

    fn worker_of(leased: &Leased) -> u64 {
        let id = leased.next_ids(1).unwrap()[0];
        leased.layout().decode(id).unwrap().worker
    }

    /// One registry shared by the renewal task and the test (standing in for another
    /// process on the same database).
    struct Shared(Arc<MemoryRegistry>);

    impl WorkerRegistry for Shared {
        async fn acquire(
            &self,
            owner: &str,
            now_ms: u64,
            ttl_ms: u64,
        ) -> Result<Lease, LeaseError> {
            self.0.acquire(owner, now_ms, ttl_ms).await
        }
        async fn heartbeat(
            &self,
            lease: &Lease,
            now_ms: u64,
            ttl_ms: u64,
        ) -> Result<Lease, LeaseError> {
            self.0.heartbeat(lease, now_ms, ttl_ms).await
        }
        async fn release(&self, lease: &Lease) -> Result<(), LeaseError> {
            self.0.release(lease).await
        }
    }

    /// Start a generator as owner "a" on `registry`, its renewal task's ticks aligned
    /// with the start (the task has run up to its first wait).
    async fn started(registry: &Arc<MemoryRegistry>, clock: &Arc<ManualClock>) -> Arc<Leased> {
        let shared = Shared(Arc::clone(registry));
        let leased =
            LeasedSnowflake::start(shared, 3, "a".into(), Arc::clone(clock)).await.unwrap();
        settle().await;
        leased
    }

    /// Let the renewal task run until it waits again (its registry calls never block).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// Move both the lease clock and tokio's paused clock by `by`, then let the renewal
    /// task run whatever tick came due.
    async fn elapse(clock: &ManualClock, by: Duration) {
        clock.advance_ms(u64::try_from(by.as_millis()).unwrap());
        tokio::time::advance(by).await;
        settle().await;
    }

    #[tokio::test]
    async fn issuing_stops_within_the_skew_margin_of_the_lease_expiry() {
        let registry = MemoryRegistry::new(4);
        let clock = ManualClock::new(NOW_MS);
        let (leased, _lease) = leased(&registry, &clock).await;
        assert_eq!(leased.next_ids(10).unwrap().len(), 10);
        clock.advance_ms(LEASE_TTL_MS - CLOCK_SKEW_MARGIN_MS);
        assert!(matches!(leased.next_ids(1), Err(LeasedError::LeaseLapsed)));
    }

    #[tokio::test]
    async fn a_renewed_lease_keeps_issuing_past_the_first_expiry() {
        let registry = MemoryRegistry::new(4);
        let clock = ManualClock::new(NOW_MS);
        let (leased, lease) = leased(&registry, &clock).await;
        clock.advance_ms(u64::try_from(HEARTBEAT_INTERVAL.as_millis()).unwrap());
        let renewed = renew(&registry, &leased, lease).await.unwrap();
        assert!(renewed.expires_at_ms > lease.expires_at_ms);
        clock.advance_ms(LEASE_TTL_MS - CLOCK_SKEW_MARGIN_MS - 1);
        assert_eq!(worker_of(&leased), 0);
    }

    #[tokio::test]
    async fn a_lost_lease_stops_issuing_until_another_worker_id_is_acquired() {
        let registry = MemoryRegistry::new(4);
        let clock = ManualClock::new(NOW_MS);
        let (leased, lease) = leased(&registry, &clock).await;
        // The heartbeats failed past expiry, and another process took worker 0.
        clock.advance_ms(LEASE_TTL_MS + 1);
        registry.acquire("b", clock.now_ms(), LEASE_TTL_MS).await.unwrap();
        assert!(renew(&registry, &leased, lease).await.is_none());
        assert!(matches!(leased.next_ids(1), Err(LeasedError::LeaseLapsed)));
        let again = reacquire(&registry, &leased, "a").await.unwrap();
        assert_eq!(again.worker_id, 1);
        assert_eq!(worker_of(&leased), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_renewal_task_keeps_issuing_across_many_lease_ttls() {
        let registry = Arc::new(MemoryRegistry::new(4));
        let clock = ManualClock::new(NOW_MS);
        let leased = started(&registry, &clock).await;
        for _ in 0..10 {
            elapse(&clock, HEARTBEAT_INTERVAL).await;
            assert_eq!(worker_of(&leased), 0);
        }
        assert_eq!(registry.owner(0).as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_renewal_task_moves_onto_a_new_worker_id_after_a_loss() {
        let registry = Arc::new(MemoryRegistry::new(4));
        let clock = ManualClock::new(NOW_MS);
        let leased = started(&registry, &clock).await;
        // The lease clock jumps past expiry between ticks, and another process takes worker 0.
        clock.advance_ms(LEASE_TTL_MS);
        registry.acquire("b", clock.now_ms(), LEASE_TTL_MS).await.unwrap();
        elapse(&clock, HEARTBEAT_INTERVAL).await; // the heartbeat finds the lease lost
        assert!(matches!(leased.next_ids(1), Err(LeasedError::LeaseLapsed)));
        elapse(&clock, HEARTBEAT_INTERVAL).await; // the next tick acquires worker 1
        assert_eq!(leased.node(), NodeId { datacenter: 3, worker: 1 });
        assert_eq!(worker_of(&leased), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_last_handle_stops_renewing_the_lease() {
        let registry = Arc::new(MemoryRegistry::new(4));
        let clock = ManualClock::new(NOW_MS);
        let leased = started(&registry, &clock).await;
        drop(leased);
        for _ in 0..3 {
            elapse(&clock, HEARTBEAT_INTERVAL).await;
        }
        // Unrenewed, worker 0 lapsed at the TTL and is free again.
        let lease = registry.acquire("b", clock.now_ms(), LEASE_TTL_MS).await.unwrap();
        assert_eq!(lease.worker_id, 0);
    }

    #[tokio::test]
    async fn a_worker_id_outside_the_layout_is_refused_and_released() {
        let registry = Arc::new(MemoryRegistry::new(64));
        for owner in 0..32 {
            registry.acquire(&owner.to_string(), NOW_MS, LEASE_TTL_MS).await.unwrap();
        }
        let clock = ManualClock::new(NOW_MS);
        let shared = Shared(Arc::clone(&registry));
        let error = LeasedSnowflake::start(shared, 3, "a".into(), clock).await.unwrap_err();
        assert!(matches!(error, LeaseStartError::Generator { .. }), "{error:?}");
        // Released: the next acquirer gets worker 32 back.
        assert_eq!(registry.acquire("b", NOW_MS, LEASE_TTL_MS).await.unwrap().worker_id, 32);
    }
}
