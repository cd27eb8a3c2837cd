//! The Redis store against a real Redis (`BLUEPRINT_TEST_REDIS_URL`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use blueprint_ratelimit::clock::FastClock;
use blueprint_ratelimit::limiter::{Backend, FailPolicy, RateLimiter};
use blueprint_ratelimit::redis_store::RedisStore;
use blueprint_ratelimit::rules::{Descriptor, RuleSet};

fn redis_url() -> Option<String> {
    match std::env::var("BLUEPRINT_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("BLUEPRINT_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "BLUEPRINT_REQUIRE_SERVICES=1 but BLUEPRINT_TEST_REDIS_URL is not set"
            );
            println!("skipped: BLUEPRINT_TEST_REDIS_URL not set");
            None
        }
    }
}

fn unique_prefix(test: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("rltest:{test}:{}:{nanos}:", std::process::id())
}

fn limiter(url: &str, prefix: &str, rules: &str, fail: FailPolicy) -> Arc<RateLimiter> {
    let domain = RuleSet::parse_domain(Path::new("test.yaml"), rules).unwrap();
    let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
    let store = RedisStore::new(url, prefix, Duration::from_millis(500)).unwrap();
    Arc::new(RateLimiter::new(
        rules,
        Backend::Redis { store: Box::new(store), fail },
        Arc::new(FastClock::new()),
    ))
}

fn one_rule(algorithm: &str) -> String {
    format!(
        "domain: api\ndescriptors:\n  - key: user\n    rate_limit: {{ unit: day, requests_per_unit: 100, algorithm: {algorithm} }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_clients_on_one_key_are_admitted_exactly_the_limit() {
    let Some(url) = redis_url() else { return };
    for algorithm in [
        "fixed_window",
        "token_bucket",
        "leaking_bucket",
        "sliding_window_log",
        "sliding_window_counter",
    ] {
        let rl = limiter(&url, &unique_prefix(algorithm), &one_rule(algorithm), FailPolicy::Closed);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let rl = Arc::clone(&rl);
                tokio::spawn(async move {
                    let d = [Descriptor::new([("user", "hot")])];
                    let mut admitted = 0u64;
                    for _ in 0..5 {
                        let o = rl.check("api", &d, 1).await.unwrap();
                        assert!(!o.store_failed);
                        admitted += u64::from(o.allowed);
                    }
                    admitted
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, 100, "{algorithm}: 320 attempts, limit 100");
    }
}

#[tokio::test]
async fn nested_descriptors_are_limited_and_keys_get_ttls() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("nested");
    let rules = "domain: api\ndescriptors:\n  - key: route\n    value: /login\n    descriptors:\n      - key: method\n        value: POST\n        rate_limit: { unit: minute, requests_per_unit: 2 }\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 5, algorithm: sliding_window_counter }\n";
    let rl = limiter(&url, &prefix, rules, FailPolicy::Closed);
    let login = Descriptor::new([("route", "/login"), ("method", "POST")]);
    let user = Descriptor::new([("user", "u1")]);
    let both = [login, user];
    assert!(rl.check("api", &both, 1).await.unwrap().allowed);
    assert!(rl.check("api", &both, 1).await.unwrap().allowed);
    let denied = rl.check("api", &both, 1).await.unwrap();
    assert!(!denied.allowed, "the nested login limit of 2/min");
    assert_eq!(denied.summary.unwrap().limit, 2);
    assert!(denied.summary.unwrap().retry_after_ns > 0);
    // The denial consumed nothing: the user limit still has 3 left.
    let user_only = rl.check("api", &both[1..], 0).await.unwrap();
    assert_eq!(user_only.summary.unwrap().remaining, 3);

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(ttl > 0 && ttl <= 2 * 3_600_000 + 2, "{key} has TTL {ttl}");
    }
}

#[tokio::test]
async fn a_flushed_script_cache_is_reloaded() {
    let Some(url) = redis_url() else { return };
    let rl =
        limiter(&url, &unique_prefix("noscript"), &one_rule("token_bucket"), FailPolicy::Closed);
    let d = [Descriptor::new([("user", "u")])];
    assert!(rl.check("api", &d, 1).await.unwrap().allowed);
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
    let o = rl.check("api", &d, 1).await.unwrap();
    assert!(!o.store_failed && o.allowed);
    assert_eq!(o.summary.unwrap().remaining, 98);
}

