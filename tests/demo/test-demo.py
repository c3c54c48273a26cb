#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-demo.py: Ctrl-C ends the demo and leaves nothing behind (suite
integration, TAP). Runs src/tools/mw-demo.sh, what `./run demo` execs, from
the build directory under test ($MW_BUILD_ROOT), with its state in a
temporary directory and its ports moved by MW_DEMO_PORT_OFFSET, until it
prints its last screen ("Press Ctrl-C to stop the servers."), then:

  /demo/ctrl-c/pty       the demo in the foreground of a pseudo-terminal, as
                         a shell with job control runs it; ^C is typed on
                         the terminal (the kernel sends SIGINT to the group)
  /demo/ctrl-c/pty-pipe  the same for `mw-demo.sh | cat`
  /demo/sigint/pipe      stdout is a pipe whose reader does not get the
                         signal: SIGINT to the demo's process group; the
                         reader must see the end of the output

Each passes if the demo (and cat) exit, the output reaches its end, and no
process of the demo's session is left (zombies aside). While the last run
idles, with its servers up, the story's facts are checked in its state
directory and on its IMAP server, whatever the demo's wording:

  /demo/story/pop3           bob-laptop (--keep) and bob-phone each hold the
                             one message POP3 downloaded; the server does not
                             (the second download deleted it)
  /demo/story/imap/push      the phone's watch (imap/phone-watch.log, its
                             --trace) saw alice's new message pushed during
                             IDLE (EXISTS), first without \\Seen and \\Flagged,
                             then a FETCH FLAGS push naming it with one of them
  /demo/story/imap/devices   imap/laptop and imap/phone each hold it once,
                             with the same Maildir flags, S and F among them
  /demo/story/imap/server    the server's copy has \\Seen and \\Flagged
  /demo/story/trace/svg      (root: the demo captures) demo.svg, the whole
                             story on one picture, is well-formed SVG with
                             alice's message drawn as a journey thread

 The terminal's
session leader stays alive until the check, as an interactive shell
would, so a survivor is not hidden by the SIGHUP of a closing terminal.
Every wait is bounded; whatever survives is killed by its PID.
"""
import email.parser
import errno
import fcntl
import imaplib
import os
import pty
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

READY = b"Press Ctrl-C to stop the servers."
READY_TIMEOUT = 45  # the whole demo (about 5 s; it waits up to 10 s for the relay)
STOP_TIMEOUT = 15  # from the signal to the end of the output
SETTLE = 1.0  # after the last screen, as a reader would: the demo is idle
PORTS = (2525, 2587, 2465, 2110, 2995, 2143, 2993, 3525, 3110)
IMAP_PORT = 2143
BOB = ("bob", "bob-demo")
ALICE = "alice@example.test"

source_root = os.environ.get("MW_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build_root = os.environ.get("MW_BUILD_ROOT")
demo = os.path.join(source_root, "src", "tools", "mw-demo.sh")
used_offsets = set()


def free_offset():
    """An offset that puts every demo port on a free port of 127.0.0.1,
    in 16110..23525: below the bench peers (24000-24999) and the kernel's
    ephemeral range, away from a real ./run demo."""
    for _ in range(200):
        offset = random.randrange(14000, 20000)
        if offset in used_offsets:
            continue
        try:
            for port in PORTS:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        used_offsets.add(offset)
        return offset
    raise RuntimeError("no free port range for the demo")


def proc_stat(pid):
    """(comm, state, session) of @pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[3])


