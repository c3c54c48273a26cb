#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-faults.py: the [faults] section (src/common/mail-faults.h) in real
mw-smtpd and mw-pop3d processes on 127.0.0.1, ephemeral ports (TAP).
Each case starts the server with one [faults] text, talks to it with a
socket, and checks what came back; a bad [faults] value must stop the
server with a message naming the key. Every wait is bounded."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

build = os.environ["MW_BUILD_ROOT"]
results = []


def server(state, name, faults, users=True):
    conf = os.path.join(state, "mailwire.conf")
    with open(conf, "w") as f:
        f.write("[general]\nstate_dir = .\ndomains = lab.test\n"
                "[smtp]\nport = 0\nsubmission_port = -1\nsmtps_port = -1\n"
                "[pop3]\nport = 0\npop3s_port = -1\n[imap]\nport = -1\nimaps_port = -1\n"
                "[faults]\n" + faults + "\n")
    pw = os.path.join(state, "pw")
    with open(pw, "w") as f:
        f.write("secret\n")
    if users and not os.path.exists(os.path.join(state, "users")):
        subprocess.run([os.path.join(build, "src/tools/mw-admin"), "--config", conf,
                        "user", "add", "bob", "--password-file", pw], check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
    out = open(os.path.join(state, name + ".out"), "w+")
    proc = subprocess.Popen([os.path.join(build, "src/servers", name), "--config", conf],
                            stdout=out, stderr=open(os.path.join(state, name + ".err"), "w"))
    for _ in range(200):
        out.seek(0)
        text = out.read()
        m = re.search(r"(smtp|pop3) listening on [^\n]*:(\d+)", text)
        if m and "ready" in text:
            return proc, int(m.group(2))
        if proc.poll() is not None:
            return proc, None
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(name + " did not start")


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.segments = 0

    def reply(self):
        """Every line of one SMTP reply (or one POP3 line)."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                return lines
            lines.append(line.decode())
            if line[3:4] != b"-":
                return lines

    def send(self, text):
        self.sock.sendall(text.encode())

    def closed(self):
        return self.file.read() == b""


def case(name, fn):
    with tempfile.TemporaryDirectory(prefix="test-faults-") as state:
        try:
            fn(state)
            results.append((True, name, ""))
        except Exception as error:  # the TAP line says what
            results.append((False, name, repr(error)))


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def smtp(faults):
    def wrap(fn):
        def run(state):
            proc, port = server(state, "mw-smtpd", faults)
            try:
                c = Conn(port)
                greeting = c.reply()
                expect("FAULT INJECTION ON" in greeting[-1] or
                       "FAULT INJECTION ON" in greeting[0], f"loud greeting: {greeting}")
                fn(c, state)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        return run
    return wrap


def mailbox(state, user="bob"):
    d = os.path.join(state, "mail", user, "Maildir", "new")
    return os.listdir(d) if os.path.isdir(d) else []


def start_transaction(c, rcpts=("bob",)):
    for cmd in ["EHLO t", "MAIL FROM:<a@x>"] + [f"RCPT TO:<{r}@lab.test>" for r in rcpts]:
        c.send(cmd + "\r\n")
        c.reply()


@smtp("reply = RCPT#2 451")
def nth_verb_reply(c, state):
    """/faults/smtp/reply-to-nth-rcpt: the second RCPT gets 451 and is not
    added; the first is (RFC 5321 §4.2.1)"""
    start_transaction(c, ("bob",))
    c.send("RCPT TO:<bob@lab.test>\r\n")
    expect(c.reply()[-1].startswith("451 "), "451 to RCPT#2")
    c.send("DATA\r\n")
    expect(c.reply()[-1].startswith("354"), "DATA still goes on")


@smtp("reply = #1 421")
def nth_command_421(c, state):
    """/faults/smtp/421-to-first-command-closes (RFC 5321 §3.8)"""
    c.send("EHLO t\r\n")
    expect(c.reply()[-1].startswith("421 "), "421")
    expect(c.closed(), "the server closes after 421")


@smtp("drop = .")
def drop_after_data(c, state):
    """/faults/smtp/drop-after-data-stores-then-hangs-up"""
    start_transaction(c)
    c.send("DATA\r\n")
    c.reply()
    c.send("Subject: x\r\n\r\nhello\r\n.\r\n")
    expect(c.reply() == [], "no reply to the end of data")
    expect(len(mailbox(state)) == 1, "the message was stored before the drop")


@smtp("reply = . 451")
def defer_after_accept(c, state):
    """/faults/smtp/accept-then-defer"""
    start_transaction(c)
    c.send("DATA\r\n")
    c.reply()
    c.send("hello\r\n.\r\n")
    expect(c.reply()[-1].startswith("451"), "451 after the text")
    expect(len(mailbox(state)) == 1, "stored all the same")


@smtp("trickle = true\nmultiline = true")
def trickle_multiline(c, state):
    """/faults/smtp/trickle-and-multiline: one octet per segment, every
    reply with two lines (RFC 5321 §4.2.1)"""
    c.send("NOOP\r\n")
    lines = c.reply()
    expect(len(lines) == 2 and lines[0].startswith("250-"), f"two lines: {lines}")


@smtp("pipelining = false")
def no_pipelining(c, state):
    """/faults/smtp/no-pipelining: not offered, and a pipelined group is
    refused (RFC 2920 §3.1)"""
    c.send("EHLO t\r\n")
    expect(not any("PIPELINING" in l for l in c.reply()), "no PIPELINING in EHLO")
    c.send("MAIL FROM:<a@x>\r\nRCPT TO:<bob@lab.test>\r\n")
    expect(c.reply()[-1].startswith("554 5.5.0"), "554 for the pipelined MAIL")
    expect(c.closed(), "then the connection closes")


@smtp("delay = DATA 400")
def text_before_354(c, state):
    """/faults/smtp/text-before-late-354-is-refused (RFC 2920 §3.1)"""
    start_transaction(c)
    began = time.monotonic()
    c.send("DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n")
    reply = c.reply()
    expect(time.monotonic() - began >= 0.35, "the 354 was late")
    expect(reply[-1].startswith("554"), f"554, got {reply}")
    expect(mailbox(state) == [], "nothing stored")


def pop3_case(faults, check):
    def run(state):
        proc, port = server(state, "mw-pop3d", faults)
        try:
            md = os.path.join(state, "mail", "bob", "Maildir")
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(md, sub), exist_ok=True)
            with open(os.path.join(md, "new", "1.lab"), "wb") as f:
                f.write(b"Subject: one\r\n\r\nbody\r\n")
            c = Conn(port)
            expect("FAULT INJECTION ON" in c.reply()[0], "loud greeting")
            for cmd in ("USER bob", "PASS secret"):
                c.send(cmd + "\r\n")
                expect(c.reply()[0].startswith("+OK"), cmd)
            check(c, md)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return run


def drop_after_retr(c, md):
    """/faults/pop3/drop-after-retr: the whole message, then the end"""
    c.send("RETR 1\r\n")
    text = c.file.read()
    expect(text.startswith(b"+OK") and text.endswith(b"\r\n.\r\n"), f"message then EOF: {text!r}")


def drop_at_quit(c, md):
    """/faults/pop3/drop-at-quit-deletes-nothing (RFC 1939 §6)"""
    c.send("DELE 1\r\n")
    expect(c.reply()[0].startswith("+OK"), "DELE")
    c.send("QUIT\r\n")
    expect(c.closed(), "dropped instead of answering QUIT")
    time.sleep(0.2)
    expect(len(os.listdir(os.path.join(md, "new")) + os.listdir(os.path.join(md, "cur"))) == 1,
           "the message is still there")


def err_to_retr(c, md):
    """/faults/pop3/err-to-retr"""
    c.send("RETR 1\r\n")
    expect(c.reply()[0].startswith("-ERR"), "-ERR")


def bad_value(state):
    """/faults/config/bad-value-names-the-key"""
    proc, port = server(state, "mw-smtpd", "reply = RCPT 99", users=False)
    proc.wait(timeout=10)
    err = open(os.path.join(state, "mw-smtpd.err")).read()
    expect(port is None and proc.returncode != 0, "the server refuses to start")
    expect("[faults] reply" in err and ":" in err, f"names the key: {err}")


def unknown_key(state):
    """/faults/config/unknown-key"""
    proc, port = server(state, "mw-smtpd", "trikle = true", users=False)
    proc.wait(timeout=10)
    err = open(os.path.join(state, "mw-smtpd.err")).read()
    expect("trikle" in err, f"names the key: {err}")


def disabled(state):
    """/faults/config/enabled-false-turns-all-off"""
    proc, port = server(state, "mw-smtpd", "enabled = false\nreply = EHLO 502")
    try:
        c = Conn(port)
        expect("FAULT" not in c.reply()[0], "quiet greeting")
        c.send("EHLO t\r\n")
        expect(c.reply()[-1].startswith("250 "), "EHLO works")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CASES = [nth_verb_reply, nth_command_421, drop_after_data, defer_after_accept,
         trickle_multiline, no_pipelining, text_before_354,
         pop3_case("drop = after RETR", drop_after_retr),
         pop3_case("drop = QUIT", drop_at_quit),
         pop3_case("reply = RETR -ERR", err_to_retr),
         bad_value, unknown_key, disabled]
NAMES = ["/faults/smtp/reply-to-nth-rcpt", "/faults/smtp/421-closes",
         "/faults/smtp/drop-after-data", "/faults/smtp/accept-then-defer",
         "/faults/smtp/trickle-and-multiline", "/faults/smtp/no-pipelining",
         "/faults/smtp/text-before-late-354", "/faults/pop3/drop-after-retr",
         "/faults/pop3/drop-at-quit-deletes-nothing", "/faults/pop3/err-to-retr",
         "/faults/config/bad-value", "/faults/config/unknown-key",
         "/faults/config/enabled-false"]

print(f"1..{len(CASES)}")
for n, (fn, name) in enumerate(zip(CASES, NAMES), 1):
    case(name, fn)
    ok, _, why = results[-1]
    print(f"{'ok' if ok else 'not ok'} {n} {name}" + ("" if ok else f" # {why}"),
          flush=True)
sys.exit(0 if all(r[0] for r in results) else 1)
