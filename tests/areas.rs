//! Areas that change: a region that ended (Itä-Uusimaa, merged into Uusimaa on 1.1.2011)
//! stays in the catalog with its years, is compared with the regions of those years and
//! takes no figure of a later year; and a log written by the build before regions had
//! years imports, verifies and serves as it was.

mod common;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tilannekuva::proto::ObservationStatus::Final;
use tonic::transport::Channel;
use tonic::Code;

/// The national population figures of `year`, as served on `ch`.
async fn population(ch: Channel, year: i32) -> proto::NationalIndicator {
    PictureServiceClient::new(ch)
        .get_national_picture(proto::GetNationalPictureRequest {
            year,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .indicators
        .into_iter()
        .find(|i| i.indicator_id == "population")
        .unwrap()
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

    // 31.12.2006 as published on 1.1.2008: the 20 regions of the day sum to Finland.
    let pop = population(s.channel().await, 2006).await;
    assert_eq!(
        (
            pop.computed_value,
            pop.regions_reported,
            pop.regions_expected
        ),
        (Some(5_276_955.0), 20, 20)
    );
    assert_eq!(pop.value, Some(5_276_955.0));
    // From 2011 on, 19 regions are expected.
    assert_eq!(
        population(s.channel().await, 2016).await.regions_expected,
        19
    );

    // Itä-Uusimaa's own picture of 2006: its figure against the whole country's (population
    // is not ranked: it is a size, not a direction).
    let picture = s
        .picture()
        .await
        .get_region_picture(proto::GetRegionPictureRequest {
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
        (cell.value, cell.national_value),
        (93_853.0, Some(5_276_955.0))
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
            vec![obs("population", 2011, 95_000.0, Final)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert_eq!(v[0].0, "observations[0].year", "{v:?}");
    assert!(v[0].1.contains("until 2010"), "{v:?}");
    assert_eq!(head_sequence(&s).await, head);
    // Its own years still take figures (here: unchanged, nothing recorded).
    let same = ing
        .submit(submit_req(
            "itä-uusimaa-2006",
            "03",
            vec![obs("population", 2006, 93_853.0, Final)],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((same.recorded, same.unchanged), (0, 1));

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
    assert_eq!(population(ch.clone(), 2006).await.regions_expected, 19);
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
