/* SPDX-License-Identifier: MIT
 * imap-session.h: the server side of one IMAP connection (RFC 9051, and
 * RFC 3501 for IMAP4rev1 clients), and the state every session of one
 * mw-imapd shares (configuration, certificate, users file).
 */
#pragma once

#include <gio/gio.h>

#include "mail-net.h"

G_BEGIN_DECLS

/* What the sessions of one server share (mail-net.h). */
typedef MailServerContext ImapContext;

/* Runs one whole session over @connection, blocking, in the caller's
 * thread: TLS first when @implicit_tls (RFC 8314 §3.3, port 993), the
 * greeting, then commands until LOGOUT, the peer leaving, a timeout or a
 * fatal I/O error. Does not close @connection. */
void imap_session_run (ImapContext *context,
                       GSocketConnection *connection,
                       gboolean implicit_tls);

G_END_DECLS
