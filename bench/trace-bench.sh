#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/trace-bench.sh [BUILD_DIR] [FILE] [RUNS]: offline decode speed of
# mw-trace against tshark (the fields of tests/tracer/captures/README.md)
# and against `tcpdump -r FILE -w /dev/null`, the floor of just reading
# the file. Prints median wall seconds, packets/s, MB/s, peak RSS and the
# ratios; and the same ratios on CPU time (user + sys), which a loaded
# machine disturbs less than wall time; each command runs RUNS times
# (default 3) after a warm-up.
#
# Without FILE it builds a mixed SMTP/POP3/IMAP capture by concatenating
# the reference captures of tests/tracer/captures (Postfix and Dovecot
# sessions) many times, each copy time-shifted (editcap -t, mergecap -a):
# about 200k packets. A recorded load run (tcpdump -i lo during a bench) is
# the better input when one is at hand: pass it as FILE and set DECODE_AS.
# BEFORE=OTHER_BUILD_DIR measures that build's mw-trace too, in the same
# run ("before-" rows), for a change's before and after.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
tracer=$build/src/tracer/mw-trace
runs=${3:-3}
DECODE_AS=${DECODE_AS:-"-d tcp.port==24025,smtp -d tcp.port==24110,pop -d tcp.port==24143,imap"}
work=$(mktemp -d /tmp/mw-trace-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

file=${2:-}
if [ -z "$file" ]; then
    captures=$here/../tests/tracer/captures
    [ -d "$captures" ] || { echo "no $captures: pass FILE" >&2; exit 1; }
    mergecap -a -w "$work/one.pcap" "$captures"/smtp-postfix.pcap \
        "$captures"/pop3-dovecot.pcap "$captures"/imap-dovecot.pcap
    parts=()
    for i in $(seq 0 479); do
        editcap -t $((i * 100)) "$work/one.pcap" "$work/c$i.pcap"
        parts+=("$work/c$i.pcap")
    done
    mergecap -a -w "$work/mixed.pcap" "${parts[@]}"
    rm -f "${parts[@]}"
    file=$work/mixed.pcap
fi
packets=$(capinfos -c -M "$file" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
bytes=$(stat -c %s "$file")
echo "file=$file packets=$packets bytes=$bytes runs=$runs"

# measure NAME CMD...: median wall and CPU seconds over $runs (after one
# warm-up) and the peak RSS of the last run
measure() {
    local name=$1; shift
    "$@" > /dev/null 2>&1 || true
    local times=()
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" > /dev/null 2> /dev/null || true
        times+=("$(cat "$work/time")")
    done
    printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
name, packets, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [l.split() for l in sys.stdin if l.strip()]
med = statistics.median(float(r[0]) for r in rows)
cpu = statistics.median(float(r[2]) + float(r[3]) for r in rows)
rss = int(rows[-1][1]) / 1024
print(f"{name}: median_s={med:.3f} cpu_s={cpu:.3f} "
      f"pkts_s={packets / max(med, 1e-3):.0f} "
      f"MB_s={size / max(med, 1e-3) / 1e6:.1f} maxrss_MiB={rss:.0f}")
print(f"{name} {med} {cpu}", file=open(sys.argv[4], "a"))
' "$name" "$packets" "$bytes" "$work/medians"
}

measure read-floor tcpdump -r "$file" -w /dev/null
modes="mw-trace-json mw-trace-ladder mw-trace-quiet"
# tracers NAME-PREFIX MW-TRACE: its three modes
tracers() {
    measure "$1mw-trace-quiet" "$2" -r "$file" -q
    measure "$1mw-trace-ladder" "$2" -r "$file" --color=never
    measure "$1mw-trace-json" "$2" -r "$file" --json
}
tracers "" "$tracer"
if [ -n "${BEFORE:-}" ]; then
    tracers before- "$(cd "$BEFORE" && pwd)/src/tracer/mw-trace"
    modes="$modes before-mw-trace-json before-mw-trace-ladder before-mw-trace-quiet"
fi
# shellcheck disable=SC2086
measure tshark-fields tshark -r "$file" $DECODE_AS -Y 'smtp || imap || pop' \
    -T fields -e frame.number -e smtp.req.command -e smtp.response.code \
    -e imap.request.command -e pop.request.command
# shellcheck disable=SC2086
python3 - "$work/medians" $modes <<'PY'
import sys
m = {}
for line in open(sys.argv[1]):
    name, wall, cpu = line.split()
    m[name] = (float(wall), float(cpu))
for mode in sys.argv[2:]:
    t, f, x = m["tshark-fields"], m["read-floor"], m[mode]
    print(f"{mode}: {t[0] / x[0]:.1f}x tshark's speed, "
          f"{x[0] / max(f[0], 1e-3):.1f}x the read floor; in CPU time "
          f"{t[1] / max(x[1], 1e-3):.1f}x and {x[1] / max(f[1], 1e-3):.1f}x")
PY
