//! The consistent-hash ring of the book (5.2): virtual nodes, weights, replica walk.

use crate::HashringError;
use crate::hash::{RingHash, Xxh3};
use crate::node::{Node, NodeId, Zone};
use crate::ranges::{AffectedRange, Change, diff};
use crate::replicas::{INLINE_REPLICAS, Replicas};

/// Virtual nodes per unit of weight when none is given.
///
/// Why 4096 and not the 100–200 common elsewhere: a node's share of a ring whose points are
/// placed by hashing is a sum of `v` random arcs, so its relative standard deviation is
/// about `sqrt((n − 1) / (n·v))` — 7.5 % at 160 virtual nodes for 10 nodes, where the
/// busiest of 10 nodes is typically 12 % above the mean. Measured over 400 random sets of
/// 10 node ids (exact arc shares), `max/mean ≤ 1.05` held for 0.5 % of sets at 160 virtual
/// nodes, 58 % at 1000, 89 % at 2048 and 99.3 % at 4096 (mean max/mean 1.024). A smarter
/// placement than hashing would have to depend on the other members, and then adding a
/// node would move keys between nodes not involved in the change, so the fix is more
/// points. The cost is memory (12 bytes a point: 480 KiB for 10 nodes) and O(points)
/// membership changes; lookups stay O(1) through the bucket index.
/// `blueprint hashring experiment` prints the measured trade-off (table b).
pub const DEFAULT_VNODES: u32 = 4096;

/// The largest accepted virtual-node count per unit weight.
pub const MAX_VNODES: u32 = 1 << 16;

/// The most points one node may hold (a weight of 512 at the default virtual-node count).
pub const MAX_POINTS_PER_NODE: u64 = 1 << 20;

/// The most points a ring may hold: 12 bytes each, so at most ~100 MiB.
pub const MAX_POINTS: u64 = 1 << 23;

/// The bucket index has `2^bits` entries, about one per point, capped so that it stays
/// below 16 MiB.
const MAX_BUCKET_BITS: u32 = 22;

/// How a replica walk chooses its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spread {
    /// Distinct physical nodes, in clockwise order (the book's replica walk).
    #[default]
    Nodes,
    /// Distinct zones first (a node without a zone is its own zone); when there are fewer
    /// zones than replicas, the remaining replicas are the next distinct nodes clockwise.
    Zones,
}

#[derive(Debug, Clone)]
struct Member {
    node: Node,
    points: u32,
}

/// A consistent-hash ring with weighted virtual nodes.
///
/// Every node puts `max(1, round(weight × vnodes))` points on a 64-bit circle at
/// `hash(id, i + 1)`; a key belongs to the first point at or clockwise after `hash(key, 0)`.
/// Points at the same position are ordered by node id, so placement depends only on the
/// member set, never on insertion order, and removing a node removes exactly its own points.
#[derive(Debug, Clone)]
pub struct Ring<H: RingHash = Xxh3> {
    hasher: H,
    vnodes: u32,
    /// Members sorted by id; a point's owner is an index here, so the (position, owner)
    /// order of points is the (position, id) tie-break order.
    members: Vec<Member>,
    /// Point positions, ascending (ties ordered by owner).
    positions: Vec<u64>,
    /// `owners[i]` is the member index owning `positions[i]`.
    owners: Vec<u32>,
    /// `buckets[k]` is the first point at or after `k << shift`: lookups jump straight to
    /// their neighbourhood instead of binary-searching the whole ring.
    buckets: Vec<u32>,
    shift: u32,
}

impl Default for Ring<Xxh3> {
    fn default() -> Self {
        Self::new()
    }
}

impl Ring<Xxh3> {
    /// An empty ring with [`DEFAULT_VNODES`] and XXH3.
    pub fn new() -> Self {
        Self {
            hasher: Xxh3,
            vnodes: DEFAULT_VNODES,
            members: Vec::new(),
            positions: Vec::new(),
            owners: Vec::new(),
            buckets: Vec::new(),
            shift: 63,
        }
    }

