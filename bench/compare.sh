#!/usr/bin/env bash
# tilannekuva side by side with PostgreSQL, in one run on one machine (BENCHMARKS.md).
#
#   cargo build --release && bench/compare.sh            # the whole comparison (~15 min)
#   EVENTS="1000000" bench/compare.sh                    # only the 1M-event scale
#   EVENTS="" ROUNDS=5 bench/compare.sh                  # only the writes, five rounds
#   ROUNDS=0 EVENTS=10000000 AREAS="regions municipalities" bench/compare.sh
#                               # a store of regions' cells and one of municipalities', side by side
#
# Starts the service (release build) on a fresh data directory, fills it, and runs the same
# work against the machine's PostgreSQL (127.0.0.1:5432, user postgres, or $PGHOST/$PGUSER/
# $PGPORT), in a database of its own (tilannekuva_bench, dropped and created here):
#   - durable single-observation submissions, 64 clients  vs  single-row INSERT commits
#     (pgbench, synchronous_commit on)
#   - batches of 1,000 observations, 4 clients            vs  1,000-row INSERTs
#   - a region picture read (8 clients)                   vs  the same answer (value, national
#     value, rank, previous year) computed by one SQL query over a cells table
#   - the region picture at an offered 5,000 reads/s (p99), and as-of reads, restart time
#     and resident memory at each scale of $EVENTS (default 1M and 10M events), for each
#     kind of area in $AREAS (default regions; municipalities: the latest division's 308,
#     so a region's picture on today's borders is put together from its municipalities)
# and prints a table of figures and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/tilannekuva}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
EVENTS=${EVENTS-"1000000 10000000"}
AREAS=${AREAS:-regions}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=tilannekuva_bench
GRPC=127.0.0.1:50091
HTTP=127.0.0.1:9491

[ -x "$BIN" ] || { echo "compare.sh: $BIN is missing; run: cargo build --release" >&2; exit 2; }
for tool in psql pgbench curl; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing (Debian: postgresql-client, curl)" >&2; exit 2; }
done
if ! psql -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  echo "compare.sh: PostgreSQL is not reachable at $PGHOST:$PGPORT as $PGUSER (is it installed and running?)" >&2
  exit 2
fi

work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$work"
  psql -d postgres -qc "drop database if exists $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

results=()
row() { results+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")"); printf '%s: %s | %s | %s\n' "$1" "$2" "$3" "$4" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }'; }

