//! Pictures computed from the projection at one sequence: the derived figures of
//! docs/architecture.md, as domain values (the API turns them into its messages).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Projection;
use crate::domain::stats::{self, RegionValues};
use crate::domain::{
    Aggregation, Catalog, Direction, Indicator, RegionGroup, Round, Status, Theme, NATIONAL_CODE,
};

/// One indicator's figures for one year across the regions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IndicatorYear {
    pub(crate) indicator: Indicator,
    /// The compared regions that reported the cell, in region order, with their values.
    pub(crate) values: Vec<(String, f64)>,
    /// Rank of each entry of `values` (0 for neutral indicators).
    pub(crate) ranks: Vec<u32>,
    /// Oriented z-scores of `values`, when the indicator counts for theme scores.
    pub(crate) z_scores: Option<Vec<f64>>,
    /// The value reported for `SSS`.
    pub(crate) official: Option<f64>,
    /// The national value by the completeness rules (official, complete, partial, none).
    pub(crate) national: stats::National,
    /// Per peer group of the catalog (id order): its value and ranks.
    pub(crate) groups: Vec<GroupFigures>,
    /// Per compared region (catalog order): its entry in `values`, if it reported.
    positions: Vec<Option<u32>>,
    /// The last sequence that changed what these figures are computed from: they hold for
    /// every sequence from it to the projection's latest.
    pub(crate) since: u64,
    /// The indicator's number in the projection (none if it has no cell or definition).
    number: Option<u32>,
}

impl IndicatorYear {
    /// The national value: official, complete, or a partial ratio or weighted mean; never
    /// a sum over part of the country.
    pub(crate) fn national(&self) -> Option<f64> {
        self.national.value
    }

