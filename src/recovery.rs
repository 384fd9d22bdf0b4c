//! Recovery: the write state and the projection from what is on disk.
//!
//! - [`replay`] is the one driver of every fold of a whole log (start-up, `verify`,
//!   `export --data-dir`): it hands each event over after checking its place in the chain,
//!   so a failure names the first bad sequence.
//! - [`rebuild`] folds a whole log; [`recover`] starts from the data directory's snapshot
//!   and the log after it when the snapshot can be used (else from the whole log), and puts
//!   the bootstrap catalog into an empty log.
//! - [`check_chain_in_background`] verifies, after a start from a snapshot, the chain up to
//!   the snapshot's event while the server already serves; a break refuses writes.
//!
//! It reads the store ([`crate::store`]) and the snapshot file ([`crate::snapshot`]); neither
//! of those knows of it. The committer ([`crate::write::commit`]) makes every later append.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use crate::domain::event::verify_chain;
use crate::domain::{Catalog, Event, Hash, ZERO_HASH};
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::store::{EventLog, StoreError};
use crate::write::{Breaker, WriterState};

/// Where and why a log does not fold: `at` is the first bad sequence; events `1..at` are
/// intact.
#[derive(Debug, thiserror::Error)]
#[error("the log is broken at sequence {at}: {cause}")]
pub(crate) struct FoldError {
    pub(crate) at: u64,
    pub(crate) cause: FoldCause,
}

/// What is wrong at [`FoldError::at`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum FoldCause {
    /// A sequence gap or a hash that does not recompute or link.
    #[error("{}", .0.reason)]
    Chain(crate::domain::event::ChainError),
    /// A chunk that cannot be read or decoded (or, for the bootstrap catalog, written).
    #[error("{0}")]
    Store(StoreError),
}

/// Hands every event of the log to `f` in order, each after its place in the chain is
/// verified (so that a failure names the first bad sequence; the events before it were
/// all handed over). `f` may stop the walk early (`Break`).
pub(crate) fn replay(
    log: &EventLog,
    f: impl FnMut(&Event) -> ControlFlow<()>,
) -> Result<(), FoldError> {
    replay_after(log, (0, ZERO_HASH), f)
}

