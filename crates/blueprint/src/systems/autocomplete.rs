//! Search autocomplete (chapter 13): the `[autocomplete]` section, the first trie (the
//! Trie DB snapshot, else the analytics log, else a seeded sample log on a first run),
//! the rebuild worker that aggregates the log and swaps a new trie in, the query service
//! routes, the `/autocomplete/` page and `blueprint autocomplete build|query|generate`.
//!
//! Sharded (book 13.3.5): `blueprint autocomplete serve --shard I --of N` serves only
//! range `I` of the key space (`[autocomplete.shard]`), and `blueprint autocomplete serve
//! --router URL,URL,...` serves no trie but routes every request to those shards
//! (`[autocomplete.router]`), answering as one node would.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use blueprint_autocomplete::cli::AutocompleteCommand;
use blueprint_autocomplete::config::{AutocompleteConfig, RouterConfig, ShardConfig};
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::http::{AutocompleteApi, HttpState, router};
use blueprint_autocomplete::pipeline::rebuild_from_log;
use blueprint_autocomplete::router::ShardRouter;
use blueprint_autocomplete::service::Autocomplete;
use blueprint_autocomplete::shard::{MAX_SHARDS, ShardPlacement};
use blueprint_autocomplete::startup::{Paths, initial_trie};
use blueprint_autocomplete::trie::Trie;
use blueprint_autocomplete::{CONSOLE_HTML, snapshot};
use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::html_content_type;
use blueprint_platform::system::section_toml;
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo};
use clap::{FromArgMatches as _, Subcommand as _};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi as _;

use super::{blocking, boxed, catalog_entry};

/// The config section's name.
const SECTION: &str = "autocomplete";
/// Shortest rebuild interval accepted: a rebuild reads the whole log.
const MIN_REBUILD_INTERVAL_S: u64 = 1;

/// `[autocomplete]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutocompleteSection {
    /// The analytics log; default `<data_dir>/autocomplete/queries.log`.
    pub log_path: Option<PathBuf>,
    /// The Trie DB snapshot; default `<data_dir>/autocomplete/trie.snapshot`.
    pub snapshot_path: Option<PathBuf>,
    /// Rebuild the trie from the log this often. The book rebuilds weekly; the default,
    /// a minute, lets the console show a search counting.
    pub rebuild_interval_s: u64,
    /// On a first run (no snapshot, no log), write a seeded sample log from the bundled
    /// word list so there is something to suggest.
    pub seed_sample_log: bool,
    /// The query service's settings (`[autocomplete.service]`).
    pub service: AutocompleteConfig,
    /// Serve one shard only (`[autocomplete.shard]`, or `serve --shard I --of N`).
    pub shard: Option<ShardConfig>,
    /// Serve as the router in front of the shards (`[autocomplete.router]`, or `serve
    /// --router URL,...`).
    pub router: Option<RouterConfig>,
}

impl Default for AutocompleteSection {
    fn default() -> Self {
        AutocompleteSection {
            log_path: None,
            snapshot_path: None,
            rebuild_interval_s: 60,
            seed_sample_log: true,
            service: AutocompleteConfig::default(),
            shard: None,
            router: None,
        }
    }
}

/// The autocomplete system.
#[derive(Debug, Default)]
pub struct AutocompleteSystem;

impl System for AutocompleteSystem {
    fn info(&self) -> SystemInfo {
        catalog_entry(SECTION)
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        let section: AutocompleteSection = config.section(SECTION)?;
        if section.rebuild_interval_s < MIN_REBUILD_INTERVAL_S {
            return Err(ConfigError::Invalid(format!(
                "[autocomplete] rebuild_interval_s must be at least {MIN_REBUILD_INTERVAL_S}"
            )));
        }
        check_sharding(&section)?;
        section_toml::<AutocompleteSection>(config, SECTION)
    }

