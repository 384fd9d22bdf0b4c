//! The gate every gRPC request passes, as soon as its headers have arrived and before any
//! of its body is read: authentication, the bound on requests in progress, and the
//! accounting of every answer (method, code, latency).
//!
//! Authenticating at the headers means an unauthenticated request costs no more than its
//! refusal: it never holds a request slot, and it is answered (`UNAUTHENTICATED`) while its
//! body may still be on its way — so nobody without a token can fill the slots with
//! requests whose bodies never finish. The principal travels to the handler in the
//! request's extensions ([`principal`]), with its [`Caller`].
//!
//! An authenticated request marks its connection authenticated and keeps it from being
//! idle while it is in progress (`crate::connection`), and takes a slot from the pool of
//! its kind — reads, writes or health watches —, within its caller's share
//! (`crate::shares`).
//!
//! Oversized metadata is refused here too (`OUT_OF_RANGE`, before the token is read), and
//! the health check, the one call without a token, is answered here from its headers.
//!
//! Every answer is counted here, once: refusals before the handler, load shedding
//! (`RESOURCE_EXHAUSTED`), and the handler's own answers, whose code is read from the
//! response headers (a trailers-only answer) or from the trailers at the end of its body
//! (so a stream is counted when it ends). The method label is one of a fixed set, so a
//! client cannot grow the metric's label values with made-up paths.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::Frame;
use tonic::body::Body;
use tonic::{Code, Status};

use crate::auth::{Auth, Principal};
use crate::connection::{ConnInfo, InFlight};
use crate::limits;
use crate::metrics::Metrics;
use crate::shares::{Caller, Share, Shares};

/// The methods the service answers, for the `method` label; anything else is `other`.
const METHODS: &[&str] = &[
    "Submit",
    "SubmitStream",
    "Retract",
    "GetRegionPicture",
    "GetNationalPicture",
    "GetSeries",
    "GetObservationHistory",
    "GetGroupPicture",
    "GetDisparities",
    "GetTargets",
    "GetSimilarAreas",
    "GetForerunners",
    "ReadEvents",
    "ListRegions",
    "ListIndicators",
    "DefineIndicator",
    "ListGroups",
    "DefineGroup",
    "SetTarget",
    "OpenRound",
    "GetRoundStatus",
    "Promote",
    "Check",
    "Watch",
    "ServerReflectionInfo",
];

/// The methods that write: they take slots from the writes' pool, which reads cannot take.
const WRITES: &[&str] = &[
    "Submit",
    "SubmitStream",
    "Retract",
    "DefineIndicator",
    "DefineGroup",
    "SetTarget",
    "OpenRound",
    "Promote",
];

/// The `method` label of a request path (`/package.Service/Method`).
fn method_of(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    METHODS
        .iter()
        .find(|m| **m == name)
        .copied()
        .unwrap_or("other")
}

/// The one call that needs no token: probes (a load balancer, the kubelet) call it without
/// one. The gate answers it itself, from the headers, without reading the body: an
/// anonymous caller holds nothing, however many checks it leaves unfinished.
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

/// The health service's streams (`Watch`): authenticated, in a pool of their own.
fn is_health(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// `grpc.health.v1.HealthCheckResponse { status: SERVING }`, whatever service was asked
/// about: while the process answers, every service it has is served (readiness for
/// writes is `/readyz`).
fn serving() -> http::Response<Body> {
    use prost::Message;
    let message = tonic_health::pb::HealthCheckResponse {
        status: tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
    };
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.encoded_len() as u32).to_be_bytes());
    message.encode(&mut frame).expect("a Vec grows");
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let frames = [Frame::data(Bytes::from(frame)), Frame::trailers(trailers)]
        .map(Ok::<_, std::convert::Infallible>);
    let mut response = http::Response::new(Body::new(http_body_util::StreamBody::new(
        futures::stream::iter(frames),
    )));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

