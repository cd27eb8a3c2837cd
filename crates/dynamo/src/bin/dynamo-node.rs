//! One cluster node as its own process, for the black-box fault tests
//! (`tests/process.rs`) and `bench/dynamo-*.sh`: the same [`Node`], RESP and HTTP front
//! ends as `blueprint kv cluster node`, plus an address map so a harness can put a
//! fault-injecting proxy on every node-to-node link.
//!
//! Usage: `dynamo-node <settings.json>` with
//! `{"cluster": {...[kv.cluster] fields...}, "durability": "always"|"every_sec"|"no",
//! "routes": {"<address>": "<host:port>", ...}}`. Every RPC connection to an address in
//! `routes` dials the mapped one instead (so node ids can serve as advertised addresses
//! and each node reach each peer through its own proxy). The LSM store lives in the
//! cluster's `data_dir`. Prints `rpc <bound addr>`, `resp <addr>`, `http <addr>`, then
//! `ready`, and serves until killed (SIGTERM or Ctrl-C: a clean shutdown).
//!
//! Partitions without a proxy (bench/dynamo-redis.sh): with `"blocked_file": "<path>"`,
//! SIGUSR1 makes the node re-read that file, one peer address (as dialled, before
//! `routes`) per line; connections to those peers fail from then on and open ones break
//! at their next read or write, until a later SIGUSR1 finds the address gone. Blocking
//! the other side's addresses on both sides cuts every connection between them.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use blueprint_dynamo::net::{BoxFuture, BoxStream, Listener, Network};
use blueprint_dynamo::{
    ClusterConfig, LsmStorage, Node, SystemClock, TokioNetwork, http_router, serve_resp,
};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// mimalloc rather than glibc's malloc, as in the `blueprint` binary: under
/// redis-benchmark's spread-key SETs glibc's malloc, free and consolidation were 28 % of a
/// node's CPU (bench/dynamo-redis.sh, perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The settings file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    cluster: ClusterConfig,
    #[serde(default)]
    durability: Durability,
    #[serde(default)]
    routes: HashMap<String, String>,
    #[serde(default)]
    blocked_file: Option<std::path::PathBuf>,
}

/// The engine's durability, as the settings file names it.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Durability {
    #[default]
    Always,
    EverySec,
    No,
}

impl From<Durability> for blueprint_lsm::Durability {
    fn from(value: Durability) -> Self {
        match value {
            Durability::Always => blueprint_lsm::Durability::Always,
            Durability::EverySec => blueprint_lsm::Durability::EverySec,
            Durability::No => blueprint_lsm::Durability::No,
        }
    }
}

/// The peers a partition cuts off, and a generation bumped on every change so that open
/// streams re-check with one atomic load per read or write.
#[derive(Default)]
struct Blocked {
    peers: RwLock<HashSet<String>>,
    generation: AtomicU64,
}

impl Blocked {
    fn contains(&self, addr: &str) -> bool {
        self.peers.read().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(addr)
    }

    fn replace(&self, peers: HashSet<String>) {
        *self.peers.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = peers;
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// Tokio TCP with addresses rewritten through `routes`, cut off from blocked peers.
struct RoutedNetwork {
    routes: HashMap<String, String>,
    blocked: Arc<Blocked>,
}

impl Network for RoutedNetwork {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<BoxStream>> {
        Box::pin(async move {
            if self.blocked.contains(addr) {
                return Err(partitioned());
            }
            let target = self.routes.get(addr).map_or(addr, String::as_str);
            let stream = TokioNetwork.connect(target).await?;
            let seen = self.blocked.generation.load(Ordering::Acquire);
            let gated = Gated {
                inner: stream,
                addr: addr.to_owned(),
                blocked: Arc::clone(&self.blocked),
                seen,
            };
            Ok(Box::new(gated) as BoxStream)
        })
    }

    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Listener>>> {
        TokioNetwork.bind(addr)
    }
}

fn partitioned() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "partitioned (blocked_file)")
}

/// An outbound stream that fails once its peer is blocked.
struct Gated {
    inner: BoxStream,
    addr: String,
    blocked: Arc<Blocked>,
    seen: u64,
}

