#!/usr/bin/env bash
# fuzz/run-fuzz.sh TARGET|all SECONDS: what `./run fuzz` does once clang is
# installed. Builds the libFuzzer targets in build-fuzz/ (clang, ASan, UBSan,
# the whole of libmailwire instrumented), runs each one for SECONDS
# (bounded: -max_total_time, -rss_limit_mb, -timeout; one job), and prints
# per target: executions, executions per second, coverage (edges, features),
# corpus size, peak memory, and any crash with the path of its reproducer.
# New inputs go to build-fuzz/fuzz-corpus/TARGET (the seeds in
# fuzz/corpus/TARGET are only read); crashes to build-fuzz/fuzz-crashes/TARGET.
# FUZZ_JOBS=N runs N targets at once (CI: 2, one per core); the table is
# printed in the targets' order when all are done.
# Exit status 1 if any target crashed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
target=${1:-all}
seconds=${2:-60}
dir=build-fuzz
# the targets, as fuzz/meson.build names them
targets=(mail-line smtp-proto pop3-proto imap-args imap-assembler imap-seqset
  imap-section imap-date imap-mutf7 imap-proto imap-message mail-config
  mail-users mail-sasl maildir trace-packet tcp-flow trace-session trace-pcap
  trace-file tls-decrypt)

die() { echo "run fuzz: $*" >&2; exit 2; }

[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || die "SECONDS must be a positive number"
if [ "$target" != all ]; then
  [[ " ${targets[*]} " == *" $target "* ]] || die "no target $target; one of: all ${targets[*]}"
  targets=("$target")
fi

# the dictionary of each target's protocol (fuzz/dict/)
dictionary() {
  case $1 in
    smtp-proto) echo smtp ;;
    pop3-proto) echo pop3 ;;
    imap-*) echo imap ;;
    mail-config) echo config ;;
    mail-users | mail-sasl) echo users ;;
    maildir) echo maildir ;;
    trace-session | tcp-flow | trace-pcap | mail-line) echo mail ;;
    *) echo "" ;;
  esac
}

sanitize='-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g'
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang CFLAGS="$sanitize" LDFLAGS='-fsanitize=address,undefined' \
    meson setup "$dir" -Dfuzz=true -Db_lundef=false >/dev/null \
    || die "meson setup $dir failed"
fi
log=$(ninja -j2 -C "$dir" "${targets[@]/#/fuzz/fuzz-}" 2>&1) \
  || { echo "$log" >&2; die "build failed"; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# fuzz_one NAME: runs one target, writes its table row to its work
# directory's "result"; status 1 if it crashed or died
fuzz_one() {
  local name=$1 status=0 work corpus crashes args dict out cov edges features units artifact again why result
  work=$dir/fuzz-work/$name
  corpus=$dir/fuzz-corpus/$name
  crashes=$dir/fuzz-crashes/$name
  mkdir -p "$work" "$corpus" "$crashes"
  rm -f "$work"/fuzz-*.log "$work/result"
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -jobs=1
    -print_final_stats=1 -artifact_prefix="$top/$crashes/")
  dict=$(dictionary "$name")
  [ -n "$dict" ] && args+=(-dict="$top/fuzz/dict/$dict.dict")
  # -jobs=1 writes the fuzzer's output to fuzz-0.log in its directory;
  # the hard limit is a backstop for a fuzzer that does not stop itself
  (cd "$work" && timeout $((seconds + 120)) "$top/$dir/fuzz/fuzz-$name" "${args[@]}" \
    "$top/$corpus" "$top/fuzz/corpus/$name" >/dev/null 2>&1) || true
  out=$work/fuzz-0.log
  [ -f "$out" ] || { printf '%-15s no output\n' "$name" >"$work/result"; return 1; }
  stat() { sed -n "s/^stat::$1: *//p" "$out" | tail -1; }
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$out" | tail -1 || true)
  edges=$(echo "$cov" | awk '{print $2}')
  features=$(echo "$cov" | awk '{print $4}')
  units=$(echo "$cov" | awk '{print $6}')
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out" | tail -1)
  if [[ $artifact == */slow-unit-* ]]; then
    # libFuzzer keeps its slowest input (-report_slow_units, 10 s): on a
    # loaded machine that is often the load, not the input, so time the
    # input again alone; -timeout would have made a real hang a crash
    again=$( { TIMEFORMAT=%R; time "$top/$dir/fuzz/fuzz-$name" -runs=3 \
      "$artifact" >/dev/null 2>&1; } 2>&1)
    result="ok; slowest input $(stat slowest_unit_time_sec) s, ${again:-?} s for 3 runs alone: ${artifact#"$top/"}"
  elif [ -n "$artifact" ]; then
    # what went wrong: a GLib assertion, else the sanitizer's summary
    why=$( (sed -n 's/^Bail out! //p' "$out"; sed -n 's/^SUMMARY: //p' "$out") | head -1 | cut -c1-160 || true)
    result="CRASH $why; reproducer: ${artifact#"$top/"}; log: $out"
    status=1
  elif ! grep -q '^stat::number_of_executed_units' "$out"; then
    result="DIED without a reproducer: $(grep -v '^#\|^INFO\|^$' "$out" | tail -2 | tr '\n' ' ' | cut -c1-160 || true); log: $out"
    status=1
  else
    result=ok
  fi
  printf '%-15s %11s %8s %7s %7s %6s %6s  %s\n' "$name" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "${edges:-?}" "${features:-?}" "${units:-?}" \
    "$(stat peak_rss_mb)" "$result" >"$work/result"
  return $status
}

header() {
  printf '%-15s %11s %8s %7s %7s %6s %6s  %s\n' target executions exec/s edges features corpus rss_mb result
}
row() { cat "$dir/fuzz-work/$1/result" 2>/dev/null || printf '%-15s no result\n' "$1"; }

jobs=${FUZZ_JOBS:-1}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "FUZZ_JOBS must be a positive number"
crashed=0
if [ "$jobs" -eq 1 ]; then
  # one at a time: each row as soon as its target is done
  header
  for name in "${targets[@]}"; do
    fuzz_one "$name" || crashed=1
    row "$name"
  done
else
  pids=()
  for name in "${targets[@]}"; do
    # at most $jobs at once: wait for one to end before starting the next
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    fuzz_one "$name" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || crashed=1; done
  header
  for name in "${targets[@]}"; do row "$name"; done
fi
exit $crashed
