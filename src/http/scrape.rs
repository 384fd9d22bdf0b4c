//! `/metrics`: the service's own metrics and the situation gauges, for Prometheus. The
//! gauges are the figures, so with an auth file a scrape needs a token, like every read
//! (Prometheus sends it: `authorization` in its scrape config).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::limits;

pub(super) async fn metrics(
    State(s): State<HttpState>,
    headers: axum::http::HeaderMap,
    conn: Option<axum::Extension<crate::connection::ConnInfo>>,
) -> Response {
    let conn = conn.map(|c| c.0 .0);
    if let Err(why) = crate::shares::Caller::authenticate(&s.auth, &headers, conn.as_ref()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            format!("{}\n", why.0),
        )
            .into_response();
    }
    // Scrapes take turns, one per MIN_SCRAPE_INTERVAL, in arrival order; a waiting scrape
    // costs nothing, and one whose client gives up leaves the queue taking no turn.
    let Ok(mut last) =
        tokio::time::timeout(limits::MAX_SCRAPE_WAIT, s.last_scrape.clone().lock_owned()).await
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "too many scrapes waiting; retry\n",
        )
            .into_response();
    };
    tokio::time::sleep_until(*last + limits::MIN_SCRAPE_INTERVAL).await;
    *last = tokio::time::Instant::now();
    drop(last);
    s.metrics.store_size.set(s.log.size_on_disk() as i64);
    // Rendered from a snapshot that holds the projection's lock one indicator-year at a time (see
    // `metrics::render_situation`), so a scrape does not hold up commits.
    let situation = s.situation.current(&s.projection).await;
    let service = s.metrics.render_service();
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // Two chunks: the shared situation text (compressed once per render) is sent as it
    // is, not copied per scrape. The length is known, so the answer is not chunked.
    let (service, situation) = if gzip {
        (crate::metrics::gzip(service.as_bytes()), situation.gzip)
    } else {
        (bytes::Bytes::from(service), situation.plain)
    };
    let length = service.len() + situation.len();
    let chunks = [service, situation].map(Ok::<_, std::convert::Infallible>);
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        axum::body::Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response();
    if gzip {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("gzip"),
        );
    }
    response
}
