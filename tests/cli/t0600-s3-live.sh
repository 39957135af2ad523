#!/bin/sh
# The S3 storage backend against the local signature-verifying S3 server and the fault proxy
# (tests/integration/test_s3_live.c), then interoperability with an independent client, Debian's
# AWS CLI: objects our backend wrote (one of them multipart) read back byte for byte by
# `aws s3 cp`, and objects `aws s3 cp` wrote (keys with spaces and unicode, one multipart) read
# byte for byte by our backend.
. "$TOP/tests/cli/lib.sh"

: "${JR_S3_ENDPOINT:?the runner starts the S3 server (scripts/s3-test.sh) and sets JR_S3_*}"
live="${JR_TESTBIN:-$TOP/build/tests}/integration/test_s3_live"
[ -x "$live" ] || fail "$live is not built (make build/tests/integration/test_s3_live)"
AWS=/usr/bin/aws
[ -x "$AWS" ] || fail "$AWS is missing (apt-get install awscli)"

aws_s3() {
    AWS_ACCESS_KEY_ID="$JR_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$JR_S3_SECRET_KEY" \
        AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
        AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
        "$AWS" --endpoint-url "$JR_S3_ENDPOINT" s3 "$@"
}

# 1. The integration suite (cmocka). Retries are logged at info level into test.log.
"$live" || fail "test_s3_live failed"

bucket="s3://$JR_S3_BUCKET"
prefix="interop-$$"

# 2. Written by us, read by the AWS CLI.
printf 'Phone Number,Template\r\n12025550143,"Reminder, Spanish"\r\n' >small.csv
head -c 12582917 /dev/urandom >big.bin # 12 MiB + 5: three parts of 5 MiB
"$live" put "$prefix/ours/small.csv" small.csv || fail "our put of small.csv failed"
"$live" put "$prefix/ours/big file ü.bin" big.bin 5242880 || fail "our multipart put failed"
aws_s3 cp --quiet "$bucket/$prefix/ours/small.csv" small.aws || fail "aws cannot read small.csv"
aws_s3 cp --quiet "$bucket/$prefix/ours/big file ü.bin" big.aws || fail "aws cannot read the multipart object"
expect_same small.aws small.csv
expect_same big.aws big.bin

# 3. Written by the AWS CLI (it goes multipart above 8 MiB), read by us.
printf 'email address,name\r\nx@example.com,Zoë\r\n' >job.csv
head -c 20000000 /dev/urandom >job-big.bin
aws_s3 cp --quiet job.csv "$bucket/$prefix/theirs/job file ü ☃ +%.csv" || fail "aws put failed"
aws_s3 cp --quiet job-big.bin "$bucket/$prefix/theirs/big.bin" || fail "aws multipart put failed"
"$live" get "$prefix/theirs/job file ü ☃ +%.csv" job.ours || fail "our get of the aws object failed"
"$live" get "$prefix/theirs/big.bin" job-big.ours || fail "our get of the aws multipart object failed"
expect_same job.ours job.csv
expect_same job-big.ours job-big.bin

# 4. A missing key is "missing" (exit 3), not an error.
set +e
"$live" get "$prefix/theirs/nothing.csv" nothing.out 2>missing.err
rc=$?
set -e
[ "$rc" = 3 ] || { cat missing.err; fail "get of a missing key: exit $rc, expected 3"; }

# 5. Both see the same listing.
aws_s3 ls --recursive "$bucket/$prefix/" | awk '{print $4, $5, $6, $7, $8}' | sed 's/ *$//' | sort >aws.list
[ "$(wc -l <aws.list)" = 4 ] || { cat aws.list; fail "aws lists $(wc -l <aws.list) objects, expected 4"; }
grep -qF "$prefix/theirs/job file ü ☃ +%.csv" aws.list || { cat aws.list; fail "aws listing lacks the unicode key"; }

aws_s3 rm --quiet --recursive "$bucket/$prefix/" || fail "cleanup failed"
