# Usage, help, version and bad command lines: exit 2 with an exact message, nothing written.
. "$TOP/tests/cli/lib.sh"

jr --help
expect_rc 0
expect_out_contains "usage: jobreport [global options] <command> [options]"
expect_out_contains "  generate   write the 1/3/5/7-day reports"
expect_empty err

jr --version
expect_rc 0
[ "$(cat out)" = "jobreport $(cat "$TOP/VERSION")" ] || fail "version: $(cat out)"

jr generate --help
expect_rc 0
expect_out_contains "usage: jobreport generate [options]"
jr help generate
expect_rc 0
expect_out_contains "--max-rows N"

jr
expect_rc 2
grep -q "^usage: jobreport" err || fail "no usage on stderr"

jr frobnicate
expect_rc 2
expect_err_line "jobreport: error: unknown command 'frobnicate'"

jr --frob generate
expect_rc 2
expect_err_line "jobreport: error: unknown global option '--frob'"

jr --bucket
expect_rc 2
expect_err_line "jobreport: error: option '--bucket' needs a value"

jr --log-format xml generate
expect_rc 2
expect_err_line "jobreport: error: invalid --log-format 'xml': expected text or json"

jr --lock-timeout soon generate
expect_rc 2
expect_err_line "jobreport: error: invalid --lock-timeout 'soon': expected seconds"

# Option errors of generate: exact first line, a hint, exit 2; checked before any connection.
check_generate() {
    expected=$1
    shift
    jr --bucket "$TEST_TMP" generate "$@"
    expect_rc 2
    expect_err_line "jobreport: error: $expected"
    expect_err_contains "hint: see 'jobreport generate --help'"
    expect_empty out
}
check_generate "unknown option '--frob'" --frob
check_generate "option '--days' needs a value" --days
check_generate "invalid --days '2': expected a list from 1,3,5,7" --days 2
check_generate "invalid --days '1,,x': expected a list from 1,3,5,7" --days 1,,x
check_generate "invalid --service 'abc': expected a UUID" --service abc
check_generate "invalid --until 'noon': expected midnight or now" --until noon
check_generate "invalid --type 'letter': expected all, sms or email" --type letter
check_generate "invalid --max-rows '0': expected a positive number" --max-rows 0
check_generate "invalid --max-rows '-5': expected a positive number" --max-rows -5
check_generate "invalid --shard '3/3': expected K/N with 0 <= K < N" --shard 3/3
check_generate "invalid --shard '1': expected K/N, e.g. 0/4" --shard 1
check_generate "invalid --parallel '0': expected 1 to 64" --parallel 0
check_generate "unexpected argument 'extra'" extra
check_generate "--dest - writes one report: give exactly one --service and one --days" --dest -
check_generate "unknown time zone 'Mars/Olympus' (--tz)" --tz Mars/Olympus
check_generate "unknown time zone '../../etc/passwd' (--tz)" --tz ../../etc/passwd

jr --bucket "$TEST_TMP" generate --as-of yesterday
expect_rc 2
expect_err_line "jobreport: error: invalid --as-of 'yesterday': expected a UTC time like 2025-11-05T01:00:05Z or a date like 2025-11-05"
jr --bucket "$TEST_TMP" generate --as-of 2025-02-30
expect_rc 2
jr --bucket "$TEST_TMP" generate --as-of 2025-11-05T01:00:05+02:00
expect_rc 2

# Global options may follow the command.
jr generate --frob --bucket "$TEST_TMP" -q
expect_rc 2
expect_err_line "jobreport: error: unknown option '--frob'"

# Nothing was written anywhere.
[ -z "$(ls -A "$TEST_TMP" | grep -v -e '^out$' -e '^err$' -e '^test.log$')" ] || fail "files appeared in $TEST_TMP"
