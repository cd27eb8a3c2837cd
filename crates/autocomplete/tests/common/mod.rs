//! Shared by the black-box tests: tries built from the generated Zipf query log.

use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::generator::{GeneratorSpec, QueryLogGenerator, WordList};
use blueprint_autocomplete::pipeline::{self, RebuildStats};
use blueprint_autocomplete::trie::Trie;

/// Writes a generated log of `lines` lines over `distinct` queries into `folder` and
/// rebuilds a trie from it through the whole pipeline.
pub fn generated_trie(
    folder: &std::path::Path,
    distinct: usize,
    lines: u64,
    seed: u64,
    blocklist: &Blocklist,
) -> (Trie, RebuildStats) {
    let words = WordList::bundled().expect("bundled words parse");
    let spec = GeneratorSpec { distinct, seed, ..GeneratorSpec::default() };
    let mut generator = QueryLogGenerator::new(&words, spec).expect("queries generated");
    let path = folder.join(format!("queries-{seed}.log"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("log created"));
    generator.write_log(&mut file, lines, 1_700_000_000_000, 3_600_000).expect("log written");
    drop(file);
    pipeline::rebuild_from_log(&path, &AutocompleteConfig::default(), blocklist).expect("rebuilt")
}

/// Every character prefix (up to `max_chars`) of every key in `trie`, plus a few that
/// match nothing.
#[allow(dead_code)] // not every test binary uses every helper
pub fn all_prefixes(trie: &Trie, max_chars: usize) -> Vec<String> {
    let mut prefixes: Vec<String> = trie
        .entries()
        .flat_map(|(key, _, _)| {
            key.char_indices()
                .take(max_chars)
                .map(|(at, c)| key[..at + c.len_utf8()].to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    prefixes.extend(["zzzzqq".to_owned(), "東京xyz".to_owned(), "the ".to_owned(), "a".to_owned()]);
    prefixes
}
