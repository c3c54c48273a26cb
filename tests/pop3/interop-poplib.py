#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# interop-poplib.py: Python's poplib, unchanged, against mw-pop3d (RFC 1939,
# RFC 2449 CAPA, RFC 2595 STLS, POP3 over implicit TLS).
# Usage: interop-poplib.py PORT POP3S_PORT CA_FILE MESSAGE_FILE...
# The maildrop of bob must hold exactly the MESSAGE_FILEs, in that order.
# Exits 0 when every check holds; an AssertionError names the one that did
# not.
import poplib
import ssl
import sys

HOST = "127.0.0.1"
port, pop3s_port, ca_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
expected = [open(path, "rb").read() for path in sys.argv[4:]]
context = ssl.create_default_context(cafile=ca_file)


def login_plain():
    """USER/PASS in clear: allowed from loopback by default."""
    client = poplib.POP3(HOST, port, timeout=30)
    client.user("bob")
    client.pass_("bob-secret")
    return client


def check_capa_and_stls():
    client = poplib.POP3(HOST, port, timeout=30)
    capa = client.capa()
    for tag in ("TOP", "UIDL", "PIPELINING", "RESP-CODES", "STLS", "USER"):
        assert tag in capa, f"CAPA lacks {tag}: {capa}"
    client.stls(context)  # RFC 2595 §4, certificate verified
    assert "STLS" not in client.capa(), "STLS still offered after TLS"
    client.user("bob")
    client.pass_("bob-secret")
    count, _ = client.stat()
    assert count == len(expected), f"STAT says {count}"
    client.quit()


def check_retr_top_uidl():
    client = login_plain()
    count, size = client.stat()
    assert count == len(expected)
    assert size == sum(len(m) for m in expected), f"STAT size {size}"
    _, listing, _ = client.list()
    sizes = [int(line.split()[1]) for line in listing]
    assert sizes == [len(m) for m in expected], f"LIST {listing}"
    for number, message in enumerate(expected, start=1):
        _, lines, octets = client.retr(number)
        # poplib removes the dot-stuffing and the CRLFs
        assert b"\r\n".join(lines) + b"\r\n" == message, f"RETR {number}"
        assert octets >= len(message)
        _, top, _ = client.top(number, 0)
        header = message.split(b"\r\n\r\n", 1)[0]
        assert b"\r\n".join(top) == header + b"\r\n", f"TOP {number} 0"
    _, ids, _ = client.uidl()
    first = client.uidl(1).split()[2]
    assert ids[0].split()[1] == first, "UIDL and UIDL 1 disagree"
    client.quit()
    again = login_plain()
    assert again.uidl(1).split()[2] == first, "UIDL not stable"
    again.quit()


def check_pop3s():
    client = poplib.POP3_SSL(HOST, pop3s_port, context=context, timeout=30)
    client.user("bob")
    client.pass_("bob-secret")
    _, lines, _ = client.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == expected[0], "RETR over TLS"
    client.quit()


def check_dele_rset_quit():
    client = login_plain()
    client.dele(1)
    try:
        client.retr(1)
        raise AssertionError("RETR of a deleted message worked")
    except poplib.error_proto as error:
        assert str(error).startswith("b'-ERR"), error
    client.rset()
    client.quit()
    client = login_plain()
    assert client.stat()[0] == len(expected), "RSET did not undo DELE"
    client.dele(1)
    client.quit()
    client = login_plain()
    assert client.stat()[0] == len(expected) - 1, "DELE + QUIT kept it"
    client.quit()


def check_in_use():
    first = login_plain()
    second = poplib.POP3(HOST, port, timeout=30)
    second.user("bob")
    try:
        second.pass_("bob-secret")
        raise AssertionError("second session was let in")
    except poplib.error_proto as error:
        assert "[IN-USE]" in str(error), error
    second.quit()
    first.quit()


check_capa_and_stls()
check_retr_top_uidl()
check_pop3s()
check_in_use()
check_dele_rset_quit()  # last: it deletes message 1
print("poplib: all checks passed")
