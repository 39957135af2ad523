#!/bin/sh
# t0900: scripts/gendata.py builds a deterministic dataset that holds every case the reports must
# handle (SPEC sections 2-5): every status and key type, rows before, inside and after the windows,
# the production race rows, and job files whose SPEC section 4 row numbering matches the
# notifications' job_row_number. Does not run jobreport.
. "$TOP/tests/cli/lib.sh"

GEN="$TOP/scripts/gendata.py"
ASOF=2025-11-05T01:00:05Z
set -- --rows 5000 --seed t0900 --as-of "$ASOF"

# (Not lib.sh's new_db: createdb and dropdb have no -q option.)
fresh_db() {
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
}

# A: the schema loaded beforehand. B: an empty database and --create-schema.
fresh_db t0900_a
PGDATABASE=t0900_a
export PGDATABASE
psql -X -q -v ON_ERROR_STOP=1 -f "$TOP/sql/schema.sql" >/dev/null
"$GEN" --bucket-dir a --manifest a.json "$@" 2>gen-a.err || { cat gen-a.err; fail "gendata (a) failed"; }
grep -q '^gendata: .* notifications' gen-a.err || { cat gen-a.err; fail "no summary on stderr"; }
fresh_db t0900_b
PGDATABASE=t0900_b "$GEN" --bucket-dir b --manifest b.json --create-schema "$@" 2>gen-b.err ||
    { cat gen-b.err; fail "gendata (b, --create-schema) failed"; }

# Determinism: same seed, as-of and rows give the same rows, files and manifest.
tables="-t services -t users -t templates_history -t jobs -t notifications"
# (Recent pg_dump brackets its output with \restrict KEY lines, KEY random per run.)
dump() {
    # shellcheck disable=SC2086
    pg_dump --data-only $tables -d "$1" | grep -v '^\\\(un\)\{0,1\}restrict '
}
dump t0900_a >a.dump
dump t0900_b >b.dump
[ "$(grep -c . a.dump)" -gt 5000 ] || fail "dump too small"
cmp -s a.dump b.dump || { diff a.dump b.dump | head -n 20; fail "database contents differ between runs"; }
diff -r a b >/dev/null || { diff -r a b | head -n 20; fail "job files differ between runs"; }
cmp -s a.json b.json || { diff a.json b.json | head -n 20; fail "manifests differ between runs"; }

# The bulk load drops and rebuilds the notifications indexes: the schema must come out unchanged.
fresh_db t0900_s
psql -X -q -v ON_ERROR_STOP=1 -d t0900_s -f "$TOP/sql/schema.sql" >/dev/null
pg_dump --schema-only -d t0900_s | grep -v '^\\\(un\)\{0,1\}restrict ' >s.schema
pg_dump --schema-only -d t0900_a | grep -v '^\\\(un\)\{0,1\}restrict ' >a.schema
if [ ! -s s.schema ] || ! cmp -s s.schema a.schema; then
    diff s.schema a.schema | head -n 20
    fail "the schema changed"
fi

# Another seed gives other data; refusals are clear and non-zero.
fresh_db t0900_c
PGDATABASE=t0900_c "$GEN" --bucket-dir c --rows 300 --seed other --as-of "$ASOF" --create-schema \
    2>gen-c.err || { cat gen-c.err; fail "gendata (c) failed"; }
[ "$(PGDATABASE=t0900_c sql "SELECT count(*) FROM services WHERE id IN ($(sql "SELECT string_agg(quote_literal(id::text), ',') FROM services"))")" = 0 ] ||
    fail "another seed reuses service ids"
if "$GEN" --bucket-dir d "$@" 2>again.err; then fail "a second run into a loaded database succeeded"; fi
grep -q 'already holds data' again.err || { cat again.err; fail "no clear message for a loaded database"; }
if PGDATABASE=t0900_c "$GEN" --bucket-dir a --truncate "$@" 2>dir.err; then fail "a run into a non-empty directory succeeded"; fi
grep -q 'not empty' dir.err || { cat dir.err; fail "no clear message for a non-empty directory"; }
if "$GEN" --bucket-dir e --as-of yesterday 2>usage.err; then fail "a bad --as-of was accepted"; fi

