//! HTTP plumbing shared by every system: the error type, the middleware stack, health,
//! metrics and serving with graceful shutdown.
//!
//! # Layout
//! - [`error`]: [`ApiError`] and the [`ApiJson`] extractor.
//! - [`health`]: `/healthz`, `/readyz` and the [`Probe`] trait.
//! - [`metrics`]: the Prometheus recorder and per-route request metrics.
//! - this module: [`apply_layers`] (request id, tracing, metrics, JSON errors, limits,
//!   timeout, compression) and [`serve`].

pub mod error;
pub mod fast;
pub mod health;
pub mod metrics;
pub mod openapi;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use error::{ApiError, ApiJson, ErrorBody, ErrorDetail};
pub use health::{Check, Probe, Readiness};

/// The request-id header, taken from the request when present or generated, and echoed.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Largest non-JSON error body a layer may produce that we still quote in the JSON
/// message; anything longer is replaced by a generic message.
const QUOTED_ERROR_BODY_MAX_BYTES: usize = 1024;

/// Limits applied to every route.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Longest a request may run.
    pub request_timeout: Duration,
}

impl Limits {
    /// The limits `[server]` sets.
    pub fn from_server(server: &crate::config::ServerConfig) -> Limits {
        Limits {
            body_limit_bytes: server.body_limit_bytes,
            request_timeout: Duration::from_millis(server.request_timeout_ms),
        }
    }
}

/// Wrap a router in the platform's middleware, outermost first: request id, tracing span,
/// request id echo, panic → 500, compression, JSON errors, body limits; then, per route
/// (after routing, where the route's template is known), metrics and the timeout
/// ([`metrics::track`]).
///
/// JSON errors sit inside compression: they read and replace error bodies, which must
/// still be uncompressed then (the other way round, a gzip body was quoted as text and the
/// JSON sent under `content-encoding: gzip`).
///
/// Why two tiers: `Router::layer` wraps every route in each layer as a boxed service, and
/// a boxed stack is cloned, box by box, for every request. With the ten layers on each
/// route that cloning was half of the instructions a `GET /healthz` took (callgrind).
/// Here the shared layers are one concrete service around the router, cloned without
/// allocating, and each route carries one boxed layer.
///
/// What the split costs: a request refused before routing (a `Content-Length` over the
/// body limit, answered 413 by [`RequestBodyLimitLayer`]) is not in the per-route metrics.
pub fn apply_layers(router: Router, limits: Limits) -> Router {
    apply_layers_with(router, limits, Vec::new())
}

/// [`apply_layers`], with `fast_paths` offered each request before the stack
/// ([`fast`]).
pub fn apply_layers_with(
    router: Router,
    limits: Limits,
    fast_paths: Vec<std::sync::Arc<dyn fast::FastPath>>,
) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let routed =
        router.layer(axum::middleware::from_fn_with_state(limits.request_timeout, metrics::track));
    let shared = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), ProcessRequestIds))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(json_errors))
        .layer(RequestBodyLimitLayer::new(limits.body_limit_bytes))
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes))
        .service(routed);
    if fast_paths.is_empty() {
        return Router::new().fallback_service(shared);
    }
    Router::new().fallback_service(fast::WithFastPaths::new(fast_paths, shared))
}

/// Request ids shaped like a UUID (36 characters), cheap to make: 64 random bits drawn
/// once per process, then a counter. Unique within a process and, with the random half,
/// across processes. (Random v4 UUIDs cost a tenth of a plain request's instructions.)
#[derive(Debug, Clone, Copy)]
struct ProcessRequestIds;

static REQUEST_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static PROCESS_PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

impl MakeRequestId for ProcessRequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let prefix = *PROCESS_PREFIX.get_or_init(|| {
            let mut bytes = [0u8; 8];
            // Without entropy the ids are still unique within the process.
            let _ = getrandom::fill(&mut bytes);
            u64::from_le_bytes(bytes)
        });
        let count = REQUEST_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value = u128::from(prefix) << 64 | u128::from(count);
        HeaderValue::from_bytes(&uuid_shaped(value)).ok().map(RequestId::new)
    }
}

/// `value` as 32 hex digits in UUID groups (8-4-4-4-12).
fn uuid_shaped(value: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut digit = 0;
    for (index, slot) in out.iter_mut().enumerate() {
        if matches!(index, 8 | 13 | 18 | 23) {
            continue;
        }
        let shift = 124 - 4 * digit;
        *slot = HEX[((value >> shift) & 0xf) as usize];
        digit += 1;
    }
    out
}

fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
        .into_response()
}