    /// An empty ring with `vnodes` virtual nodes per unit weight and XXH3.
    pub fn with_vnodes(vnodes: u32) -> Result<Self, HashringError> {
        Self::with_hasher(vnodes, Xxh3)
    }
}

impl<H: RingHash> Ring<H> {
    /// An empty ring with `vnodes` virtual nodes per unit weight and hash `hasher`.
    pub fn with_hasher(vnodes: u32, hasher: H) -> Result<Self, HashringError> {
        if vnodes == 0 || vnodes > MAX_VNODES {
            return Err(HashringError::InvalidVnodes { vnodes, max: MAX_VNODES });
        }
        Ok(Self {
            hasher,
            vnodes,
            members: Vec::new(),
            positions: Vec::new(),
            owners: Vec::new(),
            buckets: Vec::new(),
            shift: 63,
        })
    }

    /// Builds a ring holding `nodes`; the order of `nodes` does not matter.
    pub fn from_nodes(
        vnodes: u32,
        hasher: H,
        nodes: impl IntoIterator<Item = Node>,
    ) -> Result<Self, HashringError> {
        let mut ring = Self::with_hasher(vnodes, hasher)?;
        for node in nodes {
            ring.add(node)?;
        }
        Ok(ring)
    }

    /// Virtual nodes per unit weight.
    pub fn vnodes(&self) -> u32 {
        self.vnodes
    }

    /// The hash function.
    pub fn hasher(&self) -> &H {
        &self.hasher
    }

    /// Number of physical nodes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the ring has no nodes.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of points (virtual nodes) on the circle.
    pub fn point_count(&self) -> usize {
        self.positions.len()
    }

