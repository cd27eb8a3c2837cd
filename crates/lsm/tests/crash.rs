//! Crash tests with real processes: a child writes and prints each acknowledged key, is
//! killed with SIGKILL mid-stream, and the database is reopened and checked.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use blueprint_lsm::{Db, Options};

/// Acknowledged keys with the instant the parent read each acknowledgement.
struct CrashRun {
    acknowledged: Vec<(String, Instant)>,
    killed_at: Instant,
}

fn write_then_kill(
    dir: &std::path::Path,
    durability: &str,
    threads: usize,
    run_for: Duration,
) -> CrashRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lsm-crash-writer"))
        .arg(dir)
        .arg(durability)
        .arg(threads.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(key) = line.strip_prefix("ack ")
                && sender.send((key.to_owned(), Instant::now())).is_err()
            {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut acknowledged = Vec::new();
    while started.elapsed() < run_for {
        if let Ok(ack) = receiver.recv_timeout(Duration::from_millis(10)) {
            acknowledged.push(ack);
        }
    }
    // SIGKILL: no destructor, no final WAL flush.
    child.kill().unwrap();
    let killed_at = Instant::now();
    child.wait().unwrap();
    reader.join().unwrap();
    acknowledged.extend(receiver.try_iter());
    assert!(
        acknowledged.len() > 100,
        "the writer made too little progress: {}",
        acknowledged.len()
    );
    CrashRun { acknowledged, killed_at }
}

/// Per writer thread, the highest index present after recovery and the set present.
fn recovered_indexes(db: &Db, threads: usize) -> HashMap<usize, Vec<u64>> {
    let mut present: HashMap<usize, Vec<u64>> = HashMap::new();
    for thread in 0..threads {
        let prefix = format!("t{thread}-");
        let indexes = db
            .prefix(&prefix)
            .map(|pair| {
                let (key, value) = pair.unwrap();
                let key = String::from_utf8(key).unwrap();
                assert_eq!(value, key.repeat(4).into_bytes(), "wrong value for {key}");
                key[prefix.len()..].parse::<u64>().unwrap()
            })
            .collect();
        present.insert(thread, indexes);
    }
    present
}

#[test]
fn with_always_every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let threads = 4;
    let run = write_then_kill(dir.path(), "always", threads, Duration::from_millis(2500));
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for (key, _) in &run.acknowledged {
        assert!(db.get(key).unwrap().is_some(), "acknowledged {key} lost after kill -9");
    }
    // Each thread writes sequentially, so what survives is a prefix: no holes.
    for (thread, indexes) in recovered_indexes(&db, threads) {
        let expected: Vec<u64> = (0..indexes.len() as u64).collect();
        assert_eq!(indexes, expected, "thread {thread} has a hole");
    }
}

#[test]
fn with_everysec_at_most_about_the_last_second_is_lost_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let run = write_then_kill(dir.path(), "everysec", 1, Duration::from_millis(3500));
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let present = recovered_indexes(&db, 1).remove(&0).unwrap();
    let expected: Vec<u64> = (0..present.len() as u64).collect();
    assert_eq!(present, expected, "recovered writes are not a prefix");
    // The syncer hands the buffer to the OS every second; allow scheduling slack.
    let window = Duration::from_millis(1_500);
    for (key, acked_at) in &run.acknowledged {
        if run.killed_at.duration_since(*acked_at) > window {
            assert!(
                db.get(key).unwrap().is_some(),
                "{key} acknowledged over 1.5 s before the kill was lost"
            );
        }
    }
}
