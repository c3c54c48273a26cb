#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-labs.py: the labs' graders grade what they should (suite labs, TAP).

For each lab: solution/ gets full marks; starter/ fails, each FAIL line
saying what was expected; each plausible wrong solution (a mutant of
solution/: one edit, listed below with the checks it must fail) fails
exactly those checks and passes the rest; for lab 2 a Python `run`
submission gets the same verdicts as the C solution; every results.json
is in Gradescope's format (checked below, by hand). Also: `labs export`
leaves out solutions, and `labs gradescope` writes a bundle with setup.sh
and run_autograder. Graders run in parallel; each is bounded in time.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

LABS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (lab, name, file, old text, new text, checks that must fail)
MUTANTS = [
    ("02-smtp-client", "no-dot-stuffing", "smtp-client.c",
     "      if (line[0] == '.')\n        fputc ('.', smtp->out);\n", "",
     {"dot-stuffing"}),
    ("02-smtp-client", "bare-lf", "smtp-client.c",
     "      line[strcspn (line, \"\\r\\n\")] = '\\0';\n      if (line[0] == '.')\n"
     "        fputc ('.', smtp->out);\n      fprintf (smtp->out, \"%s\\r\\n\", line);\n",
     "      if (line[0] == '.')\n        fputc ('.', smtp->out);\n"
     "      fputs (line, smtp->out); /* the bug: the line end as read */\n",
     {"crlf-line-ends"}),
    ("02-smtp-client", "not-waiting-for-354", "smtp-client.c",
     "  code = command (smtp, \"%s\", \"DATA\");\n  if (code == 354)\n    {\n"
     "      send_text (smtp);\n",
     "  fputs (\"DATA\\r\\n\", smtp->out); /* the bug: text right after DATA */\n"
     "  send_text (smtp);\n  code = read_reply (smtp, text, sizeof text);\n"
     "  if (code == 354)\n    {\n",
     {"waits-for-each-reply"}),
    ("02-smtp-client", "multi-line-only-for-ehlo", "smtp-client.c",
     "  char line[MAX_REPLY_LINE + 2];\n\n  for (;;)\n",
     "  char line[MAX_REPLY_LINE + 2];\n  static int replies; /* the bug: greeting and EHLO only */\n\n"
     "  replies++;\n  for (;;)\n",
     {"multi-line-replies"}),
    ("03-pop3-download", "no-dot-unstuffing", "pop3-fetch.c",
     "const char *p = line[0] == '.' ? line + 1 : line;", "const char *p = line;",
     {"dot-unstuffing"}),
    ("03-pop3-download", "no-uidl-memory", "pop3-fetch.c",
     "  if (!already_saved (pop, uid))\n", "  if (!already_saved (pop, uid) || 1)\n",
     {"keep-remembers-uidl", "drop-after-retr", "drop-before-quit"}),
    ("03-pop3-download", "dele-before-safely-saved", "pop3-fetch.c",
     "      ok = text != NULL && save_message (pop, text, length, uid);\n",
     "      ok = text != NULL;\n      if (ok) /* the bug: the save is not checked */\n"
     "        save_message (pop, text, length, uid);\n",
     {"save-failure-keeps-mail"}),
    ("03-pop3-download", "keep-ignored", "pop3-fetch.c",
     "  if (ok && !pop->keep)\n", "  if (ok)\n", {"keep-leaves-mail"}),
]
# the third line of the multi-line mutant: only the first two replies loop
MULTI_LINE_OLD = "      if (line[3] != '-')\n"
MULTI_LINE_NEW = "      if (line[3] != '-' || replies > 2)\n"

tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


def grade(lab, directory, scratch):
    results = os.path.join(scratch, "results.json")
    proc = subprocess.run([sys.executable, os.path.join(LABS, lab, "grade.py"), directory,
                           "--results", results], capture_output=True, text=True,
                          timeout=600)
    data = json.load(open(results)) if os.path.exists(results) else None
    verdicts = dict(re.findall(r"^(PASS|FAIL) ([\w-]+)", proc.stdout, re.M))
    verdicts = {name: kind for kind, name in re.findall(r"^(PASS|FAIL) ([\w-]+)",
                                                        proc.stdout, re.M)}
    return proc, verdicts, data


def schema_errors(data):
    """Gradescope's results.json: score (number), tests[] each with name
    (string), score and max_score (numbers), output (string); optional
    top-level output/visibility strings. Returns what is wrong."""
    errors = []
    if not isinstance(data, dict):
        return ["not a JSON object"]
    if not isinstance(data.get("score"), (int, float)):
        errors.append("score is not a number")
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        return errors + ["tests is not a non-empty list"]
    for t in tests:
        for key, kind in (("name", str), ("score", (int, float)),
                          ("max_score", (int, float)), ("output", str)):
            if not isinstance(t.get(key), kind):
                errors.append(f"test {t.get('name')!r}: {key} missing or wrong type")
        if isinstance(t.get("score"), (int, float)) and isinstance(t.get("max_score"), (int, float)) \
                and not 0 <= t["score"] <= t["max_score"]:
            errors.append(f"test {t.get('name')!r}: score outside 0..max_score")
    for key in ("output", "visibility", "stdout_visibility"):
        if key in data and not isinstance(data[key], str):
            errors.append(f"{key} is not a string")
    if isinstance(data.get("score"), (int, float)) and \
            abs(data["score"] - sum(t.get("score", 0) for t in tests)) > 1e-9:
        errors.append("score is not the sum of the tests' scores")
    return errors


