//! The gRPC services: thin adapters that turn messages into calls of [`crate::read`] and
//! [`crate::write`] and their answers back into messages. Errors become a `tonic::Status`
//! in one place each: a refused write in [`write_status`], a refused read in
//! `From<ReadError>`; internal error text never reaches a client.
//!
//! - `ingest`: IngestService; `picture`: PictureService; `catalog`: CatalogService;
//!   `round`: RoundService; `admin`: AdminService.
//! - [`gate`]: authentication and the limits every call passes first; `stream`: what the
//!   streaming calls share; [`convert`] and [`codec`]: the messages.

mod admin;
mod catalog;
pub(crate) mod codec;
pub mod convert;
pub(crate) mod gate;
mod ingest;
mod picture;
mod round;
mod stream;

use std::sync::Arc;
use std::time::Instant;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{Auth, Denial, Principal};
use crate::domain::text::cut;
use crate::metrics::Metrics;
use crate::read::ReadError;
use crate::write::{Receipt, WriteError, WriteRequest, Writer};

pub(crate) use admin::AdminApi;
pub(crate) use catalog::CatalogApi;
pub(crate) use ingest::IngestApi;
pub(crate) use picture::PictureApi;
pub(crate) use round::RoundApi;
pub(crate) use stream::Streams;

/// What the services that write share: the writer, and the auth whose refusals they count.
#[derive(Clone)]
pub(crate) struct Writes {
    auth: Arc<Auth>,
    writer: Writer,
}

impl Writes {
    pub(crate) fn new(auth: Arc<Auth>, writer: Writer) -> Writes {
        Writes { auth, writer }
    }

    /// Hands `req` to the writer and waits until it is durable (or refused).
    async fn write(&self, req: WriteRequest, who: Arc<Principal>) -> Result<Receipt, Status> {
        self.record(req, who).await.map_err(write_status)
    }

    /// [`Writes::write`] with the refusal as the writer gave it (the HTTP upload's).
    pub(crate) async fn record(
        &self,
        req: WriteRequest,
        who: Arc<Principal>,
    ) -> Result<Receipt, WriteError> {
        let r = self.writer.write(req, who).await;
        if let Err(WriteError::PermissionDenied(_)) = &r {
            self.auth.refuse(Denial::PermissionDenied);
        }
        r
    }
}

/// The one mapping from a refused read to a gRPC status.
impl From<ReadError> for Status {
    fn from(e: ReadError) -> Status {
        match e {
            ReadError::Invalid { field, description } => invalid(&field, description),
            ReadError::NotFound(m) => Status::not_found(m),
            ReadError::NotYet(m) => Status::deadline_exceeded(m),
            ReadError::Internal(m) => Status::internal(m),
        }
    }
}

/// Most field violations one `INVALID_ARGUMENT` carries: the first ones, in request order.
/// A client fixes those and learns of the rest on the next try (or at once with
/// `validate_only`). Twenty named problems are enough to see a pattern; the total is always
/// given (in the message and in an `ErrorInfo` detail).
pub(crate) const MAX_VIOLATIONS_SHOWN: usize = 20;
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
pub(crate) const ERROR_DOMAIN: &str = "tilannekuva.v1";

/// `INVALID_ARGUMENT` for `violations` (in request order): the first of them as
/// `google.rpc.BadRequest` field violations, within [`MAX_VIOLATIONS_SHOWN`] and a byte
/// budget, and the total in the message and in a `google.rpc.ErrorInfo` (reason
/// `INVALID_REQUEST`, metadata `violations_total` and `violations_shown`).
pub(crate) fn invalid_request(violations: Vec<crate::domain::validate::FieldViolation>) -> Status {
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
    let msg = crate::domain::validate::refusal_message(total, shown, first.as_deref());
    Status::with_error_details(Code::InvalidArgument, cut(&msg, MAX_MESSAGE), d)
}

/// The one mapping from a refused write to a gRPC status.
pub(crate) fn write_status(e: WriteError) -> Status {
    match e {
        WriteError::Invalid(violations) => invalid_request(violations),
        WriteError::AlreadyExists(id) => Status::already_exists(format!(
            "submission id {:?} was already used for different content",
            crate::domain::text::clip(&id)
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
pub(crate) fn invalid(field: &str, description: impl Into<String>) -> Status {
    invalid_request(vec![crate::domain::validate::FieldViolation {
        field: field.to_owned(),
        description: description.into(),
    }])
}

/// Records one request in the gRPC metrics.
pub(crate) fn observe<T>(metrics: &Metrics, method: &str, started: Instant, r: &Result<T, Status>) {
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
