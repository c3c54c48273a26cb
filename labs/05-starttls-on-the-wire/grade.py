#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 5 grader: runs the student's starttls-probe against mw-smtpd
(submission port), mw-pop3d (STLS) and mw-imapd (STARTTLS) with TLS on,
against the lab's vulnerable-server.py (plaintext kept after STARTTLS,
AUTH offered in clear) and its fixed twin (plaintext discarded), and with
a CA file that does not vouch for the server; checks the verdict lines
(README.md, "Verdict lines"); then grades the trace questions in
answers.txt with keys computed from the student's capture.pcap (mw-trace
--json), never a fixed list.

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
from labkit import (Fail, build_checks, Grader, Mailwire, Submission, main_args,  # noqa: E402
                    program, read_answers, trace_json, whole_capture)

LAB = os.path.dirname(os.path.abspath(__file__))
VERDICT = re.compile(r"^(auth-before-tls|auth-after-tls|injection): (yes|no|refused|vulnerable)\b",
                     re.M)
FORMAT = "README.md, Verdict lines"
INJECTION_RFC = "RFC 3207 §4: octets after STARTTLS, before TLS, must never be run (CVE-2011-0411)"
AUTH_RFC = "RFC 4954 §4, RFC 8314 §3: passwords only over TLS; RFC 3207 §4.2: ask again after TLS"


