#!/usr/bin/env python3
"""Independent reference implementation of jobreport's N-day reports (SPEC §2, §3, §4, §5.1).

Written from the SPEC alone (not from the C sources) so that the tests can cross-check the C
implementation byte for byte. Python 3 standard library only; PostgreSQL is reached through the
`psql` client (connection from DATABASE_URL if set, else the standard PG* variables).

    jobreport_ref.py --bucket DIR --dest DIR [--as-of TIME] [--tz ZONE] [--days 1,3,5,7]
                     [--until midnight|now] [--type all|sms|email] [--max-rows N]
                     [--service UUID ...] [--invalid-utf8 row|cell|file]
                     [--max-job-file-bytes N]

Reports go to DEST/<service_id>-service-notify/<N>-day-report.csv; a window with no rows
leaves no file (a stale one at that path is removed). Nothing is printed on stdout; one count
summary line (no PII) goes to stderr. See README.md beside this file for every reading of the
SPEC that had to be chosen.

Exit status (as SPEC §6): 0 ok, 2 usage, 4 database, 6 local I/O.
"""

import argparse
import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
import tempfile

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None
    ZoneInfoNotFoundError = Exception

EXIT_OK, EXIT_USAGE, EXIT_DB, EXIT_IO = 0, 2, 4, 6

# --------------------------------------------------------------------------------------------
# Character classes (SPEC §4). "Whitespace" is read as the ASCII whitespace characters (C's
# isspace in the C locale); the SPEC names the non-ASCII characters to add explicitly.
# --------------------------------------------------------------------------------------------
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"  # U+200B..U+200D, U+2060, U+FEFF (BOM / ZWNBSP)
NBSP = "\u00a0"
# §4.1: strip the whole file at both ends of whitespace (incl. BOM, NBSP, ZW chars) and commas.
FILE_STRIP_CHARS = ASCII_WHITESPACE + ZERO_WIDTH + NBSP + ","
# §4.4: removed anywhere in a cell before trimming.
CELL_REMOVE_CHARS = ZERO_WIDTH + NBSP
# §4.5: removed anywhere in a phone number.
PHONE_REMOVE_CHARS = "+" + ASCII_WHITESPACE + "()-."

_CELL_REMOVE_TABLE = {ord(c): None for c in CELL_REMOVE_CHARS}
_PHONE_REMOVE_TABLE = {ord(c): None for c in PHONE_REMOVE_CHARS}
_HEADER_REMOVE_TABLE = {ord(c): None for c in " _-"}

# Lone surrogates U+DC80..U+DCFF: what surrogateescape decoding makes of bytes that are not
# valid UTF-8. Strictly decoded UTF-8 never yields a lone surrogate, so their presence marks
# invalid input exactly.
_INVALID_UTF8_RE = re.compile("[\udc80-\udcff]")

RECIPIENT_COLUMN = {"sms": "phonenumber", "email": "emailaddress"}

# No field-size cap in the parser (the SPEC's limit is on the file size, checked before parsing).
csv.field_size_limit(sys.maxsize)

# --------------------------------------------------------------------------------------------
# Report format (SPEC §5.1)
# --------------------------------------------------------------------------------------------
REPORT_HEADER = ["Phone Number", "Template", "Sent By", "Carrier", "Status", "Time",
                 "Batch File", "Carrier Response"]
UNAVAILABLE = "Unavailable"

STATUS_TEXT = {
    "sms": {
        "failed": "Failed",
        "technical-failure": "Technical failure",
        "temporary-failure": "Unable to find carrier response -- still looking",
        "permanent-failure": "Unable to find carrier response.",
        "delivered": "Delivered",
        "pending": "Pending",
        "sending": "Sending",
        "created": "Sending",
        "sent": "Sent internationally",
    },
    "email": {
        "failed": "Failed",
        "technical-failure": "Technical failure",
        "temporary-failure": "Inbox not accepting messages right now",
        "permanent-failure": "Email address doesn\u2019t exist",
        "delivered": "Delivered",
        "pending": "pending",
        "sending": "Sending",
        "created": "Sending",
        "sent": "Delivered",
    },
}


def status_text(status, template_type):
    """Status wording by template type; any other status (or type) gives the raw value."""
    if status is None:
        return ""
    return STATUS_TEXT.get(template_type or "", {}).get(status, status)


