//! Who is the writer: a lease in a JetStream key-value bucket, and taking over.
//!
//! The writer holds the key `writer` of the bucket `<stream>-writer` and renews it with
//! compare-and-set (its last revision) every third of the lease's time to live; the bucket
//! forgets a value that is not renewed within it. A writer whose renewal finds another
//! holder refuses every further write (fenced), as does one whose publish the stream
//! refuses (see [`super::outbox`]): the lease says who should write, the stream's
//! expected-last-sequence check makes sure nobody else can.
//!
//! A read replica takes over when the lease lapses (`--standby`) or when told
//! (`tilannekuva promote`): it takes the lease, keeps following the stream for another
//! third of the time to live (so that the old writer, if it still runs, has tried to renew
//! and fenced itself), applies the stream to its end, and only then takes writes, its
//! sequence continuing the stream's.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use tokio::sync::{mpsc, oneshot, watch};

use super::{outbox::Outbox, NatsConfig};
use crate::metrics::Metrics;
use crate::store::EventLog;
use crate::write::Writer;

const KEY: &str = "writer";

/// Who holds (or wants) the lease.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Holder {
    /// Unique per process.
    pub(crate) id: String,
    /// Where clients should send writes (`--advertise-url`).
    pub(crate) url: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.url, self.id)
    }
}

