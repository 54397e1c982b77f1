#!/usr/bin/env bash
# HTTP benchmark: aitbc-host (Release, hello + auth-static) against nginx serving the same JSON
# as a static file, with wrk. Also the host's idle RSS and start-up time (exec → ready file).
# Usage: bench/http/run.sh            (env: BUILD=dir THREADS=n DURATION=10s CONNS=64 RUNS=5)
# Everything binds 127.0.0.1; nothing leaves the machine. Results go to stdout; copy them into
# bench/README.md (HTTP section).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-http-bench}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-4}
RUNS=${RUNS:-5}
KEY=k-bench-client
HELLO_PATH=${HELLO_PATH:-/v1/hello}

for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

echo "building (Release) in $BUILD ..." >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAITBC_SANITIZE=OFF -DAITBC_TESTS=OFF \
    >/dev/null
cmake --build "$BUILD" -j2 --target aitbc-host hello auth-static >/dev/null

TMP=$(mktemp -d /tmp/aitbc-bench-XXXXXX)
HOST_PID=""
NGINX_PID=""
cleanup() {
    [ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null && wait "$HOST_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

now_ns() { date +%s%N; }

cat >"$TMP/host.yaml" <<EOF
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
  auth-static: { keys: [ { key: "$KEY", role: client, address: "ait1$(printf '0%.0s' {1..40})" } ] }
  hello: {}
EOF

# Start the host and wait for its ready file; sets HOST_PID and STARTUP (ms, exec → ready).
# Not run in $(...): the host would inherit the substitution's pipe and block it.
start_host() {
    rm -f "$TMP/ready.json"
    local t0 t1
    t0=$(now_ns)
    "$BUILD/host/aitbc-host" -c "$TMP/host.yaml" --ready-file "$TMP/ready.json" \
        >>"$TMP/host.err" 2>&1 &
    HOST_PID=$!
    for _ in $(seq 1 4000); do
        [ -s "$TMP/ready.json" ] && break
        kill -0 "$HOST_PID" 2>/dev/null || { cat "$TMP/host.err" >&2; exit 1; }
        sleep 0.002
    done
    t1=$(now_ns)
    [ -s "$TMP/ready.json" ] || { echo "host not ready" >&2; cat "$TMP/host.err" >&2; exit 1; }
    STARTUP=$(( (t1 - t0) / 1000000 ))
}

stop_host() {
    kill "$HOST_PID"
    wait "$HOST_PID" || true
    HOST_PID=""
}

# Start-up time: median of RUNS cold starts (the first creates the database).
startups=()
for _ in $(seq 1 "$RUNS"); do
    start_host
    startups+=("$STARTUP")
    stop_host
done
STARTUP_MS=$(printf '%s\n' "${startups[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

start_host
PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_port"])' "$TMP/ready.json")
sleep 1
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$HOST_PID/status")

BODY=$(curl -sf --noproxy '*' -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT$HELLO_PATH")
mkdir -p "$TMP/www" "$TMP/nginx"
printf '%s' "$BODY" >"$TMP/www/hello.json"
# nginx workers drop root for an unprivileged user: let them read the file.
chmod a+rx "$TMP" "$TMP/www"
chmod a+r "$TMP/www/hello.json"
NPORT=$(free_port)
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        location / { root $TMP/www; default_type application/json; }
    }
}
EOF
nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 1 200); do
    curl -sf --noproxy '*' "http://127.0.0.1:$NPORT/hello.json" >/dev/null && break
    sleep 0.02
done
[ "$(curl -sf --noproxy '*' "http://127.0.0.1:$NPORT/hello.json")" = "$BODY" ] ||
    { echo "nginx does not serve the body" >&2; cat "$TMP/nginx/error.log" >&2; exit 1; }

# wrk → "requests_per_second p99_ms"
run_wrk() {
    local out rps p99
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$@")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "bench: non-2xx answers for $*" >&2
        grep "Non-2xx" <<<"$out" >&2
    fi
    echo "$rps $p99"
}

read -r NG_RPS NG_P99 < <(run_wrk "http://127.0.0.1:$NPORT/hello.json")
read -r HZ_RPS HZ_P99 < <(run_wrk "http://127.0.0.1:$PORT/healthz")
read -r HE_RPS HE_P99 < <(run_wrk -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT$HELLO_PATH")
RSS_AFTER_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$HOST_PID/status")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo
echo "date: $(date -u +%Y-%m-%d)  machine: $(nproc) cores, $(uname -m)  wrk -t2 -c$CONNS -d$DURATION  http.threads: $THREADS"
printf '| %-28s | %12s | %9s | %10s |\n' "target" "requests/s" "p99 ms" "vs nginx"
printf '|%s|%s|%s|%s|\n' "------------------------------" "--------------" "-----------" "------------"
printf '| %-28s | %12s | %9s | %10s |\n' "nginx static JSON" "$NG_RPS" "$NG_P99" "1.00"
printf '| %-28s | %12s | %9s | %10s |\n' "aitbc-host GET /healthz" "$HZ_RPS" "$HZ_P99" "$(ratio "$HZ_RPS" "$NG_RPS")"
printf '| %-28s | %12s | %9s | %10s |\n' "aitbc-host GET $HELLO_PATH" "$HE_RPS" "$HE_P99" "$(ratio "$HE_RPS" "$NG_RPS")"
echo
echo "aitbc-host idle RSS: $((RSS_KB / 1024)) MiB ($RSS_KB kB); after the load: $((RSS_AFTER_KB / 1024)) MiB"
echo "aitbc-host start-up (exec → ready file), median of $RUNS: $STARTUP_MS ms (runs: ${startups[*]})"