# Database invariants. D = 2025-11-05, the as-of date; windows are [D-N, D).
q() {
    v=$(sql "$1")
    [ "$v" = "${2:-t}" ] || fail "$3 (got '$v')"
}
q "SELECT count(*) FROM unnest(enum_range(NULL::notify_statuses)) e
   WHERE e NOT IN (SELECT notification_status FROM notifications WHERE key_type <> 'test')" 0 \
  "some notification status is missing"
q "SELECT count(*) FROM unnest(enum_range(NULL::key_types)) e WHERE e NOT IN (SELECT key_type FROM notifications)" 0 \
  "some key type is missing"
q "SELECT string_agg(DISTINCT notification_type::text, ',' ORDER BY notification_type::text) FROM notifications" "email,sms" \
  "notification types are not exactly sms and email"
q "SELECT count(*) FROM unnest(enum_range(NULL::job_statuses)) e WHERE e NOT IN (SELECT job_status FROM jobs)" 0 \
  "some job status is missing"
for n in 1 3 5 7; do
    q "SELECT count(DISTINCT n.notification_type) = 2 AND count(DISTINCT n.service_id) > 1
       FROM notifications n JOIN services s ON s.id = n.service_id
       WHERE s.active AND n.key_type <> 'test'
         AND n.created_at >= date '2025-11-05' - $n AND n.created_at < date '2025-11-05'" t \
      "the $n-day window lacks rows"
    q "SELECT count(*) > 0 FROM notifications WHERE created_at = date '2025-11-05' - $n" t \
      "no row exactly on the $n-day window's lower bound"
done
q "SELECT count(*) > 100 FROM notifications WHERE created_at < date '2025-10-29'" t "no rows older than the 7-day window"
q "SELECT count(*) > 10 FROM notifications WHERE created_at >= date '2025-11-05'" t "no rows on the as-of date"
q "SELECT count(*) > 0 FROM notifications WHERE created_at = date '2025-11-05'" t "no row exactly at 00:00 of the as-of date"
q "SELECT count(*) FROM notifications WHERE created_at > timestamp '2025-11-05 01:00:05'" 0 "rows after as-of"
q "SELECT count(*) > 0 FROM notifications n JOIN services s ON s.id = n.service_id
   WHERE NOT s.active AND n.created_at >= date '2025-11-04' AND n.created_at < date '2025-11-05'" t \
  "no rows of inactive services in the 1-day window"
q "SELECT count(*) > 0 FROM notifications WHERE key_type = 'test' AND created_at >= date '2025-11-04'
   AND created_at < date '2025-11-05'" t "no test-key rows in the 1-day window"
q "SELECT count(*) > 0 FROM (SELECT 1 FROM notifications WHERE key_type <> 'test'
   GROUP BY service_id, created_at HAVING count(*) > 1) x" t "no created_at ties within a service"
q "SELECT count(*) > 1000 FROM notifications WHERE extract(microseconds FROM created_at)::int % 1000000 <> 0" t \
  "created_at lacks microseconds"
q "SELECT count(*) > 0 FROM notifications WHERE job_id IS NULL" t "no API sends"
q "SELECT count(*) FROM notifications WHERE job_id IS NULL AND job_row_number IS NOT NULL" 0 "API sends with a row number"
q "SELECT count(*) > 0 FROM notifications WHERE job_id IS NOT NULL AND job_row_number IS NULL" t \
  "no job rows without a row number"
q "SELECT count(*) FROM notifications n JOIN jobs j ON j.id = n.job_id
   WHERE (n.service_id, n.template_id, n.template_version) IS DISTINCT FROM (j.service_id, j.template_id, j.template_version)" 0 \
  "job rows not on their job's service and template version"
q "SELECT count(*) FROM notifications n LEFT JOIN templates_history t
     ON t.id = n.template_id AND t.version = n.template_version
   WHERE t.id IS NULL OR t.service_id <> n.service_id OR t.template_type::text <> n.notification_type::text" 0 \
  "notifications whose template version is absent, of another service or of another type"
