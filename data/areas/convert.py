#!/usr/bin/env python3
"""Makes the files of data/areas/ from the published originals (stdlib only).

Usage: python3 data/areas/convert.py SOURCE_DIR
SOURCE_DIR holds the CSV renderings of the originals README.md names (the municipality key
2013-2026 and Statistics Finland's list of abolished municipalities; the municipal
population is a table of data/official/). Run once when a source changes; the service never runs it.
"""
import csv
import os
import sys

src = sys.argv[1]
out = os.path.dirname(os.path.abspath(__file__))


def rows(path):
    with open(os.path.join(src, path), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write(name, header, body):
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)


def code(prefix, value, width):
    """A classification code as the key writes it ("6.0", "06", "") with its prefix."""
    if value.strip() == "":
        return ""
    return prefix + str(int(float(value))).zfill(width)


key = rows("geofi/kunta_maakunta_key_2013_2026.csv")
write(
    "municipality_key_2013_2026.csv",
    ["year", "municipality", "name_fi", "name_sv", "name_en", "region", "sub_region",
     "sub_region_name_fi", "wellbeing_county", "wellbeing_county_name_fi"],
    sorted(
        (
            int(r["year"]), r["kunta_id"], r["municipality_name_fi"], r["municipality_name_sv"],
            r["municipality_name_en"], r["maakunta_id"], code("SK", r["seutukunta_code"], 3),
            r["seutukunta_name_fi"], code("HV", r["hyvinvointialue_code"], 2),
            r["hyvinvointialue_name_fi"],
        )
        for r in key
    ),
)

abolished = rows("statfi_classifications/lakkautetut_kunnat_1922_2022.csv")
merged = []
for r in abolished:
    date = r["Ajankohta"]
    joined = r["Liitoskunta / Liitoskunnat koodi"]
    if date >= "2000-01-01" and joined.isdigit():
        merged.append((date, "KU" + r["Lakkautetun kunnan koodi"].zfill(3), r["Lakkautettu kunta"],
                       "KU" + joined.zfill(3), r["Liitoskunta / Liitoskunnat"]))
write("municipalities_merged_2000_2022.csv",
      ["date", "municipality", "name_fi", "joined", "joined_name_fi"], sorted(merged))
