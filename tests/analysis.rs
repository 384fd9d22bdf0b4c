//! What the network uses the picture for, over gRPC against the demo data: targets (who
//! sets them, how they are judged, as of any point), disparities, similar areas and
//! forerunners (checked against figures recomputed here from the pictures), and the
//! requests they refuse.

mod common;

use std::collections::BTreeMap;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::catalog_service_client::CatalogServiceClient;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tonic::transport::Channel;
use tonic::Code;

/// The regions of today's borders.
const REGIONS: [&str; 19] = [
    "MK01", "MK02", "MK04", "MK05", "MK06", "MK07", "MK08", "MK09", "MK10", "MK11", "MK12", "MK13",
    "MK14", "MK15", "MK16", "MK17", "MK18", "MK19", "MK21",
];

/// Each region's figure of every indicator in `year` (latest borders), from its picture.
async fn region_values(ch: &Channel, year: i32) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for r in REGIONS {
        let p = PictureServiceClient::new(ch.clone())
            .get_region_picture(proto::GetRegionPictureRequest {
                region_code: r.into(),
                year,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.insert(
            r.to_owned(),
            p.cells
                .iter()
                .map(|c| (c.indicator_id.clone(), c.value))
                .collect(),
        );
    }
    out
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: {a} != {b}"
    );
}

fn value(m: &Option<proto::Measure>) -> Option<f64> {
    m.as_ref().and_then(|m| m.value)
}

fn why_not(m: &Option<proto::Measure>) -> String {
    m.as_ref().map(|m| m.why_not.clone()).unwrap_or_default()
}

