//! Shared infrastructure for every Blueprint system: configuration, telemetry, HTTP
//! (errors, limits, health, metrics, graceful shutdown), SQL, cache, auth, OpenAPI, and the
//! [`System`](system::System) trait through which a system plugs in.
//!
//! Each concern has one interface with an embedded default (SQLite, in-process cache) and a
//! scale-out engine (PostgreSQL, Redis), chosen in `blueprint.toml` or `BLUEPRINT_*`
//! variables, never in code.
//!
//! What it is not: a framework that hides axum or sqlx. Systems write ordinary axum
//! handlers and sqlx queries; the platform only supplies the shared parts.
//!
//! # Layout
//! - [`config`]: `blueprint.toml` + environment layering, typed sections, redaction.
//! - [`telemetry`]: `tracing` setup (pretty or JSON).
//! - [`http`]: [`ApiError`](http::ApiError), the middleware stack, `/healthz`, `/readyz`,
//!   `/metrics`, [`serve`](http::serve) with graceful shutdown.
//! - [`sql`]: [`Sql`](sql::Sql) over SQLite and PostgreSQL, per-system migrations.
//! - [`cache`]: [`Cache`](cache::Cache) over moka and Redis.
//! - [`kv`]: [`KvStore`](kv::KvStore) over the `lsm` engine in-process and any RESP
//!   endpoint (a `blueprint kv` node or Redis).
//! - [`resp`]: the lazily connected RESP client the cache and kv backends share.
//! - [`auth`]: users, Argon2id, bearer tokens, the [`CurrentUser`](auth::CurrentUser)
//!   extractor.
//! - [`system`]: the [`System`](system::System) trait and the catalog of systems.
//! - [`app`]: [`Platform::start`](app::Platform::start) and
//!   [`build_router`](app::build_router).
//! - [`clock`]: injectable time.
//!
//! Queue, pub/sub and blob backends arrive with the systems that first need them, as
//! further modules with the same shape (one interface, embedded default, scale-out).
//!
//! # Limits
//! Request bodies (`server.body_limit_bytes`, default 1 MiB), request time
//! (`server.request_timeout_ms`, 30 s), shutdown grace (`server.shutdown_grace_ms`, 10 s),
//! in-process cache size (`cache.memory_max_bytes`, 64 MiB), passwords (8–256 chars).
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use blueprint_platform::{app, config::LoadedConfig, http};
//! let config = LoadedConfig::load(None, &[])?;
//! let platform = app::Platform::start(config).await?;
//! let router = app::build_router(&platform, &[]).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! http::serve(listener, router, http::shutdown_signal(), std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

pub mod app;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod http;
pub mod kv;
pub mod resp;
pub mod shutdown;
pub mod sql;
pub mod system;
pub mod telemetry;

pub use app::{Platform, StartError, build_router};
pub use system::{BoxError, Mounted, System, SystemInfo};
