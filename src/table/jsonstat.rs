//! JSON-stat 2.0 datasets (json-stat.org), as PxWeb answers them (`"format": "json-stat2"`):
//! `id` and `size` (the dimensions, the first varying slowest), `dimension` (each with its
//! `category` `index` — an object or an array — `label`, `unit` and `note`), `value` dense
//! (an array, `null` for no value) or sparse (an object by cell index), `status` (one
//! string for every cell, an array, or an object by cell index), `role` (`time`, `geo`,
//! `metric`), `label`, `source`, `updated`, `note` and `extension.px.tableid`.
//!
//! A damaged file (not JSON, truncated) is refused with the line and column serde_json
//! reports; a well-formed one that breaks the format's rules (sizes that do not match,
//! more values than cells, a role naming no dimension) with what is wrong.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Category, Dimension, Role, Table, TableError};

#[derive(Deserialize)]
struct Raw {
    class: Option<String>,
    version: Option<String>,
    #[serde(default)]
    label: String,
    #[serde(default)]
    source: String,
    updated: Option<String>,
    id: Option<Vec<String>>,
    size: Option<Vec<u64>>,
    #[serde(default)]
    dimension: HashMap<String, RawDimension>,
    value: Option<Values>,
    status: Option<Statuses>,
    #[serde(default)]
    role: HashMap<String, Vec<String>>,
    #[serde(default)]
    note: Vec<String>,
    #[serde(default)]
    extension: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawDimension {
    #[serde(default)]
    label: String,
    #[serde(default)]
    category: RawCategory,
}

#[derive(Deserialize, Default)]
struct RawCategory {
    index: Option<Index>,
    #[serde(default)]
    label: HashMap<String, String>,
    #[serde(default)]
    unit: HashMap<String, RawUnit>,
    #[serde(default)]
    note: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct RawUnit {
    decimals: Option<u32>,
}

/// A category index: an array of ids in order, or an object of id → position.
#[derive(Deserialize)]
#[serde(untagged)]
enum Index {
    Ordered(Vec<String>),
    Positions(HashMap<String, usize>),
}

/// Cell values, read without building a JSON tree: dense (NaN for `null`) or sparse.
enum Values {
    Dense(Vec<f64>),
    Sparse(Vec<(u64, f64)>),
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Values, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers or nulls, or an object of index → number")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(v) = seq.next_element::<Option<f64>>()? {
                    if out.len() as u64 >= super::MAX_CELLS {
                        return Err(de::Error::custom(format!(
                            "more than {} values; at most that many are read in one file",
                            super::MAX_CELLS
                        )));
                    }
                    out.push(v.unwrap_or(f64::NAN));
                }
                Ok(Values::Dense(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Option<f64>>()? {
                    let i = k.parse::<u64>().map_err(|_| {
                        de::Error::custom(format!("value key {k:?} is not a cell index"))
                    })?;
                    if out.len() as u64 >= super::MAX_CELLS {
                        return Err(de::Error::custom("too many values"));
                    }
                    out.push((i, v.unwrap_or(f64::NAN)));
                }
                Ok(Values::Sparse(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Cell statuses: one for all, by position, or by cell index; only the cells that have one.
enum Statuses {
    All(String),
    Some(Vec<(u64, String)>),
}

impl<'de> Deserialize<'de> for Statuses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Statuses, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Statuses;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a string, an array of strings or nulls, or an object of index → string",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Statuses, E> {
                Ok(Statuses::All(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Statuses, A::Error> {
                let mut out = Vec::new();
                let mut i = 0u64;
                while let Some(s) = seq.next_element::<Option<String>>()? {
                    if let Some(s) = s {
                        out.push((i, s));
                    }
                    i += 1;
                    if i > super::MAX_CELLS {
                        return Err(de::Error::custom("more statuses than cells"));
                    }
                }
                Ok(Statuses::Some(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Statuses, A::Error> {
                let mut out = Vec::new();
                while let Some((k, s)) = map.next_entry::<String, String>()? {
                    let i = k.parse::<u64>().map_err(|_| {
                        de::Error::custom(format!("status key {k:?} is not a cell index"))
                    })?;
                    if out.len() as u64 >= super::MAX_CELLS {
                        return Err(de::Error::custom("more statuses than cells"));
                    }
                    out.push((i, s));
                }
                Ok(Statuses::Some(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a JSON-stat 2.0 dataset.
pub(crate) fn read(bytes: &[u8]) -> Result<Table, TableError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let raw: Raw = serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the file ends too early: it is truncated".into(),
            _ => e.to_string(),
        };
        // serde_json's message ends with " at line L column C"; the place says it.
        let what = what
            .rsplit_once(" at line ")
            .map_or(what.clone(), |(m, _)| m.to_owned());
        TableError::at(format!("line {}, column {}", e.line(), e.column()), what)
    })?;
    let bad = |m: String| TableError::file(m);
    match raw.class.as_deref() {
        Some("dataset") => {}
        None if raw.id.is_some() => {}
        None => {
            return Err(bad(
                "not a JSON-stat 2.0 dataset (no \"class\": \"dataset\" and no \
                 \"id\"); a JSON-stat 1 answer is refused: ask PxWeb for \"json-stat2\""
                    .into(),
            ))
        }
        Some(other) => {
            return Err(bad(format!(
                "class {other:?}: only a JSON-stat dataset is read (a collection or bundle is \
                 to be split into its datasets)"
            )))
        }
    }
    if let Some(v) = raw.version.as_deref().filter(|v| !v.starts_with('2')) {
        return Err(bad(format!("JSON-stat version {v:?}: only 2.0 is read")));
    }
    let (Some(ids), Some(sizes)) = (raw.id, raw.size) else {
        return Err(bad("a JSON-stat dataset needs \"id\" and \"size\"".into()));
    };
    if ids.len() != sizes.len() {
        return Err(bad(format!(
            "\"id\" names {} dimensions and \"size\" gives {}",
            ids.len(),
            sizes.len()
        )));
    }
    let mut raw_dims = raw.dimension;
    let mut dimensions = Vec::with_capacity(ids.len());
    for (id, size) in ids.iter().zip(&sizes) {
        let dim = raw_dims.remove(id).ok_or_else(|| {
            bad(format!(
                "dimension {id:?} is in \"id\" but not in \"dimension\""
            ))
        })?;
        let codes: Vec<String> = match dim.category.index {
            Some(Index::Ordered(v)) => v,
            Some(Index::Positions(m)) => {
                let mut v = vec![None; m.len()];
                for (code, pos) in m {
                    match v.get_mut(pos) {
                        Some(slot @ None) => *slot = Some(code),
                        _ => {
                            return Err(bad(format!(
                            "dimension {id:?}: category index {pos} is out of range or given twice"
                        )))
                        }
                    }
                }
                v.into_iter().map(Option::unwrap_or_default).collect()
            }
            // One category may be given by its label alone.
            None if dim.category.label.len() == 1 => dim.category.label.keys().cloned().collect(),
            None => return Err(bad(format!("dimension {id:?} has no category index"))),
        };
        if codes.len() as u64 != *size {
            return Err(bad(format!(
                "dimension {id:?} has {} categories but \"size\" says {size}",
                codes.len()
            )));
        }
        let categories = codes
            .into_iter()
            .map(|code| Category {
                labels: dim.category.label.get(&code).cloned().into_iter().collect(),
                note: dim
                    .category
                    .note
                    .get(&code)
                    .map(|n| n.join(" "))
                    .unwrap_or_default(),
                decimals: dim.category.unit.get(&code).and_then(|u| u.decimals),
                code,
            })
            .collect();
        let role = raw
            .role
            .iter()
            .find(|(_, dims)| dims.contains(id))
            .and_then(|(r, _)| match r.as_str() {
                "time" => Some(Role::Time),
                "geo" => Some(Role::Geo),
                "metric" => Some(Role::Metric),
                _ => None,
            });
        dimensions.push(Dimension {
            id: id.clone(),
            names: vec![dim.label],
            role,
            categories,
        });
    }
    if let Some((role, dims)) = raw
        .role
        .iter()
        .find(|(_, d)| d.iter().any(|x| !ids.contains(x)))
    {
        return Err(bad(format!(
            "role {role:?} names a dimension that is not in \"id\": {dims:?}"
        )));
    }
    let (dense, sparse) = match raw.value {
        None => return Err(bad("the dataset has no \"value\"".into())),
        Some(Values::Dense(v)) => (Some(v), Vec::new()),
        Some(Values::Sparse(v)) => (None, v),
    };
    let mut table = Table::with_values(bytes, "JSON-stat", dimensions, dense)?;
    let cells = table.cells();
    for (i, x) in sparse {
        if i >= cells {
            return Err(bad(format!(
                "\"value\" has cell index {i}; the dimensions make {cells} cells"
            )));
        }
        if !x.is_nan() {
            table.set(i, x);
        }
    }
    match raw.status {
        None => {}
        Some(Statuses::All(s)) => {
            for i in 0..cells {
                table.mark(i, &s);
            }
        }
        Some(Statuses::Some(v)) => {
            for (i, s) in v {
                if i >= cells {
                    return Err(bad(format!(
                        "\"status\" has cell index {i}; the dimensions make {cells} cells"
                    )));
                }
                table.mark(i, &s);
            }
        }
    }
    table.title = raw.label;
    table.source = raw.source;
    table.notes = raw.note;
    if let Some(u) = raw.updated.as_deref() {
        table.updated_micros = Some(
            super::parse_updated(u)
                .ok_or_else(|| bad(format!("\"updated\" {u:?} is not an ISO 8601 time")))?,
        );
    }
    table.id = raw
        .extension
        .as_ref()
        .and_then(|e| e.pointer("/px/tableid"))
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_owned();
    table.extension = raw.extension;
    Ok(table)
}

#[cfg(test)]
mod tests;
