//! Envoy's rate limit service API (`envoy.service.ratelimit.v3.RateLimitService`), so an
//! Envoy configured with a `rate_limit_service` can use this limiter in place of Lyft's.
//!
//! One unary gRPC method, `ShouldRateLimit`, served by [`router`] on the same port as the
//! HTTP API (gRPC is HTTP/2; the server speaks it without TLS, as Envoy's cluster config
//! does with `http2_protocol_options`). It makes exactly the decision
//! `POST /api/v1/ratelimit/check` makes:
//!
//! - `overall_code` is `OVER_LIMIT` when any enforced limit denied, else `OK` (shadow-mode
//!   limits never deny, as in Lyft's service);
//! - one `DescriptorStatus` per request descriptor, in order: the tightest limit matched by
//!   that descriptor with its `current_limit`, `limit_remaining` and
//!   `duration_until_reset`, or `OK` without a limit when no rule matched it;
//! - `hits_addend` 0 counts as 1 (proto3 cannot tell unset from 0); per-descriptor
//!   `hits_addend` overrides must agree with each other, since one decision covers them all;
//! - an unknown domain is `INVALID_ARGUMENT` naming it (Envoy then applies its own
//!   `failure_mode_deny`), too many hits likewise.
//!
//! The messages are written here with `prost` derives, wire-compatible with Envoy's
//! `rls.proto` (same field numbers; fields we do not read are skipped on decode).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::post;

use crate::core::{Decision, NANOS_PER_SECOND, Nanos};
use crate::limiter::{CheckError, LimitStatus, Outcome, RateLimiter};
use crate::rules::{Descriptor, DescriptorEntry, Unit};

/// The method's path: `/<package>.<service>/<method>`.
pub const SHOULD_RATE_LIMIT_PATH: &str =
    "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

/// Largest request message accepted (Envoy sends a few hundred bytes).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Most descriptors in one request: each is matched against the rules.
pub const MAX_DESCRIPTORS: usize = 64;

/// `envoy.service.ratelimit.v3.RateLimitRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RateLimitRequest {
    /// The rules domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// The descriptors to limit on.
    #[prost(message, repeated, tag = "2")]
    pub descriptors: Vec<RateLimitDescriptor>,
    /// Hits this request adds (0: one).
    #[prost(uint32, tag = "3")]
    pub hits_addend: u32,
}

/// `envoy.extensions.common.ratelimit.v3.RateLimitDescriptor` (without the `limit`
/// override, which this service does not honour: limits come from the rules).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RateLimitDescriptor {
    /// Entries, outermost first.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Entry>,
    /// Per-descriptor hits (`google.protobuf.UInt64Value`).
    #[prost(message, optional, tag = "3")]
    pub hits_addend: Option<UInt64Value>,
}

/// `RateLimitDescriptor.Entry`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    /// Descriptor key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Descriptor value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.UInt64Value`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct UInt64Value {
    /// The value.
    #[prost(uint64, tag = "1")]
    pub value: u64,
}

/// `google.protobuf.Duration`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Duration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `envoy.service.ratelimit.v3.RateLimitResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RateLimitResponse {
    /// [`Code`] over every descriptor.
    #[prost(enumeration = "Code", tag = "1")]
    pub overall_code: i32,
    /// One per request descriptor, in order.
    #[prost(message, repeated, tag = "2")]
    pub statuses: Vec<DescriptorStatus>,
}

/// `RateLimitResponse.DescriptorStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DescriptorStatus {
    /// This descriptor's [`Code`].
    #[prost(enumeration = "Code", tag = "1")]
    pub code: i32,
    /// The limit that decided, if any rule matched.
    #[prost(message, optional, tag = "2")]
    pub current_limit: Option<RateLimit>,
    /// Hits left under it.
    #[prost(uint32, tag = "3")]
    pub limit_remaining: u32,
    /// Until it is fresh again.
    #[prost(message, optional, tag = "4")]
    pub duration_until_reset: Option<Duration>,
}

