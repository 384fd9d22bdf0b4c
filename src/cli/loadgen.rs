//! `tilannekuva loadgen`: N concurrent clients, each with one `Submit` in flight, for a
//! fixed duration. Prints acknowledged observations per second and latency percentiles.
//! Every request is bounded in count by the duration and goes only to the given server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use hdrhistogram::Histogram;
use tonic::transport::Channel;

use super::LoadgenArgs;
use crate::proto;
use crate::proto::catalog_service_client::CatalogServiceClient;
use crate::proto::ingest_service_client::IngestServiceClient;

/// The source every loadgen observation carries: what marks its cells as synthetic.
pub const SYNTHETIC_SOURCE: &str = "tilannekuva loadgen: synthetic benchmark data";

/// The first observation in the server's log that loadgen did not write, if any.
async fn real_figure(ch: Channel, conn: &super::ConnArgs) -> anyhow::Result<Option<String>> {
    let mut events = crate::proto::picture_service_client::PictureServiceClient::new(ch)
        .read_events(super::client::authed(
            proto::ReadEventsRequest {
                from_sequence: 1,
                follow: false,
            },
            conn,
        ))
        .await
        .map_err(super::client::describe)?
        .into_inner();
    while let Some(msg) = events.message().await.map_err(super::client::describe)? {
        let Some(e) = msg.event else { continue };
        if let Some(proto::event::Payload::ObservationRecorded(o)) = &e.payload {
            let o = o.observation.clone().unwrap_or_default();
            if o.source != SYNTHETIC_SOURCE {
                return Ok(Some(format!(
                    "sequence {}: {} {} {} from {:?}",
                    e.sequence, e.region_code, o.indicator_id, o.year, o.source
                )));
            }
        }
    }
    Ok(None)
}

pub async fn run(a: LoadgenArgs) -> anyhow::Result<()> {
    if a.clients == 0 || a.batch == 0 || a.connections == 0 {
        bail!("--clients, --connections and --batch must be at least 1");
    }
    let mut channels = Vec::new();
    for _ in 0..a.connections {
        channels.push(super::client::channel(&a.server, &a.conn).await?);
    }
    if !a.allow_real_data {
        if let Some(real) = real_figure(channels[0].clone(), &a.conn).await? {
            bail!(
                "the server's log holds real figures ({real}); loadgen writes synthetic values \
                 into real regions and would move them. Point it at a server with a fresh data \
                 directory, or pass --allow-real-data"
            );
        }
    }
    // Cells to write: every (indicator, year) whose range admits the value 50, so any
    // batch size up to thousands has distinct cells.
    let catalog = CatalogServiceClient::new(channels[0].clone())
        .list_indicators(super::client::authed(
            proto::ListIndicatorsRequest { theme: None },
            &a.conn,
        ))
        .await?
        .into_inner();
    let regions: Vec<String> = CatalogServiceClient::new(channels[0].clone())
        .list_regions(super::client::authed(proto::ListRegionsRequest {}, &a.conn))
        .await?
        .into_inner()
        .regions
        .into_iter()
        .map(|r| r.code)
        .filter(|c| c != "SSS")
        .collect();
    let this_year = {
        use chrono::Datelike;
        chrono::Utc::now().year()
    };
    let mut cells = Vec::new();
    for ind in &catalog.indicators {
        if ind.min_value.is_some_and(|m| m > 49.0) || ind.max_value.is_some_and(|m| m < 51.0) {
            continue;
        }
        // Observed indicators take no year after the current one.
        let last = match ind.max_year {
            0 => this_year,
            y => y.min(this_year),
        };
        for year in ind.min_year.max(1990)..=last {
            cells.push((ind.id.clone(), year));
        }
    }
    if cells.len() < a.batch {
        bail!(
            "--batch {} is larger than the {} distinct cells available",
            a.batch,
            cells.len()
        );
    }
    let cells = Arc::new(cells);
    let regions = Arc::new(regions);
    let start_micros = chrono::Utc::now().timestamp_micros();
    let run_id = format!("loadgen-{start_micros}");
    // Where this run's values start: another run (on the same store) writes other values,
    // so its observations are revisions too, never unchanged no-ops.
    let seed = start_micros.unsigned_abs() % 9_999_991;
    let unchanged = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let mut client = IngestServiceClient::new(channels[c % channels.len()].clone())
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        let first_error = first_error.clone();
        let (cells, regions, run_id, acked, errors, unchanged) = (
            cells.clone(),
            regions.clone(),
            run_id.clone(),
            acked.clone(),
            errors.clone(),
            unchanged.clone(),
        );
        let batch = a.batch;
        let conn = a.conn.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("valid histogram");
            let mut i: u64 = 0;
            while Instant::now() < deadline {
                let region = regions[(c + i as usize) % regions.len()].clone();
                let offset = (i as usize * batch + c * 7919) % cells.len();
                let observations = (0..batch)
                    .map(|k| {
                        let (ind, year) = &cells[(offset + k) % cells.len()];
                        proto::Observation {
                            indicator_id: ind.clone(),
                            year: *year,
                            // A value no other write (of this run or, by the seed, of
                            // another) gives the cell, so that every observation is a
                            // revision (none unchanged).
                            value: 50.0
                                + ((seed + c as u64 * 1_000_003 + i * batch as u64 + k as u64)
                                    % 10_000_000) as f64
                                    * 1e-7,
                            status: proto::ObservationStatus::Provisional as i32,
                            source: SYNTHETIC_SOURCE.into(),
                            note: "synthetic: written by tilannekuva loadgen".into(),
                            correction_reason: String::new(),
                        }
                    })
                    .collect();
                let req = proto::SubmitRequest {
                    validate_only: false,
                    submission_id: format!("{run_id}-{c}-{i}"),
                    region_code: region,
                    expected_region_revision: None,
                    observations,
                };
                let t = Instant::now();
                match client.submit(super::client::authed(req, &conn)).await {
                    Ok(r) => {
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                        acked.fetch_add(u64::from(r.get_ref().recorded), Ordering::Relaxed);
                        unchanged.fetch_add(u64::from(r.get_ref().unchanged), Ordering::Relaxed);
                    }
                    Err(status) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        first.get_or_insert_with(|| {
                            format!("{:?}: {}", status.code(), status.message())
                        });
                    }
                }
                i += 1;
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new(3).expect("valid histogram");
    for t in tasks {
        hist.add(t.await?)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let obs = acked.load(Ordering::Relaxed);
    super::output::emit(&format!(
        "clients={} connections={} batch={} duration={:.1}s\n\
         acknowledged: {} observations in {} submissions ({} errors; {} observations \
         unchanged, not recorded)\n\
         throughput: {:.0} observations/s, {:.0} submissions/s\n\
         latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
        a.clients,
        a.connections,
        a.batch,
        secs,
        obs,
        hist.len(),
        errors.load(Ordering::Relaxed),
        unchanged.load(Ordering::Relaxed),
        obs as f64 / secs,
        hist.len() as f64 / secs,
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0
    ))
}
