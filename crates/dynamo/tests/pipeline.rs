//! RESP pipelining against a three-node cluster on real TCP: every command of a pipeline
//! gets its reply, in order, however the bytes are split across reads, and many clients
//! pipelining at once (redis-benchmark's `-P 16 -c 48`) all finish. A stall here (a
//! reply never written, a pipeline tail left unparsed, a wait with no deadline) is what
//! once left redis-benchmark spinning against the cluster for minutes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use blueprint_dynamo::membership::Liveness;
use blueprint_dynamo::{ClusterConfig, MemStorage, Node, SystemClock, TokioNetwork, serve_resp};
use blueprint_kv::frame::{Frame, ParseLimits};
use bytes::{Buf, BytesMut};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a pipeline may take before the test calls it a stall.
const STALL: Duration = Duration::from_secs(30);

struct Cluster {
    _nodes: Vec<Node>,
    resp: Vec<String>,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn cluster() -> Cluster {
    let mut nodes: Vec<Node> = Vec::new();
    let mut resp = Vec::new();
    let mut stops = Vec::new();
    for id in ["a", "b", "c"] {
        let seeds = nodes.first().map(|n| vec![n.rpc_addr().to_owned()]).unwrap_or_default();
        let config = ClusterConfig {
            node_id: id.into(),
            rpc_listen: "127.0.0.1:0".into(),
            seeds,
            gossip_interval_ms: 50,
            vnodes: 64,
            anti_entropy_interval_ms: 0,
            ..ClusterConfig::default()
        };
        let node = Node::start(
            config,
            Arc::new(MemStorage::new()),
            Arc::new(TokioNetwork),
            Arc::new(SystemClock),
            1,
        )
        .await
        .expect("start");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind resp");
        resp.push(listener.local_addr().expect("addr").to_string());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_resp(listener, node.handle(), async move {
            let _ = stopped.await;
        }));
        stops.push(stop);
        nodes.push(node);
    }
    for _ in 0..400 {
        let formed = nodes.iter().all(|n| {
            let members = n.status().members;
            members.len() == 3 && members.iter().all(|m| m.state == Liveness::Alive)
        });
        if formed {
            return Cluster { _nodes: nodes, resp, _stops: stops };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("cluster never formed");
}

fn encode(words: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for word in words {
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(word);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads until `count` replies have arrived (or the stall deadline passes).
async fn replies(stream: &mut TcpStream, buffer: &mut BytesMut, count: usize) -> Vec<Frame> {
    let limits = ParseLimits { max_request_bytes: 1024 * 1024 };
    let mut out = Vec::with_capacity(count);
    let read = async {
        while out.len() < count {
            while out.len() < count {
                match Frame::parse(buffer, limits).expect("a well-formed reply") {
                    Some((frame, used)) => {
                        buffer.advance(used);
                        out.push(frame);
                    }
                    None => break,
                }
            }
            if out.len() < count {
                let n = stream.read_buf(buffer).await.expect("read");
                assert_ne!(n, 0, "server closed with {} of {count} replies", out.len());
            }
        }
    };
    tokio::time::timeout(STALL, read).await.unwrap_or_else(|_| {
        panic!("stalled: {} of {count} replies in {STALL:?}", out.len());
    });
    out
}

/// One connection, 2 000 commands (SETs and GETs of a few keys, PINGs) written as one
/// pipeline in random pieces of 1 to 97 bytes, some with a pause between them so the
/// server sees commands cut anywhere, reading replies meanwhile: every reply arrives, and
/// each GET sees the connection's last SET of its key (per-key order).
#[tokio::test]
async fn a_pipeline_split_anywhere_gets_every_reply_in_order() {
    let cluster = cluster().await;
    let mut rng = StdRng::seed_from_u64(7);
    let mut wire = Vec::new();
    let mut expected: Vec<Frame> = Vec::new();
    let mut model: HashMap<String, String> = HashMap::new();
    for i in 0..2_000 {
        let key = format!("key:{:012}", rng.random_range(0..12u32));
        match rng.random_range(0..10u32) {
            0 => {
                encode(&[b"PING"], &mut wire);
                expected.push(Frame::Simple("PONG".into()));
            }
            1..=5 => {
                let value = format!("v{i}");
                encode(&[b"SET", key.as_bytes(), value.as_bytes()], &mut wire);
                expected.push(Frame::ok());
                model.insert(key, value);
            }
            _ => {
                encode(&[b"GET", key.as_bytes()], &mut wire);
                expected.push(model.get(&key).map_or(Frame::Null, |v| Frame::bulk(v.clone())));
            }
        }
    }
    let stream = TcpStream::connect(&cluster.resp[0]).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut reader, mut writer) = stream.into_split();
    let pieces: Vec<(usize, bool)> = {
        let mut at = 0;
        let mut out = Vec::new();
        while at < wire.len() {
            let len = rng.random_range(1..=97usize).min(wire.len() - at);
            out.push((len, rng.random_range(0..8u32) == 0));
            at += len;
        }
        out
    };
    let write = tokio::spawn(async move {
        let mut at = 0;
        for (len, pause) in pieces {
            writer.write_all(&wire[at..at + len]).await.expect("write");
            at += len;
            if pause {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        writer
    });
    let limits = ParseLimits { max_request_bytes: 1024 * 1024 };
    let mut buffer = BytesMut::new();
    let mut got = Vec::new();
    let read = async {
        while got.len() < expected.len() {
            while let Some((frame, used)) = Frame::parse(&buffer, limits).expect("reply") {
                buffer.advance(used);
                got.push(frame);
            }
            if got.len() < expected.len() {
                let n = reader.read_buf(&mut buffer).await.expect("read");
                assert_ne!(n, 0, "server closed after {} replies", got.len());
            }
        }
    };
    if tokio::time::timeout(STALL, read).await.is_err() {
        panic!("stalled: {} of {} replies in {STALL:?}", got.len(), expected.len());
    }
    let _writer = write.await.expect("writer");
    for (index, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, expected, "reply {index}");
    }
}

/// redis-benchmark's shape: 48 clients over the three nodes, each writing 16 commands
/// at once and waiting for their 16 replies, round after round, on keys spread wide.
#[tokio::test]
async fn forty_eight_clients_pipelining_sixteen_all_finish() {
    const CLIENTS: usize = 48;
    const PIPELINE: usize = 16;
    const ROUNDS: usize = 24;
    let cluster = cluster().await;
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let addr = cluster.resp[client % 3].clone();
        clients.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(client as u64);
            let mut stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buffer = BytesMut::new();
            for round in 0..ROUNDS {
                let mut wire = Vec::new();
                let get = round % 2 == 1;
                for _ in 0..PIPELINE {
                    let key = format!("key:{:012}", rng.random_range(0..1_000_000u32));
                    if get {
                        encode(&[b"GET", key.as_bytes()], &mut wire);
                    } else {
                        encode(&[b"SET", key.as_bytes(), b"xxx"], &mut wire);
                    }
                }
                stream.write_all(&wire).await.expect("write");
                for reply in replies(&mut stream, &mut buffer, PIPELINE).await {
                    match reply {
                        Frame::Simple(ok) if !get => assert_eq!(ok, "OK"),
                        Frame::Null | Frame::Bulk(_) if get => {}
                        other => panic!("unexpected reply {other:?}"),
                    }
                }
            }
        }));
    }
    for client in clients {
        client.await.expect("client finished");
    }
}

/// A client that writes its whole pipeline before reading any reply (26 MiB of 64 KiB
/// `ECHO`s): the server must keep reading requests while its replies wait for the client
/// to read, or both sides block in `write` with full socket buffers, forever.
#[tokio::test]
async fn a_client_that_reads_only_after_writing_everything_is_not_deadlocked() {
    const COMMANDS: usize = 400;
    let cluster = cluster().await;
    let payload = vec![b'x'; 64 * 1024];
    let mut wire = Vec::with_capacity(COMMANDS * (payload.len() + 32));
    for _ in 0..COMMANDS {
        encode(&[b"ECHO", &payload], &mut wire);
    }
    let mut stream = TcpStream::connect(&cluster.resp[1]).await.expect("connect");
    let written = tokio::time::timeout(STALL, stream.write_all(&wire)).await;
    assert!(written.is_ok(), "stalled writing the pipeline: the server stopped reading");
    let mut buffer = BytesMut::new();
    for reply in replies(&mut stream, &mut buffer, COMMANDS).await {
        assert_eq!(reply, Frame::Bulk(payload.clone().into()));
    }
}
