//! The group commit: a *preparer* task decides requests and builds their events (see
//! [`super::decide`]), a *syncer* thread makes prepared groups durable with one append
//! (sled batch, flush, `fdatasync`), and an *applier* thread folds each durable group into
//! the projection and then answers its requests. The three overlap: requests arriving
//! during a flush form the next group, and a group is folded while the next one is made
//! durable.
//!
//! # Durability
//!
//! A request is answered only after the append holding its events has returned, i.e. its
//! events are on disk (see [`EventLog::append`]), and they have been folded into the
//! projection (so a read after the answer sees them). Requests that append nothing
//! (duplicates, validations, unchanged values) are answered in order after the groups before
//! them, so an answer never describes a state that is not durable. After a failed append every request
//! is refused (`Unavailable`) until a restart: a crash then loses nothing that was answered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot, watch};

use super::decide::WriterState;
use super::{outcome, Control, Receipt, WriteError, WriteRequest};
use crate::auth::Principal;
use crate::domain::Event;
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::store::{EventLog, StoreError};

/// Most requests waiting for the writer. Beyond this the service is overloaded and says so
/// (`RESOURCE_EXHAUSTED`) instead of queueing without bound: 8192 requests is several
/// seconds of work at the slowest (10,000-observation) size and a few hundred milliseconds
/// of single-observation work.
pub(crate) const QUEUE_CAPACITY: usize = 8192;
/// Most events in one commit group: bounds the memory and latency of one commit.
pub(crate) const MAX_GROUP_EVENTS: usize = 50_000;

/// Current time in microseconds since the Unix epoch.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The current year by the server's clock, in Finland.
pub(crate) fn current_year() -> i32 {
    crate::domain::text::finnish_year(now_micros()).unwrap_or(i32::MAX)
}

struct Job {
    command: Command,
    reply: oneshot::Sender<Result<Receipt, WriteError>>,
}

/// What a job asks of the preparer: a client's write, by its principal, or a control message.
/// Jobs move through the queue by value, as the write requests did before control messages
/// had a type of their own: boxing the large variant would add an allocation to every write
/// for the sake of the rare control message.
#[allow(clippy::large_enum_variant)]
enum Command {
    Write(WriteRequest, Arc<Principal>),
    Control(Control),
}

/// The handle that API code uses to write.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    /// Counts every outcome, whoever writes (API, demo loader).
    metrics: Arc<Metrics>,
    /// Writes handed to the writer and not yet taken into a commit: the syncer waits
    /// (briefly) for those still being prepared so that they share its commit.
    in_flight: Arc<AtomicUsize>,
    /// Why every write is refused, once something made this server unfit to write (a failed
    /// append, or another writer fencing this one out of the stream).
    broken: Arc<parking_lot::Mutex<Option<String>>>,
    /// In `sync` replication: the last sequence the replicated stream has confirmed, and
    /// how long an answer waits for it.
    replicated: Option<(watch::Receiver<u64>, std::time::Duration)>,
}

impl Writer {
    /// Submits a write and waits until it is durable (or refused).
    pub(crate) async fn write(
        &self,
        request: WriteRequest,
        principal: Arc<Principal>,
    ) -> Result<Receipt, WriteError> {
        let command = Command::Write(request, principal);
        let mut r = self.write_uncounted(command).await;
        if let (Ok(receipt), Some((replicated, wait))) = (&r, &self.replicated) {
            if !receipt.validated_only {
                r = Self::await_replication(receipt, replicated.clone(), *wait)
                    .await
                    .map(|()| r.expect("checked above"));
            }
        }
        self.metrics
            .submissions
            .with_label_values(&[outcome(&r)])
            .inc();
        r
    }

    /// `sync` replication: an answer waits until the stream has confirmed what it
    /// describes (for a duplicate, too: its events may be the ones not yet confirmed).
    async fn await_replication(
        receipt: &Receipt,
        mut replicated: watch::Receiver<u64>,
        wait: std::time::Duration,
    ) -> Result<(), WriteError> {
        let sequence = receipt.last_sequence;
        let confirmed = tokio::time::timeout(wait, replicated.wait_for(|s| *s >= sequence)).await;
        match confirmed {
            Ok(Ok(_)) => Ok(()),
            _ => Err(WriteError::NotReplicated { sequence }),
        }
    }

    /// Appends events written elsewhere (see [`Control::Apply`]); not counted as a
    /// submission.
    pub(crate) async fn apply(&self, events: Vec<Event>) -> Result<Receipt, WriteError> {
        self.write_uncounted(Command::Control(Control::Apply(events)))
            .await
    }

