//! The network's commands: peer groups (`groups`, `group`, `define-group`) and reporting
//! rounds (`round open`, `round status`).

use anyhow::{bail, Context};
use serde_json::json;

use super::client::{
    as_of, authed, channel, describe, local, national_cells, national_json, rank_cell, status_name,
    ts, Names, NATIONAL_LEGEND,
};
use super::output::{emit, number, Align, Table, NOT_AVAILABLE};
use super::{CatalogArgs, DefineGroupArgs, GroupArgs, RoundOpenArgs, RoundStatusArgs};
use crate::api::convert;
use crate::proto;
use crate::proto::catalog_service_client::CatalogServiceClient;
use crate::proto::picture_service_client::PictureServiceClient;
use crate::proto::round_service_client::RoundServiceClient;

fn group_json(g: &proto::RegionGroup) -> serde_json::Value {
    json!({"id": g.id, "name_fi": g.name_fi, "name_sv": g.name_sv, "name_en": g.name_en,
        "members": g.members, "source": g.source})
}

pub(crate) async fn groups(a: CatalogArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let groups = CatalogServiceClient::new(ch)
        .list_groups(authed(proto::ListGroupsRequest {}, &a.server.conn))
        .await
        .map_err(describe)?
        .into_inner()
        .groups;
    if a.server.json {
        let list: Vec<_> = groups.iter().map(group_json).collect();
        return emit(&format!("{}\n", json!({ "groups": list })));
    }
    let mut t = Table::new(&[
        ("id", Align::Left),
        ("name", Align::Left),
        ("members", Align::Left),
    ]);
    for g in &groups {
        let name = match a.server.lang.as_str() {
            "fi" => &g.name_fi,
            "sv" => &g.name_sv,
            _ => &g.name_en,
        };
        t.row(vec![g.id.clone(), name.clone(), g.members.join(" ")]);
    }
    let mut out = t.render();
    out.push_str("\nSources:\n");
    for g in &groups {
        out.push_str(&format!("  {}: {}\n", g.id, g.source));
    }
    emit(&out)
}

