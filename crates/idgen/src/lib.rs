//! Unique ID generators, chapter 7 of *System Design Interview* built for real:
//! Snowflake with Leaf-snowflake's clock-rollback handling and a persisted timestamp
//! reservation, worker-ID leasing without ZooKeeper, Meituan Leaf's segment mode (double
//! buffer, prefetch, dynamic step), Baidu uid-generator's cached ring, Flickr's ticket
//! server (offset + step k, the book's multi-master), and monotonic UUIDv7 / ULID.
//!
//! What it is not: a consensus system. Uniqueness across processes rests on each process
//! holding a distinct worker ID (leased from a [`WorkerRegistry`]) or a distinct segment
//! (allocated by one SQL row update); no clock is trusted beyond the stated bounds.
//!
//! # Layout
//!
//! - [`clock`]: the [`Clock`] trait — [`SystemClock`], [`TickerClock`] (one atomic load),
//!   [`ManualClock`] for tests.
//! - [`layout`]: [`LayoutSpec`] → validated [`Layout`]: bits, epoch, horizon, `decode`.
//! - [`snowflake`]: the lock-free [`Snowflake`] generator and its rollback policy.
//! - [`persist`]: the reservation file that makes restarts with the clock behind safe.
//! - [`uuid7`]: [`Uuid7Generator`] (monotonic across threads) and [`UlidGenerator`].
//! - [`ring`]: [`UidRing`], uid-generator's cached mode.
//! - [`segment`]: [`SegmentAllocator`] over a [`SegmentStore`], Leaf's segment mode.
//! - [`registry`]: [`WorkerRegistry`] leases; [`ticket`]: [`TicketServer`].
//! - [`leased`]: [`LeasedSnowflake`], a Snowflake generator on a worker ID it keeps
//!   leased (heartbeats, stops issuing near expiry, re-acquires after a loss).
//! - [`sql`]: SQLite and PostgreSQL implementations of the three stores, and migrations.
//! - [`api`]: HTTP request/response types and the parsing of `kind`/`count`.
//! - [`cli`]: `blueprint ids new|decode|bench`.
//!
//! # Limits
//!
//! - Snowflake default layout: 4,096 IDs per ms per worker (4.096 M/s), 32 datacenters ×
//!   32 workers, horizon 2080-07-10. A layout is refused once expired.
//! - Rollbacks up to [`DEFAULT_MAX_ROLLBACK_WAIT_MS`] are waited out; larger ones fail.
//! - [`api::MAX_COUNT`] IDs per HTTP request.
//! - A [`LeasedSnowflake`] stops issuing [`leased::CLOCK_SKEW_MARGIN_MS`] before its
//!   lease expires ([`leased::LEASE_TTL_MS`] after the last renewal).
//!
//! # Example
//!
//! ```
//! use blueprint_idgen::{NodeId, Snowflake, SnowflakeConfig, SystemClock};
//!
//! let config = SnowflakeConfig { node: NodeId { datacenter: 1, worker: 7 }, ..Default::default() };
//! let generator = Snowflake::new(&config, SystemClock)?;
//! let first = generator.next_id()?;
//! let second = generator.next_id()?;
//! assert!(second > first);
//! let decoded = generator.layout().decode(second)?;
//! assert_eq!((decoded.datacenter, decoded.worker), (1, 7));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api;
pub mod cli;
pub mod clock;
pub mod layout;
pub mod leased;
pub mod periodic;
pub mod persist;
pub mod registry;
pub mod ring;
pub mod segment;
pub mod snowflake;
pub mod sql;
pub mod ticket;
pub mod uuid7;

pub use clock::{Clock, ManualClock, SystemClock, TickerClock};
pub use layout::{DecodeError, Decoded, Layout, LayoutError, LayoutSpec};
pub use leased::{LeaseStartError, LeasedError, LeasedSnowflake};
pub use periodic::PeriodicThread;
pub use persist::{PersistError, TimestampFile};
pub use registry::{Lease, LeaseError, MemoryRegistry, WorkerRegistry};
pub use ring::{RingError, UidRing, UidRingConfig};
pub use segment::{
    Allocation, MemorySegmentStore, SegmentAllocator, SegmentConfig, SegmentError, SegmentStore,
};
pub use snowflake::{
    Attempt, DEFAULT_MAX_ROLLBACK_WAIT_MS, NodeId, ReservationConfig, ReservationKeeper, Snowflake,
    SnowflakeConfig, SnowflakeError,
};
pub use sql::{SqlSegmentStore, SqlTicketServer, SqlWorkerRegistry};
pub use ticket::{MemoryTicketServer, TicketError, TicketServer, TicketShard};
pub use uuid7::{UlidGenerator, Uuid7Generator};
