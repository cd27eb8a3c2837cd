//! The HTTP front end: `GET/PUT/DELETE /api/v1/kv/{key}`, and for operators
//! `GET /api/v1/kv-cluster/status`, `GET /api/v1/kv-cluster/merkle` (this node's Merkle
//! root per peer, as hex: replicas have converged when each pair's roots are equal) and
//! `POST /api/v1/kv-cluster/anti-entropy` (one anti-entropy round now; answers its
//! report). Like the RPC port, these trust their network.
//!
//! The causal context travels in the `X-Blueprint-Context` header (as Riak's
//! `X-Riak-Vclock`): a `GET` returns it, a `PUT` or `DELETE` sends it back to supersede
//! what that read saw (without it, a write supersedes what the coordinating replica
//! holds). A `GET` answers `200` with every sibling as JSON:
//! `{"key":"k","context":"...","siblings":[{"value":"text or null","value_base64":"..."}]}`
//! (`value` is the UTF-8 text when the bytes are UTF-8, else null), or `404` when no live
//! value exists (the header still carries the context, so a client can write after a
//! delete without creating a sibling). Quorum overrides: `?r=3`, `?w=1`.
//!
//! Errors are `{"error":{"code","message"}}`: `503 UNAVAILABLE` when the quorum cannot be
//! met (nothing was acknowledged), `400 BAD_CONTEXT` for a context that does not decode,
//! `400 BAD_REQUEST` for bad quorum numbers or keys.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::config::RequestOptions;
use crate::error::DynamoError;
use crate::node::{MAX_VALUE_BYTES, NodeHandle};

/// The header carrying the causal context.
pub const CONTEXT_HEADER: &str = "x-blueprint-context";

/// The router; serve it with `axum::serve`.
pub fn http_router(handle: NodeHandle) -> Router {
    Router::new()
        .route("/api/v1/kv/{key}", get(get_key).put(put_key).delete(delete_key))
        .route("/api/v1/kv-cluster/status", get(status))
        .route("/api/v1/kv-cluster/merkle", get(merkle))
        .route("/api/v1/kv-cluster/anti-entropy", post(anti_entropy))
        .layer(DefaultBodyLimit::max(MAX_VALUE_BYTES))
        .with_state(handle)
}

#[derive(Debug, Deserialize, Default)]
struct Quorum {
    r: Option<usize>,
    w: Option<usize>,
}

impl Quorum {
    fn options(&self) -> RequestOptions {
        RequestOptions { r: self.r, w: self.w }
    }
}

#[derive(Debug, Serialize)]
struct Sibling {
    value: Option<String>,
    value_base64: String,
}

#[derive(Debug, Serialize)]
struct ReadBody {
    key: String,
    context: String,
    siblings: Vec<Sibling>,
}

#[derive(Debug, Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

fn error_response(error: &DynamoError) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(%error, "kv cluster request failed");
        "internal error".to_owned()
    } else {
        error.to_string()
    };
    (status, axum::Json(ErrorBody { error: ErrorDetail { code: error.code(), message } }))
        .into_response()
}

fn context_of(headers: &HeaderMap) -> Result<Option<String>, DynamoError> {
    match headers.get(CONTEXT_HEADER) {
        None => Ok(None),
        Some(value) => value.to_str().map(|v| Some(v.to_owned())).map_err(|_| {
            DynamoError::BadContext { source: crate::version::ContextError::NotBase64 }
        }),
    }
}

fn with_context(mut response: Response, context: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(context) {
        response.headers_mut().insert(CONTEXT_HEADER, value);
    }
    response
}

async fn get_key(
    State(handle): State<NodeHandle>,
    Path(key): Path<String>,
    Query(q): Query<Quorum>,
) -> Response {
    match handle.get(key.as_bytes(), q.options()).await {
        Ok(read) if read.values.is_empty() => {
            let body = ErrorBody {
                error: ErrorDetail { code: "NOT_FOUND", message: format!("no value for {key}") },
            };
            with_context((StatusCode::NOT_FOUND, axum::Json(body)).into_response(), &read.context)
        }
        Ok(read) => {
            let siblings = read
                .values
                .iter()
                .map(|v| Sibling {
                    value: std::str::from_utf8(v).ok().map(str::to_owned),
                    value_base64: base64::engine::general_purpose::STANDARD.encode(v),
                })
                .collect();
            let context = read.context.clone();
            let body = ReadBody { key, context: read.context, siblings };
            with_context(axum::Json(body).into_response(), &context)
        }
        Err(error) => error_response(&error),
    }
}

async fn put_key(
    State(handle): State<NodeHandle>,
    Path(key): Path<String>,
    Query(q): Query<Quorum>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = match context_of(&headers) {
        Ok(context) => handle.put(key.as_bytes(), body, context.as_deref(), q.options()).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error_response(&error),
    }
}

async fn delete_key(
    State(handle): State<NodeHandle>,
    Path(key): Path<String>,
    Query(q): Query<Quorum>,
    headers: HeaderMap,
) -> Response {
    let outcome = match context_of(&headers) {
        Ok(context) => handle.delete(key.as_bytes(), context.as_deref(), q.options()).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error_response(&error),
    }
}

async fn status(State(handle): State<NodeHandle>) -> Response {
    axum::Json(handle.status()).into_response()
}

#[derive(Debug, Serialize)]
struct MerkleBody {
    node: String,
    /// Peer id → root hash as 16 hex digits (a JSON number would lose bits in browsers).
    roots: std::collections::BTreeMap<String, String>,
}

async fn merkle(State(handle): State<NodeHandle>) -> Response {
    match handle.merkle_roots() {
        Ok(roots) => axum::Json(MerkleBody {
            node: handle.node_id().to_owned(),
            roots: roots.into_iter().map(|(peer, root)| (peer, format!("{root:016x}"))).collect(),
        })
        .into_response(),
        Err(error) => error_response(&error),
    }
}

async fn anti_entropy(State(handle): State<NodeHandle>) -> Response {
    axum::Json(handle.anti_entropy_now().await).into_response()
}
