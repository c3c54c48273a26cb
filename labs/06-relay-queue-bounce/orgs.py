#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""orgs.py: lab 6's three organisations, each an mw-smtpd of its own.

As root: network namespaces mw6-north, mw6-south, mw6-east, each with a
veth pair whose outer end (mw6-north ...) is on the bridge mw6-br in the
root namespace, 10.66.0.1-3/24; mw-trace captures north's link
(mw6-north: what north sends and receives, the relay to south included;
the bridge itself sees only what goes to and from the root namespace).
Not root: loopback only, 127.0.66.1-3, and no capture (said out loud).
Each organisation routes the other two domains with [routes]; the queue
retries fast and gives up soon ([queue] below), so a lab session sees
retries, a delivery and a bounce in minutes.

  orgs.py start WORKDIR     set up, start, print what to do; Ctrl-C ends
                            it and removes every namespace and link it made
  orgs.py cut WORKDIR ORG   ORG's link goes down (not root: its server stops)
  orgs.py restore WORKDIR ORG
                            asks the running `start` (a request file in
                            WORKDIR/.lab-state, looked at every second)
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import labkit  # noqa: E402

ORGS = [("north", "alice"), ("south", "bob"), ("east", "carol")]
SUBNET, PORT = "10.66.0", 2525
QUEUE = {"retry_min": 5, "retry_max": 20, "lifetime": 60}


def address(i, netns, subnet=SUBNET):
    return f"{subnet}.{i + 1}" if netns else f"127.0.66.{i + 1}"


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, timeout=10, capture_output=True)


