#!/bin/sh
# `make bench`: a benchmark, not a test. Builds a realistic dataset (scripts/gendata.py) of
# BENCH_ROWS notifications (default 1000000) in a throwaway PostgreSQL, with the job files in a
# local bucket directory and, with BENCH_S3=1 (default), in the local S3 server too. Then, in one
# run and against the same warm database:
#   1. psql \copy of exactly the rows jobreport streams (its own query, taken from its debug log),
#   2. jobreport generate, local bucket and local destination,
#   3. jobreport generate, S3 bucket and S3 destination (BENCH_S3=1),
# and prints rows/s, MB/s of report output, peak RSS, and the ratio of each run to psql \copy.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
rows=${BENCH_ROWS:-1000000}
use_s3=${BENCH_S3:-1}
asof=2025-11-05T01:00:05Z
state=$(mktemp -d /tmp/jrbench.XXXXXX)
cleanup() {
    "$top/scripts/s3-test.sh" stop "$state" >/dev/null 2>&1 || true
    "$top/scripts/pg-test.sh" stop "$state" >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$top/scripts/pg-test.sh" start "$state"
. "$state/pg.env"
createdb jobreport_bench
export PGDATABASE=jobreport_bench
echo "bench: generating $rows notifications" >&2
"$top/scripts/gendata.py" --create-schema --rows "$rows" --seed bench --as-of "$asof" \
    --bucket-dir "$state/bucket" >/dev/null
psql -X -q -c "VACUUM ANALYZE" >/dev/null

# Run a command, print "seconds maxrss_kb" (wall time and peak RSS of the child).
measure() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
d = time.monotonic() - t
if p.returncode:
    sys.exit(f"bench: {sys.argv[1:]} exited {p.returncode}")
print(f"{d:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

# jobreport's own query, from a dry run's debug log (the dry run also warms the database).
"$top/build/jobreport" -vv --bucket "$state/bucket" generate --as-of "$asof" --dry-run \
    --summary "$state/dry.json" >/dev/null 2>"$state/dry.log"
query=$(sed -n 's/^jobreport: debug: notifications query: //p' "$state/dry.log")
[ -n "$query" ] || { echo "bench: no query in the debug log" >&2; exit 1; }
stream_rows=$(psql -X -A -t -c "SELECT count(*) FROM ($query) q")

set -- $(measure psql -X -q -c "\\copy ($query) TO '/dev/null'")
copy_s=$1
copy_kb=$2
mkdir "$state/out"
set -- $(measure "$top/build/jobreport" --bucket "$state/bucket" generate --as-of "$asof" \
    --dest "$state/out" --summary "$state/local.json")
local_s=$1
local_kb=$2
report_bytes=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['bytes'])" "$state/local.json")

if [ "$use_s3" = 1 ]; then
    "$top/scripts/s3-test.sh" start "$state" bench-bucket
    . "$state/s3.env"
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
        AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
        /usr/bin/aws --endpoint-url "$JR_S3_ENDPOINT" s3 cp "$state/bucket" s3://bench-bucket \
        --recursive --only-show-errors
    set -- $(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_ENDPOINT_URL="$JR_S3_ENDPOINT" \
        measure "$top/build/jobreport" --bucket s3://bench-bucket generate --as-of "$asof" \
        --summary "$state/s3.json")
    s3_s=$1
    s3_kb=$2
fi

python3 - "$rows" "$stream_rows" "$report_bytes" "$copy_s" "$copy_kb" "$local_s" "$local_kb" \
    "${s3_s:-}" "${s3_kb:-}" <<'PY'
import sys
rows, stream, nbytes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
copy_s, copy_kb, local_s, local_kb = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
print(f"dataset: {rows} notifications; {stream} rows in the 7-day window of active services "
      f"(one stream feeds all four windows); {nbytes / 1e6:.1f} MB of reports")
print(f"{'run':<34} {'seconds':>8} {'rows/s':>10} {'MB/s out':>9} {'peak RSS':>10} {'vs copy':>8}")
def line(name, s, kb, out=True):
    mbs = f"{nbytes / 1e6 / s:9.1f}" if out else f"{'-':>9}"
    print(f"{name:<34} {s:8.2f} {stream / s:10.0f} {mbs} {kb / 1024:8.1f}MB {s / copy_s:7.2f}x")
line("psql \\copy of the same rows", copy_s, copy_kb, out=False)
line("jobreport generate, local dir", local_s, local_kb)
if sys.argv[8]:
    line("jobreport generate, local S3", float(sys.argv[8]), int(sys.argv[9]))
PY
