/* SPDX-License-Identifier: MIT
 * trace-packet.h: from one captured frame to one TCP segment: the link
 * layer (Ethernet, BSD null/loop, Linux cooked SLL and SLL2, raw IP), IPv4
 * (RFC 791) or IPv6 with its extension headers (RFC 8200), then the TCP
 * header (RFC 9293 §3.1). Pure: bytes in, a TracePacket out, no I/O.
 *
 * Frames come from the network or a file and are untrusted: every length
 * is checked against the captured length before it is read.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TCP header flags, RFC 9293 §3.1. */
#define TRACE_TCP_FIN 0x01
#define TRACE_TCP_SYN 0x02
#define TRACE_TCP_RST 0x04
#define TRACE_TCP_PSH 0x08
#define TRACE_TCP_ACK 0x10

typedef struct
{
  guint8 family;  /* 4 or 6 */
  guint8 src[16]; /* IPv4 uses the first 4 octets */
  guint8 dst[16];
  guint16 src_port;
  guint16 dst_port;
  guint32 seq;
  guint32 ack;
  guint8 flags;          /* TRACE_TCP_* */
  const guint8 *payload; /* points into the frame (transfer none) */
  gsize payload_length;
} TracePacket;

typedef enum
{
  TRACE_PACKET_TCP,         /* *out filled */
  TRACE_PACKET_NOT_TCP,     /* another protocol: skip quietly */
  TRACE_PACKET_TRUNCATED,   /* a header runs past the captured bytes */
  TRACE_PACKET_FRAGMENT,    /* an IP fragment: not reassembled */
  TRACE_PACKET_BAD_LINKTYPE /* a link type mw-trace does not read */
} TracePacketResult;

/* @linktype is a pcap DLT_* value. When the capture was cut short (snaplen)
 * payload_length is what was captured, which may be less than what was
 * sent; *out_missing then holds how many octets were cut. */
TracePacketResult trace_packet_parse (int linktype,
                                      const guint8 *frame,
                                      gsize captured,
                                      TracePacket *out,
                                      gsize *out_missing);

/* TRUE if mw-trace can read frames of this pcap link type. */
gboolean trace_packet_linktype_supported (int linktype);

/* The latest time a capture's timestamp is taken to say: the last second
 * of year 9999 (UTC), as seconds since 1970. */
#define TRACE_PACKET_LAST_SECOND G_GINT64_CONSTANT (253402300799)

/* A capture header's time (@seconds, @microseconds) in microseconds
 * since 1970. The file is untrusted: a pcapng timestamp can say any
 * 64-bit number of its units, which times a million would overflow, so
 * the seconds are held to 0 ... TRACE_PACKET_LAST_SECOND, and any two
 * times can still be subtracted. */
gint64 trace_packet_time_us (gint64 seconds, gint64 microseconds);

/* "192.0.2.1" or "2001:db8::1" (transfer full). */
char *trace_packet_address_to_string (guint8 family, const guint8 *address);

G_END_DECLS
