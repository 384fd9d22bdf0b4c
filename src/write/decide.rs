//! The write-side state the log implies, and the decisions on write requests.
//!
//! [`WriterState::apply`] is the fold that rebuilds the state from the log at start and
//! keeps it current as events are prepared. The decisions (`decide_*`) only read the state:
//! permissions first, then idempotency (a retry gets its receipt even if the catalog or the
//! region has moved on since), then validation, the expected revision, and which
//! observations would change their cells. [`WriterState::prepare`] carries a decision out by
//! building the events (sequence, region revision, hash chain) and folding them in; the
//! caller makes them durable before answering. No I/O happens here.

use std::collections::HashMap;

use fxhash::FxHashMap;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::digest::{self, Item};
use super::{Receipt, RetractInput, SubmitInput, WriteError, WriteRequest};
use crate::auth::Principal;
use crate::domain::validate::{self, Current, FieldViolation};
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
    /// Each cell's current value and status, by region, indicator and year; absent = no
    /// value (never set, or retracted). Nested so that lookups by `&str` allocate nothing.
    /// Hashed with Fx: only catalog codes are ever inserted (after validation).
    cells: FxHashMap<String, FxHashMap<String, FxHashMap<i32, Current>>>,
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

/// A decided submission: what to record.
#[derive(Debug)]
enum SubmitPlan {
    /// A retry of an accepted submission: its receipt.
    Duplicate(Receipt),
    Record {
        region: String,
        /// Whether each observation of the request leaves its cell as it is (in order).
        unchanged: Vec<bool>,
        digest: Hash,
    },
}

/// The year of a record time (UTC).
fn year_of(micros: i64) -> i32 {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.year())
        .unwrap_or(i32::MAX)
}

impl WriterState {
    /// The sequence of the last event.
    pub fn last_sequence(&self) -> u64 {
        self.next_sequence - 1
    }

    pub fn head_hash(&self) -> Hash {
        self.head_hash
    }

    fn current(&self, region: &str, indicator: &str, year: i32) -> Option<Current> {
        self.cells
            .get(region)
            .and_then(|m| m.get(indicator))
            .and_then(|m| m.get(&year))
            .copied()
    }

