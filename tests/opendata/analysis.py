#!/usr/bin/env python3
"""Recomputes tilannekuva's analyses from its own open data with numpy, and checks them.

The analysis endpoints (/v1/disparities, /v1/forerunners, /v1/similar, /v1/targets) are
read as an analyst reads them (CSV by `pandas.read_csv`, also in the Finnish dialect;
JSON-stat as JSON and by `pyjstat`), and every figure is compared with an implementation of
its own here, written from the formulas (docs/analysis.md) and fed with the areas' figures
as the figure endpoints give them (`/v1/regions/{area}/series/{indicator}` of each region,
for the indicator and for `population`, on the same borders and as of the same point):

- disparities: min, max, range, max/min, CV (population standard deviation / mean),
  population-weighted CV (Williamson: Y = sum(p/P y), sqrt(sum(p/P (y - Y)^2)) / Y), Gini
  (sum |yi - yj| / (2 n^2 mean), over all pairs), the top/bottom 20 % ratio (sorted by value,
  each tail takes areas until 20 % of the population, the area at its edge with the part of
  its population that completes it; the ratio of the tails' population-weighted means),
  sigma (np.polyfit slope of the CV on the years) and beta (np.polyfit slope of
  ln(y_to / y_from) / (to - from) on ln(y_from));
- forerunners: each area's change and improvement, the order and the ranks;
- similar areas: z-scores, weighted distances, shared and closest indicators;
- targets: latest figure, gap, needed and recent pace, status.

Each to 1e-9 relative. Also: as of an earlier sequence (one region's last figure not yet
reported) the disparities and forerunners differ from the latest, and equal the
recomputation from the figures as of then; a sum indicator gives no measure, each empty with
its reason (never 0); names follow `lang`.

Prints `OK ...` lines and, last, `RESULT {json}` with what was compared (tests/opendata.rs
checks it). Exits 1 on the first failure, saying what failed.

    python3 tests/opendata/analysis.py --base http://127.0.0.1:9464 --token tk_... \
        --indicator offences_per_1000 --from-year 2000 --to-year 2020 --borders 2021
"""

import argparse
import io
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from consume import Client, Failure, as_of_sequence, fail, read_csv, read_jsonstat  # noqa: E402

try:
    import numpy as np
    import pandas as pd
except ImportError as e:  # pragma: no cover - the message is the point
    print(f"analysis.py needs numpy and pandas ({e}): pip install -r tests/opendata-requirements.txt",
          file=sys.stderr)
    sys.exit(2)

REL = 1e-9
DISPERSION = ["range", "max_min_ratio", "cv", "cv_weighted", "gini", "top_bottom_ratio"]
TAIL = 0.2

compared = {"figures": 0}


def close(what, got, want):
    """`got` (from the service) is `want` (recomputed) to REL relative."""
    compared["figures"] += 1
    if got is None or (isinstance(got, float) and math.isnan(got)):
        fail(what, f"no value, recomputed {want!r}")
    got, want = float(got), float(want)
    if not (abs(got - want) <= REL * max(abs(got), abs(want)) or abs(got - want) < 1e-300):
        fail(what, f"{got!r} != recomputed {want!r} (relative {abs(got - want) / max(abs(want), 1e-300):.3g})")


def empty(x):
    return x is None or (isinstance(x, float) and math.isnan(x)) or x == ""


