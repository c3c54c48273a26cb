#!/usr/bin/env bash
# mw-demo.sh: what `./run demo` does. A whole mail system on loopback:
#   organisation A, example.test: mw-smtpd (2525/2587/2465) + mw-pop3d (2110/2995)
#                                 + mw-imapd (2143/2993)
#   organisation B, example.org:  mw-smtpd (3525) + mw-pop3d (3110)
# a message for bob is pushed to A's MTA port (SMTP in clear, so the trace
# shows every line), bob pulls it with POP3 keeping it on the server, then
# again over STLS deleting it (the trace shows where the plaintext stops);
# then alice submits (STARTTLS + AUTH) a message for carol@example.org and A
# relays it to B (a second push, server to server). Last, IMAP: bob has two
# devices, each a Maildir synced with mw-imap; the phone IDLEs while alice sends
# bob a message (the server pushes EXISTS), the laptop syncs, reads and flags it
# (the server pushes FETCH FLAGS to the phone), and the phone's sync brings the
# same flags. mw-trace watches lo when it may capture and prints its ladder of
# every session; a summary sets POP3 against IMAP. Servers stay up until
# Ctrl-C (or SIGTERM, SIGHUP); everything this script started, the idle
# sleep at the end included, is stopped by its PID, so nothing is left
# running and nothing keeps stdout open (`./run demo | cat` ends too).
#
# Environment (for tests/demo; `./run demo` sets only the first):
#   MW_BUILD_ROOT=<top>/build      the meson build directory to run from
#   MW_DEMO_STATE=<top>/demo-state where the configs, Maildirs and logs go
#   MW_DEMO_PORT_OFFSET=0          added to every port above
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MW_BUILD_ROOT:-$top/build}/src
state=${MW_DEMO_STATE:-$top/demo-state}
off=${MW_DEMO_PORT_OFFSET:-0}
a_smtp=$((2525 + off)) a_sub=$((2587 + off)) a_smtps=$((2465 + off))
a_pop3=$((2110 + off)) a_pop3s=$((2995 + off))
a_imap=$((2143 + off)) a_imaps=$((2993 + off))
b_smtp=$((3525 + off)) b_pop3=$((3110 + off))
# what mw-trace captures and decodes: every port above (without the offset
# mw-trace knows A's by their defaults; with it, only by being told)
trace_ports="$a_smtp,$a_sub,$a_smtps,$a_pop3,$a_pop3s,$a_imap,$a_imaps,$b_smtp,$b_pop3"
pids=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
have() { [ -x "$bin/$1" ]; }
prog() { local p; for p in servers clients tools tracer; do
           [ -x "$bin/$p/$1" ] && { echo "$bin/$p/$1"; return; }; done; }

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}
# on Ctrl-C a reader behind a pipe may be gone already: writing must not
# kill this script (SIGPIPE) before it has stopped what it started
on_signal() {
  trap '' PIPE
  { echo; echo "demo: stopping everything it started"; } 2>/dev/null
  stop_all
  exit 0
}
# forget PID: a process that has ended and been waited for leaves the list
forget() {
  local pid kept=()
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  pids=("${kept[@]}")
}
trap on_signal INT TERM HUP
trap 'stop_all' EXIT

# start NAME LOGFILE ARGS...: starts a server, waits for its "ready" line.
start() {
  local name=$1 log=$2; shift 2
  "$(prog "$name")" "$@" >"$log.out" 2>"$log.err" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "^$name: ready" "$log.out" 2>/dev/null && { sed 's/^/   /' "$log.out"; return 0; }
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: $name did not start:"; cat "$log.err"; exit 1
}

