//! The bounds of the gRPC server, each with its reason, and the accepted-connection
//! wrapper that enforces the connection limit and closes idle connections.
//!
//! Every bound turns excess into a clear answer (`RESOURCE_EXHAUSTED`, a closed
//! connection) instead of an unbounded queue. Request-level bounds (observations per
//! submission, string lengths) live in `domain::validate`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;

use crate::metrics::Metrics;

/// Largest gRPC message either way. The largest valid submission (10,000 observations with
/// 1 KiB sources and notes) encodes to about 3.5 MB; anything larger is refused while
/// being read, before it costs memory.
pub(crate) const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS), and so
/// its requests in progress: a client needs a few dozen; 256 lets a bulk loader pipeline
/// without letting one connection hold thousands of requests.
pub(crate) const MAX_STREAMS_PER_CONNECTION: u32 = 256;
/// Requests in progress over all connections, taken by authenticated requests only (see
/// `api::gate`); beyond it `RESOURCE_EXHAUSTED` at once. The writer takes 8,192 queued
/// writes; reads take ~1 ms of CPU each on two cores, so 1,024 in progress is already
/// seconds of work.
pub(crate) const MAX_REQUESTS: usize = 1024;
/// Open streaming calls (`ReadEvents`, `SubmitStream`) over all connections: each holds a
/// task and buffers; followers and bulk loaders are few.
pub const MAX_OPEN_STREAMS: usize = 128;
/// Longest a request may take on the server (unary calls; the set-up of streams). The
/// slowest legitimate call, a 10,000-observation submission on a busy disk, takes well
/// under a second.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Health `Watch` streams open (authenticated; `Check`, the probes' call, needs no token
/// and is answered at once without holding anything): a handful of watchers; 64 leaves
/// room, and keeps them from taking the request slots.
pub(crate) const MAX_HEALTH_REQUESTS: usize = 64;
/// Longest a health `Watch` may take to start its stream: its answer is immediate.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Open gRPC connections; more are closed at once. Every connection costs a file
/// descriptor and a task; 4,096 is far beyond 19 regional councils, ministries and
/// dashboards, and well inside the descriptor limit the server raises at start.
pub(crate) const MAX_CONNECTIONS: usize = 4096;
/// A connection that sends nothing for this long is closed. Live HTTP/2 clients answer the
/// server's keepalive pings, so only dead or silent peers (a port scan, a half-open
/// socket) reach it.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Keepalive ping interval and timeout: find dead peers within a minute.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
pub(crate) const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Open HTTP connections (`/metrics`, `/healthz`, `/readyz`, the open data); more are
/// closed at once. The callers are a few Prometheus servers, probes, people with curl and
/// evaluators' scripts (each of which holds a connection only while it reads, an idle one
/// being closed after [`HTTP_IDLE_TIMEOUT`]); 256 leaves room for all of them while 20,000
/// silent connections can no longer take every descriptor. Open data at a larger scale
/// belongs behind a caching proxy.
pub(crate) const MAX_HTTP_CONNECTIONS: usize = 256;
/// An HTTP connection that sends nothing for this long is closed: a scraper reconnects
/// or keeps its connection busy well within it.
pub(crate) const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest time to receive a request's headers: a real client sends them at once; a slow
/// drip holds a connection for nothing.
pub(crate) const HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Least time between two `/metrics` answers: scrapes beyond 5 a second wait their turn
/// (costing nothing while they wait) instead of taking the CPU from writes. A whole
/// exposition is megabytes at national scale; Prometheus scrapes every 15-60 s, so 5 a
/// second serves 75 scrapers or more, while 50 scrapers in a loop on two cores no longer
/// starve the commit path (BENCHMARKS.md).
pub(crate) const MIN_SCRAPE_INTERVAL: Duration = Duration::from_millis(200);
/// Longest a scrape waits for its turn before it is answered 503 (Retry-After): Prometheus
/// gives up on a scrape after 10 s by default.
pub(crate) const MAX_SCRAPE_WAIT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) on the HTTP port, answered 431 beyond:
/// a scrape's headers are a few hundred bytes (hyper's smallest allowed buffer is 8 KiB).
pub(crate) const MAX_HTTP_HEADER_BYTES: usize = 16 * 1024;

