//! Replication over NATS JetStream: the log, event for event, in a stream.
//!
//! - The **writer** (`serve --nats-url`) publishes every committed event, in log order, to
//!   the stream ([`outbox`]). Each publish carries `Nats-Expected-Last-Sequence = sequence
//!   − 1` and `Nats-Msg-Id` = the event's hash, so the stream's sequence *is* the log's
//!   sequence: no gap, no duplicate, and a second writer's publish fails (fencing).
//! - A **read replica** (`serve --follow`) consumes the stream into its own store through the
//!   same write pipeline and fold as the writer's own events ([`follow`]), checking the
//!   hash chain as it applies.
//! - At start a writer whose store is behind the stream takes the missing events from it
//!   first ([`repair`]); a store that disagrees with the stream is refused.
//!
//! The message payload is the protobuf `Event` that `ReadEvents` returns (with `prev_hash`
//! and `hash`), so any NATS client can follow the national feed and check the chain.

pub(crate) mod failover;
pub(crate) mod follow;
pub(crate) mod outbox;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use prost::Message as _;

use crate::api::convert::{event_from_proto, event_to_proto};
use crate::domain::Event;
use crate::proto;

/// Where the stream is, and how it is made.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// NATS server URL(s), comma-separated.
    pub url: String,
    /// The stream's name (`--nats-stream`).
    pub stream: String,
    /// Replicas of the stream when this server creates it (`--nats-replicas`).
    pub replicas: usize,
}

/// When a write is acknowledged (`--replication`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Durable in the local store; the stream follows.
    Async,
    /// Durable in the local store and acknowledged by the stream (a quorum of its replicas).
    Sync,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Sync => "sync",
        }
    }
}

/// Subjects of the stream: `tilannekuva.events.<region>`; catalog events (no region) on
/// `tilannekuva.events.catalog`.
pub(crate) const SUBJECTS: &str = "tilannekuva.events.>";

/// The subject an event is published on.
pub(crate) fn subject(e: &Event) -> String {
    if e.region_code.is_empty() {
        "tilannekuva.events.catalog".to_owned()
    } else {
        format!("tilannekuva.events.{}", e.region_code)
    }
}

/// The stream's message for an event.
pub(crate) fn encode(e: &Event) -> bytes::Bytes {
    event_to_proto(e).encode_to_vec().into()
}

/// An event from a stream message stored at `stream_sequence`: it must decode, carry that
/// sequence, and its hash must recompute (the link to the previous event is checked where
/// it is applied).
pub(crate) fn decode(payload: &[u8], stream_sequence: u64) -> Result<Event, String> {
    let p = proto::Event::decode(payload)
        .map_err(|e| format!("stream message {stream_sequence} is not an Event: {e}"))?;
    let e = event_from_proto(&p)?;
    if e.sequence != stream_sequence {
        return Err(format!(
            "stream message {stream_sequence} holds event {}: the stream's sequence must be the \
             log's",
            e.sequence
        ));
    }
    if e.compute_hash() != e.hash {
        return Err(format!(
            "stream message {stream_sequence}: the event's hash does not recompute"
        ));
    }
    Ok(e)
}

/// Why a replication session (the outbox's or a follower's) ended.
pub(crate) enum Ended {
    /// NATS is unreachable or failed: worth another session after a backoff.
    Retry(String),
    /// The stream and this server's log cannot go on together (another writer's events, a
    /// stream that does not continue the log): stop for good.
    Stop(String),
}

/// Runs sessions one after another until `stop` (`None`) or one ends with
/// [`Ended::Stop`] (`Some(why)`). A session that ends with [`Ended::Retry`] is logged as
/// `who`'s, counted, `on_retry` runs, and the next starts after a backoff that grows with
/// `failures` (which a session resets once it is up).
pub(crate) async fn sessions<Fut: std::future::Future<Output = Ended>>(
    who: &str,
    metrics: &crate::metrics::Metrics,
    failures: &std::sync::atomic::AtomicU32,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    mut session: impl FnMut() -> Fut,
    on_retry: impl Fn(),
) -> Option<String> {
    loop {
        let ended = tokio::select! {
            ended = session() => ended,
            _ = stop.wait_for(|s| *s) => return None,
        };
        metrics.nats_connected.set(0);
        match ended {
            Ended::Retry(why) => {
                metrics.nats_errors.inc();
                on_retry();
                tracing::warn!(error = %why, "{who}: NATS session ended; retrying");
                let failed = failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let wait = backoff(failed);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return None,
                }
            }
            Ended::Stop(why) => return Some(why),
        }
    }
}

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to NATS (one attempt; the callers retry with backoff).
pub async fn connect(cfg: &NatsConfig) -> Result<jetstream::Context, String> {
    connect_watched(cfg, None).await
}

