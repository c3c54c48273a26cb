/* SPDX-License-Identifier: MIT
 * tcp-flow.c: per-connection, per-direction TCP reassembly (RFC 9293
 * §3.4: sequence numbers are compared modulo 2^32; §3.10.7.4: a segment
 * is trimmed to the part not yet received).
 */
#include "tcp-flow.h"

#include <string.h>

/* The connection as a key that is the same in both directions. */
typedef struct
{
  guint8 family;
  guint8 address_a[16];
  guint8 address_b[16];
  guint16 port_a;
  guint16 port_b;
} FlowKey;

typedef struct
{
  guint32 seq;
  gsize length;
  guint8 data[]; /* a copy: the frame is gone once we return */
} Segment;

struct _TcpFlowTable
{
  TcpFlowCallbacks callbacks;
  gpointer user_data;
  GHashTable *flows; /* FlowKey* -> TcpFlow* (both owned) */
  /* The flow of the segment before and its key: segments mostly come in
   * runs of one connection, and this spares the hash of every one. */
  FlowKey last_key;
  TcpFlow *last_flow;
  guint next_id;
  gboolean warned_full;
};

/* RFC 9293 §3.4: "a < b" for sequence numbers, wrapping at 2^32. */
static gboolean
seq_before (guint32 a, guint32 b)
{
  return (gint32) (a - b) < 0;
}

static guint
flow_key_hash (gconstpointer key)
{
  const guint8 *p = key;
  guint32 hash = 2166136261u; /* FNV-1a */

  for (gsize i = 0; i < sizeof (FlowKey); i++)
    hash = (hash ^ p[i]) * 16777619u;
  return hash;
}

static gboolean
flow_key_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, sizeof (FlowKey)) == 0;
}

static void
flow_key_from_packet (const TracePacket *packet, FlowKey *key)
{
  int order = memcmp (packet->src, packet->dst, 16);

  memset (key, 0, sizeof *key);
  key->family = packet->family;
  if (order < 0 || (order == 0 && packet->src_port < packet->dst_port))
    {
      memcpy (key->address_a, packet->src, 16);
      memcpy (key->address_b, packet->dst, 16);
      key->port_a = packet->src_port;
      key->port_b = packet->dst_port;
    }
  else
    {
      memcpy (key->address_a, packet->dst, 16);
      memcpy (key->address_b, packet->src, 16);
      key->port_a = packet->dst_port;
      key->port_b = packet->src_port;
    }
}

static void
half_clear (TcpHalf *half)
{
  g_queue_clear_full (&half->pending, g_free);
  half->pending_bytes = 0;
}

static void
flow_free (gpointer data)
{
  TcpFlow *flow = data;

  half_clear (&flow->half[0]);
  half_clear (&flow->half[1]);
  g_free (flow);
}

TcpFlowTable *
tcp_flow_table_new (const TcpFlowCallbacks *callbacks, gpointer user_data)
{
  TcpFlowTable *table = g_new0 (TcpFlowTable, 1);

  table->callbacks = *callbacks;
  table->user_data = user_data;
  table->flows =
      g_hash_table_new_full (flow_key_hash, flow_key_equal, g_free, flow_free);
  return table;
}

/* Which end is the client: the SYN says so; otherwise the well-known port
 * is the server's, and failing that the lower port (ephemeral ports are
 * high, RFC 6335 §6). */
static gboolean
sender_is_client (TcpFlowTable *table, const TracePacket *packet)
{
  gboolean src_known;
  gboolean dst_known;

  if ((packet->flags & TRACE_TCP_SYN) != 0)
    return (packet->flags & TRACE_TCP_ACK) == 0;
  src_known =
      table->callbacks.is_server_port (packet->src_port, table->user_data);
  dst_known =
      table->callbacks.is_server_port (packet->dst_port, table->user_data);
  if (src_known != dst_known)
    return dst_known;
  return packet->dst_port < packet->src_port;
}

