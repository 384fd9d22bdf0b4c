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
//! - `meta`: `format_version` → `u32` big-endian. This file describes version **1**. A
//!   store with another version is refused at open.
//! - `log`: one entry per *chunk* of consecutive events. Key: the sequence of the chunk's
//!   first event, `u64` big-endian (8 bytes), so sled's order is log order. Value: the
//!   [postcard](https://postcard.jamesmunns.com/wire-format) encoding of `Vec<Event>`
//!   (see [`crate::domain::Event`] for the fields, in order). A commit group is split into
//!   chunks of at most [`CHUNK_BYTES`]; all chunks of a group are written in one atomic
//!   sled batch. The chunk size keeps every sled page out of sled's *blob* files: a page
//!   larger than a quarter of sled's 512 KiB segment is written to a blob file, and sled
//!   writes blob files without `fsync`, so a blob would not be covered by our commit's
//!   `fdatasync`. A leaf page holds at most 17 entries before it splits, so entries of at
//!   most 6 KiB keep every page under 128 KiB (tested: `no_blob_files`).
//!
//! Nothing else is on disk: idempotency keys, region revisions, the catalog and the
//! projection are rebuilt from the log at start (DESIGN.md §8: one key per commit group,
//! on-disk indexes only for what recovery needs — and recovery needs none).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::Event;

/// The on-disk format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_KEY: &[u8] = b"format_version";
/// Largest encoded chunk (estimated from above): 17 of them, a full leaf page, stay under
/// sled's inline limit (segment_size / 4 = 128 KiB), so every event stays in sled's main
/// file and one `fdatasync` of it covers a commit. One event is at most ~3.5 KiB (the
/// string limits of `domain::validate`), so a chunk always fits at least one.
pub const CHUNK_BYTES: usize = 6 * 1024;

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
        "the store at {path} has format version {found}; this build reads version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("the store is poisoned by an earlier failed flush; restart the server")]
    Poisoned,
}

/// The append-only event log.
pub struct EventLog {
    /// Kept to flush and to measure the store's size.
    db: sled::Db,
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

fn decode_chunk(k: &[u8], v: &[u8]) -> Result<Vec<Event>, StoreError> {
    let key = <[u8; 8]>::try_from(k).map(u64::from_be_bytes).unwrap_or(0);
    let events: Vec<Event> = postcard::from_bytes(v).map_err(|e| StoreError::Corrupt {
        key,
        message: e.to_string(),
    })?;
    match events.first() {
        Some(first) if first.sequence == key => Ok(events),
        _ => Err(StoreError::Corrupt {
            key,
            message: "chunk is empty or does not start at its key".into(),
        }),
    }
}

impl EventLog {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<EventLog, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let meta = db.open_tree("meta")?;
        let log = db.open_tree("log")?;
        match meta.get(FORMAT_KEY)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if found != FORMAT_VERSION {
                    return Err(StoreError::Version {
                        path: path.to_owned(),
                        found,
                    });
                }
            }
            None => {
                meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
        }
        let data_file = File::open(path.join("db"))?;
        Ok(EventLog {
            db,
            log,
            data_file,
            poisoned: AtomicBool::new(false),
            path: path.to_owned(),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one commit group atomically and returns when it is durable.
    ///
    /// # Durability
    ///
    /// On `Ok`, the events are written to sled's file, sled's flush has completed and the
    /// file has been `fdatasync`ed: they survive a process crash, an OS crash and a power
    /// loss (on a disk that honours flush requests). On `Err` nothing is promised — the
    /// events may or may not be on disk — and the log is poisoned: the caller must stop
    /// acknowledging writes. The caller is responsible for the events' sequence and chain.
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
            let value = postcard::to_allocvec(chunk).map_err(|e| StoreError::Corrupt {
                key: chunk[0].sequence,
                message: e.to_string(),
            })?;
            batch.insert(&key(chunk[0].sequence), value);
            start = end;
        }
        self.log.apply_batch(batch)?;
        self.db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }

    /// Whether a failed flush has stopped writes.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Up to about `max_events` events starting at `from` (inclusive), in order.
    pub fn read_from(&self, from: u64, max_events: usize) -> Result<Vec<Event>, StoreError> {
        let from = from.max(1);
        let mut out = Vec::new();
        // The chunk holding `from` starts at or before it.
        let start = match self.log.range(..=key(from)).next_back() {
            Some(kv) => kv?.0,
            None => sled::IVec::from(&key(from)),
        };
        for kv in self.log.range(start..) {
            let (k, v) = kv?;
            for e in decode_chunk(&k, &v)? {
                if e.sequence >= from {
                    out.push(e);
                }
            }
            if out.len() >= max_events {
                break;
            }
        }
        Ok(out)
    }

    /// Calls `f` with every chunk of the log, in order.
    pub fn for_each_chunk(
        &self,
        mut f: impl FnMut(Vec<Event>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for kv in self.log.iter() {
            let (k, v) = kv?;
            f(decode_chunk(&k, &v)?)?;
        }
        Ok(())
    }

    /// The last event of the log, if any.
    pub fn last_event(&self) -> Result<Option<Event>, StoreError> {
        match self.log.last()? {
            Some((k, v)) => Ok(decode_chunk(&k, &v)?.pop()),
            None => Ok(None),
        }
    }

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
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
    fn refuses_another_format_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EventLog::open(dir.path()).unwrap();
            log.db
                .open_tree("meta")
                .unwrap()
                .insert(FORMAT_KEY, &2u32.to_be_bytes())
                .unwrap();
            log.db.flush().unwrap();
        }
        let err = EventLog::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("format version 2"), "{err}");
    }
}