# --- the service -------------------------------------------------------------------------
data=$work/data
start_server() { # extra args...; sets $server, waits for /readyz, sets $ready (seconds)
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" serve --data-dir "$data" --grpc-listen $GRPC --http-listen $HTTP "$@" \
    >>"$work/server.log" 2>&1 &
  server=$!
  until curl -fs "http://$HTTP/readyz" >/dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || { echo "compare.sh: the server exited; log: $work/server.log" >&2; tail -20 "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  ready=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}
stop_server() { kill -TERM "$server"; wait "$server" || true; server=; }
kill_server() { kill -9 "$server"; wait "$server" 2>/dev/null || true; server=; }
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status"; }
head_seq() { curl -fs "http://$HTTP/metrics" | awk '/^tilannekuva_log_sequence / { print $2 }'; }
loadgen() { "$BIN" loadgen --server "http://$GRPC" --areas "${areas:-regions}" "$@"; }
field() { # pattern, field name → the number after "name " on the line matching pattern
  awk -v p="$1" -v f="$2" '$0 ~ p { for (i = 1; i <= NF; i++) if ($i == f) { gsub(/[^0-9.]/, "", $(i+1)); print $(i+1); exit } }'
}
p99() { sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' | head -1; }
p50() { sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' | head -1; }

# --- PostgreSQL --------------------------------------------------------------------------
psql -d postgres -qc "drop database if exists $DB" -c "create database $DB" >/dev/null
psql -d $DB -q >/dev/null <<'SQL'
create table obs (
  id bigserial primary key, region int not null, indicator int not null, year int not null,
  value float8 not null, recorded_at timestamptz not null default now());
-- The cells a region picture reads: 19 regions x 52 indicators x 36 years (like loadgen's).
create table cells (
  region int, indicator int, year int, value float8, primary key (region, indicator, year));
insert into cells
  select r, i, y, 50 + random() from generate_series(1, 19) r, generate_series(1, 52) i,
         generate_series(1990, 2025) y;
create index on cells (year, indicator);
analyze cells;
SQL
cat >"$work/insert1.sql" <<'SQL'
\set r random(1, 19)
\set i random(1, 52)
\set y random(1990, 2025)
insert into obs (region, indicator, year, value) values (:r, :i, :y, random());
SQL
cat >"$work/insert1000.sql" <<'SQL'
\set r random(1, 19)
insert into obs (region, indicator, year, value)
  select :r, g % 52, 1990 + g % 36, random() from generate_series(1, 1000) g;
SQL
# The same batch sent by the client as 1,000 literal rows (parsed, like the service's
# 1,000 observations), beside generate_series (rows made inside the server).
{
  echo 'insert into obs (region, indicator, year, value) values'
  awk 'BEGIN { srand(1); for (g = 1; g <= 1000; g++) printf "(%d, %d, %d, %.7f)%s\n", 1 + g % 19, g % 52, 1990 + g % 36, 50 + rand(), (g < 1000 ? "," : ";") }'
} >"$work/values1000.sql"
cat >"$work/region.sql" <<'SQL'
\set r random(1, 19)
\set y random(1991, 2025)
with y as (
  select region, indicator, value,
         sum(value) over (partition by indicator) as national,
         rank() over (partition by indicator order by value desc) as rank
  from cells where year = :y)
select y.indicator, y.value, y.national, y.rank, p.value as previous
from y left join cells p on p.region = y.region and p.indicator = y.indicator and p.year = :y - 1
where y.region = :r;
SQL
pg_tps() { # clients, script → transactions per second
  pgbench -d $DB -n -c "$1" -j 2 -T "$DURATION" -f "$2" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
  # Each run starts on an empty table, as the service starts on an empty store, and leaves
  # nothing behind: without this PostgreSQL writes the run's rows out (checkpointer,
  # autovacuum) while the next measurement runs, on the same two cores and disk.
  psql -d $DB -qc 'truncate obs' -c 'checkpoint' >/dev/null
}

# The machine is noisy: the writes run $ROUNDS times, alternating the service and
# PostgreSQL, and every round is shown.
for round in $(seq 1 "$ROUNDS"); do
  echo "== writes, round $round of $ROUNDS" >&2
  start_server --snapshot-every 0
  single=$(loadgen --clients 64 --batch 1 --duration "$DURATION" | field '^throughput' 'throughput:')
  stop_server; rm -rf "$data"
  pg_single=$(pg_tps 64 "$work/insert1.sql")
  row "durable single-observation submissions, 64 clients (/s), round $round" "$single" "$pg_single single-row commits" "$(ratio "$single" "$pg_single")"
  start_server --snapshot-every 0
  batch=$(loadgen --clients 4 --batch 1000 --duration "$DURATION" | field '^throughput' 'throughput:')
  stop_server; rm -rf "$data"
  pg_batch_tps=$(pg_tps 4 "$work/insert1000.sql")
  pg_batch=$(awk -v t="$pg_batch_tps" 'BEGIN { printf "%.0f", t * 1000 }')
  row "batches of 1,000, 4 clients (observations/s), round $round" "$batch" "$pg_batch rows/s (INSERT … SELECT generate_series)" "$(ratio "$batch" "$pg_batch")"
  pg_values_tps=$(pg_tps 4 "$work/values1000.sql")
  pg_values=$(awk -v t="$pg_values_tps" 'BEGIN { printf "%.0f", t * 1000 }')
  row "batches of 1,000, 4 clients (observations/s), round $round" "$batch" "$pg_values rows/s (INSERT … VALUES of 1,000 rows)" "$(ratio "$batch" "$pg_values")"
done

echo "== region picture read (PostgreSQL)" >&2
pg_region=$(pg_tps 8 "$work/region.sql")

for areas in $AREAS; do
  rm -rf "$data"
  start_server
  for target in $EVENTS; do
    label="$(awk -v n="$target" 'BEGIN { printf "%gM", n / 1e6 }') events of $areas"
    echo "== filling to $label" >&2
    while [ "$(head_seq)" -lt "$target" ]; do
      left=$(( target - $(head_seq) ))
      secs=$(awk -v l="$left" 'BEGIN { s = l / 300000; if (s < 0.3) s = 0.3; if (s > 20) s = 20; printf "%.1f", s }')
      loadgen --clients 4 --batch 1000 --duration "$secs" --allow-real-data >/dev/null
    done
    events=$(head_seq)
    label="$(awk -v n="$events" 'BEGIN { printf "%.1fM", n / 1e6 }') events of $areas"
    echo "== reads at $events events" >&2
    out=$(loadgen --read region --clients 8 --duration "$DURATION")
    reads=$(echo "$out" | field '^throughput' 'throughput:')
    if [ "$areas" = regions ]; then
      row "region picture reads, 8 clients, $label (/s; p99 $(echo "$out" | p99) ms)" "$reads" "$pg_region SQL queries/s" "$(ratio "$reads" "$pg_region")"
    else
      row "area picture reads, 8 clients, $label (/s; p99 $(echo "$out" | p99) ms)" "$reads" "" ""
    fi
    out=$(loadgen --read region --clients 8 --rate 5000 --duration "$DURATION")
    row "region picture at an offered 5,000/s, $label: p50 / p99" "$(echo "$out" | p50) / $(echo "$out" | p99) ms" "" ""
    out=$(loadgen --read region --clients 8 --duration "$DURATION" --as-of-sequence $(( events / 2 )))
    row "as-of region picture (sequence $(( events / 2 ))), 8 clients, $label: reads/s, p50 / p99" "$(echo "$out" | field '^throughput' 'throughput:'); $(echo "$out" | p50) / $(echo "$out" | p99) ms" "" ""
    # The first scrape renders the situation gauges; the next ones within 5 s reuse them.
    sleep 1.1
    t=$(curl -fs -o /dev/null -w '%{time_total}' "http://$HTTP/metrics")
    sleep 0.3
    t2=$(curl -fs -o /dev/null -w '%{time_total}' "http://$HTTP/metrics")
    row "/metrics scrape, $label: first / second (s)" "$t / $t2" "" ""
    snaps=$(curl -fs "http://$HTTP/metrics" | awk '/^tilannekuva_snapshot_seconds_(sum|count) / { v[$1] = $2 } END { if (v["tilannekuva_snapshot_seconds_count"] > 0) printf "%d snapshots, writes waited %.2f s each on average", v["tilannekuva_snapshot_seconds_count"], v["tilannekuva_snapshot_seconds_sum"] / v["tilannekuva_snapshot_seconds_count"]; else print "none" }')
    row "periodic snapshots while filling to $label" "$snaps" "" ""
    rss=$(rss_mib)
    row "resident memory, $label (MiB; bytes per event)" "$rss; $(awk -v r="$rss" -v e="$events" 'BEGIN { printf "%.0f", r * 1048576 / e }')" "" ""
    disk=$(du -sm "$data" | cut -f1)
    row "store on disk, $label (MiB; bytes per event)" "$disk; $(awk -v d="$disk" -v e="$events" 'BEGIN { printf "%.0f", d * 1048576 / e }')" "" ""
    stop_server
    start_server
    row "restart to /readyz after a clean stop, $label (s)" "$ready" "" ""
    rss=$(rss_mib)
    row "resident memory after that restart, $label (MiB; bytes per event)" "$rss; $(awk -v r="$rss" -v e="$events" 'BEGIN { printf "%.0f", r * 1048576 / e }')" "" ""
    # SIGKILL after more writes: the last periodic snapshot and the log after it.
    loadgen --clients 4 --batch 1000 --duration 3 --allow-real-data >/dev/null
    kill_server
    start_server
    row "restart to /readyz after SIGKILL, $label (s)" "$ready" "" ""
    stop_server
    mv "$data/snapshot" "$work/snapshot.kept"
    start_server --snapshot-every 0
    row "restart replaying the whole log (no snapshot), $label (s)" "$ready" "" ""
    stop_server
    mv "$work/snapshot.kept" "$data/snapshot"
    start_server
  done
  stop_server
done

echo
echo "tilannekuva $("$BIN" --version | awk '{print $2}') vs $(psql -d postgres -Atc 'show server_version' | cut -d' ' -f1) — $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| measure | tilannekuva | PostgreSQL | ratio |"
echo "|---|---|---|---|"
printf '%s\n' "${results[@]}"
