//! The event log on sled: the only source of truth.
//!
//! It owns durability and the on-disk format; it knows nothing of validation or pictures.
//! It must never acknowledge an append that is not on disk, and after a failed flush it
//! refuses every further append (it is *poisoned*) instead of carrying on.
//!
//! # Format
//!
//! A sled 0.34 database in the data directory with two trees:
//!
//! - `meta`: `format_version` → `u32` big-endian. This file describes version **3**. A
//!   version-1 or version-2 store is marked version 3 when it is opened (by any command
//!   that opens it, `verify` and `export` too), and its chunks stay as they are: every
//!   chunk says itself whether it is packed (below). A store with any other version is
//!   refused at open, so that an older build refuses a newer store by its version instead
//!   of failing on a chunk it cannot decode. `open_probe` → 8 random bytes, written anew at
//!   every open to check that the store keeps writes (see [`EventLog::open`]); nothing
//!   reads it otherwise.
//! - `log`: one entry per *chunk* of consecutive events. Key: the sequence of the chunk's
//!   first event, `u64` big-endian (8 bytes), so sled's order is log order. Value of a plain
//!   chunk: the [postcard](https://postcard.jamesmunns.com/wire-format) encoding of
//!   `Vec<Event>` (see [`crate::domain::Event`] for the fields, in order, and
//!   [`crate::domain::Payload`] for the payload variants: 0 observation recorded, 1
//!   observation retracted, 2 indicator defined as version 1 wrote it, 3 region defined —
//!   all of version 1 — and, new in version 2, 4 indicator defined with a kind or an open
//!   last year, 5 submission summary; later, with no change of the store's version, 6 peer
//!   group defined, 7 reporting round opened, 8 region defined with the years it was in
//!   force); it never starts with a 0 byte (its first byte begins
//!   the number of its events, at least 1). Value of a packed chunk (new in version 3,
//!   which writes only these): the byte 0, the plain chunk's length as `u32`
//!   little-endian, then those bytes compressed as one
//!   [LZ4 block](https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md). The events of
//!   a chunk repeat their region, principal, submission id, source and note, and each
//!   carries the previous one's hash: packed, a chunk of observations is about a quarter of
//!   its plain size, and so is what sled writes (it rewrites a leaf page several times as
//!   entries join it). A commit group is split into chunks of at most [`CHUNK_BYTES`]
//!   (plain size); all chunks of a group are written in one atomic sled batch. The chunk
//!   size keeps every sled page out of sled's *blob* files: a page larger than a quarter of sled's 512 KiB segment is written to a blob file, and sled
//!   writes blob files without `fsync`, so a blob would not be covered by our commit's
//!   `fdatasync`. A leaf page holds at most 17 entries before it splits, so entries of at
//!   most 6 KiB keep every page under 128 KiB (tested: `no_blob_files`).
//!
//! Nothing else is on disk: idempotency keys, region revisions, the catalog and the
//! projection are rebuilt from the log at start (docs/architecture.md: one key per commit group,
//! on-disk indexes only for what recovery needs — and recovery needs none).
//!
//! # Damage
//!
//! sled checks every log message with a CRC. At open it replays its log, ends a segment at
//! the first message that is torn or fails its check, and drops later segments that no
//! longer join up; damage to data its snapshot already counts as stable is an error. What
//! it then serves has, in every test (`tests/crash.rs`), been an intact prefix of the log —
//! often much shorter than the damage, because sled reuses segments, so the end of the file
//! is not the end of the log — and the chain verification at start checks the rest. sled
//! says nothing about what it dropped. Worse, sled 0.34 sometimes *panics* on a damaged
//! file (`tried to serialize Uninitialized` when the tail of the file is overwritten), and
//! its recovery of a damaged file is not always sound (see [`EventLog::open`]). So every
//! sled call here runs contained ([`contain`]): a panic becomes [`StoreError::Damaged`]
//! naming the file, and sled's corruption errors become the same error saying what sled
//! found where. So that a contained panic prints no backtrace, the store installs (once) a
//! panic hook that is silent only for panics inside its own contained calls on the calling
//! thread; every other panic goes to the hook that was installed before.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::domain::Event;

