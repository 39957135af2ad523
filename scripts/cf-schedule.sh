#!/bin/sh
# Register jobreport's nightly schedule on Cloud Foundry, the same schedule as cron.d/jobreport:
# `generate` at 01:00 UTC, as a job of the Cloud Foundry Scheduler service (cf CLI plugin
# "scheduler": create-job / schedule-job). The app must be pushed with the jobreport binary and
# bound to its aws-rds and s3 services; jobreport reads VCAP_SERVICES itself. Each run is a CF
# task in its own container; the PostgreSQL advisory lock keeps runs from overlapping.
#
#   scripts/cf-schedule.sh [--dry-run] [--shards N] APP
#
# --shards N registers N jobs, "jobreport-generate-K" running `generate --shard K/N`, which split
# one night's services between N tasks. --dry-run prints the cf commands instead of running them.
set -eu

usage() {
    echo "usage: $0 [--dry-run] [--shards N] APP" >&2
    exit 2
}

dry_run=0
shards=1
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) dry_run=1 ;;
    --shards)
        [ $# -ge 2 ] || usage
        shards=$2
        shift
        ;;
    -*) usage ;;
    *) break ;;
    esac
    shift
done
[ $# -eq 1 ] || usage
app=$1
case "$shards" in
'' | *[!0-9]* | 0) echo "$0: error: --shards needs a positive number" >&2; exit 2 ;;
esac

run() {
    if [ "$dry_run" = 1 ]; then
        printf '%s\n' "$*"
    else
        "$@"
    fi
}

if [ "$dry_run" = 0 ] && ! command -v cf >/dev/null 2>&1; then
    echo "$0: error: the cf CLI is not installed" >&2
    exit 1
fi

# Cloud Foundry Scheduler cron expressions: MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK, in UTC.
k=0
while [ "$k" -lt "$shards" ]; do
    if [ "$shards" = 1 ]; then
        job=jobreport-generate
        cmd="jobreport generate"
    else
        job=jobreport-generate-$k
        cmd="jobreport generate --shard $k/$shards"
    fi
    run cf create-job "$app" "$job" "$cmd"
    run cf schedule-job "$job" "0 1 * * ?"
    k=$((k + 1))
done
