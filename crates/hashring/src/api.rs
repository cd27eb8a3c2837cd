//! JSON types and pure functions behind the console page (`web/index.html`).
//!
//! The page keeps the node list itself and sends it with every request, so the server holds
//! no state. The `blueprint` binary mounts these as:
//!
//! - `GET  /api/v1/hashring/config` → [`ConsoleConfig`] ([`config`])
//! - `POST /api/v1/hashring/ring` with [`RingRequest`] → [`RingDescription`] ([`describe`])
//! - `POST /api/v1/hashring/change` with [`ChangeRequest`] → [`ChangeResponse`] ([`change`])
//!
//! Errors are [`ApiError`]s: status 400 with body [`ErrorBody`],
//! `{"error":{"code":"duplicate_node","message":"..."}}`.

use serde::{Deserialize, Serialize};

use crate::HashringError;
use crate::node::Node;
use crate::ranges::{Change, HashRange};
use crate::ring::Ring;

/// The console page (`web/index.html`), for the binary to serve at `/hashring/`.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");

/// Most nodes a console request may hold: enough to play with, few enough to draw.
pub const API_MAX_NODES: usize = 64;

/// Most virtual nodes per unit weight in a console request (64 × 256 points still draw fast).
pub const API_MAX_VNODES: u32 = 256;

/// Most sample keys per request (each is drawn and listed).
pub const API_MAX_KEYS: usize = 2000;

/// Longest sample key, in bytes.
pub const API_MAX_KEY_LEN: usize = 256;

/// Virtual nodes per unit weight when a request names none: few, so each one is visible.
pub const CONSOLE_DEFAULT_VNODES: u32 = 8;

/// Sample keys generated (`key-0`, `key-1`, …) when a request lists none.
pub const CONSOLE_DEFAULT_KEYS: usize = 200;

/// A node as the page sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Node id.
    pub id: String,
    /// Weight (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    /// Zone, if any.
    #[serde(default)]
    pub zone: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// A ring to describe: its nodes, virtual-node count and sample keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RingRequest {
    /// The members, any order.
    pub nodes: Vec<NodeSpec>,
    /// Virtual nodes per unit weight (default [`CONSOLE_DEFAULT_VNODES`]).
    #[serde(default)]
    pub vnodes: Option<u32>,
    /// Keys to place (default: [`CONSOLE_DEFAULT_KEYS`] generated keys).
    #[serde(default)]
    pub keys: Option<Vec<String>>,
}

/// A membership change on a described ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// The ring before the change.
    pub ring: RingRequest,
    /// The change.
    pub change: ChangeSpec,
}

/// `{"op":"add","node":{...}}` or `{"op":"remove","id":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeSpec {
    /// Add a node.
    Add {
        /// The joining node.
        node: NodeSpec,
    },
    /// Remove a node.
    Remove {
        /// The leaving node's id.
        id: String,
    },
}

/// A node as drawn: its points and exact share of the circle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeView {
    /// Node id.
    pub id: String,
    /// Weight.
    pub weight: f64,
    /// Zone, if any.
    pub zone: Option<String>,
    /// Points (virtual nodes) on the circle.
    pub points: u32,
    /// Exact fraction of the circle it owns.
    pub share: f64,
}

/// A point on the circle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointView {
    /// Position as a fraction of the circle, in [0, 1), clockwise from the top.
    pub position: f64,
    /// Owner id.
    pub node: String,
}

/// A sample key and its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    /// The key.
    pub key: String,
    /// Position as a fraction of the circle.
    pub position: f64,
    /// Owner id (absent on an empty ring).
    pub owner: Option<String>,
}

/// Everything the page draws for one ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RingDescription {
    /// Virtual nodes per unit weight.
    pub vnodes: u32,
    /// Nodes ordered by id.
    pub nodes: Vec<NodeView>,
    /// Points clockwise from 0.
    pub points: Vec<PointView>,
    /// Sample keys, in request order.
    pub keys: Vec<KeyView>,
}

