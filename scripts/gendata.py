#!/usr/bin/python3
"""Generate realistic, deterministic demo and test data for jobreport.

Writes services, users, template versions, jobs and notifications into PostgreSQL (schema in
sql/schema.sql) and the job CSV files -- the only place recipients live -- into a directory with the
bucket key layout of SPEC section 3. The data covers the awkward cases of SPEC section 4 (BOM, CRLF
and LF, blank records, short rows, quoted newlines, header spellings, missing and malformed files,
invalid UTF-8 ...) and rows before, inside and after the 1/3/5/7-day windows around --as-of.

Usage:
  scripts/gendata.py --bucket-dir DIR [--rows N] [--seed S] [--as-of TIME] [--services K]
                     [--create-schema] [--truncate] [--manifest FILE] [--dsn DSN]

The database connection comes from --dsn (a libpq connection string or URI) or the standard PG*
environment variables; psql is run as a subprocess. Small tables are loaded with COPY, the bulk of
the notifications with INSERT ... SELECT over generate_series(), pseudo-random from md5() of the
seed and row keys, so the same --seed, --as-of and --rows give identical database contents and files.
Python 3 standard library only.
"""

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
import unicodedata

GENERATOR_VERSION = 1

US = 1_000_000
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86400 * US
SPAN_DAYS = 10  # data starts this many days before 00:00 of the as-of date

# SPEC section 4 step 1 strip set (besides whitespace) and step 4 removal set.
STRIP_EXTRA = "\ufeff\u00a0\u200b\u200c\u200d\u2060,"
CELL_REMOVE = dict.fromkeys(map(ord, "\u00a0\u200b\u200c\u200d\u2060"))
PHONE_REMOVE_RE = re.compile(r"[+\s().\-]")

NOTIFY_STATUSES = [
    "cancelled", "created", "sending", "sent", "delivered", "pending", "failed",
    "technical-failure", "temporary-failure", "permanent-failure", "pending-virus-check",
    "validation-failed", "virus-scan-failed"]
JOB_STATUSES = [
    "pending", "in progress", "finished", "sending limits exceeded", "scheduled", "cancelled",
    "ready to send", "sent to dvla", "error"]
NO_NOTIFICATION_STATUSES = {"pending", "scheduled", "cancelled", "ready to send"}

# Per 1000 notifications.
STATUS_WEIGHTS = [
    ("delivered", 520), ("sent", 40), ("sending", 60), ("created", 30), ("pending", 40),
    ("failed", 50), ("technical-failure", 30), ("temporary-failure", 60),
    ("permanent-failure", 60), ("cancelled", 30), ("pending-virus-check", 20),
    ("validation-failed", 40), ("virus-scan-failed", 20)]

SMS_RESPONSES = {
    "delivered": [None, "Message has been accepted by phone", None,
                  "Message has been accepted by phone carrier"],
    "sent": ["Message sent internationally", None],
    "sending": [None], "created": [None],
    "pending": [None, "Queued, awaiting carrier receipt"],
    "failed": ['Phone carrier said "no", code 30007', "Unknown error attempting to reach phone"],
    "technical-failure": ["Provider error, retrying\r\nthen gave up", None],
    "temporary-failure": ["Phone carrier is currently unreachable/unavailable",
                          'Carrier said: "try again later"',
                          "Phone is currently unreachable/unavailable"],
    "permanent-failure": ["Phone has blocked SMS", "Number invalid,\nno such subscriber",
                          'Opted out: replied "STOP"', "Unable to find carrier response."],
    "cancelled": [None], "pending-virus-check": [None],
    "validation-failed": ["Invalid destination, rejected before sending"],
    "virus-scan-failed": [None],
}
EMAIL_RESPONSES = {
    "delivered": [None, "Email delivered", "250 2.0.0 OK, queued as 4XyZ"],
    "sent": [None], "sending": [None], "created": [None], "pending": [None],
    "failed": ["Rejected, content filter"],
    "technical-failure": [None, "SES error:\r\nThrottling"],
    "temporary-failure": ['452 4.2.2 Mailbox full, "over quota"', "Soft bounce"],
    "permanent-failure": ["550 5.1.1 User unknown\r\nRecipient address rejected",
                          "Email address doesn\u2019t exist"],
    "cancelled": [None], "pending-virus-check": [None],
    "validation-failed": ["Invalid email address"], "virus-scan-failed": [None],
}
# 20 slots: NULL, or realistic US carriers (one containing a comma).
CARRIERS = (["Verizon Wireless"] * 6 + ["T-Mobile USA, Inc."] * 5 + ["AT&T Mobility"] * 5
            + ["US Cellular", "Cricket Wireless"] + [None] * 2)

AREAS = ["202", "212", "213", "305", "312", "404", "415", "503", "512", "617", "702", "713",
         "808", "907", "971"]
TRAP_AREA = "999"  # numbers in notifications."to" only; never in a job file

SMS_HEADERS = ["phone number", "Phone Number", "phone_number", "PHONENUMBER", "Phone-Number",
               "PhoneNumber", "Phone number", "PHONE_NUMBER", "phone-number", " phone number ",
               "Phone  Number"]
EMAIL_HEADERS = ["email address", "Email Address", "Email_Address", "EMAILADDRESS",
                 "email-address", "E-mail Address", "EmailAddress", "e_mail_address",
                 "Email address"]
# Look like recipient columns but do not match after normalisation: never used as a fallback.
SMS_DECOYS = ["phone", "mobile number", "telephone", "phone numbers", "cell phone number"]
EMAIL_DECOYS = ["email", "e mail", "contact email address", "emails"]

EXTRA_COLUMNS = [
    ("name", "name"), ("First Name", "first"), ("Nombre", "first"), ("date", "date"),
    ("appointment date", "date"), ("time", "time"), ("reference", "ref"), ("Address", "address"),
    ("clinic", "clinic"), ("amount", "amount"), ("language", "lang"), ("note", "note"),
    ("C\u00f3digo", "code"), ("Zo\u00eb's field", "note"), ("ref, internal", "ref"),
    ('say "hi"', "note"), ("", "empty")]

FIRST = ["Jane", "Jos\u00e9", "Zo\u00eb", "Mar\u00eda", "Wei", "Aaliyah", "Nguy\u1ec5n",
         "S\u00f8ren", "Chlo\u00e9", "Mohammed", "Ana-Luc\u00eda", "O'Neil", "Bj\u00f6rn",
         "\u00c9milie", "Dmitri", "Kwame", "Priya", "\u0141ukasz", "Siobh\u00e1n", "\u674e",
         "Fatima", "Ren\u00e9e", "John", "Mary", "Luis", "Hana", "Ng\u00f3c"]
LAST = ["Smith", "Garc\u00eda", "O'Brien", "Nguy\u1ec5n", "M\u00fcller", "Chen", "Johnson",
        "Ram\u00edrez", "Kowalski", "Dubois", "Okafor", "Patel", "van der Berg", "N\u00fa\u00f1ez",
        "\u00de\u00f3rsson", "Yamamoto", "Al-Sayed", "Brown", "Mart\u00ednez", "Lee", "\u96f7"]
NICKS = ["JJ", "Sunny", "Doc", "La Reina", "\u5c0f\u674e"]
LOCALS = ["jane.doe", "j.smith", "maria.garcia", "wei.chen", "obrien", "jose.ramirez", "li.na",
          "ana-maria", "test+tag", "K.Okafor", "zo\u00eb", "first_last", "PATEL.P"]
EMAIL_DOMAINS = ["example.com", "example.org", "mail.example.com", "Example.ORG"]

