//! Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, 2018): walk
//! the ring clockwise past nodes that are full, where full means holding more than
//! `⌈(1 + ε) × average⌉` items (scaled by weight).

use crate::HashringError;
use crate::hash::Xxh3;
use crate::node::{Node, NodeId};
use crate::placement::{Algorithm, Placement};
use crate::ring::Ring;

/// The default slack ε: no node more than 25 % above the average (Vimeo's production value).
pub const DEFAULT_EPSILON: f64 = 0.25;

/// A ring plus a load counter per node.
///
/// Each [`Placement::place`] call places one more item and counts it; [`BoundedLoads::release`]
/// uncounts one. Membership changes forget the counts (re-place the items): the placement of
/// a batch then depends only on the member set and the order of the batch.
#[derive(Debug, Clone)]
pub struct BoundedLoads {
    ring: Ring<Xxh3>,
    epsilon: f64,
    loads: Vec<u64>,
    total: u64,
}

impl BoundedLoads {
    /// Wraps `ring` with slack `epsilon` (finite, > 0).
    pub fn new(ring: Ring<Xxh3>, epsilon: f64) -> Result<Self, HashringError> {
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(HashringError::InvalidEpsilon { epsilon });
        }
        let loads = vec![0; ring.len()];
        Ok(Self { ring, epsilon, loads, total: 0 })
    }

    /// The slack ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The underlying ring.
    pub fn ring(&self) -> &Ring<Xxh3> {
        &self.ring
    }

    /// Items counted per node, ordered by id.
    pub fn loads(&self) -> impl Iterator<Item = (&NodeId, u64)> {
        self.ring.nodes().map(Node::id).zip(self.loads.iter().copied())
    }

    /// Uncounts one item held by node `id`; false if it holds none (or is not a member).
    pub fn release(&mut self, id: &str) -> bool {
        let Some(index) = self.ring.nodes().position(|node| node.id().as_str() == id) else {
            return false;
        };
        if self.loads[index] == 0 {
            return false;
        }
        self.loads[index] -= 1;
        self.total -= 1;
        true
    }

    fn reset(&mut self) {
        self.loads = vec![0; self.ring.len()];
        self.total = 0;
    }

    /// Places one item with ring position `hash`; returns the member index.
    fn place_hash(&mut self, hash: u64) -> Option<usize> {
        let start = self.ring.first_point_at_or_after(hash)?;
        let weight_sum: f64 = self.ring.nodes().map(|node| node.weight().get()).sum();
        // The capacity counts the item being placed, so it is always ≥ 1.
        let per_weight = (1.0 + self.epsilon) * (self.total + 1) as f64 / weight_sum;
        let points = self.ring.point_count();
        for step in 0..points {
            let owner = self.ring.owner_index((start + step) % points);
            let capacity = (per_weight * self.ring.member(owner).weight().get()).ceil() as u64;
            if self.loads[owner] < capacity {
                self.loads[owner] += 1;
                self.total += 1;
                return Some(owner);
            }
        }
        // Unreachable while Σ capacity ≥ (1 + ε)(total + 1) > total; fall back to the owner.
        let owner = self.ring.owner_index(start);
        self.loads[owner] += 1;
        self.total += 1;
        Some(owner)
    }
}

impl Placement for BoundedLoads {
    fn algorithm(&self) -> Algorithm {
        Algorithm::BoundedLoads
    }

    fn node_count(&self) -> usize {
        self.ring.len()
    }

    fn add(&mut self, node: Node) -> Result<(), HashringError> {
        self.ring.add(node)?;
        self.reset();
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<Node, HashringError> {
        let node = self.ring.remove(id)?;
        self.reset();
        Ok(node)
    }

    fn place(&mut self, key: &[u8]) -> Option<&NodeId> {
        let hash = self.ring.hash_key(key);
        let owner = self.place_hash(hash)?;
        Some(self.ring.member(owner).id())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn no_node_exceeds_one_plus_epsilon_times_the_average() {
        let mut ring = Ring::with_vnodes(8).unwrap();
        for i in 0..10 {
            ring.add(Node::new(&format!("n{i}")).unwrap()).unwrap();
        }
        let mut bounded = BoundedLoads::new(ring, 0.1).unwrap();
        let items = 10_000u64;
        for i in 0..items {
            bounded.place(&i.to_le_bytes());
        }
        let cap = (1.1 * items as f64 / 10.0).ceil() as u64;
        for (id, load) in bounded.loads() {
            assert!(load <= cap, "{id} holds {load} > {cap}");
        }
    }

    #[test]
    fn release_uncounts_and_refuses_below_zero() {
        let mut ring = Ring::with_vnodes(4).unwrap();
        ring.add(Node::new("a").unwrap()).unwrap();
        let mut bounded = BoundedLoads::new(ring, 0.5).unwrap();
        bounded.place(b"k");
        assert!(bounded.release("a"));
        assert!(!bounded.release("a"));
        assert!(!bounded.release("b"));
    }

    #[test]
    fn epsilon_must_be_positive_and_finite() {
        for epsilon in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            assert!(BoundedLoads::new(Ring::new(), epsilon).is_err());
        }
    }
}
