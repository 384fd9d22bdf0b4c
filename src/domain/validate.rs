//! Validation of write requests against the catalog. Every problem is reported as a field
//! violation naming the field (`observations[3].value`), so a client can fix all of them
//! at once; nothing is appended unless the whole request is valid.

use fxhash::FxHashSet;

use super::catalog::Catalog;
use super::event::{Observation, Status};
use super::text::{clip, control_characters, Lines};

/// Longest submission id: long enough for a UUID plus a client prefix (docs/architecture.md).
pub(crate) const MAX_SUBMISSION_ID_LEN: usize = 128;
/// Most observations in one submission. A region's full yearly report is ~50 values; a
/// decade of backfill for every indicator stays under this. Ten thousand also keeps one
/// request under the 4 MiB gRPC message limit with long source strings, and one commit
/// group's encode and hash work under a few milliseconds.
pub(crate) const MAX_OBSERVATIONS: usize = 10_000;
/// Longest `source`: a citation with a table title and URL is 200-500 bytes.
pub const MAX_SOURCE_LEN: usize = 1024;
/// Longest `note`, `correction_reason` or retraction `reason`.
pub const MAX_TEXT_LEN: usize = 1024;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub(crate) description: String,
}

fn violation(field: impl Into<String>, description: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field: field.into(),
        description: description.into(),
    }
}

/// An observation as submitted: status may be missing (unspecified) until validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationInput {
    pub indicator_id: String,
    pub year: i32,
    pub value: f64,
    pub status: Option<Status>,
    pub source: String,
    pub note: String,
    pub correction_reason: String,
    /// The division (its year) whose borders the figure is on; `None` until the writer
    /// fills in the default, the division in force when it is recorded.
    pub borders: Option<i32>,
    /// When its publisher published it (see [`Observation::published_micros`]).
    pub published_micros: Option<i64>,
}

/// Checks a submission id (1–128 printable characters).
pub(crate) fn check_submission_id(id: &str, field: &str, out: &mut Vec<FieldViolation>) {
    if id.is_empty() || id.len() > MAX_SUBMISSION_ID_LEN {
        out.push(violation(
            field,
            format!("must be 1-{MAX_SUBMISSION_ID_LEN} bytes (got {})", id.len()),
        ));
    } else if id.chars().any(char::is_control) {
        out.push(violation(field, "must not contain control characters"));
    }
}

/// Checks a free text: its length, and the control characters it may not hold.
fn check_text(
    value: &str,
    max: usize,
    lines: Lines,
    field: impl FnOnce() -> String,
    out: &mut Vec<FieldViolation>,
) {
    if value.len() > max {
        out.push(violation(
            field(),
            format!("is {} bytes; at most {max} allowed", value.len()),
        ));
    } else if let Some(why) = control_characters(value, lines) {
        out.push(violation(field(), why));
    }
}

/// Resolves the area of a request (a region, its Statistics Finland number, or a
/// municipality), reporting a violation when unknown.
pub(crate) fn check_area<'c>(
    catalog: &'c Catalog,
    code: &str,
    out: &mut Vec<FieldViolation>,
) -> Option<&'c str> {
    match catalog.resolve_area(code) {
        Some(a) => match a.not_written() {
            None => Some(a.code()),
            Some(why) => {
                out.push(violation("region_code", why));
                None
            }
        },
        None => {
            out.push(violation(
                "region_code",
                format!(
                    "unknown area {:?} (use a region code such as MK01, a municipality code such \
                     as KU091, or SSS for the whole country)",
                    clip(code)
                ),
            ));
            None
        }
    }
}

/// Checks each observation's borders (given, or the default already filled in): a division
/// of the catalog, on which `area` was in force. Without borders (a catalog with no
/// divisions) the area must have been in force in the figure's year (Itä-Uusimaa took no
/// figure after 2010).
pub(crate) fn check_borders(
    catalog: &Catalog,
    area: &str,
    observations: &[ObservationInput],
    out: &mut Vec<FieldViolation>,
) {
    let Some(area) = catalog.resolve_area(area) else {
        return;
    };
    for (i, o) in observations.iter().enumerate() {
        if let Some(Err(why)) = o.borders.map(|d| catalog.known_division(d)) {
            out.push(violation(format!("observations[{i}].borders"), why));
            continue;
        }
        if let Err((field, why)) = area.in_force(o.borders, o.year) {
            out.push(violation(format!("observations[{i}].{field}"), why));
        }
    }
}

/// The current value and status of a cell, as far as validation needs it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Current {
    pub value: f64,
    pub status: Status,
}

