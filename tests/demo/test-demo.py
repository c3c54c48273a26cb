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
process of the demo's session is left (zombies aside). The terminal's
session leader stays alive until the check, as an interactive shell
would, so a survivor is not hidden by the SIGHUP of a closing terminal.
Every wait is bounded; whatever survives is killed by its PID.
"""
import errno
import fcntl
import os
import pty
import random
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
PORTS = (2525, 2587, 2465, 2110, 2995, 3525, 3110)

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
    servers = sorted(c for c in session_members(sid).values()
                     if c in ("mw-smtpd", "mw-pop3d"))
    if len(servers) != 4:
        problems.append(f"expected 4 servers up, saw {servers}")


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


def case_pipe():
    problems = []
    with tempfile.TemporaryDirectory(prefix="mw-demo-test.") as state:
        process = subprocess.Popen([demo], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT,
                                   env=demo_env(state),
                                   start_new_session=True)
        out = Output(process.stdout.fileno())
        try:
            if not out.wait_for(READY, READY_TIMEOUT):
                problems.append("the demo never printed its last screen")
            else:
                settle(out, process.pid, problems)
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


def main():
    if not build_root:
        print("Bail out! MW_BUILD_ROOT is not set (run through meson test)")
        return 1
    cases = [
        ("/demo/ctrl-c/pty",
         lambda: case_terminal(lambda state: [demo], "demo", True)),
        ("/demo/ctrl-c/pty-pipe",
         lambda: case_terminal(
             lambda state: ["bash", "-c", '"$0" | cat', demo],
             "pipeline demo | cat", False)),
        ("/demo/sigint/pipe", case_pipe),
    ]
    print(f"1..{len(cases)}", flush=True)
    failed = 0
    for number, (name, run) in enumerate(cases, 1):
        started = time.monotonic()
        problems, out = run()
        print(f"# {name}: {time.monotonic() - started:.1f} s")
        if problems:
            failed += 1
            for p in problems:
                print(f"# {p}")
            print("# the demo's last lines:")
            for line in out.tail():
                print(f"#   {line}")
            print(f"not ok {number} {name}", flush=True)
        else:
            print(f"ok {number} {name}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
