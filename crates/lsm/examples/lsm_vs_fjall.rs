//! Side-by-side run of this engine and fjall: fillrandom and readrandom throughput,
//! write amplification (bytes the process wrote to storage per `/proc/self/io`, over
//! bytes of user data) and space amplification (directory size after a full compaction,
//! over bytes of user data).
//!
//! `cargo run --release -p blueprint-lsm --example lsm_vs_fjall -- [keys] [value_bytes] [reads]`
//! (defaults: 1 000 000 keys × 100 B values, 1 000 000 reads).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::Instant;

use blueprint_lsm::{Db, Options};

const KEY_BYTES: usize = 16;

/// SplitMix64: a deterministic, seeded key order shared by both engines.
fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

fn key(index: u64) -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    key[..8].copy_from_slice(&mix(index).to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

fn value(index: u64, value_bytes: usize) -> Vec<u8> {
    // Half random, half repeated: compressible about 2:1, like typical payloads.
    let mut out = Vec::with_capacity(value_bytes);
    let mut state = index;
    while out.len() < value_bytes / 2 {
        state = mix(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.resize(value_bytes, b'x');
    out
}

fn written_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes: "))
        .and_then(|number| number.trim().parse().ok())
        .unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() { dir_bytes(&entry.path()) } else { meta.len() }
        })
        .sum()
}

struct Report {
    fill_ops_per_second: f64,
    read_ops_per_second: f64,
    write_amplification: f64,
    space_amplification: f64,
}

trait Engine {
    fn put(&self, key: &[u8], value: &[u8]);
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Flushes everything and fully compacts.
    fn settle(&self);
}

impl Engine for Db {
    fn put(&self, key: &[u8], value: &[u8]) {
        Db::put(self, key, value).unwrap();
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        Db::get(self, key).unwrap()
    }
    fn settle(&self) {
        self.flush().unwrap();
        self.compact().unwrap();
    }
}

struct Fjall {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
}

impl Engine for Fjall {
    fn put(&self, key: &[u8], value: &[u8]) {
        self.keyspace.insert(key, value).unwrap();
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.keyspace.get(key).unwrap().map(|slice| slice.to_vec())
    }
    fn settle(&self) {
        self.db.persist(fjall::PersistMode::SyncAll).unwrap();
        self.keyspace.rotate_memtable_and_wait().unwrap();
        self.keyspace.major_compact().unwrap();
    }
}

fn run(engine: &dyn Engine, dir: &Path, keys: u64, value_bytes: usize, reads: u64) -> Report {
    let user_bytes = keys as f64 * (KEY_BYTES + value_bytes) as f64;
    let written_before = written_bytes();
    let started = Instant::now();
    for index in 0..keys {
        engine.put(&key(index), &value(index, value_bytes));
    }
    let fill_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut found = 0u64;
    for read in 0..reads {
        let index = mix(read ^ 0x5555) % keys;
        found += u64::from(engine.get(&key(index)).is_some());
    }
    let read_seconds = started.elapsed().as_secs_f64();
    assert_eq!(found, reads, "an engine lost keys");
    engine.settle();
    let written = written_bytes() - written_before;
    Report {
        fill_ops_per_second: keys as f64 / fill_seconds,
        read_ops_per_second: reads as f64 / read_seconds,
        write_amplification: written as f64 / user_bytes,
        space_amplification: dir_bytes(dir) as f64 / user_bytes,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let keys: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let value_bytes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let reads: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let root =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    println!("{keys} keys x {KEY_BYTES} B key + {value_bytes} B value, {reads} random reads");

    let lsm_dir = root.path().join("blueprint-lsm");
    let lsm = {
        let db = Db::open(&lsm_dir, Options::default()).unwrap();
        let report = run(&db, &lsm_dir, keys, value_bytes, reads);
        drop(db);
        report
    };
    let fjall_dir = root.path().join("fjall");
    let fjall_report = {
        let db = fjall::Database::builder(&fjall_dir).cache_size(64 * 1024 * 1024).open().unwrap();
        let keyspace = db.keyspace("bench", fjall::KeyspaceCreateOptions::default).unwrap();
        let engine = Fjall { db, keyspace };
        let report = run(&engine, &fjall_dir, keys, value_bytes, reads);
        drop(engine);
        report
    };
    println!("{:<22} {:>14} {:>14} {:>8}", "", "blueprint-lsm", "fjall", "ratio");
    let row = |name: &str, ours: f64, theirs: f64| {
        println!("{name:<22} {ours:>14.2} {theirs:>14.2} {:>8.2}", ours / theirs);
    };
    row("fillrandom ops/s", lsm.fill_ops_per_second, fjall_report.fill_ops_per_second);
    row("readrandom ops/s", lsm.read_ops_per_second, fjall_report.read_ops_per_second);
    row("write amplification", lsm.write_amplification, fjall_report.write_amplification);
    row("space amplification", lsm.space_amplification, fjall_report.space_amplification);
}
