//! Group commit under `kill -9`: many connections pipeline plain `SET`s (the commit
//! thread's path, one `fsync` per group) while one more runs `INCR`s (the blocking
//! pool's path); the server is killed with SIGKILL mid-stream, the store is reopened,
//! and every acknowledged write must be there.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use blueprint_kv::Store;

/// Connections writing at once: enough that groups hold many connections' batches.
const CLIENTS: usize = 16;
/// `SET`s per pipeline, followed by a `GET` of the first (read your writes in a group).
const PIPELINE: u64 = 8;
/// How long the writers run before the kill.
const RUN_FOR: Duration = Duration::from_millis(2_000);

fn resp(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
    }
    out
}

fn key(client: usize, index: u64) -> String {
    format!("c{client:02}-{index:010}")
}

fn value(key: &str) -> String {
    key.repeat(3)
}

fn start_server(dir: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv-crash-server"))
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("listening ").unwrap().parse().unwrap();
    (child, port)
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Pipelines `SET`s of this client's next keys until the stream fails (the kill) or
/// `stop`; counts in `acknowledged` the keys whose `+OK` arrived.
fn write_keys(port: u16, client: usize, stop: &AtomicBool, acknowledged: &AtomicU64) {
    let mut stream = connect(port);
    let mut next = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut request = Vec::new();
        let mut expected = Vec::new();
        for index in next..next + PIPELINE {
            let key = key(client, index);
            request.extend(resp(&["SET", &key, &value(&key)]));
            expected.extend_from_slice(b"+OK\r\n");
        }
        let first = key(client, next);
        request.extend(resp(&["GET", &first]));
        expected.extend(format!("${}\r\n{}\r\n", value(&first).len(), value(&first)).bytes());
        if stream.write_all(&request).is_err() {
            return;
        }
        let mut reply = vec![0; expected.len()];
        if stream.read_exact(&mut reply).is_err() {
            return;
        }
        assert_eq!(String::from_utf8_lossy(&reply), String::from_utf8_lossy(&expected));
        next += PIPELINE;
        acknowledged.store(next, Ordering::SeqCst);
    }
}

/// `INCR counter` one at a time; counts the acknowledged increments.
fn increment(port: u16, stop: &AtomicBool, acknowledged: &AtomicU64) {
    let mut stream = connect(port);
    let mut replies = BufReader::new(stream.try_clone().unwrap());
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(&resp(&["INCR", "counter"])).is_err() {
            return;
        }
        let mut reply = String::new();
        if !matches!(replies.read_line(&mut reply), Ok(read) if read > 0) {
            return;
        }
        assert_eq!(reply, format!(":{}\r\n", acknowledged.load(Ordering::SeqCst) + 1));
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn with_always_every_set_acknowledged_by_a_group_commit_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start_server(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Vec<AtomicU64>> =
        Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());
    let increments = Arc::new(AtomicU64::new(0));
    let mut threads: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (stop, acknowledged) = (Arc::clone(&stop), Arc::clone(&acknowledged));
            std::thread::spawn(move || write_keys(port, client, &stop, &acknowledged[client]))
        })
        .collect();
    threads.push(std::thread::spawn({
        let (stop, increments) = (Arc::clone(&stop), Arc::clone(&increments));
        move || increment(port, &stop, &increments)
    }));
    std::thread::sleep(RUN_FOR);
    // SIGKILL mid-stream: no destructor, no final WAL sync.
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }

    let total: u64 = acknowledged.iter().map(|count| count.load(Ordering::SeqCst)).sum();
    assert!(total > 1_000, "the writers made too little progress: {total}");
    let store = Store::open(dir.path(), blueprint_lsm::Durability::Always).unwrap();
    for (client, count) in acknowledged.iter().enumerate() {
        let count = count.load(Ordering::SeqCst);
        for index in 0..count {
            let key = key(client, index);
            let found = store.get(key.as_bytes()).unwrap();
            assert_eq!(found, Some(value(&key).into_bytes()), "acknowledged {key} lost");
        }
        // A connection's batches commit in order: what survives is a prefix, and at most
        // the one pipeline in flight at the kill was written without its replies.
        let (present, _) =
            store.keys_under(format!("c{client:02}-").as_bytes(), None, 1 << 20).unwrap();
        let expected: Vec<Vec<u8>> =
            (0..present.len() as u64).map(|index| key(client, index).into_bytes()).collect();
        assert_eq!(present, expected, "client {client} has a hole");
        assert!(
            present.len() as u64 <= count + PIPELINE,
            "client {client}: more than one pipeline unacknowledged"
        );
    }
    let counter = store.get(b"counter").unwrap().map(|bytes| String::from_utf8(bytes).unwrap());
    let counter: u64 = counter.as_deref().unwrap_or("0").parse().unwrap();
    let acknowledged_increments = increments.load(Ordering::SeqCst);
    assert!(
        (acknowledged_increments..=acknowledged_increments + 1).contains(&counter),
        "{acknowledged_increments} INCRs acknowledged, counter {counter}"
    );
}