def format_field(value):
    """One CSV field: quoted only when it holds , " CR or LF; quotes doubled; None -> empty."""
    if value is None:
        return ""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def format_record(fields):
    return ",".join(format_field(f) for f in fields) + "\r\n"


def format_report(rows):
    """The whole report as bytes: UTF-8 without BOM, header first, every record ends in CRLF."""
    out = [format_record(REPORT_HEADER)]
    out.extend(format_record(r) for r in rows)
    return "".join(out).encode("utf-8")


def format_time(created_at_text):
    """created_at (PostgreSQL ISO text, UTC) as YYYY-MM-DD HH:MM:SS, fraction truncated."""
    if created_at_text is None or created_at_text == "":
        return ""
    return created_at_text.split(".", 1)[0]


# --------------------------------------------------------------------------------------------
# Job CSV files (SPEC §4)
# --------------------------------------------------------------------------------------------
def normalise_header(name):
    """Header key: lower-cased, with spaces, '_' and '-' removed."""
    return name.lower().translate(_HEADER_REMOVE_TABLE)


def find_column(header, wanted_key):
    """Index of the first header cell whose key is wanted_key, else None (no fallback)."""
    for i, name in enumerate(header):
        if normalise_header(name) == wanted_key:
            return i
    return None


def clean_cell(value):
    """Zero-width characters and NBSP removed (anywhere), then trimmed of whitespace."""
    return value.translate(_CELL_REMOVE_TABLE).strip(ASCII_WHITESPACE)


def clean_phone(value):
    """Cell cleaning, then '+', whitespace, '(', ')', '-' and '.' removed; nothing else."""
    return clean_cell(value).translate(_PHONE_REMOVE_TABLE)


def clean_email(value):
    """Cell cleaning (trimmed); otherwise unchanged."""
    return clean_cell(value)


def strip_file_text(text):
    return text.strip(FILE_STRIP_CHARS)


def has_invalid_utf8(value):
    return _INVALID_UTF8_RE.search(value) is not None


class JobFile:
    """A parsed job CSV: header, data records (numbered from 0) and per-record validity.

    status is "ok", or the reason the whole file yields Unavailable: "missing", "unreadable",
    "oversized".
    """

    def __init__(self, status="ok", header=None, records=None, csv_error=False):
        self.status = status
        self.header = header or []
        self.records = records or []
        self.csv_error = csv_error  # a csv.Error stopped the parse; later rows are absent
        self._columns = {}
        self.any_invalid_utf8 = any(has_invalid_utf8(c) for c in self.header) or any(
            has_invalid_utf8(c) for rec in self.records for c in rec)

    @classmethod
    def from_bytes(cls, data):
        text = data.decode("utf-8", errors="surrogateescape")
        text = strip_file_text(text)
        records = []
        csv_error = False
        # newline='' lets the csv module see CR, LF and CRLF itself (RFC 4180; quoted newlines
        # are kept in the value). A blank line yields an empty record, which keeps its number.
        reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
        try:
            for rec in reader:
                records.append(rec)
        except csv.Error:
            csv_error = True
        if not records:
            return cls("ok", [], [], csv_error)
        return cls("ok", records[0], records[1:], csv_error)

    def recipient(self, row, template_type, invalid_utf8_scope="row"):
        """(value, None) or (None, reason) for data row `row` and the template type."""
        if self.status != "ok":
            return None, self.status
        wanted = RECIPIENT_COLUMN.get(template_type or "")
        if wanted is None:
            return None, "no-recipient-type"
        if wanted not in self._columns:
            self._columns[wanted] = find_column(self.header, wanted)
        col = self._columns[wanted]
        if col is None:
            return None, "malformed"
        if invalid_utf8_scope == "file" and self.any_invalid_utf8:
            return None, "invalid-utf8"
        if row is None:
            return None, "no-row-number"
        if row < 0 or row >= len(self.records):
            return None, "row-out-of-range"
        rec = self.records[row]
        if invalid_utf8_scope == "row" and any(has_invalid_utf8(c) for c in rec):
            return None, "invalid-utf8"
        if not rec:
            return None, "blank-record"
        if col >= len(rec):
            return None, "short-row"
        cell = rec[col]
        if invalid_utf8_scope == "cell" and has_invalid_utf8(cell):
            return None, "invalid-utf8"
        value = clean_phone(cell) if template_type == "sms" else clean_email(cell)
        if value == "":
            return None, "empty"
        return value, None


