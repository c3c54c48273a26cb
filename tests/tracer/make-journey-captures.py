#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make-journey-captures.py [OUTDIR]: crafted captures for the journey of
a message (mw-trace --journey), on make-captures.py's Conn (same
addresses, 1.5 ms between frames).

journey-stamps.pcap: messages without a Message-ID, so only the
Received: trail links them (RFC 5321 §4.4):
  0. mx.example.test relays to mx.example.org under STARTTLS, encrypted
     (no key log): the hop is inferred from the "by mx.example.org ...
     id BBB" field of the copies pulled later, and from the greeting;
  1. carol downloads the copy (POP3 RETR 1, then DELE 1) and a second
     message (RETR 2), stamped "id CCC": another journey;
  2. bob fetches his copy over IMAP: the same newest Received: id BBB and
     the same size as carol's, so the same delivered message.
"""
import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "make_captures", os.path.join(here, "make-captures.py"))
make_captures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_captures)
Conn = make_captures.Conn


def stamped(newest_id, subject):
    """A message as mx.example.org stored it: its Received: field on top
    of mx.example.test's, no Message-ID."""
    return (b"Received: from mx.example.test ([192.0.2.1])\r\n"
            b"\tby mx.example.org (mailwire) with ESMTPS id " + newest_id +
            b"; Sun, 22 Nov 2026 09:30:00 +0000\r\n"
            b"Received: from laptop.example.test ([192.0.2.1])\r\n"
            b"\tby mx.example.test (mailwire) with ESMTPSA id AAA; "
            b"Sun, 22 Nov 2026 09:29:59 +0000\r\n"
            b"From: alice@example.test\r\nTo: carol@example.org, "
            b"bob@example.org\r\nSubject: " + subject + b"\r\n\r\n"
            b"no Message-ID here\r\n")


def relay_encrypted():
    c = Conn(cport=40031, sport=25)
    c.handshake()
    c.s(b"220 mx.example.org ESMTP mailwire ready\r\n")
    c.c(b"EHLO mx.example.test\r\n")
    c.s(b"250-mx.example.org\r\n250 STARTTLS\r\n")
    c.c(b"STARTTLS\r\n")
    c.s(b"220 2.0.0 ready to start TLS\r\n")
    c.c(make_captures.client_hello("mx.example.org"))
    c.s(make_captures.server_hello() + make_captures.record(20, 1) +
        make_captures.record(23, 900))
    c.c(make_captures.record(23, 700))
    c.s(make_captures.record(23, 60))
    c.close()
    return c


def pop3_carol():
    c = Conn(cport=40032, sport=110)
    first = stamped(b"BBB", b"stamps")
    second = stamped(b"CCC", b"another")
    c.handshake()
    c.s(b"+OK mailwire POP3 server ready\r\n")
    c.c(b"USER carol\r\n")
    c.s(b"+OK send PASS\r\n")
    c.c(b"PASS carol-secret\r\n")
    c.s(b"+OK carol has 2 messages\r\n")
    c.c(b"RETR 1\r\n")
    c.s(b"+OK %d octets\r\n" % len(first) + first + b".\r\n")
    c.c(b"DELE 1\r\n")
    c.s(b"+OK message 1 marked for deletion\r\n")
    c.c(b"RETR 2\r\n")
    c.s(b"+OK %d octets\r\n" % len(second) + second + b".\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"+OK 1 messages deleted, signing off\r\n")
    c.close()
    return c


def imap_bob():
    c = Conn(cport=40033, sport=143)
    copy = stamped(b"BBB", b"stamps")
    c.handshake()
    c.s(b"* OK [CAPABILITY IMAP4rev1 IDLE] mailwire ready\r\n")
    c.c(b"b1 LOGIN bob bob-secret\r\n")
    c.s(b"b1 OK LOGIN completed\r\n")
    c.c(b"b2 SELECT INBOX\r\n")
    c.s(b"* 1 EXISTS\r\nb2 OK [READ-WRITE] SELECT completed\r\n")
    c.c(b"b3 FETCH 1 (UID BODY[])\r\n")
    c.s(b"* 1 FETCH (UID 7 BODY[] {%d}\r\n" % len(copy) + copy + b")\r\n"
        b"b3 OK FETCH completed\r\n")
    c.c(b"b4 LOGOUT\r\n")
    c.s(b"* BYE logging out\r\nb4 OK LOGOUT completed\r\n")
    c.close()
    return c


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else here
    make_captures.write_conns(os.path.join(out, "journey-stamps.pcap"),
                              [relay_encrypted(), pop3_carol(), imap_bob()],
                              101)


if __name__ == "__main__":
    main()
