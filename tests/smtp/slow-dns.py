#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A DNS server that answers late: a UDP proxy in front of a real one.

slow-dns.py UPSTREAM_PORT DELAY LOG

Listens on 127.0.0.1, on a port of the kernel's choosing, and prints
"listening PORT" once it does. Every query is passed to the server on
127.0.0.1:UPSTREAM_PORT after DELAY seconds, and its answer sent back;
LOG gets "got N octets" for each query as it arrives and "delayed N
octets" as its answer goes back. It stops by itself after
60 s, so a test that dies leaves nothing behind for long (test-relay-dns
stops it by PID before that).
"""

import socket
import sys
import threading
import time

LIFETIME = 60  # seconds


def relay(listener, query, client, upstream_port, delay, log, lock):
    time.sleep(delay)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
        upstream.settimeout(5)
        upstream.sendto(query, ("127.0.0.1", upstream_port))
        try:
            answer, _ = upstream.recvfrom(65535)
        except socket.timeout:
            return
    listener.sendto(answer, client)
    with lock:
        log.write("delayed %d octets\n" % len(query))
        log.flush()


def main():
    upstream_port, delay, log_path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    print("listening %d" % listener.getsockname()[1], flush=True)
    lock = threading.Lock()
    end = time.monotonic() + LIFETIME
    with open(log_path, "a") as log:
        while time.monotonic() < end:
            listener.settimeout(max(0.1, end - time.monotonic()))
            try:
                query, client = listener.recvfrom(65535)
            except socket.timeout:
                break
            with lock:
                log.write("got %d octets\n" % len(query))
                log.flush()
            threading.Thread(
                target=relay,
                args=(listener, query, client, upstream_port, delay, log, lock),
                daemon=True,
            ).start()


if __name__ == "__main__":
    main()
