//! Conversions between the API's messages and the domain's types, in one place.

use crate::domain::dispersion::Measure;
use crate::domain::stats;
use crate::domain::validate::ObservationInput;
use crate::domain::{
    Aggregation, Catalog, Direction, Division, Event, Indicator, IndicatorKind, Municipality,
    Observation, Payload, Placement, Region, RegionGroup, Round, Status, Target, Theme,
};
use crate::projection::{
    Disparities, Forerunners, GroupPicture, RegionPicture, RoundStatus, SeriesPoint, Similar,
    TargetProgress, YearPicture,
};
use crate::proto;

pub(crate) fn status_from_proto(s: i32) -> Option<Status> {
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

/// Takes the message's strings as they are (a large submission copies none of them).
pub(crate) fn observation_input(o: proto::Observation) -> ObservationInput {
    ObservationInput {
        indicator_id: o.indicator_id,
        year: o.year,
        value: o.value,
        status: status_from_proto(o.status),
        source: o.source,
        note: o.note,
        correction_reason: o.correction_reason,
        borders: o.borders,
        // Out of range: a time validation refuses, with the field's name.
        published_micros: o.published.map(|t| micros_of(&t).unwrap_or(i64::MIN)),
    }
}

/// An observation as a client sends it (the inverse of [`observation_input`]).
pub fn observation_input_to_proto(o: &ObservationInput) -> proto::Observation {
    proto::Observation {
        indicator_id: o.indicator_id.clone(),
        year: o.year,
        value: o.value,
        status: o.status.map(status_to_proto).unwrap_or(0),
        source: o.source.clone(),
        note: o.note.clone(),
        correction_reason: o.correction_reason.clone(),
        borders: o.borders,
        published: o.published_micros.map(timestamp),
    }
}

pub(crate) fn observation_to_proto(o: &Observation) -> proto::Observation {
    proto::Observation {
        indicator_id: o.indicator_id.clone(),
        year: o.year,
        value: o.value,
        status: status_to_proto(o.status),
        source: o.source.clone(),
        note: o.note.clone(),
        correction_reason: o.correction_reason.clone(),
        borders: o.borders,
        published: o.published_micros.map(timestamp),
    }
}

pub(crate) fn municipality_to_proto(m: &Municipality) -> proto::Municipality {
    proto::Municipality {
        code: m.code.clone(),
        name_fi: m.name_fi.clone(),
        name_sv: m.name_sv.clone(),
        name_en: m.name_en.clone(),
        placements: m
            .placements
            .iter()
            .map(|p| proto::Placement {
                first_year: p.first_year,
                last_year: p.last_year,
                region_code: p.region.clone(),
                sub_region_code: p.sub_region.clone(),
                county_code: p.county.clone(),
                sub_region_name: p.sub_region_name.clone(),
                county_name: p.county_name.clone(),
            })
            .collect(),
        joined: m.joined.clone().unwrap_or_default(),
    }
}

pub(crate) fn municipality_from_proto(m: &proto::Municipality) -> Municipality {
    Municipality {
        code: m.code.clone(),
        name_fi: m.name_fi.clone(),
        name_sv: m.name_sv.clone(),
        name_en: m.name_en.clone(),
        placements: m
            .placements
            .iter()
            .map(|p| Placement {
                first_year: p.first_year,
                last_year: p.last_year,
                region: p.region_code.clone(),
                sub_region: p.sub_region_code.clone(),
                sub_region_name: p.sub_region_name.clone(),
                county: p.county_code.clone(),
                county_name: p.county_name.clone(),
            })
            .collect(),
        joined: Some(m.joined.clone()).filter(|j| !j.is_empty()),
    }
}

/// A division, with whether the catalog knows its municipalities.
pub(crate) fn division_to_proto(d: &Division, municipalities_known: bool) -> proto::Division {
    proto::Division {
        year: d.year,
        source: d.source.clone(),
        municipalities_known,
    }
}

pub(crate) fn region_to_proto(r: &Region) -> proto::Region {
    proto::Region {
        code: r.code.clone(),
        name_fi: r.name_fi.clone(),
        name_sv: r.name_sv.clone(),
        name_en: r.name_en.clone(),
        nuts3: r.nuts3.clone(),
        statfin_code: r.statfin_code.clone(),
        first_year: r.first_year,
        last_year: r.last_year,
    }
}

pub(crate) fn region_from_proto(r: &proto::Region) -> Region {
    Region {
        code: r.code.clone(),
        statfin_code: r.statfin_code.clone(),
        name_fi: r.name_fi.clone(),
        name_sv: r.name_sv.clone(),
        name_en: r.name_en.clone(),
        nuts3: r.nuts3.clone(),
        first_year: r.first_year,
        last_year: r.last_year,
    }
}

pub(crate) fn indicator_to_proto(i: &Indicator) -> proto::Indicator {
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
        aggregation: aggregation_to_proto(&i.aggregation) as i32,
        weight_indicator: weight,
        numerator_indicator: num,
        denominator_indicator: den,
        scale,
        min_year: i.min_year,
        max_year: i.max_year.unwrap_or(0),
        kind: kind_to_proto(i.kind) as i32,
    }
}

