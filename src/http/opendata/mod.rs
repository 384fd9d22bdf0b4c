//! The picture as open data: read-only HTTP endpoints on the HTTP listener that answer the
//! region, national and group pictures, a series and a cell's history, and the analyses of
//! them (disparities, targets, similar areas, forerunners) as JSON-stat 2.0 or CSV, and the
//! catalog and rounds they are made of as listings (JSON or CSV), for evaluators working in
//! R, Python or a spreadsheet. `/` and `/v1/` say where to go.
//!
//! A thin adapter over [`crate::read`], the read path gRPC uses too: a request is
//! authenticated with the same bearer tokens ([`Auth::authenticate`]), its path and query
//! become a read's arguments, and the read runs within the gRPC limits: it takes a slot of
//! the same pool of reads in progress as the gate, within the caller's share
//! (`crate::shares`), and the same request timeout. So the figures, the as-of rules and the
//! refusals are the gRPC ones. `render` shapes a picture (`long` its long CSV layout),
//! `analysis` an analysis, `listing` the catalog, the rounds and the signposts, `table` writes every CSV and
//! `labels` names codes; the OpenAPI document (`openapi.json`, served at `/openapi.json`)
//! describes the endpoints, and [`ROUTES`] lists them for the index.
//!
//! Errors are JSON (`{"error": {"code", "message", "violations"}}`); a refused read gets its
//! HTTP status in one place (`From<ReadError> for HttpError`). Unknown query parameters are
//! refused, so a misspelt `as_of` never answers the latest state instead of the one asked
//! for.

mod analysis;
mod labels;
mod listing;
mod long;
mod render;
mod table;
mod upload;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::auth::Auth;
use crate::limits;
use crate::projection::AsOf;
use crate::read::{Point, ReadError, Reader, Year};

use labels::Lang;
use table::Dialect;

/// The OpenAPI 3 document of the endpoints.
const OPENAPI: &str = include_str!("openapi.json");

/// What the endpoints share.
#[derive(Clone)]
pub(crate) struct OpenData {
    auth: Arc<Auth>,
    reader: Reader,
    /// Read requests in progress: the gate's own pool, within each caller's share.
    reads: Arc<crate::shares::Pool>,
    /// Uploads: recorded as gRPC submissions are, within the gate's pool of writes.
    writes: crate::api::Writes,
    writes_pool: Arc<crate::shares::Pool>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl OpenData {
    pub(crate) fn new(
        auth: Arc<Auth>,
        reader: Reader,
        (writes, shares): (crate::api::Writes, &crate::shares::Shares),
        metrics: Arc<crate::metrics::Metrics>,
    ) -> OpenData {
        OpenData {
            auth,
            reader,
            reads: shares.reads.clone(),
            writes,
            writes_pool: shares.writes.clone(),
            metrics,
        }
    }
}

/// `/`, `/openapi.json`, the index `/v1/` and the endpoints `/v1/…`.
pub(super) fn router(state: OpenData) -> axum::Router {
    use axum::routing::any;
    axum::Router::new()
        .route("/", any(root))
        .route("/openapi.json", any(openapi))
        .route("/v1", any(index))
        .route("/v1/", any(index))
        .route("/v1/submissions", any(upload::submit))
        .route("/v1/{*rest}", any(endpoint))
        .with_state(state)
}

/// An answer that is an error: its HTTP status and JSON body.
#[derive(Debug)]
struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
    violations: Vec<(String, String)>,
    /// More of the error object (an upload's problems by line).
    details: serde_json::Map<String, serde_json::Value>,
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
            violations: Vec::new(),
            details: serde_json::Map::new(),
        }
    }

    /// `400 INVALID_ARGUMENT` naming one parameter.
    fn invalid(field: &str, description: impl Into<String>) -> HttpError {
        let description = description.into();
        HttpError {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_ARGUMENT",
            message: format!("invalid request: {field}: {description}"),
            violations: vec![(field.to_owned(), description)],
            details: serde_json::Map::new(),
        }
    }

    fn into_response(self, seq: Option<u64>) -> Response {
        let violations: Vec<_> = self
            .violations
            .iter()
            .map(|(f, d)| serde_json::json!({"field": f, "description": d}))
            .collect();
        let mut error = self.details;
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.into());
        error.insert("violations".into(), violations.into());
        let body = serde_json::json!({ "error": error });
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{body}\n"),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        if let Some(seq) = seq {
            r.headers_mut().insert("x-as-of-sequence", seq.into());
        }
        r
    }
}

/// The one mapping from a refused read to an HTTP status.
impl From<ReadError> for HttpError {
    fn from(e: ReadError) -> HttpError {
        match e {
            // The words of the gRPC answer to the same read.
            ReadError::Invalid { field, description } => {
                let first = format!("{field}: {description}");
                HttpError {
                    message: crate::domain::validate::refusal_message(1, 1, Some(&first)),
                    ..HttpError::invalid(&field, description)
                }
            }
            ReadError::NotFound(m) => HttpError::new(StatusCode::NOT_FOUND, "NOT_FOUND", m),
            ReadError::NotYet(m) => {
                HttpError::new(StatusCode::GATEWAY_TIMEOUT, "DEADLINE_EXCEEDED", m)
            }
            ReadError::Internal(m) => {
                HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", m)
            }
        }
    }
}

/// A fixed JSON document, answered without a token (it carries no figures): GET or HEAD.
fn document(s: &OpenData, name: &str, method: &Method, body: impl FnOnce() -> String) -> Response {
    let started = std::time::Instant::now();
    let r = if method != Method::GET && method != Method::HEAD {
        not_get().into_response(None)
    } else {
        let body = if method == Method::HEAD {
            String::new()
        } else {
            body()
        };
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    s.count(name, r.status(), started);
    r
}

async fn openapi(
    axum::extract::State(s): axum::extract::State<OpenData>,
    method: Method,
) -> Response {
    document(&s, "openapi", &method, || OPENAPI.to_owned())
}

/// `/`: the web page for a browser (`crate::http::web`), else where to go, as JSON.
async fn root(
    axum::extract::State(s): axum::extract::State<OpenData>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let mut r = if super::web::wants_page(&headers) {
        let started = std::time::Instant::now();
        let r = super::web::serve("index.html", &method, &headers);
        s.count("page", r.status(), started);
        r
    } else {
        document(&s, "root", &method, listing::root)
    };
    // Which of the two follows the Accept header: a cache must key on it.
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// `/v1/`: the endpoints, with links.
async fn index(
    axum::extract::State(s): axum::extract::State<OpenData>,
    method: Method,
) -> Response {
    document(&s, "index", &method, listing::index)
}

impl OpenData {
    /// Counts one answer.
    fn count(&self, endpoint: &str, status: StatusCode, started: std::time::Instant) {
        self.metrics
            .open_data_requests
            .with_label_values(&[endpoint, status.as_str()])
            .inc();
        self.metrics
            .open_data_latency
            .with_label_values(&[endpoint])
            .observe(started.elapsed().as_secs_f64());
    }
}

fn not_get() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "the open-data endpoints answer GET only",
    )
}