pub(crate) async fn group(a: GroupArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_group_picture(authed(
            proto::GetGroupPictureRequest {
                group_id: a.group.clone(),
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
    let group = r.group.clone().unwrap_or_default();
    if a.server.json {
        let indicators: Vec<_> = r
            .indicators
            .iter()
            .map(|i| {
                let members: Vec<_> = i
                    .members
                    .iter()
                    .map(|m| {
                        json!({"region_code": m.region_code, "value": m.value,
                        "status": m.value.map(|_| status_name(m.status)), "source": m.source,
                        "revisions": m.revisions, "sequence": m.sequence, "rank": m.rank})
                    })
                    .collect();
                json!({"indicator_id": i.indicator_id, "theme": i.theme, "unit": i.unit,
                    "group": national_json(&i.group), "national": national_json(&i.national),
                    "regions_ranked": i.regions_ranked, "members": members})
            })
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"group": group_json(&group), "year": r.year, "as_of_sequence": r.as_of_sequence,
                "indicators": indicators})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let mut out = format!(
        "{} {} ({}), {} (as of sequence {})\nmembers: {}\n\n",
        group.id,
        group.name_en,
        group.name_fi,
        r.year,
        r.as_of_sequence,
        group
            .members
            .iter()
            .map(|m| names.region_title(m))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut headers: Vec<(&'static str, Align)> = vec![
        ("indicator", Align::Left),
        ("name", Align::Left),
        ("unit", Align::Left),
        ("group", Align::Right),
        ("basis", Align::Left),
        ("national", Align::Right),
    ];
    // Members by code, side by side (a table column needs a static header: the codes are
    // in the lines above the table).
    let member_headers: Vec<&'static str> = group
        .members
        .iter()
        .map(|m| &*Box::leak(m.clone().into_boxed_str()))
        .collect();
    for m in &member_headers {
        headers.push((m, Align::Right));
    }
    let mut t = Table::new(&headers);
    for i in r
        .indicators
        .iter()
        .filter(|i| i.members.iter().any(|m| m.value.is_some()))
    {
        let d = i.decimals;
        let (gv, basis) = national_cells(&i.group, d, names_indicator(&names, &i.indicator_id));
        let (nv, _) = national_cells(&i.national, d, None);
        let mut row = vec![
            i.indicator_id.clone(),
            names.indicator_name(&i.indicator_id),
            i.unit.clone(),
            gv,
            basis,
            nv,
        ];
        for m in &i.members {
            row.push(match m.value {
                Some(v) if i.regions_ranked > 0 => format!(
                    "{} ({})",
                    number(v, d),
                    rank_cell(m.rank, i.regions_ranked, names.neutral(&i.indicator_id))
                ),
                Some(v) => number(v, d),
                None => NOT_AVAILABLE.into(),
            });
        }
        t.row(row);
    }
    if t.is_empty() {
        out.push_str("(no member has values for this year)\n");
    } else {
        out.push_str(&t.render());
    }
    out.push('\n');
    out.push_str(&NATIONAL_LEGEND.replace("national:", "group and national:"));
    out.push_str(
        "group: the indicator's rule over the members that reported (n/n members); a member's \
         (k/n) is its rank within the group.\n",
    );
    out.push_str(&format!("source of the grouping: {}\n", group.source));
    emit(&out)
}

fn names_indicator<'a>(names: &'a Names, id: &str) -> Option<&'a proto::Indicator> {
    names.indicators.get(id)
}

pub(crate) async fn define_group(a: DefineGroupArgs) -> anyhow::Result<()> {
    let (text, name) = match &a.file {
        Some(f) => (
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
            f.display().to_string(),
        ),
        None => (
            crate::domain::catalog::BUNDLED_GROUPS.to_owned(),
            "the bundled group file".to_owned(),
        ),
    };
    let groups = crate::domain::catalog::parse_group_file(&text)
        .with_context(|| format!("{name} is not a group file"))?;
    if groups.is_empty() {
        bail!("{name} defines no group");
    }
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let mut client = CatalogServiceClient::new(ch);
    let mut results = Vec::new();
    for g in &groups {
        // A fresh id every run: a definition the group has already is answered unchanged
        // (so a rerun, or a retry after a lost answer, records nothing), while going back
        // to an earlier definition is recorded (an id derived from the content would find
        // that earlier definition's receipt and record nothing).
        let id = format!("group-{}-{}", g.id, run_id());
        let r = client
            .define_group(authed(
                proto::DefineGroupRequest {
                    group: Some(convert::group_to_proto(g)),
                    submission_id: id,
                },
                &a.server.conn,
            ))
            .await
            .map_err(describe)
            .with_context(|| format!("group {}", g.id))?
            .into_inner();
        let outcome = match (r.duplicate, r.unchanged) {
            (true, _) => "duplicate",
            (_, true) => "unchanged",
            _ => "defined",
        };
        results.push((g.id.clone(), r.sequence, outcome));
    }
    if a.server.json {
        let list: Vec<_> = results
            .iter()
            .map(|(id, s, o)| json!({"id": id, "sequence": s, "outcome": o}))
            .collect();
        return emit(&format!("{}\n", json!({ "groups": list })));
    }
    let mut out = String::new();
    for (id, seq, outcome) in results {
        out.push_str(&match outcome {
            "defined" => format!("{id}: defined at sequence {seq}\n"),
            "duplicate" => format!("{id}: this definition was recorded before (sequence {seq})\n"),
            _ => format!("{id}: already defined so; nothing recorded\n"),
        });
    }
    emit(&out)
}

/// A submission id part unique to this run of a command: the time in nanoseconds.
pub(super) fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}")
}

