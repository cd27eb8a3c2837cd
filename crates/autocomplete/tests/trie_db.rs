//! The Trie DB's two forms (book figure 13-10) answer exactly like the trie they came
//! from, and a damaged snapshot is refused while the trie in service keeps serving.

mod common;

use std::sync::Arc;

use blueprint_autocomplete::cache::TrieCache;
use blueprint_autocomplete::error::SnapshotError;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::prefix_store::{self, MemoryPrefixStore};
use blueprint_autocomplete::snapshot;

#[test]
fn the_kv_form_and_the_snapshot_form_give_identical_answers() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (trie, stats) =
        common::generated_trie(folder.path(), 3000, 30_000, 1, &Blocklist::default());
    assert!(stats.queries > 2500, "{stats:?}");

    let path = folder.path().join("trie.snap");
    snapshot::write(&trie, &path).expect("snapshot written");
    let from_snapshot = snapshot::read(&path).expect("snapshot read");
    let mut store = MemoryPrefixStore::new();
    let pairs = prefix_store::export(&trie, &mut store).expect("exported");
    assert_eq!(pairs, store.len());

    let prefixes = common::all_prefixes(&trie, trie.max_prefix_chars());
    assert!(prefixes.len() >= pairs, "every stored prefix is checked");
    for prefix in &prefixes {
        for k in [1, 5, 10] {
            let expected = trie.top_k(prefix, k);
            assert_eq!(from_snapshot.top_k(prefix, k), expected, "snapshot, prefix {prefix:?}");
            let from_kv = prefix_store::lookup(&store, prefix, k).expect("kv lookup");
            assert_eq!(from_kv, expected, "kv, prefix {prefix:?}");
        }
    }
}

#[test]
fn a_corrupt_snapshot_is_refused_and_the_previous_trie_keeps_serving() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (first, _) = common::generated_trie(folder.path(), 500, 5000, 2, &Blocklist::default());
    let (second, _) = common::generated_trie(folder.path(), 500, 5000, 3, &Blocklist::default());
    let path = folder.path().join("trie.snap");
    snapshot::write(&first, &path).expect("first snapshot");

    let cache = TrieCache::new(blueprint_autocomplete::trie::Trie::empty());
    cache.load_snapshot(&path).expect("good snapshot loads");
    let serving = cache.current();
    assert_eq!(*serving, first);

    // A new snapshot is written, then damaged on disk (a flipped bit mid-file).
    snapshot::write(&second, &path).expect("second snapshot");
    let mut bytes = std::fs::read(&path).expect("read back");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).expect("damaged");

    let error = cache.load_snapshot(&path).expect_err("damaged snapshot refused");
    assert!(matches!(error, SnapshotError::ChecksumMismatch { .. }), "{error}");
    assert!(error.to_string().contains("corrupt"), "{error}");
    assert!(Arc::ptr_eq(&cache.current(), &serving), "the previous trie still serves");
    assert_eq!(cache.generation(), 1);
    assert_eq!(std::fs::read(&path).expect("still there"), bytes, "nothing deleted");
}
