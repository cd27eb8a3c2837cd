//! Three nodes in one process on real TCP (127.0.0.1, port 0), each with its RESP front
//! end, talked to with the `redis` crate at any node; and the HTTP router.

use std::sync::Arc;
use std::time::Duration;

use blueprint_dynamo::membership::Liveness;
use blueprint_dynamo::{
    ClusterConfig, LsmStorage, MemStorage, Node, Storage, SystemClock, TokioNetwork, http_router,
    serve_resp,
};
use http_body_util::BodyExt;
use redis::aio::MultiplexedConnection;
use tower::ServiceExt;

struct Member {
    node: Option<Node>,
    resp_addr: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_node(id: &str, seeds: Vec<String>, storage: Arc<dyn Storage>) -> Member {
    // `fast`, with anti-entropy on its default schedule.
    let config = ClusterConfig {
        anti_entropy_interval_ms: ClusterConfig::default().anti_entropy_interval_ms,
        ..fast(id, seeds)
    };
    let node = Node::start(config, storage, Arc::new(TokioNetwork), Arc::new(SystemClock), 1)
        .await
        .expect("start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind resp");
    let resp_addr = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = node.handle();
    tokio::spawn(serve_resp(listener, handle, async move {
        let _ = stopped.await;
    }));
    Member { node: Some(node), resp_addr, _stop: stop }
}

async fn cluster() -> (Vec<Member>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lsm = LsmStorage::open(dir.path(), blueprint_lsm::Durability::Always).expect("lsm");
    let first = start_node("a", Vec::new(), Arc::new(lsm)).await;
    let seed = first.node.as_ref().map(|n| n.rpc_addr().to_owned()).unwrap_or_default();
    let second = start_node("b", vec![seed.clone()], Arc::new(MemStorage::new())).await;
    let third = start_node("c", vec![seed], Arc::new(MemStorage::new())).await;
    let members = vec![first, second, third];
    wait_until(|| {
        members.iter().all(|m| {
            m.node.as_ref().is_some_and(|n| {
                let status = n.status();
                status.members.len() == 3
                    && status.members.iter().all(|v| v.state == Liveness::Alive)
            })
        })
    })
    .await;
    (members, dir)
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached in 5 s");
}

async fn connect(member: &Member) -> MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{}", member.resp_addr)).expect("client");
    client.get_multiplexed_async_connection().await.expect("connect")
}

async fn query<T: redis::FromRedisValue>(
    connection: &mut MultiplexedConnection,
    words: &[&str],
) -> redis::RedisResult<T> {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query_async(connection).await
}

#[tokio::test]
async fn any_node_serves_reads_and_writes_and_concurrent_writes_become_siblings() {
    let (members, _dir) = cluster().await;
    let mut a = connect(&members[0]).await;
    let mut b = connect(&members[1]).await;
    let mut c = connect(&members[2]).await;
    let pong: String = query(&mut a, &["PING"]).await.expect("ping");
    assert_eq!(pong, "PONG");
    let ok: String = query(&mut b, &["SET", "greeting", "hello"]).await.expect("set");
    assert_eq!(ok, "OK");
    let read: Option<String> = query(&mut c, &["GET", "greeting"]).await.expect("get");
    assert_eq!(read.as_deref(), Some("hello"));

    // Two blind writes (empty context) from different nodes: both kept.
    let _: String = query(&mut a, &["SETV", "cart", "", "apple"]).await.expect("setv");
    let _: String = query(&mut c, &["SETV", "cart", "", "pear"]).await.expect("setv");
    let siblings: Vec<String> = query(&mut b, &["GETV", "cart", "R", "3"]).await.expect("getv");
    assert_eq!(siblings.len(), 3, "context then two siblings: {siblings:?}");
    let mut values = siblings[1..].to_vec();
    values.sort();
    assert_eq!(values, vec!["apple".to_owned(), "pear".to_owned()]);
    // A write with that context supersedes both.
    let _: String =
        query(&mut b, &["SETV", "cart", &siblings[0], "apple,pear", "W", "3"]).await.expect("setv");
    let merged: Vec<String> = query(&mut a, &["GETV", "cart", "R", "3"]).await.expect("getv");
    assert_eq!(merged[1..], ["apple,pear".to_owned()]);

    // Delete with the context; the key reads as absent everywhere.
    let _: String = query(&mut c, &["DELV", "cart", &merged[0], "W", "3"]).await.expect("delv");
    for connection in [&mut a, &mut b, &mut c] {
        let gone: Option<String> = query(connection, &["GET", "cart"]).await.expect("get");
        assert_eq!(gone, None);
    }
    let deleted: i64 = query(&mut a, &["DEL", "greeting", "never-set"]).await.expect("del");
    assert_eq!(deleted, 1);

    let bad = query::<String>(&mut a, &["SETV", "cart", "%%%not-base64", "x"]).await;
    let error = bad.expect_err("a malformed context is refused");
    assert!(error.to_string().contains("BAD_CONTEXT"), "{error}");
    let bad_quorum = query::<String>(&mut a, &["SETV", "cart", "", "x", "W", "4"]).await;
    assert!(bad_quorum.is_err());
}

