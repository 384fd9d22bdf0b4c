//! The long CSV layout (`layout=long`): one row per figure, with the same columns in the same
//! order from every endpoint, whatever the area, its groups or the year — so answers stack
//! (`pandas.concat`, `rbind`, pasting one sheet under another) without renaming anything.
//!
//! A row names its area and indicator by code and by name (in `lang`), carries the unit, the
//! borders and the year, the figure with its status, what it rests on and where it comes from
//! (source, the event that recorded it), and how it compares with the country. What only one
//! endpoint has (a group's ranks, min / median / max, a cell's notes and reasons) stays in the
//! wide layout.

use std::sync::Arc;

use crate::domain::stats::National;
use crate::domain::{Indicator, Status, NATIONAL_CODE};
use crate::projection::{GroupMember, GroupPicture, IndicatorYear, Origin, RegionPicture};
use crate::read::{History, Series};

use super::labels::Labels;
use super::render::Revision;
use super::table::{self, num, text, Dialect, Field};

/// The columns, the same for every endpoint.
pub(super) const COLUMNS: [&str; 20] = [
    "area",
    "area_name",
    "area_kind",
    "indicator",
    "indicator_name",
    "unit",
    "year",
    "borders",
    "value",
    "status",
    "basis",
    "source",
    "sequence",
    "recorded_at",
    "national_value",
    "national_share",
    "national_difference",
    "rank",
    "regions_ranked",
    "as_of_sequence",
];

/// One figure of an answer.
pub(super) struct Row<'a> {
    area: &'a str,
    /// The area is a peer group (its kind `group`); else its code says its kind
    /// ([`Labels::area_kind`]).
    peer_group: bool,
    indicator: &'a str,
    unit: &'a str,
    year: i32,
    /// The division the figure is on.
    borders: Option<i32>,
    value: Option<f64>,
    status: &'static str,
    /// `reported` or `derived` for an area's figure; for a national or group value what it
    /// rests on (`official`, `complete`, `partial`, `unavailable`).
    basis: &'static str,
    source: &'a str,
    /// The event that recorded the figure, and when (none for a computed one).
    sequence: Option<u64>,
    recorded_at: Option<i64>,
    versus: Versus,
    rank: Option<u32>,
    regions_ranked: Option<u32>,
}

/// How a figure compares with the country: the one rule of both layouts and JSON-stat.
#[derive(Default)]
pub(super) struct Versus {
    pub(super) national_value: Option<f64>,
    pub(super) national_share: Option<f64>,
    pub(super) national_difference: Option<f64>,
}

impl Versus {
    /// `value` of indicator-year `iy` beside the national value: the share of the country
    /// for a sum of a quantity ([`IndicatorYear::share`]), the difference for a rate, a
    /// share or a mean ([`IndicatorYear::difference`]); a sum has no difference.
    pub(super) fn of(iy: &IndicatorYear, value: Option<f64>) -> Versus {
        Versus {
            national_value: iy.national(),
            national_share: value.and_then(|v| iy.share(v)),
            national_difference: value.and_then(|v| iy.difference(v)),
        }
    }
}

impl<'a> Row<'a> {
    /// An area's figure of `ind` in `year`, with nothing to compare yet.
    fn of(area: &'a str, ind: &'a Indicator, year: i32) -> Row<'a> {
        Row {
            area,
            peer_group: false,
            indicator: &ind.id,
            unit: &ind.unit,
            year,
            borders: None,
            value: None,
            status: "",
            basis: "",
            source: "",
            sequence: None,
            recorded_at: None,
            versus: Versus::default(),
            rank: None,
            regions_ranked: None,
        }
    }

    /// The figures of `iy` for `area` (its national comparison, rank and regions ranked).
    fn compared(mut self, iy: &'a IndicatorYear, rank: u32) -> Row<'a> {
        self.versus = Versus::of(iy, self.value);
        self.rank = (rank > 0).then_some(rank);
        self.regions_ranked = Some(iy.regions_ranked());
        self
    }

    /// A figure that was reported (`rev` its revision) or derived.
    fn figure(mut self, value: f64, status: Status, origin: &Origin) -> Row<'a> {
        self.value = Some(value);
        self.status = status.as_str();
        self.borders = origin.borders();
        self.basis = if origin.derived().is_some() {
            "derived"
        } else {
            "reported"
        };
        if let Some(rev) = origin.rev() {
            self.sequence = Some(rev.sequence());
            self.recorded_at = Some(rev.recorded_at_micros);
        }
        self
    }

    /// A national or group value, on the picture's borders.
    fn computed(mut self, n: &National, borders: Option<i32>) -> Row<'a> {
        self.value = n.value;
        self.status = match (n.value, n.provisional) {
            (None, _) => "",
            (Some(_), true) => Status::Provisional.as_str(),
            (Some(_), false) => Status::Final.as_str(),
        };
        // A partial value over fewer than half its areas says so (`stats::THIN_BASIS_SHARE`).
        self.basis = if n.thin() {
            "partial, thin"
        } else {
            n.basis.as_str()
        };
        self.borders = borders;
        self
    }
}

