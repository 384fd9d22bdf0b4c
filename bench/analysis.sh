#!/usr/bin/env bash
# What the network's reads cost (BENCHMARKS.md, "Disparities, targets, similar areas,
# forerunners"): on a store at municipal scale, each read of docs/analysis.md from 8
# clients as fast as answered (reads/s, p50, p99) next to the area picture read, one
# client's similar-areas latency, as-of reads, and what a /metrics scrape costs.
#
#   cargo build --release && bench/analysis.sh                 # 10 M events, ~3 min
#   EVENTS=1000000 DURATION=5 bench/analysis.sh
#
# Starts the release build on a fresh data directory, fills it with loadgen's synthetic
# municipal figures (the 308 municipalities of the latest division, every indicator whose
# range admits the value, 1990-2026), then reads.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/tilannekuva}
DURATION=${DURATION:-8}
EVENTS=${EVENTS:-10000000}
GRPC=127.0.0.1:50093
HTTP=127.0.0.1:9493

[ -x "$BIN" ] || { echo "analysis.sh: $BIN is missing; run: cargo build --release" >&2; exit 2; }
command -v curl >/dev/null || { echo "analysis.sh: curl is missing" >&2; exit 2; }

work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$BIN" serve --data-dir "$work/data" --grpc-listen $GRPC --http-listen $HTTP >>"$work/server.log" 2>&1 &
server=$!
until curl -fs "http://$HTTP/readyz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { tail -20 "$work/server.log" >&2; exit 1; }
  sleep 0.05
done
head_seq() { curl -fs "http://$HTTP/metrics" | awk '/^tilannekuva_log_sequence / { print $2 }'; }
loadgen() { "$BIN" loadgen --server "http://$GRPC" "$@"; }
field() { awk -v f="$1" '{ for (i = 1; i <= NF; i++) if ($i == f) { v = $(i+1); gsub(/[^0-9.]/, "", v); print v; exit } }'; }

echo "== filling to $EVENTS events of municipalities" >&2
while [ "$(head_seq)" -lt "$EVENTS" ]; do
  left=$(( EVENTS - $(head_seq) ))
  secs=$(awk -v l="$left" 'BEGIN { s = l / 300000; if (s < 0.3) s = 0.3; if (s > 20) s = 20; printf "%.1f", s }')
  loadgen --areas municipalities --clients 4 --batch 1000 --duration "$secs" --allow-real-data >/dev/null
done
events=$(head_seq)
echo "| read, $(awk -v n="$events" 'BEGIN { printf "%.1f", n / 1e6 }') M events of municipalities | clients | reads/s | p50 (ms) | p99 (ms) |"
echo "|---|---|---|---|---|"
measure() { # label, clients, loadgen args...
  local label=$1 clients=$2 out
  shift 2
  out=$(loadgen --clients "$clients" --duration "$DURATION" "$@")
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$clients" \
    "$(echo "$out" | grep '^throughput' | field throughput:)" \
    "$(echo "$out" | grep '^latency' | field p50)" \
    "$(echo "$out" | grep '^latency' | field p99)"
}
half=$(( events / 2 ))
# Warm: the first read of a year computes (and keeps) its figures.
loadgen --read similar --areas municipalities --clients 2 --duration 3 >/dev/null
measure "municipality picture (for comparison)" 8 --read region --areas municipalities
measure "similar municipalities (308, default set, k 7)" 8 --read similar --areas municipalities
measure "similar municipalities, one client" 1 --read similar --areas municipalities
measure "similar regions (derived from municipalities)" 8 --read similar --areas regions
measure "disparities between municipalities, one year" 8 --read disparities --areas municipalities
measure "disparities between regions, one year" 8 --read disparities --areas regions
measure "forerunners among municipalities, five years" 8 --read forerunners --areas municipalities
measure "targets (all)" 8 --read targets --areas regions
measure "similar municipalities as of sequence $half" 8 --read similar --areas municipalities --as-of-sequence "$half"
measure "disparities between municipalities as of sequence $half" 8 --read disparities --areas municipalities --as-of-sequence "$half"
# The gauges of /metrics now carry the disparities, targets, similar regions and
# forerunners: a scrape after writes renders them (the next ones within 5 s reuse it).
loadgen --areas municipalities --clients 1 --batch 10 --duration 0.5 --allow-real-data >/dev/null
sleep 1.1
first=$(curl -fs -o /dev/null -w '%{time_total}' "http://$HTTP/metrics")
sleep 0.3
next=$(curl -fs -o /dev/null -w '%{time_total}' "http://$HTTP/metrics")
samples=$(curl -fs "http://$HTTP/metrics" | grep -c '^tilannekuva_\(disparity\|target\|similar\|forerunner\)_' || true)
echo
echo "/metrics: the first scrape after writes ${first} s, the next ${next} s; ${samples} samples of the analysis families"
