#!/usr/bin/env bash
# bench/run.sh [smtp|pop3|imap|imap-client|trace|trace-tls|all]: mailwire against real peers, in the same run.
# Called by `./run bench`. Needs root (Postfix and Dovecot run from private
# configs through bench/peers.sh). Everything it uses is in this directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-all}" in
  smtp) "$here/smtp-bench.sh" ;;
  pop3) "$here/pop3-bench.sh" ;;
  imap) "$here/imap-bench.sh" ;;
  imap-client) "$here/imap-client-bench.sh" ;;
  trace) "$here/trace-bench.sh"; "$here/trace-tls-bench.sh" ;;
  trace-tls) "$here/trace-tls-bench.sh" ;;
  all) for b in smtp pop3 imap imap-client trace trace-tls; do
         [ -x "$here/$b-bench.sh" ] && "$here/$b-bench.sh"
       done ;;
  *) echo "usage: bench/run.sh [smtp|pop3|imap|imap-client|trace|trace-tls|all]" >&2; exit 2 ;;
esac
