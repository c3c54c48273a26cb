/* SPDX-License-Identifier: MIT
 * pop3d.c: mw-pop3d, the POP3 server (RFC 1939), on a "pop3" listener
 * with STLS (RFC 2595 §4) and a "pop3s" listener with implicit TLS
 * (RFC 8314 §3.3). Each connection runs pop3_session_run () in its own
 * thread; mail_server_main () does the rest, as for mw-imapd.
 */
#include "mail-net.h"
#include "pop3-proto.h"
#include "pop3-session.h"

#define POP3_MAX_SESSIONS 100

static const MailListen *
pop3_listen (const MailConfig *config, gboolean tls)
{
  return tls ? &config->pop3s : &config->pop3;
}

static void
on_session (GSocketConnection *connection,
            const MailServerListener *listener,
            gpointer context)
{
  pop3_session_run (context, connection, listener->implicit_tls);
}

int
main (int argc, char **argv)
{
  /* RFC 3206 §4: SYS/TEMP, a passing condition: try again later */
  g_autofree char *busy =
      g_strdup_printf ("-ERR [%s] too many sessions, try again later",
                       pop3_response_code_name (POP3_CODE_SYS_TEMP));
  const MailServerMain pop3d = {
    .program = "mw-pop3d",
    .description = "- POP3 server",
    .max_sessions = POP3_MAX_SESSIONS,
    .busy_reply = busy,
    .label = "pop3",
    .tls_label = "pop3s",
    .get_listen = pop3_listen,
    .session_run = on_session,
  };

  return mail_server_main (&pop3d, argc, argv);
}
