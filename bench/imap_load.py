#!/usr/bin/env python3
"""bench/imap_load.py MODE HOST PORT [options]: IMAP load for bench/imap-bench.sh.

Raw sockets (bench/pull_load.py's Raw reader, with a literal skip that
discards instead of buffering), so one client process can be pointed at
mw-imapd and at Dovecot and time both the same way.

Modes:
  ops          OPS (--ops, comma separated) on --user's INBOX, each run one
               session: LOGIN, SELECT (untimed unless the op is select),
               the timed command, LOGOUT. The time is from sending the
               command to reading its tagged OK.
                 select       SELECT INBOX
                 fetch-env    FETCH 1:* (FLAGS ENVELOPE)
                 fetch-bs     FETCH 1:* (BODYSTRUCTURE)
                 fetch-body   FETCH 1:* BODY.PEEK[]
                 search-text  UID SEARCH TEXT "--text"
                 search-from  SEARCH FROM "--from"
               --warmup runs first (unmeasured), then --repeat runs;
               --reset PATH (repeatable, globs) deletes those files before
               every run (a first SELECT with no index or uidlist).
  idle-latency one IDLE session on --user's INBOX; --count deliveries,
               each either sent over SMTP (--smtp HOST:PORT --rcpt ADDR,
               time from reading the 250 reply to DATA) or written into
               --mda-maildir the way an MDA does (tmp/, fsync, rename to
               new/, fsync new/; time from the end of that), up to reading
               the untagged EXISTS. --gap seconds between one EXISTS and
               the next delivery.
  idle-rss     --sessions sessions: LOGIN, SELECT INBOX, IDLE (pipelined),
               waits for every "+", then reads the RSS (and PSS) of the
               server's processes: --server-pid itself for mailwire (minus
               its RSS before the sessions), or with --dovecot-master its
               "imap" children, summed.

Output: one "run ..." line per measured run and one "summary ..." line per
op or mode (key=value; medians, and for latency p99). client_cpu_s next to
seconds shows whether the client was the bottleneck. Every loop is bounded
(counts from the server's replies, --timeout on every socket read, and
--deadline on waits).
"""
import argparse
import glob
import os
import re
import select
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from cputree import snapshot, tree_cpu  # noqa: E402
from pull_load import Raw  # noqa: E402


class Conn(Raw):
    """Raw plus IMAP commands; skip() drops literal octets without keeping them."""

    def skip(self, n):
        have = len(self.buf) - self.pos
        if have >= n:
            self.pos += n
            return
        n -= have
        del self.buf[:]
        self.pos = 0
        while n > 0:
            k = self.s.recv_into(self.chunk)
            if k == 0:
                raise ConnectionError("server closed the connection")
            if k <= n:
                n -= k
            else:
                self.buf += self.view[n:k]
                n = 0

    def response(self):
        """One whole response: first line (literals skipped), literal octets."""
        ln = self.line()
        first = ln
        lit = 0
        while ln.endswith(b"}"):
            i = ln.rfind(b"{")
            if i < 0:
                break
            k = int(ln[i + 1:-1].rstrip(b"+"))
            self.skip(k)
            lit += k
            ln = self.line()
        return first, lit

    def command(self, tag, text, on_untagged=None):
        """Sends TAG TEXT; returns (untagged count, literal octets, tagged line)."""
        self.send(f"{tag} {text}\r\n".encode())
        return self.finish(tag, on_untagged)

    def finish(self, tag, on_untagged=None):
        t = tag.encode() + b" "
        n = lit = 0
        while True:
            first, k = self.response()
            lit += k
            if first.startswith(t):
                if not first.startswith(t + b"OK"):
                    raise RuntimeError(f"{tag}: {first[:200]!r}")
                return n, lit, first
            if first.startswith(b"* "):
                n += 1
                if on_untagged:
                    on_untagged(first)