/// Connects to NATS; `connected` follows the connection (1 while connected, 0 while the
/// client is reconnecting).
pub(crate) async fn connect_watched(
    cfg: &NatsConfig,
    connected: Option<prometheus::IntGauge>,
) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .name("tilannekuva")
        .event_callback(move |event| {
            let connected = connected.clone();
            async move {
                match (event, &connected) {
                    (async_nats::Event::Connected, Some(g)) => g.set(1),
                    (async_nats::Event::Disconnected | async_nats::Event::Closed, Some(g)) => {
                        g.set(0)
                    }
                    _ => {}
                }
            }
        })
        .connect(
            // Several servers (a cluster) as a comma-separated list.
            cfg.url
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>(),
        )
        .await
        .map_err(|e| format!("cannot connect to NATS at {}: {e}", cfg.url))?;
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(10));
    Ok(js)
}

/// The stream, created if it does not exist (file storage, `replicas`, no deletes or
/// purges, direct get for reading one event by sequence, atomic batch publishing).
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    cfg: &NatsConfig,
) -> Result<stream::Stream, String> {
    let mut stream = js
        .get_or_create_stream(stream::Config {
            name: cfg.stream.clone(),
            description: Some("tilannekuva's event log: stream sequence = log sequence".into()),
            subjects: vec![SUBJECTS.into()],
            storage: stream::StorageType::File,
            num_replicas: cfg.replicas,
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            allow_atomic_publish: true,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot create or open the stream {}: {e}", cfg.stream))?;
    // A stream made before atomic batches were used, or by hand: allow them.
    let info = stream
        .info()
        .await
        .map_err(|e| format!("cannot read the stream {}: {e}", cfg.stream))?;
    if !info.config.allow_atomic_publish {
        let mut config = info.config.clone();
        config.allow_atomic_publish = true;
        js.update_stream(config).await.map_err(|e| {
            format!(
                "the stream {} must allow atomic batch publishing (nats-server 2.12 or later): {e}",
                cfg.stream
            )
        })?;
        stream = js
            .get_stream(&cfg.stream)
            .await
            .map_err(|e| format!("cannot open the stream {}: {e}", cfg.stream))?;
    }
    Ok(stream)
}

/// The stream's last sequence (0 when empty).
pub async fn last_sequence(s: &stream::Stream) -> Result<u64, String> {
    Ok(s.get_info()
        .await
        .map_err(|e| format!("cannot read the stream's state: {e}"))?
        .state
        .last_sequence)
}

/// The event stored at `sequence` (`None` when the stream has no message there). Asked of
/// the stream's leader (not a direct get, which any replica of an R3 stream may answer,
/// possibly before it has the message).
pub async fn event_at(s: &stream::Stream, sequence: u64) -> Result<Option<Event>, String> {
    match s.get_raw_message(sequence).await {
        Ok(m) => decode(&m.payload, sequence).map(Some),
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(format!("cannot read stream message {sequence}: {e}")),
    }
}

/// Backoff between failed sessions: 0.2 s doubling to 5 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << failures.min(5))).min(Duration::from_secs(5))
}

/// Brings a writer's store up to the stream before it serves: events the stream holds beyond
/// the store's last are appended (each checked against the chain), and a store that
/// disagrees with the stream (another hash at the same sequence) is refused naming the
/// sequence. Returns how many events were taken from the stream. Gives up (`Ok(None)`) when
/// NATS cannot be reached within `wait`: the outbox checks again when it connects.
pub(crate) async fn repair(
    log: &crate::store::EventLog,
    cfg: &NatsConfig,
    wait: Duration,
) -> Result<Option<u64>, String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut failures = 0;
    loop {
        match repair_once(log, cfg).await {
            Ok(n) => return Ok(Some(n)),
            Err(Repair::Refused(why)) => return Err(why),
            Err(Repair::Unreachable(e))
                if tokio::time::Instant::now() + backoff(failures) < deadline =>
            {
                tracing::warn!(why = %e, "NATS JetStream not reachable yet");
                tokio::time::sleep(backoff(failures)).await;
                failures += 1;
            }
            Err(Repair::Unreachable(e)) => {
                tracing::warn!(why = %e, "NATS JetStream not reachable: starting without checking the stream; the outbox checks when it connects");
                return Ok(None);
            }
        }
    }
}

/// Why a repair did not happen.
enum Repair {
    /// NATS or the stream could not be read (yet): worth retrying.
    Unreachable(String),
    /// The store and the stream disagree: the server must not start as the writer.
    Refused(String),
}

