//! Unique ID generator (chapter 7): the `[ids]` section, a Snowflake generator on a
//! worker ID leased from the platform's database, Leaf segments over the same database,
//! UUIDv7 and ULID; the API over `blueprint_idgen::api`, the console page, and
//! `blueprint ids new|decode|bench`.
//!
//! Uniqueness across servers: every server sharing a database and a `namespace` leases a
//! distinct worker ID (a row in `idgen_worker_leases`, kept by
//! [`blueprint_idgen::LeasedSnowflake`], renewed every [`HEARTBEAT_INTERVAL`]), and every
//! segment is one conditional `UPDATE`. A server whose lease may have lapsed stops issuing
//! Snowflake IDs (503 `worker_lease_lost`) until it holds one again. Leases are not
//! released on shutdown: a server restarted within [`LEASE_TTL_MS`] gets another worker
//! ID, and one restarted later starts at least that far past the old server's last
//! timestamp, so a restart never repeats an ID.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Json;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use blueprint_idgen::api::{
    self, BitField, CONSOLE_HTML, DecodeResponse, IdKind, IdsQuery, IdsRequest, IdsResponse,
};
use blueprint_idgen::cli::{IdArgs, IdCommand};
use blueprint_idgen::segment::DEFAULT_MAX_STEP;
use blueprint_idgen::sql::{POSTGRES_MIGRATOR, SQLITE_MIGRATOR};
// Re-exported so `blueprint::systems::ids` keeps naming the lease's timings.
pub use blueprint_idgen::leased::{CLOCK_SKEW_MARGIN_MS, HEARTBEAT_INTERVAL, LEASE_TTL_MS};
use blueprint_idgen::{
    Clock as IdClock, Layout, LayoutSpec, LeasedError, LeasedSnowflake, SegmentAllocator,
    SegmentConfig, SegmentError, SegmentStore, SnowflakeError, SqlSegmentStore, SqlWorkerRegistry,
    SystemClock, UlidGenerator, Uuid7Generator,
};
use blueprint_platform::clock::Clock;
use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::{ApiError, ErrorBody, html_content_type};
use blueprint_platform::system::section_toml;
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo, sql_dispatch};
use clap::{FromArgMatches as _, Subcommand as _};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi as _;

use super::{blocking, boxed, catalog_entry};

/// The config section's name (and the catalog entry's).
const SECTION: &str = "ids";
/// Most biz tags `segment_tags` may create at mount (each is one `INSERT`).
pub const MAX_SEGMENT_TAGS: usize = 100;
/// Longest `namespace` accepted.
pub const MAX_NAMESPACE_LEN: usize = 64;
/// The first ID of a biz tag created here (0 stays free to mean "no ID").
const FIRST_SEGMENT_ID: u64 = 1;

/// The `[ids]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdsConfig {
    /// The datacenter field of every Snowflake ID this server issues (0..=31 in the
    /// default layout). Set by the operator, one value per datacenter or region.
    pub datacenter: u64,
    /// Worker IDs are leased within `<namespace>/dc<datacenter>`: servers sharing a
    /// database, a namespace and a datacenter never hold the same worker ID.
    pub namespace: String,
    /// Biz tags created at mount if absent, so `kind=segment:<tag>` works out of the box.
    pub segment_tags: Vec<String>,
    /// The stored step of the tags created here: the first segment's size and the least
    /// the dynamic step shrinks to.
    pub segment_step: u64,
}

impl Default for IdsConfig {
    fn default() -> Self {
        Self {
            datacenter: 0,
            namespace: "blueprint".into(),
            segment_tags: vec!["order".into()],
            segment_step: 1_000,
        }
    }
}

