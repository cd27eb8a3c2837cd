//! The trie of book 13.3.1, frozen into flat arrays and built once from aggregates.
//!
//! Queries are sorted by key and numbered in that order, so every trie node's subtree is
//! a contiguous range of query ids. The trie is a radix (path-compressed) tree over the
//! keys' UTF-8 bytes, laid out breadth-first so that a node's children are consecutive:
//!
//! - per node: the first query id of its subtree (`u32`), the index of its first child
//!   (`u32`), and the first byte of its edge label (`u8`). Nothing else is stored: the
//!   subtree ends where the next sibling's begins (or where the parent's ends), and the
//!   edge label is read from the first key of the subtree up to the longest prefix that
//!   subtree's first and last keys share.
//! - per query: where its key ends in one text pool (`u32`) and its weight (`u32`); the
//!   display form only where it differs from the key (a sorted side table).
//! - the top k of every node: a node whose subtree holds at most k queries *is* its top
//!   k, ranked on the fly from at most k weights; every larger node stores its k best ids
//!   (`u32` each) in one pool, found through a rank bitmap. So lookup is O(prefix length)
//!   plus O(k), as in the book, without a `Vec` per node.
//!
//! Ranking is weight descending, then key ascending (the id), so equal weights always come
//! out in the same order. The tree stops at `max_prefix_chars` characters (book: the
//! maximum prefix length); a longer prefix is still answered, by scanning the few queries
//! that share the first `max_prefix_chars` characters.

use crate::error::BuildError;
use crate::normalize::{MAX_PREFIX_CHARS_LIMIT, Query};

/// Largest k a trie caches and a lookup may ask for.
pub const MAX_K: usize = 10;

/// The k returned when a request does not say (book: top 5).
pub const DEFAULT_K: usize = 5;

/// Largest weight stored; heavier aggregates saturate (100M log lines stay well below).
pub const MAX_WEIGHT: u64 = u32::MAX as u64;

/// One suggestion: the query as displayed and the weight it was ranked by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suggestion {
    /// The display form of the query.
    pub query: String,
    /// Its aggregated frequency (or trending score) when the trie was built.
    pub weight: u64,
}

/// The frozen trie. Immutable: a new one is built off the serving path and swapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trie {
    pub(crate) cached_k: u8,
    pub(crate) max_prefix_chars: u8,
    pub(crate) key_text: String,
    pub(crate) key_ends: Vec<u32>,
    pub(crate) weights: Vec<u32>,
    pub(crate) display_ids: Vec<u32>,
    pub(crate) display_ends: Vec<u32>,
    pub(crate) display_text: String,
    pub(crate) node_lo: Vec<u32>,
    pub(crate) node_first_child: Vec<u32>,
    pub(crate) node_byte: Vec<u8>,
    pub(crate) big_bits: Vec<u64>,
    pub(crate) big_rank: Vec<u32>,
    pub(crate) top: Vec<u32>,
}

/// Where a prefix lands: a node (whose cached list may answer) and its id range.
#[derive(Debug, Clone, Copy)]
struct Located {
    node: Option<usize>,
    lo: usize,
    hi: usize,
}

impl Trie {
    /// An empty trie (answers nothing), for a cache that has not loaded one yet.
    pub fn empty() -> Trie {
        Trie {
            cached_k: DEFAULT_K as u8,
            max_prefix_chars: crate::normalize::DEFAULT_MAX_PREFIX_CHARS as u8,
            key_text: String::new(),
            key_ends: vec![0],
            weights: Vec::new(),
            display_ids: Vec::new(),
            display_ends: vec![0],
            display_text: String::new(),
            node_lo: Vec::new(),
            node_first_child: vec![0],
            node_byte: Vec::new(),
            big_bits: Vec::new(),
            big_rank: Vec::new(),
            top: Vec::new(),
        }
    }

    /// Distinct queries held.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// True when the trie holds no query.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Trie nodes (after path compression).
    pub fn node_count(&self) -> usize {
        self.node_lo.len()
    }

    /// How many suggestions every node caches (the largest k a lookup returns).
    pub fn cached_k(&self) -> usize {
        usize::from(self.cached_k)
    }

    /// The depth, in characters, the tree was built to.
    pub fn max_prefix_chars(&self) -> usize {
        usize::from(self.max_prefix_chars)
    }

    /// Bytes of heap the trie holds (capacities of its arrays).
    pub fn heap_bytes(&self) -> usize {
        self.key_text.capacity()
            + self.display_text.capacity()
            + 4 * (self.key_ends.capacity()
                + self.weights.capacity()
                + self.display_ids.capacity()
                + self.display_ends.capacity()
                + self.node_lo.capacity()
                + self.node_first_child.capacity()
                + self.big_rank.capacity()
                + self.top.capacity())
            + self.node_byte.capacity()
            + 8 * self.big_bits.capacity()
    }

    /// Bytes of query text held (keys, plus display forms that differ from their key).
    pub fn text_bytes(&self) -> usize {
        self.key_text.len() + self.display_text.len()
    }

