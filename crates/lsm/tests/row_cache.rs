//! The row cache never answers with a stale version: after an overwrite, a delete, an
//! expiry or across a snapshot, reads through it say what reads without it say.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use blueprint_lsm::{Db, Durability, ManualClock, Options, WriteBatch};

fn open(row_cache_bytes: usize) -> (tempfile::TempDir, Db, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let options = Options {
        durability: Durability::No,
        memtable_bytes: 4096,
        row_cache_bytes,
        clock: clock.clone(),
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    (dir, db, clock)
}

#[test]
fn a_read_after_an_overwrite_sees_the_new_value() {
    let (_dir, db, _clock) = open(1 << 20);
    db.put("k", "old").unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"old".to_vec()));
    db.put("k", "new").unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"new".to_vec()));
    let stats = db.stats();
    assert_eq!(stats.row_cache_hits, 1, "the second read came from the row");
    assert!(stats.row_cache_bytes > 0);
}

#[test]
fn a_read_after_a_delete_sees_nothing_and_a_later_put_is_seen() {
    let (_dir, db, _clock) = open(1 << 20);
    db.put("k", "v").unwrap();
    assert!(db.get("k").unwrap().is_some());
    db.delete("k").unwrap();
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(db.get("k").unwrap(), None);
    db.put("k", "again").unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"again".to_vec()));
}

#[test]
fn an_absent_key_cached_as_absent_is_seen_once_written() {
    let (_dir, db, _clock) = open(1 << 20);
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(db.stats().row_cache_hits, 1, "absence is cached too");
    let mut batch = WriteBatch::new();
    batch.put("k", "v").put("other", "w");
    db.write(batch).unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn a_cached_value_expires_on_time() {
    let (_dir, db, clock) = open(1 << 20);
    db.put_with_ttl("k", "v", Duration::from_millis(100)).unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
    clock.advance_ms(99);
    assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
    clock.advance_ms(1);
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(db.get_with_expiry("k").unwrap(), None);
    // A plain put after the TTL'd one clears the expiry in the row too.
    db.put_with_ttl("j", "v", Duration::from_millis(100)).unwrap();
    assert!(db.get("j").unwrap().is_some());
    db.put("j", "forever").unwrap();
    clock.advance_ms(1_000);
    let live = db.get_with_expiry("j").unwrap().unwrap();
    assert_eq!((live.value, live.expires_at_ms), (b"forever".to_vec(), None));
}

#[test]
fn a_snapshot_reads_its_own_version_while_the_row_holds_a_newer_one() {
    let (_dir, db, _clock) = open(1 << 20);
    db.put("k", "v1").unwrap();
    let before = db.snapshot();
    db.put("k", "v2").unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"v2".to_vec()));
    assert_eq!(before.get("k").unwrap(), Some(b"v1".to_vec()));
    // A snapshot read fills nothing stale: the latest read still sees v2.
    assert_eq!(db.get("k").unwrap(), Some(b"v2".to_vec()));
    let after = db.snapshot();
    db.delete("k").unwrap();
    assert_eq!(after.get("k").unwrap(), Some(b"v2".to_vec()));
    assert_eq!(before.get("k").unwrap(), Some(b"v1".to_vec()));
    assert_eq!(db.get("k").unwrap(), None);
}

#[test]
fn rows_survive_flushes_and_compactions_unchanged() {
    let (_dir, db, _clock) = open(1 << 20);
    for index in 0..500u32 {
        db.put(index.to_string(), index.to_string()).unwrap();
    }
    for index in 0..500u32 {
        assert_eq!(db.get(index.to_string()).unwrap(), Some(index.to_string().into_bytes()));
    }
    for index in (0..500u32).step_by(2) {
        db.delete(index.to_string()).unwrap();
    }
    db.flush().unwrap();
    db.compact().unwrap();
    for index in 0..500u32 {
        let expected = (index % 2 == 1).then(|| index.to_string().into_bytes());
        assert_eq!(db.get(index.to_string()).unwrap(), expected, "key {index}");
    }
}

/// One writer counts each key up while readers check that no read goes backwards (a
/// stale row would): with a cache so small that rows are evicted and refilled all the
/// time, racing the writer's updates and marks.
#[test]
fn concurrent_reads_never_see_a_key_go_back_in_time() {
    const KEYS: u32 = 64;
    const ROUNDS: u32 = 300;
    for row_cache_bytes in [4 * 1024, 1 << 20] {
        let (_dir, db, _clock) = open(row_cache_bytes);
        let db = Arc::new(db);
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|reader| {
                let (db, done) = (Arc::clone(&db), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut seen = vec![0u32; KEYS as usize];
                    let mut index = reader;
                    while !done.load(Ordering::Acquire) {
                        index = (index + 7) % KEYS;
                        let value = db.get(format!("key-{index}")).unwrap();
                        let number = value.map_or(0, |bytes| {
                            String::from_utf8(bytes).unwrap().parse::<u32>().unwrap()
                        });
                        assert!(number >= seen[index as usize], "key-{index} went back");
                        seen[index as usize] = number;
                    }
                })
            })
            .collect();
        for round in 1..=ROUNDS {
            for index in 0..KEYS {
                db.put(format!("key-{index}"), round.to_string()).unwrap();
            }
        }
        done.store(true, Ordering::Release);
        for reader in readers {
            reader.join().unwrap();
        }
        for index in 0..KEYS {
            let value = db.get(format!("key-{index}")).unwrap();
            assert_eq!(value, Some(ROUNDS.to_string().into_bytes()));
        }
    }
}
