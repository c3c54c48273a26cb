#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 6 grader: runs the student's dsn-read on bounces mw-smtpd makes
here (a recipient refused with a 5xx, one whose next hop never answers
until the queue gives up) and on notifications shaped to catch the
usual mistakes (two recipients, folded fields, field names in another
case, look-alike lines outside the delivery-status part, a message that
is no bounce), each made afresh with other addresses and codes; then the
questions of answers.txt, keyed from the student's own lab session: the
bounce north sent alice (bounce.eml), north's log of its queue
(north.log) and the capture of north's link (capture.pcap).

  grade.py [DIR] [--results results.json]
"""
import email
import email.policy
import glob
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import (Fail, build_checks, Grader, Mailwire, Submission, main_args,  # noqa: E402
                    password_file, program, read_answers, trace_json, whole_capture)

LAB = os.path.dirname(os.path.abspath(__file__))
FIELDS = ("Final-Recipient", "Action", "Status", "Diagnostic-Code")
DSN_RFC = "RFC 3464 §2.3: the per-recipient fields of message/delivery-status"


# ---- bounces to read -------------------------------------------------------

def dsn_fields(text):
    """[{field: value}] per recipient of the message/delivery-status part
    of TEXT (bytes), read with Python's email package: the key."""
    message = email.message_from_bytes(text, policy=email.policy.compat32)
    found = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for group in part.get_payload()[1:]:  # the first is per-message
            fields = {}
            for name in FIELDS:
                value = group.get(name)
                if value is not None:
                    value = " ".join(str(value).split())
                    if name == "Final-Recipient" and ";" in value:
                        value = value.split(";", 1)[1].strip()
                    fields[name] = value
            if fields:
                found.append(fields)
    return found


def printed_fields(stdout):
    """The program's lines, as [{field: value}] per recipient."""
    found = []
    for line in stdout.splitlines():
        m = re.match(r"([A-Za-z-]+):\s*(.*)$", line)
        if not m or m.group(1).lower() not in [f.lower() for f in FIELDS]:
            continue
        name = next(f for f in FIELDS if f.lower() == m.group(1).lower())
        if name == "Final-Recipient" or not found:
            found.append({})
        found[-1][name] = " ".join(m.group(2).split())
    return found


def notification(recipients, fold=False, lower=False, decoys=False):
    """A multipart/report as mw-smtpd and Postfix write them, for
    RECIPIENTS [(address, action, status, diagnostic)]; FOLD folds the
    long fields (RFC 5322 §2.2.3), LOWER writes the field names in lower
    case, DECOYS puts field-like lines in the other parts."""
    boundary = f"{random.randrange(16 ** 8):08X}/mx.lab.test"
    name = (lambda n: n.lower()) if lower else (lambda n: n)
    text = ["From: Mail Delivery System <MAILER-DAEMON@mx.lab.test>",
            "To: <alice@lab.test>", "Subject: Undelivered Mail Returned to Sender",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status;",
            f'\tboundary="{boundary}"', "",
            f"--{boundary}", "Content-Type: text/plain; charset=us-ascii", "",
            "Your message could not be delivered to one or more recipients."]
    if decoys:  # a group of its own, as a reader that looks in every part would take it
        text += ["", "The fields below say, for each one:", "", "Action: what the mail system did",
                 "Status: its code (RFC 3463)"]
    text += ["", f"--{boundary}", "Content-Type: message/delivery-status", "",
             f"{name('Reporting-MTA')}: dns; mx.lab.test"]
    for address, action, status, diagnostic in recipients:
        text += ["", f"{name('Final-Recipient')}: rfc822;" + ("\r\n\t" if fold else " ") + address,
                 f"{name('Action')}: {action}", f"{name('Status')}: {status}"]
        if diagnostic:
            words = diagnostic.split(" ", 3)
            text.append(f"{name('Diagnostic-Code')}: " + (
                " ".join(words[:3]) + "\r\n    " + words[3] if fold and len(words) > 3
                else diagnostic))
    text += ["", f"--{boundary}", "Content-Type: text/rfc822-headers", "",
             "From: alice@lab.test", "Subject: a message"]
    if decoys:
        text += ["Status: RO", "Action: none"]  # as mbox readers leave them
    text += ["", f"--{boundary}--", ""]
    return "\r\n".join(text).encode()


