#!/usr/bin/env bash
# bench/smtp-bench.sh: SMTP accept + durable delivery to Maildir, mw-smtpd
# against Postfix, same machine, same run, same load generator (Postfix's
# smtp-source through bench/smtp_load.sh). Prints, per load, both
# servers' median rates and server CPU per message, and the ratios.
#
# Environment: REPEAT=3, N4K=2000 (messages of 4 KiB), N1M=100 (of 1 MiB),
# CONCS="1 10 50", MW_PORT=24525. Every run is bounded (N messages, and
# smtp_load.sh's RUN_TIMEOUT). Stops what it started, by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
REPEAT=${REPEAT:-3} N4K=${N4K:-2000} N1M=${N1M:-100} CONCS=${CONCS:-"1 10 50"}
MW_PORT=${MW_PORT:-24525}
state=$(mktemp -d /tmp/mw-smtp-bench.XXXXXX)
mw_pid=
cleanup() {
  [ -n "$mw_pid" ] && kill "$mw_pid" 2>/dev/null && wait "$mw_pid" 2>/dev/null
  "$here/peers.sh" stop >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

# Postfix's in_flow_delay throttles a single fast client by design; turn it
# off so both servers are measured at full speed with the same durability.
PF_IN_FLOW_DELAY=0 "$here/peers.sh" start >/dev/null
read -r pf_pid _dc_pid < <("$here/peers.sh" pids)
pf_root=/tmp/perfpeers/mail/example.test

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
echo u0-secret | "$top/build/src/tools/mw-admin" --config "$state/mailwire.conf" user add u0 >/dev/null
"$top/build/src/servers/mw-smtpd" --config "$state/mailwire.conf" >"$state/out" 2>"$state/err" &
mw_pid=$!
for _ in $(seq 50); do grep -q ready "$state/out" && break; sleep 0.1; done

run_one() { # LABEL HOST PORT N CONC SIZE MAILROOT PID
  SIZE=$6 REPEAT=$REPEAT QUIET=1 MAILROOT=$7 SERVER_PIDS=$8 \
    "$here/smtp_load.sh" "$2" "$3" "$4" "$5" | sed "s/^summary/$1/"
}
median() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

printf '%-34s %12s %12s %10s %10s %8s %9s\n' load mw_msg_s pf_msg_s mw_cpu_ms pf_cpu_ms rate_x cpu_ratio
for spec in $(for c in $CONCS; do echo "$N4K:$c:4096"; done) $(for c in $CONCS; do echo "$N1M:$c:1048576"; done); do
  IFS=: read -r n c size <<<"$spec"
  find "$state/mail" "$pf_root/u0/Maildir" -path '*/new/*' -type f -delete 2>/dev/null || true
  mw=$(run_one mailwire 127.0.0.1 "$MW_PORT" "$n" "$c" "$size" "$state/mail" "$mw_pid")
  pf=$(run_one postfix 127.0.0.1 24025 "$n" "$c" "$size" "$pf_root/u0" "$pf_pid")
  mwr=$(median "$mw" deliver_msg_s); pfr=$(median "$pf" deliver_msg_s)
  mwc=$(median "$mw" server_cpu_s); pfc=$(median "$pf" server_cpu_s)
  python3 - "$n" "$c" "$size" "$mwr" "$pfr" "$mwc" "$pfc" <<'PY'
import sys
n, c, size = (int(x) for x in sys.argv[1:4])
mwr, pfr, mwc, pfc = (float(x) for x in sys.argv[4:])
mwm, pfm = 1000 * mwc / n, 1000 * pfc / n
print(f"{f'n={n} conc={c} size={size}':34s} {mwr:12.1f} {pfr:12.1f} {mwm:10.3f} {pfm:10.3f}"
      f" {mwr / pfr:8.2f} {mwm / pfm if pfm else 0:9.2f}")
PY
done
echo "rate_x: mailwire delivered msg/s over Postfix's; cpu_ratio: mailwire server CPU per message over Postfix's (goal: rate_x >= 2, cpu_ratio <= 0.33)"
