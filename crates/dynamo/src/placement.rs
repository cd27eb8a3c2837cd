//! Placement (book 6.3.3, 6.3.4, 6.3.8): which nodes hold a key, and which nodes a
//! request goes to when some are down.
//!
//! **What it is:** pure functions over a [`blueprint_hashring::Ring`]: the preference list
//! (the first N distinct physical nodes clockwise, or distinct datacenters first when
//! zones are configured), and the sloppy selection: each unhealthy primary is replaced by
//! the next healthy node further along the ring walk, which holds the write as a hint for
//! that primary. **What it is not:** it does no I/O and decides nothing about health; the
//! caller passes a predicate from the membership table.

use blueprint_hashring::{Node, Ring, Spread};

use crate::error::DynamoError;

/// Virtual nodes per unit of capacity. The hashring's default (4096) balances load to a
/// few percent but makes anti-entropy ranges tiny; 256 keeps shares within ~10 % for a
/// handful of nodes while the ring stays small enough to rebuild on every membership change.
pub const DEFAULT_VNODES: u32 = 256;

/// A member as placement sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    /// Node id.
    pub id: String,
    /// Relative capacity: its share of virtual nodes.
    pub capacity: f64,
    /// Datacenter (zone) name, if any.
    pub datacenter: Option<String>,
}

/// Builds the ring for `members` with `vnodes` virtual nodes per unit of capacity.
pub fn build_ring(members: &[PlacedNode], vnodes: u32) -> Result<Ring, DynamoError> {
    let mut nodes = Vec::with_capacity(members.len());
    for member in members {
        let mut node = Node::new(&member.id)
            .and_then(|n| n.with_weight(member.capacity))
            .map_err(|source| DynamoError::Config { message: source.to_string() })?;
        if let Some(dc) = &member.datacenter {
            node = node
                .with_zone(dc)
                .map_err(|source| DynamoError::Config { message: source.to_string() })?;
        }
        nodes.push(node);
    }
    Ring::from_nodes(vnodes, blueprint_hashring::Xxh3, nodes)
        .map_err(|source| DynamoError::Config { message: source.to_string() })
}

/// The spread a cluster uses: distinct datacenters when any member names one.
pub fn spread_for(ring: &Ring) -> Spread {
    if ring.nodes().any(|node| node.zone().is_some()) { Spread::Zones } else { Spread::Nodes }
}

/// The N primaries of `key`, in ring-walk order.
pub fn preference_list(ring: &Ring, key: &[u8], n: usize) -> Vec<String> {
    ring.replicas_spread(key, n, spread_for(ring))
        .as_slice()
        .iter()
        .map(|node| node.id().as_str().to_owned())
        .collect()
}

/// One node a request is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The node that receives the request.
    pub node: String,
    /// The primary this node stands in for (sloppy quorum), if it is a fallback.
    pub hint_for: Option<String>,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The key's primaries (the preference list), healthy or not.
    pub primaries: Vec<String>,
    /// The healthy nodes to contact: healthy primaries, then fallbacks.
    pub targets: Vec<Target>,
}

/// Chooses targets for `key`: every healthy primary, and (when `sloppy`) for each
/// unhealthy primary the next healthy non-primary node on the ring walk.
pub fn plan(
    ring: &Ring,
    key: &[u8],
    n: usize,
    sloppy: bool,
    healthy: impl Fn(&str) -> bool,
) -> Plan {
    let primaries = preference_list(ring, key, n);
    let mut targets: Vec<Target> = Vec::with_capacity(primaries.len());
    let mut down: Vec<&String> = Vec::new();
    for primary in &primaries {
        if healthy(primary) {
            targets.push(Target { node: primary.clone(), hint_for: None });
        } else {
            down.push(primary);
        }
    }
    if sloppy && !down.is_empty() {
        let walk = ring.replicas(key, ring.len());
        let mut fallbacks = walk
            .as_slice()
            .iter()
            .map(|node| node.id().as_str())
            .filter(|id| !primaries.iter().any(|p| p == id) && healthy(id));
        for primary in down {
            match fallbacks.next() {
                Some(node) => {
                    targets.push(Target { node: node.to_owned(), hint_for: Some(primary.clone()) })
                }
                None => break,
            }
        }
    }
    Plan { primaries, targets }
}

/// True when `a` and `b` are both among the `n` primaries of `key` ([`preference_list`]
/// with `spread` = [`spread_for`]`(ring)`, passed in because the caller asks it of every
/// local key), without allocating the list: an anti-entropy round asks it of every key.
pub fn both_primaries(ring: &Ring, key: &[u8], n: usize, spread: Spread, a: &str, b: &str) -> bool {
    let replicas = ring.replicas_spread(key, n, spread);
    let holds = |id: &str| replicas.as_slice().iter().any(|node| node.id().as_str() == id);
    holds(a) && holds(b)
}

