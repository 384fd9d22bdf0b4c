//! Wiring: opens the store, rebuilds the write state and the projection from the log,
//! starts the committer, and serves gRPC and HTTP on listeners handed in by the caller
//! (the library never binds sockets itself, so tests pass `127.0.0.1:0` listeners).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{CatalogApi, IngestApi, PictureApi};
use crate::auth::{Auth, Principal};
use crate::domain::event::verify_chain;
use crate::domain::{Catalog, Event, ZERO_HASH};
use crate::limits;
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::proto;
use crate::store::{EventLog, StoreError};
use crate::write::{now_micros, Committer, WriteRequest, Writer, WriterState};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    // The store's error follows as the source (`{:#}` prints the chain).
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error(
        "the log is broken at {0}: the events before it are intact. Refusing to serve a broken \
         chain: `tilannekuva export --data-dir DIR` saves the intact events (and `verify` \
         says more) before you restore from a backup or import them into an empty directory"
    )]
    Chain(crate::domain::event::ChainError),
    #[error("loading the demo data failed: {0}")]
    Demo(String),
    #[error("serving failed: {0}")]
    Serve(String),
}

/// The running core: store, projection, writer and metrics.
pub struct Core {
    pub log: Arc<EventLog>,
    pub projection: Arc<RwLock<Projection>>,
    pub applied: watch::Receiver<u64>,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
    committer: Option<std::thread::JoinHandle<()>>,
}

/// Where and why a log does not fold: `at` is the first bad sequence; events `1..at` are
/// intact.
#[derive(Debug, thiserror::Error)]
#[error("the log is broken at sequence {at}: {cause}")]
pub struct FoldError {
    pub at: u64,
    pub cause: FoldCause,
}

/// What is wrong at [`FoldError::at`].
#[derive(Debug, thiserror::Error)]
pub enum FoldCause {
    /// A sequence gap or a hash that does not recompute or link.
    #[error("{}", .0.reason)]
    Chain(crate::domain::event::ChainError),
    /// A chunk that cannot be read or decoded.
    #[error("{0}")]
    Store(StoreError),
}

/// Hands every event of the log to `f` in order, each after its place in the chain is
/// verified (so that a failure names the first bad sequence; the events before it were
/// all handed over). `f` may stop the walk early (`Break`). The one driver of every fold
/// of a whole log: start-up, `verify` and `export --data-dir`.
pub fn replay(
    log: &EventLog,
    f: impl FnMut(&Event) -> std::ops::ControlFlow<()>,
) -> Result<(), FoldError> {
    replay_after(log, (0, ZERO_HASH), f)
}

/// [`replay`] of the events after `after` (a sequence and its event's hash, which the next
/// event must link to).
pub fn replay_after(
    log: &EventLog,
    after: (u64, crate::domain::Hash),
    mut f: impl FnMut(&Event) -> std::ops::ControlFlow<()>,
) -> Result<(), FoldError> {
    let (mut last_seq, mut last_hash) = after;
    let mut broken = None;
    let scanned = log.for_each_chunk_from(last_seq + 1, |chunk| {
        use std::ops::ControlFlow::{Break, Continue};
        for e in chunk.iter().filter(|e| e.sequence > after.0) {
            if let Err(err) = verify_chain(last_seq, last_hash, std::slice::from_ref(e)) {
                broken = Some(err);
                return Break(());
            }
            last_seq = e.sequence;
            last_hash = e.hash;
            if f(e).is_break() {
                return Break(());
            }
        }
        Continue(())
    });
    let at = last_seq + 1;
    // An earlier chain break wins over a later unreadable chunk.
    if let Some(err) = broken {
        return Err(FoldError {
            at,
            cause: FoldCause::Chain(err),
        });
    }
    scanned.map_err(|e| FoldError {
        at,
        cause: FoldCause::Store(e),
    })
}

/// The write state and projection folded from a whole log (see [`replay`]). Used at start
/// and by `verify`.
pub fn rebuild(log: &EventLog) -> Result<(WriterState, Projection), FoldError> {
    fold_after(
        log,
        (0, ZERO_HASH),
        WriterState::default(),
        Projection::new(),
    )
}

