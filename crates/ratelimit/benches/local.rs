//! Local decisions vs the `governor` crate, side by side in one run.
//!
//! `cargo bench -p blueprint-ratelimit --bench local -- --warm-up-time 1 --measurement-time 3`
//!
//! Both sides read their real clock on every decision (both quanta: see
//! `clock::FastClock`) and use a quota high enough that decisions are admissions, the
//! path that writes state. Bytes per key are printed at the start: computed from the
//! table's capacity (see `LocalStore::bytes_per_key`) and cross-checked against the
//! process's resident memory growth for 1 M keys, for us and for governor.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;

use blueprint_ratelimit::clock::{Clock, FastClock};
use blueprint_ratelimit::core::{
    AlgorithmKind, AnyState, LimitSpec, NANOS_PER_SECOND, TokenBucket,
};
use blueprint_ratelimit::local::{DirectLimiter, LocalStore, LocalStoreConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};

const KEYS: u64 = 10_000;
const RATE: u32 = 1_000_000_000;

fn quota() -> Quota {
    Quota::per_second(NonZeroU32::new(RATE).unwrap())
}

fn bucket() -> TokenBucket {
    TokenBucket::new(u64::from(RATE), u64::from(RATE), NANOS_PER_SECOND).unwrap()
}

fn single_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("single_key");
    let gov = RateLimiter::direct(quota());
    g.bench_function("governor", |b| b.iter(|| black_box(gov.check().is_ok())));
    let clock = FastClock::new();
    let ours = DirectLimiter::new(bucket());
    // `allow` is the like-for-like peer of governor's `check` (a yes/no); `check` also
    // computes remaining/reset/retry for headers.
    g.bench_function("ours", |b| b.iter(|| black_box(ours.allow(clock.now(), 1))));
    g.bench_function("ours_with_headers", |b| {
        b.iter(|| black_box(ours.check(clock.now(), 1).allowed))
    });
    g.finish();
}

fn keyed(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyed_10k");
    let gov = RateLimiter::keyed(quota());
    let mut i = 0u64;
    g.bench_function("governor", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(gov.check_key(&i).is_ok())
        })
    });
    let clock = FastClock::new();
    let store: LocalStore<u64, u64> = LocalStore::new(LocalStoreConfig::default()).unwrap();
    let tb = bucket();
    g.bench_function("ours", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(store.allow(&tb, &i, clock.now(), 1))
        })
    });
    g.bench_function("ours_with_headers", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(store.check(&tb, &i, clock.now(), 1).allowed)
        })
    });
    // The path the rules engine takes: any algorithm, String keys.
    let any: LocalStore<String, AnyState> = LocalStore::new(LocalStoreConfig::default()).unwrap();
    let spec = LimitSpec::new(AlgorithmKind::TokenBucket, u64::from(RATE), NANOS_PER_SECOND);
    let alg = spec.build().unwrap();
    let names: Vec<String> = (0..KEYS).map(|k| format!("api|remote_address=10.0.{k}")).collect();
    g.bench_function("ours_any_algorithm_string_keys", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(any.check(&alg, names[i as usize].as_str(), clock.now(), 1).allowed)
        })
    });
    g.finish();
}

/// Resident set size in bytes (Linux), for the cross-check.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn bytes_per_key(_: &mut Criterion) {
    const N: u64 = 1_000_000;
    let clock = FastClock::new();
    let before = rss_bytes().unwrap_or(0);
    let store: LocalStore<u64, u64> =
        LocalStore::new(LocalStoreConfig { max_keys: 2_000_000, shards: 64 }).unwrap();
    let tb = TokenBucket::new(10, 1, NANOS_PER_SECOND).unwrap();
    for k in 0..N {
        store.check(&tb, &k, clock.now(), 1);
    }
    let ours_rss = rss_bytes().unwrap_or(0).saturating_sub(before) as f64 / N as f64;
    println!(
        "bytes_per_key ours (u64 key, token bucket): computed {:.1} B, RSS growth {:.1} B \
         ({} keys)",
        store.bytes_per_key(),
        ours_rss,
        store.len()
    );
    drop(store);
    let before = rss_bytes().unwrap_or(0);
    let gov = RateLimiter::keyed(Quota::per_second(NonZeroU32::new(10).unwrap()));
    for k in 0..N {
        let _ = gov.check_key(&k);
    }
    let gov_rss = rss_bytes().unwrap_or(0).saturating_sub(before) as f64 / N as f64;
    println!(
        "bytes_per_key governor (u64 key, dashmap): RSS growth {gov_rss:.1} B ({} keys)",
        gov.len()
    );
}

criterion_group!(benches, bytes_per_key, single_key, keyed);
criterion_main!(benches);
