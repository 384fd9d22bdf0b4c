//! The write-side state the log implies, and the decisions on write requests.
//!
//! [`WriterState::apply`] is the fold that rebuilds the state from the log at start and
//! keeps it current as events are prepared. The decisions (`decide_*`) only read the state:
//! permissions first, then idempotency (a retry gets its receipt even if the catalog or the
//! region has moved on since), then validation, the expected revision, and which
//! observations would change their cells. [`WriterState::prepare`] carries a decision out by
//! building the events (sequence, region revision, hash chain) and folding them in; the
//! caller makes them durable before answering. No I/O happens here.
//!
//! Each kind is decided in a file of its own: `submit.rs` (figures), `retract.rs` (a
//! retraction), `catalog.rs` (indicator and group definitions, reporting rounds) and
//! `control.rs` (control messages: events written elsewhere, the read-only switch). This
//! file holds the state, the fold and what every kind shares.

mod catalog;
mod control;
mod retract;
mod submit;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use fxhash::FxHashMap;

use serde::{Deserialize, Serialize};

use super::digest;
use super::{Receipt, WriteError, WriteRequest};
use crate::auth::Principal;
use crate::domain::validate::Current;
use crate::domain::{Catalog, Event, Hash, Payload, ZERO_HASH};

/// What the state remembers of an accepted submission: enough to answer a retry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubmissionRecord {
    /// Digest of the submission's content (see [`super::digest`]).
    digest: Hash,
    receipt: Receipt,
}

/// The write-side state implied by the log. Serialized into snapshots (`crate::snapshot`),
/// all but `read_only`, which the server sets at start.
#[derive(Serialize, Deserialize)]
pub struct WriterState {
    next_sequence: u64,
    head_hash: Hash,
    last_recorded_at: i64,
    catalog: Catalog,
    /// The current reporting round of each year.
    rounds: std::collections::BTreeMap<i32, crate::domain::Round>,
    region_revisions: FxHashMap<String, u64>,
    /// Each cell's current value and status, by area, indicator and (year, the land of its
    /// borders: `Catalog::land`, so that a figure on borders that give the area the same
    /// land revises it and one on other land does not); absent
    /// = no value (never set, or retracted). Nested so that lookups by `&str` allocate
    /// nothing. Hashed with Fx: only catalog codes are ever inserted (after validation).
    cells: FxHashMap<String, FxHashMap<String, FxHashMap<YearOnLand, Current>>>,
    /// Serialized in id order, so that a snapshot's bytes depend on the state alone.
    #[serde(serialize_with = "in_key_order")]
    submissions: HashMap<String, SubmissionRecord>,
    /// Why this server takes no writes (a read replica), if it does not.
    #[serde(skip)]
    read_only: Option<String>,
}

impl Default for WriterState {
    fn default() -> Self {
        WriterState {
            next_sequence: 1,
            head_hash: ZERO_HASH,
            last_recorded_at: 0,
            catalog: Catalog::default(),
            rounds: Default::default(),
            region_revisions: FxHashMap::default(),
            cells: FxHashMap::default(),
            submissions: HashMap::new(),
            read_only: None,
        }
    }
}

/// Serializes a map in the order of its keys.
fn in_key_order<S: serde::Serializer, V: Serialize>(
    map: &HashMap<String, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().collect::<std::collections::BTreeMap<_, _>>())
}

/// The year of a record time, in Finland.
fn year_of(micros: i64) -> i32 {
    crate::domain::text::finnish_year(micros).unwrap_or(i32::MAX)
}

impl WriterState {
    /// The sequence of the last event.
    pub(crate) fn last_sequence(&self) -> u64 {
        self.next_sequence - 1
    }

    pub(crate) fn head_hash(&self) -> Hash {
        self.head_hash
    }

    fn current(
        &self,
        region: &str,
        indicator: &str,
        year: i32,
        borders: Option<i32>,
    ) -> Option<Current> {
        let land = self.catalog.land(region, borders);
        self.cells
            .get(region)
            .and_then(|m| m.get(indicator))
            .and_then(|m| m.get(&(year, land)))
            .copied()
    }

    /// The borders of a figure recorded at `now` that does not state its own: the division
    /// in force then (none without divisions).
    fn default_borders(&self, now: i64) -> Option<i32> {
        self.catalog.division_in_force(year_of(now))
    }

