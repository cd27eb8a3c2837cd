//! [`Replicas`]: the nodes a replica walk chose, held inline so that the walk never allocates.

use std::fmt;
use std::iter::FusedIterator;
use std::ops::Deref;

use crate::node::Node;

/// Up to this many replicas are held inline in a [`Replicas`] (and chosen with a stack
/// array by the walk); asking for more allocates one `Vec`.
///
/// Why 16: replication factors are 3 to 5 in practice, and 16 pointers (128 bytes) is
/// still cheap to return by value; past that, the walk's "already chosen?" scan would be
/// slower than the bitmap it switches to.
pub const INLINE_REPLICAS: usize = 16;

/// The nodes chosen by [`Ring::replicas`](crate::Ring::replicas), in walk order.
///
/// It dereferences to `[&Node]`, so indexing, slicing and `iter` work as on a `Vec`; up to
/// [`INLINE_REPLICAS`] nodes it holds them inline and building it never allocates.
#[derive(Clone)]
pub struct Replicas<'a> {
    storage: Storage<'a>,
}

#[derive(Clone)]
enum Storage<'a> {
    /// `nodes[..len]` are the replicas; the rest repeat a filler node and are never read.
    Inline { nodes: [&'a Node; INLINE_REPLICAS], len: usize },
    /// More than [`INLINE_REPLICAS`] replicas, or none (an empty `Vec` does not allocate).
    Heap(Vec<&'a Node>),
}

impl<'a> Replicas<'a> {
    /// No replicas (an empty ring); does not allocate.
    pub(crate) fn empty() -> Self {
        Self { storage: Storage::Heap(Vec::new()) }
    }

    /// The replicas `nodes`, of which there are at most [`INLINE_REPLICAS`]; `filler` (any
    /// node) fills the unused slots, because safe code cannot leave them uninitialised.
    ///
    /// Panics if `nodes` yields more than [`INLINE_REPLICAS`] nodes: callers check first.
    #[inline]
    pub(crate) fn inline(filler: &'a Node, nodes: impl IntoIterator<Item = &'a Node>) -> Self {
        let mut array = [filler; INLINE_REPLICAS];
        let mut len = 0;
        for node in nodes {
            array[len] = node;
            len += 1;
        }
        Self { storage: Storage::Inline { nodes: array, len } }
    }

    /// The replicas `nodes`, however many there are.
    pub(crate) fn heap(nodes: Vec<&'a Node>) -> Self {
        Self { storage: Storage::Heap(nodes) }
    }

    /// The replicas as a slice, in walk order.
    #[inline]
    pub fn as_slice(&self) -> &[&'a Node] {
        match &self.storage {
            Storage::Inline { nodes, len } => &nodes[..*len],
            Storage::Heap(nodes) => nodes,
        }
    }

    /// Number of replicas.
    #[inline]
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when there are no replicas (only on an empty ring or when 0 were asked for).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The replicas, in walk order.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, &'a Node> {
        self.as_slice().iter()
    }

    /// The replicas copied into a `Vec` (allocates).
    pub fn to_vec(&self) -> Vec<&'a Node> {
        self.as_slice().to_vec()
    }
}

impl<'a> Deref for Replicas<'a> {
    type Target = [&'a Node];

    #[inline]
    fn deref(&self) -> &Self::Target {
        self.as_slice()
    }
}

impl<'a> AsRef<[&'a Node]> for Replicas<'a> {
    fn as_ref(&self) -> &[&'a Node] {
        self.as_slice()
    }
}

impl fmt::Debug for Replicas<'_> {
    /// Like the slice: the unused inline slots are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when they hold equal nodes in the same order, however they are stored.
impl PartialEq for Replicas<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<'a> PartialEq<[&'a Node]> for Replicas<'a> {
    fn eq(&self, other: &[&'a Node]) -> bool {
        self.as_slice() == other
    }
}

