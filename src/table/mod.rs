//! Official tables as published: Statistics Finland's (and THL's) PX files and PxWeb's
//! JSON-stat 2.0 answers, read into one model ([`Table`]: a cube of dimensions and cells,
//! with what the publisher says of it), and turned into submissions by a mapping
//! ([`mapping`]: which dimension is the area, the time, the indicator) in one step
//! ([`plan`]) shared by `tilannekuva import-table` and the bundled demo.
//!
//! Nothing here talks to a server: reading never panics and refuses a damaged file with
//! its line (PX) or line and column (JSON-stat); the plan says, cell by cell, what it
//! would submit and what it skips and why.

pub(crate) mod columns;
pub(crate) mod fetch;
pub(crate) mod jsonstat;
pub(crate) mod mapping;
pub(crate) mod plan;
pub(crate) mod px;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// Largest table file read: 512 MiB. StatFin's largest tables as PX files are a few
/// hundred MB; anything larger is to be fetched in parts (`--url` splits a query).
pub(crate) const MAX_FILE_BYTES: usize = 512 << 20;
/// Most cells of one table (the product of its dimensions' sizes): 20 million. A cell is
/// kept in 8 bytes, so a table is at most 160 MB in memory while it is planned; PxWeb
/// itself answers at most ~100 000 cells per query.
pub(crate) const MAX_CELLS: u64 = 20_000_000;
/// Most dimensions of one table (StatFin's have 2–8).
pub(crate) const MAX_DIMENSIONS: usize = 32;

/// A table as its publisher released it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// The publisher's id of the table (`statfin_rpk_pxt_135l`): PX `TABLEID` (or
    /// `MATRIX`), JSON-stat `extension.px.tableid`; empty when the file names none.
    pub(crate) id: String,
    /// Its title in its first language (PX `TITLE`, JSON-stat `label`).
    pub(crate) title: String,
    /// Who publishes it (PX `SOURCE`, JSON-stat `source`), as the file says.
    pub(crate) source: String,
    /// When the publisher last updated it (PX `LAST-UPDATED`, the latest of them; JSON-stat
    /// `updated`), microseconds since the Unix epoch.
    pub(crate) updated_micros: Option<i64>,
    /// Hex SHA-256 of the file's bytes: which release this is, whatever its name.
    pub(crate) digest: String,
    /// The format it came in ("PX" or "JSON-stat").
    pub(crate) format: &'static str,
    /// The table's notes (PX `NOTE`/`NOTEX`, JSON-stat `note`), in its first language.
    pub(crate) notes: Vec<String>,
    /// Its dimensions, the first varying slowest.
    pub(crate) dimensions: Vec<Dimension>,
    /// One value per cell in row-major order; NaN: no value (see `marks`).
    values: Vec<f64>,
    /// Marks by cell: a missing-value symbol (`..`) of a cell without a value, or a status
    /// (`p`) of one with a value. Indexes into `mark_names`.
    marks: HashMap<u64, u16>,
    mark_names: Vec<String>,
    /// A JSON-stat file's `extension`, where a file may name its one area or year.
    pub(crate) extension: Option<serde_json::Value>,
}

/// What a dimension is for, as the table says (JSON-stat `role`, PX `TIMEVAL` and
/// `CONTVARIABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Time,
    Geo,
    Metric,
}

/// One dimension of a table.
#[derive(Debug, Clone)]
pub(crate) struct Dimension {
    /// Its id: JSON-stat's dimension id, PX's variable name in the first language.
    pub(crate) id: String,
    /// Every name it has (its label and its name in each language), to match a mapping.
    pub(crate) names: Vec<String>,
    pub(crate) role: Option<Role>,
    pub(crate) categories: Vec<Category>,
}

/// One category (value) of a dimension.
#[derive(Debug, Clone, Default)]
pub(crate) struct Category {
    /// Its code (PX `CODES`, else its label; JSON-stat's category id).
    pub(crate) code: String,
    /// Its labels, the first language first.
    pub(crate) labels: Vec<String>,
    /// What the publisher notes of it (PX `VALUENOTE`, JSON-stat category `note`).
    pub(crate) note: String,
    /// Decimals it is published with (PX `PRECISION`, JSON-stat `unit.decimals`).
    pub(crate) decimals: Option<u32>,
}

