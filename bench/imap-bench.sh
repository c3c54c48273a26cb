#!/usr/bin/env bash
# bench/imap-bench.sh: mw-imapd against Dovecot's IMAP in the same run, both
# from private configs on 127.0.0.1, on copies of the same Maildirs, with the
# same client (bench/imap_load.py, raw sockets). Prints one table:
# operation, mailwire, Dovecot, ratio (mailwire rate / Dovecot rate; for
# latency and memory the two numbers are the figures, and mw/dc is given).
#
#   SELECT of a 10,000-message INBOX (4 KiB messages): first SELECT (no
#     Dovecot index, no mailwire-uidlist; page cache warm) and warm
#   FETCH 1:* (FLAGS ENVELOPE) and FETCH 1:* (BODYSTRUCTURE) on it, cold
#     index and warm
#   FETCH 1:* BODY.PEEK[] over 1000 x 4 KiB and 100 x 1 MiB, warm
#   UID SEARCH TEXT "005000" (one hit) and SEARCH FROM "Generator" (all),
#     cold index and warm
#   IDLE latency, 250 reply to DATA -> untagged EXISTS, median and p99 over
#     NIDLE deliveries by the same mw-smtpd (it delivers into mailwire's
#     Maildir for user u1 and, as user dcu1, into Dovecot's u1 Maildir)
#   RSS with NSESS sessions in IDLE on u1's INBOX (what the IDLE runs
#     delivered) and on the 10,000: a fresh mw-imapd's growth per session
#     next to the sum over Dovecot's imap processes / NSESS; PSS beside it
#     (RSS counts the libraries every Dovecot process shares)
#
# "cold index" = each run begins with no cache of what FETCH and SEARCH
# derive from messages: Dovecot's dovecot.index.cache and mailwire's
# mailwire-imap-cache are removed before it (imap_load.py --reset), the
# index of flags and UIDs (dovecot.index, mailwire-uidlist) stays, and the
# message files are in the page cache for both; the run's FETCH or SEARCH
# reads and parses every message and writes the cache again.
# "warm" = one unmeasured run of the same operation first (page cache,
# Dovecot's index and cache files, mailwire's uidlist); then REPEAT runs,
# medians. Figures on a small machine are noisy: read the ratios.
#
# The Maildirs: bench/fill_maildir.py fills Dovecot's (then CRLF line ends,
# as in pop3-bench.sh), and mailwire's are cp -a copies made before either
# server opens them, so Dovecot's dovecot* files and mailwire's
# mailwire-uidlist / dovecot-keywords never meet. Both servers run as the
# mail user (MAIL_UID 24000), mw-imapd and mw-smtpd through setpriv.
#
# Environment: REPEAT=3, N10K=10000, N4K=1000, N1M=100, NIDLE=200,
# IDLE_GAP=0.6 (seconds from one EXISTS to the next delivery: longer than
# Dovecot's 500 ms notify delay, NOTIFY_DELAY_MSECS in 2.3's
# src/lib-storage/mailbox-watch.c, so each delivery meets an idle server),
# IDLE_VIA=smtp (or "smtp mda": also files written the way an MDA does),
# NSESS=100, MW_IMAP_PORT=24843, MW_SMTP_PORT=24825, BUILD=build; the peers
# run in PEERS_DIR (/tmp/perfpeers-imap) on their own ports. Every run is
# bounded (message counts, imap_load.py's timeouts). Stops what it
# started, by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
REPEAT=${REPEAT:-3} N10K=${N10K:-10000} N4K=${N4K:-1000} N1M=${N1M:-100}
NIDLE=${NIDLE:-200} IDLE_GAP=${IDLE_GAP:-0.6} IDLE_VIA=${IDLE_VIA:-smtp} NSESS=${NSESS:-100}
MW_IMAP_PORT=${MW_IMAP_PORT:-24843} MW_SMTP_PORT=${MW_SMTP_PORT:-24825}
export PEERS_DIR=${PEERS_DIR:-/tmp/perfpeers-imap}
export SMTP_PORT=${SMTP_PORT:-24925} IMAP_PORT=${IMAP_PORT:-24943}
export POP3_PORT=${POP3_PORT:-24910} SINK_PORT=${SINK_PORT:-24926}
export NUSERS=2  # u0: the 10,000-message INBOX, u1: IDLE (plus fill4k, fill1m)
MAIL_UID=${MAIL_UID:-24000} MAIL_GID=${MAIL_GID:-24000}
state=$(mktemp -d /tmp/mw-imap-bench.XXXXXX)
chmod 755 "$state"
results=$state/results
imapd_pid= smtpd_pid=
cleanup() {
  local p
  for p in $imapd_pid $smtpd_pid; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  "$here/peers.sh" stop >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

"$here/peers.sh" start >/dev/null
read -r _pf_pid dc_pid < <("$here/peers.sh" pids)
root=$PEERS_DIR/mail/example.test

# Dovecot's Maildirs: fill, then LF -> CRLF in place (mailwire stores mail
# as received, CRLF, and takes sizes from file sizes).
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
echo "filling Maildirs ($N10K + $N4K x 4 KiB, $N1M x 1 MiB) ..." >&2
fill u0 "$N10K" 4096
fill fill4k "$N4K" 4096
fill fill1m "$N1M" 1048576

cat >"$state/mailwire.conf" <<CONF
[general]
hostname = bench.example.test
domains = example.test
state_dir = $state
timeout = 600
[smtp]
listen = 127.0.0.1
port = $MW_SMTP_PORT
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
admin() { echo secret | "$build/src/tools/mw-admin" --config "$state/mailwire.conf" user add "$@" >/dev/null; }
for u in u0 u1 fill4k fill1m; do
  admin "$u"
  cp -a "$root/$u/Maildir/cur/." "$state/mail/$u/Maildir/cur/"
done
# Dovecot's u1 INBOX receives from the same mw-smtpd, as mailwire user dcu1
# whose Maildir is a symlink to it (made after mw-admin, so mw-admin's
# special-use folders and subscriptions stay out of Dovecot's Maildir)
admin dcu1 --maildir "$state/dcu1-Maildir"
rm -rf "$state/dcu1-Maildir"
ln -s "$root/u1/Maildir" "$state/dcu1-Maildir"
chown -R "$MAIL_UID:$MAIL_GID" "$state"

# In a session of its own, as a daemon is (Dovecot's master calls setsid ()):
# with the kernel's autogroup scheduling (sched_autogroup_enabled, Debian's
# default) every session shares out the CPU as one group, so on a loaded
# machine a server left in this script's session would share one group's
# CPU with the client and whatever else this session runs, while Dovecot
# gets a group to itself, and the ratios would measure that.
start() { # PROGRAM: runs it as the mail user (setsid and setpriv exec: $! is the server)
  rm -f "$state/$1.out"
  setsid setpriv --reuid "$MAIL_UID" --regid "$MAIL_GID" --clear-groups \
    "$build/src/servers/$1" --config "$state/mailwire.conf" >"$state/$1.out" 2>"$state/$1.err" &
}
ready() { # PROGRAM
  for _ in $(seq 50); do grep -q ready "$state/$1.out" && break; sleep 0.1; done
  grep -q ready "$state/$1.out" || { echo "$1 did not start" >&2; cat "$state/$1.err" >&2; exit 1; }
}
start mw-imapd; imapd_pid=$!
start mw-smtpd; smtpd_pid=$!
ready mw-imapd; ready mw-smtpd

load() { python3 "$here/imap_load.py" "$@"; }
dc=(127.0.0.1 "$IMAP_PORT" --label dovecot --server-pid "$dc_pid")
mw=(127.0.0.1 "$MW_IMAP_PORT" --label mailwire --server-pid "$imapd_pid")
: >"$results"
both() { # TAG ARGS...: the same op on Dovecot, then on mailwire
  local tag=$1; shift
  load ops "${dc[@]}" "$@" | sed "s/^/$tag /" >>"$results"
  load ops "${mw[@]}" "$@" | sed "s/^/$tag /" >>"$results"
}

echo "SELECT, FETCH, SEARCH ..." >&2
# --pause 1.5: a folder's first SELECT happens once in its life, never
# twice in a second. Run again within the second, mw-imapd must choose a
# UIDVALIDITY ahead of the clock for the new uidlist and write it durably
# first (RFC 9051 §2.3.1.1: never the same UIDVALIDITY with other UIDs;
# store_next_uidvalidity ()): two fsyncs that Dovecot, which takes the
# clock's second as it is, does not pay. A second apart, neither fsyncs.
both select-first --user u0 --ops select --warmup 0 --repeat "$REPEAT" --pause 1.5 \
  --reset "$root/u0/Maildir/dovecot.index*" --reset "$root/u0/Maildir/dovecot-uidlist" \
  --reset "$state/mail/u0/Maildir/mailwire-uidlist"
for op in fetch-env fetch-bs search-text search-from; do
  both "$op-cold" --user u0 --ops "$op" --warmup 0 --repeat "$REPEAT" \
    --reset "$root/u0/Maildir/dovecot.index.cache" \
    --reset "$state/mail/u0/Maildir/mailwire-imap-cache"
done
for op in select fetch-env fetch-bs search-text search-from; do
  both "$op" --user u0 --ops "$op" --repeat "$REPEAT"
done
both body4k --user fill4k --ops fetch-body --repeat "$REPEAT"
both body1m --user fill1m --ops fetch-body --repeat "$REPEAT"

echo "IDLE latency ($NIDLE deliveries each, via $IDLE_VIA) ..." >&2
for via in $IDLE_VIA; do
  if [ "$via" = smtp ]; then
    dcx=(--smtp "127.0.0.1:$MW_SMTP_PORT" --rcpt dcu1@example.test)
    mwx=(--smtp "127.0.0.1:$MW_SMTP_PORT" --rcpt u1@example.test)
  else
    dcx=(--mda-maildir "$root/u1/Maildir") mwx=(--mda-maildir "$state/mail/u1/Maildir")
  fi
  load idle-latency "${dc[@]}" --user u1 --count "$NIDLE" --gap "$IDLE_GAP" "${dcx[@]}" \
    | sed "s/^/idle-$via /" >>"$results"
  load idle-latency "${mw[@]}" --user u1 --count "$NIDLE" --gap "$IDLE_GAP" "${mwx[@]}" \
    | sed "s/^/idle-$via /" >>"$results"
done

echo "RSS with $NSESS sessions in IDLE ..." >&2
for u in u1 u0; do
  # a fresh mw-imapd, so its baseline holds no heap left by earlier runs
  kill "$imapd_pid"; wait "$imapd_pid" 2>/dev/null || true
  start mw-imapd; imapd_pid=$!; ready mw-imapd
  load idle-rss 127.0.0.1 "$IMAP_PORT" --label dovecot --dovecot-master "$dc_pid" \
    --user "$u" --sessions "$NSESS" | sed "s/^/rss-$u /" >>"$results"
  load idle-rss 127.0.0.1 "$MW_IMAP_PORT" --label mailwire --server-pid "$imapd_pid" \
    --user "$u" --sessions "$NSESS" | sed "s/^/rss-$u /" >>"$results"
done

python3 - "$results" "$N10K" "$N4K" "$N1M" "$NIDLE" "$NSESS" "$IDLE_VIA" <<'PY'
import sys
path, n10k, n4k, n1m, nidle, nsess, vias = sys.argv[1:]
res = {}
for ln in open(path):
    f = ln.split()
    if len(f) < 3 or f[2] != "summary":
        continue
    res[(f[0], f[1])] = dict(kv.split("=", 1) for kv in f[3:] if "=" in kv)

def get(tag, who, key):
    return float(res[(tag, who)][key])

rows = []
def rate_row(name, tag, kind):
    mw, dc = res.get((tag, "mailwire")), res.get((tag, "dovecot"))
    if not mw or not dc:
        rows.append((name, "-", "-", "-")); return
    if kind == "ms":   # a time: lower is better, rate = 1/time
        m, d = get(tag, "mailwire", "seconds"), get(tag, "dovecot", "seconds")
        rows.append((name, f"{m * 1000:.1f} ms", f"{d * 1000:.1f} ms", f"{d / m:.2f}"))
    else:
        m, d = get(tag, "mailwire", "msg_s"), get(tag, "dovecot", "msg_s")
        if kind == "MB":
            ms = f"{m:.0f} msg/s {get(tag, 'mailwire', 'MB_s'):.0f} MB/s"
            ds = f"{d:.0f} msg/s {get(tag, 'dovecot', 'MB_s'):.0f} MB/s"
        else:
            ms, ds = f"{m:.0f} msg/s", f"{d:.0f} msg/s"
        rows.append((name, ms, ds, f"{m / d:.2f}"))

rate_row(f"SELECT {n10k} msgs, first (no index/uidlist)", "select-first", "ms")
rate_row(f"SELECT {n10k} msgs, warm", "select", "ms")
rate_row(f"FETCH 1:* (FLAGS ENVELOPE), {n10k}, cold index", "fetch-env-cold", "msg")
rate_row(f"FETCH 1:* (FLAGS ENVELOPE), {n10k}, warm", "fetch-env", "msg")
rate_row(f"FETCH 1:* (BODYSTRUCTURE), {n10k}, cold index", "fetch-bs-cold", "msg")
rate_row(f"FETCH 1:* (BODYSTRUCTURE), {n10k}, warm", "fetch-bs", "msg")
rate_row(f"FETCH 1:* BODY.PEEK[] {n4k} x 4 KiB, warm", "body4k", "MB")
rate_row(f"FETCH 1:* BODY.PEEK[] {n1m} x 1 MiB, warm", "body1m", "MB")
rate_row(f'UID SEARCH TEXT "005000", {n10k}, cold index', "search-text-cold", "ms")
rate_row(f'UID SEARCH TEXT "005000", {n10k}, warm', "search-text", "ms")
rate_row(f'SEARCH FROM "Generator", {n10k}, cold index', "search-from-cold", "ms")
rate_row(f'SEARCH FROM "Generator", {n10k}, warm', "search-from", "ms")
for via in vias.split():
    tag = f"idle-{via}"
    how = "mw-smtpd 250 -> EXISTS" if via == "smtp" else "MDA rename -> EXISTS"
    for key, label in (("median_ms", "median"), ("p99_ms", "p99")):
        if (tag, "mailwire") in res and (tag, "dovecot") in res:
            m, d = get(tag, "mailwire", key), get(tag, "dovecot", key)
            rows.append((f"IDLE latency {label}, {how} ({nidle})", f"{m:.2f} ms",
                         f"{d:.2f} ms", f"mw/dc {m / d:.3f}"))
n_u1 = int(nidle) * len(vias.split())  # u1 holds what the IDLE runs delivered
for u, what in (("u1", f"{n_u1}-msg INBOX"), ("u0", f"{n10k}-msg INBOX")):
    tag = f"rss-{u}"
    if (tag, "mailwire") in res and (tag, "dovecot") in res:
        m = get(tag, "mailwire", "per_session_rss_kb")
        d = get(tag, "dovecot", "per_session_rss_kb")
        rows.append((f"RSS per IDLE session, {nsess} sessions, {what}", f"{m:.0f} kB",
                     f"{d:.0f} kB", f"mw/dc {m / d:.3f}"))
        m = get(tag, "mailwire", "per_session_pss_kb")
        d = get(tag, "dovecot", "per_session_pss_kb")
        rows.append((f"PSS per IDLE session, {nsess} sessions, {what}", f"{m:.0f} kB",
                     f"{d:.0f} kB", f"mw/dc {m / d:.3f}"))
        m, d = get(tag, "mailwire", "rss_kb"), get(tag, "dovecot", "rss_kb")
        rows.append((f"RSS total, {nsess} IDLE sessions, {what}", f"{m / 1024:.1f} MiB",
                     f"{d / 1024:.1f} MiB", f"mw/dc {m / d:.3f}"))

w = [max(len(r[i]) for r in rows + [("operation", "mailwire", "Dovecot", "ratio")])
     for i in range(4)]
fmt = lambda r: f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}"
print(fmt(("operation", "mailwire", "Dovecot", "ratio")))
print("  ".join("-" * x for x in w))
for r in rows:
    print(fmt(r))
print("ratio = mailwire rate / Dovecot rate (> 1: mailwire faster); latency and memory: "
      "the two figures, mw/dc (< 1: mailwire lower)")
print()
print("details (medians): client_cpu_s / seconds near 1 would mean the client is the bottleneck")
for (tag, who), d in sorted(res.items()):
    if "seconds" in d:
        print(f"  {tag:16s} {who:9s} seconds={d['seconds']} client_cpu_s={d['client_cpu_s']} "
              f"server_cpu_s={d['server_cpu_s']} n={d['n']} result={d['result']}")
    else:
        print(f"  {tag:16s} {who:9s} " + " ".join(f"{k}={v}" for k, v in d.items()
                                                    if k not in ("mode",)))
PY