/// True when `node` is one of the first `n` primaries of `key`.
pub fn is_primary(ring: &Ring, key: &[u8], n: usize, node: &str) -> bool {
    preference_list(ring, key, n).iter().any(|id| id == node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn members(count: usize) -> Vec<PlacedNode> {
        (0..count)
            .map(|i| PlacedNode { id: format!("n{i}"), capacity: 1.0, datacenter: None })
            .collect()
    }

    #[test]
    fn the_preference_list_is_n_distinct_nodes() {
        let ring = build_ring(&members(5), 64).expect("ring");
        for i in 0..200u32 {
            let list = preference_list(&ring, &i.to_le_bytes(), 3);
            let mut unique = list.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 3);
        }
    }

    #[test]
    fn a_down_primary_is_replaced_by_the_next_healthy_node_with_a_hint() {
        let ring = build_ring(&members(5), 64).expect("ring");
        let key = b"some key";
        let primaries = preference_list(&ring, key, 3);
        let down = primaries[1].clone();
        let plan = plan(&ring, key, 3, true, |id| id != down);
        assert_eq!(plan.targets.len(), 3);
        let fallback = plan.targets.iter().find(|t| t.hint_for.is_some()).expect("a fallback");
        assert_eq!(fallback.hint_for.as_deref(), Some(down.as_str()));
        assert!(!primaries.contains(&fallback.node));
    }

    #[test]
    fn strict_mode_never_uses_fallbacks() {
        let ring = build_ring(&members(5), 64).expect("ring");
        let key = b"k";
        let primaries = preference_list(&ring, key, 3);
        let plan = plan(&ring, key, 3, false, |id| id != primaries[0]);
        assert_eq!(plan.targets.len(), 2);
        assert!(plan.targets.iter().all(|t| t.hint_for.is_none()));
    }

    #[test]
    fn replicas_land_in_distinct_datacenters_when_configured() {
        let nodes: Vec<PlacedNode> = (0..6)
            .map(|i| PlacedNode {
                id: format!("n{i}"),
                capacity: 1.0,
                datacenter: Some(format!("dc{}", i % 3)),
            })
            .collect();
        let ring = build_ring(&nodes, 64).expect("ring");
        for i in 0..100u32 {
            let list = preference_list(&ring, &i.to_le_bytes(), 3);
            let mut dcs: Vec<String> = list
                .iter()
                .map(|id| {
                    nodes
                        .iter()
                        .find(|n| &n.id == id)
                        .and_then(|n| n.datacenter.clone())
                        .unwrap_or_default()
                })
                .collect();
            dcs.sort();
            dcs.dedup();
            assert_eq!(dcs.len(), 3, "replicas {list:?}");
        }
    }

    #[test]
    fn a_node_with_twice_the_capacity_owns_about_twice_the_keys() {
        let mut nodes = members(3);
        nodes[0].capacity = 2.0;
        let ring = build_ring(&nodes, 256).expect("ring");
        let mut owned = [0u32; 3];
        for i in 0..20_000u32 {
            let owner = preference_list(&ring, &i.to_le_bytes(), 1);
            let index: usize = owner[0][1..].parse().expect("id");
            owned[index] += 1;
        }
        let ratio = f64::from(owned[0]) / f64::from(owned[1] + owned[2]) * 2.0;
        assert!((1.6..2.4).contains(&ratio), "ratio {ratio}, owned {owned:?}");
    }

    proptest! {
        #[test]
        fn both_primaries_agrees_with_the_preference_list(key in any::<u32>(), a in 0usize..5, b in 0usize..5) {
            let ring = build_ring(&members(5), 64).expect("ring");
            let key = key.to_le_bytes();
            let list = preference_list(&ring, &key, 3);
            let (a, b) = (format!("n{a}"), format!("n{b}"));
            let expected = list.contains(&a) && list.contains(&b);
            prop_assert_eq!(both_primaries(&ring, &key, 3, spread_for(&ring), &a, &b), expected);
        }

        #[test]
        fn sloppy_targets_are_distinct_healthy_and_at_most_n(down_mask in 0u8..32, key in any::<u32>()) {
            let ring = build_ring(&members(5), 32).expect("ring");
            let healthy = |id: &str| {
                let index: u32 = id[1..].parse().unwrap_or(0);
                down_mask & (1 << index) == 0
            };
            let plan = plan(&ring, &key.to_le_bytes(), 3, true, healthy);
            prop_assert!(plan.targets.len() <= 3);
            let mut ids: Vec<&str> = plan.targets.iter().map(|t| t.node.as_str()).collect();
            prop_assert!(ids.iter().all(|id| healthy(id)));
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), plan.targets.len());
            let up = (0..5).filter(|i| down_mask & (1 << i) == 0).count();
            prop_assert_eq!(plan.targets.len(), up.min(3));
        }
    }
}
