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
    let ch = s.channel().await;
    let seq = head_at(ch.clone()).await;
    let hash = events_from(ch, seq)
        .await
        .pop()
        .map(|e| e.hash)
        .unwrap_or_default();
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
                borders: Default::default(),
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
    // The replica first takes the demo (some 120,000 events); the read-your-writes check
    // below is about the writes that follow.
    let demo_end = head_at(writer.channel().await).await;
    eventually(
        Duration::from_secs(120),
        "the replica to take the demo",
        || async { (head_at(early.channel().await).await >= demo_end).then_some(()) },
    )
    .await;
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
            borders: Default::default(),
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
    // Within a third of the lease's time to live it names the writer's address.
    eventually(WAIT, "the refusal to name the writer", || async {
        let err = submit(&late, "on-a-replica", "MK19", 1.0)
            .await
            .unwrap_err();
        err.message().contains(&writer.grpc_url).then_some(())
    })
    .await;
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
    // ReadEvents with `follow` on a replica delivers the writer's next event.
    let mut feed = PictureServiceClient::new(late.channel().await)
        .read_events(proto::ReadEventsRequest {
            from_sequence: seq + 1,
            follow: true,
        })
        .await
        .unwrap()
        .into_inner();
    let fed = submit(&writer, "followed", "MK19", 2.0).await.unwrap();
    let event = tokio::time::timeout(WAIT, feed.message())
        .await
        .expect("the replica's feed delivers")
        .unwrap()
        .unwrap()
        .event
        .unwrap();
    assert_eq!(event.sequence, fed.last_sequence);
    assert_eq!(event.submission_id, "followed");
    drop(feed);
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
    // loadgen measures how soon an acknowledged write is visible on the replica.
    let (ok, out, err) = cli(&[
        "loadgen",
        "--server",
        &writer.grpc_url,
        "--replica",
        &replica.grpc_url,
        "--clients",
        "1",
        "--duration",
        "0.5",
        "--allow-real-data",
    ]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("visible on the replica:"))
        .unwrap_or_else(|| panic!("{out}"));
    let counts: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        counts.len() >= 2 && counts[0] == counts[1] && counts[0] > 0,
        "{line}"
    );
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
    let err = refused_start(other.path(), &["--nats-url", &nats.url]);
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

/// The metric `name` of `s`, once it equals `value`.
async fn metric_reaches(s: &Proc, name: &str, value: f64) {
    eventually(WAIT, name, || async {
        let m = metrics(s).await;
        (metric(&m, name) == value).then_some(())
    })
    .await
}