class Orgs:
    """The three organisations. PREFIX names the namespaces and links
    (PREFIX-north ..., PREFIX-br) and SUBNET their addresses, so that a
    test can run its own next to a student's lab."""

    def __init__(self, work, netns=None, prefix="mw6", subnet=SUBNET):
        self.work = os.path.abspath(work)
        self.netns = (os.geteuid() == 0) if netns is None else netns
        self.prefix, self.subnet = prefix, subnet
        self.bridge = f"{prefix}-br"
        self.procs, self.made = {}, []

    def address(self, i):
        return address(i, self.netns, self.subnet)

    def link(self, name):
        """NAME's outer end of its cable, in the root namespace (capture it)."""
        return f"{self.prefix}-{name}"

    def state(self, name):
        return os.path.join(self.work, ".lab-state", name)

    def config(self, name):
        return os.path.join(self.state(name), "mailwire.conf")

    # -- the network ---------------------------------------------------------
    def make_network(self):
        if not self.netns:
            return
        ip("link", "add", self.bridge, "type", "bridge")
        self.made.append(("link", self.bridge))
        ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i, (name, _) in enumerate(ORGS):
            ns = outer = self.link(name)
            ip("netns", "add", ns)
            self.made.append(("netns", ns))
            ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.made.append(("link", outer))
            ip("link", "set", outer, "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def remove_network(self):
        for kind, name in reversed(self.made):
            cmd = ["ip", "netns", "delete", name] if kind == "netns" else \
                ["ip", "link", "delete", name]
            subprocess.run(cmd, timeout=10, capture_output=True)
        self.made = []

    # -- the servers -----------------------------------------------------------
    def write_config(self, i, name):
        routes = "".join(f"{other}.test = {self.address(j)}:{PORT}\n"
                         for j, (other, _) in enumerate(ORGS) if j != i)
        tls = "tls_cert = cert.pem\ntls_key = key.pem\n" if i == 0 else ""
        text = f"""# written by labs/06-relay-queue-bounce/orgs.py
[general]
hostname = mx.{name}.test
domains = {name}.test
state_dir = .
timeout = 20
{tls}[smtp]
listen = {self.address(i)}
port = {PORT}
submission_port = {2587 if i == 0 else -1}
smtps_port = -1
[queue]
retry_min = {QUEUE['retry_min']}
retry_max = {QUEUE['retry_max']}
lifetime = {QUEUE['lifetime']}
[routes]
{routes}[pop3]
port = -1
pop3s_port = -1
[imap]
port = -1
imaps_port = -1
"""
        os.makedirs(self.state(name), exist_ok=True)
        with open(self.config(name), "w") as f:
            f.write(text)

    def start_server(self, i, name, user):
        state = self.state(name)
        if not os.path.exists(os.path.join(state, "users")):
            pw = labkit.password_file(state)
            subprocess.run([labkit.program("mw-admin"), "--config", self.config(name), "user",
                            "add", user, "--password-file", pw], check=True,
                           stdout=subprocess.DEVNULL, timeout=30)
        if i == 0 and not os.path.exists(os.path.join(state, "cert.pem")):
            subprocess.run([labkit.program("mw-admin"), "cert", "--out",
                            os.path.join(state, "cert.pem"), "--key",
                            os.path.join(state, "key.pem"), f"mx.{name}.test",
                            self.address(i)], check=True,
                           stdout=subprocess.DEVNULL, timeout=30)
        prefix = ["ip", "netns", "exec", self.link(name)] if self.netns else []
        out = open(os.path.join(state, "mw-smtpd.out"), "w+")
        proc = subprocess.Popen(prefix + [labkit.program("mw-smtpd"), "--config",
                                          self.config(name), "--protocol-log"],
                                stdout=out, stderr=open(os.path.join(state, "mw-smtpd.log"),
                                                        "a"), cwd=state)  # a restart adds
        self.procs[name] = proc
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            out.seek(0)
            if "mw-smtpd: ready" in out.read():
                return
            time.sleep(0.05)
        raise RuntimeError(f"mw-smtpd of {name} did not start: " +
                           open(os.path.join(state, "mw-smtpd.log")).read()[-1000:])

    def start(self):
        try:
            self.make_network()
            for i, (name, user) in enumerate(ORGS):
                self.write_config(i, name)
                self.start_server(i, name, user)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = {}
        self.remove_network()

    # -- cutting one off -------------------------------------------------------
    def cut(self, name):
        """NAME's link goes down (its end of the cable is pulled). The
        others forget its hardware address, as they would after a while,
        so that their next attempt fails within seconds ("No route to
        host": nobody answers ARP) rather than waiting out TCP's SYN
        retries."""
        if self.netns:
            ip("link", "set", self.link(name), "down")
            for other, _ in ORGS:
                if other != name:
                    ip("-n", self.link(other), "neigh", "flush", "dev", "eth0")
        else:
            proc = self.procs.pop(name)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)

    def restore(self, name):
        if self.netns:
            ip("link", "set", self.link(name), "up")
        else:
            i = [n for n, _ in ORGS].index(name)
            self.start_server(i, name, ORGS[i][1])

    def keep(self):
        """What the grader reads, copied into the working copy (a new lab
        start wipes .lab-state): north's log as north.log, the newest
        bounce in alice's mailbox as bounce.eml. Returns what it copied."""
        kept = []
        log = os.path.join(self.state("north"), "mw-smtpd.log")
        if os.path.isfile(log):
            shutil.copy(log, os.path.join(self.work, "north.log"))
            kept.append("north.log")
        inbox = os.path.join(self.state("north"), "mail", "alice", "Maildir")
        bounces = [p for p in glob.glob(os.path.join(inbox, "*", "*"))
                   if b"multipart/report" in open(p, "rb").read()]
        if bounces:
            shutil.copy(max(bounces, key=os.path.getmtime), os.path.join(self.work, "bounce.eml"))
            kept.append("bounce.eml")
        return kept

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


FALLBACK = ("lab: not root, so no network namespaces: the three organisations share "
            "loopback (127.0.66.1-3), cutting one off stops its server instead of "
            "pulling its link (north's attempts then fail with 'Connection refused', "
            "not 'No route to host'), and mw-trace cannot capture, so the trace "
            "questions cannot be answered. Run as root for the real lab.")


def request_path(work):
    return os.path.join(os.path.abspath(work), ".lab-state", "request")


