//! Weighted rendezvous (highest random weight) hashing: every node scores every key and
//! the best score wins. O(nodes) per lookup, no memory, minimal movement, exact weights.

use crate::HashringError;
use crate::hash::{RingHash, Xxh3, mix64};
use crate::node::{Node, NodeId};
use crate::placement::{Algorithm, Placement};

#[derive(Debug, Clone)]
struct Member {
    node: Node,
    seed: u64,
}

/// Weighted HRW: node `i` scores key `k` as `-wᵢ / ln(uᵢ(k))`, with `uᵢ(k)` uniform in
/// (0, 1); the highest score wins, so node `i` wins a `wᵢ / Σw` share of keys. Ties (only
/// for equal hashes) go to the smaller id, because members are scanned in id order.
#[derive(Debug, Clone, Default)]
pub struct Rendezvous {
    members: Vec<Member>,
}

impl Rendezvous {
    /// No nodes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node for `key`, `None` if empty.
    #[inline]
    pub fn lookup(&self, key: &[u8]) -> Option<&Node> {
        let key_hash = Xxh3.hash(key, 0);
        let mut best: Option<(&Member, f64)> = None;
        for member in &self.members {
            let score = score(key_hash, member);
            if best.is_none_or(|(_, top)| score > top) {
                best = Some((member, score));
            }
        }
        best.map(|(member, _)| &member.node)
    }
}

#[inline]
fn score(key_hash: u64, member: &Member) -> f64 {
    // 53 random bits, shifted off zero so that ln(u) < 0 is always finite.
    let unit = ((mix64(key_hash ^ member.seed) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    -member.node.weight().get() / unit.ln()
}

impl Placement for Rendezvous {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Rendezvous
    }

    fn node_count(&self) -> usize {
        self.members.len()
    }

    fn add(&mut self, node: Node) -> Result<(), HashringError> {
        let rank = match self.members.binary_search_by(|member| member.node.id().cmp(node.id())) {
            Ok(_) => {
                return Err(HashringError::DuplicateNode { node: node.id().to_string() });
            }
            Err(rank) => rank,
        };
        let seed = Xxh3.hash(node.id().as_str().as_bytes(), 0);
        self.members.insert(rank, Member { node, seed });
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<Node, HashringError> {
        let rank = self
            .members
            .binary_search_by(|member| member.node.id().as_str().cmp(id))
            .map_err(|_| HashringError::UnknownNode { node: id.to_string() })?;
        Ok(self.members.remove(rank).node)
    }

    fn place(&mut self, key: &[u8]) -> Option<&NodeId> {
        self.lookup(key).map(Node::id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_node_of_weight_three_gets_about_three_times_the_keys() {
        let mut hrw = Rendezvous::new();
        hrw.add(Node::new("light").unwrap()).unwrap();
        hrw.add(Node::new("heavy").unwrap().with_weight(3.0).unwrap()).unwrap();
        let heavy = (0u64..20_000)
            .filter(|i| hrw.lookup(&i.to_le_bytes()).unwrap().id().as_str() == "heavy")
            .count();
        let share = heavy as f64 / 20_000.0;
        assert!((share - 0.75).abs() < 0.02, "heavy share {share}");
    }
}
