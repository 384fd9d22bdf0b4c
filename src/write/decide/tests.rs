use super::*;
use crate::domain::validate::ObservationInput;
use crate::domain::Status;
use crate::write::{outcome, RetractInput, SubmitInput};

/// 2026-11-27T00:00:00Z in microseconds.
const NOW: i64 = 1_795_737_600_000_000;

fn state() -> WriterState {
    let mut s = WriterState::default();
    s.bootstrap(&Catalog::bundled(), NOW);
    s
}

fn obs(indicator: &str, year: i32, value: f64, status: Status) -> ObservationInput {
    ObservationInput {
        indicator_id: indicator.into(),
        year,
        value,
        status: Some(status),
        source: "Statistics Finland".into(),
        note: String::new(),
        correction_reason: String::new(),
        borders: None,
        published_micros: None,
    }
}

fn submit(id: &str, observations: Vec<ObservationInput>) -> WriteRequest {
    WriteRequest::Submit(SubmitInput {
        submission_id: id.into(),
        region_code: "MK19".into(),
        expected_region_revision: None,
        observations,
        validate_only: false,
    })
}

fn run(s: &mut WriterState, req: &WriteRequest) -> (Result<Receipt, WriteError>, Vec<Event>) {
    let mut out = Vec::new();
    let who = Principal::system("test");
    let r = s.prepare(req.clone(), &who, NOW, &mut out);
    (r, out)
}

/// A fresh state folded from every event so far: what a restart rebuilds.
fn rebuilt(events: &[Event]) -> WriterState {
    let mut s = WriterState::default();
    for e in events {
        s.apply(e);
    }
    s
}

#[test]
fn unchanged_observations_are_not_recorded_and_need_no_reason() {
    let mut s = state();
    let first = submit("a", vec![obs("population", 2021, 177_161.0, Status::Final)]);
    let (r, events) = run(&mut s, &first);
    assert_eq!((r.unwrap().recorded, events.len()), (1, 1));
    // The same final value again, under another id (an updated file): nothing appended,
    // no correction reason asked for.
    let again = submit("b", vec![obs("population", 2021, 177_161.0, Status::Final)]);
    let (r, events) = run(&mut s, &again);
    let r = r.unwrap();
    assert!(events.is_empty());
    assert_eq!((r.recorded, r.unchanged, r.first_sequence), (0, 1, 0));
    assert_eq!(r.last_sequence, s.last_sequence());
    assert_eq!(outcome(&Ok(r)), "unchanged");
    // A changed final value still needs a reason.
    let changed = submit("c", vec![obs("population", 2021, 177_000.0, Status::Final)]);
    let (r, _) = run(&mut s, &changed);
    assert!(
        matches!(r, Err(WriteError::Invalid(v)) if v[0].field == "observations[0].correction_reason")
    );
}

#[test]
fn a_partly_unchanged_submission_keeps_its_receipt_across_a_rebuild() {
    let mut s = state();
    let mut log = Vec::new();
    let (_, events) = run(
        &mut s,
        &submit("a", vec![obs("population", 2021, 1.0, Status::Final)]),
    );
    log.extend(events);
    let mixed = submit(
        "b",
        vec![
            obs("population", 2021, 1.0, Status::Final),
            obs("natural_increase", 2021, -700.0, Status::Provisional),
        ],
    );
    let (r, events) = run(&mut s, &mixed);
    let receipt = r.unwrap();
    assert_eq!((receipt.recorded, receipt.unchanged), (1, 1));
    assert_eq!(events.len(), 2, "the observation and the summary");
    assert!(matches!(
        events[1].payload,
        Payload::SubmissionSummary {
            observations: 2,
            unchanged: 1,
            ..
        }
    ));
    assert_eq!(receipt.last_sequence, events[1].sequence);
    log.extend(events);
    // After a restart, a retry is a duplicate with the original receipt; the same id
    // with other content is refused.
    let mut s = rebuilt(&{
        let mut all = Vec::new();
        let mut boot = WriterState::default();
        all.extend(boot.bootstrap(&Catalog::bundled(), NOW));
        all.extend(log.clone());
        all
    });
    let (r, events) = run(&mut s, &mixed);
    let dup = r.unwrap();
    assert!(events.is_empty());
    assert!(dup.duplicate);
    assert_eq!(
        (dup.receipt_hash, dup.region_revision),
        (receipt.receipt_hash, receipt.region_revision)
    );
    assert_eq!(
        (
            dup.first_sequence,
            dup.last_sequence,
            dup.recorded,
            dup.unchanged
        ),
        (receipt.first_sequence, receipt.last_sequence, 1, 1)
    );
    let other = submit("b", vec![obs("population", 2021, 2.0, Status::Final)]);
    assert!(matches!(
        run(&mut s, &other).0,
        Err(WriteError::AlreadyExists(_))
    ));
}

