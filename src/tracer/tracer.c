/* SPDX-License-Identifier: MIT
 * tracer.c: mw-trace, the protocol tracer that explains SMTP, POP3 and
 * IMAP on the wire. libpcap (live or from a .pcap/.pcapng file) ->
 * trace-packet (link, IP, TCP headers) -> tcp-flow (reassembly) ->
 * trace-session (framing, protocol detection) -> decode-{smtp,pop3,imap,
 * tls}.c -> trace-output (ladder, JSON lines, SVG).
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcp-flow.h"
#include "tls-decrypt.h"
#include "trace-file.h"
#include "trace-journey.h"
#include "trace-output.h"
#include "trace-session.h"

#define TRACE_SNAPLEN 262144
#define TRACE_MAX_EXTRA_PORTS 64
#define TRACE_MAX_SVG_SESSIONS 16
/* The kernel's capture buffer (libpcap's default is 2 MiB). In
 * immediate mode each packet takes a slot as large as the largest one
 * (64 KiB on lo), so the default holds a few dozen packets: a burst while
 * mw-trace was busy came out as "N bytes missing". */
#define TRACE_BUFFER_SIZE (8 * 1024 * 1024)
/* On SIGINT/SIGTERM, how long mw-trace goes on reading what the kernel
 * has buffered, at most (under steady traffic it never runs dry). */
#define TRACE_DRAIN_US (2 * G_USEC_PER_SEC)

typedef struct
{
  TraceOptions options;
  pcap_t *pcap;
  TraceFile *mapped; /* -r FILE, read in place (trace-file.h), or NULL */
  guint64 skip;      /* packets pcap_loop () is to pass over (read_file) */
  pcap_dumper_t *dumper;
  int linktype;
  TcpFlowTable *flows;
  guint16 extra_ports[TRACE_MAX_EXTRA_PORTS];
  guint n_extra_ports;
  guint64 packets;
  guint64 octets;
  guint64 skipped; /* frames that were not whole TCP segments */
  guint sessions;
  gint64 last_us;
  gboolean live;     /* capturing, not reading a file */
  FILE *journey_out; /* --journey: the journeys alone go here, else NULL */
} Tracer;

static pcap_t *interrupt_pcap; /* for the SIGINT handler only */
static volatile sig_atomic_t stop_requested;

static void
on_interrupt (int signal_number)
{
  stop_requested = 1;
  if (interrupt_pcap != NULL)
    pcap_breakloop (interrupt_pcap);
}

static gboolean
on_is_server_port (guint16 port, gpointer user_data)
{
  Tracer *tracer = user_data;
  gboolean tls;

  for (guint i = 0; i < tracer->n_extra_ports; i++)
    if (tracer->extra_ports[i] == port)
      return TRUE;
  return trace_protocol_for_port (port, &tls) != TRACE_PROTO_UNKNOWN;
}

static void
on_flow_open (TcpFlow *flow, gint64 time_us, gpointer user_data)
{
  Tracer *tracer = user_data;

  flow->user_data = trace_session_new (flow, &tracer->options, time_us);
}

static void
on_flow_data (TcpFlow *flow,
              TraceDirection direction,
              const guint8 *data,
              gsize length,
              gint64 time_us,
              gpointer user_data)
{
  trace_session_data (flow->user_data, direction, data, length, time_us);
}

static void
on_flow_gap (TcpFlow *flow,
             TraceDirection direction,
             guint64 missing,
             gint64 time_us,
             gpointer user_data)
{
  trace_session_gap (flow->user_data, direction, missing, time_us);
}

static void
on_flow_close (TcpFlow *flow,
               TcpFlowEnd how,
               gint64 time_us,
               gpointer user_data)
{
  Tracer *tracer = user_data;
  TraceSession *session = flow->user_data;

  /* Once mw-trace shows a session's end, -w FILE holds all of it: a lab
   * stops the capture on that line. */
  if (tracer->live && tracer->dumper != NULL)
    pcap_dump_flush (tracer->dumper);
  trace_session_close (session, how, time_us);
  if (session->decoder != NULL)
    tracer->sessions++;
  trace_session_free (session);
  /* Live, a finished session is shown at once; reading a file, stdout's
   * big buffer is written when full (see run ()). */
  if (tracer->live)
    fflush (tracer->options.out);
}

