#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record.sh BUILD_DIR [OUTDIR [WHAT...]]: records the golden captures of
# mailwire's own servers talking to real clients (Python's smtplib and
# poplib, and a socket client that writes IMAP as the RFC spells it), with
# tcpdump on lo (root). WHAT is smtp, pop3, imap, condstore, smuggling,
# bdat, tls, journey and/or journey-tls (default: all nine): writes
# mailwire-WHAT.pcap (tls, journey: see below and record-journey.sh); then
# run regen-goldens.sh and review the .out files.
#   SMTP: EHLO, a message with a leading-dot line, then STARTTLS + AUTH PLAIN
#         and a second message over TLS
#   POP3: USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT; then STLS
#   (the STARTTLS session goes to the submission port, which offers AUTH)
#   IMAP: LOGIN with a literal user name, CREATE of a modified UTF-7 name,
#         LIST, SELECT, FETCH with header and body literals, APPEND with a
#         synchronising literal, an APPEND literal refused (NO [TOOBIG]),
#         IDLE with an EXISTS pushed by a delivery through mw-smtpd,
#         LOGOUT; then STARTTLS, LOGIN and SELECT over TLS
#   CONDSTORE/QRESYNC (RFC 7162), carol's INBOX of three messages, four
#         sessions: (1) ENABLE QRESYNC, STATUS (HIGHESTMODSEQ), SELECT,
#         LOGOUT; (2) SELECT (CONDSTORE), sets \Seen on message 1 and
#         expunges message 2 (told as EXPUNGE: no QRESYNC here); (3) comes
#         back with SELECT (QRESYNC (uidvalidity modseq 1:3)), hears
#         VANISHED (EARLIER) and the FETCH of the changed flags, a STORE
#         (UNCHANGEDSINCE) answered [MODIFIED], UID FETCH (CHANGEDSINCE
#         VANISHED), IDLE, during which (4) expunges message 3, pushed to
#         (3) as VANISHED; then (3) expunges message 1 itself (VANISHED)
#   SMUGGLING: one connection per end-of-data look-alike (a "." between
#         bare CRs, bare LFs and CRLFs, not CRLF . CRLF; the first five
#         are lab 7's, labs/lib/labkit.py SMUGGLING_ENDS), each hiding a
#         second MAIL FROM in the text before the real CRLF . CRLF, then
#         QUIT; last, a line ending in a bare CR before the real end
#   TLS (mw-trace --keylog): tls-smtp.pcap, tls-pop3.pcap, tls-imap.pcap,
#         each with the key log its servers wrote (NAME.server.keylog,
#         GnuTLS, SSLKEYLOGFILE) and the one its clients wrote
#         (NAME.client.keylog: OpenSSL for curl and Python, GnuTLS for
#         mailwire's clients), and NAME.tsv, tshark's decoding with the
#         server key log (the cross-check's oracle). STARTTLS and implicit
#         TLS, TLS 1.3 (mailwire's clients: AES-256-GCM; curl: AES-128-GCM
#         and ChaCha20) and TLS 1.2 (Python: AES-GCM, ChaCha20):
#     SMTP: mw-send --starttls with AUTH, smtplib STARTTLS (1.2 GCM),
#           curl smtps (1.3 ChaCha20), smtplib SMTP_SSL (1.2 ChaCha20)
#     POP3: mw-pop3 --tls --list, poplib STLS (1.2 GCM), curl pop3 STLS
#           (1.3 AES-128), poplib POP3_SSL (1.2 ChaCha20)
#     IMAP: mw-imap --starttls fetch, imaplib IMAP4_SSL (1.2 ChaCha20),
#           curl imaps (1.3 AES-128), imaplib STARTTLS (1.2 GCM)
#     tls-lint (also alone: WHAT tls-lint): an IMAP client over implicit
#           TLS that reuses a tag and ends a line with a bare LF
#     tls-mutt (also alone: WHAT tls-mutt): mutt (GnuTLS), a real mail
#           program, sends in batch mode over STARTTLS with AUTH
#           (tls-smtp-mutt), then reads the message over implicit TLS in a
#           pseudo-terminal (tls-imap-mutt, tests/imap/interop-pty.py)
#   tls-cut.pcap is tls-smtp.pcap with every frame cut to 300 octets
#   (editcap -s 300: gaps in the longer records: the certificate, the
#   message), tls-end.pcap the first 35 frames of tls-imap.pcap and 150
#   octets of the 36th (the capture ends inside a TLS record).
#   BDAT (RFC 3030 CHUNKING): mw-send --chunking (one "BDAT n LAST" with a
#         leading-dot line, not stuffed), then a socket client that
#         pipelines MAIL, RCPT and two chunks, the second holding a line
#         "." that ends nothing, then BDAT 0 LAST; and a BDAT before MAIL,
#         whose chunk mw-smtpd reads and refuses (503)
# imap-pcapng.pcapng is imap-literals.pcap converted: editcap -F pcapng.
# The servers listen on ephemeral ports, so mw-trace must recognise them by
# their greeting.
set -euo pipefail
build=$(cd "${1:?usage: record.sh BUILD_DIR [OUTDIR]}" && pwd)
out=$(cd "${2:-$(dirname "$0")}" && pwd)
shift $(($# < 2 ? $# : 2))
what=" ${*:-smtp pop3 imap condstore smuggling bdat tls journey journey-tls} "
dir=$(mktemp -d /tmp/mw-record-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/mailwire.conf" <<CONF
[general]
hostname = mx.example.test
domains = example.test;localhost
state_dir = $dir
tls_cert = cert.pem
tls_key = key.pem
timeout = 30
[smtp]
listen = 127.0.0.1
port = 0
submission_port = 0
smtps_port = 0
[pop3]
listen = 127.0.0.1
port = 0
pop3s_port = 0
[imap]
listen = 127.0.0.1
port = 0
imaps_port = 0
CONF
admin="$build/src/tools/mw-admin --config $dir/mailwire.conf"
$admin cert --out "$dir/cert.pem" --key "$dir/key.pem" localhost 127.0.0.1 >/dev/null
for user in alice bob carol; do
    echo "$user-secret" > "$dir/$user.pw"
    $admin user add "$user" --password-file "$dir/$user.pw" >/dev/null
done

# start_server PROGRAM: starts it (in this shell, so that cleanup knows
# its pid) and waits for it to be ready
start_server() {
    SSLKEYLOGFILE="$dir/server.keylog" "$build/src/servers/$1" --config "$dir/mailwire.conf" > "$dir/$1.out" 2> "$dir/$1.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q ': ready' "$dir/$1.out" && break
        sleep 0.05
    done
}
# port_of PROGRAM LABEL -> the port PROGRAM said LABEL listens on
port_of() {
    sed -n "s/.* $2 listening on 127.0.0.1:\([0-9]*\)/\1/p" "$dir/$1.out" | head -1
}
start_server mw-smtpd
start_server mw-pop3d
start_server mw-imapd
smtp_port=$(port_of mw-smtpd smtp)
submission_port=$(port_of mw-smtpd submission)
smtps_port=$(port_of mw-smtpd smtps)
pop3_port=$(port_of mw-pop3d pop3)
pop3s_port=$(port_of mw-pop3d pop3s)
imap_port=$(port_of mw-imapd imap)
imaps_port=$(port_of mw-imapd imaps)
echo "mw-smtpd on $smtp_port, mw-pop3d on $pop3_port, mw-imapd on $imap_port"

# capture NAME FILTER -- CMD...: tcpdump on lo while CMD runs
capture() {
    local name=$1 filter=$2; shift 3
    tcpdump -i lo -s 0 -U -w "$out/$name.pcap" "$filter" 2> "$dir/tcpdump.err" &
    local tcpdump=$!
    pids+=("$tcpdump")
    for _ in $(seq 100); do grep -q listening "$dir/tcpdump.err" && break; sleep 0.05; done
    "$@"
    sleep 1.5   # let the last packets reach the file
    kill -INT "$tcpdump"; wait "$tcpdump" || true
    echo "$name.pcap: $(grep captured "$dir/tcpdump.err")"
}

[[ $what == *" smtp "* ]] &&
capture mailwire-smtp "tcp port $smtp_port or tcp port $submission_port" -- \
    python3 - "$smtp_port" "$submission_port" <<'PY'
import smtplib, ssl, sys
port, submission = int(sys.argv[1]), int(sys.argv[2])
msg = ("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
       "Subject: recorded\r\nMessage-ID: <recorded-1@example.test>\r\n\r\n"
       "Hello Bob,\r\n.this line starts with a dot\r\nAlice\r\n")
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo("client.example.test")
    s.sendmail("alice@example.test", ["bob@example.test"], msg)
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", submission) as s:
    s.ehlo("client.example.test")
    s.starttls(context=context)
    s.ehlo("client.example.test")
    s.login("alice", "alice-secret")
    s.sendmail("alice@example.test", ["bob@example.test"],
               msg.replace("recorded-1", "recorded-2"))
PY

# without the SMTP recording, bob's maildrop gets its two messages here
[[ $what != *" smtp "* && $what == *" pop3 "* ]] &&
python3 - "$smtp_port" <<'PY'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    for n in (1, 2):
        s.sendmail("alice@example.test", ["bob@example.test"],
                   "From: Alice <alice@example.test>\r\nTo: bob@example.test"
                   "\r\nSubject: recorded\r\n"
                   "Message-ID: <recorded-%d@example.test>\r\n\r\n"
                   "Hello Bob,\r\nAlice\r\n" % n)
PY
[[ $what == *" pop3 "* ]] &&
capture mailwire-pop3 "tcp port $pop3_port" -- python3 - "$pop3_port" <<'PY'
import poplib, ssl, sys
port = int(sys.argv[1])
p = poplib.POP3("127.0.0.1", port)
p.user("bob")
p.pass_("bob-secret")
p.stat()
p.list()
p.uidl()
p.retr(1)
p.dele(1)
p.quit()
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
p = poplib.POP3("127.0.0.1", port)
p.stls(context=context)
p.user("bob")
p.pass_("bob-secret")
p.stat()
p.quit()
PY

# the IMAP client of the recordings: writes IMAP as the RFC spells it
cat > "$dir/imapclient.py" <<'PY'
import sys


class Client:
    """Sends commands as written here; reads responses and literals."""

    def __init__(self, sock):
        self.use(sock)
        self.line()  # the greeting

    def use(self, sock):
        self.sock, self.file = sock, sock.makefile("rb")

    def line(self):
        line = self.file.readline()
        if not line:
            sys.exit("the server closed the connection")
        if line.rstrip(b"\r\n").endswith(b"}"):  # a literal follows
            size = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
            line += self.file.read(size) + self.line()
        return line

    def send(self, data):
        self.sock.sendall(data)

    def until(self, tag):
        """Reads up to the tagged response of @tag; self.seen holds the
        lines before it."""
        self.seen = []
        while not (line := self.line()).startswith(tag + b" "):
            self.seen.append(line)
        return line

    def wait_for(self, word):
        """Reads lines until one holds @word (a push during IDLE)."""
        while word not in (line := self.line()):
            pass
        return line

    def command(self, tag, text, literals=()):
        """tag SP text; each literal is announced at the end of a line and
        sent after the server's "+" (RFC 9051 §4.3)."""
        self.send(tag + b" " + text)
        for literal, rest in literals:
            if not self.line().startswith(b"+"):
                return
            self.send(literal + rest)
        return self.until(tag)
PY

if [[ $what == *" imap "* ]]; then
# alice's INBOX gets two messages before the capture; the second has two
# Cc addresses, so its ENVELOPE holds two lists with no SP between them
python3 - "$smtp_port" <<'PY'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.ehlo("client.example.test")
    s.sendmail("bob@example.test", ["alice@example.test"],
               "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
               "Subject: lunch on Friday\r\n"
               "Message-ID: <lunch@example.test>\r\n\r\n"
               "Noon at the usual place?\r\nBob\r\n")
    s.sendmail("carol@example.test", ["alice@example.test"],
               "From: Carol <carol@example.test>\r\n"
               "To: alice@example.test\r\n"
               "Cc: bob@example.test, dave@example.test\r\n"
               "Subject: the slides\r\n"
               "Message-ID: <slides@example.test>\r\n\r\n"
               "Attached in spirit.\r\n")
PY
capture mailwire-imap "tcp port $imap_port" -- \
    python3 - "$imap_port" "$smtp_port" "$dir" <<'PY'
import smtplib, socket, ssl, sys
port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from imapclient import Client

c = Client(socket.create_connection(("127.0.0.1", port)))
c.command(b"a1", b"LOGIN {5}\r\n", [(b"alice", b' "alice-secret"\r\n')])
c.command(b"a2", b'CREATE "Entw&APw-rfe"\r\n')
c.command(b"a3", b'LIST "" "*"\r\n')
c.command(b"a4", b"SELECT INBOX\r\n")
c.command(b"a5", b"FETCH 1:2 (UID FLAGS ENVELOPE "
          b"BODY.PEEK[HEADER.FIELDS (From Subject)])\r\n")
c.command(b"a6", b"FETCH 1 BODY[]\r\n")
draft = (b"From: alice@example.test\r\nSubject: draft\r\n\r\n"
         b"Ich schreibe morgen.\r\n")
c.command(b"a7", b'APPEND "Entw&APw-rfe" (\\Draft) {%d}\r\n' % len(draft),
          [(draft, b"\r\n")])
c.command(b"a8", b"APPEND INBOX {4294967295}\r\n")
c.send(b"a9 IDLE\r\n")
c.line()  # "+ idling"
with smtplib.SMTP("127.0.0.1", smtp_port) as s:
    s.sendmail("bob@example.test", ["alice@example.test"],
               "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
               "Subject: pushed\r\n\r\nDuring IDLE.\r\n")
c.wait_for(b"EXISTS")
c.send(b"DONE\r\n")
c.until(b"a9")
c.command(b"a10", b"LOGOUT\r\n")

context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
c = Client(socket.create_connection(("127.0.0.1", port)))
c.command(b"b1", b"STARTTLS\r\n")
c.use(context.wrap_socket(c.sock))
c.command(b"b2", b'LOGIN alice "alice-secret"\r\n')
c.command(b"b3", b"SELECT INBOX\r\n")
c.command(b"b4", b"LOGOUT\r\n")
PY
fi

if [[ $what == *" bdat "* ]]; then
printf 'Subject: in chunks\n\n.a line that starts with a dot\nlast line\n' > "$dir/chunked.eml"
capture mailwire-bdat "tcp port $smtp_port" -- \
    sh -c '"$1" --server "127.0.0.1:$2" --from alice@example.test --to bob@example.test \
        --eml "$3" --chunking --helo client.example.test >/dev/null && python3 - "$2"' sh \
    "$build/src/clients/mw-send" "$smtp_port" "$dir/chunked.eml" <<'PY'
import socket, sys
port = int(sys.argv[1])
first = b"Subject: two chunks\r\n\r\nthe first chunk\r\n"
second = b"a line with one dot:\r\n.\r\nends nothing here\r\n"
hidden = b"MAIL FROM:<evil@example.test>\r\n"


def reply(f):
    """the last line of one reply"""
    while (line := f.readline()) and line[3:4] == b"-":
        pass
    return line


with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO client.example.test\r\n")
    reply(f)
    # RFC 3030 §2: a chunk before MAIL is read whole and refused
    s.sendall(b"BDAT %d LAST\r\n" % len(hidden) + hidden)
    reply(f)
    s.sendall(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
              + b"BDAT %d\r\n" % len(first) + first
              + b"BDAT %d\r\n" % len(second) + second + b"BDAT 0 LAST\r\n")
    for _ in range(5):
        reply(f)
    s.sendall(b"QUIT\r\n")
    f.read()
PY
fi

if [[ $what == *" smuggling "* ]]; then
capture mailwire-smuggling "tcp port $smtp_port" -- \
    python3 - "$smtp_port" <<'PY'
import socket, sys
port = int(sys.argv[1])
ENDS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r", b"\r.\r",  # lab 7's
        b"\r.\n", b"\r.\r\n", b"\n.\r",
        b"\r\r\n.\r\n"]  # not a look-alike: a bare CR, then the real end


def text(end):
    """labkit.smuggling_text (): a second transaction hidden after END"""
    hidden = (b"MAIL FROM:<smuggler@example.test>\r\n"
              b"RCPT TO:<bob@example.test>\r\nDATA\r\n"
              b"Subject: smuggled\r\n\r\nA message nobody sent.\r\n.\r\n")
    if end == ENDS[-1]:
        hidden = b""
    return b"Subject: outer\r\n\r\nThe outer message." + end + hidden


def reply(f):
    """the last line of one reply ("" when the server closed)"""
    while (line := f.readline()) and line[3:4] == b"-":
        pass
    return line


for end in ENDS:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        reply(f)
        for command in (b"EHLO client.example.test", b"MAIL FROM:<alice@example.test>",
                        b"RCPT TO:<bob@example.test>", b"DATA"):
            s.sendall(command + b"\r\n")
            reply(f)
        s.sendall(text(end))
        reply(f)
        s.sendall(b"QUIT\r\n")
        f.read()  # the 221 and the server's close
PY
fi

if [[ $what == *" tls "* || $what == *" tls-lint "* || $what == *" tls-mutt "* ]]; then
    # shellcheck source=record-tls.sh
    . "$(dirname "$0")/record-tls.sh"
fi

# the journey of one message across two organisations (record-journey.sh)
if [[ $what == *" journey "* || $what == *" journey-tls "* ]]; then
    # shellcheck source=record-journey.sh
    . "$(dirname "$0")/record-journey.sh"
    for name in journey journey-tls; do
        [[ $what == *" $name "* ]] && record_journey "$name"
    done
fi

[[ $what == *" condstore "* ]] || exit 0
# carol's INBOX gets three messages (UIDs 1 to 3) before the capture
python3 - "$smtp_port" <<'PY'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    for n, subject in enumerate(("one", "two", "three"), 1):
        s.sendmail("bob@example.test", ["carol@example.test"],
                   "From: Bob <bob@example.test>\r\nTo: carol@example.test\r\n"
                   "Subject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\n"
                   "Message %d.\r\n" % (subject, subject, n))
PY
capture mailwire-condstore "tcp port $imap_port" -- \
    python3 - "$imap_port" "$dir" <<'PY'
import re, socket, sys
port = int(sys.argv[1])
sys.path.insert(0, sys.argv[2])
from imapclient import Client


def connect():
    return Client(socket.create_connection(("127.0.0.1", port)))


def number(lines, code):
    """n of the first "[CODE n]" in @lines"""
    for line in lines:
        if (found := re.search(rb"\[" + code + rb" (\d+)\]", line)):
            return int(found.group(1))
    sys.exit("no %s in %r" % (code, lines))


login = b'LOGIN carol "carol-secret"\r\n'
# 1: remembers UIDVALIDITY and HIGHESTMODSEQ, as a client with a cache does
a = connect()
a.command(b"a1", login)
a.command(b"a2", b"ENABLE QRESYNC\r\n")
a.command(b"a3", b"STATUS INBOX (MESSAGES HIGHESTMODSEQ)\r\n")
a.command(b"a4", b"SELECT INBOX\r\n")
uidvalidity = number(a.seen, b"UIDVALIDITY")
modseq = number(a.seen, b"HIGHESTMODSEQ")
a.command(b"a5", b"LOGOUT\r\n")
# 2: another client reads message 1 and deletes message 2
b = connect()
b.command(b"b1", login)
b.command(b"b2", b"SELECT INBOX (CONDSTORE)\r\n")
b.command(b"b3", b"STORE 1 +FLAGS (\\Seen)\r\n")
b.command(b"b4", b"STORE 2 +FLAGS.SILENT (\\Deleted)\r\n")
b.command(b"b5", b"EXPUNGE\r\n")
b.command(b"b6", b"LOGOUT\r\n")
# 3: the first client comes back and resynchronises in its SELECT
c = connect()
c.command(b"c1", login)
c.command(b"c2", b"ENABLE QRESYNC\r\n")
c.command(b"c3", b"SELECT INBOX (QRESYNC (%d %d 1:3))\r\n"
          % (uidvalidity, modseq))
c.command(b"c4", b"STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)\r\n"
          % modseq)
c.command(b"c5", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n"
          % modseq)
c.send(b"c6 IDLE\r\n")
c.line()  # "+ idling"
# 4: meanwhile the other client expunges UID 3
d = connect()
d.command(b"d1", login)
d.command(b"d2", b"SELECT INBOX\r\n")
d.command(b"d3", b"UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\n")
d.command(b"d4", b"EXPUNGE\r\n")
d.command(b"d5", b"LOGOUT\r\n")
c.wait_for(b"VANISHED")
c.send(b"DONE\r\n")
c.until(b"c6")
c.command(b"c7", b"STORE 1 +FLAGS.SILENT (\\Deleted)\r\n")
c.command(b"c8", b"EXPUNGE\r\n")
c.command(b"c9", b"LOGOUT\r\n")
PY