impl IdsConfig {
    /// Check every field, returning the Snowflake layout the datacenter was checked in.
    pub fn validate(&self) -> Result<Layout, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid(format!("[{SECTION}] {message}"));
        let layout = LayoutSpec::snowflake()
            .validate(SystemClock.now_ms())
            .map_err(|error| invalid(format!("Snowflake layout: {error}")))?;
        if self.datacenter > layout.max_datacenter() {
            return Err(invalid(format!(
                "datacenter = {} is out of range: the Snowflake layout allows 0..={}",
                self.datacenter,
                layout.max_datacenter()
            )));
        }
        if self.namespace.is_empty() || self.namespace.len() > MAX_NAMESPACE_LEN {
            return Err(invalid(format!("namespace must be 1 to {MAX_NAMESPACE_LEN} bytes")));
        }
        if !(1..=DEFAULT_MAX_STEP).contains(&self.segment_step) {
            return Err(invalid(format!("segment_step must be 1 to {DEFAULT_MAX_STEP}")));
        }
        if self.segment_tags.len() > MAX_SEGMENT_TAGS {
            return Err(invalid(format!("at most {MAX_SEGMENT_TAGS} segment_tags")));
        }
        for tag in &self.segment_tags {
            // The same rule as a request's `kind=segment:<tag>`, so every tag is reachable.
            if format!("segment:{tag}").parse::<IdKind>().is_err() {
                return Err(invalid(format!(
                    "segment tag {tag:?} must be 1 to {} of A-Z a-z 0-9 - _ .",
                    api::MAX_BIZ_TAG_LEN
                )));
            }
        }
        Ok(layout)
    }

    /// The lease namespace: worker IDs are unique within a datacenter.
    fn lease_namespace(&self) -> String {
        format!("{}/dc{}", self.namespace, self.datacenter)
    }
}

/// The ID generator system.
#[derive(Debug, Default)]
pub struct Ids;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(issue, decode),
    components(schemas(IdsResponse, DecodeResponse, BitField)),
    tags((name = "ids", description = "Unique ID generator (chapter 7)"))
)]
struct IdsApi;

impl System for Ids {
    fn info(&self) -> SystemInfo {
        catalog_entry(SECTION)
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        config.section::<IdsConfig>(SECTION)?.validate()?;
        section_toml::<IdsConfig>(config, SECTION)
    }

    fn mount<'a>(&'a self, platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            let service = start(platform).await.map_err(boxed)?;
            let router = Router::new()
                .route("/ids/", get(page))
                .route("/api/v1/ids", get(issue))
                .route("/api/v1/ids/{id}/decode", get(decode))
                .with_state(Arc::new(service));
            Ok(Mounted {
                router,
                openapi: IdsApi::openapi(),
                probes: Vec::new(),
                fast_paths: Vec::new(),
            })
        })
    }

    fn command(&self) -> clap::Command {
        // `blueprint id new|decode|bench` is the issue's spelling; `ids` matches the section.
        IdCommand::augment_subcommands(clap::Command::new(SECTION).visible_alias("id"))
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        _config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = IdCommand::from_arg_matches(matches).map_err(boxed)?;
            // `bench` spins CPU for seconds: off the async workers.
            blocking(move || blueprint_idgen::cli::run(IdArgs { command })).await
        })
    }
}

/// Migrate, lease a worker ID, create the configured biz tags, and build the generators.
async fn start(platform: &Platform) -> anyhow::Result<IdService> {
    let config: IdsConfig = platform.config.section(SECTION)?;
    let layout = config.validate()?;
    platform.sql.migrate("idgen", &SQLITE_MIGRATOR, &POSTGRES_MIGRATOR).await?;
    let namespace = config.lease_namespace();
    let max_workers = layout.max_worker() + 1;
    let owner = format!("blueprint pid {}", std::process::id());
    let clock = PlatformClock(Arc::clone(&platform.clock));
    let (worker, segments) = sql_dispatch!(&platform.sql, pool => {
        let registry = SqlWorkerRegistry::new(pool.clone(), namespace.clone(), max_workers);
        let worker = LeasedSnowflake::start(registry, config.datacenter, owner, clock)
            .await
            .with_context(|| format!("leasing a worker ID in namespace {namespace}"))?;
        let store = SqlSegmentStore::new(pool.clone());
        for tag in &config.segment_tags {
            store
                .insert_tag(tag, FIRST_SEGMENT_ID, config.segment_step, "created by [ids] segment_tags")
                .await
                .with_context(|| format!("creating biz tag {tag}"))?;
        }
        let allocator =
            SegmentAllocator::new(Arc::new(store), Arc::new(SystemClock), SegmentConfig::default());
        (worker, Box::new(allocator) as Box<dyn SegmentIssuer>)
    });
    tracing::info!(
        namespace,
        datacenter = config.datacenter,
        worker = worker.node().worker,
        "ids: worker ID leased"
    );
    Ok(IdService {
        worker,
        segments,
        uuid7: Uuid7Generator::new(SystemClock),
        ulid: UlidGenerator::new(SystemClock),
    })
}

