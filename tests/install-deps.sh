#!/bin/sh
# Installs everything AITBC needs to build, run and test on Debian 12 (bookworm). Tesseract is the
# OCR compute backend's engine; libpq the PostgreSQL storage driver's client. The postgresql
# server, nodejs (with its npm) and chromium are for the tests only: the second, PostgreSQL pass
# of the integration tests (tests/pg/cluster.sh), an independent Ed25519 + RFC 8785 check of
# receipts, and the browser tests.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config ca-certificates clang-format \
    libmicrohttpd-dev libwebsockets-dev libcjson-dev libyaml-dev libsqlite3-dev \
    libsodium-dev libcurl4-openssl-dev libcmocka-dev libpq-dev postgresql \
    libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng \
    nodejs chromium >/dev/null
# promtool, which lints /metrics and the alert rules in the tests, taken out of Debian's prometheus
# package: installing the package itself would also start a Prometheus server on a systemd machine.
if ! command -v promtool >/dev/null 2>&1; then
    tmp=$(mktemp -d) && chmod 755 "$tmp" # apt downloads as its _apt user
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null &&
        dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool)
    $SUDO install -m 0755 "$tmp/usr/bin/promtool" /usr/local/bin/promtool
    rm -rf "$tmp"
fi
# The browser tests' npm packages (tests/browser/package-lock.json): playwright-core drives the
# system chromium above and never downloads a browser of its own; axe-core checks accessibility.
command -v npm >/dev/null 2>&1 || $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
(cd "$(dirname "$0")/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
# The OpenAPI traffic check's validator (tests/openapi/package-lock.json): ajv, JSON Schema 2020-12.
(cd "$(dirname "$0")/openapi" && npm ci --no-audit --no-fund --loglevel=error)
