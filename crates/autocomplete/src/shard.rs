//! Sharding of book 13.3.5: prefix ranges balanced by historical query mass.
//!
//! A naive split by first letter ("a–m", "n–z", or 26 shards) is badly skewed: far more
//! English words start with "s" than with "x". A [`ShardMap`] instead cuts the sorted key
//! space where the cumulative weight (how often queries were searched, from the last
//! aggregation) crosses each 1/N of the total, so each shard serves about the same load.
//! Boundaries are the shortest strings separating the two neighbouring keys (often one or
//! two characters), and shard `i` holds keys in `[boundary[i-1], boundary[i])`.
//!
//! A prefix maps to the shards its key range touches ([`ShardMap::route`]): one shard for
//! almost every prefix, a few for short prefixes that straddle a boundary; their answers
//! merge exactly with [`merge_top_k`], since each shard's top k of its own keys contains
//! its share of the global top k.

use std::ops::Range;

use crate::error::{BuildError, ShardError};
use crate::normalize::fold;
use crate::trie::{Suggestion, Trie, TrieBuilder};

/// Most shards a map may have: routing scans boundaries in a sorted `Vec`.
pub const MAX_SHARDS: usize = 1024;

/// Sorted boundaries between shards.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardMap {
    /// `boundaries[i]` is the first key of shard `i + 1`.
    boundaries: Vec<String>,
}

impl ShardMap {
    /// A map from explicit boundaries (each non-empty, strictly increasing).
    pub fn from_boundaries(boundaries: Vec<String>) -> Result<ShardMap, ShardError> {
        if boundaries.len() + 1 > MAX_SHARDS {
            return Err(ShardError::InvalidShardCount {
                shards: boundaries.len() + 1,
                max: MAX_SHARDS,
            });
        }
        for (index, boundary) in boundaries.iter().enumerate() {
            if boundary.is_empty() || (index > 0 && boundaries[index - 1] >= *boundary) {
                return Err(ShardError::UnsortedBoundaries { index });
            }
        }
        Ok(ShardMap { boundaries })
    }

    /// One shard holding every key: an unsharded node.
    pub fn whole() -> ShardMap {
        ShardMap { boundaries: Vec::new() }
    }

    /// `shards` shards balanced by the weights in `trie` (historical load).
    pub fn balanced(trie: &Trie, shards: usize) -> Result<ShardMap, ShardError> {
        if shards == 0 || shards > MAX_SHARDS {
            return Err(ShardError::InvalidShardCount { shards, max: MAX_SHARDS });
        }
        let total: u128 = (0..trie.len()).map(|id| u128::from(trie.weight(id))).sum();
        let mut boundaries = Vec::with_capacity(shards - 1);
        let mut cumulative: u128 = 0;
        for id in 0..trie.len() {
            let next_cut = boundaries.len() as u128 + 1;
            // Cut before `id` once the mass so far reaches the next multiple of total/N,
            // choosing whichever side of `id` lands closer to the target.
            let target = total * next_cut / shards as u128;
            let weight = u128::from(trie.weight(id));
            if id > 0
                && next_cut < shards as u128
                && cumulative + weight / 2 >= target
                && cumulative > 0
            {
                boundaries.push(separator(trie.key(id - 1), trie.key(id)));
            }
            cumulative += weight;
        }
        ShardMap::from_boundaries(boundaries)
    }

    /// Shards in the map.
    pub fn shard_count(&self) -> usize {
        self.boundaries.len() + 1
    }

    /// The boundaries (first key of shards 1..).
    pub fn boundaries(&self) -> &[String] {
        &self.boundaries
    }

    /// The shard holding the key `key`.
    pub fn shard_of(&self, key: &str) -> usize {
        self.boundaries.partition_point(|boundary| boundary.as_str() <= key)
    }

    /// The shards whose keys can start with `prefix`: a contiguous run, usually one.
    pub fn route(&self, prefix: &str) -> Range<usize> {
        let first = self.shard_of(prefix);
        let straddled = self.boundaries[first..]
            .iter()
            .take_while(|boundary| boundary.starts_with(prefix))
            .count();
        first..first + straddled + 1
    }