    fn mount<'a>(&'a self, platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            let section: AutocompleteSection = platform.config.section(SECTION)?;
            if let Some(router_config) = &section.router {
                return mount_router(section.service.clone(), router_config);
            }
            let dir = platform.config.config.server.data_dir.join(SECTION);
            let paths = Paths {
                log: section.log_path.clone().unwrap_or_else(|| dir.join("queries.log")),
                snapshot: section
                    .snapshot_path
                    .clone()
                    .unwrap_or_else(|| dir.join("trie.snapshot")),
            };
            let now_ms = u64::try_from(platform.clock.now_ms()).unwrap_or(0);
            let (config, start_paths) = (section.service.clone(), paths.clone());
            let (seed, shard) = (section.seed_sample_log, section.shard);
            let (trie, origin, placement) = blocking(move || {
                let (trie, origin) =
                    initial_trie(&start_paths, &config, &Blocklist::default(), seed, now_ms)
                        .context("loading the autocomplete trie")?;
                let Some(shard) = shard else { return Ok((trie, origin, None)) };
                let placement = ShardPlacement::balanced(&trie, shard.index, shard.of)
                    .context("cutting the autocomplete shard map")?;
                let kept = placement.keep(&trie).context("building this shard's trie")?;
                Ok((kept, origin, Some(placement)))
            })
            .await?;
            tracing::info!(?origin, queries = trie.len(), shard = ?section.shard, "autocomplete trie loaded");
            let service = Autocomplete::new(section.service.clone(), trie, Blocklist::default())
                .with_log(&paths.log)
                .with_context(|| format!("opening the query log {}", paths.log.display()))
                .map_err(boxed)?;
            let service = Arc::new(service);
            spawn_rebuilds(
                Arc::clone(&service),
                paths,
                section.rebuild_interval_s,
                placement.clone(),
            );
            let mut state = HttpState::new(service);
            if let Some(placement) = placement {
                state = state.with_shard(placement);
            }
            let router = Router::new().route("/autocomplete/", get(page)).merge(router(state));
            Ok(Mounted {
                router,
                openapi: AutocompleteApi::openapi(),
                probes: Vec::new(),
                fast_paths: Vec::new(),
            })
        })
    }

    fn command(&self) -> clap::Command {
        AutocompleteCommand::augment_subcommands(clap::Command::new(SECTION))
    }

    fn serve_args(&self, serve: clap::Command) -> clap::Command {
        use clap::{Arg, value_parser};
        serve
            .arg(
                Arg::new("shard")
                    .long("shard")
                    .value_name("I")
                    .value_parser(value_parser!(usize))
                    .requires("of")
                    .help("Serve only shard I (0-based) of the balanced shard map"),
            )
            .arg(
                Arg::new("of")
                    .long("of")
                    .value_name("N")
                    .value_parser(value_parser!(usize))
                    .requires("shard")
                    .help("How many shards the key space is cut into"),
            )
            .arg(
                Arg::new("router")
                    .long("router")
                    .value_name("URL,URL,...")
                    .value_delimiter(',')
                    .conflicts_with("shard")
                    .help("Serve as the router in front of these shards (shard 0 first)"),
            )
    }

    fn apply_serve_args(
        &self,
        matches: &clap::ArgMatches,
        config: LoadedConfig,
    ) -> Result<LoadedConfig, ConfigError> {
        let mut config = config;
        if let (Some(index), Some(of)) =
            (matches.get_one::<usize>("shard"), matches.get_one::<usize>("of"))
        {
            let shard = ShardConfig { index: *index, of: *of };
            config = config.with_section("autocomplete.shard", shard);
        }
        if let Some(urls) = matches.get_many::<String>("router") {
            let shards: Vec<String> = urls.cloned().collect();
            config = config.with_section("autocomplete.router.shards", shards);
        }
        Ok(config)
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        _config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = AutocompleteCommand::from_arg_matches(matches).map_err(boxed)?;
            blocking(move || blueprint_autocomplete::cli::run(command)).await
        })
    }
}

