//! The write path: requests as the API hands them over, the decisions on them, and the
//! group commit that makes accepted requests durable before they are answered.
//!
//! - [`decide`]: the write-side state the log implies and the pure decisions on a request
//!   (permissions, idempotency, validation, revisions, unchanged values); it folds events
//!   into that state and builds new ones, and does no I/O. A folder: the state, the fold and
//!   what every kind shares in `decide/mod.rs`, and one file per kind: `submit.rs`,
//!   `retract.rs`, `catalog.rs` (indicators, peer groups, rounds) and `control.rs` (the
//!   control messages of `Control`).
//! - [`digest`]: the content digest behind idempotency.
//! - [`commit`]: the pipeline (a preparer task, a syncer thread, an applier thread) that
//!   groups prepared requests into one durable append, folds it into the projection and
//!   answers only after both.
//!
//! Nothing here answers a request before its events are durable, and after a failed
//! append every request is refused until a restart.

pub(crate) mod commit;
pub(crate) mod decide;
pub(crate) mod digest;
#[doc(hidden)]
pub mod synthetic;

use crate::domain::validate::{FieldViolation, ObservationInput};
use crate::domain::{Event, Hash, Indicator};

pub(crate) use commit::{current_year, now_micros, Breaker, Committer, Snapshots, Writer};
pub use decide::WriterState;

/// A submission, as the API hands it over.
#[derive(Debug, Clone)]
pub struct SubmitInput {
    pub submission_id: String,
    pub region_code: String,
    pub(crate) expected_region_revision: Option<u64>,
    pub observations: Vec<ObservationInput>,
    /// Run every check and answer, appending nothing (AIP-163).
    pub(crate) validate_only: bool,
}

/// A retraction, as the API hands it over.
#[derive(Debug, Clone)]
pub struct RetractInput {
    pub(crate) submission_id: String,
    pub(crate) region_code: String,
    pub(crate) indicator_id: String,
    pub(crate) year: i32,
    pub(crate) reason: String,
    pub(crate) expected_region_revision: Option<u64>,
    /// The borders of the figure retracted; `None`: the division in force now.
    pub(crate) borders: Option<i32>,
}

/// What a client's write request asks for.
#[derive(Debug, Clone)]
pub enum WriteRequest {
    Submit(SubmitInput),
    Retract(RetractInput),
    DefineIndicator {
        submission_id: String,
        indicator: Indicator,
    },
    /// Define (or redefine) a peer group (admin).
    DefineGroup {
        submission_id: String,
        group: crate::domain::RegionGroup,
    },
    /// Open (or reopen) a year's reporting round (admin).
    OpenRound {
        submission_id: String,
        round: crate::domain::Round,
        /// A deadline already passed is taken (else refused as most likely a typo).
        allow_past: bool,
    },
    /// Set (or restate) a target: a national one (admin), an area's (admin or its reporter).
    SetTarget {
        submission_id: String,
        target: crate::domain::Target,
    },
}

/// A control message to the writer: not a client's request, so it has no principal and is
/// carried out on a read-only server too.
#[derive(Debug, Clone)]
pub(crate) enum Control {
    /// Events another server wrote, in log order (a replica applying the writer's stream,
    /// or a writer repairing its store): appended as they are, after their place in the
    /// chain is checked, and folded like any other.
    Apply(Vec<Event>),
    /// Refuse client writes from now on, saying why (a read replica), or take them again
    /// (`None`: a replica that became the writer). Ordered with the writes around it.
    SetReadOnly(Option<String>),
}

/// One cell of a region: an indicator and a year.
pub(crate) type CellKey = (String, i32);

/// The answer to an accepted write.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// First sequence recorded; 0 when nothing was recorded.
    pub(crate) first_sequence: u64,
    /// Last sequence recorded; when nothing was recorded, the log's last sequence (a read
    /// with this `min_sequence` sees the state the answer describes). 0 for a validation.
    pub(crate) last_sequence: u64,
    pub(crate) region_revision: u64,
    pub(crate) duplicate: bool,
    /// The hash of the last event recorded (or, when nothing was, of the log's last
    /// event); `None` for a validation, which records nothing.
    pub(crate) receipt_hash: Option<Hash>,
    /// Observations (or other items) recorded as events.
    pub(crate) recorded: u32,
    /// Observations equal to their cell's current value and status: not recorded.
    pub(crate) unchanged: u32,
    /// On a duplicate: cells of the request without a value now (retracted since).
    pub(crate) retracted_since: Vec<CellKey>,
    /// On a duplicate: cells whose value or status now differs from the request's.
    pub(crate) revised_since: Vec<CellKey>,
    /// The request only asked for validation: nothing was appended.
    pub(crate) validated_only: bool,
}

/// Why a write was refused. Each variant has its gRPC code in `api::write_status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("submission id {0:?} was already used for different content")]
    AlreadyExists(String),
    #[error("region {region} is at revision {current}, not the expected {expected}")]
    RevisionMismatch {
        region: String,
        expected: u64,
        current: u64,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("the writer is overloaded; retry later")]
    Overloaded,
    #[error("the store cannot accept writes: {0}")]
    Unavailable(String),
    /// This server does not take writes (a read replica): the message names the writer.
    #[error("{0}")]
    ReadOnly(String),
    /// Applied events do not continue this server's chain.
    #[error("{0}")]
    Diverged(String),
    /// Recorded durably here, but not confirmed by the replicated stream in time (`sync`
    /// replication): a retry with the same submission id is safe.
    #[error("recorded at sequence {sequence}, not yet replicated")]
    NotReplicated { sequence: u64 },
}

/// The `tilannekuva_submissions_total` outcome label of a write result.
pub(crate) fn outcome(r: &Result<Receipt, WriteError>) -> &'static str {
    match r {
        Ok(rc) if rc.duplicate => "duplicate",
        Ok(rc) if rc.validated_only => "validated",
        Ok(rc) if rc.recorded == 0 => "unchanged",
        Ok(_) => "accepted",
        Err(WriteError::Invalid(_)) => "invalid",
        Err(WriteError::AlreadyExists(_)) => "already_exists",
        Err(WriteError::RevisionMismatch { .. }) => "revision_mismatch",
        Err(WriteError::NotFound(_)) => "not_found",
        Err(WriteError::PermissionDenied(_)) => "permission_denied",
        Err(WriteError::Overloaded) => "overloaded",
        Err(WriteError::Unavailable(_)) => "unavailable",
        Err(WriteError::ReadOnly(_)) => "read_only",
        Err(WriteError::Diverged(_)) => "diverged",
        Err(WriteError::NotReplicated { .. }) => "not_replicated",
    }
}
