//! Key-value store (chapter 6): the `[kv]` section, the LSM store under
//! `<data_dir>/<data_subdir>`, the RESP listener, the HTTP API, the `/kv/` console page and
//! the `kv-resp` readiness probe.
//!
//! The RESP server task runs until the runtime ends (`Mounted` has no shutdown hook). That
//! keeps `durability` honest: every reply is sent after the store returned, so with
//! `always` an acknowledged write is already `fsync`ed however the process ends, and with
//! `everysec` at most about a second is at risk, exactly as configured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use blueprint_kv::cli::KvCommand;
use blueprint_kv::http::{HttpState, KvApi, router};
use blueprint_kv::{CONSOLE_HTML, KvConfig, Store};
use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::{Probe, html_content_type};
use blueprint_platform::system::section_toml;
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo};
use clap::{FromArgMatches as _, Subcommand as _};
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use utoipa::OpenApi as _;

use super::kv_cluster::{self, ClusterTop};
use super::{boxed, catalog_entry};

/// The config section's name.
const SECTION: &str = "kv";
/// How long the readiness probe waits for `+PONG`: a local server answers in
/// microseconds; a second means it is stuck.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The key-value store system.
#[derive(Debug, Default)]
pub struct Kv;

impl System for Kv {
    fn info(&self) -> SystemInfo {
        catalog_entry(SECTION)
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        let kv: KvConfig = config.section(SECTION)?;
        kv_cluster::section_cluster(&kv).map_err(ConfigError::Invalid)?;
        section_toml::<KvConfig>(config, SECTION)
    }

    fn mount<'a>(&'a self, platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            let config: KvConfig = platform.config.section(SECTION)?;
            let server = &platform.config.config.server;
            let path = server.data_dir.join(&config.data_subdir);
            let durability = config.durability.into();
            let opened = path.clone();
            let store = tokio::task::spawn_blocking(move || Store::open(&opened, durability))
                .await
                .map_err(boxed)?
                .with_context(|| format!("opening the kv store in {}", path.display()))
                .map_err(boxed)?;
            let store = Arc::new(store);
            let mut probes: Vec<Arc<dyn Probe>> = Vec::new();
            if config.resp_port != 0 {
                // An ephemeral HTTP port (tests) means an ephemeral RESP port too.
                let port = if server.port == 0 { 0 } else { config.resp_port };
                let wanted = SocketAddr::new(config.resp_host, port);
                let listener = tokio::net::TcpListener::bind(wanted)
                    .await
                    .with_context(|| format!("binding the kv RESP listener on {wanted}"))
                    .map_err(boxed)?;
                let address = listener.local_addr().map_err(boxed)?;
                tracing::info!(%address, "kv RESP listening");
                let resp_store = Arc::clone(&store);
                let resp_config = config.clone();
                tokio::spawn(async move {
                    blueprint_kv::run(
                        listener,
                        resp_store,
                        &resp_config,
                        std::future::pending::<()>(),
                    )
                    .await;
                });
                probes.push(Arc::new(RespProbe { address }));
            }
            let state = HttpState { store, max_value_bytes: config.max_request_bytes };
            let router = Router::new().route("/kv/", get(page)).merge(router(state));
            Ok(Mounted { router, openapi: KvApi::openapi(), probes, fast_paths: Vec::new() })
        })
    }

    fn command(&self) -> clap::Command {
        ClusterTop::augment_subcommands(KvCommand::augment_subcommands(clap::Command::new(SECTION)))
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            if matches.subcommand_name() == Some("cluster") {
                let ClusterTop::Cluster(command) =
                    ClusterTop::from_arg_matches(matches).map_err(boxed)?;
                return kv_cluster::run(command, config).await.map_err(boxed);
            }
            let command = KvCommand::from_arg_matches(matches).map_err(boxed)?;
            let kv: KvConfig = config.section(SECTION)?;
            let default_url = format!("redis://{}", SocketAddr::new(kv.resp_host, kv.resp_port));
            blueprint_kv::cli::run(command, &default_url).await.map_err(boxed)
        })
    }
}

/// The `/kv/` console page (also served by every cluster node, see [`super::kv_cluster`]).
pub(super) async fn page() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, html_content_type())], CONSOLE_HTML)
}

/// Readiness of the RESP listener: `PING` over TCP, expecting `+PONG`.
struct RespProbe {
    address: SocketAddr,
}

impl RespProbe {
    async fn ping(&self) -> Result<(), String> {
        let mut stream = tokio::net::TcpStream::connect(self.address)
            .await
            .map_err(|error| format!("connect: {error}"))?;
        stream
            .write_all(b"*1\r\n$4\r\nPING\r\n")
            .await
            .map_err(|error| format!("write: {error}"))?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await.map_err(|error| format!("read: {error}"))?;
        if &reply == b"+PONG\r\n" {
            Ok(())
        } else {
            Err(format!("unexpected reply {:?}", String::from_utf8_lossy(&reply)))
        }
    }
}

impl Probe for RespProbe {
    fn name(&self) -> String {
        "kv-resp".into()
    }

    fn target(&self) -> String {
        format!("redis://{}", self.address)
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match tokio::time::timeout(PROBE_TIMEOUT, self.ping()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no PONG within {} ms", PROBE_TIMEOUT.as_millis())),
            }
        })
    }
}