def job_file_paths(bucket, service_id, job_id):
    """Candidate paths of a job CSV: the current layout, then the legacy one (SPEC §3)."""
    return [os.path.join(bucket, "%s-service-notify" % service_id, "%s.csv" % job_id),
            os.path.join(bucket, "service-%s-notify" % service_id, "%s.csv" % job_id)]


def load_job_file(bucket, service_id, job_id, max_bytes):
    """Read a job file from the local bucket; the legacy key is read when the first is absent."""
    for path in job_file_paths(bucket, service_id, job_id):
        if not os.path.isfile(path):
            continue
        try:
            size = os.path.getsize(path)
            if max_bytes is not None and size > max_bytes:
                return JobFile("oversized")
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return JobFile("unreadable")
        if max_bytes is not None and len(data) > max_bytes:
            return JobFile("oversized")
        return JobFile.from_bytes(data)
    return JobFile("missing")


# --------------------------------------------------------------------------------------------
# Time and windows (SPEC §5.1)
# --------------------------------------------------------------------------------------------
_AS_OF_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"([Zz]|[+-]00(?::?00)?)?)?$")


def parse_as_of(text):
    """ISO 8601 in UTC: 2025-11-05T01:00:05Z, 2025-11-05 01:00:05, or a date (its 00:00).

    Returns an aware UTC datetime; raises ValueError otherwise (non-UTC offsets included).
    """
    m = _AS_OF_RE.match(text.strip())
    if not m:
        raise ValueError("--as-of: expected ISO 8601 UTC time, e.g. 2025-11-05T01:00:05Z")
    y, mo, d, hh, mi, ss, frac, _zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0),
                       micro, tzinfo=dt.timezone.utc)


def get_zone(name):
    if name.upper() == "UTC":
        return dt.timezone.utc
    if ZoneInfo is None:
        raise ValueError("--tz: zoneinfo is not available")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError("--tz: unknown time zone %r" % name) from e


def _local_date(t_utc, zone):
    return t_utc.astimezone(zone).date()


def day_start_utc(date, zone):
    """The first instant (UTC) of calendar date `date` in `zone`.

    Normally local 00:00. Where 00:00 occurs twice (clocks set back over midnight) the first
    occurrence; where it does not exist (clocks set forward over midnight) the instant the
    date begins, i.e. the transition.
    """
    naive = dt.datetime(date.year, date.month, date.day)
    candidates = []
    for fold in (0, 1):
        t = naive.replace(tzinfo=zone, fold=fold).astimezone(dt.timezone.utc)
        back = t.astimezone(zone)
        if back.replace(tzinfo=None) == naive:
            candidates.append(t)
    if candidates:
        return min(candidates)
    # Midnight falls in a gap: search the first second whose local date is `date`.
    a = naive.replace(tzinfo=zone, fold=0).astimezone(dt.timezone.utc)
    b = naive.replace(tzinfo=zone, fold=1).astimezone(dt.timezone.utc)
    lo, hi = min(a, b), max(a, b)
    lo -= dt.timedelta(days=1)
    hi += dt.timedelta(days=1)
    while _local_date(lo, zone) >= date:
        lo -= dt.timedelta(days=1)
    while _local_date(hi, zone) < date:
        hi += dt.timedelta(days=1)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())  # lo before, hi at/after
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _local_date(dt.datetime.fromtimestamp(mid, dt.timezone.utc), zone) >= date:
            hi_s = mid
        else:
            lo_s = mid
    return dt.datetime.fromtimestamp(hi_s, dt.timezone.utc)


def window(as_of, days, zone, until="midnight"):
    """[00:00 of D-N, 00:00 of D) in `zone` as aware UTC datetimes; `until=now` ends at as_of."""
    d = as_of.astimezone(zone).date()
    lower = day_start_utc(d - dt.timedelta(days=days), zone)
    upper = as_of if until == "now" else day_start_utc(d, zone)
    return lower, upper


def sql_timestamp(t):
    """An aware UTC datetime as a literal for `timestamp without time zone`."""
    return "'" + t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "'::timestamp"


# --------------------------------------------------------------------------------------------
# Database (psql subprocess)
# --------------------------------------------------------------------------------------------
class DatabaseError(Exception):
    pass


_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{12}$")


