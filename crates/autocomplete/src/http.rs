//! The HTTP API of book 13.3.3. Handlers parse, call [`Autocomplete`], and map the result.
//!
//! - `GET /api/v1/autocomplete?q=<prefix>&k=<1..=max_k>` → `200 {"prefix","suggestions":
//!   [{"query","weight"}]}` with `Cache-Control: private, max-age=<cache_max_age_secs>`.
//! - `POST /api/v1/autocomplete/queries` with `{"query":"..."}` → `202`: the search is
//!   appended to the analytics log.
//! - `GET /api/v1/autocomplete/shard` → `{"index","of","boundaries","fingerprint"}`: which
//!   part of the key space this node serves (book 13.3.5); a single node is shard 0 of 1.
//!   A shard also stamps every suggestion response with [`SHARD_MAP_HEADER`], so the
//!   [`crate::router`] in front notices a shard cut by another map.
//!
//! Errors are `{"error":{"code","message"}}`: 400 `empty_prefix`, `prefix_too_long`,
//! `control_character`, `invalid_k`, `invalid_query_string` (e.g. invalid UTF-8),
//! `empty_query`, `query_too_long`, `invalid_body`; 503 `query_log_disabled`; 500
//! `internal` (opaque; the cause is logged).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::error::{InputError, SuggestError};
use crate::service::{Autocomplete, RecordError};
use crate::shard::ShardPlacement;
use crate::trie::Suggestion;

/// Largest request body: a query is at most a few hundred bytes of JSON.
pub const MAX_BODY_BYTES: usize = 4096;

/// Response header carrying the [`crate::shard::ShardMap::fingerprint`] of the map a
/// shard serves under, in hex.
pub const SHARD_MAP_HEADER: &str = "x-autocomplete-shard-map";

/// Milliseconds since the Unix epoch, injected so tests can fix time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The service.
    pub service: Arc<Autocomplete>,
    /// Stamps logged queries.
    pub clock: Clock,
    /// The part of the key space this node serves when it is one shard of several.
    pub shard: Option<Arc<ShardPlacement>>,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("HttpState").field("service", &self.service).finish_non_exhaustive()
    }
}

impl HttpState {
    /// State over `service` stamping queries with the system clock.
    pub fn new(service: Arc<Autocomplete>) -> HttpState {
        let clock: Clock = Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis() as u64)
        });
        HttpState { service, clock, shard: None }
    }

    /// The same state for shard `placement` of a sharded deployment.
    pub fn with_shard(mut self, placement: ShardPlacement) -> HttpState {
        self.shard = Some(Arc::new(placement));
        self
    }
}

/// The routes (the console page is mounted by the binary).
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/api/v1/autocomplete", get(suggest))
        .route("/api/v1/autocomplete/queries", post(record))
        .route("/api/v1/autocomplete/shard", get(shard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// `GET /api/v1/autocomplete` parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SuggestParams {
    /// The prefix typed so far.
    pub q: Option<String>,
    /// How many suggestions (text, so that a bad number is our 400, not the extractor's).
    pub k: Option<String>,
}

impl SuggestParams {
    /// Parses a query string strictly: percent-escapes must decode to UTF-8 (the usual
    /// extractors replace bad bytes with U+FFFD and carry on, which would search for
    /// something nobody typed). The first `q` and `k` win; other names are ignored.
    pub fn parse(raw: &str) -> Result<SuggestParams, String> {
        let mut params = SuggestParams::default();
        for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "q" => &mut params.q,
                "k" => &mut params.k,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(percent_decode(value).ok_or_else(|| {
                    format!("parameter {name} is not valid percent-encoded UTF-8")
                })?);
            }
        }
        Ok(params)
    }
}

/// `application/x-www-form-urlencoded` value decoding: `+` is a space, `%XX` a byte.
fn percent_decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut input = value.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = (input.next()? as char).to_digit(16)?;
                let low = (input.next()? as char).to_digit(16)?;
                bytes.push((high * 16 + low) as u8);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// `GET /api/v1/autocomplete` response.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuggestBody {
    /// The prefix as received.
    pub prefix: String,
    /// Best first.
    #[schema(value_type = Vec<SuggestionBody>)]
    pub suggestions: Vec<Suggestion>,
}