    /// Refuses client writes from now on (`Some(why)`), or takes them again (`None`).
    pub(crate) async fn set_read_only(&self, why: Option<String>) -> Result<(), WriteError> {
        self.write_uncounted(Command::Control(Control::SetReadOnly(why)))
            .await
            .map(drop)
    }

    /// Answers waits for `sync` replication: a write is answered once `replicated` reaches
    /// its last sequence, or refused (`NotReplicated`) after `wait`.
    pub(crate) fn with_replication(
        mut self,
        replicated: watch::Receiver<u64>,
        wait: std::time::Duration,
    ) -> Writer {
        self.replicated = Some((replicated, wait));
        self
    }

    /// Refuses every further write, saying `why` (until a restart).
    pub(crate) fn refuse(&self, why: String) {
        self.broken.lock().get_or_insert(why);
    }

    /// A handle that can refuse writes (like [`Writer::refuse`]) without keeping the
    /// writer running: the writer stops when every `Writer` is dropped, not every handle.
    pub(crate) fn breaker(&self) -> Breaker {
        Breaker(self.broken.clone())
    }

    /// Why writes are refused, if they are.
    pub(crate) fn refused(&self) -> Option<String> {
        self.broken.lock().clone()
    }

    async fn write_uncounted(&self, command: Command) -> Result<Receipt, WriteError> {
        let (reply, rx) = oneshot::channel();
        let job = Job { command, reply };
        // Counted from here until a commit takes it (the syncer subtracts what it took).
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.tx.try_send(job) {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    WriteError::Unavailable("the writer has stopped".into())
                }
            });
        }
        rx.await
            .map_err(|_| WriteError::Unavailable("the writer has stopped".into()))?
    }
}

/// See [`Writer::breaker`].
pub(crate) struct Breaker(Arc<parking_lot::Mutex<Option<String>>>);

impl Breaker {
    /// Refuses every further write, saying `why` (until a restart).
    pub(crate) fn refuse(&self, why: String) {
        self.0.lock().get_or_insert(why);
    }
}

/// Where and how often the write state and projection are snapshotted (see
/// [`crate::snapshot`]).
pub(crate) struct Snapshots {
    pub(crate) dir: std::path::PathBuf,
    /// Events between snapshots.
    pub(crate) every: u64,
    /// Sequence of the last snapshot (or of the start: one is due `every` events later).
    pub(crate) last: u64,
}

/// Longest the preparer waits for the syncer to make its events durable before a
/// snapshot; beyond it (a failed or stuck append) the snapshot is skipped.
const SNAPSHOT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Takes snapshots in the preparer, where the write state lives: between two groups, once
/// the applier has folded everything prepared, the state and the projection are at the
/// same sequence; the preparer (and so every write) waits while both are encoded, then the
/// file is written by a thread of its own.
struct SnapshotTaker {
    config: Snapshots,
    applied: watch::Receiver<u64>,
    projection: Arc<RwLock<Projection>>,
    metrics: Arc<Metrics>,
    broken: Arc<parking_lot::Mutex<Option<String>>>,
    /// The snapshot being written, if one is.
    writing: Option<std::thread::JoinHandle<()>>,
}

