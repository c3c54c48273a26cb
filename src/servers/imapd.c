/* SPDX-License-Identifier: MIT
 * imapd.c: mw-imapd, the IMAP server (RFC 9051 IMAP4rev2 and RFC 3501
 * IMAP4rev1), on an "imap" listener with STARTTLS (RFC 9051 §6.2.1) and
 * an "imaps" listener with implicit TLS (RFC 8314 §3.3). Each connection
 * runs imap_session_run () in its own thread.
 */
#include <locale.h>
#include <stdio.h>

#include "imap-session.h"
#include "mail-config.h"
#include "mail-net.h"
#include "mail-tls.h"

#define IMAP_MAX_SESSIONS 500 /* clients keep one or more open */

typedef struct
{
  ImapContext *context;
} ImapServer;

static void
on_session (GSocketConnection *connection,
            const MailServerListener *listener,
            gpointer user_data)
{
  ImapServer *server = user_data;

  imap_session_run (server->context, connection, listener->implicit_tls);
}

/* The certificate, or NULL when none is configured (then no TLS). */
static gboolean
load_certificate (const MailConfig *config,
                  GTlsCertificate **out_certificate,
                  GError **error)
{
  *out_certificate = NULL;
  if (config->tls_cert == NULL)
    return TRUE;
  *out_certificate =
      mail_tls_load_certificate (config->tls_cert, config->tls_key, error);
  return *out_certificate != NULL;
}

static gboolean
add_listeners (MailServer *mail_server,
               const MailConfig *config,
               gboolean have_tls,
               GError **error)
{
  if (!mail_server_add_listener (mail_server, "imap", &config->imap, FALSE,
                                 error))
    return FALSE;
  if (!have_tls)
    {
      if (config->imaps.port >= 0)
        g_message ("no tls_cert configured: imaps listener is off");
      return TRUE;
    }
  return mail_server_add_listener (mail_server, "imaps", &config->imaps, TRUE,
                                   error);
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  gboolean protocol_log = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "configuration file (mailwire.conf)", "FILE" },
    { "protocol-log", 0, 0, G_OPTION_ARG_NONE, &protocol_log,
      "log every command and response (passwords masked)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("- IMAP server");
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (ImapContext) context = NULL;
  g_autoptr (MailServer) mail_server = NULL;
  ImapServer server = { NULL };

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      (config = mail_config_load (config_path, &error)) == NULL ||
      !load_certificate (config, &certificate, &error))
    {
      fprintf (stderr, "mw-imapd: %s\n", error->message);
      return 2;
    }
  if (protocol_log)
    config->protocol_log = TRUE;

  context = imap_context_new (config, certificate);
  server.context = context;
  mail_server =
      mail_server_new ("mw-imapd", IMAP_MAX_SESSIONS, on_session, &server);
  if (!add_listeners (mail_server, config, certificate != NULL, &error))
    {
      fprintf (stderr, "mw-imapd: %s\n", error->message);
      return 1;
    }
  return mail_server_run (mail_server);
}
