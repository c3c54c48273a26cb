#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 7 grader: runs the student's smtp-probe against mw-smtpd and
against the lab's vulnerable-server.py in several configurations (all
mistakes on; one end-of-data look-alike at a time; none, but bare LFs
accepted as text), and checks its verdict lines (README.md, "Verdict
lines"); then grades the trace questions in answers.txt with keys computed
from the student's capture.pcap (mw-trace --json), never a fixed list.

  grade.py [DIR] [--results results.json]
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import (SMUGGLING_ENDS, Fail, build_checks, Grader, Mailwire, Submission,  # noqa: E402
                    main_args, read_answers, smuggling_text, trace_json,
                    whole_capture)

LAB = os.path.dirname(os.path.abspath(__file__))
RECIPIENT = "bob@lab.test"
VERDICT = re.compile(r"^(relay|smuggling(?: ([a-z-]+))?): (vulnerable|safe)\b", re.M)
FORMAT = "README.md, Verdict lines"


class Vulnerable:
    """vulnerable-server.py with ARGS on a port of its own choosing."""

    def __init__(self, args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(LAB, "vulnerable-server.py"), "--port", "0"] + args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines, self.port = [], None
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                m = re.match(r"vulnerable-server: listening on [\d.]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
                self.lines.append(line.rstrip("\n"))
            ready.set()
        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        # a readiness wait, bounded: a loaded host once took over 15 s to start it
        if not ready.wait(60) or self.port is None:
            self.stop()
            raise RuntimeError("vulnerable-server.py did not start: " +
                               (" | ".join(self.lines[-3:]) or "no output"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        # the lines the server wrote before it ended may still be in the
        # pipe: the reader takes them up to EOF (an "accepted:" line printed
        # just before the probe's last reply was once missed)
        self.reader.join(timeout=5)


class Lab7:
    def __init__(self, sub, scratch):
        self.sub, self.scratch, self.cache = sub, scratch, {}

    def probe(self, port):
        result = self.sub.run(["127.0.0.1", str(port), RECIPIENT], timeout=90)
        report = result.sanitizer_report()
        if report:
            raise Fail("a run clean under AddressSanitizer", report)
        if result.timed_out or result.returncode != 0:
            raise Fail("exit status 0 once every test ran", result.describe())
        verdicts = {}
        for m in VERDICT.finditer(result.stdout):
            verdicts[m.group(1)] = m.group(3)
        return verdicts, result

    def against(self, key, args):
        """(verdicts, result, server lines) of one run against the lab's
        server started with ARGS; cached by KEY."""
        if key not in self.cache:
            server = Vulnerable(args)
            try:
                verdicts, result = self.probe(server.port)
            finally:
                server.stop()
            self.cache[key] = (verdicts, result, list(server.lines))
        return self.cache[key]

    def against_mailwire(self):
        if "mw-smtpd" not in self.cache:
            with Mailwire(os.path.join(self.scratch, "mw")) as mw:
                self.cache["mw-smtpd"] = self.probe(mw.ports["smtp"]) + ([],)
        return self.cache["mw-smtpd"]


def verdict(verdicts, result, name, want, server, rfc):
    got = verdicts.get(name)
    if got is None:
        shown = " | ".join(result.stdout.strip().splitlines()[-4:]) or "nothing"
        raise Fail(f"a line '{name}: vulnerable|safe' ({FORMAT})", shown, rfc)
    if got != want:
        raise Fail(f"'{name}: {want}' against {server}", f"'{name}: {got}'", rfc)


def early(taken, sent):
    """True if a server that takes the look-alike TAKEN for the end ends
    the text of the probe for SENT before the real CRLF . CRLF."""
    text = smuggling_text(SMUGGLING_ENDS[sent], "smuggler@lab.test", RECIPIENT)
    return SMUGGLING_ENDS[taken] in text[:-len(b".\r\n")]


SMUGGLING_RFC = "RFC 5321 §4.1.1.4: only CRLF . CRLF ends the text"
RELAY_RFC = "RFC 5321 §7.1: RCPT to a foreign domain without AUTH"


def checks(grader, lab):
    sub = lab.sub
    everything = ("all", [])

    need_build = build_checks(grader, sub, "smtp-probe")

    @grader.check("vulnerable-server-relay")
    def vulnerable_relay():
        need_build()
        verdicts, result, _ = lab.against(*everything)
        verdict(verdicts, result, "relay", "vulnerable", "the lab's open relay", RELAY_RFC)

    @grader.check("relay-probe-sends-nothing")
    def sends_nothing():
        need_build()
        verdicts, result, lines = lab.against(*everything)
        if "relay" not in verdicts:
            raise Fail(f"a relay test (a 'relay:' line, {FORMAT}) that sends no message",
                       "no 'relay:' line", "RFC 5321 §7.1")
        relayed = [l for l in lines if l.startswith("accepted:") and
                   re.search(r"to .*<[^>]*@(?!lab\.test>)[^>]*>", l)]
        if relayed:
            raise Fail("no message sent through the open relay (RSET after the RCPT reply)",
                       relayed[0], "RFC 5321 §7.1: test a relay, do not use it")

    @grader.check("vulnerable-server-smuggling")
    def vulnerable_smuggling():
        need_build()
        verdicts, result, _ = lab.against(*everything)
        verdict(verdicts, result, "smuggling", "vulnerable",
                "the lab's server, which takes every look-alike", SMUGGLING_RFC)

    @grader.check("mw-smtpd-relay")
    def mailwire_relay():
        need_build()
        verdicts, result, _ = lab.against_mailwire()
        verdict(verdicts, result, "relay", "safe",
                "mw-smtpd (MAIL 250, then 550 to the foreign RCPT)", RELAY_RFC)

    @grader.check("mw-smtpd-smuggling")
    def mailwire_smuggling():
        need_build()
        verdicts, result, _ = lab.against_mailwire()
        verdict(verdicts, result, "smuggling", "safe", "mw-smtpd", SMUGGLING_RFC)
        for name in SMUGGLING_ENDS:
            if verdicts.get(f"smuggling {name}") == "vulnerable":
                raise Fail("no look-alike found against mw-smtpd",
                           f"'smuggling {name}: vulnerable'", SMUGGLING_RFC)

    @grader.check("one-look-alike-at-a-time")
    def one_at_a_time():
        need_build()
        for name, end in SMUGGLING_ENDS.items():
            verdicts, result, _ = lab.against(
                name, ["--ends", name, "--bare", "refuse", "--relay", "closed"])
            server = f"a server that ends the text at {end!r} too (and refuses other bare LFs)"
            verdict(verdicts, result, "smuggling", "vulnerable", server, SMUGGLING_RFC)
            for other in SMUGGLING_ENDS:
                # "\r\n.\n" holds "\n.\n": that server falls for both
                want = "vulnerable" if early(name, other) else "safe"
                verdict(verdicts, result, f"smuggling {other}", want, server, SMUGGLING_RFC)

    @grader.check("tolerant-server")
    def tolerant():
        need_build()
        verdicts, result, _ = lab.against(
            "tolerant", ["--ends", "none", "--bare", "accept", "--relay", "closed"])
        server = "a server that keeps bare LFs as text and answers 250 (not vulnerable)"
        verdict(verdicts, result, "smuggling", "safe", server,
                SMUGGLING_RFC + "; a 250 to the text alone proves nothing")
        for name in SMUGGLING_ENDS:
            if verdicts.get(f"smuggling {name}") == "vulnerable":
                raise Fail(f"'smuggling {name}: safe' against {server}",
                           f"'smuggling {name}: vulnerable'", SMUGGLING_RFC)

    trace_questions(grader, lab)


# ---- trace questions: keys from the student's own capture ------------------

class Capture:
    """The SMTP connections of capture.pcap, split by server: the lab's
    vulnerable server (known by its greeting) and the rest (mw-smtpd)."""

    def __init__(self, events):
        streams = {}
        for e in events:
            if e.get("proto") == "smtp":
                streams.setdefault(e["tcp.stream"], []).append(e)
        self.vulnerable, self.mailwire = [], []
        for _, events in sorted(streams.items()):
            greeting = next((e.get("line", "") for e in events if e["kind"] == "reply"), "")
            (self.vulnerable if "vulnerable server" in greeting else self.mailwire).append(events)


def incomplete_runs(capture):
    """Fail if the probe runs in CAPTURE are not whole: each run makes one
    relay test and one smuggling attempt per look-alike (README.md, What
    the probe does), each a connection of its own. A capture that lost
    packets while mw-trace was not reading (a loaded host) can lose whole
    connections, which nothing else in the file shows."""
    for side, streams in (("mw-smtpd", capture.mailwire),
                          ("the vulnerable server", capture.vulnerable)):
        relays = sum(1 for events in streams if any(
            e["kind"] == "command" and e.get("smtp.req.command", "").upper() == "RCPT" and
            not re.search(r"@lab\.test>", e.get("smtp.req.parameter", ""), re.I)
            for e in events))
        attempts = sum(1 for events in streams if any(
            e["kind"] == "command" and e.get("smtp.req.command", "").upper() == "DATA"
            for e in events))
        if attempts != relays * len(SMUGGLING_ENDS):
            raise Fail(f"whole probe runs against {side} in the capture (each: 1 relay test "
                       f"and {len(SMUGGLING_ENDS)} smuggling attempts, a connection each)",
                       f"{relays} relay test(s) and {attempts} smuggling attempt(s): packets "
                       "were lost or a run was cut short: capture again (./run lab 07)")


def find_capture(directory):
    for name in ("capture.pcap", "capture.pcapng"):
        if os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    found = sorted(glob.glob(os.path.join(directory, "*.pcap*")))
    return found[0] if found else None


def keys(capture):
    """{question: set of accepted answers (strings)} from CAPTURE."""
    k = {}
    relay, ends = set(), set()
    for events in capture.mailwire:
        foreign = False
        for e in events:
            if e["kind"] == "command" and e.get("smtp.req.command", "").upper() == "RCPT":
                foreign = not re.search(r"@lab\.test>", e.get("smtp.req.parameter", ""), re.I)
            if e["kind"] == "reply" and e.get("mw.last") and e.get("mw.answers") == "RCPT" \
                    and foreign:
                relay.add(str(e["smtp.response.code"]))
        if any(e["kind"] == "lint" for e in events):
            ends |= {str(e["smtp.response.code"]) for e in events
                     if e["kind"] == "reply" and e.get("mw.last") and e.get("mw.answers") == "."}
    k["relay-reply"] = relay
    k["end-of-text-reply"] = ends
    lints = sum(1 for events in capture.mailwire
                if any(e["kind"] == "lint" and "SMTP smuggling" in e.get("lint.message", "")
                       for e in events))
    k["smuggling-lints"] = {str(lints)} if capture.mailwire else set()
    accepted = sum(1 for events in capture.vulnerable for e in events
                   if e["kind"] == "reply" and "message accepted" in e.get("smtp.rsp.parameter", ""))
    traced = sum(e.get("mw.messages", 0) for events in capture.vulnerable for e in events
                 if e["kind"] == "summary")
    k["accepted-replies"] = {str(accepted)} if capture.vulnerable else set()
    k["traced-messages"] = {str(traced)} if capture.vulnerable else set()
    return k


QUESTIONS = [
    ("relay-reply", "the code mw-smtpd answered to your RCPT for a foreign domain"),
    ("end-of-text-reply", "the code mw-smtpd answered to the text of a smuggling attempt"),
    ("smuggling-lints", "how many connections to mw-smtpd mw-trace flagged 'SMTP smuggling'"),
    ("accepted-replies", "how many 'message accepted' replies the vulnerable server sent"),
    ("traced-messages", "how many messages mw-trace counts as handed to the vulnerable server"),
]


def trace_questions(grader, lab):
    state = {}

    def load():
        if "keys" not in state:
            directory = lab.sub.dir
            path = find_capture(directory)
            state["answers"] = read_answers(os.path.join(directory, "answers.txt"))
            if path is None:
                state["keys"] = Fail("capture.pcap in your folder (./run lab 07 as root "
                                     "makes it; run your probe against both servers)",
                                     "no capture")
            else:
                try:
                    events = trace_json(path, body=False)
                    whole_capture(path, events, lab="07")
                    capture = Capture(events)
                    incomplete_runs(capture)
                    state["keys"] = keys(capture)
                except Fail as failure:
                    state["keys"] = failure
        if isinstance(state["keys"], Fail):
            raise state["keys"]
        return state["keys"], state["answers"]

    for name, what in QUESTIONS:
        def check(name=name, what=what):
            k, answers = load()
            if not k[name]:
                raise Fail(f"a capture that shows {what}",
                           "no such connection in it (probe both servers during the capture)",
                           "README.md, Questions")
            given = answers.get(name)
            if given is None:
                raise Fail(f"'{name}: ...' in answers.txt ({what})", "no answer")
            if given.strip() not in k[name]:
                raise Fail(f"{what}, as your capture shows", f"{given!r}",
                           "read it with mw-trace -r capture.pcap")
        grader.check(f"q-{name}")(check)


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 7: open relay and SMTP smuggling", args.results)
    submission = Submission(directory, LAB, "smtp-probe")
    with tempfile.TemporaryDirectory(prefix="mw-lab7-") as scratch:
        checks(grader, Lab7(submission, scratch))
        status = grader.run()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
