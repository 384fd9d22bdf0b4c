//! The service's bounds, each with its reason: connections (enforced in
//! `crate::connection`), requests and streams in progress (`crate::shares`, taken in
//! `api::gate`), the HTTP port's, and the sizes of the catalog that drive the `/metrics`
//! exposition.
//!
//! Every bound turns excess into a clear answer (`RESOURCE_EXHAUSTED`, a closed
//! connection, a refused definition) instead of an unbounded queue. Request-level bounds
//! (observations per submission, string lengths) live in `domain::validate`.

use std::time::Duration;

/// Largest gRPC message either way. The largest valid submission (10,000 observations with
/// 1 KiB sources and notes) encodes to about 3.5 MB; anything larger is refused while
/// being read, before it costs memory.
pub(crate) const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS), and so
/// its requests in progress: a client needs a few dozen; 256 lets a bulk loader pipeline
/// without letting one connection hold thousands of requests.
pub(crate) const MAX_STREAMS_PER_CONNECTION: u32 = 256;
/// Read requests in progress over all connections (gRPC reads and the open data), taken by
/// authenticated requests only (see `api::gate`); beyond it `RESOURCE_EXHAUSTED` at once.
/// Reads take ~1 ms of CPU each on two cores, so 768 in progress is already seconds of
/// work.
pub(crate) const MAX_READ_REQUESTS: usize = 768;
/// Write requests in progress (submissions, retractions, definitions, rounds), in a pool
/// of their own that reads cannot take: a flood of slow or waiting reads never refuses a
/// council's `Submit`. The writer queues 8,192 writes; a bulk loader keeps a few dozen in
/// flight.
pub(crate) const MAX_WRITE_REQUESTS: usize = 256;
/// Read or write requests one caller (a token's name; without an auth file, a peer
/// address) may have in progress: a dashboard or a bulk loader needs tens; a quarter of
/// the pool leaves three quarters to everyone else whatever one caller does.
pub(crate) const MAX_READS_PER_CALLER: usize = 192;
pub(crate) const MAX_WRITES_PER_CALLER: usize = 64;
/// Open streaming calls (`ReadEvents`, `SubmitStream`) over all connections: each holds a
/// task and buffers; followers and bulk loaders are few.
pub const MAX_OPEN_STREAMS: usize = 128;
/// Open streams of one caller: a replica follows with one, a bulk loader streams with a
/// few; 16 leaves 112 to the others whatever one caller leaves unread.
pub const MAX_STREAMS_PER_CALLER: usize = 16;
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
/// Connections the kernel queues for each listener until the server accepts them (the
/// kernel caps it at `net.core.somaxconn`, 4,096 by default): beyond it a client's SYN is
/// dropped and it waits a second to retry, so a flood of connects — each accepted and, past
/// the bounds below, closed in microseconds — would make a probe from elsewhere wait behind
/// it; 4,096 absorbs such a burst.
pub(crate) const LISTEN_BACKLOG: u32 = 4096;
/// Open gRPC connections; more are closed at once. Every connection costs a file
/// descriptor and a task; 4,096 is far beyond 19 regional councils, ministries and
/// dashboards, and well inside the descriptor limit the server raises at start.
pub(crate) const MAX_CONNECTIONS: usize = 4096;
/// gRPC connections no request of which has authenticated yet (a new connection, a probe's
/// health check): a quarter of the slots, so that connections nobody has shown a token on
/// cannot take the slots of those that have.
pub(crate) const MAX_UNAUTHENTICATED_CONNECTIONS: usize = 1024;
/// Unauthenticated gRPC connections from one peer address: a client opens a few and
/// authenticates at once; 128 is room for a loader with many channels behind one address,
/// while a flood from one address leaves the other 896 to everyone else.
pub(crate) const MAX_UNAUTHENTICATED_CONNECTIONS_PER_PEER: usize = 128;
/// gRPC connections from one peer address, authenticated or not: a NAT gateway in front of
/// a ministry's dashboards is one address; a quarter of the slots.
pub(crate) const MAX_CONNECTIONS_PER_PEER: usize = 1024;
/// A new connection must start a request within this: a real client sends its first call
/// at once. Pings, SETTINGS and other frames do not count, so a peer that only answers the
/// server's keepalive pings is closed too.
pub(crate) const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request in progress and none started for this long is closed;
/// pings and other frames do not count. A channel reconnects on its next call.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// A connection whose peer does not read what it asked for (the socket's send buffer
/// stays full) for this long is closed: a live client reads continuously, and HTTP/2's
/// flow control stops a slow stream without blocking the socket.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
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
/// HTTP connections none of whose requests has shown a valid token (probes, the public
/// OpenAPI document): half the slots, the other half kept for callers with a token.
pub(crate) const MAX_HTTP_UNAUTHENTICATED_CONNECTIONS: usize = 128;
/// HTTP connections from one peer address (and, of them, unauthenticated): a scraper and a
/// probe hold one or two each, a script a few; a flood from one address leaves the others
/// and the probes room.
pub(crate) const MAX_HTTP_CONNECTIONS_PER_PEER: usize = 64;
pub(crate) const MAX_HTTP_UNAUTHENTICATED_CONNECTIONS_PER_PEER: usize = 32;
/// An HTTP connection with no request in progress and none started for this long is
/// closed: a scraper reconnects or keeps its connection busy well within it.
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

/// Most indicators in a catalog: every scrape and every year's picture covers each (and
/// the projection's cell keys number them in 20 bits). The national set is about a hundred;
/// a thousand leaves room for every council's own.
pub(crate) const MAX_INDICATORS: usize = 1000;
/// Most peer groups in a catalog: every picture computes every group's figures, and the
/// gauges carry them.
pub(crate) const MAX_GROUPS: usize = 64;
/// The years of each indicator in the `/metrics` exposition: its latest 30 years with
/// figures, a generation of regional development (dashboards show trends of ten or
/// twenty years). Older years, and targets further out, are read through the APIs.
pub(crate) const MAX_SITUATION_YEARS: usize = 30;
/// The reporting rounds in the exposition: the latest ten (a round is a year's; older
/// rounds are closed history, read with `GetRoundStatus`).
pub(crate) const MAX_SITUATION_ROUNDS: usize = 10;
/// The situation series one exposition carries at most: with the bounds above, 1,000
/// indicators over 19 regions cannot exceed it by much, while a scrape stays a few tens
/// of megabytes at most. Beyond it the oldest years are left out, and the exposition
/// says how many (`tilannekuva_situation_years_left_out`).
pub(crate) const MAX_SITUATION_SERIES: usize = 250_000;
/// The targets in the exposition (of the whole country and the regions; municipalities'
/// are read with `GetTargets`), each up to eight series: a programme period sets tens to
/// hundreds, so 1,000 leaves room while no flood of targets can swell every scrape. Beyond
/// it the targets of the earliest years are left out, and counted
/// (`tilannekuva_situation_targets_left_out`).
pub(crate) const MAX_SITUATION_TARGETS: usize = 1000;