pub(crate) fn kind_to_proto(k: IndicatorKind) -> proto::IndicatorKind {
    match k {
        IndicatorKind::Observed => proto::IndicatorKind::Observed,
        IndicatorKind::Target => proto::IndicatorKind::Target,
        IndicatorKind::Forecast => proto::IndicatorKind::Forecast,
    }
}

/// Reads an indicator definition; `Err` names the offending field.
pub(crate) fn indicator_from_proto(i: &proto::Indicator) -> Result<Indicator, (String, String)> {
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

pub(crate) fn event_to_proto(e: &Event) -> proto::Event {
    use proto::event::Payload as P;
    let payload = match &e.payload {
        Payload::ObservationRecorded(o) => P::ObservationRecorded(proto::ObservationRecorded {
            observation: Some(observation_to_proto(o)),
        }),
        Payload::ObservationRetracted {
            indicator_id,
            year,
            reason,
            borders,
        } => P::ObservationRetracted(proto::ObservationRetracted {
            indicator_id: indicator_id.clone(),
            year: *year,
            reason: reason.clone(),
            borders: *borders,
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
        Payload::GroupDefined(g) => P::GroupDefined(proto::GroupDefined {
            group: Some(group_to_proto(g)),
        }),
        Payload::RoundOpened(r) => P::RoundOpened(proto::RoundOpened {
            round: Some(round_to_proto(r)),
        }),
        Payload::MunicipalityDefined(m) => P::MunicipalityDefined(municipality_to_proto(m)),
        // Whether its municipalities are known is the catalog's to say, not the event's.
        Payload::DivisionDefined(d) => P::DivisionDefined(division_to_proto(d, false)),
        Payload::TargetSet(t) => P::TargetSet(target_to_proto(t)),
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
                borders: o.borders,
                published_micros: o
                    .published
                    .as_ref()
                    .map(micros_of)
                    .transpose()
                    .map_err(|d| format!("event {}: published {d}", e.sequence))?,
            })
        }
        Some(P::ObservationRetracted(r)) => Payload::ObservationRetracted {
            indicator_id: r.indicator_id.clone(),
            year: r.year,
            reason: r.reason.clone(),
            borders: r.borders,
        },
        Some(P::MunicipalityDefined(m)) => Payload::MunicipalityDefined(municipality_from_proto(m)),
        Some(P::DivisionDefined(d)) => Payload::DivisionDefined(Division {
            year: d.year,
            source: d.source.clone(),
        }),
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
        Some(P::GroupDefined(g)) => {
            Payload::GroupDefined(group_from_proto(g.group.as_ref().ok_or("group missing")?))
        }
        Some(P::TargetSet(t)) => Payload::TargetSet(target_from_proto(t)),
        Some(P::RoundOpened(r)) => Payload::RoundOpened(
            round_from_proto(r.round.as_ref().ok_or("round missing")?)
                .map_err(|(f, d)| format!("{f}: {d}"))?,
        ),
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

/// Microseconds since the epoch as a protobuf timestamp.
pub(crate) fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

pub(crate) fn aggregation_to_proto(a: &Aggregation) -> proto::Aggregation {
    match a {
        Aggregation::Sum => proto::Aggregation::Sum,
        Aggregation::WeightedMean { .. } => proto::Aggregation::WeightedMean,
        Aggregation::Ratio { .. } => proto::Aggregation::Ratio,
        Aggregation::NationalOnly => proto::Aggregation::NationalOnly,
    }
}

fn basis_to_proto(b: stats::Basis) -> proto::NationalBasis {
    match b {
        stats::Basis::Official => proto::NationalBasis::Official,
        stats::Basis::Complete => proto::NationalBasis::Complete,
        stats::Basis::Partial => proto::NationalBasis::Partial,
        stats::Basis::Unavailable => proto::NationalBasis::Unavailable,
    }
}

/// The API's form of a national value.
pub(crate) fn national_to_proto(n: &stats::National) -> proto::NationalValue {
    proto::NationalValue {
        value: n.value,
        basis: basis_to_proto(n.basis) as i32,
        regions_reported: n.regions_reported,
        regions_expected: n.regions_expected,
        thin: n.thin(),
        status: match (n.value, n.provisional) {
            (None, _) => proto::ObservationStatus::Unspecified,
            (Some(_), true) => proto::ObservationStatus::Provisional,
            (Some(_), false) => proto::ObservationStatus::Final,
        } as i32,
    }
}

/// A region's picture, answered at sequence `seq`.
pub fn region_picture_to_proto(p: &RegionPicture, seq: u64) -> proto::GetRegionPictureResponse {
    let cells = p
        .cells
        .iter()
        .map(|c| {
            let iy = &c.figures;
            let ind = &iy.indicator;
            let national = iy.national();
            proto::IndicatorCell {
                indicator_id: ind.id.clone(),
                theme: ind.theme.as_str().into(),
                unit: ind.unit.clone(),
                value: c.value,
                status: status_to_proto(c.status),
                source: c.source.to_string(),
                revisions: c.revisions,
                last_recorded_at: Some(timestamp(c.last_recorded_at_micros)),
                national_value: national,
                national_difference: c.national_difference(),
                national: Some(national_to_proto(&iy.national)),
                national_share: c.national_share(),
                rank: c.rank,
                regions_ranked: iy.regions_ranked(),
                previous_value: c.previous,
                change: c.change(),
                national_official: iy.official.is_some(),
                decimals: ind.decimals,
                note: c.note.clone(),
                groups: p
                    .groups
                    .iter()
                    .filter_map(|id| iy.group(id))
                    .map(|g| proto::GroupComparison {
                        group_id: g.group.clone(),
                        value: Some(national_to_proto(&g.value)),
                        difference: iy.group_difference(g, c.value),
                        share: iy.group_share(g, c.value),
                        rank: iy.group_rank(g, &p.region).unwrap_or(0),
                        regions_ranked: g.regions_ranked(),
                    })
                    .collect(),
                borders: c.origin.borders(),
                derived: c.origin.derived().is_some(),
                municipalities_used: c.origin.derived().map_or(0, |(used, _)| used),
                municipalities_expected: c.origin.derived().map_or(0, |(_, expected)| expected),
                previous_borders: c.previous_elsewhere.clone(),
                region_value: c.region_value,
            }
        })
        .collect();
    let themes = p
        .themes
        .iter()
        .map(|t| proto::ThemeSummary {
            theme: t.theme.as_str().into(),
            score: t.score,
            rank: t.rank,
            indicators_reported: t.indicators_reported,
            indicators_defined: t.indicators_defined,
            scored: t.scored,
            indicators_scored: t.indicators_scored,
        })
        .collect();
    proto::GetRegionPictureResponse {
        // The adapter adds the targets: a read of their own, at the picture's sequence.
        targets: Vec::new(),
        region_code: p.region.clone(),
        year: p.year,
        coverage_ratio: p.coverage_ratio,
        cells,
        themes,
        as_of_sequence: seq,
        group_ids: p.groups.clone(),
        borders: p.borders,
        region_of: p.in_region.clone().unwrap_or_default(),
        municipality_codes: p.municipalities.clone(),
        elsewhere: p
            .elsewhere
            .iter()
            .map(|(id, borders)| proto::CellElsewhere {
                indicator_id: id.clone(),
                borders: borders.clone(),
            })
            .collect(),
    }
}

/// The national picture of a year, answered at sequence `seq`.
pub fn national_picture_to_proto(yp: &YearPicture, seq: u64) -> proto::GetNationalPictureResponse {
    let expected = yp.regions_expected();
    let indicators = yp
        .indicators
        .iter()
        .map(|iy| {
            let (min, median, max) = iy.spread();
            proto::NationalIndicator {
                indicator_id: iy.indicator.id.clone(),
                theme: iy.indicator.theme.as_str().into(),
                unit: iy.indicator.unit.clone(),
                value: iy.national(),
                official: iy.official.is_some(),
                aggregation: aggregation_to_proto(&iy.indicator.aggregation) as i32,
                regions_reported: iy.values.len() as u32,
                regions_expected: expected,
                national: Some(national_to_proto(&iy.national)),
                decimals: iy.indicator.decimals,
                min,
                median,
                max,
                best_region: iy.by_rank(true).unwrap_or_default().into(),
                worst_region: iy.by_rank(false).unwrap_or_default().into(),
                computed_value: iy.national.computed,
            }
        })
        .collect();
    let themes = yp
        .theme_scores
        .iter()
        .map(|(t, ranked)| proto::ThemeRanking {
            theme: t.as_str().into(),
            regions: ranked
                .iter()
                .map(|s| proto::RegionScore {
                    region_code: s.region.clone(),
                    score: s.score,
                    rank: s.rank,
                    indicators_scored: s.indicators,
                })
                .collect(),
        })
        .collect();
    proto::GetNationalPictureResponse {
        // The adapter adds the targets: a read of their own, at the picture's sequence.
        targets: Vec::new(),
        year: yp.year,
        indicators,
        themes,
        as_of_sequence: seq,
        borders: yp.on.1,
    }
}

pub(crate) fn series_to_proto(points: &[SeriesPoint], seq: u64) -> proto::GetSeriesResponse {
    proto::GetSeriesResponse {
        points: points
            .iter()
            .map(|p| proto::SeriesPoint {
                year: p.year,
                value: p.value,
                status: status_to_proto(p.status),
                national_value: p.figures.national(),
                rank: p.rank,
                national: Some(national_to_proto(&p.figures.national)),
                regions_ranked: p.figures.regions_ranked(),
                borders: p.borders,
                break_before: p.break_before,
                derived: p.origin.derived().is_some(),
                source: p.source.as_deref().unwrap_or_default().to_owned(),
            })
            .collect(),
        as_of_sequence: seq,
    }
}

/// A cell's revision trail from its events (oldest first), answered at sequence `seq`.
pub fn history_to_proto(events: &[Event], seq: u64) -> proto::GetObservationHistoryResponse {
    let revisions = events
        .iter()
        .map(|e| {
            let mut out = proto::Revision {
                sequence: e.sequence,
                recorded_at: Some(timestamp(e.recorded_at_micros)),
                principal: e.principal.clone(),
                submission_id: e.submission_id.clone(),
                hash: e.hash.to_vec(),
                ..Default::default()
            };
            match &e.payload {
                Payload::ObservationRecorded(o) => {
                    out.value = o.value;
                    out.status = status_to_proto(o.status);
                    out.source = o.source.clone();
                    out.note = o.note.clone();
                    out.correction_reason = o.correction_reason.clone();
                    out.borders = o.borders;
                    out.published = o.published_micros.map(timestamp);
                }
                Payload::ObservationRetracted {
                    reason, borders, ..
                } => {
                    out.retracted = true;
                    out.retraction_reason = reason.clone();
                    out.borders = *borders;
                }
                _ => {}
            }
            out
        })
        .collect();
    proto::GetObservationHistoryResponse {
        revisions,
        as_of_sequence: seq,
    }
}

pub(crate) fn group_to_proto(g: &RegionGroup) -> proto::RegionGroup {
    proto::RegionGroup {
        id: g.id.clone(),
        name_fi: g.name_fi.clone(),
        name_sv: g.name_sv.clone(),
        name_en: g.name_en.clone(),
        members: g.members.clone(),
        source: g.source.clone(),
    }
}

/// A group as given; the writer puts its members in order and checks it.
pub(crate) fn group_from_proto(g: &proto::RegionGroup) -> RegionGroup {
    RegionGroup {
        id: g.id.clone(),
        name_fi: g.name_fi.clone(),
        name_sv: g.name_sv.clone(),
        name_en: g.name_en.clone(),
        members: g.members.clone(),
        source: g.source.clone(),
    }
}

pub(crate) fn round_to_proto(r: &Round) -> proto::ReportingRound {
    proto::ReportingRound {
        year: r.year,
        deadline: Some(timestamp(r.deadline_micros)),
        indicator_ids: r.indicators.clone(),
        region_codes: r.regions.clone(),
    }
}

/// Microseconds since the epoch of a protobuf timestamp; `Err` when out of range.
pub(crate) fn micros_of(t: &prost_types::Timestamp) -> Result<i64, String> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err("nanos must be 0..999999999".into());
    }
    t.seconds
        .checked_mul(1_000_000)
        .and_then(|s| s.checked_add(i64::from(t.nanos) / 1000))
        .ok_or_else(|| "out of range".into())
}