static TcpFlow *
flow_new (TcpFlowTable *table, const TracePacket *packet, gint64 time_us)
{
  TcpFlow *flow = g_new0 (TcpFlow, 1);
  gboolean client = sender_is_client (table, packet);

  flow->id = table->next_id++;
  flow->family = packet->family;
  memcpy (flow->client_address, client ? packet->src : packet->dst, 16);
  memcpy (flow->server_address, client ? packet->dst : packet->src, 16);
  flow->client_port = client ? packet->src_port : packet->dst_port;
  flow->server_port = client ? packet->dst_port : packet->src_port;
  flow->first_us = time_us;
  flow->last_us = time_us;
  flow->saw_syn = (packet->flags & TRACE_TCP_SYN) != 0;
  g_queue_init (&flow->half[0].pending);
  g_queue_init (&flow->half[1].pending);
  return flow;
}

static void
deliver (TcpFlowTable *table,
         TcpFlow *flow,
         TraceDirection direction,
         const guint8 *data,
         gsize length,
         gint64 time_us)
{
  TcpHalf *half = &flow->half[direction];

  half->next_seq += (guint32) length;
  half->octets += length;
  if (!flow->closed)
    table->callbacks.data (flow, direction, data, length, time_us,
                           table->user_data);
}

/* Hands on every held segment that now touches next_seq. */
static void
drain_pending (TcpFlowTable *table,
               TcpFlow *flow,
               TraceDirection direction,
               gint64 time_us)
{
  TcpHalf *half = &flow->half[direction];
  Segment *head;

  while ((head = g_queue_peek_head (&half->pending)) != NULL &&
         !seq_before (half->next_seq, head->seq))
    {
      guint32 end = head->seq + (guint32) head->length;

      g_queue_pop_head (&half->pending);
      half->pending_bytes -= head->length;
      if (seq_before (half->next_seq, end))
        {
          gsize skip = half->next_seq - head->seq;
          deliver (table, flow, direction, head->data + skip,
                   head->length - skip, time_us);
        }
      g_free (head);
    }
}

/* Declares the octets before @upto that never arrived as missing, and
 * hands on what was held behind them. */
static void
skip_to (TcpFlowTable *table,
         TcpFlow *flow,
         TraceDirection direction,
         guint32 upto,
         gint64 time_us)
{
  TcpHalf *half = &flow->half[direction];

  for (guint rounds = 0; rounds < 100000 && seq_before (half->next_seq, upto);
       rounds++)
    {
      Segment *head = g_queue_peek_head (&half->pending);
      guint32 stop = upto;
      guint32 missing;

      if (head != NULL && seq_before (head->seq, upto))
        stop = head->seq;
      missing = stop - half->next_seq;
      if (missing > 0)
        {
          half->next_seq = stop;
          flow->missing += missing;
          if (!flow->closed)
            table->callbacks.gap (flow, direction, missing, time_us,
                                  table->user_data);
        }
      drain_pending (table, flow, direction, time_us);
    }
}

static void
hold_segment (TcpHalf *half, guint32 seq, const guint8 *data, gsize length)
{
  Segment *segment = g_malloc (sizeof (Segment) + length);
  GList *link = half->pending.head;

  segment->seq = seq;
  segment->length = length;
  memcpy (segment->data, data, length);
  while (link != NULL && !seq_before (seq, ((Segment *) link->data)->seq))
    link = link->next;
  if (link != NULL)
    g_queue_insert_before (&half->pending, link, segment);
  else
    g_queue_push_tail (&half->pending, segment);
  half->pending_bytes += length;
}