def psql_copy(select_sql):
    """Run COPY (select_sql) TO STDOUT as CSV through psql and return the parsed records."""
    cmd = ["psql", "-X", "-q", "-A", "-v", "ON_ERROR_STOP=1"]
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        cmd += ["-d", url]
    cmd += ["-c", "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'",
            "-c", "COPY (%s) TO STDOUT WITH (FORMAT csv)" % select_sql]
    env = dict(os.environ)
    env["PGCLIENTENCODING"] = "UTF8"
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    except OSError as e:
        raise DatabaseError("cannot run psql: %s" % e.strerror) from e
    if proc.returncode != 0:
        raise DatabaseError(proc.stderr.decode("utf-8", "replace").strip())
    text = proc.stdout.decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def active_services(only=None):
    sql = "SELECT id FROM services WHERE active"
    if only:
        sql += " AND id IN (%s)" % ",".join("'%s'::uuid" % s for s in only)
    sql += " ORDER BY id"
    return [r[0] for r in psql_copy(sql)]


NOTIFICATION_COLUMNS = ("service_id", "id", "job_id", "job_row_number", "status", "carrier",
                        "provider_response", "created_at", "template_name", "template_type",
                        "sent_by", "batch_file", "job_service_id")


def notifications_sql(lower, upper, ntype, services):
    # Never notifications."to" nor normalised_to.
    where = ["n.key_type <> 'test'",
             "n.created_at >= " + sql_timestamp(lower),
             "n.created_at < " + sql_timestamp(upper)]
    if ntype != "all":
        where.append("n.notification_type = '%s'" % ntype)
    if services is not None:
        where.append("n.service_id IN (%s)" % ",".join("'%s'::uuid" % s for s in services))
    return (
        "SELECT n.service_id, n.id, n.job_id, n.job_row_number, n.notification_status, "
        "n.carrier, n.provider_response, n.created_at::text, th.name, th.template_type, "
        "u.name, j.original_file_name, j.service_id "
        "FROM notifications n "
        "JOIN services s ON s.id = n.service_id AND s.active "
        "LEFT JOIN templates_history th ON th.id = n.template_id "
        "AND th.version = n.template_version "
        "LEFT JOIN users u ON u.id = n.created_by_id "
        "LEFT JOIN jobs j ON j.id = n.job_id "
        "WHERE " + " AND ".join(where) + " "
        "ORDER BY n.service_id, n.created_at DESC, n.id ASC")


# --------------------------------------------------------------------------------------------
# Report generation
# --------------------------------------------------------------------------------------------
class Stats:
    def __init__(self):
        self.services = 0
        self.reports = 0
        self.empty = 0
        self.rows = 0
        self.unavailable = 0
        self.truncated = 0
        self.jobs = 0
        self.job_missing = 0
        self.job_malformed = 0
        self.job_oversized = 0
        self.job_unreadable = 0
        self.row_warnings = 0


class JobCache:
    def __init__(self, bucket, max_bytes, invalid_utf8_scope, stats):
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.scope = invalid_utf8_scope
        self.stats = stats
        self.files = {}
        self.malformed = set()

    def get(self, service_id, job_id):
        key = (service_id, job_id)
        jf = self.files.get(key)
        if jf is None:
            jf = load_job_file(self.bucket, service_id, job_id, self.max_bytes)
            self.files[key] = jf
            self.stats.jobs += 1
            if jf.status == "missing":
                self.stats.job_missing += 1
            elif jf.status == "oversized":
                self.stats.job_oversized += 1
            elif jf.status == "unreadable":
                self.stats.job_unreadable += 1
        return jf

    def recipient(self, service_id, job_id, row, template_type):
        jf = self.get(service_id, job_id)
        value, reason = jf.recipient(row, template_type, self.scope)
        if reason == "malformed":
            if (job_id, template_type) not in self.malformed:
                self.malformed.add((job_id, template_type))
                self.stats.job_malformed += 1
        elif reason is not None and jf.status == "ok":
            self.stats.row_warnings += 1
        return value


def report_row(rec, cache):
    r = dict(zip(NOTIFICATION_COLUMNS, rec))
    if r["job_id"] == "":
        phone = ""
    else:
        row = int(r["job_row_number"]) if r["job_row_number"] != "" else None
        job_service = r["job_service_id"] or r["service_id"]
        phone = cache.recipient(job_service, r["job_id"], row, r["template_type"])
        if phone is None:
            phone = UNAVAILABLE
    return [phone, r["template_name"], r["sent_by"], r["carrier"],
            status_text(r["status"] or None, r["template_type"]),
            format_time(r["created_at"]), r["batch_file"], r["provider_response"]]


