//! The service as operators and other programs see it: the real binary, restarts, the
//! CLI, export/import, HTTP metrics checked by promtool, health and reflection.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use prost::Message;
use tilannekuva::proto;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;

/// Every picture the service can give for the demo years, encoded: equal bytes mean
/// identical pictures.
async fn snapshot(url: &str, as_of: Option<u64>) -> Vec<Vec<u8>> {
    let ch = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let regions = tilannekuva::proto::catalog_service_client::CatalogServiceClient::new(ch.clone())
        .list_regions(proto::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    let codes: Vec<&str> = regions.iter().map(|r| r.code.as_str()).collect();
    let years = [2008, 2016, 2017, 2019, 2020];
    let mut out = pictures(ch.clone(), years, &codes, as_of).await;
    let as_of = as_of_sequence(as_of);
    let mut pic = PictureServiceClient::new(ch);
    let h = pic
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "MK16".into(),
            indicator_id: "population".into(),
            year: 2008,
            as_of,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    out.push(h.encode_to_vec());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_survive_a_restart_identically_and_demo_loads_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(dir.path(), &["--demo"]);
    // Writes of every kind whose retries must still be recognised after the restart.
    let mut ing =
        tilannekuva::proto::ingest_service_client::IngestServiceClient::new(s.channel().await);
    let sub = submit_req(
        "restart-1",
        "MK12",
        vec![
            obs(
                "population",
                2021,
                163_000.0,
                proto::ObservationStatus::Final,
            ),
            obs(
                "natural_increase",
                2021,
                -900.0,
                proto::ObservationStatus::Provisional,
            ),
        ],
    );
    let receipt = ing.submit(sub.clone()).await.unwrap().into_inner();
    let retract = proto::RetractRequest {
        borders: Default::default(),
        submission_id: "restart-2".into(),
        region_code: "MK12".into(),
        indicator_id: "natural_increase".into(),
        year: 2021,
        reason: "wrong year".into(),
        expected_region_revision: None,
    };
    let retracted = ing.retract(retract.clone()).await.unwrap().into_inner();
    let seq = head_at(s.channel().await).await;
    let before = snapshot(&s.grpc_url, None).await;
    let mid = seq / 2;
    let before_mid = snapshot(&s.grpc_url, Some(mid)).await;
    s.stop();
    // Restart (with --demo again: the store already has observations, nothing reloads).
    let s = Proc::start(dir.path(), &["--demo"]);
    assert_eq!(head_at(s.channel().await).await, seq);
    assert_eq!(
        snapshot(&s.grpc_url, None).await,
        before,
        "rebuilt pictures are byte-identical"
    );
    assert_eq!(
        snapshot(&s.grpc_url, Some(mid)).await,
        before_mid,
        "as-of pictures too"
    );
    let mut ing =
        tilannekuva::proto::ingest_service_client::IngestServiceClient::new(s.channel().await);
    let again = ing.submit(sub.clone()).await.unwrap().into_inner();
    assert!(again.duplicate);
    assert_eq!(
        (
            again.first_sequence,
            again.last_sequence,
            again.receipt_hash
        ),
        (
            receipt.first_sequence,
            receipt.last_sequence,
            receipt.receipt_hash
        )
    );
    let mut changed = sub.clone();
    changed.observations[1].value = -901.0;
    assert_eq!(
        ing.submit(changed).await.unwrap_err().code(),
        tonic::Code::AlreadyExists
    );
    let r = ing.retract(retract).await.unwrap().into_inner();
    assert!(r.duplicate);
    assert_eq!(r.sequence, retracted.sequence);
    // Demo submissions too: the bundled first file, region 01, is a known submission.
    let demo = tilannekuva::demo::requests(&tilannekuva::domain::Catalog::bundled()).unwrap();
    let tilannekuva::write::WriteRequest::Submit(first) = &demo[0][0] else {
        panic!("demo starts with a submission")
    };
    let demo_again = ing
        .submit(proto::SubmitRequest {
            validate_only: false,
            submission_id: first.submission_id.clone(),
            region_code: first.region_code.clone(),
            expected_region_revision: None,
            observations: first
                .observations
                .iter()
                .map(tilannekuva::api::convert::observation_input_to_proto)
                .collect(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(demo_again.duplicate);
    assert_eq!(
        head_at(s.channel().await).await,
        seq,
        "retries appended nothing"
    );
    s.stop();
    let (ok, out, err) = cli(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("{seq} events")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_submit_read_export_import() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(dir.path(), &["--demo"]);
    let url = s.grpc_url.clone();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("lappi.csv");
    std::fs::write(
        &csv,
        "indicator_id,year,value,status,source,note\n\
         population,2021,177161,final,\"Statistics Finland, population structure 2021\",\n\
         natural_increase,2021,-700,provisional,Statistics Finland preliminary,preliminary\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&[
        "submit",
        "--server",
        &url,
        "--file",
        csv.to_str().unwrap(),
        "--region",
        "19",
        "--json",
    ]);
    assert!(ok, "{err}");
    let receipt: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(receipt["region_code"], "19");
    assert_eq!(receipt["duplicate"], false);
    assert_eq!(receipt["observations"], 2);
    // Rerunning the same file is idempotent.
    let (ok, out, _) = cli(&[
        "submit",
        "--server",
        &url,
        "--file",
        csv.to_str().unwrap(),
        "--region",
        "19",
        "--json",
    ]);
    assert!(ok);
    let again: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["last_sequence"], receipt["last_sequence"]);
    // Human table.
    let (ok, out, err) = cli(&[
        "picture", "--server", &url, "--region", "MK19", "--year", "2021",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("population") && out.contains("177 161"),
        "{out}"
    );
    let (ok, out, _) = cli(&[
        "picture", "--server", &url, "--region", "MK19", "--year", "2021", "--json",
    ]);
    assert!(ok);
    let pic: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // The two submitted, and the demo's employment service figures of 2021 (12r5: four
    // series and the two ratios of them).
    let mut ids: Vec<&str> = pic["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["indicator_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "labour_force_employment_statistics",
            "natural_increase",
            "open_vacancies",
            "open_vacancies_per_100_jobseekers",
            "population",
            "registered_unemployment_rate",
            "unemployed_jobseekers",
            "unemployed_jobseekers_year_end"
        ]
    );
    let (ok, out, _) = cli(&["national", "--server", &url, "--year", "2017", "--json"]);
    assert!(ok);
    let nat: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let unemployed = nat["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["indicator_id"] == "unemployed_persons")
        .unwrap();
    assert_eq!(unemployed["value"], 296496.0);
    assert_eq!(unemployed["official"], true);
    let (ok, out, _) = cli(&[
        "series",
        "--server",
        &url,
        "--region",
        "MK01",
        "--indicator",
        "unemployment_rate_15_74",
    ]);
    assert!(ok);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("20")).count(),
        5,
        "{out}"
    );
    let (ok, out, _) = cli(&[
        "history",
        "--server",
        &url,
        "--region",
        "16",
        "--indicator",
        "population",
        "--year",
        "2008",
        "--json",
    ]);
    assert!(ok);
    let h: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(h["revisions"].as_array().unwrap().len(), 2);
    // As of a sequence before the Lapland submission.
    let before = (receipt["first_sequence"].as_u64().unwrap() - 1).to_string();
    let (ok, out, _) = cli(&[
        "picture",
        "--server",
        &url,
        "--region",
        "MK19",
        "--year",
        "2021",
        "--json",
        "--as-of-sequence",
        &before,
    ]);
    assert!(ok);
    let old: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // Only the demo's: the population its municipal figures put together, and the
    // employment service figures — not the two submitted.
    let cells = old["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 7, "{old}");
    let population = cells
        .iter()
        .find(|c| c["indicator_id"] == "population")
        .unwrap();
    assert_eq!(population["derived"], serde_json::json!(true));
    assert!(cells
        .iter()
        .all(|c| c["indicator_id"] != "natural_increase"));
    // Retract; a bad request reports the field.
    let (ok, _, err) = cli(&[
        "retract",
        "--server",
        &url,
        "--region",
        "MK19",
        "--indicator",
        "natural_increase",
        "--year",
        "2021",
        "--reason",
        " ",
    ]);
    assert!(!ok);
    assert!(err.contains("reason"), "{err}");
    let (ok, out, err) = cli(&[
        "retract",
        "--server",
        &url,
        "--region",
        "MK19",
        "--indicator",
        "natural_increase",
        "--year",
        "2021",
        "--reason",
        "entered for the wrong year",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("retracted"), "{out}");
    // A malformed CSV is refused before anything is sent.
    let bad = work.path().join("bad.csv");
    std::fs::write(
        &bad,
        "indicator_id,year,value,status,source\npopulation,2021,lots,final,x\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&[
        "submit",
        "--server",
        &url,
        "--file",
        bad.to_str().unwrap(),
        "--region",
        "19",
    ]);
    assert!(!ok);
    assert!(err.contains("line 2"), "{err}");

    // Export, then import into a fresh directory: same chain head, same pictures.
    let export = work.path().join("log.ndjson");
    let (ok, _, err) = cli(&[
        "export",
        "--server",
        &url,
        "--output",
        export.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let pictures = snapshot(&url, None).await;
    s.stop();
    let imported = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(&[
        "import",
        "--data-dir",
        imported.path().to_str().unwrap(),
        "--input",
        export.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let last_line = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let last: serde_json::Value = serde_json::from_str(&last_line).unwrap();
    assert!(out.contains(last["hash"].as_str().unwrap()), "{out}");
    let s2 = Proc::start(imported.path(), &[]);
    assert_eq!(snapshot(&s2.grpc_url, None).await, pictures);
    let export2 = work.path().join("log2.ndjson");
    let (ok, _, _) = cli(&[
        "export",
        "--server",
        &s2.grpc_url,
        "--output",
        export2.to_str().unwrap(),
    ]);
    assert!(ok);
    assert_eq!(
        std::fs::read(&export).unwrap(),
        std::fs::read(&export2).unwrap(),
        "the export round-trips byte for byte"
    );
    s2.stop();
    // Importing twice into the same directory is refused.
    let (ok, _, err) = cli(&[
        "import",
        "--data-dir",
        imported.path().to_str().unwrap(),
        "--input",
        export.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("already holds events"), "{err}");

    // A tampered export is refused, naming the first bad sequence, and writes nothing.
    let text = std::fs::read_to_string(&export).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let target = lines.len() - 3;
    let mut ev: serde_json::Value = serde_json::from_str(&lines[target]).unwrap();
    let bad_seq = ev["sequence"].as_u64().unwrap();
    ev["principal"] = serde_json::Value::String("mallory".into());
    lines[target] = ev.to_string();
    let tampered = work.path().join("tampered.ndjson");
    std::fs::write(&tampered, lines.join("\n")).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let (ok, _, err) = cli(&[
        "import",
        "--data-dir",
        fresh.path().to_str().unwrap(),
        "--input",
        tampered.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains(&format!("broken at sequence {bad_seq}")),
        "{err}"
    );
    assert!(!fresh.path().join("db").exists(), "nothing written");
}

fn promtool_check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is required for this test: install Debian's `prometheus` package (.ci/run does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_carry_the_situation_picture() {
    let s = InProc::start(true).await;
    // Some traffic so that every family has samples.
    let mut pic = s.picture().await;
    pic.get_national_picture(proto::GetNationalPictureRequest {
        borders: Default::default(),
        year: 2019,
        as_of: None,
        min_sequence: 0,
    })
    .await
    .unwrap();
    let _ = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "nope".into(),
            year: 2019,
            as_of: None,
            min_sequence: 0,
        })
        .await;
    let (status, body) = http_get(s.http, "/metrics").await;
    assert_eq!(status, 200);
    promtool_check(&body);
    let sample = |prefix: &str| metric(&body, prefix);
    assert_eq!(
        sample(
            r#"tilannekuva_indicator_value{region="MK01",indicator="natural_increase",theme="communities",year="2019"}"#
        ),
        3372.0
    );
    // The exposition says how many situation samples it holds, and on which borders.
    let situation = [
        "tilannekuva_indicator_",
        "tilannekuva_theme_score",
        "tilannekuva_region_coverage_ratio",
        "tilannekuva_region_info",
        "tilannekuva_group_",
        "tilannekuva_round_",
        "tilannekuva_situation_",
        "tilannekuva_disparity_",
        "tilannekuva_target_",
        "tilannekuva_similar_",
        "tilannekuva_forerunner_",
    ];
    let samples = body
        .lines()
        .filter(|l| situation.iter().any(|p| l.starts_with(p)))
        .count();
    assert_eq!(sample("tilannekuva_situation_series"), samples as f64);
    assert_eq!(sample("tilannekuva_situation_borders"), 2026.0);
    // Regions only: no municipality has a series.
    assert!(!body.contains("region=\"KU"), "a municipality in /metrics");
    assert_eq!(
        sample(
            r#"tilannekuva_indicator_national_value{indicator="unemployed_persons",theme="inclusion",year="2017",basis="official"}"#
        ),
        296496.0
    );
    // National values carry their basis (real data): the 19 regions' 2016 populations are
    // a complete sum (Statistics Finland's 5 503 297), 2008 is official (the SSS figure),
    // and Uusimaa's 2011 GDP per capita alone gives no national value at all (no sample).
    assert_eq!(
        sample(
            r#"tilannekuva_indicator_national_value{indicator="population",theme="communities",year="2016",basis="complete"}"#
        ),
        5_503_297.0
    );
    assert_eq!(
        sample(
            r#"tilannekuva_indicator_national_value{indicator="population",theme="communities",year="2008",basis="official"}"#
        ),
        5_326_314.0
    );
    let regions = |what: &str, indicator: &str, year: u32| {
        sample(&format!(
            r#"tilannekuva_indicator_national_regions_{what}{{indicator="{indicator}",theme="{}",year="{year}"}}"#,
            if indicator == "population" {
                "communities"
            } else {
                "business"
            }
        ))
    };
    // On the latest borders: the 19 regions of today, each put together from the population
    // of its municipalities.
    assert_eq!(regions("reported", "population", 2008), 19.0);
    assert_eq!(regions("expected", "population", 2008), 19.0);
    assert_eq!(regions("reported", "gdp_per_capita", 2011), 0.0);
    assert!(
        !body.contains(r#"tilannekuva_indicator_national_value{indicator="gdp_per_capita""#),
        "no national value from one region's rate"
    );
    assert_eq!(
        sample(
            r#"tilannekuva_indicator_rank{region="MK01",indicator="natural_increase",year="2019"}"#
        ),
        1.0
    );
    // Theme scores come from indicators that compare regions: inclusion has rates (of
    // unemployment, of offences); communities has figures of 2019 only for counts.
    assert!(
        body.contains(r#"tilannekuva_theme_score{region="MK01",theme="inclusion",year="2019"}"#)
    );
    assert!(
        !body.contains(r#"tilannekuva_theme_score{region="MK01",theme="communities",year="2019"}"#)
    );
    let coverage = sample(r#"tilannekuva_region_coverage_ratio{region="MK01",year="2019"}"#);
    assert!(coverage > 0.0 && coverage <= 1.0);
    assert!(sample("tilannekuva_log_sequence") > 900.0);
    assert_eq!(
        sample("tilannekuva_log_sequence"),
        sample("tilannekuva_projection_sequence")
    );
    assert!(sample("tilannekuva_store_size_bytes") > 0.0);
    assert!(sample(r#"tilannekuva_submissions_total{outcome="accepted"}"#) > 50.0);
    assert!(sample("tilannekuva_events_appended_total") > 800.0);
    assert_eq!(
        sample(
            r#"tilannekuva_grpc_requests_total{code="INVALID_ARGUMENT",method="GetRegionPicture"}"#
        ),
        1.0
    );
    assert!(body.contains(
        r#"tilannekuva_grpc_request_duration_seconds_bucket{method="GetNationalPicture""#
    ));
    assert!(body.contains(r#"tilannekuva_build_info{version=""#));
    // A scraper that accepts gzip (Prometheus does) gets the same exposition compressed.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut c = tokio::net::TcpStream::connect(s.http).await.unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        c.read_to_end(&mut raw).await.unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        assert!(head.contains("content-encoding: gzip"), "{head}");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(&raw[split + 4..]),
            &mut text,
        )
        .unwrap();
        let situation =
            |t: &str| t[t.find("# HELP tilannekuva_indicator_value").unwrap()..].to_owned();
        assert_eq!(situation(&text), situation(&body));
    }
    assert_eq!(http_get(s.http, "/healthz").await.0, 200);
    assert_eq!(http_get(s.http, "/readyz").await.0, 200);
    assert_eq!(http_get(s.http, "/nope").await.0, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{health_check_response::ServingStatus, HealthCheckRequest};
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let s = InProc::start(false).await;
    let mut health = HealthClient::new(s.channel().await);
    for service in [
        "",
        "tilannekuva.v1.IngestService",
        "tilannekuva.v1.PictureService",
        "tilannekuva.v1.CatalogService",
    ] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service}");
    }
    let mut refl = ServerReflectionClient::new(s.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = refl
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = resp.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "tilannekuva.v1.IngestService",
        "tilannekuva.v1.PictureService",
        "tilannekuva.v1.CatalogService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    s.stop().await;
}

/// The CLI as a council's clerk meets it: files saved by a Finnish spreadsheet, errors at
/// the file's lines and columns (each once), a dry run, the catalog listings, a template,
/// tables with names, units and grouped thousands, and a closed pipe ending it quietly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_reads_spreadsheet_files_and_prints_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(dir.path(), &["--demo"]);
    let url = s.grpc_url.clone();
    let work = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = work.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let submit = |file: &str, extra: &[&str]| {
        let mut args = vec![
            "submit", "--server", &url, "--region", "MK19", "--file", file,
        ];
        args.extend_from_slice(extra);
        cli(&args)
    };

    // A Finnish spreadsheet's CSV: BOM, semicolons, decimal comma, grouped digits, CRLF.
    let excel = write(
        "excel.csv",
        "\u{feff}indicator_id;year;value;status;source;note\r\n\
         population;2021;177\u{a0}161;final;Tilastokeskus, väestörakenne;\r\n\
         unemployment_rate_15_74;2021;9,4;provisional;Tilastokeskus, työvoimatutkimus;\r\n\
         natural_increase;2021;;provisional;;not yet published\r\n"
            .as_bytes(),
    );
    // A file whose rows name another region than --region is refused, naming the rows,
    // and nothing is sent; rows that name it by Statistics Finland's number go through.
    let other = write(
        "other.csv",
        b"region_code,indicator_id,year,value,status,source\n\
          19,population,2021,177161,final,SF\n\
          MK18,population,2021,1,final,SF\n\
          MK18,natural_increase,2021,1,final,SF\n",
    );
    let (ok, _, err) = submit(&other, &["--dry-run"]);
    assert!(!ok);
    for line in [3, 4] {
        assert!(
            err.contains(&format!(
                "line {line}: region_code MK18 names another area than --region MK19"
            )),
            "{err}"
        );
    }
    // Six bad rows, three found before sending and three by the server: all in one run,
    // each once, by line and column, and nothing written.
    let six = write(
        "six.csv",
        b"indicator_id,year,value,status,source\n\
          population,2021,177161,final,SF\n\
          population,20x1,1,final,SF\n\
          no_such_indicator,2021,1,final,SF\n\
          population,2021,lots,maybe,SF\n\
          unemployment_rate_15_74,2021,140,final,SF\n\
          population,2020,1,final,\n\
          population,1066,1,final,SF\n",
    );
    let before = head_at(s.channel().await).await;
    let (ok, _, err) = submit(&six, &[]);
    assert!(!ok);
    let listed: Vec<&str> = err.lines().filter(|l| l.starts_with("  line ")).collect();
    let places: Vec<String> = listed
        .iter()
        .map(|l| l.trim().split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        places,
        [
            "line 3, column 2 (year)",
            "line 4, column 1 (indicator_id)",
            "line 5, column 3 (value)",
            "line 5, column 4 (status)",
            "line 6, column 3 (value)",
            "line 7, column 5 (source)",
            "line 8, column 2 (year)",
        ],
        "{err}"
    );
    assert!(err.contains("7 problems, so nothing was written"), "{err}");
    assert_eq!(
        head_at(s.channel().await).await,
        before,
        "nothing was written"
    );
    // A dry run first: every check, nothing written.
    let (ok, out, err) = submit(&excel, &["--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("dry run"), "{out}");
    assert!(out.contains("recorded       2 (would be)"), "{out}");
    assert!(
        out.contains("skipped rows   1 without a value (lines 4)"),
        "{out}"
    );
    let (ok, out, err) = submit(&excel, &["--json"]);
    assert!(ok, "{err}");
    let receipt: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (receipt["recorded"].as_u64(), receipt["dry_run"].as_bool()),
        (Some(2), Some(false))
    );
    let (ok, out, _) = cli(&[
        "series",
        "--server",
        &url,
        "--region",
        "MK19",
        "--indicator",
        "unemployment_rate_15_74",
        "--from-year",
        "2021",
        "--to-year",
        "2021",
        "--json",
    ]);
    assert!(ok);
    let series: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        series["points"][0]["value"], 9.4,
        "the decimal comma was read"
    );

    // Errors name the file's line and column, once each.
    let bad = write(
        "bad.csv",
        b"indicator_id,year,value,status,source\n\
          population,2020,180000,final,SF\n\
          no_such_indicator,2020,1,final,SF\n\
          natural_increase,2020,-1,final,SF\n\
          population,2099,1,final,SF\n",
    );
    let (ok, _, err) = submit(&bad, &[]);
    assert!(!ok);
    assert!(
        err.contains("bad.csv: 2 problems")
            && err.contains("\n  line 3, column 1 (indicator_id): unknown indicator"),
        "{err}"
    );
    assert!(
        err.contains("\n  line 5, column 2 (year): year 2099 is after"),
        "{err}"
    );
    assert_eq!(
        err.matches("unknown indicator").count(),
        1,
        "once each:\n{err}"
    );
    assert_eq!(err.matches("2099").count(), 1, "once each:\n{err}");
    assert!(err.contains("2 problems, so nothing was written"), "{err}");
    // A syntax error names line and column before anything is sent.
    let syntax = write(
        "syntax.csv",
        b"indicator_id;year;value;status;source\npopulation;2020;1.234,5;final;SF\n",
    );
    let (ok, _, err) = submit(&syntax, &[]);
    assert!(!ok);
    assert!(
        err.contains("line 2, column 3 (value)") && err.contains("ambiguous"),
        "{err}"
    );
    let (ok, _, err) = submit(&write("empty.csv", b""), &[]);
    assert!(!ok && err.contains("empty"), "{err}");

    // The catalog, listed.
    let (ok, out, _) = cli(&["regions", "--server", &url]);
    assert!(ok);
    assert!(
        out.contains("MK21") && out.contains("Åland") && out.contains("Ahvenanmaa"),
        "{out}"
    );
    let (ok, out, _) = cli(&["indicators", "--server", &url, "--theme", "climate"]);
    assert!(ok);
    assert!(out.contains("ghg_emissions_kt"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("population")), "{out}");
    assert!(out.contains("8 indicators"), "{out}");

    // A template: the header and every indicator, BOM and semicolons for a spreadsheet.
    let template = work.path().join("template.csv");
    let (ok, _, err) = cli(&[
        "template",
        "--server",
        &url,
        "--region",
        "19",
        "--year",
        "2025",
        "--output",
        template.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&template).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFregion_code;indicator_id;year;value"));
    let parsed = tilannekuva::csvin::parse_file(&bytes).unwrap();
    let indicators = tilannekuva::domain::Catalog::bundled().indicators.len();
    assert_eq!((parsed.rows.len(), parsed.skipped.len()), (0, indicators));
    let text = String::from_utf8(bytes).unwrap().replace(
        "MK19;population;2025;;;;;",
        "MK19;population;2025;176 000;provisional;Tilastokeskus;;",
    );
    let (ok, out, err) = submit(&write("filled.csv", text.as_bytes()), &[]);
    assert!(ok, "{err}");
    assert!(out.contains("recorded       1"), "{out}");

    // Tables for people: region names, units, grouped thousands, neutral ranks, shares.
    let (ok, out, _) = cli(&[
        "picture", "--server", &url, "--region", "MK01", "--year", "2016",
    ]);
    assert!(ok);
    assert!(out.starts_with("Uusimaa (MK01), 2016"), "{out}");
    let row = out.lines().find(|l| l.starts_with("population")).unwrap();
    assert!(
        row.contains("persons") && row.contains("1 638 293"),
        "{row}"
    );
    assert!(
        row.contains("5 503 297") && row.contains("complete 19/19"),
        "{row}"
    );
    assert!(row.contains("29.8 %") && row.contains("neutral"), "{row}");
    // 2008 on its own borders (1.1.2009): 18 of that day's 20 regions are in the release.
    let (ok, out, _) = cli(&[
        "national",
        "--server",
        &url,
        "--year",
        "2008",
        "--borders",
        "own",
    ]);
    assert!(ok);
    assert!(out.contains("regions on the borders of 2009"), "{out}");
    let row = out.lines().find(|l| l.starts_with("population")).unwrap();
    assert!(
        row.contains("5 326 314") && row.contains("official") && row.contains("18/20"),
        "{row}"
    );

    // A reader that goes away (`| head`) ends the output quietly.
    let mut child = std::process::Command::new(bin())
        .args(["export", "--server", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.contains("\"sequence\":1"), "{first}");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    s.stop();
}

/// A partly-unchanged submission keeps its receipt across a real restart: its summary
/// event carries the whole request's digest, so a retry is still a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_unchanged_submission_is_a_duplicate_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = |natural_increase: f64| {
        submit_req(
            "lappi-2021",
            "MK19",
            vec![
                obs(
                    "population",
                    2021,
                    177_161.0,
                    proto::ObservationStatus::Final,
                ),
                obs(
                    "natural_increase",
                    2021,
                    natural_increase,
                    proto::ObservationStatus::Provisional,
                ),
            ],
        )
    };
    let s = Proc::start(dir.path(), &[]);
    let mut ing = IngestServiceClient::new(s.channel().await);
    let mut first = file(-700.0);
    first.submission_id = "lappi-2021-v1".into();
    ing.submit(first).await.unwrap();
    let receipt = ing.submit(file(-736.0)).await.unwrap().into_inner();
    assert_eq!((receipt.recorded, receipt.unchanged), (1, 1));
    s.stop();
    let s = Proc::start(dir.path(), &[]);
    let mut ing = IngestServiceClient::new(s.channel().await);
    let again = ing.submit(file(-736.0)).await.unwrap().into_inner();
    assert!(again.duplicate);
    assert_eq!(
        (
            again.first_sequence,
            again.last_sequence,
            again.region_revision,
            &again.receipt_hash,
            again.recorded,
            again.unchanged
        ),
        (
            receipt.first_sequence,
            receipt.last_sequence,
            receipt.region_revision,
            &receipt.receipt_hash,
            1,
            1
        )
    );
    let other = ing.submit(file(-800.0)).await.unwrap_err();
    assert_eq!(other.code(), tonic::Code::AlreadyExists);
    s.stop();
}

/// loadgen refuses a server with real figures (it writes synthetic values into real
/// regions) unless told, and marks what it writes; `--pid-file` names this instance for a
/// reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_refuses_real_data_and_the_pid_file_names_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("tilannekuva.pid");
    let s = Proc::start(
        &dir.path().join("data"),
        &["--demo", "--pid-file", pid_file.to_str().unwrap()],
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid.trim(), s.child.id().to_string());
    let (ok, _, err) = cli(&[
        "loadgen",
        "--server",
        &s.grpc_url,
        "--duration",
        "0.3",
        "--clients",
        "2",
    ]);
    assert!(!ok);
    assert!(
        err.contains("real figures") && err.contains("--allow-real-data"),
        "{err}"
    );
    s.stop();
    assert!(!pid_file.exists(), "removed at a clean stop");

    let fresh = tempfile::tempdir().unwrap();
    let s = Proc::start(fresh.path(), &[]);
    // The floor of one RPC needs no figures; the picture reads do, and say so.
    let (ok, out, err) = cli(&[
        "loadgen",
        "--server",
        &s.grpc_url,
        "--read",
        "health",
        "--duration",
        "0.2",
    ]);
    assert!(ok && out.contains("(0 errors)"), "{out}{err}");
    let (ok, _, err) = cli(&[
        "loadgen",
        "--server",
        &s.grpc_url,
        "--read",
        "region",
        "--duration",
        "0.2",
    ]);
    assert!(!ok && err.contains("holds no figures"), "{err}");
    for _ in 0..2 {
        let (ok, out, err) = cli(&[
            "loadgen",
            "--server",
            &s.grpc_url,
            "--duration",
            "0.3",
            "--clients",
            "2",
        ]);
        assert!(ok, "{err}");
        assert!(!out.contains("acknowledged: 0 "), "{out}");
    }
    // With scrapers: phases without and with them, reported side by side; the scrapes
    // were answered and read to their end.
    let metrics_url = format!("http://{}/metrics", s.http);
    let (ok, out, err) = cli(&[
        "loadgen",
        "--server",
        &s.grpc_url,
        "--duration",
        "1.6",
        "--clients",
        "1",
        "--scrapers",
        "3",
        "--phase",
        "0.4",
        "--metrics-url",
        &metrics_url,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("without scrapers:") && out.contains("with scrapers:"),
        "{out}"
    );
    assert!(out.contains("p99 with / without:"), "{out}");
    assert!(number_after(&out, "with scrapers:", ' ') > 0, "{out}");
    assert!(number_after(&out, "scrapes: ", ' ') >= 1, "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
    // A wrong metrics address fails before the run, saying so.
    let (ok, _, err) = cli(&[
        "loadgen",
        "--server",
        &s.grpc_url,
        "--duration",
        "0.3",
        "--scrapers",
        "1",
        "--phase",
        "0.1",
        "--metrics-url",
        "http://127.0.0.1:1/metrics",
    ]);
    assert!(!ok);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    // Reads of what it wrote, the floor of one RPC (the health Check), and the region
    // pictures as open data over HTTP: answered, no errors.
    let http_url = format!("http://{}", s.http);
    for kind in ["region", "health", "open-data"] {
        let (ok, out, err) = cli(&[
            "loadgen",
            "--server",
            &s.grpc_url,
            "--http-url",
            &http_url,
            "--read",
            kind,
            "--duration",
            "0.3",
            "--clients",
            "2",
        ]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("read={kind} ")), "{out}");
        assert!(number_after(&out, "answered: ", ' ') > 0, "{out}");
        assert!(out.contains("(0 errors)"), "{out}");
    }
    // The same reads beside a floor that answers the same bytes with no work.
    let (ok, out, err) = cli(&[
        "loadgen",
        "--server",
        &s.grpc_url,
        "--read",
        "region",
        "--floor",
        "--duration",
        "0.8",
        "--clients",
        "2",
    ]);
    assert!(ok, "{err}");
    let (floor, service) = out.split_once("== service").expect("both sides");
    assert!(number_after(floor, "answered: ", ' ') > 0, "{out}");
    assert!(number_after(service, "answered: ", ' ') > 0, "{out}");
    assert_eq!(out.matches("(0 errors)").count(), 2, "{out}");
    assert!(out.contains("service / floor: "), "{out}");
    let mut synthetic = 0;
    for e in events_from(s.channel().await, 1).await {
        if let Some(proto::event::Payload::ObservationRecorded(o)) = e.payload {
            let o = o.observation.unwrap();
            assert_eq!(o.source, tilannekuva::cli::SYNTHETIC_SOURCE);
            synthetic += 1;
        }
    }
    assert!(synthetic > 0);
    s.stop();
}
