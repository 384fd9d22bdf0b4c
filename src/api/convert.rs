//! Conversions between the API's messages and the domain's types, in one place.

use crate::domain::validate::ObservationInput;
use crate::domain::{
    Aggregation, Direction, Event, Indicator, IndicatorKind, Observation, Payload, Region, Status,
    Theme,
};
use crate::projection::picture_timestamp as timestamp;
use crate::proto;

pub fn status_from_proto(s: i32) -> Option<Status> {
    match proto::ObservationStatus::try_from(s) {
        Ok(proto::ObservationStatus::Provisional) => Some(Status::Provisional),
        Ok(proto::ObservationStatus::Final) => Some(Status::Final),
        _ => None,
    }
}

pub fn status_to_proto(s: Status) -> i32 {
    match s {
        Status::Provisional => proto::ObservationStatus::Provisional as i32,
        Status::Final => proto::ObservationStatus::Final as i32,
    }
}

pub fn observation_input(o: &proto::Observation) -> ObservationInput {
    ObservationInput {
        indicator_id: o.indicator_id.clone(),
        year: o.year,
        value: o.value,
        status: status_from_proto(o.status),
        source: o.source.clone(),
        note: o.note.clone(),
        correction_reason: o.correction_reason.clone(),
    }
}

pub fn observation_to_proto(o: &Observation) -> proto::Observation {
    proto::Observation {
        indicator_id: o.indicator_id.clone(),
        year: o.year,
        value: o.value,
        status: status_to_proto(o.status),
        source: o.source.clone(),
        note: o.note.clone(),
        correction_reason: o.correction_reason.clone(),
    }
}

pub fn region_to_proto(r: &Region) -> proto::Region {
    proto::Region {
        code: r.code.clone(),
        name_fi: r.name_fi.clone(),
        name_sv: r.name_sv.clone(),
        name_en: r.name_en.clone(),
        nuts3: r.nuts3.clone(),
        statfin_code: r.statfin_code.clone(),
    }
}

pub fn region_from_proto(r: &proto::Region) -> Region {
    Region {
        code: r.code.clone(),
        statfin_code: r.statfin_code.clone(),
        name_fi: r.name_fi.clone(),
        name_sv: r.name_sv.clone(),
        name_en: r.name_en.clone(),
        nuts3: r.nuts3.clone(),
    }
}

pub fn indicator_to_proto(i: &Indicator) -> proto::Indicator {
    let (mut weight, mut num, mut den, mut scale) =
        (String::new(), String::new(), String::new(), 1.0);
    match &i.aggregation {
        Aggregation::WeightedMean { weight: w } => weight = w.clone(),
        Aggregation::Ratio {
            numerator,
            denominator,
            scale: s,
        } => {
            num = numerator.clone();
            den = denominator.clone();
            scale = *s;
        }
        _ => {}
    }
    proto::Indicator {
        id: i.id.clone(),
        name_fi: i.name_fi.clone(),
        name_en: i.name_en.clone(),
        theme: i.theme.as_str().into(),
        unit: i.unit.clone(),
        decimals: i.decimals,
        direction: match i.direction {
            Direction::HigherIsBetter => proto::Direction::HigherIsBetter,
            Direction::LowerIsBetter => proto::Direction::LowerIsBetter,
            Direction::Neutral => proto::Direction::Neutral,
        } as i32,
        min_value: i.min_value,
        max_value: i.max_value,
        aggregation: crate::projection::aggregation_to_proto(&i.aggregation) as i32,
        weight_indicator: weight,
        numerator_indicator: num,
        denominator_indicator: den,
        scale,
        min_year: i.min_year,
        max_year: i.max_year.unwrap_or(0),
        kind: kind_to_proto(i.kind) as i32,
    }
}

pub fn kind_to_proto(k: IndicatorKind) -> proto::IndicatorKind {
    match k {
        IndicatorKind::Observed => proto::IndicatorKind::Observed,
        IndicatorKind::Target => proto::IndicatorKind::Target,
        IndicatorKind::Forecast => proto::IndicatorKind::Forecast,
    }
}