def request(work, verb, name):
    """`orgs.py cut|restore WORK ORG`: asks the running `start`, which
    answers in WORK/.lab-state/request.done."""
    if name not in [n for n, _ in ORGS]:
        sys.exit(f"lab: no organisation {name!r} (north, south, east)")
    path = request_path(work)
    if not os.path.isdir(os.path.dirname(path)):
        sys.exit("lab: lab 6 is not running: start it with ./run lab 6")
    done = path + ".done"
    if os.path.exists(done):
        os.unlink(done)
    with open(path + ".tmp", "w") as f:
        f.write(f"{verb} {name}\n")
    os.rename(path + ".tmp", path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not os.path.exists(done):
        time.sleep(0.1)
    if not os.path.exists(done):
        sys.exit("lab: lab 6 did not answer: is ./run lab 6 still running?")
    print(open(done).read().strip())
    return 0


def serve_request(orgs, work):
    """Does what `orgs.py cut|restore` asked for, if anything."""
    path = request_path(work)
    if not os.path.exists(path):
        return
    verb, name = open(path).read().split()
    os.unlink(path)
    try:
        getattr(orgs, verb)(name)
        how = (f"link {orgs.link(name)} " + ("down" if verb == "cut" else "up")) if orgs.netns \
            else ("server stopped" if verb == "cut" else "server started")
        answer = f"lab: {name} {'cut off' if verb == 'cut' else 'back'} ({how}) at " \
                 + time.strftime("%H:%M:%S")
    except (KeyError, subprocess.CalledProcessError, RuntimeError) as error:
        answer = f"lab: could not {verb} {name}: {error}"
    print(answer, flush=True)
    with open(path + ".done", "w") as f:
        f.write(answer + "\n")


def start(work):
    orgs = Orgs(work)
    capture, tracer = os.path.join(orgs.work, "capture.pcap"), None

    def stop(*_):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if tracer:
            tracer.stop()
        orgs.stop()
        kept = orgs.keep()
        print("\nlab: stopped the servers and removed the namespaces and links it made"
              + (f"; kept {' and '.join(kept)} in {orgs.work}" if kept else ""), flush=True)
        if tracer and tracer.problems():
            print("lab: the capture is incomplete, so it cannot be graded: "
                  + "; ".join(tracer.problems()[:3]) + ". Start ./run lab 6 again.")
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    orgs.start()
    if orgs.netns:
        try:
            tracer = labkit.Capture(capture, [PORT], interface=orgs.link("north")).start()
        except RuntimeError:
            orgs.stop()
            raise
    else:
        print(FALLBACK)
    print("lab 06: relay-queue-bounce")
    for i, (name, user) in enumerate(ORGS):
        where = f"netns {orgs.link(name)}" if orgs.netns else "loopback"
        print(f"  {name}.test: mw-smtpd on {orgs.address(i)}:{PORT} ({where}), "
              f"user {user}, config {orgs.config(name)}")
    print(f"  north's submission port {orgs.address(0)}:2587 (STARTTLS, AUTH as alice, "
          f"password {labkit.PASSWORD}; CA file {os.path.join(orgs.state('north'), 'cert.pem')})")
    print(f"  the capture (north's link): {capture}" if tracer else "  no capture")
    print("  cut one off: ./run lab 6 cut south; bring it back: ./run lab 6 restore south")
    print("  the queue (Q): " + queue_command(orgs, "north"))
    north = orgs.state("north")
    print(f"  alice sends (SEND): {labkit.program('mw-send')} --server {orgs.address(0)}:2587 "
          f"--starttls --cafile {os.path.join(north, 'cert.pem')} --user alice "
          f"--password-file {os.path.join(north, 'password.txt')} --from alice@north.test "
          "--to bob@south.test --subject ... --body ...")
    print(f"Next: read {os.path.join(os.path.dirname(os.path.abspath(__file__)), 'README.md')}, "
          "then `./run grade 6`.")
    print("Press Ctrl-C to stop everything.", flush=True)
    deadline = time.monotonic() + 8 * 3600
    while time.monotonic() < deadline:
        serve_request(orgs, work)
        time.sleep(0.2)
    stop()


def queue_command(orgs, name):
    return f"{labkit.program('mw-admin')} --config {orgs.config(name)} queue list"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "start":
        start(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] in ("cut", "restore"):
        sys.exit(request(sys.argv[2], sys.argv[1], sys.argv[3]))
    else:
        sys.exit(__doc__.strip())
