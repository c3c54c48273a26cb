/* SPDX-License-Identifier: MIT
 * imap-session.h: the server side of one IMAP connection (RFC 9051, and
 * RFC 3501 for IMAP4rev1 clients), and the state every session of one
 * mw-imapd shares (configuration, certificate, users file).
 */
#pragma once

#include <gio/gio.h>

#include "mail-config.h"

G_BEGIN_DECLS

/* Shared by every session thread of one server; thread-safe. */
typedef struct _ImapContext ImapContext;

/* @config (transfer none) must outlive the context. @certificate may be
 * NULL: then neither STARTTLS nor implicit TLS is offered. */
ImapContext *imap_context_new (const MailConfig *config,
                               GTlsCertificate *certificate);
void imap_context_free (ImapContext *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapContext, imap_context_free)

/* Runs one whole session over @connection, blocking, in the caller's
 * thread: TLS first when @implicit_tls (RFC 8314 §3.3, port 993), the
 * greeting, then commands until LOGOUT, the peer leaving, a timeout or a
 * fatal I/O error. Does not close @connection. */
void imap_session_run (ImapContext *context,
                       GSocketConnection *connection,
                       gboolean implicit_tls);

G_END_DECLS
