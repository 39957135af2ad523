#!/bin/sh
# `make demo`: the nightly job end to end on a built-in demo. Starts a throwaway PostgreSQL and a
# local S3 server on loopback, fills them with generated data (services, jobs, notifications, and
# the senders' job CSV files in the bucket), runs `jobreport generate` against them exactly as the
# nightly run would, then copies the reports out of S3 into demo/reports/ to look at, prints a
# summary and stops the servers. DEMO_ROWS (default 50000) sets the data size.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
demo="$top/demo"
rows=${DEMO_ROWS:-50000}
bucket=notify-demo

rm -rf "$demo"
mkdir -p "$demo/state" "$demo/reports"
cleanup() {
    "$top/scripts/s3-test.sh" stop "$demo/state" >/dev/null 2>&1 || true
    "$top/scripts/pg-test.sh" stop "$demo/state" >/dev/null 2>&1 || true
    rm -rf "$demo/state" "$demo/job-files"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting PostgreSQL and the local S3 server (loopback only)"
"$top/scripts/pg-test.sh" start "$demo/state"
. "$demo/state/pg.env"
"$top/scripts/s3-test.sh" start "$demo/state" "$bucket"
. "$demo/state/s3.env"

# jobreport's configuration, as an operator would set it (SPEC §6).
export AWS_ACCESS_KEY_ID="$JR_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$JR_S3_SECRET_KEY"
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$JR_S3_ENDPOINT"
export JOBREPORT_BUCKET="s3://$bucket"
aws_s3() {
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent \
        AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_DEFAULT_REGION=us-east-1 \
        /usr/bin/aws --endpoint-url "$JR_S3_ENDPOINT" s3 "$@"
}

echo "== generating $rows notifications and the job files"
createdb jobreport_demo
export PGDATABASE=jobreport_demo
"$top/scripts/gendata.py" --create-schema --rows "$rows" --bucket-dir "$demo/job-files" \
    --manifest "$demo/manifest.json"
aws_s3 cp "$demo/job-files" "s3://$bucket" --recursive --only-show-errors

echo "== jobreport generate (bucket s3://$bucket)"
start=$(date +%s.%N)
set +e
"$top/build/jobreport" -v generate --summary "$demo/summary.json"
rc=$?
set -e
end=$(date +%s.%N)
echo "== generate exited $rc after $(python3 -c "print(f'{$end - $start:.2f}')") s"

aws_s3 cp "s3://$bucket" "$demo/reports" --recursive --only-show-errors \
    --exclude '*' --include '*-day-report.csv'
chmod -R go-rwx "$demo/reports"

python3 - "$demo/summary.json" "$demo/reports" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
t, c = s["totals"], s["job_cache"]
print(f"as of {s['as_of']}: {s['services']} active services, {t['reports_written']} reports "
      f"written, {t['reports_deleted']} empty windows deleted, {t['reports_failed']} failed")
print(f"{t['rows']} report rows ({t['unavailable']} Unavailable), {t['bytes']} bytes; "
      f"job cache: {c['jobs']} jobs, {c['rows']} rows, {c['missing']} missing files, "
      f"{c['malformed']} without a recipient column, {c['legacy_key']} at the legacy key")
best = max((r for r in s["reports"] if r["outcome"] == "written"), key=lambda r: r["rows"], default=None)
if best:
    path = os.path.join(sys.argv[2], best["key"])
    print(f"\nthe largest report, {path} ({best['rows']} rows), begins:")
    with open(path, encoding="utf-8") as f:
        for i, line in zip(range(6), f):
            print("  " + line.rstrip("\r\n"))
PY
echo
echo "reports: $demo/reports/<service_id>-service-notify/<N>-day-report.csv (copied from s3://$bucket)"
echo "summary: $demo/summary.json"
exit $rc
