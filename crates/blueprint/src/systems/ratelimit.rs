//! Rate limiter (chapter 4): the `[ratelimit]` section, the engine with its rules watcher,
//! the check/simulate/demo API behind the rate-limit layer, a probe for a Redis store, and
//! `blueprint ratelimit simulate`.

use std::sync::Arc;

use axum::extract::{FromRequestParts as _, Request};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use blueprint_platform::auth::CurrentUser;
use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::Probe;
use blueprint_platform::system::section_toml;
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo};
use blueprint_ratelimit::cli::{SimulateArgs, run_simulate};
use blueprint_ratelimit::config::{RateLimitConfig, start};
use blueprint_ratelimit::http::{RateLimitApi, service_router};
use blueprint_ratelimit::layer::AuthenticatedUser;
use blueprint_ratelimit::limiter::RateLimiter;
use clap::{Args as _, FromArgMatches as _};
use futures::future::BoxFuture;
use utoipa::OpenApi as _;

use super::{boxed, catalog_entry};

/// The config section's name.
const SECTION: &str = "ratelimit";

/// The rate limiter system.
#[derive(Debug, Default)]
pub struct RateLimit;

impl System for RateLimit {
    fn info(&self) -> SystemInfo {
        catalog_entry(SECTION)
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        section_toml::<RateLimitConfig>(config, SECTION)
    }

    fn mount<'a>(&'a self, platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            let config: RateLimitConfig = platform.config.section(SECTION)?;
            let running = start(&config, &platform.config.config.server.data_dir)?;
            // The watcher lives as long as the process; its handle is not needed to stop it.
            drop(running.watcher);
            let router = service_router(Arc::clone(&running.limiter), running.layer)
                .layer(axum::middleware::from_fn(signed_in_user));
            let probes: Vec<Arc<dyn Probe>> = match running.limiter.remote_store() {
                Some(target) => vec![Arc::new(StoreProbe { limiter: running.limiter, target })],
                None => Vec::new(),
            };
            Ok(Mounted { router, openapi: RateLimitApi::openapi(), probes, fast_paths: Vec::new() })
        })
    }

    fn command(&self) -> clap::Command {
        clap::Command::new(SECTION).subcommand(SimulateArgs::augment_args(
            clap::Command::new("simulate").about(
                "Run an algorithm against a traffic pattern; print accepted vs rejected over time",
            ),
        ))
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        _config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            match matches.subcommand() {
                Some(("simulate", simulate)) => {
                    let args = SimulateArgs::from_arg_matches(simulate).map_err(boxed)?;
                    run_simulate(&args).map_err(boxed)
                }
                other => Err(format!("unknown subcommand ratelimit {other:?}").into()),
            }
        })
    }
}

/// Tells the layer who is signed in, so the rules' `user` descriptor applies: a valid
/// bearer token adds [`AuthenticatedUser`]; no token or a bad one limits by IP alone (the
/// route itself decides whether it needs a user).
async fn signed_in_user(request: Request, next: Next) -> Response {
    if !request.headers().contains_key(AUTHORIZATION) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Ok(current) = CurrentUser::from_request_parts(&mut parts, &()).await {
        parts.extensions.insert(AuthenticatedUser(current.user.id.to_string()));
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Readiness of a Redis counter store.
struct StoreProbe {
    limiter: Arc<RateLimiter>,
    target: String,
}

impl Probe for StoreProbe {
    fn name(&self) -> String {
        "ratelimit-redis".into()
    }

    fn target(&self) -> String {
        self.target.clone()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.limiter.ping_store())
    }
}
