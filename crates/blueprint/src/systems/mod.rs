//! The glue between each system's library crate and the platform: one [`System`]
//! implementation per system, reading its config section, mounting its routes and
//! OpenAPI paths, naming its probes and dispatching its CLI subcommands.
//!
//! The system crates stay free of the platform (their cores are pure and their HTTP
//! pieces plain axum); this module is where they meet it.
//!
//! [`System`]: blueprint_platform::System

pub mod autocomplete;
pub mod estimate;
pub mod hashring;
pub mod ids;
pub mod kv;
pub mod kv_cluster;
pub mod ratelimit;
pub mod shortener;

use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::{BoxError, SystemInfo, system::CATALOG};

/// The catalog entry named `name`, so a system's title, chapter and crate are stated once.
/// A name missing from [`CATALOG`] (a typo) yields an entry named `unknown`, which the
/// test `every_registered_system_is_in_the_catalog_under_its_own_name` refuses.
fn catalog_entry(name: &str) -> SystemInfo {
    match CATALOG.iter().find(|entry| entry.name == name) {
        Some(entry) => *entry,
        None => SystemInfo { name: "unknown", title: "unknown", chapter: "—", krate: "unknown" },
    }
}

/// Box any error (an `anyhow` chain keeps its context when printed with `{:#}`).
fn boxed(error: impl Into<anyhow::Error>) -> BoxError {
    let error: anyhow::Error = error.into();
    error.into()
}

/// Runs `work` (a CLI command's CPU or file work) on the blocking pool, off the async
/// workers; a lost task and the command's own error both come back boxed.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, BoxError> {
    tokio::task::spawn_blocking(work).await.map_err(boxed)?.map_err(boxed)
}

/// `effective_config` of a system without settings: its section must be empty (or absent),
/// so a key meant for another section is refused by name instead of silently ignored.
fn no_settings(config: &LoadedConfig, section: &str) -> Result<toml::Value, ConfigError> {
    let table: toml::Table = config.section(section)?;
    match table.keys().next() {
        Some(key) => Err(ConfigError::Invalid(format!(
            "[{section}] has no settings, found unknown key `{key}`"
        ))),
        None => Ok(toml::Value::Table(table)),
    }
}
