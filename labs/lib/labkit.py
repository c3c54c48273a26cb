# SPDX-License-Identifier: MIT
"""labkit: what every lab grader shares (Python 3, standard library only).

  Mailwire    mw-smtpd / mw-pop3d / mw-imapd on 127.0.0.1 with a lab
              configuration, ephemeral ports, users, a [faults] section
              when asked, TLS (STARTTLS and implicit) when asked
  Submission  the student's program: their C files built with the lab's
              Makefile (warnings on, AddressSanitizer), or their `run` script
  Grader      checks -> "PASS name" / "FAIL name: expected ..., got ..., RFC",
              "score: X/Y", results.json in Gradescope's format, exit status
  Capture     mw-trace writing a pcap of given ports (root), trace_json ()
              reading a capture back as mw-trace --json events, and
              capture_problems () / whole_capture (): is the capture whole?
  SMUGGLING_ENDS, smuggling_text ()   end-of-data look-alikes (labs 7, 8)
Every wait is bounded; every process started here is stopped by its PID.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

PASSWORD = "lab-password"
USERS = ("alice", "bob", "carol")
DOMAIN = "lab.test"


def build_root():
    """The meson build directory whose servers the graders run."""
    root = os.environ.get("MW_BUILD_ROOT")
    if not root:
        top = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        root = os.path.join(top, "build")
    return root


def program(name):
    for sub in ("servers", "clients", "tools", "tracer"):
        path = os.path.join(build_root(), "src", sub, name)
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError(f"{name} is not built in {build_root()}: run ./run build")


class Fail(Exception):
    """A check failed: what was expected, what happened, where the RFC says so."""

    def __init__(self, expected, got, rfc=None):
        super().__init__(expected)
        self.expected, self.got, self.rfc = expected, got, rfc

    def line(self):
        text = f"expected {self.expected}, got {self.got}"
        return text + (f" ({self.rfc})" if self.rfc else "")


# ---- the servers -----------------------------------------------------------

class Mailwire:
    """mw-smtpd and/or mw-pop3d in STATE (a fresh directory), on ports the
    kernel picks (or the ones given), with alice, bob and carol as users
    (password PASSWORD). `faults` is the text of a [faults] section."""

    TLS_LISTENERS = ("submission", "smtps", "pop3s", "imaps")

    def __init__(self, state, smtp=True, pop3=False, faults=None,
                 smtp_port=0, pop3_port=0, users_file=None, imap=False, imap_port=0,
                 tls=False, tls_ports=None, plaintext_auth="loopback"):
        """With `tls`, a self-signed certificate (STATE/cert.pem, for
        127.0.0.1 and localhost) and the listeners of TLS_LISTENERS on
        `tls_ports` ({label: port}, 0 or absent: any free port); POP3 and
        IMAP take `plaintext_auth` (never|loopback|always)."""
        self.state, self.faults = os.path.abspath(state), faults
        self.want = [name for name, on in (("mw-smtpd", smtp), ("mw-pop3d", pop3),
                                           ("mw-imapd", imap)) if on]
        self.ports = {"smtp": smtp_port, "pop3": pop3_port, "imap": imap_port}
        self.tls, self.plaintext_auth = tls, plaintext_auth
        for label in self.TLS_LISTENERS:
            self.ports[label] = (tls_ports or {}).get(label, 0) if tls else -1
        self.users_file = users_file
        self.procs = []

    @property
    def cert(self):
        """The certificate clients trust with tls=True (PEM)."""
        return os.path.join(self.state, "cert.pem")

    @property
    def keylog(self):
        """With tls=True, the servers write the secrets of every TLS session
        here (NSS key log format, `[general] tls_keylog`), so that
        `mw-trace --keylog` can show what the sessions said inside TLS."""
        return os.path.join(self.state, "keys.log")

    def config_text(self):
        text = f"""# written by labs/lib/labkit.py
[general]
hostname = mx.{DOMAIN}
domains = {DOMAIN};localhost
state_dir = .
timeout = 60
"""
        if self.users_file:
            text += f"users_file = {self.users_file}\n"
        if self.tls:
            text += "tls_cert = cert.pem\ntls_key = key.pem\ntls_keylog = keys.log\n"
        p = self.ports
        text += f"""[smtp]
