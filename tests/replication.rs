//! Replication over NATS JetStream with real `nats-server` processes the tests start: the
//! writer's outbox, read replicas, `sync` acknowledgements, repair from the stream and the
//! fencing of a stale writer. Every wait is bounded; every process is stopped.

mod common;

use std::time::Duration;

use common::*;
use tilannekuva::proto;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tilannekuva::proto::ObservationStatus::Provisional;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);

async fn submit(
    s: &Proc,
    id: &str,
    region: &str,
    value: f64,
) -> Result<proto::SubmitResponse, tonic::Status> {
    IngestServiceClient::new(s.channel().await)
        .submit(submit_req(
            id,
            region,
            vec![obs("population", 2021, value, Provisional)],
        ))
        .await
        .map(|r| r.into_inner())
}

/// The server's last sequence and the hash of its last event.
async fn head(s: &Proc) -> (u64, Vec<u8>) {
    let mut pic = PictureServiceClient::new(s.channel().await);
    let seq = pic
        .get_national_picture(proto::GetNationalPictureRequest {
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .as_of_sequence;
    let mut events = pic
        .read_events(proto::ReadEventsRequest {
            from_sequence: seq,
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut hash = Vec::new();
    while let Some(m) = events.message().await.unwrap() {
        hash = m.event.unwrap().hash;
    }
    (seq, hash)
}

/// The national pictures of a few years at `sequence` (waiting for it), encoded.
async fn national(s: &Proc, sequence: u64) -> Vec<u8> {
    use prost::Message;
    let mut pic = PictureServiceClient::new(s.channel().await);
    let mut out = Vec::new();
    for year in [2008, 2016, 2019, 2021, 2022] {
        let p = pic
            .get_national_picture(proto::GetNationalPictureRequest {
                year,
                as_of: Some(proto::AsOf {
                    point: Some(proto::as_of::Point::Sequence(sequence)),
                }),
                min_sequence: sequence,
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(p.encode_to_vec());
    }
    out
}

async fn metrics(s: &Proc) -> String {
    http_get(s.http, "/metrics").await.1
}

/// Waits until `replica` has applied everything up to `sequence`.
async fn caught_up(replica: &Proc, sequence: u64) {
    eventually(WAIT, "the replica to catch up", || async {
        (head(replica).await.0 >= sequence).then_some(())
    })
    .await
}

/// Every message of the stream, in order: stream sequence = event sequence, 1..=last, each
/// linking to the one before. Returns the last sequence.
async fn stream_matches_a_chain(nats: &Nats) -> u64 {
    let cfg = tilannekuva::replication::NatsConfig {
        url: nats.url.clone(),
        stream: "TILANNEKUVA".into(),
        replicas: 1,
    };
    let js = tilannekuva::replication::connect(&cfg).await.unwrap();
    let stream = js.get_stream("TILANNEKUVA").await.unwrap();
    let last = tilannekuva::replication::last_sequence(&stream)
        .await
        .unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!(info.state.messages, last, "no gap, no duplicate");
    assert_eq!(info.state.first_sequence, 1);
    let mut prev = vec![0u8; 32];
    for seq in 1..=last {
        let e = tilannekuva::replication::event_at(&stream, seq)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no message {seq}"));
        assert_eq!(e.sequence, seq);
        assert_eq!(
            e.prev_hash.to_vec(),
            prev,
            "event {seq} links to {}",
            seq - 1
        );
        prev = e.hash.to_vec();
    }
    last
}

/// A writer and two replicas (one started empty after the writes) converge to the same
/// chain head and byte-identical national pictures; the stream's sequence is the log's;
/// replicas refuse writes naming the writer, and `min_sequence` on a replica waits for a
/// write made on the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_and_replicas_converge() {
    let nats = Nats::start();
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let writer = Proc::start(dirs[0].path(), &["--nats-url", &nats.url, "--demo"]);
    let early = Proc::start(dirs[1].path(), &["--follow", &nats.url]);
    let mut last = 0;
    for i in 0..5 {
        last = submit(&writer, &format!("w-{i}"), "MK19", 177_000.0 + f64::from(i))
            .await
            .unwrap()
            .last_sequence;
    }
    // Read-your-writes on a replica: a read with the write's sequence waits for it.
    let p = PictureServiceClient::new(early.channel().await)
        .get_region_picture(proto::GetRegionPictureRequest {
            region_code: "MK19".into(),
            year: 2021,
            as_of: None,
            min_sequence: last,
        })
        .await
        .unwrap()
        .into_inner();
    let cell = p
        .cells
        .iter()
        .find(|c| c.indicator_id == "population")
        .unwrap();
    assert_eq!(cell.value, 177_004.0);
    let late = Proc::start(dirs[2].path(), &["--follow", &nats.url]);
    let (seq, hash) = head(&writer).await;
    assert_eq!(seq, last);
    caught_up(&early, seq).await;
    caught_up(&late, seq).await;
    let expected = national(&writer, seq).await;
    for replica in [&early, &late] {
        assert_eq!(head(replica).await, (seq, hash.clone()), "same chain head");
        assert_eq!(
            national(replica, seq).await,
            expected,
            "same national pictures"
        );
    }
    assert_eq!(stream_matches_a_chain(&nats).await, seq);
    // A replica refuses writes, naming the stream to write through.
    let err = submit(&late, "on-a-replica", "MK19", 1.0)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("read replica"), "{}", err.message());
    // Roles and lags in /metrics.
    let w = metrics(&writer).await;
    assert_eq!(metric(&w, r#"tilannekuva_role{role="writer"}"#), 1.0);
    let lag = eventually(WAIT, "the outbox lag to reach 0", || async {
        let m = metrics(&writer).await;
        (metric(&m, "tilannekuva_nats_outbox_lag_events") == 0.0).then_some(m)
    })
    .await;
    assert_eq!(metric(&lag, "tilannekuva_nats_outbox_sequence"), seq as f64);
    let r = metrics(&late).await;
    assert_eq!(metric(&r, r#"tilannekuva_role{role="replica"}"#), 1.0);
    assert_eq!(metric(&r, "tilannekuva_log_sequence"), seq as f64);
    // A replica restarted resumes from its own last sequence.
    late.stop();
    submit(&writer, "after-restart", "MK19", 1.0).await.unwrap();
    let late = Proc::start(dirs[2].path(), &["--follow", &nats.url]);
    let (seq, hash) = head(&writer).await;
    caught_up(&late, seq).await;
    assert_eq!(head(&late).await, (seq, hash));
    for p in [writer, early, late] {
        p.stop();
    }
}

/// NATS killed (SIGKILL) and restarted during ingest in `async` mode: every submission is
/// acknowledged meanwhile, the outbox lag grows and falls back to 0, and the stream ends
/// holding the whole log, one message per sequence, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_lost_and_back_during_ingest() {
    let mut nats = Nats::start();
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let writer = Proc::start(dirs[0].path(), &["--nats-url", &nats.url]);
    let replica = Proc::start(dirs[1].path(), &["--follow", &nats.url]);
    let mut n = 0;
    let mut ingest = |count: u32| {
        let start = n;
        n += count;
        let writer = &writer;
        async move {
            for i in start..start + count {
                submit(writer, &format!("i-{i}"), "MK01", f64::from(i))
                    .await
                    .unwrap_or_else(|e| panic!("submission {i} refused: {e}"));
            }
        }
    };
    ingest(20).await;
    nats.kill();
    ingest(30).await;
    let m = eventually(WAIT, "the outbox to notice", || async {
        let m = metrics(&writer).await;
        (metric(&m, "tilannekuva_nats_outbox_lag_events") > 0.0).then_some(m)
    })
    .await;
    assert_eq!(metric(&m, "tilannekuva_nats_connected"), 0.0);
    nats.restart();
    ingest(20).await;
    let (seq, hash) = head(&writer).await;
    eventually(WAIT, "the outbox to catch up", || async {
        let m = metrics(&writer).await;
        (metric(&m, "tilannekuva_nats_outbox_sequence") == seq as f64).then_some(())
    })
    .await;
    caught_up(&replica, seq).await;
    assert_eq!(head(&replica).await, (seq, hash));
    assert_eq!(stream_matches_a_chain(&nats).await, seq);
    writer.stop();
    replica.stop();
}

/// `sync`: an answer waits for the stream. With NATS gone a write is durable locally but
/// answered UNAVAILABLE (retry is safe); when NATS is back the retry is acknowledged as the
/// same submission, and the replica has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mode_acknowledges_only_what_the_stream_holds() {
    let mut nats = Nats::start();
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let writer = Proc::start(
        dirs[0].path(),
        &[
            "--nats-url",
            &nats.url,
            "--replication",
            "sync",
            "--replication-timeout",
            "1",
        ],
    );
    let replica = Proc::start(dirs[1].path(), &["--follow", &nats.url]);
    let ok = submit(&writer, "s-1", "MK02", 1.0).await.unwrap();
    // Acknowledged in sync mode: the stream holds it already.
    assert!(stream_matches_a_chain(&nats).await >= ok.last_sequence);
    nats.kill();
    let err = submit(&writer, "s-2", "MK02", 2.0).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    assert!(err
        .message()
        .contains("retrying with the same submission_id is safe"));
    nats.restart();
    let retried = eventually(WAIT, "the retry to be acknowledged", || async {
        submit(&writer, "s-2", "MK02", 2.0).await.ok()
    })
    .await;
    assert!(retried.duplicate, "the first attempt was recorded");
    assert!(stream_matches_a_chain(&nats).await >= retried.last_sequence);
    caught_up(&replica, retried.last_sequence).await;
    writer.stop();
    replica.stop();
}

/// A writer whose store is behind the stream (a restored backup) takes the missing events
/// from it before serving, and goes on from there; a store that disagrees with the stream
/// is refused, naming the sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_behind_the_stream_is_repaired_a_different_one_refused() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let writer = Proc::start(dir.path(), &["--nats-url", &nats.url]);
    submit(&writer, "r-1", "MK04", 1.0).await.unwrap();
    writer.stop();
    copy_dir(dir.path(), backup.path());
    let writer = Proc::start(dir.path(), &["--nats-url", &nats.url]);
    for i in 2..6 {
        submit(&writer, &format!("r-{i}"), "MK04", f64::from(i))
            .await
            .unwrap();
    }
    let (seq, hash) = head(&writer).await;
    eventually(WAIT, "the outbox to catch up", || async {
        let m = metrics(&writer).await;
        (metric(&m, "tilannekuva_nats_outbox_sequence") == seq as f64).then_some(())
    })
    .await;
    writer.stop();
    // The backup lacks r-2..r-5: it takes them from the stream, then writes on.
    let restored = Proc::start(backup.path(), &["--nats-url", &nats.url]);
    assert_eq!(head(&restored).await, (seq, hash));
    let next = submit(&restored, "r-6", "MK04", 6.0).await.unwrap();
    assert_eq!(next.last_sequence, seq + 1);
    restored.stop();
    // A store with other events than the stream's is refused.
    let other = tempfile::tempdir().unwrap();
    let standalone = Proc::start(other.path(), &[]);
    submit(&standalone, "other-1", "MK04", 99.0).await.unwrap();
    standalone.stop();
    let out = std::process::Command::new(bin())
        .args([
            "serve",
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(other.path())
        .args(["--nats-url", &nats.url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("disagree from sequence 1 on"), "{err}");
    // What it holds and the stream does not is reported in a file, nothing dropped.
    let report = std::fs::read_dir(other.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("divergent-1-"))
        .unwrap_or_else(|| panic!("no divergent-*.ndjson file; {err}"));
    assert!(err.contains(&report.display().to_string()), "{err}");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("other-1"), "{text}");
}

/// Two writers on one stream (a stale one): the first publish of the one that lost the race
/// fails, and from then on it refuses every write (`UNAVAILABLE`, `/readyz` 503, fenced in
/// `/metrics`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_is_fenced() {
    let nats = Nats::start();
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = Proc::start(a_dir.path(), &["--nats-url", &nats.url]);
    submit(&a, "f-1", "MK05", 1.0).await.unwrap();
    a.stop();
    copy_dir(a_dir.path(), b_dir.path());
    let a = Proc::start(a_dir.path(), &["--nats-url", &nats.url]);
    let b = Proc::start(b_dir.path(), &["--nats-url", &nats.url]);
    let (seq, _) = head(&a).await;
    // A writes first and the stream takes it.
    submit(&a, "f-a", "MK05", 2.0).await.unwrap();
    eventually(WAIT, "A's event in the stream", || async {
        let m = metrics(&a).await;
        (metric(&m, "tilannekuva_nats_outbox_sequence") == (seq + 1) as f64).then_some(())
    })
    .await;
    // B (async mode) acknowledges its own event at the same sequence; the stream refuses it.
    submit(&b, "f-b", "MK05", 3.0).await.unwrap();
    eventually(WAIT, "B to be fenced", || async {
        let m = metrics(&b).await;
        (metric(&m, "tilannekuva_fenced") == 1.0).then_some(())
    })
    .await;
    let err = submit(&b, "f-b-2", "MK05", 4.0).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(http_get(b.http, "/readyz").await.0, 503);
    // B's acknowledged event that the stream does not hold is reported: metric and file.
    eventually(WAIT, "B's divergent event reported", || async {
        let m = metrics(&b).await;
        (metric(&m, "tilannekuva_divergent_events") == 1.0).then_some(())
    })
    .await;
    let report = b_dir
        .path()
        .join(format!("divergent-{}-{}.ndjson", seq + 1, seq + 1));
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("f-b") && !text.contains("f-a"), "{text}");
    assert_eq!(http_get(a.http, "/readyz").await.0, 200);
    assert_eq!(stream_matches_a_chain(&nats).await, seq + 1);
    a.stop();
    b.stop();
}

/// Copies a stopped store's directory.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
