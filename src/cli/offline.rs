//! Offline commands on a data directory: `import` and `verify`. They open the store
//! directly, so the server must not be running on that directory (sled locks it).

use std::io::BufRead;
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::{anyhow, bail, Context};

use super::client::ExportEvent;
use super::{ImportArgs, VerifyArgs};
use prost::Message;

use crate::api::convert::{national_picture_to_proto, region_picture_to_proto};
use crate::domain::event::verify_chain;
use crate::domain::{Event, ZERO_HASH};
use crate::projection::Projection;
use crate::recovery::FoldCause;
use crate::store::{EventLog, StoreError};
use crate::write::WriterState;

/// Events per append while importing: one durable commit per this many events.
const IMPORT_GROUP: usize = 10_000;

/// Imports an NDJSON export into an empty data directory. The chain is checked before
/// anything is written; a broken chain names the first bad sequence and writes nothing.
pub(crate) fn import(data_dir: &Path, input: &Path) -> anyhow::Result<(u64, String)> {
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

pub(crate) fn import_cmd(a: ImportArgs) -> anyhow::Result<()> {
    let (n, head) = import(&a.data_dir, &a.input)?;
    super::output::emit(&format!("imported {n} events; chain head {head}\n"))
}

/// Exports a stopped store's log as NDJSON from `from` on, checking the chain as it goes;
/// it stops at the first event that is missing or wrong, after writing every intact event
/// before it. Returns the number of events written and, when the log is broken, where and
/// why.
pub(crate) fn export(
    data_dir: &Path,
    from: u64,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<(u64, Option<String>)> {
    let log = open_existing(data_dir)?;
    let mut written = 0u64;
    let mut io_error: Option<std::io::Error> = None;
    let replayed = crate::recovery::replay(&log, |e| {
        if e.sequence < from {
            return ControlFlow::Continue(());
        }
        match writeln!(out, "{}", super::export_json_line(e)) {
            Ok(()) => {
                written += 1;
                ControlFlow::Continue(())
            }
            Err(err) => {
                io_error = Some(err);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = io_error {
        return Err(e.into());
    }
    let broken = replayed
        .err()
        .map(|e| format!("at sequence {}: {}", e.at, e.cause));
    Ok((written, broken))
}

/// Opens the store of an existing data directory (not a new one: a mistyped path is an
/// error, not an empty store).
fn open_existing(data_dir: &Path) -> anyhow::Result<EventLog> {
    if !data_dir.join("db").exists() {
        bail!(
            "{} is not a tilannekuva data directory (no sled database)",
            data_dir.display()
        );
    }
    EventLog::open(data_dir).with_context(|| format!("cannot open {}", data_dir.display()))
}

/// `tilannekuva export --data-dir`: to a file or standard output; a broken log exports its
/// intact events, then fails saying where it breaks.
pub(crate) fn export_cmd(data_dir: &Path, from: u64, output: Option<&Path>) -> anyhow::Result<()> {
    let mut out: Box<dyn std::io::Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (n, broken) = export(data_dir, from, &mut out)?;
    out.flush()?;
    match broken {
        None => {
            eprintln!("exported {n} events");
            Ok(())
        }
        Some(why) => bail!(
            "exported the {n} intact events; the log is broken {why}: the events after it \
             are not exported"
        ),
    }
}

/// What `verify` found.
#[derive(Debug)]
pub(crate) struct VerifyReport {
    pub(crate) events: u64,
    pub(crate) head_hash: String,
    /// Years with at least one observation: each was compared between the two rebuilds.
    pub(crate) years: usize,
    /// Pictures compared (national and every region's, for every year).
    pub(crate) pictures: usize,
}

/// Checks a data directory: every chunk decodes and starts at its key, the sequence is
/// gap-free from 1, every hash recomputes and links to the previous one, the log folds into
/// the write state and the projection, and two independent folds give byte-identical
/// pictures for every year (so a rebuild is deterministic). On failure the error names the
/// first bad sequence; the events before it are intact.
///
/// Opening runs sled's recovery, which may cut a damaged tail of the store's file (see
/// [`EventLog::open`]): run it on a copy to keep the damaged file as it is.
pub(crate) fn verify(data_dir: &Path) -> anyhow::Result<VerifyReport> {
    let log = open_existing(data_dir)?;
    let (state, first) = fold(&log)?;
    if first.applied() != state.last_sequence() {
        bail!(
            "the projection stopped at {} but the log ends at {}",
            first.applied(),
            state.last_sequence()
        );
    }
    let (_, second) = fold(&log)?;
    let seq = state.last_sequence();
    let years: Vec<i32> = first.years().collect();
    let second_years: Vec<i32> = second.years().collect();
    if years != second_years {
        bail!("two rebuilds of the same log differ in their years: {years:?} and {second_years:?}");
    }
    let regions: Vec<String> = first.catalog().regions.keys().cloned().collect();
    // On the latest borders, the pictures' default.
    let d = first.catalog().divisions.keys().next_back().copied();
    let on = (crate::projection::Level::Region, d);
    let mut pictures = 0;
    for &year in &years {
        let (a, b) = (
            national_picture_to_proto(&first.year_picture(year, on, seq), seq).encode_to_vec(),
            national_picture_to_proto(&second.year_picture(year, on, seq), seq).encode_to_vec(),
        );
        if a != b {
            bail!("two rebuilds of the same log give different national pictures for {year}");
        }
        pictures += 1;
        for region in &regions {
            let (a, b) = (
                region_picture_to_proto(&first.region_picture(region, year, d, seq), seq)
                    .encode_to_vec(),
                region_picture_to_proto(&second.region_picture(region, year, d, seq), seq)
                    .encode_to_vec(),
            );
            if a != b {
                bail!(
                    "two rebuilds of the same log give different pictures of {region} for {year}"
                );
            }
            pictures += 1;
        }
    }
    Ok(VerifyReport {
        events: seq,
        head_hash: hex::encode(state.head_hash()),
        years: years.len(),
        pictures,
    })
}

/// Folds the whole log into a fresh write state and projection, checking every chunk, the
/// sequence and the hash chain on the way. Errors name the first bad sequence.
fn fold(log: &EventLog) -> anyhow::Result<(WriterState, Projection)> {
    crate::recovery::rebuild(log).map_err(|e| {
        let at = e.at;
        let intact = match at - 1 {
            0 => "no event before it is intact".to_owned(),
            n => format!("events 1..={n} are intact"),
        };
        match e.cause {
            FoldCause::Chain(c) => {
                anyhow!("the log is broken at sequence {at}: {}; {intact}", c.reason)
            }
            FoldCause::Store(StoreError::Corrupt { key, message }) => anyhow!(
                "the log is broken at sequence {at}: the chunk stored under key {key}: \
                 {message}; {intact}"
            ),
            FoldCause::Store(s) => {
                anyhow!("the log cannot be read at sequence {at}: {s}; {intact}")
            }
        }
    })
}

pub(crate) fn verify_cmd(a: VerifyArgs) -> anyhow::Result<()> {
    let r = verify(&a.data_dir)?;
    super::output::emit(&format!(
        "ok: {} events, gap-free sequence, hash chain verified; head {}; two independent \
         rebuilds give identical pictures ({} pictures over {} years)\n",
        r.events, r.head_hash, r.pictures, r.years
    ))
}