    /// The matching key of query `id` (ids are key order).
    pub fn key(&self, id: usize) -> &str {
        let start = self.key_ends.get(id).copied().unwrap_or(0) as usize;
        let end = self.key_ends.get(id + 1).copied().unwrap_or(0) as usize;
        self.key_text.get(start..end).unwrap_or("")
    }

    /// The display form of query `id`.
    pub fn display(&self, id: usize) -> &str {
        let Ok(id32) = u32::try_from(id) else { return "" };
        match self.display_ids.binary_search(&id32) {
            Ok(slot) => {
                let start = self.display_ends[slot] as usize;
                let end = self.display_ends[slot + 1] as usize;
                self.display_text.get(start..end).unwrap_or("")
            }
            Err(_) => self.key(id),
        }
    }

    /// The weight of query `id`.
    pub fn weight(&self, id: usize) -> u64 {
        self.weights.get(id).map_or(0, |weight| u64::from(*weight))
    }

    /// All queries as (key, display, weight), in key order: what a rebuild or a shard
    /// split starts from.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, u64)> + '_ {
        (0..self.len()).map(|id| (self.key(id), self.display(id), self.weight(id)))
    }

    /// The top `k` (clamped to [`Trie::cached_k`]) suggestions for the prefix key
    /// `prefix` (already normalised, see [`crate::normalize::Prefix`]).
    pub fn top_k(&self, prefix: &str, k: usize) -> Vec<Suggestion> {
        self.top_k_filtered(prefix, k, |_| true)
    }

    /// Like [`Trie::top_k`], but skips queries whose key `keep` refuses (the filter
    /// layer). The node's whole cached list (up to [`Trie::cached_k`]) is tried first, so
    /// up to `cached_k - k` refused queries cost nothing extra. When more are refused, a
    /// best-first walk of the subtree finds the next best, expanding at most
    /// [`MAX_FILTER_EXPANSIONS`] nodes (past that the answer may be shorter than k until
    /// the next rebuild drops the refused queries from the trie).
    pub fn top_k_filtered(
        &self,
        prefix: &str,
        k: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Vec<Suggestion> {
        let k = k.min(self.cached_k());
        let mut ids = Vec::with_capacity(self.cached_k());
        self.top_ids(prefix, self.cached_k(), &mut ids);
        let cached = ids.len();
        // Lazily: the common case checks only until k are accepted.
        let mut accepted = 0;
        ids.retain(|id| {
            accepted < k && keep(self.key(*id as usize)) && {
                accepted += 1;
                true
            }
        });
        if ids.len() < k
            && let Some(located) = self.locate(prefix.as_bytes())
            && located.hi - located.lo > cached
        {
            ids = match located.node {
                Some(node) => self.best_first(node, located.lo, located.hi, k, &mut keep),
                None => {
                    let mut all = Vec::with_capacity(located.hi - located.lo);
                    self.rank_range(located.lo, located.hi, located.hi - located.lo, &mut all);
                    all.retain(|id| keep(self.key(*id as usize)));
                    all.truncate(k);
                    all
                }
            };
        }
        ids.into_iter()
            .map(|id| Suggestion {
                query: self.display(id as usize).to_owned(),
                weight: self.weight(id as usize),
            })
            .collect()
    }

    /// The best `k` ids `keep` accepts in the subtree of `node` (ids `lo..hi`): a heap of
    /// queries and of unexpanded nodes, each node ranked by its best query, so queries
    /// come out in rank order and only the nodes that can still matter are opened.
    fn best_first(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        k: usize,
        keep: &mut impl FnMut(&str) -> bool,
    ) -> Vec<u32> {
        let mut heap = std::collections::BinaryHeap::new();
        heap.push(self.frontier_entry(node, lo, hi));
        let (mut out, mut expansions) = (Vec::with_capacity(k), 0usize);
        while let Some(entry) = heap.pop() {
            let Some((node, lo, hi)) = entry.node else {
                if keep(self.key(entry.id as usize)) {
                    out.push(entry.id);
                    if out.len() == k {
                        break;
                    }
                }
                continue;
            };
            expansions += 1;
            if expansions > MAX_FILTER_EXPANSIONS {
                break;
            }
            let children = self.children(node);
            if children.is_empty() {
                heap.extend((lo..hi).map(|id| self.query_entry(id)));
                continue;
            }
            if self.node_lo[children.start] as usize != lo {
                heap.push(self.query_entry(lo)); // the query ending at this node
            }
            for child in children.clone() {
                let child_lo = self.node_lo[child] as usize;
                let child_hi =
                    if child + 1 < children.end { self.node_lo[child + 1] as usize } else { hi };
                if child_hi - child_lo <= self.cached_k() {
                    heap.extend((child_lo..child_hi).map(|id| self.query_entry(id)));
                } else {
                    heap.push(self.frontier_entry(child, child_lo, child_hi));
                }
            }
        }
        out
    }

    fn query_entry(&self, id: usize) -> HeapEntry {
        HeapEntry { weight: self.weights[id], id: id as u32, node: None }
    }

    /// A node waiting to be opened, ranked like its best query.
    fn frontier_entry(&self, node: usize, lo: usize, hi: usize) -> HeapEntry {
        let best = if self.is_big(node) {
            self.top[self.big_slot(node) * self.cached_k()] as usize
        } else {
            let mut best = Vec::with_capacity(2);
            self.rank_range(lo, hi, 1, &mut best);
            best.first().map_or(lo, |id| *id as usize)
        };
        HeapEntry { weight: self.weights[best], id: best as u32, node: Some((node, lo, hi)) }
    }

    /// Writes the ids of the best `k` (clamped to `cached_k`) queries under `prefix` into
    /// `out` (cleared first), best first. Allocation-free once `out` has capacity.
    pub fn top_ids(&self, prefix: &str, k: usize, out: &mut Vec<u32>) {
        out.clear();
        let k = k.min(self.cached_k());
        let Some(located) = self.locate(prefix.as_bytes()) else { return };
        if let Some(node) = located.node
            && self.is_big(node)
        {
            let slot = self.big_slot(node) * self.cached_k();
            out.extend_from_slice(&self.top[slot..slot + k]);
            return;
        }
        self.rank_range(located.lo, located.hi, k, out);
    }

    /// Finds the node (or, past the tree's depth, the id range) for `prefix`.
    fn locate(&self, prefix: &[u8]) -> Option<Located> {
        if self.is_empty() {
            return None;
        }
        let (mut node, mut lo, mut hi, mut matched) = (0usize, 0usize, self.len(), 0usize);
        loop {
            let first = self.key(lo).as_bytes();
            let depth = self.subtree_depth(lo, hi, matched);
            let check_end = depth.min(prefix.len());
            if first.get(matched..check_end) != prefix.get(matched..check_end) {
                return None;
            }
            if prefix.len() <= depth {
                return Some(Located { node: Some(node), lo, hi });
            }
            matched = depth;
            let children = self.children(node);
            if children.is_empty() {
                return self.scan_locate(prefix, lo, hi);
            }
            let wanted = prefix[depth];
            let offset = self.node_byte[children.clone()].binary_search(&wanted).ok()?;
            let child = children.start + offset;
            let child_hi =
                if child + 1 < children.end { self.node_lo[child + 1] as usize } else { hi };
            (node, lo, hi) = (child, self.node_lo[child] as usize, child_hi);
        }
    }

    /// Past the tree's depth: the ids in `lo..hi` whose key starts with `prefix`
    /// (contiguous, since keys are sorted).
    fn scan_locate(&self, prefix: &[u8], lo: usize, hi: usize) -> Option<Located> {
        let start = partition(lo, hi, |id| self.key(id).as_bytes() < prefix);
        let end = partition(start, hi, |id| self.key(id).as_bytes().starts_with(prefix));
        (start < end).then_some(Located { node: None, lo: start, hi: end })
    }

    /// The byte depth at which the subtree `lo..hi` branches: the common prefix of its
    /// first and last keys (known to be at least `matched`).
    fn subtree_depth(&self, lo: usize, hi: usize, matched: usize) -> usize {
        let first = self.key(lo).as_bytes();
        if hi - lo == 1 {
            return first.len();
        }
        let last = self.key(hi - 1).as_bytes();
        matched + common_prefix_len(&first[matched..], &last[matched.min(last.len())..])
    }

    fn children(&self, node: usize) -> std::ops::Range<usize> {
        self.node_first_child[node] as usize..self.node_first_child[node + 1] as usize
    }

    fn is_big(&self, node: usize) -> bool {
        self.big_bits[node / 64] >> (node % 64) & 1 == 1
    }

    fn big_slot(&self, node: usize) -> usize {
        let word = self.big_bits[node / 64] & ((1u64 << (node % 64)) - 1);
        self.big_rank[node / 64] as usize + word.count_ones() as usize
    }

    /// The best `k` ids of `lo..hi` by scanning them (small subtrees, or past the depth).
    fn rank_range(&self, lo: usize, hi: usize, k: usize, out: &mut Vec<u32>) {
        for id in lo..hi {
            out.push(id as u32);
            if out.len() > k {
                self.sort_ranked(out);
                out.truncate(k);
            }
        }
        self.sort_ranked(out);
    }

    fn sort_ranked(&self, ids: &mut [u32]) {
        ids.sort_unstable_by_key(|id| (std::cmp::Reverse(self.weights[*id as usize]), *id));
    }
}

