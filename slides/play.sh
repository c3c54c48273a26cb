#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# play.sh BUILD_DIR OUT_DIR [SCENE...]: starts mailwire on loopback
# (ephemeral ports: two organisations, example.test with mw-smtpd, mw-pop3d
# and mw-imapd, example.org with a second mw-smtpd), plays each scene with
# mailwire's own clients while tcpdump captures lo, and writes
# OUT_DIR/SCENE.pcap and OUT_DIR/SCENE.log. The slides' diagrams are drawn
# from these captures by mw-trace (scenarios.txt says which session of
# which scene, with which options).
#
# Capturing needs root (or tcpdump with cap_net_raw): without it this
# script stops and says so; nothing is drawn from a capture made earlier.
# As root it runs in a network namespace of its own (unshare --net, with
# only lo), so the implicit-TLS listeners can have mailwire's default
# ports (2465, 2995, 2993), which are how mw-trace knows implicit TLS on
# the wire, without meeting anything else on this machine.
# Every wait is bounded; everything started is stopped by its PID.
#
# To re-record with your own names and messages, change the variables
# below (or set them in the environment) and run ./run slides again.
set -euo pipefail
ALICE=${SLIDES_ALICE:-alice} BOB=${SLIDES_BOB:-bob} CAROL=${SLIDES_CAROL:-carol}
DOMAIN=${SLIDES_DOMAIN:-example.test} OTHER=${SLIDES_OTHER_DOMAIN:-example.org}
SUBJECT=${SLIDES_SUBJECT:-Lunch?}
BODY=${SLIDES_BODY:-$'Hi Bob,\n.5 past 12 at the usual place?\nAlice'}

build=$(cd "${1:?usage: play.sh BUILD_DIR OUT_DIR [SCENE...]}" && pwd)
mkdir -p "${2:?usage: play.sh BUILD_DIR OUT_DIR [SCENE...]}"
out=$(cd "$2" && pwd)
shift 2
scenes=("$@")
[ ${#scenes[@]} -gt 0 ] || scenes=(smtp submission pop3 imap-basic imap-idle imap-sync imap-starttls
  tls queue-down queue-up security)
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ] && ! getcap "$(command -v tcpdump)" 2>/dev/null | grep -q cap_net_raw; then
  cat >&2 <<EOF
play.sh: capturing on lo needs root, and this is $(id -un).
  The slides draw every protocol picture from sessions captured now, so
  nothing is built from an older capture. Either run ./run slides as root,
  or let tcpdump capture once:  sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)
EOF
  exit 3
fi

if [ "$(id -u)" -eq 0 ] && [ -z "${MW_SLIDES_NETNS:-}" ] && unshare --net true 2>/dev/null; then
  MW_SLIDES_NETNS=1 exec unshare --net -- "$0" "$build" "$out" "${scenes[@]}"
fi
[ -n "${MW_SLIDES_NETNS:-}" ] && ip link set lo up

