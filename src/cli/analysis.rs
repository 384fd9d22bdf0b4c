//! What the network uses the picture for: `disparities`, `targets`, `set-target`,
//! `similar` and `forerunners` (docs/analysis.md has the rules).

use anyhow::{bail, Context};
use serde_json::json;

use super::client::{as_of, authed, channel, describe, Names};
use super::network::run_id;
use super::output::{emit, number, opt_number, signed, Align, Table, NOT_AVAILABLE};
use super::{DisparitiesArgs, ForerunnersArgs, SetTargetArgs, SimilarArgs, TargetsArgs};
use crate::proto;
use crate::proto::catalog_service_client::CatalogServiceClient;
use crate::proto::picture_service_client::PictureServiceClient;

/// A measure's cell: the figure, or `..` (its reason is listed below the table).
fn cell(m: &Option<proto::Measure>, decimals: u32) -> String {
    match m.as_ref().and_then(|m| m.value) {
        Some(v) => number(v, decimals),
        None => NOT_AVAILABLE.into(),
    }
}

/// A measure for JSON: its value, or null with the reason.
fn measure_json(m: &Option<proto::Measure>) -> serde_json::Value {
    match m {
        Some(m) if m.value.is_some() => json!(m.value),
        Some(m) => json!({"value": null, "why_not": m.why_not}),
        None => serde_json::Value::Null,
    }
}

