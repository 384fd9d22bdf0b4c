//! What there is to ask for: the catalog's areas, indicators and peer groups and the reporting
//! rounds as listings (JSON, or CSV), and the signposts `/` and `/v1/`.
//!
//! A listing is built once as rows of named values and written as JSON or CSV from them, so
//! the two forms cannot disagree. The CSV columns of the regions, indicators and groups are
//! those of the catalog files (`data/regions.csv`, `data/indicators.csv`, `data/groups.csv`),
//! with `name` (in `lang`) and what the file does not say after them.

use std::sync::Arc;

use serde_json::{json, Value};

use super::labels::{Labels, Lang};
use super::table::{self, Field};
use super::{Route, Shape, COMMON, ROUTES};
use crate::domain::{geo, Aggregation, Catalog, Round, NATIONAL_CODE};
use crate::projection::{IndicatorYear, Level, RoundStatus};
use crate::read::Answer;

/// A value of a listing.
enum V {
    /// Text; empty is `null` in JSON.
    Text(String),
    Number(Option<f64>),
    Whole(Option<i64>),
    /// Codes: an array in JSON, separated by spaces in CSV (as in the catalog files).
    Codes(Vec<String>),
    /// `true` or `false`.
    Bool(bool),
}

impl V {
    fn json(&self) -> Value {
        match self {
            V::Text(s) if s.is_empty() => Value::Null,
            V::Text(s) => json!(s),
            V::Number(x) => json!(x.filter(|x| x.is_finite())),
            V::Whole(n) => json!(n),
            V::Codes(c) => json!(c),
            V::Bool(b) => json!(b),
        }
    }

    fn field(&self) -> Field {
        match self {
            V::Text(s) => Field::Text(s.clone()),
            V::Number(x) => table::num(*x),
            V::Whole(n) => table::text(*n),
            V::Codes(c) => Field::Text(c.join(" ")),
            V::Bool(b) => Field::Text(b.to_string()),
        }
    }
}

fn t(s: impl Into<String>) -> V {
    V::Text(s.into())
}

/// A listing: its name (the JSON key of its entries), columns and rows.
struct Listing {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<V>>,
}

impl Listing {
    fn write(self, as_of_sequence: u64, shape: Shape) -> String {
        self.write_with(as_of_sequence, shape, serde_json::Map::new())
    }

    /// [`Listing::write`], with `about` (what holds for every row) beside the rows in JSON.
    fn write_with(
        self,
        as_of_sequence: u64,
        shape: Shape,
        about: serde_json::Map<String, Value>,
    ) -> String {
        match shape {
            Shape::Json => {
                let entries: Vec<Value> = self
                    .rows
                    .iter()
                    .map(|row| {
                        let entry: serde_json::Map<String, Value> = self
                            .columns
                            .iter()
                            .zip(row)
                            .map(|(c, v)| ((*c).to_owned(), v.json()))
                            .collect();
                        Value::Object(entry)
                    })
                    .collect();
                let mut out = about;
                out.insert("as_of_sequence".into(), json!(as_of_sequence));
                out.insert(self.name.into(), Value::Array(entries));
                format!("{}\n", Value::Object(out))
            }
            Shape::Csv(_, dialect) => {
                let rows: Vec<Vec<Field>> = self
                    .rows
                    .iter()
                    .map(|r| r.iter().map(V::field).collect())
                    .collect();
                table::write(self.columns, &rows, dialect)
            }
        }
    }
}

/// The regions (and the whole country) of the catalog at the answer's point.
pub(super) fn regions(a: &Answer<Arc<Catalog>>, shape: Shape, lang: Lang) -> String {
    let rows = a
        .value
        .regions
        .values()
        .map(|r| {
            let kind = if r.code == NATIONAL_CODE {
                "national"
            } else {
                "region"
            };
            vec![
                t(&r.code),
                t(&r.statfin_code),
                t(&r.name_fi),
                t(&r.name_sv),
                t(&r.name_en),
                t(&r.nuts3),
                V::Whole(r.first_year.map(i64::from)),
                V::Whole(r.last_year.map(i64::from)),
                t(lang
                    .pick(&r.name_fi, &r.name_sv, &r.name_en)
                    .unwrap_or(&r.code)),
                t(kind),
            ]
        })
        .collect();
    Listing {
        name: "regions",
        columns: &[
            "code",
            "statfin_code",
            "name_fi",
            "name_sv",
            "name_en",
            "nuts3",
            "first_year",
            "last_year",
            "name",
            "kind",
        ],
        rows,
    }
    .write(a.as_of_sequence, shape)
}

