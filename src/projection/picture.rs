//! Pictures computed from the projection at one sequence: the derived figures of
//! docs/architecture.md, as domain values (the API turns them into its messages).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{On, Projection, Rev};
use crate::domain::areas::{is_municipality_code, Grouping};
use crate::domain::stats::{self, RegionValues};
use crate::domain::{
    Aggregation, Catalog, Direction, Indicator, RegionGroup, Round, Status, Theme, NATIONAL_CODE,
};

/// The level of the areas a picture compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Region,
    Municipality,
    /// The key's sub-regions (`SK###`): put together from their municipalities.
    SubRegion,
    /// The key's wellbeing services counties (`HV##`): put together from their
    /// municipalities.
    County,
}

impl Level {
    /// The level of an area code.
    pub(crate) fn of(area: &str) -> Level {
        match Grouping::of_code(area) {
            Some(Grouping::SubRegion) => Level::SubRegion,
            Some(Grouping::County) => Level::County,
            _ if is_municipality_code(area) => Level::Municipality,
            _ => Level::Region,
        }
    }

    /// Its name in requests and answers.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Region => "region",
            Level::Municipality => "municipality",
            Level::SubRegion => "sub_region",
            Level::County => "county",
        }
    }

    /// A level a request names (empty: regions).
    pub(crate) fn parse(s: &str) -> Result<Level, String> {
        match s.trim() {
            "" | "region" => Ok(Level::Region),
            "municipality" => Ok(Level::Municipality),
            "sub_region" => Ok(Level::SubRegion),
            "county" => Ok(Level::County),
            other => Err(format!(
                "{:?} must be region, municipality, sub_region or county",
                crate::domain::text::clip(other)
            )),
        }
    }

    /// How the areas of this level are made of municipalities (`None`: municipalities).
    pub(crate) fn grouping(self) -> Option<Grouping> {
        match self {
            Level::Region => Some(Grouping::Region),
            Level::SubRegion => Some(Grouping::SubRegion),
            Level::County => Some(Grouping::County),
            Level::Municipality => None,
        }
    }
}

/// Where an area's figure on a picture's borders comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Origin {
    /// Reported for the area on `borders`, the picture's (the figure was reported on them or
    /// on borders that give the area the same land: `Catalog::land`).
    Reported { borders: Option<i32>, rev: Rev },
    /// Put together by the indicator's rule from the figures of the municipalities that lie
    /// wholly in the area, reported on the municipal borders `from`: `used` of `expected`
    /// municipalities, with the completeness rules of a national value (`basis`).
    Derived {
        from: i32,
        basis: stats::Basis,
        used: u32,
        expected: u32,
    },
}

impl Origin {
    /// The borders the figure was reported on, or its municipalities' for a derived one.
    pub(crate) fn borders(&self) -> Option<i32> {
        match self {
            Origin::Reported { borders, .. } => *borders,
            Origin::Derived { from, .. } => Some(*from),
        }
    }

    /// For a derived figure: the municipalities used and expected.
    pub(crate) fn derived(&self) -> Option<(u32, u32)> {
        match self {
            Origin::Derived { used, expected, .. } => Some((*used, *expected)),
            Origin::Reported { .. } => None,
        }
    }

    /// The revision reported, if the figure was.
    pub(crate) fn rev(&self) -> Option<&Rev> {
        match self {
            Origin::Reported { rev, .. } => Some(rev),
            Origin::Derived { .. } => None,
        }
    }
}

/// An area's figure on a picture's borders.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Figure {
    pub(crate) value: f64,
    pub(crate) provisional: bool,
    pub(crate) origin: Origin,
}

impl Figure {
    pub(crate) fn status(&self) -> Status {
        if self.provisional {
            Status::Provisional
        } else {
            Status::Final
        }
    }

    /// The revision reported, if the figure was.
    pub(crate) fn rev(&self) -> Option<&Rev> {
        self.origin.rev()
    }
}

