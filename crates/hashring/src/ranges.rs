//! Affected ranges (book 5.2.9): which arcs of the circle change owner on a membership change.

use crate::hash::RingHash;
use crate::node::{Node, NodeId};
use crate::ring::{Ring, Spread};

/// A membership change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A node joins.
    Add(Node),
    /// A node leaves.
    Remove(NodeId),
}

/// An arc of the circle: the hashes `h` clockwise after `start` up to and including `end`.
///
/// When `start < end` that is `start < h <= end`; otherwise the arc wraps past `u64::MAX`
/// (`h > start || h <= end`), and `start == end` is the whole circle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashRange {
    /// Exclusive start (a point position).
    pub start: u64,
    /// Inclusive end (a point position).
    pub end: u64,
}

impl HashRange {
    /// True when `hash` lies on this arc.
    #[inline]
    pub fn contains(&self, hash: u64) -> bool {
        if self.start < self.end {
            self.start < hash && hash <= self.end
        } else {
            hash > self.start || hash <= self.end
        }
    }

    /// Number of hashes on the arc (2^64 for the whole circle).
    pub fn len(&self) -> u128 {
        if self.start == self.end {
            1u128 << 64
        } else {
            u128::from(self.end.wrapping_sub(self.start))
        }
    }

    /// Always false: an arc holds at least one hash (its end).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The arc's share of the circle, in `(0, 1]`.
    pub fn fraction(&self) -> f64 {
        self.len() as f64 / (1u128 << 64) as f64
    }
}

/// An arc whose owner changes, with the owner before and after (`None` on an empty ring).
#[derive(Debug, Clone, PartialEq)]
pub struct AffectedRange {
    /// The arc.
    pub range: HashRange,
    /// Owner before the change.
    pub from: Option<NodeId>,
    /// Owner after the change.
    pub to: Option<NodeId>,
}

/// The exact arcs whose owner differs between `old` and `new` (which must share a hash),
/// clockwise from the lowest point, adjacent arcs with the same owners merged.
///
/// Every point of either ring is a boundary; between two consecutive boundaries both rings
/// have a constant owner (the owner of the next boundary's point), so comparing owners at
/// each boundary is exact — including tied positions and the wrap past `u64::MAX`. For an
/// added node this yields exactly the book's ranges: from each new point counter-clockwise
/// to the previous point, moving from the old successor to the new node.
pub fn diff<H: RingHash>(old: &Ring<H>, new: &Ring<H>) -> Vec<AffectedRange> {
    let bounds = union_sorted(old.positions(), new.positions());
    let count = bounds.len();
    let mut out: Vec<AffectedRange> = Vec::new();
    for k in 0..count {
        let end = bounds[k];
        let start = bounds[(k + count - 1) % count];
        let from = old.owner_of_hash(end).map(Node::id);
        let to = new.owner_of_hash(end).map(Node::id);
        if from == to {
            continue;
        }
        if let Some(last) = out.last_mut()
            && last.range.end == start
            && last.from.as_ref() == from
            && last.to.as_ref() == to
        {
            last.range.end = end;
            continue;
        }
        out.push(AffectedRange {
            range: HashRange { start, end },
            from: from.cloned(),
            to: to.cloned(),
        });
    }
    merge_across_wrap(&mut out);
    out
}

/// Joins the last arc to the first when they meet at the top boundary with the same owners.
fn merge_across_wrap<R: OnArc + PartialEq>(out: &mut Vec<R>) {
    if out.len() < 2 {
        return;
    }
    let last = &out[out.len() - 1];
    let first = &out[0];
    if last.arc().end == first.arc().start && last.same_change(first) {
        let start = last.arc().start;
        out.pop();
        out[0].arc_mut().start = start;
    }
}

/// An arc whose first `n` replicas change, with the replicas before and after, each in
/// ring-walk order (empty on an empty ring).
#[derive(Debug, Clone, PartialEq)]
pub struct AffectedReplicas {
    /// The arc.
    pub range: HashRange,
    /// Replicas before the change.
    pub from: Vec<NodeId>,
    /// Replicas after the change.
    pub to: Vec<NodeId>,
}

impl AffectedReplicas {
    /// Nodes that replicate the arc after the change but did not before: where its keys
    /// must be streamed.
    pub fn gained(&self) -> impl Iterator<Item = &NodeId> {
        self.to.iter().filter(|id| !self.from.contains(id))
    }

    /// Nodes that replicated the arc before the change and no longer do.
    pub fn lost(&self) -> impl Iterator<Item = &NodeId> {
        self.from.iter().filter(|id| !self.to.contains(id))
    }
}