/// The municipalities of the catalog, a row per span of years in which each lay in one
/// place; with `borders`, only those of that division, each with its place then.
pub(super) fn municipalities(
    a: &Answer<Arc<Catalog>>,
    borders: Option<i32>,
    shape: Shape,
    lang: Lang,
) -> String {
    let mut rows = Vec::new();
    for m in a.value.municipalities.values() {
        let placements: Vec<_> = match borders {
            Some(d) => m.placement(d).into_iter().collect(),
            None => m.placements.iter().collect(),
        };
        for p in placements {
            rows.push(vec![
                t(&m.code),
                t(&m.name_fi),
                t(&m.name_sv),
                t(&m.name_en),
                V::Whole(Some(p.first_year.into())),
                V::Whole(Some(p.last_year.into())),
                t(&p.region),
                t(&p.sub_region),
                t(&p.sub_region_name),
                t(&p.county),
                t(&p.county_name),
                t(m.joined.clone().unwrap_or_default()),
                t(lang
                    .pick(&m.name_fi, &m.name_sv, &m.name_en)
                    .unwrap_or(&m.code)),
            ]);
        }
    }
    Listing {
        name: "municipalities",
        columns: &[
            "code",
            "name_fi",
            "name_sv",
            "name_en",
            "first_year",
            "last_year",
            "region",
            "sub_region",
            "sub_region_name",
            "county",
            "county_name",
            "joined",
            "name",
        ],
        rows,
    }
    .write(a.as_of_sequence, shape)
}

/// The indicators of the catalog: names, unit, theme, direction and the aggregation rule.
pub(super) fn indicators(a: &Answer<Arc<Catalog>>, shape: Shape, lang: Lang) -> String {
    let rows = a
        .value
        .indicators
        .values()
        .map(|i| {
            let (mut weight, mut numerator, mut denominator, mut scale) =
                (String::new(), String::new(), String::new(), None);
            match &i.aggregation {
                Aggregation::WeightedMean { weight: w } => weight = w.clone(),
                Aggregation::Ratio {
                    numerator: n,
                    denominator: d,
                    scale: s,
                } => (numerator, denominator, scale) = (n.clone(), d.clone(), Some(*s)),
                Aggregation::Sum | Aggregation::NationalOnly => {}
            }
            vec![
                t(&i.id),
                t(i.theme.as_str()),
                t(&i.name_fi),
                t(&i.name_en),
                t(&i.unit),
                V::Whole(Some(i.decimals.into())),
                t(i.direction.as_str()),
                V::Number(i.min_value),
                V::Number(i.max_value),
                t(i.aggregation.name()),
                t(weight),
                t(numerator),
                t(denominator),
                V::Number(scale),
                V::Whole(Some(i.min_year.into())),
                V::Whole(i.max_year.map(i64::from)),
                t(i.kind.as_str()),
                t(lang.pick(&i.name_fi, "", &i.name_en).unwrap_or(&i.id)),
            ]
        })
        .collect();
    Listing {
        name: "indicators",
        columns: &[
            "id",
            "theme",
            "name_fi",
            "name_en",
            "unit",
            "decimals",
            "direction",
            "min_value",
            "max_value",
            "aggregation",
            "weight_indicator",
            "numerator_indicator",
            "denominator_indicator",
            "scale",
            "min_year",
            "max_year",
            "kind",
            "name",
        ],
        rows,
    }
    .write(a.as_of_sequence, shape)
}

