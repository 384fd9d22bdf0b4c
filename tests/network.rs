//! The network's tools against the real binary: peer groups (a region's figures against its
//! groups, a group's picture, groups defined and redefined as events, as of any sequence)
//! and reporting rounds (opened by the ministry, what a council still owes, overdue after
//! the deadline, in gRPC and in the CLI).

mod common;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::catalog_service_client::CatalogServiceClient;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tilannekuva::proto::round_service_client::RoundServiceClient;
use tilannekuva::proto::ObservationStatus::Final;
use tonic::Code;

fn group_of<'a>(cell: &'a proto::IndicatorCell, id: &str) -> &'a proto::GroupComparison {
    cell.groups
        .iter()
        .find(|g| g.group_id == id)
        .unwrap_or_else(|| panic!("no group {id} in {cell:?}"))
}

async fn cell(
    ch: &tonic::transport::Channel,
    region: &str,
    indicator: &str,
    as_of: Option<u64>,
) -> proto::IndicatorCell {
    let r = PictureServiceClient::new(ch.clone())
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: region.into(),
            year: 2024,
            as_of: as_of_sequence(as_of),
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    r.cells
        .into_iter()
        .find(|c| c.indicator_id == indicator)
        .unwrap_or_else(|| panic!("{region} has no {indicator}"))
}

async fn group_picture(
    ch: &tonic::transport::Channel,
    group: &str,
    as_of: Option<u64>,
) -> Result<proto::GetGroupPictureResponse, tonic::Status> {
    PictureServiceClient::new(ch.clone())
        .get_group_picture(proto::GetGroupPictureRequest {
            borders: Default::default(),
            group_id: group.into(),
            year: 2024,
            as_of: as_of_sequence(as_of),
            min_sequence: 0,
        })
        .await
        .map(|r| r.into_inner())
}

fn basis(n: &Option<proto::NationalValue>) -> (Option<f64>, i32, u32, u32) {
    let n = n.as_ref().expect("a value message");
    (n.value, n.basis, n.regions_reported, n.regions_expected)
}

