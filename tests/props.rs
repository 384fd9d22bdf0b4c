//! Property tests of the two parsers of untrusted input: the submission CSV reader and the
//! validation of observations. Each runs a few hundred generated cases (seconds in a debug
//! build); a failing case is shrunk and its seed saved in `tests/props.proptest-regressions`,
//! which proptest replays first on the next run. Hand-picked files that once mattered live
//! in `tests/corpus/csv/` and are checked by `csv_corpus`.

use std::collections::HashSet;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tilannekuva::csvin::{self, CsvError, Row};
use tilannekuva::domain::validate::{
    check_observations, Current, ObservationInput, MAX_SOURCE_LEN, MAX_TEXT_LEN,
};
use tilannekuva::domain::{Catalog, Status};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 384,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/props.proptest-regressions"
        )))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// CSV: whatever the bytes, a result with a line number, never a panic.

/// Physical lines of `bytes` (CR, LF and CRLF each end one).
fn line_count(bytes: &[u8]) -> usize {
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    breaks + 1
}

/// What any outcome of the reader must satisfy: errors name a line of the file; rows are in
/// file order, on lines of the file, and complete.
fn check_outcome(bytes: &[u8], outcome: &Result<Vec<Row>, CsvError>) -> Result<(), TestCaseError> {
    let lines = line_count(bytes);
    match outcome {
        Err(e) => {
            prop_assert!(
                e.line >= 1 && e.line <= lines,
                "{e} (the file has {lines} lines)"
            );
            // "line N: ..." or "line N, column C (name): ...".
            let text = e.to_string();
            let rest = text.strip_prefix(&format!("line {}", e.line));
            prop_assert!(
                rest.is_some_and(|r| r.starts_with(": ") || r.starts_with(", column ")),
                "{}",
                e
            );
        }
        Ok(rows) => {
            let mut previous = 1;
            for row in rows {
                prop_assert!(
                    row.line > previous && row.line <= lines,
                    "row on line {} after {previous}, of {lines}",
                    row.line
                );
                previous = row.line;
                prop_assert!(!row.observation.indicator_id.is_empty());
                prop_assert!(row.observation.status.is_some());
                prop_assert!(row.region_code.as_deref() != Some(""));
            }
        }
    }
    Ok(())
}

/// Pieces of CSV, so that random files get past the header into rows and quoting.
fn csv_token() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b"indicator_id,year,value,status,source"[..],
        b"region_code,",
        b",note",
        b",correction_reason",
        b",",
        b"\n",
        b"\r\n",
        b"\r",
        b"\"",
        b"\"\"",
        b" ",
        b"population",
        b"MK01",
        b"2020",
        b"-7",
        b"1 700 000",
        b"1e308",
        b"NaN",
        b"final",
        b"provisional",
        b"\xEF\xBB\xBF",
        b"\xC3\xA4",
        b"\xFF",
        b"\xE4",
        b"\0",
        // The ;-dialect of Finnish spreadsheets: separator, decimal comma, grouping.
        b"indicator_id;year;value;status;source",
        b";",
        b"7,5",
        b"1.234",
        b"1\xC2\xA0234",
        b"\xE2\x88\x927",
        b"\t",
    ])
}

fn csv_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(csv_token(), 0..60).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check_outcome(&bytes, &csvin::parse_bytes(&bytes))?;
        let text = String::from_utf8_lossy(&bytes);
        check_outcome(text.as_bytes(), &csvin::parse(&text))?;
    }

    #[test]
    fn csv_reader_never_panics_on_text(text in "\\PC{0,300}") {
        check_outcome(text.as_bytes(), &csvin::parse(&text))?;
    }

    #[test]
    fn csv_reader_never_panics_on_csv_like_bytes(bytes in csv_like_bytes()) {
        check_outcome(&bytes, &csvin::parse_bytes(&bytes))?;
    }
}

// ---------------------------------------------------------------------------------------
// CSV: valid rows, written as a careful CSV writer would, read back unchanged.

/// A cell's text: no leading or trailing whitespace (the reader trims fields), but commas,
/// quotes, line breaks and non-ASCII inside.
fn field_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 ,;\"'\r\n\täöÅ€#=-]{{0,{max}}}"))
        .expect("valid regex")
        .prop_map(|s| s.trim().to_owned())
}

fn non_empty_field(max: usize) -> impl Strategy<Value = String> {
    field_text(max).prop_filter("non-empty", |s| !s.is_empty())
}