dir=$(mktemp -d /tmp/mw-slides-XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# config DIR DOMAIN ROUTES [SMTP_PORT [IMPLICIT]]: a mailwire.conf on
# ephemeral ports (SMTP on SMTP_PORT if given); IMPLICIT=implicit opens
# the implicit-TLS listeners on mailwire's default ports
config() {
  local smtps=-1 pop3s=-1 imaps=-1
  [ "${5:-}" = implicit ] && { smtps=2465 pop3s=2995 imaps=2993; }
  mkdir -p "$1"
  cat >"$1/mailwire.conf" <<EOF
[general]
hostname = mx.$2
domains = $2;localhost
state_dir = $1
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem
timeout = 30
[smtp]
listen = 127.0.0.1
port = ${4:-0}
submission_port = 0
smtps_port = $smtps
[queue]
retry_min = 1
retry_max = 5
[pop3]
listen = 127.0.0.1
port = 0
pop3s_port = $pop3s
[imap]
listen = 127.0.0.1
port = 0
imaps_port = $imaps
[routes]
$3
EOF
}

# start DIR PROGRAM: starts it, waits (5 s at most) for its ready line
start() {
  "$build/src/servers/$2" --config "$1/mailwire.conf" >"$1/$2.out" 2>"$1/$2.err" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q ': ready' "$1/$2.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "play.sh: $2 did not start:" >&2; cat "$1/$2.err" >&2; exit 1
}
# port_of DIR PROGRAM LABEL: the port PROGRAM said LABEL listens on
port_of() {
  sed -n "s/.* $3 listening on 127.0.0.1:\([0-9]*\)/\1/p" "$1/$2.out" | head -1
}
# wait_for FILE REGEX: until a line of FILE matches (10 s at most)
wait_for() {
  for _ in $(seq 100); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "play.sh: waited 10 s for \"$2\" in $1" >&2; return 1
}

"$build/src/tools/mw-admin" cert --out "$dir/cert.pem" --key "$dir/key.pem" localhost 127.0.0.1 >/dev/null
config "$dir/b" "$OTHER" ""
start "$dir/b" mw-smtpd
b_pid=${pids[-1]}
b_smtp=$(port_of "$dir/b" mw-smtpd smtp)
config "$dir/a" "$DOMAIN" "$OTHER = 127.0.0.1:$b_smtp" 0 implicit
for user in "$ALICE" "$BOB"; do
  echo "$user-secret" >"$dir/$user.pw"
  "$build/src/tools/mw-admin" --config "$dir/a/mailwire.conf" user add "$user" --password-file "$dir/$user.pw" >/dev/null
done
echo "$CAROL-secret" >"$dir/$CAROL.pw"
"$build/src/tools/mw-admin" --config "$dir/b/mailwire.conf" user add "$CAROL" --password-file "$dir/$CAROL.pw" >/dev/null
start "$dir/a" mw-smtpd
start "$dir/a" mw-pop3d
start "$dir/a" mw-imapd
smtp=$(port_of "$dir/a" mw-smtpd smtp)
submission=$(port_of "$dir/a" mw-smtpd submission)
pop3=$(port_of "$dir/a" mw-pop3d pop3)
imap=$(port_of "$dir/a" mw-imapd imap)
filter="tcp and (port $smtp or port $submission or port $pop3 or port $imap or port $b_smtp
  or port 2465 or port 2995 or port 2993)"

send=("$build/src/clients/mw-send" --helo "laptop.$DOMAIN" --from "$ALICE@$DOMAIN" --subject "$SUBJECT" --body "$BODY")
pop=("$build/src/clients/mw-pop3" --server "127.0.0.1:$pop3" --user "$BOB" --password-file "$dir/$BOB.pw")
imapc=("$build/src/clients/mw-imap" --server "127.0.0.1:$imap" --user "$BOB" --password-file "$dir/$BOB.pw")

# ---- the scenes: each is one capture; its sessions are numbered from 0
# in the order they begin (mw-trace's [N], --svg-session N) -------------

scene_smtp() { # 0: alice's MUA pushes to the MTA port, in clear
  "${send[@]}" --server "127.0.0.1:$smtp" --to "$BOB@$DOMAIN"
}
scene_submission() { # 0: submission (STARTTLS + AUTH), 1: the relay to example.org
  "${send[@]}" --server "127.0.0.1:$submission" --starttls --cafile "$dir/cert.pem" \
    --user "$ALICE" --password-file "$dir/$ALICE.pw" \
    --to "$CAROL@$OTHER"
  for _ in $(seq 100); do
    ls "$dir/b/mail/$CAROL/Maildir/new/" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  echo "play.sh: the relay did not deliver within 10 s" >&2; return 1
}
deliver_two() { # two messages for bob, outside any capture
  "${send[@]}" --server "127.0.0.1:$smtp" --to "$BOB@$DOMAIN" >/dev/null
  "${send[@]}" --server "127.0.0.1:$smtp" --to "$BOB@$DOMAIN" --subject "Slides" >/dev/null
}
scene_pop3() { # 0: laptop keeps (USER/PASS), 1: phone deletes, 2: STLS
  "${pop[@]}" --auth user --maildir "$dir/pop-laptop" --keep
  "${pop[@]}" --auth user --maildir "$dir/pop-phone"
  "${pop[@]}" --stls --cafile "$dir/cert.pem" --maildir "$dir/pop-tablet" --list
}
scene_imap-basic() { # 0: list the folders, 1: fetch INBOX's list, 2: read one
  "${imapc[@]}" list
  "${imapc[@]}" fetch INBOX
  "${imapc[@]}" --peek fetch INBOX 1
}
scene_imap-idle() { # 0: phone IDLEs, 1: alice's SMTP, 2: laptop reads, 3: laptop flags
  local log=$dir/phone-watch.log uid
  "${imapc[@]}" --trace watch INBOX >"$log" 2>&1 &
  local watch=$!
  pids+=("$watch")
  wait_for "$log" '^S: \+ '
  "${send[@]}" --server "127.0.0.1:$smtp" --to "$BOB@$DOMAIN" --subject "IDLE: pushed to the phone"
  wait_for "$log" '^new message '
  uid=$(sed -n 's/^new message \([0-9]*\) .*/\1/p' "$log" | tail -1)
  "${imapc[@]}" fetch INBOX "$uid" >/dev/null
  "${imapc[@]}" flag INBOX "$uid" '+\Flagged'
  wait_for "$log" 'flagged .Flagged by another session'
  kill -INT "$watch"
  for _ in $(seq 50); do kill -0 "$watch" 2>/dev/null || break; sleep 0.1; done
  wait "$watch" || true
}
scene_imap-sync() { # 0: phone's first sync, 1: laptop's, 2: laptop flags, 3: phone resyncs
  "${imapc[@]}" --maildir "$dir/phone" sync INBOX
  "${imapc[@]}" --maildir "$dir/laptop" sync INBOX
  "${imapc[@]}" flag INBOX 1 '+\Flagged'
  "${imapc[@]}" --maildir "$dir/phone" sync INBOX
}
scene_imap-starttls() { # 0: STARTTLS, then LOGIN under TLS
  "${imapc[@]}" --starttls --cafile "$dir/cert.pem" list
}

