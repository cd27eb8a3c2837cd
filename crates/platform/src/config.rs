//! Configuration: `blueprint.toml` layered under `BLUEPRINT_<SECTION>__<KEY>` variables.
//!
//! The platform owns the sections every system shares (`server`, `telemetry`, `sql`,
//! `cache`, `auth`); each registered system owns the section named after it and extracts
//! it with [`LoadedConfig::section`]. Every section denies unknown keys, and a top-level key
//! that is neither a platform section nor a registered system is refused, so a typo never
//! silently falls back to a default.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override the file, e.g.
/// `BLUEPRINT_SERVER__PORT=9090` sets `server.port`.
pub const ENV_PREFIX: &str = "BLUEPRINT_";
/// Separator between section and key in environment variable names.
pub const ENV_SEPARATOR: &str = "__";
/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_PATH_ENV: &str = "BLUEPRINT_CONFIG";
/// The platform's own sections; system sections are added by registration.
pub const PLATFORM_SECTIONS: [&str; 6] = ["server", "telemetry", "sql", "cache", "kvstore", "auth"];

/// Why a configuration could not be loaded. Each variant names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` or `BLUEPRINT_CONFIG` names a file that does not exist.
    #[error("config file {path} does not exist")]
    MissingFile {
        /// The path that was given.
        path: PathBuf,
    },
    /// A top-level key that no section claims.
    #[error("unknown config section `{key}` in {source_name} (known sections: {known})")]
    UnknownSection {
        /// The offending key.
        key: String,
        /// Where it came from: the file path or the environment variable.
        source_name: String,
        /// The sections that exist.
        known: String,
    },
    /// A value that does not parse, an unknown key inside a section, or bad TOML.
    #[error("{0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        // figment's messages already carry the key path and the source (file or env var);
        // join every error so none is hidden behind the first.
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        ConfigError::Invalid(messages.join("; "))
    }
}

/// The platform's part of the effective configuration. Unknown top-level keys are checked
/// against the registered systems by [`LoadedConfig::from_figment`], not by serde, because
/// system sections live beside these.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Where and how the HTTP server listens.
    pub server: ServerConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
    /// The relational database.
    pub sql: SqlConfig,
    /// The cache.
    pub cache: CacheConfig,
    /// The key-value store.
    pub kvstore: KvStoreConfig,
    /// Users and bearer tokens.
    pub auth: AuthConfig,
}

/// `[server]`: the HTTP listener and its limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind. Loopback by default: exposing the console is a deliberate choice.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one (tests).
    pub port: u16,
    /// Directory for the SQLite file and other local state.
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes; larger bodies get a JSON 413.
    pub body_limit_bytes: usize,
    /// A request still running after this long gets a JSON 408, so one slow client or
    /// backend cannot hold a worker forever.
    pub request_timeout_ms: u64,
    /// On SIGINT/SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace_ms: u64,
    /// What to do when a backend is unreachable at start: `fail` (exit naming it) or
    /// `warn` (start anyway; `/readyz` reports 503 until it is back).
    pub startup_check: StartupCheck,
    /// Threads of the async runtime that serves every listener (HTTP, RESP); 0, the
    /// default, is one per core. Fewer leave cores to other processes on the machine
    /// (a load generator, a database); `bench/kv-redis.sh` takes `WORKERS=`.
    pub worker_threads: usize,
}

/// Most `server.worker_threads`: a larger count is a typo, not a machine.
pub const MAX_WORKER_THREADS: usize = 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            data_dir: PathBuf::from("data"),
            body_limit_bytes: 1024 * 1024,
            request_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            startup_check: StartupCheck::Fail,
            worker_threads: 0,
        }
    }
}

/// See [`ServerConfig::startup_check`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StartupCheck {
    /// Refuse to start, naming the backend and its URL.
    Fail,
    /// Start, log a warning, and report not-ready.
    Warn,
}

