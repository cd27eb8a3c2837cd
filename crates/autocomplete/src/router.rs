//! The shard router of book 13.3.5: one front door over several shard processes.
//!
//! A [`ShardRouter`] holds no trie. It reads the [`ShardMap`] from its shards
//! (`GET /api/v1/autocomplete/shard`, cross-checked: every shard must report the same
//! map and its own position in it), parses each request exactly as a single node does
//! ([`parse_request`]), asks the shards [`ShardMap::route`] names (one for almost every
//! prefix) over pooled keep-alive HTTP connections, and merges their lists with
//! [`merge_top_k`]. The answer is the single node's answer: each shard's top k of its own
//! keys contains its share of the global top k.
//!
//! It never presents a partial answer as complete: a shard that cannot be reached or
//! times out fails the request with 503 `shard_unavailable`, a shard cut by another map
//! (its [`SHARD_MAP_HEADER`] differs) with 503 `shard_map_mismatch`, and until a
//! consistent map is known every request gets 503 `shard_map_unavailable`. A submitted
//! search is forwarded to the shard owning its key, whose log its next rebuild reads.
//!
//! [`router`] serves the same routes, JSON and headers as [`crate::http::router`].

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::{AutocompleteConfig, RouterConfig};
use crate::error::{InputError, ShardError, SuggestError};
use crate::http::{
    MAX_BODY_BYTES, RecordBody, SHARD_MAP_HEADER, ShardBody, SuggestBody, error, fingerprint_hex,
    input_error, parse_suggest_query, suggest_error, suggestions_response,
};
use crate::normalize::Query;
use crate::service::parse_request;
use crate::shard::{MAX_SHARDS, ShardMap, merge_top_k};
use crate::trie::Suggestion;

/// Most to wait for a TCP connection to a shard: on one network a healthy shard accepts
/// in well under a millisecond, so a longer wait means it is gone.
pub const CONNECT_TIMEOUT_MS: u64 = 250;
/// Idle keep-alive connections kept per shard: enough for the router's concurrency, so a
/// burst does not pay new handshakes, bounded so an idle router holds few sockets.
pub const MAX_IDLE_PER_SHARD: usize = 256;
/// Shortest map refresh accepted: each refresh asks every shard.
pub const MIN_MAP_REFRESH_MS: u64 = 50;

/// The router's configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RouterSetupError {
    /// No shards, or more than [`MAX_SHARDS`].
    #[error("a router needs 1..={max} shards, got {shards}")]
    ShardCount {
        /// How many were given.
        shards: usize,
        /// [`MAX_SHARDS`].
        max: usize,
    },
    /// A shard's base URL does not parse as an http(s) URL.
    #[error("shard {index}: {url:?} is not an http:// or https:// URL")]
    BadUrl {
        /// Its position in the list.
        index: usize,
        /// As given.
        url: String,
    },
    /// A zero timeout or too short a refresh interval.
    #[error("router timings: {0}")]
    Timing(String),
    /// The HTTP client could not be built (TLS backend).
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Why a routed request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The request is bad, as a single node would say (400).
    #[error(transparent)]
    Suggest(#[from] SuggestError),
    /// The submitted query is bad (400).
    #[error("bad query: {0}")]
    Query(#[from] InputError),
    /// No consistent shard map is known yet (503).
    #[error("the shard map is not known yet")]
    MapUnknown,
    /// A shard could not be reached, timed out, or broke off its answer (503).
    #[error("shard {index} is unavailable: {source}")]
    ShardUnavailable {
        /// The shard.
        index: usize,
        /// What the client saw.
        source: reqwest::Error,
    },
    /// A shard answered under another map than the router's (503).
    #[error("shard {index} serves another shard map")]
    MapMismatch {
        /// The shard.
        index: usize,
    },
    /// A shard answered with something other than a suggestion list (502).
    #[error("shard {index} answered {detail}")]
    BadAnswer {
        /// The shard.
        index: usize,
        /// The status, or why the body did not parse.
        detail: String,
    },
}

/// Why the shards' map could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// A shard did not answer; the last known map stays in use.
    #[error("shard {index} did not answer for its map: {source}")]
    Unreachable {
        /// The shard.
        index: usize,
        /// What the client saw.
        source: reqwest::Error,
    },
    /// The shards disagree, or one's answer does not fit the router's list; the router
    /// stops answering until they agree.
    #[error("shard {index}: {detail}")]
    Inconsistent {
        /// The shard.
        index: usize,
        /// What did not fit.
        detail: String,
    },
}

