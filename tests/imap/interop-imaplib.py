#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# interop-imaplib.py: Python's imaplib, unchanged, against mw-imapd
# (RFC 9051 and RFC 3501; IDLE RFC 2177, UIDPLUS RFC 4315, MOVE RFC 6851,
# STARTTLS RFC 9051 §6.2.1, implicit TLS RFC 8314).
# Usage: interop-imaplib.py CHECK PORT IMAPS_PORT CA_FILE MESSAGE_FILE...
# alice's INBOX must hold exactly the MESSAGE_FILEs, in that order, unseen
# (the second is from carol and speaks of lunch, the third is a
# multipart/mixed). Runs the one CHECK and prints "imaplib: CHECK passed";
# an AssertionError (or an imaplib error) names what did not hold.
import email.utils
import imaplib
import re
import select
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"
check_name = sys.argv[1]
port, imaps_port, ca_file = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
expected = [open(path, "rb").read() for path in sys.argv[5:]]
context = ssl.create_default_context(cafile=ca_file)
TIMEOUT = 20

# BODYSTRUCTURE of the third message as Dovecot 2.3 answers it (RFC 9051
# §7.5.2: extension data of every part, no space between the parts)
MULTIPART_BODYSTRUCTURE = (
    b'(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 36 1'
    b' NIL NIL NIL NIL)("application" "pdf" ("name" "report.pdf") NIL NIL'
    b' "base64" 30 NIL ("attachment" ("filename" "report.pdf")) NIL NIL)'
    b' "mixed" ("boundary" "mw-boundary") NIL NIL NIL)'
)


def ok(result, what):
    typ, data = result
    assert typ == "OK", f"{what}: {typ} {data}"
    return data


def login(client=None):
    if client is None:
        client = imaplib.IMAP4(HOST, port, timeout=TIMEOUT)
    ok(client.login("alice", "alice-secret"), "LOGIN")
    return client


def selected(mailbox="INBOX"):
    client = login()
    count = ok(client.select(mailbox), f"SELECT {mailbox}")
    return client, int(count[0])


def fetch_items(data):
    """The (envelope line, literal) pairs of a FETCH answer, as bytes."""
    items = []
    for part in data:
        if isinstance(part, tuple):
            items.append(part)
        elif part not in (b")", None):
            items.append((part, None))
    return items


def uids_of(data):
    return [int(n) for n in data[0].split()]


def flags_of(client, number):
    data = ok(client.fetch(str(number), "(FLAGS)"), "FETCH FLAGS")
    match = re.search(rb"FLAGS \(([^)]*)\)", data[0])
    assert match, f"no FLAGS in {data}"
    return set(match.group(1).split())


# ---- the checks ------------------------------------------------------


