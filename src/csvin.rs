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
    parse_bytes(text.as_bytes())
}

/// Parses a submission CSV given as bytes, as read from a file: text that is not UTF-8 is
/// an error naming its line. A UTF-8 byte order mark at the start is skipped.
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Row>, CsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut lines = Lines {
        bytes,
        at: 0,
        line: 1,
    };
    let err = |line: usize, message: String| CsvError { line, message };
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            let line = e.position().map_or(1, |p| lines.of(p));
            return Err(err(line, e.to_string()));
        }
    };
    let header_line = headers.position().map_or(1, |p| lines.of(p));
    let col = |name: &str| headers.iter().position(|h| h == name);
    let required = ["indicator_id", "year", "value", "status", "source"];
    for name in required {
        if col(name).is_none() {
            return Err(err(header_line, format!("missing column {name:?} (header must name {required:?}, optionally region_code, note, correction_reason)")));
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
    let mut rec = csv::StringRecord::new();
    loop {
        // Where the next record can start, for errors that carry no position of their own.
        let next = rdr.position().clone();
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = lines.of(e.position().unwrap_or(&next));
                return Err(err(line, e.to_string()));
            }
        }
        let line = lines.of(rec.position().unwrap_or(&next));
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

/// Physical line numbers of byte offsets, counted forward as the reader advances. (csv's
/// own `Position::line` is the line before the record's leading line breaks, which is off
/// by one after a CRLF header or a blank line.)
struct Lines<'a> {
    bytes: &'a [u8],
    /// Offset up to which line breaks are counted.
    at: usize,
    /// Line of `at`, 1-based.
    line: usize,
}

impl Lines<'_> {
    /// The line where the record starting at `pos` is: line breaks (CR, LF or CRLF) before
    /// its first character count, whether they end the previous record or blank lines.
    fn of(&mut self, pos: &csv::Position) -> usize {
        let mut to = usize::try_from(pos.byte())
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while to < self.bytes.len() && matches!(self.bytes[to], b'\r' | b'\n') {
            to += 1;
        }
        // Records come in order; an earlier offset (never expected) keeps the last line.
        for i in self.at..to {
            let b = self.bytes[i];
            if b == b'\n' || (b == b'\r' && self.bytes.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.at = self.at.max(to);
        self.line
    }
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
    fn lines_are_physical_lines() {
        // A quoted field with line breaks spans lines; later rows keep their real line.
        let text = "indicator_id,year,value,status,source,note\r\npopulation,2020,1,final,s,\"two\nlines\"\r\n\r\npopulation,2021,1,final,s,\npopulation,20x2,1,final,s,\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.line, 6, "{err}");
        let rows = parse(&text[..text.find("population,20x2").unwrap()]).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 5]);
        assert_eq!(rows[0].observation.note, "two\nlines");
        // Bytes that are not UTF-8 name their line; a byte order mark is skipped.
        let mut bytes =
            b"\xEF\xBB\xBFindicator_id,year,value,status,source\npopulation,2020,1,final,s\n"
                .to_vec();
        assert_eq!(parse_bytes(&bytes).unwrap().len(), 1);
        bytes.extend_from_slice(b"population,2021,1,final,\xFF\n");
        assert_eq!(parse_bytes(&bytes).unwrap_err().line, 3);
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