    /// The nodes, ordered by id.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &Node> {
        self.members.iter().map(|member| &member.node)
    }

    /// The node with id `id`, if it is a member.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.rank(id).ok().map(|rank| &self.members[rank].node)
    }

    /// How many points node `id` holds, if it is a member.
    pub fn points_of(&self, id: &str) -> Option<u32> {
        self.rank(id).ok().map(|rank| self.members[rank].points)
    }

    /// Every point, clockwise from 0: its position and its owner.
    pub fn points(&self) -> impl ExactSizeIterator<Item = (u64, &Node)> {
        self.positions
            .iter()
            .zip(&self.owners)
            .map(|(&position, &owner)| (position, &self.members[owner as usize].node))
    }

    /// The position of `key` on the circle.
    #[inline]
    pub fn hash_key<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> u64 {
        self.hasher.hash(key.as_ref(), 0)
    }

    /// The node owning `key`, or `None` on an empty ring.
    #[inline]
    pub fn lookup<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Option<&Node> {
        self.owner_of_hash(self.hash_key(key))
    }

    /// The node owning position `hash`: the owner of the first point at or after it.
    #[inline]
    pub fn owner_of_hash(&self, hash: u64) -> Option<&Node> {
        let point = self.first_point_at_or_after(hash)?;
        Some(&self.members[self.owners[point] as usize].node)
    }

    /// `n` distinct physical nodes for `key`, walking clockwise from its position: the
    /// owner first, then the next distinct nodes. Returns every node when `n` exceeds the
    /// node count, and nothing on an empty ring. Up to [`INLINE_REPLICAS`] nodes this does
    /// not allocate.
    #[inline]
    pub fn replicas<K: AsRef<[u8]> + ?Sized>(&self, key: &K, n: usize) -> Replicas<'_> {
        self.replicas_spread(key, n, Spread::Nodes)
    }

    /// Like [`Ring::replicas`], choosing nodes as `spread` says.
    #[inline]
    pub fn replicas_spread<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        n: usize,
        spread: Spread,
    ) -> Replicas<'_> {
        self.replicas_of_hash(self.hash_key(key), n, spread)
    }

    /// Like [`Ring::replicas_spread`] for a position on the circle instead of a key: the
    /// replicas of every key whose hash is `hash` (what [`crate::ranges::diff_replicas`]
    /// compares).
    #[inline]
    pub fn replicas_of_hash(&self, hash: u64, n: usize, spread: Spread) -> Replicas<'_> {
        let Some(chosen) = self.choose_hash(hash, n, spread) else {
            return Replicas::empty();
        };
        match chosen {
            Chosen::Small { owners, len } => {
                // A non-empty walk means a non-empty ring, so member 0 exists.
                let filler = &self.members[0].node;
                Replicas::inline(filler, owners[..len].iter().map(|&owner| self.chosen(owner)))
            }
            Chosen::Large { owners, .. } => {
                Replicas::heap(owners.iter().map(|&owner| self.chosen(owner)).collect())
            }
        }
    }

    /// Like [`Ring::replicas_spread`], writing into `out` (cleared first) so that a caller
    /// on a hot path can reuse one buffer and never allocate.
    #[inline]
    pub fn replicas_into<'a, K: AsRef<[u8]> + ?Sized>(
        &'a self,
        key: &K,
        n: usize,
        spread: Spread,
        out: &mut Vec<&'a Node>,
    ) {
        out.clear();
        if let Some(chosen) = self.choose(key, n, spread) {
            out.extend(chosen.as_slice().iter().map(|&owner| self.chosen(owner)));
        }
    }

    /// Adds `node`. Refuses a duplicate id or a weight needing more than the point limits.
    pub fn add(&mut self, node: Node) -> Result<(), HashringError> {
        let rank = match self.rank(node.id().as_str()) {
            Ok(_) => {
                return Err(HashringError::DuplicateNode { node: node.id().to_string() });
            }
            Err(rank) => rank,
        };
        let points = self.points_for(&node)?;
        let mut fresh: Vec<u64> = (0..points)
            .map(|i| self.hasher.hash(node.id().as_str().as_bytes(), u64::from(i) + 1))
            .collect();
        fresh.sort_unstable();
        // Members after `rank` shift up by one; so do their owner indices.
        let rank = rank as u32;
        for owner in &mut self.owners {
            if *owner >= rank {
                *owner += 1;
            }
        }
        self.merge_points(&fresh, rank);
        self.members.insert(rank as usize, Member { node, points });
        self.rebuild_buckets();
        Ok(())
    }

    /// Removes node `id` and exactly its points; returns the node.
    pub fn remove(&mut self, id: &str) -> Result<Node, HashringError> {
        let rank =
            self.rank(id).map_err(|_| HashringError::UnknownNode { node: id.to_string() })? as u32;
        let mut kept = 0;
        for i in 0..self.positions.len() {
            let owner = self.owners[i];
            if owner != rank {
                self.positions[kept] = self.positions[i];
                self.owners[kept] = if owner > rank { owner - 1 } else { owner };
                kept += 1;
            }
        }
        self.positions.truncate(kept);
        self.owners.truncate(kept);
        let member = self.members.remove(rank as usize);
        self.rebuild_buckets();
        Ok(member.node)
    }

    /// Applies a membership change.
    pub fn apply(&mut self, change: Change) -> Result<(), HashringError> {
        match change {
            Change::Add(node) => self.add(node),
            Change::Remove(id) => self.remove(id.as_str()).map(|_| ()),
        }
    }

    /// The exact hash ranges whose owner changes if `change` is applied, with their old and
    /// new owners (book 5.2.9). The ring itself is not modified.
    pub fn affected_ranges(&self, change: &Change) -> Result<Vec<AffectedRange>, HashringError> {
        let mut next = self.clone();
        next.apply(change.clone())?;
        Ok(diff(self, &next))
    }

    /// Each node's exact share of the circle (the fraction of all possible key hashes it
    /// owns), ordered by id.
    pub fn shares(&self) -> Vec<(&NodeId, f64)> {
        let mut arcs = vec![0u128; self.members.len()];
        let count = self.positions.len();
        for i in 0..count {
            let previous = self.positions[(i + count - 1) % count];
            let arc = if count == 1 {
                1u128 << 64
            } else {
                u128::from(self.positions[i].wrapping_sub(previous))
            };
            arcs[self.owners[i] as usize] += arc;
        }
        let circle = (1u128 << 64) as f64;
        self.members
            .iter()
            .zip(arcs)
            .map(|(member, arc)| (member.node.id(), arc as f64 / circle))
            .collect()
    }

    pub(crate) fn positions(&self) -> &[u64] {
        &self.positions
    }

    /// Index of the first point at or after `hash`, wrapping to 0; `None` if empty.
    #[inline]
    pub(crate) fn first_point_at_or_after(&self, hash: u64) -> Option<usize> {
        if self.positions.is_empty() {
            return None;
        }
        let bucket = (hash >> self.shift) as usize;
        let start = self.buckets[bucket] as usize;
        let end = self.buckets[bucket + 1] as usize;
        let point = start + self.positions[start..end].partition_point(|&p| p < hash);
        Some(if point == self.positions.len() { 0 } else { point })
    }

    /// The member index owning point `point`.
    #[inline]
    pub(crate) fn owner_index(&self, point: usize) -> usize {
        self.owners[point] as usize
    }

    /// The node at member index `index` (ordered by id).
    pub(crate) fn member(&self, index: usize) -> &Node {
        &self.members[index].node
    }

    fn rank(&self, id: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|member| member.node.id().as_str().cmp(id))
    }

    fn points_for(&self, node: &Node) -> Result<u32, HashringError> {
        let wanted = (node.weight().get() * f64::from(self.vnodes)).round().max(1.0);
        let total = self.positions.len() as f64 + wanted;
        let (points, max) = if wanted > MAX_POINTS_PER_NODE as f64 {
            (wanted, MAX_POINTS_PER_NODE)
        } else if total > MAX_POINTS as f64 {
            (total, MAX_POINTS)
        } else {
            return Ok(wanted as u32);
        };
        Err(HashringError::TooManyPoints {
            node: node.id().to_string(),
            points: points as u64,
            max,
        })
    }

    /// Merges the sorted `fresh` positions of member `rank` into the point arrays.
    fn merge_points(&mut self, fresh: &[u64], rank: u32) {
        let old_positions = std::mem::take(&mut self.positions);
        let old_owners = std::mem::take(&mut self.owners);
        let total = old_positions.len() + fresh.len();
        self.positions.reserve_exact(total);
        self.owners.reserve_exact(total);
        let (mut i, mut j) = (0, 0);
        while i < old_positions.len() || j < fresh.len() {
            let take_old = j == fresh.len()
                || (i < old_positions.len()
                    && (old_positions[i], old_owners[i]) < (fresh[j], rank));
            if take_old {
                self.positions.push(old_positions[i]);
                self.owners.push(old_owners[i]);
                i += 1;
            } else {
                self.positions.push(fresh[j]);
                self.owners.push(rank);
                j += 1;
            }
        }
    }

    fn rebuild_buckets(&mut self) {
        self.buckets.clear();
        let count = self.positions.len();
        if count == 0 {
            return;
        }
        let bits = (usize::BITS - (count - 1).leading_zeros()).clamp(1, MAX_BUCKET_BITS);
        self.shift = 64 - bits;
        let mut point = 0;
        for bucket in 0..(1u64 << bits) {
            let start = bucket << self.shift;
            while point < count && self.positions[point] < start {
                point += 1;
            }
            self.buckets.push(point as u32);
        }
        self.buckets.push(count as u32);
    }

    /// The replica walk behind [`Ring::replicas_spread`]: the member indices chosen for
    /// `key`, in order; `None` on an empty ring.
    #[inline]
    fn choose<K: AsRef<[u8]> + ?Sized>(&self, key: &K, n: usize, spread: Spread) -> Option<Chosen> {
        self.choose_hash(self.hash_key(key), n, spread)
    }

    fn choose_hash(&self, hash: u64, n: usize, spread: Spread) -> Option<Chosen> {
        let want = n.min(self.members.len());
        let start = self.first_point_at_or_after(hash)?;
        let mut chosen = Chosen::new(want, self.members.len());
        if spread == Spread::Zones {
            self.walk_distinct_zones(start, want, &mut chosen);
        }
        self.walk_distinct_nodes(start, want, &mut chosen);
        Some(chosen)
    }

    /// The node of a member index chosen by a walk.
    #[inline]
    fn chosen(&self, owner: u32) -> &Node {
        &self.members[owner as usize].node
    }

    fn walk_distinct_nodes(&self, start: usize, want: usize, chosen: &mut Chosen) {
        let count = self.owners.len();
        let mut point = start;
        for _ in 0..count {
            if chosen.len() >= want {
                return;
            }
            let owner = self.owners[point];
            if !chosen.contains(owner) {
                chosen.push(owner);
            }
            point += 1;
            if point == count {
                point = 0;
            }
        }
    }

    fn walk_distinct_zones(&self, start: usize, want: usize, chosen: &mut Chosen) {
        let count = self.owners.len();
        let mut zones: Vec<&Zone> = Vec::with_capacity(want);
        for step in 0..count {
            if chosen.len() >= want {
                return;
            }
            let owner = self.owners[(start + step) % count];
            if chosen.contains(owner) {
                continue;
            }
            match self.members[owner as usize].node.zone() {
                Some(zone) if zones.contains(&zone) => {}
                Some(zone) => {
                    zones.push(zone);
                    chosen.push(owner);
                }
                None => chosen.push(owner),
            }
        }
    }
}

