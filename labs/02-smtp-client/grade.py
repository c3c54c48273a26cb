#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 2 grader: runs the student's smtp-client against mw-smtpd, once per
check, each time with its own [faults] (labs/lib/labkit.py, mail-faults.h),
and checks what mw-smtpd stored, byte for byte, what the client printed
and its exit status.

  grade.py [DIR] [--results results.json]
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import DOMAIN, Fail, build_checks, Grader, Mailwire, Submission, main_args, strip_trace_headers  # noqa: E402

LAB = os.path.dirname(os.path.abspath(__file__))
FROM = f"alice@{DOMAIN}"
BOB, CAROL, DAVE = f"bob@{DOMAIN}", f"carol@{DOMAIN}", f"dave@{DOMAIN}"  # no dave
TEXT = (b"From: Alice <alice@lab.test>\r\nTo: Bob <bob@lab.test>\r\n"
        b"Subject: lab 2\r\n\r\nHello Bob,\r\nthis came from my own SMTP client.\r\n")
DOTS = (b"Subject: dots\r\n\r\nA line with a dot follows.\r\n.\r\n"
        b"..two dots\r\n.hidden\r\nlast line\r\n")


def lf(data):
    return data.replace(b"\r\n", b"\n")


class Lab2:
    def __init__(self, submission, scratch):
        self.sub, self.scratch, self.count = submission, scratch, 0

    def send(self, recipients, text=TEXT, faults=None, timeout=20):
        """Runs the client once against a fresh mw-smtpd; returns (result, mw)."""
        self.count += 1
        mw = Mailwire(os.path.join(self.scratch, f"run{self.count}"), faults=faults)
        with mw:
            result = self.sub.run(["127.0.0.1", str(mw.ports["smtp"]), FROM] + recipients,
                                  stdin=text, timeout=timeout)
        report = result.sanitizer_report()
        if report:
            raise Fail("a run clean under AddressSanitizer", report)
        return result, mw

    @staticmethod
    def stored(mw, user, expected, rfc):
        messages = mw.messages(user)
        if len(messages) != 1:
            raise Fail(f"one message in {user}'s mailbox", f"{len(messages)}", rfc)
        got = strip_trace_headers(messages[0])
        if got != expected:
            raise Fail(f"the text stored exactly as {expected[:80]!r}...", f"{got[:120]!r}", rfc)

    @staticmethod
    def exit_status(result, status, why, rfc):
        if result.timed_out or result.returncode != status:
            raise Fail(f"exit status {status} ({why})", result.describe(), rfc)

    @staticmethod
    def printed(result, line, rfc):
        if line not in result.stdout.splitlines():
            shown = " | ".join(result.stdout.splitlines()[-5:]) or "nothing"
            raise Fail(f"the line {line!r} on stdout", shown, rfc)