    /// The region's share of the country (%): for a sum of a quantity that cannot be
    /// negative (the catalog's minimum is 0 or more: a population, an amount), with an
    /// official or complete national value above zero. A net flow (natural increase, net
    /// migration) has no meaningful share.
    pub(crate) fn share(&self, value: f64) -> Option<f64> {
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

    /// The rank of the compared region at `position` (catalog order), if it reported.
    pub(crate) fn rank_at(&self, position: usize) -> Option<u32> {
        self.positions
            .get(position)
            .copied()
            .flatten()
            .map(|i| self.ranks[i as usize])
    }

    pub(crate) fn regions_ranked(&self) -> u32 {
        if self.indicator.direction == Direction::Neutral {
            0
        } else {
            self.values.len() as u32
        }
    }

    /// The smallest, the median and the largest of the regions' values.
    pub(crate) fn spread(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let nums: Vec<f64> = self.values.iter().map(|(_, v)| *v).collect();
        (
            nums.iter().copied().reduce(f64::min),
            stats::median(&nums),
            nums.iter().copied().reduce(f64::max),
        )
    }

    /// The best (or worst) ranked region, if the indicator is ranked.
    pub(crate) fn by_rank(&self, best: bool) -> Option<&str> {
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

/// One indicator's figures for one year within one peer group.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GroupFigures {
    pub(crate) group: String,
    /// The group value: the indicator's own rule over the members that reported, with the
    /// national value's completeness rules (a sum only when every member reported; a ratio
    /// or weighted mean over part of the group is partial). A group has no official value.
    pub(crate) value: stats::National,
    /// The members that reported, in code order: indices into the indicator's `values`
    /// (no copy of their codes).
    members: Vec<u32>,
    /// Rank within the group of each entry of `members` (0 for neutral indicators).
    ranks: Vec<u32>,
    /// Whether the indicator is ranked (directional).
    ranked: bool,
}

impl GroupFigures {
    /// Members ranked: those that reported, for a directional indicator.
    pub(crate) fn regions_ranked(&self) -> u32 {
        if self.ranked {
            self.members.len() as u32
        } else {
            0
        }
    }
}

impl IndicatorYear {
    /// The figures of peer group `id`.
    pub(crate) fn group(&self, id: &str) -> Option<&GroupFigures> {
        self.groups.iter().find(|g| g.group == id)
    }

    /// The members of `g` (figures of this indicator) that reported, in code order, with
    /// their values and ranks within the group.
    pub(crate) fn group_members<'a>(
        &'a self,
        g: &'a GroupFigures,
    ) -> impl Iterator<Item = (&'a str, f64, u32)> + 'a {
        g.members.iter().zip(&g.ranks).map(|(i, rank)| {
            let (region, v) = &self.values[*i as usize];
            (region.as_str(), *v, *rank)
        })
    }

    /// The rank of `region` within `g`, if it is a member that reported and the indicator
    /// is ranked.
    pub(crate) fn group_rank(&self, g: &GroupFigures, region: &str) -> Option<u32> {
        self.group_members(g)
            .find(|(r, _, _)| *r == region)
            .map(|(_, _, rank)| rank)
            .filter(|r| *r > 0)
    }
}

/// A peer group's picture of one year: its members side by side, the group value and the
/// national value of every indicator, each member value with what traces it (status,
/// source, revisions, the sequence of its current revision).
#[derive(Clone, Debug)]
pub(crate) struct GroupPicture {
    pub(crate) group: RegionGroup,
    pub(crate) year: i32,
    /// In catalog order: the indicator's figures (the group's among them) and its members.
    pub(crate) indicators: Vec<(Arc<IndicatorYear>, Vec<GroupMember>)>,
}

/// A member's cell in a group picture.
#[derive(Clone, Debug)]
pub(crate) struct GroupMember {
    pub(crate) region: String,
    /// `None`: the member has not reported the cell (it is then missing from the group value).
    pub(crate) value: Option<f64>,
    pub(crate) status: Option<Status>,
    pub(crate) source: Option<Arc<str>>,
    pub(crate) revisions: u32,
    /// The sequence of the member's current revision (0: none): its history and event.
    pub(crate) sequence: u64,
    pub(crate) rank: u32,
}

/// What a reporting round has received, as of one sequence.
#[derive(Clone, Debug)]
pub(crate) struct RoundStatus {
    pub(crate) round: Round,
    /// The sequence that opened the round in this form.
    pub(crate) opened_sequence: u64,
    /// The instant the status is for: the record time of the as-of event, or now.
    pub(crate) at_micros: i64,
    /// Per expected region, in code order.
    pub(crate) regions: Vec<RegionRoundStatus>,
}

impl RoundStatus {
    pub(crate) fn deadline_passed(&self) -> bool {
        self.at_micros > self.round.deadline_micros
    }
}

/// One region's part of a round.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RegionRoundStatus {
    pub(crate) region: String,
    /// Expected indicators with a current value for the round's year.
    pub(crate) reported: Vec<String>,
    /// Expected indicators without one.
    pub(crate) missing: Vec<String>,
    /// Something is missing and the deadline has passed.
    pub(crate) overdue: bool,
}

/// The whole picture of one year.
#[derive(Debug)]
pub struct YearPicture {
    pub(crate) year: i32,
    pub(crate) catalog: Arc<Catalog>,
    /// In catalog (id) order.
    pub(crate) indicators: Vec<Arc<IndicatorYear>>,
    /// Per theme: (region, score, rank), best first.
    pub(crate) theme_scores: BTreeMap<Theme, Vec<(String, f64, u32)>>,
    /// The latest of its indicators' `since`.
    pub(crate) since: u64,
}

impl YearPicture {
    /// Regions a national value expects: every compared region of the catalog.
    pub(crate) fn regions_expected(&self) -> u32 {
        self.catalog.compared_regions(self.year).count() as u32
    }
}

/// A region's summary of one theme.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ThemeSummary {
    pub(crate) theme: Theme,
    pub(crate) score: f64,
    pub(crate) rank: u32,
    pub(crate) indicators_reported: u32,
    pub(crate) indicators_defined: u32,
    pub(crate) scored: bool,
}

/// One reported cell of a region's picture.
#[derive(Clone, Debug)]
pub(crate) struct RegionCell {
    /// The indicator's figures of the year (the national value and the ranks).
    pub(crate) figures: Arc<IndicatorYear>,
    pub(crate) value: f64,
    pub(crate) status: Status,
    pub(crate) source: Arc<str>,
    pub(crate) note: String,
    pub(crate) revisions: u32,
    pub(crate) last_recorded_at_micros: i64,
    pub(crate) rank: u32,
    pub(crate) previous: Option<f64>,
}

impl RegionCell {
    /// The value less the national value.
    pub(crate) fn national_difference(&self) -> Option<f64> {
        self.figures.national().map(|n| self.value - n)
    }

    /// The value less the year before's.
    pub(crate) fn change(&self) -> Option<f64> {
        self.previous.map(|p| self.value - p)
    }
}

