#!/usr/bin/env python3
"""Validate data/regions.csv, data/indicators.csv and data/demo/*.csv (stdlib only).

Usage: python3 data/check_data.py [data_dir]
Exit status 0 when every check passes, 1 otherwise.
"""
import collections
import csv
import glob
import math
import os
import sys

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

REGION_HEADER = ["code", "statfin_code", "name_fi", "name_sv", "name_en", "nuts3", "first_year", "last_year"]
REGION_YEARS = ("first_year", "last_year")
IND_HEADER = ("id,theme,name_fi,name_en,unit,decimals,direction,min_value,max_value,aggregation,"
              "weight_indicator,numerator_indicator,denominator_indicator,scale,min_year,max_year,kind").split(",")
DEMO_HEADER = "region_code,indicator_id,year,value,status,source,note,correction_reason,borders".split(",")
THEMES = ["climate", "communities", "competence", "inclusion", "business"]
DIRECTIONS = {"higher_is_better", "lower_is_better", "neutral"}
AGGREGATIONS = {"sum", "weighted_mean", "ratio", "national_only"}
STATUSES = {"final", "provisional"}

errors = []


def err(msg):
    errors.append(msg)


def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]], rows[1:]


def num(s):
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------- regions
header, regions, raw = read(os.path.join(DATA, "regions.csv"))
if header != REGION_HEADER:
    err(f"regions.csv header {header}")
region_codes = set()
for i, r in enumerate(regions, 2):
    if len(raw[i - 2]) != len(REGION_HEADER):
        err(f"regions.csv:{i} has {len(raw[i - 2])} fields")
    if any(not r[c] for c in REGION_HEADER if c not in REGION_YEARS):
        err(f"regions.csv:{i} empty field")
    if any(r[c] and not r[c].isdigit() for c in REGION_YEARS):
        err(f"regions.csv:{i} a year that is not a number")
    if r["code"] in region_codes:
        err(f"regions.csv:{i} duplicate code {r['code']}")
    region_codes.add(r["code"])
    if r["code"] != "SSS" and r["code"] != "MK" + r["statfin_code"]:
        err(f"regions.csv:{i} code/statfin_code mismatch")
expected_regions = {"MK%02d" % n for n in range(1, 22) if n != 20} | {"SSS"}
last_year = {r["code"]: int(r["last_year"]) for r in regions if r["last_year"]}
if last_year != {"MK03": 2010}:
    err(f"regions.csv: only Itä-Uusimaa (MK03) ended, in 2010: {last_year}")
if region_codes != expected_regions:
    err(f"regions.csv codes differ: {sorted(region_codes ^ expected_regions)}")

# ---------------------------------------------------------------- indicators
header, inds, raw = read(os.path.join(DATA, "indicators.csv"))
if header != IND_HEADER:
    err(f"indicators.csv header {header}")
cat = {}
for i, r in enumerate(inds, 2):
    where = f"indicators.csv:{i} ({r.get('id')})"
    if len(raw[i - 2]) != len(IND_HEADER):
        err(f"{where} has {len(raw[i - 2])} fields")
    iid = r["id"]
    if not iid or not all(c.islower() or c.isdigit() or c == "_" for c in iid) or not iid[0].isalpha():
        err(f"{where} id not snake_case")
    if iid in cat:
        err(f"{where} duplicate id")
    cat[iid] = r
    for c in ("name_fi", "name_en", "unit"):
        if not r[c]:
            err(f"{where} empty {c}")
    if r["theme"] not in THEMES:
        err(f"{where} bad theme {r['theme']}")
    if r["direction"] not in DIRECTIONS:
        err(f"{where} bad direction {r['direction']}")
    if r["aggregation"] not in AGGREGATIONS:
        err(f"{where} bad aggregation {r['aggregation']}")
    if not r["decimals"].isdigit():
        err(f"{where} bad decimals")
    lo, hi = num(r["min_value"]) if r["min_value"] else None, num(r["max_value"]) if r["max_value"] else None
    if (r["min_value"] and lo is None) or (r["max_value"] and hi is None) or (lo is not None and hi is not None and lo >= hi):
        err(f"{where} bad range {r['min_value']}..{r['max_value']}")
    if not (r["min_year"].isdigit() and (r["max_year"] == "" or (r["max_year"].isdigit() and int(r["min_year"]) <= int(r["max_year"])))):
        err(f"{where} bad year range")
    if r["kind"] not in ("observed", "target", "forecast"):
        err(f"{where} bad kind {r['kind']!r}")
    scale = num(r["scale"])
    if scale is None or scale <= 0:
        err(f"{where} bad scale {r['scale']}")
    agg = r["aggregation"]
    if agg == "ratio":
        if not (r["numerator_indicator"] and r["denominator_indicator"]) or r["weight_indicator"]:
            err(f"{where} ratio needs numerator+denominator only")
    elif agg == "weighted_mean":
        if not r["weight_indicator"] or r["numerator_indicator"] or r["denominator_indicator"]:
            err(f"{where} weighted_mean needs weight only")
        if scale != 1:
            err(f"{where} scale must be 1")
    else:
        if r["weight_indicator"] or r["numerator_indicator"] or r["denominator_indicator"]:
            err(f"{where} {agg} must not name components")
        if scale != 1:
            err(f"{where} scale must be 1")

