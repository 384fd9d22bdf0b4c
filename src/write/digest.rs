//! The content digest of a write request: what makes a retry with the same submission id
//! recognisable as the same request (`duplicate = true`) and a reuse of the id for other
//! content refusable (`ALREADY_EXISTS`).
//!
//! `d' = SHA-256(d ‖ postcard(item))` over the request's items in order, starting from 32
//! zero bytes. It is recomputed from the log at start from the recorded events of a
//! submission — or taken from its `SubmissionSummary` event when some of its observations
//! were not recorded (unchanged), since the events alone no longer tell the whole request.
//!
//! # Format
//!
//! A summary keeps the digest in the log, so [`Item`] and its encoding are part of the
//! on-disk format: change them and a retry of an old partly-unchanged submission would be
//! refused as `ALREADY_EXISTS`. `tests::the_digest_is_pinned` holds a known value.

use crate::domain::validate::ObservationInput;
use crate::domain::{
    Division, Event, Hash, Indicator, Municipality, Observation, Payload, Region, RegionGroup,
    Round, Status, Target, ZERO_HASH,
};

/// One step of the running digest.
pub(crate) fn step(d: &Hash, item: &impl serde::Serialize) -> Hash {
    crate::domain::event::chained_hash(d, item)
}

/// What a digest step covers.
#[derive(serde::Serialize)]
pub(crate) enum Item<'a> {
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
    Region(&'a Region),
    Group(&'a RegionGroup),
    Round(&'a Round),
    /// An observation on stated borders (one without is [`Item::Observation`], as before).
    ObservationOn {
        region: &'a str,
        indicator_id: &'a str,
        year: i32,
        value_bits: u64,
        status: Option<Status>,
        source: &'a str,
        note: &'a str,
        correction_reason: &'a str,
        borders: i32,
    },
    RetractionOn {
        region: &'a str,
        indicator_id: &'a str,
        year: i32,
        reason: &'a str,
        borders: i32,
    },
    Municipality(&'a Municipality),
    Division(&'a Division),
    /// An observation with its publication time (one without is as before).
    ObservationPublished {
        region: &'a str,
        indicator_id: &'a str,
        year: i32,
        value_bits: u64,
        status: Option<Status>,
        source: &'a str,
        note: &'a str,
        correction_reason: &'a str,
        borders: Option<i32>,
        published_micros: i64,
    },
    Target(&'a Target),
}

/// The item of an observation, with or without borders and publication time.
#[allow(clippy::too_many_arguments)]
fn observation_item<'a>(
    region: &'a str,
    indicator_id: &'a str,
    year: i32,
    value: f64,
    status: Option<Status>,
    source: &'a str,
    note: &'a str,
    correction_reason: &'a str,
    borders: Option<i32>,
    published_micros: Option<i64>,
) -> Item<'a> {
    let value_bits = value.to_bits();
    if let Some(published_micros) = published_micros {
        return Item::ObservationPublished {
            region,
            indicator_id,
            year,
            value_bits,
            status,
            source,
            note,
            correction_reason,
            borders,
            published_micros,
        };
    }
    match borders {
        None => Item::Observation {
            region,
            indicator_id,
            year,
            value_bits,
            status,
            source,
            note,
            correction_reason,
        },
        Some(borders) => Item::ObservationOn {
            region,
            indicator_id,
            year,
            value_bits,
            status,
            source,
            note,
            correction_reason,
            borders,
        },
    }
}

/// The item of a retraction, with or without borders.
pub(crate) fn retraction<'a>(
    region: &'a str,
    indicator_id: &'a str,
    year: i32,
    reason: &'a str,
    borders: Option<i32>,
) -> Item<'a> {
    match borders {
        None => Item::Retraction {
            region,
            indicator_id,
            year,
            reason,
        },
        Some(borders) => Item::RetractionOn {
            region,
            indicator_id,
            year,
            reason,
            borders,
        },
    }
}

/// The item of a submitted observation.
pub(crate) fn observation<'a>(region: &'a str, o: &'a ObservationInput) -> Item<'a> {
    observation_item(
        region,
        &o.indicator_id,
        o.year,
        o.value,
        o.status,
        &o.source,
        &o.note,
        &o.correction_reason,
        o.borders,
        o.published_micros,
    )
}

/// The item of a recorded observation: the same bytes as [`observation`] of the input it
/// came from.
fn recorded<'a>(region: &'a str, o: &'a Observation) -> Item<'a> {
    observation_item(
        region,
        &o.indicator_id,
        o.year,
        o.value,
        Some(o.status),
        &o.source,
        &o.note,
        &o.correction_reason,
        o.borders,
        o.published_micros,
    )
}

/// The digest of a whole submission's observations.
pub(crate) fn submission(region: &str, observations: &[ObservationInput]) -> Hash {
    observations
        .iter()
        .fold(ZERO_HASH, |d, o| step(&d, &observation(region, o)))
}

/// Folds one event of a submission into its digest. A `SubmissionSummary` carries the
/// whole request's digest and replaces what the events gave.
pub(crate) fn event_step(d: &Hash, e: &Event) -> Hash {
    match &e.payload {
        Payload::ObservationRecorded(o) => step(d, &recorded(&e.region_code, o)),
        Payload::ObservationRetracted {
            indicator_id,
            year,
            reason,
            borders,
        } => step(
            d,
            &retraction(&e.region_code, indicator_id, *year, reason, *borders),
        ),
        Payload::IndicatorDefined(i) => step(d, &Item::Indicator(i)),
        Payload::RegionDefined(r) => step(d, &Item::Region(r)),
        Payload::SubmissionSummary { content_digest, .. } => *content_digest,
        Payload::GroupDefined(g) => step(d, &Item::Group(g)),
        Payload::RoundOpened(r) => step(d, &Item::Round(r)),
        Payload::MunicipalityDefined(m) => step(d, &Item::Municipality(m)),
        Payload::DivisionDefined(v) => step(d, &Item::Division(v)),
        Payload::TargetSet(t) => step(d, &Item::Target(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_pinned() {
        let observations = [ObservationInput {
            indicator_id: "population".into(),
            year: 2021,
            value: 177_161.0,
            status: Some(Status::Final),
            source: "Statistics Finland".into(),
            note: String::new(),
            correction_reason: String::new(),
            borders: None,
            published_micros: None,
        }];
        assert_eq!(
            hex::encode(submission("MK19", &observations)),
            "2faa071d9632ba543cfe7a5d3fcd8dc8e1f6d5b903a64a5059f861831c1a0cab"
        );
    }
}