def check_login_capability_list():
    client = imaplib.IMAP4(HOST, port, timeout=TIMEOUT)
    for name in ("IMAP4REV1", "IMAP4REV2", "IDLE", "UIDPLUS", "MOVE",
                 "STARTTLS", "AUTH=PLAIN", "NAMESPACE", "LITERAL+"):
        assert name in client.capabilities, f"greeting lacks {name}"
    typ, data = client.capability()
    assert typ == "OK" and b"IMAP4rev1" in data[0], f"CAPABILITY {data}"
    try:
        client.login("alice", "wrong")
        raise AssertionError("LOGIN with a wrong password worked")
    except imaplib.IMAP4.error as error:
        assert "AUTHENTICATIONFAILED" in str(error), error
    login(client)
    assert client.state == "AUTH", client.state
    ok(client.create("Archive"), "CREATE Archive")
    ok(client.create("Projects/2026"), "CREATE Projects/2026")
    listing = ok(client.list(), "LIST")
    names = {}
    for line in listing:
        match = re.match(rb'\(([^)]*)\) "(.)" (.*)$', line)
        assert match, f"LIST line {line}"
        assert match.group(2) == b"/", f"delimiter {line}"
        names[match.group(3).strip(b'"')] = match.group(1).split()
    for name in (b"INBOX", b"Archive", b"Projects/2026"):
        assert name in names, f"LIST lacks {name}: {listing}"
    # "%" returns the levels of hierarchy too, \NonExistent (RFC 9051
    # §6.3.9) or \Noselect (RFC 3501 §6.3.8) when they are no mailbox
    top = ok(client.list('""', "%"), 'LIST "" %')
    parent = [line for line in top if line.endswith(b' "Projects"')
              or line.endswith(b" Projects")]
    assert len(parent) == 1 and b"\\HasChildren" in parent[0], f"% {top}"
    assert not any(b"Projects/2026" in line for line in top), f"% {top}"
    sub = ok(client.list("Projects/", "%"), "LIST Projects/ %")
    assert len(sub) == 1 and sub[0].endswith(b'"Projects/2026"'), sub
    data = ok(client.namespace(), "NAMESPACE")
    assert data[0].startswith(b'(("" "/"))'), f"NAMESPACE {data}"
    ok(client.rename("Projects/2026", "Projects/2027"), "RENAME")
    listing = ok(client.list("Projects/", "*"), "LIST after RENAME")
    assert len(listing) == 1 and listing[0].endswith(b'"Projects/2027"'), listing
    ok(client.subscribe("Projects/2027"), "SUBSCRIBE")
    subscribed = ok(client.lsub('""', "*"), "LSUB")
    assert any(line.endswith(b'"Projects/2027"') for line in subscribed), (
        f"LSUB {subscribed}")
    ok(client.delete("Projects/2027"), "DELETE")
    listing = ok(client.list('""', "*"), "LIST after DELETE")
    assert not any(b"Projects/2027" in line for line in listing), listing
    typ, data = client.select("Projects/2027")
    assert typ == "NO", f"SELECT of a deleted mailbox: {typ} {data}"
    # a non-ASCII name in modified UTF-7 (RFC 9051 §5.1.3) comes back as sent
    ok(client.create("Entw&APw-rfe"), "CREATE Entw&APw-rfe")
    listing = ok(client.list('""', "Entw*"), "LIST Entw*")
    assert listing == [b'(\\HasNoChildren) "/" "Entw&APw-rfe"'], listing
    ok(client.append("Entw&APw-rfe", None, None, expected[0]), "APPEND there")
    data = ok(client.select("Entw&APw-rfe"), "SELECT Entw&APw-rfe")
    assert data == [b"1"], data
    typ, data = client.logout()  # imaplib gives the untagged BYE's type
    assert typ == "BYE", f"LOGOUT: {typ} {data}"


