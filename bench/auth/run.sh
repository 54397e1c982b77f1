#!/usr/bin/env bash
# Auth benchmark: requests/s of the same trivial handler on a public route and on a route behind
# auth-apikey (X-Api-Key checked: parse, peppered BLAKE2b, cache lookup, constant-time compare,
# token bucket), plus GET /healthz and GET /v1/account for reference. wrk on 127.0.0.1 only.
# Usage: bench/auth/run.sh        (env: BUILD=dir THREADS=4 CONNS=64 DURATION=10s RUNS=3)
# Copy the table it prints into bench/README.md, section "Auth".
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-auth}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-4}
RUNS=${RUNS:-3}

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

echo "building (Release) in $BUILD ..." >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAITBC_SANITIZE=OFF -DAITBC_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target aitbc-host auth-apikey auth-bench-echo >/dev/null

TMP=$(mktemp -d /tmp/aitbc-bench-auth-XXXXXX)
HOST_PID=""
cleanup() {
    if [ -n "$HOST_PID" ]; then kill "$HOST_PID" 2>/dev/null || true; wait "$HOST_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

cat >"$TMP/host.yaml" <<YAML
node:
  data_dir: "$TMP/data"
  log_level: warn
  plugin_path: "$BUILD/plugins"
http:
  listen: "127.0.0.1:0"
  threads: $THREADS
  access_log: false
storage:
  path: "$TMP/data/aitbc.db"
plugins:
  auth-apikey: { rate_limits: { client: { rps: 0 }, admin: { rps: 0 } }, failed_auth: { per_minute: 0 } }
  auth-bench-echo: {}
YAML

"$BUILD/aitbc-host" -c "$TMP/host.yaml" --ready-file "$TMP/ready.json" 2>>"$TMP/host.err" &
HOST_PID=$!
for _ in $(seq 1 2000); do
    [ -s "$TMP/ready.json" ] && break
    kill -0 "$HOST_PID" 2>/dev/null || { cat "$TMP/host.err" >&2; exit 1; }
    sleep 0.01
done
[ -s "$TMP/ready.json" ] || { echo "host not ready" >&2; cat "$TMP/host.err" >&2; exit 1; }
PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_port"])' "$TMP/ready.json")
BASE="http://127.0.0.1:$PORT"
ADMIN=$(cat "$TMP/data/admin.key")
KEY=$(curl -fsS -X POST -H "X-Api-Key: $ADMIN" -H 'Content-Type: application/json' \
    -d '{"role":"client","label":"bench"}' "$BASE/v1/admin/keys" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
curl -fsS -H "X-Api-Key: $KEY" "$BASE/v1/bench/auth" >/dev/null

# Median requests/s of RUNS wrk runs (after one warm-up run).
rps() {
    local path=$1; shift
    wrk -t2 -c"$CONNS" -d2s "$@" "$BASE$path" >/dev/null
    for _ in $(seq 1 "$RUNS"); do
        wrk -t2 -c"$CONNS" -d"$DURATION" "$@" "$BASE$path" | awk '/Requests\/sec/ {print $2}'
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

PUB=$(rps /v1/bench/public)
AUTH=$(rps /v1/bench/auth -H "X-Api-Key: $KEY")
HEALTH=$(rps /healthz)
ACCOUNT=$(rps /v1/account -H "X-Api-Key: $KEY")

python3 - "$PUB" "$AUTH" "$HEALTH" "$ACCOUNT" "$THREADS" "$CONNS" "$DURATION" "$RUNS" <<'PY'
import sys
pub, auth, health, account = map(float, sys.argv[1:5])
threads, conns, duration, runs = sys.argv[5:9]
cost_us = (1e6 / auth - 1e6 / pub) * int(threads)  # per request, per HTTP thread
print(f"http.threads={threads} wrk -t2 -c{conns} -d{duration}, median of {runs}")
print("| route | requests/s |")
print("|---|---|")
print(f"| GET /v1/bench/public (no auth) | {pub:,.0f} |")
print(f"| GET /v1/bench/auth (same handler, X-Api-Key) | {auth:,.0f} |")
print(f"| GET /healthz (public) | {health:,.0f} |")
print(f"| GET /v1/account (auth + key row read) | {account:,.0f} |")
print(f"auth overhead: {100 * (1 - auth / pub):.1f}% of throughput "
      f"(≈{cost_us:.1f} µs of thread time per request)")
PY
