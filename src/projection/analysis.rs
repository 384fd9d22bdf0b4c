//! What the network uses the picture for (docs/analysis.md): disparities between areas and
//! their convergence, progress towards targets, similar areas and forerunners. Each is
//! computed from the figures of one level on one division as of one sequence (the
//! [`IndicatorYear`]s the pictures use), so it holds for any as-of point and borders.

use std::sync::Arc;

use super::picture::IndicatorYear;
use super::{Level, On, Projection};
use crate::domain::dispersion::{self, Dispersion, Measure};
use crate::domain::stats::Basis;
use crate::domain::{Aggregation, Catalog, Direction, Indicator, Target, NATIONAL_CODE};

/// The catalog's indicator that weighs areas by their population.
pub(crate) const POPULATION: &str = "population";

/// Why a sum's spread is not a disparity.
const SUM_WHY: &str = "a sum (a count) mostly measures an area's size, so its spread is not a \
                       disparity: see the indicator's per-inhabitant or share indicators";

/// The years of the pace a target's progress is judged by.
pub(crate) const PACE_YEARS: i32 = 5;

/// One year's dispersion of an indicator across the areas of one level.
#[derive(Clone, Debug)]
pub(crate) struct DisparityYear {
    pub(crate) year: i32,
    /// The compared areas of the borders (those that reported are `dispersion.areas`).
    pub(crate) expected: u32,
    pub(crate) dispersion: Dispersion,
}

/// An indicator's dispersion year by year over a span on one division, and its convergence.
#[derive(Clone, Debug)]
pub(crate) struct Disparities {
    pub(crate) indicator: Indicator,
    pub(crate) on: On,
    pub(crate) years: Vec<DisparityYear>,
    /// Sigma-convergence: the coefficient of variation's slope per year.
    pub(crate) sigma: Measure,
    /// Beta-convergence from the span's first year to its last: the slope and the areas.
    pub(crate) beta: Result<(f64, u32), String>,
}

/// How a target stands (the rule is in docs/analysis.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetStatus {
    /// The latest figure is at or beyond the target.
    Reached,
    /// The last five years' pace, kept up, reaches the target by its year.
    OnTrack,
    /// It does not.
    OffTrack,
    /// The target's year has come without the target reached.
    Missed,
    /// Not known: no figure, or no pace (`why` says which).
    Unknown,
}

impl TargetStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Reached => "reached",
            TargetStatus::OnTrack => "on_track",
            TargetStatus::OffTrack => "off_track",
            TargetStatus::Missed => "missed",
            TargetStatus::Unknown => "unknown",
        }
    }
}

/// A target against the figures.
#[derive(Clone, Debug)]
pub struct TargetProgress {
    pub(crate) target: Target,
    /// The borders the figures are on.
    pub(crate) borders: Option<i32>,
    /// The area's latest figure on those borders: year and value.
    pub(crate) latest: Option<(i32, f64)>,
    /// Target less the latest figure.
    pub(crate) gap: Option<f64>,
    /// The change per year needed from the latest figure to reach the target by its year.
    pub(crate) needed_pace: Measure,
    /// The change per year over the five years to the latest figure.
    pub(crate) recent_pace: Measure,
    pub(crate) status: TargetStatus,
    /// Why the status is what it is, in a sentence.
    pub(crate) why: String,
}

/// What a similar-areas query compares on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Likeness {
    /// Indicators and their weights; empty: the default set (directional indicators at
    /// least two thirds of the areas reported), each weighing 1.
    pub(crate) indicators: Vec<(String, f64)>,
    /// How many similar areas to give.
    pub(crate) k: usize,
}

/// One area found similar.
#[derive(Clone, Debug)]
pub(crate) struct Neighbour {
    pub(crate) area: String,
    /// Root of the weighted mean squared difference of standardised values.
    pub(crate) distance: f64,
    /// The indicators both areas have, of those compared on.
    pub(crate) shared: u32,
    /// The indicators that made it close: the smallest standardised differences, closest
    /// first.
    pub(crate) closest: Vec<(String, f64)>,
}

