# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2154 # dir, build, out: record.sh; pid_NAME: journey_start
# record-journey.sh: sourced by record.sh (WHAT journey and/or
# journey-tls), after the IMAP client of the recordings was written.
# The journey of one message across two organisations on loopback
# (mw-trace --journey, issue 12 part 2):
#   mx.example.test (mw-smtpd) takes alice's message on its submission
#     port, STARTTLS then AUTH PLAIN (smtplib), for carol@example.org and
#     bob@example.org, and relays it by [routes] to
#   mx.example.org (mw-smtpd, mw-pop3d, mw-imapd), whose first mw-smtpd
#     answers RCPT with 451 ([faults]): the first attempt fails; a second
#     mw-smtpd on the same port takes the retry (mw-admin queue flush);
#   bob's IMAP client is in IDLE when it arrives: EXISTS is pushed, then
#     it fetches the message; carol downloads it with POP3 RETR and DELE.
# journey.pcap: mx.example.org has no certificate, so the relay, POP3 and
#   IMAP are in clear; only the submission is encrypted (and no key log
#   is kept): mw-trace infers that hop from the Received: trail.
# journey-tls.pcap: every session under STARTTLS/STLS (the relay too:
#   mw-smtpd uses STARTTLS when the next hop offers it), and
#   journey-tls.keylog, what all servers logged (tls_keylog).

# journey_conf NAME HOST DOMAIN CERT SMTP_PORT: $dir/NAME.conf
journey_conf() {
    local name=$1 host=$2 domain=$3 cert=$4 port=$5
    mkdir -p "$dir/$name"
    {
        printf '[general]\nhostname = %s\ndomains = %s\n' "$host" "$domain"
        printf 'state_dir = %s\ntimeout = 30\n' "$dir/$name"
        if [[ $cert == yes ]]; then
            printf 'tls_cert = %s\ntls_key = %s\n' "$dir/cert.pem" "$dir/key.pem"
            [[ -n $journey_keylog ]] && printf 'tls_keylog = %s\n' "$journey_keylog"
        fi
        printf '[smtp]\nlisten = 127.0.0.1\nport = %s\n' "$port"
        printf 'submission_port = 0\nsmtps_port = 0\n'
        printf '[pop3]\nlisten = 127.0.0.1\nport = 0\npop3s_port = 0\n'
        printf '[imap]\nlisten = 127.0.0.1\nport = 0\nimaps_port = 0\n'
    } > "$dir/$name.conf"
}

# journey_start NAME CONF PROGRAM: starts it, waits until it is ready
journey_start() {
    "$build/src/servers/$3" --config "$dir/$2.conf" > "$dir/$1.out" 2> "$dir/$1.err" &
    pids+=($!)
    eval "pid_$1=$!"
    for _ in $(seq 100); do
        grep -q ': ready' "$dir/$1.out" && break
        sleep 0.05
    done
}

# journey_port NAME LABEL -> the port it said LABEL listens on
journey_port() {
    sed -n "s/.* $2 listening on 127.0.0.1:\([0-9]*\)/\1/p" "$dir/$1.out" | head -1
}

# journey_wait FILE TEXT: up to 20 s for TEXT to appear in FILE
journey_wait() {
    for _ in $(seq 200); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "record-journey: no '$2' in $1" >&2
    return 1
}