async fn repair_once(log: &crate::store::EventLog, cfg: &NatsConfig) -> Result<u64, Repair> {
    let js = connect(cfg).await.map_err(Repair::Unreachable)?;
    let stream = match js.get_stream(&cfg.stream).await {
        Ok(s) => s,
        // No stream yet: nothing to take; the outbox creates it.
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(0)
        }
        Err(e) => {
            return Err(Repair::Unreachable(format!(
                "cannot open the stream {}: {e}",
                cfg.stream
            )))
        }
    };
    let stream_last = last_sequence(&stream).await.map_err(Repair::Unreachable)?;
    let local = log
        .last_event()
        .map_err(|e| Repair::Refused(e.to_string()))?;
    let (local_last, local_hash) = local
        .as_ref()
        .map_or((0, crate::domain::ZERO_HASH), |e| (e.sequence, e.hash));
    // The sequence both hold must hold the same event.
    let common = local_last.min(stream_last);
    if let Some(first) = first_difference(log, &stream, common)
        .await
        .map_err(Repair::Unreachable)?
    {
        let report = match report_divergence(log, first).map_err(Repair::Refused)? {
            Some((path, n)) => format!(
                "the {n} events this server holds from sequence {first} on are not in the \
                 stream: they are written to {} (resubmit them through the writer)",
                path.display()
            ),
            None => String::new(),
        };
        return Err(Repair::Refused(format!(
            "this server's log and the stream {} disagree from sequence {first} on (different \
             events; 1..{} agree): refusing to serve. {report}. This server cannot write to \
             this stream again: start it as a replica (--follow) on an empty data directory",
            cfg.stream,
            first - 1
        )));
    }
    if stream_last <= local_last {
        return Ok(0);
    }
    tracing::info!(
        local = local_last,
        stream = stream_last,
        "the local log is behind the stream: taking the missing events from it"
    );
    let (mut last, mut head) = (local_last, local_hash);
    let mut batch = Vec::new();
    for seq in local_last + 1..=stream_last {
        let e = event_at(&stream, seq)
            .await
            .map_err(Repair::Unreachable)?
            .ok_or_else(|| {
                Repair::Refused(format!(
                    "the stream {} has no message at sequence {seq}",
                    cfg.stream
                ))
            })?;
        crate::domain::event::verify_chain(last, head, std::slice::from_ref(&e))
            .map_err(|c| Repair::Refused(format!("stream event {}: {}", c.sequence, c.reason)))?;
        (last, head) = (e.sequence, e.hash);
        batch.push(e);
        if batch.len() == 1000 || seq == stream_last {
            log.append(&batch)
                .map_err(|e| Repair::Refused(e.to_string()))?;
            batch.clear();
        }
    }
    Ok(stream_last - local_last)
}

/// The first sequence at which the log and the stream hold different events, looking at
/// `1..=common` (both hold those): a binary search, since equal hashes at a sequence mean
/// equal chains up to it. `None` when they agree on all of them.
pub(crate) async fn first_difference(
    log: &crate::store::EventLog,
    stream: &stream::Stream,
    common: u64,
) -> Result<Option<u64>, String> {
    let same = |seq: u64| async move {
        let ours = log
            .read_from(seq, 1)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| e.sequence == seq)
            .map(|e| e.hash);
        let theirs = event_at(stream, seq).await?.map(|e| e.hash);
        Ok::<_, String>(ours.is_some() && ours == theirs)
    };
    if common == 0 || same(common).await? {
        return Ok(None);
    }
    // Invariant: `lo` agrees (0 = before the first event), `hi` differs.
    let (mut lo, mut hi) = (0, common);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if same(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(hi))
}

/// Writes this server's events from `first` to the log's end — acknowledged here but not
/// in the stream — to `divergent-<first>-<last>.ndjson` in the data directory (the export
/// format: each names its submission, region, cell and value, so they can be resubmitted).
/// Returns the file and how many events it holds (`None` when there are none).
pub(crate) fn report_divergence(
    log: &crate::store::EventLog,
    first: u64,
) -> Result<Option<(std::path::PathBuf, u64)>, String> {
    let mut lines = String::new();
    let (mut from, mut count, mut last) = (first, 0u64, first);
    loop {
        let events = log.read_from(from, 1024).map_err(|e| e.to_string())?;
        let events: Vec<_> = events.into_iter().filter(|e| e.sequence >= from).collect();
        let Some(end) = events.last().map(|e| e.sequence) else {
            break;
        };
        for e in &events {
            lines.push_str(&crate::cli::export_json_line(e));
            lines.push('\n');
        }
        count += events.len() as u64;
        last = end;
        from = end + 1;
    }
    if count == 0 {
        return Ok(None);
    }
    let path = log
        .data_dir()
        .join(format!("divergent-{first}-{last}.ndjson"));
    std::fs::write(&path, lines).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some((path, count)))
}

/// How this server takes part in replication.
pub(crate) struct Plan {
    pub(crate) cfg: NatsConfig,
    pub(crate) role: PlanRole,
    pub(crate) mode: Mode,
    /// In `sync` mode: how long an answer waits for the stream.
    pub(crate) sync_wait: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) me: failover::Holder,
}

