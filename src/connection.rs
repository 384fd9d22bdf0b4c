//! Accepted connections, for both listeners: admitted within the listener's bounds —
//! in total, per peer address, and separately for connections on which no request has
//! shown a valid token yet —, and closed when they make no request (pings and other
//! frames do not count) or stop reading what they asked for.
//!
//! A connection starts unauthenticated; the first request on it that authenticates
//! ([`Conn::authenticated`], called by the gRPC gate and the HTTP handlers) moves it to
//! the authenticated count. So a flood of connections that never show a token, from one
//! address or many, holds at most the unauthenticated slots, and one address at most its
//! share of them, while callers with a token and the probes of other addresses are
//! served.
//!
//! Time is measured in requests, not bytes: a connection is alive while a request on it is
//! in progress ([`Conn::request`]) and for [`Bounds::idle`] after the last one ended; a new
//! connection has [`Bounds::first_request`] to start one. A write that stays blocked for
//! [`Bounds::write`] (the peer reads nothing) closes the connection.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;

use crate::limits;
use crate::metrics::Metrics;

/// One listener's bounds (`limits` has each with its reason).
#[derive(Clone, Debug)]
pub(crate) struct Bounds {
    pub(crate) max: usize,
    pub(crate) max_unauthenticated: usize,
    pub(crate) max_per_peer: usize,
    pub(crate) max_unauthenticated_per_peer: usize,
    /// A new connection must start a request within this.
    pub(crate) first_request: Duration,
    /// A connection without a request in progress is closed this long after the last.
    pub(crate) idle: Duration,
    /// A write blocked this long closes the connection.
    pub(crate) write: Duration,
}

impl Bounds {
    /// The gRPC listener's bounds; `idle` (and the first request's bound, when shorter)
    /// from the options, which tests shorten.
    pub(crate) fn grpc(idle: Duration) -> Bounds {
        Bounds {
            max: limits::MAX_CONNECTIONS,
            max_unauthenticated: limits::MAX_UNAUTHENTICATED_CONNECTIONS,
            max_per_peer: limits::MAX_CONNECTIONS_PER_PEER,
            max_unauthenticated_per_peer: limits::MAX_UNAUTHENTICATED_CONNECTIONS_PER_PEER,
            first_request: limits::FIRST_REQUEST_TIMEOUT.min(idle),
            idle,
            write: limits::WRITE_TIMEOUT.min(idle.max(Duration::from_secs(1))),
        }
    }

    /// The HTTP listener's bounds: the first request has the request head's time.
    pub(crate) fn http(idle: Duration, header: Duration) -> Bounds {
        Bounds {
            max: limits::MAX_HTTP_CONNECTIONS,
            max_unauthenticated: limits::MAX_HTTP_UNAUTHENTICATED_CONNECTIONS,
            max_per_peer: limits::MAX_HTTP_CONNECTIONS_PER_PEER,
            max_unauthenticated_per_peer: limits::MAX_HTTP_UNAUTHENTICATED_CONNECTIONS_PER_PEER,
            first_request: header.min(idle),
            idle,
            write: limits::WRITE_TIMEOUT.min(idle.max(Duration::from_secs(1))),
        }
    }
}

/// Open connections, in all and per peer address.
#[derive(Default)]
struct Counts {
    open: usize,
    unauthenticated: usize,
    peers: HashMap<IpAddr, Peer>,
}

#[derive(Default)]
struct Peer {
    open: usize,
    unauthenticated: usize,
}

/// What one listener's connections share.
pub(crate) struct Listener {
    bounds: Bounds,
    counts: Mutex<Counts>,
    /// Open connections (a gauge of the registry).
    open: prometheus::IntGauge,
    /// Connections closed at accept, by the bound that refused them.
    refused: prometheus::IntCounterVec,
    /// Connections the server closed, by reason (`no_request`, `idle`, `write_timeout`).
    closed: prometheus::IntCounterVec,
}