/// One shard, as the router reaches it.
#[derive(Debug)]
struct Shard {
    suggest_url: url::Url,
    record_url: url::Url,
    map_url: url::Url,
}

/// The router's state, shared by its handlers.
#[derive(Debug)]
pub struct ShardRouter {
    config: AutocompleteConfig,
    shards: Vec<Shard>,
    client: reqwest::Client,
    map_refresh: Duration,
    /// The map every shard last agreed on, with its fingerprint in hex; `None` until
    /// they first agree, and again while they disagree.
    map: ArcSwapOption<(ShardMap, String)>,
}

impl ShardRouter {
    /// A router over `router.shards`, checking requests against `config` (which should be
    /// the shards' own `[autocomplete.service]`). It knows no map until
    /// [`ShardRouter::refresh_map`] first succeeds.
    pub fn new(
        config: AutocompleteConfig,
        router: &RouterConfig,
    ) -> Result<ShardRouter, RouterSetupError> {
        let count = router.shards.len();
        if count == 0 || count > MAX_SHARDS {
            return Err(RouterSetupError::ShardCount { shards: count, max: MAX_SHARDS });
        }
        if router.timeout_ms == 0 || router.map_refresh_ms < MIN_MAP_REFRESH_MS {
            return Err(RouterSetupError::Timing(format!(
                "timeout_ms must be positive and map_refresh_ms at least {MIN_MAP_REFRESH_MS}"
            )));
        }
        let shards = router
            .shards
            .iter()
            .enumerate()
            .map(|(index, url)| shard_urls(index, url))
            .collect::<Result<Vec<_>, _>>()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(router.timeout_ms))
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS.min(router.timeout_ms)))
            .pool_max_idle_per_host(MAX_IDLE_PER_SHARD)
            .tcp_nodelay(true)
            // Shards are addressed directly; an HTTP_PROXY meant for the outside world
            // must not sit between the router and them.
            .no_proxy()
            .build()
            .map_err(RouterSetupError::Client)?;
        Ok(ShardRouter {
            config,
            shards,
            client,
            map_refresh: Duration::from_millis(router.map_refresh_ms),
            map: ArcSwapOption::empty(),
        })
    }

    /// The request settings.
    pub fn config(&self) -> &AutocompleteConfig {
        &self.config
    }

    /// The map in use, if the shards have agreed on one.
    pub fn map(&self) -> Option<ShardMap> {
        self.map.load().as_ref().map(|current| current.0.clone())
    }

    /// Asks every shard for its map and adopts it if all agree. An unreachable shard
    /// leaves the current map in place (its requests fail on their own); shards that
    /// disagree make the router refuse requests until they agree again.
    pub async fn refresh_map(&self) -> Result<ShardMap, MapError> {
        let answers =
            futures::future::join_all((0..self.shards.len()).map(|index| self.shard_map(index)))
                .await;
        let mut agreed: Option<ShardMap> = None;
        for (index, answer) in answers.into_iter().enumerate() {
            let map = match answer {
                Ok(map) => map,
                Err(unreachable @ MapError::Unreachable { .. }) => return Err(unreachable),
                Err(inconsistent) => {
                    self.map.store(None);
                    return Err(inconsistent);
                }
            };
            if agreed.as_ref().is_some_and(|first| *first != map) {
                self.map.store(None);
                return Err(MapError::Inconsistent {
                    index,
                    detail: "reports other boundaries than shard 0".into(),
                });
            }
            agreed = Some(map);
        }
        let map = agreed.ok_or(MapError::Inconsistent { index: 0, detail: "no shards".into() })?;
        let fingerprint = fingerprint_hex(map.fingerprint());
        self.map.store(Some(Arc::new((map.clone(), fingerprint))));
        Ok(map)
    }

    /// Refreshes the map every `map_refresh_ms` for as long as the runtime runs, logging
    /// failures (the router keeps answering with the last agreed map).
    pub fn spawn_map_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let router = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(router.map_refresh);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_failure: Option<String> = None;
            loop {
                ticks.tick().await;
                match router.refresh_map().await {
                    Ok(map) if last_failure.is_some() => {
                        last_failure = None;
                        tracing::info!(shards = map.shard_count(), "autocomplete shard map agreed");
                    }
                    Ok(_) => {}
                    Err(failure) => {
                        let text = failure.to_string();
                        // Once per distinct failure, not once per tick.
                        if last_failure.as_deref() != Some(text.as_str()) {
                            tracing::warn!(error = %text, "autocomplete shard map refresh failed");
                            last_failure = Some(text);
                        }
                    }
                }
            }
        })
    }

    async fn shard_map(&self, index: usize) -> Result<ShardMap, MapError> {
        let unreachable = |source| MapError::Unreachable { index, source };
        let inconsistent = |detail: String| MapError::Inconsistent { index, detail };
        let response = self
            .client
            .get(self.shards[index].map_url.clone())
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(inconsistent(format!("answered {} for its map", response.status())));
        }
        let body: ShardBody = response.json().await.map_err(unreachable)?;
        if body.index != index || body.of != self.shards.len() {
            return Err(inconsistent(format!(
                "is shard {} of {}, listed as {index} of {}",
                body.index,
                body.of,
                self.shards.len()
            )));
        }
        let map = ShardMap::from_boundaries(body.boundaries)
            .map_err(|refused: ShardError| inconsistent(refused.to_string()))?;
        if map.shard_count() != self.shards.len()
            || fingerprint_hex(map.fingerprint()) != body.fingerprint
        {
            return Err(inconsistent("its boundaries do not match its fingerprint".into()));
        }
        Ok(map)
    }

    /// The top `k` for `raw_prefix` across the shards, exactly as one node holding every
    /// key would answer.
    pub async fn suggest(
        &self,
        raw_prefix: &str,
        k: Option<usize>,
    ) -> Result<Vec<Suggestion>, RouteError> {
        let (prefix, k) = parse_request(&self.config, raw_prefix, k)?;
        let current = self.map.load_full().ok_or(RouteError::MapUnknown)?;
        let (map, fingerprint) = (&current.0, current.1.as_str());
        let asked =
            map.route(prefix.as_key()).map(|index| self.ask(index, raw_prefix, k, fingerprint));
        let lists = futures::future::try_join_all(asked).await?;
        Ok(merge_top_k(lists, k))
    }

    async fn ask(
        &self,
        index: usize,
        raw_prefix: &str,
        k: usize,
        fingerprint: &str,
    ) -> Result<Vec<Suggestion>, RouteError> {
        let unavailable = |source| RouteError::ShardUnavailable { index, source };
        let mut url = self.shards[index].suggest_url.clone();
        url.query_pairs_mut().append_pair("q", raw_prefix).append_pair("k", &k.to_string());
        let response = self.client.get(url).send().await.map_err(unavailable)?;
        if response.status() != StatusCode::OK {
            let detail = format!("status {}", response.status());
            return Err(RouteError::BadAnswer { index, detail });
        }
        let served_under = response.headers().get(SHARD_MAP_HEADER).map(|value| value.as_bytes());
        if served_under != Some(fingerprint.as_bytes()) {
            return Err(RouteError::MapMismatch { index });
        }
        let body: SuggestBody = response.json().await.map_err(|source| {
            if source.is_decode() {
                RouteError::BadAnswer { index, detail: format!("an unreadable body: {source}") }
            } else {
                unavailable(source)
            }
        })?;
        Ok(body.suggestions)
    }

    /// Forwards a submitted search to the shard owning its key.
    pub async fn record(&self, raw_query: &str) -> Result<(), RouteError> {
        let query = Query::parse(raw_query)?;
        let current = self.map.load_full().ok_or(RouteError::MapUnknown)?;
        let index = current.0.shard_of(query.key());
        let unavailable = |source| RouteError::ShardUnavailable { index, source };
        let body = RecordBody { query: raw_query.to_owned() };
        let request = self.client.post(self.shards[index].record_url.clone()).json(&body);
        let response = request.send().await.map_err(unavailable)?;
        if response.status() != StatusCode::ACCEPTED {
            let detail = format!("status {} to a logged query", response.status());
            return Err(RouteError::BadAnswer { index, detail });
        }
        Ok(())
    }
}

