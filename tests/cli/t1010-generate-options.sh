# generate's options on the hand-built fixture: --days, --service, --dest DIR and -, --type,
# --until now, --tz, --max-rows, --shard, --dry-run, --summary -.
. "$TOP/tests/cli/lib.sh"
new_db
psql -q -v ON_ERROR_STOP=1 -f "$TOP/tests/fixtures/cli/basic/data.sql" >/dev/null
cp -r "$TOP/tests/fixtures/cli/basic/bucket" bucket
S1=11111111-1111-4111-8111-111111111111
exp="$TOP/tests/fixtures/cli/basic/expected"
ASOF=2025-08-12T01:00:00Z
HDR='Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,Carrier Response'

# Expected rows are records of the 7-day golden file, numbered from 1 (the header); a record may
# span lines (quoted CRLF), so they are split by a small quote-aware reader. Usage: rows A[,B]p
rows() {
    python3 - "$exp/7-day-report.csv" "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
recs, start, quoted = [], 0, False
for i in range(len(data)):
    c = data[i:i + 1]
    if c == b'"':
        quoted = not quoted
    elif c == b"\n" and not quoted and data[i - 1:i] == b"\r":
        recs.append(data[start:i + 1])
        start = i + 1
spec = sys.argv[2].rstrip("p").split(",")
a = int(spec[0]); b = int(spec[-1])
sys.stdout.buffer.write(b"".join(recs[a - 1:b]))
PY
}

# --dest DIR with --days and --service: exactly the asked files, nothing in the bucket.
mkdir out1
jr --bucket bucket generate --as-of $ASOF --dest out1 --days 7,3 --service $S1
expect_rc 0
expect_same out1/$S1-service-notify/7-day-report.csv "$exp/7-day-report.csv"
expect_same out1/$S1-service-notify/3-day-report.csv "$exp/3-day-report.csv"
[ "$(find out1 -type f | wc -l)" = 2 ] || fail "unexpected files in out1: $(find out1 -type f)"
[ ! -e bucket/$S1-service-notify/7-day-report.csv ] || fail "--dest wrote into the bucket"

# --dest -: the report on stdout, nothing else there.
JR_STDOUT_IS_REPORT=1 jr --bucket bucket generate --as-of $ASOF --dest - --days 5 --service $S1
expect_rc 0
expect_same out "$exp/5-day-report.csv"

# --type email: only the email rows (lines 13 and 14 of the 7-day report).
JR_STDOUT_IS_REPORT=1 jr --bucket bucket generate --as-of $ASOF --dest - --days 7 --service $S1 --type email
expect_rc 0
{ rows 1p; rows 13,14p; } >want
expect_same out want
# --type sms: every row but those two.
JR_STDOUT_IS_REPORT=1 jr --bucket bucket generate --as-of $ASOF --dest - --days 7 --service $S1 --type sms
expect_rc 0
{ rows 1,12p; rows 15,16p; } >want
expect_same out want

# --until now: the 1-day window runs to as-of and takes the row from 00:00 of the as-of day.
JR_STDOUT_IS_REPORT=1 jr --bucket bucket generate --as-of $ASOF --until now --dest - --days 1 --service $S1
expect_rc 0
{ rows 1p; printf ',"Reminder, Spanish",,,Delivered,2025-08-12 00:00:00,,today\r\n'; rows 2,6p; } >want
expect_same out want

# --tz America/New_York: as-of is 21:00 on 08-11 there, so the 1-day window is 08-10 in New
# York time, [2025-08-10T04:00Z, 2025-08-11T04:00Z). Times stay in UTC.
JR_STDOUT_IS_REPORT=1 jr --bucket bucket generate --as-of $ASOF --tz America/New_York --dest - --days 1 --service $S1
expect_rc 0
{ rows 1p; rows 7,10p; } >want
expect_same out want

# --max-rows: the newest rows, and the summary says it truncated.
mkdir out2
jr --bucket bucket generate --as-of $ASOF --dest out2 --max-rows 2 --summary -
expect_rc 0
{ rows 1,3p; } >want
expect_same out2/$S1-service-notify/1-day-report.csv want
expect_same out2/$S1-service-notify/7-day-report.csv want
python3 -c '
import json, sys
s = json.load(open("out"))
r = [r for r in s["reports"] if r["service_id"].startswith("1111") and r["days"] == 7][0]
assert r["truncated"] is True and r["rows"] == 2 and r["rows_in_window"] == 15, r
assert s["max_rows"] == 2
' || fail "summary of --max-rows"

# --shard: S1's id is odd, so shard 0/2 leaves it out and 1/2 takes only it.
mkdir out3 out4
jr --bucket bucket generate --as-of $ASOF --dest out3 --shard 0/2
expect_rc 0
[ -z "$(find out3 -type f)" ] || fail "shard 0/2 wrote $(find out3 -type f)"
jr --bucket bucket generate --as-of $ASOF --dest out4 --shard 1/2
expect_rc 0
[ "$(find out4 -type f | wc -l)" = 4 ] || fail "shard 1/2 did not write S1's four reports"

# --dry-run: nothing written or deleted; stdout says what would happen.
mkdir -p out5/22222222-2222-4222-8222-222222222222-service-notify
echo keep >out5/22222222-2222-4222-8222-222222222222-service-notify/3-day-report.csv
jr --bucket bucket generate --as-of $ASOF --dest out5 --dry-run
expect_rc 0
expect_out_contains "would write $S1-service-notify/7-day-report.csv (15 rows)"
expect_out_contains "would delete 22222222-2222-4222-8222-222222222222-service-notify/3-day-report.csv (0 rows)"
[ "$(find out5 -type f)" = "out5/22222222-2222-4222-8222-222222222222-service-notify/3-day-report.csv" ] || fail "dry run wrote files"

# --escape-formulas changes nothing in this fixture (no cell starts with = + - @ TAB CR).
JR_STDOUT_IS_REPORT=1 jr --bucket bucket generate --as-of $ASOF --dest - --days 7 --service $S1 --escape-formulas
expect_rc 0
expect_same out "$exp/7-day-report.csv"

# An unknown --service fails before anything is written; an inactive one is skipped with a warning.
jr --bucket bucket generate --as-of $ASOF --service 99999999-9999-4999-8999-999999999999
expect_rc 2
expect_err_line "jobreport: error: unknown service '99999999-9999-4999-8999-999999999999' (--service)"
mkdir out6
jr --bucket bucket generate --as-of $ASOF --dest out6 --service 33333333-3333-4333-8333-333333333333
expect_rc 0
expect_err_contains "service '33333333-3333-4333-8333-333333333333' is not active: no reports are made for it"
[ -z "$(find out6 -type f)" ] || fail "inactive service got reports"

# JSON logs: one object per line.
jr --log-format json -v --bucket bucket generate --as-of $ASOF --dest out6
expect_rc 0
python3 -c '
import json
lines = open("err").read().splitlines()
assert lines, "no log lines"
for l in lines:
    o = json.loads(l)
    assert set(o) == {"time", "level", "pid", "msg"}, o
assert json.loads(lines[0])["msg"].startswith("generate: begin (")
assert json.loads(lines[-1])["msg"].startswith("generate: end: completed (")
' || fail "JSON log lines"