/// Most nodes one filtered lookup opens when the cached list is not enough: bounds the
/// latency a blocklist can add (each opening pushes at most 256 children).
pub const MAX_FILTER_EXPANSIONS: usize = 256;

/// An entry of [`Trie::best_first`]'s heap: a query, or a node ranked by its best query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeapEntry {
    weight: u32,
    id: u32,
    /// (node, lo, hi) for an unopened node.
    node: Option<(usize, usize, usize)>,
}

impl Ord for HeapEntry {
    /// Max-heap order: heavier first, then smaller id; a node before the query that is
    /// its best (same weight and id), so it opens before anything it outranks is taken.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.weight
            .cmp(&other.weight)
            .then_with(|| other.id.cmp(&self.id))
            .then_with(|| self.node.is_some().cmp(&other.node.is_some()))
    }
}

impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The first index in `lo..hi` for which `pred` is false (`pred` true then false).
fn partition(lo: usize, hi: usize, mut pred: impl FnMut(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Collects (query, weight) aggregates and freezes them into a [`Trie`].
#[derive(Debug)]
pub struct TrieBuilder {
    cached_k: usize,
    max_prefix_chars: usize,
    text: String,
    records: Vec<Record>,
}

/// One pushed query, pointing into the builder's text pool.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// The key's first 8 bytes, big-endian: most comparisons while sorting end here.
    head: u64,
    key_start: u32,
    key_len: u32,
    /// `u32::MAX` when the display form is the key.
    display_start: u32,
    display_len: u32,
    weight: u32,
}

impl TrieBuilder {
    /// A builder caching `cached_k` suggestions a node, the tree `max_prefix_chars` deep.
    pub fn new(cached_k: usize, max_prefix_chars: usize) -> Result<TrieBuilder, BuildError> {
        if cached_k == 0 || cached_k > MAX_K {
            return Err(BuildError::InvalidCachedK { cached_k, max: MAX_K });
        }
        if max_prefix_chars == 0 || max_prefix_chars > MAX_PREFIX_CHARS_LIMIT {
            return Err(BuildError::InvalidMaxPrefixChars {
                max_prefix_chars,
                max: MAX_PREFIX_CHARS_LIMIT,
            });
        }
        Ok(TrieBuilder { cached_k, max_prefix_chars, text: String::new(), records: Vec::new() })
    }

    /// Adds a query with its weight. The same key pushed twice is summed; the display of
    /// the heavier push wins (equal weights: the smaller display string).
    pub fn push(&mut self, query: &Query, weight: u64) -> Result<(), BuildError> {
        self.push_normalized(query.key(), query.display(), weight)
    }

    /// [`TrieBuilder::push`] for a key and display already normalised (by [`Query`]).
    pub(crate) fn push_normalized(
        &mut self,
        key: &str,
        display: &str,
        weight: u64,
    ) -> Result<(), BuildError> {
        let too_large =
            || BuildError::TooLarge { queries: self.records.len(), text_bytes: self.text.len() };
        if self.records.len() >= u32::MAX as usize - 1
            || self.text.len() + key.len() + display.len() >= u32::MAX as usize
        {
            return Err(too_large());
        }
        let key_start = self.text.len() as u32;
        self.text.push_str(key);
        let (display_start, display_len) = if display == key {
            (u32::MAX, 0)
        } else {
            let start = self.text.len() as u32;
            self.text.push_str(display);
            (start, display.len() as u32)
        };
        let mut head = [0u8; 8];
        let take = key.len().min(8);
        head[..take].copy_from_slice(&key.as_bytes()[..take]);
        self.records.push(Record {
            head: u64::from_be_bytes(head),
            key_start,
            key_len: key.len() as u32,
            display_start,
            display_len,
            weight: weight.min(MAX_WEIGHT) as u32,
        });
        Ok(())
    }

    /// Queries pushed so far (before merging equal keys).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Sorts, merges equal keys, lays out the nodes and computes every node's top k.
    pub fn build(mut self) -> Trie {
        let text = std::mem::take(&mut self.text);
        let key_of = |record: &Record| {
            &text.as_bytes()
                [record.key_start as usize..(record.key_start + record.key_len) as usize]
        };
        self.records
            .sort_unstable_by(|a, b| a.head.cmp(&b.head).then_with(|| key_of(a).cmp(key_of(b))));
        let mut trie = Trie::empty();
        trie.cached_k = self.cached_k as u8;
        trie.max_prefix_chars = self.max_prefix_chars as u8;
        trie.key_text.reserve(text.len());
        trie.key_ends = Vec::with_capacity(self.records.len() + 1);
        trie.key_ends.push(0);
        trie.weights.reserve(self.records.len());
        let mut display_weight = 0u32;
        for record in &self.records {
            let key =
                &text[record.key_start as usize..(record.key_start + record.key_len) as usize];
            let display = if record.display_start == u32::MAX {
                key
            } else {
                let start = record.display_start as usize;
                &text[start..start + record.display_len as usize]
            };
            let last = trie.weights.len().wrapping_sub(1);
            if !trie.is_empty() && trie.key(last) == key {
                let merged = trie.weights[last].saturating_add(record.weight);
                let heavier = record.weight > display_weight
                    || (record.weight == display_weight && display < trie.display(last));
                if heavier {
                    trie.set_last_display(last, key, display);
                    display_weight = record.weight;
                }
                trie.weights[last] = merged;
                continue;
            }
            trie.key_text.push_str(key);
            trie.key_ends.push(trie.key_text.len() as u32);
            trie.weights.push(record.weight);
            display_weight = record.weight;
            if display != key {
                trie.display_ids.push(last.wrapping_add(1) as u32);
                trie.display_text.push_str(display);
                trie.display_ends.push(trie.display_text.len() as u32);
            }
        }
        drop(self.records);
        drop(text);
        let (node_hi, node_depth) = trie.layout_nodes();
        trie.mark_big(&node_hi);
        trie.compute_top(&node_hi, &node_depth);
        trie.shrink();
        trie
    }
}

impl Trie {
    /// Replaces (or adds, or removes) the display side entry of the last query.
    fn set_last_display(&mut self, id: usize, key: &str, display: &str) {
        if self.display_ids.last() == Some(&(id as u32)) {
            self.display_ids.pop();
            self.display_ends.pop();
            let start = self.display_ends.last().copied().unwrap_or(0) as usize;
            self.display_text.truncate(start);
        }
        if display != key {
            self.display_ids.push(id as u32);
            self.display_text.push_str(display);
            self.display_ends.push(self.display_text.len() as u32);
        }
    }

    /// Byte length of the first `max_prefix_chars` characters of query `id`'s key: the
    /// depth below which the tree does not go.
    fn depth_cap(&self, id: usize) -> usize {
        let key = self.key(id);
        key.char_indices().nth(self.max_prefix_chars()).map_or(key.len(), |(index, _)| index)
    }

    /// Breadth-first layout: node i's children are `first_child[i]..first_child[i + 1]`.
    /// Returns each node's end id and byte depth, which only the build needs.
    fn layout_nodes(&mut self) -> (Vec<u32>, Vec<u16>) {
        self.node_lo.clear();
        self.node_byte.clear();
        self.node_first_child.clear();
        if self.is_empty() {
            self.node_first_child.push(0);
            return (Vec::new(), Vec::new());
        }
        let mut node_hi: Vec<u32> = vec![self.len() as u32];
        // The depth each node's label starts at (its parent's depth): the common prefix
        // is only compared from there.
        let mut label_start: Vec<u16> = vec![0];
        let mut node_depth: Vec<u16> = Vec::new();
        self.node_lo.push(0);
        self.node_byte.push(0);
        let mut index = 0;
        while index < self.node_lo.len() {
            let (lo, hi) = (self.node_lo[index] as usize, node_hi[index] as usize);
            self.node_first_child.push(self.node_lo.len() as u32);
            // The depth limit is read off the last key: the first may be a short query
            // ending right here, and the limit is about where longer ones stop.
            let cap = self.depth_cap(hi - 1);
            let depth = self.subtree_depth(lo, hi, usize::from(label_start[index])).min(cap);
            node_depth.push(depth as u16);
            if depth < cap {
                let mut start = lo;
                if self.key(start).len() == depth {
                    start += 1; // the query that ends at this node
                }
                while start < hi {
                    let byte = self.key(start).as_bytes()[depth];
                    let end = partition(start, hi, |id| self.key(id).as_bytes()[depth] <= byte);
                    self.node_lo.push(start as u32);
                    self.node_byte.push(byte);
                    node_hi.push(end as u32);
                    label_start.push(depth as u16);
                    start = end;
                }
            }
            index += 1;
        }
        self.node_first_child.push(self.node_lo.len() as u32);
        (node_hi, node_depth)
    }

    /// Marks nodes whose subtree holds more than `cached_k` queries and indexes them.
    fn mark_big(&mut self, node_hi: &[u32]) {
        let nodes = self.node_count();
        self.big_bits = vec![0; nodes.div_ceil(64)];
        let k = self.cached_k();
        for (node, (hi, lo)) in node_hi.iter().zip(&self.node_lo).enumerate() {
            if (hi - lo) as usize > k {
                self.big_bits[node / 64] |= 1 << (node % 64);
            }
        }
        self.index_big();
    }

    /// Rebuilds the rank index over `big_bits` (also after loading a snapshot).
    pub(crate) fn index_big(&mut self) -> usize {
        self.big_rank = Vec::with_capacity(self.big_bits.len());
        let mut total = 0u32;
        for word in &self.big_bits {
            self.big_rank.push(total);
            total += word.count_ones();
        }
        total as usize
    }

    /// Bottom-up (children have larger indices than parents): each big node's best k are
    /// the best of its own query (if one ends there) and its children's best k.
    fn compute_top(&mut self, node_hi: &[u32], node_depth: &[u16]) {
        let k = self.cached_k();
        let big_count = self.big_rank.last().copied().unwrap_or(0) as usize
            + self.big_bits.last().map_or(0, |word| word.count_ones() as usize);
        self.top = vec![0; big_count * k];
        let mut candidates: Vec<u32> = Vec::new();
        let mut child_best: Vec<u32> = Vec::with_capacity(k);
        for node in (0..self.node_count()).rev() {
            if !self.is_big(node) {
                continue;
            }
            candidates.clear();
            let (lo, hi) = (self.node_lo[node] as usize, node_hi[node] as usize);
            if self.children(node).is_empty() {
                // A leaf at the depth limit holding many queries: rank them all.
                self.rank_range(lo, hi, k, &mut candidates);
            } else if self.key(lo).len() == usize::from(node_depth[node]) {
                candidates.push(lo as u32);
            }
            for child in self.children(node) {
                if self.is_big(child) {
                    let slot = self.big_slot(child) * k;
                    candidates.extend_from_slice(&self.top[slot..slot + k]);
                } else {
                    child_best.clear();
                    let child_lo = self.node_lo[child] as usize;
                    self.rank_range(child_lo, node_hi[child] as usize, k, &mut child_best);
                    candidates.extend_from_slice(&child_best);
                }
            }
            self.sort_ranked(&mut candidates);
            let slot = self.big_slot(node) * k;
            self.top[slot..slot + k].copy_from_slice(&candidates[..k]);
        }
    }

    fn shrink(&mut self) {
        self.key_text.shrink_to_fit();
        self.key_ends.shrink_to_fit();
        self.weights.shrink_to_fit();
        self.display_ids.shrink_to_fit();
        self.display_ends.shrink_to_fit();
        self.display_text.shrink_to_fit();
        self.node_lo.shrink_to_fit();
        self.node_first_child.shrink_to_fit();
        self.node_byte.shrink_to_fit();
        self.big_bits.shrink_to_fit();
        self.big_rank.shrink_to_fit();
        self.top.shrink_to_fit();
    }

    /// Checks every invariant lookups index by, so that a trie read from disk can never
    /// make a lookup panic or loop. Returns the first broken one.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let queries = self.len();
        if self.cached_k == 0 || usize::from(self.cached_k) > MAX_K {
            return Err(format!("cached k {} outside 1..={MAX_K}", self.cached_k));
        }
        if self.max_prefix_chars == 0 || usize::from(self.max_prefix_chars) > MAX_PREFIX_CHARS_LIMIT
        {
            return Err(format!("max prefix chars {}", self.max_prefix_chars));
        }
        check_offsets("key", &self.key_ends, &self.key_text, queries + 1)?;
        for id in 1..queries {
            if self.key(id - 1) >= self.key(id) {
                return Err(format!("keys {} and {id} out of order", id - 1));
            }
        }
        check_offsets(
            "display",
            &self.display_ends,
            &self.display_text,
            self.display_ids.len() + 1,
        )?;
        if self.display_ids.windows(2).any(|pair| pair[0] >= pair[1])
            || self.display_ids.last().is_some_and(|id| *id as usize >= queries)
        {
            return Err("display ids not increasing within the query count".into());
        }
        self.validate_nodes()
    }

    fn validate_nodes(&self) -> Result<(), String> {
        let (queries, nodes) = (self.len(), self.node_count());
        if (queries == 0) != (nodes == 0)
            || self.node_byte.len() != nodes
            || self.node_first_child.len() != nodes + 1
            || self.big_bits.len() != nodes.div_ceil(64)
        {
            return Err("node array lengths disagree".into());
        }
        if nodes == 0 {
            return if self.top.is_empty() { Ok(()) } else { Err("top ids without nodes".into()) };
        }
        if self.node_lo[0] != 0 || self.node_first_child[nodes] as usize != nodes {
            return Err("root or last child index wrong".into());
        }
        let mut node_hi = vec![0u32; nodes];
        node_hi[0] = queries as u32;
        for node in 0..nodes {
            let (first, end) = (self.node_first_child[node], self.node_first_child[node + 1]);
            if first > end || (first as usize) <= node && first != end {
                return Err(format!("node {node} has children before it"));
            }
            let (lo, hi) = (self.node_lo[node], node_hi[node]);
            if lo >= hi {
                return Err(format!("node {node} has an empty id range"));
            }
            let mut previous = lo;
            for child in first as usize..end as usize {
                let child_lo = self.node_lo[child];
                if child_lo < previous
                    || child_lo >= hi
                    || (child > first as usize && child_lo == previous)
                {
                    return Err(format!("child {child} of node {node} outside its range"));
                }
                if child > first as usize {
                    node_hi[child - 1] = child_lo;
                }
                previous = child_lo;
            }
            if end > first {
                node_hi[end as usize - 1] = hi;
            }
        }
        let mut big = 0usize;
        for (node, (hi, lo)) in node_hi.iter().zip(&self.node_lo).enumerate() {
            let is_big = (hi - lo) as usize > self.cached_k();
            if is_big != self.is_big(node) {
                return Err(format!("node {node} big flag disagrees with its size"));
            }
            big += usize::from(is_big);
        }
        if self.top.len() != big * self.cached_k()
            || self.top.iter().any(|id| *id as usize >= queries)
        {
            return Err("top ids do not match the big nodes".into());
        }
        Ok(())
    }
}