/// An arc that changes owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RangeView {
    /// Exclusive start, as a fraction of the circle.
    pub start: f64,
    /// Inclusive end, as a fraction of the circle (wraps when `end <= start`).
    pub end: f64,
    /// Share of the circle.
    pub fraction: f64,
    /// Owner before.
    pub from: Option<String>,
    /// Owner after.
    pub to: Option<String>,
}

/// A sample key whose owner changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MovedKey {
    /// The key.
    pub key: String,
    /// Owner before.
    pub from: Option<String>,
    /// Owner after.
    pub to: Option<String>,
}

/// The ring before and after a change, the arcs that move and the keys that moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeResponse {
    /// Before the change.
    pub before: RingDescription,
    /// After the change.
    pub after: RingDescription,
    /// The affected ranges (book 5.2.9).
    pub ranges: Vec<RangeView>,
    /// Total share of the circle that changes owner.
    pub moved_fraction: f64,
    /// Sample keys that moved.
    pub moved_keys: Vec<MovedKey>,
}

/// Limits and defaults the page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsoleConfig {
    /// [`CONSOLE_DEFAULT_VNODES`].
    pub default_vnodes: u32,
    /// [`CONSOLE_DEFAULT_KEYS`].
    pub default_keys: usize,
    /// [`API_MAX_NODES`].
    pub max_nodes: usize,
    /// [`API_MAX_VNODES`].
    pub max_vnodes: u32,
    /// [`API_MAX_KEYS`].
    pub max_keys: usize,
    /// The library's default for real rings ([`crate::DEFAULT_VNODES`]).
    pub library_default_vnodes: u32,
}

/// Why a console request was refused (always HTTP 400).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The ring refused the nodes or the change.
    #[error(transparent)]
    Ring(#[from] HashringError),
    /// More nodes than [`API_MAX_NODES`].
    #[error("at most {max} nodes, got {count}")]
    TooManyNodes {
        /// Nodes in the request.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More virtual nodes than [`API_MAX_VNODES`].
    #[error("vnodes must be 1..={max}, got {vnodes}")]
    VnodesOutOfRange {
        /// The requested count.
        vnodes: u32,
        /// The limit.
        max: u32,
    },
    /// Too many keys, or a key too long.
    #[error("at most {max_keys} keys of at most {max_len} bytes each")]
    KeysOutOfRange {
        /// The key-count limit.
        max_keys: usize,
        /// The key-length limit.
        max_len: usize,
    },
}

impl ApiError {
    /// A stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ring(error) => match error {
                HashringError::InvalidName { .. } => "invalid_name",
                HashringError::InvalidWeight { .. } => "invalid_weight",
                HashringError::InvalidVnodes { .. } => "invalid_vnodes",
                HashringError::InvalidEpsilon { .. } => "invalid_epsilon",
                HashringError::DuplicateNode { .. } => "duplicate_node",
                HashringError::UnknownNode { .. } => "unknown_node",
                HashringError::TooManyPoints { .. } => "too_many_points",
                HashringError::TooManyNodes { .. } => "too_many_nodes",
                HashringError::WeightsUnsupported { .. } => "weights_unsupported",
            },
            Self::TooManyNodes { .. } => "too_many_nodes",
            Self::VnodesOutOfRange { .. } => "invalid_vnodes",
            Self::KeysOutOfRange { .. } => "too_many_keys",
        }
    }

    /// The HTTP status: every refusal is the client's input, so 400.
    pub fn status(&self) -> u16 {
        400
    }

    /// The JSON error body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code: self.code().to_string(), message: self.to_string() },
        }
    }
}

/// `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// `GET /api/v1/hashring/config`.
pub fn config() -> ConsoleConfig {
    ConsoleConfig {
        default_vnodes: CONSOLE_DEFAULT_VNODES,
        default_keys: CONSOLE_DEFAULT_KEYS,
        max_nodes: API_MAX_NODES,
        max_vnodes: API_MAX_VNODES,
        max_keys: API_MAX_KEYS,
        library_default_vnodes: crate::DEFAULT_VNODES,
    }
}

/// `POST /api/v1/hashring/ring`: the ring's nodes, points and sample-key owners.
pub fn describe(request: &RingRequest) -> Result<RingDescription, ApiError> {
    let ring = build_ring(request)?;
    let keys = sample_keys(request)?;
    Ok(describe_ring(&ring, &keys))
}

