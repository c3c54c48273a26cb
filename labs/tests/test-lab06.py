#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-lab06.py: lab 6's grader grades what it should (suite labs, TAP).

The reference submission is solution/ plus what a student hands in from
the lab, made here as `./run lab 6` makes it (orgs.py): three mw-smtpd
organisations, each in a network namespace of its own (names and subnet
of this test's own, so a student's lab may run beside it), mw-trace on
north's link; alice sends bob@south.test a first message, south is cut
off, a second message ("queued") waits in north's queue through its
retries, south comes back and gets it, south is cut off again and a third
message ("bounced") waits until the queue gives up and bounces it to
alice. The answers are computed from what this side saw (`mw-admin queue
list`, polled; south's own log; the bounce's Status line), not from the
files the grader reads (north's log, the bounce's Message-ID, mw-trace).

Full marks for the reference and for a Python `run` (same verdicts);
four plausible wrong readers (mutants of solution/: only the first
recipient, no unfolding of the notification's fields, field names matched
in one case only, fields read from every part) each fail exactly the
check naming the mistake; wrong answers fail their questions; the starter
fails every check but the build ones, saying what is missing.

The same session without namespaces (orgs.py's loopback fallback, what a
student who is not root gets) is graded too: no capture, so the two trace
questions fail saying so, and the queue's reason is 'Connection refused'.
Without root the namespace session skips, saying why; the fallback runs.
"""
import concurrent.futures
import glob
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
LABS = os.path.dirname(TESTS)
LAB = "06-relay-queue-bounce"
sys.dont_write_bytecode = True  # no __pycache__ in the lab's folder (labs export copies it)
sys.path.insert(0, os.path.join(LABS, "lib"))
sys.path.insert(0, os.path.join(LABS, LAB))
import labkit  # noqa: E402
import orgs as lab_orgs  # noqa: E402

spec = importlib.util.spec_from_file_location("test_labs", os.path.join(TESTS, "test-labs.py"))
test_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_labs)

TRACE_QUESTIONS = {"q-south-queue-id", "q-relay-client-port"}
QUESTIONS = {"q-queue-id", "q-attempts", "q-retry-waits", "q-last-error",
             "q-dsn-status"} | TRACE_QUESTIONS
MUTANTS = [
    ("first-recipient-only",
     [("    if (print_group (r, boundary) > 0)\n      recipients++;",
       "    if (print_group (r, boundary) > 0)\n      {\n        recipients++;\n"
       "        break; /* the bug: one recipient is enough */\n      }")],
     {"two-recipients"}),
    ("no-unfolding-in-parts",
     [("      if (next[0] != ' ' && next[0] != '\\t')",
       "      if (boundary != NULL || /* the bug: the top header only */\n"
       "          (next[0] != ' ' && next[0] != '\\t'))")],
     {"folded-fields"}),
    ("field-names-one-case",
     [("  if (strncasecmp (field, name, length) != 0 || field[length] != ':')",
       "  if (strncmp (field, name, length) != 0 || field[length] != ':') /* the bug */")],
     {"field-names-any-case"}),
    ("fields-from-every-part",
     [("      if (status)\n        recipients += print_recipients (&r, boundary);",
       "      (void) status; /* the bug: every part's fields */\n"
       "      recipients += print_recipients (&r, boundary);")],
     {"delivery-status-part-only"}),
]

tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


def wait_for(what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise RuntimeError(f"not within {timeout} s: {what.__doc__}")


class Student:
    """The README's steps, done on ORGS; what this side saw."""

    def __init__(self, orgs):
        self.orgs = orgs
        self.north = orgs.state("north")
        self.seen = []  # (monotonic time, queue id, attempts, reason) while bounced waits

    def send(self, subject):
        subprocess.run([labkit.program("mw-send"), "--server", f"{self.orgs.address(0)}:2587",
                        "--starttls", "--cafile", os.path.join(self.north, "cert.pem"),
                        "--user", "alice", "--password-file",
                        os.path.join(self.north, "password.txt"), "--from", "alice@north.test",
                        "--to", "bob@south.test", "--subject", subject, "--body",
                        f"Lab 6, {subject}."], check=True, capture_output=True, timeout=60)

    def queue(self):
        """[(id, attempts, reason)] of `mw-admin queue list` on north."""
        out = subprocess.run([labkit.program("mw-admin"), "--config", self.orgs.config("north"),
                              "queue", "list"], capture_output=True, text=True, check=True,
                             timeout=20).stdout
        return re.findall(r"^(\S+) +\d+ .*\n +attempts: (\d+),.*\n +\((.*)\)$", out, re.M)

    def south_accepted(self):
        """[(north's client port, south's id)] of the messages south took."""
        log = os.path.join(self.orgs.state("south"), "mw-smtpd.log")
        return re.findall(r":(\d+) S: 250 2\.0\.0 message (\S+) accepted", open(log).read())

    def session(self):
        self.send("lab 6: first")
        wait_for(lambda: len(self.south_accepted()) >= 1, 30)
        self.orgs.cut("south")
        self.send("lab 6: queued")
        wait_for(lambda: [q for q in self.queue() if int(q[1]) >= 2], 60)  # two retries seen
        self.orgs.restore("south")
        wait_for(lambda: len(self.south_accepted()) >= 2, 60)
        self.orgs.cut("south")
        self.send("lab 6: bounced")
        inbox = os.path.join(self.north, "mail", "alice", "Maildir", "new", "*")
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not glob.glob(inbox):
            for qid, attempts, reason in self.queue():
                if not self.seen or self.seen[-1][2] != int(attempts):
                    self.seen.append((time.monotonic(), qid, int(attempts), reason))
            time.sleep(0.25)
        bounce = wait_for(lambda: glob.glob(inbox), 5)[0]
        return self.answers(bounce)

    def answers(self, bounce):
        tried = [s for s in self.seen if s[2] > 0]  # each change of 'attempts'
        port, south_id = self.south_accepted()[1]
        status = re.search(r"^Status: (\S+)", open(bounce).read(), re.M).group(1)
        return {
            "queue-id": self.seen[0][1],
            # the queue lists the entry until its last attempt, which bounced it
            "attempts": tried[-1][2] + 1,
            "retry-waits": " ".join(f"{b[0] - a[0]:.0f}" for a, b in zip(tried[:3], tried[1:4]))
            if len(tried) >= 4 else "?",
            "last-error": tried[-1][3].rsplit(": ", 1)[-1],
            "dsn-status": status,
            "south-queue-id": south_id,
            "relay-client-port": port,
        }


