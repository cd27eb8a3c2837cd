//! Graceful shutdown: stop accepting, finish what is in flight.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use blueprint_platform::config::LoadedConfig;
use blueprint_platform::system::{BoxError, Mounted, SystemInfo};
use blueprint_platform::{Platform, System};
use blueprint_testkit::{Backends, spawn_app};
use futures::future::BoxFuture;

/// A system whose only route takes a while, to have a request in flight at shutdown.
struct SlowSystem;

impl System for SlowSystem {
    fn info(&self) -> SystemInfo {
        SystemInfo { name: "slow", title: "Slow test system", chapter: "—", krate: "tests" }
    }
    fn effective_config(
        &self,
        _config: &LoadedConfig,
    ) -> Result<toml::Value, blueprint_platform::config::ConfigError> {
        Ok(toml::Value::Table(Default::default()))
    }
    fn mount<'a>(&'a self, _platform: &'a Platform) -> BoxFuture<'a, Result<Mounted, BoxError>> {
        Box::pin(async {
            let router = Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    "finished"
                }),
            );
            Ok(Mounted {
                router,
                openapi: Default::default(),
                probes: vec![],
                fast_paths: Vec::new(),
            })
        })
    }
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let mut app = spawn_app(Backends::default(), vec![Arc::new(SlowSystem)]).await.unwrap();
    let client = app.client.clone();
    let url = app.url("/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    // Let the request reach the handler before signalling.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = app.begin_shutdown().unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn after_shutdown_new_connections_are_refused() {
    let app = spawn_app(Backends::default(), vec![]).await.unwrap();
    let url = app.url("/healthz");
    let client = app.client.clone();
    app.shutdown().await.unwrap();
    assert!(client.get(url).send().await.is_err());
}
