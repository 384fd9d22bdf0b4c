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

use super::{Ended, NatsConfig};
use crate::domain::Event;
use crate::metrics::Metrics;
use crate::store::EventLog;
use crate::write::Writer;

/// Events read from the log per round.
const ROUND: usize = 4 * BATCH;
/// Events per atomic batch: JetStream's limit (1,000).
const BATCH: usize = 1000;

/// What the outbox needs.
pub(crate) struct Outbox {
    pub(crate) cfg: NatsConfig,
    pub(crate) log: Arc<EventLog>,
    /// The last committed sequence.
    pub(crate) committed: watch::Receiver<u64>,
    /// The last sequence the stream acknowledged (what `sync` answers wait for).
    pub(crate) published: watch::Sender<u64>,
    /// To refuse writes once fenced.
    pub(crate) writer: Writer,
    pub(crate) metrics: Arc<Metrics>,
    /// Until when this server surely holds the writer lease (see [`super::failover::keep`]):
    /// nothing is published outside it, so a writer that may have lost the lease cannot
    /// append after a standby has read the stream's end.
    pub(crate) lease: watch::Receiver<Option<tokio::time::Instant>>,
}

impl Outbox {
    /// Runs until `stop`, reconnecting with backoff; ends early when fenced.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let failures = std::sync::atomic::AtomicU32::new(0);
        let fenced = super::sessions(
            "outbox",
            &self.metrics,
            &failures,
            &mut stop,
            || self.session(&failures),
            || self.update_lag(),
        )
        .await;
        let Some(why) = fenced else { return };
        tracing::error!(%why, "outbox: fenced; this server refuses every further write");
        self.metrics.fenced.set(1);
        self.writer.refuse(format!(
            "fenced: {why}. This server is no longer the writer; restart it as a replica \
             (--follow)"
        ));
        self.report_divergence(&mut stop).await;
    }

    /// After fencing: the events this server acknowledged that the stream does not hold go
    /// to a file in the data directory, counted in `/metrics` and logged. Nothing is
    /// dropped silently; retried until the stream can be read.
    async fn report_divergence(&self, stop: &mut watch::Receiver<bool>) {
        let mut failures = 0;
        loop {
            match super::find_divergence(&self.log, &self.cfg).await {
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
                    tokio::select! {
                        () = tokio::time::sleep(super::backoff(failures)) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                    failures += 1;
                }
            }
        }
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
    async fn session(&self, failures: &std::sync::atomic::AtomicU32) -> Ended {
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
        failures.store(0, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(stream = %self.cfg.stream, from = stream_last + 1, "outbox: publishing");
        self.acknowledged(stream_last);
        let mut committed = self.committed.clone();
        loop {
            let next = *self.published.borrow() + 1;
            if committed.wait_for(|c| *c >= next).await.is_err() {
                return Ended::Retry("the writer stopped".into());
            }
            self.update_lag();
            let mut lease = self.lease.clone();
            let valid = lease
                .wait_for(|until| until.is_some_and(|u| u > tokio::time::Instant::now()))
                .await
                .is_ok();
            if !valid {
                return Ended::Retry("the lease keeper stopped".into());
            }
            // A sled read: off the runtime's threads.
            let log = self.log.clone();
            let events = match tokio::task::spawn_blocking(move || log.read_from(next, ROUND)).await
            {
                Ok(Ok(e)) => e,
                Ok(Err(e)) => return Ended::Retry(format!("reading the log: {e}")),
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
            return Err(Ended::Stop(format!(
                "the stream {} holds {stream_last} events, more than this server's log: \
                 another writer has written to it",
                self.cfg.stream
            )));
        };
        match super::event_at(stream, stream_last).await {
            Ok(Some(theirs)) if theirs.hash == ours.hash => Ok(()),
            Ok(_) => Err(Ended::Stop(format!(
                "the stream {} holds another event at sequence {stream_last} than this server's log",
                self.cfg.stream
            ))),
            Err(e) => Err(Ended::Retry(e)),
        }
    }

    /// Publishes `events` (consecutive, continuing the stream) as atomic batches of at most
    /// [`BATCH`] (JetStream's atomic batch publish: stored all together or not at all, and
    /// acknowledged once, which costs the stream one disk sync per batch instead of one per
    /// event). The first message of a batch carries the expected last sequence; every one
    /// its event's hash as message id.
    async fn publish(
        &self,
        js: &jetstream::Context,
        stream: &jetstream::stream::Stream,
        events: &[Event],
    ) -> Result<(), Ended> {
        let client = js.client();
        for batch in events.chunks(BATCH) {
            let held = self
                .lease
                .borrow()
                .is_some_and(|until| until > tokio::time::Instant::now());
            if !held {
                return Err(Ended::Retry(
                    "the writer lease is not surely held: not publishing".into(),
                ));
            }
            let (first, last) = (&batch[0], &batch[batch.len() - 1]);
            let id = format!("{}-{}", first.sequence, &hex::encode(first.hash)[..16]);
            let mut commit = None;
            // A lone event goes as a plain publish: an atomic batch of one costs the stream
            // more time (measured: ack-to-replica p50 2.4 ms plain, 8.7 ms as a batch).
            let atomic = batch.len() > 1;
            for (n, e) in batch.iter().enumerate() {
                let mut headers = async_nats::HeaderMap::new();
                if atomic {
                    headers.insert(async_nats::header::NATS_BATCH_ID, id.as_str());
                    headers.insert(
                        async_nats::header::NATS_BATCH_SEQUENCE,
                        (n + 1).to_string().as_str(),
                    );
                }
                headers.insert(
                    async_nats::header::NATS_MESSAGE_ID,
                    hex::encode(e.hash).as_str(),
                );
                if n == 0 {
                    headers.insert(
                        async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
                        (e.sequence - 1).to_string().as_str(),
                    );
                }
                if std::ptr::eq(e, last) {
                    if atomic {
                        headers.insert(
                            async_nats::header::NATS_BATCH_COMMIT,
                            async_nats::header::NATS_BATCH_COMMIT_FINAL,
                        );
                    }
                    let message = PublishMessage::build()
                        .payload(super::encode(e))
                        .headers(headers);
                    commit = Some(
                        js.send_publish(super::subject(e), message)
                            .await
                            .map_err(|err| Ended::Retry(format!("publishing a batch: {err}")))?,
                    );
                } else {
                    client
                        .publish_with_headers(super::subject(e), headers, super::encode(e))
                        .await
                        .map_err(|err| Ended::Retry(format!("publishing a batch: {err}")))?;
                }
            }
            let commit = commit.expect("a batch has a last event");
            match commit.await {
                Ok(ack) if ack.sequence == last.sequence => self.acknowledged(last.sequence),
                Ok(ack) => {
                    return Err(Ended::Stop(format!(
                        "the stream stored event {} at sequence {}",
                        last.sequence, ack.sequence
                    )))
                }
                Err(err) if err.kind() == PublishErrorKind::TimedOut => {
                    return Err(Ended::Retry(format!(
                        "no acknowledgement for events {}..={}",
                        first.sequence, last.sequence
                    )))
                }
                // Refused as a whole: the stream does not end where this batch expects
                // (another writer, or an earlier attempt stored it and its acknowledgement
                // was lost), or it holds some of these message ids already. Compare the
                // stream's end with the log to know which.
                Err(err) => {
                    tracing::debug!(error = %err, "outbox: batch refused; comparing the stream with the log");
                    let stream_last = super::last_sequence(stream).await.map_err(Ended::Retry)?;
                    self.agree(stream, stream_last).await?;
                    if stream_last < first.sequence {
                        return Err(Ended::Retry(format!(
                            "the stream refused events {}..={}: {err}",
                            first.sequence, last.sequence
                        )));
                    }
                    self.acknowledged(stream_last);
                    // The rest of this round continues from the stream's end.
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}
