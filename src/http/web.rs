//! The web page: `/` for a browser, and its script and style under `/ui/`.
//!
//! The page (`web/`) is plain HTML, CSS and JavaScript with no library and no build step,
//! compiled into the binary: nothing is fetched from elsewhere at run time. It carries no
//! figures, so it is served without a token, like `/openapi.json`; the figures it shows come
//! from the open data (`/v1/…`) with the token a person gives it, under the same roles,
//! limits and TLS as every other request on this port.
//!
//! Every answer carries a Content-Security-Policy that allows scripts and styles from this
//! origin only (no inline script or style, no `eval`), so text a client submitted cannot run
//! as script even if it reached the page as markup; the page itself only ever sets text.
//! An asset is named by its content's hash in its ETag: a browser revalidates it and gets
//! `304 Not Modified` until the binary changes.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The page's files: name under `/ui/` (the page itself is `/`), media type, content.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../web/app.css"),
    ),
];

/// Scripts, styles, images and requests from this origin only; no plugins, no framing, no
/// `<base>` and forms posted here only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The ETag of each asset: a hash of its content, computed once.
fn etags() -> &'static [String; 3] {
    static ETAGS: OnceLock<[String; 3]> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS.map(|(_, _, content)| {
            use sha2::{Digest, Sha256};
            format!(
                "\"{}\"",
                &hex::encode(Sha256::digest(content.as_bytes()))[..16]
            )
        })
    })
}

/// Whether a request for `/` is a browser's: its `Accept` weighs HTML above JSON (a client
/// that sends none, `*/*`, or JSON at least as high gets the JSON signpost).
pub(super) fn wants_page(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok());
    super::opendata::accepted(accept)
        .is_some_and(|weigh| weigh("text", "html") > weigh("application", "json"))
}

/// `/ui/{name}`.
pub(super) async fn asset(
    axum::extract::Path(name): axum::extract::Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    serve(&name, &method, &headers)
}

/// The asset `name` (the page is `index.html`): `404` for another name, `405` for another
/// method than GET or HEAD, `304` when the browser holds it already.
pub(super) fn serve(name: &str, method: &Method, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        return secured((StatusCode::NOT_FOUND, "no such file\n").into_response());
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = (StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n").into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return secured(r);
    }
    let (_, media_type, content) = ASSETS[i];
    let etag = &etags()[i];
    let mut r = if super::opendata::holds(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        [(header::CONTENT_TYPE, media_type)].into_response()
    } else {
        ([(header::CONTENT_TYPE, media_type)], content).into_response()
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidated on every load: a new binary's page is seen at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secured(r)
}

/// The headers every answer of the page carries.
fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_gets_the_page_and_a_client_the_signpost() {
        let accept = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            wants_page(&h)
        };
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!accept("application/json"));
        assert!(!accept("*/*"));
        // By weight, not order.
        assert!(!accept("text/html;q=0.5, application/json"));
        assert!(accept("application/json;q=0.1, text/html"));
        assert!(!accept("text/html;q=0"));
        assert!(!wants_page(&HeaderMap::new()));
    }

    #[test]
    fn an_asset_is_revalidated_by_its_hash() {
        let get = |h: &HeaderMap| serve("app.js", &Method::GET, h);
        let first = get(&HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        assert!(first.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(get(&h).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            serve("../Cargo.toml", &Method::GET, &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }
}
