#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""lab.py: what `./run lab`, `./run grade` and `./run labs` do.

  lab.py start NN           servers for lab NN on loopback, mw-trace writing
                            a capture in the working copy; Ctrl-C stops all
  lab.py start 06 cut|restore ORG
                            lab 6: cuts an organisation off, or brings it back
  lab.py grade NN [DIR] [--results FILE]
  lab.py export DIR         the student handout: no solution/, no tests/
  lab.py gradescope NN ZIP  setup.sh + run_autograder around the same grader
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

LABS = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(LABS)
sys.path.insert(0, os.path.join(LABS, "lib"))
import labkit  # noqa: E402

# lab-documented ports (README of each lab); MW_LAB_EPHEMERAL=1 asks for any
PORTS = {"01": {"smtp": 10125}, "02": {"smtp": 10225}, "03": {"pop3": 10310},
         "04": {"smtp": 10425, "imap": 10443},
         # lab 5: mailwire's default ports, the ones mw-trace knows implicit TLS by
         "05": {"smtp": 2525, "submission": 2587, "smtps": 2465, "pop3": 2110,
                "pop3s": 2995, "imap": 2143, "imaps": 2993},
         "07": {"smtp": 10725, "vulnerable": 10726},  # the lab's vulnerable-server.py
         "08": {"student": 10825}}  # the student's own server: only captured


def lab_dir(number):
    found = glob.glob(os.path.join(LABS, f"{int(number):02d}-*"))
    if not found:
        sys.exit(f"lab: no lab {number} in {LABS}")
    return found[0]


def working_copy(path):
    """labs/work/NN-name: the student's copy of starter/, made once."""
    work = os.path.join(LABS, "work", os.path.basename(path))
    if not os.path.isdir(work):
        shutil.copytree(os.path.join(path, "starter"), work)
    return work


def start(number, rest=()):
    path = lab_dir(number)
    key = os.path.basename(path)[:2]
    work = working_copy(path)
    if key == "06" and len(rest) == 2 and rest[0] in ("cut", "restore"):
        # ./run lab 6 cut south: asks the running lab (another terminal)
        return subprocess.call([sys.executable, os.path.join(path, "orgs.py"), rest[0], work,
                                rest[1]])
    ephemeral = os.environ.get("MW_LAB_EPHEMERAL") == "1"
    ports = {k: 0 if ephemeral else v for k, v in PORTS.get(key, {}).items()}
    state = os.path.join(work, ".lab-state")
    shutil.rmtree(state, ignore_errors=True)
    if key == "06":  # three organisations in network namespaces: the lab's own script
        return run_orgs(path, work)
    tls = {k: v for k, v in ports.items() if k in labkit.Mailwire.TLS_LISTENERS}
    mw = labkit.Mailwire(state, smtp="smtp" in ports, pop3="pop3" in ports,
                         smtp_port=ports.get("smtp", 0), pop3_port=ports.get("pop3", 0),
                         imap="imap" in ports, imap_port=ports.get("imap", 0),
                         tls=bool(tls), tls_ports=tls,
                         plaintext_auth="never" if tls else "loopback")
    tracer = None
    helper = None  # lab 7's vulnerable-server.py

    def stop(*_):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if helper and helper.poll() is None:
            helper.terminate()
            helper.wait(timeout=5)
        if tracer:
            tracer.stop()
        mw.stop()
        print("\nlab: stopped everything it started; the capture is in "
              f"{os.path.join(work, 'capture.pcap')}", flush=True)
        if tracer:
            report_capture(tracer, key)
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    mw.start()
    if "pop3" in ports:
        for n in (1, 2, 3):
            mw.deliver("bob", b"From: alice@lab.test\r\nTo: bob@lab.test\r\n"
                       b"Subject: lab message %d\r\n\r\nHello from lab 3.\r\n" % n)
    if "student" in ports:
        mw.ports["student"] = ports["student"] or free_port()
    if "vulnerable" in ports:
        helper, mw.ports["vulnerable"] = start_vulnerable(path, state, ports["vulnerable"])
    live = [str(p) for k, p in mw.ports.items() if k in ports and p]
    capture = os.path.join(work, "capture.pcap")
    if labkit.can_capture():
        # live before the first line is printed: nothing the student does is missed
        try:
            tracer = labkit.Capture(capture, live).start()
        except RuntimeError:
            mw.stop()
            raise
    else:
        print("lab: not root, so mw-trace cannot capture; run it as root to grade a capture")
    print(f"lab {key}: {os.path.basename(path)}")
    for label in ports:
        print(f"  {label} server on 127.0.0.1 port {mw.ports[label]}")
    print(f"  users alice, bob, carol @ {labkit.DOMAIN}, password {labkit.PASSWORD}"
          + (f" (in {labkit.password_file(work)})" if "imap" in ports else ""))
    if tls:
        print(f"  TLS certificate (your CA file): {mw.cert}")
        print(f"  TLS key log, the servers' session secrets (mw-trace --keylog): {mw.keylog}")
    print(f"  your working copy: {work}")
    print(f"  the capture: {capture}" if tracer else "  no capture")
    print(f"Next: read {os.path.join(path, 'README.md')}, then `./run grade {key}`.")
    print("Press Ctrl-C to stop the servers.", flush=True)
    deadline = time.monotonic() + 8 * 3600  # a lab session, at most
    while time.monotonic() < deadline:
        time.sleep(1)
    stop()


