//! A table's mapping: a small TOML file that says how a published table becomes figures —
//! which dimension is the area and how its categories name areas, which is time (years,
//! or months with a rule for the year), which content is which catalog indicator (with a
//! scale), which category of every other dimension to take, and on which borders the
//! table is. `docs/data.md` documents every key; `data/official/mappings/` holds the
//! mappings of the bundled tables.
//!
//! ```toml
//! [table]
//! id = "statfin_rpk_pxt_135l"   # the file must be this table (optional)
//! publisher = "Statistics Finland"
//! borders = 2021                # the division its areas are on
//!
//! [area]
//! dimension = "Alue"
//! names = "code"                # code | label | name
//!
//! [time]
//! dimension = "Vuosi"           # years; "month" tables say unit = "month"
//!
//! [select]                      # one category of every other dimension
//! Rikosnimike = "RLL"
//!
//! [[indicator]]
//! content = "rik_1000"          # a category of the content dimension
//! indicator = "offences_per_1000"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// Longest mapping file read: a mapping is a few dozen lines.
pub(crate) const MAX_MAPPING_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mapping {
    pub(crate) table: TableRule,
    pub(crate) area: AreaRule,
    pub(crate) time: TimeRule,
    /// Dimension → the category to take (by code or label), for every dimension that is
    /// not the area, the time or the content and has more than one category.
    #[serde(default)]
    pub(crate) select: BTreeMap<String, String>,
    #[serde(rename = "indicator")]
    pub(crate) indicators: Vec<IndicatorRule>,
    #[serde(default)]
    pub(crate) provisional: ProvisionalRule,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableRule {
    /// The table id the file must carry (PX `TABLEID`, JSON-stat `extension.px.tableid`):
    /// a mapping is never applied to another table by mistake.
    pub(crate) id: Option<String>,
    /// Who publishes it, as every figure's source names it.
    pub(crate) publisher: String,
    /// The division (its year) whose borders the table's areas are on.
    pub(crate) borders: i32,
    /// Where the table is published, to cite.
    #[serde(default)]
    pub(crate) url: String,
    /// When it was published, for a file that does not say (an RFC 3339 time or a date);
    /// the file's own `LAST-UPDATED` / `updated` wins.
    pub(crate) published: Option<String>,
    /// Its title, for a file that has none (a CSV table).
    #[serde(default)]
    pub(crate) title: String,
    /// `"csv"`: a table in columns (one per dimension and one of values); without, a PX or
    /// JSON-stat file, told by its content.
    pub(crate) format: Option<FileFormat>,
    /// A CSV table's column of values.
    #[serde(default = "value_column")]
    pub(crate) value: String,
    /// A CSV table's column of cell statuses, if any (see `[provisional] statuses`).
    pub(crate) status: Option<String>,
}

/// A table format that its content does not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileFormat {
    Csv,
}

fn value_column() -> String {
    "value".into()
}

/// How a category names an area.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AreaNames {
    /// Its code is the area's code (`SSS`, `MK01`, `KU091`), after `prefix`.
    #[default]
    Code,
    /// Its label starts with the code ("MK01 Uusimaa").
    Label,
    /// Its label is the area's Finnish or Swedish name on the table's borders ("Helsinki").
    Name,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AreaRule {
    /// The area dimension; a table without one (a whole-country table) gives `code`.
    pub(crate) dimension: Option<String>,
    /// The one area of a table without an area dimension (`SSS`).
    pub(crate) code: Option<String>,
    /// Or where a JSON-stat file without an area dimension names its one area: a JSON
    /// pointer into its `extension` (`/region` for this service's region picture).
    pub(crate) code_at: Option<String>,
    #[serde(default)]
    pub(crate) names: AreaNames,
    /// Put before a bare code: `prefix = "KU"` reads "091" as KU091.
    #[serde(default)]
    pub(crate) prefix: String,
    /// Categories that are the whole country (besides `SSS`): "KOKO MAA", "Koko maa".
    #[serde(default)]
    pub(crate) whole_country: Vec<String>,
}

/// The time unit of a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TimeUnit {
    /// Categories are years ("2020", "2020*").
    #[default]
    Year,
    /// Categories are months ("2020M04", "2020-04"); each indicator states its rule.
    Month,
}

/// How a year's figure follows from a monthly series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MonthRule {
    /// The value of December: the situation at the end of the year.
    End,
    /// The mean of the twelve months (a year with a month missing has none).
    Mean,
}

