//! `tilannekuva loadgen`: N concurrent clients, each with one `Submit` in flight, for a
//! fixed duration. Prints acknowledged observations per second and latency percentiles.
//! Every request is bounded in count by the duration and goes only to the given server.
//!
//! With `--scrapers N` the run alternates phases without and with N connections scraping
//! `/metrics`, and reports the submit latency of both kinds of phase side by side: what a
//! scrape costs a write, measured in one run on the same machine. Submissions that span a
//! phase change, or start in a phase's first quarter, count in neither.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tonic::transport::Channel;

use super::LoadgenArgs;
use crate::proto;
use crate::proto::catalog_service_client::CatalogServiceClient;
use crate::proto::ingest_service_client::IngestServiceClient;

/// The source every loadgen observation carries: what marks its cells as synthetic.
pub const SYNTHETIC_SOURCE: &str = "tilannekuva loadgen: synthetic benchmark data";

/// Requests that failed: how many, and the first one's status.
#[derive(Default)]
struct Failures {
    count: AtomicU64,
    first: std::sync::Mutex<Option<String>>,
}

impl Failures {
    fn record(&self, status: &tonic::Status) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert_with(|| format!("{:?}: {}", status.code(), status.message()));
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the first failure's status to `report`, if there was one.
    fn report(&self, report: &mut String) {
        if let Some(e) = self
            .first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            report.push_str(&format!("first error: {e}\n"));
        }
    }
}

/// The codes of the areas loadgen writes and reads (`--areas`): the regions compared in the
/// picture now (all but `SSS` and those that ended, which take no figure of the years
/// loadgen writes), or the municipalities of the latest division.
async fn areas(ch: Channel, conn: &super::ConnArgs, kind: &str) -> anyhow::Result<Vec<String>> {
    let mut catalog = CatalogServiceClient::new(ch);
    match kind {
        "regions" => Ok(catalog
            .list_regions(super::client::authed(proto::ListRegionsRequest {}, conn))
            .await?
            .into_inner()
            .regions
            .into_iter()
            .filter(|r| r.code != "SSS" && r.last_year.is_none())
            .map(|r| r.code)
            .collect()),
        "municipalities" => {
            let latest = catalog
                .list_divisions(super::client::authed(proto::ListDivisionsRequest {}, conn))
                .await?
                .into_inner()
                .divisions
                .iter()
                .map(|d| d.year)
                .max()
                .ok_or_else(|| anyhow::anyhow!("the server's catalog holds no divisions"))?;
            let list = catalog
                .list_municipalities(super::client::authed(
                    proto::ListMunicipalitiesRequest { borders: latest },
                    conn,
                ))
                .await?
                .into_inner()
                .municipalities;
            Ok(list.into_iter().map(|m| m.code).collect())
        }
        other => bail!("--areas {other:?} must be regions or municipalities"),
    }
}

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

