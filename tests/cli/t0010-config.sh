# Configuration and connection failures: the documented exit status and a clear message, with no
# secret in it.
. "$TOP/tests/cli/lib.sh"
new_db
mkdir bucket

# Malformed VCAP_SERVICES: exit 3.
VCAP_SERVICES='{"aws-rds": [' jr --bucket bucket generate
expect_rc 3
expect_err_line "jobreport: error: invalid VCAP_SERVICES: malformed JSON at line 1, column 13"

VCAP_SERVICES='{"s3": [{"name": "a"}, {"name": "b"}]}' jr generate
expect_rc 3
expect_err_line "jobreport: error: VCAP_SERVICES has 2 s3 bindings and none is named '*csv-upload-bucket*'; set JOBREPORT_S3_SERVICE"

VCAP_SERVICES='{"s3": [{"name": "x", "credentials": {"bucket": 5, "secret_access_key": "SuperSecret99"}}]}' jr generate
expect_rc 3
expect_err_line "jobreport: error: invalid VCAP_SERVICES: a credential of s3 binding 'x' is not a string"
! grep -q SuperSecret99 err || fail "secret in message"

# No bucket anywhere: exit 3 with a hint.
jr generate
expect_rc 3
expect_err_line "jobreport: error: no bucket configured: job files cannot be read"
expect_err_contains "hint: set --bucket, JOBREPORT_BUCKET, CSV_BUCKET_NAME or an s3 binding in VCAP_SERVICES"

# A bucket directory that does not exist: exit 3.
jr --bucket "$TEST_TMP/nope" generate
expect_rc 3
expect_err_line "jobreport: error: cannot open the bucket: directory '$TEST_TMP/nope' does not exist"
jr --bucket bucket generate --dest "$TEST_TMP/nope"
expect_rc 3
expect_err_line "jobreport: error: cannot open --dest: directory '$TEST_TMP/nope' does not exist"

# Bad tunables: exit 3, naming the variable.
JOBREPORT_MAX_MEMORY=lots jr --bucket bucket generate
expect_rc 3
expect_err_line "jobreport: error: invalid JOBREPORT_MAX_MEMORY 'lots': expected a size like 4G"
AWS_MAX_ATTEMPTS=0 JOBREPORT_BUCKET=bucket jr generate
expect_rc 3
expect_err_line "jobreport: error: invalid AWS_MAX_ATTEMPTS '0': expected a whole number from 1 to 20"

# The database is unreachable: exit 4 with libpq's reason; the password never shows.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL="postgres://jr:TopSecretPw@127.0.0.1:$port/nodb" jr --bucket bucket generate
expect_rc 4
grep -q "^jobreport: error: cannot connect to PostgreSQL: connection to server at \"127.0.0.1\", port $port failed: Connection refused" err || { cat err; fail "connect message"; }
! grep -q TopSecretPw err || fail "password in message"

# DATABASE_URL wins over PG* and VCAP; VCAP's aws-rds is used when nothing else is set.
DATABASE_URL="postgresql://postgres@$PGHOST:$PGPORT/$PGDATABASE" PGPORT=1 jr --bucket bucket generate --dry-run
expect_rc 0
uri="postgres://postgres@$PGHOST:$PGPORT/$PGDATABASE"
( unset PGHOST PGPORT PGUSER PGDATABASE
  VCAP_SERVICES="{\"aws-rds\":[{\"name\":\"db\",\"credentials\":{\"uri\":\"$uri\"}}]}" \
      jr --bucket bucket generate --dry-run
  expect_rc 0 )

# The schema is missing: exit 4 with the server's message.
createdb "${PGDATABASE}_empty"
PGDATABASE="${PGDATABASE}_empty" jr --bucket bucket generate
expect_rc 4
expect_err_line 'jobreport: error: cannot list services: query failed: ERROR:  relation "services" does not exist'
