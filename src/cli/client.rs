//! Client commands: talk to a running server over gRPC and print tables or JSON.
//!
//! Tables are for people (names, units, the catalog's decimals, grouped thousands, what a
//! national value rests on; see [`super::output`]); `--json` is for programs and keeps its
//! keys.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;
use tonic_types::StatusExt;

use super::output::{emit, number, opt_number, signed, Align, Table, NOT_AVAILABLE};
use super::{
    AsOfArgs, CatalogArgs, ConnArgs, ExportArgs, HistoryArgs, IndicatorsArgs, NationalArgs,
    PictureArgs, RetractArgs, SeriesArgs, ServerArg, SubmitArgs, TemplateArgs,
};
use crate::api::convert;
use crate::csvin::Problems;
use crate::domain::text::printable;
use crate::domain::{Event, Payload};
use crate::proto;
use crate::proto::catalog_service_client::CatalogServiceClient;
use crate::proto::ingest_service_client::IngestServiceClient;
use crate::proto::picture_service_client::PictureServiceClient;

/// A channel to `server`, trusting `conn.ca_cert` for TLS.
pub(crate) async fn channel(server: &str, conn: &ConnArgs) -> anyhow::Result<Channel> {
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
pub(crate) fn authed<T>(message: T, conn: &ConnArgs) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Some(token) = &conn.token {
        if let Ok(v) = format!("Bearer {token}").parse() {
            req.metadata_mut().insert("authorization", v);
        }
    }
    req
}

/// The total and shown counts of an `INVALID_ARGUMENT`'s violations, from its `ErrorInfo`.
fn violation_counts(status: &tonic::Status, shown: usize) -> (usize, usize) {
    let info = status.get_details_error_info();
    let count = |key: &str| {
        info.as_ref()
            .and_then(|i| i.metadata.get(key))
            .and_then(|v| v.parse().ok())
    };
    (
        count("violations_total").unwrap_or(shown),
        count("violations_shown").unwrap_or(shown),
    )
}

/// An `INVALID_ARGUMENT`'s field violations (field, description), and how many there were
/// in all (the server sends a bounded number); `None` for any other error.
fn violations(status: &tonic::Status) -> Option<(Vec<(String, String)>, usize)> {
    let br = status.get_details_bad_request()?;
    let shown = br.field_violations.len();
    let (total, _) = violation_counts(status, shown);
    let found = br
        .field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect();
    Some((found, total.max(shown)))
}

/// Turns a gRPC error into a readable one: each field violation once, then how many more
/// there are.
fn describe_with(status: tonic::Status, place: impl Fn(&str) -> String) -> anyhow::Error {
    let Some((found, total)) = violations(&status) else {
        return anyhow!("{:?}: {}", status.code(), status.message());
    };
    let problems = if total == 1 { "problem" } else { "problems" };
    let mut msg = format!("{:?}: the server found {total} {problems}", status.code());
    for (field, description) in &found {
        msg.push_str(&format!("\n  {}: {description}", place(field)));
    }
    if total > found.len() {
        msg.push_str(&format!(
            "\n  ... and {} more ({total} problems in all); fix these and submit again (--dry-run \
             writes nothing) to see the rest",
            total - found.len()
        ));
    }
    anyhow!(msg)
}

/// Turns a gRPC error into a readable one, with its field violations.
pub(crate) fn describe(status: tonic::Status) -> anyhow::Error {
    describe_with(status, str::to_owned)
}

pub(super) fn as_of(a: &AsOfArgs) -> anyhow::Result<Option<proto::AsOf>> {
    use proto::as_of::Point;
    if let Some(s) = a.as_of_sequence {
        return Ok(Some(proto::AsOf {
            point: Some(Point::Sequence(s)),
        }));
    }
    if let Some(t) = &a.as_of_time {
        let micros = crate::domain::text::instant(t, crate::domain::text::Day::End)
            .map_err(|why| anyhow::anyhow!("--as-of-time {why}"))?;
        return Ok(Some(proto::AsOf {
            point: Some(Point::RecordedAt(convert::timestamp(micros))),
        }));
    }
    if let Some(t) = &a.published_by {
        let micros = crate::domain::text::instant(t, crate::domain::text::Day::End)
            .map_err(|why| anyhow::anyhow!("--published-by {why}"))?;
        return Ok(Some(proto::AsOf {
            point: Some(Point::PublishedBy(convert::timestamp(micros))),
        }));
    }
    Ok(None)
}

pub(super) fn status_name(s: i32) -> &'static str {
    match convert::status_from_proto(s) {
        Some(crate::domain::Status::Final) => "final",
        Some(crate::domain::Status::Provisional) => "provisional",
        None => "?",
    }
}

/// A time as a person reads it: Finnish time with its zone (`2026-09-30 23:59:59 EEST`).
pub(super) fn local(t: &Option<prost_types::Timestamp>) -> String {
    t.map(|t| crate::domain::text::finnish_time(convert::micros_of(&t).unwrap_or(i64::MIN)))
        .unwrap_or_default()
}

/// A time for a machine (`--json`): RFC 3339 in UTC.
pub(super) fn ts(t: &Option<prost_types::Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn basis_name(b: i32) -> &'static str {
    match proto::NationalBasis::try_from(b) {
        Ok(proto::NationalBasis::Official) => "official",
        Ok(proto::NationalBasis::Complete) => "complete",
        Ok(proto::NationalBasis::Partial) => "partial",
        Ok(proto::NationalBasis::Unavailable) => "unavailable",
        _ => "?",
    }
}