write_config() { # DIR DOMAIN SMTP SUBMISSION SMTPS POP3 POP3S ROUTES IMAP IMAPS
  cat >"$1/mailwire.conf" <<EOF
# mailwire demo configuration, written by ./run demo
[general]
hostname = mx.$2
domains = $2;localhost
state_dir = .
tls_cert = $state/cert.pem
tls_key = $state/key.pem
[smtp]
listen = 127.0.0.1
port = $3
submission_port = $4
smtps_port = $5
[queue]
retry_min = 2
retry_max = 30
[pop3]
listen = 127.0.0.1
port = $6
pop3s_port = $7
[imap]
listen = 127.0.0.1
port = ${9:--1}
imaps_port = ${10:--1}
[routes]
$8
EOF
}

add_user() { # DIR NAME PASSWORD
  printf '%s\n' "$3" | "$(prog mw-admin)" --config "$1/mailwire.conf" user add "$2" >/dev/null
}

for p in mw-admin mw-smtpd mw-send mw-pop3d mw-pop3; do
  have "servers/$p" || have "clients/$p" || have "tools/$p" \
    || { echo "demo: $p is not built yet (see the open issues); the demo needs it."; exit 1; }
done

rm -rf "$state"; mkdir -p "$state/a" "$state/b"
# Every TLS session of the demo's own programs logs its secrets here
# (GnuTLS, like OpenSSL, writes the NSS key log named by SSLKEYLOGFILE), so
# that mw-trace --keylog can show what TLS hid (docs/tls-keylog.md).
export SSLKEYLOGFILE="$state/tls-keys.log"
say "Setting up two organisations under $state"
"$(prog mw-admin)" cert --out "$state/cert.pem" --key "$state/key.pem" localhost 127.0.0.1 >/dev/null \
  || { echo "demo: mw-admin cert failed"; exit 1; }
write_config "$state/a" example.test "$a_smtp" "$a_sub" "$a_smtps" "$a_pop3" "$a_pop3s" \
  "example.org = 127.0.0.1:$b_smtp" "$a_imap" "$a_imaps"
write_config "$state/b" example.org "$b_smtp" -1 -1 "$b_pop3" -1 ""
add_user "$state/a" alice alice-demo
add_user "$state/a" bob bob-demo
add_user "$state/b" carol carol-demo
echo "   users: alice@example.test / alice-demo, bob@example.test / bob-demo,"
echo "          carol@example.org / carol-demo      certificate: $state/cert.pem"
echo "   TLS secrets of the demo's sessions: $SSLKEYLOGFILE (SSLKEYLOGFILE, for mw-trace --keylog)"

tracing=no
if have tracer/mw-trace; then
  # mw-trace exits at once with a clear message when it may not capture
  "$(prog mw-trace)" -i lo -q -w "$state/demo.pcap" -p "$trace_ports" \
    >"$state/trace.out" 2>"$state/trace.err" &
  trace_pid=$!; sleep 1
  if kill -0 "$trace_pid" 2>/dev/null; then
    pids+=("$trace_pid"); tracing=yes
  else
    echo "   mw-trace cannot capture on lo here:"; sed 's/^/     /' "$state/trace.err"
  fi
fi

say "Starting the servers"
start mw-smtpd "$state/a/smtpd" --config "$state/a/mailwire.conf"
start mw-pop3d "$state/a/pop3d" --config "$state/a/mailwire.conf"
have servers/mw-imapd && start mw-imapd "$state/a/imapd" --config "$state/a/mailwire.conf"
start mw-smtpd "$state/b/smtpd" --config "$state/b/mailwire.conf"
start mw-pop3d "$state/b/pop3d" --config "$state/b/mailwire.conf"

say "PUSH: a message for bob arrives on the MTA port (SMTP, port $a_smtp, in clear)"
"$(prog mw-send)" --server "127.0.0.1:$a_smtp" --from alice@example.test --to bob@example.test \
  --subject "Lab 1: push and pull" --body "Hello Bob, this went by SMTP and comes back by POP3." \
  --trace || echo "demo: mw-send failed (exit $?)"