impl SnapshotTaker {
    fn due(&self, state: &WriterState) -> bool {
        state.last_sequence() >= self.config.last + self.config.every
            && self.writing.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Snapshots `state` and the projection; `wait`: until the file is durable.
    async fn take(&mut self, state: WriterState, wait: bool) -> WriterState {
        let sequence = state.last_sequence();
        if !self.applied_up_to(sequence).await {
            tracing::warn!(
                sequence,
                "snapshot skipped: the events before it are not applied"
            );
            // The next one is due `every` events later, not at the next group.
            self.config.last = sequence;
            return state;
        }
        let started = Instant::now();
        let projection = self.projection.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            let body = crate::snapshot::encode(&state, &projection.read());
            (state, body)
        })
        .await;
        // Encoding in-memory data does not fail; a panic there is a bug that stops the writer.
        let (state, body) = encoded.expect("snapshot encoding");
        self.metrics
            .snapshot_seconds
            .observe(started.elapsed().as_secs_f64());
        self.join_writing().await;
        let (dir, head, metrics) = (
            self.config.dir.clone(),
            state.head_hash(),
            self.metrics.clone(),
        );
        let write = move || {
            let started = Instant::now();
            match crate::snapshot::write(&dir, sequence, head, &body) {
                Ok(()) => {
                    metrics.snapshot_sequence.set(sequence as i64);
                    tracing::info!(
                        sequence,
                        bytes = body.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        "snapshot written"
                    );
                }
                Err(e) => tracing::warn!(sequence, error = %e, "writing the snapshot failed"),
            }
        };
        match std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(write)
        {
            Ok(h) => self.writing = Some(h),
            Err(e) => tracing::warn!(error = %e, "cannot start the snapshot writer"),
        }
        if wait {
            self.join_writing().await;
        }
        self.config.last = sequence;
        state
    }

    /// Whether the applier has folded everything up to `sequence` (waiting up to
    /// [`SNAPSHOT_WAIT`]); never after a failed append, which no later event follows.
    async fn applied_up_to(&mut self, sequence: u64) -> bool {
        let deadline = Instant::now() + SNAPSHOT_WAIT;
        while Instant::now() < deadline {
            if self.broken.lock().is_some() {
                return false;
            }
            let step = std::time::Duration::from_millis(100);
            match tokio::time::timeout(step, self.applied.wait_for(|a| *a >= sequence)).await {
                Ok(Ok(_)) => return self.broken.lock().is_none(),
                Ok(Err(_)) => return false, // the applier is gone
                Err(_) => {}
            }
        }
        false
    }

    /// Waits (off the runtime's threads) for the snapshot being written, if one is.
    async fn join_writing(&mut self) {
        if let Some(h) = self.writing.take() {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }

    /// At a stop: a last snapshot if anything happened since the last one.
    async fn finish(mut self, state: WriterState) {
        if state.last_sequence() > self.config.last {
            self.take(state, true).await;
        } else {
            self.join_writing().await;
        }
    }
}

/// Prepared groups that may wait for the syncer. While one group is being made durable,
/// the preparer keeps preparing; the syncer then commits everything waiting as one group.
/// Bounded so that a slow disk pushes back on the writer queue (and so on clients).
const PIPELINE_DEPTH: usize = 256;

/// Where the answer to one write goes.
type Reply = oneshot::Sender<Result<Receipt, WriteError>>;

/// Requests prepared together: their events, and the answers to send once those are durable.
struct Prepared {
    events: Vec<Event>,
    replies: Vec<(Reply, Result<Receipt, WriteError>)>,
}

/// Everything the committer threads need.
pub(crate) struct Committer {
    pub(crate) state: WriterState,
    pub(crate) log: Arc<EventLog>,
    pub(crate) projection: Arc<RwLock<Projection>>,
    pub(crate) applied: watch::Sender<u64>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) snapshots: Option<Snapshots>,
}

impl Committer {
    /// Starts the committer: a *preparer* task that validates requests and builds their
    /// events, a *syncer* thread that makes prepared groups durable (it blocks on sled
    /// flushes and `fdatasync`), and an *applier* thread that folds each durable group into
    /// the projection and answers it. They overlap, so requests arriving during a flush form
    /// the next group (group commit). The returned handle ends when every [`Writer`] is
    /// dropped and all accepted work is answered.
    pub(crate) fn spawn(self) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (ptx, prx) = mpsc::channel::<Prepared>(PIPELINE_DEPTH);
        let Committer {
            state,
            log,
            projection,
            applied,
            metrics,
            snapshots,
        } = self;
        let broken: Arc<parking_lot::Mutex<Option<String>>> = Arc::default();
        let snapshots = snapshots.map(|config| SnapshotTaker {
            config,
            applied: applied.subscribe(),
            projection: projection.clone(),
            metrics: metrics.clone(),
            broken: broken.clone(),
            writing: None,
        });
        let in_flight: Arc<AtomicUsize> = Arc::default();
        let syncer = {
            let (metrics, broken, in_flight) = (metrics.clone(), broken.clone(), in_flight.clone());
            std::thread::Builder::new()
                .name("syncer".into())
                .spawn(move || {
                    // Bounded like the pipeline before it: a slow fold pushes back on
                    // the appends, and so on the writer queue.
                    let (atx, arx) = std::sync::mpsc::sync_channel::<Appended>(APPLY_DEPTH);
                    let applier = {
                        let (projection, metrics) = (projection.clone(), metrics.clone());
                        std::thread::Builder::new()
                            .name("applier".into())
                            .spawn({
                                let broken = broken.clone();
                                move || apply_loop(arx, &projection, &applied, &metrics, &broken)
                            })
                            // As below: fails only when the OS is out of resources.
                            .expect("spawn applier thread")
                    };
                    let stage = SyncStage {
                        log: &log,
                        metrics: &metrics,
                        broken: &broken,
                        in_flight: &in_flight,
                        applier: &atx,
                    };
                    stage.run(prx);
                    drop(atx);
                    let _ = applier.join();
                })
                // Thread creation fails only when the OS is out of resources at start.
                .expect("spawn syncer thread")
        };
        // The preparer is CPU work of microseconds per request: it runs as a task on the
        // runtime, so handing it a request costs no thread wake-up. It ends when every
        // Writer is dropped; then the syncer drains what is left and ends.
        tokio::spawn(prepare_loop(rx, state, ptx, broken.clone(), snapshots));
        (
            Writer {
                tx,
                metrics,
                in_flight,
                broken,
                replicated: None,
            },
            syncer,
        )
    }
}

