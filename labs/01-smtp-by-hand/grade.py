#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 1 grader: reads the student's capture with `mw-trace --json --body`
and grades the SMTP session in it (the commands in order, the dot-stuffed
line, the message delivered, un-stuffed, in the lab's Maildir) and the
answers in answers.txt. Every key is computed from that capture: the
student's ports, frame numbers, queue id and lines; nothing is a fixed list.

  grade.py [DIR] [--results results.json]

DIR holds answers.txt and capture.pcap (or one other *.pcap / *.pcapng);
when `./run lab 01` made it, also .lab-state/ with the lab's Maildirs.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import (Fail, Grader, main_args, read_answers, strip_trace_headers,  # noqa: E402
                    trace_json, whole_capture)

LAB = os.path.dirname(os.path.abspath(__file__))
ORDER_RFC = "RFC 5321 §4.1.4: EHLO, then MAIL, RCPT, DATA; QUIT ends it"


def find_capture(directory):
    for name in ("capture.pcap", "capture.pcapng"):
        if os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    found = sorted(glob.glob(os.path.join(directory, "*.pcap")) +
                   glob.glob(os.path.join(directory, "*.pcapng")))
    return found[0] if found else None


class Session:
    """One SMTP connection of the capture, from mw-trace's events."""

    def __init__(self, events):
        self.events = events
        self.open = next((e for e in events if e["kind"] == "open"), {})
        self.commands = [e for e in events if e["kind"] == "command"]
        self.replies = [e for e in events if e["kind"] == "reply" and e.get("mw.last")]
        self.ends = [e for e in events if e["kind"] == "data" and "mw.message.size" in e]
        self.wire = []  # the text lines of the first message, as sent
        self.text = []  # the same lines un-stuffed (mw-trace's mw.text)
        for e in events:
            if e["kind"] == "data" and "mw.message.size" in e:
                break
            if e["kind"] == "data":
                self.wire.append(e.get("line", ""))
                self.text.append(e.get("mw.text", e.get("line", "")))
        self.lints = [e for e in events if e["kind"] == "lint"]
        self.gaps = [e for e in events if e["kind"] == "gap"]

    def reply_to(self, verb):
        return next((r for r in self.replies if r.get("mw.answers", "").upper() == verb), None)

    def accepted(self):
        """The 250 to the end of the data, or None."""
        r = self.reply_to(".")
        return r if r and r.get("smtp.response.code") == 250 else None

    def queue_id(self):
        r = self.accepted()
        if not r:
            return None
        words = re.findall(r"[0-9A-Za-z]+", r.get("smtp.rsp.parameter", ""))
        ids = [w for w in words if len(w) >= 6 and re.search(r"\d", w)]
        return ids[0] if ids else None

    def dotted(self):
        """Text lines that start with '.' once un-stuffed (sent as '..')."""
        return [line for line in self.text if line.startswith(".")]

    def dotted_on_the_wire(self):
        """The same lines as sent, with the stuffed dot."""
        return [w for w, t in zip(self.wire, self.text) if t.startswith(".")]


def sessions(capture):
    streams = {}
    for e in trace_json(capture, body=True):
        if e.get("proto") == "smtp":
            streams.setdefault(e["tcp.stream"], []).append(e)
    return [Session(events) for _, events in sorted(streams.items())]


class Lab1:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.capture = find_capture(self.dir)
        self.answers = read_answers(os.path.join(self.dir, "answers.txt"))
        self._session, self._error = None, None

    def session(self):
        """The graded session: the last one that delivered a message with a
        dot line, else the last that delivered one, else the last."""
        if self._session is None and self._error is None:
            self._error = self._find()
        if self._error:
            raise self._error
        return self._session

    def _find(self):
        if not self.capture:
            return Fail(f"capture.pcap in {self.dir} (`./run lab 01` as root writes it;"
                        " or starter/capture.sh)", "no capture")
        try:
            found = sessions(self.capture)
        except Fail as failure:
            return failure
        if not found:
            return Fail("an SMTP session in the capture (to the lab's mw-smtpd)",
                        "none: was the capture running while you talked to the server?")
        self._session = (next((s for s in reversed(found) if s.accepted() and s.dotted()), None)
                         or next((s for s in reversed(found) if s.accepted()), None)
                         or found[-1])
        try:  # every key comes from this session: it must be whole
            whole_capture(self.capture, self._session.events, lab="01")
        except Fail as failure:
            self._session = None
            return failure
        return None

    def maildir_messages(self, user):
        md = os.path.join(self.dir, ".lab-state", "mail", user, "Maildir")
        found = []
        for sub in ("new", "cur"):
            for path in glob.glob(os.path.join(md, sub, "*")):
                found.append(open(path, "rb").read())
        return found

    def answer(self, name):
        value = self.answers.get(name)
        if value is None:
            raise Fail(f"an answer '{name}: ...' in answers.txt", "none")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return value


def as_int(value):
    m = re.fullmatch(r"\s*(\d+)\s*", value)
    return int(m.group(1)) if m else None


