#!/usr/bin/env python3
"""Reads tilannekuva's open data over HTTP the way an analyst would, and checks it.

Every endpoint of the open-data API (src/http/opendata/openapi.json) is fetched in both formats
with urllib and read by real consumers: CSV by `pandas.read_csv`, JSON-stat by `pyjstat`
(`Dataset.read(text).write('dataframe')`). The two readings of each answer must agree on
every value they both carry; a JSON-stat region picture in pyjstat's DataFrame still says
its area and year. Every CSV is read again as a Finnish spreadsheet user gets it (`lang=fi`:
`pandas.read_csv(..., sep=';', decimal=',')`) and must give the default's numbers, and the
long layouts of two regions, the country, a group, a series and a history must stack with
`pandas.concat` into one table of the same columns. Also: a request without a token is 401
(when --token is given), `as_of=1` answers the catalog-only state (X-As-Of-Sequence: 1, no
values), an `Accept: text/csv` header picks CSV, and bad parameters are 400 with the JSON
error body.

Prints one `OK <endpoint> <format> rows=R cols=C` line per answer read and, last, one line
`RESULT {json}` with the figures tests/opendata.rs compares with the gRPC CLI's. Exits 1 on
the first failure, saying what failed; 2 when pandas or pyjstat is missing.

    python3 tests/opendata/consume.py --base http://127.0.0.1:9464 --token tk_... \
        --region MK01 --group FI1D --indicator unemployment_rate_15_74 --year 2019

Needs tests/opendata-requirements.txt (`.ci/run` installs it into target/test-venv).
"""

import argparse
import io
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request

try:
    import pandas as pd
    from pyjstat import pyjstat
except ImportError as e:  # pragma: no cover - the message is the point
    print(
        f"consume.py needs pandas and pyjstat ({e}): "
        "python3 -m pip install -r tests/opendata-requirements.txt (.ci/run does)",
        file=sys.stderr,
    )
    sys.exit(2)


class Failure(Exception):
    pass


def fail(what, message):
    raise Failure(f"{what}: {message}")


# ---------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------


class Client:
    def __init__(self, base, token, timeout, borders=None):
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.borders = borders

    def get(self, path, params=None, token=True, accept=None):
        """(status, headers, body text) of a GET; HTTP errors are answers too. Every picture
        and series is read on `borders` when given."""
        url = self.base + path
        if self.borders and ("/picture" in path or "/series/" in path):
            params = dict(params or {}, borders=self.borders)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, method="GET")
        if token is True:
            token = self.token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if accept:
            req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.headers, resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", errors="replace")
            return e.code, e.headers, body
        except (urllib.error.URLError, OSError) as e:
            fail(f"GET {url}", f"no answer: {e}")


def as_of_sequence(what, headers):
    raw = headers.get("X-As-Of-Sequence")
    if raw is None:
        fail(what, "no X-As-Of-Sequence header")
    try:
        n = int(raw)
    except ValueError:
        fail(what, f"X-As-Of-Sequence is not an integer: {raw!r}")
    if n < 0:
        fail(what, f"X-As-Of-Sequence is negative: {n}")
    return n


def media_type(headers):
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()


# ---------------------------------------------------------------------------------------
# Reading the two formats
# ---------------------------------------------------------------------------------------


class Answer:
    """One endpoint read in one format."""

    def __init__(self, name, fmt, sequence, frame, raw=None):
        self.name = name
        self.fmt = fmt
        self.sequence = sequence
        self.frame = frame
        self.raw = raw


def read_csv(what, text, expected_columns):
    try:
        # Empty field = no value; nothing else (not "NA", not "null") is read as missing.
        df = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    except Exception as e:
        fail(what, f"pandas.read_csv cannot read it: {type(e).__name__}: {e}\n{text[:500]}")
    cols = list(df.columns)
    if expected_columns is not None and cols[: len(expected_columns)] != expected_columns:
        fail(what, f"columns {cols} do not start with {expected_columns}")
    return df


