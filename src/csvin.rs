//! The submission CSV format, shared by `tilannekuva submit` and the bundled demo data.
//!
//! Header (column order free, names exact): `region_code` (optional when the caller gives
//! the region), `indicator_id`, `year`, `value`, `status` (`provisional` or `final`),
//! `source`, and optionally `note`, `correction_reason`, `borders` (the year of the
//! division the figure is on; empty: the division in force when it is recorded) and
//! `published` (when its publisher published it: a date or an RFC 3339 time); other
//! columns (a template's `unit` and `name`) are ignored. The dialects councils'
//! spreadsheets write are read:
//!
//! - the separator is `,` or `;` (or a tab), whichever splits the header line into a
//!   column named `indicator_id` — a Finnish-locale spreadsheet saves CSV with `;`;
//! - in a `;` file a value may use a decimal comma (`1234,5`); in a `,` file a comma in a
//!   value is refused as ambiguous (`1,234` could be either);
//! - digits may be grouped with spaces or no-break spaces (`1 234 567`), and `−` (U+2212)
//!   is read as a minus sign;
//! - UTF-8 with or without a byte order mark, LF or CRLF line ends;
//! - a row whose value is empty is not a figure and is skipped (a template lists every
//!   indicator; fill in what you have).
//!
//! Parsing checks syntax only; the server validates content. Errors name the file's line
//! (1 = the header) and, where one column is at fault, the column. A file that cannot be
//! read as a submission at all (its encoding, its header) is one error; otherwise every
//! problem of every row is found, so that one run reports them all.

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

/// A syntax error, with the line (and column) it is on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}{}: {message}", column.as_ref().map(|(n, name)| format!(", column {n} ({name})")).unwrap_or_default())]
pub struct CsvError {
    pub line: usize,
    /// 1-based column number and the column's name, when one column is at fault.
    pub(crate) column: Option<(usize, String)>,
    pub(crate) message: String,
}

/// A parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub rows: Vec<Row>,
    /// The separator the header was read with.
    pub(crate) separator: u8,
    /// The header's column names, in file order.
    pub(crate) columns: Vec<String>,
    /// Lines of rows skipped because their value was empty.
    pub skipped: Vec<usize>,
    /// Every problem of the rows, in line and column order; a row with one is not in
    /// `rows`.
    pub(crate) problems: Vec<CsvError>,
}

impl Parsed {
    /// The 1-based column number of a column, if the file has it.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name).map(|i| i + 1)
    }
}

/// Most rows one CSV may hold: one file is one atomic submission.
pub(crate) const MAX_ROWS: usize = crate::domain::validate::MAX_OBSERVATIONS;

/// The columns every file must have.
pub(crate) const REQUIRED: [&str; 5] = ["indicator_id", "year", "value", "status", "source"];

/// Parses a submission CSV.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvError> {
    parse_bytes(text.as_bytes())
}

/// Parses a submission CSV given as bytes, as read from a file: text that is not UTF-8 is
/// an error naming its line. A UTF-8 byte order mark at the start is skipped. The first
/// problem is the error (bundled data has none; `submit` reports them all).
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Row>, CsvError> {
    let p = parse_file(bytes)?;
    match p.problems.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(p.rows),
    }
}

/// The separator (`,` `;` or tab) that splits the header line into a column named `column`.
pub(crate) fn detect_separator(bytes: &[u8], column: &str) -> Option<u8> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    [b',', b';', b'\t'].into_iter().find(|&sep| {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(sep)
            .has_headers(false)
            .trim(csv::Trim::All)
            .from_reader(body);
        let mut rec = csv::ByteRecord::new();
        matches!(rdr.read_byte_record(&mut rec), Ok(true))
            && rec.iter().any(|f| f == column.as_bytes())
    })
}

/// Reads a value as the file's dialect writes it (see the module doc).
pub(crate) fn parse_value(text: &str, separator: u8) -> Result<f64, String> {
    let mut v: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}'))
        .map(|c| if c == '\u{2212}' { '-' } else { c })
        .collect();
    if v.contains(',') {
        if separator != b';' {
            return Err(format!(
                "value {text:?} has a comma: in a file separated by commas or tabs write \
                 decimals with a point (1234.5) and no thousands separator (a decimal comma \
                 needs the ; separator)"
            ));
        }
        if v.contains('.') || v.matches(',').count() > 1 {
            return Err(format!(
                "value {text:?} is ambiguous: write a decimal comma (1234,5) and group digits \
                 with spaces if at all"
            ));
        }
        v = v.replace(',', ".");
    } else if separator == b';' && groups_of_three_after_points(&v) {
        // 1.234 in a ; file: a German-locale spreadsheet's thousands, or a decimal point?
        return Err(format!(
            "value {text:?} is ambiguous in a ;-separated file (1.234 may be a thousand): \
             write a decimal comma (1,234) or no separator (1234)"
        ));
    }
    v.parse()
        .map_err(|_| format!("value {text:?} is not a number"))
}

