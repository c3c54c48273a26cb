#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/trace-bench.sh [BUILD_DIR] [FILE] [RUNS]: offline decode speed of
# mw-trace against tshark (the fields of tests/tracer/captures/README.md)
# and against `tcpdump -r FILE -w /dev/null`, the floor of just reading
# the file. Prints median wall seconds, packets/s, MB/s, peak RSS and the
# ratios; and the same ratios on CPU time (user + sys), which a loaded
# machine disturbs less than wall time, and on each command's fastest run;
# each command runs RUNS times (default 3) after a warm-up, the commands
# taking turns.
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

# add_command NAME CMD...: one command to measure, kept in $work/commands/
# (its arguments NUL-separated), in the order given
mkdir "$work/commands"
command_count=0
add_command() {
    command_count=$((command_count + 1))
    printf '%s\0' "$@" > "$work/commands/$(printf %02d "$command_count")"
}

add_command read-floor tcpdump -r "$file" -w /dev/null
modes="mw-trace-json mw-trace-ladder mw-trace-quiet"
# tracers NAME-PREFIX MW-TRACE: its three modes
tracers() {
    add_command "$1mw-trace-quiet" "$2" -r "$file" -q
    add_command "$1mw-trace-ladder" "$2" -r "$file" --color=never
    add_command "$1mw-trace-json" "$2" -r "$file" --json
}
tracers "" "$tracer"
if [ -n "${BEFORE:-}" ]; then
    tracers before- "$(cd "$BEFORE" && pwd)/src/tracer/mw-trace"
    modes="$modes before-mw-trace-json before-mw-trace-ladder before-mw-trace-quiet"
fi
# shellcheck disable=SC2086
add_command tshark-fields tshark -r "$file" $DECODE_AS -Y 'smtp || imap || pop' \
    -T fields -e frame.number -e smtp.req.command -e smtp.response.code \
    -e imap.request.command -e pop.request.command

# Each command once to warm up, then RUNS rounds of every command in turn,
# so that the load of a shared machine falls on all of them alike (run one
# after the other, a before and an after could see different loads). Per
# command: median wall and CPU seconds, the fastest run (the one the load
# disturbed least) and the peak RSS; timed by Python (perf_counter,
# wait4's rusage) to the microsecond, where /usr/bin/time's 10 ms steps
# were a fifth of the read floor.
python3 - "$work/commands" "$packets" "$bytes" "$runs" "$work/medians" <<'PY'
import os, statistics, subprocess, sys, time
directory, packets, size, runs, medians = sys.argv[1:6]
packets, size, runs = int(packets), int(size), int(runs)
commands = []
for entry in sorted(os.listdir(directory)):
    words = open(os.path.join(directory, entry), "rb").read().split(b"\0")[:-1]
    commands.append((words[0].decode(), words[1:]))

def once(cmd):
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    return (time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024)

rows = {name: [] for name, _ in commands}
for name, cmd in commands:
    once(cmd)  # the file in the page cache, the binary loaded
for _ in range(runs):
    for name, cmd in commands:
        rows[name].append(once(cmd))
with open(medians, "w") as out:
    for name, _ in commands:
        r = rows[name]
        med = statistics.median(x[0] for x in r)
        cpu = statistics.median(x[1] for x in r)
        best = min(x[0] for x in r)
        print(f"{name}: median_s={med:.3f} min_s={best:.3f} cpu_s={cpu:.3f} "
              f"pkts_s={packets / max(med, 1e-3):.0f} "
              f"MB_s={size / max(med, 1e-3) / 1e6:.1f} "
              f"maxrss_MiB={r[-1][2]:.0f}")
        print(f"{name} {med} {cpu} {best}", file=out)
PY
# shellcheck disable=SC2086
python3 - "$work/medians" $modes <<'PY'
import sys
m = {}
for line in open(sys.argv[1]):
    name, wall, cpu, best = line.split()
    m[name] = (float(wall), float(cpu), float(best))
for mode in sys.argv[2:]:
    t, f, x = m["tshark-fields"], m["read-floor"], m[mode]
    print(f"{mode}: {t[0] / x[0]:.1f}x tshark's speed, "
          f"{x[0] / max(f[0], 1e-3):.1f}x the read floor; in CPU time "
          f"{t[1] / max(x[1], 1e-3):.1f}x and {x[1] / max(f[1], 1e-3):.1f}x; "
          f"fastest runs {t[2] / x[2]:.1f}x and {x[2] / max(f[2], 1e-3):.1f}x")
PY