def read_jsonstat(what, text, expected_ids):
    try:
        doc = json.loads(text)
    except ValueError as e:
        fail(what, f"not JSON: {e}\n{text[:500]}")
    for key in ("version", "class", "id", "size", "dimension", "value"):
        if key not in doc:
            fail(what, f"JSON-stat dataset without {key!r}")
    if doc["version"] != "2.0" or doc["class"] != "dataset":
        fail(what, f"version {doc['version']!r} class {doc['class']!r}: not a JSON-stat 2.0 dataset")
    if doc["id"] != expected_ids:
        fail(what, f"dimensions {doc['id']} (expected {expected_ids})")
    if len(doc["size"]) != len(doc["id"]):
        fail(what, f"size {doc['size']} does not match id {doc['id']}")
    for dim, n in zip(doc["id"], doc["size"]):
        index = doc["dimension"].get(dim, {}).get("category", {}).get("index")
        if index is None:
            fail(what, f"dimension {dim!r} has no category index")
        if len(index) != n:
            fail(what, f"dimension {dim!r}: {len(index)} categories, size says {n}")
    cells = math.prod(doc["size"])
    if not isinstance(doc["value"], list) or len(doc["value"]) != cells:
        fail(what, f"value has {len(doc['value'])} items, size {doc['size']} makes {cells}")
    for v in doc["value"]:
        if v is not None and not isinstance(v, (int, float)):
            fail(what, f"value item {v!r} is neither a number nor null")
    if cells == 0:
        # pyjstat cannot read a dataset with an empty dimension (IndexError): an empty frame.
        df = pd.DataFrame({d: pd.Series(dtype=str) for d in doc["id"]} | {"value": pd.Series(dtype=float)})
        return df, doc
    try:
        df = pyjstat.Dataset.read(text).write("dataframe", naming="id")
    except Exception as e:
        fail(what, f"pyjstat cannot read it: {type(e).__name__}: {e}")
    if len(df) != cells:
        fail(what, f"pyjstat read {len(df)} rows, the dataset has {cells} values")
    df["value"] = pd.to_numeric(df["value"], errors="raise").astype(float)
    return df, doc


def fetch(client, name, path, params, csv_columns, jsonstat_ids):
    """The endpoint in both formats: (csv Answer, json-stat Answer)."""
    out = {}
    for fmt in ("csv", "json-stat"):
        what = f"{name} {fmt} (GET {path} {params})"
        status, headers, body = client.get(path, {**params, "format": fmt})
        if status != 200:
            fail(what, f"HTTP {status}: {body[:500]}")
        seq = as_of_sequence(what, headers)
        mt = media_type(headers)
        if fmt == "csv":
            if mt != "text/csv":
                fail(what, f"Content-Type {headers.get('Content-Type')!r}, expected text/csv")
            df = read_csv(what, body, csv_columns)
            out[fmt] = Answer(name, fmt, seq, df)
        else:
            if mt != "application/json":
                fail(what, f"Content-Type {headers.get('Content-Type')!r}, expected application/json")
            df, doc = read_jsonstat(what, body, jsonstat_ids)
            ext = doc.get("extension") or {}
            if "as_of_sequence" in ext and ext["as_of_sequence"] != seq:
                fail(what, f"extension.as_of_sequence {ext['as_of_sequence']} != header {seq}")
            out[fmt] = Answer(name, fmt, seq, df, doc)
        print(f"OK {name} {fmt} rows={len(out[fmt].frame)} cols={len(out[fmt].frame.columns)}", flush=True)
    if out["csv"].sequence != out["json-stat"].sequence:
        fail(name, f"CSV answered as of {out['csv'].sequence}, JSON-stat as of {out['json-stat'].sequence}")
    return out["csv"], out["json-stat"]


# ---------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------


