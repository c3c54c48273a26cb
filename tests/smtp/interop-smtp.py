#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# interop-smtp.py: Python's smtplib, unchanged, against mw-smtpd:
#   1. plain SMTP on the MTA port (RFC 5321), relaying refused (550 5.7.1)
#   2. submission: STARTTLS (RFC 3207), then AUTH PLAIN and AUTH LOGIN
#      (RFC 4954), then mail; AUTH refused before TLS
#   3. implicit TLS submission (RFC 8314) with AUTH
# Run by test-smtpd-interop, which then checks the Maildirs. Exits 0 when
# every step did what it should; prints what went wrong otherwise.
import argparse
import email.message
import smtplib
import ssl
import sys


def message(subject, sender, recipient):
    msg = email.message.EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg.set_content("sent by python smtplib: " + subject + "\n")
    return msg


def plain_mta(args):
    with smtplib.SMTP(args.host, args.smtp, timeout=20) as smtp:
        code, _ = smtp.ehlo("python.example")
        assert code == 250, code
        assert smtp.has_extn("pipelining") and smtp.has_extn("size")
        assert not smtp.has_extn("auth"), "AUTH offered on the MTA port"
        refused = smtp.send_message(message("plain", "py@b.example",
                                            "alice@example.test"))
        assert refused == {}, refused
        # No open relay: a remote recipient is refused without AUTH.
        try:
            smtp.sendmail("py@b.example", ["someone@elsewhere.example"],
                          "Subject: relay\r\n\r\nno\r\n")
            raise AssertionError("relayed without AUTH")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["someone@elsewhere.example"]
            assert code == 550 and text.startswith(b"5.7.1"), (code, text)
        # RFC 6531: smtplib uses SMTPUTF8 by itself for a UTF-8 sender.
        assert smtp.has_extn("smtputf8")
        refused = smtp.send_message(message("utf8 gr\u00fc\u00dfe",
                                            "j\u00f6rg@b.example",
                                            "alice@example.test"))
        assert refused == {}, refused
        # The null reverse-path (bounces) is accepted.
        smtp.sendmail("", ["alice@example.test"],
                      "Subject: bounce\r\n\r\nnull sender\r\n")


def submission(args, context):
    with smtplib.SMTP(args.host, args.submission, timeout=20) as smtp:
        smtp.ehlo("python.example")
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth"), "AUTH offered before TLS"
        try:
            smtp.login("alice", "alice-secret")
            raise AssertionError("login worked before TLS")
        except smtplib.SMTPNotSupportedError:
            pass
        smtp.starttls(context=context)
        smtp.ehlo("python.example")
        assert smtp.has_extn("auth")
        try:
            smtp.login("alice", "wrong")
            raise AssertionError("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e.smtp_code
        smtp.login("alice", "alice-secret")  # smtplib picks PLAIN
        smtp.send_message(message("submission", "alice@example.test",
                                  "bob@example.test"))
    with smtplib.SMTP(args.host, args.submission, timeout=20) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo("python.example")
        smtp.user, smtp.password = "bob", "bob-secret"
        code, _ = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        assert code == 235, code
        smtp.send_message(message("login", "bob@example.test",
                                  "bob@example.test"))


def implicit_tls(args, context):
    with smtplib.SMTP_SSL(args.host, args.smtps, context=context,
                          timeout=20) as smtp:
        smtp.ehlo("python.example")
        assert not smtp.has_extn("starttls")
        smtp.login("alice", "alice-secret")
        smtp.send_message(message("smtps", "alice@example.test",
                                  "bob@example.test"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp", type=int, required=True)
    parser.add_argument("--submission", type=int, required=True)
    parser.add_argument("--smtps", type=int, required=True)
    parser.add_argument("--cafile", required=True)
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.cafile)
    for step in (lambda: plain_mta(args),
                 lambda: submission(args, context),
                 lambda: implicit_tls(args, context)):
        step()
    print("interop-smtp: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
