//! A read replica's feed: consumes the writer's stream from the replica's own last sequence
//! and applies it through the write pipeline (checked against the chain, durable in the
//! replica's store, folded like any event), in batches.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use futures::StreamExt;
use tokio::sync::watch;

use super::{Ended, NatsConfig};
use crate::metrics::Metrics;
use crate::write::{WriteError, Writer};

/// Most events applied as one batch (one durable append).
const BATCH: usize = 1000;
/// How long a replica that is behind waits for an event before it starts a new session.
const STALLED: Duration = Duration::from_secs(5);

/// What the follower needs.
pub(crate) struct Follower {
    pub(crate) cfg: NatsConfig,
    /// The replica's last applied sequence.
    pub(crate) applied: watch::Receiver<u64>,
    pub(crate) writer: Writer,
    pub(crate) metrics: Arc<Metrics>,
}

impl Follower {
    /// Follows until `stop`, reconnecting with backoff. A stream that does not continue the
    /// replica's log stops the follower (the replica keeps serving what it has, and says why).
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let failures = std::sync::atomic::AtomicU32::new(0);
        let diverged = super::sessions(
            "replica",
            &self.metrics,
            &failures,
            &mut stop,
            || self.session(&failures),
            || {},
        )
        .await;
        if let Some(why) = diverged {
            tracing::error!(%why, "replica: the stream does not continue this replica's log; following stopped");
            self.metrics.fenced.set(1);
        }
    }

    async fn session(&self, failures: &std::sync::atomic::AtomicU32) -> Ended {
        let js = match super::connect_watched(&self.cfg, Some(self.metrics.nats_connected.clone()))
            .await
        {
            Ok(js) => js,
            Err(e) => return Ended::Retry(e),
        };
        let stream = match js.get_stream(&self.cfg.stream).await {
            Ok(s) => s,
            Err(e) => {
                return Ended::Retry(format!(
                    "cannot open the stream {} (is the writer running?): {e}",
                    self.cfg.stream
                ))
            }
        };
        let from = *self.applied.borrow() + 1;
        let consumer = match stream
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                ..Default::default()
            })
            .await
        {
            Ok(c) => c,
            Err(e) => return Ended::Retry(format!("cannot create a consumer: {e}")),
        };
        let mut messages = match consumer.messages().await {
            Ok(m) => m,
            Err(e) => return Ended::Retry(format!("cannot consume the stream: {e}")),
        };
        self.metrics.nats_connected.set(1);
        failures.store(0, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(stream = %self.cfg.stream, from, "replica: following");
        let mut caught_up_at = tokio::time::Instant::now();
        let mut progress_at = tokio::time::Instant::now();
        loop {
            // Wait for the next message; when idle, the lag is whatever the stream says.
            let first = match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
                Err(_) => {
                    let behind = self.idle_lag(&stream, &mut caught_up_at).await;
                    // Behind, yet nothing arrives (the consumer's server was lost, say):
                    // a new session makes a new consumer.
                    if behind && progress_at.elapsed() > STALLED {
                        return Ended::Retry(format!(
                            "no events for {STALLED:?} while the stream has more"
                        ));
                    }
                    continue;
                }
                Ok(None) => return Ended::Retry("the consumer ended".into()),
                Ok(Some(Err(e))) => return Ended::Retry(format!("consuming: {e}")),
                Ok(Some(Ok(m))) => m,
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match futures::FutureExt::now_or_never(messages.next()) {
                    Some(Some(Ok(m))) => batch.push(m),
                    Some(Some(Err(e))) => return Ended::Retry(format!("consuming: {e}")),
                    Some(None) | None => break,
                }
            }
            let mut events = Vec::with_capacity(batch.len());
            let (mut pending, mut oldest) = (0, None);
            for m in &batch {
                let info = match m.info() {
                    Ok(i) => i,
                    Err(e) => return Ended::Retry(format!("a message without its metadata: {e}")),
                };
                match super::decode(&m.payload, info.stream_sequence) {
                    Ok(e) => events.push(e),
                    Err(why) => return Ended::Stop(why),
                }
                pending = info.pending;
                oldest = Some(info.published);
            }
            let applied_to = events.last().map(|e| e.sequence).unwrap_or(0);
            if applied_to <= *self.applied.borrow() {
                continue; // already applied (a redelivery after a reconnect)
            }
            // Events at or below the replica's last may come again after a reconnect.
            let known = *self.applied.borrow();
            events.retain(|e| e.sequence > known);
            match self.writer.apply(events).await {
                Ok(_) => {}
                Err(WriteError::Diverged(why)) => return Ended::Stop(why),
                Err(e) => return Ended::Retry(format!("applying: {e}")),
            }
            progress_at = tokio::time::Instant::now();
            self.metrics.replica_lag_events.set(pending as i64);
            let age = match (pending, oldest) {
                (0, _) | (_, None) => 0.0,
                (_, Some(published)) => {
                    (chrono::Utc::now() - published).num_milliseconds().max(0) as f64 / 1000.0
                }
            };
            self.metrics.replica_lag_seconds.set(age);
            if pending == 0 {
                caught_up_at = tokio::time::Instant::now();
            }
        }
    }

    /// While no message arrives: the lag is the stream's last sequence less the replica's.
    /// Returns whether the replica is behind.
    async fn idle_lag(
        &self,
        stream: &async_nats::jetstream::stream::Stream,
        caught_up_at: &mut tokio::time::Instant,
    ) -> bool {
        let Ok(last) = super::last_sequence(stream).await else {
            return false;
        };
        {
            let behind = last.saturating_sub(*self.applied.borrow());
            self.metrics.replica_lag_events.set(behind as i64);
            if behind == 0 {
                *caught_up_at = tokio::time::Instant::now();
                self.metrics.replica_lag_seconds.set(0.0);
            } else {
                self.metrics
                    .replica_lag_seconds
                    .set(caught_up_at.elapsed().as_secs_f64());
            }
            behind > 0
        }
    }
}
