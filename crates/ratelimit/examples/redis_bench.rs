//! Our Redis script vs a Lyft-style baseline (pipelined INCRBY + EXPIRE per descriptor)
//! on the same server, plus latency against a raw PING.
//!
//! `cargo run --release -p blueprint-ratelimit --example redis_bench -- [clients] [seconds] [descriptors]`
//! (Redis at `BLUEPRINT_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`). Run by
//! `bench/ratelimit-redis.sh`. Prints decisions/s and p50/p99 for each side, and ratios.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use blueprint_ratelimit::core::{AlgorithmKind, AnyLimiter, LimitSpec, NANOS_PER_SECOND};
use blueprint_ratelimit::redis_store::{RedisLimit, RedisStore};

struct Run {
    decisions: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.decisions as f64 / self.seconds
    }
    fn pct(&mut self, p: f64) -> u64 {
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 * p) as usize)
            .min(self.latencies_us.len().saturating_sub(1));
        self.latencies_us.get(i).copied().unwrap_or(0)
    }
}

async fn drive<F, Fut>(clients: usize, seconds: f64, make: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
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
                    make(c * 1_000_000 + n).await;
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
    Run {
        decisions: latencies_us.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
        latencies_us,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let seconds: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3.0);
    let descriptors: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
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

    let keys = move |i: usize, side: &str| -> Vec<String> {
        (0..descriptors).map(|d| format!("rlbench:{tag}:{side}:client{}:d{d}", i % 1000)).collect()
    };

    // Warm up: load the script, open connections.
    let warm: Vec<String> = keys(0, "warm");
    let warm_limits: Vec<RedisLimit<'_>> =
        warm.iter().map(|k| RedisLimit { key: k, limiter: &limiter, shadow: false }).collect();
    store.check(&warm_limits, 1).await?;

    let mut results = Vec::new();
    for (label, clients) in [("concurrent", clients), ("sequential", 1)] {
        let (s, l) = (Arc::clone(&store), Arc::clone(&limiter));
        let ours = drive(clients, seconds, move |i| {
            let (s, l) = (Arc::clone(&s), Arc::clone(&l));
            async move {
                let ks = keys(i, "o");
                let limits: Vec<RedisLimit<'_>> =
                    ks.iter().map(|k| RedisLimit { key: k, limiter: &l, shadow: false }).collect();
                let d = s.check(&limits, 1).await.unwrap();
                assert!(d.iter().all(|d| d.allowed));
            }
        })
        .await;
        let c = conn.clone();
        let lyft = drive(clients, seconds, move |i| {
            let mut c = c.clone();
            async move {
                // Lyft ratelimit: per descriptor, INCRBY the window's key and EXPIRE it,
                // pipelined; the decision is then made on the client.
                let window = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    / 3600;
                let mut pipe = redis::pipe();
                for k in keys(i, "l") {
                    let key = format!("{k}_{window}");
                    pipe.cmd("INCRBY").arg(&key).arg(1).cmd("EXPIRE").arg(&key).arg(3600).ignore();
                }
                let counts: Vec<i64> = pipe.query_async(&mut c).await.unwrap();
                assert!(counts.iter().all(|n| *n <= 1_000_000_000));
            }
        })
        .await;
        let c = conn.clone();
        let ping = drive(clients, seconds, move |_| {
            let mut c = c.clone();
            async move {
                let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
            }
        })
        .await;
        results.push((label, clients, ours, lyft, ping));
    }
    println!("redis decisions, {descriptors} descriptors per decision, {seconds} s per run, {url}");
    for (label, clients, mut ours, mut lyft, mut ping) in results {
        println!(
            "{label:>10} ({clients:>2} clients): ours {:>8.0}/s p50 {:>4} us p99 {:>5} us | lyft-style {:>8.0}/s p50 {:>4} us p99 {:>5} us | PING {:>8.0}/s p99 {:>5} us",
            ours.rate(),
            ours.pct(0.5),
            ours.pct(0.99),
            lyft.rate(),
            lyft.pct(0.5),
            lyft.pct(0.99),
            ping.rate(),
            ping.pct(0.99)
        );
        println!(
            "{label:>10} ratios: throughput ours/lyft {:.2}x, p99 ours/PING {:.2}x, p99 ours/lyft {:.2}x",
            ours.rate() / lyft.rate(),
            ours.pct(0.99) as f64 / ping.pct(0.99).max(1) as f64,
            ours.pct(0.99) as f64 / lyft.pct(0.99).max(1) as f64
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