/// A writer cut off from NATS (a partition) goes on acknowledging writes in `async` mode;
/// its lease lapses and the standby takes over and writes. When the partition heals, the
/// old writer is fenced — it refuses every write (`UNAVAILABLE`, `/readyz` 503) — and the
/// writes it acknowledged that the stream does not hold are reported (metric and file),
/// none silently dropped. A second writer cannot start while the lease is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_writer_is_fenced_and_reports_what_it_acknowledged() {
    let nats = Nats::start();
    let proxy = Proxy::start(nats.port).await;
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ttl = ["--lease-ttl", "2"];
    let a = Proc::start(
        a_dir.path(),
        &[&["--nats-url", &proxy.url()][..], &ttl].concat(),
    );
    let b = Proc::start(
        b_dir.path(),
        &[&["--follow", &nats.url, "--standby"][..], &ttl].concat(),
    );
    // While A holds the lease no other writer starts.
    let other = tempfile::tempdir().unwrap();
    let err = refused_start(other.path(), &["--nats-url", &nats.url, "--lease-ttl", "2"]);
    assert!(
        err.contains("held by") && err.contains("another writer"),
        "{err}"
    );

    submit(&a, "p-a1", "MK05", 1.0).await.unwrap();
    let (seq, _) = head(&a).await;
    metric_reaches(&a, "tilannekuva_nats_outbox_sequence", seq as f64).await;
    caught_up(&b, seq).await;
    proxy.cut();
    metric_reaches(&a, "tilannekuva_nats_connected", 0.0).await;
    // Cut off, A still acknowledges (async: durable locally).
    submit(&a, "p-a2", "MK05", 2.0).await.unwrap();
    submit(&a, "p-a3", "MK05", 3.0).await.unwrap();
    // The standby takes over once A's lease lapses, and writes on from the stream's end.
    metric_reaches(&b, r#"tilannekuva_role{role="writer"}"#, 1.0).await;
    let b1 = eventually(WAIT, "B to take writes", || async {
        submit(&b, "p-b1", "MK05", 4.0).await.ok()
    })
    .await;
    assert_eq!(
        b1.last_sequence,
        seq + 1,
        "B continues the stream's sequence"
    );
    metric_reaches(&b, "tilannekuva_nats_outbox_sequence", (seq + 1) as f64).await;
    proxy.heal();
    metric_reaches(&a, "tilannekuva_fenced", 1.0).await;
    let err = submit(&a, "p-a4", "MK05", 5.0).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    assert_eq!(http_get(a.http, "/readyz").await.0, 503);
    metric_reaches(&a, "tilannekuva_divergent_events", 2.0).await;
    let report = a_dir
        .path()
        .join(format!("divergent-{}-{}.ndjson", seq + 1, seq + 2));
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("p-a2") && text.contains("p-a3") && !text.contains("p-b1"),
        "{text}"
    );
    // The stream holds A's first write and B's, as one chain.
    assert_eq!(stream_matches_a_chain(&nats).await, seq + 1);
    a.stop();
    b.stop();
}

