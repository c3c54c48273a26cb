#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-lab07.py: lab 7's grader grades what it should (suite labs, TAP).

The reference submission is solution/ plus what a student hands in from
the lab, made here as `./run lab 07` makes it: mw-smtpd and the lab's
vulnerable-server.py, mw-trace capturing both ports, the solution's probe
run against each. Its answers are computed from what this side saw (the
probe's verdict lines, the vulnerable server's own "accepted:" lines, the
look-alikes, each a "." between line ends that are not CRLF . CRLF), not
from mw-trace, which is what the grader reads.

Full marks for the reference and for a Python `run` probe (same verdicts);
four plausible wrong probes (mutants of solution/: only "\\n.\\n" tried, any
250 to the text taken for smuggling, MAIL's 250 taken for an open relay, a
message sent through the relay it found) each fail exactly the check naming
the mistake; wrong answers fail their questions; the starter fails every
check but the build ones, saying what is missing. A capture cut short
(its last packets gone) and one that lost a whole connection (as a kernel
that dropped a burst leaves it, with no trace in the file: the CI failure
that scored the reference 13/14) fail every question, saying the capture
is incomplete. Without root (no live capture) the questions are expected
to fail for want of a capture.
"""
import concurrent.futures
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.abspath(__file__))
LABS = os.path.dirname(TESTS)
LAB = "07-relay-and-smuggling"
sys.path.insert(0, os.path.join(LABS, "lib"))
import labkit  # noqa: E402

spec = importlib.util.spec_from_file_location("test_labs", os.path.join(TESTS, "test-labs.py"))
test_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_labs)

QUESTIONS = {"q-relay-reply", "q-end-of-text-reply", "q-smuggling-lints",
             "q-accepted-replies", "q-traced-messages"}
MUTANTS = [
    ("only-lf-dot-lf",
     [("  for (size_t i = 0; i < LOOK_ALIKES; i++)",
       "  for (size_t i = 0; i < 1; i++) /* the bug: only \"\\n.\\n\" */")],
     {"one-look-alike-at-a-time"}),
    ("any-250-is-smuggling",
     [("  vulnerable = next != 0 && next != 221;",
       "  vulnerable = first == 250; /* the bug: a 250 to the text */")],
     {"tolerant-server"}),
    ("mail-250-is-open-relay",
     [("  open = code == 250 || code == 251;",
       "  open = 1; /* the bug: MAIL's 250 taken for the verdict */")],
     {"mw-smtpd-relay"}),
    ("relays-a-message",
     [('  command (&c, "RSET"); /* never send a message through it */',
       '  if (open && command (&c, "DATA") == 354) /* the bug */\n'
       '    command (&c, "Subject: relay test\\r\\n\\r\\nspam\\r\\n.");')],
     {"relay-probe-sends-nothing"}),
]

tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


def build_probe(scratch):
    d = os.path.join(scratch, "probe-build")
    shutil.copytree(os.path.join(LABS, LAB, "solution"), d)
    subprocess.run(["make", "-C", d], check=True, capture_output=True, timeout=120)
    return os.path.join(d, "smtp-probe")


def lab_session(scratch, probe):
    """capture.pcap and the answers, as a student makes them in the lab,
    and what makes the capture incomplete ([] if nothing). An incomplete
    capture (a loaded host: the kernel dropped packets mw-trace was too
    slow to take) is made again, 3 times at most; the grader fails the
    questions for one, saying so, and so would this test."""
    for attempt in range(3):
        capture, answers, problems = one_lab_session(
            os.path.join(scratch, f"lab-session-{attempt}"), probe)
        if not problems:
            break
    return capture, answers, problems


CONNECTIONS = 2 * (1 + len(labkit.SMUGGLING_ENDS))  # two probe runs: a relay test, 5 smuggling


def one_lab_session(d, probe):
    mw = labkit.Mailwire(os.path.join(d, "state")).start()
    vulnerable = subprocess.Popen([sys.executable, os.path.join(LABS, LAB, "vulnerable-server.py"),
                                   "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)$", vulnerable.stdout.readline().strip()).group(1))
        with labkit.Capture(os.path.join(d, "capture.pcap"), [mw.ports["smtp"], port]) as cap:
            outs = [subprocess.run([probe, "127.0.0.1", str(p), "bob@lab.test"],
                                   capture_output=True, text=True, timeout=120).stdout
                    for p in (mw.ports["smtp"], port)]
            # every connection's end in the file before the capture stops
            closed = cap.wait_closed(CONNECTIONS)
    finally:
        vulnerable.terminate()
        server_out = vulnerable.communicate(timeout=10)[0]
        mw.stop()
    problems = cap.problems()
    if not closed:
        problems.append(f"{cap.closed()} of {CONNECTIONS} connections closed in the capture")
    mailwire, vuln = outs
    # a "." between two line ends (bare CR, bare LF, CRLF), not CRLF . CRLF:
    # mw-trace flags each (SMTP smuggling)
    look_alikes = [n for n, e in labkit.SMUGGLING_ENDS.items()
                   if e.strip(b"\r\n") == b"." and e != b"\r\n.\r\n"]
    answers = {
        "relay-reply": re.search(r"^relay: \w+ .*answered (\d+)", mailwire, re.M).group(1),
        "end-of-text-reply": re.search(r"^smuggling lf-dot-lf: \w+ \((\d+)", mailwire,
                                       re.M).group(1),
        "smuggling-lints": len(look_alikes),
        "accepted-replies": sum(l.startswith("accepted:") for l in server_out.splitlines()),
        "traced-messages": len(re.findall(r"^smuggling [\w-]+: vulnerable", vuln, re.M)),
    }
    return os.path.join(d, "capture.pcap"), answers, problems


def submission(scratch, name, source, capture, answers, edits=()):
    d = os.path.join(scratch, name)
    shutil.copytree(source, d)
    for old, new in edits:
        path = os.path.join(d, "smtp-probe.c")
        text = open(path).read()
        if old not in text:
            return None
        open(path, "w").write(text.replace(old, new, 1))
    if capture:
        shutil.copy(capture, d)
        with open(os.path.join(d, "answers.txt"), "w") as f:
            f.write("# lab 7 answers (made by test-lab07.py)\n")
            for key, value in answers.items():
                f.write(f"{key}: {value}\n")
    return d


def cut_capture(capture, directory, drop_last=3):
    """DIRECTORY/capture.pcap: CAPTURE without its last DROP_LAST packets
    (the last connection's end lost, as when a capture stops too soon)."""
    data = open(capture, "rb").read()
    offsets, at = [], 24  # the pcap file header, then (16-octet header, packet)s
    while at + 16 <= len(data):
        offsets.append(at)
        at += 16 + struct.unpack_from("<I", data, at + 8)[0]
    with open(os.path.join(directory, "capture.pcap"), "wb") as f:
        f.write(data[:offsets[-drop_last]])


def drop_connection(capture, directory):
    """DIRECTORY/capture.pcap: CAPTURE without every packet of the third
    connection (a smuggling attempt against mw-smtpd, whose port comes
    first): what a kernel that dropped a burst leaves, with no trace of
    it in the file. The capture is of lo: a 14-octet link header, IPv4."""
    opens = [e for e in labkit.trace_json(capture, body=False) if e["kind"] == "open"]
    port = opens[2]["tcp.srcport"]
    data = open(capture, "rb").read()
    kept, at = [data[:24]], 24
    while at + 16 <= len(data):
        length = struct.unpack_from("<I", data, at + 8)[0]
        packet = data[at + 16:at + 16 + length]
        ip = 14
        tcp = ip + (packet[ip] & 0x0F) * 4
        ports = struct.unpack_from("!HH", packet, tcp) if len(packet) >= tcp + 4 else ()
        if port not in ports:
            kept.append(data[at:at + 16 + length])
        at += 16 + length
    with open(os.path.join(directory, "capture.pcap"), "wb") as f:
        f.write(b"".join(kept))


def main():
    scratch = tempfile.mkdtemp(prefix="test-lab07-")
    try:
        capture, answers = None, {}
        missing = set(QUESTIONS)
        if labkit.can_capture():
            capture, answers, problems = lab_session(scratch, build_probe(scratch))
            ok(not problems, f"/labs/{LAB}/lab-session/capture-complete",
               "three captures in a row incomplete: " + "; ".join(problems))
            missing = set()
        solution = os.path.join(LABS, LAB, "solution")
        jobs = [("solution", submission(scratch, "solution", solution, capture, answers), missing),
                ("python-run", submission(scratch, "python-run",
                                          os.path.join(TESTS, "python-smtp-probe"),
                                          capture, answers), missing),
                ("starter", os.path.join(LABS, LAB, "starter"), None)]
        for name, edits, fails in MUTANTS:
            d = submission(scratch, name, solution, capture, answers, edits)
            ok(d is not None, f"/labs/{LAB}/mutant/{name}/applies",
               "the solution changed: update the mutant's text")
            if d:
                jobs.append((name, d, fails | missing))
        if capture:
            wrong = dict(answers, **{"relay-reply": "250", "accepted-replies": "5",
                                     "traced-messages": answers["accepted-replies"]})
            jobs.append(("wrong-answers", submission(scratch, "wrong-answers", solution,
                                                     capture, wrong),
                         {"q-relay-reply", "q-accepted-replies", "q-traced-messages"}))
            cut = submission(scratch, "cut-capture", solution, capture, answers)
            cut_capture(capture, cut)
            jobs.append(("cut-capture", cut, set(QUESTIONS)))
            lost = submission(scratch, "lost-connection", solution, capture, answers)
            drop_connection(capture, lost)
            jobs.append(("lost-connection", lost, set(QUESTIONS)))
        for kind, _, _ in jobs:
            os.makedirs(os.path.join(scratch, f"g-{kind}"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {kind: (pool.submit(test_labs.grade, LAB, d,
                                          os.path.join(scratch, f"g-{kind}")), fails)
                       for kind, d, fails in jobs}
            done = {kind: (f.result(), fails) for kind, (f, fails) in futures.items()}
        reference = done["solution"][0][1]
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
               set(verdicts) == set(reference) and len(verdicts) >= 14,
               f"{prefix}/{label}", f"failed {sorted(failed)}: {proc.stdout[-900:]}")
        if capture:
            said = [l for l in done["cut-capture"][0][0].stdout.splitlines()
                    if l.startswith("FAIL q-")]
            ok(said and all("an incomplete one" in l and "still open when the capture ended" in l
                            for l in said), f"/labs/{LAB}/cut-capture/says-incomplete",
               "\n".join(said))
        if capture:
            said = [l for l in done["lost-connection"][0][0].stdout.splitlines()
                    if l.startswith("FAIL q-")]
            ok(said and all("1 relay test(s) and 4 smuggling attempt(s)" in l for l in said),
               f"/labs/{LAB}/lost-connection/says-incomplete", "\n".join(said))
        ok(done["python-run"][0][1] == reference, f"/labs/{LAB}/python-run/same-verdicts-as-c",
           f"{done['python-run'][0][1]} vs {reference}")
        if not capture:
            ok(True, f"/labs/{LAB}/trace-questions # SKIP live capture on lo needs root")
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
