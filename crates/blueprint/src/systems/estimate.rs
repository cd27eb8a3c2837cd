//! Back-of-the-envelope estimation (chapter 2): the console API over
//! `blueprint_estimate::api` and `blueprint estimate latency | capacity | availability |
//! powers`.
//!
//! Everything is stateless except the latency measurement, which spends one to two
//! seconds of one core and allocates a quarter of a gigabyte, so at most one runs at a
//! time: the gate is a mutex whose guard the blocking measurement itself holds (a client
//! that hangs up cannot start a second run beside the first). A request that arrives
//! while one runs waits for it (no 429) and gets its result, which is served again for
//! [`LATENCY_CACHE_TTL`]; waiting is bounded by the run's own time budget.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use blueprint_estimate::api::{
    self, AvailabilityQuery, AvailabilityRow, CONSOLE_HTML, CapacityResponse, LatencyResponse,
    LatencyRow, PowerRow, ReferenceLatencyRow, ReferenceResponse,
};
use blueprint_estimate::cli::{self, Command as EstimateCommand};
use blueprint_estimate::latency::{self, LatencyReport};
use blueprint_estimate::{
    CapacitySpec, Estimate as CapacityEstimate, EstimateError, HumanEstimate,
};
use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::{ApiError, ApiJson, ErrorBody, html_content_type};
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo};
use clap::{FromArgMatches as _, Subcommand as _};
use futures::future::BoxFuture;
use tokio::sync::Mutex;
use utoipa::OpenApi as _;

use super::{blocking, boxed, catalog_entry, no_settings};

/// The config section's name (it has no settings).
const SECTION: &str = "estimate";

/// How long a latency measurement is served again: long enough that a page reload, a
/// second tab or a fuzzer calling the route in a loop costs one run, short enough that
/// "Measure this machine" a minute later measures again.
pub const LATENCY_CACHE_TTL: Duration = Duration::from_secs(30);

/// The estimation system. It has no configuration of its own.
#[derive(Debug, Default)]
pub struct Estimate;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(reference, capacity, availability, latency),
    components(schemas(
        ReferenceResponse, PowerRow, AvailabilityRow, ReferenceLatencyRow, CapacitySpec,
        CapacityResponse, CapacityEstimate, HumanEstimate, LatencyResponse, LatencyRow
    )),
    tags((name = "estimate", description = "Back-of-the-envelope estimation (chapter 2)"))
)]
struct EstimateApi;

impl System for Estimate {
    fn info(&self) -> SystemInfo {
        catalog_entry(SECTION)
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        no_settings(config, SECTION)
    }

    fn mount<'a>(&'a self, _platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            // The scratch file is transient (written, read, removed within a run): the
            // system's temporary directory, not the data dir.
            let service =
                LatencyService { scratch_dir: std::env::temp_dir(), ..Default::default() };
            let router = Router::new()
                .route("/estimate/", get(page))
                .route("/api/v1/estimate/reference", get(reference))
                .route("/api/v1/estimate/capacity", post(capacity))
                .route("/api/v1/estimate/availability", get(availability))
                .route("/api/v1/estimate/latency", post(latency))
                .with_state(Arc::new(service));
            Ok(Mounted {
                router,
                openapi: EstimateApi::openapi(),
                probes: Vec::new(),
                fast_paths: Vec::new(),
            })
        })
    }

    fn command(&self) -> clap::Command {
        EstimateCommand::augment_subcommands(clap::Command::new(SECTION))
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        _config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = EstimateCommand::from_arg_matches(matches).map_err(boxed)?;
            // `latency` blocks for one to two seconds: off the async workers.
            let report = blocking(move || cli::run(&command)).await?;
            print!("{report}");
            Ok(())
        })
    }
}

/// The last latency measurement, behind the one-at-a-time gate.
#[derive(Default)]
struct LatencyService {
    scratch_dir: PathBuf,
    last: Arc<Mutex<Option<Cached>>>,
}

struct Cached {
    at: Instant,
    report: LatencyReport,
}

impl LatencyService {
    /// The cached report if younger than [`LATENCY_CACHE_TTL`], else a new measurement.
    async fn measure(&self) -> Result<LatencyResponse, ApiError> {
        let mut last = Arc::clone(&self.last).lock_owned().await;
        if let Some(cached) = last.as_ref() {
            let age = cached.at.elapsed();
            if age < LATENCY_CACHE_TTL {
                return Ok(api::latency_response(&cached.report, true, age));
            }
        }
        let dir = self.scratch_dir.clone();
        // The guard moves into the blocking task: the gate stays shut until the run ends,
        // even if this request is dropped meanwhile.
        let measured = tokio::task::spawn_blocking(move || {
            let report = latency::measure(&dir)?;
            let response = api::latency_response(&report, false, Duration::ZERO);
            *last = Some(Cached { at: Instant::now(), report });
            Ok::<_, latency::MeasureError>(response)
        })
        .await;
        match measured {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(ApiError::internal(&error)),
            Err(error) => Err(ApiError::internal(&error)),
        }
    }
}

async fn page() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, html_content_type())], CONSOLE_HTML)
}

fn api_error(error: &EstimateError) -> ApiError {
    ApiError::bad_request(error.code(), error.to_string())
}

/// The static tables: powers of two, availability, the book's latency numbers, and the
/// Twitter example's assumptions.
#[utoipa::path(get, path = "/api/v1/estimate/reference", tag = "estimate",
    responses((status = 200, body = ReferenceResponse)))]
async fn reference() -> Json<ReferenceResponse> {
    Json(api::reference())
}

/// QPS and storage from assumptions, with the assumptions and arithmetic written out. A
/// value outside its limits is refused with 400 and the code `invalid_<field>`.
#[utoipa::path(post, path = "/api/v1/estimate/capacity", tag = "estimate",
    request_body = CapacitySpec,
    responses((status = 200, body = CapacityResponse),
        (status = 400, body = ErrorBody, description = "a value out of range (`invalid_<field>`) or malformed JSON"),
        (status = 422, body = ErrorBody, description = "a field missing, unknown or of the wrong type")))]
async fn capacity(
    ApiJson(spec): ApiJson<CapacitySpec>,
) -> Result<Json<CapacityResponse>, ApiError> {
    api::capacity(&spec).map(Json).map_err(|error| api_error(&error))
}

/// The downtime an availability allows per day, week, month and year.
#[utoipa::path(get, path = "/api/v1/estimate/availability", tag = "estimate",
    params(AvailabilityQuery),
    responses((status = 200, body = AvailabilityRow),
        (status = 400, body = ErrorBody, description = "`invalid_fraction`: missing, not a number, or not strictly between 0 and 1")))]
async fn availability(
    query: Result<Query<AvailabilityQuery>, QueryRejection>,
) -> Result<Json<AvailabilityRow>, ApiError> {
    let Query(query) = query
        .map_err(|rejection| ApiError::bad_request("invalid_fraction", rejection.body_text()))?;
    api::availability(&query).map(Json).map_err(|error| api_error(&error))
}

/// Measure this machine's latencies beside the book's (1–2 s). One measurement runs
/// at a time; a request arriving during one waits for it and shares its result, which is
/// served again (`cached: true`) for 30 s.
#[utoipa::path(post, path = "/api/v1/estimate/latency", tag = "estimate",
    responses((status = 200, body = LatencyResponse),
        (status = 500, body = ErrorBody, description = "a probe's I/O (loopback socket, scratch file) failed")))]
async fn latency(
    State(service): State<Arc<LatencyService>>,
) -> Result<Json<LatencyResponse>, ApiError> {
    service.measure().await.map(Json)
}
