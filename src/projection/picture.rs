//! Pictures computed from the projection at one sequence: the derived figures of
//! docs/architecture.md, answered as the API's messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Change, Projection};
use crate::domain::stats::{self, RegionValues};
use crate::domain::{Aggregation, Catalog, Direction, Indicator, Status, Theme, NATIONAL_CODE};
use crate::proto;

/// One indicator's figures for one year across the regions.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorYear {
    pub indicator: Indicator,
    /// The compared regions that reported the cell, in region order, with their values.
    pub values: Vec<(String, f64)>,
    /// Rank of each entry of `values` (0 for neutral indicators).
    pub ranks: Vec<u32>,
    /// Oriented z-scores of `values`, when the indicator counts for theme scores.
    pub z_scores: Option<Vec<f64>>,
    /// The value reported for `SSS`.
    pub official: Option<f64>,
    /// The national value by the completeness rules (official, complete, partial, none).
    pub national: stats::National,
}

impl IndicatorYear {
    /// The national value: official, complete, or a partial ratio or weighted mean; never
    /// a sum over part of the country.
    pub fn national(&self) -> Option<f64> {
        self.national.value
    }

    /// The region's share of the country (%): for a sum of a quantity that cannot be
    /// negative (the catalog's minimum is 0 or more: a population, an amount), with an
    /// official or complete national value above zero. A net flow (natural increase, net
    /// migration) has no meaningful share.
    pub fn share(&self, value: f64) -> Option<f64> {
        let whole = matches!(
            self.national.basis,
            stats::Basis::Official | stats::Basis::Complete
        );
        let quantity = self.indicator.min_value.is_some_and(|m| m >= 0.0);
        match (&self.indicator.aggregation, self.national.value) {
            (Aggregation::Sum, Some(n)) if whole && quantity && n > 0.0 && value >= 0.0 => {
                Some(value / n * 100.0)
            }
            _ => None,
        }
    }

    pub fn rank_of(&self, region: &str) -> Option<u32> {
        self.values
            .iter()
            .position(|(r, _)| r == region)
            .map(|i| self.ranks[i])
    }

    pub fn regions_ranked(&self) -> u32 {
        if self.indicator.direction == Direction::Neutral {
            0
        } else {
            self.values.len() as u32
        }
    }

    fn by_rank(&self, best: bool) -> Option<&str> {
        if self.indicator.direction == Direction::Neutral || self.values.is_empty() {
            return None;
        }
        let target = if best {
            self.ranks.iter().min()
        } else {
            self.ranks.iter().max()
        };
        let target = *target?;
        self.values
            .iter()
            .zip(&self.ranks)
            .find(|(_, r)| **r == target)
            .map(|((code, _), _)| code.as_str())
    }
}

/// The whole picture of one year.
pub struct YearPicture {
    pub year: i32,
    pub sequence: u64,
    pub catalog: Arc<Catalog>,
    /// In catalog (id) order.
    pub indicators: Vec<IndicatorYear>,
    /// Per theme: (region, score, rank), best first.
    pub theme_scores: BTreeMap<Theme, Vec<(String, f64, u32)>>,
}

struct ValuesAt<'a> {
    proj: &'a Projection,
    year: i32,
    seq: u64,
}

impl ValuesAt<'_> {
    fn cell(&self, region: &str, indicator: &str) -> Option<&super::CellValue> {
        self.proj
            .current(region, indicator, self.year, self.seq)
            .and_then(|r| r.observation())
    }
}