/// `POST /api/v1/hashring/change`: before, after, affected ranges and moved keys.
pub fn change(request: &ChangeRequest) -> Result<ChangeResponse, ApiError> {
    let before = build_ring(&request.ring)?;
    let keys = sample_keys(&request.ring)?;
    let change = match &request.change {
        ChangeSpec::Add { node } => Change::Add(parse_node(node)?),
        ChangeSpec::Remove { id } => Change::Remove(crate::NodeId::parse(id)?),
    };
    if matches!(change, Change::Add(_)) && before.len() >= API_MAX_NODES {
        return Err(ApiError::TooManyNodes { count: before.len() + 1, max: API_MAX_NODES });
    }
    let ranges = before.affected_ranges(&change)?;
    let mut after = before.clone();
    after.apply(change)?;
    let owner = |ring: &Ring, key: &str| ring.lookup(key).map(|node| node.id().to_string());
    let moved_keys = keys
        .iter()
        .filter_map(|key| {
            let (from, to) = (owner(&before, key), owner(&after, key));
            (from != to).then(|| MovedKey { key: key.clone(), from, to })
        })
        .collect();
    Ok(ChangeResponse {
        before: describe_ring(&before, &keys),
        after: describe_ring(&after, &keys),
        moved_fraction: ranges.iter().map(|range| range.range.fraction()).sum(),
        ranges: ranges
            .iter()
            .map(|range| RangeView {
                start: fraction(range.range.start),
                end: fraction(range.range.end),
                fraction: range.range.fraction(),
                from: range.from.as_ref().map(ToString::to_string),
                to: range.to.as_ref().map(ToString::to_string),
            })
            .collect(),
        moved_keys,
    })
}

fn fraction(position: u64) -> f64 {
    position as f64 / HashRange { start: 0, end: 0 }.len() as f64
}

fn parse_node(spec: &NodeSpec) -> Result<Node, HashringError> {
    let node = Node::new(&spec.id)?.with_weight(spec.weight)?;
    match &spec.zone {
        Some(zone) => node.with_zone(zone),
        None => Ok(node),
    }
}

fn build_ring(request: &RingRequest) -> Result<Ring, ApiError> {
    if request.nodes.len() > API_MAX_NODES {
        return Err(ApiError::TooManyNodes { count: request.nodes.len(), max: API_MAX_NODES });
    }
    let vnodes = request.vnodes.unwrap_or(CONSOLE_DEFAULT_VNODES);
    if vnodes == 0 || vnodes > API_MAX_VNODES {
        return Err(ApiError::VnodesOutOfRange { vnodes, max: API_MAX_VNODES });
    }
    let mut ring = Ring::with_vnodes(vnodes)?;
    for spec in &request.nodes {
        // Console weights are capped so that one node cannot ask for a million points.
        if spec.weight > f64::from(API_MAX_VNODES) {
            return Err(HashringError::InvalidWeight { weight: spec.weight }.into());
        }
        ring.add(parse_node(spec)?)?;
    }
    Ok(ring)
}

fn sample_keys(request: &RingRequest) -> Result<Vec<String>, ApiError> {
    let refused = ApiError::KeysOutOfRange { max_keys: API_MAX_KEYS, max_len: API_MAX_KEY_LEN };
    match &request.keys {
        None => Ok((0..CONSOLE_DEFAULT_KEYS).map(|i| format!("key-{i}")).collect()),
        Some(keys) if keys.len() > API_MAX_KEYS => Err(refused),
        Some(keys) if keys.iter().any(|key| key.len() > API_MAX_KEY_LEN) => Err(refused),
        Some(keys) => Ok(keys.clone()),
    }
}

