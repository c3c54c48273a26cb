#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vulnerable-server.py: lab 5's STARTTLS server with the two classic
mistakes, for contrast with mw-smtpd. Broken on purpose; listens on
127.0.0.1 only, keeps no mail; never run it anywhere else. It is not a
mode of mw-smtpd and never will be.

  --injection keep     octets pipelined after STARTTLS stay in the input
                       buffer and are run once TLS is up, answered over TLS
                       (CVE-2011-0411, Postfix before 2.8.4 and others)
  --injection discard  they are thrown away, as RFC 3207 §4 wants
  --auth clear         AUTH PLAIN LOGIN is offered before TLS too
  --auth tls           only after TLS (RFC 4954 §4, RFC 8314 §3)

  vulnerable-server.py --port N --cert CERT --key KEY [--injection ..] [--auth ..]
"""
import argparse
import socket
import ssl
import sys
import threading


class Session:
    def __init__(self, sock, args, context):
        self.sock, self.args, self.context = sock, args, context
        self.buffer, self.tls = b"", False

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def lines(self):
        while True:
            while b"\r\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\r\n", 1)
                yield line.decode(errors="replace")
            data = self.sock.recv(4096)
            if not data:
                return
            self.buffer += data

    def ehlo(self, name):
        offers = ["PIPELINING", "STARTTLS"] if not self.tls else ["PIPELINING"]
        if self.tls or self.args.auth == "clear":
            offers.append("AUTH PLAIN LOGIN")
        self.send(f"250-vulnerable server greets {name}")
        for i, word in enumerate(offers):
            self.send(("250 " if i == len(offers) - 1 else "250-") + word)

    def starttls(self):
        self.send("220 ready to start TLS")
        if self.args.injection == "discard":
            self.buffer = b""
        # the mistake: self.buffer, read in clear, is kept and run over TLS
        self.sock = self.context.wrap_socket(self.sock, server_side=True)
        self.tls = True

    def run(self):
        self.sock.settimeout(30)
        self.send("220 vulnerable server (lab 5, STARTTLS) ready")
        for line in self.lines():
            verb = line.split(" ", 1)[0].upper()
            print(f"{'tls' if self.tls else 'clear'}: {line}", flush=True)
            if verb == "EHLO":
                self.ehlo(line[5:].strip() or "?")
            elif verb == "STARTTLS" and not self.tls:
                self.starttls()
            elif verb == "QUIT":
                self.send("221 bye")
                return
            elif verb in ("NOOP", "RSET", "MAIL", "RCPT"):
                self.send("250 ok")
            else:
                self.send("502 not implemented here")


def serve(conn, args, context):
    try:
        Session(conn, args, context).run()
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--injection", choices=("keep", "discard"), default="keep")
    parser.add_argument("--auth", choices=("clear", "tls"), default="clear")
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))  # loopback only, always
    listener.listen(16)
    print(f"vulnerable-server: listening on 127.0.0.1:{listener.getsockname()[1]}",
          flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, args, context), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