/// Reads an indicator definition; `Err` names the offending field.
pub fn indicator_from_proto(i: &proto::Indicator) -> Result<Indicator, (String, String)> {
    let bad = |f: &str, d: &str| Err((f.to_owned(), d.to_owned()));
    let theme = match Theme::parse(&i.theme) {
        Some(t) => t,
        None => {
            return bad(
                "indicator.theme",
                "must be climate, communities, competence, inclusion or business",
            )
        }
    };
    let direction = match proto::Direction::try_from(i.direction) {
        Ok(proto::Direction::HigherIsBetter) => Direction::HigherIsBetter,
        Ok(proto::Direction::LowerIsBetter) => Direction::LowerIsBetter,
        Ok(proto::Direction::Neutral) => Direction::Neutral,
        _ => return bad("indicator.direction", "must be specified"),
    };
    let aggregation = match proto::Aggregation::try_from(i.aggregation) {
        Ok(proto::Aggregation::Sum) => Aggregation::Sum,
        Ok(proto::Aggregation::NationalOnly) => Aggregation::NationalOnly,
        Ok(proto::Aggregation::WeightedMean) => Aggregation::WeightedMean {
            weight: i.weight_indicator.clone(),
        },
        Ok(proto::Aggregation::Ratio) => Aggregation::Ratio {
            numerator: i.numerator_indicator.clone(),
            denominator: i.denominator_indicator.clone(),
            scale: if i.scale == 0.0 { 1.0 } else { i.scale },
        },
        _ => return bad("indicator.aggregation", "must be specified"),
    };
    let kind = match proto::IndicatorKind::try_from(i.kind) {
        Ok(proto::IndicatorKind::Unspecified | proto::IndicatorKind::Observed) => {
            IndicatorKind::Observed
        }
        Ok(proto::IndicatorKind::Target) => IndicatorKind::Target,
        Ok(proto::IndicatorKind::Forecast) => IndicatorKind::Forecast,
        Err(_) => return bad("indicator.kind", "must be OBSERVED, TARGET or FORECAST"),
    };
    // 0 = not given: from 1990 (the start of the bundled series), no upper bound.
    let min_year = if i.min_year == 0 { 1990 } else { i.min_year };
    let max_year = (i.max_year != 0).then_some(i.max_year);
    Ok(Indicator {
        id: i.id.clone(),
        name_fi: i.name_fi.clone(),
        name_en: i.name_en.clone(),
        theme,
        unit: i.unit.clone(),
        decimals: i.decimals,
        direction,
        min_value: i.min_value,
        max_value: i.max_value,
        aggregation,
        min_year,
        max_year,
        kind,
    })
}

pub fn event_to_proto(e: &Event) -> proto::Event {
    use proto::event::Payload as P;
    let payload = match &e.payload {
        Payload::ObservationRecorded(o) => P::ObservationRecorded(proto::ObservationRecorded {
            observation: Some(observation_to_proto(o)),
        }),
        Payload::ObservationRetracted {
            indicator_id,
            year,
            reason,
        } => P::ObservationRetracted(proto::ObservationRetracted {
            indicator_id: indicator_id.clone(),
            year: *year,
            reason: reason.clone(),
        }),
        Payload::IndicatorDefined(i) => P::IndicatorDefined(proto::IndicatorDefined {
            indicator: Some(indicator_to_proto(i)),
        }),
        Payload::RegionDefined(r) => P::RegionDefined(proto::RegionDefined {
            region: Some(region_to_proto(r)),
        }),
        Payload::SubmissionSummary {
            observations,
            unchanged,
            content_digest,
        } => P::SubmissionSummary(proto::SubmissionSummary {
            observations: *observations,
            unchanged: *unchanged,
            content_digest: content_digest.to_vec(),
        }),
    };
    proto::Event {
        sequence: e.sequence,
        recorded_at: Some(timestamp(e.recorded_at_micros)),
        region_code: e.region_code.clone(),
        region_revision: e.region_revision,
        principal: e.principal.clone(),
        submission_id: e.submission_id.clone(),
        prev_hash: e.prev_hash.to_vec(),
        hash: e.hash.to_vec(),
        payload: Some(payload),
    }
}

/// Reads an event as served by `ReadEvents`; `Err` says what is missing.
pub fn event_from_proto(e: &proto::Event) -> Result<Event, String> {
    use proto::event::Payload as P;
    let hash = |b: &[u8], what: &str| -> Result<[u8; 32], String> {
        b.try_into()
            .map_err(|_| format!("event {}: {what} is not 32 bytes", e.sequence))
    };
    let ts = e
        .recorded_at
        .ok_or_else(|| format!("event {}: no recorded_at", e.sequence))?;
    let payload = match e.payload.as_ref() {
        Some(P::ObservationRecorded(o)) => {
            let o = o.observation.as_ref().ok_or("observation missing")?;
            Payload::ObservationRecorded(Observation {
                indicator_id: o.indicator_id.clone(),
                year: o.year,
                value: o.value,
                status: status_from_proto(o.status).ok_or("status missing")?,
                source: o.source.clone(),
                note: o.note.clone(),
                correction_reason: o.correction_reason.clone(),
            })
        }
        Some(P::ObservationRetracted(r)) => Payload::ObservationRetracted {
            indicator_id: r.indicator_id.clone(),
            year: r.year,
            reason: r.reason.clone(),
        },
        Some(P::IndicatorDefined(d)) => Payload::IndicatorDefined(
            indicator_from_proto(d.indicator.as_ref().ok_or("indicator missing")?)
                .map_err(|(f, d)| format!("{f}: {d}"))?,
        ),
        Some(P::RegionDefined(r)) => Payload::RegionDefined(region_from_proto(
            r.region.as_ref().ok_or("region missing")?,
        )),
        Some(P::SubmissionSummary(m)) => Payload::SubmissionSummary {
            observations: m.observations,
            unchanged: m.unchanged,
            content_digest: hash(&m.content_digest, "content_digest")?,
        },
        None => return Err(format!("event {}: no payload", e.sequence)),
    };
    Ok(Event {
        sequence: e.sequence,
        recorded_at_micros: ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1000,
        region_code: e.region_code.clone(),
        region_revision: e.region_revision,
        principal: e.principal.clone(),
        submission_id: e.submission_id.clone(),
        payload,
        prev_hash: hash(&e.prev_hash, "prev_hash")?,
        hash: hash(&e.hash, "hash")?,
    })
}
