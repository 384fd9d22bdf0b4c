//! A table and its mapping into submissions: what would be submitted, and what is skipped
//! and why. One home for the step, shared by `tilannekuva import-table` (its dry run
//! prints the plan, its import sends it over gRPC) and the bundled demo (which records it
//! through the write path).
//!
//! Every figure names its release in its `source` (publisher, table id, title, update
//! time, SHA-256 of the file) and carries the release's update time as its publication
//! time; every submission of one release has a submission id made of the table id, the
//! digest and the area, so importing the same release again records nothing. A figure
//! the table marks as preliminary is provisional.

use std::collections::{BTreeMap, HashSet};

use crate::domain::areas::Grouping;
use crate::domain::catalog::NATIONAL_CODE;
use crate::domain::validate::{ObservationInput, MAX_OBSERVATIONS, MAX_TEXT_LEN};
use crate::domain::{Catalog, Status};

use super::mapping::{AreaNames, Mapping, MonthRule, TimeUnit};
use super::{symbol_meaning, Datum, Table};

/// Skipped cells kept with their reasons (beyond this only counted): a plan of a large
/// table stays small, and the reasons repeat.
const MAX_SKIPS_KEPT: usize = 10_000;

/// What a table becomes under a mapping.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The release as every figure cites it.
    pub(crate) citation: String,
    /// When the release was published (`None`: neither the file nor the mapping says; its
    /// figures count as published when recorded).
    pub(crate) published_micros: Option<i64>,
    pub(crate) borders: i32,
    /// Submissions in area order: (submission id, area code, observations).
    pub(crate) submissions: Vec<(String, String, Vec<ObservationInput>)>,
    /// The first [`MAX_SKIPS_KEPT`] cells skipped, with their reasons.
    pub(crate) skipped: Vec<Skip>,
    /// All cells skipped.
    pub(crate) skipped_total: u64,
    /// The table's cells, and those with a value.
    pub(crate) cells: u64,
    pub(crate) values_present: u64,
}

/// A cell of the mapped part of a table that is not submitted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Skip {
    /// The area as the table names it.
    pub(crate) area: String,
    pub(crate) indicator: String,
    /// The year (or its time category).
    pub(crate) time: String,
    pub(crate) reason: String,
}

impl Plan {
    /// The number of figures it would submit.
    pub(crate) fn figures(&self) -> usize {
        self.submissions.iter().map(|(_, _, o)| o.len()).sum()
    }

    fn skip(&mut self, area: &str, indicator: &str, time: &str, reason: String) {
        self.skipped_total += 1;
        if self.skipped.len() < MAX_SKIPS_KEPT {
            self.skipped.push(Skip {
                area: area.to_owned(),
                indicator: indicator.to_owned(),
                time: time.to_owned(),
                reason,
            });
        }
    }

