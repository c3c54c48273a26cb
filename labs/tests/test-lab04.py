#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-lab04.py: lab 4's grader grades what it should (suite labs, TAP).

The reference submission is solution/ plus what a student hands in from
the lab, made here as `./run lab 04` would have it made: mw-smtpd and
mw-imapd, mw-trace capturing both ports, the solution's idle-watch run with
--events 2 while a message arrives, and mw-imap sync twice with and without
QRESYNC (the second outputs kept). Its answers are computed from
mw-imapd's --protocol-log (which side sent each line), the program's stdout
and the sync outputs, not from mw-trace, which is what the grader reads.

Full marks for the reference and for a Python `run` submission (same
verdicts); four plausible wrong solutions (mutants of solution/: no DONE
before LOGOUT, polling with NOOP instead of IDLE, not reading the '+'
continuation, printing the tagged OK as a push) each fail exactly the check
naming the mistake; wrong answers fail their questions; the starter fails
saying what is missing. Live capture needs root: as another user, skip.
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
LABS = os.path.dirname(TESTS)
LAB = os.path.join(LABS, "04-imap-two-devices")
sys.path.insert(0, os.path.join(LABS, "lib"))
import labkit  # noqa: E402

spec = importlib.util.spec_from_file_location("test_labs", os.path.join(TESTS, "test-labs.py"))
test_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_labs)

DONE_AND_WAIT = '  send_line (imap, "DONE");\n  return wait_tagged (imap, tag);\n'
READ_PLUS = ("  if (read_line (imap, line, sizeof line) != 1 || line[0] != '+')\n"
             "    return 0; /* RFC 9051 §7.5: the server must invite us first */\n")
IDLE_START = "static int\nidle (Imap *imap, long events)\n{"
POLLING = '''static int
idle (Imap *imap, long events)
{ /* the bug: asks every 200 ms instead of letting the server push */
  char line[MAX_LINE];
  char tag[16];
  long seen = 0;
  struct timespec pause = { 0, 200000000 };

  while (!stop_requested && (events == 0 || seen < events))
    {
      send_command (imap, "NOOP", tag, sizeof tag);
      while (read_line (imap, line, sizeof line) == 1 &&
             strncmp (line, tag, strlen (tag)) != 0)
        {
          printf ("%s\\n", line);
          seen++;
        }
      nanosleep (&pause, NULL);
    }
  return 1;
}
static int
idle_unused (Imap *imap, long events)
{'''
# (name, [(old, new)], checks that must fail)
MUTANTS = [
    ("no-done-before-logout", [(DONE_AND_WAIT, "  return 1; /* the bug: LOGOUT while idling */\n")],
     {"ends-cleanly"}),
    ("noop-polling", [(IDLE_START, POLLING), ("#include <unistd.h>\n",
                                                "#include <time.h>\n#include <unistd.h>\n"),
                      ("int\nmain", "int\nmain_unused_guard (void)\n{\n  return idle_unused "
                       "(NULL, 0);\n}\n\nint\nmain")],
     {"idles-not-polls"}),
    ("no-continuation-read", [(READ_PLUS, "")], {"waits-for-continuation"}),
    ("tagged-ok-as-push", [(DONE_AND_WAIT, '''  send_line (imap, "DONE");
  stop_requested = 0;
  while (read_line (imap, line, sizeof line) == 1)
    { /* the bug: the tagged OK printed as if it were news */
      printf ("%s\\n", line);
      if (strncmp (line, tag, strlen (tag)) == 0)
        return 1;
    }
  return 0;
''')], {"prints-untagged-only"}),
]
BEHAVIOUR = {"builds", "no-warnings", "login-and-select", "idles-not-polls", "exists-pushed",
             "flags-pushed", "waits-for-continuation", "prints-untagged-only", "ends-cleanly",
             "stops-after-n-events"}
QUESTIONS = {"q-client-lines", "q-server-lines", "q-idle-tag", "q-continuation", "q-pushes",
             "q-first-push", "q-qresync-commands", "q-no-qresync-commands"}
tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