def write_atomic(path, data):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def report_path(dest, service_id, days):
    return os.path.join(dest, "%s-service-notify" % service_id, "%d-day-report.csv" % days)


def generate(args, stats):
    zone = get_zone(args.tz)
    as_of = args.as_of
    services = active_services(args.service)
    stats.services = len(services)
    cache = JobCache(args.bucket, args.max_job_file_bytes, args.invalid_utf8, stats)
    for days in args.days:
        lower, upper = window(as_of, days, zone, args.until)
        per_service = {s: [] for s in services}
        if services:
            for rec in psql_copy(notifications_sql(lower, upper, args.type, args.service)):
                if rec[0] in per_service:
                    per_service[rec[0]].append(rec)
        for sid in services:
            recs = per_service[sid]
            if args.max_rows is not None and len(recs) > args.max_rows:
                recs = recs[:args.max_rows]
                stats.truncated += 1
            path = report_path(args.dest, sid, days)
            if not recs:
                stats.empty += 1
                if os.path.lexists(path):
                    os.unlink(path)
                continue
            rows = [report_row(rec, cache) for rec in recs]
            stats.rows += len(rows)
            stats.unavailable += sum(1 for r in rows if r[0] == UNAVAILABLE)
            write_atomic(path, format_report(rows))
            stats.reports += 1


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _days(text):
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError("--days: expected a list of positive integers")
        if int(part) not in out:
            out.append(int(part))
    return out


def _uuid(text):
    if not _UUID_RE.match(text):
        raise argparse.ArgumentTypeError("--service: not a UUID: %r" % text)
    return text.lower()


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a positive integer: %r" % text)
    return int(text)


def _as_of(text):
    try:
        return parse_as_of(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def parse_args(argv):
    p = _Parser(prog="jobreport_ref.py", description=__doc__.split("\n")[0])
    p.add_argument("--bucket", required=True, help="local directory with the S3 key layout")
    p.add_argument("--dest", required=True, help="directory to write reports under")
    p.add_argument("--as-of", type=_as_of, default=None, help="reference time (UTC)")
    p.add_argument("--tz", default="UTC", help="IANA time zone of the report days")
    p.add_argument("--days", type=_days, default=[1, 3, 5, 7], help="e.g. 1,3,5,7")
    p.add_argument("--until", choices=("midnight", "now"), default="midnight")
    p.add_argument("--type", choices=("all", "sms", "email"), default="all")
    p.add_argument("--max-rows", type=_positive, default=None)
    p.add_argument("--service", type=_uuid, nargs="+", action="extend", default=None)
    p.add_argument("--invalid-utf8", choices=("row", "cell", "file"), default="row",
                   help="what invalid UTF-8 makes Unavailable (default: the data row)")
    p.add_argument("--max-job-file-bytes", type=_positive, default=256 * 1024 * 1024)
    args = p.parse_args(argv)
    if args.as_of is None:
        args.as_of = dt.datetime.now(dt.timezone.utc)
    try:
        get_zone(args.tz)
    except ValueError as e:
        raise UsageError(str(e))
    if not os.path.isdir(args.bucket):
        raise UsageError("--bucket: not a directory: %s" % args.bucket)
    return args


def main(argv=None):
    prog = "jobreport_ref"
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        print("%s: usage error: %s" % (prog, e), file=sys.stderr)
        return EXIT_USAGE
    stats = Stats()
    try:
        generate(args, stats)
    except DatabaseError as e:
        print("%s: database error: %s" % (prog, e), file=sys.stderr)
        return EXIT_DB
    except OSError as e:
        print("%s: I/O error: %s: %s" % (prog, e.filename or "", e.strerror), file=sys.stderr)
        return EXIT_IO
    print("%s: as_of=%s services=%d reports=%d empty=%d rows=%d unavailable=%d truncated=%d "
          "jobs=%d missing=%d malformed=%d oversized=%d unreadable=%d row_warnings=%d"
          % (prog, args.as_of.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), stats.services, stats.reports,
             stats.empty, stats.rows, stats.unavailable, stats.truncated, stats.jobs,
             stats.job_missing, stats.job_malformed, stats.job_oversized, stats.job_unreadable,
             stats.row_warnings), file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
