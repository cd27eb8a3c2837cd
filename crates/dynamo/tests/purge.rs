//! Tombstone purge between replicas that purge at different moments (a regression found
//! by tests/process.rs): the replica that purges last must not hand its tombstone back to
//! the one that purged first, or the two hand it back and forth forever and their Merkle
//! roots never agree.

use std::sync::Arc;
use std::time::Duration;

use blueprint_dynamo::membership::Liveness;
use blueprint_dynamo::{
    ClusterConfig, MemStorage, Node, RequestOptions, SystemClock, TokioNetwork,
};

const GRACE_MS: u64 = 200;

fn config(id: &str, seeds: Vec<String>) -> ClusterConfig {
    ClusterConfig {
        node_id: id.into(),
        rpc_listen: "127.0.0.1:0".into(),
        seeds,
        n: 2,
        r: 2,
        w: 2,
        gossip_interval_ms: 50,
        anti_entropy_interval_ms: 0,
        tombstone_grace_ms: GRACE_MS,
        ..ClusterConfig::default()
    }
}

async fn start(id: &str, seeds: Vec<String>) -> Node {
    Node::start(
        config(id, seeds),
        Arc::new(MemStorage::new()),
        Arc::new(TokioNetwork),
        Arc::new(SystemClock),
        7,
    )
    .await
    .expect("start")
}

#[tokio::test]
async fn a_tombstone_purged_on_one_replica_is_not_handed_back_by_the_other() {
    let a = start("a", Vec::new()).await;
    let b = start("b", vec![a.rpc_addr().to_owned()]).await;
    for _ in 0..200 {
        let alive = |node: &Node| {
            node.status().members.iter().filter(|m| m.state == Liveness::Alive).count() == 2
        };
        if alive(&a) && alive(&b) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let kv = a.handle();
    for i in 0..20 {
        let key = format!("k{i}");
        kv.put(key.as_bytes(), "v".into(), None, RequestOptions::default()).await.expect("put");
        let read = kv.get(key.as_bytes(), RequestOptions::default()).await.expect("get");
        kv.delete(key.as_bytes(), Some(&read.context), RequestOptions::default())
            .await
            .expect("delete");
    }
    tokio::time::sleep(Duration::from_millis(GRACE_MS + 50)).await;

    // a compares with b, then purges; b still holds every tombstone.
    let first = a.anti_entropy_now().await;
    assert_eq!(first.tombstones_purged, 20, "{first:?}");
    assert_eq!(b.handle().local_objects().expect("scan").len(), 20);
    // b compares with a (which lacks the keys), then purges too.
    let second = b.anti_entropy_now().await;
    assert_eq!(second.tombstones_purged, 20, "{second:?}");
    assert!(a.handle().local_objects().expect("scan").is_empty(), "a took the tombstones back");
    assert!(b.handle().local_objects().expect("scan").is_empty());
    // Further rounds move nothing, and the roots agree.
    let third = a.anti_entropy_now().await;
    assert_eq!(third.objects_exchanged, 0, "{third:?}");
    let roots_a = a.handle().merkle_roots().expect("roots");
    let roots_b = b.handle().merkle_roots().expect("roots");
    assert_eq!(roots_a.get("b"), roots_b.get("a"));
}
