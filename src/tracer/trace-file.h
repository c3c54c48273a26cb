/* SPDX-License-Identifier: MIT
 * trace-file.h: a capture file read where it lies in memory. libpcap
 * reads a file a packet at a time through stdio, copying every packet
 * twice (from the kernel into the FILE's buffer, from there into its own):
 * on a large capture that was a tenth of what `mw-trace -q` did. Mapped,
 * each packet is handed over in place.
 *
 * Only the common case is read here: a classic pcap file of version 2.4
 * with microsecond times (what `tcpdump -w` writes), or a pcapng file of
 * one section with one interface whose times are in microseconds (what
 * mergecap and dumpcap write), in either byte order (pcap-savefile(5);
 * the pcapng draft, draft-ietf-opsawg-pcapng §4). At anything else
 * (nanosecond times, a second interface or section, an odd or cut-off
 * record) the reader stops, and libpcap reads the file instead, skipping
 * the packets already handed over: it reads the rest as it always did and
 * says what is wrong with it.
 */
#pragma once

#include <glib.h>
#include <pcap/pcap.h>

G_BEGIN_DECLS

typedef enum
{
  TRACE_FILE_PCAP,
  TRACE_FILE_PCAPNG,
} TraceFileFormat;

typedef struct
{
  const guint8 *data; /* the whole file */
  gsize length;
  gsize offset; /* of the next record or block */
  TraceFileFormat format;
  gboolean swapped;   /* written on a machine of the other byte order */
  guint32 snapshot;   /* the longest record taken here */
  gboolean interface; /* pcapng: its one interface was described */
  guint64 packets;    /* handed over so far */
  gpointer mapping;   /* trace_file_open ()'s, else NULL */
} TraceFile;

/* Reads @data (borrowed) as a capture whose packets libpcap gives whole
 * up to @snapshot octets (pcap_snapshot () of the same file: its snapshot
 * length as libpcap corrects it). FALSE if it is not a file this reader
 * takes (see above): libpcap is to read all of it. */
gboolean trace_file_init (TraceFile *file,
                          const guint8 *data,
                          gsize length,
                          guint32 snapshot);
/* Maps the regular file @path and reads it as trace_file_init () does:
 * NULL if it cannot be mapped or is not a file this reader takes. */
TraceFile *trace_file_open (const char *path, guint32 snapshot);
void trace_file_close (TraceFile *file);

/* The next packet as libpcap would give it: TRUE and *out_header and
 * *out_bytes (pointing into the file); FALSE at the end of the file or
 * where this reader stops and libpcap must go on (trace_file_done ()). */
gboolean trace_file_next (TraceFile *file,
                          struct pcap_pkthdr *out_header,
                          const guint8 **out_bytes);
/* TRUE when the whole file was read: nothing is left for libpcap. */
gboolean trace_file_done (const TraceFile *file);
/* The packets handed over, which libpcap is to skip. */
guint64 trace_file_packets (const TraceFile *file);

G_END_DECLS
