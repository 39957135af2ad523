# generate with an s3:// bucket on the local signature-verifying S3 server: job files uploaded by
# an independent client (Debian's AWS CLI, current and legacy key layouts), reports written to S3
# and read back byte for byte by the AWS CLI, empty windows deleted, --dest s3://bucket/prefix,
# and failures: a wrong secret (exit 5, SignatureDoesNotMatch, old reports untouched) and a job
# file that cannot be read (its service's reports kept, the others written, exit 8).
. "$TOP/tests/cli/lib.sh"
: "${JR_S3_ENDPOINT:?the runner starts the S3 server}"
new_db
psql -q -v ON_ERROR_STOP=1 -f "$TOP/tests/fixtures/cli/basic/data.sql" >/dev/null
S1=11111111-1111-4111-8111-111111111111
S2=22222222-2222-4222-8222-222222222222
exp="$TOP/tests/fixtures/cli/basic/expected"
ASOF=2025-08-12T01:00:00Z
B=gen-t1300

aws_s3() {
    AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent \
        AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
        /usr/bin/aws --endpoint-url "$1" s3 "$2" "$3" ${4:+"$4"} ${5:+"$5"} ${6:+"$6"}
}
s3() { aws_s3 "$JR_S3_ENDPOINT" "$@"; }

# The tool's S3 settings, as an operator would give them.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$JR_S3_ENDPOINT"

s3 mb "s3://$B" >/dev/null
s3 cp "$TOP/tests/fixtures/cli/basic/bucket" "s3://$B" --recursive >/dev/null
printf 'stale' >stale.csv
s3 cp stale.csv "s3://$B/$S2-service-notify/3-day-report.csv" >/dev/null

jr --bucket "s3://$B" generate --as-of $ASOF --summary summary.json
expect_rc 0
expect_empty out
for n in 1 3 5 7; do
    s3 cp "s3://$B/$S1-service-notify/$n-day-report.csv" "got-$n.csv" >/dev/null
    expect_same "got-$n.csv" "$exp/$n-day-report.csv"
done
s3 ls "s3://$B/$S2-service-notify/" >ls.out || true
! grep -q 3-day-report ls.out || fail "S2's empty window was not deleted"
python3 -c '
import json
s = json.load(open("summary.json"))
assert s["destination"] == "s3://gen-t1300", s["destination"]
assert s["totals"]["reports_written"] == 4 and s["totals"]["reports_failed"] == 0, s["totals"]
assert s["job_cache"]["legacy_key"] == 1 and s["job_cache"]["missing"] == 1, s["job_cache"]
' || fail "summary"

# The same through configuration from VCAP_SERVICES, and --dest s3://bucket/prefix.
vcap="{\"s3\":[{\"name\":\"notify-api-csv-upload-bucket-test\",\"credentials\":{\"bucket\":\"$B\",\"access_key_id\":\"S3RVER\",\"secret_access_key\":\"S3RVER\",\"region\":\"us-east-1\"}}]}"
( unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
  VCAP_SERVICES="$vcap" jr generate --as-of $ASOF --dest "s3://$B/copy/nightly" --days 7 --parallel 2
  expect_rc 0 )
s3 cp "s3://$B/copy/nightly/$S1-service-notify/7-day-report.csv" copy7.csv >/dev/null
expect_same copy7.csv "$exp/7-day-report.csv"

# A wrong secret: every request is refused; exit 5 naming SignatureDoesNotMatch; the reports in
# the bucket are untouched and the secret appears nowhere.
AWS_SECRET_ACCESS_KEY=WrongSecret123 jr --bucket "s3://$B" generate --as-of 2025-08-20T01:00:00Z
expect_rc 5
expect_err_contains "SignatureDoesNotMatch"
! grep -q WrongSecret123 err || fail "secret in the output"
s3 cp "s3://$B/$S1-service-notify/1-day-report.csv" after.csv >/dev/null
expect_same after.csv "$exp/1-day-report.csv"

# A job file that storage cannot deliver (the fault proxy answers 500 to every GET of it, beyond
# the retries): S1's reports are kept, not replaced by ones full of Unavailable; S2 (given a row
# here) is written; exit 8.
psql -q -c "INSERT INTO notifications (id, \"to\", service_id, template_id, template_version, key_type, notification_type, created_at, notification_status) VALUES ('eeeeeeee-0000-4000-8000-000000000022', '1', '$S2', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb2', 1, 'normal', 'sms', '2025-08-11 09:00:00', 'delivered')"
curl -s -X POST "$JR_S3_FAULT_ENDPOINT/__fault/reset" >/dev/null
curl -s -X POST -H 'Content-Type: application/json' "$JR_S3_FAULT_ENDPOINT/__fault/rules" \
    -d '[{"method":"GET","path":"cccccccc-cccc-4ccc-8ccc-ccccccccccc1","count":1000,"action":"status","status":500,"code":"InternalError"}]' >/dev/null
AWS_ENDPOINT_URL="$JR_S3_FAULT_ENDPOINT" AWS_MAX_ATTEMPTS=2 jr --bucket "s3://$B" generate --as-of $ASOF --days 1
curl -s -X POST "$JR_S3_FAULT_ENDPOINT/__fault/reset" >/dev/null
expect_rc 8
expect_err_contains "cannot read job file '$S1-service-notify/cccccccc-cccc-4ccc-8ccc-ccccccccccc1.csv'"
expect_err_contains "the reports of its service are not replaced"
tail -n 1 err | grep -q "^jobreport: error: 1 of 3 reports failed; first '$S1-service-notify/1-day-report.csv': cannot read job file" || { cat err; fail "final message"; }
s3 cp "s3://$B/$S1-service-notify/1-day-report.csv" kept.csv >/dev/null
expect_same kept.csv "$exp/1-day-report.csv"
s3 cp "s3://$B/$S2-service-notify/1-day-report.csv" s2.csv >/dev/null
grep -q "2025-08-11 09:00:00" s2.csv || fail "S2's report was not written"
