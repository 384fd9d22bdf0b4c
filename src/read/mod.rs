//! The one read path: every picture read — region, national, peer group, series, a cell's
//! history, a round's status — answered as domain values, whatever the transport.
//!
//! Each read takes the authenticated principal (every role reads: authorising a read is
//! having been authenticated, by the gRPC gate or the HTTP port) and a [`Point`], and first
//! passes one shared step ([`Reader::at`]): it waits (bounded) until the projection has
//! applied the point's `min_sequence`, takes the projection's read lock and resolves the
//! as-of point to a sequence. Then it checks its own arguments against the catalog and
//! computes. The answer ([`Answer`]) carries the sequence it holds at, and what a reader
//! needs to label it. Arguments a transport reads from its request (a [`Year`]) are checked
//! where it reads them, so that each transport keeps the order of its checks.
//!
//! [`Reader::events`] is the raw event feed (`ReadEvents`): the log as far as the
//! projection has applied it.
//!
//! Errors are [`ReadError`]s. They become a gRPC status in one place (`api`) and an HTTP
//! status in one place (`http::opendata`); nothing here knows either transport.

use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard};
use tokio::sync::watch;

use crate::auth::Principal;
use crate::domain::areas::Borders;
use crate::domain::{Catalog, Event, Indicator, Round};
use crate::metrics::Metrics;
use crate::projection::{
    AsOf, Disparities, Forerunners, GroupPicture, IndicatorYear, Level, Likeness, Projection,
    RegionPicture, RoundStatus, SeriesPoint, Similar, TargetProgress, YearPicture,
};
use crate::store::EventLog;

/// How long a read waits for `min_sequence` before it is refused. A write is visible to
/// reads within one commit (milliseconds); waiting longer means something is wrong.
const MIN_SEQUENCE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Largest year span of one series request: keeps one answer small.
const MAX_SERIES_YEARS: i32 = 300;

/// Most similar areas one answer lists: a neighbourhood, not a ranking of every area (the
/// disparities and the picture rank them all).
pub(crate) const MAX_SIMILAR: u32 = 50;

/// Similar areas given when a request names no number (Kolada's default).
pub(crate) const DEFAULT_SIMILAR: u32 = 7;

/// Forerunners given when a request names no number.
pub(crate) const DEFAULT_FORERUNNERS: u32 = 5;

/// Most forerunners one answer lists: every municipality fits.
pub(crate) const MAX_FORERUNNERS: u32 = 500;

/// Why a read is refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReadError {
    /// An argument is wrong: the field it names and why.
    Invalid { field: String, description: String },
    /// Nothing of that kind exists at the point asked about (a round not open).
    NotFound(String),
    /// The projection has not reached the `min_sequence` asked for in time.
    NotYet(String),
    /// The store failed (logged and counted; the text is for the client).
    Internal(&'static str),
}

impl ReadError {
    pub(crate) fn invalid(field: &str, description: impl Into<String>) -> ReadError {
        ReadError::Invalid {
            field: field.to_owned(),
            description: description.into(),
        }
    }
}

/// The state a read is asked about.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Point {
    pub(crate) as_of: AsOf,
    /// The read waits until the projection has applied this sequence (read your writes).
    pub(crate) min_sequence: u64,
    /// The borders a picture compares on.
    pub(crate) borders: Borders,
}

impl Point {
    /// This point pinned to `seq`, the sequence a first read resolved it to, so that a
    /// second read answers from the same state (a "published by" point stays itself: its
    /// sequences are those of a projection of its own).
    pub(crate) fn at(self, seq: u64) -> Point {
        match self.as_of {
            AsOf::PublishedBy(_) => self,
            _ => Point {
                as_of: AsOf::Sequence(seq),
                min_sequence: 0,
                ..self
            },
        }
    }

