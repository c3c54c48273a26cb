#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vulnerable-server.py: lab 7's deliberately broken SMTP server, for
contrast with mw-smtpd. DO NOT run it anywhere but on loopback: it listens
on 127.0.0.1 only, keeps nothing, and exists to be probed.

  vulnerable-server.py [--port N] [--ends NAMES] [--bare accept|refuse]
                       [--relay open|closed]

Its two mistakes, on by default:
  --ends    the end-of-data look-alikes it also takes as the end of the text
            (comma-separated names of labkit.SMUGGLING_ENDS, "all" or
            "none"; CRLF . CRLF always ends it). RFC 5321 §4.1.1.4 allows
            only CRLF . CRLF: a server that takes "\\n.\\n" reads what follows
            as commands, and a message can hide a second one (CVE-2023-51764).
  --relay   open: RCPT to any domain is accepted without authentication
            (RFC 5321 §7.1, an open relay); closed: only lab.test.
--bare says what becomes of a text with a bare LF or CR that ended nothing:
accepted (250, as many servers do) or refused (554, as mw-smtpd does).

It prints "vulnerable-server: listening on 127.0.0.1:PORT", then one line
per message it accepts ("accepted: from <a> to <b> subject ...") on stdout.
Lines of commands may end in LF or CRLF (another laxity); one connection
at a time.
"""
import argparse
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labkit import DOMAIN, SMUGGLING_ENDS  # noqa: E402

CRLF_END = b"\r\n.\r\n"


class Session:
    def __init__(self, conn, args):
        self.conn, self.args, self.buffer = conn, args, b""
        self.ends = [CRLF_END] + [SMUGGLING_ENDS[n] for n in args.ends]
        self.sender, self.recipients, self.greeted = None, [], False

    def reply(self, text):
        self.conn.sendall(text.encode() + b"\r\n")

    def fill(self):
        data = self.conn.recv(65536)
        if not data:
            raise EOFError
        self.buffer += data

    def command(self):
        while b"\n" not in self.buffer:  # the laxity: LF alone ends a command
            self.fill()
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def text(self):
        """The text up to the first end it believes in, without the line
        end before the dot; the rest stays in the buffer, to be read as
        commands."""
        self.buffer = b"\r\n" + self.buffer  # the text starts on a new line
        while True:
            found = [(self.buffer.find(e), e) for e in self.ends if e in self.buffer]
            if found:
                at, end = min(found, key=lambda f: (f[0], -len(f[1])))
                text, self.buffer = self.buffer[2:at], self.buffer[at + len(end):]
                if text.endswith(b"\r"):
                    text = text[:-1]  # "\r\n.\n" taken as "\n.\n": its CR ends a line
                if end == b"\r\n.\r" and self.buffer.startswith(b"\n"):
                    self.buffer = self.buffer[1:]  # it was CRLF . CRLF after all
                return text
            self.fill()

    def data(self):
        self.reply("354 go ahead, end with <CRLF>.<CRLF> (or so I think)")
        text = self.text()
        bare = re.search(rb"(?<!\r)\n|\r(?!\n)", text)
        if bare and self.args.bare == "refuse":
            self.reply("554 5.6.0 bare LF or CR in the text")
        else:
            subject = re.search(rb"(?im)^subject: *([^\r\n]*)", text)
            print(f"accepted: from <{self.sender}> to "
                  + ", ".join(f"<{r}>" for r in self.recipients)
                  + (f" subject {subject.group(1).decode(errors='replace')}" if subject else ""),
                  flush=True)
            self.reply("250 2.0.0 message accepted")
        self.sender, self.recipients = None, []

    def serve(self):
        self.reply(f"220 mx.{DOMAIN} ESMTP lab 7's vulnerable server (loopback only)")
        while True:
            line = self.command()
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            path = re.match(r"(?i)(FROM|TO): *<([^<> ]*)>", arg)
            if verb in ("EHLO", "HELO"):
                self.greeted, self.sender, self.recipients = True, None, []
                self.reply(f"250 mx.{DOMAIN}")
            elif verb == "MAIL" and path and self.greeted and self.sender is None:
                self.sender = path.group(2)
                self.reply("250 2.1.0 sender OK")
            elif verb == "RCPT" and path and self.sender is not None:
                address = path.group(2)
                local = address.lower().endswith("@" + DOMAIN)
                if local or self.args.relay == "open":
                    self.recipients.append(address)
                    self.reply("250 2.1.5 recipient OK" + ("" if local else ", will relay"))
                else:
                    self.reply("550 5.7.1 relaying denied")
            elif verb == "DATA" and self.recipients:
                self.data()
            elif verb == "RSET":
                self.sender, self.recipients = None, []
                self.reply("250 2.0.0 reset")
            elif verb == "NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif verb in ("MAIL", "RCPT", "DATA"):
                self.reply("503 5.5.1 bad sequence of commands")
            else:
                self.reply("500 5.5.2 command not recognized")


def names(text):
    if text == "all":
        return list(SMUGGLING_ENDS)
    if text == "none":
        return []
    chosen = text.split(",")
    for name in chosen:
        if name not in SMUGGLING_ENDS:
            raise argparse.ArgumentTypeError(f"{name}: not one of {', '.join(SMUGGLING_ENDS)}")
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=10726)
    parser.add_argument("--ends", type=names, default=list(SMUGGLING_ENDS))
    parser.add_argument("--bare", choices=("accept", "refuse"), default="accept")
    parser.add_argument("--relay", choices=("open", "closed"), default="open")
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))  # loopback only, always
    listener.listen(8)
    print(f"vulnerable-server: listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.settimeout(60)
        try:
            Session(conn, args).serve()
        except (EOFError, OSError):
            pass
        conn.close()


if __name__ == "__main__":
    main()