static void
add_payload (TcpFlowTable *table,
             TcpFlow *flow,
             TraceDirection direction,
             guint32 seq,
             const guint8 *data,
             gsize length,
             gint64 time_us)
{
  TcpHalf *half = &flow->half[direction];
  guint32 end = seq + (guint32) length;

  if (!half->synced)
    {
      half->synced = TRUE;
      half->midstream = TRUE;
      half->next_seq = seq;
    }
  if (!seq_before (half->next_seq, end))
    {
      flow->retransmissions++;
      return;
    }
  if (seq_before (seq, half->next_seq)) /* overlap: keep only new octets */
    {
      gsize skip = half->next_seq - seq;
      data += skip;
      length -= skip;
      seq = half->next_seq;
    }
  if (seq != half->next_seq)
    {
      flow->out_of_order++;
      hold_segment (half, seq, data, length);
      if (half->pending_bytes > TCP_FLOW_MAX_PENDING)
        skip_to (table, flow, direction,
                 ((Segment *) g_queue_peek_head (&half->pending))->seq,
                 time_us);
      return;
    }
  deliver (table, flow, direction, data, length, time_us);
  drain_pending (table, flow, direction, time_us);
}

/* The peer acknowledged octets we never captured: they are lost to us. */
static void
check_ack (TcpFlowTable *table,
           TcpFlow *flow,
           TraceDirection acked,
           guint32 ack,
           gint64 time_us)
{
  TcpHalf *half = &flow->half[acked];
  guint32 limit = ack;

  if (!half->synced || half->finished)
    return;
  if (half->fin_seen && seq_before (half->fin_seq, limit))
    limit = half->fin_seq; /* the FIN itself takes one sequence number */
  if (seq_before (half->next_seq, limit))
    skip_to (table, flow, acked, limit, time_us);
}

static void
end_flow (TcpFlowTable *table, TcpFlow *flow, TcpFlowEnd how, gint64 time_us)
{
  if (flow->closed)
    return;
  table->callbacks.close (flow, how, time_us, table->user_data);
  flow->closed = TRUE;
  flow->user_data = NULL;
  half_clear (&flow->half[0]);
  half_clear (&flow->half[1]);
}

/* Flushes what is held in one direction, as gaps, at the end. */
static void
flush_half (TcpFlowTable *table,
            TcpFlow *flow,
            TraceDirection direction,
            gint64 time_us)
{
  TcpHalf *half = &flow->half[direction];
  Segment *tail = g_queue_peek_tail (&half->pending);

  if (tail != NULL)
    skip_to (table, flow, direction, tail->seq + (guint32) tail->length,
             time_us);
}

static void
check_fin (TcpFlowTable *table,
           TcpFlow *flow,
           TraceDirection direction,
           gint64 time_us)
{
  TcpHalf *half = &flow->half[direction];

  if (half->fin_seen && half->synced && half->next_seq == half->fin_seq)
    half->finished = TRUE;
  if (flow->half[0].finished && flow->half[1].finished)
    end_flow (table, flow, TCP_FLOW_END_FIN, time_us);
}

static TcpFlow *
remember_flow (TcpFlowTable *table, const FlowKey *key, TcpFlow *flow)
{
  table->last_key = *key;
  table->last_flow = flow;
  return flow;
}

static TcpFlow *
find_flow (TcpFlowTable *table, const TracePacket *packet, gint64 time_us)
{
  FlowKey key;
  TcpFlow *flow;
  gboolean syn =
      (packet->flags & (TRACE_TCP_SYN | TRACE_TCP_ACK)) == TRACE_TCP_SYN;

  flow_key_from_packet (packet, &key);
  if (table->last_flow != NULL &&
      memcmp (&key, &table->last_key, sizeof key) == 0)
    flow = table->last_flow;
  else
    flow = g_hash_table_lookup (table->flows, &key);
  if (flow != NULL && !(flow->closed && syn))
    return remember_flow (table, &key, flow);
  /* A closed flow stays in the table so its last ACKs are not taken for
   * a new connection; only a new SYN reuses the four-tuple. */
  if (flow == NULL && g_hash_table_size (table->flows) >= TCP_FLOW_MAX_FLOWS)
    {
      if (!table->warned_full)
        g_warning ("more than %d connections: ignoring new ones",
                   TCP_FLOW_MAX_FLOWS);
      table->warned_full = TRUE;
      return NULL;
    }
  if (flow != NULL)
    end_flow (table, flow, TCP_FLOW_END_CAPTURE, time_us);
  if ((packet->flags & TRACE_TCP_RST) != 0 && packet->payload_length == 0)
    return NULL; /* a reset for a connection we never saw */
  flow = flow_new (table, packet, time_us);
  g_hash_table_replace (table->flows, g_memdup2 (&key, sizeof key), flow);
  table->callbacks.open (flow, time_us, table->user_data);
  return remember_flow (table, &key, flow);
}

