#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-sync-mbsync.py: mw-imap sync and mbsync (isync) on one account
agree (issue 9, Interop; suite interop, TAP).

One mw-imapd on 127.0.0.1, an ephemeral port, from a private config with
the users alice and bob (the test harness's passwords); bob's INBOX is
synced by `mw-imap sync` into Maildir A and by mbsync into Maildir B (a
private .mbsyncrc: SSLType None, AuthMechs LOGIN, SubFolders Verbatim,
Sync All, Create Both, Expunge Both). Rounds of changes, each on one side,
then both sync (mw-imap, mbsync, mw-imap, mbsync: whatever one of them
sent up reaches the other), then the check of the round:

  /sync/mbsync/first-sync          5 messages delivered to the server
  /sync/mbsync/flags-up-from-a     \\Seen, \\Flagged set on A (file names)
  /sync/mbsync/delete-on-b         a message deleted from B: mbsync
                                   expunges it (RFC 4315), A loses it
  /sync/mbsync/flags-from-b        \\Answered set on B, \\Flagged taken
                                   off on A
  /sync/mbsync/new-everywhere      new mail delivered to the server, a
                                   message written into A's new/ (uploaded
                                   by mw-imap), one into B's (by mbsync)

Each check reads the three sides themselves, never the programs' words:
the server through IMAP (imaplib: UID FETCH of FLAGS and the Message-ID
field), A and B from their files (the Message-ID field and the flag
letters after ":2,", Maildir's convention). Each must hold exactly the
expected messages, by Message-ID, each once, with exactly the expected
flags; so a change that does not travel, a message copied twice, one
lost or one left with \\Deleted fails the round that made it. A failed
round fails the rounds after it too (they start from its state).

Every program runs with a time limit; mw-imapd is stopped by its PID.
"""
import email.parser
import imaplib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

build = os.environ["MW_BUILD_ROOT"]
HOST = "127.0.0.1"
USER, PASSWORD = "bob", "bob-secret"
RUN_TIMEOUT = 60
# Maildir info letters (the Maildir spec; mbsync and mailwire both use
# them) and the IMAP flags they stand for (RFC 9051 §2.3.2)
LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
           "T": "\\Deleted"}

results = []


def program(path):
    return os.path.join(build, path)


def run(argv, what):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=RUN_TIMEOUT)
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise AssertionError(f"{what} exited {proc.returncode}: {out[-800:]}")
    return out


class Account:
    """mw-imapd with alice and bob, and the two local Maildirs."""

    def __init__(self, top):
        self.top = top
        self.conf = os.path.join(top, "mailwire.conf")
        with open(self.conf, "w") as f:
            f.write("[general]\nhostname = mx.example.test\n"
                    "domains = example.test;localhost\n"
                    f"state_dir = {top}\ntimeout = 30\n"
                    "[smtp]\nport = -1\nsubmission_port = -1\nsmtps_port = -1\n"
                    "[pop3]\nport = -1\npop3s_port = -1\n"
                    "[imap]\nlisten = 127.0.0.1\nport = 0\nimaps_port = -1\n")
        for user, password in (("alice", "alice-secret"), ("bob", "bob-secret")):
            pw = os.path.join(top, f"{user}.password")
            with open(pw, "w") as f:
                f.write(password + "\n")
            os.chmod(pw, 0o600)
            run([program("src/tools/mw-admin"), "--config", self.conf, "user", "add",
                 user, "--password-file", pw], f"mw-admin user add {user}")
        self.password_file = os.path.join(top, "bob.password")
        self.server_maildir = os.path.join(top, "mail", USER, "Maildir")
        self.a = os.path.join(top, "A")
        self.b = os.path.join(top, "B")
        os.mkdir(self.b)
        self.server = None
        self.port = self.start()
        self.mbsyncrc = self.write_mbsyncrc()

    def start(self):
        out_path = os.path.join(self.top, "mw-imapd.out")
        out = open(out_path, "w+")
        self.server = subprocess.Popen(
            [program("src/servers/mw-imapd"), "--config", self.conf], stdout=out,
            stderr=open(os.path.join(self.top, "mw-imapd.err"), "w"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out.seek(0)
            text = out.read()
            m = re.search(r"imap listening on [^\n]*:(\d+)", text)
            if m and "ready" in text:
                return int(m.group(1))
            if self.server.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("mw-imapd did not start: " +
                           open(os.path.join(self.top, "mw-imapd.err")).read())

    def stop(self):
        if self.server is None or self.server.poll() is not None:
            return
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=10)

    def write_mbsyncrc(self):
        path = os.path.join(self.top, ".mbsyncrc")
        with open(path, "w") as f:
            f.write(f"IMAPAccount mw\nHost {HOST}\nPort {self.port}\n"
                    f"User {USER}\nPass {PASSWORD}\n"
                    "SSLType None\nAuthMechs LOGIN\nTimeout 20\n\n"
                    "IMAPStore remote\nAccount mw\n\n"
                    f"MaildirStore local\nPath {self.b}/\nInbox {self.b}/INBOX\n"
                    "SubFolders Verbatim\n\n"
                    "Channel mw\nFar :remote:\nNear :local:\nPatterns INBOX\n"
                    "Sync All\nCreate Both\nExpunge Both\nSyncState *\n")
        os.chmod(path, 0o600)
        return path

    # ---- the two programs ---------------------------------------------

    def sync_a(self):
        return run([program("src/clients/mw-imap"), "--server", f"{HOST}:{self.port}",
                    "--user", USER, "--password-file", self.password_file,
                    "--maildir", self.a, "sync", "INBOX"], "mw-imap sync")

    def sync_b(self):
        return run(["mbsync", "-c", self.mbsyncrc, "-a"], "mbsync")

    def sync_both(self):
        """Each twice, alternating: a change one sends up reaches the other."""
        for _ in range(2):
            self.sync_a()
            self.sync_b()

    # ---- the three sides ----------------------------------------------

    def inbox_a(self):
        return self.a  # mailwire's store: INBOX is the Maildir root

    def inbox_b(self):
        return os.path.join(self.b, "INBOX")  # "Inbox B/INBOX"

    def deliver(self, message_id, subject):
        """Into the server's INBOX as an MDA does: tmp/, then new/."""
        maildir_write(self.server_maildir, message_id, subject)

    def server_view(self):
        """{Message-ID: flags} of bob's INBOX as mw-imapd answers; a
        Message-ID twice is an error."""
        client = imaplib.IMAP4(HOST, self.port, timeout=20)
        try:
            client.login(USER, PASSWORD)
            typ, _ = client.select("INBOX", readonly=True)
            assert typ == "OK", "SELECT INBOX"
            typ, data = client.uid(
                "FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            assert typ == "OK", f"UID FETCH: {data}"
        finally:
            client.logout()
        view = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            m = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            assert m, f"no FLAGS in {item[0]!r}"
            flags = frozenset(f.decode() for f in m.group(1).split()) - {"\\Recent"}
            add(view, message_id_of(item[1]), flags, "server")
        return view


def maildir_write(maildir, message_id, subject):
    text = (f"From: alice@example.test\r\nTo: bob@example.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n{subject}.\r\n")
    name = f"{time.time_ns()}.P{os.getpid()}.test-sync"
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, d), exist_ok=True)
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.rename(tmp, os.path.join(maildir, "new", name))


