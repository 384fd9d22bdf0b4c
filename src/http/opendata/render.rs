//! The open-data shapes of the gRPC answers: JSON-stat 2.0 datasets and CSV tables.
//!
//! Numbers are written in full (the shortest text that reads back as the same double),
//! never rounded to the catalog's decimals: an evaluator recomputes from them. An absent
//! figure is `null` in JSON-stat and an empty field in CSV.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::Format;
use crate::domain::stats::{Basis, National};
use crate::domain::{Catalog, Event, Payload, Status};
use crate::projection::{GroupPicture, RegionPicture, YearPicture};
use crate::read::{Answer, History, Series};

/// The language of labels.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lang {
    Fi,
    Sv,
    En,
}

/// Labels from the latest catalog (codes name the same thing at every as-of point).
struct Labels {
    catalog: Arc<Catalog>,
    lang: Lang,
    /// The record time of the answer's sequence.
    updated: String,
}

impl Labels {
    fn new<T>(a: &Answer<T>, lang: Lang) -> Labels {
        Labels {
            catalog: a.catalog.clone(),
            lang,
            updated: chrono::DateTime::from_timestamp_micros(a.recorded_at_micros)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    fn region(&self, code: &str) -> String {
        match self.catalog.regions.get(code) {
            Some(r) => match self.lang {
                Lang::Fi => r.name_fi.clone(),
                Lang::Sv => r.name_sv.clone(),
                Lang::En => r.name_en.clone(),
            },
            None => code.to_owned(),
        }
    }

    /// An indicator's name (the catalog has Finnish and English names; Swedish labels use
    /// the Finnish one).
    fn indicator(&self, id: &str) -> String {
        match self.catalog.indicators.get(id) {
            Some(i) => match self.lang {
                Lang::Fi | Lang::Sv => i.name_fi.clone(),
                Lang::En => i.name_en.clone(),
            },
            None => id.to_owned(),
        }
    }

    /// The `indicator` dimension of (id, unit, decimals): labels and units.
    fn indicators<'a>(&self, items: impl Iterator<Item = (&'a str, &'a str, u32)>) -> Dim {
        let mut dim = Dim::new("indicator", "indicator", Vec::new());
        for (id, unit, decimals) in items {
            dim.categories.push((id.to_owned(), self.indicator(id)));
            dim.units.insert(id.to_owned(), (unit.to_owned(), decimals));
        }
        dim
    }

    fn group(&self, id: &str) -> String {
        match self.catalog.groups.get(id) {
            Some(g) => match self.lang {
                Lang::Fi => g.name_fi.clone(),
                Lang::Sv => g.name_sv.clone(),
                Lang::En => g.name_en.clone(),
            },
            None => id.to_owned(),
        }
    }
}

/// One dimension of a dataset: its id, label and categories (id, label).
struct Dim {
    id: &'static str,
    label: String,
    categories: Vec<(String, String)>,
    /// Units of the categories (for the metric dimension): id → (unit, decimals).
    units: BTreeMap<String, (String, u32)>,
}

impl Dim {
    fn new(id: &'static str, label: &str, categories: Vec<(String, String)>) -> Dim {
        Dim {
            id,
            label: label.to_owned(),
            categories,
            units: BTreeMap::new(),
        }
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
    // The indicator is the metric dimension: its categories carry the units.
    if dims.iter().any(|d| !d.units.is_empty()) {
        let metric: Vec<&str> = dims
            .iter()
            .filter(|d| !d.units.is_empty())
            .map(|d| d.id)
            .collect();
        out["role"] = json!({ "metric": metric });
    }
    format!("{out}\n")
}

/// A CSV cell as written: one that a spreadsheet would take for a formula — a leading
/// `=`, `+`, `-` or `@`, also after spaces, or a leading tab, carriage return or line
/// feed — is prefixed with `'`, as OWASP advises, unless it is a number (a figure such as
/// `-942`). Every cell passes here, whoever wrote it (a council's source, an admin's unit,
/// a name); JSON-stat carries every text as written.
fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    let formula = matches!(s.chars().next(), Some('\t' | '\r' | '\n'))
        || matches!(s.trim_start().chars().next(), Some('=' | '+' | '-' | '@'));
    if formula && s.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A CSV table (RFC 4180) of `header` and `rows`.
fn csv_table<S: AsRef<str>>(header: &[S], rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing into memory does not fail.
    w.write_record(header.iter().map(AsRef::as_ref))
        .expect("csv into memory");
    for r in rows {
        w.write_record(r.iter().map(|c| cell(c).into_owned()))
            .expect("csv into memory");
    }
    String::from_utf8(w.into_inner().expect("csv into memory")).expect("csv of UTF-8 is UTF-8")
}

fn num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map(|x| x.to_string())
        .unwrap_or_default()
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

fn ts(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Measure categories: id and its label (the id in words).
fn measures(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|m| ((*m).to_owned(), m.replace('_', " ")))
        .collect()
}

/// Division years as one CSV field ("2020 2019"; empty for none).
fn years(ys: &[i32]) -> String {
    ys.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
}

pub(super) fn region_picture(a: &Answer<Arc<RegionPicture>>, fmt: Format, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    // The groups of the region as of the answer's sequence.
    let groups = &r.groups;
    match fmt {
        Format::Csv => {
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
            ]
            .map(str::to_owned)
            .to_vec();
            for g in groups {
                for m in ["value", "basis", "rank", "regions_ranked"] {
                    header.push(format!("group_{g}_{m}"));
                }
            }
            let rows: Vec<Vec<String>> = r
                .cells
                .iter()
                .map(|c| {
                    let iy = &c.figures;
                    let ind = &iy.indicator;
                    let mut row = vec![
                        r.region.clone(),
                        r.year.to_string(),
                        ind.id.clone(),
                        ind.theme.as_str().to_owned(),
                        ind.unit.clone(),
                        num(Some(c.value)),
                        c.status.as_str().into(),
                        c.source.to_string(),
                        c.revisions.to_string(),
                        num(iy.national()),
                        basis_name(Some(&iy.national)).into(),
                        num(rank(c.rank)),
                        iy.regions_ranked().to_string(),
                        num(c.previous),
                        c.origin
                            .borders()
                            .map_or_else(String::new, |b| b.to_string()),
                        match c.origin.derived() {
                            Some((used, expected)) => format!("{used}/{expected}"),
                            None => String::new(),
                        },
                        years(&c.previous_elsewhere),
                    ];
                    for g in groups {
                        match iy.group(g) {
                            Some(x) => row.extend([
                                num(x.value.value),
                                basis_name(Some(&x.value)).into(),
                                num(rank(iy.group_rank(x, &r.region).unwrap_or(0))),
                                x.regions_ranked().to_string(),
                            ]),
                            None => row.extend([
                                String::new(),
                                String::new(),
                                String::new(),
                                String::new(),
                            ]),
                        }
                    }
                    row
                })
                .collect();
            csv_table(&header, &rows)
        }
        Format::JsonStat => {
            // Group measures are `GROUP:value` etc.: a group id has no `:`, so they never
            // meet the plain ones or each other.
            let mut measure_labels = measures(&[
                "value",
                "national_value",
                "national_difference",
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
                values.extend([
                    Some(c.value),
                    iy.national(),
                    c.national_difference(),
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
            let indicator = labels.indicators(r.cells.iter().map(|c| {
                let ind = &c.figures.indicator;
                (ind.id.as_str(), ind.unit.as_str(), ind.decimals)
            }));
            let dims = [indicator, Dim::new("measure", "measure", measure_labels)];
            let title = format!("{} {}: regional picture", labels.region(&r.region), r.year);
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

pub(super) fn national_picture(a: &Answer<Arc<YearPicture>>, fmt: Format, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    let expected = r.regions_expected();
    let shown: Vec<_> = r
        .indicators
        .iter()
        .filter(|i| !i.values.is_empty() || i.official.is_some())
        .collect();
    match fmt {
        Format::Csv => {
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
            ];
            let rows: Vec<Vec<String>> = shown
                .iter()
                .map(|i| {
                    let ind = &i.indicator;
                    let (min, median, max) = i.spread();
                    vec![
                        r.year.to_string(),
                        ind.id.clone(),
                        ind.theme.as_str().to_owned(),
                        ind.unit.clone(),
                        num(i.national()),
                        basis_name(Some(&i.national)).into(),
                        i.official.is_some().to_string(),
                        num(i.national.computed),
                        i.values.len().to_string(),
                        expected.to_string(),
                        num(min),
                        num(median),
                        num(max),
                        i.by_rank(true).unwrap_or_default().to_owned(),
                        i.by_rank(false).unwrap_or_default().to_owned(),
                    ]
                })
                .collect();
            csv_table(&header, &rows)
        }
        Format::JsonStat => {
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
            let indicator = labels.indicators(shown.iter().map(|i| {
                let ind = &i.indicator;
                (ind.id.as_str(), ind.unit.as_str(), ind.decimals)
            }));
            let dims = [indicator, Dim::new("measure", "measure", measures(&ids))];
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
                format!("{} {}: national picture", labels.region("SSS"), r.year),
                &labels,
                &dims,
                &values,
                status,
                extension,
            )
        }
    }
}

pub(super) fn group_picture(a: &Answer<GroupPicture>, fmt: Format, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    let group = &r.group;
    // Indicators with at least one member value.
    let shown: Vec<_> = r
        .indicators
        .iter()
        .filter(|(_, members)| members.iter().any(|m| m.value.is_some()))
        .collect();
    match fmt {
        Format::Csv => {
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
            ];
            let mut rows = Vec::new();
            for (iy, members) in &shown {
                let ind = &iy.indicator;
                let figures = iy.group(&group.id);
                let base = [
                    r.year.to_string(),
                    ind.id.clone(),
                    ind.theme.as_str().to_owned(),
                    ind.unit.clone(),
                ];
                for m in members {
                    let mut row = base.to_vec();
                    row.extend([
                        m.region.clone(),
                        "member".into(),
                        num(m.value),
                        String::new(),
                        num(rank(m.rank)),
                        figures.map_or(0, |g| g.regions_ranked()).to_string(),
                        m.value
                            .map(|_| status_name(m.status))
                            .unwrap_or_default()
                            .into(),
                        m.source.as_deref().unwrap_or_default().to_owned(),
                        m.revisions.to_string(),
                        if m.sequence > 0 {
                            m.sequence.to_string()
                        } else {
                            String::new()
                        },
                    ]);
                    rows.push(row);
                }
                for (area, kind, n) in [
                    (group.id.as_str(), "group", figures.map(|g| &g.value)),
                    ("SSS", "national", Some(&iy.national)),
                ] {
                    let mut row = base.to_vec();
                    row.extend([
                        area.to_owned(),
                        kind.into(),
                        num(n.and_then(|n| n.value)),
                        basis_name(n).into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                    rows.push(row);
                }
            }
            csv_table(&header, &rows)
        }
        Format::JsonStat => {
            let mut areas: Vec<(String, String)> = group
                .members
                .iter()
                .map(|m| (m.clone(), labels.region(m)))
                .collect();
            areas.push((group.id.clone(), labels.group(&group.id)));
            areas.push(("SSS".into(), labels.region("SSS")));
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
            let indicator = labels.indicators(shown.iter().map(|(iy, _)| {
                let ind = &iy.indicator;
                (ind.id.as_str(), ind.unit.as_str(), ind.decimals)
            }));
            let dims = [indicator, Dim::new("area", "area", areas)];
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

pub(super) fn series(a: &Answer<Series>, fmt: Format, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let r = &a.value;
    let (region, indicator) = (&r.region, r.indicator.id.as_str());
    match fmt {
        Format::Csv => {
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
            ];
            let rows: Vec<Vec<String>> = r
                .points
                .iter()
                .map(|pt| {
                    vec![
                        region.clone(),
                        indicator.to_owned(),
                        pt.year.to_string(),
                        num(Some(pt.value)),
                        pt.status.as_str().into(),
                        num(pt.figures.national()),
                        basis_name(Some(&pt.figures.national)).into(),
                        num(rank(pt.rank)),
                        pt.figures.regions_ranked().to_string(),
                    ]
                })
                .collect();
            csv_table(&header, &rows)
        }
        Format::JsonStat => {
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
            let dims = [years, Dim::new("measure", "measure", measures(&ids))];
            let extension = json!({"as_of_sequence": a.as_of_sequence, "region": region,
                "indicator": indicator});
            dataset(
                format!("{}: {}", labels.region(region), labels.indicator(indicator)),
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
struct Revision<'a> {
    e: &'a Event,
    /// The value and status, when the revision recorded one (not for a retraction).
    value: Option<(f64, Status)>,
    source: &'a str,
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

pub(super) fn history(a: &Answer<History>, fmt: Format, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let h = &a.value;
    let (region, indicator, year) = (&h.region, &h.indicator, h.year);
    let revisions: Vec<Revision> = h.revisions.iter().map(Revision::of).collect();
    match fmt {
        Format::Csv => {
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
            let rows: Vec<Vec<String>> = revisions
                .iter()
                .map(|v| {
                    vec![
                        v.e.sequence.to_string(),
                        ts(v.e.recorded_at_micros),
                        num(v.value.map(|(x, _)| x)),
                        status_name(v.value.map(|(_, s)| s)).into(),
                        v.source.to_owned(),
                        v.note.to_owned(),
                        v.correction_reason.to_owned(),
                        v.e.principal.clone(),
                        v.e.submission_id.clone(),
                        v.retracted().to_string(),
                        v.retraction_reason.unwrap_or_default().to_owned(),
                        hex::encode(v.e.hash),
                        v.published.clone(),
                    ]
                })
                .collect();
            csv_table(&header, &rows)
        }
        Format::JsonStat => {
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
            let dims = [dim, Dim::new("measure", "measure", measures(&["value"]))];
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
                format!("{} {indicator} {year}: revisions", labels.region(region)),
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
    use super::*;

    /// A cell a spreadsheet would run as a formula is neutralised, whatever column it is
    /// in; others, and numbers, are left as they are.
    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for (given, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            (" =1+1", "' =1+1"),
            ("  @SUM(A1)", "'  @SUM(A1)"),
            ("+358 40", "'+358 40"),
            ("-1 revised", "'-1 revised"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("-942", "-942"),
            ("-0.5", "-0.5"),
            ("Statistics Finland", "Statistics Finland"),
            ("", ""),
        ] {
            assert_eq!(cell(given), written, "{given:?}");
        }
        assert_eq!(num(Some(-942.0)), "-942");
        let table = csv_table(
            &["source", "unit"],
            &[vec!["=1+1".into(), " =HYPERLINK(1)".into()]],
        );
        assert_eq!(table, "source,unit\r\n'=1+1,' =HYPERLINK(1)\r\n");
    }
}