/// The peer groups of the catalog and their members.
pub(super) fn groups(a: &Answer<Arc<Catalog>>, shape: Shape, lang: Lang) -> String {
    let rows = a
        .value
        .groups
        .values()
        .map(|g| {
            vec![
                t(&g.id),
                t(&g.name_fi),
                t(&g.name_sv),
                t(&g.name_en),
                V::Codes(g.members.clone()),
                t(&g.source),
                t(lang
                    .pick(&g.name_fi, &g.name_sv, &g.name_en)
                    .unwrap_or(&g.id)),
            ]
        })
        .collect();
    Listing {
        name: "groups",
        columns: &[
            "id", "name_fi", "name_sv", "name_en", "members", "source", "name",
        ],
        rows,
    }
    .write(a.as_of_sequence, shape)
}

/// The reporting rounds: what each year's round expects by when.
pub(super) fn rounds(a: &Answer<Vec<(u64, Round)>>, shape: Shape) -> String {
    let rows = a
        .value
        .iter()
        .map(|(opened, r)| {
            vec![
                V::Whole(Some(r.year.into())),
                t(super::render::ts(r.deadline_micros)),
                V::Codes(r.indicators.clone()),
                V::Codes(r.regions.clone()),
                V::Whole(Some((r.indicators.len() * r.regions.len()) as i64)),
                V::Whole(i64::try_from(*opened).ok()),
            ]
        })
        .collect();
    Listing {
        name: "rounds",
        columns: &[
            "year",
            "deadline",
            "indicators",
            "regions",
            "figures_expected",
            "opened_sequence",
        ],
        rows,
    }
    .write(a.as_of_sequence, shape)
}

/// The divisions, latest first: their source, and whether they say where each
/// municipality lay (those before the municipality key say which regions there were).
pub(super) fn divisions(a: &Answer<Arc<Catalog>>, shape: Shape) -> String {
    let catalog = &a.value;
    let rows = catalog
        .divisions
        .values()
        .rev()
        .map(|d| {
            vec![
                V::Whole(Some(i64::from(d.year))),
                t(&d.source),
                V::Bool(catalog.has_membership(d.year)),
            ]
        })
        .collect();
    Listing {
        name: "divisions",
        columns: &["year", "source", "municipalities"],
        rows,
    }
    .write(a.as_of_sequence, shape)
}

/// What a round has received, region by region, at the answer's point: the deadline and
/// whether it has passed beside the rows.
pub(super) fn round_status(a: &Answer<RoundStatus>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let status = &a.value;
    let expected = status.round.indicators.len();
    let rows = status
        .regions
        .iter()
        .map(|r| {
            vec![
                t(&r.region),
                t(labels.area(&r.region)),
                V::Whole(Some(expected as i64)),
                V::Whole(Some(r.reported.len() as i64)),
                V::Codes(r.reported.clone()),
                V::Codes(r.missing.clone()),
                V::Bool(r.overdue),
            ]
        })
        .collect();
    let about = json!({
        "year": status.round.year,
        "deadline": super::render::ts(status.round.deadline_micros),
        "deadline_passed": status.deadline_passed(),
        "at": super::render::ts(status.at_micros),
        "opened_sequence": status.opened_sequence,
    });
    Listing {
        name: "status",
        columns: &[
            "region",
            "name",
            "expected",
            "reported_count",
            "reported",
            "missing",
            "overdue",
        ],
        rows,
    }
    .write_with(a.as_of_sequence, shape, object(about))
}