async fn prepare_loop(
    mut rx: mpsc::Receiver<Job>,
    mut state: WriterState,
    ptx: mpsc::Sender<Prepared>,
    broken: Arc<parking_lot::Mutex<Option<String>>>,
    mut snapshots: Option<SnapshotTaker>,
) {
    while let Some(first) = rx.recv().await {
        let now = now_micros();
        let mut group = Prepared {
            events: Vec::new(),
            replies: Vec::new(),
        };
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let answer = match broken.lock().clone() {
                Some(why) => Err(WriteError::Unavailable(why)),
                None => match job.command {
                    Command::Write(request, principal) => {
                        state.prepare(request, &principal, now, &mut group.events)
                    }
                    Command::Control(c) => state.control(c, &mut group.events),
                },
            };
            group.replies.push((job.reply, answer));
            if group.events.len() < MAX_GROUP_EVENTS {
                next = rx.try_recv().ok();
            }
        }
        if ptx.send(group).await.is_err() {
            return;
        }
        if let Some(s) = snapshots.as_mut().filter(|s| s.due(&state)) {
            state = s.take(state, false).await;
        }
    }
    // Every writer is gone: a last snapshot (the syncer runs until `ptx` is dropped).
    if let Some(s) = snapshots {
        s.finish(state).await;
    }
}

/// Longest a commit waits for writes that are already inside the writer (queued or being
/// prepared) so that they share its flush. Each commit costs a sled flush, an `fdatasync`
/// and a wake-up of sled's I/O threads; waiting a fraction of that for requests already on
/// their way is cheaper than a commit of their own. Never waits for writes not yet sent.
const MAX_COMMIT_DELAY: std::time::Duration = std::time::Duration::from_micros(500);

/// The syncer thread's view of the world.
struct SyncStage<'a> {
    log: &'a EventLog,
    metrics: &'a Metrics,
    broken: &'a parking_lot::Mutex<Option<String>>,
    in_flight: &'a AtomicUsize,
    /// Where appended groups go to be folded and answered.
    applier: &'a std::sync::mpsc::SyncSender<Appended>,
}

/// Subtracts writes from the in-flight count once a commit has taken them.
struct Taken<'a>(&'a AtomicUsize, usize);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::AcqRel);
    }
}

/// How often a waiting commit looks for newly prepared groups.
const COMMIT_POLL: std::time::Duration = std::time::Duration::from_micros(50);

/// Appended groups that may wait for the applier: it folds one group while the syncer
/// makes the next durable.
const APPLY_DEPTH: usize = 4;

/// What the syncer hands the applier, in commit order.
struct Appended {
    /// Durable events to fold before the answers go out; empty when the commit appended
    /// nothing (or failed).
    events: Vec<Event>,
    replies: Vec<(Reply, Result<Receipt, WriteError>)>,
}

