//! The SQL backends of the three stores, on SQLite (embedded default) and PostgreSQL.
//!
//! The statements are written once: both drivers accept `$1` parameters, and both
//! dialects have `ON CONFLICT` and `RETURNING`; only the DDL differs (two migration
//! folders). Every state change is a single conditional statement, atomic on its own.
//!
//! Apply the migrations with [`migrate_sqlite`] / [`migrate_postgres`] (recorded in the
//! `_migrations_idgen` table), or hand [`SQLITE_MIGRATOR`] / [`POSTGRES_MIGRATOR`] to the
//! platform's `Sql::migrate("idgen", ...)`.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

use crate::clock::{Clock, SystemClock};
use crate::registry::{Lease, LeaseError, MAX_ACQUIRE_ATTEMPTS, WorkerRegistry, new_token};
use crate::segment::{Allocation, SegmentError, SegmentStore};
use crate::ticket::{TicketError, TicketServer, TicketShard};

/// The SQLite migrations (`crates/idgen/migrations/sqlite`).
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
/// The PostgreSQL migrations (`crates/idgen/migrations/postgres`).
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");
/// Our migrations are recorded here, apart from other systems' version numbers.
pub const MIGRATIONS_TABLE: &str = "_migrations_idgen";

fn migrator(source: &Migrator) -> Migrator {
    let mut migrator = Migrator::with_migrations(source.iter().cloned().collect());
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// Apply the SQLite migrations.
pub async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), MigrateError> {
    migrator(&SQLITE_MIGRATOR).run(pool).await
}

/// Apply the PostgreSQL migrations.
pub async fn migrate_postgres(pool: &PgPool) -> Result<(), MigrateError> {
    migrator(&POSTGRES_MIGRATOR).run(pool).await
}

const NEXT_SEGMENT: &str = "UPDATE idgen_leaf_alloc \
     SET max_id = max_id + COALESCE($1, step), updated_at_ms = $2 \
     WHERE biz_tag = $3 RETURNING max_id, COALESCE($1, step), step";
const INSERT_TAG: &str = "INSERT INTO idgen_leaf_alloc (biz_tag, max_id, step, description, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (biz_tag) DO NOTHING";
const REUSE_EXPIRED: &str = "UPDATE idgen_worker_leases SET owner = $1, token = $2, expires_at_ms = $3 \
     WHERE namespace = $4 AND expires_at_ms <= $5 AND worker_id = ( \
         SELECT worker_id FROM idgen_worker_leases \
         WHERE namespace = $4 AND expires_at_ms <= $5 ORDER BY worker_id LIMIT 1) \
     RETURNING worker_id";
const CLAIM_NEW: &str = "INSERT INTO idgen_worker_leases (namespace, worker_id, owner, token, expires_at_ms) \
     SELECT $1, COALESCE(MAX(worker_id) + 1, 0), $2, $3, $4 FROM idgen_worker_leases \
     WHERE namespace = $1 HAVING COALESCE(MAX(worker_id) + 1, 0) < $5 \
     ON CONFLICT (namespace, worker_id) DO NOTHING RETURNING worker_id";
const HEARTBEAT: &str = "UPDATE idgen_worker_leases SET expires_at_ms = $1 \
     WHERE namespace = $2 AND worker_id = $3 AND token = $4 AND expires_at_ms > $5 \
     RETURNING worker_id";
const RELEASE: &str = "UPDATE idgen_worker_leases SET expires_at_ms = 0 \
     WHERE namespace = $1 AND worker_id = $2 AND token = $3";
const NEXT_TICKET: &str = "INSERT INTO idgen_tickets (stub, shard_offset, value) VALUES ($1, $2, $2) \
     ON CONFLICT (stub, shard_offset) DO UPDATE SET value = idgen_tickets.value + $3 \
     RETURNING value";

/// IDs and times are stored as signed 64-bit integers.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Leaf's `idgen_leaf_alloc` table as a [`SegmentStore`].
#[derive(Debug, Clone)]
pub struct SqlSegmentStore<P> {
    pool: P,
}

/// The worker-lease table as a [`WorkerRegistry`] for one namespace.
#[derive(Debug, Clone)]
pub struct SqlWorkerRegistry<P> {
    pool: P,
    namespace: String,
    max_workers: u64,
}

/// The ticket table as one of `k` [`TicketServer`]s.
#[derive(Debug, Clone)]
pub struct SqlTicketServer<P> {
    pool: P,
    shard: TicketShard,
}

impl<P> SqlSegmentStore<P> {
    /// A store over `pool` (migrated).
    pub fn new(pool: P) -> Self {
        Self { pool }
    }
}

impl<P> SqlWorkerRegistry<P> {
    /// Leases of worker IDs `0..max_workers` in `namespace` (e.g. `"dc-1"`).
    pub fn new(pool: P, namespace: impl Into<String>, max_workers: u64) -> Self {
        Self { pool, namespace: namespace.into(), max_workers }
    }
}

impl<P> SqlTicketServer<P> {
    /// Server `shard.offset` of `shard.step` over `pool`.
    pub fn new(pool: P, shard: TicketShard) -> Result<Self, TicketError> {
        Ok(Self { pool, shard: shard.validate()? })
    }
}