/// sled's page cache. The log is read in order (start, replicas, `ReadEvents`) or a few
/// events at a time (revision trails): its default of 1 GiB would only hold pages of the
/// log in memory that nothing reads again.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The on-disk format this code reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 3;
/// The older formats this code reads, and upgrades at open (see `# Format`).
const OLDER_FORMAT_VERSIONS: [u32; 2] = [1, 2];
const FORMAT_KEY: &[u8] = b"format_version";
/// The first byte of a packed chunk, which no plain chunk has (see `# Format`).
const PACKED: u8 = 0;
/// Largest plain size a packed chunk may claim: far above any chunk this code writes
/// ([`CHUNK_BYTES`] plus one event), so that a damaged length is refused before anything
/// is allocated for it.
const MAX_PLAIN_CHUNK: usize = 1 << 20;
/// How long an open waits for sled's file lock. A store dropped a moment ago in the same
/// process can still hold it for a few milliseconds (sled's background work finishes after
/// the drop; seen in tests that reopen at once), and [`EventLog::open`] itself reopens. A
/// lock held by another process is reported after this wait.
const LOCK_WAIT: Duration = Duration::from_secs(3);
const LOCK_POLL: Duration = Duration::from_millis(5);
/// A random value written at every open and read back after a reopen (see [`EventLog::open`]).
const PROBE_KEY: &[u8] = b"open_probe";
/// Largest encoded chunk (estimated from above): 17 of them, a full leaf page, stay under
/// sled's inline limit (segment_size / 4 = 128 KiB), so every event stays in sled's main
/// file and one `fdatasync` of it covers a commit. One event is at most ~3.5 KiB (the
/// string limits of `domain::validate`), so a chunk always fits at least one.
pub(crate) const CHUNK_BYTES: usize = 6 * 1024;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt log entry at key {key}: {message}")]
    Corrupt { key: u64, message: String },
    #[error(
        "the store file {} is damaged: {detail}; restore the data directory from a backup, \
         or import an export into an empty one",
        .path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the store at {path} has format version {found}; this build reads version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("the store is poisoned by an earlier failed flush; restart the server")]
    Poisoned,
    #[error(
        "the store at {} is in use by another process (a running server?): stop the server \
         first, or read it through the server (`tilannekuva export --server ...`)",
        .path.display()
    )]
    InUse { path: PathBuf },
    #[error(
        "no space left on the device of {}: free space and start again. Nothing is lost: a \
         write that could not be made durable was never acknowledged",
        .path.display()
    )]
    NoSpace { path: PathBuf },
}

