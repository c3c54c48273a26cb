#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lab 8 grader: starts the student's smtp-server on a free loopback port
with an empty directory, once per check, and talks to it with clients we
did not write (Python's smtplib, swaks, curl, mw-send) and with a socket of
its own (pipelining, bad order, bad syntax, overlong lines, NUL octets, a
client that vanishes mid-DATA, the end-of-data look-alikes of lab 7). It
checks the replies' codes and what the server stored, byte for byte, and
that the server is still running, clean under AddressSanitizer.

  grade.py [DIR] [--results results.json]
"""
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import (SMUGGLING_ENDS, Fail, build_checks, Grader, Submission, main_args,  # noqa: E402
                    program, smuggling_text)

LAB = os.path.dirname(os.path.abspath(__file__))
ALICE, BOB, CAROL = "alice@lab.test", "bob@lab.test", "carol@lab.test"
FOREIGN = "dave@relay-test.invalid"
TEXT = (b"From: Alice <alice@lab.test>\r\nTo: Bob <bob@lab.test>\r\n"
        b"Subject: lab 8\r\n\r\nHello Bob,\r\nthis went through your own server.\r\n")
PLAIN = b"Subject: second\r\n\r\nNo dots in this one\r\n"
DOTS = (b"Subject: dots\r\n\r\nA line with a dot follows.\r\n.\r\n"
        b"..two dots\r\n.hidden\r\nlast line\r\n")


def stuffed(text):
    """TEXT as a client sends it after 354 (RFC 5321 §4.5.2), with the end."""
    lines = text.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def stored_form(sender, recipients, text):
    """The file the lab asks for: Return-Path, Delivered-To lines, the text."""
    return (b"Return-Path: <" + sender.encode() + b">\r\n" +
            b"".join(b"Delivered-To: " + r.encode() + b"\r\n" for r in recipients) + text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One run of the student's server: PORT, DIR, its stderr kept."""

    def __init__(self, sub, scratch, name):
        self.sub, self.dir = sub, os.path.join(scratch, name)
        os.makedirs(self.dir)
        self.err, self.proc, self.port = b"", None, None

    def start(self):
        for _ in range(3):  # a port taken between free_port () and bind ()
            self.port = free_port()
            self.proc = self.sub.spawn([str(self.port), self.dir])
            threading.Thread(target=self._read_err, daemon=True).start()
            threading.Thread(target=self.proc.stdout.read, daemon=True).start()
            if self._wait_listening():
                return self
            self.stop()
        raise Fail(f"the server listening on 127.0.0.1 port {self.port} within 10 s",
                   self.describe())

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def _wait_listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.settimeout(2)
                    try:
                        s.recv(512)  # the greeting, or nothing
                    except OSError:
                        pass
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def describe(self):
        tail = self.err.decode(errors="replace").strip().splitlines()[-3:]
        status = "running" if self.proc and self.proc.poll() is None else \
            f"exit status {self.proc.returncode if self.proc else '?'}"
        return status + (f", stderr: {' | '.join(tail)}" if tail else "")

    def alive(self, after):
        """Raises Fail unless the server still runs, clean, after AFTER."""
        if self.proc.poll() is not None:
            time.sleep(0.2)  # its last words on stderr
            raise Fail(f"the server still running after {after}", self.describe(),
                       "RFC 5321 §4.5.3.1.4: bad input gets a reply, the server survives")
        report = sanitizer(self.err)
        if report:
            raise Fail("a server clean under AddressSanitizer", report)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=5)

    def messages(self):
        """The files the server stored (names not starting with '.'), oldest first."""
        names = [n for n in os.listdir(self.dir) if not n.startswith(".")]
        paths = sorted((os.stat(os.path.join(self.dir, n)).st_mtime_ns, n) for n in names)
        return [open(os.path.join(self.dir, n), "rb").read() for _, n in paths]

    def all_files(self):
        return [open(os.path.join(self.dir, n), "rb").read() for n in os.listdir(self.dir)]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def sanitizer(err):
    text = err.decode(errors="replace")
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        at = text.find(marker)
        if at >= 0:
            return text[at:].splitlines()[0]
    return None


