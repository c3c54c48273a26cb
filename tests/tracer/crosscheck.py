#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""crosscheck.py MW_TRACE PCAP TSV PROTOCOL [KEYLOG]

Compares, for every TCP flow of PCAP, the sequence of protocol events that
mw-trace --json reports with the one tshark reported in TSV (the tshark
command is in captures/README.md; for TLS captures, record-tls.sh runs it
with -o tls.keylog_file:KEYLOG, and mw-trace is given --keylog KEYLOG):
  smtp: client commands (verbs) and server reply codes, one per reply
  pop:  client commands and +OK/-ERR indicators
  imap: tagged commands (tag + command) and tagged completions (tag + status)

tshark 4.0 is not a perfect oracle. Each known, RFC-justified difference is
a named rule below, applied to one side before comparing; the script prints
how often each rule applied. Any other difference fails (exit 1).
"""
import csv
import json
import subprocess
import sys
from collections import defaultdict

# rule name -> (which side it adjusts, why mw-trace is right)
RULES = {
    "smtp-text-after-rejected-data": (
        "tshark",
        "tshark treats the lines a client sends after a rejected DATA as "
        "message text; RFC 5321 §4.1.1.4 and §3.3: only a 354 reply starts "
        "the mail data, so after a 503 they are commands"),
    "smtp-command-after-data-read-as-text": (
        "tshark",
        "when the line \".\" that ends the mail data comes in a TLS record of "
        "its own (mutt writes it so), tshark 4.0 misses it and lists the "
        "client's next lines as DATA fragments; RFC 5321 §4.1.1.4: the mail "
        "data ends at that line, and the server's reply to it (seen by both) "
        "says so, so what follows are commands"),
    "smtp-bdat-not-decoded": (
        "tshark",
        "tshark 4.0 does not decode BDAT; RFC 3030 §2 defines it as a "
        "command followed by exactly chunk-size octets"),
    "smtp-unknown-verb-not-listed": (
        "tshark",
        "tshark leaves smtp.req.command empty for a verb it does not know; "
        "RFC 5321 §4.2.4: it is still a command, answered with 500"),
    "pop-first-command-per-packet": (
        "tshark",
        "tshark decodes only the first of several POP3 commands pipelined in "
        "one packet; RFC 2449 §6.6 (PIPELINING) lets a client send many"),
    "pop-first-response-per-packet": (
        "tshark",
        "tshark decodes only the first of several POP3 responses in one "
        "packet; RFC 2449 §6.6: the server answers a pipelined batch in "
        "order, often in one segment"),
    "smtp-starttls-cut": (
        "tshark",
        "tshark 4.0 reports the verb STARTTLS as command STAR with parameter "
        "TLS; RFC 3207 §4 defines the verb STARTTLS"),
    "pop-sasl-response-read-as-command": (
        "tshark",
        "tshark reads the client's answer to an AUTH challenge as a "
        "command; RFC 5034 §4: after \"+ \" the client sends a base64 "
        "response line, not a command"),
    "imap-literal-read-as-command": (
        "tshark",
        "tshark reads the octets of an APPEND literal as commands; RFC 9051 "
        "§4.3: the {n} octets after a literal announcement are data"),
}

applied = defaultdict(int)

# RFC 1939 §4-§7, RFC 2449 §5 (CAPA), RFC 2595 §4 (STLS), RFC 5034 (AUTH),
# RFC 6856 (UTF8, LANG)
POP3_VERBS = {"USER", "PASS", "APOP", "STAT", "LIST", "RETR", "DELE", "NOOP",
              "RSET", "QUIT", "TOP", "UIDL", "CAPA", "STLS", "AUTH", "UTF8",
              "LANG"}


def split(value):
    return [v for v in value.split("|") if v != ""] if value else []


def tshark_tokens(tsv, protocol, literal_frames, servers, blank_frames):
    """flow (client port) -> list of (frame, token). @servers: the server
    ports (from mw-trace's open events: servers on ephemeral ports may have
    the larger port number). Fills @blank_frames with the SMTP client
    frames tshark lists with no command (message text, as it sees it)."""
    flows = defaultdict(list)
    with open(tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            frame = int(row["frame.number"])
            src, dst = int(row["tcp.srcport"]), int(row["tcp.dstport"])
            client = src if dst in servers else dst
            from_client = src == client
            out = flows[client]
            if protocol == "smtp":
                if from_client:
                    commands = [c.upper() for c in
                                split(row["smtp.req.command"])]
                    if not commands:
                        blank_frames.add(frame)
                    if "STAR" in commands:
                        applied["smtp-starttls-cut"] += commands.count("STAR")
                    out += [(frame, "C:" + ("STARTTLS" if c == "STAR" else c))
                            for c in commands]
                else:
                    out += [(frame, "S:" + c)
                            for c in split(row["smtp.response.code"])]
            elif protocol == "pop":
                if from_client:
                    for c in split(row["pop.request.command"]):
                        after_auth = [t for _, t in out
                                      if t.startswith("C:")][-1:] == ["C:AUTH"]
                        if after_auth and c.upper() not in POP3_VERBS:
                            applied["pop-sasl-response-read-as-command"] += 1
                            continue
                        out.append((frame, "C:" + c.upper()))
                else:
                    out += [(frame, "S:" + c)
                            for c in split(row["pop.response.indicator"])]
            else:
                if from_client:
                    tags = split(row["imap.request_tag"])
                    verbs = split(row["imap.request.command"])
                    if frame in literal_frames and tags:
                        applied["imap-literal-read-as-command"] += 1
                        continue
                    out += [(frame, f"C:{t} {v.upper()}")
                            for t, v in zip(tags, verbs)]
                else:
                    tags = [t for t in split(row["imap.response_tag"])
                            if t != ")"]
                    statuses = split(row["imap.response.status"])
                    out += [(frame, f"S:{t} {s.upper()}")
                            for t, s in zip(tags, statuses)
                            if t not in ("+", "*")]
    return flows


def mw_events(mw_trace, pcap, keylog):
    extra = ["--keylog", keylog] if keylog else []
    result = subprocess.run([mw_trace, "--json", "-r", pcap] + extra,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"mw-trace failed ({result.returncode}): {result.stderr}")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for e in events:
        assert e["schema"] == "mw-trace/1", e
    return events


def mw_tokens(events, protocol):
    flows = defaultdict(list)
    ports = {}
    literal_frames = set()
    for e in events:
        if e["kind"] == "open":
            ports[e["tcp.stream"]] = e["tcp.srcport"]
            continue
        if e.get("proto") != protocol:
            continue
        out = flows[ports[e["tcp.stream"]]]
        frame = e["frame.number"]
        if protocol == "smtp":
            if "smtp.req.command" in e:
                out.append((frame, "C:" + e["smtp.req.command"].upper()))
            elif "smtp.response.code" in e and e.get("mw.last") == 1:
                out.append((frame, f"S:{e['smtp.response.code']}"))
        elif protocol == "pop":
            if "pop.request.command" in e:
                out.append((frame, "C:" + e["pop.request.command"]))
            elif "pop.response.indicator" in e and \
                    e["pop.response.indicator"] != "+":
                out.append((frame, "S:" + e["pop.response.indicator"]))
        else:
            if "imap.request.tag" in e:
                out.append((frame, f"C:{e['imap.request.tag']} "
                                   f"{e['imap.request.command']}"))
            elif e.get("imap.response.tag") not in (None, "*", "+") and \
                    "imap.response.status" in e:
                out.append((frame, f"S:{e['imap.response.tag']} "
                                   f"{e['imap.response.status']}"))
            elif e["kind"] == "data" and e.get("dir") == "C->S":
                literal_frames.add(frame)
    return flows, literal_frames


# The verbs tshark 4.0's SMTP dissector recognises as commands.
TSHARK_SMTP_VERBS = {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "VRFY",
                     "EXPN", "HELP", "NOOP", "QUIT", "STARTTLS", "AUTH",
                     "BDAT", "ETRN", "TURN", "ATRN", "SEND", "SOML", "SAML"}


def as_tshark_sees_smtp(tokens, blank_frames):
    """tshark's view: text after a rejected DATA, no BDAT, no unknown verbs,
    commands after the end of data that tshark listed as text (frames in
    @blank_frames). Replies are paired with commands in order (RFC 2920
    §3.1) to find the reply to DATA and to its end."""
    out = []
    in_text = False
    after_data = False  # the reply to the end of data has come
    waiting = []  # commands sent, not yet answered
    greeted = False
    for frame, token in tokens:
        if token.startswith("C:"):
            verb = token[2:]
            if in_text:
                applied["smtp-text-after-rejected-data"] += 1
                continue
            if after_data and frame in blank_frames:
                applied["smtp-command-after-data-read-as-text"] += 1
                continue
            waiting.append(verb)
            if verb == "BDAT":
                applied["smtp-bdat-not-decoded"] += 1
                continue
            if verb not in TSHARK_SMTP_VERBS:
                applied["smtp-unknown-verb-not-listed"] += 1
                continue
        elif not greeted:
            greeted = True
        elif waiting:
            answered = waiting.pop(0)
            after_data = answered == "."
            if answered == "DATA" and token == "S:354":
                waiting.insert(0, ".")  # the end of data gets a reply too
            elif answered == "DATA":
                in_text = True
        out.append((frame, token))
    return out


def as_tshark_sees_pop(tokens):
    out = []
    for frame, token in tokens:
        if out and out[-1][0] == frame and out[-1][1][:2] == token[:2]:
            applied["pop-first-command-per-packet" if token.startswith("C:")
                    else "pop-first-response-per-packet"] += 1
            continue
        out.append((frame, token))
    return out


def main():
    mw_trace, pcap, tsv, protocol = sys.argv[1:5]
    keylog = sys.argv[5] if len(sys.argv) > 5 else None
    events = mw_events(mw_trace, pcap, keylog)
    mw, literal_frames = mw_tokens(events, protocol)
    servers = {e["tcp.dstport"] for e in events if e["kind"] == "open"}
    blank_frames = set()
    ts = tshark_tokens(tsv, protocol, literal_frames, servers, blank_frames)
    failed = False
    if sorted(mw) != sorted(ts):
        print(f"flows differ: mw-trace {sorted(mw)} tshark {sorted(ts)}")
        failed = True
    for flow in sorted(set(mw) | set(ts)):
        mine = mw.get(flow, [])
        if protocol == "smtp":
            mine = as_tshark_sees_smtp(mine, blank_frames)
        elif protocol == "pop":
            mine = as_tshark_sees_pop(mine)
        a = [t for _, t in mine]
        b = [t for _, t in ts.get(flow, [])]
        status = "same" if a == b else "DIFFERENT"
        print(f"flow client port {flow}: {len(a)} events, {status}")
        if a != b:
            failed = True
            for i in range(max(len(a), len(b))):
                x = a[i] if i < len(a) else "-"
                y = b[i] if i < len(b) else "-"
                print(f"  {'  ' if x == y else '!!'} mw-trace {x:24} tshark {y}")
    for rule, count in sorted(applied.items()):
        side, why = RULES[rule]
        print(f"known difference {rule} (x{count}): {why}")
    total = sum(len(v) for v in mw.values())
    decrypted = sum(1 for e in events if e.get("tls.decrypted") and
                    e.get("proto") == protocol and
                    e["kind"] in ("command", "reply"))
    print(f"{pcap}: {len(mw)} flows, {total} events compared, "
          f"{decrypted} of mw-trace's commands and replies decrypted")
    if total == 0:
        print("nothing compared")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
