#!/bin/sh
# SPDX-License-Identifier: MIT
# ask-dovecot.sh: what Dovecot answers for one message, the reference the
# expectations of test-imap-message.c were taken from (Dovecot 2.3.19,
# Debian 12 "apt-get install dovecot-imapd"). Runs Dovecot's imap binary
# directly, preauthenticated, on a Maildir holding only that message; run
# it as root (Dovecot drops to the user "nobody").
#
#   ./ask-dovecot.sh nested-rfc822.eml 'FETCH 1 (BODYSTRUCTURE BODY[2.HEADER])'
#   ./ask-dovecot.sh search-latin1-base64.eml 'SEARCH TEXT "réunion"'
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 MESSAGE.eml 'COMMAND'" >&2
  exit 2
fi
message=$1
command=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/Maildir/cur" "$dir/Maildir/new" "$dir/Maildir/tmp"
cp "$message" "$dir/Maildir/cur/1.eml:2,"
cat > "$dir/dovecot.conf" <<EOF
mail_location = maildir:$dir/Maildir
log_path = /dev/null
protocols = imap
ssl = no
mail_uid = nobody
mail_gid = nogroup
EOF
chown -R nobody:nogroup "$dir/Maildir"
chmod 755 "$dir"
printf 'a SELECT INBOX\r\nb %s\r\nc LOGOUT\r\n' "$command" |
  USER=nobody HOME="$dir" /usr/lib/dovecot/imap -c "$dir/dovecot.conf" |
  sed -n '/^a OK/,/^b /p' | sed 1d
