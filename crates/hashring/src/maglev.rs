//! Maglev hashing (Eisenbud et al., NSDI 2016): a prime-sized lookup table filled by each
//! node's own permutation of slots, in turns. O(1) lookups and near-perfect balance, at
//! the price of a little extra movement when membership changes.

use crate::HashringError;
use crate::hash::{RingHash, Xxh3};
use crate::node::{Node, NodeId};
use crate::placement::{Algorithm, Placement};

/// Lookup-table size: a prime (so every skip generates a full permutation) much larger
/// than the node count, as the paper advises (M ≫ N keeps the imbalance ≲ 1 %).
pub const MAGLEV_TABLE_SIZE: usize = 65_537;

/// Most nodes a table can hold: a hundredth of the slots, so each node keeps ≥ 100.
pub const MAGLEV_MAX_NODES: usize = MAGLEV_TABLE_SIZE / 100;

#[derive(Debug, Clone)]
struct Member {
    node: Node,
    offset: u64,
    skip: u64,
}

/// Maglev over nodes ordered by id (so the table depends only on the member set).
/// Weighted nodes take turns in proportion to their weight.
#[derive(Debug, Clone, Default)]
pub struct Maglev {
    members: Vec<Member>,
    table: Vec<u32>,
}

impl Maglev {
    /// No nodes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node for `key`, `None` if empty.
    #[inline]
    pub fn lookup(&self, key: &[u8]) -> Option<&Node> {
        if self.table.is_empty() {
            return None;
        }
        let slot = Xxh3.hash(key, 0) % self.table.len() as u64;
        Some(&self.members[self.table[slot as usize] as usize].node)
    }

    fn populate(&mut self) {
        self.table.clear();
        let count = self.members.len();
        if count == 0 {
            return;
        }
        let size = MAGLEV_TABLE_SIZE as u64;
        let heaviest =
            self.members.iter().map(|member| member.node.weight().get()).fold(0.0, f64::max);
        let mut next = vec![0u64; count];
        let mut credit = vec![0.0f64; count];
        let mut table = vec![u32::MAX; MAGLEV_TABLE_SIZE];
        let mut filled = 0;
        // Each round the heaviest node places one slot, so this ends after ≤ size rounds.
        while filled < MAGLEV_TABLE_SIZE {
            for (index, member) in self.members.iter().enumerate() {
                credit[index] += member.node.weight().get() / heaviest;
                if credit[index] < 1.0 {
                    continue;
                }
                credit[index] -= 1.0;
                // A node's permutation visits every slot, so an empty one is found.
                loop {
                    let slot = (member.offset + next[index] * member.skip) % size;
                    next[index] += 1;
                    if table[slot as usize] == u32::MAX {
                        table[slot as usize] = index as u32;
                        break;
                    }
                }
                filled += 1;
                if filled == MAGLEV_TABLE_SIZE {
                    break;
                }
            }
        }
        self.table = table;
    }
}

impl Placement for Maglev {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Maglev
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
        if self.members.len() >= MAGLEV_MAX_NODES {
            return Err(HashringError::TooManyNodes {
                algorithm: Algorithm::Maglev.name(),
                max: MAGLEV_MAX_NODES,
            });
        }
        let id = node.id().as_str().as_bytes();
        let size = MAGLEV_TABLE_SIZE as u64;
        let offset = Xxh3.hash(id, 1) % size;
        let skip = Xxh3.hash(id, 2) % (size - 1) + 1;
        self.members.insert(rank, Member { node, offset, skip });
        self.populate();
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<Node, HashringError> {
        let rank = self
            .members
            .binary_search_by(|member| member.node.id().as_str().cmp(id))
            .map_err(|_| HashringError::UnknownNode { node: id.to_string() })?;
        let member = self.members.remove(rank);
        self.populate();
        Ok(member.node)
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
    fn every_slot_is_filled_and_equal_nodes_get_equal_slots() {
        let mut maglev = Maglev::new();
        for i in 0..7 {
            maglev.add(Node::new(&format!("n{i}")).unwrap()).unwrap();
        }
        let mut counts = [0usize; 7];
        for &owner in &maglev.table {
            counts[owner as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), MAGLEV_TABLE_SIZE);
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(max - min <= 1, "{counts:?}");
    }

    #[test]
    fn a_node_of_weight_two_fills_twice_the_slots() {
        let mut maglev = Maglev::new();
        maglev.add(Node::new("a").unwrap()).unwrap();
        maglev.add(Node::new("b").unwrap().with_weight(2.0).unwrap()).unwrap();
        let heavy = maglev.table.iter().filter(|&&owner| owner == 1).count();
        let share = heavy as f64 / MAGLEV_TABLE_SIZE as f64;
        assert!((share - 2.0 / 3.0).abs() < 0.001, "{share}");
    }
}
