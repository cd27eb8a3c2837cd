//! Lookups side by side with the `hashring` crate (10 nodes × 160 virtual nodes, and ours at
//! the default), the replica walk, and the comparison algorithms; prints load max/mean.
//!
//! `cargo bench -p blueprint-hashring -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use blueprint_hashring::bounded::BoundedLoads;
use blueprint_hashring::experiment::{key_loads, node_set};
use blueprint_hashring::jump::JumpHash;
use blueprint_hashring::maglev::Maglev;
use blueprint_hashring::rendezvous::Rendezvous;
use blueprint_hashring::{DEFAULT_VNODES, Node, Placement, Ring, Spread, Xxh3};
use criterion::{Criterion, criterion_group, criterion_main};

const NODES: usize = 10;
const PEER_VNODES: u32 = 160;
const KEYS: usize = 4096;

/// The peer has no virtual nodes of its own: its README adds `(node, i)` pairs.
#[derive(Debug, Clone, Hash, PartialEq)]
struct VNode {
    node: String,
    index: u32,
}

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("user:{i:08}")).collect()
}

fn nodes() -> Vec<Node> {
    node_set(NODES, 1).unwrap()
}

fn ring(vnodes: u32) -> Ring {
    Ring::from_nodes(vnodes, Xxh3, nodes()).unwrap()
}

fn peer(vnodes: u32) -> hashring::HashRing<VNode> {
    let mut ring = hashring::HashRing::new();
    for node in nodes() {
        for index in 0..vnodes {
            ring.add(VNode { node: node.id().to_string(), index });
        }
    }
    ring
}

fn lookups(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("lookup");
    let ours_160 = ring(PEER_VNODES);
    let ours_default = ring(DEFAULT_VNODES);
    let theirs = peer(PEER_VNODES);
    let mut i = 0;
    group.bench_function("ours/10x160", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(ours_160.lookup(black_box(keys[i].as_str())))
        })
    });
    group.bench_function("hashring-crate/10x160", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(theirs.get(black_box(&keys[i].as_str())))
        })
    });
    group.bench_function("ours/10x4096-default", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(ours_default.lookup(black_box(keys[i].as_str())))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("replicas3");
    group.bench_function("ours/10x160", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(ours_160.replicas(black_box(keys[i].as_str()), 3))
        })
    });
    group.bench_function("ours/10x4096-default", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(ours_default.replicas(black_box(keys[i].as_str()), 3))
        })
    });
    let mut buffer = Vec::with_capacity(3);
    group.bench_function("ours-reused-buffer/10x160", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            ours_160.replicas_into(black_box(keys[i].as_str()), 3, Spread::Nodes, &mut buffer);
            black_box(buffer.len())
        })
    });
    group.finish();
}

fn algorithms(c: &mut Criterion) {
    let keys = keys();
    let mut jump = JumpHash::new();
    let mut rendezvous = Rendezvous::new();
    let mut maglev = Maglev::new();
    for node in nodes() {
        jump.add(node.clone()).unwrap();
        rendezvous.add(node.clone()).unwrap();
        maglev.add(node).unwrap();
    }
    let mut bounded = BoundedLoads::new(ring(DEFAULT_VNODES), 0.25).unwrap();
    let mut group = c.benchmark_group("place-10-nodes");
    let mut i = 0;
    group.bench_function("jump", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(jump.lookup(black_box(keys[i].as_bytes())))
        })
    });
    group.bench_function("rendezvous", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(rendezvous.lookup(black_box(keys[i].as_bytes())))
        })
    });
    group.bench_function("maglev", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(maglev.lookup(black_box(keys[i].as_bytes())))
        })
    });
    group.bench_function("bounded-loads/eps0.25", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(bounded.place(black_box(keys[i].as_bytes())).cloned())
        })
    });
    group.finish();
}

/// Not timed: the balance claim, measured with 1 000 000 keys.
fn print_load() {
    const LOAD_KEYS: u64 = 1_000_000;
    for vnodes in [PEER_VNODES, DEFAULT_VNODES] {
        let loads = key_loads(&ring(vnodes), LOAD_KEYS, 1);
        let max = loads.iter().copied().fold(0.0, f64::max);
        let mean = loads.iter().sum::<f64>() / loads.len() as f64;
        println!(
            "load ours 10 nodes x {vnodes} vnodes, {LOAD_KEYS} keys: max/mean = {:.4}",
            max / mean
        );
    }
    let theirs = peer(PEER_VNODES);
    let mut counts = std::collections::HashMap::<String, f64>::new();
    for i in 0..LOAD_KEYS {
        let key = format!("user:{i:08}");
        *counts.entry(theirs.get(&key.as_str()).unwrap().node.clone()).or_default() += 1.0;
    }
    let max = counts.values().copied().fold(0.0, f64::max);
    println!(
        "load hashring-crate 10 nodes x {PEER_VNODES} vnodes, {LOAD_KEYS} keys: max/mean = {:.4}",
        max / (LOAD_KEYS as f64 / NODES as f64)
    );
}

fn load(_: &mut Criterion) {
    print_load();
}

criterion_group!(benches, lookups, algorithms, load);
criterion_main!(benches);
