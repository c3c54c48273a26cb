#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make-svg-captures.py [OUTDIR]: crafted captures for mw-trace --svg,
on make-captures.py's Conn (same addresses, 1.5 ms between frames).

svg-unsolicited.pcap: an IMAP session in which the server speaks while no
command is in progress (RFC 9051 §7: untagged data may come at any time):
an EXISTS after SELECT's OK, then an untagged BYE (autologout, §7.1.5)
that answers nothing; the greeting and the untagged lines that answer
SELECT and FETCH are not pushes.
"""
import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "make_captures", os.path.join(here, "make-captures.py"))
make_captures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_captures)


def svg_unsolicited(out):
    c = make_captures.Conn(cport=40021, sport=2143)
    c.handshake()
    c.s(b"* OK [CAPABILITY IMAP4rev1 IDLE] mailwire ready\r\n")
    c.c(b"u1 LOGIN bob secret\r\n")
    c.s(b"u1 OK LOGIN completed\r\n")
    c.c(b"u2 SELECT INBOX\r\n")
    c.s(b"* 3 EXISTS\r\n* OK [UIDVALIDITY 9] UIDs valid\r\n"
        b"u2 OK [READ-WRITE] SELECT completed\r\n")
    c.s(b"* 4 EXISTS\r\n")  # news, no command open
    c.c(b"u3 FETCH 4 (FLAGS)\r\n")
    c.s(b"* 4 FETCH (FLAGS ())\r\nu3 OK FETCH completed\r\n")
    c.s(b"* BYE autologout: idle for too long\r\n")  # answers nothing
    c.close()
    make_captures.write(os.path.join(out, "svg-unsolicited.pcap"), c,
                        c.segments, 101)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else here
    svg_unsolicited(out)


if __name__ == "__main__":
    main()
