//! CSV tables as the open data writes them: the two dialects, figures written as numbers a
//! spreadsheet reads back, and every text cell guarded against being run as a formula.
//!
//! Every CSV answer (wide, long, a listing) is written here and nowhere else, so that the
//! dialect and the formula guard cannot differ between endpoints.

use std::borrow::Cow;

use super::labels::Lang;

/// How a CSV is written for the program that opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    /// RFC 4180: `,` between fields, a decimal point, no byte order mark. What R, pandas and a
    /// spreadsheet in an English locale read by default.
    International,
    /// What a spreadsheet in a Finnish locale opens by double-click: `;` between fields
    /// (Finnish Excel's list separator, since `,` is its decimal sign), a decimal comma, and
    /// UTF-8 with a byte order mark (without it Excel reads the file as Windows-1252 and
    /// garbles ä and ö).
    Finnish,
}

impl Dialect {
    /// The dialect of a language when `csv_dialect` is not given: Finnish for `lang=fi`.
    pub(super) fn of(lang: Lang) -> Dialect {
        match lang {
            Lang::Fi => Dialect::Finnish,
            Lang::Sv | Lang::En => Dialect::International,
        }
    }

    /// The value of `csv_dialect` that names it.
    pub(super) fn parse(s: &str) -> Option<Dialect> {
        match s {
            "international" => Some(Dialect::International),
            "fi" => Some(Dialect::Finnish),
            _ => None,
        }
    }

    fn delimiter(self) -> u8 {
        match self {
            Dialect::International => b',',
            Dialect::Finnish => b';',
        }
    }

    /// A figure as written: the shortest text that reads back as the same double (never
    /// rounded to the catalog's decimals, never an exponent, never a thousands separator),
    /// with the dialect's decimal sign.
    fn number(self, x: f64) -> String {
        let s = x.to_string();
        match self {
            Dialect::International => s,
            Dialect::Finnish => s.replace('.', ","),
        }
    }

    /// Whether `s` is a number a spreadsheet of this dialect reads as one: digits, a sign,
    /// the dialect's decimal sign and an exponent (not `inf` or `NaN`, which Rust would
    /// parse and a spreadsheet would not).
    fn is_number(self, s: &str) -> bool {
        let (decimal, other) = match self {
            Dialect::International => ('.', ','),
            Dialect::Finnish => (',', '.'),
        };
        s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | 'e' | 'E') || c == decimal)
            && !s.contains(other)
            && s.replacen(decimal, ".", 1).parse::<f64>().is_ok()
    }
}

/// One field of a CSV row.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Field {
    /// Text, written as given unless a spreadsheet would run it ([`cell`]).
    Text(String),
    /// A figure (`None`: no figure, an empty field), written in the dialect's number form.
    Number(Option<f64>),
}

