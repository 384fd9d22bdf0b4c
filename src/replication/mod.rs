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

pub mod follow;
pub mod outbox;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Durable in the local store; the stream follows.
    Async,
    /// Durable in the local store and acknowledged by the stream (a quorum of its replicas).
    Sync,
}

/// Subjects of the stream: `tilannekuva.events.<region>`; catalog events (no region) on
/// `tilannekuva.events.catalog`.
pub const SUBJECTS: &str = "tilannekuva.events.>";

/// The subject an event is published on.
pub fn subject(e: &Event) -> String {
    if e.region_code.is_empty() {
        "tilannekuva.events.catalog".to_owned()
    } else {
        format!("tilannekuva.events.{}", e.region_code)
    }
}

/// The stream's message for an event.
pub fn encode(e: &Event) -> bytes::Bytes {
    event_to_proto(e).encode_to_vec().into()
}

/// An event from a stream message stored at `stream_sequence`: it must decode, carry that
/// sequence, and its hash must recompute (the link to the previous event is checked where
/// it is applied).
pub fn decode(payload: &[u8], stream_sequence: u64) -> Result<Event, String> {
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
        .connect(cfg.url.as_str())
        .await
        .map_err(|e| format!("cannot connect to NATS at {}: {e}", cfg.url))?;
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(10));
    Ok(js)
}

/// The stream, created if it does not exist (file storage, `replicas`, no deletes or
/// purges, direct get for reading one event by sequence).
pub async fn ensure_stream(
    js: &jetstream::Context,
    cfg: &NatsConfig,
) -> Result<stream::Stream, String> {
    js.get_or_create_stream(stream::Config {
        name: cfg.stream.clone(),
        description: Some("tilannekuva's event log: stream sequence = log sequence".into()),
        subjects: vec![SUBJECTS.into()],
        storage: stream::StorageType::File,
        num_replicas: cfg.replicas,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot create or open the stream {}: {e}", cfg.stream))
}

/// The stream's last sequence (0 when empty).
pub async fn last_sequence(s: &stream::Stream) -> Result<u64, String> {
    Ok(s.get_info()
        .await
        .map_err(|e| format!("cannot read the stream's state: {e}"))?
        .state
        .last_sequence)
}

/// The event stored at `sequence` (`None` when the stream has no message there).
pub async fn event_at(s: &stream::Stream, sequence: u64) -> Result<Option<Event>, String> {
    match s.direct_get(sequence).await {
        Ok(m) => decode(&m.payload, sequence).map(Some),
        Err(e) if e.kind() == stream::DirectGetErrorKind::NotFound => Ok(None),
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
pub async fn repair(
    log: &crate::store::EventLog,
    cfg: &NatsConfig,
    wait: Duration,
) -> Result<Option<u64>, String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut failures = 0;
    let js = loop {
        match connect(cfg).await {
            Ok(js) => break js,
            Err(e) if tokio::time::Instant::now() + backoff(failures) < deadline => {
                tracing::warn!(why = %e, "NATS not reachable yet");
                tokio::time::sleep(backoff(failures)).await;
                failures += 1;
            }
            Err(e) => {
                tracing::warn!(why = %e, "NATS not reachable: starting without checking the stream; the outbox checks when it connects");
                return Ok(None);
            }
        }
    };
    let stream = match js.get_stream(&cfg.stream).await {
        Ok(s) => s,
        // No stream yet: nothing to take; the outbox creates it.
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(Some(0))
        }
        Err(e) => return Err(format!("cannot open the stream {}: {e}", cfg.stream)),
    };
    let stream_last = last_sequence(&stream).await?;
    let local = log.last_event().map_err(|e| e.to_string())?;
    let (local_last, local_hash) = local
        .as_ref()
        .map_or((0, crate::domain::ZERO_HASH), |e| (e.sequence, e.hash));
    // The sequence both hold must hold the same event.
    let common = local_last.min(stream_last);
    if common > 0 {
        let ours = log
            .read_from(common, 1)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| e.sequence == common)
            .ok_or_else(|| format!("the local log has no event {common}"))?;
        match event_at(&stream, common).await? {
            Some(theirs) if theirs.hash == ours.hash => {}
            Some(_) => {
                return Err(format!(
                    "this server's log and the stream {} disagree at sequence {common} (different \
                     events): refusing to serve. Events 1..{common} may be intact on both; compare \
                     with `tilannekuva export --data-dir` and the stream before deciding which to keep",
                    cfg.stream
                ))
            }
            None => {
                return Err(format!(
                    "the stream {} has no message at sequence {common}",
                    cfg.stream
                ))
            }
        }
    }
    if stream_last <= local_last {
        return Ok(Some(0));
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
            .await?
            .ok_or_else(|| format!("the stream {} has no message at sequence {seq}", cfg.stream))?;
        crate::domain::event::verify_chain(last, head, std::slice::from_ref(&e))
            .map_err(|c| format!("stream event {}: {}", c.sequence, c.reason))?;
        (last, head) = (e.sequence, e.hash);
        batch.push(e);
        if batch.len() == 1000 || seq == stream_last {
            log.append(&batch).map_err(|e| e.to_string())?;
            batch.clear();
        }
    }
    Ok(Some(stream_last - local_last))
}
