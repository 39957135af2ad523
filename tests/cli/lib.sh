# Helpers for the CLI tests. Sourced by each tests/cli/tNNNN-*.sh, which runs in its own $TEST_TMP
# with PG* pointing at the shared throwaway server. Every helper fails the test with a message.
set -eu

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Create a fresh database named after the test, load the schema, and point PG* and DATABASE_URL
# at it. Usage: new_db [name]
new_db() {
    db=${1:-$(echo "$TEST_NAME" | tr -c 'a-z0-9_\n' '_')}
    dropdb --if-exists "$db" 2>/dev/null || true
    createdb "$db"
    psql -q -v ON_ERROR_STOP=1 -d "$db" -f "$TOP/sql/schema.sql" >/dev/null
    PGDATABASE=$db
    export PGDATABASE
}

sql() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# Run jobreport with the given arguments; stdout to ./out, stderr to ./err, status to $rc. Both
# streams are also appended to the run's tool-output log, which t9000-pii.sh searches for PII
# (stdout only when it is not itself a report: set JR_STDOUT_IS_REPORT=1 for those runs).
jr() {
    set +e
    "$JOBREPORT" "$@" >out 2>err
    rc=$?
    set -e
    {
        echo "### $TEST_NAME: jobreport $*"
        cat err
        [ "${JR_STDOUT_IS_REPORT:-0}" = 1 ] || cat out
    } >>"$JR_TEST_STATE/tool-output.log"
    return 0
}

expect_rc() {
    [ "$rc" = "$1" ] || { echo "--- stderr:"; cat err; echo "--- stdout:"; head -c 2000 out; fail "exit status $rc, expected $1"; }
}

# The first line of stderr must be exactly this.
expect_err_line() {
    first=$(head -n 1 err)
    [ "$first" = "$1" ] || { cat err; fail "stderr line: got '$first', expected '$1'"; }
}

expect_err_contains() {
    grep -qF -- "$1" err || { cat err; fail "stderr lacks '$1'"; }
}

expect_out_contains() {
    grep -qF -- "$1" out || { head -c 2000 out; fail "stdout lacks '$1'"; }
}

expect_empty() {
    [ ! -s "$1" ] || { cat "$1"; fail "$1 is not empty"; }
}

# Byte-for-byte comparison.
expect_same() {
    cmp -s "$1" "$2" || { diff -u "$2" "$1" | head -n 40; fail "$1 differs from $2"; }
}

# Print a file with CRLF line endings shown as "<CR>", for readable diffs in expectations.
show_crlf() {
    sed 's/\r$/<CR>/' "$1"
}
