/* SPDX-License-Identifier: MIT
 * test-tcp-flow.c: the reassembler on a case table (RFC 9293 §3.4,
 * §3.10.7.4): segments of "hello world" given in an order, with
 * retransmissions, overlaps, a hole acknowledged by the peer and sequence
 * numbers that wrap, must come out as the right stream and gaps. And
 * the addresses the sessions are named by, as inet_ntop () writes them.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp-flow.h"

typedef struct
{
  guint offset; /* into the stream */
  guint length;
  gboolean ack_from_peer; /* not data: the peer acknowledges up to offset */
} Step;

typedef struct
{
  const char *name;
  guint32 isn;
  gboolean syn; /* the capture saw the handshake */
  Step steps[8];
  const char *expected; /* delivered octets, "#N" for a gap of N */
} FlowCase;

static const char stream[] = "hello world, this is mail";

static const FlowCase flow_cases[] = {
  /* VALID */
  { "in-order",
    1000,
    TRUE,
    { { 0, 6 }, { 6, 6 }, { 12, 13 } },
    "hello world, this is mail" },
  { "out-of-order",
    1000,
    TRUE,
    { { 6, 6 }, { 0, 6 }, { 12, 13 } },
    "hello world, this is mail" },
  { "retransmission",
    1000,
    TRUE,
    { { 0, 6 }, { 0, 6 }, { 6, 19 } },
    "hello world, this is mail" },
  { "overlap",
    1000,
    TRUE,
    { { 0, 8 }, { 4, 10 }, { 12, 13 } },
    "hello world, this is mail" },
  { "sequence-wrap",
    0xfffffff8u,
    TRUE,
    { { 0, 6 }, { 6, 6 }, { 12, 13 } },
    "hello world, this is mail" },
  { "wrap-out-of-order",
    0xfffffff8u,
    TRUE,
    { { 12, 13 }, { 0, 6 }, { 6, 6 } },
    "hello world, this is mail" },
  /* RECOVERABLE */
  { "hole-acked-by-peer",
    1000,
    TRUE,
    { { 0, 6 }, { 12, 13 }, { 25, 0, TRUE } },
    "hello #6 this is mail" },
  { "hole-at-the-end-of-capture",
    1000,
    TRUE,
    { { 0, 6 }, { 12, 13 } },
    "hello #6 this is mail" },
  { "mid-session-start",
    1000,
    FALSE,
    { { 6, 6 }, { 12, 13 } },
    "world, this is mail" },
};

typedef struct
{
  GString *out;
  guint opened;
  guint closed;
} Collector;

static void
on_open (TcpFlow *flow, gint64 time_us, gpointer user_data)
{
  ((Collector *) user_data)->opened++;
}

static void
on_data (TcpFlow *flow,
         TraceDirection direction,
         const guint8 *data,
         gsize length,
         gint64 time_us,
         gpointer user_data)
{
  g_string_append_len (((Collector *) user_data)->out, (const char *) data,
                       length);
}

static void
on_gap (TcpFlow *flow,
        TraceDirection direction,
        guint64 missing,
        gint64 time_us,
        gpointer user_data)
{
  g_string_append_printf (((Collector *) user_data)->out, "#%" G_GUINT64_FORMAT,
                          missing);
}

static void
on_close (TcpFlow *flow, TcpFlowEnd how, gint64 time_us, gpointer user_data)
{
  ((Collector *) user_data)->closed++;
}

static gboolean
on_is_server_port (guint16 port, gpointer user_data)
{
  return port == 25;
}

static const TcpFlowCallbacks callbacks = {
  on_open, on_data, on_gap, on_close, on_is_server_port,
};

static void
packet_init (TracePacket *packet, gboolean from_client)
{
  memset (packet, 0, sizeof *packet);
  packet->family = 4;
  packet->src[0] = from_client ? 1 : 2;
  packet->dst[0] = from_client ? 2 : 1;
  packet->src_port = from_client ? 40000 : 25;
  packet->dst_port = from_client ? 25 : 40000;
  packet->flags = TRACE_TCP_ACK;
}

