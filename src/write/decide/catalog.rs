//! Deciding catalog requests (admin): indicator and peer group definitions, reporting
//! rounds.

use super::WriterState;
use crate::auth::Principal;
use crate::domain::validate::{self, FieldViolation};
use crate::domain::{
    Catalog, Event, Hash, Indicator, Payload, RegionGroup, Round, Target, NATIONAL_CODE, ZERO_HASH,
};
use crate::write::digest::{self, Item};
use crate::write::{Receipt, WriteError};

/// What a principal asks to do, whether its role allows it, and what it would take.
struct May<'a> {
    allowed: bool,
    what: &'a str,
    takes: &'static str,
}

impl<'a> May<'a> {
    /// Only an admin may.
    fn admin(who: &Principal, what: &'a str) -> May<'a> {
        May {
            allowed: who.may_define(),
            what,
            takes: "the admin role",
        }
    }
}

impl WriterState {
    /// Decides a catalog event (an indicator or group definition, a round, a target): the
    /// role first (`may`: what `who` may do, what it takes), then idempotency, then `check`
    /// against the catalog. `Ok(Ok(digest))` to record it, `Ok(Err(receipt))` for a retry.
    fn decide_catalog(
        &self,
        submission_id: &str,
        item: Item<'_>,
        who: &Principal,
        may: May<'_>,
        check: impl FnOnce(&Catalog) -> Result<(), (&'static str, String)>,
    ) -> Result<Result<Hash, Receipt>, WriteError> {
        if !may.allowed {
            return Err(WriteError::PermissionDenied(format!(
                "{} ({}) may not {}; that takes {}",
                who.name,
                who.role.as_str(),
                may.what,
                may.takes
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
            Payload::TargetSet(t) => self
                .catalog
                .targets_of(Some(&t.indicator), Some(&t.area))
                .any(|x| x == t),
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

    /// Carries out an indicator definition (see [`WriterState::prepare`]).
    pub(super) fn prepare_indicator(
        &mut self,
        submission_id: String,
        indicator: Indicator,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        let check = |c: &Catalog| {
            indicator
                .check()
                .and_then(|()| c.check_references(&indicator))
                .and_then(|()| c.check_room_for(&indicator.id))
                .map_err(|p| ("indicator", p))
        };
        let digest = self.decide_catalog(
            &submission_id,
            Item::Indicator(&indicator),
            who,
            May::admin(who, "define indicators"),
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

    /// Carries out a peer group definition (see [`WriterState::prepare`]).
    pub(super) fn prepare_group(
        &mut self,
        submission_id: String,
        group: RegionGroup,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        let group = group.normalized();
        let check = |c: &Catalog| c.check_group(&group).map_err(|p| ("group", p));
        let digest = self.decide_catalog(
            &submission_id,
            Item::Group(&group),
            who,
            May::admin(who, "define peer groups"),
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

    /// Carries out the opening of a reporting round (see [`WriterState::prepare`]).
    pub(super) fn prepare_round(
        &mut self,
        submission_id: String,
        round: Round,
        allow_past: bool,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        // The digest covers the request as given; the event records the round with
        // its defaults resolved against the catalog of the moment, which is done only
        // for an admin's new request (inside the check, after the role and the id).
        let mut resolved = None;
        let current_year = super::year_of(now);
        let check = |c: &Catalog| {
            let r = c.resolve_round(round.clone(), current_year);
            let checked = c.check_round(&r, current_year).and_then(|()| {
                // A deadline in the past makes every region overdue the moment the round
                // opens: most likely a mistyped year, so it takes an explicit yes.
                if allow_past || !(0..now).contains(&r.deadline_micros) {
                    return Ok(());
                }
                Err((
                    "deadline",
                    format!(
                        "{} has already passed (it is {} now); allow_past_deadline (the CLI's \
                         --allow-past) opens the round anyway, every region that has not \
                         reported overdue at once",
                        crate::domain::text::finnish_time(r.deadline_micros),
                        crate::domain::text::finnish_time(now)
                    ),
                ))
            });
            resolved = Some(r);
            checked
        };
        let digest = self.decide_catalog(
            &submission_id,
            Item::Round(&round),
            who,
            May::admin(who, "open reporting rounds"),
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

    /// Carries out the setting of a target (see [`WriterState::prepare`]): a national
    /// target (SSS) by an admin, an area's by an admin or a reporter of that area (a
    /// municipality's by the reporters of the region it lies in now).
    pub(super) fn prepare_target(
        &mut self,
        submission_id: String,
        target: Target,
        who: &Principal,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        let principal = who.name.as_str();
        let region = self
            .catalog
            .reporting_region(&target.area, super::year_of(now));
        let own = target.area != NATIONAL_CODE
            && who.role == crate::auth::Role::Reporter
            && (who.may_write(&target.area) || region.is_some_and(|r| who.may_write(r)));
        let may = May {
            allowed: who.may_define() || own,
            what: "set this target",
            takes: if target.area == NATIONAL_CODE {
                "the admin role (a national target)"
            } else {
                "the admin role or a reporter of the area"
            },
        };
        let check = |c: &Catalog| c.check_target(&target);
        let digest = self.decide_catalog(&submission_id, Item::Target(&target), who, may, check)?;
        self.record_catalog(
            digest,
            &submission_id,
            Payload::TargetSet(target),
            principal,
            now,
            out,
        )
    }
}