/// The media type an answer is negotiated to (`format`, else `Accept`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// JSON-stat 2.0 for figures, plain JSON for a listing.
    Json,
    Csv,
}

/// The layout of a CSV of figures (`layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Each endpoint's own columns (the default): one row per indicator, or per year, …
    Wide,
    /// One row per figure with the same columns from every endpoint (`long`), to stack.
    Long,
}

/// How an answer is written: its format, and a CSV's layout and dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Json,
    Csv(Layout, Dialect),
}

/// What an endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Figures: JSON-stat, or CSV in either layout.
    Figures,
    /// A listing of the catalog or the rounds: JSON, or CSV.
    Listing,
    /// An analysis of the figures: JSON-stat, or CSV of its own columns (no long layout:
    /// its rows are measures of many areas, not one area's figures).
    Analysis,
}

impl Kind {
    /// The values of `format` it takes.
    fn formats(self) -> [&'static str; 2] {
        match self {
            Kind::Figures | Kind::Analysis => ["json-stat", "csv"],
            Kind::Listing => ["json", "csv"],
        }
    }
}

/// An endpoint as the index lists it: the one description its path, its parameters, its
/// formats and its metrics label come from.
struct Route {
    /// The `endpoint` label of its metrics.
    name: &'static str,
    /// Its path, `{…}` where it takes a code.
    path: &'static str,
    /// What it answers.
    title: &'static str,
    /// The query parameters it takes besides [`COMMON`].
    parameters: &'static [&'static str],
    kind: Kind,
}

impl Route {
    /// Whether its answer is the same while the log is: all but a round's status, which
    /// the clock makes overdue.
    fn cacheable(&self) -> bool {
        !std::ptr::eq(self, &ROUND_STATUS)
    }
}

static REGION_PICTURE: Route = Route {
    name: "region_picture",
    path: "/v1/regions/{region}/picture",
    title: "an area's picture of a year: per reported indicator its value, status, source, \
            national value, share or difference, rank, previous value and peer groups",
    parameters: &["year", "borders", "layout"],
    kind: Kind::Figures,
};
static NATIONAL_PICTURE: Route = Route {
    name: "national_picture",
    path: "/v1/national/picture",
    title: "the national picture of a year: per indicator the national value and what it \
            rests on, regions reported and expected, min, median, max, best and worst region",
    parameters: &["year", "borders", "layout"],
    kind: Kind::Figures,
};
static GROUP_PICTURE: Route = Route {
    name: "group_picture",
    path: "/v1/groups/{group}/picture",
    title: "a peer group's picture of a year: per indicator every member's value, the \
            group value and the national value",
    parameters: &["year", "borders", "layout"],
    kind: Kind::Figures,
};
static SERIES: Route = Route {
    name: "series",
    path: "/v1/regions/{region}/series/{indicator}",
    title: "an area's series of an indicator, with the national value and rank of each year",
    parameters: &["from_year", "to_year", "borders", "layout"],
    kind: Kind::Figures,
};
static HISTORY: Route = Route {
    name: "history",
    path: "/v1/regions/{region}/history/{indicator}/{year}",
    title: "every revision of one figure: when, by whom, from which source and why",
    parameters: &["borders", "layout"],
    kind: Kind::Figures,
};
static REGIONS: Route = Route {
    name: "regions",
    path: "/v1/regions",
    title: "the regions and the whole country: codes, names, the years each was in force",
    parameters: &[],
    kind: Kind::Listing,
};
static MUNICIPALITIES: Route = Route {
    name: "municipalities",
    path: "/v1/municipalities",
    title: "the municipalities: codes, names, and in which region, sub-region and wellbeing \
            services county each lay in which years",
    parameters: &["borders"],
    kind: Kind::Listing,
};
static DIVISIONS: Route = Route {
    name: "divisions",
    path: "/v1/divisions",
    title: "the divisions (the borders in force from 1 January of a year) figures can be on: \
            their source, and whether they say where each municipality lay",
    parameters: &[],
    kind: Kind::Listing,
};
static INDICATORS: Route = Route {
    name: "indicators",
    path: "/v1/indicators",
    title: "the indicators: names, unit, theme, direction and how the national value follows",
    parameters: &[],
    kind: Kind::Listing,
};
static GROUPS: Route = Route {
    name: "groups",
    path: "/v1/groups",
    title: "the peer groups: names, members and where the grouping comes from",
    parameters: &[],
    kind: Kind::Listing,
};
static ROUNDS: Route = Route {
    name: "rounds",
    path: "/v1/rounds",
    title: "the reporting rounds: per year the deadline and the indicators and regions expected",
    parameters: &[],
    kind: Kind::Listing,
};
static ROUND_STATUS: Route = Route {
    name: "round_status",
    path: "/v1/rounds/{year}/status",
    title: "what a reporting round has received: per expected region the indicators reported \
            and missing, and whether it is overdue; the deadline and whether it has passed",
    parameters: &["region"],
    kind: Kind::Listing,
};
static AREAS: Route = Route {
    name: "areas",
    path: "/v1/indicators/{indicator}/areas",
    title: "an indicator's figure of every area of a level in a year, with its status, rank \
            and where it comes from (reported, or put together from municipalities): a map's \
            colours",
    parameters: &["year", "level", "borders"],
    kind: Kind::Listing,
};
static MAP: Route = Route {
    name: "map",
    path: "/v1/map",
    title: "the areas of a level on a division's borders drawn as SVG path data (fill and \
            outline), from the National Land Survey's municipal boundaries (CC BY 4.0)",
    parameters: &["level", "borders"],
    kind: Kind::Listing,
};

static DISPARITIES: Route = Route {
    name: "disparities",
    path: "/v1/disparities",
    title: "how unequal the areas of a level are on an indicator, year by year (range, max/min, \
            coefficient of variation, population-weighted CV, Gini, top/bottom 20 % ratio), and \
            whether they converge (sigma and beta slopes); a measure that cannot be computed \
            says why",
    parameters: &["indicator", "from_year", "to_year", "level", "borders"],
    kind: Kind::Analysis,
};
static TARGETS: Route = Route {
    name: "targets",
    path: "/v1/targets",
    title: "the targets set for areas' indicators against their latest figures: gap, the pace \
            needed and the recent pace, and whether each is reached, on track, off track or \
            missed",
    parameters: &["area", "indicator", "borders"],
    kind: Kind::Analysis,
};
static SIMILAR: Route = Route {
    name: "similar",
    path: "/v1/similar",
    title: "the areas of an area's level most similar to it in a year over a set of indicators \
            (standardised distance), with the indicators that made each close",
    parameters: &["area", "year", "indicators", "k", "borders"],
    kind: Kind::Analysis,
};
static FORERUNNERS: Route = Route {
    name: "forerunners",
    path: "/v1/forerunners",
    title: "the areas of a level that improved most on an indicator between two years, and \
            those left out with why",
    parameters: &[
        "indicator",
        "from_year",
        "to_year",
        "level",
        "limit",
        "borders",
    ],
    kind: Kind::Analysis,
};