#[derive(Debug, Clone)]
struct RowSpec {
    region: String,
    indicator: String,
    year: i32,
    value: f64,
    value_text: String,
    status: Status,
    status_text: String,
    source: String,
    note: String,
    reason: String,
}

fn value_with_text() -> impl Strategy<Value = (f64, String)> {
    prop_oneof![
        any::<f64>()
            .prop_filter("not NaN", |v| !v.is_nan())
            .prop_flat_map(
                |v| prop_oneof![Just(format!("{v}")), Just(format!("{v:e}"))]
                    .prop_map(move |t| (v, t))
            ),
        // Thousands grouped with spaces, as the published tables write them.
        (-999_999_999i64..999_999_999).prop_map(|n| {
            let digits = n.unsigned_abs().to_string();
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(' ');
                }
                grouped.push(c);
            }
            let sign = if n < 0 { "-" } else { "" };
            (n as f64, format!("{sign}{grouped}"))
        }),
        Just((f64::INFINITY, "inf".to_owned())),
        Just((-0.0, "-0".to_owned())),
    ]
}

fn status_with_text() -> impl Strategy<Value = (Status, String)> {
    prop::sample::select(vec![
        (Status::Final, "final"),
        (Status::Final, "FINAL"),
        (Status::Final, "Final"),
        (Status::Provisional, "provisional"),
        (Status::Provisional, "Preliminary"),
    ])
    .prop_map(|(s, t)| (s, t.to_owned()))
}

fn row_spec() -> impl Strategy<Value = RowSpec> {
    (
        prop_oneof![Just(String::new()), non_empty_field(6)],
        non_empty_field(30),
        any::<i32>(),
        value_with_text(),
        status_with_text(),
        field_text(40),
        field_text(20),
        field_text(20),
    )
        .prop_map(
            |(
                region,
                indicator,
                year,
                (value, value_text),
                (status, status_text),
                source,
                note,
                reason,
            )| RowSpec {
                region,
                indicator,
                year,
                value,
                value_text,
                status,
                status_text,
                source,
                note,
                reason,
            },
        )
}

#[derive(Debug, Clone)]
struct Layout {
    /// Column names in file order.
    columns: Vec<&'static str>,
    terminator: &'static str,
    bom: bool,
    final_terminator: bool,
    /// Per field: quote even when not needed.
    quote_all: bool,
    /// Blank lines before some rows (the reader skips them, line numbers count them).
    blank_before: Vec<bool>,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        any::<(bool, bool, bool)>(),
        prop::sample::select(vec!["\n", "\r\n"]),
        any::<(bool, bool, bool)>(),
        prop::collection::vec(any::<bool>(), 32),
    )
        .prop_flat_map(
            |((region, note, reason), terminator, (bom, final_terminator, quote_all), blanks)| {
                let mut columns = vec!["indicator_id", "year", "value", "status", "source"];
                for (present, name) in [
                    (region, "region_code"),
                    (note, "note"),
                    (reason, "correction_reason"),
                ] {
                    if present {
                        columns.push(name);
                    }
                }
                Just(columns)
                    .prop_shuffle()
                    .prop_map(move |columns| Layout {
                        columns,
                        terminator,
                        bom,
                        final_terminator,
                        quote_all,
                        blank_before: blanks
                            .iter()
                            .enumerate()
                            .map(|(i, b)| *b && i % 5 == 0)
                            .collect(),
                    })
            },
        )
}