/// The append-only event log.
pub struct EventLog {
    /// Kept to flush and to measure the store's size.
    db: sled::Db,
    /// The format version and the open probe.
    meta: sled::Tree,
    /// Chunks of events by first sequence.
    log: sled::Tree,
    /// sled's main data file, opened again so that a commit can `fdatasync` it: sled's own
    /// flush uses `sync_file_range`, which neither persists a grown file's size nor flushes
    /// a volatile disk write cache.
    data_file: File,
    /// Set after a failed write or flush; every later append fails.
    poisoned: AtomicBool,
    path: PathBuf,
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// A plain chunk packed (see `# Format`), appended to `out`.
fn pack(plain: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.push(PACKED);
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    out.resize(
        start + 5 + lz4_flex::block::get_maximum_output_size(plain.len()),
        0,
    );
    // The output was sized for the worst case just above.
    let n = lz4_flex::block::compress_into(plain, &mut out[start + 5..])
        .expect("LZ4 output sized for the worst case");
    out.truncate(start + 5 + n);
}

/// The value a store of this format writes for a chunk of these plain bytes (the postcard
/// encoding of its events; anything else is damage): for tests that write into a store
/// directly.
#[doc(hidden)]
pub fn packed_chunk(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    pack(plain, &mut out);
    out
}

/// The events of the chunk stored under key `k`, as every read decodes them: for tests
/// that read a store directly.
#[doc(hidden)]
pub fn decoded_chunk(k: &[u8], v: &[u8]) -> Result<Vec<Event>, StoreError> {
    decode_chunk(k, v)
}

/// The plain bytes of a packed chunk, checked: a damaged chunk is an error, never a panic
/// or a huge allocation.
fn unpack(v: &[u8]) -> Result<Vec<u8>, String> {
    let Some((len, body)) = v.get(1..).and_then(|v| v.split_first_chunk::<4>()) else {
        return Err(format!("a packed chunk of {} bytes has no length", v.len()));
    };
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_PLAIN_CHUNK {
        return Err(format!("a packed chunk claims {len} plain bytes"));
    }
    let mut plain = vec![0; len];
    match lz4_flex::block::decompress_into(body, &mut plain) {
        Ok(n) if n == len => Ok(plain),
        Ok(n) => Err(format!("a packed chunk holds {n} plain bytes, not {len}")),
        Err(e) => Err(format!("a packed chunk does not unpack ({e})")),
    }
}

fn decode_chunk(k: &[u8], v: &[u8]) -> Result<Vec<Event>, StoreError> {
    let Ok(key) = <[u8; 8]>::try_from(k).map(u64::from_be_bytes) else {
        return Err(StoreError::Corrupt {
            key: 0,
            message: format!("the key is {} bytes, not 8 ({})", k.len(), hex::encode(k)),
        });
    };
    let corrupt = |message: String| StoreError::Corrupt { key, message };
    let unpacked;
    let v = if v.first() == Some(&PACKED) {
        unpacked = unpack(v).map_err(corrupt)?;
        &unpacked[..]
    } else {
        v
    };
    let (events, rest): (Vec<Event>, &[u8]) = postcard::take_from_bytes(v)
        .map_err(|e| corrupt(format!("the chunk cannot be decoded ({e})")))?;
    if !rest.is_empty() {
        return Err(corrupt(format!(
            "{} bytes follow the chunk's events",
            rest.len()
        )));
    }
    match events.first() {
        Some(first) if first.sequence == key => Ok(events),
        Some(first) => Err(corrupt(format!(
            "the chunk starts with sequence {}",
            first.sequence
        ))),
        None => Err(corrupt("the chunk is empty".into())),
    }
}

thread_local! {
    /// Set while this thread runs a [`contain`]ed call: the panic hook is then silent.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
    /// Where the last contained panic of this thread happened, left by the hook.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that records (instead of printing) panics of
/// contained calls and hands every other panic to the hook that was there before.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", crate_relative(l.file()), l.line()));
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// `…/registry/src/index…/sled-0.34.7/src/x.rs` → `sled-0.34.7/src/x.rs`.
fn crate_relative(file: &str) -> &str {
    file.split_once("/registry/src/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(file, |(_, path)| path)
}

/// Runs `f`; a panic inside it (sled panics on some damaged files) becomes `Err` with the
/// panic's message and place, without a backtrace on stderr.
fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_hook();
    let outer = CONTAINED.with(|c| c.replace(true));
    // Nothing of the store is used after a panic but the error: unwind safety is moot.
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(outer));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        match PANIC_AT.with(|p| p.borrow_mut().take()) {
            Some(at) => format!("sled panicked ({message}, at {at})"),
            None => format!("sled panicked ({message})"),
        }
    })
}

/// The error for a failed sled call on the store in `dir` while `doing` something: damage
/// that sled detected becomes [`StoreError::Damaged`] saying what sled found where; other
/// errors (permissions, a lock held by another process, a full disk) stay sled's own.
fn sled_error(dir: &Path, doing: &str, e: sled::Error) -> StoreError {
    let file = dir.join("db");
    let detail = match &e {
        // A full disk is not damage: nothing was written, nothing is lost.
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            return StoreError::NoSpace {
                path: dir.to_owned(),
            }
        }
        sled::Error::Corruption { at: Some(at), .. } => match at {
            sled::DiskPtr::Inline(offset) => {
                format!("{doing}, sled found corrupted data at byte {offset}")
            }
            sled::DiskPtr::Blob(offset, blob) => format!(
                "{doing}, sled found corrupted data in blob {blob} (referenced at byte {offset})"
            ),
        },
        sled::Error::Corruption { at: None, .. } => format!(
            "{doing}, sled found its log inconsistent with its snapshot (data it had \
             recorded as stable is cut off or overwritten)"
        ),
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("{doing}, the file ends inside data sled points to (it was cut short: {io})")
        }
        sled::Error::ReportableBug(m) => format!("{doing}, sled reported an inconsistency: {m}"),
        _ => return StoreError::Sled(e),
    };
    StoreError::Damaged { path: file, detail }
}

