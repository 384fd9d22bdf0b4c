//! The operations artefacts checked against the real thing: the Grafana dashboards
//! (`dashboards/*.json`) and the Prometheus rules (`deploy/prometheus/`) run against a real
//! Prometheus scraping the real binary, promtool checks the deployed config and unit-tests
//! the alerts, and the Python example client (`examples/python/`) talks to a real server.
//!
//! Needs `prometheus` and `promtool` (Debian's `prometheus` package) and, for the Python
//! client, `python3` with `examples/python/requirements.txt` installed; `.ci/run` installs
//! them. A missing tool fails the test with a message naming the install step.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The value every template variable stands for when a dashboard query is run in the
/// test: real values of the demo data (2019 has many regions; MK01 has values, ranks and a
/// change from 2018 there), and the interval variables Grafana fills in itself.
const VARIABLES: &[(&str, &str)] = &[
    ("year", "2019"),
    ("region", "MK01"),
    ("indicator", "unemployment_rate_15_74"),
    ("theme", "inclusion"),
    // MK01's peer group (Helsinki-Uusimaa, a group of one): the group variable offers only
    // the groups of $region.
    ("group", "FI1B"),
    // Swedish: regions and groups have Swedish names, indicators none, so the queries must
    // fall back to the Finnish name.
    ("lang", "sv"),
    ("job", JOB),
    // What the "All" option of the instance variable sends (its allValue).
    ("instance", ".+"),
    ("__rate_interval", "1m"),
    ("__interval", "15s"),
    ("__range", "5m"),
];

/// The scrape job name the alert rules and the service-health dashboard expect.
const JOB: &str = "tilannekuva";

/// The datasource reference every panel, target and query variable must carry.
fn datasource_ref() -> Value {
    serde_json::json!({"type": "prometheus", "uid": "${datasource}"})
}

// ---------------------------------------------------------------------------------------
// Dashboards: reading them
// ---------------------------------------------------------------------------------------