pub(crate) async fn run(a: LoadgenArgs) -> anyhow::Result<()> {
    if a.clients == 0 || a.batch == 0 || a.connections == 0 {
        bail!("--clients, --connections and --batch must be at least 1");
    }
    let mut channels = Vec::new();
    for _ in 0..a.connections {
        channels.push(super::client::channel(&a.server, &a.conn).await?);
    }
    if let Some(kind) = a.read.clone() {
        return reads(&a, &kind, channels).await;
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
    let regions = areas(channels[0].clone(), &a.conn, &a.areas).await?;
    let this_year = crate::write::current_year();
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
    let acked = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Failures::default());
    // Phases: without scrapers there is one, never scraping.
    let (phase_tx, scraping) = watch::channel(Phase {
        generation: 0,
        scraping: false,
        since: Instant::now(),
    });
    let scrapes = Arc::new(ScrapeCounts::default());
    let mut scraper_tasks = Vec::new();
    // A phase's first quarter is left out of both: work the previous phase started (a
    // render the server began for a scrape) may still be running.
    let guard = Duration::from_secs_f64(a.phase.max(0.0) / 4.0);
    if a.scrapers > 0 {
        if !(a.phase.is_finite() && a.phase > 0.0) {
            bail!("--phase must be a positive number of seconds");
        }
        if a.duration < 2.0 * a.phase {
            bail!("--duration must be at least two phases (2 × --phase) to compare them");
        }
        let target = ScrapeTarget::parse("--metrics-url", &a.metrics_url)?;
        // One scrape before the run: a wrong address fails here, not silently later.
        let mut probe = target.connect().await?;
        target
            .scrape(&mut probe)
            .await
            .with_context(|| format!("scraping {} before the run", a.metrics_url))?;
        drop(probe);
        for _ in 0..a.scrapers {
            let (target, scraping, scrapes) = (target.clone(), scraping.clone(), scrapes.clone());
            scraper_tasks.push(tokio::spawn(scraper(target, scraping, scrapes)));
        }
    }
    // Visibility on a replica: when each sequence arrived in its feed.
    let visibility = match &a.replica {
        Some(url) => Some(Visibility::start(channels[0].clone(), url, &a.conn).await?),
        None => None,
    };
    let acks: Arc<std::sync::Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    if a.scrapers > 0 {
        let phase = Duration::from_secs_f64(a.phase);
        tokio::spawn(async move {
            let mut generation = 0;
            while Instant::now() < deadline {
                tokio::time::sleep(phase.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                generation += 1;
                let _ = phase_tx.send(Phase {
                    generation,
                    scraping: generation % 2 == 1,
                    since: Instant::now(),
                });
            }
            let _ = phase_tx.send(Phase {
                generation: generation + 1,
                scraping: false,
                since: Instant::now(),
            });
        });
    }
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let mut client = IngestServiceClient::new(channels[c % channels.len()].clone())
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        let (cells, regions, run_id, acked, failures, unchanged) = (
            cells.clone(),
            regions.clone(),
            run_id.clone(),
            acked.clone(),
            failures.clone(),
            unchanged.clone(),
        );
        let batch = a.batch;
        let conn = a.conn.clone();
        let scraping = scraping.clone();
        let acks = visibility.is_some().then(|| acks.clone());
        tasks.push(tokio::spawn(async move {
            // [without scrapers, with scrapers, across a phase change or in a guard]
            let mut hist = [(); 3].map(|()| Histogram::<u64>::new(3).expect("valid histogram"));
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
                            borders: None,
                            published: None,
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
                let phase = *scraping.borrow();
                match client.submit(super::client::authed(req, &conn)).await {
                    Ok(r) => {
                        let kind = if phase.generation == scraping.borrow().generation
                            && t >= phase.since + guard
                        {
                            usize::from(phase.scraping)
                        } else {
                            2
                        };
                        let _ = hist[kind].record(t.elapsed().as_micros() as u64);
                        if let Some(acks) = &acks {
                            let mut acks = acks.lock().unwrap_or_else(|p| p.into_inner());
                            acks.push((r.get_ref().last_sequence, Instant::now()));
                        }
                        acked.fetch_add(u64::from(r.get_ref().recorded), Ordering::Relaxed);
                        unchanged.fetch_add(u64::from(r.get_ref().unchanged), Ordering::Relaxed);
                    }
                    Err(status) => failures.record(&status),
                }
                i += 1;
            }
            hist
        }));
    }
    let mut hist = [(); 3].map(|()| Histogram::<u64>::new(3).expect("valid histogram"));
    for t in tasks {
        for (sum, h) in hist.iter_mut().zip(t.await?) {
            sum.add(h)?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    for t in scraper_tasks {
        t.abort();
    }
    let obs = acked.load(Ordering::Relaxed);
    let mut all = hist[0].clone();
    all.add(&hist[1])?;
    all.add(&hist[2])?;
    let mut report = format!(
        "clients={} connections={} batch={} duration={:.1}s\n\
         acknowledged: {} observations in {} submissions ({} errors; {} observations \
         unchanged, not recorded)\n\
         throughput: {:.0} observations/s, {:.0} submissions/s\n\
         latency: {}\n",
        a.clients,
        a.connections,
        a.batch,
        secs,
        obs,
        all.len(),
        failures.count(),
        unchanged.load(Ordering::Relaxed),
        obs as f64 / secs,
        all.len() as f64 / secs,
        latency(&all),
    );
    if a.scrapers > 0 {
        let ratio = if hist[0].is_empty() || hist[1].is_empty() {
            "n/a (no submission finished within one of the kinds of phase)".to_owned()
        } else {
            format!(
                "{:.2}x",
                hist[1].value_at_quantile(0.99) as f64
                    / hist[0].value_at_quantile(0.99).max(1) as f64
            )
        };
        report.push_str(&format!(
            "phases of {:.1}s without / with {} scrapers of {}:\n\
             \x20 without scrapers: {} submissions, {}\n\
             \x20 with scrapers:    {} submissions, {}\n\
             \x20 p99 with / without: {ratio}\n\
             \x20 ({} submissions across a phase change or in a phase's first quarter: in \
             neither)\n\
             scrapes: {} answered ({:.1} MB), {} refused (503), {} failed\n",
            a.phase,
            a.scrapers,
            a.metrics_url,
            hist[0].len(),
            latency(&hist[0]),
            hist[1].len(),
            latency(&hist[1]),
            hist[2].len(),
            scrapes.answered.load(Ordering::Relaxed),
            scrapes.bytes.load(Ordering::Relaxed) as f64 / 1e6,
            scrapes.refused.load(Ordering::Relaxed),
            scrapes.failed.load(Ordering::Relaxed),
        ));
    }
    if let Some(v) = visibility {
        let acks = std::mem::take(&mut *acks.lock().unwrap_or_else(|p| p.into_inner()));
        report.push_str(&v.report(&acks).await);
    }
    failures.report(&mut report);
    super::output::emit(&report)
}

/// A replica's event feed, and when each sequence arrived in it.
struct Visibility {
    arrived: Arc<std::sync::Mutex<std::collections::HashMap<u64, Instant>>>,
    feed: tokio::task::JoinHandle<()>,
}

impl Visibility {
    /// Follows the replica's feed from the writer's next sequence.
    async fn start(
        writer: Channel,
        replica: &str,
        conn: &super::ConnArgs,
    ) -> anyhow::Result<Visibility> {
        use crate::proto::picture_service_client::PictureServiceClient;
        let head = PictureServiceClient::new(writer)
            .get_national_picture(super::client::authed(
                proto::GetNationalPictureRequest {
                    year: 2020,
                    as_of: None,
                    min_sequence: 0,
                    borders: String::new(),
                },
                conn,
            ))
            .await
            .map_err(super::client::describe)?
            .into_inner()
            .as_of_sequence;
        let ch = super::client::channel(replica, conn).await?;
        let mut feed = PictureServiceClient::new(ch)
            .read_events(super::client::authed(
                proto::ReadEventsRequest {
                    from_sequence: head + 1,
                    follow: true,
                },
                conn,
            ))
            .await
            .map_err(super::client::describe)?
            .into_inner();
        let arrived: Arc<std::sync::Mutex<std::collections::HashMap<u64, Instant>>> =
            Arc::default();
        let a = arrived.clone();
        let feed = tokio::spawn(async move {
            while let Ok(Some(m)) = feed.message().await {
                if let Some(e) = m.event {
                    let mut a = a.lock().unwrap_or_else(|p| p.into_inner());
                    a.insert(e.sequence, Instant::now());
                }
            }
        });
        Ok(Visibility { arrived, feed })
    }

    /// Waits (up to 10 s) for the last acknowledged sequence, then: how long after each
    /// acknowledgement the replica had it (0 when it had it before the client had the ack).
    async fn report(self, acks: &[(u64, Instant)]) -> String {
        let last = acks.iter().map(|(s, _)| *s).max().unwrap_or(0);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until
            && !self
                .arrived
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&last)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.feed.abort();
        let arrived = self.arrived.lock().unwrap_or_else(|p| p.into_inner());
        let mut hist = Histogram::<u64>::new(3).expect("valid histogram");
        for (seq, acked_at) in acks {
            if let Some(at) = arrived.get(seq) {
                let _ = hist.record(at.saturating_duration_since(*acked_at).as_micros() as u64);
            }
        }
        format!(
            "visible on the replica: {} of {} acknowledged submissions; after the \
             acknowledgement {}\n",
            hist.len(),
            acks.len(),
            latency(&hist)
        )
    }
}