def login(a):
    c = Conn(a.host, a.port, a.timeout)
    g = c.line()
    if not g.startswith(b"* OK"):
        raise RuntimeError(f"greeting: {g!r}")
    c.command("l", f'LOGIN "{a.user}" "{a.password}"')
    return c


def select_inbox(c, tag="s"):
    exists = [None]

    def seen(ln):
        if ln.endswith(b" EXISTS"):
            exists[0] = int(ln.split()[1])
    c.command(tag, "SELECT INBOX", seen)
    return exists[0]


def logout(c):
    try:
        c.command("z", "LOGOUT")
    except (ConnectionError, RuntimeError, OSError):
        pass
    c.close()


# ------------------------------------------------------------------ ops ----

def op_select(a, c):
    holder = {}

    def seen(ln):
        if ln.endswith(b" EXISTS"):
            holder["n"] = int(ln.split()[1])
    c.send(b"t SELECT INBOX\r\n")
    c.finish("t", seen)
    return holder.get("n", 0), 0, holder.get("n", 0)


def fetch(items):
    def op(a, c):
        n, lit, _ = c.command("t", f"FETCH 1:* {items}")
        return n, lit, n
    return op


def search(cmd):
    def op(a, c):
        hits = [0]

        def seen(ln):
            if ln.startswith(b"* SEARCH"):
                hits[0] += len(ln.split()) - 2
        c.command("t", cmd(a), seen)
        return a._exists, 0, hits[0]
    return op


OPS = {
    "select": op_select,
    "fetch-env": fetch("(FLAGS ENVELOPE)"),
    "fetch-bs": fetch("(BODYSTRUCTURE)"),
    "fetch-body": fetch("BODY.PEEK[]"),
    "search-text": search(lambda a: f'UID SEARCH TEXT "{a.text}"'),
    "search-from": search(lambda a: f'SEARCH FROM "{a.from_}"'),
}


def server_cpu(pids):
    if not pids:
        return 0.0
    snap = snapshot()
    return sum(sum(tree_cpu(p, snap)) for p in pids)


