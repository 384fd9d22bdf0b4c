//! Deciding a retraction.

use super::{check_write_permission, WriterState};
use crate::auth::Principal;
use crate::domain::validate::{self, FieldViolation};
use crate::domain::{Event, Hash, Payload, ZERO_HASH};
use crate::write::digest;
use crate::write::{Receipt, RetractInput, WriteError};

impl WriterState {
    /// Decides a retraction: `Ok(Ok((region, digest)))` to record it, `Ok(Err(receipt))`
    /// for a retry.
    fn decide_retract(
        &self,
        r: &RetractInput,
        who: &Principal,
        now: i64,
    ) -> Result<Result<(String, Hash), Receipt>, WriteError> {
        let mut v = Vec::new();
        validate::check_submission_id(&r.submission_id, "submission_id", &mut v);
        let region = validate::check_area(&self.catalog, &r.region_code, &mut v).map(str::to_owned);
        check_write_permission(&self.catalog, who, region.as_deref(), now)?;
        let item = digest::retraction(
            region.as_deref().unwrap_or_default(),
            &r.indicator_id,
            r.year,
            &r.reason,
            r.borders,
        );
        let digest = digest::step(&ZERO_HASH, &item);
        if v.is_empty() {
            if let Some(answer) = self.check_duplicate(&r.submission_id, digest) {
                return answer.map(Err);
            }
        }
        if !self.catalog.indicators.contains_key(&r.indicator_id) {
            v.push(FieldViolation {
                field: "indicator_id".into(),
                description: format!(
                    "unknown indicator {:?}",
                    crate::domain::text::clip(&r.indicator_id)
                ),
            });
        }
        validate::check_reason(&r.reason, &mut v);
        if let Some(Err(why)) = r.borders.map(|d| self.catalog.known_division(d)) {
            v.push(FieldViolation {
                field: "borders".into(),
                description: why,
            });
        }
        if !v.is_empty() {
            return Err(WriteError::Invalid(v));
        }
        let region = region.expect("validated region");
        self.check_expected(&region, r.expected_region_revision)?;
        // Any cell with a value may be retracted, whatever the catalog's years say now: a
        // value recorded under an older definition must be removable.
        if self
            .current(&region, &r.indicator_id, r.year, r.borders)
            .is_none()
        {
            return Err(WriteError::NotFound(format!(
                "{region} {} {}{} has no current value to retract",
                r.indicator_id,
                r.year,
                validate::on_borders(r.borders)
            )));
        }
        Ok(Ok((region, digest)))
    }

    /// Carries out a retraction (see [`WriterState::prepare`]).
    pub(super) fn prepare_retract(
        &mut self,
        mut r: RetractInput,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        // Without borders: the figure on the division in force now (as a submission).
        r.borders = r.borders.or(self.default_borders(now));
        let (region, digest) = match self.decide_retract(&r, who, now)? {
            Ok(plan) => plan,
            Err(duplicate) => return Ok(duplicate),
        };
        let first = self.next_sequence;
        let payload = Payload::ObservationRetracted {
            indicator_id: r.indicator_id,
            year: r.year,
            reason: r.reason,
            borders: r.borders,
        };
        self.emit(&region, principal, &r.submission_id, payload, now, out);
        self.set_digest(&r.submission_id, digest);
        Ok(self.receipt_of(&r.submission_id, first))
    }
}
