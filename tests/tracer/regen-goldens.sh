#!/bin/sh
# SPDX-License-Identifier: MIT
# regen-goldens.sh BUILD_DIR: rewrites tests/tracer/*.out from cases.txt.
# Review the diff (git diff tests/tracer) before committing: the goldens
# are only as right as the person who read them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tracer=$(cd "${1:?usage: regen-goldens.sh BUILD_DIR}" && pwd)/src/tracer/mw-trace
# --keylog=FILE options name files beside the captures
cd "$here"
grep -v '^#' "$here/cases.txt" | grep -v '^$' | while read -r name options; do
    capture=${name%%.*}.pcap
    [ -e "$here/$capture" ] || capture=${name%%.*}.pcapng
    # shellcheck disable=SC2086
    "$tracer" --color=never -r "$here/$capture" $options > "$here/$name.out"
    echo "wrote $name.out"
done
