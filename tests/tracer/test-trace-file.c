/* SPDX-License-Identifier: MIT
 * test-trace-file.c: the in-place reader of capture files (trace-file.h)
 * against libpcap on a case table of crafted files, classic pcap and
 * pcapng, both byte orders: every packet it hands over is the one libpcap
 * gives (times, lengths, octets), and where it stops short libpcap is the
 * one to read the file.
 */
#include <stdio.h>
#include <string.h>

#include "trace-file.h"

/* ---- writing files ------------------------------------------------------ */

typedef struct
{
  GByteArray *out;
  gboolean big; /* big-endian, the byte order of the other machine here */
} Writer;

static void
put32 (Writer *w, guint32 value)
{
  guint32 word = w->big ? GUINT32_TO_BE (value) : GUINT32_TO_LE (value);

  g_byte_array_append (w->out, (const guint8 *) &word, 4);
}

static void
put16 (Writer *w, guint16 value)
{
  guint16 half = w->big ? GUINT16_TO_BE (value) : GUINT16_TO_LE (value);

  g_byte_array_append (w->out, (const guint8 *) &half, 2);
}

/* A frame of @length octets, each its index plus @seed. */
static void
put_frame (Writer *w, guint length, guint seed)
{
  for (guint i = 0; i < length; i++)
    {
      guint8 octet = (guint8) (i + seed);
      g_byte_array_append (w->out, &octet, 1);
    }
}

static void
classic_header (Writer *w, guint32 magic, guint16 minor, guint32 snaplen)
{
  put32 (w, magic);
  put16 (w, 2);
  put16 (w, minor);
  put32 (w, 0); /* thiszone */
  put32 (w, 0); /* sigfigs */
  put32 (w, snaplen);
  put32 (w, 1); /* Ethernet */
}

static void
classic_record (Writer *w, guint32 sec, guint32 usec, guint caplen, guint len)
{
  put32 (w, sec);
  put32 (w, usec);
  put32 (w, caplen);
  put32 (w, len);
  put_frame (w, caplen, sec);
}

static void
ng_section (Writer *w)
{
  put32 (w, 0x0a0d0d0a);
  put32 (w, 28);
  put32 (w, 0x1a2b3c4d);
  put16 (w, 1);
  put16 (w, 0);
  put32 (w, 0xffffffff); /* section length unknown */
  put32 (w, 0xffffffff);
  put32 (w, 28);
}

/* An interface; @tsresol 0 means no if_tsresol option. */
static void
ng_interface (Writer *w, guint32 snaplen, guint8 tsresol)
{
  guint32 length = tsresol != 0 ? 32 : 20;

  put32 (w, 1);
  put32 (w, length);
  put16 (w, 1); /* Ethernet */
  put16 (w, 0);
  put32 (w, snaplen);
  if (tsresol != 0)
    {
      put16 (w, 9);
      put16 (w, 1);
      put32 (w, tsresol); /* the octet, then padding (little-endian) */
      put32 (w, 0);       /* opt_endofopt */
    }
  put32 (w, length);
}

static void
ng_packet (Writer *w, guint32 interface, guint64 time_us, guint caplen)
{
  guint32 padded = (caplen + 3) & ~3u;
  guint32 length = 32 + padded;

  put32 (w, 6);
  put32 (w, length);
  put32 (w, interface);
  put32 (w, (guint32) (time_us >> 32));
  put32 (w, (guint32) time_us);
  put32 (w, caplen);
  put32 (w, caplen + 100);
  put_frame (w, caplen, (guint) time_us);
  for (guint i = caplen; i < padded; i++)
    g_byte_array_append (w->out, (const guint8 *) "", 1);
  put32 (w, length);
}

/* A block libpcap skips: name resolution (4) or statistics (5). */
static void
ng_other (Writer *w, guint32 type)
{
  put32 (w, type);
  put32 (w, 16);
  put32 (w, 0);
  put32 (w, 16);
}

/* ---- the cases ------------------------------------------------------------
 */

typedef struct
{
  const char *name;
  void (*write) (Writer *w);
  gboolean big;
  gboolean taken; /* trace_file_init () takes it */
  guint64 handed; /* packets handed over */
  gboolean done;  /* and nothing left for libpcap */
} FileCase;

static void
classic_three (Writer *w)
{
  classic_header (w, 0xa1b2c3d4, 4, 65535);
  classic_record (w, 1700000000, 1, 60, 60);
  classic_record (w, 1700000001, 999999, 1, 1500);
  classic_record (w, 0xfffffff0, 5, 0, 0); /* a negative second */
}

static void
classic_over_snaplen (Writer *w)
{
  classic_header (w, 0xa1b2c3d4, 4, 100);
  classic_record (w, 10, 0, 100, 100);
  classic_record (w, 11, 0, 101, 101);
  classic_record (w, 12, 0, 10, 10);
}

static void
classic_cut_off (Writer *w)
{
  classic_header (w, 0xa1b2c3d4, 4, 65535);
  classic_record (w, 10, 0, 40, 40);
  classic_record (w, 11, 0, 40, 40);
  g_byte_array_set_size (w->out, w->out->len - 7);
}

static void
classic_nanoseconds (Writer *w)
{
  classic_header (w, 0xa1b23c4d, 4, 65535);
  classic_record (w, 10, 5000, 40, 40);
}

static void
classic_version_2_3 (Writer *w)
{
  classic_header (w, 0xa1b2c3d4, 3, 65535);
  classic_record (w, 10, 0, 40, 60);
}