fn render_field(text: &str, quote: bool) -> String {
    if quote || text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes `rows` as CSV in `layout` and returns the file with the rows the reader must
/// return (with the physical line each record starts on).
fn render(rows: &[RowSpec], layout: &Layout) -> (String, Vec<Row>) {
    let mut text = String::new();
    if layout.bom {
        text.push('\u{feff}');
    }
    let header: Vec<String> = layout
        .columns
        .iter()
        .map(|c| render_field(c, layout.quote_all))
        .collect();
    text.push_str(&header.join(","));
    let mut expected = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        text.push_str(layout.terminator);
        if layout.blank_before.get(i).copied().unwrap_or(false) {
            text.push_str(layout.terminator);
        }
        let line = line_count(text.as_bytes());
        let fields: Vec<String> = layout
            .columns
            .iter()
            .map(|c| {
                let v = match *c {
                    "region_code" => r.region.clone(),
                    "indicator_id" => r.indicator.clone(),
                    "year" => r.year.to_string(),
                    "value" => r.value_text.clone(),
                    "status" => r.status_text.clone(),
                    "source" => r.source.clone(),
                    "note" => r.note.clone(),
                    "correction_reason" => r.reason.clone(),
                    other => unreachable!("column {other}"),
                };
                render_field(&v, layout.quote_all)
            })
            .collect();
        text.push_str(&fields.join(","));
        let has = |c: &str| layout.columns.contains(&c);
        expected.push(Row {
            line,
            region_code: Some(r.region.clone()).filter(|s| has("region_code") && !s.is_empty()),
            observation: ObservationInput {
                borders: Default::default(),
                published_micros: None,
                indicator_id: r.indicator.clone(),
                year: r.year,
                value: r.value,
                status: Some(r.status),
                source: r.source.clone(),
                note: if has("note") {
                    r.note.clone()
                } else {
                    String::new()
                },
                correction_reason: if has("correction_reason") {
                    r.reason.clone()
                } else {
                    String::new()
                },
            },
        });
    }
    if layout.final_terminator {
        text.push_str(layout.terminator);
    }
    (text, expected)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_rows_round_trip(rows in prop::collection::vec(row_spec(), 0..12), layout in layout()) {
        let (text, expected) = render(&rows, &layout);
        let parsed = csvin::parse(&text);
        prop_assert!(parsed.is_ok(), "{:?} for\n{text}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed, &expected, "file:\n{}", text);
        for (p, e) in parsed.iter().zip(&expected) {
            prop_assert_eq!(p.observation.value.to_bits(), e.observation.value.to_bits());
        }
        // The same file as bytes reads the same.
        prop_assert_eq!(csvin::parse_bytes(text.as_bytes()).unwrap(), expected);
    }
}

// ---------------------------------------------------------------------------------------
// Validation: never a panic, and accepted exactly when the rules hold.

fn indicator_id(known: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        // A few ids often, so that cells repeat within a submission.
        4 => prop::sample::select(vec!["population", "natural_increase", "unemployment_rate_15_74"])
            .prop_map(str::to_owned),
        3 => prop::sample::select(known),
        1 => Just(String::new()),
        1 => "[a-z_]{1,24}",
        1 => (1000usize..20_000).prop_map(|n| "p".repeat(n)),
    ]
}

fn year() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => 2019..2022i32,
        2 => 1985..2106i32,
        1 => prop::sample::select(vec![1989, 1990, 2100, 2101, i32::MIN, i32::MAX, 0]),
        1 => any::<i32>(),
    ]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -2e6..2e8f64,
        2 => -200.0..200.0f64,
        2 => any::<f64>(),
        1 => proptest::num::f64::ANY,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 100.0, 100.000_000_1,
            -1e-300, 1e8, 1e8 + 1.0, 1e6, -1e6, -1_000_000.000_1, f64::MIN_POSITIVE, f64::MAX,
        ]),
    ]
}

/// Text up to a limit in bytes and just past it, in one- and two-byte characters.
fn text(limit: usize, empty_weight: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        empty_weight => Just(String::new()),
        1 => prop::sample::select(vec![" ", "\t\n", "\u{3000}"]).prop_map(str::to_owned),
        3 => "[a-zA-Z ,.:/äö]{1,60}",
        1 => (limit - 2..limit + 3).prop_map(|n| "s".repeat(n)),
        1 => (limit / 2 - 2..limit / 2 + 3).prop_map(|n| "ä".repeat(n)),
        1 => (limit + 1..limit * 8).prop_map(|n| "x".repeat(n)),
    ]
}

/// An observation that breaks no rule (unless it repeats a cell or revises a final one).
fn valid_observation() -> impl Strategy<Value = ObservationInput> {
    let cat = Catalog::bundled();
    let indicators: Vec<(String, i32, i32, f64, f64)> = cat
        .indicators
        .values()
        .map(|i| {
            let lo = i.min_value.unwrap_or(-1e9);
            let hi = i.max_value.unwrap_or(1e9);
            (i.id.clone(), i.min_year, i.max_year.unwrap_or(2030), lo, hi)
        })
        .collect();
    prop::sample::select(indicators)
        .prop_flat_map(|(id, min_year, max_year, lo, hi)| {
            (
                Just(id),
                prop_oneof![2 => 2019..2022i32, 1 => min_year..=max_year],
                prop_oneof![4 => lo..=hi, 1 => Just(lo), 1 => Just(hi), 1 => Just(CURRENT_VALUE)],
                prop_oneof![Just(Status::Provisional), Just(Status::Final)],
                "[a-zA-Z][a-zA-Z ,.]{0,30}",
                prop_oneof![3 => Just(String::new()), 1 => "[a-z ]{1,20}"],
                prop_oneof![Just(String::new()), "[a-z][a-z ]{0,20}"],
            )
        })
        .prop_map(
            |(indicator_id, year, value, status, source, note, correction_reason)| {
                ObservationInput {
                    borders: Default::default(),
                    published_micros: None,
                    indicator_id,
                    year,
                    value,
                    status: Some(status),
                    source,
                    note,
                    correction_reason,
                }
            },
        )
}