if have servers/mw-imapd; then
  say "PULL AND SYNC: IMAP (port $a_imap) keeps mail on the server; bob's INBOX as an IMAP client sees it"
  curl -s --url "imap://127.0.0.1:$a_imap/INBOX" --user bob:bob-demo \
    -X 'FETCH 1:* (UID FLAGS ENVELOPE)' | sed 's/^/   /' \
    || echo "demo: curl imap:// failed (exit $?)"
fi

say "PULL: bob downloads with POP3 (port $a_pop3, in clear on loopback), leaving a copy on the server (--keep)"
"$(prog mw-pop3)" --server "127.0.0.1:$a_pop3" --auth user \
  --user bob --password bob-demo --maildir "$state/bob-laptop" --keep --trace \
  || echo "demo: mw-pop3 failed (exit $?)"
kept=$(ls "$state/a/mail/bob/Maildir/new" "$state/a/mail/bob/Maildir/cur" 2>/dev/null | grep -c ,S=)
echo "   on the server, bob's INBOX still holds: $kept message(s)"

say "PULL again from another device, with STLS this time, deleting on the server (no --keep)"
"$(prog mw-pop3)" --server "127.0.0.1:$a_pop3" --stls --cafile "$state/cert.pem" \
  --user bob --password bob-demo --maildir "$state/bob-phone" \
  || echo "demo: mw-pop3 failed (exit $?)"
left=$(ls "$state/a/mail/bob/Maildir/new" "$state/a/mail/bob/Maildir/cur" 2>/dev/null | grep -c ,S=)
echo "   on the server, bob's INBOX now holds: $left message(s)"

say "RELAY: alice submits (port $a_sub, STARTTLS + AUTH) for carol@example.org; example.test pushes it on to example.org"
"$(prog mw-send)" --server "127.0.0.1:$a_sub" --starttls --cafile "$state/cert.pem" \
  --user alice --password alice-demo --from alice@example.test --to carol@example.org \
  --subject "Across organisations" --body "Relayed by mw-smtpd to the next hop." \
  || echo "demo: mw-send failed (exit $?)"
for _ in $(seq 50); do
  ls "$state/b/mail/carol/Maildir/new/" 2>/dev/null | grep -q . && break; sleep 0.2
