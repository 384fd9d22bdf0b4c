//! What survives a crash and what a damaged store does: the real binary killed with
//! SIGKILL in the middle of concurrent writes, again and again; a store file whose tail is
//! cut off or overwritten; and `verify` on logs that were tampered with.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load::*;
use common::*;
use parking_lot::Mutex;
use prost::Message;
use tilannekuva::api::convert;
use tilannekuva::domain::event::verify_chain;
use tilannekuva::domain::{Event, Observation, Payload, Status, NATIONAL_CODE, ZERO_HASH};
use tilannekuva::projection::{Level, Projection};
use tilannekuva::proto;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;

/// Every picture of the touched regions and years, encoded: equal bytes, equal pictures.
async fn snapshot(url: &str) -> Vec<Vec<u8>> {
    let mut pic = PictureServiceClient::new(connect(url).await);
    let mut out = Vec::new();
    for year in YEARS {
        let n = pic
            .get_national_picture(proto::GetNationalPictureRequest {
                borders: Default::default(),
                year,
                as_of: None,
                min_sequence: 0,
            })
            .await
            .unwrap()
            .into_inner();
        out.push(n.encode_to_vec());
        for region in REGIONS {
            let p = pic
                .get_region_picture(proto::GetRegionPictureRequest {
                    borders: Default::default(),
                    region_code: region.into(),
                    year,
                    as_of: None,
                    min_sequence: 0,
                })
                .await
                .unwrap()
                .into_inner();
            out.push(p.encode_to_vec());
            for indicator in INDICATORS {
                let h = pic
                    .get_observation_history(proto::GetObservationHistoryRequest {
                        borders: Default::default(),
                        region_code: region.into(),
                        indicator_id: indicator.into(),
                        year,
                        as_of: None,
                        min_sequence: 0,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                out.push(h.encode_to_vec());
            }
        }
    }
    out
}

/// The same pictures from a fold of `events` in this process.
fn local_pictures(events: &[Event]) -> Vec<Vec<u8>> {
    let mut p = Projection::new();
    for e in events {
        p.apply(e);
    }
    let seq = p.applied();
    // On the latest borders, as the server answers by default.
    let d = p.latest_borders();
    let catalog = p.catalog_at(seq);
    // A picture carries its area's targets, as GetTargets answers them.
    let targets = |area| {
        convert::targets_to_proto(&p.targets(Some(area), None, d, seq), &catalog, seq).targets
    };
    let mut out = Vec::new();
    for year in YEARS {
        let mut national =
            convert::national_picture_to_proto(&p.year_picture(year, (Level::Region, d), seq), seq);
        national.targets = targets(NATIONAL_CODE);
        out.push(national.encode_to_vec());
        for region in REGIONS {
            let mut picture =
                convert::region_picture_to_proto(&p.region_picture(region, year, d, seq), seq);
            picture.targets = targets(region);
            out.push(picture.encode_to_vec());
            for indicator in INDICATORS {
                // The trails' events, by sequence (the log holds 1..=seq in order).
                let trail: Vec<Event> = p
                    .trails(region, indicator, year, seq)
                    .into_iter()
                    .map(|s| events[(s - 1) as usize].clone())
                    .collect();
                out.push(convert::history_to_proto(&trail, seq).encode_to_vec());
            }
        }
    }
    out
}

/// SIGKILL in the middle of concurrent writes, 30 times: every acknowledged submission
/// survives exactly once at its sequences, no submission is ever partly on disk, the chain
/// verifies, and the pictures equal those of a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_concurrent_writes_loses_no_acknowledged_write() {
    const ROUNDS: usize = 30;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut pending: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let mut server = Proc::start(dir.path(), &[]);
        // About half of what got no answer is retried (idempotently); the rest never is.
        let again: Vec<String> = pending.drain(..).filter(|id| retried(id)).collect();
        retry(&server.grpc_url, &again, &ledger).await;
        // The kill comes after a varying number of acknowledgements.
        let until = 1 + (round * 17 + 5) % 60;
        let child = &mut server.child;
        write_round(&server.grpc_url, round, until, &ledger, |killed, _| {
            killed.store(true, Ordering::Release);
            child.kill().expect("SIGKILL the server");
        })
        .await;
        let _ = server.child.wait();
        pending = ledger.lock().unanswered(round);
    }

    // The last start: retries, and writes that the live projection applies.
    let server = Proc::start(dir.path(), &[]);
    let again: Vec<String> = pending.into_iter().filter(|id| retried(id)).collect();
    retry(&server.grpc_url, &again, &ledger).await;
    write_round(&server.grpc_url, ROUNDS, 40, &ledger, |_, stop| {
        stop.store(true, Ordering::Release)
    })
    .await;

    let events = read_all(&server.grpc_url).await;
    let (durable_unacked, lost_unacked) = check_log(&events, &ledger.lock());
    let before = snapshot(&server.grpc_url).await;
    assert_eq!(
        before,
        local_pictures(&events),
        "the live projection equals a fold of the log"
    );
    server.stop();

    let n = events.len();
    let (ok, out, err) = cli(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(ok, "verify: {err}");
    assert!(out.contains(&format!("{n} events")), "{out}");

    let server = Proc::start(dir.path(), &[]);
    assert_eq!(
        read_all(&server.grpc_url).await,
        events,
        "the log is unchanged by a restart"
    );
    assert_eq!(
        snapshot(&server.grpc_url).await,
        before,
        "rebuilt pictures are byte-identical"
    );
    server.stop();

    let l = ledger.lock();
    eprintln!(
        "{ROUNDS} kills in {:.1} s: {} submissions sent, {} acknowledged ({} only on a retry, \
         as a duplicate), {durable_unacked} durable without an answer, {lost_unacked} lost \
         without an answer; {n} events",
        started.elapsed().as_secs_f64(),
        l.sent.len(),
        l.acked.len(),
        l.acked_as_duplicate,
    );
}

// ---------------------------------------------------------------------------------------
// A damaged store file.

/// Starts the binary on `dir`; `Err` with the exit status and stderr when it does not
/// start listening.
fn try_start(dir: &Path) -> Result<Proc, (ExitStatus, String)> {
    use std::io::{BufRead, BufReader};
    let mut child = serve_command(dir, &[]).spawn().expect("start the binary");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut listening = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !listening && line.contains("tilannekuva listening") {
                listening = true;
                let _ = tx.send(Ok(line.clone()));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    match rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server starts or exits within 60 s")
    {
        Ok(line) => {
            let field = |name: &str| -> String {
                let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
                line[start..].split_whitespace().next().unwrap().to_owned()
            };
            Ok(Proc {
                child,
                grpc_url: format!("http://{}", field("grpc")),
                http: field("http").parse().unwrap(),
                data_dir: dir.to_owned(),
                log: Default::default(),
            })
        }
        Err(stderr) => Err((child.wait().unwrap(), stderr)),
    }
}

/// its current 512 KiB segment with zero bytes, so the file's own tail is often padding).
#[derive(Clone, Copy, Debug)]
enum Damage {
    TruncateFile(u64),
    GarbageAtFileEnd(u64),
    TruncateData(u64),
    GarbageAtDataEnd(u64),
}

fn damage(db: &Path, how: Damage) {
    use std::io::{Seek, SeekFrom, Write};
    let bytes = std::fs::read(db).unwrap();
    let file_end = bytes.len() as u64;
    let data_end = bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |i| i as u64 + 1);
    let (end, k, truncate) = match how {
        Damage::TruncateFile(k) => (file_end, k, true),
        Damage::GarbageAtFileEnd(k) => (file_end, k, false),
        Damage::TruncateData(k) => (data_end, k, true),
        Damage::GarbageAtDataEnd(k) => (data_end, k, false),
    };
    let start = end - k.min(end);
    let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    if truncate {
        f.set_len(start).unwrap();
    } else {
        f.seek(SeekFrom::Start(start)).unwrap();
        let garbage: Vec<u8> = (start..end)
            .map(|i| (i as u8).wrapping_mul(151).wrapping_add(7))
            .collect();
        f.write_all(&garbage).unwrap();
    }
    f.sync_all().unwrap();
}

/// A refusal must say what is wrong and where, and must not be a panic.
fn assert_precise_refusal(what: &str, dir: &Path, stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: a panic:\n{stderr}"
    );
    let db = dir.join("db");
    let names_the_file = stderr.contains(&format!("{} is damaged", db.display()));
    let names_a_sequence = stderr.contains("the log is broken at");
    assert!(
        names_the_file || names_a_sequence,
        "{what}: an imprecise refusal:\n{stderr}"
    );
}

