//! Test helpers for Blueprint: start an app on `127.0.0.1:0` with a temporary data dir and
//! the chosen backends, and get its base URL and an HTTP client.
//!
//! Tests isolate themselves so they can run in parallel: a fresh SQLite file per app, a
//! fresh PostgreSQL schema per app, a fresh Redis key prefix per app.
//!
//! Backends other than the embedded defaults come from environment variables:
//! `BLUEPRINT_TEST_POSTGRES_URL`, `BLUEPRINT_TEST_REDIS_URL`, `BLUEPRINT_TEST_NATS_URL`.
//! When one is unset the test that needs it prints a visible `skipped:` line and passes,
//! unless `BLUEPRINT_REQUIRE_SERVICES=1` (CI), where a missing service is a failure.
//!
//! # Example
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! let app = blueprint_testkit::spawn_app(blueprint_testkit::Backends::default(), vec![]).await?;
//! let status = app.client.get(app.url("/healthz")).send().await?.status();
//! assert_eq!(status, 200);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use blueprint_platform::clock::{Clock, SystemClock};
use blueprint_platform::config::{Config, LoadedConfig, StartupCheck};
use blueprint_platform::{Platform, System, app, http};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Environment variable with a PostgreSQL URL for tests.
pub const POSTGRES_URL_ENV: &str = "BLUEPRINT_TEST_POSTGRES_URL";
/// Environment variable with a Redis URL for tests.
pub const REDIS_URL_ENV: &str = "BLUEPRINT_TEST_REDIS_URL";
/// Environment variable with a NATS URL for tests.
pub const NATS_URL_ENV: &str = "BLUEPRINT_TEST_NATS_URL";
/// When `1`, a missing service URL fails the test instead of skipping it.
pub const REQUIRE_SERVICES_ENV: &str = "BLUEPRINT_REQUIRE_SERVICES";
/// How long [`TestApp::shutdown`] lets the systems' shutdown hooks run.
pub const SHUTDOWN_HOOKS_DEADLINE: Duration = Duration::from_secs(30);

/// Which SQL engine a test app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlChoice {
    /// A fresh SQLite file in the app's temporary data dir.
    Sqlite,
    /// A fresh schema in the database at this URL.
    Postgres(String),
}

/// Which cache a test app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheChoice {
    /// In-process.
    Memory,
    /// Redis at this URL, with a fresh key prefix.
    Redis(String),
}

/// The backends for a test app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backends {
    /// SQL engine.
    pub sql: SqlChoice,
    /// Cache.
    pub cache: CacheChoice,
}

impl Default for Backends {
    fn default() -> Self {
        Backends { sql: SqlChoice::Sqlite, cache: CacheChoice::Memory }
    }
}

/// The URL in `variable`, or `None` after printing a visible skip notice; panics when
/// `BLUEPRINT_REQUIRE_SERVICES=1` and the variable is unset.
pub fn service_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var(REQUIRE_SERVICES_ENV).as_deref() == Ok("1") {
                panic!("{variable} is not set but {REQUIRE_SERVICES_ENV}=1 requires it");
            }
            eprintln!("skipped: {variable} not set; this part of the test did not run");
            None
        }
    }
}

/// The SQL engines to test on: SQLite always, PostgreSQL when configured.
pub fn sql_choices() -> Vec<SqlChoice> {
    let mut choices = vec![SqlChoice::Sqlite];
    if let Some(url) = service_url(POSTGRES_URL_ENV) {
        choices.push(SqlChoice::Postgres(url));
    }
    choices
}

/// The caches to test on: in-process always, Redis when configured.
pub fn cache_choices() -> Vec<CacheChoice> {
    let mut choices = vec![CacheChoice::Memory];
    if let Some(url) = service_url(REDIS_URL_ENV) {
        choices.push(CacheChoice::Redis(url));
    }
    choices
}

