//! The single writer: validates write requests against the state the log implies, assigns
//! sequences, region revisions and the hash chain, and commits groups of requests with one
//! durable append each (group commit).
//!
//! It owns the only mutable copy of the write-side state (next sequence, head hash, region
//! revisions, idempotency keys, cell statuses, catalog), rebuilt from the log at start by
//! the same fold ([`WriterState::apply`]) that runs for every new event. It must never
//! answer a request before the request's events are durable, and after a failed append it
//! answers every request with an error until restarted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};

use crate::auth::Principal;
use crate::domain::validate::{self, FieldViolation, ObservationInput};
use crate::domain::{Catalog, Event, Hash, Indicator, Observation, Payload, Status, ZERO_HASH};
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::store::{EventLog, StoreError};

/// Most requests waiting for the writer. Beyond this the service is overloaded and says so
/// (`RESOURCE_EXHAUSTED`) instead of queueing without bound: 8192 requests is several
/// seconds of work at the slowest (10,000-observation) size and a few hundred milliseconds
/// of single-observation work.
pub const QUEUE_CAPACITY: usize = 8192;
/// Most events in one commit group: bounds the memory and latency of one commit.
pub const MAX_GROUP_EVENTS: usize = 50_000;

/// A submission, as the API hands it over.
#[derive(Debug, Clone)]
pub struct SubmitInput {
    pub submission_id: String,
    pub region_code: String,
    pub expected_region_revision: Option<u64>,
    pub observations: Vec<ObservationInput>,
}

/// A retraction, as the API hands it over.
#[derive(Debug, Clone)]
pub struct RetractInput {
    pub submission_id: String,
    pub region_code: String,
    pub indicator_id: String,
    pub year: i32,
    pub reason: String,
    pub expected_region_revision: Option<u64>,
}

/// What a write request asks for.
#[derive(Debug, Clone)]
pub enum WriteRequest {
    Submit(SubmitInput),
    Retract(RetractInput),
    DefineIndicator {
        submission_id: String,
        indicator: Indicator,
    },
}

/// The answer to an accepted write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub first_sequence: u64,
    pub last_sequence: u64,
    pub region_revision: u64,
    pub duplicate: bool,
    pub receipt_hash: Hash,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("submission id {0:?} was already used for different content")]
    AlreadyExists(String),
    #[error("region {region} is at revision {current}, not the expected {expected}")]
    RevisionMismatch {
        region: String,
        expected: u64,
        current: u64,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("the writer is overloaded; retry later")]
    Overloaded,
    #[error("the store cannot accept writes: {0}")]
    Unavailable(String),
}

/// What the writer remembers of an accepted submission: enough to answer a retry.
#[derive(Debug, Clone)]
struct SubmissionRecord {
    /// Digest of the submission's content (see [`digest_step`]).
    digest: Hash,
    receipt: Receipt,
}

/// The write-side state implied by the log.
pub struct WriterState {
    next_sequence: u64,
    head_hash: Hash,
    last_recorded_at: i64,
    catalog: Catalog,
    region_revisions: HashMap<String, u64>,
    /// Status of each cell's current value, by region, indicator and year; absent = no
    /// value (never set, or retracted). Nested so that lookups by `&str` allocate nothing.
    cell_status: HashMap<String, HashMap<String, HashMap<i32, Status>>>,
    submissions: HashMap<String, SubmissionRecord>,
}

/// Running content digest: `d' = SHA-256(d ‖ postcard(item))`, starting from zeros.
fn digest_step(d: &Hash, item: &impl serde::Serialize) -> Hash {
    let mut h = Sha256::new();
    h.update(d);
    // Serialising plain data into a hasher cannot fail.
    postcard::to_io(item, &mut h).expect("postcard encodes plain data");
    h.finalize().into()
}

