/* SPDX-License-Identifier: MIT
 * imapd.c: mw-imapd, the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501
 * IMAP4rev1), on an "imap" listener with STARTTLS (RFC 9051 §6.2.1) and
 * an "imaps" listener with implicit TLS (RFC 8314 §3.3). Each connection
 * runs imap_session_run () in its own thread; mail_server_main () does
 * the rest, as for mw-pop3d.
 */
#include "imap-proto.h"
#include "imap-session.h"
#include "mail-net.h"

#define IMAP_MAX_SESSIONS 500 /* clients keep one or more open */

static const MailListen *
imap_listen (const MailConfig *config, gboolean tls)
{
  return tls ? &config->imaps : &config->imap;
}

static void
on_session (GSocketConnection *connection,
            const MailServerListener *listener,
            gpointer context)
{
  imap_session_run (context, connection, listener->implicit_tls);
}

int
main (int argc, char **argv)
{
  /* RFC 9051 §7.1.5: BYE may be the greeting; RFC 5530 §3 UNAVAILABLE */
  g_autofree char *busy =
      g_strdup_printf ("* %s [%s] too many sessions, try again later",
                       imap_proto_status_name (IMAP_STATUS_BYE),
                       imap_proto_code_name (IMAP_CODE_UNAVAILABLE));
  const MailServerMain imapd = {
    .program = "mw-imapd",
    .description = "- IMAP server",
    .max_sessions = IMAP_MAX_SESSIONS,
    .busy_reply = busy,
    .label = "imap",
    .tls_label = "imaps",
    .get_listen = imap_listen,
    .session_run = on_session,
  };

  return mail_server_main (&imapd, argc, argv);
}
