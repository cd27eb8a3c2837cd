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