#[derive(serde::Serialize)]
enum DigestItem<'a> {
    Observation {
        region: &'a str,
        indicator_id: &'a str,
        year: i32,
        value_bits: u64,
        status: Option<Status>,
        source: &'a str,
        note: &'a str,
        correction_reason: &'a str,
    },
    Retraction {
        region: &'a str,
        indicator_id: &'a str,
        year: i32,
        reason: &'a str,
    },
    Indicator(&'a Indicator),
    Region(&'a crate::domain::Region),
}

fn observation_item<'a>(region: &'a str, o: &'a ObservationInput) -> DigestItem<'a> {
    DigestItem::Observation {
        region,
        indicator_id: &o.indicator_id,
        year: o.year,
        value_bits: o.value.to_bits(),
        status: o.status,
        source: &o.source,
        note: &o.note,
        correction_reason: &o.correction_reason,
    }
}

fn input_of(o: &Observation) -> ObservationInput {
    ObservationInput {
        indicator_id: o.indicator_id.clone(),
        year: o.year,
        value: o.value,
        status: Some(o.status),
        source: o.source.clone(),
        note: o.note.clone(),
        correction_reason: o.correction_reason.clone(),
    }
}

fn event_digest_step(d: &Hash, e: &Event) -> Hash {
    match &e.payload {
        Payload::ObservationRecorded(o) => {
            digest_step(d, &observation_item(&e.region_code, &input_of(o)))
        }
        Payload::ObservationRetracted {
            indicator_id,
            year,
            reason,
        } => digest_step(
            d,
            &DigestItem::Retraction {
                region: &e.region_code,
                indicator_id,
                year: *year,
                reason,
            },
        ),
        Payload::IndicatorDefined(i) => digest_step(d, &DigestItem::Indicator(i)),
        Payload::RegionDefined(r) => digest_step(d, &DigestItem::Region(r)),
    }
}

impl Default for WriterState {
    fn default() -> Self {
        WriterState {
            next_sequence: 1,
            head_hash: ZERO_HASH,
            last_recorded_at: 0,
            catalog: Catalog::default(),
            region_revisions: HashMap::new(),
            cell_status: HashMap::new(),
            submissions: HashMap::new(),
        }
    }
}

impl WriterState {
    /// The sequence of the last event.
    pub fn last_sequence(&self) -> u64 {
        self.next_sequence - 1
    }

    pub fn head_hash(&self) -> Hash {
        self.head_hash
    }

    /// The status of a cell's current value.
    fn status_of(&self, region: &str, indicator: &str, year: i32) -> Option<Status> {
        self.cell_status
            .get(region)
            .and_then(|m| m.get(indicator))
            .and_then(|m| m.get(&year))
            .copied()
    }

    fn set_status(&mut self, region: &str, indicator: &str, year: i32, status: Option<Status>) {
        if !self.cell_status.contains_key(region) {
            self.cell_status.insert(region.to_owned(), HashMap::new());
        }
        // Inserted just above when missing.
        let by_indicator = self.cell_status.get_mut(region).expect("region map");
        if !by_indicator.contains_key(indicator) {
            by_indicator.insert(indicator.to_owned(), HashMap::new());
        }
        let by_year = by_indicator.get_mut(indicator).expect("indicator map");
        match status {
            Some(s) => {
                by_year.insert(year, s);
            }
            None => {
                by_year.remove(&year);
            }
        }
    }

    /// Folds one event into the state. Used for new events and at rebuild alike.
    pub fn apply(&mut self, e: &Event) {
        self.apply_with(e, true);
    }

    /// Folds one event; `digest` = false leaves the submission's content digest to the
    /// caller, who computed it from the request (the same value; see [`digest_step`]).
    fn apply_with(&mut self, e: &Event, digest: bool) {
        self.next_sequence = e.sequence + 1;
        self.head_hash = e.hash;
        self.last_recorded_at = self.last_recorded_at.max(e.recorded_at_micros);
        if !e.region_code.is_empty() {
            match self.region_revisions.get_mut(&e.region_code) {
                Some(r) => *r = e.region_revision,
                None => {
                    self.region_revisions
                        .insert(e.region_code.clone(), e.region_revision);
                }
            }
        }
        match &e.payload {
            Payload::ObservationRecorded(o) => {
                self.set_status(&e.region_code, &o.indicator_id, o.year, Some(o.status));
            }
            Payload::ObservationRetracted {
                indicator_id, year, ..
            } => {
                self.set_status(&e.region_code, indicator_id, *year, None);
            }
            Payload::IndicatorDefined(i) => {
                self.catalog.indicators.insert(i.id.clone(), i.clone());
            }
            Payload::RegionDefined(r) => {
                self.catalog.regions.insert(r.code.clone(), r.clone());
            }
        }
        if e.submission_id.is_empty() {
            return;
        }
        match self.submissions.get_mut(&e.submission_id) {
            // Events of one submission are consecutive.
            Some(rec) if rec.receipt.last_sequence + 1 == e.sequence => {
                if digest {
                    rec.digest = event_digest_step(&rec.digest, e);
                }
                rec.receipt.last_sequence = e.sequence;
                rec.receipt.region_revision = e.region_revision;
                rec.receipt.receipt_hash = e.hash;
            }
            _ => {
                self.submissions.insert(
                    e.submission_id.clone(),
                    SubmissionRecord {
                        digest: if digest {
                            event_digest_step(&ZERO_HASH, e)
                        } else {
                            ZERO_HASH
                        },
                        receipt: Receipt {
                            first_sequence: e.sequence,
                            last_sequence: e.sequence,
                            region_revision: e.region_revision,
                            duplicate: false,
                            receipt_hash: e.hash,
                        },
                    },
                );
            }
        }
    }

    fn region_revision(&self, region: &str) -> u64 {
        self.region_revisions.get(region).copied().unwrap_or(0)
    }

    /// Checks idempotency: `Some` answer when the id is known.
    fn check_duplicate(&self, id: &str, digest: Hash) -> Option<Result<Receipt, WriteError>> {
        if id.is_empty() {
            return None;
        }
        self.submissions.get(id).map(|rec| {
            if rec.digest == digest {
                Ok(Receipt {
                    duplicate: true,
                    ..rec.receipt.clone()
                })
            } else {
                Err(WriteError::AlreadyExists(id.to_owned()))
            }
        })
    }

    fn check_expected(&self, region: &str, expected: Option<u64>) -> Result<(), WriteError> {
        let current = self.region_revision(region);
        match expected {
            Some(exp) if exp != current => Err(WriteError::RevisionMismatch {
                region: region.to_owned(),
                expected: exp,
                current,
            }),
            _ => Ok(()),
        }
    }

    /// Builds, seals and applies the event; pushes it to `out`.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        region: &str,
        principal: &str,
        submission_id: &str,
        payload: Payload,
        now: i64,
        out: &mut Vec<Event>,
    ) {
        let region_revision = if region.is_empty() {
            0
        } else {
            self.region_revision(region) + 1
        };
        let mut e = Event {
            sequence: self.next_sequence,
            recorded_at_micros: now,
            region_code: region.to_owned(),
            region_revision,
            principal: principal.to_owned(),
            submission_id: submission_id.to_owned(),
            payload,
            prev_hash: ZERO_HASH,
            hash: ZERO_HASH,
        };
        e.seal(self.head_hash);
        self.apply_with(&e, false);
        out.push(e);
    }

    /// Records the content digest of a submission just emitted (computed from the request).
    fn set_digest(&mut self, id: &str, digest: Hash) {
        if let Some(rec) = self.submissions.get_mut(id) {
            rec.digest = digest;
        }
    }

    fn receipt_of(&self, id: &str, first: u64) -> Receipt {
        Receipt {
            first_sequence: first,
            last_sequence: self.last_sequence(),
            region_revision: self
                .submissions
                .get(id)
                .map(|r| r.receipt.region_revision)
                .unwrap_or(0),
            duplicate: false,
            receipt_hash: self.head_hash,
        }
    }

    /// Validates `req` and, when it is accepted, appends its events to `out` and folds
    /// them into the state. The caller must make `out` durable before answering.
    pub fn prepare(
        &mut self,
        req: &WriteRequest,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let now = now.max(self.last_recorded_at);
        let principal = who.name.as_str();
        match req {
            WriteRequest::Submit(s) => self.prepare_submit(s, who, now, out),
            WriteRequest::Retract(r) => self.prepare_retract(r, who, now, out),
            WriteRequest::DefineIndicator {
                submission_id,
                indicator,
            } => {
                if !who.may_define() {
                    return Err(WriteError::PermissionDenied(format!(
                        "{} ({}) may not define indicators; that takes the admin role",
                        who.name,
                        who.role.as_str()
                    )));
                }
                let mut v = Vec::new();
                if !submission_id.is_empty() {
                    validate::check_submission_id(submission_id, "submission_id", &mut v);
                }
                if !v.is_empty() {
                    return Err(WriteError::Invalid(v));
                }
                let digest = digest_step(&ZERO_HASH, &DigestItem::Indicator(indicator));
                if let Some(answer) = self.check_duplicate(submission_id, digest) {
                    return answer;
                }
                let problem = indicator
                    .check()
                    .err()
                    .or_else(|| self.catalog.check_references(indicator).err());
                if let Some(p) = problem {
                    return Err(WriteError::Invalid(vec![FieldViolation {
                        field: "indicator".into(),
                        description: p,
                    }]));
                }
                let first = self.next_sequence;
                self.emit(
                    "",
                    principal,
                    submission_id,
                    Payload::IndicatorDefined(indicator.clone()),
                    now,
                    out,
                );
                self.set_digest(submission_id, digest);
                Ok(self.receipt_of(submission_id, first))
            }
        }
    }

    fn prepare_submit(
        &mut self,
        s: &SubmitInput,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        let mut v = Vec::new();
        validate::check_submission_id(&s.submission_id, "submission_id", &mut v);
        let region =
            validate::check_region(&self.catalog, &s.region_code, &mut v).map(str::to_owned);
        check_write_permission(who, region.as_deref())?;
        // Idempotency comes first: a retry of an accepted submission gets its receipt even
        // if the catalog or the region's revision has moved on since.
        let digest_region = region.as_deref().unwrap_or(&s.region_code);
        let mut digest = ZERO_HASH;
        if v.is_empty() {
            digest = s.observations.iter().fold(ZERO_HASH, |d, o| {
                digest_step(&d, &observation_item(digest_region, o))
            });
            if let Some(answer) = self.check_duplicate(&s.submission_id, digest) {
                return answer;
            }
        }
        let valid = validate::check_observations(
            &self.catalog,
            region.as_deref(),
            &s.observations,
            |ind, year| region.as_deref().and_then(|r| self.status_of(r, ind, year)),
            &mut v,
        );
        if !v.is_empty() {
            return Err(WriteError::Invalid(v));
        }
        // No violation means the region resolved.
        let region = region.expect("validated region");
        self.check_expected(&region, s.expected_region_revision)?;
        let first = self.next_sequence;
        for o in valid {
            self.emit(
                &region,
                principal,
                &s.submission_id,
                Payload::ObservationRecorded(o),
                now,
                out,
            );
        }
        // Reaching here means no violation, so `digest` was computed above.
        self.set_digest(&s.submission_id, digest);
        Ok(self.receipt_of(&s.submission_id, first))
    }

    fn prepare_retract(
        &mut self,
        r: &RetractInput,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        let mut v = Vec::new();
        validate::check_submission_id(&r.submission_id, "submission_id", &mut v);
        let region =
            validate::check_region(&self.catalog, &r.region_code, &mut v).map(str::to_owned);
        check_write_permission(who, region.as_deref())?;
        let mut digest = ZERO_HASH;
        if v.is_empty() {
            let region = region.as_deref().unwrap_or_default();
            digest = digest_step(
                &ZERO_HASH,
                &DigestItem::Retraction {
                    region,
                    indicator_id: &r.indicator_id,
                    year: r.year,
                    reason: &r.reason,
                },
            );
            if let Some(answer) = self.check_duplicate(&r.submission_id, digest) {
                return answer;
            }
        }
        match self.catalog.indicators.get(&r.indicator_id) {
            None => v.push(FieldViolation {
                field: "indicator_id".into(),
                description: format!("unknown indicator {:?}", r.indicator_id),
            }),
            Some(ind) => validate::check_year(ind, r.year, || "year".into(), &mut v),
        }
        validate::check_reason(&r.reason, &mut v);
        if !v.is_empty() {
            return Err(WriteError::Invalid(v));
        }
        let region = region.expect("validated region");
        self.check_expected(&region, r.expected_region_revision)?;
        if self.status_of(&region, &r.indicator_id, r.year).is_none() {
            return Err(WriteError::NotFound(format!(
                "{region} {} {} has no current value to retract",
                r.indicator_id, r.year
            )));
        }
        let first = self.next_sequence;
        self.emit(
            &region,
            principal,
            &r.submission_id,
            Payload::ObservationRetracted {
                indicator_id: r.indicator_id.clone(),
                year: r.year,
                reason: r.reason.clone(),
            },
            now,
            out,
        );
        self.set_digest(&r.submission_id, digest);
        Ok(self.receipt_of(&r.submission_id, first))
    }

    /// The events that put a catalog into an empty log.
    pub fn bootstrap(&mut self, catalog: &Catalog, now: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for r in catalog.regions.values() {
            self.emit(
                "",
                "system",
                "catalog-bootstrap",
                Payload::RegionDefined(r.clone()),
                now,
                &mut out,
            );
        }
        for i in catalog.indicators.values() {
            self.emit(
                "",
                "system",
                "catalog-bootstrap",
                Payload::IndicatorDefined(i.clone()),
                now,
                &mut out,
            );
        }
        let digest = out.iter().fold(ZERO_HASH, |d, e| event_digest_step(&d, e));
        self.set_digest("catalog-bootstrap", digest);
        out
    }
}

