//! Hot paths against their peers, one run:
//! `cargo bench -p blueprint-idgen -- --warm-up-time 1 --measurement-time 3`.
//!
//! Before criterion starts, two reports are printed: the sustained Snowflake rate on the
//! real clock (against the 4.096 M/s per-worker limit) and the segment allocator's
//! per-call latency percentiles across many segment switches.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blueprint_idgen::{
    Clock, LayoutSpec, MemorySegmentStore, NodeId, SegmentAllocator, SegmentConfig, Snowflake,
    SnowflakeConfig, SystemClock, TickerClock, UidRing, UidRingConfig, Uuid7Generator,
};
use criterion::{Criterion, criterion_group};
use ferroid::generator::{AtomicSnowflakeGenerator, Poll};
use ferroid::id::SnowflakeTwitterId;
use ferroid::time::{TWITTER_EPOCH, TimeSource};

/// Reads per synthetic millisecond: below 4,096 so neither generator ever exhausts its
/// sequence, and the bench measures generator work, not waiting.
const READS_PER_MS: u64 = 4_000;
const NOW_MS: u64 = 1_767_225_600_000;

/// A clock that advances one ms every `READS_PER_MS` reads, shared by both generators'
/// adapters so they pay the same for time.
#[derive(Debug, Default)]
struct CountingClock {
    reads: AtomicU64,
}

impl CountingClock {
    #[inline]
    fn read(&self) -> u64 {
        self.reads.fetch_add(1, Ordering::Relaxed) / READS_PER_MS
    }
}

impl Clock for CountingClock {
    #[inline]
    fn now_ms(&self) -> u64 {
        NOW_MS + self.read()
    }
    fn wait_until_ms(&self, target_ms: u64) {
        while self.now_ms() < target_ms {}
    }
}

struct FerroidCounting(CountingClock);

impl TimeSource<u64> for FerroidCounting {
    #[inline]
    fn current_millis(&self) -> u64 {
        NOW_MS - TWITTER_EPOCH.as_millis() as u64 + self.0.read()
    }
}

fn snowflake_vs_ferroid(c: &mut Criterion) {
    let mut group = c.benchmark_group("snowflake_uncontended");
    let ours = Snowflake::new(&SnowflakeConfig::default(), CountingClock::default()).unwrap();
    group.bench_function("ours_next_id", |b| b.iter(|| black_box(ours.next_id().unwrap())));
    let theirs: AtomicSnowflakeGenerator<SnowflakeTwitterId, _> =
        AtomicSnowflakeGenerator::new(0, FerroidCounting(CountingClock::default()));
    group.bench_function("ferroid_atomic_next_id", |b| {
        b.iter(|| {
            loop {
                if let Poll::Ready { id } = theirs.poll_id() {
                    break black_box(id);
                }
            }
        })
    });
    group.finish();
}

fn uuid7_vs_uuid(c: &mut Criterion) {
    let mut group = c.benchmark_group("uuid7");
    let system = Uuid7Generator::new(SystemClock);
    group.bench_function("ours_system_clock", |b| b.iter(|| black_box(system.next_uuid())));
    let ticker = Uuid7Generator::new(TickerClock::start().unwrap());
    group.bench_function("ours_ticker_clock", |b| b.iter(|| black_box(ticker.next_uuid())));
    group.bench_function("uuid_now_v7", |b| b.iter(|| black_box(uuid::Uuid::now_v7())));
    group.finish();
}

fn ring_take(c: &mut Criterion) {
    // 24 sequence bits (16.7 M/s) and a long borrow window so the bench never waits.
    let config = UidRingConfig {
        layout: LayoutSpec {
            timestamp_bits: 31,
            datacenter_bits: 0,
            worker_bits: 8,
            sequence_bits: 24,
            ..LayoutSpec::uid_generator()
        },
        worker: 1,
        max_ahead_ticks: 1_000_000,
        ..UidRingConfig::default()
    };
    let ring = UidRing::new(&config, SystemClock).unwrap();
    c.bench_function("ring/take", |b| b.iter(|| black_box(ring.take().unwrap())));
}

fn segment_allocation(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let store = Arc::new(MemorySegmentStore::with_latency(Duration::from_micros(500)));
    store.insert_tag("order", 1, 1_000);
    let allocator = SegmentAllocator::new(
        store,
        Arc::new(SystemClock),
        SegmentConfig { max_step: 10_000, ..SegmentConfig::default() },
    );
    c.bench_function("segment/next_id", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    black_box(allocator.next_id("order").await.unwrap());
                }
                started.elapsed()
            })
        })
    });
}

