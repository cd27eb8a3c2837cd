//! `blueprint kv cluster up|node|status`: the Dynamo-style cluster of chapter 6.3
//! ([`blueprint_dynamo`]) run from the binary.
//!
//! - `up --nodes N` starts N nodes in this process on loopback, each on its own LSM store
//!   under `<data dir>/<node id>`, with its RESP, RPC and HTTP listeners (ports counted up
//!   from `--resp-port`, `--rpc-port`, `--http-port`; `0` for ephemeral ones), seeded
//!   from the first node, and prints one line per node. Each node's HTTP serves the
//!   cluster API and the `/kv/` console page, which shows the ring and every member's
//!   state as that node sees it.
//! - `node` runs one node from the `[kv.cluster]` section (a real multi-process or
//!   multi-machine cluster: give every node its id, addresses and seeds).
//! - `status` prints a node's view: ring shares, members and their health, hints pending
//!   and the last anti-entropy round (`--json` for the raw document).
//!
//! Ctrl-C or SIGTERM stops the listeners, then the nodes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use blueprint_dynamo::{
    ClusterConfig, LsmStorage, Node, SystemClock, TokioNetwork, http_router, serve_resp,
};
use blueprint_kv::KvConfig;
use blueprint_platform::config::LoadedConfig;
use blueprint_platform::http::{self, Limits};
use tokio::sync::watch;

/// `blueprint kv cluster ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterTop {
    /// The Dynamo-style cluster (book 6.3): quorums, vector clocks, gossip, hinted handoff.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// The cluster's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Start a local cluster of N nodes in this process on loopback.
    Up {
        /// How many nodes.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// The first node's RESP port (the next nodes count up); 0 for ephemeral ports.
        #[arg(long, default_value_t = 6400)]
        resp_port: u16,
        /// The first node's node-to-node RPC port; 0 for ephemeral ports.
        #[arg(long, default_value_t = 7400)]
        rpc_port: u16,
        /// The first node's HTTP port (API and `/kv/` page); 0 for ephemeral ports.
        #[arg(long, default_value_t = 8400)]
        http_port: u16,
        /// Where the nodes keep their data (default: `<server data dir>/kv-cluster`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Replicas per key.
        #[arg(long, default_value_t = 3)]
        n: usize,
        /// Replicas that must answer a read.
        #[arg(long, default_value_t = 2)]
        r: usize,
        /// Replicas that must acknowledge a write.
        #[arg(long, default_value_t = 2)]
        w: usize,
    },
    /// Run one node as the `[kv.cluster]` section describes it.
    Node,
    /// Show a node's view of the cluster.
    Status {
        /// The node's HTTP address.
        #[arg(long, default_value = "http://127.0.0.1:8400")]
        node: String,
        /// Print the raw JSON document.
        #[arg(long)]
        json: bool,
    },
}

/// Run `command`.
pub async fn run(command: ClusterCommand, config: &LoadedConfig) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Up { nodes, resp_port, rpc_port, http_port, data_dir, n, r, w } => {
            anyhow::ensure!((1..=64).contains(&nodes), "--nodes must be 1..=64, not {nodes}");
            let data_dir =
                data_dir.unwrap_or_else(|| config.config.server.data_dir.join("kv-cluster"));
            let port = |base: u16, index: usize| -> anyhow::Result<u16> {
                if base == 0 {
                    return Ok(0);
                }
                u16::try_from(usize::from(base) + index)
                    .with_context(|| format!("port {base} + {index} is past 65535"))
            };
            let mut configs = Vec::with_capacity(nodes);
            for index in 0..nodes {
                let node_id = format!("node{}", index + 1);
                configs.push(ClusterConfig {
                    resp_listen: format!("127.0.0.1:{}", port(resp_port, index)?),
                    rpc_listen: format!("127.0.0.1:{}", port(rpc_port, index)?),
                    http_listen: format!("127.0.0.1:{}", port(http_port, index)?),
                    data_dir: data_dir.join(&node_id),
                    node_id,
                    n,
                    r,
                    w,
                    ..ClusterConfig::default()
                });
            }
            run_nodes(configs, config).await
        }
        ClusterCommand::Node => {
            let kv: KvConfig = config.section("kv").context("reading [kv]")?;
            let node = section_cluster(&kv).map_err(anyhow::Error::msg)?.unwrap_or_default();
            run_nodes(vec![node], config).await
        }
        ClusterCommand::Status { node, json } => {
            let url = format!("{}/api/v1/kv-cluster/status", node.trim_end_matches('/'));
            let response = reqwest::Client::new()
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .with_context(|| format!("asking {url}"))?;
            let status_code = response.status();
            let body = response.text().await.context("reading the status")?;
            anyhow::ensure!(status_code.is_success(), "{url} answered {status_code}: {body}");
            if json {
                println!("{body}");
            } else {
                let status: serde_json::Value =
                    serde_json::from_str(&body).context("the status is not JSON")?;
                print!("{}", render_status(&status));
            }
            Ok(())
        }
    }
}

/// `[kv.cluster]`, parsed and checked; `None` when the section has none.
pub(super) fn section_cluster(kv: &KvConfig) -> Result<Option<ClusterConfig>, String> {
    let Some(cluster) = kv.cluster.clone() else { return Ok(None) };
    let cluster: ClusterConfig =
        serde_json::from_value(cluster).map_err(|error| format!("[kv.cluster]: {error}"))?;
    cluster.validate().map_err(|error| format!("[kv.cluster]: {error}"))?;
    Ok(Some(cluster))
}

