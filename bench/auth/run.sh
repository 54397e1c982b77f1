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

# One wrk run; prints "requests/s host-CPU-µs-per-request". Host CPU time (utime+stime from
# /proc) per request is far steadier than requests/s on a machine shared with wrk and others.
ticks() { awk '{print $14 + $15}' "/proc/$HOST_PID/stat"; }
run1() {
    local path=$1; shift
    local t0 t1 out
    t0=$(ticks)
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" "$@" "$BASE$path")
    t1=$(ticks)
    echo "$out" | awk -v dt=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
        / requests in / {n = $1} /Requests\/sec/ {r = $2}
        END {printf "%s %.2f\n", r, dt / hz * 1e6 / n}'
}
# Alternate public and authenticated runs RUNS times (so drifting load hits both alike);
# prints "pub_rps auth_rps pub_cpu_us auth_cpu_us" as medians.
pair() {
    local auth_path=$1 key=$2 i
    wrk -t2 -c"$CONNS" -d2s "$BASE/v1/bench/public" >/dev/null
    wrk -t2 -c"$CONNS" -d2s -H "X-Api-Key: $key" "$BASE$auth_path" >/dev/null
    for i in $(seq 1 "$RUNS"); do
        echo "P $(run1 /v1/bench/public)"
        echo "A $(run1 "$auth_path" -H "X-Api-Key: $key")"
    done | python3 -c '
import sys, statistics as st
d = {"P": [], "A": []}
for line in sys.stdin:
    k, r, c = line.split(); d[k].append((float(r), float(c)))
m = lambda k, i: st.median(x[i] for x in d[k])
print(m("P", 0), m("A", 0), m("P", 1), m("A", 1))'
}

start_host apikey "  auth-apikey: { rate_limits: { client: { rps: 0 }, admin: { rps: 0 } }, failed_auth: { per_minute: 0 } }"
ADMIN=$(cat "$DATA/admin.key")
KEY=$(curl -fsS -X POST -H "X-Api-Key: $ADMIN" -H 'Content-Type: application/json' \
    -d '{"role":"client","label":"bench"}' "$BASE/v1/admin/keys" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
curl -fsS -H "X-Api-Key: $KEY" "$BASE/v1/bench/auth" >/dev/null
APIKEY=$(pair /v1/bench/auth "$KEY")
ACCOUNT=$(run1 /v1/account -H "X-Api-Key: $KEY")
HEALTH=$(run1 /healthz)
stop_host

start_host static "  auth-static: { keys: [ { key: \"$STATIC_KEY\", role: client, address: \"ait1$(printf '0%.0s' {1..40})\" } ] }"
STATIC=$(pair /v1/bench/auth "$STATIC_KEY")
stop_host

MICRO=$("$BUILD/bench/auth/auth-bench-micro")

python3 - "$APIKEY" "$STATIC" "$ACCOUNT" "$HEALTH" "$THREADS" "$CONNS" "$DURATION" "$RUNS" <<'PY'
import os, sys
ak = list(map(float, sys.argv[1].split())); sk = list(map(float, sys.argv[2].split()))
acc = list(map(float, sys.argv[3].split())); hz = list(map(float, sys.argv[4].split()))
threads, conns, duration, runs = sys.argv[5:9]
print(f"http.threads={threads}, wrk -t2 -c{conns} -d{duration}, public/auth runs alternated, "
      f"medians of {runs}; {os.cpu_count()} cores shared with wrk")
print("| backend | route | requests/s | host CPU µs/request |")
print("|---|---|---|---|")
print(f"| auth-apikey | GET /v1/bench/public (no auth) | {ak[0]:,.0f} | {ak[2]:.1f} |")
print(f"| auth-apikey | GET /v1/bench/auth (same handler, key checked) | {ak[1]:,.0f} | {ak[3]:.1f} |")
print(f"| auth-apikey | GET /v1/account (auth + key row read) | {acc[0]:,.0f} | {acc[1]:.1f} |")
print(f"| – | GET /healthz (public) | {hz[0]:,.0f} | {hz[1]:.1f} |")
print(f"| auth-static | GET /v1/bench/public (no auth) | {sk[0]:,.0f} | {sk[2]:.1f} |")
print(f"| auth-static | GET /v1/bench/auth (string lookup) | {sk[1]:,.0f} | {sk[3]:.1f} |")
print(f"auth-apikey: auth adds {ak[3] - ak[2]:.1f} µs CPU = {100 * (ak[3] - ak[2]) / ak[3]:.1f}% of an "
      f"authenticated request; requests/s {100 * (1 - ak[1] / ak[0]):.1f}% lower than public")
print(f"auth-static (the host's share: header, auth call, principal): {sk[3] - sk[2]:.1f} µs CPU = "
      f"{100 * (sk[3] - sk[2]) / sk[3]:.1f}%")
PY
echo "$MICRO"
