//! The key-value store interface behaves the same on the embedded `lsm` engine and on a
//! RESP endpoint (Redis here; a `blueprint kv` node in the binary's tests).

use std::time::Duration;

use blueprint_platform::config::KvStoreConfig;
use blueprint_platform::kv::KvStore;
use blueprint_testkit::{REDIS_URL_ENV, service_url, unique_name};

/// The embedded store in a fresh directory, and Redis with a fresh prefix when set.
fn stores(dir: &std::path::Path) -> Vec<KvStore> {
    let mut stores = vec![KvStore::from_config(&KvStoreConfig::default(), dir).unwrap()];
    if let Some(url) = service_url(REDIS_URL_ENV) {
        let config = KvStoreConfig {
            url: Some(url),
            prefix: format!("{}:", unique_name("bp_kv_test")),
            ..KvStoreConfig::default()
        };
        stores.push(KvStore::from_config(&config, dir).unwrap());
    }
    stores
}

#[tokio::test]
async fn get_set_delete_and_batches_behave_alike_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let name = store.describe();
        store.ping().await.unwrap();
        assert_eq!(store.get(b"k").await.unwrap(), None, "{name}");
        store.set(b"k", b"v1", None).await.unwrap();
        assert_eq!(store.get(b"k").await.unwrap().as_deref(), Some(&b"v1"[..]), "{name}");
        store
            .set_many(vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())])
            .await
            .unwrap();
        assert_eq!(store.get(b"b").await.unwrap().as_deref(), Some(&b"2"[..]), "{name}");
        assert!(store.delete(b"k").await.unwrap(), "{name}");
        assert!(!store.delete(b"k").await.unwrap(), "{name}");
        assert_eq!(store.get(b"k").await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn values_expire_after_their_ttl_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let name = store.describe();
        store.set(b"short", b"x", Some(Duration::from_millis(100))).await.unwrap();
        store.set(b"long", b"y", Some(Duration::from_secs(60))).await.unwrap();
        assert!(store.get(b"short").await.unwrap().is_some(), "{name}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(store.get(b"short").await.unwrap(), None, "{name}");
        assert!(store.get(b"long").await.unwrap().is_some(), "{name}");
    }
}

#[tokio::test]
async fn a_prefix_scan_returns_exactly_the_keys_under_it_even_with_glob_characters() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        let name = store.describe();
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..30)
            .map(|index| (format!("ac:car{index:02}").into_bytes(), index.to_string().into_bytes()))
            .collect();
        pairs.push((b"ac:ca*".to_vec(), b"star".to_vec()));
        pairs.push((b"ac:cbr".to_vec(), b"other".to_vec()));
        store.set_many(pairs).await.unwrap();
        let mut found = store.scan_prefix(b"ac:car", 100).await.unwrap();
        found.sort();
        assert_eq!(found.len(), 30, "{name}");
        assert_eq!(found[0], (b"ac:car00".to_vec(), b"0".to_vec()), "{name}");
        let star = store.scan_prefix(b"ac:ca*", 100).await.unwrap();
        assert_eq!(star, vec![(b"ac:ca*".to_vec(), b"star".to_vec())], "{name}: * is literal");
        assert_eq!(store.scan_prefix(b"ac:car", 5).await.unwrap().len(), 5, "{name}");
    }
}

#[tokio::test]
async fn the_embedded_store_keeps_its_data_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = KvStore::from_config(&KvStoreConfig::default(), dir.path()).unwrap();
        store.set(b"kept", b"yes", None).await.unwrap();
    }
    let store = KvStore::from_config(&KvStoreConfig::default(), dir.path()).unwrap();
    assert_eq!(store.get(b"kept").await.unwrap().as_deref(), Some(&b"yes"[..]));
    assert!(store.describe().contains("kvstore"), "{}", store.describe());
}