#[tokio::test]
async fn a_quorum_that_cannot_be_met_is_an_error_and_nothing_is_acknowledged() {
    let (mut members, _dir) = cluster().await;
    let mut a = connect(&members[0]).await;
    let _: String = query(&mut a, &["SET", "k", "before"]).await.expect("set");
    let down = members[2].node.take().expect("node c");
    down.shutdown().await;
    wait_until(|| {
        members[0].node.as_ref().is_some_and(|n| {
            n.status().members.iter().any(|m| m.info.id == "c" && m.state != Liveness::Alive)
        })
    })
    .await;
    let refused = query::<String>(&mut a, &["SETV", "k", "", "after", "W", "3"]).await;
    let error = refused.expect_err("W=3 with a node down");
    assert!(error.to_string().contains("UNAVAILABLE"), "{error}");
    let read = query::<Vec<String>>(&mut a, &["GETV", "k", "R", "3"]).await;
    assert!(read.expect_err("R=3 with a node down").to_string().contains("UNAVAILABLE"));
    // The refused write was never applied anywhere: the two live replicas agree on "before".
    let values: Vec<String> = query(&mut a, &["GETV", "k", "R", "2"]).await.expect("getv");
    assert_eq!(values[1..], ["before".to_owned()]);
    // With W=2 (sloppy quorum), writes still succeed.
    let ok: String = query(&mut a, &["SET", "k", "after"]).await.expect("set with one node down");
    assert_eq!(ok, "OK");
}

#[tokio::test]
async fn with_no_node_to_stand_in_the_coordinator_keeps_hints_and_replays_them() {
    let (mut members, _dir) = cluster().await;
    // Three nodes, N = 3: every node is a primary of every key, so there is no fallback.
    let down = members[2].node.take().expect("node c");
    down.shutdown().await;
    let a = members[0].node.as_ref().expect("node a");
    wait_until(|| {
        a.status().members.iter().any(|m| m.info.id == "c" && m.state != Liveness::Alive)
    })
    .await;
    let mut connection = connect(&members[0]).await;
    for i in 0..10 {
        let _: String =
            query(&mut connection, &["SET", &format!("h{i}"), "v"]).await.expect("set, W=2");
    }
    assert_eq!(a.status().hints_pending.get("c"), Some(&10), "{:?}", a.status().hints_pending);
    // c returns (on empty storage): the hints go to it, and a drops them.
    let seed = a.rpc_addr().to_owned();
    let returned = start_node("c", vec![seed], Arc::new(MemStorage::new())).await;
    let c = returned.node.as_ref().expect("node c").handle();
    wait_until(|| {
        a.status().hints_pending.is_empty()
            && c.local_objects().is_ok_and(|objects| {
                (0..10).all(|i| objects.iter().any(|(k, _)| **k == *format!("h{i}").as_bytes()))
            })
    })
    .await;
}

