//! A single-node key-value server (*System Design Interview* chapter 6.2) speaking RESP2
//! and RESP3, Redis's protocol, on the [`blueprint_lsm`] engine: `redis-cli`,
//! `redis-benchmark` and Redis client libraries (tested: the Rust `redis` crate and
//! redis-py, on both protocols) talk to it unmodified.
//!
//! **What it is:** one process, one LSM database, a RESP listener and an HTTP API.
//! Commands: `PING`, `ECHO`, `GET`, `SET` (`EX`/`PX`/`EXAT`/`PXAT`/`KEEPTTL`/`NX`/`XX`/
//! `GET`), `DEL`, `EXISTS`, `MGET`, `MSET`, `INCR`/`INCRBY`/`DECR`/`DECRBY`, `APPEND`,
//! `STRLEN`, `EXPIRE`/`PEXPIRE`/`EXPIREAT`/`PEXPIREAT` (`NX`/`XX`/`GT`/`LT`), `TTL`/`PTTL`,
//! `EXPIRETIME`/`PEXPIRETIME`, `PERSIST`, `SCAN` (`MATCH`/`COUNT`/`TYPE`), `KEYS`,
//! `DBSIZE`, `FLUSHDB`/`FLUSHALL`, `INFO`, `SELECT 0`, `HELLO` (RESP3, `SETNAME`),
//! `CLIENT ID|SETNAME|GETNAME|SETINFO|INFO`, `COMMAND`/`COMMAND DOCS` (minimal replies so
//! the Redis tools start), `CONFIG GET`, `QUIT`. Writes are as durable as `durability`
//! says: with `always`, a reply is sent only after the write is `fsync`ed.
//!
//! **What it is not:** not the Dynamo-style cluster of chapter 6.3 — partitioning over the
//! hash ring, N/W/R quorums, vector clocks, gossip membership, sloppy quorum with hinted
//! handoff and Merkle-tree anti-entropy are future work. Not Redis: strings only (no
//! lists, hashes, pub/sub, transactions or scripting), one database, no `AUTH` (`HELLO …
//! AUTH default <any>` is accepted, as for a Redis user without a password). Where the
//! ordered LSM differs from Redis's hash table: `DBSIZE` and `INFO keyspace` count by a
//! scan (O(keys)); a `SCAN` cursor names a position kept by the server (a bounded table,
//! see [`cursors`]), so an evicted cursor gets `ERR invalid cursor`; and `SCAN` returns
//! each key present throughout exactly once, in key order.
//!
//! # Layout
//!
//! - [`frame`]: RESP parsing (with limits) and RESP2/RESP3 encoding.
//! - [`session`]: one connection's protocol, ID and names (`HELLO`, `CLIENT`).
//! - [`glob`]: Redis's glob patterns (`KEYS`, `SCAN MATCH`, `CONFIG GET`).
//! - [`cursors`]: the `SCAN` cursor table.
//! - [`connection`]: a framed TCP connection, one write per batch of replies.
//! - [`server`]: [`run`]`(listener, store, config, shutdown)`: the connection semaphore,
//!   pipelining, and where each batch runs.
//! - [`commit`]: with `always`, the commit thread: one `fsync` for the plain `SET`s of
//!   every connection that queued meanwhile (group commit).
//! - [`cmd`]: one file per command: parse the arguments, apply to the store.
//! - [`db`]: the [`Store`]: the engine plus striped key locks for read-then-write commands.
//! - [`cli`]: `blueprint kv get|set|del|scan|stats`, RESP clients of a running node.
//! - [`config`]: the `[kv]` section. [`error`]: [`KvError`]. [`http`]: the HTTP API.
//!
//! # Limits
//!
//! - [`config::KvConfig::max_connections`] connections at once (1024 by default); more
//!   wait in the listen backlog.
//! - One request at most [`config::KvConfig::max_request_bytes`] (64 MiB by default) and
//!   never more than [`frame::MAX_BULK_BYTES`] per bulk string (512 MiB, as Redis);
//!   arrays of at most [`frame::MAX_ARRAY_ELEMENTS`]; at most
//!   [`server::MAX_PIPELINE_COMMANDS`] commands per batch (one engine hop). A protocol error is
//!   answered with `-ERR Protocol error: …` and the connection is closed.
//! - Keys up to 64 KiB and values up to 512 MiB (the engine's limits).
//! - Consecutive plain `SET`s of one pipeline are written as one engine batch of at most
//!   [`cmd::MAX_COALESCED_BYTES`]; replies are still one per command, in order.
//! - `SCAN` walks at most [`cmd::MAX_SCAN_COUNT`] keys per call; `KEYS` returns at
//!   most [`cmd::MAX_KEYS_REPLY`] keys; [`cursors::MAX_SCAN_CURSORS`] cursors live at once.
//!
//! # Measured
//!
//! `bench/kv-redis.sh`, the issue's G1 command (redis-benchmark `-t set,get -c 50 -r 1000000
//! -d 100`, release build, `durability = "everysec"` against `redis-server --appendonly yes
//! --appendfsync everysec` on the same shared 2-core VM; medians of alternating rounds,
//! 2026-12-03):
//!
//! | pipeline                         | GET ours / Redis          | SET ours / Redis          |
//! |----------------------------------|---------------------------|---------------------------|
//! | `-P 16`, 2 M requests, 5 rounds  | 489 956 / 389 332 (1.26)  | 223 164 / 215 796 (1.03)  |
//! | `-P 1`, 500 k requests, 7 rounds | 71 685 / 70 542 (1.02)    | 66 676 / 72 548 (0.92)    |
//!
//! Rounds spread 0.70–1.47 on this machine; the README lists the commands. On
//! 2026-12-01 (`-n 200000 -P 16 -c 32`, one key): GET 0.65, SET 0.52.
//!
//! With `durability = "always"` against Redis's
//! `appendfsync always` (2026-12-02, medians of alternating rounds, the commit thread of
//! [`commit`]): `DURABILITY=always ROUNDS=5 bench/kv-redis.sh 200000 16 32` SET
//! 649 351 / 522 193 (1.24×; one key, where consecutive `SET`s of the key coalesce);
//! with `KEYSPACE=1000000` (3 rounds) 283 286 / 307 692 (0.92×). Before the commit
//! thread: 70 822 / 486 618 (0.15×).
//!
//! The first run of this script found the engine's
//! memtable inserting each new version at the front of a vector: one-key `SET` ran at
//! 14 691/s (0.01× Redis) until versions were pushed instead.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use blueprint_kv::{KvConfig, Store, run};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(dir.path(), blueprint_lsm::Durability::Always)?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(async move {
//!     run(listener, store, &KvConfig::default(), async { let _ = stopped.await; }).await
//! });
//!
//! let mut client = tokio::net::TcpStream::connect(address).await?;
//! client.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").await?;
//! let mut reply = vec![0; 12];
//! client.read_exact(&mut reply).await?;
//! assert_eq!(reply, b"+OK\r\n$1\r\nv\r\n");
//! drop(client);
//! let _ = stop.send(());
//! server.await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod cli;
pub mod cmd;
pub mod commit;
pub mod config;
pub mod connection;
pub mod cursors;
pub mod db;
pub mod error;
pub mod frame;
pub mod glob;
pub mod http;
pub mod server;
pub mod session;

pub use config::{DurabilitySetting, KvConfig};
pub use db::Store;
pub use error::KvError;
pub use server::run;

/// The console page at `/kv/`: put, get and delete a key through the HTTP API, and the
/// engine's stats.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");