def session_members(sid, exclude=()):
    """Live (non-zombie) processes of session @sid: {pid: comm}."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        stat = proc_stat(int(name))
        if stat and stat[2] == sid and stat[1] != "Z":
            found[int(name)] = stat[0]
    return found


class Output:
    """Drains a file descriptor (pty master or pipe) into a buffer."""

    def __init__(self, fd):
        self.fd = fd
        self.data = bytearray()
        self.eof = False

    def pump(self, timeout):
        if self.eof:
            time.sleep(min(timeout, 0.05))
            return
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as e:  # a pty master reads EIO once no one holds the slave
            if e.errno != errno.EIO:
                raise
            chunk = b""
        if chunk:
            self.data += chunk
        else:
            self.eof = True

    def wait_for(self, needle, timeout):
        deadline = time.monotonic() + timeout
        while needle not in self.data and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.pump(min(left, 0.2))
        return needle in self.data

    def wait_eof(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self.pump(0.2)
        return self.eof

    def tail(self, lines=15):
        text = self.data.decode("utf-8", "replace").replace("\r", "")
        return text.splitlines()[-lines:]


def demo_env(state):
    env = dict(os.environ)
    env["MW_DEMO_STATE"] = state
    env["MW_DEMO_PORT_OFFSET"] = str(free_offset())
    if build_root:
        env["MW_BUILD_ROOT"] = build_root
    env.setdefault("TERM", "dumb")
    return env


def start_in_terminal(argv, env):
    """Forks a session leader that owns a new pseudo-terminal and runs
    @argv in its own foreground process group, as a job-control shell does.
    The leader reports the job's wait status on a pipe, then stays until
    the test closes its control pipe. Returns (leader_pid, master_fd,
    status_fd, control_fd)."""
    master, slave = pty.openpty()
    status_r, status_w = os.pipe()
    control_r, control_w = os.pipe()
    leader = os.fork()
    if leader == 0:
        try:
            os.close(master)
            os.close(status_r)
            os.close(control_w)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            job = os.fork()
            if job == 0:
                os.setpgid(0, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.closerange(3, 256)
                os.execvpe(argv[0], argv, env)
            os.setpgid(job, job)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.tcsetpgrp(slave, job)
            os.close(slave)  # the job holds the terminal, the leader not
            _, status = os.waitpid(job, 0)
            os.write(status_w, f"{job} {status}\n".encode())
            os.read(control_r, 1)  # until the test is done looking
        finally:
            os._exit(0)
    os.close(slave)
    os.close(status_w)
    os.close(control_r)
    return leader, master, status_r, control_w


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def check_gone(sid, exclude, problems):
    """Waits (bounded) for the session to empty; kills what is left."""
    left = {}
    for _ in range(30):
        left = session_members(sid, exclude)
        if not left:
            return
        time.sleep(0.1)
    problems.append("left running: " + ", ".join(
        f"{pid} ({comm})" for pid, comm in sorted(left.items())))
    kill_all(left)


def settle(out, sid, problems):
    """Lets the demo reach its idle wait, and checks its servers are up."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        out.pump(0.1)
    running = session_members(sid).values()
    servers = sorted(c for c in running
                     if c in ("mw-smtpd", "mw-pop3d", "mw-imapd"))
    if len(servers) != 5:
        problems.append(f"expected 5 servers up, saw {servers}")
    if "mw-imap" in running:
        problems.append("the phone's mw-imap watch is still running")


# ---- the story's facts, read while the demo idles -------------------------

