//! How a system plugs into the platform: the [`System`] trait, and the [`CATALOG`] of every
//! system Blueprint builds (so the console can show what exists and what is still planned).
//!
//! A system crate implements [`System`]; the `blueprint` binary lists it once in its
//! registry. From that one line it gets: its config section, its routes and OpenAPI paths
//! in `blueprint up` and `blueprint <name> serve`, its probes in `/readyz`, its CLI
//! subcommands, and its entry on the console.

use std::sync::Arc;

use axum::Router;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::Platform;
use crate::config::{ConfigError, LoadedConfig};
use crate::http::Probe;
use crate::http::fast::FastPath;

/// The error type systems return from mounting and commands; the binary prints its chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the console and `/api/v1/systems` say about a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    /// URL- and CLI-safe name: the config section, the `blueprint <name>` subcommand, the
    /// console page `/<name>/`.
    pub name: &'static str,
    /// Human title.
    pub title: &'static str,
    /// Book chapter (`4`) or `—` for the companions.
    pub chapter: &'static str,
    /// The crate that implements it.
    pub krate: &'static str,
}

/// What a mounted system contributes to the running server.
pub struct Mounted {
    /// Its routes (API under `/api/v1/...`, console page under `/<name>/`), with state.
    pub router: Router,
    /// The OpenAPI description of its routes.
    pub openapi: utoipa::openapi::OpenApi,
    /// Backends of its own that `/readyz` must check.
    pub probes: Vec<Arc<dyn Probe>>,
    /// Routes it answers before the middleware stack when it can ([`crate::http::fast`]).
    pub fast_paths: Vec<Arc<dyn FastPath>>,
}

/// A Blueprint system.
pub trait System: Send + Sync + 'static {
    /// Who it is.
    fn info(&self) -> SystemInfo;

    /// Validate this system's config section and return it, with defaults filled in, for
    /// `blueprint config show`. Called at startup, so a bad section fails fast.
    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError>;

    /// Build the system's state and routes on top of the shared platform.
    fn mount<'a>(&'a self, platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>>;

    /// Extra CLI subcommands under `blueprint <name>` (the platform adds `serve`).
    fn command(&self) -> clap::Command {
        clap::Command::new(self.info().name)
    }

    /// Arguments of its own on `blueprint <name> serve`, after the platform's `--host`,
    /// `--port` and `--data-dir` (autocomplete's `--shard I --of N`).
    fn serve_args(&self, serve: clap::Command) -> clap::Command {
        serve
    }

    /// Folds the arguments of [`System::serve_args`] into the configuration before the
    /// platform starts; the result is validated again with [`System::effective_config`].
    fn apply_serve_args(
        &self,
        matches: &clap::ArgMatches,
        config: LoadedConfig,
    ) -> Result<LoadedConfig, ConfigError> {
        let _ = matches;
        Ok(config)
    }

    /// Run one of the extra subcommands declared by [`System::command`]. `matches` are
    /// those of `blueprint <name>`, the chosen subcommand inside, so a clap `Subcommand`
    /// enum reads them whole with `FromArgMatches::from_arg_matches`.
    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        let _ = config;
        let name = matches.subcommand_name().unwrap_or_default().to_owned();
        Box::pin(async move { Err(format!("unknown subcommand {name}").into()) })
    }
}

/// Extract a system's section as `T` and render it back as TOML: the usual body of
/// [`System::effective_config`].
pub fn section_toml<T>(config: &LoadedConfig, name: &str) -> Result<toml::Value, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let section: T = config.section(name)?;
    toml::Value::try_from(section)
        .map_err(|e| ConfigError::Invalid(format!("cannot render [{name}]: {e}")))
}

/// Every system in the book (and the companions), in chapter order.
pub const CATALOG: [SystemInfo; 17] = [
    info("estimate", "Back-of-the-envelope estimation", "2", "estimate"),
    info("ratelimit", "Rate limiter", "4", "ratelimit"),
    info("hashring", "Consistent hashing", "5", "hashring"),
    info("kv", "Key-value store", "6", "kv"),
    info("ids", "Unique ID generator", "7", "idgen"),
    info("shortener", "URL shortener", "8", "shortener"),
    info("crawler", "Web crawler", "9", "crawler"),
    info("notify", "Notification system", "10", "notify"),
    info("feed", "News feed", "11", "feed"),
    info("chat", "Chat", "12", "chat"),
    info("autocomplete", "Search autocomplete", "13", "autocomplete"),
    info("video", "Video sharing", "14", "video"),
    info("drive", "Cloud drive", "15", "drive"),
    info("payment", "Payment system", "16", "payment"),
    info("upload", "Large file upload", "—", "upload"),
    info("txn", "Distributed transactions", "—", "txn"),
    info("seckill", "Flash sale", "—", "seckill"),
];

const fn info(
    name: &'static str,
    title: &'static str,
    chapter: &'static str,
    krate: &'static str,
) -> SystemInfo {
    SystemInfo { name, title, chapter, krate }
}
