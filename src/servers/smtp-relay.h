/* SPDX-License-Identifier: MIT
 * smtp-relay.h: one delivery attempt to the next hop of a domain, for the
 * queue's delivery agent (RFC 5321 §5.1; RFC 7435).
 */
#pragma once

#include "mail-config.h"
#include "smtp-queue.h"

G_BEGIN_DECLS

/* Pushes @data of @entry from its sender ("" for <>) to @recipients (of
 * SmtpQueueRecipient of @entry, all waiting, all in @domain) through the
 * static route of @domain, else its MX hosts, else its address, and
 * records in each recipient its new state and reason: DELIVERED on 2xx,
 * BOUNCED on 5xx, WAITING on 4xx or when no hop could be reached, and
 * the hop that answered (remote_mta; hop: DSN or PLAIN). With
 * entry->smtputf8 MAIL asks for SMTPUTF8, and a hop that does not offer
 * it bounces the recipients with 5.6.7 (RFC 6531 §3.5). A hop that
 * offers DSN gets RET, ENVID, NOTIFY and ORCPT (RFC 3461 §5.2.1).
 * Cancelling @cancellable (may be NULL) cuts the attempt short:
 * WAITING. */
void smtp_relay_deliver (const MailConfig *config,
                         const SmtpQueueEntry *entry,
                         const char *domain,
                         GPtrArray *recipients,
                         const char *data,
                         gsize length,
                         GCancellable *cancellable);

G_END_DECLS