class Reader:
    def __init__(self, client):
        self.client = client

    def get(self, what, path, params, expect=200):
        status, headers, body = self.client.get(path, params)
        if status != expect:
            fail(what, f"GET {path} {params}: HTTP {status} (expected {expect}): {body[:600]}")
        return headers, body

    def csv(self, what, path, params, dialect=None):
        params = dict(params, format="csv", csv_dialect=dialect or "international")
        headers, body = self.get(what, path, params)
        if dialect == "fi":
            if not body.startswith("\ufeff"):
                fail(what, "a Finnish CSV without its byte order mark")
            df = pd.read_csv(io.StringIO(body[1:]), sep=";", decimal=",", keep_default_na=False, na_values=[""])
        else:
            df = read_csv(what, body, None)
        return as_of_sequence(what, headers), df

    def jsonstat(self, what, path, params):
        headers, body = self.get(what, path, dict(params, format="json-stat"))
        seq = as_of_sequence(what, headers)
        doc = json.loads(body)
        df, doc = read_jsonstat(what, body, doc.get("id"))
        if doc["extension"]["as_of_sequence"] != seq:
            fail(what, f"extension.as_of_sequence {doc['extension']['as_of_sequence']} != header {seq}")
        return seq, df, doc


def cell(doc, **coords):
    """A JSON-stat dataset's value at the category ids `coords` (every other dimension has
    one category)."""
    index = 0
    for dim, size in zip(doc["id"], doc["size"]):
        cats = doc["dimension"][dim]["category"]["index"]
        if dim in coords:
            pos = cats[str(coords[dim])]
        else:
            if size != 1:
                raise KeyError(f"dimension {dim} of {size} categories not given")
            pos = 0
        index = index * size + pos
    return doc["value"][index]


# ---------------------------------------------------------------------------------------
# The figures the analyses are computed from
# ---------------------------------------------------------------------------------------


def regions(r):
    _, body = r.get("regions", "/v1/regions", {"format": "json"})
    return [x["code"] for x in json.loads(body)["regions"] if x["kind"] == "region"]


def series(r, areas, indicator, years, borders, as_of=None):
    """{area: {year: value}} of every area with a figure, from each area's series."""
    out = {}
    for a in areas:
        params = {"from_year": years[0], "to_year": years[1], "borders": borders}
        if as_of is not None:
            params["as_of"] = as_of
        status, _, body = r.client.get(f"/v1/regions/{a}/series/{indicator}", dict(params, format="csv"))
        if status != 200:
            fail(f"series {a} {indicator}", f"HTTP {status}: {body[:300]}")
        df = read_csv(f"series {a} {indicator}", body, None)
        values = {int(y): float(v) for y, v in zip(df["year"], df["value"]) if not empty(v)}
        if values:
            out[a] = values
    return out


# ---------------------------------------------------------------------------------------
# The measures, from their formulas
# ---------------------------------------------------------------------------------------


def tail_mean(y, p, top):
    """Population-weighted mean of the areas holding TAIL of the population at one end, the
    edge area with the part of its population that completes the tail."""
    order = np.argsort(-y if top else y, kind="stable")
    ys, ps = y[order], p[order]
    want = TAIL * p.sum()
    before = np.concatenate([[0.0], np.cumsum(ps)[:-1]])
    part = np.clip(want - before, 0.0, ps)
    return float((part * ys).sum() / part.sum())


def dispersion(y, p):
    """The measures of values `y` (populations `p`, NaN where not known)."""
    n = len(y)
    out = {"areas": n, "min": y.min(), "max": y.max(), "range": y.max() - y.min(),
           "max_min_ratio": y.max() / y.min(), "cv": np.std(y) / np.mean(y),
           "gini": np.abs(y[:, None] - y[None, :]).sum() / (2 * n * n * y.mean())}
    known = ~np.isnan(p)
    yw, pw = y[known], p[known]
    out["areas_with_population"] = int(known.sum())
    w = pw / pw.sum()
    mean = (w * yw).sum()
    out["cv_weighted"] = math.sqrt((w * (yw - mean) ** 2).sum()) / mean
    out["top_bottom_ratio"] = tail_mean(yw, pw, True) / tail_mean(yw, pw, False)
    return out


