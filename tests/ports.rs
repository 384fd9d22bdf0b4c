//! Nobody without a token can hold a port, and no caller can starve the others: the
//! attacks of issue 22, reproduced at their numbers from another loopback address
//! (127.0.0.2) than the clients they must not disturb, which are served throughout.
//!
//! - 4,100 HTTP/2 connections that answer the server's pings (and send their own) but make
//!   no request: closed at the first request's bound, the excess at once; a client that
//!   connects during the flood is served.
//! - 256 HTTP/1.1 connections that pipeline 400 `GET /openapi.json` each and never read:
//!   closed at the write timeout; `/healthz`, `/readyz`, `/metrics` and the open data are
//!   answered meanwhile.
//! - A reader's three floods — 1,200 reads waiting on `min_sequence = 2^63`, 1,250 requests
//!   with unfinished bodies, 130 unread `ReadEvents(follow)` streams — take at most its
//!   share; a reporter's `Submit` and another reader are served, and every refusal is
//!   counted by reason.
//! - `/metrics` needs a token when an auth file is configured.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::catalog_service_client::CatalogServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

/// The address the attacks come from; the protected clients use 127.0.0.1.
const ATTACKER: &str = "127.0.0.2";

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// An HTTP/2 frame: 24-bit length, type, flags, stream 0.
fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend([kind, flags, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

const SETTINGS: u8 = 4;
const PING: u8 = 6;
const ACK: u8 = 1;

/// An HTTP/2 client that never makes a request: the preface and SETTINGS, then it answers
/// every SETTINGS and PING of the server and sends a PING of its own every 300 ms. Returns
/// when the server closes the connection.
async fn pinger(mut c: TcpStream) {
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(SETTINGS, 0, &[]));
    if c.write_all(&out).await.is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    loop {
        tokio::select! {
            read = c.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                let mut answers = Vec::new();
                while buf.len() >= 9 {
                    let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
                    if buf.len() < 9 + len {
                        break;
                    }
                    let (kind, flags) = (buf[3], buf[4]);
                    if kind == PING && flags & ACK == 0 {
                        answers.extend(frame(PING, ACK, &buf[9..9 + len]));
                    } else if kind == SETTINGS && flags & ACK == 0 {
                        answers.extend(frame(SETTINGS, ACK, &[]));
                    }
                    buf.drain(..9 + len);
                }
                if !answers.is_empty() && c.write_all(&answers).await.is_err() {
                    return;
                }
            }
            _ = tick.tick() => {
                if c.write_all(&frame(PING, 0, b"attacker")).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A new channel from 127.0.0.1 for every call, as a client that connects during the
/// flood.
async fn fresh_channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("a client connects during the flood")
}

fn tokens() -> (String, String, String, String) {
    let (reader, e1) = new_token("ministry", "reader", &[]);
    let (lappi, e2) = new_token("lapland-council", "reporter", &["19"]);
    let (other, e3) = new_token("evaluator", "reader", &[]);
    (reader, lappi, other, format!("{e1}\n{e2}\n{e3}\n"))
}

/// Issue 22, point 1: 4,100 connections from one address that answer every ping but make
/// no request no longer hold the gRPC port. The excess over that address's share of
/// unauthenticated connections is closed at once, the rest at the first request's bound
/// (pings do not count), and a client connecting meanwhile — a new connection for every
/// call — is served, as are the health endpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_only_answer_pings_do_not_hold_the_grpc_port() {
    let (reader, lappi, _, auth) = tokens();
    // The first request's bound (and the idle timeout, and the keepalive interval, half
    // of it) shortened from 10 s to 3 s.
    let bound = Duration::from_secs(3);
    let s = InProc::start_full(false, Some(bound), Some(&auth)).await;
    let to = addr_of(&s.grpc_url);
    let flood_started = Instant::now();
    let closed = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..4100 {
        let c = connect_from(ATTACKER, to).await.expect("connect");
        let closed = closed.clone();
        flood.push(tokio::spawn(async move {
            pinger(c).await;
            closed.fetch_add(1, Ordering::Relaxed);
            Instant::now()
        }));
    }
    // Served throughout: a new connection for every call, until every attacking
    // connection is gone.
    let mut rounds = 0;
    while closed.load(Ordering::Relaxed) < 4100 {
        let t = Instant::now();
        let ch = fresh_channel(&s.grpc_url).await;
        CatalogServiceClient::new(ch.clone())
            .list_regions(with_token(proto::ListRegionsRequest::default(), &reader))
            .await
            .expect("a reader is served during the flood");
        lapland_submits(ch, &format!("during-ping-flood-{rounds}"), rounds, &lappi)
            .await
            .expect("a reporter is served during the flood");
        assert_eq!(http_get(s.http, "/healthz").await.0, 200);
        assert_eq!(http_get(s.http, "/readyz").await.0, 200);
        println!("round {rounds}: served in {:?}", t.elapsed());
        rounds += 1;
        assert!(
            flood_started.elapsed() < Duration::from_secs(60),
            "{} of 4,100 attacking connections still open after 60 s",
            4100 - closed.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut last_close = Duration::ZERO;
    for f in flood {
        last_close = last_close.max(f.await.unwrap() - flood_started);
    }
    println!(
        "4,100 ping-answering connections: all closed within {last_close:?} (bound {bound:?}); \
         a new client served {rounds} times meanwhile"
    );
    assert!(
        rounds >= 3,
        "the flood lasted past the bound: {rounds} rounds"
    );
    let (_, body) = http_get_authed(s.http, "/metrics", &reader).await;
    let refused = metric(
        &body,
        r#"tilannekuva_grpc_connections_refused_total{reason="peer_unauthenticated_limit"}"#,
    );
    let no_request = metric(
        &body,
        r#"tilannekuva_grpc_connections_closed_total{reason="no_request"}"#,
    );
    println!("refused at once: {refused}, closed for making no request: {no_request}");
    assert_eq!(
        refused + no_request,
        4100.0,
        "every attacking connection accounted for"
    );
    assert!(no_request >= 128.0 && refused >= 3900.0);
    s.stop().await;
}

/// Issue 22, point 2: 256 connections from one address that each pipeline 400
/// `GET /openapi.json` and never read no longer shut the HTTP port. All but that
/// address's share are closed at once, the rest when their writes have been blocked for
/// the write timeout; `/healthz`, `/readyz`, `/metrics` and the open data are answered
/// meanwhile from 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_read_do_not_shut_the_http_port() {
    let (reader, _, _, auth) = tokens();
    // The write timeout (20 s by default) and the idle timeout shortened to 3 s.
    let s = InProc::start_full(false, Some(Duration::from_secs(3)), Some(&auth)).await;
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(400);
    let flood_started = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..256 {
        let mut c = connect_from(ATTACKER, s.http).await.expect("connect");
        // The requests go out as far as the socket takes them; nothing is ever read.
        let request = request.clone();
        flood.push(tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(60), c.write_all(&request)).await;
            // Held (unread) until the test ends.
            c
        }));
    }
    let mut rounds = 0;
    loop {
        let t = Instant::now();
        for path in ["/healthz", "/readyz"] {
            assert_eq!(http_get(s.http, path).await.0, 200, "{path}");
        }
        let (status, body) = http_get_authed(s.http, "/metrics", &reader).await;
        assert_eq!(status, 200);
        let (status, _) =
            http_get_authed(s.http, "/v1/regions/MK01/picture?year=2021", &reader).await;
        assert_eq!(status, 200);
        println!(
            "round {rounds}: health, metrics and open data in {:?}",
            t.elapsed()
        );
        rounds += 1;
        // Only the protected client's connection (this scrape's) is left.
        if metric(&body, "tilannekuva_http_connections ") <= 1.0 {
            let timed_out = metric(
                &body,
                r#"tilannekuva_http_connections_closed_total{reason="write_timeout"}"#,
            );
            let refused = metric(
                &body,
                r#"tilannekuva_http_connections_refused_total{reason="peer_unauthenticated_limit"}"#,
            );
            println!(
                "256 unread pipelining connections: closed within {:?}: {timed_out} at the write \
                 timeout, {refused} at once",
                flood_started.elapsed()
            );
            assert!(timed_out >= 32.0, "{timed_out}");
            assert!(refused >= 200.0, "{refused}");
            break;
        }
        assert!(
            flood_started.elapsed() < Duration::from_secs(60),
            "the unread connections were still open after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rounds >= 3, "{rounds}");
    drop(flood);
    s.stop().await;
}

/// The silent connections of the hardening tests at scale: 24,000 connections from one
/// address, opened as fast as the client can, each held until the server closes it. The
/// probes from another address are answered throughout, none queued behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_connections_does_not_queue_the_probes() {
    let s = InProc::start_full(false, Some(Duration::from_secs(3)), None).await;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let (to, done) = (s.http, done.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            for i in 0..24_000u32 {
                if let Ok(c) = connect_from(ATTACKER, to).await {
                    held.push(c);
                }
                // What the server closed is let go (the client's descriptors are finite too).
                if i % 500 == 0 {
                    held.retain(|c| {
                        let mut b = [0u8; 1];
                        !matches!(c.try_read(&mut b), Ok(0))
                    });
                }
            }
            done.store(true, Ordering::Relaxed);
            held.len()
        })
    };
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while !done.load(Ordering::Relaxed) {
        let t = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(5), http_get(s.http, "/healthz"))
            .await
            .expect("a probe is answered within 5 s during the flood");
        assert_eq!(answer.0, 200);
        slowest = slowest.max(t.elapsed());
        probes += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = flood.await.unwrap();
    println!("24,000 silent connections: {probes} probes, the slowest in {slowest:?}; {held} held at the end");
    assert!(probes >= 3);
    s.stop().await;
}