impl Listener {
    pub(crate) fn grpc(metrics: &Metrics, bounds: Bounds) -> Arc<Listener> {
        Listener::new(
            bounds,
            metrics.connections.clone(),
            metrics.connections_refused.clone(),
            metrics.connections_closed.clone(),
        )
    }

    pub(crate) fn http(metrics: &Metrics, bounds: Bounds) -> Arc<Listener> {
        Listener::new(
            bounds,
            metrics.http_connections.clone(),
            metrics.http_connections_refused.clone(),
            metrics.http_connections_closed.clone(),
        )
    }

    fn new(
        bounds: Bounds,
        open: prometheus::IntGauge,
        refused: prometheus::IntCounterVec,
        closed: prometheus::IntCounterVec,
    ) -> Arc<Listener> {
        for reason in REFUSALS {
            refused.with_label_values(&[reason]);
        }
        for reason in CLOSES {
            closed.with_label_values(&[reason]);
        }
        Arc::new(Listener {
            bounds,
            counts: Mutex::default(),
            open,
            refused,
            closed,
        })
    }

    /// A slot for a new connection from `peer`, or the bound that refuses it.
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Arc<Conn>, &'static str> {
        let b = &self.bounds;
        let mut c = self.counts.lock();
        let (open, unauthenticated) = c
            .peers
            .get(&peer)
            .map_or((0, 0), |p| (p.open, p.unauthenticated));
        let refused = if c.open >= b.max {
            Some("limit")
        } else if c.unauthenticated >= b.max_unauthenticated {
            Some("unauthenticated_limit")
        } else if open >= b.max_per_peer {
            Some("peer_limit")
        } else if unauthenticated >= b.max_unauthenticated_per_peer {
            Some("peer_unauthenticated_limit")
        } else {
            None
        };
        if let Some(reason) = refused {
            drop(c);
            self.refused.with_label_values(&[reason]).inc();
            return Err(reason);
        }
        c.open += 1;
        c.unauthenticated += 1;
        let p = c.peers.entry(peer).or_default();
        p.open += 1;
        p.unauthenticated += 1;
        drop(c);
        self.open.inc();
        Ok(Arc::new(Conn {
            listener: self.clone(),
            peer,
            started: Instant::now(),
            authenticated: AtomicBool::new(false),
            released: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            requested: AtomicBool::new(false),
            last_request_ms: AtomicU64::new(0),
        }))
    }
}

/// Why a connection is refused at accept (the `reason` label).
const REFUSALS: [&str; 5] = [
    "limit",
    "unauthenticated_limit",
    "peer_limit",
    "peer_unauthenticated_limit",
    "accept_error",
];
/// Why the server closes a connection (the `reason` label).
const CLOSES: [&str; 3] = ["no_request", "idle", "write_timeout"];

/// One accepted connection: its slot, whether a request on it has authenticated, and the
/// requests in progress on it. Requests reach it through their extensions ([`ConnInfo`]).
pub(crate) struct Conn {
    listener: Arc<Listener>,
    peer: IpAddr,
    started: Instant,
    authenticated: AtomicBool,
    /// Set when the connection's slot is given back (changed under the listener's lock).
    released: AtomicBool,
    in_flight: AtomicUsize,
    requested: AtomicBool,
    /// When the last request started or ended, in milliseconds since `started`.
    last_request_ms: AtomicU64,
}

impl Conn {
    /// The peer's address.
    pub(crate) fn peer(&self) -> IpAddr {
        self.peer
    }

    /// A request on this connection has shown a valid token: from now on the connection
    /// counts as authenticated.
    pub(crate) fn authenticated(&self) {
        if self.authenticated.load(Ordering::Acquire) {
            return;
        }
        let mut c = self.listener.counts.lock();
        if self.released.load(Ordering::Acquire) || self.authenticated.swap(true, Ordering::AcqRel)
        {
            return;
        }
        c.unauthenticated -= 1;
        if let Some(p) = c.peers.get_mut(&self.peer) {
            p.unauthenticated -= 1;
        }
    }