done
if ls "$state/b/mail/carol/Maildir/new/" 2>/dev/null | grep -q .; then
  echo "   delivered to carol's Maildir on example.org:"
  sed -n '1,/^\r\{0,1\}$/p' "$state"/b/mail/carol/Maildir/new/* | sed 's/^/     /'
else
  echo "   not delivered yet; see: $(prog mw-admin) --config $state/a/mailwire.conf queue list"
fi

if have servers/mw-imapd && have clients/mw-imap; then
  # ---- third act: IMAP, one account and two devices in sync ----------------
  # bob's phone and laptop each keep a local Maildir that mw-imap syncs with
  # the server (in clear on loopback, as the first acts, so the wire shows it)
  phone=$state/imap/phone laptop=$state/imap/laptop phone_log=$state/imap/phone-watch.log
  mkdir -p "$state/imap"
  printf '%s\n' bob-demo >"$state/imap/bob.password"; chmod 600 "$state/imap/bob.password"
  imap=("$(prog mw-imap)" --server "127.0.0.1:$a_imap" --user bob
        --password-file "$state/imap/bob.password")
  # wait_in FILE REGEX: until a line of FILE matches (10 s at most)
  wait_in() { for _ in $(seq 100); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
              echo "   (waited 10 s for \"$2\" in $1)"; return 1; }
  # show_phone: the lines the phone's watch printed since the last call; what
  # the server sends between IDLE and its tagged reply, unasked, is a PUSH
  phone_shown=0
  show_phone() {
    local now; now=$(cat "$phone_log")
    printf '%s\n' "$now" | awk -v from="$phone_shown" '
      /^C: [^ ]+ IDLE/ { idle = 1 }
      { label = (idle && /^S: \*/) ? "PUSH " : "     " }
      /^S: [^*+ ]+ (OK|NO|BAD) / { idle = 0 }
      NR > from { print "   phone " label $0 }'
    phone_shown=$(printf '%s\n' "$now" | wc -l)
  }
  # file_of DIR: the file holding alice's message in Maildir DIR; its name ends
  # in ":2,FLAGS" (F = \Flagged, S = \Seen: Maildir's info, as mutt and Dovecot
  # use it); info_of DIR: that ending alone
  subject="Lab 3: same mail, every device"
  file_of() { local f; f=$(grep -l "^Subject: $subject" "$1"/cur/* "$1"/new/* 2>/dev/null | head -1)
              echo "${f#"$state/"}"; }
  info_of() { file_of "$1" | sed -n 's/.*\(:2,.*\)/\1/p'; }

  say "SYNC: bob's phone and laptop use IMAP (port $a_imap); the phone syncs, then watches INBOX (IDLE)"
  "${imap[@]}" --maildir "$phone" sync INBOX | sed 's/^/   phone        /'
  "${imap[@]}" --trace watch INBOX >"$phone_log" 2>&1 &
  pids+=($!); watch_pid=$!
  wait_in "$phone_log" '^S: \+ ' && show_phone   # "+ idling": the server may speak first now

  say "PUSH: alice sends bob a message (submission, STARTTLS + AUTH); the server pushes it to the idle phone"
  "$(prog mw-send)" --server "127.0.0.1:$a_sub" --starttls --cafile "$state/cert.pem" \
    --user alice --password alice-demo --from alice@example.test --to bob@example.test \
    --subject "$subject" --body "Read it on one device, and every device shows it read." \
    --trace | sed 's/^/   alice        /' || echo "demo: mw-send failed"
  wait_in "$phone_log" '^new message ' && show_phone
  uid=$(sed -n 's/^new message \([0-9]*\) .*/\1/p' "$phone_log" | tail -1)

  say "The laptop syncs, reads message ${uid:-?} (FETCH sets \\Seen) and flags it (+\\Flagged)"
  "${imap[@]}" --maildir "$laptop" sync INBOX | sed 's/^/   laptop       /'
  "${imap[@]}" fetch INBOX "${uid:-0}" | sed 's/^/   laptop       /'
  "${imap[@]}" flag INBOX "${uid:-0}" '+\Flagged' | sed 's/^/   laptop       /'
  "${imap[@]}" --maildir "$laptop" sync INBOX | sed 's/^/   laptop       /'

  say "PUSH: the server tells the phone, unasked, what the laptop changed (FETCH FLAGS during IDLE)"
  wait_in "$phone_log" 'flagged .Flagged by another session' && show_phone
  kill -INT "$watch_pid" 2>/dev/null   # as Ctrl-C would: DONE, then LOGOUT
  for _ in $(seq 50); do kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$watch_pid" 2>/dev/null || { wait "$watch_pid"; forget "$watch_pid"; }
  show_phone

  say "The phone syncs: one server, one state, on every device"
  "${imap[@]}" --maildir "$phone" sync INBOX | sed 's/^/   phone        /'
  echo "   alice's message, in each Maildir (\":2,FS\": F = \\Flagged, S = \\Seen):"
  echo "     server   $(file_of "$state/a/mail/bob/Maildir")"
  echo "     laptop   $(file_of "$laptop")"
  echo "     phone    $(file_of "$phone")"
fi

if [ "$tracing" = yes ]; then
  say "What went over the wire (mw-trace; C ==> S: inside TLS, decrypted with $SSLKEYLOGFILE)"
  sleep 1.2   # let the capture see the last segments
  kill -INT "$trace_pid" 2>/dev/null; wait "$trace_pid" 2>/dev/null
  "$(prog mw-trace)" -r "$state/demo.pcap" -p "$trace_ports" --keylog "$SSLKEYLOGFILE"
  # the same story on one picture: every session on one timeline, push and
  # pull in their colours, each message's journey as a thread (docs/trace-svg.md)
  "$(prog mw-trace)" -r "$state/demo.pcap" -p "$trace_ports" --keylog "$SSLKEYLOGFILE" \
    -q --svg "$state/demo.svg" >/dev/null 2>&1 &&
    echo "   The whole story on one slide: $state/demo.svg (open it in a browser)"
fi

say "What POP3 did, and what IMAP did"
cat <<EOF
   POP3 downloads to one device: the laptop took a copy and left one on the server
     (--keep: $kept left), the phone took another and deleted it there ($left left). Each copy
     now lives its own life: reading or deleting it on one device changes nothing elsewhere.
EOF
if [ -n "${phone:-}" ]; then
  cat <<EOF
   IMAP keeps the state on the server: alice's message stayed there, and the laptop's
     FETCH (\Seen) and STORE (\Flagged) changed it there ($(info_of "$state/a/mail/bob/Maildir")).
     Every device syncs to that state: laptop $(info_of "$laptop"), phone $(info_of "$phone").
     And the server speaks first: during IDLE it pushed to the phone, unasked,
     $(grep -c '^new message ' "$phone_log") new message(s) (EXISTS) and $(grep -c ' by another session$' "$phone_log") flag change(s) made by the laptop (FETCH FLAGS).
EOF
fi

say "The servers keep running. Connect to them:"
cat <<EOF
   mailwire clients:
     $bin/clients/mw-send --server 127.0.0.1:$a_sub --starttls --cafile $state/cert.pem \\
         --user alice --password alice-demo --from alice@example.test --to bob@example.test --subject hi --body hi --trace
     $bin/clients/mw-pop3 --server 127.0.0.1:$a_pop3 --stls --cafile $state/cert.pem --user bob --password bob-demo --list --trace
     $bin/clients/mw-imap --server 127.0.0.1:$a_imap --starttls --cafile $state/cert.pem --user bob --password bob-demo --trace watch INBOX
       (mw-imap also does list, fetch, search, flag, move, append and --maildir DIR sync: --help)
   curl:
     curl --url smtp://127.0.0.1:$a_smtp --mail-from alice@example.test --mail-rcpt bob@example.test --upload-file MESSAGE.eml
     curl --cacert $state/cert.pem --ssl-reqd pop3://127.0.0.1:$a_pop3/1 --user bob:bob-demo
     curl --cacert $state/cert.pem --ssl-reqd 'imap://127.0.0.1:$a_imap/INBOX;UID=1' --user bob:bob-demo
     curl --cacert $state/cert.pem 'imaps://127.0.0.1:$a_imaps/' --user bob:bob-demo   (lists the folders)
   mutt (POP3 / IMAP, mail stays on the server):
     mutt -f pop://bob@127.0.0.1:$a_pop3/ -e 'set ssl_starttls=yes certificate_file=$state/cert.pem'
     mutt -f imap://bob@127.0.0.1:$a_imap/INBOX -e 'set ssl_starttls=yes certificate_file=$state/cert.pem'
   Thunderbird: account bob@example.test, IMAP 127.0.0.1 port $a_imap STARTTLS (or POP3 port
     $a_pop3 STARTTLS), SMTP 127.0.0.1 port $a_sub STARTTLS, normal password; accept the
     self-signed certificate.
   Watch live (as root): $bin/tracer/mw-trace -i lo --keylog $SSLKEYLOGFILE
     (the demo's servers log their TLS secrets there, so the sessions above are decrypted
     too; run curl, mutt or Python with SSLKEYLOGFILE=$SSLKEYLOGFILE to add theirs)
Press Ctrl-C to stop the servers.
EOF
# idle until a signal: a background sleep (so the trap runs at once) that
# is in the PID list (a background job ignores SIGINT: stop_all ends it)
sleep infinity &
pids+=($!)
wait $!