#[test]
fn a_duplicate_says_which_values_were_retracted_since() {
    let mut s = state();
    let file = submit(
        "a",
        vec![
            obs("population", 2021, 1.0, Status::Final),
            obs("natural_increase", 2021, -700.0, Status::Provisional),
        ],
    );
    run(&mut s, &file).0.unwrap();
    let retract = WriteRequest::Retract(RetractInput {
        submission_id: "r".into(),
        region_code: "MK19".into(),
        indicator_id: "natural_increase".into(),
        year: 2021,
        reason: "wrong year".into(),
        expected_region_revision: None,
        borders: None,
    });
    run(&mut s, &retract).0.unwrap();
    let dup = run(&mut s, &file).0.unwrap();
    assert!(dup.duplicate);
    assert_eq!(
        dup.retracted_since,
        vec![("natural_increase".to_owned(), 2021)]
    );
    assert!(dup.revised_since.is_empty());
}

#[test]
fn validate_only_runs_every_check_and_appends_nothing() {
    let mut s = state();
    let head = s.last_sequence();
    let mut req = SubmitInput {
        submission_id: "v".into(),
        region_code: "19".into(),
        expected_region_revision: None,
        observations: vec![obs("population", 2021, 1.0, Status::Final)],
        validate_only: true,
    };
    let (r, events) = run(&mut s, &WriteRequest::Submit(req.clone()));
    let r = r.unwrap();
    assert!(events.is_empty() && r.validated_only);
    assert_eq!((r.recorded, r.unchanged, r.receipt_hash), (1, 0, None));
    assert_eq!(s.last_sequence(), head);
    // The id stays free: the real submission is accepted.
    req.validate_only = false;
    assert_eq!(run(&mut s, &WriteRequest::Submit(req.clone())).1.len(), 1);
    // Refusals are the same as for a real submission.
    req.validate_only = true;
    req.submission_id = "w".into();
    req.observations[0].year = 2031;
    assert!(matches!(
        run(&mut s, &WriteRequest::Submit(req)).0,
        Err(WriteError::Invalid(_))
    ));
}

#[test]
fn a_definition_without_an_id_is_recorded_and_counted_as_accepted() {
    let mut s = state();
    let mut ind = Catalog::bundled().indicators["population"].clone();
    ind.id = "population_projection".into();
    let req = WriteRequest::DefineIndicator {
        submission_id: String::new(),
        indicator: ind,
    };
    let (r, events) = run(&mut s, &req);
    assert_eq!(events.len(), 1);
    let r = r.unwrap();
    assert_eq!((r.recorded, r.first_sequence), (1, events[0].sequence));
    assert_eq!(outcome(&Ok(r)), "accepted");
}

#[test]
fn the_record_time_decides_what_is_a_future_year() {
    let mut s = state();
    let req = submit("f", vec![obs("population", 2027, 1.0, Status::Final)]);
    let Err(WriteError::Invalid(v)) = run(&mut s, &req).0 else {
        panic!("2027 is after 2026")
    };
    assert!(
        v[0].description.contains("after the current year 2026"),
        "{v:?}"
    );
    // A year later the same request is fine.
    let mut out = Vec::new();
    let later = NOW + 366 * 24 * 3600 * 1_000_000;
    assert!(s
        .prepare(req, &Principal::system("t"), later, &mut out)
        .is_ok());
}
