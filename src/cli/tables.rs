//! `tilannekuva import-table`: an official table (PX or JSON-stat, from a file or a PxWeb
//! API) and its mapping, planned ([`crate::table::plan`]) and submitted through the API like
//! any client — one submission per area — or, with `--dry-run`, only printed.
//!
//! The import plans against the server's catalog (its areas, indicators and their
//! ranges); a dry run, which sends nothing, against the bundled one. It checks every
//! submission first (`validate_only`) and records nothing if the
//! server refuses any; then it submits them. Before submitting it asks the server, per area
//! and indicator, which figures an earlier release of the same table gave that this one no
//! longer publishes, and reports them (they stay as they are: a table that drops a figure
//! does not retract it).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde_json::json;

use super::client::{authed, channel, describe, Names};
use super::output::emit;
use super::ImportTableArgs;
use crate::api::convert;
use crate::proto;
use crate::proto::catalog_service_client::CatalogServiceClient;
use crate::proto::ingest_service_client::IngestServiceClient;
use crate::proto::picture_service_client::PictureServiceClient;
use crate::table::{self, mapping::Mapping, plan::Plan};

/// Skips listed one by one in the printed plan (the rest are counted by reason).
const SKIPS_SHOWN: usize = 20;
/// The table's notes printed with its plan (a PX file may have dozens).
const NOTES_SHOWN: usize = 3;

pub(crate) async fn import_table(a: ImportTableArgs) -> anyhow::Result<()> {
    let mapping_text = std::fs::read_to_string(&a.mapping)
        .with_context(|| format!("cannot read the mapping {}", a.mapping.display()))?;
    let mapping = Mapping::parse(&mapping_text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.mapping.display()))?;
    let parts = match (&a.file, &a.url) {
        (Some(file), None) => vec![(file.display().to_string(), read_file(file)?)],
        (None, Some(url)) => {
            let query = match &a.query {
                Some(q) => Some(
                    std::fs::read_to_string(q)
                        .with_context(|| format!("cannot read the query {}", q.display()))?,
                ),
                None => None,
            };
            let opts = table::fetch::Options {
                cell_limit: a.cell_limit,
                retries: a.retries,
                first_backoff: std::time::Duration::from_millis(a.backoff_ms),
                min_interval: std::time::Duration::from_millis(a.min_interval_ms),
            };
            let parts = table::fetch::fetch(url, query.as_deref(), &opts).await?;
            if let Some(dir) = &a.save {
                table::fetch::save(dir, &parts)?;
            }
            parts
        }
        _ => anyhow::bail!("give the table as --file FILE or --url PXWEB_TABLE_ADDRESS"),
    };
    let ch = match a.dry_run {
        true => None,
        false => Some(channel(&a.server.server, &a.server.conn).await?),
    };
    let catalog = match &ch {
        Some(ch) => server_catalog(ch, &a).await?,
        None => crate::domain::Catalog::bundled(),
    };
    let year = crate::write::current_year();
    let mut plans = Vec::with_capacity(parts.len());
    for (name, bytes) in &parts {
        let t = table::read_mapped(bytes, &mapping).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let p = table::plan::plan(&t, &mapping, &catalog, year)
            .map_err(|e| anyhow::anyhow!("{}: {e}", a.mapping.display()))?;
        plans.push((name.clone(), t, p));
    }
    let mut out = String::new();
    for (name, t, p) in &plans {
        describe_plan(&mut out, name, t, p, a.server.json);
    }
    let Some(ch) = ch else {
        if !a.server.json {
            out.push_str("dry run: nothing was sent (planned against the bundled catalog)\n");
        }
        return emit(&out);
    };
    let dropped = no_longer_published(&ch, &a, &plans).await?;
    let mut ingest = IngestServiceClient::new(ch.clone());
    // Every submission checked before any is recorded.
    let requests: Vec<proto::SubmitRequest> = plans
        .iter()
        .flat_map(|(_, _, p)| &p.submissions)
        .map(|(id, area, observations)| proto::SubmitRequest {
            submission_id: id.clone(),
            region_code: area.clone(),
            expected_region_revision: None,
            observations: observations
                .iter()
                .map(convert::observation_input_to_proto)
                .collect(),
            validate_only: true,
        })
        .collect();
    let mut refused = Vec::new();
    for r in &requests {
        if let Err(s) = ingest.submit(authed(r.clone(), &a.server.conn)).await {
            refused.push(format!("{}: {}", r.region_code, describe(s)));
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "the server refuses {} of {} submissions; nothing was recorded:\n{}",
            refused.len(),
            requests.len(),
            refused.join("\n")
        );
    }
    let (mut recorded, mut unchanged, mut duplicates) = (0u64, 0u64, 0u64);
    for mut r in requests {
        r.validate_only = false;
        let area = r.region_code.clone();
        let resp = ingest
            .submit(authed(r, &a.server.conn))
            .await
            .map_err(|s| anyhow::anyhow!("{area}: {}", describe(s)))?
            .into_inner();
        // A duplicate's receipt is the first import's: nothing was recorded now.
        if resp.duplicate {
            duplicates += 1;
        } else {
            recorded += u64::from(resp.recorded);
            unchanged += u64::from(resp.unchanged);
        }
    }
    if a.server.json {
        out.push_str(&format!(
            "{}\n",
            json!({"recorded": recorded, "unchanged": unchanged, "duplicate_submissions": duplicates,
                "no_longer_published": dropped.iter().map(|(area, ind, y)| json!({"area": area, "indicator": ind, "year": y})).collect::<Vec<_>>()})
        ));
    } else {
        out.push_str(&format!(
            "recorded       {recorded} figures ({unchanged} unchanged: equal to what is recorded; \
             {duplicates} submissions already recorded as they are)\n"
        ));
        if !dropped.is_empty() {
            out.push_str(&format!(
                "no longer published: {} figures an earlier release of this table gave are not in \
                 this one (they stay as recorded; retract them if the publisher withdrew them):\n",
                dropped.len()
            ));
            for (area, ind, y) in dropped.iter().take(SKIPS_SHOWN) {
                out.push_str(&format!("  {area} {ind} {y}\n"));
            }
            if dropped.len() > SKIPS_SHOWN {
                out.push_str(&format!("  … and {} more\n", dropped.len() - SKIPS_SHOWN));
            }
        }
    }
    emit(&out)
}

