#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""orgs.py: lab 6's three organisations, each an mw-smtpd of its own.

As root: network namespaces mw6-north, mw6-south, mw6-east, each with a
veth pair whose outer end (mw6-north ...) is on the bridge mw6-br in the
root namespace, 10.66.0.1-3/24; mw-trace captures on the bridge. Not
root: loopback only, 127.0.66.1-3, and no capture (said out loud). Each
organisation routes the other two domains with [routes]; the queue
retries fast and gives up soon ([queue] below), so a lab session sees
retries, a delivery and a bounce in minutes.

  orgs.py start WORKDIR     set up, start, print what to do; Ctrl-C ends
                            it and removes every namespace and link it made
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import labkit  # noqa: E402

ORGS = [("north", "alice"), ("south", "bob"), ("east", "carol")]
BRIDGE, SUBNET, PORT = "mw6-br", "10.66.0", 2525
QUEUE = {"retry_min": 5, "retry_max": 20, "lifetime": 60}


def address(i, netns):
    return f"{SUBNET}.{i + 1}" if netns else f"127.0.66.{i + 1}"


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, timeout=10, capture_output=True)


class Orgs:
    def __init__(self, work, netns=None):
        self.work = os.path.abspath(work)
        self.netns = (os.geteuid() == 0) if netns is None else netns
        self.procs, self.made = {}, []

    def state(self, name):
        return os.path.join(self.work, ".lab-state", name)

    def config(self, name):
        return os.path.join(self.state(name), "mailwire.conf")

    # -- the network ---------------------------------------------------------
    def make_network(self):
        if not self.netns:
            return
        ip("link", "add", BRIDGE, "type", "bridge")
        self.made.append(("link", BRIDGE))
        ip("addr", "add", f"{SUBNET}.254/24", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        for i, (name, _) in enumerate(ORGS):
            ns, outer = f"mw6-{name}", f"mw6-{name}"
            ip("netns", "add", ns)
            self.made.append(("netns", ns))
            ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.made.append(("link", outer))
            ip("link", "set", outer, "master", BRIDGE, "up")
            ip("-n", ns, "addr", "add", f"{address(i, True)}/24", "dev", "eth0")
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
        routes = "".join(f"{other}.test = {address(j, self.netns)}:{PORT}\n"
                         for j, (other, _) in enumerate(ORGS) if j != i)
        tls = "tls_cert = cert.pem\ntls_key = key.pem\n" if i == 0 else ""
        text = f"""# written by labs/06-relay-queue-bounce/orgs.py
[general]
hostname = mx.{name}.test
domains = {name}.test
state_dir = .
timeout = 20
{tls}[smtp]
listen = {address(i, self.netns)}
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
                            address(i, self.netns)], check=True,
                           stdout=subprocess.DEVNULL, timeout=30)
        prefix = ["ip", "netns", "exec", f"mw6-{name}"] if self.netns else []
        out = open(os.path.join(state, "mw-smtpd.out"), "w+")
        proc = subprocess.Popen(prefix + [labkit.program("mw-smtpd"), "--config",
                                          self.config(name), "--protocol-log"],
                                stdout=out, stderr=open(os.path.join(state, "mw-smtpd.log"),
                                                        "w"), cwd=state)
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
        """South's link goes down (its end of the cable is pulled)."""
        if self.netns:
            ip("link", "set", f"mw6-{name}", "down")
        else:
            self.procs.pop(name).send_signal(signal.SIGTERM)

    def restore(self, name):
        if self.netns:
            ip("link", "set", f"mw6-{name}", "up")
        else:
            i = [n for n, _ in ORGS].index(name)
            self.start_server(i, name, ORGS[i][1])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def start(work):
    orgs = Orgs(work)
    capture, tracer = os.path.join(orgs.work, "capture.pcap"), None

    def stop(*_):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if tracer and tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=10)
        orgs.stop()
        print("\nlab: stopped the servers and removed the namespaces and links it made",
              flush=True)
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    orgs.start()
    if orgs.netns:
        tracer = subprocess.Popen([labkit.program("mw-trace"), "-i", BRIDGE, "-w", capture,
                                   "-q", "-p", str(PORT)],
                                  stdout=open(os.path.join(orgs.work, ".lab-state",
                                                           "trace.txt"), "w"),
                                  stderr=subprocess.STDOUT)
    else:
        print("lab: not root, so no network namespaces: the three organisations share "
              "loopback (127.0.66.1-3), 'cutting one off' stops its server instead of "
              "pulling its link, and mw-trace cannot capture. Run as root for the real lab.")
    print("lab 06: relay-queue-bounce")
    for i, (name, user) in enumerate(ORGS):
        where = f"netns mw6-{name}" if orgs.netns else "loopback"
        print(f"  {name}.test: mw-smtpd on {address(i, orgs.netns)}:{PORT} ({where}), "
              f"user {user}, config {orgs.config(name)}")
    print(f"  north's submission port {address(0, orgs.netns)}:2587 (STARTTLS, AUTH)")
    print(f"  the capture: {capture}" if tracer else "  no capture")
    print("Press Ctrl-C to stop everything.", flush=True)
    deadline = time.monotonic() + 8 * 3600
    while time.monotonic() < deadline:
        time.sleep(1)
    stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "start":
        start(sys.argv[2])
    else:
        sys.exit(__doc__.strip())
