//! A minimal rate-limited server: the check/simulate API, the console page, and the
//! tower layer in front of a demo route. The `blueprint` binary wires the same pieces.
//!
//! `cargo run -p blueprint-ratelimit --example serve -- [addr] [rules]`
//! (default `127.0.0.1:8084`, `crates/ratelimit/rules/example.yaml`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use blueprint_ratelimit::config::{RateLimitConfig, StoreConfig, start};
use blueprint_ratelimit::http::router;
use blueprint_ratelimit::layer::RateLimitLayer;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr =
        args.next().unwrap_or_else(|| "127.0.0.1:8084".into()).parse().context("address")?;
    let rules_path = args.next().map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/example.yaml")),
        PathBuf::from,
    );
    let config = RateLimitConfig {
        rules_path: Some(rules_path),
        store: StoreConfig::default(),
        domain: "api".into(),
        trusted_proxies: Vec::new(),
        api_key_header: "x-api-key".into(),
    };
    let running =
        start(&config, std::path::Path::new("data")).context("starting the rate limiter")?;
    let limited = router(running.limiter.clone())
        .route("/hello", get(|| async { "hello\n" }))
        .layer(RateLimitLayer::new(running.limiter.clone(), running.layer.clone()));
    let app = Router::new().merge(limited);
    let listener = tokio::net::TcpListener::bind(addr).await.context("binding")?;
    println!("listening on http://{}/ratelimit/", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .await
        .context("serving")?;
    Ok(())
}