/// `state` and `projection` (both as of `after`) with the log after `after` folded in.
fn fold_after(
    log: &EventLog,
    after: (u64, crate::domain::Hash),
    mut state: WriterState,
    mut projection: Projection,
) -> Result<(WriterState, Projection), FoldError> {
    replay_after(log, after, |e| {
        state.apply(e);
        projection.apply(e);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok((state, projection))
}

/// Events between snapshots unless the command line says otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 1_000_000;

/// What a start restores: the write state, the projection and, when they came from a
/// snapshot, its sequence and hash.
type Restored = (WriterState, Projection, Option<(u64, crate::domain::Hash)>);

/// The write state and projection at start: from the data directory's snapshot and the log
/// after it when the snapshot can be used (then also its sequence and hash, which the chain
/// before it must reach), else from the whole log.
fn restore(data_dir: &Path, log: &EventLog) -> Result<Restored, StartError> {
    let fold_error = |e: FoldError| match e.cause {
        FoldCause::Chain(c) => StartError::Chain(c),
        FoldCause::Store(s) => StartError::Store(s),
    };
    match crate::snapshot::read(data_dir, log) {
        Ok(Some(s)) => {
            let (state, projection) =
                fold_after(log, (s.sequence, s.head), s.state, s.projection).map_err(fold_error)?;
            tracing::info!(
                snapshot = s.sequence,
                replayed = state.last_sequence() - s.sequence,
                "started from the snapshot and the log after it"
            );
            return Ok((state, projection, Some((s.sequence, s.head))));
        }
        Ok(None) => {}
        Err(why) => tracing::warn!(
            "the snapshot in {} is ignored: {why}; replaying the whole log",
            data_dir.display()
        ),
    }
    let (state, projection) = rebuild(log).map_err(fold_error)?;
    Ok((state, projection, None))
}

impl Core {
    /// Opens the store in `data_dir`, rebuilds from the log, and puts `catalog` into the
    /// log when the log is empty.
    pub fn open(data_dir: &Path, catalog: &Catalog) -> Result<Core, StartError> {
        Core::open_as(data_dir, Some(catalog), None, DEFAULT_SNAPSHOT_EVERY)
    }

    /// Opens the store in `data_dir` and rebuilds from the log. `bootstrap`: the catalog to
    /// put into an empty log (a replica takes its catalog from the writer's stream).
    /// `read_only`: why client writes are refused, on a read replica. `snapshot_every`:
    /// events between snapshots (0: none).
    pub fn open_as(
        data_dir: &Path,
        bootstrap: Option<&Catalog>,
        read_only: Option<String>,
        snapshot_every: u64,
    ) -> Result<Core, StartError> {
        let log = Arc::new(EventLog::open(data_dir)?);
        let started = std::time::Instant::now();
        let (mut state, mut projection, from_snapshot) = restore(data_dir, &log)?;
        state.set_read_only(read_only);
        if let (0, Some(catalog)) = (state.last_sequence(), bootstrap) {
            let events = state.bootstrap(catalog, now_micros());
            log.append(&events)?;
            for e in &events {
                projection.apply(e);
            }
            tracing::info!(events = events.len(), "catalog written to the empty log");
        }
        let metrics = Arc::new(Metrics::new());
        let last = state.last_sequence();
        metrics.log_sequence.set(last as i64);
        metrics.projection_sequence.set(projection.applied() as i64);
        metrics.store_size.set(log.size_on_disk() as i64);
        tracing::info!(
            sequence = last,
            head = %hex::encode(state.head_hash()),
            snapshot = from_snapshot.map(|(s, _)| s),
            seconds = started.elapsed().as_secs_f64(),
            "state restored"
        );
        let projection = Arc::new(RwLock::new(projection));
        let (applied_tx, applied) = watch::channel(last);
        let (writer, handle) = Committer {
            state,
            log: log.clone(),
            projection: projection.clone(),
            applied: applied_tx,
            metrics: metrics.clone(),
            snapshots: (snapshot_every > 0).then(|| crate::write::Snapshots {
                dir: data_dir.to_owned(),
                every: snapshot_every,
                // A server without a (current) snapshot takes one at its first chance.
                last: from_snapshot.map(|(s, _)| s).unwrap_or(0),
            }),
        }
        .spawn();
        match from_snapshot {
            // The chain before the snapshot is verified in the background.
            Some((sequence, head)) => {
                let (log, refusal, metrics) = (log.clone(), writer.refusal(), metrics.clone());
                std::thread::Builder::new()
                    .name("verify-chain".into())
                    .spawn(move || {
                        let started = std::time::Instant::now();
                        match crate::snapshot::verify_before(&log, sequence, head) {
                            Ok(()) => {
                                metrics.chain_verified.set(1);
                                tracing::info!(
                                    sequence,
                                    seconds = started.elapsed().as_secs_f64(),
                                    "the chain before the snapshot is verified"
                                );
                            }
                            Err(why) => {
                                metrics.chain_verification_failures.inc();
                                let why = format!(
                                    "the log's chain is broken before the snapshot this server \
                                     started from ({why}); writes are refused. Stop the server \
                                     and run `tilannekuva verify`"
                                );
                                tracing::error!("{why}");
                                refusal.refuse(why);
                            }
                        }
                    })
                    .map_err(|e| StartError::Serve(format!("cannot start a thread: {e}")))?;
            }
            None => metrics.chain_verified.set(1),
        }
        let core = Core {
            log,
            projection,
            applied,
            writer,
            metrics,
            committer: Some(handle),
        };
        Ok(core)
    }

    /// Loads the bundled demo data, unless the log already holds observations.
    pub async fn load_demo(&self) -> Result<usize, StartError> {
        let has_cells = self.projection.read().years().next().is_some();
        if has_cells {
            tracing::info!("the store already holds observations; demo data not loaded");
            return Ok(0);
        }
        let requests = crate::demo::requests().map_err(StartError::Demo)?;
        let n = requests.len();
        let loader = Arc::new(Principal::system("demo-loader"));
        // In order: later releases revise earlier ones.
        for req in requests {
            let id = match &req {
                WriteRequest::Submit(s) => s.submission_id.clone(),
                _ => String::new(),
            };
            self.writer
                .write(req, loader.clone())
                .await
                .map_err(|e| StartError::Demo(format!("{id}: {e:?}")))?;
        }
        tracing::info!(submissions = n, "demo data loaded");
        Ok(n)
    }

    /// Stops the writer and waits for its thread (the store flushes on drop).
    pub fn shutdown(mut self) {
        let handle = self.committer.take();
        drop(self);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

#[derive(Clone)]
struct HttpState {
    metrics: Arc<Metrics>,
    writer: Writer,
    projection: Arc<RwLock<Projection>>,
    log: Arc<EventLog>,
    situation: Arc<crate::metrics::SituationCache>,
    /// When the last scrape was answered; scrapes queue on it in turn (see
    /// [`limits::MIN_SCRAPE_INTERVAL`]).
    last_scrape: Arc<tokio::sync::Mutex<tokio::time::Instant>>,
}

async fn metrics_handler(
    State(s): State<HttpState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    // Scrapes take turns, one per MIN_SCRAPE_INTERVAL, in arrival order; a waiting scrape
    // costs nothing, and one whose client gives up leaves the queue taking no turn.
    let Ok(mut last) =
        tokio::time::timeout(limits::MAX_SCRAPE_WAIT, s.last_scrape.clone().lock_owned()).await
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "too many scrapes waiting; retry\n",
        )
            .into_response();
    };
    tokio::time::sleep_until(*last + limits::MIN_SCRAPE_INTERVAL).await;
    *last = tokio::time::Instant::now();
    drop(last);
    s.metrics.store_size.set(s.log.size_on_disk() as i64);
    // Rendered from a snapshot that holds the projection's lock one indicator-year at a time (see
    // `metrics::situation_snapshot`), so a scrape does not hold up commits.
    let situation = s.situation.current(&s.projection).await;
    let service = s.metrics.render_service();
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // Two chunks: the shared situation text (compressed once per render) is sent as it
    // is, not copied per scrape. The length is known, so the answer is not chunked.
    let (service, situation) = if gzip {
        (crate::metrics::gzip(service.as_bytes()), situation.gzip)
    } else {
        (bytes::Bytes::from(service), situation.plain)
    };
    let length = service.len() + situation.len();
    let chunks = [service, situation].map(Ok::<_, std::convert::Infallible>);
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        axum::body::Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response();
    if gzip {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("gzip"),
        );
    }
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<HttpState>) -> axum::response::Response {
    if s.log.is_poisoned() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "store poisoned: writes refused\n",
        )
            .into_response()
    } else if let Some(why) = s.writer.refused() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("writes refused: {why}\n"),
        )
            .into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