/// A valid observation (by its place in the submission), and whether it would change its
/// cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub index: usize,
    /// Equal to the cell's current value and status: not a revision, so not recorded.
    pub unchanged: bool,
}

impl ObservationInput {
    /// The observation to record, once [`check_observations`] found it valid (so it has a
    /// status).
    pub fn into_observation(self) -> Observation {
        Observation {
            indicator_id: self.indicator_id,
            year: self.year,
            value: self.value,
            status: self.status.unwrap_or(Status::Provisional),
            source: self.source,
            note: self.note,
            correction_reason: self.correction_reason,
            borders: self.borders,
            published_micros: self.published_micros,
        }
    }
}

/// Validates the observations of a submission. `current(indicator, year, borders)` is the cell's
/// current value, if any: an observation equal to it in value and status is unchanged (not
/// a revision, no correction reason needed); any other observation of a cell whose current
/// value is `final` is a revision of a final value and needs a correction reason.
/// `current_year` is the year of the server's record time: observed indicators take no
/// later year.
pub fn check_observations(
    catalog: &Catalog,
    observations: &[ObservationInput],
    current: impl Fn(&str, i32, Option<i32>) -> Option<Current>,
    current_year: i32,
    out: &mut Vec<FieldViolation>,
) -> Vec<Checked> {
    if observations.is_empty() {
        out.push(violation(
            "observations",
            "at least one observation is required",
        ));
    }
    if observations.len() > MAX_OBSERVATIONS {
        out.push(violation(
            "observations",
            format!(
                "{} observations; at most {MAX_OBSERVATIONS} per submission",
                observations.len()
            ),
        ));
        return Vec::new();
    }
    // Keys are (catalog id, year), at most MAX_OBSERVATIONS of them: Fx hashing, whose
    // collisions a client could only provoke through the years, costs at worst a slower
    // rejection of one bounded request.
    let mut seen = FxHashSet::default();
    seen.reserve(observations.len());
    let mut valid = Vec::with_capacity(observations.len());
    for (i, o) in observations.iter().enumerate() {
        let f = |name: &str| format!("observations[{i}].{name}");
        let before = out.len();
        let ind = catalog.indicators.get(&o.indicator_id);
        match ind {
            None => out.push(violation(
                f("indicator_id"),
                format!("unknown indicator {:?}", clip(&o.indicator_id)),
            )),
            Some(ind) => {
                if let Err(why) = ind.check_year(o.year, current_year) {
                    out.push(violation(f("year"), why));
                }
                if !o.value.is_finite() {
                    out.push(violation(
                        f("value"),
                        format!("{} is not a finite number", o.value),
                    ));
                } else {
                    if let Some(lo) = ind.min_value.filter(|lo| o.value < *lo) {
                        out.push(violation(
                            f("value"),
                            format!("{} is below the minimum {lo} of {}", o.value, ind.id),
                        ));
                    }
                    if let Some(hi) = ind.max_value.filter(|hi| o.value > *hi) {
                        out.push(violation(
                            f("value"),
                            format!("{} is above the maximum {hi} of {}", o.value, ind.id),
                        ));
                    }
                }
                if !seen.insert((o.indicator_id.as_str(), o.year, o.borders)) {
                    out.push(violation(
                        f("indicator_id"),
                        format!(
                            "cell {} {}{} appears twice in this submission",
                            o.indicator_id,
                            o.year,
                            on_borders(o.borders)
                        ),
                    ));
                }
            }
        }
        if o.status.is_none() {
            out.push(violation(
                f("status"),
                "must be OBSERVATION_STATUS_PROVISIONAL or OBSERVATION_STATUS_FINAL",
            ));
        }
        if o.source.trim().is_empty() {
            out.push(violation(
                f("source"),
                "a source is required for every figure",
            ));
        }
        check_text(&o.source, MAX_SOURCE_LEN, Lines::One, || f("source"), out);
        check_text(&o.note, MAX_TEXT_LEN, Lines::Many, || f("note"), out);
        check_text(
            &o.correction_reason,
            MAX_TEXT_LEN,
            Lines::Many,
            || f("correction_reason"),
            out,
        );
        if let Some(p) = o.published_micros {
            check_published(p, current_year, || f("published"), out);
        }
        let cur = ind.and_then(|_| current(&o.indicator_id, o.year, o.borders));
        let unchanged = cur.is_some_and(|c| Some(c.status) == o.status && c.value == o.value);
        if !unchanged
            && cur.is_some_and(|c| c.status == Status::Final)
            && o.correction_reason.trim().is_empty()
        {
            out.push(violation(
                f("correction_reason"),
                format!(
                    "cell {} {}{} has a final value; revising it requires a correction reason",
                    o.indicator_id,
                    o.year,
                    on_borders(o.borders)
                ),
            ));
        }
        if out.len() == before {
            valid.push(Checked {
                index: i,
                unchanged,
            });
        }
    }
    valid
}

