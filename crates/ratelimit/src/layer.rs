//! The HTTP middleware (book figure 4-14's "rate limiter middleware"): a tower [`Layer`]
//! for axum.
//!
//! For each request it builds Lyft-style descriptors from the request, asks the shared
//! [`RateLimiter`], and either forwards the request (after the leaking bucket's queue
//! wait, if any) with `X-Ratelimit-Limit`/`-Remaining` and the IETF `RateLimit` /
//! `RateLimit-Policy` headers, or answers 429 with those plus `X-Ratelimit-Retry-After`
//! and `Retry-After`, and a JSON error body. Descriptors (each one a separate limit that
//! rules may or may not match):
//!
//! | descriptor | from |
//! |---|---|
//! | `remote_address=<ip>` | the peer address (`ConnectInfo`), or, when the peer is a trusted proxy, the rightmost untrusted `X-Forwarded-For` hop |
//! | `api_key=<key>` | the configured header (default `x-api-key`) |
//! | `user=<id>` | the [`AuthenticatedUser`] request extension, inserted by auth middleware |
//! | `route=<path>`, `method=<METHOD>` | axum's `MatchedPath` (the route template) or the URI path, and the method |
//!
//! A store failure never becomes a 500: the engine's fail policy decides. An unknown
//! domain (a configuration mistake) lets requests through and is logged.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::core::{Decision, NANOS_PER_SECOND, Nanos};
use crate::limiter::{Outcome, RateLimiter};
use crate::rules::Descriptor;

/// The signed-in user, as a request extension: auth middleware inserts it, this layer
/// limits per user with the descriptor `user=<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(pub String);

/// The longest a request is held in the leaking bucket's queue before being forwarded;
/// longer waits are answered 429 (a client would have timed out anyway).
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// An IP network (`10.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// A string that is not an IP network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IP network {input:?}: expected an address or address/prefix")]
pub struct IpNetError {
    /// What was given.
    pub input: String,
}

impl std::str::FromStr for IpNet {
    type Err = IpNetError;
    fn from_str(s: &str) -> Result<Self, IpNetError> {
        let err = || IpNetError { input: s.to_owned() };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// How the layer builds descriptors.
#[derive(Debug, Clone)]
pub struct LayerConfig {
    /// The rules domain to check against.
    pub domain: String,
    /// Proxies whose `X-Forwarded-For` is believed. Empty: the header is ignored, as it
    /// must be when clients connect directly (anyone can send it).
    pub trusted_proxies: Vec<IpNet>,
    /// The header carrying the API key.
    pub api_key_header: HeaderName,
}

impl LayerConfig {
    /// Defaults for `domain`: no trusted proxies, API key in `x-api-key`.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            trusted_proxies: Vec::new(),
            api_key_header: HeaderName::from_static("x-api-key"),
        }
    }
}

/// The client's IP: the peer, or through trusted proxies the rightmost untrusted hop of
/// `X-Forwarded-For` (hops left of it were written by the client and can be forged).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    let hops: Vec<&str> = hops.collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// The descriptors of a request (see the module docs).
pub fn descriptors<B>(req: &Request<B>, config: &LayerConfig) -> Vec<Descriptor> {
    let mut out = Vec::with_capacity(4);
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = client_ip(peer, req.headers(), &config.trusted_proxies) {
        out.push(Descriptor::new([("remote_address", ip.to_string())]));
    }
    if let Some(key) = req.headers().get(&config.api_key_header).and_then(|v| v.to_str().ok()) {
        out.push(Descriptor::new([("api_key", key)]));
    }
    if let Some(AuthenticatedUser(id)) = req.extensions().get::<AuthenticatedUser>() {
        out.push(Descriptor::new([("user", id.as_str())]));
    }
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| req.uri().path(), MatchedPath::as_str);
    out.push(Descriptor::new([("route", route), ("method", req.method().as_str())]));
    out
}

/// Whole seconds, rounded up (a client retrying after 0 s would be denied again).
fn ceil_seconds(ns: Nanos) -> u64 {
    ns.div_ceil(NANOS_PER_SECOND)
}

fn put(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Adds the headers of `d` (window `window_s` seconds) to `headers`.
pub fn add_headers(headers: &mut HeaderMap, d: &Decision, window_s: u64) {
    put(headers, "x-ratelimit-limit", d.limit.to_string());
    put(headers, "x-ratelimit-remaining", d.remaining.to_string());
    put(headers, "ratelimit-policy", format!("\"default\";q={};w={}", d.limit, window_s.max(1)));
    put(
        headers,
        "ratelimit",
        format!("\"default\";r={};t={}", d.remaining, ceil_seconds(d.reset_after_ns)),
    );
    if !d.allowed {
        let retry = if d.retry_after_ns == Nanos::MAX {
            window_s.max(1)
        } else {
            ceil_seconds(d.retry_after_ns).max(1)
        };
        put(headers, "x-ratelimit-retry-after", retry.to_string());
        put(headers, "retry-after", retry.to_string());
    }
}

/// The 429 response for a denied outcome.
pub fn too_many_requests(outcome: &Outcome) -> Response<Body> {
    let body = serde_json::json!({"error": {"code": "rate_limited", "message": "too many requests: rate limit exceeded, retry later"}});
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(d) = &outcome.summary {
        add_headers(headers, d, outcome.window_seconds);
    } else {
        put(headers, "retry-after", "1".into());
        put(headers, "x-ratelimit-retry-after", "1".into());
    }
    response
}

/// The layer: wrap a router with `.layer(RateLimitLayer::new(limiter, config))`.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
    config: Arc<LayerConfig>,
}

impl RateLimitLayer {
    /// A layer checking every request against `limiter` with `config`.
    pub fn new(limiter: Arc<RateLimiter>, config: LayerConfig) -> Self {
        Self { limiter, config: Arc::new(config) }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: Arc::clone(&self.limiter),
            config: Arc::clone(&self.config),
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: Arc<RateLimiter>,
    config: Arc<LayerConfig>,
}

impl<S> Service<Request<Body>> for RateLimitService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = Arc::clone(&self.limiter);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let descriptors = descriptors(&req, &config);
            let outcome = match limiter.check(&config.domain, &descriptors, 1).await {
                Ok(o) => o,
                Err(error) => {
                    tracing::error!(%error, domain = %config.domain, "rate limit layer misconfigured; request let through");
                    return inner.call(req).await;
                }
            };
            let wait = outcome.summary.map_or(0, |d| d.wait_ns);
            if !outcome.allowed || wait > MAX_QUEUE_WAIT.as_nanos() as Nanos {
                return Ok(too_many_requests(&outcome));
            }
            if wait > 0 {
                // Leaking bucket: hold the request until its turn in the queue.
                tokio::time::sleep(Duration::from_nanos(wait)).await;
            }
            let mut response = inner.call(req).await?;
            if let Some(d) = &outcome.summary {
                add_headers(response.headers_mut(), d, outcome.window_seconds);
            }
            Ok(response)
        })
    }
}
