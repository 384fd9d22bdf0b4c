//! The open-data shapes of the gRPC answers: JSON-stat 2.0 datasets, and CSV tables in the
//! wide layout of each endpoint or the long one shared by all (`long`).
//!
//! Numbers are written in full (the shortest text that reads back as the same double),
//! never rounded to the catalog's decimals: an evaluator recomputes from them. An absent
//! figure is `null` in JSON-stat and an empty field in CSV.
//!
//! A JSON-stat dataset keeps what the whole answer is of — its area, year, borders and
//! as-of point — as dimensions of one category (as the JSON-stat 2.0 samples do, `"size":
//! [1, 36, 12]`), so that a table made of it (pyjstat, rjstat) still says which region,
//! year and state it is of, and tables of two answers stack.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::labels::{Labels, Lang};
use super::long::{self, Versus};
use super::table::{self, num, text, Field};
use super::{Layout, Shape};
use crate::domain::stats::{Basis, National};
use crate::domain::{Event, Payload, Status};
use crate::projection::{GroupPicture, RegionPicture, YearPicture};
use crate::read::{Answer, History, Series};

/// One dimension of a dataset: its id, label and categories (id, label).
pub(super) struct Dim {
    id: &'static str,
    label: String,
    pub(super) categories: Vec<(String, String)>,
    /// Units of the categories (for the metric dimension): id → (unit, decimals).
    pub(super) units: BTreeMap<String, (String, u32)>,
}

impl Dim {
    pub(super) fn new(id: &'static str, label: &str, categories: Vec<(String, String)>) -> Dim {
        Dim {
            id,
            label: label.to_owned(),
            categories,
            units: BTreeMap::new(),
        }
    }

    /// A dimension of one category: what the whole answer is of.
    pub(super) fn one(id: &'static str, label: &str, code: String, name: String) -> Dim {
        Dim::new(id, label, vec![(code, name)])
    }

    /// The `indicator` dimension of (id, unit, decimals): names and units.
    pub(super) fn indicators<'a>(
        labels: &Labels,
        items: impl Iterator<Item = (&'a str, &'a str, u32)>,
    ) -> Dim {
        let mut dim = Dim::new("indicator", "indicator", Vec::new());
        for (id, unit, decimals) in items {
            dim.categories.push((id.to_owned(), labels.indicator(id)));
            dim.units.insert(id.to_owned(), (unit.to_owned(), decimals));
        }
        dim
    }

    /// The one area an answer is of.
    pub(super) fn area(labels: &Labels, code: &str) -> Dim {
        Dim::one("area", "area", code.to_owned(), labels.area(code))
    }

    /// The one year an answer is of.
    pub(super) fn year(year: i32) -> Dim {
        Dim::one("year", "year", year.to_string(), year.to_string())
    }

    /// The borders an answer is on: a division's year (`none` for a catalog without
    /// divisions).
    pub(super) fn borders(borders: Option<i32>) -> Dim {
        let (code, name) = match borders {
            Some(y) => (
                y.to_string(),
                format!("borders in force from 1 January {y}"),
            ),
            None => ("none".to_owned(), "no division known".to_owned()),
        };
        Dim::one("borders", "borders", code, name)
    }

    /// The state an answer holds at: the sequence of the last event it includes.
    pub(super) fn as_of<T>(a: &Answer<T>, labels: &Labels) -> Dim {
        let seq = a.as_of_sequence;
        let name = format!("event sequence {seq}, recorded {}", labels.updated);
        Dim::one("as_of", "as of", seq.to_string(), name)
    }

    fn json(&self) -> Value {
        let index: serde_json::Map<String, Value> = self
            .categories
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), json!(i)))
            .collect();
        let label: serde_json::Map<String, Value> = self
            .categories
            .iter()
            .map(|(id, l)| (id.clone(), json!(l)))
            .collect();
        let mut category = json!({"index": index, "label": label});
        if !self.units.is_empty() {
            let unit: serde_json::Map<String, Value> = self
                .units
                .iter()
                .map(|(id, (u, d))| (id.clone(), json!({"label": u, "decimals": d})))
                .collect();
            category["unit"] = Value::Object(unit);
        }
        json!({"label": self.label, "category": category})
    }
}

/// A JSON-stat 2.0 dataset of `dims` (row-major `values`, one per combination).
fn dataset(
    label: String,
    labels: &Labels,
    dims: &[Dim],
    values: &[Option<f64>],
    status: BTreeMap<usize, &'static str>,
    extension: Value,
) -> String {
    let out = cube(label, labels, dims, values, status, extension);
    format!("{out}\n")
}

