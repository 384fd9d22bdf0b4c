//! Metrics: the service's own counters and histograms in a registry passed in (never a
//! global), and the situation-picture gauges of docs/architecture.md, rendered at scrape time
//! from the projection so that ingest never pays for them.

use std::fmt::Write as _;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::projection::Projection;

/// The service metrics.
pub struct Metrics {
    pub registry: Registry,
    pub events_appended: IntCounter,
    pub submissions: IntCounterVec,
    pub grpc_requests: IntCounterVec,
    pub grpc_latency: HistogramVec,
    pub log_sequence: IntGauge,
    pub projection_sequence: IntGauge,
    pub store_size: IntGauge,
    pub commit_seconds: Histogram,
    pub commit_group_events: Histogram,
    pub store_errors: IntCounter,
    pub build_info: IntGaugeVec,
    pub auth_refusals: IntCounterVec,
    pub auth_reloads: IntCounterVec,
    pub connections: IntGauge,
    pub connections_refused: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        // Metric construction fails only on an invalid name or a duplicate registration,
        // both fixed at compile time here and covered by the tests.
        let m = Metrics {
            events_appended: IntCounter::new(
                "tilannekuva_events_appended_total",
                "Events appended to the log (durable).",
            )
            .unwrap(),
            submissions: IntCounterVec::new(
                Opts::new(
                    "tilannekuva_submissions_total",
                    "Write requests (submit, retract, define) by outcome.",
                ),
                &["outcome"],
            )
            .unwrap(),
            grpc_requests: IntCounterVec::new(
                Opts::new(
                    "tilannekuva_grpc_requests_total",
                    "gRPC requests by method and status code.",
                ),
                &["method", "code"],
            )
            .unwrap(),
            grpc_latency: HistogramVec::new(
                HistogramOpts::new(
                    "tilannekuva_grpc_request_duration_seconds",
                    "gRPC request latency by method (for streams: until the stream is set up).",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5, 5.0,
                ]),
                &["method"],
            )
            .unwrap(),
            log_sequence: IntGauge::new(
                "tilannekuva_log_sequence",
                "Sequence of the last durable event.",
            )
            .unwrap(),
            projection_sequence: IntGauge::new(
                "tilannekuva_projection_sequence",
                "Sequence of the last event applied to the projection.",
            )
            .unwrap(),
            store_size: IntGauge::new(
                "tilannekuva_store_size_bytes",
                "Size of the sled store on disk.",
            )
            .unwrap(),
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "tilannekuva_commit_duration_seconds",
                    "Time to make one commit group durable (write, flush, fdatasync).",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ]),
            )
            .unwrap(),
            commit_group_events: Histogram::with_opts(
                HistogramOpts::new(
                    "tilannekuva_commit_group_events",
                    "Events per commit group.",
                )
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0, 16384.0,
                    65536.0,
                ]),
            )
            .unwrap(),
            store_errors: IntCounter::new(
                "tilannekuva_store_errors_total",
                "Failed appends or reads of the store (each is also logged).",
            )
            .unwrap(),
            build_info: IntGaugeVec::new(
                Opts::new(
                    "tilannekuva_build_info",
                    "Build information; the value is always 1.",
                ),
                &["version"],
            )
            .unwrap(),
            auth_refusals: IntCounterVec::new(
                Opts::new(
                    "tilannekuva_auth_refusals_total",
                    "Requests refused by authentication or authorisation, by reason.",
                ),
                &["reason"],
            )
            .unwrap(),
            auth_reloads: IntCounterVec::new(
                Opts::new(
                    "tilannekuva_auth_reloads_total",
                    "Reloads of the auth file (SIGHUP) by outcome; a failed reload keeps the old tokens.",
                ),
                &["outcome"],
            )
            .unwrap(),
            connections: IntGauge::new("tilannekuva_grpc_connections", "Open gRPC connections.").unwrap(),
            connections_refused: IntCounter::new(
                "tilannekuva_grpc_connections_refused_total",
                "gRPC connections closed at once because the connection limit was reached.",
            )
            .unwrap(),
            registry,
        };
        for reason in ["unauthenticated", "permission_denied"] {
            m.auth_refusals.with_label_values(&[reason]);
        }
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for c in [
            Box::new(m.events_appended.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.submissions.clone()),
            Box::new(m.grpc_requests.clone()),
            Box::new(m.grpc_latency.clone()),
            Box::new(m.log_sequence.clone()),
            Box::new(m.projection_sequence.clone()),
            Box::new(m.store_size.clone()),
            Box::new(m.commit_seconds.clone()),
            Box::new(m.commit_group_events.clone()),
            Box::new(m.store_errors.clone()),
            Box::new(m.build_info.clone()),
            Box::new(m.auth_refusals.clone()),
            Box::new(m.auth_reloads.clone()),
            Box::new(m.connections.clone()),
            Box::new(m.connections_refused.clone()),
        ] {
            m.registry.register(c).unwrap();
        }
        m
    }

    /// The full exposition: service metrics, then the situation gauges.
    pub fn render(&self, projection: &Projection) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which the registry
        // never holds.
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        let mut out = String::from_utf8(buf).expect("exposition is UTF-8");
        render_situation(projection, &mut out);
        out
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