/// Turn any error response that is not already JSON (a 404 from the fallback, a 405, a 413
/// from the body limit, a 408 from the timeout) into the standard JSON error body.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let message = if status.is_server_error() {
        "internal server error".to_owned()
    } else {
        let limited = http_body_util::Limited::new(body, QUOTED_ERROR_BODY_MAX_BYTES);
        match limited.collect().await {
            Ok(collected) => {
                let text = String::from_utf8_lossy(&collected.to_bytes()).trim().to_owned();
                if text.is_empty() { default_message(status) } else { text }
            }
            Err(_) => default_message(status),
        }
    };
    let mut rebuilt =
        ApiError::new(status, ApiError::code_for_status(status), message).into_response();
    // Keep headers the layer set on purpose (Allow on 405, Retry-After on 429/503).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
        {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

fn default_message(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("error").to_lowercase()
}

/// The JSON 404 for unmatched routes.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no route for {} {}", request.method(), request.uri().path()))
}

/// Serve `router` on `listener` until `shutdown` resolves, then stop accepting and let
/// in-flight requests finish, for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    };
    let server =
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown);
    let server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = server => result,
        () = async {
            // Only after the signal does the grace period start.
            let _ = signalled_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "shutdown grace period elapsed; dropping in-flight requests");
            Ok(())
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}

/// A `Content-Type` value for HTML pages.
pub fn html_content_type() -> HeaderValue {
    HeaderValue::from_static("text/html; charset=utf-8")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Params {
        #[allow(dead_code)]
        n: u32,
    }

    async fn rejected(accept_gzip: bool) -> (Option<HeaderValue>, axum::body::Bytes) {
        let router =
            Router::new().route("/q", get(|_: axum::extract::Query<Params>| async { "ok" }));
        let limits = Limits { body_limit_bytes: 1024, request_timeout: Duration::from_secs(5) };
        let mut request = Request::builder().uri("/q?n=not-a-number");
        if accept_gzip {
            request = request.header(header::ACCEPT_ENCODING, "gzip");
        }
        let response = apply_layers(router, limits)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let encoding = response.headers().get(header::CONTENT_ENCODING).cloned();
        (encoding, response.into_body().collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn a_plain_text_rejection_is_quoted_in_json_and_its_encoding_header_matches_its_body() {
        let (encoding, body) = rejected(false).await;
        assert_eq!(encoding, None);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("deserialize"), "the rejection's own text: {message}");
        // With gzip accepted, a body sent as gzip must be gzip (magic 1f 8b), not the
        // plain JSON under a gzip header that the layers once produced.
        let (encoding, body) = rejected(true).await;
        match encoding {
            Some(value) => {
                assert_eq!(value, "gzip");
                assert_eq!(&body[..2], &[0x1f, 0x8b], "labelled gzip but not gzip");
            }
            None => assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok()),
        }
    }

    #[test]
    fn request_ids_are_uuid_shaped_and_distinct() {
        assert_eq!(
            &uuid_shaped(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            b"01234567-89ab-cdef-0011-223344556677"
        );
        let request = Request::builder().body(()).unwrap();
        let mut make = ProcessRequestIds;
        let first = make.make_request_id(&request).unwrap();
        let second = make.make_request_id(&request).unwrap();
        assert_ne!(first.header_value(), second.header_value());
        assert_eq!(first.header_value().len(), 36);
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_gets_a_json_408_and_is_counted_under_its_route() {
        let _ = metrics::handle();
        let router = Router::new().route(
            "/slow/{id}",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        );
        let limits = Limits { body_limit_bytes: 1024, request_timeout: Duration::from_millis(50) };
        let response = apply_layers(router, limits)
            .oneshot(Request::builder().uri("/slow/7").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(response.headers().contains_key(REQUEST_ID_HEADER), "the shared layers ran");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "timeout", "{body}");
        let exposition = metrics::render();
        assert!(
            exposition.lines().any(|line| line.starts_with("http_requests_total")
                && line.contains(r#"route="/slow/{id}""#)
                && line.contains(r#"status="408""#)),
            "{exposition}"
        );
    }

    #[tokio::test]
    async fn an_unmatched_path_is_a_json_404_counted_as_unmatched() {
        let _ = metrics::handle();
        let limits = Limits { body_limit_bytes: 1024, request_timeout: Duration::from_secs(5) };
        let router = Router::new().route("/here", get(|| async { "ok" })).fallback(not_found);
        let response = apply_layers(router, limits)
            .oneshot(Request::builder().uri("/nowhere").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{body}");
        let exposition = metrics::render();
        assert!(
            exposition.lines().any(|line| line.starts_with("http_requests_total")
                && line.contains(r#"route="unmatched""#)
                && line.contains(r#"status="404""#)),
            "{exposition}"
        );
    }
}
