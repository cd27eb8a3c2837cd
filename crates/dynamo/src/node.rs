//! A cluster node: the coordinator (any node coordinates any request), the replica
//! (local reads and merges), and the background work: gossip, hint replay,
//! anti-entropy with tombstone purge, and streaming on membership changes.
//!
//! **What it is not:** a front end; [`crate::resp`] and [`crate::http`] call the
//! [`NodeHandle`] this module exposes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use blueprint_hashring::Ring;
use blueprint_hashring::ranges::{AffectedReplicas, RangeIndex, diff_replicas};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::WallClock;
use crate::codec::{Reader, Writer};
use crate::config::{ClusterConfig, Consistency, RequestOptions};
use crate::error::DynamoError;
use crate::lives::LifeFilter;
use crate::membership::{Liveness, MemberInfo, MemberView, Membership, Timeouts};
use crate::merkle::{LEAVES, MerkleTree, bucket_of};
use crate::net::Network;
use crate::placement::{self, Plan};
use crate::rpc::{ForwardedWrite, Request, Response, RpcClient, RpcError};
use crate::storage::Storage;
use crate::version::{Actor, Context, Object};

/// Largest key: the engine's 64 KiB less room for the namespace prefix.
pub const MAX_KEY_BYTES: usize = 60 * 1024;
/// Largest value: well under the RPC frame limit, so a replica write always fits a frame.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// Striped key locks: a coordinator's read-mint-write of one key is serialized so two
/// concurrent writes never mint the same dot.
const KEY_LOCKS: usize = 256;
/// Storage entries scanned per page by background work.
const SCAN_PAGE: usize = 1024;
/// Merkle buckets fetched per anti-entropy request: bounds one reply's size.
const BUCKETS_PER_REQUEST: usize = 32;
/// Hints looked at per replay round.
const HINTS_PER_ROUND: usize = 256;

const DATA: u8 = b'd';
const LIFE: u8 = b'c';
const HINT: u8 = b'h';
const META_EPOCH: &[u8] = b"mepoch";
const META_INCARNATION: &[u8] = b"mincarnation";
const META_CLEAN: &[u8] = b"mclean";

/// A read's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Every live sibling's value (empty when the key is absent or deleted).
    pub values: Vec<Bytes>,
    /// The opaque causal context to send back with the next write (base64; empty when
    /// the key was never written).
    pub context: String,
    /// Plain `GET`'s resolution: the value of the sibling with the greatest
    /// `(timestamp, actor)`, `None` when that is a tombstone or there is none.
    pub resolved: Option<Bytes>,
}

/// The last anti-entropy run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AntiEntropyReport {
    /// When it started (wall clock, ms since the Unix epoch).
    pub started_ms: u64,
    /// Peers compared successfully.
    pub peers_ok: usize,
    /// Peers that could not be compared.
    pub peers_failed: usize,
    /// Buckets whose hashes differed.
    pub buckets_differing: usize,
    /// Objects sent or received to repair them.
    pub objects_exchanged: usize,
    /// Bytes of objects moved.
    pub bytes_moved: u64,
    /// Tombstones purged after their grace period.
    pub tombstones_purged: usize,
}

/// One node's share of the ring.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RingShare {
    /// Node id.
    pub node: String,
    /// Its virtual nodes.
    pub vnodes: u32,
    /// Its share of the circle, in `[0, 1]`.
    pub share: f64,
}

/// What `status` reports (serialized for `blueprint kv cluster status` and the console).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusterStatus {
    /// This node.
    pub node_id: String,
    /// This node's current epoch (its actor's second half).
    pub epoch: u64,
    /// The cluster's N, R, W.
    pub n: usize,
    /// Read quorum.
    pub r: usize,
    /// Write quorum.
    pub w: usize,
    /// Ring shares.
    pub ring: Vec<RingShare>,
    /// Members with this node's opinion of them.
    pub members: Vec<MemberView>,
    /// Hints held here, per target node.
    pub hints_pending: BTreeMap<String, u64>,
    /// The last anti-entropy run, if any.
    pub last_anti_entropy: Option<AntiEntropyReport>,
    /// Times the sibling cap dropped siblings.
    pub sibling_cap_hits: u64,
}

struct Inner {
    config: ClusterConfig,
    me: String,
    actor: Actor,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn WallClock>,
    rpc: RpcClient,
    started: tokio::time::Instant,
    membership: Mutex<Membership>,
    ring: RwLock<Arc<Ring>>,
    rng: Mutex<StdRng>,
    locks: Vec<Mutex<()>>,
    /// The keys that may have a life record: a write of a key with no local copy looks
    /// its life up only when this says it may exist.
    lives: LifeFilter,
    /// The keys that may have a data record here: a read of a key with no bit set skips
    /// the storage lookup (see `lives`, which keeps it by the same rules).
    stored: LifeFilter,
    incarnation: u64,
    sibling_cap_hits: AtomicU64,
    anti_entropy_done: Mutex<HashMap<String, u64>>,
    last_anti_entropy: Mutex<Option<AntiEntropyReport>>,
    anti_entropy_running: tokio::sync::Mutex<()>,
    batchers: Mutex<HashMap<String, mpsc::Sender<BatchJob>>>,
    /// Where the next hint replay round starts (`None`: from the first hint).
    hint_cursor: Mutex<Option<Vec<u8>>>,
    stop: watch::Sender<bool>,
}

/// A running node. Dropping it stops its background tasks.
pub struct Node {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
    rpc_addr: String,
    rpc_bound: String,
}

/// A cheap, cloneable handle for front ends.
#[derive(Clone)]
pub struct NodeHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle").field("node", &self.inner.me).finish()
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("node", &self.inner.me).field("rpc", &self.rpc_addr).finish()
    }
}

/// The index of `key`'s lock in `Inner::locks`.
fn stripe_of(key: &[u8]) -> usize {
    (xxhash_rust::xxh3::xxh3_64(key) as usize) % KEY_LOCKS
}

fn data_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(DATA);
    out.extend_from_slice(key);
    out
}

fn hint_key(target: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(target.len() + key.len() + 2);
    out.push(HINT);
    out.extend_from_slice(target.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

fn parse_hint_key(raw: &[u8]) -> Option<(String, Vec<u8>)> {
    let rest = raw.strip_prefix(&[HINT])?;
    let split = rest.iter().position(|&b| b == 0)?;
    let target = std::str::from_utf8(&rest[..split]).ok()?.to_owned();
    Some((target, rest[split + 1..].to_vec()))
}

/// When a replica record last changed on this node (kept with the record, never sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    /// Wall clock: the tombstone grace period is measured on it.
    wall_ms: u64,
    /// The node's incarnation (start count) that wrote it.
    incarnation: u64,
    /// Monotonic ms since that start: anti-entropy rounds are ordered against it, because
    /// a wall clock stepped back could make a round look later than a store it preceded.
    mono_ms: u64,
    /// How many times this node dropped its copy of the key while holding dots of its
    /// own: the actor it mints with for the key (see [`Inner::actor_for`]).
    life: u64,
}

fn encode_record(stamp: Stamp, object: &Object) -> Vec<u8> {
    let mut out = Writer::new();
    out.varint(stamp.wall_ms);
    out.varint(stamp.incarnation);
    out.varint(stamp.mono_ms);
    out.varint(stamp.life);
    object.encode_into(&mut out);
    out.into_bytes()
}

fn decode_record(raw: &[u8]) -> Result<(Stamp, Object), DynamoError> {
    let mut input = Reader::new(raw);
    let corrupt = |error: crate::codec::DecodeError| DynamoError::Storage {
        message: format!("corrupt record: {error}"),
    };
    let wall_ms = input.varint().map_err(corrupt)?;
    let incarnation = input.varint().map_err(corrupt)?;
    let mono_ms = input.varint().map_err(corrupt)?;
    let life = input.varint().map_err(corrupt)?;
    let object = Object::decode_from(&mut input).map_err(corrupt)?;
    input.finish().map_err(corrupt)?;
    Ok((Stamp { wall_ms, incarnation, mono_ms, life }, object))
}

fn life_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(LIFE);
    out.extend_from_slice(key);
    out
}

/// A filter of the keys with a record under `prefix` (life or data), from a scan of
/// every such record in `storage` (at start: O(keys), as an anti-entropy round is).
fn load_filter(storage: &dyn Storage, prefix: u8, bits: usize) -> Result<LifeFilter, DynamoError> {
    let filter = LifeFilter::with_bits(bits);
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = storage.scan(&[prefix], after.as_deref(), SCAN_PAGE)?;
        for (raw, _) in &page {
            filter.insert(&raw[1..]);
        }
        match page.last() {
            Some((last, _)) if page.len() == SCAN_PAGE => after = Some(last.clone()),
            _ => return Ok(filter),
        }
    }
}

fn read_u64_meta(storage: &dyn Storage, key: &[u8]) -> Result<Option<u64>, DynamoError> {
    Ok(storage.get(key)?.and_then(|raw| Reader::new(&raw).varint().ok()))
}

fn write_u64_meta(storage: &dyn Storage, key: &[u8], value: u64) -> Result<(), DynamoError> {
    let mut out = Writer::new();
    out.varint(value);
    storage.put(key, &out.into_bytes())?;
    Ok(())
}