#[tokio::test]
async fn the_http_api_carries_the_context_in_a_header_and_maps_errors_to_json() {
    let (members, _dir) = cluster().await;
    let handle = members[1].node.as_ref().expect("node").handle();
    let router = http_router(handle);
    let call = |request: axum::http::Request<axum::body::Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.expect("response");
            let status = response.status();
            let context = response
                .headers()
                .get("x-blueprint-context")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let body = response.into_body().collect().await.expect("body").to_bytes();
            (status, context, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let put = |uri: &str, body: &'static str, context: Option<&str>| {
        let mut builder = axum::http::Request::put(uri);
        if let Some(context) = context {
            builder = builder.header("x-blueprint-context", context);
        }
        builder.body(axum::body::Body::from(body)).expect("request")
    };
    let (status, _, _) = call(put("/api/v1/kv/doc", "v1", None)).await;
    assert_eq!(status, 204);
    let (status, context, body) = call(
        axum::http::Request::get("/api/v1/kv/doc")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"value\":\"v1\""), "{body}");
    let context = context.expect("context header");
    let (status, _, _) = call(put("/api/v1/kv/doc", "v2", Some(&context))).await;
    assert_eq!(status, 204);
    let (status, _, body) = call(put("/api/v1/kv/doc", "v3", Some("@@not base64@@"))).await;
    assert_eq!(status, 400);
    assert!(body.contains("\"code\":\"BAD_CONTEXT\""), "{body}");
    let (status, _, body) = call(put("/api/v1/kv/doc?w=4", "v3", None)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = call(
        axum::http::Request::get("/api/v1/kv-cluster/status")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"members\""), "{body}");
    let (status, _, _) = call(
        axum::http::Request::delete("/api/v1/kv/doc")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, body) = call(
        axum::http::Request::get("/api/v1/kv/doc")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn http_reports_unavailable_as_503_with_a_code() {
    let (mut members, _dir) = cluster().await;
    let handle = members[0].node.as_ref().expect("node").handle();
    for member in &mut members[1..] {
        if let Some(node) = member.node.take() {
            node.shutdown().await;
        }
    }
    wait_until(|| {
        members[0].node.as_ref().is_some_and(|n| {
            n.status().members.iter().filter(|m| m.state == Liveness::Alive).count() == 1
        })
    })
    .await;
    let response = http_router(handle)
        .oneshot(
            axum::http::Request::put("/api/v1/kv/x")
                .body(axum::body::Body::from("v"))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), 503);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("\"code\":\"UNAVAILABLE\""));
}

async fn start_configured(config: ClusterConfig) -> Node {
    Node::start(
        config,
        Arc::new(MemStorage::new()),
        Arc::new(TokioNetwork),
        Arc::new(SystemClock),
        3,
    )
    .await
    .expect("start")
}

fn fast(id: &str, seeds: Vec<String>) -> ClusterConfig {
    ClusterConfig {
        node_id: id.into(),
        rpc_listen: "127.0.0.1:0".into(),
        seeds,
        gossip_interval_ms: 50,
        suspect_after_ms: 400,
        dead_after_ms: 1_000,
        rpc_timeout_ms: 500,
        vnodes: 64,
        anti_entropy_interval_ms: 0,
        ..ClusterConfig::default()
    }
}

async fn all_see(nodes: &[&Node], count: usize) {
    wait_until(|| {
        nodes.iter().all(|n| {
            n.status().members.iter().filter(|m| m.state == Liveness::Alive).count() == count
        })
    })
    .await;
}