/// Every endpoint under `/v1/`, in the order the index lists them.
static ROUTES: &[&Route] = &[
    &REGIONS,
    &MUNICIPALITIES,
    &DIVISIONS,
    &INDICATORS,
    &GROUPS,
    &ROUNDS,
    &ROUND_STATUS,
    &AREAS,
    &MAP,
    &REGION_PICTURE,
    &NATIONAL_PICTURE,
    &GROUP_PICTURE,
    &SERIES,
    &HISTORY,
    &DISPARITIES,
    &TARGETS,
    &SIMILAR,
    &FORERUNNERS,
];

/// What an endpoint is asked for.
#[derive(Debug)]
enum Endpoint {
    RegionPicture {
        region: String,
    },
    NationalPicture,
    GroupPicture {
        group: String,
    },
    Series {
        region: String,
        indicator: String,
    },
    History {
        region: String,
        indicator: String,
        year: String,
    },
    Regions,
    Municipalities,
    Divisions,
    Indicators,
    Groups,
    Rounds,
    RoundStatus {
        year: String,
    },
    Areas {
        indicator: String,
    },
    Map,
    Disparities,
    Targets,
    Similar,
    Forerunners,
}

impl Endpoint {
    /// The endpoint a path names (after `/v1/`), or `None`.
    fn parse(rest: &[String]) -> Option<Endpoint> {
        let s: Vec<&str> = rest.iter().map(String::as_str).collect();
        Some(match s.as_slice() {
            ["regions", r, "picture"] => Endpoint::RegionPicture {
                region: (*r).into(),
            },
            ["national", "picture"] => Endpoint::NationalPicture,
            ["groups", g, "picture"] => Endpoint::GroupPicture { group: (*g).into() },
            ["regions", r, "series", i] => Endpoint::Series {
                region: (*r).into(),
                indicator: (*i).into(),
            },
            ["regions", r, "history", i, y] => Endpoint::History {
                region: (*r).into(),
                indicator: (*i).into(),
                year: (*y).into(),
            },
            ["regions"] => Endpoint::Regions,
            ["municipalities"] => Endpoint::Municipalities,
            ["divisions"] => Endpoint::Divisions,
            ["indicators"] => Endpoint::Indicators,
            ["groups"] => Endpoint::Groups,
            ["rounds"] => Endpoint::Rounds,
            ["rounds", y, "status"] => Endpoint::RoundStatus { year: (*y).into() },
            ["map"] => Endpoint::Map,
            ["indicators", i, "areas"] => Endpoint::Areas {
                indicator: (*i).into(),
            },
            ["disparities"] => Endpoint::Disparities,
            ["targets"] => Endpoint::Targets,
            ["similar"] => Endpoint::Similar,
            ["forerunners"] => Endpoint::Forerunners,
            _ => return None,
        })
    }

    /// Its description.
    fn route(&self) -> &'static Route {
        match self {
            Endpoint::RegionPicture { .. } => &REGION_PICTURE,
            Endpoint::NationalPicture => &NATIONAL_PICTURE,
            Endpoint::GroupPicture { .. } => &GROUP_PICTURE,
            Endpoint::Series { .. } => &SERIES,
            Endpoint::History { .. } => &HISTORY,
            Endpoint::Regions => &REGIONS,
            Endpoint::Municipalities => &MUNICIPALITIES,
            Endpoint::Divisions => &DIVISIONS,
            Endpoint::Indicators => &INDICATORS,
            Endpoint::Groups => &GROUPS,
            Endpoint::Rounds => &ROUNDS,
            Endpoint::RoundStatus { .. } => &ROUND_STATUS,
            Endpoint::Map => &MAP,
            Endpoint::Areas { .. } => &AREAS,
            Endpoint::Disparities => &DISPARITIES,
            Endpoint::Targets => &TARGETS,
            Endpoint::Similar => &SIMILAR,
            Endpoint::Forerunners => &FORERUNNERS,
        }
    }
}

/// The parameters every endpoint under `/v1/` takes.
const COMMON: &[&str] = &[
    "as_of",
    "published_by",
    "min_sequence",
    "format",
    "lang",
    "csv_dialect",
];
/// Longest path segment (a code) accepted: codes are at most 64 bytes.
const MAX_SEGMENT: usize = 64;

/// The query: each parameter at most once, none unknown.
fn query(uri: &Uri, allowed: &[&str]) -> Result<BTreeMap<String, String>, HttpError> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if !allowed.contains(&k.as_ref()) && !COMMON.contains(&k.as_ref()) {
            let mut known: Vec<&str> = allowed.iter().chain(COMMON).copied().collect();
            known.sort();
            return Err(HttpError::invalid(
                &crate::domain::text::cut(&k, 64),
                format!(
                    "unknown parameter (this endpoint takes {})",
                    known.join(", ")
                ),
            ));
        }
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(HttpError::invalid(&k, "given more than once"));
        }
    }
    Ok(out)
}

/// A year parameter: four digits.
fn year(field: &str, v: &str) -> Result<Year, HttpError> {
    let bad = || {
        let v = crate::domain::text::cut(v, 40);
        HttpError::invalid(field, format!("{v:?} is not a year within 1000..9999"))
    };
    let y = crate::domain::text::plain_year(v).ok_or_else(bad)?;
    Year::new(y, field).map_err(|_| bad())
}

fn required_year(q: &BTreeMap<String, String>) -> Result<Year, HttpError> {
    required_year_of(q, "year")
}

/// The year parameter `field`, which must be given.
fn required_year_of(q: &BTreeMap<String, String>, field: &str) -> Result<Year, HttpError> {
    match q.get(field) {
        Some(v) => year(field, v),
        None => Err(HttpError::invalid(field, "required")),
    }
}

/// A code parameter (an indicator id, an area code): given and not empty when `required`;
/// an empty one is refused rather than read as absent.
fn code<'q>(
    q: &'q BTreeMap<String, String>,
    field: &str,
    required: bool,
) -> Result<Option<&'q str>, HttpError> {
    match q.get(field).map(String::as_str) {
        None if required => Err(HttpError::invalid(field, "required")),
        None => Ok(None),
        Some("") => Err(HttpError::invalid(
            field,
            "is empty: give a code, or leave the parameter out",
        )),
        Some(v) if v.len() > MAX_SEGMENT => Err(HttpError::invalid(
            field,
            format!("a code is at most {MAX_SEGMENT} bytes"),
        )),
        Some(v) => Ok(Some(v)),
    }
}