def check_select_fetch():
    client = login()
    data = ok(client.select("INBOX"), "SELECT")
    assert int(data[0]) == len(expected), f"SELECT says {data}"
    assert client.untagged_responses.get("UIDVALIDITY"), "no UIDVALIDITY"
    typ, data = client.select("INBOX", readonly=True)
    assert typ == "OK" and client.is_readonly, "EXAMINE"
    # BODY.PEEK leaves \Seen alone (RFC 9051 §6.4.5)
    for number, message in enumerate(expected, start=1):
        items = fetch_items(ok(client.fetch(str(number), "(BODY.PEEK[HEADER])"),
                                "FETCH BODY.PEEK[HEADER]"))
        header = message.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        assert items and items[0][1] == header, f"HEADER {number}: {items}"
    ok(client.select("INBOX"), "SELECT")
    assert flags_of(client, 1) <= {b"\\Recent"}, "PEEK set a flag"
    for number, message in enumerate(expected, start=1):
        data = ok(client.fetch(str(number), "(RFC822)"), "FETCH RFC822")
        items = fetch_items(data)
        assert items and items[0][1] == message, f"RFC822 {number}: {items}"
        assert b"\\Seen" in flags_of(client, number), f"RFC822 {number} unseen"
    data = ok(client.fetch("1", "(ENVELOPE)"), "FETCH ENVELOPE")
    assert data[0] == (
        b'1 (ENVELOPE ("Tue, 1 Dec 2026 10:00:00 +0000" "first"'
        b' (("Bob" NIL "bob" "example.test")) (("Bob" NIL "bob" "example.test"))'
        b' (("Bob" NIL "bob" "example.test")) ((NIL NIL "alice" "example.test"))'
        b' NIL NIL NIL "<one@example.test>"))'), f"ENVELOPE {data}"
    data = ok(client.fetch("3", "(BODYSTRUCTURE)"), "FETCH BODYSTRUCTURE")
    assert data[0] == b"3 (BODYSTRUCTURE " + MULTIPART_BODYSTRUCTURE + b")", (
        f"BODYSTRUCTURE {data}")
    data = ok(client.fetch("3", "(BODY.PEEK[1] BODY.PEEK[2.MIME])"),
              "FETCH BODY.PEEK[1] [2.MIME]")
    items = fetch_items(data)
    assert items[0][1] == b"The report is attached. Caf=C3=A9.\r\n", items
    assert items[1][1].startswith(b"Content-Type: application/pdf"), items
    # partial fetch (§6.4.5 <origin.octets>), RFC822.HEADER, HEADER.FIELDS
    items = fetch_items(ok(client.fetch("1", "(BODY.PEEK[]<6.12>)"), "partial"))
    assert items[0][0].endswith(b"BODY[]<6> {12}"), items
    assert items[0][1] == expected[0][6:18], items
    items = fetch_items(ok(client.fetch("2", "(RFC822.HEADER)"), "RFC822.HEADER"))
    assert items[0][1] == expected[1].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    items = fetch_items(ok(client.fetch(
        "3", "(BODY.PEEK[HEADER.FIELDS (Subject Message-ID)])"), "FIELDS"))
    assert items[0][1] == (b"Subject: report with attachment\r\n"
                           b"Message-ID: <three@example.org>\r\n\r\n"), items
    # BINARY (RFC 3516): the part decoded from quoted-printable / base64
    items = fetch_items(ok(client.fetch("3", "(BINARY.PEEK[1] BINARY.SIZE[2])"),
                           "BINARY"))
    assert items[0][1] == "The report is attached. Café.\r\n".encode(), items
    assert b"BINARY.SIZE[2] 19" in b" ".join(
        part for item in items for part in item if part), items
    data = ok(client.fetch("1:*", "(UID RFC822.SIZE)"), "FETCH UID RFC822.SIZE")
    for number, (line, message) in enumerate(zip(data, expected), start=1):
        assert line == b"%d (UID %d RFC822.SIZE %d)" % (
            number, number, len(message)), f"FETCH {line}"
    client.logout()


def check_uid_search():
    client, count = selected()
    assert uids_of(ok(client.uid("SEARCH", "FROM", "carol"), "FROM")) == [2]
    assert uids_of(ok(client.uid("SEARCH", "TEXT", "lunch"), "TEXT")) == [2]
    # TEXT looks into decoded MIME parts: "Café" is quoted-printable
    client.literal = "caf\xe9".encode()  # sent as {5} after the command
    assert uids_of(ok(client.uid("SEARCH", "CHARSET", "UTF-8", "TEXT"),
                      "TEXT café")) == [3]
    assert uids_of(ok(client.uid("SEARCH", "UNSEEN"), "UNSEEN")) == [1, 2, 3]
    ok(client.fetch("1", "(BODY[])"), "FETCH BODY[]")
    assert uids_of(ok(client.uid("SEARCH", "UNSEEN"), "UNSEEN")) == [2, 3]
    assert uids_of(ok(client.uid("SEARCH", "SEEN"), "SEEN")) == [1]
    data = ok(client.uid("SEARCH", "OR", "FROM", "bob", "SUBJECT", "report"),
              "OR FROM SUBJECT")
    assert uids_of(data) == [1, 3], data
    data = ok(client.search(None, "NOT", "FROM", "carol"), "SEARCH NOT")
    assert [int(n) for n in data[0].split()] == [1, 3], data
    assert uids_of(ok(client.uid("SEARCH", "SENTSINCE", "2-Dec-2026"),
                      "SENTSINCE")) == [3]
    assert uids_of(ok(client.uid("SEARCH", "LARGER", "500"), "LARGER")) == [3]
    assert uids_of(ok(client.uid("SEARCH", "UID", "2:*"), "UID 2:*")) == [2, 3]
    assert uids_of(ok(client.uid("SEARCH", "HEADER", "Message-ID",
                                 "<two@example.test>"), "HEADER")) == [2]
    assert ok(client.uid("SEARCH", "FROM", "nobody"), "none") == [b""]
    client.logout()