listen = 127.0.0.1
port = {p['smtp']}
submission_port = {p['submission']}
smtps_port = {p['smtps']}
[pop3]
listen = 127.0.0.1
port = {p['pop3']}
pop3s_port = {p['pop3s']}
plaintext_auth = {self.plaintext_auth}
[imap]
listen = 127.0.0.1
port = {p['imap'] if 'mw-imapd' in self.want else -1}
imaps_port = {p['imaps'] if 'mw-imapd' in self.want else -1}
plaintext_auth = {self.plaintext_auth}
"""
        if self.faults:
            text += "[faults]\n" + self.faults.strip() + "\n"
        return text

    @property
    def config(self):
        return os.path.join(self.state, "mailwire.conf")

    _users_template = None  # a users file made once per grader run

    def add_users(self):
        users = os.path.join(self.state, "users")
        if Mailwire._users_template and os.path.exists(Mailwire._users_template):
            shutil.copy(Mailwire._users_template, users)
            return
        pw = os.path.join(self.state, "password.txt")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        for user in USERS:
            subprocess.run([program("mw-admin"), "--config", self.config, "user",
                            "add", user, "--password-file", pw], check=True,
                           stdout=subprocess.DEVNULL, timeout=30)
        template = tempfile.NamedTemporaryFile(prefix="mw-lab-users-", delete=False)
        template.close()
        shutil.copy(users, template.name)
        Mailwire._users_template = template.name
        import atexit
        atexit.register(os.unlink, template.name)

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        with open(self.config, "w") as f:
            f.write(self.config_text())
        if self.tls and not os.path.exists(self.cert):
            subprocess.run([program("mw-admin"), "cert", "--out", self.cert, "--key",
                            os.path.join(self.state, "key.pem"), "localhost", "127.0.0.1"],
                           check=True, stdout=subprocess.DEVNULL, timeout=30)
        if not self.users_file and not os.path.exists(os.path.join(self.state, "users")):
            self.add_users()
        for name in self.want:
            self._start_one(name)
        return self

    def _start_one(self, name):
        out = open(os.path.join(self.state, name + ".out"), "w+")
        err = open(os.path.join(self.state, name + ".log"), "w")
        proc = subprocess.Popen([program(name), "--config", self.config,
                                 "--protocol-log"], stdout=out, stderr=err,
                                cwd=self.state)
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            out.seek(0)
            text = out.read()
            if f"{name}: ready" in text:
                for label, port in re.findall(r"(\w+) listening on [^\n]*:(\d+)", text):
                    self.ports.setdefault(label, 0)
                    self.ports[label] = int(port)
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{name} did not start: " + open(err.name).read()[-2000:])

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = []

    def restart(self, faults=None):
        """The same servers and mailboxes, with other [faults] (or none)."""
        self.stop()
        self.faults = faults
        self.ports = {"smtp": 0, "pop3": 0, "imap": 0}
        for label in self.TLS_LISTENERS:
            self.ports[label] = 0 if self.tls else -1
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what the servers did --
    def maildir(self, user):
        return os.path.join(self.state, "mail", user, "Maildir")

    def messages(self, user):
        """Every message in USER's INBOX, as stored (bytes), oldest first."""
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            if os.path.isdir(d):
                for name in os.listdir(d):
                    path = os.path.join(d, name)
                    found.append((os.stat(path).st_mtime_ns, name, path))
        return [open(p, "rb").read() for _, _, p in sorted(found)]

    def deliver(self, user, data):
        """Puts DATA (bytes, CRLF) in USER's INBOX as another program would."""
        md = self.maildir(user)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        name = f"{time.time_ns()}.P{os.getpid()}.lab"
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(md, "new", name))
        time.sleep(0.01)  # distinct mtimes keep the order

    def protocol_log(self, name="mw-smtpd"):
        """[(direction, line)] from --protocol-log: ("C", "MAIL FROM:<a@b>")."""
        path = os.path.join(self.state, name + ".log")
        lines = []
        for text in open(path, errors="replace"):
            m = re.search(r" (C|S): (.*)$", text.rstrip("\n"))
            if m:
                lines.append((m.group(1), m.group(2)))
        return lines


