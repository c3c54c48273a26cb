/* SPDX-License-Identifier: MIT
 * smtp-bounce.h: delivery status notifications for the queue (RFC 3464,
 * RFC 6522).
 */
#pragma once

#include "smtp-queue.h"

G_BEGIN_DECLS

/* The bounce for @entry, reported by @host, about @failed (of
 * SmtpQueueRecipient, with their reasons), returning the header section
 * of @data (the original message) as text/rfc822-headers. CRLF, ready to
 * queue with the null sender (transfer full: g_string_free ()). */
GString *smtp_bounce_compose (const char *host,
                              const SmtpQueueEntry *entry,
                              GPtrArray *failed,
                              const char *data,
                              gsize length);

G_END_DECLS