for iid, r in cat.items():
    for c in ("weight_indicator", "numerator_indicator", "denominator_indicator"):
        ref = r[c]
        if not ref:
            continue
        if ref not in cat:
            err(f"indicator {iid}: {c} {ref} not in catalog")
        elif cat[ref]["aggregation"] != "sum":
            err(f"indicator {iid}: {c} {ref} is {cat[ref]['aggregation']}, expected sum")

if not 35 <= len(cat) <= 100:
    err(f"catalog has {len(cat)} indicators, expected 35..100")
per_theme = {t: [0, 0] for t in THEMES}
for r in cat.values():
    if r["theme"] in per_theme:
        per_theme[r["theme"]][0] += 1
        per_theme[r["theme"]][1] += r["direction"] != "neutral"
for t, (n, d) in per_theme.items():
    if d < 4:
        err(f"theme {t} has only {d} directional indicators")
aggs = {a: sum(1 for r in cat.values() if r["aggregation"] == a) for a in AGGREGATIONS}
if aggs["weighted_mean"] < 1 or aggs["sum"] < 3 or aggs["national_only"] < 3 or aggs["ratio"] < 3:
    err(f"aggregation coverage too thin: {aggs}")

# ---------------------------------------------------------------- land
# Two divisions give a region the same land when no municipality entered or left it in
# between (the service's rule): figures on borders with the same land are one cell, a
# later one revises it; on other land they are different figures. The key begins in 2013,
# so each earlier division is land of its own.
def _areas(name):
    with open(os.path.join(DATA, "areas", name), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


by_year = collections.defaultdict(dict)
for r in _areas("municipality_key_2013_2026.csv"):
    by_year[int(r["year"])][r["municipality"]] = r["region"]
joined = {r["municipality"]: r["joined"] for name in ("municipalities_merged_2000_2022.csv",
          "municipalities_merged_2023_2026.csv") for r in _areas(name)}


def _code_on(m, year):
    while m not in by_year[year] and m in joined:
        m = joined[m]
    return m


def _same_land(region, a, b):
    """Whether `region` covers the same land on the consecutive divisions `a` < `b`."""
    before = {_code_on(m, b) for m, r in by_year[a].items() if r == region}
    after = {m for m, r in by_year[b].items() if r == region}
    return before == after


def land(code, borders):
    if code == "SSS":
        return 0
    first = borders
    while first - 1 in by_year and borders in by_year and _same_land(code, first - 1, first):
        first -= 1
    return first


# ---------------------------------------------------------------- demo data
cells = {}        # (region, indicator, year) -> list of (file, value, status)
demo_counts = {}
files = sorted(glob.glob(os.path.join(DATA, "demo", "*.csv")))
if not files:
    err("no demo files")
for path in files:
    name = os.path.basename(path)
    header, rows, raw = read(path)
    # `published` (the release date, where the file is one release) is optional.
    if header not in (DEMO_HEADER, DEMO_HEADER + ["published"]):
        err(f"{name}: header {header}")
        continue
    demo_counts[name] = len(rows)
    seen_regions, prev_region = set(), None
    in_file = set()
    for i, r in enumerate(rows, 2):
        where = f"{name}:{i}"
        if len(raw[i - 2]) != len(header):
            err(f"{where} has {len(raw[i - 2])} fields")
            continue
        rc = r["region_code"]
        # one atomic submission per region: its rows must be contiguous
        if rc != prev_region:
            if rc in seen_regions:
                err(f"{where} region {rc} rows not contiguous (one submission per region)")
            seen_regions.add(rc)
            prev_region = rc
        code = rc if rc == "SSS" or rc.startswith("MK") else "MK" + rc
        if code not in region_codes:
            err(f"{where} unknown region {rc}")
        ind = cat.get(r["indicator_id"])
        if ind is None:
            err(f"{where} unknown indicator {r['indicator_id']}")
            continue
        if not r["year"].lstrip("-").isdigit():
            err(f"{where} bad year {r['year']}")
            continue
        year = int(r["year"])
        if code in last_year and year > last_year[code]:
            err(f"{where} {code} was a region until {last_year[code]}, not in {year}")
        if year < int(ind["min_year"]) or (ind["max_year"] and year > int(ind["max_year"])):
            err(f"{where} year {year} outside {ind['min_year']}..{ind['max_year']}")
        v = num(r["value"])
        if v is None:
            err(f"{where} non-numeric value {r['value']!r}")
            continue
        if ind["min_value"] and v < float(ind["min_value"]):
            err(f"{where} value {v} < min {ind['min_value']}")
        if ind["max_value"] and v > float(ind["max_value"]):
            err(f"{where} value {v} > max {ind['max_value']}")
        if r["status"] not in STATUSES:
            err(f"{where} bad status {r['status']!r}")
        if not r["source"].strip():
            err(f"{where} empty source")
        # The borders (the division of 1 January of that year) a figure is on: one of the
        # bundled divisions, on which the region existed, and not before the year it is of
        # (a figure of 31.12. is published on the borders of a later 1 January).
        if not r["borders"].isdigit() or not 2000 <= int(r["borders"]) <= 2026:
            err(f"{where} borders {r['borders']!r} is not a bundled division (2000-2026)")
            continue
        borders = int(r["borders"])
        if code in last_year and borders > last_year[code]:
            err(f"{where} {code} was a region until {last_year[code]}, not on the {borders} borders")
        if borders < year:
            err(f"{where} a figure of {year} on the borders of {borders}")
        key = (code, r["indicator_id"], year, land(code, borders))
        if key in in_file:
            err(f"{where} cell {key} twice in one file")
        in_file.add(key)
        hist = cells.setdefault(key, [])
        if hist and hist[-1][2] == "final" and not r["correction_reason"].strip():
            err(f"{where} revises final cell {key} without correction_reason")
        if not hist and r["correction_reason"].strip():
            err(f"{where} correction_reason on a first value {key}")
        hist.append((name, r["value"], r["status"]))

# ---------------------------------------------------------------- report
print("indicators per theme (total / directional):")
for t, (n, d) in per_theme.items():
    print(f"  {t:12s} {n:3d} / {d}")
print(f"  total        {len(cat):3d}; aggregations {aggs}")
print("demo rows per file:")
for n, c in demo_counts.items():
    print(f"  {c:4d}  {n}")
print(f"  {sum(demo_counts.values()):4d}  total")
print("cells with more than one value (revisions), in file order:")
for key, hist in sorted(cells.items()):
    if len(hist) > 1:
        print(f"  {key[0]} {key[1]} {key[2]} on the land of {key[3]}: "
              + " -> ".join(f"{v} ({s}, {f[:3]})" for f, v, s in hist))
print("cells on more than one land (border changes, not revisions):")
on = collections.defaultdict(list)
for (rc, i, y, b), hist in sorted(cells.items()):
    on[(rc, i, y)].append(f"{hist[-1][1]} on the land of {b}")
for (rc, i, y), figures in on.items():
    if len(figures) > 1:
        print(f"  {rc} {i} {y}: " + ", ".join(figures))


def latest(code, ind, year):
    """The latest figure of a cell on any borders (the checks below are within one release)."""
    hists = [h for (rc, i, y, _), h in cells.items() if (rc, i, y) == (code, ind, year)]
    return hists[-1] if hists else None


regional = [float(h[-1][1]) for (rc, i, y, _), h in cells.items()
            if i == "unemployed_persons" and y == 2017 and rc != "SSS"]
sss = latest("SSS", "unemployed_persons", 2017)
print(f"unemployed_persons 2017: sum of {len(regional)} regions = {sum(regional):.0f}; "
      f"SSS = {sss[-1][1] if sss else 'missing'}")
if len(regional) != 19 or not sss or sum(regional) != float(sss[-1][1]):
    err("unemployed_persons 2017: regional sum does not equal SSS (or regions missing)")

# Population 31.12.2006 and 2007 as published on 1.1.2008: the 20 regions of the day
# (Itä-Uusimaa included) sum to the whole country.
for y in (2006, 2007):
    parts = [float(h[0][1]) for (rc, i, yy, _), h in cells.items()
             if i == "population" and yy == y and rc != "SSS"]
    whole = latest("SSS", "population", y)
    print(f"population {y}: sum of {len(parts)} regions = {sum(parts):.0f}; SSS = {whole[0][1] if whole else 'missing'}")
    if len(parts) != 20 or not whole or sum(parts) != float(whole[0][1]):
        err(f"population {y}: the 20 regions do not sum to SSS")

if errors:
    print(f"\nFAILED: {len(errors)} error(s)")
    for e in errors:
        print("  " + e)
    sys.exit(1)
print("\nOK: all checks passed")