/// `sync` ingest on a writer killed with SIGKILL: the standby takes over, every submission
/// the old writer acknowledged is on the new writer (a retry answers "duplicate"), clients
/// continue there, a read replica follows the new writer, and the old writer restarted is
/// refused (the lease is held).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_from_a_killed_writer() {
    let nats = Nats::start();
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let sync = ["--replication", "sync", "--lease-ttl", "2"];
    let mut a = Proc::start(
        dirs[0].path(),
        &[&["--nats-url", &nats.url][..], &sync].concat(),
    );
    let b = Proc::start(
        dirs[1].path(),
        &[&["--follow", &nats.url, "--standby"][..], &sync].concat(),
    );
    let c = Proc::start(dirs[2].path(), &["--follow", &nats.url]);
    // Ingest from a task; kill A while it runs.
    let url = a.grpc_url.clone();
    let ingest = tokio::spawn(async move {
        let ch = tonic::transport::Channel::from_shared(url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut acked = Vec::new();
        for i in 0..10_000 {
            let req = submit_req(
                &format!("k-{i}"),
                "MK06",
                vec![obs("population", 2021, f64::from(i), Provisional)],
            );
            match IngestServiceClient::new(ch.clone()).submit(req).await {
                Ok(_) => acked.push(i),
                Err(_) => break,
            }
        }
        acked
    });
    eventually(WAIT, "some acknowledged submissions", || async {
        (head(&c).await.0 > 40).then_some(())
    })
    .await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let acked = ingest.await.unwrap();
    assert!(!acked.is_empty());
    metric_reaches(&b, r#"tilannekuva_role{role="writer"}"#, 1.0).await;
    // Every acknowledged submission is on the new writer: a retry is a duplicate.
    for &i in &acked {
        let r = submit(&b, &format!("k-{i}"), "MK06", f64::from(i))
            .await
            .unwrap_or_else(|e| panic!("k-{i} on the new writer: {e}"));
        assert!(r.duplicate, "k-{i} was acknowledged by the old writer");
    }
    // Clients continue on the new writer; the replica follows it.
    let next = acked.last().unwrap() + 1;
    let r = submit(&b, &format!("k-{next}"), "MK06", f64::from(next))
        .await
        .unwrap();
    caught_up(&c, r.last_sequence).await;
    assert_eq!(head(&c).await, head(&b).await);
    assert_eq!(stream_matches_a_chain(&nats).await, r.last_sequence);
    // The old writer, restarted, cannot write: the lease is the new writer's.
    let err = refused_start(
        dirs[0].path(),
        &["--nats-url", &nats.url, "--lease-ttl", "2"],
    );
    assert!(
        err.contains("held by") || err.contains("disagree"),
        "the old writer is refused: {err}"
    );
    b.stop();
    c.stop();
}

/// Starts `serve` on `dir` with `args`, which must refuse to start; its error output.
fn refused_start(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(bin())
        .args(["serve", "--grpc-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started");
    String::from_utf8_lossy(&out.stderr).into_owned()
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

/// `tilannekuva promote` makes a read replica the writer by hand — refused while a live
/// writer holds the lease, done once that writer has stopped (a clean stop hands the lease
/// back) — and an admin token is needed for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_by_hand() {
    let nats = Nats::start();
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let writer = Proc::start(dirs[0].path(), &["--nats-url", &nats.url]);
    let replica = Proc::start(dirs[1].path(), &["--follow", &nats.url]);
    let r = submit(&writer, "h-1", "MK07", 1.0).await.unwrap();
    caught_up(&replica, r.last_sequence).await;
    let (ok, _, err) = cli(&["promote", "--server", &replica.grpc_url]);
    assert!(!ok);
    assert!(err.contains("held by a live writer"), "{err}");
    writer.stop();
    let (ok, out, err) = cli(&["promote", "--server", &replica.grpc_url]);
    assert!(ok, "{err}");
    assert!(out.contains("is now the writer"), "{out}");
    let next = submit(&replica, "h-2", "MK07", 2.0).await.unwrap();
    assert_eq!(next.last_sequence, r.last_sequence + 1);
    metric_reaches(
        &replica,
        "tilannekuva_nats_outbox_sequence",
        next.last_sequence as f64,
    )
    .await;
    assert_eq!(stream_matches_a_chain(&nats).await, next.last_sequence);
    // A server that follows no stream has nothing to promote.
    let standalone_dir = tempfile::tempdir().unwrap();
    let standalone = Proc::start(standalone_dir.path(), &[]);
    let (ok, _, err) = cli(&["promote", "--server", &standalone.grpc_url]);
    assert!(!ok);
    assert!(err.contains("follows no stream"), "{err}");
    standalone.stop();
    replica.stop();
}

/// A three-node JetStream cluster on loopback, an R3 stream, `sync` ingest, and one NATS
/// node killed (SIGKILL) during it: ingest goes on (a write that could not be confirmed is
/// retried with its submission id), and every acknowledged submission is on the replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r3_stream_survives_a_lost_nats_node_in_sync_mode() {
    let mut cluster = Nats::cluster();
    let urls: Vec<String> = cluster.iter().map(|n| n.url.clone()).collect();
    let all = urls.join(",");
    jetstream_ready(&urls[1]).await;
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let writer = Proc::start(
        dirs[0].path(),
        &[
            "--nats-url",
            &all,
            "--nats-replicas",
            "3",
            "--replication",
            "sync",
        ],
    );
    let replica = Proc::start(dirs[1].path(), &["--follow", &all]);
    let mut acked = Vec::new();
    for i in 0..60u32 {
        if i == 20 {
            cluster[0].kill();
        }
        let id = format!("c-{i}");
        let r = eventually(WAIT, "the submission to be acknowledged", || async {
            submit(&writer, &id, "MK08", f64::from(i)).await.ok()
        })
        .await;
        acked.push((id, r.last_sequence));
    }
    let last = acked.last().unwrap().1;
    caught_up(&replica, last).await;
    assert_eq!(head(&replica).await, head(&writer).await);
    // Every acknowledged submission is in the replica's log.
    let seen: std::collections::HashSet<String> = events_from(replica.channel().await, 1)
        .await
        .into_iter()
        .map(|e| e.submission_id)
        .collect();
    for (id, _) in &acked {
        assert!(
            seen.contains(id),
            "{id} acknowledged but not on the replica"
        );
    }
    writer.stop();
    replica.stop();
}