def someone():
    return f"{random.choice(['bob', 'dave', 'erin', 'frank'])}{random.randrange(100, 999)}@" \
           f"{random.choice(['south', 'east', 'west'])}.test"


def failure():
    """(action, status, diagnostic) of a failed recipient, made up afresh."""
    code, status, text = random.choice([
        (550, "5.1.1", "no such user"), (552, "5.2.2", "mailbox full"),
        (554, "5.7.1", "relay access denied"), (451, "4.4.7", "message expired")])
    return "failed", status, f"smtp; {code} {status} <{someone()}> {text} here, sorry"


class LabNorth(Mailwire):
    """An mw-smtpd serving north.test with a queue that gives up within
    seconds and routes: lab.test to a second server (which refuses an
    unknown user), south.test to a port where nobody listens."""

    def __init__(self, state, routes):
        super().__init__(state, tls=True)
        self.routes = routes

    def config_text(self):
        text = super().config_text().replace("domains = lab.test;localhost",
                                             "domains = north.test")
        text = text.replace("hostname = mx.lab.test", "hostname = mx.north.test")
        return text + "[queue]\nretry_min = 1\nretry_max = 1\nlifetime = 2\n[routes]\n" + \
            "".join(f"{d} = 127.0.0.1:{p}\n" for d, p in self.routes.items())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mailwire_bounces(scratch):
    """Two bounces mw-smtpd sent alice@north.test: {"refused": bytes,
    "expired": bytes}, and the recipients they are about."""
    far = Mailwire(os.path.join(scratch, "far")).start()
    north = LabNorth(os.path.join(scratch, "north"),
                     {"lab.test": far.ports["smtp"], "south.test": free_port()})
    refused, expired = f"nobody{random.randrange(1000)}@lab.test", someone().split("@")[0] + \
        "@south.test"
    try:
        north.start()
        for to in (refused, expired):
            subprocess.run([program("mw-send"), "--server",
                            f"127.0.0.1:{north.ports['submission']}", "--starttls", "--cafile",
                            north.cert, "--user", "alice", "--password-file",
                            password_file(north.state), "--from", "alice@north.test", "--to", to,
                            "--subject", "lab 6 grader", "--body", "hello"],
                           check=True, capture_output=True, timeout=30)
        deadline = time.monotonic() + 40
        found = {}
        while time.monotonic() < deadline and len(found) < 2:
            for text in north.messages("alice"):
                for kind, to in (("refused", refused), ("expired", expired)):
                    if to.encode() in text and b"multipart/report" in text:
                        found[kind] = text
            time.sleep(0.2)
    finally:
        north.stop()
        far.stop()
    if len(found) < 2:
        raise RuntimeError(f"mw-smtpd made {len(found)} of the 2 bounces in 40 s")
    return found


# ---- the checks --------------------------------------------------------------

class Lab6:
    def __init__(self, sub, scratch):
        self.sub, self.scratch, self.bounces = sub, scratch, None

    def read(self, text, name):
        path = os.path.join(self.scratch, name + ".eml")
        with open(path, "wb") as f:
            f.write(text)
        result = self.sub.run([path], timeout=20)
        report = result.sanitizer_report()
        if report:
            raise Fail("a run clean under AddressSanitizer", report)
        if result.timed_out:
            raise Fail("dsn-read to finish", result.describe())
        return result

    def expect(self, text, name, rfc):
        result = self.read(text, name)
        want, got = dsn_fields(text), printed_fields(result.stdout)
        if result.returncode != 0:
            raise Fail("exit status 0 for a bounce", result.describe(), rfc)
        for i, fields in enumerate(want):
            mine = got[i] if i < len(got) else {}
            for field in FIELDS:
                if field in fields and mine.get(field) != fields[field]:
                    raise Fail(f"'{field}: {fields[field]}' for recipient {i + 1} "
                               f"(of {len(want)})",
                               repr(mine.get(field)) if mine else "nothing printed for it", rfc)
        if len(got) != len(want):
            raise Fail(f"{len(want)} recipient(s)", f"{len(got)}", rfc)

    def mailwire(self, kind):
        if self.bounces is None:
            self.bounces = mailwire_bounces(self.scratch)
        return self.bounces[kind]