    /// The weight of `trie`'s queries falling in each shard.
    pub fn mass(&self, trie: &Trie) -> Vec<u64> {
        let mut mass = vec![0u64; self.shard_count()];
        for (key, _, weight) in trie.entries() {
            mass[self.shard_of(key)] += weight;
        }
        mass
    }

    /// The trie of shard `index` alone: what a shard process serves (book 13.3.5), built
    /// without building the others.
    pub fn keep(&self, trie: &Trie, index: usize) -> Result<Trie, BuildError> {
        let mut builder = TrieBuilder::new(trie.cached_k(), trie.max_prefix_chars())?;
        for (key, display, weight) in trie.entries() {
            if self.shard_of(key) == index {
                builder.push_normalized(key, display, weight)?;
            }
        }
        Ok(builder.build())
    }

    /// A 64-bit digest of the boundaries: shards send it with every answer so a router
    /// holding another map (a shard restarted on other data) notices instead of merging
    /// lists cut by different maps.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for boundary in &self.boundaries {
            hasher.update(boundary.as_bytes());
            hasher.update(&[0xff]); // never inside UTF-8, so boundaries cannot run together
        }
        hasher.digest()
    }

    /// One trie per shard, holding that shard's queries of `trie`.
    pub fn split(&self, trie: &Trie) -> Result<Vec<Trie>, BuildError> {
        let mut builders = (0..self.shard_count())
            .map(|_| TrieBuilder::new(trie.cached_k(), trie.max_prefix_chars()))
            .collect::<Result<Vec<_>, _>>()?;
        for (key, display, weight) in trie.entries() {
            builders[self.shard_of(key)].push_normalized(key, display, weight)?;
        }
        Ok(builders.into_iter().map(TrieBuilder::build).collect())
    }
}

/// Which shard of which map a shard process serves: an index known to be in the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlacement {
    index: usize,
    map: ShardMap,
}

impl ShardPlacement {
    /// Shard `index` of `map`.
    pub fn new(index: usize, map: ShardMap) -> Result<ShardPlacement, ShardError> {
        if index >= map.shard_count() {
            return Err(ShardError::IndexOutOfRange { index, shards: map.shard_count() });
        }
        Ok(ShardPlacement { index, map })
    }

    /// Shard `index` of `shards` balanced over `trie`'s weights, which must have enough
    /// distinct keys for every shard to hold some.
    pub fn balanced(
        trie: &Trie,
        index: usize,
        shards: usize,
    ) -> Result<ShardPlacement, ShardError> {
        let map = ShardMap::balanced(trie, shards)?;
        if map.shard_count() != shards {
            return Err(ShardError::TooFewQueries { shards, made: map.shard_count() });
        }
        ShardPlacement::new(index, map)
    }

    /// This shard's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The map it belongs to.
    pub fn map(&self) -> &ShardMap {
        &self.map
    }

    /// This shard's part of `trie`.
    pub fn keep(&self, trie: &Trie) -> Result<Trie, BuildError> {
        self.map.keep(trie, self.index)
    }
}

/// The shortest string `s` (cut at a character boundary) with `before < s <= after`.
fn separator(before: &str, after: &str) -> String {
    let common = before.bytes().zip(after.bytes()).take_while(|(a, b)| a == b).count();
    let mut end = (common + 1).min(after.len());
    while !after.is_char_boundary(end) {
        end += 1;
    }
    after[..end].to_owned()
}