/// One suggestion, as [`Suggestion`] serialises (the schema lives here so the core
/// carries no OpenAPI derive).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuggestionBody {
    /// The query as displayed.
    pub query: String,
    /// Its aggregated frequency (or trending score).
    pub weight: u64,
}

/// `POST /api/v1/autocomplete/queries` body.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordBody {
    /// The submitted search.
    pub query: String,
}

/// `{"error":{"code","message"}}`, the workspace's error shape (this crate does not
/// depend on the platform).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: String,
    /// For people.
    pub message: String,
}

/// `GET /api/v1/autocomplete/shard` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShardBody {
    /// This node's shard, `0..of`.
    pub index: usize,
    /// Shards in the map.
    pub of: usize,
    /// The first key of shards 1.. (normalised keys).
    pub boundaries: Vec<String>,
    /// [`crate::shard::ShardMap::fingerprint`] in hex, as [`SHARD_MAP_HEADER`] carries it.
    pub fingerprint: String,
}

/// A fingerprint as [`SHARD_MAP_HEADER`] and [`ShardBody`] spell it.
pub fn fingerprint_hex(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.into() } };
    (status, Json(body)).into_response()
}

/// The top k suggestions for a prefix.
#[utoipa::path(get, path = "/api/v1/autocomplete", tag = "autocomplete",
    params(
        ("q" = String, Query, description = "The prefix typed so far (1..=max_prefix_chars characters)"),
        ("k" = Option<u32>, Query, description = "How many suggestions, 1..=max_k (default 5)"),
    ),
    responses(
        (status = 200, body = SuggestBody, description = "Best first; Cache-Control: private, max-age"),
        (status = 400, body = ErrorBody, description = "empty_prefix, prefix_too_long, control_character, invalid_k, invalid_query_string"),
    ))]
pub async fn suggest(State(state): State<HttpState>, RawQuery(raw): RawQuery) -> Response {
    let config = state.service.config();
    let (prefix, k) = match parse_suggest_query(raw.as_deref(), config.max_k) {
        Ok(parsed) => parsed,
        Err(bad) => return bad.into_response(),
    };
    match state.service.suggest(&prefix, k) {
        Ok(suggestions) => {
            let mut response = suggestions_response(prefix, suggestions, config.cache_max_age_secs);
            if let Some(placement) = &state.shard {
                let fingerprint = fingerprint_hex(placement.map().fingerprint());
                if let Ok(value) = HeaderValue::from_str(&fingerprint) {
                    response.headers_mut().insert(SHARD_MAP_HEADER, value);
                }
            }
            response
        }
        Err(refused) => suggest_error(&refused),
    }
}

/// A suggestion request's query string that does not parse: its 400's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadQueryString {
    code: &'static str,
    message: String,
}

impl IntoResponse for BadQueryString {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.code, self.message)
    }
}

/// The prefix (text, possibly empty) and `k` (if given) of a suggestion request.
pub(crate) fn parse_suggest_query(
    raw: Option<&str>,
    max_k: usize,
) -> Result<(String, Option<usize>), BadQueryString> {
    let params = SuggestParams::parse(raw.unwrap_or(""))
        .map_err(|message| BadQueryString { code: "invalid_query_string", message })?;
    let k = match params.k.as_deref().map(str::parse::<usize>) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            return Err(BadQueryString {
                code: "invalid_k",
                message: format!("k must be a whole number in 1..={max_k}"),
            });
        }
    };
    Ok((params.q.unwrap_or_default(), k))
}