def checks(grader, lab):
    sub = lab.sub

    need_build = build_checks(grader, sub, "smtp-client")

    @grader.check("one-recipient")
    def one_recipient():
        need_build()
        result, mw = lab.send([BOB])
        lab.stored(mw, "bob", TEXT, "RFC 5321 §3.3")
        lab.exit_status(result, 0, "everything accepted", "RFC 5321 §4.2.1")
        lab.printed(result, f"<{BOB}> accepted 250", "RFC 5321 §4.1.1.3")

    @grader.check("sends-quit")
    def sends_quit():
        need_build()
        result, mw = lab.send([BOB])
        commands = [line.split(" ")[0].upper() for d, line in mw.protocol_log() if d == "C"]
        if not commands or commands[-1] != "QUIT":
            raise Fail("QUIT as the last command", " ".join(commands[-3:]) or "no commands",
                       "RFC 5321 §4.1.1.10")

    @grader.check("crlf-line-ends")
    def crlf():
        need_build()
        result, mw = lab.send([BOB], text=lf(TEXT))
        lab.stored(mw, "bob", TEXT, "RFC 5321 §2.3.8: lines end in CRLF, even if stdin has LF")

    @grader.check("dot-stuffing")
    def dot_stuffing():
        need_build()
        result, mw = lab.send([BOB], text=DOTS)
        lab.stored(mw, "bob", DOTS, "RFC 5321 §4.5.2: a line starting with '.' gets one more")

    @grader.check("several-recipients")
    def several():
        need_build()
        result, mw = lab.send([BOB, DAVE, CAROL])
        lab.printed(result, f"<{DAVE}> refused 550", "RFC 5321 §4.2.1: 5yz is permanent")
        lab.printed(result, f"<{CAROL}> accepted 250", "RFC 5321 §4.1.1.3")
        lab.stored(mw, "bob", TEXT, "RFC 5321 §3.3")
        lab.stored(mw, "carol", TEXT, "RFC 5321 §3.3: the others still get it")
        lab.exit_status(result, 69, "a recipient was refused for good", "RFC 5321 §4.2.1")

    @grader.check("rcpt-451-deferred")
    def rcpt_451():
        need_build()
        result, mw = lab.send([BOB, CAROL], faults="reply = RCPT#1 451")
        lab.printed(result, f"<{BOB}> deferred 451", "RFC 5321 §4.2.1: 4yz means try again")
        lab.stored(mw, "carol", TEXT, "RFC 5321 §3.3")
        lab.exit_status(result, 75, "a recipient must be tried again", "RFC 5321 §4.2.1")

    @grader.check("helo-fallback")
    def helo():
        need_build()
        result, mw = lab.send([BOB], faults="reply = EHLO 502")
        lab.stored(mw, "bob", TEXT, "RFC 5321 §3.2: a server that refuses EHLO takes HELO")

    @grader.check("multi-line-replies")
    def multi_line():
        need_build()
        result, mw = lab.send([BOB, DAVE], faults="multiline = true")
        lab.printed(result, f"<{DAVE}> refused 550", "RFC 5321 §4.2.1: read every line of a reply")
        lab.stored(mw, "bob", TEXT, "RFC 5321 §4.2.1")

    @grader.check("trickled-replies")
    def trickled():
        need_build()
        result, mw = lab.send([BOB, DAVE], faults="trickle = true", timeout=40)
        lab.printed(result, f"<{DAVE}> refused 550",
                    "RFC 5321 §4.2.1: a reply may come in many pieces; read to CRLF")
        lab.stored(mw, "bob", TEXT, "RFC 5321 §4.2.1")

    @grader.check("421-mid-session")
    def closing():
        need_build()
        result, mw = lab.send([BOB, CAROL], faults="reply = RCPT#1 421")
        lab.exit_status(result, 75, "421: the server is closing, try later",
                        "RFC 5321 §3.8")
        if mw.messages("carol"):
            raise Fail("no message after the 421", "a message for carol", "RFC 5321 §3.8")

    @grader.check("message-deferred")
    def deferred():
        need_build()
        result, mw = lab.send([BOB], faults="reply = . 451")
        lab.printed(result, "message deferred 451", "RFC 5321 §4.1.1.4, §4.2.1")
        lab.exit_status(result, 75, "the message must be tried again", "RFC 5321 §4.2.1")

    @grader.check("message-refused")
    def refused():
        need_build()
        result, mw = lab.send([BOB], faults="reply = DATA 554")
        lab.printed(result, "message refused 554", "RFC 5321 §4.1.1.4")
        lab.exit_status(result, 69, "the message was refused for good", "RFC 5321 §4.2.1")

    @grader.check("waits-for-each-reply")
    def waits():
        need_build()
        result, mw = lab.send([BOB], faults="pipelining = false\ndelay = DATA 600, * 30")
        lab.stored(mw, "bob", TEXT,
                   "RFC 2920 §3.1: without PIPELINING wait for every reply, and for 354 always")


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 2: an SMTP client", args.results)
    submission = Submission(directory, LAB, "smtp-client")
    with tempfile.TemporaryDirectory(prefix="mw-lab2-") as scratch:
        checks(grader, Lab2(submission, scratch))
        status = grader.run()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