def checks(grader, lab):
    sub = lab.sub

    need_build = build_checks(grader, sub, "dsn-read")

    @grader.check("mailwire-expired")
    def expired():
        need_build()
        lab.expect(lab.mailwire("expired"), "expired",
                   "RFC 3464 §2.3; RFC 5321 §4.5.4.1: the queue gave up")

    @grader.check("mailwire-refused")
    def refused():
        need_build()
        lab.expect(lab.mailwire("refused"), "refused", "RFC 3464 §2.3; RFC 5321 §6.1")

    @grader.check("two-recipients")
    def two():
        need_build()
        lab.expect(notification([(someone(),) + failure(), (someone(),) + failure()]),
                   "two", "RFC 3464 §2.1: one group of fields per recipient, in order")

    @grader.check("folded-fields")
    def folded():
        need_build()
        lab.expect(notification([(someone(),) + failure()], fold=True), "folded",
                   "RFC 5322 §2.2.3: a line that starts with white space continues the field")

    @grader.check("field-names-any-case")
    def any_case():
        need_build()
        lab.expect(notification([(someone(),) + failure()], lower=True), "lower",
                   "RFC 5322 §1.2.2 and RFC 3464 §2.1: field names are case-insensitive")

    @grader.check("delivery-status-part-only")
    def only_part():
        need_build()
        lab.expect(notification([(someone(),) + failure()], decoys=True), "decoys",
                   "RFC 6522 §3: the fields are those of the message/delivery-status part")

    @grader.check("not-a-bounce")
    def not_a_bounce():
        need_build()
        text = (f"From: <{someone()}>\r\nTo: <alice@lab.test>\r\nSubject: Status\r\n"
                "\r\nAction: none\r\nStatus: fine, thanks\r\n").encode()
        result = lab.read(text, "plain")
        if result.returncode != 1 or printed_fields(result.stdout):
            raise Fail("exit status 1 and no fields for a message that is not a "
                       "multipart/report", f"exit status {result.returncode}, "
                       f"{len(printed_fields(result.stdout))} recipient(s) printed",
                       "RFC 6522 §3")

    questions(grader, lab)


# ---- questions: keys from the student's own lab session ----------------------

def first_file(directory, names, pattern=None, has=None):
    for name in names:
        if os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    found = sorted(glob.glob(os.path.join(directory, pattern)) if pattern else [],
                   key=os.path.getmtime)
    found = [p for p in found if has is None or has in open(p, "rb").read()]
    return found[-1] if found else None


class Session:
    """What the student's lab session left: bounce.eml, north.log and
    capture.pcap in DIR (./run lab 6 copies the first two there when it
    stops), else the lab's state in DIR/.lab-state."""

    def __init__(self, directory):
        state = os.path.join(directory, ".lab-state", "north")
        self.bounce = first_file(directory, ["bounce.eml"],
                                 os.path.join(state, "mail", "alice", "Maildir", "*", "*"),
                                 b"multipart/report")
        self.log = first_file(directory, ["north.log", os.path.join(state, "mw-smtpd.log")])
        self.capture = first_file(directory, ["capture.pcap", "capture.pcapng"])

    def bounce_text(self):
        if not self.bounce:
            raise Fail("bounce.eml: the bounce north sent alice (README step 6)", "none")
        return open(self.bounce, "rb").read()

    def bounced_id(self):
        m = re.search(rb"^Message-ID: <([^.>]+)\.bounce@", self.bounce_text(), re.M | re.I)
        if not m:
            raise Fail("a bounce from mw-smtpd in bounce.eml (its Message-ID names the "
                       "queue entry)", "another message")
        return m.group(1).decode()

    def attempts(self):
        """[(seconds since midnight, outcome, reason)] of north's attempts
        to deliver the bounced message, from north.log."""
        if not self.log:
            raise Fail("north.log: north's mw-smtpd log (README, Hand in)", "none")
        qid, found = self.bounced_id(), []
        pattern = re.compile(r"(\d\d):(\d\d):(\d\d(?:\.\d+)?): " + re.escape(qid) +
                             r": <[^>]*> (\w+): (.*)$")
        for line in open(self.log, errors="replace"):
            m = pattern.search(line)
            if m:
                h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3))
                found.append((h * 3600 + mi * 60 + s, m.group(4), m.group(5)))
        if not found:
            raise Fail(f"north's attempts at {qid} in north.log", "none")
        return found

    def relay_session(self):
        """The events of the connection in which north handed the message
        with 'queued' in its Subject to south."""
        if not self.capture:
            raise Fail("capture.pcap (./run lab 6 as root captures north's link)",
                       "no capture", "README.md, Setup")
        streams = {}
        for e in trace_json(self.capture, body=False):
            if e.get("proto") == "smtp":
                streams.setdefault(e["tcp.stream"], []).append(e)
        # the message's summary (after DATA's text, or BDAT's last chunk, RFC 3030)
        # names its Subject; only the relay's connection is in clear (not STARTTLS)
        mine = [evs for _, evs in sorted(streams.items())
                if any(e["kind"] == "data" and "queued" in e.get("imf.subject", "")
                       for e in evs)]
        if not mine:
            raise Fail("north's relay of your 'queued' message to south in the capture",
                       "none (capture during the whole session)", "README.md, step 4")
        whole_capture(self.capture, mine[-1], lab="6")
        return mine[-1]


