//! The outbox: the stage after the commit that publishes every committed event, in log
//! order, to the JetStream stream.
//!
//! Each publish says which stream sequence must come before it (`sequence − 1`), so the
//! stream takes the log's events exactly once and in order, and nothing else: a stream
//! that moved on without this writer (another writer took over) refuses the publish, and
//! this writer then refuses every further write (*fenced*). A publish whose
//! acknowledgement was lost is recognised on retry: the stream holds this very event (same
//! hash) at that sequence. While NATS is away the log goes on (in `async` mode), the lag
//! grows in `/metrics`, and the outbox catches up when it returns.

use std::sync::Arc;

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use tokio::sync::watch;

use super::NatsConfig;
use crate::domain::Event;
use crate::metrics::Metrics;
use crate::store::EventLog;
use crate::write::Writer;

/// Events read from the log and published per round (their acknowledgements are awaited
/// together, so a round costs about one round trip).
const ROUND: usize = 512;

/// What the outbox needs.
pub struct Outbox {
    pub cfg: NatsConfig,
    pub log: Arc<EventLog>,
    /// The last committed sequence.
    pub committed: watch::Receiver<u64>,
    /// The last sequence the stream acknowledged (what `sync` answers wait for).
    pub published: watch::Sender<u64>,
    /// To refuse writes once fenced.
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
}

/// Why a session ended.
enum Ended {
    /// NATS is unreachable or failed: retry.
    Retry(String),
    /// The stream holds events this writer did not write: stop for good.
    Fenced(String),
}

