//! Uniqueness across 8 threads and 2 processes sharing one worker registry: the parent
//! re-runs this binary twice as children; each child leases a worker ID from the shared
//! registry (SQLite, then PostgreSQL when `BLUEPRINT_TEST_POSTGRES_URL` is set) and generates its share on 4 threads into a file; the parent checks
//! every ID is unique and each thread's IDs increase. Total: 1M in debug, 10M in release
//! (`cargo test --release -p blueprint-idgen --test two_processes`), or
//! `BLUEPRINT_IDGEN_UNIQUE_TOTAL`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;
use std::sync::Arc;

use blueprint_idgen::sql::{migrate_postgres, migrate_sqlite};
use blueprint_idgen::{
    Clock, NodeId, Snowflake, SnowflakeConfig, SqlWorkerRegistry, SystemClock, WorkerRegistry,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
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

/// Where the children's shared worker registry lives.
#[derive(Debug, Clone)]
enum Registry {
    Sqlite(PathBuf),
    /// A PostgreSQL URL and a schema of this run's own.
    Postgres {
        url: String,
        schema: String,
    },
}

impl Registry {
    fn encode(&self) -> String {
        match self {
            Registry::Sqlite(path) => format!("sqlite|{}", path.display()),
            Registry::Postgres { url, schema } => format!("postgres|{url}#{schema}"),
        }
    }

    fn decode(spec: &str) -> Self {
        let (kind, location) = spec.split_once('|').unwrap();
        match kind {
            "sqlite" => Registry::Sqlite(location.into()),
            _ => {
                let (url, schema) = location.rsplit_once('#').unwrap();
                Registry::Postgres { url: url.into(), schema: schema.into() }
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Registry::Sqlite(_) => "SQLite",
            Registry::Postgres { .. } => "PostgreSQL",
        }
    }
}

async fn sqlite_registry(database: &Path) -> SqlWorkerRegistry<sqlx::SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(true)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    migrate_sqlite(&pool).await.unwrap();
    SqlWorkerRegistry::new(pool, "dc-0", 32)
}

async fn postgres_registry(url: &str, schema: &str) -> SqlWorkerRegistry<sqlx::PgPool> {
    let options = PgConnectOptions::from_str(url).unwrap().options([("search_path", schema)]);
    let pool = PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    migrate_postgres(&pool).await.unwrap();
    SqlWorkerRegistry::new(pool, "dc-0", 32)
}

/// Create the schema once, before the children race for leases.
async fn prepare(registry: &Registry) {
    match registry {
        Registry::Sqlite(path) => drop(sqlite_registry(path).await),
        Registry::Postgres { url, schema } => {
            let admin = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            drop(postgres_registry(url, schema).await);
        }
    }
}

fn child(registry: &Registry, output: PathBuf, count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    match registry {
        Registry::Sqlite(path) => {
            let registry = runtime.block_on(sqlite_registry(path));
            generate(&runtime, &registry, output, count);
        }
        Registry::Postgres { url, schema } => {
            let registry = runtime.block_on(postgres_registry(url, schema));
            generate(&runtime, &registry, output, count);
        }
    }
}

fn generate(
    runtime: &tokio::runtime::Runtime,
    registry: &impl WorkerRegistry,
    output: PathBuf,
    count: usize,
) {
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

/// Two children on one registry: every ID unique, each thread's IDs increasing.
fn run(registry: &Registry, dir: &Path, total: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(prepare(registry));
    let started = std::time::Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|index| {
            let output = dir.join(format!("ids-{}-{index}.bin", registry.name()));
            let spec = format!("{}|{}|{}", output.display(), total / PROCESSES, registry.encode());
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
    assert_eq!(all.len(), count, "duplicate IDs across processes on {}", registry.name());
    println!(
        "two_processes: {count} IDs from {PROCESSES} processes x {THREADS_PER_PROCESS} threads on one {} registry, all unique, increasing per thread ({elapsed:.2?})",
        registry.name()
    );
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.splitn(3, '|');
        let (output, count, registry) =
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        child(&Registry::decode(registry), output.into(), count.parse().unwrap());
        return;
    }
    let total = total();
    let dir = tempfile::tempdir().unwrap();
    run(&Registry::Sqlite(dir.path().join("registry.db")), dir.path(), total);
    match std::env::var("BLUEPRINT_TEST_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("idgen_two_processes_{:x}", rand::random::<u32>());
            run(&Registry::Postgres { url, schema }, dir.path(), total);
        }
        Err(_) => {
            assert!(
                std::env::var("BLUEPRINT_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "BLUEPRINT_REQUIRE_SERVICES=1 but BLUEPRINT_TEST_POSTGRES_URL is not set"
            );
            println!("two_processes: PostgreSQL part skipped: BLUEPRINT_TEST_POSTGRES_URL not set");
        }
    }
}
