//! Startup: connect the backends ([`Platform::start`]), mount the systems and assemble one
//! router ([`build_router`]) with the platform's own routes: the console (`/`),
//! `/api/v1/systems`, `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and auth.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use utoipa::OpenApi;

use crate::auth::{Auth, AuthError};
use crate::cache::{Cache, CacheError, CacheProbe};
use crate::clock::{Clock, SystemClock};
use crate::config::{LoadedConfig, StartupCheck};
use crate::http::health::{readiness_response, run_probes};
use crate::http::{self, Limits, Probe};
use crate::kv::{KvStore, KvStoreError, KvStoreProbe};
use crate::shutdown::ShutdownHooks;
use crate::sql::{Sql, SqlError, SqlProbe};
use crate::system::{BoxError, CATALOG, System, SystemInfo};

/// The console page, embedded so the binary needs no files and no build step.
const CONSOLE_HTML: &str = include_str!("../web/index.html");

/// Why the platform could not start. Every variant names the backend and its URL.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database.
    #[error("sql backend: {0}")]
    Sql(#[from] SqlError),
    /// The cache.
    #[error("cache backend: {0}")]
    Cache(#[from] CacheError),
    /// The key-value store.
    #[error("kv store backend: {0}")]
    Kv(#[from] KvStoreError),
    /// Auth setup.
    #[error("auth: {0}")]
    Auth(#[from] AuthError),
    /// A system failed to mount.
    #[error("system {system}: {source}")]
    System {
        /// Which one.
        system: String,
        /// Why.
        source: BoxError,
    },
}

/// The shared backends every system builds on. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Platform {
    /// The loaded configuration (platform sections plus access to system sections).
    pub config: Arc<LoadedConfig>,
    /// The relational database.
    pub sql: Sql,
    /// The cache.
    pub cache: Cache,
    /// The key-value store.
    pub kv: KvStore,
    /// Users and tokens.
    pub auth: Auth,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// What systems must finish when the server stops (see [`crate::shutdown`]).
    pub shutdown: ShutdownHooks,
}

impl Platform {
    /// Connect every configured backend and apply the platform's migrations. With
    /// `startup_check = "fail"` an unreachable cache stops startup naming it; the database
    /// is always required (migrations must run).
    pub async fn start(config: LoadedConfig) -> Result<Platform, StartError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Platform::start`] with an injected clock (tests).
    pub async fn start_with_clock(
        config: LoadedConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Platform, StartError> {
        let settings = &config.config;
        let sql = Sql::connect(&settings.sql_url(), &settings.sql).await?;
        Auth::migrate(&sql).await?;
        let cache = Cache::from_config(&settings.cache)?;
        if let Err(error) = cache.ping().await {
            match settings.server.startup_check {
                StartupCheck::Fail => return Err(error.into()),
                StartupCheck::Warn => {
                    tracing::warn!(%error, "cache backend unreachable at start; /readyz will report it")
                }
            }
        }
        let kv = KvStore::from_config(&settings.kvstore, &settings.server.data_dir)?;
        let auth = Auth::new(sql.clone(), settings.auth.clone(), clock.clone()).await?;
        Ok(Platform {
            config: Arc::new(config),
            sql,
            cache,
            kv,
            auth,
            clock,
            shutdown: ShutdownHooks::default(),
        })
    }

    /// The platform's own readiness probes. The embedded kv engine has none: it opens on
    /// first use, and a probe would open it for systems that never use it.
    pub fn probes(&self) -> Vec<Arc<dyn Probe>> {
        let mut probes: Vec<Arc<dyn Probe>> =
            vec![Arc::new(SqlProbe(self.sql.clone())), Arc::new(CacheProbe(self.cache.clone()))];
        if let KvStore::Resp(_) = &self.kv {
            probes.push(Arc::new(KvStoreProbe(self.kv.clone())));
        }
        probes
    }

    /// Request limits from `[server]`.
    pub fn limits(&self) -> Limits {
        Limits::from_server(&self.config.config.server)
    }
}

/// A registered system once mounted.
struct MountedSystem {
    info: SystemInfo,
    probes: Vec<Arc<dyn Probe>>,
}

#[derive(Clone)]
struct AppState {
    platform_probes: Arc<Vec<Arc<dyn Probe>>>,
    systems: Arc<Vec<MountedSystem>>,
    openapi: Arc<String>,
}

/// The platform's own routes, described for `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Blueprint",
        description = "Every system of System Design Interview, built for real."
    ),
    paths(
        healthz,
        readyz,
        metrics,
        systems_status,
        crate::auth::http::signup,
        crate::auth::http::login,
        crate::auth::http::logout,
        crate::auth::http::me
    ),
    components(schemas(crate::http::ErrorBody, crate::http::Readiness, SystemStatus))
)]
struct PlatformApi;