static const TcpFlowCallbacks flow_callbacks = {
  .open = on_flow_open,
  .data = on_flow_data,
  .gap = on_flow_gap,
  .close = on_flow_close,
  .is_server_port = on_is_server_port,
};

static void
on_packet (u_char *user, const struct pcap_pkthdr *header, const u_char *bytes)
{
  Tracer *tracer = (Tracer *) user;
  TracePacket packet;
  gsize cut = 0;
  gint64 time_us = trace_packet_time_us (header->ts.tv_sec, header->ts.tv_usec);

  tracer->packets++;
  tracer->octets += header->caplen;
  tracer->last_us = time_us;
  if (tracer->dumper != NULL)
    pcap_dump ((u_char *) tracer->dumper, header, bytes);
  if (trace_packet_parse (tracer->linktype, bytes, header->caplen, &packet,
                          &cut) != TRACE_PACKET_TCP)
    {
      tracer->skipped++;
      return;
    }
  /* A segment cut by the snap length: what was not captured is a gap
   * the reassembler will find from the peer's acknowledgement. */
  tcp_flow_table_add (tracer->flows, &packet, time_us);
}

/* "tcp and (port 25 or port 465 ...)": the standard mail ports, the
 * mailwire defaults and -p ports. */
static char *
build_filter (Tracer *tracer)
{
  static const guint16 ports[] = { 25,   465,  587,  110,  995,  143,  993,
                                   2525, 2587, 2465, 2110, 2995, 2143, 2993 };
  GString *filter = g_string_new ("tcp and (");

  for (gsize i = 0; i < G_N_ELEMENTS (ports); i++)
    g_string_append_printf (filter, "%sport %u", i > 0 ? " or " : "", ports[i]);
  for (guint i = 0; i < tracer->n_extra_ports; i++)
    g_string_append_printf (filter, " or port %u", tracer->extra_ports[i]);
  g_string_append (filter, ")");
  return g_string_free (filter, FALSE);
}

static void
explain_permission (const char *interface, const char *message)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  g_printerr ("mw-trace: cannot capture on %s: %s\n"
              "  Capturing packets needs privileges. Either run mw-trace as "
              "root, or give it the capability once:\n"
              "    sudo setcap cap_net_raw,cap_net_admin=eip %s\n"
              "  Reading a saved capture (-r FILE) needs no privileges.\n",
              interface, message, self != NULL ? self : "mw-trace");
}