/// `[autocomplete.shard]` and `[autocomplete.router]` are each other's opposite, and a
/// shard must exist in its map.
fn check_sharding(section: &AutocompleteSection) -> Result<(), ConfigError> {
    let invalid = |message: String| Err(ConfigError::Invalid(message));
    if section.shard.is_some() && section.router.is_some() {
        return invalid("[autocomplete] a process is a shard or the router, not both".into());
    }
    if let Some(ShardConfig { index, of }) = section.shard
        && (of == 0 || of > MAX_SHARDS || index >= of)
    {
        return invalid(format!(
            "[autocomplete.shard] needs 1 <= of <= {MAX_SHARDS} and index < of, got shard {index} of {of}"
        ));
    }
    if section.router.as_ref().is_some_and(|router| router.shards.is_empty()) {
        return invalid("[autocomplete.router] shards lists no shard URLs".into());
    }
    Ok(())
}

/// The router: no trie and no log, the routes answered by asking the shards, whose map
/// is read now and refreshed in the background (until it is known, 503s).
fn mount_router(
    config: AutocompleteConfig,
    router_config: &RouterConfig,
) -> Result<Mounted, BoxError> {
    let routed = Arc::new(
        ShardRouter::new(config, router_config).context("[autocomplete.router]").map_err(boxed)?,
    );
    routed.spawn_map_refresh();
    tracing::info!(shards = router_config.shards.len(), "autocomplete router started");
    let router = Router::new()
        .route("/autocomplete/", get(page))
        .merge(blueprint_autocomplete::router::router(routed));
    Ok(Mounted {
        router,
        openapi: AutocompleteApi::openapi(),
        probes: Vec::new(),
        fast_paths: Vec::new(),
    })
}

/// Every `interval_s`: rebuild from the whole log off the serving path, swap the new trie
/// in and write it as the snapshot. A failed rebuild keeps the serving trie. A log that
/// has not grown since the last rebuild is not read again: it would give the same trie.
/// A shard keeps its own range of the rebuilt trie under the map it started with (so it
/// stays consistent with the other shards) and writes no snapshot: the Trie DB holds the
/// whole trie, which every shard starts from.
fn spawn_rebuilds(
    service: Arc<Autocomplete>,
    paths: Paths,
    interval_s: u64,
    placement: Option<ShardPlacement>,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(interval_s));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate; the trie was just built
        // Unknown at start: a trie loaded from the snapshot may predate the log's tail.
        let mut rebuilt_at_len: Option<u64> = None;
        loop {
            ticks.tick().await;
            let log_len = tokio::fs::metadata(&paths.log).await.map(|meta| meta.len()).ok();
            if log_len.is_some() && log_len == rebuilt_at_len {
                continue;
            }
            let (service, paths) = (Arc::clone(&service), paths.clone());
            let placement = placement.clone();
            let rebuilt = tokio::task::spawn_blocking(move || {
                let blocklist = service.filter().current();
                let (trie, stats) = rebuild_from_log(&paths.log, service.config(), &blocklist)?;
                let trie: Trie = match &placement {
                    Some(placement) => placement.keep(&trie)?,
                    None => {
                        snapshot::write(&trie, &paths.snapshot)?;
                        trie
                    }
                };
                let generation = service.cache().replace(Arc::new(trie));
                anyhow::Ok((generation, stats))
            })
            .await;
            match rebuilt {
                Ok(Ok((generation, stats))) => {
                    rebuilt_at_len = log_len;
                    tracing::debug!(
                        generation,
                        queries = stats.queries,
                        "autocomplete trie rebuilt"
                    )
                }
                Ok(Err(error)) => {
                    tracing::error!(error = %format!("{error:#}"), "autocomplete rebuild failed; serving the previous trie")
                }
                Err(error) => tracing::error!(%error, "autocomplete rebuild task failed"),
            }
        }
    });
}

async fn page() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, html_content_type())], CONSOLE_HTML)
}
