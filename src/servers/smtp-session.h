/* SPDX-License-Identifier: MIT
 * smtp-session.h: the server side of SMTP connections for mw-smtpd
 * (RFC 5321 §3, §4; RFC 3207 STARTTLS; RFC 4954 AUTH; RFC 8314 implicit
 * TLS; RFC 6409 submission).
 *
 * Two objects:
 *   SmtpContext  what every session shares: the config, the certificate,
 *                the users file (reloaded when it changes on disk) and
 *                where messages for remote recipients go (the queue).
 *   a session    one connection, run top to bottom in the caller's thread
 *                by smtp_session_run ().
 * The queue is reached only through SmtpEnqueueFunc, so the session can be
 * tested without it and the queue can be tested without a session.
 */
#pragma once

#include <gio/gio.h>

#include "mail-auth.h"
#include "mail-config.h"
#include "mail-net.h"
#include "smtp-proto.h"

G_BEGIN_DECLS

/* What the queue must remember of a transaction besides its envelope. */
typedef enum
{
  SMTP_ENQUEUE_NONE = 0,
  /* MAIL had SMTPUTF8: every next hop must offer it (RFC 6531 §3.5) */
  SMTP_ENQUEUE_SMTPUTF8 = 1 << 0,
} SmtpEnqueueFlags;

/* Stores a message for @recipients (remote mailboxes, "user@domain", and
 * local ones that asked for a success notice) durably before returning
 * TRUE; the same contract as smtp_queue_enqueue (). @reverse_path is ""
 * for the null sender; @dsn (may be NULL) the RFC 3461 request, one
 * recipient entry per @recipients. */
typedef gboolean (*SmtpEnqueueFunc) (gpointer user_data,
                                     const char *reverse_path,
                                     const char *const *recipients,
                                     const void *data,
                                     gsize length,
                                     SmtpEnqueueFlags flags,
                                     const SmtpDsnEnvelope *dsn,
                                     char **out_id,
                                     GError **error);

typedef struct _SmtpContext SmtpContext;

/* Loads the users file and, when config->tls_cert is set, the
 * certificate. @config is borrowed and must outlive the context. Without
 * an enqueue function, mail for remote recipients is refused with 550
 * 5.7.1 even after AUTH (the server is then only a final destination). */
SmtpContext *smtp_context_new (const MailConfig *config, GError **error);
void smtp_context_free (SmtpContext *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpContext, smtp_context_free)

void smtp_context_set_enqueue (SmtpContext *context,
                               SmtpEnqueueFunc func,
                               gpointer user_data);
/* Log every command and reply ("C: ..." / "S: ...") on stderr; AUTH data
 * is masked. */
void smtp_context_set_protocol_log (SmtpContext *context, gboolean enabled);
/* (transfer none) the certificate, or NULL when TLS is not configured. */
GTlsCertificate *smtp_context_get_certificate (SmtpContext *context);
/* (transfer none) the users as loaded now; re-read when the file changed
 * since the last call. Every version stays alive until the context is
 * freed, so a pointer handed out stays valid (sessions in other threads
 * may still use it). */
MailUsers *smtp_context_get_users (SmtpContext *context);

/* Serves one connection until QUIT, the peer closing, a timeout or a
 * fatal error, in the calling thread (a MailServerSessionFunc with the
 * context as user data). The listener decides the rules:
 *   "smtp"        MTA: mail for local domains, no AUTH (RFC 5321)
 *   "submission"  AUTH required before MAIL, offered after STARTTLS
 *                 (RFC 6409 §4.3, RFC 4954 §4)
 *   "smtps"       submission over implicit TLS (RFC 8314 §3.3)
 */
void smtp_session_run (GSocketConnection *connection,
                       const MailServerListener *listener,
                       gpointer context);

G_END_DECLS
