/* SPDX-License-Identifier: MIT
 * pop3-session.h: the server side of one POP3 connection (RFC 1939), and
 * the state every session of one mw-pop3d shares (configuration,
 * certificate, users file).
 */
#pragma once

#include <gio/gio.h>

#include "mail-net.h"

G_BEGIN_DECLS

/* What the sessions of one server share (mail-net.h). */
typedef MailServerContext Pop3Context;

/* Runs one whole session over @connection, blocking, in the caller's
 * thread: TLS handshake first when @implicit_tls (RFC 8314 §3.3, port
 * 995), greeting, commands until QUIT, the peer leaving, a timeout or a
 * fatal I/O error. Never deletes anything unless the client sent QUIT in
 * the TRANSACTION state (RFC 1939 §6). Does not close @connection. */
void pop3_session_run (Pop3Context *context,
                       GSocketConnection *connection,
                       gboolean implicit_tls);

G_END_DECLS