/// FI1C (South Finland) has five members: MK02 MK05 MK07 MK08 MK09.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_stands_against_its_peer_groups_as_they_were() {
    use proto::NationalBasis::{Complete, Partial, Unavailable};
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(&dir.path().join("data"), &[]);
    let ch = s.channel().await;
    let groups = CatalogServiceClient::new(ch.clone())
        .list_groups(proto::ListGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .groups;
    let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["FI19", "FI1B", "FI1C", "FI1D", "FI20"]);
    assert!(groups.iter().all(|g| g.source.contains("NUTS 2021")));

    let mut ing = IngestServiceClient::new(ch.clone());
    // Two of five members report the population (a sum) and the unemployment rate's
    // components (a ratio of sums).
    let figures = [
        ("MK02", 480_000.0, 20.0, 240.0, -900.0),
        ("MK05", 170_000.0, 9.0, 80.0, -700.0),
        ("MK07", 205_000.0, 12.0, 95.0, 150.0),
        ("MK08", 160_000.0, 10.0, 75.0, -1200.0),
        ("MK09", 127_000.0, 7.0, 60.0, -800.0),
    ];
    let report = |(region, pop, unemployed, labour, increase): &(&str, f64, f64, f64, f64)| {
        let observations = vec![
            obs("population", 2024, *pop, Final),
            obs("unemployed_15_74", 2024, *unemployed, Final),
            obs("labour_force_15_74", 2024, *labour, Final),
            obs("natural_increase", 2024, *increase, Final),
        ];
        submit_req(&format!("report-{region}"), region, observations)
    };
    for f in &figures[..2] {
        ing.submit(report(f)).await.unwrap();
    }
    let c = cell(&ch, "MK02", "population", None).await;
    let g = group_of(&c, "FI1C");
    // A sum over part of a group is no group figure.
    assert_eq!(basis(&g.value), (None, Unavailable as i32, 2, 5));
    assert_eq!((g.rank, g.regions_ranked), (0, 0), "population is neutral");
    let c = cell(&ch, "MK02", "unemployed_15_74", None).await;
    assert_eq!(basis(&group_of(&c, "FI1C").value).0, None);
    assert_eq!(
        c.groups.len(),
        1,
        "MK02 is in one bundled group: {:?}",
        c.groups
    );
    // The ratio over the members that reported is given, marked partial: Σ num / Σ den × 100.
    let picture = group_picture(&ch, "FI1C", None).await.unwrap();
    let rate = picture
        .indicators
        .iter()
        .find(|i| i.indicator_id == "unemployment_rate_15_74")
        .unwrap();
    let (v, b, reported, expected) = basis(&rate.group);
    assert_eq!((b, reported, expected), (Partial as i32, 2, 5));
    let want = (20.0 + 9.0) / (240.0 + 80.0) * 100.0;
    assert!((v.unwrap() - want).abs() < 1e-9, "{v:?} vs {want}");
    let partial_at = picture.as_of_sequence;

    for f in &figures[2..] {
        ing.submit(report(f)).await.unwrap();
    }
    let c = cell(&ch, "MK07", "unemployed_15_74", None).await;
    let g = group_of(&c, "FI1C");
    let sum: f64 = figures.iter().map(|f| f.2).sum();
    assert_eq!(basis(&g.value), (Some(sum), Complete as i32, 5, 5));
    assert_eq!(
        (g.rank, g.regions_ranked),
        (0, 0),
        "a count is neutral: not ranked"
    );
    // A count: the region's share of the group, not a difference.
    assert_eq!((g.difference, g.share), (None, Some(12.0 / sum * 100.0)));
    // Higher is better: MK07's natural increase is the only positive one of the five; MK08's
    // the lowest.
    let c = cell(&ch, "MK07", "natural_increase", None).await;
    assert_eq!(
        (
            group_of(&c, "FI1C").rank,
            group_of(&c, "FI1C").regions_ranked
        ),
        (1, 5)
    );
    let c = cell(&ch, "MK08", "natural_increase", None).await;
    assert_eq!(
        (
            group_of(&c, "FI1C").rank,
            group_of(&c, "FI1C").regions_ranked
        ),
        (5, 5)
    );
    // Ranks in the country are over every region that reported: the same five here.
    assert_eq!((c.rank, c.regions_ranked), (5, 5));
    // The group picture: every member side by side, each traceable to its revision.
    let picture = group_picture(&ch, "FI1C", None).await.unwrap();
    let pop = picture
        .indicators
        .iter()
        .find(|i| i.indicator_id == "population")
        .unwrap();
    let members: Vec<(&str, Option<f64>)> = pop
        .members
        .iter()
        .map(|m| (m.region_code.as_str(), m.value))
        .collect();
    assert_eq!(
        members,
        figures.iter().map(|f| (f.0, Some(f.1))).collect::<Vec<_>>()
    );
    // Each member value names its current revision: the first two were recorded before
    // the partial state was read, the other three after.
    for (i, m) in pop.members.iter().enumerate() {
        assert_eq!((m.revisions, m.source.as_str()), (1, "test source"));
        assert_eq!(m.sequence <= partial_at, i < 2, "{m:?}");
    }
    assert_eq!(
        basis(&pop.group),
        (
            Some(figures.iter().map(|f| f.1).sum()),
            Complete as i32,
            5,
            5
        )
    );
    // As of the partial state, the answer is the partial one.
    let then = group_picture(&ch, "FI1C", Some(partial_at)).await.unwrap();
    let then_pop = then
        .indicators
        .iter()
        .find(|i| i.indicator_id == "population")
        .unwrap();
    assert_eq!(basis(&then_pop.group).1, Unavailable as i32);

    // A group of one's own: defined, then redefined; history keeps the first.
    let mut cat = CatalogServiceClient::new(ch.clone());
    let east = |members: &[&str]| proto::RegionGroup {
        id: "east-test".into(),
        name_fi: "Itä".into(),
        name_sv: "Öst".into(),
        name_en: "East".into(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        source: "test grouping".into(),
    };
    let before = group_picture(&ch, "FI1C", None)
        .await
        .unwrap()
        .as_of_sequence;
    let bad = cat
        .define_group(proto::DefineGroupRequest {
            group: Some(east(&["MK07", "MK99"])),
            submission_id: "east-bad".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("MK99"), "{}", bad.message());
    let first = cat
        .define_group(proto::DefineGroupRequest {
            // Out of order and repeated: recorded in code order, once each.
            group: Some(east(&["MK08", "MK07", "MK08"])),
            submission_id: "east-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.sequence,
        before + 1,
        "the refused definition appended nothing"
    );
    let retry = cat
        .define_group(proto::DefineGroupRequest {
            group: Some(east(&["MK08", "MK07", "MK08"])),
            submission_id: "east-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(retry.duplicate && retry.sequence == first.sequence);
    let err = group_picture(&ch, "east-test", Some(before))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "not defined yet then: {err:?}"
    );
    let g = group_picture(&ch, "east-test", None).await.unwrap();
    assert_eq!(g.group.unwrap().members, ["MK07", "MK08"]);
    let c = cell(&ch, "MK07", "unemployed_15_74", None).await;
    let g = group_of(&c, "east-test");
    assert_eq!(basis(&g.value).0, Some(12.0 + 10.0));
    let c = cell(&ch, "MK08", "natural_increase", None).await;
    let g = group_of(&c, "east-test");
    assert_eq!((g.rank, g.regions_ranked), (2, 2));
    cat.define_group(proto::DefineGroupRequest {
        group: Some(east(&["MK07", "MK09"])),
        submission_id: "east-2".into(),
    })
    .await
    .unwrap();
    let c = cell(&ch, "MK07", "unemployed_15_74", None).await;
    assert_eq!(basis(&group_of(&c, "east-test").value).0, Some(12.0 + 7.0));
    let c = cell(&ch, "MK07", "unemployed_15_74", Some(first.sequence)).await;
    assert_eq!(
        basis(&group_of(&c, "east-test").value).0,
        Some(12.0 + 10.0),
        "as of the first definition, its members"
    );
    // MK08 left the group: its picture no longer shows it.
    let c = cell(&ch, "MK08", "unemployed_15_74", None).await;
    assert!(c.groups.iter().all(|g| g.group_id != "east-test"));
    // Through the CLI: away to another definition and back again. Going back is recorded
    // (each run has its own submission id), and the same file once more records nothing.
    let file = |name: &str, members: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!("id,name_fi,name_sv,name_en,members,source\neast-test,Itä,Öst,East,{members},test grouping\n"),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (away, back) = (file("away.csv", "MK08"), file("back.csv", "MK07 MK09"));
    for (path, outcome, members) in [
        (&away, "defined", vec!["MK08"]),
        (&back, "defined", vec!["MK07", "MK09"]),
        (&back, "unchanged", vec!["MK07", "MK09"]),
    ] {
        let (ok, out, err) = cli(&[
            "define-group",
            "--server",
            &s.grpc_url,
            "--file",
            path,
            "--json",
        ]);
        assert!(ok, "{err}");
        assert!(
            out.contains(&format!("\"outcome\":\"{outcome}\"")),
            "{path}: {out}"
        );
        let g = group_picture(&ch, "east-test", None)
            .await
            .unwrap()
            .group
            .unwrap();
        assert_eq!(g.members, members, "after {path}");
    }
    // The bundled groups once more (what an older store is given them with): each is
    // defined so already, and nothing is recorded.
    let head = group_picture(&ch, "FI1C", None)
        .await
        .unwrap()
        .as_of_sequence;
    let (ok, out, err) = cli(&[
        "define-group",
        "--server",
        &s.grpc_url,
        "--bundled",
        "--json",
    ]);
    assert!(ok, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    let outcomes: Vec<&str> = answer["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["unchanged"; 5], "{out}");
    assert_eq!(
        group_picture(&ch, "FI1C", None)
            .await
            .unwrap()
            .as_of_sequence,
        head
    );
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_says_what_each_region_still_owes_and_when_it_is_overdue() {
    let (council, e1) = new_token("uusimaa-council", "reporter", &["MK01"]);
    let (ministry, e2) = new_token("ministry", "admin", &[]);
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("auth.toml");
    std::fs::write(&auth_file, [e1, e2].join("\n\n") + "\n").unwrap();
    let s = Proc::start(
        &dir.path().join("data"),
        &["--auth-file", auth_file.to_str().unwrap()],
    );
    let ch = s.channel().await;
    let mut rounds = RoundServiceClient::new(ch.clone());
    let open = |deadline: i64, id: &str| proto::OpenRoundRequest {
        year: 2024,
        deadline: Some(prost_types::Timestamp {
            seconds: deadline,
            nanos: 0,
        }),
        indicator_ids: vec!["population".into(), "natural_increase".into()],
        region_codes: vec![],
        submission_id: id.into(),
        allow_past_deadline: false,
    };
    // 2999-01-01 and 2020-01-01.
    let (future, past) = (32_472_144_000, 1_577_836_800);
    let status = |region: &str, as_of: Option<u64>| proto::GetRoundStatusRequest {
        year: 2024,
        region_code: region.into(),
        as_of: as_of_sequence(as_of),
        min_sequence: 0,
    };
    // No round yet; a council may not open one.
    let err = rounds
        .get_round_status(with_token(status("MK01", None), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = rounds
        .open_round(with_token(open(future, "r1"), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let opened = rounds
        .open_round(with_token(open(future, "r1"), &ministry))
        .await
        .unwrap()
        .into_inner();
    let round = opened.round.unwrap();
    assert_eq!(round.indicator_ids, ["natural_increase", "population"]);
    // The same terms again under another id record nothing; an indicator only the whole
    // country reports would stay missing for ever, so it is refused.
    let again = rounds
        .open_round(with_token(open(future, "r1-again"), &ministry))
        .await
        .unwrap()
        .into_inner();
    assert!(
        again.unchanged && again.sequence == opened.sequence,
        "{again:?}"
    );
    let mut national_only = open(future, "r-bad");
    national_only.indicator_ids.push("morbidity_index".into());
    let err = rounds
        .open_round(with_token(national_only, &ministry))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("morbidity_index") && err.message().contains("whole country"),
        "{}",
        err.message()
    );
    // A round for a year that has not come: nothing anyone could report for it yet, so it
    // is refused rather than leaving every region overdue.
    let next = chrono::Datelike::year(&chrono::Utc::now()) + 4;
    let err = rounds
        .open_round(with_token(
            proto::OpenRoundRequest {
                year: next,
                submission_id: "r-future".into(),
                ..open(future, "r-future")
            },
            &ministry,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .contains(&format!("year {next} is after the current year")),
        "{}",
        err.message()
    );
    assert_eq!(
        round.region_codes.len(),
        19,
        "every region but SSS by default"
    );

    IngestServiceClient::new(ch.clone())
        .submit(with_token(
            submit_req("pop", "MK01", vec![obs("population", 2024, 1.7e6, Final)]),
            &council,
        ))
        .await
        .unwrap();
    let mine = rounds
        .get_round_status(with_token(status("01", None), &council))
        .await
        .unwrap()
        .into_inner();
    assert!(!mine.deadline_passed);
    assert_eq!(mine.regions.len(), 1);
    let r = &mine.regions[0];
    assert_eq!(r.region_code, "MK01");
    assert_eq!(
        (r.reported.clone(), r.missing.clone()),
        (
            vec!["population".to_owned()],
            vec!["natural_increase".to_owned()]
        )
    );
    assert!(!r.overdue, "before the deadline nothing is overdue");
    let before_reopen = mine.as_of_sequence;
    let err = rounds
        .get_round_status(with_token(status("MK99", None), &council))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // The ministry moves the deadline into the past: refused as a likely typo, naming the
    // deadline in Finnish time, unless said; then overdue, but not as of before.
    let err = rounds
        .open_round(with_token(open(past, "r2"), &ministry))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .contains("2020-01-01 02:00:00 EET has already passed"),
        "{}",
        err.message()
    );
    let moved = rounds
        .open_round(with_token(
            proto::OpenRoundRequest {
                allow_past_deadline: true,
                ..open(past, "r2")
            },
            &ministry,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(moved.deadline_passed && !moved.unchanged, "{moved:?}");
    let all = rounds
        .get_round_status(with_token(status("", None), &council))
        .await
        .unwrap()
        .into_inner();
    assert!(all.deadline_passed);
    assert_eq!(all.regions.len(), 19);
    let mk01 = all
        .regions
        .iter()
        .find(|r| r.region_code == "MK01")
        .unwrap();
    assert!(mk01.overdue && mk01.missing == ["natural_increase"]);
    assert!(all.regions.iter().all(|r| r.overdue));
    let then = rounds
        .get_round_status(with_token(status("MK01", Some(before_reopen)), &council))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.round.unwrap().deadline.unwrap().seconds, future);
    assert!(!then.regions[0].overdue);

    // The CLI lists what is missing, region by region.
    let (ok, out, err) = cli(&[
        "round",
        "status",
        "--server",
        &s.grpc_url,
        "--token",
        &council,
        "--year",
        "2024",
    ]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("(MK01)"))
        .unwrap_or_else(|| panic!("no MK01 line:\n{out}"));
    assert!(
        line.contains("1 of 2") && line.contains("OVERDUE"),
        "{line}"
    );
    assert!(
        out.lines().all(|l| l.chars().count() <= 100),
        "a person reads it at 100 columns:\n{out}"
    );
    assert!(!out.contains("natural_increase"), "{out}");
    // The indicators themselves, for one region.
    let (ok, out, err) = cli(&[
        "round",
        "status",
        "--server",
        &s.grpc_url,
        "--token",
        &council,
        "--year",
        "2024",
        "--region",
        "MK01",
    ]);
    assert!(ok, "{err}");
    let (_, missing) = out
        .split_once("Missing for ")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        missing.contains("(MK01)") && missing.contains("natural_increase"),
        "{out}"
    );
    // The gauges: counts per region and year, and the deadline.
    let (_, body) = http_get_authed(s.http, "/metrics", &ministry).await;
    assert_eq!(
        metric(
            &body,
            "tilannekuva_round_indicators_missing{region=\"MK01\",year=\"2024\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &body,
            "tilannekuva_round_deadline_timestamp_seconds{year=\"2024\"}"
        ),
        past as f64
    );
    s.stop();
}
