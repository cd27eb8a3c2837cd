//! Fast paths: a route answered before the middleware stack, for the one or two hot
//! routes whose whole answer is a lookup (the shortener's redirect).
//!
//! The stack of [`super::apply_layers`] costs more than such a route's own work: on the
//! shortener's `GET /{code}`, the layers and the router took about as long as the lookup,
//! the click and the response together (`bench/shortener.sh`). A [`FastPath`] sees the
//! request first and either answers it or declines; a declined request takes the full
//! stack as before. An answer still gets what the stack would have given it: the request
//! id (the client's, or a new one), the request counter and latency histogram under the
//! fast path's route template, and the `finished processing request` log line at INFO.
//! Only successes belong on a fast path: anything that may fail or needs a body declines,
//! so errors keep one shape (the stack's JSON errors).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;
use futures::future::{Either, Map, Ready, ready};
use tower::Service;
use tower_http::request_id::MakeRequestId as _;

use super::{ProcessRequestIds, REQUEST_ID_HEADER};

/// A route a system answers without the middleware stack when it can.
pub trait FastPath: Send + Sync + 'static {
    /// The route template its answers are counted under (`/{code}`): the template the
    /// router would have matched for the requests it answers.
    fn route(&self) -> &'static str;

    /// The answer to `request`, or `None` to hand it to the full stack. Must be cheap
    /// when it declines, and must answer only requests the router would route to
    /// [`FastPath::route`], with the response that route would give.
    fn answer(&self, request: &Request) -> Option<Response>;
}

/// `inner` behind `paths`: each request is offered to the fast paths in turn, then to
/// `inner`.
#[derive(Clone)]
pub struct WithFastPaths<S> {
    paths: Arc<[Arc<dyn FastPath>]>,
    inner: S,
}

impl<S> WithFastPaths<S> {
    /// `inner` behind `paths`.
    pub fn new(paths: Vec<Arc<dyn FastPath>>, inner: S) -> Self {
        WithFastPaths { paths: paths.into(), inner }
    }
}

/// The inner service's answer as a plain response (what the router would make of it).
type Plain<R> = fn(Result<R, Infallible>) -> Result<Response, Infallible>;

impl<S> Service<Request> for WithFastPaths<S>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, Map<S::Future, Plain<S::Response>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        for path in self.paths.iter() {
            if let Some(response) = path.answer(&request) {
                return Either::Left(ready(Ok(finish(path.route(), &request, response, started))));
            }
        }
        let plain: Plain<S::Response> = |result| result.map(IntoResponse::into_response);
        Either::Right(self.inner.call(request).map(plain))
    }
}

/// What the stack adds to an answer: the request id, the metrics, the log line.
fn finish(
    route: &'static str,
    request: &Request,
    mut response: Response,
    started: Instant,
) -> Response {
    let request_id = match request.headers().get(REQUEST_ID_HEADER) {
        Some(given) => Some(given.clone()),
        None => ProcessRequestIds.make_request_id(request).map(|id| id.into_header_value()),
    };
    let status = response.status();
    let elapsed = started.elapsed();
    super::metrics::record(route, request.method().clone(), status, elapsed);
    tracing::info!(
        method = %request.method(),
        path = %request.uri().path(),
        request_id = request_id.as_ref().and_then(|id| id.to_str().ok()).unwrap_or("-"),
        status = status.as_u16(),
        latency_us = elapsed.as_micros() as u64,
        "finished processing request"
    );
    if let Some(id) = request_id {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
    }
    response
}
