#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 3 grader: runs the student's pop3-fetch against mw-pop3d, with
connections dropped on purpose ([faults] drop, mail-faults.h) and a disk
that fills up (RLIMIT_FSIZE), and checks that every message ends up in the
student's Maildir exactly once, byte for byte, and that the server keeps
what was not safely saved.

  grade.py [DIR] [--results results.json]
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import PASSWORD, Fail, build_checks, Grader, Mailwire, Submission, main_args  # noqa: E402

LAB = os.path.dirname(os.path.abspath(__file__))


def message(n, body_lines=2, filler=b""):
    body = b"".join(b"line %d of message %d\r\n" % (i, n) for i in range(body_lines))
    return (b"From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: message %d\r\n"
            b"\r\n" % n) + body + filler


MESSAGES = [message(1), message(2, 5), message(3, 1)]
DOTTED = (b"Subject: dots\r\n\r\nthe next line is a dot\r\n.\r\n..two\r\n"
          b".hidden\r\nend\r\n")
BIG = message(9, 1, b"x" * 70 + b"\r\n") + b"".join([b"y" * 70 + b"\r\n"] * 90)
DISK_LIMIT = 4096  # octets a file may grow to: BIG does not fit


def saved(maildir):
    """Every message file in the student's Maildir (new/ and cur/)."""
    found = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            found += [open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))]
    return found


class Lab3:
    def __init__(self, submission, scratch):
        self.sub, self.scratch, self.count = submission, scratch, 0

    def server(self, messages, faults=None):
        self.count += 1
        state = os.path.join(self.scratch, f"run{self.count}")
        mw = Mailwire(state, smtp=False, pop3=True, faults=faults).start()
        for data in messages:
            mw.deliver("bob", data)
        mw.client_maildir = os.path.join(state, "downloaded")
        return mw

    def fetch(self, mw, keep=False, fsize=None):
        args = (["--keep"] if keep else []) + [
            "127.0.0.1", str(mw.ports["pop3"]), "bob", mw.client_maildir]
        result = self.sub.run(args, env={"POP3_PASSWORD": PASSWORD}, timeout=30,
                              fsize=fsize)
        report = result.sanitizer_report()
        if report:
            raise Fail("a run clean under AddressSanitizer", report)
        if result.timed_out:
            raise Fail("pop3-fetch to finish", result.describe())
        return result

    @staticmethod
    def expect_saved(mw, expected, rfc):
        got = saved(mw.client_maildir)
        if sorted(got) == sorted(expected):
            return
        dups = len(got) - len(set(got))
        if dups:
            raise Fail(f"{len(expected)} messages, each saved once",
                       f"{len(got)} files, {dups} of them saved twice", rfc)
        missing = [m for m in expected if m not in got]
        if missing:
            near = [g for g in got if g not in expected]
            raise Fail(f"the message {missing[0][:60]!r}... saved byte for byte",
                       f"{near[0][:90]!r}" if near else f"{len(got)} of {len(expected)} messages",
                       rfc)
        raise Fail(f"{len(expected)} messages", f"{len(got)}", rfc)

    @staticmethod
    def expect_on_server(mw, count, rfc):
        left = len(mw.messages("bob"))
        if left != count:
            raise Fail(f"{count} messages left on the server", f"{left}", rfc)


def checks(grader, lab):
    sub = lab.sub

    need_build = build_checks(grader, sub, "pop3-fetch")

    def scenario(messages, faults=None):
        need_build()
        return lab.server(messages, faults)

    @grader.check("download-and-delete")
    def download():
        mw = scenario(MESSAGES)
        try:
            result = lab.fetch(mw)
            lab.expect_saved(mw, MESSAGES, "RFC 1939 §5 RETR")
            lab.expect_on_server(mw, 0, "RFC 1939 §5 DELE, §6: deleted at QUIT")
            if result.returncode != 0:
                raise Fail("exit status 0", result.describe())
        finally:
            mw.stop()

    @grader.check("dot-unstuffing")
    def unstuff():
        mw = scenario([DOTTED])
        try:
            lab.fetch(mw)
            lab.expect_saved(mw, [DOTTED], "RFC 1939 §3: take the stuffed '.' off")
        finally:
            mw.stop()

    @grader.check("keep-leaves-mail")
    def keep():
        mw = scenario(MESSAGES)
        try:
            lab.fetch(mw, keep=True)
            lab.expect_saved(mw, MESSAGES, "RFC 1939 §5 RETR")
            lab.expect_on_server(mw, 3, "--keep: no DELE (RFC 1939 §5)")
        finally:
            mw.stop()

    @grader.check("keep-remembers-uidl")
    def remembers():
        mw = scenario(MESSAGES[:2])
        try:
            lab.fetch(mw, keep=True)
            mw.deliver("bob", MESSAGES[2])
            lab.fetch(mw, keep=True)
            lab.expect_saved(mw, MESSAGES, "RFC 1939 §7 UIDL: the same id is the same message")
        finally:
            mw.stop()

    @grader.check("drop-after-retr")
    def drop_retr():
        mw = scenario(MESSAGES, faults="drop = after RETR#2")
        try:
            lab.fetch(mw)  # the connection is gone after the second message
            mw.restart()
            lab.fetch(mw)
            lab.expect_saved(mw, MESSAGES, "RFC 1939 §7 UIDL: nothing lost, nothing twice")
            lab.expect_on_server(mw, 0, "RFC 1939 §6")
        finally:
            mw.stop()

    @grader.check("drop-before-quit")
    def drop_quit():
        mw = scenario(MESSAGES, faults="drop = QUIT")
        try:
            lab.fetch(mw)  # every DELE is forgotten: no UPDATE state (RFC 1939 §6)
            mw.restart()
            lab.fetch(mw)
            lab.expect_saved(mw, MESSAGES, "RFC 1939 §6, §7 UIDL: nothing downloaded twice")
            lab.expect_on_server(mw, 0, "RFC 1939 §6")
        finally:
            mw.stop()

    @grader.check("save-failure-keeps-mail")
    def disk_full():
        mw = scenario([MESSAGES[0], BIG])
        try:
            lab.fetch(mw, fsize=DISK_LIMIT)
            if BIG not in mw.messages("bob"):
                raise Fail("the message that could not be written still on the server",
                           "it was deleted: DELE before the message was safely saved",
                           "RFC 1939 §5: DELE only what is on disk (write, fsync, close checked)")
        finally:
            mw.stop()


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 3: POP3, download, delete or keep", args.results)
    submission = Submission(directory, LAB, "pop3-fetch")
    with tempfile.TemporaryDirectory(prefix="mw-lab3-") as scratch:
        checks(grader, Lab3(submission, scratch))
        status = grader.run()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