/// `next_id` against ferroid's `poll_id` in alternating rounds, so that load from other
/// processes on this shared machine hits both alike; prints the median of the per-round
/// ratios (criterion's separate runs of each drift by ±30% here).
fn interleaved_next_id_report() {
    const ROUNDS: usize = 21;
    const IDS_PER_ROUND: u64 = 2_000_000;
    let ours = Snowflake::new(&SnowflakeConfig::default(), CountingClock::default()).unwrap();
    let theirs: AtomicSnowflakeGenerator<SnowflakeTwitterId, _> =
        AtomicSnowflakeGenerator::new(0, FerroidCounting(CountingClock::default()));
    let time = |run: &dyn Fn()| {
        let started = Instant::now();
        run();
        started.elapsed().as_secs_f64() * 1e9 / IDS_PER_ROUND as f64
    };
    let run_ours = || {
        for _ in 0..IDS_PER_ROUND {
            black_box(ours.next_id().unwrap());
        }
    };
    let run_theirs = || {
        for _ in 0..IDS_PER_ROUND {
            loop {
                if let Poll::Ready { id } = theirs.poll_id() {
                    black_box(id);
                    break;
                }
            }
        }
    };
    let mut rounds: Vec<(f64, f64)> = (0..ROUNDS)
        .map(|round| {
            // Alternate which goes first, so neither always runs on a warmer core.
            if round % 2 == 0 {
                let ours_ns = time(&run_ours);
                (ours_ns, time(&run_theirs))
            } else {
                let theirs_ns = time(&run_theirs);
                (time(&run_ours), theirs_ns)
            }
        })
        .collect();
    rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (ours_ns, theirs_ns) = rounds[ROUNDS / 2];
    println!(
        "next_id interleaved ({ROUNDS} rounds of {IDS_PER_ROUND}): median round ours {ours_ns:.2} ns, ferroid {theirs_ns:.2} ns, ratio {:.3}",
        ours_ns / theirs_ns
    );
}

/// Sustained Snowflake IDs/s on the real clock, one worker, one thread.
fn sustained_rate_report() {
    const SECONDS: u64 = 2;
    let generator = Snowflake::new(
        &SnowflakeConfig {
            node: NodeId { datacenter: 1, worker: 1 },
            ..SnowflakeConfig::default()
        },
        SystemClock,
    )
    .unwrap();
    let started = Instant::now();
    let mut issued = 0u64;
    while started.elapsed() < Duration::from_secs(SECONDS) {
        for _ in 0..4_096 {
            black_box(generator.next_id().unwrap());
        }
        issued += 4_096;
    }
    let rate = issued as f64 / started.elapsed().as_secs_f64();
    println!(
        "snowflake sustained (real clock, 1 worker): {:.3} M IDs/s = {:.3} x the 4.096 M/s limit",
        rate / 1e6,
        rate / 4.096e6
    );
}

/// IDs the segment latency report draws.
const SEGMENT_REPORT_IDS: usize = 5_000_000;
/// A call slower than this counts as a stall (the store's latency is 500 µs).
const SEGMENT_STALL_NS: u64 = 100_000;

/// Per-call latency of the segment allocator over 5M IDs (store latency 500 µs, which
/// tokio's millisecond timer makes 1–2 ms). The dynamic step may grow to 100,000, so a
/// segment can outlast a store call at this consumption rate (~10 M IDs/s) — Leaf's
/// precondition for a switch without a wait. The second half, after the step has grown,
/// shows whether a switch stalls.
fn segment_latency_report() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let store = Arc::new(MemorySegmentStore::with_latency(Duration::from_micros(500)));
    store.insert_tag("order", 1, 1_000);
    let allocator = SegmentAllocator::new(
        Arc::clone(&store),
        Arc::new(SystemClock),
        SegmentConfig { max_step: 100_000, ..SegmentConfig::default() },
    );
    let (mut latencies, ids) = runtime.block_on(async {
        let mut latencies = Vec::with_capacity(SEGMENT_REPORT_IDS);
        let mut ids = Vec::with_capacity(SEGMENT_REPORT_IDS);
        for _ in 0..SEGMENT_REPORT_IDS {
            let started = Instant::now();
            ids.push(black_box(allocator.next_id("order").await.unwrap()));
            latencies.push(started.elapsed().as_nanos() as u64);
        }
        (latencies, ids)
    });
    // Segments are consecutive ranges from ID 1: a segment's first ID is where a switch
    // happened.
    let first_ids: std::collections::HashSet<u64> = store
        .steps()
        .iter()
        .scan(1u64, |start, step| {
            let first = *start;
            *start += step;
            Some(first)
        })
        .collect();
    let half = latencies.len() / 2;
    let steady_max = latencies[half..].iter().copied().max().unwrap_or(0);
    let (mut switch_stalls, mut other_stalls) = (0, 0);
    for index in half..latencies.len() {
        if latencies[index] > SEGMENT_STALL_NS {
            if first_ids.contains(&ids[index]) { switch_stalls += 1 } else { other_stalls += 1 }
        }
    }
    latencies.sort_unstable();
    let at = |quantile: f64| latencies[((latencies.len() - 1) as f64 * quantile) as usize];
    println!(
        "segment allocation latency over {} IDs, {} segments: p50 {} ns, p99 {} ns, p99.99 {} ns, max {} ns; second half: max {} ns, calls over {} µs: {} at a switch, {} elsewhere",
        latencies.len(),
        store.calls(),
        at(0.5),
        at(0.99),
        at(0.9999),
        latencies[latencies.len() - 1],
        steady_max,
        SEGMENT_STALL_NS / 1000,
        switch_stalls,
        other_stalls
    );
}

criterion_group!(benches, snowflake_vs_ferroid, uuid7_vs_uuid, ring_take, segment_allocation);

fn main() {
    // `cargo bench --no-run` never gets here; `cargo test --benches` passes `--test`-like
    // flags with no `--bench`, in which case skip the long reports.
    if std::env::args().any(|argument| argument == "--bench") {
        interleaved_next_id_report();
        sustained_rate_report();
        segment_latency_report();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