/// A national value's JSON: value, basis, regions reported / expected, status.
pub(super) fn national_json(n: &Option<proto::NationalValue>) -> serde_json::Value {
    match n {
        Some(n) => json!({"value": n.value, "basis": basis_name(n.basis),
            "regions_reported": n.regions_reported, "regions_expected": n.regions_expected,
            "status": n.value.map(|_| status_name(n.status))}),
        None => serde_json::Value::Null,
    }
}

/// A national value for a table: the value (`*` = provisional), and its basis with the
/// regions behind it: `official`, `complete 19/19`, `partial 17/19`, and for none, why:
/// `none: 2/19 regions`, `none: SSS only` (a national_only indicator), `none: 0/19 with
/// components` (a ratio or mean whose components no region reported).
pub(super) fn national_cells(
    n: &Option<proto::NationalValue>,
    decimals: u32,
    indicator: Option<&proto::Indicator>,
) -> (String, String) {
    let Some(n) = n else {
        return (NOT_AVAILABLE.into(), String::new());
    };
    let provisional = n.status == proto::ObservationStatus::Provisional as i32;
    let value = match n.value {
        Some(v) => format!(
            "{}{}",
            number(v, decimals),
            if provisional { "*" } else { "" }
        ),
        None => NOT_AVAILABLE.into(),
    };
    let coverage = format!("{}/{}", n.regions_reported, n.regions_expected);
    let basis = match proto::NationalBasis::try_from(n.basis) {
        Ok(proto::NationalBasis::Official) => "official".to_owned(),
        Ok(proto::NationalBasis::Complete) => format!("complete {coverage}"),
        Ok(proto::NationalBasis::Partial) if n.thin => format!("partial {coverage}, thin"),
        Ok(proto::NationalBasis::Partial) => format!("partial {coverage}"),
        _ => match indicator.and_then(|i| proto::Aggregation::try_from(i.aggregation).ok()) {
            Some(proto::Aggregation::NationalOnly) => "none: SSS only".to_owned(),
            Some(proto::Aggregation::Ratio | proto::Aggregation::WeightedMean) => {
                format!("none: {coverage} with components")
            }
            _ => format!("none: {coverage} regions"),
        },
    };
    (value, basis)
}

/// The legend under tables that show national values.
pub(super) const NATIONAL_LEGEND: &str = "\
national: official = the figure reported for the whole country (SSS); complete = computed by
  the indicator's rule from every region (n/n); partial = a ratio or mean over the regions
  that reported (n of N): an estimate, not the national figure; thin = over fewer than half
  of them, so mostly those regions' figure; none = no national value (a sum over part of
  the country is not a national figure; SSS only = only a figure reported for the whole
  country is one). * = provisional.
";

/// A rank for a table: `3/19`, `neutral` (neither direction is better, so not ranked), or
/// `..` (no rank: the region has no value, or the rank is not computed).
pub(super) fn rank_cell(rank: u32, ranked: u32, neutral: bool) -> String {
    match (rank, neutral) {
        (_, true) => "neutral".into(),
        (0, false) => NOT_AVAILABLE.into(),
        (r, false) => format!("{r}/{ranked}"),
    }
}

/// The catalog as the server has it, for names, units and decimals.
pub(super) struct Names {
    regions: BTreeMap<String, proto::Region>,
    municipalities: BTreeMap<String, proto::Municipality>,
    pub(super) indicators: BTreeMap<String, proto::Indicator>,
    lang: String,
}

impl Names {
    pub(super) async fn fetch(ch: &Channel, server: &ServerArg) -> anyhow::Result<Names> {
        let mut cat = CatalogServiceClient::new(ch.clone());
        let regions = cat
            .list_regions(authed(proto::ListRegionsRequest {}, &server.conn))
            .await
            .map_err(describe)?
            .into_inner()
            .regions;
        let indicators = cat
            .list_indicators(authed(
                proto::ListIndicatorsRequest { theme: None },
                &server.conn,
            ))
            .await
            .map_err(describe)?
            .into_inner()
            .indicators;
        let municipalities = cat
            .list_municipalities(authed(
                proto::ListMunicipalitiesRequest { borders: 0 },
                &server.conn,
            ))
            .await
            .map_err(describe)?
            .into_inner()
            .municipalities;
        Ok(Names {
            regions: regions.into_iter().map(|r| (r.code.clone(), r)).collect(),
            municipalities: municipalities
                .into_iter()
                .map(|m| (m.code.clone(), m))
                .collect(),
            indicators: indicators.into_iter().map(|i| (i.id.clone(), i)).collect(),
            lang: server.lang.clone(),
        })
    }

    /// The catalog these lists and `divisions` make: the server's areas and indicators, to
    /// plan a table against (`import-table`).
    pub(super) fn into_catalog(
        self,
        divisions: Vec<proto::Division>,
    ) -> anyhow::Result<crate::domain::Catalog> {
        let mut catalog = crate::domain::Catalog::default();
        for r in self.regions.values() {
            let r = convert::region_from_proto(r);
            catalog.regions.insert(r.code.clone(), r);
        }
        for i in self.indicators.values() {
            let i = convert::indicator_from_proto(i)
                .map_err(|(f, d)| anyhow::anyhow!("the server's indicator {}: {f}: {d}", i.id))?;
            catalog.indicators.insert(i.id.clone(), i);
        }
        for m in self.municipalities.values() {
            let m = convert::municipality_from_proto(m);
            catalog.municipalities.insert(m.code.clone(), m);
        }
        for d in divisions {
            catalog.divisions.insert(
                d.year,
                crate::domain::Division {
                    year: d.year,
                    source: d.source,
                },
            );
        }
        Ok(catalog)
    }

