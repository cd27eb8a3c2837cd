//! Our Redis script vs a Lyft-style baseline (pipelined INCRBY + EXPIRE per descriptor)
//! on the same server, plus latency against a raw PING.
//!
//! `cargo run --release -p blueprint-ratelimit --example redis_bench -- [clients] [seconds] [descriptors] [rounds]`
//! (Redis at `BLUEPRINT_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`). Run by
//! `bench/ratelimit-redis.sh`, which starts a private Redis. Each round runs, with
//! `clients` concurrent clients and then with one, our store, the baseline and PING in
//! alternating order; it prints every round and the medians. Also from Redis's
//! `INFO commandstats`: decisions per `EVALSHA` (our batches) and Redis's CPU per decision.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use blueprint_ratelimit::core::{AlgorithmKind, AnyLimiter, LimitSpec, NANOS_PER_SECOND};
use blueprint_ratelimit::redis_store::{RedisLimit, RedisStore};
use redis::aio::MultiplexedConnection;

/// One side's run: decisions, wall time, sorted latencies, Redis's counters.
struct Run {
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    /// Redis commands of the kind this side sends, and their µs, during the run.
    redis_calls: u64,
    redis_usec: u64,
    decisions: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or(0)
}

/// (calls, usec) summed over `commands` in `INFO commandstats`.
async fn commandstats(conn: &mut MultiplexedConnection, commands: &[&str]) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await.unwrap();
    let (mut calls, mut usec) = (0, 0);
    for line in info.lines() {
        let Some((name, rest)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        if !commands.contains(&name) {
            continue;
        }
        for field in rest.split(',') {
            match field.split_once('=') {
                Some(("calls", v)) => calls += v.parse::<u64>().unwrap_or(0),
                Some(("usec", v)) => usec += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    (calls, usec)
}

async fn drive<F, Fut>(
    clients: usize,
    seconds: f64,
    stats: &mut MultiplexedConnection,
    commands: &[&str],
    make: F,
) -> Run
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let before = commandstats(stats, commands).await;
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let make = Arc::clone(&make);
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0usize;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    make(c, n).await;
                    lat.push(t.elapsed().as_micros() as u64);
                    n += 1;
                }
                lat
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = commandstats(stats, commands).await;
    latencies_us.sort_unstable();
    Run {
        rate: latencies_us.len() as f64 / elapsed,
        p50_us: percentile(&latencies_us, 0.5),
        p99_us: percentile(&latencies_us, 0.99),
        redis_calls: after.0 - before.0,
        redis_usec: after.1 - before.1,
        decisions: latencies_us.len() as u64,
    }
}

/// One round of one load: (ours, lyft-style, PING).
type Round = (Run, Run, Run);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    // As many workers as cores this process may run on (the bench script pins it).
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    println!("client: {workers} tokio worker thread(s)");
    runtime.block_on(run())
}

/// Keys of decision `n` of client `c`: clients are 3 keys apart, so a batch holds
/// distinct keys (a realistic spread, not one hot key).
fn keys(tag: u32, side: &str, descriptors: usize, c: usize, n: usize) -> Vec<String> {
    let client = (c * 3 + n) % 1000;
    (0..descriptors).map(|d| format!("rlbench:{tag}:{side}:client{client}:d{d}")).collect()
}

async fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let seconds: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3.0);
    let descriptors: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let url = std::env::var("BLUEPRINT_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let tag = std::process::id();

    let limiter: AnyLimiter =
        LimitSpec::new(AlgorithmKind::FixedWindow, 1_000_000_000, 3600 * NANOS_PER_SECOND)
            .build()?;
    let limiter = Arc::new(limiter);
    let store =
        Arc::new(RedisStore::new(&url, &format!("rlbench:{tag}:ours:"), Duration::from_secs(2))?);
    let client = redis::Client::open(url.as_str())?;
    let conn = client.get_multiplexed_async_connection().await?;
    let mut stats = client.get_multiplexed_async_connection().await?;

    // Warm up: load the script, open connections.
    let warm = keys(tag, "warm", descriptors, 0, 0);
    let warm_limits: Vec<RedisLimit<'_>> =
        warm.iter().map(|k| RedisLimit { key: k, limiter: &limiter, shadow: false }).collect();
    store.check(&warm_limits, 1).await?;

    println!(
        "redis decisions, {descriptors} descriptors per decision (fixed window), {seconds} s per run, {rounds} rounds, {url}"
    );
    let mut all: Vec<(&str, usize, Vec<Round>)> =
        vec![("concurrent", clients, Vec::new()), ("sequential", 1, Vec::new())];
    for round in 0..rounds {
        for (label, clients, runs) in &mut all {
            let clients = *clients;
            let ours_side = || {
                let (s, l) = (Arc::clone(&store), Arc::clone(&limiter));
                move |c: usize, n: usize| {
                    let (s, l) = (Arc::clone(&s), Arc::clone(&l));
                    async move {
                        let ks = keys(tag, "o", descriptors, c, n);
                        let limits: Vec<RedisLimit<'_>> = ks
                            .iter()
                            .map(|k| RedisLimit { key: k, limiter: &l, shadow: false })
                            .collect();
                        let d = s.check(&limits, 1).await.unwrap();
                        assert!(d.iter().all(|d| d.allowed));
                    }
                }
            };
            let lyft_side = || {
                let c = conn.clone();
                move |client: usize, n: usize| {
                    let mut c = c.clone();
                    async move {
                        // Lyft ratelimit: per descriptor, INCRBY the window's key and
                        // EXPIRE it, pipelined; the decision is made on the client.
                        let window = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs()
                            / 3600;
                        let mut pipe = redis::pipe();
                        for k in keys(tag, "l", descriptors, client, n) {
                            let key = format!("{k}_{window}");
                            pipe.cmd("INCRBY")
                                .arg(&key)
                                .arg(1)
                                .cmd("EXPIRE")
                                .arg(&key)
                                .arg(3600)
                                .ignore();
                        }
                        let counts: Vec<i64> = pipe.query_async(&mut c).await.unwrap();
                        assert!(counts.iter().all(|n| *n <= 1_000_000_000));
                    }
                }
            };
            let ping_side = || {
                let c = conn.clone();
                move |_: usize, _: usize| {
                    let mut c = c.clone();
                    async move {
                        let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
                    }
                }
            };
            let ours_cmds: &[&str] = &["evalsha"];
            let lyft_cmds: &[&str] = &["incrby", "expire"];
            let ping_cmds: &[&str] = &["ping"];
            // Alternate who goes first, so drift in machine load falls on both sides.
            let (ours, lyft, ping) = if round % 2 == 0 {
                let o = drive(clients, seconds, &mut stats, ours_cmds, ours_side()).await;
                let l = drive(clients, seconds, &mut stats, lyft_cmds, lyft_side()).await;
                let p = drive(clients, seconds, &mut stats, ping_cmds, ping_side()).await;
                (o, l, p)
            } else {
                let p = drive(clients, seconds, &mut stats, ping_cmds, ping_side()).await;
                let l = drive(clients, seconds, &mut stats, lyft_cmds, lyft_side()).await;
                let o = drive(clients, seconds, &mut stats, ours_cmds, ours_side()).await;
                (o, l, p)
            };
            println!(
                "round {} {label:>10} ({clients:>2} clients): ours {:>8.0}/s p50 {:>4} us p99 {:>5} us ({:.1} decisions/EVALSHA, {:.2} us Redis CPU/decision) | lyft-style {:>8.0}/s p50 {:>4} us p99 {:>5} us ({:.2} us Redis CPU/decision) | PING {:>8.0}/s p99 {:>5} us | ours/lyft {:.2}x, p99 ours/PING {:.2}x",
                round + 1,
                ours.rate,
                ours.p50_us,
                ours.p99_us,
                ours.decisions as f64 / ours.redis_calls.max(1) as f64,
                ours.redis_usec as f64 / ours.decisions.max(1) as f64,
                lyft.rate,
                lyft.p50_us,
                lyft.p99_us,
                lyft.redis_usec as f64 / lyft.decisions.max(1) as f64,
                ping.rate,
                ping.p99_us,
                ours.rate / lyft.rate,
                ours.p99_us as f64 / ping.p99_us.max(1) as f64,
            );
            runs.push((ours, lyft, ping));
        }
    }
    println!("medians of {rounds} rounds:");
    for (label, clients, runs) in &all {
        let m = |f: &dyn Fn(&Round) -> f64| median(runs.iter().map(f).collect());
        println!(
            "{label:>10} ({clients:>2} clients): ours {:>8.0}/s p99 {:>5.0} us | lyft-style {:>8.0}/s p99 {:>5.0} us | PING {:>8.0}/s p99 {:>5.0} us",
            m(&|r| r.0.rate),
            m(&|r| r.0.p99_us as f64),
            m(&|r| r.1.rate),
            m(&|r| r.1.p99_us as f64),
            m(&|r| r.2.rate),
            m(&|r| r.2.p99_us as f64),
        );
        println!(
            "{label:>10} ratios (median of per-round ratios): throughput ours/lyft {:.2}x, p99 ours/PING {:.2}x, p99 ours/lyft {:.2}x",
            m(&|r| r.0.rate / r.1.rate),
            m(&|r| r.0.p99_us as f64 / r.2.p99_us.max(1) as f64),
            m(&|r| r.0.p99_us as f64 / r.1.p99_us.max(1) as f64),
        );
    }
    let mut c = conn.clone();
    let stale: Vec<String> =
        redis::cmd("KEYS").arg(format!("rlbench:{tag}:*")).query_async(&mut c).await?;
    for chunk in stale.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut c).await?;
    }
    Ok(())
}