/// One change that may break a rule (or, by chance, not).
#[derive(Debug, Clone)]
enum Change {
    Indicator(String),
    Year(i32),
    Value(f64),
    NoStatus,
    Source(String),
    Note(String),
    Reason(String),
}

fn change(known: Vec<String>) -> impl Strategy<Value = Change> {
    prop_oneof![
        indicator_id(known).prop_map(Change::Indicator),
        year().prop_map(Change::Year),
        value().prop_map(Change::Value),
        Just(Change::NoStatus),
        text(MAX_SOURCE_LEN, 1).prop_map(Change::Source),
        text(MAX_TEXT_LEN, 1).prop_map(Change::Note),
        text(MAX_TEXT_LEN, 1).prop_map(Change::Reason),
    ]
}

fn observation(known: Vec<String>) -> impl Strategy<Value = ObservationInput> {
    (
        valid_observation(),
        prop_oneof![
            3 => Just(Vec::new()),
            2 => prop::collection::vec(change(known), 1..3),
        ],
    )
        .prop_map(|(mut o, changes)| {
            for c in changes {
                match c {
                    Change::Indicator(id) => o.indicator_id = id,
                    Change::Year(y) => o.year = y,
                    Change::Value(v) => o.value = v,
                    Change::NoStatus => o.status = None,
                    Change::Source(t) => o.source = t,
                    Change::Note(t) => o.note = t,
                    Change::Reason(t) => o.correction_reason = t,
                }
            }
            o
        })
}

/// The value every cell of a final year holds in the validation property.
const CURRENT_VALUE: f64 = 50.0;
/// The year of the record time in the validation property.
const CURRENT_YEAR: i32 = 2026;

/// Whether observation `o` equals the current value (`CURRENT_VALUE`, final) of a cell of
/// `final_years`: unchanged, not a revision.
fn oracle_unchanged(o: &ObservationInput, final_years: &[i32]) -> bool {
    final_years.contains(&o.year) && o.value == CURRENT_VALUE && o.status == Some(Status::Final)
}