def number(x):
    """A cell as float, NaN for no value."""
    if x is None:
        return math.nan
    if isinstance(x, str):
        if x == "":
            return math.nan
        return float(x)
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def same(a, b):
    a, b = number(a), number(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def plain(x):
    """A number for the RESULT line: None for no value, an int when integral."""
    x = number(x)
    if math.isnan(x):
        return None
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def jvalue(js, **coords):
    """The JSON-stat value at the given categories (NaN when there is no such cell)."""
    df = js.frame
    mask = pd.Series(True, index=df.index)
    for dim, cat in coords.items():
        mask &= df[dim].astype(str) == str(cat)
    rows = df[mask]
    if len(rows) > 1:
        fail(js.name, f"{len(rows)} JSON-stat cells at {coords}")
    return rows["value"].iloc[0] if len(rows) else math.nan


def in_order(index):
    """A JSON-stat category index's ids by position (an object maps id -> position; its
    key order means nothing), or the ids of an array index."""
    if isinstance(index, list):
        return list(index)
    return sorted(index, key=index.get)


def has_category(js, dim, cat):
    return str(cat) in set(js.frame[dim].astype(str))


def require_numeric(what, df, columns):
    for c in columns:
        if c in df.columns and not pd.api.types.is_numeric_dtype(df[c]):
            fail(what, f"pandas reads column {c!r} as {df[c].dtype}, not as numbers: {list(df[c][:5])}")


def agree(what, csv_value, js_value):
    if not same(csv_value, js_value):
        fail(what, f"CSV says {plain(csv_value)}, JSON-stat says {plain(js_value)}")


# ---------------------------------------------------------------------------------------
# The endpoints
# ---------------------------------------------------------------------------------------

REGION_COLUMNS = (
    "region,year,indicator,theme,unit,value,status,source,revisions,national_value,"
    "national_basis,rank,regions_ranked,previous_value,borders,derived,previous_borders,"
    "region_name,indicator_name,national_share"
).split(",")
NATIONAL_COLUMNS = (
    "year,indicator,theme,unit,value,basis,official,computed_value,regions_reported,"
    "regions_expected,min,median,max,best_region,worst_region,indicator_name"
).split(",")
GROUP_COLUMNS = (
    "year,indicator,theme,unit,area,area_kind,value,basis,rank,regions_ranked,status,source,"
    "revisions,sequence,indicator_name,area_name"
).split(",")
SERIES_COLUMNS = (
    "region,indicator,year,value,status,national_value,national_basis,rank,regions_ranked,"
    "unit,region_name,indicator_name"
).split(",")
HISTORY_COLUMNS = (
    "sequence,recorded_at,value,status,source,note,correction_reason,principal,submission_id,"
    "retracted,retraction_reason,hash,published"
).split(",")
REGION_MEASURES = ["value", "national_value", "national_difference", "national_share", "rank", "regions_ranked", "previous_value", "change"]
# The long layout: the same columns, in this order, from every endpoint.
LONG_COLUMNS = (
    "area,area_name,area_kind,indicator,indicator_name,unit,year,borders,value,status,basis,"
    "source,sequence,recorded_at,national_value,national_share,national_difference,rank,"
    "regions_ranked,as_of_sequence"
).split(",")
# JSON-stat dimensions: what an answer is of (area, year, borders, as_of) is a dimension of
# one category, so that a DataFrame of it still says so.
REGION_IDS = ["area", "year", "indicator", "measure", "borders", "as_of"]
NATIONAL_IDS = ["area", "year", "indicator", "measure", "borders", "as_of"]
GROUP_IDS = ["year", "indicator", "area", "borders", "as_of"]
SERIES_IDS = ["area", "indicator", "year", "measure", "as_of"]
HISTORY_IDS = ["area", "indicator", "year", "revision", "measure", "as_of"]
NATIONAL_MEASURES = ["value", "computed_value", "regions_reported", "regions_expected", "min", "median", "max"]


def region_groups(csv):
    """The groups of a region picture's CSV, from its group_G_value columns."""
    groups = []
    for c in csv.frame.columns[len(REGION_COLUMNS):]:
        if c.startswith("group_") and c.endswith("_value"):
            groups.append(c[len("group_"): -len("_value")])
    expected = REGION_COLUMNS + [
        f"group_{g}_{s}" for g in groups for s in ("value", "basis", "rank", "regions_ranked")
    ]
    if list(csv.frame.columns) != expected:
        fail("region-picture csv", f"columns {list(csv.frame.columns)}, expected {expected}")
    return groups


def region_picture(client, a):
    path = f"/v1/regions/{urllib.parse.quote(a.region, safe='')}/picture"
    csv, js = fetch(client, "region-picture", path, {"year": a.year}, REGION_COLUMNS, REGION_IDS)
    df = csv.frame
    groups = region_groups(csv)
    require_numeric("region-picture csv", df, ["year", "value", "revisions", "national_value", "rank", "regions_ranked", "previous_value"]
                    + [f"group_{g}_{s}" for g in groups for s in ("value", "rank", "regions_ranked")])
    measures = in_order(js.raw["dimension"]["measure"]["category"]["index"])
    want = REGION_MEASURES + [f"{g}:{s}" for g in groups for s in ("value", "rank", "regions_ranked")]
    if sorted(measures) != sorted(want):
        fail("region-picture json-stat", f"measures {measures}, expected {want} (groups from the CSV: {groups})")
    if set(df["region"].astype(str)) - {a.region}:
        fail("region-picture csv", f"rows of other regions: {set(df['region'])}")
    csv_inds = list(df["indicator"].astype(str))
    js_inds = in_order(js.raw["dimension"]["indicator"]["category"]["index"])
    if sorted(csv_inds) != sorted(js_inds):
        fail("region-picture", f"CSV has indicators {csv_inds}, JSON-stat {js_inds}")
    pairs = [("value", "value"), ("national_value", "national_value"), ("rank", "rank"),
             ("regions_ranked", "regions_ranked"), ("previous_value", "previous_value"),
             ("national_share", "national_share")]
    pairs += [(f"group_{g}_{s}", f"{g}:{s}") for g in groups for s in ("value", "rank", "regions_ranked")]
    for _, row in df.iterrows():
        ind = str(row["indicator"])
        for col, measure in pairs:
            agree(f"region-picture {ind} {measure}", row[col], jvalue(js, indicator=ind, measure=measure))
        # national_difference and change are JSON-stat only; they follow from the others (a
        # difference is not given beside a share).
        if not math.isnan(number(row["national_share"])) and not math.isnan(
                jvalue(js, indicator=ind, measure="national_difference")):
            fail(f"region-picture {ind}", "both a national share and a national difference")
        for measure, x, y in (("national_difference", "value", "national_value"), ("change", "value", "previous_value")):
            d = jvalue(js, indicator=ind, measure=measure)
            expect = number(row[x]) - number(row[y])
            if not math.isnan(d) and (math.isnan(expect) or abs(d - expect) > 1e-6 * max(1.0, abs(expect))):
                fail(f"region-picture {ind} {measure}", f"{d} but {x} - {y} = {expect}")
    mine = df[df["indicator"].astype(str) == a.indicator]
    if len(mine) != 1:
        fail("region-picture", f"{len(mine)} CSV rows of indicator {a.indicator!r} for {a.region} {a.year}: pick a reported one")
    row = mine.iloc[0]
    # In the DataFrame pyjstat makes, every row still says which area and year it is of.
    js_areas = sorted(set(js.frame["area"].astype(str)))
    js_years = sorted(set(js.frame["year"].astype(str)))
    if js_areas != [a.region] or js_years != [str(a.year)]:
        fail("region-picture json-stat", f"pyjstat's frame is of areas {js_areas} and years {js_years}, not {a.region} {a.year}")
    return csv, js, groups, {
        "as_of_sequence": csv.sequence,
        "rows": len(df),
        "indicators": sorted(csv_inds),
        "value": plain(row["value"]),
        "national_value": plain(row["national_value"]),
        "rank": plain(row["rank"]),
        "regions_ranked": plain(row["regions_ranked"]),
        "previous_value": plain(row["previous_value"]),
        "borders": plain(row["borders"]),
        "jsonstat_borders": js.raw.get("extension", {}).get("cell_borders", {}).get(a.indicator, {}).get("borders"),
        "jsonstat_value": plain(jvalue(js, indicator=a.indicator, measure="value")),
        "jsonstat_national_value": plain(jvalue(js, indicator=a.indicator, measure="national_value")),
        "jsonstat_area": js_areas,
        "jsonstat_columns": [c for c in js.frame.columns],
        "groups": {
            g: {
                "value": plain(row[f"group_{g}_value"]),
                "basis": None if pd.isna(row[f"group_{g}_basis"]) else str(row[f"group_{g}_basis"]),
                "rank": plain(row[f"group_{g}_rank"]),
                "regions_ranked": plain(row[f"group_{g}_regions_ranked"]),
            }
            for g in groups
        },
    }


def national_picture(client, a):
    csv, js = fetch(client, "national-picture", "/v1/national/picture", {"year": a.year}, NATIONAL_COLUMNS, NATIONAL_IDS)
    df = csv.frame
    if list(df.columns) != NATIONAL_COLUMNS:
        fail("national-picture csv", f"columns {list(df.columns)}, expected {NATIONAL_COLUMNS}")
    require_numeric("national-picture csv", df, ["year", "value", "computed_value", "regions_reported", "regions_expected", "min", "median", "max"])
    measures = in_order(js.raw["dimension"]["measure"]["category"]["index"])
    if sorted(measures) != sorted(NATIONAL_MEASURES):
        fail("national-picture json-stat", f"measures {measures}, expected {NATIONAL_MEASURES}")
    csv_inds = list(df["indicator"].astype(str))
    js_inds = in_order(js.raw["dimension"]["indicator"]["category"]["index"])
    if sorted(csv_inds) != sorted(js_inds):
        fail("national-picture", f"CSV has indicators {csv_inds}, JSON-stat {js_inds}")
    for _, row in df.iterrows():
        ind = str(row["indicator"])
        for m in NATIONAL_MEASURES:
            agree(f"national-picture {ind} {m}", row[m], jvalue(js, indicator=ind, measure=m))
    mine = df[df["indicator"].astype(str) == a.indicator]
    if len(mine) != 1:
        fail("national-picture", f"{len(mine)} CSV rows of indicator {a.indicator!r}")
    row = mine.iloc[0]
    return {
        "as_of_sequence": csv.sequence,
        "rows": len(df),
        "value": plain(row["value"]),
        "basis": None if pd.isna(row["basis"]) else str(row["basis"]),
        "computed_value": plain(row["computed_value"]),
        "regions_reported": plain(row["regions_reported"]),
        "regions_expected": plain(row["regions_expected"]),
        "jsonstat_value": plain(jvalue(js, indicator=a.indicator, measure="value")),
    }


def group_picture(client, a, group, name="group-picture"):
    path = f"/v1/groups/{urllib.parse.quote(group, safe='')}/picture"
    csv, js = fetch(client, name, path, {"year": a.year}, GROUP_COLUMNS, GROUP_IDS)
    df = csv.frame
    if list(df.columns) != GROUP_COLUMNS:
        fail(f"{name} csv", f"columns {list(df.columns)}, expected {GROUP_COLUMNS}")
    require_numeric(f"{name} csv", df, ["year", "value", "rank", "regions_ranked"])
    areas = in_order(js.raw["dimension"]["area"]["category"]["index"])
    if len(areas) < 3 or areas[-2:] != [group, "SSS"]:
        fail(f"{name} json-stat", f"areas {areas}: expected the members, then {group}, then SSS")
    members = areas[:-2]
    kinds = {"member": set(members), "group": {group}, "national": {"SSS"}}
    for kind, expect in kinds.items():
        got = set(df[df["area_kind"].astype(str) == kind]["area"].astype(str))
        if not got <= expect:
            fail(f"{name} csv", f"area_kind {kind} rows are of {sorted(got)}, expected only {sorted(expect)}")
    unknown = set(df["area_kind"].astype(str)) - set(kinds)
    if unknown:
        fail(f"{name} csv", f"area_kind values {unknown}")
    for _, row in df.iterrows():
        ind, area = str(row["indicator"]), str(row["area"])
        if area not in areas:
            fail(f"{name} csv", f"area {area!r} is not among the JSON-stat areas {areas}")
        agree(f"{name} {ind} {area}", row["value"], jvalue(js, indicator=ind, area=area))
    # Every JSON-stat cell with a value is a CSV row.
    csv_cells = {(str(r["indicator"]), str(r["area"])) for _, r in df.iterrows()}
    for _, r in js.frame.iterrows():
        if not math.isnan(r["value"]) and (str(r["indicator"]), str(r["area"])) not in csv_cells:
            fail(name, f"JSON-stat has {r['indicator']} {r['area']} = {r['value']}, the CSV has no such row")
    def csv_value(area):
        rows = df[(df["indicator"].astype(str) == a.indicator) & (df["area"].astype(str) == area)]
        return rows["value"].iloc[0] if len(rows) else math.nan
    basis_rows = df[(df["indicator"].astype(str) == a.indicator) & (df["area"].astype(str) == group)]
    return {
        "as_of_sequence": csv.sequence,
        "rows": len(df),
        "members": members,
        "value": plain(csv_value(group)),
        "basis": None if basis_rows.empty or pd.isna(basis_rows["basis"].iloc[0]) else str(basis_rows["basis"].iloc[0]),
        "jsonstat_value": plain(jvalue(js, indicator=a.indicator, area=group)),
        "national_value": plain(csv_value("SSS")),
        "member_values": {m: plain(csv_value(m)) for m in members},
    }


def series(client, a):
    path = "/v1/regions/{}/series/{}".format(urllib.parse.quote(a.region, safe=""), urllib.parse.quote(a.indicator, safe=""))
    csv, js = fetch(client, "series", path, {}, SERIES_COLUMNS, SERIES_IDS)
    df = csv.frame
    if list(df.columns) != SERIES_COLUMNS:
        fail("series csv", f"columns {list(df.columns)}, expected {SERIES_COLUMNS}")
    require_numeric("series csv", df, ["year", "value", "national_value", "rank", "regions_ranked"])
    years = [int(y) for y in df["year"]]
    if years != sorted(set(years)):
        fail("series csv", f"years not one per row in order: {years}")
    js_years = in_order(js.raw["dimension"]["year"]["category"]["index"])
    if [str(y) for y in years] != js_years:
        fail("series", f"CSV years {years}, JSON-stat years {js_years}")
    for _, row in df.iterrows():
        y = int(row["year"])
        for m in ("value", "national_value", "rank", "regions_ranked"):
            agree(f"series {y} {m}", row[m], jvalue(js, year=str(y), measure=m))
    this = df[df["year"] == a.year]
    return {
        "as_of_sequence": csv.sequence,
        "years": len(df),
        "first_year": years[0] if years else None,
        "last_year": years[-1] if years else None,
        "value": plain(this["value"].iloc[0]) if len(this) else None,
    }


def history(client, a):
    path = "/v1/regions/{}/history/{}/{}".format(
        urllib.parse.quote(a.region, safe=""), urllib.parse.quote(a.indicator, safe=""), a.year
    )
    csv, js = fetch(client, "history", path, {}, HISTORY_COLUMNS, HISTORY_IDS)
    df = csv.frame
    if list(df.columns) != HISTORY_COLUMNS:
        fail("history csv", f"columns {list(df.columns)}, expected {HISTORY_COLUMNS}")
    require_numeric("history csv", df, ["sequence", "value"])
    seqs = [int(s) for s in df["sequence"]]
    if seqs != sorted(set(seqs)):
        fail("history csv", f"sequences not increasing: {seqs}")
    js_revs = in_order(js.raw["dimension"]["revision"]["category"]["index"])
    if [str(s) for s in seqs] != js_revs:
        fail("history", f"CSV sequences {seqs}, JSON-stat revisions {js_revs}")
    for _, row in df.iterrows():
        s = str(int(row["sequence"]))
        agree(f"history {s} value", row["value"], jvalue(js, revision=s, measure="value"))
        retracted = str(row["retracted"]).lower() == "true"
        if retracted and not math.isnan(number(row["value"])):
            fail(f"history {s}", f"a retraction with value {row['value']}")
    return {
        "as_of_sequence": csv.sequence,
        "revisions": len(df),
        "sequences": seqs,
        "values": [plain(v) for v in df["value"]],
        "last_value": plain(df["value"].iloc[-1]) if len(df) else None,
    }


# ---------------------------------------------------------------------------------------
# CSV shapes: the Finnish dialect and the long layout
# ---------------------------------------------------------------------------------------


def endpoint_paths(a):
    """Each endpoint's path and parameters, for a region, the country, a group, a series
    and a history."""
    region = urllib.parse.quote(a.region, safe="")
    indicator = urllib.parse.quote(a.indicator, safe="")
    return [
        ("region-picture", f"/v1/regions/{region}/picture", {"year": a.year}),
        ("national-picture", "/v1/national/picture", {"year": a.year}),
        ("group-picture", f"/v1/groups/{urllib.parse.quote(a.group, safe='')}/picture", {"year": a.year}),
        ("series", f"/v1/regions/{region}/series/{indicator}", {}),
        ("history", f"/v1/regions/{region}/history/{indicator}/{a.year}", {}),
    ]


def get_csv(client, what, path, params):
    status, headers, body = client.get(path, {**params, "format": "csv"})
    if status != 200:
        fail(what, f"HTTP {status}: {body[:500]}")
    if media_type(headers) != "text/csv":
        fail(what, f"Content-Type {headers.get('Content-Type')!r}, expected text/csv")
    return as_of_sequence(what, headers), body


def finnish_dialect(client, a):
    """Every endpoint as `lang=fi` answers it (a byte order mark, `;` between fields, a decimal
    comma) read by pandas with `sep=';', decimal=','`, against the international dialect of
    the same answer (`lang=fi&csv_dialect=international`: the same Finnish names) read as
    usual: the same columns, the same numbers (numbers to both), the same text."""
    out = {}
    for layout in ("wide", "long"):
        for name, path, params in endpoint_paths(a):
            what = f"{name} {layout} csv lang=fi"
            params = {**params, "layout": layout, "lang": "fi"}
            seq, default = get_csv(client, f"{name} {layout} csv", path, {**params, "csv_dialect": "international"})
            fi_seq, fi = get_csv(client, what, path, params)
            if seq != fi_seq:
                fail(what, f"answered as of {fi_seq}, the default as of {seq}: nothing is written meanwhile")
            if not fi.startswith("\ufeff") or default.startswith("\ufeff"):
                fail(what, "a byte order mark starts the Finnish CSV only")
            if ";" not in fi.splitlines()[0] or "," in fi.splitlines()[0].lstrip("\ufeff"):
                fail(what, f"header {fi.splitlines()[0]!r}: fields are separated by ';'")
            try:
                a_df = pd.read_csv(io.StringIO(default), keep_default_na=False, na_values=[""])
                fi_df = pd.read_csv(io.StringIO(fi), sep=";", decimal=",", keep_default_na=False, na_values=[""])
            except Exception as e:
                fail(what, f"pandas.read_csv cannot read it: {type(e).__name__}: {e}\n{fi[:500]}")
            if list(fi_df.columns) != list(a_df.columns):
                fail(what, f"columns {list(fi_df.columns)}, the default's {list(a_df.columns)}")
            if len(fi_df) != len(a_df) or len(a_df) == 0:
                fail(what, f"{len(fi_df)} rows, the default {len(a_df)}")
            numeric = [c for c in a_df.columns if pd.api.types.is_numeric_dtype(a_df[c])]
            for c in a_df.columns:
                if c in numeric:
                    require_numeric(what, fi_df, [c])
                    for x, y in zip(a_df[c], fi_df[c]):
                        if not same(x, y):
                            fail(what, f"column {c}: {y!r}, the default {x!r}")
                elif list(fi_df[c].fillna("").astype(str)) != list(a_df[c].fillna("").astype(str)):
                    fail(what, f"column {c} differs from the default's")
            out[f"{name} {layout}"] = {"rows": len(fi_df), "numeric_columns": len(numeric)}
            print(f"OK finnish-dialect {name} {layout} rows={len(fi_df)} numeric={len(numeric)}", flush=True)
    return out


def long_layout(client, a, group):
    """Long answers of the region, of another region (a member of `group`, the group picture
    read), of the national picture, the group picture, the series and the history, stacked
    with pandas.concat: the same columns from each, every row with its area and indicator
    names and unit, never both a share and a difference."""
    frames = []
    region = urllib.parse.quote(a.region, safe="")
    other = next((m for m in group["members"] if m != a.region), None)
    paths = endpoint_paths(a)
    if other is not None:
        paths.append(("other-region-picture", f"/v1/regions/{urllib.parse.quote(other, safe='')}/picture", {"year": a.year}))
    for name, path, params in paths:
        what = f"{name} long csv"
        _, body = get_csv(client, what, path, {**params, "layout": "long"})
        df = read_csv(what, body, LONG_COLUMNS)
        if list(df.columns) != LONG_COLUMNS:
            fail(what, f"columns {list(df.columns)}, expected {LONG_COLUMNS}")
        if len(df) == 0:
            fail(what, "no rows")
        require_numeric(what, df, ["year", "value", "national_value", "national_share", "national_difference", "rank", "regions_ranked", "as_of_sequence"])
        frames.append(df.assign(answer=name))
    stacked = pd.concat(frames, ignore_index=True)
    if list(stacked.columns) != LONG_COLUMNS + ["answer"]:
        fail("long stacked", f"columns {list(stacked.columns)}: the answers' columns differ")
    for c in ("area_name", "indicator_name", "unit", "area_kind"):
        if stacked[c].isna().any():
            fail("long stacked", f"rows without {c}: {stacked[stacked[c].isna()].head()}")
    both = stacked[stacked["national_share"].notna() & stacked["national_difference"].notna()]
    if len(both):
        fail("long stacked", f"{len(both)} rows with both a share and a difference: {both.head()}")
    def value(answer, area, year=a.year):
        rows = stacked[(stacked["answer"] == answer) & (stacked["area"].astype(str) == area)
                       & (stacked["indicator"].astype(str) == a.indicator) & (stacked["year"] == year)]
        if len(rows) != 1:
            fail("long stacked", f"{len(rows)} rows of {answer} {area} {a.indicator} {year}")
        return rows.iloc[0]
    mine = value("region-picture", a.region)
    national = value("national-picture", "SSS")
    return {
        "rows": len(stacked),
        "columns": list(stacked.columns[:-1]),
        "answers": sorted(set(stacked["answer"])),
        "areas": sorted(set(stacked["area"].astype(str))),
        "area_kinds": sorted(set(stacked["area_kind"].astype(str))),
        "value": plain(mine["value"]),
        "national_value": plain(mine["national_value"]),
        "national_share": plain(mine["national_share"]),
        "national_difference": plain(mine["national_difference"]),
        "area_name": str(mine["area_name"]),
        "indicator_name": str(mine["indicator_name"]),
        "unit": str(mine["unit"]),
        "national_row_value": plain(national["value"]),
        "series_value": plain(value("series", a.region)["value"]),
        "other_region": other,
    }


# ---------------------------------------------------------------------------------------
# Protocol checks
# ---------------------------------------------------------------------------------------


def check_auth(client, a):
    path = f"/v1/regions/{urllib.parse.quote(a.region, safe='')}/picture"
    out = {}
    for label, token in (("missing", None), ("unknown", "tk_not_a_token")):
        what = f"auth ({label} token)"
        status, headers, body = client.get(path, {"year": a.year}, token=token)
        if status != 401:
            fail(what, f"HTTP {status}, expected 401: {body[:300]}")
        www = headers.get("WWW-Authenticate") or ""
        if not www.lower().startswith("bearer"):
            fail(what, f"WWW-Authenticate {www!r}, expected Bearer")
        check_error_body(what, headers, body, "UNAUTHENTICATED")
        out[label] = status
        print(f"OK auth {label}-token status=401", flush=True)
    return out


def check_error_body(what, headers, body, code=None):
    if media_type(headers) != "application/json":
        fail(what, f"error Content-Type {headers.get('Content-Type')!r}, expected application/json")
    try:
        err = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        fail(what, f"error body is not {{\"error\": {{...}}}}: {body[:300]}")
    if not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str):
        fail(what, f"error without code and message: {body[:300]}")
    if code is not None and err["code"] != code:
        fail(what, f"error code {err['code']!r}, expected {code!r}")
    return err