class Vulnerable:
    """vulnerable-server.py with ARGS on a port of its own choosing."""

    def __init__(self, args, cert, key):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(LAB, "vulnerable-server.py"), "--port", "0",
             "--cert", cert, "--key", key] + args,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
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
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(15) or self.port is None:
            self.stop()
            raise RuntimeError("vulnerable-server.py did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Lab5:
    def __init__(self, sub, scratch):
        self.sub, self.scratch, self.cache, self.mw = sub, scratch, {}, None

    def mailwire(self):
        if self.mw is None:
            self.mw = Mailwire(os.path.join(self.scratch, "mw"), pop3=True, imap=True,
                               tls=True, plaintext_auth="never").start()
        return self.mw

    def stop(self):
        if self.mw:
            self.mw.stop()

    def probe(self, key, proto, port, ca_file, allow_failure=False):
        """({verdict: word}, result) of one run, cached by KEY."""
        if key not in self.cache:
            result = self.sub.run([proto, "127.0.0.1", str(port), ca_file], timeout=90)
            report = result.sanitizer_report()
            if report:
                raise Fail("a run clean under AddressSanitizer", report)
            if result.timed_out or (result.returncode != 0 and not allow_failure):
                raise Fail("exit status 0 once every test ran", result.describe())
            verdicts = {m.group(1): m.group(2) for m in VERDICT.finditer(result.stdout)}
            self.cache[key] = (verdicts, result)
        return self.cache[key]

    def against_mailwire(self, proto):
        mw = self.mailwire()
        port = mw.ports["submission" if proto == "smtp" else proto]
        return self.probe(proto, proto, port, mw.cert)

    def against_vulnerable(self, key, args):
        mw = self.mailwire()
        if key not in self.cache:
            server = Vulnerable(args, mw.cert, os.path.join(mw.state, "key.pem"))
            try:
                self.probe(key, "smtp", server.port, mw.cert)
            finally:
                server.stop()
        return self.cache[key]


def verdict(verdicts, result, name, want, server, rfc):
    got = verdicts.get(name)
    if got is None:
        shown = " | ".join(result.stdout.strip().splitlines()[-4:]) or "nothing"
        raise Fail(f"a line '{name}: ...' ({FORMAT})", shown, rfc)
    if got != want:
        raise Fail(f"'{name}: {want}' against {server}", f"'{name}: {got}'", rfc)


def checks(grader, lab):
    sub = lab.sub

    need_build = build_checks(grader, sub, "starttls-probe")

    for proto, name, server in (("smtp", "mw-smtpd-submission", "mw-smtpd's submission port"),
                                ("pop3", "mw-pop3d-stls", "mw-pop3d (STLS)"),
                                ("imap", "mw-imapd-starttls", "mw-imapd (STARTTLS)")):
        def check(proto=proto, server=server):
            need_build()
            verdicts, result = lab.against_mailwire(proto)
            verdict(verdicts, result, "auth-before-tls", "no", server, AUTH_RFC)
            verdict(verdicts, result, "auth-after-tls", "yes", server, AUTH_RFC)
            verdict(verdicts, result, "injection", "refused", server
                    + " (it closes the connection)", INJECTION_RFC)
        grader.check(name)(check)

    keep = ("keep", ["--injection", "keep", "--auth", "clear"])
    discard = ("discard", ["--injection", "discard", "--auth", "tls"])

    @grader.check("vulnerable-server-injection")
    def vulnerable_injection():
        need_build()
        verdicts, result = lab.against_vulnerable(*keep)
        verdict(verdicts, result, "injection", "vulnerable",
                "the lab's server, which runs what was pipelined after STARTTLS", INJECTION_RFC)

    @grader.check("vulnerable-server-auth")
    def vulnerable_auth():
        need_build()
        verdicts, result = lab.against_vulnerable(*keep)
        verdict(verdicts, result, "auth-before-tls", "yes",
                "the lab's server, which offers AUTH in clear", AUTH_RFC)

    @grader.check("discarding-server")
    def discarding():
        need_build()
        verdicts, result = lab.against_vulnerable(*discard)
        server = "a server that discards the plaintext and goes on with TLS (not vulnerable)"
        verdict(verdicts, result, "injection", "refused", server,
                INJECTION_RFC + "; a TLS session that comes up proves nothing by itself")
        verdict(verdicts, result, "auth-before-tls", "no", server, AUTH_RFC)
        verdict(verdicts, result, "auth-after-tls", "yes", server, AUTH_RFC)

    @grader.check("checks-the-certificate")
    def certificate():
        need_build()
        mw = lab.mailwire()
        other = os.path.join(lab.scratch, "other-ca.pem")
        if not os.path.exists(other):
            subprocess.run([program("mw-admin"), "cert", "--out", other, "--key",
                            os.path.join(lab.scratch, "other-key.pem"), "localhost",
                            "127.0.0.1"], check=True, stdout=subprocess.DEVNULL, timeout=30)
        verdicts, result = lab.probe("other-ca", "smtp", mw.ports["submission"], other,
                                     allow_failure=True)
        rfc = "RFC 3207 §4.1, RFC 9525: a certificate CAFILE does not vouch for is an attacker's"
        if result.returncode != 1 or "auth-after-tls" in verdicts:
            raise Fail("exit status 1 and no 'auth-after-tls' line with a CA file that does "
                       "not vouch for the server's certificate",
                       f"exit status {result.returncode}, " +
                       (" | ".join(result.stdout.strip().splitlines()[-3:]) or "no output"), rfc)

    trace_questions(grader, lab)


# ---- trace questions: keys from the student's own capture ------------------

def find_capture(directory):
    for name in ("capture.pcap", "capture.pcapng"):
        if os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    found = sorted(glob.glob(os.path.join(directory, "*.pcap*")))
    return found[0] if found else None


def streams_of(path):
    """The connections of the capture; Fail if it is not whole (the keys
    count connections and read their first records)."""
    streams = {}
    events = trace_json(path, body=False)
    whole_capture(path, events, lab="05")
    for e in events:
        streams.setdefault(e["tcp.stream"], []).append(e)
    return [events for _, events in sorted(streams.items())]


def smtp_kinds(events):
    """'starttls', 'injected', 'implicit' or None for one SMTP connection."""
    if not events or events[0].get("proto") != "smtp":
        return None
    lines = [e for e in events if e["kind"] in ("command", "reply")]
    if not lines and any(e["kind"] == "tls" for e in events):
        return "implicit"
    started = any(e["kind"] == "reply" and e.get("mw.answers", "").upper() == "STARTTLS"
                  and e.get("smtp.response.code") == 220 for e in events)
    if not started:
        return None
    injected = any(e["kind"] == "lint" and "after STARTTLS" in e.get("lint.message", "")
                   for e in events)
    return "injected" if injected else "starttls"


def keys(streams):
    """{question: set of accepted answers (lower case)} from the capture."""
    k = {name: set() for name, _ in QUESTIONS}
    for events in streams:
        kind = smtp_kinds(events)
        commands = [e for e in events if e["kind"] == "command"]
        if kind == "starttls":
            k["readable-commands"].add(" ".join(e.get("smtp.req.command", "").upper()
                                                for e in commands))
            auth = any(e["kind"] == "reply" and e.get("mw.answers", "").upper() == "EHLO" and
                       re.match(r"AUTH\b", e.get("smtp.rsp.parameter", ""), re.I)
                       for e in events)
            k["auth-before-tls"].add("yes" if auth else "no")
        elif kind == "implicit":
            first = next((e for e in events if e["kind"] == "tls" and
                          e.get("line", "").startswith("encrypted")), None)
            if first:
                k["first-encrypted-bytes"].add(str(first["tls.record.length"]))
            k["smtps-readable-lines"].add(
                str(sum(e["kind"] in ("command", "reply") for e in events)))
        elif kind == "injected":
            after = False
            for e in commands:
                if after:
                    k["injected-command"].add(e.get("smtp.req.command", "").upper())
                after = after or e.get("smtp.req.command", "").upper() == "STARTTLS"
            replies = [e for e in events if e["kind"] == "reply" and e.get("mw.last")]
            if replies:
                k["reply-after-injection"].add(str(replies[-1]["smtp.response.code"]))
        elif events and events[0].get("proto") == "pop":
            capa = [e for e in events if e["kind"] == "data" and e.get("dir") == "S->C"
                    and e.get("line") != "." and
                    e.get("mw.answers", "CAPA").upper() == "CAPA"]
            if any(e.get("pop.request.command") == "STLS" for e in commands) and capa:
                k["pop3-capa-lines"].add(str(len(capa)))
    return k


QUESTIONS = [
    ("readable-commands", "the commands an eavesdropper could read in your SMTP STARTTLS "
     "session (in order, space-separated)"),
    ("auth-before-tls", "whether mw-smtpd offered AUTH in its EHLO reply before STARTTLS"),
    ("first-encrypted-bytes", "the length of the first record mw-trace shows as encrypted "
     "in your SMTPS (implicit TLS) connection"),
    ("smtps-readable-lines", "how many SMTP commands and replies mw-trace could read in "
     "your SMTPS connection"),
    ("injected-command", "the command you pipelined after STARTTLS, as mw-trace shows it"),
    ("reply-after-injection", "the code of mw-smtpd's last reply in that connection"),
    ("pop3-capa-lines", "how many capability lines mw-pop3d listed in clear before STLS"),
]


def trace_questions(grader, lab):
    state = {}

    def load():
        if "keys" not in state:
            directory = lab.sub.dir
            path = find_capture(directory)
            state["answers"] = read_answers(os.path.join(directory, "answers.txt"))
            if path is None:
                state["keys"] = Fail("capture.pcap in your folder (./run lab 05 as root "
                                     "makes it; do the README's steps)", "no capture")
            else:
                try:
                    state["keys"] = keys(streams_of(path))
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
                           "no such connection in it (do every step of the README while "
                           "the lab captures)", "README.md, Questions")
            given = answers.get(name)
            if given is None:
                raise Fail(f"'{name}: ...' in answers.txt ({what})", "no answer")
            if " ".join(given.lower().split()) not in {a.lower() for a in k[name]}:
                raise Fail(f"{what}, as your capture shows", f"{given!r}",
                           "read it with mw-trace -r capture.pcap")
        grader.check(f"q-{name}")(check)


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 5: STARTTLS on the wire", args.results)
    submission = Submission(directory, LAB, "starttls-probe")
    with tempfile.TemporaryDirectory(prefix="mw-lab5-") as scratch:
        lab = Lab5(submission, scratch)
        checks(grader, lab)
        try:
            status = grader.run()
        finally:
            lab.stop()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
