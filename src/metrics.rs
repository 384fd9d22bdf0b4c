//! Metrics: the service's own counters and histograms in a registry passed in (never a
//! global), and the situation-picture gauges of docs/architecture.md, rendered at scrape time
//! from the projection so that ingest never pays for them.

use std::fmt::Write as _;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::projection::Projection;

/// `metric`, registered in `registry`: each metric is made and registered in one step, so
/// none is made and left out of the exposition. Making or registering a metric fails only
/// on an invalid name or a duplicate, both fixed here and covered by the tests.
fn add<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("a valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("a metric registered once");
    metric
}

/// The service metrics.
pub struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) events_appended: IntCounter,
    pub(crate) submissions: IntCounterVec,
    pub(crate) grpc_requests: IntCounterVec,
    pub(crate) grpc_latency: HistogramVec,
    pub(crate) log_sequence: IntGauge,
    pub(crate) projection_sequence: IntGauge,
    pub(crate) store_size: IntGauge,
    pub(crate) commit_seconds: Histogram,
    pub(crate) commit_group_events: Histogram,
    pub(crate) store_errors: IntCounter,
    /// 1 once the whole chain is verified (at start, or in the background after a start
    /// from a snapshot).
    pub(crate) chain_verified: IntGauge,
    pub(crate) chain_verification_failures: IntCounter,
    pub(crate) snapshot_sequence: IntGauge,
    pub(crate) snapshot_seconds: Histogram,
    pub(crate) build_info: IntGaugeVec,
    pub auth_refusals: IntCounterVec,
    pub(crate) auth_reloads: IntCounterVec,
    pub(crate) connections: IntGauge,
    /// gRPC connections closed at accept, by the bound that refused them.
    pub(crate) connections_refused: IntCounterVec,
    /// gRPC connections the server closed (no request, idle, a blocked write), by reason.
    pub(crate) connections_closed: IntCounterVec,
    pub(crate) http_connections: IntGauge,
    pub(crate) http_connections_refused: IntCounterVec,
    pub(crate) http_connections_closed: IntCounterVec,
    /// Requests and streams refused for want of a share (`crate::shares`), by reason.
    pub(crate) requests_refused: IntCounterVec,
    /// Open-data requests (`/`, `/v1/…`, `/openapi.json`) by endpoint and HTTP status.
    pub(crate) open_data_requests: IntCounterVec,
    pub(crate) open_data_latency: HistogramVec,
    /// `tilannekuva_role{role}`: 1 for this server's role (standalone, writer, replica).
    pub(crate) role: IntGaugeVec,
    pub(crate) nats_connected: IntGauge,
    /// The last sequence the JetStream stream has acknowledged (writer).
    pub(crate) outbox_sequence: IntGauge,
    /// Committed events the stream has not acknowledged yet (writer).
    pub(crate) outbox_lag: IntGauge,
    pub(crate) nats_errors: IntCounter,
    /// Events in the stream this replica has not applied yet.
    pub(crate) replica_lag_events: IntGauge,
    /// Seconds since this replica was last caught up with the stream (0 when it is).
    pub(crate) replica_lag_seconds: prometheus::Gauge,
    /// 1 when this writer refuses writes because the stream holds events it did not write.
    pub(crate) fenced: IntGauge,
    /// Events this server acknowledged that the stream does not hold (written to a file).
    pub(crate) divergent_events: IntGauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new();
        let m = Metrics {
            events_appended: add(&registry, IntCounter::new(
                "tilannekuva_events_appended_total",
                "Events appended to the log (durable).",
            )),
            submissions: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_submissions_total",
                    "Write requests (submit, retract, define) by outcome.",
                ),
                &["outcome"],
            )),
            grpc_requests: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_grpc_requests_total",
                    "gRPC requests by method and status code.",
                ),
                &["method", "code"],
            )),
            grpc_latency: add(&registry, HistogramVec::new(
                HistogramOpts::new(
                    "tilannekuva_grpc_request_duration_seconds",
                    "gRPC request latency by method (for streams: until the stream is set up).",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5, 5.0,
                ]),
                &["method"],
            )),
            log_sequence: add(&registry, IntGauge::new(
                "tilannekuva_log_sequence",
                "Sequence of the last durable event.",
            )),
            projection_sequence: add(&registry, IntGauge::new(
                "tilannekuva_projection_sequence",
                "Sequence of the last event applied to the projection.",
            )),
            store_size: add(&registry, IntGauge::new(
                "tilannekuva_store_size_bytes",
                "Size of the sled store on disk.",
            )),
            commit_seconds: add(&registry, Histogram::with_opts(
                HistogramOpts::new(
                    "tilannekuva_commit_duration_seconds",
                    "Time to make one commit group durable (write, flush, fdatasync).",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ]),
            )),
            commit_group_events: add(&registry, Histogram::with_opts(
                HistogramOpts::new(
                    "tilannekuva_commit_group_events",
                    "Events per commit group.",
                )
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0, 16384.0,
                    65536.0,
                ]),
            )),
            store_errors: add(&registry, IntCounter::new(
                "tilannekuva_store_errors_total",
                "Failed appends or reads of the store (each is also logged).",
            )),
            chain_verified: add(&registry, IntGauge::new(
                "tilannekuva_chain_verified",
                "1 once the log's whole hash chain is verified (after a start from a snapshot, \
                 the part before it is verified in the background), else 0.",
            )),
            chain_verification_failures: add(&registry, IntCounter::new(
                "tilannekuva_chain_verification_failures_total",
                "Broken chains found by the background verification after a start from a \
                 snapshot (writes are then refused and /readyz answers 503).",
            )),
            snapshot_sequence: add(&registry, IntGauge::new(
                "tilannekuva_snapshot_sequence",
                "Sequence of the last snapshot written (0: none since start).",
            )),
            snapshot_seconds: add(&registry, Histogram::with_opts(
                HistogramOpts::new(
                    "tilannekuva_snapshot_seconds",
                    "Time writes waited while a snapshot was taken (the state copied; writing \
                     it to disk happens aside).",
                )
                .buckets(vec![0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            )),
            build_info: add(&registry, IntGaugeVec::new(
                Opts::new(
                    "tilannekuva_build_info",
                    "Build information; the value is always 1.",
                ),
                &["version"],
            )),
            auth_refusals: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_auth_refusals_total",
                    "Requests refused by authentication or authorisation, by reason.",
                ),
                &["reason"],
            )),
            auth_reloads: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_auth_reloads_total",
                    "Reloads of the auth file (SIGHUP) by outcome; a failed reload keeps the old tokens.",
                ),
                &["outcome"],
            )),
            connections: add(&registry, IntGauge::new("tilannekuva_grpc_connections", "Open gRPC connections.")),
            http_connections: add(&registry, IntGauge::new(
                "tilannekuva_http_connections",
                "Open HTTP connections (metrics, health).",
            )),
            http_connections_refused: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_http_connections_refused_total",
                    "HTTP connections closed at once, by the bound that refused them: limit, \
                     unauthenticated_limit, peer_limit, peer_unauthenticated_limit, accept_error.",
                ),
                &["reason"],
            )),
            http_connections_closed: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_http_connections_closed_total",
                    "HTTP connections the server closed, by reason: no_request (none started in \
                     time), idle, write_timeout (the peer read nothing).",
                ),
                &["reason"],
            )),
            connections_refused: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_grpc_connections_refused_total",
                    "gRPC connections closed at once, by the bound that refused them: limit, \
                     unauthenticated_limit, peer_limit, peer_unauthenticated_limit, accept_error.",
                ),
                &["reason"],
            )),
            connections_closed: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_grpc_connections_closed_total",
                    "gRPC connections the server closed, by reason: no_request (none started in \
                     time; pings do not count), idle, write_timeout (the peer read nothing).",
                ),
                &["reason"],
            )),
            requests_refused: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_requests_refused_total",
                    "Requests and streams refused RESOURCE_EXHAUSTED (HTTP 429 on the open \
                     data) for want of a share, by reason: the pool (reads, writes, streams, \
                     health_watches) or the caller's share of it (reads_per_caller, \
                     writes_per_caller, streams_per_caller, health_watches_per_caller).",
                ),
                &["reason"],
            )),
            role: add(&registry, IntGaugeVec::new(
                Opts::new("tilannekuva_role", "This server's role: 1 for the role it has."),
                &["role"],
            )),
            nats_connected: add(&registry, IntGauge::new(
                "tilannekuva_nats_connected",
                "1 while this server's replication session with NATS JetStream is up.",
            )),
            outbox_sequence: add(&registry, IntGauge::new(
                "tilannekuva_nats_outbox_sequence",
                "The last log sequence the JetStream stream has acknowledged.",
            )),
            outbox_lag: add(&registry, IntGauge::new(
                "tilannekuva_nats_outbox_lag_events",
                "Committed events the JetStream stream has not acknowledged yet.",
            )),
            nats_errors: add(&registry, IntCounter::new(
                "tilannekuva_nats_errors_total",
                "Replication sessions with NATS JetStream that failed (retried).",
            )),
            replica_lag_events: add(&registry, IntGauge::new(
                "tilannekuva_replica_lag_events",
                "Events in the stream this replica has not applied yet.",
            )),
            replica_lag_seconds: add(&registry, prometheus::Gauge::new(
                "tilannekuva_replica_lag_seconds",
                "Seconds since this replica was last caught up with the stream (0 when it is).",
            )),
            fenced: add(&registry, IntGauge::new(
                "tilannekuva_fenced",
                "1 when this writer refuses writes: the stream holds events it did not write.",
            )),
            divergent_events: add(&registry, IntGauge::new(
                "tilannekuva_divergent_events",
                "Events this server acknowledged that the stream does not hold (see the \
                 divergent-*.ndjson file in its data directory).",
            )),
            open_data_requests: add(&registry, IntCounterVec::new(
                Opts::new(
                    "tilannekuva_open_data_requests_total",
                    "Open-data HTTP requests by endpoint and HTTP status code.",
                ),
                &["endpoint", "code"],
            )),
            open_data_latency: add(&registry, HistogramVec::new(
                HistogramOpts::new(
                    "tilannekuva_open_data_request_duration_seconds",
                    "Open-data HTTP request latency by endpoint.",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["endpoint"],
            )),
            registry,
        };
        for reason in ["unauthenticated", "permission_denied"] {
            m.auth_refusals.with_label_values(&[reason]);
        }
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
    }

    /// Marks this server's role (standalone, writer or replica).
    pub(crate) fn set_role(&self, role: &str) {
        for r in ["standalone", "writer", "replica"] {
            self.role.with_label_values(&[r]).set(i64::from(r == role));
        }
    }

    /// The service metrics' exposition (the situation gauges follow it, from
    /// [`SituationCache`]).
    pub(crate) fn render_service(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which the registry
        // never holds.
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("exposition is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// How old the situation gauges may be when a scrape reuses them although writes have come
/// since: Prometheus scrapes every 15-60 s, so five seconds are nothing to it, and it
/// bounds the rendering work (and the projection's read lock) to one render in five
/// seconds however many scrapers there are. (At one a second the render of ~70,000 series
/// took a tenth of a core from the commit path; BENCHMARKS.md.)
pub(crate) const MAX_SITUATION_AGE: std::time::Duration = std::time::Duration::from_secs(5);

/// The rendered situation gauges, shared by all scrapes: one render at a time (the others
/// wait for it and reuse it), at most one a [`MAX_SITUATION_AGE`] while writes go on.
#[derive(Default)]
pub(crate) struct SituationCache {
    cached: std::sync::Arc<tokio::sync::Mutex<Option<Rendered>>>,
}

struct Rendered {
    sequence: u64,
    at: std::time::Instant,
    /// Shared by every scrape that reuses it: sent without a copy.
    text: Situation,
}

/// The situation gauges as text, and gzip-compressed once for the scrapers that accept it
/// (Prometheus does): a tenth of the bytes to send, compressed once per render.
#[derive(Clone, Default)]
pub(crate) struct Situation {
    pub(crate) plain: bytes::Bytes,
    pub(crate) gzip: bytes::Bytes,
}

/// `bytes` as one gzip member (members can be concatenated: a gzip reader reads them as
/// one stream).
pub(crate) fn gzip(bytes: &[u8]) -> bytes::Bytes {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    e.write_all(bytes).expect("gzip into memory");
    e.finish().expect("gzip into memory").into()
}

impl SituationCache {
    /// The situation gauges as of the latest applied event (or of one at most
    /// [`MAX_SITUATION_AGE`] old).
    pub(crate) async fn current(
        &self,
        projection: &std::sync::Arc<parking_lot::RwLock<Projection>>,
    ) -> Situation {
        let mut slot = self.cached.clone().lock_owned().await;
        let applied = projection.read().applied();
        if let Some(r) = slot.as_ref() {
            if r.sequence == applied || r.at.elapsed() < MAX_SITUATION_AGE {
                return r.text.clone();
            }
        }
        let p = projection.clone();
        // The render runs in a task of its own that holds the cache's lock and stores what
        // it rendered: a scrape that gives up meanwhile wastes nothing, and the next one
        // (waiting on the lock) reuses it.
        let render = tokio::spawn(async move {
            let rendered = tokio::task::spawn_blocking(move || {
                let mut text = String::new();
                let sequence = render_situation(&p, || {}, &mut text);
                (sequence, text)
            })
            .await;
            match rendered {
                Ok((sequence, text)) => {
                    let text = Situation {
                        gzip: gzip(text.as_bytes()),
                        plain: bytes::Bytes::from(text),
                    };
                    *slot = Some(Rendered {
                        sequence,
                        at: std::time::Instant::now(),
                        text: text.clone(),
                    });
                    text
                }
                // A render that panicked (a bug): the last good one, or none.
                Err(e) => {
                    tracing::error!(error = %e, "rendering the situation gauges failed");
                    slot.as_ref().map(|r| r.text.clone()).unwrap_or_default()
                }
            }
        });
        render.await.unwrap_or_default()
    }
}

/// Appends the situation gauges (docs/architecture.md) as of one sequence — the latest
/// applied when it starts — to `out`, and returns that sequence.
///
/// What they cover is bounded (`limits`): regions on the latest borders (municipalities,
/// hundreds of series each, are left to the APIs); each indicator's latest
/// [`limits::MAX_SITUATION_YEARS`] years with figures; the latest
/// [`limits::MAX_SITUATION_ROUNDS`] rounds; and at most about
/// [`limits::MAX_SITUATION_SERIES`] series, the oldest years left out beyond it (and
/// counted). The render builds one indicator-year's figures at a time, taking the
/// projection's read lock for each (tens of cell lookups): between them the commit path
/// may apply new events (`between` runs there), which the as-of filter leaves out, so the
/// gauges show one consistent state and a commit never waits for more than one
/// indicator-year. A year's theme scores are gathered as its indicators pass, and each
/// indicator-year's dispersion across the regions once its figures are kept.
///
/// The analysis of the years shown follows, from the figures kept by then, one indicator,
/// target or region at a time: sigma-convergence over the years, the targets of the country
/// and the regions (at most [`limits::MAX_SITUATION_TARGETS`]), each region's
/// [`SIMILAR`] most similar regions and each directional indicator's forerunners. Bounded
/// on their own (about 19 × 7 + 3 × indicators + 8 × targets series), they come on top of
/// the series budget, which leaves out years only.
pub(crate) fn render_situation(
    projection: &parking_lot::RwLock<Projection>,
    mut between: impl FnMut(),
    out: &mut String,
) -> u64 {
    use crate::limits::{MAX_SITUATION_ROUNDS, MAX_SITUATION_SERIES, MAX_SITUATION_YEARS};
    let (seq, catalog, years) = {
        let p = projection.read();
        let seq = p.applied();
        (seq, p.catalog_at(seq), p.indicator_years())
    };
    let on = (
        crate::projection::Level::Region,
        catalog.divisions.keys().next_back().copied(),
    );
    // Year → the indicators shown for it, in catalog order.
    let mut shown: std::collections::BTreeMap<i32, Vec<&crate::domain::Indicator>> =
        Default::default();
    for ind in catalog.indicators.values() {
        let latest = years.get(ind.id.as_str()).into_iter().flatten().rev();
        for &year in latest.take(MAX_SITUATION_YEARS) {
            shown.entry(year).or_default().push(ind);
        }
    }
    let mut f = Families::default();
    f.catalog(&catalog);
    let mut left_out = 0;
    // Per indicator, its coefficients of variation and the years shown that most regions
    // have a figure of, newest first (for sigma-convergence, the similar regions and the
    // forerunners).
    let mut cvs: std::collections::BTreeMap<&str, Vec<(i32, f64)>> = Default::default();
    let mut well_reported: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    // Newest first, so that the series budget leaves out the oldest years.
    for (&year, indicators) in shown.iter().rev() {
        if f.series >= MAX_SITUATION_SERIES {
            left_out += 1;
            continue;
        }
        let mut scores = crate::projection::ThemeScores::default();
        let mut reported: std::collections::BTreeMap<String, u32> = Default::default();
        for ind in indicators {
            let iy = projection
                .read()
                .indicator_year(&catalog, ind, year, on, seq);
            f.indicator_year(year, &iy, &mut reported);
            scores.add(&iy);
            if iy.most_reported() {
                well_reported.entry(ind.id.as_str()).or_default().push(year);
            }
            between();
            // The figures are kept now: the dispersion reads them (and the population's)
            // back. A sum's spread is no disparity: nothing to take.
            if ind.compares_regions() && iy.values.len() >= crate::domain::dispersion::MIN_AREAS {
                let d = projection
                    .read()
                    .disparities(&catalog, ind, (year, year), on, seq);
                if let Some(y) = d.years.first() {
                    if let Ok(cv) = y.dispersion.cv {
                        cvs.entry(ind.id.as_str()).or_default().push((year, cv));
                    }
                    f.dispersion(&ind.id, year, &y.dispersion);
                }
                between();
            }
        }
        f.year(year, scores.ranked(), reported, catalog.indicators.len());
    }
    // The analysis of the years shown, from the figures the loop above has kept, each
    // indicator (target, region) under the read lock on its own.
    for (id, cvs) in &cvs {
        f.sigma(id, cvs);
    }
    let targets_left_out = targets(projection, &catalog, on, seq, &mut f, &mut between);
    // The years the default set of the similar regions is not empty in, newest first: no
    // year without one is tried (each try computes every directional indicator's figures).
    let similar_years: std::collections::BTreeSet<i32> = catalog
        .indicators
        .values()
        .filter(|i| i.likens_areas())
        .filter_map(|i| well_reported.get(i.id.as_str()))
        .flatten()
        .copied()
        .collect();
    let similar_years: Vec<i32> = similar_years.into_iter().rev().collect();
    similar(
        projection,
        &catalog,
        on,
        seq,
        &similar_years,
        &mut f,
        &mut between,
    );
    forerunners(
        projection,
        &catalog,
        on,
        seq,
        &well_reported,
        &mut f,
        &mut between,
    );
    let rounds = projection.read().round_years(seq);
    for year in rounds.iter().rev().take(MAX_SITUATION_ROUNDS).rev() {
        if let Some(rs) = projection.read().round_status(*year, seq, 0) {
            f.round(&rs);
        }
    }
    f.write(out, on.1, left_out, targets_left_out);
    seq
}

/// The span the forerunners improved over: five years, as a target's recent pace.
const FORERUNNER_YEARS: i32 = 5;
/// The forerunners shown of each indicator: the regions ranked 1-3 (more on a tie).
const FORERUNNERS: u32 = 3;
/// The similar regions shown of each region.
const SIMILAR: usize = 7;

/// The targets of the whole country and the regions against their figures on the borders
/// of the gauges, at most [`crate::limits::MAX_SITUATION_TARGETS`] of them (those with the
/// latest years); returns how many were left out.
fn targets(
    projection: &parking_lot::RwLock<Projection>,
    catalog: &crate::domain::Catalog,
    on: crate::projection::On,
    seq: u64,
    f: &mut Families,
    between: &mut impl FnMut(),
) -> usize {
    let mut targets: Vec<&crate::domain::Target> = catalog
        .targets_of(None, None)
        .filter(|t| catalog.regions.contains_key(&t.area))
        .collect();
    let all = targets.len();
    if all > crate::limits::MAX_SITUATION_TARGETS {
        targets.sort_by_key(|t| std::cmp::Reverse(t.year));
        targets.truncate(crate::limits::MAX_SITUATION_TARGETS);
    }
    for t in &targets {
        let progress = projection.read().target_progress(catalog, t, on.1, seq);
        f.target(&progress);
        between();
    }
    all - targets.len()
}

/// Each region's most similar regions in the latest of `years` (newest first) that the
/// default set of indicators compares regions in (the similar-areas read's default).
fn similar(
    projection: &parking_lot::RwLock<Projection>,
    catalog: &crate::domain::Catalog,
    on: crate::projection::On,
    seq: u64,
    years: &[i32],
    f: &mut Families,
    between: &mut impl FnMut(),
) {
    let likeness = crate::projection::Likeness {
        indicators: Vec::new(),
        k: SIMILAR,
    };
    for &year in years {
        let regions: Vec<&str> = catalog
            .regions_on(on.1, year)
            .map(|r| r.code.as_str())
            .collect();
        let mut answered = false;
        for region in regions {
            let found = projection
                .read()
                .similar(catalog, region, year, on.1, &likeness, seq);
            between();
            match found {
                Ok(s) => {
                    if !answered {
                        f.similar_indicators(year, s.indicators.len());
                    }
                    answered = true;
                    f.similar(&s);
                }
                // No indicator of the default set has figures of most regions this year:
                // the same for every region.
                Err(("indicators", _)) => break,
                // This region has no figure to compare (or no indicator has a spread).
                Err(_) => {}
            }
        }
        if answered {
            return;
        }
    }
}

/// Each directional indicator's forerunners (of those that compare regions): the regions
/// that improved most from the latest year most regions have a figure of (`well_reported`:
/// those years of each indicator, newest first), and the latest such year at least
/// [`FORERUNNER_YEARS`] before it.
fn forerunners(
    projection: &parking_lot::RwLock<Projection>,
    catalog: &crate::domain::Catalog,
    on: crate::projection::On,
    seq: u64,
    well_reported: &std::collections::BTreeMap<&str, Vec<i32>>,
    f: &mut Families,
    between: &mut impl FnMut(),
) {
    for ind in catalog.indicators.values() {
        if !ind.likens_areas() {
            continue;
        }
        let Some(years) = well_reported.get(ind.id.as_str()) else {
            continue;
        };
        let Some(&to) = years.first() else { continue };
        let Some(&from) = years.iter().find(|y| **y <= to - FORERUNNER_YEARS) else {
            continue;
        };
        let found = projection
            .read()
            .forerunners(catalog, ind, (from, to), on, seq);
        f.forerunners(&found);
        between();
    }
}

/// The situation gauges' families, filled one indicator-year at a time, and how many
/// series they hold.
#[derive(Default)]
struct Families {
    series: usize,
    region_info: String,
    group_info: String,
    indicator_info: String,
    member: String,
    group_value: String,
    group_rank: String,
    group_ranked: String,
    deadline: String,
    expected: String,
    round_reported: String,
    missing: String,
    value: String,
    national: String,
    nat_reported: String,
    nat_expected: String,
    rank: String,
    score: String,
    coverage: String,
    disp_regions: String,
    disp_regions_weighted: String,
    disp_range: String,
    disp_max_min: String,
    disp_cv: String,
    disp_cv_weighted: String,
    disp_gini: String,
    disp_top_bottom: String,
    disp_sigma: String,
    target_value: String,
    target_latest: String,
    target_latest_year: String,
    target_gap: String,
    target_needed: String,
    target_recent: String,
    target_status: String,
    similar_distance: String,
    similar_indicators: String,
    forerunner: String,
    forerunner_regions: String,
}

/// One sample line into a family, counted.
macro_rules! sample {
    ($f:expr, $family:ident, $($arg:tt)*) => {{
        let _ = writeln!($f.$family, $($arg)*);
        $f.series += 1;
    }};
}

impl Families {
    /// The catalog's names and units, for dashboards to join on the codes, and the groups'
    /// members.
    fn catalog(&mut self, catalog: &crate::domain::Catalog) {
        for r in catalog.regions.values() {
            sample!(
                self,
                region_info,
                "tilannekuva_region_info{{region=\"{}\",name_fi=\"{}\",name_sv=\"{}\",name_en=\"{}\"}} 1",
                escape(&r.code),
                escape(&r.name_fi),
                escape(&r.name_sv),
                escape(&r.name_en)
            );
        }
        for i in catalog.indicators.values() {
            sample!(
                self,
                indicator_info,
                "tilannekuva_indicator_info{{indicator=\"{}\",theme=\"{}\",unit=\"{}\",name_fi=\"{}\",name_en=\"{}\"}} 1",
                escape(&i.id),
                i.theme.as_str(),
                escape(&i.unit),
                escape(&i.name_fi),
                escape(&i.name_en)
            );
        }
        for g in catalog.groups.values() {
            sample!(
                self,
                group_info,
                "tilannekuva_group_info{{group=\"{}\",name_fi=\"{}\",name_sv=\"{}\",name_en=\"{}\"}} 1",
                escape(&g.id),
                escape(&g.name_fi),
                escape(&g.name_sv),
                escape(&g.name_en)
            );
        }
        for g in catalog.groups.values() {
            for m in &g.members {
                sample!(
                    self,
                    member,
                    "tilannekuva_group_member{{group=\"{}\",region=\"{}\"}} 1",
                    escape(&g.id),
                    escape(m)
                );
            }
        }
    }

    /// An indicator's figures of one year; `reported` counts each region's figures.
    fn indicator_year(
        &mut self,
        year: i32,
        iy: &crate::projection::IndicatorYear,
        reported: &mut std::collections::BTreeMap<String, u32>,
    ) {
        let ind = &iy.indicator;
        let (id, theme) = (escape(&ind.id), ind.theme.as_str());
        for g in &iy.groups {
            let group = escape(&g.group);
            // Like the national value: a sum over part of a group has no sample.
            if let Some(v) = g.value.value {
                let basis = g.value.basis.as_str();
                sample!(
                    self,
                    group_value,
                    "tilannekuva_group_value{{group=\"{group}\",indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\",basis=\"{basis}\"}} {v}"
                );
            }
            if g.regions_ranked() > 0 {
                for (region, _, r) in iy.group_members(g) {
                    sample!(
                        self,
                        group_rank,
                        "tilannekuva_group_rank{{group=\"{group}\",region=\"{}\",indicator=\"{id}\",year=\"{year}\"}} {r}",
                        escape(region)
                    );
                }
                sample!(
                    self,
                    group_ranked,
                    "tilannekuva_group_regions_ranked{{group=\"{group}\",indicator=\"{id}\",year=\"{year}\"}} {}",
                    g.regions_ranked()
                );
            }
        }
        for ((region, v), r) in iy.values.iter().zip(&iy.ranks) {
            match reported.get_mut(region) {
                Some(n) => *n += 1,
                None => {
                    reported.insert(region.clone(), 1);
                }
            }
            let region = escape(region);
            sample!(
                self,
                value,
                "tilannekuva_indicator_value{{region=\"{region}\",indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\"}} {v}"
            );
            if *r > 0 {
                sample!(
                    self,
                    rank,
                    "tilannekuva_indicator_rank{{region=\"{region}\",indicator=\"{id}\",year=\"{year}\"}} {r}"
                );
            }
        }
        if let Some(v) = iy.official {
            *reported
                .entry(crate::domain::NATIONAL_CODE.to_owned())
                .or_default() += 1;
            sample!(
                self,
                value,
                "tilannekuva_indicator_value{{region=\"SSS\",indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\"}} {v}"
            );
        }
        // A sum over part of the country has no national value, so no sample: a dashboard
        // never shows it as the country's figure.
        let n = &iy.national;
        if let Some(v) = n.value {
            let basis = n.basis.as_str();
            sample!(
                self,
                national,
                "tilannekuva_indicator_national_value{{indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\",basis=\"{basis}\"}} {v}"
            );
        }
        if !iy.values.is_empty() || iy.official.is_some() {
            let labels = format!("indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\"");
            sample!(
                self,
                nat_reported,
                "tilannekuva_indicator_national_regions_reported{{{labels}}} {}",
                n.regions_reported
            );
            sample!(
                self,
                nat_expected,
                "tilannekuva_indicator_national_regions_expected{{{labels}}} {}",
                n.regions_expected
            );
        }
    }

    /// A year's theme scores and coverage, once its indicators have passed.
    fn year(
        &mut self,
        year: i32,
        scores: std::collections::BTreeMap<crate::domain::Theme, Vec<crate::projection::Score>>,
        reported: std::collections::BTreeMap<String, u32>,
        defined: usize,
    ) {
        for (theme, ranked) in &scores {
            for s in ranked {
                sample!(
                    self,
                    score,
                    "tilannekuva_theme_score{{region=\"{}\",theme=\"{}\",year=\"{year}\"}} {}",
                    escape(&s.region),
                    theme.as_str(),
                    s.score
                );
            }
        }
        let defined = defined.max(1) as f64;
        for (region, n) in reported {
            sample!(
                self,
                coverage,
                "tilannekuva_region_coverage_ratio{{region=\"{}\",year=\"{year}\"}} {}",
                escape(&region),
                f64::from(n) / defined
            );
        }
    }

    /// An indicator's dispersion across the regions in one year: a sample for each measure
    /// that can be computed, none for the others.
    fn dispersion(&mut self, id: &str, year: i32, d: &crate::domain::dispersion::Dispersion) {
        let labels = format!("indicator=\"{}\",year=\"{year}\"", escape(id));
        let (mut any, mut weighted) = (false, false);
        for (body, name, m, by_population) in [
            (&mut self.disp_range, "range", &d.range, false),
            (
                &mut self.disp_max_min,
                "max_min_ratio",
                &d.max_min_ratio,
                false,
            ),
            (&mut self.disp_cv, "cv", &d.cv, false),
            (
                &mut self.disp_cv_weighted,
                "cv_weighted",
                &d.cv_weighted,
                true,
            ),
            (&mut self.disp_gini, "gini", &d.gini, false),
            (
                &mut self.disp_top_bottom,
                "top_bottom_ratio",
                &d.top_bottom_ratio,
                true,
            ),
        ] {
            let Ok(v) = m else { continue };
            let _ = writeln!(body, "tilannekuva_disparity_{name}{{{labels}}} {v}");
            self.series += 1;
            any = true;
            weighted |= by_population;
        }
        if any {
            sample!(
                self,
                disp_regions,
                "tilannekuva_disparity_regions{{{labels}}} {}",
                d.areas
            );
        }
        if weighted {
            sample!(
                self,
                disp_regions_weighted,
                "tilannekuva_disparity_regions_weighted{{{labels}}} {}",
                d.weighted_areas
            );
        }
    }

    /// Sigma-convergence of an indicator over the years shown: the slope of its
    /// coefficient of variation, when there are enough years.
    fn sigma(&mut self, id: &str, cvs: &[(i32, f64)]) {
        if let Ok(slope) = crate::domain::dispersion::sigma(cvs) {
            sample!(
                self,
                disp_sigma,
                "tilannekuva_disparity_sigma_slope{{indicator=\"{}\"}} {slope}",
                escape(id)
            );
        }
    }

    /// A target against the figures: what can be computed of it, and its status.
    fn target(&mut self, p: &crate::projection::TargetProgress) {
        let t = &p.target;
        let labels = format!(
            "area=\"{}\",indicator=\"{}\",year=\"{}\"",
            escape(&t.area),
            escape(&t.indicator),
            t.year
        );
        sample!(
            self,
            target_value,
            "tilannekuva_target_value{{{labels}}} {}",
            t.value
        );
        if let Some((year, v)) = p.latest {
            sample!(
                self,
                target_latest,
                "tilannekuva_target_latest_value{{{labels}}} {v}"
            );
            sample!(
                self,
                target_latest_year,
                "tilannekuva_target_latest_year{{{labels}}} {year}"
            );
        }
        if let Some(gap) = p.gap {
            sample!(self, target_gap, "tilannekuva_target_gap{{{labels}}} {gap}");
        }
        if let Ok(v) = p.needed_pace {
            sample!(
                self,
                target_needed,
                "tilannekuva_target_needed_pace{{{labels}}} {v}"
            );
        }
        if let Ok(v) = p.recent_pace {
            sample!(
                self,
                target_recent,
                "tilannekuva_target_recent_pace{{{labels}}} {v}"
            );
        }
        sample!(
            self,
            target_status,
            "tilannekuva_target_status{{{labels},status=\"{}\"}} 1",
            p.status.as_str()
        );
    }

    /// How many indicators the similar regions of `year` are compared on.
    fn similar_indicators(&mut self, year: i32, n: usize) {
        sample!(
            self,
            similar_indicators,
            "tilannekuva_similar_indicators{{year=\"{year}\"}} {n}"
        );
    }

    /// A region's most similar regions, nearest first.
    fn similar(&mut self, s: &crate::projection::Similar) {
        let region = escape(&s.area);
        for (i, n) in s.nearest.iter().enumerate() {
            sample!(
                self,
                similar_distance,
                "tilannekuva_similar_region_distance{{region=\"{region}\",similar=\"{}\",rank=\"{}\",year=\"{}\"}} {}",
                escape(&n.area),
                i + 1,
                s.year,
                n.distance
            );
        }
    }

    /// The regions that improved most on an indicator (ranked 1 to [`FORERUNNERS`]), and
    /// how many were ranked.
    fn forerunners(&mut self, fr: &crate::projection::Forerunners) {
        if fr.ranked.is_empty() {
            return;
        }
        let span = format!(
            "indicator=\"{}\",from_year=\"{}\",to_year=\"{}\"",
            escape(&fr.indicator.id),
            fr.from,
            fr.to
        );
        for r in fr.ranked.iter().take_while(|r| r.rank <= FORERUNNERS) {
            sample!(
                self,
                forerunner,
                "tilannekuva_forerunner_improvement{{indicator=\"{}\",region=\"{}\",rank=\"{}\",from_year=\"{}\",to_year=\"{}\"}} {}",
                escape(&fr.indicator.id),
                escape(&r.area),
                r.rank,
                fr.from,
                fr.to,
                r.improvement
            );
        }
        sample!(
            self,
            forerunner_regions,
            "tilannekuva_forerunner_regions{{{span}}} {}",
            fr.ranked.len()
        );
    }

    /// A round's status. The gauges carry counts, not "overdue": that depends on the
    /// instant, which the alert rule compares with the deadline.
    fn round(&mut self, rs: &crate::projection::RoundStatus) {
        let year = rs.round.year;
        sample!(
            self,
            deadline,
            "tilannekuva_round_deadline_timestamp_seconds{{year=\"{year}\"}} {}",
            rs.round.deadline_micros as f64 / 1e6
        );
        for r in &rs.regions {
            let labels = format!("region=\"{}\",year=\"{year}\"", escape(&r.region));
            sample!(
                self,
                expected,
                "tilannekuva_round_indicators_expected{{{labels}}} {}",
                rs.round.indicators.len()
            );
            sample!(
                self,
                round_reported,
                "tilannekuva_round_indicators_reported{{{labels}}} {}",
                r.reported.len()
            );
            sample!(
                self,
                missing,
                "tilannekuva_round_indicators_missing{{{labels}}} {}",
                r.missing.len()
            );
        }
    }

    /// The families with their help, and what the exposition holds: its samples (these
    /// included), the borders, the years left out.
    fn write(
        self,
        out: &mut String,
        borders: Option<i32>,
        left_out: usize,
        targets_left_out: usize,
    ) {
        let samples = self.series + 3 + usize::from(borders.is_some());
        for (name, help, body) in [
            ("tilannekuva_region_info", "1 for every region of the latest catalog (ended ones and SSS, the whole country, included), with its names in Finnish, Swedish and English: for dashboards to show names beside codes.", self.region_info),
            ("tilannekuva_indicator_info", "1 for every indicator of the latest catalog, with its theme, unit and names in Finnish and English.", self.indicator_info),
            ("tilannekuva_group_info", "1 for every peer group of the latest catalog, with its names in Finnish, Swedish and English.", self.group_info),
            ("tilannekuva_group_member", "1 for every member region of a peer group (the latest catalog).", self.member),
            ("tilannekuva_group_value", "Value of an indicator over a peer group's members by the indicator's own rule, by basis: complete (every member reported) or partial (a ratio or weighted mean over the members that reported). A sum over part of a group has no sample.", self.group_value),
            ("tilannekuva_group_rank", "Rank of a member within its peer group for an indicator and year; 1 = best, ties share the best rank.", self.group_rank),
            ("tilannekuva_group_regions_ranked", "Members of a peer group ranked for an indicator and year (those that reported).", self.group_ranked),
            ("tilannekuva_round_deadline_timestamp_seconds", "Deadline of the reporting round of a year, Unix time (the latest rounds).", self.deadline),
            ("tilannekuva_round_indicators_expected", "Indicators the reporting round of a year expects of a region.", self.expected),
            ("tilannekuva_round_indicators_reported", "Expected indicators a region has a current value for, in the round's year.", self.round_reported),
            ("tilannekuva_round_indicators_missing", "Expected indicators a region has no current value for, in the round's year.", self.missing),
            ("tilannekuva_indicator_value", "Current value of an indicator for a region and year (region SSS: the official national figure).", self.value),
            ("tilannekuva_indicator_national_value", "National value of an indicator and year, by basis: official (the figure reported for SSS), complete (computed by the indicator's rule from every region) or partial (a ratio or weighted mean over the regions that reported: an estimate). A sum over part of the country has no national value and no sample.", self.national),
            ("tilannekuva_indicator_national_regions_reported", "Regions whose figures an indicator's aggregation rule used for the year (for a ratio: numerator and denominator).", self.nat_reported),
            ("tilannekuva_indicator_national_regions_expected", "Regions expected to report an indicator for the year (every region of the latest borders).", self.nat_expected),
            ("tilannekuva_indicator_rank", "Rank of a region for an indicator and year; 1 = best by the indicator's direction, ties share the best rank.", self.rank),
            ("tilannekuva_theme_score", "Theme score of a region and year: mean of its oriented z-scores over the theme's indicators shown for the year that compare regions (rates, shares, amounts per head; not counts).", self.score),
            ("tilannekuva_region_coverage_ratio", "Share of the catalog's indicators a region has reported for a year (0-1), of the indicators shown for the year.", self.coverage),
            ("tilannekuva_disparity_regions", "Regions whose figures an indicator's dispersion across the regions rests on, for a year (rates, shares and amounts per head; a count's spread is no disparity). No sample: no measure can be computed (fewer than 3 regions).", self.disp_regions),
            ("tilannekuva_disparity_regions_weighted", "Of them, the regions with a population, which the population-weighted measures rest on. No sample: those measures cannot be computed.", self.disp_regions_weighted),
            ("tilannekuva_disparity_range", "Highest less lowest regional value of an indicator for a year. No sample: it cannot be computed (fewer than 3 regions).", self.disp_range),
            ("tilannekuva_disparity_max_min_ratio", "Highest over lowest regional value of an indicator for a year. No sample: it cannot be computed (fewer than 3 regions, or a value not positive).", self.disp_max_min),
            ("tilannekuva_disparity_cv", "Coefficient of variation of the regional values of an indicator for a year (population standard deviation over the mean). No sample: it cannot be computed (fewer than 3 regions, a negative value or a mean of 0).", self.disp_cv),
            ("tilannekuva_disparity_cv_weighted", "Population-weighted coefficient of variation (Williamson) of the regional values of an indicator for a year. No sample: it cannot be computed (fewer than 3 regions with a population, a negative value or a mean of 0).", self.disp_cv_weighted),
            ("tilannekuva_disparity_gini", "Gini coefficient of the regional values of an indicator for a year (unweighted, 0 = equal). No sample: it cannot be computed (fewer than 3 regions, a negative value or a mean of 0).", self.disp_gini),
            ("tilannekuva_disparity_top_bottom_ratio", "Mean value of the highest-valued regions holding 20 % of the population over that of the lowest-valued ones (OECD), for an indicator and year. No sample: it cannot be computed (fewer than 3 regions with a population, a negative value, a bottom mean of 0).", self.disp_top_bottom),
            ("tilannekuva_disparity_sigma_slope", "Sigma-convergence of an indicator over the years shown here: the slope of its coefficient of variation per year (negative: the regions converge). No sample: it cannot be computed (fewer than 3 years with a coefficient of variation).", self.disp_sigma),
            ("tilannekuva_target_value", "A target of the whole country (area SSS) or a region: the value set for the indicator by the year.", self.target_value),
            ("tilannekuva_target_latest_value", "The area's latest figure of a target's indicator on the borders of these gauges. No sample: it has none.", self.target_latest),
            ("tilannekuva_target_latest_year", "The year of that latest figure. No sample: there is none.", self.target_latest_year),
            ("tilannekuva_target_gap", "Target less the latest figure. No sample: it cannot be computed (no figure).", self.target_gap),
            ("tilannekuva_target_needed_pace", "The change per year needed from the latest figure to reach the target by its year. No sample: it cannot be computed (no figure, or the target's year is not after the latest figure's).", self.target_needed),
            ("tilannekuva_target_recent_pace", "The change per year over the five years to the latest figure. No sample: it cannot be computed (no figure five years before the latest).", self.target_recent),
            ("tilannekuva_target_status", "1 for a target's status: reached, on_track (the last five years' pace reaches it by its year), off_track, missed (its year has come without it), unknown (no figure or no pace).", self.target_status),
            ("tilannekuva_similar_region_distance", "A region's most similar regions (rank 1 = nearest, at most 7) in the latest year shown whose default indicators compare regions (directional indicators most regions reported): the root mean squared difference of standardised values. No sample: the region cannot be compared (no figure).", self.similar_distance),
            ("tilannekuva_similar_indicators", "The indicators the similar regions are compared on, for the year they are of.", self.similar_indicators),
            ("tilannekuva_forerunner_improvement", "The regions that improved most on a directional indicator that compares regions (rank 1-3, more on a tie): the change in its better direction from from_year to to_year, the latest year most regions have a figure of and the latest such year at least five years before it. No sample: it cannot be computed (no such pair of years).", self.forerunner),
            ("tilannekuva_forerunner_regions", "Regions with a figure at both ends of the forerunners' span, ranked by improvement.", self.forerunner_regions),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            out.push_str(&body);
        }
        let _ = writeln!(
            out,
            "# HELP tilannekuva_situation_series Samples of the situation gauges in this exposition, these included: regions on the latest borders, each indicator's latest {} years with figures, the latest {} rounds (municipalities and older years are read through the APIs).\n# TYPE tilannekuva_situation_series gauge\ntilannekuva_situation_series {samples}",
            crate::limits::MAX_SITUATION_YEARS,
            crate::limits::MAX_SITUATION_ROUNDS,
        );
        let _ = writeln!(
            out,
            "# HELP tilannekuva_situation_years_left_out Years with figures left out of this exposition because it reached its budget of {} series (the oldest go first).\n# TYPE tilannekuva_situation_years_left_out gauge\ntilannekuva_situation_years_left_out {left_out}",
            crate::limits::MAX_SITUATION_SERIES,
        );
        let _ = writeln!(
            out,
            "# HELP tilannekuva_situation_targets_left_out Targets of the whole country and the regions left out of this exposition beyond its {} (the earliest years go first; read them with GetTargets).\n# TYPE tilannekuva_situation_targets_left_out gauge\ntilannekuva_situation_targets_left_out {targets_left_out}",
            crate::limits::MAX_SITUATION_TARGETS,
        );
        if let Some(d) = borders {
            let _ = writeln!(
                out,
                "# HELP tilannekuva_situation_borders The division (the year of its 1 January borders) the regions of the situation gauges are on.\n# TYPE tilannekuva_situation_borders gauge\ntilannekuva_situation_borders {d}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use parking_lot::RwLock;

    use super::*;
    use crate::auth::Principal;
    use crate::domain::validate::ObservationInput;
    use crate::domain::{Catalog, Status};
    use crate::write::{SubmitInput, WriteRequest, WriterState};

    /// 2026-11-27T00:00:00Z in microseconds.
    const NOW: i64 = 1_795_737_600_000_000;

    /// `values` of `indicator` for `region`, by year, as the events of submission `id`.
    fn submission(
        state: &mut WriterState,
        id: &str,
        (region, indicator): (&str, &str),
        status: Status,
        values: impl IntoIterator<Item = (i32, f64)>,
    ) -> Vec<crate::domain::Event> {
        let observations = values
            .into_iter()
            .map(|(year, value)| ObservationInput {
                indicator_id: indicator.into(),
                year,
                value,
                status: Some(status),
                source: "test".into(),
                note: String::new(),
                correction_reason: String::new(),
                borders: None,
                published_micros: None,
            })
            .collect();
        let req = WriteRequest::Submit(SubmitInput {
            submission_id: id.into(),
            region_code: region.into(),
            expected_region_revision: None,
            observations,
            validate_only: false,
        });
        let mut out = Vec::new();
        state
            .prepare(req, &Principal::system("t"), NOW, &mut out)
            .unwrap();
        out
    }

    /// Provisional population of MK01, the same `value` in each of `years`.
    fn submit(
        state: &mut WriterState,
        id: &str,
        years: std::ops::Range<i32>,
        value: f64,
    ) -> Vec<crate::domain::Event> {
        let values = years.map(|year| (year, value));
        submission(
            state,
            id,
            ("MK01", "population"),
            Status::Provisional,
            values,
        )
    }

    fn projection_with(years: std::ops::Range<i32>) -> (WriterState, Projection) {
        let mut state = WriterState::default();
        let mut projection = Projection::new();
        for e in state.bootstrap(&Catalog::bundled(), NOW) {
            projection.apply(&e);
        }
        for e in submit(&mut state, "a", years, 1.0) {
            projection.apply(&e);
        }
        (state, projection)
    }

    /// A scrape takes the projection's lock one indicator-year at a time: between them a commit
    /// goes through at once, and what it writes is not in the scrape, which shows one state.
    #[test]
    fn a_scrape_does_not_hold_up_commits_and_shows_one_state() {
        let (mut state, projection) = projection_with(2000..2010);
        let lock = RwLock::new(projection);
        let mut commits = 0;
        let mut text = String::new();
        let seq = render_situation(
            &lock,
            || {
                // A commit in the middle of the scrape: revise every year to 2.0 and more.
                let mut p = lock.try_write().expect("the lock is free between years");
                for e in submit(
                    &mut state,
                    &format!("b{commits}"),
                    2000..2010,
                    2.0 + f64::from(commits),
                ) {
                    p.apply(&e);
                }
                commits += 1;
            },
            &mut text,
        );
        // Population and what is computed from it, in each of the ten years.
        assert!(commits >= 10, "{commits}");
        assert!(lock.read().applied() > seq);
        let population: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with(r#"tilannekuva_indicator_value{region="MK01",indicator="population""#)
            })
            .collect();
        assert_eq!(population.len(), 10, "{population:?}");
        assert!(
            population.iter().all(|l| l.ends_with("} 1")),
            "{population:?}"
        );
        assert!(text.contains(
            r#"tilannekuva_indicator_value{region="MK01",indicator="population",theme="communities",year="2005"} 1"#
        ));
    }

    /// Final `values` of `indicator` for `region`, by year.
    fn report(
        state: &mut WriterState,
        region: &str,
        indicator: &str,
        values: &[(i32, f64)],
    ) -> Vec<crate::domain::Event> {
        let id = format!("{region}-{indicator}");
        submission(
            state,
            &id,
            (region, indicator),
            Status::Final,
            values.iter().copied(),
        )
    }

    /// Disparities, targets, similar regions and forerunners over demo-like figures: every
    /// region's population and offences 2015-2020 (offences of 2021 from two regions only),
    /// the country's employment rate of 2017 and 2022, and the bundled national targets. A
    /// measure that cannot be computed has no sample.
    #[test]
    fn the_analysis_gauges_show_what_can_be_computed_and_nothing_else() {
        let mut state = WriterState::default();
        let mut projection = Projection::new();
        let catalog = Catalog::bundled();
        let mut events = state.bootstrap(&catalog, NOW);
        let latest = catalog.divisions.keys().next_back().copied();
        let regions: Vec<String> = catalog
            .regions_on(latest, 2020)
            .map(|r| r.code.clone())
            .collect();
        assert_eq!(regions.len(), 19);
        for (i, region) in regions.iter().enumerate() {
            let i = i as f64;
            let population: Vec<(i32, f64)> = (2015..=2021)
                .map(|y| (y, 100_000.0 + 10_000.0 * i))
                .collect();
            events.extend(report(&mut state, region, "population", &population));
            // Lower is better: region i improves by 0.1 i a year.
            let mut offences: Vec<(i32, f64)> = (2015..=2020)
                .map(|y| (y, 50.0 + 3.0 * i - f64::from(y - 2015) * 0.1 * i))
                .collect();
            if i < 2.0 {
                offences.push((2021, 40.0 + i));
            }
            events.extend(report(&mut state, region, "offences_per_1000", &offences));
        }
        events.extend(report(
            &mut state,
            "SSS",
            "employment_rate_15_64",
            &[(2017, 70.0), (2022, 72.0)],
        ));
        for e in &events {
            projection.apply(e);
        }
        let mut text = String::new();
        render_situation(&RwLock::new(projection), || {}, &mut text);
        let lines = |prefix: &str| -> Vec<&str> {
            text.lines().filter(|l| l.starts_with(prefix)).collect()
        };
        let value = |series: &str| -> f64 {
            let found = lines(series);
            assert_eq!(found.len(), 1, "{series}: {found:?}");
            found[0].rsplit(' ').next().unwrap().parse().unwrap()
        };
        let offences = r#"{indicator="offences_per_1000",year="#;

        // Disparities: every measure in 2015-2020; none in 2021 (two regions), none of a sum.
        for family in [
            "cv",
            "cv_weighted",
            "gini",
            "top_bottom_ratio",
            "range",
            "max_min_ratio",
            "regions",
            "regions_weighted",
        ] {
            let prefix = format!("tilannekuva_disparity_{family}{offences}");
            let years: Vec<&str> = lines(&prefix)
                .iter()
                .map(|l| &l[prefix.len() + 1..prefix.len() + 5])
                .collect();
            assert_eq!(
                years,
                ["2020", "2019", "2018", "2017", "2016", "2015"],
                "{family}"
            );
        }
        assert_eq!(
            value(&format!(
                "tilannekuva_disparity_regions{offences}\"2020\"}}"
            )),
            19.0
        );
        assert!(lines("tilannekuva_disparity_cv{indicator=\"population\"").is_empty());
        assert!(lines("tilannekuva_disparity_")
            .iter()
            .all(|l| !l.contains(r#"year="2021""#)));
        let sigma = value(r#"tilannekuva_disparity_sigma_slope{indicator="offences_per_1000"}"#);
        assert!(sigma.is_finite());
        assert!(!text.contains("NaN"));

        // Targets: the employment rate's with every figure (0.4 a year falls short of the 3
        // needed); R&D's with no figure: its value and status, nothing else.
        let employment = r#"{area="SSS",indicator="employment_rate_15_64",year="2023"}"#;
        assert_eq!(
            value(&format!("tilannekuva_target_value{employment}")),
            75.0
        );
        assert_eq!(
            value(&format!("tilannekuva_target_latest_value{employment}")),
            72.0
        );
        assert_eq!(
            value(&format!("tilannekuva_target_latest_year{employment}")),
            2022.0
        );
        assert_eq!(value(&format!("tilannekuva_target_gap{employment}")), 3.0);
        assert_eq!(
            value(&format!("tilannekuva_target_needed_pace{employment}")),
            3.0
        );
        assert!((value(&format!("tilannekuva_target_recent_pace{employment}")) - 0.4).abs() < 1e-9);
        assert_eq!(
            value(
                r#"tilannekuva_target_status{area="SSS",indicator="employment_rate_15_64",year="2023",status="off_track"}"#
            ),
            1.0
        );
        let rd = r#"{area="SSS",indicator="rd_share_of_gdp",year="2030"}"#;
        assert_eq!(value(&format!("tilannekuva_target_value{rd}")), 4.0);
        assert_eq!(
            value(
                r#"tilannekuva_target_status{area="SSS",indicator="rd_share_of_gdp",year="2030",status="unknown"}"#
            ),
            1.0
        );
        for family in [
            "latest_value",
            "latest_year",
            "gap",
            "needed_pace",
            "recent_pace",
        ] {
            assert!(
                lines(&format!("tilannekuva_target_{family}{rd}")).is_empty(),
                "{family}"
            );
        }
        assert_eq!(
            lines("tilannekuva_target_status{").len(),
            catalog.targets.len()
        );

        // Similar regions: of 2020 (in 2021 two regions of 19 have offences), 7 each.
        let similar = lines("tilannekuva_similar_region_distance{");
        assert_eq!(similar.len(), 19 * 7);
        assert!(similar.iter().all(|l| l.contains(r#"year="2020"}"#)));
        assert_eq!(value(r#"tilannekuva_similar_indicators{year="2020"}"#), 1.0);
        // Region i differs from region j by |i - j| in offences: its neighbours are next to it.
        let first = &regions[0];
        assert!(text.contains(&format!(
            r#"tilannekuva_similar_region_distance{{region="{first}",similar="{}",rank="1",year="2020"}}"#,
            regions[1]
        )));

        // Forerunners: 2015 to 2020 (2021 is not reported by most), the last regions first.
        let forerunners = lines("tilannekuva_forerunner_improvement{");
        assert_eq!(forerunners.len(), 3, "{forerunners:?}");
        assert!(text.contains(&format!(
            r#"tilannekuva_forerunner_improvement{{indicator="offences_per_1000",region="{}",rank="1",from_year="2015",to_year="2020"}}"#,
            regions[18]
        )));
        assert_eq!(
            value(
                r#"tilannekuva_forerunner_regions{indicator="offences_per_1000",from_year="2015",to_year="2020"}"#
            ),
            19.0
        );

        // The exposition counts these samples too.
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(value("tilannekuva_situation_series "), samples as f64);
        assert_eq!(value("tilannekuva_situation_targets_left_out "), 0.0);
    }

    /// Every region (SSS and ended ones included), indicator and group has one info series
    /// with its names, so a dashboard can show names beside codes.
    #[test]
    fn names_and_units_are_info_series() {
        let (_, projection) = projection_with(2000..2001);
        let mut text = String::new();
        render_situation(&RwLock::new(projection), || {}, &mut text);
        let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
        let catalog = Catalog::bundled();
        assert_eq!(count("tilannekuva_region_info{"), catalog.regions.len());
        assert_eq!(
            count("tilannekuva_indicator_info{"),
            catalog.indicators.len()
        );
        assert_eq!(count("tilannekuva_group_info{"), catalog.groups.len());
        for line in [
            r#"tilannekuva_region_info{region="MK12",name_fi="Pohjois-Karjala",name_sv="Norra Karelen",name_en="North Karelia"} 1"#,
            r#"tilannekuva_region_info{region="MK03",name_fi="Itä-Uusimaa","#,
            r#"tilannekuva_region_info{region="SSS",name_fi="Koko maa","#,
            r#"tilannekuva_indicator_info{indicator="registered_unemployment_rate",theme="inclusion",unit="%",name_fi="#,
        ] {
            assert!(text.contains(line), "{line} not in the exposition");
        }
    }

    /// Each indicator's latest years with figures, no more: 36 years of population show as
    /// its latest 30, and the exposition counts its own samples.
    #[test]
    fn the_exposition_shows_each_indicators_latest_years() {
        let (_, projection) = projection_with(1990..2026);
        let lock = RwLock::new(projection);
        let mut text = String::new();
        render_situation(&lock, || {}, &mut text);
        let years: std::collections::BTreeSet<i32> = text
            .lines()
            .filter(|l| {
                l.starts_with(r#"tilannekuva_indicator_value{region="MK01",indicator="population""#)
            })
            .map(|l| l.split("year=\"").nth(1).unwrap()[..4].parse().unwrap())
            .collect();
        assert_eq!(years.len(), crate::limits::MAX_SITUATION_YEARS);
        assert_eq!(years.first(), Some(&1996));
        assert_eq!(years.last(), Some(&2025));
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        let said: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("tilannekuva_situation_series "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(said, samples);
        assert!(text.contains("tilannekuva_situation_years_left_out 0\n"));
    }
}
