# Failures while generating: a second run (lock, exit 7), statement timeout, cancellation by
# SIGTERM and a killed connection (exit 4, old reports untouched, no temp files), and one
# service's reports failing while another's succeed (exit 8).
. "$TOP/tests/cli/lib.sh"
new_db
psql -q -v ON_ERROR_STOP=1 -f "$TOP/tests/fixtures/cli/basic/data.sql" >/dev/null
cp -r "$TOP/tests/fixtures/cli/basic/bucket" bucket
S1=11111111-1111-4111-8111-111111111111
S2=22222222-2222-4222-8222-222222222222
ASOF=2025-08-12T01:00:00Z
mkdir -p bucket/$S1-service-notify
echo "previous report" >bucket/$S1-service-notify/7-day-report.csv

# Hold an exclusive lock on notifications so that generate blocks inside its queries.
lock_table() {
    psql -X -q -c "BEGIN; LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);" >/dev/null 2>&1 &
    locker=$!
    i=0
    until [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'notifications' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "could not lock the table"; sleep 0.1
    done
}
unlock_table() {
    kill "$locker" 2>/dev/null || true
    wait "$locker" 2>/dev/null || true
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE%'" >/dev/null
}
# Wait until a jobreport session waits on the table lock.
wait_blocked() {
    i=0
    until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobreport' AND wait_event_type = 'Lock'")" -ge 1 ]; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "jobreport never blocked"; sleep 0.1
    done
}
unchanged() {
    [ "$(cat bucket/$S1-service-notify/7-day-report.csv)" = "previous report" ] || fail "old report replaced"
    [ -z "$(find bucket -name '.*')" ] || fail "temporary files left: $(find bucket -name '.*')"
}

# Another run holds generate's advisory lock (key 19026 and a key derived from the command name,
# as the man page says): a second run exits 7 at once, or after --lock-timeout; a dry run takes
# no lock and goes ahead.
key2=$(python3 -c 'k = 0
for c in b"generate": k = (k * 31 + c) & 0xffffffff
print(k & 0x7fffffff)')
psql -X -q -c "SELECT pg_advisory_lock(19026, $key2); SELECT pg_sleep(60);" >/dev/null 2>&1 &
holder=$!
i=0
until [ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "could not take the advisory lock"; sleep 0.1
done
jr --bucket bucket generate --as-of $ASOF
expect_rc 7
expect_err_line "jobreport: error: another 'generate' run holds the lock"
start=$(date +%s.%N)
jr --lock-timeout 1.5 --bucket bucket generate --as-of $ASOF
expect_rc 7
expect_err_line "jobreport: error: another 'generate' run holds the lock (waited 2 seconds)"
python3 -c "import sys; d = $(date +%s.%N) - $start; sys.exit(0 if 1.4 < d < 10 else 1)" || fail "--lock-timeout did not wait"
jr --bucket bucket generate --as-of $ASOF --dry-run --days 1 --service $S1
expect_rc 0
unchanged
kill $holder 2>/dev/null || true
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_advisory_lock%'" >/dev/null
wait $holder 2>/dev/null || true

lock_table

# statement_timeout ends a blocked query: exit 4 with the server's message.
JOBREPORT_STATEMENT_TIMEOUT=1 jr --bucket bucket generate --as-of $ASOF
expect_rc 4
expect_err_line "jobreport: error: cannot read notifications: query failed: ERROR:  canceling statement due to statement timeout"
unchanged

# SIGTERM cancels the query: exit 4, nothing half-written.
"$JOBREPORT" --bucket bucket generate --as-of $ASOF >a.out 2>a.err &
pid_a=$!
wait_blocked
kill -TERM $pid_a
set +e; wait $pid_a; rc=$?; set -e
cat a.err >>"$JR_TEST_STATE/tool-output.log"
[ $rc = 4 ] || { cat a.err; fail "SIGTERM: exit $rc, expected 4"; }
grep -q "^jobreport: error: cannot read notifications: query cancelled by signal$" a.err || { cat a.err; fail "SIGTERM message"; }
unchanged

# The server ends the connection: exit 4 with its message.
"$JOBREPORT" --bucket bucket generate --as-of $ASOF >b.out 2>b.err &
pid_b=$!
wait_blocked
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'jobreport'" >/dev/null
set +e; wait $pid_b; rc=$?; set -e
cat b.err >>"$JR_TEST_STATE/tool-output.log"
[ $rc = 4 ] || { cat b.err; fail "terminated: exit $rc, expected 4"; }
grep -q "terminating connection due to administrator command" b.err || { cat b.err; fail "terminate message"; }
unchanged

unlock_table

# One service fails, the other succeeds: exit 8, the failed one's old reports stay.
psql -q -c "INSERT INTO notifications (id, \"to\", service_id, template_id, template_version, key_type, notification_type, created_at, notification_status) VALUES ('eeeeeeee-0000-4000-8000-000000000022', '1', '$S2', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb2', 1, 'normal', 'sms', '2025-08-11 09:00:00', 'delivered')"
mkdir dest
echo "not a folder" >dest/$S1-service-notify
jr --bucket bucket generate --as-of $ASOF --dest dest
expect_rc 8
expect_err_contains "jobreport: error: 4 of 12 reports failed; first '$S1-service-notify/1-day-report.csv': cannot create temporary file for"
[ "$(cat dest/$S1-service-notify)" = "not a folder" ] || fail "blocker changed"
[ -f dest/$S2-service-notify/7-day-report.csv ] || fail "S2's report was not written"
