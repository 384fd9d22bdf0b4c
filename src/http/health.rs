//! `/healthz` (the process answers) and `/readyz` (it takes writes).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::HttpState;

pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready unless the store is poisoned or writes are refused (and then why).
pub(super) async fn readyz(State(s): State<HttpState>) -> Response {
    if s.log.is_poisoned() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "store poisoned: writes refused\n",
        )
            .into_response()
    } else if let Some(why) = s.writer.refused() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("writes refused: {why}\n"),
        )
            .into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}