impl MonthRule {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MonthRule::End => "value at the end of the year (December)",
            MonthRule::Mean => "mean of the twelve months",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeRule {
    /// The time dimension; a table without one gives `year` or `year_at`.
    pub(crate) dimension: Option<String>,
    #[serde(default)]
    pub(crate) unit: TimeUnit,
    /// The one year of a table without a time dimension.
    pub(crate) year: Option<i32>,
    /// Or where a JSON-stat file names it: a JSON pointer into its `extension` (`/year`).
    pub(crate) year_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndicatorRule {
    /// The catalog indicator the figures go to; `"*"` with content `"*"`: every category
    /// of the content dimension whose code is a catalog indicator, to that indicator.
    pub(crate) indicator: String,
    /// The content's category (by code or label) in the content dimension.
    pub(crate) content: String,
    /// The content dimension; by default the one the table marks as content (PX
    /// `CONTVARIABLE`, JSON-stat role `metric`).
    pub(crate) dimension: Option<String>,
    /// Each value is multiplied by this (a table in thousands into persons: 1000).
    #[serde(default = "one")]
    pub(crate) scale: f64,
    /// For a monthly table: how the year's figure follows from its months.
    pub(crate) rule: Option<MonthRule>,
    /// Selections of this indicator's own, over `[select]`.
    #[serde(default)]
    pub(crate) select: BTreeMap<String, String>,
}

fn one() -> f64 {
    1.0
}

/// Which figures the table marks as preliminary: they are recorded as provisional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProvisionalRule {
    /// Cell statuses (JSON-stat `status`) that mark a preliminary figure.
    #[serde(default = "preliminary_statuses")]
    pub(crate) statuses: Vec<String>,
    /// A time category whose label ends with this is preliminary ("2023*").
    #[serde(default = "star")]
    pub(crate) label_suffix: String,
    /// Words in a time category's note that mark it preliminary (PX `VALUENOTE`).
    #[serde(default = "preliminary_words")]
    pub(crate) note_words: Vec<String>,
}

impl Default for ProvisionalRule {
    fn default() -> Self {
        ProvisionalRule {
            statuses: preliminary_statuses(),
            label_suffix: star(),
            note_words: preliminary_words(),
        }
    }
}

fn preliminary_statuses() -> Vec<String> {
    vec!["p".into(), "E".into()]
}

fn star() -> String {
    "*".into()
}

fn preliminary_words() -> Vec<String> {
    ["ennakko", "preliminär", "preliminary"]
        .map(String::from)
        .to_vec()
}

impl Mapping {
    /// The columns a CSV table is read with: the area, time and content dimensions and
    /// those of `[select]`, in that order, each once.
    pub(crate) fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self
            .area
            .dimension
            .iter()
            .chain(&self.time.dimension)
            .chain(self.indicators.iter().filter_map(|r| r.dimension.as_ref()))
            .chain(self.select.keys())
            .chain(self.indicators.iter().flat_map(|r| r.select.keys()));
        for c in all {
            if !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
        out
    }

    /// Reads a mapping; `Err` names what is wrong (with TOML's line and column).
    pub(crate) fn parse(text: &str) -> Result<Mapping, String> {
        if text.len() > MAX_MAPPING_BYTES {
            return Err(format!(
                "the mapping is {} bytes; at most {MAX_MAPPING_BYTES}",
                text.len()
            ));
        }
        let m: Mapping = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
        let given = |x: [bool; 3]| x.iter().filter(|b| **b).count();
        if given([
            m.area.dimension.is_some(),
            m.area.code.is_some(),
            m.area.code_at.is_some(),
        ]) != 1
        {
            return Err(
                "[area] gives one of dimension (the table's area dimension), code (the \
                        one area of a table without one) or code_at (where its extension names it)"
                    .into(),
            );
        }
        if given([
            m.time.dimension.is_some(),
            m.time.year.is_some(),
            m.time.year_at.is_some(),
        ]) != 1
        {
            return Err(
                "[time] gives one of dimension (the table's time dimension), year (the \
                        one year of a table without one) or year_at (where its extension names it)"
                    .into(),
            );
        }
        if m.table.format == Some(FileFormat::Csv)
            && m.indicators.iter().any(|r| r.dimension.is_none())
        {
            return Err(
                "a CSV table names its content column: give every [[indicator]] its dimension"
                    .into(),
            );
        }
        if m.indicators.is_empty() {
            return Err("the mapping maps no [[indicator]]".into());
        }
        for (i, r) in m.indicators.iter().enumerate() {
            if (r.indicator == "*") != (r.content == "*") {
                return Err(format!("indicator[{i}]: \"*\" maps every content to the indicator of the same id: give it as both content and indicator"));
            }
            if !r.scale.is_finite() || r.scale == 0.0 {
                return Err(format!(
                    "indicator[{i}] ({}): scale must be a non-zero number",
                    r.indicator
                ));
            }
            match (m.time.unit, r.rule) {
                (TimeUnit::Month, None) => {
                    return Err(format!(
                        "indicator[{i}] ({}): a monthly table needs rule = \"end\" (December's \
                         value) or \"mean\" (the mean of the twelve months)",
                        r.indicator
                    ))
                }
                (TimeUnit::Year, Some(_)) => {
                    return Err(format!(
                        "indicator[{i}] ({}): rule is for monthly tables (time.unit = \"month\")",
                        r.indicator
                    ))
                }
                _ => {}
            }
        }
        Ok(m)
    }
}
