//! HTTP routes: the check API, the simulation API and the console page.
//!
//! - `POST /api/v1/ratelimit/check` — [`CheckRequest`] → [`CheckResponse`]; 400
//!   `unknown_domain` / `invalid_hits` / `invalid_body`.
//! - `POST /api/v1/ratelimit/simulate` — [`SimulationRequest`] → [`Timeline`]; 400
//!   `invalid_simulation`.
//! - `GET /api/v1/ratelimit/demo` — only in [`service_router`], behind the layer.
//! - `GET /ratelimit/` — the console page.
//! - gRPC `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` — [`crate::envoy`].

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::{CheckRequest, CheckResponse, ErrorBody};
use crate::layer::{LayerConfig, RateLimitLayer};
use crate::limiter::{CheckError, RateLimiter};
use crate::simulate::{SimulationRequest, Timeline, simulate};

/// The OpenAPI description of [`router`]'s API routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(check, simulate_handler, demo),
    components(schemas(CheckRequest, CheckResponse, SimulationRequest, Timeline, ErrorBody)),
    tags((name = "ratelimit", description = "Rate limiter (chapter 4)"))
)]
pub struct RateLimitApi;

/// The console page, embedded.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");

/// Request bodies above this are refused (a check is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The routes, sharing `limiter` with the layer.
pub fn router(limiter: Arc<RateLimiter>) -> Router {
    check_routes(limiter).merge(simulate_routes()).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// [`router`] as a service runs it: the simulate route and `GET /api/v1/ratelimit/demo`
/// sit behind [`RateLimitLayer`] (so the rules' per-IP, per-user and per-route limits,
/// and the leaking bucket's shaping, apply to them); the check API does not, since its
/// callers are proxies asking on behalf of others.
pub fn service_router(limiter: Arc<RateLimiter>, layer: LayerConfig) -> Router {
    let limited = simulate_routes()
        .route("/api/v1/ratelimit/demo", get(demo))
        .layer(RateLimitLayer::new(Arc::clone(&limiter), layer));
    check_routes(limiter).merge(limited).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn check_routes(limiter: Arc<RateLimiter>) -> Router {
    Router::new()
        .route("/api/v1/ratelimit/check", post(check))
        .route("/ratelimit/", get(|| async { Html(CONSOLE_HTML) }))
        .with_state(Arc::clone(&limiter))
        .merge(crate::envoy::router(limiter))
}

fn simulate_routes() -> Router {
    Router::new().route("/api/v1/ratelimit/simulate", post(simulate_handler))
}

/// A route that does nothing but pass the rate limiter: call it repeatedly to watch
/// `X-Ratelimit-Remaining` fall and a 429 arrive.
#[utoipa::path(get, path = "/api/v1/ratelimit/demo", tag = "ratelimit",
    responses((status = 200, description = "allowed; carries the limit headers"),
        (status = 429, body = ErrorBody, description = "rate limited, with Retry-After and the RateLimit headers")))]
async fn demo() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

/// Decide for `hits` requests described by `descriptors` in `domain`, as the layer does.
#[utoipa::path(post, path = "/api/v1/ratelimit/check", tag = "ratelimit", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn check(
    State(limiter): State<Arc<RateLimiter>>,
    body: Result<Json<CheckRequest>, JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), "invalid_body", e.body_text()),
    };
    match limiter.check(&req.domain, &req.descriptors, req.hits).await {
        Ok(outcome) => Json(CheckResponse::from(&outcome)).into_response(),
        Err(e @ CheckError::UnknownDomain(_)) => {
            error(StatusCode::BAD_REQUEST, "unknown_domain", e.to_string())
        }
        Err(e @ CheckError::TooManyHits { .. }) => {
            error(StatusCode::BAD_REQUEST, "invalid_hits", e.to_string())
        }
    }
}

/// Run one algorithm against a traffic pattern; accepted vs rejected over time.
#[utoipa::path(post, path = "/api/v1/ratelimit/simulate", tag = "ratelimit", request_body = SimulationRequest,
    responses((status = 200, body = Timeline), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate limited (the route is behind the limiter)")))]
async fn simulate_handler(body: Result<Json<SimulationRequest>, JsonRejection>) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), "invalid_body", e.body_text()),
    };
    // Up to MAX_REQUESTS decisions: milliseconds of CPU, off the async workers anyway.
    match tokio::task::spawn_blocking(move || simulate(&req)).await {
        Ok(Ok(timeline)) => Json(timeline).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, "invalid_simulation", e.to_string()),
        Err(e) => {
            tracing::error!(%e, "simulation task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        }
    }
}