impl Node {
    /// Starts a node: recovers (or creates) its epoch, binds the RPC listener, and starts
    /// gossip (towards `config.seeds`), hint replay and anti-entropy. `seed` seeds every
    /// random choice the node makes.
    pub async fn start(
        config: ClusterConfig,
        storage: Arc<dyn Storage>,
        network: Arc<dyn Network>,
        clock: Arc<dyn WallClock>,
        seed: u64,
    ) -> Result<Node, DynamoError> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let clean = storage.get(META_CLEAN)?.is_some();
        storage.delete(META_CLEAN)?;
        let epoch = match read_u64_meta(storage.as_ref(), META_EPOCH)? {
            Some(epoch) if clean || storage.durable_writes() => epoch,
            // A lost data directory, or an unclean stop of a store that may have lost its
            // last writes: a new epoch, so no dot is ever minted twice (riak_kv #679).
            _ => (clock.now_ms() << 16) | u64::from(rng.random::<u16>()),
        };
        write_u64_meta(storage.as_ref(), META_EPOCH, epoch)?;
        let incarnation = read_u64_meta(storage.as_ref(), META_INCARNATION)?.unwrap_or(0) + 1;
        write_u64_meta(storage.as_ref(), META_INCARNATION, incarnation)?;
        let lives = load_filter(storage.as_ref(), LIFE, crate::lives::LIFE_FILTER_BITS)?;
        let stored = load_filter(storage.as_ref(), DATA, crate::lives::DATA_FILTER_BITS)?;

        let listener = network.bind(&config.rpc_listen).await.map_err(|error| DynamoError::Io {
            message: format!("bind {}: {error}", config.rpc_listen),
        })?;
        let bound = listener
            .local_addr()
            .map_err(|error| DynamoError::Io { message: error.to_string() })?;
        let rpc_addr = config.rpc_advertise.clone().unwrap_or_else(|| bound.clone());

        let timeouts = Timeouts {
            suspect_after_ms: config.suspect_after_ms,
            dead_after_ms: config.dead_after_ms.max(config.suspect_after_ms),
            phi_suspect: config.phi_suspect_threshold,
        };
        let me = MemberInfo {
            id: config.node_id.clone(),
            rpc_addr: rpc_addr.clone(),
            datacenter: config.datacenter.clone(),
            capacity: config.capacity,
            incarnation,
            heartbeat: 0,
            left: false,
        };
        let membership = Membership::new(me, 0, timeouts);
        let ring = placement::build_ring(&membership.ring_members(), config.vnodes)?;
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            me: config.node_id.clone(),
            actor: Actor { node: config.node_id.clone(), epoch },
            config,
            storage,
            clock,
            rpc: RpcClient::new(Arc::clone(&network)),
            started: tokio::time::Instant::now(),
            membership: Mutex::new(membership),
            ring: RwLock::new(Arc::new(ring)),
            rng: Mutex::new(rng),
            locks: (0..KEY_LOCKS).map(|_| Mutex::new(())).collect(),
            lives,
            stored,
            incarnation,
            sibling_cap_hits: AtomicU64::new(0),
            anti_entropy_done: Mutex::new(HashMap::new()),
            last_anti_entropy: Mutex::new(None),
            anti_entropy_running: tokio::sync::Mutex::new(()),
            batchers: Mutex::new(HashMap::new()),
            hint_cursor: Mutex::new(None),
            stop,
        });
        tracing::info!(node = %inner.me, epoch, incarnation, rpc = %rpc_addr, "dynamo node started");
        let tasks = vec![
            tokio::spawn(accept_loop(Arc::clone(&inner), listener)),
            tokio::spawn(gossip_loop(Arc::clone(&inner))),
            tokio::spawn(hint_loop(Arc::clone(&inner))),
            tokio::spawn(anti_entropy_loop(Arc::clone(&inner))),
        ];
        Ok(Node { inner, tasks, rpc_addr, rpc_bound: bound })
    }

    /// A handle for front ends.
    pub fn handle(&self) -> NodeHandle {
        NodeHandle { inner: Arc::clone(&self.inner) }
    }

    /// The RPC address others dial (the bound address when `rpc_listen` used port 0).
    pub fn rpc_addr(&self) -> &str {
        &self.rpc_addr
    }

    /// The address the RPC listener is bound to (differs from [`Node::rpc_addr`] when
    /// `rpc_advertise` is set).
    pub fn rpc_bound_addr(&self) -> &str {
        &self.rpc_bound
    }

    /// The node's status.
    pub fn status(&self) -> ClusterStatus {
        self.inner.status()
    }

    /// Runs one anti-entropy round with every healthy peer now.
    pub async fn anti_entropy_now(&self) -> AntiEntropyReport {
        self.inner.anti_entropy().await
    }

    /// Leaves the ring: announces it by gossip, streams every local key to its new
    /// owners, and returns how many keys were handed over.
    pub async fn leave(&self) -> Result<usize, DynamoError> {
        let now = self.inner.now_ms();
        self.inner.membership.lock().leave(now);
        let old = self.inner.ring();
        self.inner.rebuild_ring();
        self.inner.gossip_round(usize::MAX).await;
        let moved = self.inner.stream_changed(&old, &self.inner.ring()).await?;
        // A second round so late listeners hear it too.
        self.inner.gossip_round(usize::MAX).await;
        Ok(moved)
    }

    /// Stops the background tasks (waiting for them) and marks a clean shutdown. Tasks
    /// serving open connections and in-flight replica calls end on their own shortly
    /// after; until they have, the storage stays open.
    pub async fn shutdown(mut self) {
        let tasks: Vec<JoinHandle<()>> = self.tasks.drain(..).collect();
        self.stop_tasks();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        if let Err(error) = self.inner.storage.put(META_CLEAN, b"1") {
            tracing::warn!(%error, "clean-shutdown marker not written");
        }
    }

    fn stop_tasks(&mut self) {
        let _ = self.inner.stop.send(true);
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.inner.rpc.close_all();
        // The batchers hold the node alive; dropping their queues ends them.
        self.inner.batchers.lock().clear();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl NodeHandle {
    /// Reads `key` from R replicas (or `opts.r`), merging what they hold; stale replicas
    /// are repaired in the background.
    pub async fn get(&self, key: &[u8], opts: RequestOptions) -> Result<Versioned, DynamoError> {
        let object = self.inner.read(key, opts).await?;
        Ok(Versioned {
            values: object.values(),
            context: object.context().to_opaque(),
            resolved: object.resolved(),
        })
    }

    /// Plain `GET`: [`NodeHandle::get`]'s `resolved` alone, without encoding the context
    /// and sibling list no one asked for.
    pub async fn get_resolved(
        &self,
        key: &[u8],
        opts: RequestOptions,
    ) -> Result<Option<Bytes>, DynamoError> {
        Ok(self.inner.read(key, opts).await?.resolved())
    }

    /// Writes `value` to `key`, superseding what `context` (from a read) saw; `None`
    /// supersedes what the coordinating replica holds (plain `SET`). Succeeds once W
    /// replicas (or `opts.w`) acknowledged.
    pub async fn put(
        &self,
        key: &[u8],
        value: Bytes,
        context: Option<&str>,
        opts: RequestOptions,
    ) -> Result<(), DynamoError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(DynamoError::BadRequest {
                message: format!("value of {} bytes exceeds {MAX_VALUE_BYTES}", value.len()),
            });
        }
        let context = context.map(Context::from_opaque).transpose()?;
        self.inner.write(Bytes::copy_from_slice(key), Some(value), context, opts, false).await
    }

    /// Deletes `key` by writing a tombstone that supersedes what `context` saw.
    pub async fn delete(
        &self,
        key: &[u8],
        context: Option<&str>,
        opts: RequestOptions,
    ) -> Result<(), DynamoError> {
        let context = context.map(Context::from_opaque).transpose()?;
        self.inner.write(Bytes::copy_from_slice(key), None, context, opts, false).await
    }

    /// The node's status.
    pub fn status(&self) -> ClusterStatus {
        self.inner.status()
    }

    /// Runs one anti-entropy round now.
    pub async fn anti_entropy_now(&self) -> AntiEntropyReport {
        self.inner.anti_entropy().await
    }

    /// For each other member of the ring, the root hash of the Merkle tree over the keys
    /// this node and that member both replicate: two replicas have converged when each
    /// one's root for the other is equal. Scans the local keys once per member.
    pub fn merkle_roots(&self) -> Result<BTreeMap<String, u64>, DynamoError> {
        let ring = self.inner.ring();
        let mut roots = BTreeMap::new();
        for node in ring.nodes() {
            let peer = node.id().as_str();
            if peer != self.inner.me {
                roots.insert(peer.to_owned(), self.inner.shared_tree(peer)?.root());
            }
        }
        Ok(roots)
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.inner.me
    }

    /// The N primaries of `key` on this node's current ring.
    pub fn preference_list(&self, key: &[u8]) -> Vec<String> {
        placement::preference_list(&self.inner.ring(), key, self.inner.config.n)
    }

    /// The cluster's N.
    pub fn n(&self) -> usize {
        self.inner.config.n
    }

    /// Every key and object this node stores, for checkers (bounded by storage size).
    pub fn local_objects(&self) -> Result<Vec<(Bytes, Object)>, DynamoError> {
        let mut out = Vec::new();
        self.inner.for_each_local(|key, _, object| {
            out.push((Bytes::copy_from_slice(key), object.clone()));
        })?;
        Ok(out)
    }
}

/// One replica's answer to a read: which of the read's targets, and what it holds.
struct ReadAnswer {
    target: usize,
    outcome: Result<Option<Object>, DynamoError>,
}

/// What a coordinator's replicas answered so far: filled by the batchers, drained by the
/// coordinator. One small allocation per request, where a channel cost a block of slots.
struct Answers<T> {
    ready: Mutex<Vec<T>>,
    arrived: tokio::sync::Notify,
}

impl<T> Answers<T> {
    fn new(capacity: usize) -> Arc<Answers<T>> {
        Arc::new(Answers {
            ready: Mutex::new(Vec::with_capacity(capacity)),
            arrived: tokio::sync::Notify::new(),
        })
    }

    fn push(&self, answer: T) {
        self.ready.lock().push(answer);
        // Stores a permit when nobody waits yet, so an answer is never missed.
        self.arrived.notify_one();
    }

