#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""resegment.py IN.pcap OUT.pcap split|batch

Writes the TCP conversations of IN.pcap (Ethernet, as tcpdump -i lo
writes) again, the same octets in the same order, cut differently:
  split  every segment at most 7 octets: each TLS record header and body
         spread over many segments
  batch  what one side sends before the other answers in one segment:
         several TLS records (and lines) per segment
Retransmissions are dropped; ports are kept. The segments are written with
make-captures.py's Conn, so the TCP and IP headers are made the same way
as the crafted captures'. test-tracer.c (/tracer/tls/resegmented/*) cuts
tls-smtp.pcap both ways and checks that it decodes to the same lines.
"""
import importlib.util
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "make_captures", os.path.join(here, "make-captures.py"))
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)


def tcp_segments(path):
    """(client port, server port, 'c' or 's', seq, payload, flags) in
    capture order; the client is the side that sent the SYN."""
    data = open(path, "rb").read()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4, "pcap, microseconds"
    assert struct.unpack("<I", data[20:24])[0] == 1, "Ethernet"
    offset, clients, out = 24, {}, []
    while offset + 16 <= len(data):
        caplen = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if flags & 0x12 == 0x02:  # SYN: the client opens
            clients[(sport, dport)] = True
        if (sport, dport) in clients:
            out.append((sport, dport, "c", seq, payload, flags))
        elif (dport, sport) in clients:
            out.append((dport, sport, "s", seq, payload, flags))
    return out


def conversations(path):
    """{(client port, server port): [(who, octets)]}, in order, without
    retransmissions."""
    turns, next_seq = {}, {}
    for cport, sport, who, seq, payload, flags in tcp_segments(path):
        key = (cport, sport)
        turns.setdefault(key, [])
        if flags & 0x02:
            next_seq[key, who] = (seq + 1) & 0xFFFFFFFF
            continue
        expected = next_seq.get((key, who))
        if not payload or expected is None:
            continue
        skip = (expected - seq) & 0xFFFFFFFF
        if skip >= len(payload):
            continue  # a retransmission of what was seen
        payload = payload[skip:]
        next_seq[key, who] = (expected + len(payload)) & 0xFFFFFFFF
        turns[key].append((who, payload))
    return turns


def main():
    source, target, how = sys.argv[1:4]
    conns = []
    for (cport, sport), turns in conversations(source).items():
        conn = mc.Conn(cport=cport, sport=sport)
        conn.handshake()
        merged = []
        for who, octets in turns:
            if how == "batch" and merged and merged[-1][0] == who:
                merged[-1] = (who, merged[-1][1] + octets)
            else:
                merged.append((who, octets))
        for who, octets in merged:
            conn.send(who, octets, mss=7 if how == "split" else 65000)
        conn.close()
        conns.append(conn)
    mc.write_conns(target, conns, 1)


if __name__ == "__main__":
    main()
