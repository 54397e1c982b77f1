#!/bin/sh
# The whole test suite, three times: a normal build (its integration tests a second time on
# PostgreSQL), everything under AddressSanitizer + UndefinedBehaviorSanitizer (plugins included),
# and under ThreadSanitizer. Exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# One house style: every C file as .clang-format writes it (clang-format -i fixes a failure).
if [ -d .git ] && command -v clang-format >/dev/null 2>&1; then
    git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAITBC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
# The integration tests (and the postgres driver's own test) once more on PostgreSQL: a throwaway
# cluster on a loopback port, every host in a schema of its own (tests/integration/harness.c).
pgdir=$(mktemp -d /tmp/aitbc-pg-XXXXXX)
# Below the kernel's ephemeral range (32768-60999): a port in it may be the local end of some
# outgoing connection at that moment, and the server's bind then fails.
pgport=${AITBC_TEST_PG_PORT:-25439}
trap 'tests/pg/cluster.sh stop "$pgdir" "$pgport"' EXIT
dsn=$(tests/pg/cluster.sh start "$pgdir" "$pgport")
AITBC_TEST_PG_DSN="$dsn" ctest --test-dir build --output-on-failure -j"$jobs" -L 'integration|pg'
tests/pg/cluster.sh stop "$pgdir" "$pgport"
trap - EXIT

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAITBC_SANITIZE=ON -DAITBC_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
# ThreadSanitizer over the whole suite too: the host runs HTTP, WebSocket, bus, writer, timer and
# pool threads, and the miner agent its own; a report makes the host exit 66, so its test fails.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DAITBC_TSAN=ON -DAITBC_WERROR=ON >/dev/null
cmake --build build-tsan -j"$jobs"
TSAN_OPTIONS=second_deadlock_stack=1 ctest --test-dir build-tsan --output-on-failure -j"$jobs"
# Builds with plugins switched off: a miner-only node (its tests, and config/miner.yaml checks
# with only its plugins), and one plugin off, which must configure and build without it.
cmake -S . -B build-minimal -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAITBC_MINIMAL=ON -DAITBC_WERROR=ON >/dev/null
cmake --build build-minimal -j"$jobs"
ctest --test-dir build-minimal --output-on-failure -j"$jobs"
AITBC_PLUGIN_PATH=build-minimal/plugins build-minimal/host/aitbc-host -c config/miner.yaml --check-config >/dev/null
cmake -S . -B build-chain-off -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAITBC_PLUGIN_CHAIN=OFF -DAITBC_WERROR=ON >/dev/null
cmake --build build-chain-off -j"$jobs"
echo "all tests passed (plain, ASan+UBSan, TSan, minimal; chain off builds)"
