/* SPDX-License-Identifier: MIT
 * fuzz-trace-packet.c: one captured frame to one TCP segment
 * (src/tracer/trace-packet.h): Ethernet with 802.1Q tags, BSD null/loop,
 * Linux SLL and SLL2, raw IP; IPv4 (RFC 791) and IPv6 with extension
 * headers (RFC 8200); the TCP header (RFC 9293 §3.1).
 * Input: one octet choosing the link type, then the frame.
 * Invariants: a TCP result's payload lies inside the frame; an address
 * prints.
 */
#include <pcap/dlt.h>

#include "fuzz.h"
#include "trace-packet.h"

static const int linktypes[] = {
  DLT_EN10MB, DLT_NULL, DLT_LOOP,       DLT_LINUX_SLL, DLT_RAW,
  DLT_IPV4,   DLT_IPV6, DLT_LINUX_SLL2, DLT_IEEE802_11
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  TracePacket packet = { 0 };
  gsize missing = 0;
  int linktype;
  g_autofree uint8_t *frame = NULL;

  fuzz_init ();
  linktype = linktypes[fuzz_byte (&data, &size) % G_N_ELEMENTS (linktypes)];
  /* a copy of exactly the frame, so a read past it is caught */
  frame = g_memdup2 (data, size);
  if (trace_packet_parse (linktype, frame, size, &packet, &missing) !=
      TRACE_PACKET_TCP)
    return 0;
  g_assert_true (trace_packet_linktype_supported (linktype));
  g_assert_true (packet.family == 4 || packet.family == 6);
  g_assert_cmpuint (packet.payload_length, <=, size);
  if (packet.payload_length > 0)
    {
      g_assert_true (packet.payload >= frame);
      g_assert_true (packet.payload + packet.payload_length <= frame + size);
    }
  g_free (trace_packet_address_to_string (packet.family, packet.src));
  g_free (trace_packet_address_to_string (packet.family, packet.dst));
  return 0;
}