/// `200 {"prefix","suggestions"}` with `Cache-Control: private, max-age=<max_age_secs>`.
pub(crate) fn suggestions_response(
    prefix: String,
    suggestions: Vec<Suggestion>,
    max_age_secs: u32,
) -> Response {
    let mut response = Json(SuggestBody { prefix, suggestions }).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("private, max-age={max_age_secs}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// The 400 for a refused prefix or `k`.
pub(crate) fn suggest_error(refused: &SuggestError) -> Response {
    match refused {
        SuggestError::InvalidK { k, max } => {
            error(StatusCode::BAD_REQUEST, "invalid_k", format!("k = {k} is outside 1..={max}"))
        }
        SuggestError::Prefix { source } => input_error(source, "prefix"),
    }
}

/// Which part of the key space this node serves.
#[utoipa::path(get, path = "/api/v1/autocomplete/shard", tag = "autocomplete",
    responses((status = 200, body = ShardBody, description = "A single node is shard 0 of 1")))]
pub async fn shard(State(state): State<HttpState>) -> Json<ShardBody> {
    Json(match &state.shard {
        Some(placement) => ShardBody {
            index: placement.index(),
            of: placement.map().shard_count(),
            boundaries: placement.map().boundaries().to_vec(),
            fingerprint: fingerprint_hex(placement.map().fingerprint()),
        },
        None => {
            let whole = crate::shard::ShardMap::whole();
            ShardBody {
                index: 0,
                of: 1,
                boundaries: Vec::new(),
                fingerprint: fingerprint_hex(whole.fingerprint()),
            }
        }
    })
}

pub(crate) fn input_error(source: &InputError, what: &str) -> Response {
    let code = match source {
        InputError::Empty => format!("empty_{what}"),
        InputError::TooLong { .. } => format!("{what}_too_long"),
        InputError::ControlCharacter { .. } => "control_character".to_owned(),
    };
    error(StatusCode::BAD_REQUEST, &code, source.to_string())
}

/// Appends a submitted search to the analytics log.
#[utoipa::path(post, path = "/api/v1/autocomplete/queries", tag = "autocomplete",
    request_body = RecordBody,
    responses(
        (status = 202, description = "Logged"),
        (status = 400, body = ErrorBody, description = "empty_query, query_too_long, control_character, invalid_body"),
        (status = 503, body = ErrorBody, description = "query_log_disabled: this service keeps no log"),
    ))]
pub async fn record(
    State(state): State<HttpState>,
    body: Result<Json<RecordBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), "invalid_body", rejection.body_text()),
    };
    match state.service.record(&body.query, (state.clock)()) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(RecordError::Query { source }) => input_error(&source, "query"),
        Err(RecordError::NoLog) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "query_log_disabled",
            "this service keeps no query log",
        ),
        Err(RecordError::Log(cause)) => {
            tracing::error!(error = %cause, "autocomplete: appending to the query log failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        }
    }
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(suggest, record, shard),
    components(schemas(SuggestBody, SuggestionBody, RecordBody, ErrorBody, ErrorDetail, ShardBody)),
    tags((name = "autocomplete", description = "Search autocomplete (chapter 13)"))
)]
pub struct AutocompleteApi;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_names_every_route() {
        use utoipa::OpenApi;
        let document = AutocompleteApi::openapi();
        let paths: Vec<&String> = document.paths.paths.keys().collect();
        assert_eq!(
            paths,
            ["/api/v1/autocomplete", "/api/v1/autocomplete/queries", "/api/v1/autocomplete/shard"]
        );
    }

    #[test]
    fn query_strings_decode_strictly() {
        let parsed = SuggestParams::parse("q=caf%C3%A9+noir&k=3&x=1&q=ignored").expect("valid");
        assert_eq!(parsed, SuggestParams { q: Some("café noir".into()), k: Some("3".into()) });
        assert!(SuggestParams::parse("q=%FF").is_err());
        assert!(SuggestParams::parse("q=%4").is_err());
        assert!(SuggestParams::parse("q=%zz").is_err());
        assert_eq!(
            SuggestParams::parse("q"),
            Ok(SuggestParams { q: Some(String::new()), k: None })
        );
    }
}
