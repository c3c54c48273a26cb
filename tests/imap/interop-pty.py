#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# interop-pty.py: drives a full-screen program (mutt) through a
# pseudo-terminal, as a person at a terminal would.
# Usage: interop-pty.py SCRIPT -- PROGRAM [ARG...]
# SCRIPT has one step a line:
#   expect TEXT    wait until TEXT is on the screen (what the program wrote
#                  since the last expect, escape sequences and blanks
#                  removed, so cursor moves do not split words)
#   send KEYS      type KEYS (Python escapes: \r, \x15 for ^U, \x1b ...)
#   shell COMMAND  run COMMAND with /bin/sh meanwhile (another client);
#                  it must exit 0
#   exit           wait for the program to end; its exit status is ours
# Each step has 20 s. On a timeout the screen text so far goes to stderr
# and the exit status is 3; the program is killed.
import codecs
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import fcntl
import time

STEP_SECONDS = 20
ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|.)")

script_path = sys.argv[1]
assert sys.argv[2] == "--", "usage: interop-pty.py SCRIPT -- PROGRAM [ARG...]"
argv = sys.argv[3:]
steps = [line.rstrip("\n").split(" ", 1)
         for line in open(script_path, encoding="utf-8") if line.strip()]

pid, master = pty.fork()
if pid == 0:
    os.environ["TERM"] = "vt100"
    os.environ["LINES"] = "40"
    os.environ["COLUMNS"] = "120"
    os.execvp(argv[0], argv)
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

raw = b""      # everything the program wrote
seen = 0       # where the last expect matched, in the squeezed text


def squeeze(data):
    text = ESCAPES.sub(b"", data).decode("utf-8", "replace")
    return re.sub(r"\s+", "", text)


def pump(seconds):
    """Reads what the program writes for up to @seconds; False at EOF."""
    global raw
    ready, _, _ = select.select([master], [], [], seconds)
    if not ready:
        return True
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the program closed the terminal
        return False
    raw += chunk
    return bool(chunk)


def fail(what):
    screen = ESCAPES.sub(b" ", raw).decode("utf-8", "replace")
    print(f"interop-pty: {what}; the screen so far:\n{screen[-3000:]}",
          file=sys.stderr)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    sys.exit(3)


for step in steps:
    verb, argument = step[0], step[1] if len(step) > 1 else ""
    deadline = time.monotonic() + STEP_SECONDS
    if verb == "expect":
        want = re.sub(r"\s+", "", argument)
        while True:
            text = squeeze(raw)
            found = text.find(want, seen)
            if found >= 0:
                seen = found + len(want)
                break
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"no {argument!r} after {STEP_SECONDS} s")
            if not pump(min(left, 0.2)):
                fail(f"the program ended before {argument!r}")
    elif verb == "send":
        pump(0.3)  # let the screen settle before typing
        os.write(master, codecs.decode(argument, "unicode_escape").encode())
    elif verb == "shell":
        try:
            done = subprocess.run(["/bin/sh", "-c", argument],
                                  timeout=STEP_SECONDS, capture_output=True)
        except subprocess.TimeoutExpired:
            fail(f"{argument!r} took more than {STEP_SECONDS} s")
        if done.returncode != 0:
            fail(f"{argument!r} exited {done.returncode}: {done.stderr!r}")
    elif verb == "exit":
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                sys.exit(os.waitstatus_to_exitcode(status))
            pump(0.2)
        fail(f"the program did not end within {STEP_SECONDS} s")
    else:
        fail(f"unknown step {verb!r}")
fail("the script ended without 'exit'")