/// Whether `v` looks like digits grouped by points: `1.234`, `-12.345.678`.
fn groups_of_three_after_points(v: &str) -> bool {
    let mut parts = v.trim_start_matches(['-', '+']).split('.');
    let head = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && (1..=3).contains(&head.len())
        && head.bytes().all(|b| b.is_ascii_digit())
        && rest
            .iter()
            .all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses a submission CSV, with what the CLI needs to point at the file's lines and
/// columns.
pub fn parse_file(bytes: &[u8]) -> Result<Parsed, CsvError> {
    let err = |line: usize, message: String| CsvError {
        line,
        column: None,
        message,
    };
    // UTF-16 starts with a byte order mark, or (without one) has a NUL in every other byte.
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") || bytes.contains(&0) {
        return Err(err(
            1,
            "the file is UTF-16 (a spreadsheet's \"Unicode text\"): save it as CSV UTF-8".into(),
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(err(
            1,
            format!(
                "the file is empty: a submission file starts with a header line naming the \
                 columns {} (see `tilannekuva template`)",
                REQUIRED.join(", ")
            ),
        ));
    }
    let separator = detect_separator(bytes, "indicator_id").unwrap_or(b',');
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(separator)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut lines = Lines {
        bytes,
        at: 0,
        line: 1,
    };
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            let line = e.position().map_or(1, |p| lines.of(p));
            return Err(err(line, describe(&e)));
        }
    };
    let header_line = headers.position().map_or(1, |p| lines.of(p));
    let columns: Vec<String> = headers.iter().map(str::to_owned).collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    for name in REQUIRED {
        if col(name).is_none() {
            return Err(err(
                header_line,
                format!(
                    "missing column {name:?}: the header must name {} (optionally region_code, \
                     note, correction_reason, borders, published), separated by , or ;",
                    REQUIRED.join(", ")
                ),
            ));
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
    let (note, reason, borders) = (col("note"), col("correction_reason"), col("borders"));
    let published = col("published");
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut problems = Vec::new();
    let mut rec = csv::StringRecord::new();
    loop {
        // Where the next record can start, for errors that carry no position of their own.
        let next = rdr.position().clone();
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = lines.of(e.position().unwrap_or(&next));
                problems.push(err(line, describe(&e)));
                // The reader goes on after the record (a row of the wrong length, bytes
                // that are not UTF-8); one that did not move on would fail for ever.
                if rdr.position().byte() == next.byte() {
                    break;
                }
                continue;
            }
        }
        let line = lines.of(rec.position().unwrap_or(&next));
        let at = |c: usize, message: String| CsvError {
            line,
            column: Some((c + 1, columns[c].clone())),
            message,
        };
        let get = |c: usize| rec.get(c).unwrap_or("");
        if get(value).is_empty() {
            skipped.push(line);
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(err(
                line,
                format!("more than {MAX_ROWS} rows; split the file"),
            ));
        }
        // Every column's problem, in column order; the row is kept only without any.
        let mut row_problems = Vec::new();
        fn checked<T>(
            problems: &mut Vec<CsvError>,
            at: impl Fn(String) -> CsvError,
            r: Result<T, String>,
        ) -> Option<T> {
            r.map_err(|m| problems.push(at(m))).ok()
        }
        let p = &mut row_problems;
        let opt = |c: Option<usize>| c.map(|c| get(c).to_owned()).unwrap_or_default();
        let year_v = checked(
            p,
            |m| at(year, m),
            get(year)
                .parse::<i32>()
                .map_err(|_| format!("year {:?} is not an integer", get(year))),
        );
        let value_v = checked(p, |m| at(value, m), parse_value(get(value), separator));
        let status_v = checked(
            p,
            |m| at(status, m),
            Status::parse(get(status))
                .ok_or_else(|| format!("status {:?} must be provisional or final", get(status))),
        );
        if get(indicator).is_empty() {
            p.push(at(indicator, "indicator_id is empty".into()));
        }
        let borders_v = borders.filter(|&c| !get(c).is_empty()).and_then(|c| {
            let b = get(c).parse::<i32>().map_err(|_| {
                format!(
                    "borders {:?} must be a division's year (2021) or empty",
                    get(c)
                )
            });
            checked(p, |m| at(c, m), b)
        });
        let published_v = published.filter(|&c| !get(c).is_empty()).and_then(|c| {
            let t = crate::domain::text::instant(get(c), crate::domain::text::Day::Start);
            checked(p, |m| at(c, format!("published {m}")), t)
        });
        row_problems.sort_by_key(|p| p.column.as_ref().map(|c| c.0));
        match (year_v, value_v, status_v) {
            (Some(year_v), Some(value_v), Some(status_v)) if row_problems.is_empty() => {
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
                        borders: borders_v,
                        published_micros: published_v,
                    },
                })
            }
            _ => problems.append(&mut row_problems),
        }
    }
    Ok(Parsed {
        rows,
        separator,
        columns,
        skipped,
        problems,
    })
}