/// A region's picture of one year (it holds at every sequence from the last change of
/// the year, the year before or the catalog to the latest).
#[derive(Clone, Debug)]
pub struct RegionPicture {
    pub(crate) region: String,
    pub(crate) year: i32,
    /// In catalog order, reported cells only.
    pub(crate) cells: Vec<RegionCell>,
    pub(crate) themes: Vec<ThemeSummary>,
    /// Reported cells per defined indicator.
    pub(crate) coverage_ratio: f64,
    /// The peer groups the region is a member of (id order), whose figures each cell shows.
    pub(crate) groups: Vec<String>,
}

/// One year of a region's series.
#[derive(Clone, Debug)]
pub(crate) struct SeriesPoint {
    pub(crate) year: i32,
    pub(crate) value: f64,
    pub(crate) status: Status,
    pub(crate) figures: Arc<IndicatorYear>,
    pub(crate) rank: u32,
}

/// One indicator's cells and those of the indicators it is computed from, for every
/// compared region, each fetched once: the statistics ask for a cell's value and status
/// separately, region by region in order.
struct Fetched<'a> {
    regions: &'a [&'a str],
    /// The indicator first, then its components.
    ids: Vec<&'a str>,
    /// Per id, per region (in `regions` order): the current revision.
    columns: Vec<Vec<Option<super::Rev>>>,
    /// The row of the last region asked for: the next ask is usually for it or a later one.
    cursor: std::cell::Cell<usize>,
}

impl<'a> Fetched<'a> {
    /// The cells of `ind` and its components in `year` after event `seq`.
    fn new(
        proj: &Projection,
        year: i32,
        seq: u64,
        regions: &'a [&'a str],
        ind: &'a Indicator,
    ) -> Fetched<'a> {
        let ids: Vec<&str> = std::iter::once(ind.id.as_str())
            .chain(super::components(&ind.aggregation))
            .collect();
        let columns = ids
            .iter()
            .map(|id| {
                regions
                    .iter()
                    .map(|r| proj.current(r, id, year, seq).copied())
                    .collect()
            })
            .collect();
        Fetched {
            regions,
            ids,
            columns,
            cursor: std::cell::Cell::new(0),
        }
    }

    fn cell(&self, region: &str, indicator: &str) -> Option<super::Rev> {
        let col = self.ids.iter().position(|i| *i == indicator)?;
        // Forward from the last row first: the statistics ask region by region in order,
        // the whole country's or a peer group's members (a subsequence) alike.
        let c = self.cursor.get().min(self.regions.len());
        let row = self.regions[c..]
            .iter()
            .position(|r| *r == region)
            .map(|i| c + i)
            .or_else(|| self.regions[..c].iter().position(|r| *r == region))?;
        self.cursor.set(row);
        self.columns[col][row]
    }
}

impl RegionValues for Fetched<'_> {
    fn value(&self, region: &str, indicator: &str) -> Option<f64> {
        self.cell(region, indicator).map(|o| o.value)
    }

    fn provisional(&self, region: &str, indicator: &str) -> bool {
        self.cell(region, indicator)
            .is_some_and(|o| o.status() == Status::Provisional)
    }
}

/// The position of `region` among the compared regions of `catalog` in `year`.
fn position(catalog: &Catalog, region: &str, year: i32) -> Option<usize> {
    catalog
        .compared_regions(year)
        .position(|r| r.code == region)
}

impl Projection {
    /// One indicator's figures for one year as of `seq`, under `catalog` (the catalog as
    /// of `seq`): the kept ones when they hold at `seq`, else computed (and kept, when they
    /// are the latest).
    pub(crate) fn indicator_year(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        year: i32,
        seq: u64,
    ) -> Arc<IndicatorYear> {
        let since = self.changed_at(&ind.id, year);
        let key = self.indicator_numbers.get(&ind.id).map(|n| (n, year));
        // Kept only for years with cells: a reader cannot fill memory with empty years.
        let keep = key.filter(|_| seq >= since && self.years.contains(&year));
        if let Some(k) = keep {
            if let Some(f) = self.kept.lock().figures.get(&k) {
                return f.clone();
            }
        }
        let figures = Arc::new(self.compute_indicator_year(catalog, ind, year, seq, since));
        if let Some(k) = keep {
            self.kept.lock().figures.insert(k, figures.clone());
        }
        figures
    }

