# generate on the hand-built fixture (tests/fixtures/cli/basic): byte-exact reports for all four
# windows, empty windows deleted, inactive and test-only services left alone, idempotent re-runs,
# local files mode 0600, and the JSON summary.
. "$TOP/tests/cli/lib.sh"
new_db
psql -q -v ON_ERROR_STOP=1 -f "$TOP/tests/fixtures/cli/basic/data.sql" >/dev/null
cp -r "$TOP/tests/fixtures/cli/basic/bucket" bucket
S1=11111111-1111-4111-8111-111111111111
S2=22222222-2222-4222-8222-222222222222
S3=33333333-3333-4333-8333-333333333333
exp="$TOP/tests/fixtures/cli/basic/expected"

# Stale objects: S2 has no rows any more, S3 is inactive (prune's business, not generate's).
mkdir -p bucket/$S2-service-notify bucket/$S3-service-notify
echo stale >bucket/$S2-service-notify/1-day-report.csv
echo stale >bucket/$S3-service-notify/1-day-report.csv

jr --bucket bucket generate --as-of 2025-08-12T01:00:00Z --summary summary.json
expect_rc 0
expect_empty out
for n in 1 3 5 7; do
    expect_same bucket/$S1-service-notify/$n-day-report.csv "$exp/$n-day-report.csv"
    [ "$(stat -c %a bucket/$S1-service-notify/$n-day-report.csv)" = 600 ] || fail "mode of $n-day report"
done
[ ! -e bucket/$S2-service-notify/1-day-report.csv ] || fail "S2's empty window was not deleted"
[ "$(cat bucket/$S3-service-notify/1-day-report.csv)" = stale ] || fail "inactive service touched"
[ ! -e bucket/44444444-4444-4444-8444-444444444444-service-notify ] || fail "test-only service got reports"
[ -z "$(find bucket -name '.*')" ] || fail "temporary files left behind"

# Warnings name ids and counts only.
expect_err_contains "job 'cccccccc-cccc-4ccc-8ccc-ccccccccccc3': no job file at '$S1-service-notify/cccccccc-cccc-4ccc-8ccc-ccccccccccc3.csv' or 'service-$S1-notify/cccccccc-cccc-4ccc-8ccc-ccccccccccc3.csv'; its rows are Unavailable"
expect_err_contains "job file '$S1-service-notify/cccccccc-cccc-4ccc-8ccc-ccccccccccc4.csv' has no 'phone number' column; all its rows are Unavailable (1)"
expect_err_contains "rows Unavailable: 2 (short 1, blank 1, invalid UTF-8 0, over the size limit 0, empty recipient 0)"
expect_err_contains "service '$S1': rows with a job but no job_row_number, shown Unavailable: 1 (first: notification 'eeeeeeee-0000-4000-8000-000000000007')"
expect_err_contains "service '$S1': rows pointing past the end of their job file, shown Unavailable: 1"

# The summary: counts, digests and outcomes (checked with Python's json, an independent reader).
python3 - summary.json "$exp" <<'PY'
import json, sys, hashlib
s = json.load(open(sys.argv[1]))
exp = sys.argv[2]
assert s["as_of"] == "2025-08-12T01:00:00Z", s["as_of"]
assert s["time_zone"] == "UTC" and s["until"] == "midnight" and s["type"] == "all"
assert s["services"] == 3, s["services"]            # S1, S2, S4 are active
by = {(r["service_id"], r["days"]): r for r in s["reports"]}
s1 = "11111111-1111-4111-8111-111111111111"
for n, rows, unavail in ((1, 5, 1), (3, 10, 3), (5, 13, 4), (7, 15, 6)):
    r = by[(s1, n)]
    data = open(f"{exp}/{n}-day-report.csv", "rb").read()
    assert r["outcome"] == "written", r
    assert r["rows"] == rows and r["rows_in_window"] == rows, r
    assert r["unavailable"] == unavail, (n, r["unavailable"])
    assert r["bytes"] == len(data) and r["sha256"] == hashlib.sha256(data).hexdigest(), r
    assert r["key"] == f"{s1}-service-notify/{n}-day-report.csv"
    assert r["truncated"] is False
assert by[(s1, 7)]["statuses"] == {"created": 3, "sending": 1, "sent": 3, "delivered": 1, "pending": 2,
    "failed": 1, "technical-failure": 1, "temporary-failure": 1, "permanent-failure": 1,
    "validation-failed": 1}, by[(s1, 7)]["statuses"]
assert by[(s1, 1)]["window_start"] == "2025-08-11T00:00:00Z" and by[(s1, 1)]["window_end"] == "2025-08-12T00:00:00Z"
assert by[(s1, 7)]["window_start"] == "2025-08-05T00:00:00Z"
for n in (1, 3, 5, 7):
    assert by[("22222222-2222-4222-8222-222222222222", n)]["outcome"] == "deleted"
    assert by[("22222222-2222-4222-8222-222222222222", n)]["sha256"] is None
t = s["totals"]
assert t == {"reports_written": 4, "reports_deleted": 8, "reports_failed": 0, "rows": 43,
             "unavailable": 14, "bytes": sum(by[(s1, n)]["bytes"] for n in (1, 3, 5, 7))}, t
c = s["job_cache"]
assert (c["jobs"], c["loaded"], c["missing"], c["malformed"], c["legacy_key"]) == (4, 3, 1, 1, 1), c
assert s["failures"] == []
PY

# Re-running with the same --as-of gives byte-identical files.
jr --bucket bucket generate --as-of 2025-08-12T01:00:00Z
expect_rc 0
for n in 1 3 5 7; do
    expect_same bucket/$S1-service-notify/$n-day-report.csv "$exp/$n-day-report.csv"
done

# Neither the machine's TZ nor the database session's time zone changes anything.
mkdir -p tzcheck
TZ=Pacific/Kiritimati PGTZ=America/Anchorage jr --bucket bucket generate --as-of 2025-08-12T01:00:00Z --dest tzcheck
expect_rc 0
for n in 1 3 5 7; do
    expect_same tzcheck/$S1-service-notify/$n-day-report.csv "$exp/$n-day-report.csv"
done