/// Events served by a server that started on a damaged store: a gap-free chain from 1, each
/// event one of the original ones, byte for byte.
fn assert_intact_prefix(what: &str, served: &[Event], original: &[Event]) {
    verify_chain(0, ZERO_HASH, served)
        .unwrap_or_else(|e| panic!("{what}: served a broken chain: {e}"));
    assert!(
        served.len() <= original.len(),
        "{what}: more events than were written"
    );
    for (s, o) in served.iter().zip(original) {
        assert_eq!(s, o, "{what}: event {} is not the one written", s.sequence);
    }
}

/// The tail of sled's file, or of the data in it, cut off or overwritten (1 byte to
/// 300 KB), each on its own copy of a store written in three sessions: the server either
/// recovers to an intact prefix of the log (and then keeps what it acknowledges) or refuses
/// to start naming what is wrong — never a broken chain, never a panic. `verify` agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_store_tail_recovers_or_refuses() {
    let started = Instant::now();
    let base = tempfile::tempdir().unwrap();
    // Several sessions (so sled holds a snapshot) and enough writes for several segments.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut original = Vec::new();
    for session in 0..3 {
        let server = Proc::start(base.path(), &[]);
        write_round(&server.grpc_url, session, 400, &ledger, |_, stop| {
            stop.store(true, Ordering::Release)
        })
        .await;
        original = read_all(&server.grpc_url).await;
        server.stop();
    }
    let size = std::fs::metadata(base.path().join("db")).unwrap().len();

    let mut outcomes = Vec::new();
    let file_tail = [1, 100, 5000].map(|k| [Damage::TruncateFile(k), Damage::GarbageAtFileEnd(k)]);
    let data_tail = [1, 100, 5000, 50_000, 300_000]
        .map(|k| [Damage::TruncateData(k), Damage::GarbageAtDataEnd(k)]);
    for how in file_tail.iter().chain(&data_tail).flatten().copied() {
        {
            let what = format!("{how:?}");
            // `verify` on one copy.
            let copy = tempfile::tempdir().unwrap();
            copy_dir(base.path(), copy.path());
            damage(&copy.path().join("db"), how);
            let (ok, out, err) = cli(&["verify", "--data-dir", copy.path().to_str().unwrap()]);
            let verified = if ok {
                let n: usize = out
                    .strip_prefix("ok: ")
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{what}: verify said {out}"));
                assert!(n <= original.len(), "{what}: verify counts {n} events");
                format!("verify ok ({n} events)")
            } else {
                assert_precise_refusal(&format!("{what} verify"), copy.path(), &err);
                "verify refuses".to_owned()
            };

            // The server on another copy.
            let copy = tempfile::tempdir().unwrap();
            copy_dir(base.path(), copy.path());
            damage(&copy.path().join("db"), how);
            let served = match try_start(copy.path()) {
                Err((status, stderr)) => {
                    assert!(
                        !status.success(),
                        "{what}: exited {status} before listening"
                    );
                    assert_precise_refusal(&what, copy.path(), &stderr);
                    "server refuses".to_owned()
                }
                Ok(server) => {
                    let served = read_all(&server.grpc_url).await;
                    assert_intact_prefix(&what, &served, &original);
                    // What it acknowledges now must survive a restart.
                    let mut ing = IngestServiceClient::new(server.channel().await);
                    let req = request(format!("after-{what}"), 7);
                    let r = ing.submit(req).await.unwrap().into_inner();
                    server.stop();
                    let server = try_start(copy.path()).unwrap_or_else(|(s, e)| {
                        panic!("{what}: a recovered store refuses its next start ({s}):\n{e}")
                    });
                    let after = read_all(&server.grpc_url).await;
                    server.stop();
                    assert_eq!(after.len() as u64, r.last_sequence, "{what}");
                    assert_intact_prefix(&what, &after[..served.len()], &original);
                    assert_eq!(after.last().unwrap().submission_id, format!("after-{what}"));
                    format!(
                        "server serves {} of {} events",
                        served.len(),
                        original.len()
                    )
                }
            };
            outcomes.push(format!("{what}: {verified}; {served}"));
        }
    }
    eprintln!(
        "store of {size} bytes, {} events; {:.1} s\n{}",
        original.len(),
        started.elapsed().as_secs_f64(),
        outcomes.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// `verify` names the first bad sequence.

fn chain(n: u64) -> Vec<Event> {
    let mut prev = ZERO_HASH;
    (1..=n)
        .map(|s| {
            let mut e = Event {
                sequence: s,
                recorded_at_micros: 1_700_000_000_000_000 + s as i64,
                region_code: "MK01".into(),
                region_revision: s,
                principal: "test".into(),
                submission_id: format!("s{s}"),
                payload: Payload::ObservationRecorded(Observation {
                    borders: Default::default(),
                    published_micros: None,
                    indicator_id: "population".into(),
                    year: 2000 + s as i32,
                    value: s as f64,
                    status: Status::Final,
                    source: "test".into(),
                    note: String::new(),
                    correction_reason: String::new(),
                }),
                prev_hash: ZERO_HASH,
                hash: ZERO_HASH,
            };
            e.seal(prev);
            prev = e.hash;
            e
        })
        .collect()
}

/// Opens the store's sled database directly, waiting (bounded) for the lock that a store
/// dropped a moment ago still holds.
fn sled_db(dir: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("open {}: {e}", dir.display()),
        }
    }
}