/// The table of `rows` as of `as_of_sequence`, names in the labels' language.
pub(super) fn write(
    rows: &[Row],
    labels: &Labels,
    as_of_sequence: u64,
    dialect: Dialect,
) -> String {
    let ts = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let fields: Vec<Vec<Field>> = rows
        .iter()
        .map(|r| {
            let (name, kind) = if r.peer_group {
                (labels.group(r.area), "group")
            } else {
                (labels.area(r.area), Labels::area_kind(r.area))
            };
            vec![
                r.area.into(),
                name.into(),
                kind.into(),
                r.indicator.into(),
                labels.indicator(r.indicator).into(),
                r.unit.into(),
                r.year.into(),
                text(r.borders),
                num(r.value),
                r.status.into(),
                r.basis.into(),
                r.source.into(),
                text(r.sequence),
                text(r.recorded_at.and_then(ts)),
                num(r.versus.national_value),
                num(r.versus.national_share),
                num(r.versus.national_difference),
                text(r.rank),
                text(r.regions_ranked),
                as_of_sequence.into(),
            ]
        })
        .collect();
    table::write(&COLUMNS, &fields, dialect)
}

/// A region's (or another area's) picture: a row per reported figure.
pub(super) fn region_picture(r: &RegionPicture) -> Vec<Row<'_>> {
    r.cells
        .iter()
        .map(|c| {
            let iy = &c.figures;
            let row =
                Row::of(&r.region, &iy.indicator, r.year).figure(c.value, c.status, &c.origin);
            Row {
                source: &c.source,
                ..row
            }
            .compared(iy, c.rank)
        })
        .collect()
}

/// The national picture: a row per indicator shown (those with a national figure), for the
/// whole country.
pub(super) fn national_picture<'a>(
    shown: &[&'a Arc<IndicatorYear>],
    year: i32,
    borders: Option<i32>,
) -> Vec<Row<'a>> {
    shown
        .iter()
        .map(|iy| national_row(iy, year, borders))
        .collect()
}

/// The whole country's figure of `iy`: the national value is its own value; it has no share
/// of itself, no difference from itself and no rank.
fn national_row(iy: &IndicatorYear, year: i32, borders: Option<i32>) -> Row<'_> {
    let mut row = Row::of(NATIONAL_CODE, &iy.indicator, year).computed(&iy.national, borders);
    row.versus.national_value = iy.national();
    row.regions_ranked = Some(iy.regions_ranked());
    row
}

/// A peer group's picture: per indicator shown (those with a member figure), a row per
/// member (also one that did not report: its value is empty), the group's value and the
/// national value.
pub(super) fn group_picture<'a>(
    r: &'a GroupPicture,
    shown: &[&'a (Arc<IndicatorYear>, Vec<GroupMember>)],
) -> Vec<Row<'a>> {
    let g = &r.group;
    let mut rows = Vec::new();
    for (iy, members) in shown.iter().copied() {
        let ind = &iy.indicator;
        for m in members {
            let row = Row::of(&m.region, ind, r.year);
            // The member's figure and its rank among all regions (not within the group: a
            // rank means the same in every answer).
            let row = match iy.figure_of(&m.region) {
                Some((f, rank)) => Row {
                    source: m.source.as_deref().unwrap_or_default(),
                    ..row.figure(f.value, f.status(), &f.origin)
                }
                .compared(iy, rank),
                None => row.compared(iy, 0),
            };
            rows.push(row);
        }
        if let Some(figures) = iy.group(&g.id) {
            let row = Row {
                peer_group: true,
                ..Row::of(&g.id, ind, r.year).computed(&figures.value, r.borders)
            };
            rows.push(row.compared(iy, 0));
        }
        rows.push(national_row(iy, r.year, r.borders));
    }
    rows
}

/// A region's series: a row per year with a figure.
pub(super) fn series(s: &Series) -> Vec<Row<'_>> {
    s.points
        .iter()
        .map(|pt| {
            let row =
                Row::of(&s.region, &s.indicator, pt.year).figure(pt.value, pt.status, &pt.origin);
            Row {
                source: pt.source.as_deref().unwrap_or_default(),
                ..row
            }
            .compared(&pt.figures, pt.rank)
        })
        .collect()
}

/// A cell's history: a row per revision (a retraction has no value and status `retracted`).
/// It compares nothing: the revisions are of one figure.
pub(super) fn history<'a>(
    h: &'a History,
    revisions: &'a [Revision],
    unit: &'a str,
) -> Vec<Row<'a>> {
    revisions
        .iter()
        .map(|v| Row {
            area: &h.region,
            peer_group: false,
            indicator: &h.indicator,
            unit,
            year: h.year,
            borders: v.e.cell().and_then(|(_, _, b)| b),
            value: v.value.map(|(x, _)| x),
            status: match v.value {
                Some((_, s)) => s.as_str(),
                None => "retracted",
            },
            basis: "reported",
            source: v.source,
            sequence: Some(v.e.sequence),
            recorded_at: Some(v.e.recorded_at_micros),
            versus: Versus::default(),
            rank: None,
            regions_ranked: None,
        })
        .collect()
}