/// The platform's clock as idgen's, for lease times (shared by every server).
#[derive(Debug)]
struct PlatformClock(Arc<dyn Clock>);

impl IdClock for PlatformClock {
    /// Unix ms (a clock before 1970 reads as 0: every lease looks expired).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.now_ms()).unwrap_or(0)
    }

    /// Lease times are only read, never waited on; this polls for completeness.
    fn wait_until_ms(&self, target_ms: u64) {
        while self.now_ms() < target_ms {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// A segment allocator over either SQL pool, as one object type.
trait SegmentIssuer: Send + Sync {
    fn next_ids<'a>(
        &'a self,
        biz_tag: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Vec<u64>, SegmentError>>;
}

impl<S: SegmentStore, C: IdClock> SegmentIssuer for Arc<SegmentAllocator<S, C>> {
    fn next_ids<'a>(
        &'a self,
        biz_tag: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Vec<u64>, SegmentError>> {
        Box::pin(SegmentAllocator::next_ids(self, biz_tag, count))
    }
}

/// Every generator the API serves.
struct IdService {
    worker: Arc<LeasedSnowflake<PlatformClock>>,
    segments: Box<dyn SegmentIssuer>,
    uuid7: Uuid7Generator<SystemClock>,
    ulid: UlidGenerator<SystemClock>,
}

/// Why no IDs were issued.
#[derive(Debug)]
enum IdError {
    /// A bad request, with idgen's code and status.
    Request(api::ApiError),
    /// No Snowflake ID: the worker-ID lease may have lapsed, or the generator refused.
    Snowflake(LeasedError),
    Segment(SegmentError),
}

impl IdService {
    async fn issue(&self, request: &IdsRequest) -> Result<IdsResponse, IdError> {
        let count = request.count;
        let ids: Vec<String> = match &request.kind {
            IdKind::Snowflake => self
                .worker
                .next_ids(count)
                .map_err(IdError::Snowflake)?
                .iter()
                .map(u64::to_string)
                .collect(),
            IdKind::Segment { biz_tag } => {
                let ids = self.segments.next_ids(biz_tag, count).await.map_err(IdError::Segment)?;
                ids.iter().map(u64::to_string).collect()
            }
            IdKind::Uuid7 => (0..count).map(|_| self.uuid7.next_uuid().to_string()).collect(),
            IdKind::Ulid => (0..count).map(|_| self.ulid.next_ulid().to_string()).collect(),
        };
        Ok(IdsResponse { kind: request.kind.to_string(), count: ids.len(), ids })
    }

    fn decode(&self, text: &str) -> Result<DecodeResponse, IdError> {
        let id = api::parse_id(text).map_err(IdError::Request)?;
        let layout = self.worker.layout();
        let decoded = layout.decode(id).map_err(|_| {
            IdError::Request(api::ApiError::InvalidId { id: text.chars().take(32).collect() })
        })?;
        Ok(DecodeResponse::new(&layout, &decoded))
    }
}

fn request_error(error: &api::ApiError) -> ApiError {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    ApiError::new(status, error.code(), error.to_string())
}

fn api_error(error: IdError) -> ApiError {
    match error {
        IdError::Request(error) => request_error(&error),
        IdError::Snowflake(
            LeasedError::LeaseLapsed | LeasedError::Snowflake { source: SnowflakeError::Closed },
        ) => ApiError::unavailable(
            "worker_lease_lost",
            "this server holds no live worker-ID lease for Snowflake IDs; retry shortly",
        ),
        IdError::Snowflake(LeasedError::Snowflake {
            source: SnowflakeError::ClockRolledBack { behind_ms, .. },
        }) => {
            tracing::error!(behind_ms, "ids: clock moved back");
            ApiError::unavailable("clock_rolled_back", "the server's clock moved back; retry")
        }
        IdError::Segment(SegmentError::UnknownBizTag { biz_tag }) => {
            request_error(&api::ApiError::UnknownBizTag { biz_tag })
        }
        IdError::Segment(SegmentError::Database(error)) => {
            tracing::error!(%error, "ids: segment store failed");
            ApiError::unavailable("sql_unavailable", "the segment store is unavailable")
        }
        IdError::Snowflake(error) => ApiError::internal(&error),
        IdError::Segment(error) => ApiError::internal(&error),
    }
}

async fn page() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, html_content_type())], CONSOLE_HTML)
}