def checks(grader, lab):
    @grader.check("capture")
    def capture():
        lab.session()  # a whole session, or the Fail saying what is missing

    @grader.check("commands-in-order")
    def order():
        s = lab.session()
        verbs = [c.get("smtp.req.command", "").upper() for c in s.commands]
        if not verbs or verbs[0] not in ("EHLO", "HELO"):
            raise Fail("EHLO (or HELO) as your first command", verbs[0] if verbs else "no command",
                       "RFC 5321 §4.1.4")
        bad = [r for r in s.replies if r.get("smtp.response.code") == 503]
        if bad:
            raise Fail("no command out of order", f"503 ({bad[0].get('line')}) to your "
                       f"{bad[0].get('mw.answers')}", ORDER_RFC)
        wanted = ["MAIL", "RCPT", "DATA"]
        seen = [v for v in verbs if v in wanted]
        if seen[:1] != ["MAIL"] or "RCPT" not in seen or "DATA" not in seen or \
                seen.index("DATA") < seen.index("RCPT"):
            raise Fail("MAIL, then RCPT, then DATA", " ".join(verbs), ORDER_RFC)
        if verbs[-1] != "QUIT":
            raise Fail("QUIT as your last command", verbs[-1], "RFC 5321 §4.1.1.10")

    @grader.check("dot-stuffed-line")
    def dot_line():
        s = lab.session()
        if s.dotted():
            return
        forgot = [e for e in s.lints if "dot-stuff" in e.get("lint.message", "")]
        if forgot:
            raise Fail("a text line that starts with '.', sent with a second '.' in front",
                       f"mw-trace: {forgot[0]['lint.message']}", "RFC 5321 §4.5.2")
        raise Fail("a text line that starts with '.' (type it as '..')",
                   f"{len(s.text)} text lines, none starting with '.'", "RFC 5321 §4.5.2")

    @grader.check("message-delivered")
    def delivered():
        s = lab.session()
        if not s.ends:
            raise Fail("the text ended by a line holding only '.'", "no end of data",
                       "RFC 5321 §4.1.1.4")
        reply = s.accepted()
        if not reply:
            r = s.reply_to(".")
            raise Fail("250 to the end of your data", r.get("line") if r else "no reply",
                       "RFC 5321 §4.1.1.4")
        if not os.path.isdir(os.path.join(lab.dir, ".lab-state")):
            return  # a capture handed in alone: the server's 250 is the proof
        users = [re.sub(r"(?i)^TO:\s*<([^@>]*)@?.*$", r"\1", c.get("smtp.req.parameter", ""))
                 for c in s.commands if c.get("smtp.req.command", "").upper() == "RCPT"]
        qid = s.queue_id() or "?"
        want = "".join(line + "\r\n" for line in s.text).encode()
        for user in users:
            for stored in lab.maildir_messages(user.lower()):
                if f" id {qid}".encode() in stored.split(b"\r\n\r\n", 1)[0] or \
                        f" id {qid}".encode() in stored.split(b"\n\n", 1)[0]:
                    got = strip_trace_headers(stored)
                    if got != want:
                        raise Fail(f"message {qid} stored as you sent it, un-stuffed",
                                   f"{got[:100]!r}", "RFC 5321 §4.5.2")
                    return
        raise Fail(f"message {qid} in the Maildir of {', '.join(users) or 'its recipient'}"
                   " (.lab-state/mail/USER/Maildir)", "not there", "RFC 5321 §4.1.1.4")

    def question(name, key, where, rfc=None, compare=None):
        @grader.check(f"q-{name}")
        def q():
            value = lab.answer(name)
            keys = key(lab.session())
            if keys is None:
                raise Fail(f"{where} in your capture to answer about", "none", rfc)
            keys = keys if isinstance(keys, (list, tuple)) else [keys]
            if not any((compare or (lambda a, b: a == b))(value, k) for k in keys):
                raise Fail(where, repr(value), rfc)

    same_int = lambda a, b: as_int(a) == b  # noqa: E731
    same_word = lambda a, b: a.strip().upper() == str(b).upper()  # noqa: E731
    same_line = lambda a, b: a.rstrip() == b.rstrip()  # noqa: E731

    question("client-port", lambda s: s.open.get("tcp.srcport"),
             "the port of your side of the connection (the open event's tcp.srcport)",
             "RFC 9293 §3.1", same_int)
    question("server-port", lambda s: s.open.get("tcp.dstport"),
             "the port the server listened on", "RFC 9293 §3.1", same_int)
    question("354-answers",
             lambda s: next((r.get("mw.answers") for r in s.replies
                             if r.get("smtp.response.code") == 354), None),
             "the verb of your command that the 354 answered", "RFC 5321 §4.1.1.4", same_word)
    question("first-text-line", lambda s: [s.wire[0], s.text[0]] if s.text else None,
             "the first line you sent after the 354 (the message text it invited)",
             "RFC 5321 §4.1.1.4", same_line)
    question("end-of-data-frame", lambda s: s.ends[0]["frame.number"] if s.ends else None,
             "the frame number of the packet with the '.' line that ended the data "
             "(mw-trace --json, frame.number)", "RFC 5321 §4.1.1.4", same_int)
    question("line-on-the-wire", lambda s: s.dotted_on_the_wire() or None,
             "your dot line as it went on the wire (with the stuffed dot)",
             "RFC 5321 §4.5.2", same_line)
    question("line-as-stored", lambda s: s.dotted() or None,
             "your dot line as the server stored it (one dot fewer)", "RFC 5321 §4.5.2",
             same_line)
    question("queue-id", lambda s: s.queue_id(),
             "the id the server gave your message in its 250 reply to the end of the data",
             "RFC 5321 §4.1.1.4, §4.4", same_word)


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 1: SMTP by hand", args.results)
    checks(grader, Lab1(directory))
    return grader.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