/// The same statements for both pools; the macro only swaps the pool and database types.
macro_rules! sql_backend {
    ($pool:ty, $database:ty) => {
        impl SqlSegmentStore<$pool> {
            /// Create `biz_tag` with its first ID and stored step (no-op if present).
            pub async fn insert_tag(
                &self,
                biz_tag: &str,
                first_id: u64,
                step: u64,
                description: &str,
            ) -> Result<(), SegmentError> {
                sqlx::query::<$database>(INSERT_TAG)
                    .bind(biz_tag)
                    .bind(to_i64(first_id))
                    .bind(to_i64(step.max(1)))
                    .bind(description)
                    .bind(to_i64(SystemClock.now_ms()))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        impl SegmentStore for SqlSegmentStore<$pool> {
            async fn next_segment(
                &self,
                biz_tag: &str,
                step: Option<u64>,
            ) -> Result<Allocation, SegmentError> {
                let row: Option<(i64, i64, i64)> = sqlx::query_as::<$database, _>(NEXT_SEGMENT)
                    .bind(step.map(to_i64))
                    .bind(to_i64(SystemClock.now_ms()))
                    .bind(biz_tag)
                    .fetch_optional(&self.pool)
                    .await?;
                let (max_id, used_step, base_step) =
                    row.ok_or_else(|| SegmentError::UnknownBizTag { biz_tag: biz_tag.to_owned() })?;
                let (end, used_step) = (to_u64(max_id), to_u64(used_step));
                if end == i64::MAX as u64 || used_step > end {
                    return Err(SegmentError::Exhausted { biz_tag: biz_tag.to_owned() });
                }
                Ok(Allocation { start: end - used_step, end, base_step: to_u64(base_step) })
            }
        }

        impl WorkerRegistry for SqlWorkerRegistry<$pool> {
            async fn acquire(
                &self,
                owner: &str,
                now_ms: u64,
                ttl_ms: u64,
            ) -> Result<Lease, LeaseError> {
                let expires_at_ms = now_ms.saturating_add(ttl_ms);
                for _ in 0..MAX_ACQUIRE_ATTEMPTS {
                    let token = new_token();
                    let reused: Option<(i64,)> = sqlx::query_as::<$database, _>(REUSE_EXPIRED)
                        .bind(owner)
                        .bind(token)
                        .bind(to_i64(expires_at_ms))
                        .bind(&self.namespace)
                        .bind(to_i64(now_ms))
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some((worker_id,)) = reused {
                        return Ok(Lease { worker_id: to_u64(worker_id), token, expires_at_ms });
                    }
                    let claimed: Option<(i64,)> = sqlx::query_as::<$database, _>(CLAIM_NEW)
                        .bind(&self.namespace)
                        .bind(owner)
                        .bind(token)
                        .bind(to_i64(expires_at_ms))
                        .bind(to_i64(self.max_workers))
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some((worker_id,)) = claimed {
                        return Ok(Lease { worker_id: to_u64(worker_id), token, expires_at_ms });
                    }
                    // Either every ID is taken and live, or a racer won: tell them apart.
                    let (live, highest): (i64, Option<i64>) = sqlx::query_as::<$database, _>(
                        "SELECT COUNT(*), MAX(worker_id) FROM idgen_worker_leases \
                         WHERE namespace = $1 AND expires_at_ms > $2",
                    )
                    .bind(&self.namespace)
                    .bind(to_i64(now_ms))
                    .fetch_one(&self.pool)
                    .await?;
                    if to_u64(live) >= self.max_workers && highest.is_some() {
                        return Err(LeaseError::NoFreeWorker { max_workers: self.max_workers });
                    }
                }
                Err(LeaseError::Contended)
            }

            async fn heartbeat(
                &self,
                lease: &Lease,
                now_ms: u64,
                ttl_ms: u64,
            ) -> Result<Lease, LeaseError> {
                let expires_at_ms = now_ms.saturating_add(ttl_ms);
                let renewed: Option<(i64,)> = sqlx::query_as::<$database, _>(HEARTBEAT)
                    .bind(to_i64(expires_at_ms))
                    .bind(&self.namespace)
                    .bind(to_i64(lease.worker_id))
                    .bind(lease.token)
                    .bind(to_i64(now_ms))
                    .fetch_optional(&self.pool)
                    .await?;
                match renewed {
                    Some(_) => Ok(Lease { expires_at_ms, ..*lease }),
                    None => Err(LeaseError::Lost { worker_id: lease.worker_id }),
                }
            }

            async fn release(&self, lease: &Lease) -> Result<(), LeaseError> {
                sqlx::query::<$database>(RELEASE)
                    .bind(&self.namespace)
                    .bind(to_i64(lease.worker_id))
                    .bind(lease.token)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        impl TicketServer for SqlTicketServer<$pool> {
            async fn next_ticket(&self, stub: &str) -> Result<u64, TicketError> {
                let (value,): (i64,) = sqlx::query_as::<$database, _>(NEXT_TICKET)
                    .bind(stub)
                    .bind(to_i64(self.shard.offset))
                    .bind(to_i64(self.shard.step))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(to_u64(value))
            }
        }
    };
}

sql_backend!(SqlitePool, Sqlite);
sql_backend!(PgPool, Postgres);