/// An indicator's figure of every area of a level in a year, in code order: an area without
/// one has an empty value (and no rank).
pub(super) fn areas(a: &Answer<Arc<IndicatorYear>>, shape: Shape, lang: Lang) -> String {
    let labels = Labels::new(a, lang);
    let iy = &a.value;
    let ranked = iy.regions_ranked();
    let rows = iy
        .areas
        .iter()
        .map(|area| {
            let figure = iy.figure_of(area);
            let (value, status, rank, origin, borders) = match figure {
                Some((f, rank)) => (
                    Some(f.value),
                    f.status().as_str(),
                    (rank > 0).then_some(i64::from(rank)),
                    if f.origin.derived().is_some() {
                        "municipalities"
                    } else {
                        "reported"
                    },
                    f.origin.borders().map(i64::from),
                ),
                None => (None, "", None, "", None),
            };
            vec![
                t(area),
                t(labels.area(area)),
                V::Number(value),
                t(status),
                V::Whole(rank),
                V::Whole(Some(i64::from(ranked))),
                t(origin),
                V::Whole(borders),
            ]
        })
        .collect();
    let about = json!({
        "indicator": iy.indicator.id,
        "indicator_name": labels.indicator(&iy.indicator.id),
        "unit": iy.indicator.unit,
        "direction": iy.indicator.direction.as_str(),
        "level": iy.on.0.as_str(),
        "borders": iy.on.1,
        "national_value": iy.national(),
    });
    Listing {
        name: "areas",
        columns: &[
            "area",
            "name",
            "value",
            "status",
            "rank",
            "ranked",
            "from",
            "reported_on",
        ],
        rows,
    }
    .write_with(a.as_of_sequence, shape, object(about))
}

/// A division's areas drawn as SVG path data in a `0 0 width height` box, with the
/// boundaries' attribution beside them.
pub(super) fn map(
    a: &Answer<Arc<Catalog>>,
    map: &geo::Map,
    level: Level,
    shape: Shape,
    lang: Lang,
) -> String {
    let labels = Labels::new(a, lang);
    let rows = map
        .areas
        .iter()
        .map(|area| {
            vec![
                t(&area.code),
                t(labels.area(&area.code)),
                t(&area.fill),
                t(&area.outline),
            ]
        })
        .collect();
    let about = json!({
        "borders": map.borders,
        "boundaries": map.boundaries,
        "level": level.as_str(),
        "approximate": map.approximate,
        "width": geo::WIDTH,
        "height": geo::HEIGHT,
        "attribution": geo::ATTRIBUTION,
    });
    Listing {
        name: "areas",
        columns: &["code", "name", "fill", "outline"],
        rows,
    }
    .write_with(a.as_of_sequence, shape, object(about))
}

fn object(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `/`: where to go.
pub(super) fn root() -> String {
    let out = json!({
        "service": "tilannekuva",
        "title": "Finland's national situation picture of regional development",
        "links": {
            "open_data": "/v1/",
            "openapi": "/openapi.json",
            "metrics": "/metrics",
            "healthz": "/healthz",
            "readyz": "/readyz",
        },
    });
    format!("{out}\n")
}

/// `/v1/`: every endpoint of the open data, from the routing table itself.
pub(super) fn index() -> String {
    let endpoints: Vec<Value> = ROUTES
        .iter()
        .map(|r: &&Route| {
            let mut parameters: Vec<&str> = r.parameters.to_vec();
            parameters.extend(COMMON);
            json!({
                "name": r.name,
                "href": r.path,
                "templated": r.path.contains('{'),
                "title": r.title,
                "formats": r.kind.formats(),
                "parameters": parameters,
            })
        })
        .collect();
    let out = json!({
        "title": "tilannekuva open data, version 1",
        "description": "Finland's national situation picture of regional development: the \
            region, national and peer group pictures, series and revision histories, and the \
            analyses of them (disparities, targets, similar areas, forerunners) as JSON-stat \
            2.0 or CSV, and the catalog they are made of. Every endpoint below \
            needs `Authorization: Bearer <token>` when the server has an auth file. \
            Parameters and answers: /openapi.json.",
        "openapi": "/openapi.json",
        "endpoints": endpoints,
        "csv": {
            "format": "format=csv or Accept: text/csv",
            "layout": "layout=wide (the default: each endpoint's own columns) or layout=long \
                (one row per figure, the same columns from every endpoint, to stack); the \
                analyses have their own columns only",
            "csv_dialect": "csv_dialect=international (`,` and a decimal point; the default) \
                or csv_dialect=fi (`;`, a decimal comma and a UTF-8 byte order mark, for a \
                spreadsheet in a Finnish locale; the default with lang=fi)",
        },
    });
    format!("{out}\n")
}
