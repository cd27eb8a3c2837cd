//! Swapping in a rebuilt trie while readers query never fails a lookup nor mixes the two
//! tries' answers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::service::Autocomplete;

/// Lookups each reader makes at least (bounded: the test always ends).
const LOOKUPS_PER_READER: usize = 20_000;
/// Swaps the writer makes at least.
const SWAPS: usize = 200;

#[test]
fn an_atomic_swap_under_concurrent_queries_never_errors_or_mixes_results() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (old, _) = common::generated_trie(folder.path(), 2000, 20_000, 4, &Blocklist::default());
    let (new, _) = common::generated_trie(folder.path(), 2000, 20_000, 5, &Blocklist::default());
    let prefixes: Vec<String> = common::all_prefixes(&old, 3).into_iter().take(200).collect();
    // Each prefix's answer from each trie: a reader must see exactly one of the two.
    let answers: Vec<_> =
        prefixes.iter().map(|prefix| (old.top_k(prefix, 5), new.top_k(prefix, 5))).collect();
    assert!(
        answers.iter().filter(|(a, b)| a != b).count() > 50,
        "the tries must differ for the test to mean anything"
    );

    let (old, new) = (Arc::new(old), Arc::new(new));
    let service = Arc::new(Autocomplete::new(
        AutocompleteConfig::default(),
        (*old).clone(),
        Blocklist::default(),
    ));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|reader| {
            let (service, prefixes, answers, done) =
                (service.clone(), prefixes.clone(), answers.clone(), done.clone());
            std::thread::spawn(move || {
                let mut lookups = 0;
                while lookups < LOOKUPS_PER_READER || !done.load(Ordering::Acquire) {
                    let index = (lookups * 7 + reader) % prefixes.len();
                    let got =
                        service.suggest(&prefixes[index], Some(5)).expect("lookup never fails");
                    let (from_old, from_new) = &answers[index];
                    assert!(
                        got == *from_old || got == *from_new,
                        "mixed answer for {:?}",
                        prefixes[index]
                    );
                    lookups += 1;
                    if lookups > LOOKUPS_PER_READER * 50 {
                        break; // bounded even if the writer stalls
                    }
                }
                lookups
            })
        })
        .collect();
    for swap in 0..SWAPS {
        let next = if swap % 2 == 0 { new.clone() } else { old.clone() };
        service.cache().replace(next);
        std::thread::yield_now();
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().expect("reader did not panic") >= LOOKUPS_PER_READER);
    }
    assert_eq!(service.cache().generation(), SWAPS as u64);
}