/// With `--rate`: a request sent later than this after it was due (tokio's timer wakes
/// up to a millisecond late) counts as late: the client fell behind the offered rate.
const LATE: Duration = Duration::from_millis(2);

/// The regions and the years with figures that `--read` reads, round robin.
async fn readable(a: &LoadgenArgs, channel: Channel) -> anyhow::Result<(Vec<String>, Vec<i32>)> {
    use crate::proto::picture_service_client::PictureServiceClient;
    let regions = areas(channel.clone(), &a.conn, &a.areas).await?;
    // The years with figures: those of the national picture's indicators that any region
    // reported, probed over the span loadgen writes.
    let this_year = crate::write::current_year();
    let mut years = Vec::new();
    let mut probe = PictureServiceClient::new(channel);
    for year in 1990..=this_year {
        let p = probe
            .get_national_picture(super::client::authed(
                proto::GetNationalPictureRequest {
                    year,
                    as_of: None,
                    min_sequence: 0,
                    borders: String::new(),
                },
                &a.conn,
            ))
            .await
            .map_err(super::client::describe)?
            .into_inner();
        if p.indicators.iter().any(|i| i.regions_reported > 0) {
            years.push(year);
        }
    }
    if years.is_empty() || regions.is_empty() {
        bail!("the server holds no figures to read; fill it first (loadgen without --read)");
    }
    Ok((regions, years))
}

