//! The engine with the local store: shadow mode, unlimited, all-or-nothing, soft limits.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use blueprint_ratelimit::clock::ManualClock;
use blueprint_ratelimit::core::NANOS_PER_SECOND as S;
use blueprint_ratelimit::limiter::{Backend, CheckError, RateLimiter};
use blueprint_ratelimit::local::{LocalStore, LocalStoreConfig};
use blueprint_ratelimit::rules::{Descriptor, RuleSet};

const RULES: &str = "domain: api
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: ip
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: api_key
    value: internal
    rate_limit: { unlimited: true }
  - key: tenant
    rate_limit: { unit: second, requests_per_unit: 2, algorithm: token_bucket, burst: 3 }
";

fn engine() -> (RateLimiter, Arc<ManualClock>) {
    let domain = RuleSet::parse_domain(Path::new("api.yaml"), RULES).unwrap();
    let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
    let clock = Arc::new(ManualClock::new(0));
    let store = LocalStore::new(LocalStoreConfig::default()).unwrap();
    (RateLimiter::new(rules, Backend::Local(store), clock.clone()), clock)
}

fn d(k: &str, v: &str) -> Descriptor {
    Descriptor::new([(k, v)])
}

#[tokio::test]
async fn a_shadow_mode_denial_is_reported_but_does_not_block() {
    let (e, _) = engine();
    let both = [d("user", "u"), d("ip", "1.1.1.1")];
    assert!(e.check("api", &both, 1).await.unwrap().allowed);
    let o = e.check("api", &both, 1).await.unwrap();
    assert!(o.allowed, "only the shadowed ip limit is over");
    let ip = o.statuses.iter().find(|s| s.shadow).unwrap();
    assert!(!ip.decision.unwrap().allowed);
    assert!(
        !e.check("api", &both, 1).await.unwrap().allowed,
        "the enforced user limit is now over"
    );
}

#[tokio::test]
async fn an_unlimited_rule_always_allows_and_sets_no_headers() {
    let (e, _) = engine();
    for _ in 0..100 {
        let o = e.check("api", &[d("api_key", "internal")], 1).await.unwrap();
        assert!(o.allowed && o.summary.is_none());
    }
}

#[tokio::test]
async fn a_denied_request_consumes_nothing_from_its_other_limits() {
    let (e, _) = engine();
    assert!(e.check("api", &[d("user", "a")], 2).await.unwrap().allowed);
    // tenant t has room, user a does not: the pair is denied and t keeps its 5.
    assert!(!e.check("api", &[d("tenant", "t"), d("user", "a")], 1).await.unwrap().allowed);
    let o = e.check("api", &[d("tenant", "t")], 0).await.unwrap();
    assert_eq!(o.summary.unwrap().remaining, 5);
}

#[tokio::test]
async fn a_soft_limit_lets_a_burst_over_the_rate_then_holds_the_rate() {
    let (e, clock) = engine();
    let t = [d("tenant", "t")];
    for _ in 0..5 {
        assert!(e.check("api", &t, 1).await.unwrap().allowed, "2/s plus a burst of 3");
    }
    assert!(!e.check("api", &t, 1).await.unwrap().allowed);
    clock.advance(S);
    assert!(e.check("api", &t, 1).await.unwrap().allowed);
    assert!(e.check("api", &t, 1).await.unwrap().allowed);
    assert!(!e.check("api", &t, 1).await.unwrap().allowed, "sustained: 2 per second");
}

#[tokio::test]
async fn absurd_hits_and_unknown_domains_are_errors_not_decisions() {
    let (e, _) = engine();
    assert!(matches!(e.check("api", &[], u64::MAX).await, Err(CheckError::TooManyHits { .. })));
    assert!(matches!(e.check("nope", &[], 1).await, Err(CheckError::UnknownDomain(_))));
}

#[test]
fn the_local_store_admits_exactly_the_limit_across_threads() {
    use blueprint_ratelimit::core::{AlgorithmKind, AnyState, LimitSpec};
    for kind in AlgorithmKind::ALL {
        let store: Arc<LocalStore<String, AnyState>> =
            Arc::new(LocalStore::new(LocalStoreConfig::default()).unwrap());
        let alg = Arc::new(LimitSpec::new(kind, 500, 3600 * S).build().unwrap());
        let admitted: u64 = (0..8)
            .map(|_| {
                let (store, alg) = (Arc::clone(&store), Arc::clone(&alg));
                std::thread::spawn(move || {
                    (0..200).filter(|_| store.check(&*alg, "hot", 10, 1).allowed).count() as u64
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(admitted, 500, "{kind:?}");
    }
}
