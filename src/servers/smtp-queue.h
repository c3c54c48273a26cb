/* SPDX-License-Identifier: MIT
 * smtp-queue.h: the mail queue of mw-smtpd and its delivery agent
 * (RFC 5321 §4.5.4 retry strategy, §6.1 reliable delivery, §4.5.5
 * bounces; RFC 3464 delivery status notifications).
 *
 * The session hands a message for remote recipients to the queue before it
 * answers 250 (durable before yes). The delivery agent, a thread of
 * mw-smtpd, pushes each message to its next hop with the SMTP client
 * library (src/clients/smtp-client.h): the static route from [routes], else
 * the MX of the domain (GResolver), else the domain's address. 4xx and
 * connection failures are retried with exponential backoff from
 * retry_min to retry_max; a 5xx, or a message older than the lifetime,
 * produces a bounce to the sender (never for the null sender).
 */
#pragma once

#include "mail-auth.h"
#include "mail-config.h"

G_BEGIN_DECLS

typedef struct _SmtpQueue SmtpQueue;

/* Opens (creates) config->queue_dir. The queue resolves local recipients
 * of bounces through @users (borrowed; must outlive the queue). */
SmtpQueue *smtp_queue_new (const MailConfig *config,
                           MailUsers *users,
                           GError **error);
void smtp_queue_free (SmtpQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpQueue, smtp_queue_free)

/* Stores a message and its envelope durably (fsync of files and
 * directory) and wakes the delivery agent. @reverse_path is "" for the
 * null sender <>. *out_id (optional, transfer full) names the entry. */
gboolean smtp_queue_enqueue (SmtpQueue *queue,
                             const char *reverse_path,
                             const char *const *recipients,
                             const void *data,
                             gsize length,
                             char **out_id,
                             GError **error);

/* Starts the delivery agent thread (first pass at once). */
void smtp_queue_start (SmtpQueue *queue);
