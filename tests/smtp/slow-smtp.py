#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A slow next hop for test-relay-parallel.c: accepts TCP on 127.0.0.1 at
once, then says nothing until the file RELEASE exists (the test creates
it), then greets and takes one message per connection with the least
SMTP (RFC 5321 §4.1) there is.

Usage: slow-smtp.py RELEASE LOG. Prints its port on stdout. Appends to LOG
one line per event, flushed at once:
  open N       a connection came; N are open now (this one included)
  delivered    a message was taken (the 250 after the text)
Stops by itself after 60 s, and when its parent (the test) dies.
"""
import ctypes
import os
import signal
import socket
import sys
import threading
import time

RELEASE = sys.argv[1]
LOG = open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()
open_now = 0


def log(line):
    with lock:
        LOG.write(line + "\n")


def serve(conn):
    global open_now
    with lock:
        open_now += 1
        count = open_now
    log(f"open {count}")
    try:
        while not os.path.exists(RELEASE):
            time.sleep(0.05)
        f = conn.makefile("rwb", buffering=0)
        f.write(b"220 slow.test ESMTP, at last\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                f.write(b"250 slow.test\r\n")
            elif verb == b"DATA":
                f.write(b"354 go on\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                log("delivered")
                f.write(b"250 2.0.0 taken\r\n")
            elif verb == b"QUIT":
                f.write(b"221 2.0.0 bye\r\n")
                return
            else:
                f.write(b"250 2.0.0 ok\r\n")
    finally:
        with lock:
            open_now -= 1
        conn.close()


def main():
    # PR_SET_PDEATHSIG: die with the test, even when it aborts.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    signal.alarm(60)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