/// A csv error in words, with a hint where a spreadsheet's habits explain it.
fn describe(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => format!(
            "{e}: the file is not UTF-8 (a spreadsheet's plain \"CSV\" is often Windows-1252); \
             save it as CSV UTF-8"
        ),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "the row has {len} fields but the header has {expected_len} (a separator inside \
             an unquoted field? quote fields that contain the separator)"
        ),
        _ => e.to_string(),
    }
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

/// Rows split by region, and the rows that could not be placed.
#[derive(Debug)]
pub struct Grouped {
    /// Per region, in order of first appearance, keeping row order.
    pub groups: Vec<(String, Vec<Row>)>,
    /// Rows without a region, or naming another than the one given, each once.
    pub(crate) problems: Vec<CsvError>,
}

/// Splits rows into per-region groups. `default_region` (given as `given_as`, e.g.
/// `--region`) applies to rows without a region code; a row whose code names another area
/// (`same` says whether two codes name one area: `19` is `MK19`) is a conflict, refused,
/// never sent for the row's area.
pub fn group_by_region(
    rows: Vec<Row>,
    default_region: Option<&str>,
    given_as: &str,
    same: impl Fn(&str, &str) -> bool,
) -> Grouped {
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    let mut problems = Vec::new();
    let clip = crate::domain::text::clip;
    for row in rows {
        let region = match (&row.region_code, default_region) {
            (Some(r), Some(d)) if !same(r, d) => {
                problems.push(CsvError {
                    line: row.line,
                    column: None,
                    message: format!(
                        "region_code {} names another area than {given_as} {}; give the rows' \
                         area as {given_as}, or leave it out",
                        clip(r),
                        clip(d)
                    ),
                });
                continue;
            }
            (_, Some(d)) => d.to_owned(),
            (Some(r), None) => r.clone(),
            (None, None) => {
                problems.push(CsvError {
                    line: row.line,
                    column: None,
                    message: format!("no region_code in the row and no {given_as} given"),
                });
                continue;
            }
        };
        match groups.iter_mut().find(|(r, _)| *r == region) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((region, vec![row])),
        }
    }
    Grouped { groups, problems }
}

/// A submission file's problems, found before sending and by the server: each once, in line
/// and column order (line 0: the file or the request as a whole).
#[derive(Debug, Default)]
pub(crate) struct Problems {
    /// (line, column number (0: none), column name, message).
    pub(crate) listed: std::collections::BTreeSet<(usize, usize, String, String)>,
    /// Problems the server found but did not list (it lists a bounded number).
    pub(crate) unlisted: usize,
}