#[tokio::test]
async fn redis_down_applies_the_configured_fail_policy() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let rules = one_rule("fixed_window");
    let d = [Descriptor::new([("user", "u")])];
    let open = limiter("redis://127.0.0.1:1", "x:", &rules, FailPolicy::Open);
    let o = open.check("api", &d, 1).await.unwrap();
    assert!(o.allowed && o.store_failed);
    let closed = limiter("redis://127.0.0.1:1", "x:", &rules, FailPolicy::Closed);
    let o = closed.check("api", &d, 1).await.unwrap();
    assert!(!o.allowed && o.store_failed);
    assert!(o.summary.unwrap().retry_after_ns > 0);
    // While backing off, the next check fails fast with the same policy.
    let o = closed.check("api", &d, 1).await.unwrap();
    assert!(!o.allowed && o.store_failed);
}

#[tokio::test]
async fn many_hits_at_once_are_logged_in_one_decision() {
    let Some(url) = redis_url() else { return };
    let rules = "domain: api\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 5000, algorithm: sliding_window_log }\n";
    let rl = limiter(&url, &unique_prefix("hits"), rules, FailPolicy::Closed);
    let d = [Descriptor::new([("user", "bulk")])];
    let o = rl.check("api", &d, 1200).await.unwrap();
    assert!(o.allowed && !o.store_failed);
    assert_eq!(o.summary.unwrap().remaining, 3800);
    let o = rl.check("api", &d, 3801).await.unwrap();
    assert!(!o.allowed);
    assert_eq!(o.summary.unwrap().remaining, 3800, "the denied request consumed nothing");
}

mod batching {
    use super::*;
    use blueprint_ratelimit::core::{
        AlgorithmKind, AnyLimiter, Decision, LimitSpec, NANOS_PER_SECOND,
    };
    use blueprint_ratelimit::redis_store::{BatchRequest, RedisLimit};

    fn store(url: &str, prefix: &str) -> RedisStore {
        RedisStore::new(url, prefix, Duration::from_secs(2)).unwrap()
    }

    fn spec(kind: AlgorithmKind, limit: u64) -> AnyLimiter {
        LimitSpec::new(kind, limit, 24 * 3600 * NANOS_PER_SECOND).build().unwrap()
    }

    /// What must agree between a batch and the same decisions one by one: everything but
    /// the times, which move by the microseconds between the two runs.
    fn essence(d: &Decision) -> (bool, u64, u64, bool) {
        (d.allowed, d.limit, d.remaining, d.retry_after_ns == u64::MAX)
    }

