//! Client commands: talk to a running server over gRPC and print tables or JSON.

use std::io::Write;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;
use tonic_types::StatusExt;

use super::{
    AsOfArgs, ConnArgs, ExportArgs, HistoryArgs, NationalArgs, PictureArgs, RetractArgs,
    SeriesArgs, SubmitArgs,
};
use crate::api::convert;
use crate::domain::{Event, Payload};
use crate::proto;
use crate::proto::ingest_service_client::IngestServiceClient;
use crate::proto::picture_service_client::PictureServiceClient;

/// A channel to `server`, trusting `conn.ca_cert` for TLS.
pub async fn channel(server: &str, conn: &ConnArgs) -> anyhow::Result<Channel> {
    let mut endpoint = Channel::from_shared(server.to_owned())
        .with_context(|| format!("invalid server address {server:?}"))?;
    if let Some(ca) = &conn.ca_cert {
        let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        endpoint = endpoint
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(pem)),
            )
            .context("TLS configuration")?;
    }
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to {server}"))
}

/// A request carrying the bearer token, if any.
pub fn authed<T>(message: T, conn: &ConnArgs) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Some(token) = &conn.token {
        if let Ok(v) = format!("Bearer {token}").parse() {
            req.metadata_mut().insert("authorization", v);
        }
    }
    req
}

