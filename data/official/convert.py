#!/usr/bin/env python3
"""Makes data/official/tables/ from the published originals (stdlib only).

Usage: python3 data/official/convert.py SOURCE_DIR
SOURCE_DIR holds the originals as mirrored (jsonstat/, px/, pttry/, geofi/: see README.md).
The PX and JSON-stat files of Statistics Finland are copied byte for byte; the tables that
reached us as CSV renderings of R data are written as JSON-stat 2.0 datasets with the same
figures (no `updated`: the mirrors do not say when the publisher released them).
"""
import collections
import csv
import json
import os
import shutil
import sys

SRC = sys.argv[1]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tables")


def read(path):
    with open(os.path.join(SRC, path), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def dataset(label, source, table_id, note, dims, value, roles):
    """A JSON-stat 2.0 dataset; dims: [(id, label, [(code, label)])], value: dict of
    index tuple -> number (absent cells are null)."""
    sizes = [len(c) for _, _, c in dims]
    dense = [None] * (1 if not sizes else __import__("math").prod(sizes))
    pos = [{code: i for i, (code, _) in enumerate(c)} for _, _, c in dims]
    for key, v in value.items():
        i = 0
        for d, k in enumerate(key):
            i = i * sizes[d] + pos[d][k]
        dense[i] = v
    return {
        "version": "2.0",
        "class": "dataset",
        "label": label,
        "source": source,
        "note": note,
        "id": [d for d, _, _ in dims],
        "size": sizes,
        "dimension": {
            d: {"label": lab, "category": {"index": [c for c, _ in cats],
                                           "label": {c: l for c, l in cats}}}
            for d, lab, cats in dims
        },
        "role": roles,
        "value": dense,
        "extension": {"px": {"tableid": table_id}},
    }


def write(name, ds):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as fh:
        json.dump(ds, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")


def number(s):
    v = float(s)
    return int(v) if v == int(v) else v


os.makedirs(OUT, exist_ok=True)
for f in ["jsonstat/statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json",
          "jsonstat/statfin_rpk_pxt_135l_total_sss_1987_2020.json",
          "px/statfin_vaerak_pxt_11rc.px"]:
    shutil.copyfile(os.path.join(SRC, f), os.path.join(OUT, os.path.basename(f)))

# StatFin 12r5: the employment service statistics by month and area.
rows = read("pttry/tyonv_12r5_all_areas_monthly_2006_2023.csv")
areas = sorted({r["area"] for r in rows}, key=lambda a: ({"SS": 0, "MK": 1, "SK": 2, "KU": 3}.get(a[:2], 4), a))
months = sorted({r["month"] for r in rows})
series = [("TYOTTOMATLOPUSSA", "Työttömät työnhakijat kuukauden lopussa"),
          ("TYOVOIMATK", "Työvoima (työssäkäyntitilasto)"),
          ("AVPAIKATLOPUSSA", "Avoimet työpaikat kuukauden lopussa")]
value = {(r["area"], r["month"].replace("-", "M"), r["series"]): number(r["value"])
         for r in rows if r["value"] not in ("", "NA")}
write("statfin_tyonv_pxt_12r5_2006_2023.json", dataset(
    "Työnvälitystilasto: työttömät työnhakijat, työvoima ja avoimet työpaikat alueittain ja kuukausittain 2006M01-2023M10",
    "Tilastokeskus ja työ- ja elinkeinoministeriö, työnvälitystilasto (StatFin 12r5)",
    "statfin_tyonv_pxt_12r5",
    ["Areas on the division in force when the table was downloaded (2023).",
     "Converted from pttry/kohtaantoindeksit data/tyonv_12r5.rda (commit ad3341826d), "
     "sha256 f30a8d2b085715625c4138b5da1299169b5ddde804095660aebe48e4bc2542f0."],
    [("Alue", "Alue", [(a, a) for a in areas]),
     ("Kuukausi", "Kuukausi", [(m.replace("-", "M"), m.replace("-", "M")) for m in months]),
     ("Tiedot", "Tiedot", series)],
    value, {"geo": ["Alue"], "time": ["Kuukausi"], "metric": ["Tiedot"]}))

# Kuntien avainluvut 2006-2016: municipalities by Finnish name (on the 2017 municipalities).
rows = read("pttry/kuntien_avainluvut_2006_2016.csv")
variables = [c for c in rows[0].keys() if c not in ("Alue", "vuosi")]
names = sorted({r["Alue"] for r in rows})
years = sorted({r["vuosi"] for r in rows})
value = {(r["Alue"], r["vuosi"], v): number(r[v]) for r in rows for v in variables
         if r[v] not in ("", "NA")}
write("kuntien_avainluvut_2006_2016.json", dataset(
    "Kuntien avainluvut 2006-2016",
    "Tilastokeskus, kuntien avainluvut",
    "kuntien_avainluvut",
    ["Municipalities by their Finnish names, on the 2017 municipalities.",
     "Converted from pttry/KT162R data/kuntien_avainluvut.rds (commit 7367e91f49), "
     "sha256 97cb37ff71ce0880af70dd2aaee575be9ad4b7873163bd6c9737ba826d4f062c."],
    [("Alue", "Alue", [(n, n) for n in names]),
     ("Vuosi", "Vuosi", [(y, y) for y in years]),
     ("Tiedot", "Tiedot", [(v, v.replace("_", " ")) for v in variables])],
    value, {"time": ["Vuosi"], "metric": ["Tiedot"]}))

# THL Sotkanet indicator 127: population 31.12 by municipality, on the 2021 municipalities.
rows = read("geofi/sotkanet_population_kunta_2000_2022.csv")
munis = sorted({r["kunta_id"] for r in rows})
years = sorted({r["year"] for r in rows})
value = {(r["kunta_id"], r["year"], "vaesto"): number(r["population"]) for r in rows
         if r["population"] not in ("", "NA")}
write("thl_sotkanet_127_population_2000_2022.json", dataset(
    "Väestö 31.12. kunnittain 2000-2022 (Sotkanet-indikaattori 127)",
    "THL Sotkanet (Tilastokeskuksen väestötilastosta)",
    "sotkanet_127",
    ["On the 2021 municipalities for every year: earlier figures of merged municipalities "
     "are summed into their successor.",
     "Converted from rOpenGov/geofi data/sotkadata_population.rda (commit 18c8c7fa27), "
     "sha256 5ca31c77d38c8f9cb51cca1f42c76c351f2fd38a6267813d256b52d918856650."],
    [("Alue", "Alue", [(m, m) for m in munis]),
     ("Vuosi", "Vuosi", [(y, y) for y in years]),
     ("Tiedot", "Tiedot", [("vaesto", "Väestö 31.12.")])],
    value, {"time": ["Vuosi"], "metric": ["Tiedot"]}))
