#!/usr/bin/env python3
"""Self-tests of the reference implementation's parsing and formatting rules (stdlib unittest).

Run: python3 tests/reference/test_ref.py   (or python3 -m unittest discover tests/reference)
No database is needed: the end-to-end test puts a stand-in `psql` on PATH.
"""

import datetime as dt
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jobreport_ref as ref  # noqa: E402

UTC = dt.timezone.utc


def utc(*a):
    return dt.datetime(*a, tzinfo=UTC)


def job(data, row, ttype="sms", scope="row"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return ref.JobFile.from_bytes(data).recipient(row, ttype, scope)


class FormatTest(unittest.TestCase):
    def test_spec_worked_example(self):
        rows = [
            ["12025550143", "Appointment reminder", "Jane Smith", "Verizon Wireless",
             ref.status_text("delivered", "sms"), ref.format_time("2025-08-11 18:04:09.52"),
             "August reminders.csv", "Message has been accepted by phone"],
            ["", "Reminder, Spanish", None, None,
             ref.status_text("temporary-failure", "sms"), ref.format_time("2025-08-11 16:00:00"),
             None, None],
        ]
        expected = (
            b"Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,Carrier Response\r\n"
            b"12025550143,Appointment reminder,Jane Smith,Verizon Wireless,Delivered,"
            b"2025-08-11 18:04:09,August reminders.csv,Message has been accepted by phone\r\n"
            b',"Reminder, Spanish",,,Unable to find carrier response -- still looking,'
            b"2025-08-11 16:00:00,,\r\n")
        self.assertEqual(ref.format_report(rows), expected)

    def test_header_only_bytes(self):
        self.assertEqual(
            ref.format_report([]),
            b"Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,Carrier Response\r\n")

    def test_field_quoting(self):
        f = ref.format_field
        self.assertEqual(f(None), "")
        self.assertEqual(f(""), "")
        self.assertEqual(f("plain"), "plain")
        self.assertEqual(f(" lead and trail "), " lead and trail ")
        self.assertEqual(f("semi;colon\ttab'quote"), "semi;colon\ttab'quote")
        self.assertEqual(f("a,b"), '"a,b"')
        self.assertEqual(f('say "hi"'), '"say ""hi"""')
        self.assertEqual(f("cr\ronly"), '"cr\ronly"')
        self.assertEqual(f("lf\nonly"), '"lf\nonly"')
        self.assertEqual(f("=1+2"), "=1+2")
        self.assertEqual(f("\u00e9t\u00e9 \u2019"), "\u00e9t\u00e9 \u2019")

    def test_utf8_no_bom(self):
        out = ref.format_report([["", "Caf\u00e9", "", "", "", "", "", ""]])
        self.assertFalse(out.startswith(b"\xef\xbb\xbf"))
        self.assertIn("Caf\u00e9".encode("utf-8"), out)
        self.assertTrue(out.endswith(b",,,,,,\r\n"))

    def test_time_truncated(self):
        self.assertEqual(ref.format_time("2025-08-11 18:04:09.999999"), "2025-08-11 18:04:09")
        self.assertEqual(ref.format_time("2025-08-11 18:04:09"), "2025-08-11 18:04:09")

    def test_status_table(self):
        s = ref.status_text
        sms = {"failed": "Failed", "technical-failure": "Technical failure",
               "temporary-failure": "Unable to find carrier response -- still looking",
               "permanent-failure": "Unable to find carrier response.",
               "delivered": "Delivered", "pending": "Pending", "sending": "Sending",
               "created": "Sending", "sent": "Sent internationally"}
        email = {"failed": "Failed", "technical-failure": "Technical failure",
                 "temporary-failure": "Inbox not accepting messages right now",
                 "permanent-failure": "Email address doesn\u2019t exist",
                 "delivered": "Delivered", "pending": "pending", "sending": "Sending",
                 "created": "Sending", "sent": "Delivered"}
        for k, v in sms.items():
            self.assertEqual(s(k, "sms"), v)
        for k, v in email.items():
            self.assertEqual(s(k, "email"), v)
        self.assertEqual(s("permanent-failure", "email").encode("utf-8"),
                         b"Email address doesn\xe2\x80\x99t exist")
        for raw in ("cancelled", "pending-virus-check", "validation-failed",
                    "virus-scan-failed"):
            self.assertEqual(s(raw, "sms"), raw)
            self.assertEqual(s(raw, "email"), raw)
        self.assertEqual(s("delivered", "letter"), "delivered")
        self.assertEqual(s("delivered", None), "delivered")
        self.assertEqual(s(None, "sms"), "")


class JobCsvTest(unittest.TestCase):
    def test_header_spellings(self):
        for h in ("phone number", "Phone Number", "phone_number", "PHONENUMBER", "phone-number",
                  "Phone_Number", " Phone  Number", "PHONE - NUMBER"):
            self.assertEqual(job("%s,name\r\n202-555-0143,Ann\r\n" % h, 0),
                             ("2025550143", None), h)
        for h in ("email address", "Email Address", "email_address", "EMAILADDRESS",
                  "e-mail address"):
            self.assertEqual(job("%s\r\nann@example.com\r\n" % h, 0, "email"),
                             ("ann@example.com", None), h)

    def test_header_not_matching(self):
        for h in ("phone", "mobile number", "phone number:", "phone\tnumber",
                  "phone\u00a0number", "telephone number"):
            self.assertEqual(job("%s\r\n2025550143\r\n" % h, 0), (None, "malformed"), h)

    def test_first_matching_header_wins(self):
        data = "name,Phone Number,phone_number\r\nAnn,+1 202 555 0143,999\r\n"
        self.assertEqual(job(data, 0), ("12025550143", None))

    def test_never_fall_back(self):
        data = "email address,name\r\nann@example.com,Ann\r\n"
        self.assertEqual(job(data, 0, "sms"), (None, "malformed"))
        self.assertEqual(job(data, 0, "email"), ("ann@example.com", None))
        data = "phone number\r\n2025550143\r\n"
        self.assertEqual(job(data, 0, "email"), (None, "malformed"))

    def test_template_type_without_recipient_column(self):
        data = "phone number\r\n2025550143\r\n"
        self.assertEqual(job(data, 0, "letter"), (None, "no-recipient-type"))
        self.assertEqual(job(data, 0, None), (None, "no-recipient-type"))

    def test_bom_and_file_strip(self):
        data = b"\xef\xbb\xbfphone number,name\r\n2025550143,Ann\r\n2025550144,Bob\r\n"
        self.assertEqual(job(data, 0), ("2025550143", None))
        self.assertEqual(job(data, 1), ("2025550144", None))
        data = "\u00a0\u200b\u2060\ufeff \r\n,,phone number\r\n1\r\n2,\r\n,,\r\n \u00a0\r\n,\u200d"
        self.assertEqual(job(data, 0), ("1", None))
        self.assertEqual(job(data, 1), ("2", None))
        self.assertEqual(job(data, 2), (None, "row-out-of-range"))

    def test_file_strip_commas_at_start_shift_header(self):
        # The whole file is stripped of commas at both ends: a header starting with ',' loses
        # its empty first column (as the sending side's parser sees it).
        data = ",phone number\r\nx,2025550143\r\n"
        self.assertEqual(job(data, 0), ("x", None))

    def test_line_endings_agree(self):
        rows = ["phone number,name", "2025550143,Ann", "2025550144,Bob", "2025550145,Cy"]
        for sep in ("\r\n", "\n", "\r"):
            data = sep.join(rows) + sep
            for i in range(3):
                self.assertEqual(job(data, i), ("202555014%d" % (3 + i), None), repr(sep))
            self.assertEqual(job(data, 3), (None, "row-out-of-range"))
        mixed = "phone number\r\n1\n2\r3\r\n"
        self.assertEqual([job(mixed, i)[0] for i in range(3)], ["1", "2", "3"])

    def test_quoted_fields(self):
        data = ('phone number,note\r\n'
                '2025550143,"line one\r\nline two, with comma and ""quotes"""\r\n'
                '"2025550144","x"\r\n'
                '"+1 (202)\n555-0145",y\r\n'
                '2025550146, "spaced, quoted"\r\n')
        self.assertEqual(job(data, 0), ("2025550143", None))
        self.assertEqual(job(data, 1), ("2025550144", None))
        self.assertEqual(job(data, 2), ("12025550145", None))
        self.assertEqual(job(data, 3), ("2025550146", None))
        self.assertEqual(job(data, 4), (None, "row-out-of-range"))
        jf = ref.JobFile.from_bytes(data.encode())
        self.assertEqual(jf.records[0][1], 'line one\r\nline two, with comma and "quotes"')
        self.assertEqual(jf.records[3][1], "spaced, quoted")

    def test_quoted_email_with_newline_kept(self):
        data = 'email address\r\n" ann@\nexample.com "\r\n'
        self.assertEqual(job(data, 0, "email"), ("ann@\nexample.com", None))

    def test_skipinitialspace(self):
        data = "name, phone number\r\nAnn,   2025550143\r\nBob, \"2025550144\"\r\n"
        self.assertEqual(job(data, 0), ("2025550143", None))
        self.assertEqual(job(data, 1), ("2025550144", None))

    def test_blank_record_keeps_its_number(self):
        data = "phone number\r\n2025550143\r\n\r\n2025550145\r\n\r\n\r\n"
        self.assertEqual(job(data, 0), ("2025550143", None))
        self.assertEqual(job(data, 1), (None, "blank-record"))
        self.assertEqual(job(data, 2), ("2025550145", None))
        self.assertEqual(job(data, 3), (None, "row-out-of-range"))
        data = "phone number\n1\n\n\n4\n"
        self.assertEqual([job(data, i) for i in range(4)],
                         [("1", None), (None, "blank-record"), (None, "blank-record"),
                          ("4", None)])

    def test_spaces_only_line_is_an_empty_cell(self):
        data = "phone number,name\r\n1,a\r\n   \r\n3,c\r\n"
        self.assertEqual(job(data, 1), (None, "empty"))
        self.assertEqual(job(data, 2), ("3", None))
        data = "name,phone number\r\na,1\r\n   \r\nc,3\r\n"
        self.assertEqual(job(data, 1), (None, "short-row"))

    def test_short_rows(self):
        data = "name,phone number,ref\r\nAnn\r\nBob,2025550144\r\nCy,,\r\n,\r\nDee,5\r\n"
        self.assertEqual(job(data, 0), (None, "short-row"))
        self.assertEqual(job(data, 1), ("2025550144", None))
        self.assertEqual(job(data, 2), (None, "empty"))
        self.assertEqual(job(data, 3), (None, "empty"))
        self.assertEqual(job(data, 4), ("5", None))
        # The file's trailing commas and whitespace are stripped first: "Cy,,\r\n,\r\n" at
        # the end leaves the record ["Cy"], a short row, and no record for ",".
        data = "name,phone number,ref\r\nAnn,1\r\nCy,,\r\n,\r\n"
        self.assertEqual(job(data, 1), (None, "short-row"))
        self.assertEqual(job(data, 2), (None, "row-out-of-range"))

    def test_row_numbers(self):
        data = "phone number\r\n1\r\n2\r\n"
        self.assertEqual(job(data, None), (None, "no-row-number"))
        self.assertEqual(job(data, -1), (None, "row-out-of-range"))
        self.assertEqual(job(data, 2), (None, "row-out-of-range"))
        self.assertEqual(job("phone number", 0), (None, "row-out-of-range"))
        self.assertEqual(job("", 0), (None, "malformed"))
        self.assertEqual(job(" \r\n,\ufeff", 0), (None, "malformed"))

    def test_phone_cleaning(self):
        cases = {
            "+1 (202) 555-0143": "12025550143",
            "202.555.0143": "2025550143",
            "\t+44 7700 900123 ": "447700900123",
            "\u200b+1\u00a0202\u2060555\ufeff0143\u200c": "12025550143",
            "202-555-0143 ext 12": "2025550143ext12",
            "+1/202/555": "1/202/555",
            "\uff12\uff10\uff12": "\uff12\uff10\uff12",  # fullwidth digits: no other change
            "0044 20 7946 0000": "00442079460000",
        }
        for raw, want in cases.items():
            self.assertEqual(ref.clean_phone(raw), want, repr(raw))
            self.assertEqual(job('phone number\r\n"%s"\r\n' % raw, 0), (want, None), repr(raw))
        for empty in ("", "  ", "()", "+ - .", "\u00a0\u200b", "(+)"):
            self.assertEqual(job('phone number\r\n"%s"\r\nx\r\n' % empty, 0),
                             (None, "empty"), repr(empty))

    def test_email_cleaning(self):
        self.assertEqual(ref.clean_email("  Ann.Smith+x@Example.COM\t"), "Ann.Smith+x@Example.COM")
        self.assertEqual(ref.clean_email("\u200bann@example.com\u00a0"), "ann@example.com")
        self.assertEqual(ref.clean_email("a (b) @x.org"), "a (b) @x.org")

    def test_cell_cleaning(self):
        self.assertEqual(ref.clean_cell("\u00a0 a\u200bb \u2060"), "ab")
        self.assertEqual(ref.clean_cell(" a  b "), "a  b")

    def test_invalid_utf8_scopes(self):
        data = (b"phone number,name\r\n2025550143,Ann\r\n2025550144,Ren\xe9e\r\n"
                b"20255\xff50145,Cy\r\n2025550146,Dee\r\n")
        self.assertEqual(job(data, 0), ("2025550143", None))
        self.assertEqual(job(data, 1), (None, "invalid-utf8"))
        self.assertEqual(job(data, 2), (None, "invalid-utf8"))
        self.assertEqual(job(data, 3), ("2025550146", None))
        self.assertEqual(job(data, 1, scope="cell"), ("2025550144", None))
        self.assertEqual(job(data, 2, scope="cell"), (None, "invalid-utf8"))
        self.assertEqual(job(data, 0, scope="file"), (None, "invalid-utf8"))
        # Encoded surrogates and overlong forms are invalid UTF-8 too.
        self.assertEqual(job(b"phone number\r\n1\xed\xa0\x80\r\n2\r\n", 0), (None, "invalid-utf8"))
        self.assertEqual(job(b"phone number\r\n1\xc0\xaf\r\n2\r\n", 1), ("2", None))

    def test_invalid_utf8_does_not_shift_numbering(self):
        data = b"phone number\r\n\xff\xfe,\x80\r\n\"a\xc3\r\nb\"\r\n3\r\n"
        self.assertEqual(job(data, 0), (None, "invalid-utf8"))
        self.assertEqual(job(data, 1), (None, "invalid-utf8"))
        self.assertEqual(job(data, 2), ("3", None))


class BucketTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def put(self, key, data):
        path = os.path.join(self.dir, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def test_layouts(self):
        self.put("s1-service-notify/j1.csv", b"phone number\r\n1\r\n")
        self.put("service-s1-notify/j1.csv", b"phone number\r\n2\r\n")
        self.put("service-s1-notify/j2.csv", b"phone number\r\n3\r\n")
        self.assertEqual(ref.load_job_file(self.dir, "s1", "j1", None).recipient(0, "sms"),
                         ("1", None))
        self.assertEqual(ref.load_job_file(self.dir, "s1", "j2", None).recipient(0, "sms"),
                         ("3", None))
        self.assertEqual(ref.load_job_file(self.dir, "s1", "j3", None).recipient(0, "sms"),
                         (None, "missing"))

    def test_size_limit(self):
        self.put("s1-service-notify/j1.csv", b"phone number\r\n1\r\n")
        self.assertEqual(ref.load_job_file(self.dir, "s1", "j1", 17).status, "ok")  # 17 bytes
        self.assertEqual(ref.load_job_file(self.dir, "s1", "j1", 16).status, "oversized")


class WindowTest(unittest.TestCase):
    def test_parse_as_of(self):
        p = ref.parse_as_of
        self.assertEqual(p("2025-11-05T01:00:05Z"), utc(2025, 11, 5, 1, 0, 5))
        self.assertEqual(p("2025-11-05 01:00:05"), utc(2025, 11, 5, 1, 0, 5))
        self.assertEqual(p("2025-11-05"), utc(2025, 11, 5))
        self.assertEqual(p("2025-11-05T01:00:05.25+00:00"), utc(2025, 11, 5, 1, 0, 5, 250000))
        for bad in ("2025-11-05T01:00:05+01:00", "05/11/2025", "2025-13-01", "yesterday",
                    "2025-11-05T25:00:00Z", ""):
            with self.assertRaises(ValueError, msg=bad):
                p(bad)

    def test_utc_windows(self):
        as_of = utc(2025, 11, 5, 1, 0, 5)
        z = ref.get_zone("UTC")
        self.assertEqual(ref.window(as_of, 1, z), (utc(2025, 11, 4), utc(2025, 11, 5)))
        self.assertEqual(ref.window(as_of, 7, z), (utc(2025, 10, 29), utc(2025, 11, 5)))
        self.assertEqual(ref.window(as_of, 3, z, "now"), (utc(2025, 11, 2), as_of))
        self.assertEqual(ref.window(utc(2025, 11, 5), 1, z), (utc(2025, 11, 4), utc(2025, 11, 5)))

    def test_zone_windows_across_dst(self):
        z = ref.get_zone("America/New_York")
        as_of = utc(2025, 11, 5, 1, 0, 5)  # 2025-11-04 20:00 EST: D = 2025-11-04
        self.assertEqual(ref.window(as_of, 1, z), (utc(2025, 11, 3, 5), utc(2025, 11, 4, 5)))
        # DST ended 2025-11-02: 2025-11-01 00:00 is EDT (UTC-4).
        self.assertEqual(ref.window(as_of, 3, z), (utc(2025, 11, 1, 4), utc(2025, 11, 4, 5)))
        self.assertEqual(ref.window(as_of, 3, z, "now"), (utc(2025, 11, 1, 4), as_of))

    def test_midnight_in_a_gap(self):
        # Sao Paulo, 2018-11-04: clocks went from 00:00 (-03) to 01:00 (-02).
        z = ref.get_zone("America/Sao_Paulo")
        self.assertEqual(ref.day_start_utc(dt.date(2018, 11, 4), z), utc(2018, 11, 4, 3))

    def test_midnight_twice(self):
        # Havana, 2023-11-05: clocks went from 01:00 (-04) back to 00:00 (-05).
        z = ref.get_zone("America/Havana")
        self.assertEqual(ref.day_start_utc(dt.date(2023, 11, 5), z), utc(2023, 11, 5, 4))

    def test_bad_zone(self):
        for bad in ("Mars/Olympus", "../etc/passwd", ""):
            with self.assertRaises(ValueError):
                ref.get_zone(bad)


FAKE_PSQL = textwrap.dedent("""\
    #!%s
    import os, sys
    sql = sys.argv[-1]
    open(os.environ["FAKE_PSQL_LOG"], "a").write(sql + "\\n")
    if "FROM services" in sql:
        sys.stdout.write(open(os.environ["FAKE_PSQL_SERVICES"]).read())
    else:
        sys.stdout.buffer.write(open(os.environ["FAKE_PSQL_ROWS"], "rb").read())
    """) % sys.executable

S1 = "11111111-1111-1111-1111-111111111111"
J1 = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"


class CliTest(unittest.TestCase):
    """End to end with a stand-in psql that answers every query with canned CSV."""

    def test_cli(self):
        with tempfile.TemporaryDirectory() as tmp:
            bindir = os.path.join(tmp, "bin")
            os.mkdir(bindir)
            psql = os.path.join(bindir, "psql")
            with open(psql, "w") as f:
                f.write(FAKE_PSQL)
            os.chmod(psql, stat.S_IRWXU)
            bucket, dest = os.path.join(tmp, "bucket"), os.path.join(tmp, "dest")
            os.makedirs(os.path.join(bucket, S1 + "-service-notify"))
            with open(os.path.join(bucket, S1 + "-service-notify", J1 + ".csv"), "wb") as f:
                f.write(b"\xef\xbb\xbfPhone_Number,name\r\n+1 (202) 555-0143,Ann\r\n")
            with open(os.path.join(tmp, "services.csv"), "w") as f:
                f.write(S1 + "\n")
            rows = (
                '%s,n2,%s,0,delivered,Verizon Wireless,Message has been accepted by phone,'
                '2025-08-11 18:04:09.123,Appointment reminder,sms,Jane Smith,'
                'August reminders.csv,%s\n'
                '%s,n1,,,temporary-failure,,,2025-08-11 16:00:00,"Reminder, Spanish",sms,,,\n'
                '%s,n3,%s,7,permanent-failure,,,2025-08-11 15:00:00,E,email,,b.csv,%s\n'
                % (S1, J1, S1, S1, S1, J1, S1))
            with open(os.path.join(tmp, "rows.csv"), "w") as f:
                f.write(rows)
            env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"],
                       FAKE_PSQL_LOG=os.path.join(tmp, "log"),
                       FAKE_PSQL_SERVICES=os.path.join(tmp, "services.csv"),
                       FAKE_PSQL_ROWS=os.path.join(tmp, "rows.csv"))
            env.pop("DATABASE_URL", None)
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobreport_ref.py")
            proc = subprocess.run(
                [sys.executable, script, "--bucket", bucket, "--dest", dest,
                 "--as-of", "2025-08-12T01:00:05Z", "--days", "1", "--max-rows", "2"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stdout, b"")
            self.assertIn(b"reports=1", proc.stderr)
            self.assertIn(b"truncated=1", proc.stderr)
            self.assertEqual(proc.stderr.count(b"\n"), 1)
            path = os.path.join(dest, S1 + "-service-notify", "1-day-report.csv")
            with open(path, "rb") as f:
                got = f.read()
            self.assertEqual(
                got,
                b"Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,Carrier Response"
                b"\r\n12025550143,Appointment reminder,Jane Smith,Verizon Wireless,Delivered,"
                b"2025-08-11 18:04:09,August reminders.csv,Message has been accepted by phone\r\n"
                b',"Reminder, Spanish",,,Unable to find carrier response -- still looking,'
                b"2025-08-11 16:00:00,,\r\n")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(os.path.join(tmp, "log")) as f:
                log = f.read()
            self.assertNotIn('"to"', log)
            self.assertNotIn("normalised_to", log)
            self.assertIn("'2025-08-11 00:00:00.000000'::timestamp", log)
            self.assertIn("'2025-08-12 00:00:00.000000'::timestamp", log)
            # No third row past --max-rows; without it the email row appears as Unavailable.
            proc = subprocess.run(
                [sys.executable, script, "--bucket", bucket, "--dest", dest,
                 "--as-of", "2025-08-12", "--days", "1"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(path, "rb") as f:
                last = f.read().split(b"\r\n")[-2]
            self.assertEqual(last, "Unavailable,E,,,Email address doesn\u2019t exist,"
                             "2025-08-11 15:00:00,b.csv,".encode("utf-8"))

    def test_usage_errors(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobreport_ref.py")
        with tempfile.TemporaryDirectory() as tmp:
            for extra in (["--as-of", "2025-11-05T01:00:05+02:00"], ["--tz", "Nowhere/X"],
                          ["--days", "0"], ["--type", "letter"], ["--service", "nope"],
                          ["--max-rows", "0"], ["--until", "noon"]):
                proc = subprocess.run(
                    [sys.executable, script, "--bucket", tmp, "--dest", tmp] + extra,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.assertEqual(proc.returncode, 2, extra)


PG_SEED = """
INSERT INTO services VALUES
 ('11111111-1111-1111-1111-111111111111','Svc A',true,now()),
 ('22222222-2222-2222-2222-222222222222','Svc B',false,now()),
 ('33333333-3333-3333-3333-333333333333','Svc C',true,now());
INSERT INTO users VALUES
 ('44444444-4444-4444-4444-444444444444','Jane Smith','jane@example.gov'),
 ('55555555-5555-5555-5555-555555555555',E'Zo\u00eb "Z" O\u2019Brien, Jr.','zoe@example.gov');
INSERT INTO templates_history VALUES
 ('66666666-6666-6666-6666-666666666666',1,NULL,'Appointment reminder','sms'),
 ('66666666-6666-6666-6666-666666666666',2,NULL,'Reminder, Spanish','sms'),
 ('77777777-7777-7777-7777-777777777777',1,NULL,'Mail "one"','email');
INSERT INTO jobs VALUES
 ('aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa','August reminders.csv',
  '11111111-1111-1111-1111-111111111111','66666666-6666-6666-6666-666666666666',1,
  '2025-08-11 10:00','44444444-4444-4444-4444-444444444444','finished',3,NULL,false),
 ('bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb','emails.csv','11111111-1111-1111-1111-111111111111',
  '77777777-7777-7777-7777-777777777777',1,'2025-08-11 10:00',NULL,'finished',2,NULL,false);
INSERT INTO notifications (id,"to",normalised_to,job_id,job_row_number,service_id,template_id,
  template_version,key_type,notification_type,created_at,notification_status,created_by_id,
  carrier,provider_response) VALUES
 ('00000000-0000-0000-0000-000000000001','+12025550143','1',
  'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',0,'11111111-1111-1111-1111-111111111111',
  '66666666-6666-6666-6666-666666666666',1,'normal','sms','2025-08-11 18:04:09.999',
  'delivered','44444444-4444-4444-4444-444444444444','Verizon Wireless',
  'Message has been accepted by phone'),
 ('00000000-0000-0000-0000-000000000003','1','1','aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',1,
  '11111111-1111-1111-1111-111111111111','66666666-6666-6666-6666-666666666666',1,'normal',
  'sms','2025-08-11 16:00:00','sent','55555555-5555-5555-5555-555555555555','AT&T',
  E'line1\r\nline2'),
 ('00000000-0000-0000-0000-000000000002','1','1',NULL,NULL,
  '11111111-1111-1111-1111-111111111111','66666666-6666-6666-6666-666666666666',2,'team',
  'sms','2025-08-11 16:00:00','temporary-failure',NULL,NULL,NULL),
 ('00000000-0000-0000-0000-000000000004','1','1','aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',2,
  '11111111-1111-1111-1111-111111111111','66666666-6666-6666-6666-666666666666',1,'test',
  'sms','2025-08-11 16:00:00','sent',NULL,NULL,NULL),
 ('00000000-0000-0000-0000-000000000005','1','1','bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb',0,
  '11111111-1111-1111-1111-111111111111','77777777-7777-7777-7777-777777777777',1,'normal',
  'email','2025-08-10 23:59:59.5','permanent-failure',NULL,NULL,NULL),
 ('00000000-0000-0000-0000-000000000006','1','1','bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb',1,
  '11111111-1111-1111-1111-111111111111','77777777-7777-7777-7777-777777777777',1,'normal',
  'email','2025-08-08 00:00:00','pending',NULL,NULL,NULL),
 ('00000000-0000-0000-0000-000000000007','1','1',NULL,NULL,
  '22222222-2222-2222-2222-222222222222','77777777-7777-7777-7777-777777777777',1,'normal',
  'email','2025-08-11 00:00:00','pending',NULL,NULL,NULL),
 ('00000000-0000-0000-0000-000000000008','1','1',NULL,NULL,
  '11111111-1111-1111-1111-111111111111','77777777-7777-7777-7777-777777777777',1,'normal',
  'email','2025-08-12 00:00:00','pending',NULL,NULL,NULL);
"""


@unittest.skipUnless(os.environ.get("REF_TEST_PG"),
                     "set REF_TEST_PG=1 with PG* pointing at a server to run")
class PostgresTest(unittest.TestCase):
    """Runs the real queries: creates a scratch database, loads sql/schema.sql and a few rows."""

    def psql(self, *args, db=None, stdin=None):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"] + (["-d", db] if db else [])
        subprocess.run(cmd + list(args), input=stdin, check=True, stdout=subprocess.DEVNULL)

    def test_reports_from_database(self):
        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        db = "ref_test_%d" % os.getpid()
        self.psql("-c", "CREATE DATABASE %s" % db)
        self.addCleanup(self.psql, "-c", "DROP DATABASE %s" % db)
        self.psql("-f", os.path.join(top, "sql", "schema.sql"), db=db)
        self.psql(db=db, stdin=PG_SEED.encode("utf-8"))
        s1 = "11111111-1111-1111-1111-111111111111"
        with tempfile.TemporaryDirectory() as tmp:
            bucket, dest = os.path.join(tmp, "b"), os.path.join(tmp, "d")
            for key, data in (
                    (s1 + "-service-notify/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa.csv",
                     b"\xef\xbb\xbfphone number,name\r\n+1 (202) 555-0143,Ann\r\n"
                     b"202.555.0144,Bob\r\n"),
                    ("service-" + s1 + "-notify/bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb.csv",
                     b"Email_Address\n ann@example.com \n")):
                os.makedirs(os.path.dirname(os.path.join(bucket, key)), exist_ok=True)
                with open(os.path.join(bucket, key), "wb") as f:
                    f.write(data)
            env = dict(os.environ, PGDATABASE=db, TZ="Asia/Tokyo", PGTZ="America/Los_Angeles")
            env.pop("DATABASE_URL", None)
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobreport_ref.py")
            proc = subprocess.run([sys.executable, script, "--bucket", bucket, "--dest", dest,
                                   "--as-of", "2025-08-12T01:00:05Z"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(sorted(os.listdir(dest)), [s1 + "-service-notify"])
            one = ("Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,"
                   "Carrier Response\r\n"
                   "12025550143,Appointment reminder,Jane Smith,Verizon Wireless,Delivered,"
                   "2025-08-11 18:04:09,August reminders.csv,Message has been accepted by phone"
                   "\r\n"
                   ',"Reminder, Spanish",,,Unable to find carrier response -- still looking,'
                   "2025-08-11 16:00:00,,\r\n"
                   '2025550144,Appointment reminder,"Zo\u00eb ""Z"" O\u2019Brien, Jr.",AT&T,'
                   'Sent internationally,2025-08-11 16:00:00,August reminders.csv,'
                   '"line1\r\nline2"\r\n')
            three = one + ('ann@example.com,"Mail ""one""",,,Email address doesn\u2019t exist,'
                           "2025-08-10 23:59:59,emails.csv,\r\n")
            five = three + 'Unavailable,"Mail ""one""",,,pending,2025-08-08 00:00:00,emails.csv,\r\n'
            for n, want in ((1, one), (3, three), (5, five), (7, five)):
                with open(ref.report_path(dest, s1, n), "rb") as f:
                    self.assertEqual(f.read(), want.encode("utf-8"), n)


if __name__ == "__main__":
    unittest.main()