/// One indicator's figures for one year across the areas of one level on one division.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IndicatorYear {
    pub(crate) indicator: Indicator,
    /// The level and borders of the figures.
    pub(crate) on: On,
    /// The compared areas that have a figure, in code order, with their values.
    pub(crate) values: Vec<(String, f64)>,
    /// Where each entry of `values` comes from.
    pub(crate) figures: Vec<Figure>,
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
    /// Per compared area (code order): its entry in `values`, if it has a figure.
    positions: Vec<Option<u32>>,
    /// The compared areas, in code order.
    pub(crate) areas: Vec<String>,
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

    /// The region's share of the country (%): see [`stats::National::share`].
    pub(crate) fn share(&self, value: f64) -> Option<f64> {
        self.national.share(&self.indicator, value)
    }

    /// `value` less the national value, where a difference means something (not for a
    /// sum: [`stats::National::difference`]).
    pub(crate) fn difference(&self, value: f64) -> Option<f64> {
        self.national.difference(&self.indicator, value)
    }

    /// A member's share of its group (%), by the same rule as [`IndicatorYear::share`].
    pub(crate) fn group_share(&self, g: &GroupFigures, value: f64) -> Option<f64> {
        g.value.share(&self.indicator, value)
    }

    /// A member's value less its group's, where a difference means something (not for a
    /// sum: [`stats::National::difference`]).
    pub(crate) fn group_difference(&self, g: &GroupFigures, value: f64) -> Option<f64> {
        g.value.difference(&self.indicator, value)
    }

    /// Whether at least two thirds of the compared areas have a figure (the similar areas'
    /// default set takes such indicators; the gauges' forerunners only such years, so that
    /// a year being reported does not crown its first reporters).
    pub(crate) fn most_reported(&self) -> bool {
        !self.areas.is_empty() && self.values.len() * 3 >= self.areas.len() * 2
    }

    /// `area`'s figure and its rank (0 when the indicator is not ranked), if it has one.
    pub(crate) fn figure_of(&self, area: &str) -> Option<(&Figure, u32)> {
        let at = self.areas.binary_search_by(|a| a.as_str().cmp(area)).ok()?;
        let i = self.positions[at]? as usize;
        Some((&self.figures[i], self.ranks[i]))
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
    /// The borders the picture is on.
    pub(crate) borders: Option<i32>,
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
    /// The level and borders of its figures.
    pub(crate) on: On,
    pub(crate) catalog: Arc<Catalog>,
    /// In catalog (id) order.
    pub(crate) indicators: Vec<Arc<IndicatorYear>>,
    /// Per theme: the regions' scores, best first.
    pub(crate) theme_scores: BTreeMap<Theme, Vec<Score>>,
    /// The latest of its indicators' `since`.
    pub(crate) since: u64,
}

impl YearPicture {
    /// Areas a national value expects: every compared area of the borders.
    pub(crate) fn regions_expected(&self) -> u32 {
        self.indicators
            .first()
            .map_or(0, |iy| iy.areas.len() as u32)
    }
}

/// A region's score in one theme: the mean of its oriented z-scores over the theme's
/// indicators that compare regions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Score {
    pub(crate) region: String,
    pub(crate) score: f64,
    /// 1 = the highest score.
    pub(crate) rank: u32,
    /// The indicators the score rests on.
    pub(crate) indicators: u32,
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
    /// The indicators its score rests on (0: no score).
    pub(crate) indicators_scored: u32,
}

/// One cell of an area's picture that has a figure on the picture's borders.
#[derive(Clone, Debug)]
pub(crate) struct RegionCell {
    /// The indicator's figures of the year (the national value and the ranks).
    pub(crate) figures: Arc<IndicatorYear>,
    /// Where the figure comes from: reported (on which borders), or derived.
    pub(crate) origin: Origin,
    pub(crate) value: f64,
    pub(crate) status: Status,
    pub(crate) source: Arc<str>,
    pub(crate) note: String,
    pub(crate) revisions: u32,
    pub(crate) last_recorded_at_micros: i64,
    pub(crate) rank: u32,
    /// The year before's figure on the same borders.
    pub(crate) previous: Option<f64>,
    /// Without one: the borders the year before has a figure on (a break in the series, not a
    /// change), latest first.
    pub(crate) previous_elsewhere: Vec<i32>,
    /// For a municipality: its region's figure on the same borders.
    pub(crate) region_value: Option<f64>,
}

impl RegionCell {
    /// The value less the national value, where a difference means something (not for
    /// a sum, which has [`RegionCell::national_share`] instead).
    pub(crate) fn national_difference(&self) -> Option<f64> {
        self.figures.difference(self.value)
    }