def message_id_of(data):
    header = email.parser.BytesHeaderParser().parsebytes(data)
    value = header.get("Message-ID")
    assert value, f"a message without Message-ID: {data[:200]!r}"
    return value.strip()


def add(view, message_id, flags, side):
    assert message_id not in view, f"{side}: {message_id} is there twice"
    view[message_id] = flags


def maildir_files(maildir):
    """(path, flags) of every message file in new/ and cur/."""
    found = []
    for d in ("new", "cur"):
        path = os.path.join(maildir, d)
        for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            letters = name.split(":2,", 1)[1] if ":2," in name else ""
            found.append((os.path.join(path, name),
                          frozenset(LETTERS[c] for c in letters if c in LETTERS)))
    return found


def maildir_view(maildir, side):
    view = {}
    for path, flags in maildir_files(maildir):
        with open(path, "rb") as f:
            add(view, message_id_of(f.read()), flags, side)
    return view


def find_file(maildir, message_id):
    for path, _ in maildir_files(maildir):
        with open(path, "rb") as f:
            if message_id_of(f.read()) == message_id:
                return path
    raise AssertionError(f"{message_id} not in {maildir}")


def set_letters(maildir, message_id, letters):
    """Gives a local message exactly these flag letters, as a mail reader
    does: a rename into cur/ with ":2,LETTERS" (sorted)."""
    path = find_file(maildir, message_id)
    base = os.path.basename(path).split(":2,", 1)[0]
    os.rename(path, os.path.join(maildir, "cur",
                                 base + ":2," + "".join(sorted(letters))))


