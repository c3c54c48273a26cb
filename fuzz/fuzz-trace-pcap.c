/* SPDX-License-Identifier: MIT
 * fuzz-trace-pcap.c: a whole capture file through mw-trace's pipeline:
 * libpcap's reader (pcap and pcapng, as mw-trace -r reads them, from
 * memory here), trace-packet, tcp-flow, the sessions and every decoder.
 * The seeds are the tracer's test captures, so mutations start from real
 * SMTP, POP3 and IMAP conversations.
 * Input: the capture file.
 */
#include "fuzz-capture.h"
#include "trace-harness.h"

typedef struct
{
  TraceHarness harness;
  TcpFlowTable *flows;
  int linktype;
} TraceFile;

static void
on_packet (u_char *user, const struct pcap_pkthdr *header, const u_char *bytes)
{
  TraceFile *file = (TraceFile *) user;
  TracePacket packet;
  gsize cut = 0;
  gint64 time_us = trace_packet_time_us (header->ts.tv_sec, header->ts.tv_usec);

  file->harness.frame++;
  if (trace_packet_parse (file->linktype, bytes, header->caplen, &packet,
                          &cut) == TRACE_PACKET_TCP)
    tcp_flow_table_add (file->flows, &packet, time_us);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  TraceFile file;
  pcap_t *pcap;

  fuzz_init ();
  pcap = fuzz_capture_open (data, size);
  if (pcap == NULL)
    return 0;
  trace_harness_init (&file.harness, 0);
  file.linktype = pcap_datalink (pcap);
  file.flows = tcp_flow_table_new (&trace_harness_callbacks, &file.harness);
  if (trace_packet_linktype_supported (file.linktype))
    pcap_loop (pcap, 10000, on_packet, (u_char *) &file);
  tcp_flow_table_free (file.flows, 0);
  trace_harness_finish (&file.harness);
  pcap_close (pcap);
  return 0;
}
