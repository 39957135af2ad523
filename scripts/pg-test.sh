#!/bin/sh
# Start or stop a throwaway PostgreSQL on loopback, for the tests, the demo and the benchmark.
#
#   scripts/pg-test.sh start STATEDIR   start a server; writes STATEDIR/pg.env (PGHOST, PGPORT,
#                                       PGUSER, PGDATABASE) and STATEDIR/pg.dir
#   scripts/pg-test.sh stop STATEDIR    stop it (by pid, never by name) and remove its files
#
# As root the cluster runs as the postgres user (initdb refuses root) in its own top-level temp
# folder owned by postgres. Data durability is off (fsync=off): this server is disposable.
set -eu

cmd=${1:-}
state=${2:-}
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: $0 start|stop STATEDIR" >&2; exit 2; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "pg-test: error: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
    mkdir -p "$state"
    pgdir=$(mktemp -d /tmp/jrpg.XXXXXX)
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$pgdir"
    fi
    echo "$pgdir" >"$state/pg.dir"
    port=$(free_port)
    as_owner "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$pgdir/initdb.log" 2>&1 || { cat "$pgdir/initdb.log" >&2; exit 1; }
    as_owner "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
        start >/dev/null || { cat "$pgdir/server.log" >&2; exit 1; }
    cat >"$state/pg.env" <<ENV
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
PGDATABASE=postgres
export PGHOST PGPORT PGUSER PGDATABASE
ENV
    ;;
stop)
    [ -f "$state/pg.dir" ] || exit 0
    pgdir=$(cat "$state/pg.dir")
    pidfile="$pgdir/data/postmaster.pid"
    if [ -f "$pidfile" ]; then
        pid=$(head -n 1 "$pidfile")
        kill -INT "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    fi
    rm -rf "$pgdir"
    rm -f "$state/pg.dir" "$state/pg.env"
    ;;
*)
    echo "usage: $0 start|stop STATEDIR" >&2
    exit 2
    ;;
esac