    fn compute_indicator_year(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        year: i32,
        seq: u64,
        since: u64,
    ) -> IndicatorYear {
        let regions: Vec<&str> = catalog
            .compared_regions(year)
            .map(|r| r.code.as_str())
            .collect();
        let fetched = Fetched::new(self, year, seq, &regions, ind);
        let mut positions = Vec::with_capacity(regions.len());
        let mut values: Vec<(String, f64)> = Vec::new();
        for (r, cell) in regions.iter().zip(&fetched.columns[0]) {
            match cell {
                Some(c) => {
                    positions.push(Some(values.len() as u32));
                    values.push(((*r).to_owned(), c.value));
                }
                None => positions.push(None),
            }
        }
        let nums: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        let official = self
            .current(NATIONAL_CODE, &ind.id, year, seq)
            .map(|o| (o.value, o.status() == Status::Provisional));
        let computed = stats::aggregate(&ind.id, &ind.aggregation, &regions, &fetched);
        let groups = catalog
            .groups
            .values()
            .map(|g| {
                let members: Vec<&str> = g.members.iter().map(String::as_str).collect();
                let computed = stats::aggregate(&ind.id, &ind.aggregation, &members, &fetched);
                // Members and regions are both in code order: one merge finds the members'
                // entries in `values`.
                let mut entries = Vec::with_capacity(members.len());
                let mut nums = Vec::with_capacity(members.len());
                let mut row = 0;
                for m in &members {
                    while row < regions.len() && regions[row] < *m {
                        row += 1;
                    }
                    if regions.get(row) == Some(m) {
                        if let Some(i) = positions[row] {
                            entries.push(i);
                            nums.push(values[i as usize].1);
                        }
                    }
                }
                GroupFigures {
                    group: g.id.clone(),
                    value: stats::national(&ind.aggregation, None, computed, members.len() as u32),
                    ranks: stats::ranks_by_direction(&nums, ind.direction),
                    members: entries,
                    ranked: ind.direction != Direction::Neutral,
                }
            })
            .collect();
        IndicatorYear {
            groups,
            ranks: stats::ranks_by_direction(&nums, ind.direction),
            z_scores: stats::oriented_z_scores(&nums, ind.direction),
            official: official.map(|(v, _)| v),
            national: stats::national(&ind.aggregation, official, computed, regions.len() as u32),
            indicator: ind.clone(),
            values,
            positions,
            since,
            number: self.indicator_numbers.get(&ind.id),
        }
    }

    /// The picture of `year` after event `seq`: the kept one when it holds at `seq`.
    pub fn year_picture(&self, year: i32, seq: u64) -> Arc<YearPicture> {
        if let Some(yp) = self.kept.lock().years.get(&year) {
            if seq >= yp.since {
                return yp.clone();
            }
        }
        let catalog = self.catalog_at(seq);
        let indicators: Vec<Arc<IndicatorYear>> = catalog
            .indicators
            .values()
            .map(|ind| self.indicator_year(&catalog, ind, year, seq))
            .collect();
        let mut yp = YearPicture::from_indicators(year, catalog, indicators);
        // A catalog without indicators still changed at its last definition.
        yp.since = yp.since.max(self.catalog_changed_at);
        let yp = Arc::new(yp);
        // Kept only when every figure in it is the latest (each `since` is the indicator's
        // last change, so at or after all of them nothing has changed since).
        if seq >= yp.since && self.years.contains(&year) {
            self.kept.lock().years.insert(year, yp.clone());
        }
        yp
    }
}

impl YearPicture {
    /// The year's picture from its indicators' figures (in catalog order): the theme
    /// scores and ranks follow from them alone, with no projection needed.
    pub(crate) fn from_indicators(
        year: i32,
        catalog: Arc<Catalog>,
        indicators: Vec<Arc<IndicatorYear>>,
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
        let since = indicators.iter().map(|iy| iy.since).max().unwrap_or(0);
        YearPicture {
            year,
            catalog,
            indicators,
            theme_scores,
            since,
        }
    }
}

impl Projection {
    /// A region's picture of `year` after event `seq`: the kept one when it holds at `seq`.
    /// `region` must be a resolved code.
    pub fn region_picture(&self, region: &str, year: i32, seq: u64) -> Arc<RegionPicture> {
        let keep = seq >= self.region_picture_since(year) && self.years.contains(&year);
        if keep {
            if let Some(p) = self
                .kept
                .lock()
                .regions
                .get(&year)
                .and_then(|m| m.get(region))
            {
                return p.clone();
            }
        }
        let picture = Arc::new(self.compute_region_picture(region, year, seq));
        if keep {
            self.kept
                .lock()
                .regions
                .entry(year)
                .or_default()
                .insert(region.to_owned(), picture.clone());
        }
        picture
    }

