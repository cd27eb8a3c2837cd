//! Jump consistent hash (Lamping & Veach, 2014): no memory, perfect balance, but buckets
//! are numbered, so only the last one can leave without extra movement.

use crate::HashringError;
use crate::hash::{RingHash, Xxh3};
use crate::node::{Node, NodeId};
use crate::placement::{Algorithm, Placement, require_unit_weight};

/// The bucket in `0..buckets` for `key` (`buckets` must be at least 1).
#[inline]
pub fn jump_bucket(mut key: u64, buckets: u32) -> u32 {
    let mut bucket: i64 = -1;
    let mut next: i64 = 0;
    while next < i64::from(buckets) {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket.max(0) as u32
}

/// Jump hash over nodes numbered in insertion order.
///
/// Removing a node other than the last moves the last node into its number, so that node's
/// keys move too: Jump suits shards that only grow or shrink at the end.
#[derive(Debug, Clone, Default)]
pub struct JumpHash {
    nodes: Vec<Node>,
}

impl JumpHash {
    /// No nodes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node for `key`, `None` if empty.
    #[inline]
    pub fn lookup(&self, key: &[u8]) -> Option<&Node> {
        if self.nodes.is_empty() {
            return None;
        }
        let bucket = jump_bucket(Xxh3.hash(key, 0), self.nodes.len() as u32);
        self.nodes.get(bucket as usize)
    }
}

impl Placement for JumpHash {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Jump
    }

    fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn add(&mut self, node: Node) -> Result<(), HashringError> {
        require_unit_weight(Algorithm::Jump, &node)?;
        if self.nodes.iter().any(|member| member.id() == node.id()) {
            return Err(HashringError::DuplicateNode { node: node.id().to_string() });
        }
        if self.nodes.len() >= u32::MAX as usize {
            return Err(HashringError::TooManyNodes {
                algorithm: Algorithm::Jump.name(),
                max: u32::MAX as usize,
            });
        }
        self.nodes.push(node);
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<Node, HashringError> {
        let index = self
            .nodes
            .iter()
            .position(|member| member.id().as_str() == id)
            .ok_or_else(|| HashringError::UnknownNode { node: id.to_string() })?;
        Ok(self.nodes.swap_remove(index))
    }

    fn place(&mut self, key: &[u8]) -> Option<&NodeId> {
        self.lookup(key).map(Node::id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bucket_takes_every_key() {
        for key in 0..100 {
            assert_eq!(jump_bucket(key, 1), 0);
        }
    }

    #[test]
    fn growing_by_one_bucket_only_moves_keys_into_the_new_bucket() {
        for key in 0..10_000u64 {
            let key = crate::hash::mix64(key);
            let before = jump_bucket(key, 10);
            let after = jump_bucket(key, 11);
            assert!(after == before || after == 10);
        }
    }
}