/// Mount `systems` on `platform` and assemble the full router with every layer applied.
pub async fn build_router(
    platform: &Platform,
    systems: &[Arc<dyn System>],
) -> Result<Router, StartError> {
    // Install the recorder before the first request, so no early request goes uncounted.
    let _ = http::metrics::handle();
    let mut openapi = PlatformApi::openapi();
    let mut mounted = Vec::with_capacity(systems.len());
    let mut system_routes = Router::new();
    let mut fast_paths = Vec::new();
    for system in systems {
        let info = system.info();
        let parts = system
            .mount(platform)
            .await
            .map_err(|source| StartError::System { system: info.name.into(), source })?;
        openapi.merge(parts.openapi);
        system_routes = system_routes.merge(parts.router);
        fast_paths.extend(parts.fast_paths);
        mounted.push(MountedSystem { info, probes: parts.probes });
    }
    let mut document = serde_json::to_value(&openapi).unwrap_or_default();
    http::openapi::complete(&mut document);
    let openapi_json = document.to_string();
    let state = AppState {
        platform_probes: Arc::new(platform.probes()),
        systems: Arc::new(mounted),
        openapi: Arc::new(openapi_json),
    };
    let platform_routes = Router::new()
        .route("/", get(console))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_document))
        .route("/api/v1/systems", get(systems_status))
        .with_state(state);
    let router = platform_routes
        .merge(crate::auth::routes())
        .merge(system_routes)
        .fallback(http::not_found)
        .layer(Extension(platform.auth.clone()));
    Ok(http::apply_layers_with(router, platform.limits(), fast_paths))
}

async fn console() -> Response {
    ([(header::CONTENT_TYPE, http::html_content_type())], CONSOLE_HTML).into_response()
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "platform", responses((status = 200, description = "alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: every configured backend answers.
#[utoipa::path(get, path = "/readyz", tag = "platform",
    responses((status = 200, body = crate::http::Readiness), (status = 503, body = crate::http::Readiness)))]
async fn readyz(State(state): State<AppState>) -> Response {
    let mut probes: Vec<Arc<dyn Probe>> = state.platform_probes.as_ref().clone();
    for system in state.systems.iter() {
        probes.extend(system.probes.iter().cloned());
    }
    readiness_response(run_probes(&probes).await)
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "platform", responses((status = 200, description = "Prometheus text format")))]
async fn metrics() -> Response {
    let body = http::metrics::render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn openapi_document(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi.as_ref().clone()).into_response()
}

/// A system's entry on the console.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SystemStatus {
    /// Name (and console path `/<name>/`).
    pub name: String,
    /// Human title.
    pub title: String,
    /// Book chapter.
    pub chapter: String,
    /// Implementing crate.
    #[serde(rename = "crate")]
    pub krate: String,
    /// `ready`, `down` (a backend it needs is down) or `planned` (not built yet).
    pub state: String,
    /// The console page, when the system runs here.
    pub page: Option<String>,
}

/// Every system with its state.
#[utoipa::path(get, path = "/api/v1/systems", tag = "platform", responses((status = 200, body = [SystemStatus])))]
async fn systems_status(State(state): State<AppState>) -> Json<Vec<SystemStatus>> {
    let platform_ok = run_probes(&state.platform_probes).await.iter().all(|check| check.ok);
    let mut statuses = Vec::with_capacity(CATALOG.len());
    for entry in CATALOG.iter() {
        let mounted = state.systems.iter().find(|system| system.info.name == entry.name);
        let (status, page) = match mounted {
            None => ("planned".to_owned(), None),
            Some(system) => {
                let own_ok = run_probes(&system.probes).await.iter().all(|check| check.ok);
                let status = if platform_ok && own_ok { "ready" } else { "down" };
                (status.to_owned(), Some(format!("/{}/", entry.name)))
            }
        };
        statuses.push(SystemStatus {
            name: entry.name.into(),
            title: entry.title.into(),
            chapter: entry.chapter.into(),
            krate: format!("blueprint-{}", entry.krate),
            state: status,
            page,
        });
    }
    // Systems registered but missing from the catalog still show up.
    for system in state.systems.iter() {
        if !CATALOG.iter().any(|entry| entry.name == system.info.name) {
            statuses.push(SystemStatus {
                name: system.info.name.into(),
                title: system.info.title.into(),
                chapter: system.info.chapter.into(),
                krate: system.info.krate.into(),
                state: if platform_ok { "ready".into() } else { "down".into() },
                page: Some(format!("/{}/", system.info.name)),
            });
        }
    }
    Json(statuses)
}