class Client:
    """A socket that speaks SMTP line by line, each wait bounded."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buffer:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise Fail("a reply within 10 s", "nothing (the server is silent)",
                           "RFC 5321 §4.2: every command gets a reply")
            except OSError as error:
                raise Fail("a reply", f"the connection failed: {error}")
            if not data:
                raise Fail("a reply", "the server closed the connection"
                           + (f" after {self.buffer[:60]!r}" if self.buffer else ""))
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """(code, [lines]) of one reply, all its lines (RFC 5321 §4.2.1)."""
        lines = []
        while True:
            line = self._line()
            lines.append(line)
            if len(line) < 3 or not line[:3].isdigit():
                raise Fail("a reply line starting with three digits", repr(line),
                           "RFC 5321 §4.2")
            if line[3:4] != "-":
                return int(line[:3]), lines

    def expect(self, what, codes, rfc):
        """Reads one reply; Fail unless its code is in CODES."""
        code, lines = self.reply()
        if code not in codes:
            want = " or ".join(str(c) for c in codes)
            raise Fail(f"{want} to {what}", " | ".join(lines)[:160], rfc)
        return code, lines

    def command(self, line, codes, rfc, what=None):
        self.send(line.encode() + b"\r\n")
        return self.expect(what or line[:40], codes, rfc)

    def closed(self, timeout=5):
        """True if the server closes the connection within TIMEOUT s."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(4096)
                if not data:
                    return True
        except OSError:
            return False

    def close(self):
        self.sock.close()


def hello(port):
    c = Client(port)
    c.expect("the connection (a greeting)", {220}, "RFC 5321 §3.1")
    c.command("EHLO client.lab.test", {250}, "RFC 5321 §4.1.1.1")
    return c


def send_message(c, sender, recipients, text):
    c.command(f"MAIL FROM:<{sender}>", {250}, "RFC 5321 §4.1.1.2")
    for r in recipients:
        c.command(f"RCPT TO:<{r}>", {250}, "RFC 5321 §4.1.1.3")
    c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
    c.send(stuffed(text))
    return c.expect("the end of the text (CRLF . CRLF)", {250}, "RFC 5321 §4.1.1.4")


def one_stored(server, expected, rfc):
    got = server.messages()
    if len(got) != 1:
        raise Fail("one file in the directory", f"{len(got)}", rfc)
    if got[0] != expected:
        at = next((i for i, (a, b) in enumerate(zip(got[0], expected)) if a != b),
                  min(len(got[0]), len(expected)))
        raise Fail(f"the file to hold exactly ...{expected[max(0, at - 30):at + 30]!r}... "
                   f"({len(expected)} octets)",
                   f"...{got[0][max(0, at - 30):at + 30]!r}... ({len(got[0])} octets)", rfc)