    /// A sequence mixing algorithms, keys under and over their limits, multi-limit
    /// decisions, hits of 0 and > 1, and a shadow limit. `keys[l][k]`: key k of limiter l
    /// (as with rules, a key belongs to one limit, so one algorithm).
    fn workload<'a>(
        limiters: &'a [AnyLimiter],
        keys: &'a [Vec<String>],
    ) -> Vec<(Vec<RedisLimit<'a>>, u64)> {
        let mut out = Vec::new();
        for i in 0..60usize {
            let mut limits = Vec::new();
            for j in 0..(1 + i % 3) {
                let which = (i * 7 + j * 3) % limiters.len();
                limits.push(RedisLimit {
                    key: &keys[which][(i + j) % keys[which].len()],
                    limiter: &limiters[which],
                    shadow: (i + j) % 11 == 0,
                });
            }
            out.push((limits, [1, 1, 2, 0, 1, 3][i % 6]));
        }
        out
    }

    fn limiters() -> Vec<AnyLimiter> {
        vec![
            spec(AlgorithmKind::FixedWindow, 4),
            spec(AlgorithmKind::TokenBucket, 5),
            spec(AlgorithmKind::LeakingBucket, 3),
            spec(AlgorithmKind::SlidingWindowLog, 6),
            spec(AlgorithmKind::SlidingWindowCounter, 5),
            spec(AlgorithmKind::FixedWindow, 2),
        ]
    }

    #[tokio::test]
    async fn a_batch_decides_exactly_as_the_same_decisions_one_by_one() {
        let Some(url) = redis_url() else { return };
        let limiters = limiters();
        let keys: Vec<Vec<String>> =
            (0..limiters.len()).map(|l| (0..3).map(|k| format!("l{l}:k{k}")).collect()).collect();
        let work = workload(&limiters, &keys);

        let one_by_one = store(&url, &unique_prefix("seq"));
        let mut expected = Vec::new();
        for (limits, hits) in &work {
            let requests = [BatchRequest::new(limits, *hits)];
            let mut got = one_by_one.check_batch(&requests).await.unwrap();
            expected.push(got.remove(0));
        }
        let batched = store(&url, &unique_prefix("batch"));
        let requests: Vec<BatchRequest> =
            work.iter().map(|(limits, hits)| BatchRequest::new(limits, *hits)).collect();
        let got = batched.check_batch(&requests).await.unwrap();
        assert_eq!(batched.batch_stats().batches, 1, "one EVALSHA");
        assert_agree(&got, &expected);
    }

    /// `got` and `expected` decide alike, and the workload denied some.
    fn assert_agree(got: &[Vec<Decision>], expected: &[Vec<Decision>]) {
        assert_eq!(got.len(), expected.len());
        let denied = expected.iter().flatten().filter(|d| !d.allowed).count();
        assert!(denied > 10, "the workload drives keys over their limits: {denied} denials");
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            let g: Vec<_> = g.iter().map(essence).collect();
            let e: Vec<_> = e.iter().map(essence).collect();
            assert_eq!(g, e, "decision {i}");
        }
    }

    /// The window hashes a store with `prefix` keeps: name (without the prefix and the
    /// window number) -> sorted (field, count); and whether each has a TTL.
    async fn window_state(url: &str, prefix: &str) -> Vec<(String, Vec<(String, String)>, bool)> {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut names: Vec<String> =
            redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let mut fields: Vec<(String, String)> =
                redis::cmd("HGETALL").arg(&name).query_async(&mut conn).await.unwrap();
            fields.sort();
            let ttl: i64 = redis::cmd("PTTL").arg(&name).query_async(&mut conn).await.unwrap();
            let short = name.trim_start_matches(prefix).rsplit_once(':').unwrap().0.to_owned();
            out.push((short, fields, ttl > 0));
        }
        out
    }

    /// Lone fixed-window decisions take their own script (`redis_fixed_window.lua`);
    /// batches the general one. Both must answer alike and leave the same counts with
    /// TTLs: shadow limits, two limits of one decision on one key, hits of 0 and over
    /// the limit, a denial consuming nothing from the limits that admitted.
    #[tokio::test]
    async fn lone_fixed_window_decisions_answer_and_store_as_the_general_script() {
        let Some(url) = redis_url() else { return };
        let limiters = [spec(AlgorithmKind::FixedWindow, 4), spec(AlgorithmKind::FixedWindow, 2)];
        let keys = ["a", "b", "c"];
        let mut work: Vec<(Vec<RedisLimit<'_>>, u64)> = Vec::new();
        for i in 0..40usize {
            let mut limits = Vec::new();
            for j in 0..(1 + i % 3) {
                limits.push(RedisLimit {
                    key: keys[(i + j) % keys.len()],
                    limiter: &limiters[(i + j) % 2],
                    shadow: (i * 3 + j) % 7 == 0,
                });
            }
            if i % 2 == 1 {
                limits.reverse();
            }
            work.push((limits, [1, 2, 0, 1, 5, 1][i % 6]));
        }
        // Two limits of one decision on the same key and limiter.
        let same = RedisLimit { key: "d", limiter: &limiters[0], shadow: false };
        work.push((vec![same, same], 1));
        work.push((vec![same, same], 1));

        let (lone_prefix, batch_prefix) = (unique_prefix("fw-lone"), unique_prefix("fw-batch"));
        let lone = store(&url, &lone_prefix);
        let mut expected = Vec::new();
        for (limits, hits) in &work {
            expected.push(lone.check(limits, *hits).await.unwrap());
        }
        let stats = lone.batch_stats();
        assert_eq!(stats.batches, stats.decisions, "one by one");
        let batched = store(&url, &batch_prefix);
        let requests: Vec<BatchRequest> =
            work.iter().map(|(limits, hits)| BatchRequest::new(limits, *hits)).collect();
        let got = batched.check_batch(&requests).await.unwrap();
        assert_agree(&got, &expected);
        let (lone_state, batch_state) =
            (window_state(&url, &lone_prefix).await, window_state(&url, &batch_prefix).await);
        assert_eq!(lone_state, batch_state);
        assert!(lone_state.iter().all(|(_, _, ttl)| *ttl), "every window hash expires");
        assert!(
            lone_state.iter().flat_map(|(_, f, _)| f).any(|(k, v)| k == "d" && v == "2"),
            "two limits on one key count a decision once: {lone_state:?}"
        );
    }

    #[tokio::test]
    async fn a_flushed_fixed_window_script_is_reloaded() {
        let Some(url) = redis_url() else { return };
        let limit = spec(AlgorithmKind::FixedWindow, 10);
        let s = store(&url, &unique_prefix("fw-noscript"));
        let limits = [RedisLimit { key: "k", limiter: &limit, shadow: false }];
        assert_eq!(s.check(&limits, 1).await.unwrap()[0].remaining, 9);
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
        assert_eq!(s.check(&limits, 1).await.unwrap()[0].remaining, 8);
    }

    #[tokio::test]
    async fn a_batch_mixing_keys_over_and_under_their_limits_denies_only_the_full_ones() {
        let Some(url) = redis_url() else { return };
        let two = spec(AlgorithmKind::FixedWindow, 2);
        let s = store(&url, &unique_prefix("mixed"));
        let a = RedisLimit { key: "a", limiter: &two, shadow: false };
        let b = RedisLimit { key: "b", limiter: &two, shadow: false };
        let requests = [
            BatchRequest::new(&[a], 1),
            BatchRequest::new(&[a], 1),
            BatchRequest::new(&[a], 1), // a is full
            BatchRequest::new(&[b], 1),
            BatchRequest::new(&[a, b], 1), // a denies: b must not be consumed
            BatchRequest::new(&[b], 1),    // so b still has its second slot
            BatchRequest::new(&[b], 1),
        ];
        let got = s.check_batch(&requests).await.unwrap();
        let allowed: Vec<bool> = got.iter().map(|d| d.iter().all(|d| d.allowed)).collect();
        assert_eq!(allowed, [true, true, false, true, false, true, false]);
        assert_eq!(got[4][1].remaining, 0, "b's own verdict in the denied pair: 1 used + 1");
        assert!(got[4][1].allowed && !got[4][0].allowed);
        assert_eq!(got[2][0].remaining, 0);
        assert!(got[2][0].retry_after_ns > 0);
    }

    #[tokio::test]
    async fn a_flushed_script_cache_is_reloaded_in_the_middle_of_batches() {
        let Some(url) = redis_url() else { return };
        let limit = spec(AlgorithmKind::SlidingWindowCounter, 50);
        let s = Arc::new(store(&url, &unique_prefix("noscript-batch")));
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let key = "hot".to_owned();
        let limits = [RedisLimit { key: &key, limiter: &limit, shadow: false }];
        // A full batch right after a flush.
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
        let batch: Vec<BatchRequest> = (0..10).map(|_| BatchRequest::new(&limits, 1)).collect();
        let got = s.check_batch(&batch).await.unwrap();
        assert!(got.iter().all(|d| d[0].allowed));
        assert_eq!(got[9][0].remaining, 40);
        // Concurrent decisions batched by the dispatcher, flushed while they run.
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (s, limit) = (Arc::clone(&s), limit.clone());
                tokio::spawn(async move {
                    let limits = [RedisLimit { key: "hot", limiter: &limit, shadow: false }];
                    s.check(&limits, 1).await.unwrap()[0].allowed
                })
            })
            .collect();
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
        let mut admitted = 0;
        for t in tasks {
            admitted += u64::from(t.await.unwrap());
        }
        assert_eq!(admitted, 40, "40 more fit in the limit of 50");
        let o = s.check(&limits, 1).await.unwrap();
        assert_eq!(o[0].remaining, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_decisions_share_evalshas_and_each_gets_its_own_answer() {
        let Some(url) = redis_url() else { return };
        let limit = spec(AlgorithmKind::FixedWindow, 3);
        let s = Arc::new(store(&url, &unique_prefix("dispatch")));
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (s, limit) = (Arc::clone(&s), limit.clone());
                tokio::spawn(async move {
                    let key = format!("client{}", i % 16);
                    let limits = [RedisLimit { key: &key, limiter: &limit, shadow: false }];
                    let mut admitted = 0;
                    for _ in 0..4 {
                        admitted += u64::from(s.check(&limits, 1).await.unwrap()[0].allowed);
                    }
                    admitted
                })
            })
            .collect();
        let mut admitted = 0;
        for t in tasks {
            admitted += t.await.unwrap();
        }
        assert_eq!(admitted, 16 * 3, "16 keys x limit 3, out of 256 attempts");
        let stats = s.batch_stats();
        assert_eq!(stats.decisions, 256);
        assert!(stats.batches < stats.decisions, "no batching: {stats:?}");
    }
}
