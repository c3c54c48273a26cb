/* SPDX-License-Identifier: MIT
 * fuzz-mail-config.c: mailwire.conf (mail-config.h): the key file, every
 * [general] [smtp] [queue] [routes] [pop3] [imap] key and the [faults]
 * rules (mail-faults.h), read by mail_config_load () from a file.
 * The rules are then run over a few commands as a session meets them.
 * Invariants: a loaded config has its names and state paths set;
 * a file that fails says why in a MAIL_CONFIG_ERROR.
 */
#include "fuzz.h"
#include "mail-config.h"

/* The [faults] rules as a session meets them (no delays: they sleep). */
static void
fuzz_faults (const MailFaults *faults)
{
  static const char *const verbs[] = { "EHLO",  "MAIL", "RCPT", "DATA",
                                       ".",     "RSET", "USER", "RETR",
                                       "FETCH", "QUIT", "RCPT", "RCPT" };
  g_autoptr (MailFaultSession) session = NULL;
  g_autofree char *described = NULL;

  if (!mail_faults_enabled (faults))
    return;
  described = mail_faults_describe (faults);
  g_assert_nonnull (described);
  session = mail_fault_session_new (faults, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    {
      mail_fault_session_command (session, verbs[i]);
      mail_fault_session_reply (session);
      mail_fault_session_drop (session, FALSE);
      mail_fault_session_drop (session, TRUE);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *path = NULL;
  g_autofree char *maildir = NULL;
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (GError) error = NULL;

  fuzz_init ();
  path = fuzz_write_file (NULL, "mailwire.conf", data, size);
  config = mail_config_load (path, &error);
  if (config == NULL)
    {
      g_assert_nonnull (error);
      g_assert_cmpuint (error->domain, ==, MAIL_CONFIG_ERROR);
      return 0;
    }
  g_assert_no_error (error);
  g_assert_nonnull (config->hostname);
  g_assert_nonnull (config->state_dir);
  g_assert_nonnull (config->users_file);
  g_assert_true ((config->tls_cert == NULL) == (config->tls_key == NULL));
  for (char **domain = config->domains; domain && *domain; domain++)
    g_assert_true (mail_config_is_local_domain (config, *domain));
  mail_config_is_local_domain (config, "example.test");
  maildir = mail_config_user_maildir (config, "alice", NULL);
  g_assert_nonnull (maildir);
  fuzz_faults (config->faults);
  return 0;
}
