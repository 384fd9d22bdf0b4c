//! Snapshots: a start from `DATA_DIR/snapshot` and the log after it answers exactly like a
//! replay of the whole log, also after SIGKILL; a snapshot that does not fit (another
//! format version, another log, damaged) is ignored with a log line; a broken chain before
//! the snapshot is found in the background and stops writes.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use prost::Message;
use tilannekuva::domain::{Event, Payload};
use tilannekuva::proto;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tonic::transport::Channel;

const REGIONS: [&str; 3] = ["MK01", "MK02", "MK04"];
const YEARS: std::ops::RangeInclusive<i32> = 2015..=2020;

/// `rounds` submissions per region (each of every year's population), one revision each.
async fn write(ch: Channel, tag: &str, rounds: u32) {
    let mut ingest = IngestServiceClient::new(ch);
    for round in 0..rounds {
        for (i, region) in REGIONS.iter().enumerate() {
            let observations = YEARS
                .map(|y| {
                    obs(
                        "population",
                        y,
                        f64::from(1000 * (i as u32 + 1) + round) + f64::from(y - 2015),
                        proto::ObservationStatus::Provisional,
                    )
                })
                .collect();
            ingest
                .submit(submit_req(
                    &format!("{tag}-{round}-{region}"),
                    region,
                    observations,
                ))
                .await
                .unwrap();
        }
    }
}

