/* SPDX-License-Identifier: MIT
 * trace-message.h: a summary of a message as it streams past (SMTP DATA
 * or BDAT, POP3 RETR/TOP, IMAP BODY[] literals): size, lines, the
 * RFC 5322 §3.6 header fields a class wants to see (From, To, Subject,
 * Message-ID), the Received: trail (for trace-journey.c) and the number of MIME
 * parts (RFC 2046 §5.1.1 boundaries). Memory is bounded whatever the size of
 * the message: only the header fields and, with --body, the first
 * TRACE_MESSAGE_MAX_BODY octets are kept.
 */
#pragma once

#include "trace-journey.h" /* where decoders report the messages */
#include "trace-output.h"

G_BEGIN_DECLS

#define TRACE_MESSAGE_MAX_BODY (64 * 1024)

typedef struct _TraceMessage TraceMessage;

TraceMessage *trace_message_new (gboolean keep_body);
void trace_message_free (TraceMessage *message);
/* Message octets, already un-dot-stuffed, lines ending in CRLF. */
void
trace_message_feed (TraceMessage *message, const guint8 *data, gsize length);
/* One line of message text (un-dot-stuffed, without its CRLF): the same
 * as feeding the line and then "\r\n", in one cheaper call. */
void
trace_message_feed_line (TraceMessage *message, const char *line, gsize length);
/* Message text as SMTP DATA and POP3 RETR/TOP carry it (dot-stuffed,
 * RFC 5321 §4.5.2, RFC 1939 §3), read straight from a segment when no line
 * of it is printed: the plain lines at the start of @data (decode-text.h),
 * each as trace_message_feed_line () takes it, but a body line that cannot
 * be a MIME boundary is only counted, not looked at. Returns the octets
 * taken, whole lines only, and their number in *out_lines; the line after
 * them is not plain (or not complete) and is the caller's. */
gsize trace_message_feed_text (TraceMessage *message,
                               const guint8 *data,
                               gsize length,
                               guint *out_lines);
guint64 trace_message_size (TraceMessage *message);
const char *trace_message_subject (TraceMessage *message);
/* The Message-ID field as sent (RFC 5322 §3.6.4), or NULL. */
const char *trace_message_message_id (TraceMessage *message);
/* The Received: fields (RFC 5321 §4.4), unfolded, newest (topmost) first:
 * the trail of servers the message went through (at most 16 kept). */
guint trace_message_received_count (TraceMessage *message);
const char *trace_message_received (TraceMessage *message, guint index);
/* Adds "N bytes, N lines, From ..., Subject ..." and the imf.* fields. */
void trace_message_describe (TraceMessage *message, TraceEvent *event);
/* With keep_body: the text kept (transfer none), else NULL. */
const char *trace_message_body (TraceMessage *message);

G_END_DECLS