void
tcp_flow_table_add (TcpFlowTable *table,
                    const TracePacket *packet,
                    gint64 time_us)
{
  TcpFlow *flow = find_flow (table, packet, time_us);
  TraceDirection direction;
  guint32 seq = packet->seq;

  if (flow == NULL || flow->closed)
    return;
  flow->last_us = time_us;
  direction = packet->src_port == flow->client_port &&
                      memcmp (packet->src, flow->client_address, 16) == 0
                  ? TRACE_CLIENT_TO_SERVER
                  : TRACE_SERVER_TO_CLIENT;
  if ((packet->flags & TRACE_TCP_SYN) != 0)
    {
      TcpHalf *half = &flow->half[direction];
      flow->saw_syn = TRUE;
      half->synced = TRUE;
      half->midstream = FALSE;
      half->next_seq = ++seq; /* the SYN takes one sequence number */
    }
  /* The acknowledgement first: what it says is lost was sent before
   * this segment's data. */
  if ((packet->flags & TRACE_TCP_ACK) != 0)
    check_ack (table, flow, !direction, packet->ack, time_us);
  if (packet->payload_length > 0)
    add_payload (table, flow, direction, seq, packet->payload,
                 packet->payload_length, time_us);
  if ((packet->flags & TRACE_TCP_FIN) != 0)
    {
      flow->half[direction].fin_seen = TRUE;
      flow->half[direction].fin_seq = seq + (guint32) packet->payload_length;
    }
  if ((packet->flags & TRACE_TCP_RST) != 0)
    {
      flush_half (table, flow, TRACE_CLIENT_TO_SERVER, time_us);
      flush_half (table, flow, TRACE_SERVER_TO_CLIENT, time_us);
      end_flow (table, flow, TCP_FLOW_END_RESET, time_us);
      return;
    }
  check_fin (table, flow, direction, time_us);
  check_fin (table, flow, !direction, time_us);
}

static gint
compare_flow_id (gconstpointer a, gconstpointer b)
{
  const TcpFlow *flow_a = *(TcpFlow *const *) a;
  const TcpFlow *flow_b = *(TcpFlow *const *) b;

  return flow_a->id < flow_b->id ? -1 : flow_a->id > flow_b->id;
}

void
tcp_flow_table_free (TcpFlowTable *table, gint64 time_us)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr (GPtrArray) open = g_ptr_array_new ();

  if (table == NULL)
    return;
  g_hash_table_iter_init (&iter, table->flows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!((TcpFlow *) value)->closed)
      g_ptr_array_add (open, value);
  /* End flows in the order they began, so output is stable. */
  g_ptr_array_sort (open, compare_flow_id);
  for (guint i = 0; i < open->len; i++)
    {
      TcpFlow *flow = open->pdata[i];
      flush_half (table, flow, TRACE_CLIENT_TO_SERVER, time_us);
      flush_half (table, flow, TRACE_SERVER_TO_CLIENT, time_us);
      end_flow (table, flow, TCP_FLOW_END_CAPTURE, time_us);
    }
  g_hash_table_unref (table->flows);
  g_free (table);
}