def recompute_disparities(values, populations, years):
    per_year = {}
    for year in range(years[0], years[1] + 1):
        areas = sorted(a for a in values if year in values[a])
        if len(areas) < 3:
            continue
        y = np.array([values[a][year] for a in areas])
        p = np.array([populations.get(a, {}).get(year, np.nan) for a in areas])
        per_year[year] = dispersion(y, p)
    ys = sorted(per_year)
    sigma = float(np.polyfit(ys, [per_year[y]["cv"] for y in ys], 1)[0])
    both = sorted(a for a in values if years[0] in values[a] and years[1] in values[a])
    y0 = np.array([values[a][years[0]] for a in both])
    y1 = np.array([values[a][years[1]] for a in both])
    growth = np.log(y1 / y0) / (years[1] - years[0])
    beta = float(np.polyfit(np.log(y0), growth, 1)[0])
    return per_year, sigma, beta, len(both)


def check_disparities(r, a, areas, borders, as_of=None, lang="en"):
    """/v1/disparities against the recomputation, in CSV (both dialects) and JSON-stat."""
    years = (a.from_year, a.to_year)
    tag = f"disparities borders={borders} as_of={as_of}"
    values = series(r, areas, a.indicator, years, borders, as_of)
    populations = series(r, areas, "population", years, borders, as_of)
    per_year, sigma, beta, beta_areas = recompute_disparities(values, populations, years)
    if len(per_year) != years[1] - years[0] + 1:
        fail(tag, f"the demo has figures of {sorted(per_year)} only: pick another span")
    params = {"indicator": a.indicator, "from_year": years[0], "to_year": years[1], "borders": borders,
              "lang": lang}
    if as_of is not None:
        params["as_of"] = as_of
    seq, df = r.csv(tag, "/v1/disparities", params, dialect="international")
    _, fi = r.csv(tag + " fi", "/v1/disparities", params, dialect="fi")
    js_seq, _, doc = r.jsonstat(tag, "/v1/disparities", params)
    if js_seq != seq:
        fail(tag, f"CSV as of {seq}, JSON-stat as of {js_seq}")
    if list(df["year"]) != list(range(years[0], years[1] + 1)):
        fail(tag, f"years {list(df['year'])}")
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    if list(fi.columns) != list(df.columns) or not fi[numeric].equals(df[numeric]):
        fail(tag, "the Finnish dialect (sep=';', decimal=',') does not read as the same numbers")
    for _, row in df.iterrows():
        year = int(row["year"])
        want = per_year[year]
        for m in ["areas", "areas_with_population"]:
            if int(row[m]) != want[m]:
                fail(f"{tag} {year} {m}", f"{row[m]} != recomputed {want[m]}")
        if int(row["areas_expected"]) < want["areas"]:
            fail(f"{tag} {year}", f"areas_expected {row['areas_expected']} < areas {want['areas']}")
        for m in ["min", "max"] + DISPERSION:
            close(f"{tag} {year} {m} (CSV)", row[m], want[m])
            if m in DISPERSION and not empty(row[f"{m}_why_not"]):
                fail(f"{tag} {year} {m}", f"has a value and a reason: {row[f'{m}_why_not']!r}")
            # JSON-stat carries the same double.
            close(f"{tag} {year} {m} (JSON-stat)", cell(doc, year=year, measure=m), row[m])
        close(f"{tag} {year} sigma_slope", row["sigma_slope"], sigma)
        close(f"{tag} {year} beta_slope", row["beta_slope"], beta)
        if int(row["beta_areas"]) != beta_areas:
            fail(f"{tag} beta_areas", f"{row['beta_areas']} != {beta_areas}")
    conv = doc["extension"]["convergence"]
    close(f"{tag} sigma (JSON-stat)", conv["sigma_slope"]["value"], sigma)
    close(f"{tag} beta (JSON-stat)", conv["beta_slope"]["value"], beta)
    if conv["beta_areas"] != beta_areas or doc["extension"]["why_not"]:
        fail(tag, f"JSON-stat extension {doc['extension']}")
    print(f"OK {tag}: {len(per_year)} years x {2 + len(DISPERSION)} measures, sigma {sigma:.6g}, "
          f"beta {beta:.6g} over {beta_areas} areas", flush=True)
    return {"sequence": seq, "years": len(per_year), "sigma": sigma, "beta": beta,
            "cv_last": per_year[years[1]]["cv"], "max_last": per_year[years[1]]["max"],
            "indicator_name": df["indicator_name"][0]}