/// Each distinct reason a measure is missing, once, with the measures it holds for.
fn reasons(missing: &[(&'static str, &Option<proto::Measure>)]) -> String {
    let mut seen: Vec<(String, Vec<&str>)> = Vec::new();
    for (name, m) in missing {
        let Some(m) = m.as_ref().filter(|m| m.value.is_none()) else {
            continue;
        };
        match seen.iter_mut().find(|(w, _)| *w == m.why_not) {
            Some((_, names)) if !names.contains(name) => names.push(name),
            Some(_) => {}
            None => seen.push((m.why_not.clone(), vec![name])),
        }
    }
    seen.iter()
        .map(|(why, names)| format!("  {}: {why}\n", names.join(", ")))
        .collect()
}

pub(crate) async fn disparities(a: DisparitiesArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_disparities(authed(
            proto::GetDisparitiesRequest {
                indicator_id: a.indicator.clone(),
                from_year: a.from,
                to_year: a.to.unwrap_or(0),
                level: a.level.clone(),
                borders: a.borders.clone(),
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let years: Vec<_> = r
            .years
            .iter()
            .map(|y| {
                json!({"year": y.year, "areas": y.areas, "areas_expected": y.areas_expected,
                "areas_with_population": y.areas_with_population, "min": y.min, "max": y.max,
                "range": measure_json(&y.range), "max_min_ratio": measure_json(&y.max_min_ratio),
                "cv": measure_json(&y.cv), "cv_weighted": measure_json(&y.cv_weighted),
                "gini": measure_json(&y.gini),
                "top_bottom_ratio": measure_json(&y.top_bottom_ratio)})
            })
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"indicator_id": r.indicator_id, "level": r.level, "borders": r.borders,
                "unit": r.unit, "as_of_sequence": r.as_of_sequence, "years": years,
                "sigma_slope": measure_json(&r.sigma_slope),
                "beta_slope": measure_json(&r.beta_slope), "beta_areas": r.beta_areas})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let d = names.decimals(&r.indicator_id);
    let mut out = format!(
        "{}: disparities between {}s on the borders of {} (as of sequence {})\n\n",
        names.indicator_title(&r.indicator_id),
        r.level.replace('_', "-"),
        r.borders,
        r.as_of_sequence
    );
    let mut t = Table::new(&[
        ("year", Align::Left),
        ("areas", Align::Right),
        ("min", Align::Right),
        ("max", Align::Right),
        ("range", Align::Right),
        ("max/min", Align::Right),
        ("CV", Align::Right),
        ("CVw", Align::Right),
        ("Gini", Align::Right),
        ("top/bottom 20%", Align::Right),
    ]);
    let mut missing = Vec::new();
    for y in &r.years {
        t.row(vec![
            y.year.to_string(),
            format!("{}/{}", y.areas, y.areas_expected),
            opt_number(y.min, d),
            opt_number(y.max, d),
            cell(&y.range, d),
            cell(&y.max_min_ratio, 2),
            cell(&y.cv, 3),
            cell(&y.cv_weighted, 3),
            cell(&y.gini, 3),
            cell(&y.top_bottom_ratio, 2),
        ]);
        missing.extend([
            ("range", &y.range),
            ("max/min", &y.max_min_ratio),
            ("CV", &y.cv),
            ("CVw", &y.cv_weighted),
            ("Gini", &y.gini),
            ("top/bottom 20%", &y.top_bottom_ratio),
        ]);
    }
    out.push_str(&t.render());
    let years = r.years.len();
    if years > 1 {
        let sigma = match r.sigma_slope.as_ref().and_then(|m| m.value) {
            Some(s) if s < 0.0 => format!("{} a year: narrowing", signed(s, 4)),
            Some(s) => format!("{} a year: not narrowing", signed(s, 4)),
            None => NOT_AVAILABLE.into(),
        };
        let beta = match r.beta_slope.as_ref().and_then(|m| m.value) {
            Some(b) if b < 0.0 => format!(
                "{} over {} areas: lower levels grew faster (converging)",
                signed(b, 4),
                r.beta_areas
            ),
            Some(b) => format!(
                "{} over {} areas: not converging",
                signed(b, 4),
                r.beta_areas
            ),
            None => NOT_AVAILABLE.into(),
        };
        out.push_str(&format!(
            "\nsigma-convergence (CV's trend): {sigma}\nbeta-convergence (growth on level): {beta}\n"
        ));
        missing.extend([("sigma", &r.sigma_slope), ("beta", &r.beta_slope)]);
    }
    let why = reasons(&missing);
    if !why.is_empty() {
        out.push_str(&format!("\nNot computed ({NOT_AVAILABLE}):\n{why}"));
    }
    emit(&out)
}

pub(crate) async fn targets(a: TargetsArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_targets(authed(
            proto::GetTargetsRequest {
                area_code: a.area.clone().unwrap_or_default(),
                indicator_id: a.indicator.clone().unwrap_or_default(),
                borders: a.borders.clone(),
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let list: Vec<_> = r
            .targets
            .iter()
            .map(|p| {
                let t = p.target.clone().unwrap_or_default();
                json!({"area_code": t.area_code, "indicator_id": t.indicator_id, "year": t.year,
                "value": t.value, "source": t.source, "note": t.note, "unit": p.unit,
                "latest_year": p.latest_year, "latest_value": p.latest_value, "gap": p.gap,
                "needed_pace": measure_json(&p.needed_pace),
                "recent_pace": measure_json(&p.recent_pace), "status": p.status,
                "reason": p.reason, "borders": p.borders})
            })
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"as_of_sequence": r.as_of_sequence, "targets": list})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let mut out = format!("Targets (as of sequence {})\n\n", r.as_of_sequence);
    let mut t = Table::new(&[
        ("area", Align::Left),
        ("indicator", Align::Left),
        ("by", Align::Left),
        ("target", Align::Right),
        ("latest", Align::Right),
        ("gap", Align::Right),
        ("needed/yr", Align::Right),
        ("last 5 yrs/yr", Align::Right),
        ("status", Align::Left),
    ]);
    for p in &r.targets {
        let tg = p.target.clone().unwrap_or_default();
        let d = p.decimals;
        let latest = match (p.latest_year, p.latest_value) {
            (Some(y), Some(v)) => format!("{} ({y})", number(v, d)),
            _ => NOT_AVAILABLE.into(),
        };
        t.row(vec![
            tg.area_code.clone(),
            names.indicator_name(&tg.indicator_id),
            tg.year.to_string(),
            number(tg.value, d),
            latest,
            p.gap.map_or(NOT_AVAILABLE.into(), |g| signed(g, d)),
            cell(&p.needed_pace, d + 2),
            cell(&p.recent_pace, d + 2),
            p.status.replace('_', " "),
        ]);
    }
    out.push_str(&t.render());
    out.push_str("\nWhy, and sources:\n");
    for p in &r.targets {
        let tg = p.target.clone().unwrap_or_default();
        out.push_str(&format!(
            "  {} {} {}: {}.\n    source: {}\n",
            tg.area_code, tg.indicator_id, tg.year, p.reason, tg.source
        ));
        if !tg.note.is_empty() {
            out.push_str(&format!("    note: {}\n", tg.note));
        }
    }
    emit(&out)
}

pub(crate) async fn set_target(a: SetTargetArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let target = proto::Target {
        area_code: a.area.clone(),
        indicator_id: a.indicator.clone(),
        year: a.year,
        value: a.value,
        source: a.source.clone(),
        note: a.note.clone(),
    };
    let id = a
        .submission_id
        .clone()
        .unwrap_or_else(|| format!("target-{}-{}-{}-{}", a.area, a.indicator, a.year, run_id()));
    let r = CatalogServiceClient::new(ch)
        .set_target(authed(
            proto::SetTargetRequest {
                submission_id: id,
                target: Some(target),
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)
        .with_context(|| format!("target {} {} {}", a.area, a.indicator, a.year))?
        .into_inner();
    let outcome = match (r.duplicate, r.unchanged) {
        (true, _) => "duplicate",
        (_, true) => "unchanged",
        _ => "set",
    };
    if a.server.json {
        return emit(&format!(
            "{}\n",
            json!({"outcome": outcome, "sequence": r.sequence})
        ));
    }
    emit(&format!(
        "target {} {} {} = {}: {outcome} (sequence {})\n",
        a.area, a.indicator, a.year, a.value, r.sequence
    ))
}

/// `id` or `id:weight`.
fn weighted(s: &str) -> anyhow::Result<proto::SimilarityIndicator> {
    let (id, weight) = match s.split_once(':') {
        // 0 would be "not given" (a weight of 1) over gRPC: refused here.
        Some((id, w)) => match w.trim().parse::<f64>() {
            Ok(w) if w > 0.0 && w.is_finite() => (id, w),
            _ => bail!("--indicator {s:?}: the weight after ':' must be a positive number"),
        },
        None => (s, 1.0),
    };
    Ok(proto::SimilarityIndicator {
        indicator_id: id.trim().to_owned(),
        weight,
    })
}

pub(crate) async fn similar(a: SimilarArgs) -> anyhow::Result<()> {
    let indicators = a
        .indicator
        .iter()
        .map(|s| weighted(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_similar_areas(authed(
            proto::GetSimilarAreasRequest {
                region_code: a.region.clone(),
                year: a.year,
                indicators,
                k: a.k,
                borders: a.borders.clone(),
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let similar: Vec<_> = r
            .similar
            .iter()
            .map(|s| {
                let closest: Vec<_> = s
                    .closest
                    .iter()
                    .map(|c| json!({"indicator_id": c.indicator_id, "difference": c.difference}))
                    .collect();
                json!({"region_code": s.region_code, "distance": s.distance,
                "indicators_shared": s.indicators_shared, "closest": closest})
            })
            .collect();
        let on: Vec<_> = r
            .indicators
            .iter()
            .map(|i| json!({"indicator_id": i.indicator_id, "weight": i.weight}))
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"region_code": r.region_code, "year": r.year, "borders": r.borders,
                "as_of_sequence": r.as_of_sequence, "indicators": on,
                "indicators_of_area": r.indicators_of_area, "areas_compared": r.areas_compared,
                "areas_too_little_shared": r.areas_too_little_shared, "similar": similar})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let mut out = format!(
        "Areas most similar to {} in {} on the borders of {} (as of sequence {})\ncompared on \
         {} indicators ({} of them reported for it); {} areas compared, {} left out for \
         sharing under half of them\n\n",
        names.region_title(&r.region_code),
        r.year,
        r.borders,
        r.as_of_sequence,
        r.indicators.len(),
        r.indicators_of_area,
        r.areas_compared,
        r.areas_too_little_shared
    );
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("area", Align::Left),
        ("distance", Align::Right),
        ("shared", Align::Right),
        ("closest on", Align::Left),
    ]);
    for (i, s) in r.similar.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            names.region_title(&s.region_code),
            number(s.distance, 3),
            s.indicators_shared.to_string(),
            s.closest
                .iter()
                .map(|c| c.indicator_id.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    out.push_str(&t.render());
    emit(&out)
}

pub(crate) async fn forerunners(a: ForerunnersArgs) -> anyhow::Result<()> {
    let ch = channel(&a.server.server, &a.server.conn).await?;
    let r = PictureServiceClient::new(ch.clone())
        .get_forerunners(authed(
            proto::GetForerunnersRequest {
                indicator_id: a.indicator.clone(),
                from_year: a.from,
                to_year: a.to,
                level: a.level.clone(),
                borders: a.borders.clone(),
                limit: a.limit,
                as_of: as_of(&a.as_of)?,
                min_sequence: 0,
            },
            &a.server.conn,
        ))
        .await
        .map_err(describe)?
        .into_inner();
    if a.server.json {
        let ranked: Vec<_> = r
            .forerunners
            .iter()
            .map(|f| {
                json!({"rank": f.rank, "region_code": f.region_code, "from_value": f.from_value,
                "to_value": f.to_value, "change": f.change, "improvement": f.improvement})
            })
            .collect();
        let left: Vec<_> = r
            .left_out
            .iter()
            .map(|l| json!({"region_code": l.region_code, "reason": l.reason}))
            .collect();
        return emit(&format!(
            "{}\n",
            json!({"indicator_id": r.indicator_id, "from_year": r.from_year,
                "to_year": r.to_year, "level": r.level, "borders": r.borders, "unit": r.unit,
                "as_of_sequence": r.as_of_sequence, "areas_ranked": r.areas_ranked,
                "forerunners": ranked, "left_out": left})
        ));
    }
    let names = Names::fetch(&ch, &a.server).await?;
    let d = names.decimals(&r.indicator_id);
    let mut out = format!(
        "{}: most improved {}s {}→{} on the borders of {} (as of sequence {}); {} ranked\n\n",
        names.indicator_title(&r.indicator_id),
        r.level.replace('_', "-"),
        r.from_year,
        r.to_year,
        r.borders,
        r.as_of_sequence,
        r.areas_ranked
    );
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("area", Align::Left),
        ("from", Align::Right),
        ("to", Align::Right),
        ("change", Align::Right),
    ]);
    for f in &r.forerunners {
        t.row(vec![
            f.rank.to_string(),
            names.region_title(&f.region_code),
            number(f.from_value, d),
            number(f.to_value, d),
            signed(f.change, d),
        ]);
    }
    out.push_str(&t.render());
    if !r.left_out.is_empty() {
        out.push_str(&format!("\nLeft out ({}):\n", r.left_out.len()));
        for l in &r.left_out {
            out.push_str(&format!("  {}: {}\n", l.region_code, l.reason));
        }
    }
    emit(&out)
}