fn target(area: &str, indicator: &str, year: i32, v: f64, source: &str) -> proto::Target {
    proto::Target {
        area_code: area.into(),
        indicator_id: indicator.into(),
        year,
        value: v,
        source: source.into(),
        note: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_are_set_by_those_they_belong_to_and_judged_by_the_stated_rule() {
    let (ministry, e1) = new_token("ministry", "admin", &[]);
    let (kainuu, e2) = new_token("kainuu-council", "reporter", &["MK18"]);
    let (reader, e3) = new_token("evaluator", "reader", &[]);
    let s = InProc::start_full(true, None, Some(&[e1, e2, e3].join("\n\n"))).await;
    let ch = s.channel().await;
    let mut catalog = CatalogServiceClient::new(ch.clone());
    let mut picture = PictureServiceClient::new(ch.clone());
    let targets = |area: &str, seq: Option<u64>| proto::GetTargetsRequest {
        area_code: area.into(),
        as_of: as_of_sequence(seq),
        ..Default::default()
    };
    let set = |t: proto::Target, id: &str| proto::SetTargetRequest {
        submission_id: id.into(),
        target: Some(t),
    };

    // The bundled national targets, with their sources; the employment rate's latest
    // figure is the national value of its picture, and with no figure five years before
    // it the status is unknown, saying why.
    let national = picture
        .get_targets(with_token(targets("SSS", None), &reader))
        .await
        .unwrap()
        .into_inner();
    let by: BTreeMap<_, _> = national
        .targets
        .iter()
        .map(|p| (p.target.as_ref().unwrap().indicator_id.clone(), p))
        .collect();
    let employment = by["employment_rate_15_64"];
    let t = employment.target.as_ref().unwrap();
    assert_eq!((t.year, t.value), (2023, 75.0));
    assert!(t.source.contains("Government Programme"), "{}", t.source);
    assert!(by["rd_share_of_gdp"]
        .target
        .as_ref()
        .unwrap()
        .source
        .contains("1202/2022"));
    let year = employment.latest_year.unwrap();
    let np = picture
        .get_national_picture(with_token(
            proto::GetNationalPictureRequest {
                year,
                ..Default::default()
            },
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    let nv = np
        .indicators
        .iter()
        .find(|i| i.indicator_id == "employment_rate_15_64")
        .unwrap()
        .value
        .unwrap();
    close(
        employment.latest_value.unwrap(),
        nv,
        "latest national value",
    );
    close(employment.gap.unwrap(), 75.0 - nv, "gap");
    // The national picture carries the national targets as GetTargets gives them.
    assert_eq!(np.targets.len(), national.targets.len());
    assert!(np.targets.iter().any(|p| p.status == employment.status
        && p.target.as_ref().unwrap().indicator_id == "employment_rate_15_64"));
    close(
        value(&employment.needed_pace).unwrap(),
        (75.0 - nv) / f64::from(2023 - year),
        "pace needed",
    );
    assert_eq!(employment.status, "unknown");
    assert!(why_not(&employment.recent_pace).contains(&(year - 5).to_string()));
    assert!(
        employment.reason.contains(&(year - 5).to_string()),
        "{}",
        employment.reason
    );

    // Who may set what: nothing recorded by a refusal.
    let head_now = || async {
        PictureServiceClient::new(ch.clone())
            .get_targets(with_token(proto::GetTargetsRequest::default(), &reader))
            .await
            .unwrap()
            .into_inner()
            .as_of_sequence
    };
    let head = head_now().await;
    let refused = [
        (
            target("MK01", "registered_unemployment_rate", 2030, 8.0, "s"),
            &kainuu,
            Code::PermissionDenied,
        ),
        (
            target("SSS", "registered_unemployment_rate", 2030, 8.0, "s"),
            &kainuu,
            Code::PermissionDenied,
        ),
        (
            target("MK18", "registered_unemployment_rate", 2030, 8.0, "s"),
            &reader,
            Code::PermissionDenied,
        ),
        (
            target("MK18", "population", 2030, 70_000.0, "s"),
            &kainuu,
            Code::InvalidArgument,
        ),
        (
            target("MK18", "registered_unemployment_rate", 2030, 150.0, "s"),
            &kainuu,
            Code::InvalidArgument,
        ),
        (
            target("MK18", "registered_unemployment_rate", 2030, 8.0, " "),
            &kainuu,
            Code::InvalidArgument,
        ),
        (
            target("MK99", "registered_unemployment_rate", 2030, 8.0, "s"),
            &ministry,
            Code::InvalidArgument,
        ),
        (
            target("SSS", "no_such_indicator", 2030, 8.0, "s"),
            &ministry,
            Code::InvalidArgument,
        ),
    ];
    for (i, (t, who, code)) in refused.into_iter().enumerate() {
        let err = catalog
            .set_target(with_token(set(t.clone(), &format!("bad-{i}")), who))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{t:?}: {err:?}");
        assert!(!err.message().is_empty());
    }
    assert_eq!(head_now().await, head, "a refused target records nothing");

    // The council sets its own region's target; as of the sequence before, there is none.
    let goal = target(
        "MK18",
        "registered_unemployment_rate",
        2030,
        8.0,
        "Kainuu regional programme 2022-2025 (test)",
    );
    let r = catalog
        .set_target(with_token(set(goal.clone(), "kainuu-goal"), &kainuu))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.duplicate && !r.unchanged);
    let before = picture
        .get_targets(with_token(targets("MK18", Some(r.sequence - 1)), &reader))
        .await
        .unwrap()
        .into_inner();
    assert!(before.targets.is_empty());
    let again = catalog
        .set_target(with_token(set(goal.clone(), "kainuu-goal-2"), &kainuu))
        .await
        .unwrap()
        .into_inner();
    assert!(again.unchanged, "the same target again records nothing");

    // Judged from the region's series on the same borders, by the rule.
    let p = picture
        .get_targets(with_token(targets("MK18", None), &reader))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.targets.len(), 1);
    let p = &p.targets[0];
    let series = picture
        .get_series(with_token(
            proto::GetSeriesRequest {
                region_code: "MK18".into(),
                indicator_id: "registered_unemployment_rate".into(),
                ..Default::default()
            },
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    let by_year: BTreeMap<i32, f64> = series.points.iter().map(|x| (x.year, x.value)).collect();
    let (&last_year, &last) = by_year.iter().next_back().unwrap();
    assert_eq!(p.latest_year, Some(last_year));
    close(p.latest_value.unwrap(), last, "latest");
    let needed = (8.0 - last) / f64::from(2030 - last_year);
    let recent = (last - by_year[&(last_year - 5)]) / 5.0;
    close(value(&p.needed_pace).unwrap(), needed, "needed pace");
    close(value(&p.recent_pace).unwrap(), recent, "recent pace");
    // Lower is better: on track when falling at least as fast as needed.
    let expected = if last <= 8.0 {
        "reached"
    } else if recent <= needed {
        "on_track"
    } else {
        "off_track"
    };
    assert_eq!(p.status, expected, "{}", p.reason);
    // The region's picture carries its target.
    let rp = picture
        .get_region_picture(with_token(
            proto::GetRegionPictureRequest {
                region_code: "MK18".into(),
                year: last_year,
                ..Default::default()
            },
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rp.targets.len(), 1);
    assert_eq!(rp.targets[0].status, p.status);

    // A restated target holds from its event on; the earlier one as of before it.
    let restated = catalog
        .set_target(with_token(
            set(
                proto::Target {
                    value: 10.0,
                    ..goal
                },
                "kainuu-goal-3",
            ),
            &ministry,
        ))
        .await
        .unwrap()
        .into_inner();
    let now = picture
        .get_targets(with_token(targets("MK18", None), &reader))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.targets[0].target.as_ref().unwrap().value, 10.0);
    let then = picture
        .get_targets(with_token(
            targets("MK18", Some(restated.sequence - 1)),
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.targets[0].target.as_ref().unwrap().value, 8.0);
    // The target's event is in the log, as a client reads it.
    let mut events = picture
        .read_events(with_token(
            proto::ReadEventsRequest {
                from_sequence: restated.sequence,
                follow: false,
            },
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    let event = events.message().await.unwrap().unwrap().event.unwrap();
    assert!(matches!(
        event.payload,
        Some(proto::event::Payload::TargetSet(ref t)) if t.value == 10.0 && t.area_code == "MK18"
    ));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disparities_similar_areas_and_forerunners_match_the_pictures() {
    let s = InProc::start(true).await;
    let ch = s.channel().await;
    let mut picture = PictureServiceClient::new(ch.clone());
    let disparities = |ind: &str, from: i32, to: i32| proto::GetDisparitiesRequest {
        indicator_id: ind.into(),
        from_year: from,
        to_year: to,
        ..Default::default()
    };

    // Disparities of a rate, recomputed here from the regions' pictures.
    let d = picture
        .get_disparities(disparities("offences_per_1000", 2010, 2020))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.years.len(), 11);
    let values = region_values(&ch, 2015).await;
    let ys: Vec<f64> = values.values().map(|v| v["offences_per_1000"]).collect();
    let pops: Vec<f64> = values.values().map(|v| v["population"]).collect();
    let n = ys.len() as f64;
    let mean = ys.iter().sum::<f64>() / n;
    let sd = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut pairs = 0.0;
    for a in &ys {
        for b in &ys {
            pairs += (a - b).abs();
        }
    }
    let p: f64 = pops.iter().sum();
    let wmean: f64 = ys.iter().zip(&pops).map(|(y, w)| y * w / p).sum();
    let wsd = ys
        .iter()
        .zip(&pops)
        .map(|(y, w)| w / p * (y - wmean).powi(2))
        .sum::<f64>()
        .sqrt();
    let y2015 = d.years.iter().find(|y| y.year == 2015).unwrap();
    assert_eq!((y2015.areas, y2015.areas_expected), (19, 19));
    close(value(&y2015.cv).unwrap(), sd / mean, "CV");
    close(
        value(&y2015.gini).unwrap(),
        pairs / (2.0 * n * n * mean),
        "Gini",
    );
    close(value(&y2015.cv_weighted).unwrap(), wsd / wmean, "CVw");
    let (lo, hi) = ys
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), y| (l.min(*y), h.max(*y)));
    close(value(&y2015.range).unwrap(), hi - lo, "range");
    close(value(&y2015.max_min_ratio).unwrap(), hi / lo, "max/min");
    assert!(value(&d.sigma_slope).is_some() && d.beta_areas == 19);

    // A sum's spread is not a disparity: every measure says why, none is 0.
    let sum = picture
        .get_disparities(disparities("population", 2015, 0))
        .await
        .unwrap()
        .into_inner();
    let y = &sum.years[0];
    assert_eq!(y.areas, 19);
    for m in [
        &y.cv,
        &y.cv_weighted,
        &y.gini,
        &y.range,
        &y.top_bottom_ratio,
    ] {
        assert!(value(m).is_none() && why_not(m).contains("sum"), "{m:?}");
    }

    // As of any point: a corrected figure moves the range; as of before, the old one.
    let head = head_at(ch.clone()).await;
    let mut corrected = obs(
        "offences_per_1000",
        2015,
        hi + 100.0,
        proto::ObservationStatus::Final,
    );
    corrected.correction_reason = "test: a corrected figure".into();
    IngestServiceClient::new(ch.clone())
        .submit(submit_req("correct-offences", "MK01", vec![corrected]))
        .await
        .unwrap();
    let at = |seq: Option<u64>| proto::GetDisparitiesRequest {
        as_of: as_of_sequence(seq),
        ..disparities("offences_per_1000", 2015, 0)
    };
    let now = picture
        .get_disparities(at(None))
        .await
        .unwrap()
        .into_inner();
    let then = picture
        .get_disparities(at(Some(head)))
        .await
        .unwrap()
        .into_inner();
    close(
        value(&now.years[0].range).unwrap(),
        hi + 100.0 - lo,
        "range now",
    );
    close(
        value(&then.years[0].range).unwrap(),
        hi - lo,
        "range as of before",
    );
    assert_eq!(then.as_of_sequence, head);

    // Similar areas: the nearest one's distance recomputed from standardised values.
    let similar = picture
        .get_similar_areas(proto::GetSimilarAreasRequest {
            region_code: "MK02".into(),
            year: 2019,
            k: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(similar.similar.len(), 3);
    assert!(similar
        .similar
        .windows(2)
        .all(|w| w[0].distance <= w[1].distance));
    assert!(!similar.indicators.is_empty());
    let v2019 = region_values(&ch, 2019).await;
    // The default set: the directional rates and shares (no count, which would make areas
    // of one size alike) that at least two thirds of the regions reported.
    let catalog: BTreeMap<String, proto::Indicator> = CatalogServiceClient::new(ch.clone())
        .list_indicators(proto::ListIndicatorsRequest { theme: None })
        .await
        .unwrap()
        .into_inner()
        .indicators
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect();
    let default_set: Vec<&str> = catalog
        .values()
        .filter(|i| {
            i.direction() != proto::Direction::Neutral
                && matches!(
                    i.aggregation(),
                    proto::Aggregation::Ratio | proto::Aggregation::WeightedMean
                )
        })
        .filter(|i| {
            let reported = v2019.values().filter(|v| v.contains_key(&i.id)).count();
            reported * 3 >= v2019.len() * 2
        })
        .map(|i| i.id.as_str())
        .collect();
    let compared: Vec<&str> = similar
        .indicators
        .iter()
        .map(|i| i.indicator_id.as_str())
        .collect();
    assert_eq!(compared, default_set);
    let nearest = &similar.similar[0];
    let mut sum = 0.0;
    let mut used = 0;
    for i in &similar.indicators {
        let col: Vec<f64> = v2019
            .values()
            .filter_map(|v| v.get(&i.indicator_id).copied())
            .collect();
        let m = col.iter().sum::<f64>() / col.len() as f64;
        let sd = (col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / col.len() as f64).sqrt();
        if let (Some(a), Some(b)) = (
            v2019["MK02"].get(&i.indicator_id),
            v2019[&nearest.region_code].get(&i.indicator_id),
        ) {
            sum += ((a - b) / sd).powi(2);
            used += 1;
        }
    }
    assert_eq!(nearest.indicators_shared, used);
    close(nearest.distance, (sum / f64::from(used)).sqrt(), "distance");

    // Forerunners: ranked by improvement in the better direction; a break is left out.
    let f = picture
        .get_forerunners(proto::GetForerunnersRequest {
            indicator_id: "natural_increase".into(),
            from_year: 2008,
            to_year: 2019,
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.forerunners.len() as u32, f.areas_ranked);
    assert!(f.forerunners.iter().all(|r| r.improvement == r.change));
    assert!(f
        .forerunners
        .windows(2)
        .all(|w| w[0].improvement >= w[1].improvement));
    assert!(
        f.left_out
            .iter()
            .any(|l| l.region_code == "MK06" && l.reason.contains("series breaks")),
        "{:?}",
        f.left_out
    );
    assert_eq!(f.areas_ranked as usize + f.left_out.len(), 19);

    // Bad requests: refused with the field and why; the server keeps serving.
    let bad: Vec<(Result<(), tonic::Status>, &str)> = vec![
        (
            picture
                .get_disparities(disparities("no_such", 2015, 0))
                .await
                .map(drop),
            "indicator_id",
        ),
        (
            picture
                .get_disparities(proto::GetDisparitiesRequest {
                    level: "province".into(),
                    ..disparities("offences_per_1000", 2015, 0)
                })
                .await
                .map(drop),
            "level",
        ),
        (
            picture
                .get_disparities(disparities("offences_per_1000", 2040, 2041))
                .await
                .map(drop),
            "from_year",
        ),
        (
            picture
                .get_similar_areas(proto::GetSimilarAreasRequest {
                    region_code: "MK99".into(),
                    year: 2019,
                    ..Default::default()
                })
                .await
                .map(drop),
            "region_code",
        ),
        (
            picture
                .get_similar_areas(proto::GetSimilarAreasRequest {
                    region_code: "MK02".into(),
                    year: 2019,
                    k: 51,
                    ..Default::default()
                })
                .await
                .map(drop),
            "k",
        ),
        (
            picture
                .get_similar_areas(proto::GetSimilarAreasRequest {
                    region_code: "MK02".into(),
                    year: 1950,
                    ..Default::default()
                })
                .await
                .map(drop),
            "indicators",
        ),
        (
            picture
                .get_similar_areas(proto::GetSimilarAreasRequest {
                    region_code: "MK02".into(),
                    year: 2019,
                    indicators: vec![proto::SimilarityIndicator {
                        indicator_id: "offences_per_1000".into(),
                        weight: -1.0,
                    }],
                    ..Default::default()
                })
                .await
                .map(drop),
            "indicators",
        ),
        (
            picture
                .get_forerunners(proto::GetForerunnersRequest {
                    indicator_id: "population".into(),
                    from_year: 2010,
                    to_year: 2015,
                    ..Default::default()
                })
                .await
                .map(drop),
            "indicator_id",
        ),
        (
            picture
                .get_forerunners(proto::GetForerunnersRequest {
                    indicator_id: "offences_per_1000".into(),
                    from_year: 2015,
                    to_year: 2015,
                    ..Default::default()
                })
                .await
                .map(drop),
            "to_year",
        ),
        (
            picture
                .get_forerunners(proto::GetForerunnersRequest {
                    indicator_id: "offences_per_1000".into(),
                    from_year: 1950,
                    to_year: 1951,
                    ..Default::default()
                })
                .await
                .map(drop),
            "from_year",
        ),
    ];
    for (i, (r, field)) in bad.into_iter().enumerate() {
        let err = r.expect_err(&format!("bad request {i} refused"));
        assert_eq!(err.code(), Code::InvalidArgument, "{i}: {err:?}");
        let v = violations(&err);
        assert!(v.iter().any(|(f, _)| f == field), "{i}: {v:?}");
    }
    assert!(picture
        .get_disparities(disparities("offences_per_1000", 2015, 0))
        .await
        .is_ok());
    s.stop().await;
}
