//! `blueprint kv cluster up|status` as a user runs them: three nodes on loopback, a write
//! through one node read back through another over RESP, the status command's view of
//! the ring and the members, a quorum that cannot be met refused, and a clean stop.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

mod common;

use common::{BIN, LocalCluster, resp_command};

const CONVERGE: Duration = Duration::from_secs(20);

/// Sends one command and reads one reply line (and a bulk string's payload).
fn call(stream: &mut TcpStream, words: &[&str]) -> String {
    stream.write_all(&resp_command(words)).unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).unwrap();
        reply.push(byte[0]);
    }
    let line = String::from_utf8(reply).unwrap();
    if let Some(length) = line.strip_prefix('$').and_then(|rest| rest.trim().parse::<usize>().ok())
    {
        let mut payload = vec![0u8; length + 2];
        stream.read_exact(&mut payload).unwrap();
        return String::from_utf8_lossy(&payload[..length]).into_owned();
    }
    line.trim_end().to_owned()
}

#[test]
fn a_three_node_cluster_serves_resp_on_every_node_and_reports_its_ring() {
    let mut cluster = LocalCluster::start(3);
    cluster.wait_converged(CONVERGE);
    let mut first = TcpStream::connect(&cluster.nodes[0].1).unwrap();
    let mut third = TcpStream::connect(&cluster.nodes[2].1).unwrap();
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(call(&mut first, &["PING"]), "+PONG");
    for i in 0..20 {
        let key = format!("user:{i}");
        assert_eq!(call(&mut first, &["SET", &key, &format!("v{i}")]), "+OK");
    }
    for i in 0..20 {
        assert_eq!(call(&mut third, &["GET", &format!("user:{i}")]), format!("v{i}"));
    }
    // More acknowledgements than replicas: refused, and nothing is acknowledged.
    let refused = call(&mut first, &["SETV", "user:0", "", "v-too-many", "W", "4"]);
    assert!(refused.starts_with('-'), "W=4 with N=3 must be an error: {refused}");
    assert_eq!(call(&mut third, &["GET", "user:0"]), "v0");

    let status = Command::new(BIN)
        .args(["kv", "cluster", "status", "--node", &cluster.nodes[1].2])
        .env_remove("BLUEPRINT_CONFIG")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(text.contains("node node2") && text.contains("N=3 R=2 W=2"), "{text}");
    for node in ["node1", "node2", "node3"] {
        let line =
            text.lines().find(|line| line.trim_start().starts_with(node) && line.contains("alive"));
        assert!(line.is_some(), "{node} alive in the members: {text}");
    }
    assert!(text.contains("vnodes"), "the ring is shown: {text}");

    let unreachable = Command::new(BIN)
        .args(["kv", "cluster", "status", "--node", "http://127.0.0.1:1"])
        .env_remove("BLUEPRINT_CONFIG")
        .output()
        .unwrap();
    assert!(!unreachable.status.success(), "an unreachable node is an error exit");

    let pid = cluster.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exit = cluster.child.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the cluster cleanly: {exit}");
}
