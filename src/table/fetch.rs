//! A table from a PxWeb API (v1: `GET` a table address for its variables, `POST` a query to
//! it for the data), as JSON-stat 2.0, in parts that each stay under the API's cell limit.
//!
//! The query is split along its largest selection until every part asks for at most
//! `cell_limit` cells (StatFin answers at most 100 000 per request); requests are spaced
//! by `min_interval` (StatFin allows 30 in 10 seconds) and a request answered 429 or 5xx,
//! or not answered, is retried up to `retries` times, waiting `first_backoff` and then
//! twice as long each time (a `Retry-After` header wins, up to [`MAX_WAIT`]). The parts are
//! returned in order, each as the bytes the API answered, so that they can be saved and
//! imported again as files.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;
use serde_json::{json, Value};

/// Longest wait before a retry, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Longest time one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Most parts one table is fetched in: at 100 000 cells each, 40 million cells — twice
/// the most a table may have ([`super::MAX_CELLS`]).
const MAX_PARTS: usize = 400;

/// How a table is fetched.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) cell_limit: u64,
    pub(crate) retries: u32,
    pub(crate) first_backoff: Duration,
    pub(crate) min_interval: Duration,
}

/// A table's variables, as PxWeb's `GET` describes them.
#[derive(Debug, Deserialize)]
struct Meta {
    variables: Vec<Variable>,
}

#[derive(Debug, Deserialize)]
struct Variable {
    code: String,
    values: Vec<String>,
}

/// One variable's selected values.
type Selection = Vec<(String, Vec<String>)>;

/// Fetches the table at `url` with `query` (PxWeb's query JSON; `None`: every value of
/// every variable): the parts' (name, bytes), in order.
pub(crate) async fn fetch(
    url: &str,
    query: Option<&str>,
    o: &Options,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if o.cell_limit == 0 {
        bail!("--cell-limit must be at least 1");
    }
    let target = Target::parse(url)?;
    let mut client = Client {
        target,
        o: o.clone(),
        last: None,
    };
    let meta: Meta = serde_json::from_slice(&client.send(None).await?)
        .with_context(|| format!("{url}: the table's description is not PxWeb's JSON"))?;
    let selection = select(&meta, query)?;
    let parts = split(selection, o.cell_limit);
    if parts.len() > MAX_PARTS {
        bail!(
            "the query would take {} requests of at most {} cells; at most {MAX_PARTS}: ask \
             for fewer categories",
            parts.len(),
            o.cell_limit
        );
    }
    let mut out = Vec::with_capacity(parts.len());
    for (n, part) in parts.iter().enumerate() {
        let body = json!({
            "query": part.iter().map(|(code, values)| json!({
                "code": code, "selection": {"filter": "item", "values": values}
            })).collect::<Vec<_>>(),
            "response": {"format": "json-stat2"}
        });
        let bytes = client.send(Some(body.to_string().into_bytes())).await?;
        out.push((
            format!("{url} part {}/{}", n + 1, parts.len()),
            bytes.to_vec(),
        ));
    }
    Ok(out)
}

