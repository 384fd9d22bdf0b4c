//! IngestService and CatalogService through the generated client, against a real server
//! on ephemeral ports (the API semantics of docs/architecture.md).

mod common;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::ObservationStatus::{Final, Provisional};
use tonic::Code;

async fn head(s: &InProc) -> u64 {
    head_sequence(s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_is_atomic_idempotent_and_ordered() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let start = head(&s).await;
    assert!(start > 0, "the catalog is in the log");

    let req = submit_req(
        "s-1",
        "MK02",
        vec![
            obs("population", 2020, 480_000.0, Provisional),
            obs("unemployed_persons", 2020, 20_000.0, Final),
        ],
    );
    let r = ing.submit(req.clone()).await.unwrap().into_inner();
    assert_eq!((r.first_sequence, r.last_sequence), (start + 1, start + 2));
    assert_eq!(r.region_revision, 2);
    assert!(!r.duplicate);
    assert_eq!(r.receipt_hash.len(), 64);

    // Same id, same content: the original receipt, nothing appended.
    let again = ing.submit(req.clone()).await.unwrap().into_inner();
    assert!(again.duplicate);
    assert_eq!(
        (
            again.first_sequence,
            again.last_sequence,
            again.region_revision
        ),
        (r.first_sequence, r.last_sequence, r.region_revision)
    );
    assert_eq!(again.receipt_hash, r.receipt_hash);
    // Statistics Finland's code is the same region: still the same content.
    let mut numeric = req.clone();
    numeric.region_code = "02".into();
    assert!(ing.submit(numeric).await.unwrap().into_inner().duplicate);
    assert_eq!(head(&s).await, start + 2);

    // Same id, other content.
    let mut other = req.clone();
    other.observations[0].value = 1.0;
    let err = ing.submit(other).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // One bad observation: nothing of the batch is appended.
    let bad = submit_req(
        "s-2",
        "MK02",
        vec![
            obs("population", 2021, 481_000.0, Provisional),
            obs("population", 2022, f64::NAN, Provisional),
        ],
    );
    let err = ing.submit(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&err),
        vec![(
            "observations[1].value".to_string(),
            "NaN is not a finite number".to_string()
        )]
    );
    assert_eq!(head(&s).await, start + 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_every_field() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let before = head(&s).await;
    let mut no_status = obs("population", 2020, 1.0, Provisional);
    no_status.status = proto::ObservationStatus::Unspecified as i32;
    let mut long_source = obs("population", 2019, 1.0, Provisional);
    long_source.source = "x".repeat(5000);
    let err = ing
        .submit(submit_req(
            "",
            "MK02",
            vec![
                obs("no_such", 2020, 1.0, Provisional),
                obs("population", 1800, 1.0, Provisional),
                obs("population", 2021, f64::INFINITY, Provisional),
                obs("population", 2022, -1.0, Provisional),
                no_status,
                long_source,
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&err).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "submission_id",
            "observations[0].indicator_id",
            "observations[1].year",
            "observations[2].value",
            "observations[3].value",
            "observations[4].status",
            "observations[5].source"
        ]
    );
    let err = ing
        .submit(submit_req(
            "x",
            "MK20",
            vec![obs("population", 2020, 1.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "region_code");
    let err = ing
        .submit(submit_req("y", "MK01", vec![]))
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "observations");
    let err = ing
        .submit(submit_req(
            &"z".repeat(129),
            "MK01",
            vec![obs("population", 2020, 1.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "submission_id");
    assert_eq!(head(&s).await, before, "nothing appended");
    // The server keeps serving: a normal client succeeds right after.
    ing.submit(submit_req(
        "ok",
        "MK01",
        vec![obs("population", 2020, 1.0, Final)],
    ))
    .await
    .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_need_expected_revision_and_correction_reasons() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let first = ing
        .submit(submit_req(
            "a",
            "MK05",
            vec![obs("population", 2020, 170_000.0, Final)],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.region_revision, 1);

    let mut wrong = submit_req("b", "MK05", vec![obs("population", 2021, 1.0, Provisional)]);
    wrong.expected_region_revision = Some(0);
    let err = ing.submit(wrong).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("revision 1"), "{}", err.message());

    // Revising a final value without a reason is refused...
    let err = ing
        .submit(submit_req(
            "c",
            "MK05",
            vec![obs("population", 2020, 171_000.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "observations[0].correction_reason");
    // ...and accepted with one, at the expected revision.
    let mut fix = obs("population", 2020, 171_000.0, Final);
    fix.correction_reason = "boundary change".into();
    let mut req = submit_req("d", "MK05", vec![fix]);
    req.expected_region_revision = Some(1);
    let r = ing.submit(req).await.unwrap().into_inner();
    assert_eq!(r.region_revision, 2);

    // A provisional value may be revised without a reason.
    ing.submit(submit_req(
        "e",
        "MK05",
        vec![obs("natural_increase", 2020, -600.0, Provisional)],
    ))
    .await
    .unwrap();
    ing.submit(submit_req(
        "f",
        "MK05",
        vec![obs("natural_increase", 2020, -620.0, Final)],
    ))
    .await
    .unwrap();

    let mut pic = s.picture().await;
    let hist = pic
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "MK05".into(),
            indicator_id: "population".into(),
            year: 2020,
            as_of: None,
            min_sequence: r.last_sequence,
        })
        .await
        .unwrap()
        .into_inner();
    let values: Vec<f64> = hist.revisions.iter().map(|r| r.value).collect();
    assert_eq!(values, [170_000.0, 171_000.0]);
    assert_eq!(hist.revisions[1].correction_reason, "boundary change");
    assert_eq!(hist.revisions[1].principal, "anonymous");
    assert_eq!(hist.revisions[1].submission_id, "d");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retract_removes_from_picture_but_not_history() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    ing.submit(submit_req(
        "a",
        "MK06",
        vec![obs("population", 2020, 520_000.0, Final)],
    ))
    .await
    .unwrap();
    let retract = proto::RetractRequest {
        borders: Default::default(),
        submission_id: "r1".into(),
        region_code: "06".into(),
        indicator_id: "population".into(),
        year: 2020,
        reason: String::new(),
        expected_region_revision: None,
    };
    let err = ing.retract(retract.clone()).await.unwrap_err();
    assert_eq!(violations(&err)[0].0, "reason");
    let r = ing
        .retract(proto::RetractRequest {
            borders: Default::default(),
            reason: "double count".into(),
            ..retract.clone()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.region_revision, 2);
    assert!(!r.duplicate);
    let again = ing
        .retract(proto::RetractRequest {
            borders: Default::default(),
            reason: "double count".into(),
            ..retract.clone()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.sequence, r.sequence);
    // Nothing left to retract.
    let err = ing
        .retract(proto::RetractRequest {
            borders: Default::default(),
            submission_id: "r2".into(),
            reason: "again".into(),
            ..retract
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let mut pic = s.picture().await;
    let p = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "MK06".into(),
            year: 2020,
            as_of: None,
            min_sequence: r.sequence,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(p.cells.is_empty());
    let before = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "MK06".into(),
            year: 2020,
            as_of: Some(proto::AsOf {
                point: Some(proto::as_of::Point::Sequence(r.sequence - 1)),
            }),
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.cells.len(), 1);
    let hist = pic
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "MK06".into(),
            indicator_id: "population".into(),
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hist.revisions.len(), 2);
    assert!(hist.revisions[1].retracted);
    assert_eq!(hist.revisions[1].retraction_reason, "double count");
    // After a retraction the cell may be reported again without a correction reason.
    ing.submit(submit_req(
        "b",
        "MK06",
        vec![obs("population", 2020, 519_000.0, Final)],
    ))
    .await
    .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_stream_answers_in_order_and_stops_at_a_refusal() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let reqs: Vec<proto::SubmitRequest> = (0..50)
        .map(|i| {
            submit_req(
                &format!("st-{i}"),
                "MK07",
                // 50 distinct cells of past years (future years are refused).
                vec![obs(
                    ["population", "population_25_64"][(i / 25) as usize],
                    1990 + i % 25,
                    200_000.0 + f64::from(i),
                    Final,
                )],
            )
        })
        .collect();
    let mut out = ing
        .submit_stream(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    let mut last = 0;
    let mut n = 0;
    while let Some(r) = out.message().await.unwrap() {
        assert_eq!(r.last_sequence, r.first_sequence);
        assert!(r.first_sequence > last, "responses in request order");
        last = r.first_sequence;
        n += 1;
        assert_eq!(r.region_revision, n);
    }
    assert_eq!(n, 50);

    let mixed = vec![
        submit_req(
            "m-1",
            "MK07",
            vec![obs("natural_increase", 2020, -800.0, Provisional)],
        ),
        submit_req("m-2", "MK07", vec![obs("no_such", 2020, 1.0, Provisional)]),
        submit_req(
            "m-3",
            "MK07",
            vec![obs("natural_increase", 2021, -700.0, Provisional)],
        ),
    ];
    let mut out = ing
        .submit_stream(tokio_stream::iter(mixed))
        .await
        .unwrap()
        .into_inner();
    assert!(out.message().await.unwrap().is_some());
    let err = out.message().await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_lists_and_defines() {
    let s = InProc::start(false).await;
    let mut cat = s.catalog().await;
    let regions = cat
        .list_regions(proto::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    // The 19 regions of today, Itä-Uusimaa (until 2010) and SSS.
    assert_eq!(regions.len(), 21);
    let uusimaa = regions.iter().find(|r| r.code == "MK01").unwrap();
    assert_eq!(
        (
            uusimaa.name_sv.as_str(),
            uusimaa.nuts3.as_str(),
            uusimaa.statfin_code.as_str()
        ),
        ("Nyland", "FI1B1", "01")
    );
    let all = cat
        .list_indicators(proto::ListIndicatorsRequest { theme: None })
        .await
        .unwrap()
        .into_inner()
        .indicators;
    assert!(all.len() >= 30);
    let climate = cat
        .list_indicators(proto::ListIndicatorsRequest {
            theme: Some("climate".into()),
        })
        .await
        .unwrap()
        .into_inner()
        .indicators;
    assert!(!climate.is_empty() && climate.iter().all(|i| i.theme == "climate"));
    let rate = all
        .iter()
        .find(|i| i.id == "unemployment_rate_15_64")
        .unwrap();
    assert_eq!(rate.aggregation, proto::Aggregation::Ratio as i32);
    assert_eq!(
        (
            rate.numerator_indicator.as_str(),
            rate.denominator_indicator.as_str(),
            rate.scale
        ),
        ("unemployed_15_64", "labour_force_15_64", 100.0)
    );
    let err = cat
        .list_indicators(proto::ListIndicatorsRequest {
            theme: Some("weather".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let def = proto::Indicator {
        id: "cycle_paths_km".into(),
        name_fi: "Pyöräteiden pituus".into(),
        name_en: "Cycle path length".into(),
        theme: "climate".into(),
        unit: "km".into(),
        decimals: 0,
        direction: proto::Direction::HigherIsBetter as i32,
        min_value: Some(0.0),
        max_value: Some(100_000.0),
        aggregation: proto::Aggregation::Sum as i32,
        ..Default::default()
    };
    let r = cat
        .define_indicator(proto::DefineIndicatorRequest {
            indicator: Some(def.clone()),
            submission_id: "def-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.duplicate);
    let dup = cat
        .define_indicator(proto::DefineIndicatorRequest {
            indicator: Some(def.clone()),
            submission_id: "def-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(dup.duplicate);
    let bad_ratio = proto::Indicator {
        id: "bad_ratio".into(),
        aggregation: proto::Aggregation::Ratio as i32,
        numerator_indicator: "cycle_paths_km".into(),
        denominator_indicator: "no_such".into(),
        scale: 1.0,
        ..def.clone()
    };
    let err = cat
        .define_indicator(proto::DefineIndicatorRequest {
            indicator: Some(bad_ratio),
            submission_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // The new indicator is usable at once.
    let mut ing = s.ingest().await;
    ing.submit(submit_req(
        "cp",
        "MK01",
        vec![obs("cycle_paths_km", 2020, 1500.0, Final)],
    ))
    .await
    .unwrap();
    let listed = cat
        .list_indicators(proto::ListIndicatorsRequest {
            theme: Some("climate".into()),
        })
        .await
        .unwrap()
        .into_inner()
        .indicators;
    assert!(listed.iter().any(|i| i.id == "cycle_paths_km"));
    // The catalog as of before the definition does not have it.
    let mut pic = s.picture().await;
    let before = pic
        .get_series(proto::GetSeriesRequest {
            borders: Default::default(),
            region_code: "MK01".into(),
            indicator_id: "cycle_paths_km".into(),
            from_year: 2020,
            to_year: 2020,
            as_of: Some(proto::AsOf {
                point: Some(proto::as_of::Point::Sequence(r.sequence - 1)),
            }),
            min_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_share_commits_and_are_all_acknowledged() {
    let s = InProc::start(false).await;
    let ch = s.channel().await;
    let start = head(&s).await;
    let mut tasks = Vec::new();
    for c in 0..32 {
        let mut ing =
            tilannekuva::proto::ingest_service_client::IngestServiceClient::new(ch.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..20 {
                let r = ing
                    .submit(submit_req(
                        &format!("c{c}-{i}"),
                        "MK08",
                        vec![obs("population", 1990 + i, f64::from(c), Provisional)],
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                seqs.push(r.first_sequence);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let expected: Vec<u64> = (start + 1..=start + 640).collect();
    assert_eq!(all, expected, "gap-free, each once");
    let (_, body) = http_get(s.http, "/metrics").await;
    let line = body
        .lines()
        .find(|l| l.starts_with("tilannekuva_commit_group_events_count"))
        .unwrap();
    let groups: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        groups < 641.0,
        "{groups} commits for 640 submissions plus the catalog"
    );
    s.stop().await;
}

/// Sending the updated file again: values equal to their cell's current value and status
/// are not revisions (no correction reason, nothing appended) and the receipt counts them;
/// a retry of a file whose values were retracted since says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmission_is_idempotent_by_content() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let file = |id: &str, natural_increase: f64| {
        submit_req(
            id,
            "MK19",
            vec![
                obs("population", 2021, 177_161.0, Final),
                obs("natural_increase", 2021, natural_increase, Provisional),
            ],
        )
    };
    let first = ing.submit(file("v1", -700.0)).await.unwrap().into_inner();
    assert_eq!((first.recorded, first.unchanged), (2, 0));
    // The file again, updated: the final population is unchanged (no reason needed).
    let start = head(&s).await;
    let second = ing.submit(file("v2", -736.0)).await.unwrap().into_inner();
    assert_eq!(
        (second.recorded, second.unchanged, second.duplicate),
        (1, 1, false)
    );
    assert_eq!(second.first_sequence, start + 1);
    // One observation event and the summary that keeps the receipt.
    assert_eq!(second.last_sequence, start + 2);
    let pic = s
        .picture()
        .await
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "MK19".into(),
            indicator_id: "population".into(),
            year: 2021,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pic.revisions.len(), 1, "the unchanged value is no revision");
    // Everything unchanged: nothing appended, the id not spent.
    let third = ing.submit(file("v3", -736.0)).await.unwrap().into_inner();
    assert_eq!((third.recorded, third.unchanged), (0, 2));
    assert_eq!((third.first_sequence, third.last_sequence), (0, start + 2));
    assert_eq!(head(&s).await, start + 2);
    // A retry of v2 is a duplicate with the same receipt.
    let again = ing.submit(file("v2", -736.0)).await.unwrap().into_inner();
    assert!(again.duplicate);
    assert_eq!(
        (
            again.first_sequence,
            again.last_sequence,
            again.recorded,
            again.unchanged
        ),
        (second.first_sequence, second.last_sequence, 1, 1)
    );
    // Retract one of its values: a retry says so instead of a bare duplicate.
    ing.retract(proto::RetractRequest {
        borders: Default::default(),
        submission_id: "r1".into(),
        region_code: "MK19".into(),
        indicator_id: "natural_increase".into(),
        year: 2021,
        reason: "entered for the wrong year".into(),
        expected_region_revision: None,
    })
    .await
    .unwrap();
    let after = ing.submit(file("v2", -736.0)).await.unwrap().into_inner();
    assert!(after.duplicate);
    let retracted: Vec<(String, i32)> = after
        .retracted_since
        .iter()
        .map(|c| (c.indicator_id.clone(), c.year))
        .collect();
    assert_eq!(retracted, vec![("natural_increase".to_owned(), 2021)]);
    // Submitted again under a new id, the retracted value is recorded again.
    let back = ing.submit(file("v4", -736.0)).await.unwrap().into_inner();
    assert_eq!((back.recorded, back.unchanged), (1, 1));
    s.stop().await;
}

/// `validate_only` (AIP-163) runs every check and appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_only_checks_everything_and_writes_nothing() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let start = head(&s).await;
    let mut req = submit_req(
        "dry",
        "MK18",
        vec![obs("population", 2021, 71_664.0, Final)],
    );
    req.validate_only = true;
    let r = ing.submit(req.clone()).await.unwrap().into_inner();
    assert_eq!(
        (r.recorded, r.unchanged, r.first_sequence, r.last_sequence),
        (1, 0, 0, 0)
    );
    assert!(r.receipt_hash.is_empty());
    assert_eq!(head(&s).await, start);
    // Invalid content is refused as a real submission would be.
    let mut bad = req.clone();
    bad.observations[0].year = 2099;
    let err = ing.submit(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // The id is still free for the real submission.
    req.validate_only = false;
    let real = ing.submit(req).await.unwrap().into_inner();
    assert_eq!(real.first_sequence, start + 1);
    s.stop().await;
}

/// A value for a year after the current one (by the server's record time) is refused for
/// an observed indicator, and accepted for a forecast indicator defined as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_years_only_for_targets_and_forecasts() {
    use chrono::Datelike;
    let this_year = chrono::Utc::now().year();
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    for year in [this_year + 1, this_year + 5, 2099] {
        let err = ing
            .submit(submit_req(
                &format!("f{year}"),
                "MK01",
                vec![obs("population", year, 1.0, Final)],
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let v = violations(&err);
        assert_eq!(v[0].0, "observations[0].year");
        assert!(v[0].1.contains("after the current year"), "{v:?}");
    }
    ing.submit(submit_req(
        "now",
        "MK01",
        vec![obs("population", this_year, 1.0, Provisional)],
    ))
    .await
    .unwrap();
    let mut cat = s.catalog().await;
    let mut def = cat
        .list_indicators(proto::ListIndicatorsRequest {
            theme: Some("communities".into()),
        })
        .await
        .unwrap()
        .into_inner()
        .indicators
        .into_iter()
        .find(|i| i.id == "population")
        .unwrap();
    assert_eq!(def.kind, proto::IndicatorKind::Observed as i32);
    assert_eq!(def.max_year, 0, "no upper bound of its own");
    def.id = "population_projection".into();
    def.name_en = "Population projection".into();
    def.kind = proto::IndicatorKind::Forecast as i32;
    def.min_year = 2024;
    def.max_year = 2070;
    cat.define_indicator(proto::DefineIndicatorRequest {
        indicator: Some(def),
        submission_id: "define-projection".into(),
    })
    .await
    .unwrap();
    ing.submit(submit_req(
        "proj",
        "MK01",
        vec![obs("population_projection", 2040, 1_900_000.0, Provisional)],
    ))
    .await
    .unwrap();
    let err = ing
        .submit(submit_req(
            "proj-late",
            "MK01",
            vec![obs("population_projection", 2071, 1.0, Provisional)],
        ))
        .await
        .unwrap_err();
    assert!(violations(&err)[0].1.contains("after 2070"), "{err:?}");
    s.stop().await;
}

/// 10,000 invalid observations: the error carries the first violations in order and the
/// total, and its trailers stay under the 8 KiB that default clients accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_stay_small_enough_for_default_clients() {
    use tonic_types::StatusExt;
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let observations: Vec<proto::Observation> = (0..10_000)
        .map(|i| {
            // Long ids: the violations quote them (clipped).
            obs(
                &format!("no_such_indicator_{i}_{}", "ö".repeat(100)),
                2020,
                1.0,
                Final,
            )
        })
        .collect();
    let err = ing
        .submit(submit_req("many", "MK01", observations))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert!(!v.is_empty() && v.len() <= 20, "{} violations", v.len());
    for (i, (field, description)) in v.iter().enumerate() {
        assert_eq!(
            field,
            &format!("observations[{i}].indicator_id"),
            "in order"
        );
        assert!(description.contains(&format!("no_such_indicator_{i}_")));
    }
    let info = err.get_details_error_info().expect("an ErrorInfo detail");
    assert_eq!(info.metadata["violations_total"], "10000");
    assert_eq!(info.metadata["violations_shown"], v.len().to_string());
    assert!(
        err.message().contains("10000 problems"),
        "{}",
        err.message()
    );
    // What travels in the trailers: the details base64-encoded, the message
    // percent-encoded (at most 3 bytes per byte).
    let details = err.details().len().div_ceil(3) * 4;
    let message = err.message().len() * 3;
    assert!(details + message < 8 * 1024, "{details} + {message} bytes");
    // A hostile id is quoted back clipped, not whole.
    let err = ing
        .submit(submit_req(
            "long",
            &"X".repeat(1_000_000),
            vec![obs("population", 2020, 1.0, Final)],
        ))
        .await
        .unwrap_err();
    assert!(err.message().len() < 1000 && err.details().len() < 2000);
    s.stop().await;
}