/// `level`: the areas an analysis compares (regions when not given).
fn level(q: &BTreeMap<String, String>) -> Result<crate::projection::Level, HttpError> {
    use crate::projection::Level;
    match q.get("level").map(String::as_str) {
        None => Ok(Level::Region),
        Some("") => Err(HttpError::invalid(
            "level",
            "is empty: region, municipality, sub_region or county",
        )),
        // Exactly one of the names (the gRPC read trims them; a query parameter is exact).
        Some(v) if v.trim() != v => Err(HttpError::invalid(
            "level",
            format!(
                "{:?} must be region, municipality, sub_region or county",
                crate::domain::text::cut(v, 40)
            ),
        )),
        Some(v) => Level::parse(v).map_err(|why| HttpError::invalid("level", why)),
    }
}

/// A count parameter (`k`, `limit`): digits, `default` when not given. Its range is the
/// read's to check.
fn count(q: &BTreeMap<String, String>, field: &str, default: u32) -> Result<u32, HttpError> {
    match q.get(field) {
        None => Ok(default),
        Some(v) => crate::domain::text::plain_number(v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                HttpError::invalid(
                    field,
                    format!(
                        "{:?} is not a whole number (digits without leading zeros)",
                        crate::domain::text::cut(v, 40)
                    ),
                )
            }),
    }
}

/// The most indicators one similar-areas request compares on (the catalog has fewer).
const MAX_LIKENESS_INDICATORS: usize = 200;

/// `indicators`: `id[:weight],id[:weight]…` (weight 1 when not given); not given, the
/// default set (an empty list). Given but empty is refused: an empty set compares on
/// nothing, and reading it as the default would answer another question than the one asked.
fn indicator_set(q: &BTreeMap<String, String>) -> Result<Vec<(String, f64)>, HttpError> {
    let Some(v) = q.get("indicators") else {
        return Ok(Vec::new());
    };
    let bad = |why: String| HttpError::invalid("indicators", why);
    if v.trim().is_empty() {
        return Err(bad(
            "an empty indicator set: name at least one indicator (id or id:weight, separated \
             by commas), or leave the parameter out for the default set"
                .into(),
        ));
    }
    let items: Vec<&str> = v.split(',').collect();
    if items.len() > MAX_LIKENESS_INDICATORS {
        return Err(bad(format!("at most {MAX_LIKENESS_INDICATORS} indicators")));
    }
    items
        .into_iter()
        .map(|item| {
            let (id, weight) = match item.split_once(':') {
                Some((id, w)) => {
                    // A plain decimal (`0.5`, `2`): no `inf`, `NaN` or exponent.
                    let plain = !w.is_empty()
                        && w.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                        && w.bytes().filter(|b| *b == b'.').count() <= 1;
                    let weight = w.parse::<f64>().ok().filter(|_| plain).ok_or_else(|| {
                        bad(format!(
                            "the weight of {:?} is not a positive decimal number: {:?} (write e.g. 0.5 or 2)",
                            crate::domain::text::clip(id),
                            crate::domain::text::cut(w, 40)
                        ))
                    })?;
                    (id, weight)
                }
                None => (item, 1.0),
            };
            if id.is_empty() {
                return Err(bad(
                    "an empty indicator id in the list (ids separated by commas)".into(),
                ));
            }
            Ok((id.to_owned(), weight))
        })
        .collect()
}

/// A refusal of a read, with its field named as the HTTP parameter is (the read names
/// gRPC's fields: `indicator_id`, and `region_code`, the parameter `area` names).
fn as_parameter(e: ReadError, area: &str) -> HttpError {
    let e = match e {
        ReadError::Invalid { field, description } => ReadError::Invalid {
            field: match field.as_str() {
                "indicator_id" => "indicator".to_owned(),
                "region_code" => area.to_owned(),
                _ => field,
            },
            description,
        },
        other => other,
    };
    HttpError::from(e)
}

/// `as_of`: a sequence (digits), a date (the end of that day, Finnish time), a Finnish
/// date-time or an RFC 3339 instant; or `published_by`: the same but a sequence; neither is
/// the latest state.
fn as_of(q: &BTreeMap<String, String>) -> Result<AsOf, HttpError> {
    if let Some(v) = q.get("published_by") {
        if q.contains_key("as_of") {
            return Err(HttpError::invalid(
                "published_by",
                "give as_of (what was recorded) or published_by (what was published), not both",
            ));
        }
        // A `+` of an offset left unencoded arrives as a space (form encoding).
        let v = v.replace(' ', "+");
        return crate::domain::text::instant(&v, crate::domain::text::Day::End)
            .map(AsOf::PublishedBy)
            .map_err(|why| HttpError::invalid("published_by", why));
    }
    let Some(v) = q.get("as_of") else {
        return Ok(AsOf::Latest);
    };
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return crate::domain::text::plain_number(v)
            .map(AsOf::Sequence)
            .ok_or_else(|| {
                HttpError::invalid(
                    "as_of",
                    "a sequence is written without leading zeros, and at most 2^64-1",
                )
            });
    }
    // A `+` of an offset left unencoded arrives as a space (form encoding).
    let v = v.replace(' ', "+");
    crate::domain::text::instant(&v, crate::domain::text::Day::End)
        .map(AsOf::RecordedAt)
        .map_err(|why| HttpError::invalid("as_of", format!("is not a sequence, and {why}")))
}

fn min_sequence(q: &BTreeMap<String, String>) -> Result<u64, HttpError> {
    match q.get("min_sequence") {
        None => Ok(0),
        Some(v) => crate::domain::text::plain_number(v).ok_or_else(|| {
            HttpError::invalid(
                "min_sequence",
                format!(
                    "{:?} is not a sequence (digits without leading zeros, at most 2^64-1)",
                    crate::domain::text::cut(v, 40)
                ),
            )
        }),
    }
}

