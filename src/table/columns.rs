//! A table in columns (CSV): one column per dimension and one of values, a row per cell —
//! what PxWeb's "CSV (flat)" answers and this service's own open-data CSV are. Which
//! columns are dimensions the mapping says; the other columns are not read. The dialects
//! of the submission format are read (`,` or `;` or tab, a decimal comma with `;`, grouped
//! digits, a byte order mark); a missing-value symbol in the value column is kept as such,
//! an empty value is no cell.
//!
//! Refused with the line (and column): a dimension column the file does not have, a value
//! that is neither a number nor a symbol, the same cell twice.

use std::collections::HashMap;

use super::{Category, Dimension, Table, TableError, MAX_CELLS};

/// Reads a CSV table whose dimensions are the columns `dims` (in that order), values in
/// column `value` and cell statuses, if any, in column `status`.
pub(crate) fn read(
    bytes: &[u8],
    dims: &[&str],
    value: &str,
    status: Option<&str>,
) -> Result<Table, TableError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let separator = crate::csvin::detect_separator(body, value).ok_or_else(|| {
        TableError::at(
            "line 1",
            format!("no column {value:?} (of values) in the header, separated by , ; or tab"),
        )
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(separator)
        .trim(csv::Trim::All)
        .from_reader(body);
    let header = rdr
        .headers()
        .map_err(|e| TableError::at("line 1", e.to_string()))?
        .clone();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            TableError::at(
                "line 1",
                format!(
                    "no column {name:?} in the file (it has: {})",
                    header.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let dim_cols: Vec<usize> = dims.iter().map(|d| column(d)).collect::<Result<_, _>>()?;
    let value_col = column(value)?;
    let status_col = status.map(column).transpose()?;
    // Categories in order of first appearance; cells by their category numbers.
    let mut cats: Vec<(Vec<String>, HashMap<String, usize>)> = vec![Default::default(); dims.len()];
    let mut cells: HashMap<Vec<usize>, (Option<f64>, Option<String>, usize)> = HashMap::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(TableError::at(format!("line {line}"), e.to_string()));
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        let at: Vec<usize> = dim_cols
            .iter()
            .zip(cats.iter_mut())
            .map(|(c, (list, index))| {
                let v = rec.get(*c).unwrap_or("").to_owned();
                *index.entry(v.clone()).or_insert_with(|| {
                    list.push(v);
                    list.len() - 1
                })
            })
            .collect();
        let text = rec.get(value_col).unwrap_or("");
        let (v, mut mark) = if text.is_empty() {
            (None, None)
        } else if super::SYMBOLS.contains(&text) {
            (None, Some(text.to_owned()))
        } else {
            let v = crate::csvin::parse_value(text, separator).map_err(|m| {
                TableError::at(
                    format!("line {line}, column {} ({value})", value_col + 1),
                    m,
                )
            })?;
            (Some(v), None)
        };
        if let Some(s) = status_col
            .and_then(|c| rec.get(c))
            .filter(|s| !s.is_empty())
        {
            mark.get_or_insert_with(|| s.to_owned());
        }
        if let Some((_, _, first)) = cells.get(&at) {
            return Err(TableError::at(
                format!("line {line}"),
                format!("the same cell as line {first}: each cell is given once"),
            ));
        }
        if cells.len() as u64 >= MAX_CELLS {
            return Err(TableError::at(
                format!("line {line}"),
                format!("more than {MAX_CELLS} rows; at most that many are read in one file"),
            ));
        }
        cells.insert(at, (v, mark, line as usize));
    }
    let dimensions = dims
        .iter()
        .zip(cats)
        .map(|(id, (list, _))| Dimension {
            id: (*id).to_owned(),
            names: Vec::new(),
            role: None,
            categories: list
                .into_iter()
                .map(|code| Category {
                    code,
                    ..Category::default()
                })
                .collect(),
        })
        .collect();
    let mut table = Table::new(bytes, "CSV", dimensions)?;
    for (at, (v, mark, _)) in cells {
        let i = table.index(&at);
        if let Some(v) = v {
            table.set(i, v);
        }
        if let Some(m) = mark {
            table.mark(i, &m);
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Datum;

    #[test]
    fn a_table_in_columns_reads_its_dimensions_values_and_symbols() {
        let csv = "region;year;indicator;value;status;source\n\
                   MK01;2020;population;1 702 678;final;x\n\
                   MK01;2020;offences_per_1000;121,5;provisional;y\n\
                   MK02;2020;population;..;;z\n\
                   MK02;2020;offences_per_1000;;final;z\n";
        let t = read(
            csv.as_bytes(),
            &["region", "year", "indicator"],
            "value",
            Some("status"),
        )
        .unwrap();
        assert_eq!(t.format, "CSV");
        assert_eq!(t.cells(), 4);
        assert_eq!(
            t.datum(t.index(&[0, 0, 0])),
            Datum::Value(1_702_678.0, Some("final"))
        );
        assert_eq!(
            t.datum(t.index(&[0, 0, 1])),
            Datum::Value(121.5, Some("provisional"))
        );
        assert_eq!(t.datum(t.index(&[1, 0, 0])), Datum::Missing(Some("..")));
        assert_eq!(t.datum(t.index(&[1, 0, 1])), Datum::Missing(Some("final")));
        let err = read(csv.as_bytes(), &["area", "year"], "value", None).unwrap_err();
        assert!(err.message.contains("no column \"area\""), "{err}");
        let twice = format!("{csv}MK01;2020;population;1;final;x\n");
        let err = read(
            twice.as_bytes(),
            &["region", "year", "indicator"],
            "value",
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 6: the same cell as line 2: each cell is given once"
        );
        let bad = csv.replace("121,5", "12x");
        let err = read(
            bad.as_bytes(),
            &["region", "year", "indicator"],
            "value",
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 3, column 4 (value): value \"12x\" is not a number"),
            "{err}"
        );
    }
}