/// The areas most similar to one area.
#[derive(Clone, Debug)]
pub(crate) struct Similar {
    pub(crate) area: String,
    pub(crate) year: i32,
    pub(crate) on: On,
    /// The indicators compared on (those with a spread), with their weights.
    pub(crate) indicators: Vec<(String, f64)>,
    /// Of them, those the area has a figure of.
    pub(crate) area_has: u32,
    /// The other areas of the level compared.
    pub(crate) compared: u32,
    /// Those left out for sharing fewer than half of the area's indicators.
    pub(crate) too_little_shared: u32,
    pub(crate) nearest: Vec<Neighbour>,
}

/// How many indicators a neighbour lists as what made it close.
pub(crate) const CLOSEST: usize = 3;

/// One area's improvement over a span.
#[derive(Clone, Debug)]
pub(crate) struct Forerunner {
    pub(crate) area: String,
    pub(crate) from_value: f64,
    pub(crate) to_value: f64,
    /// `to_value − from_value`.
    pub(crate) change: f64,
    /// The change in the indicator's better direction (positive: improved).
    pub(crate) improvement: f64,
    /// 1 = improved most.
    pub(crate) rank: u32,
}

/// The areas that improved most on an indicator over a span, on one division.
#[derive(Clone, Debug)]
pub(crate) struct Forerunners {
    pub(crate) indicator: Indicator,
    pub(crate) on: On,
    pub(crate) from: i32,
    pub(crate) to: i32,
    /// Every area with a figure at both ends, most improved first.
    pub(crate) ranked: Vec<Forerunner>,
    /// How many of `ranked` an answer lists (the most improved).
    pub(crate) listed: usize,
    /// Areas left out, with why (a break in the series, no figure at one end).
    pub(crate) left_out: Vec<(String, String)>,
}

impl Projection {
    /// Whether `ind` has any figure of `year` (any area, any borders) recorded at all.
    fn has_year(&self, ind: &str, year: i32) -> bool {
        self.indicator_numbers
            .get(ind)
            .is_some_and(|n| self.changed.contains_key(&(n, year)))
    }

    /// The dispersion of `ind` in every year of `years` across the areas of `on`, and its
    /// convergence over the span.
    pub(crate) fn disparities(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        years: (i32, i32),
        on: On,
        seq: u64,
    ) -> Disparities {
        let population = catalog.indicators.get(POPULATION);
        let mut out = Vec::new();
        let mut ends: Vec<Arc<IndicatorYear>> = Vec::new();
        for year in years.0..=years.1 {
            let iy = self.indicator_year(catalog, ind, year, on, seq);
            let values: Vec<f64> = iy.values.iter().map(|(_, v)| *v).collect();
            let dispersion = if ind.compares_regions() {
                let pop = population.map(|p| self.indicator_year(catalog, p, year, on, seq));
                let populations: Vec<Option<f64>> = iy
                    .values
                    .iter()
                    .map(|(a, _)| {
                        let p = pop.as_ref()?.figure_of(a)?.0.value;
                        Some(p)
                    })
                    .collect();
                Dispersion::of(&values, &populations)
            } else {
                Dispersion::not_taken(&values, SUM_WHY)
            };
            if year == years.0 || year == years.1 {
                ends.push(iy.clone());
            }
            out.push(DisparityYear {
                year,
                expected: iy.areas.len() as u32,
                dispersion,
            });
        }
        let cvs: Vec<(i32, f64)> = out
            .iter()
            .filter_map(|y| y.dispersion.cv.as_ref().ok().map(|c| (y.year, *c)))
            .collect();
        let sigma = if ind.compares_regions() {
            dispersion::sigma(&cvs)
        } else {
            Err(SUM_WHY.to_owned())
        };
        let beta = match (ends.first(), ends.last()) {
            _ if !ind.compares_regions() => Err(SUM_WHY.to_owned()),
            _ if years.0 == years.1 => Err("a span of one year has no growth".to_owned()),
            (Some(first), Some(last)) => {
                let pairs: Vec<(f64, f64)> = first
                    .values
                    .iter()
                    .filter_map(|(a, v)| last.figure_of(a).map(|(f, _)| (*v, f.value)))
                    .collect();
                dispersion::beta(&pairs, years.1 - years.0)
            }
            _ => Err("no years".to_owned()),
        };
        Disparities {
            indicator: ind.clone(),
            on,
            years: out,
            sigma,
            beta,
        }
    }

