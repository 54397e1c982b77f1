#!/bin/sh
# POST /v1/admin/mint throughput over HTTP: starts aitbc-host (chain + auth-static) on a temp
# dir and an ephemeral port, drives it with wrk, stops it. Usage: mint_http.sh BUILD_DIR [secs]
set -eu
build=${1:?build dir}; secs=${2:-10}
dir=$(mktemp -d /tmp/aitbc-bench-mint-XXXXXX)
addr=ait1b0b0000000000000000000000000000000000000
cat > "$dir/config.yaml" <<YAML
node: { data_dir: "$dir", log_level: warn, plugin_path: "$build/plugins" }
http: { listen: "127.0.0.1:0", threads: 4, access_log: false }
storage: { path: "$dir/aitbc.db" }
plugins:
  auth-static: { keys: [ {key: "k-admin", role: admin, address: "$addr"} ] }
  chain: { genesis: { accounts: ["$addr"] } }
YAML
"$build/host/aitbc-host" -c "$dir/config.yaml" --ready-file "$dir/ready.json" 2>"$dir/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
i=0; while [ ! -s "$dir/ready.json" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
port=$(sed 's/.*"http_port":\([0-9]*\).*/\1/' "$dir/ready.json")
cat > "$dir/mint.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "k-admin"
wrk.body = '{"address":"$addr","asset":"AIT","amount":"0.000001"}'
LUA
wrk -t2 -c8 -d"${secs}s" -s "$dir/mint.lua" "http://127.0.0.1:$port/v1/admin/mint"
kill $pid; wait $pid || true
"$build/host/aitbc-host" -c "$dir/config.yaml" --verify-chain 2>/dev/null
