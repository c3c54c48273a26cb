#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 4 grader: runs the student's idle-watch against mw-imapd through a
recording proxy (so it knows which side sent each line, and when), delivers
mail with mw-send and sets a flag from another session with mw-imap, and
checks what the program printed, how fast, and what it sent. The trace
questions are keyed from the student's own capture and sync outputs.

  grade.py [DIR] [--results results.json]
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import (PASSWORD, Fail, build_checks, Grader, Mailwire, Submission, main_args,  # noqa: E402
                    password_file, program, read_answers, trace_json, whole_capture)

LAB = os.path.dirname(os.path.abspath(__file__))
PUSH_DEADLINE = 1.0  # seconds from the change to the printed push
IDLE_RFC = "RFC 2177 §3, RFC 9051 §6.3.13"


class Proxy:
    """127.0.0.1:port -> the server; log of (time, 'C'|'S', line)."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.log, self.lock = [], threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.listener.settimeout(30)
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
        for src, dst, side in ((client, server, "C"), (server, client, "S")):
            threading.Thread(target=self._pump, args=(src, dst, side), daemon=True).start()

    def _pump(self, src, dst, side):
        pending = b""
        src.settimeout(None)
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            pending += data
            with self.lock:
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.log.append((time.monotonic(), side,
                                     line.rstrip(b"\r").decode(errors="replace")))
            try:
                dst.sendall(data)
            except OSError:
                return

    def lines(self):
        with self.lock:
            return list(self.log)

    def close(self):
        self.listener.close()


class Run:
    """One run of the student's program: its stdout lines with times."""

    def __init__(self, sub, args):
        self.proc = sub.spawn(args, env={"IMAP_PASSWORD": PASSWORD})
        self.out, self.err = [], b""
        self.readers = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.out.append((time.monotonic(), raw.decode(errors="replace").rstrip("\r\n")))

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def wait_for(self, pattern, since, deadline):
        """The first stdout line after SINCE matching PATTERN, within DEADLINE s."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            hit = next(((t, l) for t, l in list(self.out) if t >= since and re.search(pattern, l)),
                       None)
            if hit:
                return hit
            time.sleep(0.01)
        return None

    def finish(self, timeout):
        """Waits for the exit (killing after TIMEOUT s), then for the last
        lines the program wrote to be read."""
        try:
            self.proc.wait(timeout=timeout)
            exited = True
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
            exited = False
        for reader in self.readers:
            reader.join(timeout=5)
        return exited


def commands(log):
    """[(time, tag, VERB, line)] of the client's lines ('DONE' has no tag)."""
    found = []
    for t, side, line in log:
        if side != "C":
            continue
        words = line.split(" ", 2)
        if len(words) == 1:
            found.append((t, "", words[0].upper(), line))
        else:
            found.append((t, words[0], words[1].upper(), line))
    return found


def tagged_reply(log, tag):
    return next(((t, line) for t, side, line in log
                 if side == "S" and tag and line.startswith(tag + " ")), None)


