/* SPDX-License-Identifier: MIT
 * smtp-bounce.h: delivery status notifications for the queue (RFC 3464,
 * RFC 6522; what to send when: RFC 3461 §6, docs/dsn.md).
 */
#pragma once

#include "smtp-queue.h"

G_BEGIN_DECLS

/* RFC 3464 §2.3.3 action-value: what happened to the recipients of one
 * notice. ("expanded" is not here: mw-smtpd has no lists or aliases.) */
typedef enum
{
  SMTP_DSN_ACTION_FAILED,    /* gave up: a bounce */
  SMTP_DSN_ACTION_DELAYED,   /* still trying after [relay] delay_notice */
  SMTP_DSN_ACTION_DELIVERED, /* in a local mailbox (NOTIFY=SUCCESS) */
  SMTP_DSN_ACTION_RELAYED,   /* to a next hop without DSN (RFC 3461 §5.2.2) */
} SmtpDsnAction;

/* The notice for @entry, reported by @host, saying @action about
 * @recipients (of SmtpQueueRecipient, with their reasons). It returns
 * @data (the original message) whole as message/rfc822 for a failure
 * with RET=FULL, else its header section as text/rfc822-headers (RFC
 * 3461 §4.3). @retry_until (Unix seconds) is the Will-Retry-Until of a
 * delay. CRLF, ready to queue with the null sender (transfer full:
 * g_string_free ()). */
GString *smtp_bounce_compose (const char *host,
                              const SmtpQueueEntry *entry,
                              SmtpDsnAction action,
                              GPtrArray *recipients,
                              const char *data,
                              gsize length,
                              gint64 retry_until);

G_END_DECLS
