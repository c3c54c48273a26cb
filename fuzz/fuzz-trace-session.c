/* SPDX-License-Identifier: MIT
 * fuzz-trace-session.c: the mw-trace decoders (decode-smtp.c,
 * decode-pop3.c, decode-imap.c with decode-imap-message.c, decode-tls.c
 * after STARTTLS or on an implicit-TLS port, trace-message.c for bodies)
 * behind one TraceSession, fed as a reassembled TCP connection would
 * feed it: structure-aware, so that both directions and gaps reach them.
 * Input: one octet choosing the server port and the output options,
 * then records: one octet (bit 7: server to client; bit 6: a gap of the
 * next octet's count of octets instead of data; bits 0-5 and the next
 * octet: the data length), then the data.
 * Invariant: nothing but the sanitizers' and GLib's own checks; every
 * record reaches the decoder, to the end of the connection.
 */
#include "trace-harness.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  TraceHarness harness;
  TcpFlow flow = { 0 };
  TraceSession *session;
  guint8 choice;
  gint64 now = 1000000;

  fuzz_init ();
  choice = fuzz_byte (&data, &size);
  trace_harness_init (&harness, choice >> 4);
  flow.family = 4;
  flow.client_port = 40000;
  flow.server_port =
      trace_harness_ports[(choice & 0x0f) % G_N_ELEMENTS (trace_harness_ports)];
  session = trace_session_new (&flow, &harness.options, now);
  while (size > 0)
    {
      guint8 head = fuzz_byte (&data, &size);
      TraceDirection direction =
          (head & 0x80) ? TRACE_SERVER_TO_CLIENT : TRACE_CLIENT_TO_SERVER;
      gsize length = ((gsize) (head & 0x3f) << 8) | fuzz_byte (&data, &size);
      const uint8_t *chunk = data;

      now += 1000;
      harness.frame++;
      if (head & 0x40)
        {
          trace_session_gap (session, direction, length, now);
          continue;
        }
      length = fuzz_take (&data, &size, length);
      /* no empty segments: TCP reassembly hands on none */
      if (length == 0)
        continue;
      trace_session_data (session, direction, chunk, length, now);
    }
  trace_session_close (session, TCP_FLOW_END_FIN, now);
  trace_session_free (session);
  trace_harness_finish (&harness);
  return 0;
}