/// Writes the parts to `dir` as part-000.json, … .
pub(crate) fn save(dir: &std::path::Path, parts: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (n, (_, bytes)) in parts.iter().enumerate() {
        let path = dir.join(format!("part-{n:03}.json"));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The values each variable's query selects (every value of a variable the query leaves
/// out would be eliminated by PxWeb: it is left out here too).
fn select(meta: &Meta, query: Option<&str>) -> anyhow::Result<Selection> {
    let Some(query) = query else {
        return Ok(meta
            .variables
            .iter()
            .map(|v| (v.code.clone(), v.values.clone()))
            .collect());
    };
    let q: Value = serde_json::from_str(query).context("the query is not JSON")?;
    let items = q
        .get("query")
        .and_then(Value::as_array)
        .context("the query has no \"query\" list")?;
    let mut out = Vec::new();
    for item in items {
        let code = item
            .get("code")
            .and_then(Value::as_str)
            .context("a query item has no \"code\"")?;
        let var = meta
            .variables
            .iter()
            .find(|v| v.code == code)
            .with_context(|| {
                format!("the query names variable {code:?}, which the table does not have")
            })?;
        let filter = item
            .pointer("/selection/filter")
            .and_then(Value::as_str)
            .unwrap_or("item");
        let wanted: Vec<String> = item
            .pointer("/selection/values")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let values = match filter {
            "item" => {
                if let Some(bad) = wanted.iter().find(|w| !var.values.contains(w)) {
                    bail!("the query asks for {bad:?} of {code:?}, which the table does not have");
                }
                wanted
            }
            "all" => var.values.clone(),
            "top" => {
                let n: usize = wanted
                    .first()
                    .and_then(|n| n.parse().ok())
                    .context("a top filter needs a count")?;
                var.values[var.values.len().saturating_sub(n)..].to_vec()
            }
            other => {
                bail!("query filter {other:?} is not one this importer splits (item, all, top)")
            }
        };
        out.push((code.to_owned(), values));
    }
    Ok(out)
}

fn cells(s: &Selection) -> u64 {
    s.iter().map(|(_, v)| v.len() as u64).product()
}

/// `s` split along its largest selections until every part has at most `limit` cells.
fn split(s: Selection, limit: u64) -> Vec<Selection> {
    let mut done = Vec::new();
    let mut todo = vec![s];
    while let Some(part) = todo.pop() {
        let n = cells(&part);
        let widest = (0..part.len()).max_by_key(|i| part[*i].1.len());
        match widest {
            Some(w) if n > limit && part[w].1.len() > 1 => {
                let len = part[w].1.len() as u64;
                // As many values of the widest as fit, given the others.
                let others = n / len;
                let chunk = (limit / others.max(1)).clamp(1, len - 1) as usize;
                let pieces: Vec<Selection> = part[w]
                    .1
                    .chunks(chunk)
                    .map(|c| {
                        let mut p = part.clone();
                        p[w].1 = c.to_vec();
                        p
                    })
                    .collect();
                todo.extend(pieces.into_iter().rev());
            }
            _ => done.push(part),
        }
    }
    done
}

/// Where the table is: scheme, host, port and path.
#[derive(Debug, Clone)]
struct Target {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: http::Uri = url
            .parse()
            .with_context(|| format!("{url:?} is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("{url:?}: a PxWeb address starts with https:// (or http://)"),
        };
        let host = uri
            .host()
            .with_context(|| format!("{url:?} names no host"))?
            .to_owned();
        Ok(Target {
            https,
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map_or("/".into(), |p| p.as_str().to_owned()),
            host,
        })
    }
}

struct Client {
    target: Target,
    o: Options,
    last: Option<tokio::time::Instant>,
}

impl Client {
    /// `GET` (no body) or `POST` the table address, retried within bounds; the answer's body.
    async fn send(&mut self, body: Option<Vec<u8>>) -> anyhow::Result<Bytes> {
        let mut wait = self.o.first_backoff;
        let mut tries = 0;
        loop {
            if let Some(last) = self.last {
                tokio::time::sleep_until(last + self.o.min_interval).await;
            }
            self.last = Some(tokio::time::Instant::now());
            tries += 1;
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.once(body.clone())).await;
            let why = match answer {
                Ok(Ok((status, _, bytes))) if status.is_success() => return Ok(bytes),
                Ok(Ok((status, retry_after, _)))
                    if status.as_u16() == 429 || status.is_server_error() =>
                {
                    if let Some(after) = retry_after {
                        wait = after.min(MAX_WAIT);
                    }
                    format!("HTTP {status}")
                }
                Ok(Ok((status, _, bytes))) => bail!(
                    "{}: HTTP {status}: {}",
                    self.target.path,
                    crate::domain::text::cut(&String::from_utf8_lossy(&bytes), 300)
                ),
                Ok(Err(e)) => format!("{e:#}"),
                Err(_) => format!("no answer within {REQUEST_TIMEOUT:?}"),
            };
            if tries > self.o.retries {
                bail!(
                    "{}: gave up after {tries} tries (last: {why})",
                    self.target.path
                );
            }
            tracing::warn!(path = %self.target.path, %why, ?wait, "PxWeb request failed; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_WAIT);
        }
    }

    /// One request on a fresh connection: status, `Retry-After` (seconds), body.
    async fn once(
        &self,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(http::StatusCode, Option<Duration>, Bytes)> {
        let t = &self.target;
        let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .with_context(|| format!("cannot connect to {}:{}", t.host, t.port))?;
        let method = if body.is_some() { "POST" } else { "GET" };
        let req = http::Request::builder()
            .method(method)
            .uri(&t.path)
            .header(http::header::HOST, &t.host)
            .header(
                http::header::USER_AGENT,
                concat!("tilannekuva/", env!("CARGO_PKG_VERSION")),
            )
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let resp = if t.https {
            let tls = connector()?
                .connect(
                    rustls::pki_types::ServerName::try_from(t.host.clone())?,
                    tcp,
                )
                .await
                .context("TLS handshake failed")?;
            send(hyper_util::rt::TokioIo::new(tls), req).await?
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), req).await?
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = Limited::new(resp.into_body(), super::MAX_FILE_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer failed: {e}"))?
            .to_bytes();
        Ok((status, retry_after, bytes))
    }
}

async fn send<I>(
    io: I,
    req: http::Request<Full<Bytes>>,
) -> anyhow::Result<http::Response<hyper::body::Incoming>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    Ok(sender.send_request(req).await?)
}

/// TLS with the system's trusted roots.
fn connector() -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(sizes: &[usize]) -> Selection {
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("v{i}"), (0..*n).map(|k| k.to_string()).collect()))
            .collect()
    }

    #[test]
    fn a_query_is_split_under_the_limit_and_covers_every_cell_once() {
        for (sizes, limit) in [
            (vec![34, 1, 328, 1], 1000u64),
            (vec![214, 414, 3], 100_000),
            (vec![7, 5, 3], 1),
            (vec![10], 100),
        ] {
            let s = sel(&sizes);
            let parts = split(s.clone(), limit);
            assert!(parts.iter().all(|p| cells(p) <= limit), "{sizes:?}");
            assert_eq!(parts.iter().map(cells).sum::<u64>(), cells(&s));
            let mut seen = std::collections::HashSet::new();
            for p in &parts {
                for a in &p[0].1 {
                    for b in p.get(1).map_or(&vec!["-".to_string()], |x| &x.1) {
                        for c in p.get(2).map_or(&vec!["-".to_string()], |x| &x.1) {
                            assert!(seen.insert((a.clone(), b.clone(), c.clone())));
                        }
                    }
                }
            }
        }
        assert_eq!(split(sel(&[34, 1, 328, 1]), 5_000).len(), 3);
    }
}
