//! The HTTP listener: `/metrics` for Prometheus, `/healthz` and `/readyz` for probes, the
//! open data (`/v1/…`, `/openapi.json`) and the web page (`/`, `/ui/…`).
//!
//! - [`serve`]: the connection loop (HTTP/1.1, over TLS when configured) and its limits.
//! - `health`: the probes; `scrape`: `/metrics`; [`tls`]: the acceptor.
//! - [`opendata`]: the picture as JSON-stat and CSV, a thin adapter over [`crate::read`],
//!   and the upload of a submission file.
//! - `web`: the web page at `/` (for a browser) and its files under `/ui/`.

mod health;
pub(crate) mod opendata;
mod scrape;
pub(crate) mod tls;
mod web;

use std::future::Future;
use std::sync::Arc;

use axum::routing::get;
use parking_lot::RwLock;
use tokio::net::TcpListener;

pub(crate) use tls::TlsFiles;

use crate::limits;
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::store::EventLog;
use crate::write::Writer;

/// What the probes and `/metrics` read.
#[derive(Clone)]
pub(crate) struct HttpState {
    /// `/metrics` carries the figures: it needs a token like every read when an auth file
    /// is configured.
    auth: Arc<crate::auth::Auth>,
    metrics: Arc<Metrics>,
    writer: Writer,
    projection: Arc<RwLock<Projection>>,
    log: Arc<EventLog>,
    situation: Arc<crate::metrics::SituationCache>,
    /// When the last scrape was answered; scrapes queue on it in turn (see
    /// [`limits::MIN_SCRAPE_INTERVAL`]).
    last_scrape: Arc<tokio::sync::Mutex<tokio::time::Instant>>,
}

impl HttpState {
    pub(crate) fn new(
        auth: Arc<crate::auth::Auth>,
        metrics: Arc<Metrics>,
        writer: Writer,
        projection: Arc<RwLock<Projection>>,
        log: Arc<EventLog>,
    ) -> HttpState {
        HttpState {
            auth,
            metrics,
            writer,
            projection,
            log,
            situation: Arc::default(),
            last_scrape: Arc::new(tokio::sync::Mutex::new(
                tokio::time::Instant::now() - limits::MIN_SCRAPE_INTERVAL,
            )),
        }
    }
}

/// Every route of the HTTP port.
pub(crate) fn router(state: HttpState, open_data: opendata::OpenData) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(scrape::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/ui/{name}", axum::routing::any(web::asset))
        .with_state(state)
        .merge(opendata::router(open_data))
}

/// Serves `router` (HTTP/1.1, over TLS with `tls`) on `listener` until `stop`: connections
/// admitted and closed by `crate::connection`'s rules, request heads bounded in time and size
/// ([`limits::HTTP_HEADER_TIMEOUT`], [`limits::MAX_HTTP_HEADER_BYTES`]: 431 beyond). At
/// `stop` it accepts no more and gives open requests a few seconds to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    listener_bounds: Arc<crate::connection::Listener>,
    header_timeout: std::time::Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl Future<Output = ()>,
) {
    use futures::StreamExt;
    let incoming = crate::connection::incoming(listener, listener_bounds);
    tokio::pin!(incoming);
    tokio::pin!(stop);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let io = tokio::select! {
            io = incoming.next() => io,
            () = &mut stop => break,
        };
        // The stream yields only accepted connections, and ends only with the listener.
        let Some(Ok(io)) = io else { break };
        // Every request carries its connection (for the open data's accounting) and keeps
        // it from being idle while in progress.
        let conn = io.conn().clone();
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                let in_flight = conn.request();
                req.extensions_mut()
                    .insert(crate::connection::ConnInfo(conn.clone()));
                let mut router = router.clone();
                async move {
                    let response = tower::Service::call(&mut router, req).await;
                    drop(in_flight);
                    response
                }
            },
        );
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(limits::MAX_HTTP_HEADER_BYTES);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A connection's end (a timeout, a closed peer, a bad request or handshake) is
            // its own. The TLS handshake has the request head's time bound.
            match tls {
                None => {
                    let connection =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
                    let _ = watcher.watch(connection).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(io)) =
                        tokio::time::timeout(header_timeout, acceptor.accept(io)).await
                    else {
                        return;
                    };
                    let connection =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
                    let _ = watcher.watch(connection).await;
                }
            }
        });
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
}