/// `[telemetry]`: logs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// A `tracing` filter (`info`, `blueprint=debug,tower_http=info`); `RUST_LOG` wins.
    pub level: String,
    /// `auto` (pretty on a terminal, JSON otherwise), `pretty` or `json`.
    pub format: LogFormat,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { level: "info".into(), format: LogFormat::Auto }
    }
}

/// See [`TelemetryConfig::format`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    Auto,
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[sql]`: the relational database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SqlConfig {
    /// `sqlite://path` or `postgres://...`; unset means `sqlite://<data_dir>/blueprint.db`.
    pub url: Option<String>,
    /// PostgreSQL schema to use (created if missing); isolates tests and tenants.
    pub schema: Option<String>,
    /// Pool size. SQLite serialises writers anyway; PostgreSQL benefits from more.
    pub max_connections: u32,
    /// How long to wait for a connection before failing the request.
    pub acquire_timeout_ms: u64,
    /// SQLite: page cache of each connection, in MiB (`PRAGMA cache_size`; SQLite's own
    /// default is 2 MiB). Pages are allocated as they are used.
    pub sqlite_cache_mib: u32,
    /// SQLite: how much of the database file is read through a memory map instead of
    /// `pread` into the page cache (`PRAGMA mmap_size`), in MiB; 0 turns it off. Shared by
    /// every connection (it is the OS page cache), so a lookup in a database larger than
    /// the page cache costs a memory access, not a system call and a copy.
    pub sqlite_mmap_mib: u32,
}

/// Largest `sqlite_cache_mib` accepted.
pub const MAX_SQLITE_CACHE_MIB: u32 = 4096;
/// Largest `sqlite_mmap_mib` accepted (SQLite caps the map at its compile-time
/// `SQLITE_MAX_MMAP_SIZE` anyway).
pub const MAX_SQLITE_MMAP_MIB: u32 = 1 << 20;

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            url: None,
            schema: None,
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            sqlite_cache_mib: 8,
            sqlite_mmap_mib: 1024,
        }
    }
}

/// `[cache]`: in-process by default, Redis when `url` is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://host:port/db`; unset means the in-process cache.
    pub url: Option<String>,
    /// Prefix for every Redis key, so several deployments or tests can share a server.
    pub prefix: String,
    /// Upper bound of the in-process cache, in bytes of keys plus values.
    pub memory_max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { url: None, prefix: "bp:".into(), memory_max_bytes: 64 * 1024 * 1024 }
    }
}

/// `[kvstore]`: the key-value store systems keep data in: the `lsm` engine in-process by
/// default, any RESP endpoint (a `blueprint kv` node or Redis) when `url` is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KvStoreConfig {
    /// `redis://host:port/db`; unset means the embedded engine.
    pub url: Option<String>,
    /// Prefix for every key on a RESP endpoint, so deployments or tests can share it.
    pub prefix: String,
    /// The embedded engine's directory under the data dir.
    pub data_subdir: String,
}

impl Default for KvStoreConfig {
    fn default() -> Self {
        KvStoreConfig { url: None, prefix: "bp:".into(), data_subdir: "kvstore".into() }
    }
}

/// `[auth]`: users and bearer tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a token issued at login, in seconds.
    pub token_ttl_s: u64,
    /// Argon2id memory cost in KiB (OWASP's minimum is 19 MiB).
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token_ttl_s: 30 * 24 * 3600,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
        }
    }
}

impl Config {
    /// The SQL URL in effect: the configured one, or the SQLite file in the data dir.
    pub fn sql_url(&self) -> String {
        match &self.sql.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.server.data_dir.join("blueprint.db").display()),
        }
    }
}

/// The loaded layers plus the platform sections extracted from them; systems extract
/// their own section from the same layers.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The platform sections.
    pub config: Config,
    figment: Figment,
}