static void
test_flow_case (gconstpointer data)
{
  const FlowCase *c = data;
  Collector collector = { g_string_new (NULL), 0, 0 };
  TcpFlowTable *table = tcp_flow_table_new (&callbacks, &collector);
  TracePacket packet;
  guint32 first = c->isn + 1; /* the SYN takes one number */

  if (c->syn)
    {
      packet_init (&packet, TRUE);
      packet.flags = TRACE_TCP_SYN;
      packet.seq = c->isn;
      tcp_flow_table_add (table, &packet, 1);
    }
  for (guint i = 0; i < G_N_ELEMENTS (c->steps); i++)
    {
      const Step *step = &c->steps[i];
      if (step->length == 0 && !step->ack_from_peer)
        break;
      packet_init (&packet, !step->ack_from_peer);
      if (step->ack_from_peer)
        packet.ack = first + step->offset;
      else
        {
          packet.seq = first + step->offset;
          packet.payload = (const guint8 *) stream + step->offset;
          packet.payload_length = step->length;
        }
      tcp_flow_table_add (table, &packet, 2 + i);
    }
  tcp_flow_table_free (table, 100);
  g_assert_cmpuint (collector.opened, ==, 1);
  g_assert_cmpuint (collector.closed, ==, 1);
  g_assert_cmpstr (collector.out->str, ==, c->expected);
  g_string_free (collector.out, TRUE);
}

/* RFC 9293 §3.4: FIN takes a sequence number; FIN both ways ends it. */
static void
test_flow_fin (void)
{
  Collector collector = { g_string_new (NULL), 0, 0 };
  TcpFlowTable *table = tcp_flow_table_new (&callbacks, &collector);
  TracePacket packet;

  packet_init (&packet, TRUE);
  packet.flags = TRACE_TCP_SYN;
  packet.seq = 10;
  tcp_flow_table_add (table, &packet, 1);
  packet_init (&packet, FALSE);
  packet.flags = TRACE_TCP_SYN | TRACE_TCP_ACK;
  packet.seq = 500;
  tcp_flow_table_add (table, &packet, 2);
  packet_init (&packet, TRUE);
  packet.flags = TRACE_TCP_FIN | TRACE_TCP_ACK;
  packet.seq = 11;
  packet.payload = (const guint8 *) "QUIT\r\n";
  packet.payload_length = 6;
  tcp_flow_table_add (table, &packet, 3);
  g_assert_cmpuint (collector.closed, ==, 0);
  packet_init (&packet, FALSE);
  packet.flags = TRACE_TCP_FIN | TRACE_TCP_ACK;
  packet.seq = 501;
  packet.ack = 18;
  tcp_flow_table_add (table, &packet, 4);
  g_assert_cmpuint (collector.closed, ==, 1);
  g_assert_cmpstr (collector.out->str, ==, "QUIT\r\n");
  tcp_flow_table_free (table, 5);
  g_assert_cmpuint (collector.closed, ==, 1);
  g_string_free (collector.out, TRUE);
}

/* trace_packet_address_to_string () writes IPv4 itself (trace-packet.c):
 * every octet value, in every place, as inet_ntop () would. */
/* A capture's timestamps are untrusted: times past year 9999 (a pcapng
 * count of units can say millions of years) or before 1970 are held to
 * that range, so that no multiplication or subtraction overflows. */
static void
test_time_held_to_range (void)
{
  g_assert_cmpint (trace_packet_time_us (1700000000, 5), ==,
                   G_GINT64_CONSTANT (1700000000000005));
  g_assert_cmpint (trace_packet_time_us (G_MAXINT64, G_MAXINT64), ==,
                   TRACE_PACKET_LAST_SECOND * G_USEC_PER_SEC + G_USEC_PER_SEC -
                       1);
  g_assert_cmpint (trace_packet_time_us (18376481795471, 0), ==,
                   TRACE_PACKET_LAST_SECOND * G_USEC_PER_SEC);
  g_assert_cmpint (trace_packet_time_us (G_MININT64, -1), ==, 0);
}

static void
test_ipv4_as_inet_ntop (void)
{
  for (guint value = 0; value < 256; value++)
    for (guint place = 0; place < 4; place++)
      {
        guint8 address[4] = { 192, 0, 2, 1 };
        char expected[INET_ADDRSTRLEN] = "";
        g_autofree char *text = NULL;

        address[place] = (guint8) value;
        inet_ntop (AF_INET, address, expected, sizeof expected);
        text = trace_packet_address_to_string (4, address);
        g_assert_cmpstr (text, ==, expected);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (flow_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/tracer/tcp-flow/%s", flow_cases[i].name);
      g_test_add_data_func (path, &flow_cases[i], test_flow_case);
    }
  g_test_add_func ("/tracer/tcp-flow/fin-both-ways-ends-the-flow",
                   test_flow_fin);
  g_test_add_func ("/tracer/trace-packet/ipv4-as-inet-ntop",
                   test_ipv4_as_inet_ntop);
  g_test_add_func ("/tracer/trace-packet/time-held-to-year-1970-to-9999",
                   test_time_held_to_range);
  return g_test_run ();
}
