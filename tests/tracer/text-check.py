#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""text-check.py MW_TRACE CAPTURE_DIR: what mw-trace writes is text.

For every capture in CAPTURE_DIR and CAPTURE_DIR/captures (with the key
logs beside it, CAPTURE.keylog and CAPTURE.*.keylog), runs mw-trace in
four modes and checks its output:
- --json and --json --body: every line is UTF-8 and one JSON object of
  schema mw-trace/1 (RFC 8259: control characters escaped, invalid UTF-8
  replaced, whatever the wire held);
- the ladder and --body: UTF-8 with no control character but the tab and
  the line ends (LF, CR before LF), so that a line on the wire cannot
  drive the terminal it is shown on (ESC sequences, a lone CR).
Then, on smtp-hostile.pcap (make-captures.py), that the JSON carries the
hostile octets faithfully and the ladder shows them as \\xHH. TAP output,
one test per capture and mode; exits 1 if one fails.
"""
import glob
import json
import os
import re
import subprocess
import sys

CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")
MODES = [("json", ["--json"]), ("json-body", ["--json", "--body"]),
         ("ladder", ["--color=never"]), ("body", ["--color=never", "--body"])]


def keylogs(capture):
    base = re.sub(r"\.pcap(ng)?$", "", capture)
    found = glob.glob(base + ".keylog") + glob.glob(base + ".*.keylog")
    return ["--keylog=" + k for k in sorted(found)]


def run(tracer, capture, options):
    return subprocess.run([tracer, "-r", capture] + options + keylogs(capture),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=60, check=False).stdout


def check_json(out):
    for number, line in enumerate(out.split(b"\n"), 1):
        if not line:
            continue
        event = json.loads(line.decode("utf-8"))  # strict: raises if not
        if event.get("schema") != "mw-trace/1":
            return f"line {number}: schema {event.get('schema')!r}"
    return None


def check_ladder(out):
    try:
        out.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8: {error}"
    match = CONTROL.search(out)
    if match:
        start = max(0, match.start() - 40)
        return f"control character {match.group()!r} in {out[start:match.end()]!r}"
    return None


def check_hostile(tracer, directory):
    """The JSON says what was sent; the ladder shows it without running it."""
    capture = os.path.join(directory, "smtp-hostile.pcap")
    events = [json.loads(line) for line in run(tracer, capture, ["--json"]).decode().splitlines()]
    lines = [e.get("line") for e in events]
    expected = ["553 5.1.3 Bad \x1b[1mmailbox\x1b[0m\tsyntax\x7f",
                "RCPT TO:<\ufffd\ufffd@example.test>",
                "RCPT TO:<\u20ac\U0001f4e7@example.test>",
                "EHLO h\u00e9llo.example.test"]
    for text in expected:
        if text not in lines:
            return f"no JSON line {text!r}"
    if not any(e.get("kind") == "lint" and "NUL" in e.get("meaning", "") for e in events):
        return "no lint for the NUL in the message text"
    ladder = run(tracer, capture, ["--color=never"]).decode()
    for shown in ("Bad \\x1b[1mmailbox\\x1b[0m\tsyntax\\x7f", "RCPT TO:<\\xff\\xfe@",
                  "\\xc0\\xaf overlong", "\\xed\\xa0\\x80 surrogate"):
        if shown not in ladder:
            return f"the ladder does not show {shown!r}"
    return None


def main():
    tracer, directory = sys.argv[1], sys.argv[2]
    captures = sorted(glob.glob(os.path.join(directory, "*.pcap")) +
                      glob.glob(os.path.join(directory, "*.pcapng")) +
                      glob.glob(os.path.join(directory, "captures", "*.pcap")))
    tests = []
    for capture in captures:
        for name, options in MODES:
            tests.append((f"{os.path.relpath(capture, directory)} {name}",
                          lambda c=capture, n=name, o=options:
                          (check_json if n.startswith("json") else check_ladder)(
                              run(tracer, c, o))))
    tests.append(("smtp-hostile.pcap faithful and harmless",
                  lambda: check_hostile(tracer, directory)))
    print(f"1..{len(tests)}")
    failed = 0
    for number, (name, test) in enumerate(tests, 1):
        try:
            problem = test()
        except (ValueError, UnicodeDecodeError, subprocess.TimeoutExpired) as error:
            problem = str(error)
        if problem:
            failed += 1
            print(f"not ok {number} {name}\n# {problem}")
        else:
            print(f"ok {number} {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