    /// An area's name in the chosen language (its code when unknown; a sub-region's or
    /// county's in Finnish, the key's only).
    fn area_name(&self, code: &str) -> String {
        if let Some(m) = self.municipalities.get(code) {
            return match self.lang.as_str() {
                "fi" => m.name_fi.clone(),
                "sv" => m.name_sv.clone(),
                _ => m.name_en.clone(),
            };
        }
        let group = self
            .municipalities
            .values()
            .flat_map(|m| &m.placements)
            .find_map(|p| match code {
                c if c == p.sub_region_code => Some(&p.sub_region_name),
                c if c == p.county_code => Some(&p.county_name),
                _ => None,
            });
        if let Some(name) = group.filter(|n| !n.is_empty()) {
            return name.clone();
        }
        match self.region(code) {
            Some(r) => match self.lang.as_str() {
                "fi" => r.name_fi.clone(),
                "sv" => r.name_sv.clone(),
                _ => r.name_en.clone(),
            },
            None => code.to_owned(),
        }
    }

    /// The region a code names: its code, or Statistics Finland's number for it (`19` is
    /// `MK19`).
    pub(super) fn region(&self, code: &str) -> Option<&proto::Region> {
        self.regions
            .get(code)
            .or_else(|| self.regions.values().find(|r| r.statfin_code == code))
    }

    /// "Uusimaa (MK01)".
    pub(super) fn region_title(&self, code: &str) -> String {
        format!("{} ({code})", self.area_name(code))
    }

    /// An indicator's name in the chosen language (Finnish for Swedish: the catalog has
    /// no Swedish names); its id when unknown.
    fn indicator_full_name<'a>(&'a self, id: &'a str) -> &'a str {
        match self.indicators.get(id) {
            Some(i) if self.lang == "en" => &i.name_en,
            Some(i) => &i.name_fi,
            None => id,
        }
    }

    /// [`Names::indicator_full_name`] cut for a table column.
    pub(super) fn indicator_name(&self, id: &str) -> String {
        /// Wide enough for most names whole, narrow enough to leave the figures room.
        const WIDTH: usize = 48;
        crate::domain::text::cut(self.indicator_full_name(id), WIDTH)
    }

    /// "Työttömyysaste (unemployment_rate_15_74, %)": a title's indicator.
    pub(super) fn indicator_title(&self, id: &str) -> String {
        format!("{} ({id}, {})", self.indicator_full_name(id), self.unit(id))
    }

    pub(super) fn decimals(&self, indicator: &str) -> u32 {
        self.indicators.get(indicator).map_or(2, |i| i.decimals)
    }

    fn unit(&self, indicator: &str) -> String {
        self.indicators
            .get(indicator)
            .map(|i| i.unit.clone())
            .unwrap_or_default()
    }

    pub(super) fn neutral(&self, indicator: &str) -> bool {
        self.indicators
            .get(indicator)
            .is_some_and(|i| i.direction == proto::Direction::Neutral as i32)
    }
}

/// A file's problems as the CLI's error: every problem, a line each, then `last` (what else
/// is known); nothing was written.
fn problems_error(problems: Problems, file: &str, last: Option<String>) -> anyhow::Error {
    let mut msg = format!("{file}: {}:", problems.summary());
    for (line, column, name, message) in problems.listed {
        let place = match (line, column) {
            (0, _) => String::new(),
            (l, 0) => format!("line {l}: "),
            (l, c) => format!("line {l}, column {c} ({name}): "),
        };
        msg.push_str(&format!("\n  {place}{message}"));
    }
    if let Some(last) = last {
        msg.push_str(&format!("\n  {last}"));
    }
    anyhow!(msg)
}

