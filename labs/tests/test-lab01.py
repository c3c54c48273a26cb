#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-lab01.py: lab 1's grader grades what it should (suite labs, TAP).

Each submission is made here the way a student makes one: mw-smtpd started
as `./run lab 01` starts it (state in DIR/.lab-state), mw-trace capturing
into DIR/capture.pcap, and a socket typing solution/session.txt line by
line, each command after the server's reply. The answers are computed from
what this side saw (its own port, the queue id in the 250 it read, the
capture's frame numbers read with a small pcap reader below), not from
mw-trace, so the grader's keys are checked against an independent reading.

The reference gets full marks (also handed in without .lab-state, and
after a first, failed session); wrong answers, a message without a dot
line, a dot line sent unstuffed, RCPT before MAIL and a missing QUIT each
fail exactly the checks that name the mistake; the starter fails every
check saying what is expected. Live capture needs root: as another user
every test skips, saying so.
"""
import importlib.util
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.abspath(__file__))
LABS = os.path.dirname(TESTS)
LAB = os.path.join(LABS, "01-smtp-by-hand")
sys.path.insert(0, os.path.join(LABS, "lib"))
import labkit  # noqa: E402

spec = importlib.util.spec_from_file_location("test_labs", os.path.join(TESTS, "test-labs.py"))
test_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_labs)

ALL = {"capture", "commands-in-order", "dot-stuffed-line", "message-delivered",
       "q-client-port", "q-server-port", "q-354-answers", "q-first-text-line",
       "q-end-of-data-frame", "q-line-on-the-wire", "q-line-as-stored", "q-queue-id"}
tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


def typed_lines():
    """solution/session.txt: the lines a student types (not the S: ones)."""
    lines = []
    for raw in open(os.path.join(LAB, "solution", "session.txt")):
        line = raw.rstrip("\n")
        if not line.startswith(("#", "S:")):
            lines.append(line)
    return lines


class Typist:
    """One SMTP session typed over a socket, as with nc -C."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.client_port = self.sock.getsockname()[1]
        self.replies = [self.reply()]

    def reply(self):
        lines = []
        while True:
            line = self.file.readline().decode()
            if len(line) < 4:
                raise RuntimeError(f"the server closed or sent {line!r}")
            lines.append(line.rstrip("\r\n"))
            if line[3] == " ":
                return lines

    def type(self, lines):
        """Types LINES; waits for a reply after each command and after '.'."""
        in_data = False
        for line in lines:
            self.sock.sendall(line.encode() + b"\r\n")
            if in_data and line != ".":
                continue
            self.replies.append(self.reply())
            in_data = line.upper() == "DATA" and self.replies[-1][-1].startswith("354")
        return self

    def close(self):
        self.file.close()
        self.sock.close()


def client_frames(capture, client_port):
    """[(frame number, client payload)] of one connection, read from the pcap
    directly (Ethernet, Linux cooked or raw IPv4 on lo)."""
    data = open(capture, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    skip = {1: 14, 113: 16, 101: 0, 0: 4}[linktype]
    frames, offset, number = [], 24, 0
    while offset + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        packet = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        number += 1
        ip = packet[skip:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        tcp = ip[(ip[0] & 15) * 4:]
        total = struct.unpack(">H", ip[2:4])[0]
        payload = tcp[(tcp[12] >> 4) * 4:total - (ip[0] & 15) * 4]
        if struct.unpack(">H", tcp[0:2])[0] == client_port and payload:
            frames.append((number, payload))
    return frames


def end_of_data_frame(capture, client_port):
    sent = b""
    for number, payload in client_frames(capture, client_port):
        sent += payload
        start = sent.upper().find(b"\r\nDATA\r\n")
        if start >= 0 and b"\r\n.\r\n" in sent[start + 6:]:
            return number
    return None


def make_submission(root, name, sessions, answers_from=-1, wrong=None):
    """DIR with .lab-state, capture.pcap and answers.txt computed from the
    session ANSWERS_FROM (index into SESSIONS, lists of typed lines). A
    capture that lost packets (a loaded host: mw-trace shows a gap) is made
    again, at most three times."""
    for attempt in range(3):
        d, problems = make_one(root, f"{name}.{attempt}", sessions, answers_from, wrong)
        if not problems:
            break
    ok(not problems, f"/labs/01-smtp-by-hand/{name}/capture-complete",
       "three captures in a row incomplete: " + "; ".join(problems))
    os.rename(d, os.path.join(root, name))
    return os.path.join(root, name)


def make_one(root, name, sessions, answers_from, wrong):
    d = os.path.join(root, name)
    os.makedirs(d)
    shutil.copy(os.path.join(LAB, "starter", "answers.txt"), d)
    mw = labkit.Mailwire(os.path.join(d, ".lab-state")).start()
    typists = []
    try:
        with labkit.Capture(os.path.join(d, "capture.pcap"), [mw.ports["smtp"]]) as capture:
            for lines in sessions:
                t = Typist(mw.ports["smtp"]).type(lines)
                if lines[-1] == "QUIT":
                    t.file.read()  # up to the server's close after its 221
                t.close()
                typists.append((t, lines))
            capture.wait_closed(len(sessions))
    finally:
        mw.stop()
    problems = labkit.capture_problems(os.path.join(d, "capture.pcap"))  # (reads .log)
    for extra in (".log", ".json"):
        os.unlink(os.path.join(d, "capture.pcap" + extra))
    t, lines = typists[answers_from]
    text = lines[lines.index("DATA") + 1:lines.index(".")]
    dotted = [line for line in text if line.startswith("..")]
    accepted = [r[-1] for r in t.replies if r[-1].startswith("250") and "message" in r[-1]]
    qid = re.search(r"message (\S+) accepted", accepted[0]).group(1) if accepted else ""
    answers = {
        "client-port": t.client_port,
        "server-port": mw.ports["smtp"],
        "354-answers": "DATA",
        "first-text-line": text[0],
        "end-of-data-frame": end_of_data_frame(os.path.join(d, "capture.pcap"), t.client_port),
        "line-on-the-wire": dotted[0] if dotted else "",
        "line-as-stored": dotted[0][1:] if dotted else "",
        "queue-id": qid,
    }
    answers.update(wrong or {})
    with open(os.path.join(d, "answers.txt"), "a") as f:
        f.write("\n# filled in by test-lab01.py\n")
        for key, value in answers.items():
            f.write(f"{key}: {value}\n")
    return d, problems


def grade(directory, scratch):
    results = os.path.join(scratch, os.path.basename(directory) + ".json")
    proc = subprocess.run([sys.executable, os.path.join(LAB, "grade.py"), directory,
                           "--results", results], capture_output=True, text=True, timeout=300)
    verdicts = {n: k for k, n in re.findall(r"^(PASS|FAIL) ([\w-]+)", proc.stdout, re.M)}
    data = json.load(open(results)) if os.path.exists(results) else None
    return proc, verdicts, data


def expect(name, directory, scratch, fails):
    proc, verdicts, data = grade(directory, scratch)
    errors = test_labs.schema_errors(data)
    ok(not errors, f"/labs/01-smtp-by-hand/{name}/results-json-is-gradescope-format",
       "; ".join(errors))
    failed = {n for n, v in verdicts.items() if v == "FAIL"}
    if failed != fails and os.environ.get("MW_LAB_KEEP"):
        shutil.copytree(directory, os.environ["MW_LAB_KEEP"] + "-" + name, dirs_exist_ok=True)
    label = "full-marks" if not fails else f"fails-exactly-{'+'.join(sorted(fails))}"
    ok(set(verdicts) == ALL and failed == fails and (proc.returncode == 0) == (not fails),
       f"/labs/01-smtp-by-hand/{name}/{label}", f"failed {sorted(failed)}:\n{proc.stdout}")
    return proc


def main():
    if not labkit.can_capture():
        print("1..1\nok 1 /labs/01-smtp-by-hand # SKIP live capture on lo needs root")
        return 0
    scratch = tempfile.mkdtemp(prefix="test-lab01-")
    reference = typed_lines()
    data_at = reference.index("DATA")
    dot_at = next(i for i, line in enumerate(reference) if line.startswith(".."))
    try:
        d = make_submission(scratch, "reference", [reference])
        expect("reference", d, scratch, set())
        alone = os.path.join(scratch, "capture-alone")
        os.makedirs(alone)
        for f in ("capture.pcap", "answers.txt"):
            shutil.copy(os.path.join(d, f), alone)
        expect("capture-handed-in-alone", alone, scratch, set())

        failed_first = [reference[0], "RCPT TO:<bob@lab.test>", "QUIT"]
        d = make_submission(scratch, "second-session", [failed_first, reference])
        expect("graded-on-the-session-that-delivered", d, scratch, set())

        d = make_submission(scratch, "wrong-answers", [reference], wrong={
            "client-port": 1, "queue-id": "0123456789ABCDEF", "end-of-data-frame": 3,
            "line-as-stored": reference[dot_at]})
        expect("wrong-answers", d, scratch, {"q-client-port", "q-queue-id",
                                             "q-end-of-data-frame", "q-line-as-stored"})

        no_dot = reference[:dot_at] + reference[dot_at + 1:]
        d = make_submission(scratch, "no-dot-line", [no_dot])
        expect("no-dot-line", d, scratch,
               {"dot-stuffed-line", "q-line-on-the-wire", "q-line-as-stored"})

        unstuffed = list(reference)
        unstuffed[dot_at] = reference[dot_at][1:]  # typed with one dot only
        d = make_submission(scratch, "dot-not-stuffed", [unstuffed], wrong={
            "line-on-the-wire": unstuffed[dot_at], "line-as-stored": unstuffed[dot_at]})
        proc = expect("dot-not-stuffed", d, scratch,
                      {"dot-stuffed-line", "q-line-on-the-wire", "q-line-as-stored"})
        ok("forgot to dot-stuff" in proc.stdout, "/labs/01-smtp-by-hand/dot-not-stuffed/says-why",
           proc.stdout)

        mail_at = next(i for i, line in enumerate(reference) if line.startswith("MAIL"))
        rcpt_first = list(reference)
        rcpt_first[mail_at], rcpt_first[mail_at + 1] = reference[mail_at + 1], reference[mail_at]
        rcpt_first.insert(mail_at + 2, reference[mail_at + 1])  # RCPT again, after MAIL
        d = make_submission(scratch, "rcpt-before-mail", [rcpt_first])
        proc = expect("rcpt-before-mail", d, scratch, {"commands-in-order"})
        ok("503" in proc.stdout, "/labs/01-smtp-by-hand/rcpt-before-mail/names-the-503",
           proc.stdout)

        no_quit = [line for line in reference if line != "QUIT"]
        d = make_submission(scratch, "no-quit", [no_quit])
        expect("no-quit", d, scratch, {"commands-in-order"})

        proc, verdicts, data = grade(os.path.join(LAB, "starter"), scratch)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
        ok(proc.returncode != 0 and len(lines) == len(ALL) and
           all(": expected " in line for line in lines),
           "/labs/01-smtp-by-hand/starter/fails-saying-what-is-missing", proc.stdout)
        ok(data_at > 0, "/labs/01-smtp-by-hand/session-has-data")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{len(tap)}")
    for n, (good, name, why) in enumerate(tap, 1):
        print(f"{'ok' if good else 'not ok'} {n} {name}")
        if not good:
            for line in why.splitlines()[-16:]:
                print(f"# {line}")
    return 0 if all(t[0] for t in tap) else 1


if __name__ == "__main__":
    sys.exit(main())
