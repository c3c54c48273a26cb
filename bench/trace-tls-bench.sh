#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/trace-tls-bench.sh [BUILD_DIR] [FILE KEYLOG]: what decrypting
# costs mw-trace (--keylog, issue 12) against tshark -o tls.keylog_file with
# the same key log, in the same run. Prints median wall and CPU seconds and
# MB/s of TLS octets (the TCP payload of the capture, nearly all of it
# encrypted application data), for mw-trace -q and --json with the key
# log, mw-trace -q without it (records only: the cost of the rest), and
# tshark decoding the SMTP inside.
#
# Without FILE it records one on loopback (as root: tcpdump -i lo), the
# way tests/tracer/record-tls.sh does: mw-smtpd of BUILD_DIR on ephemeral
# ports, MESSAGES (default 8) messages of 1 MiB submitted over STARTTLS,
# six by mw-send (GnuTLS, TLS 1.3) and two by Python's smtplib (OpenSSL,
# TLS 1.2 with AES-GCM); the key log is the one mw-smtpd writes. The
# recording is then repeated COPIES times (default 4), each copy shifted in
# time (editcap -t, mergecap -a): the same sessions, so the same key log
# decrypts them all, and enough octets for CPU times to mean something.
# With FILE, set PORT to the TCP port SMTP runs on (for tshark's -d).
# RUNS (default 3): runs of each command after a warm-up. KEEP=DIR keeps
# the recording there (tls.pcap, tls.keylog, its PORT in tls.port).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
tracer=$build/src/tracer/mw-trace
file=${2:-}
keylog=${3:-}
runs=${RUNS:-3}
messages=${MESSAGES:-8}
copies=${COPIES:-4}
work=$(mktemp -d /tmp/mw-trace-tls-bench-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# record: mw-smtpd, then the messages over STARTTLS while tcpdump listens
record() {
    local admin="$build/src/tools/mw-admin --config $work/mailwire.conf"
    cat > "$work/mailwire.conf" << CONF
[general]
hostname = mx.example.test
domains = example.test
state_dir = $work
tls_cert = cert.pem
tls_key = key.pem
[smtp]
listen = 127.0.0.1
port = 0
submission_port = 0
smtps_port = 0
CONF
    $admin cert --out "$work/cert.pem" --key "$work/key.pem" localhost 127.0.0.1 > /dev/null
    echo alice-secret > "$work/alice.pw"
    $admin user add alice --password-file "$work/alice.pw" > /dev/null
    $admin user add bob --password-file "$work/alice.pw" > /dev/null
    SSLKEYLOGFILE="$work/server.keylog" "$build/src/servers/mw-smtpd" \
        --config "$work/mailwire.conf" > "$work/smtpd.out" 2> "$work/smtpd.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q ': ready' "$work/smtpd.out" && break
        sleep 0.05
    done
    PORT=$(sed -n 's/.* submission listening on 127.0.0.1:\([0-9]*\)/\1/p' "$work/smtpd.out" | head -1)
    [ -n "$PORT" ] || { echo "mw-smtpd did not start" >&2; cat "$work/smtpd.err" >&2; exit 1; }
    python3 -c '
import sys
line = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+:;,"
with open(sys.argv[1], "w") as f:
    for i in range(1024 * 1024 // 72):
        f.write("%s\n" % line)
' "$work/body.txt"
    tcpdump -i lo -s 0 -U -w "$work/tls.pcap" "tcp port $PORT" 2> "$work/tcpdump.err" &
    local tcpdump=$!
    pids+=("$tcpdump")
    for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" && break; sleep 0.05; done
    for i in $(seq "$messages"); do
        if [ $((i % 4)) -ne 0 ]; then
            timeout 60 "$build/src/clients/mw-send" --server "127.0.0.1:$PORT" --starttls \
                --insecure --user alice --password-file "$work/alice.pw" \
                --from alice@example.test --to bob@example.test \
                --subject "bench $i" --body-file "$work/body.txt" --helo client.example.test
        else
            timeout 60 python3 - "$PORT" "$work/body.txt" "$i" << 'PY'
import smtplib, ssl, sys
port, body, i = int(sys.argv[1]), open(sys.argv[2]).read(), sys.argv[3]
c = ssl.create_default_context()
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
c.maximum_version = ssl.TLSVersion.TLSv1_2
c.set_ciphers("ECDHE+AESGCM")
msg = "Subject: bench %s over TLS 1.2\r\n\r\n%s" % (i, body.replace("\n", "\r\n"))
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo("client.example.test")
    s.starttls(context=c)
    s.login("alice", "alice-secret")
    s.sendmail("alice@example.test", ["bob@example.test"], msg)
PY
        fi
    done
    sleep 1.5 # let the last packets reach the file
    kill -INT "$tcpdump"
    wait "$tcpdump" || true
    keylog=$work/server.keylog
    local parts=()
    for i in $(seq 0 $((copies - 1))); do
        editcap -t $((i * 100)) "$work/tls.pcap" "$work/c$i.pcap"
        parts+=("$work/c$i.pcap")
    done
    mergecap -a -w "$work/tls-copies.pcap" "${parts[@]}"
    rm -f "${parts[@]}"
    file=$work/tls-copies.pcap
    if [ -n "${KEEP:-}" ]; then
        cp "$file" "$KEEP/tls.pcap"
        cp "$keylog" "$KEEP/tls.keylog"
        echo "$PORT" > "$KEEP/tls.port"
    fi
}

if [ -z "$file" ]; then
    record
fi
port=${PORT:?PORT: the TCP port of the SMTP sessions in FILE}
packets=$(capinfos -c -M "$file" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
octets=$(tshark -r "$file" -T fields -e tcp.len | awk '{ n += $1 } END { print n }')
decrypted=$("$tracer" -r "$file" --keylog "$keylog" --json | grep -c '"tls.decrypted":true' || true)
echo "file=$file packets=$packets tls_octets=$octets runs=$runs events_decrypted=$decrypted"

# measure NAME CMD...: median wall and CPU (user + sys) seconds over $runs
# (after one warm-up), MB/s of the TLS octets
measure() {
    local name=$1
    shift
    "$@" > /dev/null 2>&1 || true
    : > "$work/times"
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > /dev/null 2> /dev/null || true
        cat "$work/time" >> "$work/times"
    done
    python3 - "$name" "$octets" "$work/medians" "$work/times" << 'PY'
import statistics, sys
name, octets = sys.argv[1], int(sys.argv[2])
rows = [l.split() for l in open(sys.argv[4]) if l.strip()]
wall = statistics.median(float(r[0]) for r in rows)
cpu = statistics.median(float(r[1]) + float(r[2]) for r in rows)
print(f"{name}: median_s={wall:.3f} cpu_s={cpu:.3f} "
      f"MB_s={octets / max(wall, 1e-3) / 1e6:.1f} "
      f"MB_s_cpu={octets / max(cpu, 1e-3) / 1e6:.1f}")
print(f"{name} {wall} {cpu}", file=open(sys.argv[3], "a"))
PY
}

measure mw-trace-quiet-keylog "$tracer" -r "$file" -q --keylog "$keylog"
measure mw-trace-json-keylog "$tracer" -r "$file" --json --keylog "$keylog"
measure mw-trace-quiet-no-keylog "$tracer" -r "$file" -q
measure tshark-keylog tshark -r "$file" -o "tls.keylog_file:$keylog" \
    -d "tcp.port==$port,smtp" -Y smtp -T fields -e frame.number \
    -e smtp.req.command -e smtp.response.code
python3 - "$work/medians" << 'PY'
import sys
m = {}
for line in open(sys.argv[1]):
    name, wall, cpu = line.split()
    m[name] = (float(wall), float(cpu))
t = m["tshark-keylog"]
for mode in ("mw-trace-json-keylog", "mw-trace-quiet-keylog"):
    print(f"{mode}: {t[0] / m[mode][0]:.1f}x tshark's speed "
          f"({t[1] / max(m[mode][1], 1e-3):.1f}x in CPU time)")
PY