impl Outbox {
    /// Runs until `stop`, reconnecting with backoff; ends early when fenced.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            let session = tokio::select! {
                ended = self.session(&mut failures) => ended,
                _ = stop.wait_for(|s| *s) => return,
            };
            self.metrics.nats_connected.set(0);
            match session {
                Ended::Retry(why) => {
                    self.metrics.nats_errors.inc();
                    self.update_lag();
                    tracing::warn!(error = %why, "outbox: NATS session ended; retrying");
                    let wait = super::backoff(failures);
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
                Ended::Fenced(why) => {
                    tracing::error!(%why, "outbox: fenced; this server refuses every further write");
                    self.metrics.fenced.set(1);
                    self.writer.refuse(format!(
                        "fenced: {why}. This server is no longer the writer; restart it as a \
                         replica (--follow)"
                    ));
                    self.report_divergence().await;
                    return;
                }
            }
        }
    }

    /// After fencing: the events this server acknowledged that the stream does not hold go
    /// to a file in the data directory, counted in `/metrics` and logged. Nothing is
    /// dropped silently; retried until the stream can be read.
    async fn report_divergence(&self) {
        let mut failures = 0;
        loop {
            match self.find_divergence().await {
                Ok(Some((path, n))) => {
                    self.metrics.divergent_events.set(n as i64);
                    tracing::error!(events = n, file = %path.display(), "events acknowledged by this server are not in the stream: resubmit them through the writer");
                    return;
                }
                Ok(None) => {
                    tracing::info!("every event this server acknowledged is in the stream");
                    return;
                }
                Err(why) => {
                    tracing::warn!(%why, "cannot compare the log with the stream yet; retrying");
                    tokio::time::sleep(super::backoff(failures)).await;
                    failures += 1;
                }
            }
        }
    }

    async fn find_divergence(&self) -> Result<Option<(std::path::PathBuf, u64)>, String> {
        let js = super::connect(&self.cfg).await?;
        let stream = js
            .get_stream(&self.cfg.stream)
            .await
            .map_err(|e| e.to_string())?;
        let stream_last = super::last_sequence(&stream).await?;
        let local_last = self
            .log
            .last_event()
            .map_err(|e| e.to_string())?
            .map_or(0, |e| e.sequence);
        let first =
            match super::first_difference(&self.log, &stream, local_last.min(stream_last)).await? {
                Some(first) => first,
                None if local_last > stream_last => stream_last + 1,
                None => return Ok(None),
            };
        super::report_divergence(&self.log, first)
    }

    fn update_lag(&self) {
        let committed = *self.committed.borrow();
        let published = *self.published.borrow();
        self.metrics
            .outbox_lag
            .set(committed.saturating_sub(published) as i64);
    }

    fn acknowledged(&self, sequence: u64) {
        self.published.send_replace(sequence);
        self.metrics.outbox_sequence.set(sequence as i64);
        self.update_lag();
    }

    /// One connection's work: agree with the stream on where it ends, then publish.
    async fn session(&self, failures: &mut u32) -> Ended {
        let js = match super::connect_watched(&self.cfg, Some(self.metrics.nats_connected.clone()))
            .await
        {
            Ok(js) => js,
            Err(e) => return Ended::Retry(e),
        };
        let stream = match super::ensure_stream(&js, &self.cfg).await {
            Ok(s) => s,
            Err(e) => return Ended::Retry(e),
        };
        let stream_last = match super::last_sequence(&stream).await {
            Ok(s) => s,
            Err(e) => return Ended::Retry(e),
        };
        if let Err(ended) = self.agree(&stream, stream_last).await {
            return ended;
        }
        self.metrics.nats_connected.set(1);
        *failures = 0;
        tracing::info!(stream = %self.cfg.stream, from = stream_last + 1, "outbox: publishing");
        self.acknowledged(stream_last);
        let mut committed = self.committed.clone();
        loop {
            let next = *self.published.borrow() + 1;
            if committed.wait_for(|c| *c >= next).await.is_err() {
                return Ended::Retry("the writer stopped".into());
            }
            self.update_lag();
            let events = match self.log.read_from(next, ROUND) {
                Ok(e) => e,
                Err(e) => return Ended::Retry(format!("reading the log: {e}")),
            };
            if let Err(ended) = self.publish(&js, &stream, &events).await {
                return ended;
            }
        }
    }

    /// The stream must end at an event of this log: the same event (hash) at its last
    /// sequence, and not beyond this log's end.
    async fn agree(
        &self,
        stream: &jetstream::stream::Stream,
        stream_last: u64,
    ) -> Result<(), Ended> {
        if stream_last == 0 {
            return Ok(());
        }
        let ours = self
            .log
            .read_from(stream_last, 1)
            .map_err(|e| Ended::Retry(format!("reading the log: {e}")))?
            .into_iter()
            .find(|e| e.sequence == stream_last);
        let Some(ours) = ours else {
            return Err(Ended::Fenced(format!(
                "the stream {} holds {stream_last} events, more than this server's log: \
                 another writer has written to it",
                self.cfg.stream
            )));
        };
        match super::event_at(stream, stream_last).await {
            Ok(Some(theirs)) if theirs.hash == ours.hash => Ok(()),
            Ok(_) => Err(Ended::Fenced(format!(
                "the stream {} holds another event at sequence {stream_last} than this server's log",
                self.cfg.stream
            ))),
            Err(e) => Err(Ended::Retry(e)),
        }
    }

    /// Publishes `events` (consecutive, continuing the stream) and waits for their
    /// acknowledgements in order.
    async fn publish(
        &self,
        js: &jetstream::Context,
        stream: &jetstream::stream::Stream,
        events: &[Event],
    ) -> Result<(), Ended> {
        let mut acks = Vec::with_capacity(events.len());
        for e in events {
            let message = PublishMessage::build()
                .payload(super::encode(e))
                .message_id(hex::encode(e.hash))
                .expected_last_sequence(e.sequence - 1);
            match js.send_publish(super::subject(e), message).await {
                Ok(ack) => acks.push((e, ack)),
                Err(err) => {
                    // Those already sent are awaited below; the rest wait for the next round.
                    tracing::debug!(error = %err, "outbox: publish not sent");
                    break;
                }
            }
        }
        let sent = acks.len();
        for (e, ack) in acks {
            match ack.await {
                Ok(ack) if ack.sequence == e.sequence => self.acknowledged(e.sequence),
                Ok(ack) => {
                    return Err(Ended::Fenced(format!(
                        "the stream stored event {} at sequence {}",
                        e.sequence, ack.sequence
                    )))
                }
                Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                    // Either an earlier attempt stored this very event (its acknowledgement
                    // was lost), or another writer moved the stream on.
                    match super::event_at(stream, e.sequence).await {
                        Ok(Some(stored)) if stored.hash == e.hash => self.acknowledged(e.sequence),
                        Ok(_) => {
                            return Err(Ended::Fenced(format!(
                                "the stream did not take event {} after {}: another writer has \
                                 written to it",
                                e.sequence,
                                e.sequence - 1
                            )))
                        }
                        Err(why) => return Err(Ended::Retry(why)),
                    }
                }
                Err(err) => {
                    return Err(Ended::Retry(format!(
                        "publishing event {}: {err}",
                        e.sequence
                    )))
                }
            }
        }
        if sent < events.len() {
            return Err(Ended::Retry("publishing stopped part-way".into()));
        }
        Ok(())
    }
}