SERVICE_BASES = [
    "Department of Health", "Minist\u00e8re de la Sant\u00e9", "Oficina de Servicios Sociales",
    "Bureau of Motor Vehicles", "Office of Veterans\u2019 Affairs", "Department of Labor, Region 5",
    'Office of "Open Data"', "Krak\u00f3w Consulate", "Zo\u00eb\u2019s Clinic Network",
    "S\u00e3o Paulo Liaison Office", "D\u00e9partement de l'\u00c9ducation",
    "\u014ctsuka Outreach Program", "\u4e1c\u533a\u793e\u533a\u670d\u52a1",
    "\u0421\u043b\u0443\u0436\u0431\u0430 \u0437\u0430\u043d\u044f\u0442\u043e\u0441\u0442\u0438",
    "Water & Sewer Utility", "Parks and Recreation \u2014 Summer", "Emergency Alerts \U0001f6a8",
    "Tax Office (Ayuda en espa\u00f1ol)", "Housing Authority", "WIC Program, County of Kaua\u02bbi"]

SMS_TEMPLATES = ["Appointment reminder", "Reminder, Spanish", "Verification code",
                 "Benefits renewal notice", 'Your "urgent" update', "Recordatorio de cita",
                 "Payment received", "Outage alert", "Survey invitation",
                 "Clinic closure \u2013 weather", "Nh\u1eafc nh\u1edf l\u1ecbch h\u1eb9n",
                 "Vaccine clinic \U0001f489"]
EMAIL_TEMPLATES = ["Welcome email", "Monthly newsletter", "Application received",
                   "Password reset", "Renewal, final notice", "R\u00e9sum\u00e9 received",
                   'The "final" notice', "Case update", "Confirmaci\u00f3n de solicitud"]
FILE_NAMES = ["August reminders.csv", "Recordatorios, septiembre.csv",
              "clinic list (final) v2.csv", "Zo\u00eb\u2019s contacts.csv",
              "names, numbers & dates.csv", '"quoted" name.csv',
              "\u6771\u4eac list.csv", "batch \U0001f680 launch.csv", "export 2025-10-29 14_02.csv",
              "Recipients.xlsx", "renewals;semicolon.csv", "  leading spaces.csv",
              "very long name " + "x" * 120 + ".csv", "r\u00e9sum\u00e9s.CSV", "list.txt"]


class GenError(Exception):
    pass


def md5hex(s):
    return hashlib.md5(s.encode("utf-8"), usedforsecurity=False).hexdigest()


def hex_to_uuid(h):
    """An md5 hex digest shaped as a version-4 UUID (same as sql_uuid())."""
    return "%s-%s-4%s-%s%s-%s" % (h[0:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) & 3],
                                  h[17:20], h[20:32])


def sql_uuid(h):
    """SQL expression doing hex_to_uuid() on the md5 hex text column h."""
    return ("(substr({h},1,8)||'-'||substr({h},9,4)||'-4'||substr({h},14,3)||'-'||"
            "substr('89ab',(('x'||substr({h},17,1))::bit(4)::int & 3)+1,1)||substr({h},18,3)||'-'||"
            "substr({h},21,12))::uuid").format(h=h)


def sql_lit(s):
    return "'" + s.replace("'", "''") + "'"


def copy_field(v):
    """A value in COPY text format."""
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    s = str(v)
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def copy_block(table, columns, rows):
    out = ["COPY %s (%s) FROM STDIN;" % (table, ", ".join(columns))]
    for r in rows:
        out.append("\t".join(copy_field(v) for v in r))
    out.append("\\.")
    return "\n".join(out) + "\n"


def sql_array(uuids):
    return "{" + ",".join(uuids) + "}"


def ascii_slug(s):
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "", s.lower())
    return s or "user"


# --- SPEC section 4, as the self-check of every file written --------------------------------

def spec_strip(text):
    i, j = 0, len(text)
    while i < j and (text[i].isspace() or text[i] in STRIP_EXTRA):
        i += 1
    while j > i and (text[j - 1].isspace() or text[j - 1] in STRIP_EXTRA):
        j -= 1
    return text[i:j]


def spec_key(h):
    return re.sub(r"[ _\-]", "", h.lower())


def spec_parse(data):
    """(header, records) of a job file per SPEC section 4 (undecodable bytes replaced)."""
    text = spec_strip(data.decode("utf-8", errors="replace"))
    rows = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    if not rows:
        return None, []
    return rows[0], rows[1:]


def spec_clean(cell, ttype):
    cell = cell.translate(CELL_REMOVE).strip()
    if ttype == "sms":
        cell = PHONE_REMOVE_RE.sub("", cell)
    return cell


# --- generation ---------------------------------------------------------------------------------

class Job:
    __slots__ = ("idx", "id", "service", "ttype", "template_id", "version", "size", "features",
                 "file", "status", "placement", "count_delta", "n_null", "n_beyond",
                 "beyond_gap", "tie", "archived", "created_us", "start_us", "step_us",
                 "scheduled_us", "created_by", "file_name", "records", "meta", "trap", "forced")

    def __init__(self, idx):
        self.idx = idx
        self.features = set()
        self.file = "normal"  # normal | missing | legacy | both
        self.status = "finished"
        self.placement = "any"
        self.count_delta = 0
        self.n_null = 0
        self.n_beyond = 0
        self.beyond_gap = 0
        self.tie = 1
        self.archived = False
        self.scheduled_us = None
        self.trap = False
        self.forced = False
        self.records = None
        self.meta = {}

    @property
    def n_main(self):
        if self.status in NO_NOTIFICATION_STATUSES:
            return 0
        return self.records

    @property
    def total(self):
        if self.status in NO_NOTIFICATION_STATUSES:
            return 0
        return self.records + self.n_beyond + self.n_null


