//! URL shortener (chapter 8): the `[shortener]` section, the service on the platform's
//! database and cache, its routes (the shorten route behind the ratelimit crate's layer)
//! and OpenAPI paths, the console page, and `blueprint shortener shorten|stats|load`.

use std::sync::Arc;

use blueprint_platform::config::{ConfigError, LoadedConfig};
use blueprint_platform::http::fast::FastPath;
use blueprint_platform::system::{CATALOG, section_toml};
use blueprint_platform::{BoxError, Mounted, Platform, System, SystemInfo};
use blueprint_shortener::cli::ShortenerCommand;
use blueprint_shortener::config::{Settings, ShortenerConfig};
use blueprint_shortener::http::{AppState, RedirectFastPath, ShortenerApi, router};
use blueprint_shortener::service::Service;
use blueprint_shortener::startup::{shorten_limit, start};
use clap::{FromArgMatches as _, Subcommand as _};
use futures::future::BoxFuture;
use utoipa::OpenApi as _;

use super::{boxed, catalog_entry};

/// The config section's name (and the catalog entry's).
const SECTION: &str = "shortener";

/// The URL shortener system.
#[derive(Debug, Default)]
pub struct Shortener;

fn settings(config: &LoadedConfig) -> Result<Settings, ConfigError> {
    let section: ShortenerConfig = config.section(SECTION)?;
    section.validate().map_err(|error| ConfigError::Invalid(error.to_string()))
}

/// Every system's page name: `/{code}` must never shadow `/<name>` (nor look like it).
fn reserved_codes() -> Vec<&'static str> {
    CATALOG.iter().map(|entry| entry.name).collect()
}

async fn service(platform: &Platform) -> Result<Arc<Service>, BoxError> {
    let settings = settings(&platform.config).map_err(boxed)?;
    start(platform, settings, reserved_codes()).await.map_err(boxed)
}

impl System for Shortener {
    fn info(&self) -> SystemInfo {
        catalog_entry(SECTION)
    }

    fn effective_config(&self, config: &LoadedConfig) -> Result<toml::Value, ConfigError> {
        settings(config)?;
        section_toml::<ShortenerConfig>(config, SECTION)
    }

    fn mount<'a>(&'a self, platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async move {
            let limit =
                shorten_limit(&settings(&platform.config).map_err(boxed)?).map_err(boxed)?;
            let service = service(platform).await?;
            let fast: Arc<dyn FastPath> = Arc::new(RedirectFastPath::new(Arc::clone(&service)));
            let router = router(Arc::new(AppState { service }), limit);
            Ok(Mounted {
                router,
                openapi: ShortenerApi::openapi(),
                probes: Vec::new(),
                fast_paths: vec![fast],
            })
        })
    }

    fn command(&self) -> clap::Command {
        ShortenerCommand::augment_subcommands(clap::Command::new(SECTION))
    }

    fn run_command<'a>(
        &'a self,
        matches: &'a clap::ArgMatches,
        config: &'a LoadedConfig,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = ShortenerCommand::from_arg_matches(matches).map_err(boxed)?;
            let server = &config.config.server;
            let host = format!("{}:{}", server.host, server.port);
            let platform = Platform::start(config.clone()).await.map_err(boxed)?;
            let service = service(&platform).await?;
            let outcome = blueprint_shortener::cli::run(command, &service, &host).await;
            platform.sql.close().await;
            outcome.map_err(boxed)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_shortener_subcommand_parses() {
        let parse = |args: &[&str]| {
            let matches = Shortener.command().try_get_matches_from(args).unwrap();
            ShortenerCommand::from_arg_matches(&matches).unwrap()
        };
        assert!(matches!(
            parse(&["shortener", "shorten", "https://example.com/", "--alias", "abc"]),
            ShortenerCommand::Shorten { ref url, alias: Some(_), .. } if url == "https://example.com/"
        ));
        assert!(matches!(
            parse(&["shortener", "stats", "abc", "--json"]),
            ShortenerCommand::Stats { json: true, .. }
        ));
        assert!(matches!(
            parse(&["shortener", "load", "--links", "5"]),
            ShortenerCommand::Load { links: 5, batch: 10_000, codes_out: None }
        ));
    }

    #[test]
    fn every_system_page_name_is_a_reserved_code() {
        let reserved = reserved_codes();
        assert!(reserved.contains(&"shortener") && reserved.contains(&"ids"));
        assert_eq!(reserved.len(), CATALOG.len());
    }
}
