#!/usr/bin/env python3
"""Writes a synthetic official table of about 10 million cells, as PX and as JSON-stat, for
bench/tables.sh (stdlib only): the real areas of the bundled 135l answer (19 regions and
309 municipalities, plus SSS) x 35 years x 3 sexes x 100 ages x 3 contents; every 97th
cell a missing-value symbol. Usage: make_table.py OUT_DIR
"""
import json
import os
import sys

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
real = json.load(open(os.path.join(here, "..", "data", "official", "tables",
                                   "statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json")))
areas = ["SSS"] + list(real["dimension"]["Alue"]["category"]["index"].keys())
years = [str(y) for y in range(1990, 2025)]
sexes = ["SSS", "1", "2"]
ages = ["SSS"] + [str(a) for a in range(99)]
contents = ["vaesto", "syntyneet", "kuolleet"]
dims = [("Alue", areas), ("Vuosi", years), ("Sukupuoli", sexes), ("Ikä", ages), ("Tiedot", contents)]
cells = 1
for _, c in dims:
    cells *= len(c)


def value(i):
    return None if i % 97 == 0 else (i * 7919) % 100000


os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "synthetic.json"), "w", encoding="utf-8") as fh:
    fh.write('{"version":"2.0","class":"dataset","label":"Synthetic","source":"bench",'
             '"updated":"2026-12-06T00:00:00Z","id":%s,"size":%s,"dimension":{'
             % (json.dumps([d for d, _ in dims]), json.dumps([len(c) for _, c in dims])))
    fh.write(",".join('"%s":{"label":"%s","category":{"index":%s}}' % (d, d, json.dumps(c))
                      for d, c in dims))
    fh.write('},"role":{"time":["Vuosi"],"geo":["Alue"],"metric":["Tiedot"]},'
             '"extension":{"px":{"tableid":"bench_synthetic"}},"value":[')
    fh.write(",".join("null" if value(i) is None else str(value(i)) for i in range(cells)))
    fh.write("]}\n")
with open(os.path.join(out, "synthetic.px"), "w", encoding="utf-8") as fh:
    fh.write('CHARSET="ANSI";\nAXIS-VERSION="2013";\nCODEPAGE="utf-8";\nLANGUAGE="fi";\n'
             'TABLEID="bench_synthetic";\nTITLE="Synthetic";\nCONTENTS="Synthetic";\n'
             'UNITS="lkm";\nSTUB="Alue","Vuosi","Sukupuoli","Ikä";\nHEADING="Tiedot";\n'
             'CONTVARIABLE="Tiedot";\nLAST-UPDATED("vaesto")="20261206 08:00";\n')
    for d, c in dims:
        fh.write('VALUES("%s")=%s;\n' % (d, ",".join('"%s"' % x for x in c)))
    fh.write('TIMEVAL("Vuosi")=TLIST(A1),%s;\nDATA=\n' % ",".join('"%s"' % y for y in years))
    row = len(contents)
    for start in range(0, cells, row):
        fh.write(" ".join('".."' if value(i) is None else str(value(i))
                          for i in range(start, start + row)))
        fh.write("\n")
    fh.write(";\n")
with open(os.path.join(out, "synthetic.toml"), "w", encoding="utf-8") as fh:
    fh.write('[table]\nid = "bench_synthetic"\npublisher = "bench"\nborders = 2021\n\n'
             '[area]\ndimension = "Alue"\n\n[time]\ndimension = "Vuosi"\n\n'
             '[select]\nSukupuoli = "SSS"\n"Ikä" = "SSS"\n\n'
             '[[indicator]]\ncontent = "vaesto"\nindicator = "population"\n')
print(cells, "cells")