impl SyncStage<'_> {
    fn run(&self, mut prx: mpsc::Receiver<Prepared>) {
        while let Some(first) = prx.blocking_recv() {
            let groups = self.gather(first, &mut prx);
            let appended = self.commit(groups);
            if self.applier.send(appended).is_err() {
                return;
            }
        }
    }

    /// Everything prepared while the last group was syncing, plus what is already in the
    /// writer and arrives within [`MAX_COMMIT_DELAY`], commits together.
    fn gather(&self, first: Prepared, prx: &mut mpsc::Receiver<Prepared>) -> Vec<Prepared> {
        let mut replies = first.replies.len();
        let mut n = first.events.len();
        let mut groups = vec![first];
        let deadline = Instant::now() + MAX_COMMIT_DELAY;
        while n < MAX_GROUP_EVENTS {
            let next = match prx.try_recv() {
                Ok(g) => Some(g),
                Err(_) if self.in_flight.load(Ordering::Acquire) > replies => {
                    if Instant::now() >= deadline {
                        None
                    } else {
                        std::thread::sleep(COMMIT_POLL);
                        continue;
                    }
                }
                Err(_) => None,
            };
            match next {
                Some(g) => {
                    n += g.events.len();
                    replies += g.replies.len();
                    groups.push(g);
                }
                None => break,
            }
        }
        groups
    }

    /// Makes the groups' events durable in one append; what the applier must fold and
    /// answer. After a failed append (this one or an earlier one) every answer is a refusal.
    fn commit(&self, mut groups: Vec<Prepared>) -> Appended {
        let (log, metrics, broken) = (self.log, self.metrics, self.broken);
        let events: Vec<Event> = if groups.len() == 1 {
            std::mem::take(&mut groups[0].events)
        } else {
            groups
                .iter_mut()
                .flat_map(|g| std::mem::take(&mut g.events))
                .collect()
        };
        let taken: usize = groups.iter().map(|g| g.replies.len()).sum();
        let _taken = Taken(self.in_flight, taken);
        let replies = groups.into_iter().flat_map(|g| g.replies);
        if let Some(why) = broken.lock().clone() {
            // Answers that record nothing (refusals, validations) stay as they are; any
            // other is refused, as nothing more is appended after a failure.
            return Appended {
                events: Vec::new(),
                replies: replies
                    .map(|(reply, answer)| match answer {
                        Ok(_) => (reply, Err(WriteError::Unavailable(why.clone()))),
                        a => (reply, a),
                    })
                    .collect(),
            };
        }
        if events.is_empty() {
            return Appended {
                events,
                replies: replies.collect(),
            };
        }
        let started = Instant::now();
        if let Err(e) = log.append(&events) {
            tracing::error!(error = %e, "append failed; refusing further writes");
            metrics.store_errors.inc();
            let why = match e {
                StoreError::Poisoned => e.to_string(),
                other => format!("append failed ({other}); the server must be restarted"),
            };
            *broken.lock() = Some(why.clone());
            return Appended {
                events: Vec::new(),
                replies: replies
                    .map(|(reply, _)| (reply, Err(WriteError::Unavailable(why.clone()))))
                    .collect(),
            };
        }
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.commit_group_events.observe(events.len() as f64);
        metrics.events_appended.inc_by(events.len() as u64);
        if let Some(last) = events.last() {
            metrics.log_sequence.set(last.sequence as i64);
        }
        Appended {
            events,
            replies: replies.collect(),
        }
    }
}

/// The applier thread: folds each appended group into the projection, then answers its
/// writes, in commit order, so that an answer is sent only once what it describes is both
/// durable and visible to reads. Events are freed by a thread of their own: that is work
/// the next group need not wait for.
fn apply_loop(
    appended: std::sync::mpsc::Receiver<Appended>,
    projection: &RwLock<Projection>,
    applied: &watch::Sender<u64>,
    metrics: &Metrics,
    broken: &parking_lot::Mutex<Option<String>>,
) {
    // A panic in the fold (a bug) stops this thread: every later write is then refused,
    // saying why, instead of waiting for an answer that never comes.
    struct OnPanic<'a>(&'a parking_lot::Mutex<Option<String>>);
    impl Drop for OnPanic<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                tracing::error!("folding committed events failed; refusing further writes");
                self.0.lock().get_or_insert_with(|| {
                    "folding committed events failed; the server must be restarted".into()
                });
            }
        }
    }
    let _on_panic = OnPanic(broken);
    let (discard, discarded) = std::sync::mpsc::channel::<Vec<Event>>();
    // Ends when the applier (the sender) does; without it, events are freed here.
    let _ = std::thread::Builder::new()
        .name("discard".into())
        .spawn(move || while discarded.recv().is_ok() {});
    while let Ok(Appended { events, replies }) = appended.recv() {
        if let Some(last) = events.last().map(|e| e.sequence) {
            {
                let mut p = projection.write();
                for e in &events {
                    p.apply(e);
                }
            }
            metrics.projection_sequence.set(last as i64);
            let _ = applied.send(last);
        }
        for (reply, answer) in replies {
            let _ = reply.send(answer);
        }
        if !events.is_empty() {
            if let Err(back) = discard.send(events) {
                drop(back.0);
            }
        }
    }
}
