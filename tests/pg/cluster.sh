#!/bin/sh
# A throwaway PostgreSQL cluster for tests: initdb in <dir>, listening on 127.0.0.1:<port> and a
# unix socket in <dir>, trust authentication, fsync off (nothing here must survive a crash).
#   tests/pg/cluster.sh start <dir> <port>   prints the DSN of database "aitbc" on stdout
#   tests/pg/cluster.sh stop <dir> <port>    stops it (immediately) and removes <dir>
#   tests/pg/cluster.sh sql <dir> <port> SQL runs SQL in database "aitbc" (e.g. CREATE SCHEMA)
# initdb refuses to run as root, so as root the cluster runs as the unprivileged user aitbc-pg
# (created if missing). The server binaries are found through PG_BIN,
# /usr/lib/postgresql/<newest>/bin (Debian) or PATH.
set -eu
cmd=${1:?usage: cluster.sh start|stop <dir> <port>}
dir=${2:?usage: cluster.sh start|stop <dir> <port>}
port=${3:?usage: cluster.sh start|stop <dir> <port>}

if [ -z "${PG_BIN:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$PG_BIN" ] && command -v pg_ctl >/dev/null 2>&1; then
        PG_BIN=$(dirname "$(command -v pg_ctl)")
    fi
fi
[ -x "$PG_BIN/pg_ctl" ] || { echo "cluster.sh: no PostgreSQL server binaries (install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u aitbc-pg -- "$@"
    else
        "$@"
    fi
}

case "$cmd" in
start)
    if [ "$(id -u)" = 0 ] && ! id aitbc-pg >/dev/null 2>&1; then
        useradd -r -M -s /usr/sbin/nologin aitbc-pg
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown aitbc-pg "$dir"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U aitbc -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U aitbc aitbc
    # The throwaway server has no TLS: asking for it would only cost a round trip per connection.
    echo "host=127.0.0.1 port=$port user=aitbc dbname=aitbc sslmode=disable"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
sql)
    "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U aitbc -d aitbc -c "${4:?SQL}"
    ;;
*)
    echo "usage: cluster.sh start|stop|sql <dir> <port> [SQL]" >&2
    exit 2
    ;;
esac
