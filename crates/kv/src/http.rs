//! The HTTP API: `GET`/`PUT`/`DELETE /api/v1/kv/{key}` with the value as the raw body,
//! `GET /api/v1/kv` for the engine's stats and `GET /api/v1/kv-keys` to list keys in
//! order. Errors are `{"error":{"code","message"}}`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::db::{Expiration, SetCondition, Store};
use crate::error::KvError;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The store.
    pub store: Arc<Store>,
    /// Largest accepted value, from `[kv] max_request_bytes`.
    pub max_value_bytes: usize,
}

/// The routes (console page excluded: the glue mounts it).
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/api/v1/kv", get(stats))
        .route("/api/v1/kv-keys", get(list_keys))
        .route("/api/v1/kv/{key}", get(get_value).put(put_value).delete(delete_value))
        .with_state(state)
}

/// The engine's shape and its counters since open, as JSON.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsBody {
    /// Live SSTables (sorted runs; compaction is size-tiered, so each is one tier).
    pub table_count: usize,
    /// Bytes of all live SSTables.
    pub table_bytes: u64,
    /// The live tables, newest first.
    pub tables: Vec<TableBody>,
    /// Approximate bytes in the active memtable.
    pub active_memtable_bytes: usize,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes of decompressed blocks in the block cache.
    pub block_cache_bytes: usize,
    /// Block reads served by the cache, over all block reads (null before any).
    pub block_cache_hit_ratio: Option<f64>,
    /// Block reads served by the cache.
    pub block_cache_hits: u64,
    /// Block reads that went to disk.
    pub block_cache_misses: u64,
    /// Keys plus values committed since open.
    pub user_bytes_written: u64,
    /// WAL, flush and compaction bytes since open.
    pub disk_bytes_written: u64,
    /// `disk_bytes_written / user_bytes_written` (null before any write).
    pub write_amplification: Option<f64>,
    /// Highest sequence number committed (one per write).
    pub last_seq: u64,
}

/// One SSTable.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableBody {
    /// File number.
    pub id: u64,
    /// File bytes.
    pub bytes: u64,
    /// Entries (versions and tombstones).
    pub entries: u64,
}

/// `GET /api/v1/kv-keys` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct KeysQuery {
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Only keys after this one (the previous page's `next_after`).
    pub after: Option<String>,
    /// Keys per page, 1 to [`MAX_KEYS_PAGE`] (default 50).
    pub limit: Option<usize>,
}

/// Most keys one `GET /api/v1/kv-keys` returns.
pub const MAX_KEYS_PAGE: usize = 1000;

/// A page of keys in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeysBody {
    /// Keys (UTF-8; other bytes shown lossily).
    pub keys: Vec<String>,
    /// Pass as `after` for the next page; null on the last one.
    pub next_after: Option<String>,
}

/// `{"error":{"code","message"}}`, this crate's copy of the platform's error shape (the
/// crate does not depend on the platform).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// Explanation for humans.
    pub message: String,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.into() } };
    (status, Json(body)).into_response()
}

fn store_error(failure: &KvError) -> Response {
    match failure {
        KvError::Engine { source: blueprint_lsm::Error::KeyTooLarge { .. } } => {
            error(StatusCode::BAD_REQUEST, "key_too_large", failure.to_string())
        }
        KvError::Engine { source: blueprint_lsm::Error::ValueTooLarge { .. } } => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "value_too_large", failure.to_string())
        }
        _ => {
            tracing::error!(error = %failure, "kv store error");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KvError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(failure)) => Err(store_error(&failure)),
        Err(join) => {
            tracing::error!(error = %join, "kv request panicked");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error"))
        }
    }
}

/// The engine's stats.
#[utoipa::path(get, path = "/api/v1/kv", tag = "kv",
    responses((status = 200, body = StatsBody)))]
