//! A Dynamo-style key-value cluster (*System Design Interview* 6.3.3–6.3.8): every node
//! runs the [`blueprint_lsm`] engine, speaks RESP (Redis's protocol) and HTTP, and any
//! node coordinates any request.
//!
//! **What it is:** partitioning on the [`blueprint_hashring`] ring with virtual nodes in
//! proportion to each node's capacity; each key on N distinct nodes clockwise (distinct
//! datacenters when configured); N/W/R per cluster, overridable per request; dotted
//! version vectors with actors `(node, epoch)`, concurrent writes kept as siblings and
//! returned with an opaque causal context; gossip membership with suspect/dead timeouts;
//! sloppy quorum with durable hinted handoff; Merkle-tree anti-entropy and read repair;
//! tombstones purged only after a grace period *and* a completed anti-entropy round with
//! every replica; streaming of the keys whose replica set changed when a node joins or
//! leaves. **What it is not:** linearizable (even with R+W>N, a failed write may be
//! partially applied and surface later, as in Dynamo); a store of anything but byte
//! strings; secured (the RPC port trusts its network).
//!
//! # Layout
//!
//! Pure cores (no I/O, property-tested):
//! - [`version`]: dots, contexts, siblings, LWW; [`codec`]: the binary encoding.
//! - [`placement`]: preference lists and sloppy selection over the ring.
//! - [`merkle`]: the anti-entropy trees. [`membership`]: the gossip state machine.
//!
//! Around them:
//! - [`storage`]: the [`Storage`] trait, [`MemStorage`] and [`LsmStorage`].
//! - [`net`]: the [`Network`] seam (tokio here, turmoil in the simulation tests).
//! - [`rpc`]: frames, messages, the multiplexed client and the server loop.
//! - [`node`]: [`Node`] and [`NodeHandle`]: coordinator, replica, background work.
//! - [`resp`]: [`serve_resp`]. [`http`]: [`http_router`]. [`config`]: [`ClusterConfig`].
//!
//! # Limits
//!
//! - Keys up to [`node::MAX_KEY_BYTES`], values up to [`node::MAX_VALUE_BYTES`], RPC
//!   frames up to [`rpc::MAX_FRAME_BYTES`], at most [`config::ClusterConfig::max_siblings`]
//!   siblings per key (the oldest are dropped beyond it, counted in
//!   `dynamo_sibling_cap_hits_total` and logged).
//! - Anti-entropy and streaming scan every local key (O(keys) per round and peer);
//!   rounds are paced by `anti_entropy_bytes_per_second`, hints by
//!   `hint_replay_ops_per_second`.
//! - A tombstone must outlive any hint for its key: keep `tombstone_grace_ms` longer
//!   than the longest outage hints must cover.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use blueprint_dynamo::{ClusterConfig, MemStorage, Node, RequestOptions, SystemClock, TokioNetwork};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClusterConfig {
//!     node_id: "solo".into(), rpc_listen: "127.0.0.1:0".into(), n: 1, r: 1, w: 1,
//!     ..ClusterConfig::default()
//! };
//! let node = Node::start(config, Arc::new(MemStorage::new()), Arc::new(TokioNetwork),
//!     Arc::new(SystemClock), 7).await?;
//! let kv = node.handle();
//! kv.put(b"k", "v1".into(), None, RequestOptions::default()).await?;
//! let read = kv.get(b"k", RequestOptions::default()).await?;
//! assert_eq!(read.values, vec![bytes::Bytes::from("v1")]);
//! kv.put(b"k", "v2".into(), Some(&read.context), RequestOptions::default()).await?;
//! assert_eq!(kv.get(b"k", RequestOptions::default()).await?.values.len(), 1);
//! node.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod clock;
pub mod codec;
pub mod config;
pub mod error;
pub mod http;
pub mod membership;
pub mod merkle;
pub mod net;
pub mod node;
pub mod placement;
pub mod resp;
pub mod rpc;
pub mod storage;
pub mod version;

pub use clock::{SystemClock, WallClock};
pub use config::{ClusterConfig, Consistency, RequestOptions};
pub use error::DynamoError;
pub use http::http_router;
pub use net::{Network, TokioNetwork};
pub use node::{ClusterStatus, Node, NodeHandle, Versioned};
pub use resp::serve_resp;
pub use storage::{LsmStorage, MemStorage, Storage};
pub use version::Mode;