/// `RateLimitResponse.RateLimit`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RateLimit {
    /// The rule's name (or id).
    #[prost(string, tag = "3")]
    pub name: String,
    /// Requests per unit.
    #[prost(uint32, tag = "1")]
    pub requests_per_unit: u32,
    /// [`RateLimitUnit`].
    #[prost(enumeration = "RateLimitUnit", tag = "2")]
    pub unit: i32,
}

/// `RateLimitResponse.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum Code {
    /// Not known.
    Unknown = 0,
    /// Under the limit.
    Ok = 1,
    /// Over the limit.
    OverLimit = 2,
}

/// `RateLimitResponse.RateLimit.Unit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum RateLimitUnit {
    /// Not known.
    Unknown = 0,
    /// A second.
    Second = 1,
    /// A minute.
    Minute = 2,
    /// An hour.
    Hour = 3,
    /// A day.
    Day = 4,
    /// A month.
    Month = 5,
    /// A year.
    Year = 6,
}

/// The gRPC route, for the binary to merge into the service's router.
pub fn router(limiter: Arc<RateLimiter>) -> Router {
    Router::new().route(SHOULD_RATE_LIMIT_PATH, post(should_rate_limit)).with_state(limiter)
}

async fn should_rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
) -> impl IntoResponse {
    let codec = tonic_prost::ProstCodec::<RateLimitResponse, RateLimitRequest>::default();
    let mut grpc = tonic::server::Grpc::new(codec).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let method = tower::service_fn(move |call: tonic::Request<RateLimitRequest>| {
        let limiter = Arc::clone(&limiter);
        async move { decide(&limiter, call.into_inner()).await.map(tonic::Response::new) }
    });
    grpc.unary(method, request).await
}

/// Parses, checks and maps one `ShouldRateLimit` call.
///
/// # Errors
/// `INVALID_ARGUMENT` for an unknown domain, too many descriptors or hits, or
/// per-descriptor hits that disagree.
pub async fn decide(
    limiter: &RateLimiter,
    request: RateLimitRequest,
) -> Result<RateLimitResponse, tonic::Status> {
    if request.descriptors.len() > MAX_DESCRIPTORS {
        return Err(tonic::Status::invalid_argument(format!(
            "at most {MAX_DESCRIPTORS} descriptors, got {}",
            request.descriptors.len()
        )));
    }
    let hits = hits_of(&request)?;
    let descriptors: Vec<Descriptor> = request
        .descriptors
        .iter()
        .map(|d| Descriptor {
            entries: d
                .entries
                .iter()
                .map(|e| DescriptorEntry { key: e.key.clone(), value: e.value.clone() })
                .collect(),
        })
        .collect();
    let outcome =
        limiter.check(&request.domain, &descriptors, hits).await.map_err(|e| match e {
            CheckError::UnknownDomain(_) | CheckError::TooManyHits { .. } => {
                tonic::Status::invalid_argument(e.to_string())
            }
        })?;
    Ok(response(&outcome, descriptors.len()))
}

/// The hits of the request: `hits_addend` (0 → 1), or the per-descriptor overrides when
/// they all agree.
fn hits_of(request: &RateLimitRequest) -> Result<u64, tonic::Status> {
    let mut overrides = request.descriptors.iter().filter_map(|d| d.hits_addend.map(|h| h.value));
    match overrides.next() {
        None => Ok(u64::from(request.hits_addend.max(1))),
        Some(first) if overrides.all(|h| h == first) => Ok(first),
        Some(_) => Err(tonic::Status::invalid_argument(
            "per-descriptor hits_addend values differ; one decision covers every descriptor",
        )),
    }
}

/// The response for `outcome` over `descriptors` request descriptors.
pub fn response(outcome: &Outcome, descriptors: usize) -> RateLimitResponse {
    let statuses = (0..descriptors)
        .map(|index| {
            let tightest = outcome
                .statuses
                .iter()
                .filter(|s| s.descriptor_index == index && !s.shadow)
                .filter_map(|s| s.decision.map(|d| (s, d)))
                .min_by_key(|(_, d)| (d.allowed, d.remaining));
            match tightest {
                Some((status, decision)) => descriptor_status(status, &decision),
                None => DescriptorStatus { code: Code::Ok.into(), ..DescriptorStatus::default() },
            }
        })
        .collect();
    let overall = if outcome.allowed { Code::Ok } else { Code::OverLimit };
    RateLimitResponse { overall_code: overall.into(), statuses }
}

