//! Runs a local cluster of `NODES` (default 3) nodes in one process on 127.0.0.1, each on
//! the LSM engine (durability `everysec`) in a temporary directory, and prints each
//! node's RESP address; stops after `SECONDS` (default 600) or on Ctrl-C.
//!
//! `cargo run --release -p blueprint-dynamo --example cluster -- [NODES] [SECONDS]`
//! (bench/dynamo-redis.sh drives redis-benchmark against it).

use std::sync::Arc;
use std::time::Duration;

use blueprint_dynamo::{ClusterConfig, LsmStorage, Node, SystemClock, TokioNetwork, serve_resp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(600);
    let dir = tempfile::tempdir()?;
    let mut running = Vec::new();
    let mut seeds = Vec::new();
    for i in 0..nodes {
        let config = ClusterConfig {
            node_id: format!("node{}", i + 1),
            rpc_listen: "127.0.0.1:0".into(),
            seeds: seeds.clone(),
            ..ClusterConfig::default()
        };
        let path = dir.path().join(&config.node_id);
        let storage = LsmStorage::open(&path, blueprint_lsm::Durability::EverySec)?;
        let node = Node::start(
            config,
            Arc::new(storage),
            Arc::new(TokioNetwork),
            Arc::new(SystemClock),
            i as u64,
        )
        .await?;
        seeds.push(node.rpc_addr().to_owned());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("node{} resp {}", i + 1, listener.local_addr()?);
        tokio::spawn(serve_resp(listener, node.handle(), std::future::pending::<()>()));
        running.push(node);
    }
    // Let gossip spread the membership before clients arrive.
    for _ in 0..100 {
        if running.iter().all(|n| n.status().members.len() == nodes) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("ready");
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    for node in running {
        node.shutdown().await;
    }
    Ok(())
}