/// Every dashboard file, by file name.
fn dashboards() -> Vec<(String, Value)> {
    let dir = repo_file("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// All panels of a dashboard, including those nested in (collapsed) rows.
fn panels(d: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(inner) = p.get("panels") {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

fn variables(d: &Value) -> Vec<&Value> {
    d["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

/// The query of a query variable: a string, or an object with a `query` string (the
/// newer Grafana form).
fn variable_query(v: &Value) -> Option<&str> {
    v["query"].as_str().or_else(|| v["query"]["query"].as_str())
}

/// Every PromQL expression of a dashboard's targets, with where it is.
fn target_exprs(name: &str, d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            out.push((
                format!(
                    "{name} / panel {:?} / target {}",
                    p["title"].as_str().unwrap_or("?"),
                    t["refId"].as_str().unwrap_or("?")
                ),
                expr.to_owned(),
            ));
        }
    }
    out
}

/// The names of the template variables an expression uses (`$x`, `${x}`, `${x:fmt}`,
/// `[[x]]`). `$1` is none: it is a regex group in label_replace's replacement, which Grafana
/// leaves alone (no variable is named 1).
fn used_variables(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            let (start, braced) = if b[i + 1] == b'{' {
                (i + 2, true)
            } else {
                (i + 1, false)
            };
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j > start && !b[start].is_ascii_digit() {
                out.push(expr[start..j].to_owned());
            }
            if braced {
                while j < b.len() && b[j] != b'}' {
                    j += 1;
                }
            }
            i = j.max(i + 1);
        } else if expr[i..].starts_with("[[") {
            let end = expr[i..].find("]]").map(|e| i + e).unwrap_or(b.len());
            out.push(expr[i + 2..end].split(':').next().unwrap().to_owned());
            i = end + 2;
        } else {
            i += 1;
        }
    }
    out
}

/// The expression with every template variable replaced by its test value.
fn substitute(expr: &str) -> Result<String, String> {
    let value = |name: &str| {
        VARIABLES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("no test value for template variable ${name} in {expr:?}"))
    };
    let mut out = String::with_capacity(expr.len());
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$'
            && i + 1 < b.len()
            && (b[i + 1] == b'{' || b[i + 1] == b'_' || b[i + 1].is_ascii_alphabetic())
        {
            let braced = b[i + 1] == b'{';
            let start = if braced { i + 2 } else { i + 1 };
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            out.push_str(value(&expr[start..j])?);
            if braced {
                let close = expr[j..]
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {expr:?}"))?;
                j += close + 1;
            }
            i = j;
        } else if expr[i..].starts_with("[[") {
            let end = expr[i..]
                .find("]]")
                .map(|e| i + e)
                .ok_or_else(|| format!("unclosed [[ in {expr:?}"))?;
            out.push_str(value(expr[i + 2..end].split(':').next().unwrap())?);
            i = end + 2;
        } else {
            // Copy one UTF-8 character.
            let ch = expr[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Dashboards: the provisioning rules
// ---------------------------------------------------------------------------------------

#[test]
fn dashboards_are_ready_for_file_provisioning() {
    let all = dashboards();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "national-overview.json",
        "region.json",
        "reporting-round.json",
        "service-health.json",
    ] {
        assert!(
            names.contains(&expected),
            "dashboards/{expected} is missing"
        );
    }
    let mut problems = Vec::new();
    let mut uids = BTreeMap::new();
    for (name, d) in &all {
        let mut problem = |s: String| problems.push(format!("{name}: {s}"));
        match d["uid"].as_str() {
            Some(uid) if !uid.trim().is_empty() => {
                if let Some(other) = uids.insert(uid.to_owned(), name.clone()) {
                    problem(format!("uid {uid:?} is also the uid of {other}"));
                }
            }
            _ => problem("no fixed, non-empty uid".into()),
        }
        if !d.get("id").is_some_and(Value::is_null) {
            problem(format!(
                "\"id\" must be null, is {}",
                d.get("id").unwrap_or(&Value::Bool(false))
            ));
        }
        if d.get("__inputs").is_some() {
            problem("has __inputs (an export for sharing, not for provisioning)".into());
        }
        if d["title"].as_str().unwrap_or_default().is_empty() {
            problem("no title".into());
        }
        let vars = variables(d);
        let ds_var = vars.iter().any(|v| {
            v["type"] == "datasource" && v["name"] == "datasource" && v["query"] == "prometheus"
        });
        if !ds_var {
            problem(
                "no template variable `datasource` of type datasource with query prometheus".into(),
            );
        }
        let var_names: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
        for v in &vars {
            if v["type"] == "query" && v["datasource"] != datasource_ref() {
                problem(format!(
                    "variable {:?} does not use datasource ${{datasource}}",
                    v["name"]
                ));
            }
        }
        let ps = panels(d);
        if ps.is_empty() {
            problem("no panels".into());
        }
        let mut ids = BTreeSet::new();
        for p in ps {
            let title = p["title"].as_str().unwrap_or("?");
            if !ids.insert(p["id"].as_i64().unwrap_or(-1)) {
                problem(format!("panel {title:?}: id {} is not unique", p["id"]));
            }
            if p["datasource"] != datasource_ref() {
                problem(format!(
                    "panel {title:?}: datasource is {}, not {}",
                    p["datasource"],
                    datasource_ref()
                ));
            }
            if p["gridPos"]["w"].as_i64().is_none() || p["gridPos"]["h"].as_i64().is_none() {
                problem(format!("panel {title:?}: no gridPos"));
            }
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() && p["type"] != "row" {
                problem(format!("panel {title:?}: no targets"));
            }
            let mut refs = BTreeSet::new();
            for t in &targets {
                let r = t["refId"].as_str().unwrap_or_default();
                if r.is_empty() || !refs.insert(r.to_owned()) {
                    problem(format!(
                        "panel {title:?}: target refId {r:?} empty or repeated"
                    ));
                }
                if t["datasource"] != datasource_ref() {
                    problem(format!(
                        "panel {title:?}: target {r}: datasource is {}, not {}",
                        t["datasource"],
                        datasource_ref()
                    ));
                }
                let expr = t["expr"].as_str().unwrap_or_default();
                if expr.trim().is_empty() {
                    problem(format!("panel {title:?}: target {r}: empty expr"));
                }
                for used in used_variables(expr) {
                    if !used.starts_with("__") && !var_names.contains(used.as_str()) {
                        problem(format!("panel {title:?}: target {r} uses ${used}, which the dashboard does not define"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard problems:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Dashboards: names beside codes
// ---------------------------------------------------------------------------------------

/// The labels that hold a code (`MK12`, `FI1D`, `registered_unemployment_rate`), each with
/// the kind of code it holds: `tilannekuva_<kind>_info` names it, by its `<kind>` label. A
/// query that returns one returns the name beside it, `<label>_name`, joined from that info
/// metric in the language of the `lang` variable. A target's `area` is the whole country
/// (SSS) or a region, a similar region's code is in `similar`: both are named by
/// `tilannekuva_region_info`.
const CODED: &[(&str, &str)] = &[
    ("region", "region"),
    ("group", "group"),
    ("indicator", "indicator"),
    ("area", "region"),
    ("similar", "region"),
];

/// The kinds of code, each named by its own info metric.
const KINDS: &[&str] = &["region", "group", "indicator"];

/// The labels (besides job and instance) of every gauge that carries a code, as
/// docs/operations.md lists them: what a bare selector of one returns. The Prometheus test
/// checks this table against the scraped series.
const METRIC_LABELS: &[(&str, &[&str])] = &[
    (
        "tilannekuva_indicator_value",
        &["region", "indicator", "theme", "year"],
    ),
    (
        "tilannekuva_indicator_national_value",
        &["indicator", "theme", "year", "basis"],
    ),
    (
        "tilannekuva_indicator_national_regions_reported",
        &["indicator", "theme", "year"],
    ),
    (
        "tilannekuva_indicator_national_regions_expected",
        &["indicator", "theme", "year"],
    ),
    (
        "tilannekuva_indicator_rank",
        &["region", "indicator", "year"],
    ),
    ("tilannekuva_theme_score", &["region", "theme", "year"]),
    ("tilannekuva_region_coverage_ratio", &["region", "year"]),
    ("tilannekuva_group_member", &["group", "region"]),
    (
        "tilannekuva_group_value",
        &["group", "indicator", "theme", "year", "basis"],
    ),
    (
        "tilannekuva_group_rank",
        &["group", "region", "indicator", "year"],
    ),
    (
        "tilannekuva_group_regions_ranked",
        &["group", "indicator", "year"],
    ),
    ("tilannekuva_round_indicators_expected", &["region", "year"]),
    ("tilannekuva_round_indicators_reported", &["region", "year"]),
    ("tilannekuva_round_indicators_missing", &["region", "year"]),
    (
        "tilannekuva_region_info",
        &["region", "name_fi", "name_sv", "name_en"],
    ),
    (
        "tilannekuva_group_info",
        &["group", "name_fi", "name_sv", "name_en"],
    ),
    (
        "tilannekuva_indicator_info",
        &["indicator", "theme", "unit", "name_fi", "name_en"],
    ),
    ("tilannekuva_disparity_regions", &["indicator", "year"]),
    (
        "tilannekuva_disparity_regions_weighted",
        &["indicator", "year"],
    ),
    ("tilannekuva_disparity_range", &["indicator", "year"]),
    (
        "tilannekuva_disparity_max_min_ratio",
        &["indicator", "year"],
    ),
    ("tilannekuva_disparity_cv", &["indicator", "year"]),
    ("tilannekuva_disparity_cv_weighted", &["indicator", "year"]),
    ("tilannekuva_disparity_gini", &["indicator", "year"]),
    (
        "tilannekuva_disparity_top_bottom_ratio",
        &["indicator", "year"],
    ),
    ("tilannekuva_disparity_sigma_slope", &["indicator"]),
    ("tilannekuva_target_value", &["area", "indicator", "year"]),
    (
        "tilannekuva_target_latest_value",
        &["area", "indicator", "year"],
    ),
    (
        "tilannekuva_target_latest_year",
        &["area", "indicator", "year"],
    ),
    ("tilannekuva_target_gap", &["area", "indicator", "year"]),
    (
        "tilannekuva_target_needed_pace",
        &["area", "indicator", "year"],
    ),
    (
        "tilannekuva_target_recent_pace",
        &["area", "indicator", "year"],
    ),
    (
        "tilannekuva_target_status",
        &["area", "indicator", "year", "status"],
    ),
    (
        "tilannekuva_similar_region_distance",
        &["region", "similar", "rank", "year"],
    ),
    (
        "tilannekuva_forerunner_improvement",
        &["indicator", "region", "rank", "from_year", "to_year"],
    ),
    (
        "tilannekuva_forerunner_regions",
        &["indicator", "from_year", "to_year"],
    ),
];

/// What a PromQL expression evaluates to, as far as its labels go.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    Scalar,
    Str(String),
    /// A vector whose series carry these labels.
    Vector(BTreeSet<String>),
}

/// A PromQL token. A selector's matchers and a range are one token each: their insides
/// say nothing about the labels of the result.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num,
    Str(String),
    Open,
    Close,
    Comma,
    /// `{...}`
    Braces,
    /// `[...]`
    Brackets,
    Op(String),
}

fn lex(expr: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = expr.chars().collect();
    // The index after the closing quote of the string opening at `i`.
    let string_end = |i: usize| -> Result<usize, String> {
        let quote = chars[i];
        let mut j = i + 1;
        while j < chars.len() && chars[j] != quote {
            j += if chars[j] == '\\' && quote != '`' {
                2
            } else {
                1
            };
        }
        if j < chars.len() {
            Ok(j + 1)
        } else {
            Err(format!("unclosed string in {expr:?}"))
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let word = |i: usize, ok: fn(char) -> bool| {
            let mut j = i;
            while j < chars.len() && ok(chars[j]) {
                j += 1;
            }
            j
        };
        match c {
            c if c.is_whitespace() => i += 1,
            '"' | '\'' | '`' => {
                let end = string_end(i)?;
                out.push(Tok::Str(chars[i + 1..end - 1].iter().collect()));
                i = end;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut j = i + 1;
                while j < chars.len() && chars[j] != close {
                    j = if matches!(chars[j], '"' | '\'' | '`') {
                        string_end(j)?
                    } else {
                        j + 1
                    };
                }
                if j == chars.len() {
                    return Err(format!("unclosed {c} in {expr:?}"));
                }
                out.push(if c == '{' { Tok::Braces } else { Tok::Brackets });
                i = j + 1;
            }
            '(' | ')' | ',' => {
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Comma,
                });
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                i = word(i, |c| c.is_ascii_alphanumeric() || c == '.');
                out.push(Tok::Num);
            }
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                let end = word(i, |c| c.is_alphanumeric() || c == '_' || c == ':');
                out.push(Tok::Ident(chars[i..end].iter().collect()));
                i = end;
            }
            _ => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = if ["==", "!=", "<=", ">="].contains(&two.as_str()) {
                    two
                } else if "+-*/%^<>".contains(c) {
                    c.to_string()
                } else {
                    return Err(format!("unexpected {c:?} in {expr:?}"));
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
        }
    }
    Ok(out)
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// A binary operator's precedence (higher binds tighter), as PromQL has it.
fn binary_precedence(op: &str) -> Option<u8> {
    Some(match op {
        "or" => 1,
        "and" | "unless" => 2,
        "==" | "!=" | "<=" | "<" | ">=" | ">" => 3,
        "+" | "-" => 4,
        "*" | "/" | "%" | "atan2" => 5,
        "^" => 6,
        _ => return None,
    })
}

/// The vector matching of a binary operator.
#[derive(Default)]
struct Matching {
    /// `on (…)` (true) or `ignoring (…)` (false).
    on: Option<(bool, Vec<String>)>,
    /// `group_left (…)` (true) or `group_right (…)` (false): the labels taken from the
    /// other side.
    group: Option<(bool, Vec<String>)>,
}

/// The labels of `left op right`, by Prometheus' rules.
fn combine(op: &str, left: Shape, m: &Matching, right: Shape) -> Shape {
    let (l, r) = match (left, right) {
        (Shape::Vector(l), Shape::Vector(r)) => (l, r),
        (Shape::Vector(v), _) | (_, Shape::Vector(v)) => return Shape::Vector(v),
        _ => return Shape::Scalar,
    };
    // The "many" side's labels, with the included labels of the "one" side (a label the
    // one side does not have is removed).
    let include = |mut many: BTreeSet<String>, one: &BTreeSet<String>, labels: &[String]| {
        for l in labels {
            if one.contains(l) {
                many.insert(l.clone());
            } else {
                many.remove(l);
            }
        }
        many
    };
    Shape::Vector(match (op, &m.on, &m.group) {
        ("or", _, _) => l.union(&r).cloned().collect(),
        ("and" | "unless", _, _) => l,
        (_, _, Some((true, labels))) => include(l, &r, labels),
        (_, _, Some((false, labels))) => include(r, &l, labels),
        // One-to-one: `on` keeps only its labels, `ignoring` drops its labels.
        (_, Some((true, on)), None) => l.into_iter().filter(|x| on.contains(x)).collect(),
        (_, Some((false, ignoring)), None) => {
            l.into_iter().filter(|x| !ignoring.contains(x)).collect()
        }
        (_, None, None) => l,
    })
}

/// A reader of the PromQL the dashboards use, for the labels of what it returns.
struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == word)
    }

    fn expect(&mut self, want: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            other => Err(format!("expected {want:?}, found {other:?}")),
        }
    }

    /// An expression of operators of precedence `min` or higher.
    fn expr(&mut self, min: u8) -> Result<Shape, String> {
        let mut left = self.unary()?;
        while let Some(Tok::Op(o) | Tok::Ident(o)) = self.peek() {
            let op = o.clone();
            let Some(prec) = binary_precedence(&op).filter(|p| *p >= min) else {
                break;
            };
            self.pos += 1;
            let m = self.matching()?;
            // `^` is right-associative, the others left-associative.
            let right = self.expr(if op == "^" { prec } else { prec + 1 })?;
            left = combine(&op, left, &m, right);
        }
        Ok(left)
    }

    fn matching(&mut self) -> Result<Matching, String> {
        let mut m = Matching::default();
        if self.at_word("bool") {
            self.pos += 1;
        }
        if self.at_word("on") || self.at_word("ignoring") {
            let on = self.at_word("on");
            self.pos += 1;
            m.on = Some((on, self.labels()?));
        }
        if self.at_word("group_left") || self.at_word("group_right") {
            let left = self.at_word("group_left");
            self.pos += 1;
            let labels = if self.peek() == Some(&Tok::Open) {
                self.labels()?
            } else {
                Vec::new()
            };
            m.group = Some((left, labels));
        }
        Ok(m)
    }

    fn unary(&mut self) -> Result<Shape, String> {
        if matches!(self.peek(), Some(Tok::Op(o)) if o == "-" || o == "+") {
            self.pos += 1;
            return self.unary();
        }
        let shape = self.primary()?;
        // A range or subquery, an offset.
        loop {
            if self.peek() == Some(&Tok::Brackets) {
                self.pos += 1;
            } else if self.at_word("offset") {
                self.pos += 1;
                if self.peek() == Some(&Tok::Op("-".into())) {
                    self.pos += 1;
                }
                self.expect(Tok::Num)?;
            } else {
                return Ok(shape);
            }
        }
    }

    fn primary(&mut self) -> Result<Shape, String> {
        match self.next() {
            Some(Tok::Num) => Ok(Shape::Scalar),
            Some(Tok::Str(s)) => Ok(Shape::Str(s)),
            Some(Tok::Open) => {
                let inner = self.expr(0)?;
                self.expect(Tok::Close)?;
                Ok(inner)
            }
            // `{__name__=~"…"}`: which metrics, and so which labels, is unknown.
            Some(Tok::Braces) => Ok(Shape::Vector(BTreeSet::new())),
            Some(Tok::Ident(name)) => {
                if AGGREGATIONS.contains(&name.as_str())
                    && (self.peek() == Some(&Tok::Open)
                        || self.at_word("by")
                        || self.at_word("without"))
                {
                    self.aggregation(&name)
                } else if self.peek() == Some(&Tok::Open) {
                    self.call(&name)
                } else {
                    if self.peek() == Some(&Tok::Braces) {
                        self.pos += 1;
                    }
                    let labels = METRIC_LABELS
                        .iter()
                        .find(|(m, _)| *m == name)
                        .map(|(_, l)| l.iter().map(|l| l.to_string()).collect())
                        .unwrap_or_default();
                    Ok(Shape::Vector(labels))
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }

    /// `(a, b, …)`
    fn labels(&mut self) -> Result<Vec<String>, String> {
        self.expect(Tok::Open)?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Close) => return Ok(out),
                Some(Tok::Ident(l)) => out.push(l),
                Some(Tok::Comma) => {}
                other => return Err(format!("unexpected {other:?} in a list of labels")),
            }
        }
    }

    /// `(arg, …)`
    fn args(&mut self) -> Result<Vec<Shape>, String> {
        self.expect(Tok::Open)?;
        let mut out = Vec::new();
        if self.peek() == Some(&Tok::Close) {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            out.push(self.expr(0)?);
            match self.next() {
                Some(Tok::Comma) => {}
                Some(Tok::Close) => return Ok(out),
                other => {
                    return Err(format!(
                        "expected , or ) after an argument, found {other:?}"
                    ))
                }
            }
        }
    }

    /// `by`/`without` before or after the arguments: (true for by, the labels).
    fn grouping(&mut self) -> Result<Option<(bool, Vec<String>)>, String> {
        let by = self.at_word("by");
        if !by && !self.at_word("without") {
            return Ok(None);
        }
        self.pos += 1;
        Ok(Some((by, self.labels()?)))
    }

    fn aggregation(&mut self, name: &str) -> Result<Shape, String> {
        let before = self.grouping()?;
        let args = self.args()?;
        let grouping = match before {
            Some(g) => Some(g),
            None => self.grouping()?,
        };
        let Some(Shape::Vector(inner)) = args.last().cloned() else {
            return Err(format!("{name}(…) of no vector"));
        };
        let mut labels: BTreeSet<String> = match (name, grouping) {
            // They pick series: every label stays, `by` or not.
            ("topk" | "bottomk" | "limitk" | "limit_ratio", _) => inner,
            (_, Some((true, by))) => by.into_iter().collect(),
            (_, Some((false, without))) => {
                inner.into_iter().filter(|l| !without.contains(l)).collect()
            }
            (_, None) => BTreeSet::new(),
        };
        if let ("count_values", Some(Shape::Str(label))) = (name, args.first()) {
            labels.insert(label.clone());
        }
        Ok(Shape::Vector(labels))
    }

    fn call(&mut self, name: &str) -> Result<Shape, String> {
        let args = self.args()?;
        let vector = |i: usize| match args.get(i) {
            Some(Shape::Vector(l)) => Ok(l.clone()),
            _ => Err(format!("{name}(…): argument {i} is not a vector")),
        };
        Ok(match name {
            "time" | "scalar" | "pi" => Shape::Scalar,
            "vector" | "absent" | "absent_over_time" => Shape::Vector(BTreeSet::new()),
            "label_replace" | "label_join" => {
                let mut labels = vector(0)?;
                match args.get(1) {
                    Some(Shape::Str(dst)) => labels.insert(dst.clone()),
                    _ => return Err(format!("{name}(…): no destination label")),
                };
                Shape::Vector(labels)
            }
            "histogram_quantile" => {
                let mut labels = vector(1)?;
                labels.remove("le");
                Shape::Vector(labels)
            }
            // Functions of one vector keep its labels (rate, sort_desc, round, …).
            _ => args
                .iter()
                .find(|a| matches!(a, Shape::Vector(_)))
                .cloned()
                .unwrap_or(Shape::Scalar),
        })
    }
}

/// The labels of the series an expression (its variables substituted) returns; none for
/// a scalar. Covers the PromQL the dashboards use: anything else is an error, so that
/// the name check never passes a query it cannot read.
fn result_labels(expr: &str) -> Result<BTreeSet<String>, String> {
    let toks = lex(expr)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
    };
    let shape = p.expr(0)?;
    if p.pos != toks.len() {
        return Err(format!(
            "cannot read {expr:?} past token {} ({:?})",
            p.pos, toks[p.pos]
        ));
    }
    Ok(match shape {
        Shape::Vector(labels) => labels,
        _ => BTreeSet::new(),
    })
}

/// Why a dashboard query that returns codes (`labels`: what it returns) does not show
/// their names, if it does not: beside every label of [`CODED`] it must return the
/// `<label>_name` label, joined from the info metric of its kind in the language of
/// `$lang`, and beside an indicator its `unit`.
fn name_problems(expr: &str, labels: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (code, kind) in CODED.iter().filter(|(c, _)| labels.contains(*c)) {
        let name = format!("{code}_name");
        let info = format!("tilannekuva_{kind}_info");
        if !labels.contains(&name) {
            out.push(format!("returns `{code}` without `{name}`"));
        }
        if *code == "indicator" && !labels.contains("unit") {
            out.push("returns `indicator` without `unit`".into());
        }
        if !expr.contains(&info) {
            out.push(format!("returns `{code}` and does not join {info}"));
        }
        if !expr.contains("name_${lang}") && !expr.contains("name_$lang") {
            out.push(format!(
                "returns `{code}` and takes no name in the language of $lang (name_${{lang}})"
            ));
        }
    }
    out
}

/// The `lang` variable's problems: a custom variable offering fi, sv and en (as
/// `text : value` pairs or plain values), fi by default.
fn lang_variable_problems(d: &Value) -> Vec<String> {
    let Some(v) = variables(d).into_iter().find(|v| v["name"] == "lang") else {
        return vec!["no template variable `lang` (the language of the names)".into()];
    };
    let mut out = Vec::new();
    if v["type"] != "custom" {
        out.push(format!(
            "variable lang is of type {}, not custom",
            v["type"]
        ));
    }
    let values: Vec<&str> = v["query"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(|o| o.rsplit(" : ").next().unwrap().trim())
        .collect();
    if values != ["fi", "sv", "en"] {
        out.push(format!("variable lang offers {values:?}, not fi, sv, en"));
    }
    if v["current"]["value"] != "fi" {
        out.push(format!(
            "variable lang is {} by default, not fi",
            v["current"]["value"]
        ));
    }
    out
}

/// Every query that returns a region, group or indicator code returns its name in the
/// language of `$lang` beside it (an indicator also its unit), and every dashboard with
/// such a query has the `lang` variable.
#[test]
fn dashboard_queries_show_names_beside_codes() {
    let mut problems = Vec::new();
    let mut shown = 0;
    for (name, d) in &dashboards() {
        let mut codes = false;
        for (at, expr) in target_exprs(name, d) {
            let labels = match substitute(&expr).and_then(|e| result_labels(&e)) {
                Ok(labels) => labels,
                Err(e) => {
                    problems.push(format!("{at}: cannot tell which labels it returns: {e}"));
                    continue;
                }
            };
            if CODED.iter().any(|(c, _)| labels.contains(*c)) {
                codes = true;
                shown += 1;
            }
            problems.extend(
                name_problems(&expr, &labels)
                    .into_iter()
                    .map(|p| format!("{at}: {p}")),
            );
        }
        if codes {
            problems.extend(
                lang_variable_problems(d)
                    .into_iter()
                    .map(|p| format!("{name}: {p}")),
            );
        }
    }
    assert!(shown >= 20, "only {shown} dashboard queries return codes");
    assert!(
        problems.is_empty(),
        "dashboard queries showing codes without names:\n  {}",
        problems.join("\n  ")
    );
}

/// The name check reads the labels a query returns as Prometheus makes them, and fails a
/// query that returns a code without its name.
#[test]
fn the_name_check_knows_which_labels_a_query_returns() {
    let labels = |e: &str| -> Vec<String> {
        result_labels(e)
            .unwrap_or_else(|err| panic!("{e}: {err}"))
            .into_iter()
            .collect()
    };
    // A bare selector returns its metric's labels; rate() and sort_desc() keep them.
    assert_eq!(
        labels("sort_desc(rate(tilannekuva_region_coverage_ratio{year=\"2019\"}[5m]))"),
        ["region", "year"]
    );
    // An aggregation returns its `by` labels, or all but its `without` ones; count() over it
    // none; topk picks series and keeps every label.
    assert_eq!(
        labels("max by (region, theme) (tilannekuva_theme_score)"),
        ["region", "theme"]
    );
    assert_eq!(
        labels("max without (year) (tilannekuva_indicator_rank)"),
        ["indicator", "region"]
    );
    assert!(labels(
        "count(max by (region) (tilannekuva_round_indicators_missing{year=\"2019\"}) == 0) or vector(0)"
    )
    .is_empty());
    assert_eq!(
        labels("topk by (group) (1, tilannekuva_group_member)"),
        ["group", "region"]
    );
    // Binary operators: group_left takes the labels it names from the other side; a
    // one-to-one match keeps the `on` labels only, or drops the `ignoring` ones; `and` keeps
    // the left side's; `*` binds tighter than `-`.
    assert_eq!(
        labels("max by (region) (tilannekuva_theme_score) * on(region) group_left(name_fi) tilannekuva_region_info"),
        ["name_fi", "region"]
    );
    assert_eq!(
        labels("tilannekuva_indicator_rank - on(region, year) tilannekuva_theme_score"),
        ["region", "year"]
    );
    assert_eq!(
        labels("tilannekuva_indicator_rank - ignoring(region) tilannekuva_indicator_rank"),
        ["indicator", "year"]
    );
    assert_eq!(
        labels("tilannekuva_region_coverage_ratio and on(region) tilannekuva_group_member"),
        ["region", "year"]
    );
    assert_eq!(
        labels(
            "2 - tilannekuva_group_member * on(group) group_left(name_en) tilannekuva_group_info"
        ),
        ["group", "name_en", "region"]
    );
    // label_replace and label_join add their destination; count_values its label.
    assert_eq!(
        labels(
            "label_join(tilannekuva_region_coverage_ratio, \"t\", \" (\", \"region\", \"year\")"
        ),
        ["region", "t", "year"]
    );
    assert_eq!(labels("count_values(\"year\", vector(2018))"), ["year"]);
    // What the check cannot read, it does not pass.
    assert!(result_labels("max by (region) (tilannekuva_theme_score) @ 1").is_err());

    let problems = |e: &str| name_problems(e, &result_labels(&substitute(e).unwrap()).unwrap());
    // The dashboards' queries before the names: codes alone.
    assert_eq!(
        problems(
            "sort_desc(max by (region) (tilannekuva_theme_score{year=\"$year\",theme=\"$theme\"}))"
        )
        .len(),
        3
    );
    assert_eq!(
        problems("max by (indicator, year) (tilannekuva_indicator_rank{region=\"$region\"})").len(),
        4
    );
    // A join whose name an outer aggregation drops again is no better.
    assert_eq!(
        problems("max by (region) (tilannekuva_theme_score * on(region) group_left(region_name) label_replace(tilannekuva_region_info, \"region_name\", \"$1\", \"name_${lang}\", \"(.+)\"))"),
        ["returns `region` without `region_name`"]
    );
    // Queries without codes, and the joined ones, pass.
    assert!(
        problems("count(tilannekuva_indicator_value{year=\"$year\",region!=\"SSS\"})").is_empty()
    );
    assert!(problems(
        "sort_desc(max by (region) (tilannekuva_theme_score{year=\"$year\"}) * on(region) group_left(region_name) \
         topk by (region) (1, label_replace(label_replace(tilannekuva_region_info, \"region_name\", \"$1\", \"name_fi\", \"(.*)\"), \
         \"region_name\", \"$1\", \"name_${lang}\", \"(.+)\")))"
    )
    .is_empty());
    assert!(problems(
        "max by (indicator, theme) (tilannekuva_indicator_value{region=\"$region\"}) * on(indicator) group_left(indicator_name, unit) \
         topk by (indicator) (1, label_replace(tilannekuva_indicator_info, \"indicator_name\", \"$1\", \"name_${lang}\", \"(.+)\"))"
    )
    .is_empty());
    // A similar region and a target's area are regions: named by tilannekuva_region_info,
    // their code label renamed to join it.
    assert_eq!(
        problems("max by (similar) (tilannekuva_similar_region_distance{region=\"$region\"})"),
        [
            "returns `similar` without `similar_name`",
            "returns `similar` and does not join tilannekuva_region_info",
            "returns `similar` and takes no name in the language of $lang (name_${lang})",
        ]
    );
    assert!(problems(
        "max by (similar) (tilannekuva_similar_region_distance{region=\"$region\"}) * on(similar) group_left(similar_name) \
         topk by (similar) (1, label_replace(label_replace(tilannekuva_region_info, \"similar\", \"$1\", \"region\", \"(.*)\"), \
         \"similar_name\", \"$1\", \"name_${lang}\", \"(.+)\"))"
    )
    .is_empty());
    assert_eq!(
        labels("max by (area, indicator, year) (tilannekuva_target_gap)"),
        ["area", "indicator", "year"]
    );
    assert_eq!(
        problems("max by (area, year) (tilannekuva_target_gap)"),
        [
            "returns `area` without `area_name`",
            "returns `area` and does not join tilannekuva_region_info",
            "returns `area` and takes no name in the language of $lang (name_${lang})",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// A real Prometheus
// ---------------------------------------------------------------------------------------

/// Fails the test unless `tool` runs.
fn require_tool(tool: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`{tool} --version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "`{tool}` is required for this test ({e}): install Debian's `prometheus` package \
             (apt-get install prometheus; .ci/run does)"
        ),
    }
}

/// A Prometheus server as a child process; killed when dropped, whatever happens.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    /// Holds the configuration and the TSDB; removed after the child is gone.
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second (job `JOB`) with the deployed alert
    /// rules, and waits until it is ready.
    fn start(target: SocketAddr) -> Prometheus {
        Prometheus::start_with(&format!(
            "  - job_name: {JOB}\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ))
    }

    /// [`Prometheus::start`] with `scrape_configs` (YAML list items, indented two spaces).
    fn start_with(scrape_configs: &str) -> Prometheus {
        require_tool("prometheus");
        let rules = repo_file("deploy/prometheus/alerts.yml");
        let mut last_err = String::new();
        // The port is found free and then given to Prometheus: another process could take
        // it in between, so try again with a new one.
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let config = dir.path().join("prometheus.yml");
            std::fs::write(
                &config,
                format!(
                    "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                     rule_files:\n  - {rules:?}\n\
                     scrape_configs:\n{scrape_configs}",
                ),
            )
            .unwrap();
            let log = dir.path().join("prometheus.log");
            let child = Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("tsdb").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start prometheus");
            let mut p = Prometheus {
                child,
                addr,
                log,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = p.child.try_wait().unwrap() {
                    last_err = format!("prometheus exited with {status}:\n{}", p.log_text());
                    break;
                }
                if let Ok((200, _)) = http(p.addr, "GET", "/-/ready", None) {
                    return p;
                }
                if Instant::now() > deadline {
                    panic!("prometheus did not become ready in 30 s:\n{}", p.log_text());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("prometheus did not start: {last_err}");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET an API path; the parsed `data` of a successful answer, or the error.
    fn get(&self, path: &str) -> Result<Value, String> {
        api_result(http(self.addr, "GET", path, None))
    }

    /// An instant query; the result vector (or scalar), or Prometheus' error.
    fn query(&self, expr: &str) -> Result<Value, String> {
        let body = format!("query={}", urlencode(expr));
        api_result(http(self.addr, "POST", "/api/v1/query", Some(&body)))
            .map(|d| d["result"].clone())
    }
}

fn api_result(r: Result<(u16, String), String>) -> Result<Value, String> {
    let (status, body) = r?;
    let v: Value = serde_json::from_str(&body)
        .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
    if v["status"] == "success" {
        Ok(v["data"].clone())
    } else {
        Err(format!("HTTP {status}: {}: {}", v["errorType"], v["error"]))
    }
}

/// A minimal HTTP/1.0 client: the answer is not chunked and ends when the server closes.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    form: Option<&str>,
) -> Result<(u16, String), String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    if let Some(body) = form {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a query result holds at least one sample that is a number (not NaN): what a
/// panel needs to show something.
fn has_number(result: &Value) -> bool {
    let finite = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|f| !f.is_nan())
    };
    match result {
        Value::Array(series) => series.iter().any(|s| finite(&s["value"][1])),
        // A scalar or string result: [time, "value"].
        _ => finite(&result[1]),
    }
}

/// gRPC traffic of every kind the dashboards show, from the CLI, until stopped: reads,
/// a refused read, accepted, duplicate and invalid submissions.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(grpc_url: &str, dir: &Path) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, dir, flag) = (grpc_url.to_owned(), dir.to_owned(), stop.clone());
        let thread = std::thread::spawn(move || {
            let bad = dir.join("bad.csv");
            std::fs::write(
                &bad,
                "indicator_id,year,value,status,source\nno_such_indicator,2021,1,final,test\n",
            )
            .unwrap();
            let mut i = 0u32;
            while !flag.load(Ordering::Relaxed) {
                let good = dir.join(format!("good-{i}.csv"));
                // A new provisional value each round: accepted (a revision of the cell).
                std::fs::write(
                    &good,
                    format!("indicator_id,year,value,status,source\npopulation,2021,{},provisional,operations test\n", 71_000 + i),
                )
                .unwrap();
                let good = good.to_str().unwrap().to_owned();
                let bad = bad.to_str().unwrap();
                for args in [
                    &[
                        "picture", "--server", &url, "--region", "MK01", "--year", "2019",
                    ][..],
                    &["national", "--server", &url, "--year", "2019"],
                    &[
                        "series",
                        "--server",
                        &url,
                        "--region",
                        "MK18",
                        "--indicator",
                        "unemployment_rate_15_74",
                    ],
                    &[
                        "picture", "--server", &url, "--region", "MK99", "--year", "2019",
                    ],
                    &[
                        "submit", "--server", &url, "--region", "MK18", "--file", &good,
                    ],
                    &[
                        "submit", "--server", &url, "--region", "MK18", "--file", &good,
                    ],
                    &[
                        "submit", "--server", &url, "--region", "MK18", "--file", bad,
                    ],
                ] {
                    cli(args);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs promtool with `args` in `dir`; fails the test with its output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {} (in {}) failed:\n{}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_the_deployed_config_and_the_alerts_pass_their_unit_tests() {
    require_tool("promtool");
    let dir = repo_file("deploy/prometheus");
    // prometheus.yml names alerts.yml relative to its own directory.
    promtool(&dir, &["check", "config", "prometheus.yml"]);
    promtool(&dir, &["check", "rules", "alerts.yml"]);
    let mut tests: Vec<String> = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|e| format!("tests/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".test.yml"))
        .collect();
    tests.sort();
    assert!(
        !tests.is_empty(),
        "no alert unit tests in deploy/prometheus/tests"
    );
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    promtool(&dir, &args);
}

#[test]
fn every_dashboard_query_and_alert_rule_works_against_prometheus_scraping_the_service() {
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let server = Proc::start(&work.path().join("data"), &["--demo"]);
    // A reporting round for 2019, opened before the first scrape so that the round gauges
    // (the reporting-round dashboard, TilannekuvaRegionReportMissing) have data from the
    // start. Its deadline has passed: the rule selects the regions still missing indicators.
    let (ok, out, err) = cli(&[
        "round",
        "open",
        "--server",
        &server.grpc_url,
        "--year",
        "2019",
        "--deadline",
        "2020-01-31",
        "--allow-past",
    ]);
    assert!(ok, "round open failed:\n{out}\n{err}");
    assert!(
        out.contains("2020-01-31 23:59:59 EET") && out.contains("already passed"),
        "round open says the deadline in Finnish time, and that it has passed:\n{out}"
    );
    // A region's target, so that the targets table has a row with every column (the
    // region has figures of 2017 and 2022: a gap, a needed and a recent pace).
    set_target(&server, "MK01", "registered_unemployment_rate", 2030, 5.0);
    let prom = Prometheus::start(server.http);

    // A scrape has landed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = prom.query(&format!("up{{job=\"{JOB}\"}} == 1"));
        if up
            .as_ref()
            .is_ok_and(|r| r.as_array().is_some_and(|a| !a.is_empty()))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape {} within 30 s (last answer {up:?}):\n{}",
            server.http,
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The alert rules: Prometheus loaded every rule of the file, evaluates each without
    // error, and each expression parses as a query.
    let rules_text = std::fs::read_to_string(repo_file("deploy/prometheus/alerts.yml")).unwrap();
    let in_file = rules_text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("- alert:") || t.starts_with("- record:")
        })
        .count();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rules = loop {
        let data = prom.get("/api/v1/rules").unwrap();
        let rules: Vec<Value> = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        // Health is "unknown" until a rule's first evaluation.
        if rules.len() == in_file && rules.iter().all(|r| r["health"] != "unknown") {
            break rules;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus loaded {} of the {in_file} rules of alerts.yml, or has not evaluated them:\n{data:#}\n{}",
            rules.len(),
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut failures = Vec::new();
    for r in &rules {
        let (name, expr) = (
            r["name"].as_str().unwrap_or("?"),
            r["query"].as_str().unwrap_or_default(),
        );
        if r["health"] != "ok" {
            failures.push(format!(
                "rule {name}: health {} ({})",
                r["health"], r["lastError"]
            ));
        }
        if let Err(e) = prom.query(expr) {
            failures.push(format!("rule {name}: {expr:?}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "alert rules:\n  {}",
        failures.join("\n  ")
    );
    // The round's rule joins the round gauges on real labels: past the 2019 deadline it
    // selects the demo regions that have not reported every indicator (pending for an hour).
    let missing = rules
        .iter()
        .find(|r| r["name"] == "TilannekuvaRegionReportMissing")
        .and_then(|r| r["query"].as_str())
        .expect("the rule TilannekuvaRegionReportMissing is loaded");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = prom.query(missing);
        if r.as_ref().is_ok_and(has_number) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "TilannekuvaRegionReportMissing selects no region of the 2019 round within 30 s: {missing:?}: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The template-variable queries: label_values(...) through the label-values API (it is
    // not PromQL), query_result(...) as a query. Each must offer values, including the
    // value the panel queries below are run with.
    let all = dashboards();
    let mut failures = Vec::new();
    for (name, d) in &all {
        for v in variables(d).into_iter().filter(|v| v["type"] == "query") {
            let var = v["name"].as_str().unwrap_or("?");
            let Some(q) = variable_query(v) else {
                failures.push(format!("{name}: variable {var}: no query"));
                continue;
            };
            let result = check_variable_query(&prom, q);
            match result {
                Ok(values) if values.is_empty() => {
                    failures.push(format!("{name}: variable {var}: {q:?} offers no values"))
                }
                Ok(values) => {
                    let test_value = VARIABLES.iter().find(|(n, _)| *n == var).map(|(_, v)| *v);
                    let literal = test_value.filter(|t| !t.contains(['.', '*', '+', '|']));
                    if let Some(t) = literal {
                        if !values.iter().any(|v| v == t) {
                            failures.push(format!("{name}: variable {var}: {q:?} does not offer {t:?} (offers {values:?})"));
                        }
                    }
                }
                Err(e) => failures.push(format!("{name}: variable {var}: {q:?}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "template variables:\n  {}",
        failures.join("\n  ")
    );

    // Every panel query parses; then, with gRPC traffic of every kind going on, each returns
    // data (rate() and histograms need two scrapes of the new counters).
    let exprs: Vec<(String, String)> = all
        .iter()
        .flat_map(|(name, d)| target_exprs(name, d))
        .map(|(at, e)| {
            let s = substitute(&e).unwrap_or_else(|err| panic!("{at}: {err}"));
            (at, s)
        })
        .collect();
    assert!(exprs.len() >= 30, "only {} dashboard queries", exprs.len());
    let parse_errors: Vec<String> = exprs
        .iter()
        .filter_map(|(at, e)| prom.query(e).err().map(|err| format!("{at}: {e:?}: {err}")))
        .collect();
    assert!(
        parse_errors.is_empty(),
        "dashboard queries refused:\n  {}",
        parse_errors.join("\n  ")
    );

    let traffic = Traffic::start(&server.grpc_url, work.path());
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let empty: Vec<String> = exprs
            .iter()
            .filter_map(|(at, e)| match prom.query(e) {
                Ok(r) if has_number(&r) => None,
                Ok(r) => Some(format!("{at}: {e:?} returned no number: {r}")),
                Err(err) => Some(format!("{at}: {e:?}: {err}")),
            })
            .collect();
        if empty.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard queries without data after 40 s of traffic:\n  {}",
            empty.join("\n  ")
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Names beside codes. The gauges carry the labels the name check assumes, and no other
    // gauge carries a code.
    let mut failures = Vec::new();
    let label_names = |path: &str| -> Result<BTreeSet<String>, String> {
        prom.get(path).map(|d| {
            d.as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    for (metric, expected) in METRIC_LABELS {
        let want: BTreeSet<String> = expected.iter().map(|l| l.to_string()).collect();
        match label_names(&format!("/api/v1/labels?match[]={metric}")) {
            Ok(mut got) => {
                for l in ["__name__", "job", "instance"] {
                    got.remove(l);
                }
                if got != want {
                    failures.push(format!(
                        "{metric} has the labels {got:?}, METRIC_LABELS says {want:?}"
                    ));
                }
            }
            Err(e) => failures.push(format!("labels of {metric}: {e}")),
        }
    }
    for (code, kind) in CODED {
        let selector = urlencode(&format!("{{__name__=~\"tilannekuva_.+\",{code}!=\"\"}}"));
        match label_names(&format!("/api/v1/label/__name__/values?match[]={selector}")) {
            Ok(metrics) => failures.extend(
                metrics
                    .into_iter()
                    .filter(|m| !METRIC_LABELS.iter().any(|(known, _)| known == m))
                    .map(|m| format!("{m} carries `{code}` and is not in METRIC_LABELS")),
            ),
            Err(e) => failures.push(format!("metrics with `{code}`: {e}")),
        }
        // Every code on the gauges has its info series: a join drops a row without one.
        let q = format!(
            "group by ({code}) ({{__name__=~\"tilannekuva_.+\",{code}!=\"\"}}) \
             unless on({code}) label_replace(tilannekuva_{kind}_info, \"{code}\", \"$1\", \"{kind}\", \"(.*)\")"
        );
        match prom.query(&q) {
            Ok(r) if r.as_array().is_some_and(Vec::is_empty) => {}
            Ok(r) => failures.push(format!(
                "{code} codes without a tilannekuva_{kind}_info series (their rows vanish from the dashboards): {r}"
            )),
            Err(e) => failures.push(format!("{q:?}: {e}")),
        }
    }
    // Every query that returns a code returns its name in the language of $lang as the info
    // metric has it, the Finnish one where there is none in that language (indicators have
    // no Swedish name), and an indicator's unit.
    let lang = VARIABLES
        .iter()
        .find(|(n, _)| *n == "lang")
        .map(|(_, v)| *v)
        .unwrap();
    let mut names: BTreeMap<(&str, String), String> = BTreeMap::new();
    for code in KINDS {
        let info = prom
            .query(&format!("tilannekuva_{code}_info"))
            .unwrap_or_else(|e| panic!("tilannekuva_{code}_info: {e}"));
        for s in info.as_array().into_iter().flatten() {
            let m = &s["metric"];
            let name = m[format!("name_{lang}")]
                .as_str()
                .filter(|n| !n.is_empty())
                .or(m["name_fi"].as_str())
                .unwrap_or_default();
            let id = m[*code].as_str().unwrap_or_default().to_owned();
            names.insert((*code, id), name.to_owned());
        }
    }
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    for (at, e) in &exprs {
        // A query the name check cannot read fails dashboard_queries_show_names_beside_codes.
        let Ok(labels) = result_labels(e) else {
            continue;
        };
        for (code, kind) in CODED
            .iter()
            .filter(|(c, _)| labels.contains(&format!("{c}_name")))
        {
            *named.entry(*code).or_default() += 1;
            let series = match prom.query(e) {
                Ok(Value::Array(series)) if !series.is_empty() => series,
                other => {
                    failures.push(format!("{at}: {e:?}: no series: {other:?}"));
                    continue;
                }
            };
            let bad = series.iter().find_map(|s| {
                let m = &s["metric"];
                let id = m[*code].as_str().unwrap_or_default();
                let got = m[format!("{code}_name")].as_str().unwrap_or_default();
                let want = names.get(&(*kind, id.to_owned()));
                let unit = m["unit"].as_str().unwrap_or_default();
                (got.is_empty() || Some(got) != want.map(String::as_str))
                    .then(|| format!("{code} {id:?} is named {got:?}, not {want:?}"))
                    .or_else(|| {
                        (*code == "indicator" && unit.is_empty())
                            .then(|| format!("indicator {id:?} has no unit"))
                    })
            });
            if let Some(bad) = bad {
                failures.push(format!("{at} (lang {lang}): {bad}"));
            }
        }
    }
    for (code, _) in CODED {
        if !named.contains_key(code) {
            failures.push(format!("no dashboard query returns {code}_name"));
        }
    }
    assert!(
        failures.is_empty(),
        "names beside codes:\n  {}",
        failures.join("\n  ")
    );

    drop(traffic);
    drop(prom);
    server.stop();
    eprintln!(
        "{} dashboard queries and {} alert rules checked in {:.1} s",
        exprs.len(),
        rules.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Sets a target through the gRPC API (no auth file: every caller may).
fn set_target(server: &Proc, area: &str, indicator: &str, year: i32, value: f64) {
    use tilannekuva::proto;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client =
            proto::catalog_service_client::CatalogServiceClient::new(server.channel().await);
        client
            .set_target(proto::SetTargetRequest {
                submission_id: String::new(),
                target: Some(proto::Target {
                    area_code: area.into(),
                    indicator_id: indicator.into(),
                    year,
                    value,
                    source: "operations test".into(),
                    note: String::new(),
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("SetTarget {area} {indicator} {year}: {e}"));
    });
}

/// Runs a template-variable query; the values it offers.
fn check_variable_query(prom: &Prometheus, q: &str) -> Result<Vec<String>, String> {
    let q = substitute(q.trim())?;
    let strings = |d: Value| -> Vec<String> {
        d.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    if let Some(inner) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        // label_values(label) or label_values(selector, label).
        let (selector, label) = match inner.rsplit_once(',') {
            Some((sel, label)) => (Some(sel.trim()), label.trim()),
            None => (None, inner.trim()),
        };
        let path = match selector {
            Some(sel) => format!("/api/v1/label/{label}/values?match[]={}", urlencode(sel)),
            None => format!("/api/v1/label/{label}/values"),
        };
        prom.get(&path).map(strings)
    } else if let Some(inner) = q
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let r = prom.query(inner)?;
        Ok(r.as_array()
            .into_iter()
            .flatten()
            .map(|s| s["metric"].to_string())
            .collect())
    } else {
        Err("not label_values(...) or query_result(...)".into())
    }
}

// ---------------------------------------------------------------------------------------
// The Python client
// ---------------------------------------------------------------------------------------

fn python_ready() {
    let out = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools, google.protobuf"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Python client's packages are not importable ({}): install them with\n    \
             python3 -m pip install -r examples/python/requirements.txt\n(.ci/run must do this)",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("python3 is required for this test: {e}"),
    }
}

fn run_python(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("python3")
        .arg(repo_file("examples/python/client.py"))
        .args(args)
        .output()
        .expect("run python3");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of `key` in the receipt block (`  key   value`).
fn receipt_field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(key)).then(|| parts.next().unwrap_or(""))
        })
        .unwrap_or_else(|| panic!("no {key} in the output:\n{out}"))
}

/// The whitespace-separated fields of the first line in `section` (from the line starting
/// with `header` to the next blank line) whose first field is `first`.
fn row<'a>(out: &'a str, header: &str, first: &str) -> Vec<&'a str> {
    let section = out
        .split("\n\n")
        .find(|s| s.trim_start().starts_with(header))
        .unwrap_or_else(|| panic!("no section {header:?} in the output:\n{out}"));
    section
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in section {header:?}:\n{section}"))
}

#[test]
fn python_client_submits_a_csv_and_prints_the_pictures() {
    python_ready();
    let work = tempfile::tempdir().unwrap();
    let server = Proc::start(&work.path().join("data"), &["--demo"]);
    let url = server.grpc_url.as_str();

    // Another region's 2021 population first: two of the 19 regions have reported, and a
    // sum over part of the country is no national value.
    let lappi = work.path().join("lappi.csv");
    std::fs::write(
        &lappi,
        "indicator_id,year,value,status,source\npopulation,2021,177161,final,Statistics Finland\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&[
        "submit",
        "--server",
        url,
        "--region",
        "MK19",
        "--file",
        lappi.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");

    let text = "indicator_id,year,value,status,source,note,correction_reason\n\
                population,2021,71664,final,\"Statistics Finland, population structure 2021\",,\n\
                natural_increase,2021,-350,provisional,Statistics Finland preliminary,\"a note, with a comma\",\n";
    let csv = work.path().join("kainuu.csv");
    std::fs::write(&csv, text).unwrap();
    let csv = csv.to_str().unwrap();
    let (ok, out, err) = run_python(&["--server", url, "--region", "MK18", "--csv", csv]);
    assert!(ok, "the Python client failed:\n{out}\n{err}");

    // The receipt: the submission id is the Rust CLI's (region + file text).
    let expected_id = format!(
        "csv-{}",
        &hex::encode(Sha256::digest(format!("MK18\n{text}").as_bytes()))[..32]
    );
    assert_eq!(receipt_field(&out, "submission_id"), expected_id, "{out}");
    assert_eq!(receipt_field(&out, "region"), "MK18");
    assert_eq!(receipt_field(&out, "observations"), "2");
    assert_eq!(receipt_field(&out, "recorded"), "2");
    assert_eq!(receipt_field(&out, "unchanged"), "0");
    assert_eq!(receipt_field(&out, "duplicate"), "false");
    let first: u64 = receipt_field(&out, "first_sequence").parse().unwrap();
    let last: u64 = receipt_field(&out, "last_sequence").parse().unwrap();
    assert_eq!(last, first + 1, "two observations, two events:\n{out}");
    let hash = receipt_field(&out, "receipt_hash");
    assert!(
        hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );

    // The region picture, read with min_sequence = last_sequence: the submitted values; the
    // population's national value is complete, the other 17 regions' put together from the
    // demo's municipal population (natural increase has no municipal figures: none).
    let header = out
        .lines()
        .find(|l| l.starts_with("Region MK18 (Kainuu), 2021"))
        .unwrap_or_else(|| panic!("no region picture header:\n{out}"));
    assert!(
        number_after(header, "as of sequence ", ',') >= last,
        "{header}"
    );
    // Columns: indicator, value, status, national, basis, regions, diff/share, rank, ...
    let pop = row(&out, "Region MK18", "population");
    assert_eq!(&pop[1..3], ["71664", "final"], "{pop:?}");
    assert_eq!(&pop[4..6], ["complete", "19/19"], "{pop:?}");
    let national: f64 = pop[3].parse().unwrap_or_else(|_| panic!("{pop:?}"));
    assert!(national > 5_000_000.0, "{pop:?}");
    let nat = row(&out, "Region MK18", "natural_increase");
    assert_eq!(
        &nat[1..6],
        ["-350", "provisional", "..", "unavailable", "1/19"],
        "{nat:?}"
    );

    // The national picture. Columns: indicator, national, basis, regions, computed, ...
    let npop = row(&out, "National picture 2021", "population");
    assert_eq!(&npop[1..4], [pop[3], "complete", "19/19"], "{npop:?}");
    let nnat = row(&out, "National picture 2021", "natural_increase");
    assert_eq!(&nnat[1..5], ["..", "unavailable", "1/19", "-"], "{nnat:?}");

    // The Rust CLI derives the same submission id from the same file: a duplicate.
    let (ok, cli_out, err) = cli(&["submit", "--server", url, "--region", "MK18", "--file", csv]);
    assert!(ok, "{err}");
    assert!(cli_out.contains(&expected_id), "{cli_out}");
    assert!(
        cli_out
            .lines()
            .any(|l| l.starts_with("duplicate") && l.trim_end().ends_with("true")),
        "the CLI sees the Python client's submission as the same one:\n{cli_out}"
    );

    // A refused submission: the gRPC code on stderr, a failing exit status.
    let bad = work.path().join("bad.csv");
    std::fs::write(
        &bad,
        "indicator_id,year,value,status,source\nno_such_indicator,2021,1,final,x\n",
    )
    .unwrap();
    let (ok, out, err) = run_python(&[
        "--server",
        url,
        "--region",
        "MK18",
        "--csv",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok, "an unknown indicator is refused:\n{out}");
    assert!(
        err.contains("INVALID_ARGUMENT") && err.contains("observations[0].indicator_id"),
        "{err}"
    );
    // The field violation, named by the file's line.
    assert!(
        err.contains(&format!("{}: line 2: indicator_id: ", bad.display())),
        "{err}"
    );
    server.stop();
}

#[test]
fn python_client_shows_the_first_problems_of_ten_thousand() {
    python_ready();
    let work = tempfile::tempdir().unwrap();
    let server = Proc::start(&work.path().join("data"), &[]);
    let url = server.grpc_url.as_str();

    // The most rows one submission may hold, every one refused by the server (unknown
    // indicators). Ten thousand field violations would not fit in the status trailers:
    // the server sends the first ones and the total.
    const ROWS: usize = 10_000;
    let mut text = String::from("indicator_id,year,value,status,source\n");
    for i in 0..ROWS {
        text.push_str(&format!("no_such_indicator_{i},2021,1,final,test source\n"));
    }
    let file = work.path().join("many.csv");
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();

    let (ok, out, err) = run_python(&["--server", url, "--region", "MK18", "--csv", path]);
    assert!(!ok, "every row is refused:\n{out}\n{err}");
    assert!(err.contains("INVALID_ARGUMENT"), "{err}");
    for unwanted in ["RESOURCE_EXHAUSTED", "metadata"] {
        assert!(
            !err.contains(unwanted),
            "the error details fit grpcio's metadata limits:\n{err}"
        );
    }
    // The violations shown are the first ones, in order, each named by its line in the
    // file (observations[i] is on line i + 2).
    let prefix = format!("{path}: line ");
    let shown: Vec<&str> = err.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert!(
        !shown.is_empty() && shown.len() <= 20,
        "1-20 violations shown:\n{err}"
    );
    for (i, l) in shown.iter().enumerate() {
        assert!(
            l.starts_with(&format!("{prefix}{}: indicator_id: ", i + 2)),
            "violation {i} is not on line {}:\n{err}",
            i + 2
        );
    }
    assert!(
        err.contains(&format!("{prefix}2: ")),
        "the first violation is on line 2:\n{err}"
    );
    assert!(
        err.contains(&format!(
            "... and {} more problems ({ROWS} in all)",
            ROWS - shown.len()
        )),
        "the total:\n{err}"
    );

    // The Rust CLI on the same file: the first problems by line, and the total.
    let (ok, out, err) = cli(&[
        "submit", "--server", url, "--region", "MK18", "--file", path,
    ]);
    assert!(!ok, "every row is refused:\n{out}\n{err}");
    assert!(
        err.contains("line 2") && err.contains("10000"),
        "the first problem's line and the total:\n{err}"
    );
    assert!(!err.contains("h2 protocol error"), "{err}");
    server.stop();
}

/// With an auth file, `/metrics` needs a token: Prometheus scrapes with one
/// (`authorization` with a `credentials_file`, as docs/operations.md shows) and the
/// figures arrive; the same scrape without it is refused (`up` 0), so nobody without a
/// token reads the figures through the metrics port.
#[test]
fn prometheus_scrapes_the_figures_with_a_token_and_without_one_gets_nothing() {
    let (token, entry) = new_token("prometheus", "reader", &[]);
    let work = tempfile::tempdir().unwrap();
    let auth = work.path().join("auth.toml");
    std::fs::write(&auth, format!("{entry}\n")).unwrap();
    let credentials = work.path().join("token");
    std::fs::write(&credentials, &token).unwrap();
    let server = Proc::start(
        &work.path().join("data"),
        &["--demo", "--auth-file", auth.to_str().unwrap()],
    );
    let target = server.http;
    let prom = Prometheus::start_with(&format!(
        "  - job_name: with-token\n    authorization:\n      credentials_file: {credentials:?}\n    static_configs:\n      - targets: [\"{target}\"]\n\
         \x20 - job_name: without-token\n    static_configs:\n      - targets: [\"{target}\"]\n"
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = |job: &str| {
            prom.query(&format!("up{{job=\"{job}\"}}"))
                .ok()
                .and_then(|r| r[0]["value"][1].as_str().map(str::to_owned))
        };
        let figures = prom
            .query("count(tilannekuva_indicator_value{job=\"with-token\"})")
            .ok()
            .is_some_and(|r| has_number(&r));
        let refused = prom
            .query("count(tilannekuva_indicator_value{job=\"without-token\"})")
            .ok()
            .is_some_and(|r| r.as_array().is_some_and(Vec::is_empty));
        if up("with-token").as_deref() == Some("1")
            && up("without-token").as_deref() == Some("0")
            && figures
            && refused
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "with a token: up {:?}; without: up {:?}:\n{}",
            up("with-token"),
            up("without-token"),
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);
}
