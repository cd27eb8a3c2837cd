//! JSON bodies of the HTTP API (`/api/v1/ratelimit/check`, `/api/v1/ratelimit/simulate`).

use serde::{Deserialize, Serialize};

pub use crate::rules::{Descriptor, DescriptorEntry};
pub use crate::simulate::{Pattern, SimulationRequest, Timeline, TimelinePoint};

use crate::core::{Decision, Nanos};
use crate::limiter::Outcome;

/// `POST /api/v1/ratelimit/check`, e.g.
/// `{"domain":"api","descriptors":[{"entries":[{"key":"user","value":"u1"}]}],"hits":1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckRequest {
    /// The rules domain.
    pub domain: String,
    /// Lyft/Envoy-style descriptors.
    pub descriptors: Vec<Descriptor>,
    /// Requests to count (default 1; 0 asks without consuming).
    #[serde(default = "one")]
    #[schema(default = 1, maximum = 1_000_000)]
    pub hits: u64,
}

fn one() -> u64 {
    1
}

/// One matched limit in a [`CheckResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LimitStatusBody {
    /// The rule's id.
    pub rule: String,
    /// Index of the request descriptor it matched.
    pub descriptor_index: usize,
    /// Its own verdict (shadow-mode rules may say false while the request is allowed).
    pub allowed: bool,
    /// Evaluated but not enforced.
    pub shadow: bool,
    /// `unlimited: true` rule.
    pub unlimited: bool,
    /// The limit (0 when unlimited).
    pub limit: u64,
    /// Remaining after this request.
    pub remaining: u64,
}

/// The answer: the decision of the most restrictive enforced limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResponse {
    /// May the request proceed?
    pub allowed: bool,
    /// The most restrictive limit (0 when no limit matched).
    pub limit: u64,
    /// Requests left under it.
    pub remaining: u64,
    /// Milliseconds until it is fresh again.
    pub reset_after_ms: u64,
    /// When denied: milliseconds until the same request would be allowed.
    pub retry_after_ms: u64,
    /// Leaking bucket: milliseconds to hold the request before forwarding it.
    pub wait_ms: u64,
    /// The store failed and the fail policy decided.
    pub store_failed: bool,
    /// Every matched limit.
    pub statuses: Vec<LimitStatusBody>,
}

fn ms(ns: Nanos) -> u64 {
    if ns == Nanos::MAX { u64::MAX } else { ns.div_ceil(1_000_000) }
}

impl From<&Outcome> for CheckResponse {
    fn from(o: &Outcome) -> Self {
        let d = o.summary.unwrap_or(Decision {
            allowed: o.allowed,
            limit: 0,
            remaining: 0,
            reset_after_ns: 0,
            retry_after_ns: 0,
            wait_ns: 0,
        });
        CheckResponse {
            allowed: o.allowed,
            limit: d.limit,
            remaining: d.remaining,
            reset_after_ms: ms(d.reset_after_ns),
            retry_after_ms: ms(d.retry_after_ns),
            wait_ms: ms(d.wait_ns),
            store_failed: o.store_failed,
            statuses: o
                .statuses
                .iter()
                .map(|s| LimitStatusBody {
                    rule: s.rule_id.clone(),
                    descriptor_index: s.descriptor_index,
                    allowed: s.decision.is_none_or(|d| d.allowed),
                    shadow: s.shadow,
                    unlimited: s.decision.is_none(),
                    limit: s.decision.map_or(0, |d| d.limit),
                    remaining: s.decision.map_or(0, |d| d.remaining),
                })
                .collect(),
        }
    }
}

/// The error body: `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `unknown_domain`, `invalid_hits`, `invalid_body`,
    /// `invalid_simulation`, `rate_limited`.
    pub code: String,
    /// For humans.
    pub message: String,
}

impl ErrorBody {
    /// An error body.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code: code.to_owned(), message: message.into() } }
    }
}