    fn set_current(
        &mut self,
        region: &str,
        indicator: &str,
        (year, borders): (i32, Option<i32>),
        c: Option<Current>,
    ) {
        let land = self.catalog.land(region, borders);
        if !self.cells.contains_key(region) {
            self.cells.insert(region.to_owned(), FxHashMap::default());
        }
        // Inserted just above when missing.
        let by_indicator = self.cells.get_mut(region).expect("region map");
        if !by_indicator.contains_key(indicator) {
            by_indicator.insert(indicator.to_owned(), FxHashMap::default());
        }
        let by_year = by_indicator.get_mut(indicator).expect("indicator map");
        match c {
            Some(c) => {
                by_year.insert((year, land), c);
            }
            None => {
                by_year.remove(&(year, land));
            }
        }
    }

    /// Folds one event into the state. Used at rebuild and for every new event alike.
    pub fn apply(&mut self, e: &Event) {
        self.apply_with(e, true);
    }

    /// Folds one event; `digest` = false leaves the submission's content digest to the
    /// caller, who computed it from the request (the same value; see [`super::digest`]).
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
        let mut items = 1;
        let mut unchanged = None;
        match &e.payload {
            Payload::ObservationRecorded(o) => {
                let c = Current {
                    value: o.value,
                    status: o.status,
                };
                self.set_current(
                    &e.region_code,
                    &o.indicator_id,
                    (o.year, o.borders),
                    Some(c),
                );
            }
            Payload::ObservationRetracted {
                indicator_id,
                year,
                borders,
                ..
            } => {
                self.set_current(&e.region_code, indicator_id, (*year, *borders), None);
            }
            Payload::MunicipalityDefined(m) => {
                self.catalog
                    .municipalities
                    .insert(m.code.clone(), m.clone());
                self.catalog.cache.clear();
            }
            Payload::DivisionDefined(d) => {
                self.catalog.divisions.insert(d.year, d.clone());
                self.catalog.cache.clear();
            }
            Payload::IndicatorDefined(i) => {
                self.catalog.indicators.insert(i.id.clone(), i.clone());
            }
            Payload::RegionDefined(r) => {
                self.catalog.regions.insert(r.code.clone(), r.clone());
            }
            // Members in code order whoever wrote the event (`RegionGroup::has` bisects).
            Payload::GroupDefined(g) => {
                self.catalog
                    .groups
                    .insert(g.id.clone(), g.clone().normalized());
            }
            Payload::RoundOpened(r) => {
                self.rounds.insert(r.year, r.clone());
            }
            Payload::TargetSet(t) => self.catalog.set_target(t.clone()),
            Payload::SubmissionSummary { unchanged: u, .. } => {
                items = 0;
                unchanged = Some(*u);
            }
        }
        if e.submission_id.is_empty() {
            return;
        }
        match self.submissions.get_mut(&e.submission_id) {
            // Events of one submission are consecutive.
            Some(rec) if rec.receipt.last_sequence + 1 == e.sequence => {
                if digest {
                    rec.digest = digest::event_step(&rec.digest, e);
                }
                let r = &mut rec.receipt;
                r.last_sequence = e.sequence;
                r.region_revision = e.region_revision;
                r.receipt_hash = Some(e.hash);
                r.recorded += items;
                r.unchanged = unchanged.unwrap_or(r.unchanged);
            }
            _ => {
                self.submissions.insert(
                    e.submission_id.clone(),
                    SubmissionRecord {
                        digest: if digest {
                            digest::event_step(&ZERO_HASH, e)
                        } else {
                            ZERO_HASH
                        },
                        receipt: Receipt {
                            first_sequence: e.sequence,
                            last_sequence: e.sequence,
                            region_revision: e.region_revision,
                            receipt_hash: Some(e.hash),
                            recorded: items,
                            unchanged: unchanged.unwrap_or(0),
                            ..Receipt::default()
                        },
                    },
                );
            }
        }
    }

    fn region_revision(&self, region: &str) -> u64 {
        self.region_revisions.get(region).copied().unwrap_or(0)
    }

    /// Idempotency: `Some` answer when the id is known — its receipt for the same content,
    /// `ALREADY_EXISTS` for other content.
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

    /// Validates `req` and, when it is accepted and asks for a change, appends its events to
    /// `out` and folds them into the state. The caller must make `out` durable before
    /// answering. The request's strings move into the events.
    pub fn prepare(
        &mut self,
        req: WriteRequest,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        if let Some(why) = &self.read_only {
            return Err(WriteError::ReadOnly(why.clone()));
        }
        let now = now.max(self.last_recorded_at);
        match req {
            WriteRequest::Submit(s) => self.prepare_submit(s, who, now, out),
            WriteRequest::Retract(r) => self.prepare_retract(r, who, now, out),
            WriteRequest::DefineIndicator {
                submission_id,
                indicator,
            } => self.prepare_indicator(submission_id, indicator, who, now, out),
            WriteRequest::DefineGroup {
                submission_id,
                group,
            } => self.prepare_group(submission_id, group, who, now, out),
            WriteRequest::OpenRound {
                submission_id,
                round,
                allow_past,
            } => self.prepare_round(submission_id, round, allow_past, who, now, out),
            WriteRequest::SetTarget {
                submission_id,
                target,
            } => self.prepare_target(submission_id, target, who, now, out),
        }
    }

    /// Refuses client writes with `why` (a read replica), or takes them again (`None`).
    pub(crate) fn set_read_only(&mut self, why: Option<String>) {
        self.read_only = why;
    }

    /// Builds, seals and applies the event; pushes it to `out`.
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

    /// The receipt of what was just emitted from sequence `first` on.
    fn receipt_of(&self, id: &str, first: u64) -> Receipt {
        // Without an id (an indicator definition may have none) nothing is remembered:
        // everything from `first` on is this request's.
        let rec = self.submissions.get(id).filter(|_| !id.is_empty());
        let last = self.last_sequence();
        Receipt {
            first_sequence: first,
            last_sequence: last,
            region_revision: rec.map(|r| r.receipt.region_revision).unwrap_or(0),
            receipt_hash: Some(self.head_hash),
            recorded: rec.map_or((last + 1 - first) as u32, |r| r.receipt.recorded),
            unchanged: rec.map_or(0, |r| r.receipt.unchanged),
            ..Receipt::default()
        }
    }

    /// The events that put a catalog into an empty log.
    pub fn bootstrap(&mut self, catalog: &Catalog, now: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for r in catalog.regions.values() {
            let payload = Payload::RegionDefined(r.clone());
            self.emit("", "system", "catalog-bootstrap", payload, now, &mut out);
        }
        for i in catalog.indicators.values() {
            let payload = Payload::IndicatorDefined(i.clone());
            self.emit("", "system", "catalog-bootstrap", payload, now, &mut out);
        }
        for g in catalog.groups.values() {
            let payload = Payload::GroupDefined(g.clone());
            self.emit("", "system", "catalog-bootstrap", payload, now, &mut out);
        }
        for m in catalog.municipalities.values() {
            let payload = Payload::MunicipalityDefined(m.clone());
            self.emit("", "system", "catalog-bootstrap", payload, now, &mut out);
        }
        for d in catalog.divisions.values() {
            let payload = Payload::DivisionDefined(d.clone());
            self.emit("", "system", "catalog-bootstrap", payload, now, &mut out);
        }
        for t in &catalog.targets {
            let payload = Payload::TargetSet(t.clone());
            self.emit("", "system", "catalog-bootstrap", payload, now, &mut out);
        }
        let digest = out.iter().fold(ZERO_HASH, |d, e| digest::event_step(&d, e));
        self.set_digest("catalog-bootstrap", digest);
        out
    }
}

/// A cell's year and the land of its borders (`Catalog::land`).
type YearOnLand = (i32, Option<i32>);

/// Refuses a write by a principal that may not write figures at all, or not for `area`
/// (when it resolved; an unknown area is left to validation): a municipality is written by
/// the reporters of the region it lies in on the division in force at `now`. Checked before
/// idempotency, so nobody learns about submissions of areas they cannot write.
fn check_write_permission(
    catalog: &Catalog,
    who: &Principal,
    area: Option<&str>,
    now: i64,
) -> Result<(), WriteError> {
    let writes_figures = who.writes_figures();
    let region = area.map(|a| (a, catalog.reporting_region(a, year_of(now))));
    let allowed = writes_figures
        && region.is_none_or(|(a, r)| who.may_write(a) || r.is_some_and(|r| who.may_write(r)));
    if allowed {
        return Ok(());
    }
    Err(WriteError::PermissionDenied(match region {
        Some((a, Some(r))) if writes_figures && a != r => format!(
            "{} may not write figures for {a}, which lies in {r} on the borders in force now",
            who.name
        ),
        Some((a, _)) if writes_figures => format!("{} may not write figures for {a}", who.name),
        _ => format!("{} ({}) may not write figures", who.name, who.role.as_str()),
    }))
}
