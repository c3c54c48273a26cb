/* SPDX-License-Identifier: MIT
 * fuzz-tcp-flow.c: TCP reassembly (src/tracer/tcp-flow.h: RFC 9293 §3.4
 * sequence numbers modulo 2^32, §3.10.7 segment arrival), then the
 * sessions and decoders, fed with segments built from the input: out of
 * order, overlapping, retransmitted, around the 2^32 wrap, with SYN,
 * FIN and RST anywhere, on up to two connections.
 * Input: one octet choosing the server port and output options, one the
 * initial sequence numbers' high bits, then segments: flags (bit 7:
 * server to client; bit 6: second connection; bits 0-4: FIN SYN RST PSH
 * ACK), a signed 16-bit sequence offset and a 16-bit ack offset (both
 * relative to that direction's initial number), a length octet and the
 * payload.
 */
#include "trace-harness.h"

typedef struct
{
  guint8 client[4];
  guint8 server[4];
  guint16 client_port;
  guint32 isn[2];
} Connection;

static void
build_packet (TracePacket *packet,
              const Connection *connection,
              guint16 server_port,
              TraceDirection direction)
{
  gboolean to_server = direction == TRACE_CLIENT_TO_SERVER;

  memset (packet, 0, sizeof *packet);
  packet->family = 4;
  memcpy (packet->src, to_server ? connection->client : connection->server, 4);
  memcpy (packet->dst, to_server ? connection->server : connection->client, 4);
  packet->src_port = to_server ? connection->client_port : server_port;
  packet->dst_port = to_server ? server_port : connection->client_port;
}

static guint16
take_u16 (const uint8_t **data, size_t *size)
{
  guint16 high = fuzz_byte (data, size);

  return (guint16) (high << 8 | fuzz_byte (data, size));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  TraceHarness harness;
  TcpFlowTable *table;
  Connection connections[2] = {
    { { 192, 0, 2, 1 }, { 192, 0, 2, 25 }, 40000, { 0, 0 } },
    { { 192, 0, 2, 2 }, { 192, 0, 2, 25 }, 40001, { 0, 0 } },
  };
  guint16 server_port;
  guint8 choice;
  guint8 wrap;
  gint64 now = 1000000;

  fuzz_init ();
  choice = fuzz_byte (&data, &size);
  wrap = fuzz_byte (&data, &size);
  trace_harness_init (&harness, choice >> 4);
  server_port =
      trace_harness_ports[(choice & 0x0f) % G_N_ELEMENTS (trace_harness_ports)];
  for (guint c = 0; c < 2; c++)
    {
      /* near the wrap when asked: 2^32 - 300 + a little */
      connections[c].isn[0] = (wrap & 1) ? 0xfffffed4u + c : 1000u + c;
      connections[c].isn[1] = (wrap & 2) ? 0xffffff00u : 5000u;
    }
  table = tcp_flow_table_new (&trace_harness_callbacks, &harness);
  while (size > 0)
    {
      guint8 flags = fuzz_byte (&data, &size);
      TraceDirection direction =
          (flags & 0x80) ? TRACE_SERVER_TO_CLIENT : TRACE_CLIENT_TO_SERVER;
      const Connection *connection = &connections[(flags >> 6) & 1];
      gint16 seq_offset = (gint16) take_u16 (&data, &size);
      guint16 ack_offset = take_u16 (&data, &size);
      gsize length = fuzz_byte (&data, &size);
      TracePacket packet;

      build_packet (&packet, connection, server_port, direction);
      packet.flags = flags & 0x1f;
      packet.seq = connection->isn[direction] + (guint32) (gint32) seq_offset;
      packet.ack = connection->isn[!direction] + ack_offset;
      packet.payload = data;
      packet.payload_length = fuzz_take (&data, &size, length);
      now += 1000;
      harness.frame++;
      tcp_flow_table_add (table, &packet, now);
    }
  tcp_flow_table_free (table, now);
  trace_harness_finish (&harness);
  return 0;
}