class Scenario:
    """The program watching bob's INBOX (one message in it) via the proxy;
    a delivery, then a flag set from another session; then SIGINT (or, with
    EVENTS, the program stopping by itself)."""

    def __init__(self, lab, events=0):
        self.lab, self.events = lab, events
        lab.count += 1
        state = os.path.join(lab.scratch, f"run{lab.count}")
        self.mw = Mailwire(state, smtp=True, imap=True).start()
        self.mw.deliver("bob", b"From: alice@lab.test\r\nSubject: first\r\n\r\nhi\r\n")
        self.pw = password_file(state)
        self.proxy = Proxy(self.mw.ports["imap"])
        self.exists = self.flags = self.stopped_at = None
        self.exited = False
        try:
            self._play()
        finally:
            self.proxy.close()
            self.mw.stop()

    def _idling(self):
        log = self.proxy.lines()
        cmds = commands(log)
        idle = [c for c in cmds if c[2] == "IDLE"]
        select = [c for c in cmds if c[2] == "SELECT"]
        if idle:
            return any(s == "S" and line.startswith("+") and t >= idle[0][0]
                       for t, s, line in log)
        return bool(select and tagged_reply(log, select[0][1]) and
                    time.monotonic() - tagged_reply(log, select[0][1])[0] > 0.5)

    def _play(self):
        args = (["--events", str(self.events)] if self.events else []) + [
            "127.0.0.1", str(self.proxy.port), "bob"]
        self.run = run = Run(self.lab.sub, args)
        end = time.monotonic() + 10
        while time.monotonic() < end and not self._idling() and run.proc.poll() is None:
            time.sleep(0.02)
        time.sleep(0.1)
        self.send_at = time.monotonic()
        subprocess.run([program("mw-send"), "--server", f"127.0.0.1:{self.mw.ports['smtp']}",
                        "--from", "alice@lab.test", "--to", "bob@lab.test",
                        "--subject", "lab 4", "--body", "pushed?"],
                       check=True, timeout=20, capture_output=True)
        self.sent_at = time.monotonic()
        self.exists = run.wait_for(r"^\* 2 EXISTS\b", self.send_at, PUSH_DEADLINE + 0.5)
        time.sleep(0.2)
        self.flag_at = time.monotonic()
        subprocess.run([program("mw-imap"), "--server", f"127.0.0.1:{self.mw.ports['imap']}",
                        "--user", "bob", "--password-file", self.pw,
                        "flag", "INBOX", "1", "+\\Flagged"],
                       check=True, timeout=20, capture_output=True)
        self.flagged_at = time.monotonic()
        self.flags = run.wait_for(r"^\* 1 FETCH \(.*FLAGS \([^)]*\\Flagged", self.flag_at,
                                  PUSH_DEADLINE + 0.5)
        time.sleep(0.3)
        self.running_at_stop = run.proc.poll() is None
        self.stopped_at = time.monotonic()
        if not self.events and self.running_at_stop:
            run.proc.send_signal(signal.SIGINT)
        self.exited = run.finish(5)
        self.log = self.proxy.lines()
        time.sleep(0.05)


class Lab4:
    def __init__(self, submission, scratch):
        self.sub, self.scratch, self.count = submission, scratch, 0
        self._a = self._b = None
        self.answers = read_answers(os.path.join(submission.dir, "answers.txt"))

    def a(self):
        if self._a is None:
            if not self.sub.built:
                raise Fail("a program to run", "it did not build")
            self._a = Scenario(self)
        return self._a

    def b(self):
        if self._b is None:
            if not self.sub.built:
                raise Fail("a program to run", "it did not build")
            self._b = Scenario(self, events=2)
        return self._b


def idle_span(log, until):
    """(idle command, its '+', lines the client sent from IDLE to UNTIL)."""
    cmds = commands(log)
    idle = next((c for c in cmds if c[2] == "IDLE"), None)
    if not idle:
        return None, None, []
    plus = next(((t, l) for t, s, l in log if s == "S" and l.startswith("+") and t >= idle[0]),
                None)
    return idle, plus, [c for c in cmds if idle[0] < c[0] < until]