/// A round as recorded (lists as given: the writer checks them against the catalog).
pub(crate) fn round_from_proto(r: &proto::ReportingRound) -> Result<Round, (String, String)> {
    let deadline = r
        .deadline
        .as_ref()
        .ok_or_else(|| ("deadline".to_owned(), "required".to_owned()))?;
    Ok(Round {
        year: r.year,
        deadline_micros: micros_of(deadline).map_err(|d| ("deadline".to_owned(), d))?,
        indicators: r.indicator_ids.clone(),
        regions: r.region_codes.clone(),
    })
}

/// A group's picture, answered at sequence `seq`.
pub(crate) fn group_picture_to_proto(p: &GroupPicture, seq: u64) -> proto::GetGroupPictureResponse {
    let indicators = p
        .indicators
        .iter()
        .map(|(iy, members)| {
            let ind = &iy.indicator;
            let figures = iy.group(&p.group.id);
            proto::GroupIndicator {
                indicator_id: ind.id.clone(),
                theme: ind.theme.as_str().into(),
                unit: ind.unit.clone(),
                decimals: ind.decimals,
                group: figures.map(|g| national_to_proto(&g.value)),
                national: Some(national_to_proto(&iy.national)),
                regions_ranked: figures.map_or(0, |g| g.regions_ranked()),
                members: members
                    .iter()
                    .map(|m| proto::GroupMemberValue {
                        region_code: m.region.clone(),
                        value: m.value,
                        status: m.status.map_or(0, status_to_proto),
                        source: m.source.as_deref().unwrap_or_default().to_owned(),
                        revisions: m.revisions,
                        sequence: m.sequence,
                        rank: m.rank,
                    })
                    .collect(),
            }
        })
        .collect();
    proto::GetGroupPictureResponse {
        group: Some(group_to_proto(&p.group)),
        year: p.year,
        indicators,
        as_of_sequence: seq,
    }
}

