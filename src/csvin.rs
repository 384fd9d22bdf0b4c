//! The submission CSV format, shared by `tilannekuva submit` and the bundled demo data.
//!
//! Header (column order free, names exact): `region_code` (optional when the caller gives
//! the region), `indicator_id`, `year`, `value`, `status` (`provisional` or `final`),
//! `source`, and optionally `note` and `correction_reason`. Parsing checks syntax only; the
//! server validates content.

use crate::domain::validate::ObservationInput;
use crate::domain::Status;

/// One parsed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    pub region_code: Option<String>,
    pub observation: ObservationInput,
}

/// A syntax error, with the line it is on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

/// Most rows one CSV may hold: one file is one atomic submission.
pub const MAX_ROWS: usize = crate::domain::validate::MAX_OBSERVATIONS;

/// Parses a submission CSV.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let err = |line: usize, message: String| CsvError { line, message };
    let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let required = ["indicator_id", "year", "value", "status", "source"];
    for name in required {
        if col(name).is_none() {
            return Err(err(1, format!("missing column {name:?} (header must name {required:?}, optionally region_code, note, correction_reason)")));
        }
    }
    let (region, indicator, year, value, status, source) = (
        col("region_code"),
        col("indicator_id").unwrap_or_default(),
        col("year").unwrap_or_default(),
        col("value").unwrap_or_default(),
        col("status").unwrap_or_default(),
        col("source").unwrap_or_default(),
    );
    let (note, reason) = (col("note"), col("correction_reason"));
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(line, e.to_string()))?;
        if rows.len() == MAX_ROWS {
            return Err(err(
                line,
                format!("more than {MAX_ROWS} rows; split the file"),
            ));
        }
        let get = |c: usize| rec.get(c).unwrap_or("");
        let opt = |c: Option<usize>| c.map(|c| get(c).to_owned()).unwrap_or_default();
        let year_v: i32 = get(year)
            .parse()
            .map_err(|_| err(line, format!("year {:?} is not an integer", get(year))))?;
        let value_v: f64 = get(value)
            .replace(' ', "")
            .parse()
            .map_err(|_| err(line, format!("value {:?} is not a number", get(value))))?;
        let status_v = Status::parse(get(status)).ok_or_else(|| {
            err(
                line,
                format!("status {:?} must be provisional or final", get(status)),
            )
        })?;
        if get(indicator).is_empty() {
            return Err(err(line, "indicator_id is empty".into()));
        }
        rows.push(Row {
            line,
            region_code: region.map(|c| get(c).to_owned()).filter(|s| !s.is_empty()),
            observation: ObservationInput {
                indicator_id: get(indicator).to_owned(),
                year: year_v,
                value: value_v,
                status: Some(status_v),
                source: get(source).to_owned(),
                note: opt(note),
                correction_reason: opt(reason),
            },
        });
    }
    Ok(rows)
}

/// Splits rows into per-region groups, in order of first appearance, keeping row order.
/// `default_region` applies to rows without a region code.
pub fn group_by_region(
    rows: Vec<Row>,
    default_region: Option<&str>,
) -> Result<Vec<(String, Vec<Row>)>, CsvError> {
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    for row in rows {
        let region = match (&row.region_code, default_region) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => {
                return Err(CsvError {
                    line: row.line,
                    message: "no region_code in the row and no --region given".into(),
                })
            }
        };
        match groups.iter_mut().find(|(r, _)| *r == region) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((region, vec![row])),
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_with_optional_columns() {
        let text = "region_code,indicator_id,year,value,status,source\n01,population,2020,\"1 700 000\",final,SF\nSSS,population,2020,5500000,provisional,SF\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].observation.value, 1_700_000.0);
        assert_eq!(rows[0].region_code.as_deref(), Some("01"));
        assert_eq!(rows[1].observation.status, Some(Status::Provisional));
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn reports_the_bad_line() {
        let missing = "indicator_id,year,value,status\npopulation,2020,1,final\n";
        assert!(parse(missing)
            .unwrap_err()
            .message
            .contains("missing column \"source\""));
        let bad_year = "indicator_id,year,value,status,source\npopulation,2020,1,final,s\npopulation,20x0,1,final,s\n";
        assert_eq!(parse(bad_year).unwrap_err().line, 3);
        let bad_value = "indicator_id,year,value,status,source\npopulation,2020,abc,final,s\n";
        assert!(parse(bad_value)
            .unwrap_err()
            .to_string()
            .starts_with("line 2: value"));
        let bad_status = "indicator_id,year,value,status,source\npopulation,2020,1,maybe,s\n";
        assert!(parse(bad_status)
            .unwrap_err()
            .message
            .contains("provisional or final"));
        let ragged = "indicator_id,year,value,status,source\npopulation,2020\n";
        assert_eq!(parse(ragged).unwrap_err().line, 2);
    }

    #[test]
    fn groups_by_region_in_order() {
        let text = "region_code,indicator_id,year,value,status,source\n02,a,2020,1,final,s\n01,a,2020,1,final,s\n02,b,2020,1,final,s\n,c,2020,1,final,s\n";
        let groups = group_by_region(parse(text).unwrap(), Some("03")).unwrap();
        let summary: Vec<(&str, usize)> =
            groups.iter().map(|(r, v)| (r.as_str(), v.len())).collect();
        assert_eq!(summary, vec![("02", 2), ("01", 1), ("03", 1)]);
        assert!(group_by_region(parse(text).unwrap(), None).is_err());
    }
}