def show(view):
    return "{" + ", ".join(f"{k}: {' '.join(sorted(v)) or '-'}"
                           for k, v in sorted(view.items())) + "}"


def agree(account, expected):
    """Server, A and B each hold exactly @expected."""
    expected = {k: frozenset(v) for k, v in expected.items()}
    sides = (("server", account.server_view()),
             ("A (mw-imap)", maildir_view(account.inbox_a(), "A")),
             ("B (mbsync)", maildir_view(account.inbox_b(), "B")))
    for side, view in sides:
        assert view == expected, (f"{side} holds {show(view)}, "
                                  f"expected {show(expected)}")


def mid(n):
    return f"<sync-{n}@example.test>"


# ---- the rounds: each changes one thing, syncs both, checks ----------

def first_sync(account, model):
    for n in range(1, 6):
        account.deliver(mid(n), f"message {n}")
        model[mid(n)] = set()
    account.sync_both()
    agree(account, model)


def flags_up_from_a(account, model):
    set_letters(account.inbox_a(), mid(1), "S")
    set_letters(account.inbox_a(), mid(2), "F")
    model[mid(1)] = {"\\Seen"}
    model[mid(2)] = {"\\Flagged"}
    account.sync_both()
    agree(account, model)


def delete_on_b(account, model):
    os.unlink(find_file(account.inbox_b(), mid(3)))
    del model[mid(3)]
    account.sync_b()  # mbsync sends it up (\Deleted, then UID EXPUNGE)
    account.sync_both()
    agree(account, model)


def flags_from_b(account, model):
    set_letters(account.inbox_b(), mid(4), "R")
    set_letters(account.inbox_a(), mid(2), "")
    model[mid(4)] = {"\\Answered"}
    model[mid(2)] = set()
    account.sync_both()
    agree(account, model)


def new_everywhere(account, model):
    account.deliver(mid(6), "delivered later")
    maildir_write(account.inbox_a(), mid(7), "written in A")
    maildir_write(account.inbox_b(), mid(8), "written in B")
    for n in (6, 7, 8):
        model[mid(n)] = set()
    account.sync_both()
    agree(account, model)


ROUNDS = [
    ("/sync/mbsync/first-sync", first_sync),
    ("/sync/mbsync/flags-up-from-a", flags_up_from_a),
    ("/sync/mbsync/delete-on-b", delete_on_b),
    ("/sync/mbsync/flags-from-b", flags_from_b),
    ("/sync/mbsync/new-everywhere", new_everywhere),
]


def main():
    print(f"1..{len(ROUNDS)}")
    if shutil.which("mbsync") is None:
        for i, (path, _) in enumerate(ROUNDS, 1):
            print(f"not ok {i} {path} # mbsync missing: ./run test installs isync")
        return 1
    top = tempfile.mkdtemp(prefix="mw-test-sync-")
    account = None
    failed = None
    try:
        account = Account(top)
        model = {}
        for i, (path, round_) in enumerate(ROUNDS, 1):
            if failed is not None:
                print(f"not ok {i} {path} # after {failed} failed")
                continue
            try:
                round_(account, model)
                print(f"ok {i} {path}")
            except (AssertionError, OSError, subprocess.TimeoutExpired,
                    imaplib.IMAP4.error) as error:
                failed = path
                print(f"not ok {i} {path}")
                for line in str(error).splitlines():
                    print(f"# {line}")
            sys.stdout.flush()
    finally:
        if account is not None:
            account.stop()
        if os.environ.get("MW_KEEP_TEST_DIR"):
            print(f"# kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main())