/// The format: `format=` (of those `kind` takes), else what the `Accept` header asks for
/// ([`negotiate`]).
fn format(
    q: &BTreeMap<String, String>,
    headers: &HeaderMap,
    kind: Kind,
) -> Result<Format, HttpError> {
    let [json, csv] = kind.formats();
    match q.get("format").map(String::as_str) {
        Some(f) if f == json => return Ok(Format::Json),
        Some(f) if f == csv => return Ok(Format::Csv),
        Some(other) => {
            return Err(HttpError::invalid(
                "format",
                format!("{:?}: {csv} or {json}", crate::domain::text::cut(other, 40)),
            ))
        }
        None => {}
    }
    negotiate(
        headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// How the answer is written: its format, and for CSV its `layout` (figures only; wide by
/// default) and `csv_dialect` (the language's by default: [`Dialect::of`]). A CSV parameter
/// with a JSON answer is refused: asked for a long or Finnish table, a client given JSON would
/// read something else than it asked for.
fn shape(
    q: &BTreeMap<String, String>,
    headers: &HeaderMap,
    kind: Kind,
    lang: Lang,
) -> Result<Shape, HttpError> {
    let format = format(q, headers, kind)?;
    let layout = match q.get("layout").map(String::as_str) {
        None | Some("wide") => Layout::Wide,
        Some("long") => Layout::Long,
        Some(other) => {
            return Err(HttpError::invalid(
                "layout",
                format!("{:?}: wide or long", crate::domain::text::cut(other, 40)),
            ))
        }
    };
    let dialect = match q.get("csv_dialect") {
        None => Dialect::of(lang),
        Some(v) => Dialect::parse(v).ok_or_else(|| {
            HttpError::invalid(
                "csv_dialect",
                format!("{:?}: international or fi", crate::domain::text::cut(v, 40)),
            )
        })?,
    };
    match format {
        Format::Csv => Ok(Shape::Csv(layout, dialect)),
        Format::Json => match ["layout", "csv_dialect"]
            .into_iter()
            .find(|p| q.contains_key(*p))
        {
            Some(p) => Err(HttpError::invalid(
                p,
                "applies to a CSV answer: add format=csv (JSON-stat is a cube; pyjstat and \
                 rjstat make a long table of it)",
            )),
            None => Ok(Shape::Json),
        },
    }
}

/// The format an `Accept` header asks for, as RFC 9110 §12.5.1 reads it: each format
/// weighs what its most specific matching media range says (`text/csv` over `text/*` over
/// `*/*`; `q` 1 when not given), `q=0` excludes, the heaviest wins (JSON-stat on a tie,
/// as the default), and `406` when nothing is acceptable. No header: JSON-stat.
fn negotiate<'a>(accept: impl Iterator<Item = &'a str>) -> Result<Format, HttpError> {
    let Some(weigh) = accepted(accept) else {
        return Ok(Format::Json);
    };
    let (json, csv) = (weigh("application", "json"), weigh("text", "csv"));
    match (json, csv) {
        (0, 0) => Err(HttpError::new(
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            "the answer is JSON-stat (application/json) or CSV (text/csv), and the Accept \
             header takes neither",
        )),
        (j, c) if c > j => Ok(Format::Csv),
        _ => Ok(Format::Json),
    }
}

/// How an `Accept` header weighs a media type, as RFC 9110 §12.5.1 reads it: the `q` (in
/// thousandths) of its most specific matching range (`text/csv` over `text/*` over `*/*`;
/// 1000 when not given; 0: not acceptable). `None` when the header names no range.
pub(in crate::http) fn accepted<'a>(
    accept: impl Iterator<Item = &'a str>,
) -> Option<impl Fn(&str, &str) -> u32> {
    // (type, subtype, q) of each media range; a range with an unreadable q is left out.
    let ranges: Vec<(String, String, u32)> = accept
        .flat_map(|v| v.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let (ty, sub) = media.split_once('/')?;
            let mut q = 1000;
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("q") {
                    q = weight(v.trim())?;
                }
            }
            Some((ty.trim().to_owned(), sub.trim().to_owned(), q))
        })
        .collect();
    if ranges.is_empty() {
        return None;
    }
    Some(move |ty: &str, sub: &str| {
        ranges
            .iter()
            .filter_map(|(t, s, q)| {
                let specificity = match (t.as_str(), s.as_str()) {
                    (t, s) if t == ty && s == sub => 2,
                    (t, "*") if t == ty => 1,
                    ("*", "*") => 0,
                    _ => return None,
                };
                Some((specificity, *q))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0, |(_, q)| q)
    })
}

/// A weight (`q`) in thousandths: `0`, `1`, or up to three decimals (RFC 9110 §12.4.2).
fn weight(v: &str) -> Option<u32> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u32>().ok()?;
    match whole {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

fn lang(q: &BTreeMap<String, String>) -> Result<Lang, HttpError> {
    match q.get("lang") {
        None => Ok(Lang::En),
        Some(v) => Lang::parse(v).ok_or_else(|| {
            HttpError::invalid(
                "lang",
                format!("{:?}: fi, sv or en", crate::domain::text::cut(v, 40)),
            )
        }),
    }
}

/// The path after `/v1/`, segment by segment, percent-decoded.
fn segments(uri: &Uri) -> Result<Vec<String>, HttpError> {
    let rest = uri.path().strip_prefix("/v1/").unwrap_or("");
    rest.split('/')
        .map(|s| {
            let decoded = percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map_err(|_| HttpError::invalid("path", "a path segment is not UTF-8"))?;
            if decoded.len() > MAX_SEGMENT {
                return Err(HttpError::invalid(
                    "path",
                    format!("a code is at most {MAX_SEGMENT} bytes"),
                ));
            }
            Ok(decoded.into_owned())
        })
        .collect()
}

async fn endpoint(
    axum::extract::State(s): axum::extract::State<OpenData>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    conn: Option<axum::Extension<crate::connection::ConnInfo>>,
) -> Response {
    let started = std::time::Instant::now();
    // The path is read once: for the label (one of a fixed set, so a client cannot grow it
    // with made-up paths) and for the answer.
    let endpoint = segments(&uri).map(|s| Endpoint::parse(&s));
    let name = match &endpoint {
        Ok(Some(e)) => e.route().name,
        _ => "other",
    };
    let conn = conn.map(|c| c.0 .0);
    // Taken before the answer: the log can only have grown by the time it is made, so the
    // tag never claims a newer state than the answer's.
    let tag = match &endpoint {
        Ok(Some(e)) if e.route().cacheable() => {
            let latest = s.reader.latest();
            Some((etag(latest, &uri, &headers), latest))
        }
        _ => None,
    };
    let answered = answer(
        &s,
        &method,
        endpoint,
        &uri,
        &headers,
        conn.as_ref(),
        tag.as_ref().map(|(tag, latest)| (tag.as_str(), *latest)),
    );
    let r = match answered.await {
        // Without the answer's sequence: the client's stored answer keeps its own.
        Ok(Answered::Unchanged) => StatusCode::NOT_MODIFIED.into_response(),
        Ok(Answered::Body(body, content_type, seq)) => {
            let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
            r.headers_mut().insert("x-as-of-sequence", seq.into());
            if method == Method::HEAD {
                *r.body_mut() = axum::body::Body::empty();
            }
            r
        }
        Err((refusal, seq)) => refusal.into_response(seq),
    };
    // The format follows the Accept header, the figures the token: a cache must key on both.
    let mut r = r;
    r.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
    if let Some((tag, _)) = tag.filter(|_| r.status().is_success() || r.status() == 304) {
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&tag) {
            h.insert(header::ETAG, v);
        }
        // Stored, but asked again each time: the tag answers `304` while the log is unchanged.
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    s.count(name, r.status(), started);
    r
}

/// What an endpoint answers.
enum Answered {
    /// The body, its content type and the sequence it answers at.
    Body(String, &'static str, u64),
    /// The client holds the answer already: its `If-None-Match` is the answer's tag, and
    /// nothing has been recorded since the tag was made.
    Unchanged,
}

/// The tag of an answer: it changes when the log grows (every answer, as of any point, is
/// made from the log up to its latest sequence: a release recorded later changes what was
/// published by an earlier date), with the request (path, query, format, token) and with
/// the process (a new binary may write the same figures otherwise).
fn etag(latest: u64, uri: &Uri, headers: &HeaderMap) -> String {
    use std::hash::{Hash, Hasher};
    static PROCESS: OnceLock<u128> = OnceLock::new();
    let process = PROCESS.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(0, |d| d.as_nanos())
    });
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (process, uri.path(), uri.query()).hash(&mut h);
    for name in [header::ACCEPT, header::AUTHORIZATION] {
        for v in headers.get_all(name) {
            v.as_bytes().hash(&mut h);
        }
    }
    format!("W/\"{latest}-{:016x}\"", h.finish())
}

