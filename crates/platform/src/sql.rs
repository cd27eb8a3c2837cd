//! One handle over SQLite (the embedded default: a WAL-mode file in the data dir) and
//! PostgreSQL (scale-out), with per-system migrations applied at start.
//!
//! Systems write their queries once and run them on either backend with
//! [`sql_dispatch!`](crate::sql_dispatch): both drivers accept `$1`-style parameters, so the
//! same text usually works; where the dialects differ (DDL, upserts) a system keeps two
//! migration folders. Each system's migrations are recorded in a table of its own
//! (`_migrations_<system>`), so systems never trip over each other's version numbers.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::{MAX_SQLITE_CACHE_MIB, MAX_SQLITE_MMAP_MIB, SqlConfig, redact_url};

/// SQLite waits this long for a competing writer's lock before failing a statement.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported SQL URL {url}: expected sqlite://... or postgres://...")]
    UnsupportedUrl {
        /// The redacted URL.
        url: String,
    },
    /// The URL parsed but the database could not be reached or opened.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrations of {system} failed on {url}: {source}")]
    Migrate {
        /// The system whose migrations failed.
        system: String,
        /// The redacted URL.
        url: String,
        /// The migrator's error.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// Which engine a [`Sql`] handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlBackend {
    /// The embedded default.
    Sqlite,
    /// The scale-out engine.
    Postgres,
}

/// A pooled connection to the configured database. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Sql {
    /// SQLite file in WAL mode.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Run the same query code on whichever pool the handle holds: `$pool` is bound to the
/// concrete pool in each arm, so the body is compiled once per driver.
///
/// ```no_run
/// # async fn count(sql: &blueprint_platform::sql::Sql) -> Result<i64, sqlx::Error> {
/// use blueprint_platform::sql_dispatch;
/// let users: i64 = sql_dispatch!(sql, pool => {
///     sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await
/// })?;
/// # Ok(users) }
/// ```
#[macro_export]
macro_rules! sql_dispatch {
    ($sql:expr, $pool:ident => $body:expr) => {
        match $sql {
            $crate::sql::Sql::Sqlite($pool) => $body,
            $crate::sql::Sql::Postgres($pool) => $body,
        }
    };
}