def maildir_messages(path):
    """{Message-ID: [Maildir flags, one per copy]} of the messages in
    new/ and cur/ of the Maildir @path (its INBOX); new/ has no flags."""
    found = {}
    for sub in ("new", "cur"):
        folder = os.path.join(path, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            with open(os.path.join(folder, name), "rb") as f:
                header = email.parser.BytesHeaderParser().parse(f)
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            found.setdefault(header.get("Message-ID", ""), []).append(flags)
    return found


def server_inbox(offset):
    """bob's INBOX as mw-imapd tells it (EXAMINE: nothing changes):
    [(uid, set of flags, From, Message-ID)]."""
    answer = []
    with imaplib.IMAP4("127.0.0.1", IMAP_PORT + offset, timeout=10) as imap:
        imap.login(*BOB)
        imap.select("INBOX", readonly=True)
        status, data = imap.uid(
            "FETCH", "1:*",
            "(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM MESSAGE-ID)])")
        if status != "OK":
            raise RuntimeError(f"UID FETCH answered {status} {data}")
        for item in data:
            if not isinstance(item, tuple):
                continue
            uid = re.search(rb"\bUID (\d+)", item[0])
            flags = re.search(rb"\bFLAGS \(([^)]*)\)", item[0])
            header = email.parser.BytesHeaderParser().parsebytes(item[1])
            answer.append((int(uid.group(1)),
                           set(flags.group(1).decode().split()),
                           header.get("From", ""), header.get("Message-ID", "")))
        imap.logout()
    return answer


def idle_pushes(log):
    """Parses an `mw-imap --trace watch` log: ([(number, kind, uid, flags)]
    of the untagged EXISTS and FETCH the server sent inside IDLE, unasked;
    {uid: flags} of the FETCH answers to the watch's own commands). uid and
    flags are None where the response does not carry them."""
    pushes, answers = [], {}
    idle_tag = None
    for line in log.splitlines():
        command = re.match(r"C: (\S+) IDLE\b", line)
        if command:
            idle_tag = command.group(1)
            continue
        if idle_tag and line.startswith(f"S: {idle_tag} "):
            idle_tag = None
            continue
        untagged = re.match(r"S: \* (\d+) (EXISTS|FETCH)\b(.*)", line)
        if not untagged:
            continue
        rest = untagged.group(3)
        uid = re.search(r"\bUID (\d+)", rest)
        flags = re.search(r"\bFLAGS \(([^)]*)\)", rest)
        uid = int(uid.group(1)) if uid else None
        flags = set(flags.group(1).split()) if flags else None
        if idle_tag:
            pushes.append((int(untagged.group(1)), untagged.group(2), uid, flags))
        elif uid is not None and flags is not None:
            answers.setdefault(uid, flags)
    return pushes, answers


def story_pop3(state, inbox):
    """The POP3 act: each device downloaded the message, the second
    download deleted it on the server."""
    laptop = maildir_messages(os.path.join(state, "bob-laptop"))
    phone = maildir_messages(os.path.join(state, "bob-phone"))
    problems = []
    if len(laptop) != 1 or len(phone) != 1 or laptop.keys() != phone.keys():
        problems.append(f"bob-laptop holds {laptop}, bob-phone {phone}: "
                        "expected the same one message in each")
    on_server = [m for m in inbox if m[3] in laptop or m[3] in phone]
    if on_server:
        problems.append(f"the POP3 message is still on the server: {on_server}")
    return problems, set(laptop) | set(phone)


def alice_message(inbox, popped, problems):
    """The message alice sent bob for the IMAP act: (uid, flags,
    sequence number, Message-ID), or None."""
    mine = [(uid, flags, number, mid)
            for number, (uid, flags, sender, mid) in enumerate(inbox, 1)
            if ALICE in sender and mid not in popped]
    if len(mine) != 1:
        problems.append(f"expected one new message from {ALICE} in bob's "
                        f"INBOX, the server holds {inbox}")
        return None
    return mine[0]


def story_push(state, message):
    """The phone's watch was told, unasked, of the new message and then of
    the laptop's flags."""
    with open(os.path.join(state, "imap", "phone-watch.log"),
              encoding="utf-8", errors="replace") as f:
        pushes, answers = idle_pushes(f.read())
    uid, _, number, _ = message
    problems = []
    if not any(kind == "EXISTS" and n >= number for n, kind, _, _ in pushes):
        problems.append(f"no EXISTS push during IDLE counting message {uid} "
                        f"(pushes: {pushes})")
    first = answers.get(uid)
    if first is None:
        problems.append(f"the phone never fetched message {uid}: {answers}")
    elif first & {"\\Seen", "\\Flagged"}:
        problems.append(f"message {uid} reached the phone already {first}")
    flagged = [p for p in pushes if p[1] == "FETCH" and p[3]
               and (p[2] == uid or (p[2] is None and p[0] == number))
               and p[3] & {"\\Seen", "\\Flagged"}]
    if not flagged:
        problems.append(f"no FETCH FLAGS push with \\Seen or \\Flagged for "
                        f"message {uid} during IDLE (pushes: {pushes})")
    return problems


def story_devices(state, message):
    """Both IMAP devices hold the message once, with the same flags."""
    mid = message[3]
    held = {device: maildir_messages(os.path.join(state, "imap", device))
            .get(mid, []) for device in ("laptop", "phone")}
    problems = []
    for device, copies in held.items():
        if len(copies) != 1 or not set("FS") <= set(copies[0]):
            problems.append(f"imap/{device} holds {mid} as {copies}: "
                            "expected one copy flagged F and S")
    if held["laptop"] != held["phone"]:
        problems.append(f"the devices disagree: {held}")
    return problems


def check_story(state, offset):
    """[(name, problems)] of the story's facts, in the order of the plan."""
    problems = []
    try:
        inbox = server_inbox(offset)
    except (OSError, imaplib.IMAP4.error, RuntimeError) as e:
        problems = [f"cannot read bob's INBOX on the server: {e}"]
        return [(name, problems) for name in STORY]
    pop3, popped = story_pop3(state, inbox)
    message = alice_message(inbox, popped, problems)
    if message is None:
        return [(STORY[0], pop3)] + [(name, problems) for name in STORY[1:]]
    _, flags, _, _ = message
    server = [] if {"\\Seen", "\\Flagged"} <= flags else [
        f"the server's copy of message {message[0]} has flags {flags}"]
    svg = story_svg(state, message) if os.geteuid() == 0 else None
    return [(STORY[0], pop3), (STORY[1], story_push(state, message)),
            (STORY[2], story_devices(state, message)), (STORY[3], server),
            (STORY[4], svg)]


def story_svg(state, message):
    """demo.svg parses, and draws alice's message of the IMAP act as a
    journey (mw-trace's <g class="journey">), named by subject or id."""
    import xml.etree.ElementTree as ET
    path = os.path.join(state, "demo.svg")
    if not os.path.exists(path):
        return [f"no {path}: the demo did not draw the story"]
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return [f"{path} is not well-formed XML: {e}"]
    ns = "{http://www.w3.org/2000/svg}"
    threads = [g for g in root.iter(ns + "g") if g.get("class") == "journey"]
    labels = " ".join("".join(g.itertext()) for g in threads)
    # mw-demo.sh's subject for the IMAP act, or the Message-ID
    if not any(key in labels for key in ("Lab 3: same mail", message[3].strip("<>"))):
        return [f"no journey thread of alice's message {message[3]} in demo.svg "
                f"({len(threads)} threads: {labels[:200]!r})"]
    return []


STORY = ("/demo/story/pop3", "/demo/story/imap/push",
         "/demo/story/imap/devices", "/demo/story/imap/server",
         "/demo/story/trace/svg")


def case_terminal(argv_of, label, alone):
    """@alone: the demo is the whole job (not behind a pipe to cat, which
    ^C ends too, taking the demo's last words and the job's status)."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="mw-demo-test.") as state:
        argv = argv_of(state)
        leader, master, status_fd, control_fd = start_in_terminal(
            argv, demo_env(state))
        out = Output(master)
        try:
            if not out.wait_for(READY, READY_TIMEOUT):
                problems.append("the demo never printed its last screen")
            else:
                settle(out, leader, problems)
                os.write(master, b"\x03")  # ^C, typed on the terminal
                deadline = time.monotonic() + STOP_TIMEOUT
                report = b""
                while not report.endswith(b"\n"):
                    if time.monotonic() > deadline:
                        problems.append(f"the {label} did not exit within "
                                        f"{STOP_TIMEOUT} s of ^C")
                        break
                    out.pump(0.1)
                    ready, _, _ = select.select([status_fd], [], [], 0)
                    if ready:
                        chunk = os.read(status_fd, 64)
                        if not chunk:
                            break
                        report += chunk
                if alone and report.endswith(b"\n"):
                    status = int(report.split()[1])
                    if not os.WIFEXITED(status) or os.WEXITSTATUS(status):
                        problems.append(f"the demo ended with wait status "
                                        f"{status}, not exit 0")
                out.pump(0.5)
                if alone and b"demo: stopping everything" not in out.data:
                    problems.append("the demo did not say it was stopping")
            check_gone(leader, {leader}, problems)
            # the terminal is free now: no one else holds it open
            if not problems and not out.wait_eof(2):
                problems.append("something still holds the terminal open")
        finally:
            kill_all(session_members(leader, {leader}))
            os.close(control_fd)
            os.waitpid(leader, 0)
            os.close(status_fd)
            os.close(master)
    return problems, out


def case_pipe(story):
    """Appends to @story the results of check_story () while idle."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="mw-demo-test.") as state:
        env = demo_env(state)
        process = subprocess.Popen([demo], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT,
                                   env=env,
                                   start_new_session=True)
        out = Output(process.stdout.fileno())
        try:
            if not out.wait_for(READY, READY_TIMEOUT):
                problems.append("the demo never printed its last screen")
                story += [(name, ["the demo never got there"])
                          for name in STORY]
            else:
                settle(out, process.pid, problems)
                story += check_story(state, int(env["MW_DEMO_PORT_OFFSET"]))
                os.killpg(process.pid, signal.SIGINT)
                if not out.wait_eof(STOP_TIMEOUT):
                    problems.append(f"the output did not end within "
                                    f"{STOP_TIMEOUT} s of SIGINT (something "
                                    "still holds the pipe)")
                try:
                    status = process.wait(STOP_TIMEOUT)
                    if status != 0:
                        problems.append(f"the demo exited with {status}")
                except subprocess.TimeoutExpired:
                    problems.append("the demo did not exit")
            check_gone(process.pid, set(), problems)
        finally:
            kill_all(session_members(process.pid))
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
    return problems, out


def report(number, name, problems, out, seconds=None):
    if seconds is not None:
        print(f"# {name}: {seconds:.1f} s")
    if problems:
        for p in problems:
            print(f"# {p}")
        if out is not None:
            print("# the demo's last lines:")
            for line in out.tail():
                print(f"#   {line}")
        print(f"not ok {number} {name}", flush=True)
    else:
        print(f"ok {number} {name}", flush=True)
    return 1 if problems else 0


def main():
    if not build_root:
        print("Bail out! MW_BUILD_ROOT is not set (run through meson test)")
        return 1
    story = []
    cases = [
        ("/demo/ctrl-c/pty",
         lambda: case_terminal(lambda state: [demo], "demo", True)),
        ("/demo/ctrl-c/pty-pipe",
         lambda: case_terminal(
             lambda state: ["bash", "-c", '"$0" | cat', demo],
             "pipeline demo | cat", False)),
        ("/demo/sigint/pipe", lambda: case_pipe(story)),
    ]
    print(f"1..{len(cases) + len(STORY)}", flush=True)
    failed = 0
    for number, (name, run) in enumerate(cases, 1):
        started = time.monotonic()
        problems, out = run()
        failed += report(number, name, problems, out,
                         time.monotonic() - started)
    for number, (name, problems) in enumerate(story, len(cases) + 1):
        if problems is None:  # a check that needs the demo's capture
            print(f"ok {number} {name} # SKIP not root: the demo cannot capture",
                  flush=True)
            continue
        failed += report(number, name, problems, None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