    /// Moves what has arrived into `out`, first waiting (until `deadline`) when nothing
    /// has; false when the deadline passed with nothing new.
    async fn take(&self, out: &mut Vec<T>, deadline: tokio::time::Instant) -> bool {
        loop {
            {
                let mut ready = self.ready.lock();
                if !ready.is_empty() {
                    out.append(&mut ready);
                    return true;
                }
            }
            if tokio::time::timeout_at(deadline, self.arrived.notified()).await.is_err() {
                return false;
            }
        }
    }
}

/// A node a read may ask, and whether read repair may update it.
struct ReadTarget {
    node: String,
    repairable: bool,
}

/// A read answered to its client whose repair is left to do: what it merged, which
/// targets answered what, and the answers still due.
struct PendingRead {
    key: Bytes,
    merged: Object,
    targets: Vec<ReadTarget>,
    answers: Vec<(usize, Option<Object>)>,
    pending: Arc<Answers<ReadAnswer>>,
    asked: usize,
    /// How many of the `asked` have answered (answers holds those that succeeded).
    answered: usize,
    deadline: tokio::time::Instant,
}

/// A read still short of R answers after `rpc_timeout / READ_HEDGE_FRACTION` asks every
/// target it has not asked yet: a replica that is slow or cut off (but not yet suspect)
/// costs a read that much, not the whole timeout.
const READ_HEDGE_FRACTION: u32 = 8;