/// A round's status, answered at sequence `seq`.
pub(crate) fn round_status_to_proto(s: &RoundStatus, seq: u64) -> proto::GetRoundStatusResponse {
    proto::GetRoundStatusResponse {
        round: Some(round_to_proto(&s.round)),
        opened_sequence: s.opened_sequence,
        at: Some(timestamp(s.at_micros)),
        deadline_passed: s.deadline_passed(),
        regions: s
            .regions
            .iter()
            .map(|r| proto::RegionRoundStatus {
                region_code: r.region.clone(),
                expected: s.round.indicators.len() as u32,
                reported: r.reported.clone(),
                missing: r.missing.clone(),
                overdue: r.overdue,
            })
            .collect(),
        as_of_sequence: seq,
    }
}

pub(crate) fn target_to_proto(t: &Target) -> proto::Target {
    proto::Target {
        area_code: t.area.clone(),
        indicator_id: t.indicator.clone(),
        year: t.year,
        value: t.value,
        source: t.source.clone(),
        note: t.note.clone(),
    }
}

pub(crate) fn target_from_proto(t: &proto::Target) -> Target {
    Target {
        area: t.area_code.clone(),
        indicator: t.indicator_id.clone(),
        year: t.year,
        value: t.value,
        source: t.source.clone(),
        note: t.note.clone(),
    }
}

