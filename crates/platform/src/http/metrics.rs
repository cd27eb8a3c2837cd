//! Prometheus metrics: the process-wide recorder and the per-request middleware.
//!
//! Requests are counted by route *template* (`/api/v1/users/{id}`, never the raw path)
//! and status, so an attacker scanning random paths cannot blow up label cardinality;
//! unmatched paths share the label `unmatched`.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::http::ApiError;

/// Counter of finished requests, labelled `route`, `method`, `status`.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// Histogram of request latency in seconds, labelled `route`.
pub const REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Latency buckets in seconds: 100 µs to 10 s, roughly ×2.5 apart.
const LATENCY_BUCKETS_SECONDS: [f64; 12] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus handle, installing the recorder on first use. Several apps
/// in one process (tests) share it; that is what a global recorder means.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS_SECONDS);
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            // Only fails on an empty bucket list, which the constant rules out.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only ours");
        }
        let upkeep = handle.clone();
        // Histograms are drained periodically to bound memory; without upkeep they grow.
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .ok();
        handle
    })
}

/// Render the Prometheus text exposition.
pub fn render() -> String {
    handle().render()
}

/// Per-route middleware: the request's deadline (408 `timeout` when it runs longer than
/// `timeout`) and [`REQUESTS_TOTAL`] and [`REQUEST_DURATION_SECONDS`], a timed-out request
/// included.
pub async fn track(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => {
            let status = StatusCode::REQUEST_TIMEOUT;
            ApiError::new(status, ApiError::code_for_status(status), "request timed out")
                .into_response()
        }
    };
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    record(route, method, response.status(), started.elapsed());
    response
}

/// The label of requests that matched no route.
const UNMATCHED: &str = "unmatched";
/// Most `(route, method, status)` handles kept; past it, requests are counted without the
/// shortcut (route templates, methods and statuses are few, so this is a safety bound).
const MAX_CACHED_SERIES: usize = 4096;

/// A series' handles, looked up once: registering a labelled metric builds and hashes its
/// key, which was a tenth of a plain request's instructions.
struct Series {
    route: Box<str>,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

type SeriesKey = (usize, usize, &'static str, u16);

static SERIES: OnceLock<RwLock<HashMap<SeriesKey, Series>>> = OnceLock::new();

pub(crate) fn record(route: &str, method: Method, status: StatusCode, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let method_name = method_label(&method);
    // Keyed by where the route's template lives (one allocation per route, for the
    // router's life) and checked against its text, so a router rebuilt at the same
    // address cannot inherit another route's series. Only once the recorder is
    // installed: handles taken before would be no-ops for good.
    let cacheable = HANDLE.get().is_some() && method_name.is_some();
    let key: SeriesKey =
        (route.as_ptr() as usize, route.len(), method_name.unwrap_or(""), status.as_u16());
    if cacheable {
        let series = SERIES.get_or_init(Default::default);
        let known = series.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = known.get(&key).filter(|found| &*found.route == route) {
            found.requests.increment(1);
            found.duration.record(seconds);
            return;
        }
    }
    let route_label: SharedString = route.to_owned().into();
    let method_label: SharedString = match method_name {
        Some(name) => SharedString::const_str(name),
        None => method.as_str().to_owned().into(),
    };
    let status_label: SharedString = match status_label(status) {
        Some(label) => SharedString::const_str(label),
        None => status.as_u16().to_string().into(),
    };
    let requests = metrics::counter!(REQUESTS_TOTAL, "route" => route_label.clone(), "method" => method_label, "status" => status_label);
    let duration = metrics::histogram!(REQUEST_DURATION_SECONDS, "route" => route_label);
    requests.increment(1);
    duration.record(seconds);
    if cacheable {
        let series = SERIES.get_or_init(Default::default);
        let mut known = series.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() < MAX_CACHED_SERIES {
            known.insert(key, Series { route: route.into(), requests, duration });
        }
    }
}

/// The standard methods' names, static (`None` for an extension method).
fn method_label(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => return None,
    })
}

/// The common statuses as static labels (the rest are formatted).
fn status_label(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        410 => "410",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => return None,
    })
}