/// Every answer a reader could get, encoded: national and region pictures of every year
/// (latest and as of an early sequence) and a revision trail.
async fn answers(ch: Channel) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for as_of in [None, Some(100)] {
        out.extend(pictures(ch.clone(), YEARS, &REGIONS, as_of).await);
    }
    let mut pic = PictureServiceClient::new(ch);
    let h = pic
        .get_observation_history(proto::GetObservationHistoryRequest {
            borders: Default::default(),
            region_code: "MK02".into(),
            indicator_id: "population".into(),
            year: 2017,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(h.revisions.len() > 1, "the trail has revisions");
    out.push(h.encode_to_vec());
    out
}

async fn metric_at(s: &Proc, name: &str) -> f64 {
    let (_, body) = http_get(s.http, "/metrics").await;
    metric(&body, name)
}

fn logged(s: &Proc, what: &str) -> bool {
    s.log.lock().unwrap().iter().any(|l| l.contains(what))
}

/// The events of the first chunk of the store in `dir` (stopped), changed by `f` and
/// written back under the same key: damage to the log that no hash covers any more.
fn tamper_first_chunk(dir: &Path, f: impl FnOnce(&mut Vec<Event>)) {
    let db = sled::open(dir).unwrap();
    let log = db.open_tree("log").unwrap();
    let (k, v) = log.first().unwrap().unwrap();
    let mut events: Vec<Event> = tilannekuva::store::decoded_chunk(&k, &v).unwrap();
    f(&mut events);
    log.insert(
        k,
        tilannekuva::store::packed_chunk(&postcard::to_allocvec(&events).unwrap()),
    )
    .unwrap();
    db.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_from_a_snapshot_answers_like_the_whole_log_also_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(dir.path(), &["--snapshot-every", "40"]);
    write(s.channel().await, "a", 20).await;
    // A periodic snapshot is written (every 40 events; 360 were written).
    eventually(Duration::from_secs(20), "a periodic snapshot", || async {
        (metric_at(&s, "tilannekuva_snapshot_sequence").await > 0.0).then_some(())
    })
    .await;
    let before = answers(s.channel().await).await;
    let head = head_at(s.channel().await).await;
    drop(s); // SIGKILL: no snapshot at the stop

    let s = Proc::start(dir.path(), &["--snapshot-every", "40"]);
    assert!(
        logged(&s, "started from the snapshot and the log after it"),
        "the restart used the snapshot"
    );
    assert_eq!(head_at(s.channel().await).await, head);
    assert_eq!(
        answers(s.channel().await).await,
        before,
        "same answers as before"
    );
    eventually(Duration::from_secs(20), "the chain verified", || async {
        (metric_at(&s, "tilannekuva_chain_verified").await == 1.0).then_some(())
    })
    .await;
    // Writes go on after the start from a snapshot, and a clean stop snapshots them.
    write(s.channel().await, "b", 2).await;
    let after = answers(s.channel().await).await;
    let head = head_at(s.channel().await).await;
    s.stop();

    // The same log replayed whole (snapshots off and the file moved away) answers the same.
    std::fs::rename(
        dir.path().join("snapshot"),
        dir.path().join("snapshot.moved"),
    )
    .unwrap();
    let s = Proc::start(dir.path(), &["--snapshot-every", "0"]);
    assert!(!logged(&s, "started from the snapshot"));
    assert_eq!(answers(s.channel().await).await, after);
    s.stop();
    // Back in place: the snapshot of the clean stop holds everything (nothing replayed).
    std::fs::rename(
        dir.path().join("snapshot.moved"),
        dir.path().join("snapshot"),
    )
    .unwrap();
    let s = Proc::start(dir.path(), &[]);
    assert!(
        logged(&s, "replayed=0"),
        "the clean stop's snapshot is current"
    );
    assert_eq!(head_at(s.channel().await).await, head);
    assert_eq!(answers(s.channel().await).await, after);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_does_not_fit_the_log_is_ignored() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = Proc::start(a.path(), &[]);
    write(s.channel().await, "a", 3).await;
    let expected = answers(s.channel().await).await;
    s.stop();
    let s = Proc::start(b.path(), &[]);
    write(s.channel().await, "b", 4).await;
    s.stop();
    let good = std::fs::read(a.path().join("snapshot")).unwrap();

    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: [(&str, Damage); 4] = [
        (
            "it has format version 99",
            Box::new(|f: &mut Vec<u8>| f[8..12].copy_from_slice(&99u32.to_le_bytes())),
        ),
        (
            "its checksum does not match",
            Box::new(|f: &mut Vec<u8>| {
                let last = f.len() - 1;
                f[last] ^= 0x55;
            }),
        ),
        (
            "it is cut short",
            Box::new(|f: &mut Vec<u8>| f.truncate(f.len() - 10)),
        ),
        ("it does not match the log", Box::new(|_: &mut Vec<u8>| {})),
    ];
    for (why, damage) in cases {
        let mut file = if why == "it does not match the log" {
            // Another server's snapshot: its sequence is beyond this log's end.
            std::fs::read(b.path().join("snapshot")).unwrap()
        } else {
            good.clone()
        };
        damage(&mut file);
        std::fs::write(a.path().join("snapshot"), &file).unwrap();
        let s = Proc::start(a.path(), &["--snapshot-every", "0"]);
        assert!(
            logged(&s, "is ignored") && logged(&s, why),
            "{why}: {:?}",
            s.log.lock().unwrap()
        );
        assert!(!logged(&s, "started from the snapshot"));
        assert_eq!(answers(s.channel().await).await, expected, "{why}");
        s.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_chain_before_the_snapshot_is_found_and_stops_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::start(dir.path(), &[]);
    write(s.channel().await, "a", 3).await;
    s.stop();
    // The first region's name changed in the log: its event's hash no longer recomputes,
    // while the snapshot's own event (the last) is intact.
    tamper_first_chunk(dir.path(), |events| {
        if let Payload::RegionDefined(r) = &mut events[0].payload {
            r.name_en = "Tampered".into();
        } else {
            panic!("the log starts with the catalog");
        }
    });
    // The verification may find the break before the server listens, and log it.
    let s = Proc::start_logging_errors(dir.path(), &[], true);
    assert!(logged(&s, "started from the snapshot"));
    eventually(Duration::from_secs(20), "the break found", || async {
        (metric_at(&s, "tilannekuva_chain_verification_failures_total").await == 1.0).then_some(())
    })
    .await;
    assert_eq!(metric_at(&s, "tilannekuva_chain_verified").await, 0.0);
    let (status, body) = http_get(s.http, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let refused = IngestServiceClient::new(s.channel().await)
        .submit(submit_req(
            "after",
            "MK01",
            vec![obs(
                "population",
                2019,
                5.0,
                proto::ObservationStatus::Final,
            )],
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    assert!(
        logged(&s, "broken at sequence 1: hash does not match"),
        "the log names the first bad event"
    );
    // Reads still answer.
    answers(s.channel().await).await;
    s.stop();
}