/// The indicators that compare areas (a ratio or a weighted mean), directional ones only
/// when `directional`.
async fn comparing(
    conn: &super::ConnArgs,
    channel: Channel,
    directional: bool,
) -> anyhow::Result<Vec<String>> {
    let list = CatalogServiceClient::new(channel)
        .list_indicators(super::client::authed(
            proto::ListIndicatorsRequest { theme: None },
            conn,
        ))
        .await
        .map_err(super::client::describe)?
        .into_inner()
        .indicators;
    let compares = [
        proto::Aggregation::Ratio as i32,
        proto::Aggregation::WeightedMean as i32,
    ];
    let ids: Vec<String> = list
        .into_iter()
        .filter(|i| compares.contains(&i.aggregation))
        .filter(|i| !directional || i.direction != proto::Direction::Neutral as i32)
        .map(|i| i.id)
        .collect();
    if ids.is_empty() {
        bail!("the catalog has no indicator that compares areas");
    }
    Ok(ids)
}

/// `--read`: N clients reading pictures for the duration, closed loop or at an offered rate.
/// Latency counts from when a request is sent; with `--rate`, requests sent more than
/// [`LATE`] after they were due are counted and reported. With `--floor`, the run
/// alternates between the service and a no-work server answering the same bytes
/// (`super::floor`), and reports both side by side.
async fn reads(a: &LoadgenArgs, kind: &str, channels: Vec<Channel>) -> anyhow::Result<()> {
    if !(a.rate.is_finite() && a.rate >= 0.0) {
        bail!("--rate must be a number of requests per second, 0 or more");
    }
    if a.floor && kind != "region" {
        bail!("--floor compares region-picture reads: give it with --read region");
    }
    // The health Check reads nothing: it needs no figures (nor a token).
    let (regions, years) = if kind == "health" {
        (Vec::new(), Vec::new())
    } else {
        readable(a, channels[0].clone()).await?
    };
    let indicators = match kind {
        "disparities" | "forerunners" => {
            comparing(&a.conn, channels[0].clone(), kind == "forerunners").await?
        }
        _ => Vec::new(),
    };
    let cells = Arc::new(Cells {
        regions,
        years,
        indicators,
    });
    let header = format!(
        "read={kind} clients={} connections={} rate={} as_of_sequence={} duration={:.1}s\n",
        a.clients,
        a.connections,
        if a.rate > 0.0 {
            format!("{:.0}/s", a.rate)
        } else {
            "closed loop".into()
        },
        a.as_of_sequence,
        a.duration,
    );
    if !a.floor {
        let phase = read_phase(a, kind, &channels, &cells, a.duration).await?;
        return super::output::emit(&format!("{header}{}", phase.report(a, &cells)));
    }
    let pictures = super::floor::fetch(
        &channels[0],
        &a.conn,
        &cells.regions,
        &cells.years,
        read_as_of(a),
    )
    .await?;
    let bytes: usize = pictures.values().map(|b| b.len()).sum();
    let floor = super::floor::Floor::start(pictures)?;
    let mut floor_channels = Vec::new();
    for _ in 0..a.connections {
        floor_channels.push(super::client::channel(&floor.url, &a.conn).await?);
    }
    // Side by side: floor, service, floor, service, each a quarter of the run.
    let mut sides: [Option<ReadPhase>; 2] = [None, None];
    for k in 0..4 {
        let on = if k % 2 == 0 {
            &floor_channels
        } else {
            &channels
        };
        let phase = read_phase(a, kind, on, &cells, a.duration / 4.0).await?;
        let side = &mut sides[k % 2];
        match side {
            Some(s) => s.add(phase)?,
            None => *side = Some(phase),
        }
    }
    floor.stop();
    let [Some(floor), Some(service)] = sides else {
        unreachable!("four phases fill both sides");
    };
    let ratio = service.rate() / floor.rate().max(f64::MIN_POSITIVE);
    super::output::emit(&format!(
        "{header}the same {} pictures ({} bytes on average) answered by the floor (no work) and \
         by the service, alternately, {:.1} s each in all\n\
         == floor\n{}== service\n{}service / floor: {ratio:.2}\n",
        cells.regions.len() * cells.years.len(),
        bytes / (cells.regions.len() * cells.years.len()).max(1),
        a.duration / 2.0,
        floor.report(a, &cells),
        service.report(a, &cells),
    ))
}

