# The schedules: cron.d/jobreport is a valid /etc/cron.d file (user field, PATH, MAILTO, generate
# at 01:00 UTC), and scripts/cf-schedule.sh registers the same schedule (checked with --dry-run).
. "$TOP/tests/cli/lib.sh"
cronf="$TOP/cron.d/jobreport"
grep -q '^PATH=' "$cronf" || fail "cron file without PATH"
grep -q '^MAILTO=' "$cronf" || fail "cron file without MAILTO"
grep -q '^CRON_TZ=UTC$' "$cronf" || fail "cron file without CRON_TZ=UTC"
line=$(grep -v '^#' "$cronf" | grep -v '=' | grep -v '^$')
set -f
set -- $line
set +f
[ "$1 $2 $3 $4 $5" = "0 1 * * *" ] || fail "generate is not at 01:00: $line"
[ "$6" = jobreport ] || fail "no user field: $line"
echo "$line" | grep -q 'exec jobreport generate$' || fail "cron line does not run generate: $line"

"$TOP/scripts/cf-schedule.sh" --dry-run notify-jobreport >out
printf '%s\n' 'cf create-job notify-jobreport jobreport-generate jobreport generate' \
    'cf schedule-job jobreport-generate 0 1 * * ?' >want
expect_same out want
"$TOP/scripts/cf-schedule.sh" --dry-run --shards 2 notify-jobreport >out
grep -qx 'cf create-job notify-jobreport jobreport-generate-1 jobreport generate --shard 1/2' out || fail "shard job"
[ "$(grep -c 'schedule-job' out)" = 2 ] || fail "two schedules expected"
set +e
"$TOP/scripts/cf-schedule.sh" --shards 0 app 2>err; rc=$?
set -e
expect_rc 2