/// The writer lease's bucket, created if missing.
async fn bucket(cfg: &NatsConfig, ttl: Duration) -> Result<kv::Store, String> {
    let js = super::connect(cfg).await?;
    let name = format!("{}-writer", cfg.stream);
    if let Ok(kv) = js.get_key_value(&name).await {
        return Ok(kv);
    }
    js.create_key_value(kv::Config {
        bucket: name.clone(),
        description: "tilannekuva: who writes to the stream".into(),
        history: 1,
        max_age: ttl,
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: cfg.replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot create the lease bucket {name}: {e}"))
}

/// What an attempt to take the lease found.
pub(crate) enum Attempt {
    /// Taken, at this revision.
    Taken(u64),
    /// Held, at this revision (by this server itself when the id is its own: a write whose
    /// answer was lost).
    Held(Holder, u64),
}

/// How long after sending a renewal this server may rely on holding the lease: its time to
/// live less a fifth, for clocks and delays. The bucket forgets it a time to live after
/// the server stored it, which is later.
fn valid_until(sent: tokio::time::Instant, ttl: Duration) -> tokio::time::Instant {
    sent + ttl - ttl / 5
}

async fn holder(kv: &kv::Store) -> Result<Option<(Holder, u64)>, String> {
    let entry = kv.entry(KEY).await.map_err(|e| e.to_string())?;
    Ok(entry.map(|e| {
        let holder = serde_json::from_slice::<Holder>(&e.value).unwrap_or_else(|_| Holder {
            id: "unknown".into(),
            url: "unknown".into(),
        });
        (holder, e.revision)
    }))
}

async fn try_take(kv: &kv::Store, me: &Holder) -> Result<Attempt, String> {
    let value = serde_json::to_vec(me).expect("plain data").into();
    match kv.create(KEY, value).await {
        Ok(rev) => Ok(Attempt::Taken(rev)),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => match holder(kv).await? {
            Some((h, rev)) => Ok(Attempt::Held(h, rev)),
            // Lapsed between the two calls: try again next time.
            None => Err("the writer lease changed while it was read".into()),
        },
        Err(e) => Err(format!("cannot take the writer lease: {e}")),
    }
}

/// Takes the lease for a writer starting up: waits up to `wait` for a lease left by a
/// stopped writer to lapse. `Err` names the live holder.
pub(crate) async fn take_at_start(
    cfg: &NatsConfig,
    me: &Holder,
    ttl: Duration,
    wait: Duration,
) -> Result<Option<(u64, tokio::time::Instant)>, String> {
    let deadline = tokio::time::Instant::now() + wait;
    let kv = match bucket(cfg, ttl).await {
        Ok(kv) => kv,
        Err(e) => {
            tracing::warn!(why = %e, "cannot reach the writer lease; taking it when NATS is back");
            return Ok(None);
        }
    };
    loop {
        let sent = tokio::time::Instant::now();
        match try_take(&kv, me).await {
            Ok(Attempt::Taken(rev)) => return Ok(Some((rev, sent))),
            Ok(Attempt::Held(h, _)) if h.id == me.id => return Ok(None),
            Ok(Attempt::Held(h, _)) if tokio::time::Instant::now() >= deadline => {
                return Err(format!(
                    "the writer lease of the stream {} is held by {h}: another writer is running. \
                     Stop it, or start this server as a replica (--follow, with --standby to take \
                     over when that writer is gone)",
                    cfg.stream
                ))
            }
            Ok(Attempt::Held(..)) => tokio::time::sleep(Duration::from_millis(250)).await,
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Keeps the lease: renews it every `ttl / 3`; takes it if it is not held yet (NATS was
/// away at start). `lease` says until when this server surely holds it (the outbox
/// publishes only until then). Finding another holder fences this writer.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn keep(
    cfg: NatsConfig,
    me: Holder,
    ttl: Duration,
    taken: Option<(u64, tokio::time::Instant)>,
    lease: watch::Sender<Option<tokio::time::Instant>>,
    writer: Writer,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut revision = taken.map(|(rev, _)| rev);
    lease.send_replace(taken.map(|(_, sent)| valid_until(sent, ttl)));
    let mut kv: Option<kv::Store> = bucket(&cfg, ttl).await.ok();
    loop {
        tokio::select! {
            () = tokio::time::sleep(ttl / 3) => {}
            () = async { let _ = stop.wait_for(|s| *s).await; } => {
                // A clean stop hands the lease back, so that a standby (or this server,
                // restarted) takes over at once instead of after the time to live.
                lease.send_replace(None);
                if let (Some(store), Some(rev)) = (&kv, revision) {
                    let _ = store.delete_expect_revision(KEY, Some(rev)).await;
                }
                return;
            }
        }
        if kv.is_none() {
            kv = bucket(&cfg, ttl).await.ok();
        }
        let Some(store) = &kv else { continue };
        let value = serde_json::to_vec(&me).expect("plain data").into();
        let sent = tokio::time::Instant::now();
        let outcome = match revision {
            Some(rev) => match store.update(KEY, value, rev).await {
                Ok(rev) => Ok(Attempt::Taken(rev)),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    match holder(store).await {
                        Ok(Some((h, rev))) => Ok(Attempt::Held(h, rev)),
                        // Lapsed and not taken: take it again.
                        Ok(None) => try_take(store, &me).await,
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e.to_string()),
            },
            None => try_take(store, &me).await,
        };
        match outcome {
            Ok(Attempt::Taken(rev)) => {
                revision = Some(rev);
                lease.send_replace(Some(valid_until(sent, ttl)));
            }
            // Ours at another revision: an earlier renewal whose answer was lost.
            Ok(Attempt::Held(h, rev)) if h.id == me.id => revision = Some(rev),
            Ok(Attempt::Held(h, _)) => {
                lease.send_replace(None);
                tracing::error!(holder = %h, "the writer lease is held by another: fenced");
                metrics.fenced.set(1);
                writer.refuse(format!(
                    "fenced: the writer lease passed to {h}; this server is no longer the \
                     writer: send writes there, and restart this one as a replica (--follow)"
                ));
                return;
            }
            Err(why) => {
                kv = None;
                tracing::warn!(%why, "cannot renew the writer lease; retrying");
            }
        }
    }
}

/// A promotion asked for by hand: answered with the log's last sequence at the takeover.
pub(crate) type PromoteRequest = oneshot::Sender<Result<u64, String>>;

/// What a replica needs to become the writer.
pub(crate) struct Standby {
    pub(crate) cfg: NatsConfig,
    pub(crate) me: Holder,
    pub(crate) ttl: Duration,
    /// Take over by itself when the lease lapses (`--standby`); otherwise only when told.
    pub(crate) automatic: bool,
    pub(crate) log: Arc<EventLog>,
    pub(crate) applied: watch::Receiver<u64>,
    pub(crate) writer: Writer,
    pub(crate) metrics: Arc<Metrics>,
    /// The follower, while it runs, and what stops it.
    pub(crate) follower: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
    /// Where the outbox reports what the stream acknowledged (`sync` answers wait on it).
    pub(crate) published: watch::Sender<u64>,
    /// The lease bucket, once reached (one connection, not one per look).
    pub(crate) kv: Option<kv::Store>,
}

impl Standby {
    async fn bucket(&mut self) -> Result<kv::Store, String> {
        if let Some(kv) = &self.kv {
            return Ok(kv.clone());
        }
        let kv = bucket(&self.cfg, self.ttl).await?;
        self.kv = Some(kv.clone());
        Ok(kv)
    }

    /// Waits for the lease to lapse (when automatic) or for a promotion request, then takes
    /// over. Runs until it has, or until `stop`.
    pub(crate) async fn run(
        mut self,
        mut requests: mpsc::Receiver<PromoteRequest>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut writer_named: Option<Holder> = None;
        loop {
            let asked = tokio::select! {
                () = tokio::time::sleep(self.ttl / 3) => None,
                r = requests.recv() => match r {
                    Some(reply) => Some(reply),
                    None => continue,
                },
                _ = stop.wait_for(|s| *s) => {
                    if let Some((follower_stop, _)) = &self.follower {
                        let _ = follower_stop.send(true);
                    }
                    return;
                }
            };
            if asked.is_none() && !self.automatic {
                // Only keep the refusal's message naming the current writer.
                self.name_the_writer(&mut writer_named).await;
                continue;
            }
            match self.take_over(&stop).await {
                Ok(Some((sequence, taken))) => {
                    if let Some(reply) = asked {
                        let _ = reply.send(Ok(sequence));
                    }
                    let Standby {
                        cfg,
                        me,
                        ttl,
                        log,
                        applied,
                        writer,
                        metrics,
                        published,
                        ..
                    } = self;
                    let (lease, valid) = watch::channel(None);
                    let outbox = Outbox {
                        cfg: cfg.clone(),
                        log,
                        committed: applied,
                        published,
                        writer: writer.clone(),
                        metrics: metrics.clone(),
                        lease: valid,
                    };
                    tokio::spawn(outbox.run(stop.clone()));
                    keep(cfg, me, ttl, Some(taken), lease, writer, metrics, stop).await;
                    return;
                }
                Ok(None) => {
                    if let Some(reply) = asked {
                        let _ = reply.send(Err("the writer lease is held by a live writer".into()));
                    }
                    self.name_the_writer(&mut writer_named).await;
                }
                Err(why) => {
                    tracing::warn!(%why, "taking over as the writer failed; following again");
                    if let Some(reply) = asked {
                        let _ = reply.send(Err(why));
                    }
                    self.follow();
                }
            }
        }
    }

    /// (Re)starts the follower, if it is not running.
    pub(crate) fn follow(&mut self) {
        if self.follower.is_some() {
            return;
        }
        let (stop, stopped) = watch::channel(false);
        let follower = super::follow::Follower {
            cfg: self.cfg.clone(),
            applied: self.applied.clone(),
            writer: self.writer.clone(),
            metrics: self.metrics.clone(),
        };
        self.follower = Some((stop, tokio::spawn(follower.run(stopped))));
    }

    /// Names the lease's holder in the refusal clients get for writes (when it changed).
    async fn name_the_writer(&mut self, named: &mut Option<Holder>) {
        let Ok(kv) = self.bucket().await else {
            return;
        };
        let holder = match holder(&kv).await {
            Ok(Some((holder, _))) => holder,
            Ok(None) => return,
            Err(_) => {
                self.kv = None;
                return;
            }
        };
        if named.as_ref().is_some_and(|n| n.id == holder.id) || holder.id == self.me.id {
            return;
        }
        let why = format!(
            "this server is a read replica of the stream {}; send writes to the writer at {}",
            self.cfg.stream, holder.url
        );
        if self.writer.set_read_only(Some(why)).await.is_ok() {
            *named = Some(holder);
        }
    }

    /// Takes the lease if it is free; then becomes the writer: `Ok(Some((last sequence,
    /// (lease revision, when taken))))`. `Ok(None)`: held by another. On an error after
    /// the lease was taken, the lease is handed back (and the caller follows again).
    async fn take_over(
        &mut self,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<(u64, (u64, tokio::time::Instant))>, String> {
        let kv = self.bucket().await?;
        let sent = tokio::time::Instant::now();
        let attempt = try_take(&kv, &self.me).await;
        if attempt.is_err() {
            self.kv = None;
        }
        let revision = match attempt? {
            Attempt::Taken(rev) => rev,
            // Ours already (an earlier attempt that failed part-way, or a lost answer).
            Attempt::Held(h, rev) if h.id == self.me.id => rev,
            Attempt::Held(h, _) => {
                tracing::debug!(holder = %h, "the writer lease is held");
                return Ok(None);
            }
        };
        match self.become_writer(stop).await {
            Ok(last) => Ok(Some((last, (revision, sent)))),
            Err(why) => {
                let _ = kv.delete_expect_revision(KEY, Some(revision)).await;
                Err(why)
            }
        }
    }

    async fn become_writer(&mut self, stop: &watch::Receiver<bool>) -> Result<u64, String> {
        tracing::warn!(stream = %self.cfg.stream, "the writer lease is ours: taking over as the writer");
        // The old writer, if it still runs, publishes only while it surely holds the lease
        // (see `valid_until`), which ended before the bucket forgot it; it finds the lease
        // taken at its next renewal and stops. The wait adds a margin.
        let mut stop = stop.clone();
        tokio::select! {
            () = tokio::time::sleep(self.ttl / 3 + Duration::from_millis(500)) => {}
            _ = stop.wait_for(|s| *s) => return Err("stopping".into()),
        }
        if let Some((stop, follower)) = self.follower.take() {
            let _ = stop.send(true);
            let _ = follower.await;
        }
        // A batch the follower handed over just before it stopped may still be committing:
        // an empty apply, behind it in the writer's queue, answers with the true end.
        let mut next = self
            .writer
            .apply(Vec::new())
            .await
            .map_err(|e| e.to_string())?
            .last_sequence
            + 1;
        let js = super::connect(&self.cfg).await?;
        let stream = js
            .get_stream(&self.cfg.stream)
            .await
            .map_err(|e| format!("cannot open the stream: {e}"))?;
        let last = super::last_sequence(&stream).await?;
        while next <= last {
            let mut batch = Vec::new();
            while next <= last && batch.len() < 1000 {
                let e = super::event_at(&stream, next)
                    .await?
                    .ok_or_else(|| format!("the stream has no message {next}"))?;
                batch.push(e);
                next += 1;
            }
            self.writer
                .apply(batch)
                .await
                .map_err(|e| format!("applying the stream's end: {e}"))?;
        }
        self.writer
            .set_read_only(None)
            .await
            .map_err(|e| e.to_string())?;
        self.published.send_replace(last);
        self.metrics.set_role("writer");
        self.metrics.outbox_sequence.set(last as i64);
        tracing::warn!(sequence = last, "this server is now the writer");
        Ok(last)
    }
}
