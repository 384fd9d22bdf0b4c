//! Offline commands on a data directory: `import` and `verify`. They open the store
//! directly, so the server must not be running on that directory (sled locks it).

use std::io::BufRead;
use std::path::Path;

use anyhow::{anyhow, bail, Context};

use super::client::ExportEvent;
use super::{ImportArgs, VerifyArgs};
use crate::domain::event::verify_chain;
use crate::domain::{Event, ZERO_HASH};
use crate::store::EventLog;

/// Events per append while importing: one durable commit per this many events.
const IMPORT_GROUP: usize = 10_000;

/// Imports an NDJSON export into an empty data directory. The chain is checked before
/// anything is written; a broken chain names the first bad sequence and writes nothing.
pub fn import(data_dir: &Path, input: &Path) -> anyhow::Result<(u64, String)> {
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    let mut events: Vec<Event> = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", input.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let ev: ExportEvent = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}: line {} is not an exported event",
                input.display(),
                i + 1
            )
        })?;
        events.push(
            ev.into_event()
                .map_err(|m| anyhow!("{}: line {}: {m}", input.display(), i + 1))?,
        );
    }
    if let Err(e) = verify_chain(0, ZERO_HASH, &events) {
        bail!(
            "{}: the chain is broken at sequence {}: {}; nothing imported",
            input.display(),
            e.sequence,
            e.reason
        );
    }
    let log =
        EventLog::open(data_dir).with_context(|| format!("cannot open {}", data_dir.display()))?;
    if log.last_event()?.is_some() {
        bail!(
            "{} already holds events; import only into an empty data directory",
            data_dir.display()
        );
    }
    for chunk in events.chunks(IMPORT_GROUP) {
        log.append(chunk)?;
    }
    let head = events
        .last()
        .map(|e| hex::encode(e.hash))
        .unwrap_or_default();
    Ok((events.len() as u64, head))
}

pub fn import_cmd(a: ImportArgs) -> anyhow::Result<()> {
    let (n, head) = import(&a.data_dir, &a.input)?;
    println!("imported {n} events; chain head {head}");
    Ok(())
}

/// What `verify` found.
#[derive(Debug)]
pub struct VerifyReport {
    pub events: u64,
    pub head_hash: String,
}

/// Checks the hash chain and sequence of a data directory and that the log folds.
pub fn verify(data_dir: &Path) -> anyhow::Result<VerifyReport> {
    if !data_dir.join("db").exists() {
        bail!(
            "{} is not a tilannekuva data directory (no sled database)",
            data_dir.display()
        );
    }
    let log =
        EventLog::open(data_dir).with_context(|| format!("cannot open {}", data_dir.display()))?;
    let (state, projection) = crate::server::rebuild(&log).map_err(|e| anyhow!("{e}"))?;
    if projection.applied() != state.last_sequence() {
        bail!(
            "projection stopped at {} but the log ends at {}",
            projection.applied(),
            state.last_sequence()
        );
    }
    Ok(VerifyReport {
        events: state.last_sequence(),
        head_hash: hex::encode(state.head_hash()),
    })
}

pub fn verify_cmd(a: VerifyArgs) -> anyhow::Result<()> {
    let r = verify(&a.data_dir)?;
    println!(
        "ok: {} events, gap-free sequence, hash chain verified; head {}",
        r.events, r.head_hash
    );
    Ok(())
}
