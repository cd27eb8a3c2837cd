//! Liveness (`/healthz`) and readiness (`/readyz`).
//!
//! Liveness says the process answers; readiness pings every configured backend (SQL,
//! cache, and whatever the systems register) concurrently, each with a timeout, and answers
//! 503 naming the ones that are down, so a load balancer stops sending traffic here.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::error::ErrorDetail;

/// A readiness probe should answer well within this; a hung backend counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Something `/readyz` checks.
pub trait Probe: Send + Sync + 'static {
    /// Short name of the backend (`sql`, `cache`).
    fn name(&self) -> String;
    /// What it points at, with secrets redacted (`redis://127.0.0.1:6379`).
    fn target(&self) -> String;
    /// Ping it.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// One probe's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// Backend name.
    pub name: String,
    /// Its redacted URL.
    pub target: String,
    /// Whether it answered in time.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `/readyz` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Every probe's outcome.
    pub checks: Vec<Check>,
    /// Present when not ready: names the backends that are down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// Run every probe concurrently.
pub async fn run_probes(probes: &[Arc<dyn Probe>]) -> Vec<Check> {
    let checks = probes.iter().map(|probe| async move {
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await;
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => Some(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
        };
        Check { name: probe.name(), target: probe.target(), ok: error.is_none(), error }
    });
    futures::future::join_all(checks).await
}

/// Build the readiness response from probe outcomes.
pub fn readiness_response(checks: Vec<Check>) -> Response {
    let down: Vec<String> = checks
        .iter()
        .filter(|check| !check.ok)
        .map(|check| {
            format!(
                "{} ({}) is down: {}",
                check.name,
                check.target,
                check.error.as_deref().unwrap_or("unknown")
            )
        })
        .collect();
    if down.is_empty() {
        let body = Readiness { status: "ready".into(), checks, error: None };
        (StatusCode::OK, Json(body)).into_response()
    } else {
        let error = ErrorDetail { code: "backend_unavailable".into(), message: down.join("; ") };
        let body = Readiness { status: "unavailable".into(), checks, error: Some(error) };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
