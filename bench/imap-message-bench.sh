#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/imap-message-bench.sh [BUILD_DIR ...]: how long mw-imapd's message
# layer (src/servers/imap-message*.c, imap-search*.c) takes per FETCH item
# or SEARCH key, with no server, socket or disk in the way: the SEARCH
# FROM / BODY.PEEK[] rows of imap-bench.sh, taken apart.
#
# Builds bench/imap-message-bench.c against each BUILD_DIR's static
# libraries (libimap-message.a, libmailwire.a: a build of any checkout,
# so two builds compare before and after), fills two Maildirs with
# fill_maildir.py (N_SMALL x 4 KiB and N_LARGE x 1 MiB, then CRLF line
# ends, as mailwire stores mail and imap-bench.sh makes them) and runs
# the tool on them with each build in turn. Environment: N_SMALL=10000,
# N_LARGE=100, REPEAT=5. Everything it makes is in one temporary
# directory, removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N_SMALL=${N_SMALL:-10000} N_LARGE=${N_LARGE:-100} REPEAT=${REPEAT:-5}
[ $# -gt 0 ] || set -- "$top/build"
work=$(mktemp -d /tmp/mw-message-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

fill() { # DIR COUNT SIZE
  python3 "$here/fill_maildir.py" "$1" "$2" "$3" --uid "$(id -u)" \
    --gid "$(id -g)" >/dev/null
  python3 - "$1/cur" <<'PY'
import os, sys
d = sys.argv[1]
for name in os.listdir(d):
    path = os.path.join(d, name)
    with open(path, "r+b") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        f.seek(0); f.write(data); f.truncate()
PY
}
echo "filling $N_SMALL x 4 KiB and $N_LARGE x 1 MiB ..." >&2
fill "$work/small" "$N_SMALL" 4096
fill "$work/large" "$N_LARGE" 1048576

n=0
for build in "$@"; do
  build=$(cd "$build" && pwd)
  n=$((n + 1))
  tool=$work/imap-message-bench-$n
  # shellcheck disable=SC2046 # pkg-config prints several words
  cc -O2 -g -std=gnu11 -o "$tool" "$here/imap-message-bench.c" \
    -I"$top/src/servers" -I"$top/src/common" \
    "$build/src/servers/libimap-message.a" "$build/src/common/libmailwire.a" \
    $(pkg-config --cflags --libs gmime-3.0 gio-2.0 gnutls)
  echo "== $build"
  "$tool" --repeat "$REPEAT" "$work/small/cur" "$work/large/cur"
done