#[tokio::test]
async fn local_quorum_counts_only_the_coordinators_datacenter() {
    use blueprint_dynamo::{Consistency, RequestOptions};
    let mut nodes: Vec<Option<Node>> = Vec::new();
    let mut seeds = Vec::new();
    for (id, dc) in [("east1", "east"), ("east2", "east"), ("west1", "west"), ("west2", "west")] {
        let config = ClusterConfig {
            datacenter: Some(dc.into()),
            n: 4,
            w: 2,
            r: 2,
            sloppy_quorum: false,
            ..fast(id, seeds.clone())
        };
        let node = start_configured(config).await;
        seeds.push(node.rpc_addr().to_owned());
        nodes.push(Some(node));
    }
    let live: Vec<&Node> = nodes.iter().flatten().collect();
    all_see(&live, 4).await;
    // Replicas span both datacenters.
    let list = live[0].handle().preference_list(b"k");
    assert!(
        list.iter().any(|id| id.starts_with("east"))
            && list.iter().any(|id| id.starts_with("west")),
        "{list:?}"
    );
    let east2 = nodes[1].take().expect("east2");
    east2.shutdown().await;
    let live: Vec<&Node> = nodes.iter().flatten().collect();
    all_see(&live, 3).await;
    let coordinator = live[0].handle();
    // Quorum: the coordinator and a west node make W=2.
    coordinator.put(b"k", "v".into(), None, RequestOptions::default()).await.expect("quorum write");
    drop(live);
    let node = nodes[0].take().expect("east1");
    node.shutdown().await;
    // The same cluster with LOCAL_QUORUM: east has only the coordinator left, so W=2 fails.
    let mut east = fast("east3", seeds[2..].to_vec());
    east.datacenter = Some("east".into());
    east.n = 4;
    east.sloppy_quorum = false;
    east.consistency = Consistency::LocalQuorum;
    let local = start_configured(east).await;
    let live: Vec<&Node> = nodes.iter().flatten().chain(std::iter::once(&local)).collect();
    wait_until(|| {
        live.iter().all(|n| {
            n.status().members.iter().any(|m| m.info.id == "east3" && m.state == Liveness::Alive)
        })
    })
    .await;
    // A member first heard of through gossip counts as alive until its silence shows.
    wait_until(|| {
        local
            .status()
            .members
            .iter()
            .filter(|m| m.info.id.starts_with("east") && m.info.id != "east3")
            .all(|m| m.state != Liveness::Alive)
    })
    .await;
    // A key east3 replicates, so the local count is east3 alone.
    let key = (0..1000)
        .map(|i| format!("key{i}"))
        .find(|k| local.handle().preference_list(k.as_bytes()).contains(&"east3".to_owned()))
        .expect("a key on east3");
    let refused =
        local.handle().put(key.as_bytes(), "w".into(), None, RequestOptions::default()).await;
    assert!(
        matches!(refused, Err(blueprint_dynamo::DynamoError::Unavailable { .. })),
        "{refused:?}"
    );
    let one = local
        .handle()
        .put(key.as_bytes(), "w".into(), None, RequestOptions { r: None, w: Some(1) })
        .await;
    assert!(one.is_ok(), "W=1 local: {one:?}");
}

#[tokio::test]
async fn a_leaving_node_streams_its_keys_to_their_new_replicas() {
    use blueprint_dynamo::RequestOptions;
    let first = start_configured(fast("a", Vec::new())).await;
    let seed = vec![first.rpc_addr().to_owned()];
    let others = [
        start_configured(fast("b", seed.clone())).await,
        start_configured(fast("c", seed.clone())).await,
        start_configured(fast("d", seed)).await,
    ];
    let all: Vec<&Node> = std::iter::once(&first).chain(others.iter()).collect();
    all_see(&all, 4).await;
    let handle = first.handle();
    let keys: Vec<String> = (0..60).map(|i| format!("key{i}")).collect();
    for key in &keys {
        handle
            .put(key.as_bytes(), "v".into(), None, RequestOptions { r: None, w: Some(3) })
            .await
            .expect("put");
    }
    let leaving = &others[2];
    let held_by_d = leaving.handle().local_objects().expect("objects").len();
    assert!(held_by_d > 0);
    let moved = leaving.leave().await.expect("leave");
    assert!(moved > 0, "no key moved");
    wait_until(|| all[..3].iter().all(|n| n.status().ring.len() == 3)).await;
    // Every key is now on each of its three new replicas, without any anti-entropy run.
    for key in &keys {
        let replicas = handle.preference_list(key.as_bytes());
        assert!(!replicas.contains(&"d".to_owned()));
        for id in replicas {
            let node = all.iter().find(|n| n.handle().node_id() == id).expect("member");
            let objects = node.handle().local_objects().expect("objects");
            assert!(
                objects.iter().any(|(k, _)| k.as_ref() == key.as_bytes()),
                "{key} missing on {id}"
            );
        }
    }
}

#[tokio::test]
async fn the_sibling_cap_drops_the_oldest_and_is_counted_in_the_status() {
    use blueprint_dynamo::RequestOptions;
    let config = ClusterConfig { n: 1, r: 1, w: 1, max_siblings: 2, ..fast("solo", Vec::new()) };
    let node = start_configured(config).await;
    let handle = node.handle();
    for value in ["a", "b", "c", "d"] {
        handle
            .put(b"k", value.into(), Some(""), RequestOptions::default())
            .await
            .expect("blind write");
    }
    let read = handle.get(b"k", RequestOptions::default()).await.expect("get");
    assert_eq!(read.values, vec![bytes::Bytes::from("c"), bytes::Bytes::from("d")]);
    assert_eq!(node.status().sibling_cap_hits, 2);
}
