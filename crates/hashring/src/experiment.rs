//! The book's claims, measured: pure functions returning tables, shared by the CLI, the
//! console and the tests.
//!
//! - (a) [`movement`]: keys moved when a node joins — modulo ≈ n/(n+1), the ring ≈ 1/(n+1)
//!   (the issue writes (n−1)/n for modulo; n/(n+1) is the exact expectation for n → n+1).
//! - (b) [`load_vs_vnodes`]: the standard deviation of load against virtual nodes per node.
//! - (c) [`affected_vs_brute_force`]: [`Ring::affected_ranges`] against remapping every key.

use std::collections::HashMap;
use std::fmt;

use crate::HashringError;
use crate::hash::Xxh3;
use crate::node::{Node, NodeId};
use crate::placement::{Algorithm, PlacementParams, build};
use crate::ranges::{Change, RangeIndex};
use crate::ring::{DEFAULT_VNODES, Ring};

/// The virtual-node counts of table (b): the book's figure, then the default.
pub const LOAD_VNODE_COUNTS: [u32; 6] = [1, 10, 100, 200, 1000, DEFAULT_VNODES];

/// Inputs shared by the experiments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExperimentParams {
    /// Keys hashed per measurement (1 000 000 in the CLI and README).
    pub keys: u64,
    /// Nodes before the change.
    pub nodes: usize,
    /// Picks node ids and keys; the same seed gives the same tables.
    pub seed: u64,
    /// Node sets averaged over in table (b).
    pub seeds: u64,
    /// Virtual nodes per node for tables (a) and (c), and the bounded-load ring.
    pub vnodes: u32,
    /// Bounded-loads slack ε.
    pub epsilon: f64,
}

impl Default for ExperimentParams {
    fn default() -> Self {
        Self {
            keys: 1_000_000,
            nodes: 10,
            seed: 1,
            seeds: 10,
            vnodes: DEFAULT_VNODES,
            epsilon: crate::bounded::DEFAULT_EPSILON,
        }
    }
}

/// `count` nodes of weight 1 whose ids depend on `seed`: `"s{seed}-node-{i}"`.
pub fn node_set(count: usize, seed: u64) -> Result<Vec<Node>, HashringError> {
    (0..count).map(|i| node_for(seed, i)).collect()
}

fn node_for(seed: u64, index: usize) -> Result<Node, HashringError> {
    Node::new(&format!("s{seed}-node-{index}"))
}

/// Key number `index` of experiment seed `seed` (8 bytes; the hash does the mixing).
pub fn key_bytes(seed: u64, index: u64) -> [u8; 8] {
    (seed << 40 ^ index).to_le_bytes()
}

/// Table (a): keys moved when node n+1 joins, per algorithm.
#[derive(Debug, Clone, PartialEq)]
pub struct MovementTable {
    /// Nodes before the change.
    pub nodes: usize,
    /// Keys hashed.
    pub keys: u64,
    /// One row per algorithm.
    pub rows: Vec<MovementRow>,
}

/// One algorithm's row in table (a).
#[derive(Debug, Clone, PartialEq)]
pub struct MovementRow {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Fraction of keys whose node changed.
    pub moved: f64,
    /// What theory expects: n/(n+1) for modulo, 1/(n+1) for the others.
    pub expected: f64,
    /// Fraction of keys that moved to a node other than the new one (0 when minimal).
    pub moved_elsewhere: f64,
    /// Busiest node's keys over the mean, before the change.
    pub max_over_mean: f64,
}