q "SELECT count(*) FROM notifications WHERE created_by_id IS NOT NULL AND created_by_id NOT IN (SELECT id FROM users)" 0 \
  "created_by_id not a user"
q "SELECT count(*) > 0 FROM notifications WHERE created_by_id IS NULL" t "no notification without a sender"
q "SELECT count(*) FROM notifications WHERE notification_type = 'email' AND carrier IS NOT NULL" 0 "email rows with a carrier"
q "SELECT bool_and(c) FROM (SELECT count(*) FILTER (WHERE provider_response LIKE '%' || x || '%') > 0 AS c
   FROM notifications, (VALUES (','), ('\"'), (E'\r\n'), (E'\n')) v(x) GROUP BY x) y" t \
  "provider_response lacks commas, quotes or line breaks"
q "SELECT count(*) > 0 AND count(*) FILTER (WHERE carrier IS NULL) > 0 FROM notifications WHERE notification_type = 'sms'" t \
  "sms carriers are all NULL or all set"
q "SELECT count(*) > 0 FROM notifications WHERE client_reference IS NOT NULL" t "no client_reference"
q "SELECT count(*) > 0 FROM (SELECT id FROM templates_history GROUP BY id HAVING count(DISTINCT name) > 1) x" t \
  "no template renamed between versions"
q "SELECT count(*) FILTER (WHERE name LIKE '%,%') > 0 AND count(*) FILTER (WHERE name LIKE '%\"%') > 0
   FROM templates_history" t "no template name with a comma and one with a quote"
q "SELECT count(*) FILTER (WHERE name LIKE '%,%') > 0 AND count(*) FILTER (WHERE name LIKE '%\"%') > 0
   AND count(*) FILTER (WHERE name ~ '[^\\x01-\\x7f]') > 0 FROM users" t "user names lack commas, quotes or accents"
q "SELECT count(*) FILTER (WHERE NOT active) > 0 AND count(*) FILTER (WHERE name ~ '[^\\x01-\\x7f]') > 0
   AND count(*) >= 5 FROM services" t "services: too few, none inactive or no unicode names"
q "SELECT count(*) FILTER (WHERE original_file_name LIKE '%,%') > 0
   AND count(*) FILTER (WHERE original_file_name ~ '[^\\x01-\\x7f]') > 0
   AND count(*) FILTER (WHERE archived) > 0 FROM jobs" t "jobs: no comma or unicode file names, none archived"

# PII: "to" and normalised_to are '1' except the listed production-race rows.
sql "SELECT id FROM notifications WHERE \"to\" <> '1' OR normalised_to IS DISTINCT FROM '1' ORDER BY id" >traps.db
q "SELECT count(*) FROM notifications WHERE (\"to\" <> '1' OR normalised_to IS DISTINCT FROM '1')
   AND NOT (notification_type = 'sms' AND key_type = 'normal'
            AND created_at >= date '2025-11-04' AND created_at < date '2025-11-05')" 0 \
  "real-looking numbers outside recent normal SMS rows"
sql "SELECT regexp_replace(\"to\", '[^0-9]', '', 'g') || ' ' || regexp_replace(normalised_to, '[^0-9]', '', 'g')
     FROM notifications WHERE \"to\" <> '1'" >traps.digits

sql "COPY (SELECT j.id, j.service_id, j.notification_count, t.template_type FROM jobs j
      JOIN templates_history t ON t.id = j.template_id AND t.version = j.template_version) TO STDOUT" >jobs.tsv
sql "COPY (SELECT job_id, coalesce(job_row_number::text, '-'), id FROM notifications WHERE job_id IS NOT NULL)
     TO STDOUT" >rows.tsv
sql "SELECT json_build_object('services', (SELECT count(*) FROM services), 'users', (SELECT count(*) FROM users),
     'templates_history', (SELECT count(*) FROM templates_history), 'jobs', (SELECT count(*) FROM jobs),
     'notifications', (SELECT count(*) FROM notifications))" >counts.json