    /// The region's share of the country (%), for a sum of a quantity.
    pub(crate) fn national_share(&self) -> Option<f64> {
        self.figures.share(self.value)
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
    /// The borders the picture is on.
    pub(crate) borders: Option<i32>,
    /// For a municipality: the region it lies in on those borders.
    pub(crate) in_region: Option<String>,
    /// For a region: its municipalities on those borders (none known before the key).
    pub(crate) municipalities: Vec<String>,
    /// The indicators without a figure on these borders that have one on others: where.
    pub(crate) elsewhere: Vec<(String, Vec<i32>)>,
    /// In catalog order, reported cells only.
    pub(crate) cells: Vec<RegionCell>,
    pub(crate) themes: Vec<ThemeSummary>,
    /// Reported cells per defined indicator.
    pub(crate) coverage_ratio: f64,
    /// The peer groups the region is a member of (id order), whose figures each cell shows.
    pub(crate) groups: Vec<String>,
}

/// One year of an area's series.
#[derive(Clone, Debug)]
pub(crate) struct SeriesPoint {
    pub(crate) year: i32,
    pub(crate) value: f64,
    pub(crate) status: Status,
    pub(crate) origin: Origin,
    /// The borders the point is on (each year's own, or one division for all).
    pub(crate) borders: Option<i32>,
    /// The point before is on borders on which the area covers other land: a break in the
    /// series, not a change.
    pub(crate) break_before: bool,
    pub(crate) figures: Arc<IndicatorYear>,
    pub(crate) rank: u32,
    /// The source of a reported figure (none for a derived one).
    pub(crate) source: Option<Arc<str>>,
}

/// One indicator's figures and those of the indicators it is computed from, for every
/// compared area, each found once: the statistics ask for a figure's value and status
/// separately, area by area in order.
struct Fetched<'a> {
    areas: &'a [&'a str],
    /// The indicator first, then its components.
    ids: Vec<&'a str>,
    /// Per id, per area (in `areas` order): its figure.
    columns: Vec<Vec<Option<Figure>>>,
    /// The row of the last area asked for: the next ask is usually for it or a later one.
    cursor: std::cell::Cell<usize>,
}

impl<'a> Fetched<'a> {
    /// The figures of `ind` and its components in `year` on `on` after event `seq`.
    fn new(
        proj: &Projection,
        catalog: &Catalog,
        (year, on, seq): (i32, On, u64),
        areas: &'a [&'a str],
        ind: &'a Indicator,
    ) -> Fetched<'a> {
        let ids: Vec<&str> = std::iter::once(ind.id.as_str())
            .chain(super::components(&ind.aggregation))
            .collect();
        let columns = ids
            .iter()
            .map(|id| {
                let Some(def) = catalog.indicators.get(*id) else {
                    return vec![None; areas.len()];
                };
                areas
                    .iter()
                    .map(|a| proj.figure(catalog, a, def, year, on.1, seq))
                    .collect()
            })
            .collect();
        Fetched {
            areas,
            ids,
            columns,
            cursor: std::cell::Cell::new(0),
        }
    }

    fn cell(&self, area: &str, indicator: &str) -> Option<Figure> {
        let col = self.ids.iter().position(|i| *i == indicator)?;
        // Forward from the last row first: the statistics ask area by area in order, the
        // whole country's or a peer group's members (a subsequence) alike.
        let c = self.cursor.get().min(self.areas.len());
        let row = self.areas[c..]
            .iter()
            .position(|r| *r == area)
            .map(|i| c + i)
            .or_else(|| self.areas[..c].iter().position(|r| *r == area))?;
        self.cursor.set(row);
        self.columns[col][row]
    }
}

impl RegionValues for Fetched<'_> {
    fn value(&self, area: &str, indicator: &str) -> Option<f64> {
        self.cell(area, indicator).map(|f| f.value)
    }

    fn provisional(&self, area: &str, indicator: &str) -> bool {
        self.cell(area, indicator).is_some_and(|f| f.provisional)
    }
}

/// The figures municipalities reported on one division in one year, as the statistics read
/// them.
struct MunicipalValues<'a> {
    proj: &'a Projection,
    year: i32,
    borders: i32,
    seq: u64,
}

impl RegionValues for MunicipalValues<'_> {
    fn value(&self, area: &str, indicator: &str) -> Option<f64> {
        self.rev(area, indicator).map(|r| r.value)
    }

    fn provisional(&self, area: &str, indicator: &str) -> bool {
        self.rev(area, indicator)
            .is_some_and(|r| r.status() == Status::Provisional)
    }
}

