//! Wiring: opens the store, recovers the write state and the projection
//! ([`crate::recovery`]), starts the committer, and serves gRPC ([`crate::api`]) and HTTP
//! ([`crate::http`]) on listeners handed in by the caller (the library never binds sockets
//! itself, so tests pass `127.0.0.1:0` listeners) until shutdown.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{AdminApi, CatalogApi, IngestApi, PictureApi, RoundApi, Streams, Writes};
use crate::auth::{Auth, Principal};
use crate::connection;
use crate::domain::Catalog;
use crate::http::TlsFiles;
use crate::limits;
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::proto;
use crate::read::Reader;
use crate::recovery::{FoldCause, FoldError, Recovered};
use crate::store::{EventLog, StoreError};
use crate::write::{Committer, WriteRequest, Writer};

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
    pub(crate) log: Arc<EventLog>,
    pub(crate) projection: Arc<RwLock<Projection>>,
    pub(crate) applied: watch::Receiver<u64>,
    pub(crate) writer: Writer,
    pub metrics: Arc<Metrics>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl From<FoldError> for StartError {
    fn from(e: FoldError) -> StartError {
        match e.cause {
            FoldCause::Chain(c) => StartError::Chain(c),
            FoldCause::Store(s) => StartError::Store(s),
        }
    }
}

impl Core {
    /// Opens the store in `data_dir`, rebuilds from the log, and puts `catalog` into the
    /// log when the log is empty.
    pub fn open(data_dir: &Path, catalog: &Catalog) -> Result<Core, StartError> {
        Core::open_as(
            data_dir,
            Some(catalog),
            None,
            crate::snapshot::DEFAULT_EVERY,
        )
    }