/// The areas, years and indicators `--read` reads, round robin.
struct Cells {
    regions: Vec<String>,
    years: Vec<i32>,
    /// For `disparities` and `forerunners`: the indicators that compare areas (directional
    /// ones for `forerunners`).
    indicators: Vec<String>,
}

/// What one read phase measured.
struct ReadPhase {
    hist: Histogram<u64>,
    failures: Arc<Failures>,
    late: u64,
    secs: f64,
}

impl ReadPhase {
    fn rate(&self) -> f64 {
        self.hist.len() as f64 / self.secs
    }

    /// Another phase of the same side.
    fn add(&mut self, other: ReadPhase) -> anyhow::Result<()> {
        self.hist.add(&other.hist)?;
        self.secs += other.secs;
        self.late += other.late;
        if other.failures.count() > 0 {
            self.failures = other.failures;
        }
        Ok(())
    }

    fn report(&self, a: &LoadgenArgs, cells: &Cells) -> String {
        let mut report = format!(
            "answered: {} reads ({} errors) over {} regions x {} years in {:.1}s\n\
             throughput: {:.0} reads/s\n\
             latency: {}\n",
            self.hist.len(),
            self.failures.count(),
            cells.regions.len(),
            cells.years.len(),
            self.secs,
            self.rate(),
            latency(&self.hist),
        );
        if a.rate > 0.0 {
            report.push_str(&format!(
                "sent more than {} ms after due (behind the offered rate): {}\n",
                LATE.as_millis(),
                self.late
            ));
        }
        self.failures.report(&mut report);
        report
    }
}

/// The point `--read` reads at (`--as-of-sequence`; none: the latest).
fn read_as_of(a: &LoadgenArgs) -> Option<proto::AsOf> {
    (a.as_of_sequence > 0).then_some(proto::AsOf {
        point: Some(proto::as_of::Point::Sequence(a.as_of_sequence)),
    })
}

