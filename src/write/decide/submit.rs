//! Deciding a submission of figures.

use super::{check_write_permission, year_of, WriterState};
use crate::auth::Principal;
use crate::domain::validate;
use crate::domain::{Event, Hash, Payload};
use crate::write::digest;
use crate::write::{Receipt, SubmitInput, WriteError};

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

impl WriterState {
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
        let region = validate::check_area(&self.catalog, &s.region_code, &mut v).map(str::to_owned);
        check_write_permission(&self.catalog, who, region.as_deref(), now)?;
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
            |ind, year, borders| {
                region
                    .as_deref()
                    .and_then(|r| self.current(r, ind, year, borders))
            },
            year_of(now),
            &mut v,
        );
        if let Some(r) = region.as_deref() {
            validate::check_borders(&self.catalog, r, &s.observations, &mut v);
        }
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
            match self.current(region, &o.indicator_id, o.year, o.borders) {
                None => rc.retracted_since.push(key()),
                Some(c) if Some(c.status) != o.status || c.value != o.value => {
                    rc.revised_since.push(key())
                }
                Some(_) => {}
            }
        }
        rc
    }

    /// Carries out a submission (see [`WriterState::prepare`]): its observations that change
    /// their cells, and a summary when some do not.
    pub(super) fn prepare_submit(
        &mut self,
        mut s: SubmitInput,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        // A figure that does not say its borders is on the division in force now: filled in
        // first, so that the checks, the cells and the content digest all see the borders
        // the figure is recorded on.
        let default = self.default_borders(now);
        for o in s.observations.iter_mut().filter(|o| o.borders.is_none()) {
            o.borders = default;
        }
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
}