    /// The borders a request asks for (`field` names them in an error).
    pub(crate) fn with_borders(mut self, borders: &str, field: &str) -> Result<Point, ReadError> {
        self.borders = Borders::parse(borders).map_err(|why| ReadError::invalid(field, why))?;
        Ok(self)
    }
}

/// A read's answer: `value`, which holds at `as_of_sequence`.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    pub(crate) value: T,
    pub(crate) as_of_sequence: u64,
    /// The record time of the event at `as_of_sequence` (0 for the empty log).
    pub(crate) recorded_at_micros: i64,
    /// The latest catalog, for names: a code names the same thing at every as-of point.
    pub(crate) catalog: Arc<Catalog>,
}

/// A region's series of one indicator.
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) region: String,
    pub(crate) indicator: Indicator,
    pub(crate) points: Vec<SeriesPoint>,
}

/// A cell's revision trail: its events, oldest first.
#[derive(Debug)]
pub(crate) struct History {
    pub(crate) region: String,
    pub(crate) indicator: String,
    pub(crate) year: i32,
    pub(crate) revisions: Vec<Event>,
}

/// What every read shares: the projection, how far it has applied, and the log.
#[derive(Clone)]
pub(crate) struct Reader {
    projection: Arc<RwLock<Projection>>,
    applied: watch::Receiver<u64>,
    log: Arc<EventLog>,
    metrics: Arc<Metrics>,
    published: Arc<tokio::sync::Mutex<Vec<PublishedView>>>,
}

/// How many projections of figures "as published by" an instant are kept, the latest
/// asked for first. Each is built by folding the whole log and is as large as the live
/// projection (tens of MB for a ministry's store); an evaluator compares a few dates.
const PUBLISHED_VIEWS: usize = 2;

/// A projection of the figures published by `by`, folded from the log up to `upto`.
struct PublishedView {
    by: i64,
    upto: u64,
    projection: Arc<Projection>,
}

/// The projection a read answers from: the live one (under its read lock), or one of the
/// figures published by an instant.
enum View<'a> {
    Live(RwLockReadGuard<'a, Projection>),
    Published(Arc<Projection>),
}

impl std::ops::Deref for View<'_> {
    type Target = Projection;

    fn deref(&self) -> &Projection {
        match self {
            View::Live(p) => p,
            View::Published(p) => p,
        }
    }
}

/// The projection at a resolved point: the shared step's result.
struct At<'a> {
    p: View<'a>,
    seq: u64,
    point: AsOf,
    borders: Borders,
}

impl At<'_> {
    /// `value`, answered at this point.
    fn answer<T>(&self, value: T) -> Answer<T> {
        Answer {
            value,
            as_of_sequence: self.seq,
            recorded_at_micros: self.p.time_of(self.seq),
            catalog: self.p.catalog(),
        }
    }

    /// An area code (a region, its number, a municipality) resolved with the latest
    /// catalog: a code names the same area at every as-of point, also before it had data.
    fn region(&self, code: &str) -> Result<String, ReadError> {
        self.p
            .catalog()
            .resolve_area(code)
            .map(|a| a.code().to_owned())
            .ok_or_else(|| ReadError::invalid("region_code", format!("unknown area {code:?}")))
    }

    /// The division a picture of `year` is on, by the catalog as of this point.
    fn borders(&self, year: i32) -> Result<Option<i32>, ReadError> {
        self.p
            .catalog_at(self.seq)
            .resolve_borders(self.borders, year)
            .map_err(|why| ReadError::invalid("borders", why))
    }

    /// The one division a span of years is compared on (`own`: the last year's), after
    /// checking the span.
    fn span(&self, from: i32, to: i32) -> Result<Option<i32>, ReadError> {
        check_span(from, to)?;
        self.borders(to)
    }

    /// An indicator of the catalog as of this point.
    fn indicator(&self, id: &str) -> Result<Indicator, ReadError> {
        self.p
            .catalog_at(self.seq)
            .indicators
            .get(id)
            .cloned()
            .ok_or_else(|| ReadError::invalid("indicator_id", format!("unknown indicator {id:?}")))
    }
}