/// The exact arcs whose first `n` replicas (chosen as `old_spread` says on `old`, and
/// `new_spread` on `new`) differ between `old` and `new` (which must share a hash), clockwise from the lowest point, adjacent arcs
/// with the same change merged: the ranges a membership change must stream when every key
/// lives on `n` nodes. A replica set changes wherever its owner does, and also where only
/// a later replica does (a node joining just behind an arc's owner), so these cover
/// [`diff`]'s ranges and more.
///
/// Exact for the same reason as [`diff`]: between two consecutive points of either ring,
/// each ring's walk starts at the same point, so both replica sets are constant there.
pub fn diff_replicas<H: RingHash>(
    old: &Ring<H>,
    new: &Ring<H>,
    n: usize,
    old_spread: Spread,
    new_spread: Spread,
) -> Vec<AffectedReplicas> {
    let ids = |ring: &Ring<H>, hash: u64, spread: Spread| -> Vec<NodeId> {
        ring.replicas_of_hash(hash, n, spread).iter().map(|node| node.id().clone()).collect()
    };
    let bounds = union_sorted(old.positions(), new.positions());
    let count = bounds.len();
    let mut out: Vec<AffectedReplicas> = Vec::new();
    for k in 0..count {
        let end = bounds[k];
        let start = bounds[(k + count - 1) % count];
        let from = ids(old, end, old_spread);
        let to = ids(new, end, new_spread);
        if from == to {
            continue;
        }
        if let Some(last) = out.last_mut()
            && last.range.end == start
            && last.from == from
            && last.to == to
        {
            last.range.end = end;
            continue;
        }
        out.push(AffectedReplicas { range: HashRange { start, end }, from, to });
    }
    merge_across_wrap(&mut out);
    out
}

/// A change on an arc of the circle, as [`RangeIndex`] looks ranges up.
pub trait OnArc {
    /// The arc.
    fn arc(&self) -> HashRange;
    /// The arc, to widen it when merging.
    fn arc_mut(&mut self) -> &mut HashRange;
    /// True when `other` moves the same nodes (so adjacent arcs can merge).
    fn same_change(&self, other: &Self) -> bool;
}

/// `OnArc` for a change type with a `range` arc and `from`/`to` nodes.
macro_rules! on_arc_with_from_to {
    ($($change:ty),+) => {$(
        impl OnArc for $change {
            fn arc(&self) -> HashRange {
                self.range
            }

            fn arc_mut(&mut self) -> &mut HashRange {
                &mut self.range
            }

            fn same_change(&self, other: &Self) -> bool {
                self.from == other.from && self.to == other.to
            }
        }
    )+};
}

on_arc_with_from_to!(AffectedRange, AffectedReplicas);

fn union_sorted(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = if j == b.len() || (i < a.len() && a[i] <= b[j]) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if out.last() != Some(&next) {
            out.push(next);
        }
    }
    out
}

/// Finds, for many hashes, the affected range containing each: ranges sorted by end, with
/// the (at most one) wrapping range kept aside.
#[derive(Debug, Clone)]
pub struct RangeIndex<'a, R: OnArc = AffectedRange> {
    ordered: Vec<&'a R>,
    wrapping: Option<&'a R>,
}

impl<'a, R: OnArc> RangeIndex<'a, R> {
    /// Indexes `ranges` (disjoint, as [`diff`] and [`diff_replicas`] return them).
    pub fn new(ranges: &'a [R]) -> Self {
        let mut ordered = Vec::with_capacity(ranges.len());
        let mut wrapping = None;
        for range in ranges {
            let arc = range.arc();
            if arc.start < arc.end {
                ordered.push(range);
            } else {
                wrapping = Some(range);
            }
        }
        ordered.sort_by_key(|range| range.arc().end);
        Self { ordered, wrapping }
    }