# the story, while tcpdump records; $1: "tls" for journey-tls
journey_story() {
    local tls=$1
    # bob's phone watches INBOX (IDLE) before the message is sent
    python3 - "$imap2" "$dir" "$tls" > "$dir/bob.out" <<'PY' &
import socket, ssl, sys
port, tls = int(sys.argv[1]), sys.argv[3] == "tls"
sys.path.insert(0, sys.argv[2])
from imapclient import Client

c = Client(socket.create_connection(("127.0.0.1", port)))
if tls:
    c.command(b"p0", b"STARTTLS\r\n")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    c.use(context.wrap_socket(c.sock))
c.command(b"p1", b'LOGIN bob "bob-secret"\r\n')
c.command(b"p2", b"SELECT INBOX\r\n")
c.send(b"p3 IDLE\r\n")
c.line()  # "+ idling"
print("idling", flush=True)
exists = c.wait_for(b"EXISTS")
c.send(b"DONE\r\n")
c.until(b"p3")
c.command(b"p4", b"FETCH %s (UID RFC822.SIZE BODY[])\r\n" % exists.split()[1])
c.command(b"p5", b"LOGOUT\r\n")
print("fetched", flush=True)
PY
    local bob=$!
    journey_wait "$dir/bob.out" idling
    # alice submits: STARTTLS, then AUTH (RFC 6409 §4.3, RFC 4954 §4)
    python3 - "$submission1" <<'PY'
import smtplib, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
msg = ("From: Alice <alice@example.test>\r\n"
       "To: carol@example.org, bob@example.org\r\n"
       "Subject: the journey\r\n"
       "Message-ID: <journey-1@example.test>\r\n\r\n"
       "Carol, Bob: this one travels.\r\nAlice\r\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.ehlo("laptop.example.test")
    s.starttls(context=context)
    s.ehlo("laptop.example.test")
    s.login("alice", "alice-secret")
    s.sendmail("alice@example.test",
               ["carol@example.org", "bob@example.org"], msg)
PY
    # the first relay attempt: 451 to RCPT; then a healthy mw-smtpd
    journey_wait "$dir/mx1_smtpd.err" "<carol@example.org>" ||
        journey_wait "$dir/mx1_smtpd.out" "<carol@example.org>"
    kill "$pid_mx2_faulty"; wait "$pid_mx2_faulty" 2>/dev/null || true
    journey_start mx2_smtpd mx2 mw-smtpd
    $admin1 queue flush > /dev/null
    journey_wait "$dir/bob.out" fetched
    wait "$bob"
    # carol downloads it and deletes it from the server
    python3 - "$pop3_2" "$tls" <<'PY'
import poplib, ssl, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
if sys.argv[2] == "tls":
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    p.stls(context=context)
p.user("carol")
p.pass_("carol-secret")
p.retr(1)
p.dele(1)
p.quit()
PY
}

# record_journey NAME: one whole recording (journey or journey-tls)
record_journey() {
    local name=$1 tls="" cert2=no
    journey_keylog=""
    if [[ $name == journey-tls ]]; then
        tls=tls cert2=yes journey_keylog="$out/journey-tls.keylog"
        rm -f "$journey_keylog"
    fi
    rm -rf "$dir/mx1" "$dir/mx2"
    journey_conf mx2 mx.example.org example.org "$cert2" 0
    cp "$dir/mx2.conf" "$dir/mx2-faulty.conf"
    printf '[faults]\nreply = RCPT 451\n' >> "$dir/mx2-faulty.conf"
    for user in carol bob; do
        "$build/src/tools/mw-admin" --config "$dir/mx2.conf" user add "$user" \
            --password-file "$dir/$user.pw" > /dev/null
    done
    journey_start mx2_faulty mx2-faulty mw-smtpd
    smtp2=$(journey_port mx2_faulty smtp)
    # the healthy mw-smtpd that takes the retry listens on the same port
    journey_conf mx2 mx.example.org example.org "$cert2" "$smtp2"
    journey_start mx2_pop3d mx2 mw-pop3d
    journey_start mx2_imapd mx2 mw-imapd
    pop3_2=$(journey_port mx2_pop3d pop3)
    imap2=$(journey_port mx2_imapd imap)
    journey_conf mx1 mx.example.test example.test yes 0
    printf '[routes]\nexample.org = 127.0.0.1:%s\n' "$smtp2" >> "$dir/mx1.conf"
    admin1="$build/src/tools/mw-admin --config $dir/mx1.conf"
    $admin1 user add alice --password-file "$dir/alice.pw" > /dev/null
    journey_start mx1_smtpd mx1 mw-smtpd
    submission1=$(journey_port mx1_smtpd submission)
    echo "$name: submission on $submission1, relay to $smtp2, POP3 $pop3_2, IMAP $imap2"
    capture "$name" "tcp port $submission1 or tcp port $smtp2 or tcp port $pop3_2 or tcp port $imap2" -- \
        journey_story "$tls"
    for pid in "$pid_mx1_smtpd" "$pid_mx2_smtpd" "$pid_mx2_pop3d" "$pid_mx2_imapd"; do
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    done
}
