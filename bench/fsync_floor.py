#!/usr/bin/env python3
"""bench/fsync_floor.py DIR N CONC SIZE: the machine's fsync floor for Maildir
delivery, on the filesystem of DIR. CONC threads each write their share of N
files of SIZE octets the way a careful MTA must (tmp/NAME written and fsynced,
renamed into new/, new/ fsynced) and nothing else: no SMTP, no parsing. Prints
"floor n=N conc=C size=S msg_s=R"; no server can deliver durably faster than
this on this disk, so smtp-bench.sh reports each server's rate against it.
fsync releases the GIL, so the threads' fsyncs overlap as a server's do.
"""
import os
import sys
import tempfile
import threading
import time


def writer(root, count, size, tag):
    data = b"x" * (size - 2) + b"\r\n"
    tmp, new = os.path.join(root, "tmp"), os.path.join(root, "new")
    for i in range(count):
        name = f"{tag}.{i}"
        path = os.path.join(tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(path, os.path.join(new, name))
        dfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, n, conc, size = sys.argv[1], *(int(x) for x in sys.argv[2:])
    with tempfile.TemporaryDirectory(prefix="fsync-floor.", dir=base) as root:
        for sub in ("tmp", "new"):
            os.mkdir(os.path.join(root, sub))
        shares = [n // conc + (1 if k < n % conc else 0) for k in range(conc)]
        threads = [threading.Thread(target=writer, args=(root, m, size, k))
                   for k, m in enumerate(shares) if m > 0]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    print(f"floor n={n} conc={conc} size={size} msg_s={n / elapsed:.1f}")


if __name__ == "__main__":
    main()