impl Inner {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.rpc_timeout_ms)
    }

    fn ring(&self) -> Arc<Ring> {
        Arc::clone(&self.ring.read())
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn lock_for(&self, key: &[u8]) -> parking_lot::MutexGuard<'_, ()> {
        self.locks[stripe_of(key)].lock()
    }

    fn healthy(&self, node: &str) -> bool {
        self.membership.lock().is_healthy(node, self.now_ms())
    }

    fn address_of(&self, node: &str) -> Option<String> {
        self.membership.lock().address_of(node).map(str::to_owned)
    }

    fn datacenter_of(&self, node: &str) -> Option<String> {
        self.ring().node(node).and_then(|n| n.zone().map(|z| z.as_str().to_owned()))
    }

    /// True when an acknowledgement from `node` counts toward the quorum.
    fn counts(&self, node: &str) -> bool {
        match self.config.consistency {
            Consistency::Quorum => true,
            Consistency::LocalQuorum => self.datacenter_of(node) == self.config.datacenter,
        }
    }

    fn plan(&self, key: &[u8]) -> Plan {
        let ring = self.ring();
        let membership = self.membership.lock();
        let now = self.now_ms();
        placement::plan(&ring, key, self.config.n, self.config.sloppy_quorum, |id| {
            membership.is_healthy(id, now)
        })
    }

    fn rebuild_ring(&self) {
        let members = self.membership.lock().ring_members();
        match placement::build_ring(&members, self.config.vnodes) {
            Ok(ring) => *self.ring.write() = Arc::new(ring),
            Err(error) => tracing::warn!(%error, "ring not rebuilt"),
        }
    }

    // ---- local replica ----

    fn stamp(&self, life: u64) -> Stamp {
        Stamp {
            wall_ms: self.clock.now_ms(),
            incarnation: self.incarnation,
            mono_ms: self.now_ms(),
            life,
        }
    }

    /// The actor this node mints with for a key in its `life`-th local copy.
    ///
    /// Why lives: a dot counter is one more than the largest of this actor in the local
    /// object, so a node that dropped its copy (after handing a hint off, streaming a
    /// range away, or purging a tombstone) would mint counters again from 1, and a
    /// context that saw the old dots would wrongly supersede the new ones. A new actor per
    /// life cannot collide; lives are rare (only those drops), so contexts stay small.
    fn actor_for(&self, life: u64) -> Actor {
        if life == 0 {
            self.actor.clone()
        } else {
            Actor { node: format!("{}~{life}", self.actor.node), epoch: self.actor.epoch }
        }
    }

    fn life_of(&self, key: &[u8], stamp: Option<&Stamp>) -> Result<u64, DynamoError> {
        if let Some(stamp) = stamp {
            return Ok(stamp.life);
        }
        if !self.lives.may_contain(key) {
            return Ok(0);
        }
        Ok(read_u64_meta(self.storage.as_ref(), &life_key(key))?.unwrap_or(0))
    }

    /// Drops the local copy of `key` (the caller holds its lock), first moving to a new
    /// life when the copy holds dots this node minted.
    fn remove_local(&self, key: &[u8], stamp: &Stamp, object: &Object) -> Result<(), DynamoError> {
        if object.context().counter(&self.actor_for(stamp.life)) > 0 {
            // The bit before the record: a write that skips the lookup must never miss it.
            self.lives.insert(key);
            write_u64_meta(self.storage.as_ref(), &life_key(key), stamp.life + 1)?;
        }
        self.storage.delete(&data_key(key))?;
        Ok(())
    }

    fn read_local(&self, key: &[u8]) -> Result<Option<(Stamp, Object)>, DynamoError> {
        if !self.stored.may_contain(key) {
            return Ok(None);
        }
        match self.storage.get(&data_key(key))? {
            Some(raw) => decode_record(&raw).map(Some),
            None => Ok(None),
        }
    }

    fn apply_cap(&self, key: &[u8], object: &mut Object) {
        let outcome = object.cap(self.config.max_siblings);
        if outcome.dropped > 0 {
            self.sibling_cap_hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("dynamo_sibling_cap_hits_total").increment(1);
            tracing::warn!(
                node = %self.me,
                key = %String::from_utf8_lossy(key),
                dropped = outcome.dropped,
                max = self.config.max_siblings,
                "sibling cap hit: oldest siblings dropped"
            );
        }
    }

    /// True for a tombstone all of whose deletes are older than the grace period.
    fn expired_tombstone(&self, object: &Object) -> bool {
        let now = self.clock.now_ms();
        object.is_tombstone()
            && object
                .siblings()
                .iter()
                .all(|s| s.timestamp_ms.saturating_add(self.config.tombstone_grace_ms) <= now)
    }

    /// Merges `incoming` into the local replica; returns the result.
    ///
    /// An expired tombstone for a key this node holds nothing of is not stored: this node
    /// purged it already (or never had the key), and past the grace period no older
    /// value can arrive for it to supersede. Storing it again would let replicas that
    /// purge at different moments hand the tombstone back and forth forever, and their
    /// Merkle trees would never agree (found by tests/process.rs).
    fn merge_local(&self, key: &[u8], incoming: &Object) -> Result<Object, DynamoError> {
        let _guard = self.lock_for(key);
        let current = self.read_local(key)?;
        let (merged, changed) = self.merged_record(key, current.as_ref(), incoming)?;
        if let Some(stamp) = changed {
            self.storage.put(&data_key(key), &encode_record(stamp, &merged))?;
        }
        Ok(merged)
    }

    /// [`Inner::merge_local`]'s merge, without the store: what `key` holds once
    /// `incoming` is merged into its `current` record, and the stamp to store it with
    /// when that differs from `current` (`None`: nothing to store). The caller holds the
    /// key's lock and stores the record before releasing it; the key's data-filter bit
    /// is set here, before the record exists, so a read that skips the lookup never
    /// misses it.
    fn merged_record(
        &self,
        key: &[u8],
        current: Option<&(Stamp, Object)>,
        incoming: &Object,
    ) -> Result<(Object, Option<Stamp>), DynamoError> {
        if current.is_none() && self.expired_tombstone(incoming) {
            return Ok((incoming.clone(), None));
        }
        let life = self.life_of(key, current.map(|(s, _)| s))?;
        let mut merged = current.map(|(_, o)| o.clone()).unwrap_or_default();
        merged.merge(incoming, self.config.versioning);
        self.apply_cap(key, &mut merged);
        if current.map(|(_, o)| o) == Some(&merged) {
            return Ok((merged, None));
        }
        self.stored.insert(key);
        Ok((merged, Some(self.stamp(life))))
    }

    /// The coordinator's local step: mint a dot and store the new object.
    fn write_local(
        &self,
        key: &[u8],
        value: Option<Bytes>,
        context: Option<&Context>,
    ) -> Result<Object, DynamoError> {
        let _guard = self.lock_for(key);
        let current = self.read_local(key)?;
        let life = self.life_of(key, current.as_ref().map(|(s, _)| s))?;
        let mut object = current.map(|(_, o)| o).unwrap_or_default();
        let seen;
        let context = match context {
            Some(context) => context,
            None => {
                seen = object.context();
                &seen
            }
        };
        let stamp = self.stamp(life);
        let actor = self.actor_for(life);
        object.update(self.config.versioning, &actor, context, value, stamp.wall_ms);
        self.apply_cap(key, &mut object);
        self.stored.insert(key);
        self.storage.put(&data_key(key), &encode_record(stamp, &object))?;
        Ok(object)
    }

    fn store_hint(&self, target: &str, key: &[u8]) -> Result<(), DynamoError> {
        self.storage.put(&hint_key(target, key), b"")?;
        Ok(())
    }

    fn for_each_local(
        &self,
        mut visit: impl FnMut(&[u8], Stamp, &Object),
    ) -> Result<(), DynamoError> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.storage.scan(&[DATA], after.as_deref(), SCAN_PAGE)?;
            let Some((last, _)) = page.last() else { return Ok(()) };
            after = Some(last.clone());
            for (raw_key, raw) in &page {
                let (stamp, object) = decode_record(raw)?;
                visit(&raw_key[1..], stamp, &object);
            }
            if page.len() < SCAN_PAGE {
                return Ok(());
            }
        }
    }

    // ---- coordinator ----

    fn check_key(key: &[u8]) -> Result<(), DynamoError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(DynamoError::BadRequest {
                message: format!("key must be 1..={MAX_KEY_BYTES} bytes, got {}", key.len()),
            });
        }
        Ok(())
    }

    fn quorum(
        &self,
        requested: Option<usize>,
        default: usize,
        what: &str,
    ) -> Result<usize, DynamoError> {
        let value = requested.unwrap_or(default);
        if value == 0 || value > self.config.n {
            return Err(DynamoError::BadRequest {
                message: format!("{what} must be 1..={} (N), got {value}", self.config.n),
            });
        }
        Ok(value)
    }

    async fn write(
        self: &Arc<Self>,
        key: Bytes,
        value: Option<Bytes>,
        context: Option<Context>,
        opts: RequestOptions,
        forwarded: bool,
    ) -> Result<(), DynamoError> {
        Self::check_key(&key)?;
        if self.stopped() {
            return Err(DynamoError::ShuttingDown);
        }
        let w = self.quorum(opts.w, self.config.w, "W")?;
        let plan = self.plan(&key);
        let available = plan.targets.iter().filter(|t| self.counts(&t.node)).count();
        if available < w {
            return Err(DynamoError::Unavailable { op: "write", required: w, available });
        }
        let Some(mine) = plan.targets.iter().find(|t| t.node == self.me).cloned() else {
            if forwarded {
                return Err(DynamoError::Unavailable { op: "write", required: w, available: 0 });
            }
            return self.forward(&plan, ForwardedWrite { key, value, context, w: opts.w }).await;
        };
        let object = self.write_local(&key, value, context.as_ref())?;
        if let Some(primary) = &mine.hint_for {
            self.store_hint(primary, &key)?;
        }
        // A primary that is down with no fallback standing in for it (no node to spare,
        // as when the cluster has N nodes, or sloppy quorum is off): this node keeps the
        // hint itself, as Cassandra's coordinators do, so the primary gets the write when
        // it returns instead of at the next anti-entropy round.
        for primary in &plan.primaries {
            let covered = plan
                .targets
                .iter()
                .any(|t| t.node == *primary || t.hint_for.as_ref() == Some(primary));
            if !covered {
                self.store_hint(primary, &key)?;
            }
        }
        let mut acks = usize::from(self.counts(&self.me));
        let others = plan.targets.iter().filter(|t| t.node != self.me);
        let asked = others.clone().count();
        // The batchers report each ack straight into `answers`: no task per replica.
        let answers = Answers::<bool>::new(asked);
        for target in others {
            let request = Request::Put {
                key: key.clone(),
                object: object.clone(),
                hint_for: target.hint_for.clone(),
            };
            let reply = Reply::ack(self.counts(&target.node), &answers);
            // A job the batcher cannot take is dropped, and a dropped reply answers "failed".
            let _ = self.batcher_for(&target.node).send((request, reply)).await;
        }
        // Replica calls time out on their own; this bounds the wait even if one did not.
        let deadline = tokio::time::Instant::now() + self.timeout() * 2;
        let mut answered = Vec::with_capacity(asked);
        while acks < w {
            if answered.len() == asked || !answers.take(&mut answered, deadline).await {
                return Err(DynamoError::Unavailable { op: "write", required: w, available: acks });
            }
            acks = usize::from(self.counts(&self.me)) + answered.iter().filter(|ok| **ok).count();
        }
        Ok(())
    }

    async fn forward(&self, plan: &Plan, write: ForwardedWrite) -> Result<(), DynamoError> {
        let required = write.w.unwrap_or(self.config.w);
        for target in plan.targets.iter().take(2) {
            let Some(addr) = self.address_of(&target.node) else { continue };
            let request = Request::Coordinate(write.clone());
            match self.rpc.call(&addr, request, self.timeout()).await {
                Ok(Response::Ack) => return Ok(()),
                Ok(Response::Error { code, message }) => {
                    return Err(DynamoError::from_remote(&code, message));
                }
                // Never sent: another target may coordinate it.
                Err(RpcError::Connect { .. }) => continue,
                // Maybe applied, maybe still in flight: sending it elsewhere would apply
                // it twice, and a copy delayed past a later delete would resurrect the
                // key. The client gets an error and may retry with a fresh context.
                Ok(_) | Err(_) => break,
            }
        }
        Err(DynamoError::Unavailable { op: "write", required, available: 0 })
    }

    async fn call_node(&self, node: &str, request: Request) -> Result<Response, DynamoError> {
        let addr = self.address_of(node).ok_or(DynamoError::Unavailable {
            op: "call",
            required: 1,
            available: 0,
        })?;
        self.rpc.call(&addr, request, self.timeout()).await.map_err(|error| {
            tracing::debug!(node = %self.me, peer = %node, %error, "rpc failed");
            DynamoError::Unavailable { op: "call", required: 1, available: 0 }
        })
    }

    /// Reads `key`: asks R replicas (the local one first, as it costs no round trip),
    /// one more for each that fails, and every target still unasked once the answers are
    /// [`READ_HEDGE_FRACTION`] of the RPC timeout late; a share of reads
    /// (`read_repair_chance`) asks every target at once. Read repair runs only when the
    /// answers disagree or some are still due, off the request path.
    async fn read(
        self: &Arc<Self>,
        key: &[u8],
        opts: RequestOptions,
    ) -> Result<Object, DynamoError> {
        Self::check_key(key)?;
        let r = self.quorum(opts.r, self.config.r, "R")?;
        let plan = self.plan(key);
        let available = plan.targets.iter().filter(|t| self.counts(&t.node)).count();
        if available < r {
            return Err(DynamoError::Unavailable { op: "read", required: r, available });
        }
        let key = Bytes::copy_from_slice(key);
        let start = tokio::time::Instant::now();
        // An answer not in by the deadline counts as failed, as a replica call timing out
        // would.
        let deadline = start + self.timeout() * 2;
        let mut hedge_at = start + self.timeout() / READ_HEDGE_FRACTION;
        let mut targets: Vec<ReadTarget> = Vec::with_capacity(plan.targets.len());
        for target in plan.targets {
            // Fallbacks answer but are not repaired: they hold hints, not replicas.
            let repairable = self.counts(&target.node) && target.hint_for.is_none();
            let read_target = ReadTarget { node: target.node, repairable };
            if read_target.node == self.me {
                targets.insert(0, read_target);
            } else {
                targets.push(read_target);
            }
        }
        let counts_toward_r =
            |t: &ReadTarget| t.repairable || self.config.consistency == Consistency::Quorum;
        let everyone = self.config.read_repair_chance > 0.0
            && self.rng.lock().random::<f64>() < self.config.read_repair_chance;
        let mut asked = 0;
        let mut wave_counting = 0;
        while asked < targets.len() && (everyone || wave_counting < r) {
            wave_counting += usize::from(counts_toward_r(&targets[asked]));
            asked += 1;
        }
        // Each answer arrives in `pending`: the local one inline, the others from the
        // peers' batchers (no task per replica). Remote requests go first, so they are on
        // their way while the local read runs.
        let pending = Answers::<ReadAnswer>::new(asked);
        for index in (0..asked).rev() {
            self.send_read(&key, &targets, index, &pending).await;
        }
        let mut merged = Object::empty();
        let mut answers: Vec<(usize, Option<Object>)> = Vec::with_capacity(asked);
        let mut arrived: Vec<ReadAnswer> = Vec::with_capacity(asked);
        let mut answered = 0;
        let mut counted = 0;
        while counted < r {
            if answered == asked && asked == targets.len() {
                return Err(DynamoError::Unavailable {
                    op: "read",
                    required: r,
                    available: counted,
                });
            }
            let wake = if asked < targets.len() { hedge_at.min(deadline) } else { deadline };
            if !pending.take(&mut arrived, wake).await {
                if wake >= deadline {
                    return Err(DynamoError::Unavailable {
                        op: "read",
                        required: r,
                        available: counted,
                    });
                }
                // Slow answers: ask every target not yet asked, once.
                hedge_at = deadline;
                while asked < targets.len() {
                    self.send_read(&key, &targets, asked, &pending).await;
                    asked += 1;
                }
                continue;
            }
            for ReadAnswer { target, outcome } in arrived.drain(..) {
                answered += 1;
                match outcome {
                    Ok(object) => {
                        if let Some(object) = &object {
                            merged.merge(object, self.config.versioning);
                        }
                        counted += usize::from(counts_toward_r(&targets[target]));
                        answers.push((target, object));
                    }
                    // That replica failed: ask the next one instead.
                    Err(_) if asked < targets.len() => {
                        self.send_read(&key, &targets, asked, &pending).await;
                        asked += 1;
                    }
                    Err(_) => {}
                }
            }
        }
        if self.config.read_write_back && !merged.is_empty() {
            self.write_back(&key, &merged, &targets, &mut answers, r).await?;
        }
        let agreed = merged.is_empty()
            || answers.iter().all(|(t, o)| !targets[*t].repairable || o.as_ref() == Some(&merged));
        if answered < asked || !agreed {
            let result = merged.clone();
            let read =
                PendingRead { key, merged, targets, answers, pending, asked, answered, deadline };
            tokio::spawn(Arc::clone(self).read_repair(read));
            return Ok(result);
        }
        Ok(merged)
    }

    /// Asks `targets[index]` for `key`; its answer (or failure) arrives in `pending`.
    async fn send_read(
        self: &Arc<Self>,
        key: &Bytes,
        targets: &[ReadTarget],
        index: usize,
        pending: &Arc<Answers<ReadAnswer>>,
    ) {
        let node = &targets[index].node;
        if *node == self.me {
            let outcome = self.read_local(key).map(|found| found.map(|(_, o)| o));
            pending.push(ReadAnswer { target: index, outcome });
            return;
        }
        let job = (Request::Get { key: key.clone() }, Reply::read(index, pending));
        // A job the batcher cannot take is dropped, and a dropped reply answers "failed".
        let _ = self.batcher_for(node).send(job).await;
    }

    /// ABD's write-back phase: returns once the object a read is about to return is
    /// stored on as many replicas as a write needs, so that no later quorum read can
    /// return something older (the "new then old" inversion of plain quorum reads).
    async fn write_back(
        &self,
        key: &Bytes,
        merged: &Object,
        targets: &[ReadTarget],
        answers: &mut [(usize, Option<Object>)],
        r: usize,
    ) -> Result<(), DynamoError> {
        let needed = self.config.w.max(self.config.n + 1 - r).min(self.config.n);
        let mut holding = answers
            .iter()
            .filter(|(t, o)| targets[*t].repairable && o.as_ref() == Some(merged))
            .count();
        for (target, object) in answers.iter_mut() {
            let ReadTarget { node, repairable: counts } = &targets[*target];
            if holding >= needed {
                break;
            }
            if !*counts || object.as_ref() == Some(merged) {
                continue;
            }
            let stored = if *node == self.me {
                self.merge_local(key, merged).is_ok()
            } else {
                let request =
                    Request::Put { key: key.clone(), object: merged.clone(), hint_for: None };
                self.call_node(node, request).await.is_ok_and(|r| r == Response::Ack)
            };
            if stored {
                *object = Some(merged.clone());
                holding += 1;
            }
        }
        if holding < needed {
            return Err(DynamoError::Unavailable {
                op: "read",
                required: needed,
                available: holding,
            });
        }
        Ok(())
    }

    /// Waits (until `deadline`) for the answers still due, then sends the merged object
    /// to every replica whose copy differs from it.
    async fn read_repair(self: Arc<Self>, read: PendingRead) {
        let read_answered = read.answered;
        let PendingRead { key, mut merged, targets, mut answers, pending, asked, deadline, .. } =
            read;
        let mut answered = read_answered;
        let mut arrived = Vec::new();
        while answered < asked && pending.take(&mut arrived, deadline).await {
            for ReadAnswer { target, outcome } in arrived.drain(..) {
                answered += 1;
                if let Ok(object) = outcome {
                    if let Some(object) = &object {
                        merged.merge(object, self.config.versioning);
                    }
                    answers.push((target, object));
                }
            }
        }
        self.apply_cap(&key, &mut merged);
        for (target, object) in answers {
            let ReadTarget { node, repairable } = &targets[target];
            if !repairable || object.as_ref() == Some(&merged) || merged.is_empty() {
                continue;
            }
            metrics::counter!("dynamo_read_repairs_total").increment(1);
            if *node == self.me {
                let _ = self.merge_local(&key, &merged);
            } else {
                let request =
                    Request::Put { key: key.clone(), object: merged.clone(), hint_for: None };
                let _ = self.call_node(node, request).await;
            }
        }
    }

    // ---- RPC server side ----

    /// A replica's local `Get` or `Put` (what a [`Request::Batch`] may hold).
    fn handle_replica(&self, request: Request) -> Response {
        let outcome = match request {
            Request::Get { key } => {
                self.read_local(&key).map(|found| Response::Object(found.map(|(_, o)| o)))
            }
            Request::Put { key, object, hint_for } => {
                self.merge_local(&key, &object).and_then(|_| {
                    if let Some(primary) = hint_for {
                        self.store_hint(&primary, &key)?;
                    }
                    Ok(Response::Ack)
                })
            }
            _ => Err(DynamoError::BadRequest { message: "only gets and puts are batched".into() }),
        };
        outcome.unwrap_or_else(|error| Response::Error {
            code: error.code().into(),
            message: error.to_string(),
        })
    }

    /// A [`Request::Batch`] of replica gets and puts, answered in order as
    /// [`Inner::handle_replica`] would answer them one by one, but with every record the
    /// puts change (and every hint they keep) stored as one storage write: one engine
    /// commit per batch instead of one per key.
    ///
    /// Every key lock a put needs is held from its merge until that write (a merge must
    /// never be read around, see [`Inner::lock_for`]), taken in stripe order so that two
    /// batches never deadlock (every other holder takes one stripe at a time). A get or a
    /// second put of a key the batch already changed sees the staged record. When the
    /// write fails, every answer of the batch is that error: nothing it staged was
    /// stored.
    fn handle_batch(&self, requests: Vec<Request>) -> Response {
        let mut stripes: Vec<usize> = requests
            .iter()
            .filter_map(|request| match request {
                Request::Put { key, .. } => Some(stripe_of(key)),
                _ => None,
            })
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let _guards: Vec<_> = stripes.iter().map(|&stripe| self.locks[stripe].lock()).collect();
        let mut staged: HashMap<Bytes, (Stamp, Object)> = HashMap::new();
        let mut hints: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut responses = Vec::with_capacity(requests.len());
        for request in requests {
            let outcome = match request {
                Request::Get { key } => match staged.get(&key) {
                    Some((_, object)) => Ok(Response::Object(Some(object.clone()))),
                    None => {
                        self.read_local(&key).map(|found| Response::Object(found.map(|(_, o)| o)))
                    }
                },
                Request::Put { key, object, hint_for } => {
                    self.stage_put(key, &object, hint_for, &mut staged, &mut hints)
                }
                _ => Err(DynamoError::BadRequest {
                    message: "only gets and puts are batched".into(),
                }),
            };
            responses.push(outcome.unwrap_or_else(|error| Response::Error {
                code: error.code().into(),
                message: error.to_string(),
            }));
        }
        // Two puts of one key may keep the same hint twice.
        hints.sort_unstable();
        hints.dedup();
        let mut writes = hints;
        writes.extend(
            staged
                .iter()
                .map(|(key, (stamp, object))| (data_key(key), encode_record(*stamp, object))),
        );
        if !writes.is_empty()
            && let Err(error) = self.storage.put_all(&writes)
        {
            let error = DynamoError::from(error);
            let failed = Response::Error { code: error.code().into(), message: error.to_string() };
            return Response::Batch(vec![failed; responses.len()]);
        }
        Response::Batch(responses)
    }

    /// One put of [`Inner::handle_batch`]: merges `incoming` into what `key` holds (its
    /// staged record, else its stored one) and stages the result and the hint.
    fn stage_put(
        &self,
        key: Bytes,
        incoming: &Object,
        hint_for: Option<String>,
        staged: &mut HashMap<Bytes, (Stamp, Object)>,
        hints: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<Response, DynamoError> {
        let stored;
        let current = match staged.get(&key) {
            Some(found) => Some(found),
            None => {
                stored = self.read_local(&key)?;
                stored.as_ref()
            }
        };
        let (merged, changed) = self.merged_record(&key, current, incoming)?;
        if let Some(primary) = hint_for {
            hints.push((hint_key(&primary, &key), Vec::new()));
        }
        if let Some(stamp) = changed {
            staged.insert(key, (stamp, merged));
        }
        Ok(Response::Ack)
    }

    /// The queue of `node`'s batcher, started on first use.
    fn batcher_for(self: &Arc<Self>, node: &str) -> mpsc::Sender<BatchJob> {
        let mut batchers = self.batchers.lock();
        match batchers.get(node) {
            Some(queue) if !queue.is_closed() => queue.clone(),
            _ => {
                let (queue, jobs) = mpsc::channel(BATCH_QUEUE);
                tokio::spawn(batch_loop(Arc::clone(self), node.to_owned(), jobs));
                batchers.insert(node.to_owned(), queue.clone());
                queue
            }
        }
    }

    async fn handle_rpc(self: Arc<Self>, request: Request) -> Response {
        if self.stopped() {
            let error = DynamoError::ShuttingDown;
            return Response::Error { code: error.code().into(), message: error.to_string() };
        }
        let outcome = match request {
            Request::Batch(requests) => return self.handle_batch(requests),
            request @ (Request::Get { .. } | Request::Put { .. }) => {
                return self.handle_replica(request);
            }
            Request::Coordinate(write) => {
                let opts = RequestOptions { r: None, w: write.w };
                self.write(write.key, write.value, write.context, opts, true)
                    .await
                    .map(|()| Response::Ack)
            }
            Request::Gossip { members } => {
                let digest = self.merge_gossip(&members);
                Ok(Response::Gossip(digest))
            }
            Request::MerkleLeaves { peer } => self
                .off_runtime(move |inner| inner.shared_tree(&peer))
                .await
                .map(|tree| Response::Leaves(tree.leaves().to_vec())),
            Request::Buckets { peer, buckets } => {
                let buckets: Vec<usize> = buckets.into_iter().map(usize::from).collect();
                self.off_runtime(move |inner| inner.shared_buckets(&peer, &buckets))
                    .await
                    .map(Response::Bucket)
            }
        };
        outcome.unwrap_or_else(|error| Response::Error {
            code: error.code().into(),
            message: error.to_string(),
        })
    }

    // ---- gossip ----

    fn merge_gossip(self: &Arc<Self>, members: &[MemberInfo]) -> Vec<MemberInfo> {
        let now = self.now_ms();
        let (changed, digest) = {
            let mut membership = self.membership.lock();
            let changed = membership.merge(members, now);
            (changed, membership.digest())
        };
        if changed {
            let old = self.ring();
            self.rebuild_ring();
            let new = self.ring();
            let inner = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(error) = inner.stream_changed(&old, &new).await {
                    tracing::warn!(%error, "streaming after a membership change failed");
                }
            });
        }
        digest
    }

    async fn gossip_round(self: &Arc<Self>, fanout: usize) {
        let (digest, mut targets) = {
            let mut membership = self.membership.lock();
            membership.tick(self.now_ms());
            let mut rng = self.rng.lock();
            let targets =
                membership.gossip_targets(fanout.min(crate::membership::MAX_MEMBERS), &mut *rng);
            (membership.digest(), targets)
        };
        // Seeds not yet known as members are always contacted: that is how a node joins.
        for seed in &self.config.seeds {
            if !digest.iter().any(|m| &m.rpc_addr == seed) && !targets.contains(seed) {
                targets.push(seed.clone());
            }
        }
        let mut calls = Vec::new();
        for addr in targets {
            let inner = Arc::clone(self);
            let request = Request::Gossip { members: digest.clone() };
            calls.push(tokio::spawn(async move {
                if let Ok(Response::Gossip(members)) =
                    inner.rpc.call(&addr, request, inner.timeout()).await
                {
                    inner.merge_gossip(&members);
                }
            }));
        }
        for call in calls {
            let _ = call.await;
        }
    }

    // ---- membership change streaming ----

    /// Sends every local key whose replica set grew to its new replicas; drops local
    /// copies this node no longer replicates once every new replica has them. The keys
    /// are those in the arcs `hashring` reports as changing replicas
    /// ([`blueprint_hashring::ranges::diff_replicas`]); a change that moves no arc this
    /// node replicates scans nothing.
    async fn stream_changed(
        self: &Arc<Self>,
        old: &Ring,
        new: &Ring,
    ) -> Result<usize, DynamoError> {
        let n = self.config.n;
        let me = |ids: &[blueprint_hashring::NodeId]| ids.iter().any(|id| id.as_str() == self.me);
        let ranges: Vec<AffectedReplicas> =
            diff_replicas(old, new, n, placement::spread_for(old), placement::spread_for(new))
                .into_iter()
                .filter(|range| me(&range.from))
                .collect();
        if ranges.is_empty() {
            return Ok(0);
        }
        let index = RangeIndex::new(&ranges);
        // (key, where it goes, whether this node keeps a copy)
        let mut moves: Vec<(Bytes, Vec<String>, bool)> = Vec::new();
        self.for_each_local(|key, _, _| {
            let Some(range) = index.find(new.hash_key(key)) else { return };
            let still_mine = me(&range.to);
            let newcomers: Vec<String> = range.gained().map(|id| id.as_str().to_owned()).collect();
            if !newcomers.is_empty() {
                moves.push((Bytes::copy_from_slice(key), newcomers, still_mine));
            } else if !still_mine {
                // Only this node left the key's replicas: hand it to all of them.
                let to = range.to.iter().map(|id| id.as_str().to_owned()).collect();
                moves.push((Bytes::copy_from_slice(key), to, false));
            }
        })?;
        let mut moved = 0;
        for (key, targets, still_mine) in moves {
            let Some((_, object)) = self.read_local(&key)? else { continue };
            let mut all_ok = true;
            for target in targets {
                let request =
                    Request::Put { key: key.clone(), object: object.clone(), hint_for: None };
                all_ok &= self.call_node(&target, request).await.is_ok_and(|r| r == Response::Ack);
            }
            if all_ok {
                moved += 1;
                if !still_mine {
                    self.delete_if_unchanged(&key, &object)?;
                }
            }
        }
        metrics::counter!("dynamo_keys_streamed_total").increment(moved as u64);
        Ok(moved)
    }

    /// Copies this node holds for keys it no longer replicates and holds no hint for
    /// (a membership-change stream that failed part way, a hint replayed to a node that
    /// has since left): sent to the key's primaries, and dropped once all of them have it.
    async fn hand_off_strays(self: &Arc<Self>) -> Result<usize, DynamoError> {
        let strays = self.off_runtime(Inner::find_strays).await?;
        let mut moved = 0;
        for (key, object, primaries) in strays {
            let mut all_ok = true;
            for primary in primaries {
                let request =
                    Request::Put { key: key.clone(), object: object.clone(), hint_for: None };
                all_ok &= self.healthy(&primary)
                    && self.call_node(&primary, request).await.is_ok_and(|r| r == Response::Ack);
            }
            if all_ok && self.delete_if_unchanged(&key, &object)? {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// The stray copies (see [`Inner::hand_off_strays`]) and their primaries.
    #[allow(clippy::type_complexity)]
    fn find_strays(&self) -> Result<Vec<(Bytes, Object, Vec<String>)>, DynamoError> {
        let ring = self.ring();
        let n = self.config.n;
        let spread = placement::spread_for(&ring);
        let mut strays: Vec<(Bytes, Object, Vec<String>)> = Vec::new();
        let mut hint_lookup_failed = None;
        self.for_each_local(|key, _, object| {
            // Nearly every key is this node's own: known without allocating its list.
            if placement::both_primaries(&ring, key, n, spread, &self.me, &self.me) {
                return;
            }
            let primaries = placement::preference_list(&ring, key, n);
            let hinted = primaries.iter().any(|p| match self.storage.get(&hint_key(p, key)) {
                Ok(found) => found.is_some(),
                Err(error) => {
                    hint_lookup_failed = Some(error);
                    true
                }
            });
            if !hinted {
                strays.push((Bytes::copy_from_slice(key), object.clone(), primaries));
            }
        })?;
        if let Some(error) = hint_lookup_failed {
            return Err(error.into());
        }
        Ok(strays)
    }

    fn delete_if_unchanged(&self, key: &[u8], sent: &Object) -> Result<bool, DynamoError> {
        let _guard = self.lock_for(key);
        if let Some((stamp, object)) = self.read_local(key)?
            && &object == sent
        {
            self.remove_local(key, &stamp, &object)?;
            return Ok(true);
        }
        Ok(false)
    }

    // ---- hinted handoff ----

    async fn replay_hints(self: &Arc<Self>) -> Result<usize, DynamoError> {
        // Rounds walk the hints page by page, so hints for a node that stays down cannot
        // starve the hints behind them.
        let cursor = self.hint_cursor.lock().take();
        let hints = self.storage.scan(&[HINT], cursor.as_deref(), HINTS_PER_ROUND)?;
        if hints.len() == HINTS_PER_ROUND {
            *self.hint_cursor.lock() = hints.last().map(|(key, _)| key.clone());
        }
        let pause =
            Duration::from_secs_f64(1.0 / f64::from(self.config.hint_replay_ops_per_second.max(1)));
        let mut replayed = 0;
        for (raw, _) in hints {
            let Some((target, key)) = parse_hint_key(&raw) else {
                self.storage.delete(&raw)?;
                continue;
            };
            let gone = matches!(
                self.membership.lock().liveness(&target, self.now_ms()),
                None | Some(Liveness::Left)
            );
            if gone {
                // The target left the ring: the copy is now a stray, and the stray handoff
                // delivers it to the key's current primaries.
                self.storage.delete(&raw)?;
                continue;
            }
            if !self.healthy(&target) {
                continue;
            }
            let Some((_, object)) = self.read_local(&key)? else {
                self.storage.delete(&raw)?;
                continue;
            };
            let request = Request::Put {
                key: Bytes::from(key.clone()),
                object: object.clone(),
                hint_for: None,
            };
            if self.call_node(&target, request).await.is_ok_and(|r| r == Response::Ack) {
                let ring = self.ring();
                let _guard = self.lock_for(&key);
                // Only when nothing newer arrived meanwhile: else the hint stays for the
                // next round.
                let current = self.read_local(&key)?;
                if let Some((stamp, _)) = current.as_ref().filter(|(_, o)| *o == object) {
                    self.storage.delete(&raw)?;
                    if !placement::is_primary(&ring, &key, self.config.n, &self.me)
                        && !self.holds_hint_for(&key)?
                    {
                        self.remove_local(&key, stamp, &object)?;
                    }
                    replayed += 1;
                    metrics::counter!("dynamo_hints_replayed_total").increment(1);
                }
            }
            tokio::time::sleep(pause).await;
        }
        Ok(replayed)
    }

    /// True when this node still keeps a hint for `key`, for any member: a fallback
    /// standing in for two primaries keeps its copy until both have it. One lookup per
    /// member, where a scan from the first hint walked past every hint deleted before it
    /// (each replay left a tombstone) and saw only the first page: under a backlog of
    /// replays, 8 % of a node's CPU in bench/dynamo-redis.sh.
    fn holds_hint_for(&self, key: &[u8]) -> Result<bool, DynamoError> {
        let members: Vec<String> =
            self.membership.lock().digest().into_iter().map(|member| member.id).collect();
        for member in members {
            if member != self.me && self.storage.get(&hint_key(&member, key))?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ---- anti-entropy ----

    fn shared_items(
        &self,
        peer: &str,
        buckets: Option<&[usize]>,
    ) -> Result<Vec<(Bytes, u64, Object)>, DynamoError> {
        let mut out = Vec::new();
        self.for_each_shared(peer, |key, hash, object| {
            if buckets.is_none_or(|wanted| wanted.contains(&bucket_of(hash))) {
                out.push((Bytes::copy_from_slice(key), hash, object.clone()));
            }
        })?;
        Ok(out)
    }

    /// Visits every local key (with its ring hash and object) that `peer` replicates too.
    fn for_each_shared(
        &self,
        peer: &str,
        mut visit: impl FnMut(&[u8], u64, &Object),
    ) -> Result<(), DynamoError> {
        let ring = self.ring();
        let spread = placement::spread_for(&ring);
        self.for_each_local(|key, _, object| {
            if placement::both_primaries(&ring, key, self.config.n, spread, peer, &self.me) {
                visit(key, ring.hash_key(key), object);
            }
        })
    }

    /// Runs `work` (a scan of every local key) on the blocking pool: O(keys) of decoding
    /// on the runtime's thread stalled every request the node served meanwhile (an
    /// anti-entropy round is six scans per node: p99 spikes in bench/dynamo-redis.sh).
    async fn off_runtime<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Inner) -> Result<T, DynamoError> + Send + 'static,
    ) -> Result<T, DynamoError> {
        let inner = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|error| DynamoError::Io { message: format!("local scan failed: {error}") })?
    }

    /// The Merkle tree over the keys shared with `peer`, from (hash, digest) pairs: no
    /// copy of any key or object (copying them, and allocating each key's preference
    /// list, was half of a round's CPU, and a round was a quarter of a node's CPU in
    /// bench/dynamo-redis.sh with a million keys, perf).
    fn shared_tree(&self, peer: &str) -> Result<MerkleTree, DynamoError> {
        let mut items = Vec::new();
        self.for_each_shared(peer, |_, hash, object| items.push((hash, object.digest())))?;
        Ok(MerkleTree::build(items))
    }

    fn shared_buckets(
        &self,
        peer: &str,
        buckets: &[usize],
    ) -> Result<Vec<(Bytes, Object)>, DynamoError> {
        Ok(self.shared_items(peer, Some(buckets))?.into_iter().map(|(k, _, o)| (k, o)).collect())
    }

    async fn throttle(&self, bytes: usize) {
        let rate = self.config.anti_entropy_bytes_per_second.max(1024);
        let pause = Duration::from_secs_f64(bytes as f64 / rate as f64);
        if pause >= Duration::from_millis(1) {
            tokio::time::sleep(pause).await;
        }
    }

    async fn anti_entropy_with(
        self: &Arc<Self>,
        peer: &str,
        report: &mut AntiEntropyReport,
    ) -> Result<(), DynamoError> {
        let request = Request::MerkleLeaves { peer: self.me.clone() };
        let leaves = match self.call_node(peer, request).await? {
            Response::Leaves(leaves) if leaves.len() == LEAVES => leaves,
            _ => {
                return Err(DynamoError::Unavailable {
                    op: "anti-entropy",
                    required: 1,
                    available: 0,
                });
            }
        };
        let theirs = MerkleTree::from_leaves(leaves);
        let mine = {
            let peer = peer.to_owned();
            self.off_runtime(move |inner| inner.shared_tree(&peer)).await?
        };
        let (differing, _) = mine.diff(&theirs);
        report.buckets_differing += differing.len();
        // Buckets travel in groups, so each side scans its keys once per group.
        for group in differing.chunks(BUCKETS_PER_REQUEST) {
            let buckets = group.iter().map(|&b| b as u16).collect();
            let request = Request::Buckets { peer: self.me.clone(), buckets };
            let remote = match self.call_node(peer, request).await? {
                Response::Bucket(objects) => objects,
                _ => {
                    return Err(DynamoError::Unavailable {
                        op: "anti-entropy",
                        required: 1,
                        available: 0,
                    });
                }
            };
            let mut remote_digests: HashMap<Bytes, u64> = HashMap::with_capacity(remote.len());
            for (key, object) in &remote {
                remote_digests.insert(key.clone(), object.digest());
                let bytes = key.len() + object.encode().len();
                report.bytes_moved += bytes as u64;
                self.merge_local(key, object)?;
                self.throttle(bytes).await;
            }
            report.objects_exchanged += remote.len();
            let (me_peer, wanted) = (peer.to_owned(), group.to_vec());
            let mine =
                self.off_runtime(move |inner| inner.shared_buckets(&me_peer, &wanted)).await?;
            for (key, object) in mine {
                if remote_digests.get(&key) == Some(&object.digest()) {
                    continue;
                }
                let bytes = key.len() + object.encode().len();
                report.bytes_moved += bytes as u64;
                report.objects_exchanged += 1;
                let request = Request::Put { key, object, hint_for: None };
                match self.call_node(peer, request).await? {
                    Response::Ack => {}
                    _ => {
                        return Err(DynamoError::Unavailable {
                            op: "anti-entropy",
                            required: 1,
                            available: 0,
                        });
                    }
                }
                self.throttle(bytes).await;
            }
        }
        Ok(())
    }

    async fn anti_entropy(self: &Arc<Self>) -> AntiEntropyReport {
        let _running = self.anti_entropy_running.lock().await;
        let started_ms = self.clock.now_ms();
        let started_mono = self.now_ms();
        let mut report = AntiEntropyReport { started_ms, ..AntiEntropyReport::default() };
        let ring = self.ring();
        let peers: Vec<String> =
            ring.nodes().map(|n| n.id().as_str().to_owned()).filter(|id| *id != self.me).collect();
        for peer in peers {
            if !self.healthy(&peer) {
                report.peers_failed += 1;
                continue;
            }
            match self.anti_entropy_with(&peer, &mut report).await {
                Ok(()) => {
                    report.peers_ok += 1;
                    self.anti_entropy_done.lock().insert(peer, started_mono);
                }
                Err(error) => {
                    report.peers_failed += 1;
                    tracing::debug!(node = %self.me, %peer, %error, "anti-entropy round failed");
                }
            }
        }
        match self.hand_off_strays().await {
            Ok(moved) => report.objects_exchanged += moved,
            Err(error) => tracing::warn!(%error, "stray handoff failed"),
        }
        match self.purge_tombstones().await {
            Ok(purged) => report.tombstones_purged = purged,
            Err(error) => tracing::warn!(%error, "tombstone purge failed"),
        }
        metrics::counter!("dynamo_anti_entropy_rounds_total").increment(1);
        *self.last_anti_entropy.lock() = Some(report.clone());
        report
    }

    /// Purges tombstones stored longer than the grace period ago whose every other
    /// replica completed an anti-entropy round with this node after the tombstone was
    /// stored: then every replica holds the tombstone (or something newer), so dropping it
    /// cannot let an old value come back.
    async fn purge_tombstones(self: &Arc<Self>) -> Result<usize, DynamoError> {
        let candidates = self.off_runtime(Inner::tombstones_to_purge).await?;
        let mut purged = 0;
        for (key, object) in candidates {
            if self.delete_if_unchanged(&key, &object)? {
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// The tombstones [`Inner::purge_tombstones`] may drop, as stored now.
    fn tombstones_to_purge(&self) -> Result<Vec<(Vec<u8>, Object)>, DynamoError> {
        let now = self.clock.now_ms();
        let ring = self.ring();
        let done = self.anti_entropy_done.lock().clone();
        let mut candidates = Vec::new();
        self.for_each_local(|key, stamp, object| {
            // Stored in an earlier life: every round of this life is later.
            let stored_mono = (stamp.incarnation == self.incarnation).then_some(stamp.mono_ms);
            if !object.is_tombstone()
                || stamp.wall_ms.saturating_add(self.config.tombstone_grace_ms) > now
            {
                return;
            }
            let primaries = placement::preference_list(&ring, key, self.config.n);
            let all_synced = primaries.contains(&self.me)
                && primaries.iter().filter(|p| **p != self.me).all(|p| {
                    done.get(p).is_some_and(|&at| stored_mono.is_none_or(|stored| at > stored))
                });
            if all_synced {
                candidates.push((key.to_vec(), object.clone()));
            }
        })?;
        Ok(candidates)
    }

    // ---- status ----

    fn status(&self) -> ClusterStatus {
        let ring = self.ring();
        let mut shares: BTreeMap<String, u128> = BTreeMap::new();
        let points: Vec<(u64, String)> =
            ring.points().map(|(p, n)| (p, n.id().as_str().to_owned())).collect();
        for (i, (position, owner)) in points.iter().enumerate() {
            let previous = if i == 0 { points.last().map_or(0, |p| p.0) } else { points[i - 1].0 };
            let len = if points.len() == 1 {
                1u128 << 64
            } else {
                u128::from(position.wrapping_sub(previous))
            };
            *shares.entry(owner.clone()).or_default() += len;
        }
        let ring_view = ring
            .nodes()
            .map(|node| {
                let id = node.id().as_str();
                RingShare {
                    node: id.to_owned(),
                    vnodes: ring.points_of(id).unwrap_or(0),
                    share: shares.get(id).copied().unwrap_or(0) as f64 / (1u128 << 64) as f64,
                }
            })
            .collect();
        let mut hints_pending = BTreeMap::new();
        if let Ok(hints) = self.storage.scan(&[HINT], None, 100_000) {
            for (raw, _) in hints {
                if let Some((target, _)) = parse_hint_key(&raw) {
                    *hints_pending.entry(target).or_insert(0) += 1;
                }
            }
        }
        ClusterStatus {
            node_id: self.me.clone(),
            epoch: self.actor.epoch,
            n: self.config.n,
            r: self.config.r,
            w: self.config.w,
            ring: ring_view,
            members: self.membership.lock().view(self.now_ms()),
            hints_pending,
            last_anti_entropy: self.last_anti_entropy.lock().clone(),
            sibling_cap_hits: self.sibling_cap_hits.load(Ordering::Relaxed),
        }
    }
}

/// Where a batched replica call's outcome goes: the coordinator's [`Answers`]. A reply
/// dropped unanswered (its batcher stopped, its batch task died) answers "failed", so no
/// coordinator waits for it until its deadline.
struct Reply {
    to: Option<ReplyTo>,
}

enum ReplyTo {
    /// A read's answer: the replica's object, or a failure.
    Read { target: usize, answers: Arc<Answers<ReadAnswer>> },
    /// A write's acknowledgement: `true` when the replica acknowledged and its
    /// acknowledgement `counts` toward the quorum (local quorum).
    Ack { counts: bool, answers: Arc<Answers<bool>> },
}

impl Reply {
    fn read(target: usize, answers: &Arc<Answers<ReadAnswer>>) -> Reply {
        Reply { to: Some(ReplyTo::Read { target, answers: Arc::clone(answers) }) }
    }

    fn ack(counts: bool, answers: &Arc<Answers<bool>>) -> Reply {
        Reply { to: Some(ReplyTo::Ack { counts, answers: Arc::clone(answers) }) }
    }

    /// Delivers `response` (`None`: the call failed).
    fn answer(mut self, response: Option<Response>) {
        if let Some(to) = self.to.take() {
            to.answer(response);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(to) = self.to.take() {
            to.answer(None);
        }
    }
}

impl ReplyTo {
    fn answer(self, response: Option<Response>) {
        match self {
            ReplyTo::Read { target, answers } => {
                let outcome = match response {
                    Some(Response::Object(object)) => Ok(object),
                    Some(_) => {
                        Err(DynamoError::Unavailable { op: "read", required: 1, available: 0 })
                    }
                    None => Err(DynamoError::Unavailable { op: "call", required: 1, available: 0 }),
                };
                answers.push(ReadAnswer { target, outcome });
            }
            ReplyTo::Ack { counts, answers } => {
                let ok = response.is_some_and(|r| r == Response::Ack);
                answers.push(ok && counts);
            }
        }
    }
}

type BatchJob = (Request, Reply);

/// Requests queued per peer before callers wait.
const BATCH_QUEUE: usize = 4096;
/// Batches in flight per peer: enough to keep a link busy, few enough to batch.
const BATCHES_IN_FLIGHT: usize = 8;

/// One peer's batcher: takes what is queued (up to [`crate::rpc::MAX_BATCH_REQUESTS`]),
/// sends it as one frame, hands each caller its answer. A failed batch drops the
/// callers' senders, so each sees an error.
async fn batch_loop(inner: Arc<Inner>, node: String, mut jobs: mpsc::Receiver<BatchJob>) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
    while let Some(first) = jobs.recv().await {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < crate::rpc::MAX_BATCH_REQUESTS {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let inner = Arc::clone(&inner);
        let node = node.clone();
        tokio::spawn(async move {
            let (requests, waiters): (Vec<Request>, Vec<Reply>) = batch.into_iter().unzip();
            let request = if requests.len() == 1 {
                requests.into_iter().next().unwrap_or(Request::Batch(Vec::new()))
            } else {
                Request::Batch(requests)
            };
            match inner.call_node(&node, request).await {
                Ok(Response::Batch(responses)) if responses.len() == waiters.len() => {
                    for (waiter, response) in waiters.into_iter().zip(responses) {
                        waiter.answer(Some(response));
                    }
                }
                Ok(response) if waiters.len() == 1 => {
                    for waiter in waiters {
                        waiter.answer(Some(response.clone()));
                    }
                }
                _ => {
                    for waiter in waiters {
                        waiter.answer(None);
                    }
                }
            }
            drop(permit);
        });
    }
}

async fn until_stopped(inner: &Inner, wait: Duration) -> bool {
    let mut stop = inner.stop.subscribe();
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn accept_loop(inner: Arc<Inner>, mut listener: Box<dyn crate::net::Listener>) {
    let mut stop = inner.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok(stream) => {
                let handler = Arc::clone(&inner);
                let stop = inner.stop.subscribe();
                tokio::spawn(crate::rpc::serve_connection(
                    stream,
                    move |request| Arc::clone(&handler).handle_rpc(request),
                    stop,
                ));
            }
            Err(error) => {
                tracing::warn!(%error, "rpc accept failed");
                if until_stopped(&inner, Duration::from_millis(100)).await {
                    return;
                }
            }
        }
    }
}

async fn gossip_loop(inner: Arc<Inner>) {
    let interval = Duration::from_millis(inner.config.gossip_interval_ms);
    loop {
        inner.gossip_round(inner.config.gossip_fanout).await;
        if until_stopped(&inner, interval).await {
            return;
        }
    }
}

async fn hint_loop(inner: Arc<Inner>) {
    let interval = Duration::from_millis(inner.config.hint_interval_ms.max(1));
    loop {
        if until_stopped(&inner, interval).await {
            return;
        }
        if let Err(error) = inner.replay_hints().await {
            tracing::warn!(%error, "hint replay failed");
        }
    }
}

async fn anti_entropy_loop(inner: Arc<Inner>) {
    if inner.config.anti_entropy_interval_ms == 0 {
        return;
    }
    let interval = Duration::from_millis(inner.config.anti_entropy_interval_ms);
    loop {
        if until_stopped(&inner, interval).await {
            return;
        }
        inner.anti_entropy().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_keys_round_trip_with_any_key_bytes() {
        let raw = hint_key("node-2", b"a\0b");
        assert_eq!(parse_hint_key(&raw), Some(("node-2".to_owned(), b"a\0b".to_vec())));
        assert_eq!(parse_hint_key(b"dkey"), None);
    }

    async fn solo(storage: &Arc<crate::storage::MemStorage>) -> Node {
        let config = ClusterConfig {
            node_id: "solo".into(),
            rpc_listen: "127.0.0.1:0".into(),
            n: 1,
            r: 1,
            w: 1,
            tombstone_grace_ms: 0,
            anti_entropy_interval_ms: 0,
            ..ClusterConfig::default()
        };
        let storage: Arc<dyn Storage> = Arc::clone(storage) as Arc<dyn Storage>;
        let network = Arc::new(crate::net::TokioNetwork);
        Node::start(config, storage, network, Arc::new(crate::clock::SystemClock), 1)
            .await
            .expect("start")
    }

    /// Writes, deletes and purges `key`, so the node drops a copy holding its own dots.
    async fn write_delete_purge(node: &Node, key: &[u8]) {
        let kv = node.handle();
        let opts = RequestOptions::default();
        kv.put(key, Bytes::from("v1"), None, opts).await.expect("put");
        let read = kv.get(key, opts).await.expect("get");
        kv.delete(key, Some(&read.context), opts).await.expect("delete");
        assert_eq!(node.anti_entropy_now().await.tombstones_purged, 1);
    }

    /// The counter of `node`'s actor in its `life`-th copy in `key`'s read context.
    async fn counter_of(node: &Node, key: &[u8], life: &str) -> u64 {
        let read = node.handle().get(key, RequestOptions::default()).await.expect("get");
        let context = Context::from_opaque(&read.context).expect("context");
        context.counter(&Actor { node: format!("solo{life}"), epoch: node.status().epoch })
    }

    #[tokio::test]
    async fn a_write_after_a_dropped_copy_mints_under_the_next_life_even_across_a_restart() {
        let storage = Arc::new(crate::storage::MemStorage::new());
        let node = solo(&storage).await;
        let opts = RequestOptions::default();
        // Within one run: the life taken by the purge is seen by the next write.
        write_delete_purge(&node, b"a").await;
        node.handle().put(b"a", Bytes::from("v2"), None, opts).await.expect("put");
        assert_eq!(counter_of(&node, b"a", "~1").await, 1);
        assert_eq!(counter_of(&node, b"a", "").await, 0);
        // Across a restart: the life record is found by the scan at start.
        write_delete_purge(&node, b"b").await;
        let epoch = node.status().epoch;
        node.shutdown().await;
        let node = solo(&storage).await;
        assert_eq!(node.status().epoch, epoch, "a clean restart keeps the epoch");
        node.handle().put(b"b", Bytes::from("v2"), None, opts).await.expect("put");
        assert_eq!(counter_of(&node, b"b", "~1").await, 1);
        assert_eq!(counter_of(&node, b"b", "").await, 0);
        node.shutdown().await;
    }

    /// An object holding one write of `value` by `actor`.
    fn written_by(actor: &str, value: &'static str) -> Object {
        let mut object = Object::empty();
        let actor = Actor { node: actor.into(), epoch: 1 };
        object.update(
            crate::version::Mode::Siblings,
            &actor,
            &Context::new(),
            Some(Bytes::from(value)),
            5,
        );
        object
    }

    #[tokio::test]
    async fn a_batch_answers_and_stores_what_its_requests_one_by_one_would() {
        let put = |key: &'static str, object: &Object, hint_for: Option<&str>| Request::Put {
            key: Bytes::from(key),
            object: object.clone(),
            hint_for: hint_for.map(str::to_owned),
        };
        let get = |key: &'static str| Request::Get { key: Bytes::from(key) };
        let (x, y) = (written_by("x", "1"), written_by("y", "2"));
        // Two concurrent puts of one key (the get between them and after them must see
        // what the batch staged), a key the batch leaves unchanged, and a hint.
        let requests = vec![
            put("k", &x, None),
            get("k"),
            put("k", &y, None),
            get("k"),
            put("j", &x, Some("elsewhere")),
            put("j", &x, Some("elsewhere")),
            get("absent"),
        ];
        let one_by_one = Arc::new(crate::storage::MemStorage::new());
        let batched = Arc::new(crate::storage::MemStorage::new());
        let (first, second) = (solo(&one_by_one).await, solo(&batched).await);
        let expected: Vec<Response> =
            requests.iter().map(|r| first.inner.handle_replica(r.clone())).collect();
        let Response::Batch(answers) = second.inner.handle_batch(requests) else {
            panic!("a batch is answered with a batch");
        };
        assert_eq!(answers, expected);
        let Response::Object(Some(merged)) = &answers[3] else { panic!("{:?}", answers[3]) };
        assert_eq!(merged.siblings().len(), 2, "both concurrent puts are kept");
        let records = |node: &Node| {
            node.handle().local_objects().expect("objects").into_iter().collect::<Vec<_>>()
        };
        assert_eq!(records(&second), records(&first));
        assert_eq!(second.status().hints_pending, first.status().hints_pending);
        assert_eq!(second.status().hints_pending.get("elsewhere"), Some(&1));
        first.shutdown().await;
        second.shutdown().await;
    }

    #[test]
    fn a_corrupt_record_is_a_storage_error() {
        assert!(matches!(decode_record(&[0x80]), Err(DynamoError::Storage { .. })));
        let object = Object::empty();
        let stamp = Stamp { wall_ms: 5, incarnation: 2, mono_ms: 9, life: 1 };
        assert_eq!(decode_record(&encode_record(stamp, &object)).ok(), Some((stamp, object)));
    }
}