/// A span of years in order and within [`MAX_SERIES_YEARS`].
fn check_span(from: i32, to: i32) -> Result<(), ReadError> {
    if to < from {
        return Err(ReadError::invalid("to_year", "to_year is before from_year"));
    }
    if to - from >= MAX_SERIES_YEARS {
        return Err(ReadError::invalid(
            "from_year",
            format!("at most {MAX_SERIES_YEARS} years per request"),
        ));
    }
    Ok(())
}

/// A year a picture is asked for: within 1000..9999 (four digits), checked once where a
/// request is read, so that a transport decides which of its arguments is checked first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Year(i32);

impl Year {
    /// `year`, given as `field`.
    pub(crate) fn new(year: i32, field: &str) -> Result<Year, ReadError> {
        if !(1000..=9999).contains(&year) {
            return Err(ReadError::invalid(
                field,
                format!("year {year} must be within 1000..9999"),
            ));
        }
        Ok(Year(year))
    }

    pub(crate) fn get(self) -> i32 {
        self.0
    }
}

impl Reader {
    pub(crate) fn new(
        projection: Arc<RwLock<Projection>>,
        applied: watch::Receiver<u64>,
        log: Arc<EventLog>,
        metrics: Arc<Metrics>,
    ) -> Reader {
        Reader {
            projection,
            applied,
            log,
            metrics,
            published: Default::default(),
        }
    }

    /// The last sequence the projection has applied.
    pub(crate) fn latest(&self) -> u64 {
        *self.applied.borrow()
    }

