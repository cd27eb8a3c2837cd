//! Flickr's ticket server and the book's multi-master replication (7.2.1, 7.2.3): each
//! of `k` servers hands out `offset, offset + k, offset + 2k, ...` from an
//! auto-increment row, so servers never collide and need no coordination.
//! IDs are numeric and unique but only roughly time-ordered across servers.

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

/// Why no ticket was issued.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// `offset` must be in `1..=step` and `step` at least 1.
    #[error("ticket server offset {offset} must be in 1..={step}")]
    InvalidShard {
        /// Configured offset.
        offset: u64,
        /// Configured step.
        step: u64,
    },
    /// The database failed.
    #[error("ticket server: {0}")]
    Database(#[from] sqlx::Error),
}

/// Server `offset` of `step` servers (MySQL's `auto_increment_offset` / `_increment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketShard {
    /// This server's first ticket, `1..=step`.
    pub offset: u64,
    /// Number of servers, k.
    pub step: u64,
}

impl TicketShard {
    /// Check `1 <= offset <= step`.
    pub fn validate(self) -> Result<Self, TicketError> {
        if self.step == 0 || self.offset == 0 || self.offset > self.step {
            return Err(TicketError::InvalidShard { offset: self.offset, step: self.step });
        }
        Ok(self)
    }
}

/// A source of tickets for named sequences ("stubs").
pub trait TicketServer: Send + Sync + 'static {
    /// The next ticket of `stub`.
    fn next_ticket(&self, stub: &str) -> impl Future<Output = Result<u64, TicketError>> + Send;
}

/// An in-process [`TicketServer`].
#[derive(Debug)]
pub struct MemoryTicketServer {
    shard: TicketShard,
    values: parking_lot::Mutex<HashMap<String, u64>>,
}

impl MemoryTicketServer {
    /// Server `shard.offset` of `shard.step`.
    pub fn new(shard: TicketShard) -> Result<Self, TicketError> {
        Ok(Self { shard: shard.validate()?, values: parking_lot::Mutex::new(HashMap::new()) })
    }
}

impl TicketServer for MemoryTicketServer {
    async fn next_ticket(&self, stub: &str) -> Result<u64, TicketError> {
        let mut values = self.values.lock();
        let value = match values.get(stub) {
            Some(last) => last + self.shard.step,
            None => self.shard.offset,
        };
        values.insert(stub.to_owned(), value);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn k_servers_interleave_without_collisions() {
        let servers: Vec<_> = (1..=3)
            .map(|offset| MemoryTicketServer::new(TicketShard { offset, step: 3 }).unwrap())
            .collect();
        let mut all = Vec::new();
        for _ in 0..100 {
            for server in &servers {
                all.push(server.next_ticket("users").await.unwrap());
            }
        }
        all.sort_unstable();
        assert_eq!(all, (1..=300).collect::<Vec<_>>());
    }

    #[test]
    fn an_offset_beyond_the_step_is_refused() {
        assert!(TicketShard { offset: 4, step: 3 }.validate().is_err());
        assert!(TicketShard { offset: 0, step: 3 }.validate().is_err());
    }
}