/// Measures table (a).
pub fn movement(params: &ExperimentParams) -> Result<MovementTable, HashringError> {
    let before_nodes = node_set(params.nodes, params.seed)?;
    let joining = node_for(params.seed, params.nodes)?;
    let mut after_nodes = before_nodes.clone();
    after_nodes.push(joining.clone());
    let placement = PlacementParams { vnodes: params.vnodes, epsilon: params.epsilon };
    let n = params.nodes as f64;
    let mut rows = Vec::with_capacity(Algorithm::ALL.len());
    for algorithm in Algorithm::ALL {
        let mut before = build(algorithm, placement, &before_nodes)?;
        let mut after = build(algorithm, placement, &after_nodes)?;
        let (mut moved, mut elsewhere) = (0u64, 0u64);
        let mut loads: HashMap<NodeId, u64> = HashMap::new();
        for index in 0..params.keys {
            let key = key_bytes(params.seed, index);
            let (Some(old), Some(new)) = (before.place(&key), after.place(&key)) else {
                continue;
            };
            if old != new {
                moved += 1;
                if new != joining.id() {
                    elsewhere += 1;
                }
            }
            *loads.entry(old.clone()).or_default() += 1;
        }
        let keys = params.keys.max(1) as f64;
        rows.push(MovementRow {
            algorithm,
            moved: moved as f64 / keys,
            expected: if algorithm == Algorithm::Modulo { n / (n + 1.0) } else { 1.0 / (n + 1.0) },
            moved_elsewhere: elsewhere as f64 / keys,
            max_over_mean: max_over_mean(loads.values().copied(), params.nodes),
        });
    }
    Ok(MovementTable { nodes: params.nodes, keys: params.keys, rows })
}

fn max_over_mean(loads: impl Iterator<Item = u64>, nodes: usize) -> f64 {
    let loads: Vec<u64> = loads.collect();
    let total: u64 = loads.iter().sum();
    let max = loads.iter().copied().max().unwrap_or(0);
    if total == 0 {
        return 0.0;
    }
    max as f64 / (total as f64 / nodes.max(1) as f64)
}

/// Table (b): load spread against virtual nodes per node.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadTable {
    /// Nodes in each ring.
    pub nodes: usize,
    /// Keys hashed per ring.
    pub keys: u64,
    /// Node sets (seeds) averaged over.
    pub seeds: u64,
    /// One row per virtual-node count.
    pub rows: Vec<LoadRow>,
}

/// One virtual-node count's row in table (b).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRow {
    /// Virtual nodes per node.
    pub vnodes: u32,
    /// Standard deviation of keys per node, as % of the mean (averaged over seeds).
    pub std_dev_percent: f64,
    /// The same from exact arc lengths (no key-sampling noise).
    pub exact_std_dev_percent: f64,
    /// Busiest node over the mean, averaged over seeds.
    pub max_over_mean: f64,
    /// Busiest node over the mean, worst seed.
    pub worst_max_over_mean: f64,
}

/// Measures table (b) for [`LOAD_VNODE_COUNTS`].
pub fn load_vs_vnodes(params: &ExperimentParams) -> Result<LoadTable, HashringError> {
    let mut rows = Vec::with_capacity(LOAD_VNODE_COUNTS.len());
    let seeds = params.seeds.max(1);
    for vnodes in LOAD_VNODE_COUNTS {
        let (mut std_sum, mut exact_sum, mut max_sum, mut worst) = (0.0, 0.0, 0.0, 0.0f64);
        for offset in 0..seeds {
            let seed = params.seed + offset;
            let ring = Ring::from_nodes(vnodes, Xxh3, node_set(params.nodes, seed)?)?;
            let loads = key_loads(&ring, params.keys, seed);
            std_sum += relative_std_dev(&loads);
            let shares: Vec<f64> = ring.shares().into_iter().map(|(_, share)| share).collect();
            exact_sum += relative_std_dev(&shares);
            let ratio = max_over_mean(loads.iter().map(|&load| load as u64), params.nodes);
            max_sum += ratio;
            worst = worst.max(ratio);
        }
        let runs = seeds as f64;
        rows.push(LoadRow {
            vnodes,
            std_dev_percent: 100.0 * std_sum / runs,
            exact_std_dev_percent: 100.0 * exact_sum / runs,
            max_over_mean: max_sum / runs,
            worst_max_over_mean: worst,
        });
    }
    Ok(LoadTable { nodes: params.nodes, keys: params.keys, seeds, rows })
}