/// N clients reading `kind` over `channels` for `duration` seconds.
async fn read_phase(
    a: &LoadgenArgs,
    kind: &str,
    channels: &[Channel],
    cells: &Arc<Cells>,
    duration: f64,
) -> anyhow::Result<ReadPhase> {
    use crate::proto::picture_service_client::PictureServiceClient;
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let as_of = read_as_of(a);
    let failures = Arc::new(Failures::default());
    let late = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(duration);
    // Open loop: request k of client c is due at start + (k * clients + c) / rate.
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(a.clients as f64 / a.rate));
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let mut client = PictureServiceClient::new(channels[c % channels.len()].clone())
            .max_decoding_message_size(64 << 20);
        let mut health = HealthClient::new(channels[c % channels.len()].clone());
        let (cells, failures, late) = (cells.clone(), failures.clone(), late.clone());
        let (conn, kind, as_of) = (a.conn.clone(), kind.to_owned(), as_of);
        let offset = interval.map(|i| i.mul_f64(c as f64 / a.clients as f64));
        // `open-data`: this client's keep-alive HTTP connection.
        let mut http = match kind.as_str() {
            "open-data" => {
                let target = ScrapeTarget::parse("--http-url", &a.http_url)?;
                let stream = target.connect().await?;
                Some((target, stream))
            }
            _ => None,
        };
        let as_of_query = match a.as_of_sequence {
            0 => String::new(),
            s => format!("&as_of={s}"),
        };
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("valid histogram");
            let mut i: usize = 0;
            loop {
                let due = match (interval, offset) {
                    (Some(iv), Some(off)) => started + off + iv.mul_f64(i as f64),
                    _ => Instant::now(),
                };
                if due >= deadline {
                    break;
                }
                // (Not through the timer when it is already due: tokio's timer would add up
                // to a millisecond.)
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
                let sent = Instant::now();
                if sent.saturating_duration_since(due) > LATE {
                    late.fetch_add(1, Ordering::Relaxed);
                }
                let cell = || {
                    let (regions, years) = (&cells.regions, &cells.years);
                    let year = years[(i / regions.len() + c) % years.len()];
                    (regions[(i + c * 7) % regions.len()].clone(), year)
                };
                let answer = if let Some((target, stream)) = http.as_mut() {
                    let (region, year) = cell();
                    let path = format!("/v1/regions/{region}/picture?year={year}{as_of_query}");
                    match target.get(stream, &path, conn.token.as_deref()).await {
                        Ok((200, _)) => Ok(()),
                        Ok((code, _)) => Err(tonic::Status::unknown(format!("HTTP {code}"))),
                        Err(e) => Err(tonic::Status::unavailable(e.to_string())),
                    }
                } else if kind == "health" {
                    health
                        .check(HealthCheckRequest {
                            service: String::new(),
                        })
                        .await
                        .map(|_| ())
                } else if let Some(read) = analysis(&kind, &cells, i, c, cell().1) {
                    let (region, year) = cell();
                    read.send(&mut client, &conn, region, year, as_of).await
                } else if kind == "region" {
                    let (region, year) = cell();
                    client
                        .get_region_picture(super::client::authed(
                            proto::GetRegionPictureRequest {
                                region_code: region,
                                year,
                                as_of,
                                min_sequence: 0,
                                borders: String::new(),
                            },
                            &conn,
                        ))
                        .await
                        .map(|_| ())
                } else {
                    let (_, year) = cell();
                    client
                        .get_national_picture(super::client::authed(
                            proto::GetNationalPictureRequest {
                                year,
                                as_of,
                                min_sequence: 0,
                                borders: String::new(),
                            },
                            &conn,
                        ))
                        .await
                        .map(|_| ())
                };
                match answer {
                    Ok(()) => {
                        let _ = hist.record(sent.elapsed().as_micros() as u64);
                    }
                    Err(status) => failures.record(&status),
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
    Ok(ReadPhase {
        hist,
        failures,
        late: late.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    })
}

/// One read of what the network uses the picture for (`--read similar`, `disparities`,
/// `forerunners`, `targets`).
enum Analysis {
    Similar,
    Disparities(String),
    /// The indicator and the span.
    Forerunners(String, (i32, i32)),
    Targets,
}

/// The analysis read of client `c`'s `i`th request, if `kind` is one.
fn analysis(kind: &str, cells: &Cells, i: usize, c: usize, year: i32) -> Option<Analysis> {
    let indicator = || cells.indicators[(i + c) % cells.indicators.len()].clone();
    // The five years to `year`, or the first five the log holds.
    let first = cells.years.first().copied().unwrap_or(year);
    let from = if year - 5 >= first { year - 5 } else { first };
    Some(match kind {
        "similar" => Analysis::Similar,
        "disparities" => Analysis::Disparities(indicator()),
        "forerunners" => Analysis::Forerunners(indicator(), (from, from + 5)),
        "targets" => Analysis::Targets,
        _ => return None,
    })
}

impl Analysis {
    async fn send(
        self,
        client: &mut crate::proto::picture_service_client::PictureServiceClient<Channel>,
        conn: &super::ConnArgs,
        area: String,
        year: i32,
        as_of: Option<proto::AsOf>,
    ) -> Result<(), tonic::Status> {
        use super::client::authed;
        // The level of the areas read (`--areas`).
        let level = crate::projection::Level::of(&area).as_str().to_owned();
        match self {
            Analysis::Similar => client
                .get_similar_areas(authed(
                    proto::GetSimilarAreasRequest {
                        region_code: area,
                        year,
                        as_of,
                        ..Default::default()
                    },
                    conn,
                ))
                .await
                .map(drop),
            Analysis::Disparities(indicator_id) => client
                .get_disparities(authed(
                    proto::GetDisparitiesRequest {
                        indicator_id,
                        from_year: year,
                        level,
                        as_of,
                        ..Default::default()
                    },
                    conn,
                ))
                .await
                .map(drop),
            Analysis::Forerunners(indicator_id, (from_year, to_year)) => client
                .get_forerunners(authed(
                    proto::GetForerunnersRequest {
                        indicator_id,
                        from_year,
                        to_year,
                        level,
                        as_of,
                        ..Default::default()
                    },
                    conn,
                ))
                .await
                .map(drop),
            Analysis::Targets => client
                .get_targets(authed(
                    proto::GetTargetsRequest {
                        as_of,
                        ..Default::default()
                    },
                    conn,
                ))
                .await
                .map(drop),
        }
    }
}

fn latency(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    )
}