    /// `area`'s figure of `ind` in `year` on borders `d`: the country's is its national
    /// value when official or complete (a partial one is an estimate, not the country's).
    fn area_value(
        &self,
        catalog: &Catalog,
        area: &str,
        ind: &Indicator,
        year: i32,
        d: Option<i32>,
        seq: u64,
    ) -> Option<f64> {
        if area == NATIONAL_CODE {
            let iy = self.indicator_year(catalog, ind, year, (Level::Region, d), seq);
            return matches!(iy.national.basis, Basis::Official | Basis::Complete)
                .then_some(iy.national.value)
                .flatten();
        }
        self.figure(catalog, area, ind, year, d, seq)
            .map(|f| f.value)
    }

    /// The targets of `indicator` (all when `None`) for `area` (all when `None`) against
    /// the figures on borders `d`, as of `seq`: what a picture carries and what
    /// `GetTargets` answers.
    pub fn targets(
        &self,
        area: Option<&str>,
        indicator: Option<&str>,
        d: Option<i32>,
        seq: u64,
    ) -> Vec<TargetProgress> {
        let catalog = self.catalog_at(seq);
        catalog
            .targets_of(indicator, area)
            .map(|t| self.target_progress(&catalog, t, d, seq))
            .collect()
    }

    /// A target against its area's figures on borders `d` (the rule: docs/analysis.md).
    pub(crate) fn target_progress(
        &self,
        catalog: &Catalog,
        target: &Target,
        d: Option<i32>,
        seq: u64,
    ) -> TargetProgress {
        let Some(ind) = catalog.indicators.get(&target.indicator) else {
            return TargetProgress::unknown(target, d, "the indicator is no longer defined");
        };
        let value = |year| self.area_value(catalog, &target.area, ind, year, d, seq);
        let years: Vec<i32> = self
            .years
            .iter()
            .rev()
            .copied()
            .filter(|y| self.has_year(&ind.id, *y))
            .collect();
        let Some((latest_year, latest)) = years.iter().find_map(|y| value(*y).map(|v| (*y, v)))
        else {
            return TargetProgress::unknown(
                target,
                d,
                &format!(
                    "{} has no figure of {} on these borders",
                    target.area, ind.id
                ),
            );
        };
        let sign = ind.direction.sign();
        let gap = target.value - latest;
        let before = latest_year - PACE_YEARS;
        let recent_pace = value(before)
            .map(|v| (latest - v) / f64::from(PACE_YEARS))
            .ok_or_else(|| {
                format!(
                    "no figure of {before} on these borders{}: the pace of the last \
                     {PACE_YEARS} years needs the figure {PACE_YEARS} years before the latest \
                     ({latest_year})",
                    if target.area == NATIONAL_CODE {
                        " (a national value counts when official or complete, not estimated \
                         from some regions)"
                    } else {
                        ""
                    }
                )
            });
        let needed_pace = if target.year > latest_year {
            Ok(gap / f64::from(target.year - latest_year))
        } else {
            Err(format!(
                "the target's year {} is not after the latest figure's ({latest_year})",
                target.year
            ))
        };
        let at_target_year = (latest_year >= target.year)
            .then(|| value(target.year).map(|v| (target.year, v)))
            .flatten();
        let (judged_year, judged) = at_target_year.unwrap_or((latest_year, latest));
        let reached = sign * (judged - target.value) >= 0.0;
        let (status, why) = if reached {
            (
                TargetStatus::Reached,
                format!("the {judged_year} figure {judged} is at or beyond the target"),
            )
        } else if latest_year >= target.year {
            (
                TargetStatus::Missed,
                format!(
                    "the {judged_year} figure {judged} falls short of the target {} set for {}",
                    target.value, target.year
                ),
            )
        } else {
            match (&recent_pace, &needed_pace) {
                (Ok(recent), Ok(needed)) if sign * recent >= sign * needed => (
                    TargetStatus::OnTrack,
                    format!(
                        "the last {PACE_YEARS} years' pace {recent:.3} a year meets the {needed:.3} \
                         a year needed"
                    ),
                ),
                (Ok(recent), Ok(needed)) => (
                    TargetStatus::OffTrack,
                    format!(
                        "the last {PACE_YEARS} years' pace {recent:.3} a year falls short of the \
                         {needed:.3} a year needed"
                    ),
                ),
                (Err(why), _) | (_, Err(why)) => (TargetStatus::Unknown, why.clone()),
            }
        };
        TargetProgress {
            target: target.clone(),
            borders: d,
            latest: Some((latest_year, latest)),
            gap: Some(gap),
            needed_pace,
            recent_pace,
            status,
            why,
        }
    }