fn describe_ring(ring: &Ring, keys: &[String]) -> RingDescription {
    let shares = ring.shares();
    RingDescription {
        vnodes: ring.vnodes(),
        nodes: ring
            .nodes()
            .zip(shares)
            .map(|(node, (_, share))| NodeView {
                id: node.id().to_string(),
                weight: node.weight().get(),
                zone: node.zone().map(ToString::to_string),
                points: ring.points_of(node.id().as_str()).unwrap_or(0),
                share,
            })
            .collect(),
        points: ring
            .points()
            .map(|(position, node)| PointView {
                position: fraction(position),
                node: node.id().to_string(),
            })
            .collect(),
        keys: keys
            .iter()
            .map(|key| KeyView {
                key: key.clone(),
                position: fraction(ring.hash_key(key)),
                owner: ring.lookup(key).map(|node| node.id().to_string()),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(id: &str) -> NodeSpec {
        NodeSpec { id: id.to_string(), weight: 1.0, zone: None }
    }

    fn three() -> RingRequest {
        RingRequest { nodes: vec![spec("a"), spec("b"), spec("c")], vnodes: Some(4), keys: None }
    }

    #[test]
    fn describing_a_ring_lists_nodes_points_and_default_keys() {
        let description = describe(&three()).unwrap();
        assert_eq!(description.nodes.len(), 3);
        assert_eq!(description.points.len(), 12);
        assert_eq!(description.keys.len(), CONSOLE_DEFAULT_KEYS);
        let total: f64 = description.nodes.iter().map(|n| n.share).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(description.points.iter().all(|p| (0.0..1.0).contains(&p.position)));
    }

    #[test]
    fn adding_a_node_moves_keys_only_to_it() {
        let response =
            change(&ChangeRequest { ring: three(), change: ChangeSpec::Add { node: spec("d") } })
                .unwrap();
        assert!(!response.moved_keys.is_empty());
        assert!(response.moved_keys.iter().all(|m| m.to.as_deref() == Some("d")));
        assert!(response.ranges.iter().all(|r| r.to.as_deref() == Some("d")));
        assert_eq!(response.after.nodes.len(), 4);
    }

    #[test]
    fn removing_an_unknown_node_is_a_400_with_a_stable_code() {
        let error = change(&ChangeRequest {
            ring: three(),
            change: ChangeSpec::Remove { id: "zz".into() },
        })
        .unwrap_err();
        assert_eq!((error.status(), error.code()), (400, "unknown_node"));
        assert_eq!(error.body().error.code, "unknown_node");
    }

    #[test]
    fn a_duplicate_node_or_zero_weight_is_refused() {
        let mut request = three();
        request.nodes.push(spec("a"));
        assert_eq!(describe(&request).unwrap_err().code(), "duplicate_node");
        let mut request = three();
        request.nodes[0].weight = 0.0;
        assert_eq!(describe(&request).unwrap_err().code(), "invalid_weight");
    }

    #[test]
    fn an_empty_ring_describes_keys_without_owners() {
        let description =
            describe(&RingRequest { nodes: vec![], vnodes: None, keys: Some(vec!["k".into()]) })
                .unwrap();
        assert_eq!(description.keys[0].owner, None);
    }

    #[test]
    fn oversized_requests_are_refused() {
        let mut request = three();
        request.vnodes = Some(API_MAX_VNODES + 1);
        assert_eq!(describe(&request).unwrap_err().code(), "invalid_vnodes");
        let mut request = three();
        request.keys = Some(vec!["k".into(); API_MAX_KEYS + 1]);
        assert_eq!(describe(&request).unwrap_err().code(), "too_many_keys");
        let mut request = three();
        request.nodes = (0..=API_MAX_NODES).map(|i| spec(&format!("n{i}"))).collect();
        assert_eq!(describe(&request).unwrap_err().code(), "too_many_nodes");
    }

    #[test]
    fn requests_parse_from_the_json_the_page_sends() {
        let json = r#"{"ring":{"nodes":[{"id":"a"},{"id":"b","weight":2,"zone":"z1"}],"vnodes":8},
                       "change":{"op":"add","node":{"id":"c"}}}"#;
        let request: ChangeRequest = serde_json::from_str(json).unwrap();
        assert_eq!(request.ring.nodes[1].weight, 2.0);
        assert_eq!(request.change, ChangeSpec::Add { node: spec("c") });
        let response = change(&request).unwrap();
        let text = serde_json::to_string(&response).unwrap();
        assert!(text.contains("\"moved_keys\""));
    }
}
