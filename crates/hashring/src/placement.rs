//! One trait over every placement algorithm, so experiments and benches compare like with like.

use crate::HashringError;
use crate::bounded::BoundedLoads;
use crate::hash::Xxh3;
use crate::jump::JumpHash;
use crate::maglev::Maglev;
use crate::modulo::Modulo;
use crate::node::{Node, NodeId};
use crate::rendezvous::Rendezvous;
use crate::ring::{DEFAULT_VNODES, Ring};

/// A way to map keys to nodes.
///
/// `place` takes `&mut self` because consistent hashing with bounded loads counts what it
/// has placed; the stateless algorithms ignore that.
pub trait Placement {
    /// Which algorithm this is.
    fn algorithm(&self) -> Algorithm;
    /// Number of nodes.
    fn node_count(&self) -> usize;
    /// Adds a node; refuses duplicates (and weights where unsupported).
    fn add(&mut self, node: Node) -> Result<(), HashringError>;
    /// Removes node `id`, returning it.
    fn remove(&mut self, id: &str) -> Result<Node, HashringError>;
    /// The node for `key` (for bounded loads: places one more item), `None` if empty.
    fn place(&mut self, key: &[u8]) -> Option<&NodeId>;
}

/// The algorithms behind [`Placement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// `hash(key) mod n`: the book's strawman (5.1).
    Modulo,
    /// The consistent-hash ring with virtual nodes (5.2).
    Ring,
    /// Lamping & Veach's Jump consistent hash.
    Jump,
    /// Weighted rendezvous (highest random weight) hashing.
    Rendezvous,
    /// Google's Maglev lookup table.
    Maglev,
    /// Mirrokni et al.'s consistent hashing with bounded loads, over the ring.
    BoundedLoads,
}

impl Algorithm {
    /// Every algorithm, in table order.
    pub const ALL: [Self; 6] =
        [Self::Modulo, Self::Ring, Self::Jump, Self::Rendezvous, Self::Maglev, Self::BoundedLoads];

    /// A short stable name (used in tables and JSON).
    pub fn name(self) -> &'static str {
        match self {
            Self::Modulo => "modulo",
            Self::Ring => "ring",
            Self::Jump => "jump",
            Self::Rendezvous => "rendezvous",
            Self::Maglev => "maglev",
            Self::BoundedLoads => "bounded-loads",
        }
    }
}

/// Tunables for [`build`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacementParams {
    /// Virtual nodes per unit weight (ring and bounded loads).
    pub vnodes: u32,
    /// Bounded-loads slack: no node holds more than `⌈(1 + ε) × average⌉` items.
    pub epsilon: f64,
}

impl Default for PlacementParams {
    fn default() -> Self {
        Self { vnodes: DEFAULT_VNODES, epsilon: crate::bounded::DEFAULT_EPSILON }
    }
}

/// Builds `algorithm` over `nodes` (any order).
pub fn build(
    algorithm: Algorithm,
    params: PlacementParams,
    nodes: &[Node],
) -> Result<Box<dyn Placement>, HashringError> {
    let mut placement: Box<dyn Placement> = match algorithm {
        Algorithm::Modulo => Box::new(Modulo::new()),
        Algorithm::Ring => Box::new(Ring::with_hasher(params.vnodes, Xxh3)?),
        Algorithm::Jump => Box::new(JumpHash::new()),
        Algorithm::Rendezvous => Box::new(Rendezvous::new()),
        Algorithm::Maglev => Box::new(Maglev::new()),
        Algorithm::BoundedLoads => {
            Box::new(BoundedLoads::new(Ring::with_hasher(params.vnodes, Xxh3)?, params.epsilon)?)
        }
    };
    for node in nodes {
        placement.add(node.clone())?;
    }
    Ok(placement)
}

impl Placement for Ring<Xxh3> {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Ring
    }

    fn node_count(&self) -> usize {
        self.len()
    }

    fn add(&mut self, node: Node) -> Result<(), HashringError> {
        Ring::add(self, node)
    }

    fn remove(&mut self, id: &str) -> Result<Node, HashringError> {
        Ring::remove(self, id)
    }

    fn place(&mut self, key: &[u8]) -> Option<&NodeId> {
        self.lookup(key).map(Node::id)
    }
}

/// Refuses any weight other than 1 for algorithms without weights.
pub(crate) fn require_unit_weight(algorithm: Algorithm, node: &Node) -> Result<(), HashringError> {
    let weight = node.weight().get();
    if weight == 1.0 {
        Ok(())
    } else {
        Err(HashringError::WeightsUnsupported { algorithm: algorithm.name(), weight })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn nodes(count: usize) -> Vec<Node> {
        (0..count).map(|i| Node::new(&format!("node-{i}")).unwrap()).collect()
    }

    #[test]
    fn every_algorithm_returns_none_on_zero_nodes() {
        for algorithm in Algorithm::ALL {
            let mut placement = build(algorithm, PlacementParams::default(), &[]).unwrap();
            assert_eq!(placement.place(b"key"), None, "{}", algorithm.name());
        }
    }

    #[test]
    fn every_algorithm_refuses_a_duplicate_node() {
        for algorithm in Algorithm::ALL {
            let mut placement = build(algorithm, PlacementParams::default(), &nodes(3)).unwrap();
            let refused = placement.add(Node::new("node-1").unwrap());
            assert!(
                matches!(refused, Err(HashringError::DuplicateNode { .. })),
                "{}",
                algorithm.name()
            );
        }
    }

    #[test]
    fn every_algorithm_refuses_to_remove_an_unknown_node() {
        for algorithm in Algorithm::ALL {
            let mut placement = build(algorithm, PlacementParams::default(), &nodes(3)).unwrap();
            assert!(
                matches!(placement.remove("nope"), Err(HashringError::UnknownNode { .. })),
                "{}",
                algorithm.name()
            );
        }
    }

    #[test]
    fn every_algorithm_places_keys_on_members_only_and_uses_them_all() {
        for algorithm in Algorithm::ALL {
            let members = nodes(5);
            let mut placement = build(algorithm, PlacementParams::default(), &members).unwrap();
            placement.remove("node-2").unwrap();
            let mut seen = std::collections::BTreeSet::new();
            for i in 0u64..2000 {
                let owner = placement.place(&i.to_le_bytes()).unwrap().clone();
                assert_ne!(owner.as_str(), "node-2", "{}", algorithm.name());
                seen.insert(owner);
            }
            assert_eq!(seen.len(), 4, "{}", algorithm.name());
            assert_eq!(placement.node_count(), 4);
        }
    }

    #[test]
    fn weights_are_refused_by_algorithms_without_weights() {
        let heavy = Node::new("heavy").unwrap().with_weight(2.0).unwrap();
        for algorithm in [Algorithm::Modulo, Algorithm::Jump] {
            let mut placement = build(algorithm, PlacementParams::default(), &[]).unwrap();
            assert!(matches!(
                placement.add(heavy.clone()),
                Err(HashringError::WeightsUnsupported { .. })
            ));
        }
    }
}