/// One running node and what serves it.
struct Running {
    node: Node,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

/// Start every node of `configs` (the first seeds the rest unless they name seeds), serve
/// each until Ctrl-C or SIGTERM, then stop them.
async fn run_nodes(configs: Vec<ClusterConfig>, loaded: &LoadedConfig) -> anyhow::Result<()> {
    let kv: KvConfig = loaded.section("kv").context("reading [kv]")?;
    let durability: blueprint_lsm::Durability = kv.durability.into();
    let (stop, stopped) = watch::channel(false);
    let mut running: Vec<Running> = Vec::with_capacity(configs.len());
    let mut first_rpc: Option<String> = None;
    for (index, mut config) in configs.into_iter().enumerate() {
        if config.seeds.is_empty()
            && let Some(seed) = &first_rpc
        {
            config.seeds.push(seed.clone());
        }
        let storage = {
            let dir = config.data_dir.clone();
            tokio::task::spawn_blocking(move || LsmStorage::open(&dir, durability))
                .await
                .context("opening the node's store")?
                .with_context(|| format!("opening {}", config.data_dir.display()))?
        };
        let resp = tokio::net::TcpListener::bind(&config.resp_listen)
            .await
            .with_context(|| format!("binding RESP on {}", config.resp_listen))?;
        let web = tokio::net::TcpListener::bind(&config.http_listen)
            .await
            .with_context(|| format!("binding HTTP on {}", config.http_listen))?;
        let id = config.node_id.clone();
        let node = Node::start(
            config,
            Arc::new(storage),
            Arc::new(TokioNetwork),
            Arc::new(SystemClock),
            index as u64 + u64::from(std::process::id()),
        )
        .await
        .with_context(|| format!("starting {id}"))?;
        if first_rpc.is_none() {
            first_rpc = Some(node.rpc_addr().to_owned());
        }
        println!(
            "{id} resp={} rpc={} http=http://{}/kv/",
            resp.local_addr()?,
            node.rpc_addr(),
            web.local_addr()?
        );
        let mut servers = Vec::new();
        let resp_stop = stopped.clone();
        servers.push(tokio::spawn(serve_resp(resp, node.handle(), wait_for(resp_stop))));
        let router = http::apply_layers(
            http_router(node.handle()).route("/kv/", get(super::kv::page)),
            Limits::from_server(&loaded.config.server),
        );
        let web_stop = stopped.clone();
        let grace = Duration::from_millis(loaded.config.server.shutdown_grace_ms);
        servers.push(tokio::spawn(async move {
            if let Err(error) = http::serve(web, router, wait_for(web_stop), grace).await {
                tracing::error!(%error, "kv cluster: the HTTP server failed");
            }
        }));
        running.push(Running { node, servers });
    }
    println!("ready: {} node(s); Ctrl-C stops", running.len());
    http::shutdown_signal().await;
    let _ = stop.send(true);
    for Running { node, servers } in running {
        for server in servers {
            let _ = server.await;
        }
        node.shutdown().await;
    }
    Ok(())
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// `status` for a terminal.
fn render_status(status: &serde_json::Value) -> String {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut out = format!(
        "node {} (epoch {}), N={} R={} W={}\n",
        text(&status["node_id"]),
        text(&status["epoch"]),
        text(&status["n"]),
        text(&status["r"]),
        text(&status["w"])
    );
    out.push_str("\nring:\n");
    for share in status["ring"].as_array().into_iter().flatten() {
        let fraction = share["share"].as_f64().unwrap_or(0.0);
        out.push_str(&format!(
            "  {:<12} {:>5} vnodes  {:>5.1}%\n",
            text(&share["node"]),
            text(&share["vnodes"]),
            fraction * 100.0
        ));
    }
    out.push_str("\nmembers:\n");
    for member in status["members"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<12} {:<8} rpc {:<22} heartbeat {:>6}  silent {} ms\n",
            text(&member["id"]),
            text(&member["state"]),
            text(&member["rpc_addr"]),
            text(&member["heartbeat"]),
            text(&member["silent_ms"])
        ));
    }
    let hints = status["hints_pending"].as_object();
    let pending: u64 = hints.into_iter().flatten().filter_map(|(_, count)| count.as_u64()).sum();
    out.push_str(&format!("\nhints pending: {pending}"));
    for (target, count) in hints.into_iter().flatten() {
        out.push_str(&format!(" {target}={}", text(count)));
    }
    out.push('\n');
    match status.get("last_anti_entropy").filter(|report| !report.is_null()) {
        Some(report) => out.push_str(&format!(
            "last anti-entropy: started {} ms since epoch, peers ok {}, failed {}, buckets differing {}, objects exchanged {}\n",
            text(&report["started_ms"]),
            text(&report["peers_ok"]),
            text(&report["peers_failed"]),
            text(&report["buckets_differing"]),
            text(&report["objects_exchanged"])
        )),
        None => out.push_str("last anti-entropy: none yet\n"),
    }
    out.push_str(&format!("sibling cap hits: {}\n", text(&status["sibling_cap_hits"])));
    out
}
