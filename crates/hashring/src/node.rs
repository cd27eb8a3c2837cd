//! Node identities, zones and weights: newtypes that can only hold valid values.

use std::fmt;
use std::sync::Arc;

use crate::HashringError;

/// The longest node id or zone name accepted, in bytes. Ids are hashed on every add, and
/// a DNS name or `host:port` fits comfortably.
pub const MAX_NAME_LEN: usize = 255;

fn parse_name(what: &'static str, raw: &str) -> Result<Arc<str>, HashringError> {
    if raw.is_empty() || raw.len() > MAX_NAME_LEN {
        return Err(HashringError::InvalidName { what, len: raw.len(), max: MAX_NAME_LEN });
    }
    Ok(Arc::from(raw))
}

/// A physical node's identity (`"10.0.0.7:6379"`, `"cache-3"`).
///
/// Its bytes decide where the node's virtual nodes sit, and its order breaks ties between
/// points at the same position. Cloning is a reference-count increment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// Parses an id: 1..=[`MAX_NAME_LEN`] bytes.
    pub fn parse(raw: &str) -> Result<Self, HashringError> {
        parse_name("node id", raw).map(Self)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A failure domain (zone, rack, datacenter) that a zone-aware replica walk spreads over.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zone(Arc<str>);

impl Zone {
    /// Parses a zone name: 1..=[`MAX_NAME_LEN`] bytes.
    pub fn parse(raw: &str) -> Result<Self, HashringError> {
        parse_name("zone", raw).map(Self)
    }

    /// The zone as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A node's relative capacity: finite and greater than zero.
///
/// A node of weight `w` gets `round(w × vnodes)` points on the ring, and at least one, so
/// a tiny weight never silently removes the node.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Weight(f64);

impl Weight {
    /// Weight 1, the weight of a node added without one.
    pub const ONE: Self = Self(1.0);

    /// Accepts a finite weight greater than zero.
    pub fn new(weight: f64) -> Result<Self, HashringError> {
        if weight.is_finite() && weight > 0.0 {
            Ok(Self(weight))
        } else {
            Err(HashringError::InvalidWeight { weight })
        }
    }

    /// The weight as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A physical node: its id, weight and optional zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    id: NodeId,
    weight: Weight,
    zone: Option<Zone>,
}

impl Node {
    /// A node of weight 1 without a zone.
    pub fn new(id: &str) -> Result<Self, HashringError> {
        Ok(Self { id: NodeId::parse(id)?, weight: Weight::ONE, zone: None })
    }

    /// A node from already-parsed parts.
    pub fn from_parts(id: NodeId, weight: Weight, zone: Option<Zone>) -> Self {
        Self { id, weight, zone }
    }

    /// The same node with weight `weight` (refused unless finite and > 0).
    pub fn with_weight(mut self, weight: f64) -> Result<Self, HashringError> {
        self.weight = Weight::new(weight)?;
        Ok(self)
    }

    /// The same node placed in zone `zone`.
    pub fn with_zone(mut self, zone: &str) -> Result<Self, HashringError> {
        self.zone = Some(Zone::parse(zone)?);
        Ok(self)
    }

    /// The node's id.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The node's weight.
    pub fn weight(&self) -> Weight {
        self.weight
    }

    /// The node's zone, if it has one.
    pub fn zone(&self) -> Option<&Zone> {
        self.zone.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_node_id_is_refused() {
        assert!(matches!(NodeId::parse(""), Err(HashringError::InvalidName { len: 0, .. })));
    }

    #[test]
    fn an_overlong_zone_is_refused() {
        let long = "z".repeat(MAX_NAME_LEN + 1);
        assert!(Zone::parse(&long).is_err());
        assert!(Zone::parse(&long[..MAX_NAME_LEN]).is_ok());
    }

    #[test]
    fn zero_negative_and_non_finite_weights_are_refused() {
        for weight in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(
                matches!(Weight::new(weight), Err(HashringError::InvalidWeight { .. })),
                "{weight} accepted"
            );
        }
        assert_eq!(Weight::new(0.25).map(Weight::get), Ok(0.25));
    }

    #[test]
    fn builder_methods_keep_the_id_and_set_weight_and_zone() -> Result<(), HashringError> {
        let node = Node::new("a")?.with_weight(2.0)?.with_zone("eu-1")?;
        assert_eq!(node.id().as_str(), "a");
        assert_eq!(node.weight().get(), 2.0);
        assert_eq!(node.zone().map(Zone::as_str), Some("eu-1"));
        Ok(())
    }
}