    /// A request in progress on this connection, until the guard is dropped: the
    /// connection is not idle meanwhile.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requested.store(true, Ordering::Release);
        self.touch();
        InFlight(self.clone())
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_request_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// When the connection expires if nothing happens meanwhile (`Ok`), or why it is
    /// closed now (`Err`).
    fn expiry(&self, now: Instant) -> Result<Instant, &'static str> {
        let b = &self.listener.bounds;
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Ok(now + b.idle);
        }
        let (bound, reason) = if self.requested.load(Ordering::Acquire) {
            (b.idle, "idle")
        } else {
            (b.first_request, "no_request")
        };
        let last = self.started
            + Duration::from_millis(self.last_request_ms.load(Ordering::Acquire))
            + bound;
        if last <= now {
            Err(reason)
        } else {
            Ok(last)
        }
    }

    /// Gives the connection's slot back (once).
    fn release(&self) {
        let mut c = self.listener.counts.lock();
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let unauthenticated = usize::from(!self.authenticated.load(Ordering::Acquire));
        c.open -= 1;
        c.unauthenticated -= unauthenticated;
        if let Some(p) = c.peers.get_mut(&self.peer) {
            p.open -= 1;
            p.unauthenticated -= unauthenticated;
            if p.open == 0 {
                c.peers.remove(&self.peer);
            }
        }
        drop(c);
        self.listener.open.dec();
    }
}

/// A request in progress on a connection (see [`Conn::request`]).
pub(crate) struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// The connection a request came on, in the request's extensions (tonic puts a
/// connection's `ConnectInfo` there; the HTTP listener puts it there itself).
#[derive(Clone)]
pub(crate) struct ConnInfo(pub(crate) Arc<Conn>);

impl ConnInfo {
    /// The connection of a request, on either listener (with TLS, tonic puts the inner
    /// connection's info there too).
    pub(crate) fn of(extensions: &http::Extensions) -> Option<&Arc<Conn>> {
        extensions.get::<ConnInfo>().map(|c| &c.0)
    }
}

/// An accepted connection: counted, and closed by the bounds of the module doc.
pub(crate) struct TrackedIo {
    inner: TcpStream,
    conn: Arc<Conn>,
    /// When to look again whether the connection has expired.
    expiry: Pin<Box<tokio::time::Sleep>>,
    /// Set while a write is blocked: when it must have gone through.
    write_deadline: Pin<Box<tokio::time::Sleep>>,
    write_blocked: bool,
}