/// A figure, or why there is none.
pub(crate) fn measure(m: &Measure) -> Option<proto::Measure> {
    Some(match m {
        Ok(v) => proto::Measure {
            value: Some(*v),
            why_not: String::new(),
        },
        Err(why) => proto::Measure {
            value: None,
            why_not: why.clone(),
        },
    })
}

pub(crate) fn disparities_to_proto(d: &Disparities, seq: u64) -> proto::GetDisparitiesResponse {
    proto::GetDisparitiesResponse {
        indicator_id: d.indicator.id.clone(),
        level: d.on.0.as_str().to_owned(),
        borders: d.on.1.unwrap_or(0),
        years: d
            .years
            .iter()
            .map(|y| {
                let x = &y.dispersion;
                proto::DisparityYear {
                    year: y.year,
                    areas: x.areas,
                    areas_expected: y.expected,
                    areas_with_population: x.weighted_areas,
                    min: x.min,
                    max: x.max,
                    range: measure(&x.range),
                    max_min_ratio: measure(&x.max_min_ratio),
                    cv: measure(&x.cv),
                    cv_weighted: measure(&x.cv_weighted),
                    gini: measure(&x.gini),
                    top_bottom_ratio: measure(&x.top_bottom_ratio),
                }
            })
            .collect(),
        sigma_slope: measure(&d.sigma),
        beta_slope: measure(&d.beta.as_ref().map(|(b, _)| *b).map_err(Clone::clone)),
        beta_areas: d.beta.as_ref().map_or(0, |(_, n)| *n),
        as_of_sequence: seq,
        unit: d.indicator.unit.clone(),
    }
}