/// Whether the request's `If-None-Match` names `tag` (or is `*`).
pub(in crate::http) fn holds(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == tag || t.trim() == "*")
}

/// The answer, or the refusal (with the latest applied sequence once the request is
/// authenticated). `tag`: the answer's and the latest sequence it was made at, when the
/// endpoint's answers can be cached.
async fn answer(
    s: &OpenData,
    method: &Method,
    endpoint: Result<Option<Endpoint>, HttpError>,
    uri: &Uri,
    headers: &HeaderMap,
    conn: Option<&Arc<crate::connection::Conn>>,
    tag: Option<(&str, u64)>,
) -> Result<Answered, (HttpError, Option<u64>)> {
    if method != Method::GET && method != Method::HEAD {
        return Err((not_get(), None));
    }
    let (who, caller) =
        crate::shares::Caller::authenticate(&s.auth, headers, conn).map_err(|why| {
            let e = HttpError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why.0);
            (e, None)
        })?;
    let refuse = |r: HttpError| (r, Some(s.reader.latest()));
    let endpoint = endpoint.map_err(refuse)?.ok_or_else(|| {
        refuse(HttpError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such endpoint (see /v1/ and /openapi.json)",
        ))
    })?;
    let route = endpoint.route();
    let q = query(uri, route.parameters).map_err(refuse)?;
    // The log checked again: a sequence applied since the tag was made may change the answer.
    if tag.is_some_and(|(tag, latest)| holds(headers, tag) && s.reader.latest() == latest) {
        return Ok(Answered::Unchanged);
    }
    let lang = lang(&q).map_err(refuse)?;
    let shape = shape(&q, headers, route.kind, lang).map_err(refuse)?;
    let point = Point {
        as_of: as_of(&q).map_err(refuse)?,
        min_sequence: min_sequence(&q).map_err(refuse)?,
        ..Point::default()
    };
    // A history's and a municipality listing's borders are one division's year; a
    // picture's, a choice of borders.
    let given_borders = q.get("borders").map(String::as_str).unwrap_or_default();
    let division = || {
        let borders = q.get("borders").map(|v| year("borders", v)).transpose();
        borders.map(|b| b.map(Year::get)).map_err(refuse)
    };
    let point = match endpoint {
        Endpoint::History { .. } | Endpoint::Municipalities | Endpoint::Map => point,
        _ => (point.with_borders(given_borders, "borders")).map_err(|e| refuse(e.into()))?,
    };
    let _share = s.reads.take(&caller).map_err(|refused| {
        refuse(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            refused.0,
        ))
    })?;
    let read = |e: ReadError| refuse(HttpError::from(e));
    let work = async {
        let r = &s.reader;
        Ok(match endpoint {
            Endpoint::RegionPicture { region } => {
                let year = required_year(&q).map_err(refuse)?;
                let a = (r.region_picture(&who, point, &region, year).await).map_err(read)?;
                (render::region_picture(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::NationalPicture => {
                let year = required_year(&q).map_err(refuse)?;
                let a = (r.national_picture(&who, point, year).await).map_err(read)?;
                (render::national_picture(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::GroupPicture { group } => {
                let year = required_year(&q).map_err(refuse)?;
                let a = (r.group_picture(&who, point, &group, year).await).map_err(read)?;
                (render::group_picture(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Series { region, indicator } => {
                let from = q.get("from_year").map(|v| year("from_year", v)).transpose();
                let to = q.get("to_year").map(|v| year("to_year", v)).transpose();
                let (from, to) = (from.map_err(refuse)?, to.map_err(refuse)?);
                let (from, to) = (from.map(Year::get), to.map(Year::get));
                let a = r.series(&who, point, &region, &indicator, from, to).await;
                let a = a.map_err(read)?;
                (render::series(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::History {
                region,
                indicator,
                year: y,
            } => {
                let y = year("year", &y).map_err(refuse)?;
                let borders = division()?;
                let a = r
                    .history(&who, point, (&region, &indicator, y), borders)
                    .await;
                let a = a.map_err(read)?;
                (render::history(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Regions => {
                let a = r.catalog_at(&who, point).await.map_err(read)?;
                (listing::regions(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Municipalities => {
                let borders = division()?;
                let a = r.catalog_at(&who, point).await.map_err(read)?;
                if let Some(Err(why)) = borders.map(|d| a.value.known_division(d)) {
                    return Err(refuse(HttpError::invalid("borders", why)));
                }
                (
                    listing::municipalities(&a, borders, shape, lang),
                    a.as_of_sequence,
                )
            }
            Endpoint::Divisions => {
                let a = r.catalog_at(&who, point).await.map_err(read)?;
                (listing::divisions(&a, shape), a.as_of_sequence)
            }
            Endpoint::Indicators => {
                let a = r.catalog_at(&who, point).await.map_err(read)?;
                (listing::indicators(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Groups => {
                let a = r.catalog_at(&who, point).await.map_err(read)?;
                (listing::groups(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Rounds => {
                let a = r.rounds(&who, point).await.map_err(read)?;
                (listing::rounds(&a, shape), a.as_of_sequence)
            }
            Endpoint::RoundStatus { year: y } => {
                let y = year("year", &y).map_err(refuse)?;
                let region = code(&q, "region", false).map_err(refuse)?;
                let a = r.round_status(&who, point, y, region).await;
                let a = a.map_err(|e| refuse(as_parameter(e, "region")))?;
                (listing::round_status(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Areas { indicator } => {
                let year = required_year(&q).map_err(refuse)?;
                let level = level(&q).map_err(refuse)?;
                let a = r.areas_of(&who, point, &indicator, level, year).await;
                let a = a.map_err(|e| refuse(as_parameter(e, "area")))?;
                (listing::areas(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Map => {
                let level = level(&q).map_err(refuse)?;
                use crate::domain::areas::Borders;
                let borders = division()?.map_or(Borders::Latest, Borders::Of);
                let a = r.catalog_at(&who, point).await.map_err(read)?;
                let d = a.value.resolve_borders(borders, 0);
                let d = d.map_err(|why| refuse(HttpError::invalid("borders", why)))?;
                let d = d.ok_or_else(|| {
                    refuse(HttpError::invalid(
                        "borders",
                        "the catalog has no divisions to draw",
                    ))
                })?;
                let map = crate::domain::geo::draw(&a.value, level.grouping(), d);
                let map = map.map_err(|why| refuse(HttpError::invalid("borders", why)))?;
                (listing::map(&a, &map, level, shape, lang), a.as_of_sequence)
            }
            Endpoint::Disparities => {
                let indicator = code(&q, "indicator", true).map_err(refuse)?.unwrap_or("");
                let from = required_year_of(&q, "from_year").map_err(refuse)?;
                let to = q.get("to_year").map(|v| year("to_year", v)).transpose();
                let to = to.map_err(refuse)?;
                let level = level(&q).map_err(refuse)?;
                let a = r
                    .disparities(&who, point, indicator, level, (from, to))
                    .await;
                let a = a.map_err(|e| refuse(as_parameter(e, "area")))?;
                (analysis::disparities(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Targets => {
                let area = code(&q, "area", false).map_err(refuse)?;
                let indicator = code(&q, "indicator", false).map_err(refuse)?;
                let a = r.targets(&who, point, area, indicator).await;
                let a = a.map_err(|e| refuse(as_parameter(e, "area")))?;
                (analysis::targets(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Similar => {
                let area = code(&q, "area", true).map_err(refuse)?.unwrap_or("");
                let year = required_year(&q).map_err(refuse)?;
                let indicators = indicator_set(&q).map_err(refuse)?;
                let k = count(&q, "k", crate::read::DEFAULT_SIMILAR).map_err(refuse)?;
                let likeness = crate::projection::Likeness {
                    indicators,
                    k: k as usize,
                };
                let a = r.similar(&who, point, area, year, likeness).await;
                let a = a.map_err(|e| refuse(as_parameter(e, "area")))?;
                (analysis::similar(&a, shape, lang), a.as_of_sequence)
            }
            Endpoint::Forerunners => {
                let indicator = code(&q, "indicator", true).map_err(refuse)?.unwrap_or("");
                let from = required_year_of(&q, "from_year").map_err(refuse)?;
                let to = required_year_of(&q, "to_year").map_err(refuse)?;
                let level = level(&q).map_err(refuse)?;
                let limit = count(&q, "limit", crate::read::DEFAULT_FORERUNNERS);
                let limit = Some(limit.map_err(refuse)?);
                let a = r
                    .forerunners(&who, point, indicator, level, (from, to), limit)
                    .await;
                let a = a.map_err(|e| refuse(as_parameter(e, "area")))?;
                (analysis::forerunners(&a, shape, lang), a.as_of_sequence)
            }
        })
    };
    let (body, seq) = match tokio::time::timeout(limits::REQUEST_TIMEOUT, work).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(refuse(HttpError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "DEADLINE_EXCEEDED",
                format!(
                    "the server did not answer within {:?}",
                    limits::REQUEST_TIMEOUT
                ),
            )))
        }
    };
    let content_type = match shape {
        Shape::Json => "application/json",
        Shape::Csv(..) => "text/csv; charset=utf-8",
    };
    Ok(Answered::Body(body, content_type, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(uri: &str, allowed: &[&str]) -> Result<BTreeMap<String, String>, HttpError> {
        query(&uri.parse().unwrap(), allowed)
    }

    #[test]
    fn parameters_are_known_once_and_well_formed() {
        let ok = q(
            "/v1/national/picture?year=2019&as_of=12&format=csv",
            &["year"],
        )
        .unwrap();
        assert_eq!(
            required_year(&ok).unwrap(),
            Year::new(2019, "year").unwrap()
        );
        // A misspelt parameter is refused, never ignored (it would answer the latest state).
        let err = q("/v1/national/picture?year=2019&asof=12", &["year"]).unwrap_err();
        assert_eq!(
            (err.status, err.violations[0].0.as_str()),
            (StatusCode::BAD_REQUEST, "asof")
        );
        let err = q("/v1/national/picture?year=2019&year=2020", &["year"]).unwrap_err();
        assert!(err.message.contains("more than once"), "{}", err.message);
        for bad in ["999", "10000", "20x9", "+2019", "", "2019.0"] {
            assert!(year("year", bad).is_err(), "{bad:?}");
        }
        let empty = q("/v1/national/picture?year=2019&as_of=", &["year"]).unwrap();
        assert!(
            as_of(&empty).is_err(),
            "an empty as_of is refused, not the latest"
        );
    }

    /// The analyses' own parameters: an indicator set with weights (given but empty is
    /// refused, never read as the default set), a level named exactly, counts of digits.
    #[test]
    fn analysis_parameters_are_read_exactly() {
        use crate::projection::Level;
        let all = ["indicators", "level", "k", "indicator"];
        let set = |uri: &str| indicator_set(&q(uri, &all).unwrap());
        assert_eq!(set("/x").unwrap(), vec![]);
        assert_eq!(
            set("/x?indicators=a,b:2,c:0.25").unwrap(),
            vec![("a".into(), 1.0), ("b".into(), 2.0), ("c".into(), 0.25)]
        );
        for (uri, why) in [
            ("/x?indicators=", "an empty indicator set"),
            ("/x?indicators=%20", "an empty indicator set"),
            ("/x?indicators=a,,b", "an empty indicator id"),
            ("/x?indicators=a:", "not a positive decimal"),
            ("/x?indicators=a:inf", "not a positive decimal"),
            ("/x?indicators=a:1e3", "not a positive decimal"),
            ("/x?indicators=a:-1", "not a positive decimal"),
            ("/x?indicators=a:1.2.3", "not a positive decimal"),
        ] {
            let e = set(uri).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(e.violations[0].0, "indicators", "{uri}");
            assert!(e.violations[0].1.contains(why), "{uri}: {}", e.message);
        }
        let lv = |uri: &str| level(&q(uri, &all).unwrap()).map_err(|e| e.violations[0].0.clone());
        assert_eq!(lv("/x"), Ok(Level::Region));
        assert_eq!(lv("/x?level=sub_region"), Ok(Level::SubRegion));
        for bad in ["", "%20region", "regions", "Region"] {
            assert_eq!(
                lv(&format!("/x?level={bad}")),
                Err("level".into()),
                "{bad:?}"
            );
        }
        let k = |uri: &str| count(&q(uri, &all).unwrap(), "k", 7).map_err(|e| e.status);
        assert_eq!(k("/x"), Ok(7));
        assert_eq!(k("/x?k=12"), Ok(12));
        for bad in ["", "-1", "07", "1.5", "99999999999"] {
            assert_eq!(
                k(&format!("/x?k={bad}")),
                Err(StatusCode::BAD_REQUEST),
                "{bad:?}"
            );
        }
        let id = |uri: &str| {
            code(&q(uri, &all).unwrap(), "indicator", true).map(|c| c.map(str::to_owned))
        };
        assert_eq!(id("/x?indicator=gini").unwrap(), Some("gini".into()));
        assert!(id("/x").unwrap_err().message.contains("required"));
        assert!(id("/x?indicator=").unwrap_err().message.contains("empty"));
        // A read's field is the parameter's name.
        let e = as_parameter(
            ReadError::invalid("indicator_id", "unknown indicator \"x\""),
            "area",
        );
        assert_eq!(e.violations[0].0, "indicator");
        assert!(
            e.message.contains("indicator: unknown indicator"),
            "{}",
            e.message
        );
    }

    /// An offset's `+` left unencoded arrives as a space and still reads; `%2B` and `Z` too.
    /// Without an offset, a time or a date is Finnish.
    #[test]
    fn as_of_takes_a_sequence_a_date_or_a_time() {
        let point = |uri: &str| as_of(&q(uri, &[]).unwrap()).unwrap();
        assert_eq!(point("/x?as_of=42"), AsOf::Sequence(42));
        assert_eq!(point("/x"), AsOf::Latest);
        let noon_utc = AsOf::RecordedAt(1_735_732_800_000_000);
        assert_eq!(point("/x?as_of=2025-01-01T12:00:00Z"), noon_utc);
        assert_eq!(point("/x?as_of=2025-01-01T14:00:00+02:00"), noon_utc);
        assert_eq!(point("/x?as_of=2025-01-01T14:00:00%2B02:00"), noon_utc);
        assert_eq!(
            point("/x?as_of=2025-01-01T14:00"),
            noon_utc,
            "Finnish winter time"
        );
        // A date's end, Finnish time: 1 January ended at 21:59:59.999999 UTC.
        assert_eq!(
            point("/x?as_of=2025-01-01"),
            AsOf::RecordedAt(1_735_768_799_999_999)
        );
        let bad = q("/x?as_of=yesterday", &[]).unwrap();
        assert_eq!(as_of(&bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        // A date's end: what was published on it counts.
        assert_eq!(
            point("/x?published_by=2021-06-01"),
            AsOf::PublishedBy(1_622_581_199_999_999)
        );
        let both = q("/x?published_by=2021-06-01&as_of=3", &[]).unwrap();
        assert_eq!(as_of(&both).unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    /// Every route of the index is the endpoint its path parses to, under its own name:
    /// the index, the router and the metrics labels cannot drift apart.
    #[test]
    fn the_index_lists_the_endpoints_the_router_answers() {
        let mut names = std::collections::BTreeSet::new();
        for route in ROUTES {
            let uri: Uri = route
                .path
                .replace("{year}", "2019")
                .replace(['{', '}'], "")
                .parse()
                .unwrap();
            let e = Endpoint::parse(&segments(&uri).unwrap())
                .unwrap_or_else(|| panic!("{} parses to no endpoint", route.path));
            assert!(std::ptr::eq(e.route(), *route), "{}", route.path);
            assert!(names.insert(route.name), "{} twice", route.name);
            // The figures take a layout; listings do not.
            assert_eq!(
                route.parameters.contains(&"layout"),
                route.kind == Kind::Figures,
                "{}",
                route.path
            );
        }
        let index: serde_json::Value = serde_json::from_str(&listing::index()).unwrap();
        let listed: Vec<&str> = index["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["href"].as_str().unwrap())
            .collect();
        let paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
        assert_eq!(listed, paths);
    }

    /// `layout` and `csv_dialect` shape a CSV, and are refused with JSON; the dialect
    /// follows `lang` unless given.
    #[test]
    fn a_csv_is_shaped_by_layout_dialect_and_lang() {
        let shaped = |uri: &str, kind| {
            let q = q(uri, &["layout"]).unwrap();
            let lang = lang(&q).unwrap();
            shape(&q, &HeaderMap::new(), kind, lang).map_err(|e| e.violations[0].0.clone())
        };
        let csv = |layout, dialect| Ok(Shape::Csv(layout, dialect));
        assert_eq!(
            shaped("/x?format=csv", Kind::Figures),
            csv(Layout::Wide, Dialect::International)
        );
        assert_eq!(
            shaped("/x?format=csv&lang=fi", Kind::Figures),
            csv(Layout::Wide, Dialect::Finnish)
        );
        assert_eq!(
            shaped("/x?format=csv&lang=sv", Kind::Figures),
            csv(Layout::Wide, Dialect::International)
        );
        assert_eq!(
            shaped(
                "/x?format=csv&lang=fi&csv_dialect=international&layout=long",
                Kind::Figures
            ),
            csv(Layout::Long, Dialect::International)
        );
        assert_eq!(
            shaped("/x?format=csv&csv_dialect=fi", Kind::Listing),
            csv(Layout::Wide, Dialect::Finnish)
        );
        assert_eq!(shaped("/x?lang=fi", Kind::Figures), Ok(Shape::Json));
        assert_eq!(shaped("/x?format=json", Kind::Listing), Ok(Shape::Json));
        for (uri, kind, field) in [
            ("/x?layout=long", Kind::Figures, "layout"),
            (
                "/x?format=json-stat&csv_dialect=fi",
                Kind::Figures,
                "csv_dialect",
            ),
            ("/x?format=csv&layout=tall", Kind::Figures, "layout"),
            (
                "/x?format=csv&csv_dialect=excel",
                Kind::Figures,
                "csv_dialect",
            ),
            ("/x?format=json", Kind::Figures, "format"),
            ("/x?format=json-stat", Kind::Listing, "format"),
        ] {
            assert_eq!(shaped(uri, kind), Err(field.to_owned()), "{uri}");
        }
    }

    #[test]
    fn the_accept_header_is_weighed_as_rfc_9110_says() {
        let f = |accept: &str| negotiate(std::iter::once(accept)).map_err(|e| e.status);
        assert_eq!(f("text/csv;q=0, application/json"), Ok(Format::Json));
        assert_eq!(f("application/json;q=0.5, text/csv"), Ok(Format::Csv));
        assert_eq!(f("text/csv, application/json"), Ok(Format::Json), "a tie");
        assert_eq!(f("text/*"), Ok(Format::Csv));
        assert_eq!(f("*/*;q=0.1, text/csv;q=0"), Ok(Format::Json));
        assert_eq!(f("text/*;q=0.9, */*;q=0.2"), Ok(Format::Csv));
        for refused in [
            "application/json;q=0, text/csv;q=0",
            "text/html",
            "*/*;q=0",
            "text/*;q=0, application/*;q=0.000",
        ] {
            assert_eq!(f(refused), Err(StatusCode::NOT_ACCEPTABLE), "{refused}");
        }
        // An unreadable weight leaves its range out.
        assert_eq!(f("text/csv;q=2, application/json;q=0.3"), Ok(Format::Json));
        assert_eq!(weight("0.125"), Some(125));
        assert_eq!(weight("1.000"), Some(1000));
        assert_eq!(weight("1.5"), None);
        assert_eq!(weight("0.1234"), None);
    }
}