def checks(grader, lab):
    sub = lab.sub

    build_checks(grader, sub, "idle-watch")

    @grader.check("login-and-select")
    def login_select():
        log = lab.a().log
        cmds = [c for c in commands(log) if c[1]]
        verbs = [c[2] for c in cmds]
        if verbs[:2] != ["LOGIN", "SELECT"] or not cmds[1][3].upper().endswith(" INBOX"):
            raise Fail("LOGIN, then SELECT INBOX", " | ".join(c[3] for c in cmds[:2])
                       .replace(PASSWORD, "***") or "no command", "RFC 9051 §6.2.3, §6.3.2")
        for before, after in zip(cmds, cmds[1:2]):
            reply = tagged_reply(log, before[1])
            if not reply or reply[0] > after[0]:
                raise Fail(f"{after[2]} sent after the tagged reply to {before[2]}",
                           "it was sent before", "RFC 9051 §2.2.2")
            if not reply[1].split(" ")[1:2] == ["OK"]:
                raise Fail(f"OK to {before[2]}", reply[1], "RFC 9051 §7.1")

    @grader.check("idles-not-polls")
    def idles():
        s = lab.a()
        idle, plus, sent = idle_span(s.log, s.stopped_at)
        if not idle:
            other = [c[3] for c in commands(s.log)[2:4]]
            raise Fail("IDLE after SELECT: the server pushes, the client does not ask",
                       " | ".join(other) or "no command after SELECT", IDLE_RFC)
        bad = [c for c in sent if c[2] not in ("DONE", "IDLE")]
        if bad:
            raise Fail("only DONE sent while idling (the server pushes; no polling)",
                       f"{bad[0][3]!r}, {len(bad)} command(s) in all", IDLE_RFC)

    @grader.check("exists-pushed")
    def exists():
        s = lab.a()
        if not s.exists:
            shown = " | ".join(l for _, l in s.run.out[-4:]) or "nothing"
            raise Fail(f"'* 2 EXISTS' printed within {PUSH_DEADLINE:.0f} s of the delivery",
                       shown, "RFC 9051 §7.4.1, RFC 2177 §3")
        if s.exists[0] - s.sent_at > PUSH_DEADLINE:
            raise Fail(f"'* 2 EXISTS' within {PUSH_DEADLINE:.0f} s",
                       f"after {s.exists[0] - s.sent_at:.2f} s", "RFC 2177 §3")

    @grader.check("flags-pushed")
    def flags():
        s = lab.a()
        if not s.flags:
            shown = " | ".join(l for _, l in s.run.out[-4:]) or "nothing"
            raise Fail(f"'* 1 FETCH (FLAGS (\\Flagged))' printed within {PUSH_DEADLINE:.0f} s"
                       " of the flag set by another session", shown,
                       "RFC 9051 §7.5.2, RFC 2177 §3")
        if s.flags[0] - s.flagged_at > PUSH_DEADLINE:
            raise Fail(f"the FETCH FLAGS within {PUSH_DEADLINE:.0f} s",
                       f"after {s.flags[0] - s.flagged_at:.2f} s", "RFC 2177 §3")

    def need_idle(s):
        if not s.run.out:
            raise Fail("pushes printed on stdout to judge", "nothing printed", IDLE_RFC)

    @grader.check("waits-for-continuation")
    def continuation():
        s = lab.a()
        need_idle(s)
        plus = [l for _, l in s.run.out if l.startswith("+")]
        if plus:
            raise Fail("the '+' continuation read before waiting, not printed as a push",
                       f"{plus[0]!r} printed", "RFC 9051 §7.5, RFC 2177 §3")

    @grader.check("prints-untagged-only")
    def untagged():
        s = lab.a()
        need_idle(s)
        tags = {c[1] for c in commands(s.log) if c[1]}
        tagged = [l for _, l in s.run.out if l.split(" ")[0] in tags]
        if tagged:
            raise Fail("only untagged responses printed: a tagged OK completes a command,"
                       " it is not news", f"{tagged[0]!r} printed", "RFC 9051 §7.1, §2.2.2")

    @grader.check("ends-cleanly")
    def ends():
        s = lab.a()
        if not s.running_at_stop:
            raise Fail("idle-watch still watching when Ctrl-C came", s.run.err.decode(
                errors="replace").strip()[-200:] or f"exit status {s.run.proc.returncode}")
        idle, plus, _ = idle_span(s.log, s.stopped_at)
        after = [c for c in commands(s.log) if c[0] >= s.stopped_at]
        open_idle = idle and not tagged_reply([x for x in s.log if x[0] < s.stopped_at], idle[1])
        verbs = [c[2] for c in after]
        if open_idle and verbs[:1] != ["DONE"]:
            raise Fail("DONE first after Ctrl-C: it alone ends IDLE", " | ".join(verbs) or
                       "nothing sent", IDLE_RFC)
        if not verbs or verbs[-1] != "LOGOUT":
            raise Fail("LOGOUT as the last command", " | ".join(verbs) or "nothing sent",
                       "RFC 9051 §6.1.3")
        if not s.exited or s.run.proc.returncode != 0:
            raise Fail("exit status 0 within 5 s of Ctrl-C", "killed after 5 s" if not s.exited
                       else f"exit status {s.run.proc.returncode}")
        m = re.search(rb"(ERROR: AddressSanitizer: [^\n]*|runtime error: [^\n]*)", s.run.err)
        if m:
            raise Fail("a run clean under AddressSanitizer", m.group(1).decode())

    @grader.check("stops-after-n-events")
    def stops():
        s = lab.b()
        pushes = [l for _, l in s.run.out]
        logout = [c for c in commands(s.log) if c[2] == "LOGOUT"]
        if not logout:
            raise Fail("with --events 2, LOGOUT sent by itself after 2 pushes",
                       f"{len(pushes)} printed, no LOGOUT", "RFC 9051 §6.1.3")
        if len(pushes) < 2:
            raise Fail("2 pushes printed before stopping", f"{len(pushes)}: {pushes}")

    questions(grader, lab)


