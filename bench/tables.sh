#!/usr/bin/env bash
# Import speed of official tables (BENCHMARKS.md), release build:
#
#   cargo build --release && bench/tables.sh
#
# 1. The bundled StatFin 135l answer (11 152 cells): read and plan (--dry-run), and the
#    whole import into a fresh server (read, plan, check every submission, submit).
# 2. A synthetic table of ~10 million cells (bench/make_table.py), as PX and as JSON-stat:
#    read and plan (--dry-run); the time and the peak resident memory of the process.
# 3. Reads "as published by" a date on the demo store (see the end).
# Each is run $RUNS times (default 3); /usr/bin/time -f gives seconds and peak RSS (kB).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/tilannekuva}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
trap 'if [ -n "$SERVER" ]; then kill "$SERVER"; wait "$SERVER"; fi 2>/dev/null; rm -rf "$WORK"' EXIT
SERVER=

timed() { # label, command...: prints "label seconds peak-kB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null
  echo "$label $(cat "$WORK/time")"
}

M135=data/official/mappings/statfin_rpk_pxt_135l.toml
T135=data/official/tables/statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json
for r in $(seq "$RUNS"); do
  timed "135l-dry-run" "$BIN" import-table --mapping "$M135" --file "$T135" --dry-run
done
for r in $(seq "$RUNS"); do
  rm -rf "$WORK/data"
  "$BIN" serve --data-dir "$WORK/data" --grpc-listen 127.0.0.1:50991 --http-listen 127.0.0.1:9991 \
    > "$WORK/server.log" 2>&1 &
  SERVER=$!
  until curl -sf -o /dev/null http://127.0.0.1:9991/readyz; do sleep 0.1; done
  timed "135l-import" "$BIN" import-table --server http://127.0.0.1:50991 --mapping "$M135" --file "$T135"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
done
python3 bench/make_table.py "$WORK" >/dev/null
ls -l "$WORK"/synthetic.* | awk '{print "file", $NF, $5, "bytes"}'
for f in px json; do
  for r in $(seq "$RUNS"); do
    timed "synthetic-$f-dry-run" "$BIN" import-table --mapping "$WORK/synthetic.toml" \
      --file "$WORK/synthetic.$f" --dry-run
  done
done
# 3. Reads "as published by" on the demo store (~121,000 events): each new instant folds the
#    log into a projection of its own; the same instant again is kept.
rm -rf "$WORK/demo"
"$BIN" serve --demo --data-dir "$WORK/demo" --grpc-listen 127.0.0.1:50992 --http-listen 127.0.0.1:9992 \
  > "$WORK/demo.log" 2>&1 &
SERVER=$!
until curl -sf -o /dev/null http://127.0.0.1:9992/readyz; do sleep 0.1; done
for d in 2021-06-01 2021-06-01 2021-05-01 2020-06-01 2019-06-01; do
  timed "published-by-$d" curl -sf "http://127.0.0.1:9992/v1/regions/MK01/picture?year=2019&published_by=$d"
done
timed "latest" curl -sf "http://127.0.0.1:9992/v1/regions/MK01/picture?year=2019"