/// Removes the snapshots sled began and never finished (`snap.<lsn>.generating`): sled
/// writes a snapshot there and renames it when it is complete, so such a file is the
/// leftover of a start or a flush that failed (a full disk leaves it empty). sled would
/// read it as its newest snapshot and report the store corrupt; without it sled recovers
/// from its last complete snapshot and its log, which is where the data is.
///
/// Only while nobody holds the store: sled (another process opening it right now) locks
/// its `db` file, and then this removes nothing and reports the store in use.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let unfinished: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("snap.") && name.ends_with(".generating")
        })
        .map(|e| e.path())
        .collect();
    if unfinished.is_empty() {
        return Ok(());
    }
    // The same lock sled takes (flock on `db`), held while removing.
    let _held = match File::open(dir.join("db")) {
        Ok(db) => match db.try_lock() {
            Ok(()) => Some(db),
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse {
                    path: dir.to_owned(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    for path in unfinished {
        std::fs::remove_file(&path)?;
        tracing::info!(file = %path.display(), "removed an unfinished snapshot left by a failed start");
    }
    Ok(())
}

/// `fsync` of the directory `dir`: makes the names created, renamed or removed in it
/// durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Runs the sled call `f` contained (see [`contain`]), mapping its errors by [`sled_error`].
fn guarded<T>(
    dir: &Path,
    doing: impl FnOnce() -> String,
    f: impl FnOnce() -> sled::Result<T>,
) -> Result<T, StoreError> {
    match contain(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(sled_error(dir, &doing(), e)),
        Err(panic) => Err(StoreError::Damaged {
            path: dir.join("db"),
            detail: format!("{}, {panic}", doing()),
        }),
    }
}

impl EventLog {
    /// Opens (or creates) the store in `path`.
    ///
    /// Opening runs sled's recovery, which cuts a torn or damaged log (and writes that cut
    /// to disk). sled 0.34's recovery of a *damaged* file is not always sound: it can leave a
    /// log that the next open rejects ("inconsistent with its snapshot"), or one that loses
    /// the next write at the next open — either would lose writes acknowledged in between.
    /// So the store proves it keeps a write before it takes any: it writes a random probe to
    /// `meta` durably, closes, opens again, and requires the probe and the same log end.
    /// This costs one more sled open (which replays only what the first one just
    /// snapshotted) and one `fdatasync` per start. It is a check, not a cure: in rare
    /// layouts (one in ~200 damaged files in a stress run) sled passed it and still lost
    /// later appends at the following open. A store that fails it, or that sled cannot
    /// open at all, is [`StoreError::Damaged`], never a panic.
    pub fn open(path: &Path) -> Result<EventLog, StoreError> {
        EventLog::open_checked(path).map_err(|e| match e {
            StoreError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                StoreError::NoSpace {
                    path: path.to_owned(),
                }
            }
            e => e,
        })
    }

    fn open_checked(path: &Path) -> Result<EventLog, StoreError> {
        remove_unfinished_snapshots(path)?;
        let new = !path.join("db").exists();
        let first = EventLog::open_once(path, "while sled recovered its log at open")?;
        let end = first.last_key()?;
        let probe = getrandom::u64()
            .map_err(|e| std::io::Error::other(format!("no random probe value: {e}")))?
            .to_be_bytes();
        guarded(
            path,
            || "while writing the open probe".into(),
            || {
                first.meta.insert(PROBE_KEY, &probe)?;
                first.db.flush()
            },
        )?;
        first.data_file.sync_data()?;
        drop(first);
        let log = EventLog::open_once(
            path,
            "while reopening it after sled's recovery (the recovery left a log that sled \
             cannot open again)",
        )?;
        let found = guarded(
            path,
            || "while reading the open probe".into(),
            || log.meta.get(PROBE_KEY),
        )?;
        let reopened_end = log.last_key()?;
        let chunk = |k: Option<u64>| k.map_or("(none)".into(), |k| k.to_string());
        if found.as_deref() != Some(&probe[..]) || reopened_end != end {
            return Err(StoreError::Damaged {
                path: path.join("db"),
                detail: format!(
                    "sled's recovery is unsound: a durable write was {} after reopening, and \
                     the log ended at chunk {} before and at chunk {} after",
                    if found.as_deref() == Some(&probe[..]) {
                        "kept"
                    } else {
                        "lost"
                    },
                    chunk(end),
                    chunk(reopened_end),
                ),
            });
        }
        log.sync_names(new)?;
        Ok(log)
    }

    /// Makes the names of the store's files durable. sled creates `db`, `conf` and
    /// `blobs/`, and at an open writes its snapshot anew (`snap.*`, renamed into place, the
    /// old one removed; sled 0.34 writes snapshots only at open), but never `fsync`s the
    /// directory: until something does, a power loss can take a name away — and with
    /// `db`'s name every write in it, however often `db` itself was synced. So once sled
    /// has opened, the data directory is synced, and for a new store its parent too (the
    /// directory may just have been made). `conf` is synced as well: sled writes it once,
    /// at creation, and never syncs it, and sled refuses a store whose `conf` kept its
    /// length but not its bytes.
    fn sync_names(&self, new: bool) -> Result<(), StoreError> {
        File::open(self.path.join("conf"))?.sync_all()?;
        sync_dir(&self.path)?;
        if new {
            let parent = match self.path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Key of the log's last chunk, if any.
    fn last_key(&self) -> Result<Option<u64>, StoreError> {
        let last = guarded(
            &self.path,
            || "while looking up the last chunk".into(),
            || self.log.last(),
        )?;
        Ok(last.map(|(k, _)| <[u8; 8]>::try_from(k.as_ref()).map_or(0, u64::from_be_bytes)))
    }

    fn open_once(path: &Path, doing: &str) -> Result<EventLog, StoreError> {
        let deadline = Instant::now() + LOCK_WAIT;
        let db = loop {
            let opened = guarded(
                path,
                || doing.into(),
                || {
                    sled::Config::new()
                        .path(path)
                        .mode(sled::Mode::HighThroughput)
                        .cache_capacity(CACHE_BYTES)
                        .open()
                },
            );
            match opened {
                Err(StoreError::Sled(sled::Error::Io(e)))
                    if e.to_string().contains("could not acquire lock") =>
                {
                    if Instant::now() >= deadline {
                        return Err(StoreError::InUse {
                            path: path.to_owned(),
                        });
                    }
                    std::thread::sleep(LOCK_POLL);
                }
                other => break other?,
            }
        };
        let (meta, log) = guarded(
            path,
            || "while opening the trees".into(),
            || Ok((db.open_tree("meta")?, db.open_tree("log")?)),
        )?;
        let version = guarded(
            path,
            || "while reading the format version".into(),
            || meta.get(FORMAT_KEY),
        )?;
        let found = version.map(|v| {
            <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(0)
        });
        match found {
            Some(FORMAT_VERSION) => {}
            Some(older) if !OLDER_FORMAT_VERSIONS.contains(&older) => {
                return Err(StoreError::Version {
                    path: path.to_owned(),
                    found: older,
                })
            }
            // New, or older (its plain chunks stay as they are; new ones are packed).
            None | Some(_) => {
                guarded(
                    path,
                    || "while writing the format version".into(),
                    || {
                        meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
                        db.flush()
                    },
                )?;
            }
        }
        let data_file = File::open(path.join("db"))?;
        Ok(EventLog {
            db,
            meta,
            log,
            data_file,
            poisoned: AtomicBool::new(false),
            path: path.to_owned(),
        })
    }

    /// The data directory this log lives in.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.path
    }

    /// Appends one commit group atomically and returns when it is durable.
    ///
    /// # Durability
    ///
    /// On `Ok`, the events are written to sled's file, sled's flush has completed and the
    /// file has been `fdatasync`ed (its name was made durable at open): they survive a
    /// process crash, an OS crash and a power loss (on a disk that honours flush requests).
    /// On `Err` nothing is promised — the events may or may not be on disk — and the log is
    /// poisoned: the caller must stop acknowledging writes. The caller is responsible for
    /// the events' sequence and chain.
    pub fn append(&self, events: &[Event]) -> Result<(), StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let result = self.write_and_sync(events);
        if result.is_err() {
            self.poisoned.store(true, Ordering::Release);
        }
        result
    }

    fn write_and_sync(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut plain = Vec::new();
        let mut packed = Vec::new();
        let mut start = 0;
        while start < events.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < events.len() {
                let size = approx_size(&events[end]);
                if end > start && bytes + size > CHUNK_BYTES {
                    break;
                }
                bytes += size;
                end += 1;
            }
            let chunk = &events[start..end];
            plain.clear();
            plain = postcard::to_extend(chunk, plain).map_err(|e| StoreError::Corrupt {
                key: chunk[0].sequence,
                message: e.to_string(),
            })?;
            let first = chunk[0].sequence;
            if plain.len() > MAX_PLAIN_CHUNK {
                // Cannot happen within the string limits of `domain::validate`; written, it
                // would not be read back.
                return Err(StoreError::Corrupt {
                    key: first,
                    message: format!("a chunk of {} bytes is too large to store", plain.len()),
                });
            }
            packed.clear();
            pack(&plain, &mut packed);
            batch.insert(&key(first), &packed[..]);
            start = end;
        }
        guarded(
            &self.path,
            || "while appending".into(),
            || {
                self.log.apply_batch(batch)?;
                self.db.flush()
            },
        )?;
        self.data_file.sync_data()?;
        Ok(())
    }

    /// Whether a failed flush has stopped writes.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Up to about `max_events` events starting at `from` (inclusive), in order.
    pub(crate) fn read_from(&self, from: u64, max_events: usize) -> Result<Vec<Event>, StoreError> {
        let from = from.max(1);
        let mut out = Vec::new();
        self.for_each_chunk_from(from, |chunk| {
            out.extend(chunk.into_iter().filter(|e| e.sequence >= from));
            if out.len() >= max_events {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        Ok(out)
    }

    /// The events at `sequences` (ascending), in that order: one chunk lookup per chunk
    /// they fall in. A sequence beyond the log's end is left out.
    pub(crate) fn read_at(&self, sequences: &[u64]) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::with_capacity(sequences.len());
        let mut chunk: Vec<Event> = Vec::new();
        for &seq in sequences {
            let held = chunk.first().is_some_and(|e| e.sequence <= seq)
                && chunk.last().is_some_and(|e| e.sequence >= seq);
            if !held {
                chunk = self.read_from(seq, 1)?;
            }
            if let Some(e) = chunk.iter().find(|e| e.sequence == seq) {
                out.push(e.clone());
            }
        }
        Ok(out)
    }

    /// Calls `f` with every chunk of the log from the one holding sequence `from`, in order
    /// (the first may start before `from`), until `f` answers `Break`.
    pub(crate) fn for_each_chunk_from(
        &self,
        from: u64,
        mut f: impl FnMut(Vec<Event>) -> std::ops::ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let from = from.max(1);
        let before = guarded(
            &self.path,
            || format!("while looking up the chunk holding sequence {from}"),
            || self.log.range(..=key(from)).next_back().transpose(),
        )?;
        let iter = match before {
            Some((k, _)) => self.log.range(k..),
            None => self.log.iter(),
        };
        let mut chunks = self.chunks(iter);
        while let Some(chunk) = chunks.next_chunk()? {
            if f(chunk).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn chunks(&self, iter: sled::Iter) -> Chunks<'_> {
        Chunks {
            dir: &self.path,
            iter,
            last: None,
        }
    }

    /// The last event of the log, if any.
    pub(crate) fn last_event(&self) -> Result<Option<Event>, StoreError> {
        let last = guarded(
            &self.path,
            || "while reading the last chunk".into(),
            || self.log.last(),
        )?;
        match last {
            Some((k, v)) => Ok(decode_chunk(&k, &v)?.pop()),
            None => Ok(None),
        }
    }

    /// Bytes the store occupies on disk.
    pub(crate) fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// Decoded chunks of a sled iterator, each step contained.
struct Chunks<'a> {
    dir: &'a Path,
    iter: sled::Iter,
    /// Key and last sequence of the last chunk read, to say where a failure happened.
    last: Option<(u64, u64)>,
}

impl Chunks<'_> {
    fn next_chunk(&mut self) -> Result<Option<Vec<Event>>, StoreError> {
        let last = self.last;
        let next = guarded(
            self.dir,
            || match last {
                Some((k, s)) => format!("while reading the log after chunk {k} (sequence {s})"),
                None => "while reading the log's first chunk".into(),
            },
            || self.iter.next().transpose(),
        )?;
        let Some((k, v)) = next else {
            return Ok(None);
        };
        let events = decode_chunk(&k, &v)?;
        // decode_chunk returns a non-empty chunk that starts at its key.
        self.last = events.last().map(|e| (events[0].sequence, e.sequence));
        Ok(Some(events))
    }
}

fn approx_size(e: &Event) -> usize {
    let text = match &e.payload {
        crate::domain::Payload::ObservationRecorded(o) => {
            o.indicator_id.len() + o.source.len() + o.note.len() + o.correction_reason.len()
        }
        crate::domain::Payload::ObservationRetracted {
            indicator_id,
            reason,
            ..
        } => indicator_id.len() + reason.len(),
        _ => 512,
    };
    120 + e.region_code.len() + e.principal.len() + e.submission_id.len() + text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Observation, Payload, Status, ZERO_HASH};

    fn events(from: u64, n: u64, source_len: usize) -> Vec<Event> {
        (from..from + n)
            .map(|s| Event {
                sequence: s,
                recorded_at_micros: 1,
                region_code: "MK01".into(),
                region_revision: s,
                principal: "p".into(),
                submission_id: "x".into(),
                payload: Payload::ObservationRecorded(Observation {
                    indicator_id: "population".into(),
                    year: 2020,
                    value: s as f64,
                    status: Status::Final,
                    source: "s".repeat(source_len),
                    note: String::new(),
                    correction_reason: String::new(),
                    borders: None,
                    published_micros: None,
                }),
                prev_hash: ZERO_HASH,
                hash: ZERO_HASH,
            })
            .collect()
    }

    #[test]
    fn append_read_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EventLog::open(dir.path()).unwrap();
            log.append(&events(1, 3, 10)).unwrap();
            // A big group is split into several chunks.
            log.append(&events(4, 2000, 100)).unwrap();
            assert!(log.log.len() > 2);
            assert_eq!(log.last_event().unwrap().unwrap().sequence, 2003);
        }
        let log = EventLog::open(dir.path()).unwrap();
        let all = log.read_from(1, usize::MAX).unwrap();
        assert_eq!(all.len(), 2003);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, e)| e.sequence == i as u64 + 1));
        let mid = log.read_from(1500, 10).unwrap();
        assert_eq!(mid[0].sequence, 1500);
        assert!(mid.len() >= 10);
        assert!(log.read_from(5000, 10).unwrap().is_empty());
    }

    #[test]
    fn no_blob_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        // Big events (1 KiB sources) in big groups: many full leaf pages and splits.
        for g in 0..20 {
            log.append(&events(1 + g * 2000, 2000, 1024)).unwrap();
        }
        drop(log);
        let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(blobs.is_empty(), "sled wrote blob files: {blobs:?}");
        let log = EventLog::open(dir.path()).unwrap();
        assert_eq!(log.read_from(1, usize::MAX).unwrap().len(), 40_000);
    }

    #[test]
    fn a_panic_inside_sled_becomes_a_damaged_store() {
        let dir = Path::new("/data");
        let err = guarded(
            dir,
            || "while testing".into(),
            || -> sled::Result<()> { panic!("tried to serialize Uninitialized") },
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("the store file /data/db is damaged: while testing, sled panicked (tried to serialize Uninitialized, at src/store/mod.rs:"),
            "{text}"
        );
        // Outside a contained call panics are not silenced (and the flag is reset).
        assert!(!CONTAINED.with(Cell::get));
        let nested = contain(|| contain(|| panic!("inner")).unwrap_err());
        assert!(nested.unwrap().contains("inner"));
        assert!(!CONTAINED.with(Cell::get));
    }

    #[test]
    fn sled_damage_errors_say_what_and_where() {
        let dir = Path::new("/data");
        let at = sled::Error::Corruption {
            at: Some(sled::DiskPtr::Inline(195)),
            bt: (),
        };
        assert_eq!(
            sled_error(dir, "while reading", at).to_string(),
            "the store file /data/db is damaged: while reading, sled found corrupted data at \
             byte 195; restore the data directory from a backup, or import an export into an \
             empty one"
        );
        let short = sled::Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "failed to fill whole buffer",
        ));
        assert!(sled_error(dir, "x", short)
            .to_string()
            .contains("cut short"));
        // Not damage: sled's own error.
        let denied = sled::Error::Io(std::io::ErrorKind::PermissionDenied.into());
        assert!(matches!(sled_error(dir, "x", denied), StoreError::Sled(_)));
    }

    #[test]
    fn chunks_that_do_not_decode_name_their_key() {
        let ev = events(5, 2, 1);
        let good = postcard::to_allocvec(&ev).unwrap();
        assert_eq!(decode_chunk(&key(5), &good).unwrap(), ev);
        let mut trailing = good.clone();
        trailing.push(0);
        let err = decode_chunk(&key(5), &trailing).unwrap_err().to_string();
        assert_eq!(
            err,
            "corrupt log entry at key 5: 1 bytes follow the chunk's events"
        );
        let err = decode_chunk(&key(4), &good).unwrap_err().to_string();
        assert_eq!(
            err,
            "corrupt log entry at key 4: the chunk starts with sequence 5"
        );
        let err = decode_chunk(&key(5), &good[..good.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("corrupt log entry at key 5: the chunk cannot be decoded"),
            "{err}"
        );
        let mut empty = Vec::new();
        pack(
            &postcard::to_allocvec(&Vec::<Event>::new()).unwrap(),
            &mut empty,
        );
        assert!(decode_chunk(&key(5), &empty)
            .unwrap_err()
            .to_string()
            .ends_with("the chunk is empty"));
    }

    #[test]
    fn packed_chunks_round_trip_and_damage_is_an_error() {
        let ev = events(5, 40, 30);
        let plain = postcard::to_allocvec(&ev).unwrap();
        // A plain chunk never starts with the packed chunk's first byte.
        assert_ne!(plain[0], PACKED);
        let mut packed = Vec::new();
        pack(&plain, &mut packed);
        assert_eq!(packed[0], PACKED);
        assert!(
            packed.len() * 2 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        assert_eq!(decode_chunk(&key(5), &packed).unwrap(), ev);
        assert_eq!(decode_chunk(&key(5), &plain).unwrap(), ev);
        let err = |v: &[u8]| decode_chunk(&key(5), v).unwrap_err().to_string();
        assert!(
            err(&packed[..3]).contains("has no length"),
            "{}",
            err(&packed[..3])
        );
        let mut huge = packed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            err(&huge).contains("claims 4294967295 plain bytes"),
            "{}",
            err(&huge)
        );
        let mut long = packed.clone();
        long[1..5].copy_from_slice(&((plain.len() + 1) as u32).to_le_bytes());
        assert!(
            err(&long).starts_with("corrupt log entry at key 5: a packed chunk"),
            "{}",
            err(&long)
        );
        assert!(err(&packed[..packed.len() - 5]).contains("does not unpack"));
    }

    #[test]
    fn a_version_2_store_keeps_its_plain_chunks_and_packs_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A version-2 store: plain chunks.
            let log = EventLog::open(dir.path()).unwrap();
            let plain = postcard::to_allocvec(&events(1, 3, 10)).unwrap();
            log.log.insert(key(1), plain).unwrap();
            log.meta.insert(FORMAT_KEY, &2u32.to_be_bytes()).unwrap();
            log.db.flush().unwrap();
        }
        {
            let log = EventLog::open(dir.path()).unwrap();
            assert_eq!(log.read_from(1, usize::MAX).unwrap(), events(1, 3, 10));
            log.append(&events(4, 3, 10)).unwrap();
        }
        let log = EventLog::open(dir.path()).unwrap();
        let v = log.meta.get(FORMAT_KEY).unwrap().unwrap();
        assert_eq!(v.as_ref(), &FORMAT_VERSION.to_be_bytes());
        let all = log.read_from(1, usize::MAX).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(&all[3..], &events(4, 3, 10)[..]);
        let raw = |k: u64| log.log.get(key(k)).unwrap().unwrap();
        assert!(
            postcard::from_bytes::<Vec<Event>>(&raw(1)).is_ok(),
            "kept plain"
        );
        assert_eq!(raw(4)[0], PACKED, "written packed");
        assert_eq!(log.last_event().unwrap().unwrap().sequence, 6);
    }

    #[test]
    fn a_new_store_packs_every_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        log.append(&events(1, 3, 10)).unwrap();
        let raw = log.log.get(key(1)).unwrap().unwrap();
        assert_eq!(raw[0], PACKED);
        assert!(unpack(&raw).is_ok());
    }

    #[test]
    fn reopening_keeps_the_probe_and_the_log() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..3u64 {
            let log = EventLog::open(dir.path()).unwrap();
            assert_eq!(
                log.read_from(1, usize::MAX).unwrap().len() as u64,
                round * 3
            );
            assert_eq!(log.meta.get(PROBE_KEY).unwrap().map(|v| v.len()), Some(8));
            log.append(&events(round * 3 + 1, 3, 10)).unwrap();
        }
    }

    fn set_version(dir: &Path, version: u32) {
        let log = EventLog::open(dir).unwrap();
        log.db
            .open_tree("meta")
            .unwrap()
            .insert(FORMAT_KEY, &version.to_be_bytes())
            .unwrap();
        log.db.flush().unwrap();
    }

    #[test]
    fn refuses_another_format_version() {
        let dir = tempfile::tempdir().unwrap();
        set_version(dir.path(), 4);
        let err = EventLog::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("format version 4"), "{err}");
    }

    #[test]
    fn a_version_1_store_is_upgraded_at_open() {
        let dir = tempfile::tempdir().unwrap();
        set_version(dir.path(), 1);
        let log = EventLog::open(dir.path()).unwrap();
        let v = log.meta.get(FORMAT_KEY).unwrap().unwrap();
        assert_eq!(v.as_ref(), &FORMAT_VERSION.to_be_bytes());
    }
}
