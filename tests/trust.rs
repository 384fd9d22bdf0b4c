//! Trust: who may write what, safe defaults, TLS, limits and hostile input. Every refusal
//! is a clear status, appends nothing, and the server keeps serving.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::catalog_service_client::CatalogServiceClient;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tilannekuva::proto::ObservationStatus::{Final, Provisional};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

async fn head(ch: tonic::transport::Channel, token: &str) -> u64 {
    PictureServiceClient::new(ch)
        .get_national_picture(with_token(
            proto::GetNationalPictureRequest {
                borders: Default::default(),
                year: 2020,
                as_of: None,
                min_sequence: 0,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .as_of_sequence
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_who_writes_what() {
    let (uusimaa, e1) = new_token("uusimaa-council", "reporter", &["01"]);
    let (national, e2) = new_token("statistics-finland", "national_reporter", &[]);
    let (reader, e3) = new_token("ministry", "reader", &[]);
    let (admin, e4) = new_token("ops", "admin", &[]);
    let (ok, _, err) = cli(&["token", "new", "--name", "x", "--role", "reporter"]);
    assert!(!ok && err.contains("at least one --region"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("auth.toml");
    std::fs::write(&auth_file, [e1, e2, e3, e4].join("\n\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let s = Proc::start(&data, &["--auth-file", auth_file.to_str().unwrap()]);
    let ch = s.channel().await;
    let mut ing = IngestServiceClient::new(ch.clone());
    let start = head(ch.clone(), &reader).await;
    let sub = |id: &str, region: &str| {
        submit_req(id, region, vec![obs("population", 2020, 1000.0, Final)])
    };

    // No token, an unknown token.
    let err = ing.submit(sub("a", "MK01")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = ing
        .submit(with_token(sub("a", "MK01"), "tk_nope"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = PictureServiceClient::new(ch.clone())
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: Default::default(),
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // A reporter writes its own region (by either code), not another one.
    let r = ing
        .submit(with_token(sub("u-1", "MK01"), &uusimaa))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.first_sequence, start + 1);
    ing.submit(with_token(
        submit_req("u-2", "01", vec![obs("population", 2021, 1000.0, Final)]),
        &uusimaa,
    ))
    .await
    .unwrap();
    let err = ing
        .submit(with_token(sub("u-3", "MK02"), &uusimaa))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = ing
        .submit(with_token(sub("u-4", "SSS"), &uusimaa))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // The national reporter writes SSS only.
    ing.submit(with_token(sub("n-1", "SSS"), &national))
        .await
        .unwrap();
    assert_eq!(
        ing.submit(with_token(sub("n-2", "MK01"), &national))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // Readers and admins write no figures; a reader cannot retract either.
    assert_eq!(
        ing.submit(with_token(sub("r-1", "MK01"), &reader))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        ing.submit(with_token(sub("a-1", "MK01"), &admin))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let retract = proto::RetractRequest {
        borders: Default::default(),
        submission_id: "ret".into(),
        region_code: "MK01".into(),
        indicator_id: "population".into(),
        year: 2020,
        reason: "test".into(),
        expected_region_revision: None,
    };
    assert_eq!(
        ing.retract(with_token(retract.clone(), &reader))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // Only an admin defines indicators.
    let def = proto::DefineIndicatorRequest {
        indicator: Some(proto::Indicator {
            id: "bike_km".into(),
            name_fi: "Pyöräkilometrit".into(),
            name_en: "Cycled km".into(),
            theme: "climate".into(),
            unit: "km".into(),
            direction: proto::Direction::HigherIsBetter as i32,
            aggregation: proto::Aggregation::Sum as i32,
            ..Default::default()
        }),
        submission_id: "def-bike".into(),
    };
    let mut cat = CatalogServiceClient::new(ch.clone());
    assert_eq!(
        cat.define_indicator(with_token(def.clone(), &uusimaa))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    cat.define_indicator(with_token(def.clone(), &admin))
        .await
        .unwrap();
    let after = head(ch.clone(), &reader).await;
    assert_eq!(after, start + 4, "refused requests appended nothing");

    // The token's name is the principal of the events it wrote.
    let h = PictureServiceClient::new(ch.clone())
        .get_observation_history(with_token(
            proto::GetObservationHistoryRequest {
                borders: Default::default(),
                region_code: "MK01".into(),
                indicator_id: "population".into(),
                year: 2020,
                as_of: None,
                min_sequence: 0,
            },
            &reader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.revisions[0].principal, "uusimaa-council");

    // Every refusal is counted.
    let (_, body) = http_get_authed(s.http, "/metrics", &reader).await;
    assert_eq!(
        metric(
            &body,
            r#"tilannekuva_auth_refusals_total{reason="unauthenticated"}"#
        ),
        3.0
    );
    assert_eq!(
        metric(
            &body,
            r#"tilannekuva_auth_refusals_total{reason="permission_denied"}"#
        ),
        7.0
    );

    // SIGHUP reloads the file: a new token works without a restart; a broken file keeps
    // the old tokens.
    let (late, e5) = new_token("pirkanmaa-council", "reporter", &["MK06"]);
    assert_eq!(
        ing.submit(with_token(sub("p-1", "MK06"), &late))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let text = std::fs::read_to_string(&auth_file).unwrap();
    std::fs::write(&auth_file, format!("{text}\n{e5}\n")).unwrap();
    let hup = || {
        assert!(Command::new("kill")
            .arg("-HUP")
            .arg(s.child.id().to_string())
            .status()
            .unwrap()
            .success())
    };
    hup();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ing.submit(with_token(sub("p-1", "MK06"), &late)).await {
            Ok(_) => break,
            Err(e) => assert_eq!(e.code(), Code::Unauthenticated),
        }
        assert!(Instant::now() < deadline, "the reloaded token never worked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every call needs a token, ListRegions included (health probes excepted).
    let mut cat = CatalogServiceClient::new(ch.clone());
    let err = cat
        .list_regions(proto::ListRegionsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(cat
        .list_regions(with_token(proto::ListRegionsRequest {}, &reader))
        .await
        .is_ok());
    // The health check is the one call without a token; its Watch stream needs one.
    {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::HealthCheckRequest;
        let mut health = HealthClient::new(ch.clone());
        let check = health
            .check(HealthCheckRequest {
                service: "tilannekuva.v1.PictureService".into(),
            })
            .await
            .unwrap();
        assert_eq!(check.into_inner().status, 1, "SERVING");
        let watch = || HealthCheckRequest {
            service: String::new(),
        };
        let err = health.watch(watch()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let mut stream = health
            .watch(with_token(watch(), &reader))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stream.message().await.unwrap().unwrap().status, 1);
    }
    // A reload that revokes a token ends the streams it holds open; others go on.
    let mut pic = PictureServiceClient::new(ch.clone());
    let next = head(ch.clone(), &reader).await + 1;
    let follow = |token: &str| {
        with_token(
            proto::ReadEventsRequest {
                from_sequence: next,
                follow: true,
            },
            token,
        )
    };
    let mut revoked = pic.read_events(follow(&reader)).await.unwrap().into_inner();
    let mut kept = pic
        .read_events(follow(&uusimaa))
        .await
        .unwrap()
        .into_inner();
    let without_reader: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.contains("\"ministry\""))
        .collect();
    assert_eq!(without_reader.len(), 3, "{text}");
    std::fs::write(
        &auth_file,
        format!("{}\n{e5}\n", without_reader.join("\n\n")),
    )
    .unwrap();
    hup();
    let end = tokio::time::timeout(Duration::from_secs(20), revoked.message())
        .await
        .expect("the revoked token's stream ends");
    assert_eq!(end.unwrap_err().code(), Code::Unauthenticated);
    // The kept token's stream is still open: the next event reaches it.
    let r = ing
        .submit(with_token(
            submit_req(
                "u-kept",
                "MK01",
                vec![obs("population", 2023, 1000.0, Final)],
            ),
            &uusimaa,
        ))
        .await
        .unwrap()
        .into_inner();
    let event = tokio::time::timeout(Duration::from_secs(20), kept.message())
        .await
        .expect("the kept stream goes on")
        .unwrap()
        .unwrap()
        .event
        .unwrap();
    assert_eq!(
        (event.sequence, event.submission_id.as_str()),
        (r.first_sequence, "u-kept")
    );
    assert_eq!(
        r.first_sequence, next,
        "nothing else was appended meanwhile"
    );
    drop(kept);
    // An empty auth file is refused like a broken one: counted, the old tokens stay.
    std::fs::write(&auth_file, "").unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = http_get_authed(s.http, "/metrics", &admin).await;
        if body.contains(r#"tilannekuva_auth_reloads_total{outcome="error"} 1"#) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the empty file's reload was not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ing
        .submit(with_token(sub("p-2", "MK06"), &late))
        .await
        .is_ok());
    std::fs::write(&auth_file, "this is not toml [[[").unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = http_get_authed(s.http, "/metrics", &admin).await;
        if body.contains(r#"tilannekuva_auth_reloads_total{outcome="error"} 2"#) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the failed reload was not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ing.submit(with_token(
        submit_req("u-5", "MK01", vec![obs("population", 2022, 1000.0, Final)]),
        &uusimaa,
    ))
    .await
    .unwrap();
    s.stop();
}

#[test]
fn refuses_non_loopback_without_auth_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args([
            "serve",
            "--grpc-listen",
            "0.0.0.0:0",
            "--http-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 (gRPC) without an auth file"),
        "{err}"
    );
    // With --insecure it starts (and is stopped again at once).
    let s = Proc::start(dir.path(), &["--insecure"]);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_generated_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let s = Proc::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    let url = s.grpc_url.replace("http://127.0.0.1", "https://localhost");
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.cert.pem()))
        .domain_name("localhost");
    let ch = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let regions = CatalogServiceClient::new(ch)
        .list_regions(proto::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    // The 19 regions of today, Itä-Uusimaa (until 2010) and SSS.
    assert_eq!(regions.len(), 21);
    // Plain text to the TLS port gets no answer.
    let plain = tonic::transport::Channel::from_shared(s.grpc_url.clone())
        .unwrap()
        .connect()
        .await;
    if let Ok(ch) = plain {
        assert!(CatalogServiceClient::new(ch)
            .list_regions(proto::ListRegionsRequest {})
            .await
            .is_err());
    }
    // The CLI with the CA certificate.
    let (ok, out, err) = cli(&[
        "national",
        "--server",
        &url,
        "--ca-cert",
        cert_path.to_str().unwrap(),
        "--year",
        "2020",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("\"year\":2020"), "{out}");
    // The HTTP port speaks TLS too (a token sent for the open data is never in clear
    // text): Python's own TLS client reads the open data and /readyz with the CA
    // certificate, and plain HTTP gets no answer.
    let script = r#"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
for path in ("/readyz", "/v1/national/picture?year=2020&format=csv"):
    with urllib.request.urlopen("https://localhost:%s%s" % (sys.argv[2], path), context=ctx, timeout=10) as r:
        print(r.status, r.headers.get("x-as-of-sequence"), r.read().decode().splitlines()[0])
try:
    urllib.request.urlopen("http://127.0.0.1:%s/readyz" % sys.argv[2], timeout=5)
    print("PLAIN ANSWERED")
except Exception as e:
    print("plain refused:", type(e).__name__)
"#;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            cert_path.to_str().unwrap(),
            &s.http.port().to_string(),
        ])
        .output()
        .expect("python3 (the test virtualenv's, on PATH: see .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("200") && lines[0].ends_with("ready"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("200") && lines[1].contains("year,indicator"),
        "{text}"
    );
    assert!(lines[2].starts_with("plain refused"), "{text}");
    s.stop();
}

/// Reads until the server closes the connection (EOF or an error).
async fn read_until_closed(c: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match c.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Checks that the server still serves a normal client and appended nothing.
async fn still_serving(s: &InProc, expected_head: u64) {
    assert_eq!(head_sequence(s).await, expected_head, "nothing appended");
    let mut ing = s.ingest().await;
    let r = ing
        .submit(submit_req(
            &format!("ok-{expected_head}"),
            "MK11",
            // A value of its own: an observation equal to the cell's current value would be
            // unchanged and append nothing.
            vec![obs(
                "population",
                2020,
                248_000.0 + expected_head as f64,
                Provisional,
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.first_sequence, expected_head + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_statuses() {
    let s = InProc::start(false).await;
    let mut ing = s.ingest().await;
    let mut head = head_sequence(&s).await;
    let cases: Vec<(&str, proto::SubmitRequest)> = vec![
        (
            "NaN",
            submit_req("h1", "MK01", vec![obs("population", 2020, f64::NAN, Final)]),
        ),
        (
            "+inf",
            submit_req(
                "h2",
                "MK01",
                vec![obs("population", 2020, f64::INFINITY, Final)],
            ),
        ),
        (
            "-inf",
            submit_req(
                "h3",
                "MK01",
                vec![obs("population", 2020, f64::NEG_INFINITY, Final)],
            ),
        ),
        (
            "out of range",
            submit_req(
                "h4",
                "MK01",
                vec![obs("unemployment_rate_15_64", 2020, 140.0, Final)],
            ),
        ),
        (
            "year",
            submit_req("h5", "MK01", vec![obs("population", 3000, 1.0, Final)]),
        ),
        (
            "region",
            submit_req("h6", "MK99", vec![obs("population", 2020, 1.0, Final)]),
        ),
        (
            "indicator",
            submit_req("h7", "MK01", vec![obs("happiness", 2020, 1.0, Final)]),
        ),
        (
            "empty id",
            submit_req("", "MK01", vec![obs("population", 2020, 1.0, Final)]),
        ),
        (
            "long id",
            submit_req(
                &"i".repeat(10_000),
                "MK01",
                vec![obs("population", 2020, 1.0, Final)],
            ),
        ),
        ("empty batch", submit_req("h8", "MK01", vec![])),
        ("long source", {
            let mut o = obs("population", 2020, 1.0, Final);
            o.source = "s".repeat(100_000);
            submit_req("h9", "MK01", vec![o])
        }),
        (
            "control characters",
            submit_req(
                "h\u{0}\u{7}",
                "MK01",
                vec![obs("population", 2020, 1.0, Final)],
            ),
        ),
        (
            "batch over the limit",
            submit_req(
                "h10",
                "MK01",
                (0..10_001)
                    .map(|i| obs("population", 1990 + (i % 100), 1.0, Provisional))
                    .collect(),
            ),
        ),
    ];
    for (what, req) in cases {
        let err = ing.submit(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        assert!(!violations(&err).is_empty(), "{what}: field violations");
    }
    still_serving(&s, head).await;
    head += 1;

    // A message over the 4 MiB limit is refused while being read.
    let big: Vec<proto::Observation> = (0..3000)
        .map(|i| {
            let mut o = obs("population", 1990 + (i % 100), 1.0, Provisional);
            o.note = "n".repeat(2000);
            o
        })
        .collect();
    let err = ing
        .submit(submit_req("huge", "MK01", big))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(
        err.message().contains("message") || err.message().contains("length"),
        "{err:?}"
    );
    still_serving(&s, head).await;
    head += 1;

    // Read requests with bad arguments.
    let mut pic = s.picture().await;
    let err = pic
        .get_region_picture(proto::GetRegionPictureRequest {
            borders: Default::default(),
            region_code: "MK01".into(),
            year: -5,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let bad_time = Some(proto::AsOf {
        point: Some(proto::as_of::Point::RecordedAt(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: -1,
        })),
    });
    let err = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: Default::default(),
            year: 2020,
            as_of: bad_time,
            min_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    still_serving(&s, head).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_and_idle_connections_do_not_stop_the_server() {
    let s = InProc::start_with(false, Some(Duration::from_millis(500))).await;
    let mut head = head_sequence(&s).await;
    let grpc_addr = s.grpc_url.trim_start_matches("http://").to_owned();

    // Garbage bytes on the gRPC port: the server closes the connection.
    let mut c = tokio::net::TcpStream::connect(&grpc_addr).await.unwrap();
    c.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(4096))
        .await
        .unwrap_or(());
    let closed = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut c)).await;
    assert!(closed.is_ok(), "the server closed the garbage connection");
    still_serving(&s, head).await;
    head += 1;

    // A valid HTTP/2 preface and then a truncated frame.
    let mut c = tokio::net::TcpStream::connect(&grpc_addr).await.unwrap();
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    c.write_all(&[
        0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
    ])
    .await
    .unwrap();
    drop(c);
    // A HEADERS frame claiming 16 KiB and delivering 3 bytes, then silence.
    let mut c2 = tokio::net::TcpStream::connect(&grpc_addr).await.unwrap();
    c2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    c2.write_all(&[0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00])
        .await
        .unwrap();
    c2.write_all(&[
        0x00, 0x40, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01, 0x82, 0x86, 0x84,
    ])
    .await
    .unwrap();
    still_serving(&s, head).await;
    head += 1;

    // Garbage on the HTTP port.
    let mut h = tokio::net::TcpStream::connect(s.http).await.unwrap();
    h.write_all(b"\x16\x03\x01\x02\x00GARBAGE\r\n\r\n\x00\xff")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), h.read_to_end(&mut reply)).await;
    assert!(
        reply.is_empty() || String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(http_get(s.http, "/healthz").await.0, 200);

    // A thousand idle connections from another address: the server keeps serving (those
    // beyond that address's share are closed at once), then closes them when idle.
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(
            connect_from("127.0.0.2", grpc_addr.parse().unwrap())
                .await
                .unwrap(),
        );
    }
    still_serving(&s, head).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    for mut c in idle {
        // The server speaks first (its HTTP/2 SETTINGS); then it must close the connection.
        let left = deadline.saturating_duration_since(Instant::now());
        let closed = tokio::time::timeout(left, read_until_closed(&mut c)).await;
        assert!(
            closed.is_ok(),
            "an idle connection was closed by the server"
        );
    }
    let (_, body) = http_get(s.http, "/metrics").await;
    assert!(
        metric(&body, "tilannekuva_grpc_connections") < 10.0,
        "idle connections were closed"
    );
    s.stop().await;
}

/// Open streams are bounded per caller and in all: eight readers take their 16 each, the
/// 128 of the server; a ninth is refused (RESOURCE_EXHAUSTED at once, not queued), as is a
/// 17th stream of any of them; unary calls still work, and a slot frees when a stream
/// ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_open_streams_are_refused_not_queued() {
    use tilannekuva::limits::{MAX_OPEN_STREAMS, MAX_STREAMS_PER_CALLER};
    let readers: Vec<(String, String)> = (0..=MAX_OPEN_STREAMS / MAX_STREAMS_PER_CALLER)
        .map(|i| new_token(&format!("reader-{i}"), "reader", &[]))
        .collect();
    let auth: String = readers.iter().map(|(_, e)| format!("{e}\n")).collect();
    let s = InProc::start_authed(&auth).await;
    let ch = s.channel().await;
    let follow = |token: &str| {
        let mut client = PictureServiceClient::new(ch.clone());
        let req = with_token(
            proto::ReadEventsRequest {
                from_sequence: u64::MAX,
                follow: true,
            },
            token,
        );
        async move { client.read_events(req).await }
    };
    let (last, full) = readers.split_last().unwrap();
    let mut open = Vec::new();
    for (token, _) in full {
        for _ in 0..MAX_STREAMS_PER_CALLER {
            open.push(follow(token).await.unwrap().into_inner());
        }
    }
    assert_eq!(open.len(), MAX_OPEN_STREAMS);
    let err = follow(&full[0].0).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("its share"), "{}", err.message());
    let err = follow(&last.0).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("too many streams"),
        "{}",
        err.message()
    );
    // Unary calls still work, and a stream slot frees when a stream ends.
    assert!(head(ch.clone(), &last.0).await > 0);
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match follow(&last.0).await {
            Ok(_) => break,
            Err(e) => assert_eq!(e.code(), Code::ResourceExhausted),
        }
        assert!(Instant::now() < deadline, "the stream slot was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body) = http_get_authed(s.http, "/metrics", &last.0).await;
    assert!(
        metric(
            &body,
            r#"tilannekuva_requests_refused_total{reason="streams_per_caller"}"#
        ) >= 1.0
    );
    assert!(
        metric(
            &body,
            r#"tilannekuva_requests_refused_total{reason="streams"}"#
        ) >= 1.0
    );
    drop(open);
    s.stop().await;
}

/// Issue 8's attack, over raw HTTP/2: connections that open hundreds of unauthenticated
/// streams whose request bodies never finish. The gate refuses each at its headers, so
/// they hold no request slot, and a valid client is served throughout; every refusal is
/// counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_streams_with_unfinished_bodies_stall_nobody() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let (reader, e1) = new_token("ministry", "reader", &[]);
    let (lappi, e2) = new_token("lapland-council", "reporter", &["19"]);
    let s = InProc::start_authed(&format!("{e1}\n{e2}\n")).await;
    let addr = s.grpc_url.trim_start_matches("http://").to_owned();

    // 5 connections × 250 streams to GetRegionPicture without a token, each with a DATA
    // frame that announces a 100-byte message and sends 1 byte of it; and a sixth
    // connection doing the same to the health check, which needs no token.
    let mut held = Vec::new();
    let mut answers = Vec::new();
    let mut health_answers = Vec::new();
    let mut clients = Vec::new();
    for connection in 0..6 {
        let path = if connection == 5 {
            "/grpc.health.v1.Health/Check"
        } else {
            "/tilannekuva.v1.PictureService/GetRegionPicture"
        };
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // 250 health answers arrive at once, each with a small DATA frame: this client's
        // h2 would take that many unread small frames for abuse (its data-frame budget)
        // and close its own connection, so it is given room for them.
        let (client, conn) = h2::client::Builder::new()
            .data_frame_budget(1 << 20)
            .handshake(tcp)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut client = client;
        let uri = format!("http://{addr}{path}");
        for _ in 0..250 {
            let (next, answer, body) = send_unfinished(client, &uri, None).await;
            client = next;
            held.push(body);
            if connection == 5 {
                // Read at once, as a probe does (h2 bounds unread small DATA frames).
                health_answers.push(tokio::spawn(async move {
                    let resp = answer.await.unwrap();
                    let mut body = resp.into_body();
                    let mut message = Vec::new();
                    while let Some(chunk) = body.data().await {
                        message.extend_from_slice(&chunk.unwrap());
                    }
                    let trailers = body.trailers().await.unwrap().unwrap();
                    (
                        trailers["grpc-status"].to_str().unwrap().to_owned(),
                        message,
                    )
                }));
            } else {
                answers.push(answer);
            }
        }
        clients.push(client);
    }
    // A valid client is served while all of them are held open.
    let ch = s.channel().await;
    for round in 0..5 {
        let t = std::time::Instant::now();
        let head = head(ch.clone(), &reader).await;
        assert!(head > 0);
        lapland_submits(ch.clone(), &format!("during-attack-{round}"), round, &lappi)
            .await
            .unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(15),
            "round {round} took {:?}",
            t.elapsed()
        );
    }
    // The anonymous health checks were answered SERVING at their headers, each of them,
    // while their bodies were still unfinished: they held nothing.
    let mut health_codes = std::collections::BTreeMap::new();
    for answer in health_answers {
        let (code, message) = tokio::time::timeout(std::time::Duration::from_secs(10), answer)
            .await
            .expect("answered without waiting for the body")
            .unwrap();
        // 5-byte prefix, then field 1 (status) = 1 (SERVING).
        assert_eq!(
            message,
            [0, 0, 0, 0, 2, 0x08, 0x01],
            "a HealthCheckResponse"
        );
        *health_codes.entry(code).or_insert(0) += 1;
    }
    assert_eq!(
        health_codes.get("0").copied(),
        Some(250),
        "{health_codes:?}"
    );
    let health = HealthClient::new(ch.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(health.into_inner().status, 1, "SERVING");
    // Every attacking stream was answered UNAUTHENTICATED at its headers.
    let mut unauthenticated = 0;
    for answer in answers {
        let resp = tokio::time::timeout(std::time::Duration::from_secs(10), answer)
            .await
            .expect("answered without waiting for the body")
            .unwrap();
        if resp.headers().get("grpc-status").map(|v| v.as_bytes()) == Some(b"16") {
            unauthenticated += 1;
        }
    }
    assert_eq!(unauthenticated, 1250);
    let (_, body) = http_get_authed(s.http, "/metrics", &reader).await;
    assert_eq!(
        metric(
            &body,
            r#"tilannekuva_grpc_requests_total{code="UNAUTHENTICATED",method="GetRegionPicture"}"#
        ),
        1250.0
    );
    assert!(
        metric(
            &body,
            r#"tilannekuva_auth_refusals_total{reason="unauthenticated"}"#
        ) >= 1250.0
    );
    drop((held, clients));
    s.stop().await;
}

/// One gRPC call over raw HTTP/2 with the given message bytes (framed here); the answer's
/// grpc-status, from the headers (trailers-only) or the trailers.
async fn raw_grpc_status(addr: &str, path: &str, message: &[u8], truncate_frame: bool) -> String {
    raw_grpc_answer(addr, path, message, truncate_frame, 0).await
}

/// As [`raw_grpc_status`], with a header of `padding` bytes; an HTTP answer other than
/// 200 is given as `http NNN`, a stream reset before any answer as `reset REASON`, a
/// request h2 would not send as `refused locally: …`.
async fn raw_grpc_answer(
    addr: &str,
    path: &str,
    message: &[u8],
    truncate_frame: bool,
    padding: usize,
) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if padding > 0 {
        req = req.header("x-padding", "p".repeat(padding));
    }
    let req = req.body(()).unwrap();
    // Once the server's SETTINGS have arrived, h2 itself refuses to send a header list over
    // their bound: that is a local refusal (`refused locally`), not an answer.
    let (answer, mut body) = match client.send_request(req, false) {
        Ok(sent) => sent,
        Err(e) => return format!("refused locally: {e}"),
    };
    let mut frame = vec![0u8];
    let announced = message.len() as u32 + u32::from(truncate_frame) * 10;
    frame.extend_from_slice(&announced.to_be_bytes());
    frame.extend_from_slice(message);
    // The server may answer (431) or reset the stream before the body is sent: then what it
    // said is read below.
    let _ = body.send_data(bytes::Bytes::from(frame), true);
    let resp = match answer.await {
        Ok(resp) => resp,
        // The stream was reset before its answer was read (h2 follows a 431 with a reset,
        // and the client may see the reset first).
        Err(e) if e.reason().is_some() => return format!("reset {:?}", e.reason().unwrap()),
        Err(e) => panic!("{e}"),
    };
    if resp.status() != http::StatusCode::OK {
        return format!("http {}", resp.status().as_u16());
    }
    if let Some(s) = resp.headers().get("grpc-status") {
        return s.to_str().unwrap().to_owned();
    }
    let mut body = resp.into_body();
    while let Some(chunk) = body.data().await {
        let _ = chunk.unwrap();
    }
    let trailers = body.trailers().await.unwrap().unwrap();
    trailers["grpc-status"].to_str().unwrap().to_owned()
}

/// Requests that do not decode — invalid UTF-8 in a string, a truncated protobuf message,
/// a frame shorter than it announces — are the client's error (INVALID_ARGUMENT), and are
/// counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_arguments_and_counted() {
    let s = InProc::start(false).await;
    let addr = s.grpc_url.trim_start_matches("http://").to_owned();
    let submit = "/tilannekuva.v1.IngestService/Submit";
    // Field 1 (submission_id), length 2, bytes that are not UTF-8.
    let bad_utf8 = [0x0a, 0x02, 0xff, 0xfe];
    // Field 1, announcing 10 bytes, with 2.
    let truncated = [0x0a, 0x0a, b'a', b'b'];
    assert_eq!(raw_grpc_status(&addr, submit, &bad_utf8, false).await, "3");
    assert_eq!(raw_grpc_status(&addr, submit, &truncated, false).await, "3");
    assert_eq!(raw_grpc_status(&addr, submit, b"", true).await, "3");
    let region = "/tilannekuva.v1.PictureService/GetRegionPicture";
    assert_eq!(raw_grpc_status(&addr, region, &bad_utf8, false).await, "3");
    let (_, body) = http_get(s.http, "/metrics").await;
    assert_eq!(
        metric(
            &body,
            r#"tilannekuva_grpc_requests_total{code="INVALID_ARGUMENT",method="Submit"}"#
        ),
        3.0
    );
    assert!(!body.contains(r#"code="INTERNAL""#), "no INTERNAL answer");
    still_serving(&s, head_sequence(&s).await).await;
    s.stop().await;
}

/// Request metadata over 16 KiB is refused by the gate (`OUT_OF_RANGE`, counted) before
/// the token is read; over HTTP/2's own 64 KiB bound hyper answers 431 itself. Neither
/// stops the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_metadata_is_out_of_range_and_counted() {
    let s = InProc::start(false).await;
    let addr = s.grpc_url.trim_start_matches("http://").to_owned();
    let region = "/tilannekuva.v1.PictureService/GetRegionPicture";
    // Just under the bound: served (an empty request is a valid one here: INVALID_ARGUMENT
    // for the missing region, from the handler).
    let answer = raw_grpc_answer(&addr, region, b"", false, 15 * 1024).await;
    assert_eq!(answer, "3", "15 KiB of metadata reaches the handler");
    assert_eq!(
        raw_grpc_answer(&addr, region, b"", false, 20 * 1024).await,
        "11",
        "20 KiB of metadata is OUT_OF_RANGE"
    );
    // The 431 is followed by a stream reset, which the client may see first, and a client
    // that has the server's SETTINGS already does not send such a head at all: asked until
    // the 431 itself is read.
    let mut answers = Vec::new();
    while answers.len() < 20 {
        let answer = raw_grpc_answer(&addr, region, b"", false, 100 * 1024).await;
        let refused = answer == "reset REFUSED_STREAM" || answer.starts_with("refused locally");
        answers.push(answer);
        if !refused {
            break;
        }
    }
    assert_eq!(
        answers.last().map(String::as_str),
        Some("http 431"),
        "100 KiB is beyond HTTP/2's own bound: {answers:?}"
    );
    let (_, body) = http_get(s.http, "/metrics").await;
    assert_eq!(
        metric(
            &body,
            r#"tilannekuva_grpc_requests_total{code="OUT_OF_RANGE",method="GetRegionPicture"}"#
        ),
        1.0
    );
    still_serving(&s, head_sequence(&s).await).await;
    s.stop().await;
}

/// The HTTP port bounds its connections (per address, and of them those without a token),
/// request heads (time and size) and idle time: silent and slow connections from one
/// address neither stop `/healthz` and gRPC for the others nor hold descriptors or memory
/// for long; the excess is refused and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_http_connections_do_not_stop_health_or_grpc() {
    // The limits, with long timeouts so that nothing closes meanwhile.
    let s = InProc::start_with(false, Some(Duration::from_secs(60))).await;
    let connect = || connect_from("127.0.0.2", s.http);
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(connect().await.unwrap());
    }
    // Heads that never finish.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut c = connect().await.unwrap();
        let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: a").await;
        slow.push(c);
    }
    assert_eq!(http_get(s.http, "/healthz").await.0, 200);
    let head = head_sequence(&s).await;
    assert!(head > 0);
    // A head over the limit is answered 431 and closed, not buffered.
    let mut big = tokio::net::TcpStream::connect(s.http).await.unwrap();
    let _ = big.write_all(b"GET /healthz HTTP/1.1\r\nX-Big: ").await;
    let _ = big.write_all(&vec![b'a'; 64 * 1024]).await;
    let mut answer = vec![0u8; 12];
    let _ = big.read_exact(&mut answer).await;
    assert_eq!(
        &answer,
        b"HTTP/1.1 431",
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(big);
    // That address holds its share of connections without a token (32): 100 more are
    // closed at once.
    let mut extra = Vec::new();
    for _ in 0..100 {
        extra.push(connect().await.unwrap());
    }
    let closed = futures::future::join_all(extra.iter_mut().map(|c| async move {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(3), c.read(&mut b)).await,
            Ok(Ok(0))
        )
    }))
    .await;
    let closed_at_once = closed.iter().filter(|c| **c).count();
    assert_eq!(
        closed_at_once, 100,
        "{closed_at_once} of 100 closed at once"
    );
    still_serving(&s, head).await;
    let (_, body) = http_get(s.http, "/metrics").await;
    assert_eq!(
        metric(
            &body,
            r#"tilannekuva_http_connections_refused_total{reason="peer_unauthenticated_limit"}"#
        ),
        (240 - 32 + 100) as f64
    );
    drop((silent, slow, extra));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Once the client side closed them, the server frees their slots.
        if let Ok(Ok((200, body))) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::spawn(http_get(s.http, "/metrics")),
        )
        .await
        {
            if metric(&body, "tilannekuva_http_connections ") <= 2.0 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the slots were not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.stop().await;

    // The timeouts (one second here; 10 s for a head and 30 s idle by default) close
    // silent and slow connections.
    let s = InProc::start_with(false, Some(Duration::from_secs(1))).await;
    // 30: within one address's share, so that each is held until its timeout.
    let mut held = Vec::new();
    for i in 0..30 {
        let mut c = tokio::net::TcpStream::connect(s.http).await.unwrap();
        if i % 6 == 0 {
            c.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: a")
                .await
                .unwrap();
        }
        held.push(c);
    }
    for c in &mut held {
        tokio::time::timeout(Duration::from_secs(15), read_until_closed(c))
            .await
            .expect("the server closes a silent or slow connection");
    }
    assert_eq!(http_get(s.http, "/healthz").await.0, 200);
    s.stop().await;
}