/// Up to this many replicas, the chosen members live in a stack array and "already
/// chosen?" is a scan of it (no allocation); above it, a bitmap over members keeps the walk
/// O(points). The same bound as [`Replicas`]' inline storage, so a small walk never
/// allocates end to end.
const SMALL_REPLICA_COUNT: usize = INLINE_REPLICAS;

/// The members chosen so far by a replica walk, in order.
enum Chosen {
    Small { owners: [u32; SMALL_REPLICA_COUNT], len: usize },
    Large { owners: Vec<u32>, seen: Vec<bool> },
}

impl Chosen {
    fn new(want: usize, members: usize) -> Self {
        if want <= SMALL_REPLICA_COUNT {
            Self::Small { owners: [0; SMALL_REPLICA_COUNT], len: 0 }
        } else {
            Self::Large { owners: Vec::with_capacity(want), seen: vec![false; members] }
        }
    }

    #[inline]
    fn as_slice(&self) -> &[u32] {
        match self {
            Self::Small { owners, len } => &owners[..*len],
            Self::Large { owners, .. } => owners,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    #[inline]
    fn contains(&self, owner: u32) -> bool {
        match self {
            Self::Small { owners, len } => owners[..*len].contains(&owner),
            Self::Large { seen, .. } => seen[owner as usize],
        }
    }

    /// Callers push at most `want` owners, so the small array never overflows.
    #[inline]
    fn push(&mut self, owner: u32) {
        match self {
            Self::Small { owners, len } => {
                owners[*len] = owner;
                *len += 1;
            }
            Self::Large { owners, seen } => {
                seen[owner as usize] = true;
                owners.push(owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Maps everything onto 8 positions, so points collide all the time.
    #[derive(Debug, Clone)]
    struct Coarse;

    impl RingHash for Coarse {
        fn hash(&self, bytes: &[u8], seed: u64) -> u64 {
            (Xxh3.hash(bytes, seed) % 8) << 61
        }
    }

    fn ring_of(ids: &[&str], vnodes: u32) -> Ring {
        let mut ring = Ring::with_vnodes(vnodes).unwrap();
        for id in ids {
            ring.add(Node::new(id).unwrap()).unwrap();
        }
        ring
    }

    #[test]
    fn an_empty_ring_looks_up_nothing_and_has_no_replicas() {
        let ring = Ring::new();
        assert!(ring.lookup("k").is_none());
        assert!(ring.replicas("k", 3).is_empty());
        assert!(ring.shares().is_empty());
    }

    #[test]
    fn asking_for_more_replicas_than_nodes_returns_every_node_once() {
        let ring = ring_of(&["a", "b", "c"], 16);
        let replicas = ring.replicas("k", 10);
        let mut ids: Vec<&str> = replicas.iter().map(|n| n.id().as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn the_first_replica_is_the_owner() {
        let ring = ring_of(&["a", "b", "c", "d"], 16);
        for i in 0u32..200 {
            let key = i.to_le_bytes();
            assert_eq!(ring.replicas(&key, 2)[0].id(), ring.lookup(&key).unwrap().id());
        }
    }

    #[test]
    fn a_duplicate_id_is_refused_and_the_ring_is_unchanged() {
        let mut ring = ring_of(&["a"], 16);
        let before = ring.point_count();
        let refused = ring.add(Node::new("a").unwrap().with_weight(3.0).unwrap());
        assert_eq!(refused, Err(HashringError::DuplicateNode { node: "a".to_string() }));
        assert_eq!(ring.point_count(), before);
    }

    #[test]
    fn removing_an_unknown_node_is_a_typed_error() {
        let mut ring = ring_of(&["a"], 16);
        assert!(matches!(ring.remove("b"), Err(HashringError::UnknownNode { .. })));
    }

    #[test]
    fn zero_or_too_many_vnodes_are_refused() {
        assert!(Ring::with_vnodes(0).is_err());
        assert!(Ring::with_vnodes(MAX_VNODES + 1).is_err());
        assert!(Ring::with_vnodes(MAX_VNODES).is_ok());
    }

    #[test]
    fn a_tiny_weight_still_gets_one_point() {
        let mut ring = Ring::with_vnodes(10).unwrap();
        ring.add(Node::new("tiny").unwrap().with_weight(1e-12).unwrap()).unwrap();
        assert_eq!(ring.points_of("tiny"), Some(1));
        assert_eq!(ring.lookup("any").unwrap().id().as_str(), "tiny");
    }

    #[test]
    fn a_huge_weight_is_refused_with_the_point_count() {
        let mut ring = Ring::with_vnodes(1000).unwrap();
        let refused = ring.add(Node::new("big").unwrap().with_weight(1e9).unwrap());
        assert!(matches!(refused, Err(HashringError::TooManyPoints { .. })));
        assert!(ring.is_empty());
    }

    #[test]
    fn points_are_proportional_to_weight() {
        let mut ring = Ring::with_vnodes(100).unwrap();
        ring.add(Node::new("a").unwrap().with_weight(2.5).unwrap()).unwrap();
        assert_eq!(ring.points_of("a"), Some(250));
    }

    #[test]
    fn tied_points_go_to_the_smaller_id_and_removal_keeps_the_other() {
        let mut ring = Ring::with_hasher(4, Coarse).unwrap();
        for id in ["b", "a", "c"] {
            ring.add(Node::new(id).unwrap()).unwrap();
        }
        let points: Vec<(u64, String)> =
            ring.points().map(|(p, n)| (p, n.id().to_string())).collect();
        let mut sorted = points.clone();
        sorted.sort();
        assert_eq!(points, sorted, "points ordered by (position, id)");
        for window in points.windows(2) {
            if window[0].0 == window[1].0 {
                assert!(
                    ring.owner_of_hash(window[0].0).unwrap().id().as_str() <= window[0].1.as_str()
                );
            }
        }
        let b_points = ring.points_of("b").unwrap() as usize;
        let c_points = ring.points_of("c").unwrap() as usize;
        ring.remove("a").unwrap();
        assert_eq!(ring.point_count(), b_points + c_points);
    }

    #[test]
    fn shares_of_a_single_node_cover_the_circle() {
        let ring = ring_of(&["solo"], 1);
        assert_eq!(ring.shares(), vec![(ring.nodes().next().unwrap().id(), 1.0)]);
    }

    #[test]
    fn shares_sum_to_one() {
        let ring = ring_of(&["a", "b", "c", "d", "e"], 50);
        let total: f64 = ring.shares().iter().map(|(_, s)| s).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_bucket_index_agrees_with_a_binary_search() {
        let ring = ring_of(&["a", "b", "c"], 300);
        let positions: Vec<u64> = ring.points().map(|(p, _)| p).collect();
        for i in 0u64..5000 {
            let hash = crate::hash::mix64(i);
            let expected = positions.partition_point(|&p| p < hash) % positions.len();
            assert_eq!(ring.first_point_at_or_after(hash), Some(expected));
        }
        assert_eq!(
            ring.first_point_at_or_after(u64::MAX).map(|p| p == 0 || positions[p] == u64::MAX),
            Some(true)
        );
        assert_eq!(ring.first_point_at_or_after(0), Some(0));
    }

    #[test]
    fn a_zone_aware_walk_spreads_over_zones_then_fills_with_nodes() {
        let mut ring = Ring::with_vnodes(32).unwrap();
        for (id, zone) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("b2", "b")] {
            ring.add(Node::new(id).unwrap().with_zone(zone).unwrap()).unwrap();
        }
        for i in 0u32..100 {
            let replicas = ring.replicas_spread(&i.to_le_bytes(), 3, Spread::Zones);
            assert_eq!(replicas.len(), 3);
            assert_ne!(replicas[0].zone(), replicas[1].zone());
        }
    }

    fn ids(nodes: &[&Node]) -> Vec<String> {
        nodes.iter().map(|node| node.id().to_string()).collect()
    }

    #[test]
    fn more_than_sixteen_replicas_are_distinct_and_match_replicas_into() {
        let names: Vec<String> = (0..20).map(|i| format!("node-{i:02}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let ring = ring_of(&names, 8);
        let mut buffer = Vec::new();
        for i in 0u32..200 {
            let key = i.to_le_bytes();
            for spread in [Spread::Nodes, Spread::Zones] {
                let replicas = ring.replicas_spread(&key, 18, spread);
                ring.replicas_into(&key, 18, spread, &mut buffer);
                assert_eq!(replicas.len(), 18);
                assert_eq!(replicas, buffer);
                let distinct: std::collections::BTreeSet<String> =
                    ids(&replicas).into_iter().collect();
                assert_eq!(distinct.len(), 18);
            }
        }
    }

    #[test]
    fn up_to_sixteen_replicas_match_replicas_into() {
        let mut ring = Ring::with_vnodes(32).unwrap();
        for i in 0..20 {
            let zone = format!("zone-{}", i % 4);
            ring.add(Node::new(&format!("node-{i:02}")).unwrap().with_zone(&zone).unwrap())
                .unwrap();
        }
        let mut buffer = Vec::new();
        for i in 0u32..200 {
            let key = i.to_le_bytes();
            for n in [0, 1, 3, INLINE_REPLICAS] {
                for spread in [Spread::Nodes, Spread::Zones] {
                    let replicas = ring.replicas_spread(&key, n, spread);
                    ring.replicas_into(&key, n, spread, &mut buffer);
                    assert_eq!(replicas.len(), n);
                    assert_eq!(ids(&replicas), ids(&buffer), "n = {n}, {spread:?}");
                    let by_value: Vec<&Node> = replicas.clone().into_iter().collect();
                    assert_eq!(by_value, buffer);
                }
            }
        }
    }
}
