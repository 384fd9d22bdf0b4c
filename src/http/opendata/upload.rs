//! `POST /v1/submissions`: a council's submission CSV over HTTP, for the web page's upload
//! and any client without gRPC.
//!
//! The file is read as `tilannekuva submit` reads it ([`crate::csvin`]: the spreadsheet
//! dialects, one region per file) and recorded by the write path IngestService.Submit
//! takes ([`crate::api::Writes`]): the token's role decides (a reader's is refused), the
//! writes' pool bounds what is in progress, and `validate_only=true` runs every check and
//! records nothing. Every problem comes back placed on the file's line and column, those
//! found while reading and those the server's validation found, in one answer; a file with
//! any records nothing.

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{query, HttpError, OpenData};
use crate::csvin::{Problems, Row};
use crate::write::{Receipt, SubmitInput, WriteError, WriteRequest};

/// The largest file taken: what one gRPC submission may carry.
const MAX_FILE_BYTES: usize = crate::limits::MAX_MESSAGE_BYTES;
/// Problems listed in one answer (the rest are counted): a file with more needs fixing
/// before the rest matter, and the answer stays small.
const MAX_PROBLEMS_LISTED: usize = 200;
/// How the region is given here, in the words of a problem ("no region_code in the row and
/// no … given").
const GIVEN_AS: &str = "region (the `region` parameter, the region chosen on the page)";

/// `POST /v1/submissions?validate_only=true|false&region=MK01`, the file as the body.
pub(super) async fn submit(
    axum::extract::State(s): axum::extract::State<OpenData>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    conn: Option<axum::Extension<crate::connection::ConnInfo>>,
    body: axum::body::Body,
) -> Response {
    let started = std::time::Instant::now();
    let conn = conn.map(|c| c.0 .0);
    let r = match answer(&s, &method, &uri, &headers, conn.as_ref(), body).await {
        Ok(receipt) => {
            let mut r = ([(header::CONTENT_TYPE, "application/json")], receipt).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            let mut r = e.into_response(None);
            if r.status() == StatusCode::METHOD_NOT_ALLOWED {
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            r
        }
    };
    s.count("submissions", r.status(), started);
    r
}

async fn answer(
    s: &OpenData,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    conn: Option<&Arc<crate::connection::Conn>>,
    body: axum::body::Body,
) -> Result<String, HttpError> {
    if method != Method::POST {
        return Err(HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "a submission is sent with POST, the CSV file as the body",
        ));
    }
    let (who, caller) = crate::shares::Caller::authenticate(&s.auth, headers, conn)
        .map_err(|why| HttpError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why.0))?;
    // A token that writes no figures is refused before its file is read: a reader learns
    // nothing of a file's problems and holds no write slot. Which region it may write is the
    // writer's to check, as for gRPC.
    if !who.writes_figures() {
        s.auth.refuse(crate::auth::Denial::PermissionDenied);
        return Err(refused_write(WriteError::PermissionDenied(format!(
            "{} writes no figures: a submission needs the token of a reporter of the region \
             (or a publisher's)",
            who.name
        ))));
    }
    let q = query(uri, &["validate_only", "region", "submission_id"])?;
    let validate_only = match q.get("validate_only").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(HttpError::invalid(
                "validate_only",
                format!("{:?}: true or false", crate::domain::text::cut(other, 40)),
            ))
        }
    };
    let region = super::code(&q, "region", false)?;
    let submission_id = q.get("submission_id").filter(|id| !id.is_empty());
    let _share = s.writes_pool.take(&caller).map_err(|refused| {
        HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            refused.0,
        )
    })?;
    let bytes = read_body(body).await?;

    let mut problems = Problems::default();
    let parsed = match crate::csvin::parse_file(&bytes) {
        Ok(parsed) => parsed,
        Err(e) => {
            problems.add(e.line, e.column, e.message);
            return Err(refusal(problems, None));
        }
    };
    let catalog = s.reader.catalog();
    let canonical = |c: &str| {
        let area = catalog.resolve_area(c);
        area.map_or_else(|| c.to_owned(), |a| a.code().to_owned())
    };
    let Ok((region, rows)) = crate::csvin::one_submission(
        &parsed,
        region,
        GIVEN_AS,
        |x, y| canonical(x) == canonical(y),
        &mut problems,
    ) else {
        return Err(refusal(problems, None));
    };
    let submission_id = submission_id
        .cloned()
        .unwrap_or_else(|| crate::csvin::submission_id(&region, &bytes));
    let input = SubmitInput {
        submission_id: submission_id.clone(),
        region_code: region.clone(),
        expected_region_revision: None,
        observations: rows.iter().map(|r| r.observation.clone()).collect(),
        // The rows without a problem are still checked, so that one answer lists them all.
        validate_only: validate_only || !problems.is_empty(),
    };
    let write = s.writes.record(WriteRequest::Submit(input), who);
    let written = tokio::time::timeout(crate::limits::REQUEST_TIMEOUT, write)
        .await
        .map_err(|_| {
            HttpError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "DEADLINE_EXCEEDED",
                "the server did not answer in time; sending the same file again is safe",
            )
        })?;
    match written {
        Ok(_) if !problems.is_empty() => {
            let rest = Problems::none_in_the_rest(rows.len());
            Err(refusal(problems, Some(rest)))
        }
        Ok(receipt) => Ok(receipt_json(
            &receipt,
            &submission_id,
            &region,
            &rows,
            &parsed.skipped,
            validate_only,
        )),
        Err(WriteError::Invalid(violations)) => {
            let found: Vec<(String, String)> = violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect();
            let total = found.len();
            problems.add_violations(&found, total, &parsed, &rows, (&region, GIVEN_AS));
            Err(refusal(problems, None))
        }
        Err(e) => Err(refused_write(e)),
    }
}