/// `verify` on a store holding `groups` appended as they are (one commit each), after
/// `tamper` changed its sled database.
fn verify_store(groups: &[Vec<Event>], tamper: impl FnOnce(&sled::Db)) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = tilannekuva::store::EventLog::open(dir.path()).unwrap();
        for g in groups {
            log.append(g).unwrap();
        }
    }
    let db = sled_db(dir.path());
    tamper(&db);
    db.flush().unwrap();
    drop(db);
    cli(&["verify", "--data-dir", dir.path().to_str().unwrap()])
}

#[test]
fn verify_names_the_first_bad_sequence() {
    let good = chain(6);
    let (ok, out, err) = verify_store(&[good[..3].to_vec(), good[3..].to_vec()], |_| {});
    assert!(ok, "{err}");
    assert!(
        out.contains("6 events") && out.contains(&hex::encode(good[5].hash)),
        "{out}"
    );
    assert!(out.contains("identical pictures"), "{out}");

    // A changed value: its hash no longer recomputes.
    let mut tampered = good.clone();
    if let Payload::ObservationRecorded(o) = &mut tampered[3].payload {
        o.value = 42.0;
    }
    let (ok, _, err) = verify_store(&[tampered], |_| {});
    assert!(!ok);
    assert!(
        err.contains("broken at sequence 4: hash does not match"),
        "{err}"
    );
    assert!(err.contains("events 1..=3 are intact"), "{err}");

    // A resealed event whose link to the previous one is wrong.
    let mut relinked = good.clone();
    relinked[2].seal([7; 32]);
    let (ok, _, err) = verify_store(&[relinked], |_| {});
    assert!(!ok);
    assert!(err.contains("broken at sequence 3: prev_hash"), "{err}");

    // A missing event.
    let (ok, _, err) = verify_store(&[good[..2].to_vec(), good[3..].to_vec()], |_| {});
    assert!(!ok);
    assert!(
        err.contains("broken at sequence 3: expected sequence 3, found 4"),
        "{err}"
    );

    // A chunk stored under a key other than its first event's sequence, and a chunk that
    // does not decode: written into sled directly, as damage or a bug would.
    let (ok, _, err) = verify_store(&[good[..2].to_vec()], |db| {
        let log = db.open_tree("log").unwrap();
        log.insert(
            3u64.to_be_bytes(),
            tilannekuva::store::packed_chunk(&postcard::to_allocvec(&good[3..5]).unwrap()),
        )
        .unwrap();
    });
    assert!(!ok);
    assert!(
        err.contains(
            "broken at sequence 3: the chunk stored under key 3: the chunk starts with sequence 4"
        ),
        "{err}"
    );
    let (ok, _, err) = verify_store(&[good[..4].to_vec()], |db| {
        db.open_tree("log")
            .unwrap()
            .insert(
                5u64.to_be_bytes(),
                tilannekuva::store::packed_chunk(b"\xff\xff\xff not postcard"),
            )
            .unwrap();
    });
    assert!(!ok);
    assert!(
        err.contains(
            "broken at sequence 5: the chunk stored under key 5: the chunk cannot be decoded"
        ),
        "{err}"
    );
    assert!(err.contains("events 1..=4 are intact"), "{err}");
}