# The job files, read by an independent SPEC section 4 counter.
python3 - a a.json <<'EOF' || fail "job files do not match the database (see above)"
import collections, csv, io, json, os, re, sys

bucket, manifest = sys.argv[1], json.load(open(sys.argv[2]))
errors = []

def err(msg):
    errors.append(msg)

# SPEC 4.1: strip whitespace (with BOM, NBSP, zero-width) and commas at both ends of the file.
EXTRA = "\ufeff\u00a0\u200b\u200c\u200d\u2060,"

def strip_ends(t):
    i, j = 0, len(t)
    while i < j and (t[i].isspace() or t[i] in EXTRA):
        i += 1
    while j > i and (t[j - 1].isspace() or t[j - 1] in EXTRA):
        j -= 1
    return t[i:j]

def parse(raw):
    text = strip_ends(raw.decode("utf-8", "replace"))
    rows = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    return (rows[0] if rows else None), rows[1:]

def matches(header, ttype):
    want = "phonenumber" if ttype == "sms" else "emailaddress"
    return [i for i, h in enumerate(header or []) if re.sub(r"[ _\-]", "", h.lower()) == want]

def clean(cell):
    return re.sub("[\u00a0\u200b-\u200d\u2060]", "", cell).strip()

cats = {k: set(v) for k, v in manifest["jobs"].items()}
ncats = {k: set(v) for k, v in manifest["notifications"].items()}
for k, v in list(cats.items()) + list(ncats.items()):
    if not v:
        err("manifest category %s is empty" % k)
for k in ("missing_file", "legacy_key", "no_recipient_column", "invalid_utf8", "short_rows",
          "blank_records", "bom", "lf_only", "crlf", "email", "sms", "two_recipient_columns",
          "embedded_newlines", "nbsp_zero_width", "empty_recipient", "count_mismatch",
          "null_row_number", "rows_beyond_file", "archived", "leading_blank_lines",
          "trailing_blank_lines", "surrounding_commas", "spaces_after_commas", "header_only",
          "empty_file", "both_keys", "no_notifications", "inactive_service", "spans_window_boundary"):
    if k not in cats:
        err("manifest lacks job category %s" % k)
for k in ("trap_real_number", "row_beyond_file", "null_row_number", "boundary"):
    if k not in ncats:
        err("manifest lacks notification category %s" % k)

db = json.load(open("counts.json"))
for k, v in db.items():
    if manifest["counts"].get(k) != v:
        err("manifest count %s = %r, database %r" % (k, manifest["counts"].get(k), v))
if manifest["as_of"] != "2025-11-05T01:00:05Z":
    err("manifest as_of %r" % manifest["as_of"])

traps = set(open("traps.db").read().split())
if traps != ncats.get("trap_real_number"):
    err("rows holding a real-looking number %s != manifest %s" % (sorted(traps), sorted(ncats.get("trap_real_number", ()))))

jobs = {}
for line in open("jobs.tsv", encoding="utf-8"):
    jid, sid, count, ttype = line.rstrip("\n").split("\t")
    jobs[jid] = (sid, int(count), ttype)
rows = collections.defaultdict(list)
for line in open("rows.tsv", encoding="utf-8"):
    jid, r, nid = line.rstrip("\n").split("\t")
    rows[jid].append((None if r == "-" else int(r), nid))