def one_run(a, op):
    for pattern in a.reset:
        for p in glob.glob(pattern):
            os.unlink(p)
    c = login(a)
    if op != "select":
        a._exists = select_inbox(c)
    s0 = server_cpu(a.server_pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    n, nbytes, result = OPS[op](a, c)
    dt = time.perf_counter() - t0
    ccpu = time.process_time() - c0
    scpu = server_cpu(a.server_pid) - s0
    logout(c)
    return dict(seconds=dt, msg_s=n / dt, MB_s=nbytes / dt / 1e6,
                client_cpu_s=ccpu, server_cpu_s=scpu), n, nbytes, result


def mode_ops(a):
    for op in [o.strip() for o in a.ops.split(",") if o.strip()]:
        if op not in OPS:
            raise SystemExit(f"unknown op {op}")
        for _ in range(a.warmup):
            one_run(a, op)
        rows = []
        for r in range(1, a.repeat + 1):
            time.sleep(a.pause)
            row, n, nbytes, result = one_run(a, op)
            rows.append(row)
            print(f"{a.label} run op={op} run={r} user={a.user} n={n} bytes={nbytes} "
                  f"result={result} " + " ".join(f"{k}={v:.4f}" for k, v in row.items()),
                  flush=True)
        summ = " ".join(f"{k}={statistics.median(r[k] for r in rows):.4f}" for k in rows[0])
        print(f"{a.label} summary op={op} user={a.user} runs={len(rows)} n={n} "
              f"result={result} {summ}", flush=True)


# --------------------------------------------------------- IDLE latency ----

class Lines:
    """Non-blocking line splitter for one socket, for the select() loop."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def read(self):
        data = self.s.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data
        *lines, self.buf = self.buf.split(b"\r\n")
        return lines


def smtp_reply(f):
    while True:
        ln = f.readline()
        if not ln:
            raise ConnectionError("SMTP server closed the connection")
        if ln[3:4] != b"-":
            return ln


class SmtpSender:
    def __init__(self, a):
        host, port = a.smtp.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=a.timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")
        self.rcpt = a.rcpt
        assert smtp_reply(self.f).startswith(b"220")
        self.s.sendall(b"EHLO load.client.test\r\n")
        assert smtp_reply(self.f).startswith(b"250")

    def start(self, i, body):
        """Everything up to the final dot; returns the socket to wait on."""
        for cmd, code in ((b"MAIL FROM:<load@client.test>", b"250"),
                          (f"RCPT TO:<{self.rcpt}>".encode(), b"250"),
                          (b"DATA", b"354")):
            self.s.sendall(cmd + b"\r\n")
            r = smtp_reply(self.f)
            if not r.startswith(code):
                raise RuntimeError(f"SMTP {cmd!r}: {r!r}")
        self.s.sendall(body + b".\r\n")
        # the reply is read by the select() loop, off the makefile buffer
        # (empty here: every earlier reply was read line by line)
        return self.s

    def close(self):
        try:
            self.s.sendall(b"QUIT\r\n")
            smtp_reply(self.f)
        except OSError:
            pass
        self.s.close()


def mda_deliver(maildir, i, body, uid, gid):
    name = f"{time.time():.6f}.M{i}P{os.getpid()}.mda.bench"
    tmp = os.path.join(maildir, "tmp", name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, body)
    os.fsync(fd)
    os.close(fd)
    os.chown(tmp, uid, gid)
    os.rename(tmp, os.path.join(maildir, "new", name))
    d = os.open(os.path.join(maildir, "new"), os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(d)
    os.close(d)


def message(i):
    lines = [f"From: Idle Sender <idle@client.test>",
             f"To: <{'idle'}@example.test>",
             f"Subject: idle latency {i}",
             f"Message-ID: <idle-{i}-{os.getpid()}@client.test>",
             "Date: Sun, 22 Nov 2026 02:00:00 +0000", ""]
    lines += [f"line {j} of idle message {i}" for j in range(20)]
    return ("\r\n".join(lines) + "\r\n").encode()


def pctl(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def mode_idle_latency(a):
    c = login(a)
    exists = select_inbox(c)
    c.send(b"i IDLE\r\n")
    while True:
        ln = c.line()
        if ln.startswith(b"+"):
            break
        if ln.startswith(b"i "):
            raise RuntimeError(f"IDLE: {ln!r}")
    c.s.settimeout(None)
    imap = Lines(c.s)
    # bytes already read past the "+" line by Raw belong to the select loop
    imap.buf = bytes(c.buf[c.pos:])
    sender = SmtpSender(a) if a.smtp else None
    lat = []
    exists_re = re.compile(rb"^\* (\d+) EXISTS$")
    for i in range(1, a.count + 1):
        body = message(i)
        want = exists + 1
        t250 = texists = None
        if sender:
            smtp = Lines(sender.start(i, body))
        else:
            mda_deliver(a.mda_maildir, i, body, a.uid, a.gid)
            t250 = time.perf_counter()
            smtp = None
        deadline = time.monotonic() + a.deadline
        while t250 is None or texists is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"delivery {i}: no EXISTS {want} within {a.deadline}s")
            socks = [imap.s] + ([smtp.s] if smtp and t250 is None else [])
            ready, _, _ = select.select(socks, [], [], left)
            now = time.perf_counter()
            if smtp and smtp.s in ready:
                for ln in smtp.read():
                    if ln[3:4] == b"-":
                        continue
                    if not ln.startswith(b"250"):
                        raise RuntimeError(f"DATA: {ln!r}")
                    t250 = now
            if imap.s in ready:
                for ln in imap.read():
                    m = exists_re.match(ln)
                    if m and int(m.group(1)) >= want and texists is None:
                        texists = now
                        exists = int(m.group(1))
        lat.append(texists - t250)
        time.sleep(a.gap)
    if sender:
        sender.close()
    c.s.settimeout(a.timeout)
    c.buf = bytearray(imap.buf)
    c.pos = 0
    c.send(b"DONE\r\n")
    c.finish("i")
    logout(c)
    ms = [x * 1000 for x in lat]
    print(f"{a.label} summary mode=idle-latency via={'smtp' if a.smtp else 'mda'} "
          f"count={len(ms)} median_ms={statistics.median(ms):.3f} p99_ms={pctl(ms, 99):.3f} "
          f"min_ms={min(ms):.3f} max_ms={max(ms):.3f} mean_ms={statistics.mean(ms):.3f}",
          flush=True)


# ------------------------------------------------------------ IDLE RSS ----

def proc_kb(pid, field, fname="status"):
    try:
        with open(f"/proc/{pid}/{fname}") as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def dovecot_imap_pids(master):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        if ppid == master and comm == "imap":
            pids.append(int(d))
    return pids


def memory(a):
    """(processes, RSS kB summed, PSS kB summed) of the server's session processes."""
    pids = dovecot_imap_pids(a.dovecot_master) if a.dovecot_master else a.server_pid
    return (len(pids), sum(proc_kb(p, "VmRSS") for p in pids),
            sum(proc_kb(p, "Pss", "smaps_rollup") for p in pids))


def mode_idle_rss(a):
    nproc0, rss0, pss0 = memory(a)
    conns = []
    deadline = time.monotonic() + a.deadline
    for k in range(a.sessions):
        if time.monotonic() > deadline:
            raise RuntimeError("sessions did not open in time")
        c = Conn(a.host, a.port, a.timeout)
        c.send(f'l LOGIN "{a.user}" "{a.password}"\r\ns SELECT INBOX\r\ni IDLE\r\n'.encode())
        conns.append(c)
    for c in conns:
        assert c.line().startswith(b"* OK")
        c.finish("l")
        c.finish("s")
        while not c.line().startswith(b"+"):
            pass
    time.sleep(a.settle)
    nproc, rss, pss = memory(a)
    for c in conns:
        c.send(b"DONE\r\nz LOGOUT\r\n")
    for c in conns:
        try:
            c.finish("i")
            c.finish("z")
        except (ConnectionError, RuntimeError, OSError):
            pass
        c.close()
    base = 0 if a.dovecot_master else rss0
    basep = 0 if a.dovecot_master else pss0
    n = a.sessions
    print(f"{a.label} summary mode=idle-rss sessions={n} processes={nproc} "
          f"rss_before_kb={rss0} rss_kb={rss} pss_kb={pss} "
          f"per_session_rss_kb={(rss - base) / n:.1f} per_session_pss_kb={(pss - basep) / n:.1f}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["ops", "idle-latency", "idle-rss"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--user", default="u0")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--label", default="")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--ops", default="select,fetch-env,fetch-bs,search-text,search-from")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--reset", action="append", default=[])
    ap.add_argument("--pause", type=float, default=0.0,
                    help="ops: seconds to wait before each run (untimed)")
    ap.add_argument("--text", default="005000")
    ap.add_argument("--from", dest="from_", default="Generator")
    ap.add_argument("--server-pid", type=int, action="append", default=[])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.6)
    ap.add_argument("--smtp")
    ap.add_argument("--rcpt")
    ap.add_argument("--mda-maildir")
    ap.add_argument("--uid", type=int, default=24000)
    ap.add_argument("--gid", type=int, default=24000)
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--dovecot-master", type=int)
    a = ap.parse_args()
    if a.mode == "ops":
        mode_ops(a)
    elif a.mode == "idle-latency":
        if bool(a.smtp) == bool(a.mda_maildir):
            ap.error("idle-latency needs --smtp HOST:PORT --rcpt ADDR or --mda-maildir DIR")
        mode_idle_latency(a)
    else:
        mode_idle_rss(a)


if __name__ == "__main__":
    main()