impl Category {
    /// Its label in the first language (its code when it has none).
    pub(crate) fn label(&self) -> &str {
        self.labels.first().map_or(&self.code, String::as_str)
    }
}

impl Dimension {
    /// Whether `name` names this dimension (its id, label or a translation).
    pub(crate) fn is_named(&self, name: &str) -> bool {
        self.id == name || self.names.iter().any(|n| n == name)
    }

    /// The position of the category with code or label `name`.
    pub(crate) fn category(&self, name: &str) -> Option<usize> {
        self.categories
            .iter()
            .position(|c| c.code == name)
            .or_else(|| {
                self.categories
                    .iter()
                    .position(|c| c.labels.iter().any(|l| l == name))
            })
    }
}

/// A cell's content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Datum<'a> {
    /// A value, with its status mark if it has one.
    Value(f64, Option<&'a str>),
    /// No value: the symbol the table gives instead (`..`), if any.
    Missing(Option<&'a str>),
}

/// Why a table file is refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub(crate) struct TableError {
    /// "line 12" (PX), "line 1, column 340" (JSON-stat), or "the file".
    pub(crate) place: String,
    pub(crate) message: String,
}

impl TableError {
    pub(crate) fn at(place: impl Into<String>, message: impl Into<String>) -> TableError {
        TableError {
            place: place.into(),
            message: message.into(),
        }
    }

    pub(crate) fn file(message: impl Into<String>) -> TableError {
        TableError::at("the file", message)
    }
}

/// The missing-value symbols (PX `DATASYMBOL1`–`6` and `DATASYMBOLNIL`).
pub(crate) const SYMBOLS: [&str; 7] = [".", "..", "...", "....", ".....", "......", "-"];

/// What the publisher's missing-value symbols mean (PX `DATASYMBOL1`–`6` and `-`,
/// Statistics Finland's usage); a symbol is never a value.
pub(crate) fn symbol_meaning(symbol: &str) -> &'static str {
    match symbol {
        "." => "not applicable (logically impossible)",
        ".." => "not available (too uncertain or not collected)",
        "..." => "not available (confidential)",
        "...." => "not available (not yet published or withdrawn)",
        "....." => "not available",
        "......" => "not available",
        "-" => "nil (magnitude zero or less than half the unit), not taken as a value",
        _ => "a symbol of the publisher's",
    }
}

impl Table {
    /// An empty table of `dimensions`, to be filled with [`Table::set`] and
    /// [`Table::mark`]; `Err` when it would be larger than [`MAX_CELLS`].
    pub(crate) fn new(
        bytes: &[u8],
        format: &'static str,
        dimensions: Vec<Dimension>,
    ) -> Result<Table, TableError> {
        Table::with_values(bytes, format, dimensions, None)
    }

