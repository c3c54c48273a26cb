/* SPDX-License-Identifier: MIT
 * trace-packet.c: link layer, IPv4 (RFC 791 §3.1), IPv6 (RFC 8200 §3-§4)
 * and TCP (RFC 9293 §3.1) headers of one captured frame.
 */
#include "trace-packet.h"

#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <string.h>
#include <sys/socket.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100 /* IEEE 802.1Q */
#define ETHERTYPE_QINQ 0x88a8 /* IEEE 802.1ad */
#define IP_PROTOCOL_TCP 6

/* A cursor over the frame: every read checks what is left. */
typedef struct
{
  const guint8 *data;
  gsize length;
} Bytes;

static guint16
get16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static guint32
get32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | p[3];
}

static gboolean
bytes_skip (Bytes *b, gsize n)
{
  if (b->length < n)
    return FALSE;
  b->data += n;
  b->length -= n;
  return TRUE;
}

gboolean
trace_packet_linktype_supported (int linktype)
{
  switch (linktype)
    {
    case DLT_EN10MB:
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Leaves @b at the IP header; *out_version is 4, 6 or 0 (not IP). */
static TracePacketResult
link_layer_skip (int linktype, Bytes *b, int *out_version)
{
  guint16 type = 0;
  guint32 family = 0;

  *out_version = 0;
  switch (linktype)
    {
    case DLT_EN10MB: /* dst(6) src(6) type(2), then 802.1Q tags */
      if (!bytes_skip (b, 12) || b->length < 2)
        return TRACE_PACKET_TRUNCATED;
      type = get16 (b->data);
      bytes_skip (b, 2);
      for (int tags = 0;
           tags < 2 && (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ);
           tags++)
        {
          if (b->length < 4)
            return TRACE_PACKET_TRUNCATED;
          type = get16 (b->data + 2);
          bytes_skip (b, 4);
        }
      break;
    case DLT_NULL: /* 4-octet address family in the writer's byte order */
    case DLT_LOOP: /* the same, always big-endian */
      if (b->length < 4)
        return TRACE_PACKET_TRUNCATED;
      family = get32 (b->data);
      if (linktype == DLT_NULL && (family & 0xffff) == 0)
        family = GUINT32_SWAP_LE_BE (family);
      bytes_skip (b, 4);
      /* AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 by OS. */
      type = family == 2 ? ETHERTYPE_IPV4
             : (family == 10 || family == 24 || family == 28 || family == 30)
                 ? ETHERTYPE_IPV6
                 : 0;
      break;
    case DLT_LINUX_SLL: /* 16 octets, protocol type in the last 2 */
      if (b->length < 16)
        return TRACE_PACKET_TRUNCATED;
      type = get16 (b->data + 14);
      bytes_skip (b, 16);
      break;
    case DLT_LINUX_SLL2: /* 20 octets, protocol type first */
      if (b->length < 20)
        return TRACE_PACKET_TRUNCATED;
      type = get16 (b->data);
      bytes_skip (b, 20);
      break;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      if (b->length < 1)
        return TRACE_PACKET_TRUNCATED;
      *out_version = b->data[0] >> 4;
      return TRACE_PACKET_TCP;
    default:
      return TRACE_PACKET_BAD_LINKTYPE;
    }
  *out_version = type == ETHERTYPE_IPV4 ? 4 : type == ETHERTYPE_IPV6 ? 6 : 0;
  return TRACE_PACKET_TCP;
}

/* RFC 791 §3.1. Trims @b to the datagram (Ethernet pads short frames). */
static TracePacketResult
ipv4_skip (Bytes *b, TracePacket *out, gsize *out_missing)
{
  gsize header;
  gsize total;

  if (b->length < 20)
    return TRACE_PACKET_TRUNCATED;
  header = (gsize) (b->data[0] & 0x0f) * 4;
  total = get16 (b->data + 2);
  if (header < 20 || b->length < header)
    return TRACE_PACKET_TRUNCATED;
  if (b->data[9] != IP_PROTOCOL_TCP)
    return TRACE_PACKET_NOT_TCP;
  /* More-fragments flag or a fragment offset: not the whole segment. */
  if ((get16 (b->data + 6) & 0x3fff) != 0)
    return TRACE_PACKET_FRAGMENT;
  out->family = 4;
  memcpy (out->src, b->data + 12, 4);
  memcpy (out->dst, b->data + 16, 4);
  if (total == 0) /* segmentation offload: the length was left to the NIC */
    total = b->length;
  if (total < header)
    return TRACE_PACKET_TRUNCATED;
  if (total > b->length)
    *out_missing = total - b->length;
  else
    b->length = total;
  bytes_skip (b, header);
  return TRACE_PACKET_TCP;
}

/* RFC 8200 §3, §4: walk the extension headers to TCP. */
static TracePacketResult
ipv6_skip (Bytes *b, TracePacket *out, gsize *out_missing)
{
  guint8 next;
  gsize payload;

  if (b->length < 40)
    return TRACE_PACKET_TRUNCATED;
  next = b->data[6];
  payload = get16 (b->data + 4);
  out->family = 6;
  memcpy (out->src, b->data + 8, 16);
  memcpy (out->dst, b->data + 24, 16);
  bytes_skip (b, 40);
  if (payload == 0)
    payload = b->length; /* jumbogram or offload */
  if (payload > b->length)
    *out_missing = payload - b->length;
  else
    b->length = payload;
  for (int hops = 0; hops < 8 && next != IP_PROTOCOL_TCP; hops++)
    {
      gsize length;

      if (next == 44) /* Fragment header, RFC 8200 §4.5 */
        return TRACE_PACKET_FRAGMENT;
      if (next != 0 && next != 43 && next != 60) /* hop, routing, dest */
        return TRACE_PACKET_NOT_TCP;
      if (b->length < 8)
        return TRACE_PACKET_TRUNCATED;
      next = b->data[0];
      length = ((gsize) b->data[1] + 1) * 8;
      if (!bytes_skip (b, length))
        return TRACE_PACKET_TRUNCATED;
    }
  return next == IP_PROTOCOL_TCP ? TRACE_PACKET_TCP : TRACE_PACKET_NOT_TCP;
}

/* RFC 9293 §3.1: the fixed 20 octets, then options up to Data Offset. */
static TracePacketResult
tcp_parse (Bytes *b, TracePacket *out)
{
  gsize header;

  if (b->length < 20)
    return TRACE_PACKET_TRUNCATED;
  header = (gsize) (b->data[12] >> 4) * 4;
  if (header < 20 || b->length < header)
    return TRACE_PACKET_TRUNCATED;
  out->src_port = get16 (b->data);
  out->dst_port = get16 (b->data + 2);
  out->seq = get32 (b->data + 4);
  out->ack = get32 (b->data + 8);
  out->flags = b->data[13];
  bytes_skip (b, header);
  out->payload = b->data;
  out->payload_length = b->length;
  return TRACE_PACKET_TCP;
}

TracePacketResult
trace_packet_parse (int linktype,
                    const guint8 *frame,
                    gsize captured,
                    TracePacket *out,
                    gsize *out_missing)
{
  Bytes b = { frame, captured };
  TracePacketResult result;
  int version = 0;

  memset (out, 0, sizeof *out);
  *out_missing = 0;
  result = link_layer_skip (linktype, &b, &version);
  if (result != TRACE_PACKET_TCP)
    return result;
  if (version == 4)
    result = ipv4_skip (&b, out, out_missing);
  else if (version == 6)
    result = ipv6_skip (&b, out, out_missing);
  else
    return TRACE_PACKET_NOT_TCP;
  if (result != TRACE_PACKET_TCP)
    return result;
  return tcp_parse (&b, out);
}

/* "192.0.2.1": glibc's inet_ntop () writes it with sprintf (), which
 * cost more than everything else in opening a session; the dotted quad
 * has one spelling, four decimal numbers without leading zeros. */
static char *
ipv4_to_string (const guint8 *address)
{
  char text[INET_ADDRSTRLEN];
  char *p = text;

  for (int i = 0; i < 4; i++)
    {
      guint8 octet = address[i];

      if (i > 0)
        *p++ = '.';
      if (octet >= 100)
        *p++ = (char) ('0' + octet / 100);
      if (octet >= 10)
        *p++ = (char) ('0' + octet / 10 % 10);
      *p++ = (char) ('0' + octet % 10);
    }
  *p = '\0';
  return g_strdup (text);
}

char *
trace_packet_address_to_string (guint8 family, const guint8 *address)
{
  char text[INET6_ADDRSTRLEN] = "";

  if (family != 6)
    return ipv4_to_string (address);
  /* RFC 5952's rules for "::" are inet_ntop ()'s to apply */
  inet_ntop (AF_INET6, address, text, sizeof text);
  return g_strdup (text);
}

gint64
trace_packet_time_us (gint64 seconds, gint64 microseconds)
{
  seconds = CLAMP (seconds, 0, TRACE_PACKET_LAST_SECOND);
  microseconds = CLAMP (microseconds, 0, G_USEC_PER_SEC - 1);
  return seconds * G_USEC_PER_SEC + microseconds;
}