def check_sum(r, a, borders):
    """A sum indicator: every measure empty with its reason, in CSV and JSON-stat."""
    tag = f"disparities of the sum {a.sum_indicator}"
    params = {"indicator": a.sum_indicator, "from_year": a.to_year - 2, "to_year": a.to_year, "borders": borders}
    _, df = r.csv(tag, "/v1/disparities", params)
    _, _, doc = r.jsonstat(tag, "/v1/disparities", params)
    reasons = 0
    for _, row in df.iterrows():
        year = int(row["year"])
        if int(row["areas"]) < 3 or empty(row["min"]):
            fail(tag, f"{year}: the sum has figures, so areas and min are given: {dict(row)}")
        for m in DISPERSION + ["sigma_slope", "beta_slope"]:
            if not empty(row[m]):
                fail(f"{tag} {year} {m}", f"a value {row[m]!r} (a sum has no disparity)")
            if empty(row[f"{m}_why_not"]):
                fail(f"{tag} {year} {m}", "empty without a reason")
            reasons += 1
        for m in DISPERSION:
            if cell(doc, year=year, measure=m) is not None:
                fail(f"{tag} {year} {m} (JSON-stat)", f"{cell(doc, year=year, measure=m)!r}, not null")
            why = doc["extension"]["why_not"].get(str(year), {}).get(m)
            if not why or why != row[f"{m}_why_not"]:
                fail(f"{tag} {year} {m} (JSON-stat)", f"why_not {why!r} (CSV: {row[f'{m}_why_not']!r})")
    for m in ["sigma_slope", "beta_slope"]:
        c = doc["extension"]["convergence"][m]
        if c["value"] is not None or not c["why_not"]:
            fail(f"{tag} {m} (JSON-stat)", f"{c}")
    print(f"OK {tag}: {reasons} measures empty, each with its reason", flush=True)
    return {"reasons": reasons, "reason": df["cv_why_not"][0]}


def check_forerunners(r, a, areas, borders, direction, as_of=None):
    years = (a.from_year, a.to_year)
    tag = f"forerunners borders={borders} as_of={as_of}"
    values = series(r, areas, a.indicator, years, borders, as_of)
    sign = -1.0 if direction == "lower_is_better" else 1.0
    want = sorted(
        ((sign * (v[years[1]] - v[years[0]]), area, v[years[0]], v[years[1]])
         for area, v in values.items() if years[0] in v and years[1] in v),
        key=lambda t: (-t[0], t[1]))
    params = {"indicator": a.indicator, "from_year": years[0], "to_year": years[1], "borders": borders,
              "limit": 500, "lang": "sv"}
    if as_of is not None:
        params["as_of"] = as_of
    seq, df = r.csv(tag, "/v1/forerunners", params)
    _, _, doc = r.jsonstat(tag, "/v1/forerunners", params)
    ranked = df[df["left_out_reason"].map(empty)]
    if list(ranked["area"]) != [w[1] for w in want]:
        fail(tag, f"order {list(ranked['area'])} != recomputed {[w[1] for w in want]}")
    for (_, row), (improvement, area, v0, v1) in zip(ranked.iterrows(), want):
        close(f"{tag} {area} from_value", row["from_value"], v0)
        close(f"{tag} {area} to_value", row["to_value"], v1)
        close(f"{tag} {area} change", row["change"], v1 - v0)
        close(f"{tag} {area} improvement", row["improvement"], improvement)
        close(f"{tag} {area} improvement (JSON-stat)", cell(doc, area=area, measure="improvement"), improvement)
        # Ranks: one more than the areas that improved strictly more.
        rank = 1 + sum(1 for w in want if w[0] > improvement)
        if int(row["rank"]) != rank or cell(doc, area=area, measure="rank") != rank:
            fail(f"{tag} {area} rank", f"{row['rank']} != {rank}")
    if int(df["areas_ranked"][0]) != len(want):
        fail(tag, f"areas_ranked {df['areas_ranked'][0]} != {len(want)}")
    names = {x["code"]: x["name"] for x in json.loads(r.get("regions", "/v1/regions", {"lang": "sv"})[1])["regions"]}
    for _, row in df.iterrows():
        if row["area_name"] != names[row["area"]]:
            fail(f"{tag} {row['area']}", f"area_name {row['area_name']!r}, lang=sv says {names[row['area']]!r}")
    # The limit cuts the ranked areas, never the areas left out.
    _, top = r.csv(tag, "/v1/forerunners", dict(params, limit=3))
    if list(top[top["left_out_reason"].map(empty)]["area"]) != [w[1] for w in want[:3]] \
            or len(top) - 3 != len(df) - len(ranked):
        fail(tag, f"limit=3: {list(top['area'])}")
    print(f"OK {tag}: {len(want)} areas ranked", flush=True)
    return {"sequence": seq, "ranked": len(want), "first": want[0][1],
            "improvements": {w[1]: w[0] for w in want}}