/// Appends the situation gauges (docs/architecture.md) for every year with data, as of the latest
/// applied event.
pub fn render_situation(p: &Projection, out: &mut String) {
    let seq = p.applied();
    let years: Vec<i32> = p.years().collect();
    let pictures: Vec<_> = years.iter().map(|y| p.year_picture(*y, seq)).collect();
    let mut value = String::new();
    let mut national = String::new();
    let mut rank = String::new();
    let mut score = String::new();
    let mut coverage = String::new();
    let mut nat_reported = String::new();
    let mut nat_expected = String::new();
    for yp in &pictures {
        let year = yp.year;
        let mut reported: std::collections::BTreeMap<&str, u32> = Default::default();
        for iy in &yp.indicators {
            let ind = &iy.indicator;
            let (id, theme) = (escape(&ind.id), ind.theme.as_str());
            for ((region, v), r) in iy.values.iter().zip(&iy.ranks) {
                *reported.entry(region).or_default() += 1;
                let region = escape(region);
                let _ = writeln!(
                    value,
                    "tilannekuva_indicator_value{{region=\"{region}\",indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\"}} {v}"
                );
                if *r > 0 {
                    let _ = writeln!(
                        rank,
                        "tilannekuva_indicator_rank{{region=\"{region}\",indicator=\"{id}\",year=\"{year}\"}} {r}"
                    );
                }
            }
            if let Some(v) = iy.official {
                *reported.entry(crate::domain::NATIONAL_CODE).or_default() += 1;
                let _ = writeln!(
                    value,
                    "tilannekuva_indicator_value{{region=\"SSS\",indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\"}} {v}"
                );
            }
            // A sum over part of the country has no national value, so no sample: a
            // dashboard never shows it as the country's figure.
            let n = &iy.national;
            if let Some(v) = n.value {
                let basis = n.basis.as_str();
                let _ = writeln!(
                    national,
                    "tilannekuva_indicator_national_value{{indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\",basis=\"{basis}\"}} {v}"
                );
            }
            if !iy.values.is_empty() || iy.official.is_some() {
                let labels = format!("indicator=\"{id}\",theme=\"{theme}\",year=\"{year}\"");
                let _ = writeln!(
                    nat_reported,
                    "tilannekuva_indicator_national_regions_reported{{{labels}}} {}",
                    n.regions_reported
                );
                let _ = writeln!(
                    nat_expected,
                    "tilannekuva_indicator_national_regions_expected{{{labels}}} {}",
                    n.regions_expected
                );
            }
        }
        for (theme, ranked) in &yp.theme_scores {
            for (region, s, _) in ranked {
                let _ = writeln!(
                    score,
                    "tilannekuva_theme_score{{region=\"{}\",theme=\"{}\",year=\"{year}\"}} {s}",
                    escape(region),
                    theme.as_str()
                );
            }
        }
        let defined = yp.catalog.indicators.len().max(1) as f64;
        for (region, n) in reported {
            let _ = writeln!(
                coverage,
                "tilannekuva_region_coverage_ratio{{region=\"{}\",year=\"{year}\"}} {}",
                escape(region),
                f64::from(n) / defined
            );
        }
    }
    for (name, help, body) in [
        ("tilannekuva_indicator_value", "Current value of an indicator for a region and year (region SSS: the official national figure).", value),
        ("tilannekuva_indicator_national_value", "National value of an indicator and year, by basis: official (the figure reported for SSS), complete (computed by the indicator's rule from every region) or partial (a ratio or weighted mean over the regions that reported: an estimate). A sum over part of the country has no national value and no sample.", national),
        ("tilannekuva_indicator_national_regions_reported", "Regions whose figures an indicator's aggregation rule used for the year (for a ratio: numerator and denominator).", nat_reported),
        ("tilannekuva_indicator_national_regions_expected", "Regions expected to report an indicator for the year (every region of the catalog but SSS).", nat_expected),
        ("tilannekuva_indicator_rank", "Rank of a region for an indicator and year; 1 = best by the indicator's direction, ties share the best rank.", rank),
        ("tilannekuva_theme_score", "Theme score of a region and year: mean of its oriented z-scores over the theme's indicators.", score),
        ("tilannekuva_region_coverage_ratio", "Share of the catalog's indicators a region has reported for a year (0-1).", coverage),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        out.push_str(&body);
    }
}