def check_store_copy_move_expunge():
    client, count = selected()
    ok(client.create("Archive"), "CREATE Archive")
    data = ok(client.store("1", "+FLAGS", "(\\Flagged $Label1)"), "STORE +FLAGS")
    assert b"\\Flagged" in data[0] and b"$Label1" in data[0], f"STORE {data}"
    data = ok(client.store("1", "-FLAGS.SILENT", "($Label1)"), "STORE -SILENT")
    assert data == [None], f"-FLAGS.SILENT answered {data}"
    assert flags_of(client, 1) - {b"\\Recent"} == {b"\\Flagged"}
    typ, data = client.copy("1", "Archive")
    assert typ == "OK", f"COPY {data}"
    assert re.match(rb"\[COPYUID \d+ 1 1\]", data[0]), f"COPYUID {data}"
    typ, data = client.uid("MOVE", "2", "Archive")
    assert typ == "OK", f"UID MOVE {data}"
    moved = client.untagged_responses.get("OK", []) + data
    assert any(re.match(rb"\[COPYUID \d+ 2 2\]", line) for line in moved
               if line), f"MOVE gave no COPYUID: {moved} {data}"
    assert client.untagged_responses.pop("EXPUNGE", None) == [b"2"], (
        "UID MOVE did not expunge message 2")
    ok(client.store("1", "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
    data = ok(client.expunge(), "EXPUNGE")
    assert data == [b"1"], f"EXPUNGE said {data}"
    data = ok(client.fetch("1:*", "(UID)"), "FETCH UID after EXPUNGE")
    assert data == [b"1 (UID 3)"], f"left {data}"
    client.logout()
    client, count = selected("Archive")
    assert count == 2, f"Archive holds {count}"
    data = ok(client.fetch("1:2", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"),
              "FETCH in Archive")
    items = fetch_items(data)
    assert items[0][1] == b"Subject: first\r\n\r\n", items
    assert b"\\Flagged" in items[0][0], f"COPY lost the flag: {items}"
    assert items[1][1] == b"Subject: second\r\n\r\n", items
    client.logout()


def check_append_flags_date():
    client, count = selected()
    when = "15-Nov-2025 08:07:06 +0100"
    message = (b"From: alice@example.test\r\nTo: bob@example.test\r\n"
               b"Subject: appended draft\r\n\r\nWritten by imaplib.\r\n")
    typ, data = client.append("INBOX", "(\\Draft \\Seen)", '"%s"' % when, message)
    assert typ == "OK", f"APPEND {data}"
    match = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert match and int(match.group(2)) == len(expected) + 1, f"APPENDUID {data}"
    ok(client.noop(), "NOOP")
    data = ok(client.uid("FETCH", match.group(2),
                         "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
              "FETCH the appended message")
    items = fetch_items(data)
    line = items[0][0]
    # the same instant (RFC 9051 §2.3.3); the zone it is shown in may differ
    date = re.search(rb'INTERNALDATE "[^"]*"', line)
    assert date, f"no INTERNALDATE in {line}"
    got = imaplib.Internaldate2tuple(date.group(0))
    assert got and time.mktime(got) == time.mktime(
        imaplib.Internaldate2tuple(b'INTERNALDATE "%s"' % when.encode())), (
        f"INTERNALDATE {line}, appended with {when}")
    flags = set(re.search(rb"FLAGS \(([^)]*)\)", line).group(1).split())
    assert {b"\\Draft", b"\\Seen"} <= flags, f"FLAGS {line}"
    assert b"RFC822.SIZE %d" % len(message) in line, line
    assert items[0][1] == message, f"BODY[] {items}"
    # an imaplib Time2Internaldate date into another, new mailbox
    ok(client.create("Drafts2"), "CREATE")
    stamp = time.mktime((2024, 2, 29, 12, 0, 0, 0, 0, -1))
    typ, data = client.append("Drafts2", "(\\Flagged)",
                              imaplib.Time2Internaldate(stamp), message)
    assert typ == "OK", f"APPEND Drafts2 {data}"
    status = ok(client.status("Drafts2", "(MESSAGES UIDNEXT)"), "STATUS")
    assert b"MESSAGES 1" in status[0] and b"UIDNEXT 2" in status[0], status
    client.logout()


def read_until(sock, pattern, seconds):
    """Reads from @sock until @pattern (bytes regex) matches what came."""
    buffer = b""
    deadline = time.monotonic() + seconds
    while not re.search(pattern, buffer):
        left = deadline - time.monotonic()
        assert left > 0, f"waited {seconds} s for {pattern}; got {buffer!r}"
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed; got {buffer!r}"
            buffer += chunk
    return buffer


def check_idle_exists():
    # imaplib in Python 3.11 has no idle(): the IDLE command is sent raw
    # on imaplib's own socket, after imaplib logged in and selected
    watcher, count = selected()
    sock = watcher.socket()
    tag = watcher._new_tag()
    watcher.send(tag + b" IDLE\r\n")
    read_until(sock, rb"^\+ [^\r\n]*\r\n", 5)  # RFC 2177 §3
    writer = login()
    message = b"From: bob@example.test\r\nSubject: pushed\r\n\r\nIDLE me.\r\n"
    started = time.monotonic()
    ok(writer.append("INBOX", None, None, message), "APPEND from session 2")
    got = read_until(sock, rb"\* %d EXISTS\r\n" % (count + 1), 5)
    latency = time.monotonic() - started
    # another session's flag change and expunge arrive during IDLE too
    # (RFC 9051 §7.5.2 FETCH FLAGS, §7.5.1 EXPUNGE)
    ok(writer.select("INBOX"), "SELECT in session 2")
    ok(writer.store("2", "+FLAGS.SILENT", "(\\Flagged)"), "STORE in session 2")
    got += read_until(sock, rb"\* 2 FETCH \([^\r\n]*\\Flagged", 5)
    ok(writer.store("1", "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
    ok(writer.expunge(), "EXPUNGE in session 2")
    got += read_until(sock, rb"\* 1 EXPUNGE\r\n", 5)
    count -= 1
    watcher.send(b"DONE\r\n")
    got += read_until(sock, tag + rb" OK[^\r\n]*\r\n", 5)
    assert not re.search(tag + rb" (NO|BAD)", got), got
    print(f"imaplib: EXISTS pushed {latency * 1000:.0f} ms after APPEND",
          file=sys.stderr)
    # imaplib goes on on the same connection after DONE
    data = ok(watcher.fetch(str(count + 1), "(BODY.PEEK[])"), "FETCH pushed")
    assert fetch_items(data)[0][1] == message, data
    writer.logout()
    watcher.logout()


def check_starttls():
    client = imaplib.IMAP4(HOST, port, timeout=TIMEOUT)
    assert "STARTTLS" in client.capabilities
    ok(client.starttls(ssl_context=context), "STARTTLS")  # cert verified
    assert isinstance(client.sock, ssl.SSLSocket)
    assert "STARTTLS" not in client.capabilities, (
        f"STARTTLS offered after TLS: {client.capabilities}")
    assert "AUTH=PLAIN" in client.capabilities, client.capabilities
    login(client)
    data = ok(client.select("INBOX"), "SELECT over STARTTLS")
    assert int(data[0]) == len(expected)
    data = ok(client.fetch("2", "(BODY.PEEK[TEXT])"), "FETCH over STARTTLS")
    assert fetch_items(data)[0][1] == expected[1].split(b"\r\n\r\n", 1)[1]
    client.logout()


def check_imaps():
    client = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context,
                               timeout=TIMEOUT)
    assert "STARTTLS" not in client.capabilities, client.capabilities
    login(client)
    data = ok(client.select("INBOX"), "SELECT over IMAPS")
    assert int(data[0]) == len(expected)
    data = ok(client.uid("FETCH", "3", "(RFC822)"), "FETCH over IMAPS")
    assert fetch_items(data)[0][1] == expected[2], data
    client.logout()
    # a client that will not trust the certificate gives up
    try:
        imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=ssl.create_default_context(),
                          timeout=TIMEOUT)
        raise AssertionError("an untrusted certificate was accepted")
    except ssl.SSLCertVerificationError:
        pass


CHECKS = {
    "login-capability-list": check_login_capability_list,
    "select-fetch": check_select_fetch,
    "uid-search": check_uid_search,
    "store-copy-move-expunge": check_store_copy_move_expunge,
    "append-flags-date": check_append_flags_date,
    "idle-exists": check_idle_exists,
    "starttls": check_starttls,
    "imaps": check_imaps,
}

CHECKS[check_name]()
print(f"imaplib: {check_name} passed")
