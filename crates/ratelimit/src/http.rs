//! HTTP routes: the check API, the simulation API and the console page.
//!
//! - `POST /api/v1/ratelimit/check` — [`CheckRequest`] → [`CheckResponse`]; 400
//!   `unknown_domain` / `invalid_hits` / `invalid_body`.
//! - `POST /api/v1/ratelimit/simulate` — [`SimulationRequest`] → [`Timeline`]; 400
//!   `invalid_simulation`.
//! - `GET /ratelimit/` — the console page.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::{CheckRequest, CheckResponse, ErrorBody};
use crate::limiter::{CheckError, RateLimiter};
use crate::simulate::{SimulationRequest, simulate};

/// The console page, embedded.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");

/// Request bodies above this are refused (a check is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The routes, sharing `limiter` with the layer.
pub fn router(limiter: Arc<RateLimiter>) -> Router {
    Router::new()
        .route("/api/v1/ratelimit/check", post(check))
        .route("/api/v1/ratelimit/simulate", post(simulate_handler))
        .route("/ratelimit/", get(|| async { Html(CONSOLE_HTML) }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(limiter)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

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
