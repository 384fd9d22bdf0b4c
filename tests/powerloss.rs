//! Power cuts: the real binary on a filesystem of the test's own that loses what was not
//! synced (tests/common/powerfs.rs), killed in the middle of concurrent writes and then
//! cut, again and again, on the same data; and a control that shows the filesystem does
//! lose what was not synced — sled's own `flush()` is not enough.
//!
//! It needs FUSE: /dev/fuse, and root or `fusermount3` (Debian's fuse3 package, which
//! .ci/run installs). Without them it fails saying so.

mod common;
#[path = "common/powerfs.rs"]
mod powerfs;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load::*;
use common::*;
use parking_lot::Mutex;
use powerfs::{Cut, PowerFs};

/// The cuts under concurrent writes, in order, all on the same data: a later cut hits a log
/// that already came through the earlier ones.
const CUTS: [Cut; 12] = [
    Cut::DropAll,
    Cut::KeepMetadataDropData,
    Cut::Torn(1),
    Cut::DropDirsOnly,
    Cut::Torn(2),
    Cut::DropAll,
    Cut::Torn(3),
    Cut::KeepMetadataDropData,
    Cut::Torn(4),
    Cut::DropDirsOnly,
    Cut::DropAll,
    Cut::Torn(5),
];

/// Cuts during a start (sled's recovery, its snapshot renamed into place, the open probe,
/// before the store has synced the directory), before the rounds of [`CUTS`] named here.
const START_CUTS: [(usize, Cut); 4] = [
    (2, Cut::DropAll),
    (5, Cut::Torn(6)),
    (8, Cut::KeepMetadataDropData),
    (11, Cut::DropDirsOnly),
];