/// The HTTP router: `/metrics`, `/healthz`, `/readyz` (the open-data endpoints are merged
/// in by [`run`]).
fn http_router(core: &Core) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(HttpState {
            metrics: core.metrics.clone(),
            writer: core.writer.clone(),
            projection: core.projection.clone(),
            log: core.log.clone(),
            situation: Arc::default(),
            last_scrape: Arc::new(tokio::sync::Mutex::new(
                tokio::time::Instant::now() - limits::MIN_SCRAPE_INTERVAL,
            )),
        })
}

/// A certificate chain and its private key (PEM).
pub struct TlsFiles {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// The HTTP listener's TLS acceptor for `files`.
fn http_tls(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: String| StartError::Serve(format!("TLS for the HTTP port: {e}"));
    let certs = CertificateDer::pem_slice_iter(&files.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("the certificate: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(&files.key).map_err(|e| bad(format!("the key: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| bad(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// How the server runs, beyond the core.
pub struct ServeOptions {
    pub auth: Arc<Auth>,
    /// TLS (rustls) when a certificate is configured: on the gRPC port and the HTTP port
    /// alike, so that a bearer token sent for the open data is never in clear text where
    /// the gRPC port would protect it.
    pub tls: Option<TlsFiles>,
    /// See [`limits::IDLE_TIMEOUT`]; tests shorten it.
    pub idle_timeout: std::time::Duration,
    /// See [`limits::HTTP_IDLE_TIMEOUT`] and [`limits::HTTP_HEADER_TIMEOUT`]; tests
    /// shorten them.
    pub http_idle_timeout: std::time::Duration,
    pub http_header_timeout: std::time::Duration,
    /// Where `AdminService.Promote` asks a replica to take over, and the stream's name
    /// (`None` on a server that follows no stream).
    pub promote: Option<(
        tokio::sync::mpsc::Sender<crate::replication::failover::PromoteRequest>,
        String,
    )>,
}

impl ServeOptions {
    /// No auth file, no TLS, default limits.
    pub fn plain(core: &Core) -> ServeOptions {
        ServeOptions {
            auth: Arc::new(Auth::disabled(core.metrics.auth_refusals.clone())),
            tls: None,
            idle_timeout: limits::IDLE_TIMEOUT,
            http_idle_timeout: limits::HTTP_IDLE_TIMEOUT,
            http_header_timeout: limits::HTTP_HEADER_TIMEOUT,
            promote: None,
        }
    }
}

/// Serves gRPC on `grpc` and HTTP on `http` until `shutdown` completes.
pub async fn run(
    core: &Core,
    options: ServeOptions,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let ServeOptions {
        auth,
        tls,
        idle_timeout,
        http_idle_timeout,
        http_header_timeout,
        promote,
    } = options;
    let streams = Arc::new(tokio::sync::Semaphore::new(limits::MAX_OPEN_STREAMS));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let ingest = IngestApi {
        auth: auth.clone(),
        streams: streams.clone(),
        writer: core.writer.clone(),
        metrics: core.metrics.clone(),
        shutdown: stop_rx.clone(),
    };
    let picture = PictureApi {
        auth: auth.clone(),
        streams: streams.clone(),
        projection: core.projection.clone(),
        applied: core.applied.clone(),
        log: core.log.clone(),
        metrics: core.metrics.clone(),
        shutdown: stop_rx.clone(),
    };
    let catalog = CatalogApi {
        projection: core.projection.clone(),
        ingest: ingest.clone(),
    };
    // Requests in progress, gRPC and open data together.
    let slots = Arc::new(tokio::sync::Semaphore::new(limits::MAX_REQUESTS));
    let rounds = crate::api::RoundApi {
        pictures: picture.clone(),
        ingest: ingest.clone(),
    };
    let open_data = crate::opendata::OpenData {
        auth: auth.clone(),
        pictures: picture.clone(),
        slots: slots.clone(),
        metrics: core.metrics.clone(),
    };
    let admin = crate::api::AdminApi {
        stream: promote.as_ref().map(|(_, s)| s.clone()).unwrap_or_default(),
        promote: promote.map(|(tx, _)| tx),
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<proto::ingest_service_server::IngestServiceServer<IngestApi>>()
        .await;
    health
        .set_serving::<proto::picture_service_server::PictureServiceServer<PictureApi>>()
        .await;
    health
        .set_serving::<proto::catalog_service_server::CatalogServiceServer<CatalogApi>>()
        .await;
    health
        .set_serving::<proto::round_service_server::RoundServiceServer<crate::api::RoundApi>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| StartError::Serve(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| StartError::Serve(e.to_string()))?;

    let mut builder = tonic::transport::Server::builder();
    let http_tls = tls.as_ref().map(http_tls).transpose()?;
    if let Some(files) = tls {
        let tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(files.cert, files.key));
        builder = builder
            .tls_config(tls)
            .map_err(|e| StartError::Serve(format!("TLS: {e}")))?;
    }
    let grpc_server = builder
        // Requests in progress per connection are bounded by its HTTP/2 streams; over all
        // connections by the gate, which authenticates first: tonic's own per-connection
        // limit and load shedding would take a slot before any token is checked.
        .max_concurrent_streams(limits::MAX_STREAMS_PER_CONNECTION)
        // The gate refuses (and counts) metadata over MAX_GRPC_METADATA_BYTES; HTTP/2's
        // own, larger bound only stops what would not fit in memory.
        .http2_max_header_list_size(limits::MAX_HTTP2_HEADER_LIST_BYTES)
        // The gate answers (and counts) a handler's timeout at REQUEST_TIMEOUT; tonic's own
        // timeout, a little later, stays as a backstop and applies a client's grpc-timeout.
        .timeout(limits::REQUEST_TIMEOUT + std::time::Duration::from_secs(5))
        .http2_keepalive_interval(Some(limits::KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(limits::KEEPALIVE_TIMEOUT))
        .layer(crate::api::gate::GateLayer::new(
            auth.clone(),
            core.metrics.clone(),
            slots,
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            proto::ingest_service_server::IngestServiceServer::new(ingest)
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::picture_service_server::PictureServiceServer::new(picture)
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
        .add_service(proto::admin_service_server::AdminServiceServer::new(admin))
        .add_service(
            proto::catalog_service_server::CatalogServiceServer::new(catalog)
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::round_service_server::RoundServiceServer::new(rounds)
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(
            limits::incoming(
                grpc,
                limits::ConnectionLimits::grpc(&core.metrics, idle_timeout),
            ),
            stopped(stop_rx.clone()),
        );
    let http_server = serve_http(
        http,
        http_router(core).merge(crate::opendata::router(open_data)),
        limits::ConnectionLimits::http(&core.metrics, http_idle_timeout),
        http_header_timeout,
        http_tls,
        stopped(stop_rx.clone()),
    );
    tracing::info!("serving");
    let (g, ()) = tokio::join!(grpc_server, http_server);
    g.map_err(|e| StartError::Serve(e.to_string()))?;
    Ok(())
}

/// Serves the HTTP router (HTTP/1.1, over TLS with `tls`) on `listener` until `stop`:
/// connections bounded and
/// closed when idle (`limits`), request heads bounded in time and size
/// ([`limits::HTTP_HEADER_TIMEOUT`], [`limits::MAX_HTTP_HEADER_BYTES`]: 431 beyond). At
/// `stop` it accepts no more and gives open requests a few seconds to finish.
async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: limits::ConnectionLimits,
    header_timeout: std::time::Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl Future<Output = ()>,
) {
    use futures::StreamExt;
    let incoming = limits::incoming(listener, limits);
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
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
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