/// The server's catalog: its regions, indicators and municipalities (as the tables' names
/// are fetched) and its divisions.
async fn server_catalog(
    ch: &tonic::transport::Channel,
    a: &ImportTableArgs,
) -> anyhow::Result<crate::domain::Catalog> {
    let names = Names::fetch(ch, &a.server).await?;
    let divisions = CatalogServiceClient::new(ch.clone())
        .list_divisions(authed(proto::ListDivisionsRequest {}, &a.server.conn))
        .await
        .map_err(describe)?
        .into_inner()
        .divisions;
    names.into_catalog(divisions)
}

/// A table file, refused before it is read when it is larger than the reader takes.
fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > table::MAX_FILE_BYTES as u64 {
        anyhow::bail!(
            "{}: the file is {len} bytes; at most {} are read",
            path.display(),
            table::MAX_FILE_BYTES
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The plan, as a person reads it or as one JSON line.
fn describe_plan(out: &mut String, name: &str, t: &table::Table, p: &Plan, json: bool) {
    let updated = p
        .published_micros
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map_or_else(
            || "not stated (its figures count as published when recorded)".to_owned(),
            |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    let areas: BTreeSet<&str> = p.submissions.iter().map(|(_, a, _)| a.as_str()).collect();
    if json {
        out.push_str(&format!(
            "{}\n",
            json!({"file": name, "table": t.id, "title": t.title, "format": t.format, "updated": updated,
                "source": t.source, "notes": t.notes,
                "sha256": t.digest, "borders": p.borders, "cells": p.cells, "values": p.values_present,
                "figures": p.figures(), "areas": areas.len(), "submissions": p.submissions.len(),
                "skipped": p.skipped_total,
                "skipped_by_reason": p.skip_summary().into_iter().collect::<BTreeMap<_, _>>(),
                "skips": p.skipped.iter().take(SKIPS_SHOWN).map(|s| json!({"area": s.area, "indicator": s.indicator, "time": s.time, "reason": s.reason})).collect::<Vec<_>>()})
        ));
        return;
    }
    out.push_str(&format!("file           {name}\n"));
    out.push_str(&format!(
        "table          {} ({}) {}\n",
        if t.id.is_empty() { "(no id)" } else { &t.id },
        t.format,
        t.title
    ));
    out.push_str(&format!("updated        {updated}\n"));
    if !t.source.is_empty() {
        out.push_str(&format!("source         {}\n", t.source));
    }
    // What the publisher notes of the table (PX NOTE, JSON-stat note), each cut short.
    for note in t.notes.iter().take(NOTES_SHOWN) {
        out.push_str(&format!(
            "note           {}\n",
            crate::domain::text::cut(&note.replace(['\n', '#'], " "), 160)
        ));
    }
    out.push_str(&format!("sha256         {}\n", t.digest));
    out.push_str(&format!(
        "cells          {} ({} with a value)\n",
        p.cells, p.values_present
    ));
    out.push_str(&format!(
        "would submit   {} figures for {} areas on the {} borders ({} submissions)\n",
        p.figures(),
        areas.len(),
        p.borders,
        p.submissions.len()
    ));
    // What it would submit, by indicator.
    let mut by: BTreeMap<&str, (usize, BTreeSet<&str>, i32, i32, usize)> = BTreeMap::new();
    for (_, area, observations) in &p.submissions {
        for o in observations {
            let e = by.entry(o.indicator_id.as_str()).or_insert((
                0,
                BTreeSet::new(),
                i32::MAX,
                i32::MIN,
                0,
            ));
            e.0 += 1;
            e.1.insert(area.as_str());
            e.2 = e.2.min(o.year);
            e.3 = e.3.max(o.year);
            e.4 += usize::from(o.status == Some(crate::domain::Status::Provisional));
        }
    }
    if !by.is_empty() {
        out.push_str(&format!(
            "  {:<40} {:>8} {:>6}  {:<9}  {:>11}\n",
            "indicator", "figures", "areas", "years", "provisional"
        ));
        for (ind, (n, areas, first, last, provisional)) in &by {
            out.push_str(&format!(
                "  {ind:<40} {n:>8} {:>6}  {:<9}  {provisional:>11}\n",
                areas.len(),
                format!("{first}–{last}")
            ));
        }
    }
    out.push_str(&format!("skipped        {}\n", p.skipped_total));
    for (reason, n) in p.skip_summary() {
        out.push_str(&format!("  {n:>8}  {reason}\n"));
    }
    for s in p.skipped.iter().take(SKIPS_SHOWN) {
        let what = [s.area.as_str(), s.indicator.as_str(), s.time.as_str()]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!("  {what}: {}\n", s.reason));
    }
    if p.skipped_total > SKIPS_SHOWN as u64 {
        out.push_str(&format!(
            "  … {} more (--json lists the first {SKIPS_SHOWN} too; the counts above are of all)\n",
            p.skipped_total - SKIPS_SHOWN as u64
        ));
    }
}

/// Figures that an earlier release of the same table gave (their source names the table)
/// and this one does not: (area, indicator, year).
async fn no_longer_published(
    ch: &tonic::transport::Channel,
    a: &ImportTableArgs,
    plans: &[(String, table::Table, Plan)],
) -> anyhow::Result<Vec<(String, String, i32)>> {
    // (area, indicator) → the years this release gives.
    let mut given: BTreeMap<(String, String), BTreeSet<i32>> = BTreeMap::new();
    let mut borders = None;
    let mut marker = String::new();
    for (_, t, p) in plans {
        borders = Some(p.borders);
        marker = format!(", table {} '", t.id);
        for (_, area, observations) in &p.submissions {
            for o in observations {
                given
                    .entry((area.clone(), o.indicator_id.clone()))
                    .or_default()
                    .insert(o.year);
            }
        }
    }
    let Some(borders) = borders.filter(|_| !marker.contains("table  '")) else {
        return Ok(Vec::new());
    };
    let mut client = PictureServiceClient::new(ch.clone());
    let mut dropped = Vec::new();
    for ((area, indicator), years) in &given {
        let Some(last) = years.last() else {
            continue;
        };
        let series = client
            .get_series(authed(
                proto::GetSeriesRequest {
                    region_code: area.clone(),
                    indicator_id: indicator.clone(),
                    // The series read takes the indicator's years within this span.
                    from_year: last - 299,
                    to_year: crate::write::current_year(),
                    as_of: None,
                    min_sequence: 0,
                    borders: borders.to_string(),
                },
                &a.server.conn,
            ))
            .await
            .map_err(describe)?
            .into_inner();
        for point in series.points {
            if !point.derived && point.source.contains(&marker) && !years.contains(&point.year) {
                dropped.push((area.clone(), indicator.clone(), point.year));
            }
        }
    }
    Ok(dropped)
}
