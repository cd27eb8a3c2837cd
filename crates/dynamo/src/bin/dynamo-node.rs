//! One cluster node as its own process, for the black-box fault tests
//! (`tests/process.rs`) and `bench/dynamo-*.sh`: the same [`Node`], RESP and HTTP front
//! ends as `blueprint kv cluster node`, plus an address map so a harness can put a
//! fault-injecting proxy on every node-to-node link.
//!
//! Usage: `dynamo-node <settings.json>` with
//! `{"cluster": {...[kv.cluster] fields...}, "durability": "always"|"every_sec"|"no",
//! "routes": {"<address>": "<host:port>", ...}}`. Every RPC connection to an address in
//! `routes` dials the mapped one instead (so node ids can serve as advertised addresses
//! and each node reach each peer through its own proxy). The LSM store lives in the
//! cluster's `data_dir`. Prints `rpc <bound addr>`, `resp <addr>`, `http <addr>`, then
//! `ready`, and serves until killed (SIGTERM or Ctrl-C: a clean shutdown).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use blueprint_dynamo::net::{BoxFuture, BoxStream, Listener, Network};
use blueprint_dynamo::{
    ClusterConfig, LsmStorage, Node, SystemClock, TokioNetwork, http_router, serve_resp,
};
use serde::Deserialize;

/// The settings file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    cluster: ClusterConfig,
    #[serde(default)]
    durability: Durability,
    #[serde(default)]
    routes: HashMap<String, String>,
}

/// The engine's durability, as the settings file names it.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Durability {
    #[default]
    Always,
    EverySec,
    No,
}

impl From<Durability> for blueprint_lsm::Durability {
    fn from(value: Durability) -> Self {
        match value {
            Durability::Always => blueprint_lsm::Durability::Always,
            Durability::EverySec => blueprint_lsm::Durability::EverySec,
            Durability::No => blueprint_lsm::Durability::No,
        }
    }
}

/// Tokio TCP with addresses rewritten through `routes`.
struct RoutedNetwork {
    routes: HashMap<String, String>,
}

impl Network for RoutedNetwork {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<BoxStream>> {
        let target = self.routes.get(addr).map_or(addr, String::as_str);
        TokioNetwork.connect(target)
    }

    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Listener>>> {
        TokioNetwork.bind(addr)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dynamo-node <settings.json>")?;
    let text =
        std::fs::read_to_string(&path).map_err(|error| format!("reading {path}: {error}"))?;
    let settings: Settings =
        serde_json::from_str(&text).map_err(|error| format!("parsing {path}: {error}"))?;
    let cluster = settings.cluster;
    cluster.validate()?;
    let storage = LsmStorage::open(&cluster.data_dir, settings.durability.into())?;
    let resp = tokio::net::TcpListener::bind(&cluster.resp_listen).await?;
    let web = tokio::net::TcpListener::bind(&cluster.http_listen).await?;
    let seed = u64::from(std::process::id());
    let network = Arc::new(RoutedNetwork { routes: settings.routes });
    let node =
        Node::start(cluster, Arc::new(storage), network, Arc::new(SystemClock), seed).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "rpc {}", node.rpc_bound_addr())?;
    writeln!(stdout, "resp {}", resp.local_addr()?)?;
    writeln!(stdout, "http {}", web.local_addr()?)?;
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let resp_server = tokio::spawn(serve_resp(resp, node.handle(), wait(stopped.clone())));
    let router = http_router(node.handle());
    let web_server = tokio::spawn(async move {
        axum::serve(web, router).with_graceful_shutdown(wait(stopped)).await
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    let _ = stop.send(true);
    let _ = resp_server.await;
    let _ = web_server.await;
    node.shutdown().await;
    Ok(())
}