impl MunicipalValues<'_> {
    fn rev(&self, area: &str, indicator: &str) -> Option<&Rev> {
        self.proj
            .current(area, indicator, self.year, Some(self.borders), self.seq)
    }
}

impl Projection {
    /// An area's figure of `ind` in `year` on borders `d` after event `seq` (see
    /// [`Origin`]): reported on `d` (or on borders that give the area the same land:
    /// `Catalog::land`); else, for an area other than the whole country and an indicator
    /// whose rule adds up, put together from municipal figures. Borders `None` (a catalog
    /// without divisions): the figure without borders.
    pub(crate) fn figure(
        &self,
        catalog: &Catalog,
        area: &str,
        ind: &Indicator,
        year: i32,
        d: Option<i32>,
        seq: u64,
    ) -> Option<Figure> {
        if let Some(rev) = self.current(area, &ind.id, year, d, seq) {
            return Some(Figure {
                value: rev.value,
                provisional: rev.status() == Status::Provisional,
                origin: Origin::Reported {
                    borders: d,
                    rev: *rev,
                },
            });
        }
        let d = d?;
        if area == NATIONAL_CODE {
            return None;
        }
        self.derived(catalog, area, ind, year, d, seq)
    }

    /// An area's figure on division `d` put together from municipal figures (see
    /// [`Origin::Derived`]): from those on `d` if there are any, else on the latest borders
    /// that have them. A region's, sub-region's or county's are its municipalities', when
    /// every municipality of those borders lies wholly in one such area of `d`; a
    /// municipality's are those of the earlier
    /// municipalities that merged into it (Mäntyharju of 2025 from Mäntyharju and Pertunmaa
    /// of 2021).
    fn derived(
        &self,
        catalog: &Catalog,
        area: &str,
        ind: &Indicator,
        year: i32,
        d: i32,
        seq: u64,
    ) -> Option<Figure> {
        if ind.aggregation == Aggregation::NationalOnly {
            return None;
        }
        // A ratio is computed from its components' municipal figures (the ratio itself is
        // rarely reported for municipalities): the borders its numerator has them on.
        let from = match &ind.aggregation {
            Aggregation::Ratio { numerator, .. } => numerator.as_str(),
            _ => ind.id.as_str(),
        };
        let number = self.indicator_numbers.get(from)?;
        let on = self.municipal_borders.get(&(number, year))?;
        let own = on.contains(&d).then_some(d);
        let level = Level::of(area);
        for m in own
            .into_iter()
            .chain(on.iter().rev().copied().filter(|m| *m != d))
        {
            let placed;
            let members: Vec<&str> = match level.grouping() {
                Some(grouping) => {
                    placed = catalog.placed_on(m, d, grouping);
                    if placed.is_empty() || placed.values().any(Option::is_none) {
                        continue;
                    }
                    placed
                        .iter()
                        .filter(|(_, r)| r.as_deref() == Some(area))
                        .map(|(x, _)| x.as_str())
                        .collect()
                }
                None if m < d => catalog
                    .municipalities_on(m)
                    .filter(|x| {
                        catalog
                            .successor(&x.code, d)
                            .is_some_and(|s| s.code == area)
                    })
                    .map(|x| x.code.as_str())
                    .collect(),
                None => continue,
            };
            if members.is_empty() {
                continue;
            }
            let values = MunicipalValues {
                proj: self,
                year,
                borders: m,
                seq,
            };
            let computed = stats::aggregate(&ind.id, &ind.aggregation, &members, &values);
            let expected = members.len() as u32;
            let whole = stats::national(&ind.aggregation, None, computed, expected);
            if let Some(value) = whole.value {
                return Some(Figure {
                    value,
                    provisional: computed.provisional,
                    origin: Origin::Derived {
                        from: m,
                        basis: whole.basis,
                        used: computed.regions,
                        expected,
                    },
                });
            }
        }
        None
    }

    /// The borders that give `area` other land than `d` on which it has a figure of `ind`
    /// in `year` reported after event `seq`, latest first (each land named by its latest
    /// division): where a figure exists when there is none on `d`.
    pub(crate) fn reported_elsewhere(
        &self,
        catalog: &Catalog,
        area: &str,
        ind: &str,
        year: i32,
        d: Option<i32>,
        seq: u64,
    ) -> Vec<i32> {
        let own = catalog.land(area, d);
        catalog
            .lands(area)
            .into_iter()
            .filter(|b| catalog.land(area, Some(*b)) != own)
            .filter(|b| self.current(area, ind, year, Some(*b), seq).is_some())
            .collect()
    }