impl Problems {
    pub(crate) fn add(&mut self, line: usize, column: Option<(usize, String)>, message: String) {
        let (n, name) = column.unwrap_or((0, String::new()));
        self.listed.insert((line, n, name, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// What the server said of the `rows` sent to be checked beside a file's problems.
    pub(crate) fn none_in_the_rest(rows: usize) -> String {
        match rows {
            1 => "the server found no problem in the other row".to_owned(),
            n => format!("the server found no problem in the other {n} rows"),
        }
    }

    /// "3 problems, so nothing was written".
    pub(crate) fn summary(&self) -> String {
        let n = self.listed.len() + self.unlisted;
        format!(
            "{n} problem{}, so nothing was written",
            if n == 1 { "" } else { "s" }
        )
    }

    /// The server's violations of the submission of `rows` (`observations[i].field`),
    /// placed on the file's lines and columns; `total` is how many it found in all.
    pub(crate) fn add_violations(
        &mut self,
        found: &[(String, String)],
        total: usize,
        file: &Parsed,
        rows: &[Row],
        region: (&str, &str),
    ) {
        let (region, given_as) = region;
        for (field, description) in found {
            let row_field = field
                .strip_prefix("observations[")
                .and_then(|f| f.split_once("]."))
                .and_then(|(i, name)| Some((rows.get(i.parse::<usize>().ok()?)?, name)));
            match row_field {
                Some((row, name)) => self.add(
                    row.line,
                    file.column(name).map(|c| (c, name.to_owned())),
                    description.clone(),
                ),
                None if field == "region_code" && file.column("region_code").is_none() => {
                    self.add(0, None, format!("{given_as} {region:?}: {description}"))
                }
                None => self.add(0, None, format!("{field}: {description}")),
            }
        }
        self.unlisted = total.saturating_sub(found.len());
    }
}

/// The submission id of a file sent for `region` when none is given: the same file for the
/// same region is the same submission, so sending it again records nothing twice.
pub(crate) fn submission_id(region: &str, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let text = String::from_utf8_lossy(bytes);
    let digest = Sha256::digest(format!("{region}\n{text}").as_bytes());
    format!("csv-{}", &hex::encode(digest)[..32])
}

/// A file as one region's submission: the region and its rows, with every problem found
/// before sending in `problems` (rows with one are not among the rows). `Err` when there is
/// nothing to send: no rows, no values, or rows for several regions (one submission is for
/// one region); the problems then say why.
pub(crate) fn one_submission(
    file: &Parsed,
    default_region: Option<&str>,
    given_as: &str,
    same: impl Fn(&str, &str) -> bool,
    problems: &mut Problems,
) -> Result<(String, Vec<Row>), ()> {
    let grouped = group_by_region(file.rows.clone(), default_region, given_as, same);
    for e in file.problems.iter().chain(&grouped.problems) {
        problems.add(e.line, e.column.clone(), e.message.clone());
    }
    let skipped = file.skipped.len();
    let mut groups = grouped.groups;
    match groups.len() {
        1 => return Ok(groups.remove(0)),
        0 if !problems.is_empty() => {}
        0 if skipped > 0 => problems.add(
            0,
            None,
            format!(
                "no values: the value of every row ({skipped}) is empty, so there is nothing to \
                 submit"
            ),
        ),
        0 => problems.add(0, None, "no rows below the header line".into()),
        n => problems.add(
            0,
            None,
            format!(
                "rows for {n} regions ({}); one submission is for one region",
                groups
                    .iter()
                    .map(|(r, _)| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
    Err(())
}

impl Grouped {
    /// The groups, or the first problem (for bundled data, which has none).
    pub fn all(self) -> Result<Vec<(String, Vec<Row>)>, CsvError> {
        match self.problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(self.groups),
        }
    }
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

    /// Every problem of every row, each once, in line and column order; the good rows are
    /// still read.
    #[test]
    fn every_problem_of_the_file_is_found_in_one_run() {
        let text = "indicator_id,year,value,status,source,borders\n\
                    population,2020,1,final,s,\n\
                    population,20x0,abc,maybe,s,\n\
                    ,2021,2,final,s,x\n\
                    population,2022\n\
                    population,2023,4,final,s,\n";
        let p = parse_file(text.as_bytes()).unwrap();
        let found: Vec<(usize, Option<usize>)> = p
            .problems
            .iter()
            .map(|e| (e.line, e.column.as_ref().map(|c| c.0)))
            .collect();
        assert_eq!(
            found,
            vec![
                (3, Some(2)),
                (3, Some(3)),
                (3, Some(4)),
                (4, Some(1)),
                (4, Some(6)),
                (5, None)
            ],
            "{:?}",
            p.problems
        );
        assert_eq!(
            p.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 6]
        );
        assert_eq!(parse(text).unwrap_err().line, 3, "the first is the error");
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
        assert_eq!(
            parse(bad_value).unwrap_err().to_string(),
            "line 2, column 3 (value): value \"abc\" is not a number"
        );
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
    fn reads_the_dialects_of_finnish_spreadsheets() {
        // Semicolons, decimal comma, no-break-space grouping, BOM, CRLF.
        let text = "\u{feff}indicator_id;year;value;status;source\r\npopulation;2020;1\u{a0}234\u{a0}567;final;SF\r\nunemployment_rate_15_74;2020;7,5;final;SF, LFS\r\n";
        let p = parse_file(text.as_bytes()).unwrap();
        assert_eq!(p.separator, b';');
        let values: Vec<f64> = p.rows.iter().map(|r| r.observation.value).collect();
        assert_eq!(values, vec![1_234_567.0, 7.5]);
        assert_eq!(p.rows[1].observation.source, "SF, LFS");
        // A comma in a comma-separated file's value is ambiguous; so is 1.234,5.
        let comma = "indicator_id,year,value,status,source\npopulation,2020,\"1,5\",final,SF\n";
        let e = parse(comma).unwrap_err();
        assert_eq!((e.line, e.column.clone().map(|c| c.0)), (2, Some(3)), "{e}");
        let mixed = "indicator_id;year;value;status;source\npopulation;2020;1.234,5;final;SF\n";
        assert!(parse(mixed).unwrap_err().message.contains("ambiguous"));
        let points = "indicator_id;year;value;status;source\npopulation;2020;1.234.567;final;SF\n";
        assert!(parse(points).unwrap_err().message.contains("ambiguous"));
        let decimal = "indicator_id;year;value;status;source\nrate;2020;7.25;final;SF\n";
        assert_eq!(parse(decimal).unwrap()[0].observation.value, 7.25);
        // An empty value is no figure: the row is skipped, and said so.
        let gaps = "indicator_id;year;value;status;source\npopulation;2020;;final;SF\nnatural_increase;2020;-5;final;SF\n";
        let p = parse_file(gaps.as_bytes()).unwrap();
        assert_eq!((p.rows.len(), p.skipped.clone()), (1, vec![2]));
        assert_eq!(p.rows[0].observation.value, -5.0);
    }

    #[test]
    fn empty_and_foreign_files_say_what_they_are() {
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(parse("\u{feff}\n\n").unwrap_err().message.contains("empty"));
        assert!(parse_bytes(b"\xFF\xFEi\x00")
            .unwrap_err()
            .message
            .contains("UTF-16"));
        assert!(parse_bytes(b"i\x00n\x00d\x00")
            .unwrap_err()
            .message
            .contains("UTF-16"));
        let latin1 =
            b"indicator_id,year,value,status,source\npopulation,2020,1,final,Tilastokeskus \xE4\n";
        let e = parse_bytes(latin1).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("CSV UTF-8"), "{e}");
        let semicolon_missing = "indicator;year\n";
        assert!(parse(semicolon_missing)
            .unwrap_err()
            .message
            .contains("missing column"));
    }

    #[test]
    fn groups_by_region_in_order() {
        let text = "region_code,indicator_id,year,value,status,source\n02,a,2020,1,final,s\n01,a,2020,1,final,s\n02,b,2020,1,final,s\n,c,2020,1,final,s\n";
        let equal = |a: &str, b: &str| a == b;
        let coded = "region_code,indicator_id,year,value,status,source\n02,a,2020,1,final,s\n01,a,2020,1,final,s\n02,b,2020,1,final,s\n";
        let groups = group_by_region(parse(coded).unwrap(), None, "--region", equal)
            .all()
            .unwrap();
        let summary: Vec<(&str, usize)> =
            groups.iter().map(|(r, v)| (r.as_str(), v.len())).collect();
        assert_eq!(summary, vec![("02", 2), ("01", 1)]);
        // A row without a code, and no --region: refused, the others grouped.
        let g = group_by_region(parse(text).unwrap(), None, "--region", equal);
        assert_eq!(g.problems.len(), 1);
        assert_eq!(g.problems[0].line, 5);
        assert_eq!(g.groups.len(), 2);
    }

    /// `--region MK18` with rows that say MK19 is refused, naming the rows; rows that name
    /// the same area by another code go through.
    #[test]
    fn a_region_given_that_the_rows_contradict_is_refused() {
        let text = "region_code,indicator_id,year,value,status,source\nMK19,a,2020,1,final,s\n18,b,2020,1,final,s\n,c,2020,1,final,s\nMK19,d,2020,1,final,s\n";
        let same = |a: &str, b: &str| a.trim_start_matches("MK") == b.trim_start_matches("MK");
        let g = group_by_region(parse(text).unwrap(), Some("MK18"), "--region", same);
        let lines: Vec<usize> = g.problems.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 5]);
        assert!(
            g.problems[0]
                .message
                .contains("region_code MK19 names another area than --region MK18"),
            "{}",
            g.problems[0].message
        );
        assert_eq!((g.groups[0].0.as_str(), g.groups[0].1.len()), ("MK18", 2));
        let ok = "region_code,indicator_id,year,value,status,source\n18,b,2020,1,final,s\n,c,2020,1,final,s\n";
        let groups = group_by_region(parse(ok).unwrap(), Some("MK18"), "--region", same)
            .all()
            .unwrap();
        assert_eq!(groups.len(), 1, "18 is MK18");
        assert_eq!((groups[0].0.as_str(), groups[0].1.len()), ("MK18", 2));
    }
}