pub(crate) enum PlanRole {
    Writer,
    Replica {
        /// Take over by itself when the writer's lease lapses.
        standby: bool,
    },
}

/// Replication started for a server.
pub(crate) struct Running {
    /// Where promotions are asked for (a replica).
    pub(crate) promote: Option<tokio::sync::mpsc::Sender<failover::PromoteRequest>>,
    /// The task that holds the writer lease (or waits to take it): awaited at shutdown so
    /// that a clean stop hands the lease back.
    pub(crate) lease: Option<tokio::task::JoinHandle<()>>,
}

/// Starts replication for an opened core (a writer's store already repaired, see
/// [`repair`]): the writer takes the lease (refusing to start while a live writer holds
/// it), then publishes and renews; a replica follows, and waits to be promoted (by itself
/// when a standby). Returns where promotions are asked for, on a replica.
pub(crate) async fn start(
    core: &mut crate::server::Core,
    plan: Plan,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Running, String> {
    let (published, confirmed) = tokio::sync::watch::channel(0);
    if plan.mode == Mode::Sync {
        core.writer = core
            .writer
            .clone()
            .with_replication(confirmed, plan.sync_wait);
    }
    let Plan {
        cfg,
        role,
        lease_ttl: ttl,
        me,
        ..
    } = plan;
    match role {
        PlanRole::Writer => {
            core.metrics.set_role("writer");
            let taken =
                match failover::take_at_start(&cfg, &me, ttl, ttl + Duration::from_secs(2)).await {
                    Ok(r) => r,
                    // Another writer: what this log holds beyond the stream would never be
                    // published; say so, and where it is.
                    Err(why) => return Err(format!("{why}{}", unpublished(&core.log, &cfg).await)),
                };
            let (lease, valid) = tokio::sync::watch::channel(None);
            let outbox = outbox::Outbox {
                cfg: cfg.clone(),
                log: core.log.clone(),
                committed: core.applied.clone(),
                published,
                writer: core.writer.clone(),
                metrics: core.metrics.clone(),
                lease: valid,
            };
            tokio::spawn(outbox.run(stop.clone()));
            let lease = tokio::spawn(failover::keep(
                cfg,
                me,
                ttl,
                taken,
                lease,
                core.writer.clone(),
                core.metrics.clone(),
                stop,
            ));
            Ok(Running {
                promote: None,
                lease: Some(lease),
            })
        }
        PlanRole::Replica { standby } => {
            core.metrics.set_role("replica");
            let mut standby = failover::Standby {
                cfg,
                me,
                ttl,
                automatic: standby,
                log: core.log.clone(),
                applied: core.applied.clone(),
                writer: core.writer.clone(),
                metrics: core.metrics.clone(),
                follower: None,
                published,
                kv: None,
            };
            standby.follow();
            let (requests, asked) = tokio::sync::mpsc::channel(4);
            let lease = tokio::spawn(standby.run(asked, stop));
            Ok(Running {
                promote: Some(requests),
                lease: Some(lease),
            })
        }
    }
}

/// For a writer refused at start: the events its log holds beyond the stream's end, written
/// to a file (see [`report_divergence`]), as a sentence to add to the refusal.
async fn unpublished(log: &Arc<crate::store::EventLog>, cfg: &NatsConfig) -> String {
    match find_divergence(log, cfg).await {
        Ok(Some((path, n))) => format!(
            ". This server's log holds {n} events the stream does not: written to {} \
             (resubmit them through the writer)",
            path.display()
        ),
        Ok(None) => String::new(),
        Err(e) => format!(". (Could not compare this server's log with the stream: {e})"),
    }
}

/// The events this server's log holds that the stream does not — from the first sequence
/// where the two differ, or beyond the stream's end — written to a file (see
/// [`report_divergence`]); `None` when the stream holds them all.
pub(crate) async fn find_divergence(
    log: &Arc<crate::store::EventLog>,
    cfg: &NatsConfig,
) -> Result<Option<(std::path::PathBuf, u64)>, String> {
    let js = connect(cfg).await?;
    let stream = js
        .get_stream(&cfg.stream)
        .await
        .map_err(|e| e.to_string())?;
    let stream_last = last_sequence(&stream).await?;
    let local_last = log
        .last_event()
        .map_err(|e| e.to_string())?
        .map_or(0, |e| e.sequence);
    let first = match first_difference(log, &stream, local_last.min(stream_last)).await? {
        Some(first) => first,
        None if local_last > stream_last => stream_last + 1,
        None => return Ok(None),
    };
    // File writing and sled reads: off the runtime's threads.
    let log = log.clone();
    tokio::task::spawn_blocking(move || report_divergence(&log, first))
        .await
        .map_err(|e| e.to_string())?
}