def lab_session(work, netns):
    """WORK as a student leaves it (bounce.eml, north.log, capture.pcap
    with netns), the answers, and what makes the capture incomplete."""
    orgs = lab_orgs.Orgs(work, netns=netns, prefix=f"t6{os.getpid() % 10000}",
                         subnet=f"10.66.{random.randrange(100, 200)}")
    problems = []
    orgs.start()
    try:
        cap = None
        if netns:
            cap = labkit.Capture(os.path.join(work, "capture.pcap"), [lab_orgs.PORT],
                                 interface=orgs.link("north")).start()
        try:
            answers = Student(orgs).session()
            if cap and not cap.wait_closed(5):  # three submissions, two relays
                problems.append(f"{cap.closed()} of 5 connections closed in the capture")
        finally:
            if cap:
                cap.stop()
                problems += cap.problems()
    finally:
        orgs.stop()
    orgs.keep()
    shutil.rmtree(os.path.join(work, ".lab-state"), ignore_errors=True)  # handed in: the files
    for extra in (".log", ".json"):
        if os.path.exists(os.path.join(work, "capture.pcap" + extra)):
            os.unlink(os.path.join(work, "capture.pcap" + extra))
    return answers, problems


def submission(scratch, name, source, work, answers, edits=()):
    d = os.path.join(scratch, name)
    shutil.copytree(source, d)
    for old, new in edits:
        path = os.path.join(d, "dsn-read.c")
        text = open(path).read()
        if old not in text:
            return None
        open(path, "w").write(text.replace(old, new, 1))
    if work:
        for f in ("bounce.eml", "north.log", "capture.pcap"):
            if os.path.exists(os.path.join(work, f)):
                shutil.copy(os.path.join(work, f), d)
        with open(os.path.join(d, "answers.txt"), "w") as f:
            f.write("# lab 6 answers (made by test-lab06.py)\n")
            for key, value in answers.items():
                f.write(f"{key}: {value}\n")
    return d