/// The rules, written from docs/architecture.md rather than from `validate.rs`: whether observation
/// `i` of `all` is acceptable, given the years whose cells currently hold a final value.
fn oracle_ok(cat: &Catalog, all: &[ObservationInput], i: usize, final_years: &[i32]) -> bool {
    let o = &all[i];
    let Some(ind) = cat.indicators.get(&o.indicator_id) else {
        return false;
    };
    let blank = |s: &str| s.chars().all(char::is_whitespace);
    let in_year = ind.min_year <= o.year
        && ind.max_year.is_none_or(|max| o.year <= max)
        && (o.year <= CURRENT_YEAR || ind.kind.allows_future_years());
    let in_range = o.value.is_finite()
        && ind.min_value.is_none_or(|lo| o.value >= lo)
        && ind.max_value.is_none_or(|hi| o.value <= hi);
    let repeated = all[..i]
        .iter()
        .any(|p| p.indicator_id == o.indicator_id && p.year == o.year);
    let revises_final = final_years.contains(&o.year)
        && !oracle_unchanged(o, final_years)
        && blank(&o.correction_reason);
    in_year
        && in_range
        && !repeated
        && o.status.is_some()
        && !blank(&o.source)
        && o.source.len() <= 1024
        && o.note.len() <= 1024
        && o.correction_reason.len() <= 1024
        && !revises_final
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn validation_accepts_exactly_the_valid(
        observations in prop::collection::vec(
            observation(Catalog::bundled().indicators.keys().cloned().collect()),
            0..6,
        ),
        final_years in prop::sample::subsequence(vec![2019, 2020, 2021], 0..=2),
    ) {
        let cat = Catalog::bundled();
        let current = |_: &str, year: i32, _: Option<i32>| {
            final_years.contains(&year).then_some(Current { value: CURRENT_VALUE, status: Status::Final })
        };
        let mut violations = Vec::new();
        let valid = check_observations(&cat, &observations, current, CURRENT_YEAR, &mut violations);

        let ok: Vec<bool> = (0..observations.len())
            .map(|i| oracle_ok(&cat, &observations, i, &final_years))
            .collect();
        let accepted = !observations.is_empty() && ok.iter().all(|b| *b);
        prop_assert_eq!(violations.is_empty(), accepted, "violations: {:?}", violations);

        // Each refused observation is named by at least one violation, and no accepted one
        // is; the returned observations are exactly the acceptable ones, in order.
        let named: HashSet<usize> = violations
            .iter()
            .filter_map(|v| {
                let rest = v.field.strip_prefix("observations[")?;
                rest[..rest.find(']')?].parse().ok()
            })
            .collect();
        let refused: HashSet<usize> = (0..observations.len()).filter(|i| !ok[*i]).collect();
        prop_assert_eq!(&named, &refused, "violations: {:?}", violations);
        let expected: Vec<(usize, &ObservationInput)> =
            observations.iter().enumerate().zip(&ok).filter(|(_, ok)| **ok).map(|(o, _)| o).collect();
        prop_assert_eq!(valid.len(), expected.len());
        for (c, (i, o)) in valid.iter().zip(expected) {
            prop_assert_eq!(c.index, i);
            prop_assert_eq!(c.unchanged, oracle_unchanged(o, &final_years));
            let v = &o.clone().into_observation();
            prop_assert_eq!(&v.indicator_id, &o.indicator_id);
            prop_assert_eq!(v.year, o.year);
            prop_assert_eq!(v.value.to_bits(), o.value.to_bits());
            prop_assert_eq!(Some(v.status), o.status);
            prop_assert_eq!((&v.source, &v.note, &v.correction_reason), (&o.source, &o.note, &o.correction_reason));
        }
        if observations.is_empty() {
            prop_assert!(violations.iter().any(|v| v.field == "observations"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The committed corpus: files that exercise the reader's edges, with their known outcome.

#[test]
fn csv_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/csv");
    // Ok(rows and the line of each) or Err(line).
    let expected: &[(&str, Result<&[usize], usize>)] = &[
        ("valid.csv", Ok(&[2, 3, 4])),
        ("quoted_commas.csv", Ok(&[2, 3, 5])),
        ("crlf.csv", Ok(&[2, 3, 5])),
        ("bom.csv", Ok(&[2, 3])),
        ("ragged_row.csv", Err(3)),
        ("non_utf8.csv", Err(4)),
        ("empty.csv", Err(1)),
        ("header_only.csv", Ok(&[])),
        ("bad_value.csv", Err(3)),
        ("semicolon_decimal_comma.csv", Ok(&[2, 3])),
        ("semicolon_ambiguous_points.csv", Err(3)),
    ];
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = csvin::parse_bytes(&bytes);
        check_outcome(&bytes, &outcome).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = expected
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is in the corpus but has no expected outcome here"));
        match (&outcome, &want.1) {
            (Ok(rows), Ok(lines)) => {
                let got: Vec<usize> = rows.iter().map(|r| r.line).collect();
                assert_eq!(got, *lines, "{name}: lines of the rows");
            }
            (Err(e), Err(line)) => assert_eq!(e.line, *line, "{name}: {e}"),
            (got, want) => panic!("{name}: expected {want:?}, got {got:?}"),
        }
        seen.push(name);
    }
    assert_eq!(seen.len(), expected.len(), "corpus files: {seen:?}");
}

#[test]
fn csv_corpus_rows_read_as_written() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/csv");
    let rows = csvin::parse_bytes(&std::fs::read(dir.join("quoted_commas.csv")).unwrap()).unwrap();
    assert_eq!(
        rows[0].observation.source,
        "Statistics Finland, \"Population structure\" 2021"
    );
    assert_eq!(rows[1].observation.note, "revised,\nsee release");
    assert_eq!(rows[1].region_code.as_deref(), Some("MK19"));
    let bom = csvin::parse_bytes(&std::fs::read(dir.join("bom.csv")).unwrap()).unwrap();
    assert_eq!(bom[0].observation.indicator_id, "population");
    assert_eq!(bom[1].observation.value, 1_700_000.0);
}