def check_left_out(r, a):
    """Forerunners of a span some areas have no figure at an end of: each left out with its
    reason, in CSV and JSON-stat (null figures, the reason in why_not)."""
    tag = "forerunners with areas left out"
    params = {"indicator": a.left_out_indicator, "from_year": a.left_out_from, "to_year": a.to_year, "limit": 2}
    _, df = r.csv(tag, "/v1/forerunners", params)
    _, _, doc = r.jsonstat(tag, "/v1/forerunners", params)
    left = df[~df["left_out_reason"].map(empty)]
    if left.empty:
        fail(tag, f"no area left out: pick another span\n{df}")
    for _, row in left.iterrows():
        area = row["area"]
        if not all(empty(row[c]) for c in ["rank", "from_value", "to_value", "change", "improvement"]):
            fail(f"{tag} {area}", f"figures beside a reason: {dict(row)}")
        if cell(doc, area=area, measure="change") is not None:
            fail(f"{tag} {area} (JSON-stat)", "a change for an area left out")
        if doc["extension"]["why_not"][area]["change"] != row["left_out_reason"]:
            fail(f"{tag} {area} (JSON-stat)", f"why_not {doc['extension']['why_not'].get(area)}")
    print(f"OK {tag}: {len(left)} left out", flush=True)
    return {"left_out": len(left)}


