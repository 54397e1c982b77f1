#!/bin/sh
# Builds and tests the tree once per plugin switched off (AITBC_PLUGIN_<NAME>=OFF, every other
# plugin on), in one reused build directory so each round recompiles little. Too slow for
# tests/run.sh (each round runs the whole remaining suite); run it when a change touches how
# plugins find or depend on each other. Prints the time of each round.
#   sh tests/plugins-off.sh [NAME ...]     (default: every plugin below)
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
dir=${AITBC_OFF_BUILD_DIR:-build-off}
all="MINER ADMIN EXCHANGE MARKETPLACE MINER_AGENT COMPUTE_OCR COMPUTE_EXEC COMPUTE_OLLAMA WEB
     CLIENT EXPLORER AUTH_APIKEY CHAIN"
names=${*:-$all}
for name in $names; do
    flags=""
    for other in $all; do
        [ "$other" = "$name" ] && flags="$flags -DAITBC_PLUGIN_$other=OFF" ||
            flags="$flags -DAITBC_PLUGIN_$other=ON"
    done
    start=$(date +%s)
    # shellcheck disable=SC2086 # one flag per word
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAITBC_WERROR=ON $flags >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    # A switched-off plugin's .so from an earlier round must not satisfy a test now.
    rm -f "$dir/plugins/$(echo "$name" | tr 'A-Z_' 'a-z-').so"
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" >"$dir/ctest-$name.log" 2>&1 ||
        { tail -40 "$dir/ctest-$name.log"; echo "AITBC_PLUGIN_$name=OFF: tests failed"; exit 1; }
    echo "AITBC_PLUGIN_$name=OFF: built and tested in $(($(date +%s) - start)) s"
done
echo "plugins-off: all rounds passed ($names)"
