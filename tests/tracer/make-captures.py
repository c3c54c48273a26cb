#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make-captures.py OUTDIR: writes the crafted golden captures of the
tracer tests. Each is a scripted TCP conversation turned into pcap records
with Python's struct, then edited on purpose (segments reordered, repeated,
dropped; a capture that starts mid-session), to exercise the reassembler
and the decoders on cases a live capture only gives by luck. Honest by
construction: every byte is written here, nothing is hidden.

Link types written: Ethernet (1), BSD loopback (0), Linux SLL (113),
Linux SLL2 (276), raw IP (101); IPv4 and IPv6.
"""
import os
import struct
import sys

T0 = 1795315800  # 2026-11-22, fixed so the goldens do not move


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Conn:
    """One TCP connection; segments are collected in order, then edited."""

    def __init__(self, v6=False, cport=40000, sport=2525, isn_c=1000,
                 isn_s=5000):
        self.v6 = v6
        self.caddr = b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01" if v6 else \
            bytes([192, 0, 2, 1])
        self.saddr = b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02" if v6 else \
            bytes([192, 0, 2, 2])
        self.cport, self.sport = cport, sport
        self.seq = {"c": isn_c & 0xFFFFFFFF, "s": isn_s & 0xFFFFFFFF}
        self.segments = []  # (who, seq, ack, flags, payload)

    def _seg(self, who, flags, payload=b"", seq=None):
        other = "s" if who == "c" else "c"
        seq = self.seq[who] if seq is None else seq
        self.segments.append((who, seq, self.seq[other], flags, payload))

    def handshake(self):
        self._seg("c", 0x02)
        self.seq["c"] = (self.seq["c"] + 1) & 0xFFFFFFFF
        self.segments[-1] = ("c", self.seq["c"] - 1, 0, 0x02, b"")
        self._seg("s", 0x12)
        self.seq["s"] = (self.seq["s"] + 1) & 0xFFFFFFFF
        self._seg("c", 0x10)

    def send(self, who, data, mss=1400):
        for i in range(0, len(data), mss):
            chunk = data[i:i + mss]
            self._seg(who, 0x18, chunk)
            self.seq[who] = (self.seq[who] + len(chunk)) & 0xFFFFFFFF
        other = "s" if who == "c" else "c"
        self._seg(other, 0x10)  # the peer acknowledges

    def c(self, data, **kw):
        self.send("c", data, **kw)

    def s(self, data, **kw):
        self.send("s", data, **kw)

    def close(self):
        for who in ("c", "s"):
            self._seg(who, 0x11)
            self.seq[who] = (self.seq[who] + 1) & 0xFFFFFFFF
        self._seg("c", 0x10)

    def packet(self, seg):
        who, seq, ack, flags, payload = seg
        src, dst = (self.caddr, self.saddr) if who == "c" else \
            (self.saddr, self.caddr)
        sp, dp = (self.cport, self.sport) if who == "c" else \
            (self.sport, self.cport)
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags,
                          65535, 0, 0) + payload
        if self.v6:
            pseudo = src + dst + struct.pack("!I3xB", len(tcp), 6)
            tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
            return struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src + \
                dst + tcp, 0x86DD
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000,
                         64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        return ip + tcp, 0x0800


def frame(linktype, ip, ethertype):
    if linktype == 1:
        return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01" + \
            struct.pack("!H", ethertype) + ip
    if linktype == 0:  # DLT_NULL: family in host order (little-endian here)
        return struct.pack("<I", 2 if ethertype == 0x0800 else 10) + ip
    if linktype == 113:
        return struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, ethertype) + ip
    if linktype == 276:
        return struct.pack("!HHIHBB8s", ethertype, 0, 1, 772, 0, 6,
                           b"\0" * 8) + ip
    return ip  # 101: raw IP


def write(path, conn, segments, linktype):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144,
                            linktype))
        for i, seg in enumerate(segments):
            ip, ethertype = conn.packet(seg)
            data = frame(linktype, ip, ethertype)
            usec = i * 1500
            f.write(struct.pack("<IIII", T0 + usec // 1000000,
                                usec % 1000000, len(data), len(data)))
            f.write(data)


def smtp_pipelining(out):
    """Ethernet, IPv4, sequence numbers that wrap, PIPELINING, AUTH PLAIN,
    a reordered pair of segments and a retransmission."""
    c = Conn(cport=40001, sport=2525, isn_c=0xFFFFFF80, isn_s=0xFFFFFFF0)
    c.handshake()
    c.s(b"220 mx.example.test ESMTP mailwire\r\n")
    c.c(b"EHLO client.example.test\r\n")
    c.s(b"250-mx.example.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n"
        b"250 ENHANCEDSTATUSCODES\r\n")
    c.c(b"AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n")
    c.s(b"235 2.7.0 Authentication successful\r\n")
    c.c(b"MAIL FROM:<alice@example.test> SIZE=200\r\n"
        b"RCPT TO:<bob@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
        b"DATA\r\n")
    c.s(b"250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"
        b"550 5.1.1 No such user\r\n354 Go ahead\r\n")
    c.c(b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
        b"Subject: pipelined\r\nMessage-ID: <p1@example.test>\r\n\r\n"
        b"Hello Bob,\r\n..a line that starts with a dot\r\n", mss=40)
    c.c(b"bye\r\n.\r\n")
    c.s(b"250 2.0.0 Queued as 1\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    segs = list(c.segments)
    # find two consecutive client data segments of the body and swap them,
    # then repeat one of them (a retransmission)
    body = [i for i, s in enumerate(segs) if s[0] == "c" and s[4] and
            len(s[4]) == 40]
    a, b = body[0], body[1]
    segs[a], segs[b] = segs[b], segs[a]
    segs.insert(body[2] + 1, segs[body[2]])
    write(os.path.join(out, "smtp-pipelining.pcap"), c, segs, 1)


def pop3_ipv6(out):
    """Linux SLL, IPv6: USER/PASS, LIST, RETR with dot-stuffing, DELE,
    QUIT; the server's multi-line RETR split over small segments."""
    c = Conn(v6=True, cport=40002, sport=2110)
    c.handshake()
    c.s(b"+OK mailwire POP3 ready\r\n")
    c.c(b"USER bob\r\n")
    c.s(b"+OK\r\n")
    c.c(b"PASS bob-secret\r\n")
    c.s(b"+OK 1 message\r\n")
    c.c(b"LIST\r\n")
    c.s(b"+OK 1 messages\r\n1 95\r\n.\r\n")
    c.c(b"RETR 1\r\n")
    c.s(b"+OK 95 octets\r\nFrom: alice@example.test\r\nSubject: hi\r\n\r\n"
        b"..dot line\r\nbody\r\n.\r\n", mss=30)
    c.c(b"DELE 1\r\n")
    c.s(b"+OK marked\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"+OK bye\r\n")
    c.close()
    write(os.path.join(out, "pop3-ipv6.pcap"), c, c.segments, 113)


def pop3_multipart(out):
    """Ethernet, IPv4: RETR of a MIME multipart message (RFC 2046
    §5.1.1) split over small segments: body lines that start with "-"
    but are no boundary, boundaries, a dot-stuffed line, the closing
    boundary; then TOP of the headers only."""
    c = Conn(cport=40010, sport=2110)
    c.handshake()
    c.s(b"+OK ready\r\n")
    c.c(b"USER bob\r\n")
    c.s(b"+OK\r\n")
    c.c(b"PASS bob-secret\r\n")
    c.s(b"+OK 1 message\r\n")
    c.c(b"RETR 1\r\n")
    c.s(b"+OK message follows\r\n"
        b"From: alice@example.test\r\nSubject: parts\r\n"
        b"Message-ID: <parts@example.test>\r\n"
        b"Content-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n\r\n"
        b"preamble\r\n- a dash, no boundary\r\n--b2 not ours\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
        b"..a stuffed dot\r\n-- a signature dash\r\n--b1\r\n\r\n"
        b"second part\r\n--b1--\r\nepilogue\r\n.\r\n", mss=23)
    c.c(b"TOP 1 0\r\n")
    c.s(b"+OK headers\r\nFrom: alice@example.test\r\nSubject: parts\r\n"
        b"\r\n.\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"+OK bye\r\n")
    c.close()
    write(os.path.join(out, "pop3-multipart.pcap"), c, c.segments, 1)


def imap_literals(out):
    """Raw IP: literals both ways ({n} and {n+}), IDLE/DONE, a reused tag,
    a literal whose length is wrong, FETCH items."""
    c = Conn(cport=40003, sport=2143)
    c.handshake()
    c.s(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] mailwire ready\r\n")
    c.c(b"a1 LOGIN {5}\r\n")
    c.s(b"+ go ahead\r\n")
    c.c(b"alice {12+}\r\nalice-secret\r\n")
    c.s(b"a1 OK LOGIN completed\r\n")
    c.c(b"a2 SELECT INBOX\r\n")
    c.s(b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
        b"a2 OK [READ-WRITE] SELECT completed\r\n")
    c.c(b"a3 FETCH 1:2 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])\r\n")
    hdr = b"From: bob@example.test\r\nSubject: literal\r\n\r\n"
    c.s(b"* 1 FETCH (UID 11 FLAGS (\\Seen) RFC822.SIZE 120 BODY[HEADER] {%d}"
        b"\r\n" % len(hdr) + hdr + b")\r\n"
        b"* 2 FETCH (UID 12 FLAGS () RFC822.SIZE 80 BODY[HEADER] NIL)\r\n"
        b"a3 OK FETCH completed\r\n")
    c.c(b"a3 STORE 1 +FLAGS (\\Flagged)\r\n")
    c.s(b"* 1 FETCH (FLAGS (\\Seen \\Flagged))\r\na3 OK STORE completed\r\n")
    msg = b"Subject: short\r\n\r\nhi\r\n"
    c.c(b"a4 APPEND INBOX {%d+}\r\n" % (len(msg) + 4) + msg + b"\r\n")
    c.c(b"a5 NOOP\r\n")
    c.s(b"a4 BAD literal too short\r\na5 OK NOOP\r\n")
    c.c(b"a6 IDLE\r\n")
    c.s(b"+ idling\r\n")
    c.s(b"* 3 EXISTS\r\n")
    c.c(b"DONE\r\n")
    c.s(b"a6 OK IDLE terminated\r\n")
    c.c(b"a7 LOGOUT\r\n")
    c.s(b"* BYE logging out\r\na7 OK LOGOUT completed\r\n")
    c.close()
    write(os.path.join(out, "imap-literals.pcap"), c, c.segments, 101)


def imap_grammar(out):
    """Ethernet, port 143: what the shared IMAP grammar (imap-parser.h)
    lets the tracer read: a masked LOGIN password literal, modified UTF-7
    names (one invalid) until ENABLE UTF8=ACCEPT, bad sequence sets and
    sections, a literal8 with a NUL, a literal too long to keep, a body in
    a quoted string, MODSEQ, a multipart BODYSTRUCTURE whose parts touch,
    UIDPLUS codes (one malformed), a command and a response that do not
    parse."""
    c = Conn(cport=40005, sport=143)
    c.handshake()
    c.s(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ UTF8=ACCEPT] ready\r\n")
    c.c(b'g1 LOGIN "alice" {12+}\r\nalice-secret\r\n')
    c.s(b"g1 OK LOGIN completed\r\n")
    c.c(b'g2 LIST "" "Entw&APw-rfe/*"\r\n')
    c.s(b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/&ZeVnLIqe-"\r\n'
        b"g2 OK LIST completed\r\n")
    c.c(b"g3 SELECT &Jjo!\r\n")
    c.s(b"g3 NO not modified UTF-7\r\n")
    c.c(b"g4 ENABLE UTF8=ACCEPT\r\n")
    c.s(b"* ENABLED UTF8=ACCEPT\r\ng4 OK ENABLE completed\r\n")
    c.c(b'g5 SELECT "Entw\xc3\xbcrfe"\r\n')
    c.s(b"* 3 EXISTS\r\ng5 OK [READ-WRITE] SELECT completed\r\n")
    c.c(b"g6 FETCH 0:2 (BODY[MIME] BINARY[1.HEADER])\r\n")
    c.s(b"g6 BAD bad sequence set\r\n")
    big = (b"From: bob@example.test\r\nSubject: big\r\n\r\n" +
           b"x" * 4150 + b"\r\n")
    c.c(b"g7 FETCH 1:3 (MODSEQ BINARY[1] BODY[] BODY[TEXT] BODYSTRUCTURE)\r\n")
    c.s(b"* 1 FETCH (MODSEQ (12345) BINARY[1] ~{5}\r\na\0b\r\n)\r\n"
        b"* 2 FETCH (BODY[] {%d}\r\n" % len(big) + big + b")\r\n"
        b'* 3 FETCH (BODY[TEXT] "hello" BODYSTRUCTURE (("text" "plain" NIL '
        b'NIL NIL "7bit" 5 1)("text" "html" NIL NIL NIL "7bit" 9 1) '
        b'"alternative"))\r\n'
        b"g7 OK FETCH completed\r\n")
    c.c(b'g8 UID COPY 1:2 "Sent"\r\n')
    c.s(b"g8 OK [COPYUID 7 1:2 10:11] COPY completed\r\n")
    c.c(b"g9 APPEND Sent {2+}\r\nhi\r\n")
    c.s(b"g9 OK [APPENDUID 7 *] APPEND completed\r\n")
    c.c(b"g10 SEARCH (FROM bob\r\n")
    c.s(b'* LIST (\\Noselect "/" foo\r\ng10 BAD unbalanced\r\n')
    c.c(b"g11 LOGOUT\r\n")
    c.s(b"* BYE bye\r\ng11 OK LOGOUT completed\r\n")
    c.close()
    write(os.path.join(out, "imap-grammar.pcap"), c, c.segments, 1)


def write_conns(path, conns, linktype):
    """Like write (), one connection after the other in one file."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144,
                            linktype))
        i = 0
        for conn in conns:
            for seg in conn.segments:
                ip, ethertype = conn.packet(seg)
                data = frame(linktype, ip, ethertype)
                usec = i * 1500
                f.write(struct.pack("<IIII", T0 + usec // 1000000,
                                    usec % 1000000, len(data), len(data)))
                f.write(data)
                i += 1


def imap_qresync(out):
    """Ethernet, port 143: CONDSTORE and QRESYNC (RFC 7162) gone wrong, on
    both sides: the QRESYNC parameter and the VANISHED modifier before
    ENABLE QRESYNC, a QRESYNC parameter with a zero UIDVALIDITY, VANISHED
    without CHANGEDSINCE and without UID, a bad UNCHANGEDSINCE; a VANISHED
    with a message number, with "*", and (EARLIER) when nothing asked for
    it, an EXPUNGE under QRESYNC (and one in a NOMODSEQ mailbox, which is
    fine), HIGHESTMODSEQ 0, MODIFIED without a set, a STORE's FETCH
    without UID or MODSEQ. Then a server with CONDSTORE but not QRESYNC,
    whose STORE answers need MODSEQ only."""
    c = Conn(cport=40006, sport=143)
    c.handshake()
    c.s(b"* OK [CAPABILITY IMAP4rev1 CONDSTORE QRESYNC] ready\r\n")
    c.c(b"q1 LOGIN alice secret\r\n")
    c.s(b"q1 OK LOGIN completed\r\n")
    c.c(b"q2 SELECT INBOX (QRESYNC (67890007 20 1:5))\r\n")
    c.s(b"q2 BAD ENABLE QRESYNC first\r\n")
    c.c(b"q3 ENABLE QRESYNC\r\n")
    c.s(b"* ENABLED QRESYNC\r\nq3 OK ENABLE completed\r\n")
    c.c(b"q4 SELECT INBOX (QRESYNC (0 20))\r\n")
    c.s(b"q4 BAD UIDVALIDITY is a non-zero number\r\n")
    c.c(b"q5 SELECT INBOX (QRESYNC (67890007 20 1:5))\r\n")
    c.s(b"* 3 EXISTS\r\n* OK [UIDVALIDITY 67890007] UIDs valid\r\n"
        b"* OK [HIGHESTMODSEQ 0] zero is no mod-sequence\r\n"
        b"* VANISHED (EARLIER) 2,4:5\r\n"
        b"* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (25))\r\n"
        b"q5 OK [READ-WRITE] SELECT completed\r\n")
    c.c(b"q6 FETCH 1:3 (FLAGS) (CHANGEDSINCE 20 VANISHED)\r\n")
    c.s(b"q6 BAD VANISHED needs UID FETCH\r\n")
    c.c(b"q7 UID FETCH 1:* (FLAGS) (VANISHED)\r\n")
    c.s(b"q7 BAD VANISHED needs CHANGEDSINCE\r\n")
    c.c(b"q8 STORE 1 (UNCHANGEDSINCE soon) +FLAGS (\\Flagged)\r\n")
    c.s(b"q8 BAD UNCHANGEDSINCE takes a number\r\n")
    c.c(b"q9 STORE 1:2 (UNCHANGEDSINCE 20) +FLAGS (\\Flagged)\r\n")
    c.s(b"* 1 FETCH (FLAGS (\\Flagged))\r\n"
        b"q9 OK [MODIFIED] STORE completed\r\n")
    c.c(b"q10 NOOP\r\n")
    c.s(b"* 3 VANISHED\r\n* VANISHED 1:*\r\n* VANISHED (EARLIER) 7\r\n"
        b"* 1 EXPUNGE\r\nq10 OK NOOP completed\r\n")
    c.c(b"q11 EXAMINE Archive\r\n")
    c.s(b"* 2 EXISTS\r\n* OK [NOMODSEQ] no mod-sequences here\r\n"
        b"q11 OK [READ-ONLY] EXAMINE completed\r\n")
    c.c(b"q12 NOOP\r\n")
    c.s(b"* 1 EXPUNGE\r\nq12 OK NOOP completed\r\n")
    c.c(b"q13 LOGOUT\r\n")
    c.s(b"* BYE bye\r\nq13 OK LOGOUT completed\r\n")
    c.close()
    d = Conn(cport=40007, sport=143)
    d.handshake()
    d.s(b"* OK [CAPABILITY IMAP4rev1 CONDSTORE] ready\r\n")
    d.c(b"r1 LOGIN alice secret\r\n")
    d.s(b"r1 OK LOGIN completed\r\n")
    d.c(b"r2 SELECT INBOX (CONDSTORE)\r\n")
    d.s(b"* 2 EXISTS\r\n* OK [HIGHESTMODSEQ 30] highest\r\n"
        b"r2 OK [READ-WRITE] SELECT completed\r\n")
    d.c(b"r3 STORE 1:2 +FLAGS (\\Seen)\r\n")
    d.s(b"* 1 FETCH (FLAGS (\\Seen))\r\n"
        b"* 2 FETCH (FLAGS (\\Seen) MODSEQ (31))\r\n"
        b"r3 OK STORE completed\r\n")
    d.c(b"r4 LOGOUT\r\n")
    d.s(b"* BYE bye\r\nr4 OK LOGOUT completed\r\n")
    d.close()
    write_conns(os.path.join(out, "imap-qresync.pcap"), [c, d], 1)


def client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0,
                          len(name)) + name
    versions = struct.pack("!HHBHH", 43, 5, 4, 0x0304, 0x0303)
    exts = sni_ext + versions
    body = struct.pack("!H", 0x0303) + b"\x11" * 32 + b"\0" + \
        struct.pack("!HHH", 4, 0x1301, 0xC02F) + b"\x01\x00" + \
        struct.pack("!H", len(exts)) + exts
    hs = struct.pack("!B", 1) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(hs)) + hs


def server_hello():
    exts = struct.pack("!HHH", 43, 2, 0x0304)
    body = struct.pack("!H", 0x0303) + b"\x22" * 32 + b"\0" + \
        struct.pack("!HB", 0x1301, 0) + struct.pack("!H", len(exts)) + exts
    hs = struct.pack("!B", 2) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0303, len(hs)) + hs


def record(kind, n):
    return struct.pack("!BHH", kind, 0x0303, n) + b"\x5a" * n


def smtp_lint_starttls(out):
    """BSD loopback: a client that breaks rules (RCPT before MAIL, bare LF,
    no dot-stuffing) and then injects a command after STARTTLS, followed
    by a TLS 1.3 handshake and encrypted records."""
    c = Conn(cport=40004, sport=25)
    c.handshake()
    c.s(b"220 mx.example.test ESMTP\r\n")
    c.c(b"EHLO lab.example.test\r\n")
    c.s(b"250-mx.example.test\r\n250 STARTTLS\r\n")
    c.c(b"RCPT TO:<bob@example.test>\r\n")
    c.s(b"503 5.5.1 Need MAIL first\r\n")
    c.c(b"MAIL FROM:<student@lab.example.test>\r\n")
    c.s(b"250 2.1.0 Ok\r\n")
    c.c(b"RCPT TO:<bob@example.test>\r\n")
    c.s(b"250 2.1.5 Ok\r\n")
    c.c(b"DATA\r\n")
    c.s(b"354 End with <CRLF>.<CRLF>\r\n")
    c.c(b"Subject: lint\n\r\n.not stuffed\r\nend\r\n.\r\n")
    c.s(b"250 2.0.0 Ok\r\n")
    c.c(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
    c.s(b"220 2.0.0 Ready to start TLS\r\n")
    c.c(client_hello("mx.example.test"))
    c.s(server_hello() + record(20, 1) + record(23, 900))
    c.c(record(23, 120))
    c.s(record(23, 60))
    c.close()
    write(os.path.join(out, "smtp-lint-starttls.pcap"), c, c.segments, 0)


def smtp_midsession(out):
    """Linux SLL2: the capture begins in the middle of a command line, and
    a segment of the message text and one of the replies are missing."""
    c = Conn(cport=40005, sport=587)
    c.handshake()
    c.s(b"220 mx.example.test ESMTP\r\n")
    c.c(b"EHLO client.example.test\r\n")
    c.s(b"250 mx.example.test\r\n")
    c.c(b"MAIL FROM:<carol@example.test>\r\n")
    c.s(b"250 Ok\r\n")
    c.c(b"RCPT TO:<dave@example.test>\r\n")
    c.s(b"250 Ok\r\n")
    c.c(b"DATA\r\n")
    c.s(b"354 Go ahead\r\n")
    c.c(b"Subject: gap\r\n\r\n" + b"0123456789abcdefghij\r\n" * 6 +
        b".\r\n", mss=44)
    c.s(b"250 Queued\r\n")
    c.c(b"NOOP\r\n")
    c.s(b"250 Ok\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 Bye\r\n")
    c.close()
    segs = list(c.segments)
    # start inside "MAIL FROM:..." : cut the first 6 octets of that segment
    start = next(i for i, s in enumerate(segs) if s[4].startswith(b"MAIL"))
    who, seq, ack, flags, payload = segs[start]
    segs[start] = (who, (seq + 6) & 0xFFFFFFFF, ack, flags, payload[6:])
    segs = segs[start:]
    # drop the second segment of the message text (the peer's ACK stays)
    body = [i for i, s in enumerate(segs) if s[0] == "c" and
            len(s[4]) == 44]
    del segs[body[1]]
    write(os.path.join(out, "smtp-midsession.pcap"), c, segs, 276)


def smtp_bdat_pipelined(out):
    """RFC 3030 §4 (BDAT with PIPELINING): two transactions sent in a row,
    each ending in BDAT ... LAST; the replies to the first come in while
    the second chunk is still on its way. Each message is delivered by the
    reply to its own last chunk."""
    first = (b"Subject: first\r\nMessage-ID: <b1@example.test>\r\n\r\n"
             b"the first message\r\n")
    second = (b"Subject: second\r\nMessage-ID: <b2@example.test>\r\n\r\n"
              b"the second message,\r\nin two lines\r\n")
    c = Conn(cport=40007, sport=2525)
    c.handshake()
    c.s(b"220 mx.example.test ESMTP mailwire\r\n")
    c.c(b"EHLO client.example.test\r\n")
    c.s(b"250-mx.example.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
    c.c(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
        b"BDAT %d LAST\r\n" % len(first) + first +
        b"MAIL FROM:<carol@example.test>\r\nRCPT TO:<dave@example.test>\r\n"
        b"BDAT %d LAST\r\n" % len(second) + second[:20])
    c.s(b"250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"
        b"250 2.0.0 Queued as B1\r\n")
    c.c(second[20:])
    c.s(b"250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"
        b"250 2.0.0 Queued as B2\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    write(os.path.join(out, "smtp-bdat-pipelined.pcap"), c, c.segments, 1)


def smtp_data_pipelined(out):
    """RFC 2920 §3.1: the next transaction's MAIL, RCPT and DATA sent right
    behind the "." that ends a message, before its reply."""
    c = Conn(cport=40009, sport=2525)
    c.handshake()
    c.s(b"220 mx.example.test ESMTP mailwire\r\n")
    c.c(b"EHLO client.example.test\r\n")
    c.s(b"250-mx.example.test\r\n250 PIPELINING\r\n")
    c.c(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
        b"DATA\r\n")
    c.s(b"250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n354 Go ahead\r\n")
    c.c(b"Subject: one\r\n\r\nthe first message\r\n.\r\n"
        b"MAIL FROM:<carol@example.test>\r\nRCPT TO:<dave@example.test>\r\n"
        b"DATA\r\n")
    c.s(b"250 2.0.0 Queued as D1\r\n250 2.1.0 Sender ok\r\n"
        b"250 2.1.5 Recipient ok\r\n354 Go ahead\r\n")
    c.c(b"Subject: two\r\n\r\nthe second message\r\n.\r\n")
    c.s(b"250 2.0.0 Queued as D2\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    write(os.path.join(out, "smtp-data-pipelined.pcap"), c, c.segments, 1)


def smtp_hostile_text(out):
    """Ethernet, IPv4: octets JSON has to escape or repair (RFC 8259 §7,
    RFC 3629 §3) in commands, replies and message text: '"', '\\', a tab,
    ESC, DEL, a NUL, valid UTF-8 of two, three and four octets (SMTPUTF8,
    RFC 6531), and invalid UTF-8: a lone 0xff, a cut sequence, an
    overlong '/' (0xc0 0xaf) and a UTF-16 surrogate (0xed 0xa0 0x80)."""
    c = Conn(cport=40011, sport=2525)
    c.handshake()
    c.s(b"220 mx.example.test ESMTP \"quoted\" \\ back\\slash\r\n")
    c.c(b"EHLO h\xc3\xa9llo.example.test\r\n")
    c.s(b"250-mx.example.test\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n")
    c.c(b"MAIL FROM:<j\xc3\xbcrgen@example.test> SMTPUTF8\r\n")
    c.s(b"250 2.1.0 Ok\r\n")
    c.c(b"RCPT TO:<\xff\xfe@example.test>\r\n")
    c.s(b"553 5.1.3 Bad \x1b[1mmailbox\x1b[0m\tsyntax\x7f\r\n")
    c.c(b"RCPT TO:<\xe2\x82\xac\xf0\x9f\x93\xa7@example.test>\r\n")
    c.s(b"250 2.1.5 Ok\r\n")
    c.c(b"DATA\r\n")
    c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    c.c(b"From: \"J\\\"rgen\" <j\xc3\xbcrgen@example.test>\r\n"
        b"To: <\xe2\x82\xac\xf0\x9f\x93\xa7@example.test>\r\n"
        b"Subject: caf\xc3\xa9 \xe2\x82 cut, \xc0\xaf overlong, "
        b"\xed\xa0\x80 surrogate\r\n"
        b"Message-ID: <hostile@example.test>\r\n\r\n"
        b"a tab\there, a NUL \x00 here, \"quotes\" and \\ too\r\n"
        b"\xff\xff\xff\r\n.\r\n")
    c.s(b"250 2.0.0 Ok: queued as H05T1LE\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close()
    write(os.path.join(out, "smtp-hostile.pcap"), c, c.segments, 1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
    for make in (smtp_pipelining, pop3_ipv6, imap_literals,
                 smtp_lint_starttls, smtp_midsession, imap_grammar,
                 imap_qresync, smtp_bdat_pipelined, smtp_data_pipelined,
                 pop3_multipart, smtp_hostile_text):
        make(out)


if __name__ == "__main__":
    main()