/// Keys per member (ordered by id) for `keys` keys of experiment seed `seed`.
pub fn key_loads(ring: &Ring<Xxh3>, keys: u64, seed: u64) -> Vec<f64> {
    let mut loads = vec![0.0; ring.len()];
    for index in 0..keys {
        let hash = ring.hash_key(&key_bytes(seed, index));
        if let Some(point) = ring.first_point_at_or_after(hash) {
            loads[ring.owner_index(point)] += 1.0;
        }
    }
    loads
}

/// Population standard deviation over the mean.
pub fn relative_std_dev(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    if mean == 0.0 {
        return 0.0;
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
    variance.sqrt() / mean
}

/// Table (c): affected ranges against brute-force remapping.
#[derive(Debug, Clone, PartialEq)]
pub struct AffectedTable {
    /// Nodes before the change.
    pub nodes: usize,
    /// Keys remapped.
    pub keys: u64,
    /// One row per change (a node added, a node removed).
    pub rows: Vec<AffectedRow>,
}

/// One change's row in table (c).
#[derive(Debug, Clone, PartialEq)]
pub struct AffectedRow {
    /// `"add <id>"` or `"remove <id>"`.
    pub change: String,
    /// Ranges returned by [`Ring::affected_ranges`].
    pub ranges: usize,
    /// Their total share of the circle.
    pub range_fraction: f64,
    /// Keys whose hash lies in a range.
    pub keys_in_ranges: u64,
    /// Keys whose owner changed (brute force).
    pub keys_moved: u64,
    /// Keys where the two disagree: moved but outside every range, inside a range but not
    /// moved, or moved between other owners than the range says. Exact means 0.
    pub mismatches: u64,
}

/// Measures table (c): one add and one remove on a ring of `params.nodes` nodes.
pub fn affected_vs_brute_force(params: &ExperimentParams) -> Result<AffectedTable, HashringError> {
    let nodes = node_set(params.nodes, params.seed)?;
    let ring = Ring::from_nodes(params.vnodes, Xxh3, nodes.clone())?;
    let mut changes = vec![Change::Add(node_for(params.seed, params.nodes)?)];
    if let Some(first) = nodes.first() {
        changes.push(Change::Remove(first.id().clone()));
    }
    let mut rows = Vec::with_capacity(changes.len());
    for change in changes {
        rows.push(compare_change(&ring, &change, params)?);
    }
    Ok(AffectedTable { nodes: params.nodes, keys: params.keys, rows })
}

/// Compares [`Ring::affected_ranges`] for `change` with remapping `params.keys` keys.
pub fn compare_change(
    ring: &Ring<Xxh3>,
    change: &Change,
    params: &ExperimentParams,
) -> Result<AffectedRow, HashringError> {
    let ranges = ring.affected_ranges(change)?;
    let mut next = ring.clone();
    next.apply(change.clone())?;
    let index = RangeIndex::new(&ranges);
    let (mut in_ranges, mut moved, mut mismatches) = (0u64, 0u64, 0u64);
    for key_index in 0..params.keys {
        let hash = ring.hash_key(&key_bytes(params.seed, key_index));
        let old = ring.owner_of_hash(hash).map(Node::id);
        let new = next.owner_of_hash(hash).map(Node::id);
        let range = index.find(hash);
        in_ranges += u64::from(range.is_some());
        moved += u64::from(old != new);
        let agrees = match range {
            Some(range) => range.from.as_ref() == old && range.to.as_ref() == new && old != new,
            None => old == new,
        };
        mismatches += u64::from(!agrees);
    }
    let label = match change {
        Change::Add(node) => format!("add {}", node.id()),
        Change::Remove(id) => format!("remove {id}"),
    };
    Ok(AffectedRow {
        change: label,
        ranges: ranges.len(),
        range_fraction: ranges.iter().map(|range| range.range.fraction()).sum(),
        keys_in_ranges: in_ranges,
        keys_moved: moved,
        mismatches,
    })
}

impl fmt::Display for MovementTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "(a) keys moved when node {} joins {} nodes ({} keys)",
            self.nodes + 1,
            self.nodes,
            self.keys
        )?;
        writeln!(
            f,
            "{:<14} {:>9} {:>9} {:>14} {:>13}",
            "algorithm", "moved", "expected", "moved-to-other", "max/mean"
        )?;
        for row in &self.rows {
            writeln!(
                f,
                "{:<14} {:>8.2}% {:>8.2}% {:>13.2}% {:>13.3}",
                row.algorithm.name(),
                100.0 * row.moved,
                100.0 * row.expected,
                100.0 * row.moved_elsewhere,
                row.max_over_mean
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for LoadTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "(b) load spread vs virtual nodes ({} nodes, {} keys, mean of {} node sets)",
            self.nodes, self.keys, self.seeds
        )?;
        writeln!(
            f,
            "{:>7} {:>13} {:>13} {:>9} {:>15}",
            "vnodes", "std-dev(keys)", "std-dev(arcs)", "max/mean", "worst max/mean"
        )?;
        for row in &self.rows {
            writeln!(
                f,
                "{:>7} {:>12.2}% {:>12.2}% {:>9.3} {:>15.3}",
                row.vnodes,
                row.std_dev_percent,
                row.exact_std_dev_percent,
                row.max_over_mean,
                row.worst_max_over_mean
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for AffectedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "(c) affected ranges vs brute-force remapping ({} nodes, {} keys)",
            self.nodes, self.keys
        )?;
        writeln!(
            f,
            "{:<22} {:>7} {:>9} {:>14} {:>10} {:>10}",
            "change", "ranges", "circle", "keys-in-ranges", "keys-moved", "mismatches"
        )?;
        for row in &self.rows {
            writeln!(
                f,
                "{:<22} {:>7} {:>8.3}% {:>14} {:>10} {:>10}",
                row.change,
                row.ranges,
                100.0 * row.range_fraction,
                row.keys_in_ranges,
                row.keys_moved,
                row.mismatches
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn small() -> ExperimentParams {
        ExperimentParams { keys: 20_000, nodes: 10, seed: 7, seeds: 2, vnodes: 256, epsilon: 0.25 }
    }

    #[test]
    fn modulo_moves_most_keys_and_the_ring_about_one_in_n_plus_one() {
        let table = movement(&small()).unwrap();
        let row = |algorithm| table.rows.iter().find(|r| r.algorithm == algorithm).unwrap();
        assert!((row(Algorithm::Modulo).moved - 10.0 / 11.0).abs() < 0.02);
        assert!((row(Algorithm::Ring).moved - 1.0 / 11.0).abs() < 0.02);
        for minimal in [Algorithm::Ring, Algorithm::Jump, Algorithm::Rendezvous] {
            assert_eq!(row(minimal).moved_elsewhere, 0.0, "{}", minimal.name());
        }
        assert!(row(Algorithm::BoundedLoads).max_over_mean <= 1.25 + 1e-9);
    }

    #[test]
    fn more_virtual_nodes_give_a_smaller_spread() {
        let table = load_vs_vnodes(&small()).unwrap();
        let first = &table.rows[0];
        let last = &table.rows[table.rows.len() - 1];
        assert_eq!(first.vnodes, 1);
        assert!(last.exact_std_dev_percent < first.exact_std_dev_percent / 10.0);
    }

    #[test]
    fn affected_ranges_agree_with_brute_force_for_add_and_remove() {
        let table = affected_vs_brute_force(&small()).unwrap();
        assert_eq!(table.rows.len(), 2);
        for row in &table.rows {
            assert_eq!(row.mismatches, 0, "{}", row.change);
            assert_eq!(row.keys_in_ranges, row.keys_moved);
            assert!(row.keys_moved > 0);
        }
    }

    #[test]
    fn tables_print_one_line_per_row_plus_two_headers() {
        let table = affected_vs_brute_force(&small()).unwrap();
        assert_eq!(table.to_string().lines().count(), 2 + table.rows.len());
    }

    #[test]
    fn relative_std_dev_of_equal_values_is_zero() {
        assert_eq!(relative_std_dev(&[3.0, 3.0, 3.0]), 0.0);
        assert!((relative_std_dev(&[1.0, 3.0]) - 0.5).abs() < 1e-12);
    }
}
