# SPDX-License-Identifier: MIT
# record-tls.sh: the TLS part of record.sh (sourced by it, "record.sh
# BUILD_DIR OUTDIR tls"): for each protocol a capture of TLS sessions with
# the key logs written by the servers (SSLKEYLOGFILE, set by start_server)
# and by the clients, and tshark's decoding of it with the server key log.
# Needs the variables and functions of record.sh, curl and tshark.

client_keylog="$dir/client.keylog"
export SSLKEYLOGFILE="$client_keylog" # curl, Python (OpenSSL), mw-* (GnuTLS)
printf 'Subject: over TLS\r\n\r\nSent inside TLS.\r\n' > "$dir/message.txt"

# tls_capture NAME PORTS... -- CMD...: the capture, its two key logs and
# its tshark decoding. A port is PROTOCOL:PORT (STARTTLS: tshark finds the
# TLS after it) or tls/PROTOCOL:PORT (implicit TLS: TLS on the TCP port,
# PROTOCOL inside it)
tls_capture() {
    local name=$1 filter="" decode=() port protocol; shift
    while [[ $1 != -- ]]; do
        port=${1#*:} protocol=${1%%:*}
        filter+="${filter:+ or }tcp port $port"
        if [[ $protocol == tls/* ]]; then
            decode+=(-d "tcp.port==$port,tls" -d "tls.port==$port,${protocol#tls/}")
        else
            decode+=(-d "tcp.port==$port,$protocol")
        fi
        shift
    done
    : > "$dir/server.keylog"
    : > "$client_keylog"
    capture "$name" "$filter" "$@"
    cp "$dir/server.keylog" "$out/$name.server.keylog"
    cp "$client_keylog" "$out/$name.client.keylog"
    # the fields of captures/README.md; -d for the ephemeral ports, and
    # tls.port for the ones TLS runs on from the first octet
    tshark -r "$out/$name.pcap" -o "tls.keylog_file:$out/$name.server.keylog" \
        "${decode[@]}" -Y 'smtp || imap || pop' \
        -T fields -E header=y -E occurrence=a -E aggregator='|' \
        -e frame.number -e smtp.req.command -e smtp.response.code \
        -e imap.request.command -e pop.request.command \
        -e tcp.stream -e tcp.srcport -e tcp.dstport \
        -e smtp.req.parameter -e smtp.rsp.parameter \
        -e imap.request_tag -e imap.response_tag -e imap.response.status \
        -e pop.request.parameter -e pop.response.indicator \
        -e pop.response.description > "$out/$name.tsv"
    echo "$name.tsv: $(($(wc -l < "$out/$name.tsv") - 1)) rows"
}

# Python's TLS 1.2 contexts: AES-GCM or ChaCha20-Poly1305
cat > "$dir/tls12.py" <<'PY'
import ssl


def context(cipher=None):
    c = ssl.create_default_context()  # honours SSLKEYLOGFILE
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.maximum_version = ssl.TLSVersion.TLSv1_2
    if cipher:
        c.set_ciphers(cipher)
    return c
PY

mw="$build/src/clients"
if [[ $what == *" tls "* ]]; then
mw="$build/src/clients"
tls_capture tls-smtp "smtp:$submission_port" "tls/smtp:$smtps_port" -- \
    bash -c '
    "$0/mw-send" --server "127.0.0.1:$1" --starttls --insecure --user alice \
        --password-file "$3/alice.pw" --from alice@example.test \
        --to bob@example.test --subject "mw-send over TLS 1.3" --body "Hello." \
        --helo client.example.test
    python3 - "$1" "$2" "$3" <<PY
import smtplib, sys
sys.path.insert(0, sys.argv[3])
from tls12 import context
port, smtps = int(sys.argv[1]), int(sys.argv[2])
msg = "Subject: smtplib over TLS 1.2\r\n\r\nHello.\r\n"
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo("client.example.test")
    s.starttls(context=context())
    s.ehlo("client.example.test")
    s.login("alice", "alice-secret")
    s.sendmail("alice@example.test", ["bob@example.test"], msg)
with smtplib.SMTP_SSL("127.0.0.1", smtps,
                      context=context("ECDHE-RSA-CHACHA20-POLY1305")) as s:
    s.ehlo("client.example.test")
    s.login("alice", "alice-secret")
    s.sendmail("alice@example.test", ["bob@example.test"], msg)
PY
    curl -sS --insecure --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 \
        "smtps://127.0.0.1:$2" --login-options AUTH=PLAIN \
        --user alice:alice-secret --mail-from alice@example.test \
        --mail-rcpt bob@example.test -T "$3/message.txt"
    ' "$mw" "$submission_port" "$smtps_port" "$dir"

tls_capture tls-pop3 "pop:$pop3_port" "tls/pop:$pop3s_port" -- \
    bash -c '
    "$0/mw-pop3" --server "127.0.0.1:$2" --tls --insecure --user bob \
        --password-file "$3/bob.pw" --list > /dev/null
    python3 - "$1" "$2" "$3" <<PY
import poplib, sys
sys.path.insert(0, sys.argv[3])
from tls12 import context
port, pop3s = int(sys.argv[1]), int(sys.argv[2])
p = poplib.POP3("127.0.0.1", port)
p.stls(context=context())
p.user("bob")
p.pass_("bob-secret")
p.stat()
p.retr(1)
p.quit()
p = poplib.POP3_SSL("127.0.0.1", pop3s,
                    context=context("ECDHE-RSA-CHACHA20-POLY1305"))
p.user("bob")
p.pass_("bob-secret")
p.uidl()
p.quit()
PY
    curl -sS --insecure --ssl-reqd --tls13-ciphers TLS_AES_128_GCM_SHA256 \
        "pop3://127.0.0.1:$1/1" --user bob:bob-secret > /dev/null
    ' "$mw" "$pop3_port" "$pop3s_port" "$dir"

tls_capture tls-imap "imap:$imap_port" "tls/imap:$imaps_port" -- \
    bash -c '
    "$0/mw-imap" --server "127.0.0.1:$1" --starttls --insecure --user bob \
        --password-file "$3/bob.pw" fetch INBOX 1 > /dev/null
    python3 - "$1" "$2" "$3" <<PY
import imaplib, sys
sys.path.insert(0, sys.argv[3])
from tls12 import context
port, imaps = int(sys.argv[1]), int(sys.argv[2])
m = imaplib.IMAP4_SSL("127.0.0.1", imaps,
                      ssl_context=context("ECDHE-RSA-CHACHA20-POLY1305"))
m.login("bob", "bob-secret")
m.select("INBOX")
m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])")
m.logout()
m = imaplib.IMAP4("127.0.0.1", port)
m.starttls(ssl_context=context())
m.login("bob", "bob-secret")
m.list()
m.logout()
PY
    curl -sS --insecure --tls13-ciphers TLS_AES_128_GCM_SHA256 \
        "imaps://127.0.0.1:$2/INBOX;UID=1" --user bob:bob-secret > /dev/null
    ' "$mw" "$imap_port" "$imaps_port" "$dir"
fi

# tls-lint: the lint rules inside TLS: an IMAP client over implicit TLS
# (TLS 1.3) that reuses a tag and ends a line with a bare LF
if [[ $what == *" tls "* || $what == *" tls-lint "* ]]; then
tls_capture tls-lint "tls/imap:$imaps_port" -- \
    python3 - "$imaps_port" "$dir" <<'PY'
import socket, ssl, sys
sys.path.insert(0, sys.argv[2])
from tls12 import context
c = context()
c.maximum_version = ssl.TLSVersion.TLSv1_3
with c.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])))) as s:
    f = s.makefile("rb")
    f.readline()  # the greeting
    for command in (b"a1 LOGIN bob bob-secret\r\n", b"a1 NOOP\r\n",
                    b"a2 NOOP\n", b"a3 LOGOUT\r\n"):
        s.sendall(command)
        tag = command.split()[0]
        while not f.readline().startswith(tag):
            pass
PY
fi
# tls-mutt: mutt, whose GnuTLS writes SSLKEYLOGFILE as mailwire's
# programs do: a message sent in batch mode (no terminal needed) over
# STARTTLS with AUTH on the submission port, then read over implicit TLS
# in a pseudo-terminal (the index, the pager, quit)
if [[ $what == *" tls "* || $what == *" tls-mutt "* ]]; then
cat > "$dir/muttrc" <<MUTTRC
set from="alice@example.test"
set smtp_url="smtp://alice@127.0.0.1:$submission_port/"
set smtp_pass="alice-secret"
set folder="imaps://bob@127.0.0.1:$imaps_port/"
set spoolfile="+INBOX"
set imap_user="bob"
set imap_pass="bob-secret"
set ssl_starttls=yes
set ssl_force_tls=yes
set ssl_ca_certificates_file="$dir/cert.pem"
set header_cache=""
set message_cachedir=""
set record=""
set imap_check_subscribed=no
set mark_old=no
set wait_key=no
set quit=yes
set sleep_time=0
set mail_check=60
set imap_idle=no
set charset="utf-8"
set send_charset="utf-8"
MUTTRC
tls_capture tls-smtp-mutt "smtp:$submission_port" -- \
    bash -c 'echo "Sent by mutt over STARTTLS." |
             HOME="$0" mutt -n -F "$0/muttrc" -s "mutt over STARTTLS" bob@example.test' "$dir"
cat > "$dir/mutt.steps" <<'STEPS'
expect mutt over STARTTLS
send \r
expect Sent by mutt over STARTTLS.
send q
send q
exit
STEPS
tls_capture tls-imap-mutt "tls/imap:$imaps_port" -- \
    env HOME="$dir" python3 "$(dirname "$0")/../imap/interop-pty.py" "$dir/mutt.steps" -- \
    mutt -n -F "$dir/muttrc"
fi
unset SSLKEYLOGFILE

if [[ $what == *" tls "* ]]; then
editcap -s 300 "$out/tls-smtp.pcap" "$out/tls-cut.pcap"
# the first 35 frames of the IMAP capture and the first 150 octets of the
# 36th (mid-FETCH, inside session 0's TLS): a capture that ends inside a
# record, as when tcpdump is stopped
editcap -r "$out/tls-imap.pcap" "$dir/head.pcap" 1-35
editcap -r -s 150 "$out/tls-imap.pcap" "$dir/cut.pcap" 36
mergecap -a -w "$out/tls-end.pcap" "$dir/head.pcap" "$dir/cut.pcap"
# every secret of the SMTP key log with its last hex digit changed: the
# lines are found, the records do not authenticate
awk '{ s = $3; last = substr(s, length(s))
       print $1, $2, substr(s, 1, length(s) - 1) (last == "0" ? "1" : "0") }' \
    "$out/tls-smtp.server.keylog" > "$out/tls-wrong.keylog"
fi
