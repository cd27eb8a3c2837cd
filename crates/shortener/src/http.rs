//! The HTTP API (book 8.2): `POST /api/v1/data/shorten`, `GET /{code}`, link management,
//! statistics, QR codes, API keys and the console page. Handlers parse, call the
//! [`Service`] and map its result.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use blueprint_platform::auth::CurrentUser;
use blueprint_platform::http::fast::FastPath;
use blueprint_platform::http::{ApiError, ApiJson, ErrorBody, html_content_type};
use blueprint_ratelimit::layer::RateLimitLayer;
use serde::{Deserialize, Serialize};

use crate::core::Redirect;
use crate::error::ShortenError;
use crate::service::{Caller, Service, ShortenRequest, rfc3339};
use crate::store::{ApiKeyRecord, Link, Stats};

/// The console page.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");
/// The header carrying an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// `POST /api/v1/data/shorten`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShortenBody {
    /// The URL to shorten (http or https).
    #[schema(example = "https://en.wikipedia.org/wiki/Systems_design")]
    pub long_url: String,
    /// A custom code: 3 to 32 of 0-9 a-z A-Z.
    #[serde(default)]
    pub alias: Option<String>,
    /// RFC 3339 time after which the link answers 410.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Redirects allowed before the link answers 410.
    #[serde(default)]
    pub max_clicks: Option<i64>,
    /// 301 (cacheable) or 302 (every click counted).
    #[serde(default)]
    pub redirect: Option<u16>,
}

/// A link, as every route returns it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkResponse {
    /// The short URL.
    pub short_url: String,
    /// Its code.
    pub code: String,
    /// Where it redirects.
    pub long_url: String,
    /// False when the same long URL already had this code (book 8.3.3).
    pub created: bool,
    /// 301 or 302.
    pub redirect: u16,
    /// RFC 3339.
    pub created_at: Option<String>,
    /// RFC 3339, when it expires.
    pub expires_at: Option<String>,
    /// Its click limit.
    pub max_clicks: Option<i64>,
    /// Clicks counted so far.
    pub clicks: i64,
    /// Disabled by its owner.
    pub disabled: bool,
}

/// Clicks of one day.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Clicks.
    pub clicks: i64,
}

/// Clicks of one referrer host or user-agent family.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamedCount {
    /// Host (`direct` without a referrer) or family (`chrome`, `curl`, `bot`, ...).
    pub name: String,
    /// Clicks.
    pub clicks: i64,
}

/// `GET /api/v1/links/{code}/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatsResponse {
    /// The link.
    pub link: LinkResponse,
    /// Per day, newest first.
    pub daily: Vec<DayCount>,
    /// Per referrer host, most first.
    pub referrers: Vec<NamedCount>,
    /// Per user-agent family, most first.
    pub agents: Vec<NamedCount>,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// A label, 1 to 64 characters.
    pub name: String,
}

/// An API key (its secret only in the answer that created it).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponse {
    /// Its id.
    pub id: i64,
    /// Its label.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// The secret for `x-api-key`: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// RFC 3339.
    pub created_at: Option<String>,
    /// RFC 3339, once revoked.
    pub revoked_at: Option<String>,
}

/// `?format=` of the QR route.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QrQuery {
    /// `svg` (default) or `png`.
    pub format: Option<String>,
}

/// `GET /{code}` answered before the platform's middleware stack when the link is in the
/// in-process cache ([`Service::fast_redirect`]); every other request, and every error,
/// takes the router to [`redirect`].
pub struct RedirectFastPath {
    service: Arc<Service>,
}

impl RedirectFastPath {
    /// The fast path of `service`'s redirects.
    pub fn new(service: Arc<Service>) -> Self {
        RedirectFastPath { service }
    }
}

impl FastPath for RedirectFastPath {
    fn route(&self) -> &'static str {
        "/{code}"
    }

    fn answer(&self, request: &axum::extract::Request) -> Option<Response> {
        if request.method() != Method::GET {
            return None;
        }
        let code = request.uri().path().strip_prefix('/')?;
        let headers = request.headers();
        let hit = self.service.fast_redirect(
            code,
            header_text(headers, header::REFERER),
            header_text(headers, header::USER_AGENT),
        )?;
        Some(redirect_response(hit.redirect, hit.location, hit.cache_control))
    }
}

