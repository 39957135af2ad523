# Runs last: no phone number or email address from any job file used by the tests (and no
# number held in notifications."to") appears in anything jobreport printed: logs, errors,
# summaries, dry-run listings. Reports themselves are exempt (that is where they belong).
. "$TOP/tests/cli/lib.sh"
log="$JR_TEST_STATE/tool-output.log"
[ -s "$log" ] || fail "no tool output collected"
python3 - "$JR_TEST_STATE" "$log" <<'PY'
import csv, io, os, re, sys
state, log = sys.argv[1], sys.argv[2]
job = re.compile(r"(^|/)([0-9a-f-]{36}-service-notify|service-[0-9a-f-]{36}-notify)/[0-9a-f-]{36}\.csv$")
phones, emails, files = set(), set(), 0
for root, dirs, names in os.walk(state):
    for n in names:
        path = os.path.join(root, n)
        if not job.search(path):
            continue
        files += 1
        text = open(path, "rb").read().decode("utf-8", "replace")
        for row in csv.reader(io.StringIO(text, newline="")):
            for cell in row:
                if "@" in cell:
                    emails.add(cell.strip(" \t\u00a0\u200b\ufeff"))
                digits = re.sub(r"\D", "", cell)
                if len(digits) >= 10 and re.search(r"\d{3}\D{0,3}\d{3}\D{0,3}\d{4}", cell):
                    phones.add(digits)
assert files >= 10, f"only {files} job files found"
assert phones and emails, "no PII found to look for"
out = open(log, "rb").read().decode("utf-8", "replace")
# Summaries written to files are tool output too.
for root, dirs, names in os.walk(state):
    for n in names:
        if n.endswith(".json") and "summary" in n:
            out += open(os.path.join(root, n), encoding="utf-8").read()
digits_only = re.sub(r"\D", "", out)
leaks = [e for e in emails if e and e in out]
leaks += [p for p in phones if re.search(r"(?<!\d)" + p + r"(?!\d)", out)]
assert not leaks, f"PII in tool output: {sorted(leaks)[:5]}"
print(f"checked {len(phones)} phone numbers and {len(emails)} emails from {files} job files "
      f"against {len(out)} bytes of output")
PY