scene_tls() { # 0: STARTTLS + AUTH, 1: SMTPS, 2: POP3S, 3: IMAPS (implicit TLS)
  "${send[@]}" --server "127.0.0.1:$submission" --starttls --cafile "$dir/cert.pem" \
    --user "$ALICE" --password-file "$dir/$ALICE.pw" --to "$BOB@$DOMAIN" --trace \
    >"$dir/tls-client.txt" 2>&1
  # what alice's client read after the upgrade, which nobody on the path can
  sed -n '/^C: STARTTLS/,/^C: AUTH PLAIN/p' "$dir/tls-client.txt" | grep -E '^(C|S): ' \
    | sed 's/   ; .*//' >"$out/tls-client-view.txt"
  "${send[@]}" --server 127.0.0.1:2465 --tls --cafile "$dir/cert.pem" \
    --user "$ALICE" --password-file "$dir/$ALICE.pw" --to "$BOB@$DOMAIN"
  "${pop[@]}" --server 127.0.0.1:2995 --tls --cafile "$dir/cert.pem" --list
  "${imapc[@]}" --server 127.0.0.1:2993 --tls --cafile "$dir/cert.pem" list
}

# the queue: example.org's MTA is down, then up again
queue_entry() { "$build/src/tools/mw-admin" --config "$dir/a/mailwire.conf" queue list; }
scene_queue-down() { # 0: alice submits for carol while mx.example.org is down
  kill "$b_pid"; wait "$b_pid" 2>/dev/null || true
  "${send[@]}" --server "127.0.0.1:$submission" --starttls --cafile "$dir/cert.pem" \
    --user "$ALICE" --password-file "$dir/$ALICE.pw" --to "$CAROL@$OTHER" \
    --subject "Queued: $SUBJECT" --trace >"$dir/queue-client.txt" 2>&1
  # alice's own view, under TLS: the transaction and what 250 promised
  sed -n '/^C: MAIL FROM/,/^C: QUIT/p' "$dir/queue-client.txt" | grep -E '^(C|S): ' \
    | grep -v '^C: QUIT' | sed 's/   ; .*//' >"$out/queue-client-view.txt"
  # three refused attempts (retry_min 1 s, doubling): the next is 4 s away
  for _ in $(seq 200); do
    [ "$(grep -c "<$CAROL@$OTHER> waiting" "$dir/a/mw-smtpd.err")" -ge 3 ] && break
    sleep 0.1
  done
  grep "<$CAROL@$OTHER> waiting" "$dir/a/mw-smtpd.err" \
    | sed 's/^.*Message: \([0-9:.]*\): [0-9A-F]*: /\1  /; s/connect to .*: Could not connect to [^:]*: //' \
    >"$out/queue-log.txt"
  queue_entry >"$out/queue-list.txt"
  [ "$(wc -l <"$out/queue-log.txt")" -ge 3 ] \
    || { echo "play.sh: the queue did not retry 3 times in 20 s" >&2; return 1; }
}
scene_queue-up() { # 0: the retry delivers, 1: alice submits for nobody, 2: 550, bounce
  # back on its old port (the route names it), and without a certificate
  # this time: the relay then stays in clear, so the capture can show it
  config "$dir/b" "$OTHER" "" "$b_smtp"
  sed -i '/^tls_\(cert\|key\) = /d' "$dir/b/mailwire.conf"
  start "$dir/b" mw-smtpd
  # delivered when the queue is empty (carol's Maildir has older mail)
  for _ in $(seq 150); do
    queue_entry | grep -q 'queue is empty' && break
    sleep 0.1
  done
  queue_entry | grep -q 'queue is empty' \
    || { echo "play.sh: no delivery 15 s after example.org came back" >&2; return 1; }
  "${send[@]}" --server "127.0.0.1:$submission" --starttls --cafile "$dir/cert.pem" \
    --user "$ALICE" --password-file "$dir/$ALICE.pw" --to "nobody@$OTHER" \
    --subject "To nobody"
  local bounce=
  for _ in $(seq 100); do
    bounce=$(grep -l '^Content-Type: multipart/report' "$dir/a/mail/$ALICE/Maildir/new/"* 2>/dev/null | head -1)
    [ -n "$bounce" ] && break
    sleep 0.1
  done
  [ -n "$bounce" ] || { echo "play.sh: no bounce for alice within 10 s" >&2; return 1; }
  # the bounce as alice's mailbox has it: its headers and the machine-
  # readable part (RFC 3464), not the copy of the message
  tr -d '\r' <"$bounce" | sed '/^Content-Type: text\/rfc822-headers/,$d' \
    | grep -E '^(From|To|Subject|Content-Type|Final-Recipient|Action|Status|Diagnostic-Code|Reporting-MTA|Remote-MTA):' \
    >"$out/bounce.txt"
}