static void
ng_plain (Writer *w)
{
  ng_section (w);
  ng_other (w, 4);
  ng_interface (w, 262144, 0);
  ng_packet (w, 0, G_GUINT64_CONSTANT (1700000000123456), 61);
  ng_other (w, 5);
  ng_packet (w, 0, G_GUINT64_CONSTANT (1700000001000000), 64);
  ng_packet (w, 0, 7, 0);
}

static void
ng_microseconds_said (Writer *w)
{
  ng_section (w);
  ng_interface (w, 262144, 6);
  ng_packet (w, 0, 123456789, 10);
}

static void
ng_nanoseconds (Writer *w)
{
  ng_section (w);
  ng_interface (w, 262144, 9);
  ng_packet (w, 0, 123456789123, 10);
}

static void
ng_second_interface (Writer *w)
{
  ng_section (w);
  ng_interface (w, 262144, 0);
  ng_packet (w, 0, 1000, 10);
  ng_interface (w, 262144, 0);
  ng_packet (w, 1, 2000, 10);
  ng_packet (w, 0, 3000, 10);
}

static void
ng_over_snaplen (Writer *w)
{
  ng_section (w);
  ng_interface (w, 50, 0);
  ng_packet (w, 0, 1000, 50);
  ng_packet (w, 0, 2000, 51);
}

static void
ng_bad_trailer (Writer *w)
{
  ng_section (w);
  ng_interface (w, 262144, 0);
  ng_packet (w, 0, 1000, 10);
  ng_packet (w, 0, 2000, 10);
  w->out->data[w->out->len - 4] ^= 4; /* the trailing length */
}

static const FileCase cases[] = {
  { "pcap/three-packets", classic_three, FALSE, TRUE, 3, TRUE },
  { "pcap/three-packets-big-endian", classic_three, TRUE, TRUE, 3, TRUE },
  { "pcap/over-the-snapshot-length-is-libpcaps", classic_over_snaplen, FALSE,
    TRUE, 1, FALSE },
  { "pcap/cut-off-record-is-libpcaps", classic_cut_off, FALSE, TRUE, 1, FALSE },
  { "pcap/nanoseconds-are-libpcaps", classic_nanoseconds, FALSE, FALSE, 0,
    FALSE },
  { "pcap/version-2.3-is-libpcaps", classic_version_2_3, FALSE, FALSE, 0,
    FALSE },
  { "pcapng/packets-and-skipped-blocks", ng_plain, FALSE, TRUE, 3, TRUE },
  { "pcapng/packets-and-skipped-blocks-big-endian", ng_plain, TRUE, TRUE, 3,
    TRUE },
  { "pcapng/tsresol-6-is-microseconds", ng_microseconds_said, FALSE, TRUE, 1,
    TRUE },
  { "pcapng/nanoseconds-are-libpcaps", ng_nanoseconds, FALSE, TRUE, 0, FALSE },
  { "pcapng/second-interface-is-libpcaps", ng_second_interface, FALSE, TRUE, 1,
    FALSE },
  { "pcapng/over-the-snapshot-length-is-libpcaps", ng_over_snaplen, FALSE, TRUE,
    1, FALSE },
  { "pcapng/bad-trailing-length-is-libpcaps", ng_bad_trailer, FALSE, TRUE, 1,
    FALSE },
};

/* One packet as a line: time, lengths and a digest of the octets. */
static char *
describe (const struct pcap_pkthdr *header, const guint8 *bytes)
{
  g_autofree char *digest =
      g_compute_checksum_for_data (G_CHECKSUM_SHA256, bytes, header->caplen);

  return g_strdup_printf ("%" G_GINT64_FORMAT ".%06ld %u/%u %s",
                          (gint64) header->ts.tv_sec, (long) header->ts.tv_usec,
                          header->caplen, header->len, digest);
}

static void
collect (u_char *user, const struct pcap_pkthdr *header, const u_char *bytes)
{
  g_ptr_array_add ((GPtrArray *) user, describe (header, bytes));
}

static void
test_file_case (gconstpointer data)
{
  const FileCase *c = data;
  Writer w = { g_byte_array_new (), c->big };
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  TraceFile file;
  struct pcap_pkthdr header;
  const guint8 *bytes;
  FILE *stream;
  pcap_t *pcap;
  int status;
  guint64 handed = 0;

  c->write (&w);
  stream = fmemopen (w.out->data, w.out->len, "rb");
  g_assert_nonnull (stream);
  pcap = pcap_fopen_offline (stream, errbuf);
  g_assert_nonnull (pcap); /* every file here opens, whoever reads it */
  status = pcap_loop (pcap, -1, collect, (u_char *) expected);
  g_assert_cmpint (trace_file_init (&file, w.out->data, w.out->len,
                                    (guint32) pcap_snapshot (pcap)),
                   ==, c->taken);
  while (c->taken && trace_file_next (&file, &header, &bytes))
    {
      g_autofree char *got = describe (&header, bytes);

      g_assert_cmpuint (handed, <, expected->len);
      g_assert_cmpstr (got, ==, expected->pdata[handed]);
      handed++;
    }
  g_assert_cmpuint (handed, ==, c->handed);
  if (c->taken)
    {
      g_assert_cmpuint (trace_file_packets (&file), ==, handed);
      g_assert_cmpint (trace_file_done (&file), ==, c->done);
    }
  /* done: libpcap found the same packets, and no error */
  if (c->done)
    {
      g_assert_cmpint (status, ==, 0);
      g_assert_cmpuint (expected->len, ==, handed);
    }
  pcap_close (pcap);
  g_byte_array_unref (w.out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/tracer/trace-file/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_file_case);
    }
  return g_test_run ();
}
