#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record.sh BUILD_DIR [OUTDIR]: records the golden captures of mailwire's own
# servers talking to real clients (Python's smtplib and poplib), with
# tcpdump on lo (root). Writes mailwire-smtp.pcap and mailwire-pop3.pcap;
# then run regen-goldens.sh and review the .out files.
#   SMTP: EHLO, a message with a leading-dot line, then STARTTLS + AUTH PLAIN
#         and a second message over TLS
#   POP3: USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT; then STLS
#   (the STARTTLS session goes to the submission port, which offers AUTH)
# imap-pcapng.pcapng is imap-literals.pcap converted: editcap -F pcapng.
# The servers listen on ephemeral ports, so mw-trace must recognise them by
# their greeting.
set -euo pipefail
build=$(cd "${1:?usage: record.sh BUILD_DIR [OUTDIR]}" && pwd)
out=$(cd "${2:-$(dirname "$0")}" && pwd)
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
CONF
admin="$build/src/tools/mw-admin --config $dir/mailwire.conf"
$admin cert --out "$dir/cert.pem" --key "$dir/key.pem" localhost 127.0.0.1 >/dev/null
for user in alice bob; do
    echo "$user-secret" > "$dir/$user.pw"
    $admin user add "$user" --password-file "$dir/$user.pw" >/dev/null
done

# start_server PROGRAM LABEL -> prints the port of LABEL
start_server() {
    "$build/src/servers/$1" --config "$dir/mailwire.conf" > "$dir/$1.out" 2> "$dir/$1.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q ': ready' "$dir/$1.out" && break
        sleep 0.05
    done
    sed -n "s/.* $2 listening on 127.0.0.1:\([0-9]*\)/\1/p" "$dir/$1.out" | head -1
}
smtp_port=$(start_server mw-smtpd smtp)
submission_port=$(sed -n "s/.* submission listening on 127.0.0.1:\([0-9]*\)/\1/p" "$dir/mw-smtpd.out" | head -1)
pop3_port=$(start_server mw-pop3d pop3)
echo "mw-smtpd on $smtp_port, mw-pop3d on $pop3_port"

# capture NAME FILTER -- CMD...: tcpdump on lo while CMD runs
capture() {
    local name=$1 filter=$2; shift 3
    tcpdump -i lo -s 0 -U -w "$out/$name.pcap" "$filter" 2> "$dir/tcpdump.err" &
    local tcpdump=$!
    for _ in $(seq 100); do grep -q listening "$dir/tcpdump.err" && break; sleep 0.05; done
    "$@"
    sleep 1.5   # let the last packets reach the file
    kill -INT "$tcpdump"; wait "$tcpdump" || true
    echo "$name.pcap: $(grep captured "$dir/tcpdump.err")"
}

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
