#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-lab08.py: lab 8's grader grades what it should (suite labs, TAP).

solution/ gets full marks, and so does a Python `run` submission
(tests/python-smtp-server/run), with the same verdicts; the starter fails
every check but the build ones, each FAIL saying what was expected; five
plausible wrong servers (mutants of solution/, listed below with the one
check each must fail) fail exactly that check and pass the rest; every
results.json is in Gradescope's format. Graders run in parallel, each
bounded in time.
"""
import concurrent.futures
import importlib.util
import os
import shutil
import sys
import tempfile

TESTS = os.path.dirname(os.path.abspath(__file__))
LABS = os.path.dirname(TESTS)
LAB = "08-smtp-server"

spec = importlib.util.spec_from_file_location("test_labs", os.path.join(TESTS, "test-labs.py"))
test_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_labs)

# (name, [(old text, new text)] in solution/smtp-server.c, checks that must fail)
MUTANTS = [
    ("no-dot-unstuffing",
     [("const char *p = line[0] == '.' ? line + 1 : line;",
       "const char *p = line; /* the bug: the stuffed dot is kept */")],
     {"dot-unstuffing"}),
    ("data-before-rcpt",
     [('{ "DATA", STATE_RCPT, cmd_data },',
       '{ "DATA", STATE_MAIL | STATE_RCPT, cmd_data }, /* the bug */')],
     {"bad-order-503"}),
    ("bare-lf-ends-a-line",
     [("      if (c == '\\n' && previous == '\\r')\n        {\n          if (too_long)\n"
       "            return -1;\n          line[--length] = '\\0'; /* the CR */\n",
       "      if (c == '\\n') /* the bug: a bare LF ends a line too */\n        {\n"
       "          if (too_long)\n            return -1;\n"
       "          if (previous == '\\r')\n            length--;\n"
       "          line[length] = '\\0';\n")],
     {"no-smuggling"}),
    ("one-read-one-command",
     [('                                   "250-PIPELINING\\r\\n" /* RFC 2920 */\n', ""),
      ("        dispatch (&session, line, length);\n",
       "        dispatch (&session, line, length);\n"
       "      session.in.start = session.in.end; /* the bug: the rest of the read */\n")],
     {"pipelining"}),
    ("rset-keeps-recipients",
     [("  if (session->state != STATE_GREETED)\n    transaction_clear (session);\n",
       "  if (session->state != STATE_GREETED)\n"
       "    session->state = STATE_READY; /* the bug: the recipients stay */\n")],
     {"transactions"}),
]

tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


def mutant_dir(scratch, name, edits):
    d = os.path.join(scratch, name)
    shutil.copytree(os.path.join(LABS, LAB, "solution"), d)
    path = os.path.join(d, "smtp-server.c")
    text = open(path).read()
    for old, new in edits:
        if old not in text:
            return None
        text = text.replace(old, new, 1)
    open(path, "w").write(text)
    return d


def main():
    scratch = tempfile.mkdtemp(prefix="test-lab08-")
    jobs = [("solution", os.path.join(LABS, LAB, "solution")),
            ("starter", os.path.join(LABS, LAB, "starter")),
            ("python-run", os.path.join(TESTS, "python-smtp-server"))]
    expected = {}
    try:
        for name, edits, fails in MUTANTS:
            d = mutant_dir(scratch, name, edits)
            ok(d is not None, f"/labs/{LAB}/mutant/{name}/applies",
               "the solution changed: update the mutant's text")
            if d:
                jobs.append((name, d))
                expected[name] = fails
        for kind, _ in jobs:
            os.makedirs(os.path.join(scratch, f"g-{kind}"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {kind: pool.submit(test_labs.grade, LAB, d,
                                         os.path.join(scratch, f"g-{kind}"))
                       for kind, d in jobs}
            done = {kind: f.result() for kind, f in futures.items()}
        for kind, (proc, verdicts, data) in done.items():
            prefix = f"/labs/{LAB}/{kind}"
            errors = test_labs.schema_errors(data)
            ok(not errors, f"{prefix}/results-json-is-gradescope-format", "; ".join(errors))
            failed = {n for n, v in verdicts.items() if v == "FAIL"}
            if kind == "solution":
                ok(proc.returncode == 0 and not failed and len(verdicts) >= 15,
                   f"{prefix}/full-marks", proc.stdout[-800:])
            elif kind == "starter":
                lines = [l for l in proc.stdout.splitlines() if l.startswith("FAIL")]
                ok(proc.returncode != 0 and set(verdicts) - failed == {"builds", "no-warnings"}
                   and all(": expected " in l for l in lines),
                   f"{prefix}/fails-saying-what-is-missing", proc.stdout[-800:])
            elif kind == "python-run":
                ok(proc.returncode == 0 and verdicts == done["solution"][1],
                   f"{prefix}/same-verdicts-as-c", proc.stdout[-800:])
            else:
                want = expected[kind]
                ok(proc.returncode != 0 and failed == want and
                   set(verdicts) == set(done["solution"][1]),
                   f"{prefix}/fails-exactly-{'+'.join(sorted(want))}",
                   f"failed {sorted(failed)}: {proc.stdout[-800:]}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{len(tap)}")
    for n, (good, name, why) in enumerate(tap, 1):
        print(f"{'ok' if good else 'not ok'} {n} {name}")
        if not good:
            for line in why.splitlines()[-14:]:
                print(f"# {line}")
    return 0 if all(t[0] for t in tap) else 1


if __name__ == "__main__":
    sys.exit(main())
