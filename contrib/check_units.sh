#!/bin/sh
# systemd_units: `systemd-analyze verify` on each installed unit, and its hardening score. verify wants ExecStart's binary
# to exist, and the units name the installed path, so each is checked as a copy whose ExecStart
# is the binary just built. Any complaint fails the test (verify itself exits 0 on unknown keys).
# Usage: check_units.sh <built aitbc-host> <unit>...
set -u
host=$1
shift
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze not installed (Debian package systemd)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
verify() { # unit file -> 0 when systemd-analyze accepts it without a word
    out=$(systemd-analyze verify --man=no "$1" 2>&1)
    rc=$?
    [ -n "$out" ] && echo "$out"
    [ $rc -eq 0 ] && [ -z "$out" ]
}
for unit in "$@"; do
    name=$(basename "$unit")
    sed "s|^ExecStart=[^ ]*/aitbc-host|ExecStart=$host|" "$unit" >"$tmp/$name"
    grep -q "^ExecStart=$host " "$tmp/$name" || { echo "FAIL: $name: no ExecStart with aitbc-host"; fail=1; continue; }
    if verify "$tmp/$name"; then echo "ok: $name"; else echo "FAIL: $name"; fail=1; fi
    # The hardening stays where it is: systemd's exposure score (0 best, 10 worst) at most 2.0.
    if systemd-analyze security --offline=true --threshold=20 "$tmp/$name" >"$tmp/score" 2>&1; then
        echo "ok: $name $(grep -o 'exposure level.*' "$tmp/score")"
    else
        cat "$tmp/score"
        echo "FAIL: $name is exposed more than 2.0 (systemd-analyze security)"
        fail=1
    fi
done
# The check can fail: a unit with a misspelt key must be refused.
printf '[Unit]\nDescription=broken\n[Service]\nExecStart=%s\nProtectSystem=strictly\n' "$host" >"$tmp/broken.service"
if verify "$tmp/broken.service" >/dev/null; then echo "FAIL: a broken unit passed verify"; fail=1; fi
exit $fail
