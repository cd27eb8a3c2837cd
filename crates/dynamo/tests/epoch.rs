//! Actor epochs across restarts (riak_kv #679): a node keeps its epoch when its data
//! survived (a clean stop, or storage that loses no acknowledged write), and takes a new
//! one when its data directory is new or lost, or when an unclean stop may have lost its
//! last writes.

use std::sync::Arc;

use blueprint_dynamo::{
    ClusterConfig, LsmStorage, MemStorage, Node, RequestOptions, Storage, SystemClock, TokioNetwork,
};

fn config() -> ClusterConfig {
    ClusterConfig {
        node_id: "solo".into(),
        rpc_listen: "127.0.0.1:0".into(),
        n: 1,
        r: 1,
        w: 1,
        ..ClusterConfig::default()
    }
}

async fn start(storage: Arc<dyn Storage>, seed: u64) -> Node {
    Node::start(config(), storage, Arc::new(TokioNetwork), Arc::new(SystemClock), seed)
        .await
        .expect("start")
}

#[tokio::test]
async fn a_clean_restart_keeps_the_epoch_and_an_unclean_one_on_everysec_takes_a_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The engine's lock is released when the last task holding the old node ends.
    let open = || async {
        for _ in 0..100 {
            if let Ok(storage) = LsmStorage::open(dir.path(), blueprint_lsm::Durability::EverySec) {
                return Arc::new(storage) as Arc<dyn Storage>;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the data directory stayed locked");
    };
    let node = start(open().await, 1).await;
    let first = node.status().epoch;
    node.handle().put(b"k", "v".into(), None, RequestOptions::default()).await.expect("put");
    node.shutdown().await;

    let node = start(open().await, 2).await;
    assert_eq!(node.status().epoch, first, "a clean stop keeps the epoch");
    let read = node.handle().get(b"k", RequestOptions::default()).await.expect("get");
    assert_eq!(read.values, vec![bytes::Bytes::from("v")]);
    // Dropped without shutdown: as after kill -9, the last second of writes may be gone.
    drop(node);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let node = start(open().await, 3).await;
    assert_ne!(
        node.status().epoch,
        first,
        "an unclean stop of an everysec store takes a new epoch"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_lost_data_directory_takes_a_new_epoch_and_storage_that_loses_nothing_keeps_it() {
    let storage = Arc::new(MemStorage::new());
    let node = start(Arc::clone(&storage) as Arc<dyn Storage>, 1).await;
    let first = node.status().epoch;
    drop(node);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let node = start(Arc::clone(&storage) as Arc<dyn Storage>, 2).await;
    assert_eq!(node.status().epoch, first, "memory that outlives the crash lost nothing");
    drop(node);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    storage.wipe();
    let node = start(Arc::clone(&storage) as Arc<dyn Storage>, 3).await;
    assert_ne!(node.status().epoch, first, "a wiped store is a new life");
}