    /// The `likeness.k` areas of `area`'s level most similar to it in `year` on borders
    /// `d` (the distance and the rule for missing values: docs/analysis.md). `Err` says why
    /// the question cannot be answered (an indicator unknown or without regional figures,
    /// no indicator to compare on, the area without a figure in any of them).
    pub(crate) fn similar(
        &self,
        catalog: &Catalog,
        area: &str,
        year: i32,
        d: Option<i32>,
        likeness: &Likeness,
        seq: u64,
    ) -> Result<Similar, (&'static str, String)> {
        let on = (Level::of(area), d);
        let chosen: Vec<(Arc<IndicatorYear>, f64)> = if likeness.indicators.is_empty() {
            catalog
                .indicators
                .values()
                .filter(|i| i.likens_areas())
                .map(|i| self.indicator_year(catalog, i, year, on, seq))
                .filter(|iy| iy.most_reported())
                .map(|iy| (iy, 1.0))
                .collect()
        } else {
            let mut v = Vec::new();
            for (id, w) in &likeness.indicators {
                let ind = catalog.indicators.get(id).ok_or_else(|| {
                    (
                        "indicators",
                        format!("unknown indicator {:?}", crate::domain::text::clip(id)),
                    )
                })?;
                if ind.aggregation == Aggregation::NationalOnly {
                    return Err((
                        "indicators",
                        format!("{id} has only a national value: it does not compare areas"),
                    ));
                }
                v.push((self.indicator_year(catalog, ind, year, on, seq), *w));
            }
            v
        };
        if chosen.is_empty() {
            return Err((
                "indicators",
                format!(
                    "no directional indicator that compares areas (a rate, share or amount per \
                     head) has figures of {year} for two thirds of the areas on these borders: \
                     name the indicators to compare on"
                ),
            ));
        }
        // Standardised values per indicator: (mean, sd) over the areas that reported; an
        // indicator without spread separates nobody and is left out.
        let scales: Vec<(&Arc<IndicatorYear>, f64, f64, f64)> = chosen
            .iter()
            .filter_map(|(iy, w)| {
                let n = iy.values.len() as f64;
                let mean = iy.values.iter().map(|(_, v)| v).sum::<f64>() / n;
                let var = iy
                    .values
                    .iter()
                    .map(|(_, v)| (v - mean).powi(2))
                    .sum::<f64>()
                    / n;
                (iy.values.len() >= 2 && var > 0.0).then(|| (iy, *w, mean, var.sqrt()))
            })
            .collect();
        if scales.is_empty() {
            return Err((
                "indicators",
                format!(
                    "none of the {} indicators compared on has figures of {year} that differ \
                     between at least two areas on these borders",
                    chosen.len()
                ),
            ));
        }
        let z = |iy: &IndicatorYear, a: &str, mean: f64, sd: f64| {
            iy.figure_of(a).map(|(f, _)| (f.value - mean) / sd)
        };
        let own: Vec<Option<f64>> = scales
            .iter()
            .map(|(iy, _, m, s)| z(iy, area, *m, *s))
            .collect();
        let area_has = own.iter().flatten().count();
        if area_has == 0 {
            return Err((
                "region_code",
                format!(
                    "{area} has no figure of {year} on these borders in any of the {} indicators \
                     compared on",
                    scales.len()
                ),
            ));
        }
        // Compared only with at least half of the area's indicators in common.
        let needed = area_has.div_ceil(2);
        let areas: &[String] = scales.first().map_or(&[], |(iy, ..)| &iy.areas);
        let mut nearest = Vec::new();
        let mut too_little_shared = 0;
        let mut compared = 0;
        for other in areas.iter().filter(|a| a.as_str() != area) {
            let mut sum = 0.0;
            let mut weights = 0.0;
            let mut diffs = Vec::new();
            for ((iy, w, m, s), mine) in scales.iter().zip(&own) {
                if let (Some(a), Some(b)) = (mine, z(iy, other, *m, *s)) {
                    sum += w * (a - b).powi(2);
                    weights += w;
                    diffs.push((iy.indicator.id.clone(), (a - b).abs()));
                }
            }
            if diffs.len() < needed || weights <= 0.0 {
                too_little_shared += 1;
                continue;
            }
            compared += 1;
            diffs.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let shared = diffs.len() as u32;
            diffs.truncate(CLOSEST);
            nearest.push(Neighbour {
                area: other.clone(),
                distance: (sum / weights).sqrt(),
                shared,
                closest: diffs,
            });
        }
        nearest.sort_by(|a, b| {
            a.distance
                .total_cmp(&b.distance)
                .then_with(|| a.area.cmp(&b.area))
        });
        nearest.truncate(likeness.k);
        Ok(Similar {
            area: area.to_owned(),
            year,
            on,
            indicators: scales
                .iter()
                .map(|(iy, w, ..)| (iy.indicator.id.clone(), *w))
                .collect(),
            area_has: area_has as u32,
            compared,
            too_little_shared,
            nearest,
        })
    }

