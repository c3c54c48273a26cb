/* SPDX-License-Identifier: MIT
 * fuzz-trace-file.c: mw-trace's in-place reader of capture files
 * (src/tracer/trace-file.h) against libpcap's on the same octets.
 * Input: a capture file (pcap or pcapng).
 * Invariants: every packet the reader hands over is the one libpcap gives
 * in that place (time, lengths, octets), and within the file; when it
 * says the file is done, libpcap read it without an error and found no
 * more packets.
 */
#include "fuzz-capture.h"
#include "fuzz.h"
#include "trace-file.h"

#define MAX_PACKETS 10000

typedef struct
{
  struct pcap_pkthdr header;
  guint8 *bytes;
} Packet;

static void
packet_clear (gpointer data)
{
  g_free (((Packet *) data)->bytes);
}

static void
collect (u_char *user, const struct pcap_pkthdr *header, const u_char *bytes)
{
  Packet packet = { *header, g_memdup2 (bytes, header->caplen) };

  g_array_append_val ((GArray *) user, packet);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GArray) expected = g_array_new (FALSE, FALSE, sizeof (Packet));
  g_autofree uint8_t *copy = NULL;
  struct pcap_pkthdr header;
  const guint8 *bytes;
  TraceFile file;
  pcap_t *pcap;
  int status;
  guint handed = 0;

  fuzz_init ();
  g_array_set_clear_func (expected, packet_clear);
  pcap = fuzz_capture_open (data, size);
  if (pcap == NULL)
    return 0; /* mw-trace does not read a file libpcap cannot open */
  status = pcap_loop (pcap, MAX_PACKETS, collect, (u_char *) expected);
  /* a copy of exactly the file, so a read past it is caught */
  copy = g_memdup2 (data, size);
  if (trace_file_init (&file, copy, size, (guint32) pcap_snapshot (pcap)))
    {
      while (handed < MAX_PACKETS && trace_file_next (&file, &header, &bytes))
        {
          const Packet *want;

          g_assert_cmpuint (handed, <, expected->len);
          want = &g_array_index (expected, Packet, handed);
          g_assert_true (bytes >= copy &&
                         header.caplen <= size - (gsize) (bytes - copy));
          g_assert_cmpint (header.ts.tv_sec, ==, want->header.ts.tv_sec);
          g_assert_cmpint (header.ts.tv_usec, ==, want->header.ts.tv_usec);
          g_assert_cmpuint (header.caplen, ==, want->header.caplen);
          g_assert_cmpuint (header.len, ==, want->header.len);
          /* (an empty packet's copy is NULL, no argument for memcmp ()) */
          g_assert_true (header.caplen == 0 ||
                         memcmp (bytes, want->bytes, header.caplen) == 0);
          handed++;
        }
      g_assert_cmpuint (trace_file_packets (&file), ==, handed);
      if (handed < MAX_PACKETS && trace_file_done (&file))
        {
          g_assert_cmpint (status, ==, 0);
          g_assert_cmpuint (expected->len, ==, handed);
        }
    }
  pcap_close (pcap);
  return 0;
}
