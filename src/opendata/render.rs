//! The open-data shapes of the gRPC answers: JSON-stat 2.0 datasets and CSV tables.
//!
//! Numbers are written in full (the shortest text that reads back as the same double),
//! never rounded to the catalog's decimals: an evaluator recomputes from them. An absent
//! figure is `null` in JSON-stat and an empty field in CSV.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Format;
use crate::api::PictureApi;
use crate::domain::Catalog;
use crate::proto;

/// The language of labels.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lang {
    Fi,
    Sv,
    En,
}

/// Labels from the latest catalog (codes name the same thing at every as-of point).
struct Labels {
    catalog: std::sync::Arc<Catalog>,
    lang: Lang,
    /// The record time of the answer's sequence.
    updated: String,
}

impl Labels {
    fn new(p: &PictureApi, seq: u64, lang: Lang) -> Labels {
        let proj = p.projection.read();
        let micros = proj.time_of(seq);
        Labels {
            catalog: proj.catalog(),
            lang,
            updated: chrono::DateTime::from_timestamp_micros(micros)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// A region's catalog code (Statistics Finland's numbers are aliases).
    fn code(&self, region: &str) -> String {
        self.catalog
            .resolve_region(region)
            .map_or_else(|| region.to_owned(), |r| r.code.clone())
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

/// A text a client wrote (a source, a note, a reason, a name), for a CSV cell: one that a
/// spreadsheet would take for a formula (a leading `=`, `+`, `-`, `@`, tab or carriage
/// return) is prefixed with `'`, as OWASP advises; JSON-stat carries such texts as
/// written.
fn text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
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
        w.write_record(r).expect("csv into memory");
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
fn status_name(s: i32) -> &'static str {
    crate::api::convert::status_from_proto(s).map_or("", crate::domain::Status::as_str)
}

fn basis_name(n: &Option<proto::NationalValue>) -> &'static str {
    match n
        .as_ref()
        .and_then(|n| proto::NationalBasis::try_from(n.basis).ok())
    {
        Some(proto::NationalBasis::Official) => "official",
        Some(proto::NationalBasis::Complete) => "complete",
        Some(proto::NationalBasis::Partial) => "partial",
        _ => "unavailable",
    }
}

fn value_of(n: &Option<proto::NationalValue>) -> Option<f64> {
    n.as_ref().and_then(|n| n.value)
}

fn ts(t: &Option<prost_types::Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Measure categories: id and its label (the id in words).
fn measures(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|m| ((*m).to_owned(), m.replace('_', " ")))
        .collect()
}

pub(super) fn region_picture(
    p: &PictureApi,
    r: &proto::GetRegionPictureResponse,
    fmt: Format,
    lang: Lang,
) -> String {
    let labels = Labels::new(p, r.as_of_sequence, lang);
    // The groups of the region as of the answer's sequence.
    let groups = &r.group_ids;
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
                    let mut row = vec![
                        r.region_code.clone(),
                        r.year.to_string(),
                        c.indicator_id.clone(),
                        c.theme.clone(),
                        c.unit.clone(),
                        num(Some(c.value)),
                        status_name(c.status).into(),
                        text(&c.source),
                        c.revisions.to_string(),
                        num(c.national_value),
                        basis_name(&c.national).into(),
                        num(rank(c.rank)),
                        c.regions_ranked.to_string(),
                        num(c.previous_value),
                    ];
                    for g in groups {
                        match c.groups.iter().find(|x| &x.group_id == g) {
                            Some(x) => row.extend([
                                num(value_of(&x.value)),
                                basis_name(&x.value).into(),
                                num(rank(x.rank)),
                                x.regions_ranked.to_string(),
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
                if c.status == proto::ObservationStatus::Provisional as i32 {
                    status.insert(values.len(), "p");
                }
                values.extend([
                    Some(c.value),
                    c.national_value,
                    c.national_difference,
                    rank(c.rank),
                    Some(f64::from(c.regions_ranked)),
                    c.previous_value,
                    c.change,
                ]);
                for g in groups {
                    let x = c.groups.iter().find(|x| &x.group_id == g);
                    values.extend([
                        x.and_then(|x| value_of(&x.value)),
                        x.and_then(|x| rank(x.rank)),
                        x.map(|x| f64::from(x.regions_ranked)),
                    ]);
                }
            }
            let indicator = labels.indicators(
                r.cells
                    .iter()
                    .map(|c| (c.indicator_id.as_str(), c.unit.as_str(), c.decimals)),
            );
            let dims = [indicator, Dim::new("measure", "measure", measure_labels)];
            let title = format!(
                "{} {}: regional picture",
                labels.region(&r.region_code),
                r.year
            );
            let extension = json!({"as_of_sequence": r.as_of_sequence, "region": r.region_code,
                "year": r.year, "groups": groups, "coverage_ratio": r.coverage_ratio,
                "sources": r.cells.iter().map(|c| (c.indicator_id.clone(), json!(c.source))).collect::<serde_json::Map<_, _>>()});
            dataset(title, &labels, &dims, &values, status, extension)
        }
    }
}

pub(super) fn national_picture(
    p: &PictureApi,
    r: &proto::GetNationalPictureResponse,
    fmt: Format,
    lang: Lang,
) -> String {
    let labels = Labels::new(p, r.as_of_sequence, lang);
    let shown: Vec<&proto::NationalIndicator> = r
        .indicators
        .iter()
        .filter(|i| i.regions_reported > 0 || i.official)
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
                    vec![
                        r.year.to_string(),
                        i.indicator_id.clone(),
                        i.theme.clone(),
                        i.unit.clone(),
                        num(i.value),
                        basis_name(&i.national).into(),
                        i.official.to_string(),
                        num(i.computed_value),
                        i.regions_reported.to_string(),
                        i.regions_expected.to_string(),
                        num(i.min),
                        num(i.median),
                        num(i.max),
                        i.best_region.clone(),
                        i.worst_region.clone(),
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
                let provisional = i.national.as_ref().is_some_and(|n| {
                    n.value.is_some() && n.status == proto::ObservationStatus::Provisional as i32
                });
                if provisional {
                    status.insert(values.len(), "p");
                }
                values.extend([
                    i.value,
                    i.computed_value,
                    Some(f64::from(i.regions_reported)),
                    Some(f64::from(i.regions_expected)),
                    i.min,
                    i.median,
                    i.max,
                ]);
            }
            let indicator = labels.indicators(
                shown
                    .iter()
                    .map(|i| (i.indicator_id.as_str(), i.unit.as_str(), i.decimals)),
            );
            let dims = [indicator, Dim::new("measure", "measure", measures(&ids))];
            let basis: serde_json::Map<String, Value> = shown
                .iter()
                .map(|i| (i.indicator_id.clone(), json!(basis_name(&i.national))))
                .collect();
            let extension =
                json!({"as_of_sequence": r.as_of_sequence, "year": r.year, "basis": basis});
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

pub(super) fn group_picture(
    p: &PictureApi,
    r: &proto::GetGroupPictureResponse,
    fmt: Format,
    lang: Lang,
) -> String {
    let labels = Labels::new(p, r.as_of_sequence, lang);
    let group = r.group.clone().unwrap_or_default();
    // Indicators with at least one member value.
    let shown: Vec<&proto::GroupIndicator> = r
        .indicators
        .iter()
        .filter(|i| i.members.iter().any(|m| m.value.is_some()))
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
            for i in &shown {
                let base = [
                    r.year.to_string(),
                    i.indicator_id.clone(),
                    i.theme.clone(),
                    i.unit.clone(),
                ];
                for m in &i.members {
                    let mut row = base.to_vec();
                    row.extend([
                        m.region_code.clone(),
                        "member".into(),
                        num(m.value),
                        String::new(),
                        num(rank(m.rank)),
                        i.regions_ranked.to_string(),
                        m.value
                            .map(|_| status_name(m.status))
                            .unwrap_or_default()
                            .into(),
                        text(&m.source),
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
                    (group.id.as_str(), "group", &i.group),
                    ("SSS", "national", &i.national),
                ] {
                    let mut row = base.to_vec();
                    row.extend([
                        area.to_owned(),
                        kind.into(),
                        num(value_of(n)),
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
            for i in &shown {
                for m in &i.members {
                    if m.value.is_some() && m.status == proto::ObservationStatus::Provisional as i32
                    {
                        status.insert(values.len(), "p");
                    }
                    values.push(m.value);
                }
                values.push(value_of(&i.group));
                values.push(value_of(&i.national));
            }
            let indicator = labels.indicators(
                shown
                    .iter()
                    .map(|i| (i.indicator_id.as_str(), i.unit.as_str(), i.decimals)),
            );
            let dims = [indicator, Dim::new("area", "area", areas)];
            let basis: serde_json::Map<String, Value> = shown
                .iter()
                .map(|i| {
                    (
                        i.indicator_id.clone(),
                        json!({"group": basis_name(&i.group), "national": basis_name(&i.national)}),
                    )
                })
                .collect();
            let extension = json!({"as_of_sequence": r.as_of_sequence, "year": r.year,
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

pub(super) fn series(
    p: &PictureApi,
    region: &str,
    indicator: &str,
    r: &proto::GetSeriesResponse,
    fmt: Format,
    lang: Lang,
) -> String {
    let labels = Labels::new(p, r.as_of_sequence, lang);
    let region = labels.code(region);
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
                        status_name(pt.status).into(),
                        num(pt.national_value),
                        basis_name(&pt.national).into(),
                        num(rank(pt.rank)),
                        pt.regions_ranked.to_string(),
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
                if pt.status == proto::ObservationStatus::Provisional as i32 {
                    status.insert(values.len(), "p");
                }
                values.extend([
                    Some(pt.value),
                    pt.national_value,
                    rank(pt.rank),
                    Some(f64::from(pt.regions_ranked)),
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
            let extension = json!({"as_of_sequence": r.as_of_sequence, "region": region,
                "indicator": indicator});
            dataset(
                format!(
                    "{}: {}",
                    labels.region(&region),
                    labels.indicator(indicator)
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

pub(super) fn history(
    p: &PictureApi,
    region: &str,
    indicator: &str,
    year: i32,
    r: &proto::GetObservationHistoryResponse,
    fmt: Format,
    lang: Lang,
) -> String {
    let labels = Labels::new(p, r.as_of_sequence, lang);
    let region = labels.code(region);
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
            ];
            let rows: Vec<Vec<String>> = r
                .revisions
                .iter()
                .map(|v| {
                    vec![
                        v.sequence.to_string(),
                        ts(&v.recorded_at),
                        if v.retracted {
                            String::new()
                        } else {
                            num(Some(v.value))
                        },
                        if v.retracted {
                            String::new()
                        } else {
                            status_name(v.status).into()
                        },
                        text(&v.source),
                        text(&v.note),
                        text(&v.correction_reason),
                        text(&v.principal),
                        text(&v.submission_id),
                        v.retracted.to_string(),
                        text(&v.retraction_reason),
                        hex::encode(&v.hash),
                    ]
                })
                .collect();
            csv_table(&header, &rows)
        }
        Format::JsonStat => {
            let mut status = BTreeMap::new();
            let values: Vec<Option<f64>> = r
                .revisions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if !v.retracted && v.status == proto::ObservationStatus::Provisional as i32 {
                        status.insert(i, "p");
                    }
                    (!v.retracted).then_some(v.value)
                })
                .collect();
            let revisions = Dim::new(
                "revision",
                "revision (event sequence)",
                r.revisions
                    .iter()
                    .map(|v| {
                        let what = if v.retracted { "retracted" } else { "recorded" };
                        (
                            v.sequence.to_string(),
                            format!("{} {what} {}", v.sequence, ts(&v.recorded_at)),
                        )
                    })
                    .collect(),
            );
            let dims = [
                revisions,
                Dim::new("measure", "measure", measures(&["value"])),
            ];
            let trail: Vec<Value> = r
                .revisions
                .iter()
                .map(|v| {
                    json!({"sequence": v.sequence, "recorded_at": ts(&v.recorded_at),
                    "source": v.source, "note": v.note, "correction_reason": v.correction_reason,
                    "principal": v.principal, "submission_id": v.submission_id,
                    "retracted": v.retracted, "retraction_reason": v.retraction_reason,
                    "hash": hex::encode(&v.hash)})
                })
                .collect();
            let extension = json!({"as_of_sequence": r.as_of_sequence, "region": region,
                "indicator": indicator, "year": year, "revisions": trail});
            dataset(
                format!("{} {indicator} {year}: revisions", labels.region(&region)),
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

    /// A text a spreadsheet would run as a formula is neutralised; others, and numbers
    /// (written by `num`, never by `text`), are left as they are.
    #[test]
    fn csv_text_that_a_spreadsheet_would_run_is_neutralised() {
        for (given, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+358 40", "'+358 40"),
            ("-1 revised", "'-1 revised"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("Statistics Finland", "Statistics Finland"),
            ("", ""),
        ] {
            assert_eq!(text(given), written, "{given:?}");
        }
        assert_eq!(num(Some(-942.0)), "-942");
        let table = csv_table(&["source"], &[vec![text("=1+1")]]);
        assert_eq!(table, "source\r\n'=1+1\r\n");
    }
}