def check_similar(r, a, areas, borders):
    """Similar areas from z-scores of the indicators asked for, with weights."""
    tag = "similar"
    weights = dict(w.split(":") if ":" in w else (w, "1") for w in a.similar_indicators.split(","))
    weights = {k: float(v) for k, v in weights.items()}
    year = a.similar_year
    z = {}
    for ind in weights:
        v = {area: s[year] for area, s in series(r, areas, ind, (year, year), borders).items()}
        ys = np.array(list(v.values()))
        mean, sd = ys.mean(), ys.std()
        z[ind] = {area: (x - mean) / sd for area, x in v.items()}
    mine = {ind: z[ind][a.area] for ind in weights if a.area in z[ind]}
    needed = math.ceil(len(mine) / 2)
    want = []
    for other in areas:
        if other == a.area:
            continue
        diffs = [(abs(mine[i] - z[i][other]), i) for i in mine if other in z[i]]
        if len(diffs) < needed or not diffs:
            continue
        total = sum(weights[i] * d * d for d, i in diffs) / sum(weights[i] for _, i in diffs)
        want.append((math.sqrt(total), other, sorted(diffs)))
    want.sort(key=lambda t: (t[0], t[1]))
    params = {"area": a.area, "year": year, "indicators": a.similar_indicators, "k": a.k, "borders": borders,
              "lang": "fi"}
    _, df = r.csv(tag, "/v1/similar", params)
    _, _, doc = r.jsonstat(tag, "/v1/similar", params)
    if list(df["similar_area"]) != [w[1] for w in want[: a.k]]:
        fail(tag, f"{list(df['similar_area'])} != recomputed {[w[1] for w in want[:a.k]]}")
    for (_, row), (distance, other, diffs) in zip(df.iterrows(), want):
        close(f"{tag} {other} distance", row["distance"], distance)
        close(f"{tag} {other} distance (JSON-stat)", cell(doc, similar_area=other, measure="distance"), distance)
        if int(row["indicators_shared"]) != len(diffs):
            fail(f"{tag} {other}", f"indicators_shared {row['indicators_shared']} != {len(diffs)}")
        for i, (d, ind) in enumerate(diffs[:3], start=1):
            if row[f"closest_{i}"] != ind:
                fail(f"{tag} {other} closest_{i}", f"{row[f'closest_{i}']!r} != {ind!r}")
            close(f"{tag} {other} closest_{i}_difference", row[f"closest_{i}_difference"], d)
    compared_on = dict(x.split(":") for x in df["compared_on"][0].split(","))
    if {k: float(v) for k, v in compared_on.items()} != weights:
        fail(tag, f"compared_on {df['compared_on'][0]!r}, asked for {weights}")
    on = {x["indicator"]: x["weight"] for x in doc["extension"]["indicators"]}
    if on != weights:
        fail(tag + " (JSON-stat)", f"indicators {on}")
    print(f"OK {tag}: {len(df)} similar areas to {a.area}", flush=True)
    return {"similar": len(df), "nearest": want[0][1], "area_name": df["area_name"][0]}