fn descriptor_status(status: &LimitStatus, decision: &Decision) -> DescriptorStatus {
    let rule = &status.rule;
    let requests_per_unit = rule.spec.map_or(decision.limit, |spec| spec.limit);
    DescriptorStatus {
        code: if decision.allowed { Code::Ok } else { Code::OverLimit }.into(),
        current_limit: Some(RateLimit {
            name: rule.name.clone().unwrap_or_else(|| rule.id.clone()),
            requests_per_unit: u32::try_from(requests_per_unit).unwrap_or(u32::MAX),
            unit: rule.unit.map_or(RateLimitUnit::Unknown, unit_of).into(),
        }),
        limit_remaining: u32::try_from(decision.remaining).unwrap_or(u32::MAX),
        duration_until_reset: Some(duration(decision.reset_after_ns)),
    }
}

fn unit_of(unit: Unit) -> RateLimitUnit {
    match unit {
        Unit::Second => RateLimitUnit::Second,
        Unit::Minute => RateLimitUnit::Minute,
        Unit::Hour => RateLimitUnit::Hour,
        Unit::Day => RateLimitUnit::Day,
        Unit::Month => RateLimitUnit::Month,
        Unit::Year => RateLimitUnit::Year,
    }
}

fn duration(ns: Nanos) -> Duration {
    Duration {
        seconds: i64::try_from(ns / NANOS_PER_SECOND).unwrap_or(i64::MAX),
        nanos: i32::try_from(ns % NANOS_PER_SECOND).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn descriptor(entries: &[(&str, &str)], hits: Option<u64>) -> RateLimitDescriptor {
        RateLimitDescriptor {
            entries: entries
                .iter()
                .map(|(k, v)| Entry { key: (*k).into(), value: (*v).into() })
                .collect(),
            hits_addend: hits.map(|value| UInt64Value { value }),
        }
    }

    #[test]
    fn zero_hits_count_as_one_and_agreeing_overrides_win() {
        let mut request = RateLimitRequest {
            domain: "api".into(),
            descriptors: vec![descriptor(&[("a", "1")], None)],
            hits_addend: 0,
        };
        assert_eq!(hits_of(&request).unwrap(), 1);
        request.hits_addend = 5;
        assert_eq!(hits_of(&request).unwrap(), 5);
        request.descriptors = vec![descriptor(&[("a", "1")], Some(3)), descriptor(&[], Some(3))];
        assert_eq!(hits_of(&request).unwrap(), 3);
        request.descriptors[1].hits_addend = Some(UInt64Value { value: 4 });
        assert_eq!(hits_of(&request).unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn messages_round_trip_with_envoys_field_numbers() {
        use prost::Message as _;
        let status = DescriptorStatus {
            code: Code::OverLimit.into(),
            current_limit: Some(RateLimit {
                name: "per_ip".into(),
                requests_per_unit: 3,
                unit: RateLimitUnit::Minute.into(),
            }),
            limit_remaining: 0,
            duration_until_reset: Some(Duration { seconds: 42, nanos: 0 }),
        };
        let bytes = status.encode_to_vec();
        // Field 1 (code) as a varint: tag byte (1 << 3 | 0) = 0x08, then 2 (OVER_LIMIT).
        assert_eq!(&bytes[..2], &[0x08, 0x02]);
        assert_eq!(DescriptorStatus::decode(bytes.as_slice()).unwrap(), status);
    }

    #[test]
    fn durations_split_into_seconds_and_nanos() {
        assert_eq!(duration(1_500_000_000), Duration { seconds: 1, nanos: 500_000_000 });
        assert_eq!(
            duration(Nanos::MAX).seconds,
            i64::try_from(Nanos::MAX / NANOS_PER_SECOND).unwrap()
        );
    }
}