impl TrackedIo {
    fn close(&self, reason: &'static str) -> io::Error {
        self.conn.listener.closed.with_label_values(&[reason]).inc();
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection closed: {reason}"),
        )
    }

    /// The connection's slot and state.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// A write's outcome, with the write timeout: a write that stays blocked closes the
    /// connection.
    fn written<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.write_blocked = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !self.write_blocked {
                    self.write_blocked = true;
                    let at = Instant::now() + self.conn.listener.bounds.write;
                    self.write_deadline.as_mut().reset(at);
                }
                match self.write_deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(self.close("write_timeout"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl Drop for TrackedIo {
    fn drop(&mut self) {
        self.conn.release();
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => Poll::Ready(r),
            // Whatever the peer sends, only requests keep the connection open.
            Poll::Pending => loop {
                if this.expiry.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                match this.conn.expiry(Instant::now()) {
                    Ok(at) => this.expiry.as_mut().reset(at),
                    Err(reason) => return Poll::Ready(Err(this.close(reason))),
                }
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
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.written(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.written(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.written(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for TrackedIo {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo(self.conn.clone())
    }
}

/// Accepted connections: Nagle's algorithm off (a small response must not wait for the
/// client's delayed ACK), admitted by the listener's bounds (the others closed at once),
/// closed by the module doc's rules. Accept errors (such as running out of descriptors)
/// are logged, counted and retried after a pause; they never end the server.
pub(crate) fn incoming(
    listener: TcpListener,
    admission: Arc<Listener>,
) -> impl Stream<Item = io::Result<TrackedIo>> {
    TcpListenerStream::new(listener).filter_map(move |accepted| {
        let admission = admission.clone();
        async move {
            let stream = match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    admission.refused.with_label_values(&["accept_error"]).inc();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return None;
                }
            };
            let peer = stream
                .peer_addr()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
            let conn = match admission.admit(peer) {
                Ok(conn) => conn,
                Err(reason) => {
                    tracing::debug!(%peer, reason, "connection refused at accept");
                    return None;
                }
            };
            let _ = stream.set_nodelay(true);
            let first = Instant::now() + admission.bounds.first_request;
            Some(Ok(TrackedIo {
                inner: stream,
                conn,
                expiry: Box::pin(tokio::time::sleep_until(first)),
                write_deadline: Box::pin(tokio::time::sleep_until(first)),
                write_blocked: false,
            }))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(bounds: Bounds) -> Arc<Listener> {
        let m = Metrics::new();
        Listener::grpc(&m, bounds)
    }

    fn bounds() -> Bounds {
        Bounds {
            max: 6,
            max_unauthenticated: 4,
            max_per_peer: 3,
            max_unauthenticated_per_peer: 2,
            first_request: Duration::from_secs(1),
            idle: Duration::from_secs(5),
            write: Duration::from_secs(1),
        }
    }

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    const C: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));

    #[test]
    fn unauthenticated_connections_are_bounded_per_peer_and_in_all() {
        let l = listener(bounds());
        let a1 = l.admit(A).unwrap();
        let _a2 = l.admit(A).unwrap();
        assert_eq!(l.admit(A).err(), Some("peer_unauthenticated_limit"));
        // Once one authenticates, the peer may open another (up to its total).
        a1.authenticated();
        let _a3 = l.admit(A).unwrap();
        assert_eq!(l.admit(A).err(), Some("peer_limit"));
        let _b1 = l.admit(B).unwrap();
        let b2 = l.admit(B).unwrap();
        // Four unauthenticated in all: a third address is refused until one goes.
        assert_eq!(l.admit(C).err(), Some("unauthenticated_limit"));
        b2.release();
        let _c1 = l.admit(C).unwrap();
        let refused = |r: &str| l.refused.with_label_values(&[r]).get();
        assert_eq!(refused("peer_unauthenticated_limit"), 1);
        assert_eq!(refused("unauthenticated_limit"), 1);
        assert_eq!(l.open.get(), 5);
        drop(a1);
    }

    #[test]
    fn released_twice_counts_once_and_a_peer_with_nothing_is_forgotten() {
        let l = listener(bounds());
        let a = l.admit(A).unwrap();
        a.authenticated();
        a.release();
        a.release();
        a.authenticated();
        let c = l.counts.lock();
        assert_eq!((c.open, c.unauthenticated, c.peers.len()), (0, 0, 0));
    }

    #[test]
    fn only_requests_keep_a_connection_open() {
        let l = listener(bounds());
        let c = l.admit(A).unwrap();
        let t0 = c.started;
        let s = Duration::from_secs;
        // No request yet: the first request's bound, whatever the peer sends.
        assert!(c.expiry(t0).unwrap() <= t0 + s(1));
        assert_eq!(c.expiry(t0 + s(2)), Err("no_request"));
        // In progress: never expires, however long.
        let r = c.request();
        let later = t0 + s(600);
        assert_eq!(c.expiry(later), Ok(later + s(5)));
        // Ended: the idle bound from its end.
        drop(r);
        assert!(c.expiry(t0 + s(4)).is_ok());
        assert_eq!(c.expiry(t0 + s(60)), Err("idle"));
    }
}