    fn compute_region_picture(&self, region: &str, year: i32, seq: u64) -> RegionPicture {
        let yp = self.year_picture(year, seq);
        let at = position(&yp.catalog, region, year);
        let number = self.region_numbers.get(region);
        let mut cells = Vec::new();
        let mut reported: BTreeMap<Theme, u32> = BTreeMap::new();
        for iy in &yp.indicators {
            let ind = &iy.indicator;
            let (Some(r), Some(i)) = (number, iy.number) else {
                continue;
            };
            let revisions = self.upto(self.numbered(r, i, year), seq);
            let Some(rev) = super::value_of(revisions) else {
                continue;
            };
            *reported.entry(ind.theme).or_default() += 1;
            cells.push(RegionCell {
                figures: iy.clone(),
                value: rev.value,
                status: rev.status(),
                source: self.source(rev).clone(),
                note: self.note(rev).to_owned(),
                revisions: revisions.len() as u32,
                last_recorded_at_micros: rev.recorded_at_micros,
                rank: at.and_then(|p| iy.rank_at(p)).unwrap_or(0),
                previous: super::value_of(self.upto(self.numbered(r, i, year - 1), seq))
                    .map(|r| r.value),
            });
        }
        let themes = Theme::ALL
            .iter()
            .map(|t| {
                let entry = yp.theme_scores[t].iter().find(|(r, _, _)| r == region);
                ThemeSummary {
                    theme: *t,
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
        RegionPicture {
            region: region.into(),
            year,
            groups: yp.catalog.groups_of(region).map(|g| g.id.clone()).collect(),
            coverage_ratio: if defined == 0 {
                0.0
            } else {
                cells.len() as f64 / defined as f64
            },
            cells,
            themes,
        }
    }

    /// A region's series of one indicator over `from..=to` after event `seq`.
    pub(crate) fn series(
        &self,
        region: &str,
        ind: &Indicator,
        from: i32,
        to: i32,
        seq: u64,
    ) -> Vec<SeriesPoint> {
        let catalog = self.catalog_at(seq);
        (from..=to)
            .filter_map(|year| {
                let rev = self.current(region, &ind.id, year, seq)?;
                let figures = self.indicator_year(&catalog, ind, year, seq);
                let at = position(&catalog, region, year);
                Some(SeriesPoint {
                    year,
                    value: rev.value,
                    status: rev.status(),
                    rank: at.and_then(|p| figures.rank_at(p)).unwrap_or(0),
                    figures,
                })
            })
            .collect()
    }
}

impl Projection {
    /// Peer group `id`'s picture of `year` after event `seq`; `None` when the group is not
    /// defined at `seq`.
    pub(crate) fn group_picture(&self, id: &str, year: i32, seq: u64) -> Option<GroupPicture> {
        let yp = self.year_picture(year, seq);
        let group = yp.catalog.groups.get(id)?.clone();
        let indicators = yp
            .indicators
            .iter()
            .map(|iy| {
                let figures = iy.group(id);
                let members = group
                    .members
                    .iter()
                    .map(|m| {
                        let revisions = self.revisions_at(m, &iy.indicator.id, year, seq);
                        let current = super::value_of(revisions);
                        GroupMember {
                            region: m.clone(),
                            value: current.map(|r| r.value),
                            status: current.map(|r| r.status()),
                            source: current.map(|r| self.source(r).clone()),
                            revisions: revisions.len() as u32,
                            sequence: current.map_or(0, |r| r.sequence()),
                            rank: figures.and_then(|f| iy.group_rank(f, m)).unwrap_or(0),
                        }
                    })
                    .collect();
                (iy.clone(), members)
            })
            .collect();
        Some(GroupPicture {
            group,
            year,
            indicators,
        })
    }

    /// The status of `year`'s reporting round after event `seq`, at instant `at_micros`
    /// (overdue: something missing after the deadline); `None` without a round.
    pub(crate) fn round_status(&self, year: i32, seq: u64, at_micros: i64) -> Option<RoundStatus> {
        let (opened_sequence, round) = self.round(year, seq)?;
        let passed = at_micros > round.deadline_micros;
        let regions = round
            .regions
            .iter()
            .map(|region| {
                let (reported, missing): (Vec<&String>, Vec<&String>) = round
                    .indicators
                    .iter()
                    .partition(|i| self.current(region, i, year, seq).is_some());
                RegionRoundStatus {
                    region: region.clone(),
                    overdue: passed && !missing.is_empty(),
                    reported: reported.into_iter().cloned().collect(),
                    missing: missing.into_iter().cloned().collect(),
                }
            })
            .collect();
        Some(RoundStatus {
            round: round.clone(),
            opened_sequence,
            at_micros,
            regions,
        })
    }
}
