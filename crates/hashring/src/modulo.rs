//! `hash(key) mod n`: the book's strawman (5.1), kept for the experiment that shows why
//! it fails when n changes.

use crate::HashringError;
use crate::hash::{RingHash, Xxh3};
use crate::node::{Node, NodeId};
use crate::placement::{Algorithm, Placement, require_unit_weight};

/// Server `i` of `n` (in insertion order) owns the keys with `hash(key) mod n == i`.
#[derive(Debug, Clone, Default)]
pub struct Modulo {
    nodes: Vec<Node>,
}

impl Modulo {
    /// No servers yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Placement for Modulo {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Modulo
    }

    fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn add(&mut self, node: Node) -> Result<(), HashringError> {
        require_unit_weight(Algorithm::Modulo, &node)?;
        if self.nodes.iter().any(|member| member.id() == node.id()) {
            return Err(HashringError::DuplicateNode { node: node.id().to_string() });
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
        Ok(self.nodes.remove(index))
    }

    fn place(&mut self, key: &[u8]) -> Option<&NodeId> {
        if self.nodes.is_empty() {
            return None;
        }
        let index = Xxh3.hash(key, 0) % self.nodes.len() as u64;
        Some(self.nodes[index as usize].id())
    }
}