/// Every acknowledged submission survives every cut, exactly once at its sequences; no
/// submission is ever partly there; the chain verifies and `verify` is clean on what each
/// cut left. Before that, the control: the same filesystem loses writes that sled's
/// `flush()` acknowledged, and keeps those that were `fdatasync`ed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_under_concurrent_writes_lose_no_acknowledged_write() {
    let started = Instant::now();
    // The control on a filesystem of its own, so that what it leaves unsynced does not
    // count below.
    let mut fs = PowerFs::mount();
    let (flushed, flushed_lost) = control(&mut fs, "control-flush", false);
    assert!(
        flushed_lost > 0,
        "the filesystem kept all {flushed} keys that sled's flush() alone acknowledged: it \
         does not drop unsynced writes, and the test below would prove nothing"
    );
    let (synced, synced_lost) = control(&mut fs, "control-fdatasync", true);
    assert_eq!(
        synced_lost, 0,
        "the filesystem lost {synced_lost} of {synced} keys that were fdatasynced"
    );
    drop(fs);

    let mut fs = PowerFs::mount();
    let data = fs.path().join("data");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut pending: Vec<String> = Vec::new();
    // Each cut, `verify` running on a copy of what it left, and how many events the server
    // served after it (a cut during a start changes no event).
    let mut cuts: Vec<(String, Verifying, u64)> = Vec::new();
    let mut unchecked: Vec<(String, Verifying)> = Vec::new();
    for (round, cut) in CUTS.into_iter().enumerate() {
        let mut draw = Lcg::new(round as u64);
        if let Some((_, cut)) = START_CUTS.iter().find(|(r, _)| *r == round) {
            // A start writes about ten times.
            let at_write = 1 + draw.below(8);
            let during = power_fails_during_start(&fs, &data, at_write);
            let report = fs.cut(*cut);
            let what = format!("{cut:?} {during}");
            unchecked.push((report_line(&what, report), verify_copy(&data, what)));
        }
        let mut server = Proc::start(&data, &[]);
        if !unchecked.is_empty() {
            let events = read_all(&server.grpc_url).await;
            check_log(&events, &ledger.lock());
            let served = events.len() as u64;
            cuts.extend(unchecked.drain(..).map(|(l, v)| (l, v, served)));
        }
        // About half of what got no answer is retried (idempotently); the rest never is.
        let again: Vec<String> = pending.drain(..).filter(|id| retried(id)).collect();
        retry(&server.grpc_url, &again, &ledger).await;
        // The power fails after a varying number of acknowledgements, at a varying write
        // after that: the write reaches the filesystem, the server is killed before it
        // hears back.
        let until = 20 + draw.below(100) as usize;
        let at_write = 1 + draw.below(40);
        let pid = server.child.id();
        write_round(&server.grpc_url, round, until, &ledger, |killed, _| {
            killed.store(true, Ordering::Release);
            fs.fail_at_write(at_write, pid);
        })
        .await;
        let _ = server.child.wait();
        drop(server);
        pending = ledger.lock().unanswered(round);

        let report = fs.cut(cut);
        let what = format!("{cut:?} under writes (round {round})");
        unchecked.push((report_line(&what, report), verify_copy(&data, what)));
    }

    // The last start: what the last cut left, then a clean stop and `verify` in place.
    let server = Proc::start(&data, &[]);
    let events = read_all(&server.grpc_url).await;
    let (durable_unacked, lost_unacked) = check_log(&events, &ledger.lock());
    let served = events.len() as u64;
    cuts.extend(unchecked.drain(..).map(|(l, v)| (l, v, served)));
    server.stop();
    let mut lines = Vec::new();
    for (line, verifying, served) in cuts {
        let n = verifying.await.unwrap();
        assert_eq!(n, served, "{line}: the server serves what verify counted");
        lines.push(format!("{line}; {n} events after it"));
    }
    let (ok, out, err) = cli(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert!(ok, "verify: {err}");
    assert_eq!(number_after(&out, "ok:", ' '), events.len() as u64, "{out}");

    let l = ledger.lock();
    eprintln!(
        "control: sled's flush() alone acknowledged {flushed} keys, a cut lost {flushed_lost}; \
         with fdatasync {synced} keys, lost {synced_lost}\n{} cuts in {:.1} s: {} submissions \
         sent, {} acknowledged ({} only on a retry, as a duplicate), none lost; \
         {durable_unacked} durable without an answer, {lost_unacked} lost without an answer; \
         {} events\n{}",
        lines.len(),
        started.elapsed().as_secs_f64(),
        l.sent.len(),
        l.acked.len(),
        l.acked_as_duplicate,
        events.len(),
        lines.join("\n"),
    );
}

/// What `what` threw away, for the summary.
fn report_line(what: &str, r: powerfs::CutReport) -> String {
    format!(
        "{what}: {} of {} unsynced file changes lost, {} directories rolled back",
        r.dropped_changes, r.unsynced_changes, r.dirs_rolled_back
    )
}

/// Starts the server on `data` with the power failing at its `at_write`-th write. Says
/// when the power failed: during the start, or — when the start wrote less — after it
/// (the server is killed once it listens, with nothing in flight).
fn power_fails_during_start(fs: &PowerFs, data: &Path, at_write: u64) -> &'static str {
    let mut child = serve_command(data, &[]).spawn().expect("start the binary");
    fs.fail_at_write(at_write, child.id());
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let listening = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("tilannekuva listening"));
        let _ = tx.send(listening);
    });
    let listening = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server listens or dies within 60 s");
    if listening {
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the server exited by itself: {status}");
    if listening {
        "after a start"
    } else {
        "during a start"
    }
}

/// `verify` running on a copy of what a cut left; answers the events it counted.
type Verifying = tokio::task::JoinHandle<u64>;

/// `verify` on a copy of the data directory as `what` left it: it must be clean. The copy
/// is taken now (the server, which starts next, changes what it finds); `verify` runs on
/// it while the test goes on (it takes seconds in a debug build, whatever the size of the
/// log).
fn verify_copy(data: &Path, what: String) -> Verifying {
    assert!(
        data.join("db").exists(),
        "{what} took the store's files away, and every acknowledged write with them: their \
         names were never synced"
    );
    let copy = tempfile::tempdir().unwrap();
    copy_dir(data, copy.path());
    tokio::task::spawn_blocking(move || {
        let (ok, out, err) = cli(&["verify", "--data-dir", copy.path().to_str().unwrap()]);
        assert!(ok, "verify on {what}: {err}");
        number_after(&out, "ok:", ' ')
    })
}