    /// The areas of `on` ranked by their improvement on `ind` from `from` to `to`, each on
    /// the borders `on.1` at both ends; those without a figure at an end are left out, and a
    /// figure only on other land is named a break.
    pub(crate) fn forerunners(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        (from, to): (i32, i32),
        on: On,
        seq: u64,
    ) -> Forerunners {
        let sign = ind.direction.sign();
        let first = self.indicator_year(catalog, ind, from, on, seq);
        let last = self.indicator_year(catalog, ind, to, on, seq);
        let mut ranked = Vec::new();
        let mut left_out = Vec::new();
        for area in &last.areas {
            let ends = [(from, &first), (to, &last)].map(|(y, iy)| {
                iy.figure_of(area).map(|(f, _)| f.value).ok_or_else(|| {
                    let elsewhere = self.reported_elsewhere(catalog, area, &ind.id, y, on.1, seq);
                    match elsewhere.first() {
                        Some(b) => format!(
                            "its series breaks: the {y} figure is on the borders of {b}, on \
                             which {area} covers other land"
                        ),
                        None => format!("no figure of {y} on these borders"),
                    }
                })
            });
            match ends {
                [Ok(a), Ok(b)] => ranked.push(Forerunner {
                    area: area.clone(),
                    from_value: a,
                    to_value: b,
                    change: b - a,
                    improvement: sign * (b - a),
                    rank: 0,
                }),
                [Err(why), _] | [_, Err(why)] => left_out.push((area.clone(), why)),
            }
        }
        ranked.sort_by(|a, b| {
            b.improvement
                .total_cmp(&a.improvement)
                .then_with(|| a.area.cmp(&b.area))
        });
        let improvements: Vec<f64> = ranked.iter().map(|f| f.improvement).collect();
        let ranks =
            crate::domain::stats::ranks_by_direction(&improvements, Direction::HigherIsBetter);
        for (f, r) in ranked.iter_mut().zip(ranks) {
            f.rank = r;
        }
        Forerunners {
            indicator: ind.clone(),
            on,
            from,
            to,
            listed: ranked.len(),
            ranked,
            left_out,
        }
    }
}

