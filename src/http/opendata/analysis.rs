//! The open-data shapes of the analyses (`crate::projection::analysis`): disparities and
//! convergence, targets, similar areas and forerunners, as JSON-stat 2.0 datasets and CSV
//! tables of their own columns.
//!
//! A measure that cannot be computed is never 0 or NaN: it is an empty field with its
//! reason in the `<measure>_why_not` column beside it (CSV), or `null` with its reason in
//! the extension's `why_not` (JSON-stat, by row and measure). Numbers are written in full,
//! as every figure of the open data is.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::labels::{Labels, Lang};
use super::render::{cube, measures, Dim};
use super::table::{self, num, text, Field};
use super::Shape;
use crate::domain::dispersion::{Dispersion, Measure};
use crate::projection::{Disparities, Forerunners, Level, Similar, TargetProgress, CLOSEST};
use crate::read::Answer;

/// The note of every analysis dataset on its empty values.
const WHY_NOT_NOTE: &str = "a null value is a figure that cannot be computed: extension.why_not \
                            says why, by row and measure";

/// A measure's value and its reason (empty when it has a value), as two CSV fields.
fn measure_fields(m: &Measure) -> [Field; 2] {
    match m {
        Ok(v) => [num(Some(*v)), "".into()],
        Err(why) => [num(None), why.as_str().into()],
    }
}

/// A measure's value, `None` when it has none.
fn value(m: &Measure) -> Option<f64> {
    m.as_ref().ok().copied().filter(|x| x.is_finite())
}

/// A measure as JSON: `{"value": x, "why_not": null}` or `{"value": null, "why_not": "…"}`.
fn measure_json(m: &Measure) -> Value {
    match m {
        Ok(v) => json!({"value": Some(*v).filter(|x| x.is_finite()), "why_not": null}),
        Err(why) => json!({"value": null, "why_not": why}),
    }
}

/// The `level` dimension: the kind of areas compared.
fn level_dim(level: Level) -> Dim {
    let name = level.as_str().replace('_', " ");
    Dim::one("level", "level", level.as_str().to_owned(), name)
}

/// A dataset of the analysis: [`cube`] with the note on empty values.
fn dataset(
    label: String,
    labels: &Labels,
    dims: &[Dim],
    values: &[Option<f64>],
    ext: Value,
) -> String {
    let mut out = cube(label, labels, dims, values, BTreeMap::new(), ext);
    out["note"] = json!([WHY_NOT_NOTE]);
    format!("{out}\n")
}

/// Reasons of a row's measures that have none: `{measure: reason}`.
fn reasons<'a>(of: impl IntoIterator<Item = (&'a str, &'a Measure)>) -> Map<String, Value> {
    of.into_iter()
        .filter_map(|(id, m)| m.as_ref().err().map(|why| (id.to_owned(), json!(why))))
        .collect()
}

/// A year's measures that may have no value, in the order of [`DISPERSION`].
fn of_year(x: &Dispersion) -> [&Measure; 6] {
    [
        &x.range,
        &x.max_min_ratio,
        &x.cv,
        &x.cv_weighted,
        &x.gini,
        &x.top_bottom_ratio,
    ]
}

/// The disparity measures with their names in words.
fn dispersion_labels(ids: &[&str]) -> Vec<(String, String)> {
    measures(ids)
        .into_iter()
        .map(|(id, label)| {
            let named = match id.as_str() {
                "max_min_ratio" => "ratio of the largest value to the smallest",
                "cv" => "coefficient of variation",
                "cv_weighted" => "population-weighted coefficient of variation",
                "gini" => "Gini coefficient",
                "top_bottom_ratio" => "ratio of the top 20 % to the bottom 20 % (by population)",
                _ => "",
            };
            let label = if named.is_empty() {
                label
            } else {
                named.to_owned()
            };
            (id, label)
        })
        .collect()
}

/// The measures of a disparity year that may have no value.
const DISPERSION: [&str; 6] = [
    "range",
    "max_min_ratio",
    "cv",
    "cv_weighted",
    "gini",
    "top_bottom_ratio",
];