beyond, nulls = ncats.get("row_beyond_file", set()), ncats.get("null_row_number", set())
files = {}
checked = 0
for jid, (sid, count, ttype) in sorted(jobs.items()):
    new = os.path.join(bucket, "%s-service-notify/%s.csv" % (sid, jid))
    old = os.path.join(bucket, "service-%s-notify/%s.csv" % (sid, jid))
    has_new, has_old = os.path.exists(new), os.path.exists(old)
    if jid in cats.get("missing_file", ()) or jid in cats.get("archived", ()):
        if has_new or has_old:
            err("job %s: listed as missing but has a file" % jid)
        continue
    if (has_old and not has_new) != (jid in cats.get("legacy_key", ())):
        err("job %s: legacy-key-only file %s, category disagrees" % (jid, has_old and not has_new))
    if (has_old and has_new) != (jid in cats.get("both_keys", ())):
        err("job %s: files at both keys %s, category disagrees" % (jid, has_old and has_new))
    if not (has_new or has_old):
        err("job %s: no file" % jid)
        continue
    path = new if has_new else old
    raw = open(path, "rb").read()
    files[path] = raw
    if has_old and has_new:
        files[old] = open(old, "rb").read()
    header, records = parse(raw)
    R = len(records)
    rc = matches(header, ttype)
    if bool(rc) == (jid in cats["no_recipient_column"]):
        err("job %s: recipient column %s, no_recipient_column says %s" % (jid, rc, jid in cats["no_recipient_column"]))
    if (len(rc) > 1) != (jid in cats["two_recipient_columns"]):
        err("job %s: %d recipient columns, category disagrees" % (jid, len(rc)))
    if (count != R) != (jid in cats["count_mismatch"]):
        err("job %s: notification_count %d, file has %d records" % (jid, count, R))
    # the category flags describe the file
    def check(cat, cond):
        if cond != (jid in cats.get(cat, ())):
            err("job %s: file %s category %s" % (jid, "fits but is not in" if cond else "is listed in but does not fit", cat))
    check("bom", raw.startswith(b"\xef\xbb\xbf"))
    check("lf_only", b"\n" in raw and b"\r" not in raw)
    check("empty_file", raw == b"")
    check("header_only", header is not None and R == 0)
    try:
        raw.decode("utf-8")
        check("invalid_utf8", False)
    except UnicodeDecodeError:
        check("invalid_utf8", True)
    check("embedded_newlines", any("\n" in c or "\r" in c for rec in records for c in rec))
    if rc:
        check("blank_records", any(all(not clean(c) for c in rec) for rec in records))
        check("short_rows", any(len(rec) <= rc[0] and any(clean(c) for c in rec) for rec in records))
        check("empty_recipient", any(len(rec) > rc[0] and not clean(rec[rc[0]]) and any(clean(c) for c in rec) for rec in records))
    # SPEC 4 numbering: rows 0..R-1, once each; the rest are the listed out-of-range rows.
    got = rows.get(jid, [])
    if jid in cats["no_notifications"]:
        if got:
            err("job %s: no_notifications but has %d" % (jid, len(got)))
        continue
    if not got:
        err("job %s: no notifications" % jid)
        continue
    inside = sorted(r for r, nid in got if r is not None and nid not in beyond and nid not in nulls)
    if R and (max(inside) + 1 if inside else 0) != R:
        err("job %s: max job_row_number + 1 = %d, file has %d records" % (jid, max(inside) + 1 if inside else 0, R))
    if inside != list(range(R)):
        err("job %s: row numbers are not 0..%d once each" % (jid, R - 1))
    for r, nid in got:
        if (nid in nulls) != (r is None):
            err("job %s: notification %s row %r vs null_row_number list" % (jid, nid, r))
        if (nid in beyond) != (r is not None and r >= R):
            err("job %s: notification %s row %r vs row_beyond_file list (%d records)" % (jid, nid, r, R))
    checked += 1

if checked < 50:
    err("only %d jobs with files and notifications checked" % checked)

# The production-race numbers appear nowhere in the files; the manifest holds no recipients.
digits = [d for line in open("traps.digits") for d in line.split()]
if len(digits) < 2:
    err("trap numbers not found")
for path, raw in files.items():
    flat = re.sub(r"[\s+().\-\u00a0\u200b-\u200d\u2060]", "", raw.decode("utf-8", "replace"))
    for d in digits:
        if d[-10:] in flat:
            err("%s holds a trap number" % path)
text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "", open(sys.argv[2]).read())
if "@" in text or re.search(r"\d{10}", text):
    err("the manifest holds something like an email address or phone number")

for e in errors[:40]:
    print("t0900:", e)
print("t0900: checked %d jobs with files, %d files" % (checked, len(files)))
sys.exit(1 if errors else 0)
EOF