class Generator:
    def __init__(self, args):
        self.args = args
        self.seed = str(args.seed)
        self.rows = args.rows
        self.as_of = args.as_of
        self.D = dt.datetime(self.as_of.year, self.as_of.month, self.as_of.day)
        self.B = self.D - dt.timedelta(days=SPAN_DAYS)
        self.d_us = SPAN_DAYS * DAY
        self.w7_us = self.d_us - 7 * DAY
        self.as_of_us = self.us_of(self.as_of)
        # Rows on the as-of date span [D, as_of), at least one hour so there always are some.
        self.hi_us = self.d_us + max(self.as_of_us - self.d_us, HOUR)
        self.services = []
        self.users = []
        self.templates = []  # rows of templates_history
        self.jobs = []
        self.extras = []     # explicit notification rows (COPY)
        self.traps = []      # (notification id, to, normalised_to)
        self.cat = {}        # manifest job categories
        self.ncat = {"trap_real_number": [], "row_beyond_file": [], "null_row_number": [],
                     "boundary": []}
        self.n_files = 0
        self.file_bytes = 0

    # helpers
    def rng(self, *parts):
        return random.Random(":".join([self.seed] + [str(p) for p in parts]))

    def uuid(self, *parts):
        return hex_to_uuid(md5hex(":".join([self.seed] + [str(p) for p in parts])))

    def us_of(self, t):
        d = t - self.B
        return (d.days * 86400 + d.seconds) * US + d.microseconds

    def ts(self, us):
        return (self.B + dt.timedelta(microseconds=us)).strftime("%Y-%m-%d %H:%M:%S.%f")

    def add_cat(self, name, job):
        self.cat.setdefault(name, []).append(job.id)

    # services, users, templates
    def build_services(self):
        k = self.args.services or max(5, int(round(math.sqrt(self.rows) / 4)))
        rng = self.rng("services")
        n_inactive = max(1, int(round(k * 0.15)))
        inactive = set(rng.sample(range(1, k), n_inactive))
        seen = set()
        for i in range(k):
            base = SERVICE_BASES[i % len(SERVICE_BASES)]
            name = base if i < len(SERVICE_BASES) else "%s #%d" % (base, i // len(SERVICE_BASES) + 1)
            assert name not in seen
            seen.add(name)
            created = self.D - dt.timedelta(days=rng.randint(30, 900), seconds=rng.randint(0, 86399),
                                            microseconds=rng.randint(0, 999999))
            self.services.append({
                "idx": i, "id": self.uuid("service", i), "name": name, "active": i not in inactive,
                "created_at": created.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "weight": 1.0 / (1 + rng.random() * 9) ** 1.5 if i else 1.0,
                "users": [], "templates": {"sms": [], "email": []}})
        # users: three per service, plus five platform admins shared by all services
        n_users = 3 * k + 5
        for u in range(n_users):
            r = self.rng("user", u)
            first, last = r.choice(FIRST), r.choice(LAST)
            shape = r.randrange(10)
            if shape == 0:
                name = "%s, %s" % (last, first)
            elif shape == 1:
                name = '%s "%s" %s' % (first, r.choice(NICKS), last)
            elif shape == 2:
                name = "Dr. %s %s, MPH" % (first, last)
            else:
                name = "%s %s" % (first, last)
            email = "%s.%s.%04d@notify.example.net" % (ascii_slug(first), ascii_slug(last), u)
            self.users.append({"id": self.uuid("user", u), "name": name, "email": email})
        for s in self.services:
            i = s["idx"]
            s["users"] = [self.users[5 + 3 * i + j]["id"] for j in range(3)] + [self.users[i % 5]["id"]]
        # templates: 2-6 per service, at least one sms and one email, 1-4 versions each
        for s in self.services:
            r = self.rng("templates", s["idx"])
            n = r.randint(2, 6)
            types = ["sms", "email"] + [r.choice(["sms", "sms", "email"]) for _ in range(n - 2)]
            for t, ttype in enumerate(types):
                pool = SMS_TEMPLATES if ttype == "sms" else EMAIL_TEMPLATES
                if s["idx"] == 0:
                    # the showcase service: comma and quote names, renamed in a later version
                    names = {0: ["Appointment reminder", "Appointment reminder",
                                 "Reminder, Spanish"],
                             1: ["Welcome email", 'The "final" notice']}.get(t)
                else:
                    names = None
                if names is None:
                    base = r.choice(pool)
                    names = [base]
                    for v in range(1, r.randint(1, 4)):
                        roll = r.randrange(4)
                        if roll == 0:
                            names.append(r.choice(pool))
                        elif roll == 1:
                            names.append("%s (updated)" % base)
                        elif roll == 2:
                            names.append("%s v%d" % (base, v + 1))
                        else:
                            names.append(names[-1])
                tid = self.uuid("template", s["idx"], t)
                for v, nm in enumerate(names, 1):
                    self.templates.append((tid, v, s["id"], nm, ttype))
                s["templates"][ttype].append((tid, len(names)))

    # jobs
    def forced_specs(self):
        """One job per awkward case, so every manifest category exists at any --rows."""
        F = []

        def add(**kw):
            F.append(kw)
        add(ttype="sms")
        add(ttype="email", features={"recipient_not_first"})
        add(file="missing", ttype="sms")
        add(file="missing", ttype="email")
        add(file="legacy", ttype="sms")
        add(file="legacy", ttype="email", features={"bom"})
        add(file="both", ttype="sms")
        add(ttype="sms", features={"no_recipient_column"})
        add(ttype="email", features={"no_recipient_column", "wrong_recipient_type"})
        add(features={"invalid_utf8"})
        add(features={"short_rows"})
        add(features={"blank_records"})
        add(ttype="email", features={"blank_records", "short_rows", "empty_recipient"})
        add(features={"bom"})
        add(features={"lf_only"})
        add(ttype="email", features={"lf_only", "embedded_newlines"})
        add(features={"mixed_newlines"})
        add(features={"no_final_newline"})
        add(features={"leading_blank_lines", "surrounding_commas", "trailing_blank_lines", "bom"})
        add(features={"spaces_after_commas", "embedded_newlines"})
        add(features={"embedded_newlines"})
        add(features={"nbsp_zero_width"})
        add(ttype="email", features={"nbsp_zero_width", "spaces_after_commas"})
        add(features={"two_recipient_columns"})
        add(ttype="email", features={"two_recipient_columns"})
        add(features={"both_recipient_types"})
        add(features={"empty_recipient"})
        add(features={"formula_cells"})
        add(features={"quoted_header"})
        add(features={"header_only"}, n_beyond=2)
        add(features={"empty_file"}, n_beyond=2)
        add(count_delta=3)
        add(count_delta=-1)
        add(n_null=2)
        add(n_beyond=2)
        add(n_beyond=1, beyond_gap=1000)
        add(tie=4, size=40)
        add(placement="boundary_d", size=60, tie=3)
        add(placement="boundary_w7", size=60)
        add(placement="last_day", ttype="sms", size=12, trap=True)
        add(placement="today", size=20)
        add(size=1)
        add(placement="old", archived=True, file="missing")
        add(placement="old")
        add(status="pending", placement="today")
        add(status="scheduled", placement="future")
        add(status="cancelled")
        add(status="ready to send", placement="today")
        add(status="in progress", placement="last_day")
        add(status="sending limits exceeded")
        add(status="error")
        add(status="sent to dvla")
        add(service="inactive")
        add(placement="scheduled_past")
        return F

    def pick_service(self, rng, want=None):
        pool = self.services
        if want == "active":
            pool = [s for s in self.services if s["active"]]
        elif want == "inactive":
            pool = [s for s in self.services if not s["active"]]
        return rng.choices(pool, weights=[s["weight"] for s in pool])[0]

    def random_features(self, rng, job):
        f = job.features
        p = rng.random
        if p() < 0.15: f.add("bom")
        roll = p()
        if roll < 0.25: f.add("lf_only")
        elif roll < 0.28: f.add("mixed_newlines")
        if p() < 0.3: f.add("no_final_newline")
        if p() < 0.08: f.add("leading_blank_lines")
        if p() < 0.08: f.add("surrounding_commas")
        if p() < 0.2: f.add("trailing_blank_lines")
        if p() < 0.12: f.add("spaces_after_commas")
        if p() < 0.08: f.add("blank_records")
        if p() < 0.08: f.add("short_rows")
        if p() < 0.1: f.add("empty_recipient")
        if p() < 0.15: f.add("nbsp_zero_width")
        if p() < 0.1: f.add("embedded_newlines")
        if p() < 0.5: f.add("recipient_not_first")
        if p() < 0.1: f.add("formula_cells")
        if p() < 0.2: f.add("quoted_header")
        roll = p()
        if roll < 0.04: f.add("two_recipient_columns")
        elif roll < 0.09: f.add("both_recipient_types")
        elif roll < 0.11: f.add("no_recipient_column")
        if p() < 0.02: f.add("invalid_utf8")
        roll = p()
        if roll < 0.03: job.file = "missing"
        elif roll < 0.07: job.file = "legacy"
        elif roll < 0.08: job.file = "both"
        if p() < 0.02: job.count_delta = rng.choice([-2, 1, 7])
        if p() < 0.02: job.n_null = rng.randint(1, 3)
        if p() < 0.02: job.n_beyond = rng.randint(1, 3)
        if p() < 0.1: job.tie = rng.randint(2, 6)
        roll = p()
        if roll < 0.02: job.status = "in progress"
        elif roll < 0.03: job.status = "sending limits exceeded"
        elif roll < 0.035: job.status = "error"
        elif roll < 0.05: job.status = "cancelled"
        elif roll < 0.055: job.status = "pending"
        elif roll < 0.07: job.placement = "scheduled_past"

    def build_jobs(self):
        rng = self.rng("jobs")
        budget = int(round(self.rows * 0.75))
        small_hi = max(3, min(40, self.rows // 150))
        jobs = []
        for spec in self.forced_specs():
            j = Job(len(jobs))
            j.forced = True
            j.ttype = spec.get("ttype") or rng.choice(["sms", "sms", "email"])
            j.size = spec.get("size") or rng.randint(3, small_hi)
            j.features = set(spec.get("features", ()))
            j.file = spec.get("file", "normal")
            j.status = spec.get("status", "finished")
            j.placement = spec.get("placement", "window")
            j.count_delta = spec.get("count_delta", 0)
            j.n_null = spec.get("n_null", 0)
            j.n_beyond = spec.get("n_beyond", 0)
            j.beyond_gap = spec.get("beyond_gap", 0)
            j.tie = spec.get("tie", 1)
            j.archived = spec.get("archived", False)
            j.trap = spec.get("trap", False)
            j.service = self.pick_service(rng, spec.get("service", "active"))
            jobs.append(j)
        used = sum(j.size for j in jobs)
        remaining = budget - used
        sizes = []
        if remaining >= 400_000:
            sizes.append(100_000)
            remaining -= 100_000
        cap = min(100_000, max(20, remaining // 4))
        while remaining > 0:
            n = int(math.exp(rng.uniform(0, math.log(cap + 1))))
            n = max(1, min(n, remaining))
            sizes.append(n)
            remaining -= n
        for n in sizes:
            j = Job(len(jobs))
            r = self.rng("job", j.idx)
            j.ttype = r.choice(["sms", "sms", "sms", "email"])
            j.size = n
            self.random_features(r, j)
            j.service = self.pick_service(r)
            jobs.append(j)
        self.jobs = jobs
        for j in jobs:
            self.place_job(j)

    def place_job(self, j):
        r = self.rng("place", j.idx)
        j.id = self.uuid("job", j.idx)
        tid, nver = r.choice(j.service["templates"][j.ttype])
        j.template_id = tid
        j.version = r.randint(1, nver)
        j.created_by = r.choice(j.service["users"]) if r.random() < 0.95 else None
        j.file_name = r.choice(FILE_NAMES)
        if "header_only" in j.features or "empty_file" in j.features:
            j.size = 0
        j.records = j.size
        j.step_us = r.randint(5_000, 40_000)
        total = 0 if j.status in NO_NOTIFICATION_STATUSES else j.size + j.n_beyond + j.n_null
        dur = (total + j.tie - 1) // j.tie * j.step_us + j.step_us
        slack = MINUTE

        def between(lo, hi):
            return r.randint(lo, max(lo, hi))
        p = j.placement
        if p == "window":
            start = between(self.w7_us + HOUR, self.d_us - dur - slack)
        elif p == "last_day":
            start = between(self.d_us - DAY + HOUR, self.d_us - dur - slack)
        elif p == "old":
            start = between(HOUR, self.w7_us - dur - slack)
        elif p == "today":
            start = between(self.d_us + 1, self.hi_us - dur)
        elif p == "boundary_d":
            start = self.d_us - dur // 2
        elif p == "boundary_w7":
            start = self.w7_us - dur // 2
        elif p == "future":
            start = self.as_of_us + r.randint(2, 48) * HOUR
        else:  # any, scheduled_past
            start = between(0, self.hi_us - dur - slack)
        j.start_us = start
        if p == "future" or p == "scheduled_past":
            j.scheduled_us = start
            j.created_us = max(0, start - r.randint(1, 72) * HOUR - r.randint(0, HOUR))
            if p == "future":
                j.created_us = min(j.created_us, self.as_of_us - MINUTE)
        else:
            j.created_us = start - r.randint(US, 60 * US)
        # archived: jobs whose rows all lie before the 7-day window; their files are gone
        if not j.forced and start + dur < self.w7_us and r.random() < 0.3:
            j.archived = True
            j.file = "missing"
        if j.archived:
            j.file = "missing"

    # job files
    def make_phone(self, r, decorate):
        a = r.choice(AREAS)
        line = "%04d" % r.randint(100, 199)
        d = a + "555" + line
        shape = r.randrange(10)
        p = ["+1 (%s) 555-%s" % (a, line), "%s-555-%s" % (a, line), d, "+1" + d,
             "%s.555.%s" % (a, line), "(%s) 555-%s" % (a, line), "1-%s-555-%s" % (a, line),
             "+1 %s 555 %s" % (a, line), "1" + d, " %s-555-%s " % (a, line)][shape]
        if decorate:
            k = r.randrange(6)
            p = ["\u00a0" + p, p + "\u200b", p.replace("5", "5\u200b", 1), "\u2060" + p + "\u00a0",
                 p[:3] + "\u200c" + p[3:], "\u200d" + p + " "][k]
        return p

    def make_email(self, r, decorate):
        e = "%s%d@%s" % (r.choice(LOCALS), r.randint(1, 999), r.choice(EMAIL_DOMAINS))
        roll = r.randrange(6)
        if roll == 0:
            e = " " + e + " "
        elif roll == 1:
            e = e + "  "
        if decorate:
            e = r.choice(["\u00a0" + e, e + "\u200b", "\u2060" + e])
        return e

    def make_name(self, r):
        first, last = r.choice(FIRST), r.choice(LAST)
        roll = r.randrange(12)
        if roll == 0:
            return "%s, %s" % (last, first)
        if roll == 1:
            return '%s "%s" %s' % (first, r.choice(NICKS), last)
        if roll == 2:
            return "%s %s \U0001f389" % (first, last)
        return "%s %s" % (first, last)

    def make_value(self, r, kind, F, st, nl):
        if kind == "name":
            return self.make_name(r)
        if kind == "first":
            return r.choice(FIRST)
        if kind == "date":
            d = self.D + dt.timedelta(days=r.randint(1, 40))
            return r.choice([d.strftime("%Y-%m-%d"), d.strftime("%b %d, %Y"), d.strftime("%m/%d/%Y")])
        if kind == "time":
            return "%d:%02d %s" % (r.randint(1, 12), r.choice([0, 15, 30, 45]), r.choice(["AM", "PM"]))
        if kind == "ref":
            return "REF-%05d" % r.randint(0, 99999)
        if kind == "address":
            if "embedded_newlines" in F and (not st["nl"] or r.random() < 0.4):
                st["nl"] = True
                return "%d Main St%sApt %d, Springfield" % (r.randint(1, 999), nl, r.randint(1, 40))
            return "%d %s Ave, Suite %d" % (r.randint(1, 999), r.choice(["Oak", "Ma\u00efs", "Elm"]),
                                            r.randint(1, 40))
        if kind == "clinic":
            return r.choice(["Clinic #4, Building B", "Centro de Salud \u201cLa Paz\u201d",
                             "Westside", "\u6771\u4eac Clinic"])
        if kind == "amount":
            return "$%d,%03d.%02d" % (r.randint(1, 9), r.randint(0, 999), r.randint(0, 99))
        if kind == "lang":
            return r.choice(["English", "Espa\u00f1ol", "Ti\u1ebfng Vi\u1ec7t", "\u4e2d\u6587",
                             "\u0627\u0644\u0639\u0631\u0628\u064a\u0629"])
        if kind == "note":
            if "formula_cells" in F and (not st["formula"] or r.random() < 0.3):
                st["formula"] = True
                return r.choice(["=HYPERLINK(\"http://example.com\")", "+1 call back", "-5",
                                 "@mention", "=SUM(A1:A2)", "=1+2"])
            v = r.choice(['Bring your "blue" card', "Llame al 311", "\u00a1Gracias!",
                          "r\u00e9sum\u00e9 needed", "caf\u00e9 \u2615", "OK", "It's fine"])
            if "embedded_newlines" in F and r.random() < 0.2:
                v = v + nl + "second line"
            return v
        if kind == "code":
            return "%s-%d" % (r.choice(["\u00c5", "\u00d1", "Z"]), r.randint(1, 99))
        if kind == "empty":
            return ""
        if kind == "decoy_phone":
            return self.make_phone(r, False)
        if kind == "decoy_email":
            return self.make_email(r, False)
        raise AssertionError(kind)

    def build_file(self, job, variant=0):
        """(bytes, meta, features) of the job's file; meta says what a SPEC section 4 parser must
        find in it, features are the awkward cases it really holds."""
        r = self.rng("file", job.idx, variant)
        F = set(job.features)
        sms = job.ttype == "sms"
        meta = {"type": job.ttype}
        if "empty_file" in F:
            return b"", meta, F
        extras = r.sample(EXTRA_COLUMNS, r.randint(1, 5))
        if "invalid_utf8" in F and not any(k == "name" for _, k in extras):
            extras.insert(0, ("name", "name"))
        if "embedded_newlines" in F and not any(k in ("address", "note") for _, k in extras):
            extras.append(("Address", "address"))
        if "formula_cells" in F and not any(k == "note" for _, k in extras):
            extras.append(("note", "note"))
        cols = list(extras)  # (header, kind)
        headers_pool = SMS_HEADERS if sms else EMAIL_HEADERS
        other_pool = EMAIL_HEADERS if sms else SMS_HEADERS
        if "short_rows" in F:
            F.add("recipient_not_first")
        if "no_recipient_column" in F:
            if "wrong_recipient_type" in F:
                cols.insert(r.randint(0, len(cols)), (r.choice(other_pool), "other_recip"))
            decoys = SMS_DECOYS if sms else EMAIL_DECOYS
            cols.insert(r.randint(0, len(cols)), (r.choice(decoys), "decoy_phone" if sms else "decoy_email"))
        else:
            pos = r.randint(1, len(cols)) if "recipient_not_first" in F else 0
            cols.insert(pos, (r.choice(headers_pool), "recip"))
            if "two_recipient_columns" in F:
                cols.insert(r.randint(pos + 1, len(cols)), (r.choice(headers_pool), "recip2"))
            if "both_recipient_types" in F:
                cols.insert(r.randint(0, pos), (r.choice(other_pool), "other_recip"))
            elif r.random() < 0.1:
                decoys = SMS_DECOYS if sms else EMAIL_DECOYS
                cols.insert(r.randint(0, len(cols)), (r.choice(decoys), "decoy_phone" if sms else "decoy_email"))
        if cols[0][0] == "":  # an empty first header would be stripped away with the commas
            cols.append(cols.pop(0))
        kinds = [k for _, k in cols]
        recip_idx = kinds.index("recip") if "recip" in kinds else None
        if recip_idx:
            F.add("recipient_not_first")
        else:
            F.discard("recipient_not_first")
        if recip_idx is None:
            F.difference_update({"two_recipient_columns", "both_recipient_types", "empty_recipient"})
        meta["recipient_column"] = recip_idx
        meta["recipient_header"] = cols[recip_idx][0] if recip_idx is not None else None

        # newline style
        if "lf_only" in F:
            nl_choices = ["\n"]
        elif "mixed_newlines" in F:
            nl_choices = ["\r\n", "\n"]
        else:
            nl_choices = ["\r\n"]
            F.add("crlf")
        inner_nl = "\n" if ("lf_only" in F or r.random() < 0.7) else "\r\n"
        sep = ", " if "spaces_after_commas" in F else ","
        quote_p = 0.05 if r.random() < 0.5 else 0.0

        def field(v):
            if v and (any(c in v for c in ',"\r\n') or r.random() < quote_p):
                return '"' + v.replace('"', '""') + '"'
            return v

        R = job.size
        special = {}
        if R >= 2:
            cand = list(range(R - 1))  # never the last record: it would be stripped
            r.shuffle(cand)
            for feat in ("blank_records", "short_rows", "empty_recipient", "invalid_utf8"):
                if feat in F:
                    if feat == "short_rows" and not recip_idx:
                        continue
                    for _ in range(min(len(cand), 1 if feat == "invalid_utf8" else r.randint(1, 3))):
                        special[cand.pop()] = feat
        rows_of = {"blank_rows": [], "short_rows": [], "empty_recipient_rows": [],
                   "invalid_utf8_rows": []}
        header_fields = []
        for n, (h, _) in enumerate(cols):
            if h and ("quoted_header" in F and (n == 0 or r.random() < 0.6) or any(c in h for c in ',"')):
                header_fields.append('"' + h.replace('"', '""') + '"')
            else:
                header_fields.append(h)
        lines = [sep.join(header_fields)]
        decorate_p = 0.2 if "nbsp_zero_width" in F else 0.0
        has_newline_cell = False
        has_formula = False
        has_deco = False
        st = {"nl": False, "formula": False}
        for i in range(R):
            what = special.get(i)
            if what == "blank_records":
                rows_of["blank_rows"].append(i)
                lines.append(r.choice(["", "", sep.join([""] * len(cols)), " ", "\u00a0"]))
                continue
            vals = []
            for _, kind in cols:
                if kind == "recip" or kind == "recip2":
                    dec = decorate_p > 0 and (not has_deco or r.random() < decorate_p)
                    has_deco = has_deco or dec
                    v = self.make_phone(r, dec) if sms else self.make_email(r, dec)
                    if kind == "recip" and what == "empty_recipient":
                        v = r.choice(["", "\u200b", "   ", "\u00a0", "\u200b\u00a0 "])
                elif kind == "other_recip":
                    v = self.make_email(r, False) if sms else self.make_phone(r, False)
                else:
                    v = self.make_value(r, kind, F, st, inner_nl)
                    if kind == "name" and what == "invalid_utf8":
                        v = "Jos\udce9 " + r.choice(LAST)  # a lone Latin-1 byte 0xE9 in the file
                    if r.random() < decorate_p and v:
                        v = "\u00a0" + v
                    if "\n" in v:
                        has_newline_cell = True
                    if v[:1] in ("=", "+", "-", "@", "\t"):
                        has_formula = True
                vals.append(v)
            if what == "short_rows":
                vals = vals[:r.randint(1, recip_idx)]
                if not vals[0].strip():
                    vals[0] = "x"
                rows_of["short_rows"].append(i)
            elif what == "empty_recipient":
                rows_of["empty_recipient_rows"].append(i)
            elif what == "invalid_utf8":
                rows_of["invalid_utf8_rows"].append(i)
            lines.append(sep.join(field(v) for v in vals))
        if has_newline_cell:
            F.add("embedded_newlines")
        else:
            F.discard("embedded_newlines")
        if has_formula:
            F.add("formula_cells")
        else:
            F.discard("formula_cells")
        if not has_deco:
            F.discard("nbsp_zero_width")
        for k in list(rows_of):
            if not rows_of[k]:
                F.discard({"blank_rows": "blank_records", "short_rows": "short_rows",
                           "empty_recipient_rows": "empty_recipient",
                           "invalid_utf8_rows": "invalid_utf8"}[k])
                del rows_of[k]
        meta.update(rows_of)

        # assemble
        nl0 = nl_choices[0]
        out = []
        if "bom" in F:
            out.append("\ufeff")
        if "leading_blank_lines" in F:
            out.append(r.choice([nl0 * 2, nl0 + " " + nl0, "\u00a0" + nl0 + nl0]))
        if "surrounding_commas" in F:
            out.append(",,," + nl0)
        ends = [r.choice(nl_choices) for _ in lines]
        if "mixed_newlines" in F:
            ends[0] = "\r\n"
            if len(ends) > 1:
                ends[1] = "\n"
            else:
                F.discard("mixed_newlines")
        for n, line in enumerate(lines):
            out.append(line)
            last = n == len(lines) - 1
            if not last or "no_final_newline" not in F:
                out.append(ends[n])
        if "no_final_newline" not in F:
            if "surrounding_commas" in F:
                out.append(",,,," + nl0 + ",," + nl0)
            if "trailing_blank_lines" in F:
                out.append(r.choice([nl0 * 2, nl0, " " + nl0 + "\u200b" + nl0]))
        else:
            F.discard("surrounding_commas")
            F.discard("trailing_blank_lines")
        data = "".join(out).encode("utf-8", errors="surrogateescape")

        # self-check against SPEC section 4
        header, records = spec_parse(data)
        if len(records) != R:
            raise GenError("internal: job %d file has %d records, meant %d" % (job.idx, len(records), R))
        found = None
        want = "phonenumber" if sms else "emailaddress"
        for n, h in enumerate(header or []):
            if spec_key(h) == want:
                found = n
                break
        if found != recip_idx:
            raise GenError("internal: job %d recipient column %r, meant %r" % (job.idx, found, recip_idx))
        if recip_idx is not None:
            for i, rec in enumerate(records):
                value = spec_clean(rec[recip_idx], job.ttype) if len(rec) > recip_idx else ""
                if bool(value) == (i in special and special[i] != "invalid_utf8"):
                    raise GenError("internal: job %d row %d recipient %s" % (
                        job.idx, i, "unexpectedly present" if value else "missing"))
        return data, meta, F

    def write_files(self):
        top = self.args.bucket_dir
        for j in self.jobs:
            if j.file == "missing":
                continue
            data, meta, j.features = self.build_file(j)
            sid = j.service["id"]
            keys = []
            if j.file in ("normal", "both"):
                keys.append(("%s-service-notify/%s.csv" % (sid, j.id), data))
            if j.file == "legacy":
                keys.append(("service-%s-notify/%s.csv" % (sid, j.id), data))
            if j.file == "both":
                # a stale copy at the legacy key with other numbers: the new key must win
                stale, _, _ = self.build_file(j, variant=1)
                keys.append(("service-%s-notify/%s.csv" % (sid, j.id), stale))
            meta["key"] = keys[0][0]
            meta["records"] = j.records
            j.meta = meta
            mtime = (self.B - dt.datetime(1970, 1, 1)).total_seconds() + j.created_us / US
            for key, blob in keys:
                path = os.path.join(top, key)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(blob)
                os.utime(path, (mtime, mtime))
                self.n_files += 1
                self.file_bytes += len(blob)

    # explicit notification rows
    def build_extras(self):
        r = self.rng("extras")
        svc = self.services[0]
        users = svc["users"]
        n = 0

        def add(ttype, created_us, status, key_type="normal", to="1", normalised="1", service=svc):
            nonlocal n
            tid, nver = service["templates"][ttype][0]
            nid = self.uuid("extra", n)
            n += 1
            resp_pool = (SMS_RESPONSES if ttype == "sms" else EMAIL_RESPONSES)[status]
            self.extras.append((
                nid, to, normalised, None, None, service["id"], tid, r.randint(1, nver), key_type,
                ttype, self.ts(created_us), status, r.choice(users + [None]),
                r.choice(CARRIERS) if ttype == "sms" else None, r.choice(resp_pool),
                r.choice([None, "ref-%06d" % r.randint(0, 999999), "case 12, batch \"B\""])))
            return nid
        # every status, type and key type inside the 1-day window
        t = self.d_us - DAY + 2 * HOUR
        for ttype in ("sms", "email"):
            for st in NOTIFY_STATUSES:
                for kt in ("normal", "team", "test"):
                    t += r.randint(1, 600) * US + r.randint(0, 999999)
                    add(ttype, t, st, kt)
        # the same in an inactive service, and rows on the as-of date
        inactive = [s for s in self.services if not s["active"]][0]
        for ttype in ("sms", "email"):
            add(ttype, self.d_us - DAY // 2, "delivered", service=inactive)
            add(ttype, self.d_us + r.randint(1, self.hi_us - self.d_us - 1), "sending")
            add(ttype, self.w7_us - DAY, "delivered")
        # exact window boundaries: [00:00 of D-N, 00:00 of D); two rows tied at D-1 00:00
        for days in (7, 5, 3, 1):
            b = self.d_us - days * DAY
            self.ncat["boundary"].append(add("sms", b, "delivered"))
            self.ncat["boundary"].append(add("email", b - 1, "delivered"))
        self.ncat["boundary"].append(add("sms", self.d_us - DAY, "failed"))
        self.ncat["boundary"].append(add("sms", self.d_us - 1, "delivered"))
        self.ncat["boundary"].append(add("sms", self.d_us, "delivered"))
        # the production race: a fresh SMS row still holding the real number
        for k in range(2):
            digits = "999%03d%04d" % (800 + k, r.randint(0, 9999))
            tid = add("sms", self.d_us - r.randint(1, 6 * HOUR), "sending",
                      to="+1 (%s) %s-%s" % (digits[:3], digits[3:6], digits[6:]),
                      normalised="+1" + digits)
            self.ncat["trap_real_number"].append(tid)
        trap_job = [j for j in self.jobs if j.trap][0]
        for s in range(3):
            nid = hex_to_uuid(md5hex(":".join([self.seed, "jn", trap_job.id, str(s)])))
            digits = "999%03d%04d" % (810 + s, r.randint(0, 9999))
            self.traps.append((nid, "%s-%s-%s" % (digits[:3], digits[3:6], digits[6:]), "+1" + digits))
            self.ncat["trap_real_number"].append(nid)

    # SQL
    def outcome_rows(self):
        rows = []
        for ttype, responses in (("sms", SMS_RESPONSES), ("email", EMAIL_RESPONSES)):
            k = 0
            for status, w in STATUS_WEIGHTS:
                pool = responses[status]
                for i in range(w):
                    rows.append((ttype, k, status, pool[i % len(pool)]))
                    k += 1
            assert k == 1000
        return rows

    def slot_rows(self):
        total_w = sum(s["weight"] for s in self.services)
        rows = []
        for s in self.services:
            versions = [(tid, v, ttype) for ttype in ("sms", "email")
                        for tid, nver in s["templates"][ttype] for v in range(1, nver + 1)]
            n = max(len(versions), int(round(s["weight"] / total_w * 8192)))
            for i in range(n):
                tid, v, ttype = versions[i % len(versions)]
                rows.append((len(rows), s["id"], tid, v, ttype, sql_array(s["users"])))
        return rows

    def sql_script(self, n_api):
        S = sql_lit(self.seed)
        base = sql_lit(self.B.strftime("%Y-%m-%d %H:%M:%S"))
        carriers = "ARRAY[%s]::text[]" % ",".join("NULL" if c is None else sql_lit(c) for c in CARRIERS)
        ncar = len(CARRIERS)
        out = ["SET client_min_messages = warning;", "BEGIN;"]
        out.append(copy_block("services", ["id", "name", "active", "created_at"], [
            (s["id"], s["name"], s["active"], s["created_at"]) for s in self.services]))
        out.append(copy_block("users", ["id", "name", "email_address"], [
            (u["id"], u["name"], u["email"]) for u in self.users]))
        out.append(copy_block("templates_history",
                              ["id", "version", "service_id", "name", "template_type"], self.templates))
        out.append(copy_block("jobs", [
            "id", "original_file_name", "service_id", "template_id", "template_version",
            "created_at", "created_by_id", "job_status", "notification_count", "scheduled_for",
            "archived"], [
            (j.id, j.file_name, j.service["id"], j.template_id, j.version, self.ts(j.created_us),
             j.created_by, j.status, max(0, j.records + j.count_delta),
             None if j.scheduled_us is None else self.ts(j.scheduled_us), j.archived)
            for j in self.jobs]))
        out.append("""CREATE TEMP TABLE gd_jobplan (job_id uuid, service_id uuid, template_id uuid,
  version int, ntype notification_types, created_by uuid, n_main int, n_beyond int,
  beyond_gap int, n_null int, start_us bigint, step_us bigint, tie int);""")
        out.append(copy_block("gd_jobplan", [
            "job_id", "service_id", "template_id", "version", "ntype", "created_by", "n_main",
            "n_beyond", "beyond_gap", "n_null", "start_us", "step_us", "tie"], [
            (j.id, j.service["id"], j.template_id, j.version, j.ttype, j.created_by, j.n_main,
             j.n_beyond, j.beyond_gap, j.n_null, j.start_us, j.step_us, j.tie)
            for j in self.jobs if j.total > 0]))
        out.append("""CREATE TEMP TABLE gd_slot (k int PRIMARY KEY, service_id uuid, template_id uuid,
  version int, ntype notification_types, users uuid[]);""")
        slots = self.slot_rows()
        out.append(copy_block("gd_slot", ["k", "service_id", "template_id", "version", "ntype", "users"], slots))
        out.append("""CREATE TEMP TABLE gd_outcome (ntype notification_types, k int, status notify_statuses,
  resp text, PRIMARY KEY (ntype, k));""")
        out.append(copy_block("gd_outcome", ["ntype", "k", "status", "resp"], self.outcome_rows()))
        out.append("ANALYZE gd_jobplan; ANALYZE gd_slot; ANALYZE gd_outcome;")
        # Bulk load into the (empty) table without its indexes, then rebuild them exactly as they
        # were, from the catalog -- several times faster than random-UUID index inserts. Skipped
        # when another table's foreign key depends on them.
        out.append("""CREATE TEMP TABLE gd_idx (ord int, name text, def text);
DO $$
DECLARE r record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = 'notifications'::regclass) THEN
    RETURN;
  END IF;
  INSERT INTO gd_idx
    SELECT 1, c.conname, 'ALTER TABLE notifications ADD CONSTRAINT ' || quote_ident(c.conname)
           || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c
    WHERE c.conrelid = 'notifications'::regclass AND c.contype IN ('p', 'u');
  INSERT INTO gd_idx
    SELECT 2, quote_ident(n.nspname) || '.' || quote_ident(i.relname), pg_get_indexdef(i.oid)
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE x.indrelid = 'notifications'::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid
                      AND c.conrelid = 'notifications'::regclass);
  FOR r IN SELECT * FROM gd_idx ORDER BY ord DESC, name LOOP
    IF r.ord = 1 THEN
      EXECUTE 'ALTER TABLE notifications DROP CONSTRAINT ' || quote_ident(r.name);
    ELSE
      EXECUTE 'DROP INDEX ' || r.name;
    END IF;
  END LOOP;
END $$;""")
        cols = ('id, "to", normalised_to, job_id, job_row_number, service_id, template_id, '
                'template_version, key_type, notification_type, created_at, notification_status, '
                'created_by_id, carrier, provider_response, client_reference')
        # job rows: rows 0..n_main-1 of the file, then rows beyond the file, then NULL row numbers
        out.append("""INSERT INTO notifications ({cols})
SELECT {uuid}, '1', '1', x.job_id,
  CASE WHEN x.s < x.n_main THEN x.s WHEN x.s < x.n_main + x.n_beyond THEN x.s + x.beyond_gap END,
  x.service_id, x.template_id, x.version, 'normal', x.ntype,
  TIMESTAMP {base} + (x.start_us + (x.s / x.tie) * x.step_us
    + CASE WHEN x.tie = 1 THEN (get_byte(x.b, 0) * 256 + get_byte(x.b, 1)) % (x.step_us / 2) ELSE 0 END)
    * INTERVAL '1 microsecond',
  o.status, x.created_by,
  CASE WHEN x.ntype = 'sms' THEN ({carriers})[1 + get_byte(x.b, 2) % {ncar}] END,
  o.resp, NULL
FROM (SELECT p.*, s, md5({S} || ':jn:' || p.job_id || ':' || s) AS h,
        decode(md5({S} || ':jr:' || p.job_id || ':' || s), 'hex') AS b
      FROM gd_jobplan p CROSS JOIN LATERAL generate_series(0, p.n_main + p.n_beyond + p.n_null - 1) AS s
      OFFSET 0) x
JOIN gd_outcome o ON o.ntype = x.ntype AND o.k = (get_byte(x.b, 3) * 256 + get_byte(x.b, 4)) % 1000;
""".format(cols=cols, uuid=sql_uuid("x.h"), base=base, carriers=carriers, ncar=ncar, S=S))
        # API sends: no job; 5% in groups of four sharing service, template and created_at
        out.append("""INSERT INTO notifications ({cols})
SELECT {uuid}, '1', '1', NULL, NULL, sl.service_id, sl.template_id, sl.version,
  (CASE WHEN get_byte(x.b, 0) < 218 THEN 'normal' WHEN get_byte(x.b, 0) < 238 THEN 'team'
   ELSE 'test' END)::key_types,
  sl.ntype,
  TIMESTAMP {base} + (('x' || substr(x.g, 9, 15))::bit(60)::bigint % {span}) * INTERVAL '1 microsecond',
  o.status,
  CASE WHEN get_byte(x.b, 1) < 77 THEN sl.users[1 + get_byte(x.b, 2) % cardinality(sl.users)] END,
  CASE WHEN sl.ntype = 'sms' THEN ({carriers})[1 + get_byte(x.b, 3) % {ncar}] END,
  o.resp,
  CASE WHEN get_byte(x.b, 4) < 50 THEN 'ref-' || substr(x.h, 1, 10)
       WHEN get_byte(x.b, 4) < 60 THEN 'case ' || get_byte(x.b, 5) || ', batch "' || get_byte(x.b, 6) || '"' END
FROM (SELECT n, md5({S} || ':api:' || n) AS h, decode(md5({S} || ':apir:' || n), 'hex') AS b,
        md5({S} || ':apig:' || CASE WHEN (n / 4) % 20 = 7 THEN 'g' || (n / 4) ELSE n::text END) AS g
      FROM generate_series(1, {n_api}) AS n OFFSET 0) x
JOIN gd_slot sl ON sl.k = ('x' || substr(x.g, 1, 7))::bit(28)::int % {nslots}
JOIN gd_outcome o ON o.ntype = sl.ntype AND o.k = (get_byte(x.b, 7) * 256 + get_byte(x.b, 8)) % 1000;
""".format(cols=cols, uuid=sql_uuid("x.h"), base=base, span=self.hi_us, carriers=carriers,
           ncar=ncar, S=S, n_api=n_api, nslots=len(slots)))
        out.append(copy_block("notifications", [c.strip() for c in cols.split(",")], self.extras))
        for nid, to, norm in self.traps:
            out.append('UPDATE notifications SET "to" = %s, normalised_to = %s WHERE id = %s;'
                       % (sql_lit(to), sql_lit(norm), sql_lit(nid)))
        out.append("""SET LOCAL maintenance_work_mem = '256MB';
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM gd_idx ORDER BY ord, name LOOP
    EXECUTE r.def;
  END LOOP;
END $$;""")
        out.append("COMMIT;")
        out.append("ANALYZE services; ANALYZE users; ANALYZE templates_history; ANALYZE jobs; "
                   "ANALYZE notifications;")
        return "\n".join(out) + "\n"

    def stats_sql(self):
        def t(days):
            return sql_lit((self.D - dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S"))
        windows = ", ".join(
            "'%d_day', (SELECT count(*) FROM notifications WHERE created_at >= %s AND created_at < %s)"
            % (n, t(n), t(0)) for n in (1, 3, 5, 7))
        return """SELECT json_build_object(
 'services', (SELECT count(*) FROM services), 'users', (SELECT count(*) FROM users),
 'templates_history', (SELECT count(*) FROM templates_history), 'jobs', (SELECT count(*) FROM jobs),
 'notifications', (SELECT count(*) FROM notifications),
 'notifications_by_status', (SELECT json_object_agg(k, c) FROM (SELECT notification_status::text k,
    count(*) c FROM notifications GROUP BY 1) x),
 'notifications_by_key_type', (SELECT json_object_agg(k, c) FROM (SELECT key_type::text k,
    count(*) c FROM notifications GROUP BY 1) x),
 'notifications_by_type', (SELECT json_object_agg(k, c) FROM (SELECT notification_type::text k,
    count(*) c FROM notifications GROUP BY 1) x),
 'jobs_by_status', (SELECT json_object_agg(k, c) FROM (SELECT job_status::text k, count(*) c
    FROM jobs GROUP BY 1) x),
 'notifications_by_period', json_build_object(
   'before_7_day_window', (SELECT count(*) FROM notifications WHERE created_at < {w7}),
   {windows},
   'as_of_date', (SELECT count(*) FROM notifications WHERE created_at >= {d}),
   'after_as_of', (SELECT count(*) FROM notifications WHERE created_at > {asof})));
""".format(w7=t(7), d=t(0), windows=windows, asof=sql_lit(self.as_of.strftime("%Y-%m-%d %H:%M:%S")))

    # manifest
    def categorize(self):
        for j in self.jobs:
            add = lambda name: self.add_cat(name, j)  # noqa: E731
            add(j.ttype)
            if j.file == "missing":
                add("archived" if j.archived else "missing_file")
            elif j.file == "legacy":
                add("legacy_key")
            elif j.file == "both":
                add("both_keys")
            if j.file != "missing":
                for f in sorted(j.features):
                    add(f)
                if j.meta.get("recipient_column") is None:
                    add("no_recipient_column")
            if max(0, j.records + j.count_delta) != j.records:
                add("count_mismatch")
            if j.total == 0:
                add("no_notifications")
            else:
                if j.n_null:
                    add("null_row_number")
                if j.n_beyond:
                    add("rows_beyond_file")
                if j.tie > 1:
                    add("created_at_ties")
                end = j.start_us + ((j.total + j.tie - 1) // j.tie) * j.step_us
                if j.start_us < self.d_us <= end or j.start_us < self.w7_us <= end:
                    add("spans_window_boundary")
                if end >= self.d_us:
                    add("as_of_date")
                if end < self.w7_us:
                    add("outside_windows")
            if j.records == 1:
                add("single_row")
            if j.scheduled_us is not None:
                add("scheduled")
            if not j.service["active"]:
                add("inactive_service")
            for s in range(j.n_main, j.total):
                nid = hex_to_uuid(md5hex(":".join([self.seed, "jn", j.id, str(s)])))
                cat = "row_beyond_file" if s < j.n_main + j.n_beyond else "null_row_number"
                self.ncat[cat].append(nid)
        for k in list(self.cat) + list(self.ncat):
            if k in self.cat:
                self.cat[k] = sorted(set(self.cat[k]))
            else:
                self.ncat[k] = sorted(set(self.ncat[k]))

    # running
    def psql_start(self, script, capture=False):
        """Start psql on the script; returns a handle for psql_wait()."""
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"]
        if capture:
            cmd[1:1] = ["-A", "-t"]
        if self.args.dsn:
            cmd += ["-d", self.args.dsn]
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        except OSError as e:
            raise GenError("cannot run psql: %s" % e)
        result = {}

        def talk():
            result["out"], result["err"] = p.communicate(script.encode("utf-8"))
            result["end"] = time.monotonic()
        t = threading.Thread(target=talk, daemon=True)
        t.start()
        return p, t, result

    def psql_wait(self, handle):
        p, t, result = handle
        t.join()
        if p.returncode != 0:
            msg = result["err"].decode("utf-8", "replace").strip() or "no message"
            raise GenError("psql failed (exit %d): %s" % (p.returncode, msg))
        return result["out"].decode("utf-8")

    def psql(self, script, capture=False):
        return self.psql_wait(self.psql_start(script, capture))

    def run(self):
        t0 = time.monotonic()
        a = self.args
        top = a.bucket_dir
        if os.path.exists(top):
            if not os.path.isdir(top):
                raise GenError("--bucket-dir %s is not a directory" % top)
            if os.listdir(top):
                raise GenError("--bucket-dir %s is not empty (generate into a fresh directory)" % top)
        if a.create_schema:
            schema = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql", "schema.sql")
            with open(schema, encoding="utf-8") as f:
                self.psql(f.read())
        if a.truncate:
            self.psql("TRUNCATE notifications, jobs, templates_history, users, services;")
        have = self.psql("SELECT (SELECT count(*) FROM services) + (SELECT count(*) FROM users) + "
                         "(SELECT count(*) FROM templates_history) + (SELECT count(*) FROM jobs) + "
                         "(SELECT count(*) FROM notifications);", capture=True).strip()
        if have != "0":
            raise GenError("the database already holds data (%s rows); use an empty database, "
                           "or --truncate" % have)
        self.build_services()
        self.build_jobs()
        self.build_extras()
        job_notes = sum(j.total for j in self.jobs)
        n_api = max(100, self.rows - job_notes - len(self.extras))
        # The database load (one transaction) runs while the job files are written.
        t1 = time.monotonic()
        load = self.psql_start(self.sql_script(n_api))
        try:
            os.makedirs(top, exist_ok=True)
            self.write_files()
        except BaseException:
            load[0].kill()  # psql, our child: its transaction rolls back
            load[1].join()
            raise
        t_files = time.monotonic() - t1
        try:
            self.psql_wait(load)
        except GenError as e:
            raise GenError("%s (the job files in %s were written)" % (e, top))
        t2 = load[2]["end"]
        stats = json.loads(self.psql(self.stats_sql(), capture=True))
        expected = job_notes + n_api + len(self.extras)
        if stats["notifications"] != expected:
            raise GenError("internal: %d notifications loaded, expected %d" % (stats["notifications"], expected))
        self.categorize()
        stats["job_files"] = self.n_files
        stats["job_file_bytes"] = self.file_bytes
        stats["notifications_api"] = n_api + len(self.extras)
        stats["notifications_job"] = job_notes
        stats["largest_job_rows"] = max(j.records for j in self.jobs)
        if a.manifest:
            self.write_manifest(stats)
        n_inactive = sum(1 for s in self.services if not s["active"])
        print("gendata: %d services (%d inactive), %d users, %d template versions, %d jobs "
              "(%d files, %.1f MB), %d notifications (%d from jobs); as_of %s; %.1fs "
              "(files %.1fs, database %.1fs)" % (
                  len(self.services), n_inactive, len(self.users), len(self.templates),
                  len(self.jobs), self.n_files, self.file_bytes / 1e6, stats["notifications"],
                  job_notes, self.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), time.monotonic() - t0,
                  t_files, t2 - t1),
              file=sys.stderr)

    def write_manifest(self, stats):
        def day(n):
            return (self.D - dt.timedelta(days=n)).strftime("%Y-%m-%d %H:%M:%S")
        m = {
            "generator": "scripts/gendata.py",
            "generator_version": GENERATOR_VERSION,
            "seed": self.seed,
            "rows_requested": self.rows,
            "as_of": self.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "windows": {str(n): [day(n), day(0)] for n in (1, 3, 5, 7)},
            "counts": stats,
            "services": {
                "active": sorted(s["id"] for s in self.services if s["active"]),
                "inactive": sorted(s["id"] for s in self.services if not s["active"])},
            "jobs": self.cat,
            "notifications": self.ncat,
            "job_files": {j.id: j.meta for j in self.jobs if j.file != "missing"},
        }
        tmp = self.args.manifest + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(m, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.args.manifest)


def parse_as_of(s):
    s = s.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(s, fmt)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError("expected YYYY-MM-DDTHH:MM:SSZ (UTC), got %r" % s)


def positive(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1: %r" % s)
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="gendata.py",
        description="Generate deterministic demo/test data for jobreport: database rows and job "
                    "CSV files in the bucket key layout.")
    ap.add_argument("--bucket-dir", required=True, metavar="DIR",
                    help="write job CSV files below DIR (must be empty or absent)")
    ap.add_argument("--rows", type=positive, default=20000, metavar="N",
                    help="approximate number of notifications (default 20000)")
    ap.add_argument("--seed", default="1", metavar="S", help="seed (any string; default 1)")
    ap.add_argument("--as-of", type=parse_as_of, metavar="TIME",
                    help="reference time, UTC, YYYY-MM-DDTHH:MM:SSZ (default: now)")
    ap.add_argument("--services", type=positive, metavar="K",
                    help="number of services (default: scales with --rows, at least 5)")
    ap.add_argument("--create-schema", action="store_true",
                    help="load sql/schema.sql first (into an empty database)")
    ap.add_argument("--truncate", action="store_true",
                    help="empty the five tables first")
    ap.add_argument("--manifest", metavar="FILE", help="write a JSON description (no PII) to FILE")
    ap.add_argument("--dsn", metavar="DSN",
                    help="libpq connection string or URI (default: PG* environment variables)")
    args = ap.parse_args(argv)
    if args.as_of is None:
        args.as_of = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    if args.services is not None and args.services < 2:
        ap.error("--services must be at least 2 (one inactive service is always made)")
    try:
        Generator(args).run()
    except GenError as e:
        print("gendata: error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("gendata: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
