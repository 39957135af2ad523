#!/bin/sh
# Start or stop a throwaway S3 server (@20minutes/s3rver, which verifies SigV4 signatures) on
# loopback, plus the fault-injecting proxy in front of it (tests/s3/faultproxy.js), for the tests,
# the demo and the benchmark.
#
#   scripts/s3-test.sh start STATEDIR [BUCKET...]
#       start both on free ports; the bucket jobreport-test always exists, plus any given. Writes
#       STATEDIR/s3.env (sh syntax, exported):
#         JR_S3_ENDPOINT=http://127.0.0.1:PORT  JR_S3_PORT  JR_S3_BUCKET=jobreport-test
#         JR_S3_ACCESS_KEY=S3RVER  JR_S3_SECRET_KEY=S3RVER
#         JR_S3_FAULT_ENDPOINT=http://127.0.0.1:PORT2  (the fault proxy; control under /__fault/)
#         JR_S3_FAULT_LOG=FILE                          (the proxy's request log, JSON lines)
#       Tests opt in to these names; nothing here sets AWS_* variables.
#   scripts/s3-test.sh stop STATEDIR
#       stop both (by pid, never by name) and remove their files.
set -eu

cmd=${1:-}
state=${2:-}
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: $0 start STATEDIR [BUCKET...] | stop STATEDIR" >&2; exit 2; }
shift 2
extra_buckets="$*"

top=$(cd "$(dirname "$0")/.." && pwd)
dir="$state/s3"

# Wait up to 30 s for a file to hold a line matching a pattern; print the first match.
wait_for_line() {
    i=0
    while [ $i -lt 300 ]; do
        if [ -f "$1" ] && line=$(grep -m 1 -E "$2" "$1"); then
            echo "$line"
            return 0
        fi
        if ! kill -0 "$3" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

stop_pid() {
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1"
}

case "$cmd" in
start)
    command -v node >/dev/null 2>&1 || { echo "s3-test: error: node (Node.js 20) is needed" >&2; exit 1; }
    if [ ! -d "$top/tests/s3/node_modules/@20minutes/s3rver" ]; then
        npm ci --prefix "$top/tests/s3" --no-audit --no-fund --loglevel=error >/dev/null ||
            { echo "s3-test: error: cannot install the local S3 server (npm ci)" >&2; exit 1; }
    fi
    mkdir -p "$dir/data"
    set -- --configure-bucket jobreport-test
    for b in $extra_buckets; do set -- "$@" --configure-bucket "$b"; done
    # The legacy provider: s3rver's ListObjectsV2 continuation tokens use DES.
    NODE_OPTIONS=--openssl-legacy-provider NODE_PATH="$top/tests/s3/node_modules" \
        node -e 'require("@20minutes/s3rver/lib/cli").parseAsync(process.argv.slice(1), {from: "user"})' \
        -- -d "$dir/data" -a 127.0.0.1 -p 0 --silent "$@" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/server.pid"
    line=$(wait_for_line "$dir/server.log" 'listening on 127\.0\.0\.1:[0-9]+' "$(cat "$dir/server.pid")") ||
        { echo "s3-test: error: the S3 server did not start" >&2; cat "$dir/server.log" >&2; stop_pid "$dir/server.pid"; exit 1; }
    port=${line##*:}
    # It answers once the bucket listing works.
    i=0
    until curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" | grep -q '^[1-5]'; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "s3-test: error: the S3 server does not answer" >&2; stop_pid "$dir/server.pid"; exit 1; }
        sleep 0.1
    done

    node "$top/tests/s3/faultproxy.js" --upstream "http://127.0.0.1:$port" --listen 127.0.0.1:0 \
        --port-file "$dir/proxy.port" --log "$dir/proxy.log" >"$dir/proxy.out" 2>&1 &
    echo $! >"$dir/proxy.pid"
    wait_for_line "$dir/proxy.port" '^[0-9]+$' "$(cat "$dir/proxy.pid")" >/dev/null ||
        { echo "s3-test: error: the fault proxy did not start" >&2; cat "$dir/proxy.out" >&2;
          stop_pid "$dir/proxy.pid"; stop_pid "$dir/server.pid"; exit 1; }
    pport=$(cat "$dir/proxy.port")

    cat >"$state/s3.env" <<ENV
JR_S3_ENDPOINT=http://127.0.0.1:$port
JR_S3_PORT=$port
JR_S3_BUCKET=jobreport-test
JR_S3_ACCESS_KEY=S3RVER
JR_S3_SECRET_KEY=S3RVER
JR_S3_FAULT_ENDPOINT=http://127.0.0.1:$pport
JR_S3_FAULT_LOG=$dir/proxy.log
export JR_S3_ENDPOINT JR_S3_PORT JR_S3_BUCKET JR_S3_ACCESS_KEY JR_S3_SECRET_KEY
export JR_S3_FAULT_ENDPOINT JR_S3_FAULT_LOG
ENV
    ;;
stop)
    stop_pid "$dir/proxy.pid"
    stop_pid "$dir/server.pid"
    rm -rf "$dir"
    rm -f "$state/s3.env"
    ;;
*)
    echo "usage: $0 start STATEDIR [BUCKET...] | stop STATEDIR" >&2
    exit 2
    ;;
esac