/// [`dataset`] as a JSON value, for an answer that adds to it.
pub(super) fn cube(
    label: String,
    labels: &Labels,
    dims: &[Dim],
    values: &[Option<f64>],
    status: BTreeMap<usize, &'static str>,
    extension: Value,
) -> Value {
    debug_assert_eq!(
        values.len(),
        dims.iter().map(|d| d.categories.len()).product::<usize>()
    );
    let mut dimension = serde_json::Map::new();
    for d in dims {
        dimension.insert(d.id.to_owned(), d.json());
    }
    let mut out = json!({
        "version": "2.0",
        "class": "dataset",
        "label": label,
        "source": "tilannekuva: figures as the regional councils and the national statistics \
                   authority reported them (each value's source is in the CSV form)",
        "updated": labels.updated,
        "id": dims.iter().map(|d| d.id).collect::<Vec<_>>(),
        "size": dims.iter().map(|d| d.categories.len()).collect::<Vec<_>>(),
        "dimension": dimension,
        "value": values.iter().map(|v| v.filter(|x| x.is_finite())).collect::<Vec<_>>(),
        "extension": extension,
    });
    if !status.is_empty() {
        let s: serde_json::Map<String, Value> = status
            .into_iter()
            .map(|(i, v)| (i.to_string(), json!(v)))
            .collect();
        out["status"] = Value::Object(s);
        out["note"] = json!(["status p: provisional value"]);
    }
    // The indicator is the metric dimension (its categories carry the units), the area the
    // geographic one and the year the time one.
    let role = |pick: &dyn Fn(&Dim) -> bool| -> Vec<&str> {
        dims.iter().filter(|d| pick(d)).map(|d| d.id).collect()
    };
    let mut roles = serde_json::Map::new();
    for (name, ids) in [
        ("metric", role(&|d| !d.units.is_empty())),
        ("geo", role(&|d| d.id == "area")),
        ("time", role(&|d| d.id == "year")),
    ] {
        if !ids.is_empty() {
            roles.insert(name.to_owned(), json!(ids));
        }
    }
    if !roles.is_empty() {
        out["role"] = Value::Object(roles);
    }
    out
}

/// A rank as a figure: 0 (not ranked) is no figure.
fn rank(r: u32) -> Option<f64> {
    (r > 0).then_some(f64::from(r))
}

/// A status's name, as the domain names it ("" for none).
fn status_name(s: Option<Status>) -> &'static str {
    s.map_or("", Status::as_str)
}

/// What a national or group value rests on ("unavailable" for none).
fn basis_name(n: Option<&National>) -> &'static str {
    n.map_or(Basis::Unavailable, |n| n.basis).as_str()
}

/// A national or group value that is provisional.
fn provisional(n: &National) -> bool {
    n.value.is_some() && n.provisional
}

pub(super) fn ts(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Measure categories: id and its label (the id in words).
pub(super) fn measures(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|m| ((*m).to_owned(), m.replace('_', " ")))
        .collect()
}

/// Division years as one CSV field ("2020 2019"; empty for none).
fn years(ys: &[i32]) -> String {
    ys.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
}

