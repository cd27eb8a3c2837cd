//! Criterion benches of the hot paths: in-process lookup (trie alone, and the whole query
//! service with prefix parsing and the filter layer) and trie build time from N
//! aggregates. Data: the seeded Zipf generator over the bundled word list.
//!
//! `cargo bench -p blueprint-autocomplete --bench autocomplete -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::generator::{GeneratorSpec, QueryLogGenerator, WordList};
use blueprint_autocomplete::normalize::{Prefix, Query};
use blueprint_autocomplete::service::Autocomplete;
use blueprint_autocomplete::trie::{Trie, TrieBuilder};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Aggregates: `distinct` queries with Zipf-drawn counts from `lines` draws.
fn aggregates(distinct: usize, lines: usize) -> Vec<(Query, u64)> {
    let words = WordList::bundled().expect("bundled words");
    let mut generator =
        QueryLogGenerator::new(&words, GeneratorSpec { distinct, ..GeneratorSpec::default() })
            .expect("generator");
    let mut counts = std::collections::HashMap::<String, u64>::new();
    for _ in 0..lines {
        *counts.entry(generator.next_query().to_owned()).or_default() += 1;
    }
    let mut all: Vec<(Query, u64)> = counts
        .into_iter()
        .filter_map(|(text, count)| Query::parse(&text).ok().map(|query| (query, count)))
        .collect();
    all.sort_by(|a, b| a.0.key().cmp(b.0.key()));
    all
}

fn build(entries: &[(Query, u64)]) -> Trie {
    let config = AutocompleteConfig::default();
    let mut builder =
        TrieBuilder::new(config.cached_k, config.max_prefix_chars).expect("valid parameters");
    for (query, weight) in entries {
        builder.push(query, *weight).expect("fits");
    }
    builder.build()
}

/// Prefixes of 1 to 6 characters of queries drawn by the same law: what users type.
fn typed_prefixes(count: usize) -> Vec<String> {
    let words = WordList::bundled().expect("bundled words");
    let mut generator = QueryLogGenerator::new(
        &words,
        GeneratorSpec { distinct: 100_000, ..GeneratorSpec::default() },
    )
    .expect("generator");
    (0..count)
        .map(|index| generator.next_query().chars().take(1 + index % 6).collect::<String>())
        .filter(|prefix| !prefix.trim().is_empty())
        .collect()
}

fn lookup(c: &mut Criterion) {
    let trie = build(&aggregates(100_000, 1_000_000));
    let prefixes: Vec<Prefix> =
        typed_prefixes(4096).iter().filter_map(|raw| Prefix::parse(raw, 50).ok()).collect();
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(prefixes.len() as u64));
    group.bench_function("trie_top5_100k_queries", |b| {
        let mut ids = Vec::with_capacity(10);
        b.iter(|| {
            for prefix in &prefixes {
                trie.top_ids(prefix.as_key(), 5, &mut ids);
                black_box(&ids);
            }
        })
    });
    group.bench_function("trie_top5_suggestions_100k_queries", |b| {
        b.iter(|| {
            for prefix in &prefixes {
                black_box(trie.top_k(prefix.as_key(), 5));
            }
        })
    });
    let raw: Vec<String> = prefixes.iter().map(|prefix| prefix.as_key().to_owned()).collect();
    let blocklist = Blocklist::parse("spam\nglob:*casino*\n").expect("blocklist");
    let service = Autocomplete::new(AutocompleteConfig::default(), trie.clone(), blocklist);
    group.bench_function("service_suggest_parse_filter_100k_queries", |b| {
        b.iter(|| {
            for prefix in &raw {
                black_box(service.suggest(prefix, Some(5)).ok());
            }
        })
    });
    group.finish();
}

fn build_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    for distinct in [10_000usize, 100_000] {
        let entries = aggregates(distinct, distinct * 10);
        group.throughput(Throughput::Elements(entries.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("trie_from_aggregates", entries.len()),
            &entries,
            |b, entries| b.iter(|| black_box(build(entries))),
        );
    }
    group.finish();
}

criterion_group!(benches, lookup, build_time);
criterion_main!(benches);
