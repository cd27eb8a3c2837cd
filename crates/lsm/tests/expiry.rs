//! A key's expiry as the RESP server needs it (`TTL`, `EXPIRE`, `KEEPTTL`): reported by
//! `get_with_expiry`, set absolutely by `put_expiring_at`, and the same from the memtable,
//! from a table and after a reopen.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use blueprint_lsm::{Clock as _, Db, Durability, LiveValue, ManualClock, Options};

const NOW_MS: u64 = 1_000_000;

fn options(clock: Arc<ManualClock>) -> Options {
    Options { memtable_bytes: 4096, durability: Durability::No, clock, ..Options::default() }
}

#[test]
fn expiry_is_reported_from_the_memtable_from_a_table_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let expected = |expires_at_ms| Some(LiveValue { value: b"v".to_vec(), expires_at_ms });
    {
        let db = Db::open(dir.path(), options(Arc::clone(&clock))).unwrap();
        db.put_with_ttl("ttl", "v", Duration::from_millis(5_000)).unwrap();
        db.put("plain", "v").unwrap();
        assert_eq!(db.get_with_expiry("ttl").unwrap(), expected(Some(NOW_MS + 5_000)));
        assert_eq!(db.get_with_expiry("plain").unwrap(), expected(None));
        assert_eq!(db.get_with_expiry("absent").unwrap(), None);
        db.flush().unwrap();
        assert_eq!(db.get_with_expiry("ttl").unwrap(), expected(Some(NOW_MS + 5_000)));
    }
    let db = Db::open(dir.path(), options(Arc::clone(&clock))).unwrap();
    assert_eq!(db.get_with_expiry("ttl").unwrap(), expected(Some(NOW_MS + 5_000)));
    assert_eq!(db.get_with_expiry("plain").unwrap(), expected(None));
    clock.advance_ms(5_000);
    assert_eq!(db.get_with_expiry("ttl").unwrap(), None, "expired at its deadline");
    assert_eq!(db.now_ms(), clock.now_ms());
}

#[test]
fn put_expiring_at_keeps_an_absolute_deadline_and_a_past_one_hides_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let db = Db::open(dir.path(), options(Arc::clone(&clock))).unwrap();
    db.put_expiring_at("k", "v1", NOW_MS + 10_000).unwrap();
    clock.advance_ms(4_000);
    // A rewrite that keeps the deadline, as `SET … KEEPTTL` does.
    db.put_expiring_at("k", "v2", NOW_MS + 10_000).unwrap();
    let live = db.get_with_expiry("k").unwrap().unwrap();
    assert_eq!((live.value.as_slice(), live.expires_at_ms), (&b"v2"[..], Some(NOW_MS + 10_000)));
    db.put_expiring_at("k", "v3", NOW_MS).unwrap();
    assert_eq!(db.get("k").unwrap(), None, "a deadline in the past deletes");
}