    /// One indicator's figures for one year on `on` as of `seq`, under `catalog` (the
    /// catalog as of `seq`): the kept ones when they hold at `seq`, else computed (and kept,
    /// when they are the latest).
    pub(crate) fn indicator_year(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        year: i32,
        on: On,
        seq: u64,
    ) -> Arc<IndicatorYear> {
        let since = self.changed_at(&ind.id, year);
        let key = self.indicator_numbers.get(&ind.id).map(|n| (n, year));
        let keep = key.filter(|_| seq >= since && self.keeps(year, on.1));
        if let Some(k) = keep {
            if let Some((_, f)) = self
                .kept
                .lock()
                .figures
                .get(&k)
                .and_then(|v| v.iter().find(|(o, _)| *o == on))
            {
                return f.clone();
            }
        }
        let figures = Arc::new(self.compute_indicator_year(catalog, ind, year, on, seq, since));
        if let Some(k) = keep {
            let mut kept = self.kept.lock();
            let v = kept.figures.entry(k).or_default();
            if !v.iter().any(|(o, _)| *o == on) {
                v.push((on, figures.clone()));
            }
        }
        figures
    }

    fn compute_indicator_year(
        &self,
        catalog: &Catalog,
        ind: &Indicator,
        year: i32,
        on: On,
        seq: u64,
        since: u64,
    ) -> IndicatorYear {
        let areas: Vec<&str> = match on {
            (Level::Region, d) => catalog
                .regions_on(d, year)
                .map(|r| r.code.as_str())
                .collect(),
            (Level::Municipality, Some(d)) => catalog
                .municipalities_on(d)
                .map(|m| m.code.as_str())
                .collect(),
            (Level::SubRegion, Some(d)) => catalog
                .groups_on(Grouping::SubRegion, d)
                .into_keys()
                .collect(),
            (Level::County, Some(d)) => {
                catalog.groups_on(Grouping::County, d).into_keys().collect()
            }
            (_, None) => Vec::new(),
        };
        let fetched = Fetched::new(self, catalog, (year, on, seq), &areas, ind);
        let mut positions = Vec::with_capacity(areas.len());
        let mut values: Vec<(String, f64)> = Vec::new();
        let mut figures = Vec::new();
        for (a, cell) in areas.iter().zip(&fetched.columns[0]) {
            match cell {
                Some(c) => {
                    positions.push(Some(values.len() as u32));
                    values.push(((*a).to_owned(), c.value));
                    figures.push(*c);
                }
                None => positions.push(None),
            }
        }
        let nums: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        let official = self
            .figure(catalog, NATIONAL_CODE, ind, year, on.1, seq)
            .map(|f| (f.value, f.provisional));
        let computed = stats::aggregate(&ind.id, &ind.aggregation, &areas, &fetched);
        let group_defs = catalog.groups.values().filter(|_| on.0 == Level::Region);
        let groups = group_defs
            .map(|g| {
                let members: Vec<&str> = g.members.iter().map(String::as_str).collect();
                let computed = stats::aggregate(&ind.id, &ind.aggregation, &members, &fetched);
                // Members and areas are both in code order: one merge finds the members'
                // entries in `values`.
                let mut entries = Vec::with_capacity(members.len());
                let mut nums = Vec::with_capacity(members.len());
                let mut row = 0;
                for m in &members {
                    while row < areas.len() && areas[row] < *m {
                        row += 1;
                    }
                    if areas.get(row) == Some(m) {
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
            // Only figures that compare regions as they are (rates, shares, amounts per
            // head) make theme scores: a count mostly measures a region's size.
            z_scores: ind
                .compares_regions()
                .then(|| stats::oriented_z_scores(&nums, ind.direction))
                .flatten(),
            official: official.map(|(v, _)| v),
            national: stats::national(&ind.aggregation, official, computed, areas.len() as u32),
            indicator: ind.clone(),
            on,
            values,
            figures,
            positions,
            areas: areas.iter().map(|a| (*a).to_owned()).collect(),
            since,
            number: self.indicator_numbers.get(&ind.id),
        }
    }

    /// The picture of `year` on `on` after event `seq`: the kept one when it holds at `seq`.
    pub fn year_picture(&self, year: i32, on: On, seq: u64) -> Arc<YearPicture> {
        if let Some(yp) = self.kept_year_picture(year, on, seq) {
            return yp;
        }
        let catalog = self.catalog_at(seq);
        let indicators: Vec<Arc<IndicatorYear>> = catalog
            .indicators
            .values()
            .map(|ind| self.indicator_year(&catalog, ind, year, on, seq))
            .collect();
        let mut yp = YearPicture::from_indicators(year, on, catalog, indicators);
        // A catalog without indicators still changed at its last definition.
        yp.since = yp.since.max(self.catalog_changed_at);
        let yp = Arc::new(yp);
        // Kept only when every figure in it is the latest (each `since` is the indicator's
        // last change, so at or after all of them nothing has changed since).
        if seq >= yp.since && self.keeps(year, on.1) {
            let mut kept = self.kept.lock();
            let v = kept.years.entry(year).or_default();
            v.retain(|(o, _)| *o != on);
            v.push((on, yp.clone()));
        }
        yp
    }

    /// The kept picture of `year` on `on`, if there is one that holds at `seq`.
    fn kept_year_picture(&self, year: i32, on: On, seq: u64) -> Option<Arc<YearPicture>> {
        self.kept
            .lock()
            .years
            .get(&year)
            .and_then(|v| v.iter().find(|(o, _)| *o == on))
            .map(|(_, yp)| yp.clone())
            .filter(|yp| seq >= yp.since)
    }
}

/// A year's theme scores, gathered one indicator's figures at a time (so that the
/// `/metrics` render need not hold a whole year's pictures): each region's mean oriented
/// z-score over the theme's counted indicators, ranked.
#[derive(Default)]
pub(crate) struct ThemeScores {
    /// theme → region → z-scores of the theme's counted indicators, in the order added
    zs: BTreeMap<Theme, BTreeMap<String, Vec<f64>>>,
}

impl ThemeScores {
    /// Adds an indicator's figures (nothing if it does not count for theme scores).
    pub(crate) fn add(&mut self, iy: &IndicatorYear) {
        if let Some(z) = &iy.z_scores {
            let theme = self.zs.entry(iy.indicator.theme).or_default();
            for ((region, _), z) in iy.values.iter().zip(z) {
                match theme.get_mut(region) {
                    Some(v) => v.push(*z),
                    None => {
                        theme.insert(region.clone(), vec![*z]);
                    }
                }
            }
        }
    }

    /// Every theme's scores, best first (ties share the best rank, then by code).
    pub(crate) fn ranked(mut self) -> BTreeMap<Theme, Vec<Score>> {
        let mut theme_scores = BTreeMap::new();
        for theme in Theme::ALL {
            let zs = self.zs.remove(&theme).unwrap_or_default();
            let scored: Vec<(String, f64, u32)> = zs
                .into_iter()
                .filter_map(|(r, z)| stats::mean(&z).map(|m| (r, m, z.len() as u32)))
                .collect();
            let scores: Vec<f64> = scored.iter().map(|(_, s, _)| *s).collect();
            let ranks = stats::ranks_by_direction(&scores, Direction::HigherIsBetter);
            let mut ranked: Vec<Score> = scored
                .into_iter()
                .zip(ranks)
                .map(|((region, score, indicators), rank)| Score {
                    region,
                    score,
                    rank,
                    indicators,
                })
                .collect();
            ranked.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.region.cmp(&b.region)));
            theme_scores.insert(theme, ranked);
        }
        theme_scores
    }
}

impl YearPicture {
    /// The year's picture from its indicators' figures (in catalog order): the theme
    /// scores and ranks follow from them alone, with no projection needed.
    pub(crate) fn from_indicators(
        year: i32,
        on: On,
        catalog: Arc<Catalog>,
        indicators: Vec<Arc<IndicatorYear>>,
    ) -> YearPicture {
        let mut scores = ThemeScores::default();
        for iy in &indicators {
            scores.add(iy);
        }
        let theme_scores = scores.ranked();
        let since = indicators.iter().map(|iy| iy.since).max().unwrap_or(0);
        YearPicture {
            year,
            on,
            catalog,
            indicators,
            theme_scores,
            since,
        }
    }
}

impl Projection {
    /// An area's picture of `year` on borders `d` after event `seq`: the kept one when it
    /// holds at `seq`. `area` must be a resolved code.
    pub fn region_picture(
        &self,
        area: &str,
        year: i32,
        d: Option<i32>,
        seq: u64,
    ) -> Arc<RegionPicture> {
        let keep = seq >= self.region_picture_since(year) && self.keeps(year, d);
        let key = (area.to_owned(), d);
        if keep {
            if let Some(p) = self
                .kept
                .lock()
                .regions
                .get(&year)
                .and_then(|m| m.get(&key))
            {
                return p.clone();
            }
        }
        let picture = Arc::new(self.compute_region_picture(area, year, d, seq));
        if keep {
            self.kept
                .lock()
                .regions
                .entry(year)
                .or_default()
                .insert(key, picture.clone());
        }
        picture
    }

