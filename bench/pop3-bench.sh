#!/usr/bin/env bash
# bench/pop3-bench.sh: POP3 RETR throughput, mw-pop3d against Dovecot's
# POP3 on the same Maildirs in the same run, with the same load generator
# (bench/pull_load.py: "pop3-raw" logs in, LIST, pipelines every
# RETR and scans for CRLF.CRLF; "pop3" is Python's poplib, one RETR at a
# time). Prints both servers' median msg/s and MB/s and the ratios.
#
# The messages are made by bench/fill_maildir.py and then given
# CRLF line ends, since mailwire stores mail as received (CRLF) and takes
# POP3 sizes from file sizes; Dovecot reads the same files.
#
# Environment: REPEAT=3, N4K=1000 (messages of 4 KiB), N1M=100 (of 1 MiB),
# TESTS=pop3-raw,pop3, MW_PORT=24710; the peers run in PEERS_DIR
# (/tmp/perfpeers-pop3) on their own ports so other benches can run too.
# Every run is bounded (N messages, pull_load.py's timeouts). Stops what
# it started, by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
REPEAT=${REPEAT:-3} N4K=${N4K:-1000} N1M=${N1M:-100} TESTS=${TESTS:-pop3-raw,pop3}
MW_PORT=${MW_PORT:-24710}
export PEERS_DIR=${PEERS_DIR:-/tmp/perfpeers-pop3}
export SMTP_PORT=${SMTP_PORT:-24625} IMAP_PORT=${IMAP_PORT:-24643}
export POP3_PORT=${POP3_PORT:-24610} SINK_PORT=${SINK_PORT:-24626}
export NUSERS=${NUSERS:-1}
state=$(mktemp -d /tmp/mw-pop3-bench.XXXXXX)
mw_pid=
cleanup() {
  if [ -n "$mw_pid" ]; then kill "$mw_pid" 2>/dev/null && wait "$mw_pid" 2>/dev/null; fi
  "$here/peers.sh" stop >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

"$here/peers.sh" start >/dev/null
read -r _pf_pid dc_pid < <("$here/peers.sh" pids)
root=$PEERS_DIR/mail/example.test

# The same Maildirs for both servers: fill, then LF -> CRLF in place.
fill() { # USER COUNT SIZE
  python3 "$here/fill_maildir.py" "$root/$1/Maildir" "$2" "$3" --clear >/dev/null
  python3 - "$root/$1/Maildir/cur" <<'PY'
import os, sys
d = sys.argv[1]
for name in os.listdir(d):
    path = os.path.join(d, name)
    with open(path, "r+b") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        f.seek(0); f.write(data); f.truncate()
PY
}
fill fill4k "$N4K" 4096
fill fill1m "$N1M" 1048576

cat >"$state/mailwire.conf" <<CONF
[general]
hostname = bench.example.test
domains = example.test
state_dir = $state
[smtp]
port = -1
submission_port = -1
smtps_port = -1
[pop3]
listen = 127.0.0.1
port = $MW_PORT
pop3s_port = -1
plaintext_auth = always
[imap]
port = -1
imaps_port = -1
CONF
for u in fill4k fill1m; do
  echo secret | "$build/src/tools/mw-admin" --config "$state/mailwire.conf" \
    user add "$u" --maildir "$root/$u/Maildir" >/dev/null
done
# In a session of its own, as Dovecot's master is (it calls setsid ()):
# with the kernel's autogroup scheduling (Debian's default) each session
# shares out the CPU as one group, so a mw-pop3d left in this script's
# session would share one group with the load generator (see
# imap-bench.sh). Not a process group leader here, so setsid execs: $! is
# mw-pop3d.
setsid "$build/src/servers/mw-pop3d" --config "$state/mailwire.conf" >"$state/out" 2>"$state/err" &
mw_pid=$!
for _ in $(seq 50); do grep -q ready "$state/out" && break; sleep 0.1; done
grep -q ready "$state/out" || { echo "mw-pop3d did not start" >&2; cat "$state/err" >&2; exit 1; }

run_one() { # LABEL PORT USER PID
  python3 "$here/pull_load.py" 127.0.0.1 "$IMAP_PORT" "$2" --user "$3" \
    --password secret --tests "$TESTS" --repeat "$REPEAT" --server-pid "$4" \
    --label "$1" | grep summary
}
median() { # SUMMARY_LINES TEST KEY
  grep "test=$2 " <<<"$1" | sed -n "s/.* $3=\([0-9.]*\)\[.*/\1/p"
}

printf '%-10s %-9s %10s %10s %9s %9s %7s %8s %9s\n' user test mw_msg_s dc_msg_s \
  mw_MB_s dc_MB_s ratio mw_cpu_s dc_cpu_s
for u in fill4k fill1m; do
  # warm both page caches and indexes once, unmeasured
  python3 "$here/pull_load.py" 127.0.0.1 "$IMAP_PORT" "$POP3_PORT" --user "$u" \
    --password secret --tests pop3-raw --repeat 1 >/dev/null
  python3 "$here/pull_load.py" 127.0.0.1 "$IMAP_PORT" "$MW_PORT" --user "$u" \
    --password secret --tests pop3-raw --repeat 1 >/dev/null
  dc=$(run_one dovecot "$POP3_PORT" "$u" "$dc_pid")
  mw=$(run_one mailwire "$MW_PORT" "$u" "$mw_pid")
  for t in ${TESTS//,/ }; do
    mwm=$(median "$mw" "$t" msg_s) dcm=$(median "$dc" "$t" msg_s)
    printf '%-10s %-9s %10s %10s %9s %9s %7s %8s %9s\n' "$u" "$t" "$mwm" "$dcm" \
      "$(median "$mw" "$t" MB_s)" "$(median "$dc" "$t" MB_s)" \
      "$(python3 -c "print(f'{$mwm / $dcm:.2f}')")" \
      "$(median "$mw" "$t" server_cpu_s)" "$(median "$dc" "$t" server_cpu_s)"
  done
done
echo "ratio = mailwire msg/s / Dovecot msg/s (>= 1 means at least as fast)"
