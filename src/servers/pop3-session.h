/* SPDX-License-Identifier: MIT
 * pop3-session.h: the server side of one POP3 connection (RFC 1939), and
 * the state every session of one mw-pop3d shares (configuration,
 * certificate, users file).
 */
#pragma once

#include <gio/gio.h>

#include "mail-config.h"

G_BEGIN_DECLS

/* Shared by every session thread of one server; thread-safe. */
typedef struct _Pop3Context Pop3Context;

/* @config (transfer none) must outlive the context. @certificate may be
 * NULL: then neither STLS nor implicit TLS is offered. The users file is
 * loaded lazily and reloaded whenever its modification time changes, so
 * "mw-admin user add" needs no restart. */
Pop3Context *pop3_context_new (const MailConfig *config,
                               GTlsCertificate *certificate);
void pop3_context_free (Pop3Context *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pop3Context, pop3_context_free)

/* Runs one whole session over @connection, blocking, in the caller's
 * thread: TLS handshake first when @implicit_tls (RFC 8314 §3.3, port
 * 995), greeting, commands until QUIT, the peer leaving, a timeout or a
 * fatal I/O error. Never deletes anything unless the client sent QUIT in
 * the TRANSACTION state (RFC 1939 §6). Does not close @connection. */
void pop3_session_run (Pop3Context *context,
                       GSocketConnection *connection,
                       gboolean implicit_tls);

G_END_DECLS
