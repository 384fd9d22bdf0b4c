#!/usr/bin/env bash
# Replication benchmarks (BENCHMARKS.md, "Replication"): write throughput with no NATS,
# `async` and `sync`; the outbox publishing a backlog; an empty replica catching up; and
# the time from an acknowledgement to visibility on a replica. Everything on this machine,
# on loopback, with a real nats-server (2.10+, JetStream with sync_interval: always).
#
#   cargo build --release && PATH="$PWD/target/test-venv/bin:$PATH" bench/replication.sh
#
# BACKLOG (default 1000000) events for the outbox and catch-up runs; DURATION (default 10)
# seconds per loadgen run.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-target/release/tilannekuva}
BACKLOG=${BACKLOG:-1000000}
DURATION=${DURATION:-10}
version=$(nats-server --version 2>/dev/null || true)
case "$version" in
  *v2.1[0-9]*|*v2.[2-9][0-9]*) ;;
  *) echo "need nats-server 2.10+ on PATH (have: ${version:-none}); .ci/run installs 2.15 into target/test-venv" >&2; exit 1 ;;
esac
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nats() { # -> sets NATS_URL
  local p dir; p=$(port); dir=$(mktemp -d -p "$work")
  printf 'listen: 127.0.0.1:%s\njetstream { store_dir: "%s", sync_interval: always }\n' "$p" "$dir/js" > "$dir/nats.conf"
  nats-server -c "$dir/nats.conf" > "$dir/nats.log" 2>&1 & pids+=($!)
  until grep -q "Server is ready" "$dir/nats.log"; do sleep 0.1; done
  NATS_URL="nats://127.0.0.1:$p"
}

serve() { # data-dir extra-args... -> sets GRPC, HTTP
  local dir=$1; shift
  local g h; g=$(port); h=$(port)
  "$B" serve --data-dir "$dir" --grpc-listen "127.0.0.1:$g" --http-listen "127.0.0.1:$h" "$@" > "$dir.log" 2>&1 & pids+=($!)
  until curl -sf "127.0.0.1:$h/readyz" > /dev/null; do sleep 0.2; done
  GRPC="http://127.0.0.1:$g"; HTTP="127.0.0.1:$h"; SERVER_PID=$!
}

metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

loadgen_line() { "$B" loadgen --server "$GRPC" "$@" --duration "$DURATION" | awk '/^throughput|^latency|^visible/'; }

echo "== write throughput (loadgen, ${DURATION}s each)"
for mode in none async sync; do
  dir=$(mktemp -d -p "$work")/data
  if [ "$mode" = none ]; then
    serve "$dir"
  else
    start_nats
    serve "$dir" --nats-url "$NATS_URL" --replication "$mode"
  fi
  echo "-- $mode: 64 clients, batch 1"; loadgen_line --clients 64 --batch 1
  echo "-- $mode: 4 clients, batch 1000"; loadgen_line --clients 4 --batch 1000
  stop "$SERVER_PID"
done

echo "== outbox backlog and replica catch-up over $BACKLOG events"
dir=$(mktemp -d -p "$work")/data
serve "$dir"
while :; do
  seq=$(metric "$HTTP" tilannekuva_log_sequence)
  [ "${seq%.*}" -ge "$BACKLOG" ] && break
  "$B" loadgen --server "$GRPC" --clients 4 --batch 1000 --duration 3 --allow-real-data > /dev/null
done
stop "$SERVER_PID"
start_nats
t0=$(date +%s.%N)
serve "$dir" --nats-url "$NATS_URL"
writer_http=$HTTP; writer_grpc=$GRPC
last=$(metric "$writer_http" tilannekuva_log_sequence)
until [ "$(metric "$writer_http" tilannekuva_nats_outbox_sequence)" = "$last" ]; do sleep 0.2; done
t1=$(date +%s.%N)
python3 -c "print(f'outbox: {int(float($last))} events published in {$t1-$t0:.1f} s (start included): {float($last)/($t1-$t0):,.0f} events/s')"
rdir=$(mktemp -d -p "$work")/replica
t0=$(date +%s.%N)
serve "$rdir" --follow "$NATS_URL"
replica_http=$HTTP; replica_grpc=$GRPC
until [ "$(metric "$replica_http" tilannekuva_log_sequence)" = "$last" ]; do sleep 0.2; done
t1=$(date +%s.%N)
python3 -c "print(f'replica catch-up: {int(float($last))} events in {$t1-$t0:.1f} s (start included): {float($last)/($t1-$t0):,.0f} events/s')"

echo "== acknowledgement to visibility on the replica (async writer, 1 client)"
GRPC=$writer_grpc loadgen_line --clients 1 --batch 1 --replica "$replica_grpc" --allow-real-data
