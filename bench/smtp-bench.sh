#!/usr/bin/env bash
# bench/smtp-bench.sh: SMTP accept + durable delivery to Maildir, mw-smtpd
# against Postfix, same machine, same run, same load generator (Postfix's
# smtp-source through bench/smtp_load.sh). Prints, per load, both
# servers' median rates and server CPU per message, and the ratios.
#
# Each load also runs bench/fsync_floor.py on the same filesystem: the rate
# of bare tmp/ write + fsync + rename + new/ fsync with as many writers as
# sessions, the most any durable server could deliver here; both servers'
# rates are given as a fraction of it.
#
# Environment: REPEAT=3, N4K=2000 (messages of 4 KiB), N1M=100 (of 1 MiB),
# WARM=500 (the unmeasured first load of each server),
# CONCS="1 10 50", MW_PORT=24525, BUILD=build, PEERS_DIR=/tmp/perfpeers-smtp
# (Postfix on SMTP_PORT=24725). Every run is bounded (N messages, and
# smtp_load.sh's RUN_TIMEOUT). Stops what it started, by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
REPEAT=${REPEAT:-3} N4K=${N4K:-2000} N1M=${N1M:-100} CONCS=${CONCS:-"1 10 50"}
MW_PORT=${MW_PORT:-24525}
# the peers in a sandbox and on ports of their own, as imap-bench.sh's, so
# the two benchmarks (or another user of peers.sh) never share a Postfix
export PEERS_DIR=${PEERS_DIR:-/tmp/perfpeers-smtp}
export SMTP_PORT=${SMTP_PORT:-24725} IMAP_PORT=${IMAP_PORT:-24743}
export POP3_PORT=${POP3_PORT:-24710} SINK_PORT=${SINK_PORT:-24726}
export NUSERS=1
state=$(mktemp -d /tmp/mw-smtp-bench.XXXXXX)
# Nothing is deleted beside either server's Maildir while they are
# measured: on ext4, a new inode near many recently deleted ones costs a
# search past them (ext4's recently_deleted () check, found with perf:
# 22% of mw-smtpd's CPU once fsync_floor.py's files were removed from a
# directory inside mw-smtpd's state). Each load's messages stay in new/
# (smtp_load.sh counts from the number already there), and the floor
# writes and removes its files in a directory of its own.
floor_dir=$(mktemp -d /tmp/mw-fsync-floor.XXXXXX)
mw_pid=
cleanup() {
  [ -n "$mw_pid" ] && kill "$mw_pid" 2>/dev/null && wait "$mw_pid" 2>/dev/null
  "$here/peers.sh" stop >/dev/null 2>&1 || true
  rm -rf "$state" "$floor_dir"
}
trap cleanup EXIT

# Postfix's in_flow_delay throttles a single fast client by design; turn it
# off so both servers are measured at full speed with the same durability.
PF_IN_FLOW_DELAY=0 "$here/peers.sh" start >/dev/null
read -r pf_pid _dc_pid < <("$here/peers.sh" pids)
pf_root=$PEERS_DIR/mail/example.test

cat >"$state/mailwire.conf" <<CONF
[general]
hostname = bench.example.test
domains = example.test
state_dir = $state
[smtp]
port = $MW_PORT
submission_port = -1
smtps_port = -1
max_size = 104857600
[pop3]
port = -1
pop3s_port = -1
[imap]
port = -1
imaps_port = -1
CONF
echo u0-secret | "$build/src/tools/mw-admin" --config "$state/mailwire.conf" user add u0 >/dev/null
# In a session of its own, as Postfix's master is (postfix start detaches
# it with setsid ()): with the kernel's autogroup scheduling (Debian's
# default) each session shares out the CPU as one group, so a mw-smtpd left
# in this script's session would share one group with smtp-source, while
# Postfix's processes had a group to themselves (see imap-bench.sh). Not
# a process group leader here, so setsid execs: $! is mw-smtpd.
setsid "$build/src/servers/mw-smtpd" --config "$state/mailwire.conf" >"$state/out" 2>"$state/err" &
mw_pid=$!
for _ in $(seq 50); do grep -q ready "$state/out" && break; sleep 0.1; done
grep -q ready "$state/out" || { echo "mw-smtpd did not start" >&2; cat "$state/err" >&2; exit 1; }
echo "uptime: $(uptime)"