def check_targets(r, a, borders):
    """Each target against the area's figures: latest, gap, paces and status, recomputed."""
    tag = "targets"
    _, df = r.csv(tag, "/v1/targets", {"borders": borders})
    _, _, doc = r.jsonstat(tag, "/v1/targets", {"borders": borders})
    _, body = r.get("indicators", "/v1/indicators", {})
    directions = {i["id"]: i["direction"] for i in json.loads(body)["indicators"]}
    statuses = {}
    for _, t in df.iterrows():
        area, ind, year, target = t["area"], t["indicator"], int(t["year"]), float(t["target_value"])
        what = f"{tag} {area} {ind} {year}"
        tid = f"{area}:{ind}:{year}"
        v = series(r, [area], ind, (1990, 2030), borders).get(area, {})
        sign = -1.0 if directions[ind] == "lower_is_better" else 1.0
        if not v:
            # No figure at all (the demo has no R&D share): unknown, saying why, no latest.
            if t["status"] != "unknown" or empty(t["reason"]) or not empty(t["latest_year"]):
                fail(what, f"without figures: {t['status']!r} {t['reason']!r} {t['latest_year']!r}")
            statuses[tid] = "unknown"
            continue
        latest = max(v)
        if int(t["latest_year"]) != latest:
            fail(what, f"latest_year {t['latest_year']} != {latest}")
        close(what + " latest_value", t["latest_value"], v[latest])
        close(what + " gap", t["gap"], target - v[latest])
        close(what + " gap (JSON-stat)", cell(doc, target=tid, measure="gap"), target - v[latest])
        recent = (v[latest] - v[latest - 5]) / 5 if latest - 5 in v else None
        needed = (target - v[latest]) / (year - latest) if year > latest else None
        for m, want in [("recent_pace", recent), ("needed_pace", needed)]:
            if want is None:
                if not empty(t[m]) or empty(t[f"{m}_why_not"]):
                    fail(f"{what} {m}", f"{t[m]!r} without a reason {t[f'{m}_why_not']!r}")
                if doc["extension"]["why_not"][tid][m] != t[f"{m}_why_not"]:
                    fail(f"{what} {m} (JSON-stat)", f"why_not {doc['extension']['why_not'].get(tid)}")
            else:
                close(f"{what} {m}", t[m], want)
        judged = v.get(year, v[latest]) if latest >= year else v[latest]
        if sign * (judged - target) >= 0:
            status = "reached"
        elif latest >= year:
            status = "missed"
        elif recent is None or needed is None:
            status = "unknown"
        else:
            status = "on_track" if sign * recent >= sign * needed else "off_track"
        if t["status"] != status or empty(t["reason"]):
            fail(what, f"status {t['status']!r} ({t['reason']!r}), recomputed {status!r}")
        if doc["extension"]["targets"][tid]["status"] != status:
            fail(what + " (JSON-stat)", f"{doc['extension']['targets'][tid]}")
        statuses[tid] = status
    print(f"OK {tag}: {statuses}", flush=True)
    # As of before the test's targets were set: none of them, only the bundled ones (set
    # when the log began).
    _, before = r.csv(tag, "/v1/targets", {"borders": borders, "as_of": a.targets_before})
    ours = before[before["source"] == a.targets_source]
    if len(ours) != 0 or len(before) == 0:
        fail(tag, f"as of {a.targets_before}, before they were set: {list(before['area'])}")
    return {"statuses": statuses}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--token", default="")
    p.add_argument("--indicator", required=True)
    p.add_argument("--sum-indicator", default="population")
    p.add_argument("--from-year", type=int, required=True)
    p.add_argument("--to-year", type=int, required=True)
    p.add_argument("--borders", required=True)
    p.add_argument("--as-of-region", required=True,
                   help="its last figure of --to-year is reported after the others: as of just before, the answers differ")
    p.add_argument("--area", required=True)
    p.add_argument("--similar-year", type=int, required=True)
    p.add_argument("--similar-indicators", required=True)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--left-out-indicator", required=True)
    p.add_argument("--left-out-from", type=int, required=True)
    p.add_argument("--targets-before", type=int, required=True)
    p.add_argument("--targets-source", required=True)
    a = p.parse_args()
    r = Reader(Client(a.base, a.token or None, 60))
    result = {}
    try:
        areas = regions(r)
        _, body = r.get("indicators", "/v1/indicators", {"lang": "fi"})
        inds = {i["id"]: i for i in json.loads(body)["indicators"]}
        direction = inds[a.indicator]["direction"]
        result["disparities"] = check_disparities(r, a, areas, a.borders, lang="fi")
        if result["disparities"]["indicator_name"] != inds[a.indicator]["name"]:
            fail("disparities lang=fi", f"indicator_name {result['disparities']['indicator_name']!r}")
        # The default borders (the latest division): its own figures, recomputed alike.
        result["disparities_latest"] = check_disparities(r, a, areas, "latest")
        # As of just before the region's last figure of the last year was reported.
        _, body = r.get("history", f"/v1/regions/{a.as_of_region}/history/{a.indicator}/{a.to_year}",
                        {"borders": a.borders})
        revisions = [v["sequence"] for v in json.loads(body)["extension"]["revisions"]]
        before = max(revisions) - 1
        then = check_disparities(r, a, areas, a.borders, as_of=before)
        now = result["disparities"]
        if then["sequence"] != before or (then["cv_last"], then["max_last"]) == (now["cv_last"], now["max_last"]):
            fail("disparities as of", f"as of {before} the same as the latest: {then} {now}")
        result["disparities_as_of"] = then
        result["sum"] = check_sum(r, a, a.borders)
        result["forerunners"] = check_forerunners(r, a, areas, a.borders, direction)
        then = check_forerunners(r, a, areas, a.borders, direction, as_of=before)
        now = result["forerunners"]
        if then["sequence"] != before or then["improvements"] == now["improvements"]:
            fail("forerunners as of", f"as of {before} the same as the latest: {then} {now}")
        result["forerunners_as_of"] = then
        result["left_out"] = check_left_out(r, a)
        result["similar"] = check_similar(r, a, areas, a.borders)
        result["targets"] = check_targets(r, a, a.borders)
    except Failure as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    result["compared"] = compared["figures"]
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