def wait_until(predicate, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def lab_artefacts(scratch):
    """capture.pcap, sync-*.txt and answers.txt, made as in the lab."""
    art = os.path.join(scratch, "artefacts")
    os.makedirs(art)  # (and SCRATCH with it)
    build = os.path.join(scratch, "build")
    shutil.copytree(os.path.join(LAB, "solution"), build)
    subprocess.run(["make", "-s", "-C", build], check=True, timeout=120)
    mw = labkit.Mailwire(os.path.join(scratch, "lab-state"), smtp=True, imap=True).start()
    mw.deliver("bob", b"From: alice@lab.test\r\nSubject: first\r\n\r\nhi\r\n")
    pw = labkit.password_file(mw.state)
    imap = [labkit.program("mw-imap"), "--server", f"127.0.0.1:{mw.ports['imap']}",
            "--user", "bob", "--password-file", pw]
    log = os.path.join(mw.state, "mw-imapd.log")
    try:
        with labkit.Capture(os.path.join(art, "capture.pcap"),
                            [mw.ports["imap"], mw.ports["smtp"]]) as capture:
            proc = subprocess.Popen([os.path.join(build, "idle-watch"), "--events", "2",
                                     "127.0.0.1", str(mw.ports["imap"]), "bob"],
                                    env=dict(os.environ, IMAP_PASSWORD=labkit.PASSWORD),
                                    stdout=subprocess.PIPE, text=True)
            wait_until(lambda: "S: + " in open(log).read(), 10)
            subprocess.run([labkit.program("mw-send"), "--server",
                            f"127.0.0.1:{mw.ports['smtp']}", "--from", "alice@lab.test",
                            "--to", "bob@lab.test", "--subject", "two", "--body", "pushed"],
                           check=True, timeout=20)
            out, _ = proc.communicate(timeout=20)
            for extra, name in (([], "sync-qresync.txt"), (["--no-qresync"], "sync-no-qresync.txt")):
                device = os.path.join(scratch, name + ".maildir")
                for _ in range(2):
                    text = subprocess.run(imap + extra + ["--maildir", device, "sync"],
                                          check=True, timeout=60, capture_output=True,
                                          text=True).stdout
                open(os.path.join(art, name), "w").write(text)
            capture.wait_closed(6)  # idle-watch, mw-send, four syncs
    finally:
        mw.stop()
    problems = labkit.capture_problems(os.path.join(art, "capture.pcap"))  # (reads .log)
    for extra in (".log", ".json"):
        os.unlink(os.path.join(art, "capture.pcap" + extra))
    # which side sent each line, from the server's own log of the LOGIN session
    lines = [re.search(r" (127\.0\.0\.1:\d+) ([CS]): (.*)$", l) for l in open(log)]
    lines = [m.groups() for m in lines if m]
    peer = next(p for p, side, text in lines if side == "C" and " LOGIN " in text)
    mine = [(side, text) for p, side, text in lines if p == peer]
    idle = next(text for side, text in mine if side == "C" and text.endswith(" IDLE"))
    counts = {n: int(re.search(r"^INBOX: .*\((\d+) command", open(os.path.join(art, f)).read(),
                               re.M).group(1))
              for n, f in (("q", "sync-qresync.txt"), ("n", "sync-no-qresync.txt"))}
    pushes = out.splitlines()
    answers = {
        "client-lines": sum(1 for side, _ in mine if side == "C"),
        "server-lines": sum(1 for side, _ in mine if side == "S"),
        "idle-tag": idle.split(" ")[0],
        "continuation": next(text for side, text in mine if side == "S" and text.startswith("+")),
        "pushes": len(pushes),
        "first-push": pushes[0] if pushes else "",
        "qresync-commands": counts["q"],
        "no-qresync-commands": counts["n"],
    }
    return art, answers, problems


def submission(scratch, name, source, art, answers, edits=()):
    d = os.path.join(scratch, name)
    shutil.copytree(source, d)
    for old, new in edits:
        path = os.path.join(d, "idle-watch.c")
        text = open(path).read()
        if old not in text:
            return None
        open(path, "w").write(text.replace(old, new, 1))
    for f in os.listdir(art):
        shutil.copy(os.path.join(art, f), d)
    with open(os.path.join(d, "answers.txt"), "w") as f:
        for key, value in answers.items():
            f.write(f"{key}: {value}\n")
    return d


def grade(directory, scratch):
    results = os.path.join(scratch, os.path.basename(directory) + ".json")
    proc = subprocess.run([sys.executable, os.path.join(LAB, "grade.py"), directory,
                           "--results", results], capture_output=True, text=True, timeout=300)
    verdicts = {n: k for k, n in re.findall(r"^(PASS|FAIL) ([\w-]+)", proc.stdout, re.M)}
    data = __import__("json").load(open(results)) if os.path.exists(results) else None
    return proc, verdicts, data


def expect(name, directory, scratch, fails):
    proc, verdicts, data = grade(directory, scratch)
    errors = test_labs.schema_errors(data)
    ok(not errors, f"/labs/04-imap-two-devices/{name}/results-json-is-gradescope-format",
       "; ".join(errors))
    failed = {n for n, v in verdicts.items() if v == "FAIL"}
    label = "full-marks" if not fails else f"fails-exactly-{'+'.join(sorted(fails))}"
    ok(set(verdicts) == BEHAVIOUR | QUESTIONS and failed == fails and
       (proc.returncode == 0) == (not fails),
       f"/labs/04-imap-two-devices/{name}/{label}", f"failed {sorted(failed)}:\n{proc.stdout}")
    return verdicts


def main():
    if not labkit.can_capture():
        print("1..1\nok 1 /labs/04-imap-two-devices # SKIP live capture on lo needs root")
        return 0
    scratch = tempfile.mkdtemp(prefix="test-lab04-")
    try:
        for attempt in range(3):  # an incomplete capture (a loaded host) is made again
            art, answers, problems = lab_artefacts(os.path.join(scratch, f"try{attempt}"))
            if not problems:
                break
        ok(not problems, "/labs/04-imap-two-devices/reference/capture-complete",
           "three captures in a row incomplete: " + "; ".join(problems))
        ok(answers["pushes"] >= 1 and answers["first-push"].endswith("EXISTS"),
           "/labs/04-imap-two-devices/reference/idle-watch-saw-the-push", repr(answers))
        ok(answers["qresync-commands"] < answers["no-qresync-commands"],
           "/labs/04-imap-two-devices/reference/qresync-saves-commands", repr(answers))
        ref = submission(scratch, "reference", os.path.join(LAB, "solution"), art, answers)
        solution = expect("reference", ref, scratch, set())
        py = submission(scratch, "python-run", os.path.join(TESTS, "python-idle-watch"), art,
                        answers)
        python = expect("python-run", py, scratch, set())
        ok(python == solution, "/labs/04-imap-two-devices/python-run/same-verdicts",
           f"{python} vs {solution}")
        for name, edits, fails in MUTANTS:
            d = submission(scratch, name, os.path.join(LAB, "solution"), art, answers, edits)
            ok(d is not None, f"/labs/04-imap-two-devices/mutant/{name}/applies",
               "the solution changed: update the mutant's text")
            if d:
                expect(f"mutant/{name}", d, scratch, fails)
        wrong = dict(answers, pushes=answers["pushes"] + 3, **{"idle-tag": "x9"})
        d = submission(scratch, "wrong-answers", os.path.join(LAB, "solution"), art, wrong)
        expect("wrong-answers", d, scratch, {"q-pushes", "q-idle-tag"})
        proc, verdicts, data = grade(os.path.join(LAB, "starter"), scratch)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
        ok(proc.returncode != 0 and lines and all(": expected " in line for line in lines) and
           {"login-and-select", "exists-pushed", "flags-pushed", "ends-cleanly"} <=
           {n for n, v in verdicts.items() if v == "FAIL"},
           "/labs/04-imap-two-devices/starter/fails-saying-what-is-missing", proc.stdout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{len(tap)}")
    for n, (good, name, why) in enumerate(tap, 1):
        print(f"{'ok' if good else 'not ok'} {n} {name}")
        if not good:
            for line in why.splitlines()[-20:]:
                print(f"# {line}")
    return 0 if all(t[0] for t in tap) else 1


if __name__ == "__main__":
    sys.exit(main())
