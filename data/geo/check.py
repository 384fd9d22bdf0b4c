#!/usr/bin/env python3
"""Checks data/geo/ against the key and the published totals (stdlib only).

Usage: python3 data/geo/check.py
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""
import csv
import json
import os
import sys

DIR = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(DIR, "..")
errors = []


def check(ok, what):
    if not ok:
        errors.append(what)


def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


key = read(os.path.join(DATA, "areas", "municipality_key_2013_2026.csv"))

# Every boundary file holds exactly the municipalities of its year's key.
for year in (2013, 2021, 2023):
    with open(os.path.join(DIR, f"nls_kuntarajat.{year}.geojson"), encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    codes = set()
    edges = {}
    for f in features:
        p = f["properties"]
        codes.add("KU%03d" % int(p.get("NATCODE", p.get("natcode"))))
        g = f["geometry"]
        polygons = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        for ring in (r for polygon in polygons for r in polygon):
            for a, b in zip(ring, ring[1:]):
                edge = (min(tuple(a), tuple(b)), max(tuple(a), tuple(b)))
                edges[edge] = edges.get(edge, 0) + 1
    # A border between two municipalities is the same points in both: every edge is
    # drawn once (the country's edge) or twice (between two municipalities).
    check(set(edges.values()) == {1, 2}, f"{year}: edges drawn {sorted(set(edges.values()))} times")
    keyed = {r["municipality"] for r in key if r["year"] == str(year)}
    check(codes == keyed, f"{year}: boundaries {len(codes)} municipalities, key {len(keyed)}; "
          f"differ in {sorted(codes ^ keyed)[:5]}")

# Itä-Uusimaa (MK03), which ended on 1.1.2011: its municipalities (2013 codes) add up to the
# region's published population 31.12.2006 and 31.12.2007 (the demo's release of
# 2008-03-28, on the 2008 borders), from THL Sotkanet 127 on the 2021 municipal borders.
before = read(os.path.join(DIR, "regions_before_2013.csv"))
members = [r["municipality"] for r in before if r["region"] == "MK03"]
with open(os.path.join(DATA, "official", "tables", "thl_sotkanet_127_population_2000_2022.json"),
          encoding="utf-8") as fh:
    table = json.load(fh)
areas = table["dimension"]["Alue"]["category"]["index"]
years = table["dimension"]["Vuosi"]["category"]["index"]
areas = areas if isinstance(areas, list) else sorted(areas, key=areas.get)
years = years if isinstance(years, list) else sorted(years, key=years.get)


def population(area, year):
    return table["value"][areas.index(area) * len(years) + years.index(str(year))]


# Pukkila (KU616) merged into Orimattila (Päijät-Häme) in 2016: on the 2021 borders its
# people are Orimattila's, so it is added from the same release's municipal figure below.
published = {}
for row in read(os.path.join(DATA, "demo", "010_population_2006_2007_release_2008-03-28.csv")):
    if row["region_code"] == "03" and row["indicator_id"] == "population":
        published[int(row["year"])] = int(float(row["value"]))
# THL Sotkanet indicator 127, Pukkila's own rows (the municipal series before the merger).
PUKKILA = {2006: 2018, 2007: 2022}
for year, total in sorted(published.items()):
    summed = sum(population(m, year) for m in members if m != "KU616") + PUKKILA[year]
    check(summed == total, f"MK03 {year}: municipalities add up to {summed}, published {total}")
check(len(published) == 2, f"the release gives MK03 for 2006 and 2007: {sorted(published)}")

for e in errors:
    print("FAIL:", e)
print(f"data/geo: {'ok' if not errors else str(len(errors)) + ' failures'}")
sys.exit(1 if errors else 0)