scene_security() { # 0: open-relay probe, 1: smuggling, 2: AUTH in clear
  "${send[@]}" --server "127.0.0.1:$smtp" --from "probe@$DOMAIN" \
    --to "probe@relay-test.invalid" --subject "relay probe" || true
  python3 "$here/raw-smtp.py" smuggle 127.0.0.1 "$smtp" "$ALICE@$DOMAIN" "$BOB@$DOMAIN"
  python3 "$here/raw-smtp.py" auth-in-clear 127.0.0.1 "$submission" "$ALICE" "$ALICE-secret"
}

# capture SCENE: tcpdump on lo (120 s at most) while scene_SCENE plays;
# each step of a scene is bounded, and build-slides.py bounds the whole.
# queue-down leaves example.org's port out: its refused connections would
# be sessions too, as many as the timing makes, and shift the numbering.
capture() {
  local name=$1 tcpdump scene_filter=$filter
  [ "$name" = queue-down ] && scene_filter="tcp and port $submission"
  timeout 120 tcpdump -i lo -s 0 -U -w "$out/$name.pcap" "$scene_filter" 2>"$dir/tcpdump.err" &
  tcpdump=$!
  pids+=("$tcpdump")
  wait_for "$dir/tcpdump.err" listening
  "scene_$name" >"$out/$name.log" 2>&1 \
    || { echo "play.sh: scene $name failed:" >&2; cat "$out/$name.log" >&2; exit 1; }
  sleep 1 # the last segments reach the file
  kill -INT "$tcpdump"; wait "$tcpdump" || true
  echo "play.sh: $name.pcap: $(grep captured "$dir/tcpdump.err")"
}

# POP3's phone deletes bob's mail: IMAP's scenes get two new messages
delivered=
for scene in "${scenes[@]}"; do
  declare -F "scene_$scene" >/dev/null || { echo "play.sh: no scene $scene" >&2; exit 2; }
  kind=${scene%%-*}
  if [[ $kind == pop3 || $kind == imap ]] && [[ $delivered != *" $kind"* ]]; then
    deliver_two; delivered+=" $kind"
  fi
  capture "$scene"
done