/// Issue 22, point 4: a reader's floods take at most its share. 1,200 reads waiting on a
/// sequence that never comes, 1,250 requests whose bodies never finish and 130 unread
/// streams, all with one reader's token; a reporter's submissions and another reader's
/// reads and stream are served, and the refusals are counted by reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_readers_floods_take_only_its_share() {
    let (reader, lappi, other, auth) = tokens();
    let s = InProc::start_full(false, None, Some(&auth)).await;
    let served = |round: u32, what: &'static str| {
        let (url, lappi, other) = (s.grpc_url.clone(), lappi.clone(), other.clone());
        async move {
            let ch = fresh_channel(&url).await;
            lapland_submits(ch.clone(), &format!("{what}-{round}"), round, &lappi)
                .await
                .unwrap_or_else(|e| {
                    panic!("{what}: the reporter's Submit {round} was refused: {e}")
                });
            lapland_read(ch, &other)
                .await
                .unwrap_or_else(|e| panic!("{what}: another reader was refused: {e}"));
        }
    };

    // 1. 1,200 reads waiting on min_sequence = 2^63, over six connections.
    let mut waiting = Vec::new();
    for _ in 0..6 {
        let ch = fresh_channel(&s.grpc_url).await;
        for _ in 0..200 {
            let mut client = PictureServiceClient::new(ch.clone());
            let token = reader.clone();
            waiting.push(tokio::spawn(async move {
                client
                    .get_region_picture(with_token(
                        proto::GetRegionPictureRequest {
                            region_code: "MK01".into(),
                            year: 2021,
                            min_sequence: 1 << 63,
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.code())
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..12 {
        served(round, "waiting-reads").await;
    }
    let mut codes = std::collections::BTreeMap::new();
    for w in waiting {
        let code = w.await.unwrap().err();
        *codes.entry(format!("{code:?}")).or_insert(0) += 1;
    }
    println!("1,200 waiting reads: {codes:?}");
    assert_eq!(
        codes.get("Some(ResourceExhausted)"),
        Some(&(1200 - 192)),
        "the reader's share is 192: {codes:?}"
    );

    // 2. 1,250 authenticated requests whose bodies never finish: raw HTTP/2, five
    // connections of 250 streams.
    let to = addr_of(&s.grpc_url);
    let mut held = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..5 {
        let tcp = TcpStream::connect(to).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut client = client;
        let uri = format!("http://{to}/tilannekuva.v1.PictureService/GetRegionPicture");
        for _ in 0..250 {
            let (next, answer, body) = send_unfinished(client, &uri, Some(&reader)).await;
            client = next;
            held.push(body);
            answers.push(answer);
        }
    }
    for round in 0..12 {
        served(round, "unfinished-bodies").await;
    }
    let mut exhausted = 0;
    for answer in answers.drain(..) {
        if let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_millis(100), answer).await {
            if resp.headers().get("grpc-status").map(|v| v.as_bytes()) == Some(b"8") {
                exhausted += 1;
            }
        }
    }
    println!("1,250 unfinished bodies: {exhausted} refused at their headers");
    assert_eq!(exhausted, 1250 - 192, "the reader's share is 192");
    // The unfinished requests end (reset) and give their slots back.
    drop(held);
    eventually(
        Duration::from_secs(40),
        "the reader's slots come back",
        || {
            let (url, reader) = (s.grpc_url.clone(), reader.clone());
            async move { lapland_read(fresh_channel(&url).await, &reader).await.ok() }
        },
    )
    .await;

    // 3. 130 ReadEvents(follow) streams the reader never reads.
    let ch = fresh_channel(&s.grpc_url).await;
    let mut streams = Vec::new();
    let mut refused = 0;
    for _ in 0..130 {
        match PictureServiceClient::new(ch.clone())
            .read_events(with_token(
                proto::ReadEventsRequest {
                    from_sequence: 1,
                    follow: true,
                },
                &reader,
            ))
            .await
        {
            Ok(st) => streams.push(st.into_inner()),
            Err(e) => {
                assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
                refused += 1;
            }
        }
    }
    println!(
        "130 unread streams: {} open, {refused} refused",
        streams.len()
    );
    assert_eq!(streams.len(), tilannekuva::limits::MAX_STREAMS_PER_CALLER);
    // Another reader follows, and the reporter is served.
    let mut theirs = PictureServiceClient::new(ch.clone())
        .read_events(with_token(
            proto::ReadEventsRequest {
                from_sequence: 1,
                follow: true,
            },
            &other,
        ))
        .await
        .expect("another reader's stream opens")
        .into_inner();
    assert!(theirs.message().await.unwrap().is_some());
    for round in 0..12 {
        served(round, "unread-streams").await;
    }

    let (_, body) = http_get_authed(s.http, "/metrics", &other).await;
    let count = |reason: &str| {
        metric(
            &body,
            &format!(r#"tilannekuva_requests_refused_total{{reason="{reason}"}}"#),
        )
    };
    println!(
        "refused: reads_per_caller {}, streams_per_caller {}",
        count("reads_per_caller"),
        count("streams_per_caller")
    );
    assert_eq!(count("reads_per_caller"), f64::from(1008 + 1058));
    assert_eq!(count("streams_per_caller"), 114.0);
    assert_eq!(count("writes") + count("writes_per_caller"), 0.0);
    drop(streams);
    s.stop().await;
}

/// Issue 22, point 3: with an auth file, `/metrics` (which carries the figures) needs a
/// token like every read; the probes need none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_a_token_when_auth_is_configured() {
    let (reader, _, _, auth) = tokens();
    let s = InProc::start_full(false, None, Some(&auth)).await;
    let (status, body) = http_get(s.http, "/metrics").await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("tilannekuva_"), "no figure without a token");
    let (status, _) = http_get_authed(s.http, "/metrics", "tk_not_a_token").await;
    assert_eq!(status, 401);
    let (status, body) = http_get_authed(s.http, "/metrics", &reader).await;
    assert_eq!(status, 200);
    assert!(body.contains("tilannekuva_situation_series"));
    assert_eq!(http_get(s.http, "/healthz").await.0, 200);
    assert_eq!(http_get(s.http, "/readyz").await.0, 200);
    s.stop().await;
}
