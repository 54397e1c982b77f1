#!/usr/bin/env bash
# Auth benchmark: requests/s of the same trivial handler on a public route and on a route behind
# auth (X-Api-Key), with auth-apikey (parse, peppered BLAKE2b, cache lookup, constant-time compare,
# token bucket) and, for reference, auth-static (a plain string lookup: the host's own cost of an
# authenticated route). Also GET /healthz, GET /v1/account, and the in-process micro-benchmark of
# the authenticate() hot path. wrk on 127.0.0.1 only.
# Usage: bench/auth/run.sh        (env: BUILD=dir THREADS=4 CONNS=64 DURATION=10s RUNS=3)
# Copy what it prints into bench/README.md, section "Auth".
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-auth}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-4}
RUNS=${RUNS:-3}
STATIC_KEY=k-bench-static-client

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

echo "building (Release) in $BUILD ..." >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAITBC_SANITIZE=OFF -DAITBC_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target aitbc-host auth-apikey auth-static auth-bench-echo \
    auth-bench-micro >/dev/null
HOST_BIN=$BUILD/host/aitbc-host
[ -x "$HOST_BIN" ] || HOST_BIN=$BUILD/aitbc-host

TMP=$(mktemp -d /tmp/aitbc-bench-auth-XXXXXX)
HOST_PID=""
stop_host() {
    if [ -n "$HOST_PID" ]; then kill "$HOST_PID" 2>/dev/null || true; wait "$HOST_PID" 2>/dev/null || true; fi
    HOST_PID=""
}
cleanup() { stop_host; rm -rf "$TMP"; }
trap cleanup EXIT

# start_host NAME PLUGIN_YAML: fresh data dir, waits for the ready file, sets BASE.
start_host() {
    local dir=$TMP/$1
    mkdir -p "$dir"
    cat >"$dir/host.yaml" <<YAML
node:
  data_dir: "$dir/data"
  log_level: warn
  plugin_path: "$BUILD/plugins"
http:
  listen: "127.0.0.1:0"
  threads: $THREADS
  access_log: false
storage:
  path: "$dir/data/aitbc.db"
plugins:
$2
  auth-bench-echo: {}
YAML
    "$HOST_BIN" -c "$dir/host.yaml" --ready-file "$dir/ready.json" 2>>"$dir/host.err" &
    HOST_PID=$!
    for _ in $(seq 1 2000); do
        [ -s "$dir/ready.json" ] && break
        kill -0 "$HOST_PID" 2>/dev/null || { cat "$dir/host.err" >&2; exit 1; }
        sleep 0.01
    done
    [ -s "$dir/ready.json" ] || { echo "host not ready" >&2; cat "$dir/host.err" >&2; exit 1; }
    local port
    port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_port"])' "$dir/ready.json")
    BASE="http://127.0.0.1:$port"
    DATA=$dir/data
}

# Median requests/s of RUNS wrk runs (after a warm-up run).
rps() {
    local path=$1; shift
    wrk -t2 -c"$CONNS" -d2s "$@" "$BASE$path" >/dev/null
    for _ in $(seq 1 "$RUNS"); do
        wrk -t2 -c"$CONNS" -d"$DURATION" "$@" "$BASE$path" | awk '/Requests\/sec/ {print $2}'
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

start_host apikey "  auth-apikey: { rate_limits: { client: { rps: 0 }, admin: { rps: 0 } }, failed_auth: { per_minute: 0 } }"
ADMIN=$(cat "$DATA/admin.key")
KEY=$(curl -fsS -X POST -H "X-Api-Key: $ADMIN" -H 'Content-Type: application/json' \
    -d '{"role":"client","label":"bench"}' "$BASE/v1/admin/keys" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
curl -fsS -H "X-Api-Key: $KEY" "$BASE/v1/bench/auth" >/dev/null
PUB=$(rps /v1/bench/public)
AUTH=$(rps /v1/bench/auth -H "X-Api-Key: $KEY")
HEALTH=$(rps /healthz)
ACCOUNT=$(rps /v1/account -H "X-Api-Key: $KEY")
# The same header size on the public route: what the bigger request alone costs.
PUBHDR=$(rps /v1/bench/public -H "X-Api-Key: $KEY")
stop_host

start_host static "  auth-static: { keys: [ { key: \"$STATIC_KEY\", role: client, address: \"ait1$(printf '0%.0s' {1..40})\" } ] }"
SPUB=$(rps /v1/bench/public)
SAUTH=$(rps /v1/bench/auth -H "X-Api-Key: $STATIC_KEY")
stop_host

MICRO=$("$BUILD/bench/auth/auth-bench-micro")

python3 - "$PUB" "$AUTH" "$HEALTH" "$ACCOUNT" "$PUBHDR" "$SPUB" "$SAUTH" "$THREADS" "$CONNS" "$DURATION" "$RUNS" <<'PY'
import sys
pub, auth, health, account, pubhdr, spub, sauth = map(float, sys.argv[1:8])
threads, conns, duration, runs = sys.argv[8:12]
print(f"http.threads={threads}, wrk -t2 -c{conns} -d{duration}, median of {runs}, {__import__('os').cpu_count()} cores shared with wrk")
print("| backend | route | requests/s |")
print("|---|---|---|")
print(f"| auth-apikey | GET /v1/bench/public (no auth) | {pub:,.0f} |")
print(f"| auth-apikey | GET /v1/bench/public + the same X-Api-Key header (ignored) | {pubhdr:,.0f} |")
print(f"| auth-apikey | GET /v1/bench/auth (same handler, key checked) | {auth:,.0f} |")
print(f"| auth-apikey | GET /healthz (public) | {health:,.0f} |")
print(f"| auth-apikey | GET /v1/account (auth + key row read) | {account:,.0f} |")
print(f"| auth-static | GET /v1/bench/public (no auth) | {spub:,.0f} |")
print(f"| auth-static | GET /v1/bench/auth (string lookup) | {sauth:,.0f} |")
print(f"auth-apikey: authenticated vs public {100 * (1 - auth / pub):.1f}% fewer requests/s; "
      f"vs public with the same header {100 * (1 - auth / pubhdr):.1f}%; "
      f"auth-static: {100 * (1 - sauth / spub):.1f}%")
PY
echo "$MICRO"
