//! The gRPC services. Each maps domain and writer errors to `tonic::Status` in one place
//! ([`write_status`]) and never sends internal error text to clients.

pub mod convert;
mod services;

use std::time::Instant;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::metrics::Metrics;
use crate::writer::WriteError;

pub use services::{CatalogApi, IngestApi, PictureApi};

/// How long a read waits for `min_sequence` before `DEADLINE_EXCEEDED`. A write is visible
/// to reads within one commit (milliseconds); waiting longer means something is wrong.
pub const MIN_SEQUENCE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The `submissions_total` outcome label of a write result.
pub fn outcome(r: &Result<crate::writer::Receipt, WriteError>) -> &'static str {
    match r {
        Ok(rc) if rc.duplicate => "duplicate",
        Ok(_) => "accepted",
        Err(WriteError::Invalid(_)) => "invalid",
        Err(WriteError::AlreadyExists(_)) => "already_exists",
        Err(WriteError::RevisionMismatch { .. }) => "revision_mismatch",
        Err(WriteError::NotFound(_)) => "not_found",
        Err(WriteError::PermissionDenied(_)) => "permission_denied",
        Err(WriteError::Overloaded) => "overloaded",
        Err(WriteError::Unavailable(_)) => "unavailable",
    }
}

/// The one mapping from a refused write to a gRPC status.
pub fn write_status(e: WriteError) -> Status {
    match e {
        WriteError::Invalid(violations) => {
            let mut d = ErrorDetails::new();
            let summary = violations
                .iter()
                .take(3)
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; ");
            let more = violations.len().saturating_sub(3);
            for v in violations {
                d.add_bad_request_violation(v.field, v.description);
            }
            let msg = if more > 0 {
                format!("invalid request: {summary} (and {more} more)")
            } else {
                format!("invalid request: {summary}")
            };
            Status::with_error_details(Code::InvalidArgument, msg, d)
        }
        WriteError::AlreadyExists(id) => Status::already_exists(format!(
            "submission id {id:?} was already used for different content"
        )),
        e @ WriteError::RevisionMismatch { .. } => Status::failed_precondition(e.to_string()),
        WriteError::NotFound(m) => Status::not_found(m),
        WriteError::PermissionDenied(m) => Status::permission_denied(m),
        WriteError::Overloaded => {
            Status::resource_exhausted("the writer queue is full; retry with backoff")
        }
        WriteError::Unavailable(why) => {
            tracing::error!(%why, "write refused: store unavailable");
            Status::unavailable("the store cannot accept writes; the operator has been alerted")
        }
    }
}

/// An `INVALID_ARGUMENT` status with one field violation.
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let mut d = ErrorDetails::new();
    d.add_bad_request_violation(field, description.clone());
    Status::with_error_details(Code::InvalidArgument, format!("{field}: {description}"), d)
}

/// Records one request in the gRPC metrics.
pub fn observe<T>(metrics: &Metrics, method: &str, started: Instant, r: &Result<T, Status>) {
    let code = match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    };
    metrics
        .grpc_requests
        .with_label_values(&[method, code_name(code)])
        .inc();
    metrics
        .grpc_latency
        .with_label_values(&[method])
        .observe(started.elapsed().as_secs_f64());
}

fn code_name(c: Code) -> &'static str {
    match c {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