fn shard_urls(index: usize, text: &str) -> Result<Shard, RouterSetupError> {
    let bad = || RouterSetupError::BadUrl { index, url: text.to_owned() };
    let mut base = url::Url::parse(text).map_err(|_| bad())?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(bad());
    }
    // `join` replaces the last path segment unless the base ends in a slash.
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let join = |path: &str| base.join(path).map_err(|_| bad());
    Ok(Shard {
        suggest_url: join("api/v1/autocomplete")?,
        record_url: join("api/v1/autocomplete/queries")?,
        map_url: join("api/v1/autocomplete/shard")?,
    })
}

/// The router's routes: the same paths, bodies and headers as [`crate::http::router`].
pub fn router(state: Arc<ShardRouter>) -> Router {
    Router::new()
        .route("/api/v1/autocomplete", get(suggest))
        .route("/api/v1/autocomplete/queries", post(record))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn suggest(State(router): State<Arc<ShardRouter>>, RawQuery(raw): RawQuery) -> Response {
    let config = router.config();
    let (prefix, k) = match parse_suggest_query(raw.as_deref(), config.max_k) {
        Ok(parsed) => parsed,
        Err(bad) => return bad.into_response(),
    };
    match router.suggest(&prefix, k).await {
        Ok(suggestions) => suggestions_response(prefix, suggestions, config.cache_max_age_secs),
        Err(failure) => route_error(failure),
    }
}

async fn record(
    State(router): State<Arc<ShardRouter>>,
    body: Result<Json<RecordBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), "invalid_body", rejection.body_text()),
    };
    match router.record(&body.query).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(RouteError::Query(source)) => input_error(&source, "query"),
        Err(failure) => route_error(failure),
    }
}