// ---------------------------------------------------------------------------------------
// The control.

/// Tells this test binary, run again as a child, to be the control's writer or reader.
const CONTROL: &str = "TILANNEKUVA_POWERLOSS_CONTROL";
/// Keys the writer has acknowledged when it is killed.
const CONTROL_KEYS: usize = 300;

/// sled on the filesystem in `fs/name`, in a child process: it acknowledges keys after
/// sled's `flush()` (and after an `fdatasync` of `db` when `sync`), is killed after
/// [`CONTROL_KEYS`], and the filesystem is cut (`DropAll`). Returns how many keys were
/// acknowledged and how many of those a reopened sled no longer has.
fn control(fs: &mut PowerFs, name: &str, sync: bool) -> (usize, usize) {
    let dir = fs.path().join(name);
    let mode = if sync { "write-sync" } else { "write" };
    let mut writer = control_child(mode, &dir);
    let out = BufReader::new(writer.stdout.take().unwrap());
    let mut acked = BTreeSet::new();
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(key) = line.strip_prefix("acked ") {
            acked.insert(key.parse::<u64>().unwrap());
            if acked.len() == CONTROL_KEYS {
                writer.kill().unwrap();
            }
        }
    }
    writer.wait().unwrap();
    assert!(acked.len() >= CONTROL_KEYS, "the control wrote {acked:?}");
    fs.cut(Cut::DropAll);

    let reader = control_child("read", &dir).wait_with_output().unwrap();
    assert!(reader.status.success(), "the control's reader failed");
    let present: BTreeSet<u64> = String::from_utf8_lossy(&reader.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("present ")?.parse().ok())
        .collect();
    (acked.len(), acked.difference(&present).count())
}

/// This test binary again, running only [`control_process`] as `mode` on `dir`.
fn control_child(mode: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "control_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CONTROL, format!("{mode}:{}", dir.display()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the test binary again")
}

/// The control's child process, not a test of its own: without the environment variable
/// [`CONTROL`] it does nothing. `write`: sled in the directory, one key after another, each
/// printed once `flush()` returned (`write-sync`: once `db` was `fdatasync`ed after it, as
/// the store does), until it is killed. `read`: prints the keys sled has.
#[test]
fn control_process() {
    let Some(how) = std::env::var_os(CONTROL) else {
        return;
    };
    let how = how.into_string().unwrap();
    let (mode, dir) = how.split_once(':').unwrap();
    let dir = PathBuf::from(dir);
    // sled's own background fsync (every 500 ms by default) is off: it would keep some of
    // the keys by chance, and what is on trial is what an acknowledgement after flush()
    // promises.
    let db = sled::Config::new()
        .path(&dir)
        .flush_every_ms(None)
        .open()
        .unwrap();
    if mode == "read" {
        for k in db.iter().keys() {
            let k = <[u8; 8]>::try_from(k.unwrap().as_ref()).unwrap();
            println!("present {}", u64::from_be_bytes(k));
        }
        return;
    }
    // The empty store durable before the first key, names and all (as EventLog::open
    // leaves a store): what the cut takes can only be the keys.
    let file = std::fs::File::open(dir.join("db")).unwrap();
    file.sync_all().unwrap();
    std::fs::File::open(dir.join("conf"))
        .unwrap()
        .sync_all()
        .unwrap();
    for d in [&dir, dir.parent().unwrap()] {
        std::fs::File::open(d).unwrap().sync_all().unwrap();
    }
    // Bounded, should the parent die before it kills this.
    for key in 0u64..100_000 {
        db.insert(key.to_be_bytes(), &[7u8; 100][..]).unwrap();
        db.flush().unwrap();
        if mode == "write-sync" {
            file.sync_data().unwrap();
        }
        println!("acked {key}");
    }
}
