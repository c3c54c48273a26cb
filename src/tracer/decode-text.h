/* SPDX-License-Identifier: MIT
 * decode-text.h: the dot-stuffed message text that SMTP DATA (RFC 5321
 * §4.5.2) and POP3's multi-line responses (RFC 1939 §3) carry, as the
 * decoders read it when no line of it is printed (TraceDecoder.scan).
 */
#pragma once

#include <string.h>

#include "mail-line.h"

G_BEGIN_DECLS

/* The longest line the tracer frames (trace-session.c), LF included. */
#define TRACE_TEXT_MAX_LINE MAIL_LINE_MAX_IMAP

/* The size of the plain line at the start of @data, its CRLF included, or
 * 0 when the line is not plain or not complete. A plain line ends in CRLF
 * within TRACE_TEXT_MAX_LINE octets, holds no other CR and no NUL, and
 * does not start with ".": it can neither end the text nor break a rule,
 * so a decoder learns all it needs from it without framing it. Any other
 * line (the end, a stuffed dot, a bare CR or LF, a NUL, an overlong line)
 * goes to the framer and the decoder's line handler, which lint it. The
 * NUL is the caller's to look for: once in all of its @data, as NULs are
 * rare, rather than in every line (trace_message_feed_text ()). */
static inline gsize
trace_text_plain_line (const guint8 *data, gsize length)
{
  const guint8 *lf = memchr (data, '\n', MIN (length, TRACE_TEXT_MAX_LINE));
  gsize size;

  if (lf == NULL || lf == data || lf[-1] != '\r' || data[0] == '.')
    return 0;
  size = (gsize) (lf - data) + 1;
  if (memchr (data, '\r', size - 2) != NULL)
    return 0; /* a bare CR inside the line */
  return size;
}

G_END_DECLS
