#!/usr/bin/env bash
# Two (or more) builds side by side: alternates them, each on a fresh data directory, and
# prints one loadgen line per build and round (BENCHMARKS.md). This machine is noisy, so
# compare builds only within one run of this script.
#
#   cp target/release/tilannekuva /tmp/before    # build, copy, change, build again
#   cp target/release/tilannekuva /tmp/after
#   bench/ab.sh "/tmp/before /tmp/after" 3 --clients 4 --batch 1000 --duration 8
#   bench/ab.sh "/tmp/before /tmp/after" 3 --clients 64 --batch 1 --duration 8
#
# Arguments: the builds (one word, space-separated), the rounds, then loadgen's arguments.
# A read run (--read ...) first fills the store with 3 s of batches. The load generator is
# each build's own, or the one binary LOADGEN names (the same client for every build, e.g.
# for a read kind an older build's loadgen lacks):
#
#   LOADGEN=/tmp/after bench/ab.sh "/tmp/before /tmp/after" 3 --read open-data --clients 8 --duration 8
#
# The server's HTTP port is $HTTP (for --read open-data: --http-url http://$HTTP is added).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/ab.sh \"BIN BIN...\" ROUNDS LOADGEN-ARGS..." >&2; exit 2; }
bins=$1 rounds=$2
shift 2
GRPC=127.0.0.1:50092
HTTP=127.0.0.1:9492
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
reads=false
extra=()
for a in "$@"; do
  [ "$a" = --read ] && reads=true
  [ "$a" = open-data ] && extra=(--http-url "http://$HTTP")
done

for round in $(seq 1 "$rounds"); do
  for bin in $bins; do
    [ -x "$bin" ] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
    rm -rf "$work/data"
    "$bin" serve --data-dir "$work/data" --grpc-listen $GRPC --http-listen $HTTP \
      --snapshot-every 0 >"$work/server.log" 2>&1 &
    server=$!
    until curl -fs "http://$HTTP/readyz" >/dev/null 2>&1; do
      kill -0 "$server" 2>/dev/null || { echo "ab.sh: $bin exited:" >&2; tail -5 "$work/server.log" >&2; exit 1; }
      sleep 0.05
    done
    client=${LOADGEN:-$bin}
    if $reads; then
      "$client" loadgen --server "http://$GRPC" --clients 4 --batch 1000 --duration 3 >/dev/null
    fi
    out=$("$client" loadgen --server "http://$GRPC" "${extra[@]}" "$@" | grep -E '^(throughput|latency|answered)' | tr '\n' ' ')
    rss=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status")
    echo "$bin, round $round: $out| RSS $rss MiB, store $(du -sm "$work/data" | cut -f1) MiB"
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=
  done
done