/// Merges per-shard top-k lists (each ranked) into the global top `k`, ranked like a
/// trie: weight descending, then matching key ascending (shards hold disjoint keys, so
/// there are no duplicates).
pub fn merge_top_k(lists: impl IntoIterator<Item = Vec<Suggestion>>, k: usize) -> Vec<Suggestion> {
    let mut all: Vec<(String, Suggestion)> = lists
        .into_iter()
        .flatten()
        .map(|suggestion| (fold(&suggestion.query).into_owned(), suggestion))
        .collect();
    all.sort_by(|(a_key, a), (b_key, b)| b.weight.cmp(&a.weight).then_with(|| a_key.cmp(b_key)));
    all.into_iter().take(k).map(|(_, suggestion)| suggestion).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Query;

    fn trie(entries: &[(&str, u64)]) -> Trie {
        let mut builder = TrieBuilder::new(5, 50).expect("valid parameters");
        for (text, weight) in entries {
            builder.push(&Query::parse(text).expect("valid query"), *weight).expect("fits");
        }
        builder.build()
    }

    #[test]
    fn boundaries_must_be_sorted_and_non_empty() {
        assert!(ShardMap::from_boundaries(vec!["b".into(), "m".into()]).is_ok());
        assert_eq!(
            ShardMap::from_boundaries(vec!["m".into(), "b".into()]),
            Err(ShardError::UnsortedBoundaries { index: 1 })
        );
        assert_eq!(
            ShardMap::from_boundaries(vec![String::new()]),
            Err(ShardError::UnsortedBoundaries { index: 0 })
        );
    }

    #[test]
    fn routing_covers_every_shard_a_prefix_can_reach() {
        let map =
            ShardMap::from_boundaries(vec!["c".into(), "sa".into(), "sm".into()]).expect("valid");
        assert_eq!(map.route("a"), 0..1);
        assert_eq!(map.route("c"), 1..2);
        assert_eq!(map.route("s"), 1..4, "'s' straddles 'sa' and 'sm'");
        assert_eq!(map.route("sb"), 2..3);
        assert_eq!(map.route("zz"), 3..4);
    }

    #[test]
    fn a_heavy_letter_gets_shards_of_its_own() {
        let entries: Vec<(String, u64)> =
            ["apple", "sea", "see", "seed", "shop", "sky", "sun", "zoo"]
                .iter()
                .map(|word| (word.to_string(), if word.starts_with('s') { 100 } else { 10 }))
                .collect();
        let borrowed: Vec<(&str, u64)> =
            entries.iter().map(|(text, weight)| (text.as_str(), *weight)).collect();
        let trie = trie(&borrowed);
        let map = ShardMap::balanced(&trie, 3).expect("balanced");
        assert!(map.boundaries().iter().all(|boundary| boundary.starts_with('s')), "{map:?}");
        assert_eq!(map.mass(&trie).iter().sum::<u64>(), 620);
    }

    #[test]
    fn keeping_one_shard_equals_that_piece_of_the_split() {
        let words = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi"];
        let entries: Vec<(&str, u64)> =
            words.iter().enumerate().map(|(rank, word)| (*word, 10 + rank as u64)).collect();
        let trie = trie(&entries);
        let map = ShardMap::balanced(&trie, 3).expect("balanced");
        let split = map.split(&trie).expect("split");
        for (index, piece) in split.iter().enumerate() {
            assert_eq!(&map.keep(&trie, index).expect("kept"), piece, "shard {index}");
        }
        assert_eq!(split.iter().map(Trie::len).sum::<usize>(), words.len());
    }

    #[test]
    fn fingerprints_tell_maps_apart() {
        let map = |boundaries: &[&str]| {
            ShardMap::from_boundaries(boundaries.iter().map(|b| b.to_string()).collect())
                .expect("valid")
        };
        assert_eq!(map(&["c", "m"]).fingerprint(), map(&["c", "m"]).fingerprint());
        assert_ne!(map(&["c", "m"]).fingerprint(), map(&["c", "n"]).fingerprint());
        assert_ne!(map(&["cm"]).fingerprint(), map(&["c", "m"]).fingerprint());
    }

    #[test]
    fn separators_are_the_shortest_string_between_neighbours() {
        assert_eq!(separator("apple", "apricot"), "apr");
        assert_eq!(separator("car", "carpet"), "carp");
        assert_eq!(separator("東京", "東北"), "東北");
    }
}