    fn compute_region_picture(
        &self,
        area: &str,
        year: i32,
        d: Option<i32>,
        seq: u64,
    ) -> RegionPicture {
        let level = Level::of(area);
        let yp = self.year_picture(year, (level, d), seq);
        let catalog = &yp.catalog;
        let in_region = match (level, d) {
            (Level::Municipality, _) => catalog
                .municipalities
                .get(area)
                .and_then(|m| m.region(d.unwrap_or(year)))
                .map(str::to_owned),
            // A sub-region or county lies in a region when all its municipalities do.
            (Level::SubRegion | Level::County, Some(d)) => {
                let grouping = level.grouping().expect("a grouping level");
                let regions: std::collections::BTreeSet<&str> = catalog
                    .members_on(area, grouping, d)
                    .into_iter()
                    .filter_map(|m| catalog.municipalities[m].region(d))
                    .collect();
                match regions.len() {
                    1 => regions.first().map(|r| (*r).to_owned()),
                    _ => None,
                }
            }
            _ => None,
        };

        // The region's figures on the same borders: from the regions' picture, computed once
        // and kept for every area of the year when this picture is the latest (or kept
        // already); for an older as-of read each computed alone, not every region's.
        let regions_on = (Level::Region, d);
        let regional = in_region.as_ref().and_then(|_| {
            if seq >= self.region_picture_since(year) && self.keeps(year, d) {
                Some(self.year_picture(year, regions_on, seq))
            } else {
                self.kept_year_picture(year, regions_on, seq)
            }
        });
        let mut cells = Vec::new();
        let mut elsewhere = Vec::new();
        let mut reported: BTreeMap<Theme, u32> = BTreeMap::new();
        for (n, iy) in yp.indicators.iter().enumerate() {
            let ind = &iy.indicator;
            let Some((figure, rank)) = iy.figure_of(area) else {
                let other = self.reported_elsewhere(catalog, area, &ind.id, year, d, seq);
                if !other.is_empty() {
                    elsewhere.push((ind.id.clone(), other));
                }
                continue;
            };
            *reported.entry(ind.theme).or_default() += 1;
            let previous = self.figure(catalog, area, ind, year - 1, d, seq);
            let previous_elsewhere = match previous {
                Some(_) => Vec::new(),
                None => self.reported_elsewhere(catalog, area, &ind.id, year - 1, d, seq),
            };
            let region_value = in_region.as_deref().and_then(|r| match &regional {
                Some(rp) => rp.indicators[n].figure_of(r).map(|(f, _)| f.value),
                None => self.figure(catalog, r, ind, year, d, seq).map(|f| f.value),
            });
            let (source, note, revisions, last) = match &figure.origin {
                Origin::Reported { borders, rev } => (
                    self.source(rev).clone(),
                    self.note(rev).to_owned(),
                    self.revisions_at(area, &ind.id, year, *borders, seq).len() as u32,
                    rev.recorded_at_micros,
                ),
                Origin::Derived {
                    from,
                    used,
                    expected,
                    ..
                } => (
                    Arc::from(format!(
                        "derived: {} of {used} of its {expected} municipalities on the borders \
                         of {from}",
                        derived_rule(&ind.aggregation)
                    )),
                    String::new(),
                    0,
                    0,
                ),
            };
            cells.push(RegionCell {
                figures: iy.clone(),
                origin: figure.origin,
                value: figure.value,
                status: figure.status(),
                source,
                note,
                revisions,
                last_recorded_at_micros: last,
                rank,
                previous: previous.map(|p| p.value),
                previous_elsewhere,
                region_value,
            });
        }
        let themes = Theme::ALL
            .iter()
            .map(|t| {
                let entry = yp.theme_scores[t].iter().find(|s| s.region == area);
                ThemeSummary {
                    theme: *t,
                    score: entry.map_or(0.0, |e| e.score),
                    rank: entry.map_or(0, |e| e.rank),
                    indicators_scored: entry.map_or(0, |e| e.indicators),
                    indicators_reported: reported.get(t).copied().unwrap_or(0),
                    indicators_defined: catalog
                        .indicators
                        .values()
                        .filter(|i| i.theme == *t)
                        .count() as u32,
                    scored: entry.is_some(),
                }
            })
            .collect();
        let defined = catalog.indicators.len();
        let municipalities = match (level.grouping(), d) {
            (Some(grouping), Some(d)) => catalog
                .members_on(area, grouping, d)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        RegionPicture {
            region: area.into(),
            year,
            borders: d,
            in_region,
            municipalities,
            elsewhere,
            groups: catalog.groups_of(area).map(|g| g.id.clone()).collect(),
            coverage_ratio: if defined == 0 {
                0.0
            } else {
                cells.len() as f64 / defined as f64
            },
            cells,
            themes,
        }
    }

    /// An area's series of one indicator over `from..=to` after event `seq`, each year on the
    /// borders `borders(year)` gives.
    pub(crate) fn series(
        &self,
        area: &str,
        ind: &Indicator,
        (from, to): (i32, i32),
        borders: impl Fn(i32) -> Option<i32>,
        seq: u64,
    ) -> Vec<SeriesPoint> {
        let catalog = self.catalog_at(seq);
        let level = Level::of(area);
        let mut before: Option<Option<i32>> = None;
        (from..=to)
            .filter_map(|year| {
                let d = borders(year);
                let figure = self.figure(&catalog, area, ind, year, d, seq)?;
                let figures = self.indicator_year(&catalog, ind, year, (level, d), seq);
                let rank = figures.figure_of(area).map_or(0, |(_, r)| r);
                // A break: the area's land differs from the previous point's.
                let break_before =
                    before.is_some_and(|b| catalog.land(area, b) != catalog.land(area, d));
                before = Some(d);
                let source = figure.rev().map(|r| self.source(r).clone());
                Some(SeriesPoint {
                    year,
                    value: figure.value,
                    status: figure.status(),
                    origin: figure.origin,
                    borders: d,
                    break_before,
                    rank,
                    figures,
                    source,
                })
            })
            .collect()
    }
}

impl Projection {
    /// Whether `area` has a figure of `ind` in `year` after event `seq` on any borders (or
    /// none): what a reporting round counts as reported.
    fn reported_anywhere(&self, area: &str, ind: &str, year: i32, seq: u64) -> bool {
        let catalog = self.catalog_at(seq);
        std::iter::once(None)
            .chain(catalog.lands(area).into_iter().map(Some))
            .any(|b| self.current(area, ind, year, b, seq).is_some())
    }
}

/// How a derived figure was put together, in words.
fn derived_rule(rule: &Aggregation) -> &'static str {
    match rule {
        Aggregation::Sum => "the sum",
        Aggregation::Ratio { .. } => "the ratio of the sums",
        Aggregation::WeightedMean { .. } => "the weighted mean",
        Aggregation::NationalOnly => "none",
    }
}

impl Projection {
    /// Peer group `id`'s picture of `year` on borders `d` after event `seq`; `None` when the
    /// group is not defined at `seq`.
    pub(crate) fn group_picture(
        &self,
        id: &str,
        year: i32,
        d: Option<i32>,
        seq: u64,
    ) -> Option<GroupPicture> {
        let yp = self.year_picture(year, (Level::Region, d), seq);
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
                        let current = iy.figure_of(m).map(|(f, _)| *f);
                        let reported = current.as_ref().and_then(Figure::rev);
                        let revisions = match current.map(|f| f.origin) {
                            Some(Origin::Reported { borders, .. }) => self
                                .revisions_at(m, &iy.indicator.id, year, borders, seq)
                                .len(),
                            _ => 0,
                        };
                        GroupMember {
                            region: m.clone(),
                            value: current.map(|f| f.value),
                            status: current.map(|f| f.status()),
                            source: reported.map(|r| self.source(r).clone()),
                            revisions: revisions as u32,
                            sequence: reported.map_or(0, Rev::sequence),
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
            borders: d,
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
                    .partition(|i| self.reported_anywhere(region, i, year, seq));
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
