#!/bin/sh
# Run the end-to-end CLI tests (tests/cli/t*.sh) against the built binary ($JOBREPORT), with a
# throwaway PostgreSQL and the local S3 server on loopback, started here and stopped by pid at the
# end. Each test runs in its own temp directory and database. Usage: run.sh [tNNNN ...]
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
: "${JOBREPORT:?set JOBREPORT to the jobreport binary}"
export JOBREPORT TOP="$top"

state=$(mktemp -d /tmp/jrcli.XXXXXX)
export JR_TEST_STATE="$state"
cleanup() {
    [ -x "$top/scripts/s3-test.sh" ] && "$top/scripts/s3-test.sh" stop "$state" >/dev/null 2>&1
    "$top/scripts/pg-test.sh" stop "$state" >/dev/null 2>&1
    rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$top/scripts/pg-test.sh" start "$state" || exit 1
. "$state/pg.env"
if [ -x "$top/scripts/s3-test.sh" ]; then
    "$top/scripts/s3-test.sh" start "$state" || exit 1
    . "$state/s3.env"
fi
# Tests must not inherit the developer's configuration.
unset DATABASE_URL VCAP_SERVICES JOBREPORT_BUCKET CSV_BUCKET_NAME AWS_PROFILE TZ || true

if [ $# -gt 0 ]; then
    tests=""
    for t in "$@"; do tests="$tests $(ls "$top"/tests/cli/"$t"*.sh)"; done
else
    tests=$(ls "$top"/tests/cli/t[0-9]*.sh)
fi

pass=0
failed=""
for t in $tests; do
    name=$(basename "$t" .sh)
    tmp="$state/$name"
    mkdir -p "$tmp"
    start=$(date +%s)
    if (cd "$tmp" && TEST_TMP="$tmp" TEST_NAME="$name" timeout 600 sh "$t") >"$tmp/test.log" 2>&1; then
        echo "ok   $name ($(($(date +%s) - start))s)"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        sed 's/^/     | /' "$tmp/test.log" | tail -n 40
        failed="$failed $name"
    fi
done

if [ -n "$failed" ]; then
    echo "cli: $pass passed, failed:$failed"
    exit 1
fi
echo "cli: $pass passed"
