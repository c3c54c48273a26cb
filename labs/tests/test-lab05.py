#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-lab05.py: lab 5's grader grades what it should (suite labs, TAP).

The reference submission is solution/ plus what a student hands in from
the lab, made here as `./run lab 05` makes it: mw-smtpd, mw-pop3d and
mw-imapd with TLS on mailwire's default ports (the ones mw-trace knows
implicit TLS by), in a network namespace of its own (`unshare --net`) so
that those ports are free, mw-trace capturing lo there. The solution's
probe runs against the three servers; this side also types the sessions a
student types (a STARTTLS and an RSET in one write, CAPA before STLS, an
implicit TLS session on 2465) and computes the answers from what it saw
(for the first encrypted record: the server's octets, read through an
ssl.MemoryBIO), not from mw-trace, which is what the grader reads.

Full marks for the reference; four plausible wrong probes (mutants of
solution/: the certificate not checked, the capabilities not asked again
after TLS, a TLS session that comes up taken for an injection, the
injected command sent after the STARTTLS reply instead of in the same
write) each fail exactly the checks naming the mistake; wrong answers fail
their questions; the starter fails every check but the build ones, saying
what is missing. Without root (no namespace, no capture) the questions are
expected to fail for want of a capture.
"""
import concurrent.futures
import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
LABS = os.path.dirname(TESTS)
LAB = "05-starttls-on-the-wire"
sys.path.insert(0, os.path.join(LABS, "lib"))
import labkit  # noqa: E402

spec = importlib.util.spec_from_file_location("test_labs", os.path.join(TESTS, "test-labs.py"))
test_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_labs)

QUESTIONS = {"q-readable-commands", "q-auth-before-tls", "q-first-encrypted-bytes",
             "q-smtps-readable-lines", "q-injected-command", "q-reply-after-injection",
             "q-pop3-capa-lines"}
DEFAULT_PORTS = {"smtp": 2525, "submission": 2587, "smtps": 2465, "pop3": 2110,
                 "pop3s": 2995, "imap": 2143, "imaps": 2993}
MUTANTS = [
    ("certificate-not-checked",
     [("  gnutls_session_set_verify_cert (c->tls, host, 0);\n", "")],
     {"checks-the-certificate"}),
    ("capabilities-not-asked-again",
     [("  if (send_line (&c, proto->capability))\n"
       "    read_response (&c, tag_of (proto->capability, tag), 1, &after, last);",
       "  after = before; /* the bug: what was learnt in clear is kept */")],
     {"mw-smtpd-submission", "mw-pop3d-stls", "mw-imapd-starttls", "discarding-server"}),
    ("tls-up-is-vulnerable",
     [("  else if (read_line (&c, last, INJECTED_WAIT_MS))",
       "  else if (1) /* the bug: a TLS session that came up */")],
     {"discarding-server"}),
    ("injected-after-the-reply",
     [('  snprintf (both, sizeof both, "%s\\r\\n%s", proto->starttls, proto->injected);\n'
       "  if (!greet (&c, NULL, last) || !send_line (&c, both) ||\n"
       "      read_response (&c, tag_of (proto->starttls, tag), 0, NULL, last) != 1)",
       "  snprintf (both, sizeof both, \"%s\", proto->starttls);\n"
       "  if (!greet (&c, NULL, last) || !send_line (&c, both) ||\n"
       "      read_response (&c, tag_of (proto->starttls, tag), 0, NULL, last) != 1 ||\n"
       "      !send_line (&c, proto->injected)) /* the bug: not in the same write */")],
     {"vulnerable-server-injection"}),
]

tap = []


def ok(cond, name, why=""):
    tap.append((bool(cond), name, why))


# ---- the lab session (run as `test-lab05.py --lab-session DIR` in a new
# network namespace) --------------------------------------------------------

def recv_until(sock, done, timeout=10):
    data = b""
    deadline = time.monotonic() + timeout
    sock.settimeout(1)
    while time.monotonic() < deadline and not done(data):
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def smtp_reply_done(data):
    lines = data.split(b"\r\n")
    return any(len(l) >= 4 and l[3:4] == b" " for l in lines)


def injection_session(port):
    """EHLO, then STARTTLS and RSET in one write; (RSET, last reply code)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    recv_until(s, smtp_reply_done)
    s.sendall(b"EHLO student.lab.test\r\n")
    recv_until(s, smtp_reply_done)
    s.sendall(b"STARTTLS\r\nRSET\r\n")
    data = recv_until(s, lambda d: False, timeout=5)  # to the server's close
    s.close()
    codes = [l[:3].decode() for l in data.split(b"\r\n") if len(l) >= 4 and l[3:4] == b" "]
    return "RSET", codes[-1]


