#!/bin/sh
# prometheus_rules: the alert rules load (`promtool check rules`) and fire when they should
# (`promtool test rules`, next to them). That they name only series a node exports is checked by
# it_metrics against a real scrape, with the Grafana dashboard's queries.
# Usage: check_rules.sh <alerts.yml>
set -u
rules=$1
if ! command -v promtool >/dev/null 2>&1; then
    echo "SKIP: promtool not installed (Debian package prometheus; tests/install-deps.sh installs it)"
    exit 77
fi
promtool check rules "$rules" || exit 1
(cd "$(dirname "$rules")" && promtool test rules alerts_test.yml) || exit 1
echo "ok: rules"
