//! Official tables in, as published (`tilannekuva import-table`), against the real binary:
//! a release imported once, a later release recording only its changes (and saying what it
//! no longer publishes), reads "as published by" a date, refusals that record nothing, a
//! PxWeb API replayed on loopback (split queries, 429 and 503 retried), and the demo filled
//! from the bundled tables.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tonic::transport::Channel;

const TABLE_135L: &str = "data/official/tables/statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json";
const MAPPING_135L: &str = "data/official/mappings/statfin_rpk_pxt_135l.toml";

/// The last sequence, read with `token`.
async fn head(ch: Channel, token: &str) -> u64 {
    PictureServiceClient::new(ch)
        .get_national_picture(with_token(
            proto::GetNationalPictureRequest {
                year: 2020,
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .as_of_sequence
}

/// `import-table` against `server` with `token`; (success, stdout, stderr).
fn import(
    server: &str,
    token: &str,
    mapping: &str,
    table: &Path,
    extra: &[&str],
) -> (bool, String, String) {
    let mut args = vec![
        "import-table",
        "--server",
        server,
        "--token",
        token,
        "--mapping",
    ];
    let mapping = repo_file(mapping);
    args.push(mapping.to_str().unwrap());
    let table = table.to_str().unwrap();
    if !table.is_empty() {
        args.extend(["--file", table]);
    }
    args.extend(extra);
    cli(&args)
}

/// The number after "recorded" in the import's summary.
fn recorded(out: &str) -> u64 {
    number_after(out, "recorded       ", ' ')
}

/// A cell of a municipality's picture on the 2021 borders, as of `as_of`.
async fn cell(
    ch: Channel,
    token: &str,
    area: &str,
    year: i32,
    as_of: Option<proto::AsOf>,
) -> Option<proto::IndicatorCell> {
    PictureServiceClient::new(ch)
        .get_region_picture(with_token(
            proto::GetRegionPictureRequest {
                region_code: area.into(),
                year,
                as_of,
                borders: "2021".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cells
        .into_iter()
        .find(|c| c.indicator_id == "offences_per_1000")
}

fn published_by(date: &str) -> Option<proto::AsOf> {
    let t = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(23, 59, 59)
        .unwrap()
        .and_utc();
    Some(proto::AsOf {
        point: Some(proto::as_of::Point::PublishedBy(prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: 0,
        })),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_is_recorded_once_and_a_later_one_only_with_its_changes() {
    let (publisher, e1) = new_token("statistics-finland", "publisher", &[]);
    let (reader, e2) = new_token("ministry", "reader", &[]);
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.toml");
    std::fs::write(&auth, [e1, e2].join("\n\n") + "\n").unwrap();
    let s = Proc::start(
        &dir.path().join("data"),
        &["--auth-file", auth.to_str().unwrap()],
    );
    let ch = s.channel().await;
    let server = s.grpc_url.clone();
    let start = head(ch.clone(), &reader).await;

    // A reader may not publish: refused, nothing recorded.
    let (ok, _, err) = import(&server, &reader, MAPPING_135L, &repo_file(TABLE_135L), &[]);
    assert!(!ok, "a reader imported a table");
    assert!(
        err.contains("refuses 328 of 328 submissions; nothing was recorded"),
        "{err}"
    );
    assert_eq!(head(ch.clone(), &reader).await, start);

    // The dry run prints the plan and sends nothing.
    let (ok, out, err) = import(
        &server,
        &publisher,
        MAPPING_135L,
        &repo_file(TABLE_135L),
        &["--dry-run"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("would submit   11152 figures for 328 areas on the 2021 borders"),
        "{out}"
    );
    assert!(out.contains("updated        2021-05-12T10:15:00Z"), "{out}");
    assert_eq!(head(ch.clone(), &reader).await, start);

    // The release, then the same release again: nothing more.
    let mut heads = Vec::new();
    for want in [11152, 0] {
        let (ok, out, err) = import(
            &server,
            &publisher,
            MAPPING_135L,
            &repo_file(TABLE_135L),
            &[],
        );
        assert!(ok, "{err}");
        assert_eq!(recorded(&out), want, "{out}");
        heads.push(head(ch.clone(), &reader).await);
    }
    let after_first = heads[0];
    assert!(after_first > start);
    assert_eq!(heads[1], after_first, "a re-import records nothing");

    // A later release: Helsinki 2020 and Uusimaa 2019 corrected, Espoo 1987 withdrawn.
    let text = std::fs::read_to_string(repo_file(TABLE_135L)).unwrap();
    let mut answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    answer["updated"] = "2021-07-27T08:00:00Z".into();
    let years = answer["size"][0].as_u64().unwrap() as usize;
    let areas = answer["size"][2].as_u64().unwrap() as usize;
    let pos = |dim: &str, code: &str| {
        answer["dimension"][dim]["category"]["index"][code]
            .as_u64()
            .unwrap() as usize
    };
    let cell_at = |y: &str, a: &str| pos("Vuosi", y) * areas + pos("Alue", a);
    assert_eq!(years * areas, answer["value"].as_array().unwrap().len());
    let (helsinki, uusimaa, espoo) = (
        cell_at("2020", "KU091"),
        cell_at("2019", "MK01"),
        cell_at("1987", "KU049"),
    );
    let old_helsinki = answer["value"][helsinki].as_f64().unwrap();
    answer["value"][helsinki] = (old_helsinki + 1.5).into();
    answer["value"][uusimaa] = 150.25.into();
    answer["value"][espoo] = serde_json::Value::Null;
    let later = dir.path().join("135l-2021-07-27.json");
    std::fs::write(&later, serde_json::to_vec(&answer).unwrap()).unwrap();
    let (ok, out, err) = import(&server, &publisher, MAPPING_135L, &later, &[]);
    assert!(ok, "{err}");
    assert_eq!(recorded(&out), 2, "only the changed figures: {out}");
    assert!(
        out.contains("no longer published: 1 figures")
            && out.contains("KU049 offences_per_1000 1987"),
        "{out}"
    );
    assert!(
        out.contains("Espoo offences_per_1000 1987: no value"),
        "the withdrawn cell is skipped: {out}"
    );
    // Two figures, each with its submission's summary (the area's other figures unchanged).
    assert_eq!(head(ch.clone(), &reader).await, after_first + 4);

    // The revision names the release; its trail holds both.
    let history = PictureServiceClient::new(ch.clone())
        .get_observation_history(with_token(
            proto::GetObservationHistoryRequest {
                region_code: "KU091".into(),
                indicator_id: "offences_per_1000".into(),
                year: 2020,
                borders: Some(2021),
                ..Default::default()
            },
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.revisions.len(), 2);
    let newer = &history.revisions[1];
    assert!(
        newer
            .correction_reason
            .contains("updated 2021-07-27T08:00:00Z"),
        "{}",
        newer.correction_reason
    );
    assert!(
        newer.source.contains("table statfin_rpk_pxt_135l") && newer.source.contains("sha256:")
    );
    assert_eq!(newer.published.as_ref().unwrap().seconds, 1_627_372_800);

    // The open data's trail says it too.
    let (status, body) = http_get_authed(
        s.http,
        "/v1/regions/KU091/history/offences_per_1000/2020?borders=2021&format=csv",
        &reader,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.lines().next().unwrap().ends_with(",hash,published"),
        "{body}"
    );
    assert!(
        body.lines()
            .nth(1)
            .unwrap()
            .ends_with(",2021-05-12T10:15:00Z"),
        "{body}"
    );
    assert!(
        body.lines()
            .nth(2)
            .unwrap()
            .ends_with(",2021-07-27T08:00:00Z"),
        "{body}"
    );

    // What the table said on 1 June 2021 and on 1 August 2021, whatever day it was imported.
    let june = cell(
        ch.clone(),
        &reader,
        "KU091",
        2020,
        published_by("2021-06-01"),
    )
    .await
    .unwrap();
    assert_eq!(june.value, old_helsinki);
    let august = cell(
        ch.clone(),
        &reader,
        "KU091",
        2020,
        published_by("2021-08-01"),
    )
    .await
    .unwrap();
    assert_eq!(august.value, old_helsinki + 1.5);
    assert!(
        cell(
            ch.clone(),
            &reader,
            "KU091",
            2020,
            published_by("2021-05-01")
        )
        .await
        .is_none(),
        "not published before 12 May 2021"
    );
    // As recorded: the latest.
    assert_eq!(
        cell(ch.clone(), &reader, "KU091", 2020, None)
            .await
            .unwrap()
            .value,
        old_helsinki + 1.5
    );
    // The same over the open data and the CLI.
    let (status, body) = http_get_authed(
        s.http,
        "/v1/regions/KU091/picture?year=2020&borders=2021&format=csv&published_by=2021-06-01",
        &reader,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("offences_per_1000,") || l.contains(",offences_per_1000,")),
        "{body}"
    );
    let (ok, out, err) = cli(&[
        "picture",
        "--server",
        &server,
        "--token",
        &reader,
        "--region",
        "KU091",
        "--year",
        "2020",
        "--borders",
        "2021",
        "--published-by",
        "2021-06-01",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("{old_helsinki}")), "{out}");
    s.stop();
}

/// The 19 regions (maakunnat) since 2011.
fn regions() -> Vec<String> {
    (1..=21)
        .filter(|n| ![3, 20].contains(n))
        .map(|n| format!("MK{n:02}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_tables_and_mappings_are_refused_and_record_nothing() {
    let s = InProc::start(false).await;
    let server = s.grpc_url.clone();
    let start = head_sequence(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let full = std::fs::read(repo_file(TABLE_135L)).unwrap();
    let px = std::fs::read(repo_file("data/official/tables/statfin_vaerak_pxt_11rc.px")).unwrap();
    let relabelled = {
        let at = px.windows(11).position(|w| w == b"iso-8859-15").unwrap();
        let mut b = px.clone();
        b.splice(at..at + 11, b"utf-8".iter().copied());
        b
    };
    let cases: Vec<(std::path::PathBuf, &str, &str)> = vec![
        (
            write("truncated.json", &full[..full.len() / 2]),
            MAPPING_135L,
            "line 1, column",
        ),
        (
            write("relabelled.px", &relabelled),
            "data/official/mappings/statfin_vaerak_pxt_11rc.toml",
            "not UTF-8",
        ),
    ];
    for (file, mapping, words) in &cases {
        let (ok, _, err) = cli(&[
            "import-table",
            "--server",
            &server,
            "--mapping",
            repo_file(mapping).to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ]);
        assert!(!ok && err.contains(words), "{}: {err}", file.display());
    }
    // Bigger than the limit: refused before a cell is allocated.
    let mut cats = String::new();
    for i in 0..5000 {
        cats.push_str(&format!("{}\"c{i}\"", if i > 0 { "," } else { "" }));
    }
    let big = format!(
        r#"{{"version":"2.0","class":"dataset","id":["Alue","Vuosi"],"size":[5000,5000],
        "dimension":{{"Alue":{{"category":{{"index":[{cats}]}}}},"Vuosi":{{"category":{{"index":[{cats}]}}}}}},"value":{{}}}}"#
    );
    let big = write("big.json", big.as_bytes());
    let (ok, _, err) = cli(&[
        "import-table",
        "--server",
        &server,
        "--mapping",
        repo_file(MAPPING_135L).to_str().unwrap(),
        "--file",
        big.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("25000000 cells") && err.contains("at most 20000000"),
        "{err}"
    );
    // A mapping naming a dimension the table does not have.
    let mapping = std::fs::read_to_string(repo_file(MAPPING_135L))
        .unwrap()
        .replace("dimension = \"Alue\"", "dimension = \"Region\"");
    let bad_mapping = write("bad.toml", mapping.as_bytes());
    let (ok, _, err) = cli(&[
        "import-table",
        "--server",
        &server,
        "--mapping",
        bad_mapping.to_str().unwrap(),
        "--file",
        repo_file(TABLE_135L).to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("names dimension \"Region\", which table statfin_rpk_pxt_135l does not have (it has: Vuosi, Rikosnimike, Alue, Tiedot)"), "{err}");
    assert_eq!(head_sequence(&s).await, start, "nothing recorded");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_fetched_from_a_pxweb_api_in_parts_retrying_429_and_503() {
    let mut replay = Command::new("python3")
        .arg(repo_file("tests/fixtures/pxweb_replay.py"))
        .arg(repo_file(TABLE_135L))
        .arg("3")
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the PxWeb replay (.ci/run puts one on PATH)");
    let mut lines = std::io::BufReader::new(replay.stdout.take().unwrap()).lines();
    let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let s = InProc::start(false).await;
    let saved = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/fi/StatFin/rpk/statfin_rpk_pxt_135l.px");
    let args = |extra: &[&str]| {
        let mut a = vec!["import-table", "--server", &s.grpc_url, "--mapping"];
        let m = repo_file(MAPPING_135L);
        let m = m.to_str().unwrap().to_owned();
        let mut owned: Vec<String> = a.drain(..).map(str::to_owned).collect();
        owned.push(m);
        owned.extend(extra.iter().map(|x| (*x).to_owned()));
        owned
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        cli(&refs)
    };
    let (ok, out, err) = run(args(&[
        "--url",
        &url,
        "--cell-limit",
        "2000",
        "--backoff-ms",
        "20",
        "--min-interval-ms",
        "0",
        "--save",
        saved.path().to_str().unwrap(),
    ]));
    assert!(ok, "{err}");
    assert_eq!(recorded(&out), 11152, "{out}");
    // 11 152 cells under 2 000 a request: 34 years × 328 areas split into parts.
    let parts = std::fs::read_dir(saved.path()).unwrap().count();
    assert!(parts >= 6, "{parts} parts");
    assert_eq!(out.matches("would submit").count(), parts);
    let _ = replay.kill();
    let _ = replay.wait();
    let log: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(log.iter().any(|l| l.contains(" 429 ")), "{log:?}");
    assert!(log.iter().any(|l| l.contains(" 503 ")), "{log:?}");
    assert!(
        log.iter().filter(|l| l.contains("POST 200")).all(|l| l
            .split(' ')
            .nth(3)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 2000),
        "{log:?}"
    );
    // The saved answers are the release: imported again as files, they record nothing.
    let before = head_sequence(&s).await;
    for part in std::fs::read_dir(saved.path()).unwrap() {
        let p = part.unwrap().path();
        let (ok, out, err) = run(args(&["--file", p.to_str().unwrap()]));
        assert!(ok, "{err}");
        assert_eq!(recorded(&out), 0, "{out}");
    }
    assert_eq!(head_sequence(&s).await, before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_the_region_pictures_from_the_bundled_tables() {
    let s = InProc::start(true).await;
    let ch = s.channel().await;
    let regions = regions();
    let mut per_year = Vec::new();
    for year in 2006..=2020 {
        let mut filled = Vec::new();
        for r in &regions {
            let p = PictureServiceClient::new(ch.clone())
                .get_region_picture(proto::GetRegionPictureRequest {
                    region_code: r.clone(),
                    year,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            // Every reported value names where it comes from; a table's, its release.
            for c in p.cells.iter().filter(|c| !c.derived) {
                assert!(!c.source.is_empty(), "{r} {year} {}", c.indicator_id);
            }
            let from_tables = p
                .cells
                .iter()
                .filter(|c| c.source.contains(" sha256:"))
                .count();
            assert!(from_tables > 0, "{r} {year}: no figure of a bundled table");
            filled.push(p.coverage_ratio);
        }
        let mean = filled.iter().sum::<f64>() / filled.len() as f64;
        let least = filled.iter().copied().fold(f64::MAX, f64::min);
        per_year.push((year, mean, least));
    }
    eprintln!("region picture cells filled (mean, least) by year: {per_year:?}");
    // The municipal key figures end in 2016: until then every region's picture is at least
    // 30 % full.
    for (year, _, least) in &per_year {
        if *year <= 2016 {
            assert!(*least >= 0.30, "{year}: {per_year:?}");
        } else {
            assert!(*least >= 0.08, "{year}: {per_year:?}");
        }
    }
    // As published by: 135l (updated 12 May 2021) is not yet there at the end of 2020.
    let offences = |as_of: Option<proto::AsOf>| {
        let ch = ch.clone();
        async move {
            PictureServiceClient::new(ch)
                .get_region_picture(proto::GetRegionPictureRequest {
                    region_code: "MK01".into(),
                    year: 2019,
                    as_of,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .cells
                .into_iter()
                .find(|c| c.indicator_id == "offences_per_1000")
                .map(|c| c.value)
        }
    };
    assert!(offences(published_by("2020-12-31")).await.is_none());
    assert!(offences(published_by("2021-05-12")).await.is_some());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_own_answers_import_back_to_the_same_picture() {
    // A store of regional figures (none put together from municipalities), some provisional:
    // the bundled LFS 2020 and vital statistics 2019–2020 releases.
    let a = InProc::start(false).await;
    let batches = tilannekuva::demo::requests(&tilannekuva::domain::Catalog::bundled()).unwrap();
    let files: Vec<&str> = tilannekuva::demo::FILES.iter().map(|(n, _)| *n).collect();
    let mut ing = a.ingest().await;
    for name in [
        "120_vital_statistics_2020_preliminary_2019_final_release_2021-01-21.csv",
        "140_lfs_2020_15_64_release_2021-03-04.csv",
    ] {
        let batch = &batches[files.iter().position(|f| *f == name).unwrap()];
        // The regions' figures: a region picture shows the national value, not the figure
        // reported for the whole country, so the national values are computed in every store.
        for r in batch {
            let tilannekuva::write::WriteRequest::Submit(s) = r else {
                panic!()
            };
            if s.region_code == "SSS" {
                continue;
            }
            ing.submit(proto::SubmitRequest {
                submission_id: s.submission_id.clone(),
                region_code: s.region_code.clone(),
                observations: s
                    .observations
                    .iter()
                    .map(tilannekuva::api::convert::observation_input_to_proto)
                    .collect(),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    }
    let (b, c) = (InProc::start(false).await, InProc::start(false).await);
    let dir = tempfile::tempdir().unwrap();
    let areas = regions();
    for area in &areas {
        for (format, store, mapping) in [
            (
                "json-stat",
                &b,
                "data/official/mappings/tilannekuva_region_picture_jsonstat.toml",
            ),
            (
                "csv",
                &c,
                "data/official/mappings/tilannekuva_region_picture_csv.toml",
            ),
        ] {
            let (status, body) = http_get(
                a.http,
                &format!("/v1/regions/{area}/picture?year=2020&format={format}"),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let file = dir.path().join(format!("{area}.{format}"));
            std::fs::write(&file, body).unwrap();
            let (ok, out, err) = cli(&[
                "import-table",
                "--server",
                &store.grpc_url,
                "--mapping",
                repo_file(mapping).to_str().unwrap(),
                "--file",
                file.to_str().unwrap(),
            ]);
            assert!(ok, "{area} {format}: {err}");
            assert!(recorded(&out) > 0, "{out}");
        }
    }
    // The same picture: every region's values, statuses, national values and ranks.
    let picture = |ch: Channel, area: String| async move {
        let p = PictureServiceClient::new(ch)
            .get_region_picture(proto::GetRegionPictureRequest {
                region_code: area,
                year: 2020,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut cells: Vec<(String, String, i32, String, u32)> = p
            .cells
            .iter()
            .map(|c| {
                (
                    c.indicator_id.clone(),
                    format!("{}", c.value),
                    c.status,
                    format!("{:?}", c.national_value),
                    c.rank,
                )
            })
            .collect();
        cells.sort();
        cells
    };
    let (mut compared, mut provisional) = (0, 0);
    for area in &areas {
        let want = picture(a.channel().await, area.clone()).await;
        assert!(!want.is_empty(), "{area}");
        provisional += want
            .iter()
            .filter(|c| c.2 == proto::ObservationStatus::Provisional as i32)
            .count();
        assert_eq!(
            picture(b.channel().await, area.clone()).await,
            want,
            "{area} via JSON-stat"
        );
        assert_eq!(
            picture(c.channel().await, area.clone()).await,
            want,
            "{area} via CSV"
        );
        compared += want.len();
    }
    assert!(
        compared >= 100 && provisional >= 19,
        "{compared} cells compared, {provisional} provisional"
    );
    for s in [a, b, c] {
        s.stop().await;
    }
}