    /// The shared step of every read: `who` is authenticated (every role reads); waits
    /// (bounded) for `point.min_sequence`, then locks the projection and resolves the as-of
    /// point.
    async fn at(&self, _who: &Principal, point: Point) -> Result<At<'_>, ReadError> {
        self.wait_for(point.min_sequence).await?;
        let p = match point.as_of {
            AsOf::PublishedBy(t) => View::Published(self.published_by(t).await?),
            _ => View::Live(self.projection.read()),
        };
        let seq = p.resolve(point.as_of);
        Ok(At {
            p,
            seq,
            point: point.as_of,
            borders: point.borders,
        })
    }

    /// The projection of the figures published by `t`, folded from the log as far as the
    /// live projection has applied it: a kept one when nothing was applied since, else built
    /// (one build at a time: each folds the whole log).
    async fn published_by(&self, t: i64) -> Result<Arc<Projection>, ReadError> {
        let mut views = self.published.lock().await;
        let upto = self.latest();
        if let Some(i) = views.iter().position(|v| v.by == t && v.upto == upto) {
            let view = views.remove(i);
            let p = view.projection.clone();
            views.insert(0, view);
            return Ok(p);
        }
        let log = self.log.clone();
        let built = tokio::task::spawn_blocking(move || {
            let mut p = Projection::new();
            log.for_each_chunk_from(1, |chunk| {
                let from = p.applied();
                for e in chunk.iter().filter(|e| e.sequence > from) {
                    if e.sequence > upto {
                        return std::ops::ControlFlow::Break(());
                    }
                    p.apply_published_by(e, t);
                }
                std::ops::ControlFlow::Continue(())
            })
            .map(|()| p)
        })
        .await;
        let projection = match built.map_err(|e| e.to_string()) {
            Ok(Ok(p)) => Arc::new(p),
            other => {
                let why = other.and_then(|r| r.map_err(|e| e.to_string())).err();
                tracing::error!(?why, "as published by: reading the log failed");
                self.metrics.store_errors.inc();
                return Err(ReadError::Internal("reading the log failed"));
            }
        };
        views.insert(
            0,
            PublishedView {
                by: t,
                upto,
                projection: projection.clone(),
            },
        );
        views.truncate(PUBLISHED_VIEWS);
        Ok(projection)
    }

    /// Waits (bounded) until the projection has applied `min`.
    async fn wait_for(&self, min: u64) -> Result<(), ReadError> {
        if min == 0 || *self.applied.borrow() >= min {
            return Ok(());
        }
        let mut rx = self.applied.clone();
        let reached = tokio::time::timeout(MIN_SEQUENCE_WAIT, rx.wait_for(|s| *s >= min))
            .await
            .is_ok_and(|r| r.is_ok());
        match reached {
            true => Ok(()),
            false => Err(ReadError::NotYet(format!(
                "the projection has not reached sequence {min} within {MIN_SEQUENCE_WAIT:?}"
            ))),
        }
    }

    /// A region's picture of `year`.
    pub(crate) async fn region_picture(
        &self,
        who: &Principal,
        point: Point,
        region: &str,
        Year(year): Year,
    ) -> Result<Answer<Arc<RegionPicture>>, ReadError> {
        let at = self.at(who, point).await?;
        let region = at.region(region)?;
        let d = at.borders(year)?;
        Ok(at.answer(at.p.region_picture(&region, year, d, at.seq)))
    }

    /// The national picture of `year`.
    pub(crate) async fn national_picture(
        &self,
        who: &Principal,
        point: Point,
        Year(year): Year,
    ) -> Result<Answer<Arc<YearPicture>>, ReadError> {
        let at = self.at(who, point).await?;
        let d = at.borders(year)?;
        Ok(at.answer(at.p.year_picture(year, (Level::Region, d), at.seq)))
    }

    /// A peer group's picture of `year`.
    pub(crate) async fn group_picture(
        &self,
        who: &Principal,
        point: Point,
        group: &str,
        Year(year): Year,
    ) -> Result<Answer<GroupPicture>, ReadError> {
        let at = self.at(who, point).await?;
        let d = at.borders(year)?;
        let picture = at.p.group_picture(group, year, d, at.seq).ok_or_else(|| {
            ReadError::invalid(
                "group_id",
                format!(
                    "unknown peer group {:?} (as of sequence {})",
                    crate::domain::text::clip(group),
                    at.seq
                ),
            )
        })?;
        Ok(at.answer(picture))
    }

    /// A region's series of an indicator from `from` to `to` (each defaults to the end of
    /// the indicator's years, and is clamped to them).
    pub(crate) async fn series(
        &self,
        who: &Principal,
        point: Point,
        region: &str,
        indicator: &str,
        from: Option<i32>,
        to: Option<i32>,
    ) -> Result<Answer<Series>, ReadError> {
        let at = self.at(who, point).await?;
        let region = at.region(region)?;
        let indicator = at.indicator(indicator)?;
        let (first, last) = indicator.default_years(crate::write::current_year());
        let (from, to) = (
            from.unwrap_or(first).max(first),
            to.unwrap_or(last).min(last),
        );
        check_span(from, to)?;
        // Checked once for the whole span: a division that does not exist is refused.
        at.borders(from)?;
        let catalog = at.p.catalog_at(at.seq);
        let borders = |year| catalog.resolve_borders(at.borders, year).ok().flatten();
        let points =
            at.p.series(&region, &indicator, (from, to), borders, at.seq);
        Ok(at.answer(Series {
            region,
            indicator,
            points,
        }))
    }

    /// A cell's revision trail on `borders` (`None`: its trails on every borders, side by
    /// side): the sequences come from memory, the revisions themselves from the log.
    pub(crate) async fn history(
        &self,
        who: &Principal,
        point: Point,
        (region, indicator, Year(year)): (&str, &str, Year),
        borders: Option<i32>,
    ) -> Result<Answer<History>, ReadError> {
        let (answer, trail, catalog) = {
            let at = self.at(who, point).await?;
            let region = at.region(region)?;
            let indicator = at.indicator(indicator)?.id;
            let catalog = at.p.catalog_at(at.seq);
            if let Some(Err(why)) = borders.map(|d| catalog.known_division(d)) {
                return Err(ReadError::invalid("borders", why));
            }
            let trail = match borders {
                Some(d) => at.p.trail(&region, &indicator, year, Some(d), at.seq),
                None => at.p.trails(&region, &indicator, year, at.seq),
            };
            let history = History {
                region,
                indicator,
                year,
                revisions: Vec::new(),
            };
            (at.answer(history), trail, catalog)
        };
        let wanted = trail.len();
        let log = self.log.clone();
        let read = tokio::task::spawn_blocking(move || log.read_at(&trail)).await;
        let h = &answer.value;
        // Of the cell: its indicator and year, on borders with the same land as asked for.
        let land = |b| catalog.land(&h.region, b);
        let of_cell = |e: &Event| {
            e.cell().is_some_and(|(i, y, b)| {
                i == h.indicator && y == year && borders.is_none_or(|d| land(b) == land(Some(d)))
            })
        };
        match read {
            // Every revision of the trail, each an event of this cell.
            Ok(Ok(events))
                if events.len() == wanted
                    && events
                        .iter()
                        .all(|e| e.region_code == h.region && of_cell(e)) =>
            {
                let mut answer = answer;
                answer.value.revisions = events;
                Ok(answer)
            }
            other => {
                match other {
                    Ok(Ok(events)) => tracing::error!(
                        found = events.len(),
                        wanted,
                        "history: the log does not hold the cell's revisions the projection \
                         lists"
                    ),
                    other => tracing::error!(?other, "history: store read failed"),
                }
                self.metrics.store_errors.inc();
                Err(ReadError::Internal("reading the log failed"))
            }
        }
    }

    /// What the round of `year` has received (only `region`'s part, when given). Overdue
    /// as of the instant asked about: now for the latest state, the instant asked for (at
    /// most now) for a time, the record time of the event for a sequence: a past state is
    /// judged by its own time.
    pub(crate) async fn round_status(
        &self,
        who: &Principal,
        point: Point,
        Year(year): Year,
        region: Option<&str>,
    ) -> Result<Answer<RoundStatus>, ReadError> {
        let at = self.at(who, point).await?;
        let region = region.map(|r| at.region(r)).transpose()?;
        let now = crate::write::now_micros();
        let instant = match at.point {
            AsOf::Latest => now,
            AsOf::RecordedAt(t) | AsOf::PublishedBy(t) => t.min(now),
            AsOf::Sequence(_) => at.p.time_of(at.seq),
        };
        let mut status = at.p.round_status(year, at.seq, instant).ok_or_else(|| {
            ReadError::NotFound(format!(
                "no reporting round is open for {year} (as of sequence {})",
                at.seq
            ))
        })?;
        if let Some(r) = &region {
            if !status.round.regions.contains(r) {
                return Err(ReadError::invalid(
                    "region_code",
                    format!("the {year} round does not expect {r}"),
                ));
            }
            status.regions.retain(|s| &s.region == r);
        }
        Ok(at.answer(status))
    }

    /// The catalog as it stood at `point`: its regions, municipalities, indicators and peer
    /// groups.
    pub(crate) async fn catalog_at(
        &self,
        who: &Principal,
        point: Point,
    ) -> Result<Answer<Arc<Catalog>>, ReadError> {
        let at = self.at(who, point).await?;
        Ok(at.answer(at.p.catalog_at(at.seq)))
    }

    /// The reporting rounds open at `point`, by year: each as then recorded, with the
    /// sequence that opened it in that form.
    pub(crate) async fn rounds(
        &self,
        who: &Principal,
        point: Point,
    ) -> Result<Answer<Vec<(u64, Round)>>, ReadError> {
        let at = self.at(who, point).await?;
        let rounds = at.p.round_years(at.seq).into_iter();
        let rounds = rounds
            .filter_map(|year| at.p.round(year, at.seq))
            .map(|(opened, round)| (opened, round.clone()))
            .collect();
        Ok(at.answer(rounds))
    }

    /// The dispersion of `indicator` across the areas of `level`, year by year from `from`
    /// to `to` (one year when `None`), on one division (`own`: `to`'s), and its convergence.
    pub(crate) async fn disparities(
        &self,
        who: &Principal,
        point: Point,
        indicator: &str,
        level: Level,
        (Year(from), to): (Year, Option<Year>),
    ) -> Result<Answer<Disparities>, ReadError> {
        let at = self.at(who, point).await?;
        let ind = at.indicator(indicator)?;
        let to = to.map_or(from, Year::get);
        let d = at.span(from, to)?;
        let catalog = at.p.catalog_at(at.seq);
        let answer =
            at.p.disparities(&catalog, &ind, (from, to), (level, d), at.seq);
        if answer.years.iter().all(|y| y.dispersion.areas == 0) {
            return Err(ReadError::invalid(
                "from_year",
                format!(
                    "{} has no figure of any {} for {from}-{to} on these borders (as of sequence \
                     {})",
                    ind.id,
                    level.as_str(),
                    at.seq
                ),
            ));
        }
        Ok(at.answer(answer))
    }

    /// Every area of `level` with its figure of `indicator` in `year` and its rank, on one
    /// division (`own`: the year's): what a map is coloured by.
    pub(crate) async fn areas_of(
        &self,
        who: &Principal,
        point: Point,
        indicator: &str,
        level: Level,
        Year(year): Year,
    ) -> Result<Answer<Arc<IndicatorYear>>, ReadError> {
        let at = self.at(who, point).await?;
        let ind = at.indicator(indicator)?;
        let d = at.span(year, year)?;
        let catalog = at.p.catalog_at(at.seq);
        let figures =
            at.p.indicator_year(&catalog, &ind, year, (level, d), at.seq);
        Ok(at.answer(figures))
    }

    /// Targets (of `area`, of `indicator`, or all) against the figures on one division.
    pub(crate) async fn targets(
        &self,
        who: &Principal,
        point: Point,
        area: Option<&str>,
        indicator: Option<&str>,
    ) -> Result<Answer<Vec<TargetProgress>>, ReadError> {
        let at = self.at(who, point).await?;
        // The whole country is an area even before a catalog has arrived (a replica that
        // has not caught up answers its national picture, with no targets).
        let area = area
            .map(|a| match a {
                crate::domain::NATIONAL_CODE => Ok(a.to_owned()),
                _ => at.region(a),
            })
            .transpose()?;
        let indicator = indicator.map(|i| at.indicator(i)).transpose()?;
        // A target's figures run to the latest year there is: `own` borders are those of the
        // latest division as of this point (not of the clock, so that a point answers the
        // same in any year).
        let latest =
            at.p.catalog_at(at.seq)
                .divisions
                .keys()
                .next_back()
                .copied();
        let d = at.borders(latest.unwrap_or_else(crate::write::current_year))?;
        let progress = at.p.targets(
            area.as_deref(),
            indicator.as_ref().map(|i| i.id.as_str()),
            d,
            at.seq,
        );
        Ok(at.answer(progress))
    }

    /// The areas of `area`'s level most similar to it in `year`.
    pub(crate) async fn similar(
        &self,
        who: &Principal,
        point: Point,
        area: &str,
        Year(year): Year,
        likeness: Likeness,
    ) -> Result<Answer<Similar>, ReadError> {
        let at = self.at(who, point).await?;
        let area = at.region(area)?;
        if area == crate::domain::NATIONAL_CODE {
            return Err(ReadError::invalid(
                "region_code",
                "the whole country has no peers to be similar to: name a region or municipality",
            ));
        }
        if !(1..=MAX_SIMILAR as usize).contains(&likeness.k) {
            return Err(ReadError::invalid(
                "k",
                format!("{} similar areas: give 1-{MAX_SIMILAR}", likeness.k),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (id, w) in &likeness.indicators {
            if !(w.is_finite() && *w > 0.0) {
                return Err(ReadError::invalid(
                    "indicators",
                    format!("the weight of {id} must be a positive number, not {w}"),
                ));
            }
            if !seen.insert(id) {
                return Err(ReadError::invalid(
                    "indicators",
                    format!("{id} is named twice"),
                ));
            }
        }
        let d = at.borders(year)?;
        let catalog = at.p.catalog_at(at.seq);
        let similar =
            at.p.similar(&catalog, &area, year, d, &likeness, at.seq)
                .map_err(|(field, why)| ReadError::invalid(field, why))?;
        Ok(at.answer(similar))
    }

    /// The areas of `level` that improved most on `indicator` from `from` to `to`, on one
    /// division (`own`: `to`'s).
    pub(crate) async fn forerunners(
        &self,
        who: &Principal,
        point: Point,
        indicator: &str,
        level: Level,
        (Year(from), Year(to)): (Year, Year),
        limit: Option<u32>,
    ) -> Result<Answer<Forerunners>, ReadError> {
        let limit = limit.unwrap_or(DEFAULT_FORERUNNERS);
        if !(1..=MAX_FORERUNNERS).contains(&limit) {
            return Err(ReadError::invalid(
                "limit",
                format!("{limit} forerunners: give 1-{MAX_FORERUNNERS}"),
            ));
        }
        let at = self.at(who, point).await?;
        let ind = at.indicator(indicator)?;
        if ind.direction == crate::domain::Direction::Neutral {
            return Err(ReadError::invalid(
                "indicator_id",
                format!(
                    "{} is neutral (context): it has no better direction to improve in",
                    ind.id
                ),
            ));
        }
        if to <= from {
            return Err(ReadError::invalid(
                "to_year",
                format!("to_year {to} must be after from_year {from}"),
            ));
        }
        let d = at.span(from, to)?;
        let catalog = at.p.catalog_at(at.seq);
        let mut answer =
            at.p.forerunners(&catalog, &ind, (from, to), (level, d), at.seq);
        if answer.ranked.is_empty() {
            // Why each area is left out (a break, no figure at one end), the first few.
            let why: Vec<String> = answer
                .left_out
                .iter()
                .take(3)
                .map(|(area, why)| format!("{area}: {why}"))
                .collect();
            return Err(ReadError::invalid(
                "from_year",
                format!(
                    "no {} has figures of {} for both {from} and {to} on these borders (as of \
                     sequence {}){}{}",
                    level.as_str(),
                    ind.id,
                    at.seq,
                    if why.is_empty() { "" } else { "; " },
                    why.join("; ")
                ),
            ));
        }
        answer.listed = answer.ranked.len().min(limit as usize);
        Ok(at.answer(answer))
    }

    /// How far the projection has applied the log, to wait on.
    pub(crate) fn applied(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    /// The events of the log from `from` on, at most `max` of them and none the projection
    /// has not applied (so a follower never sees an event before it is durable and
    /// visible): the raw event feed.
    pub(crate) async fn events(&self, from: u64, max: usize) -> Result<Vec<Event>, ReadError> {
        let upto = self.latest();
        if from > upto {
            return Ok(Vec::new());
        }
        let log = self.log.clone();
        match tokio::task::spawn_blocking(move || log.read_from(from, max)).await {
            Ok(Ok(mut events)) => {
                events.retain(|e| e.sequence <= upto);
                Ok(events)
            }
            other => {
                tracing::error!(?other, "events: store read failed");
                self.metrics.store_errors.inc();
                Err(ReadError::Internal("reading the log failed"))
            }
        }
    }

    /// The latest catalog.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.projection.read().catalog()
    }

    /// The round of `year` as recorded at `seq` (its defaults resolved), if one is open.
    pub(crate) fn round(&self, year: i32, seq: u64) -> Option<crate::domain::Round> {
        self.projection
            .read()
            .round(year, seq)
            .map(|(_, r)| r.clone())
    }
}