def pop3_capa_session(port):
    """CAPA, then STLS and QUIT; the number of capability lines."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    recv_until(s, lambda d: b"\r\n" in d)
    s.sendall(b"CAPA\r\n")
    data = recv_until(s, lambda d: d.endswith(b"\r\n.\r\n"))
    s.sendall(b"QUIT\r\n")
    recv_until(s, lambda d: False, timeout=3)
    s.close()
    return len(data.split(b"\r\n")) - 3  # minus +OK, ".", ""


def implicit_session(port, cafile):
    """EHLO and QUIT over TLS from the first octet (RFC 8314 §3.3); the
    length of the first encrypted record (type 23) the server sent."""
    context = ssl.create_default_context(cafile=cafile)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    seen = b""

    def pump():
        nonlocal seen
        if outgoing.pending:
            s.sendall(outgoing.read())
        chunk = s.recv(65536)
        seen += chunk
        incoming.write(chunk)
        return chunk

    def call(fn, *args):
        while True:
            try:
                return fn(*args)
            except ssl.SSLWantReadError:
                if not pump():
                    raise
    call(tls.do_handshake)
    text = b""
    for command in (None, b"EHLO student.lab.test\r\n", b"QUIT\r\n"):
        if command:
            call(tls.write, command)
        text = b""
        while not smtp_reply_done(text):
            text += call(tls.read, 4096)
    if outgoing.pending:
        s.sendall(outgoing.read())
    s.close()
    offset = 0
    while offset + 5 <= len(seen):
        kind, length = seen[offset], int.from_bytes(seen[offset + 3:offset + 5], "big")
        if kind == 23:
            return length
        offset += 5 + length
    return None


def lab_session(d):
    """In a network namespace of its own: the lab's servers on the default
    ports, a capture, the probe and the student's sessions; answers.json."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    probe = os.path.join(d, "probe-build", "starttls-probe")
    mw = labkit.Mailwire(os.path.join(d, "state"), pop3=True, imap=True,
                         smtp_port=DEFAULT_PORTS["smtp"], pop3_port=DEFAULT_PORTS["pop3"],
                         imap_port=DEFAULT_PORTS["imap"], tls=True, tls_ports=DEFAULT_PORTS,
                         plaintext_auth="never").start()
    try:
        with labkit.Capture(os.path.join(d, "capture.pcap"), DEFAULT_PORTS.values()) as cap:
            outs = [subprocess.run([probe, proto, "127.0.0.1", str(DEFAULT_PORTS[label]),
                                    mw.cert], capture_output=True, text=True,
                                   timeout=120).stdout
                    for proto, label in (("smtp", "submission"), ("pop3", "pop3"),
                                         ("imap", "imap"))]
            injected, last = injection_session(DEFAULT_PORTS["smtp"])
            capa = pop3_capa_session(DEFAULT_PORTS["pop3"])
            first = implicit_session(DEFAULT_PORTS["smtps"], mw.cert)
            cap.wait_closed(3 * 2 + 3)
    finally:
        mw.stop()
    answers = {
        "readable-commands": "EHLO STARTTLS",  # what the probe sends in clear
        "auth-before-tls": "yes" if "auth-before-tls: yes" in outs[0] else "no",
        "first-encrypted-bytes": first,
        "smtps-readable-lines": 0,
        "injected-command": injected,
        "reply-after-injection": last,
        "pop3-capa-lines": capa,
    }
    with open(os.path.join(d, "answers.json"), "w") as f:
        json.dump(answers, f)


# ---- the test --------------------------------------------------------------