pub(super) fn region_picture(a: &Answer<Arc<RegionPicture>>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    // The groups of the region as of the answer's sequence.
    let groups = &r.groups;
    match shape {
        Shape::Csv(Layout::Long, dialect) => {
            long::write(&long::region_picture(r), &labels, a.as_of_sequence, dialect)
        }
        Shape::Csv(Layout::Wide, dialect) => {
            let mut header: Vec<String> = [
                "region",
                "year",
                "indicator",
                "theme",
                "unit",
                "value",
                "status",
                "source",
                "revisions",
                "national_value",
                "national_basis",
                "rank",
                "regions_ranked",
                "previous_value",
                "borders",
                "derived",
                "previous_borders",
                // Added after the columns above, so that a reader by position still reads them.
                "region_name",
                "indicator_name",
                "national_share",
            ]
            .map(str::to_owned)
            .to_vec();
            for g in groups {
                for m in ["value", "basis", "rank", "regions_ranked"] {
                    header.push(format!("group_{g}_{m}"));
                }
            }
            let region_name = labels.area(&r.region);
            let rows: Vec<Vec<Field>> = r
                .cells
                .iter()
                .map(|c| {
                    let iy = &c.figures;
                    let ind = &iy.indicator;
                    let mut row: Vec<Field> = vec![
                        r.region.as_str().into(),
                        r.year.into(),
                        ind.id.as_str().into(),
                        ind.theme.as_str().into(),
                        ind.unit.as_str().into(),
                        num(Some(c.value)),
                        c.status.as_str().into(),
                        c.source.to_string().into(),
                        c.revisions.into(),
                        num(iy.national()),
                        basis_name(Some(&iy.national)).into(),
                        num(rank(c.rank)),
                        iy.regions_ranked().into(),
                        num(c.previous),
                        text(c.origin.borders()),
                        text(
                            c.origin
                                .derived()
                                .map(|(used, expected)| format!("{used}/{expected}")),
                        ),
                        years(&c.previous_elsewhere).into(),
                        region_name.as_str().into(),
                        labels.indicator(&ind.id).into(),
                        num(Versus::of(iy, Some(c.value)).national_share),
                    ];
                    for g in groups {
                        match iy.group(g) {
                            Some(x) => row.extend([
                                num(x.value.value),
                                basis_name(Some(&x.value)).into(),
                                num(rank(iy.group_rank(x, &r.region).unwrap_or(0))),
                                x.regions_ranked().into(),
                            ]),
                            None => row.extend([num(None), "".into(), num(None), "".into()]),
                        }
                    }
                    row
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            // Group measures are `GROUP:value` etc.: a group id has no `:`, so they never
            // meet the plain ones or each other.
            let mut measure_labels = measures(&[
                "value",
                "national_value",
                "national_difference",
                "national_share",
                "rank",
                "regions_ranked",
                "previous_value",
                "change",
            ]);
            for g in groups {
                for m in ["value", "rank", "regions_ranked"] {
                    measure_labels.push((
                        format!("{g}:{m}"),
                        format!("{} ({g}): {}", labels.group(g), m.replace('_', " ")),
                    ));
                }
            }
            let mut values = Vec::new();
            let mut status = BTreeMap::new();
            for c in &r.cells {
                let iy = &c.figures;
                if c.status == Status::Provisional {
                    status.insert(values.len(), "p");
                }
                let versus = Versus::of(iy, Some(c.value));
                values.extend([
                    Some(c.value),
                    versus.national_value,
                    versus.national_difference,
                    versus.national_share,
                    rank(c.rank),
                    Some(f64::from(iy.regions_ranked())),
                    c.previous,
                    c.change(),
                ]);
                for g in groups {
                    let x = iy.group(g);
                    values.extend([
                        x.and_then(|x| x.value.value),
                        x.and_then(|x| rank(iy.group_rank(x, &r.region).unwrap_or(0))),
                        x.map(|x| f64::from(x.regions_ranked())),
                    ]);
                }
            }
            let indicator = Dim::indicators(
                &labels,
                r.cells.iter().map(|c| {
                    let ind = &c.figures.indicator;
                    (ind.id.as_str(), ind.unit.as_str(), ind.decimals)
                }),
            );
            let dims = [
                Dim::area(&labels, &r.region),
                Dim::year(r.year),
                indicator,
                Dim::new("measure", "measure", measure_labels),
                Dim::borders(r.borders),
                Dim::as_of(a, &labels),
            ];
            let title = format!("{} {}: regional picture", labels.area(&r.region), r.year);
            let sources: serde_json::Map<String, Value> = r
                .cells
                .iter()
                .map(|c| (c.figures.indicator.id.clone(), json!(&*c.source)))
                .collect();
            // Where each figure is: its borders, whether derived, and a break before it.
            let borders: serde_json::Map<String, Value> = r
                .cells
                .iter()
                .map(|c| {
                    let on = json!({"borders": c.origin.borders(),
                        "derived": c.origin.derived().map(|(u, e)| json!({"used": u, "expected": e})),
                        "previous_borders": c.previous_elsewhere});
                    (c.figures.indicator.id.clone(), on)
                })
                .collect();
            let elsewhere: serde_json::Map<String, Value> = r
                .elsewhere
                .iter()
                .map(|(id, on)| (id.clone(), json!(on)))
                .collect();
            let extension = json!({"as_of_sequence": a.as_of_sequence, "region": r.region,
                "year": r.year, "borders": r.borders, "groups": groups,
                "coverage_ratio": r.coverage_ratio, "sources": sources,
                "cell_borders": borders, "elsewhere": elsewhere});
            dataset(title, &labels, &dims, &values, status, extension)
        }
    }
}

pub(super) fn national_picture(a: &Answer<Arc<YearPicture>>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    let expected = r.regions_expected();
    let shown: Vec<_> = r
        .indicators
        .iter()
        .filter(|i| !i.values.is_empty() || i.official.is_some())
        .collect();
    match shape {
        Shape::Csv(Layout::Long, dialect) => {
            let rows = long::national_picture(&shown, r.year, r.on.1);
            long::write(&rows, &labels, a.as_of_sequence, dialect)
        }
        Shape::Csv(Layout::Wide, dialect) => {
            let header = [
                "year",
                "indicator",
                "theme",
                "unit",
                "value",
                "basis",
                "official",
                "computed_value",
                "regions_reported",
                "regions_expected",
                "min",
                "median",
                "max",
                "best_region",
                "worst_region",
                "indicator_name",
            ];
            let rows: Vec<Vec<Field>> = shown
                .iter()
                .map(|i| {
                    let ind = &i.indicator;
                    let (min, median, max) = i.spread();
                    vec![
                        r.year.into(),
                        ind.id.as_str().into(),
                        ind.theme.as_str().into(),
                        ind.unit.as_str().into(),
                        num(i.national()),
                        basis_name(Some(&i.national)).into(),
                        i.official.is_some().to_string().into(),
                        num(i.national.computed),
                        i.values.len().into(),
                        expected.into(),
                        num(min),
                        num(median),
                        num(max),
                        i.by_rank(true).unwrap_or_default().into(),
                        i.by_rank(false).unwrap_or_default().into(),
                        labels.indicator(&ind.id).into(),
                    ]
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let ids = [
                "value",
                "computed_value",
                "regions_reported",
                "regions_expected",
                "min",
                "median",
                "max",
            ];
            let mut values = Vec::new();
            let mut status = BTreeMap::new();
            for i in &shown {
                if provisional(&i.national) {
                    status.insert(values.len(), "p");
                }
                let (min, median, max) = i.spread();
                values.extend([
                    i.national(),
                    i.national.computed,
                    Some(i.values.len() as f64),
                    Some(f64::from(expected)),
                    min,
                    median,
                    max,
                ]);
            }
            let indicator = Dim::indicators(
                &labels,
                shown.iter().map(|i| {
                    let ind = &i.indicator;
                    (ind.id.as_str(), ind.unit.as_str(), ind.decimals)
                }),
            );
            let dims = [
                Dim::area(&labels, crate::domain::NATIONAL_CODE),
                Dim::year(r.year),
                indicator,
                Dim::new("measure", "measure", measures(&ids)),
                Dim::borders(r.on.1),
                Dim::as_of(a, &labels),
            ];
            let basis: serde_json::Map<String, Value> = shown
                .iter()
                .map(|i| {
                    let basis = basis_name(Some(&i.national));
                    (i.indicator.id.clone(), json!(basis))
                })
                .collect();
            let extension =
                json!({"as_of_sequence": a.as_of_sequence, "year": r.year, "basis": basis});
            dataset(
                format!(
                    "{} {}: national picture",
                    labels.area(crate::domain::NATIONAL_CODE),
                    r.year
                ),
                &labels,
                &dims,
                &values,
                status,
                extension,
            )
        }
    }
}

pub(super) fn group_picture(a: &Answer<GroupPicture>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    let group = &r.group;
    // Indicators with at least one member value.
    let shown: Vec<_> = r
        .indicators
        .iter()
        .filter(|(_, members)| members.iter().any(|m| m.value.is_some()))
        .collect();
    match shape {
        Shape::Csv(Layout::Long, dialect) => {
            let rows = long::group_picture(r, &shown);
            long::write(&rows, &labels, a.as_of_sequence, dialect)
        }
        Shape::Csv(Layout::Wide, dialect) => {
            let header = [
                "year",
                "indicator",
                "theme",
                "unit",
                "area",
                "area_kind",
                "value",
                "basis",
                "rank",
                "regions_ranked",
                "status",
                "source",
                "revisions",
                "sequence",
                "indicator_name",
                "area_name",
            ];
            let mut rows = Vec::new();
            for (iy, members) in &shown {
                let ind = &iy.indicator;
                let figures = iy.group(&group.id);
                let indicator_name = labels.indicator(&ind.id);
                let base: [Field; 4] = [
                    r.year.into(),
                    ind.id.as_str().into(),
                    ind.theme.as_str().into(),
                    ind.unit.as_str().into(),
                ];
                for m in members {
                    let mut row = base.to_vec();
                    row.extend([
                        m.region.as_str().into(),
                        "member".into(),
                        num(m.value),
                        "".into(),
                        num(rank(m.rank)),
                        figures.map_or(0, |g| g.regions_ranked()).into(),
                        text(m.value.map(|_| status_name(m.status))),
                        m.source.as_deref().unwrap_or_default().into(),
                        m.revisions.into(),
                        text((m.sequence > 0).then_some(m.sequence)),
                        indicator_name.as_str().into(),
                        labels.area(&m.region).into(),
                    ]);
                    rows.push(row);
                }
                for (area, kind, n, name) in [
                    (
                        group.id.as_str(),
                        "group",
                        figures.map(|g| &g.value),
                        labels.group(&group.id),
                    ),
                    (
                        crate::domain::NATIONAL_CODE,
                        "national",
                        Some(&iy.national),
                        labels.area(crate::domain::NATIONAL_CODE),
                    ),
                ] {
                    let mut row = base.to_vec();
                    row.extend([
                        area.into(),
                        kind.into(),
                        num(n.and_then(|n| n.value)),
                        basis_name(n).into(),
                        num(None),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        indicator_name.as_str().into(),
                        name.into(),
                    ]);
                    rows.push(row);
                }
            }
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let mut areas: Vec<(String, String)> = group
                .members
                .iter()
                .map(|m| (m.clone(), labels.area(m)))
                .collect();
            areas.push((group.id.clone(), labels.group(&group.id)));
            areas.push((
                crate::domain::NATIONAL_CODE.into(),
                labels.area(crate::domain::NATIONAL_CODE),
            ));
            let mut values = Vec::new();
            let mut status = BTreeMap::new();
            for (iy, members) in &shown {
                for m in members {
                    if m.value.is_some() && m.status == Some(Status::Provisional) {
                        status.insert(values.len(), "p");
                    }
                    values.push(m.value);
                }
                values.push(iy.group(&group.id).and_then(|g| g.value.value));
                values.push(iy.national());
            }
            let indicator = Dim::indicators(
                &labels,
                shown.iter().map(|(iy, _)| {
                    let ind = &iy.indicator;
                    (ind.id.as_str(), ind.unit.as_str(), ind.decimals)
                }),
            );
            let dims = [
                Dim::year(r.year),
                indicator,
                Dim::new("area", "area", areas),
                Dim::borders(r.borders),
                Dim::as_of(a, &labels),
            ];
            let basis: serde_json::Map<String, Value> = shown
                .iter()
                .map(|(iy, _)| {
                    let g = iy.group(&group.id).map(|g| &g.value);
                    (
                        iy.indicator.id.clone(),
                        json!({"group": basis_name(g), "national": basis_name(Some(&iy.national))}),
                    )
                })
                .collect();
            let extension = json!({"as_of_sequence": a.as_of_sequence, "year": r.year,
                "group": group.id, "members": group.members, "group_source": group.source,
                "basis": basis});
            dataset(
                format!(
                    "{} ({}) {}: peer group picture",
                    labels.group(&group.id),
                    group.id,
                    r.year
                ),
                &labels,
                &dims,
                &values,
                status,
                extension,
            )
        }
    }
}

pub(super) fn series(a: &Answer<Series>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    let (region, ind) = (&r.region, &r.indicator);
    match shape {
        Shape::Csv(Layout::Long, dialect) => {
            long::write(&long::series(r), &labels, a.as_of_sequence, dialect)
        }
        Shape::Csv(Layout::Wide, dialect) => {
            let header = [
                "region",
                "indicator",
                "year",
                "value",
                "status",
                "national_value",
                "national_basis",
                "rank",
                "regions_ranked",
                "unit",
                "region_name",
                "indicator_name",
            ];
            let (region_name, indicator_name) = (labels.area(region), labels.indicator(&ind.id));
            let rows: Vec<Vec<Field>> = r
                .points
                .iter()
                .map(|pt| {
                    vec![
                        region.as_str().into(),
                        ind.id.as_str().into(),
                        pt.year.into(),
                        num(Some(pt.value)),
                        pt.status.as_str().into(),
                        num(pt.figures.national()),
                        basis_name(Some(&pt.figures.national)).into(),
                        num(rank(pt.rank)),
                        pt.figures.regions_ranked().into(),
                        ind.unit.as_str().into(),
                        region_name.as_str().into(),
                        indicator_name.as_str().into(),
                    ]
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let ids = ["value", "national_value", "rank", "regions_ranked"];
            let mut values = Vec::new();
            let mut status = BTreeMap::new();
            for pt in &r.points {
                if pt.status == Status::Provisional {
                    status.insert(values.len(), "p");
                }
                values.extend([
                    Some(pt.value),
                    pt.figures.national(),
                    rank(pt.rank),
                    Some(f64::from(pt.figures.regions_ranked())),
                ]);
            }
            let years = Dim::new(
                "year",
                "year",
                r.points
                    .iter()
                    .map(|pt| (pt.year.to_string(), pt.year.to_string()))
                    .collect(),
            );
            let dims = [
                Dim::area(&labels, region),
                Dim::indicators(
                    &labels,
                    std::iter::once((ind.id.as_str(), ind.unit.as_str(), ind.decimals)),
                ),
                years,
                Dim::new("measure", "measure", measures(&ids)),
                Dim::as_of(a, &labels),
            ];
            // Each year's borders: with `borders=own` they differ from year to year.
            let borders: serde_json::Map<String, Value> = r
                .points
                .iter()
                .map(|pt| (pt.year.to_string(), json!(pt.borders)))
                .collect();
            let extension = json!({"as_of_sequence": a.as_of_sequence, "region": region,
                "indicator": ind.id, "borders": borders});
            dataset(
                format!("{}: {}", labels.area(region), labels.indicator(&ind.id)),
                &labels,
                &dims,
                &values,
                status,
                extension,
            )
        }
    }
}

/// One revision of a cell, as the history shows it.
pub(super) struct Revision<'a> {
    pub(super) e: &'a Event,
    /// The value and status, when the revision recorded one (not for a retraction).
    pub(super) value: Option<(f64, Status)>,
    pub(super) source: &'a str,
    note: &'a str,
    correction_reason: &'a str,
    retraction_reason: Option<&'a str>,
    /// When its publisher published it (empty: as recorded).
    published: String,
}

impl<'a> Revision<'a> {
    fn of(e: &'a Event) -> Revision<'a> {
        let mut r = Revision {
            e,
            value: None,
            source: "",
            note: "",
            correction_reason: "",
            retraction_reason: None,
            published: String::new(),
        };
        match &e.payload {
            Payload::ObservationRecorded(o) => {
                r.value = Some((o.value, o.status));
                r.source = &o.source;
                r.note = &o.note;
                r.correction_reason = &o.correction_reason;
                r.published = o.published_micros.map(ts).unwrap_or_default();
            }
            Payload::ObservationRetracted { reason, .. } => r.retraction_reason = Some(reason),
            _ => {}
        }
        r
    }

    fn retracted(&self) -> bool {
        self.retraction_reason.is_some()
    }
}

pub(super) fn history(a: &Answer<History>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let h = &a.value;
    let (region, indicator, year) = (&h.region, &h.indicator, h.year);
    let revisions: Vec<Revision> = h.revisions.iter().map(Revision::of).collect();
    // The history names its indicator by id: its unit is the latest catalog's.
    let (unit, decimals) = labels.unit(indicator);
    match shape {
        Shape::Csv(Layout::Long, dialect) => {
            let rows = long::history(h, &revisions, &unit);
            long::write(&rows, &labels, a.as_of_sequence, dialect)
        }
        Shape::Csv(Layout::Wide, dialect) => {
            let header = [
                "sequence",
                "recorded_at",
                "value",
                "status",
                "source",
                "note",
                "correction_reason",
                "principal",
                "submission_id",
                "retracted",
                "retraction_reason",
                "hash",
                "published",
            ];
            let rows: Vec<Vec<Field>> = revisions
                .iter()
                .map(|v| {
                    vec![
                        v.e.sequence.into(),
                        ts(v.e.recorded_at_micros).into(),
                        num(v.value.map(|(x, _)| x)),
                        status_name(v.value.map(|(_, s)| s)).into(),
                        v.source.into(),
                        v.note.into(),
                        v.correction_reason.into(),
                        v.e.principal.as_str().into(),
                        v.e.submission_id.as_str().into(),
                        v.retracted().to_string().into(),
                        v.retraction_reason.unwrap_or_default().into(),
                        hex::encode(v.e.hash).into(),
                        v.published.as_str().into(),
                    ]
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let mut status = BTreeMap::new();
            let values: Vec<Option<f64>> = revisions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if matches!(v.value, Some((_, Status::Provisional))) {
                        status.insert(i, "p");
                    }
                    v.value.map(|(x, _)| x)
                })
                .collect();
            let dim = Dim::new(
                "revision",
                "revision (event sequence)",
                revisions
                    .iter()
                    .map(|v| {
                        let what = if v.retracted() {
                            "retracted"
                        } else {
                            "recorded"
                        };
                        let seq = v.e.sequence;
                        let label = format!("{seq} {what} {}", ts(v.e.recorded_at_micros));
                        (seq.to_string(), label)
                    })
                    .collect(),
            );
            let dims = [
                Dim::area(&labels, region),
                Dim::indicators(
                    &labels,
                    std::iter::once((indicator.as_str(), unit.as_str(), decimals)),
                ),
                Dim::year(year),
                dim,
                Dim::new("measure", "measure", measures(&["value"])),
                Dim::as_of(a, &labels),
            ];
            let trail: Vec<Value> = revisions
                .iter()
                .map(|v| {
                    json!({"sequence": v.e.sequence, "recorded_at": ts(v.e.recorded_at_micros),
                    "source": v.source, "note": v.note, "correction_reason": v.correction_reason,
                    "principal": v.e.principal, "submission_id": v.e.submission_id,
                    "retracted": v.retracted(),
                    "retraction_reason": v.retraction_reason.unwrap_or_default(),
                    "hash": hex::encode(v.e.hash), "published": v.published})
                })
                .collect();
            let extension = json!({"as_of_sequence": a.as_of_sequence, "region": region,
                "indicator": indicator, "year": year, "revisions": trail});
            dataset(
                format!("{} {indicator} {year}: revisions", labels.area(region)),
                &labels,
                &dims,
                &values,
                status,
                extension,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::table::Dialect;
    use super::*;
    use crate::auth::Principal;
    use crate::domain::validate::ObservationInput;
    use crate::domain::{Catalog, NATIONAL_CODE};
    use crate::projection::{Level, Projection};
    use crate::write::{SubmitInput, WriteRequest, WriterState};

    /// 2026-11-27T00:00:00Z in microseconds.
    const NOW: i64 = 1_795_737_600_000_000;
    /// The latest bundled division, which figures recorded in 2026 are on.
    const BORDERS: Option<i32> = Some(2026);
    /// A bundled peer group of one member, MK01.
    const GROUP: &str = "FI1B";

    /// The bundled catalog and, for MK01, MK02 and the whole country, populations (a sum:
    /// the regions have shares of the country) and unemployment rates (a ratio with
    /// decimals: a difference from the country) of 2020 and 2021. MK02's source would be a
    /// formula in a spreadsheet.
    fn fixture() -> (Projection, Vec<Event>) {
        let mut state = WriterState::default();
        let mut events = state.bootstrap(&Catalog::bundled(), NOW);
        let who = Principal::system("t");
        let figures = [
            (NATIONAL_CODE, 5_500_000.0, 8.5),
            ("MK01", 1_700_000.0, 7.25),
            ("MK02", 480_000.0, 6.125),
        ];
        for (area, population, rate) in figures {
            let observations = [2020, 2021]
                .into_iter()
                .flat_map(|y| {
                    let source = if area == "MK02" {
                        "=HYPERLINK(\"http://x\")"
                    } else {
                        "Statistics Finland"
                    };
                    let obs = |indicator: &str, value: f64| ObservationInput {
                        indicator_id: indicator.into(),
                        year: y,
                        value,
                        status: Some(Status::Final),
                        source: source.into(),
                        note: String::new(),
                        correction_reason: String::new(),
                        borders: None,
                        published_micros: None,
                    };
                    let grown = f64::from(y - 2020);
                    [
                        obs("population", population + 1000.0 * grown),
                        obs("unemployment_rate_15_74", rate - 0.5 * grown),
                    ]
                })
                .collect();
            let req = WriteRequest::Submit(SubmitInput {
                submission_id: format!("s-{area}"),
                region_code: area.into(),
                expected_region_revision: None,
                observations,
                validate_only: false,
            });
            state.prepare(req, &who, NOW, &mut events).unwrap();
        }
        let mut p = Projection::new();
        for e in &events {
            p.apply(e);
        }
        (p, events)
    }

    fn answer<T>(p: &Projection, value: T) -> Answer<T> {
        let seq = p.applied();
        Answer {
            value,
            as_of_sequence: seq,
            recorded_at_micros: p.time_of(seq),
            catalog: p.catalog(),
        }
    }

    /// Every answer of the fixture written in `shape`, by endpoint.
    fn all(shape: Shape, lang: Lang) -> Vec<(&'static str, String)> {
        let (p, events) = fixture();
        let seq = p.applied();
        let region = |r| {
            region_picture(
                &answer(&p, p.region_picture(r, 2021, BORDERS, seq)),
                shape,
                lang,
            )
        };
        let catalog = p.catalog();
        let indicator = catalog.indicators["population"].clone();
        let series_of = Series {
            region: "MK01".into(),
            indicator: indicator.clone(),
            points: p.series("MK01", &indicator, (2019, 2021), |_| BORDERS, seq),
        };
        let history_of = History {
            region: "MK01".into(),
            indicator: "population".into(),
            year: 2021,
            revisions: events
                .iter()
                .filter(|e| {
                    e.region_code == "MK01"
                        && e.cell()
                            .is_some_and(|(i, y, _)| i == "population" && y == 2021)
                })
                .cloned()
                .collect(),
        };
        let group = p.group_picture(GROUP, 2021, BORDERS, seq).unwrap();
        vec![
            ("MK01", region("MK01")),
            ("MK02", region("MK02")),
            (
                "national",
                national_picture(
                    &answer(&p, p.year_picture(2021, (Level::Region, BORDERS), seq)),
                    shape,
                    lang,
                ),
            ),
            ("group", group_picture(&answer(&p, group), shape, lang)),
            ("series", series(&answer(&p, series_of), shape, lang)),
            ("history", history(&answer(&p, history_of), shape, lang)),
        ]
    }

    /// A CSV's header and rows (a Finnish one without its byte order mark).
    fn read(body: &str, dialect: Dialect) -> (Vec<String>, Vec<Vec<String>>) {
        let (delimiter, body) = match dialect {
            Dialect::International => (b',', body),
            Dialect::Finnish => (
                b';',
                body.strip_prefix('\u{feff}').expect("a byte order mark"),
            ),
        };
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(body.as_bytes());
        let header = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    /// Each answer in the Finnish dialect is the international one with `;` between fields
    /// and a decimal comma in its figures: read back, the same numbers and the same text, in
    /// both layouts; and a source that would be a formula is neutralised in both.
    #[test]
    fn the_finnish_dialect_carries_the_same_figures_and_text() {
        for layout in [Layout::Wide, Layout::Long] {
            let intl = all(Shape::Csv(layout, Dialect::International), Lang::Fi);
            let fi = all(Shape::Csv(layout, Dialect::Finnish), Lang::Fi);
            let mut decimals = 0;
            for ((what, a), (_, b)) in intl.iter().zip(&fi) {
                let (ha, ra) = read(a, Dialect::International);
                let (hb, rb) = read(b, Dialect::Finnish);
                assert_eq!(ha, hb, "{what} {layout:?}");
                assert_eq!(ra.len(), rb.len(), "{what} {layout:?}");
                assert!(!ra.is_empty(), "{what} {layout:?} has rows");
                for (x, y) in ra.iter().flatten().zip(rb.iter().flatten()) {
                    match x.parse::<f64>() {
                        Ok(n) if x.contains('.') => {
                            decimals += 1;
                            assert_eq!(y.replace(',', ".").parse::<f64>(), Ok(n), "{what}: {y}");
                            assert!(!y.contains('.'), "{what}: {y}");
                        }
                        _ => assert_eq!(x, y, "{what} {layout:?}"),
                    }
                }
                if *what == "MK02" {
                    assert!(
                        a.contains("'=HYPERLINK") && b.contains("'=HYPERLINK"),
                        "{what}"
                    );
                }
            }
            assert!(
                decimals > 0,
                "the fixture has figures with decimals ({layout:?})"
            );
        }
    }

    /// Long answers of two regions, the national picture, a group picture, a series and a
    /// history have the same columns: stacked, every row says its area and indicator by code
    /// and name, with the unit. A sum carries the region's share of the country and no
    /// difference; a ratio its difference and no share.
    #[test]
    fn long_answers_of_every_endpoint_stack() {
        let (p, _) = fixture();
        let catalog = p.catalog();
        let mut stacked = Vec::new();
        for (what, body) in all(Shape::Csv(Layout::Long, Dialect::International), Lang::Sv) {
            let (header, rows) = read(&body, Dialect::International);
            assert_eq!(header, long::COLUMNS, "{what}");
            assert!(!rows.is_empty(), "{what}");
            stacked.extend(rows);
        }
        let col = |name: &str| long::COLUMNS.iter().position(|c| *c == name).unwrap();
        let row = |area: &str, indicator: &str, year: &str| {
            stacked
                .iter()
                .find(|r| {
                    r[col("area")] == area
                        && r[col("indicator")] == indicator
                        && r[col("year")] == year
                })
                .unwrap_or_else(|| panic!("no {area} {indicator} {year} in {stacked:?}"))
        };
        for r in &stacked {
            let area = &r[col("area")];
            let names = match catalog.regions.get(area.as_str()) {
                Some(region) => Some(&region.name_sv),
                None => catalog.groups.get(area.as_str()).map(|g| &g.name_sv),
            };
            assert_eq!(Some(&r[col("area_name")]), names, "{r:?}");
            let ind = &catalog.indicators[&r[col("indicator")]];
            // Indicators have no Swedish names: the Finnish one.
            assert_eq!(r[col("indicator_name")], ind.name_fi, "{r:?}");
            assert_eq!(r[col("unit")], ind.unit, "{r:?}");
        }
        let mk01 = row("MK01", "population", "2021");
        assert_eq!(mk01[col("area_kind")], "region");
        assert_eq!(mk01[col("value")], "1701000");
        assert_eq!(mk01[col("national_value")], "5501000");
        let share: f64 = mk01[col("national_share")].parse().unwrap();
        assert!(
            (share - 1_701_000.0 / 5_501_000.0 * 100.0).abs() < 1e-9,
            "{share}"
        );
        assert_eq!(
            mk01[col("national_difference")],
            "",
            "no difference of two sums"
        );
        let rate = row("MK02", "unemployment_rate_15_74", "2021");
        assert_eq!(rate[col("national_share")], "", "a ratio has no share");
        let difference: f64 = rate[col("national_difference")].parse().unwrap();
        assert!((difference - (5.625 - 8.0)).abs() < 1e-9, "{difference}");
        let national = row(NATIONAL_CODE, "population", "2021");
        assert_eq!(
            (
                national[col("area_kind")].as_str(),
                national[col("basis")].as_str()
            ),
            ("national", "official")
        );
        assert_eq!(row(GROUP, "population", "2021")[col("area_kind")], "group");
        // The series' years and the history's revision.
        assert_eq!(row("MK01", "population", "2020")[col("value")], "1700000");
        let revision = stacked
            .iter()
            .filter(|r| r[col("sequence")] == mk01[col("sequence")])
            .count();
        assert!(
            revision >= 2,
            "the history's revision is the picture's figure"
        );
    }

    /// A JSON-stat dataset keeps what it is of as dimensions of one category: the region
    /// picture its area, year, borders and as-of point, the series its area and indicator.
    #[test]
    fn json_stat_keeps_the_fixed_dimensions() {
        let (p, _) = fixture();
        for (what, body) in all(Shape::Json, Lang::En) {
            let d: Value = serde_json::from_str(&body).unwrap();
            let ids: Vec<&str> = d["id"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let sizes: Vec<u64> = d["size"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let cells: u64 = sizes.iter().product();
            assert_eq!(d["value"].as_array().unwrap().len() as u64, cells, "{what}");
            let one = |dim: &str| -> String {
                let at = ids
                    .iter()
                    .position(|i| *i == dim)
                    .unwrap_or_else(|| panic!("{what}: no {dim} in {ids:?}"));
                assert_eq!(sizes[at], 1, "{what}: {dim}");
                let index = d["dimension"][dim]["category"]["index"]
                    .as_object()
                    .unwrap();
                index.keys().next().unwrap().clone()
            };
            assert_eq!(one("as_of"), p.applied().to_string(), "{what}");
            assert_eq!(d["role"]["geo"], json!(["area"]), "{what}");
            assert_eq!(d["role"]["time"], json!(["year"]), "{what}");
            match what {
                "MK01" | "MK02" => {
                    assert_eq!(one("area"), what);
                    assert_eq!(one("year"), "2021");
                    assert_eq!(one("borders"), "2026");
                }
                "national" => {
                    assert_eq!(one("area"), NATIONAL_CODE);
                    assert_eq!(one("year"), "2021");
                }
                "group" => assert_eq!(one("year"), "2021"),
                "series" | "history" => {
                    assert_eq!(one("area"), "MK01");
                    assert_eq!(one("indicator"), "population");
                }
                other => panic!("{other}"),
            }
        }
    }
}
