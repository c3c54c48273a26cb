/* SPDX-License-Identifier: MIT
 * smtp-queue-private.h: what the files of the queue share: smtp-queue.c
 * (the delivery agent), smtp-queue-envelope.c (entries on disk) and
 * smtp-queue-notify.c (the DSNs it sends back). Not for other modules.
 */
#pragma once

#include "smtp-queue.h"

G_BEGIN_DECLS

/* "waiting", "delivered", "bounced": SmtpQueueRecipientState on disk. */
extern const char *const smtp_queue_state_names[];

void smtp_queue_recipient_free (SmtpQueueRecipient *r);
/* DIR/ID.SUFFIX (transfer full). */
char *smtp_queue_path (const char *dir, const char *id, const char *suffix);
/* Temporary file, fsync, rename, fsync of @dir; a full disk is
 * MAIL_STORE_ERROR_NO_SPACE. */
gboolean smtp_queue_write_durably (const char *dir,
                                   const char *path,
                                   const void *data,
                                   gsize length,
                                   GError **error);
gboolean smtp_queue_save_envelope (const char *dir,
                                   const SmtpQueueEntry *e,
                                   GError **error);
/* (transfer full) NULL with @error if ID.env is unreadable. */
SmtpQueueEntry *
smtp_queue_load_entry (const char *dir, const char *id, GError **error);
/* Envelope first, then the text, then an fsync of @dir. */
gboolean
smtp_queue_remove_files (const char *dir, const char *id, GError **error);

/* (transfer none) the configuration the queue was made with. */
const MailConfig *smtp_queue_get_config (SmtpQueue *queue);

/* After an attempt on @e (smtp-queue-notify.c): the DSNs its @tried
 * recipients asked for (RFC 3461 §4.1, default FAILURE and DELAY), each
 * queued durably to the sender before the envelope says it went out:
 * "failed" for those now bounced, "delayed" once for those waiting past
 * [relay] delay_notice, "delivered" (local mailbox) or "relayed" (next
 * hop without DSN) for NOTIFY=SUCCESS. A bounce that cannot be queued
 * leaves its recipients waiting, so it is tried again. */
void smtp_queue_notify (SmtpQueue *queue,
                        SmtpQueueEntry *e,
                        GPtrArray *tried,
                        const char *data,
                        gsize length,
                        gint64 now);

G_END_DECLS
