/* SPDX-License-Identifier: MIT
 * smtpd.c: main of mw-smtpd, the SMTP server: listeners for the MTA port,
 * submission (RFC 6409) and implicit TLS submission (RFC 8314 §3.3), the
 * queue and its delivery agent. Sessions live in smtp-session.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mail-config.h"
#include "mail-net.h"
#include "mail-tls.h"
#include "smtp-proto.h"
#include "smtp-queue.h"
#include "smtp-session.h"

/* Sessions served at once; each is one thread (mail-net.h). */
#define SMTPD_MAX_SESSIONS 1000

/* The session's SmtpEnqueueFunc, over the real queue. */
static gboolean
on_enqueue (gpointer user_data,
            const char *reverse_path,
            const char *const *recipients,
            const void *data,
            gsize length,
            SmtpEnqueueFlags flags,
            const SmtpDsnEnvelope *dsn,
            char **out_id,
            GError **error)
{
  return smtp_queue_enqueue (user_data, reverse_path, recipients, data, length,
                             (flags & SMTP_ENQUEUE_SMTPUTF8) != 0, dsn, out_id,
                             error);
}

static gboolean
smtpd_add_listeners (MailServer *server,
                     const MailConfig *config,
                     gboolean have_tls,
                     GError **error)
{
  if (!mail_server_add_listener (server, "smtp", &config->smtp, FALSE, error) ||
      !mail_server_add_listener (server, "submission", &config->submission,
                                 FALSE, error))
    return FALSE;
  if (!have_tls)
    {
      if (config->smtps.port >= 0)
        g_warning ("no tls_cert configured: smtps listener off");
      return TRUE;
    }
  return mail_server_add_listener (server, "smtps", &config->smtps, TRUE,
                                   error);
}

/* The queue asks for the users at each bounce, so it sees the users file
 * as the sessions do, reloaded after "mw-admin user add". */
static MailUsers *
current_users (gpointer context)
{
  return smtp_context_get_users (context);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *keylog = NULL;
  gboolean protocol_log = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "configuration file", "FILE" },
    { "protocol-log", 0, 0, G_OPTION_ARG_NONE, &protocol_log,
      "log every command and reply on stderr", NULL },
    { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &keylog,
      "append the TLS secrets to FILE (config tls_keylog; mw-trace --keylog)",
      "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
      g_option_context_new ("- mailwire SMTP server");
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (SmtpContext) context = NULL;
  g_autoptr (SmtpQueue) queue = NULL;
  g_autoptr (MailServer) server = NULL;
  g_autofree char *busy = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("mw-smtpd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  config = mail_config_load (config_path, &error);
  if (config != NULL &&
      mail_tls_set_keylog (keylog != NULL ? keylog : config->tls_keylog,
                           &error))
    context = smtp_context_new (config, &error);
  if (context != NULL)
    queue = smtp_queue_new (config, current_users, context, &error);
  if (queue == NULL)
    {
      g_printerr ("mw-smtpd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  smtp_context_set_enqueue (context, on_enqueue, queue);
  smtp_context_set_protocol_log (context, protocol_log || config->protocol_log);
  server = mail_server_new ("mw-smtpd", SMTPD_MAX_SESSIONS, smtp_session_run,
                            context);
  /* RFC 5321 §3.1: a server may greet with 421 and close */
  busy = g_strdup_printf ("%u %s too many sessions, try again later",
                          SMTP_REPLY_SERVICE_NOT_AVAILABLE,
                          SMTP_ENHANCED_SHUTDOWN);
  mail_server_set_busy_reply (server, busy);
  if (!smtpd_add_listeners (server, config,
                            smtp_context_get_certificate (context) != NULL,
                            &error))
    {
      g_printerr ("mw-smtpd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  smtp_queue_start (queue);
  return mail_server_run (server);
}