/// `export --data-dir` reads a stopped store directly — also one the server refuses to
/// start on, up to its last intact event — and `verify` on a store in use says to stop the
/// server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_reads_a_stopped_or_refused_store_and_verify_says_when_it_is_in_use() {
    let good = chain(6);
    let dir = tempfile::tempdir().unwrap();
    let mut tampered = good.clone();
    if let Payload::ObservationRecorded(o) = &mut tampered[3].payload {
        o.value = 42.0;
    }
    {
        let log = tilannekuva::store::EventLog::open(dir.path()).unwrap();
        log.append(&tampered).unwrap();
    }
    // The server refuses the broken chain...
    let refused = try_start(dir.path());
    assert!(refused.is_err(), "the server refuses a broken chain");
    // ...and export gives the intact events, then says where the log breaks.
    let out = dir.path().join("intact.ndjson");
    let (ok, _, err) = cli(&[
        "export",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("exported the 3 intact events; the log is broken at sequence 4"),
        "{err}"
    );
    let lines: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3);
    let restored = tempfile::tempdir().unwrap();
    let (ok, imported, err) = cli(&[
        "import",
        "--data-dir",
        restored.path().to_str().unwrap(),
        "--input",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(imported.contains(&hex::encode(good[2].hash)), "{imported}");

    // A stopped, intact store exports whole; while its server runs, verify and export say
    // to stop it first.
    let data = tempfile::tempdir().unwrap();
    let s = Proc::start(data.path(), &["--demo"]);
    let (ok, _, err) = cli(&["verify", "--data-dir", data.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("in use by another process") && err.contains("stop the server first"),
        "{err}"
    );
    s.stop();
    let (ok, whole, err) = cli(&["export", "--data-dir", data.path().to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(whole.lines().count() > 900, "the demo log");
    assert!(err.contains("exported"), "{err}");
}

// ---------------------------------------------------------------------------------------
// A full disk.

/// A tmpfs of its own for one test, unmounted when dropped. Mounting needs root, which the
/// CI run has; without it the test fails saying so (it does not pass silently).
struct SmallFs {
    _dir: tempfile::TempDir,
    mount: std::path::PathBuf,
}

impl SmallFs {
    fn new(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("fs");
        std::fs::create_dir(&mount).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallFs { _dir: dir, mount }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// Fills the filesystem of `dir` with a file until no byte more fits.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    path
}

/// Writes refused for lack of space, restarts while the disk is still full, and a start
/// that leaves an unfinished sled snapshot behind: none of it makes an intact store one
/// reported damaged. Once space is freed the store starts with every event it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_not_damage() {
    let fs = SmallFs::new("96m");
    let data = fs.mount.join("data");
    let s = Proc::start(&data, &["--demo"]);
    let before = read_all(&s.grpc_url).await;
    assert!(before.len() > 900);
    let filler = fill(&fs.mount);
    // Write until the store refuses (a full disk poisons it: nothing more is acknowledged).
    let mut ing = IngestServiceClient::new(connect(&s.grpc_url).await);
    let mut refused = false;
    for i in 0..2000 {
        let observations = (0..500)
            .map(|k| {
                obs(
                    "population_25_64",
                    1990 + (k % 30),
                    1000.0 + f64::from(i),
                    proto::ObservationStatus::Provisional,
                )
            })
            .collect::<Vec<_>>();
        let mut req = submit_req(
            &format!("fill-{i}"),
            REGIONS[i as usize % REGIONS.len()],
            observations,
        );
        req.observations.dedup_by_key(|o| o.year);
        req.observations.truncate(30);
        // Long sources that do not compress (the store compresses its chunks): each write
        // takes some 15 KiB, so that what room the store's files hold beyond the demo is
        // used up within the loop.
        for (k, o) in req.observations.iter_mut().enumerate() {
            let mut text = String::new();
            let mut x = (i as u64 + 1) * 1_000_003 + k as u64;
            while text.len() < 1000 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(&format!("{:016x}", x));
            }
            o.source = text;
        }
        if let Err(e) = ing.submit(req).await {
            assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
            refused = true;
            break;
        }
    }
    assert!(refused, "the full disk refused a write");
    drop(s); // SIGKILL, as a crash would
             // Restarts while the disk is full are refused for lack of space, not as damage.
    for _ in 0..3 {
        let (status, stderr) = try_start(&data).err().expect("no start without space");
        assert!(!status.success());
        assert!(stderr.contains("no space left"), "{stderr}");
        assert!(!stderr.contains("damaged"), "{stderr}");
    }
    // What a failed start can leave: an empty, unfinished sled snapshot.
    std::fs::write(data.join("snap.00000000FFFFFFFF.generating"), b"").unwrap();
    std::fs::remove_file(&filler).unwrap();
    let s = try_start(&data)
        .unwrap_or_else(|(st, err)| panic!("start after freeing space: {st}\n{err}"));
    let after = read_all(&s.grpc_url).await;
    assert_eq!(after[..before.len()], before[..], "every event it had");
    verify_chain(0, ZERO_HASH, &after).unwrap();
    assert!(!data.join("snap.00000000FFFFFFFF.generating").exists());
    s.stop();
    let (ok, out, err) = cli(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("hash chain verified"), "{out}");
}
