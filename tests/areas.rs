//! Areas that change: a region that ended (Itä-Uusimaa, merged into Uusimaa on 1.1.2011)
//! stays in the catalog with its years, is compared with the regions of those years and
//! takes no figure of a later year; a log written by the build before regions had years
//! imports, verifies and serves as it was; the demo's municipal population puts regions
//! together on any borders (the real numbers of Statistics Finland's tables); and a
//! figure on other land is never a revision nor a change.

mod common;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tilannekuva::proto::ObservationStatus::Final;
use tonic::transport::Channel;
use tonic::Code;

/// The national population figures of `year` on `borders`, as served on `ch`, and the
/// borders the picture is on.
async fn population(
    ch: Channel,
    year: i32,
    borders: &str,
) -> (proto::NationalIndicator, Option<i32>) {
    let picture = PictureServiceClient::new(ch)
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: borders.into(),
            year,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let on = picture.borders;
    let population = picture
        .indicators
        .into_iter()
        .find(|i| i.indicator_id == "population")
        .unwrap();
    (population, on)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_that_ended_is_compared_in_its_years_and_takes_no_later_figure() {
    let s = InProc::start(true).await;
    let regions = s
        .catalog()
        .await
        .list_regions(proto::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    let years = |code: &str| {
        let r = regions.iter().find(|r| r.code == code).unwrap();
        (r.first_year, r.last_year)
    };
    assert_eq!(
        regions.len(),
        21,
        "19 regions of today, Itä-Uusimaa and SSS"
    );
    assert_eq!(years("MK03"), (None, Some(2010)));
    assert_eq!(years("MK01"), (None, None));

    // 31.12.2006 as published in 2008, on the borders of 1.1.2008 (the release's): the 20
    // regions of the day sum to Finland.
    let (pop, on) = population(s.channel().await, 2006, "2008").await;
    assert_eq!(
        (
            pop.computed_value,
            pop.regions_reported,
            pop.regions_expected,
            on
        ),
        (Some(5_276_955.0), 20, 20, Some(2008))
    );
    assert_eq!(pop.value, Some(5_276_955.0));
    // The year's own borders (1.1.2007) had the same 20 regions; the bundled data hold no
    // regional figure published on them, and the divisions before the municipality key
    // (2013) do not say whether a region's land changed from one to the next.
    let (own, on) = population(s.channel().await, 2006, "own").await;
    assert_eq!(
        (own.regions_reported, own.regions_expected, own.value, on),
        (0, 20, Some(5_276_955.0), Some(2007))
    );
    // On the latest borders (the default) the 19 regions of today, each put together from
    // its municipalities' population: the same whole country.
    let (latest, on) = population(s.channel().await, 2006, "").await;
    assert_eq!(
        (
            latest.computed_value,
            latest.regions_reported,
            latest.regions_expected,
            on
        ),
        (Some(5_276_955.0), 19, 19, Some(2026))
    );
    // From 2011 on, 19 regions are expected on the year's own borders too.
    assert_eq!(
        population(s.channel().await, 2016, "own")
            .await
            .0
            .regions_expected,
        19
    );

    // Itä-Uusimaa's own picture of 2006: its figure against the whole country's (population
    // is not ranked: it is a size, not a direction).
    let picture = s
        .picture()
        .await
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: "2008".into(),
            region_code: "MK03".into(),
            year: 2006,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let cell = picture
        .cells
        .iter()
        .find(|c| c.indicator_id == "population")
        .unwrap();
    assert_eq!(
        (cell.value, cell.national_value, cell.borders),
        (93_853.0, Some(5_276_955.0), Some(2008))
    );
    let share = cell.national_share.unwrap();
    assert!(
        (share - 93_853.0 / 5_276_955.0 * 100.0).abs() < 1e-9,
        "{share}"
    );

    // A figure of a year after it ended is refused, naming its years; nothing is appended.
    let head = head_sequence(&s).await;
    let mut ing = s.ingest().await;
    let err = ing
        .submit(submit_req(
            "itä-uusimaa-2011",
            "MK03",
            vec![proto::Observation {
                borders: Some(2010),
                ..obs("population", 2011, 95_000.0, Final)
            }],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert_eq!(v[0].0, "observations[0].year", "{v:?}");
    assert!(v[0].1.contains("until 2010"), "{v:?}");
    assert_eq!(head_sequence(&s).await, head);
    // Its own years still take figures on borders it existed on (here: unchanged, nothing
    // recorded); without borders a figure is on the division in force now, which has no
    // Itä-Uusimaa.
    let on_2008 = proto::Observation {
        borders: Some(2008),
        ..obs("population", 2006, 93_853.0, Final)
    };
    let same = ing
        .submit(submit_req("itä-uusimaa-2006", "03", vec![on_2008]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((same.recorded, same.unchanged), (0, 1));
    let err = ing
        .submit(submit_req(
            "itä-uusimaa-2006-now",
            "03",
            vec![obs("population", 2006, 93_853.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert!(v[0].1.contains("2026"), "{v:?}");
    assert_eq!(head_sequence(&s).await, head);

    // A reporting round expects the regions of its year.
    let mut rounds =
        tilannekuva::proto::round_service_client::RoundServiceClient::new(s.channel().await);
    let open = |year: i32, regions: Vec<String>| proto::OpenRoundRequest {
        submission_id: String::new(),
        year,
        deadline: Some(prost_types::Timestamp {
            seconds: 1_900_000_000,
            nanos: 0,
        }),
        indicator_ids: vec!["population".into()],
        region_codes: regions,
        allow_past_deadline: false,
    };
    let round = rounds
        .open_round(open(2009, vec![]))
        .await
        .unwrap()
        .into_inner()
        .round
        .unwrap();
    assert_eq!(round.region_codes.len(), 20);
    assert!(round.region_codes.contains(&"MK03".to_owned()));
    let err = rounds
        .open_round(open(2011, vec!["MK03".into()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("until 2010"), "{}", err.message());
    s.stop().await;
}

/// The first 100 events a server of the build before regions had years (f4b40f7) wrote
/// with `serve --demo`, as its `export` gave them: its catalog of 19 regions and SSS, and
/// the first demo release. This build imports them with every hash as written, verifies
/// the chain and serves them: the regions of an older log stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_written_by_the_build_before_imports_verifies_and_serves() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let fixture = repo_file("tests/fixtures/log-f4b40f7-first-100.ndjson");
    let (ok, out, err) = cli(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        "--input",
        fixture.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let last = std::fs::read_to_string(&fixture)
        .unwrap()
        .lines()
        .last()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["hash"].clone())
        .unwrap();
    assert!(out.contains(last.as_str().unwrap()), "{out}");
    let (ok, out, err) = cli(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert!(ok && out.starts_with("ok: 100 events"), "{out}{err}");

    let p = Proc::start(&data, &[]);
    let ch = p.channel().await;
    let regions = proto::catalog_service_client::CatalogServiceClient::new(ch.clone())
        .list_regions(proto::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    assert_eq!(regions.len(), 20);
    assert!(regions.iter().all(|r| r.last_year.is_none()));
    // A log of the build before borders holds no divisions: its figures are on the one set
    // of borders it knows, the division in force when they were recorded.
    let (pop, on) = population(ch.clone(), 2006, "").await;
    assert_eq!((pop.regions_expected, on), (19, None));
    // It takes writes on, continuing the imported chain.
    let r = proto::ingest_service_client::IngestServiceClient::new(ch)
        .submit(submit_req(
            "after-upgrade",
            "MK01",
            vec![obs("population", 2021, 1_000.0, Final)],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.first_sequence, 101);
    p.stop();
}

/// An area's picture of `year` on `borders`.
async fn area_picture(
    ch: Channel,
    area: &str,
    year: i32,
    borders: &str,
) -> proto::GetRegionPictureResponse {
    PictureServiceClient::new(ch)
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: borders.into(),
            region_code: area.into(),
            year,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap_or_else(|e| panic!("{area} {year} on {borders:?}: {e}"))
        .into_inner()
}

/// The population cell of a picture.
fn population_cell(p: &proto::GetRegionPictureResponse) -> Option<&proto::IndicatorCell> {
    p.cells.iter().find(|c| c.indicator_id == "population")
}

/// The demo's real numbers: the population of every municipality 2000-2022 (on the 2021
/// municipalities) puts every region together on any borders of the key, so that a region
/// that changed on 1.1.2021 has one figure on each side of the change, and the figures of
/// Statistics Finland's tables come out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_puts_regions_together_from_municipalities_on_any_borders() {
    let s = InProc::start(true).await;
    let ch = s.channel().await;

    // Finland 31.12.2020: the 19 regions of today, each from its municipalities.
    let (pop, on) = population(ch.clone(), 2020, "").await;
    assert_eq!(
        (pop.computed_value, pop.regions_reported, on),
        (Some(5_533_793.0), 19, Some(2026))
    );

    // Etelä-Savo 31.12.2020: 140 587 on the 2020 borders, 132 702 on those of 2021 (and
    // of today); each the sum of the municipalities that lay in it then.
    let value = |p: &proto::GetRegionPictureResponse| population_cell(p).map(|c| c.value);
    let mk10_2020 = area_picture(ch.clone(), "MK10", 2020, "2020").await;
    let cell = population_cell(&mk10_2020).unwrap();
    assert_eq!(cell.value, 140_587.0);
    assert!(cell.derived && cell.municipalities_used == cell.municipalities_expected);
    // Compared with 31.12.2019 on the same borders: the loss that happened.
    assert_eq!(cell.change, Some(-1_748.0));
    let mk10_2021 = area_picture(ch.clone(), "MK10", 2020, "2021").await;
    assert_eq!(value(&mk10_2021), Some(132_702.0));
    assert_eq!(population_cell(&mk10_2021).unwrap().change, Some(-1_612.0));
    assert_eq!(
        value(&area_picture(ch.clone(), "MK10", 2020, "").await),
        Some(132_702.0)
    );
    // The derived value is the sum of the municipalities the picture lists, each read as
    // its own picture on the same borders.
    assert_eq!(mk10_2021.municipality_codes.len(), 12);
    let mut sum = 0.0;
    for m in &mk10_2021.municipality_codes {
        let p = area_picture(ch.clone(), m, 2020, "2021").await;
        assert_eq!(p.region_of, "MK10", "{m}");
        sum += value(&p).unwrap();
    }
    assert_eq!(sum, 132_702.0);
    // Heinävesi lay in Etelä-Savo on the 2020 borders and in Pohjois-Karjala on those of 2021.
    assert!(mk10_2020.municipality_codes.contains(&"KU090".to_owned()));
    assert!(!mk10_2021.municipality_codes.contains(&"KU090".to_owned()));
    assert_eq!(
        value(&area_picture(ch.clone(), "MK11", 2020, "2021").await),
        Some(248_265.0)
    );

    // Helsinki: its value, its region's on the same borders, its rank among municipalities.
    let helsinki = area_picture(ch.clone(), "KU091", 2020, "").await;
    assert_eq!(helsinki.region_of, "MK01");
    let cell = population_cell(&helsinki).unwrap();
    assert_eq!(
        (cell.value, cell.region_value, cell.national_value),
        (656_920.0, Some(1_702_678.0), Some(5_533_793.0))
    );

    // The key's sub-regions and wellbeing services counties are areas too, put together
    // from their municipalities: the Helsinki sub-region (SK011) is the sum of the
    // municipalities its picture lists; the county of the city of Helsinki (HV90) is
    // Helsinki. Both lie in Uusimaa.
    let sk011 = area_picture(ch.clone(), "SK011", 2020, "").await;
    assert_eq!(sk011.region_of, "MK01");
    assert!(sk011.municipality_codes.contains(&"KU049".to_owned()));
    let cell = population_cell(&sk011).unwrap();
    assert!(cell.derived, "{cell:?}");
    let mut sum = 0.0;
    for m in &sk011.municipality_codes {
        sum += value(&area_picture(ch.clone(), m, 2020, "").await).unwrap();
    }
    assert_eq!(cell.value, sum);
    let hv90 = area_picture(ch.clone(), "HV90", 2020, "").await;
    assert_eq!(
        (hv90.region_of.as_str(), hv90.municipality_codes.as_slice()),
        ("MK01", ["KU091".to_owned()].as_slice())
    );
    assert_eq!(value(&hv90), Some(656_920.0));
    // Their figures are their municipalities': a submission for one is refused.
    let err = s
        .ingest()
        .await
        .submit(submit_req(
            "sk011",
            "SK011",
            vec![obs("population", 2020, 1.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert_eq!(v[0].0, "region_code", "{v:?}");
    assert!(v[0].1.contains("sub-region"), "{v:?}");

    // Population is in every region's and every municipality's picture of every year
    // 2000-2022 (on the latest borders; Mäntyharju of 2025 from Mäntyharju and Pertunmaa).
    let municipalities = proto::catalog_service_client::CatalogServiceClient::new(ch.clone())
        .list_municipalities(proto::ListMunicipalitiesRequest { borders: 2026 })
        .await
        .unwrap()
        .into_inner()
        .municipalities;
    assert_eq!(municipalities.len(), 308);
    for year in 2000..=2022 {
        let (pop, _) = population(ch.clone(), year, "").await;
        assert_eq!(
            (pop.regions_reported, pop.regions_expected),
            (19, 19),
            "{year}"
        );
        for m in &municipalities {
            let p = area_picture(ch.clone(), &m.code, year, "").await;
            assert!(population_cell(&p).is_some(), "{} {year}", m.code);
        }
    }
    s.stop().await;
}

/// The rules on a store with the bundled catalog and no figures: a figure on other land is
/// a figure of its own (no revision, no correction reason), a change across a border change
/// is a break, a figure on the same land revises, and bad areas, borders and writers are
/// refused with nothing appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_border_change_is_never_a_revision_nor_a_change() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let ch = s.channel().await;
    let on = |year: i32, value: f64, borders: i32| proto::Observation {
        borders: Some(borders),
        ..obs("population", year, value, Final)
    };
    // Etelä-Savo as Statistics Finland published it: 31.12.2019 on the 2020 borders,
    // 31.12.2020 on the 2021 borders.
    for (id, year, value, borders) in [
        ("es-2019", 2019, 142_335.0, 2020),
        ("es-2020", 2020, 132_702.0, 2021),
    ] {
        ing.submit(submit_req(id, "MK10", vec![on(year, value, borders)]))
            .await
            .unwrap();
    }
    // On the 2021 borders 2020 has no previous value: the year before is on other land.
    let p = area_picture(ch.clone(), "MK10", 2020, "own").await;
    let cell = population_cell(&p).unwrap();
    assert_eq!(
        (cell.value, cell.change, cell.previous_value, cell.borders),
        (132_702.0, None, None, Some(2021))
    );
    assert_eq!(cell.previous_borders, [2020]);
    let series = PictureServiceClient::new(ch.clone())
        .get_series(proto::GetSeriesRequest {
            borders: "own".into(),
            region_code: "MK10".into(),
            indicator_id: "population".into(),
            from_year: 2019,
            to_year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        series
            .points
            .iter()
            .map(|p| (p.year, p.borders, p.break_before))
            .collect::<Vec<_>>(),
        [(2019, Some(2020), false), (2020, Some(2021), true)]
    );
    // On the 2020 borders there is no figure of 2020 yet; the picture says where one is.
    let p = area_picture(ch.clone(), "MK10", 2020, "2020").await;
    assert!(population_cell(&p).is_none());
    let elsewhere = p
        .elsewhere
        .iter()
        .find(|e| e.indicator_id == "population")
        .unwrap();
    // Named by the latest borders that give Etelä-Savo the land of 2021 (2021-2026).
    assert_eq!(elsewhere.borders, [2026]);

    // 31.12.2020 on the 2020 borders: a final figure of its own, not a revision of the one
    // on the 2021 borders (no correction reason needed), and a change on the same borders.
    let r = ing
        .submit(submit_req(
            "es-2020-on-2020",
            "MK10",
            vec![on(2020, 140_587.0, 2020)],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.recorded, 1);
    let p = area_picture(ch.clone(), "MK10", 2020, "2020").await;
    let cell = population_cell(&p).unwrap();
    assert_eq!(
        (cell.value, cell.revisions, cell.change),
        (140_587.0, 1, Some(-1_748.0))
    );
    let cell_2021 = area_picture(ch.clone(), "MK10", 2020, "2021").await;
    assert_eq!(population_cell(&cell_2021).unwrap().value, 132_702.0);
    let history = |borders: Option<i32>| {
        let mut pic = PictureServiceClient::new(ch.clone());
        async move {
            pic.get_observation_history(proto::GetObservationHistoryRequest {
                borders,
                region_code: "MK10".into(),
                indicator_id: "population".into(),
                year: 2020,
                as_of: None,
                min_sequence: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .revisions
            .iter()
            .map(|r| (r.value, r.borders))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(history(Some(2021)).await, [(132_702.0, Some(2021))]);
    assert_eq!(history(Some(2020)).await, [(140_587.0, Some(2020))]);
    assert_eq!(history(None).await.len(), 2);
    // Resubmitted as before: idempotent.
    let again = ing
        .submit(submit_req(
            "es-2020-on-2020",
            "MK10",
            vec![on(2020, 140_587.0, 2020)],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);

    // Uusimaa's land is the same on the 2019 and 2020 borders: a final figure on the 2020
    // borders revises a provisional one on the 2019 borders (one trail of two).
    ing.submit(submit_req(
        "uusimaa-provisional",
        "MK01",
        vec![proto::Observation {
            borders: Some(2019),
            ..obs(
                "population",
                2019,
                1_690_000.0,
                proto::ObservationStatus::Provisional,
            )
        }],
    ))
    .await
    .unwrap();
    ing.submit(submit_req(
        "uusimaa-final",
        "MK01",
        vec![on(2019, 1_689_725.0, 2020)],
    ))
    .await
    .unwrap();
    let p = area_picture(ch.clone(), "MK01", 2019, "2019").await;
    let cell = population_cell(&p).unwrap();
    assert_eq!((cell.value, cell.revisions), (1_689_725.0, 2));

    // Refused, each with its field, and nothing appended: an unknown area, borders that are
    // no division, a municipality of another region than the reporter's.
    let head = head_sequence(&s).await;
    let err = ing
        .submit(submit_req(
            "bad-area",
            "KU999",
            vec![obs("population", 2020, 1.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violations(&err)[0].0, "region_code");
    let err = ing
        .submit(submit_req("bad-borders", "MK10", vec![on(2020, 1.0, 1999)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert_eq!(v[0].0, "observations[0].borders", "{v:?}");
    assert!(v[0].1.contains("no division of 1999"), "{v:?}");
    assert_eq!(head_sequence(&s).await, head);
    s.stop().await;

    let (token, entry) = new_token("uusimaa", "reporter", &["MK01"]);
    let s = InProc::start_authed(&format!("{entry}\n")).await;
    let mut ing = s.ingest().await;
    // A population figure of 2020 for `area`, submitted with Uusimaa's token.
    let as_uusimaa = |id: &str, area: &str, value: f64| {
        with_token(
            submit_req(id, area, vec![obs("population", 2020, value, Final)]),
            &token,
        )
    };
    // Helsinki lies in Uusimaa: its reporter writes it.
    let helsinki = ing
        .submit(as_uusimaa("helsinki", "KU091", 656_920.0))
        .await
        .unwrap()
        .into_inner();
    // Turku lies in Varsinais-Suomi: refused, saying where it lies.
    let err = ing
        .submit(as_uusimaa("turku", "KU853", 195_137.0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains("KU853") && err.message().contains("MK02"),
        "{}",
        err.message()
    );
    // Nothing was appended: the next write follows Helsinki's.
    let espoo = ing
        .submit(as_uusimaa("espoo", "KU049", 292_796.0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(espoo.first_sequence, helsinki.last_sequence + 1);
    s.stop().await;
}
