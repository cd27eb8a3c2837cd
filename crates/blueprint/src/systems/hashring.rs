//! Consistent hashing (chapter 5): the console API over `blueprint_hashring::api` and
//! `blueprint hashring experiment`.
//!
//! The API is stateless: the page sends the node list with every request, so nothing is
//! stored and any number of servers answer alike.

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use blueprint_hashring::api::{
    self, CONSOLE_HTML, ChangeRequest, ChangeResponse, ConsoleConfig, RingDescription, RingRequest,
};
use blueprint_hashring::cli::{Args, Command as HashringCommand, run};
use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::{ApiError, ApiJson, ErrorBody, html_content_type};
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo};
use clap::{FromArgMatches as _, Subcommand as _};
use futures::future::BoxFuture;
use utoipa::OpenApi as _;

use super::{blocking, boxed, catalog_entry, no_settings};

/// The hashring system. It has no configuration of its own: every request carries its ring.
#[derive(Debug, Default)]
pub struct Hashring;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(config, describe, change),
    components(schemas(ConsoleConfig, RingRequest, RingDescription, ChangeRequest, ChangeResponse)),
    tags((name = "hashring", description = "Consistent hashing (chapter 5)"))
)]
struct HashringApi;

impl System for Hashring {
    fn info(&self) -> SystemInfo {
        catalog_entry("hashring")
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        no_settings(config, "hashring")
    }

    fn mount<'a>(&'a self, _platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            let router = Router::new()
                .route("/hashring/", get(page))
                .route("/api/v1/hashring/config", get(config))
                .route("/api/v1/hashring/ring", post(describe))
                .route("/api/v1/hashring/change", post(change));
            Ok(Mounted {
                router,
                openapi: HashringApi::openapi(),
                probes: Vec::new(),
                fast_paths: Vec::new(),
            })
        })
    }

    fn command(&self) -> clap::Command {
        HashringCommand::augment_subcommands(clap::Command::new("hashring"))
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        _config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = HashringCommand::from_arg_matches(matches).map_err(boxed)?;
            // Seconds of CPU for a million keys: off the async workers.
            blocking(move || run(Args { command })).await
        })
    }
}

async fn page() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, html_content_type())], CONSOLE_HTML)
}

fn api_error(error: &api::ApiError) -> ApiError {
    ApiError::bad_request(error.code(), error.to_string())
}

/// Limits and defaults of the console API.
#[utoipa::path(get, path = "/api/v1/hashring/config", tag = "hashring",
    responses((status = 200, body = ConsoleConfig)))]
async fn config() -> Json<ConsoleConfig> {
    Json(api::config())
}

/// A ring's nodes, points and sample-key owners.
#[utoipa::path(post, path = "/api/v1/hashring/ring", tag = "hashring", request_body = RingRequest,
    responses((status = 200, body = RingDescription), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn describe(
    ApiJson(request): ApiJson<RingRequest>,
) -> Result<Json<RingDescription>, ApiError> {
    api::describe(&request).map(Json).map_err(|error| api_error(&error))
}

/// A membership change: the ring before and after, the affected ranges and the moved keys.
#[utoipa::path(post, path = "/api/v1/hashring/change", tag = "hashring", request_body = ChangeRequest,
    responses((status = 200, body = ChangeResponse), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn change(
    ApiJson(request): ApiJson<ChangeRequest>,
) -> Result<Json<ChangeResponse>, ApiError> {
    api::change(&request).map(Json).map_err(|error| api_error(&error))
}
