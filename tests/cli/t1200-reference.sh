# generate against an independent implementation of SPEC (tests/reference/jobreport_ref.py,
# written from the SPEC alone) on generated data with every awkward job file of SPEC §4: the
# reports must be byte-identical, for several time zones, windows and options.
. "$TOP/tests/cli/lib.sh"
new_db
ASOF=2025-11-03T12:30:00Z   # the day after New York leaves daylight saving time
"$TOP/scripts/gendata.py" --bucket-dir bucket --rows 30000 --seed reference --as-of $ASOF \
    --manifest manifest.json >/dev/null 2>gendata.err || { cat gendata.err; fail "gendata"; }

compare() {
    rm -rf c ref
    mkdir c ref
    jr --bucket bucket generate --as-of $ASOF --dest c "$@"
    expect_rc 0
    python3 "$TOP/tests/reference/jobreport_ref.py" --bucket bucket --dest ref --as-of $ASOF "$@" \
        2>ref.err || { cat ref.err; fail "reference failed for: $*"; }
    n=$(find c -type f | wc -l)
    [ "$n" -gt 20 ] || fail "only $n reports for: $*"
    diff -r c ref >diff.out || { head -n 30 diff.out; fail "reports differ from the reference for: $*"; }
    echo "same: $n reports for: ${*:-defaults}"
}

compare
# The trap rows whose "to" holds a real-looking number never reach a report.
python3 - manifest.json <<'PY'
import json, subprocess, sys
m = json.load(open(sys.argv[1]))
ids = m["notifications"]["trap_real_number"]
assert ids, "no trap rows"
nums = subprocess.run(["psql", "-X", "-A", "-t", "-c",
    "SELECT DISTINCT regexp_replace(\"to\", '[^0-9]', '', 'g') FROM notifications WHERE \"to\" <> '1'"],
    check=True, capture_output=True, text=True).stdout.split()
assert nums, "no trap numbers in the database"
import glob
for path in glob.glob("c/**/*-day-report.csv", recursive=True):
    data = open(path, encoding="utf-8").read()
    for n in nums:
        assert n not in data, f"{n} from notifications.to appears in {path}"
PY

compare --tz America/New_York
compare --until now
compare --tz Asia/Kolkata --until now --days 1,5
compare --type sms --max-rows 40
compare --type email --tz Pacific/Auckland