/// Refuses a write by a principal that may not write figures at all, or not for `region`
/// (when it resolved; an unknown region is left to validation). Checked before idempotency,
/// so nobody learns about submissions of regions they cannot write.
fn check_write_permission(who: &Principal, region: Option<&str>) -> Result<(), WriteError> {
    let writes_figures = who.writes_figures();
    let allowed = writes_figures && region.is_none_or(|r| who.may_write(r));
    if allowed {
        return Ok(());
    }
    Err(WriteError::PermissionDenied(match region {
        Some(r) if writes_figures => format!("{} may not write figures for {r}", who.name),
        _ => format!("{} ({}) may not write figures", who.name, who.role.as_str()),
    }))
}

/// Current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

struct Job {
    request: WriteRequest,
    principal: Arc<Principal>,
    reply: oneshot::Sender<Result<Receipt, WriteError>>,
}

/// The handle that API code uses to write.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    /// Counts every outcome, whoever writes (API, demo loader).
    metrics: Arc<Metrics>,
    /// Writes handed to the writer and not yet answered: the syncer waits (briefly) for
    /// those still being prepared so that they share its commit.
    in_flight: Arc<AtomicUsize>,
}

impl Writer {
    /// Submits a write and waits until it is durable (or refused).
    pub async fn write(
        &self,
        request: WriteRequest,
        principal: Arc<Principal>,
    ) -> Result<Receipt, WriteError> {
        let r = self.write_uncounted(request, principal).await;
        self.metrics
            .submissions
            .with_label_values(&[crate::api::outcome(&r)])
            .inc();
        r
    }