/// A redirect: `redirect`'s status, `Location` and `Cache-Control`, no body.
fn redirect_response(redirect: Redirect, location: HeaderValue, cache: HeaderValue) -> Response {
    let status = StatusCode::from_u16(redirect.status()).unwrap_or(StatusCode::FOUND);
    (status, [(header::LOCATION, location), (header::CACHE_CONTROL, cache)]).into_response()
}

/// What the router serves from.
pub struct AppState {
    /// The service.
    pub service: Arc<Service>,
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(shorten, redirect, link, delete_link, disable, enable, stats, qr, create_key, list_keys, revoke_key),
    components(schemas(ShortenBody, LinkResponse, StatsResponse, DayCount, NamedCount, KeyBody, KeyResponse)),
    tags((name = "shortener", description = "URL shortener (chapter 8)"))
)]
pub struct ShortenerApi;

/// Every route, with `limit` (when given) in front of the shorten route only.
pub fn router(state: Arc<AppState>, limit: Option<RateLimitLayer>) -> Router {
    let shorten_route = match limit {
        Some(layer) => post(shorten).layer(layer),
        None => post(shorten),
    };
    Router::new()
        .route("/shortener/", get(page))
        .route("/api/v1/data/shorten", shorten_route)
        .route("/api/v1/links/{code}", get(link).delete(delete_link))
        .route("/api/v1/links/{code}/disable", post(disable))
        .route("/api/v1/links/{code}/enable", post(enable))
        .route("/api/v1/links/{code}/stats", get(stats))
        .route("/api/v1/links/{code}/qr", get(qr))
        .route("/api/v1/keys", post(create_key).get(list_keys))
        .route("/api/v1/keys/{id}", axum::routing::delete(revoke_key))
        .route("/{code}", get(redirect))
        .with_state(state)
}

fn api_error(error: ShortenError) -> ApiError {
    let (status, code) = error.status_and_code();
    if let ShortenError::Store(source) = &error {
        return ApiError::internal(source);
    }
    if let ShortenError::NoCode { .. } = &error {
        tracing::error!(%error, "shortener: no code could be made");
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    ApiError::new(status, code, error.to_string())
}

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The caller: a presented API key must be live (401 otherwise); a bad bearer token is
/// ignored (the route decides what it needs).
async fn caller(
    service: &Service,
    headers: &HeaderMap,
    user: Result<CurrentUser, ApiError>,
) -> Result<Caller, ApiError> {
    let key = match headers.get(API_KEY_HEADER) {
        Some(value) => {
            let secret = value.to_str().unwrap_or_default();
            Some(service.authenticate(secret).await.map_err(api_error)?)
        }
        None => None,
    };
    Ok(Caller { key, user_id: user.ok().map(|current| current.user.id) })
}

fn link_response(
    service: &Service,
    link: &Link,
    created: bool,
    host: Option<&str>,
) -> LinkResponse {
    LinkResponse {
        short_url: service.short_url(&link.code, host),
        code: link.code.to_string(),
        long_url: link.long_url.clone(),
        created,
        redirect: link.redirect.status(),
        created_at: rfc3339(link.created_at_ms),
        expires_at: link.expires_at_ms.and_then(rfc3339),
        max_clicks: link.max_clicks,
        clicks: link.clicks,
        disabled: link.disabled,
    }
}

fn key_response(record: &ApiKeyRecord, secret: Option<String>) -> KeyResponse {
    KeyResponse {
        id: record.id,
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        key: secret,
        created_at: rfc3339(record.created_at_ms),
        revoked_at: record.revoked_at_ms.and_then(rfc3339),
    }
}

fn path_text(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(text)| text).map_err(|rejection| ApiError::not_found(rejection.body_text()))
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, html_content_type())], CONSOLE_HTML)
}

