#!/usr/bin/env bash
# How fast the web page's national view is drawn (BENCHMARKS.md, "The web page"): headless
# Chromium opens /#/national on the demo store and waits until the view says it is ready,
# RUNS times; the first with nothing cached, the rest warm (the browser holds the page and
# the answers; the server answers 304 to each while nothing new is recorded).
#
#   bench/web.sh                                  # the debug build `cargo run` makes
#   BIN=target/release/tilannekuva bench/web.sh
#
# Needs what tests/web.rs needs: /usr/bin/chromium, /usr/bin/chromedriver and python3 with
# tests/web-requirements.txt (`.ci/run` installs them into target/test-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/debug/tilannekuva}
RUNS=${RUNS:-11}
GRPC=127.0.0.1:50094
HTTP=127.0.0.1:9494

[ -x "$BIN" ] || { echo "web.sh: $BIN is missing; run: cargo build" >&2; exit 2; }
[ -d target/test-venv ] && export PATH="$PWD/target/test-venv/bin:$PATH"

work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=$("$BIN" token new --name bench-admin --role admin)
echo "$token" | tail -n +2 > "$work/auth.toml"
printf '{"admin": "%s"}\n' "$(echo "$token" | head -1)" > "$work/tokens.json"
"$BIN" serve --demo --data-dir "$work/data" --grpc-listen $GRPC --http-listen $HTTP \
  --auth-file "$work/auth.toml" >>"$work/server.log" 2>&1 &
server=$!
until curl -fs "http://$HTTP/readyz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { tail -20 "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "$BIN, demo store at sequence $(curl -fs -H "Authorization: Bearer $(echo "$token" | head -1)" \
  "http://$HTTP/v1/regions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["as_of_sequence"])')"
python3 tests/web/browser.py --base "http://$HTTP" --tokens "$work/tokens.json" --bench "$RUNS"