impl RegionValues for ValuesAt<'_> {
    fn value(&self, region: &str, indicator: &str) -> Option<f64> {
        self.cell(region, indicator).map(|o| o.value)
    }

    fn provisional(&self, region: &str, indicator: &str) -> bool {
        self.cell(region, indicator)
            .is_some_and(|o| o.status == Status::Provisional)
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
pub fn national_to_proto(n: &stats::National) -> proto::NationalValue {
    proto::NationalValue {
        value: n.value,
        basis: basis_to_proto(n.basis) as i32,
        regions_reported: n.regions_reported,
        regions_expected: n.regions_expected,
        status: match (n.value, n.provisional) {
            (None, _) => proto::ObservationStatus::Unspecified,
            (Some(_), true) => proto::ObservationStatus::Provisional,
            (Some(_), false) => proto::ObservationStatus::Final,
        } as i32,
    }
}

fn status_to_proto(s: Status) -> i32 {
    match s {
        Status::Provisional => proto::ObservationStatus::Provisional as i32,
        Status::Final => proto::ObservationStatus::Final as i32,
    }
}

/// Microseconds since the epoch as a protobuf timestamp.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

pub fn aggregation_to_proto(a: &Aggregation) -> proto::Aggregation {
    match a {
        Aggregation::Sum => proto::Aggregation::Sum,
        Aggregation::WeightedMean { .. } => proto::Aggregation::WeightedMean,
        Aggregation::Ratio { .. } => proto::Aggregation::Ratio,
        Aggregation::NationalOnly => proto::Aggregation::NationalOnly,
    }
}

impl Projection {
    /// One indicator's figures for one year as of `seq`, under `catalog`.
    pub fn indicator_year(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        year: i32,
        seq: u64,
    ) -> IndicatorYear {
        let at = ValuesAt {
            proj: self,
            year,
            seq,
        };
        let regions: Vec<&str> = catalog
            .compared_regions()
            .map(|r| r.code.as_str())
            .collect();
        let values: Vec<(String, f64)> = regions
            .iter()
            .filter_map(|r| at.value(r, &ind.id).map(|v| ((*r).to_owned(), v)))
            .collect();
        let nums: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        let official = at
            .cell(NATIONAL_CODE, &ind.id)
            .map(|o| (o.value, o.status == Status::Provisional));
        let computed = stats::aggregate(&ind.id, &ind.aggregation, &regions, &at);
        IndicatorYear {
            ranks: stats::ranks_by_direction(&nums, ind.direction),
            z_scores: stats::oriented_z_scores(&nums, ind.direction),
            official: official.map(|(v, _)| v),
            national: stats::national(&ind.aggregation, official, computed, regions.len() as u32),
            indicator: ind.clone(),
            values,
        }
    }

    /// The picture of `year` after event `seq`.
    pub fn year_picture(&self, year: i32, seq: u64) -> YearPicture {
        let catalog = self.catalog_at(seq);
        let indicators: Vec<IndicatorYear> = catalog
            .indicators
            .values()
            .map(|ind| self.indicator_year(&catalog, ind, year, seq))
            .collect();
        YearPicture::from_indicators(year, seq, catalog, indicators)
    }
}

impl YearPicture {
    /// The year's picture from its indicators' figures (in catalog order): the theme
    /// scores and ranks follow from them alone, with no projection needed.
    pub fn from_indicators(
        year: i32,
        seq: u64,
        catalog: Arc<Catalog>,
        indicators: Vec<IndicatorYear>,
    ) -> YearPicture {
        let mut theme_scores = BTreeMap::new();
        for theme in Theme::ALL {
            // region → z-scores of the theme's counted indicators
            let mut zs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for iy in indicators.iter().filter(|iy| iy.indicator.theme == theme) {
                if let Some(z) = &iy.z_scores {
                    for ((region, _), z) in iy.values.iter().zip(z) {
                        zs.entry(region).or_default().push(*z);
                    }
                }
            }
            let scored: Vec<(String, f64)> = zs
                .into_iter()
                .filter_map(|(r, z)| stats::mean(&z).map(|m| (r.to_owned(), m)))
                .collect();
            let scores: Vec<f64> = scored.iter().map(|(_, s)| *s).collect();
            let ranks = stats::ranks_by_direction(&scores, Direction::HigherIsBetter);
            let mut ranked: Vec<(String, f64, u32)> = scored
                .into_iter()
                .zip(ranks)
                .map(|((r, s), k)| (r, s, k))
                .collect();
            ranked.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
            theme_scores.insert(theme, ranked);
        }
        YearPicture {
            year,
            sequence: seq,
            catalog,
            indicators,
            theme_scores,
        }
    }
}

impl Projection {
    /// A region's picture of `year` after event `seq`. `region` must be a resolved code.
    pub fn region_picture(
        &self,
        region: &str,
        year: i32,
        seq: u64,
    ) -> proto::GetRegionPictureResponse {
        let yp = self.year_picture(year, seq);
        let mut cells = Vec::new();
        let mut reported: BTreeMap<Theme, u32> = BTreeMap::new();
        for iy in &yp.indicators {
            let ind = &iy.indicator;
            let Some(rev) = self.current(region, &ind.id, year, seq) else {
                continue;
            };
            let Change::Value(o) = &rev.change else {
                continue;
            };
            *reported.entry(ind.theme).or_default() += 1;
            let national = iy.national();
            let previous = self
                .current(region, &ind.id, year - 1, seq)
                .and_then(|r| r.observation())
                .map(|o| o.value);
            cells.push(proto::IndicatorCell {
                indicator_id: ind.id.clone(),
                theme: ind.theme.as_str().into(),
                unit: ind.unit.clone(),
                value: o.value,
                status: status_to_proto(o.status),
                source: o.source.to_string(),
                revisions: self.revisions_at(region, &ind.id, year, seq).len() as u32,
                last_recorded_at: Some(timestamp(rev.recorded_at_micros)),
                national_value: national,
                national_difference: national.map(|n| o.value - n),
                national: Some(national_to_proto(&iy.national)),
                national_share: iy.share(o.value),
                rank: iy.rank_of(region).unwrap_or(0),
                regions_ranked: iy.regions_ranked(),
                previous_value: previous,
                change: previous.map(|p| o.value - p),
                national_official: iy.official.is_some(),
                decimals: ind.decimals,
                note: o.note.clone(),
            });
        }
        let themes = Theme::ALL
            .iter()
            .map(|t| {
                let entry = yp.theme_scores[t].iter().find(|(r, _, _)| r == region);
                proto::ThemeSummary {
                    theme: t.as_str().into(),
                    score: entry.map(|e| e.1).unwrap_or(0.0),
                    rank: entry.map(|e| e.2).unwrap_or(0),
                    indicators_reported: reported.get(t).copied().unwrap_or(0),
                    indicators_defined: yp
                        .catalog
                        .indicators
                        .values()
                        .filter(|i| i.theme == *t)
                        .count() as u32,
                    scored: entry.is_some(),
                }
            })
            .collect();
        let defined = yp.catalog.indicators.len();
        proto::GetRegionPictureResponse {
            region_code: region.into(),
            year,
            coverage_ratio: if defined == 0 {
                0.0
            } else {
                cells.len() as f64 / defined as f64
            },
            cells,
            themes,
            as_of_sequence: seq,
        }
    }

    /// The national picture of `year` after event `seq`.
    pub fn national_picture(&self, year: i32, seq: u64) -> proto::GetNationalPictureResponse {
        let yp = self.year_picture(year, seq);
        let expected = yp.catalog.compared_regions().count() as u32;
        let indicators = yp
            .indicators
            .iter()
            .map(|iy| {
                let nums: Vec<f64> = iy.values.iter().map(|(_, v)| *v).collect();
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
                    min: nums.iter().copied().reduce(f64::min),
                    median: stats::median(&nums),
                    max: nums.iter().copied().reduce(f64::max),
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
                    .map(|(r, s, k)| proto::RegionScore {
                        region_code: r.clone(),
                        score: *s,
                        rank: *k,
                    })
                    .collect(),
            })
            .collect();
        proto::GetNationalPictureResponse {
            year,
            indicators,
            themes,
            as_of_sequence: seq,
        }
    }

    /// A region's series of one indicator over `from..=to` after event `seq`.
    pub fn series(
        &self,
        region: &str,
        ind: &Indicator,
        from: i32,
        to: i32,
        seq: u64,
    ) -> proto::GetSeriesResponse {
        let catalog = self.catalog_at(seq);
        let points = (from..=to)
            .filter_map(|year| {
                let o = self.current(region, &ind.id, year, seq)?.observation()?;
                let iy = self.indicator_year(&catalog, ind, year, seq);
                Some(proto::SeriesPoint {
                    year,
                    value: o.value,
                    status: status_to_proto(o.status),
                    national_value: iy.national(),
                    rank: iy.rank_of(region).unwrap_or(0),
                    national: Some(national_to_proto(&iy.national)),
                    regions_ranked: iy.regions_ranked(),
                })
            })
            .collect();
        proto::GetSeriesResponse {
            points,
            as_of_sequence: seq,
        }
    }

    /// A cell's revision trail up to event `seq`, oldest first.
    pub fn history(
        &self,
        region: &str,
        indicator: &str,
        year: i32,
        seq: u64,
    ) -> proto::GetObservationHistoryResponse {
        let revisions = self
            .revisions_at(region, indicator, year, seq)
            .iter()
            .map(|r| {
                let mut out = proto::Revision {
                    sequence: r.sequence,
                    recorded_at: Some(timestamp(r.recorded_at_micros)),
                    principal: r.principal.to_string(),
                    submission_id: r.submission_id.to_string(),
                    hash: r.hash.to_vec(),
                    ..Default::default()
                };
                match &r.change {
                    Change::Value(o) => {
                        out.value = o.value;
                        out.status = status_to_proto(o.status);
                        out.source = o.source.to_string();
                        out.note = o.note.clone();
                        out.correction_reason = o.correction_reason.clone();
                    }
                    Change::Retracted { reason } => {
                        out.retracted = true;
                        out.retraction_reason = reason.clone();
                    }
                }
                out
            })
            .collect();
        proto::GetObservationHistoryResponse {
            revisions,
            as_of_sequence: seq,
        }
    }
}