/// Earliest publication time taken: 1 January 1900, before any table this service loads
/// (Statistics Finland's oldest tables go back to 1865 but were published much later).
const EARLIEST_PUBLISHED_MICROS: i64 = -2_208_988_800_000_000;

/// A publication time: from 1900 to the end of the current year (a figure cannot have
/// been published after it is recorded; the year is what validation knows of the clock).
fn check_published(
    micros: i64,
    current_year: i32,
    field: impl Fn() -> String,
    out: &mut Vec<FieldViolation>,
) {
    use chrono::Datelike;
    let year = chrono::DateTime::from_timestamp_micros(micros).map(|t| t.year());
    if micros < EARLIEST_PUBLISHED_MICROS || year.is_none_or(|y| y > current_year) {
        out.push(violation(
            field(),
            format!(
                "a publication time must lie between 1900 and the end of {current_year} \
                 (got {micros} µs since 1970)"
            ),
        ));
    }
}

/// " on the borders of D", or nothing for a figure without borders.
pub(crate) fn on_borders(borders: Option<i32>) -> String {
    borders.map_or_else(String::new, |d| format!(" on the borders of {d}"))
}

/// The message of a refusal for `total` violations of which the first `shown` are listed
/// in its details, `first` ("field: description") being the first of them: the same words
/// whichever transport carries them.
pub(crate) fn refusal_message(total: usize, shown: usize, first: Option<&str>) -> String {
    let problems = if total == 1 { "problem" } else { "problems" };
    match first {
        Some(first) if total > shown => format!(
            "invalid request: {total} {problems} (the first {shown} in the details); first: {first}"
        ),
        Some(first) => format!("invalid request: {total} {problems}; first: {first}"),
        None => "invalid request".to_owned(),
    }
}