static gboolean
open_live (Tracer *tracer, const char *interface)
{
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  int status;

  tracer->pcap = pcap_create (interface, errbuf);
  if (tracer->pcap == NULL)
    {
      g_printerr ("mw-trace: %s\n", errbuf);
      return FALSE;
    }
  pcap_set_snaplen (tracer->pcap, TRACE_SNAPLEN);
  pcap_set_immediate_mode (tracer->pcap, 1); /* a lecture wants it now */
  pcap_set_buffer_size (tracer->pcap, TRACE_BUFFER_SIZE);
  pcap_set_timeout (tracer->pcap, 100);
  status = pcap_activate (tracer->pcap);
  if (status == PCAP_ERROR_PERM_DENIED ||
      (status < 0 && strstr (pcap_geterr (tracer->pcap), "ermitted")))
    {
      explain_permission (interface, pcap_geterr (tracer->pcap));
      return FALSE;
    }
  if (status < 0)
    {
      g_printerr ("mw-trace: cannot capture on %s: %s\n", interface,
                  pcap_statustostr (status));
      if (status == PCAP_ERROR)
        g_printerr ("mw-trace: %s\n", pcap_geterr (tracer->pcap));
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_filter (Tracer *tracer)
{
  struct bpf_program program;
  g_autofree char *filter = build_filter (tracer);

  if (pcap_compile (tracer->pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) <
          0 ||
      pcap_setfilter (tracer->pcap, &program) < 0)
    {
      g_printerr ("mw-trace: filter \"%s\": %s\n", filter,
                  pcap_geterr (tracer->pcap));
      return FALSE;
    }
  pcap_freecode (&program);
  /* Said once the capture is live, so a script can wait for it. */
  g_printerr ("mw-trace: capturing with filter \"%s\"\n", filter);
  return TRUE;
}

static gboolean
parse_ports (Tracer *tracer, char **ports)
{
  for (gsize i = 0; ports != NULL && ports[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (ports[i], ",", -1);
      for (gsize j = 0; parts[j] != NULL; j++)
        {
          guint64 port = 0;
          if (!g_ascii_string_to_unsigned (parts[j], 10, 1, 65535, &port,
                                           NULL) ||
              tracer->n_extra_ports >= TRACE_MAX_EXTRA_PORTS)
            {
              g_printerr ("mw-trace: -p %s: not a port (1-65535)\n", parts[j]);
              return FALSE;
            }
          tracer->extra_ports[tracer->n_extra_ports++] = (guint16) port;
        }
    }
  return TRUE;
}

/* --svg and its options; with "--svg -" the diagram is the only output. */
static gboolean
setup_svg (Tracer *tracer,
           TraceSvgOptions *svg,
           char **sessions,
           guint *streams,
           const char *title,
           const char *size)
{
  if (g_strcmp0 (size, "slide") == 0)
    svg->size = TRACE_SVG_SIZE_SLIDE;
  else if (g_strcmp0 (size, "full") == 0)
    svg->size = TRACE_SVG_SIZE_FULL;
  else if (size != NULL)
    {
      g_printerr ("mw-trace: --svg-size %s: slide or full\n", size);
      return FALSE;
    }
  for (gsize i = 0; sessions != NULL && sessions[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (sessions[i], ",", -1);
      for (gsize j = 0; parts[j] != NULL; j++)
        {
          guint64 id = 0;
          if (!g_ascii_string_to_unsigned (parts[j], 10, 0, G_MAXUINT, &id,
                                           NULL) ||
              svg->n_streams >= TRACE_MAX_SVG_SESSIONS)
            {
              g_printerr ("mw-trace: --session %s: not a session number "
                          "(at most %d sessions)\n",
                          parts[j], TRACE_MAX_SVG_SESSIONS);
              return FALSE;
            }
          streams[svg->n_streams++] = (guint) id;
        }
    }
  svg->streams = streams;
  svg->title = title;
  if (svg->path == NULL)
    {
      if (svg->n_streams > 0 || svg->compact || svg->labels || title ||
          svg->from != NULL || svg->to != NULL || size != NULL || svg->print)
        {
          g_printerr ("mw-trace: --svg-* options need --svg FILE\n");
          return FALSE;
        }
      return TRUE;
    }
  tracer->options.svg = trace_svg_new (svg);
  if (strcmp (svg->path, "-") == 0)
    tracer->options.out = fopen ("/dev/null", "w");
  return tracer->options.out != NULL;
}

/* --keylog FILE (repeatable): the NSS key log files of the sessions to
 * decrypt. Reading a capture they must exist; live, one that is not
 * there yet is read when it appears (SSLKEYLOGFILE of a program about to
 * start). */
static gboolean
setup_keylog (Tracer *tracer, char **files, gboolean live)
{
  g_autoptr (GError) error = NULL;

  if (files == NULL || files[0] == NULL)
    return TRUE;
  tracer->options.keylog = trace_keylog_new ();
  for (gsize i = 0; files[i] != NULL; i++)
    if (!trace_keylog_add_file (tracer->options.keylog, files[i], !live,
                                &error))
      {
        g_printerr ("mw-trace: --keylog %s\n", error->message);
        return FALSE;
      }
  return TRUE;
}

static gboolean
want_color (const char *mode)
{
  if (g_strcmp0 (mode, "always") == 0)
    return TRUE;
  if (g_strcmp0 (mode, "never") == 0)
    return FALSE;
  return isatty (STDOUT_FILENO) && g_getenv ("NO_COLOR") == NULL &&
         g_strcmp0 (g_getenv ("TERM"), "dumb") != 0;
}

/* Stop signals end the capture cleanly; SA_RESTART, so that output
 * being written when one comes is not cut. */
static void
catch_stop_signals (Tracer *tracer)
{
  struct sigaction action = { 0 };

  interrupt_pcap = tracer->pcap;
  action.sa_handler = on_interrupt;
  action.sa_flags = SA_RESTART;
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
  sigaction (SIGTERM, &action, NULL);
}

/* libpcap reads a capture through its FILE's buffer, which is 4 KiB by
 * default: a read () per 4 KiB, a tenth of the time taken by a large
 * capture. With a bigger buffer it is a few hundred. */
#define TRACE_READ_BUFFER (1 << 20)

/* pcap_open_offline (), reading through TRACE_READ_BUFFER. Standard input
 * ("-") and a file fopen () cannot open go to pcap_open_offline () itself,
 * which reads them as before or says why it cannot. */
static pcap_t *
open_file (const char *file, char *errbuf)
{
  /* static: it must outlive the FILE, which lives as long as the
   * capture, and there is one capture (glibc ignores the size asked for
   * when setvbuf () is given no buffer) */
  static char buffer[TRACE_READ_BUFFER];
  FILE *stream = strcmp (file, "-") != 0 ? fopen (file, "rb") : NULL;
  pcap_t *pcap;

  if (stream == NULL)
    return pcap_open_offline (file, errbuf);
  setvbuf (stream, buffer, _IOFBF, sizeof buffer);
  /* pcap_open_offline reads both pcap and pcapng; so does this */
  pcap = pcap_fopen_offline (stream, errbuf);
  if (pcap == NULL)
    fclose (stream); /* on success pcap_close () closes it */
  return pcap;
}

static gboolean
open_capture (Tracer *tracer,
              const char *file,
              const char *interface,
              const char *write_file)
{
  char errbuf[PCAP_ERRBUF_SIZE] = "";

  if (file != NULL)
    {
      tracer->pcap = open_file (file, errbuf);
      if (tracer->pcap == NULL)
        {
          g_printerr ("mw-trace: %s\n", errbuf);
          return FALSE;
        }
    }
  else if (!open_live (tracer, interface))
    return FALSE;
  else
    {
      /* Before "capturing" is said: a script that waits for it and then
       * stops mw-trace must find the handler in place. */
      catch_stop_signals (tracer);
      if (!set_filter (tracer))
        return FALSE;
    }
  tracer->linktype = pcap_datalink (tracer->pcap);
  if (!trace_packet_linktype_supported (tracer->linktype))
    {
      g_printerr ("mw-trace: link type %s (%d) is not supported\n",
                  pcap_datalink_val_to_name (tracer->linktype),
                  tracer->linktype);
      return FALSE;
    }
  if (file != NULL && strcmp (file, "-") != 0)
    tracer->mapped =
        trace_file_open (file, (guint32) pcap_snapshot (tracer->pcap));
  if (write_file != NULL)
    {
      tracer->dumper = pcap_dump_open (tracer->pcap, write_file);
      if (tracer->dumper == NULL)
        {
          g_printerr ("mw-trace: -w %s: %s\n", write_file,
                      pcap_geterr (tracer->pcap));
          return FALSE;
        }
    }
  return TRUE;
}

/* Packets still allowed by -c (-1: no limit). */
static int
packets_left (Tracer *tracer, gint64 max_packets)
{
  if (max_packets <= 0)
    return -1;
  return (int) MIN (max_packets - (gint64) tracer->packets, G_MAXINT);
}

/* After a stop signal: what the kernel buffered before it is read and
 * saved too, until a read finds nothing (or TRACE_DRAIN_US passed). */
static int
drain_live (Tracer *tracer, gint64 max_packets)
{
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  gint64 deadline = g_get_monotonic_time () + TRACE_DRAIN_US;
  int status = 0;

  if (pcap_setnonblock (tracer->pcap, 1, errbuf) < 0)
    {
      g_printerr ("mw-trace: %s\n", errbuf);
      return PCAP_ERROR;
    }
  while (packets_left (tracer, max_packets) != 0 &&
         g_get_monotonic_time () < deadline)
    {
      status = pcap_dispatch (tracer->pcap, packets_left (tracer, max_packets),
                              on_packet, (u_char *) tracer);
      if (status == PCAP_ERROR_BREAK) /* a signal's breakloop, once more */
        continue;
      if (status <= 0)
        break;
      if (tracer->dumper != NULL)
        pcap_dump_flush (tracer->dumper);
    }
  return status == PCAP_ERROR ? PCAP_ERROR : 0;
}

/* Live: batch by batch, so that -w FILE is flushed after each; a stop
 * signal ends the loop (pcap_breakloop) and the buffer is drained. */
static int
capture_live (Tracer *tracer, gint64 max_packets)
{
  int status = 0;

  while (!stop_requested && packets_left (tracer, max_packets) != 0)
    {
      status = pcap_dispatch (tracer->pcap, packets_left (tracer, max_packets),
                              on_packet, (u_char *) tracer);
      if (status == PCAP_ERROR)
        return PCAP_ERROR;
      if (status > 0 && tracer->dumper != NULL)
        pcap_dump_flush (tracer->dumper);
    }
  if (!stop_requested)
    return 0; /* -c reached */
  return drain_live (tracer, max_packets);
}

/* Packets the kernel dropped for want of room: the capture has gaps. */
static void
report_drops (Tracer *tracer)
{
  struct pcap_stat stats = { 0 };

  if (pcap_stats (tracer->pcap, &stats) == 0 && stats.ps_drop > 0)
    g_printerr ("mw-trace: %u packets dropped by the kernel (its buffer "
                "was full): the capture has gaps\n",
                stats.ps_drop);
}

/* After the sessions: the journey of each message (trace-journey.h), in
 * the summary or, with --journey, alone. */
static void
print_journeys (Tracer *tracer)
{
  const TraceJourneys *journeys = tracer->options.journeys;
  FILE *out =
      tracer->journey_out != NULL ? tracer->journey_out : tracer->options.out;

  if (tracer->options.json)
    trace_journeys_print_json (journeys, out);
  else
    trace_journeys_print (journeys, out);
  if (tracer->journey_out != NULL && !tracer->options.json &&
      trace_journeys_count (journeys) == 0)
    fprintf (out, "mw-trace: no message was seen in this capture\n");
  if (tracer->journey_out != NULL)
    fflush (out);
}

/* --journey: the journeys alone on standard output, nothing of the
 * sessions (they are decoded all the same, into /dev/null). */
static gboolean
setup_journey_only (Tracer *tracer)
{
  if (tracer->options.out != stdout)
    {
      g_printerr ("mw-trace: --journey and --svg - both want standard "
                  "output\n");
      return FALSE;
    }
  tracer->journey_out = stdout;
  tracer->options.out = fopen ("/dev/null", "w");
  return tracer->options.out != NULL;
}

/* For pcap_loop () after trace_file_next () stopped: the packets it
 * handed over already are skipped. */
static void
on_packet_after_mapped (u_char *user,
                        const struct pcap_pkthdr *header,
                        const u_char *bytes)
{
  Tracer *tracer = (Tracer *) user;

  if (tracer->skip > 0)
    tracer->skip--;
  else
    on_packet (user, header, bytes);
}

/* A file: its packets read in place (trace-file.h) as far as that goes;
 * if it stops short, libpcap reads the file, from the start. */
static int
read_file (Tracer *tracer, gint64 max_packets)
{
  TraceFile *file = tracer->mapped;
  struct pcap_pkthdr header;
  const guint8 *bytes;
  int left;

  if (file == NULL)
    return pcap_loop (tracer->pcap, packets_left (tracer, max_packets),
                      on_packet, (u_char *) tracer);
  while (!stop_requested && packets_left (tracer, max_packets) != 0 &&
         trace_file_next (file, &header, &bytes))
    on_packet ((u_char *) tracer, &header, bytes);
  /* (and a count of 0 would be no limit to pcap_loop ()) */
  if (stop_requested || packets_left (tracer, max_packets) == 0 ||
      trace_file_done (file))
    return 0;
  tracer->skip = trace_file_packets (file);
  left = packets_left (tracer, max_packets);
  return pcap_loop (
      tracer->pcap,
      left < 0 ? -1 : (int) MIN ((gint64) left + tracer->skip, G_MAXINT),
      on_packet_after_mapped, (u_char *) tracer);
}

static int
run (Tracer *tracer, gint64 max_packets, gboolean live)
{
  g_autoptr (GError) error = NULL;
  int status;

  catch_stop_signals (tracer);
  tracer->live = live;
  /* Live, each line is written as it comes. Reading a file, the events
   * are written in big batches by trace-output (trace_output_flush ()),
   * which glibc passes to write () without copying them into the FILE's
   * own buffer, so that buffer is left as it is. */
  if (live)
    setvbuf (tracer->options.out, NULL, _IOLBF, 0);
  tracer->flows = tcp_flow_table_new (&flow_callbacks, tracer);
  if (live)
    status = capture_live (tracer, max_packets);
  else
    status = read_file (tracer, max_packets);
  if (status == PCAP_ERROR)
    g_printerr ("mw-trace: %s\n", pcap_geterr (tracer->pcap));
  if (live)
    report_drops (tracer);
  tcp_flow_table_free (tracer->flows, tracer->last_us);
  interrupt_pcap = NULL;
  trace_journeys_finish (tracer->options.journeys);
  if (tracer->options.svg != NULL &&
      !trace_svg_write (tracer->options.svg, &error))
    g_printerr ("mw-trace: --svg: %s\n", error->message);
  g_clear_pointer (&tracer->options.svg, trace_svg_free);
  if (tracer->dumper != NULL)
    pcap_dump_close (tracer->dumper);
  trace_output_flush (&tracer->options); /* the sessions' last events */
  print_journeys (tracer);
  if (!tracer->options.json)
    fprintf (tracer->options.out,
             "mw-trace: %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT
             " octets, %u mail sessions\n",
             tracer->packets, tracer->octets, tracer->sessions);
  fflush (tracer->options.out);
  trace_file_close (tracer->mapped);
  pcap_close (tracer->pcap);
  return status == PCAP_ERROR || error != NULL ? 1 : 0;
}

int
main (int argc, char **argv)
{
  Tracer tracer = { 0 };
  g_autofree char *file = NULL;
  g_autofree char *interface = NULL;
  g_autofree char *write_file = NULL;
  TraceSvgOptions svg_options = { NULL };
  g_autofree char *svg_path = NULL; /* the options own what GOption gave */
  g_auto (GStrv) svg_labels = NULL;
  g_auto (GStrv) svg_sessions = NULL;
  g_autofree char *svg_title = NULL;
  g_autofree char *svg_from = NULL;
  g_autofree char *svg_to = NULL;
  g_autofree char *svg_size = NULL;
  guint streams[TRACE_MAX_SVG_SESSIONS];
  g_autofree char *color = NULL;
  g_auto (GStrv) ports = NULL;
  g_auto (GStrv) keylogs = NULL;
  g_autoptr (TraceKeylog) keylog = NULL;
  g_autoptr (TraceJourneys) journeys = trace_journeys_new ();
  gboolean journey_only = FALSE;
  gint64 count = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- explain SMTP, POP3 and IMAP on the wire");
  GOptionEntry entries[] = {
    { "read", 'r', 0, G_OPTION_ARG_FILENAME, &file,
      "Read packets from FILE (.pcap or .pcapng); needs no privileges",
      "FILE" },
    { "interface", 'i', 0, G_OPTION_ARG_STRING, &interface,
      "Capture live on IFACE (default lo)", "IFACE" },
    { "write", 'w', 0, G_OPTION_ARG_FILENAME, &write_file,
      "Also save the packets to FILE (pcap) while decoding", "FILE" },
    { "port", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &ports,
      "Also capture and decode PORT (repeat, or comma-separated)", "PORT" },
    { "count", 'c', 0, G_OPTION_ARG_INT64, &count, "Stop after N packets",
      "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &tracer.options.json,
      "JSON lines (schema mw-trace/1, docs/trace-json.md)", NULL },
    { "body", 0, 0, G_OPTION_ARG_NONE, &tracer.options.body,
      "Show message text, not only its summary", NULL },
    { "show-secrets", 0, 0, G_OPTION_ARG_NONE, &tracer.options.show_secrets,
      "Show passwords and SASL credentials (labs on plaintext risk)", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &tracer.options.quiet,
      "Only summaries, gaps and lint findings", NULL },
    { "journey", 0, 0, G_OPTION_ARG_NONE, &journey_only,
      "Only the journey of each message across the sessions (push, relay, "
      "pull, IDLE push), no ladder",
      NULL },
    { "svg", 0, 0, G_OPTION_ARG_FILENAME, &svg_path,
      "Draw mail sessions as an SVG sequence diagram (- : to stdout, "
      "instead of the ladder)",
      "FILE" },
    { "session", 0, 0, G_OPTION_ARG_STRING_ARRAY, &svg_sessions,
      "Draw only session N (the ladder's [N]; repeat or comma-separate: in "
      "this order; default: every mail session of the capture)",
      "N" },
    { "svg-session", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING_ARRAY,
      &svg_sessions, "The same as --session", "N" },
    { "svg-label", 0, 0, G_OPTION_ARG_STRING_ARRAY, &svg_labels,
      "Name the client of the next --session (repeat, in order; one name "
      "twice: one lane)",
      "NAME" },
    { "svg-title", 0, 0, G_OPTION_ARG_STRING, &svg_title, "The diagram's title",
      "TEXT" },
    { "svg-from", 0, 0, G_OPTION_ARG_STRING, &svg_from,
      "Start the diagram at the first command that holds TEXT (e.g. IDLE)",
      "TEXT" },
    { "svg-to", 0, 0, G_OPTION_ARG_STRING, &svg_to,
      "End the diagram at the answer to the first command (from "
      "--svg-from's on) that holds TEXT",
      "TEXT" },
    { "svg-compact", 0, 0, G_OPTION_ARG_NONE, &svg_options.compact,
      "Fold listings, multi-line replies and TLS records to fit a slide",
      NULL },
    { "svg-size", 0, 0, G_OPTION_ARG_STRING, &svg_size,
      "slide: fit 1280x720, folding what does not fit (default without "
      "--session); full: a row per line (default with --session)",
      "SIZE" },
    { "svg-print", 0, 0, G_OPTION_ARG_NONE, &svg_options.print,
      "Black on white: push, pull, pushes and TLS told by shape", NULL },
    { "keylog", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &keylogs,
      "Decrypt TLS sessions whose secrets FILE holds (NSS key log format, "
      "as SSLKEYLOGFILE writes; repeat for several)",
      "FILE" },
    { "color", 0, 0, G_OPTION_ARG_STRING, &color,
      "auto (default: on a terminal), always or never", "WHEN" },
    { NULL },
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("mw-trace: %s\n", error->message);
      return 2;
    }
  if (file != NULL && interface != NULL)
    {
      g_printerr ("mw-trace: give -r FILE or -i IFACE, not both\n");
      return 2;
    }
  if (!parse_ports (&tracer, ports))
    return 2;
  tracer.options.out = stdout;
  tracer.options.frame = &tracer.packets;
  tracer.options.journeys = journeys;
  svg_options.path = svg_path;
  svg_options.labels = svg_labels;
  svg_options.from = svg_from;
  svg_options.to = svg_to;
  if (!setup_svg (&tracer, &svg_options, svg_sessions, streams, svg_title,
                  svg_size))
    return 2;
  if (journey_only && !setup_journey_only (&tracer))
    return 2;
  tracer.options.color = !tracer.options.json && want_color (color);
  tracer.options.live = file == NULL;
  if (!setup_keylog (&tracer, keylogs, file == NULL))
    return 2;
  keylog = tracer.options.keylog; /* freed after the sessions */
  if (!open_capture (&tracer, file, interface != NULL ? interface : "lo",
                     write_file))
    return 1;
  return run (&tracer, count, file == NULL);
}