impl LoadedConfig {
    /// Load defaults, then the file (if any), then `BLUEPRINT_<SECTION>__<KEY>` variables.
    /// `system_sections` are the names of registered systems, which may appear as sections.
    pub fn load(path: Option<&Path>, system_sections: &[&str]) -> Result<Self, ConfigError> {
        let env = Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains(ENV_SEPARATOR))
            .split(ENV_SEPARATOR);
        Self::load_with(path, env, system_sections)
    }

    /// Like [`LoadedConfig::load`] with an explicit environment provider (for tests).
    pub fn load_with(
        path: Option<&Path>,
        env: Env,
        system_sections: &[&str],
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError::MissingFile { path: path.to_path_buf() });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(env);
        Self::from_figment(figment, system_sections)
    }

    /// Validate and extract from a prepared figment (defaults must already be merged).
    pub fn from_figment(figment: Figment, system_sections: &[&str]) -> Result<Self, ConfigError> {
        let known: BTreeSet<&str> =
            PLATFORM_SECTIONS.iter().chain(system_sections.iter()).copied().collect();
        let top: figment::value::Dict = figment.extract()?;
        for key in top.keys() {
            if !known.contains(key.as_str()) {
                let source_name = figment
                    .find_metadata(key)
                    .map(|meta| match &meta.source {
                        Some(source) => source.to_string(),
                        None => meta.name.to_string(),
                    })
                    .unwrap_or_else(|| "configuration".into());
                return Err(ConfigError::UnknownSection {
                    key: key.clone(),
                    source_name,
                    known: known.iter().copied().collect::<Vec<_>>().join(", "),
                });
            }
        }
        let config: Config = figment.extract()?;
        if config.server.worker_threads > MAX_WORKER_THREADS {
            return Err(ConfigError::Invalid(format!(
                "server.worker_threads = {}: at most {MAX_WORKER_THREADS} (0 is one per core)",
                config.server.worker_threads
            )));
        }
        Ok(LoadedConfig { config, figment })
    }

    /// Build from a ready-made platform config (tests, embedding), with no system sections.
    pub fn from_config(config: Config) -> Self {
        let figment = Figment::from(Serialized::defaults(config.clone()));
        LoadedConfig { config, figment }
    }

    /// Add or replace a system's section (tests, embedding).
    pub fn with_section<T: Serialize>(mut self, name: &str, value: T) -> Self {
        self.figment = self.figment.merge(Serialized::default(name, value));
        self
    }

    /// Extract a system's section; an absent section yields `T::default()`.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        if self.figment.find_value(name).is_err() {
            return Ok(T::default());
        }
        Ok(self.figment.extract_inner(name)?)
    }

    /// The effective platform sections as TOML with secrets redacted.
    pub fn platform_toml(&self) -> Result<toml::Table, ConfigError> {
        let value = toml::Table::try_from(&self.config)
            .map_err(|e| ConfigError::Invalid(format!("cannot render config: {e}")))?;
        Ok(value)
    }
}

/// Names of keys whose values are secrets and never printed.
const SECRET_KEY_MARKERS: [&str; 5] = ["password", "secret", "token", "api_key", "private_key"];

/// Replace secret values in a TOML tree: values of keys that look like secrets, and the
/// password part of any URL (`postgres://user:pw@host` → `postgres://user:***@host`).
pub fn redact(table: &mut toml::Table) {
    for (key, value) in table.iter_mut() {
        let lower = key.to_ascii_lowercase();
        let secret_key = SECRET_KEY_MARKERS.iter().any(|marker| lower.contains(marker))
            && !lower.ends_with("_ttl_s");
        redact_value(value, secret_key);
    }
}

fn redact_value(value: &mut toml::Value, secret_key: bool) {
    match value {
        toml::Value::String(text) if secret_key => *text = "***".into(),
        toml::Value::String(text) => *text = redact_url(text),
        toml::Value::Table(table) => redact(table),
        toml::Value::Array(items) => {
            items.iter_mut().for_each(|item| redact_value(item, secret_key))
        }
        _ if secret_key => *value = toml::Value::String("***".into()),
        _ => {}
    }
}

