//! Merkle trees for anti-entropy (book 6.3.6): two replicas compare the keys they share
//! by exchanging hashes from the root down, and move only the buckets that differ.
//!
//! **What it is:** a fixed-shape tree of [`DEPTH`] levels under the root with [`FANOUT`]
//! children each, so [`LEAVES`] buckets. A key goes to the bucket named by the top bits of
//! its ring hash; a bucket's hash is an order-independent sum of `hash(key, digest)` over
//! its keys, so a tree can be built from an unordered scan. **What it is not:** a
//! cryptographic commitment (xxh3, not SHA): it detects divergence between honest replicas.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Children per inner node.
pub const FANOUT: usize = 16;
/// Levels below the root.
pub const DEPTH: usize = 2;
/// Buckets (leaves): `FANOUT^DEPTH`.
pub const LEAVES: usize = FANOUT * FANOUT;
const LEAF_BITS: u32 = 8;

/// A Merkle tree over `(key hash, object digest)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` is the root (one hash), `levels[DEPTH]` the leaves.
    levels: Vec<Vec<u64>>,
}

/// The bucket a key hash falls in.
pub fn bucket_of(key_hash: u64) -> usize {
    (key_hash >> (64 - LEAF_BITS)) as usize
}

impl MerkleTree {
    /// Builds the tree from every shared key's ring hash and object digest, in any order.
    pub fn build(items: impl IntoIterator<Item = (u64, u64)>) -> MerkleTree {
        let mut leaves = vec![0u64; LEAVES];
        for (key_hash, digest) in items {
            let bucket = bucket_of(key_hash);
            leaves[bucket] =
                leaves[bucket].wrapping_add(xxh3_64_with_seed(&digest.to_le_bytes(), key_hash));
        }
        MerkleTree::from_leaves(leaves)
    }

    /// Rebuilds the inner levels from leaf hashes (as received from a peer).
    pub fn from_leaves(leaves: Vec<u64>) -> MerkleTree {
        let mut levels = vec![leaves];
        while levels.last().map_or(0, Vec::len) > 1 {
            let below = levels.last().map(Vec::as_slice).unwrap_or(&[]);
            let above: Vec<u64> = below.chunks(FANOUT).map(hash_children).collect();
            levels.push(above);
        }
        levels.reverse();
        MerkleTree { levels }
    }

    /// The root hash: equal roots mean (with overwhelming probability) equal key sets.
    pub fn root(&self) -> u64 {
        self.levels.first().and_then(|level| level.first()).copied().unwrap_or(0)
    }

    /// The hashes at `depth` (0 = root, [`DEPTH`] = leaves).
    pub fn level(&self, depth: usize) -> &[u64] {
        self.levels.get(depth).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The leaf hashes.
    pub fn leaves(&self) -> &[u64] {
        self.level(DEPTH)
    }

    /// The buckets whose hashes differ, found from the root down: a subtree whose hash
    /// matches is never descended into. Also returns how many hashes were compared.
    pub fn diff(&self, other: &MerkleTree) -> (Vec<usize>, usize) {
        let mut compared = 1;
        if self.root() == other.root() {
            return (Vec::new(), compared);
        }
        let mut frontier = vec![0usize];
        for depth in 1..=DEPTH {
            let mut next = Vec::new();
            for parent in frontier {
                for child in parent * FANOUT..(parent + 1) * FANOUT {
                    compared += 1;
                    if self.level(depth).get(child) != other.level(depth).get(child) {
                        next.push(child);
                    }
                }
            }
            frontier = next;
        }
        (frontier, compared)
    }
}

fn hash_children(children: &[u64]) -> u64 {
    let mut bytes = Vec::with_capacity(children.len() * 8);
    for child in children {
        bytes.extend_from_slice(&child.to_le_bytes());
    }
    xxh3_64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn equal_sets_have_equal_roots_in_any_order() {
        let items: Vec<(u64, u64)> =
            (0..500u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15), i)).collect();
        let mut reversed = items.clone();
        reversed.reverse();
        assert_eq!(MerkleTree::build(items).root(), MerkleTree::build(reversed).root());
    }

    #[test]
    fn identical_trees_compare_only_the_root() {
        let tree = MerkleTree::build([(1, 2), (3, 4)]);
        assert_eq!(tree.diff(&tree.clone()), (Vec::new(), 1));
    }

    proptest! {
        #[test]
        fn diff_finds_exactly_the_buckets_whose_contents_differ(
            common in proptest::collection::btree_map(any::<u64>(), any::<u64>(), 0..200),
            changed in proptest::collection::btree_map(any::<u64>(), any::<u64>(), 0..5),
        ) {
            let left: BTreeMap<u64, u64> = common.clone();
            let mut right = common.clone();
            for (&k, &v) in &changed {
                right.insert(k, v);
            }
            let expected: std::collections::BTreeSet<usize> = changed
                .iter()
                .filter(|(k, v)| left.get(k) != Some(v))
                .map(|(&k, _)| bucket_of(k))
                .collect();
            let a = MerkleTree::build(left.clone());
            let b = MerkleTree::build(right.clone());
            let (found, _) = a.diff(&b);
            let found: std::collections::BTreeSet<usize> = found.into_iter().collect();
            prop_assert_eq!(found, expected);
            prop_assert_eq!(MerkleTree::from_leaves(b.leaves().to_vec()), b);
        }
    }
}