pub(super) fn disparities(a: &Answer<Disparities>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let d = &a.value;
    let ind = &d.indicator;
    let (level, borders) = d.on;
    let beta_slope: Measure = d.beta.as_ref().map(|(b, _)| *b).map_err(Clone::clone);
    let beta_areas = d.beta.as_ref().ok().map(|(_, n)| *n);
    match shape {
        Shape::Csv(_, dialect) => {
            let mut header: Vec<String> = [
                "indicator",
                "level",
                "borders",
                "year",
                "areas",
                "areas_expected",
                "areas_with_population",
                "min",
                "max",
            ]
            .map(str::to_owned)
            .to_vec();
            for m in DISPERSION.iter().chain(&["sigma_slope", "beta_slope"]) {
                header.extend([(*m).to_owned(), format!("{m}_why_not")]);
            }
            header.extend(["beta_areas", "unit", "indicator_name"].map(str::to_owned));
            let name = labels.indicator(&ind.id);
            let rows: Vec<Vec<Field>> = d
                .years
                .iter()
                .map(|y| {
                    let x = &y.dispersion;
                    let mut row: Vec<Field> = vec![
                        ind.id.as_str().into(),
                        level.as_str().into(),
                        text(borders),
                        y.year.into(),
                        x.areas.into(),
                        y.expected.into(),
                        x.weighted_areas.into(),
                        num(x.min),
                        num(x.max),
                    ];
                    for m in of_year(x).into_iter().chain([&d.sigma, &beta_slope]) {
                        row.extend(measure_fields(m));
                    }
                    row.extend([
                        text(beta_areas),
                        ind.unit.as_str().into(),
                        name.as_str().into(),
                    ]);
                    row
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let mut ids = vec![
                "areas",
                "areas_expected",
                "areas_with_population",
                "min",
                "max",
            ];
            ids.extend(DISPERSION);
            let mut values = Vec::new();
            let mut why_not = Map::new();
            for y in &d.years {
                let x = &y.dispersion;
                values.extend([
                    Some(f64::from(x.areas)),
                    Some(f64::from(y.expected)),
                    Some(f64::from(x.weighted_areas)),
                    x.min,
                    x.max,
                ]);
                values.extend(of_year(x).map(value));
                let why = reasons(DISPERSION.into_iter().zip(of_year(x)));
                if !why.is_empty() {
                    why_not.insert(y.year.to_string(), Value::Object(why));
                }
            }
            let years: Vec<(String, String)> = d
                .years
                .iter()
                .map(|y| (y.year.to_string(), y.year.to_string()))
                .collect();
            let dims = [
                Dim::indicators(
                    &labels,
                    std::iter::once((ind.id.as_str(), ind.unit.as_str(), ind.decimals)),
                ),
                level_dim(level),
                Dim::new("year", "year", years),
                Dim::new("measure", "measure", dispersion_labels(&ids)),
                Dim::borders(borders),
                Dim::as_of(a, &labels),
            ];
            let (from, to) = (
                d.years.first().map(|y| y.year),
                d.years.last().map(|y| y.year),
            );
            let extension = json!({"as_of_sequence": a.as_of_sequence, "indicator": ind.id,
                "level": level.as_str(), "borders": borders, "from_year": from, "to_year": to,
                "why_not": why_not,
                "convergence": {"sigma_slope": measure_json(&d.sigma),
                    "beta_slope": measure_json(&beta_slope), "beta_areas": beta_areas}});
            dataset(
                format!(
                    "{} by {}, {}-{}: disparities",
                    labels.indicator(&ind.id),
                    level.as_str().replace('_', " "),
                    from.unwrap_or_default(),
                    to.unwrap_or_default()
                ),
                &labels,
                &dims,
                &values,
                extension,
            )
        }
    }
}

/// A target's id in a dataset: `AREA:indicator:year` (codes and ids have no `:`).
fn target_id(p: &TargetProgress) -> String {
    let t = &p.target;
    format!("{}:{}:{}", t.area, t.indicator, t.year)
}

pub(super) fn targets(a: &Answer<Vec<TargetProgress>>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let targets = &a.value;
    match shape {
        Shape::Csv(_, dialect) => {
            let header = [
                "area",
                "indicator",
                "year",
                "target_value",
                "source",
                "note",
                "borders",
                "latest_year",
                "latest_value",
                "gap",
                "needed_pace",
                "needed_pace_why_not",
                "recent_pace",
                "recent_pace_why_not",
                "status",
                "reason",
                "unit",
                "area_name",
                "indicator_name",
            ];
            let rows: Vec<Vec<Field>> = targets
                .iter()
                .map(|p| {
                    let t = &p.target;
                    let mut row: Vec<Field> = vec![
                        t.area.as_str().into(),
                        t.indicator.as_str().into(),
                        t.year.into(),
                        num(Some(t.value)),
                        t.source.as_str().into(),
                        t.note.as_str().into(),
                        text(p.borders),
                        text(p.latest.map(|(y, _)| y)),
                        num(p.latest.map(|(_, v)| v)),
                        num(p.gap),
                    ];
                    row.extend(measure_fields(&p.needed_pace));
                    row.extend(measure_fields(&p.recent_pace));
                    row.extend([
                        p.status.as_str().into(),
                        p.why.as_str().into(),
                        labels.unit(&t.indicator).0.into(),
                        labels.area(&t.area).into(),
                        labels.indicator(&t.indicator).into(),
                    ]);
                    row
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let ids = [
                "target_value",
                "latest_year",
                "latest_value",
                "gap",
                "needed_pace",
                "recent_pace",
            ];
            let mut values = Vec::new();
            let mut why_not = Map::new();
            let mut about = Map::new();
            let mut dim = Dim::new("target", "target", Vec::new());
            for p in targets {
                let t = &p.target;
                let id = target_id(p);
                dim.categories.push((
                    id.clone(),
                    format!(
                        "{}: {} by {}",
                        labels.area(&t.area),
                        labels.indicator(&t.indicator),
                        t.year
                    ),
                ));
                dim.units.insert(id.clone(), labels.unit(&t.indicator));
                values.extend([
                    Some(t.value),
                    p.latest.map(|(y, _)| f64::from(y)),
                    p.latest.map(|(_, v)| v),
                    p.gap,
                    value(&p.needed_pace),
                    value(&p.recent_pace),
                ]);
                let mut why = reasons([
                    ("needed_pace", &p.needed_pace),
                    ("recent_pace", &p.recent_pace),
                ]);
                if p.latest.is_none() {
                    for m in ["latest_year", "latest_value", "gap"] {
                        why.insert(m.to_owned(), json!(p.why));
                    }
                }
                if !why.is_empty() {
                    why_not.insert(id.clone(), Value::Object(why));
                }
                about.insert(
                    id,
                    json!({"area": t.area, "indicator": t.indicator, "year": t.year,
                        "source": t.source, "note": t.note, "status": p.status.as_str(),
                        "reason": p.why}),
                );
            }
            let borders = targets.first().and_then(|p| p.borders);
            let dims = [
                dim,
                Dim::new("measure", "measure", measures(&ids)),
                Dim::borders(borders),
                Dim::as_of(a, &labels),
            ];
            let extension = json!({"as_of_sequence": a.as_of_sequence, "borders": borders,
                "targets": about, "why_not": why_not});
            dataset(
                "targets against the latest figures".to_owned(),
                &labels,
                &dims,
                &values,
                extension,
            )
        }
    }
}

/// The indicators compared on, as the `indicators` parameter writes them.
fn compared_on(s: &Similar) -> String {
    s.indicators
        .iter()
        .map(|(id, w)| format!("{id}:{w}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn similar(a: &Answer<Similar>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let s = &a.value;
    let borders = s.on.1;
    match shape {
        Shape::Csv(_, dialect) => {
            let mut header: Vec<String> = [
                "area",
                "year",
                "borders",
                "rank",
                "similar_area",
                "distance",
                "indicators_shared",
            ]
            .map(str::to_owned)
            .to_vec();
            for i in 1..=CLOSEST {
                header.extend([format!("closest_{i}"), format!("closest_{i}_difference")]);
            }
            header.extend(
                [
                    "compared_on",
                    "indicators_of_area",
                    "areas_compared",
                    "areas_too_little_shared",
                    "area_name",
                    "similar_area_name",
                ]
                .map(str::to_owned),
            );
            let on = compared_on(s);
            let area_name = labels.area(&s.area);
            let rows: Vec<Vec<Field>> = s
                .nearest
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let mut row: Vec<Field> = vec![
                        s.area.as_str().into(),
                        s.year.into(),
                        text(borders),
                        (i + 1).into(),
                        n.area.as_str().into(),
                        num(Some(n.distance)),
                        n.shared.into(),
                    ];
                    for c in 0..CLOSEST {
                        match n.closest.get(c) {
                            Some((id, diff)) => row.extend([id.as_str().into(), num(Some(*diff))]),
                            None => row.extend(["".into(), num(None)]),
                        }
                    }
                    row.extend([
                        on.as_str().into(),
                        s.area_has.into(),
                        s.compared.into(),
                        s.too_little_shared.into(),
                        area_name.as_str().into(),
                        labels.area(&n.area).into(),
                    ]);
                    row
                })
                .collect();
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let ids = ["rank", "distance", "indicators_shared"];
            let mut values = Vec::new();
            let mut closest = Map::new();
            let mut areas = Vec::new();
            for (i, n) in s.nearest.iter().enumerate() {
                values.extend([
                    Some((i + 1) as f64),
                    Some(n.distance),
                    Some(f64::from(n.shared)),
                ]);
                areas.push((n.area.clone(), labels.area(&n.area)));
                let c: Vec<Value> = n
                    .closest
                    .iter()
                    .map(|(id, diff)| json!({"indicator": id, "difference": diff}))
                    .collect();
                closest.insert(n.area.clone(), json!(c));
            }
            let dims = [
                Dim::area(&labels, &s.area),
                Dim::year(s.year),
                Dim::new("similar_area", "similar area", areas),
                Dim::new("measure", "measure", measures(&ids)),
                Dim::borders(borders),
                Dim::as_of(a, &labels),
            ];
            let indicators: Vec<Value> = s
                .indicators
                .iter()
                .map(|(id, w)| json!({"indicator": id, "weight": w, "name": labels.indicator(id)}))
                .collect();
            let extension = json!({"as_of_sequence": a.as_of_sequence, "area": s.area,
                "year": s.year, "borders": borders, "level": s.on.0.as_str(),
                "indicators": indicators, "indicators_of_area": s.area_has,
                "areas_compared": s.compared, "areas_too_little_shared": s.too_little_shared,
                "closest": closest});
            dataset(
                format!("{} {}: similar areas", labels.area(&s.area), s.year),
                &labels,
                &dims,
                &values,
                extension,
            )
        }
    }
}

pub(super) fn forerunners(a: &Answer<Forerunners>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let f = &a.value;
    let ind = &f.indicator;
    let (level, borders) = f.on;
    let ranked = &f.ranked[..f.listed.min(f.ranked.len())];
    match shape {
        Shape::Csv(_, dialect) => {
            let header = [
                "indicator",
                "level",
                "borders",
                "from_year",
                "to_year",
                "rank",
                "area",
                "from_value",
                "to_value",
                "change",
                "improvement",
                "left_out_reason",
                "areas_ranked",
                "unit",
                "area_name",
                "indicator_name",
            ];
            let name = labels.indicator(&ind.id);
            let row = |rank: Option<u32>, area: &str, figures: [Option<f64>; 4], why: &str| {
                let mut row: Vec<Field> = vec![
                    ind.id.as_str().into(),
                    level.as_str().into(),
                    text(borders),
                    f.from.into(),
                    f.to.into(),
                    text(rank),
                    area.into(),
                ];
                row.extend(figures.map(num));
                row.extend([
                    why.into(),
                    f.ranked.len().into(),
                    ind.unit.as_str().into(),
                    labels.area(area).into(),
                    name.as_str().into(),
                ]);
                row
            };
            let mut rows: Vec<Vec<Field>> = ranked
                .iter()
                .map(|r| {
                    let figures = [r.from_value, r.to_value, r.change, r.improvement];
                    row(Some(r.rank), &r.area, figures.map(Some), "")
                })
                .collect();
            rows.extend((f.left_out.iter()).map(|(area, why)| row(None, area, [None; 4], why)));
            table::write(&header, &rows, dialect)
        }
        Shape::Json => {
            let ids = ["rank", "from_value", "to_value", "change", "improvement"];
            let mut values = Vec::new();
            let mut areas = Vec::new();
            for r in ranked {
                values.extend([
                    Some(f64::from(r.rank)),
                    Some(r.from_value),
                    Some(r.to_value),
                    Some(r.change),
                    Some(r.improvement),
                ]);
                areas.push((r.area.clone(), labels.area(&r.area)));
            }
            // An area left out has no figures: its reason stands for each of them.
            let mut why_not = Map::new();
            for (area, why) in &f.left_out {
                values.extend([None; 5]);
                areas.push((area.clone(), labels.area(area)));
                let each: Map<String, Value> =
                    ids.iter().map(|m| ((*m).to_owned(), json!(why))).collect();
                why_not.insert(area.clone(), Value::Object(each));
            }
            let dims = [
                Dim::indicators(
                    &labels,
                    std::iter::once((ind.id.as_str(), ind.unit.as_str(), ind.decimals)),
                ),
                level_dim(level),
                Dim::new("area", "area", areas),
                Dim::new("measure", "measure", measures(&ids)),
                Dim::borders(borders),
                Dim::as_of(a, &labels),
            ];
            let left_out: Vec<Value> = f
                .left_out
                .iter()
                .map(|(area, why)| json!({"area": area, "reason": why}))
                .collect();
            let extension = json!({"as_of_sequence": a.as_of_sequence, "indicator": ind.id,
                "level": level.as_str(), "borders": borders, "from_year": f.from,
                "to_year": f.to, "direction": ind.direction.as_str(),
                "areas_ranked": f.ranked.len(), "left_out": left_out, "why_not": why_not});
            dataset(
                format!(
                    "{} by {}, {}-{}: forerunners",
                    labels.indicator(&ind.id),
                    level.as_str().replace('_', " "),
                    f.from,
                    f.to
                ),
                &labels,
                &dims,
                &values,
                extension,
            )
        }
    }
}
