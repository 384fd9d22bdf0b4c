#!/usr/bin/env python3
"""Checks data/areas/ against the published totals (stdlib only).

Usage: python3 data/areas/check.py [areas_dir]
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""
import collections
import csv
import json
import os
import sys

DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
errors = []


def check(ok, what):
    if not ok:
        errors.append(what)


def read(name):
    with open(os.path.join(DIR, name), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


key = read("municipality_key_2013_2026.csv")
# The municipal population is a bundled official table (JSON-stat): THL Sotkanet 127.
with open(os.path.join(DIR, "..", "official", "tables", "thl_sotkanet_127_population_2000_2022.json"),
          encoding="utf-8") as fh:
    table = json.load(fh)
merged = read("municipalities_merged_2000_2022.csv") + read("municipalities_merged_2023_2026.csv")

# The key: municipalities on 1 January of each year, each in one region.
by_year = collections.defaultdict(dict)
for r in key:
    year, m = int(r["year"]), r["municipality"]
    check(m not in by_year[year], f"{m} twice in {year}")
    check(m.startswith("KU") and len(m) == 5, f"municipality code {m!r}")
    check(r["region"].startswith("MK") and len(r["region"]) == 4, f"{year} {m}: region {r['region']!r}")
    by_year[year][m] = r
counts = {y: len(ms) for y, ms in sorted(by_year.items())}
check(counts == {2013: 320, 2014: 320, 2015: 317, 2016: 313, 2017: 311, 2018: 311, 2019: 311,
                 2020: 310, 2021: 309, 2022: 309, 2023: 309, 2024: 309, 2025: 308, 2026: 308},
      f"municipalities per year: {counts}")
check(all(len({r["region"] for r in by_year[y].values()}) == 19 for y in by_year),
      "19 regions (with Åland) every year")

# The region moves of 1.1.2021.
for m, before, after in [("KU090", "MK10", "MK12"), ("KU171", "MK10", "MK11"), ("KU142", "MK08", "MK07"),
                         ("KU291", "MK13", "MK06"), ("KU152", "MK15", "MK14")]:
    was, now = by_year[2020][m]["region"], by_year[2021][m]["region"]
    check((was, now) == (before, after), f"{m} 2020 {was} -> 2021 {now}, not {before} -> {after}")
moved = [m for m in by_year[2021] if m in by_year[2020]
         and by_year[2020][m]["region"] != by_year[2021][m]["region"]]
check(len(moved) == 5, f"municipalities that changed region on 1.1.2021: {moved}")

# Every code that ends between two keys merged into a municipality of the later key, on
# the 1 January the later key begins (Pertunmaa, KU588, into Mäntyharju on 1.1.2025).
joined = {r["municipality"]: r["joined"] for r in merged}
joined_on = {r["municipality"]: int(r["date"][:4]) for r in merged}
for y in range(2013, 2026):
    for m in set(by_year[y]) - set(by_year[y + 1]):
        check(joined.get(m) in by_year[y + 1], f"{m} ends in {y} without a successor in {y + 1}")
        check(joined_on.get(m) == y + 1, f"{m} ends in {y}, its merger is dated {joined_on.get(m)}")
check(joined.get("KU588") == "KU507", "Pertunmaa merged into Mäntyharju")

def parts(m, borders):
    """The municipalities of 1.1.`borders` that make up the 2021 municipality `m`."""
    if borders >= 2021:
        return [m] if m in by_year[borders] else []

    def successor(code):
        while code not in by_year[2021] and code in joined:
            code = joined[code]
        return code

    return [p for p in by_year[borders] if successor(p) == m]


def region_of(m, borders):
    """The region of 1.1.`borders` the 2021 municipality `m` lies in, or None when its
    parts lie in more than one (or it has none: a municipality that merged into another is
    placed where its successor lies)."""
    if borders > 2021 and m not in by_year[borders] and m in joined:
        return region_of(joined[m], borders)
    regions = {by_year[borders][q]["region"] for q in parts(m, borders)}
    return regions.pop() if len(regions) == 1 else None


# Population 31.12., on the 2021 municipalities.
munis = table["dimension"]["Alue"]["category"]["index"]
years = table["dimension"]["Vuosi"]["category"]["index"]
check(table["id"] == ["Alue", "Vuosi", "Tiedot"] and table["size"][2] == 1, "population table shape")
pop = {(m, int(y)): table["value"][i * len(years) + j]
       for i, m in enumerate(munis) for j, y in enumerate(years)
       if table["value"][i * len(years) + j] is not None}
check({m for m, _ in pop} == set(by_year[2021]), "population covers the 2021 municipalities")
check(len(pop) == 309 * 23, f"{len(pop)} population figures, not 309 x 23")


def region_total(region, year, borders):
    """Population 31.12.`year` of `region` on the borders of 1.1.`borders`: the 2021
    municipalities whose parts then all lay in it."""
    return sum(p for (m, y), p in pop.items() if y == year and region_of(m, borders) == region)


check(sum(p for (m, y), p in pop.items() if y == 2020) == 5_533_793, "Finland 31.12.2020")
check(sum(p for (m, y), p in pop.items() if y == 2016) == 5_503_297, "Finland 31.12.2016")
check(pop[("KU091", 2020)] == 656_920, "Helsinki 31.12.2020")
check(region_total("MK01", 2020, 2021) == 1_702_678, "Uusimaa 31.12.2020")
check(region_total("MK11", 2020, 2021) == 248_265, "Pohjois-Savo 31.12.2020 on the 2021 borders")
check(region_total("MK10", 2020, 2021) == 132_702, "Etelä-Savo 31.12.2020 on the 2021 borders")
check(region_total("MK10", 2020, 2020) == 140_587, "Etelä-Savo 31.12.2020 on the 2020 borders")

# Regions put together from the 2021 municipalities: on every division 2013-2026 each 2021
# municipality lies wholly inside one region (its parts on earlier borders, through the
# mergers, all in that region; on later borders, with the municipality it merged into), so
# a region's population on any of those borders is the sum of its municipalities'.
for borders in range(2013, 2027):
    unplaced = [m for m in by_year[2021] if region_of(m, borders) is None]
    check(unplaced == [], f"2021 municipalities not inside one region of {borders}: {unplaced}")
check(region_total("MK10", 2020, 2026) == 132_702, "Etelä-Savo 31.12.2020 on the 2026 borders")

for e in errors:
    print("FAIL:", e)
print(f"{len(errors)} failed" if errors else "ok: data/areas matches the published totals")
sys.exit(1 if errors else 0)
