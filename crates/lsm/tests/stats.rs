//! The counters behind the console's write amplification and cache hit ratio.
#![allow(clippy::unwrap_used)]

use blueprint_lsm::{CompactionOptions, Db, Durability, Options};

#[test]
fn write_amplification_counts_wal_flush_and_compaction_bytes_over_user_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        memtable_bytes: 1024 * 1024,
        durability: Durability::No,
        auto_compaction: false,
        compaction: CompactionOptions { min_merge_width: 2, ..CompactionOptions::default() },
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    assert_eq!(db.stats().write_amplification(), None);
    let value = vec![b'v'; 100];
    for round in 0..2 {
        for index in 0..1_000u32 {
            db.put(format!("key:{index:05}:{round}"), &value).unwrap();
        }
        db.flush().unwrap();
    }
    let flushed = db.stats();
    assert_eq!(flushed.user_bytes_written, 2_000 * ("key:00000:0".len() as u64 + 100));
    assert!(flushed.wal_bytes_written >= flushed.user_bytes_written, "{flushed:?}");
    assert!(flushed.flush_bytes_written > 0 && flushed.compaction_bytes_written == 0);
    assert_eq!(flushed.tables.len(), 2);
    assert_eq!(flushed.tables.iter().map(|table| table.entries).sum::<u64>(), 2_000);
    db.compact().unwrap();
    let compacted = db.stats();
    assert!(compacted.compaction_bytes_written > 0, "{compacted:?}");
    assert_eq!(compacted.tables.len(), 1);
    let amplification = compacted.write_amplification().unwrap();
    // WAL ≈ 1, flush < 1 (LZ4), one full merge < 1: between 1 and 4 here.
    assert!((1.0..4.0).contains(&amplification), "{amplification}");
}

#[test]
fn repeated_reads_of_a_table_are_cache_hits() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Db::open(dir.path(), Options { durability: Durability::No, ..Options::default() }).unwrap();
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    assert_eq!(db.stats().block_cache_hit_ratio(), None, "no table read yet");
    for _ in 0..10 {
        assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    }
    let stats = db.stats();
    assert_eq!(stats.block_cache_hits + stats.block_cache_misses, 10, "{stats:?}");
    assert!(stats.block_cache_hit_ratio().unwrap() >= 0.9, "{stats:?}");
}
