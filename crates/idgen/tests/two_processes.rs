//! Uniqueness across 8 threads and 2 processes sharing one worker registry: the parent
//! re-runs this binary twice as children; each child leases a worker ID from the shared
//! SQLite registry and generates its share on 4 threads into a file; the parent checks
//! every ID is unique and each thread's IDs increase. Total: 1M in debug, 10M in release
//! (`cargo test --release -p blueprint-idgen --test two_processes`), or
//! `BLUEPRINT_IDGEN_UNIQUE_TOTAL`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use blueprint_idgen::sql::migrate_sqlite;
use blueprint_idgen::{
    Clock, NodeId, Snowflake, SnowflakeConfig, SqlWorkerRegistry, SystemClock, WorkerRegistry,
};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

const PROCESSES: usize = 2;
const THREADS_PER_PROCESS: usize = 4;
const CHILD_ENV: &str = "IDGEN_TWO_PROCESSES_CHILD";

fn total() -> usize {
    std::env::var("BLUEPRINT_IDGEN_UNIQUE_TOTAL")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 1_000_000 } else { 10_000_000 })
}

async fn registry(database: &Path) -> SqlWorkerRegistry<sqlx::SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(true)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    migrate_sqlite(&pool).await.unwrap();
    SqlWorkerRegistry::new(pool, "dc-0", 32)
}

fn child(database: PathBuf, output: PathBuf, count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let registry = runtime.block_on(registry(&database));
    let lease = runtime
        .block_on(registry.acquire(
            &format!("pid-{}", std::process::id()),
            SystemClock.now_ms(),
            60_000,
        ))
        .unwrap();
    let config = SnowflakeConfig {
        node: NodeId { datacenter: 0, worker: lease.worker_id },
        ..SnowflakeConfig::default()
    };
    let generator = Arc::new(Snowflake::new(&config, SystemClock).unwrap());
    let per_thread = count / THREADS_PER_PROCESS;
    let threads: Vec<_> = (0..THREADS_PER_PROCESS)
        .map(|_| {
            let generator = Arc::clone(&generator);
            std::thread::spawn(move || {
                let mut ids = Vec::with_capacity(per_thread);
                for _ in 0..per_thread {
                    ids.push(generator.next_id().unwrap());
                }
                assert!(
                    ids.windows(2).all(|pair| pair[0] < pair[1]),
                    "IDs must increase per thread"
                );
                ids
            })
        })
        .collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(output).unwrap());
    for thread in threads {
        for id in thread.join().unwrap() {
            file.write_all(&id.to_le_bytes()).unwrap();
        }
    }
    file.flush().unwrap();
    runtime.block_on(registry.release(&lease)).unwrap();
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.splitn(3, '|');
        let (database, output, count) =
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        child(database.into(), output.into(), count.parse().unwrap());
        return;
    }
    let total = total();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("registry.db");
    // Create the schema once, before the children race for leases.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    drop(runtime.block_on(registry(&database)));
    let started = std::time::Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|index| {
            let output = dir.path().join(format!("ids-{index}.bin"));
            let spec = format!("{}|{}|{}", database.display(), output.display(), total / PROCESSES);
            let child = Command::new(std::env::current_exe().unwrap())
                .env(CHILD_ENV, spec)
                .spawn()
                .unwrap();
            (child, output)
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for (mut child, output) in children {
        assert!(child.wait().unwrap().success(), "a child failed");
        let mut bytes = Vec::new();
        std::fs::File::open(output).unwrap().read_to_end(&mut bytes).unwrap();
        all.extend(
            bytes.chunks_exact(8).map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap())),
        );
    }
    let elapsed = started.elapsed();
    assert_eq!(
        all.len(),
        total / PROCESSES / THREADS_PER_PROCESS * PROCESSES * THREADS_PER_PROCESS
    );
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "duplicate IDs across processes");
    println!(
        "two_processes: {count} IDs from {PROCESSES} processes x {THREADS_PER_PROCESS} threads, all unique, increasing per thread ({elapsed:.2?})"
    );
}