pub fn targets_to_proto(
    targets: &[TargetProgress],
    catalog: &Catalog,
    seq: u64,
) -> proto::GetTargetsResponse {
    proto::GetTargetsResponse {
        targets: targets
            .iter()
            .map(|p| {
                let ind = catalog.indicators.get(&p.target.indicator);
                proto::TargetProgress {
                    target: Some(target_to_proto(&p.target)),
                    latest_year: p.latest.map(|(y, _)| y),
                    latest_value: p.latest.map(|(_, v)| v),
                    gap: p.gap,
                    needed_pace: measure(&p.needed_pace),
                    recent_pace: measure(&p.recent_pace),
                    status: p.status.as_str().to_owned(),
                    reason: p.why.clone(),
                    borders: p.borders.unwrap_or(0),
                    decimals: ind.map_or(0, |i| i.decimals),
                    unit: ind.map(|i| i.unit.clone()).unwrap_or_default(),
                }
            })
            .collect(),
        as_of_sequence: seq,
    }
}

pub(crate) fn similar_to_proto(s: &Similar, seq: u64) -> proto::GetSimilarAreasResponse {
    proto::GetSimilarAreasResponse {
        region_code: s.area.clone(),
        year: s.year,
        borders: s.on.1.unwrap_or(0),
        indicators: s
            .indicators
            .iter()
            .map(|(id, w)| proto::SimilarityIndicator {
                indicator_id: id.clone(),
                weight: *w,
            })
            .collect(),
        indicators_of_area: s.area_has,
        areas_compared: s.compared,
        areas_too_little_shared: s.too_little_shared,
        similar: s
            .nearest
            .iter()
            .map(|n| proto::SimilarArea {
                region_code: n.area.clone(),
                distance: n.distance,
                indicators_shared: n.shared,
                closest: n
                    .closest
                    .iter()
                    .map(|(id, d)| proto::IndicatorCloseness {
                        indicator_id: id.clone(),
                        difference: *d,
                    })
                    .collect(),
            })
            .collect(),
        as_of_sequence: seq,
    }
}

pub(crate) fn forerunners_to_proto(f: &Forerunners, seq: u64) -> proto::GetForerunnersResponse {
    proto::GetForerunnersResponse {
        indicator_id: f.indicator.id.clone(),
        from_year: f.from,
        to_year: f.to,
        level: f.on.0.as_str().to_owned(),
        borders: f.on.1.unwrap_or(0),
        forerunners: f
            .ranked
            .iter()
            .take(f.listed)
            .map(|r| proto::Forerunner {
                region_code: r.area.clone(),
                from_value: r.from_value,
                to_value: r.to_value,
                change: r.change,
                improvement: r.improvement,
                rank: r.rank,
            })
            .collect(),
        areas_ranked: f.ranked.len() as u32,
        left_out: f
            .left_out
            .iter()
            .map(|(a, why)| proto::LeftOut {
                region_code: a.clone(),
                reason: why.clone(),
            })
            .collect(),
        as_of_sequence: seq,
        unit: f.indicator.unit.clone(),
    }
}