    fn set_current(&mut self, region: &str, indicator: &str, year: i32, c: Option<Current>) {
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
                by_year.insert(year, c);
            }
            None => {
                by_year.remove(&year);
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
                self.set_current(&e.region_code, &o.indicator_id, o.year, Some(c));
            }
            Payload::ObservationRetracted {
                indicator_id, year, ..
            } => {
                self.set_current(&e.region_code, indicator_id, *year, None);
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

    /// Decides a submission without changing anything. `now` is the record time the
    /// submission would get.
    fn decide_submit(
        &self,
        s: &SubmitInput,
        who: &Principal,
        now: i64,
    ) -> Result<SubmitPlan, WriteError> {
        let mut v = Vec::new();
        validate::check_submission_id(&s.submission_id, "submission_id", &mut v);
        let region =
            validate::check_region(&self.catalog, &s.region_code, &mut v).map(str::to_owned);
        check_write_permission(who, region.as_deref())?;
        // Idempotency comes first: a retry of an accepted submission gets its receipt even
        // if the catalog or the region's revision has moved on since.
        let digest_region = region.as_deref().unwrap_or(&s.region_code);
        let digest = digest::submission(digest_region, &s.observations);
        if v.is_empty() {
            if let Some(answer) = self.check_duplicate(&s.submission_id, digest) {
                return answer.map(|rc| SubmitPlan::Duplicate(self.since(digest_region, s, rc)));
            }
        }
        let checked = validate::check_observations(
            &self.catalog,
            &s.observations,
            |ind, year| region.as_deref().and_then(|r| self.current(r, ind, year)),
            year_of(now),
            &mut v,
        );
        if !v.is_empty() {
            return Err(WriteError::Invalid(v));
        }
        // No violation means the region resolved.
        let region = region.expect("validated region");
        self.check_expected(&region, s.expected_region_revision)?;
        // No violation: every observation was checked.
        debug_assert_eq!(checked.len(), s.observations.len());
        let mut unchanged = vec![false; s.observations.len()];
        for c in &checked {
            unchanged[c.index] = c.unchanged;
        }
        Ok(SubmitPlan::Record {
            region,
            unchanged,
            digest,
        })
    }

    /// A duplicate's receipt with the cells of the request that are no longer as it had
    /// them: retracted since, or revised since.
    fn since(&self, region: &str, s: &SubmitInput, mut rc: Receipt) -> Receipt {
        for o in &s.observations {
            let key = || (o.indicator_id.clone(), o.year);
            match self.current(region, &o.indicator_id, o.year) {
                None => rc.retracted_since.push(key()),
                Some(c) if Some(c.status) != o.status || c.value != o.value => {
                    rc.revised_since.push(key())
                }
                Some(_) => {}
            }
        }
        rc
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
        let req = match req {
            WriteRequest::Apply(events) => return self.prepare_apply(events, out),
            WriteRequest::SetReadOnly(why) => {
                self.read_only = why;
                return Ok(Receipt {
                    last_sequence: self.last_sequence(),
                    ..Receipt::default()
                });
            }
            req => req,
        };
        if let Some(why) = &self.read_only {
            return Err(WriteError::ReadOnly(why.clone()));
        }
        let now = now.max(self.last_recorded_at);
        let principal = who.name.as_str();
        match req {
            WriteRequest::Submit(s) => {
                let (region, unchanged_flags, digest) = match self.decide_submit(&s, who, now)? {
                    SubmitPlan::Duplicate(rc) => return Ok(rc),
                    SubmitPlan::Record {
                        region,
                        unchanged,
                        digest,
                    } => (region, unchanged, digest),
                };
                let total = unchanged_flags.len() as u32;
                let recorded = unchanged_flags.iter().filter(|u| !**u).count() as u32;
                let unchanged = total - recorded;
                if s.validate_only {
                    return Ok(Receipt {
                        region_revision: self.region_revision(&region),
                        recorded,
                        unchanged,
                        validated_only: true,
                        ..Receipt::default()
                    });
                }
                if recorded == 0 {
                    // Nothing changes: nothing is appended, and the id stays free.
                    return Ok(Receipt {
                        last_sequence: self.last_sequence(),
                        region_revision: self.region_revision(&region),
                        receipt_hash: Some(self.head_hash),
                        unchanged,
                        ..Receipt::default()
                    });
                }
                let first = self.next_sequence;
                let id = &s.submission_id;
                out.reserve(recorded as usize + 1);
                let changed = s
                    .observations
                    .into_iter()
                    .zip(unchanged_flags)
                    .filter(|(_, unchanged)| !unchanged);
                for (o, _) in changed {
                    let payload = Payload::ObservationRecorded(o.into_observation());
                    self.emit(&region, principal, id, payload, now, out);
                }
                if unchanged > 0 {
                    let payload = Payload::SubmissionSummary {
                        observations: total,
                        unchanged,
                        content_digest: digest,
                    };
                    self.emit(&region, principal, id, payload, now, out);
                }
                self.set_digest(id, digest);
                Ok(self.receipt_of(id, first))
            }
            WriteRequest::Retract(r) => {
                let (region, digest) = match self.decide_retract(&r, who)? {
                    Ok(plan) => plan,
                    Err(duplicate) => return Ok(duplicate),
                };
                let first = self.next_sequence;
                let payload = Payload::ObservationRetracted {
                    indicator_id: r.indicator_id,
                    year: r.year,
                    reason: r.reason,
                };
                self.emit(&region, principal, &r.submission_id, payload, now, out);
                self.set_digest(&r.submission_id, digest);
                Ok(self.receipt_of(&r.submission_id, first))
            }
            WriteRequest::DefineIndicator {
                submission_id,
                indicator,
            } => {
                let check = |c: &Catalog| {
                    indicator
                        .check()
                        .and_then(|()| c.check_references(&indicator))
                        .map_err(|p| ("indicator", p))
                };
                let digest = self.decide_catalog(
                    &submission_id,
                    Item::Indicator(&indicator),
                    who,
                    "define indicators",
                    check,
                )?;
                self.record_catalog(
                    digest,
                    &submission_id,
                    Payload::IndicatorDefined(indicator),
                    principal,
                    now,
                    out,
                )
            }
            WriteRequest::DefineGroup {
                submission_id,
                group,
            } => {
                let group = group.normalized();
                let check = |c: &Catalog| c.check_group(&group).map_err(|p| ("group", p));
                let digest = self.decide_catalog(
                    &submission_id,
                    Item::Group(&group),
                    who,
                    "define peer groups",
                    check,
                )?;
                self.record_catalog(
                    digest,
                    &submission_id,
                    Payload::GroupDefined(group),
                    principal,
                    now,
                    out,
                )
            }
            WriteRequest::OpenRound {
                submission_id,
                round,
            } => {
                // The digest covers the request as given; the event records the round with
                // its defaults resolved against the catalog of the moment, which is done only
                // for an admin's new request (inside the check, after the role and the id).
                let mut resolved = None;
                let check = |c: &Catalog| {
                    let r = c.resolve_round(round.clone());
                    let checked = c.check_round(&r);
                    resolved = Some(r);
                    checked
                };
                let digest = self.decide_catalog(
                    &submission_id,
                    Item::Round(&round),
                    who,
                    "open reporting rounds",
                    check,
                )?;
                // A retry (the check did not run) is answered its receipt.
                let round = resolved.filter(|_| digest.is_ok()).unwrap_or(round);
                self.record_catalog(
                    digest,
                    &submission_id,
                    Payload::RoundOpened(round),
                    principal,
                    now,
                    out,
                )
            }
            WriteRequest::Apply(_) | WriteRequest::SetReadOnly(_) => {
                unreachable!("handled above")
            }
        }
    }

    /// Refuses client writes with `why` (a read replica), or takes them again (`None`).
    pub fn set_read_only(&mut self, why: Option<String>) {
        self.read_only = why;
    }

    /// Events written elsewhere: each must continue the chain (next sequence, `prev_hash`
    /// = this state's head, a hash that recomputes); then they are folded and appended as
    /// they are. Nothing is folded when any of them does not fit.
    fn prepare_apply(
        &mut self,
        events: Vec<Event>,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        crate::domain::event::verify_chain(self.last_sequence(), self.head_hash, &events).map_err(
            |e| {
                WriteError::Diverged(format!(
                    "event {} does not continue this server's log (at sequence {}): {}",
                    e.sequence,
                    self.last_sequence(),
                    e.reason
                ))
            },
        )?;
        let first = self.next_sequence;
        let recorded = events.len() as u32;
        for e in events {
            self.apply(&e);
            out.push(e);
        }
        Ok(Receipt {
            first_sequence: if recorded == 0 { 0 } else { first },
            last_sequence: self.last_sequence(),
            receipt_hash: Some(self.head_hash),
            recorded,
            ..Receipt::default()
        })
    }

    /// Decides a retraction: `Ok(Ok((region, digest)))` to record it, `Ok(Err(receipt))`
    /// for a retry.
    fn decide_retract(
        &self,
        r: &RetractInput,
        who: &Principal,
    ) -> Result<Result<(String, Hash), Receipt>, WriteError> {
        let mut v = Vec::new();
        validate::check_submission_id(&r.submission_id, "submission_id", &mut v);
        let region =
            validate::check_region(&self.catalog, &r.region_code, &mut v).map(str::to_owned);
        check_write_permission(who, region.as_deref())?;
        let item = Item::Retraction {
            region: region.as_deref().unwrap_or_default(),
            indicator_id: &r.indicator_id,
            year: r.year,
            reason: &r.reason,
        };
        let digest = digest::step(&ZERO_HASH, &item);
        if v.is_empty() {
            if let Some(answer) = self.check_duplicate(&r.submission_id, digest) {
                return answer.map(Err);
            }
        }
        if !self.catalog.indicators.contains_key(&r.indicator_id) {
            v.push(FieldViolation {
                field: "indicator_id".into(),
                description: format!("unknown indicator {:?}", validate::clip(&r.indicator_id)),
            });
        }
        validate::check_reason(&r.reason, &mut v);
        if !v.is_empty() {
            return Err(WriteError::Invalid(v));
        }
        let region = region.expect("validated region");
        self.check_expected(&region, r.expected_region_revision)?;
        // Any cell with a value may be retracted, whatever the catalog's years say now: a
        // value recorded under an older definition must be removable.
        if self.current(&region, &r.indicator_id, r.year).is_none() {
            return Err(WriteError::NotFound(format!(
                "{region} {} {} has no current value to retract",
                r.indicator_id, r.year
            )));
        }
        Ok(Ok((region, digest)))
    }

    /// Decides a catalog event (an indicator or group definition, a round): admin only, then
    /// idempotency, then `check` against the catalog. `Ok(Ok(digest))` to record it,
    /// `Ok(Err(receipt))` for a retry. `what` says what the admin role allows ("define
    /// indicators").
    fn decide_catalog(
        &self,
        submission_id: &str,
        item: Item<'_>,
        who: &Principal,
        what: &str,
        check: impl FnOnce(&Catalog) -> Result<(), (&'static str, String)>,
    ) -> Result<Result<Hash, Receipt>, WriteError> {
        if !who.may_define() {
            return Err(WriteError::PermissionDenied(format!(
                "{} ({}) may not {what}; that takes the admin role",
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
        let digest = digest::step(&ZERO_HASH, &item);
        if let Some(answer) = self.check_duplicate(submission_id, digest) {
            return answer.map(Err);
        }
        check(&self.catalog).map_err(|(field, description)| {
            WriteError::Invalid(vec![FieldViolation {
                field: field.into(),
                description,
            }])
        })?;
        Ok(Ok(digest))
    }

    /// Records a decided catalog event (see [`Self::decide_catalog`]): its receipt, or the
    /// retry's. A group or round exactly as the state has it already records nothing: the
    /// answer says unchanged, as for an unchanged observation, and the id stays free.
    fn record_catalog(
        &mut self,
        decided: Result<Hash, Receipt>,
        submission_id: &str,
        payload: Payload,
        principal: &str,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let digest = match decided {
            Ok(digest) => digest,
            Err(duplicate) => return Ok(duplicate),
        };
        let unchanged = match &payload {
            Payload::GroupDefined(g) => self.catalog.groups.get(&g.id) == Some(g),
            Payload::RoundOpened(r) => self.rounds.get(&r.year) == Some(r),
            _ => false,
        };
        if unchanged {
            return Ok(Receipt {
                last_sequence: self.last_sequence(),
                receipt_hash: Some(self.head_hash),
                unchanged: 1,
                ..Receipt::default()
            });
        }
        let first = self.next_sequence;
        self.emit("", principal, submission_id, payload, now, out);
        self.set_digest(submission_id, digest);
        Ok(self.receipt_of(submission_id, first))
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
        let digest = out.iter().fold(ZERO_HASH, |d, e| digest::event_step(&d, e));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validate::ObservationInput;
    use crate::domain::Status;
    use crate::write::outcome;

    /// 2026-11-27T00:00:00Z in microseconds.
    const NOW: i64 = 1_795_737_600_000_000;

    fn state() -> WriterState {
        let mut s = WriterState::default();
        s.bootstrap(&Catalog::bundled(), NOW);
        s
    }

    fn obs(indicator: &str, year: i32, value: f64, status: Status) -> ObservationInput {
        ObservationInput {
            indicator_id: indicator.into(),
            year,
            value,
            status: Some(status),
            source: "Statistics Finland".into(),
            note: String::new(),
            correction_reason: String::new(),
        }
    }

    fn submit(id: &str, observations: Vec<ObservationInput>) -> WriteRequest {
        WriteRequest::Submit(SubmitInput {
            submission_id: id.into(),
            region_code: "MK19".into(),
            expected_region_revision: None,
            observations,
            validate_only: false,
        })
    }

    fn run(s: &mut WriterState, req: &WriteRequest) -> (Result<Receipt, WriteError>, Vec<Event>) {
        let mut out = Vec::new();
        let who = Principal::system("test");
        let r = s.prepare(req.clone(), &who, NOW, &mut out);
        (r, out)
    }

    /// A fresh state folded from every event so far: what a restart rebuilds.
    fn rebuilt(events: &[Event]) -> WriterState {
        let mut s = WriterState::default();
        for e in events {
            s.apply(e);
        }
        s
    }

    #[test]
    fn unchanged_observations_are_not_recorded_and_need_no_reason() {
        let mut s = state();
        let first = submit("a", vec![obs("population", 2021, 177_161.0, Status::Final)]);
        let (r, events) = run(&mut s, &first);
        assert_eq!((r.unwrap().recorded, events.len()), (1, 1));
        // The same final value again, under another id (an updated file): nothing appended,
        // no correction reason asked for.
        let again = submit("b", vec![obs("population", 2021, 177_161.0, Status::Final)]);
        let (r, events) = run(&mut s, &again);
        let r = r.unwrap();
        assert!(events.is_empty());
        assert_eq!((r.recorded, r.unchanged, r.first_sequence), (0, 1, 0));
        assert_eq!(r.last_sequence, s.last_sequence());
        assert_eq!(outcome(&Ok(r)), "unchanged");
        // A changed final value still needs a reason.
        let changed = submit("c", vec![obs("population", 2021, 177_000.0, Status::Final)]);
        let (r, _) = run(&mut s, &changed);
        assert!(
            matches!(r, Err(WriteError::Invalid(v)) if v[0].field == "observations[0].correction_reason")
        );
    }

    #[test]
    fn a_partly_unchanged_submission_keeps_its_receipt_across_a_rebuild() {
        let mut s = state();
        let mut log = Vec::new();
        let (_, events) = run(
            &mut s,
            &submit("a", vec![obs("population", 2021, 1.0, Status::Final)]),
        );
        log.extend(events);
        let mixed = submit(
            "b",
            vec![
                obs("population", 2021, 1.0, Status::Final),
                obs("natural_increase", 2021, -700.0, Status::Provisional),
            ],
        );
        let (r, events) = run(&mut s, &mixed);
        let receipt = r.unwrap();
        assert_eq!((receipt.recorded, receipt.unchanged), (1, 1));
        assert_eq!(events.len(), 2, "the observation and the summary");
        assert!(matches!(
            events[1].payload,
            Payload::SubmissionSummary {
                observations: 2,
                unchanged: 1,
                ..
            }
        ));
        assert_eq!(receipt.last_sequence, events[1].sequence);
        log.extend(events);
        // After a restart, a retry is a duplicate with the original receipt; the same id
        // with other content is refused.
        let mut s = rebuilt(&{
            let mut all = Vec::new();
            let mut boot = WriterState::default();
            all.extend(boot.bootstrap(&Catalog::bundled(), NOW));
            all.extend(log.clone());
            all
        });
        let (r, events) = run(&mut s, &mixed);
        let dup = r.unwrap();
        assert!(events.is_empty());
        assert!(dup.duplicate);
        assert_eq!(
            (dup.receipt_hash, dup.region_revision),
            (receipt.receipt_hash, receipt.region_revision)
        );
        assert_eq!(
            (
                dup.first_sequence,
                dup.last_sequence,
                dup.recorded,
                dup.unchanged
            ),
            (receipt.first_sequence, receipt.last_sequence, 1, 1)
        );
        let other = submit("b", vec![obs("population", 2021, 2.0, Status::Final)]);
        assert!(matches!(
            run(&mut s, &other).0,
            Err(WriteError::AlreadyExists(_))
        ));
    }

    #[test]
    fn a_duplicate_says_which_values_were_retracted_since() {
        let mut s = state();
        let file = submit(
            "a",
            vec![
                obs("population", 2021, 1.0, Status::Final),
                obs("natural_increase", 2021, -700.0, Status::Provisional),
            ],
        );
        run(&mut s, &file).0.unwrap();
        let retract = WriteRequest::Retract(RetractInput {
            submission_id: "r".into(),
            region_code: "MK19".into(),
            indicator_id: "natural_increase".into(),
            year: 2021,
            reason: "wrong year".into(),
            expected_region_revision: None,
        });
        run(&mut s, &retract).0.unwrap();
        let dup = run(&mut s, &file).0.unwrap();
        assert!(dup.duplicate);
        assert_eq!(
            dup.retracted_since,
            vec![("natural_increase".to_owned(), 2021)]
        );
        assert!(dup.revised_since.is_empty());
    }

    #[test]
    fn validate_only_runs_every_check_and_appends_nothing() {
        let mut s = state();
        let head = s.last_sequence();
        let mut req = SubmitInput {
            submission_id: "v".into(),
            region_code: "19".into(),
            expected_region_revision: None,
            observations: vec![obs("population", 2021, 1.0, Status::Final)],
            validate_only: true,
        };
        let (r, events) = run(&mut s, &WriteRequest::Submit(req.clone()));
        let r = r.unwrap();
        assert!(events.is_empty() && r.validated_only);
        assert_eq!((r.recorded, r.unchanged, r.receipt_hash), (1, 0, None));
        assert_eq!(s.last_sequence(), head);
        // The id stays free: the real submission is accepted.
        req.validate_only = false;
        assert_eq!(run(&mut s, &WriteRequest::Submit(req.clone())).1.len(), 1);
        // Refusals are the same as for a real submission.
        req.validate_only = true;
        req.submission_id = "w".into();
        req.observations[0].year = 2031;
        assert!(matches!(
            run(&mut s, &WriteRequest::Submit(req)).0,
            Err(WriteError::Invalid(_))
        ));
    }

    #[test]
    fn a_definition_without_an_id_is_recorded_and_counted_as_accepted() {
        let mut s = state();
        let mut ind = Catalog::bundled().indicators["population"].clone();
        ind.id = "population_projection".into();
        let req = WriteRequest::DefineIndicator {
            submission_id: String::new(),
            indicator: ind,
        };
        let (r, events) = run(&mut s, &req);
        assert_eq!(events.len(), 1);
        let r = r.unwrap();
        assert_eq!((r.recorded, r.first_sequence), (1, events[0].sequence));
        assert_eq!(outcome(&Ok(r)), "accepted");
    }

    #[test]
    fn the_record_time_decides_what_is_a_future_year() {
        let mut s = state();
        let req = submit("f", vec![obs("population", 2027, 1.0, Status::Final)]);
        let Err(WriteError::Invalid(v)) = run(&mut s, &req).0 else {
            panic!("2027 is after 2026")
        };
        assert!(
            v[0].description.contains("after the current year 2026"),
            "{v:?}"
        );
        // A year later the same request is fine.
        let mut out = Vec::new();
        let later = NOW + 366 * 24 * 3600 * 1_000_000;
        assert!(s
            .prepare(req, &Principal::system("t"), later, &mut out)
            .is_ok());
    }
}