/// [`replay`] of the events after `after` (a sequence and its event's hash, which the next
/// event must link to).
fn replay_after(
    log: &EventLog,
    after: (u64, Hash),
    mut f: impl FnMut(&Event) -> ControlFlow<()>,
) -> Result<(), FoldError> {
    let (mut last_seq, mut last_hash) = after;
    let mut broken = None;
    let scanned = log.for_each_chunk_from(last_seq + 1, |chunk| {
        for e in chunk.iter().filter(|e| e.sequence > after.0) {
            if let Err(err) = verify_chain(last_seq, last_hash, std::slice::from_ref(e)) {
                broken = Some(err);
                return ControlFlow::Break(());
            }
            last_seq = e.sequence;
            last_hash = e.hash;
            if f(e).is_break() {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    let at = last_seq + 1;
    // An earlier chain break wins over a later unreadable chunk.
    if let Some(err) = broken {
        return Err(FoldError {
            at,
            cause: FoldCause::Chain(err),
        });
    }
    scanned.map_err(|e| FoldError {
        at,
        cause: FoldCause::Store(e),
    })
}

/// The write state and projection folded from a whole log (see [`replay`]). Used at start
/// and by `verify`.
pub(crate) fn rebuild(log: &EventLog) -> Result<(WriterState, Projection), FoldError> {
    fold_after(
        log,
        (0, ZERO_HASH),
        WriterState::default(),
        Projection::new(),
    )
}

/// `state` and `projection` (both as of `after`) with the log after `after` folded in.
fn fold_after(
    log: &EventLog,
    after: (u64, Hash),
    mut state: WriterState,
    mut projection: Projection,
) -> Result<(WriterState, Projection), FoldError> {
    replay_after(log, after, |e| {
        state.apply(e);
        projection.apply(e);
        ControlFlow::Continue(())
    })?;
    Ok((state, projection))
}

/// What a start recovers.
pub(crate) struct Recovered {
    pub(crate) state: WriterState,
    pub(crate) projection: Projection,
    /// The snapshot's sequence and hash, when the start came from one: the chain before it
    /// is not verified yet (see [`check_chain_in_background`]).
    pub(crate) snapshot: Option<(u64, Hash)>,
}

/// The write state and projection at start: from the data directory's snapshot and the log
/// after it when the snapshot can be used, else from the whole log. `bootstrap`: the
/// catalog to put into an empty log (appended here, before the committer starts).
pub(crate) fn recover(
    data_dir: &Path,
    log: &EventLog,
    bootstrap: Option<&Catalog>,
) -> Result<Recovered, FoldError> {
    let (mut state, mut projection, snapshot) = match crate::snapshot::read(data_dir, log) {
        Ok(Some(s)) => {
            let (state, projection) = fold_after(log, (s.sequence, s.head), s.state, s.projection)?;
            tracing::info!(
                snapshot = s.sequence,
                replayed = state.last_sequence() - s.sequence,
                "started from the snapshot and the log after it"
            );
            (state, projection, Some((s.sequence, s.head)))
        }
        other => {
            if let Err(why) = other {
                tracing::warn!(
                    "the snapshot in {} is ignored: {why}; replaying the whole log",
                    data_dir.display()
                );
            }
            let (state, projection) = rebuild(log)?;
            (state, projection, None)
        }
    };
    if let (0, Some(catalog)) = (state.last_sequence(), bootstrap) {
        let events = state.bootstrap(catalog, crate::write::now_micros());
        log.append(&events).map_err(|e| FoldError {
            at: 1,
            cause: FoldCause::Store(e),
        })?;
        for e in &events {
            projection.apply(e);
        }
        tracing::info!(events = events.len(), "catalog written to the empty log");
    }
    Ok(Recovered {
        state,
        projection,
        snapshot,
    })
}

/// Verifies the chain of `log` from its first event to `sequence`, whose hash must be
/// `head` (what a snapshot stood on). `Err` names the first bad sequence.
fn verify_before(log: &EventLog, sequence: u64, head: Hash) -> Result<(), String> {
    let mut last = (0, ZERO_HASH);
    let walked = replay(log, |e| {
        last = (e.sequence, e.hash);
        if e.sequence >= sequence {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    walked.map_err(|e| e.to_string())?;
    if last != (sequence, head) {
        return Err(format!(
            "the chain ends at {} before reaching the snapshot's event {sequence}, or that \
             event's hash is not the snapshot's",
            last.0
        ));
    }
    Ok(())
}

/// Verifies, on a thread of its own, the chain before the snapshot a server started from
/// (`snapshot`: its sequence and hash). Success sets `tilannekuva_chain_verified`; a break
/// is counted and refuses every write through `breaker`, saying how to find it.
pub(crate) fn check_chain_in_background(
    log: Arc<EventLog>,
    snapshot: (u64, Hash),
    breaker: Breaker,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let (sequence, head) = snapshot;
    std::thread::Builder::new()
        .name("verify-chain".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            match verify_before(&log, sequence, head) {
                Ok(()) => {
                    metrics.chain_verified.set(1);
                    tracing::info!(
                        sequence,
                        seconds = started.elapsed().as_secs_f64(),
                        "the chain before the snapshot is verified"
                    );
                }
                Err(why) => {
                    metrics.chain_verification_failures.inc();
                    let why = format!(
                        "the log's chain is broken before the snapshot this server started \
                         from ({why}); writes are refused. Stop the server and run \
                         `tilannekuva verify`"
                    );
                    tracing::error!("{why}");
                    breaker.refuse(why);
                }
            }
        })
        .map(drop)
}
