#!/bin/sh
# SPDX-License-Identifier: MIT
# capture.sh [PORT] [FILE]: records every TCP packet to or from PORT on the
# loopback interface into FILE (pcap) until Ctrl-C. `./run lab 01` as root
# already does this for you; use this script when you run mw-smtpd yourself
# or want a fresh capture to hand in. Capturing needs root (sudo).
#   PORT defaults to 10125 (the lab's mw-smtpd), FILE to capture.pcap.
port=${1:-10125}
file=${2:-capture.pcap}
here=$(cd "$(dirname "$0")" && pwd)
for trace in "${MW_TRACE:-}" "$here/../../../build/src/tracer/mw-trace" "$(command -v mw-trace)"; do
  if [ -n "$trace" ] && [ -x "$trace" ]; then
    echo "capture.sh: mw-trace writing $file (port $port); Ctrl-C stops it" >&2
    exec "$trace" -i lo -w "$file" -q -p "$port"
  fi
done
if command -v tcpdump >/dev/null 2>&1; then
  echo "capture.sh: tcpdump writing $file (port $port); Ctrl-C stops it" >&2
  exec tcpdump -i lo -U -w "$file" "tcp port $port"
fi
echo "capture.sh: neither mw-trace (./run build) nor tcpdump found" >&2
exit 1