/// A unique, identifier-safe name for a schema or key prefix.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A platform config for tests: port 0, a temporary data dir, and `backends`.
pub fn test_config(data_dir: PathBuf, backends: &Backends) -> Config {
    let mut config = Config::default();
    config.server.port = 0;
    config.server.data_dir = data_dir.clone();
    config.server.shutdown_grace_ms = 5_000;
    // Cheap hashing: tests exercise the flow, not the cost.
    config.auth.argon2_memory_kib = 1024;
    config.auth.argon2_iterations = 1;
    match &backends.sql {
        SqlChoice::Sqlite => {
            config.sql.url = Some(format!("sqlite://{}", data_dir.join("test.db").display()))
        }
        SqlChoice::Postgres(url) => {
            config.sql.url = Some(url.clone());
            config.sql.schema = Some(unique_name("bp_test"));
            config.sql.max_connections = 4;
        }
    }
    if let CacheChoice::Redis(url) = &backends.cache {
        config.cache.url = Some(url.clone());
        config.cache.prefix = format!("{}:", unique_name("bp_test"));
    }
    config
}

/// A running test app.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// A client with a timeout, so a hung server fails the test instead of hanging it.
    pub client: reqwest::Client,
    /// The shared backends, for direct assertions.
    pub platform: Platform,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// `GET path`: the status and the JSON body. Panics (failing the test) when the
    /// request fails or the body is not JSON.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET failed");
        let status = response.status().as_u16();
        (status, response.json().await.expect("the body is not JSON"))
    }

    /// `POST path` with `body` as JSON: the status and the JSON body. Panics like
    /// [`TestApp::get_json`].
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let request = self.client.post(self.url(path)).json(&body);
        let response = request.send().await.expect("POST failed");
        let status = response.status().as_u16();
        (status, response.json().await.expect("the body is not JSON"))
    }

    /// Trigger graceful shutdown, wait for the server to finish draining, then run the
    /// systems' shutdown hooks (an error names any that did not finish).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.context("server task panicked")?.context("server failed")?;
        }
        // As `blueprint serve` does once requests are done.
        let unfinished = self.platform.shutdown.run(SHUTDOWN_HOOKS_DEADLINE).await;
        anyhow::ensure!(unfinished.is_empty(), "shutdown hooks did not finish: {unfinished:?}");
        Ok(())
    }

    /// Signal shutdown without waiting, returning the server task to await later.
    pub fn begin_shutdown(&mut self) -> Option<JoinHandle<std::io::Result<()>>> {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        self.server.take()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// Start an app with `backends` and `systems` on a random port.
pub async fn spawn_app(
    backends: Backends,
    systems: Vec<Arc<dyn System>>,
) -> anyhow::Result<TestApp> {
    spawn_with(backends, systems, Arc::new(SystemClock), |_| {}).await
}

/// [`spawn_app`] with an injected clock and a hook to adjust the config.
pub async fn spawn_with(
    backends: Backends,
    systems: Vec<Arc<dyn System>>,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<TestApp> {
    spawn_configured(backends, systems, clock, adjust, |loaded, _| Ok(loaded)).await
}

/// [`spawn_with`] plus a hook that sees the data dir and may add system sections
/// ([`LoadedConfig::with_section`]) or write files there (a rules file, say) before the
/// systems mount.
pub async fn spawn_configured(
    backends: Backends,
    systems: Vec<Arc<dyn System>>,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
    sections: impl FnOnce(LoadedConfig, &std::path::Path) -> anyhow::Result<LoadedConfig>,
) -> anyhow::Result<TestApp> {
    let data_dir = tempfile::tempdir().context("creating the data dir")?;
    let mut config = test_config(data_dir.path().to_path_buf(), &backends);
    adjust(&mut config);
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    let loaded = sections(LoadedConfig::from_config(config), data_dir.path())
        .context("configuring the systems")?;
    let platform =
        Platform::start_with_clock(loaded, clock).await.context("starting the platform")?;
    let router = app::build_router(&platform, &systems).await.context("building the router")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding")?;
    let address = listener.local_addr().context("local address")?;
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        router,
        async move {
            let _ = shutdown_rx.await;
        },
        grace,
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    Ok(TestApp {
        address,
        client,
        platform,
        shutdown: Some(shutdown_tx),
        server: Some(server),
        _data_dir: data_dir,
    })
}

/// Config with startup checks relaxed, for tests that start with a backend down.
pub fn tolerate_down_backends(config: &mut Config) {
    config.server.startup_check = StartupCheck::Warn;
}

/// Parse a JSON error body and return its `code`.
pub fn error_code(body: &serde_json::Value) -> Option<&str> {
    body.get("error")?.get("code")?.as_str()
}
