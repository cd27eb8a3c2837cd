//! Black-box runs of real processes: five `dynamo-node` processes on loopback (N=3, W=2,
//! R=2, sloppy quorum, LSM stores), every node-to-node link through its own
//! fault-injecting TCP proxy written here on tokio, and node processes killed with
//! SIGKILL (then restarted on their data directory) or frozen with SIGSTOP (then
//! SIGCONT), while clients speak RESP to random nodes.
//!
//! Link faults (each directed link `a → b` carries `a`'s connections to `b`):
//! - partition: open connections are cut; new ones are accepted and black-holed (bytes
//!   vanish, nothing comes back) until the partition heals, when they are cut too. Also
//!   one-way (only `a → b`);
//! - hold: bytes stop moving, and move again, in order, when released (a long TCP stall);
//! - delay: every chunk arrives a fixed time after it was sent;
//! - drop: every open connection is cut once.
//!
//! Workloads: a set per key built by read-modify-write with the causal context (`GETV`,
//! then `SETV` with that context), and keys written, then deleted with their context
//! (`DELV`). Checkers, after healing: every acknowledged add is in the final merged read
//! (`GETV key R 3`) at every node, and nothing appears that no client tried to add; the
//! replicas' Merkle roots converge (each pair's roots for each other are equal, polled
//! while anti-entropy rounds run on demand); no acknowledged delete comes back, after
//! tombstones were purged (some deleted keys read with an empty context: gone from
//! every replica).
//!
//! The fault schedule comes from a seeded RNG (`DYNAMO_PROCESS_SEED`, default 1; the seed
//! and every fault are printed), though process timing is not deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

const NODES: usize = 5;
const SET_KEYS: usize = 3;
const SET_CLIENTS: usize = 4;
const DELETE_CLIENTS: usize = 2;
/// How long faults are injected while the workloads run.
const FAULT_PHASE: Duration = Duration::from_secs(14);
/// Longest wait for one client command: a frozen node never answers.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Tombstone grace: longer than any outage in the run (at most 3 s), as hinted handoff
/// requires, short enough that purges happen before the checks.
const TOMBSTONE_GRACE_MS: u64 = 4_000;
/// Longest wait for replicas to converge after healing.
const CONVERGE_WITHIN: Duration = Duration::from_secs(20);