/// A failure as its response: the request's own fault as the node's 400, a shard's as a
/// coded 5xx whose message names the shard (the cause is logged, not sent).
fn route_error(failure: RouteError) -> Response {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    match &failure {
        RouteError::Suggest(refused) => return suggest_error(refused),
        RouteError::Query(source) => return input_error(source, "query"),
        RouteError::MapUnknown => {
            return error(unavailable, "shard_map_unavailable", "the shards' map is not known yet");
        }
        _ => {}
    }
    tracing::warn!(error = %failure, "autocomplete: a shard failed a routed request");
    match failure {
        RouteError::ShardUnavailable { index, .. } => {
            error(unavailable, "shard_unavailable", format!("shard {index} is unavailable"))
        }
        RouteError::MapMismatch { index } => error(
            unavailable,
            "shard_map_mismatch",
            format!("shard {index} serves another shard map"),
        ),
        _ => error(StatusCode::BAD_GATEWAY, "bad_shard_answer", "a shard answered unexpectedly"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_urls_keep_a_base_path_and_refuse_other_schemes() {
        let shard = shard_urls(0, "http://127.0.0.1:9000").expect("valid");
        assert_eq!(shard.suggest_url.as_str(), "http://127.0.0.1:9000/api/v1/autocomplete");
        let shard = shard_urls(0, "http://host/prefix").expect("valid");
        assert_eq!(shard.map_url.as_str(), "http://host/prefix/api/v1/autocomplete/shard");
        assert!(matches!(
            shard_urls(2, "ftp://host"),
            Err(RouterSetupError::BadUrl { index: 2, .. })
        ));
        assert!(shard_urls(0, "not a url").is_err());
    }

    #[test]
    fn a_router_needs_shards_and_sane_timings() {
        let config = AutocompleteConfig::default();
        let router = |shards: Vec<String>, timeout_ms| RouterConfig {
            shards,
            timeout_ms,
            ..RouterConfig::default()
        };
        assert!(matches!(
            ShardRouter::new(config.clone(), &router(Vec::new(), 100)),
            Err(RouterSetupError::ShardCount { shards: 0, .. })
        ));
        let one = vec!["http://127.0.0.1:1".to_owned()];
        assert!(matches!(
            ShardRouter::new(config.clone(), &router(one.clone(), 0)),
            Err(RouterSetupError::Timing(_))
        ));
        let built = ShardRouter::new(config, &router(one, 100)).expect("valid");
        assert!(built.map().is_none(), "no map before the shards are asked");
    }

    #[tokio::test]
    async fn without_a_map_requests_are_refused_but_bad_input_is_still_a_400() {
        let routed = ShardRouter::new(
            AutocompleteConfig::default(),
            &RouterConfig { shards: vec!["http://127.0.0.1:1".into()], ..RouterConfig::default() },
        )
        .expect("valid");
        assert!(matches!(routed.suggest("car", None).await, Err(RouteError::MapUnknown)));
        assert!(matches!(routed.suggest("", None).await, Err(RouteError::Suggest(_))));
        assert!(matches!(routed.suggest("car", Some(11)).await, Err(RouteError::Suggest(_))));
        // Port 1 refuses connections: the map stays unknown.
        assert!(matches!(routed.refresh_map().await, Err(MapError::Unreachable { index: 0, .. })));
    }
}
