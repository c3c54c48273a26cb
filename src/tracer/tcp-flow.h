/* SPDX-License-Identifier: MIT
 * tcp-flow.h: TCP reassembly for the tracer (RFC 9293 §3.4 sequence
 * numbers, §3.10.7 segment arrival). Segments go in as captured; each
 * direction of each connection comes out as an ordered byte stream:
 * out-of-order segments are held until the hole fills, retransmissions and
 * overlaps are trimmed, sequence numbers wrap modulo 2^32, a capture that
 * starts mid-connection is picked up at the first data, a hole the capture
 * will never fill (the peer acknowledged bytes we did not see, or too much
 * is waiting behind it) is reported as a gap of N octets, and FIN or RST
 * ends the flow.
 *
 * Memory per direction is bounded by TCP_FLOW_MAX_PENDING octets of
 * out-of-order data; in-order data is handed on at once, never held.
 */
#pragma once

#include <glib.h>

#include "trace-packet.h"

G_BEGIN_DECLS

#define TCP_FLOW_MAX_PENDING (512 * 1024)
#define TCP_FLOW_MAX_FLOWS 65536

typedef enum
{
  TRACE_CLIENT_TO_SERVER = 0,
  TRACE_SERVER_TO_CLIENT = 1,
} TraceDirection;

typedef enum
{
  TCP_FLOW_END_FIN,     /* both sides sent FIN and all data arrived */
  TCP_FLOW_END_RESET,   /* one side sent RST */
  TCP_FLOW_END_CAPTURE, /* the capture ended first */
} TcpFlowEnd;

typedef struct _TcpFlowTable TcpFlowTable;

/* One direction of a connection. Private to tcp-flow.c but embedded. */
typedef struct
{
  gboolean synced;    /* next_seq is known */
  gboolean midstream; /* picked up without seeing the SYN */
  gboolean fin_seen;
  gboolean finished; /* FIN reached: no more data */
  guint32 next_seq;  /* the next octet we expect */
  guint32 fin_seq;
  GQueue pending; /* out-of-order segments, sorted by seq */
  gsize pending_bytes;
  guint64 octets; /* delivered */
} TcpHalf;

typedef struct
{
  guint id; /* order of first sight from 0, like tshark's tcp.stream */
  guint8 family;
  guint8 client_address[16];
  guint8 server_address[16];
  guint16 client_port;
  guint16 server_port;
  gint64 first_us;
  gint64 last_us;
  gboolean saw_syn; /* the handshake was captured */
  gboolean closed;
  guint retransmissions; /* segments that held only octets already seen */
  guint out_of_order;    /* segments that arrived ahead of a hole */
  guint64 missing;       /* octets reported as gaps, both directions */
  TcpHalf half[2];       /* indexed by TraceDirection */
  gpointer user_data;    /* the caller's session */
} TcpFlow;

typedef struct
{
  /* A new flow; directions are decided (see is_server_port). */
  void (*open) (TcpFlow *flow, gint64 time_us, gpointer user_data);
  /* In-order octets of one direction (transfer none). */
  void (*data) (TcpFlow *flow,
                TraceDirection direction,
                const guint8 *data,
                gsize length,
                gint64 time_us,
                gpointer user_data);
  /* @missing octets of @direction will never be seen. */
  void (*gap) (TcpFlow *flow,
               TraceDirection direction,
               guint64 missing,
               gint64 time_us,
               gpointer user_data);
  /* The flow ended; free flow->user_data here. */
  void (*close) (TcpFlow *flow,
                 TcpFlowEnd how,
                 gint64 time_us,
                 gpointer user_data);
  /* Without a SYN, which end is the server: TRUE for a well-known port. */
  gboolean (*is_server_port) (guint16 port, gpointer user_data);
} TcpFlowCallbacks;

TcpFlowTable *tcp_flow_table_new (const TcpFlowCallbacks *callbacks,
                                  gpointer user_data);
/* Ends every open flow (TCP_FLOW_END_CAPTURE) and frees the table. */
void tcp_flow_table_free (TcpFlowTable *table, gint64 time_us);

/* Feeds one TCP segment captured at @time_us (microseconds). */
void tcp_flow_table_add (TcpFlowTable *table,
                         const TracePacket *packet,
                         gint64 time_us);

G_END_DECLS