pub async fn stats(State(state): State<HttpState>) -> Json<StatsBody> {
    let stats = state.store.stats();
    Json(StatsBody {
        table_count: stats.table_count,
        table_bytes: stats.table_bytes,
        tables: stats
            .tables
            .iter()
            .map(|table| TableBody { id: table.id, bytes: table.bytes, entries: table.entries })
            .collect(),
        active_memtable_bytes: stats.active_memtable_bytes,
        immutable_memtables: stats.immutable_memtables,
        block_cache_bytes: stats.block_cache_bytes,
        block_cache_hit_ratio: stats.block_cache_hit_ratio(),
        block_cache_hits: stats.block_cache_hits,
        block_cache_misses: stats.block_cache_misses,
        user_bytes_written: stats.user_bytes_written,
        disk_bytes_written: stats.wal_bytes_written
            + stats.flush_bytes_written
            + stats.compaction_bytes_written,
        write_amplification: stats.write_amplification(),
        last_seq: stats.last_seq,
    })
}

/// Keys in order, a page at a time, optionally under a prefix.
#[utoipa::path(get, path = "/api/v1/kv-keys", tag = "kv", params(KeysQuery),
    responses((status = 200, body = KeysBody), (status = 400, body = ErrorBody)))]
pub async fn list_keys(
    State(state): State<HttpState>,
    Query(query): Query<KeysQuery>,
) -> Result<Json<KeysBody>, Response> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_KEYS_PAGE).contains(&limit) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            format!("limit must be between 1 and {MAX_KEYS_PAGE}"),
        ));
    }
    let store = Arc::clone(&state.store);
    let (keys, more) = blocking(move || {
        store.keys_under(query.prefix.as_bytes(), query.after.as_deref().map(str::as_bytes), limit)
    })
    .await?;
    let next_after =
        if more { keys.last().map(|key| String::from_utf8_lossy(key).into_owned()) } else { None };
    let keys = keys.iter().map(|key| String::from_utf8_lossy(key).into_owned()).collect();
    Ok(Json(KeysBody { keys, next_after }))
}

/// A key's value as the raw body.
#[utoipa::path(get, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key (UTF-8 in the path; at most 64 KiB)")),
    responses(
        (status = 200, description = "The value", body = String, content_type = "application/octet-stream"),
        (status = 400, description = "Key too large", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 500, description = "Storage failure", body = ErrorBody)))]
pub async fn get_value(State(state): State<HttpState>, Path(key): Path<String>) -> Response {
    let store = Arc::clone(&state.store);
    match blocking(move || store.get(key.as_bytes())).await {
        Ok(Some(value)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], value).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "no such key"),
        Err(response) => response,
    }
}

/// Sets a key to the raw request body.
#[utoipa::path(put, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key (UTF-8 in the path; at most 64 KiB)")),
    request_body(content = Option<String>, content_type = "application/octet-stream",
        description = "The value; empty or absent stores the empty string"),
    responses(
        (status = 204, description = "Stored"),
        (status = 400, description = "Key too large", body = ErrorBody),
        (status = 413, description = "Value larger than max_request_bytes", body = ErrorBody),
        (status = 500, description = "Storage failure", body = ErrorBody)))]
pub async fn put_value(
    State(state): State<HttpState>,
    Path(key): Path<String>,
    value: Bytes,
) -> Response {
    if value.len() > state.max_value_bytes {
        let message =
            format!("value is {} bytes, the limit is {}", value.len(), state.max_value_bytes);
        return error(StatusCode::PAYLOAD_TOO_LARGE, "value_too_large", message);
    }
    let store = Arc::clone(&state.store);
    let write =
        move || store.set(key.as_bytes(), &value, Expiration::Clear, SetCondition::Always, false);
    match blocking(write).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(response) => response,
    }
}

/// Deletes a key (absent keys too: deleting is idempotent).
#[utoipa::path(delete, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key (UTF-8 in the path; at most 64 KiB)")),
    responses(
        (status = 204, description = "Deleted, or was absent"),
        (status = 400, description = "Key too large", body = ErrorBody),
        (status = 500, description = "Storage failure", body = ErrorBody)))]
pub async fn delete_value(State(state): State<HttpState>, Path(key): Path<String>) -> Response {
    let store = Arc::clone(&state.store);
    match blocking(move || store.delete(&[key.as_bytes()])).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(response) => response,
    }
}

/// The OpenAPI description of [`router`]'s routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(stats, list_keys, get_value, put_value, delete_value),
    components(schemas(StatsBody, TableBody, KeysBody, ErrorBody, ErrorDetail)),
    tags((name = "kv", description = "Key-value store (chapter 6)"))
)]
pub struct KvApi;
