/* SPDX-License-Identifier: MIT
 * trace-harness.h: mw-trace's pipeline without libpcap's loop, for the
 * tracer targets: the flow callbacks of tracer.c (a TraceSession per TCP
 * flow) and TraceOptions chosen by one input octet, writing to
 * /dev/null (decoders report through trace-output, which writes there).
 * The journeys (trace-journey.h) are collected too, linked and written
 * at the end (trace_harness_finish ()), as mw-trace does after a capture.
 */
#pragma once

#include <stdio.h>

#include "fuzz.h"
#include "tcp-flow.h"
#include "trace-journey.h"
#include "trace-output.h"
#include "trace-packet.h"
#include "trace-session.h"

typedef struct
{
  TraceOptions options;
  guint64 frame;
  guint16 extra_port; /* decoded like a mail port, as mw-trace -p does */
} TraceHarness;

/* The ports the targets pick from: the standard and mailwire ones, with
 * and without implicit TLS, and one no protocol is known by (found from
 * the greeting, or not at all). */
static const guint16 trace_harness_ports[] = {
  25, 587, 465, 110, 995, 143, 993, 2525, 2110, 2143, 8025, 2465
};

static inline void
trace_harness_init (TraceHarness *harness, guint8 choice)
{
  static FILE *null_out;

  if (null_out == NULL)
    null_out = fopen ("/dev/null", "w");
  g_assert_nonnull (null_out);
  memset (harness, 0, sizeof *harness);
  harness->options.out = null_out;
  harness->options.json = (choice & 1) != 0;
  harness->options.body = (choice & 2) != 0;
  harness->options.show_secrets = (choice & 4) != 0;
  harness->options.quiet = (choice & 8) != 0;
  harness->options.frame = &harness->frame;
  harness->options.journeys = trace_journeys_new ();
  harness->extra_port = 8025;
}

/* After the last session: links the journeys and writes them, ladder or
 * JSON as the options say, then frees them. */
static inline void
trace_harness_finish (TraceHarness *harness)
{
  trace_journeys_finish (harness->options.journeys);
  if (harness->options.json)
    trace_journeys_print_json (harness->options.journeys, harness->options.out);
  else
    trace_journeys_print (harness->options.journeys, harness->options.out);
  g_clear_pointer (&harness->options.journeys, trace_journeys_free);
}

static gboolean
trace_harness_is_server_port (guint16 port, gpointer user_data)
{
  TraceHarness *harness = user_data;
  gboolean tls;

  return port == harness->extra_port ||
         trace_protocol_for_port (port, &tls) != TRACE_PROTO_UNKNOWN;
}

static void
trace_harness_open (TcpFlow *flow, gint64 time_us, gpointer user_data)
{
  TraceHarness *harness = user_data;

  flow->user_data = trace_session_new (flow, &harness->options, time_us);
}

static void
trace_harness_data (TcpFlow *flow,
                    TraceDirection direction,
                    const guint8 *data,
                    gsize length,
                    gint64 time_us,
                    gpointer user_data)
{
  trace_session_data (flow->user_data, direction, data, length, time_us);
}

static void
trace_harness_gap (TcpFlow *flow,
                   TraceDirection direction,
                   guint64 missing,
                   gint64 time_us,
                   gpointer user_data)
{
  trace_session_gap (flow->user_data, direction, missing, time_us);
}

static void
trace_harness_close (TcpFlow *flow,
                     TcpFlowEnd how,
                     gint64 time_us,
                     gpointer user_data)
{
  trace_session_close (flow->user_data, how, time_us);
  trace_session_free (flow->user_data);
  flow->user_data = NULL;
}

static const TcpFlowCallbacks trace_harness_callbacks = {
  .open = trace_harness_open,
  .data = trace_harness_data,
  .gap = trace_harness_gap,
  .close = trace_harness_close,
  .is_server_port = trace_harness_is_server_port,
};
