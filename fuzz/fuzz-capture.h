/* SPDX-License-Identifier: MIT
 * fuzz-capture.h: a capture file given as the fuzzer's input, opened by
 * libpcap as mw-trace -r opens it (pcap or pcapng), from memory.
 */
#pragma once

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

/* The capture in @data, or NULL when libpcap cannot open it (then
 * mw-trace would not read it either). */
static inline pcap_t *
fuzz_capture_open (const uint8_t *data, size_t size)
{
  char errbuf[PCAP_ERRBUF_SIZE];
  FILE *stream;
  pcap_t *pcap;

  if (size == 0)
    return NULL;
  stream = fmemopen ((void *) data, size, "rb");
  if (stream == NULL)
    return NULL;
  pcap = pcap_fopen_offline (stream, errbuf); /* closes @stream */
  if (pcap == NULL)
    fclose (stream);
  return pcap;
}