def make_lab_session(scratch):
    """capture.pcap, the answers and what makes the capture incomplete
    ([] if nothing: labkit.capture_problems, which also reads the drops
    mw-trace reported); an incomplete capture (a loaded machine) is made
    again, 3 times at most."""
    for attempt in range(3):
        d = os.path.join(scratch, f"lab-session-{attempt}")
        shutil.copytree(os.path.join(LABS, LAB, "solution"), os.path.join(d, "probe-build"))
        subprocess.run(["make", "-C", os.path.join(d, "probe-build")], check=True,
                       capture_output=True, timeout=120)
        proc = subprocess.run(["unshare", "--net", sys.executable, os.path.abspath(__file__),
                               "--lab-session", d], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError("the lab session failed: " + proc.stderr[-1500:])
        capture = os.path.join(d, "capture.pcap")
        problems = labkit.capture_problems(capture)
        if not problems:
            break
    return capture, json.load(open(os.path.join(d, "answers.json"))), problems


def decrypted_commands(capture, keylog):
    """The commands mw-trace reads inside TLS with the key log the lab's
    servers wrote (`[general] tls_keylog`, what README step 7 uses)."""
    tracer = os.path.join(os.environ.get("MW_BUILD_ROOT", os.path.join(LABS, "..", "build")),
                          "src", "tracer", "mw-trace")
    out = subprocess.run([tracer, "-r", capture, "--keylog", keylog, "--json"],
                         capture_output=True, text=True, timeout=120).stdout
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [(e.get("proto"), e.get("line")) for e in events
            if e.get("kind") == "command" and e.get("tls.decrypted")]


def submission(scratch, name, source, capture, answers, edits=()):
    d = os.path.join(scratch, name)
    shutil.copytree(source, d)
    for old, new in edits:
        path = os.path.join(d, "starttls-probe.c")
        text = open(path).read()
        if old not in text:
            return None
        open(path, "w").write(text.replace(old, new, 1))
    if capture:
        shutil.copy(capture, d)
        with open(os.path.join(d, "answers.txt"), "w") as f:
            f.write("# lab 5 answers (made by test-lab05.py)\n")
            for key, value in answers.items():
                f.write(f"{key}: {value}\n")
    return d


def main():
    scratch = tempfile.mkdtemp(prefix="test-lab05-")
    try:
        capture, answers = None, {}
        missing = set(QUESTIONS)
        if labkit.can_capture() and shutil.which("unshare"):
            capture, answers, problems = make_lab_session(scratch)
            ok(not problems, f"/labs/{LAB}/lab-session/capture-complete",
               "three captures in a row incomplete: " + "; ".join(problems))
            # the servers' key log opens the same sessions: the probe's
            # capability commands after each upgrade, and the implicit TLS
            # session's EHLO on 2465
            keylog = os.path.join(os.path.dirname(capture), "state", "keys.log")
            inside = decrypted_commands(capture, keylog) if os.path.exists(keylog) else []
            ok({("smtp", "EHLO student.lab.test"), ("pop", "CAPA")} <= set(inside) and
               any(p == "imap" and "CAPABILITY" in (l or "") for p, l in inside),
               f"/labs/{LAB}/lab-session/key-log-decrypts-the-sessions",
               f"keys.log there: {os.path.exists(keylog)}; decrypted commands: {inside[:12]}")
            missing = set()
        solution = os.path.join(LABS, LAB, "solution")
        jobs = [("solution", submission(scratch, "solution", solution, capture, answers), missing),
                ("starter", os.path.join(LABS, LAB, "starter"), None)]
        for name, edits, fails in MUTANTS:
            d = submission(scratch, name, solution, capture, answers, edits)
            ok(d is not None, f"/labs/{LAB}/mutant/{name}/applies",
               "the solution changed: update the mutant's text")
            if d:
                jobs.append((name, d, fails | missing))
        if capture:
            wrong = dict(answers, **{"reply-after-injection": "250", "injected-command": "MAIL",
                                     "first-encrypted-bytes": int(answers["first-encrypted-bytes"]) + 1,
                                     "auth-before-tls": "yes"})
            jobs.append(("wrong-answers", submission(scratch, "wrong-answers", solution,
                                                     capture, wrong),
                         {"q-reply-after-injection", "q-injected-command",
                          "q-first-encrypted-bytes", "q-auth-before-tls"}))
        for kind, _, _ in jobs:
            os.makedirs(os.path.join(scratch, f"g-{kind}"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {kind: (pool.submit(test_labs.grade, LAB, d,
                                          os.path.join(scratch, f"g-{kind}")), fails)
                       for kind, d, fails in jobs}
            done = {kind: (f.result(), fails) for kind, (f, fails) in futures.items()}
        reference = done["solution"][0][1]
        for kind, ((proc, verdicts, data), fails) in done.items():
            prefix = f"/labs/{LAB}/{kind}"
            errors = test_labs.schema_errors(data)
            ok(not errors, f"{prefix}/results-json-is-gradescope-format", "; ".join(errors))
            failed = {n for n, v in verdicts.items() if v == "FAIL"}
            if kind == "starter":
                lines = [l for l in proc.stdout.splitlines() if l.startswith("FAIL")]
                ok(proc.returncode != 0 and set(verdicts) - failed == {"builds", "no-warnings"}
                   and all(": expected " in l for l in lines),
                   f"{prefix}/fails-saying-what-is-missing", proc.stdout[-800:])
                continue
            label = "full-marks" if not fails else f"fails-exactly-{'+'.join(sorted(fails))}"
            ok(failed == fails and (proc.returncode == 0) == (not fails) and
               set(verdicts) == set(reference) and len(verdicts) >= 16,
               f"{prefix}/{label}", f"failed {sorted(failed)}: {proc.stdout[-900:]}")
        if not capture:
            ok(True, f"/labs/{LAB}/trace-questions # SKIP live capture and unshare --net "
                     "need root")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{len(tap)}")
    for n, (good, name, why) in enumerate(tap, 1):
        print(f"{'ok' if good else 'not ok'} {n} {name}")
        if not good:
            for line in why.splitlines()[-14:]:
                print(f"# {line}")
    return 0 if all(t[0] for t in tap) else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--lab-session":
        lab_session(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