def checks(grader, sub, scratch):
    count = [0]

    def server():
        count[0] += 1
        return Server(sub, scratch, f"run{count[0]}")

    need_build = build_checks(grader, sub, "smtp-server")

    @grader.check("greeting-and-quit")
    def greeting():
        need_build()
        with server() as s:
            c = Client(s.port)
            c.expect("the connection (a greeting)", {220}, "RFC 5321 §3.1, §4.2")
            c.command("HELO client.lab.test", {250}, "RFC 5321 §4.1.1.1")
            c.command("QUIT", {221}, "RFC 5321 §4.1.1.10")
            if not c.closed():
                raise Fail("the server to close the connection after 221", "it stayed open",
                           "RFC 5321 §4.1.1.10")
            s.alive("QUIT")

    @grader.check("smtplib")
    def with_smtplib():
        need_build()
        with server() as s:
            try:
                with smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.lab.test",
                                  timeout=10) as smtp:
                    refused = smtp.sendmail(ALICE, [BOB, CAROL], TEXT)
            except (smtplib.SMTPException, OSError) as error:
                raise Fail("Python's smtplib to send a message to two recipients",
                           f"{type(error).__name__}: {error}"[:200], "RFC 5321 §3.3")
            if refused:
                raise Fail("both recipients accepted", f"refused {refused}", "RFC 5321 §4.1.1.3")
            one_stored(s, stored_form(ALICE, [BOB, CAROL], TEXT), "RFC 5321 §3.3, §4.4")
            s.alive("smtplib")

    def client_program(name, argv, expected, stdin=None):
        with server() as s:
            args = [a.replace("PORT", str(s.port)) for a in argv]
            try:
                proc = subprocess.run(args, input=stdin, capture_output=True, timeout=30)
            except subprocess.TimeoutExpired:
                raise Fail(f"{name} to finish within 30 s", "it waited (for a reply?)",
                           "RFC 5321 §4.2")
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).decode(errors="replace").strip()
                raise Fail(f"{name} to send the message (exit status 0)",
                           f"exit status {proc.returncode}: {tail[-200:]}", "RFC 5321 §3.3")
            one_stored(s, expected, "RFC 5321 §3.3, §4.4")
            s.alive(name)

    @grader.check("swaks")
    def with_swaks():
        need_build()
        if not shutil.which("swaks"):
            raise Fail("swaks installed (./run test installs it)", "not found")
        client_program("swaks", ["swaks", "--server", "127.0.0.1", "--port", "PORT",
                                 "--helo", "client.lab.test", "--from", ALICE,
                                 "--to", f"{BOB},{CAROL}", "--data", "-", "--silent", "2"],
                       stored_form(ALICE, [BOB, CAROL], TEXT),
                       stdin=TEXT[:-2])  # swaks adds CRLF . CRLF itself

    @grader.check("curl")
    def with_curl():
        need_build()
        if not shutil.which("curl"):
            raise Fail("curl installed (./run test installs it)", "not found")
        path = os.path.join(scratch, "curl-message.txt")
        with open(path, "wb") as f:
            f.write(TEXT)
        client_program("curl", ["curl", "-sS", "--max-time", "20",
                                "smtp://127.0.0.1:PORT/client.lab.test",
                                "--mail-from", ALICE, "--mail-rcpt", BOB,
                                "--upload-file", path],
                       stored_form(ALICE, [BOB], TEXT))

    @grader.check("mw-send")
    def with_mw_send():
        need_build()
        path = os.path.join(scratch, "mw-send-message.eml")
        with open(path, "wb") as f:
            f.write(TEXT)
        client_program("mw-send", [program("mw-send"), "--server", "127.0.0.1:PORT",
                                   "--helo", "client.lab.test", "--from", ALICE,
                                   "--to", BOB, "--to", CAROL, "--eml", path],
                       stored_form(ALICE, [BOB, CAROL], TEXT))

    @grader.check("dot-unstuffing")
    def dot_unstuffing():
        need_build()
        with server() as s:
            c = hello(s.port)
            send_message(c, ALICE, [BOB], DOTS)
            one_stored(s, stored_form(ALICE, [BOB], DOTS),
                       "RFC 5321 §4.5.2: remove the first '.' of a line that has more")
            s.alive("a message with dots")

    @grader.check("transactions")
    def transactions():
        need_build()
        with server() as s:
            c = hello(s.port)
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("RSET", {250}, "RFC 5321 §4.1.1.5")
            c.command("NOOP", {250}, "RFC 5321 §4.1.1.9")
            send_message(c, CAROL, [CAROL], TEXT)
            c.command("noop", {250}, "RFC 5321 §2.4: verbs in any case")
            c.command("mail from:<>", {250}, "RFC 5321 §4.1.1.2, §2.4: the null reverse-path")
            c.command(f"rcpt to:<{BOB}>", {250}, "RFC 5321 §4.1.1.3, §2.4")
            c.command("data", {354}, "RFC 5321 §4.1.1.4")
            c.send(stuffed(PLAIN))
            c.expect("the end of the text", {250}, "RFC 5321 §4.1.1.4")
            c.command("QUIT", {221}, "RFC 5321 §4.1.1.10")
            got = s.messages()
            want = [stored_form(CAROL, [CAROL], TEXT), stored_form("", [BOB], PLAIN)]
            if got != want:
                raise Fail("two files: carol's message for carol only (RSET forgot bob), "
                           "then one from <> for bob", f"{[g[:80] for g in got]}",
                           "RFC 5321 §3.3, §4.1.1.5: each transaction starts empty")
            s.alive("two transactions")

    @grader.check("bad-order-503")
    def bad_order():
        need_build()
        rfc = "RFC 5321 §4.1.4: a command out of order gets 503 and changes nothing"
        with server() as s:
            c = Client(s.port)
            c.expect("the connection", {220}, "RFC 5321 §3.1")
            c.command(f"MAIL FROM:<{ALICE}>", {503}, rfc, "MAIL before EHLO")
            c.command(f"RCPT TO:<{BOB}>", {503}, rfc, "RCPT before EHLO")
            c.command("EHLO client.lab.test", {250}, "RFC 5321 §4.1.1.1")
            c.command(f"RCPT TO:<{BOB}>", {503}, rfc, "RCPT before MAIL")
            c.command("DATA", {503, 554}, rfc, "DATA before MAIL")
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.command("DATA", {503, 554}, "RFC 5321 §4.1.1.4: no recipient, no DATA",
                      "DATA before any RCPT")
            c.command(f"MAIL FROM:<{CAROL}>", {503}, rfc, "a second MAIL in a transaction")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
            c.send(stuffed(TEXT))
            c.expect("the end of the text", {250}, "RFC 5321 §4.1.1.4")
            c.command("QUIT", {221}, "RFC 5321 §4.1.1.10")
            one_stored(s, stored_form(ALICE, [BOB], TEXT),
                       "RFC 5321 §4.1.4: what was refused with 503 left no trace")
            s.alive("commands out of order")

    @grader.check("syntax-500-501")
    def syntax():
        need_build()
        with server() as s:
            c = Client(s.port)
            c.expect("the connection", {220}, "RFC 5321 §3.1")
            c.command("FROB nicate", {500}, "RFC 5321 §4.2.4: an unknown command is 500")
            c.command("HELO", {501}, "RFC 5321 §4.1.1.1: HELO needs a domain (501)")
            c.command("EHLO client.lab.test", {250}, "RFC 5321 §4.1.1.1")
            c.command(f"MAIL FROM:{ALICE}", {501}, "RFC 5321 §4.1.2: the path has <brackets>")
            c.command(f"MAIL TO:<{ALICE}>", {501}, "RFC 5321 §4.1.1.2: MAIL FROM:")
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.command("RCPT TO:", {501}, "RFC 5321 §4.1.1.3: RCPT TO:<address>")
            c.command(f"RCPT <{BOB}>", {501}, "RFC 5321 §4.1.1.3: RCPT TO:<address>")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
            c.send(stuffed(TEXT))
            c.expect("the end of the text", {250}, "RFC 5321 §4.1.1.4")
            one_stored(s, stored_form(ALICE, [BOB], TEXT), "RFC 5321 §3.3")
            s.alive("bad syntax")

    @grader.check("no-open-relay")
    def no_relay():
        need_build()
        with server() as s:
            c = hello(s.port)
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.send(f"RCPT TO:<{FOREIGN}>\r\n".encode())
            code, lines = c.reply()
            if not 500 <= code < 600:
                raise Fail(f"5xx (550) to RCPT TO:<{FOREIGN}>: not our domain",
                           " | ".join(lines)[:120], "RFC 5321 §7.1: no open relay (lab 7)")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
            c.send(stuffed(TEXT))
            c.expect("the end of the text", {250}, "RFC 5321 §4.1.1.4")
            one_stored(s, stored_form(ALICE, [BOB], TEXT), "RFC 5321 §3.3: refused is left out")
            s.alive("a foreign recipient")

    @grader.check("pipelining")
    def pipelining():
        need_build()
        rfc = "RFC 2920 §3: commands sent in one write get their replies in order"
        with server() as s:
            c = Client(s.port)
            c.expect("the connection", {220}, "RFC 5321 §3.1")
            c.send(f"EHLO client.lab.test\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\n"
                   f"RCPT TO:<{CAROL}>\r\nDATA\r\n".encode())
            code, ehlo = c.expect("EHLO (first of five commands in one write)", {250}, rfc)
            for what, want in (("MAIL", 250), ("the first RCPT", 250),
                               ("the second RCPT", 250), ("DATA", 354)):
                c.expect(f"{what}, pipelined after EHLO", {want}, rfc)
            c.send(stuffed(TEXT) + b"RSET\r\nNOOP\r\nQUIT\r\n")
            c.expect("the end of the text, with RSET NOOP QUIT in the same write", {250}, rfc)
            for what, want in (("RSET", 250), ("NOOP", 250), ("QUIT", 221)):
                c.expect(f"{what}, pipelined after the text", {want}, rfc)
            one_stored(s, stored_form(ALICE, [BOB, CAROL], TEXT), "RFC 2920, RFC 5321 §3.3")
            if not any(l[4:].strip().upper().split(" ")[0] == "PIPELINING" for l in ehlo[1:]):
                raise Fail("PIPELINING among the EHLO keywords", " | ".join(ehlo)[:160],
                           "RFC 2920 §2: a server that takes pipelined commands says so")
            s.alive("pipelined commands")

    @grader.check("overlong-lines")
    def overlong():
        need_build()
        rfc = "RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with CRLF; 500"
        with server() as s:
            c = hello(s.port)
            longest = "NOOP " + "x" * 505  # 510 octets + CRLF = 512: allowed
            c.command(longest, {250}, "RFC 5321 §4.5.3.1.4: 512 octets with CRLF is allowed",
                      "NOOP with 512 octets in all")
            for size in (2000, 100000):
                c.command("NOOP " + "y" * size, {500, 501}, rfc,
                          f"a command line of {size + 7} octets")
                c.command("NOOP", {250}, rfc + "; one reply for one long line, then go on",
                          f"NOOP after the {size + 7}-octet line")
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
            text = b"Subject: long\r\n\r\n" + b"z" * 5000 + b"\r\nend\r\n"
            c.send(stuffed(text))
            code, lines = c.reply()
            if code == 250:
                one_stored(s, stored_form(ALICE, [BOB], text),
                           "RFC 5321 §4.5.3.1.6: a long text line kept whole, or refused")
            elif 500 <= code < 600:
                if s.messages():
                    raise Fail("no file after a 5xx to the text", "a file", "RFC 5321 §4.2.5")
            else:
                raise Fail("250 (stored) or 5xx (refused) to a text with a 5000-octet line",
                           " | ".join(lines)[:120], "RFC 5321 §4.5.3.1.6")
            c.command("NOOP", {250}, "RFC 5321 §4.5.3.1.6: the session goes on",
                      "NOOP after the long text line")
            s.alive("overlong lines")

    @grader.check("nul-octets")
    def nul():
        need_build()
        with server() as s:
            c = hello(s.port)
            c.send(b"NOOP\0 hidden\r\n")
            c.expect("a command with a NUL octet", {500, 501},
                     "RFC 5321 §4.1.2: a command is printable US-ASCII; NUL is a syntax error")
            c.command("NOOP", {250}, "RFC 5321 §4.1.2: the session goes on",
                      "NOOP after the NUL")
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
            text = b"Subject: nul\r\n\r\nbefore\0after the NUL\r\nlast\r\n"
            c.send(stuffed(text))
            code, lines = c.reply()
            if code == 250:
                one_stored(s, stored_form(ALICE, [BOB], text),
                           "the line with the NUL stored whole (not cut at it), or refused")
            elif 500 <= code < 600:
                if s.messages():
                    raise Fail("no file after a 5xx to the text", "a file", "RFC 5321 §4.2.5")
            else:
                raise Fail("250 or 5xx to a text holding a NUL", " | ".join(lines)[:120],
                           "RFC 5321 §4.5.2")
            c.command("NOOP", {250}, "the session goes on", "NOOP after the text")
            s.alive("NUL octets")

    @grader.check("client-vanishes-mid-data")
    def vanishes():
        need_build()
        with server() as s:
            c = hello(s.port)
            c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
            c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
            c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
            c.send(b"Subject: half\r\n\r\nhalf a mess")
            time.sleep(0.2)
            c.close()
            c = hello(s.port)  # the next client is served
            send_message(c, CAROL, [CAROL], TEXT)
            c.command("QUIT", {221}, "RFC 5321 §4.1.1.10")
            half = [f for f in s.all_files() if b"half a mess" in f]
            if half:
                raise Fail("no file holding the message that never ended",
                           f"{half[0][:80]!r}", "RFC 5321 §4.1.1.4: only CRLF . CRLF "
                           "completes a message; write it whole or not at all")
            one_stored(s, stored_form(CAROL, [CAROL], TEXT), "RFC 5321 §3.3")
            s.alive("a client that vanished mid-DATA")

    @grader.check("no-smuggling")
    def smuggling():
        need_build()
        rfc = "RFC 5321 §4.1.1.4: only CRLF . CRLF ends the text (CVE-2023-51764)"
        with server() as s:
            for name, end in SMUGGLING_ENDS.items():
                before = len(s.messages())
                c = hello(s.port)
                c.command(f"MAIL FROM:<{ALICE}>", {250}, "RFC 5321 §4.1.1.2")
                c.command(f"RCPT TO:<{BOB}>", {250}, "RFC 5321 §4.1.1.3")
                c.command("DATA", {354}, "RFC 5321 §4.1.1.4")
                c.send(smuggling_text(end, "smuggler@lab.test", CAROL))
                code, lines = c.reply()
                c.send(b"QUIT\r\n")
                after = c.reply()
                if after[0] != 221:
                    raise Fail(f"one reply to the whole text with {end!r} inside ({name}), "
                               f"then 221 to QUIT", f"{code}, then {' | '.join(after[1])[:80]}"
                               " (the lines after it were taken as commands)", rfc)
                new = s.messages()[before:]
                if code == 250 and (len(new) != 1 or b"MAIL FROM:<smuggler@" not in new[0]
                                    or b"Delivered-To: " + CAROL.encode() in new[0]):
                    raise Fail(f"one file for bob holding the smuggled lines as text ({name})",
                               f"{[n[:100] for n in new]}", rfc)
                if code != 250 and new:
                    raise Fail(f"no file after {code} ({name})", f"{len(new)} files", rfc)
                c.close()
            s.alive("smuggling attempts")


def main(argv):
    args = main_args(argv)
    directory = args.dir or os.path.join(LAB, "..", "work", os.path.basename(LAB))
    grader = Grader("lab 8: an SMTP server", args.results)
    submission = Submission(directory, LAB, "smtp-server")
    with tempfile.TemporaryDirectory(prefix="mw-lab8-") as scratch:
        checks(grader, submission, scratch)
        status = grader.run()
    submission.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