def check_errors(client, a):
    """Bad parameters: 400 INVALID_ARGUMENT naming the field."""
    picture = f"/v1/regions/{urllib.parse.quote(a.region, safe='')}/picture"
    cases = [
        ("year missing", picture, {}, "year"),
        ("year not a number", picture, {"year": "abc"}, "year"),
        ("year out of range", picture, {"year": "99999"}, "year"),
        ("unknown region", "/v1/regions/NO_SUCH_REGION/picture", {"year": a.year}, None),
        ("unknown group", "/v1/groups/NO_SUCH_GROUP/picture", {"year": a.year}, None),
        ("unknown indicator", f"/v1/regions/{a.region}/series/no_such_indicator", {}, None),
        ("bad lang", picture, {"year": a.year, "lang": "de"}, "lang"),
        ("bad as_of", picture, {"year": a.year, "as_of": "yesterday"}, "as_of"),
        ("negative min_sequence", picture, {"year": a.year, "min_sequence": "-1"}, "min_sequence"),
        ("long layout of JSON-stat", picture, {"year": a.year, "layout": "long"}, "layout"),
        ("unknown csv dialect", picture, {"year": a.year, "format": "csv", "csv_dialect": "excel"}, "csv_dialect"),
    ]
    for label, path, params, field in cases:
        what = f"error ({label}: GET {path} {params})"
        status, headers, body = client.get(path, params)
        if status != 400:
            fail(what, f"HTTP {status}, expected 400: {body[:300]}")
        as_of_sequence(what, headers)
        err = check_error_body(what, headers, body, "INVALID_ARGUMENT")
        if field is not None:
            fields = [str(v.get("field")) for v in err.get("violations") or []]
            if not any(f == field or f.startswith(field + ".") for f in fields):
                fail(what, f"violations {fields} do not name {field!r}: {body[:300]}")
        print(f"OK error {label.replace(' ', '-')} status=400", flush=True)