    /// A table of `dimensions` whose cells are `values` (NaN: no value) when given — as
    /// many as the dimensions make, taken without a copy — else all empty.
    pub(crate) fn with_values(
        bytes: &[u8],
        format: &'static str,
        dimensions: Vec<Dimension>,
        values: Option<Vec<f64>>,
    ) -> Result<Table, TableError> {
        if dimensions.is_empty() {
            return Err(TableError::file("the table has no dimensions"));
        }
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(TableError::file(format!(
                "the table has {} dimensions; at most {MAX_DIMENSIONS} are read",
                dimensions.len()
            )));
        }
        let cells = cell_count(&dimensions)?;
        let values = match values {
            Some(v) if v.len() as u64 != cells => {
                return Err(TableError::file(format!(
                    "\"value\" holds {} values; the dimensions make {cells} cells",
                    v.len()
                )))
            }
            Some(v) => v,
            None => vec![f64::NAN; cells as usize],
        };
        Ok(Table {
            id: String::new(),
            title: String::new(),
            source: String::new(),
            updated_micros: None,
            digest: hex::encode(Sha256::digest(bytes)),
            format,
            notes: Vec::new(),
            dimensions,
            values,
            marks: HashMap::new(),
            mark_names: Vec::new(),
            extension: None,
        })
    }

    /// The number of cells (the product of the dimensions' sizes).
    pub(crate) fn cells(&self) -> u64 {
        self.values.len() as u64
    }

    /// The cells that hold a value.
    pub(crate) fn values_present(&self) -> u64 {
        self.values.iter().filter(|v| !v.is_nan()).count() as u64
    }

    /// Sets cell `index` (which must be below [`Table::cells`]).
    pub(crate) fn set(&mut self, index: u64, value: f64) {
        self.values[index as usize] = value;
    }

    /// Marks cell `index` with a symbol or status.
    pub(crate) fn mark(&mut self, index: u64, mark: &str) {
        let n = match self.mark_names.iter().position(|m| m == mark) {
            Some(n) => n,
            None => {
                self.mark_names.push(mark.to_owned());
                self.mark_names.len() - 1
            }
        };
        // Marks are a publisher's few symbols and statuses; a table with more than 65 536
        // distinct ones keeps the first that many.
        if let Ok(n) = u16::try_from(n) {
            self.marks.insert(index, n);
        }
    }

    /// The cell at `index`.
    pub(crate) fn datum(&self, index: u64) -> Datum<'_> {
        let mark = self
            .marks
            .get(&index)
            .map(|n| self.mark_names[*n as usize].as_str());
        match self.values.get(index as usize) {
            Some(v) if !v.is_nan() => Datum::Value(*v, mark),
            _ => Datum::Missing(mark),
        }
    }

    /// The index of the cell at category positions `at` (one per dimension).
    pub(crate) fn index(&self, at: &[usize]) -> u64 {
        at.iter()
            .zip(&self.dimensions)
            .fold(0u64, |i, (p, d)| i * d.categories.len() as u64 + *p as u64)
    }

    /// The dimension named `name` (by id, label or translation).
    pub(crate) fn dimension(&self, name: &str) -> Option<usize> {
        self.dimensions.iter().position(|d| d.is_named(name))
    }

    /// The dimensions' ids, for messages.
    pub(crate) fn dimension_ids(&self) -> String {
        self.dimensions
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How this release is cited in every figure taken from it: publisher, table, title,
    /// update time and digest.
    pub(crate) fn citation(&self, publisher: &str) -> String {
        let updated = self
            .updated_micros
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map_or_else(
                || "update time not stated".to_owned(),
                |t| {
                    format!(
                        "updated {}",
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                },
            );
        let id = if self.id.is_empty() {
            "(no table id)"
        } else {
            &self.id
        };
        format!(
            "{publisher}, table {id} '{}', {updated}, {} sha256:{}",
            crate::domain::text::cut(&self.title, 300),
            self.format,
            self.digest
        )
    }
}

/// The number of cells of `dimensions`, refused beyond [`MAX_CELLS`].
pub(crate) fn cell_count(dimensions: &[Dimension]) -> Result<u64, TableError> {
    let mut cells: u64 = 1;
    for d in dimensions {
        if d.categories.is_empty() {
            return Err(TableError::file(format!(
                "dimension {:?} has no categories",
                d.id
            )));
        }
        cells = cells.saturating_mul(d.categories.len() as u64);
    }
    if cells > MAX_CELLS {
        let sizes: Vec<String> = dimensions
            .iter()
            .map(|d| format!("{} {}", d.id, d.categories.len()))
            .collect();
        return Err(TableError::file(format!(
            "the table has {cells} cells ({}); at most {MAX_CELLS} are read in one file: \
             fetch it in parts",
            sizes.join(" × ")
        )));
    }
    Ok(cells)
}

/// Reads a table file as its mapping says: a CSV table by its columns, else PX or
/// JSON-stat by its content ([`read`]). A CSV table takes its id and title from the mapping.
pub(crate) fn read_mapped(bytes: &[u8], m: &mapping::Mapping) -> Result<Table, TableError> {
    if m.table.format != Some(mapping::FileFormat::Csv) {
        return read(bytes);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(TableError::file(format!(
            "the file is {} bytes; at most {MAX_FILE_BYTES} are read",
            bytes.len()
        )));
    }
    let mut t = columns::read(
        bytes,
        &m.columns(),
        &m.table.value,
        m.table.status.as_deref(),
    )?;
    t.id = m.table.id.clone().unwrap_or_default();
    t.title = m.table.title.clone();
    Ok(t)
}

/// Reads a table file, PX or JSON-stat by its content (a JSON-stat answer starts with
/// `{`), refusing files larger than [`MAX_FILE_BYTES`].
pub(crate) fn read(bytes: &[u8]) -> Result<Table, TableError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(TableError::file(format!(
            "the file is {} bytes; at most {MAX_FILE_BYTES} are read",
            bytes.len()
        )));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => jsonstat::read(bytes),
        Some(_) => px::read(bytes),
        None => Err(TableError::file("the file is empty")),
    }
}