    /// Opens the store in `data_dir` and rebuilds from the log. `bootstrap`: the catalog to
    /// put into an empty log (a replica takes its catalog from the writer's stream).
    /// `read_only`: why client writes are refused, on a read replica. `snapshot_every`:
    /// events between snapshots (0: none).
    pub(crate) fn open_as(
        data_dir: &Path,
        bootstrap: Option<&Catalog>,
        read_only: Option<String>,
        snapshot_every: u64,
    ) -> Result<Core, StartError> {
        let log = Arc::new(EventLog::open(data_dir)?);
        let started = std::time::Instant::now();
        let Recovered {
            mut state,
            projection,
            snapshot,
        } = crate::recovery::recover(data_dir, &log, bootstrap)?;
        state.set_read_only(read_only);
        let metrics = Arc::new(Metrics::new());
        let last = state.last_sequence();
        metrics.log_sequence.set(last as i64);
        metrics.projection_sequence.set(projection.applied() as i64);
        metrics.store_size.set(log.size_on_disk() as i64);
        tracing::info!(
            sequence = last,
            head = %hex::encode(state.head_hash()),
            snapshot = snapshot.map(|(s, _)| s),
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
                last: snapshot.map(|(s, _)| s).unwrap_or(0),
            }),
        }
        .spawn();
        match snapshot {
            // The chain before the snapshot is verified in the background.
            Some(snapshot) => crate::recovery::check_chain_in_background(
                log.clone(),
                snapshot,
                writer.breaker(),
                metrics.clone(),
            )
            .map_err(|e| StartError::Serve(format!("cannot start a thread: {e}")))?,
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
        let catalog = self.projection.read().catalog();
        let batches = crate::demo::requests(&catalog).map_err(StartError::Demo)?;
        let n = batches.iter().map(Vec::len).sum();
        let loader = Arc::new(Principal::system("demo-loader"));
        // Batches in order (later releases revise earlier ones); a batch's submissions,
        // each of its own area, together, so that they share commits.
        for batch in batches {
            let writes = batch.into_iter().map(|req| {
                let id = match &req {
                    WriteRequest::Submit(s) => s.submission_id.clone(),
                    _ => String::new(),
                };
                let w = self.writer.write(req, loader.clone());
                async move {
                    w.await
                        .map_err(|e| StartError::Demo(format!("{id}: {e:?}")))
                }
            });
            for r in futures::future::join_all(writes).await {
                r?;
            }
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

/// How the server runs, beyond the core.
pub struct ServeOptions {
    pub auth: Arc<Auth>,
    /// TLS (rustls) when a certificate is configured: on the gRPC port and the HTTP port
    /// alike, so that a bearer token sent for the open data is never in clear text where
    /// the gRPC port would protect it.
    pub(crate) tls: Option<TlsFiles>,
    /// See [`limits::IDLE_TIMEOUT`]; tests shorten it (and with it the first request's
    /// bound and the keepalive interval).
    pub idle_timeout: std::time::Duration,
    /// See [`limits::HTTP_IDLE_TIMEOUT`] and [`limits::HTTP_HEADER_TIMEOUT`]; tests
    /// shorten them.
    pub http_idle_timeout: std::time::Duration,
    pub http_header_timeout: std::time::Duration,
    /// Where `AdminService.Promote` asks a replica to take over, and the stream's name
    /// (`None` on a server that follows no stream).
    pub(crate) promote: Option<(
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

/// A listener on `addr` for [`run`], with a backlog of [`limits::LISTEN_BACKLOG`]
/// connections waiting to be accepted.
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(limits::LISTEN_BACKLOG)
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
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let reader = Reader::new(
        core.projection.clone(),
        core.applied.clone(),
        core.log.clone(),
        core.metrics.clone(),
    );
    // Requests and streams in progress, by kind and caller: gRPC and open data together.
    let shares = crate::shares::Shares::new(&core.metrics);
    let writes = Writes::new(auth.clone(), core.writer.clone());
    let streams = Streams::new(auth.clone(), shares.streams.clone(), stop_rx.clone());
    let ingest = IngestApi::new(writes.clone(), streams.clone(), core.metrics.clone());
    let picture = PictureApi::new(reader.clone(), streams);
    let catalog = CatalogApi::new(reader.clone(), writes.clone());
    let rounds = RoundApi::new(reader.clone(), writes.clone());
    let open_data = crate::http::opendata::OpenData::new(
        auth.clone(),
        reader,
        (writes, &shares),
        core.metrics.clone(),
    );
    let admin = AdminApi {
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
        .set_serving::<proto::round_service_server::RoundServiceServer<RoundApi>>()
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
    let http_tls = tls
        .as_ref()
        .map(crate::http::tls::acceptor)
        .transpose()
        .map_err(|e| StartError::Serve(format!("TLS for the HTTP port: {e}")))?;
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
        // Pings find dead peers; they never keep a connection open (`crate::connection`).
        .http2_keepalive_interval(Some(limits::KEEPALIVE_INTERVAL.min(idle_timeout / 2)))
        .http2_keepalive_timeout(Some(limits::KEEPALIVE_TIMEOUT))
        .layer(crate::api::gate::GateLayer::new(
            auth.clone(),
            core.metrics.clone(),
            shares,
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
            connection::incoming(
                grpc,
                connection::Listener::grpc(&core.metrics, connection::Bounds::grpc(idle_timeout)),
            ),
            stopped(stop_rx.clone()),
        );
    let http_state = crate::http::HttpState::new(
        auth.clone(),
        core.metrics.clone(),
        core.writer.clone(),
        core.projection.clone(),
        core.log.clone(),
    );
    let http_server = crate::http::serve(
        http,
        crate::http::router(http_state, open_data),
        connection::Listener::http(
            &core.metrics,
            connection::Bounds::http(http_idle_timeout, http_header_timeout),
        ),
        http_header_timeout,
        http_tls,
        stopped(stop_rx.clone()),
    );
    tracing::info!("serving");
    let (g, ()) = tokio::join!(grpc_server, http_server);
    g.map_err(|e| StartError::Serve(e.to_string()))?;
    Ok(())
}