def check_accept(client, a):
    path = f"/v1/regions/{urllib.parse.quote(a.region, safe='')}/picture"
    status, headers, body = client.get(path, {"year": a.year}, accept="text/csv")
    what = "Accept: text/csv without format"
    if status != 200 or media_type(headers) != "text/csv":
        fail(what, f"HTTP {status} {headers.get('Content-Type')!r}, expected 200 text/csv")
    read_csv(what, body, REGION_COLUMNS)
    status, headers, body = client.get(path, {"year": a.year})
    what = "no format, no Accept"
    if status != 200 or media_type(headers) != "application/json":
        fail(what, f"HTTP {status} {headers.get('Content-Type')!r}, expected 200 application/json (JSON-stat is the default)")
    print("OK accept text/csv picks csv; json-stat by default", flush=True)


def check_as_of_one(client, a):
    """as_of=1: the state after the log's first event (the catalog), with no values yet."""
    path = f"/v1/regions/{urllib.parse.quote(a.region, safe='')}/picture"
    out = {}
    for fmt in ("csv", "json-stat"):
        what = f"as_of=1 region-picture {fmt}"
        status, headers, body = client.get(path, {"year": a.year, "as_of": "1", "format": fmt})
        if status != 200:
            fail(what, f"HTTP {status}: {body[:300]}")
        seq = as_of_sequence(what, headers)
        if seq != 1:
            fail(what, f"X-As-Of-Sequence {seq}, expected 1")
        if fmt == "csv":
            df = read_csv(what, body, REGION_COLUMNS)
            values = df["value"].dropna()
        else:
            df, doc = read_jsonstat(what, body, REGION_IDS)
            values = df["value"].dropna()
            if (doc.get("extension") or {}).get("as_of_sequence", 1) != 1:
                fail(what, f"extension.as_of_sequence {doc['extension']['as_of_sequence']}")
        if len(values):
            fail(what, f"{len(values)} values in the catalog-only state: {list(values[:5])}")
        out[fmt] = {"sequence": seq, "rows": len(df)}
        print(f"OK as-of-1 {fmt} rows={len(df)} values=0", flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="the server's HTTP listener, e.g. http://127.0.0.1:9464")
    p.add_argument("--token", help="a bearer token (any role); then a request without one must be 401")
    p.add_argument("--region", default="MK01")
    p.add_argument("--group", default="FI1D")
    p.add_argument("--indicator", default="unemployment_rate_15_74")
    p.add_argument("--year", type=int, default=2019)
    p.add_argument("--borders", help="the borders every picture and series is read on (latest, own, a year)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    a = p.parse_args()
    client = Client(a.base, a.token, a.timeout, a.borders)
    result = {"region": a.region, "group": a.group, "indicator": a.indicator, "year": a.year}
    try:
        if a.token:
            result["auth"] = check_auth(client, a)
        _, _, groups, result["region_picture"] = region_picture(client, a)
        result["national_picture"] = national_picture(client, a)
        result["group_picture"] = group_picture(client, a, a.group)
        # The region picture's group figures are the groups' own pictures' figures.
        for g in groups:
            gp = result["group_picture"] if g == a.group else group_picture(client, a, g, f"group-picture-{g}")
            if a.region not in gp["members"]:
                fail(f"group {g}", f"{a.region}'s picture has group {g}, whose members {gp['members']} do not include it")
            if not same(result["region_picture"]["groups"][g]["value"], gp["value"]):
                fail(f"group {g} {a.indicator}",
                     f"region picture says {result['region_picture']['groups'][g]['value']}, group picture {gp['value']}")
        if a.region in result["group_picture"]["members"]:
            agree(f"group-picture {a.region} {a.indicator}", result["group_picture"]["member_values"][a.region],
                  result["region_picture"]["value"])
        result["series"] = series(client, a)
        if not same(result["series"]["value"], result["region_picture"]["value"]):
            fail("series", f"{a.year} value {result['series']['value']}, region picture {result['region_picture']['value']}")
        result["history"] = history(client, a)
        if result["history"]["revisions"] == 0:
            fail("history", f"no revisions of {a.region} {a.indicator} {a.year}, whose picture has a value")
        if not any(same(v, result["region_picture"]["value"]) for v in result["history"]["values"]):
            fail("history", f"no revision has the current value {result['region_picture']['value']}: {result['history']['values']}")
        result["finnish_dialect"] = finnish_dialect(client, a)
        result["long"] = long_layout(client, a, result["group_picture"])
        check_accept(client, a)
        check_errors(client, a)
        result["as_of_1"] = check_as_of_one(client, a)
    except Failure as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