impl From<String> for Field {
    fn from(s: String) -> Field {
        Field::Text(s)
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Field {
        Field::Text(s.to_owned())
    }
}

/// Counts, years, sequences and ranks: whole numbers, the same in both dialects.
macro_rules! whole_numbers {
    ($($t:ty),*) => {$(
        impl From<$t> for Field {
            fn from(n: $t) -> Field {
                Field::Text(n.to_string())
            }
        }
    )*};
}
whole_numbers!(i32, u32, u64, usize);

/// A figure: absent, infinite or NaN is no figure.
pub(super) fn num(v: Option<f64>) -> Field {
    Field::Number(v.filter(|x| x.is_finite()))
}

/// A text field: empty for `None`.
pub(super) fn text(v: Option<impl ToString>) -> Field {
    Field::Text(v.map(|v| v.to_string()).unwrap_or_default())
}

/// A text cell as written: one that a spreadsheet would take for a formula — a leading
/// `=`, `+`, `-` or `@`, also after spaces, or a leading tab, carriage return or line
/// feed — is prefixed with `'`, as OWASP advises, unless it is a number in the dialect (a
/// figure such as `-942`, or `-0,5` in the Finnish one). Every text cell passes here,
/// whoever wrote it (a council's source, an admin's unit, a name); JSON carries every text
/// as written.
fn cell(s: &str, dialect: Dialect) -> Cow<'_, str> {
    let formula = matches!(s.chars().next(), Some('\t' | '\r' | '\n'))
        || matches!(s.trim_start().chars().next(), Some('=' | '+' | '-' | '@'));
    if formula && !dialect.is_number(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A CSV table of `header` and `rows` in `dialect` (CRLF line ends, as RFC 4180 says).
pub(super) fn write<S: AsRef<str>>(header: &[S], rows: &[Vec<Field>], dialect: Dialect) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(dialect.delimiter())
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing into memory does not fail.
    w.write_record(
        header
            .iter()
            .map(|h| cell(h.as_ref(), dialect).into_owned()),
    )
    .expect("csv into memory");
    for r in rows {
        debug_assert_eq!(r.len(), header.len(), "a row of every column");
        let fields = r.iter().map(|f| match f {
            Field::Text(s) => cell(s, dialect).into_owned(),
            Field::Number(v) => v.map(|x| dialect.number(x)).unwrap_or_default(),
        });
        w.write_record(fields).expect("csv into memory");
    }
    let body =
        String::from_utf8(w.into_inner().expect("csv into memory")).expect("csv of UTF-8 is UTF-8");
    match dialect {
        Dialect::International => body,
        Dialect::Finnish => format!("\u{feff}{body}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell a spreadsheet would run as a formula is neutralised, whatever column it is
    /// in and whatever the dialect; others, and numbers of the dialect, are left as they are.
    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for (given, international, finnish) in [
            (
                "=HYPERLINK(\"http://x\")",
                "'=HYPERLINK(\"http://x\")",
                "'=HYPERLINK(\"http://x\")",
            ),
            (" =1+1", "' =1+1", "' =1+1"),
            ("  @SUM(A1)", "'  @SUM(A1)", "'  @SUM(A1)"),
            ("+358 40", "'+358 40", "'+358 40"),
            ("-1 revised", "'-1 revised", "'-1 revised"),
            ("@SUM(A1)", "'@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1", "'\r=1"),
            ("-942", "-942", "-942"),
            // A number in one dialect is text in the other.
            ("-0.5", "-0.5", "'-0.5"),
            ("-0,5", "'-0,5", "-0,5"),
            ("-1,5;=1", "'-1,5;=1", "'-1,5;=1"),
            ("-inf", "'-inf", "'-inf"),
            ("-NaN", "'-NaN", "'-NaN"),
            (
                "Statistics Finland",
                "Statistics Finland",
                "Statistics Finland",
            ),
            ("", "", ""),
        ] {
            assert_eq!(
                cell(given, Dialect::International),
                international,
                "{given:?}"
            );
            assert_eq!(cell(given, Dialect::Finnish), finnish, "{given:?}");
        }
        let rows = [vec![
            Field::from("=1+1"),
            Field::from(" =HYPERLINK(1)"),
            num(Some(-0.5)),
        ]];
        let header = ["source", "unit", "value"];
        assert_eq!(
            write(&header, &rows, Dialect::International),
            "source,unit,value\r\n'=1+1,' =HYPERLINK(1),-0.5\r\n"
        );
        assert_eq!(
            write(&header, &rows, Dialect::Finnish),
            "\u{feff}source;unit;value\r\n'=1+1;' =HYPERLINK(1);-0,5\r\n"
        );
    }

    /// The Finnish dialect writes every figure with a decimal comma and nothing else
    /// changes: read back with `;` and `,` each is the same double as the international
    /// one, and text with a `.`, `,` or `;` stays text.
    #[test]
    fn the_finnish_dialect_reads_back_as_the_same_numbers() {
        let figures = [
            1234567.25,
            -942.0,
            0.1 + 0.2,
            1e-7,
            123456789012345680000.0,
            -0.0,
            f64::MIN_POSITIVE,
        ];
        let rows: Vec<Vec<Field>> = figures
            .iter()
            .map(|x| vec![num(Some(*x)), Field::from("v1.2; 3,4"), num(None)])
            .collect();
        let header = ["value", "note", "empty"];
        let read = |body: &str, delimiter: u8, decimal: char| -> Vec<(f64, String, String)> {
            let body = body.strip_prefix('\u{feff}').unwrap_or(body);
            csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .from_reader(body.as_bytes())
                .records()
                .map(|r| {
                    let r = r.unwrap();
                    let value = r[0].replace(decimal, ".").parse().unwrap();
                    (value, r[1].to_owned(), r[2].to_owned())
                })
                .collect()
        };
        let intl = write(&header, &rows, Dialect::International);
        let fi = write(&header, &rows, Dialect::Finnish);
        assert!(!intl.starts_with('\u{feff}') && fi.starts_with('\u{feff}'));
        let (a, b) = (read(&intl, b',', '.'), read(&fi, b';', ','));
        assert_eq!(a, b);
        let values: Vec<f64> = a.iter().map(|r| r.0).collect();
        assert_eq!(values, figures, "every figure reads back exactly");
        assert!(a.iter().all(|r| r.1 == "v1.2; 3,4" && r.2.is_empty()));
        // No exponent and no thousands separator: a spreadsheet reads each as a number.
        for line in fi.lines().skip(1) {
            let first = line.split(';').next().unwrap();
            assert!(
                first
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '-'),
                "{first}"
            );
        }
    }
}
