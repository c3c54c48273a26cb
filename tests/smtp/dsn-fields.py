#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reads a delivery status notification (RFC 3464 inside an RFC 6522
multipart/report) with Python's email package and prints its fields, one
"name=value" a line, for test-relay-dsn.c:

  header.Subject=...            the notice's own header fields
  message.Reporting-MTA=...     the per-message fields (RFC 3464 §2.2)
  recipient.N.Action=...        the per-recipient fields (§2.3), N from 0
  recipients=N
  returned.type=...             the third part (RFC 6522 §3)
  returned.has-marker=yes|no    whether MARKER is in that part

Usage: dsn-fields.py FILE [MARKER]. Exits 1 when FILE is not a DSN.
"""
import email
import email.policy
import sys


def flat(value):
    return " ".join(str(value).split())


def main():
    with open(sys.argv[1], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    marker = sys.argv[2] if len(sys.argv) > 2 else None
    if (msg.get_content_type() != "multipart/report"
            or msg.get_param("report-type") != "delivery-status"):
        print("not a multipart/report of delivery-status", file=sys.stderr)
        return 1
    parts = msg.get_payload()
    if len(parts) != 3 or parts[1].get_content_type() != "message/delivery-status":
        print("not three parts with message/delivery-status second",
              file=sys.stderr)
        return 1
    for name in ("From", "To", "Subject", "Auto-Submitted", "Message-ID"):
        if msg[name] is not None:
            print(f"header.{name}={flat(msg[name])}")
    groups = parts[1].get_payload()
    for name, value in groups[0].items():
        print(f"message.{name}={flat(value)}")
    for n, group in enumerate(groups[1:]):
        for name, value in group.items():
            print(f"recipient.{n}.{name}={flat(value)}")
    print(f"recipients={len(groups) - 1}")
    returned = parts[2]
    print(f"returned.type={returned.get_content_type()}")
    if returned.get_content_type() == "message/rfc822":
        text = returned.get_payload()[0].as_string()
    else:
        text = returned.get_payload(decode=True).decode("utf-8", "replace")
    if marker is not None:
        print(f"returned.has-marker={'yes' if marker in text else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