/// A request's metadata size as HTTP/2 counts a header list (RFC 9113 §6.5.2: name +
/// value + 32 per field), with the path and the other pseudo-headers.
fn metadata_bytes<B>(req: &http::Request<B>) -> usize {
    let pseudo = req.uri().path().len() + req.uri().authority().map_or(0, |a| a.as_str().len());
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum::<usize>()
        + pseudo
        + 4 * 32
}

/// The principal the gate authenticated, for a handler.
pub(crate) fn principal<T>(request: &tonic::Request<T>) -> Result<Arc<Principal>, Status> {
    request
        .extensions()
        .get::<Arc<Principal>>()
        .cloned()
        // Every request to a service passes the gate, which inserts it or refuses.
        .ok_or_else(|| Status::internal("request did not pass the gate"))
}

/// What every clone of the gate shares.
struct Shared {
    auth: Arc<Auth>,
    metrics: Arc<Metrics>,
    /// Requests in progress, by kind and caller, taken by authenticated requests only; a
    /// health `Watch` holds its slot until its stream has ended, and `Check` is answered
    /// before any pool.
    shares: Shares,
}

impl Shared {
    fn count(&self, method: &str, code: Code) {
        self.metrics
            .grpc_requests
            .with_label_values(&[method, super::code_name(code)])
            .inc();
    }

    fn latency(&self, method: &str, started: Instant) {
        self.metrics
            .grpc_latency
            .with_label_values(&[method])
            .observe(started.elapsed().as_secs_f64());
    }

    /// An answer given here, before any handler: counted, and sent trailers-only.
    fn answer(&self, method: &str, started: Instant, status: Status) -> http::Response<Body> {
        self.count(method, status.code());
        self.latency(method, started);
        status.into_http()
    }
}

/// The layer that puts the gate in front of the services.
#[derive(Clone)]
pub(crate) struct GateLayer {
    shared: Arc<Shared>,
}

