//! Blocklisted terms are never returned: at once through the filter, and from the trie
//! itself after the next rebuild.

mod common;

use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::service::Autocomplete;

#[test]
fn blocklisted_terms_are_never_returned_for_any_prefix() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (trie, _) = common::generated_trie(folder.path(), 2000, 20_000, 6, &Blocklist::default());
    let prefixes = common::all_prefixes(&trie, 4);
    // Block the most frequent words of the log: they sit in many top-k lists.
    let top_words: Vec<String> = trie
        .top_k("t", 10)
        .iter()
        .filter_map(|s| s.query.split(' ').next().map(str::to_lowercase))
        .collect();
    let blocklist_text = format!("{}\nglob:*の*\n", top_words.join("\n"));
    let blocklist = Blocklist::parse(&blocklist_text).expect("blocklist");

    let service =
        Autocomplete::new(AutocompleteConfig::default(), trie.clone(), Blocklist::default());
    let before: usize =
        prefixes.iter().map(|p| service.suggest(p, Some(5)).map_or(0, |s| s.len())).sum();
    service.filter().replace(blocklist.clone());
    let mut shown = 0;
    for prefix in &prefixes {
        for suggestion in service.suggest(prefix, Some(5)).expect("valid prefix") {
            let key =
                blueprint_autocomplete::normalize::Query::parse(&suggestion.query).expect("query");
            assert!(!blocklist.blocks(key.key()), "{:?} shown for {prefix:?}", suggestion.query);
            shown += 1;
        }
    }
    assert!(
        shown > 0 && shown < before,
        "the filter removed some but not all: {shown} of {before}"
    );

    // After a rebuild with the blocklist the trie itself no longer holds them.
    let (rebuilt, _) = common::generated_trie(folder.path(), 2000, 20_000, 6, &blocklist);
    assert!(rebuilt.len() < trie.len());
    assert!(rebuilt.entries().all(|(key, _, _)| !blocklist.blocks(key)));
}