    /// Skips counted by reason (the reason's words before any number), most first.
    pub(crate) fn skip_summary(&self) -> Vec<(String, usize)> {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for s in &self.skipped {
            let kind = s.reason.split(':').next().unwrap_or(&s.reason).to_owned();
            *by.entry(kind).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// A time category read: its year (and month), and whether it is preliminary.
#[derive(Debug, Clone, Copy)]
struct Time {
    year: i32,
    month: Option<u32>,
    preliminary: bool,
}

/// Reads a time category: "2020", "2020*", "2020M04", "2020-04", "2020M4".
fn read_time(
    code: &str,
    label: &str,
    unit: TimeUnit,
    suffix: &str,
) -> Option<(i32, Option<u32>, bool)> {
    let preliminary = !suffix.is_empty() && (label.ends_with(suffix) || code.ends_with(suffix));
    let s = code.trim().trim_end_matches(suffix).trim();
    match unit {
        TimeUnit::Year => {
            let y: i32 = s.parse().ok()?;
            (1000..=9999).contains(&y).then_some((y, None, preliminary))
        }
        TimeUnit::Month => {
            let (y, m) = s.split_once('M').or_else(|| s.split_once('-'))?;
            let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
            ((1000..=9999).contains(&y) && (1..=12).contains(&m)).then_some((
                y,
                Some(m),
                preliminary,
            ))
        }
    }
}

/// The catalog's area for an area category, or why there is none.
fn area_code(
    catalog: &Catalog,
    mapping: &Mapping,
    code: &str,
    label: &str,
) -> Result<String, String> {
    let rule = &mapping.area;
    let borders = mapping.table.borders;
    let whole = |s: &str| s == NATIONAL_CODE || rule.whole_country.iter().any(|w| w == s);
    if whole(code) || whole(label) {
        return Ok(NATIONAL_CODE.to_owned());
    }
    let candidate = match rule.names {
        AreaNames::Code => format!("{}{}", rule.prefix, code.trim()),
        AreaNames::Label => format!(
            "{}{}",
            rule.prefix,
            label.split_whitespace().next().unwrap_or_default()
        ),
        AreaNames::Name => {
            let name = label.trim();
            let on = catalog
                .municipalities_on(borders)
                .find(|m| m.name_fi == name || m.name_sv == name)
                .map(|m| m.code.clone())
                .or_else(|| {
                    catalog
                        .regions_on(Some(borders), borders)
                        .find(|r| r.name_fi == name || r.name_sv == name)
                        .map(|r| r.code.clone())
                });
            return on.ok_or_else(|| {
                format!("unknown area: no municipality or region is named {name:?} on the {borders} borders")
            });
        }
    };
    if Grouping::of_code(&candidate).is_some() {
        return Err(format!(
            "derived area: {candidate} is put together from its municipalities, not submitted"
        ));
    }
    if let Some(m) = catalog.municipalities.get(&candidate) {
        return match m.placement(borders) {
            Some(_) => Ok(candidate),
            None => Err(format!(
                "unknown area: {candidate} was not a municipality on the {borders} borders"
            )),
        };
    }
    match catalog.resolve_region(&candidate) {
        Some(r) if r.in_force(borders) => Ok(r.code.clone()),
        Some(r) => Err(format!(
            "unknown area: {} was not a region on the {borders} borders",
            r.code
        )),
        None => Err(format!(
            "unknown area: {:?} is no area of the catalog",
            crate::domain::text::clip(&candidate)
        )),
    }
}

/// The plan of `table` under `mapping`, against `catalog` (areas, indicators and their
/// ranges). `Err` is a mapping that does not fit the table: a dimension or category it
/// names that the table does not have, a dimension it leaves open, an unknown indicator.
pub(crate) fn plan(
    table: &Table,
    mapping: &Mapping,
    catalog: &Catalog,
    current_year: i32,
) -> Result<Plan, String> {
    if let (Some(want), false) = (&mapping.table.id, table.id.is_empty()) {
        if *want != table.id {
            return Err(format!(
                "the file is table {:?}; the mapping is for {want:?}",
                table.id
            ));
        }
    }
    let published_micros = match (table.updated_micros, &mapping.table.published) {
        (Some(t), _) => Some(t),
        (None, Some(p)) => Some(
            crate::domain::text::instant(p, crate::domain::text::Day::Start)
                .map_err(|why| format!("[table] published: {why}"))?,
        ),
        (None, None) => None,
    };
    let dim = |name: &str, what: &str| {
        table.dimension(name).ok_or_else(|| {
            format!(
                "{what} names dimension {name:?}, which table {} does not have (it has: {})",
                if table.id.is_empty() {
                    "(no id)"
                } else {
                    &table.id
                },
                table.dimension_ids()
            )
        })
    };
    let area_dim = match &mapping.area.dimension {
        Some(name) => Some(dim(name, "[area] dimension")?),
        None => None,
    };
    let time_dim = match &mapping.time.dimension {
        Some(name) => Some(dim(name, "[time] dimension")?),
        None => None,
    };
    if area_dim.is_some() && area_dim == time_dim {
        return Err("[area] and [time] name the same dimension".into());
    }
    for name in mapping.select.keys() {
        dim(name, "[select]")?;
    }
    let suffix = &mapping.provisional.label_suffix;
    let fixed = match (&mapping.time.year, &mapping.time.year_at) {
        (Some(y), _) => Some(*y),
        (None, Some(p)) => {
            let v = extension(table, p)?;
            let year = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .and_then(|y| i32::try_from(y).ok())
                .filter(|y| (1000..=9999).contains(y));
            Some(year.ok_or_else(|| format!("[time] year_at {p:?}: {v} is not a year"))?)
        }
        (None, None) => None,
    };
    let time_categories = time_dim.map_or(&[][..], |t| &table.dimensions[t].categories[..]);
    let mut times: Vec<Option<Time>> = time_categories
        .iter()
        .map(|c| {
            read_time(&c.code, c.label(), mapping.time.unit, suffix).map(|(year, month, star)| {
                let note = c.note.to_lowercase();
                let noted = mapping
                    .provisional
                    .note_words
                    .iter()
                    .any(|w| !w.is_empty() && note.contains(&w.to_lowercase()));
                Time {
                    year,
                    month,
                    preliminary: star || noted,
                }
            })
        })
        .collect();
    if let Some(year) = fixed {
        times.push(Some(Time {
            year,
            month: None,
            preliminary: false,
        }));
    }
    let mut plan = Plan {
        citation: cite(table, mapping),
        published_micros,
        borders: mapping.table.borders,
        submissions: Vec::new(),
        skipped: Vec::new(),
        skipped_total: 0,
        cells: table.cells(),
        values_present: table.values_present(),
    };
    for (c, t) in time_categories.iter().zip(&times) {
        if t.is_none() {
            let unit = match mapping.time.unit {
                TimeUnit::Year => "a year",
                TimeUnit::Month => "a month (2020M04)",
            };
            plan.skip(
                "",
                "",
                c.label(),
                format!("not a time: {:?} is not {unit}", c.code),
            );
        }
    }
    // Areas, resolved once: (the table's name, the catalog's code).
    let mut seen = HashSet::new();
    let fixed_area = match (&mapping.area.code, &mapping.area.code_at) {
        (Some(code), _) => Some(code.clone()),
        (None, Some(p)) => Some(
            extension(table, p)?
                .as_str()
                .ok_or_else(|| format!("[area] code_at {p:?} is not a text"))?
                .to_owned(),
        ),
        (None, None) => None,
    };
    let areas: Vec<(String, Result<String, String>)> = match (area_dim, fixed_area) {
        (Some(a), _) => table.dimensions[a]
            .categories
            .iter()
            .map(|c| {
                let code = area_code(catalog, mapping, &c.code, c.label()).and_then(|code| {
                    if seen.insert(code.clone()) {
                        Ok(code)
                    } else {
                        Err(format!(
                            "duplicate area: {code} is named twice in the table"
                        ))
                    }
                });
                (c.label().to_owned(), code)
            })
            .collect(),
        (None, Some(code)) => vec![(code.clone(), area_code(catalog, mapping, &code, &code))],
        (None, None) => return Err("[area] gives no dimension, code or code_at".into()),
    };
    // The time categories of each year, in order: the same for every area and indicator.
    let mut years: BTreeMap<i32, Vec<(usize, Time)>> = BTreeMap::new();
    for (k, t) in times.iter().enumerate() {
        if let Some(t) = t {
            years.entry(t.year).or_default().push((k, *t));
        }
    }
    let correction_reason = revision_reason(table);
    let mut by_area: BTreeMap<String, Vec<ObservationInput>> = BTreeMap::new();
    for rule in &mapping.indicators {
        let content_dim = match &rule.dimension {
            Some(name) => dim(name, &format!("indicator {}: dimension", rule.indicator))?,
            None => table
                .dimensions
                .iter()
                .position(|d| d.role == Some(super::Role::Metric))
                .ok_or_else(|| {
                    format!(
                        "indicator {}: the table marks no content dimension; give its \
                         dimension (one of: {})",
                        rule.indicator,
                        table.dimension_ids()
                    )
                })?,
        };
        if Some(content_dim) == area_dim || Some(content_dim) == time_dim {
            return Err(format!(
                "indicator {}: the content dimension is the area or time dimension",
                rule.indicator
            ));
        }
        let cd = &table.dimensions[content_dim];
        // (content category, indicator): the one named, or with "*" every category that is
        // a catalog indicator.
        let targets: Vec<(usize, &crate::domain::Indicator)> = if rule.content == "*" {
            let mut v = Vec::new();
            for (k, c) in cd.categories.iter().enumerate() {
                match catalog.indicators.get(&c.code) {
                    Some(ind) => v.push((k, ind)),
                    None => plan.skip(
                        "",
                        &c.code,
                        "",
                        format!(
                            "unknown indicator: {:?} is no indicator of the catalog",
                            c.code
                        ),
                    ),
                }
            }
            v
        } else {
            let ind = catalog.indicators.get(&rule.indicator).ok_or_else(|| {
                format!(
                    "[[indicator]] {:?} is not an indicator of the catalog",
                    rule.indicator
                )
            })?;
            let content = cd.category(&rule.content).ok_or_else(|| {
                format!(
                    "indicator {}: {:?} is not a category of dimension {:?} (it has: {})",
                    rule.indicator,
                    rule.content,
                    cd.id,
                    first_codes(cd)
                )
            })?;
            vec![(content, ind)]
        };
        // Every other dimension: its selected category.
        let mut at = vec![0usize; table.dimensions.len()];
        for (i, d) in table.dimensions.iter().enumerate() {
            if Some(i) == area_dim || Some(i) == time_dim || i == content_dim {
                continue;
            }
            let chosen = rule
                .select
                .iter()
                .chain(&mapping.select)
                .find(|(name, _)| d.is_named(name))
                .map(|(_, c)| c);
            at[i] = match chosen {
                Some(c) => d.category(c).ok_or_else(|| {
                    format!(
                        "[select] {:?} = {c:?} is not a category of it (it has: {})",
                        d.id,
                        first_codes(d)
                    )
                })?,
                None if d.categories.len() == 1 => 0,
                None => {
                    return Err(format!(
                        "dimension {:?} has {} categories ({}): say which to take in [select]",
                        d.id,
                        d.categories.len(),
                        first_codes(d)
                    ))
                }
            };
        }
        for (content, ind) in targets {
            at[content_dim] = content;
            let content_label = cd.categories[content].label().to_owned();
            let mut note = match rule.rule {
                Some(r) => format!("{content_label}: {} of the months", r.as_str()),
                None => content_label.clone(),
            };
            if rule.scale != 1.0 {
                note.push_str(&format!("; times {}", rule.scale));
            }
            let note = crate::domain::text::cut(&note, MAX_TEXT_LEN);
            for (a, (name, code)) in areas.iter().enumerate() {
                if let Some(d) = area_dim {
                    at[d] = a;
                }
                let code = match code {
                    Ok(code) => code,
                    Err(why) => {
                        plan.skip(name, &ind.id, "", why.clone());
                        continue;
                    }
                };
                for (&year, cats) in &years {
                    let datum = |k: usize, at: &mut Vec<usize>| {
                        if let Some(t) = time_dim {
                            at[t] = k;
                        }
                        table.datum(table.index(at))
                    };
                    let taken = match rule.rule {
                        None => {
                            let (k, t) = cats[0];
                            value_of(datum(k, &mut at), &mapping.provisional.statuses)
                                .map(|(v, p)| (v, p || t.preliminary))
                        }
                        Some(MonthRule::End) => match cats.iter().find(|(_, t)| t.month == Some(12)) {
                            None => Err(format!(
                                "no end of the year: the table has no December of {year} (rule: {})",
                                MonthRule::End.as_str()
                            )),
                            Some((k, t)) => value_of(datum(*k, &mut at), &mapping.provisional.statuses)
                                .map(|(v, p)| (v, p || t.preliminary)),
                        },
                        Some(MonthRule::Mean) => {
                            let mut sum = 0.0;
                            let mut preliminary = false;
                            let mut months = HashSet::new();
                            let mut missing = None;
                            for (k, t) in cats {
                                match value_of(datum(*k, &mut at), &mapping.provisional.statuses) {
                                    Ok((v, p)) => {
                                        if months.insert(t.month) {
                                            sum += v;
                                        }
                                        preliminary |= p || t.preliminary;
                                    }
                                    Err(why) => missing = Some(why),
                                }
                            }
                            match (months.len(), missing) {
                                (12, None) => Ok((sum / 12.0, preliminary)),
                                (_, Some(why)) => Err(why),
                                (n, None) => Err(format!(
                                    "incomplete year: {n} of 12 months of {year} (rule: {})",
                                    MonthRule::Mean.as_str()
                                )),
                            }
                        }
                    };
                    let ystr = year.to_string();
                    let (value, preliminary) = match taken {
                        Ok(x) => x,
                        Err(why) => {
                            plan.skip(name, &ind.id, &ystr, why);
                            continue;
                        }
                    };
                    // Float noise of a mean or a scale is not a figure's precision.
                    let value = round(value * rule.scale);
                    if let Err(why) = ind.check_year(year, current_year) {
                        plan.skip(
                            name,
                            &ind.id,
                            &ystr,
                            format!("outside the indicator's years: {why}"),
                        );
                        continue;
                    }
                    let below = ind.min_value.is_some_and(|lo| value < lo);
                    let above = ind.max_value.is_some_and(|hi| value > hi);
                    if below || above {
                        plan.skip(
                            name,
                            &ind.id,
                            &ystr,
                            format!(
                                "outside the indicator's range: {value} is not within {}..{} of {}",
                                ind.min_value.map_or("".into(), |v| v.to_string()),
                                ind.max_value.map_or("".into(), |v| v.to_string()),
                                ind.id
                            ),
                        );
                        continue;
                    }
                    by_area
                        .entry(code.clone())
                        .or_default()
                        .push(ObservationInput {
                            indicator_id: ind.id.clone(),
                            year,
                            value,
                            status: Some(if preliminary {
                                Status::Provisional
                            } else {
                                Status::Final
                            }),
                            source: plan.citation.clone(),
                            note: note.clone(),
                            correction_reason: correction_reason.clone(),
                            borders: Some(mapping.table.borders),
                            published_micros,
                        });
                }
            }
        }
    }
    let id_part = crate::domain::text::cut(
        if table.id.is_empty() {
            "table"
        } else {
            &table.id
        },
        60,
    );
    for (code, observations) in by_area {
        let chunks = observations.len().div_ceil(MAX_OBSERVATIONS);
        for (n, chunk) in observations.chunks(MAX_OBSERVATIONS).enumerate() {
            let part = if chunks > 1 {
                format!("/{n}")
            } else {
                String::new()
            };
            plan.submissions.push((
                format!("table/{id_part}/{}/{code}{part}", &table.digest[..16]),
                code.clone(),
                chunk.to_vec(),
            ));
        }
    }
    Ok(plan)
}

/// What a JSON-stat file's `extension` holds at `pointer`.
fn extension<'t>(table: &'t Table, pointer: &str) -> Result<&'t serde_json::Value, String> {
    table
        .extension
        .as_ref()
        .and_then(|e| e.pointer(pointer))
        .ok_or_else(|| format!("the file's extension has nothing at {pointer:?}"))
}

/// A cell's value and whether its status marks it preliminary, or why it has none. A
/// value whose status is a missing-value symbol (a `0` marked `..`) is no figure.
fn value_of(d: Datum<'_>, preliminary: &[String]) -> Result<(f64, bool), String> {
    match d {
        Datum::Value(_, Some(symbol)) | Datum::Missing(Some(symbol))
            if super::SYMBOLS.contains(&symbol) =>
        {
            Err(format!("symbol: {symbol:?} ({})", symbol_meaning(symbol)))
        }
        Datum::Value(v, status) => Ok((
            v,
            status.is_some_and(|s| preliminary.iter().any(|p| p == s)),
        )),
        Datum::Missing(Some(status)) => Err(format!("no value: the cell is marked {status:?}")),
        Datum::Missing(None) => Err("no value: the cell is empty".into()),
    }
}

/// `v` without the noise of float arithmetic (to 1e-9 of its unit).
fn round(v: f64) -> f64 {
    let r = (v * 1e9).round() / 1e9;
    if r.is_finite() {
        r
    } else {
        v
    }
}

/// How every figure of a release names it.
fn cite(table: &Table, mapping: &Mapping) -> String {
    let mut c = table.citation(&mapping.table.publisher);
    if !mapping.table.url.is_empty() {
        c.push_str(", ");
        c.push_str(&mapping.table.url);
    }
    crate::domain::text::cut(&c, crate::domain::validate::MAX_SOURCE_LEN)
}

/// The correction reason every figure of a release carries: when it revises a final
/// figure, the release is the reason.
fn revision_reason(table: &Table) -> String {
    let updated = table
        .updated_micros
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map_or_else(String::new, |t| {
            format!(
                " updated {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        });
    format!(
        "release of table {}{updated} (sha256:{})",
        if table.id.is_empty() {
            "(no id)"
        } else {
            &table.id
        },
        &table.digest[..12]
    )
}

/// The first categories of a dimension, for a message.
fn first_codes(d: &super::Dimension) -> String {
    let mut s: Vec<String> = d
        .categories
        .iter()
        .take(8)
        .map(|c| format!("{:?}", c.code))
        .collect();
    if d.categories.len() > 8 {
        s.push(format!("… {} in all", d.categories.len()));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests;