def mutant_dir(scratch, lab, name, filename, old, new):
    d = os.path.join(scratch, name)
    shutil.copytree(os.path.join(LABS, lab, "solution"), d)
    path = os.path.join(d, filename)
    text = open(path).read()
    if old not in text:
        return None
    text = text.replace(old, new, 1)
    if name == "multi-line-only-for-ehlo":
        if MULTI_LINE_OLD not in text:
            return None
        text = text.replace(MULTI_LINE_OLD, MULTI_LINE_NEW, 1)
    open(path, "w").write(text)
    return d


def job(kind, lab, directory, scratch):
    os.makedirs(scratch, exist_ok=True)
    return kind, lab, directory, grade(lab, directory, scratch)


def main():
    only = sys.argv[1:]  # lab names, or all
    labs = [lab for lab in ("02-smtp-client", "03-pop3-download") if not only or lab in only]
    scratch = tempfile.mkdtemp(prefix="test-labs-")
    jobs, expected = [], {}
    try:
        for lab in labs:
            jobs.append(("solution", lab, os.path.join(LABS, lab, "solution")))
            jobs.append(("starter", lab, os.path.join(LABS, lab, "starter")))
        if "02-smtp-client" in labs:
            jobs.append(("python-run", "02-smtp-client",
                         os.path.join(LABS, "tests", "python-smtp-client")))
        for lab, name, filename, old, new, fails in MUTANTS:
            if lab not in labs:
                continue
            d = mutant_dir(scratch, lab, name, filename, old, new)
            ok(d is not None, f"/labs/{lab}/mutant/{name}/applies",
               "the solution changed: update the mutant's text")
            if d:
                jobs.append((name, lab, d))
                expected[(lab, name)] = fails
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(job, kind, lab, d, os.path.join(scratch, f"g-{lab}-{kind}"))
                       for kind, lab, d in jobs]
            done = [f.result() for f in futures]
        solutions = {}
        for kind, lab, d, (proc, verdicts, data) in done:
            prefix = f"/labs/{lab}/{kind}"
            errors = schema_errors(data)
            ok(not errors, f"{prefix}/results-json-is-gradescope-format", "; ".join(errors))
            failed = {n for n, v in verdicts.items() if v == "FAIL"}
            if kind == "solution":
                solutions[lab] = verdicts
                ok(proc.returncode == 0 and not failed and verdicts,
                   f"{prefix}/full-marks", proc.stdout[-600:])
            elif kind == "starter":
                lines = [l for l in proc.stdout.splitlines() if l.startswith("FAIL")]
                ok(proc.returncode != 0 and lines and
                   all(": expected " in l for l in lines),
                   f"{prefix}/fails-saying-what-is-missing", proc.stdout[-600:])
            elif kind == "python-run":
                ok(proc.returncode == 0 and not failed, f"{prefix}/grades-like-c",
                   proc.stdout[-600:])
            else:
                want = expected[(lab, kind)]
                ok(proc.returncode != 0 and failed == want,
                   f"{prefix}/fails-exactly-{'+'.join(sorted(want))}",
                   f"failed {sorted(failed)}: {proc.stdout[-800:]}")
        for kind, lab, d, (proc, verdicts, data) in done:
            if kind == "python-run":
                ok(verdicts == solutions.get(lab), f"/labs/{lab}/python-run/same-verdicts",
                   f"{verdicts} vs {solutions.get(lab)}")
        check_export(scratch)
        check_gradescope(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{len(tap)}")
    for n, (good, name, why) in enumerate(tap, 1):
        print(f"{'ok' if good else 'not ok'} {n} {name}")
        if not good:
            for line in why.splitlines()[-12:]:
                print(f"# {line}")
    return 0 if all(t[0] for t in tap) else 1


def check_export(scratch):
    dest = os.path.join(scratch, "handout")
    subprocess.run([sys.executable, os.path.join(LABS, "lab.py"), "export", dest],
                   check=True, timeout=60)
    names = [os.path.relpath(os.path.join(r, f), dest) for r, _, fs in os.walk(dest) for f in fs]
    ok(not any("/solution/" in n or n.startswith("tests/") for n in names),
       "/labs/export/no-solutions", ", ".join(n for n in names if "solution" in n))
    ok("02-smtp-client/starter/smtp-client.c" in names and "02-smtp-client/grade.py" in names
       and "lib/labkit.py" in names and "README.md" in names,
       "/labs/export/has-starters-and-graders", ", ".join(sorted(names)))
    lab6 = [n for n in names if n.startswith("06-relay-queue-bounce/")]
    ok(sorted(lab6) == sorted("06-relay-queue-bounce/" + f for f in (
        "README.md", "grade.py", "orgs.py", "starter/Makefile", "starter/dsn-read.c",
        "starter/answers.txt")), "/labs/export/lab06-without-solution", ", ".join(sorted(lab6)))


def check_gradescope(scratch):
    out = os.path.join(scratch, "lab2.zip")
    subprocess.run([sys.executable, os.path.join(LABS, "lab.py"), "gradescope", "02", out],
                   check=True, timeout=120, stdout=subprocess.DEVNULL)
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        mode = z.getinfo("run_autograder").external_attr >> 16
    ok("setup.sh" in names and "run_autograder" in names and mode & 0o111 and
       "mailwire/labs/02-smtp-client/grade.py" in names and
       "mailwire/src/servers/smtp-session.c" in names and
       not any("/solution/" in n for n in names), "/labs/gradescope/bundle",
       ", ".join(names[:20]))


if __name__ == "__main__":
    sys.exit(main())