def run_orgs(path, work):
    """orgs.py start WORK until it ends. Ctrl-C reaches both (the
    terminal's process group); a SIGINT or SIGTERM sent to this process
    alone is passed on, so orgs.py always removes what it made (never
    subprocess.call, which kills its child when interrupted)."""
    orgs = subprocess.Popen([sys.executable, os.path.join(path, "orgs.py"), "start", work])

    def forward(signum, _):
        if orgs.poll() is None:
            orgs.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return orgs.wait()


def report_capture(tracer, key):
    """Says out loud when the capture is not whole: the grader would fail
    the questions for it (labkit.whole_capture), so better know now."""
    try:
        found = tracer.problems()
    except labkit.Fail as failure:
        found = [failure.line()]
    if found:
        print("lab: the capture is incomplete, so it cannot be graded: " + "; ".join(found[:3]) +
              f". Start `./run lab {key}` again and redo the steps.", flush=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_vulnerable(path, state, port):
    """Lab 7's vulnerable-server.py on 127.0.0.1 PORT; (process, port)."""
    out = os.path.join(state, "vulnerable-server.out")
    proc = subprocess.Popen([sys.executable, os.path.join(path, "vulnerable-server.py"),
                             "--port", str(port)], stdout=open(out, "w"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        text = open(out).read()
        if "listening on" in text:
            return proc, int(text.split("listening on 127.0.0.1:")[1].split()[0])
        time.sleep(0.05)
    proc.kill()
    sys.exit("lab: vulnerable-server.py did not start: " + open(out).read()[-500:])


def grade(number, directory=None, results="results.json"):
    path = lab_dir(number)
    directory = directory or working_copy(path)
    return subprocess.call([sys.executable, os.path.join(path, "grade.py"),
                            directory, "--results", results])


def export(dest):
    """Everything a student gets: READMEs, starters, graders, the kit."""
    if os.path.exists(dest) and os.listdir(dest):
        sys.exit(f"lab: {dest} exists and is not empty")
    ignore = shutil.ignore_patterns("solution", "tests", "work", "__pycache__",
                                    "meson.build", ".lab-state")
    shutil.copytree(LABS, dest, ignore=ignore, dirs_exist_ok=True)
    return 0


SETUP = """#!/usr/bin/env bash
# Gradescope setup: the Debian packages, then mailwire's servers.
set -euo pipefail
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q meson ninja-build pkg-config gcc make \\
  python3 libglib2.0-dev glib-networking libgnutls28-dev libpcap-dev libgmime-3.0-dev \\
  libjemalloc-dev
cd /autograder/source/mailwire
meson setup build >/dev/null
ninja -C build src/servers/mw-smtpd src/servers/mw-pop3d src/servers/mw-imapd src/tools/mw-admin \\
  src/tracer/mw-trace src/clients/mw-send src/clients/mw-imap
"""
RUN = """#!/usr/bin/env bash
# Gradescope: grade /autograder/submission with the lab's grader.
cd /autograder/source/mailwire
MW_BUILD_ROOT=/autograder/source/mailwire/build python3 labs/{lab}/grade.py \\
  /autograder/submission --results /autograder/results/results.json
exit 0  # the score is in results.json
"""


def gradescope(number, out):
    path = lab_dir(number)
    name = os.path.basename(path)
    tracked = subprocess.run(["git", "-C", TOP, "ls-files", "meson.build", "meson_options.txt",
                              "src", "tests/meson.build"], capture_output=True, text=True,
                             check=True).stdout.split()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("setup.sh"), SETUP)
        z.writestr(zipfile.ZipInfo("run_autograder"), RUN.format(lab=name))
        for info in z.infolist():
            info.external_attr = 0o755 << 16
        for f in tracked:
            if f != "tests/meson.build":
                z.write(os.path.join(TOP, f), f"mailwire/{f}")
        # the bundle builds only what the grader runs: no tests/
        z.writestr("mailwire/tests/meson.build", "# not in the autograder bundle\n")
        for root in (os.path.join(LABS, "lib"), path):
            for dirpath, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d not in ("solution", "__pycache__", "work")]
                for f in files:
                    full = os.path.join(dirpath, f)
                    z.write(full, "mailwire/" + os.path.relpath(full, TOP))
    print(f"lab: wrote {out} (setup.sh, run_autograder, mailwire/ with labs/{name})")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "start":
        return start(argv[1], argv[2:])
    if len(argv) >= 2 and argv[0] == "grade":
        rest = argv[2:]
        results = "results.json"
        if "--results" in rest:
            i = rest.index("--results")
            results = rest[i + 1]
            rest = rest[:i] + rest[i + 2:]
        return grade(argv[1], rest[0] if rest else None, results)
    if len(argv) == 2 and argv[0] == "export":
        return export(argv[1])
    if len(argv) == 3 and argv[0] == "gradescope":
        return gradescope(argv[1], argv[2])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