def password_file(directory):
    """DIR/password.txt holding PASSWORD (mw-imap --password-file); its path."""
    path = os.path.join(directory, "password.txt")
    with open(path, "w") as f:
        f.write(PASSWORD + "\n")
    return path


# ---- captures --------------------------------------------------------------

def can_capture():
    """Live capture on lo needs root (or mw-trace given cap_net_raw)."""
    return os.geteuid() == 0


class Capture:
    """mw-trace -i IFACE -w PATH -p PORTS. start() returns once the capture
    is live (mw-trace says so after its filter is in the kernel), so no
    packet of what follows is missed; wait_closed (N) waits until mw-trace
    has read N connections to their end, which it writes out before it
    says so; stop() ends it with SIGINT (what the kernel still holds is
    drained into the file) and keeps mw-trace's stderr in PATH.log, where
    a full kernel buffer is reported ("N packets dropped").

    mw-trace runs at a raised priority when it may (root): on lo the
    kernel keeps only about 128 packets for it (8 MiB in slots of 64 KiB),
    and a loaded host that leaves it unscheduled for a moment during a
    burst drops the rest. Dropped or not, capture_problems () says."""

    PRIORITY = -10  # nice value: the capture keeps up with the servers it watches

    def __init__(self, path, ports, interface="lo"):
        self.path, self.ports, self.proc = os.path.abspath(path), list(ports), None
        self.interface = interface

    def start(self):
        self.log = open(self.path + ".log", "w+")
        self.events = self.path + ".json"

        def raise_priority():
            try:
                os.nice(self.PRIORITY)
            except OSError:
                pass  # no CAP_SYS_NICE: the drop check still tells
        self.proc = subprocess.Popen(
            [program("mw-trace"), "-i", self.interface, "-w", self.path, "--json",
             "-p", ",".join(str(p) for p in self.ports)],
            stdout=open(self.events, "w"), stderr=self.log, preexec_fn=raise_priority)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.log.seek(0)
            if "capturing with filter" in self.log.read():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        self.log.seek(0)
        raise RuntimeError("mw-trace did not start capturing: " + self.log.read()[-500:])

    def closed(self):
        """How many connections mw-trace has seen end so far."""
        return sum('"kind":"close"' in line for line in open(self.events))

    def wait_closed(self, count, timeout=30):
        """Waits until mw-trace has read COUNT connections to their end
        (both FINs, or an RST): their packets are then in the file. A
        client that has exited does not mean that: the kernel may not
        have handed its last packets to the capture yet (a loaded host)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.closed() < count:
            time.sleep(0.05)
        return self.closed() >= count

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def problems(self):
        """capture_problems () of the file written."""
        return capture_problems(self.path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


DROPPED = re.compile(r"(\d+) packets dropped by the kernel")


def capture_problems(capture, events=None, streams=None):
    """Why CAPTURE (a pcap) is not a whole record of its connections, in
    words; [] if it is. The kernel's drop count, which mw-trace reports on
    stderr at the end (kept in CAPTURE.log by Capture and by `./run lab`;
    absent for a capture handed in alone), and from the file itself:
    octets missing (gaps), connections picked up mid-session (their start
    was lost) and connections still open at the end (their end was lost,
    or the capture stopped first). EVENTS: trace_json (CAPTURE) if
    already read; STREAMS: only these tcp.stream numbers count."""
    found = []
    log = capture + ".log"
    if os.path.isfile(log):
        m = DROPPED.search(open(log, errors="replace").read())
        if m:
            found.append(f"mw-trace lost {m.group(1)} packets while capturing "
                         "(the kernel's buffer was full)")
    for e in events if events is not None else trace_json(capture, body=False):
        if streams is not None and e.get("tcp.stream") not in streams:
            continue
        where = f"connection {e.get('tcp.stream')}"
        meaning = e.get("meaning", "")
        if e["kind"] == "gap":
            found.append(f"{where}: {e.get('mw.missing', '?')} octets missing")
        elif e["kind"] == "open" and "capture began mid-session" in meaning:
            found.append(f"{where}: its start is not in the capture")
        elif e["kind"] == "close" and "still open when the capture ended" in meaning:
            found.append(f"{where}: still open when the capture ended")
    return found


def whole_capture(capture, events=None, streams=None, lab=None):
    """Raises Fail if capture_problems () finds any: a key computed from
    an incomplete capture would grade the capture, not the student."""
    found = capture_problems(capture, events, streams)
    if found:
        again = f" (./run lab {lab})" if lab else ""
        shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
        raise Fail(f"a complete capture to compute the answers from ({os.path.basename(capture)})",
                   f"an incomplete one: {shown}: capture again{again}")


def trace_json(capture, body=True):
    """The events of `mw-trace --json [--body] -r CAPTURE`, as dicts, in
    wire order. Raises Fail when mw-trace cannot read the file."""
    args = [program("mw-trace"), "--json", "-r", capture] + (["--body"] if body else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise Fail(f"a capture mw-trace can read ({os.path.basename(capture)})",
                   proc.stderr.strip()[-200:] or f"exit status {proc.returncode}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def read_answers(path):
    """answers.txt: "name: value" lines, '#' comments and blank lines
    ignored; {name: value} with empty values left out."""
    answers = {}
    if not os.path.isfile(path):
        return answers
    for raw in open(path, errors="replace"):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        name, value = line.split(":", 1)
        value = value.strip()
        if value:
            answers[name.strip().lower()] = value
    return answers


def strip_trace_headers(stored):
    """The message as the client sent it: what mw-smtpd stored, without the
    Return-Path and Received lines it put on top (RFC 5321 §4.4)."""
    rest = stored
    while True:
        m = re.match(rb"(Return-Path|Received):[^\r\n]*\r\n([ \t][^\r\n]*\r\n)*", rest)
        if not m:
            return rest
        rest = rest[m.end():]


# ---- SMTP smuggling (labs 7 and 8) ----------------------------------------

# Look-alikes of the end of DATA (the CVE-2023-51764 class): only CRLF . CRLF
# ends the text (RFC 5321 §4.1.1.4); a server that also takes one of these
# ends the message early and reads what follows as commands.
SMUGGLING_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-cr": b"\r.\r",
}


def smuggling_text(end, sender, recipient, subject=b"smuggled"):
    """Message text (what follows the 354) that hides END and then a second
    transaction (MAIL FROM:<SENDER>, RCPT TO:<RECIPIENT>, DATA, a message
    with SUBJECT), and finishes with the real CRLF . CRLF."""
    return (b"Subject: outer\r\n\r\nThe outer message." + end +
            b"MAIL FROM:<" + sender.encode() + b">\r\n" +
            b"RCPT TO:<" + recipient.encode() + b">\r\n" +
            b"DATA\r\nSubject: " + subject + b"\r\n\r\n" +
            b"A message nobody sent.\r\n.\r\n")


# ---- the student's program -----------------------------------------------

SANITIZE = "-fsanitize=address,undefined -fno-omit-frame-pointer"


class Result:
    def __init__(self, returncode, stdout, stderr, timed_out):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.timed_out = timed_out

    def sanitizer_report(self):
        m = re.search(r"(ERROR: AddressSanitizer: [^\n]*|runtime error: [^\n]*|"
                      r"ERROR: LeakSanitizer: [^\n]*)", self.stderr)
        return m.group(1) if m else None

    def describe(self):
        if self.timed_out:
            return "no exit within the time limit (waiting for a reply that had come?)"
        tail = self.stderr.strip().splitlines()[-3:]
        return f"exit status {self.returncode}" + (
            f", stderr: {' | '.join(tail)}" if tail else "")


class Submission:
    """DIR holds the lab's C files filled in, or an executable `run`."""

    def __init__(self, directory, lab_dir, program_name):
        self.dir = os.path.abspath(directory)
        self.lab_dir, self.program_name = lab_dir, program_name
        self.build_log, self.built, self.argv = "", False, None
        self.workdir = tempfile.mkdtemp(prefix="mw-grade-build-")

    def cleanup(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def build(self):
        run = os.path.join(self.dir, "run")
        if os.path.isfile(run) and os.access(run, os.X_OK):
            self.argv, self.built = [run], True
            self.build_log = "a `run` script: nothing to build"
            return True
        for name in os.listdir(self.dir):
            if name.endswith((".c", ".h")):
                shutil.copy(os.path.join(self.dir, name), self.workdir)
        shutil.copy(os.path.join(self.lab_dir, "starter", "Makefile"), self.workdir)
        proc = subprocess.run(
            ["make", "-C", self.workdir, "CC=cc",
             f"CFLAGS=-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -g {SANITIZE}",
             f"LDFLAGS={SANITIZE}"], capture_output=True, text=True, timeout=120)
        self.build_log = proc.stdout + proc.stderr
        exe = os.path.join(self.workdir, self.program_name)
        self.built = proc.returncode == 0 and os.access(exe, os.X_OK)
        self.argv = [exe] if self.built else None
        return self.built

    def warnings(self):
        return [l for l in self.build_log.splitlines() if "warning:" in l]

    def spawn(self, args, env=None):
        """Starts the program (own session, pipes for stdin/stdout/stderr)
        and returns the Popen: for programs that run until told to stop."""
        full_env = dict(os.environ)
        full_env.update({"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
                         "UBSAN_OPTIONS": "print_stacktrace=1"})
        full_env.update(env or {})
        return subprocess.Popen(self.argv + list(args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=full_env, cwd=self.workdir, start_new_session=True)

    def run(self, args, stdin=b"", timeout=20, env=None, cwd=None, fsize=None):
        full_env = dict(os.environ)
        full_env.update({"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
                         "UBSAN_OPTIONS": "print_stacktrace=1"})
        full_env.update(env or {})

        def limits():
            if fsize is not None:
                import resource
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        proc = subprocess.Popen(self.argv + list(args), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=full_env, cwd=cwd or self.workdir,
                                preexec_fn=limits, start_new_session=True)
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=10)
            timed_out = True
        return Result(proc.returncode, out.decode(errors="replace"),
                      err.decode(errors="replace"), timed_out)


# ---- the verdict -----------------------------------------------------------

class Grader:
    """Runs checks in order and reports them. A check is a function that
    returns normally to pass and raises Fail to fail."""

    def __init__(self, lab, results_path):
        self.lab, self.results_path = lab, results_path
        self.checks, self.results = [], []

    def check(self, name, points=1):
        def register(fn):
            self.checks.append((name, points, fn))
            return fn
        return register

    def run(self):
        for name, points, fn in self.checks:
            try:
                fn()
                ok, text = True, f"PASS {name}"
            except Fail as failure:
                ok, text = False, f"FAIL {name}: {failure.line()}"
            except Exception as error:  # a grader bug must not look like a pass
                ok = False
                text = f"FAIL {name}: the grader could not run this check: {error!r}"
                traceback.print_exc(file=sys.stderr)
            print(text, flush=True)
            self.results.append({"name": name, "score": points if ok else 0,
                                 "max_score": points, "output": text})
        score = sum(r["score"] for r in self.results)
        total = sum(r["max_score"] for r in self.results)
        print(f"score: {score}/{total}")
        with open(self.results_path, "w") as f:
            json.dump({"score": score, "output": f"{self.lab}: {score}/{total}",
                       "stdout_visibility": "visible",
                       "tests": self.results}, f, indent=2)
            f.write("\n")
        return 0 if score == total else 1


def build_checks(grader, sub, program):
    """The checks every programming lab opens with: the submission builds
    (its Makefile, or an executable `run`), without compiler warnings.
    Returns need_build (), which the lab's later checks call first so that
    a program that did not build fails them with that reason."""

    @grader.check("builds")
    def builds():
        if not sub.build():
            raise Fail(f"`make` to build {program} (or an executable `run`)",
                       sub.build_log.strip()[-300:] or "no output")

    @grader.check("no-warnings")
    def no_warnings():
        if not sub.built:
            raise Fail("a build", "none")
        if sub.warnings():
            raise Fail("no compiler warnings with -Wall -Wextra", sub.warnings()[0])

    def need_build():
        if not sub.built:
            raise Fail("a program to run", "it did not build")

    return need_build


def main_args(argv):
    """grade.py [DIR] [--results FILE]: DIR defaults to the working copy."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?")
    parser.add_argument("--results", default="results.json")
    return parser.parse_args(argv)