/// Which phase the run is in.
#[derive(Clone, Copy)]
struct Phase {
    /// Counts phase changes: a submission that saw two generations is in neither phase.
    generation: u64,
    scraping: bool,
    since: Instant,
}

#[derive(Default)]
struct ScrapeCounts {
    answered: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
}

/// One scraper: while the phase is on, scrapes in a loop on one keep-alive connection,
/// reading each (uncompressed) answer to its end and discarding it. When the phase ends,
/// the connection is dropped mid-scrape, so no queued scrape is answered in the next phase
/// (a render the server started may still finish there: see the guard in [`run`]).
async fn scraper(
    target: ScrapeTarget,
    mut scraping: watch::Receiver<Phase>,
    counts: Arc<ScrapeCounts>,
) {
    loop {
        let running = scraping.wait_for(|p| p.scraping).await.is_ok();
        if !running {
            return;
        }
        let mut off = scraping.clone();
        let run = async {
            let mut conn = target.connect().await?;
            loop {
                let (status, bytes) = target.scrape(&mut conn).await?;
                counts.bytes.fetch_add(bytes, Ordering::Relaxed);
                match status {
                    200 => counts.answered.fetch_add(1, Ordering::Relaxed),
                    _ => counts.refused.fetch_add(1, Ordering::Relaxed),
                };
            }
            #[allow(unreachable_code)]
            anyhow::Ok(())
        };
        tokio::select! {
            r = run => if r.is_err() {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            },
            () = async { let _ = off.wait_for(|p| !p.scraping).await; } => {}
        }
    }
}

/// A plain-HTTP address (`/metrics`, or the open data).
#[derive(Clone)]
struct ScrapeTarget {
    host: String,
    path: String,
}

impl ScrapeTarget {
    /// `url` (given as `flag`).
    fn parse(flag: &str, url: &str) -> anyhow::Result<ScrapeTarget> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{flag} {url:?}: only http:// addresses"))?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Ok(ScrapeTarget {
            host: host.to_owned(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
        })
    }

    async fn connect(&self) -> anyhow::Result<tokio::io::BufReader<tokio::net::TcpStream>> {
        let stream = tokio::net::TcpStream::connect(&self.host)
            .await
            .with_context(|| format!("connecting to {}", self.host))?;
        Ok(tokio::io::BufReader::with_capacity(64 << 10, stream))
    }

    /// One GET of the address's own path (`/metrics`) on a keep-alive connection.
    async fn scrape(
        &self,
        conn: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    ) -> anyhow::Result<(u16, u64)> {
        self.get(conn, &self.path, None).await
    }

    /// One GET of `path` on a keep-alive connection (with a bearer `token`): the answer's
    /// status and body length. The body is read to its end and discarded.
    async fn get(
        &self,
        conn: &mut tokio::io::BufReader<tokio::net::TcpStream>,
        path: &str,
        token: Option<&str>,
    ) -> anyhow::Result<(u16, u64)> {
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}\r\n", self.host);
        conn.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        conn.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP answer: {:?}", line.trim_end()))?;
        let mut length = None;
        loop {
            line.clear();
            if conn.read_line(&mut line).await? == 0 {
                bail!("connection closed in the answer's head");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = Some(v.trim().parse::<u64>()?);
                }
            }
        }
        let length = length.context("answer without Content-Length")?;
        let read = tokio::io::copy(&mut (&mut *conn).take(length), &mut tokio::io::sink()).await?;
        if read < length {
            bail!("connection closed in the answer's body");
        }
        Ok((status, length))
    }
}