impl TargetProgress {
    fn unknown(target: &Target, d: Option<i32>, why: &str) -> TargetProgress {
        TargetProgress {
            target: target.clone(),
            borders: d,
            latest: None,
            gap: None,
            needed_pace: Err(why.to_owned()),
            recent_pace: Err(why.to_owned()),
            status: TargetStatus::Unknown,
            why: why.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use crate::domain::validate::ObservationInput;
    use crate::domain::Status;
    use crate::write::{SubmitInput, WriteRequest, WriterState};

    /// 1 December 2026.
    const NOW: i64 = 1_795_737_600_000_000;

    /// A projection of the bundled catalog with `series` of natural increase (higher is
    /// better) per region.
    fn with(series: &[(&str, &[(i32, f64)])]) -> Projection {
        let mut state = WriterState::default();
        let mut events = state.bootstrap(&Catalog::bundled(), NOW);
        for (region, points) in series {
            let req = WriteRequest::Submit(SubmitInput {
                submission_id: format!("s-{region}"),
                region_code: (*region).into(),
                expected_region_revision: None,
                observations: points
                    .iter()
                    .map(|(year, value)| ObservationInput {
                        indicator_id: "natural_increase".into(),
                        year: *year,
                        value: *value,
                        status: Some(Status::Final),
                        source: "test".into(),
                        note: String::new(),
                        correction_reason: String::new(),
                        borders: None,
                        published_micros: None,
                    })
                    .collect(),
                validate_only: false,
            });
            state
                .prepare(req, &Principal::system("t"), NOW, &mut events)
                .unwrap();
        }
        let mut p = Projection::new();
        for e in &events {
            p.apply(e);
        }
        p
    }

    #[test]
    fn targets_are_judged_by_the_stated_rule() {
        // +10 a year from 100 (2015) to 150 (2020).
        let steady: Vec<(i32, f64)> = (2015..=2020)
            .map(|y| (y, 100.0 + 10.0 * f64::from(y - 2015)))
            .collect();
        let p = with(&[("MK01", &steady), ("MK04", &[(2019, 1.0), (2020, 2.0)])]);
        let catalog = p.catalog();
        let d = catalog.divisions.keys().next_back().copied();
        let judge = |area: &str, year: i32, value: f64| {
            let t = Target {
                area: area.into(),
                indicator: "natural_increase".into(),
                year,
                value,
                source: "test".into(),
                note: String::new(),
            };
            p.target_progress(&catalog, &t, d, p.applied())
        };
        // 10 a year needed, 10 a year kept up: on track; 30 needed: off track.
        let on = judge("MK01", 2025, 200.0);
        assert_eq!(on.status, TargetStatus::OnTrack, "{}", on.why);
        assert_eq!((on.latest, on.gap), (Some((2020, 150.0)), Some(50.0)));
        assert_eq!(
            (on.needed_pace.clone(), on.recent_pace.clone()),
            (Ok(10.0), Ok(10.0))
        );
        assert_eq!(judge("MK01", 2025, 300.0).status, TargetStatus::OffTrack);
        // Already beyond it; a past year's target judged by that year's figure.
        assert_eq!(judge("MK01", 2025, 140.0).status, TargetStatus::Reached);
        assert_eq!(judge("MK01", 2018, 125.0).status, TargetStatus::Reached);
        let missed = judge("MK01", 2018, 135.0);
        assert_eq!(missed.status, TargetStatus::Missed, "{}", missed.why);
        assert!(missed.needed_pace.is_err());
        // No figure five years before the latest; no figure at all.
        let short = judge("MK04", 2025, 10.0);
        assert_eq!(short.status, TargetStatus::Unknown);
        assert!(short.why.contains("2015"), "{}", short.why);
        assert_eq!(short.latest, Some((2020, 2.0)));
        let none = judge("MK02", 2025, 10.0);
        assert_eq!((none.status, none.latest), (TargetStatus::Unknown, None));
        assert!(none.why.contains("no figure"), "{}", none.why);
    }
}
