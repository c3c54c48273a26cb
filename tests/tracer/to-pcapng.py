#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""to-pcapng.py IN.pcap OUT.pcapng plain|second-interface

Writes the packets of IN.pcap (classic pcap, microseconds, little-endian)
again as pcapng, the same octets and times:
  plain             one section, one interface: what mw-trace reads in
                    place (src/tracer/trace-file.h)
  second-interface  a second interface (of the same link type) described
                    halfway, the rest of the packets on it: where the
                    in-place reader stops and libpcap reads the file from
                    the start, passing over the packets already decoded
test-tracer.c (/tracer/file/*) decodes both and wants what the original
decodes to, byte for byte.
"""
import struct
import sys


def block(kind, body):
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def main():
    source, target, how = sys.argv[1:4]
    data = open(source, "rb").read()
    magic, _, _, _, _, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4, "pcap, microseconds, little-endian"
    records, offset = [], 24
    while offset + 16 <= len(data):
        sec, usec, caplen, length = struct.unpack("<IIII", data[offset:offset + 16])
        records.append((sec * 1000000 + usec, length,
                        data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    interface = struct.pack("<HHI", linktype, 0, snaplen)
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
           block(1, interface)]
    for index, (time, length, frame) in enumerate(records):
        on = 0
        if how == "second-interface" and index >= len(records) // 2:
            if index == len(records) // 2:
                out.append(block(1, interface))
            on = 1
        out.append(block(6, struct.pack("<IIIII", on, time >> 32,
                                        time & 0xFFFFFFFF, len(frame), length)
                         + frame))
    open(target, "wb").write(b"".join(out))


if __name__ == "__main__":
    main()