impl GateLayer {
    /// `shares`: the requests in progress, shared with the open-data endpoints.
    pub(crate) fn new(auth: Arc<Auth>, metrics: Arc<Metrics>, shares: Shares) -> GateLayer {
        GateLayer {
            shared: Arc::new(Shared {
                auth,
                metrics,
                shares,
            }),
        }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The gate (see the module doc).
#[derive(Clone)]
pub(crate) struct Gate<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> tower::Service<http::Request<Body>> for Gate<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let started = Instant::now();
        let shared = self.shared.clone();
        // The clone is ready only if polled; take the polled one (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let method = method_of(req.uri().path());
        let health = is_health(req.uri().path());
        let metadata = metadata_bytes(&req);
        if metadata > limits::MAX_GRPC_METADATA_BYTES {
            let status = Status::out_of_range(format!(
                "the request's metadata is {metadata} bytes; the limit is {} bytes",
                limits::MAX_GRPC_METADATA_BYTES
            ));
            let answer = shared.answer(method, started, status);
            return Box::pin(async move { Ok(answer) });
        }
        let conn = ConnInfo::of(req.extensions()).cloned();
        if req.uri().path() == HEALTH_CHECK {
            // A request like any other for the connection's idle time: a probe that keeps
            // its channel checks on it.
            drop(conn.as_ref().map(|c| c.request()));
            shared.count(method, Code::Ok);
            shared.latency(method, started);
            return Box::pin(async move { Ok(serving()) });
        }
        let (who, caller) = match Caller::authenticate(&shared.auth, req.headers(), conn.as_ref()) {
            Ok(authenticated) => authenticated,
            Err(why) => {
                let answer = shared.answer(method, started, Status::unauthenticated(why.0));
                return Box::pin(async move { Ok(answer) });
            }
        };
        // Only a request with a valid token keeps its connection open.
        let in_flight = conn.as_ref().map(|c| c.request());
        req.extensions_mut().insert(who);
        req.extensions_mut().insert(caller.clone());
        let (pool, deadline) = if health {
            (&shared.shares.health, limits::HEALTH_TIMEOUT)
        } else if WRITES.contains(&method) {
            (&shared.shares.writes, limits::REQUEST_TIMEOUT)
        } else {
            (&shared.shares.reads, limits::REQUEST_TIMEOUT)
        };
        let share = match pool.take(&caller) {
            Ok(share) => share,
            Err(refused) => {
                let answer = shared.answer(method, started, refused.into());
                return Box::pin(async move { Ok(answer) });
            }
        };
        Box::pin(async move {
            // Counts CANCELLED if this future is dropped before it answers (the client
            // reset the stream, or its own deadline ran out).
            let mut unanswered = Unanswered(Some((shared.clone(), method)));
            // The handler's time is bounded here, so that a timeout is answered and counted
            // like any other answer.
            let Ok(response) = tokio::time::timeout(deadline, inner.call(req)).await else {
                unanswered.0 = None;
                let status = Status::deadline_exceeded(format!(
                    "the server did not answer within {deadline:?}"
                ));
                return Ok(shared.answer(method, started, status));
            };
            unanswered.0 = None;
            let response = response?;
            // The slot is held until the handler has answered; a stream's body then runs
            // under the open-stream limit instead. A health `Watch` keeps its slot until its
            // stream ends: the health service's streams are bounded here. The connection
            // is in use until the body has ended.
            let health_share = health.then_some(share);
            shared.latency(method, started);
            if let Some(status) = Status::from_header_map(response.headers()) {
                // A request tonic could not decode is answered before any handler: the
                // client's error, whatever tonic calls it.
                let code = status.code();
                let status = super::codec::undecodable(status);
                shared.count(method, status.code());
                if status.code() != code {
                    return Ok(status.into_http());
                }
                return Ok(response);
            }
            Ok(response.map(|body| {
                Body::new(Counted {
                    inner: body,
                    pending: Some((shared, method)),
                    _share: health_share,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// Counts `CANCELLED` when dropped still armed: a request whose future was dropped before
/// it answered.
struct Unanswered(Option<(Arc<Shared>, &'static str)>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some((shared, method)) = self.0.take() {
            shared.count(method, Code::Cancelled);
        }
    }
}

/// A response body that counts its answer's code when the trailers pass (or, if the body
/// ends or is dropped without them, as `CANCELLED`: the client went away).
struct Counted {
    inner: Body,
    /// Where to count, until counted.
    pending: Option<(Arc<Shared>, &'static str)>,
    /// A health answer's slot, held until its body is done.
    _share: Option<Share>,
    /// The request's hold on its connection's idle time, until its body is done.
    _in_flight: Option<InFlight>,
}

impl Counted {
    fn settle(&mut self, code: Code) {
        if let Some((shared, method)) = self.pending.take() {
            shared.count(method, code);
        }
    }
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = Status::from_header_map(trailers)
                        .map(|s| s.code())
                        .unwrap_or(Code::Unknown);
                    self.settle(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                self.settle(code);
            }
            Poll::Ready(None) => self.settle(Code::Cancelled),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.settle(Code::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_a_fixed_set() {
        assert_eq!(
            method_of("/tilannekuva.v1.PictureService/GetRegionPicture"),
            "GetRegionPicture"
        );
        assert_eq!(method_of("/x.Y/MadeUp"), "other");
        assert_eq!(method_of(""), "other");
        assert!(is_health("/grpc.health.v1.Health/Watch"));
        assert!(!is_health("/tilannekuva.v1.CatalogService/ListRegions"));
    }

    #[test]
    fn metadata_is_counted_as_http2_counts_a_header_list() {
        let req = http::Request::builder()
            .uri("http://h/a.B/C")
            .header("te", "trailers")
            .body(())
            .unwrap();
        // "te" + "trailers" + 32, the path "/a.B/C", the authority "h", 4 pseudo-headers.
        assert_eq!(metadata_bytes(&req), 2 + 8 + 32 + 6 + 1 + 4 * 32);
    }
}