impl<'a> PartialEq<Vec<&'a Node>> for Replicas<'a> {
    fn eq(&self, other: &Vec<&'a Node>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<'a> From<Replicas<'a>> for Vec<&'a Node> {
    /// Reuses the `Vec` when there is one; copies the inline nodes otherwise.
    fn from(replicas: Replicas<'a>) -> Self {
        match replicas.storage {
            Storage::Inline { nodes, len } => nodes[..len].to_vec(),
            Storage::Heap(nodes) => nodes,
        }
    }
}

impl<'r, 'a> IntoIterator for &'r Replicas<'a> {
    type Item = &'r &'a Node;
    type IntoIter = std::slice::Iter<'r, &'a Node>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for Replicas<'a> {
    type Item = &'a Node;
    type IntoIter = IntoIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        let back = self.len();
        IntoIter { replicas: self, front: 0, back }
    }
}

/// The replicas by value, in walk order: `for node in ring.replicas(key, 3)`.
#[derive(Debug, Clone)]
pub struct IntoIter<'a> {
    replicas: Replicas<'a>,
    /// The next index `next` yields.
    front: usize,
    /// One past the index `next_back` yields; `front <= back` always.
    back: usize,
}

impl<'a> Iterator for IntoIter<'a> {
    type Item = &'a Node;

    #[inline]
    fn next(&mut self) -> Option<&'a Node> {
        if self.front == self.back {
            return None;
        }
        let node = self.replicas.as_slice()[self.front];
        self.front += 1;
        Some(node)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back - self.front;
        (left, Some(left))
    }
}

impl DoubleEndedIterator for IntoIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.replicas.as_slice()[self.back])
    }
}

impl ExactSizeIterator for IntoIter<'_> {}

impl FusedIterator for IntoIter<'_> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn nodes(count: usize) -> Vec<Node> {
        (0..count).map(|i| Node::new(&format!("node-{i}")).unwrap()).collect()
    }

    #[test]
    fn an_empty_set_of_replicas_has_no_nodes_and_no_capacity() {
        let replicas = Replicas::empty();
        assert!(replicas.is_empty());
        assert_eq!(replicas.len(), 0);
        assert_eq!(replicas.into_iter().next(), None);
        assert!(matches!(Replicas::empty().storage, Storage::Heap(ref v) if v.capacity() == 0));
    }

    #[test]
    fn inline_replicas_hide_their_filler_slots() {
        let all = nodes(3);
        let replicas = Replicas::inline(&all[0], [&all[2], &all[1]]);
        assert_eq!(replicas.len(), 2);
        assert_eq!(replicas, vec![&all[2], &all[1]]);
        assert_eq!(format!("{replicas:?}"), format!("{:?}", [&all[2], &all[1]]));
    }

    #[test]
    fn inline_and_heap_replicas_with_the_same_nodes_are_equal() {
        let all = nodes(4);
        let inline = Replicas::inline(&all[0], all.iter());
        let heap = Replicas::heap(all.iter().collect());
        assert_eq!(inline, heap);
        assert_ne!(inline, Replicas::inline(&all[0], all.iter().rev()));
    }

    #[test]
    fn iterating_by_value_from_both_ends_meets_in_the_middle() {
        let all = nodes(5);
        let mut iter = Replicas::inline(&all[0], all.iter()).into_iter();
        assert_eq!(iter.len(), 5);
        assert_eq!(iter.next(), Some(&all[0]));
        assert_eq!(iter.next_back(), Some(&all[4]));
        let middle: Vec<&Node> = iter.by_ref().collect();
        assert_eq!(middle, [&all[1], &all[2], &all[3]]);
        assert_eq!(iter.next(), None);
        assert_eq!(iter.next_back(), None);
    }

    #[test]
    fn converting_to_a_vec_keeps_the_order() {
        let all = nodes(20);
        let heap = Replicas::heap(all.iter().collect());
        assert_eq!(heap.to_vec(), all.iter().collect::<Vec<_>>());
        assert_eq!(Vec::from(heap), all.iter().collect::<Vec<_>>());
        let inline = Replicas::inline(&all[0], all.iter().take(INLINE_REPLICAS));
        assert_eq!(Vec::from(inline).len(), INLINE_REPLICAS);
    }
}