/// Hide the password of a URL, leaving everything else (including non-URLs) unchanged.
pub fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // set_password fails only for URLs that cannot have one, which is excluded above.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("blueprint.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An environment provider that sees no variables: a unique prefix nobody sets.
    fn no_env() -> Env {
        Env::prefixed(&format!("BPTEST{}_", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn an_absurd_worker_thread_count_is_refused_at_load_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[server]\nworker_threads = 100000\n");
        let error = LoadedConfig::load_with(Some(&path), no_env(), &[]).unwrap_err();
        assert!(error.to_string().contains("server.worker_threads = 100000"), "{error}");
        let path = write(dir.path(), "[server]\nworker_threads = 3\n");
        let loaded = LoadedConfig::load_with(Some(&path), no_env(), &[]).unwrap();
        assert_eq!(loaded.config.server.worker_threads, 3);
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let loaded = LoadedConfig::load_with(None, no_env(), &[]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.config.server.port, 8080);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("blueprint.toml", "[server]\nport = 9000\nhost = \"0.0.0.0\"\n")?;
            jail.set_env("BLUEPRINT_SERVER__PORT", "9100");
            let loaded = LoadedConfig::load(Some(Path::new("blueprint.toml")), &[])
                .map_err(|e| e.to_string())?;
            assert_eq!(loaded.config.server.port, 9100);
            assert_eq!(loaded.config.server.host.to_string(), "0.0.0.0");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn unrelated_blueprint_variables_are_not_config_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BLUEPRINT_CONFIG", "/nonexistent");
            jail.set_env("BLUEPRINT_TEST_POSTGRES_URL", "postgres://x");
            let loaded = LoadedConfig::load(None, &[]).map_err(|e| e.to_string())?;
            assert_eq!(loaded.config, Config::default());
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_inside_a_section_is_rejected_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[server]\nprot = 1\n");
        let error = LoadedConfig::load_with(Some(&path), no_env(), &[]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("prot"), "{message}");
        assert!(message.contains("blueprint.toml"), "{message}");
    }

    #[test]
    fn an_unknown_section_is_rejected_naming_it_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[sevrer]\nport = 1\n");
        let error = LoadedConfig::load_with(Some(&path), no_env(), &[]).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ConfigError::UnknownSection { .. }), "{message}");
        assert!(message.contains("sevrer") && message.contains("blueprint.toml"), "{message}");
    }

    #[test]
    fn a_registered_system_section_is_accepted_and_extracted() {
        #[derive(Debug, Default, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields, default)]
        struct Demo {
            limit: u32,
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[demo]\nlimit = 7\n");
        let loaded = LoadedConfig::load_with(Some(&path), no_env(), &["demo"]).unwrap();
        assert_eq!(loaded.section::<Demo>("demo").unwrap(), Demo { limit: 7 });
        assert_eq!(loaded.section::<Demo>("absent").unwrap(), Demo::default());
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[server]\nport = \"eighty\"\n");
        let message = LoadedConfig::load_with(Some(&path), no_env(), &[]).unwrap_err().to_string();
        assert!(message.contains("port") && message.contains("blueprint.toml"), "{message}");
    }

    #[test]
    fn malformed_toml_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[server\nport = 1\n");
        let message = LoadedConfig::load_with(Some(&path), no_env(), &[]).unwrap_err().to_string();
        assert!(message.contains("blueprint.toml"), "{message}");
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let error = LoadedConfig::load_with(Some(Path::new("/nonexistent/b.toml")), no_env(), &[])
            .unwrap_err();
        assert!(matches!(error, ConfigError::MissingFile { .. }));
    }

    #[test]
    fn redaction_hides_url_passwords_and_secret_keys() {
        let mut table: toml::Table = toml::from_str(
            "[sql]\nurl = \"postgres://app:hunter2@db/x\"\n[mail]\nsmtp_password = \"pw\"\ntoken_ttl_s = 5\n",
        )
        .unwrap();
        redact(&mut table);
        let text = toml::to_string(&table).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("\"pw\""), "{text}");
        assert!(text.contains("app:***@db"), "{text}");
        assert!(text.contains("token_ttl_s = 5"), "{text}");
    }
}