pub(crate) async fn round_open(a: RoundOpenArgs) -> anyhow::Result<()> {
    let deadline = crate::domain::text::instant(&a.deadline, crate::domain::text::Day::End)
        .map_err(|why| anyhow::anyhow!("--deadline {why}"))?;
    let ch = channel(&a.server.server, &a.server.conn).await?;

    let r = RoundServiceClient::new(ch)
        .open_round(authed(
            proto::OpenRoundRequest {
                year: a.year,
                deadline: Some(convert::timestamp(deadline)),
                allow_past_deadline: a.allow_past,
                indicator_ids: a.indicator.clone(),
                region_codes: a.region.clone(),
                submission_id: a
                    .submission_id
                    .clone()
                    // Fresh, as for groups: the same terms again are answered unchanged.
                    .unwrap_or_else(|| format!("round-{}-{}", a.year, run_id())),
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    let round = r.round.unwrap_or_default();
    if a.server.json {
        return emit(&format!(
            "{}\n",
            json!({"sequence": r.sequence, "duplicate": r.duplicate, "unchanged": r.unchanged, "year": round.year,
                "deadline": ts(&round.deadline), "indicator_ids": round.indicator_ids,
                "region_codes": round.region_codes})
        ));
    }
    let what = if r.duplicate || r.unchanged {
        "was already open with these terms, so nothing was recorded (opened at sequence"
    } else {
        "is open (recorded at sequence"
    };
    let mut out = format!(
        "The reporting round {} {what} {}): {} indicators are expected of {} regions by {}.\n",
        round.year,
        r.sequence,
        round.indicator_ids.len(),
        round.region_codes.len(),
        local(&round.deadline)
    );
    if r.deadline_passed {
        out.push_str(
            "The deadline has already passed: every region that has not reported is overdue.\n",
        );
    }
    emit(&out)
}

pub(crate) async fn round_status(a: RoundStatusArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = RoundServiceClient::new(ch.clone())
        .get_round_status(authed(
            proto::GetRoundStatusRequest {
                year: a.year,
                region_code: a.region.clone().unwrap_or_default(),
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    let round = r.round.clone().unwrap_or_default();
    if a.server.json {
        let regions: Vec<_> = r
            .regions
            .iter()
            .map(|s| {
                json!({"region_code": s.region_code, "expected": s.expected,
                "reported": s.reported, "missing": s.missing, "overdue": s.overdue})
            })
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"year": round.year, "deadline": ts(&round.deadline), "at": ts(&r.at),
                "deadline_passed": r.deadline_passed, "opened_sequence": r.opened_sequence,
                "as_of_sequence": r.as_of_sequence, "regions": regions})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let overdue = r.regions.iter().filter(|s| s.overdue).count();
    let complete = r.regions.iter().filter(|s| s.missing.is_empty()).count();
    let mut out = format!(
        "The reporting round {}: due {} ({}).\n{} indicators expected of {} regions: \
         {complete} complete, {overdue} overdue.\nAs of sequence {}, {}.\n\n",
        round.year,
        local(&round.deadline),
        if r.deadline_passed {
            "passed"
        } else {
            "not yet passed"
        },
        round.indicator_ids.len(),
        r.regions.len(),
        r.as_of_sequence,
        local(&r.at)
    );
    // One line a region, at most 100 columns: the missing indicators themselves follow
    // the table only for one region or with --verbose (a default round expects dozens).
    let mut t = Table::new(&[
        ("region", Align::Left),
        ("reported", Align::Right),
        ("missing", Align::Right),
        ("", Align::Left),
    ]);
    for s in &r.regions {
        t.row(vec![
            names.region_title(&s.region_code),
            format!("{} of {}", s.reported.len(), s.expected),
            s.missing.len().to_string(),
            if s.overdue {
                "OVERDUE".into()
            } else if s.missing.is_empty() {
                "complete".into()
            } else {
                String::new()
            },
        ]);
    }
    out.push_str(&t.render());
    if a.region.is_some() || a.verbose {
        for s in r.regions.iter().filter(|s| !s.missing.is_empty()) {
            out.push_str(&format!(
                "\nMissing for {}:\n{}",
                names.region_title(&s.region_code),
                wrapped(&s.missing, 100)
            ));
        }
    } else if complete < r.regions.len() {
        out.push_str(
            "\nThe missing indicators of a region: --region CODE (or --verbose for every region).\n",
        );
    }
    emit(&out)
}

/// `words` separated by spaces, indented two, in lines of at most `width` columns.
fn wrapped(words: &[String], width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from(" ");
    for w in words {
        if line.len() > 1 && line.len() + 1 + w.len() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(w);
    }
    if line.len() > 1 {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
