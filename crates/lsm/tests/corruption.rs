//! Damaged files: a torn WAL tail is ignored; a flipped byte in an SSTable is detected
//! and reported with the file and offset instead of serving wrong data.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use blueprint_lsm::{Db, Durability, Error, Options};

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files
}

fn options() -> Options {
    Options { durability: Durability::No, auto_compaction: false, ..Options::default() }
}

#[test]
fn a_torn_wal_tail_is_ignored_and_earlier_writes_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), options()).unwrap();
        for index in 0..100 {
            db.put(format!("key{index:03}"), format!("value{index}")).unwrap();
        }
    }
    let wal = files_with_extension(dir.path(), "wal").pop().unwrap();
    let bytes = std::fs::read(&wal).unwrap();
    // Cut the last record in half, as a crash mid-write would.
    std::fs::write(&wal, &bytes[..bytes.len() - 5]).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for index in 0..99 {
        assert_eq!(
            db.get(format!("key{index:03}")).unwrap(),
            Some(format!("value{index}").into_bytes())
        );
    }
    assert_eq!(db.get("key099").unwrap(), None);
}

#[test]
fn a_flipped_byte_in_a_middle_wal_record_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), options()).unwrap();
        for index in 0..100 {
            db.put(format!("key{index:03}"), format!("value{index}")).unwrap();
        }
    }
    let wal = files_with_extension(dir.path(), "wal").pop().unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[20] ^= 0x10;
    std::fs::write(&wal, &bytes).unwrap();
    match Db::open(dir.path(), options()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, wal);
            assert_eq!(offset, 0);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_an_sstable_is_detected_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), options()).unwrap();
        for index in 0..2_000 {
            db.put(format!("key{index:05}"), format!("value{index}").repeat(5)).unwrap();
        }
        db.flush().unwrap();
    }
    let table = files_with_extension(dir.path(), "sst").pop().unwrap();
    let mut bytes = std::fs::read(&table).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&table, &bytes).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut detected = None;
    for index in 0..2_000 {
        match db.get(format!("key{index:05}")) {
            Ok(value) => assert_eq!(value, Some(format!("value{index}").repeat(5).into_bytes())),
            Err(error) => {
                detected = Some(error);
                break;
            }
        }
    }
    match detected {
        Some(Error::Corruption { file, offset, reason }) => {
            assert_eq!(file, table);
            assert_eq!(offset, 0, "the first data block starts at 0");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    // A scan over the damaged block fails too, instead of skipping it silently.
    let scanned: Result<Vec<_>, _> = db.range::<&[u8]>(..).collect();
    assert!(matches!(scanned, Err(Error::Corruption { .. })));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), options()).unwrap();
    assert!(matches!(Db::open(dir.path(), options()), Err(Error::Locked { .. })));
}
