//! Worker-ID leasing without ZooKeeper: a table of `(namespace, worker_id)` rows, each
//! held by one owner until `expires_at_ms`. Holders heartbeat to extend; a lease past
//! expiry can be taken by the next acquirer. Every claim is one conditional write (an
//! `UPDATE ... WHERE expires_at_ms <= now` or an `INSERT ... ON CONFLICT DO NOTHING`),
//! never read-then-write, so two live processes never hold the same worker ID.
//!
//! Times are the callers' clocks: keep clock skew between processes well under the TTL,
//! and stop issuing IDs when a heartbeat fails ([`LeaseError::Lost`]).

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

/// An acquirer retries lost races this many times before giving up.
pub const MAX_ACQUIRE_ATTEMPTS: usize = 32;

/// A held worker ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker ID (put it in [`crate::NodeId::worker`]).
    pub worker_id: u64,
    /// Random proof of ownership, required to heartbeat and release.
    pub token: i64,
    /// The lease is void from this ms on unless renewed.
    pub expires_at_ms: u64,
}

/// Why a lease operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Every worker ID in `0..max_workers` is held by a live lease.
    #[error("all {max_workers} worker IDs are leased")]
    NoFreeWorker {
        /// The namespace's capacity.
        max_workers: u64,
    },
    /// The lease expired or was taken over: stop issuing IDs with this worker ID.
    #[error("lease on worker {worker_id} lost")]
    Lost {
        /// The worker ID.
        worker_id: u64,
    },
    /// Lost [`MAX_ACQUIRE_ATTEMPTS`] races in a row.
    #[error("worker registry too contended")]
    Contended,
    /// The database failed.
    #[error("worker registry: {0}")]
    Database(#[from] sqlx::Error),
}

/// Leases of worker IDs `0..max_workers` within one namespace (e.g. one datacenter).
pub trait WorkerRegistry: Send + Sync + 'static {
    /// Claim the lowest free (never used or expired) worker ID for `ttl_ms`.
    fn acquire(
        &self,
        owner: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> impl Future<Output = Result<Lease, LeaseError>> + Send;

    /// Extend a live lease to `now_ms + ttl_ms`; [`LeaseError::Lost`] if it expired or
    /// changed hands.
    fn heartbeat(
        &self,
        lease: &Lease,
        now_ms: u64,
        ttl_ms: u64,
    ) -> impl Future<Output = Result<Lease, LeaseError>> + Send;

    /// Give the worker ID back at once (clean shutdown).
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), LeaseError>> + Send;
}

/// A random positive token.
pub(crate) fn new_token() -> i64 {
    (rand::random::<u64>() >> 1) as i64
}

#[derive(Debug, Clone)]
struct Row {
    owner: String,
    token: i64,
    expires_at_ms: u64,
}

/// An in-process [`WorkerRegistry`] (tests, single-process setups).
#[derive(Debug)]
pub struct MemoryRegistry {
    max_workers: u64,
    rows: parking_lot::Mutex<HashMap<u64, Row>>,
}

impl MemoryRegistry {
    /// A registry of worker IDs `0..max_workers`.
    pub fn new(max_workers: u64) -> Self {
        Self { max_workers, rows: parking_lot::Mutex::new(HashMap::new()) }
    }

    /// Who holds `worker_id`, if anyone ever did.
    pub fn owner(&self, worker_id: u64) -> Option<String> {
        self.rows.lock().get(&worker_id).map(|row| row.owner.clone())
    }
}

impl WorkerRegistry for MemoryRegistry {
    async fn acquire(&self, owner: &str, now_ms: u64, ttl_ms: u64) -> Result<Lease, LeaseError> {
        let mut rows = self.rows.lock();
        let free = (0..self.max_workers)
            .find(|id| rows.get(id).is_none_or(|row| row.expires_at_ms <= now_ms))
            .ok_or(LeaseError::NoFreeWorker { max_workers: self.max_workers })?;
        let lease = Lease {
            worker_id: free,
            token: new_token(),
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        };
        rows.insert(
            free,
            Row { owner: owner.to_owned(), token: lease.token, expires_at_ms: lease.expires_at_ms },
        );
        Ok(lease)
    }

    async fn heartbeat(
        &self,
        lease: &Lease,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<Lease, LeaseError> {
        let mut rows = self.rows.lock();
        match rows.get_mut(&lease.worker_id) {
            Some(row) if row.token == lease.token && row.expires_at_ms > now_ms => {
                row.expires_at_ms = now_ms.saturating_add(ttl_ms);
                Ok(Lease { expires_at_ms: row.expires_at_ms, ..*lease })
            }
            _ => Err(LeaseError::Lost { worker_id: lease.worker_id }),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), LeaseError> {
        if let Some(row) = self.rows.lock().get_mut(&lease.worker_id)
            && row.token == lease.token
        {
            row.expires_at_ms = 0;
        }
        Ok(())
    }
}