/// Shorten a long URL (book 8.2: `POST api/v1/data/shorten`). The same long URL returns
/// its existing code (200); a new link answers 201.
#[utoipa::path(post, path = "/api/v1/data/shorten", tag = "shortener", request_body = ShortenBody,
    params(("x-api-key" = Option<String>, Header, description = "An API key (required when the server says so)")),
    responses(
        (status = 201, body = LinkResponse, description = "a new link"),
        (status = 200, body = LinkResponse, description = "the existing link of this long URL"),
        (status = 400, body = ErrorBody, description = "invalid_url, url_too_long, blocked_host, invalid_alias, invalid_expiry, invalid_max_clicks, invalid_redirect, malformed_json"),
        (status = 401, body = ErrorBody, description = "unknown or revoked API key"),
        (status = 409, body = ErrorBody, description = "alias_taken"),
        (status = 429, body = ErrorBody, description = "rate_limited, with Retry-After"),
        (status = 503, body = ErrorBody, description = "no code could be made now")))]
async fn shorten(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    user: Result<CurrentUser, ApiError>,
    ApiJson(body): ApiJson<ShortenBody>,
) -> Result<(StatusCode, Json<LinkResponse>), ApiError> {
    let service = &state.service;
    let caller = caller(service, &headers, user).await?;
    let request = ShortenRequest {
        long_url: body.long_url,
        alias: body.alias,
        expires_at: body.expires_at,
        max_clicks: body.max_clicks,
        redirect: body.redirect,
    };
    let host = header_text(&headers, header::HOST);
    let done = service.shorten(&request, &caller, host).await.map_err(api_error)?;
    let status = if done.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(link_response(service, &done.link, done.created, host))))
}

/// Redirect to the long URL (book 8.2: `GET api/v1/shortUrl`, served at `/{code}`).
#[utoipa::path(get, path = "/{code}", tag = "shortener",
    params(("code" = String, Path, description = "A short code")),
    responses(
        (status = 301, description = "permanent redirect (Location, Cache-Control: public)"),
        (status = 302, description = "temporary redirect (Location, Cache-Control: no-store)"),
        (status = 404, body = ErrorBody, description = "no such link"),
        (status = 410, body = ErrorBody, description = "expired, click_limit_reached or disabled")))]
async fn redirect(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let code = path_text(code)?;
    let referer = header_text(&headers, header::REFERER);
    let agent = header_text(&headers, header::USER_AGENT);
    let resolved = state.service.resolve(&code, referer, agent).await.map_err(api_error)?;
    let location =
        HeaderValue::from_str(&resolved.location).map_err(|error| ApiError::internal(&error))?;
    let cache = HeaderValue::from_str(&resolved.cache_control)
        .map_err(|error| ApiError::internal(&error))?;
    Ok(redirect_response(resolved.redirect, location, cache))
}

/// A link.
#[utoipa::path(get, path = "/api/v1/links/{code}", tag = "shortener",
    params(("code" = String, Path, description = "A short code")),
    responses((status = 200, body = LinkResponse), (status = 404, body = ErrorBody)))]