/// Checks a retraction's reason.
pub(crate) fn check_reason(reason: &str, out: &mut Vec<FieldViolation>) {
    if reason.trim().is_empty() {
        out.push(violation(
            "reason",
            "a reason is required to retract a value",
        ));
    }
    check_text(reason, MAX_TEXT_LEN, Lines::Many, || "reason".into(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(indicator: &str, year: i32, value: f64) -> ObservationInput {
        ObservationInput {
            indicator_id: indicator.into(),
            year,
            value,
            status: Some(Status::Final),
            source: "Statistics Finland".into(),
            note: String::new(),
            correction_reason: String::new(),
            borders: None,
            published_micros: None,
        }
    }

    fn fields(v: &[FieldViolation]) -> Vec<&str> {
        v.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn valid_submission_passes() {
        let cat = Catalog::bundled();
        let mut out = vec![];
        let valid = check_observations(
            &cat,
            &[obs("population", 2020, 1.7e6)],
            |_, _, _| None,
            2026,
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(valid.len(), 1);
    }

    #[test]
    fn each_problem_names_its_field() {
        let cat = Catalog::bundled();
        let mut missing_status = obs("population", 2020, 1.0);
        missing_status.status = None;
        let mut no_source = obs("population", 2019, 1.0);
        no_source.source = " ".into();
        let mut long_note = obs("population", 2018, 1.0);
        long_note.note = "x".repeat(MAX_TEXT_LEN + 1);
        let input = vec![
            obs("no_such_indicator", 2020, 1.0),
            obs("population", 1200, 1.0),
            obs("population", 2021, f64::NAN),
            obs("population", 2022, f64::INFINITY),
            obs("population", 2023, -5.0),
            missing_status,
            no_source,
            long_note,
            obs("population", 2023, 1.0),
        ];
        let mut out = vec![];
        let valid = check_observations(&cat, &input, |_, _, _| None, 2026, &mut out);
        assert!(valid.is_empty() || valid.len() < input.len());
        assert_eq!(
            fields(&out),
            vec![
                "observations[0].indicator_id",
                "observations[1].year",
                "observations[2].value",
                "observations[3].value",
                "observations[4].value",
                "observations[5].status",
                "observations[6].source",
                "observations[7].note",
                "observations[8].indicator_id",
            ]
        );
    }

    #[test]
    fn revising_a_final_value_needs_a_reason() {
        let cat = Catalog::bundled();
        let mut out = vec![];
        let final_cell = |_: &str, _: i32, _: Option<i32>| {
            Some(Current {
                value: 2.0,
                status: Status::Final,
            })
        };
        check_observations(
            &cat,
            &[obs("population", 2020, 1.0)],
            final_cell,
            2026,
            &mut out,
        );
        assert_eq!(fields(&out), vec!["observations[0].correction_reason"]);
        let mut with_reason = obs("population", 2020, 1.0);
        with_reason.correction_reason = "boundary change".into();
        out.clear();
        check_observations(&cat, &[with_reason], final_cell, 2026, &mut out);
        assert!(out.is_empty());
        // A provisional value may be revised without a reason.
        out.clear();
        check_observations(
            &cat,
            &[obs("population", 2020, 1.0)],
            |_, _, _| {
                Some(Current {
                    value: 2.0,
                    status: Status::Provisional,
                })
            },
            2026,
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn resubmitting_the_current_value_is_unchanged_and_needs_no_reason() {
        let cat = Catalog::bundled();
        let cur = |_: &str, _: i32, _: Option<i32>| {
            Some(Current {
                value: 1.0,
                status: Status::Final,
            })
        };
        let mut out = vec![];
        let same = check_observations(&cat, &[obs("population", 2020, 1.0)], cur, 2026, &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert!(same[0].unchanged);
        // The same value with another status is a revision of a final value.
        let mut provisional = obs("population", 2020, 1.0);
        provisional.status = Some(Status::Provisional);
        check_observations(&cat, &[provisional], cur, 2026, &mut out);
        assert_eq!(fields(&out), vec!["observations[0].correction_reason"]);
    }

    #[test]
    fn years_after_the_current_one_only_for_targets_and_forecasts() {
        let mut cat = Catalog::bundled();
        let mut out = vec![];
        check_observations(
            &cat,
            &[obs("population", 2026, 1.0), obs("population", 2027, 1.0)],
            |_, _, _| None,
            2026,
            &mut out,
        );
        assert_eq!(fields(&out), vec!["observations[1].year"]);
        assert!(
            out[0].description.contains("after the current year 2026"),
            "{out:?}"
        );
        let mut forecast = cat.indicators["population"].clone();
        forecast.id = "population_projection".into();
        forecast.kind = crate::domain::IndicatorKind::Forecast;
        forecast.max_year = Some(2070);
        cat.indicators.insert(forecast.id.clone(), forecast);
        out.clear();
        check_observations(
            &cat,
            &[
                obs("population_projection", 2040, 1.0),
                obs("population_projection", 2071, 1.0),
            ],
            |_, _, _| None,
            2026,
            &mut out,
        );
        assert_eq!(fields(&out), vec!["observations[1].year"]);
        assert!(out[0].description.contains("after 2070"), "{out:?}");
    }

    #[test]
    fn quoted_client_text_is_clipped() {
        let cat = Catalog::bundled();
        let mut out = vec![];
        check_observations(
            &cat,
            &[obs(&"x".repeat(100_000), 2020, 1.0)],
            |_, _, _| None,
            2026,
            &mut out,
        );
        assert!(
            out[0].description.len() < 200,
            "{}",
            out[0].description.len()
        );
    }

    #[test]
    fn batch_size_limits() {
        let cat = Catalog::bundled();
        let mut out = vec![];
        check_observations(&cat, &[], |_, _, _| None, 2026, &mut out);
        assert_eq!(fields(&out), vec!["observations"]);
        out.clear();
        let many: Vec<_> = (0..=MAX_OBSERVATIONS)
            .map(|i| obs("population", 2000 + (i % 50) as i32, 1.0))
            .collect();
        check_observations(&cat, &many, |_, _, _| None, 2026, &mut out);
        assert_eq!(fields(&out), vec!["observations"]);
    }

    #[test]
    fn submission_ids_and_regions() {
        let cat = Catalog::bundled();
        let mut out = vec![];
        check_submission_id("", "submission_id", &mut out);
        check_submission_id(&"a".repeat(129), "submission_id", &mut out);
        check_submission_id("ok-1", "submission_id", &mut out);
        assert_eq!(out.len(), 2);
        out.clear();
        assert_eq!(check_area(&cat, "17", &mut out), Some("MK17"));
        assert_eq!(check_area(&cat, "MK20", &mut out), None);
        assert_eq!(check_area(&cat, "KU091", &mut out), Some("KU091"));
        assert_eq!(fields(&out), vec!["region_code"]);
    }
}