// ---- the fault-injecting proxy ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Pass,
    Partition,
    Hold,
    Delay(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LinkState {
    fault: Fault,
    /// Bumped to cut every open connection of the link.
    cut: u64,
}

/// One directed link `from → to`: a listener `from` dials instead of `to`.
struct Link {
    state: watch::Sender<LinkState>,
    /// `to`'s current RPC address (it changes when `to` restarts).
    target: Arc<Mutex<Option<String>>>,
}

impl Link {
    fn set(&self, fault: Fault) {
        self.state.send_modify(|state| {
            // A partition loses the bytes in flight: connections crossing its start or
            // end are cut, so no stream ever continues past lost bytes.
            if fault == Fault::Partition || state.fault == Fault::Partition {
                state.cut += 1;
            }
            state.fault = fault;
        });
    }

    fn drop_connections(&self) {
        self.state.send_modify(|state| state.cut += 1);
    }
}

async fn serve_link(listener: TcpListener, link: Arc<Link>) {
    while let Ok((inbound, _)) = listener.accept().await {
        tokio::spawn(proxy_connection(inbound, Arc::clone(&link)));
    }
}

async fn proxy_connection(inbound: TcpStream, link: Arc<Link>) {
    let cut = link.state.borrow().cut;
    let Some(target) = link.target.lock().clone() else { return };
    let Ok(outbound) = TcpStream::connect(&target).await else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let mut cut_watch = link.state.subscribe();
    tokio::select! {
        _ = pump(in_read, out_write, link.state.subscribe()) => {}
        _ = pump(out_read, in_write, link.state.subscribe()) => {}
        _ = cut_watch.wait_for(|state| state.cut != cut) => {}
    }
}

/// Moves bytes one way, applying the link's fault to each chunk.
async fn pump(mut from: OwnedReadHalf, to: OwnedWriteHalf, state: watch::Receiver<LinkState>) {
    // Bounded: a held link stops reading once this many chunks wait (back pressure).
    let (queue, chunks) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let reader = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if state.borrow().fault == Fault::Partition {
                        continue;
                    }
                    if queue.send((Instant::now(), buffer[..read].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = reader => {}
        () = deliver(chunks, to, state.clone()) => {}
    }
}

async fn deliver(
    mut chunks: mpsc::Receiver<(Instant, Vec<u8>)>,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
) {
    'chunks: while let Some((sent_at, chunk)) = chunks.recv().await {
        loop {
            let fault = state.borrow().fault;
            match fault {
                Fault::Pass => break,
                Fault::Delay(delay) => {
                    tokio::time::sleep_until((sent_at + delay).into()).await;
                    break;
                }
                Fault::Partition => continue 'chunks,
                Fault::Hold => {
                    if state.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

// ---- node processes ----

struct NodeProcess {
    id: String,
    settings: PathBuf,
    child: Option<Child>,
    resp: Option<String>,
    http: Option<String>,
    stopped: bool,
}

struct Cluster {
    nodes: Vec<NodeProcess>,
    /// `links[a][b]`: `a`'s link to `b` (`None` on the diagonal).
    links: Vec<Vec<Option<Arc<Link>>>>,
    /// Each node's current RPC address, shared by the links into it.
    targets: Vec<Arc<Mutex<Option<String>>>>,
    /// Each node's current RESP address for clients (`None` while it is down).
    resp: Arc<Mutex<Vec<Option<String>>>>,
}

fn node_id(i: usize) -> String {
    format!("n{}", i + 1)
}

fn settings_for(i: usize, data: &Path, routes: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::json!({
        // Two nodes run with `every_sec`: a kill -9 may lose their last writes, so their
        // restart takes a new epoch (the others restart with theirs).
        "durability": if i % 2 == 1 { "every_sec" } else { "always" },
        "routes": routes,
        "cluster": {
            "node_id": node_id(i),
            "rpc_listen": "127.0.0.1:0",
            "rpc_advertise": node_id(i),
            "resp_listen": "127.0.0.1:0",
            "http_listen": "127.0.0.1:0",
            "seeds": (0..NODES).filter(|&j| j != i).map(node_id).collect::<Vec<_>>(),
            "data_dir": data.join(node_id(i)),
            "vnodes": 32,
            "n": 3, "r": 2, "w": 2,
            "gossip_interval_ms": 100,
            "suspect_after_ms": 700,
            "dead_after_ms": 3_000,
            "rpc_timeout_ms": 500,
            "hint_interval_ms": 200,
            "hint_replay_ops_per_second": 2_000,
            "anti_entropy_interval_ms": 1_500,
            "tombstone_grace_ms": TOMBSTONE_GRACE_MS,
        },
    })
}

impl Cluster {
    async fn start(data: &Path) -> Cluster {
        let targets: Vec<Arc<Mutex<Option<String>>>> =
            (0..NODES).map(|_| Arc::new(Mutex::new(None))).collect();
        let mut links = Vec::new();
        let mut nodes = Vec::new();
        for a in 0..NODES {
            let mut row = Vec::new();
            let mut routes = BTreeMap::new();
            for (b, target) in targets.iter().enumerate() {
                if a == b {
                    row.push(None);
                    continue;
                }
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
                routes.insert(node_id(b), listener.local_addr().expect("addr").to_string());
                let (state, _) = watch::channel(LinkState { fault: Fault::Pass, cut: 0 });
                let link = Arc::new(Link { state, target: Arc::clone(target) });
                tokio::spawn(serve_link(listener, Arc::clone(&link)));
                row.push(Some(link));
            }
            links.push(row);
            let settings = data.join(format!("{}.json", node_id(a)));
            let text = serde_json::to_string(&settings_for(a, data, &routes)).expect("json");
            std::fs::write(&settings, text).expect("write settings");
            nodes.push(NodeProcess {
                id: node_id(a),
                settings,
                child: None,
                resp: None,
                http: None,
                stopped: false,
            });
        }
        let mut cluster =
            Cluster { nodes, links, targets, resp: Arc::new(Mutex::new(vec![None; NODES])) };
        for i in 0..NODES {
            cluster.launch(i).await;
        }
        cluster
    }

    /// Starts node `i`'s process and waits for its addresses.
    async fn launch(&mut self, i: usize) {
        let settings = self.nodes[i].settings.clone();
        let (child, addresses) = tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_dynamo-node"))
                .arg(&settings)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn dynamo-node");
            let stdout = child.stdout.take().expect("stdout");
            let mut addresses = BTreeMap::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("read stdout");
                if line == "ready" {
                    break;
                }
                if let Some((name, addr)) = line.split_once(' ') {
                    addresses.insert(name.to_owned(), addr.to_owned());
                }
            }
            (child, addresses)
        })
        .await
        .expect("launch");
        let node = &mut self.nodes[i];
        assert!(addresses.contains_key("resp"), "{} did not start: {addresses:?}", node.id);
        *self.targets[i].lock() = addresses.get("rpc").cloned();
        node.resp = addresses.get("resp").cloned();
        node.http = addresses.get("http").cloned();
        node.child = Some(child);
        node.stopped = false;
        self.resp.lock()[i] = node.resp.clone();
    }

    fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(mut child) = node.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        *self.targets[i].lock() = None;
        self.resp.lock()[i] = None;
        node.resp = None;
        node.http = None;
    }

    fn signal(&mut self, i: usize, signal: &str) {
        let node = &mut self.nodes[i];
        let Some(child) = &node.child else { return };
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        if sent {
            node.stopped = signal == "-STOP";
        } else {
            eprintln!("kill {signal} {} failed", node.id);
        }
    }

    fn link(&self, a: usize, b: usize) -> &Link {
        self.links[a][b].as_deref().expect("no link to itself")
    }

    fn all_links(&self) -> impl Iterator<Item = &Link> {
        self.links.iter().flatten().flatten().map(|link| link.as_ref())
    }

    async fn heal(&mut self) {
        for link in self.all_links() {
            link.set(Fault::Pass);
        }
        for i in 0..NODES {
            if self.nodes[i].stopped {
                self.signal(i, "-CONT");
            }
            if self.nodes[i].child.is_none() {
                self.launch(i).await;
            }
        }
    }

    async fn http(&self, i: usize, method: &str, path: &str) -> Option<serde_json::Value> {
        let addr = self.nodes[i].http.clone()?;
        let exchange = async {
            let mut stream = TcpStream::connect(&addr).await.ok()?;
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.ok()?;
            let text = String::from_utf8(response).ok()?;
            let (head, body) = text.split_once("\r\n\r\n")?;
            if !head.starts_with("HTTP/1.1 200") {
                return None;
            }
            serde_json::from_str(body).ok()
        };
        tokio::time::timeout(Duration::from_secs(10), exchange).await.ok().flatten()
    }

    /// True when every node sees all five alive.
    async fn all_alive(&self) -> bool {
        for i in 0..NODES {
            let Some(status) = self.http(i, "GET", "/api/v1/kv-cluster/status").await else {
                return false;
            };
            let members = status["members"].as_array().cloned().unwrap_or_default();
            if members.len() != NODES || members.iter().any(|m| m["state"] != "alive") {
                return false;
            }
        }
        true
    }

    /// Pairs whose Merkle roots for each other differ, or `None` when a node did not answer.
    async fn diverged_pairs(&self) -> Option<Vec<(String, String)>> {
        let mut roots = Vec::new();
        for i in 0..NODES {
            roots.push(self.http(i, "GET", "/api/v1/kv-cluster/merkle").await?["roots"].clone());
        }
        let mut diverged = Vec::new();
        for a in 0..NODES {
            for b in a + 1..NODES {
                if roots[a][node_id(b)] != roots[b][node_id(a)] {
                    diverged.push((node_id(a), node_id(b)));
                }
            }
        }
        Some(diverged)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..NODES {
            if self.nodes[i].stopped {
                self.signal(i, "-CONT");
            }
            self.kill(i);
        }
    }
}

// ---- clients and workloads ----

#[derive(Debug, Default)]
struct History {
    attempted: BTreeMap<String, BTreeSet<String>>,
    acked: BTreeMap<String, BTreeSet<String>>,
    failed: u64,
    deleted: BTreeSet<String>,
}

type Shared = Arc<Mutex<History>>;

/// Runs one command at a random node that is up, on a fresh connection (a killed node's
/// connections are gone; a frozen node's never answer), within [`CLIENT_TIMEOUT`].
async fn command(
    resp: &Mutex<Vec<Option<String>>>,
    rng: &mut StdRng,
    words: &[&str],
) -> Result<redis::Value, String> {
    let up: Vec<String> = resp.lock().iter().flatten().cloned().collect();
    if up.is_empty() {
        return Err("no node up".into());
    }
    let addr = up[rng.random_range(0..up.len())].clone();
    let mut cmd = redis::cmd(words[0]);
    for word in &words[1..] {
        cmd.arg(*word);
    }
    let run = async {
        let client = redis::Client::open(format!("redis://{addr}")).map_err(|e| e.to_string())?;
        let mut connection =
            client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        cmd.query_async::<redis::Value>(&mut connection).await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(CLIENT_TIMEOUT, run).await.map_err(|_| "timed out".to_owned())?
}

fn bulk_strings(value: &redis::Value) -> Option<Vec<String>> {
    match value {
        redis::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn decode_set(values: &[String]) -> BTreeSet<String> {
    values.iter().flat_map(|v| v.split(',')).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

async fn set_client(
    client: usize,
    resp: Arc<Mutex<Vec<Option<String>>>>,
    history: Shared,
    running: Arc<AtomicBool>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut op = 0;
    while running.load(Ordering::Relaxed) {
        op += 1;
        let key = format!("set{}", rng.random_range(0..SET_KEYS));
        let Some(read) =
            command(&resp, &mut rng, &["GETV", &key]).await.ok().as_ref().and_then(bulk_strings)
        else {
            history.lock().failed += 1;
            continue;
        };
        let element = format!("c{client}.{op}");
        let mut set = decode_set(&read[1..]);
        set.insert(element.clone());
        let value = set.into_iter().collect::<Vec<_>>().join(",");
        history.lock().attempted.entry(key.clone()).or_default().insert(element.clone());
        match command(&resp, &mut rng, &["SETV", &key, &read[0], &value]).await {
            Ok(redis::Value::Okay) => {
                history.lock().acked.entry(key).or_default().insert(element);
            }
            _ => history.lock().failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..30))).await;
    }
}

async fn delete_client(
    client: usize,
    resp: Arc<Mutex<Vec<Option<String>>>>,
    history: Shared,
    running: Arc<AtomicBool>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut op = 0;
    while running.load(Ordering::Relaxed) {
        op += 1;
        // Unique keys, each written once and deleted once: an acknowledged delete must
        // hold forever.
        let key = format!("del.c{client}.{op}");
        if command(&resp, &mut rng, &["SET", &key, "v"]).await.is_err() {
            continue;
        }
        let Some(read) =
            command(&resp, &mut rng, &["GETV", &key]).await.ok().as_ref().and_then(bulk_strings)
        else {
            continue;
        };
        if read.len() < 2 {
            continue;
        }
        if let Ok(redis::Value::Okay) = command(&resp, &mut rng, &["DELV", &key, &read[0]]).await {
            history.lock().deleted.insert(key);
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..30))).await;
    }
}

// ---- the fault schedule ----

/// How many kinds [`inject`] knows.
const FAULT_KINDS: usize = 7;

/// Injects one random fault and returns its description; [`Cluster::heal`] ends it.
async fn inject(cluster: &mut Cluster, rng: &mut StdRng, kind: usize) -> String {
    let a = rng.random_range(0..NODES);
    let b = (a + rng.random_range(1..NODES)) % NODES;
    match kind {
        0 => {
            for other in (0..NODES).filter(|&o| o != a) {
                cluster.link(a, other).set(Fault::Partition);
                cluster.link(other, a).set(Fault::Partition);
            }
            format!("isolate {}", node_id(a))
        }
        1 => {
            // Random halves: {a, b} against the rest.
            for x in [a, b] {
                for y in (0..NODES).filter(|y| *y != a && *y != b) {
                    cluster.link(x, y).set(Fault::Partition);
                    cluster.link(y, x).set(Fault::Partition);
                }
            }
            format!("partition {{{}, {}}} from the rest", node_id(a), node_id(b))
        }
        2 => {
            cluster.link(a, b).set(Fault::Partition);
            format!("one-way partition {} -> {}", node_id(a), node_id(b))
        }
        3 => {
            cluster.link(a, b).set(Fault::Hold);
            cluster.link(b, a).set(Fault::Hold);
            format!("hold {} <-> {}", node_id(a), node_id(b))
        }
        4 => {
            let delay = Duration::from_millis(rng.random_range(20..200));
            for link in cluster.all_links() {
                if rng.random_range(0..2) == 0 {
                    link.set(Fault::Delay(delay));
                }
                link.drop_connections();
            }
            format!("delay half the links by {delay:?}, drop every connection")
        }
        5 => {
            cluster.kill(a);
            format!("kill -9 {}", node_id(a))
        }
        _ => {
            cluster.signal(a, "-STOP");
            format!("SIGSTOP {}", node_id(a))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_under_link_faults_kills_and_pauses_lose_no_acknowledged_write() {
    let seed: u64 =
        std::env::var("DYNAMO_PROCESS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let started = Instant::now();
    let data = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(data.path()).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.all_alive().await {
        if Instant::now() >= deadline {
            let status = cluster.http(0, "GET", "/api/v1/kv-cluster/status").await;
            panic!("the five nodes never all saw each other; n1 says {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let history: Shared = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut clients = Vec::new();
    for client in 0..SET_CLIENTS {
        let worker = set_client(
            client,
            Arc::clone(&cluster.resp),
            Arc::clone(&history),
            Arc::clone(&running),
            seed * 100 + client as u64,
        );
        clients.push(tokio::spawn(worker));
    }
    for client in 0..DELETE_CLIENTS {
        let worker = delete_client(
            client,
            Arc::clone(&cluster.resp),
            Arc::clone(&history),
            Arc::clone(&running),
            seed * 100 + 50 + client as u64,
        );
        clients.push(tokio::spawn(worker));
    }

    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = Vec::new();
    let faults_end = Instant::now() + FAULT_PHASE;
    // Every kind of fault once, in a seeded order, then again.
    let mut kinds: Vec<usize> = (0..FAULT_KINDS).collect();
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.random_range(0..=i));
    }
    for kind in kinds.into_iter().cycle() {
        if Instant::now() >= faults_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..500))).await;
        let fault = inject(&mut cluster, &mut rng, kind).await;
        faults.push(format!("{:>5} ms {fault}", started.elapsed().as_millis()));
        tokio::time::sleep(Duration::from_millis(rng.random_range(800..2_000))).await;
        cluster.heal().await;
    }
    cluster.heal().await;
    faults.push(format!("{:>5} ms healed", started.elapsed().as_millis()));
    // A little load on the healed cluster, then the clients stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    println!("seed {seed}, faults:\n  {}", faults.join("\n  "));

    // Convergence: anti-entropy on demand until every pair's roots agree.
    let healed = Instant::now();
    let deadline = healed + CONVERGE_WITHIN;
    let mut last = None;
    loop {
        let diverged =
            if cluster.all_alive().await { cluster.diverged_pairs().await } else { None };
        if let Some(diverged) = diverged {
            if diverged.is_empty() {
                break;
            }
            println!(
                "{:>6} ms after healing: {} pairs differ",
                healed.elapsed().as_millis(),
                diverged.len()
            );
            last = Some(diverged);
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: Merkle roots still differ {CONVERGE_WITHIN:?} after healing: {last:?}"
        );
        for i in 0..NODES {
            let _ = cluster.http(i, "POST", "/api/v1/kv-cluster/anti-entropy").await;
        }
    }
    println!("replicas converged {} ms after the clients stopped", healed.elapsed().as_millis());

    let history = std::mem::take(&mut *history.lock());
    // Every acknowledged add, in the merged read at every node.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acked = 0;
    for key in (0..SET_KEYS).map(|k| format!("set{k}")) {
        let wanted = history.acked.get(&key).cloned().unwrap_or_default();
        let attempted = history.attempted.get(&key).cloned().unwrap_or_default();
        acked += wanted.len();
        for i in 0..NODES {
            let resp = Mutex::new(vec![cluster.nodes[i].resp.clone()]);
            let read = command(&resp, &mut rng, &["GETV", &key, "R", "3"]).await;
            let values = read.ok().as_ref().and_then(bulk_strings).expect("final read");
            let found = decode_set(&values[1..]);
            let lost: Vec<_> = wanted.difference(&found).collect();
            let unexpected: Vec<_> = found.difference(&attempted).collect();
            assert!(
                lost.is_empty(),
                "seed {seed}: {} lost acknowledged adds at n{}: {lost:?}",
                key,
                i + 1
            );
            assert!(
                unexpected.is_empty(),
                "seed {seed}: {key} has elements never added: {unexpected:?}"
            );
        }
    }
    println!(
        "acknowledged adds {acked}, failed or unknown operations {}, acknowledged deletes {}",
        history.failed,
        history.deleted.len()
    );
    assert!(acked >= 50, "seed {seed}: too few acknowledged adds ({acked}) to mean anything");

    // No resurrected deletes, after tombstones had time to be purged.
    let purge_deadline = healed + Duration::from_millis(TOMBSTONE_GRACE_MS + 6_000);
    let mut purged;
    loop {
        purged = 0;
        for key in &history.deleted {
            let resp = Mutex::new(vec![cluster.nodes[0].resp.clone()]);
            let read = command(&resp, &mut rng, &["GETV", key, "R", "3"]).await;
            let values = read.ok().as_ref().and_then(bulk_strings).expect("read a deleted key");
            assert_eq!(values.len(), 1, "seed {seed}: deleted key {key} came back: {values:?}");
            if values[0].is_empty() {
                purged += 1;
            }
        }
        if purged > 0 || Instant::now() > purge_deadline {
            break;
        }
        for i in 0..NODES {
            let _ = cluster.http(i, "POST", "/api/v1/kv-cluster/anti-entropy").await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("deleted keys purged from every replica: {purged} of {}", history.deleted.len());
    assert!(history.deleted.len() >= 20, "seed {seed}: too few acknowledged deletes");
    assert!(purged > 0, "seed {seed}: no tombstone was purged, so resurrection was not tested");
    println!("run took {} ms", started.elapsed().as_millis());
}
