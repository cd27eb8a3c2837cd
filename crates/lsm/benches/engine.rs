//! Criterion benches for the engine's hot paths: a put, a point read from the memtable,
//! and a point read from SSTables through the block cache.
#![allow(clippy::unwrap_used, missing_docs)]

use blueprint_lsm::{Db, Durability, Options};
use criterion::{Criterion, criterion_group, criterion_main};

const KEYS: u64 = 50_000;

fn key(index: u64) -> [u8; 16] {
    // Spread keys like random inserts would, deterministically.
    (index.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u128).to_be_bytes()
}

fn options() -> Options {
    Options { durability: Durability::No, ..Options::default() }
}

fn put(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut index = 0u64;
    c.bench_function("put 16 B key, 100 B value", |b| {
        b.iter(|| {
            index += 1;
            db.put(key(index), [7u8; 100]).unwrap();
        })
    });
}

fn get(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for index in 0..KEYS {
        db.put(key(index), [7u8; 100]).unwrap();
    }
    let mut index = 0u64;
    c.bench_function("get from memtable", |b| {
        b.iter(|| {
            index = (index + 7919) % KEYS;
            db.get(key(index)).unwrap()
        })
    });
    db.flush().unwrap();
    c.bench_function("get from sstable", |b| {
        b.iter(|| {
            index = (index + 7919) % KEYS;
            db.get(key(index)).unwrap()
        })
    });
}

criterion_group!(benches, put, get);
criterion_main!(benches);
