//! Envoy's `ShouldRateLimit` over real gRPC (tonic's client, HTTP/2 on loopback), against
//! the same router the binary mounts.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use blueprint_ratelimit::clock::ManualClock;
use blueprint_ratelimit::envoy::{
    Code, Entry, RateLimitDescriptor, RateLimitRequest, RateLimitResponse, RateLimitUnit,
    SHOULD_RATE_LIMIT_PATH,
};
use blueprint_ratelimit::limiter::{Backend, RateLimiter};
use blueprint_ratelimit::local::{LocalStore, LocalStoreConfig};
use blueprint_ratelimit::rules::RuleSet;

const RULES: &str = "domain: envoy
descriptors:
  - key: remote_address
    rate_limit: { unit: minute, requests_per_unit: 2, name: per_ip }
  - key: path
    value: /shadow
    shadow_mode: true
    rate_limit: { unit: hour, requests_per_unit: 1 }
";

struct Server {
    address: std::net::SocketAddr,
    _task: tokio::task::JoinHandle<()>,
}

async fn server() -> Server {
    let domain = RuleSet::parse_domain(Path::new("envoy.yaml"), RULES).unwrap();
    let rules = Arc::new(ArcSwap::from_pointee(RuleSet::from_domains([domain])));
    let store = LocalStore::new(LocalStoreConfig::default()).unwrap();
    let limiter =
        Arc::new(RateLimiter::new(rules, Backend::Local(store), Arc::new(ManualClock::new(0))));
    let app = blueprint_ratelimit::http::router(limiter);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { address, _task: task }
}

async fn call(
    server: &Server,
    request: RateLimitRequest,
) -> Result<RateLimitResponse, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<RateLimitRequest, RateLimitResponse>::default();
    let path = axum::http::uri::PathAndQuery::from_static(SHOULD_RATE_LIMIT_PATH);
    grpc.unary(tonic::Request::new(request), path, codec).await.map(tonic::Response::into_inner)
}

fn request(domain: &str, descriptors: &[&[(&str, &str)]]) -> RateLimitRequest {
    RateLimitRequest {
        domain: domain.into(),
        descriptors: descriptors
            .iter()
            .map(|entries| RateLimitDescriptor {
                entries: entries
                    .iter()
                    .map(|(key, value)| Entry { key: (*key).into(), value: (*value).into() })
                    .collect(),
                hits_addend: None,
            })
            .collect(),
        hits_addend: 0,
    }
}

#[tokio::test]
async fn the_third_call_from_one_address_is_over_limit_with_envoys_fields() {
    let server = server().await;
    let ip: &[(&str, &str)] = &[("remote_address", "10.0.0.1")];
    let unmatched: &[(&str, &str)] = &[("header", "x")];
    let mut codes = Vec::new();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = call(&server, request("envoy", &[ip, unmatched])).await.unwrap();
        assert_eq!(response.statuses.len(), 2, "one status per descriptor");
        codes.push(response.overall_code);
        let status = &response.statuses[0];
        remaining.push(status.limit_remaining);
        let limit = status.current_limit.as_ref().unwrap();
        assert_eq!((limit.name.as_str(), limit.requests_per_unit), ("per_ip", 2));
        assert_eq!(limit.unit, i32::from(RateLimitUnit::Minute));
        let reset = status.duration_until_reset.unwrap();
        assert!((1..=60).contains(&reset.seconds), "{reset:?}");
        let other = &response.statuses[1];
        assert_eq!((other.code, other.current_limit.clone()), (i32::from(Code::Ok), None));
    }
    let (ok, over) = (i32::from(Code::Ok), i32::from(Code::OverLimit));
    assert_eq!(codes, [ok, ok, over]);
    assert_eq!(remaining, [1, 0, 0]);
    // Another address has its own budget.
    let other = call(&server, request("envoy", &[&[("remote_address", "10.0.0.2")]])).await;
    assert_eq!(other.unwrap().overall_code, ok);
}

#[tokio::test]
async fn hits_addend_counts_several_hits_at_once() {
    let server = server().await;
    let mut heavy = request("envoy", &[&[("remote_address", "10.0.0.9")]]);
    heavy.hits_addend = 3;
    let response = call(&server, heavy).await.unwrap();
    assert_eq!(response.overall_code, i32::from(Code::OverLimit), "3 hits > 2 per minute");
}

#[tokio::test]
async fn shadow_mode_limits_report_but_never_deny() {
    let server = server().await;
    for _ in 0..3 {
        let response = call(&server, request("envoy", &[&[("path", "/shadow")]])).await.unwrap();
        assert_eq!(response.overall_code, i32::from(Code::Ok));
    }
}

#[tokio::test]
async fn an_unknown_domain_is_invalid_argument_naming_it() {
    let server = server().await;
    let status = call(&server, request("nope", &[&[("a", "b")]])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("nope"), "{}", status.message());
}