/// New IDs from one generator.
#[utoipa::path(get, path = "/api/v1/ids", tag = "ids",
    params(
        ("count" = Option<String>, Query, description = "How many IDs, 1 to 10000 (default 1)"),
        ("kind" = Option<String>, Query,
            description = "snowflake (default), segment:<biz_tag>, uuid7 or ulid")),
    responses((status = 200, body = IdsResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown biz tag"),
        (status = 503, body = ErrorBody, description = "no live worker-ID lease")))]
async fn issue(
    State(service): State<Arc<IdService>>,
    query: Result<Query<IdsQuery>, QueryRejection>,
) -> Result<Json<IdsResponse>, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))?;
    let request = IdsRequest::parse(&query).map_err(|error| request_error(&error))?;
    service.issue(&request).await.map(Json).map_err(api_error)
}

/// A Snowflake ID taken apart: timestamp, datacenter, worker, sequence and their bits.
#[utoipa::path(get, path = "/api/v1/ids/{id}/decode", tag = "ids",
    params(("id" = String, Path, description = "A Snowflake ID, decimal")),
    responses((status = 200, body = DecodeResponse), (status = 400, body = ErrorBody)))]
async fn decode(
    State(service): State<Arc<IdService>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DecodeResponse>, ApiError> {
    let Path(id) =
        id.map_err(|rejection| ApiError::bad_request("invalid_id", rejection.body_text()))?;
    service.decode(&id).map(Json).map_err(api_error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_ids_subcommand_parses_into_the_idgen_command() {
        let parse = |args: &[&str]| {
            let matches = Ids.command().try_get_matches_from(args).unwrap();
            IdCommand::from_arg_matches(&matches).unwrap()
        };
        let new = parse(&["ids", "new", "--kind", "ulid", "-n", "3", "--worker", "5"]);
        assert!(
            matches!(new, IdCommand::New { ref kind, count: 3, worker: 5, .. } if kind == "ulid"),
            "{new:?}"
        );
        let decode = parse(&["ids", "decode", "42", "--json"]);
        assert!(matches!(decode, IdCommand::Decode { ref id, json: true } if id == "42"));
        let bench = parse(&["ids", "bench", "--seconds", "1", "--threads", "2"]);
        assert!(matches!(bench, IdCommand::Bench { seconds: 1, threads: 2 }));
    }

    #[test]
    fn the_default_section_is_valid_and_bad_values_are_named() {
        assert!(IdsConfig::default().validate().is_ok());
        let far = IdsConfig { datacenter: 32, ..IdsConfig::default() };
        let message = far.validate().unwrap_err().to_string();
        assert!(message.contains("datacenter = 32") && message.contains("0..=31"), "{message}");
        let tag = IdsConfig { segment_tags: vec!["a b".into()], ..IdsConfig::default() };
        assert!(tag.validate().unwrap_err().to_string().contains("\"a b\""));
        let step = IdsConfig { segment_step: 0, ..IdsConfig::default() };
        assert!(step.validate().unwrap_err().to_string().contains("segment_step"));
    }
}
