/* SPDX-License-Identifier: MIT
 * trace-file.c: capture files read in place (trace-file.h).
 */
#include "trace-file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* pcap-savefile(5): the file header is 24 octets, each record's 16
 * (seconds, microseconds, captured and original length); the magic number
 * is written in the writer's byte order, and 0xa1b23c4d would mean
 * nanosecond times (libpcap's to convert). */
#define PCAP_HEADER 24
#define PCAP_RECORD_HEADER 16
#define PCAP_MAGIC_MICROSECONDS 0xa1b2c3d4u

/* pcapng: blocks of type, total length, body, total length again. */
#define PCAPNG_SHB 0x0a0d0d0au /* section header, the same both ways */
#define PCAPNG_BYTE_ORDER 0x1a2b3c4du
#define PCAPNG_IDB 1u        /* interface description */
#define PCAPNG_PB 2u         /* obsolete packet block */
#define PCAPNG_SPB 3u        /* simple packet block */
#define PCAPNG_EPB 6u        /* enhanced packet block */
#define PCAPNG_BLOCK_MIN 12u /* type, length, trailing length */
#define PCAPNG_EPB_FIXED 20u /* interface, time (2 words), lengths (2) */
#define PCAPNG_OPT_TSRESOL 9u
#define PCAPNG_OPT_TSOFFSET 14u

static guint32
word_at (const TraceFile *file, gsize offset)
{
  guint32 word;

  memcpy (&word, file->data + offset, sizeof word); /* may be unaligned */
  return file->swapped ? GUINT32_SWAP_LE_BE (word) : word;
}

static guint16
half_at (const TraceFile *file, gsize offset)
{
  guint16 half;

  memcpy (&half, file->data + offset, sizeof half);
  return file->swapped ? GUINT16_SWAP_LE_BE (half) : half;
}

/* ---- classic pcap ------------------------------------------------------ */

static gboolean
classic_init (TraceFile *file)
{
  guint32 magic;

  if (file->length < PCAP_HEADER)
    return FALSE;
  memcpy (&magic, file->data, sizeof magic);
  if (magic == GUINT32_SWAP_LE_BE (PCAP_MAGIC_MICROSECONDS))
    file->swapped = TRUE;
  else if (magic != PCAP_MAGIC_MICROSECONDS)
    return FALSE;
  /* version 2.4; older files may have their two lengths the other way
   * round, which libpcap puts right */
  if (half_at (file, 4) != 2 || half_at (file, 6) != 4)
    return FALSE;
  file->format = TRACE_FILE_PCAP;
  file->offset = PCAP_HEADER;
  return TRUE;
}

static gboolean
classic_next (TraceFile *file,
              struct pcap_pkthdr *out_header,
              const guint8 **out_bytes)
{
  gsize left = file->length - file->offset;
  guint32 caplen;

  if (left < PCAP_RECORD_HEADER)
    return FALSE; /* the end, or a cut-off header libpcap reports */
  caplen = word_at (file, file->offset + 8);
  /* a record longer than the snapshot length libpcap cuts (or refuses),
   * and one cut off by the end of the file it reports: both its */
  if (caplen > file->snapshot || caplen > left - PCAP_RECORD_HEADER)
    return FALSE;
  /* as libpcap 1.10 gives them: signed 32-bit seconds and microseconds
   * (struct pcap_sf_pkthdr), but unsigned once it has swapped their
   * octets (test-trace-file.c holds it to that) */
  if (file->swapped)
    {
      out_header->ts.tv_sec = word_at (file, file->offset);
      out_header->ts.tv_usec = word_at (file, file->offset + 4);
    }
  else
    {
      out_header->ts.tv_sec = (gint32) word_at (file, file->offset);
      out_header->ts.tv_usec = (gint32) word_at (file, file->offset + 4);
    }
  out_header->caplen = caplen;
  out_header->len = word_at (file, file->offset + 12);
  *out_bytes = file->data + file->offset + PCAP_RECORD_HEADER;
  file->offset += PCAP_RECORD_HEADER + caplen;
  return TRUE;
}

/* ---- pcapng ------------------------------------------------------------ */

/* The length of the well-formed block at the offset, or 0: at least
 * type, length and trailing length, a multiple of 4, within the file,
 * both lengths alike. */
static guint32
pcapng_block_length (const TraceFile *file)
{
  gsize left = file->length - file->offset;
  guint32 length;

  if (left < PCAPNG_BLOCK_MIN)
    return 0;
  length = word_at (file, file->offset + 4);
  if (length < PCAPNG_BLOCK_MIN || length % 4 != 0 || length > left ||
      word_at (file, file->offset + length - 4) != length)
    return 0;
  return length;
}

/* An interface whose times libpcap gives unchanged: microseconds (no
 * if_tsresol option, or 6) and no if_tsoffset. */
static gboolean
pcapng_interface_plain (const TraceFile *file, guint32 length)
{
  gsize option = file->offset + 16; /* after link type and snap length */
  gsize end = file->offset + length - 4;

  while (option + 4 <= end)
    {
      guint16 code = half_at (file, option);
      guint16 size = half_at (file, option + 2);

      if (code == 0)
        return TRUE; /* opt_endofopt */
      if (option + 4 + size > end)
        return FALSE;
      if (code == PCAPNG_OPT_TSOFFSET ||
          (code == PCAPNG_OPT_TSRESOL &&
           (size != 1 || file->data[option + 4] != 6)))
        return FALSE;
      option += 4 + ((size + 3u) & ~3u);
    }
  return TRUE;
}

static gboolean
pcapng_init (TraceFile *file)
{
  guint32 type;
  guint32 order;
  guint32 length;

  if (file->length < 28)
    return FALSE; /* a section header is at least 28 octets */
  memcpy (&type, file->data, sizeof type);
  memcpy (&order, file->data + 8, sizeof order);
  if (type != PCAPNG_SHB)
    return FALSE;
  if (order == GUINT32_SWAP_LE_BE (PCAPNG_BYTE_ORDER))
    file->swapped = TRUE;
  else if (order != PCAPNG_BYTE_ORDER)
    return FALSE;
  if (half_at (file, 12) != 1 || half_at (file, 14) != 0)
    return FALSE; /* version 1.0 */
  length = pcapng_block_length (file);
  if (length < 28)
    return FALSE;
  file->format = TRACE_FILE_PCAPNG;
  file->offset = length;
  return TRUE;
}

static gboolean
pcapng_next (TraceFile *file,
             struct pcap_pkthdr *out_header,
             const guint8 **out_bytes)
{
  guint32 length;
  guint32 caplen;
  guint64 stamp;

  for (;;)
    {
      guint32 type;

      length = pcapng_block_length (file);
      if (length == 0)
        return FALSE; /* the end, or a block libpcap judges */
      type = word_at (file, file->offset);
      if (type == PCAPNG_IDB && !file->interface && length >= 20 &&
          pcapng_interface_plain (file, length))
        file->interface = TRUE;
      else if (type == PCAPNG_EPB)
        break;
      else if (type == PCAPNG_SHB || type == PCAPNG_IDB || type == PCAPNG_PB ||
               type == PCAPNG_SPB)
        return FALSE; /* a new section, interface or old packet block */
      /* what libpcap skips too: name resolution, statistics, ... */
      file->offset += length;
    }
  /* interface 0, described, and the packet within the block and the
   * snapshot length; anything else is libpcap's to read or refuse */
  if (!file->interface || length < PCAPNG_BLOCK_MIN + PCAPNG_EPB_FIXED ||
      word_at (file, file->offset + 8) != 0)
    return FALSE;
  caplen = word_at (file, file->offset + 20);
  if (caplen > file->snapshot ||
      caplen > length - PCAPNG_BLOCK_MIN - PCAPNG_EPB_FIXED)
    return FALSE;
  stamp = (guint64) word_at (file, file->offset + 12) << 32 |
          word_at (file, file->offset + 16);
  out_header->ts.tv_sec = (time_t) (stamp / G_USEC_PER_SEC);
  out_header->ts.tv_usec = (suseconds_t) (stamp % G_USEC_PER_SEC);
  out_header->caplen = caplen;
  out_header->len = word_at (file, file->offset + 24);
  *out_bytes = file->data + file->offset + 28;
  file->offset += length;
  return TRUE;
}

/* ---- either ------------------------------------------------------------ */

gboolean
trace_file_init (TraceFile *file,
                 const guint8 *data,
                 gsize length,
                 guint32 snapshot)
{
  memset (file, 0, sizeof *file);
  file->data = data;
  file->length = length;
  file->snapshot = snapshot;
  return data != NULL && (classic_init (file) || pcapng_init (file));
}

TraceFile *
trace_file_open (const char *path, guint32 snapshot)
{
  TraceFile *file;
  struct stat st;
  gpointer mapping;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return NULL;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size < 24)
    {
      close (fd);
      return NULL;
    }
  mapping = mmap (NULL, (gsize) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close (fd); /* the mapping keeps the file */
  if (mapping == MAP_FAILED)
    return NULL;
  /* read once from start to end: the kernel may read ahead */
  madvise (mapping, (gsize) st.st_size, MADV_SEQUENTIAL);
  file = g_new0 (TraceFile, 1);
  if (!trace_file_init (file, mapping, (gsize) st.st_size, snapshot))
    {
      munmap (mapping, (gsize) st.st_size);
      g_free (file);
      return NULL;
    }
  file->mapping = mapping;
  return file;
}

void
trace_file_close (TraceFile *file)
{
  if (file == NULL)
    return;
  if (file->mapping != NULL)
    munmap (file->mapping, file->length);
  g_free (file);
}

gboolean
trace_file_next (TraceFile *file,
                 struct pcap_pkthdr *out_header,
                 const guint8 **out_bytes)
{
  gboolean ok = file->format == TRACE_FILE_PCAP
                    ? classic_next (file, out_header, out_bytes)
                    : pcapng_next (file, out_header, out_bytes);

  if (ok)
    file->packets++;
  return ok;
}

gboolean
trace_file_done (const TraceFile *file)
{
  return file->offset == file->length;
}

guint64
trace_file_packets (const TraceFile *file)
{
  return file->packets;
}