    async fn write_uncounted(
        &self,
        request: WriteRequest,
        principal: Arc<Principal>,
    ) -> Result<Receipt, WriteError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            request,
            principal,
            reply,
        };
        // Counted from here until the syncer answers (it subtracts what it answered).
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
pub struct Committer {
    pub state: WriterState,
    pub log: Arc<EventLog>,
    pub projection: Arc<RwLock<Projection>>,
    pub applied: watch::Sender<u64>,
    pub metrics: Arc<Metrics>,
}

impl Committer {
    /// Starts the committer: a *preparer* thread that validates requests and builds their
    /// events, and a *syncer* thread that makes prepared groups durable (it blocks on sled
    /// flushes and `fdatasync`), applies them to the projection and answers. The two overlap,
    /// so requests arriving during a flush form the next group (group commit). The returned
    /// handle ends when every [`Writer`] is dropped and all accepted work is answered.
    pub fn spawn(self) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (ptx, prx) = mpsc::channel::<Prepared>(PIPELINE_DEPTH);
        let Committer {
            state,
            log,
            projection,
            applied,
            metrics,
        } = self;
        let broken: Arc<parking_lot::Mutex<Option<String>>> = Arc::default();
        let in_flight: Arc<AtomicUsize> = Arc::default();
        let syncer = {
            let (metrics, broken, in_flight) = (metrics.clone(), broken.clone(), in_flight.clone());
            std::thread::Builder::new()
                .name("syncer".into())
                .spawn(move || {
                    let stage = SyncStage {
                        log: &log,
                        projection: &projection,
                        applied: &applied,
                        metrics: &metrics,
                        broken: &broken,
                        in_flight: &in_flight,
                    };
                    stage.run(prx)
                })
                // Thread creation fails only when the OS is out of resources at start.
                .expect("spawn syncer thread")
        };
        // The preparer is CPU work of microseconds per request: it runs as a task on the
        // runtime, so handing it a request costs no thread wake-up. It ends when every
        // Writer is dropped; then the syncer drains what is left and ends.
        tokio::spawn(prepare_loop(rx, state, ptx, broken));
        (
            Writer {
                tx,
                metrics,
                in_flight,
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
                None => state.prepare(&job.request, &job.principal, now, &mut group.events),
            };
            group.replies.push((job.reply, answer));
            if group.events.len() < MAX_GROUP_EVENTS {
                next = rx.try_recv().ok();
            }
        }
        if ptx.send(group).await.is_err() {
            return;
        }
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
    projection: &'a RwLock<Projection>,
    applied: &'a watch::Sender<u64>,
    metrics: &'a Metrics,
    broken: &'a parking_lot::Mutex<Option<String>>,
    in_flight: &'a AtomicUsize,
}

