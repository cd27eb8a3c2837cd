//! The `[kv.cluster]` configuration: one node's identity, addresses and the cluster's
//! N/W/R and timing. Every field has a default, so an empty table runs one node on
//! 127.0.0.1.

use std::path::PathBuf;

use serde::Deserialize;

use crate::version::Mode;

/// How acknowledgements are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// W (or R) acknowledgements from any replicas (Dynamo).
    #[default]
    Quorum,
    /// W (or R) acknowledgements from replicas in the coordinator's datacenter
    /// (Cassandra's `LOCAL_QUORUM`): remote datacenters are still written, not waited for.
    LocalQuorum,
}

/// One node's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Unique node id (also its actor name in version vectors).
    pub node_id: String,
    /// Datacenter (zone); when any member has one, replicas go to distinct datacenters.
    pub datacenter: Option<String>,
    /// Relative capacity: a node with 2.0 gets twice the virtual nodes of one with 1.0.
    pub capacity: f64,
    /// Virtual nodes per unit of capacity.
    pub vnodes: u32,
    /// Where node-to-node RPC listens.
    pub rpc_listen: String,
    /// The RPC address others should dial; defaults to the bound `rpc_listen` address.
    pub rpc_advertise: Option<String>,
    /// Where the RESP front end listens (used by the binary).
    pub resp_listen: String,
    /// Where the HTTP front end listens (used by the binary).
    pub http_listen: String,
    /// RPC addresses of seed nodes to gossip with at start.
    pub seeds: Vec<String>,
    /// Replicas per key.
    pub n: usize,
    /// Replicas that must answer a read.
    pub r: usize,
    /// Replicas that must acknowledge a write.
    pub w: usize,
    /// How acknowledgements are counted.
    pub consistency: Consistency,
    /// Siblings (default) or last-write-wins.
    pub versioning: Mode,
    /// Whether unavailable primaries are replaced by fallbacks holding hints.
    pub sloppy_quorum: bool,
    /// Strict reads: a read returns only after the value it returns is on a quorum of
    /// replicas (ABD's write-back), so that with `sloppy_quorum = false` and R+W>N a
    /// key written by one client at a time behaves as a linearizable register. Costs a
    /// write round on reads that find replicas disagreeing.
    pub read_write_back: bool,
    /// The share of reads, in `[0, 1]`, sent to every target rather than to R of them
    /// (Cassandra's `read_repair_chance`): those reads repair every replica that is
    /// behind. The others ask R replicas (more only when one fails or is slow) and repair
    /// whichever of those disagree; anti-entropy repairs the rest. 1 is Dynamo's rule
    /// (every read goes to all N) at the price of N-R replica reads that no answer waits
    /// for.
    pub read_repair_chance: f64,
    /// Gossip round interval.
    pub gossip_interval_ms: u64,
    /// Members gossiped with per round.
    pub gossip_fanout: usize,
    /// Silence after which a member is suspect (not sent requests).
    pub suspect_after_ms: u64,
    /// Silence after which a member is dead.
    pub dead_after_ms: u64,
    /// Use a phi-accrual failure detector for suspicion with this threshold (8 is
    /// Cassandra's default) instead of `suspect_after_ms`; unset by default.
    pub phi_suspect_threshold: Option<f64>,
    /// Timeout of one node-to-node call.
    pub rpc_timeout_ms: u64,
    /// How often hints are checked for replay.
    pub hint_interval_ms: u64,
    /// Hints replayed per second at most.
    pub hint_replay_ops_per_second: u32,
    /// Anti-entropy round interval (0 disables the schedule; on demand still works).
    pub anti_entropy_interval_ms: u64,
    /// Anti-entropy transfer budget.
    pub anti_entropy_bytes_per_second: u64,
    /// A tombstone is purged only this long after it was stored, and only after a
    /// completed anti-entropy round with every other replica of its key since then.
    pub tombstone_grace_ms: u64,
    /// Most siblings kept per key; beyond it the oldest are dropped (counted and logged).
    pub max_siblings: usize,
    /// Data directory (LSM storage, used by the binary).
    pub data_dir: PathBuf,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: "node1".into(),
            datacenter: None,
            capacity: 1.0,
            vnodes: crate::placement::DEFAULT_VNODES,
            rpc_listen: "127.0.0.1:7400".into(),
            rpc_advertise: None,
            resp_listen: "127.0.0.1:6400".into(),
            http_listen: "127.0.0.1:8400".into(),
            seeds: Vec::new(),
            n: 3,
            r: 2,
            w: 2,
            consistency: Consistency::Quorum,
            versioning: Mode::Siblings,
            sloppy_quorum: true,
            read_write_back: false,
            read_repair_chance: 0.1,
            gossip_interval_ms: 200,
            gossip_fanout: 3,
            suspect_after_ms: 1_000,
            dead_after_ms: 5_000,
            phi_suspect_threshold: None,
            rpc_timeout_ms: 1_000,
            hint_interval_ms: 500,
            hint_replay_ops_per_second: 1_000,
            anti_entropy_interval_ms: 30_000,
            anti_entropy_bytes_per_second: 8 * 1024 * 1024,
            tombstone_grace_ms: 10 * 60 * 1000,
            max_siblings: 32,
            data_dir: PathBuf::from("data/kv-cluster"),
        }
    }
}

impl ClusterConfig {
    /// Checks the numbers make sense.
    pub fn validate(&self) -> Result<(), crate::DynamoError> {
        let bad = |message: String| Err(crate::DynamoError::Config { message });
        if self.node_id.is_empty() || self.node_id.contains('\0') {
            return bad("node_id must be non-empty without NUL".into());
        }
        if self.n == 0 || self.r == 0 || self.w == 0 || self.r > self.n || self.w > self.n {
            return bad(format!("need 1 <= r, w <= n (n={}, r={}, w={})", self.n, self.r, self.w));
        }
        if !(self.capacity.is_finite() && self.capacity > 0.0) {
            return bad("capacity must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.read_repair_chance) {
            return bad("read_repair_chance must be in [0, 1]".into());
        }
        if self.gossip_interval_ms == 0 || self.rpc_timeout_ms == 0 || self.max_siblings == 0 {
            return bad(
                "gossip_interval_ms, rpc_timeout_ms and max_siblings must be positive".into()
            );
        }
        Ok(())
    }
}

/// Per-request quorum overrides (`R 3`, `W 1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// Replicas that must answer a read (default: the cluster's R).
    pub r: Option<usize>,
    /// Replicas that must acknowledge a write (default: the cluster's W).
    pub w: Option<usize>,
}

impl RequestOptions {
    /// The preset R=1, W=N: fast reads.
    pub fn fast_read(n: usize) -> RequestOptions {
        RequestOptions { r: Some(1), w: Some(n) }
    }

    /// The preset W=1, R=N: fast writes.
    pub fn fast_write(n: usize) -> RequestOptions {
        RequestOptions { r: Some(n), w: Some(1) }
    }
}