# ---- trace questions: keys from the student's capture and sync outputs ----

def idle_session(lab):
    capture = os.path.join(lab.sub.dir, "capture.pcap")
    if not os.path.isfile(capture):
        raise Fail(f"capture.pcap in {lab.sub.dir} (`./run lab 04` as root writes it)",
                   "no capture")
    streams = {}
    for e in trace_json(capture, body=False):
        if e.get("proto") == "imap":
            streams.setdefault(e["tcp.stream"], []).append(e)
    mine = [evs for _, evs in sorted(streams.items())
            if any(e.get("imap.request.command") == "LOGIN" for e in evs) and
            any(e.get("imap.request.command") == "IDLE" for e in evs)]
    if not mine:
        raise Fail("a session of your idle-watch in the capture (LOGIN ... IDLE)", "none")
    whole_capture(capture, mine[-1], lab="04")  # the keys come from this session
    return mine[-1]


def sync_count(lab, name):
    path = os.path.join(lab.sub.dir, name)
    if not os.path.isfile(path):
        raise Fail(f"{name}: the output of a no-change `mw-imap sync` (README step 5)", "none")
    m = re.search(r"^INBOX: .*\((\d+) commands?", open(path).read(), re.M)
    if not m:
        raise Fail(f"an INBOX line ending '(N commands)' in {name}", "none")
    return int(m.group(1))


def questions(grader, lab):
    def question(name, key, where, rfc):
        @grader.check(f"q-{name}")
        def q():
            value = lab.answers.get(name)
            if value is None:
                raise Fail(f"an answer '{name}: ...' in answers.txt", "none")
            keys = key()
            keys = keys if isinstance(keys, list) else [keys]
            if value.strip().strip("'\"").rstrip() not in [str(k) for k in keys]:
                raise Fail(where, repr(value), rfc)

    def lines(side):
        return sum(1 for e in idle_session(lab) if e.get("dir") == side and "line" in e)

    def pushes():
        return [e["line"] for e in idle_session(lab) if e.get("mw.imap.push")]

    question("client-lines", lambda: lines("C->S"),
             "how many lines your program sent in its session (dir C->S)", "RFC 9051 §2.2")
    question("server-lines", lambda: lines("S->C"),
             "how many lines the server sent in that session (dir S->C)", "RFC 9051 §2.2")
    question("idle-tag", lambda: next(e["imap.request.tag"] for e in idle_session(lab)
                                      if e.get("imap.request.command") == "IDLE"),
             "the tag your program gave IDLE", "RFC 9051 §2.2.1")
    question("continuation", lambda: next(e["line"] for e in idle_session(lab)
                                          if e.get("imap.response.tag") == "+"),
             "the line the server sent right after your IDLE", "RFC 9051 §7.5")
    question("pushes", lambda: len(pushes()),
             "how many responses the server sent while your program idled, answering "
             "no command (mw.imap.push)", "RFC 2177 §3")
    question("first-push", lambda: pushes()[:1] or ["(none)"],
             "the first of those pushed responses", "RFC 2177 §3")
    question("qresync-commands", lambda: sync_count(lab, "sync-qresync.txt"),
             "the commands INBOX cost on a no-change sync, as sync-qresync.txt says",
             "RFC 7162 §3.2.5")
    question("no-qresync-commands", lambda: sync_count(lab, "sync-no-qresync.txt"),
             "the commands INBOX cost with --no-qresync, as sync-no-qresync.txt says",
             "RFC 7162 §3.2.5")


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 4: IMAP, one mailbox, two devices", args.results)
    submission = Submission(directory, LAB, "idle-watch")
    with tempfile.TemporaryDirectory(prefix="mw-lab4-") as scratch:
        checks(grader, Lab4(submission, scratch))
        status = grader.run()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