/// Turns a gRPC error into a readable one, with its field violations.
pub fn describe(status: tonic::Status) -> anyhow::Error {
    let mut msg = format!("{:?}: {}", status.code(), status.message());
    if let Some(br) = status.get_details_bad_request() {
        for v in br.field_violations {
            msg.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    anyhow!(msg)
}

fn as_of(a: &AsOfArgs) -> anyhow::Result<Option<proto::AsOf>> {
    use proto::as_of::Point;
    if let Some(s) = a.as_of_sequence {
        return Ok(Some(proto::AsOf {
            point: Some(Point::Sequence(s)),
        }));
    }
    if let Some(t) = &a.as_of_time {
        let t = chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--as-of-time {t:?} is not RFC 3339"))?;
        return Ok(Some(proto::AsOf {
            point: Some(Point::RecordedAt(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            })),
        }));
    }
    Ok(None)
}

fn status_name(s: i32) -> &'static str {
    match convert::status_from_proto(s) {
        Some(crate::domain::Status::Final) => "final",
        Some(crate::domain::Status::Provisional) => "provisional",
        None => "?",
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

fn ts(t: &Option<prost_types::Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

pub async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    // A file that is not UTF-8 gets a line-numbered error from the reader.
    let rows =
        crate::csvin::parse_bytes(&bytes).map_err(|e| anyhow!("{}: {e}", a.file.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let groups = crate::csvin::group_by_region(rows, a.region.as_deref())
        .map_err(|e| anyhow!("{}: {e}", a.file.display()))?;
    let (region, rows) = match groups.len() {
        0 => bail!("{}: no rows", a.file.display()),
        1 => groups.into_iter().next().expect("one group"),
        n => bail!(
            "{}: rows for {n} regions ({}); one submission is for one region",
            a.file.display(),
            groups
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let submission_id = a.submission_id.unwrap_or_else(|| {
        let digest = Sha256::digest(format!("{region}\n{text}").as_bytes());
        format!("csv-{}", &hex::encode(digest)[..32])
    });
    let req = proto::SubmitRequest {
        submission_id: submission_id.clone(),
        region_code: region.clone(),
        expected_region_revision: a.expected_region_revision,
        observations: rows
            .iter()
            .map(|r| {
                let o = &r.observation;
                proto::Observation {
                    indicator_id: o.indicator_id.clone(),
                    year: o.year,
                    value: o.value,
                    status: o.status.map(convert::status_to_proto).unwrap_or(0),
                    source: o.source.clone(),
                    note: o.note.clone(),
                    correction_reason: o.correction_reason.clone(),
                }
            })
            .collect(),
    };
    let mut client = IngestServiceClient::new(channel(&a.server.server, &a.server.conn).await?);
    let r = client
        .submit(authed(req, &a.server.conn))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        println!(
            "{}",
            json!({"submission_id": submission_id, "region_code": region, "first_sequence": r.first_sequence,
                "last_sequence": r.last_sequence, "region_revision": r.region_revision, "duplicate": r.duplicate,
                "receipt_hash": r.receipt_hash, "observations": rows.len()})
        );
    } else {
        println!("submission     {submission_id}");
        println!("region         {region}");
        println!("observations   {}", rows.len());
        println!("sequences      {}..{}", r.first_sequence, r.last_sequence);
        println!("region rev.    {}", r.region_revision);
        println!("duplicate      {}", r.duplicate);
        println!("receipt hash   {}", r.receipt_hash);
    }
    Ok(())
}

pub async fn retract(a: RetractArgs) -> anyhow::Result<()> {
    let submission_id = a.submission_id.unwrap_or_else(|| {
        let digest = Sha256::digest(
            format!("{}\n{}\n{}\n{}", a.region, a.indicator, a.year, a.reason).as_bytes(),
        );
        format!("retract-{}", &hex::encode(digest)[..32])
    });
    let mut client = IngestServiceClient::new(channel(&a.server.server, &a.server.conn).await?);
    let r = client
        .retract(authed(
            proto::RetractRequest {
                submission_id: submission_id.clone(),
                region_code: a.region.clone(),
                indicator_id: a.indicator.clone(),
                year: a.year,
                reason: a.reason.clone(),
                expected_region_revision: None,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        println!(
            "{}",
            json!({"submission_id": submission_id, "sequence": r.sequence, "region_revision": r.region_revision,
                "duplicate": r.duplicate, "receipt_hash": r.receipt_hash})
        );
    } else {
        println!(
            "retracted {} {} {} at sequence {} (region revision {}, duplicate {})",
            a.region, a.indicator, a.year, r.sequence, r.region_revision, r.duplicate
        );
    }
    Ok(())
}

pub async fn picture(a: PictureArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch)
        .get_region_picture(authed(
            proto::GetRegionPictureRequest {
                region_code: a.region.clone(),
                year: a.year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let cells: Vec<_> = r
            .cells
            .iter()
            .map(|c| {
                json!({"indicator_id": c.indicator_id, "theme": c.theme, "unit": c.unit, "value": c.value,
                    "status": status_name(c.status), "source": c.source, "revisions": c.revisions,
                    "last_recorded_at": ts(&c.last_recorded_at), "national_value": c.national_value,
                    "national_official": c.national_official, "national_difference": c.national_difference,
                    "rank": c.rank, "regions_ranked": c.regions_ranked, "previous_value": c.previous_value, "change": c.change})
            })
            .collect();
        let themes: Vec<_> = r
            .themes
            .iter()
            .map(|t| json!({"theme": t.theme, "score": t.scored.then_some(t.score), "rank": t.rank,
                "indicators_reported": t.indicators_reported, "indicators_defined": t.indicators_defined}))
            .collect();
        println!(
            "{}",
            json!({"region_code": r.region_code, "year": r.year, "as_of_sequence": r.as_of_sequence,
                "coverage_ratio": r.coverage_ratio, "cells": cells, "themes": themes})
        );
        return Ok(());
    }
    println!(
        "{} {} (as of sequence {}, coverage {:.0} %)",
        r.region_code,
        r.year,
        r.as_of_sequence,
        r.coverage_ratio * 100.0
    );
    println!(
        "{:<38} {:>14} {:<11} {:>14} {:>12} {:>7} {:>12} {:>4}",
        "indicator", "value", "status", "national", "difference", "rank", "change", "rev"
    );
    for c in &r.cells {
        let d = c.decimals as usize;
        let nat = format!(
            "{}{}",
            opt(c.national_value, d),
            if c.national_official { "*" } else { "" }
        );
        let rank = if c.rank > 0 {
            format!("{}/{}", c.rank, c.regions_ranked)
        } else {
            "-".into()
        };
        println!(
            "{:<38} {:>14.d$} {:<11} {:>14} {:>12} {:>7} {:>12} {:>4}",
            c.indicator_id,
            c.value,
            status_name(c.status),
            nat,
            opt(c.national_difference, d),
            rank,
            opt(c.change, d),
            c.revisions
        );
    }
    println!(
        "\n{:<12} {:>8} {:>5} {:>9}",
        "theme", "score", "rank", "reported"
    );
    for t in &r.themes {
        let score = if t.scored {
            format!("{:.3}", t.score)
        } else {
            "-".into()
        };
        let rank = if t.rank > 0 {
            t.rank.to_string()
        } else {
            "-".into()
        };
        println!(
            "{:<12} {:>8} {:>5} {:>5}/{:<3}",
            t.theme, score, rank, t.indicators_reported, t.indicators_defined
        );
    }
    println!("\n* official national figure (reported for SSS)");
    Ok(())
}

pub async fn national(a: NationalArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch)
        .get_national_picture(authed(
            proto::GetNationalPictureRequest {
                year: a.year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    let reported: Vec<&proto::NationalIndicator> = r
        .indicators
        .iter()
        .filter(|i| i.regions_reported > 0 || i.value.is_some())
        .collect();
    if a.server.json {
        let inds: Vec<_> = reported
            .iter()
            .map(|i| json!({"indicator_id": i.indicator_id, "theme": i.theme, "unit": i.unit, "value": i.value,
                "official": i.official, "computed_value": i.computed_value, "regions_reported": i.regions_reported,
                "regions_expected": i.regions_expected, "min": i.min, "median": i.median, "max": i.max,
                "best_region": i.best_region, "worst_region": i.worst_region}))
            .collect();
        let themes: Vec<_> = r
            .themes
            .iter()
            .map(|t| json!({"theme": t.theme, "regions": t.regions.iter().map(|s| json!({"region_code": s.region_code, "score": s.score, "rank": s.rank})).collect::<Vec<_>>()}))
            .collect();
        println!(
            "{}",
            json!({"year": r.year, "as_of_sequence": r.as_of_sequence, "indicators": inds, "themes": themes})
        );
        return Ok(());
    }
    println!(
        "Whole country {} (as of sequence {})",
        r.year, r.as_of_sequence
    );
    println!(
        "{:<38} {:>14} {:>14} {:>7} {:>12} {:>12} {:>12} {:<6} {:<6}",
        "indicator", "national", "computed", "regions", "min", "median", "max", "best", "worst"
    );
    for i in reported {
        let nat = format!("{}{}", opt(i.value, 2), if i.official { "*" } else { "" });
        println!(
            "{:<38} {:>14} {:>14} {:>3}/{:<3} {:>12} {:>12} {:>12} {:<6} {:<6}",
            i.indicator_id,
            nat,
            opt(i.computed_value, 2),
            i.regions_reported,
            i.regions_expected,
            opt(i.min, 2),
            opt(i.median, 2),
            opt(i.max, 2),
            i.best_region,
            i.worst_region
        );
    }
    for t in &r.themes {
        if t.regions.is_empty() {
            continue;
        }
        let ranking: Vec<String> = t
            .regions
            .iter()
            .map(|s| format!("{}. {} ({:+.2})", s.rank, s.region_code, s.score))
            .collect();
        println!("\n{}: {}", t.theme, ranking.join(", "));
    }
    println!("\n* official national figure (reported for SSS)");
    Ok(())
}

pub async fn series(a: SeriesArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch)
        .get_series(authed(
            proto::GetSeriesRequest {
                region_code: a.region.clone(),
                indicator_id: a.indicator.clone(),
                from_year: a.from_year,
                to_year: a.to_year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let points: Vec<_> = r
            .points
            .iter()
            .map(|p| json!({"year": p.year, "value": p.value, "status": status_name(p.status), "national_value": p.national_value, "rank": p.rank}))
            .collect();
        println!(
            "{}",
            json!({"region_code": a.region, "indicator_id": a.indicator, "as_of_sequence": r.as_of_sequence, "points": points})
        );
        return Ok(());
    }
    println!(
        "{} {} (as of sequence {})",
        a.region, a.indicator, r.as_of_sequence
    );
    println!(
        "{:<6} {:>14} {:<11} {:>14} {:>5}",
        "year", "value", "status", "national", "rank"
    );
    for p in &r.points {
        println!(
            "{:<6} {:>14} {:<11} {:>14} {:>5}",
            p.year,
            p.value,
            status_name(p.status),
            opt(p.national_value, 2),
            p.rank
        );
    }
    Ok(())
}

pub async fn history(a: HistoryArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch)
        .get_observation_history(authed(
            proto::GetObservationHistoryRequest {
                region_code: a.region.clone(),
                indicator_id: a.indicator.clone(),
                year: a.year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let revs: Vec<_> = r
            .revisions
            .iter()
            .map(|v| json!({"sequence": v.sequence, "recorded_at": ts(&v.recorded_at), "value": v.value,
                "status": status_name(v.status), "source": v.source, "note": v.note, "correction_reason": v.correction_reason,
                "principal": v.principal, "submission_id": v.submission_id, "retracted": v.retracted,
                "retraction_reason": v.retraction_reason, "hash": hex::encode(&v.hash)}))
            .collect();
        println!(
            "{}",
            json!({"region_code": a.region, "indicator_id": a.indicator, "year": a.year, "as_of_sequence": r.as_of_sequence, "revisions": revs})
        );
        return Ok(());
    }
    println!(
        "{} {} {} (as of sequence {})",
        a.region, a.indicator, a.year, r.as_of_sequence
    );
    for v in &r.revisions {
        if v.retracted {
            println!(
                "#{:<8} {}  RETRACTED by {} ({}): {}",
                v.sequence,
                ts(&v.recorded_at),
                v.principal,
                v.submission_id,
                v.retraction_reason
            );
            continue;
        }
        println!(
            "#{:<8} {}  {} {}  by {} ({})",
            v.sequence,
            ts(&v.recorded_at),
            v.value,
            status_name(v.status),
            v.principal,
            v.submission_id
        );
        println!("          source: {}", v.source);
        if !v.note.is_empty() {
            println!("          note: {}", v.note);
        }
        if !v.correction_reason.is_empty() {
            println!("          correction: {}", v.correction_reason);
        }
    }
    Ok(())
}

/// One line of an NDJSON export: an event with hex hashes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportEvent {
    pub sequence: u64,
    pub recorded_at_micros: i64,
    /// For people; ignored on import.
    #[serde(default)]
    pub recorded_at: String,
    pub region_code: String,
    pub region_revision: u64,
    pub principal: String,
    pub submission_id: String,
    pub payload: Payload,
    pub prev_hash: String,
    pub hash: String,
}

impl ExportEvent {
    pub fn from_event(e: &Event) -> ExportEvent {
        ExportEvent {
            sequence: e.sequence,
            recorded_at_micros: e.recorded_at_micros,
            recorded_at: chrono::DateTime::from_timestamp_micros(e.recorded_at_micros)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default(),
            region_code: e.region_code.clone(),
            region_revision: e.region_revision,
            principal: e.principal.clone(),
            submission_id: e.submission_id.clone(),
            payload: e.payload.clone(),
            prev_hash: hex::encode(e.prev_hash),
            hash: hex::encode(e.hash),
        }
    }

    pub fn into_event(self) -> Result<Event, String> {
        let h = |s: &str, what: &str| -> Result<[u8; 32], String> {
            hex::decode(s)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("event {}: {what} is not 64 hex digits", self.sequence))
        };
        Ok(Event {
            prev_hash: h(&self.prev_hash, "prev_hash")?,
            hash: h(&self.hash, "hash")?,
            sequence: self.sequence,
            recorded_at_micros: self.recorded_at_micros,
            region_code: self.region_code,
            region_revision: self.region_revision,
            principal: self.principal,
            submission_id: self.submission_id,
            payload: self.payload,
        })
    }
}

/// An event as one NDJSON line (without the newline).
pub fn export_json_line(e: &Event) -> String {
    // Plain data always serialises.
    serde_json::to_string(&ExportEvent::from_event(e)).expect("events serialise")
}

pub async fn export(a: ExportArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server, &a.conn).await?;
    let mut stream = PictureServiceClient::new(ch)
        .read_events(authed(
            proto::ReadEventsRequest {
                from_sequence: a.from_sequence,
                follow: false,
            },
            &a.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut n = 0u64;
    while let Some(msg) = stream.message().await.map_err(describe)? {
        let e = msg
            .event
            .ok_or_else(|| anyhow!("a ReadEvents response without an event"))?;
        let e = convert::event_from_proto(&e).map_err(|m| anyhow!(m))?;
        writeln!(out, "{}", export_json_line(&e))?;
        n += 1;
    }
    out.flush()?;
    if a.output.is_some() {
        eprintln!("exported {n} events");
    }
    Ok(())
}