impl Sql {
    /// Connect according to `config`, with `url` already resolved (see
    /// [`Config::sql_url`](crate::config::Config::sql_url)). For SQLite the parent directory
    /// and the file are created; for PostgreSQL the configured schema is created and put on
    /// the search path of every connection.
    pub async fn connect(url: &str, config: &SqlConfig) -> Result<Sql, SqlError> {
        let redacted = redact_url(url);
        let connect_error = |source| SqlError::Connect { url: redacted.clone(), source };
        let acquire_timeout = Duration::from_millis(config.acquire_timeout_ms);
        let configuration =
            |reason: String| connect_error(sqlx::Error::Configuration(reason.into()));
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_error)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", sqlite_cache_pragma(config).map_err(configuration)?)
                .pragma("mmap_size", sqlite_mmap_pragma(config).map_err(configuration)?);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| connect_error(sqlx::Error::Io(e)))?;
            }
            // No ping before each acquire (sqlx's default): a SQLite connection has no far
            // end to lose, and the ping was a round trip to the connection's thread on
            // every query (a futex wake each way).
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(acquire_timeout)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            Ok(Sql::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut options = PgConnectOptions::from_str(url).map_err(connect_error)?;
            if let Some(schema) = &config.schema {
                validate_identifier(schema).map_err(configuration)?;
                let bootstrap = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(acquire_timeout)
                    .connect_with(options.clone())
                    .await
                    .map_err(connect_error)?;
                // The name was validated as a plain identifier just above.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
                )))
                .execute(&bootstrap)
                .await
                .map_err(connect_error)?;
                bootstrap.close().await;
                options = options.options([("search_path", schema.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            Ok(Sql::Postgres(pool))
        } else {
            Err(SqlError::UnsupportedUrl { url: redacted })
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> SqlBackend {
        match self {
            Sql::Sqlite(_) => SqlBackend::Sqlite,
            Sql::Postgres(_) => SqlBackend::Postgres,
        }
    }

    /// Apply `system`'s migrations for this backend, recorded in `_migrations_<system>`.
    pub async fn migrate(
        &self,
        system: &str,
        sqlite: &Migrator,
        postgres: &Migrator,
    ) -> Result<(), SqlError> {
        let source = match self {
            Sql::Sqlite(_) => sqlite,
            Sql::Postgres(_) => postgres,
        };
        let mut migrator = Migrator::with_migrations(source.iter().cloned().collect());
        migrator.dangerous_set_table_name(format!("_migrations_{system}"));
        let result = match self {
            Sql::Sqlite(pool) => migrator.run(pool).await,
            Sql::Postgres(pool) => migrator.run(pool).await,
        };
        result.map_err(|source| SqlError::Migrate {
            system: system.into(),
            url: self.describe(),
            source,
        })
    }

    /// `SELECT 1`.
    pub async fn ping(&self) -> Result<(), SqlError> {
        sql_dispatch!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// A short, secret-free description for logs and `/readyz`.
    pub fn describe(&self) -> String {
        match self {
            Sql::Sqlite(pool) => {
                format!("sqlite://{}", pool.connect_options().get_filename().display())
            }
            Sql::Postgres(pool) => {
                let options = pool.connect_options();
                format!(
                    "postgres://{}:{}/{}",
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or("")
                )
            }
        }
    }

    /// Close every connection.
    pub async fn close(&self) {
        sql_dispatch!(self, pool => pool.close().await)
    }
}

/// `PRAGMA cache_size` for `[sql] sqlite_cache_mib`: negative means KiB to SQLite.
fn sqlite_cache_pragma(config: &SqlConfig) -> Result<String, String> {
    if config.sqlite_cache_mib > MAX_SQLITE_CACHE_MIB {
        return Err(format!(
            "[sql] sqlite_cache_mib = {} is over the maximum {MAX_SQLITE_CACHE_MIB}",
            config.sqlite_cache_mib
        ));
    }
    Ok(format!("-{}", u64::from(config.sqlite_cache_mib) * 1024))
}

/// `PRAGMA mmap_size` for `[sql] sqlite_mmap_mib`, in bytes.
fn sqlite_mmap_pragma(config: &SqlConfig) -> Result<String, String> {
    if config.sqlite_mmap_mib > MAX_SQLITE_MMAP_MIB {
        return Err(format!(
            "[sql] sqlite_mmap_mib = {} is over the maximum {MAX_SQLITE_MMAP_MIB}",
            config.sqlite_mmap_mib
        ));
    }
    Ok((u64::from(config.sqlite_mmap_mib) << 20).to_string())
}

/// Schema names are interpolated into DDL, so only plain identifiers are allowed.
fn validate_identifier(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(format!("invalid schema name {name:?}: use letters, digits and _ (max 63)"))
    }
}

/// The `/readyz` probe for the database.
#[derive(Debug, Clone)]
pub struct SqlProbe(pub Sql);

impl crate::http::Probe for SqlProbe {
    fn name(&self) -> String {
        "sql".into()
    }
    fn target(&self) -> String {
        self.0.describe()
    }
    fn check(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|e| e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_connections_get_the_configured_cache_and_memory_map() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let config = SqlConfig { sqlite_cache_mib: 3, sqlite_mmap_mib: 64, ..SqlConfig::default() };
        let Sql::Sqlite(pool) = Sql::connect(&url, &config).await.expect("connects") else {
            panic!("not sqlite")
        };
        // Every connection of the pool, not only the first, carries the pragmas.
        let mut connections = Vec::new();
        for _ in 0..3 {
            let mut connection = pool.acquire().await.expect("acquires");
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut *connection)
                .await
                .expect("cache_size");
            let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
                .fetch_one(&mut *connection)
                .await
                .expect("mmap_size");
            assert_eq!((cache, mmap), (-3 * 1024, 64 << 20));
            connections.push(connection);
        }
    }

    #[tokio::test]
    async fn absurd_sqlite_cache_or_map_sizes_are_refused_at_connect() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        for config in [
            SqlConfig { sqlite_cache_mib: MAX_SQLITE_CACHE_MIB + 1, ..SqlConfig::default() },
            SqlConfig { sqlite_mmap_mib: MAX_SQLITE_MMAP_MIB + 1, ..SqlConfig::default() },
        ] {
            let error = Sql::connect(&url, &config).await.expect_err("refused");
            assert!(error.to_string().contains("is over the maximum"), "{error}");
        }
    }

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        assert!(validate_identifier("bp_test_1").is_ok());
        assert!(validate_identifier("x\"; DROP TABLE users; --").is_err());
        assert!(validate_identifier("1abc").is_err());
        assert!(validate_identifier("").is_err());
    }
}
