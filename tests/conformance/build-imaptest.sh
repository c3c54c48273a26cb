#!/usr/bin/env bash
# build-imaptest.sh [DIR]: builds Dovecot's imaptest (the IMAP compliance and
# stress tester, MIT licence) from imaptest-release-2.3.tar.gz beside this
# script into DIR (default: $MESON_BUILD_ROOT/imaptest), once: when DIR
# already holds a build of this tarball by this script it only prints the paths.
# Prints two lines: the imaptest binary, then the directory of its scripted
# tests (and default.mbox).
#
#   tests/conformance/build-imaptest.sh build/imaptest
#   ninja -C build build-imaptest      # the same, into build/imaptest
#
# Needs libdovecot's headers and the autotools: the Debian packages missing
# of dovecot-dev autoconf automake libtool pkg-config make gcc are installed
# with apt-get when running as root (otherwise it prints the line to run).
# Several callers at once are fine: the build holds a lock on DIR/.lock.
#
# The snapshot needs one patch for Debian 12's libdovecot (2.3.19), whose
# imap_parser_create() takes a fourth argument (params): the three calls in
# src/commands.c, src/imap-client.c and src/test-parser.c get ", NULL".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tarball=$here/imaptest-release-2.3.tar.gz
dir=${1:-${MESON_BUILD_ROOT:?give a directory or set MESON_BUILD_ROOT}/imaptest}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=$dir/imaptest/src/imaptest
tests=$dir/imaptest/src/tests
stamp=$dir/imaptest/.built-from

die() { echo "build-imaptest: $*" >&2; exit 1; }

# a build is current when it was made from this tarball by this script
want=$(cat "$tarball" "$here/build-imaptest.sh" | sha256sum | cut -d' ' -f1)
built() { [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }

if ! built; then
  exec 9>"$dir/.lock"
  flock 9
  if ! built; then   # another caller may have built it while we waited
    need=()
    for p in dovecot-dev autoconf automake libtool pkg-config make gcc; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
      [ "$(id -u)" -eq 0 ] \
        || die "missing Debian packages; run: sudo apt-get install -y ${need[*]}"
      echo "build-imaptest: installing ${need[*]}" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >"$dir/apt.log" 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -q "${need[@]}" >"$dir/apt.log" 2>&1; } \
        || die "apt-get failed; see $dir/apt.log"
    fi
    echo "build-imaptest: building imaptest into $dir (about a minute)" >&2
    work=$dir/imaptest.tmp
    rm -rf "$work" "$dir/imaptest"
    mkdir -p "$work"
    tar -xzf "$tarball" -C "$work"
    src=$work/imaptest
    files=(src/commands.c src/imap-client.c src/test-parser.c)
    (cd "$src" && sed -i 's/imap_parser_create(\(.*\), (size_t)-1);/imap_parser_create(\1, (size_t)-1, NULL);/' \
      "${files[@]}")
    [ "$(cd "$src" && cat "${files[@]}" | grep -c '(size_t)-1, NULL);')" = 3 ] \
      || die "the Debian 12 patch did not apply to the three imap_parser_create() calls"
    log=$src/build.log
    (cd "$src" && ./autogen.sh && ./configure --with-dovecot=/usr/lib/dovecot LDFLAGS=-Wl,-rpath,/usr/lib/dovecot \
       && make -j"$(nproc)") >"$log" 2>&1 \
      || { tail -30 "$log" >&2; die "build failed; see $log"; }
    # libdovecot.so.0 is in /usr/lib/dovecot, outside the loader's path: the
    # rpath above lets the binary run as it is. The Makefiles record $work,
    # the binary does not.
    "$src/src/imaptest" --help >/dev/null || die "the built imaptest does not run"
    mv "$src" "$dir/imaptest"
    rm -rf "$work"
    echo "$want" >"$stamp"
  fi
  exec 9>&-
fi
echo "$bin"
echo "$tests"
