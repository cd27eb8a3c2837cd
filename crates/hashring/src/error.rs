//! The one error enum of this crate: every refusal names the offending value.

/// Why a ring (or a comparison algorithm) refused a request.
///
/// Lookups never fail: on an empty ring they return `None`. Only membership changes and
/// construction can be refused, and each refusal carries the value that caused it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HashringError {
    /// A node id or zone name was empty or longer than [`crate::MAX_NAME_LEN`].
    #[error("{what} must be 1..={max} bytes, got {len} bytes")]
    InvalidName {
        /// Which kind of name ("node id" or "zone").
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The longest accepted length.
        max: usize,
    },
    /// A weight was zero, negative, NaN or infinite.
    #[error("weight must be finite and greater than 0, got {weight}")]
    InvalidWeight {
        /// The refused weight.
        weight: f64,
    },
    /// The virtual-node count was 0 or above [`crate::MAX_VNODES`].
    #[error("virtual nodes per unit weight must be 1..={max}, got {vnodes}")]
    InvalidVnodes {
        /// The refused count.
        vnodes: u32,
        /// The largest accepted count.
        max: u32,
    },
    /// The bounded-loads slack ε was not a finite number greater than 0.
    #[error("bounded-load epsilon must be finite and greater than 0, got {epsilon}")]
    InvalidEpsilon {
        /// The refused ε.
        epsilon: f64,
    },
    /// A node with this id is already a member.
    #[error("node {node:?} is already a member")]
    DuplicateNode {
        /// The duplicate id.
        node: String,
    },
    /// No node with this id is a member.
    #[error("node {node:?} is not a member")]
    UnknownNode {
        /// The id that was not found.
        node: String,
    },
    /// Adding the node would exceed a point limit (its weight is too large for the ring).
    #[error("node {node:?} needs {points} points; the limit is {max}")]
    TooManyPoints {
        /// The node being added.
        node: String,
        /// How many points it (or the ring after adding it) would need.
        points: u64,
        /// The limit that would be exceeded.
        max: u64,
    },
    /// The algorithm cannot hold this many nodes (Maglev: no more nodes than table slots).
    #[error("{algorithm} holds at most {max} nodes")]
    TooManyNodes {
        /// The algorithm's name.
        algorithm: &'static str,
        /// Its node limit.
        max: usize,
    },
    /// The algorithm has no notion of weights (Jump, modulo); only weight 1 is accepted.
    #[error("{algorithm} does not support weights; got weight {weight}")]
    WeightsUnsupported {
        /// The algorithm's name.
        algorithm: &'static str,
        /// The refused weight.
        weight: f64,
    },
}
