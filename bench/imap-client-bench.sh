#!/usr/bin/env bash
# bench/imap-client-bench.sh: `mw-imap sync` against mbsync (isync) on the
# same account, first on mw-imapd, then on Dovecot, in the same run. Both
# clients sync the account's INBOX into a local Maildir of their own:
#
#   first sync   N messages (4 KiB, bench/fill_maildir.py) into an empty
#                local Maildir (FIRST_REPEAT runs, each from empty, median)
#   resync       nothing changed on either side (REPEAT runs, median, after
#                one unmeasured run of each); mw-imap with QRESYNC (RFC 7162
#                §3.2.5, what it does by default when the server offers it)
#                and with --no-qresync (UID FETCH 1:* (FLAGS), the fallback)
#
# Prints one table: server, operation, the two wall times, the ratio
# mw-imap/mbsync (< 1: mw-imap faster) and the number of IMAP commands
# mw-imap sent (its own summary line) beside mbsync's (counted in an extra,
# unmeasured `mbsync -Dn` run: the lines it sends that start with a tag).
# Then the details: client CPU (user+sys of the client and its children),
# server CPU (bench/cputree.py over the server's process tree; Dovecot's
# imap processes are its master's children) and the client's peak RSS.
#
# The server Maildirs: fill_maildir.py fills Dovecot's u0 (then CRLF line
# ends, as imap-bench.sh does), and mailwire's u0 is a cp -a copy, made
# before either server opens them. Before the first sync, one unmeasured
# pass over the INBOX (SELECT, UID FETCH 1:* (FLAGS), then every body) so
# that neither client pays for Dovecot's index or a cold page cache. Both
# clients fsync what they store (mbsync's FSync defaults to yes): mbsync
# each message file, one after the other; mw-imap each file and its
# directory, in a few writer threads at once (their fsyncs share the
# disk's journal commits), pairing a message only once it is durable.
#
# Environment: N=10000, SIZE=4096, REPEAT=7, FIRST_REPEAT=1,
# MW_IMAP_PORT=24863, BUILD=build; the peers (bench/peers.sh) run in
# PEERS_DIR (/tmp/perfpeers-imapclient) on IMAP_PORT=24963 and SMTP 24965,
# POP3 24960. Every client run is bounded by `timeout` (RUN_TIMEOUT=600 s);
# stops what it started, by PID. Figures on a small shared machine are
# noisy: read the ratios, and run it again before believing a small one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
N=${N:-10000} SIZE=${SIZE:-4096} REPEAT=${REPEAT:-7} FIRST_REPEAT=${FIRST_REPEAT:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
MW_IMAP_PORT=${MW_IMAP_PORT:-24863}
export PEERS_DIR=${PEERS_DIR:-/tmp/perfpeers-imapclient}
export SMTP_PORT=${SMTP_PORT:-24965} IMAP_PORT=${IMAP_PORT:-24963}
export POP3_PORT=${POP3_PORT:-24960} SINK_PORT=${SINK_PORT:-24966}
export NUSERS=1  # u0: the N-message INBOX
MAIL_UID=${MAIL_UID:-24000} MAIL_GID=${MAIL_GID:-24000}
command -v mbsync >/dev/null || { echo "mbsync missing: apt-get install isync" >&2; exit 1; }
[ -x "$build/src/clients/mw-imap" ] || { echo "no $build/src/clients/mw-imap" >&2; exit 1; }
state=$(mktemp -d /tmp/mw-imap-client-bench.XXXXXX)
chmod 755 "$state"
results=$state/results
imapd_pid=
cleanup() {
  if [ -n "$imapd_pid" ]; then
    kill "$imapd_pid" 2>/dev/null && wait "$imapd_pid" 2>/dev/null
  fi
  "$here/peers.sh" stop >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

"$here/peers.sh" start >/dev/null
read -r _pf_pid dc_pid < <("$here/peers.sh" pids)
root=$PEERS_DIR/mail/example.test

echo "filling u0's INBOX ($N x $SIZE bytes) ..." >&2
python3 "$here/fill_maildir.py" "$root/u0/Maildir" "$N" "$SIZE" --clear >/dev/null
python3 - "$root/u0/Maildir/cur" <<'PY'
import os, sys
d = sys.argv[1]
for name in os.listdir(d):
    path = os.path.join(d, name)
    with open(path, "r+b") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        f.seek(0); f.write(data); f.truncate()
PY

cat >"$state/mailwire.conf" <<CONF
[general]
hostname = bench.example.test
domains = example.test
state_dir = $state
timeout = 600
[smtp]
port = -1
submission_port = -1
smtps_port = -1
[pop3]
port = -1
pop3s_port = -1
[imap]
listen = 127.0.0.1
port = $MW_IMAP_PORT
imaps_port = -1
plaintext_auth = always
CONF
echo secret >"$state/password"
chmod 600 "$state/password"
"$build/src/tools/mw-admin" --config "$state/mailwire.conf" user add u0 \
  --password-file "$state/password" >/dev/null
cp -a "$root/u0/Maildir/cur/." "$state/mail/u0/Maildir/cur/"
chown -R "$MAIL_UID:$MAIL_GID" "$state"
# In a session of its own, as Dovecot's master is (it calls setsid ()):
# with autogroup scheduling (Debian's default) each session shares out
# the CPU as one group, so mw-imapd left in this script's session would
# share one group with the clients while Dovecot has one to itself (see
# imap-bench.sh). setsid and setpriv exec: $! is mw-imapd itself
setsid setpriv --reuid "$MAIL_UID" --regid "$MAIL_GID" --clear-groups \
  "$build/src/servers/mw-imapd" --config "$state/mailwire.conf" \
  >"$state/mw-imapd.out" 2>"$state/mw-imapd.err" &
imapd_pid=$!
for _ in $(seq 50); do grep -q ready "$state/mw-imapd.out" && break; sleep 0.1; done
grep -q ready "$state/mw-imapd.out" || { echo "mw-imapd did not start" >&2; cat "$state/mw-imapd.err" >&2; exit 1; }

# measure TAG TOOL SERVER_PID COMMAND...: one timed run; appends
# "TAG TOOL wall client_cpu server_cpu maxrss_kb commands" to $results
# (the client's CPU and peak RSS come from /usr/bin/time, a small C
# program: a Python parent's rusage would count its own pages, copied
# into the child before exec)
cat >"$state/timed.py" <<'PY'
import subprocess, sys, time
out, err, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
usage = err + ".time"
start = time.perf_counter()
with open(out, "wb") as o, open(err, "wb") as e:
    rc = subprocess.run(["/usr/bin/time", "-o", usage, "-f", "%U %S %M"] + sys.argv[4:],
                        stdout=o, stderr=e, timeout=limit).returncode
wall = time.perf_counter() - start
user, system, rss = open(usage).read().split()[-3:]
print(f"{wall:.4f} {float(user) + float(system):.2f} {rss} {rc}")
PY
server_cpu() { python3 "$here/cputree.py" --sum "$1" | awk '{print $3}'; }
measure() {
  local tag=$1 tool=$2 spid=$3; shift 3
  local before after wall cpu rss rc commands
  before=$(server_cpu "$spid")
  read -r wall cpu rss rc < <(python3 "$state/timed.py" "$state/out" "$state/err" "$RUN_TIMEOUT" "$@")
  after=$(server_cpu "$spid")
  if [ "$rc" != 0 ]; then
    echo "$tool ($tag) failed ($rc): $*" >&2; tail -5 "$state/out" "$state/err" >&2; exit 1
  fi
  commands=$(sed -n 's/.*(\([0-9]*\) commands\{0,1\}.*/\1/p' "$state/out" | head -1)
  echo "$tag $tool $wall $cpu $(echo "$after - $before" | bc) $rss ${commands:--}" >>"$results"
}

mbsyncrc() { # PORT LOCAL: an rc file for u0's INBOX into LOCAL (echoes its path)
  local rc=$state/mbsyncrc-$1
  cat >"$rc" <<RC
IMAPAccount bench
Host 127.0.0.1
Port $1
User u0
Pass secret
SSLType None
AuthMechs LOGIN
Timeout 120

IMAPStore far
Account bench

MaildirStore near
Path $2/
Inbox $2/INBOX
SubFolders Verbatim

Channel bench
Far :far:
Near :near:
Patterns INBOX
Create Both
Expunge Both
Sync All
SyncState *
RC
  chmod 600 "$rc"
  echo "$rc"
}
count_local() { find "$1" \( -path '*/cur/*' -o -path '*/new/*' \) -type f | wc -l; }

warm() { # PORT: every flag and body of the INBOX once, unmeasured
  python3 - "$1" <<'PY'
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=300)
c.login("u0", "secret")
c.select("INBOX", readonly=True)
c.uid("FETCH", "1:*", "(FLAGS)")
c.uid("FETCH", "1:*", "(BODY.PEEK[])")
c.logout()
PY
}

: >"$results"
for server in mw-imapd dovecot; do
  if [ "$server" = mw-imapd ]; then port=$MW_IMAP_PORT spid=$imapd_pid; else port=$IMAP_PORT spid=$dc_pid; fi
  echo "$server: warming the INBOX ..." >&2
  warm "$port"
  mbs_local=$state/$server-mbsync mw_local=$state/$server-mw-imap
  rc=$(mbsyncrc "$port" "$mbs_local")
  mw=("$build/src/clients/mw-imap" --server "127.0.0.1:$port" --user u0
      --password-file "$state/password" --maildir "$mw_local")
  echo "$server: first sync of $N messages ($FIRST_REPEAT run(s) each) ..." >&2
  for ((i = 0; i < FIRST_REPEAT; i++)); do
    rm -rf "$mbs_local" "$mw_local"; mkdir -p "$mbs_local"
    measure "$server-first" mbsync "$spid" mbsync -q -c "$rc" -a
    measure "$server-first" mw-imap "$spid" "${mw[@]}" sync INBOX
  done
  for dir in "$mbs_local" "$mw_local"; do
    got=$(count_local "$dir")
    [ "$got" = "$N" ] || { echo "$dir holds $got messages, not $N" >&2; exit 1; }
  done
  echo "$server: no-change resync ($REPEAT runs each, after one unmeasured) ..." >&2
  mbsync -q -c "$rc" -a >/dev/null
  "${mw[@]}" sync INBOX >/dev/null
  "${mw[@]}" --no-qresync sync INBOX >/dev/null
  for ((i = 0; i < REPEAT; i++)); do
    measure "$server-resync" mbsync "$spid" mbsync -q -c "$rc" -a
    measure "$server-resync" mw-imap "$spid" "${mw[@]}" sync INBOX
    measure "$server-resync-noqr" mw-imap "$spid" "${mw[@]}" --no-qresync sync INBOX
  done
  # mbsync's commands, from its network trace (unmeasured): lines it sent
  n=$(timeout "$RUN_TIMEOUT" mbsync -Dn -c "$rc" -a 2>&1 | grep -c '^>>> [0-9]' || true)
  echo "$server-resync mbsync-commands $n" >>"$results"
  # and mw-imap's, every command of the session (LOGIN ... LOGOUT) from --trace
  n=$(timeout "$RUN_TIMEOUT" "${mw[@]}" --trace sync INBOX 2>&1 | grep -c '^C: [A-Z]*[0-9]' || true)
  echo "$server-resync mw-commands $n" >>"$results"
  n=$(timeout "$RUN_TIMEOUT" "${mw[@]}" --trace --no-qresync sync INBOX 2>&1 | grep -c '^C: [A-Z]*[0-9]' || true)
  echo "$server-resync-noqr mw-commands $n" >>"$results"
  for dir in "$mbs_local" "$mw_local"; do
    got=$(count_local "$dir")
    [ "$got" = "$N" ] || { echo "$dir holds $got messages after the resyncs, not $N" >&2; exit 1; }
  done
done

python3 - "$results" "$N" "$SIZE" "$REPEAT" "$FIRST_REPEAT" <<'PY'
import statistics, sys
path, n, size, repeat, first_repeat = sys.argv[1:]
runs, totals = {}, {}
for ln in open(path):
    f = ln.split()
    if f[1] in ("mbsync-commands", "mw-commands"):
        totals[(f[0], f[1])] = f[2]
        continue
    runs.setdefault((f[0], f[1]), []).append(f[2:])

def med(tag, tool, col):
    return statistics.median(float(r[col]) for r in runs[(tag, tool)])

def commands(tag, tool):
    return "/".join(sorted({r[4] for r in runs[(tag, tool)]}))

rows = []
for server in ("mw-imapd", "dovecot"):
    for op, tag, mbs_tag in (
            (f"first sync, {n} msgs (median of {first_repeat})", f"{server}-first", f"{server}-first"),
            (f"no-change resync, QRESYNC (median of {repeat})", f"{server}-resync", f"{server}-resync"),
            (f"no-change resync, --no-qresync (median of {repeat})", f"{server}-resync-noqr", f"{server}-resync")):
        m, b = med(tag, "mw-imap", 0), med(mbs_tag, "mbsync", 0)
        mwc = commands(tag, "mw-imap")
        if (tag, "mw-commands") in totals:
            mwc += f" ({totals[(tag, 'mw-commands')]})"
        mbc = totals.get((mbs_tag, "mbsync-commands"), "-") if "resync" in mbs_tag else "-"
        rows.append((server, op, f"{m * 1000:.1f} ms", f"{b * 1000:.1f} ms", f"{m / b:.2f}",
                     mwc, mbc))
head = ("server", "operation", "mw-imap", "mbsync", "mw/mbsync", "mw cmds (all)", "mbsync cmds")
w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(f"{c:<{w[i]}}" if i < 2 else f"{c:>{w[i]}}" for i, c in enumerate(r))
print(fmt(head))
print("  ".join("-" * x for x in w))
for r in rows:
    print(fmt(r))
print(f"wall time, {size}-byte messages, INBOX only; mw/mbsync < 1: mw-imap faster. "
      "mw cmds: from mw-imap's summary line (the folder's own: SELECT on), in parentheses "
      "every command of the session (one --trace run: login, LIST ... LOGOUT); "
      "mbsync cmds: every command of one `mbsync -Dn` resync")
print()
print("details (medians): wall, client CPU (user+sys), server CPU, client peak RSS")
for (tag, tool), rs in sorted(runs.items()):
    print(f"  {tag:22s} {tool:8s} wall={med(tag, tool, 0):.4f}s client_cpu={med(tag, tool, 1):.4f}s "
          f"server_cpu={med(tag, tool, 2):.3f}s rss={med(tag, tool, 3) / 1024:.1f}MiB n={len(rs)}")
PY