/// Largest gRPC request metadata (headers, counted as HTTP/2 does: name + value + 32 bytes
/// each, plus the path): a real client's are a few hundred bytes (the token is 43). Beyond
/// it the gate answers `OUT_OF_RANGE`, counted, before the token is checked.
pub(crate) const MAX_GRPC_METADATA_BYTES: usize = 16 * 1024;
/// HTTP/2's own bound on a request's header list, the backstop behind
/// [`MAX_GRPC_METADATA_BYTES`]: hyper decodes and holds at most this much per request, and
/// answers a larger one with HTTP 431 itself, before any service sees it (so those few are
/// not in the request counter; see docs/operations.md, Limits).
pub(crate) const MAX_HTTP2_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// How one listener bounds its connections.
#[derive(Clone)]
pub(crate) struct ConnectionLimits {
    /// Open connections at most; more are closed at once.
    pub(crate) max: usize,
    /// A connection without input for this long is closed.
    pub(crate) idle_timeout: Duration,
    /// Open connections (a gauge of the metrics registry).
    pub(crate) open: prometheus::IntGauge,
    /// Connections closed at once at the limit (or failed accepts).
    pub(crate) refused: prometheus::IntCounter,
}

impl ConnectionLimits {
    /// The gRPC listener's bounds.
    pub(crate) fn grpc(metrics: &Metrics, idle_timeout: Duration) -> ConnectionLimits {
        ConnectionLimits {
            max: MAX_CONNECTIONS,
            idle_timeout,
            open: metrics.connections.clone(),
            refused: metrics.connections_refused.clone(),
        }
    }

    /// The HTTP listener's bounds.
    pub(crate) fn http(metrics: &Metrics, idle_timeout: Duration) -> ConnectionLimits {
        ConnectionLimits {
            max: MAX_HTTP_CONNECTIONS,
            idle_timeout,
            open: metrics.http_connections.clone(),
            refused: metrics.http_connections_refused.clone(),
        }
    }
}

/// A slot in the connection count, freed when the connection is dropped.
struct Slot {
    open: Arc<AtomicUsize>,
    gauge: prometheus::IntGauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

/// An accepted connection: counted, and closed after [`IDLE_TIMEOUT`] without input.
pub(crate) struct TrackedIo {
    inner: TcpStream,
    idle: Pin<Box<tokio::time::Sleep>>,
    idle_timeout: Duration,
    _slot: Slot,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    let at = tokio::time::Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(at);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "idle connection closed",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for TrackedIo {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Accepted connections: Nagle's algorithm off (a small response must not wait for the
/// client's delayed ACK), counted against `limits.max`, closed when idle. Accept errors
/// (such as running out of descriptors) are logged, counted and retried after a pause;
/// they never end the server.
pub(crate) fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<TrackedIo>> {
    let open = Arc::new(AtomicUsize::new(0));
    TcpListenerStream::new(listener).filter_map(move |accepted| {
        let (open, limits) = (open.clone(), limits.clone());
        async move {
            let stream = match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    limits.refused.inc();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return None;
                }
            };
            if open.fetch_add(1, Ordering::AcqRel) >= limits.max {
                open.fetch_sub(1, Ordering::AcqRel);
                limits.refused.inc();
                tracing::warn!("connection limit reached; closing a new connection");
                return None;
            }
            limits.open.inc();
            let idle_timeout = limits.idle_timeout;
            let slot = Slot {
                open,
                gauge: limits.open,
            };
            let _ = stream.set_nodelay(true);
            Some(Ok(TrackedIo {
                inner: stream,
                idle: Box::pin(tokio::time::sleep(idle_timeout)),
                idle_timeout,
                _slot: slot,
            }))
        }
    })
}
