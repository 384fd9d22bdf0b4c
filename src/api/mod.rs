//! The gRPC services. Each maps domain and writer errors to `tonic::Status` in one place
//! ([`write_status`]) and never sends internal error text to clients.

pub mod codec;
pub mod convert;
pub mod gate;
mod services;

use std::time::Instant;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::metrics::Metrics;
use crate::write::WriteError;

pub use services::{AdminApi, CatalogApi, IngestApi, PictureApi, RoundApi};

/// How long a read waits for `min_sequence` before `DEADLINE_EXCEEDED`. A write is visible
/// to reads within one commit (milliseconds); waiting longer means something is wrong.
pub const MIN_SEQUENCE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Most field violations one `INVALID_ARGUMENT` carries: the first ones, in request order.
/// A client fixes those and learns of the rest on the next try (or at once with
/// `validate_only`). Twenty named problems are enough to see a pattern; the total is always
/// given (in the message and in an `ErrorInfo` detail).
pub const MAX_VIOLATIONS_SHOWN: usize = 20;
/// Bytes of field names and descriptions in one error's details. The details travel
/// base64-encoded in the `grpc-status-details-bin` trailer and the message percent-encoded
/// in `grpc-message`; default clients refuse trailers over 8 KiB (grpcio: 8 KiB soft,
/// 16 KiB hard). 3,000 bytes of violations (≈ 4 KiB in base64) plus a message of at most
/// [`MAX_MESSAGE`] bytes stay well under 8 KiB whatever the text.
const DETAILS_BUDGET: usize = 3000;
/// Longest description of one violation.
const MAX_DESCRIPTION: usize = 300;
/// Longest status message (it is sent twice: in `grpc-message` and inside the details).
const MAX_MESSAGE: usize = 400;
/// The `ErrorInfo` domain of this service's errors.
pub const ERROR_DOMAIN: &str = "tilannekuva.v1";

/// `s` cut to at most `max` bytes at a character boundary, with "…" when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `INVALID_ARGUMENT` for `violations` (in request order): the first of them as
/// `google.rpc.BadRequest` field violations, within [`MAX_VIOLATIONS_SHOWN`] and a byte
/// budget, and the total in the message and in a `google.rpc.ErrorInfo` (reason
/// `INVALID_REQUEST`, metadata `violations_total` and `violations_shown`).
pub fn invalid_request(violations: Vec<crate::domain::validate::FieldViolation>) -> Status {
    let total = violations.len();
    let mut d = ErrorDetails::new();
    let (mut shown, mut bytes) = (0usize, 0usize);
    let mut first = None;
    for v in violations.into_iter().take(MAX_VIOLATIONS_SHOWN) {
        let field = cut(&v.field, 100);
        let description = cut(&v.description, MAX_DESCRIPTION);
        bytes += field.len() + description.len() + 8;
        if shown > 0 && bytes > DETAILS_BUDGET {
            break;
        }
        if first.is_none() {
            first = Some(format!("{field}: {description}"));
        }
        d.add_bad_request_violation(field, description);
        shown += 1;
    }
    d.set_error_info(
        "INVALID_REQUEST",
        ERROR_DOMAIN,
        [
            ("violations_total".to_owned(), total.to_string()),
            ("violations_shown".to_owned(), shown.to_string()),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>(),
    );
    let problems = if total == 1 { "problem" } else { "problems" };
    let msg = match first {
        Some(first) if total > shown => format!(
            "invalid request: {total} {problems} (the first {shown} in the details); first: {first}"
        ),
        Some(first) => format!("invalid request: {total} {problems}; first: {first}"),
        None => "invalid request".to_owned(),
    };
    Status::with_error_details(Code::InvalidArgument, cut(&msg, MAX_MESSAGE), d)
}

/// The one mapping from a refused write to a gRPC status.
pub fn write_status(e: WriteError) -> Status {
    match e {
        WriteError::Invalid(violations) => invalid_request(violations),
        WriteError::AlreadyExists(id) => Status::already_exists(format!(
            "submission id {:?} was already used for different content",
            crate::domain::validate::clip(&id)
        )),
        e @ WriteError::RevisionMismatch { .. } => {
            Status::failed_precondition(cut(&e.to_string(), MAX_MESSAGE))
        }
        WriteError::NotFound(m) => Status::not_found(cut(&m, MAX_MESSAGE)),
        WriteError::PermissionDenied(m) => Status::permission_denied(cut(&m, MAX_MESSAGE)),
        WriteError::Overloaded => {
            Status::resource_exhausted("the writer queue is full; retry with backoff")
        }
        WriteError::Unavailable(why) => {
            tracing::error!(%why, "write refused: store unavailable");
            Status::unavailable("the store cannot accept writes; the operator has been alerted")
        }
        WriteError::ReadOnly(m) => Status::failed_precondition(cut(&m, MAX_MESSAGE)),
        WriteError::Diverged(m) => Status::failed_precondition(cut(&m, MAX_MESSAGE)),
        WriteError::NotReplicated { sequence } => Status::unavailable(format!(
            "recorded durably on this server at sequence {sequence}, but the replicated stream \
             has not confirmed it in time; retrying with the same submission_id is safe"
        )),
    }
}

/// An `INVALID_ARGUMENT` status with one field violation.
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    invalid_request(vec![crate::domain::validate::FieldViolation {
        field: field.to_owned(),
        description: description.into(),
    }])
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

pub(crate) fn code_name(c: Code) -> &'static str {
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