/// Subtracts answered writes from the in-flight count when a commit is done with them.
struct Answered<'a>(&'a AtomicUsize, usize);

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::AcqRel);
    }
}

/// How often a waiting commit looks for newly prepared groups.
const COMMIT_POLL: std::time::Duration = std::time::Duration::from_micros(50);

impl SyncStage<'_> {
    fn run(&self, mut prx: mpsc::Receiver<Prepared>) {
        while let Some(first) = prx.blocking_recv() {
            let groups = self.gather(first, &mut prx);
            self.commit(groups);
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

    fn commit(&self, mut groups: Vec<Prepared>) {
        let (log, projection, applied, metrics, broken) = (
            self.log,
            self.projection,
            self.applied,
            self.metrics,
            self.broken,
        );
        let events: Vec<Event> = if groups.len() == 1 {
            std::mem::take(&mut groups[0].events)
        } else {
            groups
                .iter_mut()
                .flat_map(|g| std::mem::take(&mut g.events))
                .collect()
        };
        let answered: usize = groups.iter().map(|g| g.replies.len()).sum();
        let _answered = Answered(self.in_flight, answered);
        let replies = groups.into_iter().flat_map(|g| g.replies);
        let failed = broken.lock().clone();
        if events.is_empty() || failed.is_some() {
            for (reply, answer) in replies {
                let answer = match (&failed, answer) {
                    (Some(why), Ok(_)) => Err(WriteError::Unavailable(why.clone())),
                    (_, a) => a,
                };
                let _ = reply.send(answer);
            }
            return;
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
            for (reply, _) in replies {
                let _ = reply.send(Err(WriteError::Unavailable(why.clone())));
            }
            return;
        }
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.commit_group_events.observe(events.len() as f64);
        metrics.events_appended.inc_by(events.len() as u64);
        let last = events.last().map(|e| e.sequence).unwrap_or(0);
        {
            let mut p = projection.write();
            for e in &events {
                p.apply(e);
            }
        }
        metrics.log_sequence.set(last as i64);
        metrics.projection_sequence.set(last as i64);
        let _ = applied.send(last);
        for (reply, answer) in replies {
            let _ = reply.send(answer);
        }
    }
}
