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
//! every replica; streaming of the keys in the arcs whose replicas change (hashring's
//! `diff_replicas`, the N-replica form of `affected_ranges`) when a node joins or
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
//! - `lives`: which keys may have a life record (a filter that spares new-key writes a
//!   storage lookup).
//!
//! Around them:
//! - [`storage`]: the [`Storage`] trait, [`MemStorage`] and [`LsmStorage`].
//! - [`net`]: the [`Network`] seam (tokio here, turmoil in the simulation tests).
//! - [`rpc`]: frames, messages, the multiplexed client and the server loop.
//! - [`node`]: [`Node`] and [`NodeHandle`]: coordinator, replica, background work.
//! - [`resp`]: [`serve_resp`]. [`http`]: [`http_router`]. [`config`]: [`ClusterConfig`].
//! - `src/bin/dynamo-node.rs`: one node per process, with an address map so a test
//!   harness can put a fault-injecting proxy on every link (tests/process.rs, bench/).
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
//! # Semantics, in short
//!
//! - A read merges what R replicas hold; every concurrent write is a sibling, returned
//!   with an opaque context ([`Versioned::context`]). A write carrying that context
//!   supersedes exactly what the read saw; without one (plain `SET`) it supersedes what
//!   the coordinating replica holds. Plain `GET` resolves siblings to the one with the
//!   greatest `(timestamp, actor)`.
//! - Dots are minted by a replica that holds the key (a node that is not a write target
//!   forwards the write, and never retries it elsewhere once it may have been applied).
//!   Actors are `(node, epoch)`, the epoch new when a node starts without its data; a node
//!   that dropped its copy of a key mints under a new per-key actor ("life"), so counters
//!   never repeat.
//! - A write acknowledged by W replicas survives any fault short of losing all of them;
//!   a failed write may still surface later (Dynamo's semantics). With
//!   `sloppy_quorum = false`, R+W>N and `read_write_back = true`, a key written by one
//!   client at a time is a linearizable register (tests/sim.rs checks this under message
//!   delays, and that R=1 reads fail the same check).
//! - Membership: gossip; a member is suspect after a timeout or, with
//!   `phi_suspect_threshold`, by phi-accrual, and dead after a longer timeout; only
//!   joining and leaving change the ring.
//!
//! # Measured
//!
//! `bench/dynamo-redis.sh 60000 16 48 3` (redis-benchmark `-t set,get -P 16 -r 1000000`,
//! 48 clients as three processes of 16, one per node, against three `dynamo-node`
//! processes on loopback, N=3 W=2 R=2, LSM with `every_sec`, vs `redis-server
//! --appendfsync everysec` driven the same way; release build of d4c170c, shared 2-core
//! VM, 2026-12-04 02:31–02:35 UTC, load ≈ 2; three runs of the same build, Redis itself
//! varied 678 k–1 218 k GETs/s and 266 k–667 k SETs/s between rounds):
//!
//! | run | test | ours (3 rounds), requests/s | ours / Redis, median (range) | p99 ours / Redis, median |
//! |-----|------|-----------------------------|------------------------------|--------------------------|
//! | 1   | GET  | 366 690, 277 266, 263 352   | 0.32× (0.28–0.42)            | 8.3 ms / 2.8 ms          |
//! | 1   | SET  | 137 234, 140 405, 109 272   | 0.25× (0.23–0.32)            | 21.6 ms / 4.2 ms         |
//! | 2   | GET  | 315 946, 270 861, 280 735   | 0.26× (0.25–0.33)            | 9.9 ms / 5.0 ms          |
//! | 2   | SET  | 168 946, 139 183, 137 105   | 0.26× (0.25–0.28)            | 14.7 ms / 4.3 ms         |
//! | 3   | GET  | 263 807, 196 481, 182 597   | 0.27× (0.23–0.34)            | 11.0 ms / 5.1 ms         |
//! | 3   | SET  | 148 416, 118 986, 98 093    | 0.30× (0.27–0.37)            | 17.4 ms / 6.2 ms         |
//!
//! Throughput meets the 0.25× goal in every run for both; GET's p99 is within 10 ms in two
//! runs of three, SET's in none (11.95 ms its best round). Not robust for GET: four later
//! runs of the same script (02:38–02:45 UTC, the binary swapped, d6f1252 and d4c170c
//! alternating, a slower spell with Redis at 647 k–1 135 k GETs/s) gave d4c170c GET
//! 0.22×/0.21× (p99 8.5/11.2 ms), SET 0.32×/0.29× (p99 17.8/19.4 ms), and d6f1252 GET
//! 0.20×/0.28× (p99 10.9/14.1 ms), SET 0.22×/0.25× (p99 20.3/19.7 ms). The machine was faster than on
//! 2026-12-03 (d6f1252 then: GET 0.22×/0.26×/0.22×, p99 12.6–18.6 ms; SET
//! 0.31×/0.30×/0.28×, p99 19.7–25.6 ms, with Redis at 381 k–876 k GETs/s), so compare
//! builds by the alternating A/B runs of the commits: transparent huge pages off
//! (`dynamo-node` re-executes itself with `MIMALLOC_ALLOW_THP=0`; page faults zeroing 2 MiB
//! were 7 % of a node's CPU) took SET's per-round p99 median from 21.1 to 14.6 ms (nine
//! rounds each); the runtime looking at its sockets every 8 tasks instead of 61, 14.6 to
//! 12.4 ms (21 rounds each, a small effect). Tried and not kept (no difference beyond the
//! noise): a yield in the per-peer batcher before it takes its batch, batches of 64
//! instead of 256, no read-repair share (`read_repair_chance` 0), mimalloc never purging.
//!
//! Why p99 is still above 10 ms: 768 requests are always in flight, so the mean latency is
//! 768 / throughput (5.5 ms at 140 k SETs/s) and p99 runs 2–4× the mean; the nodes are
//! CPU-bound (2–11 % idle in `vmstat` during a run, each node's runtime thread waiting for
//! a core about as long as it runs, from `/proc/<pid>/task/*/schedstat`). What a node's CPU
//! goes to (perf, dwarf call graphs, d4c170c): the engine's memtable insert, get and key
//! comparisons 18 % self (`Db::write` 18 % inclusive, `Db::get` 9 %), system calls 13 %
//! (socket writes), allocation ~12 %, memmove 7 %. redis-benchmark's keys are 16 bytes,
//! 17 with the `d` namespace byte, one past the memtable's 16-byte inline head: keys that
//! differ only in the last digit tie on the head and are compared with `memcmp` (4 %).
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
mod lives;
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
pub use storage::{Durability, LsmStorage, MemStorage, Storage};
pub use version::Mode;