pub(crate) async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let file = a.file.display().to_string();
    let bytes = std::fs::read(&a.file).with_context(|| format!("cannot read {file}"))?;
    // A file that is not UTF-8 gets a line-numbered error from the reader.
    let parsed = crate::csvin::parse_file(&bytes).map_err(|e| anyhow!("{file}: {e}"))?;
    let skipped = parsed.skipped.len();
    // A row's region_code and --region must name the same area (`19` is `MK19`): the
    // server's region list says which codes are aliases.
    // (Fetched only then, before anything is sent, and kept for the receipt.)
    let mut server = None;
    if a.region.is_some() && parsed.rows.iter().any(|r| r.region_code.is_some()) {
        let ch = channel(&a.server.server, &a.server.conn).await?;
        let names = Names::fetch(&ch, &a.server).await?;
        server = Some((ch, names));
    }
    let area = |c: &str| {
        let region = server.as_ref().and_then(|(_, n)| n.region(c));
        region.map_or(c, |r| r.code.as_str()).to_owned()
    };
    // Every problem found before sending; the rows without one are still checked by the
    // server (without writing anything), so that one run reports them all.
    let mut report = Problems::default();
    let Ok((region, rows)) = crate::csvin::one_submission(
        &parsed,
        a.region.as_deref(),
        "--region",
        |x, y| area(x) == area(y),
        &mut report,
    ) else {
        return Err(problems_error(report, &file, None));
    };
    let submission_id = a
        .submission_id
        .unwrap_or_else(|| crate::csvin::submission_id(&region, &bytes));
    let req = proto::SubmitRequest {
        submission_id: submission_id.clone(),
        region_code: region.clone(),
        expected_region_revision: a.expected_region_revision,
        observations: rows
            .iter()
            .map(|r| convert::observation_input_to_proto(&r.observation))
            .collect(),
        validate_only: a.dry_run || !report.is_empty(),
    };
    let (ch, names) = match server {
        Some((ch, names)) => (ch, Some(names)),
        None => (channel(&a.server.server, &a.server.conn).await?, None),
    };
    let answer = IngestServiceClient::new(ch.clone())
        .submit(authed(req, &a.server.conn))
        .await;
    let r = match answer {
        Ok(r) if report.is_empty() => r.into_inner(),
        Ok(_) => {
            let rest = crate::csvin::Problems::none_in_the_rest(rows.len());
            return Err(problems_error(report, &file, Some(rest)));
        }
        Err(status) => {
            let Some((found, total)) = violations(&status) else {
                if report.is_empty() {
                    return Err(describe(status));
                }
                let why = format!(
                    "the server could not check the other rows: {}",
                    describe(status)
                );
                return Err(problems_error(report, &file, Some(why)));
            };
            // Violations name observations[i].field: the file's line of row i, and the
            // column.
            report.add_violations(&found, total, &parsed, &rows, (&region, "--region"));
            let more = (report.unlisted > 0).then(|| {
                format!(
                    "... and {} more the server found; fix these and check again (--dry-run \
                     writes nothing) to see the rest",
                    report.unlisted
                )
            });
            return Err(problems_error(report, &file, more));
        }
    };
    if a.server.json {
        return emit(&format!(
            "{}\n",
            json!({"submission_id": submission_id, "region_code": region, "first_sequence": r.first_sequence,
                "last_sequence": r.last_sequence, "region_revision": r.region_revision, "duplicate": r.duplicate,
                "receipt_hash": r.receipt_hash, "observations": rows.len(), "recorded": r.recorded,
                "unchanged": r.unchanged, "skipped_rows": parsed.skipped, "dry_run": a.dry_run,
                "retracted_since": r.retracted_since.iter().map(|c| json!({"indicator_id": c.indicator_id, "year": c.year})).collect::<Vec<_>>(),
                "revised_since": r.revised_since.iter().map(|c| json!({"indicator_id": c.indicator_id, "year": c.year})).collect::<Vec<_>>()})
        ));
    }
    let names = match names {
        Some(names) => Some(names),
        None => Names::fetch(&ch, &a.server).await.ok(),
    };
    let title = names
        .as_ref()
        .map_or_else(|| region.clone(), |n| n.region_title(&region));
    let mut out = String::new();
    if a.dry_run {
        out.push_str("dry run: every check passed; nothing was written\n");
    }
    let would = if a.dry_run { " (would be)" } else { "" };
    out.push_str(&format!("submission     {submission_id}\n"));
    out.push_str(&format!("region         {title}\n"));
    out.push_str(&format!("observations   {}\n", rows.len()));
    out.push_str(&format!("recorded       {}{would}\n", r.recorded));
    out.push_str(&format!(
        "unchanged      {} (equal to the current value and status: not a revision)\n",
        r.unchanged
    ));
    if skipped > 0 {
        out.push_str(&format!(
            "skipped rows   {skipped} without a value (lines {})\n",
            parsed
                .skipped
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !a.dry_run {
        let sequences = if r.first_sequence == 0 {
            format!("none appended (the log is at {})", r.last_sequence)
        } else {
            format!("{}..{}", r.first_sequence, r.last_sequence)
        };
        out.push_str(&format!("sequences      {sequences}\n"));
    }
    out.push_str(&format!("region rev.    {}\n", r.region_revision));
    out.push_str(&format!("duplicate      {}\n", r.duplicate));
    if !a.dry_run {
        out.push_str(&format!("receipt hash   {}\n", r.receipt_hash));
    }
    let cells = |c: &[proto::CellKey]| {
        c.iter()
            .map(|c| format!("{} {}", c.indicator_id, c.year))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if r.duplicate {
        out.push_str(
            "\nThis file was accepted before (same submission id, same content): nothing new \
             was recorded.\n",
        );
        if !r.retracted_since.is_empty() {
            out.push_str(&format!(
                "{} of its values {} retracted since and {} not in the picture: {}.\n\
                 To record them again, submit with a new --submission-id.\n",
                r.retracted_since.len(),
                if r.retracted_since.len() == 1 {
                    "was"
                } else {
                    "were"
                },
                if r.retracted_since.len() == 1 {
                    "is"
                } else {
                    "are"
                },
                cells(&r.retracted_since)
            ));
        }
        if !r.revised_since.is_empty() {
            out.push_str(&format!(
                "{} of its values {} revised since by a later submission: {}.\n",
                r.revised_since.len(),
                if r.revised_since.len() == 1 {
                    "was"
                } else {
                    "were"
                },
                cells(&r.revised_since)
            ));
        }
    }
    emit(&out)
}

pub(crate) async fn template(a: TemplateArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let names = Names::fetch(&ch, &a.server).await?;
    let region = names.region(&a.region).ok_or_else(|| {
        anyhow!(
            "unknown region {:?}; `tilannekuva regions` lists the codes",
            a.region
        )
    })?;
    if let Some(t) = &a.theme {
        if crate::domain::Theme::parse(t).is_none() {
            bail!("unknown theme {t:?} (climate, communities, competence, inclusion, business)");
        }
    }
    let sep = if a.separator == "comma" { b',' } else { b';' };
    let mut w = csv::WriterBuilder::new()
        .delimiter(sep)
        .from_writer(Vec::new());
    w.write_record([
        "region_code",
        "indicator_id",
        "year",
        "value",
        "status",
        "source",
        "note",
        "correction_reason",
        "unit",
        "name",
    ])?;
    let year = a.year.map(|y| y.to_string()).unwrap_or_default();
    let mut written = 0;
    for i in names.indicators.values() {
        if a.theme.as_deref().is_some_and(|t| t != i.theme) {
            continue;
        }
        let name = if a.server.lang == "fi" {
            &i.name_fi
        } else {
            &i.name_en
        };
        w.write_record([
            region.code.as_str(),
            &i.id,
            &year,
            "",
            "",
            "",
            "",
            "",
            &i.unit,
            name,
        ])?;
        written += 1;
    }
    let mut bytes = Vec::new();
    if sep == b';' {
        // A spreadsheet reads a semicolon file as UTF-8 only with a byte order mark.
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    bytes.extend(w.into_inner().map_err(|e| anyhow!("{e}"))?);
    match &a.output {
        Some(p) => {
            std::fs::write(p, &bytes).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!(
                "wrote {} ({} indicators for {}): fill in year, value, status and source; rows \
                 left without a value are not submitted",
                p.display(),
                written,
                names.region_title(&region.code)
            );
            Ok(())
        }
        None => emit(&String::from_utf8_lossy(&bytes)),
    }
}

pub(crate) async fn promote(a: CatalogArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = proto::admin_service_client::AdminServiceClient::new(ch)
        .promote(authed(proto::PromoteRequest {}, &a.server.conn))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        return emit(&format!(
            "{}\n",
            json!({"sequence": r.sequence, "stream": r.stream})
        ));
    }
    emit(&format!(
        "{} is now the writer of the stream {}, from sequence {}\n",
        a.server.server,
        r.stream,
        r.sequence + 1
    ))
}

pub(crate) async fn regions(a: CatalogArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let names = Names::fetch(&ch, &a.server).await?;
    if a.server.json {
        let list: Vec<_> = names
            .regions
            .values()
            .map(|r| {
                json!({"code": r.code, "statfin_code": r.statfin_code, "name_fi": r.name_fi,
                "name_sv": r.name_sv, "name_en": r.name_en, "nuts3": r.nuts3,
                "first_year": r.first_year, "last_year": r.last_year})
            })
            .collect();
        return emit(&format!("{}\n", json!({ "regions": list })));
    }
    let mut t = Table::new(&[
        ("code", Align::Left),
        ("also", Align::Left),
        ("name (fi)", Align::Left),
        ("name (sv)", Align::Left),
        ("name (en)", Align::Left),
        ("NUTS 3", Align::Left),
        ("in force", Align::Left),
    ]);
    for r in names.regions.values() {
        let years = convert::region_from_proto(r).years().unwrap_or_default();
        t.row(vec![
            r.code.clone(),
            r.statfin_code.clone(),
            r.name_fi.clone(),
            r.name_sv.clone(),
            r.name_en.clone(),
            r.nuts3.clone(),
            years,
        ]);
    }
    emit(&format!(
        "{}\nUse the code (or Statistics Finland's number under \"also\") in files and commands; \
         SSS is the whole country. A region in force until a year takes no figure of a later \
         year.\n",
        t.render()
    ))
}

pub(crate) async fn indicators(a: IndicatorsArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let mut cat = CatalogServiceClient::new(ch.clone());
    let list = cat
        .list_indicators(authed(
            proto::ListIndicatorsRequest {
                theme: a.theme.clone(),
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner()
        .indicators;
    let direction = |d: i32| match proto::Direction::try_from(d) {
        Ok(proto::Direction::HigherIsBetter) => "higher is better",
        Ok(proto::Direction::LowerIsBetter) => "lower is better",
        _ => "neutral",
    };
    let rule = |i: &proto::Indicator| match proto::Aggregation::try_from(i.aggregation) {
        Ok(proto::Aggregation::Sum) => "sum".to_owned(),
        Ok(proto::Aggregation::WeightedMean) => format!("mean weighted by {}", i.weight_indicator),
        Ok(proto::Aggregation::Ratio) => format!(
            "{} / {} x {}",
            i.numerator_indicator, i.denominator_indicator, i.scale
        ),
        _ => "official (SSS) only".to_owned(),
    };
    let kind = |k: i32| match proto::IndicatorKind::try_from(k) {
        Ok(proto::IndicatorKind::Target) => "target",
        Ok(proto::IndicatorKind::Forecast) => "forecast",
        _ => "observed",
    };
    if a.server.json {
        let list: Vec<_> = list
            .iter()
            .map(|i| json!({"id": i.id, "theme": i.theme, "name_fi": i.name_fi, "name_en": i.name_en,
                "unit": i.unit, "decimals": i.decimals, "direction": direction(i.direction).replace(' ', "_"),
                "aggregation": rule(i), "min_year": i.min_year,
                "max_year": (i.max_year != 0).then_some(i.max_year), "kind": kind(i.kind)}))
            .collect();
        return emit(&format!("{}\n", json!({ "indicators": list })));
    }
    let mut t = Table::new(&[
        ("id", Align::Left),
        ("theme", Align::Left),
        ("unit", Align::Left),
        ("dec", Align::Right),
        ("direction", Align::Left),
        ("national value", Align::Left),
        ("years", Align::Left),
        ("name", Align::Left),
    ]);
    for i in &list {
        let years = match (i.max_year, kind(i.kind)) {
            (0, "observed") => format!("{}-now", i.min_year),
            (0, k) => format!("{}- ({k})", i.min_year),
            (y, "observed") => format!("{}-{y}", i.min_year),
            (y, k) => format!("{}-{y} ({k})", i.min_year),
        };
        t.row(vec![
            i.id.clone(),
            i.theme.clone(),
            i.unit.clone(),
            i.decimals.to_string(),
            direction(i.direction).into(),
            rule(i),
            years,
            if a.server.lang == "fi" {
                i.name_fi.clone()
            } else {
                i.name_en.clone()
            },
        ]);
    }
    emit(&format!(
        "{}\n{} indicators. Observed indicators take no year after the current one.\n",
        t.render(),
        list.len()
    ))
}

pub(crate) async fn retract(a: RetractArgs) -> anyhow::Result<()> {
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
                borders: a.borders,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        return emit(&format!(
            "{}\n",
            json!({"submission_id": submission_id, "sequence": r.sequence, "region_revision": r.region_revision,
                "duplicate": r.duplicate, "receipt_hash": r.receipt_hash})
        ));
    }
    emit(&format!(
        "retracted {} {} {} at sequence {} (region revision {}, duplicate {})\n",
        a.region, a.indicator, a.year, r.sequence, r.region_revision, r.duplicate
    ))
}

/// Where a cell's figure is: its borders, and for a derived one its municipalities.
fn on_borders(c: &proto::IndicatorCell) -> String {
    let d = c.borders.map_or_else(String::new, |d| d.to_string());
    if c.derived {
        format!(
            "{d} derived {}/{}",
            c.municipalities_used, c.municipalities_expected
        )
    } else {
        d
    }
}

pub(crate) async fn picture(a: PictureArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_region_picture(authed(
            proto::GetRegionPictureRequest {
                region_code: a.region.clone(),
                year: a.year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
                borders: a.borders.clone(),
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
                    "national": national_json(&c.national), "national_share": c.national_share,
                    "rank": c.rank, "regions_ranked": c.regions_ranked, "previous_value": c.previous_value, "change": c.change,
                    "groups": c.groups.iter().map(|g| json!({"group_id": g.group_id, "value": national_json(&g.value),
                        "difference": g.difference, "rank": g.rank, "regions_ranked": g.regions_ranked})).collect::<Vec<_>>(),
                    "borders": c.borders, "derived": c.derived, "municipalities_used": c.municipalities_used,
                    "municipalities_expected": c.municipalities_expected, "previous_borders": c.previous_borders,
                    "region_value": c.region_value})
            })
            .collect();
        let elsewhere: Vec<_> = r
            .elsewhere
            .iter()
            .map(|e| json!({"indicator_id": e.indicator_id, "borders": e.borders}))
            .collect();
        let themes: Vec<_> = r
            .themes
            .iter()
            .map(|t| json!({"theme": t.theme, "score": t.scored.then_some(t.score), "rank": t.rank,
                "indicators_reported": t.indicators_reported, "indicators_defined": t.indicators_defined}))
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"region_code": r.region_code, "year": r.year, "as_of_sequence": r.as_of_sequence,
                "borders": r.borders, "region_of": r.region_of, "municipality_codes": r.municipality_codes,
                "coverage_ratio": r.coverage_ratio, "cells": cells, "elsewhere": elsewhere, "themes": themes})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let defined: u32 = r.themes.iter().map(|t| t.indicators_defined).sum();
    let mut out = format!(
        "{}, {}{} (as of sequence {}): {} of {} indicators reported ({:.0} %)\n",
        names.region_title(&r.region_code),
        r.year,
        r.borders
            .map_or_else(String::new, |d| format!(" on the borders of {d}")),
        r.as_of_sequence,
        r.cells.len(),
        defined,
        r.coverage_ratio * 100.0
    );
    if !r.region_of.is_empty() {
        out.push_str(&format!("in {}\n", names.region_title(&r.region_of)));
    }
    if !r.municipality_codes.is_empty() {
        out.push_str(&format!(
            "{} municipalities: {}\n",
            r.municipality_codes.len(),
            r.municipality_codes.join(" ")
        ));
    }
    out.push('\n');
    let mut t = Table::new(&[
        ("indicator", Align::Left),
        ("name", Align::Left),
        ("unit", Align::Left),
        ("value", Align::Right),
        ("status", Align::Left),
        ("national", Align::Right),
        ("basis", Align::Left),
        ("vs national", Align::Right),
        ("rank", Align::Right),
        ("peer group", Align::Left),
        ("change", Align::Right),
        ("rev", Align::Right),
        ("on", Align::Left),
    ]);
    for c in &r.cells {
        let d = c.decimals;
        let (national, basis) =
            national_cells(&c.national, d, names.indicators.get(&c.indicator_id));
        // The server gives a share for a sum of a quantity, a difference for the others.
        let versus = match (c.national_share, c.national_difference) {
            (Some(share), _) => format!("{} %", number(share, 1)),
            (None, Some(diff)) => signed(diff, d),
            _ => NOT_AVAILABLE.into(),
        };
        t.row(vec![
            c.indicator_id.clone(),
            names.indicator_name(&c.indicator_id),
            c.unit.clone(),
            number(c.value, d),
            status_name(c.status).into(),
            national,
            basis,
            versus,
            rank_cell(c.rank, c.regions_ranked, names.neutral(&c.indicator_id)),
            c.groups
                .iter()
                .map(|g| {
                    let (value, _) = national_cells(&g.value, d, None);
                    let rank = rank_cell(g.rank, g.regions_ranked, names.neutral(&c.indicator_id));
                    format!("{} {value} (rank {rank})", g.group_id)
                })
                .collect::<Vec<_>>()
                .join("; "),
            match (c.change, c.previous_borders.first()) {
                (Some(v), _) => signed(v, d),
                (None, Some(b)) => format!("break ({b})"),
                (None, None) => NOT_AVAILABLE.into(),
            },
            c.revisions.to_string(),
            on_borders(c),
        ]);
    }
    if t.is_empty() {
        out.push_str("(no values for this year)\n");
    } else {
        out.push_str(&t.render());
    }
    for c in r.cells.iter().filter(|c| c.region_value.is_some()) {
        out.push_str(&format!(
            "{} in {}: {}\n",
            c.indicator_id,
            names.region_title(&r.region_of),
            c.region_value
                .map_or_else(String::new, |v| number(v, c.decimals))
        ));
    }
    for e in &r.elsewhere {
        let on: Vec<String> = e.borders.iter().map(ToString::to_string).collect();
        out.push_str(&format!(
            "{}: no figure on these borders; on the borders of {}\n",
            e.indicator_id,
            on.join(", ")
        ));
    }
    let mut themes = Table::new(&[
        ("theme", Align::Left),
        ("score", Align::Right),
        ("rank", Align::Right),
        ("from", Align::Right),
        ("reported", Align::Right),
    ]);
    let regions = names.regions.len().saturating_sub(1);
    for th in &r.themes {
        themes.row(vec![
            th.theme.clone(),
            if th.scored {
                format!("{:+.3}", th.score)
            } else {
                NOT_AVAILABLE.into()
            },
            if th.rank > 0 {
                format!("{}/{regions}", th.rank)
            } else {
                NOT_AVAILABLE.into()
            },
            th.indicators_scored.to_string(),
            format!("{}/{}", th.indicators_reported, th.indicators_defined),
        ]);
    }
    out.push('\n');
    out.push_str(&themes.render());
    out.push('\n');
    out.push_str(NATIONAL_LEGEND);
    out.push_str(
        "vs national: for a sum of a quantity (a count, an amount), the region's share of the
  national value; for other indicators the difference to it (a net flow has neither). rank: 1 = best by the indicator's direction, ties share the
  best rank; neutral = neither direction is better, so not ranked. change: from the year before.
on: the borders the figure is on; derived = put together from the figures of the municipalities
  (used/expected) on those borders. change: only ever on the same borders; break (year) = the year
  before has a figure only on borders that give the area other land, so no change is shown.
peer group: the value of each group the region belongs to, by the indicator's own rule over the
  members (the national value's completeness rules), and the region's rank within the group.
theme score: the mean of the region's z-scores over the theme's indicators that compare regions
  (rates, shares, amounts per head: not counts, which mostly measure size) with a direction and at
  least 3 regions reporting (+ = better than the average region); from = how many indicators it
  rests on; .. = no score this year.
",
    );
    emit(&out)
}

pub(crate) async fn national(a: NationalArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_national_picture(authed(
            proto::GetNationalPictureRequest {
                year: a.year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
                borders: a.borders.clone(),
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
                "regions_expected": i.regions_expected, "national": national_json(&i.national),
                "min": i.min, "median": i.median, "max": i.max,
                "best_region": i.best_region, "worst_region": i.worst_region}))
            .collect();
        let themes: Vec<_> = r
            .themes
            .iter()
            .map(|t| json!({"theme": t.theme, "regions": t.regions.iter().map(|s| json!({"region_code": s.region_code, "score": s.score, "rank": s.rank})).collect::<Vec<_>>()}))
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"year": r.year, "as_of_sequence": r.as_of_sequence, "borders": r.borders, "indicators": inds, "themes": themes})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let mut out = format!(
        "Whole country, {}{} (as of sequence {}): {} of {} indicators have values\n\n",
        r.year,
        r.borders
            .map_or_else(String::new, |d| format!(", regions on the borders of {d}")),
        r.as_of_sequence,
        reported.len(),
        r.indicators.len()
    );
    let mut t = Table::new(&[
        ("indicator", Align::Left),
        ("name", Align::Left),
        ("unit", Align::Left),
        ("national", Align::Right),
        ("basis", Align::Left),
        ("regions", Align::Right),
        ("min", Align::Right),
        ("median", Align::Right),
        ("max", Align::Right),
        ("best", Align::Left),
        ("worst", Align::Left),
    ]);
    for i in &reported {
        let d = i.decimals;
        let (national, basis) =
            national_cells(&i.national, d, names.indicators.get(&i.indicator_id));
        let name = |code: &str| {
            if code.is_empty() {
                NOT_AVAILABLE.to_owned()
            } else {
                names.area_name(code)
            }
        };
        let neutral = names.neutral(&i.indicator_id);
        t.row(vec![
            i.indicator_id.clone(),
            names.indicator_name(&i.indicator_id),
            i.unit.clone(),
            national,
            basis,
            format!("{}/{}", i.regions_reported, i.regions_expected),
            opt_number(i.min, d),
            opt_number(i.median, d),
            opt_number(i.max, d),
            if neutral {
                "neutral".into()
            } else {
                name(&i.best_region)
            },
            if neutral {
                "neutral".into()
            } else {
                name(&i.worst_region)
            },
        ]);
    }
    out.push_str(&t.render());
    for th in &r.themes {
        if th.regions.is_empty() {
            continue;
        }
        let ranking: Vec<String> = th
            .regions
            .iter()
            .map(|s| {
                format!(
                    "{}. {} ({:+.2})",
                    s.rank,
                    names.area_name(&s.region_code),
                    s.score
                )
            })
            .collect();
        out.push_str(&format!("\n{}: {}\n", th.theme, ranking.join(", ")));
    }
    out.push('\n');
    out.push_str(NATIONAL_LEGEND);
    out.push_str(
        "regions: regions with a value of the indicator, of those expected. best, worst: by the
  indicator's direction; neutral = neither direction is better.
",
    );
    emit(&out)
}

pub(crate) async fn series(a: SeriesArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_series(authed(
            proto::GetSeriesRequest {
                region_code: a.region.clone(),
                indicator_id: a.indicator.clone(),
                from_year: a.from_year,
                to_year: a.to_year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
                borders: a.borders.clone(),
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
            .map(|p| json!({"year": p.year, "value": p.value, "status": status_name(p.status),
                "national_value": p.national_value, "national": national_json(&p.national), "rank": p.rank}))
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"region_code": a.region, "indicator_id": a.indicator, "as_of_sequence": r.as_of_sequence, "points": points})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let d = names.decimals(&a.indicator);
    let mut out = format!(
        "{}, {}, as of sequence {}\n\n",
        names.region_title(&a.region),
        names.indicator_title(&a.indicator),
        r.as_of_sequence
    );
    let mut t = Table::new(&[
        ("year", Align::Left),
        ("value", Align::Right),
        ("status", Align::Left),
        ("national", Align::Right),
        ("basis", Align::Left),
        ("rank", Align::Right),
    ]);
    let neutral = names.neutral(&a.indicator);
    for p in &r.points {
        let (national, basis) = national_cells(&p.national, d, names.indicators.get(&a.indicator));
        t.row(vec![
            p.year.to_string(),
            number(p.value, d),
            status_name(p.status).into(),
            national,
            basis,
            rank_cell(p.rank, p.regions_ranked, neutral),
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    out.push_str(NATIONAL_LEGEND);
    emit(&out)
}

pub(crate) async fn history(a: HistoryArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_observation_history(authed(
            proto::GetObservationHistoryRequest {
                region_code: a.region.clone(),
                indicator_id: a.indicator.clone(),
                year: a.year,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
                borders: a.borders,
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
        return emit(&format!(
            "{}\n",
            json!({"region_code": a.region, "indicator_id": a.indicator, "year": a.year, "as_of_sequence": r.as_of_sequence, "revisions": revs})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let d = names.decimals(&a.indicator);
    let mut out = format!(
        "{}, {} {}, as of sequence {}\n",
        names.region_title(&a.region),
        names.indicator_title(&a.indicator),
        a.year,
        r.as_of_sequence
    );
    for v in &r.revisions {
        if v.retracted {
            out.push_str(&format!(
                "#{:<8} {}  RETRACTED by {} ({}): {}\n",
                v.sequence,
                local(&v.recorded_at),
                printable(&v.principal),
                printable(&v.submission_id),
                printable(&v.retraction_reason)
            ));
            continue;
        }
        out.push_str(&format!(
            "#{:<8} {}  {} {}{}  by {} ({})\n",
            v.sequence,
            local(&v.recorded_at),
            number(v.value, d),
            status_name(v.status),
            v.borders
                .map_or_else(String::new, |b| format!(" on the borders of {b}")),
            printable(&v.principal),
            printable(&v.submission_id)
        ));
        // What others wrote is shown with its control characters written out: stored text
        // never rewrites the terminal.
        out.push_str(&format!("          source: {}\n", printable(&v.source)));
        if !v.note.is_empty() {
            out.push_str(&format!("          note: {}\n", printable(&v.note)));
        }
        if !v.correction_reason.is_empty() {
            out.push_str(&format!(
                "          correction: {}\n",
                printable(&v.correction_reason)
            ));
        }
    }
    if r.revisions.is_empty() {
        out.push_str("(no value was ever recorded for this cell)\n");
    }
    emit(&out)
}

/// One line of an NDJSON export: an event with hex hashes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ExportEvent {
    pub(crate) sequence: u64,
    pub(crate) recorded_at_micros: i64,
    /// For people; ignored on import.
    #[serde(default)]
    pub(crate) recorded_at: String,
    pub(crate) region_code: String,
    pub(crate) region_revision: u64,
    pub(crate) principal: String,
    pub(crate) submission_id: String,
    pub(crate) payload: Payload,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl ExportEvent {
    pub(crate) fn from_event(e: &Event) -> ExportEvent {
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

    pub(crate) fn into_event(self) -> Result<Event, String> {
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
pub(crate) fn export_json_line(e: &Event) -> String {
    // Plain data always serialises.
    serde_json::to_string(&ExportEvent::from_event(e)).expect("events serialise")
}

pub(crate) async fn export(a: ExportArgs) -> anyhow::Result<()> {
    if let Some(dir) = &a.data_dir {
        return super::offline::export_cmd(dir, a.from_sequence, a.output.as_deref());
    }
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
    // A closed pipe (`| head`) ends the export quietly (see `cli::run`).
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