def close_waits(given, key):
    waits = [float(w) for w in re.findall(r"\d+(?:\.\d+)?", given)]
    return len(waits) == len(key) and all(abs(a - b) <= 1.5 for a, b in zip(waits, key))


def questions(grader, lab):
    s = Session(lab.sub.dir)
    answers = read_answers(os.path.join(lab.sub.dir, "answers.txt"))

    def waits():
        times = [t for t, _, _ in s.attempts()]
        return [round((b - a) % 86400, 1) for a, b in zip(times, times[1:])][:3]  # past midnight

    def reason():
        return next((r for _, outcome, r in reversed(s.attempts()) if outcome == "waiting"), None)

    def south_id():
        for e in lab_relay(s):
            if e["kind"] == "reply" and e.get("mw.last") and \
                    e.get("mw.answers", "").upper() in (".", "BDAT"):
                m = re.search(r"message (\S+) accepted", e.get("smtp.rsp.parameter", ""))
                if m:
                    return m.group(1)
        raise Fail("south's 250 to the end of the message (DATA's '.' or BDAT ... LAST) "
                   "in the relay session", "none", "RFC 5321 §4.1.1.4, RFC 3030 §2")

    # name, what it is, key (a function), does the answer match the key
    table = [
        ("queue-id", "the queue id north gave the message that bounced",
         s.bounced_id, lambda given, key: given == key),
        ("attempts", "how many times north tried to deliver it before giving up",
         lambda: len(s.attempts()), lambda given, key: given.strip() == str(key)),
        ("retry-waits", "the seconds between north's first four attempts (three numbers)",
         waits, close_waits),
        ("last-error", "why north's attempts failed, as its queue says",
         reason, lambda given, key: len(given) >= 6 and key is not None and
         " ".join(given.lower().split()) in " ".join(key.lower().split())),
        ("dsn-status", "the Status of the bounce (RFC 3464 §2.3.4)",
         lambda: dsn_fields(s.bounce_text())[0]["Status"],
         lambda given, key: given.strip() == key),
        ("south-queue-id", "the queue id south gave your 'queued' message",
         south_id, lambda given, key: given == key),
        ("relay-client-port", "the port north's relay connected from to hand it to south",
         lambda: next(e["tcp.srcport"] for e in lab_relay(s) if e["kind"] == "open"),
         lambda given, key: given.strip() == str(key)),
    ]
    for name, what, key_of, matches in table:
        def check(name=name, what=what, key_of=key_of, matches=matches):
            key = key_of()
            given = answers.get(name)
            if given is None:
                raise Fail(f"'{name}: ...' in answers.txt ({what})", "no answer")
            if not matches(given, key):
                raise Fail(f"{what}, as your lab session shows", repr(given),
                           "README.md, Questions")
        grader.check(f"q-{name}")(check)


_relay = {}


def lab_relay(s):
    if "events" not in _relay:
        try:
            _relay["events"] = s.relay_session()
        except Fail as failure:
            _relay["events"] = failure
    if isinstance(_relay["events"], Fail):
        raise _relay["events"]
    return _relay["events"]


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 6: relay, queue, retry, bounce", args.results)
    submission = Submission(directory, LAB, "dsn-read")
    with tempfile.TemporaryDirectory(prefix="mw-lab6-") as scratch:
        checks(grader, Lab6(submission, scratch))
        status = grader.run()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