    /// The range containing `hash`, if any.
    pub fn find(&self, hash: u64) -> Option<&'a R> {
        let candidate = self.ordered.partition_point(|range| range.arc().end < hash);
        match self.ordered.get(candidate) {
            Some(range) if range.arc().contains(hash) => Some(*range),
            _ => self.wrapping.filter(|range| range.arc().contains(hash)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_plain_range_excludes_its_start_and_includes_its_end() {
        let range = HashRange { start: 10, end: 20 };
        assert!(!range.contains(10));
        assert!(range.contains(11));
        assert!(range.contains(20));
        assert!(!range.contains(21));
        assert_eq!(range.len(), 10);
    }

    #[test]
    fn a_wrapping_range_covers_both_ends_of_the_circle() {
        let range = HashRange { start: u64::MAX - 1, end: 1 };
        assert!(range.contains(u64::MAX));
        assert!(range.contains(0));
        assert!(range.contains(1));
        assert!(!range.contains(2));
        assert_eq!(range.len(), 3);
    }

    #[test]
    fn a_range_starting_where_it_ends_is_the_whole_circle() {
        let range = HashRange { start: 5, end: 5 };
        assert!(range.contains(5) && range.contains(0) && range.contains(u64::MAX));
        assert_eq!(range.fraction(), 1.0);
    }

    #[test]
    fn adding_the_first_node_moves_the_whole_circle_from_nobody() {
        let ring = Ring::with_vnodes(4).unwrap();
        let ranges = ring.affected_ranges(&Change::Add(Node::new("a").unwrap())).unwrap();
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].range.fraction(), 1.0);
        assert_eq!(ranges[0].from, None);
        assert_eq!(ranges[0].to.as_ref().map(NodeId::as_str), Some("a"));
    }

    #[test]
    fn adding_a_node_moves_ranges_only_to_it_and_ending_at_its_points() {
        let mut ring = Ring::with_vnodes(8).unwrap();
        ring.add(Node::new("a").unwrap()).unwrap();
        ring.add(Node::new("b").unwrap()).unwrap();
        let mut next = ring.clone();
        next.add(Node::new("c").unwrap()).unwrap();
        let c_points: Vec<u64> = next
            .points()
            .filter(|(_, node)| node.id().as_str() == "c")
            .map(|(position, _)| position)
            .collect();
        let ranges = diff(&ring, &next);
        assert!(!ranges.is_empty());
        for range in &ranges {
            assert_eq!(range.to.as_ref().map(NodeId::as_str), Some("c"));
            assert!(c_points.contains(&range.range.end));
        }
    }

    #[test]
    fn the_range_index_finds_plain_and_wrapping_ranges() {
        let a = NodeId::parse("a").unwrap();
        let ranges = vec![
            AffectedRange {
                range: HashRange { start: 10, end: 20 },
                from: Some(a.clone()),
                to: None,
            },
            AffectedRange {
                range: HashRange { start: u64::MAX - 5, end: 3 },
                from: None,
                to: Some(a),
            },
        ];
        let index = RangeIndex::new(&ranges);
        assert_eq!(index.find(15), Some(&ranges[0]));
        assert_eq!(index.find(2), Some(&ranges[1]));
        assert_eq!(index.find(u64::MAX), Some(&ranges[1]));
        assert_eq!(index.find(5), None);
        assert_eq!(index.find(10), None);
    }

    #[test]
    fn replica_ranges_match_every_hash_remapped_and_cover_the_owner_ranges() {
        let mut old = Ring::with_vnodes(16).unwrap();
        for id in ["a", "b", "c", "d"] {
            old.add(Node::new(id).unwrap()).unwrap();
        }
        let mut new = old.clone();
        new.add(Node::new("e").unwrap()).unwrap();
        let ranges = diff_replicas(&old, &new, 3, Spread::Nodes, Spread::Nodes);
        let index = RangeIndex::new(&ranges);
        let owners = diff(&old, &new);
        let ids = |ring: &Ring, hash: u64| -> Vec<NodeId> {
            ring.replicas_of_hash(hash, 3, Spread::Nodes).iter().map(|n| n.id().clone()).collect()
        };
        let mut changed = 0;
        for i in 0..20_000u64 {
            let hash = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let (before, after) = (ids(&old, hash), ids(&new, hash));
            match index.find(hash) {
                Some(range) => {
                    assert_eq!((&range.from, &range.to), (&before, &after), "hash {hash}");
                    assert_eq!(range.gained().map(NodeId::as_str).collect::<Vec<_>>(), ["e"]);
                    changed += 1;
                }
                None => assert_eq!(before, after, "hash {hash} changed outside every range"),
            }
            if RangeIndex::new(&owners).find(hash).is_some() {
                assert!(index.find(hash).is_some(), "an owner change is a replica change");
            }
        }
        // With N = 3 of 5 nodes, the newcomer replicates about 3/5 of the circle.
        assert!((9_000..15_000).contains(&changed), "{changed} of 20000 hashes changed");
    }

    #[test]
    fn union_of_sorted_lists_is_sorted_and_deduplicated() {
        assert_eq!(union_sorted(&[1, 3, 3, 5], &[2, 3, 6]), vec![1, 2, 3, 5, 6]);
    }
}