def can_netns():
    """None if this host lets us make a network namespace (tried: root is
    not enough in a container without CAP_SYS_ADMIN), else why not."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return "network namespaces need root and ip (iproute2)"
    name = f"t6probe{os.getpid() % 10000}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True,
                          timeout=10)
    if made.returncode != 0:
        return "ip netns add: " + made.stderr.strip()
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)
    return None


def sessions(scratch):
    """The namespace session (if possible) and the fallback, side by side."""
    results, errors = {}, []

    def run(kind, netns):
        try:
            work = os.path.join(scratch, f"work-{kind}")
            os.makedirs(work)
            results[kind] = (work,) + lab_session(work, netns)
        except Exception as error:  # reported as a failed TAP line, not lost
            errors.append(f"{kind}: {error!r}")
    why_not = can_netns()
    threads = [threading.Thread(target=run, args=("fallback", False))]
    if why_not is None:
        threads.append(threading.Thread(target=run, args=("netns", True)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=400)
    return results, errors, why_not


def main():
    scratch = tempfile.mkdtemp(prefix="test-lab06-")
    try:
        results, errors, why_not = sessions(scratch)
        ok(not errors, f"/labs/{LAB}/lab-sessions-ran", "; ".join(errors))
        solution = os.path.join(LABS, LAB, "solution")
        jobs = [("starter", os.path.join(LABS, LAB, "starter"), None)]
        if "netns" in results:
            work, answers, problems = results["netns"]
            ok(not problems, f"/labs/{LAB}/netns/capture-complete", "; ".join(problems))
            jobs += [("solution", submission(scratch, "solution", solution, work, answers), set()),
                     ("python-run", submission(scratch, "python-run",
                                               os.path.join(TESTS, "python-dsn-read"), work,
                                               answers), set())]
            for name, edits, fails in MUTANTS:
                d = submission(scratch, name, solution, work, answers, edits)
                ok(d is not None, f"/labs/{LAB}/mutant/{name}/applies",
                   "the solution changed: update the mutant's text")
                if d:
                    jobs.append((name, d, fails))
            waits = [int(w) for w in answers["retry-waits"].split()] if \
                answers["retry-waits"] != "?" else []
            wrong = dict(answers, **{"attempts": int(answers["attempts"]) + 1,
                                     "retry-waits": " ".join(str(w + 4) for w in waits) or "5",
                                     "south-queue-id": answers["queue-id"]})
            jobs.append(("wrong-answers", submission(scratch, "wrong-answers", solution, work,
                                                     wrong),
                         {"q-attempts", "q-retry-waits", "q-south-queue-id"}))
        if "fallback" in results:
            work, answers, _ = results["fallback"]
            jobs.append(("fallback", submission(scratch, "fallback", solution, work, answers),
                         TRACE_QUESTIONS))
            ok(answers["last-error"].lower() == "connection refused",
               f"/labs/{LAB}/fallback/queue-says-connection-refused", repr(answers))
        for kind, _, _ in jobs:
            os.makedirs(os.path.join(scratch, f"g-{kind}"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {kind: (pool.submit(test_labs.grade, LAB, d,
                                          os.path.join(scratch, f"g-{kind}")), fails)
                       for kind, d, fails in jobs}
            done = {kind: (f.result(), fails) for kind, (f, fails) in futures.items()}
        reference = done["solution"][0][1] if "solution" in done else None
        for kind, ((proc, verdicts, data), fails) in done.items():
            prefix = f"/labs/{LAB}/{kind}"
            errors = test_labs.schema_errors(data)
            ok(not errors, f"{prefix}/results-json-is-gradescope-format", "; ".join(errors))
            failed = {n for n, v in verdicts.items() if v == "FAIL"}
            if kind == "starter":
                lines = [l for l in proc.stdout.splitlines() if l.startswith("FAIL")]
                ok(proc.returncode != 0 and set(verdicts) - failed == {"builds", "no-warnings"}
                   and all(": expected " in l for l in lines),
                   f"{prefix}/fails-saying-what-is-missing", proc.stdout[-800:])
                continue
            label = "full-marks" if not fails else f"fails-exactly-{'+'.join(sorted(fails))}"
            ok(failed == fails and (proc.returncode == 0) == (not fails) and
               len(verdicts) >= 16 and (reference is None or set(verdicts) == set(reference)),
               f"{prefix}/{label}", f"failed {sorted(failed)}: {proc.stdout[-1200:]}")
        if "fallback" in done:
            said = [l for l in done["fallback"][0][0].stdout.splitlines()
                    if l.startswith("FAIL q-")]
            ok(said and all("no capture" in l for l in said),
               f"/labs/{LAB}/fallback/trace-questions-say-no-capture", "\n".join(said))
        if "python-run" in done:
            ok(done["python-run"][0][1] == reference, f"/labs/{LAB}/python-run/same-verdicts-as-c",
               f"{done['python-run'][0][1]} vs {reference}")
        if why_not:
            ok(True, f"/labs/{LAB}/netns-session # SKIP {why_not}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{len(tap)}")
    for n, (good, name, why) in enumerate(tap, 1):
        print(f"{'ok' if good else 'not ok'} {n} {name}")
        if not good:
            for line in why.splitlines()[-16:]:
                print(f"# {line}")
    return 0 if all(t[0] for t in tap) else 1


if __name__ == "__main__":
    sys.exit(main())
