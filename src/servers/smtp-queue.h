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
 * produces a bounce to the sender (never for the null sender). With DSN
 * (RFC 3461) the sender chooses per recipient: no bounce (NOTIFY=NEVER),
 * a delay notice after [relay] delay_notice, a success notice for a
 * local delivery or a relay to a next hop without DSN (docs/dsn.md).
 */
#pragma once

#include <gio/gio.h>

#include "mail-auth.h"
#include "mail-config.h"
#include "smtp-proto.h"

G_BEGIN_DECLS

typedef struct _SmtpQueue SmtpQueue;

/* Returns the current users (transfer none), re-read when the users file
 * changed, so a user added with mw-admin receives bounces at once. */
typedef MailUsers *(*SmtpQueueUsersFunc) (gpointer user_data);

/* Opens (creates) config->queue_dir. The queue resolves local recipients
 * of bounces through @users_func (may be NULL: no local users). */
SmtpQueue *smtp_queue_new (const MailConfig *config,
                           SmtpQueueUsersFunc users_func,
                           gpointer users_data,
                           GError **error);
void smtp_queue_free (SmtpQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpQueue, smtp_queue_free)

/* Stores a message and its envelope durably (fsync of files and
 * directory) and wakes the delivery agent. @reverse_path is "" for the
 * null sender <>. @smtputf8: MAIL had SMTPUTF8, so every next hop must
 * offer it too (RFC 6531 §3.5). @dsn (may be NULL: nothing asked) holds
 * RET, ENVID and one NOTIFY/ORCPT per recipient (RFC 3461 §4), kept in
 * the envelope. *out_id (optional, transfer full) names the entry.
 * A full disk fails with MAIL_STORE_ERROR_NO_SPACE (answer 452), and a
 * failed enqueue leaves nothing behind. Safe to call from any thread. */
gboolean smtp_queue_enqueue (SmtpQueue *queue,
                             const char *reverse_path,
                             const char *const *recipients,
                             const void *data,
                             gsize length,
                             gboolean smtputf8,
                             const SmtpDsnEnvelope *dsn,
                             char **out_id,
                             GError **error);

/* Starts the delivery agent thread (first pass at once). */
void smtp_queue_start (SmtpQueue *queue);

/* Wakes the delivery agent now and treats every entry as due, as if its
 * retry time had come (mw-admin queue flush, tests). */
void smtp_queue_flush (SmtpQueue *queue);

/* ---- reading the queue directory (mw-admin queue) ---------------------
 * An entry is two files in the queue directory, both written to a
 * temporary name, fsynced and renamed, with the directory fsynced after
 * each rename:
 *   ID.msg  the message, CRLF, exactly as it will be sent
 *   ID.env  the envelope (GKeyFile): [envelope] sender, arrival,
 *           attempts, next_attempt, last_error, and when asked smtputf8,
 *           ret, envid; one [recipient N] group per recipient with
 *           address, state and reason, and when asked notify, orcpt,
 *           delay_notified. A key added later is optional, so entries
 *           written by an older mw-smtpd stay readable.
 * ID.env is written second, so it is the commit point: an entry exists
 * once its envelope does. */

typedef enum
{
  SMTP_QUEUE_WAITING,   /* not delivered yet; reason says why */
  SMTP_QUEUE_DELIVERED, /* the next hop said 250 */
  SMTP_QUEUE_BOUNCED,   /* 5xx or expired; a bounce was queued */
} SmtpQueueRecipientState;

/* Where the last attempt took a recipient, for the success notice
 * (RFC 3461 §5.2). */
typedef enum
{
  SMTP_QUEUE_HOP_NONE,  /* not delivered */
  SMTP_QUEUE_HOP_LOCAL, /* into a local mailbox: "delivered" */
  SMTP_QUEUE_HOP_DSN,   /* to a next hop with DSN: it reports from now on */
  SMTP_QUEUE_HOP_PLAIN, /* to a next hop without DSN: "relayed" */
} SmtpQueueHop;

typedef struct
{
  char *address;
  SmtpQueueRecipientState state;
  char *reason;         /* last reply or error, NULL before the first attempt */
  SmtpDsnRecipient dsn; /* NOTIFY, ORCPT (RFC 3461 §4.1, §4.2) */
  gboolean delay_notified; /* the "delayed" notice went out */
  SmtpQueueHop hop;        /* of the last attempt; not kept on disk */
  char *remote_mta;        /* the next hop that answered, or NULL */
} SmtpQueueRecipient;

typedef struct
{
  char *id;
  char *sender;   /* "" for the null sender <> */
  gint64 arrival; /* Unix seconds */
  guint attempts;
  gint64 next_attempt;   /* Unix seconds */
  char *last_error;      /* NULL before the first attempt */
  guint64 size;          /* octets of ID.msg */
  gboolean smtputf8;     /* relayed only with SMTPUTF8 (RFC 6531 §3.5) */
  SmtpDsnRet ret;        /* RFC 3461 §4.3 */
  char *envid;           /* RFC 3461 §4.4, decoded; NULL without */
  GPtrArray *recipients; /* of SmtpQueueRecipient */
} SmtpQueueEntry;

void smtp_queue_entry_free (SmtpQueueEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpQueueEntry, smtp_queue_entry_free)

/* Every entry of @dir, oldest first (transfer full; free with
 * g_ptr_array_unref ()). */
GPtrArray *smtp_queue_list (const char *dir, GError **error);
/* Removes entry @id without delivering or bouncing it. Waits for the
 * agent to finish the entry it is working on (a lock file), so a
 * delivery in progress is never undone half-way. G_IO_ERROR_NOT_FOUND
 * if there is no such entry. */
gboolean smtp_queue_delete (const char *dir, const char *id, GError **error);
/* Asks a running mw-smtpd to try every entry now: creates the file
 * SMTP_QUEUE_FLUSH_FILE in @dir, which the agent looks for every second
 * and removes. A file rather than a signal: it needs no pid file, works
 * across users with write access to the queue, and a request made while
 * the server is down is honoured when it starts. */
#define SMTP_QUEUE_FLUSH_FILE "flush"
gboolean smtp_queue_request_flush (const char *dir, GError **error);

G_END_DECLS