async fn link(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<LinkResponse>, ApiError> {
    let code = path_text(code)?;
    let link = state.service.link(&code).await.map_err(api_error)?;
    let host = header_text(&headers, header::HOST);
    Ok(Json(link_response(&state.service, &link, false, host)))
}

/// Delete a link and its statistics (its API key, or that key's owner, only).
#[utoipa::path(delete, path = "/api/v1/links/{code}", tag = "shortener",
    params(("code" = String, Path, description = "A short code"),
        ("x-api-key" = Option<String>, Header, description = "The link's API key")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_link(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    user: Result<CurrentUser, ApiError>,
) -> Result<StatusCode, ApiError> {
    let code = path_text(code)?;
    let caller = caller(&state.service, &headers, user).await?;
    state.service.delete(&code, &caller).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_disabled(
    state: &AppState,
    code: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    user: Result<CurrentUser, ApiError>,
    disabled: bool,
) -> Result<Json<LinkResponse>, ApiError> {
    let code = path_text(code)?;
    let caller = caller(&state.service, headers, user).await?;
    let link = state.service.set_disabled(&code, disabled, &caller).await.map_err(api_error)?;
    let host = header_text(headers, header::HOST);
    Ok(Json(link_response(&state.service, &link, false, host)))
}

/// Disable a link: it answers 410 `disabled` until enabled.
#[utoipa::path(post, path = "/api/v1/links/{code}/disable", tag = "shortener",
    params(("code" = String, Path, description = "A short code"),
        ("x-api-key" = Option<String>, Header, description = "The link's API key")),
    responses((status = 200, body = LinkResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disable(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    user: Result<CurrentUser, ApiError>,
) -> Result<Json<LinkResponse>, ApiError> {
    set_disabled(&state, code, &headers, user, true).await
}

/// Enable a disabled link.
#[utoipa::path(post, path = "/api/v1/links/{code}/enable", tag = "shortener",
    params(("code" = String, Path, description = "A short code"),
        ("x-api-key" = Option<String>, Header, description = "The link's API key")),
    responses((status = 200, body = LinkResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn enable(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    user: Result<CurrentUser, ApiError>,
) -> Result<Json<LinkResponse>, ApiError> {
    set_disabled(&state, code, &headers, user, false).await
}

/// Click statistics of a link: total, per day, per referrer host, per user-agent family.
/// Exact: clicks queued before the request are written first.
#[utoipa::path(get, path = "/api/v1/links/{code}/stats", tag = "shortener",
    params(("code" = String, Path, description = "A short code")),
    responses((status = 200, body = StatsResponse), (status = 404, body = ErrorBody)))]
async fn stats(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<StatsResponse>, ApiError> {
    let code = path_text(code)?;
    let Stats { link, daily, referrers, agents } =
        state.service.stats(&code).await.map_err(api_error)?;
    let host = header_text(&headers, header::HOST);
    let named = |rows: Vec<(String, i64)>| {
        rows.into_iter().map(|(name, clicks)| NamedCount { name, clicks }).collect()
    };
    Ok(Json(StatsResponse {
        link: link_response(&state.service, &link, false, host),
        daily: daily.into_iter().map(|(day, clicks)| DayCount { day, clicks }).collect(),
        referrers: named(referrers),
        agents: named(agents),
    }))
}

/// The QR code of a link's short URL.
#[utoipa::path(get, path = "/api/v1/links/{code}/qr", tag = "shortener",
    params(("code" = String, Path, description = "A short code"), QrQuery),
    responses((status = 200, description = "image/svg+xml or image/png"),
        (status = 400, body = ErrorBody, description = "unknown format"),
        (status = 404, body = ErrorBody)))]
async fn qr(
    State(state): State<Arc<AppState>>,
    code: Result<Path<String>, PathRejection>,
    query: Result<Query<QrQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let code = path_text(code)?;
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))?;
    let png = match query.format.as_deref() {
        None | Some("svg") => false,
        Some("png") => true,
        Some(other) => {
            let message = format!("format {other:?}: use svg or png");
            return Err(ApiError::bad_request("invalid_format", message));
        }
    };
    let link = state.service.link(&code).await.map_err(api_error)?;
    let url = state.service.short_url(&link.code, header_text(&headers, header::HOST));
    let internal = |error: crate::qr::QrError| ApiError::internal(&error);
    let response = if png {
        let bytes = crate::qr::png(&url).map_err(internal)?;
        ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
    } else {
        let svg = crate::qr::svg(&url).map_err(internal)?;
        ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
    };
    Ok(response)
}

/// Create an API key for the signed-in user; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/keys", tag = "shortener", request_body = KeyBody,
    responses((status = 201, body = KeyResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "no valid bearer token"),
        (status = 403, body = ErrorBody, description = "too many keys")))]
async fn create_key(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    ApiJson(body): ApiJson<KeyBody>,
) -> Result<(StatusCode, Json<KeyResponse>), ApiError> {
    let issued = state.service.create_key(user.user.id, &body.name).await.map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(key_response(&issued.record, Some(issued.secret)))))
}

/// The signed-in user's API keys (no secrets).
#[utoipa::path(get, path = "/api/v1/keys", tag = "shortener",
    responses((status = 200, body = [KeyResponse]), (status = 401, body = ErrorBody)))]
async fn list_keys(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
) -> Result<Json<Vec<KeyResponse>>, ApiError> {
    let keys = state.service.list_keys(user.user.id).await.map_err(api_error)?;
    Ok(Json(keys.iter().map(|key| key_response(key, None)).collect()))
}

/// Revoke one of the signed-in user's API keys.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "shortener",
    params(("id" = i64, Path, description = "The key's id")),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such live key")))]
async fn revoke_key(
    State(state): State<Arc<AppState>>,
    user: CurrentUser,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|rejection| ApiError::not_found(rejection.body_text()))?;
    state.service.revoke_key(user.user.id, id).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}
