//! PictureService against the bundled real data: derived figures, as-of reads,
//! read-your-writes and the event stream.

mod common;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::ObservationStatus::{Final, Provisional};
use tonic::Code;

/// The published table: Statistics Finland, työssäkäynti 2017, Liitetaulukko 5. The
/// regions' end-2017 unemployed counts, submitted from the bundled data file region by
/// region, sum to the published national count exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_unemployed_counts_sum_to_the_published_national_count() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let text = std::fs::read_to_string(repo_file(
        "data/demo/080_long_term_unemployment_2017_release_2018-05-25.csv",
    ))
    .unwrap();
    let rows = tilannekuva::csvin::parse(&text).unwrap();
    let mut published = None;
    let mut last = 0;
    for (region, rows) in tilannekuva::csvin::group_by_region(rows, None, "--region", |a, b| a == b)
        .all()
        .unwrap()
    {
        let observations: Vec<proto::Observation> = rows
            .iter()
            .filter(|r| r.observation.indicator_id == "unemployed_persons")
            .map(|r| proto::Observation {
                borders: Default::default(),
                published: None,
                indicator_id: r.observation.indicator_id.clone(),
                year: r.observation.year,
                value: r.observation.value,
                status: Final as i32,
                source: r.observation.source.clone(),
                note: String::new(),
                correction_reason: String::new(),
            })
            .collect();
        if region == "SSS" {
            // Keep the published national figure aside; the regions alone must add up to it.
            published = Some(observations[0].value);
            continue;
        }
        last = ing
            .submit(submit_req(&format!("u-{region}"), &region, observations))
            .await
            .unwrap()
            .into_inner()
            .last_sequence;
    }
    let published = published.expect("the file has the national row");
    assert_eq!(published, 296_496.0);
    let mut pic = s.picture().await;
    let n = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: Default::default(),
            year: 2017,
            as_of: None,
            min_sequence: last,
        })
        .await
        .unwrap()
        .into_inner();
    let u = n
        .indicators
        .iter()
        .find(|i| i.indicator_id == "unemployed_persons")
        .unwrap();
    assert_eq!(u.regions_reported, 19);
    assert_eq!(u.regions_expected, 19);
    assert!(!u.official, "no SSS value submitted: computed by rule");
    assert_eq!(u.value, Some(published));
    // Now the official figure: it wins and says so.
    ing.submit(submit_req(
        "u-SSS",
        "SSS",
        vec![obs("unemployed_persons", 2017, published, Final)],
    ))
    .await
    .unwrap();
    let n = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: Default::default(),
            year: 2017,
            as_of: None,
            min_sequence: last + 1,
        })
        .await
        .unwrap()
        .into_inner();
    let u = n
        .indicators
        .iter()
        .find(|i| i.indicator_id == "unemployed_persons")
        .unwrap();
    assert!(u.official);
    assert_eq!(
        (u.value, u.computed_value),
        (Some(published), Some(published))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_region_picture_has_derived_figures() {
    let s = InProc::start(true).await;
    let mut pic = s.picture().await;
    let p = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            // The year's own borders (1.1.2020), on which its vital statistics were published.
            borders: "own".into(),
            region_code: "01".into(),
            year: 2019,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.region_code, "MK01");
    let cell = |id: &str| {
        p.cells
            .iter()
            .find(|c| c.indicator_id == id)
            .unwrap_or_else(|| panic!("{id} in the picture"))
    };
    // Vital statistics 2019: the derived final values revised the preliminary ones.
    let ni = cell("natural_increase");
    assert_eq!(ni.value, 3372.0);
    assert_eq!(ni.status, Final as i32);
    assert_eq!(ni.revisions, 2);
    assert_eq!(ni.national_value, Some(-8336.0));
    assert!(ni.national_official);
    // A sum: a region's count less the country's means nothing, and a net flow has no
    // share either.
    assert_eq!((ni.national_difference, ni.national_share), (None, None));
    assert_eq!((ni.rank, ni.regions_ranked), (1, 19));
    assert!(ni.source.contains("vamuu"), "{}", ni.source);
    // Unemployment rate 15-74: 2018 value is the previous year.
    let ur = cell("unemployment_rate_15_74");
    assert_eq!(ur.value, 6.4);
    assert_eq!(ur.previous_value, Some(6.9));
    assert!((ur.change.unwrap() - (6.4 - 6.9)).abs() < 1e-12);
    // Published on the 2021 borders: on those of 2020 only the regions whose land did not
    // change on 1.1.2021 have it (nine of the 18 in the table; Åland is not in it).
    assert_eq!(ur.regions_ranked, 9);
    // Net immigration is neutral: not ranked.
    assert_eq!(cell("net_immigration").rank, 0);
    // Themes: every theme listed. Communities has figures of 2019 only for counts, which
    // make no theme score (they mostly measure size); inclusion has rates, and says on how
    // many indicators its score rests.
    assert_eq!(p.themes.len(), 5);
    let comm = p.themes.iter().find(|t| t.theme == "communities").unwrap();
    assert!(comm.indicators_reported >= 3, "{comm:?}");
    assert!(!comm.scored && comm.indicators_scored == 0, "{comm:?}");
    let incl = p.themes.iter().find(|t| t.theme == "inclusion").unwrap();
    assert!(incl.scored && incl.rank >= 1, "{incl:?}");
    assert!(
        incl.indicators_scored >= 1 && incl.indicators_scored <= incl.indicators_reported,
        "{incl:?}"
    );
    assert!(p.coverage_ratio > 0.0 && p.coverage_ratio < 1.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_national_picture_official_and_computed() {
    let s = InProc::start(true).await;
    let mut pic = s.picture().await;
    let n = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            // The borders of 1.1.2021, on which the LFS 2020 figures were published.
            borders: "own".into(),
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let ind = |id: &str| n.indicators.iter().find(|i| i.indicator_id == id).unwrap();
    // LFS 2020: the regional components sum to 213 unemployed (rounding), the published
    // national figure is 212; the official one is shown, the computed one kept.
    let u = ind("unemployed_15_64");
    assert!(u.official);
    assert_eq!(u.value, Some(212.0));
    assert_eq!(u.computed_value, Some(213.0));
    assert_eq!(u.aggregation, proto::Aggregation::Sum as i32);
    // Ratio of sums.
    let r = ind("unemployment_rate_15_64");
    assert_eq!(r.value, Some(7.9));
    let computed = r.computed_value.unwrap();
    assert!(
        (computed - 213.0 / 2662.0 * 100.0).abs() < 0.05,
        "{computed}"
    );
    // Min/median/max and best/worst by direction.
    assert!(r.min.unwrap() <= r.median.unwrap() && r.median.unwrap() <= r.max.unwrap());
    assert!(!r.best_region.is_empty() && r.best_region != r.worst_region);
    // Net migration between regions sums to zero nationally, on the borders of 1.1.2020 that
    // the vital statistics of 2020 were published on; on those of 2021 there is no figure
    // of the nine regions whose land changed, so no national sum.
    assert_eq!(ind("net_migration_between_regions").value, None);
    let on_2020 = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: "2020".into(),
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let migration = on_2020
        .indicators
        .iter()
        .find(|i| i.indicator_id == "net_migration_between_regions")
        .unwrap();
    assert_eq!(migration.value, Some(0.0));
    // Theme rankings are best first with ties sharing the best rank.
    for t in &n.themes {
        for w in t.regions.windows(2) {
            assert!(w[0].score >= w[1].score);
            assert!(w[0].rank <= w[1].rank);
            if w[0].score == w[1].score {
                assert_eq!(w[0].rank, w[1].rank);
            }
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_as_of_keep_a_border_change_apart() {
    let s = InProc::start(true).await;
    let mut pic = s.picture().await;
    // Keski-Pohjanmaa, population 31.12.2008: 71 029 in the 2009 release on the borders of
    // 1.1.2009, 67 991 in the 2010 release on those of 1.1.2010 (municipalities moved to
    // Pohjois-Pohjanmaa in between). Its history on every borders holds both; neither
    // revises the other.
    let h = pic
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "16".into(),
            indicator_id: "population".into(),
            year: 2008,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.revisions.iter().map(|r| r.value).collect::<Vec<_>>(),
        [71_029.0, 67_991.0]
    );
    assert_eq!(
        h.revisions.iter().map(|r| r.borders).collect::<Vec<_>>(),
        [Some(2009), Some(2010)]
    );
    assert!(h.revisions[1].correction_reason.is_empty());
    assert!(h.revisions[0].sequence < h.revisions[1].sequence);
    let on = |s: u64, borders: &str| proto::GetRegionPictureRequest {
        borders: borders.into(),
        region_code: "MK16".into(),
        year: 2008,
        as_of: as_of_sequence(Some(s)),
        min_sequence: 0,
    };
    let value = |p: &proto::GetRegionPictureResponse| {
        p.cells
            .iter()
            .find(|c| c.indicator_id == "population")
            .map(|c| c.value)
    };
    let before = pic
        .get_region_picture(on(h.revisions[0].sequence - 1, "2009"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value(&before), None);
    let first = pic
        .get_region_picture(on(h.revisions[0].sequence, "2009"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value(&first), Some(71_029.0));
    assert_eq!(first.as_of_sequence, h.revisions[0].sequence);
    let second = pic
        .get_region_picture(on(h.revisions[1].sequence, "2010"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value(&second), Some(67_991.0));
    // After the 2010 release the figure on the 2009 borders is still the 2009 release's.
    let still = pic
        .get_region_picture(on(h.revisions[1].sequence, "2009"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value(&still), Some(71_029.0));
    // History as of the first revision has one entry.
    let h1 = pic
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "MK16".into(),
            indicator_id: "population".into(),
            year: 2008,
            as_of: as_of_sequence(Some(h.revisions[0].sequence)),
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h1.revisions.len(), 1);

    // As of a record time: an instant before the first event knows nothing; the instant of
    // a revision knows it.
    let t1 = h.revisions[0].recorded_at.unwrap();
    let by_time = |t: prost_types::Timestamp| proto::GetRegionPictureRequest {
        borders: "2010".into(),
        region_code: "MK16".into(),
        year: 2008,
        as_of: Some(proto::AsOf {
            point: Some(proto::as_of::Point::RecordedAt(t)),
        }),
        min_sequence: 0,
    };
    let early = pic
        .get_region_picture(by_time(prost_types::Timestamp {
            seconds: 1_000_000_000,
            nanos: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(early.as_of_sequence, 0);
    assert!(early.cells.is_empty());
    let at_t1 = pic
        .get_region_picture(by_time(t1))
        .await
        .unwrap()
        .into_inner();
    assert!(
        at_t1.as_of_sequence >= h.revisions[0].sequence
            && at_t1.as_of_sequence < h.revisions[1].sequence
    );
    // On the 2010 borders the 2009 release's figure is none of theirs.
    assert_eq!(value(&at_t1), None);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_ranks_and_national_values() {
    let s = InProc::start(true).await;
    let mut pic = s.picture().await;
    let r = pic
        .get_series(proto::GetSeriesRequest {
            borders: Default::default(),
            region_code: "MK18".into(),
            indicator_id: "unemployment_rate_15_74".into(),
            from_year: 2015,
            to_year: 2021,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.points.iter().map(|p| p.year).collect::<Vec<_>>(),
        [2016, 2017, 2018, 2019, 2020]
    );
    for p in &r.points {
        assert!(p.national_value.is_some());
        assert!((1..=18).contains(&p.rank));
        assert_eq!(p.status, Final as i32);
    }
    let err = pic
        .get_series(proto::GetSeriesRequest {
            borders: Default::default(),
            region_code: "MK18".into(),
            indicator_id: "unemployment_rate_15_74".into(),
            from_year: 2020,
            to_year: 2010,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "MK99".into(),
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_sequence_reads_your_writes_or_times_out() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let mut pic = s.picture().await;
    for i in 0..20 {
        let r = ing
            .submit(submit_req(
                &format!("ryw-{i}"),
                "MK09",
                vec![obs(
                    "population",
                    2020,
                    130_000.0 + f64::from(i),
                    Provisional,
                )],
            ))
            .await
            .unwrap()
            .into_inner();
        let p = pic
            .get_region_picture(proto::GetRegionPictureRequest {
                borders: Default::default(),
                region_code: "MK09".into(),
                year: 2020,
                as_of: None,
                min_sequence: r.last_sequence,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(p.as_of_sequence >= r.last_sequence);
        assert_eq!(p.cells[0].value, 130_000.0 + f64::from(i));
    }
    let err = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: Default::default(),
            year: 2020,
            as_of: None,
            min_sequence: 1_000_000,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_events_replays_and_follows_the_chain() {
    let s = InProc::start(false).await;
    let mut pic = s.picture().await;
    let mut all = pic
        .read_events(proto::ReadEventsRequest {
            from_sequence: 0,
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut prev = vec![0u8; 32];
    let mut n = 0;
    while let Some(m) = all.message().await.unwrap() {
        let e = m.event.unwrap();
        n += 1;
        assert_eq!(e.sequence, n);
        assert_eq!(e.prev_hash, prev);
        prev = e.hash.clone();
        assert!(matches!(
            e.payload,
            Some(proto::event::Payload::RegionDefined(_))
                | Some(proto::event::Payload::IndicatorDefined(_))
                | Some(proto::event::Payload::GroupDefined(_))
                | Some(proto::event::Payload::MunicipalityDefined(_))
                | Some(proto::event::Payload::DivisionDefined(_))
                | Some(proto::event::Payload::TargetSet(_))
        ));
        // The chain recomputes from the served fields.
        let domain = tilannekuva::api::convert::event_from_proto(&e).unwrap();
        assert_eq!(domain.compute_hash().to_vec(), e.hash);
    }
    assert!(n > 50);
    let catalog_events = n;

    let mut follow = pic
        .read_events(proto::ReadEventsRequest {
            from_sequence: catalog_events - 1,
            follow: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        follow
            .message()
            .await
            .unwrap()
            .unwrap()
            .event
            .unwrap()
            .sequence,
        catalog_events - 1
    );
    assert_eq!(
        follow
            .message()
            .await
            .unwrap()
            .unwrap()
            .event
            .unwrap()
            .sequence,
        catalog_events
    );
    let mut ing = s.ingest().await;
    ing.submit(submit_req(
        "f-1",
        "MK10",
        vec![
            obs("population", 2020, 150_000.0, Final),
            obs("natural_increase", 2020, -1000.0, Final),
        ],
    ))
    .await
    .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), follow.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let e = next.event.unwrap();
    assert_eq!(e.sequence, catalog_events + 1);
    assert_eq!(e.region_code, "MK10");
    assert_eq!(e.region_revision, 1);
    assert_eq!(e.submission_id, "f-1");
    assert_eq!(e.prev_hash, prev);
    match e.payload {
        Some(proto::event::Payload::ObservationRecorded(o)) => {
            assert_eq!(o.observation.unwrap().value, 150_000.0)
        }
        other => panic!("unexpected payload {other:?}"),
    }
    let e2 = follow.message().await.unwrap().unwrap().event.unwrap();
    assert_eq!(e2.sequence, catalog_events + 2);
    s.stop().await;
}

/// The sequence of a cell's first recorded value (from its history).
async fn recorded_at(s: &InProc, region: &str, indicator: &str, year: i32) -> u64 {
    s.picture()
        .await
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: region.into(),
            indicator_id: indicator.into(),
            year,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .revisions[0]
        .sequence
}

fn basis(n: &Option<proto::NationalValue>) -> (Option<f64>, proto::NationalBasis, u32, u32) {
    let n = n.as_ref().expect("a national value block");
    (
        n.value,
        proto::NationalBasis::try_from(n.basis).unwrap(),
        n.regions_reported,
        n.regions_expected,
    )
}

/// Issue 7's finding, on the bundled real data: with two of nineteen regions reporting a
/// sum, no national value is shown (not the partial sum), in the national picture, the
/// region picture and the series alike; once all nineteen have reported it is the complete
/// sum; a ratio over part of the country is given as partial; official values win; a
/// value from provisional figures is marked provisional.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_values_say_whether_official_complete_or_partial() {
    use proto::NationalBasis::{Complete, Official, Partial, Unavailable};
    let s = InProc::start(true).await;
    let mut pic = s.picture().await;
    let shared = pic.clone();
    // Each year on its own borders (those it was published on) unless said otherwise.
    let national_on = |year: i32, as_of: Option<proto::AsOf>, borders: &'static str| {
        let mut pic = shared.clone();
        async move {
            pic.get_national_picture(proto::GetNationalPictureRequest {
                borders: borders.into(),
                year,
                as_of,
                min_sequence: 0,
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let national = |year: i32, as_of: Option<proto::AsOf>| national_on(year, as_of, "own");
    let find = |n: &proto::GetNationalPictureResponse, id: &str| {
        n.indicators
            .iter()
            .find(|i| i.indicator_id == id)
            .cloned()
            .unwrap()
    };

    // Population 2016 (file 070, no SSS row): after Uusimaa and Varsinais-Suomi only.
    let two = recorded_at(&s, "MK02", "population", 2016).await;
    let n = national(2016, as_of_sequence(Some(two))).await;
    let pop = find(&n, "population");
    assert_eq!(basis(&pop.national), (None, Unavailable, 2, 19));
    assert_eq!(
        (pop.value, pop.computed_value, pop.official),
        (None, None, false)
    );
    let region = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "MK01".into(),
            year: 2016,
            as_of: as_of_sequence(Some(two)),
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let cell = region
        .cells
        .iter()
        .find(|c| c.indicator_id == "population")
        .unwrap();
    assert_eq!(cell.value, 1_638_293.0);
    assert_eq!(
        (
            cell.national_value,
            cell.national_difference,
            cell.national_share
        ),
        (None, None, None)
    );
    assert_eq!(basis(&cell.national), (None, Unavailable, 2, 19));
    let series = pic
        .get_series(proto::GetSeriesRequest {
            borders: Default::default(),
            region_code: "MK01".into(),
            indicator_id: "population".into(),
            from_year: 2016,
            to_year: 2016,
            as_of: as_of_sequence(Some(two)),
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.points[0].national_value, None);
    assert_eq!(basis(&series.points[0].national).1, Unavailable);

    // All nineteen: the complete sum, Statistics Finland's 5 503 297; Uusimaa's share.
    let pop = find(&national(2016, None).await, "population");
    assert_eq!(basis(&pop.national), (Some(5_503_297.0), Complete, 19, 19));
    assert_eq!(pop.value, Some(5_503_297.0));
    let latest = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "MK01".into(),
            year: 2016,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let cell = latest
        .cells
        .iter()
        .find(|c| c.indicator_id == "population")
        .unwrap();
    let share = cell.national_share.unwrap();
    assert!(
        (share - 1_638_293.0 / 5_503_297.0 * 100.0).abs() < 1e-9,
        "{share}"
    );

    // Population 2008: official (SSS), while only 18 of the 20 regions of 2008 (Itä-Uusimaa
    // included; Lappi and Åland are not in that release) are.
    // On the year's own borders (1.1.2009, the release's): on the latest ones the regions
    // are put together from municipal figures instead.
    let pop = find(&national(2008, None).await, "population");
    assert_eq!(basis(&pop.national), (Some(5_326_314.0), Official, 18, 20));
    assert_eq!(
        pop.computed_value, None,
        "a sum over 18 regions is not computed"
    );

    // Long-term unemployed share 2017 (a ratio): after two regions' components, a partial
    // ratio of their sums; at the end, official (SSS) with the complete ratio computed.
    // (The share is the last row of MK02's submission in the file.)
    let two = recorded_at(&s, "MK02", "long_term_unemployed_share", 2017).await;
    let share = find(
        &national(2017, as_of_sequence(Some(two))).await,
        "long_term_unemployed_share",
    );
    let (value, b, reported, expected) = basis(&share.national);
    assert_eq!((b, reported, expected), (Partial, 2, 19));
    // Σ long-term unemployed / Σ unemployed × 100 over Uusimaa and Varsinais-Suomi.
    let expected_partial = (27_795.0 + 7_815.0) / (81_371.0 + 24_901.0) * 100.0;
    assert!(
        (value.unwrap() - expected_partial).abs() < 1e-9,
        "{value:?} vs {expected_partial}"
    );
    let share = find(&national(2017, None).await, "long_term_unemployed_share");
    assert_eq!(basis(&share.national).1, Official);
    assert_eq!(basis(&share.national).2, 19);
    assert!(share.computed_value.is_some());

    // GDP per capita 2011 (published on the 2013 borders, which give Uusimaa the land it has
    // on the latest): one region's rate and no components: no national value.
    let gdp = find(&national_on(2011, None, "latest").await, "gdp_per_capita");
    assert_eq!(basis(&gdp.national), (None, Unavailable, 0, 19));
    assert_eq!(gdp.regions_reported, 1);

    // Natural increase 2020: the official value is preliminary, and says so.
    let ni = find(&national(2020, None).await, "natural_increase");
    let n = ni.national.unwrap();
    assert_eq!(n.basis, Official as i32);
    assert_eq!(n.status, Provisional as i32);
    let ni = find(&national(2019, None).await, "natural_increase");
    assert_eq!(ni.national.unwrap().status, Final as i32);
    s.stop().await;
}