/// The instant of a PX time stamp (`CCYYMMDD hh:mm`, Finnish local time as Statistics
/// Finland writes it, read as UTC+2 — within an hour of the truth, which orders releases
/// days apart) or of an RFC 3339 / ISO 8601 time (JSON-stat `updated`, UTC when it names
/// no zone).
pub(crate) fn parse_updated(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_micros(),
        );
    }
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d %H:%M").ok()?;
    Some(t.and_utc().timestamp_micros() - 2 * 3_600_000_000)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Cases of each fuzz test: 512, or `PROPTEST_CASES` for a longer campaign.
    pub(crate) fn fuzz_cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(512)
    }

    /// One edit of a fuzzed file: where, which byte, and how (0 replace, 1 insert, 2
    /// remove, else cut the file there).
    pub(crate) type Edit = (proptest::sample::Index, u8, u8);

    /// Edits of a fuzzed file, as proptest draws them.
    pub(crate) fn edits() -> impl proptest::strategy::Strategy<Value = Vec<Edit>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            (any::<proptest::sample::Index>(), any::<u8>(), 0..4u8),
            1..8,
        )
    }

    /// `base` with `edits` made to it.
    pub(crate) fn mutated(base: &[u8], edits: Vec<Edit>) -> Vec<u8> {
        let mut b = base.to_vec();
        for (at, byte, kind) in edits {
            let i = at.index(b.len().max(1));
            match kind {
                0 if !b.is_empty() => b[i] = byte,
                1 => b.insert(i.min(b.len()), byte),
                2 if !b.is_empty() => {
                    b.remove(i);
                }
                _ => b.truncate(i),
            }
        }
        b
    }

    /// An accepted table is consistent: its last cell is addressable.
    pub(crate) fn consistent(t: &Table) {
        let last: Vec<usize> = t
            .dimensions
            .iter()
            .map(|d| d.categories.len() - 1)
            .collect();
        assert_eq!(t.index(&last), t.cells() - 1);
        let _ = t.datum(t.cells() - 1);
    }

    #[test]
    fn update_times_read_in_both_formats() {
        assert_eq!(
            parse_updated("2021-05-12T10:15:00Z"),
            Some(1_620_814_500_000_000)
        );
        assert_eq!(
            parse_updated("2021-05-12T10:15:00"),
            Some(1_620_814_500_000_000)
        );
        assert_eq!(parse_updated("20210512 12:15"), Some(1_620_814_500_000_000));
        assert_eq!(parse_updated("yesterday"), None);
    }

    #[test]
    fn a_table_beyond_the_cell_limit_is_refused_before_it_is_allocated() {
        let dim = |id: &str, n: usize| Dimension {
            id: id.into(),
            names: Vec::new(),
            role: None,
            categories: (0..n)
                .map(|i| Category {
                    code: i.to_string(),
                    ..Category::default()
                })
                .collect(),
        };
        let err = Table::new(b"", "PX", vec![dim("a", 100_000), dim("b", 1_000)]).unwrap_err();
        assert!(
            err.message.contains("100000000 cells (a 100000 × b 1000)"),
            "{err}"
        );
        assert!(err.message.contains("at most 20000000"), "{err}");
        let t = Table::new(b"x", "PX", vec![dim("a", 3), dim("b", 2)]).unwrap();
        assert_eq!(t.index(&[2, 1]), 5);
        assert_eq!(t.datum(5), Datum::Missing(None));
    }
}