/// The body, at most [`MAX_FILE_BYTES`] and within the request timeout: a client that sends
/// slowly holds its write slot no longer than one that waits for its answer.
async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, HttpError> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, MAX_FILE_BYTES);
    let collected = tokio::time::timeout(crate::limits::REQUEST_TIMEOUT, limited.collect());
    match collected.await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "a submission file is at most {} MiB (one region's year is far less)",
                MAX_FILE_BYTES >> 20
            ),
        )),
        Ok(Err(e)) => Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            format!("the file could not be read: {e}"),
        )),
        Err(_) => Err(HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            "DEADLINE_EXCEEDED",
            format!(
                "the file did not arrive within {:?}",
                crate::limits::REQUEST_TIMEOUT
            ),
        )),
    }
}

/// A file's problems: `400`, each with its line and column (line 0: the file as a whole),
/// and `last`, what else is known.
fn refusal(problems: Problems, last: Option<String>) -> HttpError {
    let mut message = problems.summary();
    let total = problems.listed.len() + problems.unlisted;
    let listed: Vec<Value> = problems
        .listed
        .iter()
        .take(MAX_PROBLEMS_LISTED)
        .map(|(line, column, name, message)| {
            json!({
                "line": line,
                "column": (*column > 0).then_some(*column),
                "column_name": (!name.is_empty()).then_some(name),
                "message": message,
            })
        })
        .collect();
    let unlisted = total - listed.len();
    if let Some(last) = last {
        message.push_str(&format!("; {last}"));
    }
    let mut e = HttpError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message);
    e.details.insert("problems".into(), Value::Array(listed));
    e.details.insert("unlisted".into(), json!(unlisted));
    e
}

/// A write refused for another reason than its content: the gRPC answer's words, with the
/// HTTP status of its code.
fn refused_write(e: WriteError) -> HttpError {
    use tonic::Code;
    let status = crate::api::write_status(e);
    let (http, code) = match status.code() {
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
        Code::FailedPrecondition => (StatusCode::CONFLICT, "FAILED_PRECONDITION"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    };
    HttpError::new(http, code, status.message())
}

/// The receipt: what was recorded (or, validating, would be).
fn receipt_json(
    rc: &Receipt,
    submission_id: &str,
    region: &str,
    rows: &[Row],
    skipped: &[usize],
    validate_only: bool,
) -> String {
    let cells = |cells: &[(String, i32)]| -> Vec<Value> {
        cells
            .iter()
            .map(|(indicator_id, year)| json!({"indicator_id": indicator_id, "year": year}))
            .collect()
    };
    let out = json!({
        "validate_only": validate_only,
        "submission_id": submission_id,
        "region_code": region,
        "observations": rows.len(),
        "recorded": rc.recorded,
        "unchanged": rc.unchanged,
        "skipped_rows": skipped,
        "first_sequence": rc.first_sequence,
        "last_sequence": rc.last_sequence,
        "region_revision": rc.region_revision,
        "duplicate": rc.duplicate,
        "receipt_hash": rc.receipt_hash.map(hex::encode),
        "retracted_since": cells(&rc.retracted_since),
        "revised_since": cells(&rc.revised_since),
    });
    format!("{out}\n")
}