impl Gated {
    fn check(&mut self) -> std::io::Result<()> {
        let now = self.blocked.generation.load(Ordering::Acquire);
        if now != self.seen {
            if self.blocked.contains(&self.addr) {
                return Err(partitioned());
            }
            self.seen = now;
        }
        Ok(())
    }
}

impl AsyncRead for Gated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Gated {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Re-reads `path` into `blocked` on every SIGUSR1.
async fn watch_blocked(path: std::path::PathBuf, blocked: Arc<Blocked>) -> std::io::Result<()> {
    let mut user1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
    while user1.recv().await.is_some() {
        let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
        let peers: HashSet<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        // Open streams notice at their next read or write; a reader parked on a quiet
        // connection notices when the peer next sends (gossip every interval).
        blocked.replace(peers);
    }
    Ok(())
}

/// The environment variable that turns mimalloc's transparent huge pages off.
const ALLOW_THP: &str = "MIMALLOC_ALLOW_THP";

/// Tasks the runtime runs between two looks at its sockets and timers (tokio's default
/// is 61). A node under load always has tasks ready, so it only learns of a peer's reply,
/// or of a client's next pipeline, at those looks; a request crosses a node three times
/// (client to coordinator, to a replica and back), waiting each time. Looking every 8
/// tasks costs a non-blocking `epoll_wait` each time, small beside a task's work (a
/// pipeline of 16 commands, or a batch of replica writes).
const EVENT_INTERVAL: u32 = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Transparent huge pages off, as Redis does for itself (`disable-thp yes`): with them
    // each fresh 2 MiB of mimalloc's arenas is zeroed whole in one page fault on the
    // runtime thread (7 % of a node's CPU in a profile of bench/dynamo-redis.sh, and SET
    // p99 median 32 ms with them, 24 ms without, six runs each, alternating). mimalloc reads
    // the option once, before `main`, so the process starts again with it set; an
    // operator's own setting of the variable is left alone.
    if std::env::var_os(ALLOW_THP).is_none() {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe()?;
        let error = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(ALLOW_THP, "0")
            .exec();
        return Err(format!("re-executing with {ALLOW_THP}=0: {error}").into());
    }
    // One thread: the bench runs three nodes (and their clients) on two cores, where a
    // work-stealing runtime per node spent its time handing tasks between threads; on one
    // thread (the engine flushes and compacts on its own) the nodes did ~20 % more SETs and
    // GETs (bench/dynamo-redis.sh). A node on a machine of its own may want more.
    tokio::runtime::Builder::new_current_thread()
        .event_interval(EVENT_INTERVAL)
        .enable_all()
        .build()?
        .block_on(serve())
}

/// Runs the node until SIGTERM or Ctrl-C.
async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dynamo-node <settings.json>")?;
    let text =
        std::fs::read_to_string(&path).map_err(|error| format!("reading {path}: {error}"))?;
    let settings: Settings =
        serde_json::from_str(&text).map_err(|error| format!("parsing {path}: {error}"))?;
    let cluster = settings.cluster;
    cluster.validate()?;
    let storage = LsmStorage::open(&cluster.data_dir, settings.durability.into())?;
    let resp = tokio::net::TcpListener::bind(&cluster.resp_listen).await?;
    let web = tokio::net::TcpListener::bind(&cluster.http_listen).await?;
    let seed = u64::from(std::process::id());
    let blocked = Arc::new(Blocked::default());
    if let Some(path) = settings.blocked_file {
        tokio::spawn(watch_blocked(path, Arc::clone(&blocked)));
    }
    let network = Arc::new(RoutedNetwork { routes: settings.routes, blocked });
    let node =
        Node::start(cluster, Arc::new(storage), network, Arc::new(SystemClock), seed).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "rpc {}", node.rpc_bound_addr())?;
    writeln!(stdout, "resp {}", resp.local_addr()?)?;
    writeln!(stdout, "http {}", web.local_addr()?)?;
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let resp_server = tokio::spawn(serve_resp(resp, node.handle(), wait(stopped.clone())));
    let router = http_router(node.handle());
    let web_server = tokio::spawn(async move {
        axum::serve(web, router).with_graceful_shutdown(wait(stopped)).await
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    let _ = stop.send(true);
    let _ = resp_server.await;
    let _ = web_server.await;
    node.shutdown().await;
    Ok(())
}
