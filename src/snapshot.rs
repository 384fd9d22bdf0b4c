//! Snapshots: the write state and the projection as of one sequence, so that a start
//! replays only the log after it instead of the whole log.
//!
//! A snapshot is a cache of the log, never a source of truth: one that cannot be read,
//! comes from another format version, or does not match the log (the log has no event
//! at its sequence, or that event's hash is not the snapshot's) is ignored with a log line
//! and the log is replayed from its start. After a start from a snapshot the chain from the
//! first event up to the snapshot's is still verified, in the background
//! (`recovery::check_chain_in_background`).
//!
//! # Format
//!
//! One file, `DATA_DIR/snapshot`:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `TKSNAP\r\n` |
//! | 4 | format version, little-endian (this build: [`FORMAT`]) |
//! | 8 | sequence of the last event it holds, little-endian |
//! | 32 | that event's hash |
//! | 8 | body length, little-endian |
//! | 4 | CRC-32 of the body, little-endian |
//! | n | body: postcard of (`WriterState`, `Projection`) |
//!
//! It is written to `snapshot.tmp`, `fsync`ed, renamed over `snapshot`, and the directory
//! is `fsync`ed: a crash leaves the old snapshot or the new one, never a torn one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::domain::Hash;
use crate::projection::Projection;
use crate::store::EventLog;
use crate::write::WriterState;

/// Events between snapshots unless the command line says otherwise.
pub(crate) const DEFAULT_EVERY: u64 = 1_000_000;

const MAGIC: &[u8; 8] = b"TKSNAP\r\n";
/// The format version this build writes and reads. Bump it whenever the serialized shape of
/// `WriterState` or `Projection` changes: a snapshot of another version is ignored.
pub(crate) const FORMAT: u32 = 6;
const HEADER: usize = 8 + 4 + 8 + 32 + 8 + 4;
/// The snapshot file's name in the data directory.
pub(crate) const FILE: &str = "snapshot";

/// A snapshot read back, matched against the log.
pub(crate) struct Snapshot {
    pub(crate) sequence: u64,
    pub(crate) head: Hash,
    pub(crate) state: WriterState,
    pub(crate) projection: Projection,
}

/// The body of a snapshot of `state` and `projection` (both as of the same sequence).
pub(crate) fn encode(state: &WriterState, projection: &Projection) -> Vec<u8> {
    // Serializing plain in-memory data into memory does not fail.
    postcard::to_allocvec(&(state, projection)).expect("snapshot serializes")
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Writes a snapshot (body from [`encode`]) durably, replacing the previous one.
pub(crate) fn write(dir: &Path, sequence: u64, head: Hash, body: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    f.write_all(MAGIC)?;
    f.write_all(&FORMAT.to_le_bytes())?;
    f.write_all(&sequence.to_le_bytes())?;
    f.write_all(&head)?;
    f.write_all(&(body.len() as u64).to_le_bytes())?;
    f.write_all(&crc32fast::hash(body).to_le_bytes())?;
    f.write_all(body)?;
    let f = f.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path(dir))?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads the snapshot of `dir` and matches it against `log`. `Ok(None)`: there is none;
/// `Err(why)`: there is one, and it must not be used.
pub(crate) fn read(dir: &Path, log: &EventLog) -> Result<Option<Snapshot>, String> {
    let mut f = match std::fs::File::open(path(dir)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    let mut header = [0u8; HEADER];
    f.read_exact(&mut header)
        .map_err(|e| format!("cannot read its header: {e}"))?;
    if &header[..8] != MAGIC {
        return Err("it is not a tilannekuva snapshot".into());
    }
    let le8 = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let format = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(format!(
            "it has format version {format}; this build reads version {FORMAT}"
        ));
    }
    let sequence = le8(12);
    let head: Hash = header[20..52].try_into().expect("32 bytes");
    let len = le8(52);
    let crc = u32::from_le_bytes(header[60..64].try_into().expect("4 bytes"));
    // The log must hold the snapshot's last event, with its hash, before the body is read.
    match log.read_at(&[sequence]) {
        Ok(events) => match events.first() {
            Some(e) if e.hash == head => {}
            Some(_) => {
                return Err(format!(
                    "it does not match the log: the log's event {sequence} has another hash"
                ))
            }
            None => {
                return Err(format!(
                    "it does not match the log: the log has no event {sequence}"
                ))
            }
        },
        Err(e) => return Err(format!("the log's event {sequence} cannot be read: {e}")),
    }
    let mut body = Vec::new();
    f.take(len)
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read its body: {e}"))?;
    if body.len() as u64 != len {
        return Err(format!("it is cut short: {} of {len} bytes", body.len()));
    }
    if crc32fast::hash(&body) != crc {
        return Err("its checksum does not match: it is damaged".into());
    }
    let (state, projection): (WriterState, Projection) =
        postcard::from_bytes(&body).map_err(|e| format!("its body cannot be decoded: {e}"))?;
    if state.last_sequence() != sequence || projection.applied() != sequence {
        return Err(format!(
            "its state is not at its sequence {sequence} (write state {}, projection {})",
            state.last_sequence(),
            projection.applied()
        ));
    }
    Ok(Some(Snapshot {
        sequence,
        head,
        state,
        projection: projection.restored(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use crate::domain::Catalog;
    use crate::write::synthetic;

    /// What a snapshot of a small fixed log encodes to. When this changes, the shape of
    /// `WriterState` or `Projection` (or the fold) changed: bump [`FORMAT`] so that old
    /// snapshots are ignored instead of misread, then pin the new value here.
    const PINNED: &str = "54f1c5cfc1803780f46849539cf1f045dc5ab1868ec6d997911458e61a5a48d0";

    #[test]
    fn the_encoding_is_pinned_to_the_format_version() {
        let mut catalog = Catalog::bundled();
        catalog.regions.retain(|k, _| k == "MK01" || k == "MK02");
        catalog.indicators.retain(|k, _| k == "population");
        catalog.groups.retain(|k, _| k == "FI1B");
        let cells = synthetic::cells(&catalog);
        let mut state = WriterState::default();
        let mut projection = Projection::new();
        let now = 1_795_737_600_000_000;
        let mut events = state.bootstrap(&catalog, now);
        // One submission: the write state keeps submissions in a map whose order (and so
        // encoding) differs between runs once it holds two.
        let req = synthetic::submission(&catalog, &cells, 0, 4);
        state
            .prepare(req, &Principal::system("t"), now + 1, &mut events)
            .unwrap();
        for e in &events {
            projection.apply(e);
        }
        let body = encode(&state, &projection);
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        assert_eq!(
            (FORMAT, digest.as_str()),
            (6, PINNED),
            "the snapshot encoding changed: bump snapshot::FORMAT and pin the new digest"
        );
    }
}