run_one() { # LABEL HOST PORT N CONC SIZE MAILROOT PID
  SIZE=$6 REPEAT=$REPEAT QUIET=1 MAILROOT=$7 SERVER_PIDS=$8 \
    "$here/smtp_load.sh" "$2" "$3" "$4" "$5" | sed "s/^summary/$1/"
}
median() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
# Before each server's runs: write out what is dirty and drop the page and
# buffer caches (root only). On ext4 without a journal, as here, a new
# inode skips every free inode whose dtime says it was freed in the last
# 5 s, or 300 s when its inode table block is in memory and dirty
# (recently_deleted () in fs/ext4/ialloc.c); a server whose Maildir was
# placed in the block group where another program had just removed a big
# tree paid that on every message (perf: 34% of mw-smtpd's CPU at 4 KiB x
# 50 sessions, 4% once the caches were dropped). Both servers get the same.
settle_fs() {
  sync
  if [ "$(id -u)" -eq 0 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}

# One unmeasured load for each server first (WARM messages, one session):
# Postfix's smtpd, cleanup and local processes started, both Maildirs
# made and in use, the caches of both warm alike before the first row.
WARM=${WARM:-500}
REPEAT=1 run_one mailwire 127.0.0.1 "$MW_PORT" "$WARM" 1 4096 "$state/mail" "$mw_pid" >/dev/null
REPEAT=1 run_one postfix 127.0.0.1 "$SMTP_PORT" "$WARM" 1 4096 "$pf_root/u0" "$pf_pid" >/dev/null

# Each load runs REPEAT times, the two servers taking turns (mailwire,
# Postfix, mailwire, ...), so that each pair of runs sees the same state of
# a noisy machine; rate_x is the ratio of the two medians, and rate_x_range
# the lowest and highest ratio within one pair.
printf '%-34s %10s %10s %10s %10s %10s %7s %11s %9s %7s %7s\n' load mw_msg_s pf_msg_s floor_msg_s mw_cpu_ms pf_cpu_ms rate_x rate_x_range cpu_ratio mw_flr pf_flr
for spec in $(for c in $CONCS; do echo "$N4K:$c:4096"; done) $(for c in $CONCS; do echo "$N1M:$c:1048576"; done); do
  IFS=: read -r n c size <<<"$spec"
  pairs=()
  for _ in $(seq "$REPEAT"); do
    settle_fs
    mw=$(REPEAT=1 run_one mailwire 127.0.0.1 "$MW_PORT" "$n" "$c" "$size" "$state/mail" "$mw_pid")
    settle_fs
    pf=$(REPEAT=1 run_one postfix 127.0.0.1 "$SMTP_PORT" "$n" "$c" "$size" "$pf_root/u0" "$pf_pid")
    pairs+=("$(median "$mw" deliver_msg_s):$(median "$pf" deliver_msg_s):$(median "$mw" server_cpu_s):$(median "$pf" server_cpu_s)")
  done
  # same filesystem as both servers' Maildirs (/tmp), same message count,
  # in a directory of its own (see the note on deleting above)
  floor=$(python3 "$here/fsync_floor.py" "$floor_dir" "$n" "$c" "$size" | sed -n 's/.* msg_s=//p')
  python3 - "$n" "$c" "$size" "$floor" "${pairs[@]}" <<'PY'
import statistics, sys
n, c, size = (int(x) for x in sys.argv[1:4])
flr = float(sys.argv[4])
runs = [[float(x) for x in p.split(":")] for p in sys.argv[5:]]
mwr, pfr, mwc, pfc = (statistics.median(r[i] for r in runs) for i in range(4))
ratios = [r[0] / r[1] for r in runs]
mwm, pfm = 1000 * mwc / n, 1000 * pfc / n
spread = f"{min(ratios):.2f}..{max(ratios):.2f}"
print(f"{f'n={n} conc={c} size={size}':34s} {mwr:10.1f} {pfr:10.1f} {flr:10.1f} {mwm:10.3f} {pfm:10.3f}"
      f" {mwr / pfr:7.2f} {spread:>11s} {mwm / pfm if pfm else 0:9.2f} {mwr / flr:7.2f} {pfr / flr:7.2f}")
PY
done
echo "rate_x: mailwire delivered msg/s over Postfix's (medians), rate_x_range: lowest..highest of one pair of runs; cpu_ratio: mailwire server CPU per message over Postfix's (goal: rate_x >= 2, cpu_ratio <= 0.33)"
echo "floor_msg_s: bare write + fsync + rename + directory fsync, as many writers as sessions (fsync_floor.py); mw_flr, pf_flr: each server's rate over it"
echo "uptime: $(uptime)"