/// `ends` must start at 0, rise, end at the text's length, and cut it at char boundaries.
fn check_offsets(what: &str, ends: &[u32], text: &str, expected_len: usize) -> Result<(), String> {
    if ends.len() != expected_len || ends.first() != Some(&0) {
        return Err(format!("{what} offsets have the wrong length"));
    }
    if ends.windows(2).any(|pair| pair[0] > pair[1])
        || ends.last().map(|end| *end as usize) != Some(text.len())
        || ends.iter().any(|end| !text.is_char_boundary(*end as usize))
    {
        return Err(format!("{what} offsets are not increasing char boundaries"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::normalize::Prefix;

    fn build(entries: &[(&str, u64)], cached_k: usize, max_prefix_chars: usize) -> Trie {
        let mut builder = TrieBuilder::new(cached_k, max_prefix_chars).expect("valid parameters");
        for (text, weight) in entries {
            builder.push(&Query::parse(text).expect("valid query"), *weight).expect("fits");
        }
        let trie = builder.build();
        assert_eq!(trie.validate(), Ok(()));
        trie
    }

    fn queries(trie: &Trie, prefix: &str, k: usize) -> Vec<String> {
        let prefix = Prefix::parse(prefix, 60).expect("valid prefix");
        trie.top_k(prefix.as_key(), k).into_iter().map(|suggestion| suggestion.query).collect()
    }

    /// The reference: scan every query, sort by weight descending then key ascending.
    fn brute_force(entries: &[(String, u64)], prefix: &str, k: usize) -> Vec<(String, u64)> {
        let mut merged: BTreeMap<String, (u64, u64, String)> = BTreeMap::new();
        for (text, weight) in entries {
            let query = Query::parse(text).expect("valid query");
            let slot = merged.entry(query.key().to_owned()).or_insert((0, 0, String::new()));
            slot.0 = (slot.0 + weight).min(MAX_WEIGHT);
            if slot.2.is_empty()
                || *weight > slot.1
                || (*weight == slot.1 && query.display() < slot.2.as_str())
            {
                slot.1 = *weight;
                slot.2 = query.display().to_owned();
            }
        }
        let mut hits: Vec<(&String, &(u64, u64, String))> =
            merged.iter().filter(|(key, _)| key.starts_with(prefix)).collect();
        hits.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        hits.into_iter()
            .take(k)
            .map(|(_, (weight, _, display))| (display.clone(), *weight))
            .collect()
    }

    #[test]
    fn the_book_example_ranks_by_frequency() {
        // Book figure 13-2/13-5: tree 10, try 29, true 35, toy 14, wish 25, win 50.
        let trie = build(
            &[("tree", 10), ("try", 29), ("true", 35), ("toy", 14), ("wish", 25), ("win", 50)],
            2,
            50,
        );
        assert_eq!(queries(&trie, "t", 2), vec!["true", "try"]);
        assert_eq!(queries(&trie, "w", 2), vec!["win", "wish"]);
        assert_eq!(queries(&trie, "tr", 5), vec!["true", "try"], "k is capped at cached_k");
        assert_eq!(queries(&trie, "x", 2), Vec::<String>::new());
        assert_eq!(queries(&trie, "trees", 2), Vec::<String>::new());
    }

    #[test]
    fn equal_weights_break_ties_by_query_ascending() {
        let trie = build(&[("cb", 3), ("ca", 3), ("cc", 3), ("c", 3)], 10, 50);
        assert_eq!(queries(&trie, "c", 10), vec!["c", "ca", "cb", "cc"]);
    }

    #[test]
    fn a_trailing_space_does_not_suggest_longer_words() {
        let trie =
            build(&[("carpet", 100), ("car", 50), ("car rental", 10), ("car wash", 5)], 5, 50);
        assert_eq!(queries(&trie, "car", 5), vec!["carpet", "car", "car rental", "car wash"]);
        assert_eq!(queries(&trie, "car ", 5), vec!["car rental", "car wash"]);
    }

    #[test]
    fn unicode_prefixes_match_accents_cjk_emoji_and_case() {
        let trie = build(
            &[
                ("Café de Flore", 9),
                ("cafe\u{301} noir", 8),
                ("東京タワー", 7),
                ("東京駅", 6),
                ("pizza 🍕", 5),
                ("Straße", 4),
            ],
            5,
            50,
        );
        assert_eq!(queries(&trie, "CAFÉ", 5), vec!["Café de Flore", "café noir"]);
        assert_eq!(queries(&trie, "cafe\u{301}", 5), vec!["Café de Flore", "café noir"]);
        assert_eq!(queries(&trie, "東京", 5), vec!["東京タワー", "東京駅"]);
        assert_eq!(queries(&trie, "pizza 🍕", 5), vec!["pizza 🍕"]);
        assert_eq!(queries(&trie, "STRASS", 5), vec!["Straße"]);
    }

    #[test]
    fn the_display_of_a_merged_key_is_the_heavier_push() {
        let trie = build(&[("paris", 2), ("Paris", 5), ("PARIS", 1)], 5, 50);
        assert_eq!(trie.top_k("p", 5), vec![Suggestion { query: "Paris".into(), weight: 8 }]);
    }

    #[test]
    fn equal_weight_spellings_of_one_key_display_the_smaller_string() {
        // Regression (found by the brute-force property): the sort is unstable, so the
        // display of equal-weight pushes must not depend on push order.
        for order in [[("béé", 0), ("Béé", 0)], [("Béé", 0), ("béé", 0)]] {
            assert_eq!(queries(&build(&order, 1, 1), "b", 1), vec!["Béé"]);
        }
    }

    #[test]
    fn prefixes_past_the_depth_limit_are_still_answered_exactly() {
        let trie = build(&[("abcdef", 1), ("abcdeg", 2), ("abcxyz", 3), ("abc", 9)], 2, 3);
        assert_eq!(queries(&trie, "abcde", 2), vec!["abcdeg", "abcdef"]);
        assert_eq!(queries(&trie, "abcdef", 2), vec!["abcdef"]);
        assert_eq!(queries(&trie, "abcq", 2), Vec::<String>::new());
        assert_eq!(queries(&trie, "ab", 2), vec!["abc", "abcxyz"]);
    }

    #[test]
    fn an_empty_trie_answers_nothing() {
        let trie = TrieBuilder::new(5, 50).expect("valid parameters").build();
        assert!(trie.is_empty());
        assert!(trie.top_k("a", 5).is_empty());
        assert_eq!(trie.validate(), Ok(()));
    }

    #[test]
    fn bad_build_parameters_are_refused() {
        assert_eq!(
            TrieBuilder::new(0, 50).err(),
            Some(BuildError::InvalidCachedK { cached_k: 0, max: MAX_K })
        );
        assert_eq!(
            TrieBuilder::new(11, 50).err(),
            Some(BuildError::InvalidCachedK { cached_k: 11, max: MAX_K })
        );
        assert!(matches!(TrieBuilder::new(5, 0), Err(BuildError::InvalidMaxPrefixChars { .. })));
    }

    #[test]
    fn filtered_lookups_skip_refused_keys_and_refill_from_the_cache() {
        let trie =
            build(&[("a1", 9), ("a2", 8), ("a3", 7), ("a4", 6), ("a5", 5), ("a6", 4)], 4, 50);
        let kept: Vec<String> = trie
            .top_k_filtered("a", 2, |key| key != "a1")
            .into_iter()
            .map(|suggestion| suggestion.query)
            .collect();
        assert_eq!(kept, vec!["a2", "a3"]);
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![Just("a"), Just("b"), Just("é"), Just("字"), Just(" "), Just("B")],
            1..8,
        )
        .prop_map(|parts| parts.concat())
        .prop_filter("a query needs a non-space", |text| !text.trim().is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn filtered_top_k_agrees_with_a_filtered_brute_force_scan(
            entries in proptest::collection::vec((text(), 0u64..6), 0..60),
            blocked in proptest::collection::vec(text(), 0..15),
            prefixes in proptest::collection::vec(text(), 1..10),
            cached_k in 1usize..=MAX_K,
        ) {
            let borrowed: Vec<(&str, u64)> = entries.iter().map(|(text, weight)| (text.as_str(), *weight)).collect();
            let trie = build(&borrowed, cached_k, 8);
            let blocked: std::collections::HashSet<String> = blocked
                .iter()
                .filter_map(|text| Query::parse(text).ok().map(|query| query.key().to_owned()))
                .collect();
            let kept: Vec<(String, u64)> = entries
                .iter()
                .filter(|(text, _)| Query::parse(text).is_ok_and(|query| !blocked.contains(query.key())))
                .cloned()
                .collect();
            for raw in prefixes.iter().chain(entries.iter().map(|(text, _)| text).take(5)) {
                let Ok(prefix) = Prefix::parse(raw, 60) else { continue };
                let got: Vec<(String, u64)> = trie
                    .top_k_filtered(prefix.as_key(), cached_k, |key| !blocked.contains(key))
                    .into_iter()
                    .map(|s| (s.query, s.weight))
                    .collect();
                prop_assert_eq!(got, brute_force(&kept, prefix.as_key(), cached_k), "prefix {:?}", raw);
            }
        }

        #[test]
        fn top_k_agrees_with_a_brute_force_scan(
            entries in proptest::collection::vec((text(), 0u64..6), 0..60),
            prefixes in proptest::collection::vec(text(), 1..20),
            cached_k in 1usize..=MAX_K,
            max_prefix_chars in 1usize..=8,
        ) {
            let borrowed: Vec<(&str, u64)> = entries.iter().map(|(text, weight)| (text.as_str(), *weight)).collect();
            let trie = build(&borrowed, cached_k, max_prefix_chars);
            let mut all_prefixes = prefixes.clone();
            all_prefixes.extend(entries.iter().map(|(text, _)| text.chars().take(3).collect::<String>()));
            // Shape: every query within the depth limit has a node of its own, so lookups
            // take the cached path and never the scan past the limit.
            for (key, _, _) in trie.entries() {
                if key.chars().count() <= max_prefix_chars {
                    prop_assert!(trie.locate(key.as_bytes()).is_some_and(|at| at.node.is_some()), "{:?}", key);
                }
            }
            for raw in all_prefixes {
                let Ok(prefix) = Prefix::parse(&raw, 60) else { continue };
                for k in [1, cached_k, MAX_K] {
                    let got: Vec<(String, u64)> =
                        trie.top_k(prefix.as_key(), k).into_iter().map(|s| (s.query, s.weight)).collect();
                    prop_assert_eq!(got, brute_force(&entries, prefix.as_key(), k.min(cached_k)), "prefix {:?}", raw);
                }
            }
        }
    }
}
